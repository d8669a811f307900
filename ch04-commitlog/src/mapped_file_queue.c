/* mapped_file_queue.c — a log's row of mapped files (see rk/mapped_file_queue.h). */
#include "rk/mapped_file_queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/grow.h"
#include "rk/log.h"

int rk_mfq_init(rk_mfq_t *q, const char *dir, size_t file_size)
{
    memset(q, 0, sizeof *q);
    if (file_size == 0)         /* any size: RocketMQ's consume-queue files are 6,000,000 bytes */
        return RK_EINVAL;
    if (snprintf(q->dir, sizeof q->dir, "%s", dir) >= (int)sizeof q->dir)
        return RK_ETOOBIG;
    int rc = rk_mkdirs(dir, 0755);
    if (rc != RK_OK)
        return rc;
    q->file_size = file_size;
    if (uv_rwlock_init(&q->lock) != 0)
        return RK_ENOMEM;
    if (uv_mutex_init(&q->create_mu) != 0) {
        uv_rwlock_destroy(&q->lock);
        return RK_ENOMEM;
    }
    return RK_OK;
}

void rk_mfq_destroy(rk_mfq_t *q)
{
    if (q->file_size == 0)
        return;
    for (int i = 0; i < q->n; i++)
        rk_mapped_file_release(q->files[i]);
    if (q->spare != NULL) {     /* made ahead, never used: not part of the log */
        rk_mapped_file_destroy(q->spare);
        rk_mapped_file_release(q->spare);
    }
    free(q->files);
    uv_rwlock_destroy(&q->lock);
    uv_mutex_destroy(&q->create_mu);
    memset(q, 0, sizeof *q);
}

static int push_file(rk_mfq_t *q, rk_mapped_file_t *mf)
{
    if (RK_GROW(q->files, q->cap, q->n + 1, 16) != RK_OK)
        return RK_ENOMEM;
    q->files[q->n++] = mf;
    return RK_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int rk_mfq_list(const char *dir, int64_t file_size, int64_t **out, size_t *nout, char *err, size_t errlen)
{
    *out = NULL;
    *nout = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        int rc = -errno;
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return rc;
    }
    int64_t *starts = NULL;
    size_t n = 0, cap = 0;
    int rc = RK_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strlen(e->d_name) != 20 || strspn(e->d_name, "0123456789") != 20)
            continue;   /* not a log file (e.g. a .tmp, a .damaged or lost+found) */
        if (RK_GROW(starts, cap, n + 1, 16) != RK_OK) {
            rc = RK_ENOMEM;
            break;
        }
        starts[n++] = strtoll(e->d_name, NULL, 10);
    }
    closedir(d);
    if (rc == RK_OK && n > 0)
        qsort(starts, n, sizeof *starts, cmp_i64);
    for (size_t i = 0; rc == RK_OK && i < n; i++)
        if (starts[i] % file_size != 0 || (i > 0 && starts[i] != starts[i - 1] + file_size)) {
            snprintf(err, errlen, "%s/%020" PRId64 ": not where a file of %" PRId64 " bytes can start", dir,
                     starts[i], file_size);
            rc = RK_ECORRUPT;
        }
    if (rc != RK_OK) {
        free(starts);
        return rc;
    }
    *out = starts;
    *nout = n;
    return RK_OK;
}

int rk_mfq_load(rk_mfq_t *q, char *err, size_t errlen)
{
    int64_t *starts = NULL;
    size_t n = 0;
    int rc = rk_mfq_list(q->dir, (int64_t)q->file_size, &starts, &n, err, errlen);
    if (rc != RK_OK)
        return rc;
    for (size_t i = 0; rc == RK_OK && i < n; i++) {
        if (i == n - 1) {
            /* The last file cut short (a copy interrupted, a truncate by
             * hand): give it back its size; the missing tail reads as zeros
             * and recovery treats the record it cut as torn. */
            char path[PATH_MAX + 32];
            struct stat st;
            snprintf(path, sizeof path, "%s/%020" PRId64, q->dir, starts[i]);
            if (stat(path, &st) == 0 && (size_t)st.st_size < q->file_size) {
                rk_log_warn("mfq", "%s is %lld bytes, shorter than %zu: extending it (its tail is lost)",
                            path, (long long)st.st_size, q->file_size);
                /* with blocks, not as a hole: the writer will store there */
                int fd = open(path, O_RDWR | O_CLOEXEC);
                rc = fd < 0 ? -errno
                            : rk_prealloc(fd, st.st_size, (int64_t)q->file_size - st.st_size);
                if (fd >= 0)
                    close(fd);
                if (rc != RK_OK) {
                    snprintf(err, errlen, "%s: cannot extend it to %zu bytes: %s", path,
                             q->file_size, rk_strerror(rc));
                    break;
                }
            }
        }
        rk_mapped_file_t *mf;
        rc = rk_mapped_file_open(q->dir, starts[i], q->file_size, false, &mf);
        if (rc != RK_OK) {
            snprintf(err, errlen, "%s/%020" PRId64 ": %s%s", q->dir, starts[i], rk_strerror(rc),
                     rc == RK_ECORRUPT ? " (size differs from the configured file size)" : "");
            break;
        }
        if (i == n - 1) {
            /* the file the writer continues in: check its blocks now (cheap
             * where they exist), not on the first put */
            int r = rk_mapped_file_reserve(mf, (int64_t)q->file_size);
            if (r != RK_OK)
                rk_log_warn("mfq", "%s: cannot reserve its blocks (%s); puts into it will fail "
                            "until there is room", mf->path, rk_strerror(r));
        }
        rc = push_file(q, mf);
        if (rc != RK_OK)
            rk_mapped_file_release(mf);
    }
    free(starts);
    return rc;
}

int rk_mfq_count(rk_mfq_t *q)
{
    uv_rwlock_rdlock(&q->lock);
    int n = q->n;
    uv_rwlock_rdunlock(&q->lock);
    return n;
}

rk_mapped_file_t *rk_mfq_get(rk_mfq_t *q, int i)
{
    rk_mapped_file_t *mf = NULL;
    uv_rwlock_rdlock(&q->lock);
    if (i >= 0 && i < q->n) {
        mf = q->files[i];
        rk_mapped_file_hold(mf);
    }
    uv_rwlock_rdunlock(&q->lock);
    return mf;
}

rk_mapped_file_t *rk_mfq_find(rk_mfq_t *q, int64_t offset)
{
    rk_mapped_file_t *mf = NULL;
    uv_rwlock_rdlock(&q->lock);
    if (q->n > 0 && offset >= q->files[0]->from) {
        /* Files are contiguous: index arithmetic, no search. */
        int64_t i = (offset - q->files[0]->from) / (int64_t)q->file_size;
        if (i < q->n) {
            mf = q->files[i];
            rk_mapped_file_hold(mf);
        }
    }
    uv_rwlock_rdunlock(&q->lock);
    return mf;
}

rk_mapped_file_t *rk_mfq_last(rk_mfq_t *q) { return rk_mfq_get(q, rk_mfq_count(q) - 1); }

int rk_mfq_last_or_create(rk_mfq_t *q, int64_t start_if_empty, rk_mapped_file_t **out)
{
    rk_mapped_file_t *last = rk_mfq_last(q);
    if (last != NULL && !rk_mapped_file_full(last)) {
        *out = last;
        return RK_OK;
    }
    int64_t from = last ? last->from + (int64_t)q->file_size
                        : start_if_empty - start_if_empty % (int64_t)q->file_size;
    rk_mapped_file_release(last);
    uv_mutex_lock(&q->create_mu);
    rk_mapped_file_t *mf = NULL;
    int rc = RK_OK;
    if (q->spare != NULL && q->spare->from == from) {
        mf = q->spare;          /* made ahead by rk_mfq_prepare_next */
        q->spare = NULL;
    } else {
        rc = rk_mapped_file_open(q->dir, from, q->file_size, true, &mf);
        if (rc == RK_OK && q->warm)
            rk_mapped_file_warm(mf);
    }
    if (rc != RK_OK) {
        uv_mutex_unlock(&q->create_mu);
        rk_log_error("mfq", "cannot create the file at %" PRId64 " in %s: %s", from, q->dir,
                     rk_strerror(rc));
        return rc;
    }
    if (last == NULL && start_if_empty > from) {
        /* A queue whose first file starts mid-file: the bytes before the
         * start are not ours; positions begin at the start. */
        int64_t pos = start_if_empty - from;
        atomic_store(&mf->wrote, pos);
        atomic_store(&mf->committed, pos);
        atomic_store(&mf->flushed, pos);
        atomic_store(&mf->claimed, pos);
    }
    /* Published before create_mu is released, so rk_mfq_prepare_next never
     * sees a last file older than the one just taken. */
    uv_rwlock_wrlock(&q->lock);
    rc = push_file(q, mf);
    uv_rwlock_wrunlock(&q->lock);
    uv_mutex_unlock(&q->create_mu);
    if (rc != RK_OK) {
        rk_mapped_file_destroy(mf);
        rk_mapped_file_release(mf);
        return rc;
    }
    rk_mapped_file_hold(mf);
    *out = mf;
    return RK_OK;
}

rk_mapped_file_t *rk_mfq_spare(rk_mfq_t *q)
{
    uv_mutex_lock(&q->create_mu);
    rk_mapped_file_t *mf = q->spare;
    if (mf != NULL)
        rk_mapped_file_hold(mf);
    uv_mutex_unlock(&q->create_mu);
    return mf;
}

int rk_mfq_prepare_next(rk_mfq_t *q, int *was_rc)
{
    uv_mutex_lock(&q->create_mu);   /* the last file cannot change meanwhile */
    if (was_rc)
        *was_rc = q->prepare_rc;
    rk_mapped_file_t *last = rk_mfq_last(q);
    if (last == NULL) {
        uv_mutex_unlock(&q->create_mu);
        return RK_OK;
    }
    int64_t from = last->from + (int64_t)q->file_size;
    rk_mapped_file_release(last);
    int rc = RK_OK;
    if (q->spare == NULL || q->spare->from != from) {
        if (q->spare != NULL) {     /* stale: the log moved on (or was truncated) */
            rk_mapped_file_destroy(q->spare);
            rk_mapped_file_release(q->spare);
            q->spare = NULL;
        }
        char name[21], path[PATH_MAX + 32];
        rk_mapped_file_name(from, name);
        snprintf(path, sizeof path, "%s/%s", q->dir, name);
        rk_mapped_file_t *mf;
        if (rk_path_exists(path)) {
            /* never adopt a file that exists: it may hold data */
        } else if ((rc = rk_mapped_file_open(q->dir, from, q->file_size, true, &mf)) == RK_OK) {
            if (q->warm)
                rk_mapped_file_warm(mf);
            q->spare = mf;
        }
    }
    q->prepare_rc = rc;
    uv_mutex_unlock(&q->create_mu);
    return rc;
}

int64_t rk_mfq_min_offset(rk_mfq_t *q)
{
    uv_rwlock_rdlock(&q->lock);
    int64_t v = q->n ? q->files[0]->from : -1;
    uv_rwlock_rdunlock(&q->lock);
    return v;
}

int64_t rk_mfq_max_offset(rk_mfq_t *q)
{
    uv_rwlock_rdlock(&q->lock);
    int64_t v = q->n ? q->files[q->n - 1]->from + atomic_load(&q->files[q->n - 1]->committed) : 0;
    uv_rwlock_rdunlock(&q->lock);
    return v;
}

int64_t rk_mfq_flushed_offset(rk_mfq_t *q)
{
    uv_rwlock_rdlock(&q->lock);
    int64_t v = q->n ? q->files[q->n - 1]->from + atomic_load(&q->files[q->n - 1]->flushed) : 0;
    uv_rwlock_rdunlock(&q->lock);
    return v;
}

int rk_mfq_truncate(rk_mfq_t *q, int64_t offset)
{
    uv_rwlock_wrlock(&q->lock);
    while (q->n > 0 && q->files[q->n - 1]->from > offset) {
        rk_mapped_file_t *mf = q->files[--q->n];
        rk_log_warn("mfq", "truncate: deleting %s (starts past %" PRId64 ")", mf->path, offset);
        rk_mapped_file_destroy(mf);
        rk_mapped_file_release(mf);
    }
    if (q->n > 0) {
        rk_mapped_file_t *mf = q->files[q->n - 1];
        int64_t pos = offset - mf->from;
        if (pos > (int64_t)mf->size)
            pos = (int64_t)mf->size;
        rk_mapped_file_reset_to(mf, pos);
    }
    uv_rwlock_wrunlock(&q->lock);
    return RK_OK;
}

int64_t rk_mfq_flush(rk_mfq_t *q, int least_pages)
{
    int64_t end = 0;
    for (int i = 0;; i++) {
        rk_mapped_file_t *mf = rk_mfq_get(q, i);
        if (mf == NULL)
            break;
        if (atomic_load(&mf->flushed) < atomic_load(&mf->committed)) {
            int64_t r = rk_mapped_file_flush(mf, least_pages);
            if (r < 0) {
                rk_log_error("mfq", "msync %s: %s", mf->path, rk_strerror((int)r));
                rk_mapped_file_release(mf);
                return r;
            }
        }
        end = mf->from + atomic_load(&mf->flushed);
        rk_mapped_file_release(mf);
    }
    return end;
}

static int delete_front(rk_mfq_t *q, int k)
{
    uv_rwlock_wrlock(&q->lock);
    for (int i = 0; i < k; i++) {
        rk_log_info("mfq", "deleting expired %s", q->files[i]->path);
        rk_mapped_file_destroy(q->files[i]);
        rk_mapped_file_release(q->files[i]);
    }
    memmove(q->files, q->files + k, (size_t)(q->n - k) * sizeof *q->files);
    q->n -= k;
    uv_rwlock_wrunlock(&q->lock);
    return k;
}

int rk_mfq_delete_before(rk_mfq_t *q, int64_t offset)
{
    uv_rwlock_rdlock(&q->lock);
    int k = 0;
    while (k < q->n - 1 && q->files[k]->from + (int64_t)q->file_size <= offset)
        k++;
    uv_rwlock_rdunlock(&q->lock);
    return k ? delete_front(q, k) : 0;
}

int rk_mfq_delete_expired(rk_mfq_t *q, int64_t reserved_ms, bool force, int max_files)
{
    int64_t now = rk_now_ms();
    uv_rwlock_rdlock(&q->lock);
    int k = 0;
    while (k < q->n - 1 && k < max_files) {
        struct stat st;
        if (stat(q->files[k]->path, &st) != 0)
            break;
        int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
        if (!(force && k == 0) && now - mtime < reserved_ms)
            break;
        k++;
    }
    uv_rwlock_rdunlock(&q->lock);
    return k ? delete_front(q, k) : 0;
}
