/* test_hostile_meta.c — a slave's metadata copy is validated whole before
 * anything is applied. The "master" here is a remoting server in this test
 * process, registered with the name server as brokerId 0: first it answers
 * GET_ALL_TOPIC_CONFIG / GET_ALL_CONSUMER_OFFSET / GET_ALL_SUBSCRIPTIONGROUP_CONFIG
 * with one good entry beside a bad one (nothing may land), then with the
 * good entries alone (they must land: the copy itself works). */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/tk_pair.h"
#include "rk/brokerreg.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/remoting_server.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

static rk_tk_pair_t p;
static _Atomic int good, asked;

static void fini(void) { rk_tk_pair_stop(&p); }

TestSuite(hostile_meta, .fini = fini, .timeout = 60);

static const char *const bad_bodies[3] = {
    "{\"topicConfigTable\":{\"GoodTopic\":{\"readQueueNums\":4,\"writeQueueNums\":4,\"perm\":6},"
    "\"bad topic!\":{\"readQueueNums\":4,\"writeQueueNums\":4,\"perm\":6}}}",
    "{\"offsetTable\":{\"GoodTopic@good-group\":{0:5},\"GoodTopic@bad-group\":{0:-7}}}",
    "{\"subscriptionGroupTable\":{\"good-group\":{\"groupName\":\"good-group\"},"
    "\"bad-group\":{\"groupName\":\"bad-group\",\"retryQueueNums\":99999999}}}",
};
static const char *const good_bodies[3] = {
    "{\"topicConfigTable\":{\"GoodTopic\":{\"readQueueNums\":4,\"writeQueueNums\":4,\"perm\":6}}}",
    "{\"offsetTable\":{\"GoodTopic@good-group\":{0:5}}}",
    "{\"subscriptionGroupTable\":{\"good-group\":{\"groupName\":\"good-group\"}}}",
};

static void answer(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    int which = (int)(intptr_t)ctx;
    const char *body = atomic_load(&good) ? good_bodies[which] : bad_bodies[which];
    atomic_fetch_add(&asked, 1);
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    rk_cmd_set_body(resp, body, strlen(body));
    rk_reply_send(reply, resp);
}

static char *reg_body(void *ctx)
{
    (void)ctx;
    return strdup("{\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":1,\"timestamp\":1},"
                  "\"topicConfigTable\":{}},\"filterServerList\":[]}");
}

static bool slave_has(int code, const char *needle)
{
    rk_cmd_t *req = rk_cmd_new(code), *resp = NULL;
    bool ok = rk_rclient_invoke_sync(p.cl, p.s.addr, req, 3000, &resp) == RK_OK && resp->code == 0 &&
              resp->body_len > 0 && memmem(resp->body, resp->body_len, needle, strlen(needle)) != NULL;
    rk_cmd_free(resp);
    return ok;
}

static int64_t slave_offset(void)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_QUERY_CONSUMER_OFFSET), *resp = NULL;
    rk_cmd_ext_set(req, "consumerGroup", "good-group");
    rk_cmd_ext_set(req, "topic", "GoodTopic");
    rk_cmd_ext_set(req, "queueId", "0");
    int64_t off = -1;
    if (rk_rclient_invoke_sync(p.cl, p.s.addr, req, 3000, &resp) == RK_OK && resp->code == 0)
        rk_cmd_ext_i64(resp, "offset", &off);
    rk_cmd_free(resp);
    return off;
}

Test(hostile_meta, a_bad_answer_changes_nothing_a_good_one_lands)
{
    rk_log_set_level(RK_LOG_ERROR);     /* the fake master runs in this process */
    rk_tk_pair_init(&p, NULL, "brokerRole=SLAVE\n");
    int port = rk_tk_free_port();
    rk_rserver_config_t sc = {.host = "127.0.0.1", .port = port, .name = "fake-master"};
    rk_rserver_t *srv = NULL;
    cr_assert_eq(rk_rserver_new(&sc, &srv), 0);
    cr_assert_eq(rk_rserver_register(srv, RK_REQ_GET_ALL_TOPIC_CONFIG, answer, (void *)(intptr_t)0, RK_PROC_INLINE), 0);
    cr_assert_eq(rk_rserver_register(srv, 43, answer, (void *)(intptr_t)1, RK_PROC_INLINE), 0);
    cr_assert_eq(rk_rserver_register(srv, 201, answer, (void *)(intptr_t)2, RK_PROC_INLINE), 0);
    char err[200] = "", addr[32];
    cr_assert_eq(rk_rserver_start(srv, err, sizeof err), 0, "%s", err);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    rk_brokerreg_config_t rc = {.namesrv_addrs = p.ns, .cluster_name = "HaCluster", .broker_name = "broker-ha",
                                .broker_addr = addr, .broker_id = 0};
    rk_brokerreg_t *reg = NULL;
    cr_assert_eq(rk_brokerreg_start(&rc, reg_body, NULL, &reg), 0);
    rk_tk_broker_start(&p.s);

    for (int i = 0; i < 300 && atomic_load(&asked) < 6; i++)   /* two rounds of three */
        usleep(20000);
    cr_assert_geq(atomic_load(&asked), 6, "the slave never asked the fake master (see %s)", p.s.log);
    usleep(300000);
    cr_assert(!slave_has(RK_REQ_GET_ALL_TOPIC_CONFIG, "GoodTopic"), "a topic from a bad answer was applied");
    cr_assert(!slave_has(201, "good-group"), "a group from a bad answer was applied");
    cr_assert_neq(slave_offset(), 5, "an offset from a bad answer was applied");

    atomic_store(&good, 1);
    bool landed = false;
    for (int i = 0; i < 300 && !landed; i++) {
        landed = slave_has(RK_REQ_GET_ALL_TOPIC_CONFIG, "GoodTopic") && slave_has(201, "good-group") &&
                 slave_offset() == 5;
        if (!landed)
            usleep(50000);
    }
    cr_assert(landed, "the good answers never landed on the slave (see %s)", p.s.log);
    rk_tk_broker_stop(&p.s);
    rk_brokerreg_stop(reg);
    rk_rserver_free(srv);
}
