/* subscription_group.c — subscriptionGroup.json in RocketMQ's format (see rk/subscription_group.h). */
#include "rk/subscription_group.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "rk/batch_writer.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/json.h"
#include "rk/log.h"
#include "rk/store_config.h"
#include "rk/strmap.h"
#include "rk/topic_config.h"

struct rk_group_manager {
    char path[4096];
    bool auto_create;
    int64_t auto_create_max;    /* 0: no bound */
    uv_mutex_t mu;
    rk_strmap_t groups;         /* name -> rk_group_config_t* */
    int64_t dv_counter, dv_ts;
    rk_batch_writer_t *writer;  /* subscriptionGroup.json, batched; never called with mu held */
};

void rk_group_defaults(rk_group_config_t *c, const char *name)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->consume_enable = c->consume_from_min_enable = c->consume_broadcast_enable = true;
    c->notify_ids_changed = true;
    c->retry_queue_nums = 1;
    c->retry_max_times = 16;
    c->which_broker_when_slow = 1;
}

/* The file's text (rk_batch_encode_fn): a snapshot taken under mu. */
static char *encode_file(void *owner)
{
    rk_group_manager_t *m = owner;
    uv_mutex_lock(&m->mu);
    cJSON *root = cJSON_CreateObject();
    cJSON *dv = cJSON_AddObjectToObject(root, "dataVersion");
    rk_json_add_i64(dv, "counter", m->dv_counter);
    rk_json_add_i64(dv, "timestamp", m->dv_ts);
    cJSON *table = cJSON_AddObjectToObject(root, "subscriptionGroupTable");
    size_t n;
    const char **keys = rk_strmap_keys_sorted(&m->groups, &n);
    for (size_t i = 0; i < n; i++) {
        const rk_group_config_t *g = rk_strmap_get(&m->groups, keys[i]);
        cJSON *o = cJSON_AddObjectToObject(table, keys[i]);
        rk_json_add_i64(o, "brokerId", g->broker_id);
        cJSON_AddBoolToObject(o, "consumeBroadcastEnable", g->consume_broadcast_enable);
        cJSON_AddBoolToObject(o, "consumeEnable", g->consume_enable);
        cJSON_AddBoolToObject(o, "consumeFromMinEnable", g->consume_from_min_enable);
        cJSON_AddStringToObject(o, "groupName", g->name);
        cJSON_AddBoolToObject(o, "notifyConsumerIdsChangedEnable", g->notify_ids_changed);
        cJSON_AddNumberToObject(o, "retryMaxTimes", g->retry_max_times);
        cJSON_AddNumberToObject(o, "retryQueueNums", g->retry_queue_nums);
        rk_json_add_i64(o, "whichBrokerWhenConsumeSlowly", g->which_broker_when_slow);
    }
    free(keys);
    uv_mutex_unlock(&m->mu);
    char *s = rk_json_print(root, RK_JSON_PRETTY);
    cJSON_Delete(root);
    return s;
}

static int put_locked(rk_group_manager_t *m, const rk_group_config_t *cfg)
{
    rk_group_config_t *g = rk_strmap_get(&m->groups, cfg->name);
    if (g == NULL) {
        if ((g = malloc(sizeof *g)) == NULL)
            return RK_ENOMEM;
        if (rk_strmap_put(&m->groups, cfg->name, g, NULL) != RK_OK) {
            free(g);
            return RK_ENOMEM;
        }
    }
    *g = *cfg;
    m->dv_counter++;
    m->dv_ts = rk_now_ms();
    return RK_OK;
}

/* A number of one group in the file: absent leaves *out alone; present, it
 * must be an integer in [min, max]. */
static bool file_num(const cJSON *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
    int64_t v;
    int rc = rk_json_get_i64(o, key, &v);
    if (rc == RK_ENOTFOUND)
        return true;
    if (rc == RK_OK && v >= min && v <= max) {
        *out = v;
        return true;
    }
    rk_log_error("groups", "group %.200s: %s is not an integer in [%lld, %lld]", o->string, key, (long long)min,
                 (long long)max);
    return false;
}

static int parse_file(const char *text, size_t len, void *ctx)
{
    rk_group_manager_t *m = ctx;
    cJSON *root = rk_json_parse(text, len);
    cJSON *table = cJSON_GetObjectItemCaseSensitive(root, "subscriptionGroupTable");
    if (!cJSON_IsObject(table)) {
        cJSON_Delete(root);
        return RK_ECORRUPT;
    }
    for (cJSON *o = table->child; o != NULL; o = o->next) {
        if (o->string == NULL || strlen(o->string) >= 256)
            continue;
        rk_group_config_t g;
        rk_group_defaults(&g, o->string);
        int64_t rq = g.retry_queue_nums, rmax = g.retry_max_times;
        rk_json_get_bool(o, "consumeEnable", &g.consume_enable);
        rk_json_get_bool(o, "consumeFromMinEnable", &g.consume_from_min_enable);
        rk_json_get_bool(o, "consumeBroadcastEnable", &g.consume_broadcast_enable);
        rk_json_get_bool(o, "notifyConsumerIdsChangedEnable", &g.notify_ids_changed);
        if (!file_num(o, "retryQueueNums", 0, RK_TOPIC_MAX_QUEUES, &rq) ||
            !file_num(o, "retryMaxTimes", -1, INT32_MAX, &rmax) || !file_num(o, "brokerId", 0, INT64_MAX, &g.broker_id) ||
            !file_num(o, "whichBrokerWhenConsumeSlowly", 0, INT64_MAX, &g.which_broker_when_slow)) {
            cJSON_Delete(root);
            return RK_ECORRUPT;
        }
        g.retry_queue_nums = (int32_t)rq;
        g.retry_max_times = (int32_t)rmax;
        put_locked(m, &g);
    }
    cJSON *dv = cJSON_GetObjectItemCaseSensitive(root, "dataVersion");
    rk_json_get_i64(dv, "counter", &m->dv_counter);
    rk_json_get_i64(dv, "timestamp", &m->dv_ts);
    cJSON_Delete(root);
    return RK_OK;
}

int rk_group_manager_open(const char *path, bool auto_create, rk_group_manager_t **out, char *err, size_t errlen)
{
    rk_group_manager_config_t cfg = {.path = path, .auto_create = auto_create};
    return rk_group_manager_open_cfg(&cfg, out, err, errlen);
}

int rk_group_manager_open_opts(const char *path, bool auto_create, bool fallback_to_bak,
                               rk_group_manager_t **out, char *err, size_t errlen)
{
    rk_group_manager_config_t cfg = {.path = path, .auto_create = auto_create, .fallback_to_bak = fallback_to_bak};
    return rk_group_manager_open_cfg(&cfg, out, err, errlen);
}

int rk_group_manager_open_cfg(const rk_group_manager_config_t *cfg, rk_group_manager_t **out, char *err,
                              size_t errlen)
{
    if (cfg->path == NULL || strlen(cfg->path) >= sizeof((rk_group_manager_t *)0)->path || cfg->auto_create_max < 0 ||
        cfg->flush_interval_ms < 0)
        return RK_EINVAL;
    rk_group_manager_t *m = calloc(1, sizeof *m);
    if (m == NULL)
        return RK_ENOMEM;
    if (uv_mutex_init(&m->mu) != 0) {
        free(m);
        return RK_ENOMEM;
    }
    snprintf(m->path, sizeof m->path, "%s", cfg->path);
    m->auto_create = cfg->auto_create;
    m->auto_create_max = cfg->auto_create_max;
    rk_strmap_init(&m->groups);
    rk_file_load_opts_t lo = {cfg->fallback_to_bak, RK_METADATA_FALLBACK_KEY "=true"};
    int rc = rk_file_load(m->path, parse_file, m, &lo, NULL, err, errlen);
    if (rc != RK_OK && rc != -ENOENT) {
        rk_group_manager_close(m);
        return rc;
    }
    if (rk_batch_writer_new(m->path, "groups", cfg->flush_interval_ms, encode_file, m, &m->writer) != RK_OK) {
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot start its writer thread", m->path);
        rk_group_manager_close(m);
        return RK_ENOMEM;
    }
    *out = m;
    return RK_OK;
}

void rk_group_manager_close(rk_group_manager_t *m)
{
    if (m == NULL)
        return;
    rk_batch_writer_free(m->writer);     /* writes what was not written yet */
    rk_strmap_free(&m->groups, free);
    uv_mutex_destroy(&m->mu);
    free(m);
}

int rk_group_get(rk_group_manager_t *m, const char *group, rk_group_config_t *out)
{
    if (group == NULL || *group == '\0' || strlen(group) >= sizeof out->name)
        return RK_EINVAL;
    uv_mutex_lock(&m->mu);
    int rc = RK_OK;
    bool created = false;
    rk_group_config_t *g = rk_strmap_get(&m->groups, group);
    if (g == NULL && m->auto_create) {
        rk_group_config_t d;
        rk_group_defaults(&d, group);
        if (m->auto_create_max > 0 && m->groups.len >= (size_t)m->auto_create_max)
            rc = RK_EFULL;
        else if ((rc = put_locked(m, &d)) == RK_OK)
            created = true;
        g = rk_strmap_get(&m->groups, group);
    }
    if (g != NULL)
        *out = *g;
    else if (rc == RK_OK)
        rc = RK_ENOTFOUND;
    uv_mutex_unlock(&m->mu);
    if (created) {
        rk_batch_writer_changed(m->writer);    /* written by the writer thread, batched */
        rk_log_info("groups", "auto-created subscription group %s", group);
    }
    return rc;
}

int rk_group_put(rk_group_manager_t *m, const rk_group_config_t *cfg)
{
    if (cfg->name[0] == '\0')
        return RK_EINVAL;
    uv_mutex_lock(&m->mu);
    int rc = put_locked(m, cfg);
    uv_mutex_unlock(&m->mu);
    if (rc == RK_OK && (rc = rk_batch_writer_changed(m->writer)) == RK_OK)
        rc = rk_batch_writer_flush(m->writer);  /* an operator's change is on disk when it is answered */
    return rc;
}

int rk_group_flush(rk_group_manager_t *m) { return rk_batch_writer_flush(m->writer); }

char *rk_group_encode(rk_group_manager_t *m) { return encode_file(m); }

int rk_group_delete(rk_group_manager_t *m, const char *group)
{
    uv_mutex_lock(&m->mu);
    rk_group_config_t *g = rk_strmap_remove(&m->groups, group);
    if (g != NULL) {
        m->dv_counter++;
        m->dv_ts = rk_now_ms();
    }
    uv_mutex_unlock(&m->mu);
    if (g == NULL)
        return RK_ENOTFOUND;
    free(g);
    int rc = rk_batch_writer_changed(m->writer);
    if (rc == RK_OK)
        rc = rk_batch_writer_flush(m->writer);
    rk_log_info("groups", "subscription group %s deleted", group);
    return rc;
}

void rk_group_set_auto_create(rk_group_manager_t *m, bool on, int64_t max)
{
    uv_mutex_lock(&m->mu);
    m->auto_create = on;
    m->auto_create_max = max > 0 ? max : 0;
    uv_mutex_unlock(&m->mu);
}

void rk_group_get_auto_create(rk_group_manager_t *m, bool *on, int64_t *max)
{
    uv_mutex_lock(&m->mu);
    *on = m->auto_create;
    *max = m->auto_create_max;
    uv_mutex_unlock(&m->mu);
}
