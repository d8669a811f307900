/* commitlog.c — append, ack stages, flush, recovery and reads of the CommitLog (see rk/commitlog.h).
 *
 * Banner map: config · lifecycle (lock, abort, recovery) · put path ·
 * ack stages and flush thread · reads · scanning. */
#include "rk/commitlog.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/hash.h"
#include "rk/fileutil.h"
#include "rk/grow.h"
#include "rk/log.h"
#include "rk/mapped_file_queue.h"
#include "rk/strmap.h"
#include "rk/thread.h"

#define MAX_HOOKS 16
#define MAX_STAGES 8

/* ------------------------------------------------------------ config */

static const char *const flush_types[] = {"ASYNC_FLUSH", "SYNC_FLUSH", NULL};

#define F(field) offsetof(rk_commitlog_config_t, field)
const rk_config_field_t rk_commitlog_config_fields[] = {
    {"storePathRootDir", RK_CFG_STR, F(store_root), "./store", 0, -1, NULL, "store root folder"},
    {"storePathCommitLog", RK_CFG_STR, F(commitlog_dir), NULL, 0, -1, NULL,
     "commitlog folder (default <storePathRootDir>/commitlog)"},
    {"mappedFileSizeCommitLog", RK_CFG_INT, F(file_size), "1073741824", 4096, 1LL << 40, NULL,
     "size of each commitlog file (a multiple of 4096)"},
    {"flushDiskType", RK_CFG_ENUM, F(flush_type), "ASYNC_FLUSH", 0, -1, flush_types,
     "ASYNC_FLUSH: answer after the page cache; SYNC_FLUSH: after the disk"},
    {"flushIntervalCommitLog", RK_CFG_INT, F(flush_interval_ms), "50", 1, 60000, NULL,
     "async flush period (ms); RocketMQ's default is 500, rocklet's 50 keeps each write-back burst small"},
    {"flushCommitLogLeastPages", RK_CFG_INT, F(flush_least_pages), "4", 0, 1 << 20, NULL,
     "async flush only when this many pages are dirty"},
    {"flushCommitLogThoroughInterval", RK_CFG_INT, F(flush_thorough_ms), "10000", 0, 3600000, NULL,
     "flush whatever is dirty at least this often (ms)"},
    {"syncFlushTimeout", RK_CFG_INT, F(sync_flush_timeout_ms), "5000", 0, 600000, NULL,
     "sync flush: FLUSH_DISK_TIMEOUT after this long (ms)"},
    {"maxMessageSize", RK_CFG_INT, F(max_message_size), "4194304", 1, 1 << 30, NULL,
     "largest message body accepted (bytes)"},
    {"checkCRCOnRecover", RK_CFG_BOOL, F(check_crc_on_recover), "true", 0, -1, NULL,
     "verify body CRCs during recovery"},
    {"warmMapedFileEnable", RK_CFG_BOOL, F(warm_mapped_file), "false", 0, -1, NULL,
     "touch every page of a new file before use"},
    {"prefaultAheadBytes", RK_CFG_INT, F(prefault_ahead), "67108864", 0, 1 << 30, NULL,
     "rocklet: a thread faults this much of the file in ahead of the writer, so puts do not (0: off)"},
    {"brokerIP1", RK_CFG_STR, F(broker_ip1), "127.0.0.1", 0, -1, NULL, "store host address"},
    {"listenPort", RK_CFG_INT, F(listen_port), "10911", 0, 65535, NULL, "store host port"},
    {0},
};
#undef F

int rk_commitlog_config_load(rk_commitlog_config_t *cfg, rk_kv_t *kv, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);    /* fields no table entry covers start at zero */
    int rc = rk_config_defaults(rk_commitlog_config_fields, cfg);
    if (rc == RK_OK && kv != NULL)
        rc = rk_config_apply(rk_commitlog_config_fields, cfg, kv, err, errlen);
    if (rc == RK_OK && cfg->file_size % RK_OS_PAGE_SIZE != 0) {
        snprintf(err, errlen, "mappedFileSizeCommitLog: %" PRId64 " is not a multiple of 4096",
                 cfg->file_size);
        rc = RK_EBADCONFIG;
    }
    if (rc != RK_OK)
        rk_config_free(rk_commitlog_config_fields, cfg);   /* a refused config holds nothing */
    return rc;
}

void rk_commitlog_config_free(rk_commitlog_config_t *cfg)
{
    rk_config_free(rk_commitlog_config_fields, cfg);
}

const char *rk_put_status_name(rk_put_status_t s)
{
    static const char *const names[] = {
        "PUT_OK", "FLUSH_DISK_TIMEOUT", "FLUSH_SLAVE_TIMEOUT", "SLAVE_NOT_AVAILABLE",
        "SERVICE_NOT_AVAILABLE", "CREATE_MAPEDFILE_FAILED", "MESSAGE_ILLEGAL",
        "PROPERTIES_SIZE_EXCEEDED", "OS_PAGECACHE_BUSY", "UNKNOWN_ERROR",
        "WHEEL_TIMER_FLOW_CONTROL", "WHEEL_TIMER_MSG_ILLEGAL",
    };
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "UNKNOWN_ERROR";
}

/* ------------------------------------------------------------ state */

typedef struct {
    char name[32];
    rk_put_hook_fn fn;
    void *ctx;
} hook_t;

typedef struct {
    char name[32];
    rk_ack_stage_fn fn;
    void *ctx;
} stage_t;

struct rk_ack {
    rk_commitlog_t *cl;
    int next_stage;             /* index into cl->stages of the stage to run next */
    int64_t end;
    bool wait;
    uint64_t deadline_ns;
    rk_put_result_t res;
    rk_put_cb cb;
    void *arg;
    rk_ack_t *next;             /* group-commit list */
};

struct rk_commitlog {
    char root[PATH_MAX];
    char abort_path[PATH_MAX + 8];
    rk_mfq_t mfq;
    rk_checkpoint_t *cp;
    int lock_fd;
    int flush_type;
    int64_t file_size, max_message_size, flush_interval_ms, flush_least_pages, flush_thorough_ms,
        sync_timeout_ms;
    rk_host_t store_host;

    uv_mutex_t put_mu;          /* the put lock */
    rk_mapped_file_t *cur;      /* the file being written (held); under put_mu */
    bool fd_writes;             /* records go in with pwrite (SYNC_FLUSH): see append() */
    uint8_t *wbuf;              /* records encoded, not yet written; under put_mu */
    size_t wcap, pend_len;      /* wbuf holds pend_len bytes for cur at pend_pos: */
    int64_t pend_pos;           /* [pend_pos, wrote) of cur; committed == pend_pos */
    int64_t pend_ts;            /* their store time: last_store_ts once written */
    rk_strmap_t qtable;         /* "topic-qid" -> int64_t* next queue offset; under put_mu */
    char last_key[RK_TOPIC_MAX_LEN + 16];   /* the slot the previous put used: */
    int64_t *last_slot;                     /* consecutive puts mostly share it */
    hook_t hooks[MAX_HOOKS];
    int nhooks;
    char *remarks[RK_PUT_WHEEL_TIMER_MSG_ILLEGAL + 1];   /* rk_commitlog_set_status_remark */
    stage_t stages[MAX_STAGES];
    int nstages;
    _Atomic int64_t last_store_ts;

    uv_thread_t flush_thread;
    uv_thread_t prefault_thread;
    bool prefault_running;
    int64_t prefault_ahead;
    uv_mutex_t flush_mu;
    uv_cond_t flush_cond;
    uv_cond_t prefault_cond;    /* under flush_mu: wakes the prefault thread to stop */
    bool stopping;              /* under flush_mu */
    rk_ack_t *gc_head, *gc_tail;
    _Atomic uint64_t flush_count;

    /* batched wake-ups (rk_commitlog_batch_end) */
    _Atomic bool batching;      /* batch_tid is set */
    uv_thread_t batch_tid;      /* the thread whose puts leave their wake-ups to batch_end */
    bool owe_flush, owe_app, owe_write;    /* wake-ups (and a pwrite) owed; batch_tid only */

    uv_mutex_t app_mu;          /* append notification for readers */
    uv_cond_t app_cond;
    _Atomic int app_waiters;
    _Atomic uint64_t wake_gen;  /* bumped by rk_commitlog_wake_waiters() */

    bool abnormal;
    int64_t recovered_from, recovered_end;

    uv_mutex_t dmg_mu;          /* damaged ranges (rk_commitlog_damage_stats) */
    rk_log_range_t *dmg;        /* sorted, disjoint; under dmg_mu */
    int ndmg, capdmg;
    _Atomic int64_t dmg_ranges, dmg_bytes;
    bool reserve_failing;       /* the last reserve before a write failed (under put_mu): logged once */
    _Atomic int64_t dmg_end;    /* the highest `to` in dmg (0: none): offsets at or past it skip the lock */
    int64_t *sus;               /* offsets readers reported (rk_commitlog_report_damage), sorted */
    int nsus, capsus;
    int64_t sus_ranges, sus_bytes;  /* under dmg_mu */
};

struct rk_put_scratch {
    void *blocks[16];
    int n;
    void **more;            /* past 16 blocks (a batch whose every message a hook rewrites) */
    int nmore, cap;
};

void *rk_put_scratch(rk_put_scratch_t *s, size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        return NULL;
    if (s->n < (int)(sizeof s->blocks / sizeof s->blocks[0])) {
        s->blocks[s->n++] = p;
        return p;
    }
    if (RK_GROW(s->more, s->cap, s->nmore + 1, 64) != RK_OK) {
        free(p);
        return NULL;
    }
    s->more[s->nmore++] = p;
    return p;
}

static void scratch_free(rk_put_scratch_t *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->blocks[i]);
    for (int i = 0; i < s->nmore; i++)
        free(s->more[i]);
    free(s->more);
    s->n = s->nmore = s->cap = 0;
    s->more = NULL;
}

/* ------------------------------------------------------------ queue offset table */

/* "topic-qid", as RocketMQ keys its topicQueueTable; buf >= topic + 13 bytes.
 * Hand-formatted: this runs under the put lock for every message. */
static void qkey(char *buf, size_t len, const char *topic, size_t tlen, int qid)
{
    if (tlen + 13 > len)
        tlen = len - 13;
    memcpy(buf, topic, tlen);
    char *p = buf + tlen;
    *p++ = '-';
    unsigned u = qid < 0 ? (unsigned)-(int64_t)qid : (unsigned)qid;
    if (qid < 0)
        *p++ = '-';
    char digits[12];
    int n = 0;
    do
        digits[n++] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    while (n > 0)
        *p++ = digits[--n];
    *p = '\0';
}

static int64_t *qslot(rk_commitlog_t *cl, const char *key)
{
    if (cl->last_slot != NULL && strcmp(cl->last_key, key) == 0)
        return cl->last_slot;
    int64_t *v = rk_strmap_get(&cl->qtable, key);
    if (v == NULL) {
        v = calloc(1, sizeof *v);
        if (v == NULL || rk_strmap_put(&cl->qtable, key, v, NULL) != RK_OK) {
            free(v);
            return NULL;
        }
    }
    size_t kl = strnlen(key, sizeof cl->last_key - 1);     /* qkey made it: it fits */
    memcpy(cl->last_key, key, kl);
    cl->last_key[kl] = '\0';
    cl->last_slot = v;
    return v;
}

int64_t rk_commitlog_queue_offset_get(rk_commitlog_t *cl, const char *topic, int queue_id)
{
    char key[RK_TOPIC_MAX_LEN + 16];
    qkey(key, sizeof key, topic, strlen(topic), queue_id);
    uv_mutex_lock(&cl->put_mu);
    int64_t *v = rk_strmap_get(&cl->qtable, key);
    int64_t r = v ? *v : 0;
    uv_mutex_unlock(&cl->put_mu);
    return r;
}

int rk_commitlog_queue_offset_set(rk_commitlog_t *cl, const char *topic, int queue_id, int64_t next)
{
    char key[RK_TOPIC_MAX_LEN + 16];
    qkey(key, sizeof key, topic, strlen(topic), queue_id);
    uv_mutex_lock(&cl->put_mu);
    int64_t *v = qslot(cl, key);
    if (v != NULL)
        *v = next;
    uv_mutex_unlock(&cl->put_mu);
    return v ? RK_OK : RK_ENOMEM;
}

void rk_commitlog_queue_offset_clear(rk_commitlog_t *cl)
{
    uv_mutex_lock(&cl->put_mu);
    rk_strmap_free(&cl->qtable, free);
    rk_strmap_init(&cl->qtable);
    cl->last_slot = NULL;
    uv_mutex_unlock(&cl->put_mu);
}

/* ------------------------------------------------------------ scanning */

/* One file of a log as the scanner sees it: mapped bytes [0, limit) of a
 * file of `size` bytes whose byte 0 is log offset `from`. Files are
 * contiguous: seg i starts at segs[0].from + i * file_size. */
typedef struct seg {
    int64_t from;
    const uint8_t *base;
    size_t limit;               /* readable: committed, or the file's length on disk */
    size_t size;                /* the file size: a BLANK ends exactly there */
} seg_t;

typedef struct segs {
    seg_t *v;
    int n;
} segs_t;

static const seg_t *seg_at(const segs_t *S, int64_t off)
{
    if (S->n == 0 || off < S->v[0].from)
        return NULL;
    int64_t i = (off - S->v[0].from) / (int64_t)S->v[0].size;
    return i < S->n ? &S->v[i] : NULL;
}

static int64_t count_nonzero(const uint8_t *p, size_t n)
{
    int64_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += p[i] != 0;
    return c;
}

/* Whether p[0..n) is all zeros (memcmp against a zero page: vectorized). */
static bool all_zero(const uint8_t *p, size_t n)
{
    static const uint8_t zeros[4096];
    for (size_t i = 0; i < n; i += sizeof zeros) {
        size_t k = n - i < sizeof zeros ? n - i : sizeof zeros;
        if (memcmp(p + i, zeros, k) != 0)
            return false;
    }
    return true;
}

enum { AT_BAD = 0, AT_RECORD, AT_BLANK };

/* What starts at byte pos of s: a record that verifies, a BLANK that closes
 * the file exactly, or neither. A record must decode (magic, TOTALSIZE that
 * agrees with its fields and fits the readable bytes), carry its own offset,
 * plausible numbers and, with check_crc, its body's CRC. *crc_ok tells the
 * CRC result either way. */
static int record_at(const seg_t *s, size_t pos, bool check_crc, rk_record_t *rec, bool *crc_ok,
                     const char **why)
{
    *crc_ok = false;
    int rc = rk_record_decode(s->base + pos, s->limit - pos, false, rec);
    if (rc == RK_OK && rk_record_is_blank(rec)) {
        if ((size_t)rec->total_size == s->size - pos)
            return AT_BLANK;
        *why = "BLANK record whose size does not reach the end of its file";
        return AT_BAD;
    }
    if (rc == RK_EEOF) {
        *why = "zero record header";
        return AT_BAD;
    }
    if (rc != RK_OK) {
        *why = "bad magic, size or fields, or a record cut short";
        return AT_BAD;
    }
    if (rec->phys_offset != s->from + (int64_t)pos) {
        *why = "PHYSICALOFFSET differs from where the record is";
        return AT_BAD;
    }
    if (rec->store_ts <= 0 || rec->queue_offset < 0 || rec->queue_id < 0) {
        *why = "implausible store time, queue id or queue offset";
        return AT_BAD;
    }
    *crc_ok = rk_body_crc(rec->body, rec->body_len) == rec->body_crc;
    if (check_crc && !*crc_ok) {
        *why = "body CRC mismatch";
        return AT_BAD;
    }
    return AT_RECORD;
}

/* The first offset >= off where a record that verifies (CRC included) or a
 * closing BLANK starts, or -1. Candidates are found by their magic (at byte
 * 4 of a record) with memmem, so a zero-filled tail costs one fast pass. */
static int64_t find_valid(const segs_t *S, int64_t off)
{
    static const uint8_t m_msg[4] = {0xDA, 0xA3, 0x20, 0xA7}, m_blank[4] = {0xCB, 0xD4, 0x31, 0x94};
    for (const seg_t *s = seg_at(S, off); s != NULL && s < S->v + S->n; s++) {
        size_t pos = off > s->from ? (size_t)(off - s->from) : 0;
        if (pos + 8 > s->limit)
            continue;
        const uint8_t *p = s->base + pos + 4, *end = s->base + s->limit;
        const uint8_t *h1 = memmem(p, (size_t)(end - p), m_msg, 4);
        const uint8_t *hb = memmem(p, (size_t)(end - p), m_blank, 4);
        while (h1 != NULL || hb != NULL) {
            bool is_msg = hb == NULL || (h1 != NULL && h1 < hb);
            const uint8_t *h = is_msg ? h1 : hb;
            rk_record_t rec;
            bool crc_ok;
            const char *why;
            if (record_at(s, (size_t)(h - 4 - s->base), true, &rec, &crc_ok, &why) != AT_BAD)
                return s->from + (int64_t)(h - 4 - s->base);
            if (is_msg)
                h1 = h + 1 < end ? memmem(h + 1, (size_t)(end - h - 1), m_msg, 4) : NULL;
            else
                hb = h + 1 < end ? memmem(h + 1, (size_t)(end - h - 1), m_blank, 4) : NULL;
        }
    }
    return -1;
}

/* Zeros from off to the end of its file, and the next file starts with a
 * valid record at v: a file whose closing BLANK never reached the disk (a
 * power loss after the next file was written). Nothing is lost there. */
static bool missing_blank(const segs_t *S, int64_t off, int64_t v)
{
    const seg_t *s = seg_at(S, off);
    return s != NULL && v == s->from + (int64_t)s->size &&
           all_zero(s->base + (off - s->from), s->limit - (size_t)(off - s->from));
}

static void damage_note(rk_commitlog_damage_t *d, int64_t from, int64_t to)
{
    d->ranges++;
    d->bytes += to - from;
    if (d->listed < RK_DAMAGE_LIST_MAX)
        d->list[d->listed++] = (rk_log_range_t){from, to};
}

typedef void (*damage_fn)(void *ctx, int64_t from, int64_t to, const char *why);

/* Walks the records of S from `from` (a record boundary). A record that
 * fails is damage if a valid record follows it somewhere in the log (the
 * range up to that record is skipped and reported), else the log ends there
 * (torn, if non-zero bytes follow; clean if only zeros do). */
static void scan_segs(const segs_t *S, int64_t from, bool check_crc, rk_scan_fn visit, void *ctx,
                      damage_fn on_damage, void *dctx, rk_scan_report_t *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->start = rep->end = from;
    rep->how = RK_SCAN_END_CLEAN;
    rep->first_damage = -1;
    int64_t off = from;
    for (;;) {
        const seg_t *s = seg_at(S, off);
        if (s == NULL)
            break;
        size_t pos = (size_t)(off - s->from);
        if (pos >= s->limit)
            break;                  /* the readable end */
        rk_record_t rec;
        bool crc_ok;
        const char *why = "";
        int at = record_at(s, pos, check_crc, &rec, &crc_ok, &why);
        if (at == AT_BLANK) {
            if (s + 1 == S->v + S->n)
                break;              /* the blank is the end; the next put rewrites it */
            off = s[1].from;
            continue;
        }
        if (at == AT_RECORD) {
            rep->records++;
            if (rep->first_damage >= 0) {
                rep->records_after_damage++;
                rep->bytes_after_damage += rec.total_size;
            }
            off += rec.total_size;
            if (visit != NULL && visit(ctx, &rec, crc_ok) != 0)
                break;
            continue;
        }
        /* The usual end of a log: zeros up to the end of its file and in
         * any file after it (allocated ahead, e.g. the spare a crash left).
         * One fast pass proves nothing follows. */
        bool zeros_only = all_zero(s->base + pos, s->limit - pos);
        for (const seg_t *t = s + 1; zeros_only && t < S->v + S->n; t++)
            zeros_only = all_zero(t->base, t->limit);
        int64_t v = zeros_only ? -1 : find_valid(S, off);
        if (v < 0) {
            /* Nothing valid after: the end of the log. Non-zero bytes here
             * are a write the crash interrupted (torn). */
            int64_t nz = 0;
            for (const seg_t *t = s; !zeros_only && t < S->v + S->n; t++) {
                size_t p0 = t == s ? pos : 0;
                nz += count_nonzero(t->base + p0, t->limit - p0);
            }
            if (nz > 0) {
                rep->how = RK_SCAN_END_TORN;
                rep->torn_bytes = nz;
                if (rep->reason[0] == '\0')
                    snprintf(rep->reason, sizeof rep->reason, "%s", why);
            }
            break;
        }
        if (missing_blank(S, off, v)) {
            off = v;
            continue;
        }
        if (rep->first_damage < 0) {
            rep->first_damage = off;
            snprintf(rep->reason, sizeof rep->reason, "%s", why);
        }
        damage_note(&rep->damage, off, v);
        if (on_damage != NULL)
            on_damage(dctx, off, v, why);
        off = v;
    }
    rep->end = off;
}

/* ---- the files of an open log, held for a scan ---- */

typedef struct held {
    segs_t s;
    rk_mapped_file_t **mf;
} held_t;

static void held_release(held_t *h)
{
    for (int i = 0; i < h->s.n; i++)
        rk_mapped_file_release(h->mf[i]);
    free(h->mf);
    free(h->s.v);
    memset(h, 0, sizeof *h);
}

/* Holds every file of q from the one holding off to the last; each is
 * readable up to its committed position. */
static int held_from(rk_mfq_t *q, int64_t off, held_t *h)
{
    memset(h, 0, sizeof *h);
    int64_t min = rk_mfq_min_offset(q);
    if (min < 0)
        return RK_OK;
    if (off < min)
        off = min;
    int capv = 0, capm = 0;     /* the two arrays grow in step */
    for (int64_t at = off - off % (int64_t)q->file_size;; at += (int64_t)q->file_size) {
        rk_mapped_file_t *mf = rk_mfq_find(q, at);
        if (mf == NULL)
            break;
        if (RK_GROW(h->s.v, capv, h->s.n + 1, 8) != RK_OK ||
            RK_GROW(h->mf, capm, h->s.n + 1, 8) != RK_OK) {
            rk_mapped_file_release(mf);
            held_release(h);
            return RK_ENOMEM;
        }
        h->mf[h->s.n] = mf;
        h->s.v[h->s.n++] = (seg_t){mf->from, mf->base, (size_t)atomic_load(&mf->committed), mf->size};
    }
    return RK_OK;
}

/* ---- the damage list of an open log ---- */

#define DAMAGE_KEEP_MAX 65536   /* ranges remembered one by one; beyond, only counted */

/* Index of the first range ending after off. Under dmg_mu. */
static int damage_lower(const rk_commitlog_t *cl, int64_t off)
{
    int lo = 0, hi = cl->ndmg;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (cl->dmg[mid].to <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Adds [from, to); true if it was not known (overlapping ranges merge). */
static bool damage_add(rk_commitlog_t *cl, int64_t from, int64_t to)
{
    if (to <= from)
        return false;
    uv_mutex_lock(&cl->dmg_mu);
    bool fresh = false;
    int i = damage_lower(cl, from);
    if (i < cl->ndmg && cl->dmg[i].from < to) {
        rk_log_range_t *r = &cl->dmg[i];     /* overlaps a known one: widen it */
        int64_t nf = from < r->from ? from : r->from, nt = to > r->to ? to : r->to;
        atomic_fetch_add(&cl->dmg_bytes, (nt - nf) - (r->to - r->from));
        r->from = nf;
        r->to = nt;
    } else {
        fresh = true;
        if (cl->capdmg < DAMAGE_KEEP_MAX)    /* no memory: counted, not listed */
            (void)RK_GROW(cl->dmg, cl->capdmg, cl->ndmg + 1, 16);
        if (cl->ndmg < cl->capdmg) {
            memmove(cl->dmg + i + 1, cl->dmg + i, (size_t)(cl->ndmg - i) * sizeof *cl->dmg);
            cl->dmg[i] = (rk_log_range_t){from, to};
            cl->ndmg++;
        }
        atomic_fetch_add(&cl->dmg_bytes, to - from);
        atomic_fetch_add(&cl->dmg_ranges, 1);
    }
    if (i < cl->ndmg && cl->dmg[i].to > atomic_load(&cl->dmg_end))  /* the range added or widened */
        atomic_store(&cl->dmg_end, cl->dmg[i].to);
    uv_mutex_unlock(&cl->dmg_mu);
    return fresh;
}

void rk_commitlog_damage_stats(rk_commitlog_t *cl, rk_commitlog_damage_t *out)
{
    memset(out, 0, sizeof *out);
    uv_mutex_lock(&cl->dmg_mu);
    out->ranges = atomic_load(&cl->dmg_ranges) + cl->sus_ranges;
    out->bytes = atomic_load(&cl->dmg_bytes) + cl->sus_bytes;
    for (int i = 0; i < cl->ndmg && out->listed < RK_DAMAGE_LIST_MAX; i++)
        out->list[out->listed++] = cl->dmg[i];
    uv_mutex_unlock(&cl->dmg_mu);
}

int64_t rk_commitlog_skip_damaged(rk_commitlog_t *cl, int64_t offset)
{
    /* the get and dispatch paths call this per record, mostly near the
     * log's end: past every known range, no lock */
    if (offset >= atomic_load(&cl->dmg_end))
        return offset;
    uv_mutex_lock(&cl->dmg_mu);
    int i = damage_lower(cl, offset);
    if (i < cl->ndmg && cl->dmg[i].from <= offset)
        offset = cl->dmg[i].to;
    uv_mutex_unlock(&cl->dmg_mu);
    return offset;
}

bool rk_commitlog_report_damage(rk_commitlog_t *cl, int64_t from, int64_t to, const char *why)
{
    if (to <= from || rk_commitlog_skip_damaged(cl, from) != from)
        return false;               /* nothing, or known (and logged) already */
    uv_mutex_lock(&cl->dmg_mu);
    int lo = 0, hi = cl->nsus;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (cl->sus[mid] < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    bool fresh = !(lo < cl->nsus && cl->sus[lo] == from);
    bool log = fresh;
    if (fresh) {
        if (cl->capsus < DAMAGE_KEEP_MAX)    /* no memory: counted, not listed */
            (void)RK_GROW(cl->sus, cl->capsus, cl->nsus + 1, 16);
        if (cl->nsus < cl->capsus) {
            memmove(cl->sus + lo + 1, cl->sus + lo, (size_t)(cl->nsus - lo) * sizeof *cl->sus);
            cl->sus[lo] = from;
            cl->nsus++;
        } else {
            log = false;            /* too many to remember: count, stop logging */
        }
        cl->sus_ranges++;
        cl->sus_bytes += to - from;
    }
    uv_mutex_unlock(&cl->dmg_mu);
    if (log)
        rk_log_error("commitlog", "damaged record at [%" PRId64 ", %" PRId64 ") (%" PRId64 " bytes): %s; "
                     "not served, its bytes kept on disk", from, to, to - from, why);
    return fresh;
}

int64_t rk_commitlog_next_valid(rk_commitlog_t *cl, int64_t offset)
{
    int64_t at = rk_commitlog_skip_damaged(cl, offset);
    held_t h;
    if (held_from(&cl->mfq, at, &h) != RK_OK)
        return RK_ENOMEM;
    int64_t v = find_valid(&h.s, at);
    bool benign = v > at && missing_blank(&h.s, at, v);
    held_release(&h);
    if (v < 0)
        return RK_ENOTFOUND;
    if (v > at && !benign)
        rk_commitlog_report_damage(cl, at, v, "a record that fails its checks, found by a reader");
    return v;
}

/* recovery's damage callback: remember the range, say so */
static void recovery_damage(void *ctx, int64_t from, int64_t to, const char *why)
{
    rk_commitlog_t *cl = ctx;
    if (damage_add(cl, from, to))
        rk_log_error("commitlog", "damaged record(s) at [%" PRId64 ", %" PRId64 ") (%" PRId64 " bytes: %s) "
                     "followed by valid records: skipped, not truncated; the bytes stay in the file",
                     from, to, to - from, why);
}

/* ---- read-only scanning of a store folder (rkstore) ---- */

int64_t rk_commitlog_detect_file_size(const char *dir)
{
    /* The first 20-digit file's size; rk_mfq_load checks the others agree. */
    DIR *d = opendir(dir);
    if (d == NULL)
        return -errno;
    int64_t size = -ENOENT;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char name[PATH_MAX];
        struct stat st;
        if (strlen(e->d_name) != 20 || strspn(e->d_name, "0123456789") != 20 ||
            rk_path_join(name, sizeof name, dir, e->d_name) != RK_OK || stat(name, &st) != 0 ||
            st.st_size <= 0)
            continue;
        size = st.st_size;
        break;
    }
    closedir(d);
    return size;
}

/* Lists and maps (O_RDONLY, PROT_READ) the log files of dir into S. */
static int map_dir_ro(const char *dir, int64_t file_size, segs_t *S, char *why, size_t whylen)
{
    memset(S, 0, sizeof *S);
    int64_t *starts = NULL;
    size_t n = 0;
    int rc = rk_mfq_list(dir, file_size, &starts, &n, why, whylen);
    if (rc != RK_OK)
        return rc;
    if (n > 0 && (S->v = calloc(n, sizeof *S->v)) == NULL)
        rc = RK_ENOMEM;
    for (size_t i = 0; rc == RK_OK && i < n; i++) {
        char path[PATH_MAX + 32], name[21];
        snprintf(path, sizeof path, "%s/%020" PRId64, dir, starts[i]);
        rk_mapped_file_name(starts[i], name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            rc = -errno;
            snprintf(why, whylen, "%s: %s", name, strerror(errno));
            if (fd >= 0)
                close(fd);
            break;
        }
        if (st.st_size > file_size || (st.st_size < file_size && i + 1 < n)) {
            snprintf(why, whylen, "%s is %lld bytes, not %" PRId64, name, (long long)st.st_size, file_size);
            close(fd);
            rc = RK_ECORRUPT;
            break;
        }
        void *base = NULL;
        if (st.st_size > 0) {
            base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
            if (base == MAP_FAILED) {
                rc = -errno;
                snprintf(why, whylen, "%s: mmap: %s", name, strerror(errno));
                close(fd);
                break;
            }
        }
        close(fd);          /* the mapping stays */
        S->v[S->n++] = (seg_t){starts[i], base, (size_t)st.st_size, (size_t)file_size};
    }
    free(starts);
    return rc;
}

static void unmap_dir_ro(segs_t *S)
{
    for (int i = 0; i < S->n; i++)
        if (S->v[i].limit > 0)
            munmap((void *)S->v[i].base, S->v[i].limit);
    free(S->v);
    memset(S, 0, sizeof *S);
}

int rk_commitlog_scan_dir(const char *dir, int64_t file_size, int64_t from, bool check_crc,
                          rk_scan_fn visit, void *ctx, rk_scan_report_t *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->first_damage = -1;
    if (file_size <= 0)
        return RK_EINVAL;
    if (!rk_path_exists(dir))
        return -ENOENT;
    segs_t S;
    char why[sizeof rep->reason] = "";
    int rc = map_dir_ro(dir, file_size, &S, why, sizeof why);
    if (rc == RK_OK && S.n > 0)
        scan_segs(&S, from < S.v[0].from ? S.v[0].from : from, check_crc, visit, ctx, NULL, NULL, rep);
    else if (rc != RK_OK)
        snprintf(rep->reason, sizeof rep->reason, "%s", why);
    unmap_dir_ro(&S);
    return rc;
}

/* ------------------------------------------------------------ ack stages and flush */

static void ack_finish(rk_ack_t *ack, rk_put_status_t status)
{
    ack->res.status = status;
    if (ack->cb != NULL)
        ack->cb(ack->arg, &ack->res);
    free(ack);
}

void rk_ack_done(rk_ack_t *ack, rk_put_status_t status)
{
    if (status != RK_PUT_OK) {
        ack_finish(ack, status);
        return;
    }
    rk_commitlog_t *cl = ack->cl;
    if (ack->next_stage >= cl->nstages) {
        ack_finish(ack, RK_PUT_OK);
        return;
    }
    stage_t *st = &cl->stages[ack->next_stage++];
    st->fn(st->ctx, ack);
}

int64_t rk_ack_end_offset(const rk_ack_t *ack) { return ack->end; }
bool rk_ack_wants_wait(const rk_ack_t *ack) { return ack->wait; }

/* Stage 0, built in: the flush policy. A batched put (defer) leaves waking
 * the flush thread to rk_commitlog_batch_end. */
static void flush_stage(rk_commitlog_t *cl, rk_ack_t *ack, bool defer)
{
    if (cl->flush_type != RK_FLUSH_SYNC || !ack->wait) {
        rk_ack_done(ack, RK_PUT_OK);
        return;
    }
    ack->deadline_ns = rk_mono_ns() + (uint64_t)cl->sync_timeout_ms * 1000000u;
    ack->next = NULL;
    uv_mutex_lock(&cl->flush_mu);
    if (cl->gc_tail)
        cl->gc_tail->next = ack;
    else
        cl->gc_head = ack;
    cl->gc_tail = ack;
    if (defer)
        cl->owe_flush = true;
    else
        uv_cond_signal(&cl->flush_cond);
    uv_mutex_unlock(&cl->flush_mu);
}

static int64_t flush_now(rk_commitlog_t *cl, int least_pages)
{
    int64_t before = rk_mfq_flushed_offset(&cl->mfq);
    int64_t ts = atomic_load(&cl->last_store_ts);
    int64_t r = rk_mfq_flush(&cl->mfq, least_pages);
    if (r > before) {
        atomic_fetch_add(&cl->flush_count, 1);
        if (ts > 0)
            rk_checkpoint_set_physic(cl->cp, ts);
    }
    return r;
}

/* Group commit: every waiting put whose end is flushed completes after ONE
 * msync; puts past their deadline complete with FLUSH_DISK_TIMEOUT. */
static void group_commit(rk_commitlog_t *cl, rk_ack_t *list)
{
    uint64_t now = rk_mono_ns();
    rk_ack_t *keep = NULL, **tail = &keep;
    for (rk_ack_t *a = list, *next; a != NULL; a = next) {
        next = a->next;
        if (now > a->deadline_ns) {
            rk_ack_done(a, RK_PUT_FLUSH_DISK_TIMEOUT);
        } else {
            a->next = NULL;
            *tail = a;
            tail = &a->next;
        }
    }
    if (keep == NULL)
        return;
    int64_t r = flush_now(cl, 0);
    int64_t flushed = rk_mfq_flushed_offset(&cl->mfq);
    rk_ack_t *later = NULL, **ltail = &later;  /* kept in order */
    for (rk_ack_t *a = keep, *next; a != NULL; a = next) {
        next = a->next;
        if (r >= 0 && flushed >= a->end) {
            rk_ack_done(a, RK_PUT_OK);
        } else {
            a->next = NULL;
            *ltail = a;
            ltail = &a->next;
        }
    }
    if (later != NULL) {        /* not flushed yet: retry next round (or time out) */
        rk_ack_t *last = later;
        while (last->next != NULL)
            last = last->next;
        uv_mutex_lock(&cl->flush_mu);
        last->next = cl->gc_head;
        if (cl->gc_head == NULL)
            cl->gc_tail = last;
        cl->gc_head = later;
        uv_mutex_unlock(&cl->flush_mu);
    }
}

/* Keeps the next file made (and warmed) ahead of the writer, so the put
 * path never waits for a file to be allocated or its pages faulted in. The
 * writer wakes the flush thread at each roll, which makes the one after. */
static void prepare_ahead(rk_commitlog_t *cl)
{
    int was = RK_OK, rc = rk_mfq_prepare_next(&cl->mfq, &was);
    if (rc != RK_OK && was == RK_OK)        /* logged when it starts and stops failing */
        rk_log_warn("commitlog", "cannot prepare the next commitlog file: %s; will retry", rk_strerror(rc));
    else if (rc == RK_OK && was != RK_OK)
        rk_log_info("commitlog", "the next commitlog file is prepared again");
}

/* Page faults on first write to a mapped file cost the writer a kernel
 * page allocation, zeroing, and sometimes a dirty-page throttle (tens of
 * ms). This thread takes them instead: every 5 ms it pre-writes zeros over
 * what the writer will need next, up to prefaultAheadBytes past the write
 * position of the current file (256 KiB pwrites, never where the writer
 * claimed: see rk_mapped_file_prewrite), then asks the kernel to fault them
 * in (writable, contents unchanged: MADV_POPULATE_WRITE). Faulting holes in
 * directly has the kernel zero-fill every page through readahead, in large
 * folios: on a VM with free memory that cost the prefault thread 2.4 to 3.2
 * times as much (on recycled memory it was 1.2 to 1.6 times cheaper; see the
 * README, "Where the time goes").
 *
 * The work goes in small, even steps: whatever the writer used since the
 * last look, once that is at least PREFAULT_MIN_STEP (less: the log is idle
 * or slow, look ten times less often). Populating costs the kernel about
 * 1.2 µs a page: 6.7 MB in one go keeps a core busy for 2 ms, and on two
 * cores every send in flight then waits for the other one (the README,
 * "Prefaulting in even steps"). */
#define PREFAULT_PERIOD_MS 5
#define PREFAULT_MIN_STEP (64 * 1024)

/* Pre-writes zeros over [from, to) of mf (not where the writer claimed; once a pwrite failed,
 * *prewrite is false and only the populate runs), then faults the range in. RK_OK when the
 * range is done; -ENOSYS when the kernel cannot prefault at all (the thread stops); another
 * error (ENOMEM, EFAULT: a full disk...) to try again later: the writer will see it. */
static int prefault_range(rk_commitlog_t *cl, rk_mapped_file_t *mf, int64_t from, int64_t to, bool *prewrite)
{
    /* zeros first, with large pwrites, past what the writer claimed: the populate below then
     * finds the pages in the page cache instead of having each one zero-filled */
    int64_t pw = atomic_load(&mf->claimed);
    pw = pw < from ? from : (pw + RK_OS_PAGE_SIZE - 1) / RK_OS_PAGE_SIZE * RK_OS_PAGE_SIZE;
    if (*prewrite && pw < to) {
        int64_t r = rk_mapped_file_prewrite(mf, pw, to);
        if (r < 0) {
            rk_log_warn("commitlog", "cannot pre-write %s (%s); the prefault thread only faults "
                        "pages in from now on", mf->path, rk_strerror((int)r));
            *prewrite = false;
        }
    }
    /* with pwrite puts (SYNC_FLUSH) read-populate: the pages are in the page cache and mapped,
     * but clean and write-protected, so no flush has a PTE to shoot down */
    int advice = cl->fd_writes ? MADV_POPULATE_READ : MADV_POPULATE_WRITE;
    if (madvise(mf->base + from, (size_t)(to - from), advice) == 0)
        return RK_OK;
    if (errno == EINVAL || errno == ENOSYS) {
        rk_log_info("commitlog", "the kernel cannot prefault (%s); puts fault pages themselves", strerror(errno));
        return -ENOSYS;
    }
    return -errno;
}

/* Near the end of a file, the part of prefaultAheadBytes past its end is done in the next
 * file, which the flush thread made ahead (the queue's spare): the writer's roll then finds
 * its first 64 MiB ready, and the work stays in the same even steps instead of one 64 MiB call
 * at the roll (tens of ms of one core; the README, "Prefaulting across the roll"). */
static void prefault_main(void *arg)
{
    rk_commitlog_t *cl = arg;
    (void)rk_thread_init("rk-prefault", RK_THREAD_BACKGROUND);
    int64_t file_from = -1, done_to = 0;        /* what was populated, in the current file */
    int64_t spare_from = -1, spare_done = 0;    /* and in the next one, made ahead */
    bool prewrite = true;                       /* until a pwrite fails */
    uint64_t wait_ms = PREFAULT_PERIOD_MS;
    uv_mutex_lock(&cl->flush_mu);
    while (!cl->stopping) {
        uv_cond_timedwait(&cl->prefault_cond, &cl->flush_mu, wait_ms * 1000000ull);
        if (cl->stopping)
            break;
        uv_mutex_unlock(&cl->flush_mu);
        int rc = RK_OK;
        rk_mapped_file_t *mf = rk_mfq_last(&cl->mfq);
        if (mf != NULL) {
            if (mf->from != file_from) {        /* the writer rolled: onto the spare done ahead? */
                done_to = mf->from == spare_from ? spare_done : 0;
                file_from = mf->from;
                spare_from = -1;
                spare_done = 0;
            }
            int64_t size = (int64_t)mf->size;
            int64_t wrote = atomic_load(&mf->wrote);
            int64_t from = done_to > wrote ? done_to : wrote;
            int64_t want = wrote + cl->prefault_ahead;          /* may be past this file's end */
            int64_t to = want < size ? want : size;
            from -= from % RK_OS_PAGE_SIZE;
            int64_t work = to > from ? to - from : 0;
            if (to - from >= PREFAULT_MIN_STEP || (to == size && to > from)) {
                rc = prefault_range(cl, mf, from, to, &prewrite);
                if (rc == RK_OK)
                    done_to = to;
            }
            if (rc != -ENOSYS && want > size && done_to >= size) {
                rk_mapped_file_t *sp = rk_mfq_spare(&cl->mfq);
                if (sp != NULL && sp->from == mf->from + size) {
                    if (sp->from != spare_from) {
                        spare_from = sp->from;
                        spare_done = 0;
                    }
                    int64_t sto = want - size < (int64_t)sp->size ? want - size : (int64_t)sp->size;
                    sto -= sto % RK_OS_PAGE_SIZE;
                    if (sto > spare_done)
                        work += sto - spare_done;
                    if (sto - spare_done >= PREFAULT_MIN_STEP) {
                        rc = prefault_range(cl, sp, spare_done, sto, &prewrite);
                        if (rc == RK_OK)
                            spare_done = sto;
                    }
                }
                rk_mapped_file_release(sp);
            }
            /* an idle or slow log: look ten times less often */
            wait_ms = work < PREFAULT_MIN_STEP ? 10 * PREFAULT_PERIOD_MS : PREFAULT_PERIOD_MS;
            rk_mapped_file_release(mf);
        }
        uv_mutex_lock(&cl->flush_mu);
        if (rc == -ENOSYS)
            break;
    }
    uv_mutex_unlock(&cl->flush_mu);
}

static void flush_main(void *arg)
{
    rk_commitlog_t *cl = arg;
    /* an ASYNC_FLUSH flush is background work; a SYNC_FLUSH one has producers waiting on it */
    (void)rk_thread_init("rk-flush", cl->flush_type == RK_FLUSH_SYNC ? RK_THREAD_NORMAL : RK_THREAD_BACKGROUND);
    uint64_t last_thorough = rk_mono_ms();
    uv_mutex_lock(&cl->flush_mu);
    while (!cl->stopping) {
        if (cl->flush_type == RK_FLUSH_SYNC) {
            if (cl->gc_head == NULL)
                uv_cond_timedwait(&cl->flush_cond, &cl->flush_mu, 10 * 1000000ull);
            rk_ack_t *list = cl->gc_head;
            cl->gc_head = cl->gc_tail = NULL;
            uv_mutex_unlock(&cl->flush_mu);
            if (list != NULL) {
                group_commit(cl, list);
            } else {
                flush_now(cl, (int)cl->flush_least_pages);   /* puts that did not WAIT */
                prepare_ahead(cl);
            }
        } else {
            uv_cond_timedwait(&cl->flush_cond, &cl->flush_mu,
                              (uint64_t)cl->flush_interval_ms * 1000000ull);
            uv_mutex_unlock(&cl->flush_mu);
            uint64_t now = rk_mono_ms();
            bool thorough = now - last_thorough >= (uint64_t)cl->flush_thorough_ms;
            if (thorough)
                last_thorough = now;
            flush_now(cl, thorough ? 0 : (int)cl->flush_least_pages);
            if (thorough)
                rk_checkpoint_flush(cl->cp);
            prepare_ahead(cl);
        }
        uv_mutex_lock(&cl->flush_mu);
    }
    rk_ack_t *rest = cl->gc_head;
    cl->gc_head = cl->gc_tail = NULL;
    uv_mutex_unlock(&cl->flush_mu);
    /* Shutdown: flush everything, then complete whoever still waits. */
    int64_t r = flush_now(cl, 0);
    for (rk_ack_t *a = rest, *next; a != NULL; a = next) {
        next = a->next;
        rk_ack_done(a, r >= a->end ? RK_PUT_OK : RK_PUT_FLUSH_DISK_TIMEOUT);
    }
}

int rk_commitlog_add_put_hook(rk_commitlog_t *cl, const char *name, rk_put_hook_fn fn, void *ctx)
{
    if (cl->nhooks == MAX_HOOKS)
        return RK_EFULL;
    hook_t *h = &cl->hooks[cl->nhooks++];
    snprintf(h->name, sizeof h->name, "%s", name);
    h->fn = fn;
    h->ctx = ctx;
    return RK_OK;
}

int rk_commitlog_add_ack_stage(rk_commitlog_t *cl, const char *name, rk_ack_stage_fn submit, void *ctx)
{
    if (cl->nstages == MAX_STAGES)
        return RK_EFULL;
    stage_t *s = &cl->stages[cl->nstages++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->fn = submit;
    s->ctx = ctx;
    return RK_OK;
}

uint64_t rk_commitlog_flush_count(const rk_commitlog_t *cl) { return atomic_load(&cl->flush_count); }

/* ------------------------------------------------------------ put path */

static rk_put_status_t check_msg(rk_commitlog_t *cl, const rk_msg_t *m)
{
    if ((int64_t)m->body_len > cl->max_message_size)
        return RK_PUT_MESSAGE_ILLEGAL;
    int rc = rk_msg_validate(m);
    if (rc == RK_ETOOBIG && m->props_len > RK_PROPERTIES_MAX_LEN)
        return RK_PUT_PROPERTIES_SIZE_EXCEEDED;
    return rc == RK_OK ? RK_PUT_OK : RK_PUT_MESSAGE_ILLEGAL;
}

static bool wants_wait(const rk_msg_t *m)
{
    size_t vl;
    const char *v = rk_props_get(m->props, m->props_len, RK_PROP_WAIT, &vl);
    return !(v != NULL && vl == 5 && memcmp(v, "false", 5) == 0);
}

static void notify_append(rk_commitlog_t *cl)
{
    if (atomic_load(&cl->app_waiters) > 0) {
        uv_mutex_lock(&cl->app_mu);
        uv_cond_broadcast(&cl->app_cond);
        uv_mutex_unlock(&cl->app_mu);
    }
}

/* Appends msgs[0..n) contiguously in one file; fills res and phys. */
/* The outcome of reserving blocks before a write, under put_mu: one ERROR
 * line when writes start failing for want of disk blocks, one INFO line
 * when they succeed again, not a line per refused put. */
static int reserve_noted(rk_commitlog_t *cl, rk_mapped_file_t *mf, int rc)
{
    if (rc != RK_OK && !cl->reserve_failing)
        rk_log_error("commitlog", "cannot reserve disk blocks in %s (%s): puts and replicated bytes are "
                     "refused until there is room", mf->path, rk_strerror(rc));
    else if (rc == RK_OK && cl->reserve_failing)
        rk_log_info("commitlog", "disk blocks can be reserved again in %s: writes accepted", mf->path);
    cl->reserve_failing = rc != RK_OK;
    return rc;
}

#define WBUF_SOFT (64 * 1024)

/* Writes the records waiting in wbuf into cur (one pwrite) and makes them
 * visible to readers. Under put_mu. */
static void write_pending(rk_commitlog_t *cl)
{
    if (cl->pend_len == 0)
        return;
    rk_mapped_file_write(cl->cur, cl->pend_pos, cl->wbuf, cl->pend_len);
    atomic_store(&cl->cur->committed, cl->pend_pos + (int64_t)cl->pend_len);
    /* after: a flush that reads it has the records committed */
    atomic_store(&cl->last_store_ts, cl->pend_ts);
    cl->pend_len = 0;
}

static rk_put_status_t append(rk_commitlog_t *cl, const rk_msg_t *msgs, int n, rk_put_result_t *res,
                              int64_t *phys, bool defer)
{
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        rk_put_status_t st = check_msg(cl, &msgs[i]);
        if (st != RK_PUT_OK)
            return st;
        total += rk_record_size(&msgs[i]);
    }
    if (total + RK_END_FILE_MIN_BLANK_LEN > (size_t)cl->file_size)
        return RK_PUT_MESSAGE_ILLEGAL;

    uv_mutex_lock(&cl->put_mu);
    /* SYNC_FLUSH, a batched put (defer): its records may wait in wbuf and
     * go in with the rest of the loop turn's, in one pwrite at
     * rk_commitlog_batch_end; any other put writes what waits first. */
    bool keep = defer && cl->fd_writes;
    if (!keep)
        write_pending(cl);
    /* The file being written is cached (with a reference) so the common
     * put touches no list lock; the queue is asked only to roll. */
    rk_mapped_file_t *mf = cl->cur;
    if (mf == NULL || rk_mapped_file_full(mf)) {
        write_pending(cl);
        if (mf != NULL)
            rk_mapped_file_release(mf);
        cl->cur = NULL;
        if (rk_mfq_last_or_create(&cl->mfq, 0, &cl->cur) != RK_OK) {
            uv_mutex_unlock(&cl->put_mu);
            return RK_PUT_CREATE_MAPEDFILE_FAILED;
        }
        mf = cl->cur;
    }
    int64_t pos = atomic_load(&mf->wrote);
    /* blocks before bytes (rk/mapped_file.h): a file loaded at start may
     * have holes; a created one is reserved whole and this is a compare */
    if (reserve_noted(cl, mf, rk_mapped_file_reserve(mf, pos + (int64_t)total + RK_END_FILE_MIN_BLANK_LEN)) !=
        RK_OK) {
        uv_mutex_unlock(&cl->put_mu);
        return RK_PUT_CREATE_MAPEDFILE_FAILED;
    }
    if (pos + (int64_t)total + RK_END_FILE_MIN_BLANK_LEN > (int64_t)mf->size) {
        /* Not enough room: close this file with a BLANK and roll. */
        write_pending(cl);
        rk_mapped_file_claim(mf, (int64_t)mf->size);
        rk_record_encode_blank(mf->base + pos, (uint32_t)((int64_t)mf->size - pos));
        atomic_store(&mf->wrote, (int64_t)mf->size);
        atomic_store(&mf->committed, (int64_t)mf->size);
        rk_mapped_file_release(mf);
        cl->cur = NULL;
        if (rk_mfq_last_or_create(&cl->mfq, 0, &cl->cur) != RK_OK) {
            uv_mutex_unlock(&cl->put_mu);
            return RK_PUT_CREATE_MAPEDFILE_FAILED;
        }
        mf = cl->cur;
        pos = atomic_load(&mf->wrote);
        if (reserve_noted(cl, mf, rk_mapped_file_reserve(mf, pos + (int64_t)total + RK_END_FILE_MIN_BLANK_LEN)) !=
            RK_OK) {
            uv_mutex_unlock(&cl->put_mu);
            return RK_PUT_CREATE_MAPEDFILE_FAILED;
        }
        uv_mutex_lock(&cl->flush_mu);       /* rolled: have the next file made now */
        uv_cond_signal(&cl->flush_cond);
        uv_mutex_unlock(&cl->flush_mu);
    }
    /* before any byte lands: the prefault thread never pre-writes zeros there */
    rk_mapped_file_claim(mf, pos + (int64_t)total);
    int64_t store_ts = rk_now_ms();
    res->phys_offset = mf->from + pos;
    res->store_ts = store_ts;
    res->count = n;
    res->wrote_bytes = (int64_t)total;
    /* SYNC_FLUSH: the records are encoded into a buffer and stored with
     * pwrite() instead of straight into the mapping. A store through the
     * mapping dirties this thread's page-table entry; every flush then has
     * to write-protect it again (a TLB shoot-down across cores) and the
     * next put faults the page back in: a third of the broker's samples
     * under durable load. Readers still read through the mapping (the
     * same page cache), and the flush (msync) still covers the bytes. */
    int64_t pos0 = pos;
    uint8_t *dst = mf->base + pos;
    size_t dcap = mf->size - (size_t)pos;
    if (cl->fd_writes) {
        /* one pwrite per turn, but at most WBUF_SOFT bytes a time: a
         * buffer that stays in the cache costs less than a large one */
        if (cl->pend_len > 0 && cl->pend_len + total > WBUF_SOFT)
            write_pending(cl);
        if (cl->wcap < cl->pend_len + total) {
            size_t cap = cl->pend_len + total < WBUF_SOFT ? WBUF_SOFT : cl->pend_len + total;
            uint8_t *b = realloc(cl->wbuf, cap);
            if (b != NULL) {
                cl->wbuf = b;
                cl->wcap = cap;
            } else {
                write_pending(cl);
            }
        }
        if (cl->wcap >= cl->pend_len + total) {    /* else (no memory): into the mapping */
            if (cl->pend_len == 0)
                cl->pend_pos = pos;
            dst = cl->wbuf + cl->pend_len;
            dcap = total;
        }
    }
    bool buffered = dst != mf->base + pos;
    for (int i = 0; i < n; i++) {
        const rk_msg_t *m = &msgs[i];
        int64_t qoff = 0;
        int txn = rk_sysflag_txn(m->sys_flag);
        int64_t *slot = NULL;
        if (txn == RK_SYSFLAG_TXN_NOT || txn == RK_SYSFLAG_TXN_COMMIT) {
            char key[RK_TOPIC_MAX_LEN + 16];
            qkey(key, sizeof key, m->topic, m->topic_len, m->queue_id);
            slot = qslot(cl, key);
            if (slot == NULL) {
                /* Out of memory mid-batch: keep what is written, consistently. */
                if (buffered) {
                    cl->pend_len += (size_t)(pos - pos0);
                    cl->pend_ts = store_ts;
                }
                atomic_store(&mf->wrote, pos);
                write_pending(cl);
                atomic_store(&mf->committed, pos);
                uv_mutex_unlock(&cl->put_mu);
                return RK_PUT_UNKNOWN_ERROR;
            }
            qoff = *slot;
        }
        /* Cannot fail: every message was validated and the room checked. */
        int64_t sz = rk_record_encode(m, dst + (pos - pos0), dcap - (size_t)(pos - pos0), qoff,
                                      mf->from + pos, m->store_ts > 0 ? m->store_ts : store_ts);
        if (slot != NULL)
            (*slot)++;
        if (i == 0)
            res->queue_offset = qoff;
        if (phys != NULL)
            phys[i] = mf->from + pos;
        pos += sz;
    }
    atomic_store(&mf->wrote, pos);
    if (buffered) {
        cl->pend_len += (size_t)(pos - pos0);
        cl->pend_ts = store_ts;
        if (keep)
            cl->owe_write = true;           /* committed at batch_end */
        else
            write_pending(cl);              /* committed: visible to readers */
    } else {
        atomic_store(&mf->committed, pos);  /* seq_cst: records visible to readers */
        atomic_store(&cl->last_store_ts, store_ts);
    }
    uv_mutex_unlock(&cl->put_mu);
    if (defer)
        cl->owe_app = true;
    else
        notify_append(cl);
    rk_msgid_encode(&cl->store_host, res->phys_offset, res->msg_id, sizeof res->msg_id);
    return RK_PUT_OK;
}

/* Whether this thread's puts leave their wake-ups to rk_commitlog_batch_end. */
static bool batched_here(rk_commitlog_t *cl)
{
    if (!atomic_load_explicit(&cl->batching, memory_order_acquire))
        return false;
    uv_thread_t self = uv_thread_self();
    return uv_thread_equal(&self, &cl->batch_tid);
}

int rk_commitlog_batch_end(rk_commitlog_t *cl)
{
    uv_thread_t self = uv_thread_self();
    if (!atomic_load_explicit(&cl->batching, memory_order_acquire)) {
        uv_mutex_lock(&cl->flush_mu);
        if (!atomic_load(&cl->batching)) {
            cl->batch_tid = self;
            atomic_store_explicit(&cl->batching, true, memory_order_release);
        }
        uv_mutex_unlock(&cl->flush_mu);
    }
    if (!uv_thread_equal(&self, &cl->batch_tid))
        return RK_EBUSY;
    if (cl->owe_write) {            /* before the flush thread is woken for them */
        cl->owe_write = false;
        uv_mutex_lock(&cl->put_mu);
        write_pending(cl);
        uv_mutex_unlock(&cl->put_mu);
    }
    if (cl->owe_flush) {
        cl->owe_flush = false;
        uv_mutex_lock(&cl->flush_mu);
        uv_cond_signal(&cl->flush_cond);
        uv_mutex_unlock(&cl->flush_mu);
    }
    if (cl->owe_app) {
        cl->owe_app = false;
        notify_append(cl);
    }
    return RK_OK;
}

/* Runs the hooks on copies of msgs, appends, then starts the ack chain.
 * may_defer: the caller does not block on the ack (see batched_here). */
static int put_common(rk_commitlog_t *cl, const rk_msg_t *msgs, int n, rk_put_result_t *sync_res,
                      int64_t *phys, rk_put_cb cb, void *arg, bool may_defer)
{
    if (n <= 0)
        return RK_EINVAL;
    bool defer = may_defer && batched_here(cl);
    rk_put_scratch_t scratch = {.n = 0};
    rk_msg_t one, *work = &one;
    if (n > 1 && (work = malloc((size_t)n * sizeof *work)) == NULL)
        return RK_ENOMEM;
    memcpy(work, msgs, (size_t)n * sizeof *work);
    rk_put_result_t res = {0};
    rk_put_status_t st = RK_PUT_OK;
    for (int i = 0; i < n && st == RK_PUT_OK; i++)
        for (int h = 0; h < cl->nhooks && st == RK_PUT_OK; h++)
            st = cl->hooks[h].fn(cl->hooks[h].ctx, &work[i], &scratch);
    if (st == RK_PUT_OK)
        st = append(cl, work, n, &res, phys, defer);
    bool wait = wants_wait(&work[0]);
    scratch_free(&scratch);
    if (work != &one)
        free(work);
    res.status = st;
    bool needs_chain = st == RK_PUT_OK && (cl->nstages > 0 || (cl->flush_type == RK_FLUSH_SYNC && wait));
    if (!needs_chain) {     /* fast path: answered right here */
        if (sync_res)
            *sync_res = res;
        if (cb)
            cb(arg, &res);
        return RK_OK;
    }
    rk_ack_t *ack = calloc(1, sizeof *ack);
    if (ack == NULL) {
        res.status = RK_PUT_UNKNOWN_ERROR;   /* stored, but we cannot track the ack */
        if (sync_res)
            *sync_res = res;
        if (cb)
            cb(arg, &res);
        return RK_OK;
    }
    ack->cl = cl;
    ack->end = res.phys_offset + res.wrote_bytes;
    ack->wait = wait;
    ack->res = res;
    ack->cb = cb;
    ack->arg = arg;
    flush_stage(cl, ack, defer);
    return RK_OK;
}

int rk_commitlog_put_async(rk_commitlog_t *cl, const rk_msg_t *m, rk_put_cb cb, void *arg)
{
    return put_common(cl, m, 1, NULL, NULL, cb, arg, true);
}

typedef struct {
    uv_mutex_t mu;
    uv_cond_t cond;
    bool done;
    rk_put_result_t res;
} waiter_t;

static void waiter_cb(void *arg, const rk_put_result_t *res)
{
    waiter_t *w = arg;
    uv_mutex_lock(&w->mu);
    w->res = *res;
    w->done = true;
    uv_cond_signal(&w->cond);
    uv_mutex_unlock(&w->mu);
}

static int put_blocking(rk_commitlog_t *cl, const rk_msg_t *msgs, int n, rk_put_result_t *res,
                        int64_t *phys)
{
    bool fast = cl->nstages == 0 && cl->flush_type != RK_FLUSH_SYNC;
    if (fast)
        return put_common(cl, msgs, n, res, phys, NULL, NULL, false);
    waiter_t w = {.done = false};
    if (uv_mutex_init(&w.mu) != 0)
        return RK_ENOMEM;
    if (uv_cond_init(&w.cond) != 0) {
        uv_mutex_destroy(&w.mu);
        return RK_ENOMEM;
    }
    int rc = put_common(cl, msgs, n, NULL, phys, waiter_cb, &w, false);
    if (rc == RK_OK) {
        uv_mutex_lock(&w.mu);
        while (!w.done)
            uv_cond_wait(&w.cond, &w.mu);
        uv_mutex_unlock(&w.mu);
        *res = w.res;
    }
    uv_cond_destroy(&w.cond);
    uv_mutex_destroy(&w.mu);
    return rc;
}

int rk_commitlog_put(rk_commitlog_t *cl, const rk_msg_t *m, rk_put_result_t *res)
{
    return put_blocking(cl, m, 1, res, NULL);
}

int rk_commitlog_put_batch(rk_commitlog_t *cl, const rk_msg_t *msgs, int n, rk_put_result_t *res,
                           int64_t *phys)
{
    return put_blocking(cl, msgs, n, res, phys);
}

/* ------------------------------------------------------------ lifecycle */

static int take_lock(rk_commitlog_t *cl, char *err, size_t errlen)
{
    char path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/lock", cl->root);
    cl->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (cl->lock_fd < 0) {
        int e = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return e;
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    if (fcntl(cl->lock_fd, F_SETLK, &fl) != 0) {
        struct flock who = fl;
        int pid = fcntl(cl->lock_fd, F_GETLK, &who) == 0 ? (int)who.l_pid : 0;
        snprintf(err, errlen, "store %s is locked by another process (pid %d): is a broker or rkstore running on it?",
                 cl->root, pid);
        close(cl->lock_fd);
        cl->lock_fd = -1;
        return RK_ELOCKED;
    }
    ssize_t w = pwrite(cl->lock_fd, "lock", 4, 0);
    (void)w;
    return RK_OK;
}

typedef struct rebuild_ctx {
    rk_commitlog_t *cl;
    int err;
} rebuild_ctx_t;

static int rebuild_visit(void *ctx, const rk_record_t *rec, bool crc_ok)
{
    (void)crc_ok;
    rebuild_ctx_t *rb = ctx;
    int txn = rk_sysflag_txn(rec->sys_flag);
    if (txn != RK_SYSFLAG_TXN_NOT && txn != RK_SYSFLAG_TXN_COMMIT)
        return 0;
    char key[RK_TOPIC_MAX_LEN + 16];
    qkey(key, sizeof key, rec->topic, rec->topic_len, rec->queue_id);
    int64_t *slot = qslot(rb->cl, key);
    if (slot == NULL) {
        rb->err = RK_ENOMEM;
        return 1;
    }
    if (rec->queue_offset + 1 > *slot)
        *slot = rec->queue_offset + 1;
    return 0;
}

/* Walks the whole log (recovery only validated the newest files); a damaged
 * record in an old file is skipped like any other damage. */
static int rebuild_queue_offsets(rk_commitlog_t *cl)
{
    held_t h;
    int rc = held_from(&cl->mfq, rk_mfq_min_offset(&cl->mfq), &h);
    if (rc != RK_OK || h.s.n == 0)
        return rc;
    rebuild_ctx_t rb = {cl, RK_OK};
    rk_scan_report_t rep;
    scan_segs(&h.s, h.s.v[0].from, false, rebuild_visit, &rb, recovery_damage, cl, &rep);
    held_release(&h);
    return rb.err;
}

static int recover(rk_commitlog_t *cl, bool check_crc, char *err, size_t errlen)
{
    int n = rk_mfq_count(&cl->mfq);
    if (n == 0) {
        cl->recovered_from = cl->recovered_end = 0;
        return RK_OK;
    }
    int start = n >= 3 ? n - 3 : 0;
    if (cl->abnormal) {
        /* Newest file whose first message was certainly durable everywhere. */
        int64_t min_ts = rk_checkpoint_min_timestamp(cl->cp);
        start = 0;
        for (int i = n - 1; i >= 0; i--) {
            rk_mapped_file_t *mf = rk_mfq_get(&cl->mfq, i);
            int64_t ts = rk_record_peek_store_ts(mf->base, mf->size);
            rk_mapped_file_release(mf);
            if (ts > 0 && ts <= min_ts) {
                start = i;
                break;
            }
        }
    }
    rk_mapped_file_t *first = rk_mfq_get(&cl->mfq, start);
    cl->recovered_from = first->from;
    rk_mapped_file_release(first);
    held_t h;
    int rc = held_from(&cl->mfq, cl->recovered_from, &h);
    if (rc != RK_OK) {
        snprintf(err, errlen, "recovery scan failed: %s", rk_strerror(rc));
        return rc;
    }
    rk_scan_report_t rep;
    scan_segs(&h.s, cl->recovered_from, check_crc, NULL, NULL, recovery_damage, cl, &rep);
    held_release(&h);
    cl->recovered_end = rep.end;
    if (rep.damage.ranges > 0)
        rk_log_error("commitlog", "recovery: CORRUPT log: %" PRId64 " damaged range(s), %" PRId64 " bytes, "
                     "the first at %" PRId64 " (%s); %" PRId64 " valid records (%" PRId64 " bytes) after it "
                     "are kept, the damaged ranges are skipped (not dispatched) and left on disk for "
                     "inspection (rkstore verify lists them)", rep.damage.ranges, rep.damage.bytes,
                     rep.first_damage, rep.reason, rep.records_after_damage, rep.bytes_after_damage);
    if (rep.how == RK_SCAN_END_TORN)
        rk_log_warn("commitlog", "recovery: torn record at offset %" PRId64 " (%s): %" PRId64 " non-zero "
                    "bytes and no valid record after it (an interrupted write); truncating the log there",
                    rep.end, rep.reason, rep.torn_bytes);
    rk_log_info("commitlog", "recovered %s: scanned %" PRId64 " records from %" PRId64 ", log ends at %" PRId64,
                cl->abnormal ? "after an abnormal exit" : "after a clean shutdown", rep.records,
                cl->recovered_from, rep.end);
    return rk_mfq_truncate(&cl->mfq, rep.end);
}

int rk_commitlog_open(const rk_commitlog_config_t *cfg, rk_commitlog_t **out, char *err, size_t errlen)
{
    char dummy[8];
    if (err == NULL) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    rk_commitlog_t *cl = calloc(1, sizeof *cl);
    if (cl == NULL)
        return RK_ENOMEM;
    if (uv_mutex_init(&cl->dmg_mu) != 0) {
        free(cl);
        return RK_ENOMEM;
    }
    cl->lock_fd = -1;
    int rc = RK_EINVAL;
    const char *root = cfg->store_root ? cfg->store_root : "./store";
    if (snprintf(cl->root, sizeof cl->root, "%s", root) >= (int)sizeof cl->root) {
        uv_mutex_destroy(&cl->dmg_mu);
        free(cl);
        return RK_ETOOBIG;
    }
    char dir[PATH_MAX];
    if (cfg->commitlog_dir && *cfg->commitlog_dir)
        snprintf(dir, sizeof dir, "%s", cfg->commitlog_dir);
    else
        rk_path_join(dir, sizeof dir, root, "commitlog");
    snprintf(cl->abort_path, sizeof cl->abort_path, "%s/abort", cl->root);
    cl->flush_type = cfg->flush_type;
    cl->fd_writes = cl->flush_type == RK_FLUSH_SYNC;
    cl->file_size = cfg->file_size;
    cl->max_message_size = cfg->max_message_size;
    cl->flush_interval_ms = cfg->flush_interval_ms;
    cl->flush_least_pages = cfg->flush_least_pages;
    cl->flush_thorough_ms = cfg->flush_thorough_ms;
    cl->sync_timeout_ms = cfg->sync_flush_timeout_ms;
    char host[300];
    snprintf(host, sizeof host, "%s:%" PRId64, cfg->broker_ip1 ? cfg->broker_ip1 : "127.0.0.1",
             cfg->listen_port);
    if (rk_host_parse(host, &cl->store_host) != RK_OK) {
        snprintf(err, errlen, "brokerIP1/listenPort: \"%s\" is not an address", host);
        uv_mutex_destroy(&cl->dmg_mu);
        free(cl);
        return RK_EBADCONFIG;
    }
    rk_strmap_init(&cl->qtable);
    if ((rc = rk_mkdirs(cl->root, 0755)) != RK_OK) {
        snprintf(err, errlen, "%s: %s", cl->root, rk_strerror(rc));
        goto fail_early;
    }
    if ((rc = take_lock(cl, err, errlen)) != RK_OK)
        goto fail_early;
    cl->abnormal = rk_path_exists(cl->abort_path);
    char cp_path[PATH_MAX + 16];
    snprintf(cp_path, sizeof cp_path, "%s/checkpoint", cl->root);
    if ((rc = rk_checkpoint_open(cp_path, &cl->cp)) != RK_OK) {
        snprintf(err, errlen, "%s: %s", cp_path, rk_strerror(rc));
        goto fail_early;
    }
    if ((rc = rk_mfq_init(&cl->mfq, dir, (size_t)cfg->file_size)) != RK_OK) {
        snprintf(err, errlen, "%s: %s", dir, rk_strerror(rc));
        goto fail_early;
    }
    cl->mfq.warm = cfg->warm_mapped_file;
    if ((rc = rk_mfq_load(&cl->mfq, err, errlen)) != RK_OK)
        goto fail_mfq;
    if ((rc = recover(cl, cfg->check_crc_on_recover, err, errlen)) != RK_OK)
        goto fail_mfq;
    /* Queue offsets: ch04 alone rebuilds them from the whole log (chapter 5
     * re-seeds them from its consume queues, which is much cheaper). */
    if (!cfg->skip_queue_offset_scan && (rc = rebuild_queue_offsets(cl)) != RK_OK)
        goto fail_mfq;
    if (uv_mutex_init(&cl->put_mu) || uv_mutex_init(&cl->flush_mu) || uv_cond_init(&cl->flush_cond) ||
        uv_cond_init(&cl->prefault_cond) || uv_mutex_init(&cl->app_mu) || uv_cond_init(&cl->app_cond)) {
        rc = RK_ENOMEM;     /* init failures are not expected on Linux */
        snprintf(err, errlen, "cannot create locks");
        goto fail_mfq;
    }
    int fd = open(cl->abort_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", cl->abort_path, strerror(errno));
        goto fail_mfq;
    }
    close(fd);
    if (uv_thread_create(&cl->flush_thread, flush_main, cl) != 0) {
        rc = RK_ENOMEM;
        snprintf(err, errlen, "cannot start the flush thread");
        unlink(cl->abort_path);
        goto fail_mfq;
    }
    cl->prefault_ahead = cfg->prefault_ahead;
    if (cl->prefault_ahead > 0)
        cl->prefault_running = uv_thread_create(&cl->prefault_thread, prefault_main, cl) == 0;
    *out = cl;
    return RK_OK;
fail_mfq:
    rk_mfq_destroy(&cl->mfq);
fail_early:
    rk_checkpoint_close(cl->cp);
    if (cl->lock_fd >= 0)
        close(cl->lock_fd);
    rk_strmap_free(&cl->qtable, free);
    uv_mutex_destroy(&cl->dmg_mu);
    free(cl->dmg);
    free(cl->sus);
    free(cl);
    return rc;
}

void rk_commitlog_close(rk_commitlog_t *cl)
{
    if (cl == NULL)
        return;
    uv_mutex_lock(&cl->put_mu);
    write_pending(cl);                  /* a turn that never reached batch_end */
    uv_mutex_unlock(&cl->put_mu);
    uv_mutex_lock(&cl->flush_mu);
    cl->stopping = true;
    uv_cond_signal(&cl->flush_cond);
    uv_cond_signal(&cl->prefault_cond);
    uv_mutex_unlock(&cl->flush_mu);
    if (cl->prefault_running)
        uv_thread_join(&cl->prefault_thread);
    uv_thread_join(&cl->flush_thread);      /* it flushes everything on its way out */
    rk_checkpoint_set_physic(cl->cp, atomic_load(&cl->last_store_ts) > 0
                                         ? atomic_load(&cl->last_store_ts)
                                         : rk_checkpoint_physic(cl->cp));
    rk_checkpoint_close(cl->cp);
    rk_mapped_file_release(cl->cur);
    rk_mfq_destroy(&cl->mfq);
    if (unlink(cl->abort_path) != 0)
        rk_log_warn("commitlog", "cannot remove %s: %s", cl->abort_path, strerror(errno));
    close(cl->lock_fd);     /* releases the fcntl lock */
    rk_strmap_free(&cl->qtable, free);
    free(cl->wbuf);
    uv_mutex_destroy(&cl->put_mu);
    uv_mutex_destroy(&cl->flush_mu);
    uv_cond_destroy(&cl->flush_cond);
    uv_cond_destroy(&cl->prefault_cond);
    uv_mutex_destroy(&cl->app_mu);
    uv_cond_destroy(&cl->app_cond);
    uv_mutex_destroy(&cl->dmg_mu);
    free(cl->dmg);
    free(cl->sus);
    for (size_t i = 0; i < sizeof cl->remarks / sizeof cl->remarks[0]; i++)
        free(cl->remarks[i]);
    rk_log_info("commitlog", "closed %s cleanly", cl->root);
    free(cl);
}

/* ------------------------------------------------------------ reads and state */

int64_t rk_commitlog_min_offset(rk_commitlog_t *cl)
{
    int64_t m = rk_mfq_min_offset(&cl->mfq);
    return m < 0 ? 0 : m;
}
int64_t rk_commitlog_max_offset(rk_commitlog_t *cl) { return rk_mfq_max_offset(&cl->mfq); }
int64_t rk_commitlog_flushed_offset(rk_commitlog_t *cl) { return rk_mfq_flushed_offset(&cl->mfq); }
int64_t rk_commitlog_roll_next(rk_commitlog_t *cl, int64_t offset) { return rk_mfq_roll_next(&cl->mfq, offset); }
int64_t rk_commitlog_file_size(const rk_commitlog_t *cl) { return cl->file_size; }
rk_checkpoint_t *rk_commitlog_checkpoint(rk_commitlog_t *cl) { return cl->cp; }
bool rk_commitlog_was_abnormal(const rk_commitlog_t *cl) { return cl->abnormal; }
int64_t rk_commitlog_recovered_from(const rk_commitlog_t *cl) { return cl->recovered_from; }
int64_t rk_commitlog_recovered_end(const rk_commitlog_t *cl) { return cl->recovered_end; }
const rk_host_t *rk_commitlog_store_host(const rk_commitlog_t *cl) { return &cl->store_host; }
const char *rk_commitlog_root(const rk_commitlog_t *cl) { return cl->root; }
bool rk_commitlog_put_may_wait(const rk_commitlog_t *cl) { return cl->nstages > 0 || cl->flush_type == RK_FLUSH_SYNC; }

int rk_commitlog_delete_expired(rk_commitlog_t *cl, int64_t reserved_ms, bool force, int max_files)
{
    return rk_mfq_delete_expired(&cl->mfq, reserved_ms, force, max_files);
}

int rk_commitlog_read(rk_commitlog_t *cl, int64_t offset, rk_slice_t *out)
{
    memset(out, 0, sizeof *out);
    rk_mapped_file_t *mf = rk_mfq_find(&cl->mfq, offset);
    if (mf == NULL)
        return RK_ENOTFOUND;
    int64_t pos = offset - mf->from, end = atomic_load(&mf->committed);
    if (pos >= end) {
        rk_mapped_file_release(mf);
        return RK_ENOTFOUND;
    }
    out->data = mf->base + pos;
    out->len = (size_t)(end - pos);
    out->mf = mf;
    return RK_OK;
}

int rk_commitlog_read_record(rk_commitlog_t *cl, int64_t offset, rk_slice_t *out, rk_record_t *rec)
{
    if (rk_commitlog_skip_damaged(cl, offset) != offset) {
        memset(out, 0, sizeof *out);
        return RK_ECORRUPT;         /* a known damaged range: never handed out */
    }
    int rc = rk_commitlog_read(cl, offset, out);
    if (rc != RK_OK)
        return rc;
    rc = rk_record_decode(out->data, out->len, false, rec);
    if (rc == RK_OK && rk_record_is_blank(rec))
        rc = RK_EEOF;
    if (rc != RK_OK) {
        rk_slice_release(out);
        return rc;
    }
    out->len = rec->total_size;
    return RK_OK;
}

bool rk_commitlog_wait_append(rk_commitlog_t *cl, int64_t offset, int timeout_ms)
{
    if (rk_commitlog_max_offset(cl) > offset)
        return true;
    uint64_t deadline = rk_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    atomic_fetch_add(&cl->app_waiters, 1);
    uv_mutex_lock(&cl->app_mu);
    uint64_t gen = atomic_load(&cl->wake_gen);
    bool ok;
    while (!(ok = rk_commitlog_max_offset(cl) > offset) && atomic_load(&cl->wake_gen) == gen) {
        uint64_t now = rk_mono_ns();
        if (now >= deadline || uv_cond_timedwait(&cl->app_cond, &cl->app_mu, deadline - now) != 0) {
            ok = rk_commitlog_max_offset(cl) > offset;
            break;
        }
    }
    uv_mutex_unlock(&cl->app_mu);
    atomic_fetch_sub(&cl->app_waiters, 1);
    return ok;
}

void rk_commitlog_wake_waiters(rk_commitlog_t *cl)
{
    uv_mutex_lock(&cl->app_mu);
    atomic_fetch_add(&cl->wake_gen, 1);
    uv_cond_broadcast(&cl->app_cond);
    uv_mutex_unlock(&cl->app_mu);
}

/* ------------------------------------------------------------ raw append (replication, ch08) */

int rk_commitlog_put_batch_async(rk_commitlog_t *cl, const rk_msg_t *msgs, int n, int64_t *phys, rk_put_cb cb,
                                 void *arg)
{
    return put_common(cl, msgs, n, NULL, phys, cb, arg, true);
}

/* Validates the records of data against the file that will hold them and
 * returns how many input bytes form whole records (0: the first is not
 * complete yet), *blank set when the prefix ends with the file's BLANK, or
 * RK_ECORRUPT. Nothing is written. */
static int64_t raw_validate(const rk_commitlog_t *cl, int64_t offset, const uint8_t *data, size_t len,
                            bool *blank)
{
    *blank = false;
    int64_t pos = offset % cl->file_size, done = 0;
    while ((size_t)done < len) {
        size_t left = len - (size_t)done, room = (size_t)(cl->file_size - pos);
        const uint8_t *p = data + done;
        if (left < 8)
            break;                              /* not even a header yet */
        uint32_t total = rk_be_get32(p), magic = rk_be_get32(p + 4);
        if (magic == RK_MAGIC_BLANK) {
            /* A BLANK closes the file: it must say exactly how much is left,
             * and what follows it in this file is zeros. */
            if (total != room)
                return RK_ECORRUPT;
            size_t have = left < room ? left : room;
            for (size_t i = 8; i < have; i++)
                if (p[i] != 0)
                    return RK_ECORRUPT;
            *blank = true;
            return done + (int64_t)have;
        }
        if (magic != RK_MAGIC_MESSAGE_V1 || total < RK_RECORD_FIXED_V4 + 7 ||
            (int64_t)total > cl->max_message_size + RK_RECORD_FIXED_V4 + 48 + RK_TOPIC_MAX_LEN + 1 +
                                 RK_PROPERTIES_MAX_LEN + 2 + 4 ||
            (size_t)total + RK_END_FILE_MIN_BLANK_LEN > room)
            return RK_ECORRUPT;
        if (total > left)
            break;                              /* the rest comes in the next frame */
        rk_record_t rec;
        if (rk_record_decode(p, total, true, &rec) != RK_OK || rk_record_is_blank(&rec) ||
            rec.phys_offset != offset + done)
            return RK_ECORRUPT;
        done += total;
        pos += total;
    }
    return done;
}

int rk_commitlog_append_raw(rk_commitlog_t *cl, int64_t offset, const uint8_t *data, size_t len, size_t *used)
{
    *used = 0;
    if (offset < 0 || (data == NULL && len > 0))
        return RK_EINVAL;
    uv_mutex_lock(&cl->put_mu);
    write_pending(cl);                  /* the log's end is wrote, not committed, until then */
    int64_t max = rk_mfq_max_offset(&cl->mfq);
    bool empty = rk_mfq_count(&cl->mfq) == 0;
    /* An empty log may begin at any file boundary (a slave that starts from
     * the master's last file); otherwise the bytes continue the log. */
    if (empty ? offset % cl->file_size != 0 : offset != max) {
        uv_mutex_unlock(&cl->put_mu);
        return RK_EINVAL;
    }
    bool blank;
    int64_t n = raw_validate(cl, offset, data, len, &blank);
    if (n <= 0) {
        uv_mutex_unlock(&cl->put_mu);
        return n < 0 ? (int)n : RK_OK;
    }
    rk_mapped_file_t *mf = cl->cur;
    if (mf == NULL || rk_mapped_file_full(mf)) {
        if (mf != NULL)
            rk_mapped_file_release(mf);
        cl->cur = NULL;
        if (rk_mfq_last_or_create(&cl->mfq, offset, &cl->cur) != RK_OK) {
            uv_mutex_unlock(&cl->put_mu);
            return RK_EFULL;
        }
        mf = cl->cur;
    }
    int64_t pos = atomic_load(&mf->wrote);
    if (mf->from + pos != offset) {             /* cannot happen: the checks above */
        uv_mutex_unlock(&cl->put_mu);
        return RK_ECORRUPT;
    }
    /* blocks before bytes, as for a put: a file loaded at start may have
     * holes (rk/mapped_file.h); a created one is reserved whole */
    int rrc = reserve_noted(cl, mf, rk_mapped_file_reserve(mf, pos + n));
    if (rrc != RK_OK) {
        uv_mutex_unlock(&cl->put_mu);
        return rrc;
    }
    rk_mapped_file_claim(mf, pos + n);
    if (cl->fd_writes)                  /* as append() does, for the same reason */
        rk_mapped_file_write(mf, pos, data, (size_t)n);
    else
        memcpy(mf->base + pos, data, (size_t)n);  /* a BLANK's tail is zeros over zeros */
    /* Queue offsets follow the master's, so this log can take puts itself
     * after a role change. */
    for (int64_t at = 0; at < n;) {
        rk_record_t rec;
        if (rk_record_decode(mf->base + pos + at, (size_t)(n - at), false, &rec) != RK_OK || rk_record_is_blank(&rec))
            break;
        int txn = rk_sysflag_txn(rec.sys_flag);
        if (txn == RK_SYSFLAG_TXN_NOT || txn == RK_SYSFLAG_TXN_COMMIT) {
            char key[RK_TOPIC_MAX_LEN + 16];
            qkey(key, sizeof key, rec.topic, rec.topic_len, rec.queue_id);
            int64_t *slot = qslot(cl, key);
            if (slot != NULL && *slot < rec.queue_offset + 1)
                *slot = rec.queue_offset + 1;
        }
        atomic_store(&cl->last_store_ts, rec.store_ts);
        at += rec.total_size;
    }
    int64_t end = blank ? (int64_t)mf->size : pos + n;
    atomic_store(&mf->wrote, end);
    atomic_store(&mf->committed, end);
    uv_mutex_unlock(&cl->put_mu);
    notify_append(cl);
    *used = (size_t)n;
    return RK_OK;
}

int rk_commitlog_truncate_dir(const char *dir, int64_t file_size, int64_t offset, int64_t *dropped)
{
    if (dropped != NULL)
        *dropped = 0;
    if (dir == NULL || file_size <= 0 || offset < 0)
        return RK_EINVAL;
    rk_mfq_t q;
    int rc = rk_mfq_init(&q, dir, (size_t)file_size);
    if (rc != RK_OK)
        return rc;
    char err[256] = "";
    if ((rc = rk_mfq_load(&q, err, sizeof err)) != RK_OK) {
        rk_log_error("commitlog", "truncate: %s: %s", dir, err[0] ? err : rk_strerror(rc));
        rk_mfq_destroy(&q);
        return rc;
    }
    int n = rk_mfq_count(&q);
    if (n == 0) {
        rk_mfq_destroy(&q);
        return offset == 0 ? RK_OK : RK_EINVAL;
    }
    int64_t min = rk_mfq_min_offset(&q);
    if (offset < min) {
        rk_mfq_destroy(&q);
        return RK_EINVAL;
    }
    rk_scan_report_t rep;
    memset(&rep, 0, sizeof rep);
    rep.end = offset;
    int64_t end = rk_commitlog_scan_dir(dir, file_size, offset, false, NULL, NULL, &rep) == RK_OK ? rep.end : offset;
    {
        rc = rk_mfq_truncate(&q, offset);
        rk_mapped_file_t *mf = rc == RK_OK ? rk_mfq_find(&q, offset) : NULL;
        if (mf != NULL) {
            if (msync(mf->base, mf->size, MS_SYNC) != 0)
                rc = -errno;
            rk_mapped_file_release(mf);
        }
        if (rc == RK_OK)
            rc = rk_fsync_dir(dir);
        if (rc == RK_OK && dropped != NULL)
            *dropped = end - offset;
    }
    rk_mfq_destroy(&q);
    return rc;
}

int rk_commitlog_set_status_remark(rk_commitlog_t *cl, rk_put_status_t s, const char *text)
{
    if ((unsigned)s >= sizeof cl->remarks / sizeof cl->remarks[0] || text == NULL || strlen(text) > 255)
        return RK_EINVAL;
    char *copy = strdup(text);
    if (copy == NULL)
        return RK_ENOMEM;
    free(cl->remarks[s]);
    cl->remarks[s] = copy;
    return RK_OK;
}

const char *rk_commitlog_status_remark(const rk_commitlog_t *cl, rk_put_status_t s)
{
    return (unsigned)s < sizeof cl->remarks / sizeof cl->remarks[0] ? cl->remarks[s] : NULL;
}
