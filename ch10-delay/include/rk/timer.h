/* timer.h — any delivery time (RocketMQ 5's timer messages): a message that says "deliver at
 * 09:00:00.250" or "in 42 s" is parked in the store and put back into its topic when due.
 *
 *   put with TIMER_DELIVER_MS / TIMER_DELAY_SEC / TIMER_DELAY_MS / __STARTDELIVERTIME
 *     ──put hook──▶ checked (≤ timerMaxDelaySec ahead, else WHEEL_TIMER_MSG_ILLEGAL), the time
 *                   rounded UP to timerPrecisionMs, TIMER_OUT_MS / REAL_TOPIC / REAL_QID added,
 *                   stored in rmq_sys_wheel_timer queue 0
 *     ──dispatch──▶ the consume-queue unit of that record: (commitlog offset, size, tags code =
 *                   the delivery time, by a tag-code hook). THIS QUEUE IS THE TIMER LOG: 20 bytes
 *                   per parked message, written and rebuilt by chapter 5 like any queue.
 *   service thread: reads the timer log from its read offset, puts one entry per unit into an
 *   in-memory timing wheel (chapter 9's rk/timing_wheel.h, wall-clock ms, tick = precision) and
 *   at each tick puts the due messages back into REAL_TOPIC / REAL_QID (every property kept,
 *   TIMER_ENQUEUE_MS / TIMER_DEQUEUE_MS / WAIT=false added, as RocketMQ's convertMessage).
 *
 * Progress (the checkpoint, config/timerCheckpoint.json, written every flush interval — only once
 * the commitlog has flushed up to its logPos, so the puts it counts are on disk — and at stop):
 *   readOffset  R   every unit below R was read into the wheel (or found delivered)
 *   lowOffset   L   every unit below L is delivered (the lowest pending unit, to 4096 units)
 *   progressMs  T   every parked message due before T is delivered (the wheel fires in time order)
 *   logPos      P   the commitlog's end when the three were taken (a replica's guard, below)
 * Recovery (start, kill -9, a new master): read the timer log again from L; a unit below R that
 * is due before T was delivered and is skipped; every other one goes back into the wheel. A
 * checkpoint older than the crash only moves L, R, T back: what was delivered after it is
 * delivered again (at least once), nothing is lost, and nothing fires before its time because
 * only the wall clock reaching a unit's own time fires it. The cost of a restart is one
 * sequential read of 20 bytes per unit in [L, end).
 *
 * Memory: 48 bytes per pending message (rk_timer_entry_bytes: the 32-byte wheel entry, the
 * commitlog offset, the size, a 4096-unit bucket number), taken from 4096-entry slabs, plus a
 * 4-byte counter per 4096 units between L and R. timerMaxPending bounds how many may wait:
 * beyond it a put is refused WHEEL_TIMER_FLOW_CONTROL.
 *
 * Roles (chapter 8): only a master delivers (may_deliver, asked every round and before each put);
 * a replica's timer log comes from replication and its checkpoint from its master (rk_timer_follow,
 * fed by the metadata copy); it takes a copied checkpoint only once its own commitlog reached that
 * checkpoint's logPos, so the puts the master made before it are in the replica's log too. A
 * replica that becomes master recovers from its checkpoint as above.
 *
 * Threads: new/free on the owner's thread (new before rk_store_start, free after rk_store_close);
 * start/stop on the owner's thread; one service thread does every read and put; the hooks run on
 * the senders' and the reput threads; stats/encode/follow from any thread.
 * Memory: the timer owns its state; the store is the caller's and outlives it. */
#ifndef RK_TIMER_H
#define RK_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/message_store.h"

#define RK_TIMER_TOPIC "rmq_sys_wheel_timer"
#define RK_PROP_TIMER_DELIVER_MS "TIMER_DELIVER_MS"
#define RK_PROP_TIMER_DELAY_SEC "TIMER_DELAY_SEC"
#define RK_PROP_TIMER_DELAY_MS "TIMER_DELAY_MS"
#define RK_PROP_START_DELIVER_TIME "__STARTDELIVERTIME"    /* ali-ons / Aliyun: absolute ms */
#define RK_PROP_TIMER_OUT_MS "TIMER_OUT_MS"
#define RK_PROP_TIMER_ENQUEUE_MS "TIMER_ENQUEUE_MS"
#define RK_PROP_TIMER_DEQUEUE_MS "TIMER_DEQUEUE_MS"

typedef struct rk_timer_config {
    const char *checkpoint_path;    /* .../config/timerCheckpoint.json (required) */
    int64_t max_delay_sec;          /* timerMaxDelaySec; 0: 259200 (3 days) */
    int64_t precision_ms;           /* timerPrecisionMs: 1, 2, 4, 5, 8, 10, 20, 25, 40, 50, 100, 125,
                                       200, 250, 500 or 1000; 0: 10 */
    int64_t flush_interval_ms;      /* how stale the checkpoint file may be; 0: 1000 */
    int64_t max_pending;            /* timerMaxPending; 0: 10 000 000 */
    bool fallback_to_bak;           /* metadataFallbackToBak */
    bool (*may_deliver)(void *ctx); /* true while this broker is the master (NULL: always) */
    void *may_deliver_ctx;
} rk_timer_config_t;

typedef struct rk_timer rk_timer_t;

/* Checks cfg, loads the checkpoint (missing: all zero), and registers on st: the put hook, the
 * tag-code hook, the dispatcher that wakes the service. Before rk_store_start. err says why. */
int rk_timer_new(rk_store_t *st, const rk_timer_config_t *cfg, rk_timer_t **out, char *err, size_t errlen);
/* Starts the service thread (after rk_store_start). */
int rk_timer_start(rk_timer_t *t);
/* Stops the thread (a put in progress finishes) and writes the checkpoint. Idempotent. */
void rk_timer_stop(rk_timer_t *t);
/* After rk_store_close. NULL is a no-op. */
void rk_timer_free(rk_timer_t *t);

typedef struct rk_timer_stats {
    bool delivering;                /* the service delivers (master) */
    int64_t pending;                /* messages in the wheel */
    int64_t behind;                 /* timer-log units not read yet (queue end - read offset) */
    int64_t read_offset, low_offset, progress_ms, log_pos;  /* the checkpoint as last taken */
    int64_t delivered;              /* put back since start */
    int64_t skipped;                /* found delivered at recovery (below R and due before T) */
    int64_t failed;                 /* puts that failed and were retried */
    int64_t max_turn_ms;            /* longest turn of the wheel (cascades included) since start */
    int64_t max_put_ms;             /* longest put-back of what one turn made due */
    int64_t precision_ms, max_delay_sec;
} rk_timer_stats_t;
void rk_timer_stats(rk_timer_t *t, rk_timer_stats_t *out);

/* The checkpoint as JSON (malloc'ed; NULL on ENOMEM): GET_TIMER_CHECK_POINT's answer. */
char *rk_timer_encode(rk_timer_t *t);
/* A master's checkpoint (rk_timer_encode's text) while this timer does not deliver: checked
 * whole (RK_ECORRUPT: nothing changed), taken and written once this store's commitlog reached
 * its logPos (before: ignored, RK_OK). RK_EBUSY while delivering. Any thread. */
int rk_timer_follow(rk_timer_t *t, const char *text, size_t len);
/* Writes the checkpoint now (if it moved). */
int rk_timer_persist(rk_timer_t *t);
/* Bytes of memory one pending message costs (the entry; slabs add nothing per entry). */
size_t rk_timer_entry_bytes(void);

#endif
