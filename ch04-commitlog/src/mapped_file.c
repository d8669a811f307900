/* mapped_file.c — fixed-size mmap'ed files with reference-counted lifetime (see rk/mapped_file.h). */
#include "rk/mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"

static int default_prealloc(int fd, int64_t offset, int64_t len)
{
    int rc = posix_fallocate(fd, (off_t)offset, (off_t)len);
    return rc == 0 ? RK_OK : -rc;
}

/* The allocation choke point (documented in the header). */
static rk_prealloc_fn prealloc_fn = default_prealloc;

void rk_mapped_file_set_prealloc(rk_prealloc_fn fn) { prealloc_fn = fn ? fn : default_prealloc; }

int rk_prealloc(int fd, int64_t offset, int64_t len)
{
    if (offset < 0 || len <= 0)
        return len == 0 ? RK_OK : RK_EINVAL;
    return prealloc_fn(fd, offset, len);
}

/* Growth of a growing file's reservation: double what is reserved, at least
 * one page, at most GROW_MAX per step, always covering `end`. */
#define GROW_MAX (1024 * 1024)

void rk_mapped_file_name(int64_t offset, char *name) { snprintf(name, 21, "%020" PRId64, offset); }

static int open_file(const char *dir, int64_t from, size_t size, bool create, bool grow,
                     rk_mapped_file_t **out)
{
    rk_mapped_file_t *mf = calloc(1, sizeof *mf);
    if (mf == NULL)
        return RK_ENOMEM;
    char name[21];
    rk_mapped_file_name(from, name);
    int rc = rk_path_join(mf->path, sizeof mf->path, dir, name);
    if (rc != RK_OK) {
        free(mf);
        return rc;
    }
    bool created = false;
    mf->fd = open(mf->path, O_RDWR | O_CLOEXEC);
    if (mf->fd < 0 && errno == ENOENT && create) {
        mf->fd = open(mf->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        created = mf->fd >= 0;
    }
    if (mf->fd < 0) {
        rc = -errno;
        free(mf);
        return rc;
    }
    struct stat st;
    /* a growing file: its logical size now, blocks for the first page (and
     * later ahead of the writer); otherwise blocks for all of it */
    size_t first = grow ? (size < RK_OS_PAGE_SIZE ? size : RK_OS_PAGE_SIZE) : size;
    if (created) {
        if (grow && ftruncate(mf->fd, (off_t)size) != 0)
            rc = -errno;
        else
            rc = rk_prealloc(mf->fd, 0, (int64_t)first);
        if (rc != RK_OK) {
            /* the caller says what it could not do (once, not per retry) */
            rk_log_debug("mappedfile", "cannot allocate %zu bytes for %s: %s", first, mf->path,
                         rk_strerror(rc));
            goto fail_unlink;
        }
    } else if (fstat(mf->fd, &st) != 0) {
        rc = -errno;
        goto fail;
    } else if ((size_t)st.st_size != size) {
        rk_log_error("mappedfile", "%s is %lld bytes, expected %zu (mappedFileSize changed?)",
                     mf->path, (long long)st.st_size, size);
        rc = RK_ECORRUPT;
        goto fail;
    }
    mf->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mf->fd, 0);
    if (mf->base == MAP_FAILED) {
        rc = -errno;
        mf->base = NULL;
        goto fail_unlink;
    }
    mf->from = from;
    mf->size = size;
    mf->grow = grow;
    atomic_init(&mf->reserved, created ? (int64_t)first : 0);
    atomic_init(&mf->refs, 1);
    /* A loaded file counts as full until recovery says where it ends. */
    int64_t pos = created ? 0 : (int64_t)size;
    atomic_init(&mf->wrote, pos);
    atomic_init(&mf->committed, pos);
    atomic_init(&mf->flushed, pos);
    atomic_init(&mf->claimed, pos);
    atomic_init(&mf->zeroing, INT64_MAX);
    *out = mf;
    return RK_OK;
fail_unlink:
    if (created)
        unlink(mf->path);
fail:
    close(mf->fd);
    free(mf);
    return rc;
}

int rk_mapped_file_open(const char *dir, int64_t from, size_t size, bool create,
                        rk_mapped_file_t **out)
{
    return open_file(dir, from, size, create, false, out);
}

int rk_mapped_file_open_grow(const char *dir, int64_t from, size_t size, bool create,
                             rk_mapped_file_t **out)
{
    return open_file(dir, from, size, create, true, out);
}

int rk_mapped_file_reserve(rk_mapped_file_t *mf, int64_t end)
{
    int64_t have = atomic_load_explicit(&mf->reserved, memory_order_relaxed);
    if (end > (int64_t)mf->size)
        end = (int64_t)mf->size;
    if (end <= have)
        return RK_OK;
    int64_t want = (int64_t)mf->size;
    if (mf->grow) {
        int64_t step = have < RK_OS_PAGE_SIZE ? RK_OS_PAGE_SIZE : have > GROW_MAX ? GROW_MAX : have;
        want = have + step;
        if (want < end)
            want = end;
        want = (want + RK_OS_PAGE_SIZE - 1) / RK_OS_PAGE_SIZE * RK_OS_PAGE_SIZE;
        if (want > (int64_t)mf->size)
            want = (int64_t)mf->size;
    }
    int rc = rk_prealloc(mf->fd, have, want - have);
    if (rc != RK_OK)
        return rc;
    atomic_store_explicit(&mf->reserved, want, memory_order_relaxed);
    return RK_OK;
}

int64_t rk_mapped_file_data_end(rk_mapped_file_t *mf, int64_t from)
{
    if (from >= (int64_t)mf->size)
        return (int64_t)mf->size;
    off_t h = lseek(mf->fd, (off_t)from, SEEK_HOLE);
    if (h < 0 || h > (off_t)mf->size)
        return (int64_t)mf->size;
    return (int64_t)h;
}

void rk_mapped_file_hold(rk_mapped_file_t *mf) { atomic_fetch_add(&mf->refs, 1); }

void rk_mapped_file_release(rk_mapped_file_t *mf)
{
    if (mf == NULL || atomic_fetch_sub(&mf->refs, 1) != 1)
        return;
    if (munmap(mf->base, mf->size) != 0)
        rk_log_warn("mappedfile", "munmap %s: %s", mf->path, strerror(errno));
    close(mf->fd);
    if (atomic_load(&mf->doomed)) {
        if (unlink(mf->path) != 0 && errno != ENOENT)
            rk_log_warn("mappedfile", "unlink %s: %s", mf->path, strerror(errno));
        else
            rk_log_info("mappedfile", "deleted %s", mf->path);
    }
    free(mf);
}

void rk_mapped_file_destroy(rk_mapped_file_t *mf) { atomic_store(&mf->doomed, true); }

int64_t rk_mapped_file_flush(rk_mapped_file_t *mf, int least_pages)
{
    int64_t flushed = atomic_load(&mf->flushed);
    int64_t committed = atomic_load(&mf->committed);
    if (committed <= flushed)
        return flushed;
    bool full = committed >= (int64_t)mf->size;
    if (!full && least_pages > 0 &&
        committed / RK_OS_PAGE_SIZE - flushed / RK_OS_PAGE_SIZE < least_pages)
        return flushed;
    int64_t start = flushed & ~(int64_t)(RK_OS_PAGE_SIZE - 1);
    if (msync(mf->base + start, (size_t)(committed - start), MS_SYNC) != 0)
        return -errno;
    atomic_store(&mf->flushed, committed);
    return committed;
}

void rk_mapped_file_write(rk_mapped_file_t *mf, int64_t pos, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = pwrite(mf->fd, p, len, (off_t)pos);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        pos += w;
        len -= (size_t)w;
    }
    if (len > 0)        /* the blocks are reserved: the mapping takes them */
        memcpy(mf->base + pos, p, len);
}

#define CLAIM_STEP (64 * 1024)
#define PREWRITE_CHUNK (256 * 1024)

/* What a pre-write copies: zeros, read-only. */
static const uint8_t prewrite_zeros[PREWRITE_CHUNK];

void rk_mapped_file_claim(rk_mapped_file_t *mf, int64_t end)
{
    if (end <= atomic_load_explicit(&mf->claimed, memory_order_relaxed))
        return;
    int64_t c = end + CLAIM_STEP;
    if (c > (int64_t)mf->size)
        c = (int64_t)mf->size;
    atomic_store(&mf->claimed, c);
    while (atomic_load(&mf->zeroing) < c)   /* a pre-write is zeroing there: let it finish */
        sched_yield();
}

int64_t rk_mapped_file_prewrite(rk_mapped_file_t *mf, int64_t from, int64_t to)
{
    int64_t reserved = atomic_load_explicit(&mf->reserved, memory_order_relaxed);
    if (to > reserved)
        to = reserved;
    int64_t at = from;
    while (at < to) {
        int64_t end = at + PREWRITE_CHUNK < to ? at + PREWRITE_CHUNK : to;
        atomic_store(&mf->zeroing, at);
        if (atomic_load(&mf->claimed) > at || atomic_load(&mf->wrote) > at) {
            atomic_store(&mf->zeroing, INT64_MAX);
            break;                          /* the writer is there already */
        }
        ssize_t w = pwrite(mf->fd, prewrite_zeros, (size_t)(end - at), (off_t)at);
        int err = errno;
        atomic_store(&mf->zeroing, INT64_MAX);
        if (w < 0 && err == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -err : -EIO;
        at += w;
    }
    return at;
}

void rk_mapped_file_warm(rk_mapped_file_t *mf)
{
    /* only reserved pages: a store into a page without blocks is a SIGBUS
     * on a full disk */
    size_t end = (size_t)atomic_load(&mf->reserved);
    volatile uint8_t *p = mf->base;
    for (size_t i = (size_t)atomic_load(&mf->wrote); i < end; i += RK_OS_PAGE_SIZE)
        p[i] = 0;
    madvise(mf->base, end, MADV_WILLNEED);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Zeroes the non-zero pages of [at, to) (pages that are zero already are
 * only read, not dirtied). */
static void zero_range(rk_mapped_file_t *mf, size_t at, size_t to)
{
    while (at < to) {
        size_t end = (at / RK_OS_PAGE_SIZE + 1) * RK_OS_PAGE_SIZE;
        if (end > to)
            end = to;
        if (!all_zero(mf->base + at, end - at))
            memset(mf->base + at, 0, end - at);
        at = end;
    }
}

void rk_mapped_file_reset_to(rk_mapped_file_t *mf, int64_t pos)
{
    /* Zero whatever lies past pos, so stale records can never be mistaken
     * for new ones later. Only the ranges the filesystem says may hold data
     * are read: holes and never-written (fallocated) blocks read as zeros
     * already, and reading them through the mapping would fault every page
     * of the file into memory (a 6 MB consume-queue file for one unit, a
     * 1 GiB commitlog file at each restart). */
    size_t at = (size_t)pos;
    while (at < mf->size) {
        off_t d = lseek(mf->fd, (off_t)at, SEEK_DATA);
        if (d < 0) {
            if (errno == ENXIO)
                break;                  /* nothing but holes up to the end */
            zero_range(mf, at, mf->size);  /* cannot tell: read it all */
            break;
        }
        if ((size_t)d >= mf->size)
            break;
        off_t h = lseek(mf->fd, d, SEEK_HOLE);
        size_t hole = h < 0 || (size_t)h > mf->size ? mf->size : (size_t)h;
        if (hole <= (size_t)d)
            hole = mf->size;
        zero_range(mf, (size_t)d > at ? (size_t)d : at, hole);
        at = hole;
    }
    atomic_store(&mf->wrote, pos);
    atomic_store(&mf->committed, pos);
    atomic_store(&mf->flushed, pos);
    atomic_store(&mf->claimed, pos);
}
