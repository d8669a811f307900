/* test_dispatcher.c — the reput thread over a fake log: order, blanks,
 * never past the committed end, retry after a failing dispatcher. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <string.h>

#include "rk/clock.h"
#include "rk/dispatcher.h"
#include "rk/error.h"

/* A fake log: record i sits at offset 100*i, size 100; every 5th record is
 * a blank that jumps to the next "file" (offset + 100 as well). */
typedef struct fake {
    _Atomic int64_t end;
    int blanks_every;
} fake_t;

static int64_t fake_end(void *ctx) { return atomic_load(&((fake_t *)ctx)->end); }
static int fake_read(void *ctx, int64_t off, rk_dispatch_request_t *req, int64_t *next, void **hold)
{
    fake_t *f = ctx;
    (void)hold;
    *next = off + 100;
    if (f->blanks_every && (off / 100) % f->blanks_every == f->blanks_every - 1)
        return RK_EEOF;
    req->topic = "T";
    req->phys = off;
    req->size = 100;
    req->queue_offset = off / 100;
    return 1;
}

typedef struct seen {
    int64_t phys[1000];
    int n;
    int fail_at;          /* fail once when reaching this phys */
    int failures;
} seen_t;

static int record(void *ctx, const rk_dispatch_request_t *req)
{
    seen_t *s = ctx;
    if (req->phys == s->fail_at && s->failures == 0) {
        s->failures++;
        return RK_EFULL;
    }
    s->phys[s->n++] = req->phys;
    return 0;
}

Test(dispatcher, in_order_skips_blanks_and_stops_at_end)
{
    fake_t f = {.end = 0, .blanks_every = 5};
    rk_dispatch_source_t src = {fake_end, fake_read, NULL, NULL, &f};
    rk_dispatcher_t *d;
    cr_assert_eq(rk_dispatcher_create(&src, &d), 0);
    seen_t a = {.fail_at = -1}, b = {.fail_at = 1300};
    cr_assert_eq(rk_dispatcher_register(d, "a", record, &a), 0);
    cr_assert_eq(rk_dispatcher_register(d, "b", record, &b), 0);
    cr_assert_eq(rk_dispatcher_start(d, 0), 0);
    cr_assert_eq(rk_dispatcher_register(d, "late", record, &b), RK_EBUSY);
    for (int i = 1; i <= 40; i++) {
        atomic_store(&f.end, i * 100 + 50);   /* a half-committed record at the end */
        rk_dispatcher_notify(d);
    }
    atomic_store(&f.end, 4000);
    cr_assert_eq(rk_dispatcher_wait_caught_up(d, 5000), 0);
    cr_assert_eq(rk_dispatcher_offset(d), 4000);
    rk_dispatcher_stop(d);
    /* 40 slots, 8 blanks: 32 records, both dispatchers, same order */
    cr_assert_eq(a.n, 33, "a saw %d (record 1300 twice: retried after b failed)", a.n);
    cr_assert_eq(b.n, 32);
    cr_assert_eq(b.failures, 1);
    for (int i = 1; i < b.n; i++)
        cr_assert_gt(b.phys[i], b.phys[i - 1]);
    for (int i = 0; i < b.n; i++)
        cr_assert_neq((b.phys[i] / 100) % 5, 4);
    rk_dispatcher_destroy(d);
}

Test(dispatcher, run_range_with_mask_runs_only_chosen_dispatchers)
{
    fake_t f = {.end = 1000, .blanks_every = 0};
    rk_dispatch_source_t src = {fake_end, fake_read, NULL, NULL, &f};
    rk_dispatcher_t *d;
    cr_assert_eq(rk_dispatcher_create(&src, &d), 0);
    seen_t a = {.fail_at = -1}, b = {.fail_at = -1};
    rk_dispatcher_register(d, "a", record, &a);
    rk_dispatcher_register(d, "b", record, &b);
    int64_t reached = 0;
    cr_assert_eq(rk_dispatcher_run_range(d, 200, 1000, 2u, &reached), 0);
    cr_assert_eq(reached, 1000);
    cr_assert_eq(a.n, 0);
    cr_assert_eq(b.n, 8);
    cr_assert_eq(b.phys[0], 200);
    rk_dispatcher_destroy(d);
}
