/* schedule.c — delay levels on the timing wheel (see rk/schedule.h). */
#include "rk/schedule.h"

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
#include "rk/json.h"
#include "rk/log.h"
#include "rk/timing_wheel.h"
#include "rk/thread.h"

#define TICK_MS 10                  /* wheel resolution: a delivery is at most this late (plus the put) */
#define PUT_RETRY_MS 10000          /* after a failed put, as RocketMQ */
#define UNITS_PER_READ 32
#define MAX_DELAY_MS (30LL * 86400 * 1000)
#define ROLE_POLL_MS 200            /* how soon a role change is noticed without a delivery round */
#define DISPATCH_WAIT_MS 10000      /* on becoming the deliverer: the consume queues catch up first */

static _Thread_local bool tl_internal;
void rk_schedule_internal_put(bool on) { tl_internal = on; }
bool rk_schedule_in_internal_put(void) { return tl_internal; }

typedef struct level {
    rk_tw_entry_t e;                /* pending: the head waits for its time */
    int index;                      /* 0-based (queue id) */
    int64_t offset;                 /* next unit to deliver (service thread; read under mu) */
} level_t;

/* What one delayOffset.json write holds: the offsets, and the commitlog's end read after them
 * (every delivery they count lies below it). */
typedef struct snap {
    int64_t off[RK_DELAY_LEVEL_MAX];
    int64_t log_pos;
} snap_t;

struct rk_schedule {
    rk_store_t *st;
    int nlevels;
    int64_t delay[RK_DELAY_LEVEL_MAX];
    level_t lv[RK_DELAY_LEVEL_MAX];
    char *path;
    int64_t flush_ms;
    bool (*may_deliver)(void *ctx);
    void *may_ctx;
    bool dirty;                     /* under mu: an offset moved since the last write */
    snap_t staged;                  /* under mu: taken by a persist before the log was on disk */
    bool have_staged;
    uv_mutex_t file_mu;             /* one delayOffset.json write at a time */
    bool stopped;                   /* rk_schedule_stop wrote the file: the store may be closed */
    bool delivering;                /* under mu; written by the service thread only */
    uv_mutex_t mu;                  /* offsets (read by other threads), dirty, file writes */
    _Atomic uint64_t woken;         /* levels with new units (bit per level), set by the dispatcher */
    _Atomic int64_t delivered;
    _Atomic bool running;
    /* service thread */
    uv_thread_t thread;
    bool started;
    uv_loop_t loop;
    uv_async_t wake, stop;
    uv_timer_t timer, flush, role;
    uv_work_t flush_req;            /* a delayOffset.json write in progress on the worker pool */
    bool persisting;
    rk_tw_t *wheel;
    uint64_t fired;                 /* levels the wheel fired (service thread) */
};

/* ------------------------------------------------------------ levels */

int rk_delay_levels_parse(const char *text, int64_t *out_ms, int max)
{
    if (text == NULL || max <= 0)
        return RK_EINVAL;
    int n = 0;
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        int64_t v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 12) {
            v = v * 10 + (*p++ - '0');
            digits++;
        }
        int64_t unit;
        switch (*p) {
        case 's': unit = 1000; break;
        case 'm': unit = 60000; break;
        case 'h': unit = 3600000; break;
        case 'd': unit = 86400000; break;
        default: return RK_EINVAL;
        }
        p++;
        if (digits == 0 || v <= 0 || v > MAX_DELAY_MS / unit || n == max || (*p != ' ' && *p != '\t' && *p != '\0'))
            return RK_EINVAL;
        out_ms[n++] = v * unit;
    }
    return n > 0 ? n : RK_EINVAL;
}

int rk_schedule_levels(const rk_schedule_t *s) { return s->nlevels; }
int64_t rk_schedule_delay_ms(const rk_schedule_t *s, int level)
{
    return level >= 1 && level <= s->nlevels ? s->delay[level - 1] : -1;
}
int64_t rk_schedule_delivered(rk_schedule_t *s) { return atomic_load(&s->delivered); }

int64_t rk_schedule_offset(rk_schedule_t *s, int level)
{
    if (level < 1 || level > s->nlevels)
        return -1;
    uv_mutex_lock(&s->mu);
    int64_t off = s->lv[level - 1].offset;
    uv_mutex_unlock(&s->mu);
    return off;
}

static bool is_schedule_topic(const char *topic, size_t len)
{
    return len == sizeof RK_SCHEDULE_TOPIC - 1 && memcmp(topic, RK_SCHEDULE_TOPIC, len) == 0;
}

/* ------------------------------------------------------------ delayOffset.json */

/* {"offsetTable":{1:0,2:15}} into off (levels absent: 0; levels past s's: ignored); checked
 * whole, RK_ECORRUPT if anything is off. */
static int decode_offsets(const rk_schedule_t *s, const char *text, size_t len, int64_t *off)
{
    cJSON *root = rk_json_parse(text, len);
    if (root == NULL)
        return RK_ECORRUPT;
    memset(off, 0, sizeof(int64_t) * RK_DELAY_LEVEL_MAX);
    int rc = RK_OK;
    const cJSON *table = cJSON_GetObjectItemCaseSensitive(root, "offsetTable");
    if (!cJSON_IsObject(table))
        rc = RK_ECORRUPT;
    const cJSON *it;
    if (rc != RK_OK)
        table = NULL;
    cJSON_ArrayForEach(it, table) {
        int64_t level, v;
        if (it->string == NULL || rk_parse_int(it->string, &level) != RK_OK) {
            rc = RK_ECORRUPT;
            break;
        }
        char *sv = rk_json_to_string(it);
        int prc = sv != NULL ? rk_parse_int(sv, &v) : RK_EINVAL;
        free(sv);
        if (prc != RK_OK || v < 0) {
            rc = RK_ECORRUPT;
            break;
        }
        if (level >= 1 && level <= s->nlevels)   /* levels the config no longer has: ignored */
            off[level - 1] = v;
    }
    cJSON_Delete(root);
    return rc;
}

static int parse_offsets(const char *text, size_t len, void *ctx)
{
    rk_schedule_t *s = ctx;
    int64_t off[RK_DELAY_LEVEL_MAX];
    int rc = decode_offsets(s, text, len, off);
    if (rc == RK_OK)
        for (int i = 0; i < s->nlevels; i++)
            s->lv[i].offset = off[i];
    return rc;
}

/* The offsets now (s->mu held), and the commitlog's end read after them. */
static void snap_take_locked(rk_schedule_t *s, snap_t *c)
{
    for (int i = 0; i < s->nlevels; i++)
        c->off[i] = s->lv[i].offset;
    c->log_pos = rk_store_commitlog_max(s->st);
}

/* The offsets as delayOffset.json holds them, plus "logPos": the commitlog's end when they were
 * read. A replica takes a copy only once its own log reached it (rk_schedule_follow). RocketMQ's
 * readers ignore the field. */
static char *encode_snap(const rk_schedule_t *s, const snap_t *c)
{
    cJSON *root = cJSON_CreateObject(), *table = root ? cJSON_AddObjectToObject(root, "offsetTable") : NULL;
    bool ok = table != NULL && rk_json_add_i64(root, "logPos", c->log_pos) != NULL;
    for (int i = 0; ok && i < s->nlevels; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i + 1);
        ok = rk_json_add_i64(table, key, c->off[i]) != NULL;
    }
    char *text = ok ? rk_json_print(root, RK_JSON_PRETTY | RK_JSON_BARE_INT_KEYS) : NULL;
    cJSON_Delete(root);
    return text;
}

char *rk_schedule_encode(rk_schedule_t *s)
{
    snap_t c;
    uv_mutex_lock(&s->mu);
    snap_take_locked(s, &c);
    uv_mutex_unlock(&s->mu);
    return encode_snap(s, &c);
}

/* The "logPos" a master's copy carries (-1: none, as RocketMQ's). */
static int64_t copy_log_pos(const char *text, size_t len)
{
    cJSON *root = rk_json_parse(text, len);
    int64_t pos = -1;
    if (root != NULL && cJSON_GetObjectItemCaseSensitive(root, "logPos") != NULL &&
        (rk_json_get_i64(root, "logPos", &pos) != RK_OK || pos < 0))
        pos = INT64_MAX;            /* unreadable: never satisfied (decode_offsets judges the rest) */
    cJSON_Delete(root);
    return pos;
}

int rk_schedule_follow(rk_schedule_t *s, const char *text, size_t len)
{
    int64_t off[RK_DELAY_LEVEL_MAX];
    int rc = decode_offsets(s, text, len, off);
    if (rc != RK_OK)
        return rc;
    /* the master's deliveries these offsets count must be in this log first (asynchronous
     * replication may lag): until then keep the offsets we have (a later copy brings them) */
    if (rk_store_commitlog_max(s->st) < copy_log_pos(text, len))
        return RK_OK;
    uv_mutex_lock(&s->mu);
    if (s->delivering) {
        uv_mutex_unlock(&s->mu);
        return RK_EBUSY;
    }
    bool changed = false;
    for (int i = 0; i < s->nlevels; i++)
        if (s->lv[i].offset != off[i]) {
            s->lv[i].offset = off[i];
            changed = true;
        }
    s->dirty |= changed;
    uv_mutex_unlock(&s->mu);
    return changed ? rk_schedule_persist(s) : RK_OK;
}

bool rk_schedule_delivering(rk_schedule_t *s)
{
    uv_mutex_lock(&s->mu);
    bool d = s->delivering;
    uv_mutex_unlock(&s->mu);
    return d;
}

/* Writes delayOffset.json. Unless forced (stop: the store flushes the log as it closes), only
 * offsets whose deliveries the commitlog has flushed: the restored copies must be on disk before
 * the file says "delivered", or a power cut with ASYNC_FLUSH (or with SYNC_FLUSH: a delivery's
 * put does not wait for the flush) would lose them. Offsets taken before the log got there are
 * staged and written by a later call, so the file lags about one commitlog flush behind (the
 * same rule as chapter 10's timer checkpoint). */
static int persist(rk_schedule_t *s, bool force)
{
    int64_t flushed = force ? INT64_MAX : rk_commitlog_flushed_offset(rk_store_commitlog(s->st));
    uv_mutex_lock(&s->mu);
    if (!s->dirty) {
        uv_mutex_unlock(&s->mu);
        return RK_OK;
    }
    snap_t c;
    snap_take_locked(s, &c);
    bool write = force || c.log_pos <= flushed;
    if (!write && s->have_staged && s->staged.log_pos <= flushed) {
        snap_t older = s->staged;
        s->staged = c;
        c = older;
        write = true;               /* an older one whose deliveries are on disk; the newer waits */
    } else if (!write) {
        s->staged = c;
        s->have_staged = true;
    }
    if (write) {
        bool current = true;
        for (int i = 0; i < s->nlevels; i++)
            current &= c.off[i] == s->lv[i].offset;
        if (current) {
            s->dirty = false;
            s->have_staged = false;
        }
    }
    uv_mutex_unlock(&s->mu);
    if (!write)
        return RK_OK;
    char *text = encode_snap(s, &c);
    uv_mutex_lock(&s->file_mu);
    int rc = text != NULL ? rk_file_write_atomic(s->path, text, strlen(text)) : RK_ENOMEM;
    uv_mutex_unlock(&s->file_mu);
    free(text);
    if (rc != RK_OK) {
        uv_mutex_lock(&s->mu);
        s->dirty = true;
        uv_mutex_unlock(&s->mu);
        rk_log_error("schedule", "cannot write %s: %s (retrying at the next flush)", s->path, rk_strerror(rc));
    }
    return rc;
}

int rk_schedule_persist(rk_schedule_t *s) { return persist(s, false); }

/* ------------------------------------------------------------ store hooks */

/* DELAY=n on a NOT/COMMIT message: park it in SCHEDULE_TOPIC_XXXX queue n-1. */
static rk_put_status_t delay_hook(void *ctx, rk_msg_t *m, rk_put_scratch_t *scratch)
{
    rk_schedule_t *s = ctx;
    int32_t txn = rk_sysflag_txn(m->sys_flag);
    if (txn != RK_SYSFLAG_TXN_NOT && txn != RK_SYSFLAG_TXN_COMMIT)
        return RK_PUT_OK;
    char v[24];
    int64_t level;
    if (rk_props_get_str(m->props, m->props_len, RK_PROP_DELAY, v, sizeof v) != RK_OK ||
        rk_parse_int(v, &level) != RK_OK || level <= 0)
        return RK_PUT_OK;
    if (is_schedule_topic(m->topic, m->topic_len))
        return RK_PUT_OK;
    if (level > s->nlevels)
        level = s->nlevels;
    return rk_schedule_park(m, scratch, NULL, NULL, RK_SCHEDULE_TOPIC, (int32_t)level - 1);
}

/* The consume-queue tags code of a parked message is its delivery time (other records: not ours). */
static bool tag_hook(void *ctx, const rk_record_t *rec, const char *tags, int64_t *code)
{
    (void)tags;
    rk_schedule_t *s = ctx;
    if (!is_schedule_topic(rec->topic, rec->topic_len) || rec->queue_id < 0 || rec->queue_id >= s->nlevels)
        return false;
    *code = rec->store_ts + s->delay[rec->queue_id];
    return true;
}

static int on_dispatch(void *ctx, const rk_dispatch_request_t *d)
{
    rk_schedule_t *s = ctx;
    if (d->queue_id < 0 || d->queue_id >= s->nlevels || strcmp(d->topic, RK_SCHEDULE_TOPIC) != 0)
        return RK_OK;
    atomic_fetch_or(&s->woken, 1ULL << d->queue_id);
    uv_mutex_lock(&s->mu);          /* stop closes the handle only after running is false */
    if (atomic_load(&s->running))
        uv_async_send(&s->wake);
    uv_mutex_unlock(&s->mu);
    return RK_OK;
}

/* ------------------------------------------------------------ delivery */

enum { DELIVERED, SKIPPED, FAILED };

/* messageTimeup: the parked record back into REAL_TOPIC / REAL_QID, DELAY removed, WAIT=false. */
static int deliver(rk_schedule_t *s, const rk_cq_unit_t *u, int level)
{
    rk_store_view_t v;
    int rc = rk_store_view(s->st, u->phys, &v);
    if (rc != RK_OK) {
        rk_log_error("schedule", "level %d: the message at commitlog offset %" PRId64 " cannot be read (%s); "
                     "it was removed from the commitlog, skipped", level, u->phys, rk_strerror(rc));
        return SKIPPED;
    }
    rk_record_t rec;
    char topic[RK_TOPIC_MAX_LEN + 1];
    rk_msg_t m;
    int out = SKIPPED;
    if (rk_record_decode(v.data, (size_t)v.size, false, &rec) != RK_OK || rk_record_is_blank(&rec) ||
        rk_schedule_unpark(&rec, topic, sizeof topic, &m) != RK_OK) {
        rk_log_error("schedule", "level %d: the message at commitlog offset %" PRId64 " has no valid "
                     "REAL_TOPIC / REAL_QID; skipped", level, u->phys);
        rk_store_view_release(&v);
        return SKIPPED;
    }
    /* as messageTimeup: DELAY cleared, WAIT=false (setWaitStoreMsgOK(false): the put is not held
     * for a flush or a replica), everything else kept */
    rk_buf_t props = {0};
    static const char *const drop[] = {RK_PROP_DELAY, RK_PROP_WAIT, NULL};
    rk_props_copy_without_any(&props, rec.props, rec.props_len, drop);
    rk_props_put(&props, RK_PROP_WAIT, "false");
    m.props = (const char *)props.data;
    m.props_len = props.len;
    rk_put_result_t res;
    rk_schedule_internal_put(true);
    rc = props.err == 0 ? rk_store_put(s->st, &m, &res) : RK_ENOMEM;
    rk_schedule_internal_put(false);
    if (rc == RK_OK && res.status == RK_PUT_OK) {
        out = DELIVERED;
    } else {
        rk_log_warn("schedule", "level %d: putting the message at %" PRId64 " back into %s failed (%s); "
                    "trying again in %d s", level, u->phys, topic,
                    rc != RK_OK ? rk_strerror(rc) : rk_put_status_name(res.status), PUT_RETRY_MS / 1000);
        out = FAILED;
    }
    rk_buf_free(&props);
    rk_store_view_release(&v);
    return out;
}

static bool may_deliver(rk_schedule_t *s) { return s->may_deliver == NULL || s->may_deliver(s->may_ctx); }

static void set_offset(rk_schedule_t *s, level_t *lv, int64_t off)
{
    uv_mutex_lock(&s->mu);
    lv->offset = off;
    s->dirty = true;
    uv_mutex_unlock(&s->mu);
}

/* Delivers what is due on one level; parks its head in the wheel if it is not due yet. */
static void run_level(rk_schedule_t *s, level_t *lv)
{
    const int level = lv->index + 1;
    bool corrected = false;
    while (atomic_load(&s->running)) {
        rk_cq_unit_t u[UNITS_PER_READ];
        int n = rk_store_read_units(s->st, RK_SCHEDULE_TOPIC, lv->index, lv->offset, u, UNITS_PER_READ);
        if (n <= 0) {
            /* nothing at the offset: either caught up (a new unit wakes the level), or the
             * queue's head was cleaned away below it */
            int64_t min = rk_store_min_offset(s->st, RK_SCHEDULE_TOPIC, lv->index);
            if (!corrected && lv->offset < min) {
                rk_log_warn("schedule", "level %d: offset %" PRId64 " is below the queue's first %" PRId64
                            "; moving there", level, lv->offset, min);
                set_offset(s, lv, min);
                corrected = true;
                continue;
            }
            return;
        }
        for (int i = 0; i < n; i++) {
            int64_t now = rk_now_ms(), at = u[i].tag_code;
            if (at > now + s->delay[lv->index])     /* a clock that went back: no later than one delay */
                at = now;
            if (at > now) {
                rk_tw_schedule(s->wheel, &lv->e, (int64_t)rk_mono_ms() + (at - now));
                return;
            }
            if (!may_deliver(s)) {  /* the role changed under us: the next round follows it */
                rk_tw_schedule(s->wheel, &lv->e, (int64_t)rk_mono_ms() + ROLE_POLL_MS);
                return;
            }
            int r = deliver(s, &u[i], level);
            if (r == FAILED) {
                rk_tw_schedule(s->wheel, &lv->e, (int64_t)rk_mono_ms() + PUT_RETRY_MS);
                return;
            }
            if (r == DELIVERED)
                atomic_fetch_add(&s->delivered, 1);
            set_offset(s, lv, lv->offset + 1);
        }
    }
}

static void on_expire(rk_tw_t *w, rk_tw_entry_t *e, void *arg)
{
    (void)w;
    rk_schedule_t *s = arg;
    level_t *lv = rk_tw_container_of(e, level_t, e);
    s->fired |= 1ULL << lv->index;
}

static void on_timer(uv_timer_t *t);

static void cancel_all(rk_schedule_t *s)
{
    for (int i = 0; i < s->nlevels; i++)
        rk_tw_cancel(s->wheel, &s->lv[i].e);
}

/* Offsets outside what the queues hold (a store restored from elsewhere, offsets copied from a
 * master whose last records never reached this log): into range. Above the end means those
 * units are not in this log: waiting at such an offset would skip as many new ones. */
static void clamp_offsets(rk_schedule_t *s)
{
    for (int i = 0; i < s->nlevels; i++) {
        int64_t min = rk_store_min_offset(s->st, RK_SCHEDULE_TOPIC, i);
        int64_t max = rk_store_max_offset(s->st, RK_SCHEDULE_TOPIC, i);
        int64_t off = rk_schedule_offset(s, i + 1);
        if (off > max || off < min) {
            int64_t to = off > max ? max : min;
            rk_log_warn("schedule", "level %d: delayOffset.json says %" PRId64 ", the queue holds [%" PRId64
                        ", %" PRId64 "); using %" PRId64, i + 1, off, min, max, to);
            set_offset(s, &s->lv[i], to);
        }
    }
}

/* The broker's role decides (may_deliver, checked at every round): a master delivers; a slave
 * only follows — its queues come from replication, its offsets from its master's copy
 * (rk_schedule_follow) — and resumes from those offsets when it becomes the master. Returns
 * whether this round delivers. */
static bool follow_role(rk_schedule_t *s)
{
    bool want = may_deliver(s);
    if (want == s->delivering)
        return want;
    cancel_all(s);
    if (!want) {
        uv_mutex_lock(&s->mu);
        s->delivering = false;
        uv_mutex_unlock(&s->mu);
        rk_log_info("schedule", "not the master: delivery stops (offsets follow the master's)");
        return false;
    }
    /* what replication appended must be in the consume queues before the offsets are judged */
    if (rk_store_wait_dispatched(s->st, DISPATCH_WAIT_MS) != RK_OK)
        rk_log_warn("schedule", "the consume queues are still behind the commitlog after %d s; "
                    "delivering anyway", DISPATCH_WAIT_MS / 1000);
    uv_mutex_lock(&s->mu);
    s->delivering = true;           /* from here on, no copy changes the offsets */
    uv_mutex_unlock(&s->mu);
    clamp_offsets(s);
    atomic_store(&s->woken, s->nlevels >= 64 ? ~0ULL : (1ULL << s->nlevels) - 1);
    rk_log_info("schedule", "the master: delivering the %d delay levels from delayOffset.json's offsets",
                s->nlevels);
    return true;
}

/* Runs the levels that are due or woken, then sets the timer for the wheel's next event. */
static void pump(rk_schedule_t *s)
{
    if (!follow_role(s)) {
        atomic_store(&s->woken, 0);
        uv_timer_stop(&s->timer);
        return;
    }
    uint64_t mask = atomic_exchange(&s->woken, 0);
    s->fired = 0;
    rk_tw_advance(s->wheel, (int64_t)rk_mono_ms(), on_expire, s);
    mask |= s->fired;
    for (int i = 0; i < s->nlevels && atomic_load(&s->running); i++)
        if ((mask >> i) & 1) {
            /* a head already waiting for its time: a newer unit of the same level is not due before it */
            if (!((s->fired >> i) & 1) && rk_tw_pending(&s->lv[i].e))
                continue;
            rk_tw_cancel(s->wheel, &s->lv[i].e);
            run_level(s, &s->lv[i]);
        }
    int64_t next = rk_tw_next_wakeup(s->wheel);
    if (next == INT64_MAX) {
        uv_timer_stop(&s->timer);
        return;
    }
    int64_t wait = next - (int64_t)rk_mono_ms();
    uv_timer_start(&s->timer, on_timer, wait > 0 ? (uint64_t)wait : 0, 0);
}

static void on_timer(uv_timer_t *t)
{
    pump(t->data);
}
static void on_wake(uv_async_t *a) { pump(a->data); }
/* delayOffset.json is written on libuv's worker pool: the write (and its fsync) must not hold up
 * the deliveries this loop makes (it did: ~100 ms stalls on a busy disk). */
static void persist_work(uv_work_t *w) { rk_schedule_persist(w->data); }
static void persist_done(uv_work_t *w, int status)
{
    (void)status;
    rk_schedule_t *s = w->data;
    s->persisting = false;
}
static void on_flush(uv_timer_t *t)
{
    rk_schedule_t *s = t->data;
    if (s->persisting)
        return;
    s->flush_req.data = s;
    s->persisting = uv_queue_work(&s->loop, &s->flush_req, persist_work, persist_done) == 0;
    if (!s->persisting)
        rk_schedule_persist(s);
}
static void on_role(uv_timer_t *t)
{
    rk_schedule_t *s = t->data;
    if (may_deliver(s) != s->delivering)
        pump(s);
}

static void close_cb(uv_handle_t *h) { (void)h; }

static void on_stop(uv_async_t *a)
{
    rk_schedule_t *s = a->data;
    uv_close((uv_handle_t *)&s->wake, close_cb);
    uv_close((uv_handle_t *)&s->stop, close_cb);
    uv_close((uv_handle_t *)&s->timer, close_cb);
    uv_close((uv_handle_t *)&s->flush, close_cb);
    uv_close((uv_handle_t *)&s->role, close_cb);
}

static void service_main(void *arg)
{
    rk_schedule_t *s = arg;
    (void)rk_thread_init("rk-delay", RK_THREAD_NORMAL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
}

/* ------------------------------------------------------------ life cycle */

int rk_schedule_new(rk_store_t *st, const rk_schedule_config_t *cfg, rk_schedule_t **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    if (cfg == NULL || cfg->offset_path == NULL) {
        snprintf(err, errlen, "schedule: no delayOffset.json path");
        return RK_EINVAL;
    }
    rk_schedule_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return RK_ENOMEM;
    const char *levels = cfg->levels ? cfg->levels : RK_DELAY_LEVELS_DEFAULT;
    s->nlevels = rk_delay_levels_parse(levels, s->delay, RK_DELAY_LEVEL_MAX);
    if (s->nlevels < 0) {
        snprintf(err, errlen, "messageDelayLevel \"%.200s\": expected delays such as \"1s 5s 1m 2h 1d\" "
                 "(positive integers with unit s, m, h or d, at most 30 days each, at most %d levels)",
                 levels, RK_DELAY_LEVEL_MAX);
        free(s);
        return RK_EBADCONFIG;
    }
    s->st = st;
    s->flush_ms = cfg->flush_interval_ms > 0 ? cfg->flush_interval_ms : 10000;
    s->may_deliver = cfg->may_deliver;
    s->may_ctx = cfg->may_deliver_ctx;
    for (int i = 0; i < s->nlevels; i++) {
        s->lv[i].index = i;
        rk_tw_entry_init(&s->lv[i].e);
    }
    if ((s->path = strdup(cfg->offset_path)) == NULL || uv_mutex_init(&s->mu) != 0) {
        free(s->path);
        free(s);
        return RK_ENOMEM;
    }
    if (uv_mutex_init(&s->file_mu) != 0) {
        uv_mutex_destroy(&s->mu);
        free(s->path);
        free(s);
        return RK_ENOMEM;
    }
    rk_file_load_opts_t lo = {.fallback_to_bak = cfg->fallback_to_bak, .opt_in = "metadataFallbackToBak=true"};
    char why[512] = "";
    int rc = rk_file_load(s->path, parse_offsets, s, &lo, NULL, why, sizeof why);
    if (rc == -ENOENT)
        rc = RK_OK;         /* first start: every level from 0 */
    if (rc != RK_OK)
        snprintf(err, errlen, "%s", why[0] ? why : rk_strerror(rc));
    if (rc == RK_OK)
        rc = rk_commitlog_add_put_hook(rk_store_commitlog(st), "delay-level", delay_hook, s);
    if (rc == RK_OK)
        rc = rk_store_add_tag_code_hook(st, tag_hook, s);
    if (rc == RK_OK)
        rc = rk_store_register_dispatcher(st, "schedule-wake", on_dispatch, s);
    if (rc != RK_OK) {
        if (!err[0])
            snprintf(err, errlen, "schedule: %s", rk_strerror(rc));
        uv_mutex_destroy(&s->file_mu);
        uv_mutex_destroy(&s->mu);
        free(s->path);
        free(s);
        return rc;
    }
    *out = s;
    return RK_OK;
}

int rk_schedule_start(rk_schedule_t *s)
{
    if (s->started)
        return RK_EINVAL;
    s->stopped = false;
    int rc = RK_ENOMEM;
    if ((s->wheel = rk_tw_create(TICK_MS, (int64_t)rk_mono_ms(), &rc)) == NULL)
        return rc;
    if (uv_loop_init(&s->loop) != 0) {
        rk_tw_destroy(s->wheel);
        s->wheel = NULL;
        return RK_ENOMEM;
    }
    uv_async_init(&s->loop, &s->wake, on_wake);
    uv_async_init(&s->loop, &s->stop, on_stop);
    uv_timer_init(&s->loop, &s->timer);
    uv_timer_init(&s->loop, &s->flush);
    uv_timer_init(&s->loop, &s->role);
    s->wake.data = s->stop.data = s->timer.data = s->flush.data = s->role.data = s;
    uv_timer_start(&s->flush, on_flush, (uint64_t)s->flush_ms, (uint64_t)s->flush_ms);
    if (s->may_deliver != NULL)
        uv_timer_start(&s->role, on_role, ROLE_POLL_MS, ROLE_POLL_MS);
    /* every level once: what was parked before this start */
    atomic_store(&s->woken, s->nlevels >= 64 ? ~0ULL : (1ULL << s->nlevels) - 1);
    atomic_store(&s->running, true);
    uv_async_send(&s->wake);
    if (uv_thread_create(&s->thread, service_main, s) != 0) {
        atomic_store(&s->running, false);
        uv_close((uv_handle_t *)&s->wake, close_cb);
        uv_close((uv_handle_t *)&s->stop, close_cb);
        uv_close((uv_handle_t *)&s->timer, close_cb);
        uv_close((uv_handle_t *)&s->flush, close_cb);
        uv_close((uv_handle_t *)&s->role, close_cb);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        rk_tw_destroy(s->wheel);
        s->wheel = NULL;
        return RK_ENOMEM;
    }
    s->started = true;
    rk_log_info("schedule", "%d delay levels; delivering while this broker is the master", s->nlevels);
    return RK_OK;
}

void rk_schedule_stop(rk_schedule_t *s)
{
    if (s == NULL)
        return;
    if (s->started) {
        uv_mutex_lock(&s->mu);
        atomic_store(&s->running, false);
        uv_mutex_unlock(&s->mu);
        uv_async_send(&s->stop);
        uv_thread_join(&s->thread);
        uv_loop_close(&s->loop);
        rk_tw_drain(s->wheel, NULL, NULL);
        rk_tw_destroy(s->wheel);
        s->wheel = NULL;
        s->started = false;
        uv_mutex_lock(&s->mu);
        s->delivering = false;
        uv_mutex_unlock(&s->mu);
    }
    /* forced: the caller closes the store next, which flushes the log. Once only: after that
     * the store may be gone (rk_schedule_free stops again) */
    if (!s->stopped)
        persist(s, true);
    s->stopped = true;
}

void rk_schedule_free(rk_schedule_t *s)
{
    if (s == NULL)
        return;
    rk_schedule_stop(s);
    uv_mutex_destroy(&s->file_mu);
    uv_mutex_destroy(&s->mu);
    free(s->path);
    free(s);
}

rk_put_status_t rk_schedule_park(rk_msg_t *m, rk_put_scratch_t *scratch, const char *extra_key,
                                 const char *extra_val, const char *park_topic, int32_t park_qid)
{
    char qid[16], topic[RK_TOPIC_MAX_LEN + 1];
    snprintf(qid, sizeof qid, "%d", m->queue_id);
    snprintf(topic, sizeof topic, "%.*s", (int)m->topic_len, m->topic);
    const char *const drop[] = {RK_PROP_REAL_TOPIC, RK_PROP_REAL_QID, extra_key, NULL};
    rk_buf_t b = {0};
    rk_props_copy_without_any(&b, m->props, m->props_len, drop);
    if (extra_key != NULL)
        rk_props_put(&b, extra_key, extra_val);
    rk_props_put(&b, RK_PROP_REAL_TOPIC, topic);
    rk_props_put(&b, RK_PROP_REAL_QID, qid);
    rk_put_status_t st = RK_PUT_OK;
    char *p = b.err == 0 ? rk_put_scratch(scratch, b.len + 1) : NULL;
    if (p == NULL) {
        st = RK_PUT_UNKNOWN_ERROR;
    } else if (b.len > RK_PROPERTIES_MAX_LEN) {
        st = RK_PUT_PROPERTIES_SIZE_EXCEEDED;
    } else {
        memcpy(p, b.data, b.len);
        m->props = p;
        m->props_len = b.len;
        m->topic = park_topic;
        m->topic_len = strlen(park_topic);
        m->queue_id = park_qid;
    }
    rk_buf_free(&b);
    return st;
}

int rk_schedule_unpark(const rk_record_t *rec, char *topic, size_t topic_size, rk_msg_t *out)
{
    char qid_s[16];
    int64_t qid = -1;
    if (rk_props_get_str(rec->props, rec->props_len, RK_PROP_REAL_TOPIC, topic, topic_size) != RK_OK ||
        rk_props_get_str(rec->props, rec->props_len, RK_PROP_REAL_QID, qid_s, sizeof qid_s) != RK_OK ||
        rk_parse_int(qid_s, &qid) != RK_OK || qid < 0 || qid > INT32_MAX || topic[0] == '\0')
        return RK_ECORRUPT;
    *out = (rk_msg_t){.topic = topic, .topic_len = strlen(topic), .queue_id = (int32_t)qid, .flag = rec->flag,
                      .sys_flag = rec->sys_flag, .born_ts = rec->born_ts, .born_host = rec->born_host,
                      .store_host = rec->store_host, .reconsume_times = rec->reconsume_times,
                      .prepared_tx_offset = rec->prepared_tx_offset, .body = rec->body, .body_len = rec->body_len,
                      .props = rec->props, .props_len = rec->props_len};
    return RK_OK;
}
