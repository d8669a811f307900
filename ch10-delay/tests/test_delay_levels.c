/* test_delay_levels.c — delayed messages end to end, real processes on loopback: a name server and
 * a broker (chapter 10's when built, else chapter 9's: dcluster.h) with short test levels, the
 * SDK's delay API (rk/delay_client.h) sending, a pull consumer reading the real topic.
 *
 * What a consumer must see: every delayed message comes back into its topic, never before its
 * delay (the restored copy's store time is at least its born time + the level's delay: the broker
 * can only put it back once due), within a tolerance after it, levels in the order of their due
 * times, each level in send order, with body, keys, tags and user properties as sent and the DELAY
 * property gone. Then mqadmin: sendMessage with a delay (and what it refuses), delayProgress while
 * a message waits and once it came. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcluster.h"
#include "rk/clock.h"
#include "rk/consumer.h"
#include "rk/delay_client.h"
#include "rk/error.h"
#include "rk/producer.h"
#include "rk/testkit.h"

/* level n's delay is LEVEL_MS[n - 1]; level 4 is long enough for mqadmin to watch it wait */
#define LEVELS "messageDelayLevel=1s 2s 3s 6s\nflushDelayOffsetInterval=200\n"
static const int64_t LEVEL_MS[] = {1000, 2000, 3000, 6000};
/* how late a restored message may be: the schedule puts it back at its time; this covers a busy
 * machine (two cores shared by several test runs) */
#define LATE_MS 3000
#define TOPIC "DelayT"

static rk_rc_cluster_t c;

static void setup(void)
{
    dc_start(&c, LEVELS);
    rk_rc_create_topic(&c, TOPIC, 2);
}

static void teardown(void)
{
    rk_rc_stop(&c);
}

TestSuite(delay_levels, .init = setup, .fini = teardown, .timeout = 90);

/* What a test remembers of a received message. */
typedef struct got {
    char keys[64], tags[32], body[64], color[32], delay[8];
    int64_t born_ts, store_ts;
    int queue_id;
    int64_t queue_offset;
} got_t;

/* Pulls TOPIC's queues until want messages came (bounded: 40 s), then 500 ms more for any
 * message too many (out holds want + 1). Returns how many came. */
static int receive(got_t *out, int want)
{
    rk_pull_consumer_config_t cfg = {.namesrv = c.ns, .group = "delay_test_cg"};
    rk_pull_consumer_t *pc;
    cr_assert_eq(rk_pull_consumer_new(&cfg, &pc), RK_OK);
    rk_mq_t *qs = NULL;
    size_t nq = 0;
    cr_assert_eq(rk_pull_consumer_queues(pc, TOPIC, &qs, &nq), RK_OK);
    int64_t off[8] = {0};
    cr_assert(nq <= 8);
    int n = 0;
    uint64_t end = rk_mono_ms() + 40000, quiet_end = 0;
    while (rk_mono_ms() < end && n <= want) {
        if (n == want && quiet_end == 0)
            quiet_end = rk_mono_ms() + 500;
        if (quiet_end != 0 && rk_mono_ms() >= quiet_end)
            break;
        bool any = false;
        for (size_t q = 0; q < nq && n <= want; q++) {
            rk_pull_result_t r;
            if (rk_pull_consumer_pull(pc, &qs[q], "*", off[q], 32, 0, &r) != RK_OK)
                continue;
            if (r.status == RK_PULL_FOUND) {
                for (size_t i = 0; i < r.msgs->n && n <= want; i++) {
                    const rk_msg_ext_t *m = &r.msgs->msgs[i];
                    got_t *g = &out[n++];
                    memset(g, 0, sizeof *g);
                    snprintf(g->keys, sizeof g->keys, "%s", m->keys);
                    snprintf(g->tags, sizeof g->tags, "%s", m->tags);
                    snprintf(g->body, sizeof g->body, "%.*s", (int)m->body_len, (const char *)m->body);
                    rk_msg_prop(m, "color", g->color, sizeof g->color);
                    rk_msg_prop(m, "DELAY", g->delay, sizeof g->delay);
                    g->born_ts = m->born_ts;
                    g->store_ts = m->store_ts;
                    g->queue_id = m->queue_id;
                    g->queue_offset = m->queue_offset;
                }
                any = true;
            }
            if (r.next_offset > off[q])
                off[q] = r.next_offset;
            rk_pull_result_free(&r);
        }
        if (!any)
            usleep(50000);
    }
    free(qs);
    rk_pull_consumer_free(pc);
    return n;
}

static rk_producer_t *producer(void)
{
    rk_producer_config_t cfg = {.namesrv = c.ns, .group = "delay_test_pg"};
    rk_producer_t *p;
    cr_assert_eq(rk_producer_new(&cfg, &p), RK_OK);
    return p;
}

/* Sends one message keyed k-<level>-<round> through the SDK. */
static void send_level(rk_producer_t *p, int level, int round, int64_t *sent_after)
{
    char keys[32], tags[16], body[32], props[48];
    snprintf(keys, sizeof keys, "k-%d-%d", level, round);
    snprintf(tags, sizeof tags, "L%d", level);
    snprintf(body, sizeof body, "body %d/%d", level, round);
    snprintf(props, sizeof props, "color%cc-%d-%d", RK_PROP_NAME_VALUE_SEP, level, round);
    rk_message_t m = {.topic = TOPIC, .tags = tags, .keys = keys, .body = body, .body_len = strlen(body),
                      .props = props, .props_len = strlen(props)};
    rk_send_result_t r;
    int rc = level > 0 ? rk_producer_send_delay_level(p, &m, level, &r) : rk_producer_send(p, &m, &r);
    cr_assert_eq(rc, RK_OK, "send level %d: %s", level, r.error);
    *sent_after = rk_now_ms();
}

static int level_of(const got_t *g)
{
    int level = -1, round = -1;
    cr_assert_eq(sscanf(g->keys, "k-%d-%d", &level, &round), 2, "keys %s", g->keys);
    return level;
}

Test(delay_levels, each_level_on_time_in_order_and_intact)
{
    rk_producer_t *p = producer();
    /* two rounds of levels 3, 2, 1 (the longest first), and one message without a delay */
    enum { ROUNDS = 2, N = ROUNDS * 3 + 1 };
    int64_t sent_after[4][ROUNDS];
    for (int round = 0; round < ROUNDS; round++)
        for (int level = 3; level >= 1; level--)
            send_level(p, level, round, &sent_after[level][round]);
    int64_t plain_after;
    send_level(p, 0, 0, &plain_after);
    rk_producer_free(p);

    got_t g[N + 1];
    int n = receive(g, N);
    cr_assert_eq(n, N, "%d messages came, not %d", n, N);

    int64_t plain_store = -1, last_store = 0;
    for (int i = 0; i < n; i++) {
        int level = level_of(&g[i]), round;
        sscanf(g[i].keys, "k-%*d-%d", &round);
        char want[48];
        snprintf(want, sizeof want, "body %d/%d", level, round);
        cr_assert_str_eq(g[i].body, want, "body of %s", g[i].keys);
        snprintf(want, sizeof want, "L%d", level);
        cr_assert_str_eq(g[i].tags, want, "tags of %s", g[i].keys);
        snprintf(want, sizeof want, "c-%d-%d", level, round);
        cr_assert_str_eq(g[i].color, want, "user property of %s", g[i].keys);
        if (level == 0) {
            plain_store = g[i].store_ts;
            continue;
        }
        cr_assert_str_eq(g[i].delay, "", "%s still has DELAY=%s", g[i].keys, g[i].delay);
        int64_t d = LEVEL_MS[level - 1];
        cr_assert_geq(g[i].store_ts, g[i].born_ts + d, "%s (level %d, %" PRId64 " ms) came back %" PRId64
                      " ms after it was sent: early", g[i].keys, level, d, g[i].store_ts - g[i].born_ts);
        cr_assert_leq(g[i].store_ts, sent_after[level][round] + d + LATE_MS, "%s came back %" PRId64
                      " ms after its time", g[i].keys, g[i].store_ts - (sent_after[level][round] + d));
        if (g[i].store_ts > last_store)
            last_store = g[i].store_ts;
    }
    cr_assert_geq(plain_store, 0);
    cr_assert_lt(plain_store, last_store, "the message without a delay was not stored before the delayed ones");

    /* in time order: sorted by when they came back, their due times (born + delay) never go back
     * by more than the spread of the sends (born times are the producer's, due the broker's) */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            int li = level_of(&g[i]), lj = level_of(&g[j]);
            if (li == 0 || lj == 0 || g[i].store_ts >= g[j].store_ts)
                continue;
            int64_t due_i = g[i].born_ts + LEVEL_MS[li - 1], due_j = g[j].born_ts + LEVEL_MS[lj - 1];
            cr_assert_leq(due_i, due_j + 500, "%s (due %" PRId64 ") came back before %s (due %" PRId64 ")",
                          g[i].keys, due_i, g[j].keys, due_j);
            /* one level: exactly send order */
            int ri = -1, rj = -1;
            sscanf(g[i].keys, "k-%*d-%d", &ri);
            sscanf(g[j].keys, "k-%*d-%d", &rj);
            if (li == lj)
                cr_assert_lt(ri, rj, "%s came back before %s", g[i].keys, g[j].keys);
        }
}

typedef struct async_done {
    atomic_int calls, status;
} async_done_t;

static void on_sent(void *arg, int status, const rk_send_result_t *r)
{
    (void)r;
    async_done_t *a = arg;
    atomic_store(&a->status, status);
    atomic_fetch_add(&a->calls, 1);
}

Test(delay_levels, async_send_with_a_level)
{
    rk_producer_t *p = producer();
    async_done_t a = {0};
    char err[256];
    /* refused: the callback never runs */
    rk_delay_t bad = {.kind = RK_DELAY_LEVEL, .value = 99};
    rk_message_t m = {.topic = TOPIC, .tags = "ta", .keys = "async-1", .body = "async", .body_len = 5};
    cr_assert_eq(rk_producer_send_delayed_async(p, &m, &bad, on_sent, &a, err, sizeof err), RK_EINVAL);
    cr_assert(strstr(err, "outside 1..18"), "%s", err);
    /* the properties live in a buffer freed when the call returns: the async send must have
     * copied them (the message comes back delayed, so DELAY travelled) */
    rk_delay_t d = {.kind = RK_DELAY_LEVEL, .value = 2};
    cr_assert_eq(rk_producer_send_delayed_async(p, &m, &d, on_sent, &a, err, sizeof err), RK_OK, "%s", err);
    for (int i = 0; i < 100 && atomic_load(&a.calls) == 0; i++)
        usleep(50000);
    cr_assert_eq(atomic_load(&a.calls), 1);
    cr_assert_eq(atomic_load(&a.status), RK_OK);
    rk_producer_free(p);
    got_t g[2];
    cr_assert_eq(receive(g, 1), 1);
    cr_assert_str_eq(g[0].keys, "async-1");
    cr_assert_geq(g[0].store_ts, g[0].born_ts + LEVEL_MS[1], "came back after %" PRId64 " ms",
                  g[0].store_ts - g[0].born_ts);
}

/* Runs mqadmin with args (NULL-terminated, after the program name); output in *out. */
static int mqadmin(char **out, const char *const *args)
{
    char *argv[24] = {RK_BIN_DIR "/mqadmin"};
    int n = 1;
    for (; args[n - 1] != NULL && n < 23; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    return rk_tk_run(argv, out, 20000);
}

/* delayProgress's row for level: delivered offset, max offset, pending; false if absent. */
static bool progress_row(const char *out, int level, int64_t *done, int64_t *max, int64_t *pending, char *delay)
{
    for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        int lv;
        long long a, b, p;
        char d[16];
        if (sscanf(l, "%d %15s %lld %lld %lld", &lv, d, &a, &b, &p) == 5 && lv == level) {
            *done = a, *max = b, *pending = p;
            strcpy(delay, d);
            return true;
        }
    }
    return false;
}

Test(delay_levels, mqadmin_send_with_delay_and_progress)
{
    char *out = NULL;
    /* refused before anything is sent: exit status 2 and why */
    const char *zero[] = {"sendMessage", "-n", c.ns, "-t", TOPIC, "-p", "x", "-d", "0", NULL};
    cr_assert_eq(mqadmin(&out, zero), 2, "%s", out);
    cr_assert(strstr(out, "outside 1..18") && strstr(out, "nothing sent"), "%s", out);
    free(out);
    const char *past[] = {"sendMessage", "-n", c.ns, "-t", TOPIC, "-p", "x", "-T", "1000", NULL};
    cr_assert_eq(mqadmin(&out, past), 2, "%s", out);
    cr_assert(strstr(out, "not in the future"), "%s", out);
    free(out);
    const char *both[] = {"sendMessage", "-n", c.ns, "-t", TOPIC, "-p", "x", "-d", "1", "-T", "+1s", NULL};
    cr_assert_eq(mqadmin(&out, both), 2, "%s", out);
    cr_assert(strstr(out, "not both"), "%s", out);
    free(out);
    const char *unknown[] = {"sendMessage", "-n", c.ns, "-t", TOPIC, "-p", "x", "-x", NULL};
    cr_assert_eq(mqadmin(&out, unknown), 2, "%s", out);
    cr_assert(strstr(out, "unknown option -x"), "%s", out);
    free(out);
    const char *far[] = {"sendMessage", "-n", c.ns, "-t", TOPIC, "-p", "x", "-T", "+4d", NULL};
    cr_assert_eq(mqadmin(&out, far), 2, "%s", out);
    cr_assert(strstr(out, "longest delay"), "%s", out);
    free(out);

    /* level 4 (6 s), with chapter 7's options kept */
    const char *send[] = {"sendMessage", "-n", c.ns, "-t", TOPIC, "-p", "from mqadmin", "-k", "mk", "-c", "mt",
                          "-d4", NULL};
    int64_t before = rk_now_ms();
    cr_assert_eq(mqadmin(&out, send), 0, "%s", out);
    cr_assert(strstr(out, "SEND_OK") && strstr(out, "level 4 (DELAY=4"), "%s", out);
    free(out);

    /* delayProgress sees it wait: level 4 is 6s, max offset 1, pending 1 (the queue's dispatch
     * may lag the send a moment: asked again for up to 4 s, well inside the 6 s) */
    const char *prog[] = {"delayProgress", "-n", c.ns, "-L", "1s 2s 3s 6s", NULL};
    int64_t done = -1, max = -1, pending = -1;
    char delay[16] = "";
    for (int i = 0; i < 40 && pending != 1; i++) {
        cr_assert_eq(mqadmin(&out, prog), 0, "%s", out);
        cr_assert(progress_row(out, 4, &done, &max, &pending, delay), "no row for level 4:\n%s", out);
        if (pending != 1) {
            free(out);
            out = NULL;
            usleep(100000);
        }
    }
    cr_assert_eq(pending, 1, "level 4 never showed a waiting message:\n%s", out);
    cr_assert_str_eq(delay, "6s");
    cr_assert_eq(done, 0);
    cr_assert_eq(max, 1);
    cr_assert(strstr(out, "4 delay levels") && strstr(out, "Pending Total: 1"), "%s", out);
    free(out);

    /* it comes back after its 6 s, intact */
    got_t g[2];
    cr_assert_eq(receive(g, 1), 1);
    cr_assert_str_eq(g[0].body, "from mqadmin");
    cr_assert_str_eq(g[0].keys, "mk");
    cr_assert_str_eq(g[0].tags, "mt");
    cr_assert_geq(g[0].store_ts, g[0].born_ts + 6000, "came back after %" PRId64 " ms", g[0].store_ts - g[0].born_ts);
    cr_assert_geq(g[0].born_ts, before - 1000);

    /* and delayProgress shows level 4 delivered */
    for (int i = 0; i < 40; i++) {
        cr_assert_eq(mqadmin(&out, prog), 0, "%s", out);
        cr_assert(progress_row(out, 4, &done, &max, &pending, delay));
        if (done == 1)
            break;
        free(out);
        out = NULL;
        usleep(100000);
    }
    cr_assert_eq(done, 1, "%s", out);
    cr_assert_eq(pending, 0, "%s", out);
    cr_assert(strstr(out, "Pending Total: 0"), "%s", out);
    free(out);
}

/* A delivery time through the SDK, on chapter 10's broker (its timer takes TIMER_* and
 * __STARTDELIVERTIME). RocketMQ rounds a delivery time down to timerPrecisionMs (1 s) and
 * rocklet's rounds up; "not early" allows RocketMQ's second so the test holds for both. */
Test(delay_levels, delivery_time_through_the_sdk)
{
    rk_producer_t *p = producer();
    int64_t now = rk_now_ms();
    struct { const char *keys; rk_delay_t d; int64_t at; } cases[] = {
        {"after-1500", {.kind = RK_DELAY_AFTER, .value = 1500}, now + 1500},
        {"at-3000", {.kind = RK_DELAY_AT, .value = now + 3000}, now + 3000},
        {"ons-2000", {.kind = RK_DELAY_AFTER, .value = 2000, .style = RK_DELIVER_ONS}, now + 2000},
    };
    for (size_t i = 0; i < 3; i++) {
        rk_message_t m = {.topic = TOPIC, .tags = "tm", .keys = cases[i].keys, .body = cases[i].keys,
                          .body_len = strlen(cases[i].keys)};
        rk_send_result_t r;
        cr_assert_eq(rk_producer_send_delayed(p, &m, &cases[i].d, &r), RK_OK, "%s: %s", cases[i].keys, r.error);
    }
    int64_t sent = rk_now_ms();
    rk_producer_free(p);
    got_t g[4];
    int n = receive(g, 3);
    cr_assert_eq(n, 3, "%d messages came", n);
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < 3; k++) {
            if (strcmp(g[i].keys, cases[k].keys) != 0)
                continue;
            cr_assert_str_eq(g[i].body, cases[k].keys);
            cr_assert_geq(g[i].store_ts, cases[k].at - 1000, "%s came %" PRId64 " ms early", g[i].keys,
                          cases[k].at - g[i].store_ts);
            cr_assert_leq(g[i].store_ts, cases[k].at + (sent - now) + LATE_MS, "%s came %" PRId64 " ms late",
                          g[i].keys, g[i].store_ts - cases[k].at);
        }
}
