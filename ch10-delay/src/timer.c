/* timer.c — any delivery time: the timer log (rmq_sys_wheel_timer's consume queue), the wheel,
 * the checkpoint and recovery (see rk/timer.h). */
#include "rk/timer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "rk/clock.h"
#include "rk/cq_unit.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/grow.h"
#include "rk/json.h"
#include "rk/log.h"
#include "rk/schedule.h"
#include "rk/timing_wheel.h"
#include "rk/thread.h"

#define BUCKET_SHIFT 12             /* lowOffset is kept to 4096 units */
#define SLAB_ENTRIES 4096
#define READ_BATCH 1024
#define READ_CAP_PER_ROUND 262144   /* then the wheel turns before more is read (not at recovery) */
#define IDLE_WAIT_MS 100            /* at most this long without looking at the timer log */
#define ROLE_POLL_MS 200
#define PUT_RETRY_MS 1000
#define DISPATCH_WAIT_MS 10000
#define PUT_BATCH 64                /* what the commitlog puts under one lock at most */
#define PUT_BATCH_BYTES (1 << 20)

/* One pending message. size < 0 marks an entry whose put failed and waits for its retry. */
typedef struct tentry {
    rk_tw_entry_t e;
    int64_t phys;
    int32_t size;
    uint32_t bucket;                /* queue offset >> BUCKET_SHIFT (wraps after 2^44 units) */
} tentry_t;

/* One message being put back: the parked record (held mapped) and what goes into the log. */
typedef struct prep {
    rk_store_view_t v;
    rk_buf_t props;
    char topic[RK_TOPIC_MAX_LEN + 1];
    rk_msg_t m;
} prep_t;

typedef struct ckpt {
    int64_t low, read, progress, log_pos;
} ckpt_t;

struct rk_timer {
    rk_store_t *st;
    char *path;
    int64_t max_delay_ms, precision, flush_ms, max_pending, near_s;
    bool (*may_deliver)(void *ctx);
    void *may_ctx;

    uv_mutex_t mu;                  /* ck, dirty, wake, running, delivering */
    uv_cond_t cond;
    ckpt_t ck;                      /* the checkpoint as last taken */
    ckpt_t staged;                  /* an earlier one, written once the commitlog has flushed its logPos */
    bool have_staged;
    bool dirty, wake, running, delivering, started;
    uv_thread_t thread;
    _Atomic int64_t pending, behind, delivered, skipped, failed;
    _Atomic int64_t max_turn_ms, max_put_ms;    /* longest wheel turn / put-back of one turn's due messages */

    /* service thread only */
    rk_tw_t *wheel;
    tentry_t *free_list;
    void **slabs;
    size_t nslabs, slab_cap;
    uint32_t *bcount;               /* pending units per bucket, from bucket bbase */
    int64_t bbase;
    size_t bhead, blen, bcap;       /* live counters are bcount[bhead .. blen) */
    int64_t read_off, skip_below, skip_before;
    int64_t failed_min;             /* earliest deadline among entries waiting for a retry */
    int64_t nretry;
    tentry_t **far;                 /* per-second lists of entries due more than near_s s ahead (a ring) */
    size_t far_n;
    int64_t far_sec;                /* every entry due before this second is in the wheel */
    tentry_t **due;                 /* what the last turn of the wheel made due, in time order */
    size_t ndue, due_cap;
    prep_t *prep;                   /* PUT_BATCH of them */
    uv_thread_t flusher;            /* writes the checkpoint: a file write (and its fsync) never delays a delivery */
    uv_cond_t flush_cond;
};

size_t rk_timer_entry_bytes(void) { return sizeof(tentry_t); }

static bool is_timer_topic(const char *topic, size_t len)
{
    return len == sizeof RK_TIMER_TOPIC - 1 && memcmp(topic, RK_TIMER_TOPIC, len) == 0;
}

static bool precision_ok(int64_t p)
{
    return p == 1000 || (p > 0 && p <= 500 && 1000 % p == 0);
}

/* ------------------------------------------------------------ checkpoint */

static char *encode_ck(const ckpt_t *c)
{
    char *text = malloc(200);
    if (text != NULL)
        snprintf(text, 200, "{\"readOffset\":%" PRId64 ",\"lowOffset\":%" PRId64 ",\"progressMs\":%" PRId64
                 ",\"logPos\":%" PRId64 "}", c->read, c->low, c->progress, c->log_pos);
    return text;
}

static int decode_ck(const char *text, size_t len, ckpt_t *out)
{
    cJSON *root = rk_json_parse(text, len);
    if (root == NULL)
        return RK_ECORRUPT;
    ckpt_t c;
    int rc = RK_OK;
    if (rk_json_get_i64(root, "readOffset", &c.read) != RK_OK || rk_json_get_i64(root, "lowOffset", &c.low) != RK_OK ||
        rk_json_get_i64(root, "progressMs", &c.progress) != RK_OK || rk_json_get_i64(root, "logPos", &c.log_pos) != RK_OK ||
        c.read < 0 || c.low < 0 || c.low > c.read || c.progress < 0 || c.log_pos < 0)
        rc = RK_ECORRUPT;
    cJSON_Delete(root);
    if (rc == RK_OK)
        *out = c;
    return rc;
}

static int parse_file(const char *text, size_t len, void *ctx)
{
    return decode_ck(text, len, ctx);
}

char *rk_timer_encode(rk_timer_t *t)
{
    uv_mutex_lock(&t->mu);
    ckpt_t c = t->ck;
    uv_mutex_unlock(&t->mu);
    return encode_ck(&c);
}

/* Writes the checkpoint. Unless forced (stop, a copied checkpoint), only one whose logPos the
 * commitlog has flushed: the puts it counts as delivered must be on disk before it says so (an
 * OS crash with ASYNC_FLUSH would otherwise lose them). The checkpoint taken now is kept for the
 * next flush when the disk is not there yet. */
static int persist(rk_timer_t *t, bool force)
{
    /* forced: may run after rk_store_close (rk_timer_free), so the store is not asked */
    int64_t flushed = force ? INT64_MAX : rk_commitlog_flushed_offset(rk_store_commitlog(t->st));
    uv_mutex_lock(&t->mu);
    if (!t->dirty) {
        uv_mutex_unlock(&t->mu);
        return RK_OK;
    }
    ckpt_t c = t->ck;
    bool write = force || c.log_pos <= flushed;
    if (!write && t->have_staged && t->staged.log_pos <= flushed) {
        ckpt_t s = t->staged;
        t->staged = c;
        c = s;
        write = true;               /* an older one that is on disk; the newer one waits */
    } else if (!write) {
        t->staged = c;
        t->have_staged = true;
    }
    if (write && memcmp(&c, &t->ck, sizeof c) == 0)
        t->dirty = false;
    uv_mutex_unlock(&t->mu);
    if (!write)
        return RK_OK;
    char *text = encode_ck(&c);
    int rc = text != NULL ? rk_file_write_atomic(t->path, text, strlen(text)) : RK_ENOMEM;
    free(text);
    if (rc != RK_OK) {
        uv_mutex_lock(&t->mu);
        t->dirty = true;
        uv_mutex_unlock(&t->mu);
        rk_log_error("timer", "cannot write %s: %s (retrying at the next flush)", t->path, rk_strerror(rc));
    }
    return rc;
}

int rk_timer_persist(rk_timer_t *t) { return persist(t, true); }

int rk_timer_follow(rk_timer_t *t, const char *text, size_t len)
{
    ckpt_t c;
    int rc = decode_ck(text, len, &c);
    if (rc != RK_OK)
        return rc;
    /* the master's puts before logPos (deliveries included) must be in this log first */
    if (rk_store_commitlog_max(t->st) < c.log_pos)
        return RK_OK;
    uv_mutex_lock(&t->mu);
    if (t->delivering) {
        uv_mutex_unlock(&t->mu);
        return RK_EBUSY;
    }
    bool changed = memcmp(&c, &t->ck, sizeof c) != 0;
    if (changed) {
        t->ck = c;
        t->dirty = true;
    }
    uv_mutex_unlock(&t->mu);
    return changed ? rk_timer_persist(t) : RK_OK;
}

void rk_timer_stats(rk_timer_t *t, rk_timer_stats_t *out)
{
    uv_mutex_lock(&t->mu);
    out->delivering = t->delivering;
    out->read_offset = t->ck.read;
    out->low_offset = t->ck.low;
    out->progress_ms = t->ck.progress;
    out->log_pos = t->ck.log_pos;
    uv_mutex_unlock(&t->mu);
    out->pending = atomic_load(&t->pending);
    out->behind = atomic_load(&t->behind);
    out->delivered = atomic_load(&t->delivered);
    out->skipped = atomic_load(&t->skipped);
    out->failed = atomic_load(&t->failed);
    out->max_turn_ms = atomic_load(&t->max_turn_ms);
    out->max_put_ms = atomic_load(&t->max_put_ms);
    out->precision_ms = t->precision;
    out->max_delay_sec = t->max_delay_ms / 1000;
}

/* ------------------------------------------------------------ hooks */

/* The timing properties, in RocketMQ's order of precedence, with the range of each value
 * (TIMER_DELAY_SEC / TIMER_DELAY_MS are Java ints). */
static const struct {
    const char *key;
    size_t len;
    int64_t min, max, unit;         /* unit 0: an absolute time */
} timer_keys[] = {
    {RK_PROP_TIMER_DELAY_SEC, sizeof RK_PROP_TIMER_DELAY_SEC - 1, INT32_MIN, INT32_MAX, 1000},
    {RK_PROP_TIMER_DELAY_MS, sizeof RK_PROP_TIMER_DELAY_MS - 1, INT32_MIN, INT32_MAX, 1},
    {RK_PROP_TIMER_DELIVER_MS, sizeof RK_PROP_TIMER_DELIVER_MS - 1, INT64_MIN / 2, INT64_MAX / 2, 0},
    {RK_PROP_START_DELIVER_TIME, sizeof RK_PROP_START_DELIVER_TIME - 1, INT64_MIN / 2, INT64_MAX / 2, 0},
};
#define NKEYS (sizeof timer_keys / sizeof timer_keys[0])

/* The delivery time a message asks for: one pass over its properties (every put runs this).
 * RK_PUT_OK with *found false: none; RK_PUT_WHEEL_TIMER_MSG_ILLEGAL: not an integer in range. */
static rk_put_status_t asked_time(const rk_msg_t *m, int64_t *now, bool *found, int64_t *at)
{
    const char *val[NKEYS] = {0};
    size_t vlen[NKEYS] = {0};
    rk_prop_iter_t it = rk_props_iter(m->props, m->props_len);
    const char *k, *v;
    size_t kl, vl;
    while (rk_props_next(&it, &k, &kl, &v, &vl)) {
        if (kl < sizeof RK_PROP_TIMER_DELAY_MS - 1 || (k[0] != 'T' && k[0] != '_'))
            continue;
        for (size_t j = 0; j < NKEYS; j++)
            if (val[j] == NULL && kl == timer_keys[j].len && memcmp(k, timer_keys[j].key, kl) == 0) {
                val[j] = v;
                vlen[j] = vl;
            }
    }
    *found = false;
    for (size_t j = 0; j < NKEYS; j++) {
        if (val[j] == NULL)
            continue;
        *found = true;
        char buf[32];
        int64_t x;
        if (vlen[j] >= sizeof buf)
            return RK_PUT_WHEEL_TIMER_MSG_ILLEGAL;
        memcpy(buf, val[j], vlen[j]);
        buf[vlen[j]] = '\0';
        if (rk_parse_int(buf, &x) != RK_OK || x < timer_keys[j].min || x > timer_keys[j].max)
            return RK_PUT_WHEEL_TIMER_MSG_ILLEGAL;
        if (timer_keys[j].unit) {
            *now = rk_now_ms();
            *at = *now + x * timer_keys[j].unit;
        } else {
            *at = x;
        }
        return RK_PUT_OK;
    }
    return RK_PUT_OK;
}

/* A delay level was asked too (chapter 9's hook already parked the message): the level wins and,
 * as RocketMQ's checkIfTimerMessage, the TIMER_* properties are removed. */
static rk_put_status_t level_wins(rk_msg_t *m, rk_put_scratch_t *scratch)
{
    static const char *const drop[] = {RK_PROP_TIMER_DELIVER_MS, RK_PROP_TIMER_DELAY_SEC, RK_PROP_TIMER_DELAY_MS,
                                       NULL};
    bool any = false;
    for (int i = 0; drop[i] && !any; i++)
        any = rk_props_get(m->props, m->props_len, drop[i], &(size_t){0}) != NULL;
    if (!any)
        return RK_PUT_OK;
    rk_buf_t b = {0};
    rk_props_copy_without_any(&b, m->props, m->props_len, drop);
    char *p = b.err == 0 ? rk_put_scratch(scratch, b.len + 1) : NULL;
    if (p != NULL) {
        memcpy(p, b.data, b.len);
        m->props = p;
        m->props_len = b.len;
    }
    rk_buf_free(&b);
    return p != NULL ? RK_PUT_OK : RK_PUT_UNKNOWN_ERROR;
}

/* HookUtils.handleScheduleMessage / transformTimerMessage, rocklet's way. */
static rk_put_status_t timer_hook(void *ctx, rk_msg_t *m, rk_put_scratch_t *scratch)
{
    rk_timer_t *t = ctx;
    if (rk_schedule_in_internal_put())          /* the timer's (and the schedule's) own puts */
        return RK_PUT_OK;
    if (is_timer_topic(m->topic, m->topic_len))  /* only the broker parks messages there */
        return RK_PUT_MESSAGE_ILLEGAL;
    int32_t txn = rk_sysflag_txn(m->sys_flag);
    if (txn != RK_SYSFLAG_TXN_NOT && txn != RK_SYSFLAG_TXN_COMMIT)
        return RK_PUT_OK;
    if (m->topic_len == sizeof RK_SCHEDULE_TOPIC - 1 && memcmp(m->topic, RK_SCHEDULE_TOPIC, m->topic_len) == 0)
        return level_wins(m, scratch);
    bool found = false;
    int64_t now = 0, at = 0;                    /* the clock is read only for a message that asks a time */
    rk_put_status_t st = asked_time(m, &now, &found, &at);
    if (st != RK_PUT_OK || !found)
        return st;
    if (now == 0)
        now = rk_now_ms();
    if (at <= now)                              /* already due: an ordinary message */
        return RK_PUT_OK;
    if (at - now > t->max_delay_ms)
        return RK_PUT_WHEEL_TIMER_MSG_ILLEGAL;
    if (atomic_load(&t->pending) + atomic_load(&t->behind) >= t->max_pending)
        return RK_PUT_WHEEL_TIMER_FLOW_CONTROL;
    /* rounded UP to the precision: never before the time asked (RocketMQ rounds down, 1 s) */
    at = (at + t->precision - 1) / t->precision * t->precision;
    char out_ms[24];
    snprintf(out_ms, sizeof out_ms, "%" PRId64, at);
    return rk_schedule_park(m, scratch, RK_PROP_TIMER_OUT_MS, out_ms, RK_TIMER_TOPIC, 0);
}

/* The tags code of a parked record is its delivery time (TIMER_OUT_MS; unreadable: its store
 * time, i.e. due at once — never lost). */
static bool tag_hook(void *ctx, const rk_record_t *rec, const char *tags, int64_t *code)
{
    (void)ctx;
    (void)tags;
    if (!is_timer_topic(rec->topic, rec->topic_len))
        return false;
    char v[24];
    int64_t at;
    if (rk_props_get_str(rec->props, rec->props_len, RK_PROP_TIMER_OUT_MS, v, sizeof v) != RK_OK ||
        rk_parse_int(v, &at) != RK_OK || at < 0)
        at = rec->store_ts;
    *code = at;
    return true;
}

static int on_dispatch(void *ctx, const rk_dispatch_request_t *d)
{
    rk_timer_t *t = ctx;
    if (strcmp(d->topic, RK_TIMER_TOPIC) != 0)
        return RK_OK;
    uv_mutex_lock(&t->mu);
    if (!t->wake) {
        t->wake = true;
        uv_cond_signal(&t->cond);
    }
    uv_mutex_unlock(&t->mu);
    return RK_OK;
}

/* ------------------------------------------------------------ entries and buckets */

static tentry_t *entry_new(rk_timer_t *t)
{
    if (t->free_list == NULL) {
        if (RK_GROW(t->slabs, t->slab_cap, t->nslabs + 1, 64) != RK_OK)
            return NULL;
        tentry_t *slab = malloc(SLAB_ENTRIES * sizeof *slab);
        if (slab == NULL)
            return NULL;
        t->slabs[t->nslabs++] = slab;
        for (int i = SLAB_ENTRIES - 1; i >= 0; i--) {
            slab[i].e.next = (rk_tw_entry_t *)t->free_list;
            t->free_list = &slab[i];
        }
    }
    tentry_t *x = t->free_list;
    t->free_list = (tentry_t *)(void *)x->e.next;
    rk_tw_entry_init(&x->e);
    return x;
}

static void entry_free(rk_timer_t *t, tentry_t *x)
{
    x->e.next = (rk_tw_entry_t *)t->free_list;
    t->free_list = x;
}

static void free_all_entries(rk_timer_t *t)
{
    free(t->far);
    t->far = NULL;
    t->far_n = 0;
    if (t->wheel != NULL)
        rk_tw_drain(t->wheel, NULL, NULL);
    for (size_t i = 0; i < t->nslabs; i++)
        free(t->slabs[i]);
    free(t->slabs);
    t->slabs = NULL;
    t->nslabs = t->slab_cap = 0;
    t->free_list = NULL;
    free(t->bcount);
    t->bcount = NULL;
    t->bhead = t->blen = t->bcap = 0;
    atomic_store(&t->pending, 0);
}

/* One more pending unit at queue offset q (q never decreases from call to call). */
static int bucket_add(rk_timer_t *t, int64_t q, uint32_t *out)
{
    int64_t b = q >> BUCKET_SHIFT;
    if (t->blen == t->bhead) {              /* nothing live: restart the window here */
        t->bhead = t->blen = 0;
        t->bbase = b;
    }
    size_t idx = (size_t)(b - t->bbase);
    while (idx >= t->blen) {
        if (t->blen == t->bcap) {
            if (t->bhead > 0) {             /* slide the live window to the front */
                memmove(t->bcount, t->bcount + t->bhead, (t->blen - t->bhead) * sizeof *t->bcount);
                t->bbase += (int64_t)t->bhead;
                t->blen -= t->bhead;
                idx -= t->bhead;
                t->bhead = 0;
                continue;
            }
            if (RK_GROW(t->bcount, t->bcap, t->blen + 1, 256) != RK_OK)
                return RK_ENOMEM;
        }
        t->bcount[t->blen++] = 0;
    }
    t->bcount[idx]++;
    *out = (uint32_t)b;
    return RK_OK;
}

static void bucket_done(rk_timer_t *t, uint32_t bucket)
{
    size_t idx = (size_t)((uint32_t)(bucket - (uint32_t)t->bbase));
    if (idx < t->blen && t->bcount[idx] > 0)
        t->bcount[idx]--;
    while (t->bhead < t->blen && t->bcount[t->bhead] == 0)
        t->bhead++;
}

/* The lowest queue offset that may still be pending. */
static int64_t low_offset(const rk_timer_t *t)
{
    if (t->bhead == t->blen)
        return t->read_off;
    int64_t low = (t->bbase + (int64_t)t->bhead) << BUCKET_SHIFT;
    return low < t->read_off ? low : t->read_off;
}

/* ------------------------------------------------------------ delivery */

static bool may_deliver(rk_timer_t *t) { return t->may_deliver == NULL || t->may_deliver(t->may_ctx); }

enum { DELIVERED, SKIPPED, FAILED };

/* convertMessage: the parked record back into REAL_TOPIC / REAL_QID, every property kept,
 * TIMER_ENQUEUE_MS / TIMER_DEQUEUE_MS / WAIT=false added. SKIPPED when there is nothing to
 * restore (logged); otherwise p holds a view to release (prep_release). */
static int prepare(rk_timer_t *t, const tentry_t *x, prep_t *p)
{
    int rc = rk_store_view(t->st, x->phys, &p->v);
    if (rc != RK_OK) {
        rk_log_error("timer", "the message at commitlog offset %" PRId64 " cannot be read (%s); it was removed "
                     "from the commitlog, skipped", x->phys, rk_strerror(rc));
        return SKIPPED;
    }
    rk_record_t rec;
    if (rk_record_decode(p->v.data, (size_t)p->v.size, false, &rec) != RK_OK || rk_record_is_blank(&rec) ||
        !is_timer_topic(rec.topic, rec.topic_len) || rk_schedule_unpark(&rec, p->topic, sizeof p->topic, &p->m) != RK_OK) {
        rk_log_error("timer", "the message at commitlog offset %" PRId64 " is no parked timer message with a "
                     "valid REAL_TOPIC / REAL_QID; skipped", x->phys);
        rk_store_view_release(&p->v);
        return SKIPPED;
    }
    char enq[24], deq[24];
    snprintf(enq, sizeof enq, "%" PRId64, rec.store_ts);
    snprintf(deq, sizeof deq, "%" PRId64, rk_now_ms());
    static const char *const drop[] = {RK_PROP_WAIT, RK_PROP_TIMER_ENQUEUE_MS, RK_PROP_TIMER_DEQUEUE_MS, NULL};
    p->props.len = 0;
    rk_props_copy_without_any(&p->props, rec.props, rec.props_len, drop);
    rk_props_put(&p->props, RK_PROP_TIMER_ENQUEUE_MS, enq);
    rk_props_put(&p->props, RK_PROP_TIMER_DEQUEUE_MS, deq);
    rk_props_put(&p->props, RK_PROP_WAIT, "false");   /* setWaitStoreMsgOK(false): no flush/replica wait */
    if (p->props.err != 0 || p->props.len > RK_PROPERTIES_MAX_LEN) {
        rk_log_error("timer", "the message at %" PRId64 " cannot be restored (%s); skipped", x->phys,
                     p->props.err != 0 ? "out of memory" : "properties too long");
        rk_buf_free(&p->props);
        p->props = (rk_buf_t){0};
        rk_store_view_release(&p->v);
        return SKIPPED;
    }
    p->m.props = (const char *)p->props.data;
    p->m.props_len = p->props.len;
    return DELIVERED;
}

/* An entry's delivery ended: r says how (a failed one waits PUT_RETRY_MS for its retry and holds
 * progressMs at its time until then). */
static void finish(rk_timer_t *t, tentry_t *x, int r)
{
    bool retry = x->size < 0;
    if (r == FAILED) {
        if (!retry) {
            x->size = -x->size;
            t->nretry++;
            if (rk_tw_entry_deadline(&x->e) < t->failed_min)
                t->failed_min = rk_tw_entry_deadline(&x->e);
        }
        atomic_fetch_add(&t->failed, 1);
        rk_tw_schedule(t->wheel, &x->e, rk_tw_now(t->wheel) + PUT_RETRY_MS);
        return;
    }
    if (retry && --t->nretry == 0)
        t->failed_min = INT64_MAX;
    if (r == DELIVERED)
        atomic_fetch_add(&t->delivered, 1);
    bucket_done(t, x->bucket);
    entry_free(t, x);
    atomic_fetch_sub(&t->pending, 1);
}

/* The wheel hands over what is due, in time order; it is put back after the turn, in batches. */
static void on_expire(rk_tw_t *w, rk_tw_entry_t *e, void *arg)
{
    rk_timer_t *t = arg;
    tentry_t *x = rk_tw_container_of(e, tentry_t, e);
    if (RK_GROW(t->due, t->due_cap, t->ndue + 1, 1024) != RK_OK) {   /* no room to hold it: it waits for the next turn */
        rk_tw_schedule(w, e, rk_tw_now(w) + PUT_RETRY_MS);
        if (x->size > 0) {
            x->size = -x->size;
            t->nretry++;
            if (rk_tw_entry_deadline(e) < t->failed_min)
                t->failed_min = rk_tw_entry_deadline(e);
        }
        return;
    }
    t->due[t->ndue++] = x;
}

/* Puts back what the last turn made due: up to PUT_BATCH messages under one commitlog lock (one
 * wake-up of the dispatcher instead of one per message), in time order. */
static void deliver_due(rk_timer_t *t)
{
    rk_commitlog_t *cl = rk_store_commitlog(t->st);
    size_t i = 0;
    while (i < t->ndue) {
        tentry_t *xs[PUT_BATCH];
        rk_msg_t msgs[PUT_BATCH];
        int n = 0;
        int64_t bytes = 0;
        while (n < PUT_BATCH && i < t->ndue && bytes < PUT_BATCH_BYTES) {
            tentry_t *x = t->due[i++];
            if (prepare(t, x, &t->prep[n]) == SKIPPED) {
                finish(t, x, SKIPPED);
                continue;
            }
            msgs[n] = t->prep[n].m;
            bytes += (int64_t)msgs[n].body_len + (int64_t)msgs[n].props_len;
            xs[n++] = x;
        }
        if (n == 0)
            continue;
        bool ok = false;
        rk_put_result_t res = {0};
        int rc = RK_OK;
        if (may_deliver(t)) {
            rk_schedule_internal_put(true);
            rc = n == 1 ? rk_store_put(t->st, &msgs[0], &res) : rk_commitlog_put_batch(cl, msgs, n, &res, NULL);
            if (rc != RK_OK && n > 1) {     /* the batch as a whole was refused: one by one */
                for (int k = 0; k < n; k++) {
                    rk_put_result_t one;
                    int r1 = rk_store_put(t->st, &msgs[k], &one);
                    bool ok1 = r1 == RK_OK && one.status == RK_PUT_OK;
                    rk_store_view_release(&t->prep[k].v);
                    finish(t, xs[k], ok1 ? DELIVERED : FAILED);
                    xs[k] = NULL;
                }
            }
            rk_schedule_internal_put(false);
            ok = rc == RK_OK && res.status == RK_PUT_OK;
            if (!ok && rc == RK_OK)
                rk_log_warn("timer", "putting %d due message(s) back failed (%s); trying again in %d ms", n,
                            rk_put_status_name(res.status), PUT_RETRY_MS);
        }
        for (int k = 0; k < n; k++)
            if (xs[k] != NULL) {
                rk_store_view_release(&t->prep[k].v);
                finish(t, xs[k], ok ? DELIVERED : FAILED);
            }
    }
    t->ndue = 0;
}

/* An entry due more than near_s s ahead waits in the list of its second and enters the wheel
 * near_s s before it is due, a second's worth at a time. Otherwise the wheel itself would hold it
 * in an hour slot and move every entry of that slot at once when the slot comes round: a
 * 150 ms turn with half a million entries, which made the messages due then late. While an
 * entry is not pending its rk_tw_entry_t is ours: next links the list, deadline_ms keeps the time. */
static void place(rk_timer_t *t, tentry_t *x, int64_t due)
{
    int64_t sec = due >= 0 ? due / 1000 : -1;
    if (t->far == NULL || sec < t->far_sec || sec - t->far_sec >= (int64_t)t->far_n) {
        rk_tw_schedule(t->wheel, &x->e, due);
        return;
    }
    tentry_t **head = &t->far[sec % (int64_t)t->far_n];
    x->e.deadline_ms = due;
    x->e.next = (rk_tw_entry_t *)*head;
    *head = x;
}

static void pull_near(rk_timer_t *t, int64_t now)
{
    if (t->far == NULL)
        return;
    int64_t until = now / 1000 + t->near_s, steps = until - t->far_sec + 1;
    if (steps > (int64_t)t->far_n)
        steps = (int64_t)t->far_n;      /* a clock that jumped far ahead: every list once */
    for (int64_t k = 0; k < steps; k++) {
        tentry_t **head = &t->far[(t->far_sec + k) % (int64_t)t->far_n], *x = *head;
        *head = NULL;
        while (x != NULL) {
            tentry_t *next = (tentry_t *)(void *)x->e.next;
            int64_t due = x->e.deadline_ms;
            rk_tw_entry_init(&x->e);
            rk_tw_schedule(t->wheel, &x->e, due);
            x = next;
        }
    }
    if (until + 1 > t->far_sec)
        t->far_sec = until + 1;
}

/* Reads new timer-log units into the wheel; returns how many were read (cap < 0: no cap). */
static int64_t read_units(rk_timer_t *t, int64_t cap)
{
    int64_t n = 0;
    rk_cq_unit_t u[READ_BATCH];
    while (cap < 0 || n < cap) {
        int got = rk_store_read_units(t->st, RK_TIMER_TOPIC, 0, t->read_off, u, READ_BATCH);
        if (got <= 0)
            break;
        for (int i = 0; i < got; i++, t->read_off++, n++) {
            if (t->read_off < t->skip_below && u[i].tag_code < t->skip_before) {
                atomic_fetch_add(&t->skipped, 1);       /* delivered before the checkpoint */
                continue;
            }
            tentry_t *x = entry_new(t);
            uint32_t bucket;
            if (x == NULL || bucket_add(t, t->read_off, &bucket) != RK_OK) {
                if (x != NULL)
                    entry_free(t, x);
                rk_log_error("timer", "out of memory reading the timer log at %" PRId64 "; retrying", t->read_off);
                return n;
            }
            x->phys = u[i].phys;
            x->size = u[i].size > 0 ? u[i].size : 1;
            x->bucket = bucket;
            place(t, x, u[i].tag_code);
            atomic_fetch_add(&t->pending, 1);
        }
    }
    return n;
}

/* The checkpoint as it stands now (service thread, between rounds). */
static void take_checkpoint(rk_timer_t *t)
{
    int64_t seen = rk_tw_now(t->wheel);
    int64_t progress = seen - seen % t->precision + 1;     /* every deadline <= the last tick fired */
    if (t->failed_min < progress)
        progress = t->failed_min;
    ckpt_t c = {.low = low_offset(t), .read = t->read_off, .progress = progress,
                .log_pos = rk_store_commitlog_max(t->st)};
    uv_mutex_lock(&t->mu);
    if (memcmp(&c, &t->ck, sizeof c) != 0) {
        t->ck = c;
        t->dirty = true;
    }
    uv_mutex_unlock(&t->mu);
}

/* Becoming the deliverer: the wheel rebuilt from the checkpoint (see Recovery in rk/timer.h). */
static int become_master(rk_timer_t *t)
{
    if (rk_store_wait_dispatched(t->st, DISPATCH_WAIT_MS) != RK_OK)
        rk_log_warn("timer", "the consume queues are still behind the commitlog after %d s; going on",
                    DISPATCH_WAIT_MS / 1000);
    uv_mutex_lock(&t->mu);
    t->delivering = true;               /* from here on no copy changes the checkpoint */
    ckpt_t c = t->ck;
    uv_mutex_unlock(&t->mu);
    int64_t now = rk_now_ms();
    int rc = RK_ENOMEM;
    t->wheel = rk_tw_create(t->precision >= 1000 ? 500 : t->precision, now - now % t->precision, &rc);
    if (t->wheel == NULL)
        return rc;
    t->far_n = (size_t)(t->max_delay_ms / 1000 + t->near_s) + 60;
    if ((t->far = calloc(t->far_n, sizeof *t->far)) == NULL)
        t->far_n = 0;                   /* everything straight into the wheel */
    t->far_sec = now / 1000 + t->near_s + 1;
    t->failed_min = INT64_MAX;
    t->nretry = 0;
    int64_t min = rk_store_min_offset(t->st, RK_TIMER_TOPIC, 0), max = rk_store_max_offset(t->st, RK_TIMER_TOPIC, 0);
    t->read_off = c.low;
    if (t->read_off < min || t->read_off > max) {
        int64_t to = t->read_off < min ? min : max;
        rk_log_warn("timer", "the checkpoint's lowOffset %" PRId64 " is outside the timer log [%" PRId64 ", %" PRId64
                    "); reading from %" PRId64, t->read_off, min, max, to);
        t->read_off = to;
    }
    /* units the checkpoint counted that this log no longer has (a tail lost with the machine):
     * the offsets will be reused by new messages, which must not be taken for delivered ones */
    t->skip_below = c.read < max ? c.read : max;
    t->skip_before = c.progress;
    uint64_t t0 = rk_mono_ms();
    int64_t n = read_units(t, -1);
    rk_log_info("timer", "the master: %" PRId64 " timer-log units read from %" PRId64 " in %" PRIu64 " ms, %" PRId64
                " pending (delivered before the checkpoint: %" PRId64 ")", n, c.low, rk_mono_ms() - t0,
                atomic_load(&t->pending), atomic_load(&t->skipped));
    return RK_OK;
}

static void become_follower(rk_timer_t *t)
{
    free_all_entries(t);
    rk_tw_destroy(t->wheel);
    t->wheel = NULL;
    uv_mutex_lock(&t->mu);
    t->delivering = false;
    uv_mutex_unlock(&t->mu);
    rk_log_info("timer", "not the master: delivery stops (the checkpoint follows the master's)");
}

static void service_main(void *arg)
{
    rk_timer_t *t = arg;
    (void)rk_thread_init("rk-timer", RK_THREAD_NORMAL);
    uv_mutex_lock(&t->mu);
    while (t->running) {
        uv_mutex_unlock(&t->mu);
        bool want = may_deliver(t);
        int64_t wait_ms = ROLE_POLL_MS;
        if (!want && t->wheel != NULL)
            become_follower(t);
        if (want && t->wheel == NULL && become_master(t) != RK_OK) {
            rk_log_error("timer", "cannot build the wheel (out of memory); trying again");
            uv_mutex_lock(&t->mu);
            t->delivering = false;
            uv_mutex_unlock(&t->mu);
        }
        if (want && t->wheel != NULL) {
            read_units(t, READ_CAP_PER_ROUND);
            pull_near(t, rk_now_ms());
            uint64_t a0 = rk_mono_ns();
            rk_tw_advance(t->wheel, rk_now_ms(), on_expire, t);
            uint64_t a1 = rk_mono_ns();
            deliver_due(t);
            uint64_t a2 = rk_mono_ns();
            if ((int64_t)((a1 - a0) / 1000000) > atomic_load(&t->max_turn_ms))
                atomic_store(&t->max_turn_ms, (int64_t)((a1 - a0) / 1000000));
            if ((int64_t)((a2 - a1) / 1000000) > atomic_load(&t->max_put_ms))
                atomic_store(&t->max_put_ms, (int64_t)((a2 - a1) / 1000000));
            take_checkpoint(t);
            int64_t max = rk_store_max_offset(t->st, RK_TIMER_TOPIC, 0);
            atomic_store(&t->behind, max > t->read_off ? max - t->read_off : 0);
            int64_t next = rk_tw_next_wakeup(t->wheel), now = rk_now_ms();
            wait_ms = next == INT64_MAX ? IDLE_WAIT_MS : next - now;
            if (wait_ms > IDLE_WAIT_MS)
                wait_ms = IDLE_WAIT_MS;
            if (max > t->read_off)
                wait_ms = 0;
        }
        uv_mutex_lock(&t->mu);
        if (wait_ms > 0 && !t->wake && t->running)
            uv_cond_timedwait(&t->cond, &t->mu, (uint64_t)wait_ms * 1000000ULL);
        t->wake = false;
    }
    uv_mutex_unlock(&t->mu);
    if (t->wheel != NULL) {
        take_checkpoint(t);
        free_all_entries(t);
        rk_tw_destroy(t->wheel);
        t->wheel = NULL;
    }
}

static void flusher_main(void *arg)
{
    rk_timer_t *t = arg;
    (void)rk_thread_init("rk-timer-flush", RK_THREAD_BACKGROUND);
    uv_mutex_lock(&t->mu);
    while (t->running) {
        uv_cond_timedwait(&t->flush_cond, &t->mu, (uint64_t)t->flush_ms * 1000000ULL);
        if (!t->running)
            break;
        uv_mutex_unlock(&t->mu);
        persist(t, false);
        uv_mutex_lock(&t->mu);
    }
    uv_mutex_unlock(&t->mu);
}

/* ------------------------------------------------------------ life cycle */

int rk_timer_new(rk_store_t *st, const rk_timer_config_t *cfg, rk_timer_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (cfg == NULL || cfg->checkpoint_path == NULL) {
        snprintf(err, errlen, "timer: no checkpoint path");
        return RK_EINVAL;
    }
    int64_t precision = cfg->precision_ms ? cfg->precision_ms : 10;
    int64_t max_delay = cfg->max_delay_sec ? cfg->max_delay_sec : 259200;
    if (!precision_ok(precision)) {
        snprintf(err, errlen, "timerPrecisionMs %" PRId64 ": expected 1, 2, 4, 5, 8, 10, 20, 25, 40, 50, 100, 125, "
                 "200, 250, 500 or 1000", precision);
        return RK_EBADCONFIG;
    }
    if (max_delay < 1 || max_delay > 30LL * 86400) {
        snprintf(err, errlen, "timerMaxDelaySec %" PRId64 ": expected 1 .. 2592000 (30 days)", max_delay);
        return RK_EBADCONFIG;
    }
    rk_timer_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return RK_ENOMEM;
    t->st = st;
    t->precision = precision;
    t->max_delay_ms = max_delay * 1000;
    t->flush_ms = cfg->flush_interval_ms > 0 ? cfg->flush_interval_ms : 1000;
    t->max_pending = cfg->max_pending > 0 ? cfg->max_pending : 10000000;
    t->near_s = cfg->near_sec > 0 ? cfg->near_sec : 50;
    t->may_deliver = cfg->may_deliver;
    t->may_ctx = cfg->may_deliver_ctx;
    t->failed_min = INT64_MAX;
    if ((t->prep = calloc(PUT_BATCH, sizeof *t->prep)) == NULL || (t->path = strdup(cfg->checkpoint_path)) == NULL ||
        uv_mutex_init(&t->mu) != 0) {
        free(t->prep);
        free(t->path);
        free(t);
        return RK_ENOMEM;
    }
    if (uv_cond_init(&t->cond) != 0 || uv_cond_init(&t->flush_cond) != 0) {
        uv_mutex_destroy(&t->mu);
        free(t->prep);
        free(t->path);
        free(t);
        return RK_ENOMEM;
    }
    rk_file_load_opts_t lo = {.fallback_to_bak = cfg->fallback_to_bak, .opt_in = "metadataFallbackToBak=true"};
    char why[512] = "";
    int rc = rk_file_load(t->path, parse_file, &t->ck, &lo, NULL, why, sizeof why);
    if (rc == -ENOENT)
        rc = RK_OK;                     /* first start: nothing parked yet */
    if (rc != RK_OK)
        snprintf(err, errlen, "%s", why[0] ? why : rk_strerror(rc));
    if (rc == RK_OK)
        rc = rk_commitlog_add_put_hook(rk_store_commitlog(st), "timer", timer_hook, t);
    if (rc == RK_OK)
        rc = rk_store_add_tag_code_hook(st, tag_hook, t);
    if (rc == RK_OK)
        rc = rk_store_register_dispatcher(st, "timer-wake", on_dispatch, t);
    if (rc != RK_OK) {
        if (!err[0])
            snprintf(err, errlen, "timer: %s", rk_strerror(rc));
        uv_cond_destroy(&t->flush_cond);
        uv_cond_destroy(&t->cond);
        uv_mutex_destroy(&t->mu);
        free(t->prep);
        free(t->path);
        free(t);
        return rc;
    }
    *out = t;
    return RK_OK;
}

int rk_timer_start(rk_timer_t *t)
{
    if (t->started)
        return RK_EINVAL;
    t->running = true;
    if (uv_thread_create(&t->thread, service_main, t) != 0) {
        t->running = false;
        return RK_ENOMEM;
    }
    if (uv_thread_create(&t->flusher, flusher_main, t) != 0) {
        uv_mutex_lock(&t->mu);
        t->running = false;
        uv_cond_signal(&t->cond);
        uv_mutex_unlock(&t->mu);
        uv_thread_join(&t->thread);
        return RK_ENOMEM;
    }
    t->started = true;
    rk_log_info("timer", "timer messages: precision %" PRId64 " ms, at most %" PRId64 " s ahead; delivering while "
                "this broker is the master", t->precision, t->max_delay_ms / 1000);
    return RK_OK;
}

void rk_timer_stop(rk_timer_t *t)
{
    if (t == NULL)
        return;
    if (t->started) {
        uv_mutex_lock(&t->mu);
        t->running = false;
        uv_cond_signal(&t->cond);
        uv_cond_signal(&t->flush_cond);
        uv_mutex_unlock(&t->mu);
        uv_thread_join(&t->thread);
        uv_thread_join(&t->flusher);
        t->started = false;
        uv_mutex_lock(&t->mu);
        t->delivering = false;
        uv_mutex_unlock(&t->mu);
    }
    rk_timer_persist(t);
}

void rk_timer_free(rk_timer_t *t)
{
    if (t == NULL)
        return;
    rk_timer_stop(t);
    uv_cond_destroy(&t->flush_cond);
    uv_cond_destroy(&t->cond);
    uv_mutex_destroy(&t->mu);
    for (int i = 0; i < PUT_BATCH; i++)
        rk_buf_free(&t->prep[i].props);
    free(t->prep);
    free(t->due);
    free(t->path);
    free(t);
}
