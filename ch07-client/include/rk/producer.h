/* producer.h — rocklet's producer: send messages to the brokers of a topic.
 *
 *   rk_producer_t *p;
 *   rk_producer_config_t cfg = {.namesrv = "127.0.0.1:9876", .group = "pg"};
 *   rk_producer_new(&cfg, &p);
 *   rk_message_t m = {.topic = "orders", .tags = "paid", .keys = "order-17",
 *                     .body = "hello", .body_len = 5};
 *   rk_send_result_t r;
 *   if (rk_producer_send(p, &m, &r) != RK_OK) fprintf(stderr, "%s\n", r.error);
 *   rk_producer_free(p);
 *
 * How a send finds its queue (RocketMQ's DefaultMQProducerImpl):
 *   1. the topic's route, cached, from the name servers; a topic with no
 *      route borrows TBW102's so the broker creates it on first send;
 *   2. the next write queue round robin, skipping the broker that failed
 *      last time (or the queue `hash % n` for ordered messages);
 *   3. SEND_MESSAGE_V2 with a fresh UNIQ_KEY, the body zlib-compressed when
 *      it is 4 KiB or more;
 *   4. on a network error or a retryable answer (SYSTEM_ERROR, busy, topic
 *      not yet on that broker, no permission) the next attempt goes to
 *      another broker, up to `retries` more times.
 *
 * Errors: functions return RK_OK or a negative rk code, and the result's
 * `error` says what happened in words (the broker's remark included).
 *
 * Threads: any function from any thread, except free, which must not be
 * called from a send callback. Async callbacks run on the client's network
 * thread: they must not block (no synchronous send inside one).
 * Memory: messages are borrowed for the duration of the call (async sends
 * copy what they need); results are the caller's. */
#ifndef RK_PRODUCER_H
#define RK_PRODUCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/message.h"
#include "rk/topic_route.h"

#define RK_MAX_MESSAGE_SIZE_DEFAULT (4 * 1024 * 1024)

typedef struct rk_producer_config {
    const char *namesrv;        /* required */
    const char *group;          /* producer group; required */
    const char *instance_name;  /* NULL: pid-based */
    int timeout_ms;             /* per attempt; 0: 3000 */
    int retries;                /* extra attempts after a failure; 0: 2, -1: none */
    int max_message_size;       /* 0: 4 MiB */
    int default_queue_nums;     /* queues a new topic gets; 0: 4 */
    bool no_compress;           /* send big bodies as they are */
    const char *access_key;     /* ACL: sign every request (rk_mqclient_config_t); NULL: unsigned */
    const char *secret_key;
} rk_producer_config_t;

/* What to send. All pointers are borrowed. */
typedef struct rk_message {
    const char *topic;
    const char *tags;           /* NULL: none */
    const char *keys;           /* space-separated; NULL: none */
    const void *body;
    size_t body_len;
    int32_t flag;
    const char *props;          /* more properties, "k\1v\2k\1v" (rk_props_put), or NULL */
    size_t props_len;
} rk_message_t;

typedef enum {
    RK_SEND_OK = 0,
    RK_SEND_FLUSH_DISK_TIMEOUT,
    RK_SEND_FLUSH_SLAVE_TIMEOUT,
    RK_SEND_SLAVE_NOT_AVAILABLE,
} rk_send_status_t;

typedef struct rk_send_result {
    rk_send_status_t status;
    char msg_id[RK_MSGID_MAX];          /* UNIQ_KEY (the first one for a batch) */
    char offset_msg_id[RK_MSGID_MAX * 4];   /* as the broker answered (a list for a batch) */
    rk_mq_t mq;
    int64_t queue_offset;
    int attempts;
    char error[256];                    /* empty on success */
} rk_send_result_t;

typedef struct rk_producer rk_producer_t;

int rk_producer_new(const rk_producer_config_t *cfg, rk_producer_t **out);
/* Waits for async sends in flight (up to their timeout), unregisters, frees. */
void rk_producer_free(rk_producer_t *p);

int rk_producer_send(rk_producer_t *p, const rk_message_t *m, rk_send_result_t *r);

/* status is RK_OK or the error; r is valid during the call only. */
typedef void (*rk_send_cb)(void *arg, int status, const rk_send_result_t *r);
/* On RK_OK the callback runs exactly once; on an error it never runs. */
int rk_producer_send_async(rk_producer_t *p, const rk_message_t *m, rk_send_cb cb, void *arg);

/* Fire and forget: no answer, no retry. */
int rk_producer_send_oneway(rk_producer_t *p, const rk_message_t *m);

/* Messages of one topic, stored together in one queue (SEND_BATCH_MESSAGE). */
int rk_producer_send_batch(rk_producer_t *p, const rk_message_t *msgs, size_t n, rk_send_result_t *r);
int rk_producer_send_batch_async(rk_producer_t *p, const rk_message_t *msgs, size_t n, rk_send_cb cb, void *arg);

/* Ordered: every message with the same sharding key goes to the same queue
 * (queue = |hash(key)| % number of write queues), so a consumer sees them
 * in send order. No retry on another queue: that would break the order. */
int rk_producer_send_ordered(rk_producer_t *p, const rk_message_t *m, const char *sharding_key, rk_send_result_t *r);

/* The topic's write queues as the producer sees them (malloc'ed). */
int rk_producer_queues(rk_producer_t *p, const char *topic, rk_mq_t **out, size_t *n);

/* The client instance the producer sends through (owned by the producer; valid until
 * rk_producer_free): for code built on a producer, e.g. chapter 11's transactional producer,
 * which registers its check-back processor on rk_mqclient_remoting() right after
 * rk_producer_new and sends END_TRANSACTION through it. A message whose properties carry
 * TRAN_MSG=true is sent with sysFlag PREPARED (0x4), as RocketMQ's producer does. */
struct rk_mqclient;
struct rk_mqclient *rk_producer_client(rk_producer_t *p);

#endif
