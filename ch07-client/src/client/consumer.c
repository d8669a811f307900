/* consumer.c — pull consumer, push consumer (rebalance, long-poll pulls,
 * thread pool, concurrent and orderly listeners, offsets). */
#include "rk/consumer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "rk/client_message.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/hash.h"
#include "rk/idle_pool.h"
#include "rk/json.h"
#include "rk/log.h"
#include "rk/request_code.h"
#include "rk/strmap.h"
#include "rk/names.h"
#include "rk/thread.h"

#define SUSPEND_MS 15000                /* how long the broker may hold a pull */
#define PULL_TIMEOUT_MS 30000           /* longer than the hold */
#define FLOW_LIMIT 1000                 /* cached messages per queue before pulls pause */
#define FLOW_DELAY_MS 50
#define ERROR_DELAY_MS 1000             /* after a failed pull, or an orderly queue not locked */
#define MASTER_AVOID_MS 5000            /* read from a slave this long after the master failed a pull */
#define RETRY_LOCAL_MS 1000             /* consume again here when the broker cannot take it back */
#define SPREAD_NS 200000                /* a concurrent job's calls spread over the pool after this long */
#define MAX_SUBS 32
#define SPARE_MAX 16                    /* consumed pulls' message lists kept for reuse */
#define QUICK_FIRST_MS 200              /* a topic with no route yet: look again after this, */
#define QUICK_MAX_MS 2000               /* doubling up to this, until it has one */
#define MQKEY_MAX (2 * RK_NAME_MAX + 16)

/* ------------------------------------------------------------ allocation, tags */

size_t rk_allocate_avg(size_t nqueues, const char *const *cids, size_t ncids, const char *me, size_t *out)
{
    long idx = -1;
    for (size_t i = 0; i < ncids; i++)
        if (strcmp(cids[i], me) == 0)
            idx = (long)i;
    if (idx < 0 || nqueues == 0)
        return 0;
    long nq = (long)nqueues, nc = (long)ncids;
    long mod = nq % nc;
    long avg = nq <= nc ? 1 : (mod > 0 && idx < mod ? nq / nc + 1 : nq / nc);
    long start = (mod > 0 && idx < mod) ? idx * avg : idx * avg + mod;
    long range = avg < nq - start ? avg : nq - start;
    size_t k = 0;
    for (long i = 0; i < range; i++)
        out[k++] = (size_t)((start + i) % nq);
    return k;
}

bool rk_tag_matches(const char *expr, const char *tag)
{
    if (expr == NULL)
        return true;
    while (*expr == ' ')
        expr++;
    if (*expr == '\0' || strcmp(expr, "*") == 0)
        return true;
    if (tag == NULL)
        tag = "";
    size_t tlen = strlen(tag);
    const char *p = expr;
    while (*p) {
        const char *end = strstr(p, "||");
        const char *stop = end ? end : p + strlen(p);
        const char *a = p, *b = stop;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        if ((size_t)(b - a) == tlen && tlen > 0 && memcmp(a, tag, tlen) == 0)
            return true;
        if (end == NULL)
            break;
        p = end + 2;
    }
    return false;
}

/* ------------------------------------------------------------ shared requests */

static int errf(char *buf, size_t len, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int errf(char *buf, size_t len, int rc, const char *fmt, ...)
{
    if (buf != NULL && len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static rk_cmd_t *mq_request(int32_t code, const char *group, const rk_mq_t *mq)
{
    rk_cmd_t *req = rk_mqclient_request(code);
    if (req == NULL)
        return NULL;
    int rc = group ? rk_cmd_ext_set(req, "consumerGroup", group) : RK_OK;
    if (rc == RK_OK) rc = rk_cmd_ext_set(req, "topic", mq->topic);
    if (rc == RK_OK) rc = rk_cmd_ext_set_i64(req, "queueId", mq->queue_id);
    if (rc != RK_OK) {
        rk_cmd_free(req);
        return NULL;
    }
    return req;
}

/* Where offsets and queue facts of mq are asked: RocketMQ's
 * RemoteBrokerOffsetStore — the master (findBrokerAddressInSubscribe(name,
 * 0, true)); when the route has none, the route is refreshed and, still
 * none, the lowest slave (onlyThisBroker = false): offsets are committed to
 * the slave while the master is gone. */
static bool offset_addr(rk_mqclient_t *c, const rk_mq_t *mq, char *addr, size_t len)
{
    bool slave;
    if (rk_mqclient_find_addr(c, mq->broker, 0, true, addr, len, &slave) ||
        rk_mqclient_master_addr(c, mq->broker, addr, len))
        return true;
    rk_topic_route_t *r = NULL;
    if (rk_mqclient_route(c, mq->topic, true, &r) == RK_OK)
        rk_topic_route_release(r);
    return rk_mqclient_find_addr(c, mq->broker, 0, false, addr, len, &slave) ||
           rk_mqclient_master_addr(c, mq->broker, addr, len);
}

/* Sends req (consumed) to mq's master (or its slave, see offset_addr). */
static int call_broker(rk_mqclient_t *c, const rk_mq_t *mq, rk_cmd_t *req, rk_cmd_t **resp)
{
    *resp = NULL;
    if (req == NULL)
        return RK_ENOMEM;
    char addr[RK_ADDR_MAX];
    if (!offset_addr(c, mq, addr, sizeof addr)) {
        rk_cmd_free(req);
        return RK_ENOTFOUND;
    }
    return rk_mqclient_invoke(c, addr, req, resp);
}

static int offset_call(rk_mqclient_t *c, int32_t code, const char *group, const rk_mq_t *mq, const char *k,
                       int64_t v, int64_t *out)
{
    rk_cmd_t *req = mq_request(code, group, mq), *resp;
    if (req != NULL && k != NULL && rk_cmd_ext_set_i64(req, k, v) != RK_OK) {
        rk_cmd_free(req);
        req = NULL;
    }
    int rc = call_broker(c, mq, req, &resp);
    if (rc != RK_OK)
        return rc;
    if (resp->code == RK_RESP_QUERY_NOT_FOUND)
        rc = RK_ENOTFOUND;
    else if (resp->code != RK_RESP_SUCCESS)
        rc = rk_mqclient_resp_error(resp->code);
    else if (out != NULL && rk_cmd_ext_i64(resp, "offset", out) != RK_OK)
        rc = RK_EPROTO;
    rk_cmd_free(resp);
    return rc;
}

static int query_offset(rk_mqclient_t *c, const char *group, const rk_mq_t *mq, int64_t *out)
{
    return offset_call(c, RK_REQ_QUERY_CONSUMER_OFFSET, group, mq, NULL, 0, out);
}

static int update_offset(rk_mqclient_t *c, const char *group, const rk_mq_t *mq, int64_t off, bool oneway)
{
    if (!oneway)
        return offset_call(c, RK_REQ_UPDATE_CONSUMER_OFFSET, group, mq, "commitOffset", off, NULL);
    rk_cmd_t *req = mq_request(RK_REQ_UPDATE_CONSUMER_OFFSET, group, mq);
    if (req == NULL || rk_cmd_ext_set_i64(req, "commitOffset", off) != RK_OK) {
        rk_cmd_free(req);
        return RK_ENOMEM;
    }
    char addr[RK_ADDR_MAX];
    if (!offset_addr(c, mq, addr, sizeof addr)) {
        rk_cmd_free(req);
        return RK_ENOTFOUND;
    }
    return rk_rclient_invoke_oneway(rk_mqclient_remoting(c), addr, req);
}

static rk_cmd_t *pull_request(const char *group, const rk_mq_t *mq, int64_t offset, int max, int sys_flag,
                              int64_t commit, int suspend_ms, const char *expr, int64_t sub_version)
{
    rk_cmd_t *req = mq_request(RK_REQ_PULL_MESSAGE, group, mq);
    if (req == NULL)
        return NULL;
    int rc = rk_cmd_ext_set_i64(req, "queueOffset", offset);
    if (rc == RK_OK) rc = rk_cmd_ext_set_i64(req, "maxMsgNums", max);
    if (rc == RK_OK) rc = rk_cmd_ext_set_i64(req, "sysFlag", sys_flag);
    if (rc == RK_OK) rc = rk_cmd_ext_set_i64(req, "commitOffset", commit);
    if (rc == RK_OK) rc = rk_cmd_ext_set_i64(req, "suspendTimeoutMillis", suspend_ms);
    if (rc == RK_OK) rc = rk_cmd_ext_set(req, "subscription", expr && *expr ? expr : "*");
    if (rc == RK_OK) rc = rk_cmd_ext_set_i64(req, "subVersion", sub_version);
    if (rc == RK_OK) rc = rk_cmd_ext_set(req, "expressionType", "TAG");
    if (rc != RK_OK) {
        rk_cmd_free(req);
        return NULL;
    }
    return req;
}

/* suggestWhichBrokerId of a pull response (PullAPIWrapper.processPullResult
 * -> updatePullFromWhichNode), or -1 when absent or not a broker id. */
static int64_t pull_suggest(const rk_cmd_t *resp)
{
    int64_t id = -1;
    if (resp == NULL ||
        (resp->code != RK_RESP_SUCCESS && resp->code != RK_RESP_PULL_NOT_FOUND &&
         resp->code != RK_RESP_PULL_RETRY_IMMEDIATELY && resp->code != RK_RESP_PULL_OFFSET_MOVED) ||
        rk_cmd_ext_i64(resp, "suggestWhichBrokerId", &id) != RK_OK || id < 0 || id > 1000000)
        return -1;
    return id;
}

/* Logs what a decode left out, with where it was, at ERROR: damaged data
 * must be seen, even though consuming moves on past it. */
static void report_bad(const rk_msg_list_t *l, const rk_mq_t *mq, int64_t offset)
{
    size_t shown = l->nbad < RK_MSG_BAD_MAX ? l->nbad : RK_MSG_BAD_MAX;
    for (size_t i = 0; i < shown; i++) {
        const rk_msg_bad_t *b = &l->bad[i];
        if (b->queue_offset >= 0)
            rk_log_error("consumer", "%s queue %d of %s: record at offset %" PRId64 " skipped: %s (%zu bytes)",
                         mq->topic, mq->queue_id, mq->broker, b->queue_offset, b->why, b->len);
        else
            rk_log_error("consumer", "%s queue %d of %s: %zu damaged bytes after offset %" PRId64 " skipped: %s",
                         mq->topic, mq->queue_id, mq->broker, b->len,
                         b->prev_offset >= 0 ? b->prev_offset : offset - 1, b->why);
    }
    if (l->nbad > shown)
        rk_log_error("consumer", "%s queue %d of %s: %zu more damaged records skipped in the pull from offset %" PRId64,
                     mq->topic, mq->queue_id, mq->broker, l->nbad - shown, offset);
}

/* rk_pull_result_decode, reusing spare's blocks (rk_msg_list_decode_reusing;
 * NULL: none; always consumed). */
static int pull_result_decode(rk_cmd_t *resp, const rk_mq_t *mq, const char *expr, int64_t offset, bool check_crc,
                              rk_msg_list_t *spare, rk_pull_result_t *r)
{
    if (resp->code != RK_RESP_SUCCESS) {
        rk_msg_list_free(spare);
        spare = NULL;
    }
    memset(r, 0, sizeof *r);
    r->next_offset = r->min_offset = r->max_offset = -1;
    rk_cmd_ext_i64(resp, "nextBeginOffset", &r->next_offset);
    rk_cmd_ext_i64(resp, "minOffset", &r->min_offset);
    rk_cmd_ext_i64(resp, "maxOffset", &r->max_offset);
    switch (resp->code) {
    case RK_RESP_SUCCESS: break;
    case RK_RESP_PULL_NOT_FOUND: r->status = RK_PULL_NO_NEW_MSG; return RK_OK;
    case RK_RESP_PULL_RETRY_IMMEDIATELY: r->status = RK_PULL_NO_MATCHED_MSG; return RK_OK;
    case RK_RESP_PULL_OFFSET_MOVED: r->status = RK_PULL_OFFSET_ILLEGAL; return RK_OK;
    default: {
        char why[200];
        rk_mqclient_resp_describe(resp, why, sizeof why);
        return errf(r->error, sizeof r->error, rk_mqclient_resp_error(resp->code), "pull from %s queue %d: %s",
                    mq->broker, mq->queue_id, why);
    }
    }
    uint8_t *raw = resp->body;
    size_t len = resp->body_len, cap = resp->body_cap;
    resp->body = NULL;
    resp->body_len = resp->body_cap = 0;
    int rc = rk_msg_list_decode_reusing(raw, len, check_crc, spare, &r->msgs);
    if (rc != RK_OK)
        return errf(r->error, sizeof r->error, rc, "pull from %s queue %d: %s", mq->broker, mq->queue_id,
                    rk_strerror(rc));
    r->msgs->raw_cap = cap;
    r->skipped = r->msgs->nbad;
    if (r->msgs->nbad > 0)
        report_bad(r->msgs, mq, offset);
    if (r->msgs->cut) {
        /* nothing after the damage was read: pull again from just past the
         * last good record (or one past the requested offset when the very
         * first record is the damaged one), never from the broker's next
         * offset, which would skip the good records behind the damage */
        int64_t resume = r->msgs->last_offset >= 0 ? r->msgs->last_offset + 1 : offset + 1;
        if (resume <= offset)
            resume = offset + 1;
        if (r->next_offset > offset && resume > r->next_offset)
            resume = r->next_offset;
        r->next_offset = resume;
    }
    size_t k = 0, blen = strnlen(mq->broker, sizeof r->msgs->msgs[0].broker - 1);
    bool all = expr == NULL || strcmp(expr, "*") == 0 || expr[0] == '\0';
    for (size_t i = 0; i < r->msgs->n; i++) {
        rk_msg_ext_t *m = &r->msgs->msgs[i];
        if (!all && !rk_tag_matches(expr, m->tags))
            continue;
        memcpy(m->broker, mq->broker, blen);   /* no snprintf per message */
        m->broker[blen] = '\0';
        if (k != i)
            r->msgs->msgs[k] = *m;
        k++;
    }
    r->msgs->n = k;
    r->status = k > 0 ? RK_PULL_FOUND : RK_PULL_NO_MATCHED_MSG;
    if (k == 0) {
        rk_msg_list_free(r->msgs);
        r->msgs = NULL;
    }
    return RK_OK;
}

int rk_pull_result_decode(rk_cmd_t *resp, const rk_mq_t *mq, const char *expr, int64_t offset, bool check_crc,
                          rk_pull_result_t *r)
{
    return pull_result_decode(resp, mq, expr, offset, check_crc, NULL, r);
}

/* A pull answer into r (which then owns the messages); the messages whose
 * tag the expression does not match are dropped here, as the broker only
 * filters by tag hash. spare: as pull_result_decode. */
static int pull_parse(int status, rk_cmd_t *resp, const rk_mq_t *mq, const char *expr, int64_t offset,
                      bool check_crc, rk_msg_list_t *spare, rk_pull_result_t *r)
{
    if (status != RK_OK) {
        rk_msg_list_free(spare);
        memset(r, 0, sizeof *r);
        r->next_offset = r->min_offset = r->max_offset = -1;
        return errf(r->error, sizeof r->error, status, "pull from %s queue %d: %s", mq->broker, mq->queue_id,
                    rk_strerror(status));
    }
    return pull_result_decode(resp, mq, expr, offset, check_crc, spare, r);
}

void rk_pull_result_free(rk_pull_result_t *r)
{
    if (r != NULL) {
        rk_msg_list_free(r->msgs);
        r->msgs = NULL;
    }
}

/* ------------------------------------------------------------ pull consumer */

struct rk_pull_consumer {
    rk_mqclient_t *c;
    char group[RK_NAME_MAX];
    bool check_crc;
    uv_mutex_t mu;
    rk_strmap_t suggest;                /* mq key -> int64_t* broker id the broker suggested
                                         * (RocketMQ's pullFromWhichNodeTable); absent: 0 */
};

int rk_pull_consumer_new(const rk_pull_consumer_config_t *cfg, rk_pull_consumer_t **out)
{
    *out = NULL;
    if (cfg == NULL || cfg->namesrv == NULL || cfg->group == NULL || !rk_topic_name_valid(cfg->group))
        return RK_EINVAL;
    rk_pull_consumer_t *pc = calloc(1, sizeof *pc);
    if (pc == NULL)
        return RK_ENOMEM;
    snprintf(pc->group, sizeof pc->group, "%s", cfg->group);
    pc->check_crc = cfg->check_crc;
    if (uv_mutex_init(&pc->mu) != 0) {
        free(pc);
        return RK_ENOMEM;
    }
    rk_strmap_init(&pc->suggest);
    rk_mqclient_config_t cc = {.namesrv = cfg->namesrv, .instance_name = cfg->instance_name,
                               .timeout_ms = cfg->timeout_ms, .access_key = cfg->access_key,
                               .secret_key = cfg->secret_key};
    int rc = rk_mqclient_new(&cc, &pc->c);
    if (rc != RK_OK) {
        rk_strmap_free(&pc->suggest, free);
        uv_mutex_destroy(&pc->mu);
        free(pc);
        return rc;
    }
    *out = pc;
    return RK_OK;
}

void rk_pull_consumer_free(rk_pull_consumer_t *pc)
{
    if (pc == NULL)
        return;
    rk_mqclient_free(pc->c);
    rk_strmap_free(&pc->suggest, free);
    uv_mutex_destroy(&pc->mu);
    free(pc);
}

rk_mqclient_t *rk_pull_consumer_client(rk_pull_consumer_t *pc) { return pc->c; }

int rk_pull_consumer_queues(rk_pull_consumer_t *pc, const char *topic, rk_mq_t **out, size_t *n)
{
    rk_topic_route_t *r;
    int rc = rk_mqclient_route(pc->c, topic, false, &r);
    if (rc != RK_OK)
        return rc;
    rc = rk_topic_route_read_queues(r, topic, out, n);
    rk_topic_route_release(r);
    return rc;
}

int rk_pull_consumer_pull(rk_pull_consumer_t *pc, const rk_mq_t *mq, const char *tag_expr, int64_t offset,
                          int max_nums, int suspend_ms, rk_pull_result_t *r)
{
    memset(r, 0, sizeof *r);
    if (mq == NULL || offset < 0 || max_nums <= 0 || max_nums > 1024)
        return errf(r->error, sizeof r->error, RK_EINVAL, "pull needs a queue, an offset >= 0 and 1..1024 messages");
    int sys_flag = suspend_ms > 0 ? 0x2 : 0;
    rk_cmd_t *req = pull_request(pc->group, mq, offset, max_nums, sys_flag, 0, suspend_ms > 0 ? suspend_ms : 0,
                                 tag_expr, 0);
    char addr[RK_ADDR_MAX], key[MQKEY_MAX];
    if (req == NULL)
        return errf(r->error, sizeof r->error, RK_ENOMEM, "out of memory");
    /* PullAPIWrapper.pullKernelImpl: the broker id last suggested for this
     * queue (0 at first), else the lowest member of the group present —
     * a slave when the master is gone */
    rk_mq_key(mq, key, sizeof key);
    uv_mutex_lock(&pc->mu);
    const int64_t *sug = rk_strmap_get(&pc->suggest, key);
    int64_t which = sug != NULL ? *sug : 0;
    uv_mutex_unlock(&pc->mu);
    bool slave = false;
    if (!rk_mqclient_find_addr(pc->c, mq->broker, which, false, addr, sizeof addr, &slave)) {
        rk_topic_route_t *route = NULL;     /* learn the broker from the topic's route */
        if (rk_mqclient_route(pc->c, mq->topic, true, &route) == RK_OK)
            rk_topic_route_release(route);
        if (!rk_mqclient_find_addr(pc->c, mq->broker, which, false, addr, sizeof addr, &slave)) {
            rk_cmd_free(req);
            return errf(r->error, sizeof r->error, RK_ENOTFOUND, "broker %s is not in any known route",
                        mq->broker);
        }
    }
    rk_cmd_t *resp = NULL;
    int st = rk_rclient_invoke_sync(rk_mqclient_remoting(pc->c), addr, req,
                                    rk_mqclient_timeout(pc->c) + (suspend_ms > 0 ? suspend_ms : 0), &resp);
    int64_t next = st == RK_OK ? pull_suggest(resp) : -1;
    if (st != RK_OK && !slave) {
        /* the master did not answer: ask the name servers again, so that a
         * master that is gone is left for a slave at the next pull */
        rk_topic_route_t *route = NULL;
        if (rk_mqclient_route(pc->c, mq->topic, true, &route) == RK_OK)
            rk_topic_route_release(route);
    }
    if (next >= 0 && next != which) {
        uv_mutex_lock(&pc->mu);
        int64_t *v = rk_strmap_get(&pc->suggest, key);
        if (v == NULL && pc->suggest.len < 65536 && (v = malloc(sizeof *v)) != NULL &&
            rk_strmap_put(&pc->suggest, key, v, NULL) != RK_OK) {
            free(v);
            v = NULL;
        }
        if (v != NULL)
            *v = next;
        uv_mutex_unlock(&pc->mu);
    }
    int rc = pull_parse(st, resp, mq, tag_expr, offset, pc->check_crc, NULL, r);
    rk_cmd_free(resp);
    return rc;
}

int rk_pull_consumer_fetch_offset(rk_pull_consumer_t *pc, const rk_mq_t *mq, int64_t *out)
{
    return query_offset(pc->c, pc->group, mq, out);
}

int rk_pull_consumer_commit_offset(rk_pull_consumer_t *pc, const rk_mq_t *mq, int64_t offset)
{
    return offset_call(pc->c, RK_REQ_UPDATE_CONSUMER_OFFSET, pc->group, mq, "commitOffset", offset, NULL);
}

int rk_pull_consumer_min_offset(rk_pull_consumer_t *pc, const rk_mq_t *mq, int64_t *out)
{
    return offset_call(pc->c, RK_REQ_GET_MIN_OFFSET, NULL, mq, NULL, 0, out);
}

int rk_pull_consumer_max_offset(rk_pull_consumer_t *pc, const rk_mq_t *mq, int64_t *out)
{
    return offset_call(pc->c, RK_REQ_GET_MAX_OFFSET, NULL, mq, NULL, 0, out);
}

int rk_pull_consumer_search_offset(rk_pull_consumer_t *pc, const rk_mq_t *mq, int64_t ts_ms, int64_t *out)
{
    return offset_call(pc->c, RK_REQ_SEARCH_OFFSET_BY_TIMESTAMP, NULL, mq, "timestamp", ts_ms, out);
}

/* ------------------------------------------------------------ push consumer: types */

typedef struct batch {
    struct batch *next;
    rk_msg_list_t *list;
    uint8_t *done;                      /* per message */
    size_t ndone;
} batch_t;

typedef struct pq {
    _Atomic int refs;
    rk_mq_t mq;
    char expr[256];
    uv_mutex_t mu;
    batch_t *head, *tail;               /* pulled, in offset order */
    size_t cached;                      /* messages not yet consumed */
    int64_t pull_offset;                /* next offset to pull */
    int64_t persisted;                  /* last offset sent to the broker */
    bool dropped;                       /* no longer ours: pulls and jobs stop */
    bool locked;                        /* orderly: we hold the broker lock */
    bool consuming;                     /* orderly: a job is queued or running */
    char addr[RK_ADDR_MAX];             /* the broker's master, from the route at each rebalance */
    int64_t which;                      /* broker id the last pull response suggested (0 at first:
                                         * PullAPIWrapper.pullFromWhichNodeTable) */
    uint64_t avoid_master_until;        /* mono ms: the master did not answer a pull; read from
                                         * a slave until then (rocklet; see the ch08 README) */
} pq_t;

typedef struct job {
    struct job *next;
    pq_t *pq;
    batch_t *b;                         /* concurrent: these messages; orderly: NULL */
    size_t from, n;
} job_t;

typedef struct sub {
    char topic[RK_NAME_MAX];
    char expr[256];
} sub_t;

struct rk_push_consumer {
    rk_mqclient_t *c;
    _Atomic uint64_t refresh_after;     /* no route_suspect() refresh before this (mono ms) */
    char group[RK_NAME_MAX];
    rk_message_model_t model;
    rk_consume_from_t from;
    int64_t from_ts;
    bool orderly, check_crc;
    int nthreads, batch_max, pull_batch, rebalance_ms, persist_ms;
    int64_t sub_version;
    char offset_file[1024];
    rk_listener_fn fn;
    void *arg;
    rk_push_consumer_hooks_t hooks;     /* chapter 9's retry, or zeros */
    sub_t subs[MAX_SUBS];
    int nsubs;
    bool started;
    _Atomic bool stopping;
    _Atomic bool quick_on;              /* a quick re-lookup is scheduled */
    int quick_ms;                       /* its next delay (scheduler thread only) */

    uv_mutex_t mu;                      /* table */
    rk_strmap_t table;                  /* mq key -> pq_t* */
    rk_strmap_t local_offsets;          /* broadcasting: mq key -> int64_t* (loaded, then kept) */
    uv_mutex_t rb_mu;                   /* one rebalance at a time; shutdown */

    rk_idle_pool_t spare;               /* consumed pulls' message lists, whose blocks the next */
                                        /* pulls decode into (rk_msg_list_decode_reusing) */
    uv_mutex_t pmu;                     /* pool */
    uv_cond_t pcond;
    job_t *jobs, *jobs_tail;
    bool pool_stop;
    uv_thread_t *threads;
    int nstarted;
    struct {                            /* per subscription (same index): for GET_CONSUMER_RUNNING_INFO */
        _Atomic int64_t ok, failed, rt_ms;
    } stats[MAX_SUBS];
    int64_t start_ms;
};

/* ------------------------------------------------------------ process queues */

static pq_t *pq_new(const rk_mq_t *mq, const char *expr, int64_t offset)
{
    pq_t *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    if (uv_mutex_init(&q->mu) != 0) {
        free(q);
        return NULL;
    }
    atomic_init(&q->refs, 1);
    q->mq = *mq;
    snprintf(q->expr, sizeof q->expr, "%s", expr);
    q->pull_offset = offset;
    q->persisted = -1;
    return q;
}

static pq_t *pq_ref(pq_t *q)
{
    atomic_fetch_add(&q->refs, 1);
    return q;
}

static void pq_unref(pq_t *q)
{
    if (q == NULL || atomic_fetch_sub(&q->refs, 1) != 1)
        return;
    for (batch_t *b = q->head, *next; b != NULL; b = next) {
        next = b->next;
        rk_msg_list_free(b->list);
        free(b->done);
        free(b);
    }
    uv_mutex_destroy(&q->mu);
    free(q);
}

/* The offset the group has consumed up to (call with q->mu held): the first
 * message not yet consumed, or everything pulled. */
static int64_t pq_acked(const pq_t *q)
{
    for (const batch_t *b = q->head; b != NULL; b = b->next)
        for (size_t i = 0; i < b->list->n; i++)
            if (!b->done[i])
                return b->list->msgs[i].queue_offset;
    return q->pull_offset;
}

/* A consumed pull's list: its body's block back to the remoting client,
 * the list itself (message array, strings) kept for the next pull's decode
 * while there is room — a list with inflated bodies is freed, so that no
 * big inflated body stays idle. */
static void spare_put(rk_push_consumer_t *pc, rk_msg_list_t *l)
{
    if (l->raw_cap > 0) {
        rk_rclient_recycle_body(rk_mqclient_remoting(pc->c), l->raw, l->raw_cap);
        l->raw = NULL;
    }
    if (l->ninflated == 0) {
        free(l->raw);
        l->raw = NULL;
        rk_idle_pool_put(&pc->spare, l, 0);    /* kept, or freed when SPARE_MAX are */
        return;
    }
    rk_msg_list_free(l);
}

/* A list for the next pull to decode into, or NULL. */
static rk_msg_list_t *spare_get(rk_push_consumer_t *pc)
{
    return rk_idle_pool_get(&pc->spare, 0, NULL);
}

/* The spare pool's free function. */
static void spare_free(void *l)
{
    rk_msg_list_free(l);
}

/* Marks messages consumed and frees fully consumed batches at the head
 * (q->mu held); their pull answers' blocks go back to the remoting client
 * for the next answers (rk_rclient_recycle_body says why). */
static void pq_mark_done(rk_push_consumer_t *pc, pq_t *q, batch_t *b, size_t from, size_t n)
{
    for (size_t i = from; i < from + n; i++)
        if (!b->done[i]) {
            b->done[i] = 1;
            b->ndone++;
            q->cached--;
        }
    while (q->head != NULL && q->head->ndone == q->head->list->n) {
        batch_t *h = q->head;
        q->head = h->next;
        if (q->head == NULL)
            q->tail = NULL;
        spare_put(pc, h->list);
        free(h->done);
        free(h);
    }
}

/* ------------------------------------------------------------ pool */

static void run_job(rk_push_consumer_t *pc, job_t *j);

static void pool_main(void *arg)
{
    rk_push_consumer_t *pc = arg;
    (void)rk_thread_init("rk-consume", RK_THREAD_NORMAL);
    uv_mutex_lock(&pc->pmu);
    for (;;) {
        while (pc->jobs == NULL && !pc->pool_stop)
            uv_cond_wait(&pc->pcond, &pc->pmu);
        if (pc->pool_stop)
            break;
        job_t *j = pc->jobs;
        pc->jobs = j->next;
        if (pc->jobs == NULL)
            pc->jobs_tail = NULL;
        uv_mutex_unlock(&pc->pmu);
        run_job(pc, j);
        uv_mutex_lock(&pc->pmu);
    }
    uv_mutex_unlock(&pc->pmu);
}

static void job_free(job_t *j)
{
    pq_unref(j->pq);
    free(j);
}

/* A job that will never run: an orderly queue is no longer being consumed. */
static void job_discard(job_t *j)
{
    if (j->b == NULL) {
        uv_mutex_lock(&j->pq->mu);
        j->pq->consuming = false;
        uv_mutex_unlock(&j->pq->mu);
    }
    job_free(j);
}

/* Queues a job. False when the pool is stopping: the job is still the caller's. */
static bool pool_submit(rk_push_consumer_t *pc, job_t *j)
{
    j->next = NULL;
    uv_mutex_lock(&pc->pmu);
    bool ok = !pc->pool_stop;
    if (ok) {
        if (pc->jobs_tail) pc->jobs_tail->next = j; else pc->jobs = j;
        pc->jobs_tail = j;
        uv_cond_signal(&pc->pcond);
    }
    uv_mutex_unlock(&pc->pmu);
    return ok;
}

static bool submit_new(rk_push_consumer_t *pc, pq_t *q, batch_t *b, size_t from, size_t n)
{
    job_t *j = calloc(1, sizeof *j);
    if (j == NULL)
        return false;
    j->pq = pq_ref(q);
    j->b = b;
    j->from = from;
    j->n = n;
    if (pool_submit(pc, j))
        return true;
    job_free(j);                        /* the caller resets what it set (it may hold q->mu) */
    return false;
}

static void pool_stop(rk_push_consumer_t *pc)
{
    uv_mutex_lock(&pc->pmu);
    pc->pool_stop = true;
    uv_cond_broadcast(&pc->pcond);
    uv_mutex_unlock(&pc->pmu);
    for (int i = 0; i < pc->nstarted; i++)
        uv_thread_join(&pc->threads[i]);
    pc->nstarted = 0;
    job_t *j = pc->jobs;                /* queued, never run: they will be redelivered */
    pc->jobs = pc->jobs_tail = NULL;
    while (j != NULL) {
        job_t *next = j->next;
        job_discard(j);
        j = next;
    }
}

/* ------------------------------------------------------------ consuming */

typedef struct later {
    rk_push_consumer_t *pc;
    job_t *job;
} later_t;

static void later_run(void *arg, bool cancelled)
{
    later_t *l = arg;
    if (cancelled || atomic_load(&l->pc->stopping) || !pool_submit(l->pc, l->job))
        job_discard(l->job);
    free(l);
}

/* Runs the job again after ms (it keeps its pq reference). */
static void resubmit_later(rk_push_consumer_t *pc, job_t *j, uint64_t ms)
{
    later_t *l = malloc(sizeof *l);
    if (l == NULL) {
        if (!pool_submit(pc, j))        /* no memory for a timer: retry now rather than lose it */
            job_discard(j);
        return;
    }
    l->pc = pc;
    l->job = j;
    if (rk_mqclient_schedule(pc->c, ms, later_run, l) != RK_OK) {
        free(l);
        job_discard(j);
    }
}

/* CONSUMER_SEND_MSG_BACK: the broker stores the message again for a later
 * redelivery (chapter 9 implements it). */
static bool send_back(rk_push_consumer_t *pc, const rk_msg_ext_t *m)
{
    rk_cmd_t *req = rk_mqclient_request(RK_REQ_CONSUMER_SEND_MSG_BACK), *resp = NULL;
    if (req == NULL)
        return false;
    int rc = rk_cmd_ext_set_i64(req, "offset", m->commitlog_offset);
    if (rc == RK_OK) rc = rk_cmd_ext_set(req, "group", pc->group);
    if (rc == RK_OK) rc = rk_cmd_ext_set_i64(req, "delayLevel", 0);
    if (rc == RK_OK) rc = rk_cmd_ext_set(req, "originMsgId", m->msg_id);
    if (rc == RK_OK) rc = rk_cmd_ext_set(req, "originTopic", m->topic);
    if (rc == RK_OK) rc = rk_cmd_ext_set(req, "unitMode", "false");
    if (rc == RK_OK) rc = rk_cmd_ext_set_i64(req, "maxReconsumeTimes", 16);
    char addr[RK_ADDR_MAX];
    if (rc != RK_OK || !rk_mqclient_master_addr(pc->c, m->broker, addr, sizeof addr)) {
        rk_cmd_free(req);
        return false;
    }
    rc = rk_mqclient_invoke(pc->c, addr, req, &resp);
    bool ok = rc == RK_OK && resp->code == RK_RESP_SUCCESS;
    rk_cmd_free(resp);
    return ok;
}

static rk_consume_result_t consume_call(rk_push_consumer_t *pc, const rk_msg_ext_t *msgs, size_t n);

/* One listener call on messages [from, from + n) of b, with what follows a
 * failure. True when they are done (marked consumed); false when they must
 * be consumed here again after RETRY_LOCAL_MS (clustering, not taken back). */
static bool consume_chunk(rk_push_consumer_t *pc, pq_t *q, batch_t *b, size_t from, size_t n)
{
    rk_msg_ext_t *mutable = &b->list->msgs[from];
    if (pc->hooks.before_consume != NULL)   /* only this job touches these messages */
        pc->hooks.before_consume(pc->hooks.ctx, pc, mutable, n);
    const rk_msg_ext_t *msgs = mutable;
    rk_consume_result_t res = consume_call(pc, msgs, n);
    if (res != RK_CONSUME_SUCCESS && pc->model == RK_CLUSTERING) {
        bool all = true;
        for (size_t i = 0; i < n && all; i++)
            all = pc->hooks.consume_failed != NULL ? pc->hooks.consume_failed(pc->hooks.ctx, pc, &msgs[i])
                                                   : send_back(pc, &msgs[i]);
        if (all)
            res = RK_CONSUME_SUCCESS;   /* the broker has it now */
    }
    if (res != RK_CONSUME_SUCCESS && pc->model == RK_CLUSTERING) {
        rk_log_debug("consumer", "%s queue %d: consuming %zu message(s) again in %d ms", q->mq.topic,
                     q->mq.queue_id, n, RETRY_LOCAL_MS);
        return false;
    }
    if (res != RK_CONSUME_SUCCESS)      /* broadcasting: dropped, as RocketMQ does — but said */
        for (size_t i = 0; i < n; i++)
            rk_log_warn("consumer", "%s: broadcasting listener failed message %s (%s queue %d offset %" PRId64
                        "); broadcasting does not redeliver it",
                        pc->group, msgs[i].msg_id, q->mq.topic, q->mq.queue_id, msgs[i].queue_offset);
    uv_mutex_lock(&q->mu);
    pq_mark_done(pc, q, b, from, n);
    uv_mutex_unlock(&q->mu);
    return true;
}

/* A concurrent job: a pull's messages, in listener calls of batch_max. One
 * thread runs them one call after the other while that is quick; once it has
 * spent SPREAD_NS on this job, the calls left go to the pool one job each, as
 * RocketMQ submits them, so a slow listener still gets every thread. */
static void run_concurrent(rk_push_consumer_t *pc, job_t *j)
{
    pq_t *q = j->pq;
    size_t max = (size_t)pc->batch_max, at = j->from, end = j->from + j->n;
    uint64_t t0 = rk_mono_ns();
    bool spread = true;
    while (at < end) {
        uv_mutex_lock(&q->mu);
        bool dropped = q->dropped;
        uv_mutex_unlock(&q->mu);
        if (dropped || (at > j->from && atomic_load(&pc->stopping)))
            break;                      /* (stopping: what is left is redelivered, as queued jobs are) */
        if (spread && at > j->from && end - at > max && rk_mono_ns() - t0 > SPREAD_NS) {
            size_t k = at;              /* hand the rest out, one call each */
            for (; k < end; k += max)
                if (!submit_new(pc, q, j->b, k, end - k < max ? end - k : max))
                    break;
            if (k >= end)
                break;
            if (atomic_load(&pc->stopping))
                break;
            at = k;                     /* no memory for jobs: the rest here */
            spread = false;
        }
        size_t n = end - at < max ? end - at : max;
        if (!consume_chunk(pc, q, j->b, at, n)) {
            if (at == j->from && n == j->n) {
                resubmit_later(pc, j, RETRY_LOCAL_MS);  /* the whole job again, later */
                return;
            }
            job_t *again = calloc(1, sizeof *again);
            if (again == NULL) {        /* no memory for a job of its own: this one, from here */
                j->from = at;
                j->n = end - at;
                resubmit_later(pc, j, RETRY_LOCAL_MS);
                return;
            }
            again->pq = pq_ref(q);
            again->b = j->b;
            again->from = at;
            again->n = n;
            resubmit_later(pc, again, RETRY_LOCAL_MS);
        }
        at += n;
    }
    job_free(j);
}

static void run_orderly(rk_push_consumer_t *pc, job_t *j)
{
    pq_t *q = j->pq;
    size_t max = (size_t)pc->batch_max;
    for (;;) {
        uv_mutex_lock(&q->mu);
        if (q->dropped || !q->locked || atomic_load(&pc->stopping)) {
            q->consuming = false;
            uv_mutex_unlock(&q->mu);
            break;
        }
        /* the first messages not yet consumed, within one batch */
        batch_t *b = q->head;
        size_t from = 0, n = 0;
        for (; b != NULL; b = b->next) {
            for (from = 0; from < b->list->n && b->done[from]; from++)
                ;
            if (from < b->list->n)
                break;
        }
        if (b != NULL)
            while (from + n < b->list->n && n < max && !b->done[from + n])
                n++;
        if (n == 0) {
            q->consuming = false;
            uv_mutex_unlock(&q->mu);
            break;
        }
        uv_mutex_unlock(&q->mu);
        /* only this job touches the queue's unconsumed messages, so b stays */
        if (pc->hooks.before_consume != NULL)
            pc->hooks.before_consume(pc->hooks.ctx, pc, &b->list->msgs[from], n);
        rk_consume_result_t res = consume_call(pc, &b->list->msgs[from], n);
        if (res != RK_CONSUME_SUCCESS && pc->hooks.orderly_failed != NULL &&
            pc->hooks.orderly_failed(pc->hooks.ctx, pc, &b->list->msgs[from], n))
            res = RK_CONSUME_SUCCESS;       /* every one of them is safely elsewhere (the DLQ) */
        if (res != RK_CONSUME_SUCCESS) {
            rk_log_debug("consumer", "%s queue %d suspended for %d ms", q->mq.topic, q->mq.queue_id, RETRY_LOCAL_MS);
            resubmit_later(pc, j, RETRY_LOCAL_MS);     /* consuming stays set: nobody overtakes */
            return;
        }
        uv_mutex_lock(&q->mu);
        pq_mark_done(pc, q, b, from, n);
        uv_mutex_unlock(&q->mu);
    }
    job_free(j);
}

static void run_job(rk_push_consumer_t *pc, job_t *j)
{
    if (j->b == NULL)
        run_orderly(pc, j);
    else
        run_concurrent(pc, j);
}

/* Hands freshly pulled messages to the pool (q->mu held). */
static void dispatch(rk_push_consumer_t *pc, pq_t *q, batch_t *b)
{
    if (pc->orderly) {
        if (!q->consuming) {
            q->consuming = true;
            if (!submit_new(pc, q, NULL, 0, 0))
                q->consuming = false;
        }
        return;
    }
    submit_new(pc, q, b, 0, b->list->n);    /* one job, one wake-up per pull (run_concurrent) */
}

/* ------------------------------------------------------------ pulling */

static void pull_now(rk_push_consumer_t *pc, pq_t *q);

typedef struct pull_later {
    rk_push_consumer_t *pc;
    pq_t *q;
} pull_later_t;

static void pull_later_run(void *arg, bool cancelled)
{
    pull_later_t *l = arg;
    if (cancelled || atomic_load(&l->pc->stopping))
        pq_unref(l->q);
    else
        pull_now(l->pc, l->q);
    free(l);
}

/* The next pull of q after ms (takes the caller's reference). */
static void pull_after(rk_push_consumer_t *pc, pq_t *q, uint64_t ms)
{
    pull_later_t *l = malloc(sizeof *l);
    if (l != NULL) {
        l->pc = pc;
        l->q = q;
        if (rk_mqclient_schedule(pc->c, ms, pull_later_run, l) == RK_OK)
            return;
        free(l);
    }
    if (!atomic_load(&pc->stopping))
        rk_log_warn("consumer", "%s queue %d: out of memory scheduling the next pull; the queue stalls",
                    q->mq.topic, q->mq.queue_id);
    pq_unref(q);
}

typedef struct pull_ctx {
    rk_push_consumer_t *pc;
    pq_t *q;
    int64_t offset;                     /* the pull's queueOffset */
    bool slave;                         /* sent to a slave of the group */
} pull_ctx_t;

typedef struct route_task {
    rk_mqclient_t *c;
    char topic[];
} route_task_t;

static void route_task(void *arg, bool cancelled)
{
    route_task_t *t = arg;
    if (!cancelled) {
        rk_topic_route_t *route = NULL;
        if (rk_mqclient_route(t->c, t->topic, true, &route) == RK_OK)
            rk_topic_route_release(route);
    }
    free(t);
}

/* A pull that could not reach the master, or that a slave sent back ("ask
 * the master": PULL_RETRY_IMMEDIATELY), means the master may have changed
 * (chapter 8 elects a new one within seconds): ask the name servers for the
 * route now, on the scheduler thread, at most every 200 ms. */
static void route_suspect(rk_push_consumer_t *pc, const char *topic)
{
    uint64_t now = rk_mono_ms(), after = atomic_load(&pc->refresh_after);
    if (now < after || !atomic_compare_exchange_strong(&pc->refresh_after, &after, now + 200))
        return;
    size_t len = strlen(topic);
    route_task_t *t = malloc(sizeof *t + len + 1);
    if (t == NULL)
        return;
    t->c = pc->c;
    memcpy(t->topic, topic, len + 1);
    if (rk_mqclient_schedule(pc->c, 0, route_task, t) != RK_OK)
        free(t);
}

static void pull_cb(void *arg, int status, rk_cmd_t *resp)
{
    pull_ctx_t *x = arg;
    rk_push_consumer_t *pc = x->pc;
    pq_t *q = x->q;
    int64_t offset = x->offset;
    bool from_slave = x->slave;
    free(x);
    rk_pull_result_t r;
    if ((status != RK_OK && status != RK_ECLOSED) ||
        (resp != NULL && resp->code == RK_RESP_PULL_RETRY_IMMEDIATELY))
        route_suspect(pc, q->mq.topic);
    int64_t which = status == RK_OK ? pull_suggest(resp) : -1;
    /* a slave that does not serve reads (no slaveReadEnable) sends the
     * client back to the master at once, with the offset unchanged; while
     * the master is gone that would be a busy loop: wait as after an error
     * (a slave's "no matched message" moves the offset on and is not slowed) */
    int64_t next_begin = -1;
    bool slave_refused = status == RK_OK && resp != NULL && from_slave &&
                         resp->code == RK_RESP_PULL_RETRY_IMMEDIATELY &&
                         (rk_cmd_ext_i64(resp, "nextBeginOffset", &next_begin) != RK_OK || next_begin <= offset);
    rk_msg_list_t *spare = status == RK_OK && resp != NULL && resp->code == RK_RESP_SUCCESS ? spare_get(pc) : NULL;
    int rc = pull_parse(status, resp, &q->mq, q->expr, offset, pc->check_crc, spare, &r);
    rk_cmd_free(resp);
    uint64_t delay = slave_refused ? ERROR_DELAY_MS : 0;
    uv_mutex_lock(&q->mu);
    if (which >= 0)
        q->which = which;
    if (status != RK_OK && status != RK_ECLOSED && !from_slave)
        q->avoid_master_until = rk_mono_ms() + MASTER_AVOID_MS;
    if (slave_refused)
        q->avoid_master_until = 0;      /* the slave says "ask the master": do */
    if (q->dropped || atomic_load(&pc->stopping)) {
        uv_mutex_unlock(&q->mu);
        rk_pull_result_free(&r);
        pq_unref(q);
        return;
    }
    if (rc != RK_OK) {
        if (status != RK_ECLOSED)
            rk_log_warn("consumer", "%s", r.error);
        delay = ERROR_DELAY_MS;
    } else if (r.status == RK_PULL_FOUND) {
        batch_t *b = calloc(1, sizeof *b);
        uint8_t *done = b ? calloc(r.msgs->n, 1) : NULL;
        if (done == NULL) {
            free(b);
            delay = ERROR_DELAY_MS;     /* pull the same messages again later */
        } else {
            b->list = r.msgs;
            b->done = done;
            r.msgs = NULL;
            if (q->tail) q->tail->next = b; else q->head = b;
            q->tail = b;
            q->cached += b->list->n;
            q->pull_offset = r.next_offset;
            dispatch(pc, q, b);
        }
    } else {
        if (r.status == RK_PULL_OFFSET_ILLEGAL)
            rk_log_warn("consumer", "%s queue %d: offset %" PRId64 " is illegal, moving to %" PRId64, q->mq.topic,
                        q->mq.queue_id, q->pull_offset, r.next_offset);
        if (r.next_offset >= 0)
            q->pull_offset = r.next_offset;
    }
    if (delay == 0 && q->cached > FLOW_LIMIT)
        delay = FLOW_DELAY_MS;
    uv_mutex_unlock(&q->mu);
    rk_pull_result_free(&r);
    if (delay > 0)
        pull_after(pc, q, delay);
    else
        pull_now(pc, q);
}

/* Sends q's next pull (takes the caller's reference to q). */
static void pull_now(rk_push_consumer_t *pc, pq_t *q)
{
    uv_mutex_lock(&q->mu);
    bool stop = q->dropped || atomic_load(&pc->stopping);
    bool wait_lock = pc->orderly && !q->locked;
    bool full = q->cached > FLOW_LIMIT;
    int64_t offset = q->pull_offset, acked = pq_acked(q), which = q->which;
    bool avoid_master = q->avoid_master_until > rk_mono_ms();
    char addr[RK_ADDR_MAX];
    memcpy(addr, q->addr, sizeof addr);
    uv_mutex_unlock(&q->mu);
    /* PullAPIWrapper.pullKernelImpl: the member the broker suggested (0,
     * the master, at first), from the newest route the client knows (a
     * refreshed route may name a new master before the next rebalance);
     * when that one is not in the route — the master's registration is
     * gone — the lowest slave. A master that just failed to answer is
     * skipped for a while if a slave is there. */
    char cur[RK_ADDR_MAX];
    bool slave = false;
    if (avoid_master && which == 0 && rk_mqclient_find_addr(pc->c, q->mq.broker, 1, false, cur, sizeof cur, &slave) &&
        slave)
        memcpy(addr, cur, sizeof addr);
    else if (rk_mqclient_find_addr(pc->c, q->mq.broker, which, false, cur, sizeof cur, &slave))
        memcpy(addr, cur, sizeof addr);
    else
        slave = false;
    if (stop) {
        pq_unref(q);
        return;
    }
    if (wait_lock || full) {
        pull_after(pc, q, wait_lock ? ERROR_DELAY_MS : FLOW_DELAY_MS);
        return;
    }
    int sys_flag = 0x2 | 0x4;           /* suspend | subscription */
    /* PullSysFlag.clearCommitOffsetFlag for a slave: offsets go to the master */
    bool commit = pc->model == RK_CLUSTERING && acked > 0 && !slave;
    if (commit)
        sys_flag |= 0x1;
    pull_ctx_t *x = malloc(sizeof *x);
    rk_cmd_t *req = x ? pull_request(pc->group, &q->mq, offset, pc->pull_batch, sys_flag, commit ? acked : 0,
                                     SUSPEND_MS, q->expr, pc->sub_version)
                      : NULL;
    if (req == NULL || !addr[0]) {      /* no master in the route: wait for the next rebalance */
        rk_cmd_free(req);
        free(x);
        pull_after(pc, q, ERROR_DELAY_MS);
        return;
    }
    x->pc = pc;
    x->q = q;
    x->offset = offset;
    x->slave = slave;
    if (rk_rclient_invoke_async(rk_mqclient_remoting(pc->c), addr, req, PULL_TIMEOUT_MS, pull_cb, x) != RK_OK) {
        free(x);
        pull_after(pc, q, ERROR_DELAY_MS);
    }
}

/* ------------------------------------------------------------ offsets */

static void mq_key(const rk_mq_t *mq, char *buf)
{
    rk_mq_key(mq, buf, MQKEY_MAX);
}

static int load_local_offsets(rk_push_consumer_t *pc)
{
    char *text = NULL;
    size_t len = 0;
    int rc = rk_file_read_all(pc->offset_file, &text, &len);
    if (rc == RK_ENOTFOUND || rc == -ENOENT)
        return RK_OK;                   /* first start */
    if (rc != RK_OK)
        return rc;
    cJSON *root = rk_json_parse(text, len);
    free(text);
    cJSON *tab = cJSON_GetObjectItemCaseSensitive(root, "offsetTable");
    for (cJSON *e = tab ? tab->child : NULL; e != NULL; e = e->next) {
        int64_t *v = malloc(sizeof *v);
        if (v == NULL || !cJSON_IsNumber(e) || rk_strmap_put(&pc->local_offsets, e->string, v, NULL) != RK_OK) {
            free(v);
            continue;
        }
        *v = (int64_t)e->valuedouble;
    }
    if (root == NULL)
        rk_log_warn("consumer", "%s is not JSON; starting without local offsets", pc->offset_file);
    cJSON_Delete(root);
    return RK_OK;
}

typedef struct persist_ctx {
    rk_push_consumer_t *pc;
    bool sync;
    cJSON *tab;
} persist_ctx_t;

static int persist_one(const char *key, void *value, void *arg)
{
    persist_ctx_t *x = arg;
    pq_t *q = value;
    uv_mutex_lock(&q->mu);
    int64_t off = pq_acked(q);
    bool changed = off != q->persisted && off >= 0;
    q->persisted = off;
    uv_mutex_unlock(&q->mu);
    if (x->pc->model == RK_BROADCASTING) {
        int64_t *v = rk_strmap_get(&x->pc->local_offsets, key);
        if (v == NULL && (v = malloc(sizeof *v)) != NULL &&
            rk_strmap_put(&x->pc->local_offsets, key, v, NULL) != RK_OK) {
            free(v);
            v = NULL;
        }
        if (v != NULL)
            *v = off;
    } else if (changed || x->sync) {
        update_offset(x->pc->c, x->pc->group, &q->mq, off, !x->sync);
    }
    return 0;
}

static int add_offset(const char *key, void *value, void *arg)
{
    rk_json_add_i64(arg, key, *(int64_t *)value);
    return 0;
}

/* Commits every owned queue's offset (pc->mu held). */
static void persist_all(rk_push_consumer_t *pc, bool sync)
{
    persist_ctx_t x = {.pc = pc, .sync = sync};
    rk_strmap_foreach(&pc->table, persist_one, &x);
    if (pc->model != RK_BROADCASTING)
        return;
    cJSON *root = cJSON_CreateObject(), *tab = root ? cJSON_AddObjectToObject(root, "offsetTable") : NULL;
    if (tab != NULL)
        rk_strmap_foreach(&pc->local_offsets, add_offset, tab);
    char *s = tab ? rk_json_print(root, 0) : NULL;
    int rc = s ? rk_file_write_atomic(pc->offset_file, s, strlen(s)) : RK_ENOMEM;
    if (rc != RK_OK)
        rk_log_warn("consumer", "cannot write offsets to %s: %s", pc->offset_file, rk_strerror(rc));
    free(s);
    cJSON_Delete(root);
}

/* Where a queue with no committed offset starts. */
static int64_t start_offset(rk_push_consumer_t *pc, const rk_mq_t *mq)
{
    int64_t off = -1;
    if (pc->model == RK_BROADCASTING) {
        char key[MQKEY_MAX];
        mq_key(mq, key);
        int64_t *v = rk_strmap_get(&pc->local_offsets, key);
        if (v != NULL)
            return *v;
    } else {
        int rc = query_offset(pc->c, pc->group, mq, &off);
        if (rc == RK_OK && off >= 0)
            return off;
        if (rc != RK_OK && rc != RK_ENOTFOUND) {
            rk_log_warn("consumer", "%s queue %d: cannot read the group's offset: %s", mq->topic, mq->queue_id,
                        rk_strerror(rc));
            return -1;                  /* try again at the next rebalance */
        }
    }
    if (strncmp(mq->topic, "%RETRY%", 7) == 0)
        return 0;
    int rc;
    switch (pc->from) {
    case RK_CONSUME_FROM_FIRST: return 0;
    case RK_CONSUME_FROM_TIMESTAMP:
        rc = offset_call(pc->c, RK_REQ_SEARCH_OFFSET_BY_TIMESTAMP, NULL, mq, "timestamp", pc->from_ts, &off);
        break;
    default: rc = offset_call(pc->c, RK_REQ_GET_MAX_OFFSET, NULL, mq, NULL, 0, &off); break;
    }
    return rc == RK_OK ? off : -1;
}

/* ------------------------------------------------------------ rebalance */

static int lock_batch(rk_push_consumer_t *pc, const char *broker, const rk_mq_t *mqs, size_t n, bool lock,
                      bool *ok)
{
    cJSON *body = cJSON_CreateObject(), *set = body ? cJSON_AddArrayToObject(body, "mqSet") : NULL;
    if (set == NULL) {
        cJSON_Delete(body);
        return RK_ENOMEM;
    }
    cJSON_AddStringToObject(body, "consumerGroup", pc->group);
    cJSON_AddStringToObject(body, "clientId", rk_mqclient_id(pc->c));
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "topic", mqs[i].topic);
        cJSON_AddStringToObject(o, "brokerName", mqs[i].broker);
        cJSON_AddNumberToObject(o, "queueId", mqs[i].queue_id);
        cJSON_AddItemToArray(set, o);
    }
    char *s = rk_json_print(body, 0);
    cJSON_Delete(body);
    rk_cmd_t *req = rk_mqclient_request(lock ? RK_REQ_LOCK_BATCH_MQ : RK_REQ_UNLOCK_BATCH_MQ), *resp = NULL;
    char addr[RK_ADDR_MAX];
    if (s == NULL || req == NULL || rk_cmd_set_body(req, s, strlen(s)) != RK_OK ||
        !rk_mqclient_master_addr(pc->c, broker, addr, sizeof addr)) {
        free(s);
        rk_cmd_free(req);
        return RK_ENOMEM;
    }
    free(s);
    int rc = rk_mqclient_invoke(pc->c, addr, req, &resp);
    if (rc == RK_OK && resp->code != RK_RESP_SUCCESS)
        rc = rk_mqclient_resp_error(resp->code);
    if (rc == RK_OK && lock && ok != NULL) {
        cJSON *r = rk_json_parse((const char *)resp->body, resp->body_len);
        cJSON *got = cJSON_GetObjectItemCaseSensitive(r, "lockOKMQSet");
        for (cJSON *e = got ? got->child : NULL; e != NULL; e = e->next) {
            const char *t = rk_json_get_str(e, "topic"), *bn = rk_json_get_str(e, "brokerName");
            int64_t qid = -1;
            rk_json_get_i64(e, "queueId", &qid);
            for (size_t i = 0; i < n && t && bn; i++)
                if (mqs[i].queue_id == qid && strcmp(mqs[i].topic, t) == 0 && strcmp(mqs[i].broker, bn) == 0)
                    ok[i] = true;
        }
        cJSON_Delete(r);
    }
    rk_cmd_free(resp);
    return rc;
}

static int lock_one(rk_push_consumer_t *pc, const rk_mq_t *mq, bool lock)
{
    bool ok = false;
    int rc = lock_batch(pc, mq->broker, mq, 1, lock, &ok);
    return rc != RK_OK ? rc : (!lock || ok) ? RK_OK : RK_EBUSY;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The group's members as a broker knows them (sorted, malloc'ed). */
static int group_members(rk_push_consumer_t *pc, const rk_topic_route_t *route, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    for (size_t b = 0; b < route->nbrokers; b++) {
        const char *addr = route->brokers[b].master[0] ? route->brokers[b].master : route->brokers[b].any;
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_GET_CONSUMER_LIST_BY_GROUP), *resp = NULL;
        if (req == NULL || rk_cmd_ext_set(req, "consumerGroup", pc->group) != RK_OK) {
            rk_cmd_free(req);
            return RK_ENOMEM;
        }
        if (!*addr || rk_mqclient_invoke(pc->c, addr, req, &resp) != RK_OK || resp->code != RK_RESP_SUCCESS) {
            rk_cmd_free(resp);
            continue;
        }
        cJSON *j = rk_json_parse((const char *)resp->body, resp->body_len);
        rk_cmd_free(resp);
        cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "consumerIdList");
        int cnt = cJSON_GetArraySize(list);
        char **ids = calloc((size_t)cnt + 1, sizeof *ids);
        size_t k = 0;
        for (cJSON *e = list ? list->child : NULL; ids && e; e = e->next)
            if (cJSON_IsString(e) && (ids[k] = strdup(e->valuestring)) != NULL)
                k++;
        cJSON_Delete(j);
        if (ids == NULL)
            return RK_ENOMEM;
        qsort(ids, k, sizeof *ids, cmp_str);
        *out = ids;
        *n = k;
        return RK_OK;
    }
    return RK_ENOTFOUND;
}

typedef struct drop_ctx {
    rk_push_consumer_t *pc;
    const char *topic;
    const rk_mq_t *keep;
    size_t nkeep;
    pq_t *gone[256];
    size_t ngone;
} drop_ctx_t;

static int find_gone(const char *key, void *value, void *arg)
{
    (void)key;
    drop_ctx_t *d = arg;
    pq_t *q = value;
    if (strcmp(q->mq.topic, d->topic) != 0 || d->ngone == 256)
        return 0;
    for (size_t i = 0; i < d->nkeep; i++)
        if (rk_mq_cmp(&d->keep[i], &q->mq) == 0)
            return 0;
    d->gone[d->ngone++] = q;
    return 0;
}

/* Stops consuming a queue (pc->mu held): commits its offset and, for
 * orderly consumers, gives the lock back. */
static void drop_pq(rk_push_consumer_t *pc, pq_t *q, bool sync)
{
    char key[MQKEY_MAX];
    mq_key(&q->mq, key);
    rk_strmap_remove(&pc->table, key);
    uv_mutex_lock(&q->mu);
    q->dropped = true;
    int64_t off = pq_acked(q);
    bool locked = q->locked;
    q->locked = false;
    uv_mutex_unlock(&q->mu);
    /* an orderly listener may still be inside this queue: let it finish its
     * call before the lock goes back, or the next owner could overtake it */
    for (int i = 0; locked && i < 150; i++) {
        uv_mutex_lock(&q->mu);
        bool busy = q->consuming;
        uv_mutex_unlock(&q->mu);
        if (!busy)
            break;
        uv_sleep(10);
    }
    uv_mutex_lock(&q->mu);
    off = pq_acked(q);                  /* what that last call consumed counts */
    uv_mutex_unlock(&q->mu);
    if (pc->model == RK_CLUSTERING && off >= 0)
        update_offset(pc->c, pc->group, &q->mq, off, !sync);
    if (locked)
        lock_one(pc, &q->mq, false);
    rk_log_info("consumer", "%s (%s): %s queue %d of %s released at offset %" PRId64, pc->group,
                rk_mqclient_id(pc->c), q->mq.topic, q->mq.queue_id, q->mq.broker, off);
    pq_unref(q);
}

/* What a rebalance of one topic could not do yet. */
#define RB_NO_ROUTE 1                   /* the name servers have no route for it */
#define RB_NO_MEMBERS 2                 /* its brokers do not list the group yet (no heartbeat there) */

static int rebalance_topic(rk_push_consumer_t *pc, const sub_t *s, bool ask)
{
    rk_topic_route_t *route = NULL;
    int rc0 = rk_mqclient_route(pc->c, s->topic, false, &route);
    if (rc0 == RK_ENOTFOUND && ask)     /* do not wait out the cached "no route" */
        rc0 = rk_mqclient_route(pc->c, s->topic, true, &route);
    if (rc0 != RK_OK)
        return RB_NO_ROUTE;             /* not (yet) a topic: nothing to consume */
    int status = 0;
    rk_mq_t *all = NULL, *mine = NULL;
    size_t nall = 0, nmine = 0;
    char **cids = NULL;
    size_t ncids = 0;
    if (rk_topic_route_read_queues(route, s->topic, &all, &nall) != RK_OK)
        goto out;
    if (pc->model == RK_BROADCASTING) {
        mine = all;
        nmine = nall;
        all = NULL;
    } else {
        int rc = group_members(pc, route, &cids, &ncids);
        if (rc != RK_OK || ncids == 0) {
            rk_log_debug("consumer", "%s: no member list for %s yet: %s", pc->group, s->topic, rk_strerror(rc));
            status = RB_NO_MEMBERS;
            goto out;
        }
        size_t *idx = calloc(nall + 1, sizeof *idx);
        mine = calloc(nall + 1, sizeof *mine);
        if (idx == NULL || mine == NULL) {
            free(idx);
            goto out;
        }
        size_t k = rk_allocate_avg(nall, (const char *const *)cids, ncids, rk_mqclient_id(pc->c), idx);
        bool listed = false;
        for (size_t i = 0; i < ncids && !listed; i++)
            listed = strcmp(cids[i], rk_mqclient_id(pc->c)) == 0;
        if (!listed)
            status = RB_NO_MEMBERS;     /* this broker has not had our heartbeat yet */
        for (size_t i = 0; i < k; i++)
            mine[nmine++] = all[idx[i]];
        free(idx);
    }
    uv_mutex_lock(&pc->mu);
    drop_ctx_t d = {.pc = pc, .topic = s->topic, .keep = mine, .nkeep = nmine};
    rk_strmap_foreach(&pc->table, find_gone, &d);
    uv_mutex_unlock(&pc->mu);
    for (size_t i = 0; i < d.ngone; i++) {
        uv_mutex_lock(&pc->mu);
        drop_pq(pc, d.gone[i], false);
        uv_mutex_unlock(&pc->mu);
    }
    for (size_t i = 0; i < nmine; i++) {
        char key[MQKEY_MAX];
        mq_key(&mine[i], key);
        const rk_route_broker_t *rb = rk_topic_route_broker(route, mine[i].broker);
        const char *master = rb != NULL ? rb->master : "";
        uv_mutex_lock(&pc->mu);
        pq_t *q = rk_strmap_get(&pc->table, key);
        if (q != NULL) {
            uv_mutex_lock(&q->mu);
            snprintf(q->addr, sizeof q->addr, "%s", master);
            uv_mutex_unlock(&q->mu);
        }
        uv_mutex_unlock(&pc->mu);
        if (q != NULL) {
            if (pc->orderly) {          /* keep the lock alive (it lapses after 60 s) */
                bool ok = lock_one(pc, &q->mq, true) == RK_OK;
                uv_mutex_lock(&q->mu);
                q->locked = ok;
                if (ok && q->cached > 0)
                    dispatch(pc, q, NULL);      /* resumes a queue that had lost its lock */
                uv_mutex_unlock(&q->mu);
            }
            continue;
        }
        if (pc->orderly && lock_one(pc, &mine[i], true) != RK_OK)
            continue;                   /* another member still holds it: next rebalance */
        int64_t off = start_offset(pc, &mine[i]);
        if (off < 0)
            continue;
        if ((q = pq_new(&mine[i], s->expr, off)) == NULL)
            continue;
        q->locked = pc->orderly;
        snprintf(q->addr, sizeof q->addr, "%s", master);
        uv_mutex_lock(&pc->mu);
        int rc = rk_strmap_put(&pc->table, key, q, NULL);
        uv_mutex_unlock(&pc->mu);
        if (rc != RK_OK) {
            pq_unref(q);
            continue;
        }
        rk_log_info("consumer", "%s (%s): %s queue %d of %s taken at offset %" PRId64, pc->group,
                    rk_mqclient_id(pc->c), mine[i].topic, mine[i].queue_id, mine[i].broker, off);
        pull_now(pc, pq_ref(q));
    }
out:
    for (size_t i = 0; i < ncids; i++)
        free(cids[i]);
    free(cids);
    free(all);
    free(mine);
    rk_topic_route_release(route);
    return status;
}

/* Rebalances every subscription; returns the RB_* flags of the topics
 * (the group's retry topic aside: it exists only once a message failed)
 * it could not rebalance yet. ask: look routes up even if the cache says
 * there are none. */
static int rebalance(rk_push_consumer_t *pc, bool ask)
{
    int missing = 0;
    uv_mutex_lock(&pc->rb_mu);
    if (!atomic_load(&pc->stopping))
        for (int i = 0; i < pc->nsubs; i++) {
            int st = rebalance_topic(pc, &pc->subs[i], ask);
            if (strncmp(pc->subs[i].topic, "%RETRY%", 7) != 0)
                missing |= st;
        }
    uv_mutex_unlock(&pc->rb_mu);
    return missing;
}

static void quick_task(void *arg, bool cancelled);

/* A subscribed topic has no route yet (a brand-new topic whose broker has
 * not registered it, a name server not reached): look again soon — 200 ms,
 * doubling to 2 s — rather than at the next rebalance (20 s). */
static void quick_start(rk_push_consumer_t *pc)
{
    if (atomic_exchange(&pc->quick_on, true))
        return;                         /* already on it */
    pc->quick_ms = QUICK_FIRST_MS;
    if (rk_mqclient_schedule(pc->c, (uint64_t)pc->quick_ms, quick_task, pc) != RK_OK)
        atomic_store(&pc->quick_on, false);
}

static void quick_task(void *arg, bool cancelled)
{
    rk_push_consumer_t *pc = arg;
    if (cancelled || atomic_load(&pc->stopping))
        return;
    int missing = rebalance(pc, true);
    if (missing & RB_NO_MEMBERS) {      /* a broker we just learned of has not heard from us */
        rk_mqclient_heartbeat_now(pc->c);
        missing = rebalance(pc, false);
    }
    if (missing == 0) {
        atomic_store(&pc->quick_on, false);
        return;
    }
    pc->quick_ms = pc->quick_ms * 2 > QUICK_MAX_MS ? QUICK_MAX_MS : pc->quick_ms * 2;
    if (rk_mqclient_schedule(pc->c, (uint64_t)pc->quick_ms, quick_task, pc) != RK_OK)
        atomic_store(&pc->quick_on, false);
}

static void rebalance_task(void *arg, bool cancelled)
{
    rk_push_consumer_t *pc = arg;
    if (cancelled || atomic_load(&pc->stopping))
        return;
    if (rebalance(pc, false) != 0)
        quick_start(pc);
    rk_mqclient_schedule(pc->c, (uint64_t)pc->rebalance_ms, rebalance_task, pc);
}

static void rebalance_once(void *arg, bool cancelled)
{
    if (!cancelled && rebalance(arg, false) != 0)
        quick_start(arg);
}

static void persist_task(void *arg, bool cancelled)
{
    rk_push_consumer_t *pc = arg;
    if (cancelled || atomic_load(&pc->stopping))
        return;
    uv_mutex_lock(&pc->mu);
    persist_all(pc, false);
    uv_mutex_unlock(&pc->mu);
    /* The spare lists are freed if no pull found messages since the last
     * persist: an idle consumer keeps none. */
    rk_idle_pool_trim(&pc->spare, false);
    rk_mqclient_schedule(pc->c, (uint64_t)pc->persist_ms, persist_task, pc);
}

static rk_cmd_t *on_ids_changed(void *ctx, const char *addr, const rk_cmd_t *req)
{
    (void)addr;
    rk_push_consumer_t *pc = ctx;
    const char *g = rk_cmd_ext_get(req, "consumerGroup");
    if (g != NULL && strcmp(g, pc->group) == 0 && !atomic_load(&pc->stopping)) {
        rk_log_debug("consumer", "%s: members changed, rebalancing", pc->group);
        rk_mqclient_schedule(pc->c, 0, rebalance_once, pc);
    }
    return NULL;
}

/* ------------------------------------------------------------ heartbeat */

static void fill_heartbeat(void *arg, cJSON *producers, cJSON *consumers)
{
    (void)producers;
    rk_push_consumer_t *pc = arg;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return;
    cJSON_AddStringToObject(o, "groupName", pc->group);
    cJSON_AddStringToObject(o, "consumeType", "CONSUME_PASSIVELY");
    cJSON_AddStringToObject(o, "messageModel", pc->model == RK_BROADCASTING ? "BROADCASTING" : "CLUSTERING");
    cJSON_AddStringToObject(o, "consumeFromWhere", pc->from == RK_CONSUME_FROM_FIRST       ? "CONSUME_FROM_FIRST_OFFSET"
                                                   : pc->from == RK_CONSUME_FROM_TIMESTAMP ? "CONSUME_FROM_TIMESTAMP"
                                                                                   : "CONSUME_FROM_LAST_OFFSET");
    cJSON *subs = cJSON_AddArrayToObject(o, "subscriptionDataSet");
    for (int i = 0; subs && i < pc->nsubs; i++) {
        cJSON *s = cJSON_CreateObject(), *tags = s ? cJSON_AddArrayToObject(s, "tagsSet") : NULL;
        cJSON *codes = s ? cJSON_AddArrayToObject(s, "codeSet") : NULL;
        const char *e = pc->subs[i].expr;
        if (codes != NULL && strcmp(e, "*") != 0) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", e);
            for (char *save = NULL, *t = strtok_r(buf, "|", &save); t; t = strtok_r(NULL, "|", &save)) {
                while (*t == ' ')
                    t++;
                size_t l = strlen(t);
                while (l > 0 && t[l - 1] == ' ')
                    t[--l] = '\0';
                if (l == 0)
                    continue;
                cJSON_AddItemToArray(tags, cJSON_CreateString(t));
                cJSON_AddItemToArray(codes, cJSON_CreateNumber(rk_java_hash(t, l)));
            }
        }
        cJSON_AddStringToObject(s, "topic", pc->subs[i].topic);
        cJSON_AddStringToObject(s, "subString", e);
        rk_json_add_i64(s, "subVersion", pc->sub_version);
        cJSON_AddStringToObject(s, "expressionType", "TAG");
        cJSON_AddBoolToObject(s, "classFilterMode", false);
        cJSON_AddItemToArray(subs, s);
    }
    cJSON_AddBoolToObject(o, "unitMode", false);
    cJSON_AddItemToArray(consumers, o);
}

/* ------------------------------------------------------------ life cycle */

static int admin_register(rk_push_consumer_t *pc);

int rk_push_consumer_new(const rk_push_consumer_config_t *cfg, rk_listener_fn fn, void *arg,
                         rk_push_consumer_t **out)
{
    *out = NULL;
    if (cfg == NULL || cfg->namesrv == NULL || cfg->group == NULL || fn == NULL || !rk_topic_name_valid(cfg->group))
        return RK_EINVAL;
    rk_push_consumer_t *pc = calloc(1, sizeof *pc);
    if (pc == NULL)
        return RK_ENOMEM;
    snprintf(pc->group, sizeof pc->group, "%s", cfg->group);
    pc->model = cfg->model;
    pc->from = cfg->from;
    pc->from_ts = cfg->from_timestamp_ms > 0 ? cfg->from_timestamp_ms : rk_now_ms() - 30 * 60 * 1000;
    pc->orderly = cfg->orderly;
    pc->check_crc = cfg->check_crc;
    pc->nthreads = cfg->threads > 0 ? cfg->threads : 4;
    pc->batch_max = cfg->batch_max > 0 ? cfg->batch_max : 1;
    pc->pull_batch = cfg->pull_batch > 0 && cfg->pull_batch <= 1024 ? cfg->pull_batch : 32;
    pc->rebalance_ms = cfg->rebalance_ms > 0 ? cfg->rebalance_ms : 20000;
    pc->persist_ms = cfg->persist_ms > 0 ? cfg->persist_ms : 5000;
    pc->sub_version = rk_now_ms();
    pc->start_ms = pc->sub_version;
    pc->fn = fn;
    pc->arg = arg;
    rk_strmap_init(&pc->table);
    rk_strmap_init(&pc->local_offsets);
    int rc = RK_ENOMEM;
    if (uv_mutex_init(&pc->mu) != 0)
        goto fail0;
    if (uv_mutex_init(&pc->rb_mu) != 0)
        goto fail1;
    if (uv_mutex_init(&pc->pmu) != 0)
        goto fail2;
    if (rk_idle_pool_init(&pc->spare, SPARE_MAX, spare_free) != RK_OK) {
        uv_mutex_destroy(&pc->pmu);
        goto fail2;
    }
    if (uv_cond_init(&pc->pcond) != 0)
        goto fail3;
    if ((pc->threads = calloc((size_t)pc->nthreads, sizeof *pc->threads)) == NULL)
        goto fail4;
    rk_mqclient_config_t cc = {.namesrv = cfg->namesrv, .instance_name = cfg->instance_name,
                               .timeout_ms = cfg->timeout_ms, .access_key = cfg->access_key,
                               .secret_key = cfg->secret_key};
    if ((rc = rk_mqclient_new(&cc, &pc->c)) != RK_OK)
        goto fail5;
    if ((rc = rk_rclient_register(rk_mqclient_remoting(pc->c), RK_REQ_NOTIFY_CONSUMER_IDS_CHANGED, on_ids_changed,
                                  pc)) != RK_OK)
        goto fail6;
    if ((rc = admin_register(pc)) != RK_OK)
        goto fail6;
    if (pc->model == RK_BROADCASTING) {
        char dir[900];
        const char *home = getenv("HOME");
        if (cfg->offset_dir != NULL)
            snprintf(dir, sizeof dir, "%s", cfg->offset_dir);
        else
            snprintf(dir, sizeof dir, "%s/.rocklet_offsets", home ? home : "/tmp");
        int n = snprintf(pc->offset_file, sizeof pc->offset_file, "%s/%s/%s/offsets.json", dir,
                         rk_mqclient_id(pc->c), pc->group);
        if (n < 0 || (size_t)n >= sizeof pc->offset_file) {
            rc = RK_EINVAL;
            goto fail6;
        }
        char parent[1024];
        snprintf(parent, sizeof parent, "%s", pc->offset_file);
        *strrchr(parent, '/') = '\0';
        if ((rc = rk_mkdirs(parent, 0755)) != RK_OK || (rc = load_local_offsets(pc)) != RK_OK)
            goto fail6;
    }
    *out = pc;
    return RK_OK;
fail6:
    rk_mqclient_free(pc->c);
fail5:
    free(pc->threads);
fail4:
    uv_cond_destroy(&pc->pcond);
fail3:
    rk_idle_pool_destroy(&pc->spare);
    uv_mutex_destroy(&pc->pmu);
fail2:
    uv_mutex_destroy(&pc->rb_mu);
fail1:
    uv_mutex_destroy(&pc->mu);
fail0:
    rk_strmap_free(&pc->local_offsets, free);
    free(pc);
    return rc;
}

rk_mqclient_t *rk_push_consumer_client(rk_push_consumer_t *pc) { return pc->c; }
const char *rk_push_consumer_group(const rk_push_consumer_t *pc) { return pc->group; }

int rk_push_consumer_set_hooks(rk_push_consumer_t *pc, const rk_push_consumer_hooks_t *hooks)
{
    if (pc == NULL || pc->started)
        return RK_EINVAL;
    if (hooks != NULL)
        pc->hooks = *hooks;
    else
        memset(&pc->hooks, 0, sizeof pc->hooks);
    return RK_OK;
}

int rk_push_consumer_subscribe(rk_push_consumer_t *pc, const char *topic, const char *tag_expr)
{
    if (pc->started || topic == NULL || !rk_topic_name_valid(topic))
        return RK_EINVAL;
    if (tag_expr == NULL || !*tag_expr)
        tag_expr = "*";
    if (strlen(tag_expr) >= sizeof pc->subs[0].expr)
        return RK_ETOOBIG;
    for (int i = 0; i < pc->nsubs; i++)
        if (strcmp(pc->subs[i].topic, topic) == 0) {
            snprintf(pc->subs[i].expr, sizeof pc->subs[i].expr, "%s", tag_expr);
            return RK_OK;
        }
    if (pc->nsubs == MAX_SUBS)
        return RK_EFULL;
    snprintf(pc->subs[pc->nsubs].topic, RK_NAME_MAX, "%s", topic);
    snprintf(pc->subs[pc->nsubs].expr, sizeof pc->subs[0].expr, "%s", tag_expr);
    pc->nsubs++;
    return RK_OK;
}

int rk_push_consumer_start(rk_push_consumer_t *pc)
{
    if (pc->started || pc->nsubs == 0)
        return RK_EINVAL;
    /* clustering consumers also take back messages their group failed (chapter 9) */
    if (pc->model == RK_CLUSTERING && pc->nsubs < MAX_SUBS) {
        char retry[RK_NAME_MAX];
        int n = snprintf(retry, sizeof retry, "%%RETRY%%%s", pc->group);
        if (n > 0 && (size_t)n < sizeof retry)
            rk_push_consumer_subscribe(pc, retry, "*");
    }
    pc->started = true;
    for (int i = 0; i < pc->nthreads; i++) {
        if (uv_thread_create(&pc->threads[i], pool_main, pc) != 0) {
            rk_log_warn("consumer", "could start only %d of %d consumer threads", i, pc->nthreads);
            break;
        }
        pc->nstarted++;
    }
    if (pc->nstarted == 0)
        return RK_ENOMEM;
    /* routes first, so the heartbeat reaches the brokers that serve them */
    for (int i = 0; i < pc->nsubs; i++) {
        rk_topic_route_t *r = NULL;
        if (rk_mqclient_route(pc->c, pc->subs[i].topic, true, &r) == RK_OK)
            rk_topic_route_release(r);
        else if (strncmp(pc->subs[i].topic, "%RETRY%", 7) != 0)
            rk_log_info("consumer", "%s: topic %s has no route yet; looking it up again within 2 s until it has one",
                        pc->group, pc->subs[i].topic);
    }
    rk_mqclient_set_heartbeat(pc->c, fill_heartbeat, pc);
    rk_mqclient_heartbeat_now(pc->c);
    if (rebalance(pc, false) != 0)
        quick_start(pc);
    int rc = rk_mqclient_schedule(pc->c, (uint64_t)pc->rebalance_ms, rebalance_task, pc);
    if (rc == RK_OK)
        rc = rk_mqclient_schedule(pc->c, (uint64_t)pc->persist_ms, persist_task, pc);
    return rc;
}

typedef struct collect_ctx {
    rk_mq_t *out;
    size_t n;
    pq_t **pqs;
} collect_ctx_t;

static int collect_pq(const char *key, void *value, void *arg)
{
    (void)key;
    collect_ctx_t *x = arg;
    pq_t *q = value;
    if (x->out)
        x->out[x->n] = q->mq;
    if (x->pqs)
        x->pqs[x->n] = q;
    x->n++;
    return 0;
}

static int cmp_mq(const void *a, const void *b) { return rk_mq_cmp(a, b); }

int rk_push_consumer_assigned(rk_push_consumer_t *pc, rk_mq_t **out, size_t *n)
{
    uv_mutex_lock(&pc->mu);
    collect_ctx_t x = {.out = calloc(pc->table.len + 1, sizeof(rk_mq_t))};
    if (x.out != NULL)
        rk_strmap_foreach(&pc->table, collect_pq, &x);
    uv_mutex_unlock(&pc->mu);
    if (x.out == NULL)
        return RK_ENOMEM;
    qsort(x.out, x.n, sizeof *x.out, cmp_mq);
    *out = x.out;
    *n = x.n;
    return RK_OK;
}

void rk_push_consumer_free(rk_push_consumer_t *pc)
{
    if (pc == NULL)
        return;
    atomic_store(&pc->stopping, true);
    uv_mutex_lock(&pc->rb_mu);          /* no rebalance in progress from here on */
    pool_stop(pc);                      /* running listeners finish */
    if (pc->started) {
        uv_mutex_lock(&pc->mu);
        persist_all(pc, true);
        size_t n = pc->table.len;
        collect_ctx_t x = {.pqs = calloc(n + 1, sizeof(pq_t *))};
        if (x.pqs != NULL)
            rk_strmap_foreach(&pc->table, collect_pq, &x);
        for (size_t i = 0; i < x.n; i++)
            drop_pq(pc, x.pqs[i], true);
        free(x.pqs);
        uv_mutex_unlock(&pc->mu);
        rk_mqclient_unregister(pc->c, NULL, pc->group);
    }
    uv_mutex_unlock(&pc->rb_mu);
    rk_mqclient_free(pc->c);            /* cancels timers, fails pulls in flight: they drop their references */
    rk_strmap_free(&pc->table, (void (*)(void *))pq_unref);
    rk_strmap_free(&pc->local_offsets, free);
    free(pc->threads);
    uv_cond_destroy(&pc->pcond);
    rk_idle_pool_destroy(&pc->spare);
    uv_mutex_destroy(&pc->pmu);
    uv_mutex_destroy(&pc->rb_mu);
    uv_mutex_destroy(&pc->mu);
    free(pc);
}

/* ------------------------------------------------------------ admin requests from the broker
 *
 * GET_CONSUMER_RUNNING_INFO (307) and CONSUME_MESSAGE_DIRECTLY (309) come
 * from an operator through the broker, RESET_CONSUMER_CLIENT_OFFSET (220)
 * from the broker after resetOffsetByTime. They arrive on the network
 * thread, which must not wait for pc->mu (a thread holding it may be
 * waiting for an answer only that thread reads) nor run a listener: each is
 * copied and done on the scheduler thread, and 307 / 309 answered from there
 * with rk_rclient_respond. */

#define ADMIN_MAX_RESET_BODY (1024 * 1024)

static int sub_index(const rk_push_consumer_t *pc, const char *topic)
{
    for (int i = 0; i < pc->nsubs; i++)
        if (strcmp(pc->subs[i].topic, topic) == 0)
            return i;
    return -1;
}

/* The listener, timed and counted per subscription (running info's statusTable). */
static rk_consume_result_t consume_call(rk_push_consumer_t *pc, const rk_msg_ext_t *msgs, size_t n)
{
    uint64_t t0 = rk_mono_ms();
    rk_consume_result_t res = pc->fn(pc->arg, msgs, n);
    int i = n > 0 ? sub_index(pc, msgs[0].topic) : -1;
    if (i >= 0) {
        atomic_fetch_add(res == RK_CONSUME_SUCCESS ? &pc->stats[i].ok : &pc->stats[i].failed, (int64_t)n);
        atomic_fetch_add(&pc->stats[i].rt_ms, (int64_t)(rk_mono_ms() - t0));
    }
    return res;
}

typedef struct admin_task {
    rk_push_consumer_t *pc;
    char addr[RK_ADDR_MAX];
    rk_cmd_t *req;                      /* a copy, with the original's opaque and flag */
} admin_task_t;

static void admin_task_free(admin_task_t *t)
{
    rk_cmd_free(t->req);
    free(t);
}

static void admin_answer(admin_task_t *t, int code, const char *remark, char *body)
{
    rk_cmd_t *resp = rk_cmd_new_response(t->req, code, remark);
    if (resp != NULL && body != NULL)
        rk_cmd_own_body(resp, (uint8_t *)body, strlen(body));
    else
        free(body);
    if (resp != NULL)
        rk_rclient_respond(rk_mqclient_remoting(t->pc->c), t->addr, t->req, resp);
}

static void buf_json(rk_buf_t *b, cJSON *j)
{
    char *t = j ? rk_json_print(j, 0) : NULL;
    if (t == NULL)
        b->err = RK_ENOMEM;
    else
        rk_buf_put_str(b, t);
    free(t);
    cJSON_Delete(j);
}

typedef struct pq_row {
    rk_mq_t mq;
    int64_t commit, min, max, count, bytes;
    bool locked;
} pq_row_t;

static int cmp_row(const void *a, const void *b) { return rk_mq_cmp(&((const pq_row_t *)a)->mq, &((const pq_row_t *)b)->mq); }

/* ConsumerRunningInfo: properties, subscriptionSet, mqTable (fastjson's
 * MessageQueue keys) of ProcessQueueInfo, statusTable per topic (TPS over
 * the consumer's life: rocklet keeps totals, not RocketMQ's minute windows). */
static char *running_info(rk_push_consumer_t *pc)
{
    uv_mutex_lock(&pc->mu);
    size_t n = pc->table.len;
    collect_ctx_t x = {.pqs = calloc(n + 1, sizeof(pq_t *))};
    pq_row_t *rows = calloc(n + 1, sizeof *rows);
    if (x.pqs != NULL && rows != NULL) {
        rk_strmap_foreach(&pc->table, collect_pq, &x);
        for (size_t i = 0; i < x.n; i++) {
            pq_t *q = x.pqs[i];
            pq_row_t *r = &rows[i];
            uv_mutex_lock(&q->mu);
            r->mq = q->mq;
            r->commit = pq_acked(q);
            r->min = r->max = -1;
            for (const batch_t *b = q->head; b != NULL; b = b->next)
                for (size_t k = 0; k < b->list->n; k++)
                    if (!b->done[k]) {
                        if (r->min < 0)
                            r->min = b->list->msgs[k].queue_offset;
                        r->max = b->list->msgs[k].queue_offset;
                        r->bytes += (int64_t)b->list->msgs[k].body_len;
                    }
            r->count = (int64_t)q->cached;
            r->locked = q->locked;
            uv_mutex_unlock(&q->mu);
        }
    }
    uv_mutex_unlock(&pc->mu);
    free(x.pqs);
    if (rows == NULL)
        return NULL;
    qsort(rows, x.n, sizeof *rows, cmp_row);
    rk_buf_t b = {0};
    rk_buf_put_str(&b, "{\"jstack\":\"\",\"mqTable\":{");
    for (size_t i = 0; i < x.n; i++) {
        pq_row_t *r = &rows[i];
        if (i)
            rk_buf_put_u8(&b, ',');
        rk_buf_put_mq_key(&b, r->mq.broker, r->mq.topic, r->mq.queue_id);
        rk_buf_printf(&b, "{\"cachedMsgCount\":%" PRId64 ",\"cachedMsgMaxOffset\":%" PRId64
                          ",\"cachedMsgMinOffset\":%" PRId64 ",\"cachedMsgSizeInMiB\":%" PRId64
                          ",\"commitOffset\":%" PRId64 ",\"droped\":false,\"lastConsumeTimestamp\":0,"
                          "\"lastLockTimestamp\":0,\"lastPullTimestamp\":0,\"locked\":%s,"
                          "\"transactionMsgCount\":0,\"transactionMsgMaxOffset\":0,\"transactionMsgMinOffset\":0,"
                          "\"tryUnlockTimes\":0}",
                      r->count, r->max > 0 ? r->max : 0, r->min > 0 ? r->min : 0, r->bytes / (1024 * 1024), r->commit,
                      r->locked ? "true" : "false");
    }
    free(rows);
    rk_buf_put_str(&b, "},\"properties\":");
    cJSON *props = cJSON_CreateObject();
    char num[32];
    cJSON_AddStringToObject(props, "consumerGroup", pc->group);
    cJSON_AddStringToObject(props, "messageModel", pc->model == RK_BROADCASTING ? "BROADCASTING" : "CLUSTERING");
    cJSON_AddStringToObject(props, "consumeFromWhere", pc->from == RK_CONSUME_FROM_FIRST       ? "CONSUME_FROM_FIRST_OFFSET"
                                                       : pc->from == RK_CONSUME_FROM_TIMESTAMP ? "CONSUME_FROM_TIMESTAMP"
                                                                                               : "CONSUME_FROM_LAST_OFFSET");
    cJSON_AddStringToObject(props, "PROP_CONSUME_TYPE", "CONSUME_PASSIVELY");
    cJSON_AddStringToObject(props, "PROP_CONSUMEORDERLY", pc->orderly ? "true" : "false");
    snprintf(num, sizeof num, "%d", pc->nthreads);
    cJSON_AddStringToObject(props, "PROP_THREADPOOL_CORE_SIZE", num);
    snprintf(num, sizeof num, "%" PRId64, pc->start_ms);
    cJSON_AddStringToObject(props, "PROP_CONSUMER_START_TIMESTAMP", num);
    cJSON_AddStringToObject(props, "PROP_CLIENT_VERSION", "V4_9_8");    /* RK_VERSION_CURRENT */
    cJSON_AddStringToObject(props, "PROP_CLIENT_SDK", "rocklet-c");
    buf_json(&b, props);
    rk_buf_put_str(&b, ",\"statusTable\":");
    cJSON *status = cJSON_CreateObject();
    double secs = (double)(rk_now_ms() - pc->start_ms) / 1000.0;
    if (secs < 1)
        secs = 1;
    for (int i = 0; i < pc->nsubs; i++) {
        int64_t ok = atomic_load(&pc->stats[i].ok), failed = atomic_load(&pc->stats[i].failed);
        int64_t rt = atomic_load(&pc->stats[i].rt_ms);
        cJSON *st = cJSON_CreateObject();
        cJSON_AddNumberToObject(st, "consumeFailedMsgs", (double)failed);
        cJSON_AddNumberToObject(st, "consumeFailedTPS", (double)failed / secs);
        cJSON_AddNumberToObject(st, "consumeOKTPS", (double)ok / secs);
        cJSON_AddNumberToObject(st, "consumeRT", ok + failed > 0 ? (double)rt / (double)(ok + failed) : 0.0);
        cJSON_AddNumberToObject(st, "pullRT", 0);
        cJSON_AddNumberToObject(st, "pullTPS", 0);
        cJSON_AddItemToObject(status, pc->subs[i].topic, st);
    }
    buf_json(&b, status);
    rk_buf_put_str(&b, ",\"subscriptionSet\":");
    cJSON *subs = cJSON_CreateArray();
    for (int i = 0; i < pc->nsubs; i++) {
        cJSON *s = cJSON_CreateObject();
        cJSON_AddBoolToObject(s, "classFilterMode", false);
        cJSON_AddStringToObject(s, "expressionType", "TAG");
        cJSON_AddStringToObject(s, "subString", pc->subs[i].expr);
        rk_json_add_i64(s, "subVersion", pc->sub_version);
        cJSON_AddStringToObject(s, "topic", pc->subs[i].topic);
        cJSON_AddItemToArray(subs, s);
    }
    buf_json(&b, subs);
    rk_buf_put_str(&b, "}");
    if (b.err != 0 || rk_buf_cstr(&b) != RK_OK) {
        rk_buf_free(&b);
        return NULL;
    }
    size_t len;
    return (char *)rk_buf_detach(&b, &len);
}

static bool admin_group_ok(admin_task_t *t, const char *key)
{
    const char *g = rk_cmd_ext_get(t->req, key);
    if (g != NULL && strcmp(g, t->pc->group) == 0 && t->pc->started)
        return true;
    char remark[300];
    snprintf(remark, sizeof remark, "The Consumer Group <%.128s> not exist in this consumer", g ? g : "");
    admin_answer(t, RK_RESP_SYSTEM_ERROR, remark, NULL);
    return false;
}

static void running_info_task(void *arg, bool cancelled)
{
    admin_task_t *t = arg;
    if (!cancelled && !atomic_load(&t->pc->stopping) && admin_group_ok(t, "consumerGroup")) {
        char *body = running_info(t->pc);
        admin_answer(t, body ? RK_RESP_SUCCESS : RK_RESP_SYSTEM_ERROR, body ? NULL : "out of memory", body);
    }
    admin_task_free(t);
}

/* ConsumeMessageDirectlyResult for the stored record in the body, run
 * through the listener once (nothing is committed, nothing sent back). */
static void consume_directly_task(void *arg, bool cancelled)
{
    admin_task_t *t = arg;
    rk_push_consumer_t *pc = t->pc;
    if (cancelled || atomic_load(&pc->stopping) || !admin_group_ok(t, "consumerGroup")) {
        admin_task_free(t);
        return;
    }
    uint8_t *raw = t->req->body_len > 0 ? malloc(t->req->body_len) : NULL;
    rk_msg_list_t *l = NULL;
    if (raw != NULL)
        memcpy(raw, t->req->body, t->req->body_len);
    int rc = raw ? rk_msg_list_decode(raw, t->req->body_len, &l) : RK_EINVAL;
    if (rc != RK_OK || l->n == 0) {
        rk_msg_list_free(l);
        admin_answer(t, RK_RESP_SYSTEM_ERROR, "the body is not a stored message", NULL);
        admin_task_free(t);
        return;
    }
    rk_msg_ext_t *m = &l->msgs[0];
    const char *bname = rk_cmd_ext_get(t->req, "brokerName");
    snprintf(m->broker, sizeof m->broker, "%s", bname ? bname : "");
    if (pc->hooks.before_consume != NULL)
        pc->hooks.before_consume(pc->hooks.ctx, pc, m, 1);
    uint64_t t0 = rk_mono_ms();
    rk_consume_result_t res = pc->fn(pc->arg, m, 1);
    uint64_t spent = rk_mono_ms() - t0;
    rk_log_info("consumer", "%s: message %s consumed directly (asked by an operator): %s", pc->group, m->msg_id,
                res == RK_CONSUME_SUCCESS ? "CR_SUCCESS" : "CR_LATER");
    rk_msg_list_free(l);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "autoCommit", true);
    cJSON_AddStringToObject(o, "consumeResult", res == RK_CONSUME_SUCCESS ? "CR_SUCCESS" : "CR_LATER");
    cJSON_AddBoolToObject(o, "order", pc->orderly);
    rk_json_add_i64(o, "spentTimeMills", (int64_t)spent);
    char *body = o ? rk_json_print(o, 0) : NULL;
    cJSON_Delete(o);
    admin_answer(t, body ? RK_RESP_SUCCESS : RK_RESP_SYSTEM_ERROR, body ? NULL : "out of memory", body);
    admin_task_free(t);
}

/* RESET_CONSUMER_CLIENT_OFFSET: each listed queue this member owns is
 * dropped as it is (its old offset is not committed), the new offset
 * committed, and a rebalance makes the queue again from there. */
static void reset_task(void *arg, bool cancelled)
{
    admin_task_t *t = arg;
    rk_push_consumer_t *pc = t->pc;
    const char *g = rk_cmd_ext_get(t->req, "group");
    if (cancelled || atomic_load(&pc->stopping) || g == NULL || strcmp(g, pc->group) != 0 || !pc->started ||
        t->req->body_len == 0 || t->req->body_len > ADMIN_MAX_RESET_BODY) {
        admin_task_free(t);
        return;
    }
    rk_mq_map_entry_t *e = NULL;
    size_t n = 0;
    if (rk_mq_map_parse((const char *)t->req->body, t->req->body_len, "offsetTable", &e, &n) != RK_OK) {
        rk_log_warn("consumer", "%s: RESET_CONSUMER_CLIENT_OFFSET with a body that is not a ResetOffsetBody", pc->group);
        admin_task_free(t);
        return;
    }
    size_t done = 0;
    uv_mutex_lock(&pc->rb_mu);          /* no rebalance meanwhile */
    uv_mutex_lock(&pc->mu);
    for (size_t i = 0; i < n; i++) {
        int64_t off = -1;
        if (!cJSON_IsNumber(e[i].value) || e[i].value->valuedouble < 0 || e[i].value->valuedouble > 9e18 ||
            sub_index(pc, e[i].mq.topic) < 0)
            continue;
        off = (int64_t)e[i].value->valuedouble;
        char key[MQKEY_MAX];
        mq_key(&e[i].mq, key);
        pq_t *q = rk_strmap_remove(&pc->table, key);
        if (q != NULL) {
            uv_mutex_lock(&q->mu);
            q->dropped = true;          /* its pull in flight and its queued jobs come to nothing */
            uv_mutex_unlock(&q->mu);
            pq_unref(q);
        }
        if (pc->model == RK_BROADCASTING) {
            int64_t *v = rk_strmap_get(&pc->local_offsets, key);
            if (v == NULL && (v = malloc(sizeof *v)) != NULL && rk_strmap_put(&pc->local_offsets, key, v, NULL) != RK_OK) {
                free(v);
                v = NULL;
            }
            if (v != NULL)
                *v = off;
        } else if (q != NULL) {
            update_offset(pc->c, pc->group, &e[i].mq, off, false);
        }
        done += q != NULL;
    }
    if (pc->model == RK_BROADCASTING)
        persist_all(pc, true);
    uv_mutex_unlock(&pc->mu);
    uv_mutex_unlock(&pc->rb_mu);
    rk_mq_map_free(e, n);
    rk_log_info("consumer", "%s: offsets reset by the broker (%zu of my queues)", pc->group, done);
    if (rebalance(pc, false) != 0)
        quick_start(pc);
    admin_answer(t, RK_RESP_SUCCESS, NULL, NULL);     /* nothing is sent for the broker's oneway push */
    admin_task_free(t);
}

/* Network thread: copy the request and hand it to the scheduler. */
static rk_cmd_t *admin_enqueue(rk_push_consumer_t *pc, const char *addr, const rk_cmd_t *req, rk_task_fn fn)
{
    admin_task_t *t = calloc(1, sizeof *t);
    if (t == NULL || (t->req = rk_cmd_clone(req)) == NULL) {
        free(t);
        return rk_cmd_new_response(req, RK_RESP_SYSTEM_ERROR, "out of memory");
    }
    t->pc = pc;
    t->req->opaque = req->opaque;
    t->req->flag = req->flag;
    snprintf(t->addr, sizeof t->addr, "%s", addr);
    if (rk_mqclient_schedule(pc->c, 0, fn, t) != RK_OK) {
        admin_task_free(t);
        return rk_cmd_new_response(req, RK_RESP_SYSTEM_ERROR, "the consumer is shutting down");
    }
    return NULL;                        /* answered by the task */
}

static rk_cmd_t *on_running_info(void *ctx, const char *addr, const rk_cmd_t *req)
{
    return admin_enqueue(ctx, addr, req, running_info_task);
}

static rk_cmd_t *on_consume_directly(void *ctx, const char *addr, const rk_cmd_t *req)
{
    return admin_enqueue(ctx, addr, req, consume_directly_task);
}

static rk_cmd_t *on_reset_offset(void *ctx, const char *addr, const rk_cmd_t *req)
{
    return admin_enqueue(ctx, addr, req, reset_task);
}

static int admin_register(rk_push_consumer_t *pc)
{
    rk_rclient_t *rc = rk_mqclient_remoting(pc->c);
    int r = rk_rclient_register(rc, RK_REQ_GET_CONSUMER_RUNNING_INFO, on_running_info, pc);
    if (r == RK_OK)
        r = rk_rclient_register(rc, RK_REQ_CONSUME_MESSAGE_DIRECTLY, on_consume_directly, pc);
    if (r == RK_OK)
        r = rk_rclient_register(rc, RK_REQ_RESET_CONSUMER_CLIENT_OFFSET, on_reset_offset, pc);
    return r;
}
