/* console_api.c — the JSON API's routes (see rk/console.h and NOTES-server.md for the table).
 *
 * Each route runs on a worker thread and talks to the cluster with chapter 7's SDK: name
 * server requests for what the name servers know (cluster, topics, routes), broker requests
 * for the rest. A broker that refuses a request is answered 502 with its remark; one that does
 * not answer, 504. Every list is bounded by maxResults. Addresses a client names are used only
 * when the name servers list them as brokers (the console never connects anywhere else). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "console_int.h"
#include "rk/clock.h"
#include "rk/cluster_view.h"
#include "rk/consumer.h"
#include "rk/dlq.h"
#include "rk/error.h"
#include "rk/json.h"
#include "rk/names.h"
#include "rk/producer.h"
#include "rk/request_code.h"
#include "rk/retry.h"
#include "rk/schedule.h"

/* Requests the admin helper's chapter 7 processors answer (RocketMQ 4.9's codes). */
#define REQ_GET_CONSUMER_CONNECTION_LIST 203
#define REQ_GET_PRODUCER_CONNECTION_LIST 204
#define REQ_DELETE_TOPIC_IN_BROKER 215
#define REQ_INVOKE_BROKER_TO_RESET_OFFSET 222
#define REQ_QUERY_TOPIC_CONSUME_BY_WHO 300
#define REQ_GET_CONSUMER_RUNNING_INFO 307
#define REQ_GET_BROKER_CONSUME_STATS 317
#define REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG 201
#define REQ_GET_ALL_DELAY_OFFSET 45
#define REQ_QUERY_TXN_PENDING 10501     /* rocklet: half messages pending per producer group */

#define BODY_SHOWN 4096                 /* message body bytes an answer carries */

/* ------------------------------------------------------------------ helpers */

void rk__api_fail(rk_api_out_t *o, int status, const char *fmt, ...)
{
    o->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->error, sizeof o->error, fmt, ap);
    va_end(ap);
}

const char *rk__api_param(const rk_api_req_t *r, const char *key)
{
    for (size_t i = 0; i < r->nparam; i++)
        if (strcmp(r->param[i].key, key) == 0)
            return r->param[i].value;
    return NULL;
}

/* Length of the valid UTF-8 sequence at s (1..4), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
    unsigned c = s[0];
    size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || n > left)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((n == 2 && c < 0xc2) || (n == 3 && c == 0xe0 && s[1] < 0xa0) || (n == 3 && c == 0xed && s[1] >= 0xa0) ||
        (n == 4 && c == 0xf0 && s[1] < 0x90) || (n == 4 && (c > 0xf4 || (c == 0xf4 && s[1] >= 0x90))))
        return 0;
    return n;
}

cJSON *rk__json_add_bytes(cJSON *obj, const char *key, const char *s, size_t len)
{
    char *out = malloc(len * 3 + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_len((const unsigned char *)s + i, len - i);
        if (n == 0) {
            memcpy(o, "\xef\xbf\xbd", 3);       /* U+FFFD */
            o += 3;
            i++;
        } else if (n == 1 && s[i] == 0) {
            memcpy(o, "\xef\xbf\xbd", 3);       /* a NUL would cut the string */
            o += 3;
            i++;
        } else {
            memcpy(o, s + i, n);
            o += n;
            i += n;
        }
    }
    *o = 0;
    cJSON *item = cJSON_AddStringToObject(obj, key, out);
    free(out);
    return item;
}

static cJSON *add_str(cJSON *obj, const char *key, const char *s)
{
    return rk__json_add_bytes(obj, key, s ? s : "", s ? strlen(s) : 0);
}

static void add_i64(cJSON *obj, const char *key, int64_t v)
{
    cJSON_AddNumberToObject(obj, key, (double)v);
}

/* An integer parameter within [min, max] (def when absent); false with 400 set. */
static bool param_i64(const rk_api_req_t *r, rk_api_out_t *o, const char *key, int64_t def, int64_t min, int64_t max,
                      int64_t *out)
{
    const char *v = rk__api_param(r, key);
    *out = def;
    if (v == NULL || !*v)
        return true;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno != 0 || *end || end == v || x < min || x > max) {
        rk__api_fail(o, 400, "%s must be an integer from %" PRId64 " to %" PRId64, key, min, max);
        return false;
    }
    *out = x;
    return true;
}

static bool valid_name(rk_api_out_t *o, const char *what, const char *name)
{
    if (name == NULL || !*name) {
        rk__api_fail(o, 400, "%s is required", what);
        return false;
    }
    if (!rk_topic_name_valid(name)) {
        rk__api_fail(o, 400, "%s %.140s is not a valid name (^[%%|a-zA-Z0-9_-]+$, at most 127 bytes)", what, name);
        return false;
    }
    return true;
}

/* A request to addr (NULL: the name servers). NULL on failure, with 504 (no answer) or 502
 * (refused: the broker's code and remark) set, unless the code is one of ok_codes. */
static rk_cmd_t *ask(rk_console_shared_t *sh, const char *addr, rk_cmd_t *req, rk_api_out_t *o, const char *what)
{
    if (req == NULL) {
        rk__api_fail(o, 500, "out of memory");
        return NULL;
    }
    rk_cmd_t *resp = NULL;
    int rc = addr ? rk_mqclient_invoke(sh->mq, addr, req, &resp) : rk_mqclient_invoke_namesrv(sh->mq, req, &resp);
    if (rc != RK_OK) {
        rk__api_fail(o, rc == RK_ETIMEDOUT ? 504 : 502, "%s: %s did not answer: %s", what, addr ? addr : "name server",
                     rk_strerror(rc));
        return NULL;
    }
    if (resp->code != RK_RESP_SUCCESS) {
        char why[300];
        rk_mqclient_resp_describe(resp, why, sizeof why);
        rk__api_fail(o, 502, "%s: %s refused: %s", what, addr ? addr : "name server", why);
        rk_cmd_free(resp);
        return NULL;
    }
    return resp;
}

static cJSON *ask_json(rk_console_shared_t *sh, const char *addr, rk_cmd_t *req, rk_api_out_t *o, const char *what)
{
    rk_cmd_t *resp = ask(sh, addr, req, o, what);
    if (resp == NULL)
        return NULL;
    cJSON *j = rk_json_parse((const char *)resp->body, resp->body_len);
    if (j == NULL)
        rk__api_fail(o, 502, "%s: the answer of %s is not JSON", what, addr ? addr : "the name server");
    rk_cmd_free(resp);
    return j;
}

static cJSON *cluster_info(rk_console_shared_t *sh, rk_api_out_t *o)
{
    return ask_json(sh, NULL, rk_mqclient_request(RK_REQ_GET_BROKER_CLUSTER_INFO), o, "cluster info");
}

/* The master addresses of every broker name (at most max); returns how many. */
static size_t masters(cJSON *info, const char **out, size_t max)
{
    size_t n = 0;
    cJSON *table = cJSON_GetObjectItemCaseSensitive(info, "brokerAddrTable");
    for (cJSON *bd = table ? table->child : NULL; bd && n < max; bd = bd->next) {
        const char *a = rk_json_get_str(cJSON_GetObjectItemCaseSensitive(bd, "brokerAddrs"), "0");
        if (a != NULL)
            out[n++] = a;
    }
    return n;
}

static bool is_broker(cJSON *info, const char *addr)
{
    cJSON *table = cJSON_GetObjectItemCaseSensitive(info, "brokerAddrTable");
    for (cJSON *bd = table ? table->child : NULL; bd; bd = bd->next) {
        cJSON *addrs = cJSON_GetObjectItemCaseSensitive(bd, "brokerAddrs");
        for (cJSON *a = addrs ? addrs->child : NULL; a; a = a->next)
            if (cJSON_IsString(a) && strcmp(a->valuestring, addr) == 0)
                return true;
    }
    return false;
}

/* The masters to talk to: every one, or the one ?broker= names (checked against the cluster). */
#define MASTERS_MAX 64
static cJSON *pick_masters(rk_console_shared_t *sh, const rk_api_req_t *r, rk_api_out_t *o, const char **addrs,
                           size_t *n)
{
    cJSON *info = cluster_info(sh, o);
    if (info == NULL)
        return NULL;
    const char *want = rk__api_param(r, "broker");
    if (want != NULL) {
        if (!is_broker(info, want)) {
            rk__api_fail(o, 404, "%.200s is not a broker the name servers know", want);
            cJSON_Delete(info);
            return NULL;
        }
        addrs[0] = want;
        *n = 1;
        return info;
    }
    *n = masters(info, addrs, MASTERS_MAX);
    return info;
}

static cJSON *kv_table(rk_console_shared_t *sh, const char *addr, rk_api_out_t *o)
{
    cJSON *rt = ask_json(sh, addr, rk_mqclient_request(RK_REQ_GET_BROKER_RUNTIME_INFO), o, "broker runtime info");
    if (rt == NULL)
        return NULL;
    cJSON *t = cJSON_DetachItemFromObjectCaseSensitive(rt, "table");
    cJSON_Delete(rt);
    if (t == NULL)
        rk__api_fail(o, 502, "broker runtime info of %s has no table", addr);
    return t;
}

static int64_t kv_i64(cJSON *kv, const char *key, int64_t def)
{
    int64_t v;
    return rk_json_get_i64(kv, key, &v) == RK_OK ? v : def;
}

static double kv_double(cJSON *kv, const char *key)
{
    const char *s = rk_json_get_str(kv, key);
    return s ? strtod(s, NULL) : 0;
}

/* ------------------------------------------------------------------ index */

/* What each_master asks of fill: add what resp (a SUCCESS answer of addr) says to b, its entry
 * {"broker": addr}; false when the answer is not JSON. */
typedef bool (*master_fill_fn)(rk_console_shared_t *sh, const char *addr, const rk_cmd_t *resp, cJSON *b);

/* The GET endpoints that ask every master the request picks (pick_masters) one question: code
 * (with the header field key=val when key is set) to each, o->json = {"brokers":[...]}, one
 * entry per master made by fill. A master that does not answer or refuses fails the whole
 * request (ask's 502/504), as does an answer fill cannot read (502). */
static void each_master(rk_console_shared_t *sh, const rk_api_req_t *r, rk_api_out_t *o, int32_t code, const char *key,
                        const char *val, const char *what, master_fill_fn fill)
{
    const char *addrs[MASTERS_MAX];
    size_t n = 0;
    cJSON *info = pick_masters(sh, r, o, addrs, &n);
    if (info == NULL)
        return;
    cJSON *brokers = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        rk_cmd_t *req = rk_mqclient_request(code);
        if (req != NULL && key != NULL)
            rk_cmd_ext_set(req, key, val);
        rk_cmd_t *resp = ask(sh, addrs[i], req, o, what);
        cJSON *b = resp ? cJSON_CreateObject() : NULL;
        if (b != NULL) {
            add_str(b, "broker", addrs[i]);
            cJSON_AddItemToArray(brokers, b);
        }
        bool ok = resp != NULL && fill(sh, addrs[i], resp, b);
        if (resp != NULL && !ok)
            rk__api_fail(o, 502, "%s: the answer of %s is not JSON", what, addrs[i]);
        rk_cmd_free(resp);
        if (!ok) {
            cJSON_Delete(brokers);
            cJSON_Delete(info);
            return;
        }
    }
    cJSON_Delete(info);
    o->json = cJSON_CreateObject();
    cJSON_AddItemToObject(o->json, "brokers", brokers);
}

static void api_index(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    (void)cs;
    (void)r;
    o->json = cJSON_CreateObject();
    cJSON *a = cJSON_AddArrayToObject(o->json, "routes");
    for (const rk_api_route_t *rt = rk__console_routes; rt->pattern; rt++) {
        char line[160];
        snprintf(line, sizeof line, "%s%s%s /api/%s", rt->method & RK_API_GET ? "GET " : "",
                 rt->method & RK_API_POST ? "POST " : "", rt->method & RK_API_DELETE ? "DELETE " : "", rt->pattern);
        cJSON_AddItemToArray(a, cJSON_CreateString(line));
    }
}

/* ------------------------------------------------------------------ cluster */

typedef struct cluster_walk {
    rk_console_shared_t *sh;
    cJSON *list;
} cluster_walk_t;

/* One entry of /api/cluster: the broker's runtime figures (or why it did not answer). */
static void cluster_entry(void *ctx, const char *cluster, const char *broker, const char *id, const char *addr)
{
    cluster_walk_t *x = ctx;
    cJSON *b = cJSON_CreateObject();
    cJSON_AddItemToArray(x->list, b);
    add_str(b, "cluster", cluster);
    add_str(b, "brokerName", broker);
    add_i64(b, "brokerId", strtoll(id, NULL, 10));
    add_str(b, "addr", addr);
    rk_api_out_t eo = {0};
    cJSON *kv = kv_table(x->sh, addr, &eo);
    cJSON_AddBoolToObject(b, "up", kv != NULL);
    if (kv == NULL) {
        add_str(b, "error", eo.error);
        return;
    }
    const char *role = rk_json_get_str(kv, "brokerRole");
    bool slave = role != NULL && strcmp(role, "SLAVE") == 0;
    add_str(b, "role", role ? role : (strcmp(id, "0") == 0 ? "MASTER" : "SLAVE"));
    add_i64(b, "epoch", kv_i64(kv, "masterEpoch", -1));
    /* replication lag in bytes: a master's slowest slave, a slave's own */
    add_i64(b, "replicationLagBytes", kv_i64(kv, slave ? "haReplicaLag" : "slaveFallBehindMuch", 0));
    add_str(b, "version", rk_json_get_str(kv, "brokerVersionDesc"));
    add_str(b, "rockletVersion", rk_json_get_str(kv, "rockletVersion"));
    cJSON_AddNumberToObject(b, "putTps", kv_double(kv, "putTps"));
    add_i64(b, "msgPutTotalTodayNow", kv_i64(kv, "msgPutTotalTodayNow", 0));
    int64_t cmin = kv_i64(kv, "commitLogMinOffset", 0), cmax = kv_i64(kv, "commitLogMaxOffset", 0);
    add_i64(b, "commitLogMinOffset", cmin);
    add_i64(b, "commitLogMaxOffset", cmax);
    add_i64(b, "commitLogBytes", cmax - cmin);
    add_i64(b, "dispatchBehindBytes", kv_i64(kv, "dispatchBehindBytes", 0));
    add_i64(b, "bootTimestamp", kv_i64(kv, "bootTimestamp", 0));
    cJSON_Delete(kv);
}

static void api_cluster(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    (void)r;
    rk_console_shared_t *sh = rk__console_shared(cs);
    cJSON *info = cluster_info(sh, o);
    if (info == NULL)
        return;
    o->json = cJSON_CreateObject();
    cluster_walk_t x = {.sh = sh, .list = cJSON_AddArrayToObject(o->json, "brokers")};
    rk_cluster_each_broker(info, cluster_entry, &x);
    cJSON_Delete(info);
}

/* GET /api/brokers/{addr}: the broker's whole runtime table. */
static void api_broker(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    rk_console_shared_t *sh = rk__console_shared(cs);
    cJSON *info = cluster_info(sh, o);
    if (info == NULL)
        return;
    if (!is_broker(info, r->seg[1]))
        rk__api_fail(o, 404, "%.200s is not a broker the name servers know", r->seg[1]);
    else if ((o->json = cJSON_CreateObject()) != NULL) {
        add_str(o->json, "addr", r->seg[1]);
        cJSON *kv = kv_table(sh, r->seg[1], o);
        if (kv != NULL)
            cJSON_AddItemToObject(o->json, "runtime", kv);
    }
    cJSON_Delete(info);
}

/* ------------------------------------------------------------------ topics */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void api_topics(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    rk_console_shared_t *sh = rk__console_shared(cs);
    int64_t off, limit;
    if (!param_i64(r, o, "offset", 0, 0, INT32_MAX, &off) ||
        !param_i64(r, o, "limit", sh->cfg.max_results, 1, sh->cfg.max_results, &limit))
        return;
    const char *q = rk__api_param(r, "q");
    bool sys = rk__api_param(r, "system") != NULL;
    cJSON *j = ask_json(sh, NULL, rk_mqclient_request(RK_REQ_GET_ALL_TOPIC_LIST_FROM_NAMESERVER), o, "topic list");
    if (j == NULL)
        return;
    cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "topicList");
    size_t n = 0, cap = (size_t)cJSON_GetArraySize(list);
    const char **names = calloc(cap + 1, sizeof *names);
    for (cJSON *e = list ? list->child : NULL; names && e; e = e->next) {
        if (!cJSON_IsString(e))
            continue;
        const char *t = e->valuestring;
        bool internal = strncmp(t, RK_RETRY_PREFIX, 7) == 0 || strncmp(t, RK_DLQ_PREFIX, 5) == 0 ||
                        strcmp(t, RK_DEFAULT_TOPIC) == 0 || strcmp(t, RK_SCHEDULE_TOPIC) == 0;
        if ((internal && !sys) || (q != NULL && *q && strstr(t, q) == NULL))
            continue;
        names[n++] = t;
    }
    if (names == NULL) {
        rk__api_fail(o, 500, "out of memory");
        cJSON_Delete(j);
        return;
    }
    qsort(names, n, sizeof *names, cmp_str);
    o->json = cJSON_CreateObject();
    add_i64(o->json, "total", (int64_t)n);
    cJSON *out = cJSON_AddArrayToObject(o->json, "topics");
    for (size_t i = (size_t)off; i < n && i < (size_t)(off + limit); i++)
        cJSON_AddItemToArray(out, cJSON_CreateString(names[i]));
    free(names);
    cJSON_Delete(j);
}

static void api_topic_create(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    rk_console_shared_t *sh = rk__console_shared(cs);
    const char *topic = rk_json_get_str(r->body, "topic");
    if (!valid_name(o, "topic", topic))
        return;
    int64_t rq = 8, wq = 8, perm = 6;
    if ((cJSON_GetObjectItemCaseSensitive(r->body, "readQueueNums") &&
         (rk_json_get_i64(r->body, "readQueueNums", &rq) != RK_OK || rq < 1 || rq > 1024)) ||
        (cJSON_GetObjectItemCaseSensitive(r->body, "writeQueueNums") &&
         (rk_json_get_i64(r->body, "writeQueueNums", &wq) != RK_OK || wq < 1 || wq > 1024)) ||
        (cJSON_GetObjectItemCaseSensitive(r->body, "perm") &&
         (rk_json_get_i64(r->body, "perm", &perm) != RK_OK || perm < 0 || perm > 7))) {
        rk__api_fail(o, 400, "readQueueNums and writeQueueNums must be 1..1024, perm 0..7");
        return;
    }
    cJSON *info = cluster_info(sh, o);
    if (info == NULL)
        return;
    const char *addrs[MASTERS_MAX];
    size_t n = 0;
    const char *broker = rk_json_get_str(r->body, "brokerAddr"), *cluster = rk_json_get_str(r->body, "cluster");
    if (broker != NULL) {
        if (!is_broker(info, broker)) {
            rk__api_fail(o, 404, "%.200s is not a broker the name servers know", broker);
            cJSON_Delete(info);
            return;
        }
        addrs[n++] = broker;
    } else {
        cJSON *names = cluster ? cJSON_GetObjectItemCaseSensitive(
                                     cJSON_GetObjectItemCaseSensitive(info, "clusterAddrTable"), cluster)
                               : NULL;
        if (cluster != NULL && names == NULL) {
            rk__api_fail(o, 404, "no cluster %.200s", cluster);
            cJSON_Delete(info);
            return;
        }
        cJSON *table = cJSON_GetObjectItemCaseSensitive(info, "brokerAddrTable");
        for (cJSON *bd = table ? table->child : NULL; bd && n < MASTERS_MAX; bd = bd->next) {
            bool in = names == NULL;
            for (cJSON *e = names ? names->child : NULL; e && !in; e = e->next)
                in = cJSON_IsString(e) && strcmp(e->valuestring, bd->string) == 0;
            const char *m = rk_json_get_str(cJSON_GetObjectItemCaseSensitive(bd, "brokerAddrs"), "0");
            if (in && m != NULL)
                addrs[n++] = m;
        }
    }
    if (n == 0) {
        rk__api_fail(o, 502, "no master broker to create the topic on");
        cJSON_Delete(info);
        return;
    }
    cJSON *done = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_UPDATE_AND_CREATE_TOPIC);
        rk_cmd_ext_set(req, "topic", topic);
        rk_cmd_ext_set(req, "defaultTopic", RK_DEFAULT_TOPIC);
        rk_cmd_ext_set_i64(req, "readQueueNums", rq);
        rk_cmd_ext_set_i64(req, "writeQueueNums", wq);
        rk_cmd_ext_set_i64(req, "perm", perm);
        rk_cmd_ext_set(req, "topicFilterType", "SINGLE_TAG");
        rk_cmd_ext_set(req, "topicSysFlag", "0");
        rk_cmd_ext_set(req, "order", "false");
        rk_cmd_t *resp = ask(sh, addrs[i], req, o, "create topic");
        if (resp == NULL) {
            cJSON_Delete(done);
            cJSON_Delete(info);
            return;
        }
        rk_cmd_free(resp);
        cJSON_AddItemToArray(done, cJSON_CreateString(addrs[i]));
    }
    o->json = cJSON_CreateObject();
    add_str(o->json, "topic", topic);
    add_i64(o->json, "readQueueNums", rq);
    add_i64(o->json, "writeQueueNums", wq);
    add_i64(o->json, "perm", perm);
    cJSON_AddItemToObject(o->json, "brokers", done);
    rk_mqclient_forget_route(sh->mq, topic);
    cJSON_Delete(info);
}

/* The route of topic (a path segment: checked first); NULL with o's 400 or 404 set. */
static rk_topic_route_t *topic_route(rk_console_shared_t *sh, rk_api_out_t *o, const char *topic)
{
    rk_topic_route_t *route = NULL;
    if (!valid_name(o, "topic", topic))
        return NULL;
    if (rk_mqclient_route(sh->mq, topic, true, &route) != RK_OK) {
        rk__api_fail(o, 404, "no topic %.200s", topic);
        return NULL;
    }
    return route;
}

/* DELETE /api/topics/{topic}: DELETE_TOPIC_IN_BROKER on each master, then DELETE_TOPIC_IN_NAMESRV. */
static void api_topic_delete(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    rk_console_shared_t *sh = rk__console_shared(cs);
    const char *topic = r->seg[1];
    rk_topic_route_t *route = topic_route(sh, o, topic);
    if (route == NULL)
        return;
    for (size_t b = 0; b < route->nbrokers; b++) {
        if (!route->brokers[b].master[0])
            continue;
        rk_cmd_t *req = rk_mqclient_request(REQ_DELETE_TOPIC_IN_BROKER);
        rk_cmd_ext_set(req, "topic", topic);
        rk_cmd_t *resp = ask(sh, route->brokers[b].master, req, o, "delete topic");
        if (resp == NULL) {
            rk_topic_route_release(route);
            return;
        }
        rk_cmd_free(resp);
    }
    rk_topic_route_release(route);
    rk_cmd_t *req = rk_mqclient_request(RK_REQ_DELETE_TOPIC_IN_NAMESRV);
    rk_cmd_ext_set(req, "topic", topic);
    rk_cmd_t *resp = ask(sh, NULL, req, o, "delete topic in name server");
    if (resp == NULL)
        return;
    rk_cmd_free(resp);
    rk_mqclient_forget_route(sh->mq, topic);
    o->json = cJSON_CreateObject();
    add_str(o->json, "deleted", topic);
}

static void api_topic_route(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    rk_console_shared_t *sh = rk__console_shared(cs);
    if (!valid_name(o, "topic", r->seg[1]))
        return;
    rk_cmd_t *req = rk_mqclient_request(RK_REQ_GET_ROUTEINFO_BY_TOPIC);
    rk_cmd_ext_set(req, "topic", r->seg[1]);
    rk_cmd_t *resp = NULL;
    int rc = rk_mqclient_invoke_namesrv(sh->mq, req, &resp);
    if (rc != RK_OK) {
        rk__api_fail(o, 504, "topic route: no name server answered: %s", rk_strerror(rc));
        return;
    }
    if (resp->code == RK_RESP_TOPIC_NOT_EXIST)
        rk__api_fail(o, 404, "no topic %.200s", r->seg[1]);
    else if (resp->code != RK_RESP_SUCCESS)
        rk__api_fail(o, 502, "topic route: code %d", resp->code);
    else if ((o->json = rk_json_parse((const char *)resp->body, resp->body_len)) == NULL)
        rk__api_fail(o, 502, "topic route: the answer is not JSON");
    rk_cmd_free(resp);
}

/* GET /api/topics/{topic}/status: each queue's min/max offset and last store time. */
static void api_topic_status(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    rk_console_shared_t *sh = rk__console_shared(cs);
    const char *topic = r->seg[1];
    rk_topic_route_t *route = topic_route(sh, o, topic);
    if (route == NULL)
        return;
    cJSON *qs = cJSON_CreateArray();
    int64_t total = 0, last = 0;
    for (size_t b = 0; b < route->nbrokers; b++) {
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_GET_TOPIC_STATS_INFO);
        rk_cmd_ext_set(req, "topic", topic);
        rk_cmd_t *resp = ask(sh, route->brokers[b].any, req, o, "topic stats");
        rk_mq_map_entry_t *e = NULL;
        size_t n = 0;
        if (resp == NULL || rk_mq_map_parse((const char *)resp->body, resp->body_len, "offsetTable", &e, &n) != RK_OK) {
            if (resp != NULL)
                rk__api_fail(o, 502, "topic stats of %s: not a TopicStatsTable", route->brokers[b].any);
            rk_cmd_free(resp);
            cJSON_Delete(qs);
            rk_topic_route_release(route);
            return;
        }
        for (size_t i = 0; i < n; i++) {
            int64_t min = 0, max = 0, ts = 0;
            rk_json_get_i64(e[i].value, "minOffset", &min);
            rk_json_get_i64(e[i].value, "maxOffset", &max);
            rk_json_get_i64(e[i].value, "lastUpdateTimestamp", &ts);
            cJSON *q = cJSON_CreateObject();
            add_str(q, "brokerName", e[i].mq.broker);
            add_i64(q, "queueId", e[i].mq.queue_id);
            add_i64(q, "minOffset", min);
            add_i64(q, "maxOffset", max);
            add_i64(q, "lastUpdateTimestamp", ts);
            cJSON_AddItemToArray(qs, q);
            total += max - min;
            if (ts > last)
                last = ts;
        }
        rk_mq_map_free(e, n);
        rk_cmd_free(resp);
    }
    rk_topic_route_release(route);
    o->json = cJSON_CreateObject();
    add_str(o->json, "topic", topic);
    add_i64(o->json, "messages", total);
    add_i64(o->json, "lastUpdateTimestamp", last);
    cJSON_AddItemToObject(o->json, "queues", qs);
}

/* GET /api/topics/{topic}/consumers: QUERY_TOPIC_CONSUME_BY_WHO on each broker of the route. */
static void api_topic_consumers(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    rk_console_shared_t *sh = rk__console_shared(cs);
    const char *topic = r->seg[1];
    rk_topic_route_t *route = topic_route(sh, o, topic);
    if (route == NULL)
        return;
    cJSON *groups = cJSON_CreateArray();
    for (size_t b = 0; b < route->nbrokers; b++) {
        rk_cmd_t *req = rk_mqclient_request(REQ_QUERY_TOPIC_CONSUME_BY_WHO);
        rk_cmd_ext_set(req, "topic", topic);
        cJSON *j = ask_json(sh, route->brokers[b].any, req, o, "QUERY_TOPIC_CONSUME_BY_WHO");
        if (j == NULL) {
            cJSON_Delete(groups);
            rk_topic_route_release(route);
            return;
        }
        cJSON *gl = cJSON_GetObjectItemCaseSensitive(j, "groupList");
        for (cJSON *g = gl ? gl->child : NULL; g; g = g->next) {
            bool seen = false;
            for (cJSON *h = groups->child; h && !seen && cJSON_IsString(g); h = h->next)
                seen = strcmp(h->valuestring, g->valuestring) == 0;
            if (!seen && cJSON_IsString(g) && cJSON_GetArraySize(groups) < sh->cfg.max_results)
                cJSON_AddItemToArray(groups, cJSON_CreateString(g->valuestring));
        }
        cJSON_Delete(j);
    }
    rk_topic_route_release(route);
    o->json = cJSON_CreateObject();
    add_str(o->json, "topic", topic);
    cJSON_AddItemToObject(o->json, "groups", groups);
}

/* ------------------------------------------------------------------ consumer groups */

/* GET /api/groups: the subscription groups of every master (GET_ALL_SUBSCRIPTIONGROUP_CONFIG). */
static void api_groups(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    rk_console_shared_t *sh = rk__console_shared(cs);
    const char *addrs[MASTERS_MAX];
    size_t n = 0;
    cJSON *info = pick_masters(sh, r, o, addrs, &n);
    if (info == NULL)
        return;
    const char *q = rk__api_param(r, "q");
    bool sys = rk__api_param(r, "system") != NULL;
    cJSON *names = cJSON_CreateObject();        /* set */
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        cJSON *j = ask_json(sh, addrs[i], rk_mqclient_request(REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG), o,
                            "subscription groups");
        if (j == NULL) {
            cJSON_Delete(names);
            cJSON_Delete(info);
            return;
        }
        cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "subscriptionGroupTable");
        for (cJSON *g = t ? t->child : NULL; g && count < (size_t)sh->cfg.max_results; g = g->next) {
            static const char *const builtin[] = {"TOOLS_CONSUMER", "FILTERSRV_CONSUMER", "SELF_TEST_C_GROUP",
                                                  "CID_ONS-HTTP-PROXY", "CID_ONSAPI_PULL", "CID_ONSAPI_PERMISSION",
                                                  "CID_ONSAPI_OWNER", "CID_RMQ_SYS_TRANS", NULL};
            bool internal = false;
            for (size_t k = 0; builtin[k] && !internal; k++)
                internal = strcmp(g->string, builtin[k]) == 0;
            if ((internal && !sys) || (q && *q && strstr(g->string, q) == NULL) ||
                cJSON_GetObjectItemCaseSensitive(names, g->string))
                continue;
            cJSON *e = cJSON_CreateObject();
            int64_t retries = 16;
            rk_json_get_i64(g, "retryMaxTimes", &retries);
            add_i64(e, "retryMaxTimes", retries);
            cJSON *ce = cJSON_GetObjectItemCaseSensitive(g, "consumeEnable");
            cJSON_AddBoolToObject(e, "consumeEnable", ce == NULL || cJSON_IsTrue(ce));
            cJSON_AddItemToObject(names, g->string, e);
            count++;
        }
        cJSON_Delete(j);
        /* groups that committed offsets without a subscription group entry (pull consumers) */
        cJSON *offs = rk__all_offsets(sh, addrs[i], o);
        if (offs == NULL) {
            cJSON_Delete(names);
            cJSON_Delete(info);
            return;
        }
        cJSON *ot = cJSON_GetObjectItemCaseSensitive(offs, "offsetTable");
        for (cJSON *tg = ot ? ot->child : NULL; tg && count < (size_t)sh->cfg.max_results; tg = tg->next) {
            const char *at = tg->string ? strchr(tg->string, '@') : NULL;
            if (at == NULL || !rk_topic_name_valid(at + 1) || (q && *q && strstr(at + 1, q) == NULL) ||
                cJSON_GetObjectItemCaseSensitive(names, at + 1))
                continue;
            cJSON *e = cJSON_CreateObject();
            add_i64(e, "retryMaxTimes", 16);
            cJSON_AddBoolToObject(e, "consumeEnable", true);
            cJSON_AddItemToObject(names, at + 1, e);
            count++;
        }
        cJSON_Delete(offs);
    }
    cJSON_Delete(info);
    o->json = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(o->json, "groups");
    for (cJSON *g = names->child; g; g = g->next) {
        cJSON *e = cJSON_Duplicate(g, true);
        add_str(e, "group", g->string);
        cJSON_AddItemToArray(list, e);
    }
    add_i64(o->json, "total", (int64_t)count);
    cJSON_Delete(names);
}

/* GET /api/groups/{group}[?topic=]: per-queue lag (GET_CONSUME_STATS on each master), its total,
 * and the consume TPS (the rate of the committed offsets since the last look). */
static void api_group(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    rk_console_shared_t *sh = rk__console_shared(cs);
    const char *group = r->seg[1], *topic = rk__api_param(r, "topic");
    if (!valid_name(o, "group", group) || (topic != NULL && !valid_name(o, "topic", topic)))
        return;
    const char *addrs[MASTERS_MAX];
    size_t n = 0;
    cJSON *info = pick_masters(sh, r, o, addrs, &n);
    if (info == NULL)
        return;
    rk_consume_row_t *rows = NULL;
    size_t nrows = 0, cap = 0;
    bool any = false;
    char why_none[300] = "";
    for (size_t i = 0; i < n; i++) {
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_GET_CONSUME_STATS), *resp = NULL;
        rk_cmd_ext_set(req, "consumerGroup", group);
        if (topic)
            rk_cmd_ext_set(req, "topic", topic);
        int rc = rk_mqclient_invoke(sh->mq, addrs[i], req, &resp);
        if (rc != RK_OK) {
            rk__api_fail(o, rc == RK_ETIMEDOUT ? 504 : 502, "consume stats: %s did not answer: %s", addrs[i],
                         rk_strerror(rc));
            goto out;
        }
        if (resp->code == RK_RESP_CONSUMER_NOT_ONLINE || resp->code == RK_RESP_SUBSCRIPTION_GROUP_NOT_EXIST) {
            rk_mqclient_resp_describe(resp, why_none, sizeof why_none);
            rk_cmd_free(resp);
            continue;                   /* no offset of the group on this broker */
        }
        if (resp->code != RK_RESP_SUCCESS ||
            rk_consume_stats_append(resp->body, resp->body_len, &rows, &nrows, &cap,
                                    (size_t)sh->cfg.max_results * 16) == RK_ECORRUPT) {
            char why[300];
            rk_mqclient_resp_describe(resp, why, sizeof why);
            rk__api_fail(o, 502, "consume stats: %s refused: %s", addrs[i], why);
            rk_cmd_free(resp);
            goto out;
        }
        any = true;
        rk_cmd_free(resp);
    }
    if (!any) {
        rk__api_fail(o, 404, "group %.200s has no committed offset on any broker%s%.250s", group,
                     why_none[0] ? ": " : "", why_none);
        goto out;
    }
    if (nrows > 1)
        qsort(rows, nrows, sizeof *rows, rk_consume_row_cmp);
    int64_t diff = 0, consumed = 0;
    o->json = cJSON_CreateObject();
    add_str(o->json, "group", group);
    cJSON *qs = cJSON_AddArrayToObject(o->json, "queues");
    for (size_t i = 0; i < nrows; i++) {
        int64_t d = rows[i].broker_off - rows[i].consumer_off;
        diff += d > 0 ? d : 0;
        consumed += rows[i].consumer_off;
        if (i >= (size_t)sh->cfg.max_results * 16)
            continue;
        cJSON *q = cJSON_CreateObject();
        add_str(q, "topic", rows[i].mq.topic);
        add_str(q, "brokerName", rows[i].mq.broker);
        add_i64(q, "queueId", rows[i].mq.queue_id);
        add_i64(q, "brokerOffset", rows[i].broker_off);
        add_i64(q, "consumerOffset", rows[i].consumer_off);
        add_i64(q, "diff", d > 0 ? d : 0);
        add_i64(q, "lastTimestamp", rows[i].last);
        cJSON_AddItemToArray(qs, q);
    }
    add_i64(o->json, "diffTotal", diff);
    char key[RK_NAME_MAX + 32];
    snprintf(key, sizeof key, "consumed/%s/%s", group, topic ? topic : "");
    double tps = rk__console_rate(sh, key, consumed, rk_now_ms());
    cJSON_AddNumberToObject(o->json, "consumeTps", tps < 0 ? 0 : tps);
out:
    free(rows);
    cJSON_Delete(info);
}

static cJSON *connection_set(cJSON *j)
{
    cJSON *out = cJSON_CreateArray();
    cJSON *set = cJSON_GetObjectItemCaseSensitive(j, "connectionSet");
    for (cJSON *c = set ? set->child : NULL; c; c = c->next) {
        cJSON *e = cJSON_CreateObject();
        add_str(e, "clientId", rk_json_get_str(c, "clientId"));
        add_str(e, "clientAddr", rk_json_get_str(c, "clientAddr"));
        add_str(e, "language", rk_json_get_str(c, "language"));
        int64_t v = 0;
        rk_json_get_i64(c, "version", &v);
        add_i64(e, "version", v);
        cJSON_AddItemToArray(out, e);
    }
    return out;
}

/* GET /api/groups/{group}/connections: GET_CONSUMER_CONNECTION_LIST (203) on the masters. */
static void api_group_connections(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    rk_console_shared_t *sh = rk__console_shared(cs);
    const char *group = r->seg[1];
    if (!valid_name(o, "group", group))
        return;
    const char *addrs[MASTERS_MAX];
    size_t n = 0;
    cJSON *info = pick_masters(sh, r, o, addrs, &n);
    if (info == NULL)
        return;
    for (size_t i = 0; i < n && o->json == NULL; i++) {
        rk_cmd_t *req = rk_mqclient_request(REQ_GET_CONSUMER_CONNECTION_LIST);
        rk_cmd_ext_set(req, "consumerGroup", group);
        cJSON *j = ask_json(sh, addrs[i], req, o, "consumer connections");
        if (j == NULL)
            break;
        o->status = 0;
        o->json = cJSON_CreateObject();
        add_str(o->json, "group", group);
        add_str(o->json, "broker", addrs[i]);
        static const char *const keys[] = {"consumeType", "messageModel", "consumeFromWhere", NULL};
        for (size_t k = 0; keys[k]; k++)
            add_str(o->json, keys[k], rk_json_get_str(j, keys[k]));
        cJSON_AddItemToObject(o->json, "connections", connection_set(j));
        cJSON *subs = cJSON_AddArrayToObject(o->json, "subscriptions");
        cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "subscriptionTable");
        for (cJSON *s = st ? st->child : NULL; s; s = s->next) {
            cJSON *e = cJSON_CreateObject();
            add_str(e, "topic", s->string);
            add_str(e, "subString", rk_json_get_str(s, "subString"));
            cJSON_AddItemToArray(subs, e);
        }
        cJSON_Delete(j);
    }
    cJSON_Delete(info);
}

/* GET /api/producers/{group}/connections: GET_PRODUCER_CONNECTION_LIST (204). */
static void api_producer_connections(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    rk_console_shared_t *sh = rk__console_shared(cs);
    const char *group = r->seg[1];
    if (!valid_name(o, "producer group", group))
        return;
    const char *addrs[MASTERS_MAX];
    size_t n = 0;
    cJSON *info = pick_masters(sh, r, o, addrs, &n);
    if (info == NULL)
        return;
    cJSON *all = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        rk_cmd_t *req = rk_mqclient_request(REQ_GET_PRODUCER_CONNECTION_LIST);
        rk_cmd_ext_set(req, "producerGroup", group);
        cJSON *j = ask_json(sh, addrs[i], req, o, "producer connections");
        if (j == NULL) {
            cJSON_Delete(all);
            cJSON_Delete(info);
            return;
        }
        cJSON *set = connection_set(j);
        cJSON *c;
        while ((c = cJSON_DetachItemFromArray(set, 0)) != NULL)
            cJSON_AddItemToArray(all, c);
        cJSON_Delete(set);
        cJSON_Delete(j);
    }
    cJSON_Delete(info);
    o->json = cJSON_CreateObject();
    add_str(o->json, "group", group);
    cJSON_AddItemToObject(o->json, "connections", all);
}

/* GET /api/groups/{group}/running?clientId=: GET_CONSUMER_RUNNING_INFO (307), forwarded by a
 * master to the client. The answer's MessageQueue-keyed mqTable is turned into a list. */
static void api_group_running(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    rk_console_shared_t *sh = rk__console_shared(cs);
    const char *group = r->seg[1], *client = rk__api_param(r, "clientId");
    if (!valid_name(o, "group", group))
        return;
    if (client == NULL || !*client || strlen(client) > 255) {
        rk__api_fail(o, 400, "clientId is required (see /api/groups/%s/connections)", group);
        return;
    }
    const char *addrs[MASTERS_MAX];
    size_t n = 0;
    cJSON *info = pick_masters(sh, r, o, addrs, &n);
    if (info == NULL)
        return;
    if (n == 0)
        rk__api_fail(o, 502, "no master broker");
    for (size_t i = 0; i < n && o->json == NULL; i++) {
        rk_cmd_t *req = rk_mqclient_request(REQ_GET_CONSUMER_RUNNING_INFO);
        rk_cmd_ext_set(req, "consumerGroup", group);
        rk_cmd_ext_set(req, "clientId", client);
        rk_cmd_ext_set(req, "jstackEnable", "false");
        rk_cmd_t *resp = ask(sh, addrs[i], req, o, "consumer running info");
        if (resp == NULL)
            continue;
        o->status = 0;
        rk_mq_map_entry_t *e = NULL;
        size_t ne = 0;
        const char *body = (const char *)resp->body;
        o->json = cJSON_CreateObject();
        add_str(o->json, "group", group);
        add_str(o->json, "clientId", client);
        cJSON *whole = rk_json_parse(body, resp->body_len);     /* fails on the MQ-keyed map */
        if (whole != NULL) {            /* NULL when mqTable has entries: MessageQueue keys */
            cJSON *props = cJSON_DetachItemFromObjectCaseSensitive(whole, "properties");
            cJSON *status = cJSON_DetachItemFromObjectCaseSensitive(whole, "statusTable");
            cJSON *subs = cJSON_DetachItemFromObjectCaseSensitive(whole, "subscriptionSet");
            if (props)
                cJSON_AddItemToObject(o->json, "properties", props);
            if (status)
                cJSON_AddItemToObject(o->json, "statusTable", status);
            if (subs)
                cJSON_AddItemToObject(o->json, "subscriptionSet", subs);
            cJSON_Delete(whole);
        }
        cJSON *mqs = cJSON_AddArrayToObject(o->json, "queues");
        if (body != NULL && rk_mq_map_parse(body, resp->body_len, "mqTable", &e, &ne) == RK_OK) {
            for (size_t k = 0; k < ne; k++) {
                cJSON *q = cJSON_Duplicate(e[k].value, true);
                add_str(q, "topic", e[k].mq.topic);
                add_str(q, "brokerName", e[k].mq.broker);
                add_i64(q, "queueId", e[k].mq.queue_id);
                cJSON_AddItemToArray(mqs, q);
            }
            rk_mq_map_free(e, ne);
        }
        rk_cmd_free(resp);
    }
    cJSON_Delete(info);
}

/* POST /api/groups/{group}/reset-offset {"topic","timestamp","force"}: INVOKE_BROKER_TO_RESET_OFFSET
 * (222) on each master of the topic; as mqadmin resetOffsetByTime, when no consumer of the
 * group is online (CONSUMER_NOT_ONLINE) the offsets are written directly: the first offset
 * stored at or after the time (SEARCH_OFFSET_BY_TIMESTAMP), committed with UPDATE_CONSUMER_OFFSET. */
static void api_reset_offset(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    rk_console_shared_t *sh = rk__console_shared(cs);
    const char *group = r->seg[1], *topic = rk_json_get_str(r->body, "topic");
    if (!valid_name(o, "group", group) || !valid_name(o, "topic", topic))
        return;
    int64_t ts;
    if (rk_json_get_i64(r->body, "timestamp", &ts) != RK_OK || ts < -1) {
        rk__api_fail(o, 400, "timestamp (ms since the epoch, or -1 for the end) is required");
        return;
    }
    bool force = true;
    rk_json_get_bool(r->body, "force", &force);
    rk_topic_route_t *route = NULL;
    if (rk_mqclient_route(sh->mq, topic, true, &route) != RK_OK) {
        rk__api_fail(o, 404, "no topic %.200s", topic);
        return;
    }
    cJSON *queues = cJSON_CreateArray();
    const char *mode = "broker";
    for (size_t b = 0; b < route->nbrokers; b++) {
        const char *addr = route->brokers[b].master;
        if (!addr[0])
            continue;
        rk_cmd_t *req = rk_mqclient_request(REQ_INVOKE_BROKER_TO_RESET_OFFSET), *resp = NULL;
        rk_cmd_ext_set(req, "topic", topic);
        rk_cmd_ext_set(req, "group", group);
        rk_cmd_ext_set_i64(req, "timestamp", ts);
        rk_cmd_ext_set(req, "isForce", force ? "true" : "false");
        int rc = rk_mqclient_invoke(sh->mq, addr, req, &resp);
        if (rc != RK_OK) {
            rk__api_fail(o, rc == RK_ETIMEDOUT ? 504 : 502, "reset offset: %s did not answer: %s", addr,
                         rk_strerror(rc));
            goto fail;
        }
        if (resp->code == RK_RESP_SUCCESS) {
            rk_mq_map_entry_t *e = NULL;
            size_t ne = 0;
            if (resp->body && rk_mq_map_parse((const char *)resp->body, resp->body_len, "offsetTable", &e, &ne) == RK_OK) {
                for (size_t k = 0; k < ne; k++) {
                    cJSON *q = cJSON_CreateObject();
                    add_str(q, "brokerName", e[k].mq.broker);
                    add_i64(q, "queueId", e[k].mq.queue_id);
                    add_i64(q, "offset", (int64_t)cJSON_GetNumberValue(e[k].value));
                    cJSON_AddItemToArray(queues, q);
                }
                rk_mq_map_free(e, ne);
            }
            rk_cmd_free(resp);
            continue;
        }
        if (resp->code != RK_RESP_CONSUMER_NOT_ONLINE) {
            char why[300];
            rk_mqclient_resp_describe(resp, why, sizeof why);
            rk__api_fail(o, 502, "reset offset: %s refused: %s", addr, why);
            rk_cmd_free(resp);
            goto fail;
        }
        rk_cmd_free(resp);
        mode = "offline";               /* nobody online: write the offsets ourselves */
        for (size_t k = 0; k < route->nqueues; k++) {
            const rk_route_queue_t *rq = &route->queues[k];
            if (strcmp(rq->broker, route->brokers[b].name) != 0)
                continue;
            for (int32_t qid = 0; qid < rq->write_queues; qid++) {
                rk_cmd_t *s = rk_mqclient_request(ts == -1 ? RK_REQ_GET_MAX_OFFSET : RK_REQ_SEARCH_OFFSET_BY_TIMESTAMP);
                rk_cmd_ext_set(s, "topic", topic);
                rk_cmd_ext_set_i64(s, "queueId", qid);
                if (ts != -1)
                    rk_cmd_ext_set_i64(s, "timestamp", ts);
                rk_cmd_t *sr = ask(sh, addr, s, o, "search offset");
                int64_t off = -1;
                /* read before the answer is freed (its ext values die with it) */
                bool has = sr != NULL && rk_cmd_ext_i64(sr, "offset", &off) == RK_OK && off >= 0;
                rk_cmd_free(sr);
                if (!has) {
                    if (o->status == 0)
                        rk__api_fail(o, 502, "search offset: %s answered no valid offset", addr);
                    goto fail;
                }
                rk_cmd_t *u = rk_mqclient_request(RK_REQ_UPDATE_CONSUMER_OFFSET);
                rk_cmd_ext_set(u, "consumerGroup", group);
                rk_cmd_ext_set(u, "topic", topic);
                rk_cmd_ext_set_i64(u, "queueId", qid);
                rk_cmd_ext_set_i64(u, "commitOffset", off);
                rk_cmd_t *ur = ask(sh, addr, u, o, "update consumer offset");
                if (ur == NULL)
                    goto fail;
                rk_cmd_free(ur);
                cJSON *q = cJSON_CreateObject();
                add_str(q, "brokerName", route->brokers[b].name);
                add_i64(q, "queueId", qid);
                add_i64(q, "offset", off);
                cJSON_AddItemToArray(queues, q);
            }
        }
    }
    rk_topic_route_release(route);
    o->json = cJSON_CreateObject();
    add_str(o->json, "group", group);
    add_str(o->json, "topic", topic);
    add_str(o->json, "mode", mode);
    cJSON_AddItemToObject(o->json, "queues", queues);
    return;
fail:
    cJSON_Delete(queues);
    rk_topic_route_release(route);
}

/* One master's entry of /api/consume-stats. ConsumeStatsList holds MessageQueue-keyed maps: only
 * totalDiff and the group names are read with a JSON parser; per-queue figures come from
 * /api/groups/{group}. */
static bool consume_stats_fill(rk_console_shared_t *sh, const char *addr, const rk_cmd_t *resp, cJSON *b)
{
    (void)sh;
    (void)addr;
    const char *body = (const char *)resp->body;
    const char *td = body ? strstr(body, "\"totalDiff\":") : NULL;
    add_i64(b, "totalDiff", td ? strtoll(td + 12, NULL, 10) : 0);
    return true;
}

/* GET /api/consume-stats[?broker=]: GET_BROKER_CONSUME_STATS (317), every group of each master. */
static void api_consume_stats(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    each_master(rk__console_shared(cs), r, o, REQ_GET_BROKER_CONSUME_STATS, "isOrder", "false", "broker consume stats",
                consume_stats_fill);
}

/* ------------------------------------------------------------------ messages */

static cJSON *msg_json(const rk_msg_ext_t *m)
{
    cJSON *j = cJSON_CreateObject();
    add_str(j, "msgId", m->msg_id);
    add_str(j, "offsetMsgId", m->offset_msg_id);
    add_str(j, "topic", m->topic);
    add_str(j, "tags", m->tags);
    add_str(j, "keys", m->keys);
    add_i64(j, "queueId", m->queue_id);
    add_i64(j, "queueOffset", m->queue_offset);
    add_i64(j, "commitLogOffset", m->commitlog_offset);
    add_i64(j, "reconsumeTimes", m->reconsume_times);
    add_i64(j, "bornTimestamp", m->born_ts);
    add_i64(j, "storeTimestamp", m->store_ts);
    add_str(j, "bornHost", m->born_host);
    add_str(j, "storeHost", m->store_host);
    add_i64(j, "sysFlag", m->sys_flag);
    cJSON *props = cJSON_AddObjectToObject(j, "properties");
    rk_prop_iter_t it = rk_props_iter(m->props, m->props_len);
    const char *k, *v;
    size_t kl, vl;
    while (rk_props_next(&it, &k, &kl, &v, &vl)) {
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(kl < 127 ? kl : 127), k);
        rk__json_add_bytes(props, key, v, vl);
    }
    add_i64(j, "bodySize", (int64_t)m->body_len);
    rk__json_add_bytes(j, "body", (const char *)m->body, m->body_len > BODY_SHOWN ? BODY_SHOWN : m->body_len);
    cJSON_AddBoolToObject(j, "bodyTruncated", m->body_len > BODY_SHOWN);
    return j;
}

/* QUERY_MESSAGE on every broker of a topic's route: by key, or by UNIQ_KEY (uniq). Adds what it
 * finds to arr (at most max); returns how many; -1 when the topic has no route. */
static int query_index(rk_console_shared_t *sh, const char *topic, const char *key, bool uniq, int64_t begin,
                       int64_t end, int max, cJSON *arr)
{
    /* the brokers of the topic's route; a topic no name server routes (SCHEDULE_TOPIC_XXXX, a
     * broker-local topic) is asked of every master */
    const char *addrs[MASTERS_MAX], *names[MASTERS_MAX];
    size_t n = 0;
    rk_topic_route_t *route = NULL;
    cJSON *info = NULL;
    if (rk_mqclient_route(sh->mq, topic, true, &route) == RK_OK) {
        for (size_t b = 0; b < route->nbrokers && n < MASTERS_MAX; b++, n++) {
            addrs[n] = route->brokers[b].any;
            names[n] = route->brokers[b].name;
        }
    } else if (strcmp(topic, RK_SCHEDULE_TOPIC) == 0) {
        rk_api_out_t eo = {0};
        info = cluster_info(sh, &eo);
        cJSON *table = cJSON_GetObjectItemCaseSensitive(info, "brokerAddrTable");
        for (cJSON *bd = table ? table->child : NULL; bd && n < MASTERS_MAX; bd = bd->next) {
            const char *a = rk_json_get_str(cJSON_GetObjectItemCaseSensitive(bd, "brokerAddrs"), "0");
            if (a != NULL) {
                addrs[n] = a;
                names[n++] = bd->string;
            }
        }
    } else {
        return -1;
    }
    int found = 0;
    for (size_t b = 0; b < n && found < max; b++) {
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_QUERY_MESSAGE), *resp = NULL;
        rk_cmd_ext_set(req, "topic", topic);
        rk_cmd_ext_set(req, "key", key);
        rk_cmd_ext_set_i64(req, "maxNum", max - found);
        rk_cmd_ext_set_i64(req, "beginTimestamp", begin);
        rk_cmd_ext_set_i64(req, "endTimestamp", end);
        if (uniq)
            rk_cmd_ext_set(req, "_UNIQUE_KEY_QUERY", "true");
        if (rk_mqclient_invoke(sh->mq, addrs[b], req, &resp) != RK_OK || resp->code != RK_RESP_SUCCESS) {
            rk_cmd_free(resp);
            continue;
        }
        uint8_t *raw = resp->body;
        size_t len = resp->body_len;
        resp->body = NULL;
        resp->body_len = 0;
        rk_cmd_free(resp);
        rk_msg_list_t *l = NULL;
        if (rk_msg_list_decode_skip(raw, len, true, &l) != RK_OK)
            continue;
        for (size_t i = 0; i < l->n && found < max; i++, found++) {
            cJSON *mj = msg_json(&l->msgs[i]);
            add_str(mj, "brokerName", names[b]);
            cJSON_AddItemToArray(arr, mj);
        }
        rk_msg_list_free(l);
    }
    if (route != NULL)
        rk_topic_route_release(route);
    cJSON_Delete(info);
    return found;
}

/* The message an offset message id names (VIEW_MESSAGE_BY_ID at its store host, if that is a
 * broker the name servers know); NULL when not found. */
static cJSON *view_by_offset_id(rk_console_shared_t *sh, const char *id)
{
    rk_host_t host;
    int64_t phys;
    if (rk_msgid_decode(id, &host, &phys) != RK_OK)
        return NULL;
    char addr[64];
    rk_host_format(&host, addr, sizeof addr);
    rk_api_out_t eo = {0};
    cJSON *info = cluster_info(sh, &eo);
    bool known = info != NULL && is_broker(info, addr);
    cJSON_Delete(info);
    if (!known)
        return NULL;
    rk_cmd_t *req = rk_mqclient_request(RK_REQ_VIEW_MESSAGE_BY_ID), *resp = NULL;
    rk_cmd_ext_set_i64(req, "offset", phys);
    if (rk_mqclient_invoke(sh->mq, addr, req, &resp) != RK_OK || resp->code != RK_RESP_SUCCESS) {
        rk_cmd_free(resp);
        return NULL;
    }
    uint8_t *raw = resp->body;
    size_t len = resp->body_len;
    resp->body = NULL;
    rk_cmd_free(resp);
    rk_msg_list_t *l = NULL;
    cJSON *j = NULL;
    if (rk_msg_list_decode_skip(raw, len, true, &l) == RK_OK && l->n > 0)
        j = msg_json(&l->msgs[0]);
    rk_msg_list_free(l);
    return j;
}

static bool valid_id(rk_api_out_t *o, const char *id)
{
    size_t n = id ? strlen(id) : 0;
    bool ok = n > 0 && n < RK_MSGID_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'A' && id[i] <= 'F') || (id[i] >= 'a' && id[i] <= 'f');
    if (!ok)
        rk__api_fail(o, 400, "a message id is 1..56 hex digits");
    return ok;
}

/* GET /api/messages/{id}[?topic=] */
static void api_message(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    rk_console_shared_t *sh = rk__console_shared(cs);
    const char *id = r->seg[1], *topic = rk__api_param(r, "topic");
    if (!valid_id(o, id) || (topic != NULL && !valid_name(o, "topic", topic)))
        return;
    cJSON *m = view_by_offset_id(sh, id);
    if (m == NULL && topic != NULL) {
        cJSON *arr = cJSON_CreateArray();
        if (query_index(sh, topic, id, true, 0, INT64_MAX, 1, arr) > 0)
            m = cJSON_DetachItemFromArray(arr, 0);
        cJSON_Delete(arr);
    }
    if (m == NULL)
        rk__api_fail(o, 404, "no message %s%s%s", id, topic ? " in topic " : " (a message id (UNIQ_KEY) needs ?topic=)",
                     topic ? topic : "");
    else
        o->json = m;
}

/* GET /api/messages/{id}/trace?topic=&group=: the message and its copies in the group's retry
 * path (SCHEDULE_TOPIC_XXXX while parked, %RETRY%group, %DLQ%group), which keep its UNIQ_KEY. */
static void api_message_trace(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    rk_console_shared_t *sh = rk__console_shared(cs);
    const char *id = r->seg[1], *topic = rk__api_param(r, "topic"), *group = rk__api_param(r, "group");
    if (!valid_id(o, id) || !valid_name(o, "topic", topic) || !valid_name(o, "group", group))
        return;
    cJSON *orig = cJSON_CreateArray();
    if (query_index(sh, topic, id, true, 0, INT64_MAX, 1, orig) < 0) {
        cJSON_Delete(orig);
        rk__api_fail(o, 404, "no topic %.200s", topic);
        return;
    }
    o->json = cJSON_CreateObject();
    cJSON *m = cJSON_DetachItemFromArray(orig, 0);
    cJSON_Delete(orig);
    if (m == NULL) {
        cJSON_Delete(o->json);
        o->json = NULL;
        rk__api_fail(o, 404, "no message %s in topic %s", id, topic);
        return;
    }
    cJSON_AddItemToObject(o->json, "message", m);
    cJSON *copies = cJSON_AddArrayToObject(o->json, "copies");
    char t[RK_NAME_MAX + 8];
    static const struct { const char *prefix, *stage; } where[] = {
        {"", "scheduled"}, {RK_RETRY_PREFIX, "retry"}, {RK_DLQ_PREFIX, "dlq"}};
    for (size_t w = 0; w < 3; w++) {
        if (w == 0)
            snprintf(t, sizeof t, "%s", RK_SCHEDULE_TOPIC);
        else
            snprintf(t, sizeof t, "%s%s", where[w].prefix, group);
        cJSON *arr = cJSON_CreateArray();
        query_index(sh, t, id, true, 0, INT64_MAX, 32, arr);
        cJSON *c;
        while ((c = cJSON_DetachItemFromArray(arr, 0)) != NULL) {
            add_str(c, "stage", where[w].stage);
            cJSON_AddItemToArray(copies, c);
        }
        cJSON_Delete(arr);
    }
}

static int cmp_mq(const void *a, const void *b)
{
    return rk_mq_cmp(a, b);
}

/* The first offset in [min, max] whose message was stored at or after ts (max: none), from the
 * broker's search answer `guess`. The search answers a message near ts, not always at or after
 * it, and with several stored in ts's millisecond (a batch has one store time) any of them: so
 * walk forward past messages stored before ts, then back over those stored at or after it, in
 * pulls of WALK_BATCH, at most WALK_MAX pulls each way (past that, the bound is approximate).
 * Every page computes the same bounds, so pages neither overlap nor leave a gap. */
#define WALK_BATCH 8
#define WALK_MAX 128
static void first_at_or_after(rk_pull_consumer_t *pc, const rk_mq_t *mq, int64_t guess, int64_t min, int64_t max,
                              int64_t ts, int64_t *out)
{
    int64_t off = guess < min ? min : guess > max ? max : guess;
    for (int k = 0; k < WALK_MAX && off < max; k++) {
        rk_pull_result_t pr;
        if (rk_pull_consumer_pull(pc, mq, "*", off, WALK_BATCH, 0, &pr) != RK_OK)
            break;
        int64_t next = off;
        bool found = false;
        for (size_t i = 0; pr.status == RK_PULL_FOUND && i < pr.msgs->n && !found; i++) {
            const rk_msg_ext_t *m = &pr.msgs->msgs[i];
            if (m->queue_offset < next)
                continue;
            if (m->store_ts >= ts) {
                next = m->queue_offset;
                found = true;
            } else {
                next = m->queue_offset + 1;
            }
        }
        rk_pull_result_free(&pr);
        bool moved = next != off;
        off = next > max ? max : next;
        if (found || !moved)
            break;
    }
    for (int k = 0; k < WALK_MAX && off > min; k++) {
        int64_t from = off - WALK_BATCH > min ? off - WALK_BATCH : min, first = off;
        rk_pull_result_t pr;
        if (rk_pull_consumer_pull(pc, mq, "*", from, (int)(off - from), 0, &pr) != RK_OK)
            break;
        bool before = false;            /* a message stored before ts: off follows the last one */
        for (size_t i = 0; pr.status == RK_PULL_FOUND && i < pr.msgs->n; i++) {
            const rk_msg_ext_t *m = &pr.msgs->msgs[i];
            if (m->queue_offset < from || m->queue_offset >= off)
                continue;
            if (m->queue_offset < first)
                first = m->queue_offset;
            if (m->store_ts < ts) {
                before = true;
                first = m->queue_offset + 1;
            }
        }
        rk_pull_result_free(&pr);
        if (before) {
            off = first;
            break;
        }
        bool whole = first == from;     /* every message of [from, off) was read, all at or after ts */
        off = first;
        if (!whole)
            break;
    }
    *out = off;
}

/* GET /api/messages?topic=&key= (by key) or ?topic=&begin=&end=&page=&pageSize= (by time). */
static void api_messages(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    rk_console_shared_t *sh = rk__console_shared(cs);
    const char *topic = rk__api_param(r, "topic"), *key = rk__api_param(r, "key");
    if (!valid_name(o, "topic", topic))
        return;
    int64_t now = rk_now_ms(), begin, end, page, size;
    int64_t maxpage = sh->cfg.max_results < 100 ? sh->cfg.max_results : 100;
    if (!param_i64(r, o, "end", now, 0, INT64_MAX / 2, &end) ||
        !param_i64(r, o, "begin", end > 3600000 ? end - 3600000 : 0, 0, INT64_MAX / 2, &begin) ||
        !param_i64(r, o, "page", 0, 0, 1000000, &page) || !param_i64(r, o, "pageSize", 20, 1, maxpage, &size))
        return;
    if (begin > end) {
        rk__api_fail(o, 400, "begin is after end");
        return;
    }
    if (key != NULL) {
        if (!*key || strlen(key) > 255) {
            rk__api_fail(o, 400, "key must be 1..255 bytes");
            return;
        }
        cJSON *arr = cJSON_CreateArray();
        int n = query_index(sh, topic, key, false, rk__api_param(r, "begin") ? begin : 0,
                            rk__api_param(r, "end") ? end : INT64_MAX, (int)maxpage, arr);
        if (n < 0) {
            cJSON_Delete(arr);
            rk__api_fail(o, 404, "no topic %.200s", topic);
            return;
        }
        o->json = cJSON_CreateObject();
        add_i64(o->json, "total", n);
        cJSON_AddItemToObject(o->json, "messages", arr);
        return;
    }
    /* by time: [begin, end) of each queue as offsets, then the page's slice of their sum */
    rk_pull_consumer_config_t pcfg = {.namesrv = sh->cfg.namesrv, .group = "TOOLS_CONSUMER",
                                      .instance_name = "mqconsole"};
    rk_pull_consumer_t *pc = NULL;
    if (rk_pull_consumer_new(&pcfg, &pc) != RK_OK) {
        rk__api_fail(o, 500, "could not make a pull consumer");
        return;
    }
    rk_mq_t *qs = NULL;
    size_t nq = 0;
    if (rk_pull_consumer_queues(pc, topic, &qs, &nq) != RK_OK) {
        rk__api_fail(o, 404, "no topic %.200s", topic);
        rk_pull_consumer_free(pc);
        return;
    }
    if (nq > 1)                         /* one order for every page: pages must not overlap */
        qsort(qs, nq, sizeof *qs, cmp_mq);
    int64_t *lo = calloc(nq + 1, sizeof *lo), *hi = calloc(nq + 1, sizeof *hi), total = 0;
    for (size_t q = 0; lo && hi && q < nq; q++) {
        if (rk_pull_consumer_search_offset(pc, &qs[q], begin, &lo[q]) != RK_OK ||
            rk_pull_consumer_search_offset(pc, &qs[q], end, &hi[q]) != RK_OK) {
            rk__api_fail(o, 502, "searching offsets by time in %s queue %d failed", qs[q].broker, qs[q].queue_id);
            goto out;
        }
        /* lo: the first message stored at or after begin, hi: the first at or after end */
        int64_t max = 0, min = 0;
        if (rk_pull_consumer_max_offset(pc, &qs[q], &max) != RK_OK)
            max = hi[q];
        if (rk_pull_consumer_min_offset(pc, &qs[q], &min) != RK_OK || min > max)
            min = 0;
        first_at_or_after(pc, &qs[q], lo[q], min, max, begin, &lo[q]);
        first_at_or_after(pc, &qs[q], hi[q], min, max, end, &hi[q]);
        if (hi[q] < lo[q])
            hi[q] = lo[q];
        total += hi[q] - lo[q];
    }
    if (lo == NULL || hi == NULL) {
        rk__api_fail(o, 500, "out of memory");
        goto out;
    }
    o->json = cJSON_CreateObject();
    add_i64(o->json, "total", total);
    add_i64(o->json, "page", page);
    add_i64(o->json, "pageSize", size);
    cJSON *arr = cJSON_AddArrayToObject(o->json, "messages");
    int64_t skip = page * size, want = size;
    for (size_t q = 0; q < nq && want > 0; q++) {
        int64_t cnt = hi[q] - lo[q];
        if (skip >= cnt) {
            skip -= cnt;
            continue;
        }
        int64_t off = lo[q] + skip;
        skip = 0;
        while (off < hi[q] && want > 0) {
            rk_pull_result_t pr;
            int batch = (int)(want < 32 ? want : 32);
            if (rk_pull_consumer_pull(pc, &qs[q], "*", off, batch, 0, &pr) != RK_OK)
                break;
            if (pr.status != RK_PULL_FOUND) {
                rk_pull_result_free(&pr);
                break;
            }
            for (size_t i = 0; i < pr.msgs->n && want > 0 && pr.msgs->msgs[i].queue_offset < hi[q]; i++) {
                cJSON_AddItemToArray(arr, msg_json(&pr.msgs->msgs[i]));
                want--;
            }
            off = pr.next_offset > off ? pr.next_offset : off + 1;
            rk_pull_result_free(&pr);
        }
    }
out:
    free(lo);
    free(hi);
    free(qs);
    rk_pull_consumer_free(pc);
}

/* ------------------------------------------------------------------ DLQ */

typedef struct dlq_list {
    cJSON *arr;
} dlq_list_t;

static int dlq_add(void *ctx, const rk_msg_ext_t *m)
{
    dlq_list_t *x = ctx;
    cJSON *j = msg_json(m);
    char v[RK_NAME_MAX > 128 ? RK_NAME_MAX : 128];
    if (rk_msg_prop(m, RK_PROP_RETRY_TOPIC, v, sizeof v) == RK_OK)
        add_str(j, "originTopic", v);
    if (rk_msg_prop(m, RK_PROP_ORIGIN_MESSAGE_ID, v, sizeof v) == RK_OK)
        add_str(j, "originMsgId", v);
    cJSON_AddItemToArray(x->arr, j);
    return 0;
}

/* GET /api/dlq/{group}?from=&limit=: dead letters from queue offset `from`; nextFrom pages on. */
static void api_dlq(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    rk_console_shared_t *sh = rk__console_shared(cs);
    const char *group = r->seg[1];
    int64_t from, limit;
    int64_t maxpage = sh->cfg.max_results < 100 ? sh->cfg.max_results : 100;
    if (!valid_name(o, "group", group) || !param_i64(r, o, "from", 0, 0, INT64_MAX / 2, &from) ||
        !param_i64(r, o, "limit", 20, 1, maxpage, &limit))
        return;
    dlq_list_t x = {.arr = cJSON_CreateArray()};
    char err[512] = "";
    int64_t next = from;
    int rc = rk_dlq_each(&(rk_dlq_client_t){.namesrv = sh->cfg.namesrv}, group, from, limit, dlq_add, &x, &next, err, sizeof err);
    if (rc == RK_ENOTFOUND) {
        rk__api_fail(o, 404, "%s", err);
        cJSON_Delete(x.arr);
        return;
    }
    if (rc != RK_OK) {
        rk__api_fail(o, 502, "%s", err);
        cJSON_Delete(x.arr);
        return;
    }
    o->json = cJSON_CreateObject();
    add_str(o->json, "group", group);
    add_i64(o->json, "nextFrom", next);
    cJSON_AddItemToObject(o->json, "messages", x.arr);
}

typedef struct resend_ctx {
    rk_producer_t *p;
    const char *group, *id;
    cJSON *done;
    char err[300];
} resend_ctx_t;

static int resend_one(void *arg, const rk_msg_ext_t *m)
{
    resend_ctx_t *x = arg;
    if (x->id != NULL && strcmp(x->id, m->offset_msg_id) != 0 && strcmp(x->id, m->msg_id) != 0)
        return 0;
    rk_send_result_t sr;
    int rc = rk_dlq_resend(x->p, x->group, m, &sr);
    if (rc == RK_ENOTFOUND)
        return 0;                       /* not from the retry path: skipped, as mqadmin */
    if (rc != RK_OK) {
        snprintf(x->err, sizeof x->err, "resending %s failed: %.200s", m->offset_msg_id, sr.error);
        return 1;
    }
    cJSON *e = cJSON_CreateObject();
    add_str(e, "offsetMsgId", m->offset_msg_id);
    add_str(e, "msgId", m->msg_id);
    add_str(e, "newOffsetMsgId", sr.offset_msg_id);
    cJSON_AddItemToArray(x->done, e);
    return 0;
}

/* POST /api/dlq/{group}/resend {"msgId":"..."} or {"all":true[,"from":N]} */
static void api_dlq_resend(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    rk_console_shared_t *sh = rk__console_shared(cs);
    const char *group = r->seg[1], *id = rk_json_get_str(r->body, "msgId");
    bool all = false;
    rk_json_get_bool(r->body, "all", &all);
    int64_t from = 0;
    if (!valid_name(o, "group", group))
        return;
    if ((id == NULL) == !all || (id != NULL && !valid_id(o, id))) {
        if (o->status == 0)
            rk__api_fail(o, 400, "give either {\"msgId\":\"...\"} or {\"all\":true}");
        return;
    }
    if (cJSON_GetObjectItemCaseSensitive(r->body, "from") &&
        (rk_json_get_i64(r->body, "from", &from) != RK_OK || from < 0)) {
        rk__api_fail(o, 400, "from must be a queue offset >= 0");
        return;
    }
    resend_ctx_t x = {.group = group, .id = id, .done = cJSON_CreateArray()};
    rk_producer_config_t pc = {.namesrv = sh->cfg.namesrv, .group = "TOOLS_PRODUCER", .instance_name = "mqconsole"};
    if (rk_producer_new(&pc, &x.p) != RK_OK) {
        rk__api_fail(o, 500, "could not make a producer");
        cJSON_Delete(x.done);
        return;
    }
    char err[512] = "";
    int rc = rk_dlq_each(&(rk_dlq_client_t){.namesrv = sh->cfg.namesrv}, group, from, sh->cfg.max_results, resend_one, &x, NULL, err, sizeof err);
    rk_producer_free(x.p);
    if (rc == RK_ENOTFOUND)
        rk__api_fail(o, 404, "%s", err);
    else if (rc != RK_OK)
        rk__api_fail(o, 502, "%s", x.err[0] ? x.err : err);
    else if (id != NULL && cJSON_GetArraySize(x.done) == 0)
        rk__api_fail(o, 404, "no message %s in %s%s", id, RK_DLQ_PREFIX, group);
    if (o->status != 0) {
        cJSON_Delete(x.done);
        return;
    }
    o->json = cJSON_CreateObject();
    add_str(o->json, "group", group);
    add_i64(o->json, "resent", cJSON_GetArraySize(x.done));
    cJSON_AddItemToObject(o->json, "messages", x.done);
}

/* ------------------------------------------------------------------ delayed, half messages, TPS */

/* One master's entry of /api/delayed: each level's backlog, and chapter 10's timer figures. */
static bool delayed_fill(rk_console_shared_t *sh, const char *addr, const rk_cmd_t *resp, cJSON *b)
{
    cJSON *d = rk_json_parse((const char *)resp->body, resp->body_len);
    if (d == NULL)
        return false;
    cJSON *levels = cJSON_AddArrayToObject(b, "levels");
    int64_t pending = 0;
    cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "offsetTable");
    for (cJSON *e = t ? t->child : NULL; e; e = e->next) {
        long level = e->string ? strtol(e->string, NULL, 10) : 0;
        if (level < 1 || level > RK_DELAY_LEVEL_MAX || !cJSON_IsNumber(e))
            continue;
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_GET_MAX_OFFSET);
        rk_cmd_ext_set(req, "topic", RK_SCHEDULE_TOPIC);
        rk_cmd_ext_set_i64(req, "queueId", level - 1);
        rk_api_out_t eo = {0};
        rk_cmd_t *mresp = ask(sh, addr, req, &eo, "max offset");
        const char *v = mresp ? rk_cmd_ext_get(mresp, "offset") : NULL;
        int64_t max = v ? strtoll(v, NULL, 10) : 0, delivered = (int64_t)e->valuedouble;
        rk_cmd_free(mresp);
        cJSON *l = cJSON_CreateObject();
        add_i64(l, "level", level);
        add_i64(l, "maxOffset", max);
        add_i64(l, "deliveredOffset", delivered);
        add_i64(l, "pending", max > delivered ? max - delivered : 0);
        cJSON_AddItemToArray(levels, l);
        pending += max > delivered ? max - delivered : 0;
    }
    add_i64(b, "pending", pending);
    /* chapter 10's timer store reports itself in the runtime table (timer...): passed on */
    rk_api_out_t eo = {0};
    cJSON *kv = kv_table(sh, addr, &eo);
    cJSON *timer = cJSON_CreateObject();
    for (cJSON *e = kv ? kv->child : NULL; e; e = e->next)
        if (e->string && strncasecmp(e->string, "timer", 5) == 0 && cJSON_IsString(e))
            add_str(timer, e->string, e->valuestring);
    cJSON_AddItemToObject(b, "timer", timer);
    cJSON_Delete(kv);
    cJSON_Delete(d);
    return true;
}

/* GET /api/delayed: per master and delay level, messages parked in SCHEDULE_TOPIC_XXXX and not
 * yet delivered (the level's queue max offset minus the delivery offset, GET_ALL_DELAY_OFFSET). */
static void api_delayed(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    each_master(rk__console_shared(cs), r, o, REQ_GET_ALL_DELAY_OFFSET, NULL, NULL, "delay offsets", delayed_fill);
}

/* One master's entry of /api/transactions: its producer groups with half messages. */
static bool transactions_fill(rk_console_shared_t *sh, const char *addr, const rk_cmd_t *resp, cJSON *b)
{
    (void)addr;
    cJSON *d = rk_json_parse((const char *)resp->body, resp->body_len);
    if (d == NULL)
        return false;
    cJSON *groups = cJSON_AddArrayToObject(b, "groups");
    cJSON *g = cJSON_GetObjectItemCaseSensitive(d, "groups");
    for (cJSON *e = g ? g->child : NULL; e && cJSON_GetArraySize(groups) < sh->cfg.max_results; e = e->next) {
        cJSON *x = cJSON_CreateObject();
        add_str(x, "producerGroup", rk_json_get_str(e, "producerGroup"));
        static const char *const keys[] = {"pending", "checkTimes", "oldestStoreTimestamp", NULL};
        for (size_t k = 0; keys[k]; k++) {
            int64_t v = 0;
            rk_json_get_i64(e, keys[k], &v);
            add_i64(x, keys[k], v);
        }
        cJSON_AddItemToArray(groups, x);
    }
    cJSON_Delete(d);
    return true;
}

/* GET /api/transactions: half messages waiting for a commit or rollback, per master and
 * producer group (rocklet's QUERY_TXN_PENDING 10501: {"groups":[{"producerGroup","pending",
 * "checkTimes","oldestStoreTimestamp"}]}). */
static void api_transactions(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    each_master(rk__console_shared(cs), r, o, REQ_QUERY_TXN_PENDING, NULL, NULL, "half messages pending",
                transactions_fill);
}

/* GET /api/tps: live producer TPS per broker (its putTps) and consumer TPS (the rate of all
 * committed offsets, from the broker's consumer offset table). */
static void api_tps(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    rk_console_shared_t *sh = rk__console_shared(cs);
    const char *addrs[MASTERS_MAX];
    size_t n = 0;
    cJSON *info = pick_masters(sh, r, o, addrs, &n);
    if (info == NULL)
        return;
    int64_t now = rk_now_ms();
    cJSON *brokers = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddItemToArray(brokers, b);
        add_str(b, "broker", addrs[i]);
        rk_api_out_t eo = {0};
        cJSON *kv = kv_table(sh, addrs[i], &eo);
        if (kv == NULL) {
            add_str(b, "error", eo.error);
            continue;
        }
        cJSON_AddNumberToObject(b, "producerTps", kv_double(kv, "putTps"));
        add_i64(b, "msgPutTotalTodayNow", kv_i64(kv, "msgPutTotalTodayNow", 0));
        cJSON_Delete(kv);
        cJSON *offs = rk__all_offsets(sh, addrs[i], &eo);
        int64_t consumed = 0;
        cJSON *t = cJSON_GetObjectItemCaseSensitive(offs, "offsetTable");
        for (cJSON *tg = t ? t->child : NULL; tg; tg = tg->next)
            for (cJSON *q = tg->child; q; q = q->next)
                if (cJSON_IsNumber(q))
                    consumed += (int64_t)q->valuedouble;
        cJSON_Delete(offs);
        char key[128];
        snprintf(key, sizeof key, "tps-consumed/%s", addrs[i]);
        double tps = rk__console_rate(sh, key, consumed, now);
        cJSON_AddNumberToObject(b, "consumerTps", tps < 0 ? 0 : tps);
    }
    cJSON_Delete(info);
    o->json = cJSON_CreateObject();
    add_i64(o->json, "timestamp", now);
    cJSON_AddItemToObject(o->json, "brokers", brokers);
}

/* ------------------------------------------------------------------ rates */

double rk__console_rate(rk_console_shared_t *sh, const char *key, int64_t v, int64_t now_ms)
{
    double out = -1;
    uv_mutex_lock(&sh->rates_mu);
    rk__rate_t *s = rk_strmap_get(&sh->rates, key);
    if (s == NULL) {
        if (sh->nrates < 100000 && (s = calloc(1, sizeof *s)) != NULL) {
            rk__rate_update(s, v, now_ms);
            if (rk_strmap_put(&sh->rates, key, s, NULL) != RK_OK)
                free(s);
            else
                sh->nrates++;
        }
    } else {
        out = rk__rate_update(s, v, now_ms);
    }
    uv_mutex_unlock(&sh->rates_mu);
    return out;
}

/* ------------------------------------------------------------------ routes */

const rk_api_route_t rk__console_routes[] = {
    {RK_API_GET, "", api_index, false},
    {RK_API_GET, "cluster", api_cluster, false},
    {RK_API_GET, "brokers/*", api_broker, false},
    {RK_API_GET, "tps", api_tps, false},
    {RK_API_GET, "topics", api_topics, false},
    {RK_API_POST, "topics", api_topic_create, true},
    {RK_API_DELETE, "topics/*", api_topic_delete, true},
    {RK_API_GET, "topics/*/route", api_topic_route, false},
    {RK_API_GET, "topics/*/status", api_topic_status, false},
    {RK_API_GET, "topics/*/consumers", api_topic_consumers, false},
    {RK_API_GET, "groups", api_groups, false},
    {RK_API_GET, "groups/*", api_group, false},
    {RK_API_GET, "groups/*/connections", api_group_connections, false},
    {RK_API_GET, "groups/*/running", api_group_running, false},
    {RK_API_POST, "groups/*/reset-offset", api_reset_offset, true},
    {RK_API_GET, "producers/*/connections", api_producer_connections, false},
    {RK_API_GET, "consume-stats", api_consume_stats, false},
    {RK_API_GET, "messages", api_messages, false},
    {RK_API_GET, "messages/*", api_message, false},
    {RK_API_GET, "messages/*/trace", api_message_trace, false},
    {RK_API_GET, "dlq/*", api_dlq, false},
    {RK_API_POST, "dlq/*/resend", api_dlq_resend, true},
    {RK_API_GET, "delayed", api_delayed, false},
    {RK_API_GET, "transactions", api_transactions, false},
    {0, NULL, NULL, false},
};

/* ------------------------------------------------------------------ for /metrics */

cJSON *rk__ask_json(rk_console_shared_t *sh, const char *addr, rk_cmd_t *req, rk_api_out_t *o, const char *what)
{
    return ask_json(sh, addr, req, o, what);
}

cJSON *rk__kv_table(rk_console_shared_t *sh, const char *addr, rk_api_out_t *o)
{
    return kv_table(sh, addr, o);
}

/* GET_ALL_CONSUMER_OFFSET makes the broker write consumerOffset.json before it answers: the
 * answer is kept OFFSETS_REUSE_MS per broker, so however many pages and scrapers ask, a broker
 * writes it for the console at most that often. */
#define OFFSETS_REUSE_MS 2000

typedef struct offsets_cache {
    char *text;
    size_t len;
    int64_t at;
} offsets_cache_t;

cJSON *rk__all_offsets(rk_console_shared_t *sh, const char *addr, rk_api_out_t *o)
{
    int64_t now = rk_now_ms();
    uv_mutex_lock(&sh->offsets_mu);
    offsets_cache_t *c = rk_strmap_get(&sh->offsets, addr);
    if (c != NULL && now - c->at < OFFSETS_REUSE_MS) {
        cJSON *j = rk_json_parse(c->text, c->len);
        uv_mutex_unlock(&sh->offsets_mu);
        if (j == NULL)
            rk__api_fail(o, 500, "out of memory");
        return j;
    }
    uv_mutex_unlock(&sh->offsets_mu);
    rk_cmd_t *resp = ask(sh, addr, rk_mqclient_request(43), o, "consumer offsets");
    if (resp == NULL)
        return NULL;
    cJSON *j = rk_json_parse((const char *)resp->body, resp->body_len);
    if (j == NULL) {
        rk__api_fail(o, 502, "consumer offsets: the answer of %s is not JSON", addr);
        rk_cmd_free(resp);
        return NULL;
    }
    uv_mutex_lock(&sh->offsets_mu);
    c = rk_strmap_get(&sh->offsets, addr);
    if (c == NULL && sh->noffsets < 1024 && (c = calloc(1, sizeof *c)) != NULL) {
        if (rk_strmap_put(&sh->offsets, addr, c, NULL) != RK_OK) {
            free(c);
            c = NULL;
        } else {
            sh->noffsets++;
        }
    }
    char *copy = c ? malloc(resp->body_len + 1) : NULL;
    if (copy != NULL) {
        memcpy(copy, resp->body, resp->body_len);
        free(c->text);
        c->text = copy;
        c->len = resp->body_len;
        c->at = now;
    }
    uv_mutex_unlock(&sh->offsets_mu);
    rk_cmd_free(resp);
    return j;
}

void rk__offsets_cache_free(rk_console_shared_t *sh)
{
    size_t n = 0;
    const char **keys = rk_strmap_keys_sorted(&sh->offsets, &n);
    for (size_t i = 0; keys && i < n; i++) {
        offsets_cache_t *c = rk_strmap_get(&sh->offsets, keys[i]);
        if (c != NULL) {
            free(c->text);
            free(c);
        }
    }
    free(keys);
    rk_strmap_free(&sh->offsets, NULL);
}
