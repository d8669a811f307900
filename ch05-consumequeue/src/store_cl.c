/* store_cl.c — INTERIM binding of store_cl.h: a minimal commitlog (mapped
 * files of ch04 records, blank at file end, CRC-checked recovery, abort
 * marker, checkpoint) used until ch04's commitlog lands; then this file is
 * replaced by calls into ch04. */
#include "store_cl.h"

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

#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"

typedef struct clf {
    int64_t base;
    uint8_t *map;
    size_t size;
    _Atomic int refs;
    char path[PATH_MAX];
} clf_t;

struct rk_store_cl {
    pthread_rwlock_t lock;
    pthread_mutex_t put_mu;
    clf_t **files;
    int n, cap;
    int64_t file_size;
    _Atomic int64_t max;
    int64_t min;
    char dir[PATH_MAX], abort_path[PATH_MAX], ckpt_path[PATH_MAX];
    int64_t ckpt_index_ts;
};

static void clf_unref(clf_t *f)
{
    if (f && atomic_fetch_sub(&f->refs, 1) == 1) {
        munmap(f->map, f->size);
        free(f);
    }
}

static int clf_map(const char *dir, int64_t base, size_t size, bool create, clf_t **out)
{
    clf_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        return RK_ENOMEM;
    char name[32];
    snprintf(name, sizeof name, "%020" PRId64, base);
    rk_path_join(f->path, sizeof f->path, dir, name);
    int fd = open(f->path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    if (fd < 0) {
        int rc = -errno;
        free(f);
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || (create ? ftruncate(fd, (off_t)size) != 0 : (size_t)st.st_size != size)) {
        close(fd);
        free(f);
        return RK_ECORRUPT;
    }
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        free(f);
        return -errno;
    }
    f->map = m;
    f->size = size;
    f->base = base;
    atomic_store(&f->refs, 1);
    *out = f;
    return RK_OK;
}

static int push(rk_store_cl_t *cl, clf_t *f)
{
    if (cl->n == cl->cap) {
        int nc = cl->cap ? cl->cap * 2 : 8;
        clf_t **nf = realloc(cl->files, (size_t)nc * sizeof *nf);
        if (nf == NULL)
            return RK_ENOMEM;
        cl->files = nf;
        cl->cap = nc;
    }
    cl->files[cl->n++] = f;
    return RK_OK;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

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

int rk_store_cl_open(const char *root, rk_kv_t *kv, rk_store_cl_t **out, bool *abnormal,
                     char *err, size_t errlen)
{
    *out = NULL;
    rk_store_cl_t *cl = calloc(1, sizeof *cl);
    if (cl == NULL)
        return RK_ENOMEM;
    pthread_rwlock_init(&cl->lock, NULL);
    pthread_mutex_init(&cl->put_mu, NULL);
    cl->file_size = 1LL << 30;
    const char *v = kv ? rk_kv_get(kv, "mappedFileSizeCommitLog") : NULL;
    if (v) {
        rk_parse_int(v, &cl->file_size);
        for (size_t i = 0; i < kv->len; i++)
            if (strcmp(kv->items[i].key, "mappedFileSizeCommitLog") == 0)
                kv->items[i].used = true;
    }
    rk_path_join(cl->dir, sizeof cl->dir, root, "commitlog");
    rk_path_join(cl->abort_path, sizeof cl->abort_path, root, "abort");
    rk_path_join(cl->ckpt_path, sizeof cl->ckpt_path, root, "checkpoint");
    int rc = rk_mkdirs(cl->dir, 0755);
    if (rc != RK_OK) {
        snprintf(err, errlen, "%s: %s", cl->dir, rk_strerror(rc));
        free(cl);
        return rc;
    }
    *abnormal = rk_path_exists(cl->abort_path);
    uint8_t b[32] = {0};
    int fd = open(cl->ckpt_path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (pread(fd, b, sizeof b, 0) != (ssize_t)sizeof b)
            memset(b, 0, sizeof b);
        close(fd);
    }
    cl->ckpt_index_ts = (int64_t)rk_be_get64(b + 16);
    DIR *d = opendir(cl->dir);
    int64_t bases[4096];
    int nb = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL && nb < 4096)
        if (strlen(de->d_name) == 20)
            bases[nb++] = strtoll(de->d_name, NULL, 10);
    if (d)
        closedir(d);
    qsort(bases, (size_t)nb, sizeof *bases, cmp64);
    for (int i = 0; i < nb; i++) {
        clf_t *f;
        if ((rc = clf_map(cl->dir, bases[i], (size_t)cl->file_size, false, &f)) != RK_OK) {
            snprintf(err, errlen, "commitlog file %020" PRId64 ": %s", bases[i], rk_strerror(rc));
            rk_store_cl_close(cl);
            return rc;
        }
        push(cl, f);
    }
    /* recovery: scan forward from the first file, CRC-checked */
    int64_t end = cl->n ? cl->files[0]->base : 0;
    cl->min = end;
    for (int i = 0; i < cl->n; i++) {
        clf_t *f = cl->files[i];
        size_t pos = 0;
        bool stop = false;
        while (pos < f->size) {
            rk_record_t r;
            int drc = rk_record_decode(f->map + pos, f->size - pos, true, &r);
            if (drc == RK_OK && rk_record_is_blank(&r)) {
                pos = f->size;
                break;
            }
            if (drc != RK_OK) {
                stop = true;
                break;
            }
            pos += r.total_size;
        }
        end = f->base + (int64_t)pos;
        if (stop) {
            if (f->size - pos >= 8)
                memset(f->map + pos, 0, 8);   /* the torn record's header */
            while (cl->n > i + 1) {
                clf_t *g = cl->files[--cl->n];
                unlink(g->path);
                clf_unref(g);
            }
            break;
        }
    }
    atomic_store(&cl->max, end);
    fd = open(cl->abort_path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0)
        close(fd);
    *out = cl;
    return RK_OK;
}

void rk_store_cl_close(rk_store_cl_t *cl)
{
    for (int i = 0; i < cl->n; i++) {
        msync(cl->files[i]->map, cl->files[i]->size, MS_SYNC);
        clf_unref(cl->files[i]);
    }
    unlink(cl->abort_path);
    free(cl->files);
    pthread_rwlock_destroy(&cl->lock);
    pthread_mutex_destroy(&cl->put_mu);
    free(cl);
}

int64_t rk_store_cl_min(rk_store_cl_t *cl)
{
    pthread_rwlock_rdlock(&cl->lock);
    int64_t v = cl->min;
    pthread_rwlock_unlock(&cl->lock);
    return v;
}
int64_t rk_store_cl_max(rk_store_cl_t *cl) { return atomic_load(&cl->max); }
int64_t rk_store_cl_roll_next(rk_store_cl_t *cl, int64_t o) { return o + cl->file_size - o % cl->file_size; }

int rk_store_cl_put(rk_store_cl_t *cl, const rk_msg_t *m, int64_t qoff, rk_store_put_result_t *res)
{
    size_t need = rk_record_size(m);
    if ((int64_t)need + RK_END_FILE_MIN_BLANK_LEN > cl->file_size)
        return RK_ETOOBIG;
    pthread_mutex_lock(&cl->put_mu);
    int64_t at = atomic_load(&cl->max);
    clf_t *f = NULL;
    pthread_rwlock_rdlock(&cl->lock);
    if (cl->n && at < cl->files[cl->n - 1]->base + cl->file_size)
        f = cl->files[cl->n - 1];
    pthread_rwlock_unlock(&cl->lock);
    int rc = RK_OK;
    if (f && (int64_t)(at - f->base) + (int64_t)need + RK_END_FILE_MIN_BLANK_LEN > cl->file_size) {
        rk_record_encode_blank(f->map + (at - f->base), (uint32_t)(cl->file_size - (at - f->base)));
        at = f->base + cl->file_size;
        atomic_store(&cl->max, at);
        f = NULL;
    }
    if (f == NULL) {
        if ((rc = clf_map(cl->dir, at, (size_t)cl->file_size, true, &f)) != RK_OK)
            goto out;
        pthread_rwlock_wrlock(&cl->lock);
        if (cl->n == 0)
            cl->min = at;
        rc = push(cl, f);
        pthread_rwlock_unlock(&cl->lock);
        if (rc != RK_OK)
            goto out;
    }
    int64_t ts = rk_now_ms();
    int64_t n = rk_record_encode(m, f->map + (at - f->base), (size_t)(f->base + cl->file_size - at),
                                 qoff, at, ts);
    if (n < 0) {
        rc = (int)n;
        goto out;
    }
    res->phys = at;
    res->size = (int32_t)n;
    res->queue_offset = qoff;
    res->store_ts = ts;
    rk_msgid_encode(&m->store_host, at, res->msg_id, sizeof res->msg_id);
    atomic_store(&cl->max, at + n);
out:
    pthread_mutex_unlock(&cl->put_mu);
    return rc;
}

static clf_t *ref_file(rk_store_cl_t *cl, int64_t off)
{
    clf_t *f = NULL;
    pthread_rwlock_rdlock(&cl->lock);
    if (cl->n && off >= cl->min && off >= cl->files[0]->base) {
        int64_t i = (off - cl->files[0]->base) / cl->file_size;
        if (i < cl->n) {
            f = cl->files[i];
            atomic_fetch_add(&f->refs, 1);
        }
    }
    pthread_rwlock_unlock(&cl->lock);
    return f;
}

int rk_store_cl_read(rk_store_cl_t *cl, int64_t off, const uint8_t **p, size_t *avail, void **hold)
{
    int64_t max = atomic_load(&cl->max);
    if (off >= max)
        return RK_ENOTFOUND;
    clf_t *f = ref_file(cl, off);
    if (f == NULL)
        return RK_ENOTFOUND;
    int64_t end = f->base + cl->file_size < max ? f->base + cl->file_size : max;
    *p = f->map + (off - f->base);
    *avail = (size_t)(end - off);
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
        clf_unref(*hold);
        return RK_ENOTFOUND;
    }
    return RK_OK;
}

void rk_store_cl_release(rk_store_cl_t *cl, void *hold)
{
    (void)cl;
    clf_unref(hold);
}

int64_t rk_store_cl_checkpoint_index_ts(rk_store_cl_t *cl) { return cl->ckpt_index_ts; }
void rk_store_cl_checkpoint_update(rk_store_cl_t *cl, int64_t logics, int64_t index)
{
    ckpt_write(cl, logics, index);
}

int rk_store_cl_delete_expired(rk_store_cl_t *cl, int64_t reserved_ms, bool force, int64_t keep_from)
{
    int deleted = 0;
    pthread_rwlock_wrlock(&cl->lock);
    while (cl->n > 1) {
        clf_t *f = cl->files[0];
        if (f->base + cl->file_size > keep_from)
            break;
        struct stat sb;
        bool old = stat(f->path, &sb) == 0 && rk_now_ms() - (int64_t)sb.st_mtime * 1000 > reserved_ms;
        if (!old && !(force && deleted == 0))
            break;
        unlink(f->path);
        memmove(cl->files, cl->files + 1, (size_t)(cl->n - 1) * sizeof *cl->files);
        cl->n--;
        cl->min = cl->files[0]->base;
        clf_unref(f);
        deleted++;
    }
    pthread_rwlock_unlock(&cl->lock);
    return deleted;
}

void rk_store_cl_set_queue_offset_fn(rk_store_cl_t *cl, int (*fn)(void *, const char *, int, int64_t *),
                                     void *ctx)
{
    (void)cl; (void)fn; (void)ctx;
}
