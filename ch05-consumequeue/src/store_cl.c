/* store_cl.c — INTERIM binding of store_cl.h, on ch04's mapped file queue:
 * a minimal commitlog (ch04 records appended under one lock, blank record
 * at file end, CRC-checked recovery, abort marker, checkpoint times) used
 * until ch04's commitlog lands; then this file becomes calls into it. */
#include "store_cl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"
#include "rk/mapped_file_queue.h"

struct rk_store_cl {
    rk_mfq_t q;
    pthread_mutex_t put_mu;
    char abort_path[PATH_MAX], ckpt_path[PATH_MAX];
    int64_t ckpt_index_ts;
};

static void ckpt_write(rk_store_cl_t *cl, int64_t logics, int64_t index)
{
    uint8_t b[4096] = {0};
    int fd = open(cl->ckpt_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (pread(fd, b, sizeof b, 0) < 0)
        memset(b, 0, sizeof b);
    if (logics >= 0)
        rk_be_put64(b + 8, (uint64_t)logics);
    if (index >= 0)
        rk_be_put64(b + 16, (uint64_t)index);
    if (pwrite(fd, b, sizeof b, 0) == (ssize_t)sizeof b)
        (void)fsync(fd);
    close(fd);
}

/* Scans every file from the first; the end is the first record that does
 * not decode (CRC checked). */
static int64_t recover(rk_store_cl_t *cl)
{
    int n = rk_mfq_count(&cl->q);
    for (int i = 0; i < n; i++) {
        rk_mapped_file_t *f = rk_mfq_get(&cl->q, i);
        size_t pos = 0;
        bool end = false;
        while (pos < f->size) {
            rk_record_t r;
            int rc = rk_record_decode(f->base + pos, f->size - pos, true, &r);
            if (rc == RK_OK && rk_record_is_blank(&r)) {
                pos = f->size;
                break;
            }
            if (rc != RK_OK) {
                end = true;
                break;
            }
            pos += r.total_size;
        }
        int64_t at = f->from + (int64_t)pos;
        rk_mapped_file_release(f);
        if (end || i == n - 1)
            return at;
    }
    return 0;
}

int rk_store_cl_open(const char *root, rk_kv_t *kv, rk_store_cl_t **out, bool *abnormal,
                     char *err, size_t errlen)
{
    *out = NULL;
    rk_store_cl_t *cl = calloc(1, sizeof *cl);
    if (cl == NULL)
        return RK_ENOMEM;
    int64_t fsize = 1LL << 30;
    const char *v = kv ? rk_kv_get(kv, "mappedFileSizeCommitLog") : NULL;
    if (v) {
        rk_parse_int(v, &fsize);
        for (size_t i = 0; i < kv->len; i++)
            if (strcmp(kv->items[i].key, "mappedFileSizeCommitLog") == 0)
                kv->items[i].used = true;
    }
    char dir[PATH_MAX];
    rk_path_join(dir, sizeof dir, root, "commitlog");
    rk_path_join(cl->abort_path, sizeof cl->abort_path, root, "abort");
    rk_path_join(cl->ckpt_path, sizeof cl->ckpt_path, root, "checkpoint");
    int rc = rk_mfq_init(&cl->q, dir, (size_t)fsize);
    if (rc == RK_OK)
        rc = rk_mfq_load(&cl->q, err, errlen);
    if (rc != RK_OK) {
        if (err[0] == '\0')
            snprintf(err, errlen, "%s: %s", dir, rk_strerror(rc));
        rk_mfq_destroy(&cl->q);
        free(cl);
        return rc;
    }
    pthread_mutex_init(&cl->put_mu, NULL);
    *abnormal = rk_path_exists(cl->abort_path);
    uint8_t b[32] = {0};
    int fd = open(cl->ckpt_path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (pread(fd, b, sizeof b, 0) != (ssize_t)sizeof b)
            memset(b, 0, sizeof b);
        close(fd);
    }
    cl->ckpt_index_ts = (int64_t)rk_be_get64(b + 16);
    if (rk_mfq_count(&cl->q) > 0)
        rk_mfq_truncate(&cl->q, recover(cl));
    fd = open(cl->abort_path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0)
        close(fd);
    *out = cl;
    return RK_OK;
}

void rk_store_cl_close(rk_store_cl_t *cl)
{
    rk_mfq_flush(&cl->q, 0);
    rk_mfq_destroy(&cl->q);
    unlink(cl->abort_path);
    pthread_mutex_destroy(&cl->put_mu);
    free(cl);
}

int64_t rk_store_cl_min(rk_store_cl_t *cl)
{
    int64_t v = rk_mfq_min_offset(&cl->q);
    return v < 0 ? 0 : v;
}
int64_t rk_store_cl_max(rk_store_cl_t *cl) { return rk_mfq_max_offset(&cl->q); }
int64_t rk_store_cl_roll_next(rk_store_cl_t *cl, int64_t o) { return rk_mfq_roll_next(&cl->q, o); }

int rk_store_cl_put(rk_store_cl_t *cl, const rk_msg_t *m, int64_t qoff, rk_store_put_result_t *res)
{
    size_t need = rk_record_size(m);
    if (need + RK_END_FILE_MIN_BLANK_LEN > cl->q.file_size)
        return RK_ETOOBIG;
    pthread_mutex_lock(&cl->put_mu);
    rk_mapped_file_t *f = NULL;
    int rc = rk_mfq_last_or_create(&cl->q, 0, &f);
    if (rc == RK_OK) {
        int64_t pos = atomic_load(&f->wrote);
        if ((size_t)pos + need + RK_END_FILE_MIN_BLANK_LEN > f->size) {
            rk_record_encode_blank(f->base + pos, (uint32_t)(f->size - (size_t)pos));
            atomic_store(&f->wrote, (int64_t)f->size);
            atomic_store(&f->committed, (int64_t)f->size);
            rk_mapped_file_release(f);
            f = NULL;
            rc = rk_mfq_last_or_create(&cl->q, 0, &f);
        }
    }
    if (rc == RK_OK) {
        int64_t pos = atomic_load(&f->wrote);
        int64_t at = f->from + pos;
        int64_t ts = rk_now_ms();
        int64_t n = rk_record_encode(m, f->base + pos, f->size - (size_t)pos, qoff, at, ts);
        if (n < 0) {
            rc = (int)n;
        } else {
            atomic_store(&f->wrote, pos + n);
            atomic_store(&f->committed, pos + n);
            res->phys = at;
            res->size = (int32_t)n;
            res->queue_offset = qoff;
            res->store_ts = ts;
            rk_msgid_encode(&m->store_host, at, res->msg_id, sizeof res->msg_id);
        }
    }
    rk_mapped_file_release(f);
    pthread_mutex_unlock(&cl->put_mu);
    return rc;
}

int rk_store_cl_read(rk_store_cl_t *cl, int64_t off, const uint8_t **p, size_t *avail, void **hold)
{
    rk_mapped_file_t *f = rk_mfq_find(&cl->q, off);
    if (f == NULL)
        return RK_ENOTFOUND;
    int64_t end = atomic_load(&f->committed);
    if (off - f->from >= end) {
        rk_mapped_file_release(f);
        return RK_ENOTFOUND;
    }
    *p = f->base + (off - f->from);
    *avail = (size_t)(end - (off - f->from));
    *hold = f;
    return RK_OK;
}

int rk_store_cl_slice(rk_store_cl_t *cl, int64_t off, int32_t size, const uint8_t **p, void **hold)
{
    size_t avail;
    int rc = rk_store_cl_read(cl, off, p, &avail, hold);
    if (rc != RK_OK)
        return rc;
    if (size <= 0 || (size_t)size > avail) {
        rk_mapped_file_release(*hold);
        return RK_ENOTFOUND;
    }
    return RK_OK;
}

void rk_store_cl_release(rk_store_cl_t *cl, void *hold)
{
    (void)cl;
    rk_mapped_file_release(hold);
}

int64_t rk_store_cl_checkpoint_index_ts(rk_store_cl_t *cl) { return cl->ckpt_index_ts; }
void rk_store_cl_checkpoint_update(rk_store_cl_t *cl, int64_t logics, int64_t index)
{
    ckpt_write(cl, logics, index);
}

int rk_store_cl_delete_expired(rk_store_cl_t *cl, int64_t reserved_ms, bool force, int64_t keep_from)
{
    /* never a file the dispatcher has not passed: count how many may go */
    int max = 0;
    for (int i = 0;; i++) {
        rk_mapped_file_t *f = rk_mfq_get(&cl->q, i);
        if (f == NULL)
            break;
        bool ok = f->from + (int64_t)f->size <= keep_from;
        rk_mapped_file_release(f);
        if (!ok)
            break;
        max++;
    }
    return max ? rk_mfq_delete_expired(&cl->q, reserved_ms, force, max) : 0;
}

void rk_store_cl_set_queue_offset_fn(rk_store_cl_t *cl, int (*fn)(void *, const char *, int, int64_t *),
                                     void *ctx)
{
    (void)cl; (void)fn; (void)ctx;
}
