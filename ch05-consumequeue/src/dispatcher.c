/* dispatcher.c — the reput thread and the dispatcher list (see rk/dispatcher.h). */
#include "rk/dispatcher.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/thread.h"

#define MAX_DISPATCHERS 16

typedef struct entry {
    char name[32];
    rk_dispatch_fn fn;
    void *ctx;
} entry_t;

struct rk_dispatcher {
    rk_dispatch_source_t src;
    entry_t list[MAX_DISPATCHERS];
    int n;
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cond;
    bool running;            /* thread exists (owner's view)         */
    bool stop;               /* under mu: asks the thread to leave   */
    bool kicked;             /* under mu: notify() since last wait   */
    _Atomic bool waiting;    /* the thread is (about to be) asleep   */
    unsigned poll_ms;
    _Atomic int64_t offset;  /* reputFromOffset                      */
    _Atomic uint64_t count;
};

int rk_dispatcher_create(const rk_dispatch_source_t *src, rk_dispatcher_t **out)
{
    *out = NULL;
    rk_dispatcher_t *d = calloc(1, sizeof *d);
    if (d == NULL)
        return RK_ENOMEM;
    d->src = *src;
    d->poll_ms = 1;
    int rc = uv_mutex_init(&d->mu);
    if (rc != 0) {
        free(d);
        return rc;
    }
    if ((rc = uv_cond_init(&d->cond)) != 0) {
        uv_mutex_destroy(&d->mu);
        free(d);
        return rc;
    }
    *out = d;
    return RK_OK;
}

void rk_dispatcher_destroy(rk_dispatcher_t *d)
{
    if (d == NULL)
        return;
    rk_dispatcher_stop(d);
    uv_cond_destroy(&d->cond);
    uv_mutex_destroy(&d->mu);
    free(d);
}

int rk_dispatcher_register(rk_dispatcher_t *d, const char *name, rk_dispatch_fn fn, void *ctx)
{
    if (d->running)
        return RK_EBUSY;
    if (d->n == MAX_DISPATCHERS)
        return RK_EFULL;
    entry_t *e = &d->list[d->n++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->fn = fn;
    e->ctx = ctx;
    return RK_OK;
}

void rk_dispatcher_set_poll_ms(rk_dispatcher_t *d, unsigned poll_ms)
{
    uv_mutex_lock(&d->mu);
    d->poll_ms = poll_ms ? poll_ms : 1;
    uv_mutex_unlock(&d->mu);
}

/* Dispatches one record at `at`. Returns 1 (advanced to *next), 0 (nothing
 * to do: at end), or a negative error (stay at `at`). */
static int step(rk_dispatcher_t *d, int64_t at, int64_t end, unsigned mask, int64_t *next)
{
    if (at >= end)
        return 0;
    rk_dispatch_request_t req;
    memset(&req, 0, sizeof req);
    void *hold = NULL;
    int rc = d->src.read(d->src.ctx, at, &req, next, &hold);
    if (rc == RK_EEOF && *next <= at)
        rc = RK_ECORRUPT;   /* a skip that goes nowhere: stay (and retry), never spin */
    if (rc == RK_EEOF) {
        if (hold && d->src.release)
            d->src.release(d->src.ctx, hold);
        return 1;
    }
    if (rc < 0) {
        if (hold && d->src.release)
            d->src.release(d->src.ctx, hold);
        return rc;
    }
    if (*next > end) {   /* a record that is not fully committed yet */
        if (hold && d->src.release)
            d->src.release(d->src.ctx, hold);
        return 0;
    }
    for (int i = 0; i < d->n; i++) {
        if (!(mask & (1u << i)))
            continue;
        rc = d->list[i].fn(d->list[i].ctx, &req);
        if (rc < 0) {
            rk_log_error("dispatch", "dispatcher %s failed at commitlog offset %lld: %s",
                         d->list[i].name, (long long)at, rk_strerror(rc));
            break;
        }
    }
    if (hold && d->src.release)
        d->src.release(d->src.ctx, hold);
    return rc < 0 ? rc : 1;
}

int rk_dispatcher_run_range(rk_dispatcher_t *d, int64_t from, int64_t end, unsigned mask,
                            int64_t *reached)
{
    int64_t at = from;
    for (;;) {
        int64_t next = at;
        int rc = step(d, at, end, mask, &next);
        if (rc <= 0) {
            *reached = at;
            return rc;
        }
        at = next;
    }
}

static void thread_main(void *arg)
{
    rk_dispatcher_t *d = arg;
    (void)rk_thread_init("rk-reput", RK_THREAD_BATCH);
    unsigned all = d->n >= 32 ? ~0u : (1u << d->n) - 1;
    int64_t last_err_at = -1;
    for (;;) {
        uv_mutex_lock(&d->mu);
        bool stop = d->stop;
        uv_mutex_unlock(&d->mu);
        if (stop)
            break;
        int64_t at = atomic_load(&d->offset);
        int64_t end = d->src.end(d->src.ctx);
        int rc = 1;
        /* a burst: up to 4096 records before looking at the stop flag again */
        for (int i = 0; i < 4096 && rc == 1; i++) {
            int64_t next = at;
            rc = step(d, at, end, all, &next);
            if (rc == 1) {
                at = next;
                atomic_store(&d->offset, at);
                atomic_fetch_add(&d->count, 1);
            }
        }
        if (rc == 1)
            continue;
        if (rc < 0 && last_err_at != at) {
            rk_log_error("dispatch", "reput stalls at commitlog offset %lld: %s (will retry)",
                         (long long)at, rk_strerror(rc));
            last_err_at = at;
        }
        if (rc == 0 && d->src.wait) {
            /* wakes on append; the timeout bounds how long stop() waits */
            d->src.wait(d->src.ctx, at, 10);
            continue;
        }
        uv_mutex_lock(&d->mu);
        atomic_store(&d->waiting, true);
        if (!d->stop && !d->kicked) {
            uint64_t ns = (uint64_t)(rc < 0 ? 100 : d->poll_ms) * 1000000ull;
            (void)uv_cond_timedwait(&d->cond, &d->mu, ns);
        }
        atomic_store(&d->waiting, false);
        d->kicked = false;
        uv_mutex_unlock(&d->mu);
    }
}

int rk_dispatcher_start(rk_dispatcher_t *d, int64_t from)
{
    if (d->running)
        return RK_EBUSY;
    atomic_store(&d->offset, from);
    atomic_store(&d->count, 0);
    d->stop = false;
    int rc = uv_thread_create(&d->thread, thread_main, d);
    if (rc != 0)
        return rc;
    d->running = true;
    rk_log_info("dispatch", "reput from commitlog offset %lld with %d dispatchers", (long long)from,
                d->n);
    return RK_OK;
}

void rk_dispatcher_stop(rk_dispatcher_t *d)
{
    if (!d->running)
        return;
    uv_mutex_lock(&d->mu);
    d->stop = true;
    uv_cond_signal(&d->cond);
    uv_mutex_unlock(&d->mu);
    uv_thread_join(&d->thread);
    d->running = false;
}

void rk_dispatcher_notify(rk_dispatcher_t *d)
{
    /* a busy reput thread will look at the log again anyway: no syscall on
     * the put path then (at worst a wake-up waits for the 1 ms poll) */
    if (!atomic_load(&d->waiting))
        return;
    uv_mutex_lock(&d->mu);
    d->kicked = true;
    uv_cond_signal(&d->cond);
    uv_mutex_unlock(&d->mu);
}

int64_t rk_dispatcher_offset(rk_dispatcher_t *d) { return atomic_load(&d->offset); }
uint64_t rk_dispatcher_count(rk_dispatcher_t *d) { return atomic_load(&d->count); }

int rk_dispatcher_wait_caught_up(rk_dispatcher_t *d, int timeout_ms)
{
    int64_t end = d->src.end(d->src.ctx);
    uint64_t deadline = rk_mono_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
    while (atomic_load(&d->offset) < end) {
        if (rk_mono_ms() >= deadline)
            return RK_ETIMEDOUT;
        rk_dispatcher_notify(d);
        rk_sleep_ms(1);
    }
    return RK_OK;
}
