/* mapped_file.c — fixed-size mmap'ed files with reference-counted lifetime (see rk/mapped_file.h). */
#include "rk/mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"

static int default_prealloc(int fd, size_t size)
{
    int rc = posix_fallocate(fd, 0, (off_t)size);
    return rc == 0 ? RK_OK : -rc;
}

/* The allocation choke point (documented in the header). */
static rk_prealloc_fn prealloc_fn = default_prealloc;

void rk_mapped_file_set_prealloc(rk_prealloc_fn fn) { prealloc_fn = fn ? fn : default_prealloc; }

void rk_mapped_file_name(int64_t offset, char *name) { snprintf(name, 21, "%020" PRId64, offset); }

int rk_mapped_file_open(const char *dir, int64_t from, size_t size, bool create,
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
    if (created) {
        rc = prealloc_fn(mf->fd, size);
        if (rc != RK_OK) {
            rk_log_error("mappedfile", "cannot allocate %zu bytes for %s: %s", size, mf->path,
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
    atomic_init(&mf->refs, 1);
    /* A loaded file counts as full until recovery says where it ends. */
    int64_t pos = created ? 0 : (int64_t)size;
    atomic_init(&mf->wrote, pos);
    atomic_init(&mf->committed, pos);
    atomic_init(&mf->flushed, pos);
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

void rk_mapped_file_warm(rk_mapped_file_t *mf)
{
    volatile uint8_t *p = mf->base;
    for (size_t i = (size_t)atomic_load(&mf->wrote); i < mf->size; i += RK_OS_PAGE_SIZE)
        p[i] = 0;
    madvise(mf->base, mf->size, MADV_WILLNEED);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

void rk_mapped_file_reset_to(rk_mapped_file_t *mf, int64_t pos)
{
    /* Zero whatever lies past pos, so stale records can never be mistaken
     * for new ones later; pages that are zero already are only read, not
     * dirtied (a 1 GiB file mostly is). */
    for (size_t at = (size_t)pos; at < mf->size;) {
        size_t end = (at / RK_OS_PAGE_SIZE + 1) * RK_OS_PAGE_SIZE;
        if (end > mf->size)
            end = mf->size;
        if (!all_zero(mf->base + at, end - at))
            memset(mf->base + at, 0, end - at);
        at = end;
    }
    atomic_store(&mf->wrote, pos);
    atomic_store(&mf->committed, pos);
    atomic_store(&mf->flushed, pos);
}
