/* topic_config.c — the broker's topic table, persisted as RocketMQ's topics.json (see rk/topic_config.h). */
#include "rk/topic_config.h"

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

struct rk_topic_manager {
    char path[4096];
    uv_mutex_t mu;
    rk_strmap_t topics;         /* name -> rk_topic_config_t* */
    int64_t dv_counter, dv_ts;
    size_t nbuiltin;            /* built-in topics in the table (not counted by autoCreateTopicMax) */
    size_t nretry;              /* %RETRY% topics in the table (counted by retry_create_max instead) */
    int64_t auto_create_max;    /* 0: no bound */
    int64_t retry_create_max;   /* 0: no bound */
    rk_batch_writer_t *writer;  /* topics.json, batched (rk/batch_writer.h); never called with mu held */
    rk_strmap_t adopted;        /* names of the topics rk_topic_adopt made (values unused) */
};

static bool is_retry(const char *name) { return strncmp(name, RK_RETRY_PREFIX, strlen(RK_RETRY_PREFIX)) == 0; }

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

/* The file's text (rk_batch_encode_fn): rk_topic_encode, pretty. */
static char *encode_file(void *owner) { return rk_topic_encode(owner, true); }

static void bump(rk_topic_manager_t *m)
{
    m->dv_counter++;
    m->dv_ts = rk_now_ms();
}

/* Under mu: may one more topic named name be created automatically? A
 * %RETRY% topic counts against retry_create_max, any other against
 * auto_create_max (built-in topics against neither). */
static bool room_locked(const rk_topic_manager_t *m, const char *name)
{
    if (is_retry(name))
        return m->retry_create_max <= 0 || m->nretry < (size_t)m->retry_create_max;
    size_t others = m->topics.len - m->nbuiltin - m->nretry;
    return m->auto_create_max <= 0 || others < (size_t)m->auto_create_max;
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
        if (is_retry(cfg->name))
            m->nretry++;
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
    rk_strmap_init(&m->adopted);
    m->auto_create_max = cfg->auto_create_max;
    m->retry_create_max = cfg->retry_create_max;
    if (uv_mutex_init(&m->mu) != 0) {
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
    if (rk_batch_writer_new(m->path, "topics", cfg->flush_interval_ms, encode_file, m, &m->writer) != RK_OK) {
        snprintf(err, errlen, "%s: cannot start its writer thread", m->path);
        rk_topic_manager_close(m);
        return RK_ENOMEM;
    }
    *out = m;
    return RK_OK;
}

void rk_topic_manager_close(rk_topic_manager_t *m)
{
    if (m == NULL)
        return;
    rk_batch_writer_free(m->writer);     /* writes what was not written yet */
    rk_strmap_free(&m->topics, free);
    rk_strmap_free(&m->adopted, NULL);
    uv_mutex_destroy(&m->mu);
    free(m);
}

int rk_topic_flush(rk_topic_manager_t *m) { return rk_batch_writer_flush(m->writer); }

int rk_topic_get(rk_topic_manager_t *m, const char *topic, rk_topic_config_t *out)
{
    uv_mutex_lock(&m->mu);
    rk_topic_config_t *t = rk_strmap_get(&m->topics, topic);
    if (t != NULL)
        *out = *t;
    uv_mutex_unlock(&m->mu);
    return t ? RK_OK : RK_ENOTFOUND;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int rk_topic_list(rk_topic_manager_t *m, const char *after, int max, rk_topic_config_t *out, bool *more)
{
    if (more != NULL)
        *more = false;
    if (max <= 0)
        return max < 0 ? RK_EINVAL : 0;
    uv_mutex_lock(&m->mu);
    const char **names = m->topics.len ? malloc(m->topics.len * sizeof *names) : NULL;
    if (m->topics.len && names == NULL) {
        uv_mutex_unlock(&m->mu);
        return RK_ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < m->topics.nbuckets; i++)
        for (rk_strmap_entry_t *e = m->topics.buckets[i]; e; e = e->next)
            if (after == NULL || strcmp(e->key, after) > 0)
                names[n++] = e->key;
    qsort(names, n, sizeof *names, cmp_name);
    int k = 0;
    for (; k < max && (size_t)k < n; k++)
        out[k] = *(const rk_topic_config_t *)rk_strmap_get(&m->topics, names[k]);
    if (more != NULL)
        *more = (size_t)k < n;
    uv_mutex_unlock(&m->mu);
    free(names);
    return k;
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
        rk_strmap_remove(&m->adopted, cfg->name);   /* an operator's or the master's config now */
    }
    uv_mutex_unlock(&m->mu);
    if (rc == RK_OK && (rc = rk_batch_writer_changed(m->writer)) == RK_OK)
        rc = rk_batch_writer_flush(m->writer);  /* an operator's change is on disk when it is answered */
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
        } else if (!room_locked(m, topic)) {
            rc = RK_EFULL;
        } else {
            rk_topic_config_t c = {.perm = def->perm & ~RK_PERM_INHERIT};
            snprintf(c.name, sizeof c.name, "%s", topic);
            int32_t q = queue_nums > 0 && queue_nums < def->write_queues ? queue_nums : def->write_queues;
            c.read_queues = c.write_queues = q;
            if ((rc = put_locked(m, &c)) == RK_OK) {
                bump(m);
                *created = true;
                t = rk_strmap_get(&m->topics, topic);
            }
        }
    }
    if (rc == RK_OK && t != NULL)
        *out = *t;
    uv_mutex_unlock(&m->mu);
    if (*created) {
        rk_batch_writer_changed(m->writer);    /* written by the writer thread, batched */
        rk_log_info("topics", "auto-created topic %s from %s with %d queues", topic, default_topic,
                    out->write_queues);
    }
    return rc;
}

int rk_topic_create_retry(rk_topic_manager_t *m, const char *topic, bool *created)
{
    *created = false;
    if (!rk_topic_name_valid(topic) || !is_retry(topic))
        return RK_EINVAL;
    uv_mutex_lock(&m->mu);
    int rc = RK_OK;
    if (rk_strmap_get(&m->topics, topic) == NULL) {
        rk_topic_config_t c = {.read_queues = 1, .write_queues = 1, .perm = RK_PERM_READ | RK_PERM_WRITE};
        snprintf(c.name, sizeof c.name, "%s", topic);
        if (!room_locked(m, topic))
            rc = RK_EFULL;
        else if ((rc = put_locked(m, &c)) == RK_OK) {
            bump(m);
            *created = true;
        }
    }
    uv_mutex_unlock(&m->mu);
    if (*created) {
        rk_batch_writer_changed(m->writer);
        rk_log_info("topics", "created retry topic %s", topic);
    }
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

int rk_topic_delete(rk_topic_manager_t *m, const char *topic)
{
    uv_mutex_lock(&m->mu);
    rk_topic_config_t *t = rk_strmap_remove(&m->topics, topic);
    rk_strmap_remove(&m->adopted, topic);
    if (t != NULL) {
        if (is_retry(topic) && m->nretry > 0)
            m->nretry--;
        bump(m);
    }
    uv_mutex_unlock(&m->mu);
    if (t == NULL)
        return RK_ENOTFOUND;
    free(t);
    int rc = rk_batch_writer_changed(m->writer);
    if (rc == RK_OK)
        rc = rk_batch_writer_flush(m->writer);
    rk_log_info("topics", "topic %s deleted", topic);
    return rc;
}

void rk_topic_set_auto_create_max(rk_topic_manager_t *m, int64_t max)
{
    uv_mutex_lock(&m->mu);
    m->auto_create_max = max > 0 ? max : 0;
    uv_mutex_unlock(&m->mu);
}

int64_t rk_topic_get_auto_create_max(rk_topic_manager_t *m)
{
    uv_mutex_lock(&m->mu);
    int64_t v = m->auto_create_max;
    uv_mutex_unlock(&m->mu);
    return v;
}

int rk_topic_adopt(rk_topic_manager_t *m, const char *topic, int32_t queues, int32_t *have, bool *changed)
{
    *changed = false;
    *have = 0;
    if (!rk_topic_name_valid(topic) || queues <= 0 || queues > RK_TOPIC_MAX_QUEUES)
        return RK_EINVAL;
    uv_mutex_lock(&m->mu);
    int rc = RK_OK;
    rk_topic_config_t *t = rk_strmap_get(&m->topics, topic);
    if (t != NULL && (t->read_queues >= queues || rk_strmap_get(&m->adopted, topic) == NULL)) {
        *have = t->read_queues;             /* enough queues, or the table's own config */
    } else {
        rk_topic_config_t c = {.read_queues = queues, .write_queues = queues, .perm = RK_PERM_READ | RK_PERM_WRITE};
        if (t != NULL)
            c = *t;
        c.read_queues = c.write_queues = queues;
        snprintf(c.name, sizeof c.name, "%s", topic);
        if ((rc = put_locked(m, &c)) == RK_OK && (rc = rk_strmap_put(&m->adopted, topic, m, NULL)) == RK_OK) {
            bump(m);
            *changed = true;
            *have = queues;
        }
    }
    uv_mutex_unlock(&m->mu);
    if (*changed)
        rk_batch_writer_changed(m->writer);
    return rc;
}
