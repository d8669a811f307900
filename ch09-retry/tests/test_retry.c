/* test_retry.c — consume retries end to end: real mqnamesrv and chapter 9 mqbroker processes,
 * the SDK's push consumer with rk_retry_client. Back-off by level 3 + reconsume count, other
 * messages not held up, the DLQ after the maximum with the message intact, CONSUMER_SEND_MSG_BACK's
 * checks, the %RETRY% -> %DLQ% redirect of a direct send, and kill -9 with retries pending. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "rk/tk_rcluster.h"
#include "rk/clock.h"
#include "rk/consumer.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/producer.h"
#include "rk/request_code.h"
#include "rk/retry_client.h"
#include "rk/testkit.h"
#include "rk/tk_send.h"

#define NMSG 8
#define NDELIV 8

typedef struct delivery {
    int64_t at;                         /* wall clock ms, when the listener got it */
    int32_t reconsume;
    char topic[128], retry_topic[128], origin[64], offset_id[64];
} delivery_t;

/* What the listener saw, per message "m<i>", and how it answers. */
typedef struct sink {
    uv_mutex_t mu;
    delivery_t d[NMSG][NDELIV];
    int n[NMSG];
    int64_t failed_at[NMSG][NDELIV];    /* when it answered LATER */
    int fail_times[NMSG];               /* answer LATER to the first k deliveries (-1: always) */
    int fail_reconsume0_once;           /* kill -9 test: fail only the first delivery of each */
    int other;                          /* messages that were not "m<i>" */
} sink_t;

static sink_t sink;
static rk_rc_cluster_t cl;
static rk_log_level_t old_level;

static void setup(void)
{
    old_level = rk_log_get_level();
    rk_log_set_level(RK_LOG_OFF);
    memset(&sink, 0, sizeof sink);
    uv_mutex_init(&sink.mu);
}

static void teardown(void)
{
    rk_rc_stop(&cl);
    uv_mutex_destroy(&sink.mu);
    rk_log_set_level(old_level);
}

TestSuite(retry, .init = setup, .fini = teardown, .timeout = 120);

static rk_consume_result_t on_msgs(void *arg, const rk_msg_ext_t *msgs, size_t n)
{
    (void)arg;
    rk_consume_result_t res = RK_CONSUME_SUCCESS;
    uv_mutex_lock(&sink.mu);
    for (size_t i = 0; i < n; i++) {
        const rk_msg_ext_t *m = &msgs[i];
        int k = -1;
        if (m->body_len >= 2 && m->body[0] == 'm')
            k = atoi((const char *)m->body + 1);
        if (k < 0 || k >= NMSG || sink.n[k] >= NDELIV) {
            sink.other++;
            continue;
        }
        delivery_t *d = &sink.d[k][sink.n[k]];
        d->at = rk_now_ms();
        d->reconsume = m->reconsume_times;
        snprintf(d->topic, sizeof d->topic, "%s", m->topic);
        rk_msg_prop(m, RK_PROP_RETRY_TOPIC, d->retry_topic, sizeof d->retry_topic);
        rk_msg_prop(m, RK_PROP_ORIGIN_MESSAGE_ID, d->origin, sizeof d->origin);
        snprintf(d->offset_id, sizeof d->offset_id, "%s", m->offset_msg_id);
        bool fail = sink.fail_times[k] < 0 || sink.n[k] < sink.fail_times[k];
        if (sink.fail_reconsume0_once)
            fail = sink.n[k] == 0;
        if (fail) {
            sink.failed_at[k][sink.n[k]] = rk_now_ms();
            res = RK_CONSUME_LATER;
        }
        sink.n[k]++;
    }
    uv_mutex_unlock(&sink.mu);
    return res;
}

static int count(int k)
{
    uv_mutex_lock(&sink.mu);
    int n = sink.n[k];
    uv_mutex_unlock(&sink.mu);
    return n;
}

static bool wait_count(int k, int want, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        if (count(k) >= want)
            return true;
        usleep(20000);
    }
    return count(k) >= want;
}

static rk_producer_t *producer(void)
{
    rk_producer_t *p;
    rk_producer_config_t pc = {.namesrv = cl.ns, .group = "pg"};
    cr_assert_eq(rk_producer_new(&pc, &p), 0);
    return p;
}

static void send_m(rk_producer_t *p, const char *topic, int k, const char *keys, const char *props, size_t plen)
{
    char body[16];
    snprintf(body, sizeof body, "m%d", k);
    rk_message_t m = {.topic = topic, .tags = "TagA", .keys = keys, .body = body, .body_len = strlen(body),
                      .props = props, .props_len = plen};
    rk_send_result_t r;
    cr_assert_eq(rk_producer_send(p, &m, &r), 0, "send: %s", r.error);
}

static rk_push_consumer_t *consumer_opt(const char *group, const char *topic, int max_reconsume, bool orderly,
                                        rk_retry_client_t **rc)
{
    rk_push_consumer_config_t cc = {.namesrv = cl.ns, .group = group, .from = RK_CONSUME_FROM_FIRST,
                                    .rebalance_ms = 1000, .persist_ms = 1000, .orderly = orderly};
    rk_push_consumer_t *pc;
    cr_assert_eq(rk_push_consumer_new(&cc, on_msgs, NULL, &pc), 0);
    cr_assert_eq(rk_push_consumer_subscribe(pc, topic, "*"), 0);
    rk_retry_client_config_t rcfg = {.namesrv = cl.ns, .max_reconsume_times = max_reconsume};
    cr_assert_eq(rk_retry_client_attach(pc, &rcfg, rc), 0);
    cr_assert_eq(rk_push_consumer_start(pc), 0);
    return pc;
}

static rk_push_consumer_t *consumer(const char *group, const char *topic, int max_reconsume, rk_retry_client_t **rc)
{
    return consumer_opt(group, topic, max_reconsume, false, rc);
}

/* A listener that fails m0 twice gets it three times: reconsume counts 0, 1, 2, under its own
 * topic, after back-offs of level 3 (1 s) and level 4 (2 s) — the other levels are 6 s, so a
 * wrong level shows; m1..m4 of the same queue are consumed meanwhile. */
Test(retry, fails_twice_then_succeeds_with_backoff_by_level)
{
    rk_rc_start(&cl, "messageDelayLevel=6s 6s 1s 2s 6s 6s 6s 6s 6s 6s 6s 6s 6s 6s 6s 6s 6s 6s\n");
    rk_rc_create_topic(&cl, "RT", 1);
    sink.fail_times[0] = 2;
    rk_retry_client_t *rc;
    rk_push_consumer_t *pc = consumer("cg1", "RT", 0, &rc);
    rk_producer_t *p = producer();
    for (int k = 0; k < 5; k++)
        send_m(p, "RT", k, NULL, NULL, 0);
    cr_assert(wait_count(0, 3, 40000), "m0 delivered %d times", count(0));
    usleep(300 * 1000);
    rk_push_consumer_free(pc);
    long back = rk_retry_client_sent_back(rc), fb = rk_retry_client_fallbacks(rc);
    rk_retry_client_free(rc);
    rk_producer_free(p);
    cr_assert_eq(back, 2, "%ld sent back", back);
    cr_assert_eq(fb, 0);
    cr_assert_eq(sink.n[0], 3, "m0 delivered %d times", sink.n[0]);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sink.d[0][i].reconsume, i, "delivery %d has reconsume count %d", i, sink.d[0][i].reconsume);
        cr_assert_str_eq(sink.d[0][i].topic, "RT", "delivery %d shown under %s", i, sink.d[0][i].topic);
    }
    for (int i = 1; i < 3; i++) {
        cr_assert_str_eq(sink.d[0][i].retry_topic, "RT");
        cr_assert_str_eq(sink.d[0][i].origin, sink.d[0][0].offset_id, "ORIGIN_MESSAGE_ID %s, original %s",
                         sink.d[0][i].origin, sink.d[0][0].offset_id);
    }
    int64_t gap1 = sink.d[0][1].at - sink.failed_at[0][0], gap2 = sink.d[0][2].at - sink.failed_at[0][1];
    cr_assert_geq(gap1, 1000, "first retry %lld ms after the failure: early", (long long)gap1);
    cr_assert_lt(gap1, 6000, "first retry after %lld ms: not level 3", (long long)gap1);
    cr_assert_geq(gap2, 2000, "second retry %lld ms after the failure: early", (long long)gap2);
    cr_assert_lt(gap2, 6000, "second retry after %lld ms: not level 4", (long long)gap2);
    for (int k = 1; k < 5; k++) {
        cr_assert_eq(sink.n[k], 1, "m%d delivered %d times", k, sink.n[k]);
        cr_assert_lt(sink.d[k][0].at, sink.d[0][1].at, "m%d waited for m0's retry", k);
    }
    /* the group's offset passed m0 although it was never consumed from RT: it was handed to retry */
    rk_cmd_t *q = rk_cmd_new(RK_REQ_QUERY_CONSUMER_OFFSET);
    rk_cmd_ext_set(q, "consumerGroup", "cg1");
    rk_cmd_ext_set(q, "topic", "RT");
    rk_cmd_ext_set_i64(q, "queueId", 0);
    rk_cmd_t *qr = rk_rc_call(cl.br, q);
    int64_t committed = -1;
    cr_assert_not_null(qr);
    rk_cmd_ext_i64(qr, "offset", &committed);
    rk_cmd_free(qr);
    cr_assert_eq(committed, 5, "cg1's offset in RT is %lld", (long long)committed);
    /* the schedule's progress, as a slave would copy it: one delivery on levels 3 and 4 */
    rk_cmd_t *resp = rk_rc_call(cl.br, rk_cmd_new(45));
    cr_assert_not_null(resp);
    cr_assert_eq(resp->code, 0);
    char *text = strndup((const char *)resp->body, resp->body_len);
    cr_assert_not_null(strstr(text, "3:1"), "%s", text);
    cr_assert_not_null(strstr(text, "4:1"), "%s", text);
    cr_assert_not_null(strstr(text, "1:0"), "%s", text);
    free(text);
    rk_cmd_free(resp);
}

static int64_t max_offset(const char *topic, int qid)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_MAX_OFFSET);
    rk_cmd_ext_set(req, "topic", topic);
    rk_cmd_ext_set_i64(req, "queueId", qid);
    rk_cmd_t *resp = rk_rc_call(cl.br, req);
    int64_t off = -1;
    if (resp != NULL && resp->code == 0)
        rk_cmd_ext_i64(resp, "offset", &off);
    rk_cmd_free(resp);
    return off;
}

static bool wait_max_offset(const char *topic, int64_t want, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        if (max_offset(topic, 0) >= want)
            return true;
        usleep(20000);
    }
    return max_offset(topic, 0) >= want;
}

/* The topic's perm as the broker's topics.json has it (-1: absent). */
static int topic_perm(const char *topic)
{
    rk_cmd_t *resp = rk_rc_call(cl.br, rk_cmd_new(RK_REQ_GET_ALL_TOPIC_CONFIG));
    cr_assert_not_null(resp);
    char needle[200];
    snprintf(needle, sizeof needle, "\"topicName\":\"%s\"", topic);
    int perm = -1;
    char *body = strndup((const char *)resp->body, resp->body_len);
    /* each topic's object: find its name, then the "perm" within the same object */
    char *at = strstr(body, needle);
    if (at != NULL) {
        char *start = at;
        while (start > body && *start != '{')
            start--;
        char *p = strstr(start, "\"perm\":");
        if (p != NULL)
            perm = atoi(p + 7);
    }
    free(body);
    rk_cmd_free(resp);
    return perm;
}

/* Failed every time with maxReconsumeTimes 2: delivered with counts 0, 1, 2, then the third
 * failure puts it in %DLQ%cg2 (1 queue, read+write) with its body, keys, tags and properties. */
Test(retry, past_the_maximum_into_the_dlq_intact)
{
    rk_rc_start(&cl, "messageDelayLevel=1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s\n");
    rk_rc_create_topic(&cl, "DT", 1);
    sink.fail_times[0] = -1;
    rk_retry_client_t *rc;
    rk_push_consumer_t *pc = consumer("cg2", "DT", 2, &rc);
    rk_producer_t *p = producer();
    rk_buf_t props = {0};
    rk_props_put(&props, "color", "blue");
    send_m(p, "DT", 0, "K-d0 K2", (const char *)props.data, props.len);
    rk_buf_free(&props);
    cr_assert(wait_max_offset("%DLQ%cg2", 1, 40000), "nothing reached %%DLQ%%cg2 (m0 seen %d times)", count(0));
    usleep(1500 * 1000);    /* and nothing more comes back */
    rk_push_consumer_free(pc);
    rk_retry_client_free(rc);
    rk_producer_free(p);
    cr_assert_eq(sink.n[0], 3, "m0 delivered %d times", sink.n[0]);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(sink.d[0][i].reconsume, i);
    cr_assert_eq(max_offset("%DLQ%cg2", 0), 1);
    cr_assert_eq(topic_perm("%DLQ%cg2"), 6, "DLQ perm %d", topic_perm("%DLQ%cg2"));
    /* read it back with a pull consumer */
    for (int i = 0; i < 500 && !rk_rc_routed(&cl, "%DLQ%cg2"); i++)
        usleep(10000);
    rk_pull_consumer_config_t pcc = {.namesrv = cl.ns, .group = "ops"};
    rk_pull_consumer_t *pull;
    cr_assert_eq(rk_pull_consumer_new(&pcc, &pull), 0);
    rk_mq_t *qs;
    size_t nq;
    cr_assert_eq(rk_pull_consumer_queues(pull, "%DLQ%cg2", &qs, &nq), 0);
    cr_assert_eq(nq, 1);
    rk_pull_result_t r;
    cr_assert_eq(rk_pull_consumer_pull(pull, &qs[0], "*", 0, 32, 0, &r), 0);
    cr_assert_eq(r.status, RK_PULL_FOUND);
    cr_assert_eq(r.msgs->n, 1);
    const rk_msg_ext_t *m = &r.msgs->msgs[0];
    char v[128];
    cr_assert_eq(m->body_len, 2);
    cr_assert_eq(memcmp(m->body, "m0", 2), 0);
    cr_assert_str_eq(m->keys, "K-d0 K2");
    cr_assert_str_eq(m->tags, "TagA");
    cr_assert_eq(rk_msg_prop(m, "color", v, sizeof v), 0);
    cr_assert_str_eq(v, "blue");
    cr_assert_eq(rk_msg_prop(m, RK_PROP_RETRY_TOPIC, v, sizeof v), 0);
    cr_assert_str_eq(v, "DT");
    cr_assert_eq(rk_msg_prop(m, RK_PROP_ORIGIN_MESSAGE_ID, v, sizeof v), 0);
    cr_assert_str_eq(v, sink.d[0][0].offset_id);
    cr_assert_neq(rk_msg_prop(m, RK_PROP_DELAY, v, sizeof v), 0, "a DLQ message has no DELAY");
    cr_assert_eq(m->reconsume_times, 3);
    rk_pull_result_free(&r);
    free(qs);
    rk_pull_consumer_free(pull);
}

static rk_cmd_t *send_back_req(const char *group, int64_t offset, int delay_level)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_CONSUMER_SEND_MSG_BACK);
    req->version = 401;
    rk_cmd_ext_set_i64(req, "offset", offset);
    rk_cmd_ext_set(req, "group", group);
    rk_cmd_ext_set_i64(req, "delayLevel", delay_level);
    return rk_rc_call(cl.br, req);
}

/* CONSUMER_SEND_MSG_BACK by hand: an unknown offset, a negative delay level (straight to the
 * DLQ), the retry topic routed by the name servers. */
Test(retry, send_back_checks_and_negative_level)
{
    rk_rc_start(&cl, NULL);
    rk_rc_create_topic(&cl, "ST", 1);
    rk_producer_t *p = producer();
    char body[] = "m0";
    rk_message_t m = {.topic = "ST", .body = body, .body_len = 2};
    rk_send_result_t r;
    cr_assert_eq(rk_producer_send(p, &m, &r), 0);
    rk_producer_free(p);
    rk_host_t h;
    int64_t phys;
    cr_assert_eq(rk_msgid_decode(r.offset_msg_id, &h, &phys), 0);
    rk_cmd_t *resp = send_back_req("sg", phys + 12345, 0);
    cr_assert_not_null(resp);
    cr_assert_eq(resp->code, RK_RESP_SYSTEM_ERROR, "a bad offset: code %d", resp->code);
    rk_cmd_free(resp);
    resp = send_back_req("sg", phys, -1);
    cr_assert_not_null(resp);
    cr_assert_eq(resp->code, 0, "%s", resp->remark ? resp->remark : "");
    rk_cmd_free(resp);
    cr_assert(wait_max_offset("%DLQ%sg", 1, 5000), "a negative level goes to the DLQ");
    cr_assert_eq(topic_perm("%RETRY%sg"), 6);
    bool routed = false;
    for (int i = 0; i < 500 && !(routed = rk_rc_routed(&cl, "%RETRY%sg")); i++)
        usleep(10000);
    cr_assert(routed, "%%RETRY%%sg is not routed by the name server");
}

static void write_groups(rk_rc_cluster_t *c, void *arg)
{
    (void)arg;
    char path[400];
    snprintf(path, sizeof path, "%s/store/config/subscriptionGroup.json", c->dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "{\"subscriptionGroupTable\":{\"gm\":{\"groupName\":\"gm\",\"retryMaxTimes\":1,"
               "\"retryQueueNums\":1}}}");
    fclose(f);
}

/* The commitlog offset of the first message of topic queue 0 (waits for it). */
static int64_t first_phys(const char *topic)
{
    rk_pull_consumer_config_t pcc = {.namesrv = cl.ns, .group = "ops"};
    rk_pull_consumer_t *pull;
    cr_assert_eq(rk_pull_consumer_new(&pcc, &pull), 0);
    rk_mq_t mq = {.queue_id = 0};
    snprintf(mq.topic, sizeof mq.topic, "%s", topic);
    snprintf(mq.broker, sizeof mq.broker, "broker-r");
    int64_t phys = -1;
    for (int i = 0; i < 500 && phys < 0; i++) {
        rk_pull_result_t r;
        if (rk_pull_consumer_pull(pull, &mq, "*", 0, 1, 0, &r) == RK_OK && r.status == RK_PULL_FOUND)
            phys = r.msgs->msgs[0].commitlog_offset;
        rk_pull_result_free(&r);
        if (phys < 0)
            usleep(20000);
    }
    rk_pull_consumer_free(pull);
    cr_assert_geq(phys, 0, "nothing in %s", topic);
    return phys;
}

/* A client that sends no maxReconsumeTimes (an old one) gets the group's retryMaxTimes: with
 * retryMaxTimes 1 the first send-back is retried, the second goes to the DLQ. */
Test(retry, group_retry_max_times)
{
    rk_rc_start(&cl, "messageDelayLevel=1s 1s 1s 1s 1s\n");
    rk_rc_restart_broker(&cl, write_groups, NULL);
    rk_rc_create_topic(&cl, "GT", 1);
    rk_producer_t *p = producer();
    send_m(p, "GT", 0, NULL, NULL, 0);
    rk_producer_free(p);
    rk_cmd_t *resp = send_back_req("gm", first_phys("GT"), 0);
    cr_assert_not_null(resp);
    cr_assert_eq(resp->code, 0, "%s", resp->remark ? resp->remark : "");
    rk_cmd_free(resp);
    for (int i = 0; i < 500 && !rk_rc_routed(&cl, "%RETRY%gm"); i++)
        usleep(10000);
    int64_t retry_phys = first_phys("%RETRY%gm");
    cr_assert_eq(max_offset("%DLQ%gm", 0), 0, "the first send-back went to the DLQ");
    resp = send_back_req("gm", retry_phys, 0);
    cr_assert_not_null(resp);
    cr_assert_eq(resp->code, 0, "%s", resp->remark ? resp->remark : "");
    rk_cmd_free(resp);
    cr_assert(wait_max_offset("%DLQ%gm", 1, 5000), "reconsumed once, retryMaxTimes 1: the DLQ");
}

Test(retry, send_back_unknown_group)
{
    rk_rc_start(&cl, "autoCreateSubscriptionGroup=false\n");
    rk_cmd_t *resp = send_back_req("nobody", 0, 0);
    cr_assert_not_null(resp);
    cr_assert_eq(resp->code, 26, "SUBSCRIPTION_GROUP_NOT_EXIST expected, got %d", resp->code);
    rk_cmd_free(resp);
}

/* A client's own send to %RETRY%<group> whose reconsume count reached the maximum is stored in
 * %DLQ%<group> (write-only, as RocketMQ's send path creates it); below the maximum it is not. */
Test(retry, direct_send_to_retry_past_the_maximum_goes_to_the_dlq)
{
    rk_rc_start(&cl, "messageDelayLevel=1s 1s 1s 1s\n");
    rk_rc_create_topic(&cl, "%RETRY%cg3", 1);
    rk_producer_t *p = producer();
    rk_buf_t props = {0};
    rk_props_put(&props, RK_PROP_RECONSUME_TIME, "5");
    rk_props_put(&props, RK_PROP_MAX_RECONSUME_TIMES, "5");
    rk_props_put(&props, RK_PROP_DELAY, "2");
    send_m(p, "%RETRY%cg3", 0, NULL, (const char *)props.data, props.len);
    rk_buf_reset(&props);
    rk_props_put(&props, RK_PROP_RECONSUME_TIME, "4");
    rk_props_put(&props, RK_PROP_MAX_RECONSUME_TIMES, "5");
    send_m(p, "%RETRY%cg3", 1, NULL, (const char *)props.data, props.len);
    rk_buf_free(&props);
    rk_producer_free(p);
    cr_assert(wait_max_offset("%DLQ%cg3", 1, 5000), "nothing in %%DLQ%%cg3");
    cr_assert(wait_max_offset("%RETRY%cg3", 1, 5000), "the one below the maximum stays");
    cr_assert_eq(max_offset("%DLQ%cg3", 0), 1);
    cr_assert_eq(max_offset("%RETRY%cg3", 0), 1);
    cr_assert_eq(topic_perm("%DLQ%cg3"), 2);
    /* nobody but the broker parks messages */
    rk_cmd_t *req = rk_tk_send_request(&(rk_tk_send_spec_t){.topic = "SCHEDULE_TOPIC_XXXX", .born = "0",
                                                             .props = "REAL_TOPIC\001X\002REAL_QID\0010",
                                                             .last = 'i', .body = "x"});
    cr_assert(req != NULL);
    rk_cmd_t *resp = rk_rc_call(cl.br, req);
    cr_assert_not_null(resp);
    cr_assert_eq(resp->code, RK_RESP_MESSAGE_ILLEGAL, "a send to SCHEDULE_TOPIC_XXXX: code %d", resp->code);
    rk_cmd_free(resp);
}

/* Broker kill -9 while five retries wait in the schedule: after the restart every one is
 * delivered (reconsume count 1), none before its back-off (level 3 = 4 s) ran out. */
Test(retry, kill9_with_retries_pending)
{
    rk_rc_start(&cl, "messageDelayLevel=1s 1s 4s 4s 4s 4s 4s 4s 4s 4s 4s 4s 4s 4s 4s 4s 4s 4s\n");
    rk_rc_create_topic(&cl, "KT", 1);
    sink.fail_reconsume0_once = 1;
    rk_retry_client_t *rc;
    rk_push_consumer_t *pc = consumer("cg4", "KT", 0, &rc);
    rk_producer_t *p = producer();
    for (int k = 0; k < 5; k++)
        send_m(p, "KT", k, NULL, NULL, 0);
    rk_producer_free(p);
    for (int i = 0; i < 1000 && rk_retry_client_sent_back(rc) < 5; i++)
        usleep(10000);
    cr_assert_eq(rk_retry_client_sent_back(rc), 5);
    uv_mutex_lock(&sink.mu);
    for (int k = 0; k < 5; k++)
        cr_assert_eq(sink.n[k], 1, "m%d came back before the crash: the test proves nothing", k);
    uv_mutex_unlock(&sink.mu);
    rk_rc_kill9_restart_broker(&cl);
    for (int k = 0; k < 5; k++) {
        bool got = false;
        for (int i = 0; i < 3000 && !got; i++) {
            uv_mutex_lock(&sink.mu);
            for (int j = 0; j < sink.n[k]; j++)
                got |= sink.d[k][j].reconsume == 1;
            uv_mutex_unlock(&sink.mu);
            if (!got)
                usleep(10000);
        }
        cr_assert(got, "m%d's retry was lost in the crash", k);
    }
    rk_push_consumer_free(pc);
    rk_retry_client_free(rc);
    for (int k = 0; k < 5; k++)
        for (int j = 0; j < sink.n[k]; j++)
            if (sink.d[k][j].reconsume == 1)
                cr_assert_geq(sink.d[k][j].at - sink.failed_at[k][0], 4000, "m%d's retry came %lld ms early", k,
                              (long long)(4000 - (sink.d[k][j].at - sink.failed_at[k][0])));
}

/* Against chapter 7's broker, which does not know CONSUMER_SEND_MSG_BACK: the client sends its
 * own copy to %RETRY%<group> (RECONSUME_TIME 1), the offset moves on, and the copy comes back
 * with reconsume count 1 under the original topic. */
Test(retry, falls_back_to_sending_to_the_retry_topic)
{
    rk_rc_start_bin(&cl, RK_BIN_DIR "/../../ch07/bin/mqbroker", NULL);
    rk_rc_create_topic(&cl, "FT", 1);
    sink.fail_times[0] = 1;
    rk_retry_client_t *rc;
    rk_push_consumer_t *pc = consumer("cg5", "FT", 0, &rc);
    rk_producer_t *p = producer();
    send_m(p, "FT", 0, NULL, NULL, 0);
    rk_producer_free(p);
    cr_assert(wait_count(0, 2, 30000), "m0 delivered %d times", count(0));
    usleep(300 * 1000);
    rk_push_consumer_free(pc);
    long back = rk_retry_client_sent_back(rc), fb = rk_retry_client_fallbacks(rc);
    rk_retry_client_free(rc);
    cr_assert_eq(back, 0);
    cr_assert_eq(fb, 1, "%ld fallback sends", fb);
    cr_assert_eq(sink.n[0], 2, "m0 delivered %d times", sink.n[0]);
    cr_assert_eq(sink.d[0][1].reconsume, 1);
    cr_assert_str_eq(sink.d[0][1].topic, "FT");
    cr_assert_str_eq(sink.d[0][1].retry_topic, "FT");
}

/* An orderly listener that always fails m0 (maxReconsumeTimes 2): the queue pauses and m0 comes
 * again here with counts 0, 1, 2, then goes to %DLQ%cg6 and m1, behind it, is consumed. */
Test(retry, orderly_retries_locally_then_dlq)
{
    rk_rc_start(&cl, NULL);
    rk_rc_create_topic(&cl, "OT", 1);
    sink.fail_times[0] = -1;
    rk_retry_client_t *rc;
    rk_push_consumer_t *pc = consumer_opt("cg6", "OT", 2, true, &rc);
    rk_producer_t *p = producer();
    send_m(p, "OT", 0, "K-o0", NULL, 0);
    send_m(p, "OT", 1, NULL, NULL, 0);
    rk_producer_free(p);
    cr_assert(wait_count(1, 1, 30000), "m1 never consumed (m0 seen %d times)", count(0));
    usleep(300 * 1000);
    rk_push_consumer_free(pc);
    long dlq = rk_retry_client_orderly_dlq(rc), back = rk_retry_client_sent_back(rc);
    rk_retry_client_free(rc);
    cr_assert_eq(dlq, 1);
    cr_assert_eq(back, 0, "orderly does not use CONSUMER_SEND_MSG_BACK");
    cr_assert_eq(sink.n[0], 3, "m0 delivered %d times", sink.n[0]);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(sink.d[0][i].reconsume, i);
    cr_assert_gt(sink.d[1][0].at, sink.d[0][2].at, "m1 overtook m0");
    cr_assert(wait_max_offset("%DLQ%cg6", 1, 5000), "m0 is not in %%DLQ%%cg6");
    cr_assert_eq(max_offset("%RETRY%cg6", 0), 0, "nothing was parked for a retry");
}

/* An operator's view: `mqadmin queryDlqMsg` lists the dead letter with where it came from, and
 * `mqadmin resendMsgFromDLQ -a` gives it back to the group, which gets it under its own topic. */
Test(retry, mqadmin_lists_and_resends_the_dlq)
{
    rk_rc_start(&cl, "messageDelayLevel=1s 1s 1s 1s 1s 1s\n");
    rk_rc_create_topic(&cl, "AT", 1);
    sink.fail_times[0] = 3;
    rk_retry_client_t *rc;
    rk_push_consumer_t *pc = consumer("cg7", "AT", 2, &rc);
    rk_producer_t *p = producer();
    send_m(p, "AT", 0, "K-a0", NULL, 0);
    rk_producer_free(p);
    cr_assert(wait_max_offset("%DLQ%cg7", 1, 40000), "nothing reached %%DLQ%%cg7");
    for (int i = 0; i < 500 && !rk_rc_routed(&cl, "%DLQ%cg7"); i++)
        usleep(10000);
    char *out = NULL;
    char *qargv[] = {(char *)rk_tk_bin("mqadmin"), "queryDlqMsg", "-n", cl.ns, "-g", "cg7", NULL};
    cr_assert_eq(rk_tk_run(qargv, &out, 20000), 0, "queryDlqMsg: %s", out ? out : "");
    char want[200];
    snprintf(want, sizeof want, "origin %s topic AT reconsumed 3 tags [TagA] keys [K-a0]: m0", sink.d[0][0].offset_id);
    cr_assert_not_null(strstr(out, want), "queryDlqMsg said:\n%s\nwanted: %s", out, want);
    free(out);
    out = NULL;
    char *rargv[] = {(char *)rk_tk_bin("mqadmin"), "resendMsgFromDLQ", "-n", cl.ns, "-g", "cg7", "-a", NULL};
    cr_assert_eq(rk_tk_run(rargv, &out, 20000), 0, "resendMsgFromDLQ: %s", out ? out : "");
    free(out);
    cr_assert(wait_count(0, 4, 30000), "the resent message never came (m0 seen %d times)", count(0));
    rk_push_consumer_free(pc);
    rk_retry_client_free(rc);
    cr_assert_eq(sink.n[0], 4);
    cr_assert_str_eq(sink.d[0][3].topic, "AT");
    cr_assert_eq(sink.d[0][3].reconsume, 0, "a resent message starts its retries again");
    cr_assert_str_eq(sink.d[0][3].origin, sink.d[0][0].offset_id);
}
