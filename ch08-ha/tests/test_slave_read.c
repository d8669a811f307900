/* test_slave_read.c — a consumer reads from the slave when the master is
 * gone (RocketMQ's findBrokerAddressInSubscribe / suggestWhichBrokerId):
 * real processes on loopback (name server, ASYNC_MASTER + SLAVE with
 * slaveReadEnable), the master killed with kill -9; plus the broker-choice
 * function on its own. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/tk_pair.h"
#include "rk/consumer.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/request_code.h"
#include "rk/testkit.h"
#include "rk/tk_send.h"
#include "rk/topic_route.h"

/* ---- the choice of a broker in a group (no processes) ---- */

static rk_topic_route_t *route_of(const char *addrs)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"brokerDatas\":[{\"brokerAddrs\":%s,\"brokerName\":\"b\",\"cluster\":\"c\"}],"
             "\"queueDatas\":[{\"brokerName\":\"b\",\"perm\":6,\"readQueueNums\":1,\"writeQueueNums\":1}]}",
             addrs);
    rk_topic_route_t *r = NULL;
    cr_assert_eq(rk_topic_route_parse(json, strlen(json), &r), 0);
    return r;
}

Test(slave_read, the_broker_choice_is_rocketmqs_find_broker_address_in_subscribe)
{
    char a[RK_ADDR_MAX];
    bool slave = true;
    rk_topic_route_t *r = route_of("{\"0\":\"m:1\",\"2\":\"s2:1\",\"1\":\"s1:1\"}");
    const rk_route_broker_t *b = rk_topic_route_broker(r, "b");
    cr_assert(rk_route_broker_find(b, 0, false, a, sizeof a, &slave));
    cr_assert_str_eq(a, "m:1");
    cr_assert(!slave);
    cr_assert(rk_route_broker_find(b, 1, true, a, sizeof a, &slave));          /* the suggested slave */
    cr_assert_str_eq(a, "s1:1");
    cr_assert(slave);
    cr_assert(rk_route_broker_find(b, 2, true, a, sizeof a, &slave));
    cr_assert_str_eq(a, "s2:1");
    cr_assert(rk_route_broker_find(b, 1, false, a, sizeof a, &slave));
    cr_assert_str_eq(a, "s1:1");
    rk_topic_route_release(r);

    /* the master is gone: a suggested slave that is gone too -> the next id, else the lowest id */
    r = route_of("{\"3\":\"s3:1\",\"2\":\"s2:1\"}");
    b = rk_topic_route_broker(r, "b");
    cr_assert(!rk_route_broker_find(b, 0, true, a, sizeof a, &slave), "only the master was asked for");
    cr_assert(rk_route_broker_find(b, 0, false, a, sizeof a, &slave));
    cr_assert_str_eq(a, "s2:1");
    cr_assert(slave);
    cr_assert(rk_route_broker_find(b, 1, false, a, sizeof a, &slave));        /* 1 gone: 2 (= 1 + 1) */
    cr_assert_str_eq(a, "s2:1");
    cr_assert(rk_route_broker_find(b, 2, true, a, sizeof a, &slave));
    cr_assert_str_eq(a, "s2:1");
    cr_assert(!rk_route_broker_find(b, 7, true, a, sizeof a, &slave));
    cr_assert(rk_route_broker_find(b, 7, false, a, sizeof a, &slave));
    cr_assert_str_eq(a, "s2:1");
    rk_topic_route_release(r);

    r = route_of("{}");
    b = rk_topic_route_broker(r, "b");
    cr_assert(!rk_route_broker_find(b, 0, false, a, sizeof a, &slave));
    cr_assert(!rk_route_broker_find(NULL, 0, false, a, sizeof a, &slave));
    rk_topic_route_release(r);
}

/* ---- real processes ---- */

static rk_tk_pair_t p;

static void fini(void) { rk_tk_pair_stop(&p); }

#define TOPIC "SlaveReadTopic"
#define MAXOFF 4096

typedef struct seen {
    _Atomic int distinct;
    _Atomic bool gate_closed;           /* hold messages at offset >= hold_from */
    int64_t hold_from;
    _Atomic bool stop;
    _Atomic unsigned char got[MAXOFF];
} seen_t;

static rk_consume_result_t on_msgs(void *arg, const rk_msg_ext_t *m, size_t n)
{
    seen_t *s = arg;
    for (size_t i = 0; i < n; i++) {
        if (m[i].queue_id != 0 || m[i].queue_offset < 0 || m[i].queue_offset >= MAXOFF)
            continue;
        while (atomic_load(&s->gate_closed) && m[i].queue_offset >= s->hold_from && !atomic_load(&s->stop))
            usleep(10000);
        if (atomic_exchange(&s->got[m[i].queue_offset], 1) == 0)
            atomic_fetch_add(&s->distinct, 1);
    }
    return RK_CONSUME_SUCCESS;
}

static bool wait_distinct(seen_t *s, int n, int ms)
{
    for (int i = 0; i < ms / 50 && atomic_load(&s->distinct) < n; i++)
        usleep(50000);
    return atomic_load(&s->distinct) >= n;
}

static int64_t max_offset_on(const char *addr)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_MAX_OFFSET), *resp = NULL;
    rk_cmd_ext_set(req, "topic", TOPIC);
    rk_cmd_ext_set_i64(req, "queueId", 0);
    int64_t v = -1;
    if (rk_rclient_invoke_sync(p.cl, addr, req, 3000, &resp) == RK_OK && resp->code == 0)
        rk_cmd_ext_i64(resp, "offset", &v);
    rk_cmd_free(resp);
    return v;
}

/* One pull of queue 0 from offset 0 on addr: the response code (-1 when
 * unreachable) and its suggestWhichBrokerId. */
static int pull_code(const char *addr, int64_t *suggest)
{
    rk_cmd_t *req = rk_tk_pull_request(&(rk_tk_pull_spec_t){.topic = TOPIC}), *resp = NULL;
    cr_assert(req != NULL);
    if (rk_rclient_invoke_sync(p.cl, addr, req, 5000, &resp) != RK_OK)
        return -1;
    int code = resp->code;
    *suggest = -1;
    rk_cmd_ext_i64(resp, "suggestWhichBrokerId", suggest);
    rk_cmd_free(resp);
    return code;
}

/* Waits until the slave has copied TOPIC from its master (metadata sync). */
static bool wait_slave_has_topic(int ms)
{
    int64_t sug;
    for (int i = 0; i < ms / 50; i++) {
        int code = pull_code(p.s.addr, &sug);
        if (code >= 0 && code != RK_RESP_TOPIC_NOT_EXIST)
            return true;
        usleep(50000);
    }
    return false;
}

/* Waits until the name server's route of TOPIC names no master for the
 * group, only the slave. */
static bool wait_master_dropped(int ms)
{
    for (int i = 0; i < ms / 100; i++) {
        rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_ROUTEINFO_BY_TOPIC), *resp = NULL;
        rk_cmd_ext_set(req, "topic", TOPIC);
        bool done = false;
        if (rk_rclient_invoke_sync(p.cl, p.ns, req, 3000, &resp) == RK_OK && resp->code == 0) {
            rk_topic_route_t *r = NULL;
            if (rk_topic_route_parse((const char *)resp->body, resp->body_len, &r) == RK_OK) {
                const rk_route_broker_t *b = rk_topic_route_broker(r, "broker-ha");
                done = b != NULL && b->master[0] == '\0' && strcmp(b->any, p.s.addr) == 0;
                rk_topic_route_release(r);
            }
        }
        rk_cmd_free(resp);
        if (done)
            return true;
        usleep(100000);
    }
    return false;
}

static rk_push_consumer_t *consumer(const char *group, seen_t *s)
{
    char offdir[300];
    snprintf(offdir, sizeof offdir, "%s/offsets", p.dir);
    rk_push_consumer_config_t cc = {.namesrv = p.ns, .group = group, .instance_name = group,
                                    .from = RK_CONSUME_FROM_FIRST, .offset_dir = offdir, .rebalance_ms = 1000};
    rk_push_consumer_t *c = NULL;
    cr_assert_eq(rk_push_consumer_new(&cc, on_msgs, s, &c), 0);
    cr_assert_eq(rk_push_consumer_subscribe(c, TOPIC, "*"), 0);
    cr_assert_eq(rk_push_consumer_start(c), 0);
    return c;
}

TestSuite(slave_read_pair, .fini = fini, .timeout = 180);

/* N1 messages consumed from the master by a running consumer; then N2 more
 * (more than it caches: its listener is held, so it stops pulling part way);
 * kill -9 of the master; the running consumer must fetch the rest from the
 * slave, and a new group started after the name server dropped the master
 * must consume everything from the slave. */
Test(slave_read_pair, after_kill_9_of_the_master_consumers_read_everything_from_the_slave)
{
    rk_log_set_level(RK_LOG_ERROR);
    rk_tk_pair_init(&p, "brokerRole=ASYNC_MASTER", "brokerRole=SLAVE\nslaveReadEnable=true");
    rk_tk_broker_start(&p.m);
    rk_tk_broker_start(&p.s);
    cr_assert(rk_tk_wait_slave_connected(&p, 10000));
    const int n1 = 20, n2 = 1400, total = n1 + n2;   /* the consumer caches at most ~1000 per queue */
    rk_tk_send_n(&p, TOPIC, n1, 100);

    static seen_t running, fresh;
    running.hold_from = n1;
    atomic_store(&running.gate_closed, true);
    rk_push_consumer_t *c1 = consumer("sr-running", &running);
    cr_assert(wait_distinct(&running, n1, 20000), "the running consumer got %d of %d from the master",
              atomic_load(&running.distinct), n1);

    rk_tk_send_n(&p, TOPIC, n2, 100);
    cr_assert(rk_tk_wait_caught_up(&p, 20000), "the slave did not catch up");
    for (int i = 0; i < 200 && max_offset_on(p.s.addr) < total; i++)
        usleep(50000);
    cr_assert_eq(max_offset_on(p.s.addr), total, "the slave's queue does not end at %d", total);
    cr_assert(wait_slave_has_topic(10000), "the slave never copied the topic");
    usleep(300000);                     /* the running consumer fills its cache and pauses */

    rk_tk_kill(p.m.pid, SIGKILL);
    rk_tk_wait(p.m.pid, 5000);
    p.m.pid = -1;
    cr_assert(wait_master_dropped(20000), "the name server still names the dead master");

    atomic_store(&running.gate_closed, false);
    bool all = wait_distinct(&running, total, 60000);
    cr_assert(all, "the running consumer got %d of %d after the master died", atomic_load(&running.distinct),
              total);

    rk_push_consumer_t *c2 = consumer("sr-fresh", &fresh);
    all = wait_distinct(&fresh, total, 60000);
    atomic_store(&running.stop, true);
    atomic_store(&fresh.stop, true);
    rk_push_consumer_free(c2);
    rk_push_consumer_free(c1);
    cr_assert(all, "a new group got %d of %d from the slave", atomic_load(&fresh.distinct), total);
}

/* The rule RocketMQ keeps: a slave without slaveReadEnable does not serve
 * a pull even when its master is gone; it answers PULL_RETRY_IMMEDIATELY
 * with suggestWhichBrokerId 0. */
Test(slave_read_pair, a_slave_without_slave_read_enable_refuses_pulls_even_without_its_master)
{
    rk_log_set_level(RK_LOG_ERROR);
    rk_tk_pair_init(&p, "brokerRole=ASYNC_MASTER", "brokerRole=SLAVE");
    rk_tk_broker_start(&p.m);
    rk_tk_broker_start(&p.s);
    cr_assert(rk_tk_wait_slave_connected(&p, 10000));
    rk_tk_send_n(&p, TOPIC, 5, 100);
    cr_assert(rk_tk_wait_caught_up(&p, 20000));
    for (int i = 0; i < 200 && max_offset_on(p.s.addr) < 5; i++)
        usleep(50000);
    cr_assert(wait_slave_has_topic(10000), "the slave never copied the topic");
    rk_tk_kill(p.m.pid, SIGKILL);
    rk_tk_wait(p.m.pid, 5000);
    p.m.pid = -1;
    cr_assert(wait_master_dropped(20000));
    int64_t sug = -1;
    cr_assert_eq(pull_code(p.s.addr, &sug), RK_RESP_PULL_RETRY_IMMEDIATELY);
    cr_assert_eq(sug, 0);
}
