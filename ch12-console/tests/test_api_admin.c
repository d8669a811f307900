/* test_api_admin.c — the endpoints built on admin requests that brokers answer once the admin
 * helper's chapter 7 processors (and the transaction and delay chapters) are merged: consumer
 * and producer connections (203/204), who consumes a topic (300), a consumer's running info
 * (307, forwarded to the client), every group's consume stats (317), reset offset (222, with
 * mqadmin's fallback when nobody is online), topic deletion (215), half messages pending
 * (rocklet's 10501).
 *
 * Each test first asks the broker whether it knows its request code; a broker that answers
 * REQUEST_CODE_NOT_SUPPORTED makes the test SKIP (reported by Criterion, so an unmerged
 * processor shows up) — the endpoints themselves then answer 502 with the broker's remark,
 * which test_api_admin::refused_is_502 checks whatever the broker is. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfix.h"
#include "rk/consumer.h"
#include "rk/error.h"
#include "rk/json.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

static rk_consume_result_t count_msgs(void *arg, const rk_msg_ext_t *msgs, size_t n)
{
    (void)msgs;
    __atomic_add_fetch((int *)arg, (int)n, __ATOMIC_SEQ_CST);
    return RK_CONSUME_SUCCESS;
}

static rk_push_consumer_t *consumer(cfix_t *f, const char *group, const char *topic, int *count)
{
    rk_push_consumer_config_t cfg = {.namesrv = f->cl.ns, .group = group, .instance_name = "admtest",
                                     .rebalance_ms = 500};
    rk_push_consumer_t *pc;
    cr_assert_eq(rk_push_consumer_new(&cfg, count_msgs, count, &pc), 0);
    cr_assert_eq(rk_push_consumer_subscribe(pc, topic, "*"), 0);
    cr_assert_eq(rk_push_consumer_start(pc), 0);
    return pc;
}

static bool has_str(cJSON *arr, const char *s)
{
    for (cJSON *e = arr ? arr->child : NULL; e; e = e->next)
        if (cJSON_IsString(e) && strcmp(e->valuestring, s) == 0)
            return true;
    return false;
}

Test(api_admin, refused_is_502)
{
    cfix_t f;
    cf_start(&f, NULL, NULL);
    cf_error(f.port, "GET", "/api/groups/NobodyHere/connections", NULL, NULL, 502, "not online");
    cf_stop(&f);
}

Test(api_admin, connections_consumers_running_stats)
{
    cfix_t f;
    cf_start(&f, NULL, NULL);
    rk_rc_create_topic(&f.cl, "AdmT", 2);
    int got = 0;
    rk_push_consumer_t *pc = consumer(&f, "AdmG", "AdmT", &got);
    /* a producer of group AdmP: its HEART_BEAT on a connection that stays open (the SDK's
     * producer heartbeats on its 30 s schedule) */
    rk_rclient_t *prc;
    cr_assert_eq(rk_rclient_new(&prc), 0);
    rk_cmd_t *hb = rk_cmd_new(RK_REQ_HEART_BEAT), *hr = NULL;
    const char *hbody = "{\"clientID\":\"127.0.0.1@admprod\",\"producerDataSet\":[{\"groupName\":\"AdmP\"}],"
                        "\"consumerDataSet\":[]}";
    rk_cmd_set_body(hb, hbody, strlen(hbody));
    cr_assert_eq(rk_rclient_invoke_sync(prc, f.cl.br, hb, 5000, &hr), 0);
    cr_assert_eq(hr->code, 0);
    rk_cmd_free(hr);
    const char *cid = rk_mqclient_id(rk_push_consumer_client(pc));

    cJSON *j = cf_get(&f, "/api/groups/AdmG/connections", 200);
    cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "connections"), 0);
    cr_assert_not_null(c);
    cr_assert_str_eq(rk_json_get_str(c, "clientId"), cid);
    cr_assert(cf_num(c, "version") > 0);
    cr_assert_str_eq(rk_json_get_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "subscriptions"), 0),
                                     "topic"), "AdmT");
    cJSON_Delete(j);
    j = cf_get(&f, "/api/producers/AdmP/connections", 200);
    cr_assert_str_eq(rk_json_get_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "connections"), 0),
                                     "clientId"), "127.0.0.1@admprod");
    cJSON_Delete(j);
    j = cf_get(&f, "/api/topics/AdmT/consumers", 200);
    cr_assert(has_str(cJSON_GetObjectItemCaseSensitive(j, "groups"), "AdmG"));
    cJSON_Delete(j);
    j = cf_get(&f, "/api/consume-stats", 200);
    cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(j, "brokers"), 0), "totalDiff"));
    cJSON_Delete(j);
    {
        char path[400];
        snprintf(path, sizeof path, "/api/groups/AdmG/running?clientId=%s", cid);
        j = cf_get(&f, path, 200);
        cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(j, "queues"));
        cJSON_Delete(j);
    }
    cf_error(f.port, "GET", "/api/groups/AdmG/running", NULL, NULL, 400, "clientId");
    rk_rclient_free(prc);
    rk_push_consumer_free(pc);
    cf_stop(&f);
}

Test(api_admin, reset_offset_online_and_offline)
{
    cfix_t f;
    cf_start(&f, NULL, NULL);
    rk_rc_create_topic(&f.cl, "RstT", 1);
    rk_send_result_t r;
    for (int i = 0; i < 4; i++)
        cf_send(&f, "RstT", NULL, "m", NULL, &r);
    /* a send is answered once the commitlog has it; the consume queue (what brokerOffset
     * reports) follows a moment later: wait for all four there, bounded */
    int64_t cq_max = -1;
    for (int i = 0; i < 250 && cq_max < 4; i++) {
        rk_cmd_t *q = rk_cmd_new(RK_REQ_GET_MAX_OFFSET);
        rk_cmd_ext_set(q, "topic", "RstT");
        rk_cmd_ext_set(q, "queueId", "0");
        rk_cmd_t *a = rk_rc_call(f.cl.br, q);
        if (a == NULL || a->code != 0 || rk_cmd_ext_i64(a, "offset", &cq_max) != RK_OK)
            cq_max = -1;
        rk_cmd_free(a);
        if (cq_max < 4)
            usleep(20000);
    }
    cr_assert_eq(cq_max, 4, "the four messages reach the consume queue");
    /* nobody online: the broker says CONSUMER_NOT_ONLINE and the console writes the offsets */
    rk_cmd_t *req = rk_cmd_new(RK_REQ_UPDATE_CONSUMER_OFFSET);
    rk_cmd_ext_set(req, "consumerGroup", "RstG");
    rk_cmd_ext_set(req, "topic", "RstT");
    rk_cmd_ext_set(req, "queueId", "0");
    rk_cmd_ext_set(req, "commitOffset", "4");
    rk_cmd_free(rk_rc_call(f.cl.br, req));
    cJSON *j = cf_call(f.port, "POST", "/api/groups/RstG/reset-offset", NULL, "{\"topic\":\"RstT\",\"timestamp\":0}",
                       200);
    cr_assert_str_eq(rk_json_get_str(j, "mode"), "offline");
    cr_assert_eq(cf_num(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "queues"), 0), "offset"), 0);
    cJSON_Delete(j);
    j = cf_get(&f, "/api/groups/RstG", 200);
    long long diff = (long long)cf_num(j, "diffTotal");
    cJSON_Delete(j);
    cr_assert_eq(diff, 4, "back to the start: all four to consume again (diffTotal %lld)", diff);
    /* online: the broker computes the offsets and tells the consumers */
    int got = 0;
    rk_push_consumer_t *pc = consumer(&f, "RstG", "RstT", &got);
    for (int i = 0; i < 200 && __atomic_load_n(&got, __ATOMIC_SEQ_CST) < 4; i++)
        usleep(50000);
    j = cf_call(f.port, "POST", "/api/groups/RstG/reset-offset", NULL, "{\"topic\":\"RstT\",\"timestamp\":0}", 200);
    cr_assert_str_eq(rk_json_get_str(j, "mode"), "broker");
    cJSON_Delete(j);
    cf_error(f.port, "POST", "/api/groups/RstG/reset-offset", NULL, "{\"topic\":\"RstT\"}", 400, "timestamp");
    cf_error(f.port, "POST", "/api/groups/RstG/reset-offset", NULL, "{\"topic\":\"NoT\",\"timestamp\":0}", 404, NULL);
    rk_push_consumer_free(pc);
    cf_stop(&f);
}

Test(api_admin, delete_topic)
{
    cfix_t f;
    cf_start(&f, NULL, NULL);
    rk_rc_create_topic(&f.cl, "DelT", 1);
    cJSON *j = cf_call(f.port, "DELETE", "/api/topics/DelT", NULL, NULL, 200);
    cJSON_Delete(j);
    cr_assert(!rk_rc_routed(&f.cl, "DelT"), "no longer routed");
    cf_error(f.port, "DELETE", "/api/topics/DelT", NULL, NULL, 404, NULL);
    cf_stop(&f);
}

Test(api_admin, transactions_pending)
{
    cfix_t f;
    cf_start(&f, NULL, NULL);
    cJSON *j = cf_get(&f, "/api/transactions", 200);
    cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "brokers"), 0);
    cr_assert(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(b, "groups")));
    cJSON_Delete(j);
    cf_stop(&f);
}
