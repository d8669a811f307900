/* broker_admin.h — the admin requests RocketMQ's tools and Dashboard send a broker.
 *
 *   mqadmin / Dashboard ──▶ broker admin module ──▶ topics, groups, clients, store
 *                                    │
 *                                    └──▶ a consumer (307, 309 forwarded; 220 pushed)
 *
 * Codes and bodies as RocketMQ 4.9's AdminBrokerProcessor (codes in
 * rk/request_code.h):
 *   GET_CONSUMER_CONNECTION_LIST 203   ConsumerConnection of a group (CONSUMER_NOT_ONLINE if none)
 *   GET_PRODUCER_CONNECTION_LIST 204   ProducerConnection (SYSTEM_ERROR "not exist" if none)
 *   UPDATE_AND_CREATE_SUBSCRIPTIONGROUP 200, GET_ALL_SUBSCRIPTIONGROUP_CONFIG 201,
 *   DELETE_SUBSCRIPTIONGROUP 207       subscriptionGroup.json
 *   DELETE_TOPIC_IN_BROKER 215         the topic's config (built-in topics refused; the
 *                                      messages stay in the store until they expire)
 *   INVOKE_BROKER_TO_RESET_OFFSET 222  the group's offsets of a topic moved to a time
 *                                      (SEARCH_OFFSET_BY_TIMESTAMP), committed, and pushed to
 *                                      the live members as RESET_CONSUMER_CLIENT_OFFSET 220
 *                                      (oneway, as RocketMQ: a Java consumer answers nothing)
 *   QUERY_TOPIC_CONSUME_BY_WHO 300     GroupList: groups subscribed or with offsets
 *   GET_CONSUMER_RUNNING_INFO 307,
 *   CONSUME_MESSAGE_DIRECTLY 309       forwarded to the named client; the answer comes from
 *                                      the client's response callback (no thread waits)
 *   GET_BROKER_CONSUME_STATS 317       ConsumeStatsList of every group
 *   QUERY_CONSUME_QUEUE 321            raw units of a consume queue (at most 256)
 *   GET_BROKER_CONFIG 26, UPDATE_BROKER_CONFIG 25
 *                                      "key=value" lines (broker, server limits, commitlog,
 *                                      consume queues; each key once); only RK_BROKER_RUNTIME_KEYS may
 *                                      change at run time, validated as in broker.conf
 *                                      (autoCreateSubscriptionGroupMax bounds new groups; the
 *                                      %RETRY% topics' bound keeps its start-up value)
 *
 * Every header field and body is checked (names by rk/names.h, numbers by
 * range, bodies at most RK_ADMIN_MAX_BODY bytes); refusals say why.
 * Threads: processors run on the server's loop or its worker pool; pushes
 * to clients on the loop. Memory: the module owns its state. */
#ifndef RK_BROKER_ADMIN_H
#define RK_BROKER_ADMIN_H

#include "rk/broker.h"

#define RK_ADMIN_MAX_BODY (64 * 1024)
/* The broker.conf keys UPDATE_BROKER_CONFIG may change while the broker runs. */
#define RK_BROKER_RUNTIME_KEYS "autoCreateSubscriptionGroup, autoCreateSubscriptionGroupMax, autoCreateTopicMax"
/* How long the broker waits for a client's answer to 307 / 309. */
#define RK_ADMIN_CLIENT_TIMEOUT_MS 5000

extern const rk_broker_module_t rk_broker_admin_module;

#endif
