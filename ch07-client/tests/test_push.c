/* test_push.c — push consumers against real mqnamesrv and mqbroker
 * processes: groups, rebalance, ordered and broadcasting consumption. */
#include <criterion/criterion.h>
#include <inttypes.h>
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
#include "rk/producer.h"

#define MAXN 2000

static tk_cluster_t cl;
static rk_producer_t *prod;

static void setup(void)
{
    tk_cluster_start(&cl, NULL);
    rk_producer_config_t pc = {.namesrv = cl.ns, .group = "pg"};
    cr_assert_eq(rk_producer_new(&pc, &prod), 0);
}

static void teardown(void)
{
    rk_producer_free(prod);
    tk_cluster_stop(&cl);
}

TestSuite(push, .init = setup, .fini = teardown, .timeout = 90);

/* What one consumer received: per message number, how often; and per key
 * the last sequence number, to check order. */
typedef struct sink {
    uv_mutex_t mu;
    int count[MAXN];
    int distinct, total;
    int last_seq[8];
    bool out_of_order;
    int fail_first;                     /* answer LATER to the first n calls */
} sink_t;

static void sink_init(sink_t *s)
{
    memset(s, 0, sizeof *s);
    uv_mutex_init(&s->mu);
    for (int i = 0; i < 8; i++)
        s->last_seq[i] = -1;
}

/* Bodies are "n:<number>" or "k<key>:<seq>:<number>". */
static rk_consume_result_t on_msgs(void *arg, const rk_msg_ext_t *msgs, size_t n)
{
    sink_t *s = arg;
    uv_mutex_lock(&s->mu);
    if (s->fail_first > 0) {
        s->fail_first--;
        uv_mutex_unlock(&s->mu);
        return RK_CONSUME_LATER;
    }
    for (size_t i = 0; i < n; i++) {
        char body[64];
        snprintf(body, sizeof body, "%.*s", (int)msgs[i].body_len, (const char *)msgs[i].body);
        int num;
        if (body[0] == 'k') {
            int key = body[1] - '0', seq = atoi(strchr(body, ':') + 1);
            if (seq != s->last_seq[key] + 1 && seq > s->last_seq[key])
                s->out_of_order = true;
            if (seq > s->last_seq[key])
                s->last_seq[key] = seq;
            num = atoi(strrchr(body, ':') + 1);
        } else {
            num = atoi(body + 2);
        }
        if (num >= 0 && num < MAXN) {
            if (s->count[num]++ == 0)
                s->distinct++;
            s->total++;
        }
    }
    uv_mutex_unlock(&s->mu);
    return RK_CONSUME_SUCCESS;
}

static int distinct_of(sink_t *s)
{
    uv_mutex_lock(&s->mu);
    int d = s->distinct;
    uv_mutex_unlock(&s->mu);
    return d;
}

typedef struct want {
    sink_t **sinks;
    int nsinks, n;
} want_t;

/* Every number below n was received by one of the sinks. */
static bool union_complete(void *arg)
{
    want_t *w = arg;
    for (int i = 0; i < w->n; i++) {
        bool got = false;
        for (int k = 0; k < w->nsinks && !got; k++) {
            uv_mutex_lock(&w->sinks[k]->mu);
            got = w->sinks[k]->count[i] > 0;
            uv_mutex_unlock(&w->sinks[k]->mu);
        }
        if (!got)
            return false;
    }
    return true;
}

static void send_range(const char *topic, int from, int to)
{
    for (int i = from; i < to; i++) {
        char body[32];
        snprintf(body, sizeof body, "n:%d", i);
        rk_message_t m = {.topic = topic, .tags = i % 2 ? "odd" : "even", .body = body, .body_len = strlen(body)};
        rk_send_result_t r;
        cr_assert_eq(rk_producer_send(prod, &m, &r), 0, "%s", r.error);
    }
}

static rk_push_consumer_t *consumer(const char *group, const char *instance, const char *topic, const char *expr,
                                    sink_t *s, bool orderly, rk_message_model_t model)
{
    rk_push_consumer_config_t cfg = {.namesrv = cl.ns, .group = group, .instance_name = instance,
                                     .from = RK_CONSUME_FROM_FIRST, .orderly = orderly, .model = model,
                                     .rebalance_ms = 1000, .persist_ms = 200, .offset_dir = cl.dir};
    rk_push_consumer_t *pc;
    cr_assert_eq(rk_push_consumer_new(&cfg, on_msgs, s, &pc), 0);
    cr_assert_eq(rk_push_consumer_subscribe(pc, topic, expr), 0);
    cr_assert_eq(rk_push_consumer_start(pc), 0);
    return pc;
}

Test(push, two_groups_each_get_every_message_and_tags_filter)
{
    tk_create_topic(&cl, "TwoG", 4);
    sink_t a, b, odd;
    sink_init(&a);
    sink_init(&b);
    sink_init(&odd);
    rk_push_consumer_t *ca = consumer("ga", "a", "TwoG", "*", &a, false, RK_CLUSTERING);
    rk_push_consumer_t *cb = consumer("gb", "b", "TwoG", "*", &b, false, RK_CLUSTERING);
    rk_push_consumer_t *co = consumer("godd", "o", "TwoG", "odd", &odd, false, RK_CLUSTERING);
    send_range("TwoG", 0, 200);
    sink_t *sa[] = {&a}, *sb[] = {&b};
    want_t wa = {sa, 1, 200}, wb = {sb, 1, 200};
    cr_assert(tk_wait_until(union_complete, &wa, 15000), "group ga got %d of 200", distinct_of(&a));
    cr_assert(tk_wait_until(union_complete, &wb, 15000), "group gb got %d of 200", distinct_of(&b));
    usleep(300000);
    cr_assert_eq(distinct_of(&odd), 100, "the odd subscription gets only odd tags (got %d)", distinct_of(&odd));
    for (int i = 0; i < 200; i += 2)
        cr_assert_eq(odd.count[i], 0, "even message %d reached the odd subscriber", i);
    rk_push_consumer_free(ca);
    rk_push_consumer_free(cb);
    rk_push_consumer_free(co);
}

static rk_push_consumer_t *members[3];

static bool split_done(void *arg)
{
    int want = *(int *)arg, total = 0;
    for (int i = 0; i < 3; i++) {
        if (members[i] == NULL)
            continue;
        rk_mq_t *qs;
        size_t n;
        if (rk_push_consumer_assigned(members[i], &qs, &n) != RK_OK)
            return false;
        int mine = 0;
        for (size_t k = 0; k < n; k++)
            mine += strcmp(qs[k].topic, "Split") == 0;    /* not the group's retry queue */
        free(qs);
        if (mine == 0)
            return false;
        total += mine;
    }
    return total == want;
}

Test(push, three_members_split_queues_and_rebalance_when_one_leaves_without_loss)
{
    tk_create_topic(&cl, "Split", 8);
    static sink_t s[3];
    sink_t *all[3];
    const char *names[] = {"m0", "m1", "m2"};
    for (int i = 0; i < 3; i++) {
        sink_init(&s[i]);
        all[i] = &s[i];
        members[i] = consumer("gsplit", names[i], "Split", "*", &s[i], false, RK_CLUSTERING);
    }
    int eight = 8;
    cr_assert(tk_wait_until(split_done, &eight, 15000), "the 8 queues are split among the 3 members");
    size_t sizes[3];
    for (int i = 0; i < 3; i++) {
        rk_mq_t *qs;
        size_t n;
        cr_assert_eq(rk_push_consumer_assigned(members[i], &qs, &n), 0);
        sizes[i] = 0;
        for (size_t k = 0; k < n; k++)
            sizes[i] += strcmp(qs[k].topic, "Split") == 0;
        free(qs);
    }
    cr_assert(sizes[0] + sizes[1] + sizes[2] == 8 && sizes[0] >= 2 && sizes[1] >= 2 && sizes[2] >= 2,
              "average allocation 3/3/2 (got %zu/%zu/%zu)", sizes[0], sizes[1], sizes[2]);
    send_range("Split", 0, 300);
    want_t w = {all, 3, 300};
    cr_assert(tk_wait_until(union_complete, &w, 15000), "300 messages across the group");
    /* one member leaves; the others take its queues; nothing is lost */
    rk_push_consumer_free(members[2]);
    members[2] = NULL;
    cr_assert(tk_wait_until(split_done, &eight, 15000), "the 2 remaining members own all 8 queues");
    send_range("Split", 300, 600);
    w.n = 600;
    cr_assert(tk_wait_until(union_complete, &w, 20000), "600 messages across the group, at least once each");
    rk_push_consumer_free(members[0]);
    rk_push_consumer_free(members[1]);
    members[0] = members[1] = NULL;
}

Test(push, orderly_consumption_keeps_per_key_order_even_when_a_batch_is_retried)
{
    tk_create_topic(&cl, "Ordered", 4);
    sink_t s;
    sink_init(&s);
    s.fail_first = 3;                   /* the queue pauses and the same messages come again */
    rk_push_consumer_t *pc = consumer("gord", "o", "Ordered", "*", &s, true, RK_CLUSTERING);
    for (int i = 0; i < 240; i++) {
        int key = i % 6, seq = i / 6;
        char body[32], sk[8];
        snprintf(body, sizeof body, "k%d:%d:%d", key, seq, i);
        snprintf(sk, sizeof sk, "key%d", key);
        rk_message_t m = {.topic = "Ordered", .body = body, .body_len = strlen(body)};
        rk_send_result_t r;
        cr_assert_eq(rk_producer_send_ordered(prod, &m, sk, &r), 0, "%s", r.error);
    }
    sink_t *all[] = {&s};
    want_t w = {all, 1, 240};
    cr_assert(tk_wait_until(union_complete, &w, 20000), "got %d of 240", distinct_of(&s));
    cr_assert(!s.out_of_order, "every key's messages arrive in send order");
    for (int k = 0; k < 6; k++)
        cr_assert_eq(s.last_seq[k], 39);
    rk_push_consumer_free(pc);
}

Test(push, broadcasting_gives_every_member_every_message)
{
    tk_create_topic(&cl, "Bcast", 2);
    sink_t a, b;
    sink_init(&a);
    sink_init(&b);
    rk_push_consumer_t *ca = consumer("gbc", "a", "Bcast", "*", &a, false, RK_BROADCASTING);
    rk_push_consumer_t *cb = consumer("gbc", "b", "Bcast", "*", &b, false, RK_BROADCASTING);
    send_range("Bcast", 0, 100);
    sink_t *sa[] = {&a}, *sb[] = {&b};
    want_t wa = {sa, 1, 100}, wb = {sb, 1, 100};
    cr_assert(tk_wait_until(union_complete, &wa, 15000), "member a got %d of 100", distinct_of(&a));
    cr_assert(tk_wait_until(union_complete, &wb, 15000), "member b got %d of 100", distinct_of(&b));
    rk_push_consumer_free(ca);
    rk_push_consumer_free(cb);
}

Test(push, a_restarted_member_resumes_from_its_committed_offset)
{
    tk_create_topic(&cl, "Resume", 2);
    sink_t s;
    sink_init(&s);
    s.fail_first = 2;                   /* concurrent: consumed again later, not lost */
    rk_push_consumer_t *pc = consumer("gres", "r", "Resume", "*", &s, false, RK_CLUSTERING);
    send_range("Resume", 0, 50);
    sink_t *all[] = {&s};
    want_t w = {all, 1, 50};
    cr_assert(tk_wait_until(union_complete, &w, 15000), "got %d of 50", distinct_of(&s));
    rk_push_consumer_free(pc);          /* commits offsets on the way out */
    tk_cluster_restart_broker(&cl);
    sink_t s2;
    sink_init(&s2);
    send_range("Resume", 50, 80);
    pc = consumer("gres", "r", "Resume", "*", &s2, false, RK_CLUSTERING);
    sink_t *all2[] = {&s2};
    want_t w2 = {all2, 1, 80};
    for (int i = 0; i < 50; i++)
        s2.count[i] = 1;                /* only 50..79 are expected */
    cr_assert(tk_wait_until(union_complete, &w2, 15000), "the new messages arrive after the restart");
    usleep(300000);
    cr_assert_eq(s2.total, 30, "nothing consumed before the restart comes again (got %d)", s2.total);
    rk_push_consumer_free(pc);
}

/* As in RocketMQ, a group with no committed offset on a queue that still
 * starts at offset 0 is told 0 by the broker (QUERY_CONSUMER_OFFSET), so
 * "from last" and "from timestamp" matter for queues whose head was
 * already cleaned. The timestamp search itself is what this checks. */
Test(push, search_by_timestamp_finds_the_message_stored_nearest_to_it)
{
    tk_create_topic(&cl, "FromTs", 2);
    send_range("FromTs", 0, 20);
    usleep(500000);                     /* RocketMQ's search answers the *nearest* message: */
    int64_t ts = rk_now_ms();           /* the next ones are much nearer than the last old one */
    usleep(10000);
    send_range("FromTs", 20, 40);
    rk_pull_consumer_t *pc;
    rk_pull_consumer_config_t cfg = {.namesrv = cl.ns, .group = "gts"};
    cr_assert_eq(rk_pull_consumer_new(&cfg, &pc), 0);
    rk_mq_t *qs;
    size_t nq;
    cr_assert_eq(rk_pull_consumer_queues(pc, "FromTs", &qs, &nq), 0);
    int after = 0;
    for (size_t q = 0; q < nq; q++) {
        int64_t off = -1, max = -1;
        cr_assert_eq(rk_pull_consumer_search_offset(pc, &qs[q], ts, &off), 0);
        for (int t = 0; t < 100 && (rk_pull_consumer_max_offset(pc, &qs[q], &max) != RK_OK || max < 20); t++)
            usleep(10000);
        rk_pull_result_t r;
        cr_assert_eq(rk_pull_consumer_pull(pc, &qs[q], "*", off, 64, 0, &r), 0, "%s", r.error);
        for (size_t i = 0; r.status == RK_PULL_FOUND && i < r.msgs->n; i++) {
            int num = atoi((const char *)r.msgs->msgs[i].body + 2);
            cr_assert_geq(num, 20, "message %d was stored before the timestamp", num);
            after++;
        }
        rk_pull_result_free(&r);
    }
    cr_assert_eq(after, 20, "every message stored after the timestamp, from the offsets found (got %d)", after);
    free(qs);
    rk_pull_consumer_free(pc);
}

Test(push, a_running_consumer_rides_through_a_broker_restart)
{
    tk_create_topic(&cl, "Ride", 2);
    sink_t s;
    sink_init(&s);
    rk_push_consumer_t *pc = consumer("gride", "r", "Ride", "*", &s, false, RK_CLUSTERING);
    send_range("Ride", 0, 50);
    sink_t *all[] = {&s};
    want_t w = {all, 1, 50};
    cr_assert(tk_wait_until(union_complete, &w, 15000), "got %d of 50 before the restart", distinct_of(&s));
    tk_cluster_restart_broker(&cl);
    for (int i = 50; i < 100; i++) {    /* the producer reconnects too */
        char body[32];
        snprintf(body, sizeof body, "n:%d", i);
        rk_message_t m = {.topic = "Ride", .body = body, .body_len = strlen(body)};
        rk_send_result_t r;
        int rc = RK_ECLOSED;
        for (int t = 0; t < 100 && (rc = rk_producer_send(prod, &m, &r)) != RK_OK; t++)
            usleep(50000);
        cr_assert_eq(rc, 0, "%s", r.error);
    }
    w.n = 100;
    cr_assert(tk_wait_until(union_complete, &w, 20000), "got %d of 100 after the restart", distinct_of(&s));
    rk_push_consumer_free(pc);
}

/* ---- how a pull's messages reach the pool (one job per pull) ---- */

typedef struct slow {
    uv_mutex_t mu;
    int running, most;                  /* listener calls running now; the most at once */
    int count[64], calls;
    int fail_num;                       /* answer LATER the first time this number comes */
    bool failed;
} slow_t;

static rk_consume_result_t on_slow(void *arg, const rk_msg_ext_t *msgs, size_t n)
{
    slow_t *s = arg;
    uv_mutex_lock(&s->mu);
    s->running++;
    if (s->running > s->most)
        s->most = s->running;
    uv_mutex_unlock(&s->mu);
    uv_sleep(s->fail_num < 0 ? 30 : 0);  /* the concurrency test's listener is slow */
    bool fail = false;
    uv_mutex_lock(&s->mu);
    s->running--;
    s->calls++;
    int nums[64];
    for (size_t i = 0; i < n && i < 64; i++) {
        char body[32];
        snprintf(body, sizeof body, "%.*s", (int)msgs[i].body_len, (const char *)msgs[i].body);
        nums[i] = atoi(body + 2);       /* "n:<number>" */
        if (nums[i] == s->fail_num && !s->failed)
            fail = true;
    }
    if (fail)
        s->failed = true;
    for (size_t i = 0; i < n && i < 64 && !fail; i++)
        if (nums[i] >= 0 && nums[i] < 64)
            s->count[nums[i]]++;
    uv_mutex_unlock(&s->mu);
    return fail ? RK_CONSUME_LATER : RK_CONSUME_SUCCESS;
}

static bool slow_all(void *arg)
{
    slow_t *s = arg;
    uv_mutex_lock(&s->mu);
    bool all = true;
    for (int i = 0; i < 16 && all; i++)
        all = s->count[i] > 0;
    uv_mutex_unlock(&s->mu);
    return all;
}

static rk_push_consumer_t *slow_consumer(const char *group, const char *topic, slow_t *s)
{
    rk_push_consumer_config_t cfg = {.namesrv = cl.ns, .group = group, .from = RK_CONSUME_FROM_FIRST,
                                     .threads = 4, .batch_max = 1, .pull_batch = 32,
                                     .rebalance_ms = 1000, .persist_ms = 200};
    rk_push_consumer_t *pc;
    cr_assert_eq(rk_push_consumer_new(&cfg, on_slow, s, &pc), 0);
    cr_assert_eq(rk_push_consumer_subscribe(pc, topic, "*"), 0);
    cr_assert_eq(rk_push_consumer_start(pc), 0);
    return pc;
}

Test(push, a_slow_listener_gets_several_threads_even_for_one_pull)
{
    tk_create_topic(&cl, "Slow", 1);
    send_range("Slow", 0, 16);          /* one queue, one pull brings all 16 */
    slow_t s;
    memset(&s, 0, sizeof s);
    uv_mutex_init(&s.mu);
    s.fail_num = -1;
    rk_push_consumer_t *pc = slow_consumer("gslow", "Slow", &s);
    cr_assert(tk_wait_until(slow_all, &s, 30000), "not every message arrived");
    rk_push_consumer_free(pc);
    cr_assert_geq(s.most, 2, "the calls of one pull ran on one thread at a time (most at once: %d)", s.most);
    uv_mutex_destroy(&s.mu);
}

Test(push, a_failed_call_in_a_pull_is_consumed_again_and_the_offset_passes_it_only_then)
{
    tk_create_topic(&cl, "Again", 1);
    send_range("Again", 0, 16);
    slow_t s;
    memset(&s, 0, sizeof s);
    uv_mutex_init(&s.mu);
    s.fail_num = 5;                     /* the sixth call of the pull says LATER once */
    rk_push_consumer_t *pc = slow_consumer("gagain", "Again", &s);
    cr_assert(tk_wait_until(slow_all, &s, 30000), "not every message arrived");
    rk_push_consumer_free(pc);          /* commits the group's offset */
    cr_assert(s.failed, "the listener said LATER once");
    for (int i = 0; i < 16; i++)
        cr_assert_eq(s.count[i], 1, "message %d consumed %d times", i, s.count[i]);
    rk_pull_consumer_config_t pcfg = {.namesrv = cl.ns, .group = "gagain"};
    rk_pull_consumer_t *pull;
    cr_assert_eq(rk_pull_consumer_new(&pcfg, &pull), 0);
    rk_mq_t *mqs = NULL;
    size_t nq = 0;
    cr_assert_eq(rk_pull_consumer_queues(pull, "Again", &mqs, &nq), 0);
    cr_assert_eq(nq, 1);
    int64_t off = -1;
    cr_assert_eq(rk_pull_consumer_fetch_offset(pull, &mqs[0], &off), 0);
    cr_assert_eq(off, 16, "the committed offset is past every message (got %" PRId64 ")", off);
    free(mqs);
    rk_pull_consumer_free(pull);
    uv_mutex_destroy(&s.mu);
}
