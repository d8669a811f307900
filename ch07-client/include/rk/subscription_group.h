/* subscription_group.h — consumer groups' settings: config/subscriptionGroup.json.
 *
 *   {"dataVersion":{...},"subscriptionGroupTable":{"cg":{"brokerId":0,
 *     "consumeBroadcastEnable":true,"consumeEnable":true,"consumeFromMinEnable":true,
 *     "groupName":"cg","notifyConsumerIdsChangedEnable":true,"retryMaxTimes":16,
 *     "retryQueueNums":1,"whichBrokerWhenConsumeSlowly":1}}}
 *
 * RocketMQ's SubscriptionGroupManager: a group is created with defaults the
 * first time it is seen when autoCreateSubscriptionGroup is on (chapter 9
 * reads retryMaxTimes and retryQueueNums). Persisted as tmp + .bak + rename.
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

/* Loads path (subscriptionGroup.json) with rk_file_load: an unusable file is
 * RK_ECORRUPT, err naming it and its .bak, unless fallback_to_bak
 * (metadataFallbackToBak) lets it load the .bak. */
int rk_group_manager_open_opts(const char *path, bool auto_create, bool fallback_to_bak,
                               rk_group_manager_t **out, char *err, size_t errlen);
/* The same with fallback_to_bak = false. */
int rk_group_manager_open(const char *path, bool auto_create, rk_group_manager_t **out, char *err, size_t errlen);
void rk_group_manager_close(rk_group_manager_t *m);
/* The group's config; creates it with defaults when auto-create is on.
 * RK_ENOTFOUND otherwise (SUBSCRIPTION_GROUP_NOT_EXIST). */
int rk_group_get(rk_group_manager_t *m, const char *group, rk_group_config_t *out);
/* Creates or replaces (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP) and persists. */
int rk_group_put(rk_group_manager_t *m, const rk_group_config_t *cfg);
/* The defaults RocketMQ gives a new group. */
void rk_group_defaults(rk_group_config_t *cfg, const char *name);

#endif
