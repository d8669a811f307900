/* broker.c — assembling a broker from the store, the server and modules (see rk/broker.h). */
#include "rk/broker.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/brokerreg.h"
#include "rk/clock.h"
#include "rk/commitlog.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"
#include "rk/store_config.h"
#include "rk/strmap.h"
#include "rk/topic_config.h"

#define MAX_MODULES 16

#define F(f) offsetof(rk_broker_config_t, f)
const rk_config_field_t rk_broker_config_fields[] = {
    {"brokerClusterName", RK_CFG_STR, F(cluster_name), "DefaultCluster", 0, -1, NULL, "cluster name"},
    {"brokerName", RK_CFG_STR, F(broker_name), "broker-a", 0, -1, NULL, "broker group name"},
    {"brokerId", RK_CFG_INT, F(broker_id), "0", 0, 1024, NULL, "0 = master, > 0 = slave"},
    {"namesrvAddr", RK_CFG_STR, F(namesrv_addr), NULL, 0, -1, NULL, "name servers, host:port;host:port"},
    {"brokerIP1", RK_CFG_STR, F(broker_ip1), "127.0.0.1", 0, -1, NULL, "address clients reach"},
    {"listenPort", RK_CFG_INT, F(listen_port), "10911", 0, 65535, NULL, "TCP port (0: any free port)"},
    {"listenHost", RK_CFG_STR, F(listen_host), "0.0.0.0", 0, -1, NULL,
     "address to listen on (rocklet's addition; 127.0.0.1 keeps the broker local)"},
    {"storePathRootDir", RK_CFG_STR, F(store_root), "./store", 0, -1, NULL, "store folder"},
    {"autoCreateTopicEnable", RK_CFG_BOOL, F(auto_create_topic), "true", 0, -1, NULL,
     "create topics on first send (from TBW102)"},
    {"autoCreateSubscriptionGroup", RK_CFG_BOOL, F(auto_create_group), "true", 0, -1, NULL,
     "create a consumer group's settings the first time it is seen"},
    {"defaultTopicQueueNums", RK_CFG_INT, F(default_queue_nums), "8", 1, 1024, NULL, "queues of TBW102"},
    {"registerNameServerPeriod", RK_CFG_INT, F(register_period_ms), "30000", 1000, 600000, NULL,
     "re-register with the name servers this often (ms)"},
    {"maxMessageSize", RK_CFG_INT, F(max_message_size), "4194304", 1, 1 << 30, NULL, "largest body (bytes)"},
    {"autoCreateTopicMax", RK_CFG_INT, F(auto_create_topic_max), "1000", 0, 1 << 24, NULL,
     "most topics (built-ins aside) before a first send stops creating one; 0: no bound (rocklet's addition)"},
    {"autoCreateSubscriptionGroupMax", RK_CFG_INT, F(auto_create_group_max), "1000", 0, 1 << 24, NULL,
     "most subscription groups before a heartbeat stops creating one, and most %RETRY% topics heartbeats "
     "create; 0: no bound (rocklet's addition)"},
    {"flushTopicConfigInterval", RK_CFG_INT, F(topic_flush_ms), "500", 1, 60000, NULL,
     "topics.json and subscriptionGroup.json are written by a thread of their own at most this often after an "
     "automatic creation (ms; rocklet's addition; never on the network thread)"},
    {"maxHeldPulls", RK_CFG_INT, F(max_held_pulls), "32768", 0, 1 << 24, NULL,
     "long-polling pulls held at once; more are answered PULL_NOT_FOUND at once (rocklet's addition)"},
    {"maxHeldPullsPerConnection", RK_CFG_INT, F(max_held_pulls_per_conn), "4096", 0, 1 << 24, NULL,
     "long-polling pulls one connection may have held (rocklet's addition)"},
    {0},
};
#undef F

struct rk_broker {
    rk_broker_config_t cfg;
    rk_store_t *store;
    rk_topic_manager_t *topics;
    rk_strmap_t adopt_seen;     /* reput thread only: topic -> queues the table is known to have */
    rk_client_manager_t *clients;
    rk_group_manager_t *groups;
    rk_rserver_t *srv;
    rk_brokerreg_t *_Atomic reg;    /* set once registration runs; a send and modules' threads read it */
    atomic_bool topics_changed;     /* some topic changed since start (see rk_broker_topics_changed) */
    const rk_broker_module_t *modules[MAX_MODULES];
    void *states[MAX_MODULES];
    int nmodules, started;
    char addr[96];
    rk_kv_t *kv;                /* during start only */
    char ha_addr[64];
    _Atomic bool slave, slave_read;
    _Atomic int64_t id;             /* brokerId now (rk_broker_set_id); cfg.broker_id is the configured one */
    struct {
        rk_broker_runtime_fn fn;
        void *ctx;
    } runtime[MAX_MODULES];
    int nruntime;
};

rk_kv_t *rk_broker_kv(rk_broker_t *b) { return b->kv; }
void rk_broker_set_role(rk_broker_t *b, bool slave, bool slave_read_enable)
{
    atomic_store(&b->slave_read, slave_read_enable);
    atomic_store(&b->slave, slave);
}
bool rk_broker_is_slave(const rk_broker_t *b) { return atomic_load(&b->slave); }
bool rk_broker_slave_read_enable(const rk_broker_t *b) { return atomic_load(&b->slave_read); }
int rk_broker_set_ha_addr(rk_broker_t *b, const char *addr)
{
    if (addr == NULL || strlen(addr) >= sizeof b->ha_addr)
        return RK_EINVAL;
    snprintf(b->ha_addr, sizeof b->ha_addr, "%s", addr);
    return RK_OK;
}
rk_brokerreg_t *rk_broker_registration(rk_broker_t *b) { return b->reg; }
void *rk_broker_module_state(rk_broker_t *b, const char *name)
{
    for (int i = 0; i < b->nmodules; i++)
        if (strcmp(b->modules[i]->name, name) == 0)
            return b->states[i];
    return NULL;
}
/* Any thread, while the start path may be creating the registration: the
 * id is published first, then the registration is looked at; the start path
 * publishes the registration, then looks at the id again (both atomics are
 * sequentially consistent, so one of the two sees the other's write). */
void rk_broker_set_id(rk_broker_t *b, int64_t broker_id)
{
    atomic_store(&b->id, broker_id);
    rk_brokerreg_t *reg = atomic_load(&b->reg);
    if (reg != NULL)
        rk_brokerreg_set_identity(reg, broker_id, NULL);
}
int64_t rk_broker_id(const rk_broker_t *b) { return atomic_load(&b->id); }
int rk_broker_add_runtime_info(rk_broker_t *b, rk_broker_runtime_fn fn, void *ctx)
{
    if (b->nruntime == MAX_MODULES)
        return RK_EFULL;
    b->runtime[b->nruntime].fn = fn;
    b->runtime[b->nruntime++].ctx = ctx;
    return RK_OK;
}
void rk_broker_runtime_info(rk_broker_t *b, rk_buf_t *out)
{
    for (int i = 0; i < b->nruntime; i++)
        b->runtime[i].fn(b->runtime[i].ctx, out);
}

const rk_broker_config_t *rk_broker_config(const rk_broker_t *b) { return &b->cfg; }
rk_rserver_t *rk_broker_server(rk_broker_t *b) { return b->srv; }
rk_store_t *rk_broker_store(rk_broker_t *b) { return b->store; }
rk_topic_manager_t *rk_broker_topics(rk_broker_t *b) { return b->topics; }
rk_client_manager_t *rk_broker_clients(rk_broker_t *b) { return b->clients; }
rk_group_manager_t *rk_broker_groups(rk_broker_t *b) { return b->groups; }
int rk_broker_port(const rk_broker_t *b) { return rk_rserver_port(b->srv); }

int rk_broker_namesrv_status(rk_broker_t *b, int *total, char *missed, size_t len)
{
    if (missed != NULL && len > 0)
        missed[0] = '\0';
    *total = 0;
    return b->reg != NULL ? rk_brokerreg_status(b->reg, total, missed, len) : 0;
}
const char *rk_broker_addr(const rk_broker_t *b) { return b->addr; }


void rk_broker_topics_changed(rk_broker_t *b)
{
    /* A topic auto-created by a send that arrives after the server listens
     * but before registration has started must not wait for the next
     * periodic registration (30 s): the flag tells the starter to trigger
     * once more. Either this or the starter sees the other's store. */
    atomic_store(&b->topics_changed, true);
    rk_brokerreg_t *reg = atomic_load(&b->reg);
    if (reg != NULL)
        rk_brokerreg_trigger(reg);
}

static char *register_body(void *ctx)
{
    rk_broker_t *b = ctx;
    return rk_topic_register_body(b->topics);
}

static void expire_clients(void *ctx)
{
    rk_broker_t *b = ctx;
    size_t n;
    char **gone = rk_client_manager_expire(b->clients, rk_now_ms(), &n);
    for (size_t i = 0; i < n; i++) {
        rk_log_info("broker", "consumer group %s: a client expired", gone[i]);
        rk_broker_notify_group_changed(b, gone[i]);
    }
    rk_strv_free(gone, n);
}

static void drop_clients(void *ctx, rk_conn_t *conn)
{
    rk_broker_t *b = ctx;
    size_t n;
    char **gone = rk_client_manager_drop_connection(b->clients, rk_conn_id(conn), &n);
    for (size_t i = 0; i < n; i++) {
        rk_log_info("broker", "consumer group %s: a client disconnected (%s)", gone[i], rk_conn_peer(conn));
        rk_broker_notify_group_changed(b, gone[i]);
    }
    rk_strv_free(gone, n);
}

/* ------------------------------------------------------------ the log is the truth */

/* A topic whose messages are in the store but not in the topic table (created just before a
 * kill -9, whose topics.json write was still pending; or on a master that died before this
 * replica copied its table) is adopted (rk_topic_adopt), or its acknowledged messages would be
 * stored but unreadable (every pull TOPIC_NOT_EXIST). System topics are the modules' own. */
static void adopt(rk_broker_t *b, const char *topic, int32_t queues, int32_t *have)
{
    bool changed = false;
    if (rk_topic_adopt(b->topics, topic, queues, have, &changed) != RK_OK || !changed)
        return;
    rk_log_warn("topics", "topic %s has messages in the store but was not in the topic table (made just before a "
                "crash, or on a master since gone): adopted with %d queue(s)", topic, *have);
    rk_broker_topics_changed(b);
}

/* Dispatcher (reput thread): adopt_seen remembers per topic how many queues the table is known
 * to have, so a known topic costs one map look-up per record. */
static int adopt_dispatch(void *ctx, const rk_dispatch_request_t *d)
{
    rk_broker_t *b = ctx;
    if (d->queue_id < 0 || d->queue_id >= RK_TOPIC_MAX_QUEUES || d->topic == NULL)
        return 0;
    intptr_t seen = (intptr_t)rk_strmap_get(&b->adopt_seen, d->topic);
    if (seen > d->queue_id)
        return 0;
    int32_t have = 0;
    if (rk_topic_is_system(d->topic) || !rk_topic_name_valid(d->topic))
        have = RK_TOPIC_MAX_QUEUES;     /* never adopted: remembered, so its records cost one look-up */
    else
        adopt(b, d->topic, d->queue_id + 1, &have);
    if (have > 0)
        rk_strmap_put(&b->adopt_seen, d->topic, (void *)(intptr_t)have, NULL);
    return 0;
}

typedef struct adopt_scan {
    rk_broker_t *b;
    char topic[RK_NAME_MAX];
    int32_t queues;
} adopt_scan_t;

/* rk_store_foreach_queue visits topics in order: one adopt per topic, with its highest qid. */
static int scan_queue(const char *topic, int qid, void *ctx)
{
    adopt_scan_t *a = ctx;
    if (strcmp(a->topic, topic) != 0) {
        int32_t have;
        if (a->queues > 0 && !rk_topic_is_system(a->topic))
            adopt(a->b, a->topic, a->queues, &have);
        snprintf(a->topic, sizeof a->topic, "%s", topic);
        a->queues = 0;
    }
    if (qid >= 0 && qid < RK_TOPIC_MAX_QUEUES && qid + 1 > a->queues)
        a->queues = qid + 1;
    return 0;
}

/* At start (and on a replica that becomes master: rk_broker_adopt_topics): every consume queue
 * the store has. */
static void adopt_all(rk_broker_t *b)
{
    adopt_scan_t a = {.b = b};
    rk_store_foreach_queue(b->store, scan_queue, &a);
    scan_queue("", -1, &a);        /* the last topic */
}

void rk_broker_adopt_topics(rk_broker_t *b) { adopt_all(b); }

int rk_broker_start(rk_kv_t *kv, const rk_broker_module_t *const *modules, rk_broker_t **out, char *err,
                    size_t errlen)
{
    rk_broker_t *b = calloc(1, sizeof *b);
    if (b == NULL)
        return RK_ENOMEM;
    rk_strmap_init(&b->adopt_seen);
    b->kv = kv;
    int rc = rk_config_defaults(rk_broker_config_fields, &b->cfg);
    if (rc == RK_OK)
        rc = rk_config_defaults(rk_rserver_limit_fields, &b->cfg.limits);
    if (rc == RK_OK && kv != NULL)
        rc = rk_config_apply(rk_broker_config_fields, &b->cfg, kv, err, errlen);
    if (rc == RK_OK && kv != NULL)
        rc = rk_config_apply(rk_rserver_limit_fields, &b->cfg.limits, kv, err, errlen);
    if (rc != RK_OK)
        goto fail;
    atomic_store(&b->id, b->cfg.broker_id);
    char path[4096];
    rk_path_join(path, sizeof path, b->cfg.store_root, "config/topics.json");
    rk_topic_manager_config_t tc = {.path = path,
                                    .cluster_name = b->cfg.cluster_name,
                                    .broker_name = b->cfg.broker_name,
                                    .auto_create_topic = b->cfg.auto_create_topic,
                                    .default_queue_nums = (int32_t)b->cfg.default_queue_nums,
                                    .auto_create_max = b->cfg.auto_create_topic_max,
                                    .retry_create_max = b->cfg.auto_create_group_max,
                                    .flush_interval_ms = b->cfg.topic_flush_ms};
    char gpath[4096];
    rk_path_join(gpath, sizeof gpath, b->cfg.store_root, "config/subscriptionGroup.json");
    if ((rc = rk_store_open(b->cfg.store_root, kv, &b->store, err, errlen)) != RK_OK)
        goto fail;
    /* metadataFallbackToBak is a store key: it covers every config/ file */
    tc.fallback_to_bak = rk_store_config(b->store)->metadata_fallback_to_bak;
    if ((rc = rk_topic_manager_open(&tc, &b->topics, err, errlen)) != RK_OK ||
        (rc = rk_group_manager_open_cfg(&(rk_group_manager_config_t){.path = gpath,
                                                                      .auto_create = b->cfg.auto_create_group,
                                                                      .fallback_to_bak = tc.fallback_to_bak,
                                                                      .auto_create_max = b->cfg.auto_create_group_max,
                                                                      .flush_interval_ms = b->cfg.topic_flush_ms},
                                        &b->groups, err, errlen)) != RK_OK ||
        (rc = rk_client_manager_new(120000, &b->clients)) != RK_OK ||
        (rc = rk_store_register_dispatcher(b->store, "adopt topics", adopt_dispatch, b)) != RK_OK)
        goto fail;
    rk_rserver_config_t sc = {.host = b->cfg.listen_host, .port = (int)b->cfg.listen_port, .idle_ms = 120000,
                              .name = "broker"};
    rk_rserver_config_set_limits(&sc, &b->cfg.limits);
    if ((rc = rk_rserver_new(&sc, &b->srv)) != RK_OK)
        goto fail;
    rk_rserver_on_close(b->srv, drop_clients, b);
    rk_rserver_every(b->srv, 10000, expire_clients, b);
    for (int i = 0; modules && modules[i] && b->nmodules < MAX_MODULES; i++) {
        b->modules[b->nmodules] = modules[i];
        if (modules[i]->init && (rc = modules[i]->init(b, &b->states[b->nmodules])) != RK_OK) {
            snprintf(err, errlen, "module %s: init failed: %s", modules[i]->name, rk_strerror(rc));
            goto fail;
        }
        b->nmodules++;
    }
    /* every table has read its keys: what is left is a typo, said before
     * the broker serves (and with the key it probably meant) */
    if (kv != NULL) {
        const rk_config_field_t *const tables[] = {rk_broker_config_fields, rk_rserver_limit_fields,
                                                   rk_cq_store_config_fields, rk_commitlog_config_fields, NULL};
        rk_kv_warn_unused_suggest(kv, "broker", tables);
    }
    if ((rc = rk_store_start(b->store)) != RK_OK) {
        snprintf(err, errlen, "store: %s", rk_strerror(rc));
        goto fail;
    }
    adopt_all(b);
    if ((rc = rk_rserver_start(b->srv, err, errlen)) != RK_OK)
        goto fail;
    snprintf(b->addr, sizeof b->addr, "%s:%d", b->cfg.broker_ip1, rk_rserver_port(b->srv));
    for (; b->started < b->nmodules; b->started++) {
        const rk_broker_module_t *m = b->modules[b->started];
        if (m->start && (rc = m->start(b, b->states[b->started])) != RK_OK) {
            snprintf(err, errlen, "module %s: start failed: %s", m->name, rk_strerror(rc));
            goto fail;
        }
    }
    if (b->cfg.namesrv_addr != NULL && *b->cfg.namesrv_addr) {
        rk_brokerreg_config_t rcfg = {.namesrv_addrs = b->cfg.namesrv_addr, .cluster_name = b->cfg.cluster_name,
                                      .broker_name = b->cfg.broker_name, .broker_addr = b->addr,
                                      .broker_id = atomic_load(&b->id), .period_ms = b->cfg.register_period_ms,
                                      .ha_addr = b->ha_addr[0] ? b->ha_addr : NULL};
        rk_brokerreg_t *reg = NULL;
        rc = rk_brokerreg_start(&rcfg, register_body, b, &reg);
        if (rc == RK_OK) {
            atomic_store(&b->reg, reg);
            if (atomic_load(&b->id) != rcfg.broker_id)     /* a module changed it meanwhile */
                rk_brokerreg_set_identity(reg, atomic_load(&b->id), NULL);
            if (atomic_load(&b->topics_changed))
                rk_brokerreg_trigger(reg);  /* its first body may have missed them */
        }
        if (rc != RK_OK) {
            snprintf(err, errlen, "registration: %s", rk_strerror(rc));
            goto fail;
        }
    }
    rk_log_info("broker", "%s (%s, id %lld) serving on %s", b->cfg.broker_name, b->cfg.cluster_name,
                (long long)atomic_load(&b->id), b->addr);
    b->kv = NULL;
    *out = b;
    return RK_OK;
fail:
    rk_broker_stop(b);
    return rc;
}

void rk_broker_stop(rk_broker_t *b)
{
    if (b == NULL)
        return;
    for (int i = b->nmodules - 1; i >= 0; i--)    /* every module whose init succeeded */
        if (b->modules[i]->stop)
            b->modules[i]->stop(b, b->states[i]);
    /* after the modules: their threads may read the registration until stopped */
    rk_brokerreg_t *reg = b->reg;
    b->reg = NULL;
    rk_brokerreg_stop(reg);
    rk_rserver_free(b->srv);
    if (b->store != NULL)
        rk_store_close(b->store);
    for (int i = b->nmodules - 1; i >= 0; i--)
        if (b->modules[i]->destroy)
            b->modules[i]->destroy(b, b->states[i]);
    rk_topic_manager_close(b->topics);
    rk_strmap_free(&b->adopt_seen, NULL);
    rk_group_manager_close(b->groups);
    rk_client_manager_free(b->clients);
    rk_config_free(rk_broker_config_fields, &b->cfg);
    free(b);
}
