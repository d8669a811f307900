/* namesrv.c — route tables, broker liveness and KV config behind the remoting processors (see rk/namesrv.h). */
#include "rk/namesrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include <zlib.h>

#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/grow.h"
#include "rk/hash.h"
#include "rk/json.h"
#include "rk/log.h"
#include "rk/remoting_client.h"
#include "rk/remoting_server.h"
#include "rk/request_code.h"
#include "rk/strmap.h"

static const char *const cluster_modes[] = {"independent", "master_slave", "chain", NULL};
static const char *const ack_modes[] = {"sync", "async", "semi_sync", NULL};

#define F(f) offsetof(rk_namesrv_config_t, f)
const rk_config_field_t rk_namesrv_config_fields[] = {
    {"listenPort", RK_CFG_INT, F(listen_port), "9876", 0, 65535, NULL, "TCP port"},
    {"listenHost", RK_CFG_STR, F(listen_host), "0.0.0.0", 0, -1, NULL, "address to listen on"},
    {"rocketmqHome", RK_CFG_STR, F(rocketmq_home), NULL, 0, -1, NULL, "home folder"},
    {"kvConfigPath", RK_CFG_STR, F(kv_config_path), NULL, 0, -1, NULL,
     "KV config file (default $HOME/namesrv/kvConfig.json)"},
    {"scanNotActiveBrokerInterval", RK_CFG_INT, F(scan_interval_ms), "10000", 10, 3600000, NULL,
     "how often to look for expired brokers (ms)"},
    {"brokerChannelExpiredTime", RK_CFG_INT, F(broker_expired_ms), "120000", 100, 86400000, NULL,
     "a broker silent this long is removed (ms)"},
    {"serverChannelMaxIdleTimeSeconds", RK_CFG_INT, F(idle_seconds), "120", 0, 86400, NULL,
     "close connections idle this long (s; 0 never)"},
    {"clusterMode", RK_CFG_ENUM, F(cluster_mode), "independent", 0, -1, cluster_modes,
     "independent | master_slave | chain (rocklet)"},
    {"replicationAck", RK_CFG_ENUM, F(replication_ack), "sync", 0, -1, ack_modes,
     "master_slave: answer a write after all (sync), a majority (semi_sync) or no followers (async)"},
    {"replicationPeers", RK_CFG_STR, F(replication_peers), NULL, 0, -1, NULL,
     "master_slave: the followers (host:port,...), empty on a follower; chain: the next node, empty on the tail"},
    {"replicationTimeout", RK_CFG_INT, F(replication_timeout_ms), "3000", 10, 600000, NULL,
     "how long a write waits for followers (ms)"},
    {"replicationUpstream", RK_CFG_STR, F(replication_upstream), NULL, 0, -1, NULL,
     "master_slave follower or chain node: the node(s) that replicate to this one (host[:port],...); "
     "replication from any other IP is refused"},
    {"replicationSecret", RK_CFG_STR, F(replication_secret), NULL, 0, -1, NULL,
     "shared by every node of a replicated cluster; replication requests without it are refused"},
    {"metadataFallbackToBak", RK_CFG_BOOL, F(metadata_fallback_to_bak), "false", 1, 0, NULL,
     "load kvConfig.json.bak when kvConfig.json is unusable (default: refuse to start, as the broker does)"},
    {0},
};
#undef F

#define MAX_IDS 8

typedef struct {
    char cluster[128];
    int64_t ids[MAX_IDS];
    char addrs[MAX_IDS][64];
    int n;
} broker_t;

typedef struct {
    char broker[128];
    int64_t read, write, perm, sysflag;
} qdata_t;

typedef struct {
    qdata_t *q;
    int n, cap;
} topic_t;

typedef struct {
    char name[128], cluster[128], ha[64];
    int64_t id, dv_counter, dv_ts;
    uint64_t last_ms, conn_id;
} live_t;

struct rk_namesrv {
    rk_namesrv_config_t cfg;
    char kv_path[4096];
    rk_rserver_t *srv;
    rk_eventbus_t bus;
    rk_strmap_t brokers;        /* brokerName -> broker_t */
    rk_strmap_t topics;         /* topic -> topic_t */
    rk_strmap_t live;           /* brokerAddr -> live_t */
    cJSON *kv;                  /* {"ns":{"k":"v"}} */
    uint64_t kv_seq;            /* loop thread: numbers KV versions */
    uv_mutex_t kv_mu;           /* serialises KV file writes on the worker pool */
    uint64_t kv_written;        /* under kv_mu: newest version on disk */
    /* replication (see the banner below) */
    struct peer {
        char addr[64];
        _Atomic bool needs_snapshot;
        _Atomic int64_t epoch;
    } peers[8];
    int npeers;
    rk_rclient_t *rcl;
    bool applying_replica;      /* loop thread: the write being applied came from upstream */
    int64_t epoch;              /* this process's identity, reported to upstream */
    char upstream_ips[16][INET_ADDRSTRLEN];  /* replicationUpstream, resolved at start */
    int nupstream;
    char secret[257];           /* replicationSecret ("" = none) */
    uint64_t refused_log_ms;    /* loop thread: last WARN about a refused replication request */
    uint64_t refused_quiet;     /* loop thread: refusals not logged since */
    size_t kv_items;            /* entries in kv, all namespaces */
};

static void finish_write(rk_namesrv_t *ns, rk_cmd_t *req, rk_reply_t *reply, rk_cmd_t *resp);
static void forward_oneway(rk_namesrv_t *ns, rk_cmd_t *op);
static bool read_goes_down(rk_namesrv_t *ns, rk_cmd_t *req, rk_reply_t *reply);

static void publish(rk_namesrv_t *ns, rk_event_type_t t, const char *cluster, const char *name,
                    const char *addr, int64_t id, const char *topic)
{
    rk_event_t ev = {t, cluster, name, addr, topic, id};
    rk_eventbus_publish(&ns->bus, &ev);
}

static void log_handler(void *ctx, const rk_event_t *ev)
{
    (void)ctx;
    if (ev->type == RK_EV_TOPIC_CHANGED)
        rk_log_debug("namesrv", "%s: %s", rk_event_name(ev->type), ev->topic);
    else if (ev->type != RK_EV_KV_CHANGED)
        rk_log_info("namesrv", "%s: %s %s id=%lld (%s)", rk_event_name(ev->type),
                    ev->cluster ? ev->cluster : "", ev->broker_name ? ev->broker_name : "", ev->broker_id,
                    ev->broker_addr ? ev->broker_addr : "");
}

/* ------------------------------------------------------------ route table */

static void topic_free(void *p)
{
    topic_t *t = p;
    free(t->q);
    free(t);
}

static int topic_set_queue(rk_namesrv_t *ns, const char *topic, const qdata_t *qd)
{
    topic_t *t = rk_strmap_get(&ns->topics, topic);
    if (t == NULL) {
        if ((t = calloc(1, sizeof *t)) == NULL || rk_strmap_put(&ns->topics, topic, t, NULL) != RK_OK) {
            free(t);
            return RK_ENOMEM;
        }
    }
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->q[i].broker, qd->broker) == 0) {
            if (memcmp(&t->q[i], qd, sizeof *qd) != 0)
                publish(ns, RK_EV_TOPIC_CHANGED, NULL, qd->broker, NULL, 0, topic);
            t->q[i] = *qd;
            return RK_OK;
        }
    if (RK_GROW(t->q, t->cap, t->n + 1, 4) != RK_OK)
        return RK_ENOMEM;
    t->q[t->n++] = *qd;
    publish(ns, RK_EV_TOPIC_CHANGED, NULL, qd->broker, NULL, 0, topic);
    return RK_OK;
}

typedef struct {
    rk_namesrv_t *ns;
    const char *broker;
    const char **dead;
    size_t ndead;
} purge_t;

static int purge_topic(const char *topic, void *value, void *ctx)
{
    purge_t *p = ctx;
    topic_t *t = value;
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->q[i].broker, p->broker) == 0) {
            t->q[i] = t->q[--t->n];
            publish(p->ns, RK_EV_TOPIC_CHANGED, NULL, p->broker, NULL, 0, topic);
            break;
        }
    if (t->n == 0)
        p->dead[p->ndead++] = topic;
    return 0;
}

/* Drops the queue data of brokerName from every topic; empty topics go. */
static void purge_broker_queues(rk_namesrv_t *ns, const char *broker)
{
    const char **dead = calloc(ns->topics.len + 1, sizeof *dead);
    if (dead == NULL)
        return;
    purge_t p = {ns, broker, dead, 0};
    rk_strmap_foreach(&ns->topics, purge_topic, &p);
    for (size_t i = 0; i < p.ndead; i++) {
        char *name = strdup(dead[i]);   /* the key dies with the entry */
        if (name != NULL) {
            topic_free(rk_strmap_remove(&ns->topics, name));
            free(name);
        }
    }
    free(dead);
}

/* Removes the broker address from every table (unregister, expiry, disconnect). */
static void remove_broker_addr(rk_namesrv_t *ns, const char *addr, rk_event_type_t why)
{
    live_t *lv = rk_strmap_remove(&ns->live, addr);
    if (lv == NULL)
        return;
    broker_t *b = rk_strmap_get(&ns->brokers, lv->name);
    if (b != NULL) {
        /* Only the address the table holds counts: a master another address
         * displaced (same brokerName) takes nothing with it when it goes. */
        for (int i = 0; i < b->n; i++)
            if (strcmp(b->addrs[i], addr) == 0) {
                b->n--;
                b->ids[i] = b->ids[b->n];
                memmove(b->addrs[i], b->addrs[b->n], sizeof b->addrs[i]);
                break;
            }
        /* The queues of a broker name go with its last member, as in
         * RocketMQ's RouteInfoManager.onChannelDestroy/unregisterBroker: when
         * the master goes and a slave stays, the route keeps the queues with
         * the slave's address, so consumers read from the slave (producers
         * skip a broker name without a master). */
        if (b->n == 0) {
            free(rk_strmap_remove(&ns->brokers, lv->name));
            purge_broker_queues(ns, lv->name);
        }
    }
    publish(ns, why, lv->cluster, lv->name, addr, lv->id, NULL);
    if (why == RK_EV_BROKER_EXPIRED || why == RK_EV_BROKER_DISCONNECTED) {
        /* followers learn of removals too (the course's version forgot) */
        rk_cmd_t *op = rk_cmd_new(RK_REQ_UNREGISTER_BROKER);
        if (op != NULL) {
            rk_cmd_ext_set(op, "brokerAddr", addr);
            rk_cmd_ext_set(op, "brokerName", lv->name);
            rk_cmd_ext_set(op, "clusterName", lv->cluster);
            rk_cmd_ext_set_i64(op, "brokerId", lv->id);
            forward_oneway(ns, op);
        }
    }
    free(lv);
}

/* ------------------------------------------------------------ validation
 *
 * Every body the name server reads comes from the network or the disk, so
 * each is checked whole before any of it is used: a failed check leaves a
 * reason in a why_t and the caller answers SYSTEM_ERROR with it. */

typedef struct {
    char msg[240];
} why_t;

static bool fail(why_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(why_t *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->msg, sizeof w->msg, fmt, ap);
    va_end(ap);
    return false;
}

#define JSON_INT_MAX 9007199254740992LL     /* 2^53: a JSON number is a double */

/* s, a whole decimal integer (strtoll's syntax), in [lo, hi]. */
static bool dec_in(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    if (s == NULL)
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* An integer member in [lo, hi]: what rk_json_get_i64 reads (a number
 * without fraction, or a decimal string: RocketMQ's C++ and Node clients
 * send numbers as strings and back), but not a boolean. */
static bool int_member(const cJSON *obj, const char *key, int64_t lo, int64_t hi, int64_t *out, why_t *w)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    int64_t v;
    if (it == NULL)
        return fail(w, "%s is missing", key);
    if (cJSON_IsBool(it) || rk_json_get_i64(obj, key, &v) != RK_OK || v < lo || v > hi)
        return fail(w, "%s must be an integer in %" PRId64 "..%" PRId64, key, lo, hi);
    *out = v;
    return true;
}

/* A printable string of 1..max bytes (no control characters: they end up in logs). */
static bool name_ok(const char *s, size_t max)
{
    if (s == NULL || *s == '\0')
        return false;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++)
        if (*p < 0x20 || *p == 0x7f || n >= max)
            return false;
    return true;
}

static const char *str_member(const cJSON *obj, const char *key, size_t max, why_t *w)
{
    const char *s = rk_json_get_str(obj, key);
    if (s == NULL) {
        fail(w, "%s must be a string", key);
        return NULL;
    }
    if (!name_ok(s, max)) {
        fail(w, "%s must be 1..%zu printable bytes", key, max);
        return NULL;
    }
    return s;
}

/* An object's members, counted; false if some key appears twice (cJSON keeps both). */
static bool keys_unique(const cJSON *obj, size_t max, why_t *w, const char *what)
{
    rk_strmap_t seen;
    rk_strmap_init(&seen);
    size_t n = 0;
    bool ok = true;
    for (const cJSON *c = obj->child; c != NULL && ok; c = c->next) {
        if (++n > max)
            ok = fail(w, "%s: more than %zu entries", what, max);
        else if (c->string == NULL)
            ok = fail(w, "%s: an entry without a name", what);
        else if (rk_strmap_get(&seen, c->string) != NULL)
            ok = fail(w, "%s: \"%.64s\" appears twice", what, c->string);
        else if (rk_strmap_put(&seen, c->string, (void *)1, NULL) != RK_OK)
            ok = fail(w, "out of memory");
    }
    rk_strmap_free(&seen, NULL);
    return ok;
}

static bool data_version_ok(const cJSON *dv, int64_t *counter, int64_t *ts, why_t *w)
{
    if (!cJSON_IsObject(dv))
        return fail(w, "dataVersion must be an object");
    return int_member(dv, "counter", 0, JSON_INT_MAX, counter, w) &&
           int_member(dv, "timestamp", 0, JSON_INT_MAX, ts, w);
}

/* ------------------------------------------------------------ REGISTER_BROKER body */

typedef struct {
    char *name;
    int64_t read, write, perm, sysflag;
} reg_topic_t;

typedef struct {
    int64_t dv_counter, dv_ts;
    reg_topic_t *t;
    size_t n;
} reg_body_t;

static void reg_body_free(reg_body_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->t[i].name);
    free(b->t);
    b->t = NULL;
    b->n = 0;
}

#define TOPIC_NAME_MAX 255
#define PERM_MAX 7              /* PERM_PRIORITY 8 is never registered; READ 4 | WRITE 2 | INHERIT 1 */
#define SYSFLAG_MAX 2147483647

static bool queue_nums_ok(int64_t read, int64_t write, int64_t perm, int64_t sysflag, why_t *w)
{
    if (read < 0 || read > RK_NS_MAX_QUEUE_NUMS || write < 0 || write > RK_NS_MAX_QUEUE_NUMS)
        return fail(w, "queue numbers must be in 0..%d", RK_NS_MAX_QUEUE_NUMS);
    if (perm < 0 || perm > PERM_MAX)
        return fail(w, "perm must be in 0..%d", PERM_MAX);
    if (sysflag < 0 || sysflag > SYSFLAG_MAX)
        return fail(w, "topicSysFlag must be a non-negative int");
    return true;
}

/* RegisterBrokerBody JSON: {"topicConfigSerializeWrapper":{"dataVersion":{..},
 * "topicConfigTable":{"topic":{"readQueueNums":..,"writeQueueNums":..,"perm":..,
 * "topicSysFlag":..}}},"filterServerList":[..]}; pre-3.0.11 brokers send the
 * wrapper bare. */
static int parse_reg_json(const uint8_t *p, size_t len, reg_body_t *out, why_t *w)
{
    cJSON *root = rk_json_parse((const char *)p, len);
    int rc = RK_EPROTO;
    if (!cJSON_IsObject(root)) {
        fail(w, "the body is not a JSON object");
        goto done;
    }
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(root, "filterServerList");
    if (fs != NULL) {
        if (!cJSON_IsArray(fs) || cJSON_GetArraySize(fs) > 64) {
            fail(w, "filterServerList must be an array of at most 64 addresses");
            goto done;
        }
        for (const cJSON *a = fs->child; a != NULL; a = a->next)
            if (!cJSON_IsString(a) || !name_ok(a->valuestring, 63)) {
                fail(w, "filterServerList must hold host:port strings");
                goto done;
            }
    }
    const cJSON *wr = cJSON_GetObjectItemCaseSensitive(root, "topicConfigSerializeWrapper");
    if (wr == NULL)
        wr = root;
    if (!cJSON_IsObject(wr)) {
        fail(w, "topicConfigSerializeWrapper must be an object");
        goto done;
    }
    if (!data_version_ok(cJSON_GetObjectItemCaseSensitive(wr, "dataVersion"), &out->dv_counter, &out->dv_ts, w))
        goto done;
    const cJSON *tt = cJSON_GetObjectItemCaseSensitive(wr, "topicConfigTable");
    if (!cJSON_IsObject(tt)) {
        fail(w, "topicConfigTable must be an object");
        goto done;
    }
    if (!keys_unique(tt, RK_NS_MAX_TOPICS_PER_BROKER, w, "topicConfigTable"))
        goto done;
    size_t n = (size_t)cJSON_GetArraySize(tt);
    if (n > 0 && (out->t = calloc(n, sizeof *out->t)) == NULL) {
        rc = RK_ENOMEM;
        fail(w, "out of memory");
        goto done;
    }
    for (const cJSON *t = tt->child; t != NULL; t = t->next) {
        reg_topic_t rt = {NULL, 0, 0, 0, 0};
        if (!name_ok(t->string, TOPIC_NAME_MAX)) {
            fail(w, "a topic name must be 1..%d printable bytes", TOPIC_NAME_MAX);
            goto done;
        }
        if (!cJSON_IsObject(t)) {
            fail(w, "topic %.64s: its config must be an object", t->string);
            goto done;
        }
        why_t fw = {""};
        const cJSON *sf = cJSON_GetObjectItemCaseSensitive(t, "topicSysFlag");
        if (!int_member(t, "readQueueNums", 0, RK_NS_MAX_QUEUE_NUMS, &rt.read, &fw) ||
            !int_member(t, "writeQueueNums", 0, RK_NS_MAX_QUEUE_NUMS, &rt.write, &fw) ||
            !int_member(t, "perm", 0, PERM_MAX, &rt.perm, &fw) ||
            (sf != NULL && !int_member(t, "topicSysFlag", 0, SYSFLAG_MAX, &rt.sysflag, &fw))) {
            fail(w, "topic %.64s: %s", t->string, fw.msg);
            goto done;
        }
        if ((rt.name = strdup(t->string)) == NULL) {
            rc = RK_ENOMEM;
            fail(w, "out of memory");
            goto done;
        }
        out->t[out->n++] = rt;
    }
    rc = RK_OK;
done:
    cJSON_Delete(root);
    if (rc != RK_OK)
        reg_body_free(out);
    return rc;
}

/* One decimal field of a compressed topic line, in [lo, hi]. */
static bool line_int(char **save, int64_t lo, int64_t hi, int64_t *out)
{
    return dec_in(strtok_r(NULL, " ", save), lo, hi, out);
}

/* The compressed form: zlib of [len][dataVersion JSON][count] count x ([len]["name r w perm filter"]) [len][filters]. */
static int parse_reg_compressed(const uint8_t *p, size_t len, reg_body_t *out, why_t *w)
{
    size_t cap = len * 8 + 1024;
    uint8_t *raw = NULL;
    int zrc = Z_BUF_ERROR;
    uLongf rawlen = 0;
    while (cap <= 64u << 20) {
        free(raw);
        if ((raw = malloc(cap)) == NULL)
            return RK_ENOMEM;
        rawlen = cap;
        zrc = uncompress(raw, &rawlen, p, len);
        if (zrc != Z_BUF_ERROR)
            break;
        cap *= 4;
    }
    if (zrc != Z_OK) {
        free(raw);
        fail(w, "the compressed body does not inflate (at most 64 MiB)");
        return RK_EPROTO;
    }
    int rc = RK_EPROTO;
    rk_reader_t r = rk_reader(raw, rawlen);
    uint32_t l = rk_reader_u32(&r);
    const uint8_t *dvp = rk_reader_take(&r, l);
    cJSON *dv = dvp ? rk_json_parse((const char *)dvp, l) : NULL;
    bool dv_ok = data_version_ok(dv, &out->dv_counter, &out->dv_ts, w);
    cJSON_Delete(dv);
    uint32_t count = rk_reader_u32(&r);
    if (!dv_ok)
        goto done;
    if (r.err || count > RK_NS_MAX_TOPICS_PER_BROKER) {
        fail(w, "the compressed body has a bad topic count");
        goto done;
    }
    if (count > 0 && (out->t = calloc(count, sizeof *out->t)) == NULL) {
        rc = RK_ENOMEM;
        fail(w, "out of memory");
        goto done;
    }
    rk_strmap_t seen;
    rk_strmap_init(&seen);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t tl = rk_reader_u32(&r);
        const uint8_t *tp = rk_reader_take(&r, tl);
        char line[512], *save = NULL;
        if (tp == NULL || tl >= sizeof line) {
            fail(w, "the compressed body is truncated or has a topic line over %zu bytes", sizeof line - 1);
            break;
        }
        memcpy(line, tp, tl);
        line[tl] = '\0';
        reg_topic_t rt = {NULL, 0, 0, 0, 0};
        char *name = strtok_r(line, " ", &save);
        if (!name_ok(name, TOPIC_NAME_MAX) || !line_int(&save, 0, RK_NS_MAX_QUEUE_NUMS, &rt.read) ||
            !line_int(&save, 0, RK_NS_MAX_QUEUE_NUMS, &rt.write) || !line_int(&save, 0, PERM_MAX, &rt.perm)) {
            fail(w, "topic line %u must be \"name readQueueNums writeQueueNums perm ...\" with queues in "
                    "0..%d and perm in 0..%d", i, RK_NS_MAX_QUEUE_NUMS, PERM_MAX);
            break;
        }
        if (rk_strmap_get(&seen, name) != NULL) {
            fail(w, "topic %.64s appears twice", name);
            break;
        }
        if (rk_strmap_put(&seen, name, (void *)1, NULL) != RK_OK || (rt.name = strdup(name)) == NULL) {
            fail(w, "out of memory");
            break;
        }
        out->t[out->n++] = rt;
    }
    rk_strmap_free(&seen, NULL);
    if (out->n == count)
        rc = RK_OK;
done:
    free(raw);
    if (rc != RK_OK)
        reg_body_free(out);
    return rc;
}

/* ------------------------------------------------------------ processors */

#define EXT(name) const char *name = rk_cmd_ext_get(req, #name)

static int count_new_topics(const rk_namesrv_t *ns, const reg_body_t *body)
{
    int n = 0;
    for (size_t i = 0; i < body->n; i++)
        n += rk_strmap_get(&ns->topics, body->t[i].name) == NULL;
    return n;
}

static void p_register(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    rk_namesrv_t *ns = ctx;
    EXT(brokerName); EXT(brokerAddr); EXT(clusterName); EXT(haServerAddr);
    int64_t id = 0, crc = 0;
    bool compressed = false;
    if (!name_ok(brokerName, 127) || !name_ok(brokerAddr, 63) || !name_ok(clusterName, 127) ||
        (haServerAddr != NULL && *haServerAddr != '\0' && !name_ok(haServerAddr, 63)) ||
        rk_cmd_ext_i64(req, "brokerId", &id) != RK_OK || id < 0 || id > INT32_MAX) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR,
                      "brokerName, clusterName (1..127 bytes), brokerAddr (1..63), brokerId (0..2^31-1) are "
                      "required; haServerAddr is at most 63 bytes");
        return;
    }
    rk_cmd_ext_bool(req, "compressed", &compressed);
    rk_cmd_ext_i64(req, "bodyCrc32", &crc);
    if (crc != 0 && req->body_len > 0 && (int64_t)rk_body_crc(req->body, req->body_len) != crc) {
        rk_log_warn("namesrv", "register from %s: body crc32 mismatch", brokerAddr);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "crc32 not match");
        return;
    }
    /* Everything is checked before anything changes: a refused registration changes nothing. */
    reg_body_t body = {0, 0, NULL, 0};
    why_t w = {""};
    int rc = RK_OK;
    if (req->body_len > 0)
        rc = compressed ? parse_reg_compressed(req->body, req->body_len, &body, &w)
                        : parse_reg_json(req->body, req->body_len, &body, &w);
    char remark[300];
    if (rc != RK_OK) {
        snprintf(remark, sizeof remark, "bad register body: %s", w.msg[0] ? w.msg : rk_strerror(rc));
        rk_log_warn("namesrv", "register of %s (%s) from %s refused: %s", brokerName, brokerAddr,
                    ns->applying_replica ? "upstream" : rk_conn_peer(conn), remark);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, remark);
        return;
    }
    live_t *lv = rk_strmap_get(&ns->live, brokerAddr);
    broker_t *b = rk_strmap_get(&ns->brokers, brokerName);
    int others = 0;         /* addresses of brokerName that stay */
    bool has_id = false;
    for (int i = 0; b != NULL && i < b->n; i++) {
        has_id = has_id || b->ids[i] == id;
        others += b->ids[i] == id || strcmp(b->addrs[i], brokerAddr) != 0;
    }
    const char *full = NULL;
    if (lv == NULL && ns->live.len >= RK_NS_MAX_LIVE)
        full = "too many broker addresses registered";
    else if (!has_id && others >= MAX_IDS)
        full = "this brokerName has too many brokerIds";
    else if (id == 0 && ns->topics.len + (size_t)count_new_topics(ns, &body) > RK_NS_MAX_TOPICS)
        full = "the route table is full";
    /* rocklet's hijack guard: brokerId 0 of a brokerName whose master is live
     * elsewhere goes only to an address already registered under that name
     * (a slave promoted by an election, chapter 8); a stranger is refused.
     * (RocketMQ 4.x accepts it and the route silently points at the
     * newcomer.) A replica applies what its upstream already decided. */
    if (full == NULL && id == 0 && b != NULL && !ns->applying_replica) {
        const char *cur = NULL;
        bool known = false;
        for (int i = 0; i < b->n; i++) {
            if (b->ids[i] == 0)
                cur = b->addrs[i];
            known = known || strcmp(b->addrs[i], brokerAddr) == 0;
        }
        const live_t *prev = cur != NULL && !known ? rk_strmap_get(&ns->live, cur) : NULL;
        if (prev != NULL) {
            char why[512];
            snprintf(why, sizeof why,
                     "brokerName %.100s already has a live master at %.63s (registered %" PRIu64 " ms ago); an "
                     "address not registered under this brokerName cannot take brokerId 0. Check brokerName, or "
                     "stop that master (its registration ends when it disconnects or expires)",
                     brokerName, cur, rk_mono_ms() - prev->last_ms);
            rk_log_warn("namesrv", "MASTER HIJACK REFUSED: %s (from %s) registers as brokerId 0 of %s: %s", brokerAddr,
                        rk_conn_peer(conn), brokerName, why);
            reg_body_free(&body);
            rk_reply_code(reply, RK_RESP_NO_PERMISSION, why);
            return;
        }
    }
    if (full != NULL) {
        rk_log_warn("namesrv", "register of %s (%s) refused: %s", brokerName, brokerAddr, full);
        reg_body_free(&body);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, full);
        return;
    }
    /* brokers */
    bool new_name = b == NULL;
    if (b == NULL) {
        b = calloc(1, sizeof *b);
        if (b == NULL || rk_strmap_put(&ns->brokers, brokerName, b, NULL) != RK_OK) {
            free(b);
            reg_body_free(&body);
            rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "out of memory");
            return;
        }
    }
    snprintf(b->cluster, sizeof b->cluster, "%s", clusterName);
    int slot = -1;
    char old_addr[64] = "";
    int64_t promoted_from = -1;
    for (int i = 0; i < b->n; i++) {
        if (strcmp(b->addrs[i], brokerAddr) == 0 && b->ids[i] != id) {
            /* the same address under another id (a slave became master): drop the old */
            promoted_from = b->ids[i];
            b->n--;
            b->ids[i] = b->ids[b->n];
            memmove(b->addrs[i], b->addrs[b->n], sizeof b->addrs[i]);
            i--;
            continue;
        }
        if (b->ids[i] == id) {
            slot = i;
            snprintf(old_addr, sizeof old_addr, "%s", b->addrs[i]);
        }
    }
    if (slot < 0 && b->n < MAX_IDS)
        slot = b->n++;
    if (slot >= 0) {
        b->ids[slot] = id;
        snprintf(b->addrs[slot], sizeof b->addrs[slot], "%s", brokerAddr);
    }
    /* RocketMQ's registerFirst: the first registration of this address under
     * (brokerName, brokerId) — a new name, a new id, or another address took
     * the slot meanwhile — re-creates the queue data whatever the data version
     * says, so routes purged while someone else held the slot come back. */
    bool register_first = new_name || old_addr[0] == '\0' || strcmp(old_addr, brokerAddr) != 0;
    if (id == 0 && old_addr[0] != '\0' && strcmp(old_addr, brokerAddr) != 0 && promoted_from > 0) {
        /* a slave of this broker name took over (an election, chapter 8, or an
         * operator): the route names it at once, no 120 s expiry to wait */
        rk_log_info("namesrv", "master of %s moved: %s (brokerId %" PRId64 " until now) replaces %s as brokerId 0",
                    brokerName, brokerAddr, promoted_from, old_addr);
    } else if (id == 0 && old_addr[0] != '\0' && strcmp(old_addr, brokerAddr) != 0) {
        const live_t *prev = rk_strmap_get(&ns->live, old_addr);
        if (prev != NULL)
            rk_log_warn("namesrv",
                        "MASTER REPLACED: %s registers as the master (brokerId 0) of %s, whose master %s is still "
                        "live (registered %" PRIu64 " ms ago); two brokers share brokerName %s — check brokerName "
                        "in both brokers' configurations (request from %s)",
                        brokerAddr, brokerName, old_addr, rk_mono_ms() - prev->last_ms, brokerName,
                        ns->applying_replica ? "upstream" : rk_conn_peer(conn));
    }
    /* liveness */
    bool first = lv == NULL;
    if (first) {
        lv = calloc(1, sizeof *lv);
        if (lv == NULL || rk_strmap_put(&ns->live, brokerAddr, lv, NULL) != RK_OK) {
            free(lv);
            reg_body_free(&body);
            rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "out of memory");
            return;
        }
    }
    bool changed = first || register_first || lv->dv_counter != body.dv_counter || lv->dv_ts != body.dv_ts;
    snprintf(lv->name, sizeof lv->name, "%s", brokerName);
    snprintf(lv->cluster, sizeof lv->cluster, "%s", clusterName);
    snprintf(lv->ha, sizeof lv->ha, "%s", haServerAddr ? haServerAddr : "");
    lv->id = id;
    lv->dv_counter = body.dv_counter;
    lv->dv_ts = body.dv_ts;
    lv->last_ms = rk_mono_ms();
    if (!ns->applying_replica) {
        lv->conn_id = rk_conn_id(conn);
        rk_conn_set_data(conn, (void *)1);  /* marks a broker connection for the close hook */
    } else {
        lv->conn_id = 0;                    /* upstream's connection is not the broker's */
    }
    /* queues: only a master's topic table is routable */
    if (id == 0 && changed)
        for (size_t i = 0; i < body.n; i++) {
            qdata_t qd = {.read = body.t[i].read, .write = body.t[i].write, .perm = body.t[i].perm,
                          .sysflag = body.t[i].sysflag};
            snprintf(qd.broker, sizeof qd.broker, "%s", brokerName);
            topic_set_queue(ns, body.t[i].name, &qd);
        }
    reg_body_free(&body);
    if (first)
        publish(ns, RK_EV_BROKER_REGISTERED, clusterName, brokerName, brokerAddr, id, NULL);
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    if (resp != NULL && id != 0)
        for (int i = 0; i < b->n; i++)
            if (b->ids[i] == 0) {
                rk_cmd_ext_set(resp, "masterAddr", b->addrs[i]);
                live_t *m = rk_strmap_get(&ns->live, b->addrs[i]);
                if (m != NULL && m->ha[0])
                    rk_cmd_ext_set(resp, "haServerAddr", m->ha);
            }
    finish_write(ns, req, reply, resp);
}

static void p_unregister(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_namesrv_t *ns = ctx;
    EXT(brokerAddr);
    if (brokerAddr != NULL)
        remove_broker_addr(ns, brokerAddr, RK_EV_BROKER_UNREGISTERED);
    finish_write(ns, req, reply, rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL));
}

static cJSON *broker_json(const char *name, const broker_t *b)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *addrs = cJSON_AddObjectToObject(o, "brokerAddrs");
    /* sorted by id, as fastjson's MapSortField does */
    int order[MAX_IDS];
    for (int i = 0; i < b->n; i++) {
        int j = i;
        while (j > 0 && b->ids[order[j - 1]] > b->ids[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    for (int i = 0; i < b->n; i++) {
        char id[24];
        snprintf(id, sizeof id, "%" PRId64, b->ids[order[i]]);
        cJSON_AddStringToObject(addrs, id, b->addrs[order[i]]);
    }
    cJSON_AddStringToObject(o, "brokerName", name);
    cJSON_AddStringToObject(o, "cluster", b->cluster);
    return o;
}

static void reply_json(rk_reply_t *reply, int code, cJSON *body, unsigned flags)
{
    char *s = body ? rk_json_print(body, flags) : NULL;
    cJSON_Delete(body);
    rk_cmd_t *resp = rk_cmd_new_response(rk_reply_request(reply), code, NULL);
    if (resp != NULL && s != NULL)
        rk_cmd_own_body(resp, (uint8_t *)s, strlen(s));
    else
        free(s);
    rk_reply_send(reply, resp);
}

static void p_route(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_namesrv_t *ns = ctx;
    if (read_goes_down(ns, req, reply))
        return;
    EXT(topic);
    topic_t *t = topic ? rk_strmap_get(&ns->topics, topic) : NULL;
    if (t == NULL || t->n == 0) {
        char remark[400];
        snprintf(remark, sizeof remark, "No topic route info in name server for the topic: %s",
                 topic ? topic : "");
        rk_reply_code(reply, RK_RESP_TOPIC_NOT_EXIST, remark);
        return;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *bds = cJSON_AddArrayToObject(root, "brokerDatas");
    cJSON_AddObjectToObject(root, "filterServerTable");
    cJSON *qds = cJSON_AddArrayToObject(root, "queueDatas");
    for (int i = 0; i < t->n; i++) {
        const qdata_t *q = &t->q[i];
        broker_t *b = rk_strmap_get(&ns->brokers, q->broker);
        if (b != NULL)
            cJSON_AddItemToArray(bds, broker_json(q->broker, b));
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "brokerName", q->broker);
        cJSON_AddNumberToObject(o, "perm", (double)q->perm);
        cJSON_AddNumberToObject(o, "readQueueNums", (double)q->read);
        cJSON_AddNumberToObject(o, "topicSysFlag", (double)q->sysflag);
        cJSON_AddNumberToObject(o, "writeQueueNums", (double)q->write);
        cJSON_AddItemToArray(qds, o);
    }
    bool standard = false;
    rk_cmd_ext_bool(req, "acceptStandardJsonOnly", &standard);
    standard = standard || req->version >= RK_VERSION_V4_9_4;
    reply_json(reply, RK_RESP_SUCCESS, root, standard ? 0 : RK_JSON_BARE_INT_KEYS);
}

typedef struct {
    cJSON *addr_table, *cluster_table;
} cluster_ctx_t;

static int add_cluster_broker(const char *name, void *value, void *ctx)
{
    cluster_ctx_t *c = ctx;
    broker_t *b = value;
    cJSON_AddItemToObject(c->addr_table, name, broker_json(name, b));
    cJSON *names = cJSON_GetObjectItemCaseSensitive(c->cluster_table, b->cluster);
    if (names == NULL)
        names = cJSON_AddArrayToObject(c->cluster_table, b->cluster);
    cJSON_AddItemToArray(names, cJSON_CreateString(name));
    return 0;
}

static void p_cluster_info(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn; (void)req;
    rk_namesrv_t *ns = ctx;
    if (read_goes_down(ns, req, reply))
        return;
    cJSON *root = cJSON_CreateObject();
    cluster_ctx_t c = {cJSON_AddObjectToObject(root, "brokerAddrTable"),
                       cJSON_AddObjectToObject(root, "clusterAddrTable")};
    rk_strmap_foreach(&ns->brokers, add_cluster_broker, &c);
    reply_json(reply, RK_RESP_SUCCESS, root, RK_JSON_BARE_INT_KEYS);   /* always fastjson-style */
}

static int add_topic_name(const char *name, void *value, void *ctx)
{
    (void)value;
    cJSON_AddItemToArray(ctx, cJSON_CreateString(name));
    return 0;
}

static void p_topic_list(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn; (void)req;
    rk_namesrv_t *ns = ctx;
    if (read_goes_down(ns, req, reply))
        return;
    cJSON *root = cJSON_CreateObject();
    rk_strmap_foreach(&ns->topics, add_topic_name, cJSON_AddArrayToObject(root, "topicList"));
    reply_json(reply, RK_RESP_SUCCESS, root, 0);
}

static void p_delete_topic(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_namesrv_t *ns = ctx;
    EXT(topic);
    if (topic != NULL) {
        topic_t *t = rk_strmap_remove(&ns->topics, topic);
        if (t != NULL) {
            topic_free(t);
            publish(ns, RK_EV_TOPIC_CHANGED, NULL, NULL, NULL, 0, topic);
        }
    }
    finish_write(ns, req, reply, rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL));
}

static void p_data_version(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_namesrv_t *ns = ctx;
    EXT(brokerAddr);
    live_t *lv = brokerAddr ? rk_strmap_get(&ns->live, brokerAddr) : NULL;
    int64_t counter = -1, ts = -1;
    if (req->body_len > 0) {
        cJSON *dv = rk_json_parse((const char *)req->body, req->body_len);
        why_t w = {""};
        bool ok = data_version_ok(dv, &counter, &ts, &w);
        cJSON_Delete(dv);
        if (!ok) {
            char remark[300];
            snprintf(remark, sizeof remark, "bad data version body: %s", w.msg);
            rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, remark);
            return;
        }
    }
    bool changed = lv == NULL || lv->dv_counter != counter || lv->dv_ts != ts;
    if (lv != NULL && !changed)
        lv->last_ms = rk_mono_ms();     /* an unchanged version still proves liveness */
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    if (resp != NULL) {
        rk_cmd_ext_set(resp, "changed", changed ? "true" : "false");
        if (lv != NULL) {
            char body[96];
            int n = snprintf(body, sizeof body, "{\"counter\":%" PRId64 ",\"timestamp\":%" PRId64 "}",
                             lv->dv_counter, lv->dv_ts);
            rk_cmd_set_body(resp, body, (size_t)n);
        }
    }
    rk_reply_send(reply, resp);
}

/* ---- KV config ---- */

/* {"configTable":{...}} as the file holds it; malloc'ed. */
static char *kv_serialize(rk_namesrv_t *ns)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemReferenceToObject(root, "configTable", ns->kv);
    char *s = rk_json_print(root, 0);
    cJSON_Delete(root);
    return s;
}

static int kv_write(const char *path, const char *text)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        rk_mkdirs(dir, 0755);
    }
    int rc = rk_file_write_atomic(path, text, strlen(text));
    if (rc != RK_OK)
        rk_log_error("namesrv", "cannot persist %s: %s", path, rk_strerror(rc));
    return rc;
}

/* Synchronous: at stop and when a snapshot replaces the table. */
static int kv_persist(rk_namesrv_t *ns)
{
    char *s = kv_serialize(ns);
    if (s == NULL)
        return RK_ENOMEM;
    uv_mutex_lock(&ns->kv_mu);
    int rc = kv_write(ns->kv_path, s);
    if (rc == RK_OK)
        ns->kv_written = ++ns->kv_seq;
    uv_mutex_unlock(&ns->kv_mu);
    free(s);
    return rc;
}

/* A KV change is answered only once it is on disk; the write (an fsync)
 * runs on the worker pool so the loop keeps serving. */
typedef struct {
    rk_namesrv_t *ns;
    rk_cmd_t *req;
    rk_reply_t *reply;
    char *text;
    bool replica;
    int rc;
    uint64_t seq;
} kv_job_t;

static void kv_job_work(void *arg)
{
    kv_job_t *j = arg;
    uv_mutex_lock(&j->ns->kv_mu);
    if (j->seq > j->ns->kv_written) {       /* a newer version may have been written already */
        j->rc = kv_write(j->ns->kv_path, j->text);
        if (j->rc == RK_OK)
            j->ns->kv_written = j->seq;
    }
    uv_mutex_unlock(&j->ns->kv_mu);
}

static void kv_job_after(void *arg)
{
    kv_job_t *j = arg;
    if (j->rc != RK_OK) {
        rk_reply_code(j->reply, RK_RESP_SYSTEM_ERROR, "cannot persist the KV config");
    } else {
        j->ns->applying_replica = j->replica;
        finish_write(j->ns, j->req, j->reply, rk_cmd_new_response(j->req, RK_RESP_SUCCESS, NULL));
        j->ns->applying_replica = false;
    }
    free(j->text);
    free(j);
}

static void kv_persist_then_answer(rk_namesrv_t *ns, rk_cmd_t *req, rk_reply_t *reply)
{
    publish(ns, RK_EV_KV_CHANGED, NULL, NULL, NULL, 0, NULL);
    kv_job_t *j = calloc(1, sizeof *j);
    if (j == NULL || (j->text = kv_serialize(ns)) == NULL) {
        free(j);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    *j = (kv_job_t){ns, req, reply, j->text, ns->applying_replica, RK_OK, ++ns->kv_seq};
    if (rk_rserver_queue_work(ns->srv, kv_job_work, kv_job_after, j) != RK_OK) {
        free(j->text);
        free(j);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "cannot schedule the KV write");
    }
}

#define KV_NAME_MAX 255

/* {"namespace":{"key":"value"}}: bounded names, string values, bounded count. */
static bool kv_table_ok(const cJSON *table, size_t *items, why_t *w)
{
    if (!cJSON_IsObject(table))
        return fail(w, "the KV table must be an object");
    if (!keys_unique(table, RK_NS_MAX_KV_ITEMS, w, "KV namespaces"))
        return false;
    size_t n = 0;
    for (const cJSON *nsp = table->child; nsp != NULL; nsp = nsp->next) {
        if (!name_ok(nsp->string, KV_NAME_MAX) || !cJSON_IsObject(nsp))
            return fail(w, "a KV namespace must be named by 1..%d bytes and be an object", KV_NAME_MAX);
        if (!keys_unique(nsp, RK_NS_MAX_KV_ITEMS, w, "a KV namespace"))
            return false;
        for (const cJSON *it = nsp->child; it != NULL; it = it->next) {
            if (!name_ok(it->string, KV_NAME_MAX) || !cJSON_IsString(it) || it->valuestring == NULL ||
                strlen(it->valuestring) > RK_NS_MAX_KV_VALUE)
                return fail(w, "KV %.64s: keys are 1..%d bytes, values strings of at most %d bytes", nsp->string,
                            KV_NAME_MAX, RK_NS_MAX_KV_VALUE);
            if (++n > RK_NS_MAX_KV_ITEMS)
                return fail(w, "more than %d KV entries", RK_NS_MAX_KV_ITEMS);
        }
    }
    *items = n;
    return true;
}

static int kv_parse(const char *text, size_t len, void *ctx)
{
    rk_namesrv_t *ns = ctx;
    cJSON *root = rk_json_parse(text, len);
    cJSON *table = cJSON_DetachItemFromObjectCaseSensitive(root, "configTable");
    cJSON_Delete(root);
    why_t w = {""};
    size_t items = 0;
    if (!kv_table_ok(table, &items, &w)) {
        rk_log_error("namesrv", "%s: %s", ns->kv_path, table ? w.msg : "no configTable object");
        cJSON_Delete(table);
        return RK_ECORRUPT;
    }
    cJSON_Delete(ns->kv);
    ns->kv = table;
    ns->kv_items = items;
    return RK_OK;
}

static void p_put_kv(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_namesrv_t *ns = ctx;
    EXT(namespace); EXT(key); EXT(value);
    if (!name_ok(namespace, KV_NAME_MAX) || !name_ok(key, KV_NAME_MAX) || value == NULL ||
        strlen(value) > RK_NS_MAX_KV_VALUE) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR,
                      "namespace and key (1..255 printable bytes) and value (at most 65536 bytes) are required");
        return;
    }
    cJSON *n = cJSON_GetObjectItemCaseSensitive(ns->kv, namespace);
    bool fresh = n == NULL || cJSON_GetObjectItemCaseSensitive(n, key) == NULL;
    if (fresh && ns->kv_items >= RK_NS_MAX_KV_ITEMS) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "the KV config is full");
        return;
    }
    cJSON *v = cJSON_CreateString(value);
    if (v == NULL || (n == NULL && (n = cJSON_AddObjectToObject(ns->kv, namespace)) == NULL)) {
        cJSON_Delete(v);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    /* either call changes nothing when it fails (its copy of key) */
    if (!(fresh ? cJSON_AddItemToObject(n, key, v) : cJSON_ReplaceItemInObjectCaseSensitive(n, key, v))) {
        cJSON_Delete(v);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    ns->kv_items += fresh;
    kv_persist_then_answer(ns, req, reply);
}

static void p_get_kv(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_namesrv_t *ns = ctx;
    if (read_goes_down(ns, req, reply))
        return;
    EXT(namespace); EXT(key);
    const char *v = namespace && key ? rk_json_get_str(cJSON_GetObjectItemCaseSensitive(ns->kv, namespace), key) : NULL;
    if (v == NULL) {
        char remark[300];
        snprintf(remark, sizeof remark, "No config item, Namespace: %s Key: %s", namespace ? namespace : "",
                 key ? key : "");
        rk_reply_code(reply, RK_RESP_QUERY_NOT_FOUND, remark);
        return;
    }
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    if (resp)
        rk_cmd_ext_set(resp, "value", v);
    rk_reply_send(reply, resp);
}

static void p_delete_kv(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_namesrv_t *ns = ctx;
    EXT(namespace); EXT(key);
    cJSON *n = namespace ? cJSON_GetObjectItemCaseSensitive(ns->kv, namespace) : NULL;
    cJSON *item = n != NULL && key != NULL ? cJSON_DetachItemFromObjectCaseSensitive(n, key) : NULL;
    if (item != NULL) {
        cJSON_Delete(item);
        ns->kv_items--;
        kv_persist_then_answer(ns, req, reply);
        return;
    }
    finish_write(ns, req, reply, rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL));
}

/* ---- write permission and topics by cluster ---- */

typedef struct {
    const char *broker;
    bool wipe;
    int count;
} perm_ctx_t;

static int change_perm(const char *topic, void *value, void *ctx)
{
    (void)topic;
    perm_ctx_t *pc = ctx;
    topic_t *t = value;
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->q[i].broker, pc->broker) == 0) {
            t->q[i].perm = pc->wipe ? (t->q[i].perm & ~2) : (t->q[i].perm | 2);   /* PERM_WRITE */
            pc->count++;
        }
    return 0;
}

static void perm_common(rk_namesrv_t *ns, rk_cmd_t *req, rk_reply_t *reply, bool wipe)
{
    EXT(brokerName);
    if (!name_ok(brokerName, 127)) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "brokerName (1..127 printable bytes) is required");
        return;
    }
    perm_ctx_t pc = {brokerName, wipe, 0};
    rk_strmap_foreach(&ns->topics, change_perm, &pc);
    rk_log_info("namesrv", "%s write permission of %s on %d topics", wipe ? "wiped" : "restored", brokerName,
                pc.count);
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    if (resp != NULL)
        rk_cmd_ext_set_i64(resp, wipe ? "wipeTopicCount" : "addTopicCount", pc.count);
    finish_write(ns, req, reply, resp);
}

static void p_wipe_perm(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    perm_common(ctx, req, reply, true);
}

static void p_add_perm(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    perm_common(ctx, req, reply, false);
}

typedef struct {
    rk_namesrv_t *ns;
    const char *cluster;
    cJSON *list;
} bycluster_t;

static int add_if_in_cluster(const char *topic, void *value, void *ctx)
{
    bycluster_t *bc = ctx;
    topic_t *t = value;
    for (int i = 0; i < t->n; i++) {
        broker_t *b = rk_strmap_get(&bc->ns->brokers, t->q[i].broker);
        if (b != NULL && strcmp(b->cluster, bc->cluster) == 0) {
            cJSON_AddItemToArray(bc->list, cJSON_CreateString(topic));
            break;
        }
    }
    return 0;
}

static void p_topics_by_cluster(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_namesrv_t *ns = ctx;
    if (read_goes_down(ns, req, reply))
        return;
    EXT(cluster);
    cJSON *root = cJSON_CreateObject();
    bycluster_t bc = {ns, cluster ? cluster : "", cJSON_AddArrayToObject(root, "topicList")};
    rk_strmap_foreach(&ns->topics, add_if_in_cluster, &bc);
    reply_json(reply, RK_RESP_SUCCESS, root, 0);
}

/* ------------------------------------------------------------ replication
 *
 * master_slave: the master applies a write, then replays it (REPL_APPLY) to
 * every follower, and answers the broker once all (sync), at least half,
 * rounded up (semi_sync), or none (async) of them acknowledged. A follower
 * needs no configuration beyond clusterMode; brokers register with the
 * master only (followers serve reads).
 *
 * chain: each node applies a write and replays it to the next node; a node
 * answers upstream only when its successor answered it, so the head answers
 * the broker when the tail has the write. Brokers write to the head; reads
 * that reach any other node travel down to the tail, which answers them, so
 * a read never sees less than an acknowledged write.
 *
 * Catch-up: twice a second every node pings its downstream peers. A peer
 * that failed a request, or whose epoch (its process identity) changed
 * because it restarted, first gets the whole state (REPL_SNAPSHOT), then the
 * writes that follow. A node that receives a snapshot passes it on.
 *
 * Threads: the remoting client's callbacks run on its own loop thread; they
 * touch only the atomics of `struct peer` and of ack_t, and answer through
 * rk_reply_send(), which is thread-safe. */

typedef struct {
    rk_reply_t *reply;
    rk_cmd_t *resp;
    int needed, total;
    _Atomic int acked, done;
    atomic_flag answered;
} ack_t;

typedef struct {
    ack_t *ack;
    struct peer *peer;
} ack_call_t;

/* A copy of src under another request code (replication wraps requests). */
static rk_cmd_t *cmd_clone(const rk_cmd_t *src, int32_t code)
{
    rk_cmd_t *c = rk_cmd_clone(src);
    if (c != NULL)
        c->code = code;
    return c;
}

/* Replication requests we send carry the cluster's secret, if it has one. */
static rk_cmd_t *sign(const rk_namesrv_t *ns, rk_cmd_t *c)
{
    if (c != NULL && ns->secret[0] != '\0' && rk_cmd_ext_set(c, RK_NS_SECRET_FIELD, ns->secret) != RK_OK) {
        rk_cmd_free(c);
        return NULL;
    }
    return c;
}

static void note_peer(struct peer *p, int status, const rk_cmd_t *resp)
{
    int64_t epoch = 0;
    if (status != RK_OK || resp == NULL || resp->code != RK_RESP_SUCCESS) {
        atomic_store(&p->needs_snapshot, true);
        return;
    }
    if (rk_cmd_ext_i64(resp, "replicaEpoch", &epoch) == RK_OK && atomic_exchange(&p->epoch, epoch) != epoch)
        atomic_store(&p->needs_snapshot, true);     /* it restarted: it lost our state */
}

static void ack_release(ack_t *a)
{
    if (atomic_fetch_add(&a->done, 1) + 1 == a->total) {
        rk_cmd_free(a->resp);   /* NULL once sent */
        free(a);
    }
}

/* Counts one follower's answer; the last one frees the bookkeeping. */
static void ack_account(ack_t *a, struct peer *p, int status, rk_cmd_t *resp)
{
    note_peer(p, status, resp);
    bool ok = status == RK_OK && resp != NULL && resp->code == RK_RESP_SUCCESS;
    if (!ok)
        rk_log_warn("namesrv", "replication to %s failed: %s", p->addr,
                    status != RK_OK ? rk_strerror(status) : (resp->remark ? resp->remark : "refused"));
    rk_cmd_free(resp);
    int acked = ok ? atomic_fetch_add(&a->acked, 1) + 1 : atomic_load(&a->acked);
    int done = atomic_load(&a->done) + 1;      /* this answer; counted in ack_release */
    if (acked >= a->needed) {
        if (!atomic_flag_test_and_set(&a->answered)) {
            rk_cmd_t *r = a->resp;
            a->resp = NULL;
            rk_reply_send(a->reply, r);
        }
    } else if (done == a->total && !atomic_flag_test_and_set(&a->answered)) {
        char remark[128];
        snprintf(remark, sizeof remark, "replication failed: %d of %d followers acknowledged, %d needed",
                 acked, a->total, a->needed);
        rk_reply_code(a->reply, RK_RESP_SYSTEM_ERROR, remark);
    }
    ack_release(a);
}

static void on_repl_ack(void *arg, int status, rk_cmd_t *resp)
{
    ack_call_t call = *(ack_call_t *)arg;
    free(arg);
    ack_account(call.ack, call.peer, status, resp);
}

static char *snapshot_json(rk_namesrv_t *ns);

static void on_snapshot_sent(void *arg, int status, rk_cmd_t *resp)
{
    struct peer *p = arg;
    int64_t epoch;
    if (status != RK_OK || resp == NULL || resp->code != RK_RESP_SUCCESS)
        atomic_store(&p->needs_snapshot, true);
    else if (rk_cmd_ext_i64(resp, "replicaEpoch", &epoch) == RK_OK)
        atomic_store(&p->epoch, epoch);     /* this process now holds our state */
    rk_cmd_free(resp);
}

/* Loop thread: sends the whole state to p first if it needs it. */
static void maybe_snapshot(rk_namesrv_t *ns, struct peer *p)
{
    if (!atomic_exchange(&p->needs_snapshot, false))
        return;
    char *s = snapshot_json(ns);
    rk_cmd_t *op = sign(ns, rk_cmd_new(RK_REQ_NS_REPL_SNAPSHOT));
    if (s == NULL || op == NULL) {
        free(s);
        rk_cmd_free(op);
        atomic_store(&p->needs_snapshot, true);
        return;
    }
    rk_cmd_own_body(op, (uint8_t *)s, strlen(s));
    rk_log_info("namesrv", "sending the whole route table to %s", p->addr);
    if (rk_rclient_invoke_async(ns->rcl, p->addr, op, (int)ns->cfg.replication_timeout_ms,
                                on_snapshot_sent, p) != RK_OK)
        atomic_store(&p->needs_snapshot, true);
}

static int needed_acks(const rk_namesrv_t *ns)
{
    if (ns->cfg.cluster_mode == RK_NS_CHAIN)
        return 1;
    switch (ns->cfg.replication_ack) {
    case RK_NS_ACK_ASYNC: return 0;
    case RK_NS_ACK_SEMI_SYNC: return (ns->npeers + 1) / 2;
    default: return ns->npeers;
    }
}

/* Answers a write: at once without downstream peers, else after the acks. */
static void finish_write(rk_namesrv_t *ns, rk_cmd_t *req, rk_reply_t *reply, rk_cmd_t *resp)
{
    if (resp != NULL && ns->applying_replica) {
        char e[24];
        snprintf(e, sizeof e, "%" PRId64, ns->epoch);
        rk_cmd_ext_set(resp, "replicaEpoch", e);
    }
    if (ns->npeers == 0 || resp == NULL || resp->code != RK_RESP_SUCCESS) {
        rk_reply_send(reply, resp);
        return;
    }
    ack_t *a = calloc(1, sizeof *a);
    if (a == NULL) {
        rk_cmd_free(resp);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    a->reply = reply;
    a->resp = resp;
    a->needed = needed_acks(ns);
    a->total = ns->npeers;
    atomic_flag_clear(&a->answered);
    /* Build every copy first: answering frees the request. */
    rk_cmd_t *ops[8] = {NULL};
    for (int i = 0; i < ns->npeers; i++)
        if ((ops[i] = sign(ns, cmd_clone(req, RK_REQ_NS_REPL_APPLY))) != NULL)
            rk_cmd_ext_set_i64(ops[i], "origCode", req->code);
    if (a->needed == 0) {           /* async: answer now, replicate in the background */
        atomic_flag_test_and_set(&a->answered);
        a->resp = NULL;
        rk_reply_send(reply, resp);
    }
    for (int i = 0; i < ns->npeers; i++) {
        struct peer *p = &ns->peers[i];
        maybe_snapshot(ns, p);
        ack_call_t *call = ops[i] ? malloc(sizeof *call) : NULL;
        if (call == NULL) {
            rk_cmd_free(ops[i]);
            ack_account(a, p, RK_ENOMEM, NULL);
            continue;
        }
        *call = (ack_call_t){a, p};
        if (rk_rclient_invoke_async(ns->rcl, p->addr, ops[i], (int)ns->cfg.replication_timeout_ms, on_repl_ack,
                                    call) != RK_OK) {
            free(call);     /* the callback will not run: count the failure here */
            ack_account(a, p, RK_ECLOSED, NULL);
        }
    }
}

static void on_oneway_done(void *arg, int status, rk_cmd_t *resp)
{
    note_peer(arg, status, resp);
    rk_cmd_free(resp);
}

/* Replays a write nobody waits for (an expiry, a disconnect) downstream. */
static void forward_oneway(rk_namesrv_t *ns, rk_cmd_t *op)
{
    for (int i = 0; i < ns->npeers; i++) {
        maybe_snapshot(ns, &ns->peers[i]);
        rk_cmd_t *c = sign(ns, cmd_clone(op, RK_REQ_NS_REPL_APPLY));
        if (c == NULL)
            continue;
        rk_cmd_ext_set_i64(c, "origCode", op->code);
        rk_rclient_invoke_async(ns->rcl, ns->peers[i].addr, c, (int)ns->cfg.replication_timeout_ms,
                                on_oneway_done, &ns->peers[i]);
    }
    rk_cmd_free(op);
}

static void on_ping(void *arg, int status, rk_cmd_t *resp)
{
    note_peer(arg, status, resp);
    rk_cmd_free(resp);
}

static void ping_peers(void *ctx)
{
    rk_namesrv_t *ns = ctx;
    for (int i = 0; i < ns->npeers; i++) {
        maybe_snapshot(ns, &ns->peers[i]);
        rk_cmd_t *ping = sign(ns, rk_cmd_new(RK_REQ_NS_REPL_PING));
        if (ping != NULL)
            rk_rclient_invoke_async(ns->rcl, ns->peers[i].addr, ping, 1000, on_ping, &ns->peers[i]);
    }
}

static void reply_epoch(rk_namesrv_t *ns, rk_cmd_t *req, rk_reply_t *reply)
{
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    if (resp != NULL)
        rk_cmd_ext_set_i64(resp, "replicaEpoch", ns->epoch);
    rk_reply_send(reply, resp);
}

/* Same bytes? Time depends on the lengths only, not on where they differ. */
static bool secret_equal(const char *want, const char *got)
{
    size_t wl = strlen(want), gl = strlen(got);
    volatile unsigned char d = (unsigned char)(wl != gl);
    for (size_t i = 0; i < wl; i++)
        d |= (unsigned char)want[i] ^ (unsigned char)(i < gl ? got[i] : 0);
    return d == 0;
}

static bool from_upstream(const rk_namesrv_t *ns, const char *peer)
{
    char ip[64];
    snprintf(ip, sizeof ip, "%s", peer);
    char *colon = strrchr(ip, ':');
    if (colon == NULL)
        return false;       /* not an IPv4 peer ("conn-N"): unknown, refused */
    *colon = '\0';
    for (int i = 0; i < ns->nupstream; i++)
        if (strcmp(ns->upstream_ips[i], ip) == 0)
            return true;
    return false;
}

/* Every replication request goes through here first. Accepted only in a
 * replicated mode, from an IP of replicationUpstream, with the secret when
 * one is configured; otherwise NO_PERMISSION and a WARN (at most one a
 * second, with a count of the ones not logged). */
static bool repl_allowed(rk_namesrv_t *ns, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    const char *peer = rk_conn_peer(conn), *got = rk_cmd_ext_get(req, RK_NS_SECRET_FIELD);
    const char *why = NULL;
    if (ns->cfg.cluster_mode == RK_NS_INDEPENDENT)
        why = "this name server runs in clusterMode=independent";
    else if (!from_upstream(ns, peer))
        why = "the sender is not in this name server's replicationUpstream";
    else if (ns->secret[0] != '\0' && (got == NULL || !secret_equal(ns->secret, got)))
        why = got == NULL ? "the request carries no replicationSecret" : "wrong replicationSecret";
    if (why == NULL)
        return true;
    uint64_t now = rk_mono_ms();
    if (ns->refused_log_ms == 0 || now - ns->refused_log_ms >= 1000) {
        rk_log_warn("namesrv", "replication request %d from %s refused: %s (%" PRIu64 " more refused since the "
                    "last such line)", req->code, peer, why, ns->refused_quiet);
        ns->refused_log_ms = now;
        ns->refused_quiet = 0;
    } else {
        ns->refused_quiet++;
    }
    char remark[200];
    snprintf(remark, sizeof remark, "replication refused: %s", why);
    rk_reply_code(reply, RK_RESP_NO_PERMISSION, remark);
    return false;
}

static void p_repl_ping(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    if (repl_allowed(ctx, conn, req, reply))
        reply_epoch(ctx, req, reply);
}

static char *snapshot_json(rk_namesrv_t *ns);
static int snapshot_apply(rk_namesrv_t *ns, const uint8_t *p, size_t len, why_t *w);

static void p_repl_snapshot(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    rk_namesrv_t *ns = ctx;
    if (!repl_allowed(ns, conn, req, reply))
        return;
    why_t w = {""};
    if (snapshot_apply(ns, req->body, req->body_len, &w) != RK_OK) {
        char remark[300];
        snprintf(remark, sizeof remark, "bad snapshot, nothing applied: %s", w.msg);
        rk_log_warn("namesrv", "snapshot from %s refused: %s", rk_conn_peer(conn), remark);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, remark);
        return;
    }
    for (int i = 0; i < ns->npeers; i++)        /* pass it on down the chain */
        atomic_store(&ns->peers[i].needs_snapshot, true);
    reply_epoch(ns, req, reply);
}

static void p_repl_apply(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    rk_namesrv_t *ns = ctx;
    if (!repl_allowed(ns, conn, req, reply))
        return;
    int64_t code = 0;
    rk_cmd_ext_i64(req, "origCode", &code);
    rk_processor_fn fn = code == RK_REQ_REGISTER_BROKER ? p_register
                       : code == RK_REQ_UNREGISTER_BROKER ? p_unregister
                       : code == RK_REQ_PUT_KV_CONFIG ? p_put_kv
                       : code == RK_REQ_DELETE_KV_CONFIG ? p_delete_kv
                       : code == RK_REQ_DELETE_TOPIC_IN_NAMESRV ? p_delete_topic
                       : code == RK_REQ_WIPE_WRITE_PERM_OF_BROKER ? p_wipe_perm
                       : code == RK_REQ_ADD_WRITE_PERM_OF_BROKER ? p_add_perm : NULL;
    if (fn == NULL) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "not a replicable write");
        return;
    }
    req->code = (int32_t)code;
    ns->applying_replica = true;
    fn(ns, conn, req, reply);
    ns->applying_replica = false;
}

static void on_tail_answer(void *arg, int status, rk_cmd_t *resp)
{
    rk_reply_t *reply = arg;
    if (status != RK_OK) {
        rk_cmd_free(resp);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "the chain's tail cannot be reached");
        return;
    }
    rk_reply_send(reply, resp);     /* the server gives it our request's opaque */
}

/* Chain mode: a node that is not the tail passes reads down the chain. */
static bool read_goes_down(rk_namesrv_t *ns, rk_cmd_t *req, rk_reply_t *reply)
{
    if (ns->cfg.cluster_mode != RK_NS_CHAIN || ns->npeers == 0)
        return false;
    rk_cmd_t *fwd = cmd_clone(req, req->code);
    if (fwd == NULL || rk_rclient_invoke_async(ns->rcl, ns->peers[0].addr, fwd,
                                               (int)ns->cfg.replication_timeout_ms, on_tail_answer,
                                               reply) != RK_OK)
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "the chain's tail cannot be reached");
    return true;
}

/* ---- the snapshot: everything but connections ---- */

static int snap_broker(const char *name, void *value, void *ctx)
{
    broker_t *b = value;
    cJSON *o = cJSON_AddObjectToObject(ctx, name);
    cJSON_AddStringToObject(o, "cluster", b->cluster);
    cJSON *a = cJSON_AddObjectToObject(o, "addrs");
    for (int i = 0; i < b->n; i++) {
        char id[24];
        snprintf(id, sizeof id, "%" PRId64, b->ids[i]);
        cJSON_AddStringToObject(a, id, b->addrs[i]);
    }
    return 0;
}

static int snap_topic(const char *name, void *value, void *ctx)
{
    topic_t *t = value;
    cJSON *arr = cJSON_AddArrayToObject(ctx, name);
    for (int i = 0; i < t->n; i++) {
        cJSON *q = cJSON_CreateObject();
        cJSON_AddStringToObject(q, "brokerName", t->q[i].broker);
        cJSON_AddNumberToObject(q, "read", (double)t->q[i].read);
        cJSON_AddNumberToObject(q, "write", (double)t->q[i].write);
        cJSON_AddNumberToObject(q, "perm", (double)t->q[i].perm);
        cJSON_AddNumberToObject(q, "sysflag", (double)t->q[i].sysflag);
        cJSON_AddItemToArray(arr, q);
    }
    return 0;
}

static int snap_live(const char *addr, void *value, void *ctx)
{
    live_t *lv = value;
    cJSON *o = cJSON_AddObjectToObject(ctx, addr);
    cJSON_AddStringToObject(o, "name", lv->name);
    cJSON_AddStringToObject(o, "cluster", lv->cluster);
    cJSON_AddStringToObject(o, "ha", lv->ha);
    cJSON_AddNumberToObject(o, "id", (double)lv->id);
    cJSON_AddNumberToObject(o, "dvCounter", (double)lv->dv_counter);
    cJSON_AddNumberToObject(o, "dvTs", (double)lv->dv_ts);
    return 0;
}

static char *snapshot_json(rk_namesrv_t *ns)
{
    cJSON *root = cJSON_CreateObject();
    rk_strmap_foreach(&ns->brokers, snap_broker, cJSON_AddObjectToObject(root, "brokers"));
    rk_strmap_foreach(&ns->topics, snap_topic, cJSON_AddObjectToObject(root, "topics"));
    rk_strmap_foreach(&ns->live, snap_live, cJSON_AddObjectToObject(root, "live"));
    cJSON_AddItemReferenceToObject(root, "kv", ns->kv);
    char *s = rk_json_print(root, 0);
    cJSON_Delete(root);
    return s;
}

/* The whole state from upstream, validated whole into fresh tables before
 * any of it replaces ours: a snapshot is applied entirely or not at all. */
typedef struct {
    rk_strmap_t brokers, topics, live;
    cJSON *kv;
    size_t kv_items;
} tables_t;

static void tables_free(tables_t *t)
{
    rk_strmap_free(&t->brokers, free);
    rk_strmap_free(&t->topics, topic_free);
    rk_strmap_free(&t->live, free);
    cJSON_Delete(t->kv);
    t->kv = NULL;
}

/* A decimal key ("0", "12") in [lo, hi]. */
static bool dec_key(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    return s != NULL && *s >= '0' && *s <= '9' && dec_in(s, lo, hi, out);
}

/* Puts value under key into m unless key is there already (then frees it via destroy). */
static bool put_new(rk_strmap_t *m, const char *key, void *value, void (*destroy)(void *), why_t *w,
                    const char *what)
{
    if (rk_strmap_get(m, key) != NULL) {
        destroy(value);
        return fail(w, "%s \"%.64s\" appears twice", what, key);
    }
    if (rk_strmap_put(m, key, value, NULL) != RK_OK) {
        destroy(value);
        return fail(w, "out of memory");
    }
    return true;
}

static bool snap_read_brokers(const cJSON *o, rk_strmap_t *out, why_t *w)
{
    if (!cJSON_IsObject(o))
        return fail(w, "brokers must be an object");
    size_t count = 0;
    for (const cJSON *b = o->child; b != NULL; b = b->next) {
        if (++count > RK_NS_MAX_LIVE)
            return fail(w, "more than %d brokers", RK_NS_MAX_LIVE);
        if (!name_ok(b->string, 127) || !cJSON_IsObject(b))
            return fail(w, "brokers: each is an object named by 1..127 bytes");
        const char *cluster = str_member(b, "cluster", 127, w);
        const cJSON *addrs = cJSON_GetObjectItemCaseSensitive(b, "addrs");
        if (cluster == NULL)
            return false;
        if (!cJSON_IsObject(addrs))
            return fail(w, "broker %.64s: addrs must be an object", b->string);
        broker_t *br = calloc(1, sizeof *br);
        if (br == NULL)
            return fail(w, "out of memory");
        snprintf(br->cluster, sizeof br->cluster, "%s", cluster);
        for (const cJSON *a = addrs->child; a != NULL; a = a->next) {
            int64_t id;
            bool dup = false;
            if (br->n == MAX_IDS || !dec_key(a->string, 0, INT32_MAX, &id) || !cJSON_IsString(a) ||
                !name_ok(a->valuestring, 63)) {
                free(br);
                return fail(w, "broker %.64s: addrs must map at most %d brokerIds (0..2^31-1) to host:port "
                               "strings", b->string, MAX_IDS);
            }
            for (int i = 0; i < br->n; i++)
                dup = dup || br->ids[i] == id;
            if (dup) {
                free(br);
                return fail(w, "broker %.64s: brokerId %" PRId64 " appears twice", b->string, id);
            }
            br->ids[br->n] = id;
            snprintf(br->addrs[br->n++], sizeof br->addrs[0], "%s", a->valuestring);
        }
        if (!put_new(out, b->string, br, free, w, "broker"))
            return false;
    }
    return true;
}

static bool snap_read_topics(const cJSON *o, rk_strmap_t *out, why_t *w)
{
    if (!cJSON_IsObject(o))
        return fail(w, "topics must be an object");
    size_t count = 0;
    for (const cJSON *t = o->child; t != NULL; t = t->next) {
        if (++count > RK_NS_MAX_TOPICS)
            return fail(w, "more than %d topics", RK_NS_MAX_TOPICS);
        int n = cJSON_GetArraySize(t);
        if (!name_ok(t->string, TOPIC_NAME_MAX) || !cJSON_IsArray(t) || n > RK_NS_MAX_LIVE)
            return fail(w, "topics: each is an array of queue data named by 1..%d bytes", TOPIC_NAME_MAX);
        topic_t *tp = calloc(1, sizeof *tp);
        if (tp == NULL || (n > 0 && (tp->q = calloc((size_t)n, sizeof *tp->q)) == NULL)) {
            free(tp);
            return fail(w, "out of memory");
        }
        tp->cap = n;
        for (const cJSON *q = t->child; q != NULL; q = q->next) {
            why_t qw = {""};
            qdata_t qd = {.read = 0};
            const char *bn = cJSON_IsObject(q) ? str_member(q, "brokerName", 127, &qw) : NULL;
            bool ok = bn != NULL && int_member(q, "read", 0, RK_NS_MAX_QUEUE_NUMS, &qd.read, &qw) &&
                      int_member(q, "write", 0, RK_NS_MAX_QUEUE_NUMS, &qd.write, &qw) &&
                      int_member(q, "perm", 0, PERM_MAX, &qd.perm, &qw) &&
                      int_member(q, "sysflag", 0, SYSFLAG_MAX, &qd.sysflag, &qw) &&
                      queue_nums_ok(qd.read, qd.write, qd.perm, qd.sysflag, &qw);
            for (int i = 0; ok && i < tp->n; i++)
                if (strcmp(tp->q[i].broker, bn) == 0)
                    ok = fail(&qw, "brokerName %.64s appears twice", bn);
            if (!ok) {
                topic_free(tp);
                return fail(w, "topic %.64s: %s", t->string, qw.msg[0] ? qw.msg : "queue data must be objects");
            }
            snprintf(qd.broker, sizeof qd.broker, "%s", bn);
            tp->q[tp->n++] = qd;
        }
        if (!put_new(out, t->string, tp, topic_free, w, "topic"))
            return false;
    }
    return true;
}

static bool snap_read_live(const cJSON *o, rk_strmap_t *out, why_t *w)
{
    if (!cJSON_IsObject(o))
        return fail(w, "live must be an object");
    size_t count = 0;
    for (const cJSON *l = o->child; l != NULL; l = l->next) {
        if (++count > RK_NS_MAX_LIVE)
            return fail(w, "more than %d live brokers", RK_NS_MAX_LIVE);
        if (!name_ok(l->string, 63) || !cJSON_IsObject(l))
            return fail(w, "live: each is an object named by a host:port of 1..63 bytes");
        why_t lw = {""};
        live_t lv = {.id = 0};
        const char *name = str_member(l, "name", 127, &lw);
        const char *cluster = name ? str_member(l, "cluster", 127, &lw) : NULL;
        const char *ha = rk_json_get_str(l, "ha");
        bool ok = cluster != NULL && int_member(l, "id", 0, INT32_MAX, &lv.id, &lw) &&
                  int_member(l, "dvCounter", 0, JSON_INT_MAX, &lv.dv_counter, &lw) &&
                  int_member(l, "dvTs", 0, JSON_INT_MAX, &lv.dv_ts, &lw);
        if (ok && (ha == NULL || (*ha != '\0' && !name_ok(ha, 63))))
            ok = fail(&lw, "ha must be a host:port string of at most 63 bytes");
        if (!ok)
            return fail(w, "live %.64s: %s", l->string, lw.msg);
        live_t *p = malloc(sizeof *p);
        if (p == NULL)
            return fail(w, "out of memory");
        snprintf(lv.name, sizeof lv.name, "%s", name);
        snprintf(lv.cluster, sizeof lv.cluster, "%s", cluster);
        snprintf(lv.ha, sizeof lv.ha, "%s", ha);
        lv.last_ms = rk_mono_ms();
        lv.conn_id = 0;
        *p = lv;
        if (!put_new(out, l->string, p, free, w, "live broker"))
            return false;
    }
    return true;
}

static int publish_topic(const char *topic, void *value, void *ctx)
{
    (void)value;
    publish(ctx, RK_EV_TOPIC_CHANGED, NULL, NULL, NULL, 0, topic);
    return 0;
}

static int snapshot_apply(rk_namesrv_t *ns, const uint8_t *p, size_t len, why_t *w)
{
    cJSON *root = p ? rk_json_parse((const char *)p, len) : NULL;
    tables_t t = {.kv = NULL};
    rk_strmap_init(&t.brokers);
    rk_strmap_init(&t.topics);
    rk_strmap_init(&t.live);
    bool ok = cJSON_IsObject(root) ? true : fail(w, "the snapshot is not a JSON object");
    ok = ok && snap_read_brokers(cJSON_GetObjectItemCaseSensitive(root, "brokers"), &t.brokers, w);
    ok = ok && snap_read_topics(cJSON_GetObjectItemCaseSensitive(root, "topics"), &t.topics, w);
    ok = ok && snap_read_live(cJSON_GetObjectItemCaseSensitive(root, "live"), &t.live, w);
    ok = ok && kv_table_ok(cJSON_GetObjectItemCaseSensitive(root, "kv"), &t.kv_items, w);
    if (!ok) {
        cJSON_Delete(root);
        tables_free(&t);
        return RK_EPROTO;
    }
    t.kv = cJSON_DetachItemFromObjectCaseSensitive(root, "kv");
    cJSON_Delete(root);
    /* all checked: swap */
    rk_strmap_free(&ns->brokers, free);
    rk_strmap_free(&ns->topics, topic_free);
    rk_strmap_free(&ns->live, free);
    ns->brokers = t.brokers;
    ns->topics = t.topics;
    ns->live = t.live;
    cJSON_Delete(ns->kv);
    ns->kv = t.kv;
    ns->kv_items = t.kv_items;
    kv_persist(ns);
    rk_strmap_foreach(&ns->topics, publish_topic, ns);
    rk_log_info("namesrv", "applied a snapshot from upstream: %zu brokers, %zu topics", ns->brokers.len,
                ns->topics.len);
    return RK_OK;
}

/* ------------------------------------------------------------ liveness */

typedef struct {
    rk_namesrv_t *ns;
    uint64_t now, conn_id;
    const char *victims[256];
    int n;
} scan_t;

static int find_expired(const char *addr, void *value, void *ctx)
{
    scan_t *s = ctx;
    live_t *lv = value;
    bool hit = s->conn_id ? lv->conn_id == s->conn_id
                          : s->now - lv->last_ms > (uint64_t)s->ns->cfg.broker_expired_ms;
    if (hit && s->n < 256)
        s->victims[s->n++] = addr;
    return 0;
}

static void remove_victims(scan_t *s, rk_event_type_t why)
{
    char addrs[256][64];
    for (int i = 0; i < s->n; i++)
        snprintf(addrs[i], sizeof addrs[i], "%s", s->victims[i]);
    for (int i = 0; i < s->n; i++)
        remove_broker_addr(s->ns, addrs[i], why);
}

static void scan_expired(void *ctx)
{
    scan_t s = {.ns = ctx, .now = rk_mono_ms()};
    rk_strmap_foreach(&s.ns->live, find_expired, &s);
    remove_victims(&s, RK_EV_BROKER_EXPIRED);
}

static void on_conn_close(void *ctx, rk_conn_t *conn)
{
    if (rk_conn_data(conn) == NULL)
        return;     /* not a broker's connection */
    scan_t s = {.ns = ctx, .conn_id = rk_conn_id(conn)};
    rk_strmap_foreach(&s.ns->live, find_expired, &s);
    remove_victims(&s, RK_EV_BROKER_DISCONNECTED);
}

/* ------------------------------------------------------------ lifecycle */

/* replicationUpstream "host[:port],..." -> the IPv4 addresses replication may come from. */
static int resolve_upstream(rk_namesrv_t *ns, const char *list_in, char *err, size_t errlen)
{
    char list[1024];
    if (snprintf(list, sizeof list, "%s", list_in) >= (int)sizeof list) {
        snprintf(err, errlen, "replicationUpstream: longer than %zu bytes", sizeof list - 1);
        return RK_EBADCONFIG;
    }
    char *save = NULL;
    for (char *t = strtok_r(list, ",; ", &save); t != NULL; t = strtok_r(NULL, ",; ", &save)) {
        char host[256];
        snprintf(host, sizeof host, "%s", t);
        char *colon = strrchr(host, ':');
        if (colon != NULL && strspn(colon + 1, "0123456789") == strlen(colon + 1))
            *colon = '\0';
        struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
        int grc = getaddrinfo(host, NULL, &hints, &res);
        if (grc != 0) {
            snprintf(err, errlen, "replicationUpstream: cannot resolve \"%s\": %s", host, gai_strerror(grc));
            return RK_EBADCONFIG;
        }
        for (struct addrinfo *a = res; a != NULL && ns->nupstream < 16; a = a->ai_next) {
            char ip[INET_ADDRSTRLEN];
            if (inet_ntop(AF_INET, &((struct sockaddr_in *)a->ai_addr)->sin_addr, ip, sizeof ip) == NULL)
                continue;
            bool dup = false;
            for (int i = 0; i < ns->nupstream; i++)
                dup = dup || strcmp(ns->upstream_ips[i], ip) == 0;
            if (!dup)
                snprintf(ns->upstream_ips[ns->nupstream++], sizeof ns->upstream_ips[0], "%s", ip);
        }
        freeaddrinfo(res);
    }
    return RK_OK;
}

int rk_namesrv_start(const rk_namesrv_config_t *cfg, rk_eventbus_t *bus, rk_namesrv_t **out,
                     char *err, size_t errlen)
{
    rk_namesrv_t *ns = calloc(1, sizeof *ns);
    if (ns == NULL)
        return RK_ENOMEM;
    ns->cfg = *cfg;
    ns->cfg.rocketmq_home = ns->cfg.kv_config_path = ns->cfg.listen_host = NULL;  /* not owned */
    ns->cfg.replication_peers = ns->cfg.replication_upstream = ns->cfg.replication_secret = NULL;
    ns->epoch = rk_now_ms() * 1000 + getpid() % 1000;
    if (cfg->replication_secret != NULL &&
        snprintf(ns->secret, sizeof ns->secret, "%s", cfg->replication_secret) >= (int)sizeof ns->secret) {
        snprintf(err, errlen, "replicationSecret: longer than %zu bytes", sizeof ns->secret - 1);
        free(ns);
        return RK_EBADCONFIG;
    }
    if (cfg->cluster_mode != RK_NS_INDEPENDENT && cfg->replication_upstream != NULL) {
        int urc = resolve_upstream(ns, cfg->replication_upstream, err, errlen);
        if (urc != RK_OK) {
            free(ns);
            return urc;
        }
    }
    if (cfg->cluster_mode != RK_NS_INDEPENDENT && cfg->replication_peers != NULL) {
        char list[1024];
        snprintf(list, sizeof list, "%s", cfg->replication_peers);
        char *save = NULL;
        for (char *t = strtok_r(list, ", ", &save); t && ns->npeers < 8; t = strtok_r(NULL, ", ", &save)) {
            snprintf(ns->peers[ns->npeers].addr, sizeof ns->peers[0].addr, "%s", t);
            atomic_init(&ns->peers[ns->npeers].needs_snapshot, true);
            atomic_init(&ns->peers[ns->npeers].epoch, 0);
            ns->npeers++;
        }
        if (cfg->cluster_mode == RK_NS_CHAIN && ns->npeers > 1) {
            snprintf(err, errlen, "replicationPeers: a chain node has one next node, not %d", ns->npeers);
            free(ns);
            return RK_EBADCONFIG;
        }
    }
    if (bus != NULL)
        ns->bus = *bus;
    rk_eventbus_subscribe(&ns->bus, log_handler, NULL);
    if (cfg->kv_config_path && *cfg->kv_config_path)
        snprintf(ns->kv_path, sizeof ns->kv_path, "%s", cfg->kv_config_path);
    else
        snprintf(ns->kv_path, sizeof ns->kv_path, "%s/namesrv/kvConfig.json",
                 getenv("HOME") ? getenv("HOME") : ".");
    rk_strmap_init(&ns->brokers);
    rk_strmap_init(&ns->topics);
    rk_strmap_init(&ns->live);
    if (uv_mutex_init(&ns->kv_mu) != 0) {
        free(ns);
        return RK_ENOMEM;
    }
    ns->kv = cJSON_CreateObject();
    /* an unusable file is not rolled back to its .bak unless the operator
     * opts in (rk/fileutil.h): that would undo KV changes silently */
    rk_file_load_opts_t lo = {cfg->metadata_fallback_to_bak, "metadataFallbackToBak=true"};
    char why[1024] = "";
    int rc = rk_file_load(ns->kv_path, kv_parse, ns, &lo, NULL, why, sizeof why);
    if (rc != RK_OK && rc != -ENOENT) {
        if (why[0] != '\0')
            snprintf(err, errlen, "%s", why);
        else
            snprintf(err, errlen, "%s: %s", ns->kv_path, rk_strerror(rc));
        goto fail;
    }
    rk_rserver_config_t sc = {.host = cfg->listen_host ? cfg->listen_host : "0.0.0.0",
                              .port = (int)cfg->listen_port, .idle_ms = cfg->idle_seconds * 1000,
                              .name = "namesrv"};
    rk_rserver_config_set_limits(&sc, &cfg->limits);
    if ((rc = rk_rserver_new(&sc, &ns->srv)) != RK_OK)
        goto fail;
    static const struct { int32_t code; rk_processor_fn fn; } table[] = {
        {RK_REQ_REGISTER_BROKER, p_register},
        {RK_REQ_UNREGISTER_BROKER, p_unregister},
        {RK_REQ_GET_ROUTEINFO_BY_TOPIC, p_route},
        {RK_REQ_GET_BROKER_CLUSTER_INFO, p_cluster_info},
        {RK_REQ_QUERY_DATA_VERSION, p_data_version},
        {RK_REQ_PUT_KV_CONFIG, p_put_kv},
        {RK_REQ_GET_KV_CONFIG, p_get_kv},
        {RK_REQ_DELETE_KV_CONFIG, p_delete_kv},
        {RK_REQ_GET_ALL_TOPIC_LIST_FROM_NAMESERVER, p_topic_list},
        {RK_REQ_DELETE_TOPIC_IN_NAMESRV, p_delete_topic},
        {RK_REQ_WIPE_WRITE_PERM_OF_BROKER, p_wipe_perm},
        {RK_REQ_ADD_WRITE_PERM_OF_BROKER, p_add_perm},
        {RK_REQ_GET_TOPICS_BY_CLUSTER, p_topics_by_cluster},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        rk_rserver_register(ns->srv, table[i].code, table[i].fn, ns, RK_PROC_INLINE);
    rk_rserver_register(ns->srv, RK_REQ_NS_REPL_APPLY, p_repl_apply, ns, RK_PROC_INLINE);
    rk_rserver_register(ns->srv, RK_REQ_NS_REPL_SNAPSHOT, p_repl_snapshot, ns, RK_PROC_INLINE);
    rk_rserver_register(ns->srv, RK_REQ_NS_REPL_PING, p_repl_ping, ns, RK_PROC_INLINE);
    rk_rserver_on_close(ns->srv, on_conn_close, ns);
    rk_rserver_every(ns->srv, (uint64_t)cfg->scan_interval_ms, scan_expired, ns);
    if (ns->npeers > 0) {
        if ((rc = rk_rclient_new(&ns->rcl)) != RK_OK)
            goto fail;
        rk_rserver_every(ns->srv, 500, ping_peers, ns);
    }
    if ((rc = rk_rserver_start(ns->srv, err, errlen)) != RK_OK)
        goto fail;
    rk_log_info("namesrv", "name server up on port %d (KV config %s, brokers expire after %lld ms)",
                rk_rserver_port(ns->srv), ns->kv_path, (long long)cfg->broker_expired_ms);
    if (cfg->cluster_mode != RK_NS_INDEPENDENT) {
        if (ns->nupstream == 0)
            rk_log_info("namesrv", "clusterMode=%s without replicationUpstream: this node accepts replication "
                        "from nobody (right for the master or the chain's head)", cluster_modes[cfg->cluster_mode]);
        else
            rk_log_info("namesrv", "accepting replication from %s (%d address%s)%s", cfg->replication_upstream,
                        ns->nupstream, ns->nupstream == 1 ? "" : "es",
                        ns->secret[0] ? " with the replicationSecret" : "");
        if (ns->secret[0] == '\0')
            rk_log_warn("namesrv", "clusterMode=%s without replicationSecret: any process on an upstream's IP "
                        "may replicate to this node", cluster_modes[cfg->cluster_mode]);
        else if (strlen(ns->secret) < 16)
            rk_log_warn("namesrv", "replicationSecret is shorter than 16 bytes: easy to guess");
    }
    *out = ns;
    return RK_OK;
fail:
    rk_rserver_free(ns->srv);
    rk_rclient_free(ns->rcl);
    rk_strmap_free(&ns->brokers, free);
    rk_strmap_free(&ns->topics, topic_free);
    rk_strmap_free(&ns->live, free);
    cJSON_Delete(ns->kv);
    uv_mutex_destroy(&ns->kv_mu);
    free(ns);
    return rc;
}

int rk_namesrv_port(const rk_namesrv_t *ns) { return rk_rserver_port(ns->srv); }

void rk_namesrv_stop(rk_namesrv_t *ns)
{
    if (ns == NULL)
        return;
    rk_rserver_free(ns->srv);   /* waits for writes still waiting on followers */
    rk_rclient_free(ns->rcl);   /* the loop is gone: the tables are ours again */
    kv_persist(ns);
    rk_strmap_free(&ns->brokers, free);
    rk_strmap_free(&ns->topics, topic_free);
    rk_strmap_free(&ns->live, free);
    cJSON_Delete(ns->kv);
    uv_mutex_destroy(&ns->kv_mu);
    rk_log_info("namesrv", "stopped");
    free(ns);
}
