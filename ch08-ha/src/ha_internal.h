/* ha_internal.h — the HA module's state, shared by ha.c and ha_meta.c (not installed).
 * Owned by ha.c: created in the module's init, freed in its destroy. */
#ifndef RK_HA_INTERNAL_H
#define RK_HA_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "rk/ha.h"
#include "rk/remoting_client.h"

typedef struct parked {             /* a SYNC_MASTER send waiting for a slave */
    rk_ack_t *ack;
    int64_t end;
    uint64_t deadline;              /* mono ms */
    rk_put_status_t status;
    struct parked *next;
} parked_t;

typedef struct sconn {              /* master side: one slave's connection (HA thread only) */
    uv_tcp_t tcp;
    struct rk_ha *ha;
    char peer[64];
    uint8_t rbuf[256];
    uint8_t part[8];                /* an offset report split across reads */
    int npart;
    int64_t ack;                    /* last offset it reported */
    int64_t next_off;               /* next byte to send (-1 until its first report) */
    int64_t inflight;               /* body bytes of the frame being written */
    bool writing, closing;
    uv_write_t wr;
    uint8_t hdr[12];
    rk_slice_t slice;               /* the mapped bytes being written */
    uint64_t last_read, last_write;
    struct sconn *next;
} sconn_t;

enum { MC_IDLE, MC_CONNECTING, MC_CONNECTED, MC_CLOSING };

typedef struct mclient {            /* slave side: the connection to the master (HA thread only) */
    int state;
    uv_tcp_t tcp;
    uv_connect_t creq;
    char addr[64];
    uint8_t rbuf[64 * 1024];
    uint8_t hdr[12];
    size_t hdr_len;
    int32_t body_left;
    uint8_t *stage;                 /* bytes received, not yet whole records */
    size_t staged, cap;
    int64_t stream;                 /* log offset of the next byte the master sends */
    int64_t reported;
    bool writing;
    uv_write_t wr;
    uint8_t out[8];
    uint64_t last_read, last_report, next_try;
    uint64_t next_ask;              /* next re-registration to learn the master's address */
    int failures;                   /* connects that failed since the last success */
} mclient_t;

struct rk_ha {
    rk_broker_t *b;
    rk_ha_config_t cfg;
    int port;
    char addr[96];                  /* the HA address others reach */
    bool has_stage, mu_ok, loop_ok, running;
    _Atomic int role;
    _Atomic int nslaves;
    _Atomic int64_t acked;          /* highest offset any slave reported (push2SlaveMaxOffset) */
    _Atomic bool connected, stopping;
    _Atomic int quorum;             /* election mode: slave acks a send needs (-1: classic) */
    _Atomic int64_t qacked;         /* election mode: the quorum-th highest slave ack */
    _Atomic bool quorum_by_host;    /* count one ack per peer host (replicas on distinct machines) */

    uv_mutex_t mu;                  /* guards the fields below */
    parked_t *parked, *parked_tail; /* by end offset */
    int64_t nparked;
    bool stopped;
    int want_role;                  /* rk_ha_switch_role's request */
    int64_t want_id;
    char master_ha[64];             /* haMasterAddress or the switch's address */
    char master_broker[64];         /* election mode: the elected master's broker address */
    bool meta_now;                  /* master_broker changed: copy the metadata at once */

    uv_loop_t loop;                 /* the HA thread's */
    uv_thread_t thread;
    uv_async_t wake;
    uv_timer_t tick;
    uv_tcp_t server;
    sconn_t *slaves;
    mclient_t mc;

    uint64_t next_meta;             /* mono ms of the next metadata copy */
    rk_rclient_t *rcl;              /* ha_meta.c */
    _Atomic int meta_inflight;
    char meta_master[64];           /* HA thread: where the last copy round went */
    struct {                        /* rk_ha_meta_add: set before start, then read-only */
        int code;
        rk_ha_meta_apply_fn apply;
        void *ctx;
    } meta_extra[RK_HA_META_EXTRA_MAX];
    int nmeta_extra;
};

/* ha_meta.c: master processors (43, 201) and the slave's periodic copy. */
int rk__ha_meta_init(struct rk_ha *ha);
/* HA thread: starts a copy round; false when none started (no master known yet, or a round
 * to the same master still running). */
bool rk__ha_meta_sync(struct rk_ha *ha);
/* The master the metadata copy asks (election mode: the elected one; else the name
 * server's masterAddr); "" if none. Any thread. */
void rk__ha_meta_master(struct rk_ha *ha, char *buf, size_t len);
void rk__ha_meta_stop(struct rk_ha *ha);
void rk__ha_meta_free(struct rk_ha *ha);


#endif
