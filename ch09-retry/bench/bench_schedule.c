/* bench_schedule — redelivery lateness of the delay-level service on a real store.
 *
 *   bench_schedule [N] [SPREAD_MS]
 *
 * Puts N messages (default 200000) with DELAY levels 1..5 of "1s 2s 3s 4s 5s", spread evenly
 * over SPREAD_MS (default 2000), into a store in a temporary folder, and measures, for each, how
 * late it came back into its topic: store time of the redelivered copy minus (store time of the
 * parked message + the level's delay). Lateness is never negative (that would be early, and is
 * counted separately). Prints p50 / p99 / max, the most pending at once, and the put rate.
 * A dispatcher sees both records (the parked one in SCHEDULE_TOPIC_XXXX and the redelivered
 * one) and matches them by KEYS. */
#include <inttypes.h>
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

static const int64_t delays[] = {1000, 2000, 3000, 4000, 5000};

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
        if (b->due[seq] == 0 && d->queue_id >= 0 && d->queue_id < 5) {
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

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? strtoll(argv[1], NULL, 10) : 200000;
    int64_t spread = argc > 2 ? strtoll(argv[2], NULL, 10) : 2000;
    if (n <= 0 || n > 10000000 || spread < 0) {
        fprintf(stderr, "usage: bench_schedule [N (1..10^7)] [SPREAD_MS]\n");
        return 2;
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
    rk_kv_set(&kv, "mappedFileSizeCommitLog", "268435456");
    rk_store_t *st;
    rk_schedule_t *sch;
    snprintf(path, sizeof path, "%s/config/delayOffset.json", dir);
    rk_schedule_config_t sc = {.levels = "1s 2s 3s 4s 5s", .offset_path = path};
    if (rk_store_open(dir, &kv, &st, err, sizeof err) != RK_OK || rk_schedule_new(st, &sc, &sch, err, sizeof err) != RK_OK ||
        rk_store_register_dispatcher(st, "bench", on_dispatch, &b) != RK_OK || rk_store_start(st) != RK_OK ||
        rk_schedule_start(sch) != RK_OK) {
        fprintf(stderr, "bench_schedule: %s\n", err);
        return 1;
    }
    char body[64] = "a benchmark body of sixty-four bytes, more or less, padded here";
    int64_t t0 = (int64_t)rk_mono_ms();
    int64_t max_pending = 0;
    for (int64_t i = 0; i < n; i++) {
        if (spread > 0)     /* pace the puts over the spread */
            while ((int64_t)rk_mono_ms() - t0 < spread * i / n)
                usleep(200);
        char props[64];
        int plen = snprintf(props, sizeof props, "KEYS\001%" PRId64 "\002DELAY\001%d", i, (int)(i % 5) + 1);
        rk_msg_t m = {.topic = "BenchTopic", .topic_len = 10, .body = (const uint8_t *)body, .body_len = sizeof body - 1,
                      .props = props, .props_len = (size_t)plen, .born_ts = rk_now_ms()};
        rk_host_parse("127.0.0.1:1", &m.born_host);
        rk_host_parse("127.0.0.1:2", &m.store_host);
        rk_put_result_t res;
        if (rk_store_put(st, &m, &res) != RK_OK || res.status != RK_PUT_OK) {
            fprintf(stderr, "bench_schedule: put %" PRId64 " failed\n", i);
            return 1;
        }
        if ((i & 1023) == 0) {
            int64_t pending = atomic_load(&b.parked) - atomic_load(&b.back);
            if (pending > max_pending)
                max_pending = pending;
        }
    }
    int64_t put_ms = (int64_t)rk_mono_ms() - t0;
    for (int i = 0; i < 60000 / 10 && atomic_load(&b.back) < n; i++) {
        int64_t pending = atomic_load(&b.parked) - atomic_load(&b.back);
        if (pending > max_pending)
            max_pending = pending;
        usleep(10000);
    }
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
    printf("bench_schedule: %" PRId64 " messages on 5 levels (1..5 s), put over %" PRId64 " ms (%.0f msgs/s), "
           "at most %" PRId64 " pending\n", n, put_ms, put_ms > 0 ? (double)n * 1000.0 / (double)put_ms : 0.0,
           max_pending);
    if (k > 0)
        printf("  redelivery lateness: p50 %" PRId64 " ms, p99 %" PRId64 " ms, max %" PRId64 " ms; %" PRId64
               " of %" PRId64 " back, %" PRId64 " early\n", l[k / 2], l[k * 99 / 100], l[k - 1], back, n,
               atomic_load(&b.early));
    else
        printf("  nothing came back\n");
    int ok = back == n && atomic_load(&b.early) == 0;
    free(l);
    free(b.due);
    free(b.late);
    return ok ? 0 : 1;
}
