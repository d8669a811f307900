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
#include "rk/index.h"
#include "rk/log.h"
#include "rk/mapped_file.h"
#include "rk/strmap.h"
#include "rk/checkpoint.h"
#include "store_cl.h"

/* One (topic, qid) and its consume queue. */
typedef struct queue {
    rk_cq_t *cq;
    char topic[256];
    int qid;
} queue_t;

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
    _Atomic int64_t logics_ts;         /* store time of the last CQ unit written */

    int64_t (*tag_hook)(void *ctx, const rk_record_t *rec, const char *tags);
    void *tag_hook_ctx;

    /* scratch for the dispatch source: used by one thread at a time (the
     * catch-up pass in start(), then the reput thread) */
    rk_record_t s_rec;
    char s_topic[256], s_tags[256], s_keys[1024], s_uniq[256];

    uv_thread_t service;
    uv_mutex_t svc_mu;
    uv_cond_t svc_cond;
    bool svc_stop, started;
};

/* ---- queue table -------------------------------------------------------- */

static void queue_key(char *out, size_t len, const char *topic, int qid)
{
    snprintf(out, len, "%s-%d", topic, qid);
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

/* ---- dispatchers ------------------------------------------------------- */

/* CommitLogDispatcherBuildConsumeQueue: NOT and COMMIT records only. */
static int build_cq(void *ctx, const rk_dispatch_request_t *req)
{
    rk_store_t *st = ctx;
    int t = rk_sysflag_txn(req->sysflag);
    if (t != RK_SYSFLAG_TXN_NOT && t != RK_SYSFLAG_TXN_COMMIT)
        return RK_OK;
    queue_t *q;
    int rc = get_queue(st, req->topic, req->queue_id, &q);
    if (rc != RK_OK)
        return rc;
    rk_cq_unit_t u = {req->phys, req->size, req->tag_code};
    rc = rk_cq_put(q->cq, req->queue_offset, &u);
    if (rc < 0)
        return rc;
    if (rc == 1 && req->store_ts > atomic_load(&st->logics_ts))
        atomic_store(&st->logics_ts, req->store_ts);
    return RK_OK;
}

/* CommitLogDispatcherBuildIndex: everything but ROLLBACK. */
static int build_index(void *ctx, const rk_dispatch_request_t *req)
{
    rk_store_t *st = ctx;
    if (rk_sysflag_txn(req->sysflag) == RK_SYSFLAG_TXN_ROLLBACK)
        return RK_OK;
    if (req->keys == NULL && req->uniq_key == NULL)
        return RK_OK;
    return rk_index_build(st->index, req->topic, req->keys, req->uniq_key, req->phys, req->store_ts);
}

/* ---- the dispatch source: ch04's commitlog ----------------------------- */

static int64_t src_end(void *ctx) { return rk_commitlog_max_offset(((rk_store_t *)ctx)->cl); }

static const char *prop_or_null(const rk_record_t *r, const char *key, char *buf, size_t len)
{
    if (r->props_len == 0)
        return NULL;
    int rc = rk_props_get_str(r->props, r->props_len, key, buf, len);
    if (rc == RK_ETOOBIG)
        rk_log_warn("dispatch", "property %s of the record at %lld is too long; not indexed", key,
                    (long long)r->phys_offset);
    return rc == RK_OK ? buf : NULL;
}

static int src_read(void *ctx, int64_t offset, rk_dispatch_request_t *req, int64_t *next, void **hold)
{
    rk_store_t *st = ctx;
    rk_record_t *rec = &st->s_rec;     /* lives until the dispatchers returned */
    const uint8_t *p = NULL;
    size_t avail = 0;
    int64_t min = rk_commitlog_min_offset(st->cl);
    if (offset < min) {
        /* The log begins later than the dispatch point (as RocketMQ's reput:
         * a replica whose log starts at its master's last file). */
        *next = min;
        return RK_EEOF;
    }
    int rc = rk_store_cl_read(st->cl, offset, &p, &avail, hold);
    if (rc != RK_OK)
        return rc;
    rc = rk_record_decode(p, avail, false, rec);
    if (rc == RK_OK && rk_record_is_blank(rec)) {
        *next = rk_commitlog_roll_next(st->cl, offset);
        return RK_EEOF;
    }
    if (rc == RK_EEOF) {          /* zeros: the rest of this file was never written */
        *next = rk_commitlog_roll_next(st->cl, offset);
        return RK_EEOF;
    }
    if (rc != RK_OK)
        return rc;
    if (rec->phys_offset != offset) {
        rk_log_error("dispatch", "record at %lld says it is at %lld", (long long)offset,
                     (long long)rec->phys_offset);
        return RK_ECORRUPT;
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
    req->tags = prop_or_null(rec, RK_PROP_TAGS, st->s_tags, sizeof st->s_tags);
    req->keys = prop_or_null(rec, RK_PROP_KEYS, st->s_keys, sizeof st->s_keys);
    req->uniq_key = prop_or_null(rec, RK_PROP_UNIQ_KEY, st->s_uniq, sizeof st->s_uniq);
    req->tag_code = st->tag_hook ? st->tag_hook(st->tag_hook_ctx, rec, req->tags)
                                 : rk_tag_code(req->tags);
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
    if ((rc = rk_consumer_offsets_open(opath, &st->offsets)) != RK_OK) {
        snprintf(err, errlen, "%s: %s", opath, rk_strerror(rc));
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

int rk_store_set_tag_code_hook(rk_store_t *st, int64_t (*fn)(void *, const rk_record_t *, const char *),
                               void *ctx)
{
    if (st->started)
        return RK_EBUSY;
    st->tag_hook = fn;
    st->tag_hook_ctx = ctx;
    return RK_OK;
}

const rk_cq_store_config_t *rk_store_config(const rk_store_t *st) { return &st->cfg; }

static void service_main(void *arg);

int rk_store_start(rk_store_t *st)
{
    if (st->started)
        return RK_EBUSY;
    int64_t cl_min = rk_commitlog_min_offset(st->cl);
    /* Catch-up pass, before any other dispatcher sees anything: walk the log
     * below reputFrom and give the builders what they miss. The consume-queue
     * builder ignores units a queue holds, the index ignores offsets below its
     * end, so this writes exactly the missing units: a queue folder deleted
     * by hand, units lost in a crash, index files dropped after one. */
    if (cl_min < st->reput_from) {
        uint64_t t0 = rk_mono_ms();
        unsigned mask = st->index ? 3u : 1u;
        int64_t at = cl_min;
        for (;;) {
            int64_t reached = at;
            int r = rk_dispatcher_run_range(st->disp, at, st->reput_from, mask, &reached);
            if (r == RK_OK)
                break;
            if (r != RK_ECORRUPT && r != RK_EEOF) {
                rk_log_error("store", "catch-up dispatch failed at %lld: %s", (long long)reached,
                             rk_strerror(r));
                return r;
            }
            /* old files are not CRC-checked by ch04's recovery: a damaged
             * record there costs the rest of its file, not the start */
            at = rk_commitlog_roll_next(st->cl, reached);
            rk_log_warn("store", "catch-up: unreadable record at commitlog offset %lld (%s); "
                        "skipping to %lld", (long long)reached, rk_strerror(r), (long long)at);
            if (at >= st->reput_from)
                break;
        }
        rk_log_info("store", "catch-up pass over commitlog [%lld, %lld) in %llu ms",
                    (long long)cl_min, (long long)st->reput_from,
                    (unsigned long long)(rk_mono_ms() - t0));
    }
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
    pthread_rwlock_destroy(&st->qlock);
    uv_cond_destroy(&st->svc_cond);
    uv_mutex_destroy(&st->svc_mu);
    free(st);
}

/* ---- put --------------------------------------------------------------- */

int rk_store_put(rk_store_t *st, const rk_msg_t *m, rk_put_result_t *res)
{
    /* the commitlog assigns the queue offset and wakes the reput thread */
    return rk_commitlog_put(st->cl, m, res);
}

rk_commitlog_t *rk_store_commitlog(rk_store_t *st) { return st->cl; }

/* ---- get --------------------------------------------------------------- */

typedef struct holds {
    void **h;
    int n, cap;
} holds_t;

static int holds_add(holds_t *hs, void *h)
{
    if (hs->n == hs->cap) {
        int nc = hs->cap ? hs->cap * 2 : 16;
        void **nh = realloc(hs->h, (size_t)nc * sizeof *nh);
        if (nh == NULL)
            return RK_ENOMEM;
        hs->h = nh;
        hs->cap = nc;
    }
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

int64_t rk_store_message_store_time(rk_store_t *st, const char *topic, int qid, int64_t offset)
{
    queue_t *q = find_queue(st, topic, qid);
    rk_cq_unit_t u;
    if (q == NULL || rk_cq_get_unit(q->cq, offset, &u) != RK_OK || rk_cq_unit_is_blank(&u))
        return -1;
    return store_ts_of(u.phys, u.size, st);
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
    /* sort by topic, then numerically by qid */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0; j--) {
            int c = strcmp(qs[j - 1]->topic, qs[j]->topic);
            if (c < 0 || (c == 0 && qs[j - 1]->qid <= qs[j]->qid))
                break;
            queue_t *t = qs[j - 1];
            qs[j - 1] = qs[j];
            qs[j] = t;
        }
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
    if (rc != RK_OK || rk_record_is_blank(&r) || r.phys_offset != phys) {
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

/* Does the record carry key in KEYS (space-separated) or as UNIQ_KEY? */
static bool record_has_key(const rk_record_t *r, const char *topic, const char *key)
{
    size_t tl = strlen(topic), kl = strlen(key);
    if (r->topic_len != tl || memcmp(r->topic, topic, tl) != 0)
        return false;
    size_t vl;
    const char *v = rk_props_get(r->props, r->props_len, RK_PROP_UNIQ_KEY, &vl);
    if (v && vl == kl && memcmp(v, key, kl) == 0)
        return true;
    v = rk_props_get(r->props, r->props_len, RK_PROP_KEYS, &vl);
    for (size_t i = 0; v && i < vl;) {
        while (i < vl && v[i] == ' ')
            i++;
        size_t j = i;
        while (j < vl && v[j] != ' ')
            j++;
        if (j - i == kl && memcmp(v + i, key, kl) == 0)
            return true;
        i = j;
    }
    return false;
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
            record_has_key(&r, topic, key) && r.store_ts >= begin_ts && r.store_ts <= end_ts)
            phys_out[got++] = cand[i];
        rk_store_view_release(&v);
    }
    free(cand);
    return n < 0 ? n : got;
}

/* ---- maintenance: flush, offsets, cleanup ------------------------------ */

static int flush_queue(const char *key, void *value, void *arg)
{
    (void)key;
    int least = *(int *)arg;
    rk_cq_flush(((queue_t *)value)->cq, least);
    return 0;
}

static void flush_queues(rk_store_t *st, int least)
{
    pthread_rwlock_rdlock(&st->qlock);
    rk_strmap_foreach(&st->queues, flush_queue, &least);
    pthread_rwlock_unlock(&st->qlock);
}

int rk_store_flush(rk_store_t *st)
{
    /* read the times first: what we flush next covers at least that much */
    int64_t logics = atomic_load(&st->logics_ts);
    flush_queues(st, 0);
    int64_t index_ts = 0;
    int rc = RK_OK;
    if (st->index)
        rc = rk_index_flush(st->index, &index_ts);
    rk_store_cl_checkpoint_update(st->cl, logics, st->index ? index_ts : -1);
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

static int disk_used_percent(const char *path)
{
    struct statvfs sv;
    if (statvfs(path, &sv) != 0 || sv.f_blocks == 0)
        return -1;
    return (int)(100 - (sv.f_bavail * 100) / sv.f_blocks);
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
    uint64_t now = rk_mono_ms();
    uint64_t next_flush = now + (uint64_t)st->cfg.flush_interval_cq;
    uint64_t next_thorough = now + (uint64_t)st->cfg.flush_cq_thorough_interval;
    uint64_t next_offsets = now + (uint64_t)st->cfg.flush_consumer_offset_interval;
    uint64_t next_clean = now + (uint64_t)st->cfg.clean_resource_interval;
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
        if (now >= next_clean) {
            rk_store_clean_expired(st, false);
            next_clean = now + (uint64_t)st->cfg.clean_resource_interval;
        }
    }
}
