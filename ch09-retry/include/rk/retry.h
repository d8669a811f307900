/* retry.h — chapter 9's broker module: consume retries with back-off and the dead-letter queue.
 *
 *   consumer fails a message ──CONSUMER_SEND_MSG_BACK (36)──▶ broker
 *        %RETRY%<group> created (and registered with the name servers), the original read from
 *        the commitlog by its offset, a copy stored with reconsumeTimes + 1, RETRY_TOPIC (the
 *        original topic) and ORIGIN_MESSAGE_ID, and DELAY = 3 + reconsumeTimes
 *        ──▶ parked in SCHEDULE_TOPIC_XXXX (rk/schedule.h) ──▶ %RETRY%<group> when due
 *        ──▶ the group's consumers (they subscribe to it) get it again.
 *   After retryMaxTimes (the group's, 16 by default, or the consumer's maxReconsumeTimes) or a
 *   negative delay level, the copy goes to %DLQ%<group> instead (1 queue, read+write), where it
 *   waits for an operator. A client that sends to %RETRY%<group> itself (the SDK's fallback
 *   when send-back fails) with a reconsume count at the maximum is redirected to the DLQ by a
 *   put hook (the DLQ topic then made write-only, as RocketMQ's send path does).
 *
 * Settings read at init (broker.conf, RocketMQ's names):
 *   messageDelayLevel         "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"
 *   flushDelayOffsetInterval  10000 (ms): delayOffset.json at most this stale
 * Delivery runs on the master only (rk_broker_is_slave, asked at every round: a slave follows and
 * copies its master's delayOffset.json through chapter 8's metadata copy, rk_ha_meta_add).
 * Memory and threads: the module owns its state (rk_broker_module_state); processors run on
 * the server's worker pool. */
#ifndef RK_RETRY_H
#define RK_RETRY_H

#include "rk/broker.h"
#include "rk/schedule.h"

#define RK_RETRY_PREFIX "%RETRY%"
#define RK_DLQ_PREFIX "%DLQ%"
#define RK_DLQ_QUEUES 1

extern const rk_broker_module_t rk_retry_module;

/* The module's schedule service (NULL if b has no retry module). */
rk_schedule_t *rk_retry_schedule(rk_broker_t *b);

#endif
