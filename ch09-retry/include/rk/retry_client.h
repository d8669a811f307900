/* retry_client.h — chapter 9 in the SDK: what a push consumer does with a message its listener
 * did not consume (RocketMQ's ConsumeMessageConcurrentlyService.sendMessageBack).
 *
 *   listener returns RK_CONSUME_LATER
 *     ──▶ CONSUMER_SEND_MSG_BACK to the broker the message came from (delayLevel 0: the broker
 *         picks 3 + reconsume count; maxReconsumeTimes = this consumer's)
 *     ──▶ if that fails: the client sends a copy to %RETRY%<group> itself, with RETRY_TOPIC,
 *         RECONSUME_TIME (count + 1), MAX_RECONSUME_TIMES, ORIGIN_MESSAGE_ID and
 *         DELAY = 3 + reconsume count
 *     ──▶ if that fails too: the message stays here and is consumed again after 1 s.
 *   The queue's offset moves past a message only once it was consumed or one of the first two
 *   steps succeeded (the consumer's hooks, rk/consumer.h). Clustering consumers already
 *   subscribe to %RETRY%<group> (chapter 7's rebalance); a retried message reaches the listener
 *   with its original topic (from RETRY_TOPIC), reconsume_times counting its failures, and the
 *   properties RETRY_TOPIC and ORIGIN_MESSAGE_ID.
 *
 * Orderly consumers (RocketMQ's ConsumeMessageOrderlyService): a failed batch pauses its queue
 * 1 s and is consumed again here, in order, each attempt counted in reconsume_times; a message
 * that failed maxReconsumeTimes times (for ever when it is 0 or -1, as RocketMQ) is sent to
 * %RETRY%<group> with RECONSUME_TIME at the maximum, which the broker stores in %DLQ%<group>, and
 * the queue moves on.
 * Broadcasting consumers do not retry (as RocketMQ: the failure is logged by chapter 7).
 * Memory: rk_retry_client_t owns a producer for the fallback and the topic names it shows;
 * free it after the consumer (rk_push_consumer_free first). Threads: the hooks run on the
 * consumer's pool threads; the object is safe for that. */
#ifndef RK_RETRY_CLIENT_H
#define RK_RETRY_CLIENT_H

#include "rk/consumer.h"
#include "rk/producer.h"

typedef struct rk_retry_client_config {
    const char *namesrv;            /* required: where the fallback producer finds routes */
    int max_reconsume_times;        /* maxReconsumeTimes; 0 or -1: 16 (orderly: no limit), as RocketMQ's -1 */
    int timeout_ms;                 /* send-back and fallback send; 0: 3000 */
    const char *access_key;         /* ACL (chapter 7): the fallback producer signs with these; */
    const char *secret_key;         /* NULL: unsigned. Give the consumer's own. */
} rk_retry_client_config_t;

typedef struct rk_retry_client rk_retry_client_t;

/* Installs the retry hooks on pc (before rk_push_consumer_start). */
int rk_retry_client_attach(rk_push_consumer_t *pc, const rk_retry_client_config_t *cfg, rk_retry_client_t **out);
/* After rk_push_consumer_free(pc). NULL is a no-op. */
void rk_retry_client_free(rk_retry_client_t *rc);

/* Counters (tests, logs): messages handed back by CONSUMER_SEND_MSG_BACK, by the fallback send. */
long rk_retry_client_sent_back(rk_retry_client_t *rc);
long rk_retry_client_fallbacks(rk_retry_client_t *rc);
/* Orderly: messages sent to the DLQ after the maximum. */
long rk_retry_client_orderly_dlq(rk_retry_client_t *rc);

#endif
