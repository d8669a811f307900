/* delay_admin.h — chapter 10's mqadmin commands (rk/mqadmin.h: chapter 10's mqadmin lists this
 * table, then chapter 9's, then chapter 7's; a later chapter puts its own first):
 *
 *   sendMessage -n NS -t TOPIC -p BODY [-c TAGS] [-k KEYS] [-d LEVEL | -T WHEN [-O]]
 *       chapter 7's sendMessage (every option kept) with a delay: -d a delay level (DELAY),
 *       -T a delivery time, ms since 1970 or +DURATION from now (+30s, +1500ms, +2h, +1d):
 *       TIMER_DELIVER_MS, or with -O Alibaba Cloud ONS' __STARTDELIVERTIME. Checked as
 *       rk/delay_client.h does (level 1..18, the future, at most 3 days) before anything is sent;
 *       prints the delay after the send result.
 *   delayProgress -n NS [-b BROKER_ADDR] [-L LEVELS]
 *       the delay levels of every master (or of one broker): per level its delay, the offset
 *       delivered up to (delayOffset.json, GET_ALL_DELAY_OFFSET), the end of its queue in
 *       SCHEDULE_TOPIC_XXXX (GET_MAX_OFFSET), the messages still waiting, and when the oldest of
 *       them is due at the latest (now + the level's delay: it was stored before now); then the
 *       broker's runtime fields about delays (RocketMQ's scheduleMessageOffset_N and the timer's
 *       timer*, when the broker has them). LEVELS is the broker's messageDelayLevel (default
 *       RocketMQ's); it only names the delays, the offsets come from the broker.
 *
 * Static data; nothing to free. */
#ifndef RK_DELAY_ADMIN_H
#define RK_DELAY_ADMIN_H

#include "rk/mqadmin.h"

extern const rk_tool_cmd_t rk_mqadmin_cmds_ch10[];

#endif
