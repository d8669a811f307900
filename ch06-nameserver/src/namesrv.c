/* namesrv.c — route tables, broker liveness and KV config behind the remoting processors (see rk/namesrv.h). */
#include "rk/namesrv.h"

#include <inttypes.h>
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
    {"serverMaxConnections", RK_CFG_INT, F(max_connections), "0", 0, 1000000, NULL,
     "open connections at most; more are refused with a log line (0: the fd limit minus a reserve)"},
    {"serverConnectionMaxPendingBytes", RK_CFG_INT, F(max_pending_bytes), "4m", 65536, 1073741824, NULL,
     "stop reading a connection whose unsent replies pass this (back-pressure)"},
    {"serverMaxBufferedInput", RK_CFG_INT, F(max_input_bytes), "256m", 1048576, 68719476736, NULL,
     "partial frames of all connections together; over it they wait"},
    {"serverFrameTimeoutMillis", RK_CFG_INT, F(frame_timeout_ms), "30000", -1, 86400000, NULL,
     "close a connection whose frame is not complete this long after it began (-1 never)"},
    {"clusterMode", RK_CFG_ENUM, F(cluster_mode), "independent", 0, -1, cluster_modes,
     "independent | master_slave | chain (rocklet)"},
    {"replicationAck", RK_CFG_ENUM, F(replication_ack), "sync", 0, -1, ack_modes,
     "master_slave: answer a write after all (sync), a majority (semi_sync) or no followers (async)"},
    {"replicationPeers", RK_CFG_STR, F(replication_peers), NULL, 0, -1, NULL,
     "master_slave: the followers (host:port,...), empty on a follower; chain: the next node, empty on the tail"},
    {"replicationTimeout", RK_CFG_INT, F(replication_timeout_ms), "3000", 10, 600000, NULL,
     "how long a write waits for followers (ms)"},
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
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 4;
        qdata_t *q = realloc(t->q, (size_t)cap * sizeof *q);
        if (q == NULL)
            return RK_ENOMEM;
        t->q = q;
        t->cap = cap;
    }
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
        for (int i = 0; i < b->n; i++)
            if (strcmp(b->addrs[i], addr) == 0) {
                b->n--;
                b->ids[i] = b->ids[b->n];
                memmove(b->addrs[i], b->addrs[b->n], sizeof b->addrs[i]);
                break;
            }
        bool master_gone = lv->id == 0;
        if (b->n == 0) {
            free(rk_strmap_remove(&ns->brokers, lv->name));
            purge_broker_queues(ns, lv->name);
        } else if (master_gone) {
            purge_broker_queues(ns, lv->name);      /* only a master's topics are routable */
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

/* ------------------------------------------------------------ REGISTER_BROKER body */

typedef struct {
    int64_t dv_counter, dv_ts;
    cJSON *topics;              /* {"topic":{"readQueueNums":..,"writeQueueNums":..,"perm":..,"topicSysFlag":..}} */
} reg_body_t;

static int parse_reg_json(const uint8_t *p, size_t len, reg_body_t *out)
{
    cJSON *root = rk_json_parse((const char *)p, len);
    if (root == NULL)
        return RK_EPROTO;
    cJSON *w = cJSON_GetObjectItemCaseSensitive(root, "topicConfigSerializeWrapper");
    if (w == NULL)
        w = root;   /* pre-3.0.11 brokers send the wrapper bare */
    cJSON *dv = cJSON_GetObjectItemCaseSensitive(w, "dataVersion");
    rk_json_get_i64(dv, "counter", &out->dv_counter);
    rk_json_get_i64(dv, "timestamp", &out->dv_ts);
    cJSON *tt = cJSON_DetachItemFromObjectCaseSensitive(w, "topicConfigTable");
    cJSON_Delete(root);
    out->topics = tt ? tt : cJSON_CreateObject();
    return out->topics ? RK_OK : RK_ENOMEM;
}

/* The compressed form: zlib of [len][dataVersion JSON][count] count x ([len]["name r w perm filter"]) [len][filters]. */
static int parse_reg_compressed(const uint8_t *p, size_t len, reg_body_t *out)
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
        return RK_EPROTO;
    }
    rk_reader_t r = rk_reader(raw, rawlen);
    uint32_t l = rk_reader_u32(&r);
    const uint8_t *dvp = rk_reader_take(&r, l);
    cJSON *dv = dvp ? rk_json_parse((const char *)dvp, l) : NULL;
    rk_json_get_i64(dv, "counter", &out->dv_counter);
    rk_json_get_i64(dv, "timestamp", &out->dv_ts);
    cJSON_Delete(dv);
    uint32_t count = rk_reader_u32(&r);
    out->topics = cJSON_CreateObject();
    for (uint32_t i = 0; i < count && !r.err && out->topics; i++) {
        uint32_t tl = rk_reader_u32(&r);
        const uint8_t *tp = rk_reader_take(&r, tl);
        if (tp == NULL)
            break;
        char line[512], name[256], filter[32];
        long long rq, wq, perm;
        snprintf(line, sizeof line, "%.*s", (int)tl, (const char *)tp);
        if (sscanf(line, "%255s %lld %lld %lld %31s", name, &rq, &wq, &perm, filter) < 4)
            continue;
        cJSON *t = cJSON_AddObjectToObject(out->topics, name);
        cJSON_AddNumberToObject(t, "readQueueNums", (double)rq);
        cJSON_AddNumberToObject(t, "writeQueueNums", (double)wq);
        cJSON_AddNumberToObject(t, "perm", (double)perm);
    }
    free(raw);
    if (r.err) {
        cJSON_Delete(out->topics);
        out->topics = NULL;
        return RK_EPROTO;
    }
    return out->topics ? RK_OK : RK_ENOMEM;
}

/* ------------------------------------------------------------ processors */

#define EXT(name) const char *name = rk_cmd_ext_get(req, #name)

static void p_register(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    rk_namesrv_t *ns = ctx;
    EXT(brokerName); EXT(brokerAddr); EXT(clusterName); EXT(haServerAddr);
    int64_t id = 0, crc = 0;
    bool compressed = false;
    if (!brokerName || !brokerAddr || !clusterName || rk_cmd_ext_i64(req, "brokerId", &id) != RK_OK ||
        id < 0 || strlen(brokerAddr) >= 64 || strlen(brokerName) >= 128 || strlen(clusterName) >= 128) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "brokerName, brokerAddr, clusterName and brokerId are required");
        return;
    }
    rk_cmd_ext_bool(req, "compressed", &compressed);
    rk_cmd_ext_i64(req, "bodyCrc32", &crc);
    if (crc != 0 && req->body_len > 0 && (int64_t)rk_body_crc(req->body, req->body_len) != crc) {
        rk_log_warn("namesrv", "register from %s: body crc32 mismatch", brokerAddr);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "crc32 not match");
        return;
    }
    reg_body_t body = {0, 0, NULL};
    int rc = RK_OK;
    if (req->body_len > 0)
        rc = compressed ? parse_reg_compressed(req->body, req->body_len, &body)
                        : parse_reg_json(req->body, req->body_len, &body);
    if (rc != RK_OK) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "cannot parse the register body");
        return;
    }
    /* brokers */
    broker_t *b = rk_strmap_get(&ns->brokers, brokerName);
    if (b == NULL) {
        b = calloc(1, sizeof *b);
        if (b == NULL || rk_strmap_put(&ns->brokers, brokerName, b, NULL) != RK_OK) {
            free(b);
            cJSON_Delete(body.topics);
            rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "out of memory");
            return;
        }
    }
    snprintf(b->cluster, sizeof b->cluster, "%s", clusterName);
    int slot = -1;
    for (int i = 0; i < b->n; i++) {
        if (strcmp(b->addrs[i], brokerAddr) == 0 && b->ids[i] != id) {
            /* the same address under another id (a slave became master): drop the old */
            b->n--;
            b->ids[i] = b->ids[b->n];
            memmove(b->addrs[i], b->addrs[b->n], sizeof b->addrs[i]);
            i--;
            continue;
        }
        if (b->ids[i] == id)
            slot = i;
    }
    if (slot < 0 && b->n < MAX_IDS)
        slot = b->n++;
    if (slot >= 0) {
        b->ids[slot] = id;
        snprintf(b->addrs[slot], sizeof b->addrs[slot], "%s", brokerAddr);
    }
    /* liveness */
    live_t *lv = rk_strmap_get(&ns->live, brokerAddr);
    bool first = lv == NULL;
    if (first) {
        lv = calloc(1, sizeof *lv);
        if (lv == NULL || rk_strmap_put(&ns->live, brokerAddr, lv, NULL) != RK_OK) {
            free(lv);
            cJSON_Delete(body.topics);
            rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "out of memory");
            return;
        }
    }
    bool changed = first || lv->dv_counter != body.dv_counter || lv->dv_ts != body.dv_ts;
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
    if (id == 0 && changed && body.topics != NULL)
        for (cJSON *t = body.topics->child; t != NULL; t = t->next) {
            qdata_t qd = {.read = 0};
            snprintf(qd.broker, sizeof qd.broker, "%s", brokerName);
            rk_json_get_i64(t, "readQueueNums", &qd.read);
            rk_json_get_i64(t, "writeQueueNums", &qd.write);
            rk_json_get_i64(t, "perm", &qd.perm);
            rk_json_get_i64(t, "topicSysFlag", &qd.sysflag);
            if (t->string != NULL && strlen(t->string) <= 255)
                topic_set_queue(ns, t->string, &qd);
        }
    cJSON_Delete(body.topics);
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
    cJSON *dv = req->body_len ? rk_json_parse((const char *)req->body, req->body_len) : NULL;
    rk_json_get_i64(dv, "counter", &counter);
    rk_json_get_i64(dv, "timestamp", &ts);
    cJSON_Delete(dv);
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

static int kv_parse(const char *text, size_t len, void *ctx)
{
    rk_namesrv_t *ns = ctx;
    cJSON *root = rk_json_parse(text, len);
    cJSON *table = cJSON_DetachItemFromObjectCaseSensitive(root, "configTable");
    cJSON_Delete(root);
    if (!cJSON_IsObject(table)) {
        cJSON_Delete(table);
        return RK_ECORRUPT;
    }
    cJSON_Delete(ns->kv);
    ns->kv = table;
    return RK_OK;
}

static void p_put_kv(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_namesrv_t *ns = ctx;
    EXT(namespace); EXT(key); EXT(value);
    if (!namespace || !key || !value) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "namespace, key and value are required");
        return;
    }
    cJSON *n = cJSON_GetObjectItemCaseSensitive(ns->kv, namespace);
    if (n == NULL)
        n = cJSON_AddObjectToObject(ns->kv, namespace);
    cJSON_DeleteItemFromObjectCaseSensitive(n, key);
    cJSON_AddStringToObject(n, key, value);
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
    if (n != NULL && key != NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(n, key);
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
    if (brokerName == NULL) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "brokerName is required");
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
    rk_cmd_t *op = rk_cmd_new(RK_REQ_NS_REPL_SNAPSHOT);
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
        if ((ops[i] = cmd_clone(req, RK_REQ_NS_REPL_APPLY)) != NULL)
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
        rk_cmd_t *c = cmd_clone(op, RK_REQ_NS_REPL_APPLY);
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
        rk_cmd_t *ping = rk_cmd_new(RK_REQ_NS_REPL_PING);
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

static void p_repl_ping(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    reply_epoch(ctx, req, reply);
}

static char *snapshot_json(rk_namesrv_t *ns);
static int snapshot_apply(rk_namesrv_t *ns, const uint8_t *p, size_t len);

static void p_repl_snapshot(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_namesrv_t *ns = ctx;
    if (snapshot_apply(ns, req->body, req->body_len) != RK_OK) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "bad snapshot");
        return;
    }
    for (int i = 0; i < ns->npeers; i++)        /* pass it on down the chain */
        atomic_store(&ns->peers[i].needs_snapshot, true);
    reply_epoch(ns, req, reply);
}

static void p_repl_apply(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    rk_namesrv_t *ns = ctx;
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

static int snapshot_apply(rk_namesrv_t *ns, const uint8_t *p, size_t len)
{
    cJSON *root = p ? rk_json_parse((const char *)p, len) : NULL;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return RK_EPROTO;
    }
    rk_strmap_free(&ns->brokers, free);
    rk_strmap_free(&ns->topics, topic_free);
    rk_strmap_free(&ns->live, free);
    rk_strmap_init(&ns->brokers);
    rk_strmap_init(&ns->topics);
    rk_strmap_init(&ns->live);
    for (cJSON *b = cJSON_GetObjectItem(root, "brokers") ? cJSON_GetObjectItem(root, "brokers")->child : NULL;
         b; b = b->next) {
        broker_t *br = calloc(1, sizeof *br);
        if (br == NULL)
            break;
        snprintf(br->cluster, sizeof br->cluster, "%s", rk_json_get_str(b, "cluster") ? rk_json_get_str(b, "cluster") : "");
        for (cJSON *a = cJSON_GetObjectItem(b, "addrs") ? cJSON_GetObjectItem(b, "addrs")->child : NULL;
             a && br->n < MAX_IDS; a = a->next)
            if (cJSON_IsString(a)) {
                br->ids[br->n] = strtoll(a->string, NULL, 10);
                snprintf(br->addrs[br->n++], sizeof br->addrs[0], "%s", a->valuestring);
            }
        if (rk_strmap_put(&ns->brokers, b->string, br, NULL) != RK_OK)
            free(br);
    }
    for (cJSON *t = cJSON_GetObjectItem(root, "topics") ? cJSON_GetObjectItem(root, "topics")->child : NULL;
         t; t = t->next)
        for (cJSON *q = t->child; q; q = q->next) {
            qdata_t qd = {.read = 0};
            snprintf(qd.broker, sizeof qd.broker, "%s", rk_json_get_str(q, "brokerName") ? rk_json_get_str(q, "brokerName") : "");
            rk_json_get_i64(q, "read", &qd.read);
            rk_json_get_i64(q, "write", &qd.write);
            rk_json_get_i64(q, "perm", &qd.perm);
            rk_json_get_i64(q, "sysflag", &qd.sysflag);
            topic_set_queue(ns, t->string, &qd);
        }
    for (cJSON *l = cJSON_GetObjectItem(root, "live") ? cJSON_GetObjectItem(root, "live")->child : NULL; l;
         l = l->next) {
        live_t *lv = calloc(1, sizeof *lv);
        if (lv == NULL)
            break;
        const char *s;
        if ((s = rk_json_get_str(l, "name"))) snprintf(lv->name, sizeof lv->name, "%s", s);
        if ((s = rk_json_get_str(l, "cluster"))) snprintf(lv->cluster, sizeof lv->cluster, "%s", s);
        if ((s = rk_json_get_str(l, "ha"))) snprintf(lv->ha, sizeof lv->ha, "%s", s);
        rk_json_get_i64(l, "id", &lv->id);
        rk_json_get_i64(l, "dvCounter", &lv->dv_counter);
        rk_json_get_i64(l, "dvTs", &lv->dv_ts);
        lv->last_ms = rk_mono_ms();
        if (rk_strmap_put(&ns->live, l->string, lv, NULL) != RK_OK)
            free(lv);
    }
    cJSON *kv = cJSON_DetachItemFromObject(root, "kv");
    if (cJSON_IsObject(kv)) {
        cJSON_Delete(ns->kv);
        ns->kv = kv;
        kv_persist(ns);
    } else {
        cJSON_Delete(kv);
    }
    cJSON_Delete(root);
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

int rk_namesrv_start(const rk_namesrv_config_t *cfg, rk_eventbus_t *bus, rk_namesrv_t **out,
                     char *err, size_t errlen)
{
    rk_namesrv_t *ns = calloc(1, sizeof *ns);
    if (ns == NULL)
        return RK_ENOMEM;
    ns->cfg = *cfg;
    ns->cfg.rocketmq_home = ns->cfg.kv_config_path = ns->cfg.listen_host = NULL;  /* not owned */
    ns->cfg.replication_peers = NULL;
    ns->epoch = rk_now_ms() * 1000 + getpid() % 1000;
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
    int rc = rk_file_load_with_bak(ns->kv_path, kv_parse, ns, NULL);
    if (rc != RK_OK && rc != -ENOENT) {
        snprintf(err, errlen, "%s: %s", ns->kv_path, rk_strerror(rc));
        goto fail;
    }
    rk_rserver_config_t sc = {.host = cfg->listen_host ? cfg->listen_host : "0.0.0.0",
                              .port = (int)cfg->listen_port, .idle_ms = cfg->idle_seconds * 1000,
                              .name = "namesrv", .max_conns = (int)cfg->max_connections,
                              .max_out_bytes = (size_t)cfg->max_pending_bytes,
                              .max_in_bytes = (size_t)cfg->max_input_bytes,
                              .frame_timeout_ms = cfg->frame_timeout_ms};
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
