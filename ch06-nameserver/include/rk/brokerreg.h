/* brokerreg.h — the broker's side of registration: tell every name server what we serve.
 *
 * A broker registers (REGISTER_BROKER) with each name server in
 * namesrvAddr ("host:port;host:port"), at start, every
 * registerNameServerPeriod ms (30 s by default), and right away when its
 * topics change (rk_brokerreg_trigger). Stopping unregisters it. The body —
 * RocketMQ's RegisterBrokerBody JSON with the topic config table and its
 * data version — comes from a callback, so this library knows nothing about
 * how the broker keeps its topics (chapter 7 does).
 *
 * Threads: one uv_thread does the registering; the callback runs on it.
 * All functions may be called from any thread. Memory: the callback returns
 * a malloc'ed string the library frees. */
#ifndef RK_BROKERREG_H
#define RK_BROKERREG_H

#include <stddef.h>
#include <stdint.h>

typedef struct rk_brokerreg_config {
    const char *namesrv_addrs;      /* namesrvAddr: "127.0.0.1:9876;10.0.0.2:9876" */
    const char *cluster_name;       /* brokerClusterName */
    const char *broker_name;        /* brokerName */
    const char *broker_addr;        /* brokerIP1:listenPort */
    const char *ha_addr;            /* brokerIP2:haListenPort (may be NULL) */
    int64_t broker_id;              /* brokerId: 0 = master */
    int64_t period_ms;              /* registerNameServerPeriod (default 30000) */
    int64_t timeout_ms;             /* registerBrokerTimeoutMills (default 6000) */
} rk_brokerreg_config_t;

typedef char *(*rk_brokerreg_body_fn)(void *ctx);
typedef struct rk_brokerreg rk_brokerreg_t;

/* Registers once (synchronously), then keeps registering in the background. */
int rk_brokerreg_start(const rk_brokerreg_config_t *cfg, rk_brokerreg_body_fn body, void *ctx,
                       rk_brokerreg_t **out);
/* Topics changed: register with every name server now (asynchronously). */
void rk_brokerreg_trigger(rk_brokerreg_t *r);
/* Registers with every name server now; returns how many accepted. */
int rk_brokerreg_register_now(rk_brokerreg_t *r);
/* How the last round of registrations went: returns how many name servers
 * accepted it, sets *total to how many there are and missed (may be NULL)
 * to the ";"-separated addresses of those that did not. */
int rk_brokerreg_status(rk_brokerreg_t *r, int *total, char *missed, size_t len);
/* The master's address (for a slave) as the last name server said, or "". */
void rk_brokerreg_master_addr(rk_brokerreg_t *r, char *buf, size_t len);
/* The master's HA address (its haServerAddr) as the last name server said, or "". */
void rk_brokerreg_master_ha_addr(rk_brokerreg_t *r, char *buf, size_t len);
/* A role change (chapter 8): register from now on with this brokerId (0 =
 * master) and HA address (NULL: unchanged); re-registers right away. */
void rk_brokerreg_set_identity(rk_brokerreg_t *r, int64_t broker_id, const char *ha_addr);
/* Unregisters from every name server and stops. */
void rk_brokerreg_stop(rk_brokerreg_t *r);

#endif
