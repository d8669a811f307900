/* broker_stats.c — the broker's figures for operators: runtime info, topic
 * offsets and consumer lag (GET_BROKER_RUNTIME_INFO, GET_TOPIC_STATS_INFO,
 * GET_CONSUME_STATS), answered in RocketMQ's JSON shapes, and rocklet's GET_ALL_TOPIC_STATS
 * (every topic's offsets, a page a request: rk/broker.h). */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "rk/broker.h"
#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/request_code.h"
#include "rk/topic_config.h"

#define TPS_WINDOW 10                   /* samples, one a second */

typedef struct stats {
    rk_broker_t *b;
    int64_t boot_ms;
    _Atomic int64_t puts;               /* messages dispatched since boot */
    int64_t samples[TPS_WINDOW + 1];    /* puts at each of the last seconds (loop thread) */
    int nsamples;
    _Atomic int64_t tps_x100;           /* put TPS over the window, * 100 */
} stats_t;

static int count_put(void *ctx, const rk_dispatch_request_t *d)
{
    stats_t *s = ctx;
    if ((d->sysflag & RK_SYSFLAG_TXN_MASK) == RK_SYSFLAG_TXN_NOT || (d->sysflag & RK_SYSFLAG_TXN_MASK) == RK_SYSFLAG_TXN_COMMIT)
        atomic_fetch_add(&s->puts, 1);
    return RK_OK;
}

static void sample(void *ctx)
{
    stats_t *s = ctx;
    if (s->nsamples == TPS_WINDOW + 1) {
        memmove(s->samples, s->samples + 1, TPS_WINDOW * sizeof s->samples[0]);
        s->nsamples--;
    }
    s->samples[s->nsamples++] = atomic_load(&s->puts);
    if (s->nsamples > 1) {
        int64_t d = s->samples[s->nsamples - 1] - s->samples[0];
        atomic_store(&s->tps_x100, d * 100 / (s->nsamples - 1));
    }
}

static void reply_body(rk_reply_t *reply, rk_cmd_t *req, rk_buf_t *body)
{
    if (body->err != 0) {
        rk_buf_free(body);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    if (resp != NULL) {
        size_t len;
        uint8_t *data = rk_buf_detach(body, &len);
        rk_cmd_own_body(resp, data, len);
    }
    rk_buf_free(body);
    rk_reply_send(reply, resp);
}

/* `,"key":"value"` with value escaped as a JSON string. */
static void put_json_field(rk_buf_t *b, const char *key, const char *v)
{
    rk_buf_printf(b, ",\"%s\":\"", key);
    for (const unsigned char *p = (const unsigned char *)(v ? v : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            rk_buf_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            rk_buf_printf(b, "\\u%04x", *p);
        else
            rk_buf_put_u8(b, *p);
    }
    rk_buf_put_u8(b, '"');
}

/* KVTable: {"table":{"key":"value",...}}, every value a string. */
static void p_runtime(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    stats_t *s = ctx;
    rk_store_t *st = rk_broker_store(s->b);
    int64_t now = rk_now_ms(), tps = atomic_load(&s->tps_x100);
    int64_t cmin = rk_store_commitlog_min(st), cmax = rk_store_commitlog_max(st);
    int64_t behind = cmax - rk_store_dispatched(st);
    rk_commitlog_damage_t dmg;      /* damaged ranges skipped in the log (ch04) */
    rk_commitlog_damage_stats(rk_store_commitlog(st), &dmg);
    rk_buf_t b = {0};
    rk_buf_printf(&b, "{\"table\":{\"brokerVersionDesc\":\"V4_9_8\",\"brokerVersion\":\"%d\","
                      "\"rockletVersion\":\"0.7\",\"bootTimestamp\":\"%" PRId64 "\","
                      "\"runtime\":\"[ %" PRId64 " days, %" PRId64 " hours, %" PRId64 " minutes, %" PRId64 " seconds ]\","
                      "\"msgPutTotalTodayNow\":\"%" PRId64 "\",\"putTps\":\"%" PRId64 ".%02" PRId64 "\","
                      "\"commitLogMinOffset\":\"%" PRId64 "\",\"commitLogMaxOffset\":\"%" PRId64 "\","
                      "\"dispatchBehindBytes\":\"%" PRId64 "\",\"earliestMessageTimeStamp\":\"%" PRId64 "\","
                      "\"commitLogCorruptRanges\":\"%" PRId64 "\",\"commitLogCorruptBytes\":\"%" PRId64 "\","
                      "\"heldPulls\":\"%zu\"",
                  RK_VERSION_CURRENT, s->boot_ms, (now - s->boot_ms) / 86400000, (now - s->boot_ms) / 3600000 % 24,
                  (now - s->boot_ms) / 60000 % 60, (now - s->boot_ms) / 1000 % 60, atomic_load(&s->puts), tps / 100,
                  tps % 100, cmin, cmax, behind > 0 ? behind : 0, rk_store_earliest_time(st), dmg.ranges, dmg.bytes,
                  rk_broker_held_pulls(s->b));
    /* names come from the config file: escaped, so any name keeps the answer JSON */
    put_json_field(&b, "brokerName", rk_broker_config(s->b)->broker_name);
    put_json_field(&b, "clusterName", rk_broker_config(s->b)->cluster_name);
    rk_broker_runtime_info(s->b, &b);      /* later chapters' fields (HA...) */
    rk_buf_put_str(&b, "}}");
    reply_body(reply, req, &b);
}

/* fastjson writes a map keyed by MessageQueue with the key object itself
 * as the member name (not valid JSON; every RocketMQ client reads it). */
static void put_mq_key(rk_buf_t *b, const char *broker, const char *topic, int qid)
{
    rk_buf_printf(b, "{\"brokerName\":\"%s\",\"queueId\":%d,\"topic\":\"%s\"}:", broker, qid, topic);
}

/* TopicStatsTable: {"offsetTable":{MQ:{"lastUpdateTimestamp":..,"maxOffset":..,"minOffset":..}}} */
static void p_topic_stats(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    stats_t *s = ctx;
    const char *topic = rk_cmd_ext_get(req, "topic");
    rk_topic_config_t tc;
    if (topic == NULL || rk_topic_get(rk_broker_topics(s->b), topic, &tc) != RK_OK) {
        char remark[300];
        snprintf(remark, sizeof remark, "topic[%.200s] not exist", topic ? topic : "");
        rk_reply_code(reply, RK_RESP_TOPIC_NOT_EXIST, remark);
        return;
    }
    rk_queue_stats_t *qs = tc.write_queues > 0 ? malloc((size_t)tc.write_queues * sizeof *qs) : NULL;
    if ((tc.write_queues > 0 && qs == NULL) ||
        rk_store_queue_stats(rk_broker_store(s->b), topic, tc.write_queues, qs) != RK_OK) {
        free(qs);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    rk_buf_t b = {0};
    rk_buf_put_str(&b, "{\"offsetTable\":{");
    for (int q = 0; q < tc.write_queues; q++) {
        if (q)
            rk_buf_put_u8(&b, ',');
        put_mq_key(&b, rk_broker_config(s->b)->broker_name, topic, q);
        rk_buf_printf(&b, "{\"lastUpdateTimestamp\":%" PRId64 ",\"maxOffset\":%" PRId64 ",\"minOffset\":%" PRId64 "}",
                      qs[q].last_store_ts > 0 ? qs[q].last_store_ts : 0, qs[q].max_offset, qs[q].min_offset);
    }
    free(qs);
    rk_buf_put_str(&b, "}}");
    reply_body(reply, req, &b);
}

/* v in decimal (printf's machinery costs more than the rest of a queue's row). */
static void put_i64(rk_buf_t *b, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do
        tmp[sizeof tmp - 1 - n++] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        tmp[sizeof tmp - 1 - n++] = '-';
    rk_buf_put(b, tmp + sizeof tmp - n, (size_t)n);
}

/* v as a JSON string. */
static void put_json_str(rk_buf_t *b, const char *v)
{
    rk_buf_put_u8(b, '"');
    const char *run = v;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p != '"' && *p != '\\' && *p >= 0x20)
            continue;
        rk_buf_put(b, run, (size_t)((const char *)p - run));
        if (*p < 0x20)
            rk_buf_printf(b, "\\u%04x", *p);
        else
            rk_buf_printf(b, "\\%c", *p);
        run = (const char *)p + 1;
    }
    rk_buf_put_str(b, run);
    rk_buf_put_u8(b, '"');
}

/* GET_ALL_TOPIC_STATS (rk/broker.h): a page of topics, each topic's queues as
 * [minOffset,maxOffset,lastUpdateTimestamp], written straight into the body. */
static void p_all_topic_stats(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    stats_t *s = ctx;
    const char *after = rk_cmd_ext_get(req, "afterTopic");
    const char *maxs = rk_cmd_ext_get(req, "maxTopics");
    long long max = RK_ALL_TOPIC_STATS_DEFAULT_TOPICS;
    if (maxs != NULL) {
        char *end = NULL;
        max = strtoll(maxs, &end, 10);
        if (*maxs < '0' || *maxs > '9' || *end != '\0' || max < 1 || max > RK_ALL_TOPIC_STATS_MAX_TOPICS) {
            char remark[160];
            snprintf(remark, sizeof remark, "maxTopics[%.40s] must be a number in 1..%d", maxs,
                     RK_ALL_TOPIC_STATS_MAX_TOPICS);
            rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, remark);
            return;
        }
    }
    if (after != NULL && strlen(after) >= sizeof ((rk_topic_config_t *)0)->name) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "afterTopic is longer than a topic name may be");
        return;
    }
    rk_topic_config_t *tcs = malloc((size_t)max * sizeof *tcs);
    rk_queue_stats_t *qs = malloc(RK_TOPIC_MAX_QUEUES * sizeof *qs);
    bool more = false;
    int n = tcs && qs ? rk_topic_list(rk_broker_topics(s->b), after && *after ? after : NULL, (int)max, tcs, &more)
                      : RK_ENOMEM;
    if (n < 0) {
        free(tcs);
        free(qs);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    rk_store_t *st = rk_broker_store(s->b);
    rk_buf_t b = {0};
    rk_buf_put_str(&b, "{\"brokerName\":");
    put_json_str(&b, rk_broker_config(s->b)->broker_name);
    rk_buf_put_str(&b, ",\"topics\":{");
    int i = 0;
    for (; i < n && b.err == 0; i++) {
        int nq = tcs[i].write_queues < RK_TOPIC_MAX_QUEUES ? tcs[i].write_queues : RK_TOPIC_MAX_QUEUES;
        if (rk_store_queue_stats(st, tcs[i].name, nq, qs) != RK_OK)
            nq = 0;                     /* a name the store cannot hold has no queues there */
        if (i)
            rk_buf_put_u8(&b, ',');
        put_json_str(&b, tcs[i].name);
        rk_buf_put_str(&b, ":[");
        for (int q = 0; q < nq; q++) {
            rk_buf_put_str(&b, q ? ",[" : "[");
            put_i64(&b, qs[q].min_offset);
            rk_buf_put_u8(&b, ',');
            put_i64(&b, qs[q].max_offset);
            rk_buf_put_u8(&b, ',');
            put_i64(&b, qs[q].last_store_ts > 0 ? qs[q].last_store_ts : 0);
            rk_buf_put_u8(&b, ']');
        }
        rk_buf_put_u8(&b, ']');
        if (b.len >= RK_ALL_TOPIC_STATS_PAGE_BYTES) {
            i++;
            more = more || i < n;
            break;
        }
    }
    rk_buf_put_str(&b, "}}");
    free(qs);
    if (b.err != 0) {
        free(tcs);
        reply_body(reply, req, &b);     /* answers out of memory */
        return;
    }
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    if (resp != NULL) {
        rk_cmd_ext_set(resp, "more", more ? "true" : "false");
        if (i > 0)
            rk_cmd_ext_set(resp, "lastTopic", tcs[i - 1].name);
        size_t len;
        uint8_t *data = rk_buf_detach(&b, &len);
        rk_cmd_own_body(resp, data, len);
    }
    free(tcs);
    rk_buf_free(&b);
    rk_reply_send(reply, resp);
}

typedef struct lag_ctx {
    stats_t *s;
    const char *group, *only_topic;
    rk_buf_t *b;
    int n;
    int64_t diff;
} lag_ctx_t;

/* One row of a group's consume stats: a queue it committed an offset in. As RocketMQ (topics by
 * the group's offsets, while the broker has the topic): a queue of a topic the broker still has,
 * or, if the topic is gone from the table, one that still holds messages. So the group's retry
 * topic, which its consumers commit offset 0 in as soon as they pulled it, has its rows before
 * the first retry gave it a consume queue. */
static int add_lag(const char *topic, int qid, int64_t committed, void *arg)
{
    lag_ctx_t *x = arg;
    if (x->only_topic != NULL && *x->only_topic && strcmp(topic, x->only_topic) != 0)
        return 0;
    rk_store_t *st = rk_broker_store(x->s->b);
    int64_t max = rk_store_max_offset(st, topic, qid);
    rk_topic_config_t tc;
    if (max == 0 && rk_topic_get(rk_broker_topics(x->s->b), topic, &tc) != RK_OK)
        return 0;
    int64_t last = committed > 0 ? rk_store_message_store_time(st, topic, qid, committed - 1) : 0;
    if (x->n++)
        rk_buf_put_u8(x->b, ',');
    put_mq_key(x->b, rk_broker_config(x->s->b)->broker_name, topic, qid);
    rk_buf_printf(x->b, "{\"brokerOffset\":%" PRId64 ",\"consumerOffset\":%" PRId64 ",\"lastTimestamp\":%" PRId64 "}",
                  max, committed, last > 0 ? last : 0);
    x->diff += max > committed ? max - committed : 0;
    return 0;
}

/* ConsumeStats: {"consumeTps":0.0,"offsetTable":{MQ:{"brokerOffset":..,"consumerOffset":..,"lastTimestamp":..}}} */
static void p_consume_stats(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    stats_t *s = ctx;
    const char *group = rk_cmd_ext_get(req, "consumerGroup");
    if (group == NULL || !*group) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "consumerGroup is required");
        return;
    }
    rk_buf_t b = {0};
    if (rk_broker_consume_stats(s->b, group, rk_cmd_ext_get(req, "topic"), &b, NULL) == 0) {
        rk_buf_free(&b);
        char remark[300];
        snprintf(remark, sizeof remark, "the consumer group[%.200s] has no committed offset on this broker", group);
        rk_reply_code(reply, RK_RESP_CONSUMER_NOT_ONLINE, remark);
        return;
    }
    reply_body(reply, req, &b);
}

static int stats_init(rk_broker_t *b, void **state)
{
    stats_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return RK_ENOMEM;
    s->b = b;
    s->boot_ms = rk_now_ms();
    *state = s;
    rk_rserver_t *srv = rk_broker_server(b);
    int rc = rk_rserver_register(srv, RK_REQ_GET_BROKER_RUNTIME_INFO, p_runtime, s, RK_PROC_INLINE);
    if (rc == RK_OK)
        rc = rk_rserver_register(srv, RK_REQ_GET_TOPIC_STATS_INFO, p_topic_stats, s, RK_PROC_SLOW);
    if (rc == RK_OK)
        rc = rk_rserver_register(srv, RK_REQ_GET_ALL_TOPIC_STATS, p_all_topic_stats, s, RK_PROC_SLOW);
    if (rc == RK_OK)
        rc = rk_rserver_register(srv, RK_REQ_GET_CONSUME_STATS, p_consume_stats, s, RK_PROC_SLOW);
    if (rc == RK_OK)
        rc = rk_store_register_dispatcher(rk_broker_store(b), "stats", count_put, s);
    if (rc == RK_OK)
        rc = rk_rserver_every(srv, 1000, sample, s);
    return rc;
}

static void stats_destroy(rk_broker_t *b, void *state)
{
    (void)b;
    free(state);
}

const rk_broker_module_t rk_broker_stats_module = {
    .name = "stats",
    .init = stats_init,
    .destroy = stats_destroy,
};

int rk_broker_consume_stats(rk_broker_t *b, const char *group, const char *topic, rk_buf_t *out, int64_t *diff)
{
    stats_t s = {.b = b};
    size_t start = out->len;
    rk_buf_put_str(out, "{\"consumeTps\":0.0,\"offsetTable\":{");
    lag_ctx_t x = {.s = &s, .group = group, .only_topic = topic, .b = out};
    /* the group's own offsets, not every queue of the broker: a group in 80 queues of a broker
     * with 8 000 costs 80 rows' work, not 8 000 look-ups */
    rk_store_foreach_group_offset(rk_broker_store(b), group, add_lag, &x);
    rk_buf_put_str(out, "}}");
    if (x.n == 0)
        out->len = start;
    if (diff != NULL)
        *diff = x.diff;
    return x.n;
}
