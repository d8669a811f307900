/* timing_wheel.h — a hierarchical timing wheel: millions of timers, O(1) to add or cancel.
 *
 * Chapter 9 parks every message a consumer failed until its back-off is over
 * (10 s, 30 s, 1 min ... 2 h); chapter 10 parks delayed messages. Both need
 * "call me back at time T" for up to millions of pending items, where adding
 * and cancelling must be O(1) and one tick of the clock must cost O(1)
 * however many items are waiting. The wheel is four clock faces, each slot
 * a doubly linked list of entries due in that slot's interval:
 *
 *   level 3  hours     24 slots x 1 h   span 1 day    (far-future entries are clamped here)
 *            [0][1][2] ... [23]
 *                 | when the hand reaches a slot, its entries cascade down:
 *   level 2  minutes   60 slots x 1 min span 1 h
 *            [0][1][2] ... [59]
 *                 |
 *   level 1  seconds   60 slots x 1 s   span 1 min
 *            [0][1][2] ... [59]
 *                 |
 *   level 0  ticks     1000/tick_ms slots x tick_ms   span 1 s
 *            [0][1][2] ... [999]      <- entries here fire when the hand reaches them
 *
 * An entry goes to the lowest level whose span covers its distance from the
 * hand (20 ms away: level 0; 42 s: level 1; 3 h: level 3). When a higher
 * level's slot comes round, its entries are re-placed by their exact deadline
 * into lower levels, so an entry due within a day moves at most three times.
 * An entry due more than a day ahead is put in the top level's furthest slot
 * and re-placed each time that slot comes round (once a day) until it is
 * within a day: no overflow list to scan, O(1) per entry per day.
 *
 * Timing contract (deadlines and `now` are milliseconds on the caller's
 * clock, normally rk_mono_ms()):
 *   - never early: an entry fires only inside an rk_tw_advance(now) call with
 *     now >= its deadline;
 *   - at most one tick late: it fires in the first advance call whose now is
 *     at or past its deadline rounded up to the tick grid
 *     (start + k * tick_ms), so at most tick_ms - 1 ms after the deadline if
 *     the owner calls advance at least once per tick;
 *   - no drift: advance works from absolute time, not from counting calls;
 *     a jump forward of hours or days skips empty slots with bitmaps
 *     (cost grows with the slots that hold entries, not with elapsed ticks);
 *   - time going backward: an advance(now) with now below the latest now
 *     seen fires nothing and moves nothing; the wheel waits for the clock
 *     to catch up (so it still never fires early). A deadline at or before
 *     the latest now is "already due" and fires at the next advance;
 *   - order: within one advance call entries fire in deadline order (ties in
 *     no promised order); an entry scheduled from a callback with a deadline
 *     <= now fires at the NEXT advance call, never in the current one, so a
 *     callback that keeps rescheduling itself cannot livelock the loop.
 *
 * Memory: entries are intrusive. The caller embeds an rk_tw_entry_t in its
 * own struct, owns that struct, and must keep it alive (and not move it)
 * while it is pending; rk_tw_container_of() gets the struct back in the
 * callback. An entry belongs to one wheel at a time. The wheel allocates nothing per entry: it owns only its slot
 * heads and bitmaps, one allocation made by rk_tw_create (37 KB at a 1 ms
 * tick, see rk_tw_memory_bytes). Wheel memory per pending entry is
 * therefore sizeof(rk_tw_entry_t) = 32 bytes plus that fixed block shared.
 * rk_tw_destroy frees the wheel only; pending entries are the caller's
 * (hand them back first with rk_tw_drain if they must be freed).
 *
 * Thread-safety: none inside. One owner serialises every call on a wheel
 * (e.g. the libuv loop thread that runs its timer). The expiry callback runs
 * inside rk_tw_advance on that thread and may schedule, reschedule or cancel
 * any entry (including ones due in the same advance call); it must not call
 * rk_tw_advance, rk_tw_drain or rk_tw_destroy on the same wheel. */
#ifndef RK_TIMING_WHEEL_H
#define RK_TIMING_WHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One pending timer, embedded in the caller's struct. Zero it (= {0} or
 * rk_tw_entry_init) before first use; the wheel owns the fields while the
 * entry is pending and the caller reads them only through the functions. */
typedef struct rk_tw_entry {
    struct rk_tw_entry *next, *prev; /* slot list; next == NULL when not pending */
    int64_t deadline_ms;
    uint16_t slot;                   /* slot index within its level */
    uint8_t level;                   /* 0..3, or one of the wheel's private lists */
} rk_tw_entry_t;

#define rk_tw_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

typedef struct rk_tw rk_tw_t;

/* Called once for each entry that expires; the entry is no longer pending
 * when this runs (the callback may reschedule it, or free its struct). */
typedef void (*rk_tw_expire_cb)(rk_tw_t *w, rk_tw_entry_t *e, void *arg);

/* A wheel whose hand starts at start_ms. tick_ms must divide 1000 and be at
 * most 500 (1, 2, 4, 5, 8, 10, 20, 25, 40, 50, 100, 125, 200, 250, 500) so
 * that level 0 spans exactly one second. NULL on failure, *err (if not NULL)
 * set to RK_EINVAL or RK_ENOMEM. */
rk_tw_t *rk_tw_create(int64_t tick_ms, int64_t start_ms, int *err);
/* Frees the wheel's own memory. Pending entries are left untouched (they are
 * the caller's); NULL is a no-op. */
void rk_tw_destroy(rk_tw_t *w);

static inline void rk_tw_entry_init(rk_tw_entry_t *e)
{
    *e = (rk_tw_entry_t){0};
}
static inline bool rk_tw_pending(const rk_tw_entry_t *e)
{
    return e->next != NULL;
}
static inline int64_t rk_tw_entry_deadline(const rk_tw_entry_t *e)
{
    return e->deadline_ms;
}

/* Schedules e to fire at deadline_ms; O(1). An entry that is already pending
 * is moved to the new deadline. 0, or RK_EINVAL for a NULL argument. */
int rk_tw_schedule(rk_tw_t *w, rk_tw_entry_t *e, int64_t deadline_ms);
/* Removes a pending entry without firing it; O(1). 0, or RK_ENOTFOUND if e
 * was not pending (already fired, cancelled, or never scheduled). */
int rk_tw_cancel(rk_tw_t *w, rk_tw_entry_t *e);

/* Moves the hand to now_ms and calls cb for every entry whose deadline has
 * come, in deadline order (see the contract above). Returns how many fired,
 * RK_EINVAL if cb is NULL, or RK_EBUSY if called from inside a callback. */
long rk_tw_advance(rk_tw_t *w, int64_t now_ms, rk_tw_expire_cb cb, void *arg);

/* Pending entries (scheduled, not yet fired or cancelled). */
size_t rk_tw_count(const rk_tw_t *w);
/* The latest now the wheel has seen (start_ms at first). */
int64_t rk_tw_now(const rk_tw_t *w);
/* When to call rk_tw_advance next: a time at or before the earliest pending
 * deadline's tick, INT64_MAX when nothing is pending, rk_tw_now() when
 * something is already due. It may be a moment when only a higher level
 * cascades (at most once per second, minute, hour with entries there): the
 * owner calls advance, fires nothing, and asks again. */
int64_t rk_tw_next_wakeup(const rk_tw_t *w);

/* Removes every pending entry and hands each to cb (in no particular order;
 * cb may be NULL), e.g. to free them at shutdown. cb must not schedule on
 * this wheel. Returns how many; 0 if called from inside an expiry callback. */
size_t rk_tw_drain(rk_tw_t *w, rk_tw_expire_cb cb, void *arg);

/* Bytes the wheel itself allocated (slot heads, bitmaps, its struct). */
size_t rk_tw_memory_bytes(const rk_tw_t *w);

#endif
