/* test_timer_ha.c — delayed messages and failover: three chapter 10 mqbrokers electing their master
 * (chapter 8, ch08's trio fixture). Timer messages and delay levels are parked on the master; some
 * come due and are delivered, the replicas copy the timer checkpoint and the levels' offsets; the
 * master is killed (kill -9) and the newly elected master delivers every pending one, none before
 * its time; what was delivered before the failover is not lost (at least once). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/tk_pair.h"
#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/log.h"
#include "rk/message.h"
#include "rk/testkit.h"
#include "rk/timer.h"

static rk_tk_trio_t t;
static rk_log_level_t old_level;

static void setup(void)
{
    old_level = rk_log_get_level();
    rk_log_set_level(RK_LOG_OFF);
}

static void teardown(void)
{
    rk_tk_trio_stop(&t);
    rk_log_set_level(old_level);
}

TestSuite(timer_ha, .init = setup, .fini = teardown, .timeout = 180);

#define NEARLY 30           /* due before the failover */
#define NLATE 60            /* timers due after it */
#define NLEVEL 20           /* level 2 (8 s) */
#define NALL (NEARLY + NLATE + NLEVEL)

typedef struct seen {
    int count[NALL];
    int64_t early;
    int first_early;
    const int64_t *due;
} seen_t;

static void on_rec(void *arg, const rk_record_t *rec)
{
    seen_t *s = arg;
    char body[32];
    snprintf(body, sizeof body, "%.*s", (int)(rec->body_len < 31 ? rec->body_len : 31), (const char *)rec->body);
    int i = atoi(body + 1);
    if (i < 0 || i >= NALL)
        return;
    s->count[i]++;
    if (rec->store_ts < s->due[i] && s->early++ == 0)
        s->first_early = i;
}

static void pull_all(const char *addr, seen_t *s)
{
    memset(s->count, 0, sizeof s->count);
    s->early = 0;
    rk_tk_pull_each(&t.base, addr, "FT", 0, 0, on_rec, s);
}

static int delivered(const seen_t *s, int from, int to)
{
    int n = 0;
    for (int i = from; i < to; i++)
        n += s->count[i] > 0;
    return n;
}

static int64_t runtime_i64(const char *addr, const char *key)
{
    char *v = rk_tk_runtime(&t.base, addr, key);
    int64_t x = v ? strtoll(v, NULL, 10) : -1;
    free(v);
    return x;
}

static void send_one(const char *addr, int i, const char *key, const char *value)
{
    rk_buf_t b = {0};
    rk_props_put(&b, RK_PROP_TAGS, "F");
    rk_props_put(&b, key, value);
    rk_buf_put_u8(&b, 0);
    char body[16];
    snprintf(body, sizeof body, "f%d", i);
    rk_cmd_t *resp = rk_tk_send_props(&t.base, addr, "FT", 0, body, (const char *)b.data);
    cr_assert(resp != NULL && resp->code == 0, "send f%d: %s", i, resp && resp->remark ? resp->remark : "no answer");
    rk_cmd_free(resp);
    rk_buf_free(&b);
}

Test(timer_ha, pending_delays_keep_their_times_on_a_newly_elected_master)
{
    rk_tk_trio_init(&t, "messageDelayLevel=1s 8s\ntimerFlushIntervalMs=100\nflushDelayOffsetInterval=100\n"
                    "registerNameServerPeriod=1000\n");
    for (int i = 0; i < 3; i++)
        rk_tk_broker_start(&t.r[i]);
    int old = rk_tk_trio_leader(&t, -1, 15000);
    cr_assert(old >= 0, "no leader elected (see %s)", t.r[0].log);
    const char *maddr = t.r[old].addr;
    static int64_t due[NALL];
    int64_t t0 = rk_now_ms();
    char v[32];
    for (int i = 0; i < NALL; i++) {
        if (i < NEARLY + NLATE) {
            due[i] = i < NEARLY ? t0 + 800 + i * 10 : t0 + 9000 + (i - NEARLY) * 30;
            snprintf(v, sizeof v, "%" PRId64, due[i]);
            send_one(maddr, i, RK_PROP_TIMER_DELIVER_MS, v);
        } else {
            due[i] = rk_now_ms() + 8000;
            send_one(maddr, i, RK_PROP_DELAY, "2");
        }
    }
    cr_assert_lt(rk_now_ms() - t0, 6000, "sending took too long for the test's timeline");
    /* the early ones are delivered by the old master */
    seen_t s = {.due = due};
    for (int k = 0; k < 200; k++) {
        pull_all(maddr, &s);
        if (delivered(&s, 0, NEARLY) == NEARLY)
            break;
        usleep(50000);
    }
    cr_assert_eq(delivered(&s, 0, NEARLY), NEARLY, "the master delivered %d of %d due messages",
                 delivered(&s, 0, NEARLY), NEARLY);
    cr_assert_eq(delivered(&s, NEARLY, NALL), 0, "nothing else is due yet");
    /* the replicas have copied a checkpoint past the early ones */
    int64_t progress = 0;
    for (int k = 0; k < 200; k++) {
        progress = INT64_MAX;
        for (int i = 0; i < 3; i++)
            if (i != old) {
                int64_t p = runtime_i64(t.r[i].addr, "timerProgressMs");
                progress = p < progress ? p : progress;
            }
        if (progress > due[NEARLY - 1])
            break;
        usleep(50000);
    }
    cr_assert_gt(progress, due[NEARLY - 1], "the replicas' timer checkpoint did not follow the master's");
    cr_assert_lt(rk_now_ms(), due[NEARLY], "the test ran too slowly: late messages came due before the kill");
    rk_tk_kill(t.r[old].pid, SIGKILL);
    rk_tk_wait(t.r[old].pid, 5000);
    t.r[old].pid = -1;
    int now = rk_tk_trio_leader(&t, old, 15000);
    cr_assert(now >= 0 && now != old, "no new master after kill -9 of n%d", old);
    const char *naddr = t.r[now].addr;
    for (int k = 0; k < 400; k++) {
        pull_all(naddr, &s);
        if (delivered(&s, 0, NALL) == NALL)
            break;
        usleep(50000);
    }
    cr_assert_eq(delivered(&s, 0, NEARLY), NEARLY, "a message delivered before the failover is lost");
    cr_assert_eq(delivered(&s, NEARLY, NEARLY + NLATE), NLATE, "%d of %d pending timers delivered by the new master",
                 delivered(&s, NEARLY, NEARLY + NLATE), NLATE);
    cr_assert_eq(delivered(&s, NEARLY + NLATE, NALL), NLEVEL, "%d of %d pending levels delivered by the new master",
                 delivered(&s, NEARLY + NLATE, NALL), NLEVEL);
    cr_assert_eq(s.early, 0, "%" PRId64 " delivered before their time (first f%d)", s.early, s.first_early);
    for (int i = NEARLY; i < NALL; i++)
        cr_assert_eq(s.count[i], 1, "f%d delivered %d times", i, s.count[i]);
    /* the copied checkpoint spared the early ones a second delivery */
    for (int i = 0; i < NEARLY; i++)
        cr_assert_eq(s.count[i], 1, "f%d delivered again by the new master", i);
}
