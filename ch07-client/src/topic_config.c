/* topic_config.c — the broker's topic table, persisted as RocketMQ's topics.json (see rk/topic_config.h). */
#include "rk/topic_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/json.h"
#include "rk/log.h"
#include "rk/store_config.h"
#include "rk/strmap.h"

struct rk_topic_manager {
    char path[4096];
    uv_mutex_t mu;
    rk_strmap_t topics;         /* name -> rk_topic_config_t* */
    int64_t dv_counter, dv_ts;
    size_t nbuiltin;            /* built-in topics in the table (not counted by autoCreateTopicMax) */
    int64_t auto_create_max;    /* 0: no bound */
    /* Persistence: a change marks the table dirty; the writer thread writes
     * it at most every flush_ms (0: no thread, every change is written at
     * once by the caller). wmu serialises the writes and is taken before mu. */
    int64_t flush_ms;
    bool dirty, stop, has_thread;
    uv_cond_t cond;             /* with mu: dirty or stop changed */
    uv_mutex_t wmu;
    uv_thread_t thread;
};

bool rk_topic_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 127)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '%' ||
              c == '|' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static cJSON *config_json(const rk_topic_config_t *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "order", t->order);
    cJSON_AddNumberToObject(o, "perm", t->perm);
    cJSON_AddNumberToObject(o, "readQueueNums", t->read_queues);
    cJSON_AddStringToObject(o, "topicFilterType", t->multi_tag ? "MULTI_TAG" : "SINGLE_TAG");
    cJSON_AddStringToObject(o, "topicName", t->name);
    cJSON_AddNumberToObject(o, "topicSysFlag", t->sys_flag);
    cJSON_AddNumberToObject(o, "writeQueueNums", t->write_queues);
    return o;
}

static int add_topic_json(const char *name, void *value, void *ctx)
{
    cJSON_AddItemToObject(ctx, name, config_json(value));
    return 0;
}

/* Under mu. */
static cJSON *wrapper_json(rk_topic_manager_t *m)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *dv = cJSON_AddObjectToObject(root, "dataVersion");
    rk_json_add_i64(dv, "counter", m->dv_counter);
    rk_json_add_i64(dv, "timestamp", m->dv_ts);
    cJSON *table = cJSON_AddObjectToObject(root, "topicConfigTable");
    size_t n;
    const char **keys = rk_strmap_keys_sorted(&m->topics, &n);
    for (size_t i = 0; i < n; i++)      /* sorted: stable files, stable diffs */
        add_topic_json(keys[i], rk_strmap_get(&m->topics, keys[i]), table);
    free(keys);
    return root;
}

/* Writes the table if it changed since the last write (tmp + fsync + rename,
 * see rk/fileutil.h). Never called with mu held. */
static int flush(rk_topic_manager_t *m)
{
    uv_mutex_lock(&m->wmu);
    uv_mutex_lock(&m->mu);
    if (!m->dirty) {
        uv_mutex_unlock(&m->mu);
        uv_mutex_unlock(&m->wmu);
        return RK_OK;
    }
    cJSON *root = wrapper_json(m);
    m->dirty = false;
    uv_mutex_unlock(&m->mu);
    char *s = rk_json_print(root, RK_JSON_PRETTY);
    cJSON_Delete(root);
    int rc = s ? rk_file_write_atomic(m->path, s, strlen(s)) : RK_ENOMEM;
    free(s);
    if (rc != RK_OK) {
        rk_log_error("topics", "cannot persist %s: %s", m->path, rk_strerror(rc));
        uv_mutex_lock(&m->mu);
        m->dirty = true;        /* the next flush tries again */
        uv_mutex_unlock(&m->mu);
    }
    uv_mutex_unlock(&m->wmu);
    return rc;
}

/* The writer thread: waits for a change, lets more changes come for
 * flush_ms, writes them all at once. An auto-create flood costs one write
 * per interval, not one fsync per topic on the network thread. */
static void writer(void *arg)
{
    rk_topic_manager_t *m = arg;
    uv_mutex_lock(&m->mu);
    while (!m->stop) {
        if (!m->dirty) {
            uv_cond_wait(&m->cond, &m->mu);
            continue;
        }
        uint64_t until = rk_mono_ms() + (uint64_t)m->flush_ms;
        for (uint64_t now; !m->stop && (now = rk_mono_ms()) < until;)
            uv_cond_timedwait(&m->cond, &m->mu, (until - now) * 1000000);
        if (m->stop)
            break;
        uv_mutex_unlock(&m->mu);
        flush(m);
        uv_mutex_lock(&m->mu);
    }
    uv_mutex_unlock(&m->mu);
}

/* Under mu: the table changed and must reach the disk. */
static void changed_locked(rk_topic_manager_t *m)
{
    m->dirty = true;
    if (m->has_thread)
        uv_cond_signal(&m->cond);
}

static void bump(rk_topic_manager_t *m)
{
    m->dv_counter++;
    m->dv_ts = rk_now_ms();
}

/* Under mu (or before the manager is shared). */
static int put_locked(rk_topic_manager_t *m, const rk_topic_config_t *cfg)
{
    rk_topic_config_t *t = rk_strmap_get(&m->topics, cfg->name);
    if (t == NULL) {
        if ((t = malloc(sizeof *t)) == NULL)
            return RK_ENOMEM;
        if (rk_strmap_put(&m->topics, cfg->name, t, NULL) != RK_OK) {
            free(t);
            return RK_ENOMEM;
        }
    }
    *t = *cfg;
    return RK_OK;
}

/* A number of one topic in the file: absent leaves *out alone; present, it
 * must be an integer in [min, max] (a cast alone read readQueueNums
 * 4294967297 as 1). */
static bool file_num(const cJSON *t, const char *key, int64_t min, int64_t max, int32_t *out)
{
    int64_t v;
    int rc = rk_json_get_i64(t, key, &v);
    if (rc == RK_ENOTFOUND)
        return true;
    if (rc == RK_OK && v >= min && v <= max) {
        *out = (int32_t)v;
        return true;
    }
    char *s = rk_json_get_strdup(t, key);
    rk_log_error("topics", "topic %.200s: %s=%.40s is not an integer in [%lld, %lld]", t->string, key,
                 s ? s : "(not a number)", (long long)min, (long long)max);
    free(s);
    return false;
}

static int parse_file(const char *text, size_t len, void *ctx)
{
    rk_topic_manager_t *m = ctx;
    cJSON *root = rk_json_parse(text, len);
    cJSON *table = cJSON_GetObjectItemCaseSensitive(root, "topicConfigTable");
    if (!cJSON_IsObject(table)) {
        cJSON_Delete(root);
        return RK_ECORRUPT;
    }
    cJSON *dv = cJSON_GetObjectItemCaseSensitive(root, "dataVersion");
    rk_json_get_i64(dv, "counter", &m->dv_counter);
    rk_json_get_i64(dv, "timestamp", &m->dv_ts);
    for (cJSON *t = table->child; t != NULL; t = t->next) {
        rk_topic_config_t c = {.perm = RK_PERM_READ | RK_PERM_WRITE};
        if (t->string == NULL || strlen(t->string) >= sizeof c.name)
            continue;
        snprintf(c.name, sizeof c.name, "%s", t->string);
        if (!file_num(t, "readQueueNums", 0, RK_TOPIC_MAX_QUEUES, &c.read_queues) ||
            !file_num(t, "writeQueueNums", 0, RK_TOPIC_MAX_QUEUES, &c.write_queues) ||
            !file_num(t, "perm", 0, RK_PERM_MAX, &c.perm) || !file_num(t, "topicSysFlag", 0, INT32_MAX, &c.sys_flag)) {
            cJSON_Delete(root);
            return RK_ECORRUPT;
        }
        rk_json_get_bool(t, "order", &c.order);
        const char *ft = rk_json_get_str(t, "topicFilterType");
        c.multi_tag = ft != NULL && strcmp(ft, "MULTI_TAG") == 0;
        if (put_locked(m, &c) != RK_OK) {
            cJSON_Delete(root);
            return RK_ENOMEM;
        }
    }
    cJSON_Delete(root);
    return RK_OK;
}

static void builtin(rk_topic_manager_t *m, const char *name, int32_t queues, int32_t perm)
{
    if (name == NULL || !rk_topic_name_valid(name) || rk_strmap_get(&m->topics, name) != NULL)
        return;
    rk_topic_config_t c = {.read_queues = queues, .write_queues = queues, .perm = perm};
    snprintf(c.name, sizeof c.name, "%s", name);
    put_locked(m, &c);
}

int rk_topic_manager_open(const rk_topic_manager_config_t *cfg, rk_topic_manager_t **out, char *err,
                          size_t errlen)
{
    rk_topic_manager_t *m = calloc(1, sizeof *m);
    if (m == NULL)
        return RK_ENOMEM;
    snprintf(m->path, sizeof m->path, "%s", cfg->path);
    rk_strmap_init(&m->topics);
    m->auto_create_max = cfg->auto_create_max;
    m->flush_ms = cfg->flush_interval_ms;
    if (uv_mutex_init(&m->mu) != 0) {
        free(m);
        return RK_ENOMEM;
    }
    if (uv_mutex_init(&m->wmu) != 0) {
        uv_mutex_destroy(&m->mu);
        free(m);
        return RK_ENOMEM;
    }
    if (uv_cond_init(&m->cond) != 0) {
        uv_mutex_destroy(&m->wmu);
        uv_mutex_destroy(&m->mu);
        free(m);
        return RK_ENOMEM;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", cfg->path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        rk_mkdirs(dir, 0755);
    }
    rk_file_load_opts_t lo = {cfg->fallback_to_bak, RK_METADATA_FALLBACK_KEY "=true"};
    int rc = rk_file_load(m->path, parse_file, m, &lo, NULL, err, errlen);
    if (rc != RK_OK && rc != -ENOENT) {
        rk_topic_manager_close(m);
        return rc;
    }
    /* TopicConfigManager's built-in topics */
    const int rw = RK_PERM_READ | RK_PERM_WRITE, all = rw | RK_PERM_INHERIT;
    builtin(m, "SELF_TEST_TOPIC", 1, rw);
    if (cfg->auto_create_topic)
        builtin(m, RK_TOPIC_DEFAULT, cfg->default_queue_nums > 0 ? cfg->default_queue_nums : 8, all);
    builtin(m, "BenchmarkTest", 1024, rw);
    builtin(m, cfg->cluster_name, 16, all);
    builtin(m, cfg->broker_name, 1, all);
    builtin(m, "OFFSET_MOVED_EVENT", 1, rw);
    const char *names[] = {"SELF_TEST_TOPIC", RK_TOPIC_DEFAULT, "BenchmarkTest", cfg->cluster_name, cfg->broker_name,
                           "OFFSET_MOVED_EVENT"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {     /* present, counted once */
        bool skip = names[i] == NULL || rk_strmap_get(&m->topics, names[i]) == NULL;
        for (size_t j = 0; j < i && !skip; j++)
            skip = names[j] != NULL && strcmp(names[j], names[i]) == 0;
        if (!skip)
            m->nbuiltin++;
    }
    if (m->flush_ms > 0) {
        if (uv_thread_create(&m->thread, writer, m) != 0) {
            snprintf(err, errlen, "%s: cannot start its writer thread", m->path);
            rk_topic_manager_close(m);
            return RK_ENOMEM;
        }
        m->has_thread = true;
    }
    *out = m;
    return RK_OK;
}

void rk_topic_manager_close(rk_topic_manager_t *m)
{
    if (m == NULL)
        return;
    if (m->has_thread) {
        uv_mutex_lock(&m->mu);
        m->stop = true;
        uv_cond_signal(&m->cond);
        uv_mutex_unlock(&m->mu);
        uv_thread_join(&m->thread);
    }
    flush(m);           /* what the writer had not written yet */
    rk_strmap_free(&m->topics, free);
    uv_cond_destroy(&m->cond);
    uv_mutex_destroy(&m->wmu);
    uv_mutex_destroy(&m->mu);
    free(m);
}

int rk_topic_flush(rk_topic_manager_t *m) { return flush(m); }

int rk_topic_get(rk_topic_manager_t *m, const char *topic, rk_topic_config_t *out)
{
    uv_mutex_lock(&m->mu);
    rk_topic_config_t *t = rk_strmap_get(&m->topics, topic);
    if (t != NULL)
        *out = *t;
    uv_mutex_unlock(&m->mu);
    return t ? RK_OK : RK_ENOTFOUND;
}

int rk_topic_put(rk_topic_manager_t *m, const rk_topic_config_t *cfg)
{
    if (!rk_topic_name_valid(cfg->name) || cfg->read_queues < 0 || cfg->write_queues < 0 ||
        cfg->read_queues > RK_TOPIC_MAX_QUEUES || cfg->write_queues > RK_TOPIC_MAX_QUEUES || cfg->perm < 0 ||
        cfg->perm > RK_PERM_MAX || cfg->sys_flag < 0)
        return RK_EINVAL;
    uv_mutex_lock(&m->mu);
    int rc = put_locked(m, cfg);
    if (rc == RK_OK) {
        bump(m);
        changed_locked(m);
    }
    uv_mutex_unlock(&m->mu);
    if (rc == RK_OK)
        rc = flush(m);      /* an operator's change is on disk when it is answered */
    if (rc == RK_OK)
        rk_log_info("topics", "topic %s: %d read / %d write queues, perm %d", cfg->name, cfg->read_queues,
                    cfg->write_queues, cfg->perm);
    return rc;
}

int rk_topic_get_or_create_in_send(rk_topic_manager_t *m, const char *topic, const char *default_topic,
                                   int32_t queue_nums, rk_topic_config_t *out, bool *created)
{
    *created = false;
    if (!rk_topic_name_valid(topic))
        return RK_EINVAL;
    uv_mutex_lock(&m->mu);
    int rc = RK_OK;
    rk_topic_config_t *t = rk_strmap_get(&m->topics, topic);
    if (t == NULL) {
        rk_topic_config_t *def = default_topic ? rk_strmap_get(&m->topics, default_topic) : NULL;
        if (def == NULL || !(def->perm & RK_PERM_INHERIT)) {
            rc = RK_ENOTFOUND;
        } else if (m->auto_create_max > 0 && m->topics.len - m->nbuiltin >= (size_t)m->auto_create_max) {
            rc = RK_EFULL;
        } else {
            rk_topic_config_t c = {.perm = def->perm & ~RK_PERM_INHERIT};
            snprintf(c.name, sizeof c.name, "%s", topic);
            int32_t q = queue_nums > 0 && queue_nums < def->write_queues ? queue_nums : def->write_queues;
            c.read_queues = c.write_queues = q;
            if ((rc = put_locked(m, &c)) == RK_OK) {
                bump(m);
                changed_locked(m);  /* written by the writer thread, batched */
                *created = true;
                t = rk_strmap_get(&m->topics, topic);
            }
        }
    }
    if (rc == RK_OK && t != NULL)
        *out = *t;
    uv_mutex_unlock(&m->mu);
    if (*created && !m->has_thread)
        flush(m);
    if (*created)
        rk_log_info("topics", "auto-created topic %s from %s with %d queues", topic, default_topic,
                    out->write_queues);
    return rc;
}

void rk_topic_data_version(rk_topic_manager_t *m, int64_t *counter, int64_t *timestamp)
{
    uv_mutex_lock(&m->mu);
    *counter = m->dv_counter;
    *timestamp = m->dv_ts;
    uv_mutex_unlock(&m->mu);
}

char *rk_topic_encode(rk_topic_manager_t *m, bool pretty)
{
    uv_mutex_lock(&m->mu);
    cJSON *root = wrapper_json(m);
    uv_mutex_unlock(&m->mu);
    char *s = rk_json_print(root, pretty ? RK_JSON_PRETTY : 0);
    cJSON_Delete(root);
    return s;
}

char *rk_topic_register_body(rk_topic_manager_t *m)
{
    uv_mutex_lock(&m->mu);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddArrayToObject(body, "filterServerList");
    cJSON_AddItemToObject(body, "topicConfigSerializeWrapper", wrapper_json(m));
    uv_mutex_unlock(&m->mu);
    char *s = rk_json_print(body, 0);
    cJSON_Delete(body);
    return s;
}
