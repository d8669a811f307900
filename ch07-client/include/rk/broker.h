/* broker.h — the broker process: a store, a remoting server, and modules.
 *
 *        clients ──▶ remoting server ──▶ processors (registered by modules)
 *                                            │
 *                   topics.json ◀── topics ──┼── clients (heartbeats)
 *                                            ▼
 *                                   message store (ch05 over ch04)
 *                   name servers ◀── registration (ch06 brokerreg)
 *
 * A broker is assembled from *modules* with init/start/stop: this is the
 * extension point later chapters use (HA, retry, delay, transactions,
 * console each add one). init runs before anything serves (register
 * processors, store hooks, dispatchers); start after the store and server
 * run; stop in reverse order before they close (stop is called for every
 * module whose init succeeded, started or not). A module reads its config
 * keys in init: keys no table has read by then are warned about as typos,
 * before the broker serves. The chapter's own broker
 * binary is the same main linked with the module list of chapters <= N.
 *
 * Threads: processors run on the server's loop (or its worker pool when
 * flagged SLOW); modules' start/stop run on the caller's thread.
 * Memory: the broker owns everything it hands out accessors to. */
#ifndef RK_BROKER_H
#define RK_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/brokerreg.h"
#include "rk/buf.h"
#include "rk/client_manager.h"
#include "rk/config.h"
#include "rk/message_store.h"
#include "rk/remoting_server.h"
#include "rk/subscription_group.h"
#include "rk/topic_config.h"

typedef struct rk_broker_config {
    char *cluster_name;             /* brokerClusterName */
    char *broker_name;              /* brokerName */
    int64_t broker_id;              /* brokerId: 0 = master */
    char *namesrv_addr;             /* namesrvAddr: "host:port;host:port" (none: standalone) */
    char *broker_ip1;               /* brokerIP1 */
    int64_t listen_port;            /* listenPort */
    char *listen_host;              /* listenHost (rocklet: RocketMQ always binds every address) */
    char *store_root;               /* storePathRootDir */
    bool auto_create_topic;         /* autoCreateTopicEnable */
    bool auto_create_group;         /* autoCreateSubscriptionGroup */
    int64_t default_queue_nums;     /* defaultTopicQueueNums */
    int64_t register_period_ms;     /* registerNameServerPeriod */
    int64_t max_message_size;       /* maxMessageSize */
    rk_rserver_limits_t limits;     /* serverMaxConnections ... (rk_rserver_limit_fields) */
    int64_t auto_create_topic_max;  /* autoCreateTopicMax: 0 = no bound (rocklet) */
    int64_t topic_flush_ms;         /* flushTopicConfigInterval (rocklet): subscriptionGroup.json too */
    int64_t auto_create_group_max;  /* autoCreateSubscriptionGroupMax: 0 = no bound (rocklet); also bounds
                                       the %RETRY% topics heartbeats create */
    int64_t max_held_pulls;         /* maxHeldPulls: long-polling pulls held at once (rocklet) */
    int64_t max_held_pulls_per_conn;/* maxHeldPullsPerConnection (rocklet) */
} rk_broker_config_t;

extern const rk_config_field_t rk_broker_config_fields[];

typedef struct rk_broker rk_broker_t;

typedef struct rk_broker_module {
    const char *name;
    int (*init)(rk_broker_t *b, void **state);
    int (*start)(rk_broker_t *b, void *state);
    void (*stop)(rk_broker_t *b, void *state);
    /* Optional: frees state once the server and the store are closed (its
     * periodic tasks and dispatchers can no longer run). */
    void (*destroy)(rk_broker_t *b, void *state);
} rk_broker_module_t;

/* Chapter 7's processors: send, pull, offsets, heartbeats, topic admin. */
extern const rk_broker_module_t rk_broker_core_module;
/* Operators' figures: GET_BROKER_RUNTIME_INFO, GET_TOPIC_STATS_INFO, GET_CONSUME_STATS, and
 * rocklet's GET_ALL_TOPIC_STATS below. */
extern const rk_broker_module_t rk_broker_stats_module;

/* GET_ALL_TOPIC_STATS, a rocklet extension (RocketMQ 4.x and 5.x use no code near 10701): what
 * GET_TOPIC_STATS_INFO answers, for every topic of the broker in one reply a page, so that a
 * console scraping all topics sends one request a page instead of one a topic.
 *   Request extFields (both optional): afterTopic — the page holds the topics whose names sort
 *   (strcmp) after it: the previous page's lastTopic, absent for the first; maxTopics — at most
 *   this many topics, 1..RK_ALL_TOPIC_STATS_MAX_TOPICS (default 1000). A page also ends after
 *   the topic that takes its body past RK_ALL_TOPIC_STATS_PAGE_BYTES.
 *   Response: SUCCESS, extFields more ("true" when topics follow, else "false") and lastTopic
 *   (the page's last topic, when it has one); the body is JSON, topics in name order, each with
 *   its queues 0..writeQueueNums-1 as [minOffset, maxOffset, lastUpdateTimestamp], the figures
 *   GET_TOPIC_STATS_INFO gives for them:
 *     {"brokerName":"broker-a","topics":{"TopicA":[[0,5,1700000000000],[0,0,0]],"TopicB":[]}}
 *   A bad maxTopics or afterTopic (not a number in range; a name over 255 bytes): SYSTEM_ERROR.
 * A broker without it answers REQUEST_CODE_NOT_SUPPORTED: ask GET_TOPIC_STATS_INFO per topic. */
enum { RK_REQ_GET_ALL_TOPIC_STATS = 10701 };
#define RK_ALL_TOPIC_STATS_MAX_TOPICS 10000
#define RK_ALL_TOPIC_STATS_DEFAULT_TOPICS 1000
#define RK_ALL_TOPIC_STATS_PAGE_BYTES (1 << 20)

/* Reads the broker's and the store's settings from kv, opens everything,
 * runs each module's init, starts, runs each module's start. modules is a
 * NULL-terminated list. err gets a one-line reason. */
int rk_broker_start(rk_kv_t *kv, const rk_broker_module_t *const *modules, rk_broker_t **out, char *err,
                    size_t errlen);
/* Stops the modules (reverse order), unregisters, stops serving, closes the store. */
void rk_broker_stop(rk_broker_t *b);

const rk_broker_config_t *rk_broker_config(const rk_broker_t *b);
rk_rserver_t *rk_broker_server(rk_broker_t *b);
rk_store_t *rk_broker_store(rk_broker_t *b);
rk_topic_manager_t *rk_broker_topics(rk_broker_t *b);
rk_client_manager_t *rk_broker_clients(rk_broker_t *b);
rk_group_manager_t *rk_broker_groups(rk_broker_t *b);
int rk_broker_port(const rk_broker_t *b);
/* How the last registration with the name servers went: returns how many
 * accepted it, sets *total to how many are configured (0: no namesrvAddr,
 * the broker runs standalone) and missed to the addresses that did not
 * (";"-separated; may be NULL). */
int rk_broker_namesrv_status(rk_broker_t *b, int *total, char *missed, size_t len);
/* "ip:port" of this broker as clients reach it. */
const char *rk_broker_addr(const rk_broker_t *b);
/* A consumer group's membership changed: tell its members (oneway
 * NOTIFY_CONSUMER_IDS_CHANGED) so they rebalance. Any thread. */
void rk_broker_notify_group_changed(rk_broker_t *b, const char *group);
/* Topics changed: re-register with the name servers now. */
void rk_broker_topics_changed(rk_broker_t *b);
/* Gives every topic the store's consume queues hold a topic config if it has none
 * (rk_topic_adopt). The broker does it at start and, as its dispatch meets a record of an
 * unknown topic, all the time; a replica that becomes master calls it before taking writes. */
void rk_broker_adopt_topics(rk_broker_t *b);
/* Long-polling pulls the core module holds right now (runtime info's
 * heldPulls). Any thread. */
size_t rk_broker_held_pulls(rk_broker_t *b);

/* ConsumeStats JSON (RocketMQ's shape, fastjson's MessageQueue keys) of a
 * group's queues — every topic it has offsets in, or only topic (may be
 * NULL) — appended to out. Returns how many queues it lists (0: none, out
 * unchanged); *diff (may be NULL) gets the total lag. Any thread (it reads
 * the store: not on the server's loop). */
int rk_broker_consume_stats(rk_broker_t *b, const char *group, const char *topic, rk_buf_t *out, int64_t *diff);

/* ---- for later chapters' modules ---- */

/* The settings the broker was started with, so a module reads its own keys
 * (rk_config_apply marks them used, so they are not warned about as typos).
 * Valid during init and start only; NULL otherwise (or when the broker was
 * started without settings). */
rk_kv_t *rk_broker_kv(rk_broker_t *b);
/* Replication role (chapter 8 sets it; a broker starts as a master). A
 * slave refuses sends (SERVICE_NOT_AVAILABLE), does not store the commit
 * offsets pulls carry, and answers pulls PULL_RETRY_IMMEDIATELY with
 * suggestWhichBrokerId 0 unless slave_read_enable. Any thread. */
void rk_broker_set_role(rk_broker_t *b, bool slave, bool slave_read_enable);
bool rk_broker_is_slave(const rk_broker_t *b);
bool rk_broker_slave_read_enable(const rk_broker_t *b);
/* The HA address registered with the name servers (brokerIP2:haListenPort):
 * set it from a module's init or start, before registration begins. */
int rk_broker_set_ha_addr(rk_broker_t *b, const char *addr);
/* Registration with the name servers: NULL before the modules started or
 * when there is no name server. */
rk_brokerreg_t *rk_broker_registration(rk_broker_t *b);
/* A role change: register as broker_id from now on (0 = master) and tell
 * the name servers now. Any thread (the id is an atomic: rk_broker_id()
 * reads it; rk_broker_config()->broker_id stays the configured value). */
void rk_broker_set_id(rk_broker_t *b, int64_t broker_id);
int64_t rk_broker_id(const rk_broker_t *b);
/* The state a module's init made, by module name (NULL if no such module):
 * how one module finds another's (chapter 8's election drives HA's roles). */
void *rk_broker_module_state(rk_broker_t *b, const char *name);
/* Extra GET_BROKER_RUNTIME_INFO fields: fn appends `,"key":"value"` pairs
 * (every value a string). Register from init; fn runs on the server's loop. */
typedef void (*rk_broker_runtime_fn)(void *ctx, rk_buf_t *out);
int rk_broker_add_runtime_info(rk_broker_t *b, rk_broker_runtime_fn fn, void *ctx);
void rk_broker_runtime_info(rk_broker_t *b, rk_buf_t *out);

/* The mqbroker program (`mqbroker [-c FILE] [-n NAMESRV] [-p] [-h]`): each
 * chapter's mqbroker is this main with its module list. extra_fields
 * (NULL-terminated, may be NULL) are more settings tables for -h and -p. */
int rk_broker_main(int argc, char **argv, const rk_broker_module_t *const *modules,
                   const rk_config_field_t *const *extra_fields);

#endif
