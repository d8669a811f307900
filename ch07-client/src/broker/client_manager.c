/* client_manager.c — HeartbeatData parsing and the consumer/producer group tables (see rk/client_manager.h). */
#include "rk/client_manager.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "rk/error.h"
#include "rk/grow.h"
#include "rk/hash.h"
#include "rk/json.h"
#include "rk/strmap.h"

/* ------------------------------------------------------------ parsing */

static int enum_value(const cJSON *o, const char *key, const char *const *names, const int *values, int n, int def)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNumber(it)) {               /* client-cpp sends ordinals */
        for (int i = 0; i < n; i++)         /* compared as doubles: no cast of 1e300 */
            if (it->valuedouble == (double)values[i])
                return values[i];
        return def;
    }
    if (cJSON_IsString(it))
        for (int i = 0; i < n; i++)
            if (strcmp(it->valuestring, names[i]) == 0)
                return values[i];
    return def;
}

void rk_subscription_free(rk_subscription_t *s)
{
    free(s->topic);
    free(s->sub_string);
    free(s->expression_type);
    for (size_t i = 0; i < s->ntags; i++)
        free(s->tags[i]);
    free(s->tags);
    free(s->codes);
    memset(s, 0, sizeof *s);
}

void rk_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n && v; i++)
        free(v[i]);
    free(v);
}

/* Makes room for one more tag: the arrays double when full (one realloc
 * per tag was quadratic with a copying allocator: 118 s for 100 000 tags
 * under ASan). */
static int add_tag(rk_subscription_t *s, const char *tag, size_t len)
{
    size_t tcap = s->tags_cap, ccap = s->tags_cap;     /* one capacity for both arrays */
    if (RK_GROW(s->tags, tcap, s->ntags + 1, 4) != RK_OK || RK_GROW(s->codes, ccap, s->ntags + 1, 4) != RK_OK)
        return RK_ENOMEM;
    s->tags_cap = tcap;
    if ((s->tags[s->ntags] = strndup(tag, len)) == NULL)
        return RK_ENOMEM;
    s->codes[s->ntags++] = rk_java_hash(tag, len);
    return RK_OK;
}

/* "a || b" -> tags a, b (as the Java client's FilterAPI builds them). */
static int tags_from_string(rk_subscription_t *s)
{
    const char *p = s->sub_string;
    if (p == NULL || strcmp(p, "*") == 0 || *p == '\0')
        return RK_OK;
    while (*p) {
        const char *bar = strstr(p, "||");
        const char *end = bar ? bar : p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && isspace((unsigned char)*a)) a++;
        while (b > a && isspace((unsigned char)b[-1])) b--;
        if (b > a && s->ntags >= RK_HEARTBEAT_MAX_TAGS)
            return RK_ETOOBIG;
        if (b > a && add_tag(s, a, (size_t)(b - a)) != RK_OK)
            return RK_ENOMEM;
        p = bar ? bar + 2 : end;
    }
    return RK_OK;
}

static int parse_sub(const cJSON *o, rk_subscription_t *s)
{
    memset(s, 0, sizeof *s);
    s->topic = rk_json_get_strdup(o, "topic");
    s->sub_string = rk_json_get_strdup(o, "subString");
    s->expression_type = rk_json_get_strdup(o, "expressionType");
    if (s->topic == NULL)
        return RK_EPROTO;
    if (s->sub_string == NULL && (s->sub_string = strdup("*")) == NULL)
        return RK_ENOMEM;
    if (s->expression_type == NULL && (s->expression_type = strdup("TAG")) == NULL)
        return RK_ENOMEM;
    rk_json_get_i64(o, "subVersion", &s->sub_version);    /* number or string */
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(o, "tagsSet");
    if (cJSON_IsArray(tags) && cJSON_GetArraySize(tags) > 0) {
        if (cJSON_GetArraySize(tags) > RK_HEARTBEAT_MAX_TAGS)
            return RK_ETOOBIG;
        for (const cJSON *t = tags->child; t; t = t->next)
            if (cJSON_IsString(t) && add_tag(s, t->valuestring, strlen(t->valuestring)) != RK_OK)
                return RK_ENOMEM;
        return RK_OK;
    }
    return tags_from_string(s);
}

void rk_heartbeat_free(rk_heartbeat_t *hb)
{
    free(hb->client_id);
    rk_strv_free(hb->producer_groups, hb->nproducers);
    for (size_t i = 0; i < hb->nconsumers; i++) {
        free(hb->consumers[i].group);
        for (size_t j = 0; j < hb->consumers[i].nsubs; j++)
            rk_subscription_free(&hb->consumers[i].subs[j]);
        free(hb->consumers[i].subs);
    }
    free(hb->consumers);
    memset(hb, 0, sizeof *hb);
}

static void say(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t whylen, const char *fmt, ...)
{
    if (why == NULL || whylen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

int rk_heartbeat_parse(const void *body, size_t len, rk_heartbeat_t *out)
{
    return rk_heartbeat_parse_why(body, len, out, NULL, 0);
}

int rk_heartbeat_parse_why(const void *body, size_t len, rk_heartbeat_t *out, char *why, size_t whylen)
{
    static const char *const ctype[] = {"CONSUME_ACTIVELY", "CONSUME_PASSIVELY"};
    static const int ctype_v[] = {0, 1};
    static const char *const model[] = {"BROADCASTING", "CLUSTERING"};
    static const int model_v[] = {0, 1};
    static const char *const from[] = {"CONSUME_FROM_LAST_OFFSET", "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
                                       "CONSUME_FROM_MIN_OFFSET", "CONSUME_FROM_MAX_OFFSET",
                                       "CONSUME_FROM_FIRST_OFFSET", "CONSUME_FROM_TIMESTAMP"};
    static const int from_v[] = {0, 1, 2, 3, 4, 5};
    memset(out, 0, sizeof *out);
    if (why != NULL && whylen > 0)
        why[0] = '\0';
    cJSON *root = body ? rk_json_parse(body, len) : NULL;
    int rc = RK_OK;
    if (root == NULL || (out->client_id = rk_json_get_strdup(root, "clientID")) == NULL) {
        cJSON_Delete(root);
        say(why, whylen, "not a HeartbeatData body (JSON with a clientID)");
        return RK_EPROTO;
    }
    /* the caps are checked before anything is allocated for them */
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(root, "producerDataSet");
    int np = cJSON_IsArray(ps) ? cJSON_GetArraySize(ps) : 0;
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(root, "consumerDataSet");
    int nc = cJSON_IsArray(cs) ? cJSON_GetArraySize(cs) : 0;
    if (np > RK_HEARTBEAT_MAX_PRODUCER_GROUPS) {
        say(why, whylen, "%d producer groups in one heartbeat, at most %d", np, RK_HEARTBEAT_MAX_PRODUCER_GROUPS);
        rc = RK_ETOOBIG;
    } else if (nc > RK_HEARTBEAT_MAX_CONSUMER_GROUPS) {
        say(why, whylen, "%d consumer groups in one heartbeat, at most %d", nc, RK_HEARTBEAT_MAX_CONSUMER_GROUPS);
        rc = RK_ETOOBIG;
    }
    if (rc == RK_OK && np > 0 && (out->producer_groups = calloc((size_t)np, sizeof(char *))) == NULL)
        rc = RK_ENOMEM;
    for (const cJSON *p = np ? ps->child : NULL; p && rc == RK_OK; p = p->next) {
        char *g = rk_json_get_strdup(p, "groupName");
        if (g != NULL)
            out->producer_groups[out->nproducers++] = g;
    }
    if (rc == RK_OK && nc > 0 && (out->consumers = calloc((size_t)nc, sizeof *out->consumers)) == NULL)
        rc = RK_ENOMEM;
    for (const cJSON *c = nc ? cs->child : NULL; c && rc == RK_OK; c = c->next) {
        rk_consumer_data_t *cd = &out->consumers[out->nconsumers];
        if ((cd->group = rk_json_get_strdup(c, "groupName")) == NULL)
            continue;
        out->nconsumers++;
        cd->consume_type = enum_value(c, "consumeType", ctype, ctype_v, 2, RK_CONSUME_PASSIVELY);
        cd->message_model = enum_value(c, "messageModel", model, model_v, 2, RK_MODEL_CLUSTERING);
        cd->consume_from_where = enum_value(c, "consumeFromWhere", from, from_v, 6, RK_FROM_LAST_OFFSET);
        const cJSON *subs = cJSON_GetObjectItemCaseSensitive(c, "subscriptionDataSet");
        int ns = cJSON_IsArray(subs) ? cJSON_GetArraySize(subs) : 0;
        if (ns > RK_HEARTBEAT_MAX_SUBSCRIPTIONS) {
            say(why, whylen, "consumer group %.200s: %d subscriptions, at most %d", cd->group, ns,
                RK_HEARTBEAT_MAX_SUBSCRIPTIONS);
            rc = RK_ETOOBIG;
            break;
        }
        if (ns > 0 && (cd->subs = calloc((size_t)ns, sizeof *cd->subs)) == NULL)
            rc = RK_ENOMEM;
        for (const cJSON *s = ns ? subs->child : NULL; s && rc == RK_OK; s = s->next) {
            rc = parse_sub(s, &cd->subs[cd->nsubs]);
            cd->nsubs++;     /* counted even on failure so it is freed */
            if (rc == RK_ETOOBIG)
                say(why, whylen, "consumer group %.200s: a subscription with more than %d tags", cd->group,
                    RK_HEARTBEAT_MAX_TAGS);
        }
    }
    cJSON_Delete(root);
    if (rc != RK_OK)
        rk_heartbeat_free(out);
    if (rc == RK_EPROTO)
        say(why, whylen, "a subscription without a topic");
    return rc;
}

bool rk_subscription_matches(const rk_subscription_t *s, const char *tag)
{
    if (s->ntags == 0)
        return true;        /* "*" */
    if (tag == NULL)
        return false;
    for (size_t i = 0; i < s->ntags; i++)
        if (strcmp(s->tags[i], tag) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------ group tables */

typedef struct {
    char *id;
    uint64_t conn;
    int64_t last_ms;
    char addr[64];              /* where its last heartbeat came from (admin requests list it) */
    int language;
    int32_t version;
} client_t;

typedef struct {
    client_t *clients;
    size_t n, cap;
    rk_subscription_t *subs;
    size_t nsubs;
    int consume_type, message_model, consume_from_where;    /* of the newest heartbeat */
} group_t;

struct rk_client_manager {
    uv_mutex_t mu;
    int64_t expire_ms;
    rk_strmap_t consumers;      /* group -> group_t */
    rk_strmap_t producers;      /* group -> group_t (no subscriptions) */
};

static void group_free(void *p)
{
    group_t *g = p;
    for (size_t i = 0; i < g->n; i++)
        free(g->clients[i].id);
    free(g->clients);
    for (size_t i = 0; i < g->nsubs; i++)
        rk_subscription_free(&g->subs[i]);
    free(g->subs);
    free(g);
}

int rk_client_manager_new(int64_t expire_ms, rk_client_manager_t **out)
{
    rk_client_manager_t *m = calloc(1, sizeof *m);
    if (m == NULL || uv_mutex_init(&m->mu) != 0) {
        free(m);
        return RK_ENOMEM;
    }
    m->expire_ms = expire_ms > 0 ? expire_ms : 120000;
    rk_strmap_init(&m->consumers);
    rk_strmap_init(&m->producers);
    *out = m;
    return RK_OK;
}

void rk_client_manager_free(rk_client_manager_t *m)
{
    if (m == NULL)
        return;
    rk_strmap_free(&m->consumers, group_free);
    rk_strmap_free(&m->producers, group_free);
    uv_mutex_destroy(&m->mu);
    free(m);
}

static group_t *group_get(rk_strmap_t *map, const char *name)
{
    group_t *g = rk_strmap_get(map, name);
    if (g == NULL && (g = calloc(1, sizeof *g)) != NULL && rk_strmap_put(map, name, g, NULL) != RK_OK) {
        free(g);
        g = NULL;
    }
    return g;
}

static void client_seen(client_t *c, const rk_heartbeat_t *hb, uint64_t conn, int64_t now)
{
    c->conn = conn;
    c->last_ms = now;
    snprintf(c->addr, sizeof c->addr, "%s", hb->client_addr);
    c->language = hb->language;
    c->version = hb->version;
}

/* Adds or refreshes a client; 1 if it is new, 0 if known, < 0 on error. */
static int touch_client(group_t *g, const rk_heartbeat_t *hb, uint64_t conn, int64_t now)
{
    const char *id = hb->client_id;
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->clients[i].id, id) == 0) {
            client_seen(&g->clients[i], hb, conn, now);
            return 0;
        }
    if (RK_GROW(g->clients, g->cap, g->n + 1, 4) != RK_OK)
        return RK_ENOMEM;
    char *copy = strdup(id);
    if (copy == NULL)
        return RK_ENOMEM;
    g->clients[g->n] = (client_t){.id = copy};
    client_seen(&g->clients[g->n++], hb, conn, now);
    return 1;
}

static int copy_sub(rk_subscription_t *dst, const rk_subscription_t *src)
{
    memset(dst, 0, sizeof *dst);
    dst->topic = strdup(src->topic);
    dst->sub_string = strdup(src->sub_string);
    dst->expression_type = strdup(src->expression_type);
    dst->sub_version = src->sub_version;
    if (!dst->topic || !dst->sub_string || !dst->expression_type)
        return RK_ENOMEM;
    for (size_t i = 0; i < src->ntags; i++)
        if (add_tag(dst, src->tags[i], strlen(src->tags[i])) != RK_OK)
            return RK_ENOMEM;
    return RK_OK;
}

/* The group's subscriptions become this heartbeat's (RocketMQ's
 * ConsumerGroupInfo.updateSubscription: topics no longer listed go), except
 * that a topic's newer subscription (higher subVersion) from another client
 * is kept. Linear: the old ones are found by a hash of their topics. On
 * ENOMEM the group is left as it was. */
static int replace_subs(group_t *g, const rk_consumer_data_t *cd)
{
    rk_strmap_t old, seen;
    rk_strmap_init(&old);
    rk_strmap_init(&seen);
    int rc = RK_OK;
    for (size_t i = 0; i < g->nsubs && rc == RK_OK; i++)
        rc = rk_strmap_put(&old, g->subs[i].topic, &g->subs[i], NULL);
    rk_subscription_t *n = cd->nsubs ? calloc(cd->nsubs, sizeof *n) : NULL;
    if (cd->nsubs && n == NULL)
        rc = RK_ENOMEM;
    size_t k = 0;
    for (size_t j = 0; j < cd->nsubs && rc == RK_OK; j++) {
        const rk_subscription_t *s = &cd->subs[j];
        if (rk_strmap_get(&seen, s->topic) != NULL)
            continue;       /* a topic listed twice: the first one counts */
        if ((rc = rk_strmap_put(&seen, s->topic, (void *)s, NULL)) != RK_OK)
            break;
        const rk_subscription_t *o = rk_strmap_get(&old, s->topic);
        rc = copy_sub(&n[k++], o != NULL && o->sub_version > s->sub_version ? o : s);
    }
    rk_strmap_free(&old, NULL);
    rk_strmap_free(&seen, NULL);
    if (rc != RK_OK) {
        for (size_t i = 0; i < k; i++)
            rk_subscription_free(&n[i]);
        free(n);
        return rc;
    }
    for (size_t i = 0; i < g->nsubs; i++)
        rk_subscription_free(&g->subs[i]);
    free(g->subs);
    g->subs = n;
    g->nsubs = k;
    return RK_OK;
}

int rk_client_manager_heartbeat(rk_client_manager_t *m, const rk_heartbeat_t *hb, uint64_t conn_id,
                                int64_t now_ms, char ***changed, size_t *nchanged)
{
    char **ch = hb->nconsumers ? calloc(hb->nconsumers, sizeof *ch) : NULL;
    size_t nch = 0;
    int rc = RK_OK;
    uv_mutex_lock(&m->mu);
    for (size_t i = 0; i < hb->nproducers && rc == RK_OK; i++) {
        group_t *g = group_get(&m->producers, hb->producer_groups[i]);
        rc = g ? touch_client(g, hb, conn_id, now_ms) : RK_ENOMEM;
        rc = rc > 0 ? RK_OK : rc;
    }
    for (size_t i = 0; i < hb->nconsumers && rc == RK_OK; i++) {
        const rk_consumer_data_t *cd = &hb->consumers[i];
        group_t *g = group_get(&m->consumers, cd->group);
        int t = g ? touch_client(g, hb, conn_id, now_ms) : RK_ENOMEM;
        if (t < 0) {
            rc = t;
            break;
        }
        g->consume_type = cd->consume_type;
        g->message_model = cd->message_model;
        g->consume_from_where = cd->consume_from_where;
        rc = replace_subs(g, cd);
        if (t == 1 && ch != NULL && (ch[nch] = strdup(cd->group)) != NULL)
            nch++;
    }
    uv_mutex_unlock(&m->mu);
    if (changed != NULL) {
        *changed = ch;
        *nchanged = nch;
    } else {
        rk_strv_free(ch, nch);
    }
    return rc;
}

bool rk_client_manager_unregister(rk_client_manager_t *m, const char *group, const char *client_id)
{
    bool found = false;
    uv_mutex_lock(&m->mu);
    group_t *g = rk_strmap_get(&m->consumers, group);
    for (size_t i = 0; g && i < g->n; i++)
        if (strcmp(g->clients[i].id, client_id) == 0) {
            free(g->clients[i].id);
            g->clients[i] = g->clients[--g->n];
            found = true;
            break;
        }
    if (g != NULL && g->n == 0)     /* RocketMQ forgets a group with no client left */
        group_free(rk_strmap_remove(&m->consumers, group));
    uv_mutex_unlock(&m->mu);
    return found;
}

typedef struct {
    uint64_t conn;
    int64_t before;             /* expire clients last heard before this (if conn == 0) */
    char **groups;
    size_t n, cap;
    char **empty;               /* groups left with no client: removed after the walk */
    size_t nempty, capempty;
} sweep_t;

static void note_empty(sweep_t *s, const char *name)
{
    if (RK_GROW(s->empty, s->capempty, s->nempty + 1, 8) != RK_OK)
        return;             /* kept until the next sweep */
    if ((s->empty[s->nempty] = strdup(name)) != NULL)
        s->nempty++;
}

/* Removes the groups note_empty collected from map (under the manager's mutex). */
static void remove_empty(sweep_t *s, rk_strmap_t *map)
{
    for (size_t i = 0; i < s->nempty; i++) {
        group_t *g = rk_strmap_get(map, s->empty[i]);
        if (g != NULL && g->n == 0)
            group_free(rk_strmap_remove(map, s->empty[i]));
    }
    rk_strv_free(s->empty, s->nempty);
    s->empty = NULL;
    s->nempty = s->capempty = 0;
}

static int sweep_group(const char *name, void *value, void *ctx)
{
    sweep_t *s = ctx;
    group_t *g = value;
    bool hit = false;
    for (size_t i = 0; i < g->n;) {
        bool gone = s->conn ? g->clients[i].conn == s->conn : g->clients[i].last_ms < s->before;
        if (gone) {
            free(g->clients[i].id);
            g->clients[i] = g->clients[--g->n];
            hit = true;
        } else {
            i++;
        }
    }
    if (g->n == 0)
        note_empty(s, name);
    if (hit && s->groups != NULL) {     /* producers sweep with groups == NULL */
        if (RK_GROW(s->groups, s->cap, s->n + 1, 8) != RK_OK)
            return 0;
        if ((s->groups[s->n] = strdup(name)) != NULL)
            s->n++;
    }
    return 0;
}

static char **sweep(rk_client_manager_t *m, uint64_t conn, int64_t before, size_t *n)
{
    sweep_t s = {.conn = conn, .before = before};
    s.groups = malloc(8 * sizeof *s.groups);
    s.cap = s.groups ? 8 : 0;
    uv_mutex_lock(&m->mu);
    rk_strmap_foreach(&m->consumers, sweep_group, &s);
    remove_empty(&s, &m->consumers);
    sweep_t p = {.conn = conn, .before = before};
    rk_strmap_foreach(&m->producers, sweep_group, &p);
    remove_empty(&p, &m->producers);
    uv_mutex_unlock(&m->mu);
    *n = s.n;
    if (s.n == 0) {
        free(s.groups);
        return NULL;
    }
    return s.groups;
}

char **rk_client_manager_drop_connection(rk_client_manager_t *m, uint64_t conn_id, size_t *n)
{
    return sweep(m, conn_id, 0, n);
}

char **rk_client_manager_expire(rk_client_manager_t *m, int64_t now_ms, size_t *n)
{
    return sweep(m, 0, now_ms - m->expire_ms, n);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

char **rk_client_manager_consumers(rk_client_manager_t *m, const char *group, size_t *n)
{
    char **v = NULL;
    *n = 0;
    uv_mutex_lock(&m->mu);
    group_t *g = rk_strmap_get(&m->consumers, group);
    if (g != NULL && g->n > 0 && (v = calloc(g->n, sizeof *v)) != NULL)
        for (size_t i = 0; i < g->n; i++)
            if ((v[*n] = strdup(g->clients[i].id)) != NULL)
                (*n)++;
    uv_mutex_unlock(&m->mu);
    if (v != NULL)
        qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

static uint64_t *group_connections(rk_client_manager_t *m, rk_strmap_t *table, const char *group, size_t *n)
{
    uint64_t *v = NULL;
    *n = 0;
    uv_mutex_lock(&m->mu);
    group_t *g = rk_strmap_get(table, group);
    if (g != NULL && g->n > 0 && (v = malloc(g->n * sizeof *v)) != NULL)
        for (size_t i = 0; i < g->n; i++)
            v[(*n)++] = g->clients[i].conn;
    uv_mutex_unlock(&m->mu);
    return v;
}

uint64_t *rk_client_manager_connections(rk_client_manager_t *m, const char *group, size_t *n)
{
    return group_connections(m, &m->consumers, group, n);
}

uint64_t *rk_client_manager_producer_connections(rk_client_manager_t *m, const char *group, size_t *n)
{
    return group_connections(m, &m->producers, group, n);
}

int rk_client_manager_subscription(rk_client_manager_t *m, const char *group, const char *topic,
                                   rk_subscription_t *out)
{
    int rc = RK_ENOTFOUND;
    uv_mutex_lock(&m->mu);
    group_t *g = rk_strmap_get(&m->consumers, group);
    for (size_t i = 0; g && i < g->nsubs; i++)
        if (strcmp(g->subs[i].topic, topic) == 0) {
            rc = copy_sub(out, &g->subs[i]);
            if (rc != RK_OK)
                rk_subscription_free(out);
            break;
        }
    uv_mutex_unlock(&m->mu);
    return rc;
}

/* ------------------------------------------------------------ admin views */

void rk_group_clients_free(rk_group_clients_t *gc)
{
    for (size_t i = 0; i < gc->n; i++)
        free(gc->clients[i].client_id);
    free(gc->clients);
    for (size_t i = 0; i < gc->nsubs; i++)
        rk_subscription_free(&gc->subs[i]);
    free(gc->subs);
    memset(gc, 0, sizeof *gc);
}

int rk_client_manager_group_info(rk_client_manager_t *m, const char *group, bool producer, rk_group_clients_t *out)
{
    memset(out, 0, sizeof *out);
    int rc = RK_OK;
    uv_mutex_lock(&m->mu);
    group_t *g = rk_strmap_get(producer ? &m->producers : &m->consumers, group);
    if (g == NULL || g->n == 0) {
        rc = RK_ENOTFOUND;
        goto out;
    }
    out->consume_type = g->consume_type;
    out->message_model = g->message_model;
    out->consume_from_where = g->consume_from_where;
    if ((out->clients = calloc(g->n, sizeof *out->clients)) == NULL ||
        (g->nsubs && (out->subs = calloc(g->nsubs, sizeof *out->subs)) == NULL)) {
        rc = RK_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < g->n; i++) {
        rk_client_info_t *ci = &out->clients[out->n];
        if ((ci->client_id = strdup(g->clients[i].id)) == NULL) {
            rc = RK_ENOMEM;
            goto out;
        }
        ci->conn = g->clients[i].conn;
        ci->last_ms = g->clients[i].last_ms;
        ci->language = g->clients[i].language;
        ci->version = g->clients[i].version;
        snprintf(ci->addr, sizeof ci->addr, "%s", g->clients[i].addr);
        out->n++;
    }
    for (size_t i = 0; i < g->nsubs; i++) {
        if ((rc = copy_sub(&out->subs[out->nsubs], &g->subs[i])) != RK_OK) {
            rk_subscription_free(&out->subs[out->nsubs]);
            goto out;
        }
        out->nsubs++;
    }
out:
    uv_mutex_unlock(&m->mu);
    if (rc != RK_OK)
        rk_group_clients_free(out);
    return rc;
}

int rk_client_manager_find_client(rk_client_manager_t *m, const char *group, const char *client_id, uint64_t *conn,
                                  int32_t *version)
{
    int rc = RK_ENOTFOUND;
    uv_mutex_lock(&m->mu);
    group_t *g = rk_strmap_get(&m->consumers, group);
    for (size_t i = 0; g && i < g->n; i++)
        if (strcmp(g->clients[i].id, client_id) == 0) {
            *conn = g->clients[i].conn;
            if (version != NULL)
                *version = g->clients[i].version;
            rc = RK_OK;
            break;
        }
    uv_mutex_unlock(&m->mu);
    return rc;
}

typedef struct {
    const char *topic;
    char **v;
    size_t n, cap;
    int rc;
} by_topic_t;

static int group_of_topic(const char *name, void *value, void *ctx)
{
    by_topic_t *x = ctx;
    group_t *g = value;
    for (size_t i = 0; i < g->nsubs; i++)
        if (strcmp(g->subs[i].topic, x->topic) == 0) {
            if (RK_GROW(x->v, x->cap, x->n + 1, 8) != RK_OK) {
                x->rc = RK_ENOMEM;
                return 1;
            }
            if ((x->v[x->n] = strdup(name)) == NULL) {
                x->rc = RK_ENOMEM;
                return 1;
            }
            x->n++;
            break;
        }
    return 0;
}

char **rk_client_manager_groups_of_topic(rk_client_manager_t *m, const char *topic, size_t *n)
{
    by_topic_t x = {.topic = topic};
    uv_mutex_lock(&m->mu);
    rk_strmap_foreach(&m->consumers, group_of_topic, &x);
    uv_mutex_unlock(&m->mu);
    if (x.rc != RK_OK || x.n == 0) {
        rk_strv_free(x.v, x.n);
        *n = 0;
        return NULL;
    }
    qsort(x.v, x.n, sizeof *x.v, cmp_str);
    *n = x.n;
    return x.v;
}
