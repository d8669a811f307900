/* test_admin_client.c — the requests a broker forwards or pushes to a
 * consumer (GET_CONSUMER_RUNNING_INFO, CONSUME_MESSAGE_DIRECTLY,
 * RESET_CONSUMER_CLIENT_OFFSET) and the SDK's answers, end to end: an
 * admin request to a real mqbroker, a push consumer of the SDK behind it. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cluster.h"
#include "rk/clock.h"
#include "rk/consumer.h"
#include "rk/error.h"
#include "rk/json.h"
#include "rk/mqclient.h"
#include "rk/producer.h"
#include "rk/request_code.h"

static tk_cluster_t cl;
static rk_producer_t *prod;

static void setup(void)
{
    tk_cluster_start(&cl, NULL);
    rk_producer_config_t pc = {.namesrv = cl.ns, .group = "adm_pg"};
    cr_assert_eq(rk_producer_new(&pc, &prod), 0);
}

static void teardown(void)
{
    rk_producer_free(prod);
    tk_cluster_stop(&cl);
}

TestSuite(admin_client, .init = setup, .fini = teardown, .timeout = 90);

#define N 20

typedef struct sink {
    uv_mutex_t mu;
    int count[N];
    int total;
    atomic_bool fail;                   /* answer LATER */
} sink_t;

static rk_consume_result_t on_msgs(void *arg, const rk_msg_ext_t *msgs, size_t n)
{
    sink_t *s = arg;
    uv_mutex_lock(&s->mu);
    for (size_t i = 0; i < n; i++) {
        int k = -1;
        if (msgs[i].body_len > 2 && sscanf((const char *)msgs[i].body, "n:%d", &k) == 1 && k >= 0 && k < N)
            s->count[k]++;
        s->total++;
    }
    uv_mutex_unlock(&s->mu);
    return atomic_load(&s->fail) ? RK_CONSUME_LATER : RK_CONSUME_SUCCESS;
}

static int total_of(sink_t *s)
{
    uv_mutex_lock(&s->mu);
    int t = s->total;
    uv_mutex_unlock(&s->mu);
    return t;
}

typedef struct want {
    sink_t *s;
    int n;
} want_t;

static bool got_at_least(void *arg)
{
    want_t *w = arg;
    return total_of(w->s) >= w->n;
}

static rk_push_consumer_t *start(const char *group, const char *topic, sink_t *s)
{
    memset(s, 0, sizeof *s);
    uv_mutex_init(&s->mu);
    rk_push_consumer_config_t cfg = {.namesrv = cl.ns, .group = group, .from = RK_CONSUME_FROM_FIRST,
                                     .rebalance_ms = 1000, .persist_ms = 200};
    rk_push_consumer_t *pc;
    cr_assert_eq(rk_push_consumer_new(&cfg, on_msgs, s, &pc), 0);
    cr_assert_eq(rk_push_consumer_subscribe(pc, topic, "*"), 0);
    cr_assert_eq(rk_push_consumer_start(pc), 0);
    return pc;
}

static void send_n(const char *topic, int from, int to, char *offset_id, size_t len)
{
    for (int i = from; i < to; i++) {
        char body[32];
        snprintf(body, sizeof body, "n:%d", i);
        rk_message_t m = {.topic = topic, .body = body, .body_len = strlen(body)};
        rk_send_result_t r;
        cr_assert_eq(rk_producer_send(prod, &m, &r), 0, "%s", r.error);
        if (offset_id != NULL)
            snprintf(offset_id, len, "%s", r.offset_msg_id);
    }
}

static rk_cmd_t *req(int code, ...)
{
    rk_cmd_t *r = rk_cmd_new(code);
    va_list ap;
    va_start(ap, code);
    for (const char *k; (k = va_arg(ap, const char *)) != NULL;)
        rk_cmd_ext_set(r, k, va_arg(ap, const char *));
    va_end(ap);
    return r;
}

Test(admin_client, running_info_comes_from_the_consumer_through_the_broker)
{
    tk_create_topic(&cl, "RunT", 2);
    sink_t s;
    rk_push_consumer_t *pc = start("run_g", "RunT", &s);
    send_n("RunT", 0, 10, NULL, 0);
    want_t w = {&s, 10};
    cr_assert(tk_wait_until(got_at_least, &w, 15000), "consumed %d of 10", total_of(&s));
    const char *id = rk_mqclient_id(rk_push_consumer_client(pc));
    rk_cmd_t *r = tk_ask(cl.br, req(RK_REQ_GET_CONSUMER_RUNNING_INFO, "consumerGroup", "run_g", "clientId", id,
                                    "jstackEnable", "false", NULL));
    cr_assert_eq(r->code, 0, "%s", r->remark ? r->remark : "");
    /* mqTable: one entry per queue the consumer owns, fastjson's MessageQueue keys */
    rk_mq_map_entry_t *e = NULL;
    size_t n = 0;
    cr_assert_eq(rk_mq_map_parse((const char *)r->body, r->body_len, "mqTable", &e, &n), 0);
    int run_queues = 0;
    int64_t committed = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].mq.topic, "RunT") == 0) {
            run_queues++;
            int64_t c = 0;
            cr_assert_eq(rk_json_get_i64(e[i].value, "commitOffset", &c), 0);
            committed += c;
            cr_assert(cJSON_GetObjectItem(e[i].value, "cachedMsgCount") != NULL);
        }
    rk_mq_map_free(e, n);
    cr_assert_eq(run_queues, 2);
    cr_assert_eq(committed, 10, "the consumed offsets of the two queues add up to the 10 messages");
    char *text = malloc(r->body_len + 1);
    memcpy(text, r->body, r->body_len);
    text[r->body_len] = '\0';
    cr_assert(strstr(text, "\"subscriptionSet\":[") && strstr(text, "\"topic\":\"RunT\""), "%s", text);
    cr_assert(strstr(text, "\"PROP_CONSUME_TYPE\":\"CONSUME_PASSIVELY\""), "%s", text);
    cr_assert(strstr(text, "\"statusTable\":{\"RunT\":{"), "%s", text);
    free(text);
    rk_cmd_free(r);

    /* a group the client is not in */
    r = tk_ask(cl.br, req(RK_REQ_GET_CONSUMER_RUNNING_INFO, "consumerGroup", "other_g", "clientId", id, NULL));
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR);
    rk_cmd_free(r);
    rk_push_consumer_free(pc);
}

Test(admin_client, consume_directly_runs_the_listener_on_the_message_and_reports_its_result)
{
    tk_create_topic(&cl, "DirT", 1);
    sink_t s;
    rk_push_consumer_t *pc = start("dir_g", "DirT", &s);
    char offset_id[RK_MSGID_MAX * 4];
    send_n("DirT", 7, 8, offset_id, sizeof offset_id);
    want_t w = {&s, 1};
    cr_assert(tk_wait_until(got_at_least, &w, 15000));
    const char *id = rk_mqclient_id(rk_push_consumer_client(pc));
    rk_cmd_t *r = tk_ask(cl.br, req(RK_REQ_CONSUME_MESSAGE_DIRECTLY, "consumerGroup", "dir_g", "clientId", id, "msgId",
                                    offset_id, NULL));
    cr_assert_eq(r->code, 0, "%s", r->remark ? r->remark : "");
    cJSON *j = rk_json_parse((const char *)r->body, r->body_len);
    cr_assert_str_eq(rk_json_get_str(j, "consumeResult"), "CR_SUCCESS");
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(j, "order")));
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "autoCommit")));
    cJSON_Delete(j);
    rk_cmd_free(r);
    uv_mutex_lock(&s.mu);
    int seen = s.count[7];
    uv_mutex_unlock(&s.mu);
    cr_assert_eq(seen, 2, "the listener got message 7 once from the queue and once directly (got %d)", seen);

    atomic_store(&s.fail, true);
    r = tk_ask(cl.br, req(RK_REQ_CONSUME_MESSAGE_DIRECTLY, "consumerGroup", "dir_g", "clientId", id, "msgId",
                          offset_id, NULL));
    cr_assert_eq(r->code, 0);
    j = rk_json_parse((const char *)r->body, r->body_len);
    cr_assert_str_eq(rk_json_get_str(j, "consumeResult"), "CR_LATER");
    cJSON_Delete(j);
    rk_cmd_free(r);
    atomic_store(&s.fail, false);
    rk_push_consumer_free(pc);
}

Test(admin_client, reset_offset_by_time_makes_a_live_consumer_consume_again)
{
    tk_create_topic(&cl, "RstT", 2);
    sink_t s;
    rk_push_consumer_t *pc = start("rst_g", "RstT", &s);
    int64_t before = rk_now_ms() - 1;
    send_n("RstT", 0, N, NULL, 0);
    want_t w = {&s, N};
    cr_assert(tk_wait_until(got_at_least, &w, 15000), "consumed %d of %d", total_of(&s), N);
    usleep(500000);                     /* offsets committed (persist every 200 ms) */
    char ts[32];
    snprintf(ts, sizeof ts, "%lld", (long long)before);
    rk_cmd_t *r = tk_ask(cl.br, req(RK_REQ_INVOKE_BROKER_TO_RESET_OFFSET, "topic", "RstT", "group", "rst_g",
                                    "timestamp", ts, "isForce", "true", NULL));
    cr_assert_eq(r->code, 0, "%s", r->remark ? r->remark : "");
    rk_mq_map_entry_t *e = NULL;
    size_t n = 0;
    cr_assert_eq(rk_mq_map_parse((const char *)r->body, r->body_len, "offsetTable", &e, &n), 0);
    cr_assert_eq(n, 2);
    for (size_t i = 0; i < n; i++)
        cr_assert(cJSON_IsNumber(e[i].value) && e[i].value->valuedouble == 0, "queue %d reset to %g",
                  e[i].mq.queue_id, e[i].value->valuedouble);
    rk_mq_map_free(e, n);
    rk_cmd_free(r);
    /* the consumer jumped back: every message comes a second time */
    w.n = 2 * N;
    cr_assert(tk_wait_until(got_at_least, &w, 15000), "consumed %d of %d after the reset", total_of(&s), 2 * N);
    uv_mutex_lock(&s.mu);
    for (int i = 0; i < N; i++)
        cr_assert_geq(s.count[i], 2, "message %d came %d time(s)", i, s.count[i]);
    uv_mutex_unlock(&s.mu);
    rk_push_consumer_free(pc);
}
