/* message_store.h — the store facade: commitlog (ch04) + dispatcher + consume
 * queues + index + consumer offsets + checkpoint + cleanup, in RocketMQ's
 * store layout:
 *
 *   <root>/commitlog/00000000000000000000 ...      ch04
 *   <root>/consumequeue/<topic>/<qid>/<20 digits>   ch05, 20-byte units
 *   <root>/index/<yyyyMMddHHmmssSSS>                ch05, key index
 *   <root>/config/consumerOffset.json (+ .bak)      ch05
 *   <root>/config/consumeQueueState.json            ch05, what a start checks
 *                                                   (queues' ends, dispatch point)
 *   <root>/checkpoint, abort, lock                  ch04 (ch05 writes the logics/index times)
 *
 * Life cycle (what ch07's broker does):
 *
 *   rk_store_open(root, kv, &st)      load + recover, no threads yet
 *   rk_store_register_dispatcher(...) extension point: long-poll wake-up, HA, timer
 *   rk_store_start(st)                rebuild what is missing, start the reput,
 *                                     flush and cleanup threads; returns once
 *                                     dispatch caught up with the log
 *   rk_store_put / get_message / ...  any thread
 *   rk_store_close(st)                stop threads, flush, persist offsets
 *
 * Threads owned by the store: the reput thread (calls every dispatcher, in
 * log order) and one service thread (consume-queue flush, offset persist,
 * cleanup, checkpoint). Every public function below is safe to call from
 * any thread after start, except register (before start) and close (once,
 * after every other call returned).
 *
 * Zero copy: rk_store_get_message returns records as pointers into the
 * mapped commitlog. The result holds a reference on each mapped file it
 * points into; the memory stays valid (even if cleanup deletes the file)
 * until rk_get_result_release(). Release every result before close. */
#ifndef RK_MESSAGE_STORE_H
#define RK_MESSAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/commitlog.h"
#include "rk/config.h"
#include "rk/cq_unit.h"
#include "rk/dispatcher.h"
#include "rk/get_message.h"
#include "rk/message.h"
#include "rk/store_config.h"

typedef struct rk_store rk_store_t;

/* ---- life cycle -------------------------------------------------------- */

/* Opens the store at root with the settings in kv (may be NULL: defaults;
 * ch04's keys and rk_cq_store_config_fields are applied). On error, err
 * says why. */
int rk_store_open(const char *root, rk_kv_t *kv, rk_store_t **out, char *err, size_t errlen);
int rk_store_register_dispatcher(rk_store_t *st, const char *name, rk_dispatch_fn fn, void *ctx);
/* Tag-code hooks: how a record's consume-queue tags code is computed for the
 * records a hook claims (chapter 9 stores the delivery time of a
 * SCHEDULE_TOPIC_XXXX record, chapter 10 that of an rmq_sys_wheel_timer
 * record). A chain: at dispatch each hook is asked in the order added; the
 * first that returns true has set *code; when none does, the code is
 * rk_tag_code(TAGS). Called on the reput thread (and start's catch-up), so
 * a hook must be quick and must not call back into the store. Before start:
 * RK_EBUSY after, RK_EFULL past RK_TAG_CODE_HOOKS_MAX, RK_EINVAL for NULL. */
#define RK_TAG_CODE_HOOKS_MAX 4
typedef bool (*rk_tag_code_fn)(void *ctx, const rk_record_t *rec, const char *tags, int64_t *code);
int rk_store_add_tag_code_hook(rk_store_t *st, rk_tag_code_fn fn, void *ctx);
int rk_store_start(rk_store_t *st);
void rk_store_close(rk_store_t *st);
const rk_cq_store_config_t *rk_store_config(const rk_store_t *st);

/* ---- put (delegates to ch04) ------------------------------------------- */

/* Appends m through ch04 (put hooks, queue offset, ack stages: flush, and
 * whatever later chapters add) and returns when it is acknowledged.
 * Returns RK_OK when the put ran (res->status says how it ended, as
 * RocketMQ's PutMessageStatus) or an error if it could not be attempted.
 * The reput thread wakes on the append and dispatches the record. */
int rk_store_put(rk_store_t *st, const rk_msg_t *m, rk_put_result_t *res);
/* True while the store is read-only because its filesystem is more than
 * diskSpaceWarningLevelRatio percent used (checked every second with statvfs,
 * and at once after a put that could not allocate): every put, batch or
 * not, then ends with RK_PUT_SERVICE_NOT_AVAILABLE. *used_pct (may be NULL)
 * receives the last measured use, as df computes it (-1: unknown). */
bool rk_store_disk_full(rk_store_t *st, int *used_pct);
/* ch04's commitlog, for its own extension points (put hooks, ack stages,
 * async and batch puts). Owned by the store. */
rk_commitlog_t *rk_store_commitlog(rk_store_t *st);

/* ---- get --------------------------------------------------------------- */

typedef struct rk_get_msg {
    const uint8_t *data;        /* the whole stored record, in mapped memory */
    int32_t size;
    int64_t phys;
    int64_t queue_offset;
} rk_get_msg_t;

typedef struct rk_get_result {
    rk_get_status_t status;
    int64_t next_begin_offset;
    int64_t min_offset, max_offset;
    rk_get_msg_t *msgs;
    int count;
    int64_t total_bytes;
    void *priv;                 /* references on mapped files */
} rk_get_result_t;

/* Up to max_n records (0: maxTransferCountOnMessageInMemory) and max_bytes
 * bytes (0: maxTransferBytesOnMessageInMemory) of topic/qid from `offset`,
 * keeping those whose tag hash is in tag_codes (NULL: all). `group` is for
 * logs and stats only: the offset to read from is the caller's. Never
 * returns a record the dispatcher has not indexed yet. Returns 0 (look at
 * res->status) or a negative error (ENOMEM). */
int rk_store_get_message(rk_store_t *st, const char *group, const char *topic, int qid,
                         int64_t offset, int max_n, int64_t max_bytes, const int32_t *tag_codes,
                         int ncodes, rk_get_result_t *res);
void rk_get_result_release(rk_get_result_t *res);

/* ---- offsets and queues ------------------------------------------------ */

/* Max (next to be written) / min queue offset of topic/qid; 0 if no queue. */
int64_t rk_store_max_offset(rk_store_t *st, const char *topic, int qid);
int64_t rk_store_min_offset(rk_store_t *st, const char *topic, int qid);
/* getOffsetInQueueByTime. */
int64_t rk_store_offset_by_time(rk_store_t *st, const char *topic, int qid, int64_t ts);
/* Store time of the message at queue offset, or -1. */
int64_t rk_store_message_store_time(rk_store_t *st, const char *topic, int qid, int64_t offset);
/* The figures of one queue operators look at (GET_TOPIC_STATS_INFO). */
typedef struct rk_queue_stats {
    int64_t min_offset, max_offset;
    int64_t last_store_ts;      /* store time of the message at max_offset - 1; -1: none, or its
                                 * record left the log */
} rk_queue_stats_t;
/* The figures of topic's queues 0..n-1 into out[0..n-1], each what rk_store_min_offset,
 * rk_store_max_offset and rk_store_message_store_time(max - 1) answer (a queue the store does
 * not have: 0, 0, -1), for stats over many queues: one table look-up per queue, and the last
 * store time from memory (each queue remembers its last unit's, set by the dispatcher; a queue
 * not written since start reads it from the log once). RK_EINVAL for a name too long. */
int rk_store_queue_stats(rk_store_t *st, const char *topic, int n, rk_queue_stats_t *out);
/* Store time of the first message in the log (getEarliestMessageTime), or -1. */
int64_t rk_store_earliest_time(rk_store_t *st);
/* Commitlog bounds and the dispatch point (reputFromOffset). */
int64_t rk_store_commitlog_min(rk_store_t *st);
int64_t rk_store_commitlog_max(rk_store_t *st);
int64_t rk_store_dispatched(rk_store_t *st);
/* Waits until everything appended so far is dispatched (tests, tools). */
int rk_store_wait_dispatched(rk_store_t *st, int timeout_ms);
/* Visits every known topic/qid (sorted by topic then qid). */
int rk_store_foreach_queue(rk_store_t *st, int (*fn)(const char *topic, int qid, void *ctx), void *ctx);
/* Reads units of topic/qid from offset into out (up to max); returns count. */
int rk_store_read_units(rk_store_t *st, const char *topic, int qid, int64_t offset,
                        rk_cq_unit_t *out, int max);

/* Consumer offsets (the table persisted to config/consumerOffset.json). */
int rk_store_commit_offset(rk_store_t *st, const char *group, const char *topic, int qid,
                           int64_t offset);
int64_t rk_store_query_offset(rk_store_t *st, const char *group, const char *topic, int qid);
/* Visits the committed offsets of one group, (topic, qid, offset) in topic then qid order,
 * without holding any lock during fn (the offsets are copied first): what a group's consume
 * stats walk instead of every queue of the broker. */
int rk_store_foreach_group_offset(rk_store_t *st, const char *group,
                                  int (*fn)(const char *topic, int qid, int64_t offset, void *ctx), void *ctx);
/* Writes consumerOffset.json now (if changed). */
int rk_store_persist_offsets(rk_store_t *st);

/* ---- lookups ----------------------------------------------------------- */

/* One record held in mapped memory (release with rk_store_view_release). */
typedef struct rk_store_view {
    const uint8_t *data;
    int32_t size;
    int64_t phys;
    void *ref;                  /* internal: the mapped-file reference */
    void *priv_store;
} rk_store_view_t;

/* The record at commitlog offset phys (viewMessageById); RK_ENOTFOUND. */
int rk_store_view(rk_store_t *st, int64_t phys, rk_store_view_t *out);
/* The same, by offsetMsgId (uppercase hex, see rk_msgid_decode). */
int rk_store_view_by_msgid(rk_store_t *st, const char *msg_id, rk_store_view_t *out);
void rk_store_view_release(rk_store_view_t *v);

/* queryMessage: commitlog offsets of up to max messages of topic whose KEYS
 * contain key or whose UNIQ_KEY is key, stored in [begin_ts, end_ts],
 * newest first, hash collisions filtered out by reading each record.
 * Returns the count or a negative error (RK_EPERM if the index is off). */
int rk_store_query_by_key(rk_store_t *st, const char *topic, const char *key, int64_t begin_ts,
                          int64_t end_ts, int64_t *phys_out, int max);

/* ---- maintenance ------------------------------------------------------- */

/* Runs one cleanup pass now. force: delete expired commitlog files whatever
 * the hour (as when the disk is over diskMaxUsedSpaceRatio). Returns the
 * number of commitlog files deleted. */
int rk_store_clean_expired(rk_store_t *st, bool force);
/* Flushes consume queues, index and the checkpoint now. */
int rk_store_flush(rk_store_t *st);

#endif
