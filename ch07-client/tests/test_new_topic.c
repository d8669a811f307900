/* test_new_topic.c — a consumer that starts before its topic exists (issue 9
 * item 20: examples/hello.c failed 1 run in 9 on a brand-new topic). It must
 * look the route up again within a second or two, not at the next 20 s
 * rebalance. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "rk/consumer.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/producer.h"
#include "rk/testkit.h"

static tk_cluster_t cl;

static void setup(void)
{
    rk_log_set_level(RK_LOG_ERROR);     /* start-up INFO lines would make a passing run noisy */
    tk_cluster_start(&cl, NULL);
}

static void teardown(void)
{
    tk_cluster_stop(&cl);
    rk_log_set_level(RK_LOG_INFO);
}

TestSuite(new_topic, .init = setup, .fini = teardown, .timeout = 60);

static atomic_int received;

static rk_consume_result_t on_msgs(void *arg, const rk_msg_ext_t *msgs, size_t n)
{
    (void)arg;
    (void)msgs;
    atomic_fetch_add(&received, (int)n);
    return RK_CONSUME_SUCCESS;
}

static bool got_one(void *arg)
{
    (void)arg;
    return atomic_load(&received) >= 1;
}

static void send_one(const char *topic)
{
    rk_producer_config_t pcfg = {.namesrv = cl.ns, .group = "pg"};
    rk_producer_t *p;
    cr_assert_eq(rk_producer_new(&pcfg, &p), 0);
    rk_message_t m = {.topic = topic, .body = "hello", .body_len = 5};
    rk_send_result_t r;
    cr_assert_eq(rk_producer_send(p, &m, &r), 0, "%s", r.error);
    rk_producer_free(p);
}

static rk_push_consumer_t *start_consumer(const char *group, const char *topic)
{
    /* the default rebalance period (20 s): the wait below is well inside it */
    rk_push_consumer_config_t cfg = {.namesrv = cl.ns, .group = group, .from = RK_CONSUME_FROM_FIRST};
    rk_push_consumer_t *pc;
    cr_assert_eq(rk_push_consumer_new(&cfg, on_msgs, NULL, &pc), 0);
    cr_assert_eq(rk_push_consumer_subscribe(pc, topic, "*"), 0);
    cr_assert_eq(rk_push_consumer_start(pc), 0);
    return pc;
}

Test(new_topic, a_consumer_started_before_its_topic_exists_gets_the_first_message_soon)
{
    atomic_store(&received, 0);
    rk_push_consumer_t *pc = start_consumer("gnew", "BrandNew");
    tk_create_topic(&cl, "BrandNew", 2);
    send_one("BrandNew");
    bool ok = tk_wait_until(got_one, NULL, 8000);
    rk_push_consumer_free(pc);
    cr_assert(ok, "the consumer did not find the new topic's route within 8 s");
}

Test(new_topic, a_topic_auto_created_by_a_send_reaches_a_consumer_already_waiting)
{
    atomic_store(&received, 0);
    rk_push_consumer_t *pc = start_consumer("gauto", "AutoNew");
    send_one("AutoNew");                /* the broker creates it from TBW102 and registers it */
    bool ok = tk_wait_until(got_one, NULL, 8000);
    rk_push_consumer_free(pc);
    cr_assert(ok, "the consumer did not find the auto-created topic within 8 s");
}
