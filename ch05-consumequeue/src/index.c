/* index.c — RocketMQ's IndexFile / IndexService: hash slots + chained
 * entries in fixed-size mapped files under index/ (see rk/index.h). */
#include "rk/index.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/grow.h"
#include "rk/hash.h"
#include "rk/log.h"
#include "rk/mapped_file.h"

/* ---- one file ---------------------------------------------------------- */

typedef struct ifile {
    char path[PATH_MAX];
    char name[32];
    uint8_t *map;
    size_t size;
    int64_t slots, entries;
    int fd;                /* kept open: blocks are reserved as entries grow */
    int64_t reserved;      /* blocks exist for [0, reserved) (0: not checked yet) */
} ifile_t;

struct rk_index {
    pthread_mutex_t mu;
    char dir[PATH_MAX];
    rk_index_config_t cfg;
    ifile_t **files;       /* oldest first */
    int n, cap;
    int64_t last_name_ms;  /* names must be unique even within one ms */
};

/* header accessors */
#define H_BEGIN_TS 0
#define H_END_TS 8
#define H_BEGIN_PHY 16
#define H_END_PHY 24
#define H_SLOT_COUNT 32
#define H_INDEX_COUNT 36

static int64_t h64(const ifile_t *f, int off) { return (int64_t)rk_be_get64(f->map + off); }
static int32_t h32(const ifile_t *f, int off) { return (int32_t)rk_be_get32(f->map + off); }
static void set64(ifile_t *f, int off, int64_t v) { rk_be_put64(f->map + off, (uint64_t)v); }
static void set32(ifile_t *f, int off, int32_t v) { rk_be_put32(f->map + off, (uint32_t)v); }

static size_t file_size_for(const rk_index_config_t *c)
{
    return RK_INDEX_HEADER_SIZE + (size_t)c->max_hash_slot_num * RK_INDEX_SLOT_SIZE +
           (size_t)c->max_index_num * RK_INDEX_ENTRY_SIZE;
}

static void ifile_unmap(ifile_t *f)
{
    if (f == NULL)
        return;
    if (f->map)
        munmap(f->map, f->size);
    if (f->fd >= 0)
        close(f->fd);
    free(f);
}

/* Blocks before bytes (see rk/mapped_file.h): the header and the slot table
 * are written anywhere, so they are reserved whole (20 MB by default, against
 * the 420 MB of the whole file); entries are appended, so their blocks are
 * reserved ahead of them in chunks doubling from 4 KiB up to 1 MiB. Returns
 * 0 or -errno (-ENOSPC): then nothing may be written past f->reserved. */
static int ifile_reserve(ifile_t *f, int64_t end)
{
    int64_t base = RK_INDEX_HEADER_SIZE + f->slots * RK_INDEX_SLOT_SIZE;
    if (end < base)
        end = base;
    if (end > (int64_t)f->size)
        end = (int64_t)f->size;
    if (end <= f->reserved)
        return RK_OK;
    int64_t want = base;
    if (end > base) {
        int64_t have = f->reserved > base ? f->reserved - base : 0;
        int64_t step = have < 4096 ? 4096 : have > (1 << 20) ? (1 << 20) : have;
        want = base + have + step;
        if (want < end)
            want = end;
        if (want > (int64_t)f->size)
            want = (int64_t)f->size;
    }
    int rc = rk_prealloc(f->fd, f->reserved, want - f->reserved);
    if (rc != RK_OK)
        return rc;
    f->reserved = want;
    return RK_OK;
}

/* Maps path (creating it with `size` zero bytes if create). */
static int ifile_map(const char *dir, const char *name, const rk_index_config_t *c, bool create,
                     ifile_t **out)
{
    *out = NULL;
    ifile_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        return RK_ENOMEM;
    snprintf(f->name, sizeof f->name, "%s", name);
    int rc = rk_path_join(f->path, sizeof f->path, dir, name);
    if (rc != RK_OK) {
        free(f);
        return rc;
    }
    f->size = file_size_for(c);
    f->slots = c->max_hash_slot_num;
    f->entries = c->max_index_num;
    int fd = open(f->path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0644);
    f->fd = -1;
    if (fd < 0) {
        rc = -errno;
        free(f);
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto fail;
    }
    if (create) {
        /* the logical size (RocketMQ's), blocks for the header and slots
         * and the first entries: a full disk fails here, cleanly */
        f->fd = fd;
        rc = ftruncate(fd, (off_t)f->size) != 0 ? -errno : ifile_reserve(f, 0);
        f->fd = -1;
        if (rc != RK_OK) {
            rk_log_debug("index", "cannot allocate index file %s: %s", f->path, rk_strerror(rc));
            unlink(f->path);
            goto fail;
        }
    } else if ((size_t)st.st_size != f->size) {
        rk_log_error("index", "%s has %lld bytes, config says %zu", f->path, (long long)st.st_size,
                     f->size);
        rc = RK_ECORRUPT;
        goto fail;
    }
    void *m = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        rc = -errno;
        if (create)
            unlink(f->path);
        goto fail;
    }
    f->fd = fd;
    f->map = m;
    if (create)
        set32(f, H_INDEX_COUNT, 1);
    else if (h32(f, H_INDEX_COUNT) < 1 || h32(f, H_INDEX_COUNT) > c->max_index_num) {
        rk_log_error("index", "%s: bad indexCount %d", f->path, h32(f, H_INDEX_COUNT));
        ifile_unmap(f);
        return RK_ECORRUPT;
    }
    *out = f;
    return RK_OK;
fail:
    close(fd);
    free(f);
    return rc;
}

static bool ifile_full(const ifile_t *f) { return h32(f, H_INDEX_COUNT) >= f->entries; }

int32_t rk_index_key_hash(const char *s, size_t len)
{
    int32_t h = rk_java_hash(s, len);
    if (h == INT32_MIN)
        return 0;
    return h < 0 ? -h : h;
}

/* IndexFile.putKey. Returns RK_EFULL when the file has no free entry. */
static int ifile_put(ifile_t *f, int32_t hash, int64_t phys, int64_t ts)
{
    int32_t count = h32(f, H_INDEX_COUNT);
    if (count >= f->entries)
        return RK_EFULL;
    int64_t slot = hash % f->slots;
    uint8_t *slotp = f->map + RK_INDEX_HEADER_SIZE + slot * RK_INDEX_SLOT_SIZE;
    int32_t prev = (int32_t)rk_be_get32(slotp);
    if (prev <= 0 || prev > count)
        prev = 0;
    int64_t begin = h64(f, H_BEGIN_TS);
    int64_t diff = begin <= 0 ? 0 : (ts - begin) / 1000;
    if (diff > INT32_MAX)
        diff = INT32_MAX;
    if (diff < 0)
        diff = 0;
    uint8_t *e = f->map + RK_INDEX_HEADER_SIZE + f->slots * RK_INDEX_SLOT_SIZE +
                 (int64_t)count * RK_INDEX_ENTRY_SIZE;
    rk_be_put32(e, (uint32_t)hash);
    rk_be_put64(e + 4, (uint64_t)phys);
    rk_be_put32(e + 12, (uint32_t)diff);
    rk_be_put32(e + 16, (uint32_t)prev);
    rk_be_put32(slotp, (uint32_t)count);
    if (count <= 1) {
        set64(f, H_BEGIN_PHY, phys);
        set64(f, H_BEGIN_TS, ts);
    }
    if (prev == 0)
        set32(f, H_SLOT_COUNT, h32(f, H_SLOT_COUNT) + 1);
    set32(f, H_INDEX_COUNT, count + 1);
    set64(f, H_END_PHY, phys);
    set64(f, H_END_TS, ts);
    return RK_OK;
}

/* IndexFile.selectPhyOffset: walk the key's chain newest → oldest. */
static void ifile_select(const ifile_t *f, int32_t hash, int64_t begin_ts, int64_t end_ts,
                         int64_t *out, int *n, int max)
{
    int32_t count = h32(f, H_INDEX_COUNT);
    if (count <= 1)
        return;
    int64_t slot = hash % f->slots;
    int32_t cur = (int32_t)rk_be_get32(f->map + RK_INDEX_HEADER_SIZE + slot * RK_INDEX_SLOT_SIZE);
    if (cur <= 0 || cur > count)
        return;
    int64_t base = h64(f, H_BEGIN_TS);
    if (base < 0 || base > INT64_MAX / 2)
        return;             /* a hostile header: base + diff * 1000 could overflow */
    for (;;) {
        if (*n >= max)
            break;
        const uint8_t *e = f->map + RK_INDEX_HEADER_SIZE + f->slots * RK_INDEX_SLOT_SIZE +
                           (int64_t)cur * RK_INDEX_ENTRY_SIZE;
        int32_t h = (int32_t)rk_be_get32(e);
        int64_t phys = (int64_t)rk_be_get64(e + 4);
        int64_t t = base + (int64_t)(int32_t)rk_be_get32(e + 12) * 1000;
        int32_t prev = (int32_t)rk_be_get32(e + 16);
        /* stored times are truncated to whole seconds past beginTs: widen the
         * match by < 1 s so a message stored at end_ts is still found */
        if (h == hash && t <= end_ts && t >= begin_ts - 999)
            out[(*n)++] = phys;
        if (prev <= 0 || prev > count || prev == cur || t < begin_ts - 999)
            break;
        cur = prev;
    }
}

static bool ifile_time_matched(const ifile_t *f, int64_t begin, int64_t end)
{
    int64_t b = h64(f, H_BEGIN_TS), e = h64(f, H_END_TS);
    return (begin < b && end > e) || (begin >= b && begin <= e) || (end >= b && end <= e);
}

/* ---- the service ------------------------------------------------------- */

static int add_file(rk_index_t *idx, ifile_t *f)
{
    if (RK_GROW(idx->files, idx->cap, idx->n + 1, 8) != RK_OK)
        return RK_ENOMEM;
    idx->files[idx->n++] = f;
    return RK_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_index_name(const char *s)
{
    size_t n = strlen(s);
    if (n != 17)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

int rk_index_open(const char *dir, const rk_index_config_t *cfg, int64_t drop_after_ts,
                  rk_index_t **out)
{
    *out = NULL;
    if (cfg->max_hash_slot_num < 1 || cfg->max_index_num < 2 || cfg->max_index_num > INT32_MAX)
        return RK_EINVAL;
    int rc = rk_mkdirs(dir, 0755);
    if (rc != RK_OK)
        return rc;
    rk_index_t *idx = calloc(1, sizeof *idx);
    if (idx == NULL)
        return RK_ENOMEM;
    idx->cfg = *cfg;
    snprintf(idx->dir, sizeof idx->dir, "%s", dir);
    if ((rc = pthread_mutex_init(&idx->mu, NULL)) != 0) {
        free(idx);
        return -rc;
    }
    DIR *d = opendir(dir);
    if (d == NULL) {
        rc = -errno;
        rk_index_close(idx);
        return rc;
    }
    char **names = NULL;
    size_t nn = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!is_index_name(de->d_name))
            continue;
        if (RK_GROW(names, cap, nn + 1, 16) != RK_OK) {
            rc = RK_ENOMEM;
            break;
        }
        if ((names[nn] = strdup(de->d_name)) == NULL) {
            rc = RK_ENOMEM;
            break;
        }
        nn++;
    }
    closedir(d);
    if (rc == RK_OK && nn > 0)
        qsort(names, nn, sizeof *names, cmp_names);
    for (size_t i = 0; i < nn && rc == RK_OK; i++) {
        if (i == nn - 1) {
            /* the newest file cut short by a crash between create and
             * ftruncate, or between reserving its blocks and writing its
             * header (indexCount starts at 1: an all-zero header never
             * held an entry): it holds nothing, drop it */
            char path[PATH_MAX + 32];
            struct stat st;
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            uint8_t hdr[RK_INDEX_HEADER_SIZE] = {0};
            bool blank = false;
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                static const uint8_t zero[RK_INDEX_HEADER_SIZE];
                blank = pread(fd, hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr &&
                        memcmp(hdr, zero, sizeof hdr) == 0;
                close(fd);
            }
            if (stat(path, &st) == 0 && ((size_t)st.st_size < file_size_for(cfg) || blank)) {
                rk_log_warn("index", "%s: %lld bytes%s, a creation cut short by a crash; deleting it",
                            path, (long long)st.st_size, blank ? " and a blank header" : "");
                if (unlink(path) != 0)
                    rc = -errno;
                break;
            }
        }
        ifile_t *f = NULL;
        rc = ifile_map(dir, names[i], cfg, false, &f);
        if (rc == RK_ECORRUPT) {
            /* The index is derived data: a file whose header makes no sense
             * must not keep the broker down. Keep its bytes for inspection
             * (<name>.damaged, which the next load skips) and go on; lookups
             * by key miss what it covered. */
            char from[PATH_MAX + 32], to[PATH_MAX + 48];
            snprintf(from, sizeof from, "%s/%s", dir, names[i]);
            snprintf(to, sizeof to, "%s.damaged", from);
            if (rename(from, to) != 0) {
                rc = -errno;
                break;
            }
            rk_log_error("index", "%s is damaged: set aside as %s; lookups by key miss the messages it indexed",
                         from, to);
            rc = RK_OK;
            continue;
        }
        if (rc != RK_OK)
            break;
        if (drop_after_ts >= 0 && h64(f, H_END_TS) > drop_after_ts) {
            rk_log_warn("index", "abnormal stop: deleting %s (endTimestamp %lld > checkpoint %lld); "
                        "it will be rebuilt from the commitlog", f->path,
                        (long long)h64(f, H_END_TS), (long long)drop_after_ts);
            char p[PATH_MAX];
            snprintf(p, sizeof p, "%s", f->path);
            ifile_unmap(f);
            if (unlink(p) != 0)
                rc = -errno;
            continue;
        }
        rc = add_file(idx, f);
        if (rc != RK_OK)
            ifile_unmap(f);
    }
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    if (rc != RK_OK) {
        rk_index_close(idx);
        return rc;
    }
    *out = idx;
    return RK_OK;
}

void rk_index_close(rk_index_t *idx)
{
    if (idx == NULL)
        return;
    for (int i = 0; i < idx->n; i++) {
        msync(idx->files[i]->map, idx->files[i]->size, MS_SYNC);
        ifile_unmap(idx->files[i]);
    }
    free(idx->files);
    pthread_mutex_destroy(&idx->mu);
    free(idx);
}

/* A new file named by the current time (unique: bumped past the last name). */
static int roll(rk_index_t *idx, ifile_t **out)
{
    int64_t ms = rk_now_ms();
    if (ms <= idx->last_name_ms)
        ms = idx->last_name_ms + 1;
    ifile_t *last = idx->n ? idx->files[idx->n - 1] : NULL;
    for (;;) {
        time_t s = (time_t)(ms / 1000);
        struct tm tm;
        localtime_r(&s, &tm);
        char name[32];
        char stamp[24];
        strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
        snprintf(name, sizeof name, "%.14s%03u", stamp, (unsigned)(ms % 1000));
        /* names sort in creation order; never go below the newest */
        if (last && strcmp(name, last->name) <= 0) {
            ms++;
            continue;
        }
        ifile_t *f = NULL;
        int rc = ifile_map(idx->dir, name, &idx->cfg, true, &f);
        if (rc == -EEXIST) {
            ms++;
            continue;
        }
        if (rc != RK_OK)
            return rc;
        if (last) {
            /* a full file is final: flush it now (RocketMQ does it on a thread) */
            msync(last->map, last->size, MS_SYNC);
            /* the new file starts where the old one ended, so the idempotence
             * check (phys < endPhy) keeps working across the roll */
            set64(f, H_END_PHY, h64(last, H_END_PHY));
            set64(f, H_END_TS, h64(last, H_END_TS));
        }
        rc = add_file(idx, f);
        if (rc != RK_OK) {
            unlink(f->path);
            ifile_unmap(f);
            return rc;
        }
        idx->last_name_ms = ms;
        rk_log_debug("index", "new index file %s", f->path);
        *out = f;
        return RK_OK;
    }
}

/* The index hash of "topic#key" from h = rk_java_hash("topic#"): the
 * prefix ends with an ASCII '#', so hashing on from it is hashing the
 * whole key (rk_java_hash_continue), and no key string is built. */
static int32_t key_hash_from(int32_t h, const char *k, size_t klen)
{
    h = rk_java_hash_continue(h, k, klen);
    if (h == INT32_MIN)
        return 0;
    return h < 0 ? -h : h;
}

static int put_key(rk_index_t *idx, int32_t hash, int64_t phys, int64_t ts)
{
    ifile_t *f = idx->n ? idx->files[idx->n - 1] : NULL;
    if (f == NULL || ifile_full(f)) {
        int rc = roll(idx, &f);
        if (rc != RK_OK)
            return rc;
    }
    /* the entry about to be written, and the slot table and header */
    int64_t entry_end = RK_INDEX_HEADER_SIZE + f->slots * RK_INDEX_SLOT_SIZE +
                        ((int64_t)h32(f, H_INDEX_COUNT) + 1) * RK_INDEX_ENTRY_SIZE;
    int rc = ifile_reserve(f, entry_end);
    if (rc != RK_OK)
        return rc;
    return ifile_put(f, hash, phys, ts);
}

/* Keys are "topic#key" of at most KEY_MAX bytes (the buffer the query
 * builds them in): a longer one is not indexed, as it could not be asked for. */
#define KEY_MAX 512

int rk_index_build(rk_index_t *idx, const char *topic, const char *keys, const char *uniq,
                   int64_t phys, int64_t store_ts)
{
    pthread_mutex_lock(&idx->mu);
    int rc = RK_OK;
    ifile_t *last = idx->n ? idx->files[idx->n - 1] : NULL;
    if (last && phys < h64(last, H_END_PHY))
        goto out;                       /* indexed before a restart */
    size_t tl = strlen(topic);
    int32_t prefix = rk_java_hash_continue(rk_java_hash(topic, tl), "#", 1);
    if (uniq && *uniq) {
        size_t ul = strlen(uniq);
        if (tl + 1 + ul <= KEY_MAX)     /* an absurd key is not indexed; not fatal */
            rc = put_key(idx, key_hash_from(prefix, uniq, ul), phys, store_ts);
    }
    for (const char *p = keys; rc == RK_OK && p && *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (e > p && tl + 1 + (size_t)(e - p) <= KEY_MAX)
            rc = put_key(idx, key_hash_from(prefix, p, (size_t)(e - p)), phys, store_ts);
        p = e;
    }
out:
    pthread_mutex_unlock(&idx->mu);
    return rc;
}

int rk_index_query(rk_index_t *idx, const char *topic, const char *key, int64_t begin_ts,
                   int64_t end_ts, int64_t *phys_out, int max)
{
    char buf[KEY_MAX];
    int kl = snprintf(buf, sizeof buf, "%s#%s", topic, key);
    if (kl < 0 || (size_t)kl >= sizeof buf)
        return RK_ETOOBIG;
    int32_t hash = rk_index_key_hash(buf, (size_t)kl);
    int n = 0;
    /* the bounds come from a request (any int64): no stored time is
     * negative, and begin_ts - 999 below must not overflow */
    if (begin_ts < 0)
        begin_ts = 0;
    if (end_ts < begin_ts)
        return 0;
    pthread_mutex_lock(&idx->mu);
    for (int i = idx->n - 1; i >= 0 && n < max; i--) {
        ifile_t *f = idx->files[i];
        if (h32(f, H_INDEX_COUNT) <= 1)
            continue;
        /* widen by the 1 s truncation of stored time differences */
        if (ifile_time_matched(f, begin_ts - 999, end_ts))
            ifile_select(f, hash, begin_ts, end_ts, phys_out, &n, max);
        if (h64(f, H_BEGIN_TS) < begin_ts)
            break;
    }
    pthread_mutex_unlock(&idx->mu);
    return n;
}

int rk_index_flush(rk_index_t *idx, int64_t *flushed_ts)
{
    int rc = RK_OK;
    int64_t ts = 0;
    pthread_mutex_lock(&idx->mu);
    for (int i = 0; i < idx->n; i++) {
        ifile_t *f = idx->files[i];
        /* read the end time first: what we flush covers at least up to it */
        int64_t t = h64(f, H_END_TS);
        if (msync(f->map, f->size, MS_SYNC) != 0 && rc == RK_OK)
            rc = -errno;
        if (t > ts)
            ts = t;
    }
    pthread_mutex_unlock(&idx->mu);
    if (flushed_ts)
        *flushed_ts = ts;
    return rc;
}

int64_t rk_index_end_phy(rk_index_t *idx)
{
    pthread_mutex_lock(&idx->mu);
    int64_t v = idx->n ? h64(idx->files[idx->n - 1], H_END_PHY) : 0;
    pthread_mutex_unlock(&idx->mu);
    return v;
}

int rk_index_delete_expired(rk_index_t *idx, int64_t min_phys)
{
    int deleted = 0;
    pthread_mutex_lock(&idx->mu);
    while (idx->n > 1 && h64(idx->files[0], H_END_PHY) < min_phys) {
        ifile_t *f = idx->files[0];
        rk_log_info("index", "deleting expired index file %s (endPhyOffset %lld < commitlog min %lld)",
                    f->path, (long long)h64(f, H_END_PHY), (long long)min_phys);
        if (unlink(f->path) != 0)
            rk_log_warn("index", "unlink %s: %s", f->path, strerror(errno));
        ifile_unmap(f);
        memmove(idx->files, idx->files + 1, (size_t)(idx->n - 1) * sizeof *idx->files);
        idx->n--;
        deleted++;
    }
    pthread_mutex_unlock(&idx->mu);
    return deleted;
}

int rk_index_drop_from_phys(rk_index_t *idx, int64_t end_phys)
{
    int dropped = 0;
    pthread_mutex_lock(&idx->mu);
    while (idx->n > 0 && h64(idx->files[idx->n - 1], H_END_PHY) >= end_phys &&
           !(end_phys == 0 && h32(idx->files[idx->n - 1], H_INDEX_COUNT) <= 1)) {
        ifile_t *f = idx->files[--idx->n];
        rk_log_warn("index", "deleting %s: it indexes commitlog offset %lld, at or past the log's "
                    "end %lld; it will be rebuilt", f->path, (long long)h64(f, H_END_PHY),
                    (long long)end_phys);
        if (unlink(f->path) != 0)
            rk_log_warn("index", "unlink %s: %s", f->path, strerror(errno));
        ifile_unmap(f);
        dropped++;
    }
    pthread_mutex_unlock(&idx->mu);
    return dropped;
}

int rk_index_files(rk_index_t *idx, rk_index_file_info_t *out, int max)
{
    pthread_mutex_lock(&idx->mu);
    int n = 0;
    for (int i = 0; i < idx->n && n < max; i++, n++) {
        ifile_t *f = idx->files[i];
        snprintf(out[n].name, sizeof out[n].name, "%s", f->name);
        out[n].begin_ts = h64(f, H_BEGIN_TS);
        out[n].end_ts = h64(f, H_END_TS);
        out[n].begin_phy = h64(f, H_BEGIN_PHY);
        out[n].end_phy = h64(f, H_END_PHY);
        out[n].hash_slot_count = h32(f, H_SLOT_COUNT);
        out[n].index_count = h32(f, H_INDEX_COUNT);
    }
    pthread_mutex_unlock(&idx->mu);
    return n;
}
