/* txn_broker.c — chapter 11's broker module: half messages (put hook), END_TRANSACTION,
 * the check-back service and the pending-halves query (see rk/txn.h).
 *
 * Banner map: config · helpers · op set · half put hook · ended transactions · END_TRANSACTION ·
 * check service · pending query · module. */
#include "rk/txn.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "rk/client_message.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/grow.h"
#include "rk/json.h"
#include "rk/log.h"
#include "rk/message.h"
#include "rk/names.h"
#include "rk/request_code.h"
#include "rk/schedule.h"
#include "rk/store_config.h"
#include "rk/thread.h"

#define LOG "txn"
#define UNITS_CHUNK 256
#define QUERY_LIMIT_DEFAULT 10000
#define QUERY_LIMIT_MAX 200000
#define QUERY_GROUPS_MAX 256        /* producer groups one answer lists at most */
#define RECENT_MAX 1024
#define IMMUNITY_MAX_S 3600         /* CHECK_IMMUNITY_TIME_IN_SECONDS is capped at this */             /* op offsets found mid-pass, searched linearly, then merged */

/* ------------------------------------------------------------ config */

typedef struct txn_config {
    int64_t check_interval_ms;      /* transactionCheckInterval */
    int64_t timeout_ms;             /* transactionTimeOut */
    int64_t check_max;              /* transactionCheckMax */
    bool reject;                    /* rejectTransactionMessage */
    int64_t check_batch;            /* transactionCheckBatch (rocklet) */
    int64_t op_batch;               /* transactionOpBatch (rocklet) */
    int64_t ended_cache;            /* transactionEndedCacheSize (rocklet) */
} txn_config_t;

#define F(f) offsetof(txn_config_t, f)
const rk_config_field_t rk_txn_config_fields[] = {
    {"transactionCheckInterval", RK_CFG_INT, F(check_interval_ms), "60000", 100, 86400000, NULL,
     "ms between two passes of the transaction check service"},
    {"transactionTimeOut", RK_CFG_INT, F(timeout_ms), "6000", 0, 86400000, NULL,
     "ms a half message must age (since it was born) before its producer is asked about it"},
    {"transactionCheckMax", RK_CFG_INT, F(check_max), "15", 1, 100000, NULL,
     "checks of one half message before it is given up (moved to TRANS_CHECK_MAX_TIME_TOPIC)"},
    {"rejectTransactionMessage", RK_CFG_BOOL, F(reject), "false", 0, 0, NULL,
     "refuse transactional (half) messages with NO_PERMISSION"},
    {"transactionCheckBatch", RK_CFG_INT, F(check_batch), "20000", 1, 10000000, NULL,
     "half messages one check pass examines at most (rocklet)"},
    {"transactionOpBatch", RK_CFG_INT, F(op_batch), "200000", 16, 100000000, NULL,
     "op (commit/rollback) records one check pass holds in memory at most (rocklet)"},
    {"transactionEndedCacheSize", RK_CFG_INT, F(ended_cache), "65536", 1, 16777216, NULL,
     "ended transactions remembered so a repeated END_TRANSACTION puts nothing (rocklet; 25 bytes each)"},
    {0},
};
#undef F

/* Transactions ended lately, by the queue offset of their first half (a chain of check copies
 * shares it): a second END_TRANSACTION for one of them (a late answer to an older check, a
 * client's retry) must not put the message twice. FIFO-evicted after `cap` entries
 * (transactionEndedCacheSize). Kept in memory, and rebuilt from the op records, each of which
 * says how its transaction ended (RK_TXN_PROP_ENDED_AS): at start from the op queue's last `cap`
 * records, then from every op record dispatched (a slave's replicated ones too, so a slave that
 * becomes master knows them). RocketMQ keeps no such set at all. Linear probing, backward-shift
 * deletion. */
typedef struct ended_set {
    size_t cap, slots;              /* entries kept; table slots (2 * cap) */
    int64_t *key;                   /* [slots], -1: empty */
    int8_t *kind;                   /* [slots], RK_SYSFLAG_TXN_COMMIT / _ROLLBACK */
    int64_t *fifo;                  /* [cap], oldest at head */
    size_t head, n;
} ended_set_t;

typedef struct txn_state {
    rk_broker_t *b;
    txn_config_t cfg;
    rk_processor_fn prev_send, prev_send_v2, prev_batch;
    void *prev_send_ctx, *prev_send_v2_ctx, *prev_batch_ctx;
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cond;
    bool running, stop;
    _Atomic int64_t half_puts, commits, rollbacks, checks_sent, check_no_producer, give_ups, passes, pending;
    _Atomic bool topics_ok;         /* the half and op topics exist in topics.json */
    uint64_t rr;                    /* round robin over a group's producers (loop thread) */
    uv_mutex_t ended_mu;
    ended_set_t *ended;
    _Atomic bool ended_seeded;      /* set under ended_mu: the op queue's tail was read */
} txn_state_t;

/* ------------------------------------------------------------ helpers */

static bool topic_is(const char *t, size_t len, const char *name)
{
    return len == strlen(name) && memcmp(t, name, len) == 0;
}

static bool prop_true(const char *props, size_t len, const char *key)
{
    size_t vl;
    const char *v = rk_props_get(props, len, key, &vl);
    return v != NULL && vl == 4 && strncasecmp(v, "true", 4) == 0;
}

/* A non-negative integer property; def when absent or malformed. */
static int64_t prop_i64(const char *props, size_t len, const char *key, int64_t def)
{
    char v[24];
    int64_t x;
    if (rk_props_get_str(props, len, key, v, sizeof v) == RK_OK && rk_parse_int(v, &x) == RK_OK && x >= 0)
        return x;
    return def;
}

/* The topic with one read+write queue, created if missing (and the name servers told). */
static int ensure_topic(rk_broker_t *b, const char *name)
{
    rk_topic_config_t tc;
    if (rk_topic_get(rk_broker_topics(b), name, &tc) == RK_OK)
        return RK_OK;
    memset(&tc, 0, sizeof tc);
    tc.read_queues = tc.write_queues = 1;
    tc.perm = RK_PERM_READ | RK_PERM_WRITE;
    snprintf(tc.name, sizeof tc.name, "%s", name);
    int rc = rk_topic_put(rk_broker_topics(b), &tc);
    if (rc == RK_OK) {
        rk_log_info(LOG, "created system topic %s", name);
        rk_broker_topics_changed(b);
    }
    return rc;
}

/* A put the module makes itself: the put hooks that judge what clients send let it pass. */
static int internal_put(rk_store_t *st, const rk_msg_t *m, rk_put_result_t *res)
{
    rk_schedule_internal_put(true);
    int rc = rk_store_put(st, m, res);
    rk_schedule_internal_put(false);
    return rc;
}

static int internal_put_async(rk_store_t *st, const rk_msg_t *m, rk_put_cb cb, void *arg)
{
    rk_schedule_internal_put(true);
    int rc = rk_commitlog_put_async(rk_store_commitlog(st), m, cb, arg);
    rk_schedule_internal_put(false);
    return rc;
}

/* One stored record read by queue offset (the view holds it mapped). */
static int read_at(rk_store_t *st, const char *topic, int64_t qoff, rk_store_view_t *v, rk_record_t *rec)
{
    rk_cq_unit_t u;
    if (rk_store_read_units(st, topic, 0, qoff, &u, 1) != 1)
        return RK_ENOTFOUND;
    if (rk_store_view(st, u.phys, v) != RK_OK)
        return RK_ENOTFOUND;
    if (rk_record_decode(v->data, (size_t)v->size, false, rec) != RK_OK || rk_record_is_blank(rec)) {
        rk_store_view_release(v);
        return RK_ECORRUPT;
    }
    return RK_OK;
}

/* Is phys where the record with half queue offset qoff starts? Once dispatched, the half queue's
 * unit says so; before that the undispatched tail of the log is walked by record sizes. A record
 * forged inside another message's body (a PHYSICALOFFSET that fits, a PGROUP, a REAL_TOPIC) is
 * not a half message. */
static bool is_half_start(rk_store_t *st, int64_t qoff, int64_t phys)
{
    rk_cq_unit_t u;
    if (rk_store_read_units(st, RK_TXN_HALF_TOPIC, 0, qoff, &u, 1) == 1)
        return u.phys == phys;
    int64_t at = rk_store_dispatched(st);
    rk_commitlog_t *cl = rk_store_commitlog(st);
    for (int i = 0; i < 100000 && at < phys; i++) {
        rk_store_view_t v;
        rk_record_t r;
        if (rk_store_view(st, at, &v) != RK_OK)
            break;
        bool ok = rk_record_decode(v.data, (size_t)v.size, false, &r) == RK_OK;
        rk_store_view_release(&v);
        if (!ok)
            break;
        at = rk_record_is_blank(&r) ? rk_commitlog_roll_next(cl, at) : at + (int64_t)r.total_size;
    }
    if (at == phys)
        return true;
    /* dispatched meanwhile? */
    return rk_store_read_units(st, RK_TXN_HALF_TOPIC, 0, qoff, &u, 1) == 1 && u.phys == phys;
}

/* ------------------------------------------------------------ op set
 *
 * The half queue offsets that have an op record (commit or rollback done): a sorted array
 * searched by bisection, plus a short unsorted tail for records found during the pass. Each op
 * record also names the chain's first half (TRAN_PREPARED_QUEUE_OFFSET), so a half re-appended
 * for a check counts as done once any copy of it was ended. */

typedef struct op_set {
    int64_t *v;
    size_t n, cap, sorted;          /* v[0, sorted) sorted; v[sorted, n) the recent tail */
    int64_t next;                   /* next op queue offset to read */
    int64_t start;                  /* the op progress this pass started from */
    bool truncated;                 /* stopped at op_batch: some op records were not read */
    /* op progress: per op record read (in op queue order) the largest half offset it names */
    int64_t *maxref;
    size_t nref, refcap;
} op_set_t;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static bool op_has(const op_set_t *s, int64_t off)
{
    if (off < 0)
        return false;
    size_t lo = 0, hi = s->sorted;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid] == off)
            return true;
        if (s->v[mid] < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = s->sorted; i < s->n; i++)
        if (s->v[i] == off)
            return true;
    return false;
}

static int op_add(op_set_t *s, int64_t off)
{
    if (RK_GROW(s->v, s->cap, s->n + 1, 1024) != RK_OK)
        return RK_ENOMEM;
    s->v[s->n++] = off;
    return RK_OK;
}

static void op_sort(op_set_t *s)
{
    if (s->n > 1)
        qsort(s->v, s->n, sizeof *s->v, cmp_i64);
    s->sorted = s->n;
}

static void op_free(op_set_t *s)
{
    free(s->v);
    free(s->maxref);
    memset(s, 0, sizeof *s);
}

/* Parses an op body: "12" (4.9) or "12,13," (5.x); calls add for each offset. Returns the
 * largest, or -1 if none. */
static int64_t op_body_offsets(const uint8_t *body, size_t len, op_set_t *s)
{
    int64_t max = -1;
    size_t i = 0;
    while (i < len) {
        int64_t x = 0;
        size_t start = i;
        while (i < len && body[i] >= '0' && body[i] <= '9' && i - start < 18)
            x = x * 10 + (body[i++] - '0');
        if (i > start && (i == len || body[i] == ',')) {
            if (op_add(s, x) != RK_OK)
                return max;
            if (x > max)
                max = x;
        }
        while (i < len && body[i] != ',')
            i++;
        i++;
    }
    return max;
}

/* Reads op records from s->next up to the op queue's end (at most op_batch in all). */
static void op_read_more(txn_state_t *ts, op_set_t *s)
{
    rk_store_t *st = rk_broker_store(ts->b);
    int64_t max = rk_store_max_offset(st, RK_TXN_OP_TOPIC, 0);
    rk_cq_unit_t units[UNITS_CHUNK];
    while (s->next < max) {
        if ((int64_t)s->nref >= ts->cfg.op_batch) {
            s->truncated = true;
            return;
        }
        int want = max - s->next < UNITS_CHUNK ? (int)(max - s->next) : UNITS_CHUNK;
        int n = rk_store_read_units(st, RK_TXN_OP_TOPIC, 0, s->next, units, want);
        if (n <= 0)
            return;
        for (int i = 0; i < n; i++) {
            int64_t ref = -1;
            rk_store_view_t v;
            rk_record_t rec;
            if (rk_store_view(st, units[i].phys, &v) == RK_OK) {
                if (rk_record_decode(v.data, (size_t)v.size, false, &rec) == RK_OK && !rk_record_is_blank(&rec)) {
                    ref = op_body_offsets(rec.body, rec.body_len, s);
                    int64_t origin = prop_i64(rec.props, rec.props_len, RK_PROP_TRAN_PREPARED_QUEUE_OFFSET, -1);
                    if (origin >= 0)
                        op_add(s, origin);
                }
                rk_store_view_release(&v);
            }
            if (RK_GROW(s->maxref, s->refcap, s->nref + 1, 1024) != RK_OK) {
                s->truncated = true;
                return;
            }
            s->maxref[s->nref++] = ref;
            s->next++;
        }
        if (s->n - s->sorted > RECENT_MAX)
            op_sort(s);
    }
}

/* The op queue's new progress: past every leading op record whose halves all lie below the
 * half progress (they can never matter again). */
static int64_t op_progress(const op_set_t *s, int64_t half_progress)
{
    size_t i = 0;
    while (i < s->nref && s->maxref[i] < half_progress)
        i++;
    return s->start + (int64_t)i;
}

/* ------------------------------------------------------------ half put hook
 *
 * TRAN_MSG=true: the message becomes a half message (parseHalfMessageInner). What clients send
 * to the transaction system topics is refused; the module's own puts pass. */

static rk_put_status_t half_hook(void *ctx, rk_msg_t *m, rk_put_scratch_t *scratch)
{
    txn_state_t *ts = ctx;
    if (rk_schedule_in_internal_put())
        return RK_PUT_OK;
    if (topic_is(m->topic, m->topic_len, RK_TXN_HALF_TOPIC) || topic_is(m->topic, m->topic_len, RK_TXN_OP_TOPIC) ||
        topic_is(m->topic, m->topic_len, RK_TXN_CHECK_MAX_TOPIC))
        return RK_PUT_MESSAGE_ILLEGAL;
    if (!prop_true(m->props, m->props_len, RK_PROP_TRAN_MSG))
        return RK_PUT_OK;
    if (!atomic_load(&ts->topics_ok)) {
        if (ensure_topic(ts->b, RK_TXN_HALF_TOPIC) != RK_OK || ensure_topic(ts->b, RK_TXN_OP_TOPIC) != RK_OK)
            return RK_PUT_UNKNOWN_ERROR;
        atomic_store(&ts->topics_ok, true);
    }
    rk_put_status_t st = rk_schedule_park(m, scratch, NULL, NULL, RK_TXN_HALF_TOPIC, 0);
    if (st == RK_PUT_OK) {
        m->sys_flag &= ~RK_SYSFLAG_TXN_MASK;       /* NOT: a consume-queue entry in the half topic */
        atomic_fetch_add(&ts->half_puts, 1);
    }
    return st;
}

/* SEND_MESSAGE / _V2 in front of chapter 7's, with rejectTransactionMessage set. */
static void p_send_filter(txn_state_t *ts, rk_processor_fn prev, void *prev_ctx, rk_conn_t *conn, rk_cmd_t *req,
                          rk_reply_t *reply)
{
    const char *props = rk_cmd_ext_get(req, "i");
    if (props == NULL)
        props = rk_cmd_ext_get(req, "properties");
    if (props != NULL && prop_true(props, strlen(props), RK_PROP_TRAN_MSG)) {
        rk_reply_codef(reply, RK_RESP_NO_PERMISSION, "the broker[%s] sending transaction message is forbidden",
                       rk_broker_addr(ts->b));
        return;
    }
    prev(prev_ctx, conn, req, reply);
}

static void p_send_wrap(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    txn_state_t *ts = ctx;
    p_send_filter(ts, ts->prev_send, ts->prev_send_ctx, conn, req, reply);
}

static void p_send_v2_wrap(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    txn_state_t *ts = ctx;
    p_send_filter(ts, ts->prev_send_v2, ts->prev_send_v2_ctx, conn, req, reply);
}

/* SEND_BATCH_MESSAGE in front of chapter 7's: a batch cannot be transactional (RocketMQ's
 * asyncPutMessages refuses a batch whose sysFlag says so). Without this, each message of a
 * batch carrying TRAN_MSG=true would become a half on its own, which no producer ends as a
 * batch and rejectTransactionMessage would not see. The header's sysFlag and properties and
 * every entry's properties are looked at: one pass over the body, refused whole. */
static bool batch_is_transactional(const rk_cmd_t *req)
{
    const char *f = rk_cmd_ext_get(req, "f");
    if (f == NULL)
        f = rk_cmd_ext_get(req, "sysFlag");
    int64_t sys_flag;
    if (f != NULL && rk_parse_int(f, &sys_flag) == RK_OK && rk_sysflag_txn((int32_t)sys_flag) != RK_SYSFLAG_TXN_NOT)
        return true;
    const char *props = rk_cmd_ext_get(req, "i");
    if (props == NULL)
        props = rk_cmd_ext_get(req, "properties");
    if (props != NULL && prop_true(props, strlen(props), RK_PROP_TRAN_MSG))
        return true;
    size_t pos = 0;
    rk_batch_msg_t m;
    while (req->body != NULL && rk_batch_decode(req->body, req->body_len, &pos, &m) == RK_OK)
        if (prop_true(m.props, m.props_len, RK_PROP_TRAN_MSG))
            return true;
    return false;       /* a malformed body is chapter 7's to refuse */
}

static void p_batch_wrap(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    txn_state_t *ts = ctx;
    if (batch_is_transactional(req)) {
        rk_reply_codef(reply, RK_RESP_MESSAGE_ILLEGAL, "a batch cannot be a transaction message (TRAN_MSG)");
        return;
    }
    ts->prev_batch(ts->prev_batch_ctx, conn, req, reply);
}

/* ------------------------------------------------------------ ended transactions */

static void ended_free(ended_set_t *e)
{
    if (e == NULL)
        return;
    free(e->key);
    free(e->kind);
    free(e->fifo);
    free(e);
}

static int ended_new(ended_set_t **out, size_t cap)
{
    ended_set_t *e = calloc(1, sizeof *e);
    if (e != NULL) {
        e->cap = cap;
        e->slots = cap * 2;
        e->key = malloc(e->slots * sizeof *e->key);
        e->kind = calloc(e->slots, sizeof *e->kind);
        e->fifo = malloc(cap * sizeof *e->fifo);
    }
    if (e == NULL || e->key == NULL || e->kind == NULL || e->fifo == NULL) {
        ended_free(e);
        return RK_ENOMEM;
    }
    memset(e->key, 0xff, e->slots * sizeof *e->key);      /* -1: empty */
    *out = e;
    return RK_OK;
}

static size_t ended_slot(const ended_set_t *e, int64_t key)
{
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) % e->slots;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t ended_find(const ended_set_t *e, int64_t key)
{
    size_t i = ended_slot(e, key);
    while (e->key[i] != -1 && e->key[i] != key)
        i = (i + 1) % e->slots;
    return i;
}

static void ended_remove(ended_set_t *e, int64_t key)
{
    size_t i = ended_find(e, key);
    if (e->key[i] == -1)
        return;
    e->key[i] = -1;
    /* backward shift: move up the entries that probed past i */
    for (size_t j = (i + 1) % e->slots; e->key[j] != -1; j = (j + 1) % e->slots) {
        size_t home = ended_slot(e, e->key[j]);
        bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            e->key[i] = e->key[j];
            e->kind[i] = e->kind[j];
            e->key[j] = -1;
            i = j;
        }
    }
}

/* 0 if key was not there (now it is, as kind); else the kind it ended with. ended_mu held. */
static int ended_add_locked(ended_set_t *e, int64_t key, int kind)
{
    size_t i = ended_find(e, key);
    int was = e->key[i] == key ? e->kind[i] : 0;
    if (!was) {
        if (e->n == e->cap) {           /* forget the oldest */
            ended_remove(e, e->fifo[e->head]);
            e->head = (e->head + 1) % e->cap;
            e->n--;
            i = ended_find(e, key);
        }
        e->key[i] = key;
        e->kind[i] = (int8_t)kind;
        e->fifo[(e->head + e->n) % e->cap] = key;
        e->n++;
    }
    return was;
}

static int ended_add(txn_state_t *ts, int64_t key, int kind)
{
    uv_mutex_lock(&ts->ended_mu);
    int was = ended_add_locked(ts->ended, key, kind);
    uv_mutex_unlock(&ts->ended_mu);
    return was;
}

/* An op record into the set (ended_mu held): its transaction's first half is
 * TRAN_PREPARED_QUEUE_OFFSET if present, else the half its body names. An op record without
 * RK_TXN_PROP_ENDED_AS (written before rocklet kept it) or with a body that is not one offset is
 * left out: how it ended is unknown. */
static void ended_note_op(ended_set_t *e, const rk_record_t *rec)
{
    int64_t kind = prop_i64(rec->props, rec->props_len, RK_TXN_PROP_ENDED_AS, -1);
    if (kind != RK_SYSFLAG_TXN_COMMIT && kind != RK_SYSFLAG_TXN_ROLLBACK)
        return;
    char body[24];
    int64_t half;
    if (rec->body_len == 0 || rec->body_len >= sizeof body)
        return;
    memcpy(body, rec->body, rec->body_len);
    body[rec->body_len] = '\0';
    if (rk_parse_int(body, &half) != RK_OK || half < 0)
        return;
    int64_t origin = prop_i64(rec->props, rec->props_len, RK_PROP_TRAN_PREPARED_QUEUE_OFFSET, -1);
    (void)ended_add_locked(e, origin >= 0 ? origin : half, (int)kind);
}

/* Reput thread: each op record dispatched, once the start's seed has run (before that, the seed
 * reads it from the op queue: the consume queue is written before this dispatcher runs). */
static int ended_dispatch(void *ctx, const rk_dispatch_request_t *req)
{
    txn_state_t *ts = ctx;
    if (strcmp(req->topic, RK_TXN_OP_TOPIC) != 0)
        return RK_OK;
    rk_record_t rec;
    const rk_record_t *r = req->rec;
    if (r == NULL) {
        if (rk_record_decode(req->record, (size_t)req->size, false, &rec) != RK_OK)
            return RK_OK;
        r = &rec;
    }
    uv_mutex_lock(&ts->ended_mu);
    if (atomic_load(&ts->ended_seeded))
        ended_note_op(ts->ended, r);
    uv_mutex_unlock(&ts->ended_mu);
    return RK_OK;
}

/* Once, at start (or at the first END_TRANSACTION, which the server may take just before the
 * module starts): the op queue's last transactionEndedCacheSize records, oldest first, under
 * ended_mu (so the dispatcher neither misses nor races a record). Returns how many were read. */
static int64_t ended_seed(txn_state_t *ts)
{
    rk_store_t *st = rk_broker_store(ts->b);
    uv_mutex_lock(&ts->ended_mu);
    if (atomic_load(&ts->ended_seeded)) {
        uv_mutex_unlock(&ts->ended_mu);
        return 0;
    }
    int64_t max = rk_store_max_offset(st, RK_TXN_OP_TOPIC, 0), min = rk_store_min_offset(st, RK_TXN_OP_TOPIC, 0);
    int64_t from = max - (int64_t)ts->ended->cap;
    if (from < min)
        from = min;
    if (from < 0)
        from = 0;
    for (int64_t q = from; q < max; q++) {
        rk_store_view_t v;
        rk_record_t rec;
        if (read_at(st, RK_TXN_OP_TOPIC, q, &v, &rec) == RK_OK) {
            ended_note_op(ts->ended, &rec);
            rk_store_view_release(&v);
        }
    }
    atomic_store(&ts->ended_seeded, true);
    uv_mutex_unlock(&ts->ended_mu);
    return max > from ? max - from : 0;
}

/* The END_TRANSACTION that added key failed: forget it (a retry must go through). The FIFO
 * keeps its entry; evicting a key no longer present is a no-op. */
static void ended_undo(txn_state_t *ts, int64_t key)
{
    uv_mutex_lock(&ts->ended_mu);
    ended_remove(ts->ended, key);
    uv_mutex_unlock(&ts->ended_mu);
}

/* ------------------------------------------------------------ END_TRANSACTION (37)
 *
 * commit:   real message put ──(its completion)──▶ loop: op record put ──▶ answer
 * rollback: op record put ──▶ answer
 * No thread waits: each step starts from the previous one's completion. */

typedef struct end_txn {
    txn_state_t *ts;
    rk_reply_t *reply;
    int64_t half_qoff, origin;
    int64_t key;                    /* in the ended set while this one is under way */
    int kind;                       /* RK_SYSFLAG_TXN_COMMIT / _ROLLBACK */
    int code;                       /* the answer once the op record is written */
    char remark[160];
} end_txn_t;

static void end_answer(end_txn_t *e)
{
    rk_reply_code(e->reply, e->code, e->code == RK_RESP_SUCCESS ? NULL : e->remark);
    free(e);
}

static void op_done(void *arg, const rk_put_result_t *res)
{
    end_txn_t *e = arg;
    if (res->status != RK_PUT_OK && res->status != RK_PUT_FLUSH_DISK_TIMEOUT &&
        res->status != RK_PUT_FLUSH_SLAVE_TIMEOUT && res->status != RK_PUT_SLAVE_NOT_AVAILABLE)
        rk_log_warn(LOG, "op record for half %" PRId64 " not written (%s): the half will be checked again",
                    e->half_qoff, rk_put_status_name(res->status));
    end_answer(e);
}

/* The op record (deletePrepareMessage): OP_HALF queue 0, TAGS d, body = the half's queue offset. */
static void write_op(void *arg)
{
    end_txn_t *e = arg;
    rk_broker_t *b = e->ts->b;
    rk_store_t *st = rk_broker_store(b);
    char body[24], origin[24], kind[8];
    snprintf(body, sizeof body, "%" PRId64, e->half_qoff);
    snprintf(kind, sizeof kind, "%d", e->kind);
    rk_buf_t props = {0};
    rk_props_put(&props, RK_PROP_TAGS, RK_TXN_OP_TAG);
    rk_props_put(&props, RK_PROP_WAIT, "false");
    rk_props_put(&props, RK_TXN_PROP_ENDED_AS, kind);
    if (e->origin >= 0 && e->origin != e->half_qoff) {
        snprintf(origin, sizeof origin, "%" PRId64, e->origin);
        rk_props_put(&props, RK_PROP_TRAN_PREPARED_QUEUE_OFFSET, origin);
    }
    rk_msg_t m = {.topic = RK_TXN_OP_TOPIC, .topic_len = sizeof RK_TXN_OP_TOPIC - 1, .queue_id = 0,
                  .born_ts = rk_now_ms(), .store_host = *rk_commitlog_store_host(rk_store_commitlog(st)),
                  .body = (const uint8_t *)body, .body_len = strlen(body), .props = (const char *)props.data,
                  .props_len = props.len};
    m.born_host = m.store_host;
    int rc = props.err == 0 ? internal_put_async(st, &m, op_done, e) : RK_ENOMEM;
    rk_buf_free(&props);
    if (rc != RK_OK) {
        rk_log_warn(LOG, "op record for half %" PRId64 " not written (%s): the half will be checked again",
                    e->half_qoff, rk_strerror(rc));
        end_answer(e);
    }
}

static void final_done(void *arg, const rk_put_result_t *res)
{
    end_txn_t *e = arg;
    switch (res->status) {
    case RK_PUT_OK:
    case RK_PUT_FLUSH_DISK_TIMEOUT:
    case RK_PUT_FLUSH_SLAVE_TIMEOUT:
    case RK_PUT_SLAVE_NOT_AVAILABLE:
        atomic_fetch_add(&e->ts->commits, 1);
        e->code = RK_RESP_SUCCESS;
        /* the op record goes out from the loop, not from the thread that completed this put */
        if (rk_rserver_post(rk_broker_server(e->ts->b), write_op, e) != RK_OK)
            write_op(e);
        return;
    case RK_PUT_MESSAGE_ILLEGAL:
    case RK_PUT_PROPERTIES_SIZE_EXCEEDED:
        e->code = RK_RESP_MESSAGE_ILLEGAL;
        snprintf(e->remark, sizeof e->remark, "The message is illegal, maybe msg body or properties length not "
                 "matched. msg body length limit 128k, msg properties length limit 32k.");
        break;
    case RK_PUT_SERVICE_NOT_AVAILABLE:
        e->code = RK_RESP_SERVICE_NOT_AVAILABLE;
        snprintf(e->remark, sizeof e->remark, "Service not available now.");
        break;
    case RK_PUT_CREATE_MAPEDFILE_FAILED:
        e->code = RK_RESP_SYSTEM_ERROR;
        snprintf(e->remark, sizeof e->remark, "Create mapped file failed.");
        break;
    default:
        e->code = RK_RESP_SYSTEM_ERROR;
        snprintf(e->remark, sizeof e->remark, "%s", rk_put_status_name(res->status));
        break;
    }
    ended_undo(e->ts, e->key);
    end_answer(e);
}

static bool hdr_num(const rk_cmd_t *req, rk_reply_t *reply, const char *key, int64_t min, int64_t max, int64_t *out)
{
    const char *v = rk_cmd_ext_get(req, key);
    if (v != NULL && rk_cmd_ext_i64(req, key, out) == RK_OK && *out >= min && *out <= max)
        return true;
    rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "request header field %s: \"%.40s\" %s; it must be an integer in [%"
                   PRId64 ", %" PRId64 "]", key, v ? v : "", v ? "is invalid" : "is missing", min, max);
    return false;
}

static void p_end_transaction(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    txn_state_t *ts = ctx;
    rk_broker_t *b = ts->b;
    if (rk_broker_is_slave(b)) {
        rk_log_warn(LOG, "END_TRANSACTION from %s refused: this broker is a slave", rk_conn_peer(conn));
        rk_reply_code(reply, RK_RESP_SLAVE_NOT_AVAILABLE, "Message store is slave mode, so end transaction is "
                      "forbidden.");
        return;
    }
    const char *pgroup = rk_cmd_ext_get(req, "producerGroup");
    const char *msg_id = rk_cmd_ext_get(req, "msgId");
    int64_t tsoff, cloff, kind;
    if (!hdr_num(req, reply, "tranStateTableOffset", 0, INT64_MAX, &tsoff) ||
        !hdr_num(req, reply, "commitLogOffset", 0, INT64_MAX, &cloff) ||
        !hdr_num(req, reply, "commitOrRollback", INT32_MIN, INT32_MAX, &kind))
        return;
    if (pgroup == NULL) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "request header field producerGroup is missing");
        return;
    }
    bool from_check = false;
    rk_cmd_ext_bool(req, "fromTransactionCheck", &from_check);
    const char *what = kind == RK_SYSFLAG_TXN_COMMIT ? "commit" : kind == RK_SYSFLAG_TXN_ROLLBACK ? "rollback"
                                                                                                  : "unknown";
    if (kind != RK_SYSFLAG_TXN_COMMIT && kind != RK_SYSFLAG_TXN_ROLLBACK) {
        /* NOT (still pending) or anything else: logged, no answer (RocketMQ returns null) */
        rk_log_warn(LOG, "%s producer %s (group %.100s) ends transaction %.64s at %" PRId64 " as %s (%" PRId64
                    "): nothing done", from_check ? "checked" : "sending", rk_conn_peer(conn), pgroup,
                    msg_id ? msg_id : "", cloff, what, kind);
        rk_reply_send(reply, NULL);
        return;
    }
    if (from_check || kind == RK_SYSFLAG_TXN_ROLLBACK)
        rk_log_info(LOG, "%s producer %s (group %.100s) ends transaction %.64s at %" PRId64 ": %s",
                    from_check ? "checked" : "sending", rk_conn_peer(conn), pgroup, msg_id ? msg_id : "", cloff, what);
    /* checkPrepareMessage */
    rk_store_t *st = rk_broker_store(b);
    rk_store_view_t v;
    rk_record_t rec;
    bool found = rk_store_view(st, cloff, &v) == RK_OK;
    if (found && (rk_record_decode(v.data, (size_t)v.size, false, &rec) != RK_OK || rk_record_is_blank(&rec) ||
                  !topic_is(rec.topic, rec.topic_len, RK_TXN_HALF_TOPIC))) {
        rk_store_view_release(&v);
        found = false;
    }
    if (found && (rec.phys_offset != cloff || !is_half_start(st, rec.queue_offset, cloff))) {
        rk_store_view_release(&v);
        found = false;
    }
    if (!found) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "Find prepared transaction message failed");
        return;
    }
    size_t pgl;
    const char *pg = rk_props_get(rec.props, rec.props_len, RK_PROP_PGROUP, &pgl);
    const char *bad = NULL;
    if (pg == NULL || pgl != strlen(pgroup) || memcmp(pg, pgroup, pgl) != 0)
        bad = "The producer group wrong";
    else if (rec.queue_offset != tsoff)
        bad = "The transaction state table offset wrong";
    else if (rec.phys_offset != cloff)
        bad = "The commit log offset wrong";
    if (bad != NULL) {
        rk_store_view_release(&v);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, bad);
        return;
    }
    int64_t origin = prop_i64(rec.props, rec.props_len, RK_PROP_TRAN_PREPARED_QUEUE_OFFSET, -1);
    int64_t key = origin >= 0 ? origin : rec.queue_offset;
    if (!atomic_load(&ts->ended_seeded))
        (void)ended_seed(ts);
    int was = ended_add(ts, key, (int)kind);
    if (was != 0) {
        rk_store_view_release(&v);
        rk_log_info(LOG, "transaction %.64s (first half %" PRId64 ") was already %s: this %s does nothing",
                    msg_id ? msg_id : "", key, was == RK_SYSFLAG_TXN_COMMIT ? "committed" : "rolled back", what);
        if (was == kind)
            rk_reply_code(reply, RK_RESP_SUCCESS, NULL);
        else
            rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "the transaction was already %s",
                           was == RK_SYSFLAG_TXN_COMMIT ? "committed" : "rolled back");
        return;
    }
    end_txn_t *e = calloc(1, sizeof *e);
    if (e == NULL) {
        ended_undo(ts, key);
        rk_store_view_release(&v);
        rk_reply_code(reply, RK_RESP_SYSTEM_BUSY, "out of memory");
        return;
    }
    e->ts = ts;
    e->reply = reply;
    e->half_qoff = rec.queue_offset;
    e->origin = origin;
    e->key = key;
    e->kind = (int)kind;
    e->code = RK_RESP_SUCCESS;
    if (kind == RK_SYSFLAG_TXN_ROLLBACK) {
        rk_store_view_release(&v);
        atomic_fetch_add(&ts->rollbacks, 1);
        write_op(e);
        return;
    }
    /* endMessageTransaction: the real message back in its topic and queue */
    char real[RK_TOPIC_MAX_LEN + 1];
    rk_msg_t m;
    if (rk_schedule_unpark(&rec, real, sizeof real, &m) != RK_OK || !rk_topic_name_valid(real)) {
        rk_store_view_release(&v);
        ended_undo(ts, key);
        free(e);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "the half message has no valid REAL_TOPIC / REAL_QID");
        return;
    }
    /* a master that took over after the half was sent may not know the topic yet (the metadata
     * copy runs every few seconds): created as a send would, so the commit can be consumed */
    rk_topic_config_t tc;
    bool created = false;
    int64_t qid = m.queue_id;
    if (rk_topic_get_or_create_in_send(rk_broker_topics(b), real, RK_TOPIC_DEFAULT, (int32_t)(qid + 1 > 4 ? qid + 1 : 4),
                                       &tc, &created) == RK_OK && created)
        rk_broker_topics_changed(b);
    rk_buf_t props = {0};
    static const char *const drop[] = {RK_PROP_REAL_TOPIC, RK_PROP_REAL_QID, RK_PROP_TRAN_MSG, NULL};
    rk_props_copy_without_any(&props, rec.props, rec.props_len, drop);
    m.sys_flag = (rec.sys_flag & ~RK_SYSFLAG_TXN_MASK) | RK_SYSFLAG_TXN_COMMIT;
    m.store_host = *rk_commitlog_store_host(rk_store_commitlog(st));
    m.prepared_tx_offset = rec.phys_offset;
    m.store_ts = rec.store_ts;
    m.props = (const char *)props.data;
    m.props_len = props.len;
    int rc = props.err == 0 ? internal_put_async(st, &m, final_done, e) : RK_ENOMEM;
    rk_buf_free(&props);
    rk_store_view_release(&v);
    if (rc != RK_OK) {
        ended_undo(ts, key);
        free(e);
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "%s", rk_strerror(rc));
    }
}

/* ------------------------------------------------------------ check service */

typedef struct push {
    txn_state_t *ts;
    rk_cmd_t *cmd;
    char group[256];
} push_t;

/* Loop thread: CHECK_TRANSACTION_STATE, oneway, to one live producer of the group. */
static void push_check(void *arg)
{
    push_t *p = arg;
    txn_state_t *ts = p->ts;
    size_t n = 0;
    uint64_t *ids = rk_client_manager_producer_connections(rk_broker_clients(ts->b), p->group, &n);
    rk_conn_t *c = NULL;
    for (size_t i = 0; i < n && c == NULL; i++)
        c = rk_rserver_conn(rk_broker_server(ts->b), ids[(ts->rr + i) % n]);
    ts->rr++;
    free(ids);
    if (c != NULL && rk_conn_send_oneway(c, p->cmd) == RK_OK) {
        atomic_fetch_add(&ts->checks_sent, 1);
    } else {
        if (c == NULL)
            rk_log_warn(LOG, "check of a half message of group %s: no live producer of the group", p->group);
        atomic_fetch_add(&ts->check_no_producer, 1);
        if (c == NULL)
            rk_cmd_free(p->cmd);
    }
    free(p);
}

/* The message as the producer sees it (REAL_TOPIC / REAL_QID restored, the copy's offsets). */
static rk_cmd_t *check_request(const rk_msg_t *copy, const rk_put_result_t *res)
{
    char real[RK_TOPIC_MAX_LEN + 1], qv[24], uniq[128] = "";
    int64_t qid = 0;
    if (rk_props_get_str(copy->props, copy->props_len, RK_PROP_REAL_TOPIC, real, sizeof real) != RK_OK)
        return NULL;
    if (rk_props_get_str(copy->props, copy->props_len, RK_PROP_REAL_QID, qv, sizeof qv) == RK_OK)
        rk_parse_int(qv, &qid);
    rk_props_get_str(copy->props, copy->props_len, RK_PROP_UNIQ_KEY, uniq, sizeof uniq);
    rk_msg_t m = *copy;
    m.topic = real;
    m.topic_len = strlen(real);
    m.queue_id = qid >= 0 && qid <= INT32_MAX ? (int32_t)qid : 0;
    m.store_ts = 0;
    size_t size = rk_record_size(&m);
    uint8_t *body = malloc(size);
    rk_cmd_t *cmd = body ? rk_cmd_new(RK_REQ_CHECK_TRANSACTION_STATE) : NULL;
    if (cmd == NULL || rk_record_encode(&m, body, size, res->queue_offset, res->phys_offset, res->store_ts) <= 0) {
        free(body);
        rk_cmd_free(cmd);
        return NULL;
    }
    rk_cmd_own_body(cmd, body, size);
    rk_cmd_ext_set_i64(cmd, "tranStateTableOffset", res->queue_offset);
    rk_cmd_ext_set_i64(cmd, "commitLogOffset", res->phys_offset);
    if (uniq[0]) {
        rk_cmd_ext_set(cmd, "msgId", uniq);
        rk_cmd_ext_set(cmd, "transactionId", uniq);
    }
    rk_cmd_ext_set(cmd, "offsetMsgId", res->msg_id);
    return cmd;
}

/* A copy of the half: back into the half queue (check times, chain origin) or to the give-up
 * topic. *res gets the put's result. */
static int put_copy(txn_state_t *ts, const rk_record_t *rec, const char *topic, int64_t check_times, int64_t origin,
                    rk_msg_t *m, rk_buf_t *props, rk_put_result_t *res)
{
    rk_store_t *st = rk_broker_store(ts->b);
    static const char *const drop[] = {RK_PROP_TRANSACTION_CHECK_TIMES, RK_PROP_TRAN_PREPARED_QUEUE_OFFSET, NULL};
    char v[24];
    rk_props_copy_without_any(props, rec->props, rec->props_len, drop);
    if (check_times >= 0) {
        snprintf(v, sizeof v, "%" PRId64, check_times);
        rk_props_put(props, RK_PROP_TRANSACTION_CHECK_TIMES, v);
    }
    if (origin >= 0) {
        snprintf(v, sizeof v, "%" PRId64, origin);
        rk_props_put(props, RK_PROP_TRAN_PREPARED_QUEUE_OFFSET, v);
    }
    if (props->err != 0)
        return RK_ENOMEM;
    *m = (rk_msg_t){.topic = topic, .topic_len = strlen(topic), .queue_id = 0, .flag = rec->flag,
                    .sys_flag = rec->sys_flag, .born_ts = rec->born_ts, .born_host = rec->born_host,
                    .store_host = *rk_commitlog_store_host(rk_store_commitlog(st)),
                    .reconsume_times = rec->reconsume_times, .body = rec->body, .body_len = rec->body_len,
                    .props = (const char *)props->data, .props_len = props->len};
    int rc = internal_put(st, m, res);
    if (rc == RK_OK && res->status != RK_PUT_OK && res->status != RK_PUT_FLUSH_DISK_TIMEOUT &&
        res->status != RK_PUT_FLUSH_SLAVE_TIMEOUT && res->status != RK_PUT_SLAVE_NOT_AVAILABLE)
        rc = RK_EBUSY;
    return rc;
}

typedef enum { NEXT, STOP } step_t;

/* One half message at queue offset i (TransactionalMessageServiceImpl.check's loop body). */
static step_t check_one(txn_state_t *ts, op_set_t *ops, int64_t i, int64_t pass_start, int64_t reserved_ms)
{
    rk_store_t *st = rk_broker_store(ts->b);
    if (op_has(ops, i))
        return NEXT;
    rk_store_view_t v;
    rk_record_t rec;
    if (read_at(st, RK_TXN_HALF_TOPIC, i, &v, &rec) != RK_OK) {
        rk_log_warn(LOG, "half message at queue offset %" PRId64 " cannot be read: skipped", i);
        return NEXT;
    }
    step_t out = NEXT;
    int64_t origin = prop_i64(rec.props, rec.props_len, RK_PROP_TRAN_PREPARED_QUEUE_OFFSET, -1);
    int64_t times = prop_i64(rec.props, rec.props_len, RK_PROP_TRANSACTION_CHECK_TIMES, 0);
    int64_t now = rk_now_ms();
    char pg[256] = "";
    rk_props_get_str(rec.props, rec.props_len, RK_PROP_PGROUP, pg, sizeof pg);
    rk_msg_t m;
    rk_buf_t props = {0};
    rk_put_result_t res;
    if (op_has(ops, origin))
        goto done;
    if (times >= ts->cfg.check_max || now - rec.born_ts > reserved_ms) {
        /* needDiscard / needSkip: given up */
        if (ensure_topic(ts->b, RK_TXN_CHECK_MAX_TOPIC) != RK_OK ||
            put_copy(ts, &rec, RK_TXN_CHECK_MAX_TOPIC, -1, origin >= 0 ? origin : i, &m, &props, &res) != RK_OK) {
            rk_log_warn(LOG, "half message at %" PRId64 " could not be moved to %s: trying again next pass", i,
                        RK_TXN_CHECK_MAX_TOPIC);
            out = STOP;
        } else {
            atomic_fetch_add(&ts->give_ups, 1);
            rk_log_warn(LOG, "half message at %" PRId64 " of group %s checked %" PRId64 " times: given up, moved "
                        "to %s", i, pg, times, RK_TXN_CHECK_MAX_TOPIC);
        }
        goto done;
    }
    if (rec.store_ts >= pass_start) {
        out = STOP;                 /* stored after this pass began */
        goto done;
    }
    int64_t age = now - rec.born_ts, immunity = ts->cfg.timeout_ms;
    bool has_immunity = false;
    char iv[24];
    int64_t secs;
    if (rk_props_get_str(rec.props, rec.props_len, RK_PROP_CHECK_IMMUNITY_TIME_IN_SECONDS, iv, sizeof iv) == RK_OK &&
        rk_parse_int(iv, &secs) == RK_OK && secs >= 0) {
        /* every pass renews an immune half with a copy: a client's hour at most (rocklet) */
        immunity = (secs < IMMUNITY_MAX_S ? secs : IMMUNITY_MAX_S) * 1000;
        has_immunity = true;
    }
    if (has_immunity && age >= 0 && age < immunity) {
        /* checkPrepareQueueOffset: still immune; done if its first copy was ended, else renewed */
        if (put_copy(ts, &rec, RK_TXN_HALF_TOPIC, times > 0 ? times : -1, origin >= 0 ? origin : i, &m, &props,
                     &res) != RK_OK)
            out = STOP;
        goto done;
    }
    if (age >= 0 && age < immunity) {
        out = STOP;                 /* too young; so are the ones after it */
        goto done;
    }
    /* an op record may have come since the pass read them */
    op_read_more(ts, ops);
    if (op_has(ops, i) || op_has(ops, origin))
        goto done;
    if (ops->truncated) {
        out = STOP;                 /* op records left unread: not sure this one is still pending */
        goto done;
    }
    if (put_copy(ts, &rec, RK_TXN_HALF_TOPIC, times + 1, origin >= 0 ? origin : i, &m, &props, &res) != RK_OK) {
        rk_log_warn(LOG, "half message at %" PRId64 " could not be re-appended for its check: next pass", i);
        out = STOP;
        goto done;
    }
    push_t *p = calloc(1, sizeof *p);
    if (p != NULL) {
        p->ts = ts;
        p->cmd = check_request(&m, &res);
        snprintf(p->group, sizeof p->group, "%s", pg);
    }
    if (p == NULL || p->cmd == NULL || rk_rserver_post(rk_broker_server(ts->b), push_check, p) != RK_OK) {
        if (p != NULL)
            rk_cmd_free(p->cmd);
        free(p);
        atomic_fetch_add(&ts->check_no_producer, 1);
    }
done:
    rk_buf_free(&props);
    rk_store_view_release(&v);
    return out;
}

/* The check service's progress in topic (queue 0): its committed offset, at least the queue's
 * first. */
static int64_t progress(rk_store_t *st, const char *topic)
{
    int64_t min = rk_store_min_offset(st, topic, 0), at = rk_store_query_offset(st, RK_TXN_GROUP, topic, 0);
    return at < min ? min : at;
}

/* Pending halves from offset `from`: entries without an op record (units only, bounded). */
static int64_t count_pending(txn_state_t *ts, const op_set_t *ops, int64_t from, int64_t max)
{
    int64_t n = 0;
    int64_t end = from + ts->cfg.check_batch * 4 < max ? from + ts->cfg.check_batch * 4 : max;
    for (int64_t i = from; i < end; i++)
        if (!op_has(ops, i))
            n++;
    return n + (max - end);
}

static void check_pass(txn_state_t *ts)
{
    rk_store_t *st = rk_broker_store(ts->b);
    int64_t pass_start = rk_now_ms();
    int64_t reserved_ms = rk_store_config(st)->file_reserved_time * 3600 * 1000;
    int64_t half_min = rk_store_min_offset(st, RK_TXN_HALF_TOPIC, 0);
    int64_t half_max = rk_store_max_offset(st, RK_TXN_HALF_TOPIC, 0);
    int64_t half = progress(st, RK_TXN_HALF_TOPIC);
    op_set_t ops = {0};
    int64_t op_min = rk_store_min_offset(st, RK_TXN_OP_TOPIC, 0);
    int64_t op_max = rk_store_max_offset(st, RK_TXN_OP_TOPIC, 0);
    ops.start = progress(st, RK_TXN_OP_TOPIC);
    /* progress past a queue's end: the log lost its tail (a power cut under ASYNC_FLUSH) after the
     * offsets were written, and the offsets the lost messages had are being given again. Which
     * halves are new cannot be told, so both queues are read again from their starts: done halves
     * are found done (their op records are read too), the others are checked */
    bool moved = false;
    if (half > half_max || ops.start > op_max) {
        rk_log_warn(LOG, "check progress past the end of the queues (half %" PRId64 " > %" PRId64 " or op %"
                    PRId64 " > %" PRId64 "): their tail was lost; reading both again from their starts", half,
                    half_max, ops.start, op_max);
        half = half_min;
        ops.start = op_min;
        moved = true;
    }
    ops.next = ops.start;
    op_read_more(ts, &ops);
    op_sort(&ops);
    int64_t i = half, examined = 0;
    uint64_t deadline = rk_mono_ms() + (uint64_t)(ts->cfg.check_interval_ms > 60000 ? 60000 : ts->cfg.check_interval_ms);
    while (i < half_max && examined < ts->cfg.check_batch && rk_mono_ms() < deadline) {
        uv_mutex_lock(&ts->mu);
        bool stop = ts->stop;
        uv_mutex_unlock(&ts->mu);
        if (stop || rk_broker_is_slave(ts->b) || check_one(ts, &ops, i, pass_start, reserved_ms) == STOP)
            break;
        i++;
        examined++;
    }
    if (i != half || moved)
        rk_store_commit_offset(st, RK_TXN_GROUP, RK_TXN_HALF_TOPIC, 0, i);
    int64_t op_new = op_progress(&ops, i);
    if (op_new != ops.start || moved)
        rk_store_commit_offset(st, RK_TXN_GROUP, RK_TXN_OP_TOPIC, 0, op_new);
    if (i != half || op_new != ops.start || moved)
        rk_store_persist_offsets(st);
    op_read_more(ts, &ops);
    op_sort(&ops);
    atomic_store(&ts->pending, count_pending(ts, &ops, i, rk_store_max_offset(st, RK_TXN_HALF_TOPIC, 0)));
    atomic_fetch_add(&ts->passes, 1);
    op_free(&ops);
}

static void check_thread(void *arg)
{
    txn_state_t *ts = arg;
    (void)rk_thread_init("rk-txn-check", RK_THREAD_NORMAL);
    uv_mutex_lock(&ts->mu);
    while (!ts->stop) {
        uv_cond_timedwait(&ts->cond, &ts->mu, (uint64_t)ts->cfg.check_interval_ms * 1000000u);
        if (ts->stop)
            break;
        uv_mutex_unlock(&ts->mu);
        if (!rk_broker_is_slave(ts->b))     /* asked every pass: a role switch takes effect either way */
            check_pass(ts);
        uv_mutex_lock(&ts->mu);
    }
    uv_mutex_unlock(&ts->mu);
}

/* ------------------------------------------------------------ pending query (10501) */

typedef struct group_stat {
    char *name;
    int64_t pending, oldest;
    cJSON *times, *topics;
} group_stat_t;

static void bump(cJSON *obj, const char *key)
{
    cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (it == NULL)
        cJSON_AddNumberToObject(obj, key, 1);
    else
        cJSON_SetNumberValue(it, it->valuedouble + 1);
}

static void p_query_pending(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    txn_state_t *ts = ctx;
    rk_store_t *st = rk_broker_store(ts->b);
    const char *only = rk_cmd_ext_get(req, "producerGroup");
    int64_t limit = QUERY_LIMIT_DEFAULT;
    if (rk_cmd_ext_get(req, "limit") != NULL &&
        (rk_cmd_ext_i64(req, "limit", &limit) != RK_OK || limit < 1 || limit > QUERY_LIMIT_MAX)) {
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "request header field limit must be an integer in [1, %d]",
                       QUERY_LIMIT_MAX);
        return;
    }
    int64_t half_max = rk_store_max_offset(st, RK_TXN_HALF_TOPIC, 0);
    int64_t half = progress(st, RK_TXN_HALF_TOPIC);
    op_set_t ops = {0};
    ops.start = progress(st, RK_TXN_OP_TOPIC);
    ops.next = ops.start;
    op_read_more(ts, &ops);
    op_sort(&ops);
    group_stat_t *gs = NULL;
    size_t ng = 0;
    int64_t scanned = 0, i;
    bool oom = false, groups_cut = false;
    for (i = half; i < half_max && scanned < limit && !oom; i++, scanned++) {
        if (op_has(&ops, i))
            continue;
        rk_store_view_t v;
        rk_record_t rec;
        if (read_at(st, RK_TXN_HALF_TOPIC, i, &v, &rec) != RK_OK)
            continue;
        int64_t origin = prop_i64(rec.props, rec.props_len, RK_PROP_TRAN_PREPARED_QUEUE_OFFSET, -1);
        char pg[256] = "", topic[RK_TOPIC_MAX_LEN + 1] = "", times[24];
        rk_props_get_str(rec.props, rec.props_len, RK_PROP_PGROUP, pg, sizeof pg);
        rk_props_get_str(rec.props, rec.props_len, RK_PROP_REAL_TOPIC, topic, sizeof topic);
        snprintf(times, sizeof times, "%" PRId64, prop_i64(rec.props, rec.props_len, RK_PROP_TRANSACTION_CHECK_TIMES, 0));
        int64_t store_ts = rec.store_ts;
        rk_store_view_release(&v);
        if (op_has(&ops, origin) || (only != NULL && strcmp(only, pg) != 0))
            continue;
        size_t k = 0;
        while (k < ng && strcmp(gs[k].name, pg) != 0)
            k++;
        if (k == ng && ng == QUERY_GROUPS_MAX) {
            groups_cut = true;
            continue;
        }
        if (k == ng) {
            group_stat_t *n2 = realloc(gs, (ng + 1) * sizeof *gs);
            if (n2 == NULL) {
                oom = true;
                break;
            }
            gs = n2;
            gs[ng] = (group_stat_t){.name = strdup(pg), .oldest = store_ts, .times = cJSON_CreateObject(),
                                    .topics = cJSON_CreateObject()};
            ng++;
            if (gs[k].name == NULL || gs[k].times == NULL || gs[k].topics == NULL) {
                oom = true;
                break;
            }
        }
        gs[k].pending++;
        if (store_ts < gs[k].oldest)
            gs[k].oldest = store_ts;
        bump(gs[k].times, times);
        bump(gs[k].topics, topic);
    }
    cJSON *root = cJSON_CreateObject(), *groups = cJSON_AddArrayToObject(root, "groups");
    for (size_t k = 0; k < ng; k++) {
        cJSON *g = cJSON_CreateObject();
        cJSON_AddStringToObject(g, "producerGroup", gs[k].name ? gs[k].name : "");
        rk_json_add_i64(g, "pending", gs[k].pending);
        cJSON_AddItemToObject(g, "checkTimes", gs[k].times);
        rk_json_add_i64(g, "oldestStoreTimestamp", gs[k].oldest);
        cJSON_AddItemToObject(g, "topics", gs[k].topics);
        cJSON_AddItemToArray(groups, g);
        free(gs[k].name);
    }
    free(gs);
    rk_json_add_i64(root, "scanned", scanned);
    cJSON_AddBoolToObject(root, "truncated", i < half_max);
    cJSON_AddBoolToObject(root, "groupsTruncated", groups_cut);
    rk_json_add_i64(root, "halfOffset", half);
    rk_json_add_i64(root, "halfMaxOffset", half_max);
    rk_json_add_i64(root, "opOffset", ops.start);
    rk_json_add_i64(root, "opMaxOffset", rk_store_max_offset(st, RK_TXN_OP_TOPIC, 0));
    op_free(&ops);
    char *text = oom ? NULL : rk_json_print(root, 0);
    cJSON_Delete(root);
    rk_reply_owned(reply, text);
}

/* ------------------------------------------------------------ module */

static void runtime_info(void *ctx, rk_buf_t *out)
{
    txn_state_t *ts = ctx;
    rk_buf_printf(out, ",\"txnPendingHalves\":\"%" PRId64 "\",\"txnHalfPuts\":\"%" PRId64 "\",\"txnCommits\":\"%"
                  PRId64 "\",\"txnRollbacks\":\"%" PRId64 "\",\"txnChecksSent\":\"%" PRId64
                  "\",\"txnCheckNoProducer\":\"%" PRId64 "\",\"txnGiveUps\":\"%" PRId64 "\",\"txnCheckPasses\":\"%"
                  PRId64 "\"", atomic_load(&ts->pending), atomic_load(&ts->half_puts), atomic_load(&ts->commits),
                  atomic_load(&ts->rollbacks), atomic_load(&ts->checks_sent), atomic_load(&ts->check_no_producer),
                  atomic_load(&ts->give_ups), atomic_load(&ts->passes));
}

static int txn_init(rk_broker_t *b, void **state)
{
    txn_state_t *ts = calloc(1, sizeof *ts);
    if (ts == NULL)
        return RK_ENOMEM;
    ts->b = b;
    char err[512] = "";
    int rc = rk_config_defaults(rk_txn_config_fields, &ts->cfg);
    rk_kv_t *kv = rk_broker_kv(b);
    if (rc == RK_OK && kv != NULL)
        rc = rk_config_apply(rk_txn_config_fields, &ts->cfg, kv, err, sizeof err);
    rk_rserver_t *srv = rk_broker_server(b);
    if (rc == RK_OK)
        rc = rk_commitlog_add_put_hook(rk_store_commitlog(rk_broker_store(b)), "txn-half", half_hook, ts);
    if (rc == RK_OK)
        rc = rk_rserver_register(srv, RK_REQ_END_TRANSACTION, p_end_transaction, ts, RK_PROC_INLINE);
    if (rc == RK_OK)
        rc = rk_rserver_register(srv, RK_REQ_QUERY_TXN_PENDING, p_query_pending, ts, RK_PROC_SLOW);
    if (rc == RK_OK)
        rc = rk_rserver_wrap(srv, RK_REQ_SEND_BATCH_MESSAGE, p_batch_wrap, ts, &ts->prev_batch, &ts->prev_batch_ctx);
    if (rc == RK_OK && ts->cfg.reject) {
        rc = rk_rserver_wrap(srv, RK_REQ_SEND_MESSAGE, p_send_wrap, ts, &ts->prev_send, &ts->prev_send_ctx);
        if (rc == RK_OK)
            rc = rk_rserver_wrap(srv, RK_REQ_SEND_MESSAGE_V2, p_send_v2_wrap, ts, &ts->prev_send_v2,
                                 &ts->prev_send_v2_ctx);
    }
    if (rc == RK_OK)
        rc = rk_broker_add_runtime_info(b, runtime_info, ts);
    if (rc == RK_OK)
        rc = ended_new(&ts->ended, (size_t)ts->cfg.ended_cache);
    if (rc == RK_OK)
        rc = rk_store_register_dispatcher(rk_broker_store(b), "txn-ended", ended_dispatch, ts);
    if (rc == RK_OK && uv_mutex_init(&ts->ended_mu) != 0)
        rc = RK_ENOMEM;
    if (rc == RK_OK && uv_mutex_init(&ts->mu) != 0) {
        uv_mutex_destroy(&ts->ended_mu);
        rc = RK_ENOMEM;
    }
    if (rc == RK_OK && uv_cond_init(&ts->cond) != 0) {
        uv_mutex_destroy(&ts->mu);
        uv_mutex_destroy(&ts->ended_mu);
        rc = RK_ENOMEM;
    }
    if (rc != RK_OK) {
        rk_log_error(LOG, "%s", err[0] ? err : rk_strerror(rc));
        ended_free(ts->ended);
        rk_config_free(rk_txn_config_fields, &ts->cfg);
        free(ts);
        return rc;
    }
    *state = ts;
    return RK_OK;
}

static int txn_start(rk_broker_t *b, void *state)
{
    (void)b;
    txn_state_t *ts = state;
    int64_t seeded = ended_seed(ts);
    if (seeded > 0)
        rk_log_info(LOG, "ended transactions: %zu remembered from the last %" PRId64 " op records", ts->ended->n,
                    seeded);
    if (uv_thread_create(&ts->thread, check_thread, ts) != 0)
        return RK_ENOMEM;
    ts->running = true;
    return RK_OK;
}

static void txn_stop(rk_broker_t *b, void *state)
{
    (void)b;
    txn_state_t *ts = state;
    if (!ts->running)
        return;
    uv_mutex_lock(&ts->mu);
    ts->stop = true;
    uv_cond_signal(&ts->cond);
    uv_mutex_unlock(&ts->mu);
    uv_thread_join(&ts->thread);
    ts->running = false;
}

static void txn_destroy(rk_broker_t *b, void *state)
{
    (void)b;
    txn_state_t *ts = state;
    uv_cond_destroy(&ts->cond);
    uv_mutex_destroy(&ts->mu);
    uv_mutex_destroy(&ts->ended_mu);
    ended_free(ts->ended);
    rk_config_free(rk_txn_config_fields, &ts->cfg);
    free(ts);
}

const rk_broker_module_t rk_txn_module = {"txn", txn_init, txn_start, txn_stop, txn_destroy};

int rk_txn_stats(rk_broker_t *b, rk_txn_stats_t *out)
{
    txn_state_t *ts = rk_broker_module_state(b, rk_txn_module.name);
    if (ts == NULL)
        return RK_ENOTFOUND;
    *out = (rk_txn_stats_t){atomic_load(&ts->half_puts), atomic_load(&ts->commits), atomic_load(&ts->rollbacks),
                            atomic_load(&ts->checks_sent), atomic_load(&ts->check_no_producer),
                            atomic_load(&ts->give_ups), atomic_load(&ts->passes), atomic_load(&ts->pending)};
    return RK_OK;
}
