/* consumequeue.c — one consume queue: a chain of ch04 mapped files of
 * 20-byte units (see rk/consumequeue.h).
 *
 * Each file is an rk_mapped_file_t (ch04): reference counted (the queue
 * holds one reference, each reader one more), unlinked when the last one
 * goes. The writer stores a unit's bytes, then publishes `committed` with
 * release ordering, so a reader (acquire) never sees a unit before its
 * bytes. The chain itself is kept here rather than in ch04's rk_mfq_t,
 * because rk_mfq_init() only accepts page-multiple file sizes and
 * RocketMQ's consume-queue file is 6,000,000 bytes (300,000 units). The file
 * list is guarded by a rwlock: readers take it shared just long enough to
 * find and reference a file. */
#include "rk/consumequeue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/grow.h"
#include "rk/log.h"
#include "rk/mapped_file.h"


typedef rk_mapped_file_t cqf_t;

static void cqf_unref(cqf_t *f) { rk_mapped_file_release(f); }

static size_t committed_of(const cqf_t *f)
{
    return (size_t)atomic_load_explicit(&f->committed, memory_order_acquire);
}

/* Publishes a new end (pos bytes) of f: the writer only. */
static void set_end(cqf_t *f, size_t pos)
{
    atomic_store(&f->wrote, (int64_t)pos);
    atomic_store_explicit(&f->committed, (int64_t)pos, memory_order_release);
}

static int cqf_map(const char *dir, int64_t base, size_t size, bool create, bool warm, cqf_t **out)
{
    /* RocketMQ's file size and name, but blocks reserved ahead of the
     * writer in growing chunks: one unit costs a page, not 6 MB */
    int rc = rk_mapped_file_open_grow(dir, base, size, create, out);
    if (rc != RK_OK)
        return rc;
    if (create && atomic_load(&(*out)->wrote) != 0) {
        /* a stale file of a truncated queue: start it afresh */
        rk_mapped_file_reset_to(*out, 0);
    }
    if (create && warm)
        rk_mapped_file_warm(*out);
    return RK_OK;
}

/* ---- the queue -------------------------------------------------------- */

struct rk_cq {
    pthread_rwlock_t lock;       /* guards files/n/cap/min_bytes */
    cqf_t **files;               /* ascending base */
    int n, cap;
    int64_t file_size;
    int64_t min_bytes;           /* minLogicOffset                */
    _Atomic int64_t max_phys;
    char dir[PATH_MAX];
    char topic[256];
    int qid;
    bool warm;
    bool repaired;               /* open cut the queue at a damaged file */
};

const char *rk_cq_topic(const rk_cq_t *cq) { return cq->topic; }
int rk_cq_queue_id(const rk_cq_t *cq) { return cq->qid; }
void rk_cq_set_warm(rk_cq_t *cq, bool warm) { cq->warm = warm; }
bool rk_cq_was_repaired(const rk_cq_t *cq) { return cq->repaired; }

static int push_file(rk_cq_t *cq, cqf_t *f)
{
    if (RK_GROW(cq->files, cq->cap, cq->n + 1, 4) != RK_OK)
        return RK_ENOMEM;
    cq->files[cq->n++] = f;
    return RK_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Renames the files at bases[0..n) to <name>.damaged (never deleted: their
 * units are kept for inspection; the loader ignores these names). Marks
 * the queue repaired. */
static int set_aside(rk_cq_t *cq, const int64_t *bases, size_t n)
{
    cq->repaired = true;
    for (size_t i = 0; i < n; i++) {
        char from[PATH_MAX + 32], to[PATH_MAX + 48];
        snprintf(from, sizeof from, "%s/%020" PRId64, cq->dir, bases[i]);
        snprintf(to, sizeof to, "%s.damaged", from);
        if (rename(from, to) != 0) {
            int e = -errno;
            rk_log_error("cq", "cannot set %s aside: %s", from, rk_strerror(e));
            return e;
        }
        rk_log_warn("cq", "%s: set aside as %s (the queue ends before it)", from, to);
    }
    return RK_OK;
}

/* A file shorter than file_size: its whole units go into a fresh file at
 * the same place (the short one is kept as <name>.damaged), later files are
 * set aside, and the queue ends after the last whole unit. */
static int salvage_short_file(rk_cq_t *cq, const char *path, int64_t base, int64_t size,
                              const int64_t *later, size_t nlater)
{
    char *old = NULL;
    size_t len = 0;
    int rc = rk_file_read_all(path, &old, &len);
    if (rc != RK_OK)
        return rc;
    if ((int64_t)len > cq->file_size)
        len = (size_t)cq->file_size;
    size_t whole = len - len % RK_CQ_UNIT_SIZE;
    rk_log_warn("cq", "%s: %lld bytes where %lld were expected (cut short): keeping its %zu whole "
                "unit(s), the queue ends there and is rebuilt from the commitlog", path,
                (long long)size, (long long)cq->file_size, whole / RK_CQ_UNIT_SIZE);
    if ((rc = set_aside(cq, later, nlater)) == RK_OK)
        rc = set_aside(cq, &base, 1);
    cqf_t *f = NULL;
    if (rc == RK_OK)
        rc = cqf_map(cq->dir, base, (size_t)cq->file_size, true, false, &f);
    if (rc == RK_OK && (rc = rk_mapped_file_reserve(f, (int64_t)whole)) != RK_OK) {
        /* blocks before bytes: the fresh file has one page; the units stay
         * in the .damaged file */
        rk_log_error("cq", "%s: no disk space to salvage %zu unit(s) into a fresh file: %s", path,
                     whole / RK_CQ_UNIT_SIZE, rk_strerror(rc));
        rk_mapped_file_destroy(f);
        cqf_unref(f);
    } else if (rc == RK_OK) {
        memcpy(f->base, old, whole);
        set_end(f, whole);
        if ((rc = push_file(cq, f)) != RK_OK) {
            rk_mapped_file_destroy(f);
            cqf_unref(f);
        }
    }
    free(old);
    return rc;
}

int rk_cq_open(const char *cq_root, const char *topic, int qid, int64_t file_size, rk_cq_t **out)
{
    *out = NULL;
    if (file_size <= 0 || file_size % RK_CQ_UNIT_SIZE != 0 || qid < 0 || strlen(topic) >= 256 ||
        strchr(topic, '/') || topic[0] == '.' || topic[0] == '\0')
        return RK_EINVAL;
    rk_cq_t *cq = calloc(1, sizeof *cq);
    if (cq == NULL)
        return RK_ENOMEM;
    int rc = pthread_rwlock_init(&cq->lock, NULL);
    if (rc != 0) {
        free(cq);
        return -rc;
    }
    cq->file_size = file_size;
    cq->qid = qid;
    snprintf(cq->topic, sizeof cq->topic, "%s", topic);
    if (snprintf(cq->dir, sizeof cq->dir, "%s/%s/%d", cq_root, topic, qid) >= (int)sizeof cq->dir) {
        rk_cq_close(cq);
        return RK_ETOOBIG;
    }
    if ((rc = rk_mkdirs(cq->dir, 0755)) != RK_OK) {
        rk_cq_close(cq);
        return rc;
    }
    DIR *d = opendir(cq->dir);
    if (d == NULL) {
        rc = -errno;
        rk_cq_close(cq);
        return rc;
    }
    int64_t *bases = NULL;
    size_t nb = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strlen(de->d_name) != 20 || strspn(de->d_name, "0123456789") != 20)
            continue;
        if (RK_GROW(bases, cap, nb + 1, 8) != RK_OK) {
            rc = RK_ENOMEM;
            break;
        }
        bases[nb++] = strtoll(de->d_name, NULL, 10);
    }
    closedir(d);
    if (nb)
        qsort(bases, nb, sizeof *bases, cmp_i64);
    for (size_t i = 0; i < nb && rc == RK_OK; i++) {
        if (bases[i] % file_size != 0) {
            rk_log_error("cq", "%s: file %020" PRId64 " is not at a multiple of %lld bytes "
                         "(mappedFileSizeConsumeQueue changed?)", cq->dir, bases[i],
                         (long long)file_size);
            rc = RK_ECORRUPT;
            break;
        }
        if (i > 0 && bases[i] != bases[i - 1] + file_size) {
            /* a file is missing in the middle: the queue ends before it */
            rk_log_warn("cq", "%s: no file between %020" PRId64 " and %020" PRId64, cq->dir,
                        bases[i - 1], bases[i]);
            rc = set_aside(cq, bases + i, nb - i);
            break;
        }
        char path[PATH_MAX + 32];
        struct stat st;
        snprintf(path, sizeof path, "%s/%020" PRId64, cq->dir, bases[i]);
        if (stat(path, &st) == 0 && st.st_size < file_size) {
            if (i == nb - 1 && st.st_size == 0) {
                /* A crash between creating the newest file and allocating
                 * it leaves it empty. Nothing can have been written to it
                 * (writes go through the mapping of the full size), so it
                 * is dropped, not refused. */
                rk_log_warn("cq", "%s: 0 bytes, a creation cut short by a crash; deleting it", path);
                if (unlink(path) != 0)
                    rc = -errno;
                break;
            }
            /* Cut short (truncated, a partial unit): keep its whole units,
             * end the queue there; the store rebuilds the rest from the
             * commitlog. */
            rc = salvage_short_file(cq, path, bases[i], (int64_t)st.st_size, bases + i + 1, nb - i - 1);
            break;
        }
        cqf_t *f = NULL;
        rc = cqf_map(cq->dir, bases[i], (size_t)file_size, false, false, &f);
        if (rc == RK_OK && (rc = push_file(cq, f)) != RK_OK)
            cqf_unref(f);
    }
    free(bases);
    if (rc != RK_OK) {
        rk_cq_close(cq);
        return rc;
    }
    cq->min_bytes = cq->n ? cq->files[0]->from : 0;
    *out = cq;
    return RK_OK;
}

void rk_cq_close(rk_cq_t *cq)
{
    if (cq == NULL)
        return;
    for (int i = 0; i < cq->n; i++)
        cqf_unref(cq->files[i]);
    free(cq->files);
    pthread_rwlock_destroy(&cq->lock);
    free(cq);
}

int rk_cq_destroy(rk_cq_t *cq)
{
    int rc = RK_OK;
    for (int i = 0; i < cq->n; i++)
        rk_mapped_file_destroy(cq->files[i]);    /* unlinked as close releases them */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", cq->dir);
    rk_cq_close(cq);
    if (rmdir(dir) != 0 && errno != ENOENT && rc == RK_OK)
        rc = -errno;
    return rc;
}

static int64_t end_bytes_locked(const rk_cq_t *cq)
{
    if (cq->n == 0)
        return 0;
    const cqf_t *l = cq->files[cq->n - 1];
    return l->from + (int64_t)committed_of(l);
}

int64_t rk_cq_min_offset(rk_cq_t *cq)
{
    pthread_rwlock_rdlock(&cq->lock);
    int64_t v = cq->min_bytes / RK_CQ_UNIT_SIZE;
    pthread_rwlock_unlock(&cq->lock);
    return v;
}

int64_t rk_cq_max_offset(rk_cq_t *cq)
{
    pthread_rwlock_rdlock(&cq->lock);
    int64_t v = end_bytes_locked(cq) / RK_CQ_UNIT_SIZE;
    pthread_rwlock_unlock(&cq->lock);
    return v;
}

int64_t rk_cq_max_phys(rk_cq_t *cq) { return atomic_load(&cq->max_phys); }

int rk_cq_file_count(rk_cq_t *cq)
{
    pthread_rwlock_rdlock(&cq->lock);
    int n = cq->n;
    pthread_rwlock_unlock(&cq->lock);
    return n;
}

/* The file holding byte `pos`, or NULL; caller holds the lock. */
static cqf_t *file_at_locked(const rk_cq_t *cq, int64_t pos)
{
    if (cq->n == 0 || pos < cq->files[0]->from)
        return NULL;
    int64_t i = (pos - cq->files[0]->from) / cq->file_size;
    return i < cq->n ? cq->files[i] : NULL;
}

/* Recomputes max_phys from the newest real unit; caller holds the lock
 * exclusively (or is the only user). */
static void reset_max_phys_locked(rk_cq_t *cq)
{
    int64_t end = end_bytes_locked(cq);
    int64_t mp = 0;
    for (int64_t pos = end - RK_CQ_UNIT_SIZE; pos >= cq->min_bytes && pos >= 0; pos -= RK_CQ_UNIT_SIZE) {
        cqf_t *f = file_at_locked(cq, pos);
        if (f == NULL)
            break;
        rk_cq_unit_t u = rk_cq_unit_decode(f->base + (pos - f->from));
        if (!rk_cq_unit_is_blank(&u)) {
            mp = u.phys + u.size;
            break;
        }
    }
    atomic_store(&cq->max_phys, mp);
}

/* Drops files from index i on (unlinking them). Caller holds the lock. */
static void drop_files_from_locked(rk_cq_t *cq, int i)
{
    while (cq->n > i) {
        cqf_t *f = cq->files[--cq->n];
        rk_mapped_file_destroy(f);
        cqf_unref(f);
    }
}

int64_t rk_cq_recover(rk_cq_t *cq)
{
    pthread_rwlock_wrlock(&cq->lock);
    int64_t valid = 0;
    if (cq->n == 0) {
        pthread_rwlock_unlock(&cq->lock);
        atomic_store(&cq->max_phys, 0);
        return 0;
    }
    int i = cq->n > 3 ? cq->n - 3 : 0;
    for (; i < cq->n; i++) {
        cqf_t *f = cq->files[i];
        size_t pos = 0;
        /* units end where the file's data does: never read (fault in) the
         * holes and unwritten blocks past it, they are zeros */
        size_t limit = (size_t)rk_mapped_file_data_end(f, 0);
        for (; pos + RK_CQ_UNIT_SIZE <= limit; pos += RK_CQ_UNIT_SIZE) {
            rk_cq_unit_t u = rk_cq_unit_decode(f->base + pos);
            if (!rk_cq_unit_is_valid(&u))
                break;
            valid++;
        }
        if (pos < f->size)
            rk_mapped_file_reset_to(f, (int64_t)pos);
        else
            set_end(f, pos);
        if (pos < f->size) {
            /* the end: later files hold nothing we can trust */
            if (i + 1 < cq->n)
                rk_log_warn("cq", "%s: dropping %d file(s) after the last valid unit", cq->dir,
                            cq->n - i - 1);
            drop_files_from_locked(cq, i + 1);
            break;
        }
    }
    /* an empty last file is kept only if it is the first (a fresh queue) */
    while (cq->n > 1 && committed_of(cq->files[cq->n - 1]) == 0)
        drop_files_from_locked(cq, cq->n - 1);
    if (cq->min_bytes > end_bytes_locked(cq))
        cq->min_bytes = end_bytes_locked(cq);
    reset_max_phys_locked(cq);
    pthread_rwlock_unlock(&cq->lock);
    return valid;
}

int rk_cq_truncate_phys(rk_cq_t *cq, int64_t phys)
{
    pthread_rwlock_wrlock(&cq->lock);
    /* find the new end scanning back (units are in log order), then cut once */
    int dropped = 0;
    int fi = cq->n - 1;
    int64_t pos = fi >= 0 ? (int64_t)committed_of(cq->files[fi]) : 0;
    while (fi >= 0) {
        cqf_t *f = cq->files[fi];
        if (f->from + pos <= cq->min_bytes)
            break;
        if (pos == 0) {
            if (fi == 0)
                break;
            fi--;
            pos = (int64_t)committed_of(cq->files[fi]);
            continue;
        }
        rk_cq_unit_t u = rk_cq_unit_decode(f->base + pos - RK_CQ_UNIT_SIZE);
        if (rk_cq_unit_is_blank(&u) || u.phys < phys)
            break;
        pos -= RK_CQ_UNIT_SIZE;
        dropped++;
    }
    if (dropped) {
        drop_files_from_locked(cq, fi + 1 > 1 ? fi + 1 : 1);
        if (fi >= 0)
            rk_mapped_file_reset_to(cq->files[fi], pos);
    }
    if (cq->min_bytes > end_bytes_locked(cq))
        cq->min_bytes = end_bytes_locked(cq);
    reset_max_phys_locked(cq);
    pthread_rwlock_unlock(&cq->lock);
    if (dropped)
        rk_log_warn("cq", "%s: truncated %d unit(s) pointing at or past commitlog offset %lld",
                    cq->dir, dropped, (long long)phys);
    return dropped;
}

/* The file that takes a write at byte `pos` (creating it). Writer only. */
static int writable_file(rk_cq_t *cq, int64_t pos, cqf_t **out)
{
    /* cleanup may shift the array under the lock; the newest file itself is
     * never removed by anyone but this (single) writer */
    pthread_rwlock_rdlock(&cq->lock);
    cqf_t *l = cq->n > 0 ? cq->files[cq->n - 1] : NULL;
    pthread_rwlock_unlock(&cq->lock);
    if (l && pos >= l->from && pos < l->from + (int64_t)l->size) {
        *out = l;
        return RK_OK;
    }
    int64_t base = pos - pos % cq->file_size;
    cqf_t *f = NULL;
    int rc = cqf_map(cq->dir, base, (size_t)cq->file_size, true, cq->warm, &f);
    if (rc != RK_OK)
        return rc;
    pthread_rwlock_wrlock(&cq->lock);
    rc = push_file(cq, f);
    pthread_rwlock_unlock(&cq->lock);
    if (rc != RK_OK) {
        rk_mapped_file_destroy(f);
        cqf_unref(f);
        return rc;
    }
    *out = f;
    return RK_OK;
}

static int write_unit(rk_cq_t *cq, int64_t pos, const rk_cq_unit_t *u)
{
    cqf_t *f;
    int rc = writable_file(cq, pos, &f);
    if (rc != RK_OK)
        return rc;
    /* blocks before bytes: a full disk is -ENOSPC here, not a SIGBUS */
    if ((rc = rk_mapped_file_reserve(f, pos - f->from + RK_CQ_UNIT_SIZE)) != RK_OK)
        return rc;
    rk_cq_unit_encode(f->base + (pos - f->from), u);
    set_end(f, (size_t)(pos - f->from) + RK_CQ_UNIT_SIZE);
    return RK_OK;
}

int rk_cq_put(rk_cq_t *cq, int64_t offset, const rk_cq_unit_t *u)
{
    if (offset < 0 || u->size <= 0 || u->phys < 0)
        return RK_EINVAL;
    int64_t want = offset * RK_CQ_UNIT_SIZE;
    pthread_rwlock_rdlock(&cq->lock);
    /* a fresh queue (nothing written yet) may start anywhere */
    bool fresh = cq->n == 0 || (cq->n == 1 && committed_of(cq->files[0]) == 0);
    int64_t end = end_bytes_locked(cq);
    pthread_rwlock_unlock(&cq->lock);
    if (fresh) {
        pthread_rwlock_wrlock(&cq->lock);
        if (cq->n == 1 && committed_of(cq->files[0]) == 0 &&
            cq->files[0]->from != want - want % cq->file_size)
            drop_files_from_locked(cq, 0);
        end = end_bytes_locked(cq);
        pthread_rwlock_unlock(&cq->lock);
    }
    if (fresh && want > 0) {
        /* a queue that starts past 0: blank units before the first one,
         * and min offset right at it (fillPreBlank) */
        int64_t base = want - want % cq->file_size;
        rk_cq_unit_t blank = {0, INT32_MAX, 0};
        for (int64_t p = base; p < want; p += RK_CQ_UNIT_SIZE) {
            int rc = write_unit(cq, p, &blank);
            if (rc != RK_OK)
                return rc;
        }
        pthread_rwlock_wrlock(&cq->lock);
        cq->min_bytes = want;
        pthread_rwlock_unlock(&cq->lock);
        end = want;
    }
    if (want < end)
        return 0;                           /* a repeat (re-dispatch) */
    if (want > end) {
        rk_log_warn("cq", "%s: queue offset %lld expected, got %lld: filling the gap with blanks",
                    cq->dir, (long long)(end / RK_CQ_UNIT_SIZE), (long long)offset);
        rk_cq_unit_t blank = {0, INT32_MAX, 0};
        for (int64_t p = end; p < want; p += RK_CQ_UNIT_SIZE) {
            int rc = write_unit(cq, p, &blank);
            if (rc != RK_OK)
                return rc;
        }
    }
    int rc = write_unit(cq, want, u);
    if (rc != RK_OK)
        return rc;
    atomic_store(&cq->max_phys, u->phys + u->size);
    return 1;
}

int rk_cq_read(rk_cq_t *cq, int64_t offset, rk_cq_slice_t *out)
{
    memset(out, 0, sizeof *out);
    int64_t pos = offset * RK_CQ_UNIT_SIZE;
    pthread_rwlock_rdlock(&cq->lock);
    int64_t end = end_bytes_locked(cq);
    cqf_t *f = (offset >= 0 && pos >= cq->min_bytes && pos < end) ? file_at_locked(cq, pos) : NULL;
    if (f)
        atomic_fetch_add(&f->refs, 1);
    pthread_rwlock_unlock(&cq->lock);
    if (f == NULL)
        return RK_ENOTFOUND;
    int64_t fend = f->from + (int64_t)committed_of(f);
    if (fend > end)
        fend = end;
    out->units = f->base + (pos - f->from);
    out->offset = offset;
    out->count = (int)((fend - pos) / RK_CQ_UNIT_SIZE);
    out->ref = f;
    return RK_OK;
}

void rk_cq_slice_release(rk_cq_slice_t *s)
{
    if (s && s->ref) {
        cqf_unref(s->ref);
        s->ref = NULL;
        s->units = NULL;
    }
}

int rk_cq_get_unit(rk_cq_t *cq, int64_t offset, rk_cq_unit_t *out)
{
    rk_cq_slice_t s;
    int rc = rk_cq_read(cq, offset, &s);
    if (rc != RK_OK)
        return rc;
    *out = rk_cq_unit_decode(s.units);
    rk_cq_slice_release(&s);
    return RK_OK;
}

int64_t rk_cq_offset_by_time(rk_cq_t *cq, int64_t ts, rk_cq_store_ts_fn store_ts, void *ctx)
{
    int64_t lo = rk_cq_min_offset(cq), hi = rk_cq_max_offset(cq) - 1;
    if (hi < lo)
        return lo > 0 ? lo : 0;
    int64_t left = -1, right = -1, left_ts = -1, right_ts = -1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        rk_cq_unit_t u;
        if (rk_cq_get_unit(cq, mid, &u) != RK_OK)
            return rk_cq_min_offset(cq);   /* the head went away under us */
        int64_t t = rk_cq_unit_is_blank(&u) ? -1 : store_ts(u.phys, u.size, ctx);
        if (t < 0) {
            lo = mid + 1;                  /* removed from the log: look later */
            continue;
        }
        if (t < ts) {
            left = mid;
            left_ts = t;
            lo = mid + 1;
        } else {
            right = mid;
            right_ts = t;
            hi = mid - 1;
        }
    }
    /* right is the first message stored at or after ts: with several in the same millisecond,
     * a consumer reset to ts must not skip those before the one a search happened to hit */
    if (right >= 0 && right_ts == ts)
        return right;
    if (left < 0)
        return right >= 0 ? right : rk_cq_min_offset(cq);
    if (right < 0)
        return left;
    return (ts - left_ts) > (right_ts - ts) ? right : left;
}

int rk_cq_flush(rk_cq_t *cq, int least_pages)
{
    int rc = RK_OK;
    pthread_rwlock_rdlock(&cq->lock);
    for (int i = 0; i < cq->n; i++) {
        int64_t r = rk_mapped_file_flush(cq->files[i], least_pages);
        if (r < 0 && rc == RK_OK)
            rc = (int)r;
    }
    pthread_rwlock_unlock(&cq->lock);
    return rc;
}

int rk_cq_delete_expired(rk_cq_t *cq, int64_t min_phys)
{
    int deleted = 0;
    pthread_rwlock_wrlock(&cq->lock);
    while (cq->n > 1) {
        cqf_t *f = cq->files[0];
        rk_cq_unit_t last = rk_cq_unit_decode(f->base + f->size - RK_CQ_UNIT_SIZE);
        if (last.phys >= min_phys)
            break;
        rk_log_info("cq", "deleting expired consume queue file %s (last unit at commitlog %lld < min %lld)",
                    f->path, (long long)last.phys, (long long)min_phys);
        rk_mapped_file_destroy(f);
        memmove(cq->files, cq->files + 1, (size_t)(cq->n - 1) * sizeof *cq->files);
        cq->n--;
        cqf_unref(f);      /* unmapped when the last reader releases it */
        deleted++;
    }
    /* correctMinOffset: skip units (and blanks) below the log's min offset */
    if (cq->n > 0) {
        cqf_t *f = cq->files[0];
        int64_t end = end_bytes_locked(cq);
        int64_t pos = cq->min_bytes > f->from ? cq->min_bytes : f->from;
        int64_t fend = f->from + (int64_t)committed_of(f);
        for (; pos < fend; pos += RK_CQ_UNIT_SIZE) {
            rk_cq_unit_t u = rk_cq_unit_decode(f->base + (pos - f->from));
            if (!rk_cq_unit_is_blank(&u) && u.phys >= min_phys)
                break;
        }
        if (pos > end)
            pos = end;
        if (pos > cq->min_bytes)
            cq->min_bytes = pos;
    }
    pthread_rwlock_unlock(&cq->lock);
    return deleted;
}
