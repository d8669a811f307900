/* commitlog.h — the CommitLog: every message of every topic, appended to one log.
 *
 *   producers ──put──▶ [put hooks] ──▶ append under the put lock ──▶ ack stages ──▶ done
 *                       (ch09-11       (encode straight into the     (1: flush, built in;
 *                        rewrite)       mapped file, assign phys      2..: registered, e.g.
 *                                       and queue offsets)            ch08 waits for a slave)
 *
 * Files live in <storePathRootDir>/commitlog/, named by start offset (see
 * rk/mapped_file_queue.h). Beside them: `checkpoint` (rk/checkpoint.h),
 * `abort` (exists while the store is open: found at open = the last exit
 * was a crash) and `lock` (an fcntl lock: one process per store).
 *
 * Threads: puts may come from any number of threads (they serialize on the
 * put lock only for the memcpy). One flush thread (a uv_thread) runs the
 * async flush or the sync group commit and completes acks. Put callbacks run
 * on the thread that completes the last ack stage: the putting thread for
 * ASYNC_FLUSH without further stages, the flush thread for SYNC_FLUSH, or a
 * later stage's own thread.
 *
 * Memory: rk_msg_t pointers are borrowed for the duration of the put call
 * (the bytes are copied into the log before rk_commitlog_put* returns).
 * Slices returned by the read functions hold their file mapped until
 * rk_slice_release(). */
#ifndef RK_COMMITLOG_H
#define RK_COMMITLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/checkpoint.h"
#include "rk/config.h"
#include "rk/mapped_file.h"
#include "rk/message.h"

enum { RK_FLUSH_ASYNC = 0, RK_FLUSH_SYNC = 1 };

/* Store configuration, with RocketMQ's key names (rk_commitlog_config_fields). */
typedef struct rk_commitlog_config {
    char *store_root;               /* storePathRootDir */
    char *commitlog_dir;            /* storePathCommitLog (default <root>/commitlog) */
    int64_t file_size;              /* mappedFileSizeCommitLog */
    int flush_type;                 /* flushDiskType: ASYNC_FLUSH | SYNC_FLUSH */
    int64_t flush_interval_ms;      /* flushIntervalCommitLog */
    int64_t flush_least_pages;      /* flushCommitLogLeastPages */
    int64_t flush_thorough_ms;      /* flushCommitLogThoroughInterval */
    int64_t sync_flush_timeout_ms;  /* syncFlushTimeout */
    int64_t max_message_size;       /* maxMessageSize (body bytes) */
    bool check_crc_on_recover;      /* checkCRCOnRecover */
    bool warm_mapped_file;          /* warmMapedFileEnable */
    int64_t prefault_ahead;         /* prefaultAheadBytes (rocklet): pages faulted in ahead of the writer */
    char *broker_ip1;               /* brokerIP1: the store host in records and msgIds */
    int64_t listen_port;            /* listenPort */
    /* Not a file key: a later chapter that keeps its own queue offsets
     * (chapter 5, from its consume queues) sets this to skip the full-log
     * scan that rebuilds the queue-offset table at open. Default false. */
    bool skip_queue_offset_scan;
} rk_commitlog_config_t;

extern const rk_config_field_t rk_commitlog_config_fields[];

/* Defaults, then the keys of kv (kv may be NULL). */
int rk_commitlog_config_load(rk_commitlog_config_t *cfg, rk_kv_t *kv, char *err, size_t errlen);
void rk_commitlog_config_free(rk_commitlog_config_t *cfg);

/* RocketMQ's PutMessageStatus, same order. */
typedef enum rk_put_status {
    RK_PUT_OK = 0,
    RK_PUT_FLUSH_DISK_TIMEOUT,
    RK_PUT_FLUSH_SLAVE_TIMEOUT,
    RK_PUT_SLAVE_NOT_AVAILABLE,
    RK_PUT_SERVICE_NOT_AVAILABLE,
    RK_PUT_CREATE_MAPEDFILE_FAILED,
    RK_PUT_MESSAGE_ILLEGAL,
    RK_PUT_PROPERTIES_SIZE_EXCEEDED,
    RK_PUT_OS_PAGECACHE_BUSY,
    RK_PUT_UNKNOWN_ERROR,
    /* RocketMQ 5's timer statuses (chapter 10's put hook returns them; a send answers
     * WHEEL_TIMER_MSG_ILLEGAL with MESSAGE_ILLEGAL, WHEEL_TIMER_FLOW_CONTROL with SYSTEM_ERROR) */
    RK_PUT_WHEEL_TIMER_FLOW_CONTROL,
    RK_PUT_WHEEL_TIMER_MSG_ILLEGAL,
} rk_put_status_t;

const char *rk_put_status_name(rk_put_status_t s);

typedef struct rk_put_result {
    rk_put_status_t status;
    int64_t phys_offset;        /* first record */
    int64_t wrote_bytes;        /* all records */
    int64_t queue_offset;       /* first record */
    int64_t store_ts;
    int count;                  /* records written (batch) */
    char msg_id[RK_MSGID_MAX];  /* offsetMsgId of the first record */
} rk_put_result_t;

typedef struct rk_commitlog rk_commitlog_t;

/* Opens (creating folders as needed), takes the lock (RK_ELOCKED if another
 * process has it; err says so), recovers, creates `abort`, starts the flush
 * thread. err receives a one-line reason on failure. */
int rk_commitlog_open(const rk_commitlog_config_t *cfg, rk_commitlog_t **out, char *err, size_t errlen);
/* Flushes everything, writes the checkpoint, removes `abort`, unlocks, frees. */
void rk_commitlog_close(rk_commitlog_t *cl);

/* ---- extension points (register before the first put) ---- */

/* A put hook runs before append and may rewrite msg (topic, queue id,
 * properties, sys flag...) or refuse it by returning a status != RK_PUT_OK.
 * Replacement bytes must live until the put returns: take them from
 * rk_put_scratch(), which the commitlog frees after the append. */
typedef struct rk_put_scratch rk_put_scratch_t;
typedef rk_put_status_t (*rk_put_hook_fn)(void *ctx, rk_msg_t *msg, rk_put_scratch_t *scratch);
int rk_commitlog_add_put_hook(rk_commitlog_t *cl, const char *name, rk_put_hook_fn fn, void *ctx);
/* n bytes that live until the end of this put (NULL on ENOMEM). */
void *rk_put_scratch(rk_put_scratch_t *s, size_t n);
/* The remark a refused send is answered with for status s (default: its
 * name), e.g. RocketMQ's sentence for WHEEL_TIMER_MSG_ILLEGAL, which names
 * a setting only the module that refuses knows. text is copied (at most
 * 255 bytes). Register with the put hook, before the first put. */
int rk_commitlog_set_status_remark(rk_commitlog_t *cl, rk_put_status_t s, const char *text);
/* That remark, or NULL when none was set. Any thread. */
const char *rk_commitlog_status_remark(const rk_commitlog_t *cl, rk_put_status_t s);

/* An ack stage decides when an appended put may be answered. The flush
 * stage is built in; stages added here run after it, in order. submit()
 * must eventually call rk_ack_done() exactly once, from any thread. */
typedef struct rk_ack rk_ack_t;
typedef void (*rk_ack_stage_fn)(void *ctx, rk_ack_t *ack);
int rk_commitlog_add_ack_stage(rk_commitlog_t *cl, const char *name, rk_ack_stage_fn submit, void *ctx);
/* The end offset (phys + bytes) the put must reach to count as stored. */
int64_t rk_ack_end_offset(const rk_ack_t *ack);
/* Whether the producer waits for storage (its WAIT property, default true). */
bool rk_ack_wants_wait(const rk_ack_t *ack);
/* Completes this stage: RK_PUT_OK moves to the next stage (or finishes);
 * any other status finishes the put with it. */
void rk_ack_done(rk_ack_t *ack, rk_put_status_t status);

/* Queue offsets: each (topic, queue id) numbers its messages 0, 1, 2... The
 * commitlog assigns them under the put lock from its table, which open()
 * rebuilds by scanning the log (ch04 alone). Chapter 5 seeds it from the
 * consume queues instead: rk_commitlog_queue_offset_set(). Only
 * transaction types NOT and COMMIT take an offset; others store 0. */
int64_t rk_commitlog_queue_offset_get(rk_commitlog_t *cl, const char *topic, int queue_id);
int rk_commitlog_queue_offset_set(rk_commitlog_t *cl, const char *topic, int queue_id, int64_t next);
void rk_commitlog_queue_offset_clear(rk_commitlog_t *cl);

/* ---- put ---- */

typedef void (*rk_put_cb)(void *arg, const rk_put_result_t *res);
/* Appends m and returns when it is acknowledged (all stages). Returns RK_OK
 * when the put ran (res->status tells how it ended) or an error if it could
 * not be attempted. */
int rk_commitlog_put(rk_commitlog_t *cl, const rk_msg_t *m, rk_put_result_t *res);
/* Appends m and calls cb once when acknowledged (see the threads note). If
 * this returns an error, cb is never called. */
int rk_commitlog_put_async(rk_commitlog_t *cl, const rk_msg_t *m, rk_put_cb cb, void *arg);
/* Appends n messages under one lock acquisition, contiguously, all in one
 * file (a batch that does not fit moves whole to the next file). phys (may
 * be NULL) receives each record's offset. */
int rk_commitlog_put_batch(rk_commitlog_t *cl, const rk_msg_t *msgs, int n, rk_put_result_t *res,
                           int64_t *phys);

/* Batch put answered through cb, as rk_commitlog_put_async (phys may be
 * NULL; it is filled before this returns). */
int rk_commitlog_put_batch_async(rk_commitlog_t *cl, const rk_msg_t *msgs, int n, int64_t *phys, rk_put_cb cb,
                                 void *arg);

/* Replication (a slave, chapter 8): appends bytes a master sent, which sit
 * at `offset` in the master's log, at the same offset here. offset must be
 * this log's max offset (an empty log may start at any file boundary). The
 * bytes are validated before anything is written: whole records (CRC,
 * PHYSICALOFFSET = where they land, room for the file's BLANK) or the
 * file's BLANK (its size exactly what is left in the file, zeros after it).
 * Appends the longest prefix of whole records; *used says how many bytes
 * (0 when the first record is still incomplete: send more). A BLANK ends
 * the prefix and fills the file, so the max offset moves to the next file;
 * the master's later bytes of that BLANK are zeros below the max offset.
 * RK_EINVAL for a wrong offset, RK_ECORRUPT for bytes that are not
 * records, -ENOSPC when the file's blocks cannot be reserved (nothing
 * written then). Readers are woken as by a put. */
int rk_commitlog_append_raw(rk_commitlog_t *cl, int64_t offset, const uint8_t *data, size_t len, size_t *used);

/* ---- read ---- */

int64_t rk_commitlog_min_offset(rk_commitlog_t *cl);
/* Batched wake-ups, for a thread that makes many puts in a row and can say
 * when a batch ends (the broker's network thread, at the end of each loop
 * turn). After its first rk_commitlog_batch_end(), that thread's
 * asynchronous puts (put_async, put_batch_async) no longer wake the flush
 * thread and the rk_commitlog_wait_append() sleepers one by one: each
 * rk_commitlog_batch_end() wakes them once for the batch, so one group
 * commit (one msync) covers the whole batch. With SYNC_FLUSH the batch's
 * records also go into the file together, in one pwrite at batch_end: until
 * then they are reserved (their offsets and results are final) but not
 * readable (rk_commitlog_max_offset does not include them), and a put from
 * any other thread, a roll or append_raw writes them first. That thread
 * must call it after every batch of puts, before it sleeps. Puts from other threads and
 * blocking puts are not affected. One batching thread per commitlog:
 * RK_EBUSY from any other. */
int rk_commitlog_batch_end(rk_commitlog_t *cl);
/* End of complete records: readers never read at or past it. */
int64_t rk_commitlog_max_offset(rk_commitlog_t *cl);
int64_t rk_commitlog_flushed_offset(rk_commitlog_t *cl);
int64_t rk_commitlog_roll_next(rk_commitlog_t *cl, int64_t offset);
int64_t rk_commitlog_file_size(const rk_commitlog_t *cl);
/* Bytes from offset to the readable end of its file, held. RK_ENOTFOUND if
 * offset is outside the log. */
int rk_commitlog_read(rk_commitlog_t *cl, int64_t offset, rk_slice_t *out);
/* Exactly one record at offset, held and decoded (no CRC check).
 * RK_ECORRUPT if offset lies in a range known to be damaged. */
int rk_commitlog_read_record(rk_commitlog_t *cl, int64_t offset, rk_slice_t *out, rk_record_t *rec);
/* Sleeps until max_offset > offset or timeout_ms passes; true if data. */
bool rk_commitlog_wait_append(rk_commitlog_t *cl, int64_t offset, int timeout_ms);
/* Ends every rk_commitlog_wait_append() now sleeping (e.g. to stop a
 * dispatcher); each returns whether data arrived. */
void rk_commitlog_wake_waiters(rk_commitlog_t *cl);

/* ---- state ---- */

rk_checkpoint_t *rk_commitlog_checkpoint(rk_commitlog_t *cl);
/* True if `abort` was present at open: the last exit was a crash. */
bool rk_commitlog_was_abnormal(const rk_commitlog_t *cl);
/* Where recovery began scanning and where the log ends after recovery. */
int64_t rk_commitlog_recovered_from(const rk_commitlog_t *cl);
int64_t rk_commitlog_recovered_end(const rk_commitlog_t *cl);
/* Store host as a record would carry it. */
const rk_host_t *rk_commitlog_store_host(const rk_commitlog_t *cl);
const char *rk_commitlog_root(const rk_commitlog_t *cl);
/* Whether a put can block its caller (SYNC_FLUSH, or ack stages such as
 * synchronous replication): a server then runs puts off its network thread. */
bool rk_commitlog_put_may_wait(const rk_commitlog_t *cl);
/* Deletes whole files older than reserved_ms (or, forced, the oldest), never
 * the last one; returns how many. */
int rk_commitlog_delete_expired(rk_commitlog_t *cl, int64_t reserved_ms, bool force, int max_files);
/* Number of msync calls the flush thread made (tests, benchmarks). */
uint64_t rk_commitlog_flush_count(const rk_commitlog_t *cl);

/* ---- damage: records that fail their checks in the middle of the log ----
 *
 * A record that fails its checks (magic, size, fields, CRC, its own offset)
 * with a valid record somewhere after it is corruption, not a torn write:
 * recovery keeps every record that verifies, skips the damaged range (its
 * bytes stay on disk for inspection), logs an ERROR and remembers the range
 * here. Only a tail with no valid record after it is truncated. Readers that
 * walk the log (chapter 5's reput) and serve records (its get path) use the
 * functions below to step over damage instead of stopping at it. */

#define RK_DAMAGE_LIST_MAX 16
typedef struct rk_log_range {
    int64_t from, to;           /* [from, to) in log offsets */
} rk_log_range_t;
typedef struct rk_commitlog_damage {
    int64_t ranges, bytes;      /* every damaged range found so far */
    int listed;                 /* list[0..listed): the first ranges, by offset */
    rk_log_range_t list[RK_DAMAGE_LIST_MAX];
} rk_commitlog_damage_t;

/* What is known to be damaged: the ranges recovery found (listed, and
 * skipped by rk_commitlog_skip_damaged), plus the ranges readers reported
 * (rk_commitlog_next_valid, rk_commitlog_report_damage: counted only). */
void rk_commitlog_damage_stats(rk_commitlog_t *cl, rk_commitlog_damage_t *out);
/* The end of the known damaged range holding offset, or offset itself if
 * none does. Cheap (no lock) for an offset past every known damaged range
 * (the log's tail, where readers mostly are). */
int64_t rk_commitlog_skip_damaged(rk_commitlog_t *cl, int64_t offset);
/* The one "find the next valid record" of the store: the first offset at or
 * after `offset`, below the log's end, where a record that verifies (magic,
 * size within its file, plausible fields, its own PHYSICALOFFSET, CRC) or a
 * file-closing BLANK starts. If that is past offset, [offset, result) is
 * reported as by rk_commitlog_report_damage (counted, logged once; not
 * listed nor skipped: offset is the caller's). RK_ENOTFOUND if nothing valid
 * follows (yet): the end of the log, or a torn tail. */
int64_t rk_commitlog_next_valid(rk_commitlog_t *cl, int64_t offset);
/* A reader found a record at `from` (to: where its pointer says it ends)
 * that fails cheap checks, e.g. a get following a consume-queue unit.
 * Counted in the stats and logged as an ERROR the first time an offset is
 * reported (true); false if it was known. It does not make
 * rk_commitlog_skip_damaged() skip anything: the reader's pointer may be
 * what is wrong, and the bytes around it valid records. */
bool rk_commitlog_report_damage(rk_commitlog_t *cl, int64_t from, int64_t to, const char *why);

/* ---- scanning without opening (rkstore scan/stat/verify) ----
 *
 * Read-only: the files are opened O_RDONLY and mapped PROT_READ; nothing is
 * created, extended, truncated or deleted, no lock is taken (a broker may be
 * running on the store). */

typedef enum { RK_SCAN_END_CLEAN, RK_SCAN_END_TORN } rk_scan_end_t;
typedef struct rk_scan_report {
    int64_t start, end;         /* scanned [start, end): end follows the last valid record */
    int64_t records;            /* valid records (BLANKs not counted) */
    rk_scan_end_t how;          /* CLEAN: only zeros (or nothing) after end; TORN: see torn_bytes */
    int64_t torn_bytes;         /* non-zero bytes after end, with no valid record among them */
    rk_commitlog_damage_t damage;   /* damaged ranges skipped (each followed by valid records) */
    int64_t first_damage;       /* offset of the first damaged range, -1 if none */
    int64_t records_after_damage, bytes_after_damage;   /* valid records (and bytes) after it */
    char reason[128];           /* what was wrong with the first damaged or torn record */
} rk_scan_report_t;
/* Visits every valid record from `from`; stops when visit returns non-zero.
 * With check_crc, a body CRC mismatch is damage; without, such a record is
 * visited with crc_ok false. */
typedef int (*rk_scan_fn)(void *ctx, const rk_record_t *rec, bool crc_ok);
int rk_commitlog_scan_dir(const char *dir, int64_t file_size, int64_t from, bool check_crc,
                          rk_scan_fn visit, void *ctx, rk_scan_report_t *rep);
/* Truncates the commitlog in dir to end at `offset`, while no process has
 * it open (chapter 8: a replica whose log diverged from its group's new
 * master drops its unacknowledged tail before rejoining). Files starting
 * after offset are deleted, the file holding it is zeroed from there to its
 * end and msync'ed; the next open recovers to offset, and chapter 5 then
 * truncates the consume queues and the index to the log's end. offset must
 * be where a record (or a file) ends; RK_EINVAL below the log's first file
 * or for a negative offset; nothing to do (RK_OK) when the log ends there
 * already. *dropped (may be NULL) gets the bytes removed from the log's end. */
int rk_commitlog_truncate_dir(const char *dir, int64_t file_size, int64_t offset, int64_t *dropped);
/* The size of the files in dir (they must agree), or -ENOENT if none. */
int64_t rk_commitlog_detect_file_size(const char *dir);

#endif
