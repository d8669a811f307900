/* test_timing_wheel.c — the hierarchical timing wheel on a simulated clock.
 *
 * No real time passes: every test drives rk_tw_advance with made-up
 * milliseconds, so they are deterministic (seeded PRNG) and take seconds
 * even for three simulated days and a million timers. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rk/error.h"
#include "rk/timing_wheel.h"

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define T0 1000000LL /* an arbitrary start, like rk_mono_ms() after boot */

/* A caller's struct with the entry embedded, as chapter 9's retry record will be. */
typedef struct {
    int id;
    int fires;
    int64_t fired_now; /* the `now` of the advance call that fired it */
    rk_tw_entry_t tw;
} timer_t_;

/* What one advance call saw: the order of firing and the now it ran with. */
typedef struct {
    int64_t now;
    int order[4096];
    int n;
} log_t;

static void record(rk_tw_t *w, rk_tw_entry_t *e, void *arg)
{
    (void)w;
    log_t *lg = arg;
    timer_t_ *t = rk_tw_container_of(e, timer_t_, tw);
    cr_assert(!rk_tw_pending(e), "an entry is no longer pending in its callback");
    t->fires++;
    t->fired_now = lg->now;
    if (lg->n < 4096)
        lg->order[lg->n++] = t->id;
}

static long adv(rk_tw_t *w, log_t *lg, int64_t now)
{
    lg->now = now;
    return rk_tw_advance(w, now, record, lg);
}

static uint64_t rng_state;
static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static rk_tw_t *wheel(int64_t tick, int64_t start)
{
    int err = 1;
    rk_tw_t *w = rk_tw_create(tick, start, &err);
    cr_assert_not_null(w);
    cr_assert_eq(err, 0);
    return w;
}

Test(timing_wheel, create_accepts_only_ticks_that_divide_a_second)
{
    int64_t bad[] = {0, -1, 3, 7, 1000, 2000, 333};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int err = 0;
        cr_assert_null(rk_tw_create(bad[i], 0, &err), "tick %lld", (long long)bad[i]);
        cr_assert_eq(err, RK_EINVAL);
    }
    int64_t good[] = {1, 2, 5, 10, 25, 100, 500};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        rk_tw_t *w = wheel(good[i], 0);
        cr_assert_eq(rk_tw_count(w), 0);
        cr_assert_eq(rk_tw_next_wakeup(w), INT64_MAX);
        rk_tw_destroy(w);
    }
    rk_tw_destroy(NULL);
    rk_tw_t *w = wheel(1, 0);
    rk_tw_entry_t e = {0};
    cr_assert_eq(rk_tw_schedule(NULL, &e, 5), RK_EINVAL);
    cr_assert_eq(rk_tw_schedule(w, NULL, 5), RK_EINVAL);
    cr_assert_eq(rk_tw_cancel(w, NULL), RK_EINVAL);
    cr_assert_eq(rk_tw_advance(w, 5, NULL, NULL), RK_EINVAL);
    cr_assert_eq(rk_tw_count(w), 0);
    rk_tw_destroy(w);
}

Test(timing_wheel, an_entry_fires_at_its_deadline_never_before)
{
    rk_tw_t *w = wheel(1, T0);
    log_t lg = {0};
    timer_t_ t = {.id = 1};
    cr_assert_eq(rk_tw_schedule(w, &t.tw, T0 + 5), 0);
    cr_assert(rk_tw_pending(&t.tw));
    cr_assert_eq(rk_tw_count(w), 1);
    cr_assert_eq(rk_tw_next_wakeup(w), T0 + 5);
    cr_assert_eq(adv(w, &lg, T0 + 4), 0);
    cr_assert_eq(t.fires, 0);
    cr_assert_eq(adv(w, &lg, T0 + 5), 1);
    cr_assert_eq(t.fires, 1);
    cr_assert_eq(rk_tw_count(w), 0);
    cr_assert_eq(adv(w, &lg, T0 + 100), 0, "fires once");
    cr_assert_eq(rk_tw_next_wakeup(w), INT64_MAX);
    rk_tw_destroy(w);
}

Test(timing_wheel, a_coarse_tick_rounds_the_deadline_up_never_down)
{
    rk_tw_t *w = wheel(10, T0);
    log_t lg = {0};
    timer_t_ t = {.id = 1};
    rk_tw_schedule(w, &t.tw, T0 + 15);
    cr_assert_eq(rk_tw_next_wakeup(w), T0 + 20);
    cr_assert_eq(adv(w, &lg, T0 + 10), 0);
    cr_assert_eq(adv(w, &lg, T0 + 15), 0, "between ticks: waits for the tick at or after the deadline");
    cr_assert_eq(adv(w, &lg, T0 + 19), 0);
    cr_assert_eq(adv(w, &lg, T0 + 20), 1, "late by 5 ms, less than one tick");
    /* A deadline on the grid fires exactly then. */
    rk_tw_schedule(w, &t.tw, T0 + 40);
    cr_assert_eq(adv(w, &lg, T0 + 39), 0);
    cr_assert_eq(adv(w, &lg, T0 + 40), 1);
    rk_tw_destroy(w);
}

/* One entry per level (and beyond), stepping the clock one millisecond at a
 * time for an hour and two minutes: each fires exactly at its deadline,
 * after being cascaded down through the levels above level 0. */
Test(timing_wheel, cascades_across_every_level_to_the_exact_millisecond)
{
    rk_tw_t *w = wheel(1, T0);
    log_t lg = {0};
    int64_t due[] = {7, 999, 1000, 1001, 59 * SEC + 999, MIN, MIN + 1, 17 * MIN + 3 * SEC + 7,
                     HOUR - 1, HOUR, HOUR + 1, HOUR + 2 * MIN + 3};
    enum { N = sizeof due / sizeof due[0] };
    timer_t_ t[N];
    for (int i = 0; i < N; i++) {
        t[i] = (timer_t_){.id = i};
        rk_tw_schedule(w, &t[i].tw, T0 + due[i]);
    }
    for (int64_t now = T0 + 1; now <= T0 + HOUR + 3 * MIN; now++)
        adv(w, &lg, now);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(t[i].fires, 1, "entry %d", i);
        cr_assert_eq(t[i].fired_now, T0 + due[i], "entry %d due at +%lld fired at +%lld", i,
                     (long long)due[i], (long long)(t[i].fired_now - T0));
    }
    cr_assert_eq(lg.n, N);
    for (int i = 0; i < N; i++)
        cr_assert_eq(lg.order[i], i, "deadline order");
    rk_tw_destroy(w);
}

/* The wake-up times show the path of one far entry down the levels: the top
 * level's furthest slot while it is more than a day away, then its hour,
 * minute, second, and finally its millisecond. */
Test(timing_wheel, a_far_entry_walks_down_hours_minutes_seconds_milliseconds)
{
    rk_tw_t *w = wheel(1, T0);
    log_t lg = {0};
    timer_t_ t = {.id = 1};
    int64_t d = 2 * DAY + 3 * HOUR + 4 * MIN + 5 * SEC + 6;
    rk_tw_schedule(w, &t.tw, T0 + d);
    int64_t want[] = {DAY, 47 * HOUR, 51 * HOUR, 51 * HOUR + 4 * MIN, 51 * HOUR + 4 * MIN + 5 * SEC, d};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int64_t at = rk_tw_next_wakeup(w);
        cr_assert_eq(at, T0 + want[i], "step %zu: wake-up at +%lld, want +%lld", i, (long long)(at - T0),
                     (long long)want[i]);
        cr_assert_eq(adv(w, &lg, at - 1), 0);
        cr_assert_eq(adv(w, &lg, at), i + 1 == sizeof want / sizeof want[0] ? 1 : 0);
    }
    cr_assert_eq(t.fires, 1);
    cr_assert_eq(t.fired_now, T0 + d);
    rk_tw_destroy(w);
}

Test(timing_wheel, many_entries_in_one_slot_all_fire_in_deadline_order)
{
    rk_tw_t *w = wheel(10, T0);
    enum { N = 4000 };
    timer_t_ *t = calloc(N, sizeof *t);
    log_t *lg = calloc(1, sizeof *lg);
    /* All in the tick ending at +35 s: deadlines +34 991 .. +35 000, in
     * scrambled order, several per millisecond. */
    for (int i = 0; i < N; i++) {
        t[i].id = i;
        rk_tw_schedule(w, &t[i].tw, T0 + 35 * SEC - 9 + (int64_t)((i * 7919) % 10));
    }
    cr_assert_eq(rk_tw_count(w), N);
    cr_assert_eq(rk_tw_next_wakeup(w) <= T0 + 35 * SEC, 1);
    cr_assert_eq(adv(w, lg, T0 + 35 * SEC - 1), 0);
    cr_assert_eq(adv(w, lg, T0 + 35 * SEC), N);
    cr_assert_eq(lg->n, N);
    for (int i = 1; i < N; i++)
        cr_assert_leq(rk_tw_entry_deadline(&t[lg->order[i - 1]].tw), rk_tw_entry_deadline(&t[lg->order[i]].tw));
    for (int i = 0; i < N; i++)
        cr_assert_eq(t[i].fires, 1);
    cr_assert_eq(rk_tw_count(w), 0);
    free(t);
    free(lg);
    rk_tw_destroy(w);
}

Test(timing_wheel, far_future_entries_days_to_a_year_fire_on_time_through_jumps)
{
    rk_tw_t *w = wheel(1, T0);
    log_t lg = {0};
    int64_t due[] = {DAY - 1, DAY, DAY + 1, 3 * DAY + 7, 10 * DAY + HOUR, 365 * DAY + 1};
    enum { N = sizeof due / sizeof due[0] };
    timer_t_ t[N];
    for (int i = N - 1; i >= 0; i--) {
        t[i] = (timer_t_){.id = i};
        rk_tw_schedule(w, &t[i].tw, T0 + due[i]);
    }
    for (int i = 0; i < N; i++) {
        cr_assert_eq(adv(w, &lg, T0 + due[i] - 1), 0, "entry %d not early", i);
        cr_assert_eq(adv(w, &lg, T0 + due[i]), 1, "entry %d on time", i);
        cr_assert_eq(t[i].fired_now, T0 + due[i]);
    }
    cr_assert_eq(rk_tw_count(w), 0);
    rk_tw_destroy(w);
}

/* Hours, then ten years, in single calls. Stepping tick by tick through ten
 * years would be 3*10^11 iterations: this test would hit its timeout. */
Test(timing_wheel, time_jumping_forward_fires_everything_due_in_order, .timeout = 30)
{
    rk_tw_t *w = wheel(1, T0);
    log_t *lg = calloc(1, sizeof *lg);
    enum { N = 3000 };
    timer_t_ *t = calloc(N, sizeof *t);
    rng_state = 42;
    for (int i = 0; i < N; i++) {
        t[i].id = i;
        rk_tw_schedule(w, &t[i].tw, T0 + 1 + (int64_t)(rnd() % (5 * HOUR)));
    }
    timer_t_ far = {.id = N};
    rk_tw_schedule(w, &far.tw, T0 + 10 * 365 * DAY);
    cr_assert_eq(adv(w, lg, T0 + 5 * HOUR), N);
    for (int i = 1; i < N; i++)
        cr_assert_leq(rk_tw_entry_deadline(&t[lg->order[i - 1]].tw), rk_tw_entry_deadline(&t[lg->order[i]].tw));
    cr_assert_eq(rk_tw_count(w), 1);
    lg->n = 0;
    cr_assert_eq(adv(w, lg, T0 + 10 * 365 * DAY - 1), 0);
    cr_assert_eq(adv(w, lg, T0 + 10 * 365 * DAY + 5 * DAY), 1);
    cr_assert_eq(far.fires, 1);
    free(t);
    free(lg);
    rk_tw_destroy(w);
}

Test(timing_wheel, time_going_backward_fires_nothing_until_it_catches_up)
{
    rk_tw_t *w = wheel(1, T0);
    log_t lg = {0};
    timer_t_ a = {.id = 1}, b = {.id = 2};
    adv(w, &lg, T0 + 10 * SEC);
    rk_tw_schedule(w, &a.tw, T0 + 10 * SEC + 500);
    cr_assert_eq(adv(w, &lg, T0 + 5 * SEC), 0, "backward");
    cr_assert_eq(rk_tw_now(w), T0 + 10 * SEC, "the wheel keeps the latest now");
    /* Scheduled while the caller's clock reads 5 s: due by the wheel's time. */
    rk_tw_schedule(w, &b.tw, T0 + 6 * SEC);
    cr_assert_eq(rk_tw_next_wakeup(w), T0 + 10 * SEC);
    cr_assert_eq(adv(w, &lg, T0 + 5 * SEC + 1), 0, "still behind: never early");
    cr_assert_eq(b.fires, 0);
    cr_assert_eq(adv(w, &lg, T0 + 10 * SEC), 1, "caught up: the overdue one fires");
    cr_assert_eq(b.fires, 1);
    cr_assert_eq(a.fires, 0);
    cr_assert_eq(adv(w, &lg, T0 + 10 * SEC + 499), 0);
    cr_assert_eq(adv(w, &lg, T0 + 10 * SEC + 500), 1);
    rk_tw_destroy(w);
}

Test(timing_wheel, a_deadline_in_the_past_fires_at_the_next_advance)
{
    rk_tw_t *w = wheel(10, T0);
    log_t lg = {0};
    timer_t_ a = {.id = 1}, b = {.id = 2}, c = {.id = 3};
    adv(w, &lg, T0 + 1234);
    rk_tw_schedule(w, &a.tw, T0 + 1234);
    rk_tw_schedule(w, &b.tw, T0);
    rk_tw_schedule(w, &c.tw, T0 + 1235);
    cr_assert_eq(rk_tw_next_wakeup(w), T0 + 1234);
    cr_assert_eq(adv(w, &lg, T0 + 1234), 2, "same now: the two due ones fire");
    cr_assert_eq(lg.order[0], 2, "in deadline order");
    cr_assert_eq(lg.order[1], 1);
    cr_assert_eq(adv(w, &lg, T0 + 1239), 0);
    cr_assert_eq(adv(w, &lg, T0 + 1240), 1);
    rk_tw_destroy(w);
}

Test(timing_wheel, cancel_removes_a_pending_entry_in_o1)
{
    rk_tw_t *w = wheel(1, T0);
    log_t lg = {0};
    timer_t_ t[5];
    int64_t due[5] = {10, 2 * SEC, 3 * MIN, 5 * HOUR, 3 * DAY};
    for (int i = 0; i < 5; i++) {
        t[i] = (timer_t_){.id = i};
        cr_assert_eq(rk_tw_cancel(w, &t[i].tw), RK_ENOTFOUND, "never scheduled");
        rk_tw_schedule(w, &t[i].tw, T0 + due[i]);
    }
    for (int i = 0; i < 5; i += 2)
        cr_assert_eq(rk_tw_cancel(w, &t[i].tw), 0);
    cr_assert_eq(rk_tw_cancel(w, &t[0].tw), RK_ENOTFOUND, "twice");
    cr_assert_eq(rk_tw_count(w), 2);
    adv(w, &lg, T0 + 4 * DAY);
    cr_assert_eq(lg.n, 2);
    cr_assert_eq(t[1].fires + t[3].fires, 2);
    cr_assert_eq(t[0].fires + t[2].fires + t[4].fires, 0);
    cr_assert_eq(rk_tw_cancel(w, &t[1].tw), RK_ENOTFOUND, "after firing");
    cr_assert_eq(rk_tw_next_wakeup(w), INT64_MAX);
    /* Scheduling a pending entry again moves it. */
    rk_tw_schedule(w, &t[0].tw, T0 + 4 * DAY + 100);
    rk_tw_schedule(w, &t[0].tw, T0 + 4 * DAY + 50);
    cr_assert_eq(rk_tw_count(w), 1);
    cr_assert_eq(adv(w, &lg, T0 + 4 * DAY + 50), 1);
    cr_assert_eq(adv(w, &lg, T0 + 4 * DAY + 100), 0);
    rk_tw_destroy(w);
}

/* Callbacks that act on the wheel while it fires. */
typedef struct {
    log_t lg;
    timer_t_ *victim;   /* cancelled by the first entry to fire */
    timer_t_ *moved;    /* pushed back by 1 s by the first entry to fire */
    int64_t period;     /* the periodic one reschedules itself */
    timer_t_ *periodic;
    int self_again;     /* reschedule self at a deadline <= now, this many times */
} meddler_t;

static void meddle(rk_tw_t *w, rk_tw_entry_t *e, void *arg)
{
    meddler_t *m = arg;
    timer_t_ *t = rk_tw_container_of(e, timer_t_, tw);
    record(w, e, &m->lg);
    if (m->victim) {
        cr_assert_eq(rk_tw_cancel(w, &m->victim->tw), 0);
        m->victim = NULL;
    }
    if (m->moved) {
        cr_assert_eq(rk_tw_schedule(w, &m->moved->tw, m->lg.now + SEC), 0);
        m->moved = NULL;
    }
    if (t == m->periodic)
        cr_assert_eq(rk_tw_schedule(w, e, rk_tw_entry_deadline(e) + m->period), 0);
    if (m->self_again > 0 && t->id == 99) {
        m->self_again--;
        cr_assert_eq(rk_tw_schedule(w, e, m->lg.now), 0);
    }
    cr_assert_eq(rk_tw_advance(w, m->lg.now, record, &m->lg), RK_EBUSY, "no advance from a callback");
    cr_assert_eq(rk_tw_drain(w, NULL, NULL), 0, "no drain from a callback");
}

static long adv_m(rk_tw_t *w, meddler_t *m, int64_t now)
{
    m->lg.now = now;
    return rk_tw_advance(w, now, meddle, m);
}

Test(timing_wheel, a_callback_can_cancel_entries_due_in_the_same_slot_or_later)
{
    rk_tw_t *w = wheel(1, T0);
    meddler_t m = {0};
    timer_t_ a = {.id = 1}, b = {.id = 2}, c = {.id = 3}, d = {.id = 4};
    rk_tw_schedule(w, &a.tw, T0 + 100);
    rk_tw_schedule(w, &b.tw, T0 + 100); /* same slot as a, after it */
    rk_tw_schedule(w, &c.tw, T0 + 150); /* same advance call, later slot */
    rk_tw_schedule(w, &d.tw, T0 + 100);
    m.victim = &b;
    m.moved = &c;
    cr_assert_eq(adv_m(w, &m, T0 + 200), 2, "a and d fire; b cancelled, c moved");
    cr_assert_eq(a.fires + d.fires, 2);
    cr_assert_eq(b.fires + c.fires, 0);
    cr_assert_eq(rk_tw_count(w), 1);
    cr_assert_eq(adv_m(w, &m, T0 + 200 + SEC - 1), 0);
    cr_assert_eq(adv_m(w, &m, T0 + 200 + SEC), 1);
    cr_assert_eq(c.fires, 1);
    cr_assert_eq(c.fired_now, T0 + 200 + SEC);
    rk_tw_destroy(w);
}

Test(timing_wheel, a_callback_can_reschedule_itself_without_drift_or_livelock)
{
    rk_tw_t *w = wheel(1, T0);
    meddler_t m = {0};
    timer_t_ p = {.id = 7}, again = {.id = 99};
    m.periodic = &p;
    m.period = 1500;
    rk_tw_schedule(w, &p.tw, T0 + 1500);
    /* Irregular calls, sometimes late: the next deadline is computed from
     * the previous deadline, so it stays on the 1.5 s grid. */
    int64_t now = T0;
    for (int i = 0; i < 3000; i++) {
        now += 1 + (int64_t)(i * 37 % 900);
        adv_m(w, &m, now);
    }
    cr_assert_eq(p.fires, (int)((now - T0) / 1500), "fired once per period over %lld ms", (long long)(now - T0));
    cr_assert_eq(rk_tw_entry_deadline(&p.tw), T0 + 1500 * (p.fires + 1));
    rk_tw_cancel(w, &p.tw);
    /* Rescheduling at a deadline <= now from the callback: once per call. */
    m.self_again = 5;
    rk_tw_schedule(w, &again.tw, now + 1);
    for (int i = 1; i <= 6; i++) {
        cr_assert_eq(adv_m(w, &m, now + 1), 1, "call %d fires it once", i);
        cr_assert_eq(again.fires, i);
    }
    cr_assert_eq(adv_m(w, &m, now + 1), 0);
    rk_tw_destroy(w);
}

static void count_and_free(rk_tw_t *w, rk_tw_entry_t *e, void *arg)
{
    (void)w;
    (*(int *)arg)++;
    free(rk_tw_container_of(e, timer_t_, tw));
}

Test(timing_wheel, drain_hands_back_every_pending_entry)
{
    rk_tw_t *w = wheel(1, T0);
    rng_state = 7;
    for (int i = 0; i < 1000; i++) {
        timer_t_ *t = calloc(1, sizeof *t);
        cr_assert_not_null(t);
        rk_tw_schedule(w, &t->tw, T0 - 5 + (int64_t)(rnd() % (40 * DAY)));
    }
    int n = 0;
    cr_assert_eq(rk_tw_drain(w, count_and_free, &n), 1000);
    cr_assert_eq(n, 1000);
    cr_assert_eq(rk_tw_count(w), 0);
    cr_assert_eq(rk_tw_next_wakeup(w), INT64_MAX);
    rk_tw_destroy(w);
}

Test(timing_wheel, wheel_memory_per_entry_is_at_most_64_bytes_at_a_million)
{
    rk_tw_t *w = wheel(1, 0);
    size_t per = sizeof(rk_tw_entry_t) + (rk_tw_memory_bytes(w) + 999999) / 1000000;
    cr_assert_leq(per, 64, "%zu bytes per pending entry", per);
    cr_assert_leq(rk_tw_memory_bytes(w), 64 * 1024, "the fixed part is %zu bytes", rk_tw_memory_bytes(w));
    rk_tw_destroy(w);
}

/* ---- the long run ---- */

typedef struct item item_t;
typedef struct {
    item_t *items;
    int n;
    long cancelled;
    int64_t prev_now; /* the now of the previous advance call */
    int64_t now;
    int64_t tick;
    int64_t start;
    int64_t last_deadline;
    long fired;
    long reschedules_left;
    int64_t horizon;
    int bad;
} run_t;

struct item {
    rk_tw_entry_t tw;
    int32_t fires;
    int16_t rescheduled;
    int16_t cancelled;
};

static int64_t grid_up(const run_t *r, int64_t d)
{
    int64_t k = (d - r->start + r->tick - 1) / r->tick;
    return r->start + k * r->tick;
}

static void long_run_fire(rk_tw_t *w, rk_tw_entry_t *e, void *arg)
{
    run_t *r = arg;
    item_t *it = rk_tw_container_of(e, item_t, tw);
    int64_t d = rk_tw_entry_deadline(e);
    it->fires++;
    r->fired++;
    /* Never early; in the first call whose now reached the deadline's tick,
     * which is less than one tick after the deadline; in deadline order. */
    if (d > r->now || grid_up(r, d) > r->now || grid_up(r, d) <= r->prev_now || grid_up(r, d) - d >= r->tick ||
        d < r->last_deadline) {
        if (r->bad++ < 5)
            cr_log_error("deadline %lld fired at now %lld (previous call %lld, last deadline %lld)", (long long)d,
                         (long long)r->now, (long long)r->prev_now, (long long)r->last_deadline);
    }
    r->last_deadline = d;
    /* One in eight reschedules itself once, from the callback, further on. */
    if (!it->rescheduled && r->reschedules_left > 0 && (rnd() & 7) == 0) {
        r->reschedules_left--;
        it->rescheduled = 1;
        it->fires = 0;
        int64_t nd = r->now + 1 + (int64_t)(rnd() % (r->horizon / 4));
        rk_tw_schedule(w, e, nd);
    }
    /* One in sixteen cancels some other timer, if it is still pending. */
    if ((rnd() & 15) == 0) {
        item_t *o = &r->items[rnd() % (uint64_t)r->n];
        if (rk_tw_pending(&o->tw)) {
            cr_assert_eq(rk_tw_cancel(w, &o->tw), 0);
            o->cancelled = 1;
            r->cancelled++;
        }
    }
}

static void long_run(int64_t tick, int n, uint64_t seed)
{
    run_t r = {.tick = tick, .start = T0, .horizon = 3 * DAY, .reschedules_left = n / 8};
    rng_state = seed;
    rk_tw_t *w = wheel(tick, T0);
    item_t *items = calloc((size_t)n, sizeof *items);
    cr_assert_not_null(items);
    r.items = items;
    r.n = n;
    for (int i = 0; i < n; i++)
        cr_assert_eq(rk_tw_schedule(w, &items[i].tw, T0 + 1 + (int64_t)(rnd() % (uint64_t)r.horizon)), 0);
    cr_assert_eq(rk_tw_count(w), (size_t)n);
    long calls = 0;
    r.now = r.prev_now = T0;
    while (rk_tw_count(w) > 0) {
        /* Mostly small irregular steps, now and then a jump of up to 20 min,
         * now and then straight to the next wake-up the wheel asks for. */
        uint64_t k = rnd() % 100;
        int64_t step = k < 95 ? 1 + (int64_t)(rnd() % 3000) : k < 97 ? (int64_t)(rnd() % (20 * MIN)) : 0;
        int64_t next = rk_tw_next_wakeup(w);
        r.prev_now = r.now;
        r.now = step ? r.now + step : (next > r.now ? next : r.now);
        cr_assert_geq(rk_tw_advance(w, r.now, long_run_fire, &r), 0);
        calls++;
        cr_assert_lt(r.now, T0 + 5 * DAY, "the run ends");
    }
    cr_assert_eq(r.bad, 0, "%d entries fired early, late or out of order", r.bad);
    long want = n + (n / 8 - r.reschedules_left) - r.cancelled;
    cr_assert_eq(r.fired, want, "fired %ld of %ld", r.fired, want);
    cr_assert_gt(r.cancelled, n / 100);
    for (int i = 0; i < n; i++)
        cr_assert_eq(items[i].fires, items[i].cancelled ? 0 : 1, "item %d fired %d times", i, items[i].fires);
    cr_assert_gt(calls, 1000);
    free(items);
    rk_tw_destroy(w);
}

Test(timing_wheel, a_million_random_deadlines_over_three_days_fire_once_on_time_in_order, .timeout = 120)
{
    long_run(1, 1000000, 20261202);
}

Test(timing_wheel, the_same_with_a_10ms_tick, .timeout = 120)
{
    long_run(10, 200000, 11);
}
