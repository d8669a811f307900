/* test_admin_wire.c — the broker's admin requests (rk/broker_admin.h) on
 * the wire, against real mqnamesrv and mqbroker processes: codes, bodies
 * in RocketMQ's shapes, refusals of hostile fields. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cluster.h"
#include "rk/buf.h"
#include "rk/consumer.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/json.h"
#include "rk/mqclient.h"
#include "rk/producer.h"
#include "rk/rawconn.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"

static tk_cluster_t cl;

static void setup(void) { tk_cluster_start(&cl, NULL); }
static void teardown(void) { tk_cluster_stop(&cl); }

TestSuite(admin_wire, .init = setup, .fini = teardown, .timeout = 90);

/* A request with NULL-terminated key, value pairs. */
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

static rk_cmd_t *with_body(rk_cmd_t *r, const char *body)
{
    rk_cmd_set_body(r, body, strlen(body));
    return r;
}

static char *body_of(const rk_cmd_t *r)
{
    char *s = malloc(r->body_len + 1);
    memcpy(s, r->body, r->body_len);
    s[r->body_len] = '\0';
    return s;
}

static rk_consume_result_t ok_listener(void *arg, const rk_msg_ext_t *m, size_t n)
{
    (void)arg;
    (void)m;
    (void)n;
    return RK_CONSUME_SUCCESS;
}

static rk_push_consumer_t *start_consumer(const char *group, const char *topic, const char *expr)
{
    rk_push_consumer_config_t cfg = {.namesrv = cl.ns, .group = group, .from = RK_CONSUME_FROM_FIRST,
                                     .rebalance_ms = 1000, .persist_ms = 200};
    rk_push_consumer_t *pc;
    cr_assert_eq(rk_push_consumer_new(&cfg, ok_listener, NULL, &pc), 0);
    cr_assert_eq(rk_push_consumer_subscribe(pc, topic, expr), 0);
    cr_assert_eq(rk_push_consumer_start(pc), 0);
    return pc;
}

Test(admin_wire, consumer_connection_lists_clients_and_subscriptions_and_unknown_groups_are_not_online)
{
    tk_create_topic(&cl, "ConnT", 2);
    rk_push_consumer_t *pc = start_consumer("conn_g", "ConnT", "a || b");
    rk_cmd_t *r = tk_ask(cl.br, req(RK_REQ_GET_CONSUMER_CONNECTION_LIST, "consumerGroup", "conn_g", NULL));
    cr_assert_eq(r->code, 0, "%s", r->remark ? r->remark : "");
    cJSON *j = rk_json_parse((const char *)r->body, r->body_len);
    cr_assert(j != NULL);
    cJSON *set = cJSON_GetObjectItem(j, "connectionSet");
    cr_assert_eq(cJSON_GetArraySize(set), 1);
    cJSON *c0 = cJSON_GetArrayItem(set, 0);
    cr_assert_str_eq(rk_json_get_str(c0, "clientId"), rk_mqclient_id(rk_push_consumer_client(pc)));
    cr_assert(strncmp(rk_json_get_str(c0, "clientAddr"), "127.0.0.1:", 10) == 0);
    cr_assert_str_eq(rk_json_get_str(c0, "language"), "CPP");
    cr_assert_str_eq(rk_json_get_str(j, "messageModel"), "CLUSTERING");
    cr_assert_str_eq(rk_json_get_str(j, "consumeType"), "CONSUME_PASSIVELY");
    cr_assert_str_eq(rk_json_get_str(j, "consumeFromWhere"), "CONSUME_FROM_FIRST_OFFSET");
    cJSON *sub = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "subscriptionTable"), "ConnT");
    cr_assert(sub != NULL);
    cr_assert_str_eq(rk_json_get_str(sub, "subString"), "a || b");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(sub, "tagsSet")), 2);
    cJSON_Delete(j);
    rk_cmd_free(r);

    r = tk_ask(cl.br, req(RK_REQ_GET_CONSUMER_CONNECTION_LIST, "consumerGroup", "nobody_g", NULL));
    cr_assert_eq(r->code, RK_RESP_CONSUMER_NOT_ONLINE);
    cr_assert(strstr(r->remark, "nobody_g") && strstr(r->remark, "not online"), "%s", r->remark);
    rk_cmd_free(r);
    r = tk_ask(cl.br, req(RK_REQ_GET_CONSUMER_CONNECTION_LIST, "consumerGroup", "bad\"group", NULL));
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR);
    cr_assert(strstr(r->remark, "consumerGroup") != NULL, "%s", r->remark);
    rk_cmd_free(r);
    r = tk_ask(cl.br, req(RK_REQ_GET_CONSUMER_CONNECTION_LIST, NULL));
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR);
    rk_cmd_free(r);
    rk_push_consumer_free(pc);
}

Test(admin_wire, producer_connection_lists_the_groups_clients)
{
    /* a producer's HEART_BEAT, on a connection that stays open */
    rk_rclient_t *rc;
    cr_assert_eq(rk_rclient_new(&rc), 0);
    rk_cmd_t *hb = with_body(req(RK_REQ_HEART_BEAT, NULL), "{\"clientID\":\"127.0.0.1@prodinst\",\"producerDataSet\":"
                                                      "[{\"groupName\":\"prod_g\"}],\"consumerDataSet\":[]}");
    hb->language = 0;               /* JAVA */
    hb->version = 401;
    rk_cmd_t *r = NULL;
    cr_assert_eq(rk_rclient_invoke_sync(rc, cl.br, hb, 5000, &r), 0);
    cr_assert_eq(r->code, 0);
    rk_cmd_free(r);
    r = tk_ask(cl.br, req(RK_REQ_GET_PRODUCER_CONNECTION_LIST, "producerGroup", "prod_g", NULL));
    cr_assert_eq(r->code, 0, "%s", r->remark ? r->remark : "");
    cJSON *j = rk_json_parse((const char *)r->body, r->body_len);
    cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "connectionSet"), 0);
    cr_assert(c0 != NULL);
    cr_assert_str_eq(rk_json_get_str(c0, "clientId"), "127.0.0.1@prodinst");
    cr_assert_str_eq(rk_json_get_str(c0, "language"), "JAVA");
    int64_t v = 0;
    cr_assert_eq(rk_json_get_i64(c0, "version", &v), 0);
    cr_assert_eq(v, 401);
    cr_assert(strncmp(rk_json_get_str(c0, "clientAddr"), "127.0.0.1:", 10) == 0);
    cJSON_Delete(j);
    rk_cmd_free(r);
    rk_rclient_free(rc);        /* its connection closes: the producer is gone */
    for (int i = 0; i < 200; i++) {
        r = tk_ask(cl.br, req(RK_REQ_GET_PRODUCER_CONNECTION_LIST, "producerGroup", "prod_g", NULL));
        bool gone = r->code != 0;
        rk_cmd_free(r);
        if (gone)
            break;
        usleep(10000);
    }
    r = tk_ask(cl.br, req(RK_REQ_GET_PRODUCER_CONNECTION_LIST, "producerGroup", "prod_g", NULL));
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR);
    cr_assert(strstr(r->remark, "the producer group[prod_g] not exist") != NULL, "%s", r->remark);
    rk_cmd_free(r);
}

Test(admin_wire, subscription_groups_are_created_listed_persisted_and_deleted)
{
    rk_cmd_t *r = tk_ask(cl.br, with_body(req(RK_REQ_UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, NULL),
                                          "{\"groupName\":\"sg1\",\"consumeEnable\":false,\"retryMaxTimes\":3,"
                                          "\"retryQueueNums\":2}"));
    cr_assert_eq(r->code, 0, "%s", r->remark ? r->remark : "");
    rk_cmd_free(r);
    r = tk_ask(cl.br, req(RK_REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG, NULL));
    cr_assert_eq(r->code, 0);
    cJSON *j = rk_json_parse((const char *)r->body, r->body_len);
    cJSON *g = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "subscriptionGroupTable"), "sg1");
    cr_assert(g != NULL);
    int64_t v = 0;
    cr_assert_eq(rk_json_get_i64(g, "retryMaxTimes", &v), 0);
    cr_assert_eq(v, 3);
    cr_assert_eq(rk_json_get_i64(g, "retryQueueNums", &v), 0);
    cr_assert_eq(v, 2);
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(g, "consumeEnable")));
    cJSON_Delete(j);
    rk_cmd_free(r);
    /* on disk when answered */
    char path[400], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/store/config/subscriptionGroup.json", cl.dir);
    cr_assert_eq(rk_file_read_all(path, &text, &len), 0);
    cr_assert(strstr(text, "\"sg1\"") != NULL);
    free(text);

    /* hostile bodies */
    const char *bad[] = {"", "not json", "{\"groupName\":\"a b\"}", "{\"groupName\":\"sg2\",\"retryMaxTimes\":1e30}",
                         "{\"groupName\":\"sg2\",\"retryQueueNums\":-1}", "{\"groupName\":\"sg2\",\"consumeEnable\":\"maybe\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = tk_ask(cl.br, with_body(req(RK_REQ_UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, NULL), bad[i]));
        cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR, "body %s accepted", bad[i]);
        cr_assert(r->remark != NULL && strstr(r->remark, "refused") != NULL);
        rk_cmd_free(r);
    }
    char *big = malloc(70000);
    memset(big, ' ', 69999);
    big[69999] = '\0';
    memcpy(big, "{\"groupName\":\"sg3\"}", 19);
    r = tk_ask(cl.br, with_body(req(RK_REQ_UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, NULL), big));
    free(big);
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR);
    cr_assert(strstr(r->remark, "65536") != NULL, "%s", r->remark);
    rk_cmd_free(r);

    r = tk_ask(cl.br, req(RK_REQ_DELETE_SUBSCRIPTIONGROUP, "groupName", "sg1", NULL));
    cr_assert_eq(r->code, 0);
    rk_cmd_free(r);
    r = tk_ask(cl.br, req(RK_REQ_DELETE_SUBSCRIPTIONGROUP, "groupName", "never_there", NULL));
    cr_assert_eq(r->code, 0, "RocketMQ answers SUCCESS for a group it does not have");
    rk_cmd_free(r);
    r = tk_ask(cl.br, req(RK_REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG, NULL));
    char *s = body_of(r);
    cr_assert(strstr(s, "\"sg1\"") == NULL, "%s", s);
    free(s);
    rk_cmd_free(r);
    cr_assert_eq(rk_file_read_all(path, &text, &len), 0);
    cr_assert(strstr(text, "\"sg1\"") == NULL);
    free(text);
}

Test(admin_wire, delete_topic_removes_its_config_and_refuses_system_topics)
{
    tk_create_topic(&cl, "DelT", 2);
    rk_cmd_t *r = tk_ask(cl.br, req(RK_REQ_DELETE_TOPIC_IN_BROKER, "topic", "DelT", NULL));
    cr_assert_eq(r->code, 0, "%s", r->remark ? r->remark : "");
    rk_cmd_free(r);
    r = tk_ask(cl.br, req(RK_REQ_GET_ALL_TOPIC_CONFIG, NULL));
    char *s = body_of(r);
    cr_assert(strstr(s, "\"DelT\"") == NULL, "%s", s);
    free(s);
    rk_cmd_free(r);
    const char *refused[] = {"TBW102", "TestCluster", "broker-t", "SELF_TEST_TOPIC"};
    for (size_t i = 0; i < 4; i++) {
        r = tk_ask(cl.br, req(RK_REQ_DELETE_TOPIC_IN_BROKER, "topic", refused[i], NULL));
        cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR, "%s deleted", refused[i]);
        cr_assert(strstr(r->remark, "system topic") != NULL, "%s", r->remark);
        rk_cmd_free(r);
    }
    r = tk_ask(cl.br, req(RK_REQ_DELETE_TOPIC_IN_BROKER, "topic", "../../etc", NULL));
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR);
    rk_cmd_free(r);
}

static bool stats_list_group(void *group)
{
    rk_cmd_t *r = tk_ask(cl.br, req(RK_REQ_GET_BROKER_CONSUME_STATS, NULL));
    char *s = body_of(r), want[200];
    snprintf(want, sizeof want, "{\"%s\":[", (const char *)group);
    bool ok = strstr(s, want) != NULL;
    free(s);
    rk_cmd_free(r);
    return ok;
}

Test(admin_wire, consume_by_who_and_broker_consume_stats_name_the_groups)
{
    tk_create_topic(&cl, "WhoT", 2);
    rk_push_consumer_t *pc = start_consumer("who_live", "WhoT", "*");
    rk_producer_config_t pcfg = {.namesrv = cl.ns, .group = "who_p"};
    rk_producer_t *p;
    cr_assert_eq(rk_producer_new(&pcfg, &p), 0);
    for (int i = 0; i < 4; i++) {
        rk_message_t m = {.topic = "WhoT", .body = "x", .body_len = 1};
        rk_send_result_t sr;
        cr_assert_eq(rk_producer_send(p, &m, &sr), 0, "%s", sr.error);
    }
    rk_producer_free(p);
    /* a group with an offset and no live member */
    rk_cmd_t *r = tk_ask(cl.br, req(RK_REQ_UPDATE_CONSUMER_OFFSET, "consumerGroup", "who_off", "topic", "WhoT",
                                    "queueId", "1", "commitOffset", "0", NULL));
    cr_assert_eq(r->code, 0, "%s", r->remark ? r->remark : "");
    rk_cmd_free(r);
    r = tk_ask(cl.br, req(RK_REQ_QUERY_TOPIC_CONSUME_BY_WHO, "topic", "WhoT", NULL));
    cr_assert_eq(r->code, 0);
    cJSON *j = rk_json_parse((const char *)r->body, r->body_len);
    char *list = rk_json_print(cJSON_GetObjectItem(j, "groupList"), 0);
    cr_assert(strstr(list, "\"who_live\"") && strstr(list, "\"who_off\""), "%s", list);
    free(list);
    cJSON_Delete(j);
    rk_cmd_free(r);

    /* the queues' rows appear once the reput thread has dispatched the messages */
    cr_assert(tk_wait_until(stats_list_group, "who_off", 5000));
    r = tk_ask(cl.br, req(RK_REQ_GET_BROKER_CONSUME_STATS, "isOrder", "false", NULL));
    cr_assert_eq(r->code, 0);
    char *s = body_of(r);
    cr_assert(strstr(s, "\"brokerAddr\":\"127.0.0.1:") != NULL, "%s", s);
    cr_assert(strstr(s, "{\"who_off\":[{\"consumeTps\"") != NULL, "%s", s);
    cr_assert(strstr(s, "{\"brokerName\":\"broker-t\",\"queueId\":1,\"topic\":\"WhoT\"}:") != NULL, "%s", s);
    cr_assert(strstr(s, "\"totalDiff\":") != NULL, "%s", s);
    free(s);
    rk_cmd_free(r);
    rk_push_consumer_free(pc);
}

Test(admin_wire, broker_config_is_read_and_only_runtime_keys_change)
{
    rk_cmd_t *r = tk_ask(cl.br, req(RK_REQ_GET_BROKER_CONFIG, NULL));
    cr_assert_eq(r->code, 0);
    char *s = body_of(r);
    cr_assert(strstr(s, "brokerName=broker-t\n") && strstr(s, "autoCreateSubscriptionGroup=true\n") &&
              strstr(s, "flushConsumerOffsetInterval=") && strstr(s, "flushDiskType=ASYNC_FLUSH\n") &&
              strstr(s, "serverMaxConnections="), "%s", s);
    const char *lp = strstr(s, "\nlistenPort=");
    cr_assert(lp != NULL && strstr(lp + 1, "\nlistenPort=") == NULL, "a key two tables share is listed once");
    char want[64];
    snprintf(want, sizeof want, "\nlistenPort=%d\n", cl.br_port);
    cr_assert(strstr(s, want) != NULL, "%s", s);
    cr_assert(rk_cmd_ext_get(r, "version") && strstr(rk_cmd_ext_get(r, "version"), "\"counter\":0"));
    free(s);
    rk_cmd_free(r);

    /* refused: a key that needs a restart, a bad value, garbage */
    r = tk_ask(cl.br, with_body(req(RK_REQ_UPDATE_BROKER_CONFIG, NULL), "brokerName=evil\n"));
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR);
    cr_assert(strstr(r->remark, "brokerName cannot be changed while the broker runs") != NULL, "%s", r->remark);
    rk_cmd_free(r);
    r = tk_ask(cl.br, with_body(req(RK_REQ_UPDATE_BROKER_CONFIG, NULL), "autoCreateTopicMax=lots\n"));
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR);
    cr_assert(strstr(r->remark, "autoCreateTopicMax") != NULL, "%s", r->remark);
    rk_cmd_free(r);
    r = tk_ask(cl.br, with_body(req(RK_REQ_UPDATE_BROKER_CONFIG, NULL), "autoCreateSubscriptionGroup=maybe\n"));
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR);
    rk_cmd_free(r);
    r = tk_ask(cl.br, req(RK_REQ_UPDATE_BROKER_CONFIG, NULL));
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR);
    rk_cmd_free(r);

    /* a group not yet known gets an offset (created on first sight) ... */
    r = tk_ask(cl.br, req(RK_REQ_UPDATE_CONSUMER_OFFSET, "consumerGroup", "early_g", "topic", "TBW102", "queueId", "0",
                          "commitOffset", "0", NULL));
    cr_assert_eq(r->code, 0, "%s", r->remark ? r->remark : "");
    rk_cmd_free(r);
    /* ... until autoCreateSubscriptionGroup is turned off at run time */
    r = tk_ask(cl.br, with_body(req(RK_REQ_UPDATE_BROKER_CONFIG, NULL), "autoCreateSubscriptionGroup=false\n"));
    cr_assert_eq(r->code, 0, "%s", r->remark ? r->remark : "");
    rk_cmd_free(r);
    r = tk_ask(cl.br, req(RK_REQ_UPDATE_CONSUMER_OFFSET, "consumerGroup", "late_g", "topic", "TBW102", "queueId", "0",
                          "commitOffset", "0", NULL));
    cr_assert_eq(r->code, RK_RESP_SUBSCRIPTION_GROUP_NOT_EXIST);
    rk_cmd_free(r);
    r = tk_ask(cl.br, req(RK_REQ_GET_BROKER_CONFIG, NULL));
    s = body_of(r);
    cr_assert(strstr(s, "autoCreateSubscriptionGroup=false\n") != NULL, "%s", s);
    cr_assert(strstr(rk_cmd_ext_get(r, "version"), "\"counter\":1") != NULL);
    free(s);
    rk_cmd_free(r);
}

Test(admin_wire, reset_offset_refuses_unknown_topics_and_offline_groups_and_bad_fields)
{
    tk_create_topic(&cl, "RstT", 2);
    rk_cmd_t *r = tk_ask(cl.br, req(RK_REQ_INVOKE_BROKER_TO_RESET_OFFSET, "topic", "NoSuchT", "group", "g",
                                    "timestamp", "0", "isForce", "true", NULL));
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR);
    cr_assert(strstr(r->remark, "no topic in this broker") != NULL, "%s", r->remark);
    rk_cmd_free(r);
    r = tk_ask(cl.br, req(RK_REQ_INVOKE_BROKER_TO_RESET_OFFSET, "topic", "RstT", "group", "ghost",
                          "timestamp", "0", "isForce", "true", NULL));
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR);
    cr_assert(strstr(r->remark, "not exist") != NULL, "%s", r->remark);
    rk_cmd_free(r);
    for (int q = 0; q < 2; q++) {
        char qs[16];
        snprintf(qs, sizeof qs, "%d", q);
        r = tk_ask(cl.br, req(RK_REQ_UPDATE_CONSUMER_OFFSET, "consumerGroup", "offline_g", "topic", "RstT", "queueId",
                              qs, "commitOffset", "0", NULL));
        cr_assert_eq(r->code, 0);
        rk_cmd_free(r);
    }
    r = tk_ask(cl.br, req(RK_REQ_INVOKE_BROKER_TO_RESET_OFFSET, "topic", "RstT", "group", "offline_g",
                          "timestamp", "0", "isForce", "true", NULL));
    cr_assert_eq(r->code, RK_RESP_CONSUMER_NOT_ONLINE);
    cr_assert(strstr(r->remark, "Consumer not online") != NULL, "%s", r->remark);
    rk_cmd_free(r);
    const char *bad_ts[] = {"yesterday", "-5", "99999999999999999999"};
    for (int i = 0; i < 3; i++) {
        r = tk_ask(cl.br, req(RK_REQ_INVOKE_BROKER_TO_RESET_OFFSET, "topic", "RstT", "group", "offline_g",
                              "timestamp", bad_ts[i], NULL));
        cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR, "timestamp %s accepted", bad_ts[i]);
        cr_assert(strstr(r->remark, "timestamp") != NULL, "%s", r->remark);
        rk_cmd_free(r);
    }
}

Test(admin_wire, running_info_and_consume_directly_for_a_client_not_there_say_so)
{
    rk_cmd_t *r = tk_ask(cl.br, req(RK_REQ_GET_CONSUMER_RUNNING_INFO, "consumerGroup", "g", "clientId", "1.2.3.4@x",
                                    NULL));
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR);
    cr_assert(strstr(r->remark, "The Consumer <g> <1.2.3.4@x> not online") != NULL, "%s", r->remark);
    rk_cmd_free(r);
    r = tk_ask(cl.br, req(RK_REQ_CONSUME_MESSAGE_DIRECTLY, "consumerGroup", "g", "clientId", "c", "msgId",
                          "0000000000000000", NULL));
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR);
    cr_assert(strstr(r->remark, "not on this broker") != NULL, "%s", r->remark);
    rk_cmd_free(r);
    r = tk_ask(cl.br, req(RK_REQ_GET_CONSUMER_RUNNING_INFO, "consumerGroup", "g", NULL));
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR);
    cr_assert(strstr(r->remark, "clientId") != NULL, "%s", r->remark);
    rk_cmd_free(r);
}

static bool qct_has(void *want)
{
    rk_cmd_t *r = tk_ask(cl.br, req(RK_REQ_GET_MAX_OFFSET, "topic", "QcT", "queueId", "0", NULL));
    const char *off = rk_cmd_ext_get(r, "offset");
    bool ok = off != NULL && strcmp(off, want) == 0;
    rk_cmd_free(r);
    return ok;
}

Test(admin_wire, query_consume_queue_returns_the_raw_units_within_bounds)
{
    tk_create_topic(&cl, "QcT", 1);
    rk_producer_config_t pcfg = {.namesrv = cl.ns, .group = "qc_p"};
    rk_producer_t *p;
    cr_assert_eq(rk_producer_new(&pcfg, &p), 0);
    for (int i = 0; i < 3; i++) {
        rk_message_t m = {.topic = "QcT", .tags = "t", .body = "abc", .body_len = 3};
        rk_send_result_t sr;
        cr_assert_eq(rk_producer_send(p, &m, &sr), 0, "%s", sr.error);
    }
    rk_producer_free(p);
    cr_assert(tk_wait_until(qct_has, "3", 5000));
    rk_cmd_t *r = tk_ask(cl.br, req(RK_REQ_QUERY_CONSUME_QUEUE, "topic", "QcT", "queueId", "0", "index", "1", "count",
                                    "10", NULL));
    cr_assert_eq(r->code, 0, "%s", r->remark ? r->remark : "");
    cJSON *j = rk_json_parse((const char *)r->body, r->body_len);
    cJSON *list = cJSON_GetObjectItem(j, "queueData");
    cr_assert_eq(cJSON_GetArraySize(list), 2, "units 1 and 2");
    int64_t v = 0, off1 = 0, off2 = 0;
    cr_assert_eq(rk_json_get_i64(j, "maxQueueIndex", &v), 0);
    cr_assert_eq(v, 3);
    rk_json_get_i64(cJSON_GetArrayItem(list, 0), "physicOffset", &off1);
    rk_json_get_i64(cJSON_GetArrayItem(list, 1), "physicOffset", &off2);
    rk_json_get_i64(cJSON_GetArrayItem(list, 0), "physicSize", &v);
    cr_assert(v > 3 && off2 == off1 + v, "units are consecutive records (%lld + %lld != %lld)", (long long)off1,
              (long long)v, (long long)off2);
    cr_assert_eq(rk_json_get_i64(cJSON_GetArrayItem(list, 0), "tagsCode", &v), 0);
    cr_assert_eq(v, 't', "the tag's hash code (Java's \"t\".hashCode())");
    cJSON_Delete(j);
    rk_cmd_free(r);
    const char *bad[][3] = {{"0", "0", "0"}, {"0", "0", "100000"}, {"7", "0", "1"}, {"0", "-1", "1"}, {"x", "0", "1"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = tk_ask(cl.br, req(RK_REQ_QUERY_CONSUME_QUEUE, "topic", "QcT", "queueId", bad[i][0], "index", bad[i][1],
                              "count", bad[i][2], NULL));
        cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR, "queueId %s index %s count %s accepted", bad[i][0], bad[i][1],
                      bad[i][2]);
        rk_cmd_free(r);
    }
}

/* A consumer that never answers: the admin gets a timeout, and while the
 * requests wait for it no thread is held (more of them than the worker
 * pool has threads, and a request that needs the pool is answered at once). */
typedef struct ask_ctx {
    rk_cmd_t *resp;
    uv_mutex_t mu;
    int done;
} ask_ctx_t;

static void on_answer(void *arg, int status, rk_cmd_t *resp)
{
    ask_ctx_t *a = arg;
    uv_mutex_lock(&a->mu);
    if (status == RK_OK && a->resp == NULL)
        a->resp = resp;         /* keep the first */
    else
        rk_cmd_free(resp);
    a->done++;
    uv_mutex_unlock(&a->mu);
}

Test(admin_wire, a_silent_client_times_out_and_holds_no_thread)
{
    int fd = rk_raw_connect(cl.br_port);
    cr_assert(fd >= 0);
    rk_cmd_t *hb = with_body(req(RK_REQ_HEART_BEAT, NULL), "{\"clientID\":\"127.0.0.1@mute\",\"consumerDataSet\":"
                                                           "[{\"groupName\":\"mute_g\",\"subscriptionDataSet\":[]}]}");
    hb->opaque = 1;
    rk_buf_t b = {0};
    cr_assert_eq(rk_cmd_encode(hb, &b), 0);
    cr_assert_eq(rk_raw_send_all(fd, b.data, b.len), 0);
    rk_buf_free(&b);
    rk_cmd_free(hb);
    rk_cmd_t *hr = rk_raw_read_cmd(fd);
    while (hr != NULL && !rk_cmd_is_response(hr)) {     /* NOTIFY_CONSUMER_IDS_CHANGED: the group changed */
        rk_cmd_free(hr);
        hr = rk_raw_read_cmd(fd);
    }
    cr_assert(hr != NULL && hr->code == 0, "heartbeat: %d %s", hr ? hr->code : -1, hr && hr->remark ? hr->remark : "");
    rk_cmd_free(hr);

    rk_rclient_t *rc;
    cr_assert_eq(rk_rclient_new(&rc), 0);
    ask_ctx_t a = {0};
    uv_mutex_init(&a.mu);
    enum { PARKED = 12 };
    for (int i = 0; i < PARKED; i++)
        cr_assert_eq(rk_rclient_invoke_async(rc, cl.br, req(RK_REQ_GET_CONSUMER_RUNNING_INFO, "consumerGroup", "mute_g",
                                                            "clientId", "127.0.0.1@mute", NULL), 15000, on_answer, &a), 0);
    usleep(200000);
    /* a loop request and a worker-pool request, answered while every parked one still waits */
    rk_cmd_t *r = tk_ask(cl.br, req(RK_REQ_GET_BROKER_CONFIG, NULL));
    cr_assert_eq(r->code, 0);
    rk_cmd_free(r);
    r = tk_ask(cl.br, req(RK_REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG, NULL));
    cr_assert_eq(r->code, 0);
    rk_cmd_free(r);
    uv_mutex_lock(&a.mu);
    cr_assert_eq(a.done, 0, "other requests were answered only after the parked ones gave up");
    uv_mutex_unlock(&a.mu);
    for (int i = 0; i < 1500; i++) {
        uv_mutex_lock(&a.mu);
        int done = a.done;
        uv_mutex_unlock(&a.mu);
        if (done == PARKED)
            break;
        usleep(10000);
    }
    uv_mutex_lock(&a.mu);
    cr_assert_eq(a.done, PARKED);
    cr_assert(a.resp != NULL && a.resp->code == RK_RESP_SYSTEM_ERROR);
    cr_assert(strstr(a.resp->remark, "invoke consumer <mute_g> <127.0.0.1@mute> Exception") != NULL, "%s",
              a.resp->remark);
    rk_cmd_free(a.resp);
    uv_mutex_unlock(&a.mu);
    rk_rclient_free(rc);
    uv_mutex_destroy(&a.mu);
    close(fd);
}
