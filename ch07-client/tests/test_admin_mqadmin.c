/* test_admin_mqadmin.c — mqadmin's admin commands (consumerConnection,
 * producerConnection, consumerStatus, updateSubGroup, deleteSubGroup,
 * deleteTopic, resetOffsetByTime, brokerConsumeStats, getBrokerConfig,
 * updateBrokerConfig, queryMsgById -g/-d): what they print against real
 * mqnamesrv and mqbroker processes, and what they changed. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "rk/clock.h"
#include "rk/consumer.h"
#include "rk/error.h"
#include "rk/mqclient.h"
#include "rk/producer.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"

static tk_cluster_t cl;
static rk_producer_t *prod;

static void setup(void)
{
    tk_cluster_start(&cl, NULL);
    rk_producer_config_t pc = {.namesrv = cl.ns, .group = "cli_pg"};
    cr_assert_eq(rk_producer_new(&pc, &prod), 0);
}

static void teardown(void)
{
    rk_producer_free(prod);
    tk_cluster_stop(&cl);
}

TestSuite(admin_mqadmin, .init = setup, .fini = teardown, .timeout = 120);

static rk_consume_result_t ok_listener(void *arg, const rk_msg_ext_t *m, size_t n)
{
    (void)m;
    __atomic_add_fetch((int *)arg, (int)n, __ATOMIC_SEQ_CST);
    return RK_CONSUME_SUCCESS;
}

static int consumed;

static bool consumed_at_least(void *arg) { return __atomic_load_n(&consumed, __ATOMIC_SEQ_CST) >= *(int *)arg; }

static rk_push_consumer_t *start(const char *group, const char *topic)
{
    rk_push_consumer_config_t cfg = {.namesrv = cl.ns, .group = group, .from = RK_CONSUME_FROM_FIRST,
                                     .rebalance_ms = 1000, .persist_ms = 200};
    rk_push_consumer_t *pc;
    cr_assert_eq(rk_push_consumer_new(&cfg, ok_listener, &consumed, &pc), 0);
    cr_assert_eq(rk_push_consumer_subscribe(pc, topic, "*"), 0);
    cr_assert_eq(rk_push_consumer_start(pc), 0);
    return pc;
}

static void send_n(const char *topic, int n, char *offset_id, size_t len)
{
    for (int i = 0; i < n; i++) {
        rk_message_t m = {.topic = topic, .body = "hello", .body_len = 5};
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

static int64_t committed(const char *group, const char *topic, const char *qid)
{
    rk_cmd_t *r = tk_ask(cl.br, req(RK_REQ_QUERY_CONSUMER_OFFSET, "consumerGroup", group, "topic", topic, "queueId",
                                    qid, NULL));
    int64_t off = -1;
    if (r->code == 0)
        rk_cmd_ext_i64(r, "offset", &off);
    rk_cmd_free(r);
    return off;
}

Test(admin_mqadmin, consumer_connection_status_and_consume_directly)
{
    tk_create_topic(&cl, "CliT", 2);
    rk_push_consumer_t *pc = start("cli_g", "CliT");
    char offset_id[RK_MSGID_MAX * 4];
    send_n("CliT", 4, offset_id, sizeof offset_id);
    int want = 4;
    cr_assert(tk_wait_until(consumed_at_least, &want, 15000));
    const char *id = rk_mqclient_id(rk_push_consumer_client(pc));
    char *out = NULL;

    cr_assert_eq(tk_mqadmin(&cl, &out, "consumerConnection", "-g", "cli_g", NULL), 0, "%s", out);
    char line[400];
    snprintf(line, sizeof line, "001  %s", id);
    cr_assert(strstr(out, line) && strstr(out, "127.0.0.1:") && strstr(out, "CPP"), "%s", out);
    cr_assert(strstr(out, "001  Topic: CliT") && strstr(out, "SubExpression: *"), "%s", out);
    cr_assert(strstr(out, "ConsumeType: CONSUME_PASSIVELY\nMessageModel: CLUSTERING\n"
                          "ConsumeFromWhere: CONSUME_FROM_FIRST_OFFSET"), "%s", out);
    free(out);
    cr_assert_neq(tk_mqadmin(&cl, &out, "consumerConnection", "-g", "nobody_g", NULL), 0);
    cr_assert(strstr(out, "CONSUMER_NOT_ONLINE") || strstr(out, "not online"), "%s", out);
    free(out);

    cr_assert_eq(tk_mqadmin(&cl, &out, "consumerStatus", "-g", "cli_g", NULL), 0, "%s", out);
    cr_assert(strstr(out, line) && strstr(out, "OK") && strstr(out, "Same subscription in the same group"), "%s", out);
    free(out);
    cr_assert_eq(tk_mqadmin(&cl, &out, "consumerStatus", "-g", "cli_g", "-i", id, NULL), 0, "%s", out);
    cr_assert(strstr(out, "#Consumer Properties#") && strstr(out, "PROP_CONSUME_TYPE") &&
              strstr(out, "#Consumer Offset#") && strstr(out, "#Consumer RT&TPS#"), "%s", out);
    cr_assert(strstr(out, "CliT                              broker-t"), "%s", out);
    free(out);

    cr_assert_eq(tk_mqadmin(&cl, &out, "queryMsgById", "-i", offset_id, "-g", "cli_g", "-d", id, NULL), 0, "%s",
                 out);
    cr_assert(strstr(out, "ConsumeMessageDirectlyResult [order=false, autoCommit=true, consumeResult=CR_SUCCESS"),
              "%s", out);
    free(out);
    want = 5;
    cr_assert(tk_wait_until(consumed_at_least, &want, 5000), "the listener ran on the message again");
    rk_push_consumer_free(pc);
}

Test(admin_mqadmin, producer_connection_lists_a_live_producer)
{
    tk_create_topic(&cl, "PcT", 1);
    rk_rclient_t *rc;
    cr_assert_eq(rk_rclient_new(&rc), 0);
    rk_cmd_t *hb = rk_cmd_new(RK_REQ_HEART_BEAT), *r = NULL;
    const char *body = "{\"clientID\":\"127.0.0.1@pcinst\",\"producerDataSet\":[{\"groupName\":\"pc_g\"}]}";
    rk_cmd_set_body(hb, body, strlen(body));
    hb->version = 401;
    cr_assert_eq(rk_rclient_invoke_sync(rc, cl.br, hb, 5000, &r), 0);
    cr_assert_eq(r->code, 0);
    rk_cmd_free(r);
    char *out = NULL;
    cr_assert_eq(tk_mqadmin(&cl, &out, "producerConnection", "-g", "pc_g", "-t", "PcT", NULL), 0, "%s", out);
    cr_assert(strstr(out, "0001  127.0.0.1@pcinst") && strstr(out, "V4_9_4"), "%s", out);
    free(out);
    rk_rclient_free(rc);
}

Test(admin_mqadmin, sub_groups_are_created_and_deleted)
{
    char *out = NULL;
    cr_assert_eq(tk_mqadmin(&cl, &out, "updateSubGroup", "-g", "sub_g", "-c", "TestCluster", "-r", "3", "-s", "false",
                            NULL), 0, "%s", out);
    char want[200];
    snprintf(want, sizeof want, "create subscription group to %s success.", cl.br);
    cr_assert(strstr(out, want) && strstr(out, "\"retryMaxTimes\":3"), "%s", out);
    free(out);
    rk_cmd_t *r = tk_ask(cl.br, req(RK_REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG, NULL));
    cr_assert(memmem(r->body, r->body_len, "\"sub_g\"", 7) != NULL);
    rk_cmd_free(r);
    cr_assert_eq(tk_mqadmin(&cl, &out, "updateSubGroup", "-g", "sub_g", "-b", cl.br, "-r", "many", NULL), 2, "%s",
                 out);
    free(out);

    cr_assert_eq(tk_mqadmin(&cl, &out, "deleteSubGroup", "-g", "sub_g", "-b", cl.br, NULL), 0, "%s", out);
    snprintf(want, sizeof want, "delete subscription group [sub_g] from broker [%s] success.", cl.br);
    cr_assert(strstr(out, want), "%s", out);
    free(out);
    r = tk_ask(cl.br, req(RK_REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG, NULL));
    cr_assert(memmem(r->body, r->body_len, "\"sub_g\"", 7) == NULL);
    rk_cmd_free(r);
}

Test(admin_mqadmin, delete_topic_removes_it_from_the_broker_and_the_name_server)
{
    tk_create_topic(&cl, "GoneT", 2);
    char *out = NULL;
    cr_assert_eq(tk_mqadmin(&cl, &out, "deleteTopic", "-t", "GoneT", "-c", "TestCluster", NULL), 0, "%s", out);
    cr_assert(strstr(out, "delete topic [GoneT] from cluster [TestCluster] success.") &&
              strstr(out, "delete topic [GoneT] from NameServer success."), "%s", out);
    free(out);
    rk_cmd_t *r = tk_ask(cl.ns, req(RK_REQ_GET_ROUTEINFO_BY_TOPIC, "topic", "GoneT", NULL));
    cr_assert_eq(r->code, RK_RESP_TOPIC_NOT_EXIST, "the name server still routes GoneT");
    rk_cmd_free(r);
    r = tk_ask(cl.br, req(RK_REQ_GET_ALL_TOPIC_CONFIG, NULL));
    cr_assert(memmem(r->body, r->body_len, "\"GoneT\"", 7) == NULL);
    rk_cmd_free(r);
    /* the broker's next registration does not bring it back */
    tk_cluster_restart_broker(&cl);
    sleep(1);
    r = tk_ask(cl.ns, req(RK_REQ_GET_ROUTEINFO_BY_TOPIC, "topic", "GoneT", NULL));
    cr_assert_eq(r->code, RK_RESP_TOPIC_NOT_EXIST);
    rk_cmd_free(r);
}

/* The consume queue of OffT has *want entries (the reput thread dispatches after the send's answer). */
static bool dispatched(void *want)
{
    rk_cmd_t *r = tk_ask(cl.br, req(RK_REQ_GET_MAX_OFFSET, "topic", "OffT", "queueId", "0", NULL));
    const char *off = rk_cmd_ext_get(r, "offset");
    bool ok = off != NULL && strcmp(off, want) == 0;
    rk_cmd_free(r);
    return ok;
}

Test(admin_mqadmin, reset_offset_by_time_moves_an_offline_groups_offsets)
{
    tk_create_topic(&cl, "OffT", 1);
    send_n("OffT", 6, NULL, 0);
    rk_cmd_t *r = tk_ask(cl.br, req(RK_REQ_UPDATE_CONSUMER_OFFSET, "consumerGroup", "off_g", "topic", "OffT",
                                    "queueId", "0", "commitOffset", "1", NULL));
    cr_assert_eq(r->code, 0);
    rk_cmd_free(r);
    cr_assert(tk_wait_until(dispatched, "6", 5000), "the 6 messages never reached OffT's consume queue");
    char *out = NULL;
    cr_assert_eq(tk_mqadmin(&cl, &out, "resetOffsetByTime", "-g", "off_g", "-t", "OffT", "-s", "now", NULL), 0, "%s",
                 out);
    cr_assert(strstr(out, "rollback consumer offset by specified group[off_g], topic[OffT], force[true]"), "%s", out);
    cr_assert(strstr(out, "#brokerName") && strstr(out, "broker-t"), "%s", out);
    int64_t now_off = committed("off_g", "OffT", "0");
    cr_assert_eq(now_off, 5, "now: the last message, as RocketMQ's getOffsetInQueueByTime (offset %lld)\n%s",
                 (long long)now_off, out);
    free(out);
    cr_assert_eq(tk_mqadmin(&cl, &out, "resetOffsetByTime", "-g", "off_g", "-t", "OffT", "-s", "0", NULL), 0, "%s",
                 out);
    free(out);
    cr_assert_eq(committed("off_g", "OffT", "0"), 0);
    cr_assert_eq(tk_mqadmin(&cl, &out, "queryCq", "-t", "OffT", "-q", "0", "-i", "4", NULL), 0, "%s", out);
    cr_assert(strstr(out, "Queue data: \nmax: 6, min: 0") && strstr(out, "idx: 4\nConsumeQueueData{physicOffset=") &&
              strstr(out, "idx: 5\n") && !strstr(out, "idx: 6"), "%s", out);
    free(out);
    cr_assert_eq(tk_mqadmin(&cl, &out, "resetOffsetByTime", "-g", "off_g", "-t", "OffT", "-s", "last tuesday", NULL),
                 2, "%s", out);
    free(out);

    /* and its lag per queue for every group */
    cr_assert_eq(tk_mqadmin(&cl, &out, "brokerConsumeStats", "-b", cl.br, NULL), 0, "%s", out);
    cr_assert(strstr(out, "#Group") && strstr(out, "off_g") && strstr(out, "Diff Total: 6"), "%s", out);
    free(out);
}

Test(admin_mqadmin, broker_config_is_shown_and_changed_at_run_time)
{
    char *out = NULL;
    cr_assert_eq(tk_mqadmin(&cl, &out, "getBrokerConfig", "-b", cl.br, NULL), 0, "%s", out);
    char want[200];
    snprintf(want, sizeof want, "============%s============", cl.br);
    cr_assert(strstr(out, want), "%s", out);
    cr_assert(strstr(out, "brokerName                                        =  broker-t"), "%s", out);
    free(out);
    cr_assert_eq(tk_mqadmin(&cl, &out, "updateBrokerConfig", "-c", "TestCluster", "-k", "autoCreateTopicMax", "-v",
                            "7", NULL), 0, "%s", out);
    snprintf(want, sizeof want, "update broker config success, %s", cl.br);
    cr_assert(strstr(out, want), "%s", out);
    free(out);
    cr_assert_eq(tk_mqadmin(&cl, &out, "getBrokerConfig", "-c", "TestCluster", NULL), 0, "%s", out);
    cr_assert(strstr(out, "autoCreateTopicMax                                =  7"), "%s", out);
    free(out);
    cr_assert_neq(tk_mqadmin(&cl, &out, "updateBrokerConfig", "-b", cl.br, "-k", "listenPort", "-v", "1", NULL), 0);
    cr_assert(strstr(out, "listenPort cannot be changed while the broker runs"), "%s", out);
    free(out);
}
