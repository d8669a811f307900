/* subscription_group.h — consumer groups' settings: config/subscriptionGroup.json.
 *
 *   {"dataVersion":{...},"subscriptionGroupTable":{"cg":{"brokerId":0,
 *     "consumeBroadcastEnable":true,"consumeEnable":true,"consumeFromMinEnable":true,
 *     "groupName":"cg","notifyConsumerIdsChangedEnable":true,"retryMaxTimes":16,
 *     "retryQueueNums":1,"whichBrokerWhenConsumeSlowly":1}}}
 *
 * RocketMQ's SubscriptionGroupManager: a group is created with defaults the
 * first time it is seen when autoCreateSubscriptionGroup is on (chapter 9
 * reads retryMaxTimes and retryQueueNums). Persisted as tmp + fsync + rename.
 *
 * rocklet differs as topics.json does (rk/topic_config.h): groups created on
 * first sight (a HEART_BEAT) are written by the manager's writer thread
 * (rk/batch_writer.h), batched, at most every flush_interval_ms, not one
 * fsync per group on the request path; and past auto_create_max groups in
 * the table no group is created on first sight (RK_EFULL). Explicit puts
 * are on disk when they return; close writes what is pending.
 * Threads: one mutex; any thread. Configs are returned by value. */
#ifndef RK_SUBSCRIPTION_GROUP_H
#define RK_SUBSCRIPTION_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rk_group_config {
    char name[256];
    bool consume_enable, consume_from_min_enable, consume_broadcast_enable, notify_ids_changed;
    int32_t retry_queue_nums, retry_max_times;
    int64_t broker_id, which_broker_when_slow;
} rk_group_config_t;

typedef struct rk_group_manager rk_group_manager_t;

typedef struct rk_group_manager_config {
    const char *path;               /* <storePathRootDir>/config/subscriptionGroup.json */
    bool auto_create;               /* autoCreateSubscriptionGroup */
    bool fallback_to_bak;           /* metadataFallbackToBak */
    int64_t auto_create_max;        /* autoCreateSubscriptionGroupMax: 0 = no bound */
    int64_t flush_interval_ms;      /* flushTopicConfigInterval: 0 = write each change at once */
} rk_group_manager_config_t;

/* Loads cfg->path with rk_file_load (see below) and starts the writer
 * thread when flush_interval_ms > 0. Fill it with designated initializers. */
int rk_group_manager_open_cfg(const rk_group_manager_config_t *cfg, rk_group_manager_t **out, char *err,
                              size_t errlen);
/* Loads path (subscriptionGroup.json) with rk_file_load: an unusable file is
 * RK_ECORRUPT, err naming it and its .bak, unless fallback_to_bak
 * (metadataFallbackToBak) lets it load the .bak. */
int rk_group_manager_open_opts(const char *path, bool auto_create, bool fallback_to_bak,
                               rk_group_manager_t **out, char *err, size_t errlen);
/* The same with fallback_to_bak = false. Both write each change at once
 * and have no bound. */
int rk_group_manager_open(const char *path, bool auto_create, rk_group_manager_t **out, char *err, size_t errlen);
void rk_group_manager_close(rk_group_manager_t *m);
/* The group's config; creates it with defaults when auto-create is on
 * (RK_EFULL when the table already holds auto_create_max groups).
 * RK_ENOTFOUND otherwise (SUBSCRIPTION_GROUP_NOT_EXIST); RK_EINVAL for an
 * empty name or one of 256 bytes or more. */
int rk_group_get(rk_group_manager_t *m, const char *group, rk_group_config_t *out);
/* Creates or replaces (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP) and persists. */
int rk_group_put(rk_group_manager_t *m, const rk_group_config_t *cfg);
/* Writes pending changes now (0 if there were none). */
int rk_group_flush(rk_group_manager_t *m);
/* The file's JSON as it is in memory (what GET_ALL_SUBSCRIPTIONGROUP_CONFIG
 * answers: the file may be up to flush_interval_ms behind); malloc'ed. */
char *rk_group_encode(rk_group_manager_t *m);
/* Removes a group's config (DELETE_SUBSCRIPTIONGROUP) and persists;
 * RK_ENOTFOUND. Its committed offsets stay. */
int rk_group_delete(rk_group_manager_t *m, const char *group);
/* autoCreateSubscriptionGroup / autoCreateSubscriptionGroupMax at run time
 * (UPDATE_BROKER_CONFIG); max 0 = no bound. */
void rk_group_set_auto_create(rk_group_manager_t *m, bool on, int64_t max);
void rk_group_get_auto_create(rk_group_manager_t *m, bool *on, int64_t *max);
/* The defaults RocketMQ gives a new group. */
void rk_group_defaults(rk_group_config_t *cfg, const char *name);

#endif
