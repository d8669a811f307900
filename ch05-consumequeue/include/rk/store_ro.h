/* store_ro.h — a read-only view of a message store, for tools that inspect
 * (rkstore queues, cq, query). "Tools that inspect are read-only": opening
 * a store with rk_store_open() recovers it (removes `abort`, truncates a torn
 * tail, sets damaged queue files aside, rebuilds consume queues, writes the
 * checkpoint and consumeQueueState.json), which destroys the evidence an
 * operator is looking at. This view does none of that:
 *
 *   - files are opened O_RDONLY (and the commitlog mapped PROT_READ by ch04's
 *     rk_commitlog_scan_dir); nothing is created, written, renamed,
 *     truncated or deleted, not even a lock (a broker may be running);
 *   - no thread, no abort handling: a store left by a crash is shown as it
 *     is on disk, and rk_store_ro_abnormal() says so;
 *   - each queue's [min, max) is what the store would serve after its own
 *     recovery, computed without changing anything: the units up to the
 *     first invalid one (or the first past the log's end, or a gap or short
 *     file in the chain), min past units whose records the log dropped.
 *     A queue listed in consumeQueueState.json but absent on disk is
 *     reported missing (a broker's start rebuilds it; this view does not).
 *
 * Lookups by key scan the commitlog (rk_store_ro_query_by_key) rather than
 * reading the index: slower on a big store, but it needs nothing derived.
 *
 * Memory: rk_store_ro_open allocates the view (queue table included); the
 * caller frees it with rk_store_ro_close. Not thread-safe (a tool's view). */
#ifndef RK_STORE_RO_H
#define RK_STORE_RO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/cq_unit.h"
#include "rk/message.h"

typedef struct rk_store_ro rk_store_ro_t;

/* One consume queue as the view sees it. */
typedef struct rk_store_ro_queue {
    char topic[256];
    int qid;
    int64_t min_offset, max_offset;  /* as the store would serve them (0, 0 if missing) */
    int64_t state_max;               /* max offset consumeQueueState.json records, -1: none */
    bool missing;                    /* in consumeQueueState.json, no folder on disk */
    const char *problem;             /* NULL, or why the chain ends early (a broker rebuilds it) */
} rk_store_ro_queue_t;

/* Opens root read-only. cl_file_size / cq_file_size: the store's
 * mappedFileSizeCommitLog / mappedFileSizeConsumeQueue, 0 to detect them
 * from the files (defaults when there are none). On error, err says why. */
int rk_store_ro_open(const char *root, int64_t cl_file_size, int64_t cq_file_size,
                     rk_store_ro_t **out, char *err, size_t errlen);
void rk_store_ro_close(rk_store_ro_t *ro);

/* Commitlog [min, max): the first file's start, the end of the last valid
 * record (a torn tail is not counted, and not cut). */
int64_t rk_store_ro_commitlog_min(const rk_store_ro_t *ro);
int64_t rk_store_ro_commitlog_max(const rk_store_ro_t *ro);
/* True when `abort` is present: the last run did not exit cleanly. */
bool rk_store_ro_abnormal(const rk_store_ro_t *ro);

/* Every queue (on disk or missing), sorted by topic then qid. */
size_t rk_store_ro_queue_count(const rk_store_ro_t *ro);
const rk_store_ro_queue_t *rk_store_ro_queue(const rk_store_ro_t *ro, size_t i);
const rk_store_ro_queue_t *rk_store_ro_find(const rk_store_ro_t *ro, const char *topic, int qid);

/* Reads up to max units of topic/qid from queue offset `offset` (within
 * [min, max)); returns the count (0 past the end or for an unknown queue)
 * or a negative error. */
int rk_store_ro_read_units(rk_store_ro_t *ro, const char *topic, int qid, int64_t offset,
                           rk_cq_unit_t *out, int max);

/* One message found by key. */
typedef struct rk_store_ro_hit {
    int64_t phys, queue_offset;
    int queue_id;
    bool crc_ok;                     /* the body matches its CRC */
    char keys[256], uniq[128];
    char msg_id[RK_MSGID_MAX];       /* offsetMsgId */
} rk_store_ro_hit_t;

/* The newest (up to max) messages of topic whose KEYS (space-separated)
 * hold key or whose UNIQ_KEY is key, newest first, found by scanning the
 * commitlog. Returns the count or a negative error. */
int rk_store_ro_query_by_key(rk_store_ro_t *ro, const char *topic, const char *key,
                             rk_store_ro_hit_t *out, int max);

#endif
