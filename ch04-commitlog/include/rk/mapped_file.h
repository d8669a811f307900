/* mapped_file.h — one fixed-size, memory-mapped file of a log.
 *
 * RocketMQ keeps its logs as a row of equal-size files, each named by the
 * byte offset (20 digits) of its first byte in the whole log:
 *
 *   00000000000000000000  00000000001073741824  00000000002147483648 ...
 *   |<---- file size --->||<---- file size --->||<----- ...
 *
 * A file is mapped once (MAP_SHARED) and written with memcpy (or, for a
 * SYNC_FLUSH commitlog, with pwrite on its descriptor: rk_mapped_file_write):
 * the kernel's page cache does the buffering, msync pushes it to disk. Three positions,
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
 * reader holding a slice is never left with an unmapped pointer.
 *
 * Blocks before bytes. Storing into a page of a shared mapping whose blocks
 * the filesystem cannot provide (a full disk, a full tmpfs) kills the
 * process with SIGBUS; no error code is ever returned. So every byte is
 * reserved (posix_fallocate, through rk_prealloc) before a write lands on
 * it, and `reserved` records how far that is true:
 *
 *   wrote <= reserved <= size
 *
 * rk_mapped_file_open() reserves the whole file at creation (the commitlog:
 * a full disk is an error at the roll). rk_mapped_file_open_grow() keeps the
 * file's logical size (RocketMQ's layout) but reserves one page, and the
 * writer calls rk_mapped_file_reserve() before each write: the reservation
 * grows ahead of it in chunks that double from 4 KiB up to 1 MiB, so a queue
 * that holds one message takes one page of disk, not 6 MB, and a full disk
 * is an error from rk_mapped_file_reserve() (-ENOSPC), never a crash. A file
 * loaded from disk starts with reserved = 0: its first reserve() re-checks
 * the blocks from there (cheap where they exist already). */
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
    _Atomic int64_t reserved;   /* blocks exist for [0, reserved); writer only */
    _Atomic int64_t claimed;    /* the writer stores below this (rk_mapped_file_claim) */
    _Atomic int64_t zeroing;    /* a pre-write is storing zeros from here (INT64_MAX: none) */
    bool grow;                  /* reserve in growing chunks, not all at once */
    _Atomic int refs;
    _Atomic bool doomed;        /* unlink when the last reference goes */
} rk_mapped_file_t;

/* The allocation choke point: every block a rocklet store writes through a
 * mapping (commitlog, consume queues, index files, checkpoint) is reserved
 * by rk_prealloc(fd, offset, len), which may extend the file. Returns 0 or a
 * -errno (-ENOSPC: the disk is full). Tests replace the function to
 * simulate a full disk; the default is posix_fallocate. */
typedef int (*rk_prealloc_fn)(int fd, int64_t offset, int64_t len);
/* Process-wide (the one documented global): set before any store is opened;
 * NULL restores posix_fallocate. */
void rk_mapped_file_set_prealloc(rk_prealloc_fn fn);
int rk_prealloc(int fd, int64_t offset, int64_t len);

/* Formats a 20-digit file name for offset into name (>= 21 bytes). */
void rk_mapped_file_name(int64_t offset, char *name);

/* Opens dir/<20-digit from>, creating and pre-allocating it if create is
 * true and it does not exist. An existing file must be exactly `size`
 * bytes (RK_ECORRUPT otherwise). The new file holds one reference. */
int rk_mapped_file_open(const char *dir, int64_t from, size_t size, bool create,
                        rk_mapped_file_t **out);
/* The same, but a created file is sparse past its first page (see above:
 * rk_mapped_file_reserve() before writing). Consume queues use it. */
int rk_mapped_file_open_grow(const char *dir, int64_t from, size_t size, bool create,
                             rk_mapped_file_t **out);
/* Makes sure blocks exist for [wrote-ish, end): a no-op when end <= reserved,
 * else one rk_prealloc call (growth as above; a non-growing file reserves
 * the rest of itself). end is capped at size. 0 or -errno (-ENOSPC); on
 * failure nothing changed and nothing may be written past `reserved`. */
int rk_mapped_file_reserve(rk_mapped_file_t *mf, int64_t end);
/* The first byte at or after `from` that lies in a hole of the file (reads
 * as zero, holds no data), or size if the filesystem cannot tell. Scans
 * stop there instead of faulting in (or, on a full tmpfs, allocating) pages
 * that can only hold zeros. */
int64_t rk_mapped_file_data_end(rk_mapped_file_t *mf, int64_t from);
void rk_mapped_file_hold(rk_mapped_file_t *mf);
void rk_mapped_file_release(rk_mapped_file_t *mf);
/* Marks the file for deletion; it goes when the last reference does. */
void rk_mapped_file_destroy(rk_mapped_file_t *mf);

/* msyncs [flushed, committed) if at least least_pages dirty pages (0: any
 * dirty byte). Returns the flushed position, or a negative error. */
int64_t rk_mapped_file_flush(rk_mapped_file_t *mf, int least_pages);
/* Stores len bytes at pos (relative to the file's start) with pwrite() on
 * the file's descriptor instead of a memcpy into the mapping. The mapping
 * sees them at once (one page cache), but the writer's page-table entries
 * stay clean, so a flush need not write-protect them (a TLB shoot-down on
 * every core running the process) and the next write does not fault the
 * page back in. Blocks must be reserved first, as for any write. Falls back
 * to memcpy for whatever pwrite() refused, so it cannot fail. */
void rk_mapped_file_write(rk_mapped_file_t *mf, int64_t pos, const void *data, size_t len);
/* Pre-writing (a commitlog's prefault thread, rk/commitlog.h): a page a
 * mapping faults in from a hole or a fallocated block is zero-filled by the
 * kernel first (from readahead, in large folios, which on a VM with free
 * memory are slow to get and zero), then overwritten by the writer. Writing
 * zeros with 256 KiB pwrite()s ahead of the writer instead puts the pages
 * in the page cache for a copy (there: 2.4 to 3.2 times cheaper; on
 * recycled memory 1.2 to 1.6 times dearer), and the writer's stores then land on
 * pages that exist. Unlike faulting pages in, this changes bytes, so
 * it must never touch a byte the writer may have stored: the writer claims
 * its range first, the pre-write publishes the chunk it is about to zero,
 * and each checks the other after publishing (both sequentially consistent,
 * so at least one of them sees the other):
 *
 * rk_mapped_file_claim(mf, end): the writer will store below `end`. Claims
 * ahead in 64 KiB steps (one atomic store per step, not per put) and waits
 * while a pre-write covers the claim (only when the writer caught up with
 * it: at most one chunk's pwrite). Every store into the file (mapping or
 * pwrite) must be claimed first, while a pre-write may run.
 * rk_mapped_file_prewrite(mf, from, to): writes zeros over [from, to),
 * capped at `reserved` (blocks before bytes: nothing is allocated here), in
 * 256 KiB pwrites, stopping before the first chunk the writer claimed.
 * Returns where it stopped, or -errno (-ENOSPC, -EIO) when a pwrite failed. */
void rk_mapped_file_claim(rk_mapped_file_t *mf, int64_t end);
int64_t rk_mapped_file_prewrite(rk_mapped_file_t *mf, int64_t from, int64_t to);
/* Touches every reserved page past wrote so first writes do not
 * page-fault (warm-up). */
void rk_mapped_file_warm(rk_mapped_file_t *mf);
static inline bool rk_mapped_file_full(const rk_mapped_file_t *mf)
{
    return atomic_load(&mf->wrote) >= (int64_t)mf->size;
}
/* Sets all three positions (recovery, truncation) and zeroes [pos, size).
 * Only pages that may hold data are read (holes are skipped with
 * SEEK_DATA), so a restart does not fault whole files into memory. */
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
