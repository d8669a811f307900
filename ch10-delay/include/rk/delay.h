/* delay.h — chapter 10's broker module: any delivery time (rk/timer.h) next to chapter 9's delay
 * levels (rk/schedule.h), with the figures operators look at.
 *
 *   producer ──TIMER_DELIVER_MS / TIMER_DELAY_SEC / TIMER_DELAY_MS / __STARTDELIVERTIME──▶ timer
 *            ──DELAY=n──────────────────────────────────────────────────────────────────▶ levels (ch09)
 *   a time further than timerMaxDelaySec ahead, or not a number: MESSAGE_ILLEGAL (13) with
 *   RocketMQ's remark "timer message illegal, the delay time should not be bigger than the max
 *   delay ...ms; ..."; more than timerMaxPending waiting: SYSTEM_ERROR "timer message is under
 *   flow control ...".
 *
 * Settings (broker.conf):
 *   timerMaxDelaySec      259200 (3 days)
 *   timerPrecisionMs      10 (RocketMQ: 1000): delivery times are rounded UP to it; the wheel ticks at it
 *   timerFlushIntervalMs  1000 (rocklet): how stale config/timerCheckpoint.json may be
 *   timerMaxPending       10000000 (rocklet): timer messages that may wait at once
 *   timerWheelEnable      true: false leaves TIMER_* messages alone (delivered at once)
 * Requests: GET_TIMER_CHECK_POINT (60) answers the checkpoint (JSON, rocklet's shape); a replica
 * copies it with chapter 8's metadata (rk_ha_meta_add) and continues from it when elected.
 * Runtime info (GET_BROKER_RUNTIME_INFO) adds: timerPendingCount, timerOffsetBehind,
 * timerReadOffset, timerLowOffset, timerProgressMs, timerReadBehindMs, timerDeliveredCount,
 * timerPrecisionMs, timerMaxDelaySec, and for each delay level n scheduleMessageOffset_n =
 * "delivered offset,queue max offset" (RocketMQ's brokerStatus shape) plus scheduleDelayLevels.
 * Module order: after rk_retry_module (its level hook runs first: a level wins over a time).
 * Memory and threads: the module owns its state (rk_broker_module_state). */
#ifndef RK_DELAY_H
#define RK_DELAY_H

#include "rk/broker.h"
#include "rk/timer.h"

#define RK_REQ_GET_TIMER_CHECK_POINT 60

extern const rk_broker_module_t rk_delay_module;
extern const rk_config_field_t rk_delay_config_fields[];

/* The module's timer (NULL if b has no delay module or the wheel is disabled). */
rk_timer_t *rk_delay_timer(rk_broker_t *b);

#endif
