/* bench_timing_wheel.c — the timing wheel against a binary heap, at a million pending timers.
 *
 * Both hold the same workload, one after the other in this run:
 *
 *   1. insert:  N timers with random deadlines 1 ms .. 10 min ahead;
 *   2. cancel:  every other timer cancelled, then put back (not timed);
 *   3. steady:  ten simulated minutes at N pending, the clock advanced one
 *               millisecond at a time (600 000 ticks, as a loop thread would),
 *               every expired timer rescheduled 1 ms .. 10 min ahead, so N
 *               stay pending: ~N expiries + N inserts, plus the cost of every
 *               tick, empty or not;
 *   4. burst:   the clock jumps 10 minutes at once and all N expire;
 *   5. idle:    N timers hours away, 600 000 one-millisecond advances that
 *               fire nothing: the floor cost of a tick.
 *
 * Then memory per pending timer (the wheel: its 32-byte intrusive entry plus
 * its fixed slot table shared out; the heap: deadline + index in the item
 * plus its pointer array), and the wheel alone in a real-time loop for 2 s
 * (sleep until rk_tw_next_wakeup, advance with rk_mono_ms): how late timers
 * fire against the wall clock with N pending and ~N/5 s expiring.
 *
 * The heap is the textbook alternative (what java.util.concurrent's
 * DelayQueue uses): O(log N) insert, cancel and expiry, O(1) to look at the
 * earliest. RK_BENCH_N overrides N (default 1 000 000). Prints figures only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/grow.h"
#include "rk/timing_wheel.h"

#define T0 1000000LL
#define SPAN_MS 600000LL /* deadlines up to 10 minutes ahead */

static uint64_t rs = 88172645463325252ull;
static inline uint64_t rnd(void) /* xorshift64 */
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}
static inline int64_t delay(void)
{
    return 1 + (int64_t)(rnd() % SPAN_MS);
}

static double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* ---- the wheel side ---- */

typedef struct {
    rk_tw_entry_t tw;
} witem_t;

typedef struct {
    int64_t now;
    long fired;
    bool reschedule;
} wctx_t;

static void wheel_fire(rk_tw_t *w, rk_tw_entry_t *e, void *arg)
{
    wctx_t *c = arg;
    c->fired++;
    if (c->reschedule)
        rk_tw_schedule(w, e, c->now + delay());
}

/* ---- the heap side: a binary min-heap of pointers, each item knows its index ---- */

typedef struct {
    int64_t deadline;
    size_t idx;
} hitem_t;

typedef struct {
    hitem_t **a;
    size_t n, cap;
} heap_t;

static void heap_set(heap_t *h, size_t i, hitem_t *x)
{
    h->a[i] = x;
    x->idx = i;
}

static void sift_up(heap_t *h, size_t i)
{
    hitem_t *x = h->a[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->a[p]->deadline <= x->deadline)
            break;
        heap_set(h, i, h->a[p]);
        i = p;
    }
    heap_set(h, i, x);
}

static void sift_down(heap_t *h, size_t i)
{
    hitem_t *x = h->a[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->a[c + 1]->deadline < h->a[c]->deadline)
            c++;
        if (x->deadline <= h->a[c]->deadline)
            break;
        heap_set(h, i, h->a[c]);
        i = c;
    }
    heap_set(h, i, x);
}

static int heap_push(heap_t *h, hitem_t *x, int64_t deadline)
{
    if (RK_GROW(h->a, h->cap, h->n + 1, 1024) != RK_OK)
        return -1;
    x->deadline = deadline;
    h->a[h->n] = x;
    x->idx = h->n++;
    sift_up(h, x->idx);
    return 0;
}

static void heap_remove(heap_t *h, hitem_t *x)
{
    size_t i = x->idx;
    hitem_t *last = h->a[--h->n];
    if (i == h->n)
        return;
    heap_set(h, i, last);
    if (i > 0 && h->a[(i - 1) / 2]->deadline > last->deadline)
        sift_up(h, i);
    else
        sift_down(h, i);
}

/* ---- real-time lateness ---- */

typedef struct {
    uint64_t *late_us;
    size_t n, cap;
    int64_t now;
} rt_t;

static void rt_fire(rk_tw_t *w, rk_tw_entry_t *e, void *arg)
{
    rt_t *r = arg;
    int64_t d = rk_tw_entry_deadline(e);
    int64_t late_us = (int64_t)(rk_mono_ns() / 1000) - d * 1000;
    if (r->n < r->cap)
        r->late_us[r->n++] = late_us < 0 ? 0 : (uint64_t)late_us;
    rk_tw_schedule(w, e, r->now + 5000 + (int64_t)(rnd() % 1000));
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void sleep_until_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
        ;
}

static void realtime(witem_t *items, long n)
{
    int err;
    int64_t start = (int64_t)rk_mono_ms();
    rk_tw_t *w = rk_tw_create(1, start, &err);
    rt_t r = {.cap = (size_t)n * 2};
    r.late_us = malloc(r.cap * sizeof *r.late_us);
    if (!w || !r.late_us) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (long i = 0; i < n; i++) {
        rk_tw_entry_init(&items[i].tw);
        rk_tw_schedule(w, &items[i].tw, start + 1 + (int64_t)(rnd() % 5000));
    }
    long calls = 0;
    int64_t end = start + 2000;
    for (;;) {
        int64_t now = (int64_t)rk_mono_ms();
        if (now >= end)
            break;
        int64_t next = rk_tw_next_wakeup(w);
        if (next > now) {
            sleep_until_ms(next < end ? next : end);
            now = (int64_t)rk_mono_ms();
        }
        r.now = now;
        rk_tw_advance(w, now, rt_fire, &r);
        calls++;
    }
    qsort(r.late_us, r.n, sizeof *r.late_us, cmp_u64);
    if (r.n > 0)
        printf("realtime: %zu timers fired in 2 s with %ld pending (%ld advance calls): lateness against the\n"
               "          wall clock p50 %.2f ms, p99 %.2f ms, max %.2f ms (one tick is 1 ms)\n",
               r.n, n, calls, r.late_us[r.n / 2] / 1000.0, r.late_us[r.n * 99 / 100] / 1000.0,
               r.late_us[r.n - 1] / 1000.0);
    free(r.late_us);
    rk_tw_destroy(w);
}

int main(void)
{
    long n = 1000000;
    const char *env = getenv("RK_BENCH_N");
    if (env && atol(env) > 0)
        n = atol(env);
    witem_t *wi = calloc((size_t)n, sizeof *wi);
    hitem_t *hi = calloc((size_t)n, sizeof *hi);
    int err;
    rk_tw_t *w = rk_tw_create(1, T0, &err);
    heap_t h = {0};
    if (!wi || !hi || !w) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    printf("ch09 bench: timing wheel (1 ms tick) vs binary heap, %ld pending timers, deadlines 1 ms .. 10 min\n", n);

    /* 1. insert */
    uint64_t seed = rs;
    uint64_t t = rk_mono_ns();
    for (long i = 0; i < n; i++)
        rk_tw_schedule(w, &wi[i].tw, T0 + delay());
    double w_ins = secs(rk_mono_ns() - t);
    rs = seed;
    t = rk_mono_ns();
    for (long i = 0; i < n; i++)
        if (heap_push(&h, &hi[i], T0 + delay()) != 0)
            return 1;
    double h_ins = secs(rk_mono_ns() - t);

    /* 2. cancel half */
    t = rk_mono_ns();
    for (long i = 0; i < n; i += 2)
        rk_tw_cancel(w, &wi[i].tw);
    double w_can = secs(rk_mono_ns() - t);
    t = rk_mono_ns();
    for (long i = 0; i < n; i += 2)
        heap_remove(&h, &hi[i]);
    double h_can = secs(rk_mono_ns() - t);
    long ncan = (n + 1) / 2;
    seed = rs;
    for (long i = 0; i < n; i += 2)
        rk_tw_schedule(w, &wi[i].tw, T0 + delay());
    rs = seed;
    for (long i = 0; i < n; i += 2)
        heap_push(&h, &hi[i], T0 + delay());

    /* 3. steady state: one tick at a time for ten simulated minutes */
    seed = rs;
    wctx_t c = {.reschedule = true};
    t = rk_mono_ns();
    for (int64_t now = T0 + 1; now <= T0 + SPAN_MS; now++) {
        c.now = now;
        rk_tw_advance(w, now, wheel_fire, &c);
    }
    double w_st = secs(rk_mono_ns() - t);
    long w_fired = c.fired;
    rs = seed;
    long h_fired = 0;
    t = rk_mono_ns();
    for (int64_t now = T0 + 1; now <= T0 + SPAN_MS; now++)
        while (h.n > 0 && h.a[0]->deadline <= now) {
            hitem_t *x = h.a[0];
            heap_remove(&h, x);
            h_fired++;
            heap_push(&h, x, now + delay());
        }
    double h_st = secs(rk_mono_ns() - t);

    /* 4. burst: everything expires in one jump */
    c.reschedule = false;
    c.fired = 0;
    int64_t end = T0 + 2 * SPAN_MS + 1;
    t = rk_mono_ns();
    c.now = end;
    rk_tw_advance(w, end, wheel_fire, &c);
    double w_bu = secs(rk_mono_ns() - t);
    long w_burst = c.fired;
    long h_burst = 0;
    t = rk_mono_ns();
    while (h.n > 0) {
        heap_remove(&h, h.a[0]);
        h_burst++;
    }
    double h_bu = secs(rk_mono_ns() - t);

    /* 5. idle ticks: everything hours away */
    int64_t far = end + 6 * 3600 * 1000LL;
    seed = rs;
    for (long i = 0; i < n; i++)
        rk_tw_schedule(w, &wi[i].tw, far + (int64_t)(rnd() % (3600 * 1000)));
    rs = seed;
    for (long i = 0; i < n; i++)
        heap_push(&h, &hi[i], far + (int64_t)(rnd() % (3600 * 1000)));
    c.fired = 0;
    t = rk_mono_ns();
    for (int64_t now = end + 1; now <= end + SPAN_MS; now++) {
        c.now = now;
        rk_tw_advance(w, now, wheel_fire, &c);
    }
    double w_id = secs(rk_mono_ns() - t);
    long h_idle_fired = 0;
    t = rk_mono_ns();
    for (int64_t now = end + 1; now <= end + SPAN_MS; now++)
        while (h.n > 0 && h.a[0]->deadline <= now) {
            heap_remove(&h, h.a[0]);
            h_idle_fired++;
        }
    double h_id = secs(rk_mono_ns() - t);
    if (c.fired || h_idle_fired)
        printf("MISMATCH: idle ticks fired %ld (wheel) / %ld (heap)\n", c.fired, h_idle_fired);
    rk_tw_drain(w, NULL, NULL);

    printf("                      wheel            heap\n");
    printf("insert   (ops/s)  %12.0f    %12.0f\n", n / w_ins, n / h_ins);
    printf("cancel   (ops/s)  %12.0f    %12.0f\n", ncan / w_can, ncan / h_can);
    printf("steady   (ops/s)  %12.0f    %12.0f   expiries + re-inserts over 600 000 ticks at %ld pending\n",
           2.0 * w_fired / w_st, 2.0 * h_fired / h_st, n);
    printf("  expired         %12ld    %12ld\n", w_fired, h_fired);
    printf("  per tick (ns)   %12.1f    %12.1f   cost of one 1 ms tick, averaged\n", w_st * 1e9 / SPAN_MS,
           h_st * 1e9 / SPAN_MS);
    printf("burst    (exp/s)  %12.0f    %12.0f   %ld timers expiring in one advance\n", w_burst / w_bu, h_burst / h_bu,
           w_burst);
    printf("idle tick (ns)    %12.1f    %12.1f   %ld pending hours away, nothing due\n", w_id * 1e9 / SPAN_MS,
           h_id * 1e9 / SPAN_MS, n);
    if (w_burst != n || h_burst != n)
        printf("MISMATCH: burst fired %ld (wheel) / %ld (heap) of %ld\n", w_burst, h_burst, n);
    double w_mem = (double)sizeof(rk_tw_entry_t) + (double)rk_tw_memory_bytes(w) / (double)n;
    double h_mem = (double)sizeof(hitem_t) + (double)h.cap * sizeof(hitem_t *) / (double)n;
    printf("memory   (B/timer)%12.1f    %12.1f   wheel: %zu B entry + %zu B table / N; heap: %zu B + array of %zu ptrs / N\n",
           w_mem, h_mem, sizeof(rk_tw_entry_t), rk_tw_memory_bytes(w), sizeof(hitem_t), h.cap);
    /* The goal is about inserts and expiries with 1 M pending: the
     * steady phase, where both happen at that size. */
    double w_ops = 2.0 * w_fired / w_st;
    printf("goal (issue 11): >= 2 M wheel ops/s (inserts + expiries) at 1 M pending, <= 64 B per pending timer:\n"
           "          %.2f M ops/s steady, %.1f M inserts/s, %.1f B per timer -> %s\n",
           w_ops / 1e6, n / w_ins / 1e6, w_mem, w_ops >= 2e6 && n / w_ins >= 2e6 && w_mem <= 64 ? "met" : "NOT met");
    rk_tw_destroy(w);
    free(h.a);
    free(hi);

    realtime(wi, n);
    free(wi);
    return 0;
}
