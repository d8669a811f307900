/* topic_config.h — the broker's topics: config/topics.json and the rules around it.
 *
 *   {"dataVersion":{"counter":3,"timestamp":1700000000000},
 *    "topicConfigTable":{"TopicTest":{"order":false,"perm":6,"readQueueNums":4,
 *        "topicFilterType":"SINGLE_TAG","topicName":"TopicTest","topicSysFlag":0,
 *        "writeQueueNums":4}, ...}}
 *
 * RocketMQ's TopicConfigManager: built-in topics at start (TBW102 only with
 * autoCreateTopicEnable), creation on first send from the default topic
 * (queues = min(asked, TBW102's write queues), permission = TBW102's without
 * INHERIT), explicit create/update, a data version bumped on each change
 * (the name server re-reads routes when it changes), persistence as
 * tmp + .bak + rename with .bak fallback on load.
 *
 * rocklet differs in two ways. Topics created by a first send are written
 * by the manager's own writer thread, batched, at most every
 * flush_interval_ms: RocketMQ fsyncs the whole file on the sending thread
 * for each new topic (27.8 s per 1 000 topics at 3 000). A crash within
 * that interval may lose the config of a just-created topic, never its
 * messages: the next send to it creates it again. Explicit puts are written
 * before they return, and close writes what is left. And auto-create is
 * bounded: past auto_create_max topics (built-ins not counted) a first
 * send is refused; %RETRY% topics have their own bound (retry_create_max)
 * and do not count against it.
 *
 * Threads: every function may be called from any thread (one mutex).
 * Memory: configs are returned by value; strings returned are malloc'ed. */
#ifndef RK_TOPIC_CONFIG_H
#define RK_TOPIC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/names.h"

#define RK_PERM_PRIORITY 0x8
#define RK_PERM_READ     0x4
#define RK_PERM_WRITE    0x2
#define RK_PERM_INHERIT  0x1
#define RK_PERM_MAX      0xF    /* every bit above: a perm > 15 (or < 0) is refused */
/* Most queues a topic may have (read or write), from a request or topics.json. */
#define RK_TOPIC_MAX_QUEUES 1024
#define RK_TOPIC_DEFAULT "TBW102"
#define RK_RETRY_PREFIX "%RETRY%"  /* a consumer group's retry topic: %RETRY%<group> */

typedef struct rk_topic_config {
    char name[256];
    int32_t read_queues, write_queues, perm, sys_flag;
    bool order;
    bool multi_tag;             /* topicFilterType MULTI_TAG */
} rk_topic_config_t;

typedef struct rk_topic_manager rk_topic_manager_t;

typedef struct rk_topic_manager_config {
    const char *path;               /* <storePathRootDir>/config/topics.json */
    const char *cluster_name;       /* brokerClusterName: a built-in topic */
    const char *broker_name;        /* brokerName: a built-in topic */
    bool auto_create_topic;         /* autoCreateTopicEnable */
    int32_t default_queue_nums;     /* defaultTopicQueueNums (TBW102's queues) */
    int64_t auto_create_max;        /* autoCreateTopicMax: 0 = no bound */
    int64_t retry_create_max;       /* most %RETRY% topics made automatically (the broker passes
                                       autoCreateSubscriptionGroupMax): 0 = no bound */
    int64_t flush_interval_ms;      /* flushTopicConfigInterval: 0 = write each change at once */
    bool fallback_to_bak;           /* metadataFallbackToBak (rk/store_config.h) */
} rk_topic_manager_config_t;

/* Loads the file (rk_file_load: its .bak only when the file is missing, or
 * when it is unusable and fallback_to_bak is set; otherwise an unusable
 * file is RK_ECORRUPT and err names it and its .bak), then adds the
 * built-in topics; starts the writer thread when flush_interval_ms > 0.
 * Fill it with designated initializers: fields are added over chapters. */
int rk_topic_manager_open(const rk_topic_manager_config_t *cfg, rk_topic_manager_t **out, char *err,
                          size_t errlen);
/* Stops the writer thread, writes pending changes, frees. */
void rk_topic_manager_close(rk_topic_manager_t *m);
/* Writes pending changes now (0 if there were none). */
int rk_topic_flush(rk_topic_manager_t *m);

/* The log is the truth: a topic whose messages are in the store (its consume queues, or a
 * record being dispatched) but not in the table gets a config with `queues` read and write
 * queues, perm RW — a topic made just before a kill -9 (topics.json is written a moment later)
 * or on a master that died before its replicas copied the table. A topic adopted so earlier
 * grows when the log uses more queues; a config the table had otherwise is left as it is.
 * *have gets the queues the table has for it afterwards, *changed whether the table changed.
 * RK_EINVAL for a bad name or queue count. */
int rk_topic_adopt(rk_topic_manager_t *m, const char *topic, int32_t queues, int32_t *have, bool *changed);


/* Copies the config of topic; RK_ENOTFOUND if absent. */
int rk_topic_get(rk_topic_manager_t *m, const char *topic, rk_topic_config_t *out);
/* A page of the table in name order (strcmp): up to max configs of the topics whose names
 * sort after `after` (NULL: from the first) into out; returns how many, *more (may be NULL)
 * whether topics follow the last one (pass its name as `after` for the next page).
 * RK_EINVAL for max < 0, RK_ENOMEM. */
int rk_topic_list(rk_topic_manager_t *m, const char *after, int max, rk_topic_config_t *out, bool *more);
/* Creates or replaces a topic (UPDATE_AND_CREATE_TOPIC) and persists before
 * returning. RK_EINVAL for a bad name, queue count or perm. */
int rk_topic_put(rk_topic_manager_t *m, const rk_topic_config_t *cfg);
/* The topic, creating it from default_topic if it does not exist yet (the
 * first send to a new topic). RK_ENOTFOUND when the default topic is
 * missing or lacks INHERIT (autoCreateTopicEnable=false); RK_EFULL when
 * the table already holds auto_create_max topics besides the built-in ones;
 * *created says whether it was made now (then the broker re-registers).
 * A created topic is persisted by the writer thread, later. */
int rk_topic_get_or_create_in_send(rk_topic_manager_t *m, const char *topic, const char *default_topic,
                                   int32_t queue_nums, rk_topic_config_t *out, bool *created);
/* Creates a consumer group's retry topic (%RETRY%<group>, 1 queue, read
 * and write) if it does not exist, persisted later by the writer thread
 * (HEART_BEAT). RK_EINVAL if topic is not a valid %RETRY% name, RK_EFULL
 * when the table already holds retry_create_max %RETRY% topics. Retry
 * topics count against retry_create_max only, never against
 * auto_create_max, and a first send to a %RETRY% name counts against
 * retry_create_max: a consumer flood cannot use up what producers may
 * auto-create, nor the reverse. */
int rk_topic_create_retry(rk_topic_manager_t *m, const char *topic, bool *created);
/* The data version: counter and timestamp. */
void rk_topic_data_version(rk_topic_manager_t *m, int64_t *counter, int64_t *timestamp);
/* RegisterBrokerBody JSON (what REGISTER_BROKER carries); malloc'ed. */
char *rk_topic_register_body(rk_topic_manager_t *m);
/* The file's JSON (what GET_ALL_TOPIC_CONFIG answers); malloc'ed. */
char *rk_topic_encode(rk_topic_manager_t *m, bool pretty);
/* Removes a topic (DELETE_TOPIC_IN_BROKER) and persists before returning;
 * RK_ENOTFOUND. The caller refuses built-in topics (the broker's admin
 * module does): they are counted apart. Messages stay in the store. */
int rk_topic_delete(rk_topic_manager_t *m, const char *topic);
/* autoCreateTopicMax at run time (UPDATE_BROKER_CONFIG); 0 = no bound. */
void rk_topic_set_auto_create_max(rk_topic_manager_t *m, int64_t max);
int64_t rk_topic_get_auto_create_max(rk_topic_manager_t *m);

#endif
