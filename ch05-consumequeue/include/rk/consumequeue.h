/* consumequeue.h — per-queue index over the commitlog.
 *
 * One ConsumeQueue per (topic, queueId), in consumequeue/<topic>/<qid>/, a
 * chain of fixed-size files (mappedFileSizeConsumeQueue, 6,000,000 bytes =
 * 300,000 units) named by the 20-digit byte offset of their first unit.
 * Each 20-byte unit points at one record (see rk/cq_unit.h):
 *
 *   0        8        12               20
 *   +--------+--------+----------------+
 *   | phys   | size   | tag hash       |   all big-endian
 *   +--------+--------+----------------+
 *
 * Queue offset n is at byte n × 20. min offset = first unit still on disk
 * (files below the commitlog's min offset are deleted by cleanup), max
 * offset = one past the last unit written. A queue created at a non-zero
 * offset (its head was deleted, or it is rebuilt from a log whose head was
 * deleted) gets blank units (0, INT32_MAX, 0) before its first real unit.
 *
 * Disk space: a file has its full logical size (RocketMQ's layout) from
 * the start, but its blocks are reserved ahead of the writer in chunks that
 * grow from one page (rk_mapped_file_open_grow): a queue holding one unit
 * takes 4 KiB of disk, not 6 MB. A full disk makes rk_cq_put return
 * -ENOSPC (nothing written); recovery reads only the file's data ranges, so
 * opening a queue faults in what it holds, not the whole file.
 *
 * The files are ch04 mapped files (rk/mapped_file.h); the chain of them is
 * kept here because ch04's rk_mfq_t only takes page-multiple file sizes.
 *
 * Thread-safety: one writer (the dispatch thread: put; truncate and recover
 * at open) and many readers (get, lookup). A reader takes a reference on the
 * file it reads; cleanup (delete_expired) drops a file from the queue at
 * once, and ch04 unmaps and unlinks it when the last reader lets go. All
 * functions may be called from any thread. */
#ifndef RK_CONSUMEQUEUE_H
#define RK_CONSUMEQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/cq_unit.h"

typedef struct rk_cq rk_cq_t;

/* Opens (creating the folder) consumequeue/<topic>/<qid> under `cq_root`
 * and maps its files. file_size must be a multiple of 20. A file named off
 * the file_size grid, or larger than file_size, is refused (RK_ECORRUPT:
 * mappedFileSizeConsumeQueue changed), as RocketMQ refuses it. A damaged
 * chain is repaired, never refused: a file cut short keeps its whole units
 * (in a fresh file; the short one is renamed <name>.damaged) and the queue
 * ends there; files after it, or after a missing file, are renamed
 * <name>.damaged. Nothing is deleted but an empty newest file (a creation
 * cut short by a crash). rk_cq_was_repaired() then says the queue must be
 * rebuilt from the commitlog (the message store does it at start). */
int rk_cq_open(const char *cq_root, const char *topic, int qid, int64_t file_size, rk_cq_t **out);
bool rk_cq_was_repaired(const rk_cq_t *cq);
/* Flushes nothing; unmaps and frees. No reader may hold a slice. */
void rk_cq_close(rk_cq_t *cq);
/* Closes and deletes the queue's files and folder. */
int rk_cq_destroy(rk_cq_t *cq);

const char *rk_cq_topic(const rk_cq_t *cq);
int rk_cq_queue_id(const rk_cq_t *cq);

/* Recovery (ConsumeQueue.recover): scans from the third-to-last file to the
 * first invalid unit and drops everything after it. Returns the number of
 * valid units found in the scanned files. */
int64_t rk_cq_recover(rk_cq_t *cq);
/* truncateDirtyLogicFiles: drops every unit whose record starts at or after
 * commitlog offset `phys` (the log was truncated there). */
int rk_cq_truncate_phys(rk_cq_t *cq, int64_t phys);

/* Writes `u` at queue offset `offset` (putMessagePositionInfo). An offset
 * below max is a repeat and is ignored (returns 0); a gap is filled with
 * blank units and logged. Returns 1 when a unit was written. */
int rk_cq_put(rk_cq_t *cq, int64_t offset, const rk_cq_unit_t *u);

int64_t rk_cq_min_offset(rk_cq_t *cq);
int64_t rk_cq_max_offset(rk_cq_t *cq);
/* End (phys + size) of the newest unit: how far this queue has seen the
 * log. 0 for an empty queue. */
int64_t rk_cq_max_phys(rk_cq_t *cq);

/* Units from `offset` to the end of the file holding it (never past max):
 * the zero-copy view RocketMQ calls getIndexBuffer. */
typedef struct rk_cq_slice {
    const uint8_t *units;   /* count × 20 bytes in the mapped file */
    int64_t offset;         /* queue offset of the first unit */
    int count;
    void *ref;              /* internal: the file reference */
} rk_cq_slice_t;

/* RK_ENOTFOUND when offset is outside [min, max) or its file is gone. */
int rk_cq_read(rk_cq_t *cq, int64_t offset, rk_cq_slice_t *out);
void rk_cq_slice_release(rk_cq_slice_t *s);
/* Copies the unit at offset. */
int rk_cq_get_unit(rk_cq_t *cq, int64_t offset, rk_cq_unit_t *out);

/* getOffsetInQueueByTime: the queue offset of the first message stored at
 * `ts` (RocketMQ 4.x returns any of them), else the one stored nearest to it. store_ts(phys, size, ctx) reads a record's store time
 * from the log (< 0 when it cannot). An empty queue gives 0. */
typedef int64_t (*rk_cq_store_ts_fn)(int64_t phys, int32_t size, void *ctx);
int64_t rk_cq_offset_by_time(rk_cq_t *cq, int64_t ts, rk_cq_store_ts_fn store_ts, void *ctx);

/* Flushes dirty pages when at least least_pages (4 KiB) are dirty, or
 * everything when least_pages is 0. Returns 0 or an error. */
int rk_cq_flush(rk_cq_t *cq, int least_pages);
/* Deletes files whose last unit points below commitlog offset `min_phys`
 * (never the newest file), then moves min offset past units below it
 * (correctMinOffset). Returns the number of files deleted. */
int rk_cq_delete_expired(rk_cq_t *cq, int64_t min_phys);
/* Number of mapped files and bytes mapped (stats, bench). */
int rk_cq_file_count(rk_cq_t *cq);

/* Touch every page of new files as they are created (warmMapedFileEnable). */
void rk_cq_set_warm(rk_cq_t *cq, bool warm);

#endif
