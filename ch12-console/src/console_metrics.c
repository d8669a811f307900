/* console_metrics.c — GET /metrics: the cluster's figures in Prometheus' text format (0.0.4),
 * with RocketMQ exporter's metric names where it has one.
 *
 * One scrape asks each broker for its runtime table (GET_BROKER_RUNTIME_INFO) and each master
 * for every topic's queue offsets — rocklet's GET_ALL_TOPIC_STATS, a page of topics a request
 * (rk/broker.h); a broker that does not know it (REQUEST_CODE_NOT_SUPPORTED: RocketMQ, an older
 * rocklet) is asked the RocketMQ way, its topics (GET_ALL_TOPIC_CONFIG) then GET_TOPIC_STATS_INFO
 * for each — and the committed offsets of every group (GET_ALL_CONSUMER_OFFSET): lag is max
 * offset − committed
 * offset per queue; TPS figures the brokers do not report (per topic, per group) are rates of
 * those offsets between two scrapes. A scrape is bounded: each request has the console's broker
 * timeout, the whole scrape a budget of twice that (what is not reached is left out and
 * rocklet_console_scrape_complete says 0), and its text is reused for metricsCacheMs, one build at
 * a time, so many scrapers cost the brokers what one does. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console_int.h"
#include "rk/broker.h"
#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/cluster_view.h"
#include "rk/error.h"
#include "rk/json.h"
#include "rk/names.h"
#include "rk/request_code.h"
#include "rk/strmap.h"

enum {
    M_UP, M_BROKER_TPS, M_PUT_TODAY, M_CL_MAX, M_CL_MIN, M_CL_DISK, M_PUT_BYTES, M_DISPATCH_BEHIND, M_ROLE, M_EPOCH,
    M_REPL_LAG, M_HELD_PULLS, M_PRODUCER_OFFSET, M_PRODUCER_TPS, M_TOPIC_MSGS, M_CONSUMER_OFFSET, M_CONSUMER_TPS,
    M_GROUP_DIFF, M_QUEUE_DIFF, M_SCRAPE_SECONDS, M_SCRAPE_COMPLETE, M_COUNT
};

static const struct {
    const char *name, *type, *help;
} families[M_COUNT] = {
    [M_UP] = {"rocklet_broker_up", "gauge", "1 when the broker answered this scrape"},
    [M_BROKER_TPS] = {"rocketmq_broker_tps", "gauge", "messages put per second (the broker's putTps)"},
    [M_PUT_TODAY] = {"rocketmq_brokeruntime_msg_put_total_today_now", "counter",
                     "messages put since the broker started"},
    [M_CL_MAX] = {"rocketmq_brokeruntime_commitlog_maxoffset", "gauge", "commit log max offset (bytes)"},
    [M_CL_MIN] = {"rocketmq_brokeruntime_commitlog_minoffset", "gauge", "commit log min offset (bytes)"},
    [M_CL_DISK] = {"rocklet_brokeruntime_commitlog_disk_bytes", "gauge", "commit log bytes kept on disk"},
    [M_PUT_BYTES] = {"rocklet_broker_put_bytes_per_second", "gauge",
                     "commit log bytes written per second (between scrapes)"},
    [M_DISPATCH_BEHIND] = {"rocketmq_brokeruntime_dispatch_behind_bytes", "gauge",
                           "commit log bytes not yet in consume queues"},
    [M_ROLE] = {"rocklet_broker_role", "gauge", "1 for the broker's replication role"},
    [M_EPOCH] = {"rocklet_broker_master_epoch", "gauge", "elected master epoch (-1: no election)"},
    [M_REPL_LAG] = {"rocklet_broker_replication_lag_bytes", "gauge",
                    "bytes a slave is behind (a master: its slowest slave)"},
    [M_HELD_PULLS] = {"rocklet_broker_held_pulls", "gauge", "long-polling pulls the broker holds"},
    [M_PRODUCER_OFFSET] = {"rocketmq_producer_offset", "counter", "sum of the topic's queue max offsets on the broker"},
    [M_PRODUCER_TPS] = {"rocketmq_producer_tps", "gauge", "messages put into the topic per second (between scrapes)"},
    [M_TOPIC_MSGS] = {"rocklet_topic_messages", "gauge", "messages of the topic kept (max - min offsets)"},
    [M_CONSUMER_OFFSET] = {"rocketmq_consumer_offset", "counter", "sum of the group's committed offsets in the topic"},
    [M_CONSUMER_TPS] = {"rocketmq_consumer_tps", "gauge", "messages the group consumed per second (between scrapes)"},
    [M_GROUP_DIFF] = {"rocketmq_group_diff", "gauge", "messages of the topic the group has not consumed"},
    [M_QUEUE_DIFF] = {"rocketmq_group_queue_diff", "gauge", "messages of one queue the group has not consumed"},
    [M_SCRAPE_SECONDS] = {"rocklet_console_scrape_duration_seconds", "gauge", "how long building these figures took"},
    [M_SCRAPE_COMPLETE] = {"rocklet_console_scrape_complete", "gauge",
                           "1 when every broker answered within the scrape budget"},
};

typedef struct scrape {
    rk_console_shared_t *sh;
    rk_buf_t fam[M_COUNT];
    int64_t now, deadline;
    bool complete;
    rk_strmap_t maxoff;                 /* "topic\x01qid" -> int64_t* (the master being read) */
} scrape_t;

/* Label values escaped as the text format wants: \\, \", \n. */
static void put_label(rk_buf_t *b, const char *name, const char *v, bool first)
{
    rk_buf_printf(b, "%s%s=\"", first ? "" : ",", name);
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\')
            rk_buf_put_str(b, "\\\\");
        else if (*p == '"')
            rk_buf_put_str(b, "\\\"");
        else if (*p == '\n')
            rk_buf_put_str(b, "\\n");
        else
            rk_buf_put_u8(b, (uint8_t)*p);
    }
    rk_buf_put_u8(b, '"');
}

/* One sample: labels given as name, value pairs ending with NULL. */
static void sample(scrape_t *s, int fam, double v, ...)
{
    rk_buf_t *b = &s->fam[fam];
    rk_buf_put_str(b, families[fam].name);
    va_list ap;
    va_start(ap, v);
    const char *name;
    bool first = true;
    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *val = va_arg(ap, const char *);
        if (first)
            rk_buf_put_u8(b, '{');
        put_label(b, name, val, first);
        first = false;
    }
    va_end(ap);
    if (!first)
        rk_buf_put_u8(b, '}');
    if (v == (double)(int64_t)v)
        rk_buf_printf(b, " %" PRId64 "\n", (int64_t)v);
    else
        rk_buf_printf(b, " %.6g\n", v);
}

static int64_t kv_i64(cJSON *kv, const char *key, int64_t def)
{
    int64_t v;
    return rk_json_get_i64(kv, key, &v) == RK_OK ? v : def;
}

static void broker_figures(scrape_t *s, const char *cluster, const char *name, const char *id, const char *addr)
{
    rk_api_out_t eo = {0};
    cJSON *kv = rk_now_ms() < s->deadline ? rk__kv_table(s->sh, addr, &eo) : NULL;
#define L "cluster", cluster, "broker", name, "brokerId", id, "brokerIP", addr
    sample(s, M_UP, kv != NULL, L, NULL);
    if (kv == NULL) {
        s->complete = false;
        return;
    }
    const char *tps = rk_json_get_str(kv, "putTps");
    sample(s, M_BROKER_TPS, tps ? strtod(tps, NULL) : 0, L, NULL);
    sample(s, M_PUT_TODAY, (double)kv_i64(kv, "msgPutTotalTodayNow", 0), L, NULL);
    int64_t cmax = kv_i64(kv, "commitLogMaxOffset", 0), cmin = kv_i64(kv, "commitLogMinOffset", 0);
    sample(s, M_CL_MAX, (double)cmax, L, NULL);
    sample(s, M_CL_MIN, (double)cmin, L, NULL);
    sample(s, M_CL_DISK, (double)(cmax - cmin), L, NULL);
    char key[160];
    snprintf(key, sizeof key, "m-clmax/%s", addr);
    double r = rk__console_rate(s->sh, key, cmax, s->now);
    if (r >= 0)
        sample(s, M_PUT_BYTES, r, L, NULL);
    sample(s, M_DISPATCH_BEHIND, (double)kv_i64(kv, "dispatchBehindBytes", 0), L, NULL);
    const char *role = rk_json_get_str(kv, "brokerRole");
    bool slave = role != NULL && strcmp(role, "SLAVE") == 0;
    sample(s, M_ROLE, 1, L, "role", role ? role : (strcmp(id, "0") == 0 ? "MASTER" : "SLAVE"), NULL);
    sample(s, M_EPOCH, (double)kv_i64(kv, "masterEpoch", -1), L, NULL);
    sample(s, M_REPL_LAG, (double)kv_i64(kv, slave ? "haReplicaLag" : "slaveFallBehindMuch", 0), L, NULL);
    sample(s, M_HELD_PULLS, (double)kv_i64(kv, "heldPulls", 0), L, NULL);
#undef L
    cJSON_Delete(kv);
}

static int free_box(const char *key, void *value, void *ctx)
{
    (void)key;
    (void)ctx;
    free(value);
    return 0;
}

/* One topic's figures from its queues' min and max offsets (qid[i]: the queue of row i). */
static void topic_figures(scrape_t *s, const char *cluster, const char *name, const char *addr, const char *topic,
                          size_t n, const int *qid, const int64_t *min, const int64_t *max)
{
    char key[RK_NAME_MAX * 2 + 64];
    int64_t sum = 0, kept = 0;
    for (size_t i = 0; i < n; i++) {
        sum += max[i];
        kept += max[i] - min[i];
        int64_t *box = malloc(sizeof *box);
        snprintf(key, sizeof key, "%s\x01%d", topic, qid[i]);
        if (box != NULL) {
            *box = max[i];
            void *old = NULL;
            if (rk_strmap_put(&s->maxoff, key, box, &old) != RK_OK)
                free(box);
            free(old);
        }
    }
#define L "cluster", cluster, "broker", name
    sample(s, M_PRODUCER_OFFSET, (double)sum, L, "topic", topic, NULL);
    sample(s, M_TOPIC_MSGS, (double)kept, L, "topic", topic, NULL);
    snprintf(key, sizeof key, "m-prod/%s/%s", addr, topic);
    double r = rk__console_rate(s->sh, key, sum, s->now);
    if (r >= 0)
        sample(s, M_PRODUCER_TPS, r, L, "topic", topic, NULL);
#undef L
}

/* Every topic's offsets through GET_ALL_TOPIC_STATS (rk/broker.h), a page a request: 1 when
 * done, 0 when the broker does not know the request (ask topic by topic), -1 when it failed
 * (the scrape is incomplete). */
static int all_topic_stats(scrape_t *s, const char *cluster, const char *name, const char *addr)
{
    char after[RK_NAME_MAX] = "";
    int qid[RK_TOPIC_MAX_QUEUES];
    int64_t min[RK_TOPIC_MAX_QUEUES], max[RK_TOPIC_MAX_QUEUES];
    for (int page = 0;; page++) {
        if (rk_now_ms() >= s->deadline)
            return -1;
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_GET_ALL_TOPIC_STATS), *resp = NULL;
        if (after[0])
            rk_cmd_ext_set(req, "afterTopic", after);
        if (rk_mqclient_invoke(s->sh->mq, addr, req, &resp) != RK_OK)
            return -1;
        if (resp->code != RK_RESP_SUCCESS) {
            int code = resp->code;
            rk_cmd_free(resp);
            return page == 0 && code == RK_RESP_REQUEST_CODE_NOT_SUPPORTED ? 0 : -1;
        }
        cJSON *j = rk_json_parse((const char *)resp->body, resp->body_len);
        cJSON *topics = cJSON_GetObjectItemCaseSensitive(j, "topics");
        if (!cJSON_IsObject(topics)) {
            cJSON_Delete(j);
            rk_cmd_free(resp);
            return -1;
        }
        for (cJSON *t = topics->child; t; t = t->next) {
            size_t n = 0;
            for (cJSON *q = t->child; q && n < RK_TOPIC_MAX_QUEUES; q = q->next, n++) {
                cJSON *a = q->child, *b = a ? a->next : NULL;
                qid[n] = (int)n;
                min[n] = cJSON_IsNumber(a) ? (int64_t)a->valuedouble : 0;
                max[n] = cJSON_IsNumber(b) ? (int64_t)b->valuedouble : 0;
            }
            if (t->string != NULL)
                topic_figures(s, cluster, name, addr, t->string, n, qid, min, max);
        }
        cJSON_Delete(j);
        const char *m = rk_cmd_ext_get(resp, "more"), *last = rk_cmd_ext_get(resp, "lastTopic");
        bool more = m != NULL && strcmp(m, "true") == 0;
        bool next = more && last != NULL && *last && strcmp(last, after) > 0 && strlen(last) < sizeof after;
        if (next)
            snprintf(after, sizeof after, "%s", last);
        rk_cmd_free(resp);              /* (m and last point into it) */
        if (!next)
            return more ? -1 : 1;       /* more, and a page that does not move on: incomplete */
    }
}

/* Every topic's offsets the RocketMQ way: the topic list (GET_ALL_TOPIC_CONFIG), then
 * GET_TOPIC_STATS_INFO for each. */
static void topic_by_topic(scrape_t *s, const char *cluster, const char *name, const char *addr)
{
    rk_api_out_t eo = {0};
    cJSON *tc = rk_now_ms() < s->deadline
                    ? rk__ask_json(s->sh, addr, rk_mqclient_request(RK_REQ_GET_ALL_TOPIC_CONFIG), &eo, "topics")
                    : NULL;
    cJSON *table = cJSON_GetObjectItemCaseSensitive(tc, "topicConfigTable");
    if (tc == NULL)
        s->complete = false;
    for (cJSON *t = table ? table->child : NULL; t; t = t->next) {
        if (rk_now_ms() >= s->deadline) {
            s->complete = false;
            break;
        }
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_GET_TOPIC_STATS_INFO), *resp = NULL;
        rk_cmd_ext_set(req, "topic", t->string);
        if (rk_mqclient_invoke(s->sh->mq, addr, req, &resp) != RK_OK || resp->code != RK_RESP_SUCCESS) {
            rk_cmd_free(resp);
            continue;                   /* a topic without queues (yet) has no stats */
        }
        rk_mq_map_entry_t *e = NULL;
        size_t n = 0;
        if (rk_mq_map_parse((const char *)resp->body, resp->body_len, "offsetTable", &e, &n) == RK_OK) {
            int *qid = malloc((n ? n : 1) * sizeof *qid);
            int64_t *min = malloc((n ? n : 1) * sizeof *min), *max = malloc((n ? n : 1) * sizeof *max);
            if (qid != NULL && min != NULL && max != NULL) {
                for (size_t i = 0; i < n; i++) {
                    qid[i] = e[i].mq.queue_id;
                    min[i] = max[i] = 0;
                    rk_json_get_i64(e[i].value, "minOffset", &min[i]);
                    rk_json_get_i64(e[i].value, "maxOffset", &max[i]);
                }
                topic_figures(s, cluster, name, addr, t->string, n, qid, min, max);
            }
            free(qid);
            free(min);
            free(max);
            rk_mq_map_free(e, n);
        }
        rk_cmd_free(resp);
    }
    cJSON_Delete(tc);
}

/* Topics and groups of one master. */
static void master_figures(scrape_t *s, const char *cluster, const char *name, const char *addr)
{
    rk_api_out_t eo = {0};
    rk_strmap_init(&s->maxoff);
    int all = all_topic_stats(s, cluster, name, addr);
    if (all == 0)
        topic_by_topic(s, cluster, name, addr);
    else if (all < 0)
        s->complete = false;
    char key[RK_NAME_MAX * 2 + 64];
#define L "cluster", cluster, "broker", name
    /* consumerOffset.json: {"offsetTable":{"topic@group":{0:5,1:3}}} */
    cJSON *offs = rk_now_ms() < s->deadline
                      ? rk__all_offsets(s->sh, addr, &eo)
                      : NULL;
    if (offs == NULL)
        s->complete = false;
    cJSON *ot = cJSON_GetObjectItemCaseSensitive(offs, "offsetTable");
    for (cJSON *tg = ot ? ot->child : NULL; tg; tg = tg->next) {
        const char *at = tg->string ? strchr(tg->string, '@') : NULL;
        if (at == NULL || (size_t)(at - tg->string) >= RK_NAME_MAX)
            continue;
        char topic[RK_NAME_MAX];
        snprintf(topic, sizeof topic, "%.*s", (int)(at - tg->string), tg->string);
        const char *group = at + 1;
        if (!rk_topic_name_valid(topic) || !rk_topic_name_valid(group))
            continue;                   /* label values must be UTF-8: only names the broker allows */
        int64_t committed = 0, diff = 0;
        for (cJSON *q = tg->child; q; q = q->next) {
            if (!cJSON_IsNumber(q) || q->string == NULL)
                continue;
            int64_t c = (int64_t)q->valuedouble;
            committed += c;
            snprintf(key, sizeof key, "%s\x01%s", topic, q->string);
            int64_t *max = rk_strmap_get(&s->maxoff, key);
            int64_t d = max && *max > c ? *max - c : 0;
            diff += d;
            sample(s, M_QUEUE_DIFF, (double)d, L, "topic", topic, "group", group, "queueId", q->string, NULL);
        }
        sample(s, M_CONSUMER_OFFSET, (double)committed, L, "topic", topic, "group", group, NULL);
        sample(s, M_GROUP_DIFF, (double)diff, L, "topic", topic, "group", group, NULL);
        snprintf(key, sizeof key, "m-cons/%s/%s/%s", addr, topic, group);
        double r = rk__console_rate(s->sh, key, committed, s->now);
        if (r >= 0)
            sample(s, M_CONSUMER_TPS, r, L, "topic", topic, "group", group, NULL);
    }
#undef L
    cJSON_Delete(offs);
    rk_strmap_foreach(&s->maxoff, free_box, NULL);
    rk_strmap_free(&s->maxoff, NULL);
}

/* Every broker's figures, and a master's queue figures too. */
static void figures(void *ctx, const char *cluster, const char *broker, const char *id, const char *addr)
{
    broker_figures(ctx, cluster, broker, id, addr);
    if (strcmp(id, "0") == 0)
        master_figures(ctx, cluster, broker, addr);
}

static char *build(rk_console_shared_t *sh, size_t *len, char *err, size_t errlen)
{
    scrape_t s = {.sh = sh, .now = rk_now_ms(), .complete = true};
    s.deadline = s.now + 2 * sh->cfg.broker_timeout_ms;
    rk_api_out_t eo = {0};
    cJSON *info = rk__ask_json(sh, NULL, rk_mqclient_request(RK_REQ_GET_BROKER_CLUSTER_INFO), &eo, "cluster info");
    if (info == NULL) {
        snprintf(err, errlen, "%s", eo.error);
        return NULL;
    }
    rk_cluster_each_broker(info, figures, &s);
    cJSON_Delete(info);
    sample(&s, M_SCRAPE_SECONDS, (double)(rk_now_ms() - s.now) / 1000.0, NULL);
    sample(&s, M_SCRAPE_COMPLETE, s.complete, NULL);
    rk_buf_t out = {0};
    for (int f = 0; f < M_COUNT; f++) {
        if (s.fam[f].len > 0) {
            rk_buf_printf(&out, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help, families[f].name,
                          families[f].type);
            rk_buf_put(&out, s.fam[f].data, s.fam[f].len);
        }
        if (s.fam[f].err)
            out.err = s.fam[f].err;
        rk_buf_free(&s.fam[f]);
    }
    if (out.err) {
        rk_buf_free(&out);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return (char *)rk_buf_detach(&out, len);
}

void rk__console_metrics(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o)
{
    (void)r;
    rk_console_shared_t *sh = rk__console_shared(cs);
    uv_mutex_lock(&sh->metrics_mu);
    int64_t now = rk_now_ms();
    if (sh->metrics_text == NULL || now - sh->metrics_at >= sh->cfg.metrics_cache_ms) {
        size_t len = 0;
        char err[512] = "";
        char *text = build(sh, &len, err, sizeof err);
        if (text == NULL) {
            uv_mutex_unlock(&sh->metrics_mu);
            rk__api_fail(o, 502, "metrics: %s", err);
            return;
        }
        free(sh->metrics_text);
        sh->metrics_text = text;
        sh->metrics_len = len;
        sh->metrics_at = now;
    }
    o->text = malloc(sh->metrics_len + 1);
    if (o->text != NULL) {
        memcpy(o->text, sh->metrics_text, sh->metrics_len);
        o->text_len = sh->metrics_len;
        o->ctype = "text/plain; version=0.0.4; charset=utf-8";
    } else {
        rk__api_fail(o, 500, "out of memory");
    }
    uv_mutex_unlock(&sh->metrics_mu);
}
