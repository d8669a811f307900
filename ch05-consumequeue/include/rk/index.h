/* index.h — the message index: find commitlog offsets by message key.
 *
 * RocketMQ's IndexFile format, byte for byte; only the slot and entry counts
 * come from config (maxHashSlotNum 5,000,000 and maxIndexNum 20,000,000 by
 * default; tests use tiny ones so files fill and roll). Files live in
 * <store>/index/ and are named by their creation time, yyyyMMddHHmmssSSS.
 *
 *   0                                                               40
 *   +--------------+--------------+--------------+--------------+----+----+
 *   | beginTs i64  | endTs i64    | beginPhy i64 | endPhy i64   |slot|cnt |  header
 *   +--------------+--------------+--------------+--------------+----+----+
 *   | slot 0 i32 | slot 1 i32 | ...  slotNum slots: newest entry number   |
 *   +------------+------------+---------------------------------------+
 *   | entry 0 (unused) | entry 1 | ... indexNum entries of 20 bytes:    |
 *   +------------------+---------+----------------------------------------+
 *
 *   entry:  0          4                 12            16          20
 *           | keyHash  | phyOffset i64   | timeDiff s  | prevIndex |
 *
 *   all big-endian. slot/cnt = hashSlotCount (slots in use) and indexCount
 *   (next entry number; starts at 1 so 0 means "none").
 *
 * A key is "topic#key", for each space-separated word of the KEYS property
 * and for UNIQ_KEY. keyHash = |String.hashCode(key)| (0 for INT_MIN), slot
 * = keyHash % slotNum. Entries with the same slot chain newest → oldest
 * through prevIndex, so a lookup walks one chain and stops once entries get
 * older than the time range. Different keys can share a hash: callers check
 * the message itself (rk_store_query_by_key does).
 *
 * Files are append-only; the newest takes the puts, older ones are read
 * only. The index is idempotent by commitlog offset: a put below the newest
 * file's endPhyOffset is ignored, so re-dispatching after a crash does not
 * duplicate entries.
 *
 * Disk space: a file has its full logical size, but blocks are reserved
 * (rk_prealloc) for the header and slot table at creation and for entries
 * ahead of the writer, in chunks doubling from 4 KiB to 1 MiB; a full disk
 * makes rk_index_build return -ENOSPC (nothing half-written), never SIGBUS.
 *
 * Thread-safety: one internal mutex; rk_index_build runs on the dispatch
 * thread, queries on any thread. */
#ifndef RK_INDEX_H
#define RK_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RK_INDEX_HEADER_SIZE 40
#define RK_INDEX_SLOT_SIZE 4
#define RK_INDEX_ENTRY_SIZE 20

typedef struct rk_index_config {
    int64_t max_hash_slot_num;   /* maxHashSlotNum, 5,000,000 */
    int64_t max_index_num;       /* maxIndexNum, 20,000,000  */
} rk_index_config_t;

typedef struct rk_index rk_index_t;

/* One file, as reported by rk_index_files(). */
typedef struct rk_index_file_info {
    char name[32];
    int64_t begin_ts, end_ts;
    int64_t begin_phy, end_phy;
    int32_t hash_slot_count, index_count;
} rk_index_file_info_t;

/* Opens <dir> (created if missing) and maps its files. A file whose size
 * does not match the config, or whose header is impossible, is renamed
 * <name>.damaged (kept, logged at ERROR, skipped from then on): the index
 * is derived data and must not keep the store from opening. When `drop_after_ts` >= 0
 * (abnormal stop), files whose endTimestamp > drop_after_ts are deleted: they
 * were not flushed completely and will be rebuilt by re-dispatch. */
int rk_index_open(const char *dir, const rk_index_config_t *cfg, int64_t drop_after_ts,
                  rk_index_t **out);
/* Flushes and unmaps everything. */
void rk_index_close(rk_index_t *idx);

/* Indexes one message: "topic#uniq" (if uniq) and "topic#k" for each word
 * of keys (may be NULL). Rolls to a new file when the current one is full.
 * Ignored (returns 0) when phys is below the newest file's endPhyOffset. */
int rk_index_build(rk_index_t *idx, const char *topic, const char *keys, const char *uniq,
                   int64_t phys, int64_t store_ts);

/* Up to max commitlog offsets of messages indexed under "topic#key" whose
 * store time is in [begin_ts, end_ts], newest first. Returns the count (>= 0)
 * or a negative error. May contain false positives (hash collisions). */
int rk_index_query(rk_index_t *idx, const char *topic, const char *key, int64_t begin_ts,
                   int64_t end_ts, int64_t *phys_out, int max);

/* msyncs every file; *flushed_ts (may be NULL) receives the end timestamp
 * of the newest flushed entry: the checkpoint's indexMsgTimestamp. */
int rk_index_flush(rk_index_t *idx, int64_t *flushed_ts);
/* commitlog offset below which nothing is indexed yet (newest endPhyOffset;
 * 0 when empty): where a rebuild must start. */
int64_t rk_index_end_phy(rk_index_t *idx);
/* Deletes files (never the newest) whose endPhyOffset < min_phys; returns
 * how many were deleted. */
int rk_index_delete_expired(rk_index_t *idx, int64_t min_phys);
/* Deletes the newest files while their endPhyOffset >= end_phys: after the
 * commitlog was truncated at end_phys their entries may point at offsets
 * that new records will reuse, and the idempotence check would then skip
 * those records. Re-dispatch rebuilds what was dropped. Returns how many. */
int rk_index_drop_from_phys(rk_index_t *idx, int64_t end_phys);
/* Copies the header of up to max files (oldest first); returns the count. */
int rk_index_files(rk_index_t *idx, rk_index_file_info_t *out, int max);

/* Math.abs(String.hashCode(s)), and 0 where that stays negative (INT_MIN). */
int32_t rk_index_key_hash(const char *s, size_t len);

#endif
