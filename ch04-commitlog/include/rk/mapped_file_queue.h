/* mapped_file_queue.h — the row of equal-size mapped files behind one log.
 *
 * Used by the CommitLog (ch04) and by every ConsumeQueue (ch05). The queue
 * owns one reference to each of its files; functions that hand a file out
 * take another reference for the caller, who releases it with
 * rk_mapped_file_release().
 *
 * Thread-safety: one writer (the put path) and any number of readers. The
 * file list is guarded by a libuv rwlock; positions inside a file are
 * atomics (see rk/mapped_file.h). */
#ifndef RK_MAPPED_FILE_QUEUE_H
#define RK_MAPPED_FILE_QUEUE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "rk/mapped_file.h"

typedef struct rk_mfq {
    char dir[PATH_MAX];
    size_t file_size;
    bool warm;                  /* touch the pages of each new file */
    uv_rwlock_t lock;
    rk_mapped_file_t **files;   /* ascending by start offset */
    int n, cap;
    uv_mutex_t create_mu;       /* one file creation at a time */
    rk_mapped_file_t *spare;    /* the next file, made ahead of time (under create_mu) */
    int prepare_rc;             /* the last rk_mfq_prepare_next result (under create_mu) */
} rk_mfq_t;

/* Creates dir if needed; maps no file yet. Any file size > 0. */
int rk_mfq_init(rk_mfq_t *q, const char *dir, size_t file_size);
/* Releases every file (mappings go when readers release theirs too). */
void rk_mfq_destroy(rk_mfq_t *q);
/* Maps the existing files. Each must be exactly file_size bytes and named
 * by a multiple of it, without gaps; err names the offending file. Files
 * start "full"; recovery then truncates to the real end. A short last file
 * is extended with blocks (rk_prealloc), and the last file's blocks are
 * reserved (rk_mapped_file_reserve; a warning if the disk is full, and puts
 * into it then fail cleanly). */
int rk_mfq_load(rk_mfq_t *q, char *err, size_t errlen);
/* The start offsets of the mapped files in dir (names of 20 digits; other
 * names are ignored), sorted, and checked to follow each other every
 * file_size bytes (RK_ECORRUPT and err naming the file otherwise). *out is
 * malloc'ed (NULL when there are none); the caller frees it. Reads nothing
 * but the folder: the read-only inspectors use it too. */
int rk_mfq_list(const char *dir, int64_t file_size, int64_t **out, size_t *n, char *err, size_t errlen);

int rk_mfq_count(rk_mfq_t *q);
/* The i-th file (held), or NULL. */
rk_mapped_file_t *rk_mfq_get(rk_mfq_t *q, int i);
/* The file holding offset (held), or NULL. */
rk_mapped_file_t *rk_mfq_find(rk_mfq_t *q, int64_t offset);
/* The last file (held), or NULL if there is none. */
rk_mapped_file_t *rk_mfq_last(rk_mfq_t *q);
/* The last file if it has room, else a new one after it (starting at
 * `start_if_empty` when the queue has no file). Held. */
int rk_mfq_last_or_create(rk_mfq_t *q, int64_t start_if_empty, rk_mapped_file_t **out);

/* Creates (and, if q->warm, warms) the file after the last one ahead of
 * time, so the writer's roll finds it ready: allocation and first-touch page
 * faults then happen on the caller's thread, not on the put path. A no-op if
 * it exists already. The spare is deleted by rk_mfq_destroy if never used.
 * *was_rc (may be NULL) receives the previous call's result, so a caller
 * that retries on a full disk logs the change, not every attempt. */
int rk_mfq_prepare_next(rk_mfq_t *q, int *was_rc);
/* The file rk_mfq_prepare_next made ahead (held; the caller releases it), or NULL. The
 * prefault thread warms its head while the writer finishes the last file. */
rk_mapped_file_t *rk_mfq_spare(rk_mfq_t *q);

int64_t rk_mfq_min_offset(rk_mfq_t *q);      /* first file's start, or -1 */
int64_t rk_mfq_max_offset(rk_mfq_t *q);      /* last file's start + committed, or 0 */
int64_t rk_mfq_flushed_offset(rk_mfq_t *q);  /* last file's start + flushed, or 0 */
/* First offset of the file after the one holding offset. */
static inline int64_t rk_mfq_roll_next(const rk_mfq_t *q, int64_t offset)
{
    return offset + (int64_t)q->file_size - offset % (int64_t)q->file_size;
}

/* Makes offset the end of the log: files starting after it are deleted,
 * the file holding it is reset to it (tail zeroed). */
int rk_mfq_truncate(rk_mfq_t *q, int64_t offset);
/* Flushes files with dirty pages (least_pages as rk_mapped_file_flush).
 * Returns the flushed end offset or a negative error. */
int64_t rk_mfq_flush(rk_mfq_t *q, int least_pages);
/* Deletes whole files from the front: those ending at or before `offset`.
 * Never the last file. Returns how many. */
int rk_mfq_delete_before(rk_mfq_t *q, int64_t offset);
/* Deletes files from the front last modified more than reserved_ms ago
 * (or, with force, the oldest one regardless), never the last file, never
 * more than max_files. Returns how many. */
int rk_mfq_delete_expired(rk_mfq_t *q, int64_t reserved_ms, bool force, int max_files);

#endif
