/* message_store.c — the store facade (see rk/message_store.h).
 *
 * Sections: the queue table; dispatchers (consume-queue and index
 * builders) and the dispatch source over the commitlog; open / recovery /
 * start / close; get; lookups; the service thread (flush, offsets,
 * cleanup). Calls into ch04 use rk/commitlog.h, plus the few wrappers in
 * store_cl.h (reads as held bytes, checkpoint, guarded file deletion). */
#include "rk/message_store.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <uv.h>

#include "rk/clock.h"
#include "rk/consumequeue.h"
#include "rk/consumer_offset.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/grow.h"
#include "rk/index.h"
#include "rk/json.h"
#include "rk/log.h"
#include "rk/mapped_file.h"
#include "rk/store_ro.h"
#include "rk/strmap.h"
#include "rk/checkpoint.h"
#include "rk/thread.h"
#include "store_cl.h"

#define QCACHE_SIZE 256             /* build_cq's queue cache (s_qcache): a power of two */

/* A seqlock over three figures: seq is odd while they are being written. */
typedef struct last_unit {
    _Atomic uint32_t seq;
    _Atomic int64_t off, phys, ts;      /* off -1: nothing yet */
} last_unit_t;

/* One (topic, qid) and its consume queue. */
typedef struct queue {
    rk_cq_t *cq;
    char topic[256];
    int qid;
    int64_t rebuilt;                   /* units the catch-up pass wrote */
    int64_t rebuilt_from;              /* commitlog offset of the first of them */
    bool keep_head;                    /* could not be set aside: no more head checks */
    /* The queue's last unit as the store last saw it (queue offset, its record's commitlog
     * offset and store time): stats ask for the store time of a queue's last message, and
     * this answers it without a consume-queue and a commit-log read. [0] is written by the
     * dispatch thread after each unit it puts (never waiting), [1] by a reader that had to read
     * the log (a queue not written since start). */
    last_unit_t last[2];
} queue_t;

/* What config/consumeQueueState.json said at the last flush: each known
 * queue's max offset (see "Consume-queue state" below). */
typedef struct expect {
    char *topic;
    int qid;
    int64_t max_offset, min_offset;
    int64_t min_phys;                  /* the unit at min_offset's record, -1: unknown */
} expect_t;

struct rk_store {
    char root[PATH_MAX];
    char cq_root[PATH_MAX];
    rk_cq_store_config_t cfg;
    rk_commitlog_t *cl;                /* ch04 */
    bool abnormal;                     /* last exit was not clean */

    pthread_rwlock_t qlock;            /* guards queues */
    rk_strmap_t queues;                /* "topic-qid" -> queue_t* */

    rk_index_t *index;                 /* NULL when messageIndexEnable=false */
    rk_consumer_offsets_t *offsets;
    rk_dispatcher_t *disp;
    int64_t reput_from;                /* computed by open, used by start */
    int64_t catch_from;                /* start of the catch-up pass (== reput_from: none) */
    bool catching_up;                  /* build_cq counts what it writes (start only) */
    bool damaged;                      /* open found a queue short or missing */
    expect_t *expect;                  /* the state file's queues, until start */
    size_t nexpect;
    char state_path[PATH_MAX];
    pthread_mutex_t state_mu;          /* one writer of the state file */
    _Atomic int64_t logics_ts;         /* store time of the last CQ unit written */

    struct {
        rk_tag_code_fn fn;
        void *ctx;
    } tag_hooks[RK_TAG_CODE_HOOKS_MAX];  /* asked in order; the first that answers sets the code */
    int ntag_hooks;

    /* scratch for the dispatch source: used by one thread at a time (the
     * catch-up pass in start(), then the reput thread) */
    rk_record_t s_rec;
    char s_topic[256], s_tags[256], s_keys[1024], s_uniq[256];
    /* build_cq's queues by (topic, qid), so a record costs no "topic-qid"
     * key and no table look-up under qlock; same thread as the scratch.
     * A queue leaves the table only through set_queue_aside, which runs
     * before start or on this thread, and empties the cache. */
    queue_t *s_qcache[QCACHE_SIZE];

    /* disk space (diskSpaceWarningLevelRatio): checked by the service thread
     * every DISK_CHECK_MS and after a put that could not allocate */
    _Atomic bool disk_full;            /* read-only: the put hook refuses puts */
    _Atomic int disk_used;             /* percent, as df says; -1 unknown */
    int64_t index_skipped;             /* reput thread only: keys not indexed (ENOSPC) */

    uv_thread_t service;
    uv_mutex_t svc_mu;
    uv_cond_t svc_cond;
    bool svc_stop, started;
};

/* ---- queue table -------------------------------------------------------- */

static void queue_key(char *out, size_t len, const char *topic, int qid)
{
    rk_strmap_key_int(out, len, topic, '-', qid);    /* "%s-%d", without snprintf */
}

static queue_t *find_queue(rk_store_t *st, const char *topic, int qid)
{
    char key[300];
    queue_key(key, sizeof key, topic, qid);
    pthread_rwlock_rdlock(&st->qlock);
    queue_t *q = rk_strmap_get(&st->queues, key);
    pthread_rwlock_unlock(&st->qlock);
    return q;
}

/* Finds or creates (opening its folder) the queue. */
static int get_queue(rk_store_t *st, const char *topic, int qid, queue_t **out)
{
    *out = find_queue(st, topic, qid);
    if (*out)
        return RK_OK;
    char key[300];
    queue_key(key, sizeof key, topic, qid);
    pthread_rwlock_wrlock(&st->qlock);
    queue_t *q = rk_strmap_get(&st->queues, key);
    int rc = RK_OK;
    if (q == NULL) {
        q = calloc(1, sizeof *q);
        if (q == NULL) {
            rc = RK_ENOMEM;
        } else {
            snprintf(q->topic, sizeof q->topic, "%s", topic);
            q->qid = qid;
            atomic_init(&q->last[0].off, -1);
            atomic_init(&q->last[1].off, -1);
            rc = rk_cq_open(st->cq_root, topic, qid, st->cfg.mapped_file_size_cq, &q->cq);
            if (rc == RK_OK) {
                rk_cq_set_warm(q->cq, st->cfg.warm_mapped_file);
                rc = rk_strmap_put(&st->queues, key, q, NULL);
                if (rc != RK_OK)
                    rk_cq_close(q->cq);
            }
            if (rc != RK_OK) {
                free(q);
                q = NULL;
            }
        }
    }
    pthread_rwlock_unlock(&st->qlock);
    *out = q;
    return rc;
}

static void queue_free(void *p)
{
    queue_t *q = p;
    if (q) {
        rk_cq_close(q->cq);
        free(q);
    }
}

/* Remembers in l that the unit at queue offset `off` is the record at `phys`, stored at `ts`.
 * sole: the slot has one writer (the dispatch thread's). Otherwise writers take turns, and one
 * that finds the slot busy gives up (it is a cache); then only a further unit replaces one. */
static void last_remember(last_unit_t *l, int64_t off, int64_t phys, int64_t ts, bool sole)
{
    uint32_t s = atomic_load_explicit(&l->seq, memory_order_relaxed);
    if (sole)
        atomic_store_explicit(&l->seq, s + 1, memory_order_relaxed);
    else if ((s & 1) || !atomic_compare_exchange_strong_explicit(&l->seq, &s, s + 1, memory_order_relaxed,
                                                                 memory_order_relaxed))
        return;
    atomic_thread_fence(memory_order_release);
    if (sole || off > atomic_load_explicit(&l->off, memory_order_relaxed)) {
        atomic_store_explicit(&l->off, off, memory_order_relaxed);
        atomic_store_explicit(&l->phys, phys, memory_order_relaxed);
        atomic_store_explicit(&l->ts, ts, memory_order_relaxed);
    }
    atomic_store_explicit(&l->seq, s + 2, memory_order_release);
}

/* True when l holds the unit at queue offset off: then *phys and *ts are its. */
static bool last_recall(last_unit_t *l, int64_t off, int64_t *phys, int64_t *ts)
{
    for (int tries = 0; tries < 64; tries++) {
        uint32_t s1 = atomic_load_explicit(&l->seq, memory_order_acquire);
        if (s1 & 1)
            continue;
        int64_t o = atomic_load_explicit(&l->off, memory_order_relaxed);
        int64_t p = atomic_load_explicit(&l->phys, memory_order_relaxed);
        int64_t t = atomic_load_explicit(&l->ts, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&l->seq, memory_order_relaxed) != s1)
            continue;
        if (o != off)
            return false;
        *phys = p;
        *ts = t;
        return true;
    }
    return false;
}

/* ---- disk space --------------------------------------------------------- */

#define DISK_CHECK_MS 1000

/* Percent of the store's filesystem in use, as df computes it: used blocks
 * over what an unprivileged writer can have (used + available), rounded up;
 * -1 if statvfs fails. */
static int disk_used_percent(const char *path)
{
    struct statvfs sv;
    if (statvfs(path, &sv) != 0 || sv.f_blocks == 0 || sv.f_bfree > sv.f_blocks)
        return -1;
    double used = (double)(sv.f_blocks - sv.f_bfree), room = used + (double)sv.f_bavail;
    if (room <= 0)
        return 100;
    int pct = (int)(used * 100.0 / room);
    return used * 100.0 > (double)pct * room ? pct + 1 : pct;
}

/* diskSpaceWarningLevelRatio: above it the store is read-only (puts refused
 * with SERVICE_NOT_AVAILABLE), below it writable again; one log line on
 * each change. Any thread. */
static void check_disk(rk_store_t *st)
{
    int used = disk_used_percent(st->root);
    atomic_store(&st->disk_used, used);
    if (used < 0)
        return;                 /* cannot tell: keep the state */
    bool was = atomic_load(&st->disk_full);
    bool full = was ? used >= st->cfg.disk_space_warning_ratio
                    : used > st->cfg.disk_space_warning_ratio;
    if (full == was || atomic_exchange(&st->disk_full, full) == full)
        return;
    if (full)
        rk_log_error("store", "disk of %s is %d%% used, above diskSpaceWarningLevelRatio %lld%%: the store "
                     "is READ-ONLY, puts are refused until space is freed", st->root, used,
                     (long long)st->cfg.disk_space_warning_ratio);
    else
        rk_log_info("store", "disk of %s is %d%% used, below diskSpaceWarningLevelRatio %lld%%: the store "
                    "accepts puts again", st->root, used, (long long)st->cfg.disk_space_warning_ratio);
}

static rk_put_status_t disk_hook(void *ctx, rk_msg_t *msg, rk_put_scratch_t *scratch)
{
    (void)msg;
    (void)scratch;
    rk_store_t *st = ctx;
    return atomic_load_explicit(&st->disk_full, memory_order_relaxed) ? RK_PUT_SERVICE_NOT_AVAILABLE
                                                                       : RK_PUT_OK;
}

/* ---- dispatchers ------------------------------------------------------- */

static int set_queue_aside(rk_store_t *st, const char *topic, int qid);
static bool lost_head(rk_store_t *st, const char *topic, int qid, int64_t min, int64_t offset,
                      int64_t phys);

/* get_queue through the dispatch thread's cache (see s_qcache). */
static int dispatch_queue(rk_store_t *st, const char *topic, int qid, queue_t **out)
{
    size_t tl = strlen(topic);
    if (tl >= sizeof ((queue_t *)NULL)->topic)
        return get_queue(st, topic, qid, out);      /* a name the table cuts: not cached */
    unsigned h = (unsigned)qid * 0x9E3779B1u;
    if (tl > 0)
        h ^= (unsigned)tl * 131u + (unsigned char)topic[0] * 31u + (unsigned char)topic[tl - 1];
    queue_t **slot = &st->s_qcache[(h ^ (h >> 16)) & (QCACHE_SIZE - 1)];
    queue_t *q = *slot;
    if (q != NULL && q->qid == qid && memcmp(q->topic, topic, tl + 1) == 0) {
        *out = q;
        return RK_OK;
    }
    int rc = get_queue(st, topic, qid, out);
    if (rc == RK_OK)
        *slot = *out;
    return rc;
}

/* CommitLogDispatcherBuildConsumeQueue: NOT and COMMIT records only. */
static int build_cq(void *ctx, const rk_dispatch_request_t *req)
{
    rk_store_t *st = ctx;
    int t = rk_sysflag_txn(req->sysflag);
    if (t != RK_SYSFLAG_TXN_NOT && t != RK_SYSFLAG_TXN_COMMIT)
        return RK_OK;
    queue_t *q;
    int rc = dispatch_queue(st, req->topic, req->queue_id, &q);
    if (rc != RK_OK)
        return rc;
    if (st->catching_up && !q->keep_head && req->queue_offset < rk_cq_min_offset(q->cq)) {
        /* A record the log still holds, below the queue's min offset: its
         * head was lost by hand (cleanup only drops units whose records the
         * log dropped first, and correctMinOffset moves min past them). The
         * catch-up walk meets a queue's records in queue-offset order, so
         * this is its first record still in the log: rebuild it whole from
         * here. This is what finds a lost head when the state file could not
         * (plan_catch_up: missing or unusable, the walk starts at the log's
         * start). */
        bool aside = lost_head(st, req->topic, req->queue_id, rk_cq_min_offset(q->cq),
                               req->queue_offset, req->phys);
        if ((rc = dispatch_queue(st, req->topic, req->queue_id, &q)) != RK_OK)
            return rc;
        q->keep_head = !aside;          /* logged once, not once per record */
    }
    rk_cq_unit_t u = {req->phys, req->size, req->tag_code};
    rc = rk_cq_put(q->cq, req->queue_offset, &u);
    if (rc < 0)
        return rc;
    if (rc == 1 && st->catching_up && q->rebuilt++ == 0)
        q->rebuilt_from = req->phys;
    if (rc == 1 && req->store_ts > atomic_load(&st->logics_ts))
        atomic_store(&st->logics_ts, req->store_ts);
    if (rc == 1)                        /* (a repeat is ignored by the queue: not its unit) */
        last_remember(&q->last[0], req->queue_offset, req->phys, req->store_ts, true);
    return RK_OK;
}

/* CommitLogDispatcherBuildIndex: everything but ROLLBACK. The index only
 * serves lookups by key: when the disk has no room for it, the message's
 * keys are not indexed (logged, counted) rather than stalling dispatch, so
 * consumers keep getting what is stored. */
static int build_index(void *ctx, const rk_dispatch_request_t *req)
{
    rk_store_t *st = ctx;
    if (rk_sysflag_txn(req->sysflag) == RK_SYSFLAG_TXN_ROLLBACK)
        return RK_OK;
    if (req->keys == NULL && req->uniq_key == NULL)
        return RK_OK;
    int rc = rk_index_build(st->index, req->topic, req->keys, req->uniq_key, req->phys, req->store_ts);
    if (rc == -ENOSPC || rc == -EDQUOT) {
        if (st->index_skipped++ == 0)
            rk_log_error("store", "index: no disk space for the keys of the message at commitlog "
                         "offset %lld: not indexed (lookups by key will miss it until space is freed)",
                         (long long)req->phys);
        return RK_OK;
    }
    if (rc == RK_OK && st->index_skipped > 0) {
        rk_log_info("store", "index: disk space again; the keys of %lld message(s) were not indexed",
                    (long long)st->index_skipped);
        st->index_skipped = 0;
    }
    return rc;
}

/* ---- the dispatch source: ch04's commitlog ----------------------------- */

static int64_t src_end(void *ctx) { return rk_commitlog_max_offset(((rk_store_t *)ctx)->cl); }

/* The three properties the builders use, in one pass over the record's
 * properties (not one rk_props_get scan per name): the first entry of each
 * name wins, as rk_props_get's would. Each value is copied, NUL-terminated,
 * into its scratch buffer; a value that does not fit is logged and left out
 * (NULL), as is a name the record does not have. */
typedef struct prop_want {
    const char *name;
    size_t name_len;
    char *buf;
    size_t len;
    const char **out;
} prop_want_t;

static void read_props(rk_store_t *st, const rk_record_t *r, rk_dispatch_request_t *req)
{
    req->tags = req->keys = req->uniq_key = NULL;
    if (r->props_len == 0)
        return;
    prop_want_t want[3] = {
        {RK_PROP_TAGS, sizeof RK_PROP_TAGS - 1, st->s_tags, sizeof st->s_tags, &req->tags},
        {RK_PROP_KEYS, sizeof RK_PROP_KEYS - 1, st->s_keys, sizeof st->s_keys, &req->keys},
        {RK_PROP_UNIQ_KEY, sizeof RK_PROP_UNIQ_KEY - 1, st->s_uniq, sizeof st->s_uniq, &req->uniq_key},
    };
    unsigned seen = 0;
    rk_prop_iter_t it = rk_props_iter(r->props, r->props_len);
    const char *k, *v;
    size_t kl, vl;
    while (seen != 7u && rk_props_next(&it, &k, &kl, &v, &vl)) {
        for (unsigned i = 0; i < 3; i++) {
            if ((seen & (1u << i)) || kl != want[i].name_len || memcmp(k, want[i].name, kl) != 0)
                continue;
            seen |= 1u << i;
            if (vl + 1 > want[i].len) {
                rk_log_warn("dispatch", "property %s of the record at %lld is too long; not indexed",
                            want[i].name, (long long)r->phys_offset);
                break;
            }
            memcpy(want[i].buf, v, vl);
            want[i].buf[vl] = '\0';
            *want[i].out = want[i].buf;
            break;
        }
    }
}

static int src_read(void *ctx, int64_t offset, rk_dispatch_request_t *req, int64_t *next, void **hold)
{
    rk_store_t *st = ctx;
    rk_record_t *rec = &st->s_rec;     /* lives until the dispatchers returned */
    const uint8_t *p = NULL;
    size_t avail = 0;
    int64_t skip = rk_commitlog_skip_damaged(st->cl, offset);
    if (skip != offset) {               /* a damaged range (recovery found it): not dispatched */
        *next = skip;
        return RK_EEOF;
    }
    int rc = rk_store_cl_read(st->cl, offset, &p, &avail, hold);
    if (rc == RK_ENOTFOUND) {
        /* Only on a miss (not per record: it takes the file list's lock):
         * the log may begin later than the dispatch point (as RocketMQ's
         * reput: a replica whose log starts at its master's last file). */
        int64_t min = rk_commitlog_min_offset(st->cl);
        if (offset < min) {
            *next = min;
            return RK_EEOF;
        }
    }
    if (rc != RK_OK)
        return rc;
    rc = rk_record_decode(p, avail, false, rec);
    if (rc == RK_OK && rk_record_is_blank(rec)) {
        *next = rk_commitlog_roll_next(st->cl, offset);
        return RK_EEOF;
    }
    if (rc != RK_OK || rec->phys_offset != offset) {
        /* Damage below the end of the log (zeros, bad magic or size, a
         * record that is not where it says): skip to the next record that
         * verifies; ch04 records and logs the range. Nothing valid after it
         * yet: stay here (the dispatcher retries). */
        int64_t v = rk_commitlog_next_valid(st->cl, offset);
        if (v > offset) {
            *next = v;
            return RK_EEOF;
        }
        /* not RK_EEOF (the zeros' code): to the dispatcher that means "go
         * on at *next", which is offset itself, and it would loop here */
        return rc != RK_OK && rc != RK_EEOF ? rc : RK_ECORRUPT;
    }
    memcpy(st->s_topic, rec->topic, rec->topic_len);
    st->s_topic[rec->topic_len] = '\0';
    req->topic = st->s_topic;
    req->queue_id = rec->queue_id;
    req->queue_offset = rec->queue_offset;
    req->phys = offset;
    req->size = (int32_t)rec->total_size;
    req->store_ts = rec->store_ts;
    req->born_ts = rec->born_ts;
    req->sysflag = rec->sys_flag;
    req->prepared_txn_offset = rec->prepared_tx_offset;
    read_props(st, rec, req);
    int h = 0;
    while (h < st->ntag_hooks && !st->tag_hooks[h].fn(st->tag_hooks[h].ctx, rec, req->tags, &req->tag_code))
        h++;
    if (h == st->ntag_hooks)
        req->tag_code = rk_tag_code(req->tags);
    req->record = p;
    req->rec = rec;
    *next = offset + rec->total_size;
    return 1;
}

static void src_release(void *ctx, void *hold)
{
    (void)ctx;
    rk_store_cl_release(hold);
}

/* Sleeps until the log grows past offset (ch04 signals each append). */
static bool src_wait(void *ctx, int64_t offset, int timeout_ms)
{
    return rk_commitlog_wait_append(((rk_store_t *)ctx)->cl, offset, timeout_ms);
}

/* ---- consume-queue state ------------------------------------------------
 *
 * config/consumeQueueState.json, written (atomically) at every thorough
 * flush and at close, after the consume queues were flushed:
 *
 *   {"dispatched":123456,"indexEnd":120000,
 *    "queues":{"T":{"0":[100,0,692],"1":[98,50,40001]}}}
 *
 * dispatched: every record below it had its units written before the
 * flush; indexEnd: the index's end then; queues: each queue's [max offset,
 * min offset, commitlog offset of the unit at min] then (all on disk after
 * the flush). At open, a queue that is missing or ends lower, or an index
 * that ends lower, was damaged: the catch-up pass re-dispatches from the
 * smallest offset that covers it (the queue's last unit's end, the
 * commitlog's start for a queue that is gone). A queue that starts later
 * than it did while the log still holds the record its old first unit
 * pointed at lost its head by hand (cleanup only drops files whose records
 * the log dropped): its folder is set aside and it is rebuilt whole. After an
 * abnormal exit it also covers everything from `dispatched` on (units not
 * yet flushed may be lost). With nothing missing, a start reads no log. The
 * file is derived data: missing or unusable, the store checks every queue
 * against the whole log instead (the slow path of older stores): the walk
 * fills what each queue lacks, and a record the log holds below its queue's
 * min offset is a lost head there too (build_cq: set aside, rebuilt whole). */

#define CQ_STATE_FILE "consumeQueueState.json"

static void expect_free(rk_store_t *st)
{
    for (size_t i = 0; i < st->nexpect; i++)
        free(st->expect[i].topic);
    free(st->expect);
    st->expect = NULL;
    st->nexpect = 0;
}

typedef struct state_enc {
    cJSON *queues;
    bool ok;
} state_enc_t;

static int encode_queue(const char *key, void *value, void *arg)
{
    (void)key;
    state_enc_t *e = arg;
    queue_t *q = value;
    cJSON *t = cJSON_GetObjectItemCaseSensitive(e->queues, q->topic);
    if (t == NULL && (t = cJSON_AddObjectToObject(e->queues, q->topic)) == NULL) {
        e->ok = false;
        return 1;
    }
    char qk[16];
    snprintf(qk, sizeof qk, "%d", q->qid);
    int64_t min = rk_cq_min_offset(q->cq), max = rk_cq_max_offset(q->cq), min_phys = -1;
    rk_cq_unit_t u;
    if (min < max && rk_cq_get_unit(q->cq, min, &u) == RK_OK && !rk_cq_unit_is_blank(&u))
        min_phys = u.phys;
    cJSON *a = cJSON_CreateArray();
    if (a == NULL || !cJSON_AddItemToObject(t, qk, a)) {
        cJSON_Delete(a);
        e->ok = false;
        return 1;
    }
    int64_t v[3] = {max, min, min_phys};
    for (int i = 0; i < 3; i++) {
        cJSON *n = cJSON_CreateNumber((double)v[i]);
        if (n == NULL || !cJSON_AddItemToArray(a, n)) {
            cJSON_Delete(n);
            e->ok = false;
            return 1;
        }
    }
    return 0;
}

/* The state as it is now (call before flushing what it describes). */
static char *encode_state(rk_store_t *st, int64_t dispatched, int64_t index_end)
{
    cJSON *root = cJSON_CreateObject();
    state_enc_t e = {root ? cJSON_CreateObject() : NULL, true};
    if (e.queues == NULL) {
        cJSON_Delete(root);
        return NULL;
    }
    cJSON_AddItemToObject(root, "queues", e.queues);
    if (rk_json_add_i64(root, "dispatched", dispatched) == NULL ||
        rk_json_add_i64(root, "indexEnd", index_end) == NULL)
        e.ok = false;
    pthread_rwlock_rdlock(&st->qlock);
    if (e.ok)
        rk_strmap_foreach(&st->queues, encode_queue, &e);
    pthread_rwlock_unlock(&st->qlock);
    char *text = e.ok ? rk_json_print(root, 0) : NULL;
    cJSON_Delete(root);
    return text;
}

/* An integer in [min, max] written as digits only (no 1e300, no 1.5). */
static bool strict_i64(const cJSON *item, int64_t min, int64_t max, int64_t *out)
{
    if (!cJSON_IsNumber(item))
        return false;
    char *sv = rk_json_to_string(item);
    if (sv == NULL)
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(sv, &end, 10);
    bool ok = errno == 0 && end != sv && *end == '\0' && v >= min && v <= max;
    free(sv);
    if (ok)
        *out = v;
    return ok;
}

typedef struct state_in {
    int64_t dispatched, index_end;
    expect_t *ex;
    size_t n;
} state_in_t;

static int parse_state(const char *text, size_t len, void *ctx)
{
    state_in_t *in = ctx;
    cJSON *root = rk_json_parse(text, len);
    const cJSON *qs = cJSON_GetObjectItemCaseSensitive(root, "queues");
    int rc = RK_OK;
    if (!cJSON_IsObject(qs) ||
        !strict_i64(cJSON_GetObjectItemCaseSensitive(root, "dispatched"), 0, INT64_MAX, &in->dispatched) ||
        !strict_i64(cJSON_GetObjectItemCaseSensitive(root, "indexEnd"), 0, INT64_MAX, &in->index_end))
        rc = RK_ECORRUPT;
    size_t cap = 0;
    const cJSON *t, *table = rc == RK_OK ? qs : NULL;
    cJSON_ArrayForEach(t, table) {
        const char *name = t->string;
        /* the names rk_cq_open accepts as a folder */
        if (!cJSON_IsObject(t) || name == NULL || name[0] == '\0' || name[0] == '.' ||
            strlen(name) >= 256 || strchr(name, '/') != NULL) {
            rc = RK_ECORRUPT;
            break;
        }
        const cJSON *e;
        cJSON_ArrayForEach(e, t) {
            char *end = NULL;
            errno = 0;
            long qid = strtol(e->string, &end, 10);
            int64_t max = 0, min = 0, min_phys = 0;
            if (errno != 0 || end == e->string || *end != '\0' || qid < 0 || qid > RK_MAX_QUEUE_ID ||
                !cJSON_IsArray(e) || cJSON_GetArraySize(e) != 3 ||
                !strict_i64(cJSON_GetArrayItem(e, 0), 0, INT64_MAX / RK_CQ_UNIT_SIZE, &max) ||
                !strict_i64(cJSON_GetArrayItem(e, 1), 0, max, &min) ||
                !strict_i64(cJSON_GetArrayItem(e, 2), -1, INT64_MAX, &min_phys)) {
                rc = RK_ECORRUPT;
                break;
            }
            if (RK_GROW(in->ex, cap, in->n + 1, 64) != RK_OK) {
                rc = RK_ENOMEM;
                break;
            }
            if ((in->ex[in->n].topic = strdup(name)) == NULL) {
                rc = RK_ENOMEM;
                break;
            }
            in->ex[in->n].qid = (int)qid;
            in->ex[in->n].max_offset = max;
            in->ex[in->n].min_offset = min;
            in->ex[in->n].min_phys = min_phys;
            in->n++;
        }
        if (rc != RK_OK)
            break;
    }
    cJSON_Delete(root);
    if (rc != RK_OK) {
        for (size_t i = 0; i < in->n; i++)
            free(in->ex[i].topic);
        free(in->ex);
        in->ex = NULL;
        in->n = 0;
    }
    return rc;
}

/* Writes the state; store times and positions were read by the caller
 * before it flushed. */
static void write_state(rk_store_t *st, char *text)
{
    if (text == NULL)
        return;
    pthread_mutex_lock(&st->state_mu);
    int rc = rk_file_write_atomic(st->state_path, text, strlen(text));
    pthread_mutex_unlock(&st->state_mu);
    if (rc != RK_OK)
        rk_log_warn("store", "cannot write %s: %s (the next start checks every consume queue "
                    "against the whole commitlog)", st->state_path, rk_strerror(rc));
    free(text);
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Drops topic/qid from the table and renames its folder <qid>.damaged (the
 * loader ignores that name); the catch-up pass recreates it. */
static int set_queue_aside(rk_store_t *st, const char *topic, int qid)
{
    char key[300], dir[PATH_MAX], aside[PATH_MAX + 32];
    queue_key(key, sizeof key, topic, qid);
    if (snprintf(dir, sizeof dir, "%s/%s/%d", st->cq_root, topic, qid) >= (int)sizeof dir)
        return RK_ETOOBIG;
    pthread_rwlock_wrlock(&st->qlock);
    queue_t *q = rk_strmap_remove(&st->queues, key);
    pthread_rwlock_unlock(&st->qlock);
    memset(st->s_qcache, 0, sizeof st->s_qcache);   /* q may be cached */
    queue_free(q);
    snprintf(aside, sizeof aside, "%s.damaged", dir);
    for (int i = 1; rk_path_exists(aside) && i < 1000; i++)
        snprintf(aside, sizeof aside, "%s.damaged.%d", dir, i);
    if (rename(dir, aside) != 0)
        return -errno;
    rk_log_warn("store", "consume queue %s/%d set aside as %s", topic, qid, aside);
    return RK_OK;
}

/* A queue that starts at min while the log still holds its message at
 * `offset` (commitlog offset phys) lost its first file(s): its folder is set
 * aside and the catch-up pass rebuilds it whole. False if it could not be
 * set aside (logged). */
static bool lost_head(rk_store_t *st, const char *topic, int qid, int64_t min, int64_t offset,
                      int64_t phys)
{
    rk_log_warn("store", "consume queue %s/%d starts at offset %lld, but offset %lld still points "
                "into the commitlog (%lld): its first file(s) are gone; rebuilding it whole", topic,
                qid, (long long)min, (long long)offset, (long long)phys);
    int rc = set_queue_aside(st, topic, qid);
    if (rc != RK_OK)
        rk_log_error("store", "cannot set consume queue %s/%d aside: %s", topic, qid, rk_strerror(rc));
    st->damaged = true;
    return rc == RK_OK;
}

/* Where the catch-up pass must start so that every damaged queue (and the
 * index) gets what it lacks; reput_from when nothing is missing. */
static int64_t plan_catch_up(rk_store_t *st, int64_t cl_min)
{
    int64_t from = st->reput_from;
    /* queues the loader had to cut (a short or missing file) */
    size_t n = 0;
    pthread_rwlock_rdlock(&st->qlock);
    const char **keys = rk_strmap_keys_sorted(&st->queues, &n);
    for (size_t i = 0; keys && i < n; i++) {
        queue_t *q = rk_strmap_get(&st->queues, keys[i]);
        if (rk_cq_was_repaired(q->cq)) {
            from = min64(from, rk_cq_max_offset(q->cq) > 0 ? rk_cq_max_phys(q->cq) : cl_min);
            st->damaged = true;
        }
    }
    pthread_rwlock_unlock(&st->qlock);
    bool listed = keys != NULL || n == 0;
    free(keys);
    if (!listed)
        return cl_min;

    state_in_t in = {0, 0, NULL, 0};
    char why[3 * PATH_MAX];
    rk_file_load_opts_t lo = {false, NULL};
    int rc = rk_file_load(st->state_path, parse_state, &in, &lo, NULL, why, sizeof why);
    if (rc != RK_OK) {
        if (rc == -ENOENT)
            rk_log_info("store", "no %s yet: checking every consume queue against the commitlog",
                        st->state_path);
        else
            rk_log_warn("store", "%s; checking every consume queue against the commitlog "
                        "instead", why[0] ? why : rk_strerror(rc));
        return cl_min;
    }
    st->expect = in.ex;
    st->nexpect = in.n;
    for (size_t i = 0; i < in.n; i++) {
        expect_t *e = &in.ex[i];
        queue_t *q = find_queue(st, e->topic, e->qid);
        if (q && rk_cq_min_offset(q->cq) > e->min_offset && e->min_phys >= cl_min) {
            lost_head(st, e->topic, e->qid, rk_cq_min_offset(q->cq), e->min_offset, e->min_phys);
            from = cl_min;
            continue;
        }
        int64_t have = q ? rk_cq_max_offset(q->cq) : 0;
        if (have >= e->max_offset)
            continue;
        int64_t need = have > 0 ? rk_cq_max_phys(q->cq) : cl_min;
        if (q == NULL)
            rk_log_warn("store", "consume queue %s/%d is missing (it had %lld units): rebuilding it "
                        "from the commitlog", e->topic, e->qid, (long long)e->max_offset);
        else
            rk_log_warn("store", "consume queue %s/%d ends at offset %lld, %lld expected: rebuilding "
                        "it from commitlog offset %lld", e->topic, e->qid, (long long)have,
                        (long long)e->max_offset, (long long)(need > cl_min ? need : cl_min));
        from = min64(from, need);
        st->damaged = true;
    }
    if (st->index && rk_index_end_phy(st->index) < in.index_end) {
        rk_log_warn("store", "the index ends at commitlog offset %lld, %lld expected: rebuilding it "
                    "from there", (long long)rk_index_end_phy(st->index), (long long)in.index_end);
        from = min64(from, rk_index_end_phy(st->index));
    }
    if (st->abnormal)
        from = min64(from, in.dispatched);  /* units after the last flush may be lost */
    return from < cl_min ? cl_min : from;
}

/* ---- open / recovery --------------------------------------------------- */

static int load_queues(rk_store_t *st)
{
    DIR *d = opendir(st->cq_root);
    if (d == NULL)
        return errno == ENOENT ? RK_OK : -errno;
    int rc = RK_OK;
    struct dirent *te;
    while (rc == RK_OK && (te = readdir(d)) != NULL) {
        if (te->d_name[0] == '.')
            continue;
        char tdir[PATH_MAX];
        if (rk_path_join(tdir, sizeof tdir, st->cq_root, te->d_name) != RK_OK)
            continue;
        DIR *qd = opendir(tdir);
        if (qd == NULL)
            continue;                   /* a stray file */
        struct dirent *qe;
        while (rc == RK_OK && (qe = readdir(qd)) != NULL) {
            char *end = NULL;
            long qid = strtol(qe->d_name, &end, 10);
            if (qe->d_name[0] == '.' || *end != '\0' || qid < 0 || qid > RK_MAX_QUEUE_ID)
                continue;
            queue_t *q;
            rc = get_queue(st, te->d_name, (int)qid, &q);
            if (rc != RK_OK) {
                rk_log_error("store", "cannot load consume queue %s/%ld: %s", te->d_name, qid,
                             rk_strerror(rc));
                break;
            }
            rk_cq_recover(q->cq);
        }
        closedir(qd);
    }
    closedir(d);
    return rc;
}

typedef struct recover_ctx {
    rk_store_t *st;
    int64_t cl_min, cl_max, max_phys;
} recover_ctx_t;

static int recover_queue(const char *key, void *value, void *arg)
{
    (void)key;
    recover_ctx_t *rc = arg;
    queue_t *q = value;
    rk_cq_truncate_phys(q->cq, rc->cl_max);             /* truncateDirtyLogicFiles */
    rk_cq_delete_expired(q->cq, rc->cl_min);            /* correctMinOffset */
    int64_t mp = rk_cq_max_phys(q->cq);
    if (mp > rc->max_phys)
        rc->max_phys = mp;
    return 0;
}

static int restore_next_offset(const char *key, void *value, void *arg)
{
    (void)key;
    rk_store_t *st = arg;
    queue_t *q = value;
    int64_t want = rk_cq_max_offset(q->cq);
    int64_t have = rk_commitlog_queue_offset_get(st->cl, q->topic, q->qid);
    if (have == want)
        return 0;
    /* The commitlog skips its own scan for us (skip_queue_offset_scan), so
     * 0 means "not known yet"; anything else that disagrees is worth a line. */
    if (have != 0)
        rk_log_warn("store", "queue offset of %s-%d: commitlog says %lld, consume queue %lld; "
                    "using the consume queue's", q->topic, q->qid, (long long)have, (long long)want);
    return rk_commitlog_queue_offset_set(st->cl, q->topic, q->qid, want);
}

/* topicQueueTable (recoverTopicQueueTable): ch04 numbers each queue's
 * messages from its table; this chapter asks ch04 to skip the full-log scan
 * that would fill it and, once dispatch has caught up, seeds it here from
 * every consume queue's max offset. Entries
 * are set one by one (never cleared), so a put never sees an empty table. */
static int rebuild_queue_table(rk_store_t *st)
{
    pthread_rwlock_rdlock(&st->qlock);
    int rc = rk_strmap_foreach(&st->queues, restore_next_offset, st);
    pthread_rwlock_unlock(&st->qlock);
    return rc;
}

int rk_store_open(const char *root, rk_kv_t *kv, rk_store_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (errlen)
        err[0] = '\0';
    rk_store_t *st = calloc(1, sizeof *st);
    if (st == NULL)
        return RK_ENOMEM;
    int rc = RK_OK;
    snprintf(st->root, sizeof st->root, "%s", root);
    if (rk_path_join(st->cq_root, sizeof st->cq_root, root, "consumequeue") != RK_OK) {
        free(st);
        return RK_ETOOBIG;
    }
    rk_strmap_init(&st->queues);
    pthread_rwlock_init(&st->qlock, NULL);
    pthread_mutex_init(&st->state_mu, NULL);
    uv_mutex_init(&st->svc_mu);
    uv_cond_init(&st->svc_cond);

    rk_config_defaults(rk_cq_store_config_fields, &st->cfg);
    if (kv && (rc = rk_config_apply(rk_cq_store_config_fields, &st->cfg, kv, err, errlen)) != RK_OK)
        goto fail;
    st->cfg.mapped_file_size_cq -= st->cfg.mapped_file_size_cq % RK_CQ_UNIT_SIZE;

    rc = rk_store_cl_open(root, kv, &st->cl, err, errlen);
    if (rc != RK_OK)
        goto fail;
    st->abnormal = rk_commitlog_was_abnormal(st->cl);
    atomic_store(&st->disk_used, -1);
    check_disk(st);
    if ((rc = rk_commitlog_add_put_hook(st->cl, "diskspace", disk_hook, st)) != RK_OK)
        goto fail;
    int64_t cl_min = rk_commitlog_min_offset(st->cl), cl_max = rk_commitlog_max_offset(st->cl);

    if ((rc = rk_mkdirs(st->cq_root, 0755)) != RK_OK)
        goto fail;
    if ((rc = load_queues(st)) != RK_OK) {
        snprintf(err, errlen, "consume queues: %s", rk_strerror(rc));
        goto fail;
    }
    recover_ctx_t rctx = {st, cl_min, cl_max, 0};
    pthread_rwlock_rdlock(&st->qlock);
    rk_strmap_foreach(&st->queues, recover_queue, &rctx);
    pthread_rwlock_unlock(&st->qlock);

    if (st->cfg.message_index_enable) {
        char idir[PATH_MAX];
        rk_path_join(idir, sizeof idir, root, "index");
        rk_index_config_t icfg = {st->cfg.max_hash_slot_num, st->cfg.max_index_num};
        int64_t drop = st->abnormal ? rk_checkpoint_index(rk_commitlog_checkpoint(st->cl)) : -1;
        if ((rc = rk_index_open(idir, &icfg, drop, &st->index)) != RK_OK) {
            snprintf(err, errlen, "index: %s", rk_strerror(rc));
            goto fail;
        }
        if (rk_index_end_phy(st->index) > 0 || cl_max > 0)
            rk_index_drop_from_phys(st->index, cl_max);
    }

    char cfgdir[PATH_MAX], opath[PATH_MAX];
    rk_path_join(cfgdir, sizeof cfgdir, root, "config");
    if ((rc = rk_mkdirs(cfgdir, 0755)) != RK_OK)
        goto fail;
    rk_path_join(opath, sizeof opath, cfgdir, RK_CONSUMER_OFFSET_FILE);
    char why[3 * PATH_MAX];
    rc = rk_consumer_offsets_open_opts(opath, st->cfg.metadata_fallback_to_bak, why, sizeof why,
                                       &st->offsets);
    if (rc != RK_OK) {
        snprintf(err, errlen, "%s", why[0] ? why : rk_strerror(rc));
        goto fail;
    }

    /* The reput thread sleeps on ch04's append signal rather than polling
     * every 1 ms as RocketMQ does: measured, it costs the put path nothing
     * and keeps dispatch within ~1 ms of the log (README, design notes). */
    rk_dispatch_source_t src = {src_end, src_read, src_release, src_wait, st};
    if ((rc = rk_dispatcher_create(&src, &st->disp)) != RK_OK)
        goto fail;
    if ((rc = rk_dispatcher_register(st->disp, "consumequeue", build_cq, st)) != RK_OK)
        goto fail;
    if (st->index && (rc = rk_dispatcher_register(st->disp, "index", build_index, st)) != RK_OK)
        goto fail;

    /* reputFromOffset: where the consume queues stop seeing the log */
    st->reput_from = rctx.max_phys < cl_min ? cl_min : rctx.max_phys;
    if (st->reput_from > cl_max)
        st->reput_from = cl_max;
    rk_path_join(st->state_path, sizeof st->state_path, cfgdir, CQ_STATE_FILE);
    st->catch_from = plan_catch_up(st, cl_min);
    rk_log_info("store", "opened %s (%s exit): commitlog [%lld, %lld), %zu consume queues, "
                "reput from %lld", root, st->abnormal ? "ABNORMAL" : "normal", (long long)cl_min,
                (long long)cl_max, st->queues.len, (long long)st->reput_from);
    *out = st;
    return RK_OK;
fail:
    if (err[0] == '\0')
        snprintf(err, errlen, "%s", rk_strerror(rc));
    rk_store_close(st);
    return rc;
}

int rk_store_register_dispatcher(rk_store_t *st, const char *name, rk_dispatch_fn fn, void *ctx)
{
    return rk_dispatcher_register(st->disp, name, fn, ctx);
}

int rk_store_add_tag_code_hook(rk_store_t *st, rk_tag_code_fn fn, void *ctx)
{
    if (fn == NULL)
        return RK_EINVAL;
    if (st->started)
        return RK_EBUSY;
    if (st->ntag_hooks == RK_TAG_CODE_HOOKS_MAX)
        return RK_EFULL;
    st->tag_hooks[st->ntag_hooks].fn = fn;
    st->tag_hooks[st->ntag_hooks].ctx = ctx;
    st->ntag_hooks++;
    return RK_OK;
}

const rk_cq_store_config_t *rk_store_config(const rk_store_t *st) { return &st->cfg; }

static void service_main(void *arg);

static int report_queue(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    queue_t *q = value;
    if (q->rebuilt > 0)
        rk_log_warn("store", "rebuilt consume queue %s/%d: %lld units from commitlog offset %lld",
                    q->topic, q->qid, (long long)q->rebuilt, (long long)q->rebuilt_from);
    q->rebuilt = 0;
    return 0;
}

/* One line per queue the catch-up pass wrote to, and one per queue the
 * state file knew that the log could not bring back. */
static void report_rebuilt(rk_store_t *st)
{
    pthread_rwlock_rdlock(&st->qlock);
    rk_strmap_foreach(&st->queues, report_queue, NULL);
    pthread_rwlock_unlock(&st->qlock);
    for (size_t i = 0; i < st->nexpect; i++) {
        const expect_t *e = &st->expect[i];
        queue_t *q = find_queue(st, e->topic, e->qid);
        int64_t have = q ? rk_cq_max_offset(q->cq) : 0;
        if (have < e->max_offset)
            rk_log_warn("store", "consume queue %s/%d still ends at offset %lld, not %lld: the "
                        "commitlog no longer holds those messages", e->topic, e->qid,
                        (long long)have, (long long)e->max_offset);
    }
}

int rk_store_start(rk_store_t *st)
{
    if (st->started)
        return RK_EBUSY;
    /* Catch-up pass, before any other dispatcher sees anything: walk the log
     * from catch_from (see plan_catch_up: where the earliest damaged queue,
     * the index or, after a crash, the last flush ended; nothing when all is
     * there) to the log's end and give the builders what they miss (the
     * reput thread then starts at reputFrom for every dispatcher, and these
     * two ignore what they already hold). The
     * consume-queue builder ignores units a queue holds, the index ignores
     * offsets below its end, so this writes exactly the missing units: a
     * queue folder deleted by hand, a file cut short, units lost in a
     * crash, index files dropped after one. */
    int64_t cl_end = rk_commitlog_max_offset(st->cl);
    if (st->catch_from < st->reput_from || (st->damaged && st->catch_from < cl_end)) {
        uint64_t t0 = rk_mono_ms();
        unsigned mask = st->index ? 3u : 1u;
        int64_t at = st->catch_from;
        int64_t end = cl_end;           /* a damaged queue may hold the last record */
        if (end < st->reput_from)
            end = st->reput_from;
        st->catching_up = true;
        for (;;) {
            int64_t reached = at;
            int r = rk_dispatcher_run_range(st->disp, at, end, mask, &reached);
            if (r == RK_OK)
                break;
            if (r != RK_ECORRUPT && r != RK_EEOF) {
                rk_log_error("store", "catch-up dispatch failed at %lld: %s", (long long)reached,
                             rk_strerror(r));
                st->catching_up = false;
                return r;
            }
            /* the source steps over damage to the next valid record
             * (rk_commitlog_next_valid); this is the last resort when none
             * follows in the range: go on at the next file */
            at = rk_commitlog_roll_next(st->cl, reached);
            rk_log_warn("store", "catch-up: unreadable record at commitlog offset %lld (%s); "
                        "skipping to %lld", (long long)reached, rk_strerror(r), (long long)at);
            if (at >= end)
                break;
        }
        st->catching_up = false;
        rk_log_info("store", "catch-up pass over commitlog [%lld, %lld) in %llu ms",
                    (long long)st->catch_from, (long long)end,
                    (unsigned long long)(rk_mono_ms() - t0));
        report_rebuilt(st);
    }
    expect_free(st);
    int rc = rk_dispatcher_start(st->disp, st->reput_from);
    if (rc != RK_OK)
        return rc;
    st->started = true;
    rc = rk_dispatcher_wait_caught_up(st->disp, 600000);
    if (rc != RK_OK)
        rk_log_warn("store", "dispatch has not caught up with the commitlog yet");
    rc = rebuild_queue_table(st);
    if (rc != RK_OK)
        return rc;
    st->svc_stop = false;
    rc = uv_thread_create(&st->service, service_main, st);
    if (rc != 0) {
        rk_dispatcher_stop(st->disp);
        st->started = false;
        return rc;
    }
    return RK_OK;
}

void rk_store_close(rk_store_t *st)
{
    if (st == NULL)
        return;
    if (st->started) {
        uv_mutex_lock(&st->svc_mu);
        st->svc_stop = true;
        uv_cond_signal(&st->svc_cond);
        uv_mutex_unlock(&st->svc_mu);
        uv_thread_join(&st->service);
        /* let dispatch finish what was appended, so the clean-exit marker is honest */
        rk_dispatcher_wait_caught_up(st->disp, 5000);
        rk_dispatcher_stop(st->disp);
        rk_store_flush(st);
    }
    if (st->offsets) {
        rk_consumer_offsets_persist(st->offsets, false);
        rk_consumer_offsets_close(st->offsets);
    }
    rk_dispatcher_destroy(st->disp);
    rk_index_close(st->index);
    pthread_rwlock_wrlock(&st->qlock);
    rk_strmap_free(&st->queues, queue_free);
    pthread_rwlock_unlock(&st->qlock);
    if (st->cl)
        rk_commitlog_close(st->cl);
    rk_config_free(rk_cq_store_config_fields, &st->cfg);
    expect_free(st);
    pthread_mutex_destroy(&st->state_mu);
    pthread_rwlock_destroy(&st->qlock);
    uv_cond_destroy(&st->svc_cond);
    uv_mutex_destroy(&st->svc_mu);
    free(st);
}

/* ---- put --------------------------------------------------------------- */

int rk_store_put(rk_store_t *st, const rk_msg_t *m, rk_put_result_t *res)
{
    /* the commitlog assigns the queue offset and wakes the reput thread */
    int rc = rk_commitlog_put(st->cl, m, res);
    if (rc == RK_OK && res->status == RK_PUT_CREATE_MAPEDFILE_FAILED) {
        /* no blocks for a file: look at the disk now, not at the next tick */
        check_disk(st);
        if (atomic_load(&st->disk_full))
            res->status = RK_PUT_SERVICE_NOT_AVAILABLE;
    }
    return rc;
}

bool rk_store_disk_full(rk_store_t *st, int *used_pct)
{
    if (used_pct)
        *used_pct = atomic_load(&st->disk_used);
    return atomic_load(&st->disk_full);
}

rk_commitlog_t *rk_store_commitlog(rk_store_t *st) { return st->cl; }

/* ---- get --------------------------------------------------------------- */

typedef struct holds {
    void **h;
    int n, cap;
} holds_t;

static int holds_add(holds_t *hs, void *h)
{
    if (RK_GROW(hs->h, hs->cap, hs->n + 1, 16) != RK_OK)
        return RK_ENOMEM;
    hs->h[hs->n++] = h;
    return RK_OK;
}

typedef struct get_priv {
    rk_store_t *st;
    holds_t holds;
} get_priv_t;

void rk_get_result_release(rk_get_result_t *res)
{
    if (res == NULL)
        return;
    get_priv_t *p = res->priv;
    if (p) {
        for (int i = 0; i < p->holds.n; i++)
            rk_store_cl_release(p->holds.h[i]);
        free(p->holds.h);
        free(p);
    }
    free(res->msgs);
    res->msgs = NULL;
    res->priv = NULL;
    res->count = 0;
}

/* A record a pull may hand out: it passes the cheap checks and is not in a
 * range ch04 knows is damaged. A failure is reported to ch04 (one ERROR
 * line per record: it remembers the range). */
static bool servable(rk_store_t *st, const rk_cq_unit_t *u, const uint8_t *p)
{
    const char *why = rk_get_record_check(p, u->size, u->phys);
    if (why != NULL) {
        rk_commitlog_report_damage(st->cl, u->phys, u->phys + u->size, why);
        return false;
    }
    return rk_commitlog_skip_damaged(st->cl, u->phys) == u->phys;
}

int rk_store_get_message(rk_store_t *st, const char *group, const char *topic, int qid,
                         int64_t offset, int max_n, int64_t max_bytes, const int32_t *tag_codes,
                         int ncodes, rk_get_result_t *res)
{
    (void)group;
    memset(res, 0, sizeof *res);
    if (max_n <= 0)
        max_n = (int)st->cfg.max_transfer_count;
    if (max_bytes <= 0)
        max_bytes = st->cfg.max_transfer_bytes;
    queue_t *q = find_queue(st, topic, qid);
    if (q == NULL) {
        res->status = RK_GET_NO_MATCHED_LOGIC_QUEUE;
        res->next_begin_offset = 0;
        return RK_OK;
    }
    res->min_offset = rk_cq_min_offset(q->cq);
    res->max_offset = rk_cq_max_offset(q->cq);
    if (!rk_get_check_offset(res->min_offset, res->max_offset, offset, &res->status,
                             &res->next_begin_offset))
        return RK_OK;
    rk_cq_slice_t s;
    if (rk_cq_read(q->cq, offset, &s) != RK_OK) {
        /* the units' file went away (cleanup): continue at the next file */
        int64_t per = st->cfg.mapped_file_size_cq / RK_CQ_UNIT_SIZE;
        res->status = RK_GET_OFFSET_FOUND_NULL;
        res->next_begin_offset = offset + per - offset % per;
        return RK_OK;
    }
    get_priv_t *priv = calloc(1, sizeof *priv);
    res->msgs = calloc((size_t)(max_n < s.count ? max_n : s.count), sizeof *res->msgs);
    if (priv == NULL || res->msgs == NULL) {
        free(priv);
        free(res->msgs);
        res->msgs = NULL;
        rk_cq_slice_release(&s);
        return RK_ENOMEM;
    }
    priv->st = st;
    res->priv = priv;
    res->status = RK_GET_NO_MATCHED_MESSAGE;
    int max_filter = (max_n * RK_CQ_UNIT_SIZE > 16000 ? max_n * RK_CQ_UNIT_SIZE : 16000) / RK_CQ_UNIT_SIZE;
    int64_t next_file_start = INT64_MIN;
    rk_mapped_file_t *cur = NULL;      /* the commitlog file last referenced */
    int i = 0;
    int rc = RK_OK;
    for (; i < s.count && i < max_filter; i++) {
        rk_cq_unit_t u = rk_cq_unit_decode(s.units + (size_t)i * RK_CQ_UNIT_SIZE);
        if (next_file_start != INT64_MIN && u.phys < next_file_start)
            continue;
        if (rk_get_batch_full(u.size, max_n, max_bytes, res->count, res->total_bytes))
            break;
        if (!rk_get_tag_matches(u.tag_code, tag_codes, ncodes)) {
            if (res->total_bytes == 0)
                res->status = RK_GET_NO_MATCHED_MESSAGE;
            continue;
        }
        const uint8_t *p = NULL;
        void *hold = NULL;
        /* records of one batch mostly share a file: one reference per file */
        if (cur != NULL && u.phys >= cur->from &&
            u.phys + u.size <= cur->from + atomic_load(&cur->committed)) {
            p = cur->base + (u.phys - cur->from);
        } else if (rk_cq_unit_is_blank(&u) ||
                   rk_store_cl_slice(st->cl, u.phys, u.size, &p, &hold) != RK_OK) {
            if (res->total_bytes == 0)
                res->status = RK_GET_MESSAGE_WAS_REMOVING;
            next_file_start = rk_cq_unit_is_blank(&u) ? INT64_MIN : rk_commitlog_roll_next(st->cl, u.phys);
            continue;
        } else {
            if ((rc = holds_add(&priv->holds, hold)) != RK_OK) {
                rk_store_cl_release(hold);
                break;
            }
            cur = hold;
        }
        if (!servable(st, &u, p))
            continue;                   /* damaged: the consumer moves past it */
        rk_get_msg_t *m = &res->msgs[res->count++];
        m->data = p;
        m->size = u.size;
        m->phys = u.phys;
        m->queue_offset = s.offset + i;
        res->total_bytes += u.size;
        res->status = RK_GET_FOUND;
        next_file_start = INT64_MIN;
    }
    rk_cq_slice_release(&s);
    if (rc != RK_OK) {
        rk_get_result_release(res);
        return rc;
    }
    res->next_begin_offset = offset + i;
    return RK_OK;
}

/* ---- offsets and queues ------------------------------------------------ */

int64_t rk_store_max_offset(rk_store_t *st, const char *topic, int qid)
{
    queue_t *q = find_queue(st, topic, qid);
    return q ? rk_cq_max_offset(q->cq) : 0;
}

int64_t rk_store_min_offset(rk_store_t *st, const char *topic, int qid)
{
    queue_t *q = find_queue(st, topic, qid);
    return q ? rk_cq_min_offset(q->cq) : 0;
}

static int64_t store_ts_of(int64_t phys, int32_t size, void *ctx)
{
    rk_store_t *st = ctx;
    const uint8_t *p;
    void *hold;
    if (rk_store_cl_slice(st->cl, phys, size, &p, &hold) != RK_OK)
        return -1;
    int64_t ts = rk_record_peek_store_ts(p, (size_t)size);
    rk_store_cl_release(hold);
    return ts > 0 ? ts : -1;
}

int64_t rk_store_offset_by_time(rk_store_t *st, const char *topic, int qid, int64_t ts)
{
    queue_t *q = find_queue(st, topic, qid);
    return q ? rk_cq_offset_by_time(q->cq, ts, store_ts_of, st) : 0;
}

/* Store time of q's unit at offset: from what q remembers while its record is still in the
 * log, else read from the consume queue and the log (and remembered when it is q's last). */
static int64_t queue_store_time(rk_store_t *st, queue_t *q, int64_t offset, int64_t max)
{
    int64_t phys, ts;
    if (last_recall(&q->last[0], offset, &phys, &ts) || last_recall(&q->last[1], offset, &phys, &ts))
        return phys >= rk_commitlog_min_offset(st->cl) && ts > 0 ? ts : -1;
    rk_cq_unit_t u;
    if (rk_cq_get_unit(q->cq, offset, &u) != RK_OK || rk_cq_unit_is_blank(&u))
        return -1;
    ts = store_ts_of(u.phys, u.size, st);
    if (ts > 0 && offset == max - 1)
        last_remember(&q->last[1], offset, u.phys, ts, false);
    return ts;
}

int64_t rk_store_message_store_time(rk_store_t *st, const char *topic, int qid, int64_t offset)
{
    queue_t *q = find_queue(st, topic, qid);
    return q ? queue_store_time(st, q, offset, -1) : -1;
}

int rk_store_queue_stats(rk_store_t *st, const char *topic, int n, rk_queue_stats_t *out)
{
    char key[300];
    int plen = snprintf(key, sizeof key, "%s-", topic);
    if (plen < 0 || (size_t)plen + 12 > sizeof key || n < 0)
        return RK_EINVAL;
    queue_t *qs[64];
    for (int base = 0; base < n; base += 64) {
        int m = n - base < 64 ? n - base : 64;
        /* one hold of the table's lock per 64 look-ups; the queue ids written by hand (this
         * runs for every queue of every topic a scrape asks about) */
        pthread_rwlock_rdlock(&st->qlock);
        for (int i = 0; i < m; i++) {
            char digits[12];
            int d = 0;
            for (unsigned v = (unsigned)(base + i); d == 0 || v; v /= 10)
                digits[d++] = (char)('0' + v % 10);
            for (int k = 0; k < d; k++)
                key[plen + k] = digits[d - 1 - k];
            key[plen + d] = '\0';
            qs[i] = rk_strmap_get(&st->queues, key);
        }
        pthread_rwlock_unlock(&st->qlock);
        for (int i = 0; i < m; i++) {
            rk_queue_stats_t *o = &out[base + i];
            queue_t *q = qs[i];
            if (q == NULL) {
                *o = (rk_queue_stats_t){0, 0, -1};
                continue;
            }
            o->min_offset = rk_cq_min_offset(q->cq);
            o->max_offset = rk_cq_max_offset(q->cq);
            o->last_store_ts = o->max_offset > 0 ? queue_store_time(st, q, o->max_offset - 1, o->max_offset) : -1;
        }
    }
    return RK_OK;
}

int64_t rk_store_earliest_time(rk_store_t *st)
{
    int64_t min = rk_commitlog_min_offset(st->cl);
    if (min >= rk_commitlog_max_offset(st->cl))
        return -1;
    const uint8_t *p;
    size_t avail;
    void *hold;
    if (rk_store_cl_read(st->cl, min, &p, &avail, &hold) != RK_OK)
        return -1;
    int64_t ts = rk_record_peek_store_ts(p, avail);
    rk_store_cl_release(hold);
    return ts > 0 ? ts : -1;
}

int64_t rk_store_commitlog_min(rk_store_t *st) { return rk_commitlog_min_offset(st->cl); }
int64_t rk_store_commitlog_max(rk_store_t *st) { return rk_commitlog_max_offset(st->cl); }
int64_t rk_store_dispatched(rk_store_t *st) { return rk_dispatcher_offset(st->disp); }

int rk_store_wait_dispatched(rk_store_t *st, int timeout_ms)
{
    return rk_dispatcher_wait_caught_up(st->disp, timeout_ms);
}

static int cmp_queue(const void *a, const void *b)
{
    const queue_t *x = *(const queue_t *const *)a, *y = *(const queue_t *const *)b;
    int c = strcmp(x->topic, y->topic);
    return c != 0 ? c : (x->qid > y->qid) - (x->qid < y->qid);
}

int rk_store_foreach_queue(rk_store_t *st, int (*fn)(const char *topic, int qid, void *ctx), void *ctx)
{
    pthread_rwlock_rdlock(&st->qlock);
    size_t n = 0;
    const char **keys = rk_strmap_keys_sorted(&st->queues, &n);
    queue_t **qs = n ? malloc(n * sizeof *qs) : NULL;
    for (size_t i = 0; qs && i < n; i++)
        qs[i] = rk_strmap_get(&st->queues, keys[i]);
    pthread_rwlock_unlock(&st->qlock);
    free(keys);
    if (n && qs == NULL)
        return RK_ENOMEM;
    /* sort by topic, then numerically by qid (qsort: an insertion sort here made every
     * GET_CONSUME_STATS quadratic in the broker's queues, ~0.1 s at 8 000) */
    if (n > 1)
        qsort(qs, n, sizeof *qs, cmp_queue);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = fn(qs[i]->topic, qs[i]->qid, ctx);
    free(qs);
    return rc;
}

int rk_store_read_units(rk_store_t *st, const char *topic, int qid, int64_t offset,
                        rk_cq_unit_t *out, int max)
{
    queue_t *q = find_queue(st, topic, qid);
    if (q == NULL)
        return RK_ENOTFOUND;
    int n = 0;
    while (n < max) {
        rk_cq_slice_t s;
        if (rk_cq_read(q->cq, offset + n, &s) != RK_OK)
            break;
        for (int i = 0; i < s.count && n < max; i++)
            out[n++] = rk_cq_unit_decode(s.units + (size_t)i * RK_CQ_UNIT_SIZE);
        rk_cq_slice_release(&s);
    }
    return n;
}

int rk_store_commit_offset(rk_store_t *st, const char *group, const char *topic, int qid,
                           int64_t offset)
{
    return rk_consumer_offsets_commit(st->offsets, group, topic, qid, offset);
}

int64_t rk_store_query_offset(rk_store_t *st, const char *group, const char *topic, int qid)
{
    return rk_consumer_offsets_query(st->offsets, group, topic, qid);
}

typedef struct group_off {
    size_t topic_at;                    /* into the copy's text buffer */
    int qid;
    int64_t offset;
} group_off_t;

typedef struct group_copy {
    rk_buf_t text;                      /* the topics, NUL-terminated, one after the other */
    group_off_t *v;
    size_t n, cap;
} group_copy_t;

static int copy_group_offset(const char *topic_at_group, int qid, int64_t offset, void *ctx)
{
    group_copy_t *c = ctx;
    if (RK_GROW(c->v, c->cap, c->n + 1, 64) != RK_OK)
        return RK_ENOMEM;
    const char *at = strchr(topic_at_group, '@');
    size_t tl = at ? (size_t)(at - topic_at_group) : strlen(topic_at_group);
    /* a queue of the same topic as the entry before shares its copy of the name */
    size_t prev = c->n ? c->v[c->n - 1].topic_at : 0;
    if (c->n == 0 || strncmp((const char *)c->text.data + prev, topic_at_group, tl) != 0 ||
        c->text.data[prev + tl] != '\0') {
        prev = c->text.len;
        rk_buf_put(&c->text, topic_at_group, tl);
        rk_buf_put_u8(&c->text, 0);
        if (c->text.err)
            return RK_ENOMEM;
    }
    c->v[c->n++] = (group_off_t){prev, qid, offset};
    return 0;
}

int rk_store_foreach_group_offset(rk_store_t *st, const char *group,
                                  int (*fn)(const char *topic, int qid, int64_t offset, void *ctx), void *ctx)
{
    group_copy_t c = {0};
    rk_buf_init(&c.text);
    int rc = rk_consumer_offsets_foreach_of_group(st->offsets, group, copy_group_offset, &c);
    for (size_t i = 0; i < c.n && rc == RK_OK; i++)
        rc = fn((const char *)c.text.data + c.v[i].topic_at, c.v[i].qid, c.v[i].offset, ctx);
    free(c.v);
    rk_buf_free(&c.text);
    return rc;
}

int rk_store_persist_offsets(rk_store_t *st) { return rk_consumer_offsets_persist(st->offsets, false); }

/* ---- lookups ----------------------------------------------------------- */

int rk_store_view(rk_store_t *st, int64_t phys, rk_store_view_t *out)
{
    memset(out, 0, sizeof *out);
    const uint8_t *p;
    size_t avail;
    void *hold;
    if (phys < rk_commitlog_min_offset(st->cl) || phys >= rk_commitlog_max_offset(st->cl))
        return RK_ENOTFOUND;
    int rc = rk_store_cl_read(st->cl, phys, &p, &avail, &hold);
    if (rc != RK_OK)
        return RK_ENOTFOUND;
    rk_record_t r;
    rc = rk_record_decode(p, avail, false, &r);
    if (rc != RK_OK || rk_record_is_blank(&r) || r.phys_offset != phys ||
        rk_commitlog_skip_damaged(st->cl, phys) != phys) {
        rk_store_cl_release(hold);
        return RK_ENOTFOUND;
    }
    out->data = p;
    out->size = (int32_t)r.total_size;
    out->phys = phys;
    out->ref = hold;
    out->priv_store = st;
    return RK_OK;
}

int rk_store_view_by_msgid(rk_store_t *st, const char *msg_id, rk_store_view_t *out)
{
    rk_host_t h;
    int64_t phys;
    memset(out, 0, sizeof *out);
    int rc = rk_msgid_decode(msg_id, &h, &phys);
    if (rc != RK_OK)
        return rc;
    return rk_store_view(st, phys, out);
}

void rk_store_view_release(rk_store_view_t *v)
{
    if (v && v->ref) {
        rk_store_cl_release(v->ref);
        v->ref = NULL;
        v->data = NULL;
    }
}

int rk_store_query_by_key(rk_store_t *st, const char *topic, const char *key, int64_t begin_ts,
                          int64_t end_ts, int64_t *phys_out, int max)
{
    if (st->index == NULL)
        return RK_EPERM;
    if (max <= 0)
        return 0;
    /* ask for more than max: collisions and duplicates are filtered below */
    int cap = max * 2 + 16;
    int64_t *cand = malloc((size_t)cap * sizeof *cand);
    if (cand == NULL)
        return RK_ENOMEM;
    int n = rk_index_query(st->index, topic, key, begin_ts, end_ts, cand, cap);
    int got = 0;
    for (int i = 0; i < n && got < max; i++) {
        bool dup = false;
        for (int j = 0; j < got && !dup; j++)
            dup = phys_out[j] == cand[i];
        if (dup)
            continue;
        rk_store_view_t v;
        if (rk_store_view(st, cand[i], &v) != RK_OK)
            continue;           /* deleted with an old commitlog file */
        rk_record_t r;
        if (rk_record_decode(v.data, (size_t)v.size, false, &r) == RK_OK &&
            rk_record_has_key(&r, topic, key) && r.store_ts >= begin_ts && r.store_ts <= end_ts)
            phys_out[got++] = cand[i];
        rk_store_view_release(&v);
    }
    free(cand);
    return n < 0 ? n : got;
}

/* ---- maintenance: flush, offsets, cleanup ------------------------------ */

typedef struct flush_ctx {
    int least;
    int rc;                         /* the first error */
} flush_ctx_t;

static int flush_queue(const char *key, void *value, void *arg)
{
    (void)key;
    flush_ctx_t *f = arg;
    int rc = rk_cq_flush(((queue_t *)value)->cq, f->least);
    if (rc != RK_OK && f->rc == RK_OK)
        f->rc = rc;
    return 0;
}

static int flush_queues(rk_store_t *st, int least)
{
    flush_ctx_t f = {least, RK_OK};
    pthread_rwlock_rdlock(&st->qlock);
    rk_strmap_foreach(&st->queues, flush_queue, &f);
    pthread_rwlock_unlock(&st->qlock);
    return f.rc;
}

int rk_store_flush(rk_store_t *st)
{
    /* read the times first: what we flush next covers at least that much */
    int64_t logics = atomic_load(&st->logics_ts);
    /* and the consume-queue state: the dispatch point first, then the
     * queues' ends (they cover every record below it), then flush them */
    char *state = NULL;
    if (st->started) {
        int64_t dispatched = rk_dispatcher_offset(st->disp);
        state = encode_state(st, dispatched, st->index ? rk_index_end_phy(st->index) : 0);
        if (state == NULL)
            rk_log_warn("store", "cannot encode %s: out of memory", st->state_path);
    }
    int rc = flush_queues(st, 0);
    int64_t index_ts = 0;
    if (rc == RK_OK && st->index)
        rc = rk_index_flush(st->index, &index_ts);
    rk_store_cl_checkpoint_update(st->cl, logics, st->index ? index_ts : -1);
    if (rc == RK_OK)
        write_state(st, state);     /* only once what it describes is on disk */
    else
        free(state);
    return rc;
}

typedef struct clean_ctx {
    int64_t cl_min;
    int files;
} clean_ctx_t;

static int clean_queue(const char *key, void *value, void *arg)
{
    (void)key;
    clean_ctx_t *c = arg;
    c->files += rk_cq_delete_expired(((queue_t *)value)->cq, c->cl_min);
    return 0;
}


int rk_store_clean_expired(rk_store_t *st, bool force)
{
    int used = disk_used_percent(st->root);
    bool disk_full = used >= 0 && used > st->cfg.disk_max_used_space_ratio;
    bool hour = rk_cq_store_is_delete_hour(st->cfg.delete_when, rk_now_ms());
    int deleted = 0;
    if (force || hour || disk_full) {
        /* never delete what dispatch has not passed yet */
        deleted = rk_store_cl_delete_expired(st->cl, st->cfg.file_reserved_time * 3600000LL,
                                             disk_full || force, rk_dispatcher_offset(st->disp));
        if (deleted > 0) {
            char why[160];
            if (force)
                snprintf(why, sizeof why, "forced: the oldest first");
            else if (disk_full)
                snprintf(why, sizeof why, "disk %d%% used > diskMaxUsedSpaceRatio %lld%%: the oldest first",
                         used, (long long)st->cfg.disk_max_used_space_ratio);
            else
                snprintf(why, sizeof why, "older than fileReservedTime %lld h, deleteWhen hour",
                         (long long)st->cfg.file_reserved_time);
            rk_log_info("store", "cleanup: deleted %d commitlog file(s) (%s); commitlog now starts at %lld",
                        deleted, why, (long long)rk_commitlog_min_offset(st->cl));
        }
    }
    clean_ctx_t c = {rk_commitlog_min_offset(st->cl), 0};
    pthread_rwlock_rdlock(&st->qlock);
    rk_strmap_foreach(&st->queues, clean_queue, &c);
    pthread_rwlock_unlock(&st->qlock);
    int idx = st->index ? rk_index_delete_expired(st->index, c.cl_min) : 0;
    if (c.files > 0 || idx > 0)
        rk_log_info("store", "cleanup: deleted %d consume-queue file(s) and %d index file(s) "
                    "below commitlog offset %lld", c.files, idx, (long long)c.cl_min);
    return deleted;
}

static void service_main(void *arg)
{
    rk_store_t *st = arg;
    (void)rk_thread_init("rk-store-svc", RK_THREAD_BACKGROUND);
    uint64_t now = rk_mono_ms();
    uint64_t next_flush = now + (uint64_t)st->cfg.flush_interval_cq;
    uint64_t next_thorough = now + (uint64_t)st->cfg.flush_cq_thorough_interval;
    uint64_t next_offsets = now + (uint64_t)st->cfg.flush_consumer_offset_interval;
    uint64_t next_clean = now + (uint64_t)st->cfg.clean_resource_interval;
    uint64_t next_disk = now + DISK_CHECK_MS;
    for (;;) {
        uv_mutex_lock(&st->svc_mu);
        if (!st->svc_stop)
            (void)uv_cond_timedwait(&st->svc_cond, &st->svc_mu, 50 * 1000000ull);
        bool stop = st->svc_stop;
        uv_mutex_unlock(&st->svc_mu);
        if (stop)
            break;
        now = rk_mono_ms();
        if (now >= next_thorough) {
            rk_store_flush(st);
            next_thorough = now + (uint64_t)st->cfg.flush_cq_thorough_interval;
            next_flush = now + (uint64_t)st->cfg.flush_interval_cq;
        } else if (now >= next_flush) {
            flush_queues(st, (int)st->cfg.flush_cq_least_pages);
            next_flush = now + (uint64_t)st->cfg.flush_interval_cq;
        }
        if (now >= next_offsets) {
            rk_consumer_offsets_persist(st->offsets, false);
            next_offsets = now + (uint64_t)st->cfg.flush_consumer_offset_interval;
        }
        if (now >= next_disk) {
            check_disk(st);
            next_disk = now + DISK_CHECK_MS;
        }
        if (now >= next_clean) {
            rk_store_clean_expired(st, false);
            next_clean = now + (uint64_t)st->cfg.clean_resource_interval;
        }
    }
}
