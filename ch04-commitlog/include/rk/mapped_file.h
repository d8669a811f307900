/* mapped_file.h — one fixed-size, memory-mapped file of a log.
 *
 * RocketMQ keeps its logs as a row of equal-size files, each named by the
 * byte offset (20 digits) of its first byte in the whole log:
 *
 *   00000000000000000000  00000000001073741824  00000000002147483648 ...
 *   |<---- file size --->||<---- file size --->||<----- ...
 *
 * A file is mapped once (MAP_SHARED) and written with memcpy: the kernel's
 * page cache does the buffering, msync pushes it to disk. Three positions,
 * all relative to the file's start, only ever grow:
 *
 *   flushed <= committed <= wrote <= size
 *   flushed:   durable (msync'ed) up to here
 *   committed: complete records up to here; readers never look past it
 *   wrote:     reserved by the (single) writer
 *
 * Lifetime: a file is reference counted. Whoever holds a reference may read
 * its memory; the mapping is removed (and, if rk_mapped_file_destroy() was
 * called, the file unlinked) when the last reference is released, so a
 * reader holding a slice is never left with an unmapped pointer. Creating a
 * file pre-allocates its blocks (posix_fallocate) so a full disk is an error
 * at creation, never a SIGBUS in the middle of a write. */
#ifndef RK_MAPPED_FILE_H
#define RK_MAPPED_FILE_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RK_OS_PAGE_SIZE 4096

typedef struct rk_mapped_file {
    char path[PATH_MAX];
    int fd;
    uint8_t *base;
    int64_t from;               /* offset of byte 0 in the whole log */
    size_t size;
    _Atomic int64_t wrote;
    _Atomic int64_t committed;
    _Atomic int64_t flushed;
    _Atomic int refs;
    _Atomic bool doomed;        /* unlink when the last reference goes */
} rk_mapped_file_t;

/* Allocation choke point: creating a file's blocks. Tests replace it to
 * simulate a full disk (return -ENOSPC). Default: posix_fallocate. */
typedef int (*rk_prealloc_fn)(int fd, size_t size);
/* Process-wide (documented global): set before any store is opened. */
void rk_mapped_file_set_prealloc(rk_prealloc_fn fn);

/* Formats a 20-digit file name for offset into name (>= 21 bytes). */
void rk_mapped_file_name(int64_t offset, char *name);

/* Opens dir/<20-digit from>, creating and pre-allocating it if create is
 * true and it does not exist. An existing file must be exactly `size`
 * bytes (RK_ECORRUPT otherwise). The new file holds one reference. */
int rk_mapped_file_open(const char *dir, int64_t from, size_t size, bool create,
                        rk_mapped_file_t **out);
void rk_mapped_file_hold(rk_mapped_file_t *mf);
void rk_mapped_file_release(rk_mapped_file_t *mf);
/* Marks the file for deletion; it goes when the last reference does. */
void rk_mapped_file_destroy(rk_mapped_file_t *mf);

/* msyncs [flushed, committed) if at least least_pages dirty pages (0: any
 * dirty byte). Returns the flushed position, or a negative error. */
int64_t rk_mapped_file_flush(rk_mapped_file_t *mf, int least_pages);
/* Touches every page so first writes do not page-fault (warm-up). */
void rk_mapped_file_warm(rk_mapped_file_t *mf);
static inline bool rk_mapped_file_full(const rk_mapped_file_t *mf)
{
    return atomic_load(&mf->wrote) >= (int64_t)mf->size;
}
/* Sets all three positions (recovery, truncation) and zeroes [pos, size). */
void rk_mapped_file_reset_to(rk_mapped_file_t *mf, int64_t pos);

/* A held view of mapped bytes. Release exactly once. */
typedef struct rk_slice {
    const uint8_t *data;
    size_t len;
    rk_mapped_file_t *mf;
} rk_slice_t;

static inline void rk_slice_release(rk_slice_t *s)
{
    if (s->mf != NULL)
        rk_mapped_file_release(s->mf);
    s->mf = NULL;
    s->data = NULL;
    s->len = 0;
}

#endif
