/* bench_schedule — redelivery lateness of the delay-level service on a real store, with up to
 * a million messages pending at once.
 *
 *   bench_schedule [N] [SPREAD_MS]        (or RK_BENCH_SCHED_N=N in the environment)
 *
 * Puts N messages (default 1 000 000) with DELAY levels 1..5, spread evenly over SPREAD_MS
 * (default N / 125 ms: 8 s for a million, 125 k puts/s), into a store in a temporary folder
 * (64 MB commitlog files, no message index; removed at the end). The levels are
 * "Ds D+1s .. D+4s" with D = SPREAD_MS + 2 s rounded up, so nothing is due before the last put:
 * every message is pending at once (the figure printed as "at most ... pending"), then the
 * service redelivers all of them at the rate they were put, which is the load. For each
 * message it measures how late it came back into its topic: store time of the redelivered copy
 * minus (store time of the parked message + the level's delay). Lateness is never negative
 * (that would be early, and is counted separately: it must be 0). Prints p50 / p99 / max,
 * the put rate, the disk used, and memory per pending entry: the process heap's growth from
 * before the first put to the peak (the schedule service and the store; the messages
 * themselves are on disk, 20 B of consume queue each plus their commitlog record), and the
 * timing wheel's (the service keeps only each level's head in it). A dispatcher sees both
 * records (the parked one in SCHEDULE_TOPIC_XXXX and the redelivered one) and matches them by
 * KEYS. Exit status 1 if a message was lost or early. */
#include <inttypes.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/schedule.h"
#include "rk/testkit.h"
#include "rk/timing_wheel.h"

#define LEVELS 5
#define SCHEDULE_TICK_MS 10             /* schedule.c's wheel tick (TICK_MS) */

static int64_t delays[LEVELS];          /* ms, level 1..5 */

typedef struct bench {
    int64_t n;
    int64_t *due;                   /* per message: when it is due (store time + delay), 0: not parked yet */
    int64_t *late;                  /* per message: lateness, -1: not back yet */
    _Atomic int64_t parked, back, early;
} bench_t;

static int on_dispatch(void *ctx, const rk_dispatch_request_t *d)
{
    bench_t *b = ctx;
    if (d->keys == NULL)
        return RK_OK;
    int64_t seq = strtoll(d->keys, NULL, 10);
    if (seq < 0 || seq >= b->n)
        return RK_OK;
    if (strcmp(d->topic, RK_SCHEDULE_TOPIC) == 0) {
        if (b->due[seq] == 0 && d->queue_id >= 0 && d->queue_id < LEVELS) {
            b->due[seq] = d->store_ts + delays[d->queue_id];
            atomic_fetch_add(&b->parked, 1);
        }
    } else if (strcmp(d->topic, "BenchTopic") == 0 && b->late[seq] < 0 && b->due[seq] > 0) {
        int64_t l = d->store_ts - b->due[seq];
        if (l < 0) {
            atomic_fetch_add(&b->early, 1);
            l = 0;
        }
        b->late[seq] = l;
        atomic_fetch_add(&b->back, 1);
    }
    return RK_OK;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Bytes the allocator has handed out (arena and mmap'ed chunks). */
static int64_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (int64_t)(mi.uordblks + mi.hblkhd);
}

int main(int argc, char **argv)
{
    const char *env = getenv("RK_BENCH_SCHED_N");
    int64_t n = argc > 1 ? strtoll(argv[1], NULL, 10) : env != NULL ? strtoll(env, NULL, 10) : 1000000;
    int64_t spread = argc > 2 ? strtoll(argv[2], NULL, 10) : n / 125;
    if (n <= 0 || n > 10000000 || spread < 0 || spread > 600000) {
        fprintf(stderr, "usage: bench_schedule [N (1..10^7)] [SPREAD_MS (0..600000)]\n");
        return 2;
    }
    int64_t base_s = (spread + 2000 + 999) / 1000;
    char levels[128];
    int ll = 0;
    for (int i = 0; i < LEVELS; i++) {
        delays[i] = (base_s + i) * 1000;
        ll += snprintf(levels + ll, sizeof levels - (size_t)ll, "%s%" PRId64 "s", i ? " " : "", base_s + i);
    }
    rk_log_set_level(RK_LOG_WARN);
    bench_t b = {.n = n, .due = calloc((size_t)n, sizeof(int64_t)), .late = malloc((size_t)n * sizeof(int64_t))};
    if (b.due == NULL || b.late == NULL)
        return 1;
    for (int64_t i = 0; i < n; i++)
        b.late[i] = -1;
    char dir[256], err[512] = "", path[400];
    if (rk_tk_tmpdir(dir, sizeof dir, "bench-sched") != 0)
        return 1;
    rk_kv_t kv;
    rk_kv_init(&kv);
    rk_kv_set(&kv, "mappedFileSizeCommitLog", "67108864");
    rk_kv_set(&kv, "messageIndexEnable", "false");
    rk_store_t *st;
    rk_schedule_t *sch;
    snprintf(path, sizeof path, "%s/config/delayOffset.json", dir);
    rk_schedule_config_t sc = {.levels = levels, .offset_path = path};
    if (rk_store_open(dir, &kv, &st, err, sizeof err) != RK_OK || rk_schedule_new(st, &sc, &sch, err, sizeof err) != RK_OK ||
        rk_store_register_dispatcher(st, "bench", on_dispatch, &b) != RK_OK || rk_store_start(st) != RK_OK ||
        rk_schedule_start(sch) != RK_OK) {
        fprintf(stderr, "bench_schedule: %s\n", err);
        rk_tk_rmtree(dir);
        return 1;
    }
    char body[64] = "a benchmark body of sixty-four bytes, more or less, padded here";
    int64_t heap0 = heap_in_use(), heap_peak = heap0;
    int64_t t0 = (int64_t)rk_mono_ms();
    int64_t max_pending = 0;
    int status = 0;
    for (int64_t i = 0; i < n; i++) {
        if (spread > 0)     /* pace the puts over the spread */
            while ((int64_t)rk_mono_ms() - t0 < spread * i / n)
                usleep(200);
        char props[64];
        int plen = snprintf(props, sizeof props, "KEYS\001%" PRId64 "\002DELAY\001%d", i, (int)(i % LEVELS) + 1);
        rk_msg_t m = {.topic = "BenchTopic", .topic_len = 10, .body = (const uint8_t *)body, .body_len = sizeof body - 1,
                      .props = props, .props_len = (size_t)plen, .born_ts = rk_now_ms()};
        rk_host_parse("127.0.0.1:1", &m.born_host);
        rk_host_parse("127.0.0.1:2", &m.store_host);
        rk_put_result_t res;
        if (rk_store_put(st, &m, &res) != RK_OK || res.status != RK_PUT_OK) {
            fprintf(stderr, "bench_schedule: put %" PRId64 " failed\n", i);
            status = 1;
            break;
        }
        if ((i & 1023) == 0) {
            int64_t pending = atomic_load(&b.parked) - atomic_load(&b.back), h = heap_in_use();
            if (pending > max_pending)
                max_pending = pending;
            if (h > heap_peak)
                heap_peak = h;
        }
    }
    int64_t put_ms = (int64_t)rk_mono_ms() - t0;
    /* everything is due within base + 4 s of its put; then some slack for a loaded machine */
    int64_t deadline = t0 + spread + (base_s + LEVELS) * 1000 + 30000;
    while (status == 0 && atomic_load(&b.back) < n && (int64_t)rk_mono_ms() < deadline) {
        int64_t pending = atomic_load(&b.parked) - atomic_load(&b.back), h = heap_in_use();
        if (pending > max_pending)
            max_pending = pending;
        if (h > heap_peak)
            heap_peak = h;
        usleep(10000);
    }
    int64_t total_ms = (int64_t)rk_mono_ms() - t0;
    int64_t log_bytes = rk_store_commitlog_max(st) - rk_store_commitlog_min(st);
    rk_schedule_stop(sch);
    rk_store_close(st);
    rk_schedule_free(sch);
    rk_kv_free(&kv);
    rk_tk_rmtree(dir);
    int64_t back = atomic_load(&b.back);
    int64_t *l = malloc((size_t)(back > 0 ? back : 1) * sizeof *l), k = 0;
    for (int64_t i = 0; i < n && l != NULL; i++)
        if (b.late[i] >= 0)
            l[k++] = b.late[i];
    qsort(l, (size_t)k, sizeof *l, cmp64);
    printf("bench_schedule: %" PRId64 " messages on %d levels (%s), put over %" PRId64 " ms (%.0f msgs/s), "
           "at most %" PRId64 " pending, %.1f s in all\n", n, LEVELS, levels, put_ms,
           put_ms > 0 ? (double)n * 1000.0 / (double)put_ms : 0.0, max_pending, (double)total_ms / 1000.0);
    if (k > 0)
        printf("  redelivery lateness: p50 %" PRId64 " ms, p99 %" PRId64 " ms, max %" PRId64 " ms; %" PRId64
               " of %" PRId64 " back, %" PRId64 " early\n", l[k / 2], l[k * 99 / 100], l[k - 1], back, n,
               atomic_load(&b.early));
    else
        printf("  nothing came back\n");
    int err_tw = 0;
    rk_tw_t *w = rk_tw_create(SCHEDULE_TICK_MS, 0, &err_tw);
    size_t tw_fixed = w != NULL ? rk_tw_memory_bytes(w) : 0;
    rk_tw_destroy(w);
    if (max_pending > 0) {
        int64_t grown = heap_peak - heap0;
        printf("  memory per pending entry: heap %.2f B (the process heap grew %" PRId64 " B at most while they waited); wheel "
               "%.4f B (at most %d entries of %zu B, one per level, + its %zu B table at a %d ms tick); on disk "
               "20 B consume-queue unit + ~%" PRId64 " B commitlog record\n",
               grown > 0 ? (double)grown / (double)max_pending : 0.0, grown,
               (double)(LEVELS * sizeof(rk_tw_entry_t) + tw_fixed) / (double)max_pending, LEVELS,
               sizeof(rk_tw_entry_t), tw_fixed, SCHEDULE_TICK_MS, n > 0 ? log_bytes / (2 * n) : 0);
    }
    printf("  disk: %.0f MB of commitlog (parked + redelivered copies), removed\n", (double)log_bytes / 1048576.0);
    int ok = status == 0 && back == n && atomic_load(&b.early) == 0;
    free(l);
    free(b.due);
    free(b.late);
    return ok ? 0 : 1;
}
