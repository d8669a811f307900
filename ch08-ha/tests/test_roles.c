/* test_roles.c — what each brokerRole answers: SYNC_MASTER's 11 and 12 and
 * that what it acknowledged is on the slave, a slave refusing sends and
 * redirecting pulls, and the metadata a slave copies from its master. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/tk_pair.h"
#include "rk/error.h"
#include "rk/message.h"
#include "rk/request_code.h"
#include "rk/testkit.h"
#include "rk/tk_send.h"

static rk_tk_pair_t p;

static void fini(void) { rk_tk_pair_stop(&p); }

TestSuite(roles, .fini = fini, .timeout = 120);

static int64_t ext_i64(const rk_cmd_t *c, const char *k)
{
    int64_t v = -999;
    rk_cmd_ext_i64(c, k, &v);
    return v;
}

/* VIEW_MESSAGE_BY_ID at the commitlog offset the master's msgId names. */
static int view_on(const char *addr, const char *msg_id)
{
    rk_host_t h;
    int64_t phys;
    cr_assert_eq(rk_msgid_decode(msg_id, &h, &phys), 0);
    rk_cmd_t *req = rk_cmd_new(RK_REQ_VIEW_MESSAGE_BY_ID), *resp = NULL;
    rk_cmd_ext_set_i64(req, "offset", phys);
    cr_assert_eq(rk_rclient_invoke_sync(p.cl, addr, req, 5000, &resp), 0);
    int code = resp->code;
    rk_cmd_free(resp);
    return code;
}

Test(roles, sync_master_without_a_slave_answers_slave_not_available)
{
    rk_tk_pair_init(&p, "brokerRole=SYNC_MASTER\n", NULL);
    rk_tk_broker_start(&p.m);
    rk_cmd_t *resp = rk_tk_send(&p, p.m.addr, "SyncTopic", "hello");
    cr_assert_eq(resp->code, RK_RESP_SLAVE_NOT_AVAILABLE, "got %d %s", resp->code, resp->remark ? resp->remark : "");
    cr_assert_not_null(rk_cmd_ext_get(resp, "msgId"), "11 still carries the msgId");
    rk_cmd_free(resp);
}

Test(roles, sync_master_acks_only_what_the_slave_holds_and_a_stalled_slave_times_out)
{
    rk_tk_pair_init(&p, "brokerRole=SYNC_MASTER\nsyncFlushTimeout=1000\n", "brokerRole=SLAVE\n");
    rk_tk_broker_start(&p.m);
    rk_tk_broker_start(&p.s);
    cr_assert(rk_tk_wait_slave_connected(&p, 10000));
    for (int i = 0; i < 50; i++) {
        rk_cmd_t *resp = rk_tk_send(&p, p.m.addr, "SyncTopic", "acknowledged");
        cr_assert_eq(resp->code, 0, "send %d: %d %s", i, resp->code, resp->remark ? resp->remark : "");
        /* acknowledged means: in the slave's commitlog already */
        cr_assert_eq(view_on(p.s.addr, rk_cmd_ext_get(resp, "msgId")), 0, "message %d is not on the slave", i);
        rk_cmd_free(resp);
    }
    rk_tk_freeze(p.s.pid);
    rk_cmd_t *resp = rk_tk_send(&p, p.m.addr, "SyncTopic", "stalled");
    rk_tk_kill(p.s.pid, SIGCONT);
    cr_assert_eq(resp->code, RK_RESP_FLUSH_SLAVE_TIMEOUT, "got %d %s", resp->code, resp->remark ? resp->remark : "");
    rk_cmd_free(resp);
    /* the master still works once the slave is back */
    resp = rk_tk_send(&p, p.m.addr, "SyncTopic", "after");
    cr_assert_eq(resp->code, 0);
    rk_cmd_free(resp);
}

Test(roles, a_slave_refuses_sends_and_sends_pulls_to_the_master)
{
    rk_tk_pair_init(&p, NULL, "brokerRole=SLAVE\n");
    rk_tk_broker_start(&p.m);
    rk_tk_broker_start(&p.s);
    rk_tk_send_n(&p, "RoleTopic", 5, 100);
    cr_assert(rk_tk_wait_caught_up(&p, 10000));
    rk_cmd_t *resp = rk_tk_send(&p, p.s.addr, "RoleTopic", "to the slave");
    cr_assert_eq(resp->code, RK_RESP_SERVICE_NOT_AVAILABLE, "got %d", resp->code);
    rk_cmd_free(resp);
    cr_assert_eq(rk_tk_max_offset(&p, p.s.addr), rk_tk_max_offset(&p, p.m.addr), "the slave wrote nothing itself");

    rk_cmd_t *req = rk_tk_pull_request(&(rk_tk_pull_spec_t){.topic = "RoleTopic"});
    cr_assert(req != NULL);
    resp = NULL;
    cr_assert_eq(rk_rclient_invoke_sync(p.cl, p.s.addr, req, 5000, &resp), 0);
    cr_assert_eq(resp->code, RK_RESP_PULL_RETRY_IMMEDIATELY, "got %d", resp->code);
    cr_assert_eq(ext_i64(resp, "suggestWhichBrokerId"), 0);
    cr_assert_eq(ext_i64(resp, "nextBeginOffset"), 0);
    cr_assert_eq(resp->body_len, 0);
    rk_cmd_free(resp);
}

static bool offset_on_slave(void *arg)
{
    (void)arg;
    rk_cmd_t *req = rk_cmd_new(RK_REQ_QUERY_CONSUMER_OFFSET), *resp = NULL;
    rk_cmd_ext_set(req, "consumerGroup", "copied-group");
    rk_cmd_ext_set(req, "topic", "MetaTopic");
    rk_cmd_ext_set(req, "queueId", "1");
    bool ok = rk_rclient_invoke_sync(p.cl, p.s.addr, req, 3000, &resp) == RK_OK && resp->code == 0 &&
              ext_i64(resp, "offset") == 3;
    rk_cmd_free(resp);
    return ok;
}

static bool topic_on_slave(void *arg)
{
    (void)arg;
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_ALL_TOPIC_CONFIG), *resp = NULL;
    bool ok = rk_rclient_invoke_sync(p.cl, p.s.addr, req, 3000, &resp) == RK_OK && resp->code == 0 &&
              resp->body_len > 0 && memmem(resp->body, resp->body_len, "\"MetaTopic\"", 11) != NULL;
    rk_cmd_free(resp);
    return ok;
}

static bool group_on_slave(void *arg)
{
    (void)arg;
    rk_cmd_t *req = rk_cmd_new(201), *resp = NULL;     /* GET_ALL_SUBSCRIPTIONGROUP_CONFIG */
    bool ok = rk_rclient_invoke_sync(p.cl, p.s.addr, req, 3000, &resp) == RK_OK && resp->code == 0 &&
              resp->body_len > 0 && memmem(resp->body, resp->body_len, "\"copied-group\"", 14) != NULL;
    rk_cmd_free(resp);
    return ok;
}

static bool wait_for(bool (*cond)(void *), int ms)
{
    for (int i = 0; i < ms / 50; i++) {
        if (cond(NULL))
            return true;
        usleep(50000);
    }
    return cond(NULL);
}

Test(roles, a_slave_copies_topics_and_consumer_offsets_from_its_master)
{
    rk_tk_pair_init(&p, NULL, "brokerRole=SLAVE\n");
    rk_tk_broker_start(&p.m);
    rk_tk_broker_start(&p.s);
    rk_tk_send_n(&p, "MetaTopic", 8, 10);
    rk_cmd_t *req = rk_cmd_new(RK_REQ_UPDATE_CONSUMER_OFFSET), *resp = NULL;
    rk_cmd_ext_set(req, "consumerGroup", "copied-group");
    rk_cmd_ext_set(req, "topic", "MetaTopic");
    rk_cmd_ext_set(req, "queueId", "1");
    rk_cmd_ext_set(req, "commitOffset", "3");
    cr_assert_eq(rk_rclient_invoke_sync(p.cl, p.m.addr, req, 3000, &resp), 0);
    cr_assert_eq(resp->code, 0);
    rk_cmd_free(resp);
    /* a consumer's heartbeat creates its group on the master */
    const char *hb = "{\"clientID\":\"127.0.0.1@1\",\"consumerDataSet\":[{\"groupName\":\"copied-group\","
                     "\"consumeType\":\"CONSUME_PASSIVELY\",\"messageModel\":\"CLUSTERING\","
                     "\"consumeFromWhere\":\"CONSUME_FROM_LAST_OFFSET\",\"subscriptionDataSet\":[{\"topic\":"
                     "\"MetaTopic\",\"subString\":\"*\",\"subVersion\":1}]}],\"producerDataSet\":[]}";
    req = rk_cmd_new(RK_REQ_HEART_BEAT);
    resp = NULL;
    rk_cmd_set_body(req, hb, strlen(hb));
    cr_assert_eq(rk_rclient_invoke_sync(p.cl, p.m.addr, req, 3000, &resp), 0);
    cr_assert_eq(resp->code, 0);
    rk_cmd_free(resp);
    cr_assert(wait_for(group_on_slave, 15000), "the group never reached the slave (see %s)", p.s.log);
    cr_assert(wait_for(topic_on_slave, 15000), "the topic never reached the slave (see %s)", p.s.log);
    cr_assert(wait_for(offset_on_slave, 15000), "the offset never reached the slave (see %s)", p.s.log);
}

Test(roles, a_slave_with_the_masters_broker_id_does_not_start)
{
    rk_tk_pair_init(&p, NULL, "brokerRole=SLAVE\nbrokerId=0\n");
    char *argv[] = {(char *)rk_tk_bin("mqbroker"), "-c", p.s.conf, NULL};
    char *out = NULL;
    int st = rk_tk_run(argv, &out, 20000);
    cr_assert_neq(st, 0, "a SLAVE with brokerId 0 started");
    cr_assert(out != NULL && strstr(out, "brokerId > 0") != NULL, "no reason given: %s", out ? out : "");
    cr_assert(strstr(out, "Sanitizer") == NULL, "%s", out);
    free(out);
}

Test(roles, a_slave_too_far_behind_counts_as_unavailable)
{
    rk_tk_pair_init(&p, "brokerRole=SYNC_MASTER\nsyncFlushTimeout=300\nhaSlaveFallbehindMax=4096\n", "brokerRole=SLAVE\n");
    rk_tk_broker_start(&p.m);
    rk_tk_broker_start(&p.s);
    cr_assert(rk_tk_wait_slave_connected(&p, 10000));
    rk_cmd_t *resp = rk_tk_send(&p, p.m.addr, "LagTopic", "in sync");
    cr_assert_eq(resp->code, 0);
    rk_cmd_free(resp);
    rk_tk_freeze(p.s.pid);
    char body[1001];
    memset(body, 'x', 1000);
    body[1000] = '\0';
    int code = -1, n = 0;
    for (; n < 20 && code != RK_RESP_SLAVE_NOT_AVAILABLE; n++) {
        resp = rk_tk_send(&p, p.m.addr, "LagTopic", body);
        code = resp->code;
        cr_assert(code == RK_RESP_FLUSH_SLAVE_TIMEOUT || code == RK_RESP_SLAVE_NOT_AVAILABLE, "got %d", code);
        rk_cmd_free(resp);
    }
    rk_tk_kill(p.s.pid, SIGCONT);
    cr_assert_eq(code, RK_RESP_SLAVE_NOT_AVAILABLE, "still waiting for a slave %d sends behind", n);
    cr_assert_gt(n, 1, "the first stalled send waits (12) before the lag passes 4096 bytes");
}

typedef struct {
    _Atomic int done, ok;
    char ids[200][64];
} inflight_t;

typedef struct {
    inflight_t *f;
    int i;
} one_t;

static void on_sent(void *arg, int status, rk_cmd_t *resp)
{
    one_t *o = arg;
    if (status == RK_OK && resp->code == 0) {
        snprintf(o->f->ids[o->i], sizeof o->f->ids[0], "%s", rk_cmd_ext_get(resp, "msgId"));
        atomic_fetch_add(&o->f->ok, 1);
    }
    rk_cmd_free(resp);
    atomic_fetch_add(&o->f->done, 1);
    free(o);
}

Test(roles, sync_master_answers_many_sends_in_flight_together)
{
    rk_tk_pair_init(&p, "brokerRole=SYNC_MASTER\n", "brokerRole=SLAVE\n");
    rk_tk_broker_start(&p.m);
    rk_tk_broker_start(&p.s);
    cr_assert(rk_tk_wait_slave_connected(&p, 10000));
    rk_cmd_t *resp = rk_tk_send(&p, p.m.addr, "BurstTopic", "create the topic");
    cr_assert_eq(resp->code, 0);
    rk_cmd_free(resp);
    static inflight_t f;
    for (int i = 0; i < 200; i++) {
        rk_cmd_t *req = rk_tk_send_request(
            &(rk_tk_send_spec_t){.topic = "BurstTopic", .queue_id = i % 4, .born = "0", .last = 'h', .body = "burst"});
        cr_assert(req != NULL);
        one_t *o = malloc(sizeof *o);
        o->f = &f;
        o->i = i;
        cr_assert_eq(rk_rclient_invoke_async(p.cl, p.m.addr, req, 10000, on_sent, o), 0);
    }
    for (int i = 0; i < 1000 && atomic_load(&f.done) < 200; i++)
        usleep(10000);
    cr_assert_eq(atomic_load(&f.ok), 200, "only %d of 200 concurrent sends were acknowledged", atomic_load(&f.ok));
    for (int i = 0; i < 200; i++)
        cr_assert_eq(view_on(p.s.addr, f.ids[i]), 0, "acknowledged message %d is not on the slave", i);
}
