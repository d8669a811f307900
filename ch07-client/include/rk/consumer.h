/* consumer.h — rocklet's consumers: a pull consumer (you choose queues and
 * offsets) and a push consumer (rocklet pulls, balances and commits; you
 * write a listener).
 *
 * Push consumer, RocketMQ's DefaultMQPushConsumer:
 *
 *   rebalance (every 20 s, and at once when the broker says the group
 *   changed): the topic's read queues and the group's client ids, both
 *   sorted, split by rk_allocate_avg — each member computes the same split.
 *        │ a process queue per queue this member owns
 *        ▼
 *   pull loop (network thread): PULL_MESSAGE with long polling — the broker
 *   holds the request until a message arrives or 15 s pass; the answer
 *   goes into the process queue and the next pull is sent at once (after
 *   50 ms when more than 1000 messages wait: flow control).
 *        ▼
 *   thread pool: concurrent listener — any thread, any order (a pull is one
 *   job, one wake-up: one thread makes its listener calls while they are
 *   quick, and hands what is left to the pool after 200 µs); orderly
 *   listener — one thread at a time per queue, in queue order, only while
 *   this member holds the queue's lock on the broker (LOCK_BATCH_MQ).
 *        ▼
 *   offsets: the consumed offset of a queue is the offset of its first
 *   message not yet consumed; it is sent to the broker every 5 s, with
 *   each pull and at shutdown (broadcasting: kept in a local file).
 *
 * Delivery is at least once: after a crash, or when a queue moves to
 * another member, messages since the last committed offset come again.
 * Listeners must be idempotent (dedupe on msg_id or a business key).
 *
 * A listener returning RK_CONSUME_LATER: concurrent — the message is sent
 * back to the broker for redelivery (CONSUMER_SEND_MSG_BACK), or, when
 * the broker cannot take it, consumed again here after 1 s; orderly — the
 * queue pauses 1 s and the same messages come again (order is kept).
 *
 * Threads: listeners run on the consumer's pool; every function may be
 * called from any thread except rk_push_consumer_free from a listener.
 * Memory: messages handed to a listener live until it returns; pull
 * results own their messages until rk_pull_result_free. No global state. */
#ifndef RK_CONSUMER_H
#define RK_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/mqclient.h"
#include "rk/topic_route.h"

typedef enum { RK_CONSUME_FROM_LAST = 0, RK_CONSUME_FROM_FIRST = 1, RK_CONSUME_FROM_TIMESTAMP = 2 } rk_consume_from_t;
typedef enum { RK_CLUSTERING = 0, RK_BROADCASTING = 1 } rk_message_model_t;

/* ---- allocation ---- */

/* AllocateMessageQueueAveragely: which of the sorted queues the member
 * `me` of the sorted client ids owns. Writes indexes into `out` (room for
 * nqueues) and returns how many; 0 when `me` is not in the list. */
size_t rk_allocate_avg(size_t nqueues, const char *const *cids, size_t ncids, const char *me, size_t *out);

/* ---- tag expressions ---- */

/* "*" (or empty) matches everything; "a || b" matches tag a or b. */
bool rk_tag_matches(const char *expr, const char *tag);

/* ---- pull consumer ---- */

typedef struct rk_pull_consumer_config {
    const char *namesrv;        /* required */
    const char *group;          /* required */
    const char *instance_name;
    int timeout_ms;             /* 0: 3000 (a long poll adds its suspend time) */
    bool check_crc;             /* see rk_push_consumer_config_t */
    const char *access_key;     /* ACL: sign every request (rk_mqclient_config_t); NULL: unsigned */
    const char *secret_key;
} rk_pull_consumer_config_t;

typedef struct rk_pull_consumer rk_pull_consumer_t;

typedef enum {
    RK_PULL_FOUND = 0,
    RK_PULL_NO_NEW_MSG,         /* nothing at or after the offset (yet) */
    RK_PULL_NO_MATCHED_MSG,     /* messages, but none with a subscribed tag */
    RK_PULL_OFFSET_ILLEGAL,     /* the offset is outside [min, max]: start at next_offset */
} rk_pull_status_t;

typedef struct rk_pull_result {
    rk_pull_status_t status;
    int64_t next_offset, min_offset, max_offset;
    rk_msg_list_t *msgs;        /* FOUND: the messages (filtered by tag); else NULL */
    size_t skipped;             /* damaged records left out (each logged at ERROR) */
    char error[256];
} rk_pull_result_t;

int rk_pull_consumer_new(const rk_pull_consumer_config_t *cfg, rk_pull_consumer_t **out);
void rk_pull_consumer_free(rk_pull_consumer_t *pc);
/* The topic's readable queues (malloc'ed). */
int rk_pull_consumer_queues(rk_pull_consumer_t *pc, const char *topic, rk_mq_t **out, size_t *n);
/* Up to max_nums messages from offset. suspend_ms > 0 makes it a long
 * poll: the broker answers as soon as a message arrives, or after that long.
 * Damaged records are left out (r->skipped, logged at ERROR) and
 * r->next_offset moves past them (see rk_pull_result_decode). */
int rk_pull_consumer_pull(rk_pull_consumer_t *pc, const rk_mq_t *mq, const char *tag_expr, int64_t offset,
                          int max_nums, int suspend_ms, rk_pull_result_t *r);
void rk_pull_result_free(rk_pull_result_t *r);
/* Reads a PULL_MESSAGE answer for a pull of mq from `offset` into r (r then
 * owns resp's body). Damaged records are skipped and logged at ERROR with
 * topic, queue and offset (rk_msg_list_decode_skip); when the damage runs to
 * the end of the body, next_offset points just past the last good record so
 * the next pull reads what followed — a damaged record never stalls a queue
 * and never hides the good records behind it. check_crc verifies each body's
 * CRC. Used by both consumers; public for tests and tools. */
int rk_pull_result_decode(rk_cmd_t *resp, const rk_mq_t *mq, const char *tag_expr, int64_t offset,
                          bool check_crc, rk_pull_result_t *r);
/* The group's committed offset; RK_ENOTFOUND when it has none. */
int rk_pull_consumer_fetch_offset(rk_pull_consumer_t *pc, const rk_mq_t *mq, int64_t *out);
int rk_pull_consumer_commit_offset(rk_pull_consumer_t *pc, const rk_mq_t *mq, int64_t offset);
int rk_pull_consumer_min_offset(rk_pull_consumer_t *pc, const rk_mq_t *mq, int64_t *out);
int rk_pull_consumer_max_offset(rk_pull_consumer_t *pc, const rk_mq_t *mq, int64_t *out);
/* The first offset whose message was stored at or after ts_ms. */
int rk_pull_consumer_search_offset(rk_pull_consumer_t *pc, const rk_mq_t *mq, int64_t ts_ms, int64_t *out);
rk_mqclient_t *rk_pull_consumer_client(rk_pull_consumer_t *pc);

/* ---- push consumer ---- */

typedef enum { RK_CONSUME_SUCCESS = 0, RK_CONSUME_LATER = 1 } rk_consume_result_t;

/* n >= 1 messages of one queue, in queue order. */
typedef rk_consume_result_t (*rk_listener_fn)(void *arg, const rk_msg_ext_t *msgs, size_t n);

typedef struct rk_push_consumer_config {
    const char *namesrv;        /* required */
    const char *group;          /* required */
    const char *instance_name;  /* NULL: the pid (two consumers of one group in one process need distinct names) */
    rk_message_model_t model;
    rk_consume_from_t from;     /* where a group with no committed offset starts; as in
                                 * RocketMQ, the broker answers 0 for a queue whose messages
                                 * still start at offset 0, so LAST/TIMESTAMP apply once the
                                 * queue's head has been cleaned up */
    int64_t from_timestamp_ms;  /* RK_CONSUME_FROM_TIMESTAMP; 0: half an hour ago */
    bool orderly;               /* one thread per queue, queue order, broker locks */
    int threads;                /* 0: 4 */
    int batch_max;              /* messages per listener call; 0: 1 */
    int pull_batch;             /* messages per pull; 0: 32 */
    int timeout_ms;             /* plain requests; 0: 3000 */
    int rebalance_ms;           /* 0: 20000 */
    int persist_ms;             /* 0: 5000 */
    const char *offset_dir;     /* broadcasting offsets; NULL: $HOME/.rocklet_offsets */
    bool check_crc;             /* true: verify each pulled body's CRC, and skip (and log at
                                 * ERROR) a body that fails. Off by default, as in RocketMQ 4.x's
                                 * client (PullAPIWrapper.processPullResult -> MessageDecoder.
                                 * decodes, no CRC): the broker computed the CRC when it
                                 * stored the body and checks it at recovery
                                 * (checkCRCOnRecover), TCP checks what it carries, and at
                                 * 1 KiB bodies the check was the consumer's biggest single
                                 * cost. Records whose header is damaged are skipped either way */
    const char *access_key;     /* ACL: sign every request (rk_mqclient_config_t); NULL: unsigned */
    const char *secret_key;
} rk_push_consumer_config_t;

typedef struct rk_push_consumer rk_push_consumer_t;

int rk_push_consumer_new(const rk_push_consumer_config_t *cfg, rk_listener_fn fn, void *arg,
                         rk_push_consumer_t **out);
/* Before start: subscribe to a topic with a tag expression ("*", "a || b"). */
int rk_push_consumer_subscribe(rk_push_consumer_t *pc, const char *topic, const char *tag_expr);
/* Joins the group: heartbeat, first rebalance, pulls start. */
int rk_push_consumer_start(rk_push_consumer_t *pc);
/* Leaves the group: pulls stop, running listeners finish (queued batches are
 * left for redelivery), offsets are committed, locks released, the broker
 * told; then frees. */
void rk_push_consumer_free(rk_push_consumer_t *pc);

/* The queues this member owns now (malloc'ed); for tests and tools. */
int rk_push_consumer_assigned(rk_push_consumer_t *pc, rk_mq_t **out, size_t *n);
rk_mqclient_t *rk_push_consumer_client(rk_push_consumer_t *pc);
const char *rk_push_consumer_group(const rk_push_consumer_t *pc);

/* ---- push consumer hooks: chapter 9's extension point ----
 *
 * before_consume runs on the pool thread just before the listener is
 * called, on the messages it will get (it may rewrite them: chapter 9
 * shows a retried message under its original topic; anything it points a
 * field at must outlive the consumer). It may run again on the same
 * messages when they are consumed again here.
 * consume_failed replaces the built-in CONSUMER_SEND_MSG_BACK above for a
 * message a clustering listener did not consume: true means the message is
 * safely elsewhere (sent back, or to the retry topic), so the queue's offset
 * may move past it; false keeps it here, consumed again after 1 s.
 * orderly_failed is the same for an orderly listener's failed batch: true
 * means every message of it is safely elsewhere and the queue moves on;
 * false (or no hook) pauses the queue 1 s and consumes the same messages
 * again (the hook may count the attempt in their reconsume_times).
 * Any of them may be NULL. ctx is the hooks' owner's; it must outlive the consumer. */
typedef struct rk_push_consumer_hooks {
    void (*before_consume)(void *ctx, rk_push_consumer_t *pc, rk_msg_ext_t *msgs, size_t n);
    bool (*consume_failed)(void *ctx, rk_push_consumer_t *pc, const rk_msg_ext_t *m);
    bool (*orderly_failed)(void *ctx, rk_push_consumer_t *pc, rk_msg_ext_t *msgs, size_t n);
    void *ctx;
} rk_push_consumer_hooks_t;

/* Before start; NULL removes them. RK_EINVAL once started. */
int rk_push_consumer_set_hooks(rk_push_consumer_t *pc, const rk_push_consumer_hooks_t *hooks);

#endif
