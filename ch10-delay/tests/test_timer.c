/* test_timer.c — delayed messages end to end on one broker (real mqnamesrv and chapter 10 mqbroker
 * processes on loopback, ch09's rcluster fixture):
 *   - any delivery time (TIMER_DELIVER_MS, TIMER_DELAY_SEC, TIMER_DELAY_MS, __STARTDELIVERTIME)
 *     arrives in time order, never before its time, within a tolerance, with body, keys, tags and
 *     properties intact;
 *   - times past timerMaxDelaySec or not numbers are refused MESSAGE_ILLEGAL with RocketMQ's
 *     remark, nothing stored; a time already past is delivered at once;
 *   - a delay level is clamped to the last level and restored as RocketMQ does (DELAY removed,
 *     WAIT=false, REAL_TOPIC / REAL_QID kept), with the levels' progress in runtime info;
 *   - 100 000 pending messages (timers and levels) across kill -9: every one delivered after the
 *     restart, exactly once, none early;
 *   - kill -9 in the middle of the deliveries: every message at least once, none early. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/tk_pair.h"
#include "rk/tk_rcluster.h"
#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/log.h"
#include "rk/message.h"
#include "rk/producer.h"
#include "rk/request_code.h"
#include "rk/testkit.h"
#include "rk/timer.h"

static rk_rc_cluster_t cl;
static rk_tk_pair_t tp;                 /* only its client: ch08's send / pull / runtime helpers */
static rk_log_level_t old_level;

static void setup(void)
{
    old_level = rk_log_get_level();
    rk_log_set_level(RK_LOG_OFF);
    memset(&tp, 0, sizeof tp);
    cr_assert_eq(rk_rclient_new(&tp.cl), 0);
}

static void teardown(void)
{
    rk_rc_stop(&cl);
    rk_rclient_free(tp.cl);
    rk_log_set_level(old_level);
}

TestSuite(timer, .init = setup, .fini = teardown, .timeout = 180);

/* ---------------------------------------------------------------- collecting what arrived */

#define MAXGOT 64

typedef struct got {
    int n;
    int idx[MAXGOT];
    int64_t store_ts[MAXGOT], out_ms[MAXGOT];
    char props[MAXGOT][1024];
    size_t props_len[MAXGOT];
    int bad;
} got_t;

static void collect(void *arg, const rk_record_t *rec)
{
    got_t *g = arg;
    if (g->n == MAXGOT || rec->body_len < 2) {
        g->bad++;
        return;
    }
    char body[32];
    snprintf(body, sizeof body, "%.*s", (int)rec->body_len, (const char *)rec->body);
    g->idx[g->n] = atoi(body + 1);
    g->store_ts[g->n] = rec->store_ts;
    char v[32] = "";
    g->out_ms[g->n] = rk_props_get_str(rec->props, rec->props_len, RK_PROP_TIMER_OUT_MS, v, sizeof v) == 0
                          ? strtoll(v, NULL, 10) : -1;
    size_t len = rec->props_len < sizeof g->props[0] ? rec->props_len : sizeof g->props[0];
    memcpy(g->props[g->n], rec->props, len);
    g->props_len[g->n] = len;
    g->n++;
}

/* Everything in topic/qid, waiting until want records are there (bounded). */
static void pull_until(const char *topic, int qid, int want, got_t *g, int ms)
{
    for (int k = 0; k <= ms / 50; k++) {
        memset(g, 0, sizeof *g);
        rk_tk_pull_each(&tp, cl.br, topic, qid, 0, collect, g);
        if (g->n >= want)
            return;
        usleep(50000);
    }
}

static bool prop_is(const got_t *g, int i, const char *key, const char *want)
{
    char v[256];
    return rk_props_get_str(g->props[i], g->props_len[i], key, v, sizeof v) == 0 && strcmp(v, want) == 0;
}

static bool has_prop(const got_t *g, int i, const char *key)
{
    size_t vl;
    return rk_props_get(g->props[i], g->props_len[i], key, &vl) != NULL;
}

/* "TAGS", "KEYS", a user property and UNIQ_KEY, then one timing property; NUL-terminated. */
static char *props_with(int i, const char *key, const char *value)
{
    static rk_buf_t b;
    rk_buf_free(&b);
    b = (rk_buf_t){0};
    char uniq[32];
    snprintf(uniq, sizeof uniq, "u%d", i);
    rk_props_put(&b, RK_PROP_TAGS, "TagA");
    rk_props_put(&b, RK_PROP_KEYS, "k1 k2");
    rk_props_put(&b, "color", "blue");
    rk_props_put(&b, RK_PROP_UNIQ_KEY, uniq);
    rk_props_put(&b, RK_PROP_WAIT, "true");
    if (key != NULL)
        rk_props_put(&b, key, value);
    rk_buf_put_u8(&b, 0);
    return (char *)b.data;
}

static int send_code(const char *topic, const char *body, const char *props, char *remark, size_t rlen)
{
    rk_cmd_t *resp = rk_tk_send_props(&tp, cl.br, topic, 0, body, props);
    cr_assert_not_null(resp, "no answer to a send");
    int code = resp->code;
    if (remark != NULL)
        snprintf(remark, rlen, "%s", resp->remark ? resp->remark : "");
    rk_cmd_free(resp);
    return code;
}

static int64_t runtime_i64(const char *key)
{
    char *v = rk_tk_runtime(&tp, cl.br, key);
    int64_t x = v ? strtoll(v, NULL, 10) : -1;
    free(v);
    return x;
}

/* ---------------------------------------------------------------- tests */

#define NT 24

Test(timer, any_time_arrives_in_time_order_never_early_and_intact)
{
    rk_rc_start(&cl, "timerPrecisionMs=10\ntimerWheelNearSec=1\n");
    rk_rc_create_topic(&cl, "TT", 1);
    static const char *const kinds[] = {RK_PROP_TIMER_DELIVER_MS, RK_PROP_TIMER_DELAY_MS, RK_PROP_TIMER_DELAY_SEC,
                                        RK_PROP_START_DELIVER_TIME};
    int64_t earliest[NT], latest[NT];
    for (int i = 0; i < NT; i++) {
        int kind = i % 4;
        int64_t d = kind == 2 ? 1000 * (1 + i % 2) : 300 + (int64_t)((i * 7919) % 20) * 100;   /* 0.3 .. 2.2 s */
        char v[32], body[16];
        int64_t before = rk_now_ms();
        if (kind == 0 || kind == 3)
            snprintf(v, sizeof v, "%" PRId64, before + d);
        else
            snprintf(v, sizeof v, "%" PRId64, kind == 2 ? d / 1000 : d);
        snprintf(body, sizeof body, "t%d", i);
        cr_assert_eq(send_code("TT", body, props_with(i, kinds[kind], v), NULL, 0), 0);
        int64_t after = rk_now_ms();
        earliest[i] = before + d;
        latest[i] = (kind == 0 || kind == 3 ? before : after) + d;
    }
    got_t g;
    pull_until("TT", 0, NT, &g, 20000);
    cr_assert_eq(g.n, NT, "%d of %d timer messages arrived", g.n, NT);
    cr_assert_eq(g.bad, 0);
    bool seen[NT] = {0};
    for (int j = 0; j < g.n; j++) {
        int i = g.idx[j];
        cr_assert(i >= 0 && i < NT && !seen[i], "message t%d twice or unknown", i);
        seen[i] = true;
        cr_assert_geq(g.store_ts[j], earliest[i], "t%d was put back %" PRId64 " ms before its time", i,
                      earliest[i] - g.store_ts[j]);
        cr_assert_lt(g.store_ts[j] - latest[i], 2000, "t%d came %" PRId64 " ms late", i, g.store_ts[j] - latest[i]);
        cr_assert_geq(g.out_ms[j], earliest[i], "TIMER_OUT_MS before the time asked");
        if (j > 0)
            cr_assert_geq(g.out_ms[j], g.out_ms[j - 1], "delivered out of time order at position %d", j);
        cr_assert(prop_is(&g, j, RK_PROP_TAGS, "TagA") && prop_is(&g, j, RK_PROP_KEYS, "k1 k2") &&
                  prop_is(&g, j, "color", "blue"), "t%d lost a property", i);
        char uniq[32];
        snprintf(uniq, sizeof uniq, "u%d", i);
        cr_assert(prop_is(&g, j, RK_PROP_UNIQ_KEY, uniq));
        cr_assert(prop_is(&g, j, RK_PROP_REAL_TOPIC, "TT") && prop_is(&g, j, RK_PROP_REAL_QID, "0"));
        cr_assert(has_prop(&g, j, kinds[i % 4]), "t%d: the timing property the producer set is kept", i);
        cr_assert(prop_is(&g, j, RK_PROP_WAIT, "false"));
        cr_assert(has_prop(&g, j, RK_PROP_TIMER_ENQUEUE_MS) && has_prop(&g, j, RK_PROP_TIMER_DEQUEUE_MS));
    }
    /* the figures tools show */
    for (int k = 0; k < 100 && runtime_i64("timerDeliveredCount") < NT; k++)
        usleep(20000);
    cr_assert_eq(runtime_i64("timerDeliveredCount"), NT);
    cr_assert_eq(runtime_i64("timerPendingCount"), 0);
    cr_assert_eq(runtime_i64("timerReadOffset"), NT);
    cr_assert_eq(runtime_i64("timerPrecisionMs"), 10);
    /* a restart reads the timer log again from the checkpoint: what was delivered stays delivered */
    rk_rc_restart_broker(&cl, NULL, NULL);
    for (int k = 0; k < 250 && runtime_i64("timerReadOffset") < NT; k++)
        usleep(20000);
    cr_assert_eq(runtime_i64("timerReadOffset"), NT);
    usleep(300000);
    memset(&g, 0, sizeof g);
    rk_tk_pull_each(&tp, cl.br, "TT", 0, 0, collect, &g);
    cr_assert_eq(g.n, NT, "%d messages after a restart: delivered ones were delivered again", g.n);
    cr_assert_eq(runtime_i64("timerPendingCount"), 0);
}

Test(timer, illegal_times_are_refused_message_illegal_and_past_times_delivered_at_once)
{
    rk_rc_start(&cl, "timerMaxDelaySec=60\ntimerMaxPending=3\n");
    rk_rc_create_topic(&cl, "IT", 1);
    char remark[512], v[32];
    int64_t now = rk_now_ms();
    struct {
        const char *key;
        char value[32];
    } bad[] = {
        {RK_PROP_TIMER_DELAY_SEC, "61"},
        {RK_PROP_TIMER_DELAY_MS, "61000"},
        {RK_PROP_TIMER_DELIVER_MS, ""},
        {RK_PROP_START_DELIVER_TIME, ""},
        {RK_PROP_TIMER_DELIVER_MS, "soon"},
        {RK_PROP_TIMER_DELAY_SEC, "99999999999"},
        {RK_PROP_TIMER_DELAY_MS, "1.5"},
    };
    snprintf(bad[2].value, sizeof bad[2].value, "%" PRId64, now + 120000);
    snprintf(bad[3].value, sizeof bad[3].value, "%" PRId64, now + (int64_t)3 * 86400000);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int code = send_code("IT", "bad", props_with(0, bad[i].key, bad[i].value), remark, sizeof remark);
        cr_assert_eq(code, 13, "%s=%s: code %d (%s), expected MESSAGE_ILLEGAL", bad[i].key, bad[i].value, code, remark);
        cr_assert(strstr(remark, "timer message illegal") != NULL && strstr(remark, "60000ms") != NULL,
                  "remark: %s", remark);
    }
    /* nobody parks a message in the timer's own topic */
    cr_assert_neq(send_code(RK_TIMER_TOPIC, "x", props_with(0, NULL, NULL), NULL, 0), 0);
    /* a time already past: an ordinary message, there at once */
    snprintf(v, sizeof v, "%" PRId64, rk_now_ms() - 5000);
    cr_assert_eq(send_code("IT", "p0", props_with(0, RK_PROP_TIMER_DELIVER_MS, v), NULL, 0), 0);
    got_t g;
    pull_until("IT", 0, 1, &g, 5000);
    cr_assert_eq(g.n, 1, "only the past-time message is stored in IT (got %d)", g.n);
    cr_assert_eq(g.idx[0], 0);
    cr_assert(!has_prop(&g, 0, RK_PROP_TIMER_OUT_MS), "a past time is not parked");
    cr_assert_eq(runtime_i64("timerReadOffset"), 0, "nothing reached the timer log");
    /* timerMaxPending: the fourth waiting message is refused (flow control), nothing stored */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(send_code("IT", "w", props_with(0, RK_PROP_TIMER_DELAY_SEC, "50"), NULL, 0), 0);
    for (int k = 0; k < 250 && runtime_i64("timerPendingCount") < 3; k++)
        usleep(20000);
    cr_assert_eq(runtime_i64("timerPendingCount"), 3);
    int code = send_code("IT", "w", props_with(0, RK_PROP_TIMER_DELAY_SEC, "50"), remark, sizeof remark);
    cr_assert_eq(code, 1, "code %d (%s), expected SYSTEM_ERROR", code, remark);
    cr_assert(strstr(remark, "flow control") != NULL, "remark: %s", remark);
    usleep(200000);
    cr_assert_eq(runtime_i64("timerReadOffset"), 3);
}

Test(timer, a_level_is_clamped_and_restored_as_rocketmq_does)
{
    rk_rc_start(&cl, "messageDelayLevel=1s 2s\n");
    rk_rc_create_topic(&cl, "LT", 1);
    int64_t t0 = rk_now_ms();
    cr_assert_eq(send_code("LT", "l1", props_with(1, RK_PROP_DELAY, "1"), NULL, 0), 0);
    cr_assert_eq(send_code("LT", "l99", props_with(99, RK_PROP_DELAY, "99"), NULL, 0), 0);
    /* a level and a time: the level wins and the TIMER_* property goes (RocketMQ's checkIfTimerMessage) */
    char *both = props_with(7, RK_PROP_DELAY, "1");
    rk_buf_t b = {0};
    rk_buf_put(&b, both, strlen(both));
    rk_props_put(&b, RK_PROP_TIMER_DELAY_SEC, "30");
    rk_buf_put_u8(&b, 0);
    cr_assert_eq(send_code("LT", "l7", (const char *)b.data, NULL, 0), 0);
    rk_buf_free(&b);
    got_t g;
    pull_until("LT", 0, 3, &g, 15000);
    cr_assert_eq(g.n, 3);
    for (int j = 0; j < 3; j++) {
        cr_assert(!has_prop(&g, j, RK_PROP_TIMER_DELAY_SEC), "l%d kept TIMER_DELAY_SEC", g.idx[j]);
        int level = g.idx[j] == 99 ? 2 : 1;     /* 99 is clamped to the last level */
        cr_assert_geq(g.store_ts[j], t0 + 1000 * level, "l%d came before its level's delay", g.idx[j]);
        cr_assert(!has_prop(&g, j, RK_PROP_DELAY), "DELAY is removed");
        cr_assert(prop_is(&g, j, RK_PROP_WAIT, "false"), "WAIT=false, as messageTimeup");
        cr_assert(prop_is(&g, j, RK_PROP_REAL_TOPIC, "LT") && prop_is(&g, j, RK_PROP_REAL_QID, "0"));
        cr_assert(prop_is(&g, j, RK_PROP_TAGS, "TagA") && prop_is(&g, j, RK_PROP_KEYS, "k1 k2") &&
                  prop_is(&g, j, "color", "blue"));
    }
    cr_assert_eq(g.idx[2], 99, "level 1 (1 s) is put back before the clamped level 2 (2 s)");
    char *v = NULL;
    for (int k = 0; k < 100; k++) {
        free(v);
        v = rk_tk_runtime(&tp, cl.br, "scheduleMessageOffset_2");
        if (v != NULL && strcmp(v, "1,1") == 0)
            break;
        usleep(20000);
    }
    cr_assert(v != NULL && strcmp(v, "1,1") == 0, "scheduleMessageOffset_2 = %s", v ? v : "(none)");
    free(v);
    v = rk_tk_runtime(&tp, cl.br, "scheduleDelayLevels");
    cr_assert(v != NULL && strcmp(v, "2") == 0);
    free(v);
}

/* ---------------------------------------------------------------- 100 000 across kill -9 */

#define NKILL 100000
#define NQ 4
#define CAL (20 * 64)

static void append_conf(rk_rc_cluster_t *c, void *arg)
{
    FILE *f = fopen(c->conf, "a");
    cr_assert(f != NULL);
    fputs(arg, f);
    fclose(f);
}

typedef struct kill_state {
    uint8_t *seen;                  /* deliveries per message */
    int64_t *due;                   /* not before this */
    int64_t total, early, dup;
    int first_early;
} kill_state_t;

static void count_kill(void *arg, const rk_record_t *rec)
{
    kill_state_t *k = arg;
    char body[32];
    snprintf(body, sizeof body, "%.*s", (int)(rec->body_len < 31 ? rec->body_len : 31), (const char *)rec->body);
    int i = atoi(body + 1);
    if (body[0] != 'd' || i < 0 || i >= NKILL)
        return;                     /* the calibration messages */
    k->total++;
    if (k->seen[i]++ > 0)
        k->dup++;
    if (rec->store_ts < k->due[i]) {
        if (k->early++ == 0)
            k->first_early = i;
    }
}

static int64_t delivered_total(void)
{
    int64_t n = 0;
    for (int q = 0; q < NQ; q++) {
        rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_MAX_OFFSET);
        rk_cmd_ext_set(req, "topic", "KT");
        rk_cmd_ext_set_i64(req, "queueId", q);
        rk_cmd_t *resp = rk_rc_call(cl.br, req);
        int64_t off = 0;
        if (resp != NULL && resp->code == 0)
            rk_cmd_ext_i64(resp, "offset", &off);
        rk_cmd_free(resp);
        n += off;
    }
    return n;
}

Test(timer, a_hundred_thousand_pending_survive_kill_9_exactly_once_none_early)
{
    /* timerWheelNearSec=2: most timers wait in the per-second lists (kill -9 included) */
    rk_rc_start(&cl, "timerFlushIntervalMs=200\nflushDelayOffsetInterval=200\ntimerWheelNearSec=2\n");
    rk_rc_create_topic(&cl, "KT", NQ);
    static uint8_t seen[NKILL];
    static int64_t due[NKILL];
    kill_state_t k = {.seen = seen, .due = due};
    rk_producer_t *p;
    rk_producer_config_t pc = {.namesrv = cl.ns, .group = "kpg"};
    cr_assert_eq(rk_producer_new(&pc, &p), 0);
    static char bodies[64][16], pv[64][32];
    static rk_buf_t props[64];
    /* how fast this build sends (a sanitizer build is several times slower): 20 batches of
     * ordinary messages, so the timeline below leaves room for the kill before anything is due */
    uint64_t c0 = rk_mono_ms();
    for (int b = 0; b < 20; b++) {
        rk_message_t m[64];
        for (int n = 0; n < 64; n++)
            m[n] = (rk_message_t){.topic = "KT", .tags = "cal", .body = "cal", .body_len = 3};
        rk_send_result_t r;
        cr_assert_eq(rk_producer_send_batch(p, m, 64, &r), 0, "%s", r.error);
    }
    /* three times the estimate: on a shared machine under the sanitizers the real sends took
     * more than 1.5 times it (11.9 s), and the test gave up before the kill */
    int64_t est = (int64_t)(rk_mono_ms() - c0) * (NKILL / CAL) * 3;
    /* half timers spread over 2 s from t0 + 10 s (or later on a slow build), half levels */
    const int64_t lead = (est + 5000 > 10000 ? est + 5000 + 999 : 10000) / 1000 * 1000;
    char levels[64];
    snprintf(levels, sizeof levels, "messageDelayLevel=%" PRId64 "s %" PRId64 "s\n", lead / 1000 - 1, lead / 1000);
    rk_rc_restart_broker(&cl, append_conf, levels);
    rk_producer_free(p);
    cr_assert_eq(rk_producer_new(&pc, &p), 0);
    const int64_t t0 = rk_now_ms();
    for (int base = 0; base < NKILL; base += 64) {
        bool timer = (base / 64) % 2 == 0;
        int64_t before = rk_now_ms();
        rk_message_t m[64];
        int n = 0;
        for (int i = base; i < base + 64 && i < NKILL; i++, n++) {
            rk_buf_free(&props[n]);
            props[n] = (rk_buf_t){0};
            if (timer) {
                k.due[i] = t0 + lead + (i * 37) % 2000;
                snprintf(pv[n], sizeof pv[n], "%" PRId64, k.due[i]);
                rk_props_put(&props[n], RK_PROP_TIMER_DELIVER_MS, pv[n]);
            } else {
                int level = 1 + i % 2;
                k.due[i] = before + lead - (level == 1 ? 1000 : 0);
                rk_props_put(&props[n], RK_PROP_DELAY, level == 1 ? "1" : "2");
            }
            snprintf(bodies[n], sizeof bodies[n], "d%d", i);
            m[n] = (rk_message_t){.topic = "KT", .tags = "K", .body = bodies[n], .body_len = strlen(bodies[n]),
                                  .props = (const char *)props[n].data, .props_len = props[n].len};
        }
        rk_send_result_t r;
        cr_assert_eq(rk_producer_send_batch(p, m, (size_t)n, &r), 0, "batch at %d: %s", base, r.error);
    }
    for (int n = 0; n < 64; n++)
        rk_buf_free(&props[n]);
    rk_producer_free(p);
    int64_t sent_in = rk_now_ms() - t0;
    cr_assert_lt(sent_in, lead - 1500, "sending took %" PRId64 " ms: the first messages would be due before the kill",
                 sent_in);
    cr_assert_eq(delivered_total(), CAL, "nothing is due yet");
    rk_rc_kill9_restart_broker(&cl);
    /* everything arrives, once, none early */
    while (rk_now_ms() < t0 + lead + 2000 + 30000 && delivered_total() < NKILL + CAL)
        usleep(100000);
    usleep(300000);                 /* a duplicate would show now */
    for (int q = 0; q < NQ; q++)
        rk_tk_pull_each(&tp, cl.br, "KT", q, 0, count_kill, &k);
    int64_t missing = 0;
    for (int i = 0; i < NKILL; i++)
        missing += k.seen[i] == 0;
    cr_assert_eq(missing, 0, "%" PRId64 " of %d delayed messages never arrived after kill -9", missing, NKILL);
    cr_assert_eq(k.dup, 0, "%" PRId64 " delivered twice", k.dup);
    cr_assert_eq(k.total, NKILL);
    cr_assert_eq(k.early, 0, "%" PRId64 " delivered early (first d%d)", k.early, k.first_early);
}

/* ---------------------------------------------------------------- kill -9 while delivering */

#define NMID 20000

/* kill -9 in the middle of the deliveries: at least once — every message arrives (some may
 * twice: those put back after the last checkpoint), none before its time. */
Test(timer, kill_9_while_delivering_loses_nothing_and_delivers_nothing_early)
{
    rk_rc_start(&cl, "timerFlushIntervalMs=200\n");
    rk_rc_create_topic(&cl, "KT", NQ);
    static uint8_t seen[NKILL];
    static int64_t due[NKILL];
    kill_state_t k = {.seen = seen, .due = due};
    rk_producer_t *p;
    rk_producer_config_t pc = {.namesrv = cl.ns, .group = "kpg"};
    cr_assert_eq(rk_producer_new(&pc, &p), 0);
    static char bodies[64][16], pv[64][32];
    static rk_buf_t props[64];
    const int64_t t0 = rk_now_ms();
    for (int base = 0; base < NMID; base += 64) {
        rk_message_t m[64];
        for (int n = 0; n < 64; n++) {
            int i = base + n;
            rk_buf_free(&props[n]);
            props[n] = (rk_buf_t){0};
            due[i] = t0 + 3000 + (i * 7919) % 4000;     /* over 4 s, in no order */
            snprintf(pv[n], sizeof pv[n], "%" PRId64, due[i]);
            rk_props_put(&props[n], RK_PROP_TIMER_DELIVER_MS, pv[n]);
            snprintf(bodies[n], sizeof bodies[n], "d%d", i);
            m[n] = (rk_message_t){.topic = "KT", .body = bodies[n], .body_len = strlen(bodies[n]),
                                  .props = (const char *)props[n].data, .props_len = props[n].len};
        }
        rk_send_result_t r;
        cr_assert_eq(rk_producer_send_batch(p, m, 64, &r), 0, "%s", r.error);
    }
    for (int n = 0; n < 64; n++)
        rk_buf_free(&props[n]);
    rk_producer_free(p);
    /* some delivered, not all */
    int64_t before = 0;
    while (rk_now_ms() < t0 + 15000 && (before = delivered_total()) < NMID / 4)
        usleep(20000);
    cr_assert_lt(before, NMID, "everything was delivered before the kill: the test ran too slowly");
    rk_rc_kill9_restart_broker(&cl);
    int64_t end = rk_now_ms() + 30000;
    int64_t missing = NMID;
    while (rk_now_ms() < end && missing > 0) {
        memset(seen, 0, sizeof seen);
        k.total = k.dup = k.early = 0;
        for (int q = 0; q < NQ; q++)
            rk_tk_pull_each(&tp, cl.br, "KT", q, 0, count_kill, &k);
        missing = 0;
        for (int i = 0; i < NMID; i++)
            missing += seen[i] == 0;
        if (missing > 0)
            usleep(200000);
    }
    cr_assert_eq(missing, 0, "%" PRId64 " of %d messages lost by a kill -9 during delivery (%" PRId64
                 " delivered before it)", missing, NMID, before);
    cr_assert_eq(k.early, 0, "%" PRId64 " delivered early (first d%d)", k.early, k.first_early);
    cr_assert_leq(k.dup, before, "more duplicates than deliveries before the kill");
}
