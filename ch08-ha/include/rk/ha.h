/* ha.h — replication of the commitlog from a master to its slaves (RocketMQ's HAService).
 *
 *   master (brokerId 0)                               slave (brokerId > 0)
 *   commitlog ──▶ HA server on haListenPort ◀──TCP── HA client ──▶ append_raw ──▶ own commitlog
 *                   │  ▲                                               (same bytes, same offsets;
 *                   │  └── 8 bytes: "I hold up to offset X" ◀──────     its own dispatch builds
 *                   └────▶ [phyOffset 8][size 4] + raw bytes ──────▶    consume queues + index)
 *
 * Wire (all big-endian, exactly RocketMQ 4.x, so a rocklet slave can follow
 * a RocketMQ master and the other way round):
 *
 *   slave → master   +----------------+
 *                    | maxPhyOffset 8 |   on connect, after each applied chunk,
 *                    +----------------+   and every haSendHeartbeatInterval (5 s)
 *
 *   master → slave   +-------------+--------+-------------------------+
 *                    | phyOffset 8 | size 4 | size bytes of commitlog |   size <= haTransferBatchSize
 *                    +-------------+--------+-------------------------+   (32 KiB); size 0 = heartbeat
 *
 * The master starts at the slave's first report (or, when it reports 0, at
 * the start of the master's last commitlog file). Either side closes a
 * connection that has been silent for haHousekeepingInterval (20 s).
 *
 * Roles (brokerRole): ASYNC_MASTER answers a send after its own append;
 * SYNC_MASTER answers only once a slave reported holding it — the send is
 * parked in a commitlog ack stage and answered from the HA thread, no
 * thread waits (SLAVE_NOT_AVAILABLE when no slave is connected or it is
 * more than haSlaveFallbehindMax behind; FLUSH_SLAVE_TIMEOUT after
 * syncFlushTimeout); SLAVE replicates, refuses sends, serves pulls only
 * with slaveReadEnable, and copies topics, consumer offsets and
 * subscription groups from its master every slaveSyncMetaInterval ms.
 *
 * Threads: one uv loop thread of its own runs the server, the client and
 * the parked sends; metadata copies run on an rk_rclient's thread.
 * Memory: the module owns its state (rk_ha_t), freed by the broker. */
#ifndef RK_HA_H
#define RK_HA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/broker.h"
#include "rk/config.h"

typedef enum { RK_HA_ASYNC_MASTER = 0, RK_HA_SYNC_MASTER = 1, RK_HA_SLAVE = 2 } rk_ha_role_t;

typedef struct rk_ha_config {
    int role;                       /* brokerRole */
    int64_t listen_port;            /* haListenPort (-1: listenPort + 1; 0: any free port) */
    char *master_address;           /* haMasterAddress: ip:port of the master's HA port */
    char *broker_ip2;               /* brokerIP2: the HA address others reach (default brokerIP1) */
    int64_t heartbeat_ms;           /* haSendHeartbeatInterval */
    int64_t housekeeping_ms;        /* haHousekeepingInterval */
    int64_t batch_size;             /* haTransferBatchSize */
    int64_t fallbehind_max;         /* haSlaveFallbehindMax */
    int64_t sync_timeout_ms;        /* syncFlushTimeout: how long a SYNC_MASTER send waits */
    bool slave_read_enable;         /* slaveReadEnable */
    int64_t meta_sync_ms;           /* slaveSyncMetaInterval (rocklet; RocketMQ: 10 s fixed) */
} rk_ha_config_t;

extern const rk_config_field_t rk_ha_config_fields[];

/* The broker module ("ha"): reads rk_ha_config_fields from the broker's
 * settings, listens, registers the ack stage (SYNC_MASTER or SLAVE: a slave
 * may become a master), the HA notify dispatcher, GET_ALL_CONSUMER_OFFSET
 * (43) and GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201), and HA runtime fields. */
extern const rk_broker_module_t rk_ha_module;

typedef struct rk_ha rk_ha_t;

/* The HA state of a broker built with rk_ha_module, or NULL. */
rk_ha_t *rk_ha_of(rk_broker_t *b);
rk_ha_role_t rk_ha_role(const rk_ha_t *ha);
/* Switches the broker's role at runtime (what an election, chapter 8's
 * next part, drives): a slave becomes a master (broker_id 0; writes
 * accepted; its stream from the old master dropped; its log continues at
 * the same physical and queue offsets), or a master becomes a slave
 * (broker_id > 0) of master_ha_addr (NULL: haMasterAddress or what the name
 * server says); sends it had parked are answered SLAVE_NOT_AVAILABLE.
 * SYNC_MASTER needs the commitlog ack stage, which exists only if the
 * broker did not start as ASYNC_MASTER (else RK_EINVAL). The broker
 * re-registers with its new brokerId. Any thread; applied on the HA thread
 * shortly after (rk_ha_role() tells when). */
int rk_ha_switch_role(rk_ha_t *ha, rk_ha_role_t role, int64_t broker_id, const char *master_ha_addr);

/* The metadata copy's extension point: one more thing a slave copies from
 * its master every slaveSyncMetaInterval ms, next to topics, consumer offsets
 * and subscription groups (RocketMQ's SlaveSynchronize; chapter 9 adds
 * GET_ALL_DELAY_OFFSET). The slave sends request_code (no header, no body)
 * to the master the name server names, and hands a SUCCESS answer's body to
 * apply — only while this broker is a slave, on the metadata client's
 * thread, one answer at a time per code. apply validates the whole body
 * before changing anything and returns 0, or a negative RK_E… (logged as
 * "metadata copy (request N) ... failed; nothing applied"). The body is
 * the peer's: hostile until apply has checked it, valid only during the call.
 * Register from a module's init, after HA's (the broker has not started):
 * RK_EBUSY once started, RK_EEXIST for a code already copied, RK_EFULL past
 * RK_HA_META_EXTRA_MAX. ctx is the caller's; it must stay valid until the
 * broker has stopped (HA's stop joins the metadata client). */
#define RK_HA_META_EXTRA_MAX 8
typedef int (*rk_ha_meta_apply_fn)(void *ctx, const uint8_t *body, size_t len);
int rk_ha_meta_add(rk_ha_t *ha, int request_code, rk_ha_meta_apply_fn apply, void *ctx);
/* Election mode (rk/elect.h drives these; classic mode never calls them).
 * rk_ha_set_quorum: from now on a SYNC_MASTER send is answered once
 * `slaves_needed` slave connections reported holding it (the k-th highest
 * report; 0: at once), parked meanwhile even when no slave is connected
 * yet, FLUSH_SLAVE_TIMEOUT after syncFlushTimeout (by_host: the reports of
 * connections from one host count as one, the highest — set it when every
 * replica has its own address, so a stale second connection of a replica
 * cannot count twice); and a slave streams only
 * from the address rk_ha_follow() gave, never from the name server's. Needs
 * the ack stage (the broker did not start as ASYNC_MASTER), else RK_EINVAL.
 * rk_ha_follow: the master this slave streams from ("" or NULL: none); a
 * stream from another address is closed. Any thread. */
int rk_ha_set_quorum(rk_ha_t *ha, int slaves_needed, bool by_host);
int rk_ha_follow(rk_ha_t *ha, const char *master_ha_addr);
/* Election mode: the broker (listen) address of the master this slave follows, as the
 * election learnt it ("" or NULL: none). The metadata copy (topics, consumer offsets,
 * subscription groups, rk_ha_meta_add's) asks this address, never the name server's
 * masterAddr, and starts at once when it changes: a follower would otherwise copy nothing
 * until its next registration (registerNameServerPeriod, 30 s), and a failover then would
 * lose the offsets and groups made meanwhile. RK_EINVAL if too long. Any thread. */
int rk_ha_follow_broker(rk_ha_t *ha, const char *master_broker_addr);
/* "ip:port" of this broker's HA server as others reach it (brokerIP2). */
const char *rk_ha_address(const rk_ha_t *ha);

/* Figures (any thread). */
typedef struct rk_ha_stats {
    int slaves;                     /* master: connected slaves */
    int64_t slave_ack;              /* master: highest offset a slave reported */
    int64_t behind;                 /* master: max offset - slave_ack (0 with no data) */
    bool connected;                 /* slave: to its master */
    int64_t master_offset;          /* slave: the stream's position (next byte expected) */
    int64_t parked;                 /* master: sends waiting for a slave */
} rk_ha_stats_t;
void rk_ha_get_stats(rk_ha_t *ha, rk_ha_stats_t *out);

#endif
