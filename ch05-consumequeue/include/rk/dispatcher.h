/* dispatcher.h — the reput thread: follows the commitlog and hands every
 * record, in log order, to an ordered list of dispatchers.
 *
 * This is chapter 5's extension point (RocketMQ's ReputMessageService and
 * CommitLogDispatcher list). The consume-queue builder and the index builder
 * are the first two dispatchers; ch07's long-poll wake-up, ch08's HA notify
 * and ch10's timer register more, before start:
 *
 *   rk_dispatcher_register(d, "cq",    build_cq,    store);
 *   rk_dispatcher_register(d, "index", build_index, store);
 *   rk_dispatcher_start(d, reput_from);
 *
 * The dispatcher reads the log through an rk_dispatch_source_t (the message
 * store binds it to ch04's commitlog) and never reads past source.end(): the
 * committed end of the log. Every function in the list sees every record,
 * including prepared and rollback transaction records; each decides for
 * itself (the consume-queue builder takes NOT/COMMIT types, the index
 * builder everything but ROLLBACK). Blank end-of-file records are skipped.
 *
 * A dispatcher function that fails stops the thread at that record: it is
 * retried (with every dispatcher, in order) after a short pause, so
 * dispatchers must be idempotent per commitlog offset — the consume queue
 * and the index are (they ignore what they already hold). A corrupt record
 * (the source says RK_ECORRUPT) is logged and the thread waits there: it never
 * skips data silently.
 *
 * Threading: register before start, from one thread. While running, the
 * reput thread calls the dispatchers (one at a time, in order); notify,
 * offset and wait_caught_up may be called from any thread. */
#ifndef RK_DISPATCHER_H
#define RK_DISPATCHER_H

#include <stdbool.h>
#include <stdint.h>

#include "rk/message.h"

/* One record, as dispatchers see it. Everything points into the mapped
 * commitlog or a per-call scratch area: valid only during the call. */
typedef struct rk_dispatch_request {
    const char *topic;              /* NUL-terminated */
    int32_t queue_id;
    int64_t queue_offset;           /* 0 for prepared/rollback records */
    int64_t phys;                   /* commitlog offset of the record */
    int32_t size;                   /* whole record size */
    int64_t tag_code;               /* rk_tag_code(TAGS), or what the tag-code hook says */
    int64_t store_ts;
    int64_t born_ts;
    int32_t sysflag;
    int64_t prepared_txn_offset;
    const char *tags;               /* property values, NUL-terminated, NULL if absent */
    const char *keys;
    const char *uniq_key;
    const uint8_t *record;          /* the raw record (size bytes) */
    const rk_record_t *rec;         /* ch04's decoded record (body, props, hosts...) or NULL */
} rk_dispatch_request_t;

typedef int (*rk_dispatch_fn)(void *ctx, const rk_dispatch_request_t *req);

/* Where records come from. read() decodes the record at offset into *req
 * and sets *next to the offset after it; returns 1 for a record, RK_EEOF for
 * the blank at a file's end or a range to skip (then *next, past offset, is
 * where to go on; an RK_EEOF that does not move is taken as RK_ECORRUPT), or
 * a negative error (the dispatcher stays at offset and retries). It may set *hold to something release() frees after the
 * dispatchers ran (e.g. a mapped-file reference). */
typedef struct rk_dispatch_source {
    int64_t (*end)(void *ctx);
    int (*read)(void *ctx, int64_t offset, rk_dispatch_request_t *req, int64_t *next, void **hold);
    void (*release)(void *ctx, void *hold);
    /* Optional: sleep until end() > offset or timeout_ms passed (true if
     * data). Without it the thread polls every poll_ms. */
    bool (*wait)(void *ctx, int64_t offset, int timeout_ms);
    void *ctx;
} rk_dispatch_source_t;

typedef struct rk_dispatcher rk_dispatcher_t;

int rk_dispatcher_create(const rk_dispatch_source_t *src, rk_dispatcher_t **out);
/* Stops the thread if running, then frees. */
void rk_dispatcher_destroy(rk_dispatcher_t *d);
/* Appends fn to the list (names are for logs). RK_EBUSY once started. */
int rk_dispatcher_register(rk_dispatcher_t *d, const char *name, rk_dispatch_fn fn, void *ctx);
/* Starts the reput thread at commitlog offset `from`. */
int rk_dispatcher_start(rk_dispatcher_t *d, int64_t from);
/* Stops and joins the thread (what is dispatched stays dispatched). */
void rk_dispatcher_stop(rk_dispatcher_t *d);
/* Wakes the thread now (call after an append); without it the thread polls
 * every `poll_ms` (default 1, like RocketMQ's reput). Any thread. */
void rk_dispatcher_notify(rk_dispatcher_t *d);
void rk_dispatcher_set_poll_ms(rk_dispatcher_t *d, unsigned poll_ms);
/* reputFromOffset: every record below it has been dispatched. Any thread. */
int64_t rk_dispatcher_offset(rk_dispatcher_t *d);
/* Dispatches synchronously on the calling thread from `from` up to `end`
 * (used by recovery before the thread starts); only dispatchers whose index
 * bit is set in `mask` run. *reached receives the offset reached: `end`, or
 * where an error stopped it (then the error is returned). Not while the
 * thread runs. */
int rk_dispatcher_run_range(rk_dispatcher_t *d, int64_t from, int64_t end, unsigned mask,
                            int64_t *reached);
/* Waits until offset() >= source end (as read at the call), up to
 * timeout_ms; RK_ETIMEDOUT otherwise. */
int rk_dispatcher_wait_caught_up(rk_dispatcher_t *d, int timeout_ms);
/* How many records the thread dispatched since start (for stats and bench). */
uint64_t rk_dispatcher_count(rk_dispatcher_t *d);

#endif
