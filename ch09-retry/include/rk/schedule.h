/* schedule.h — delay levels: messages parked in SCHEDULE_TOPIC_XXXX until their time, then put
 * back into their real topic (RocketMQ's ScheduleMessageService, reference §6.1).
 *
 *   put with DELAY=n ──put hook──▶ SCHEDULE_TOPIC_XXXX, queue n-1, REAL_TOPIC / REAL_QID added,
 *                                  consume-queue tags code = store time + delay(n) (tag-code hook)
 *                     ──dispatcher──▶ "level n has a new unit"
 *   one service thread, per level: read the level's queue from its offset; the head unit not due
 *   yet goes into a timing wheel (rk/timing_wheel.h) at its exact time, and nothing looks at the
 *   level again until the wheel fires it or a new unit arrives; a due unit's message is read from
 *   the commitlog, DELAY removed, put into REAL_TOPIC / REAL_QID; the level's offset moves on.
 *
 * The queue of one level is in delivery order (same delay, increasing store time), so only the
 * head of each level waits in the wheel: 18 entries however many messages wait.
 *
 * Offsets (the next unit of each level to deliver) are written to delayOffset.json as RocketMQ
 * does ({"offsetTable":{1:0,2:15}}), atomically (rk_file_write_atomic), every
 * flush_interval_ms when they moved and at stop. A crash loses at most the offsets' last
 * moves: those messages are delivered again (at least once), never lost, never early — a
 * unit is only delivered once the wall clock has reached its delivery time.
 *
 * Roles (replication, chapter 8): only a master delivers — a put on a slave would append to
 * the slave's own commitlog and break the byte-for-byte copy of its master's. may_deliver is
 * asked before every delivery round and every put, and every 200 ms while it says no, so a role
 * change at runtime takes effect. While it says no the service only follows: the slave's
 * SCHEDULE_TOPIC_XXXX queues come from replication, its offsets from its master
 * (rk_schedule_follow, fed by chapter 8's metadata copy). When it says yes again (a slave
 * switched to master), the service waits for the consume queues to catch up with the
 * commitlog, brings the offsets into the queues' range, and delivers from there: what the old
 * master delivered after the last copy is delivered again (at least once), nothing is lost,
 * nothing comes before its time.
 *
 * Threads: new() and free() on the owner's thread (new before rk_store_start, free after
 * rk_store_close); start/stop from the owner's thread; the service thread does every put.
 * Memory: the service owns its state; the store is the caller's and outlives the service. */
#ifndef RK_SCHEDULE_H
#define RK_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/message_store.h"

#define RK_SCHEDULE_TOPIC "SCHEDULE_TOPIC_XXXX"
#define RK_DELAY_LEVEL_MAX 64          /* most levels a messageDelayLevel may list */
#define RK_DELAY_LEVELS_DEFAULT "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"

/* "1s 5s 1m 2h 1d" -> delays in ms (out[0] is level 1). Units s, m, h, d; each delay a
 * positive integer, at most 30 days. Returns the number of levels (>= 1) or RK_EINVAL. */
int rk_delay_levels_parse(const char *text, int64_t *out_ms, int max);

typedef struct rk_schedule_config {
    const char *levels;             /* messageDelayLevel (NULL: RocketMQ's default) */
    const char *offset_path;        /* .../config/delayOffset.json (required) */
    int64_t flush_interval_ms;      /* flushDelayOffsetInterval; 0: 10000 */
    bool fallback_to_bak;           /* metadataFallbackToBak: load delayOffset.json.bak if the file is unusable */
    bool (*may_deliver)(void *ctx); /* true while this broker is the master (NULL: always); any thread's
                                       answer must be cheap (the service thread asks at every put) */
    void *may_deliver_ctx;
} rk_schedule_config_t;

typedef struct rk_schedule rk_schedule_t;

/* Parses the levels, loads delayOffset.json (missing: every level at 0), and registers on st:
 * the DELAY put hook, the tag-code hook, and the dispatcher that wakes a level. Before
 * rk_store_start. err says why on failure. */
int rk_schedule_new(rk_store_t *st, const rk_schedule_config_t *cfg, rk_schedule_t **out, char *err,
                    size_t errlen);
/* Starts the service thread (after rk_store_start): it delivers while may_deliver says so and
 * follows otherwise (see Roles above). */
int rk_schedule_start(rk_schedule_t *s);
/* Stops the thread (a put in progress finishes) and writes delayOffset.json. Idempotent. */
void rk_schedule_stop(rk_schedule_t *s);
/* After rk_store_close (the dispatcher may call in until then). NULL is a no-op. */
void rk_schedule_free(rk_schedule_t *s);

int rk_schedule_levels(const rk_schedule_t *s);
/* Delay of level (1..levels) in ms; -1 outside. */
int64_t rk_schedule_delay_ms(const rk_schedule_t *s, int level);
/* The next queue offset level will deliver (what delayOffset.json holds); -1 outside. */
int64_t rk_schedule_offset(rk_schedule_t *s, int level);
/* Messages delivered since start (tests, runtime info). */
int64_t rk_schedule_delivered(rk_schedule_t *s);
/* The offsets as delayOffset.json text (malloc'ed; NULL on ENOMEM): what GET_ALL_DELAY_OFFSET
 * answers, so a slave can copy them. */
char *rk_schedule_encode(rk_schedule_t *s);
/* A copy of the master's offsets (GET_ALL_DELAY_OFFSET's answer, delayOffset.json's text)
 * while this service does not deliver: checked whole first (RK_ECORRUPT: nothing changed; levels
 * this broker does not have are ignored, levels the text lacks become 0), then taken as the
 * offsets and written to delayOffset.json if they moved. A copy carrying "logPos" (rocklet's
 * encode adds the commitlog's end) is taken only once this store's commitlog reached it, so the
 * deliveries it counts are in this log too; before that it is ignored (RK_OK). RK_EBUSY while
 * delivering: a master keeps its own. Any thread. */
int rk_schedule_follow(rk_schedule_t *s, const char *text, size_t len);
/* True while the service delivers (it started and may_deliver said yes at its last round). */
bool rk_schedule_delivering(rk_schedule_t *s);
/* Writes delayOffset.json now if an offset moved, but only offsets whose deliveries the
 * commitlog has flushed (rk_commitlog_flushed_offset): newer ones are staged for a later call,
 * so the file lags about one commitlog flush behind and a power cut cannot leave it counting a
 * restored copy that never reached the disk. rk_schedule_stop writes the newest regardless
 * (closing the store flushes the log). */
int rk_schedule_persist(rk_schedule_t *s);

/* A put the broker makes itself (a scheduled delivery, a send-back) sets this around
 * rk_store_put on its thread; put hooks that judge what clients send (the %RETRY% ->
 * %DLQ% redirect) leave such puts alone. */
void rk_schedule_internal_put(bool on);
bool rk_schedule_in_internal_put(void);

/* Parking, shared by every service that holds a message back in a system topic and puts it
 * into its real topic later (delay levels here, chapter 10's timer, chapter 11's half
 * messages).
 *
 * rk_schedule_park, from a put hook: m's topic and queue are kept as REAL_TOPIC / REAL_QID
 * (replacing any the client sent), extra_key=extra_val added first when extra_key is not NULL
 * (replacing any sent), the new properties stored in scratch (the commitlog frees them after
 * the append), and m retargeted to park_topic (a string that outlives the put: a literal) queue
 * park_qid. Returns RK_PUT_OK, or RK_PUT_PROPERTIES_SIZE_EXCEEDED / RK_PUT_UNKNOWN_ERROR
 * (out of memory) with m unchanged. */
rk_put_status_t rk_schedule_park(rk_msg_t *m, rk_put_scratch_t *scratch, const char *extra_key,
                                 const char *extra_val, const char *park_topic, int32_t park_qid);
/* rk_schedule_unpark, at delivery: the parked record rec as a message for its real topic —
 * REAL_TOPIC copied into topic (topic_size bytes, the caller's, which out points into),
 * REAL_QID as the queue, flag, sys flag, born/store host, born time, reconsume times,
 * prepared offset, body and properties as rec's (out points into rec: both must outlive the
 * put; the caller replaces out->props with what the real topic should carry). RK_ECORRUPT
 * (out untouched) when REAL_TOPIC is missing, empty or too long, or REAL_QID is not 0..INT32_MAX. */
int rk_schedule_unpark(const rk_record_t *rec, char *topic, size_t topic_size, rk_msg_t *out);

#endif
