/* names.h — the rules for topic and group names, shared by the broker and the SDK.
 *
 * A producer checks a topic name before it sends, a consumer its group, and
 * the broker checks both again on arrival (it trusts no client). The rule is
 * RocketMQ's (AbstractSendMessageProcessor / Validators): ^[%|a-zA-Z0-9_-]+$,
 * at most 127 bytes. No memory is owned here.
 */
#ifndef RK_NAMES_H
#define RK_NAMES_H

#include <stdbool.h>

#define RK_NAME_MAX 128 /* topic, broker, group names (127 chars + NUL) */

/* True if name is a valid topic or group name (NULL is not). */
bool rk_topic_name_valid(const char *name);

/* True for RocketMQ's system topics (TopicValidator.isSystemTopic): TBW102, SCHEDULE_TOPIC_XXXX,
 * the transaction topics, BenchmarkTest, OFFSET_MOVED_EVENT, SELF_TEST_TOPIC,
 * RMQ_SYS_TRACE_TOPIC, and every name starting with "rmq_sys_" (the timer's topic). A client
 * may not create, update or delete them; the broker's modules make them. */
bool rk_topic_is_system(const char *name);

#endif
