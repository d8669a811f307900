/* consumer_offset.c — the topic@group → queue → next offset table and its
 * consumerOffset.json persistence (see rk/consumer_offset.h). */
#include "rk/consumer_offset.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/grow.h"
#include "rk/json.h"
#include "rk/log.h"
#include "rk/store_config.h"
#include "rk/strmap.h"

/* One "topic@group": a dense array indexed by queue id, -1 = no offset. */
typedef struct group_offsets {
    int64_t *off;
    int n;
} group_offsets_t;

struct rk_consumer_offsets {
    pthread_mutex_t mu;
    pthread_mutex_t persist_mu;     /* one writer of path.tmp at a time */
    rk_strmap_t table;          /* "topic@group" -> group_offsets_t* */
    char *path;
    uint64_t version;           /* bumped by every change */
    uint64_t persisted;         /* version last written */
};

static void group_free(void *p)
{
    group_offsets_t *g = p;
    if (g) {
        free(g->off);
        free(g);
    }
}

static int make_key(char *out, size_t len, const char *group, const char *topic)
{
    int n = snprintf(out, len, "%s@%s", topic, group);
    return (n < 0 || (size_t)n >= len) ? RK_ETOOBIG : RK_OK;
}

/* Sets table[key][qid] = off; the caller holds the lock (or owns the table). */
static int table_set(rk_strmap_t *t, const char *key, int qid, int64_t off)
{
    if (qid < 0 || qid > RK_MAX_QUEUE_ID)
        return RK_EINVAL;
    group_offsets_t *g = rk_strmap_get(t, key);
    if (g == NULL) {
        g = calloc(1, sizeof *g);
        if (g == NULL)
            return RK_ENOMEM;
        int rc = rk_strmap_put(t, key, g, NULL);
        if (rc != RK_OK) {
            free(g);
            return rc;
        }
    }
    if (qid >= g->n) {
        int had = g->n;
        if (RK_GROW(g->off, g->n, qid + 1, 8) != RK_OK)
            return RK_ENOMEM;
        for (int i = had; i < g->n; i++)
            g->off[i] = -1;         /* no offset yet */
    }
    g->off[qid] = off;
    return RK_OK;
}

/* Decimal integer, nothing else (no suffixes: offsets are not sizes). */
static int parse_int_strict(const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return RK_EINVAL;
    *out = v;
    return RK_OK;
}

/* The largest offset a consumerOffset.json entry may hold: 2^53, past which
 * a JSON number (a double) is no longer read exactly; far past what a queue
 * of 20-byte units can reach. */
#define MAX_FILE_OFFSET 9007199254740992LL

/* Parses text into a fresh table t (init'ed by the caller). `src` names
 * where the text came from, for the ERROR line naming a bad entry. */
static int parse_into(rk_strmap_t *t, const char *text, size_t len, const char *src)
{
    if (len == 0)
        return RK_ECORRUPT;
    cJSON *root = rk_json_parse(text, len);
    if (root == NULL || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return RK_ECORRUPT;
    }
    int rc = RK_OK;
    /* rocklet and RocketMQ always write offsetTable: a document without one
     * is not an empty table (loading it would reset every group) */
    const cJSON *tbl = cJSON_GetObjectItemCaseSensitive(root, "offsetTable");
    if (!cJSON_IsObject(tbl))
        rc = RK_ECORRUPT;
    const cJSON *ge;
    cJSON_ArrayForEach(ge, tbl) {
        if (rc != RK_OK)
            break;
        if (!cJSON_IsObject(ge) || ge->string == NULL || strchr(ge->string, '@') == NULL) {
            rc = RK_ECORRUPT;
            break;
        }
        const cJSON *qe;
        cJSON_ArrayForEach(qe, ge) {
            char *end = NULL;
            long qid = strtol(qe->string, &end, 10);
            char *sv = rk_json_to_string(qe);
            int64_t off = 0;
            /* an offset is an integer in [-1, 2^53]; -1 is RocketMQ's "none" */
            const char *bad = *end != '\0' || end == qe->string || qid < 0 || qid > RK_MAX_QUEUE_ID
                                  ? "queue id is not one"
                              : sv == NULL || parse_int_strict(sv, &off) != RK_OK
                                  ? "offset is not an integer"
                              : off < -1 ? "offset is negative (only -1, none, may be)"
                              : off > MAX_FILE_OFFSET ? "offset is out of range" : NULL;
            if (bad != NULL) {
                rk_log_error("offsets", "%s: entry \"%s\" queue %s: %s (%s): the file is invalid",
                             src, ge->string, qe->string, bad, sv ? sv : "?");
                free(sv);
                rc = RK_ECORRUPT;
                break;
            }
            free(sv);
            rc = table_set(t, ge->string, (int)qid, off);
            if (rc != RK_OK)
                break;
        }
        /* a group with no queues yet is kept, as RocketMQ keeps it */
        if (rc == RK_OK && rk_strmap_get(t, ge->string) == NULL) {
            group_offsets_t *g = calloc(1, sizeof *g);
            if (g == NULL || rk_strmap_put(t, ge->string, g, NULL) != RK_OK) {
                free(g);
                rc = RK_ENOMEM;
            }
        }
    }
    cJSON_Delete(root);
    return rc;
}

typedef struct parse_ctx {
    rk_strmap_t *dst;
    const char *src;
} parse_ctx_t;

static int parse_cb(const char *text, size_t len, void *ctx)
{
    parse_ctx_t *pc = ctx;
    rk_strmap_t tmp;
    rk_strmap_init(&tmp);
    int rc = parse_into(&tmp, text, len, pc->src);
    if (rc != RK_OK) {
        rk_strmap_free(&tmp, group_free);
        return rc;
    }
    rk_strmap_free(pc->dst, group_free);
    *pc->dst = tmp;
    return RK_OK;
}

int rk_consumer_offsets_open(const char *path, rk_consumer_offsets_t **out)
{
    return rk_consumer_offsets_open_opts(path, false, NULL, 0, out);
}

int rk_consumer_offsets_open_opts(const char *path, bool fallback_to_bak, char *err, size_t errlen,
                                  rk_consumer_offsets_t **out)
{
    *out = NULL;
    rk_consumer_offsets_t *co = calloc(1, sizeof *co);
    if (co == NULL)
        return RK_ENOMEM;
    co->path = strdup(path);
    if (co->path == NULL) {
        free(co);
        return RK_ENOMEM;
    }
    rk_strmap_init(&co->table);
    int rc = pthread_mutex_init(&co->mu, NULL);
    if (rc == 0 && (rc = pthread_mutex_init(&co->persist_mu, NULL)) != 0)
        pthread_mutex_destroy(&co->mu);
    if (rc != 0) {
        free(co->path);
        free(co);
        return -rc;
    }
    bool used_bak = false;
    rk_file_load_opts_t lo = {fallback_to_bak, RK_METADATA_FALLBACK_KEY "=true"};
    parse_ctx_t pc = {&co->table, path};
    rc = rk_file_load(path, parse_cb, &pc, &lo, &used_bak, err, errlen);
    if (rc == -ENOENT) {
        rc = RK_OK;
    } else if (rc != RK_OK) {
        rk_consumer_offsets_close(co);
        return rc;
    }
    if (used_bak) /* rewrite a good main file at the next persist */
        co->version = 1;
    rk_log_info("offsets", "loaded %zu topic@group entries from %s%s", co->table.len, path,
                used_bak ? ".bak" : "");
    *out = co;
    return RK_OK;
}

void rk_consumer_offsets_close(rk_consumer_offsets_t *co)
{
    if (co == NULL)
        return;
    rk_strmap_free(&co->table, group_free);
    pthread_mutex_destroy(&co->persist_mu);
    pthread_mutex_destroy(&co->mu);
    free(co->path);
    free(co);
}

int rk_consumer_offsets_commit(rk_consumer_offsets_t *co, const char *group,
                               const char *topic, int qid, int64_t offset)
{
    char key[512];
    int rc = make_key(key, sizeof key, group, topic);
    if (rc != RK_OK)
        return rc;
    if (offset < 0)
        return RK_EINVAL;
    pthread_mutex_lock(&co->mu);
    rc = table_set(&co->table, key, qid, offset);
    if (rc == RK_OK)
        co->version++;
    pthread_mutex_unlock(&co->mu);
    return rc;
}

int64_t rk_consumer_offsets_query(rk_consumer_offsets_t *co, const char *group,
                                  const char *topic, int qid)
{
    char key[512];
    if (make_key(key, sizeof key, group, topic) != RK_OK || qid < 0)
        return -1;
    int64_t v = -1;
    pthread_mutex_lock(&co->mu);
    group_offsets_t *g = rk_strmap_get(&co->table, key);
    if (g && qid < g->n)
        v = g->off[qid];
    pthread_mutex_unlock(&co->mu);
    return v;
}

int rk_consumer_offsets_remove(rk_consumer_offsets_t *co, const char *group, const char *topic)
{
    char key[512];
    int rc = make_key(key, sizeof key, group, topic);
    if (rc != RK_OK)
        return rc;
    pthread_mutex_lock(&co->mu);
    group_offsets_t *g = rk_strmap_remove(&co->table, key);
    if (g)
        co->version++;
    pthread_mutex_unlock(&co->mu);
    group_free(g);
    return g ? RK_OK : RK_ENOTFOUND;
}

/* Builds the JSON text; the caller holds the lock. */
static char *encode_locked(rk_consumer_offsets_t *co)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *tbl = root ? cJSON_AddObjectToObject(root, "offsetTable") : NULL;
    if (tbl == NULL) {
        cJSON_Delete(root);
        return NULL;
    }
    size_t n = 0;
    const char **keys = rk_strmap_keys_sorted(&co->table, &n);
    if (keys == NULL && n == 0 && co->table.len != 0) {
        cJSON_Delete(root);
        return NULL;
    }
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        group_offsets_t *g = rk_strmap_get(&co->table, keys[i]);
        cJSON *ge = cJSON_AddObjectToObject(tbl, keys[i]);
        if (ge == NULL) {
            ok = false;
            break;
        }
        for (int q = 0; q < g->n; q++) {
            if (g->off[q] < 0)
                continue;
            char qk[16];
            snprintf(qk, sizeof qk, "%d", q);
            if (rk_json_add_i64(ge, qk, g->off[q]) == NULL) {
                ok = false;
                break;
            }
        }
    }
    free(keys);
    char *s = ok ? rk_json_print(root, RK_JSON_PRETTY | RK_JSON_BARE_INT_KEYS) : NULL;
    cJSON_Delete(root);
    return s;
}

char *rk_consumer_offsets_encode(rk_consumer_offsets_t *co)
{
    pthread_mutex_lock(&co->mu);
    char *s = encode_locked(co);
    pthread_mutex_unlock(&co->mu);
    return s;
}

int rk_consumer_offsets_decode(rk_consumer_offsets_t *co, const char *text, size_t len)
{
    pthread_mutex_lock(&co->mu);
    parse_ctx_t pc = {&co->table, "consumer offsets"};
    int rc = parse_cb(text, len, &pc);
    if (rc == RK_OK)
        co->version++;
    pthread_mutex_unlock(&co->mu);
    return rc;
}

int rk_consumer_offsets_persist(rk_consumer_offsets_t *co, bool force)
{
    pthread_mutex_lock(&co->persist_mu);
    pthread_mutex_lock(&co->mu);
    if (!force && co->version == co->persisted) {
        pthread_mutex_unlock(&co->mu);
        pthread_mutex_unlock(&co->persist_mu);
        return RK_OK;
    }
    uint64_t ver = co->version;
    char *text = encode_locked(co);
    pthread_mutex_unlock(&co->mu);
    if (text == NULL) {
        pthread_mutex_unlock(&co->persist_mu);
        return RK_ENOMEM;
    }
    /* Written outside the table lock: commits continue while the disk
     * works; persist_mu keeps two persists from racing on path.tmp. */
    int rc = rk_file_write_atomic(co->path, text, strlen(text));
    free(text);
    if (rc != RK_OK) {
        rk_log_error("offsets", "persist %s: %s", co->path, rk_strerror(rc));
        pthread_mutex_unlock(&co->persist_mu);
        return rc;
    }
    pthread_mutex_lock(&co->mu);
    if (co->persisted < ver)
        co->persisted = ver;
    pthread_mutex_unlock(&co->mu);
    pthread_mutex_unlock(&co->persist_mu);
    return RK_OK;
}

int rk_consumer_offsets_foreach(rk_consumer_offsets_t *co, rk_consumer_offset_visit_fn fn, void *ctx)
{
    pthread_mutex_lock(&co->mu);
    size_t n = 0;
    const char **keys = rk_strmap_keys_sorted(&co->table, &n);
    int rc = (keys == NULL && co->table.len != 0) ? RK_ENOMEM : RK_OK;
    for (size_t i = 0; i < n && rc == RK_OK; i++) {
        group_offsets_t *g = rk_strmap_get(&co->table, keys[i]);
        for (int q = 0; q < g->n && rc == RK_OK; q++)
            if (g->off[q] >= 0)
                rc = fn(keys[i], q, g->off[q], ctx);
    }
    free(keys);
    pthread_mutex_unlock(&co->mu);
    return rc;
}

typedef struct of_group {
    const char *group;
    const char **keys;
    size_t n, cap;
    int err;
} of_group_t;

static int pick_group_key(const char *key, void *value, void *ctx)
{
    (void)value;
    of_group_t *x = ctx;
    /* "topic@group": a topic has no '@' (rk_topic_name_valid), a group may */
    const char *at = strchr(key, '@');
    if (at == NULL || at == key || strcmp(at + 1, x->group) != 0)
        return 0;
    if (RK_GROW(x->keys, x->cap, x->n + 1, 16) != RK_OK) {
        x->err = RK_ENOMEM;
        return 1;
    }
    x->keys[x->n++] = key;
    return 0;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int rk_consumer_offsets_foreach_of_group(rk_consumer_offsets_t *co, const char *group,
                                         rk_consumer_offset_visit_fn fn, void *ctx)
{
    of_group_t x = {.group = group};
    pthread_mutex_lock(&co->mu);
    rk_strmap_foreach(&co->table, pick_group_key, &x);
    int rc = x.err;
    if (rc == RK_OK && x.n > 1)
        qsort(x.keys, x.n, sizeof *x.keys, cmp_key);
    for (size_t i = 0; i < x.n && rc == RK_OK; i++) {
        group_offsets_t *g = rk_strmap_get(&co->table, x.keys[i]);
        for (int q = 0; q < g->n && rc == RK_OK; q++)
            if (g->off[q] >= 0)
                rc = fn(x.keys[i], q, g->off[q], ctx);
    }
    pthread_mutex_unlock(&co->mu);
    free(x.keys);
    return rc;
}
