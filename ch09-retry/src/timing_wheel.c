/* timing_wheel.c — the hierarchical timing wheel of timing_wheel.h.
 *
 * Time inside the wheel is counted in ticks since start_ms. An entry due at
 * deadline d belongs to tick t = ceil((d - start) / tick_ms): processing
 * tick t happens in the first advance whose now >= start + t * tick_ms >= d,
 * which is what makes "never early, at most one tick late" hold.
 *
 * `cur` is the next tick to process. Level l's slots are g[l] ticks wide
 * (g = 1, one second, one minute, one hour in ticks) and the level spans
 * g[l+1] ticks. An entry with t - cur < g[l+1] (and >= g[l]) sits in level l,
 * slot (t / g[l]) % n[l]; it moves down when the hand reaches the start of
 * that slot's interval, C = (t / g[l]) * g[l] (for level 0, C = t: it
 * fires). Because C is always in [cur, cur + g[l+1]) when the entry is
 * placed (C > cur above level 0), every entry of one slot has
 * the same C, and a slot's next C is the first boundary at or after cur
 * whose block number has the slot's index modulo n[l]. That lets advance
 * jump straight from one non-empty slot to the next with a bitmap per level
 * instead of stepping tick by tick; `next_at`, a lower bound on the next
 * such event kept up to date by place(), makes an advance that has nothing
 * to do (the common case when called every millisecond) a compare. */
#include "rk/timing_wheel.h"

#include <stdlib.h>

#include "rk/error.h"

#define LEVELS 4

enum {
    LVL_DUE = 0xFE,    /* in w->due: deadline already passed when scheduled */
    LVL_FIRING = 0xFD, /* in advance's local list of due entries being fired */
};

_Static_assert(sizeof(rk_tw_entry_t) <= 32, "an entry is at most 32 bytes");

struct rk_tw {
    int64_t tick_ms, start_ms, now_ms;
    uint64_t cur;              /* next tick to process; every tick < cur is done */
    uint64_t next_at;          /* no event before this tick (a lower bound, may be stale) */
    size_t count;              /* pending entries */
    size_t bytes;              /* what rk_tw_create allocated */
    bool in_advance;
    uint32_t n[LEVELS];        /* slots per level */
    uint32_t words[LEVELS];    /* bitmap words per level */
    uint64_t g[LEVELS + 1];    /* ticks per slot at level l; g[LEVELS] = whole span */
    rk_tw_entry_t *slots[LEVELS]; /* sentinel heads of circular lists */
    uint64_t *bits[LEVELS];    /* bit s set <=> slot s non-empty */
    rk_tw_entry_t due;         /* sentinel: entries scheduled at or before now_ms */
};

/* ---- intrusive circular lists with a sentinel head ---- */

static void list_init(rk_tw_entry_t *h)
{
    h->next = h->prev = h;
}

static bool list_empty(const rk_tw_entry_t *h)
{
    return h->next == h;
}

static void list_append(rk_tw_entry_t *h, rk_tw_entry_t *e)
{
    e->prev = h->prev;
    e->next = h;
    h->prev->next = e;
    h->prev = e;
}

static void list_unlink(rk_tw_entry_t *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->next = e->prev = NULL;
}

/* Moves every entry of `from` to the empty list `to`. */
static void list_move_all(rk_tw_entry_t *from, rk_tw_entry_t *to)
{
    list_init(to);
    if (list_empty(from))
        return;
    to->next = from->next;
    to->prev = from->prev;
    to->next->prev = to;
    to->prev->next = to;
    list_init(from);
}

/* Stable merge sort of a NULL-terminated singly linked chain by deadline. */
static rk_tw_entry_t *chain_sort(rk_tw_entry_t *a, size_t n)
{
    if (n < 2)
        return a;
    rk_tw_entry_t *b = a;
    for (size_t i = 1; i < n / 2; i++)
        b = b->next;
    rk_tw_entry_t *rest = b->next;
    b->next = NULL;
    a = chain_sort(a, n / 2);
    b = chain_sort(rest, n - n / 2);
    rk_tw_entry_t head, *t = &head;
    while (a && b) {
        if (b->deadline_ms < a->deadline_ms) {
            t->next = b;
            b = b->next;
        } else {
            t->next = a;
            a = a->next;
        }
        t = t->next;
    }
    t->next = a ? a : b;
    return head.next;
}

/* Puts a list in deadline order (ties keep their order); O(k) if it already is. */
static void list_sort(rk_tw_entry_t *h)
{
    size_t n = 1;
    bool sorted = true;
    if (list_empty(h))
        return;
    for (rk_tw_entry_t *e = h->next; e->next != h; e = e->next, n++)
        if (e->next->deadline_ms < e->deadline_ms)
            sorted = false;
    if (sorted)
        return;
    h->prev->next = NULL;
    rk_tw_entry_t *first = chain_sort(h->next, n), *prev = h;
    for (rk_tw_entry_t *e = first; e; e = e->next) {
        e->prev = prev;
        prev = e;
    }
    h->next = first;
    prev->next = h;
    h->prev = prev;
}

/* ---- bitmaps ---- */

static void bit_set(uint64_t *b, uint32_t i)
{
    b[i / 64] |= 1ull << (i % 64);
}

static void bit_clear(uint64_t *b, uint32_t i)
{
    b[i / 64] &= ~(1ull << (i % 64));
}

static bool bit_test(const uint64_t *b, uint32_t i)
{
    return (b[i / 64] >> (i % 64)) & 1;
}

/* First set bit at or after `from`, wrapping round; -1 if none. */
static long bit_next_circular(const uint64_t *b, uint32_t words, uint32_t from)
{
    uint32_t wi = from / 64;
    uint64_t m = b[wi] & (~0ull << (from % 64));
    for (;;) {
        if (m)
            return (long)wi * 64 + __builtin_ctzll(m);
        if (++wi == words)
            break;
        m = b[wi];
    }
    for (wi = 0; wi <= from / 64; wi++) {
        m = b[wi];
        if (wi == from / 64)
            m &= (1ull << (from % 64)) - 1;
        if (m)
            return (long)wi * 64 + __builtin_ctzll(m);
    }
    return -1;
}

/* ---- placement ---- */

/* Tick of a deadline after now_ms (so after start_ms): ceil((d - start) / tick). */
static uint64_t tick_of(const rk_tw_t *w, int64_t d)
{
    uint64_t diff = (uint64_t)d - (uint64_t)w->start_ms, tk = (uint64_t)w->tick_ms;
    return diff / tk + (diff % tk != 0);
}

/* Files e (tick t >= cur) into the lowest level whose span covers t - cur.
 * Beyond the top level's span, e is filed as if due at the span's last tick:
 * the top level's furthest slot, re-placed from there when it comes round. */
static void place(rk_tw_t *w, rk_tw_entry_t *e, uint64_t t)
{
    if (t < w->cur) /* cannot happen (see schedule and cascade); keeps the subtraction safe */
        t = w->cur;
    uint64_t delta = t - w->cur;
    if (delta >= w->g[LEVELS]) {
        delta = w->g[LEVELS] - 1;
        t = w->cur + delta;
    }
    unsigned l = 0;
    while (delta >= w->g[l + 1])
        l++;
    uint32_t s = (uint32_t)((t / w->g[l]) % w->n[l]);
    list_append(&w->slots[l][s], e);
    bit_set(w->bits[l], s);
    uint64_t at = t / w->g[l] * w->g[l]; /* when this slot fires or cascades */
    if (at < w->next_at)
        w->next_at = at;
    e->level = (uint8_t)l;
    e->slot = (uint16_t)s;
}

static void unlink_entry(rk_tw_t *w, rk_tw_entry_t *e)
{
    unsigned l = e->level;
    list_unlink(e);
    if (l < LEVELS && list_empty(&w->slots[l][e->slot]))
        bit_clear(w->bits[l], e->slot);
    w->count--;
}

/* The next tick >= cur at which something happens: a level-0 slot fires or a
 * higher level's slot cascades. UINT64_MAX if every slot is empty. */
static uint64_t next_event(const rk_tw_t *w)
{
    uint64_t best = UINT64_MAX;
    for (unsigned l = 0; l < LEVELS; l++) {
        uint64_t g = w->g[l], n = w->n[l];
        uint64_t block = (w->cur + g - 1) / g; /* first slot boundary at or after cur */
        uint32_t p = (uint32_t)(block % n);
        long s = bit_next_circular(w->bits[l], w->words[l], p);
        if (s < 0)
            continue;
        uint64_t at = (block + ((uint64_t)s + n - p) % n) * g;
        if (at < best)
            best = at;
    }
    return best;
}

static void cascade(rk_tw_t *w, unsigned l, uint32_t s)
{
    rk_tw_entry_t moving;
    list_move_all(&w->slots[l][s], &moving);
    bit_clear(w->bits[l], s);
    while (!list_empty(&moving)) {
        rk_tw_entry_t *e = moving.next;
        __builtin_prefetch(e->next, 1); /* the next one is a cache miss: start it now */
        list_unlink(e);
        place(w, e, tick_of(w, e->deadline_ms));
    }
}

/* ---- API ---- */

rk_tw_t *rk_tw_create(int64_t tick_ms, int64_t start_ms, int *err)
{
    if (tick_ms < 1 || tick_ms > 500 || 1000 % tick_ms != 0) {
        if (err)
            *err = RK_EINVAL;
        return NULL;
    }
    uint32_t n[LEVELS] = {(uint32_t)(1000 / tick_ms), 60, 60, 24};
    size_t nslots = 0, nwords = 0;
    for (unsigned l = 0; l < LEVELS; l++) {
        nslots += n[l];
        nwords += (n[l] + 63) / 64;
    }
    size_t bytes = sizeof(rk_tw_t) + nslots * sizeof(rk_tw_entry_t) + nwords * sizeof(uint64_t);
    rk_tw_t *w = calloc(1, bytes);
    if (!w) {
        if (err)
            *err = RK_ENOMEM;
        return NULL;
    }
    w->tick_ms = tick_ms;
    w->start_ms = w->now_ms = start_ms;
    w->cur = 1; /* tick 0 is start_ms itself: done */
    w->next_at = UINT64_MAX;
    w->bytes = bytes;
    rk_tw_entry_t *slot = (rk_tw_entry_t *)(w + 1);
    uint64_t *bits = (uint64_t *)(slot + nslots);
    w->g[0] = 1;
    for (unsigned l = 0; l < LEVELS; l++) {
        w->n[l] = n[l];
        w->words[l] = (n[l] + 63) / 64;
        w->g[l + 1] = w->g[l] * n[l];
        w->slots[l] = slot;
        w->bits[l] = bits;
        for (uint32_t s = 0; s < n[l]; s++)
            list_init(&slot[s]);
        slot += n[l];
        bits += w->words[l];
    }
    list_init(&w->due);
    if (err)
        *err = 0;
    return w;
}

void rk_tw_destroy(rk_tw_t *w)
{
    free(w);
}

int rk_tw_schedule(rk_tw_t *w, rk_tw_entry_t *e, int64_t deadline_ms)
{
    if (!w || !e)
        return RK_EINVAL;
    if (rk_tw_pending(e))
        unlink_entry(w, e);
    e->deadline_ms = deadline_ms;
    if (deadline_ms <= w->now_ms) {
        list_append(&w->due, e);
        e->level = LVL_DUE;
    } else {
        place(w, e, tick_of(w, deadline_ms));
    }
    w->count++;
    return 0;
}

int rk_tw_cancel(rk_tw_t *w, rk_tw_entry_t *e)
{
    if (!w || !e)
        return RK_EINVAL;
    if (!rk_tw_pending(e))
        return RK_ENOTFOUND;
    unlink_entry(w, e);
    return 0;
}

/* Fires a list's entries in deadline order (one_deadline: they all have the
 * same deadline, as in a level-0 slot when a tick is 1 ms). Callbacks may cancel entries still
 * in it (unlink_entry works on any list) but cannot add any: see advance. */
static long fire_list(rk_tw_t *w, rk_tw_entry_t *h, bool one_deadline, rk_tw_expire_cb cb, void *arg)
{
    long fired = 0;
    if (!one_deadline)
        list_sort(h);
    while (!list_empty(h)) {
        rk_tw_entry_t *e = h->next;
        __builtin_prefetch(e->next, 1);
        unlink_entry(w, e);
        cb(w, e, arg);
        fired++;
    }
    return fired;
}

long rk_tw_advance(rk_tw_t *w, int64_t now_ms, rk_tw_expire_cb cb, void *arg)
{
    if (!w || !cb)
        return RK_EINVAL;
    if (w->in_advance)
        return RK_EBUSY;
    if (now_ms < w->now_ms)
        return 0; /* the clock went back: wait for it to catch up */
    w->in_advance = true;
    w->now_ms = now_ms;
    long fired = 0;

    /* Entries that were already due when scheduled. Taken out first, so
     * that what the callbacks schedule at or before now waits for the next
     * call. */
    if (!list_empty(&w->due)) {
        rk_tw_entry_t firing;
        list_move_all(&w->due, &firing);
        for (rk_tw_entry_t *e = firing.next; e != &firing; e = e->next)
            e->level = LVL_FIRING;
        fired += fire_list(w, &firing, false, cb, arg);
    }

    /* Ticks up to the last one whose time has come. A callback schedules
     * only deadlines > now, i.e. ticks > last: never into the slot being
     * fired, never before cur. */
    uint64_t last = ((uint64_t)now_ms - (uint64_t)w->start_ms) / (uint64_t)w->tick_ms;
    while (w->cur <= last && w->next_at <= last) {
        uint64_t at = next_event(w);
        w->next_at = at;
        if (at > last)
            break;
        w->cur = at;
        for (unsigned l = LEVELS - 1; l >= 1; l--) {
            if (at % w->g[l] != 0)
                continue;
            uint32_t s = (uint32_t)((at / w->g[l]) % w->n[l]);
            if (bit_test(w->bits[l], s))
                cascade(w, l, s);
        }
        uint32_t s0 = (uint32_t)(at % w->n[0]);
        if (bit_test(w->bits[0], s0))
            fired += fire_list(w, &w->slots[0][s0], w->tick_ms == 1, cb, arg);
        w->cur = at + 1;
    }
    if (w->cur <= last)
        w->cur = last + 1;
    w->in_advance = false;
    return fired;
}

size_t rk_tw_count(const rk_tw_t *w)
{
    return w->count;
}

int64_t rk_tw_now(const rk_tw_t *w)
{
    return w->now_ms;
}

int64_t rk_tw_next_wakeup(const rk_tw_t *w)
{
    if (w->count == 0)
        return INT64_MAX;
    if (!list_empty(&w->due))
        return w->now_ms;
    uint64_t at = next_event(w);
    if (at == UINT64_MAX)
        return INT64_MAX;
    return (int64_t)((uint64_t)w->start_ms + at * (uint64_t)w->tick_ms);
}

static size_t drain_list(rk_tw_t *w, rk_tw_entry_t *h, rk_tw_expire_cb cb, void *arg)
{
    size_t n = 0;
    while (!list_empty(h)) {
        rk_tw_entry_t *e = h->next;
        unlink_entry(w, e);
        if (cb)
            cb(w, e, arg);
        n++;
    }
    return n;
}

size_t rk_tw_drain(rk_tw_t *w, rk_tw_expire_cb cb, void *arg)
{
    if (!w || w->in_advance)
        return 0;
    size_t n = drain_list(w, &w->due, cb, arg);
    for (unsigned l = 0; l < LEVELS; l++)
        for (uint32_t s = 0; s < w->n[l]; s++)
            n += drain_list(w, &w->slots[l][s], cb, arg);
    return n;
}

size_t rk_tw_memory_bytes(const rk_tw_t *w)
{
    return w->bytes;
}
