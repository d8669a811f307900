/* namesrv.h — the name server: where brokers say what they serve and clients ask for routes.
 *
 *   broker ──REGISTER_BROKER (every 30 s)──▶ name server ◀──GET_ROUTEINFO_BY_TOPIC── client
 *
 * Its state is RocketMQ's RouteInfoManager, held in memory only and rebuilt
 * from registrations after a restart:
 *   brokers  brokerName -> {cluster, brokerId -> address}
 *   topics   topic -> [queue data per brokerName: read/write queues, perm]
 *   live     brokerAddr -> {last registration, dataVersion, HA address, connection}
 * plus the KV config, the only persisted part (kvConfigPath).
 *
 * A broker disappears when it unregisters, when its connection closes, or
 * when it has not registered for brokerChannelExpiredTime ms (checked every
 * scanNotActiveBrokerInterval ms). Name servers share nothing: a broker
 * registers with each of them.
 *
 * Everything a request carries is checked before it touches the tables: a
 * body (REGISTER_BROKER's topic table, a data version, a replication
 * snapshot, the KV file) is validated whole — types, required keys, string
 * lengths, number ranges, counts — and then applied whole, or refused with
 * SYSTEM_ERROR and a remark, never half applied. Replication requests
 * (RK_REQ_NS_REPL_*) are accepted only in a replicated clusterMode, only
 * from an IP address of replicationUpstream, and, when replicationSecret is
 * set, only if they carry it; otherwise NO_PERMISSION and a WARN line.
 *
 * Threads: all state lives on the remoting server's loop thread; processors
 * are inline. Events go through an rk_eventbus_t (rk/eventbus.h). */
#ifndef RK_NAMESRV_H
#define RK_NAMESRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/config.h"
#include "rk/eventbus.h"
#include "rk/remoting_server.h"

typedef struct rk_namesrv_config {
    int64_t listen_port;            /* listenPort */
    char *rocketmq_home;            /* rocketmqHome */
    char *kv_config_path;           /* kvConfigPath (default ~/namesrv/kvConfig.json) */
    int64_t scan_interval_ms;       /* scanNotActiveBrokerInterval */
    int64_t broker_expired_ms;      /* brokerChannelExpiredTime */
    int64_t idle_seconds;           /* serverChannelMaxIdleTimeSeconds */
    rk_rserver_limits_t limits;     /* serverMaxConnections ... (rk_rserver_limit_fields) */
    char *listen_host;              /* listenHost (rocklet's; default 0.0.0.0) */
    int cluster_mode;               /* clusterMode: RK_NS_INDEPENDENT, _MASTER_SLAVE, _CHAIN */
    int replication_ack;            /* replicationAck: RK_NS_ACK_SYNC, _ASYNC, _SEMI_SYNC */
    char *replication_peers;        /* replicationPeers: followers, or the next chain node */
    int64_t replication_timeout_ms; /* replicationTimeout */
    char *replication_upstream;     /* replicationUpstream: who may replicate to us (host[:port],...) */
    char *replication_secret;       /* replicationSecret: shared by the cluster; empty = none */
    bool metadata_fallback_to_bak;  /* metadataFallbackToBak: load kvConfig.json.bak when the file is unusable */
} rk_namesrv_config_t;

enum { RK_NS_INDEPENDENT = 0, RK_NS_MASTER_SLAVE = 1, RK_NS_CHAIN = 2 };
enum { RK_NS_ACK_SYNC = 0, RK_NS_ACK_ASYNC = 1, RK_NS_ACK_SEMI_SYNC = 2 };

/* Limits on what a request may make the name server hold. */
enum {
    RK_NS_MAX_QUEUE_NUMS = 1024,            /* readQueueNums / writeQueueNums: 0..1024, as the broker */
    RK_NS_MAX_TOPICS_PER_BROKER = 100000,   /* topics in one registration */
    RK_NS_MAX_TOPICS = 1000000,             /* topics in the route table */
    RK_NS_MAX_LIVE = 10000,                 /* broker addresses registered at once */
    RK_NS_MAX_KV_ITEMS = 10000,             /* KV config entries, all namespaces */
    RK_NS_MAX_KV_VALUE = 4096,              /* bytes of one KV value: RocketMQ's values are short
                                             * ("broker-a:4;broker-b:4"); with the item cap the
                                             * table (rewritten whole at each change) stays < 50 MB */
};

/* Private request codes of name-server replication (far from RocketMQ's).
 * With replicationSecret set, each carries it in the extField below. */
#define RK_NS_SECRET_FIELD "replicationSecret"
enum {
    RK_REQ_NS_REPL_APPLY = 100001,      /* a write, replayed downstream */
    RK_REQ_NS_REPL_SNAPSHOT = 100002,   /* the whole state, for a follower that lost it */
    RK_REQ_NS_REPL_PING = 100003,       /* answered with the follower's epoch */
};

extern const rk_config_field_t rk_namesrv_config_fields[];

typedef struct rk_namesrv rk_namesrv_t;

/* Subscribe handlers to bus before starting; the server publishes into it.
 * bus may be NULL (then only the built-in log handler runs). */
int rk_namesrv_start(const rk_namesrv_config_t *cfg, rk_eventbus_t *bus, rk_namesrv_t **out,
                     char *err, size_t errlen);
int rk_namesrv_port(const rk_namesrv_t *ns);
/* Stops serving, persists the KV config, frees everything. */
void rk_namesrv_stop(rk_namesrv_t *ns);

#endif
