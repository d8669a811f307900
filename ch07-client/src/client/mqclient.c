/* mqclient.c — the client instance: name servers, route cache, scheduler, heartbeats. */
#include "rk/mqclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "rk/acl_sign.h"
#include "rk/client_message.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/grow.h"
#include "rk/hash.h"
#include "rk/json.h"
#include "rk/log.h"
#include "rk/request_code.h"
#include "rk/strmap.h"
#include "rk/thread.h"

#define MAX_NAMESRV 16

typedef struct task {
    struct task *next;
    uint64_t due_ms;
    rk_task_fn fn;
    void *arg;
} task_t;

struct rk_mqclient {
    char id[RK_CLIENT_ID_MAX];
    char namesrv[MAX_NAMESRV][RK_ADDR_MAX];
    int nnamesrv;
    _Atomic int ns_next;                /* the name server to try first */
    int timeout_ms, heartbeat_ms, route_ms;
    rk_rclient_t *rc;

    uv_mutex_t mu;                      /* routes, heartbeat owner */
    rk_strmap_t routes;                 /* topic -> rk_topic_route_t* */
    rk_strmap_t misses;                 /* topic -> uint64_t* until when "no route" is believed */
    rk_strmap_t masters;                /* broker name -> rk_route_broker_t* (a copy) from the
                                         * newest route that names it: a master elected
                                         * elsewhere (chapter 8), or a master gone, changes the
                                         * addresses for every topic at once, not topic by topic */
    rk_heartbeat_fill_fn hb_fill;
    void *hb_arg;

    uv_mutex_t smu;                     /* scheduler */
    uv_cond_t scond;
    task_t *tasks;                      /* sorted by due_ms */
    bool stopping;
    uv_thread_t sched;

    char access_key[RK_ACL_KEY_MAX], secret_key[RK_ACL_KEY_MAX];   /* "" : unsigned */
};

/* ---- requests ---- */

rk_cmd_t *rk_mqclient_request(int32_t code)
{
    rk_cmd_t *c = rk_cmd_new(code);
    if (c != NULL) {
        c->language = 1;                /* CPP: the C family, as RocketMQ's native client says */
        c->ser_type = RK_SER_ROCKETMQ;  /* binary header: no JSON to write or parse on either side */
    }
    return c;
}

int rk_mqclient_invoke_namesrv(rk_mqclient_t *c, rk_cmd_t *req, rk_cmd_t **resp)
{
    *resp = NULL;
    int rc = RK_EINVAL;
    int first = atomic_load(&c->ns_next);
    for (int i = 0; i < c->nnamesrv; i++) {
        int k = (first + i) % c->nnamesrv;
        rk_cmd_t *copy = i + 1 < c->nnamesrv ? rk_cmd_clone(req) : NULL;
        if (i + 1 < c->nnamesrv && copy == NULL) {
            rk_cmd_free(req);
            return RK_ENOMEM;
        }
        rc = rk_rclient_invoke_sync(c->rc, c->namesrv[k], req, c->timeout_ms, resp);
        req = copy;
        if (rc == RK_OK) {
            atomic_store(&c->ns_next, k);
            rk_cmd_free(req);
            return RK_OK;
        }
        rk_log_debug("client", "name server %s: %s", c->namesrv[k], rk_strerror(rc));
    }
    rk_cmd_free(req);
    return rc;
}

int rk_mqclient_invoke(rk_mqclient_t *c, const char *addr, rk_cmd_t *req, rk_cmd_t **resp)
{
    return rk_rclient_invoke_sync(c->rc, addr, req, c->timeout_ms, resp);
}

int rk_mqclient_resp_error(int32_t code)
{
    switch (code) {
    case RK_RESP_SUCCESS: return RK_OK;
    case RK_RESP_TOPIC_NOT_EXIST:
    case RK_RESP_QUERY_NOT_FOUND: return RK_ENOTFOUND;
    case RK_RESP_MESSAGE_ILLEGAL: return RK_EINVAL;
    case RK_RESP_NO_PERMISSION: return RK_EPERM;
    case RK_RESP_SYSTEM_BUSY:
    case RK_RESP_SERVICE_NOT_AVAILABLE: return RK_EBUSY;
    case RK_RESP_FLUSH_DISK_TIMEOUT:
    case RK_RESP_FLUSH_SLAVE_TIMEOUT: return RK_ETIMEDOUT;
    default: return RK_EPROTO;
    }
}

static const char *code_name(int32_t code)
{
    switch (code) {
    case RK_RESP_SUCCESS: return "SUCCESS";
    case RK_RESP_SYSTEM_ERROR: return "SYSTEM_ERROR";
    case RK_RESP_SYSTEM_BUSY: return "SYSTEM_BUSY";
    case RK_RESP_REQUEST_CODE_NOT_SUPPORTED: return "REQUEST_CODE_NOT_SUPPORTED";
    case RK_RESP_FLUSH_DISK_TIMEOUT: return "FLUSH_DISK_TIMEOUT";
    case RK_RESP_SLAVE_NOT_AVAILABLE: return "SLAVE_NOT_AVAILABLE";
    case RK_RESP_FLUSH_SLAVE_TIMEOUT: return "FLUSH_SLAVE_TIMEOUT";
    case RK_RESP_MESSAGE_ILLEGAL: return "MESSAGE_ILLEGAL";
    case RK_RESP_SERVICE_NOT_AVAILABLE: return "SERVICE_NOT_AVAILABLE";
    case RK_RESP_NO_PERMISSION: return "NO_PERMISSION";
    case RK_RESP_TOPIC_NOT_EXIST: return "TOPIC_NOT_EXIST";
    case RK_RESP_PULL_NOT_FOUND: return "PULL_NOT_FOUND";
    case RK_RESP_PULL_RETRY_IMMEDIATELY: return "PULL_RETRY_IMMEDIATELY";
    case RK_RESP_PULL_OFFSET_MOVED: return "PULL_OFFSET_MOVED";
    case RK_RESP_QUERY_NOT_FOUND: return "QUERY_NOT_FOUND";
    default: return "ERROR";
    }
}

void rk_mqclient_resp_describe(const rk_cmd_t *resp, char *buf, size_t len)
{
    snprintf(buf, len, "%s (%d): %s", code_name(resp->code), (int)resp->code, resp->remark ? resp->remark : "");
}

/* ---- routes ---- */

static int fetch_route(rk_mqclient_t *c, const char *topic, rk_topic_route_t **out)
{
    *out = NULL;
    rk_cmd_t *req = rk_mqclient_request(RK_REQ_GET_ROUTEINFO_BY_TOPIC), *resp = NULL;
    if (req == NULL || rk_cmd_ext_set(req, "topic", topic) != RK_OK) {
        rk_cmd_free(req);
        return RK_ENOMEM;
    }
    int rc = rk_mqclient_invoke_namesrv(c, req, &resp);
    if (rc != RK_OK)
        return rc;
    if (resp->code == RK_RESP_TOPIC_NOT_EXIST)
        rc = RK_ENOTFOUND;
    else if (resp->code != RK_RESP_SUCCESS || resp->body_len == 0)
        rc = RK_EPROTO;
    else
        rc = rk_topic_route_parse((const char *)resp->body, resp->body_len, out);
    rk_cmd_free(resp);
    return rc;
}

static void release_route(void *v) { rk_topic_route_release(v); }

#define MISS_MS 1000                    /* a topic with no route is asked again after this */

static void fetch_later(void *arg, bool cancelled);

typedef struct fetch_arg {
    rk_mqclient_t *c;
    char topic[RK_NAME_MAX];
} fetch_arg_t;

int rk_mqclient_route(rk_mqclient_t *c, const char *topic, bool force, rk_topic_route_t **out)
{
    *out = NULL;
    bool on_loop = rk_rclient_on_loop(c->rc);
    if (!force || on_loop) {
        uv_mutex_lock(&c->mu);
        rk_topic_route_t *r = rk_strmap_get(&c->routes, topic);
        *out = rk_topic_route_retain(r);
        uint64_t *miss = rk_strmap_get(&c->misses, topic);
        bool known_missing = miss != NULL && *miss > rk_mono_ms();
        uv_mutex_unlock(&c->mu);
        if (*out != NULL)
            return RK_OK;
        if (known_missing)
            return RK_ENOTFOUND;
        if (on_loop) {
            /* a callback cannot wait for the name server (its answer needs this
             * thread): look it up on the scheduler and answer "not yet" */
            fetch_arg_t *f = malloc(sizeof *f);
            if (f != NULL) {
                f->c = c;
                snprintf(f->topic, sizeof f->topic, "%s", topic);
                if (rk_mqclient_schedule(c, 0, fetch_later, f) != RK_OK)
                    free(f);
            }
            return RK_ENOTFOUND;
        }
    }
    rk_topic_route_t *r;
    int rc = fetch_route(c, topic, &r);
    if (rc == RK_ENOTFOUND) {
        uint64_t *until = malloc(sizeof *until);
        uv_mutex_lock(&c->mu);
        if (until != NULL) {
            *until = rk_mono_ms() + MISS_MS;
            void *prev = NULL;
            if (rk_strmap_put(&c->misses, topic, until, &prev) != RK_OK)
                free(until);
            free(prev);
        }
        uv_mutex_unlock(&c->mu);
    }
    if (rc != RK_OK)
        return rc;
    void *old = NULL;
    uv_mutex_lock(&c->mu);
    free(rk_strmap_remove(&c->misses, topic));
    rc = rk_strmap_put(&c->routes, topic, rk_topic_route_retain(r), &old);
    for (size_t i = 0; i < r->nbrokers; i++) {
        rk_route_broker_t *copy = malloc(sizeof *copy);
        void *prev = NULL;
        if (copy != NULL)
            *copy = r->brokers[i];
        if (copy != NULL && rk_strmap_put(&c->masters, r->brokers[i].name, copy, &prev) != RK_OK)
            free(copy);
        free(prev);
    }
    uv_mutex_unlock(&c->mu);
    if (rc != RK_OK)
        rk_topic_route_release(r);      /* the cache's reference */
    rk_topic_route_release(old);
    *out = r;
    return RK_OK;
}

static void fetch_later(void *arg, bool cancelled)
{
    fetch_arg_t *f = arg;
    rk_topic_route_t *r = NULL;
    if (!cancelled && rk_mqclient_route(f->c, f->topic, false, &r) == RK_OK)
        rk_topic_route_release(r);
    free(f);
}

void rk_mqclient_forget_route(rk_mqclient_t *c, const char *topic)
{
    uv_mutex_lock(&c->mu);
    rk_topic_route_t *r = rk_strmap_remove(&c->routes, topic);
    uv_mutex_unlock(&c->mu);
    rk_topic_route_release(r);
}

typedef struct find_ctx {
    const char *broker;
    char *buf;
    size_t len;
    bool found;
} find_ctx_t;

static int find_master(const char *key, void *value, void *arg)
{
    (void)key;
    find_ctx_t *f = arg;
    const rk_route_broker_t *b = rk_topic_route_broker(value, f->broker);
    if (b != NULL && b->master[0] != '\0') {
        snprintf(f->buf, f->len, "%s", b->master);
        f->found = true;
        return 1;
    }
    return 0;
}

bool rk_mqclient_master_addr(rk_mqclient_t *c, const char *broker, char *buf, size_t len)
{
    find_ctx_t f = {broker, buf, len, false};
    buf[0] = '\0';
    uv_mutex_lock(&c->mu);
    const rk_route_broker_t *newest = rk_strmap_get(&c->masters, broker);
    if (newest != NULL) {
        snprintf(buf, len, "%s", newest->master);
        f.found = newest->master[0] != '\0';
    } else {
        rk_strmap_foreach(&c->routes, find_master, &f);
    }
    uv_mutex_unlock(&c->mu);
    return f.found;
}

bool rk_mqclient_find_addr(rk_mqclient_t *c, const char *broker, int64_t id, bool only_this, char *buf, size_t len,
                           bool *slave)
{
    buf[0] = '\0';
    *slave = false;
    uv_mutex_lock(&c->mu);
    bool found = rk_route_broker_find(rk_strmap_get(&c->masters, broker), id, only_this, buf, len, slave);
    uv_mutex_unlock(&c->mu);
    return found;
}

typedef struct masters_ctx {
    char (*v)[RK_ADDR_MAX];
    size_t n, cap;
    int err;
    bool slaves;                        /* every member, not only masters */
} masters_ctx_t;

static int add_addr(masters_ctx_t *m, const char *a)
{
    bool dup = a[0] == '\0';
    for (size_t j = 0; j < m->n && !dup; j++)
        dup = strcmp(m->v[j], a) == 0;
    if (dup)
        return 0;
    if (RK_GROW(m->v, m->cap, m->n + 1, 8) != RK_OK) {
        m->err = RK_ENOMEM;
        return 1;
    }
    snprintf(m->v[m->n++], RK_ADDR_MAX, "%s", a);
    return 0;
}

static int add_masters(const char *key, void *value, void *arg)
{
    (void)key;
    masters_ctx_t *m = arg;
    const rk_topic_route_t *r = value;
    for (size_t i = 0; i < r->nbrokers; i++) {
        if (add_addr(m, r->brokers[i].master) != 0)
            return 1;
        for (size_t k = 0; m->slaves && k < r->brokers[i].naddrs; k++)
            if (add_addr(m, r->brokers[i].addrs[k].addr) != 0)
                return 1;
    }
    return 0;
}

static int collect(rk_mqclient_t *c, bool slaves, char (**out)[RK_ADDR_MAX], size_t *n)
{
    masters_ctx_t m = {.slaves = slaves};
    uv_mutex_lock(&c->mu);
    rk_strmap_foreach(&c->routes, add_masters, &m);
    uv_mutex_unlock(&c->mu);
    if (m.err != RK_OK) {
        free(m.v);
        return m.err;
    }
    *out = m.v;
    *n = m.n;
    return RK_OK;
}

int rk_mqclient_masters(rk_mqclient_t *c, char (**out)[RK_ADDR_MAX], size_t *n)
{
    return collect(c, false, out, n);
}

/* ---- scheduler ---- */

int rk_mqclient_schedule(rk_mqclient_t *c, uint64_t delay_ms, rk_task_fn fn, void *arg)
{
    task_t *t = malloc(sizeof *t);
    if (t == NULL)
        return RK_ENOMEM;
    t->due_ms = rk_mono_ms() + delay_ms;
    t->fn = fn;
    t->arg = arg;
    uv_mutex_lock(&c->smu);
    if (c->stopping) {
        uv_mutex_unlock(&c->smu);
        free(t);
        return RK_ECLOSED;
    }
    task_t **pp = &c->tasks;
    while (*pp != NULL && (*pp)->due_ms <= t->due_ms)
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
    uv_cond_signal(&c->scond);
    uv_mutex_unlock(&c->smu);
    return RK_OK;
}

static void scheduler_main(void *arg)
{
    rk_mqclient_t *c = arg;
    (void)rk_thread_init("rk-client-sched", RK_THREAD_NORMAL);
    uv_mutex_lock(&c->smu);
    while (!c->stopping) {
        uint64_t now = rk_mono_ms();
        task_t *t = c->tasks;
        if (t != NULL && t->due_ms <= now) {
            c->tasks = t->next;
            uv_mutex_unlock(&c->smu);
            t->fn(t->arg, false);
            free(t);
            uv_mutex_lock(&c->smu);
            continue;
        }
        uint64_t wait_ms = t != NULL ? t->due_ms - now : 1000;
        uv_cond_timedwait(&c->scond, &c->smu, wait_ms * 1000000ull);
    }
    task_t *left = c->tasks;
    c->tasks = NULL;
    uv_mutex_unlock(&c->smu);
    while (left != NULL) {
        task_t *next = left->next;
        left->fn(left->arg, true);
        free(left);
        left = next;
    }
}

/* ---- periodic work ---- */

static int collect_topic(const char *key, void *value, void *arg)
{
    (void)value;
    rk_buf_t *b = arg;
    return rk_buf_put(b, key, strlen(key) + 1) == RK_OK ? 0 : 1;
}

static void refresh_routes(void *arg, bool cancelled)
{
    rk_mqclient_t *c = arg;
    if (cancelled)
        return;
    rk_buf_t topics = {0};
    uv_mutex_lock(&c->mu);
    rk_strmap_foreach(&c->routes, collect_topic, &topics);
    uv_mutex_unlock(&c->mu);
    for (size_t off = 0; off < topics.len; off += strlen((char *)topics.data + off) + 1) {
        rk_topic_route_t *r = NULL;
        const char *topic = (const char *)topics.data + off;
        int rc = rk_mqclient_route(c, topic, true, &r);
        if (rc != RK_OK && rc != RK_ENOTFOUND)
            rk_log_debug("client", "route of %s not refreshed: %s", topic, rk_strerror(rc));
        rk_topic_route_release(r);
    }
    rk_buf_free(&topics);
    rk_mqclient_schedule(c, (uint64_t)c->route_ms, refresh_routes, c);
}

int rk_mqclient_heartbeat_now(rk_mqclient_t *c)
{
    uv_mutex_lock(&c->mu);
    rk_heartbeat_fill_fn fill = c->hb_fill;
    void *fill_arg = c->hb_arg;
    uv_mutex_unlock(&c->mu);
    if (fill == NULL)
        return 0;
    cJSON *root = cJSON_CreateObject(), *p = NULL, *q = NULL;
    if (root == NULL || cJSON_AddStringToObject(root, "clientID", c->id) == NULL ||
        (p = cJSON_AddArrayToObject(root, "producerDataSet")) == NULL ||
        (q = cJSON_AddArrayToObject(root, "consumerDataSet")) == NULL) {
        cJSON_Delete(root);
        return RK_ENOMEM;
    }
    fill(fill_arg, p, q);
    /* MQClientInstance.sendHeartbeatToAllBroker: a consumer's heartbeat goes
     * to slaves too (it may pull from them, and a slave answers its group's
     * member list when the master is gone); a producer's to masters only */
    bool slaves = cJSON_GetArraySize(q) > 0;
    char *body = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    char (*masters)[RK_ADDR_MAX] = NULL;
    size_t n = 0;
    if (body == NULL || collect(c, slaves, &masters, &n) != RK_OK) {
        free(body);
        return RK_ENOMEM;
    }
    int ok = 0;
    for (size_t i = 0; i < n; i++) {
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_HEART_BEAT), *resp = NULL;
        if (req == NULL || rk_cmd_set_body(req, body, strlen(body)) != RK_OK) {
            rk_cmd_free(req);
            continue;
        }
        int rc = rk_mqclient_invoke(c, masters[i], req, &resp);
        if (rc == RK_OK && resp->code == RK_RESP_SUCCESS)
            ok++;
        else
            rk_log_warn("client", "heartbeat to %s failed: %s", masters[i],
                        rc != RK_OK ? rk_strerror(rc) : (resp->remark ? resp->remark : "refused"));
        rk_cmd_free(resp);
    }
    free(masters);
    free(body);
    return ok;
}

static void heartbeat_task(void *arg, bool cancelled)
{
    rk_mqclient_t *c = arg;
    if (cancelled)
        return;
    rk_mqclient_heartbeat_now(c);
    rk_mqclient_schedule(c, (uint64_t)c->heartbeat_ms, heartbeat_task, c);
}

void rk_mqclient_set_heartbeat(rk_mqclient_t *c, rk_heartbeat_fill_fn fill, void *arg)
{
    uv_mutex_lock(&c->mu);
    c->hb_fill = fill;
    c->hb_arg = arg;
    uv_mutex_unlock(&c->mu);
}

void rk_mqclient_unregister(rk_mqclient_t *c, const char *producer_group, const char *consumer_group)
{
    char (*masters)[RK_ADDR_MAX] = NULL;
    size_t n = 0;
    if (rk_mqclient_masters(c, &masters, &n) != RK_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_UNREGISTER_CLIENT), *resp = NULL;
        if (req == NULL || rk_cmd_ext_set(req, "clientID", c->id) != RK_OK ||
            (producer_group && rk_cmd_ext_set(req, "producerGroup", producer_group) != RK_OK) ||
            (consumer_group && rk_cmd_ext_set(req, "consumerGroup", consumer_group) != RK_OK)) {
            rk_cmd_free(req);
            continue;
        }
        if (rk_mqclient_invoke(c, masters[i], req, &resp) == RK_OK)
            rk_cmd_free(resp);
    }
    free(masters);
}

/* ---- lifecycle ---- */

static int parse_namesrv(rk_mqclient_t *c, const char *list)
{
    const char *p = list;
    while (*p != '\0') {
        size_t n = strcspn(p, ";, ");
        if (n > 0) {
            if (c->nnamesrv == MAX_NAMESRV || n >= RK_ADDR_MAX || memchr(p, ':', n) == NULL)
                return RK_EINVAL;
            memcpy(c->namesrv[c->nnamesrv], p, n);
            c->namesrv[c->nnamesrv++][n] = '\0';
        }
        p += n;
        if (*p != '\0')
            p++;
    }
    return c->nnamesrv > 0 ? RK_OK : RK_EINVAL;
}

static void local_ip(char *buf, size_t len)
{
    uv_interface_address_t *ifs = NULL;
    int n = 0;
    snprintf(buf, len, "127.0.0.1");
    if (uv_interface_addresses(&ifs, &n) != 0)
        return;
    for (int i = 0; i < n; i++)
        if (!ifs[i].is_internal && ifs[i].address.address4.sin_family == AF_INET) {
            uv_ip4_name(&ifs[i].address.address4, buf, len);
            break;
        }
    uv_free_interface_addresses(ifs, n);
}

/* RocketMQ's AclClientRPCHook: every request leaves signed (rk/acl_sign.h). */
static int sign_request(void *ctx, const char *addr, rk_cmd_t *req)
{
    (void)addr;
    rk_mqclient_t *c = ctx;
    return rk_acl_sign_request(req, c->access_key, c->secret_key, NULL);
}

int rk_mqclient_new(const rk_mqclient_config_t *cfg, rk_mqclient_t **out)
{
    *out = NULL;
    if (cfg == NULL || cfg->namesrv == NULL)
        return RK_EINVAL;
    rk_mqclient_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return RK_ENOMEM;
    int rc = parse_namesrv(c, cfg->namesrv);
    if (rc != RK_OK) {
        free(c);
        return rc;
    }
    if ((cfg->access_key == NULL) != (cfg->secret_key == NULL) ||
        (cfg->access_key != NULL && (cfg->access_key[0] == '\0' || strlen(cfg->access_key) >= RK_ACL_KEY_MAX ||
                                     cfg->secret_key[0] == '\0' || strlen(cfg->secret_key) >= RK_ACL_KEY_MAX))) {
        free(c);
        return RK_EINVAL;
    }
    if (cfg->access_key != NULL) {
        snprintf(c->access_key, sizeof c->access_key, "%s", cfg->access_key);
        snprintf(c->secret_key, sizeof c->secret_key, "%s", cfg->secret_key);
    }
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 3000;
    c->heartbeat_ms = cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : 30000;
    c->route_ms = cfg->route_refresh_ms > 0 ? cfg->route_refresh_ms : 30000;
    char ip[64];
    local_ip(ip, sizeof ip);
    if (cfg->instance_name != NULL)
        snprintf(c->id, sizeof c->id, "%s@%s", ip, cfg->instance_name);
    else
        snprintf(c->id, sizeof c->id, "%s@%d#%llu", ip, (int)getpid(), (unsigned long long)rk_mono_ns());
    rk_strmap_init(&c->routes);
    rk_strmap_init(&c->misses);
    rk_strmap_init(&c->masters);
    if ((rc = rk_rclient_new(&c->rc)) != RK_OK) {
        explicit_bzero(c->secret_key, sizeof c->secret_key);
        free(c);
        return rc;
    }
    if (c->access_key[0] != '\0')
        rk_rclient_set_before_request(c->rc, sign_request, c);
    if (uv_mutex_init(&c->mu) != 0 || uv_mutex_init(&c->smu) != 0 || uv_cond_init(&c->scond) != 0 ||
        uv_thread_create(&c->sched, scheduler_main, c) != 0) {
        rk_rclient_free(c->rc);
        free(c);                        /* (an init that succeeded leaks nothing on Linux) */
        return RK_ENOMEM;
    }
    rk_mqclient_schedule(c, (uint64_t)c->route_ms, refresh_routes, c);
    rk_mqclient_schedule(c, (uint64_t)c->heartbeat_ms, heartbeat_task, c);
    *out = c;
    return RK_OK;
}

void rk_mqclient_free(rk_mqclient_t *c)
{
    if (c == NULL)
        return;
    uv_mutex_lock(&c->smu);
    c->stopping = true;
    uv_cond_signal(&c->scond);
    uv_mutex_unlock(&c->smu);
    uv_thread_join(&c->sched);
    rk_rclient_free(c->rc);
    rk_strmap_free(&c->routes, release_route);
    rk_strmap_free(&c->misses, free);
    rk_strmap_free(&c->masters, free);
    uv_cond_destroy(&c->scond);
    uv_mutex_destroy(&c->smu);
    uv_mutex_destroy(&c->mu);
    explicit_bzero(c->secret_key, sizeof c->secret_key);
    free(c);
}

const char *rk_mqclient_id(const rk_mqclient_t *c) { return c->id; }
rk_rclient_t *rk_mqclient_remoting(rk_mqclient_t *c) { return c->rc; }
int rk_mqclient_timeout(const rk_mqclient_t *c) { return c->timeout_ms; }

/* ---- received messages ---- */

#define MAX_INFLATED (64u * 1024 * 1024)

static char *arena_put(char **a, const char *s, size_t n)
{
    char *r = *a;
    memcpy(r, s, n);
    r[n] = '\0';
    *a += n + 1;
    return r;
}

#define RESYNC_MAX_CANDIDATES 256     /* CRCs computed per damaged range (bounds a hostile body) */

/* A whole message record at p whose fields agree with its size (and whose
 * body CRC matches, if check_crc). */
static bool record_ok(const uint8_t *p, size_t avail, bool check_crc, rk_record_t *rec)
{
    if (rk_record_decode(p, avail, false, rec) != RK_OK || rk_record_is_blank(rec))
        return false;
    return !check_crc || rk_body_crc(rec->body, rec->body_len) == rec->body_crc;
}

/* Where the next valid record after a damaged header at pos starts, or len.
 * A guess must pass every check, CRC included: body bytes can look like a
 * header. */
static size_t resync(const uint8_t *raw, size_t len, size_t pos)
{
    rk_record_t rec;
    int tries = 0;
    for (size_t p = pos + 1; p + RK_RECORD_FIXED_V4 + 7 <= len; p++) {
        if (rk_be_get32(raw + p + 4) != RK_MAGIC_MESSAGE_V1 || !record_ok(raw + p, len - p, false, &rec))
            continue;                   /* constant work: no CRC unless the fields add up */
        if (rk_body_crc(rec.body, rec.body_len) == rec.body_crc)
            return p;
        if (++tries == RESYNC_MAX_CANDIDATES)
            break;
    }
    return len;
}

typedef struct good {
    size_t pos;
    rk_record_t rec;
} good_t;

typedef struct prop {
    const char *v;
    size_t len;
} prop_t;

static inline bool prop_is(const char *k, size_t kl, const char *name)
{
    return kl == strlen(name) && memcmp(k, name, kl) == 0;
}

/* An offset message id is hex(store host ip, port) + hex(commitlog offset,
 * 8 bytes big-endian), as rk_msgid_encode writes it. A pull's records share
 * their store host, so its half is encoded once (prefix, plen chars; plen 0:
 * an address rk_msgid_encode refuses, no id) and each record only adds the
 * offset's 16 digits: rk_msgid_encode for each was 9 % of a consumer's
 * instructions. */
static void msgid_with_prefix(const char *prefix, size_t plen, int64_t phys_offset, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    if (plen == 0) {
        out[0] = '\0';
        return;
    }
    memcpy(out, prefix, plen);
    uint64_t v = (uint64_t)phys_offset;
    for (int i = 15; i >= 0; i--, v >>= 4)
        out[plen + (size_t)i] = hex[v & 0xF];
    out[plen + 16] = '\0';
}

static bool host_eq(const rk_host_t *a, const rk_host_t *b)
{
    return a->ip_len == b->ip_len && a->port == b->port && memcmp(a->ip, b->ip, a->ip_len) == 0;
}

static void note_bad(rk_msg_list_t *l, int64_t qoff, int64_t prev, size_t pos, size_t len, const char *why)
{
    if (l->nbad < RK_MSG_BAD_MAX)
        l->bad[l->nbad] = (rk_msg_bad_t){qoff, prev, pos, len, why};
    l->nbad++;
}

int rk_msg_list_decode_skip(uint8_t *raw, size_t len, bool check_crc, rk_msg_list_t **out)
{
    return rk_msg_list_decode_reusing(raw, len, check_crc, NULL, out);
}

/* A list to decode into: spare emptied (its message array and arena kept),
 * or a new one. */
static rk_msg_list_t *list_from(rk_msg_list_t *spare)
{
    if (spare == NULL)
        return calloc(1, sizeof *spare);
    for (size_t i = 0; i < spare->ninflated; i++)
        free(spare->inflated[i]);
    free(spare->inflated);
    free(spare->raw);
    rk_msg_list_t kept = {.msgs = spare->msgs, .msgs_cap = spare->msgs_cap, .arena = spare->arena,
                          .arena_cap = spare->arena_cap};
    *spare = kept;
    return spare;
}

/* *blk holds at least need bytes (*cap: its size), keeping it if it does. */
static bool block_fit(void **blk, size_t *cap, size_t need)
{
    if (*blk != NULL && *cap >= need)
        return true;
    free(*blk);
    *cap = 0;
    if ((*blk = malloc(need)) == NULL)
        return false;
    *cap = need;
    return true;
}

int rk_msg_list_decode_reusing(uint8_t *raw, size_t len, bool check_crc, rk_msg_list_t *spare, rk_msg_list_t **out)
{
    *out = NULL;
    rk_msg_list_t *l = list_from(spare);
    if (l == NULL) {
        free(raw);
        return RK_ENOMEM;
    }
    l->raw = raw;
    l->last_offset = -1;
    /* pass 1: which byte ranges hold good records */
    size_t count = 0, cap = 0, arena = 0, ncomp = 0;
    good_t *at = NULL;                  /* each good record, decoded once */
    int64_t prev = -1;
    rk_record_t rec;
    for (size_t pos = 0; pos < len;) {
        if (record_ok(raw + pos, len - pos, check_crc, &rec)) {
            if (RK_GROW(at, cap, count + 1, 32) != RK_OK) {
                free(at);
                rk_msg_list_free(l);
                return RK_ENOMEM;
            }
            at[count++] = (good_t){pos, rec};
            arena += rec.topic_len + 1u + rec.props_len + 2u;
            ncomp += (rec.sys_flag & RK_SYSFLAG_COMPRESSED) != 0;
            prev = rec.queue_offset;
            pos += rec.total_size;
        } else if (rk_record_decode(raw + pos, len - pos, false, &rec) == RK_OK && !rk_record_is_blank(&rec)) {
            note_bad(l, rec.queue_offset, prev, pos, rec.total_size, "body CRC mismatch");
            pos += rec.total_size;      /* the framing holds: only the body is bad */
        } else {
            size_t next = resync(raw, len, pos);
            note_bad(l, -1, prev, pos, next - pos, "damaged header");
            l->cut = next == len;
            pos = next;
        }
    }
    l->last_offset = prev;              /* the last record that verified (inflated or not) */
    /* malloc, not calloc: pass 2 sets every field of each message it keeps
     * (zeroing 256 messages of ~500 bytes was 3 % of a consumer's time) */
    void *msgs = l->msgs, *arena_blk = l->arena;
    bool fit = block_fit(&msgs, &l->msgs_cap, (count + 1) * sizeof *l->msgs);
    l->msgs = msgs;
    fit = fit && block_fit(&arena_blk, &l->arena_cap, arena + 1);
    l->arena = arena_blk;
    if (!fit || (l->inflated = calloc(ncomp + 1, sizeof *l->inflated)) == NULL) {
        free(at);
        rk_msg_list_free(l);
        return RK_ENOMEM;
    }
    /* pass 2: decode them */
    char *a = l->arena;
    prev = -1;
    rk_host_t born, store;
    bool have_hosts = false;
    char born_s[sizeof l->msgs->born_host], store_s[sizeof l->msgs->store_host];
    char id_prefix[sizeof l->msgs->offset_msg_id];      /* the store host's half of the ids */
    size_t id_plen = 0;
    for (size_t i = 0; i < count; i++) {
        rec = at[i].rec;
        rk_msg_ext_t *m = &l->msgs[l->n];
        m->body = rec.body;
        m->body_len = rec.body_len;
        if (rec.sys_flag & RK_SYSFLAG_COMPRESSED) {
            uint8_t *inf;
            size_t inf_len;
            int rc = rk_body_decompress(rec.body, rec.body_len, MAX_INFLATED, &inf, &inf_len);
            if (rc == RK_ENOMEM) {
                free(at);
                rk_msg_list_free(l);
                return rc;
            }
            if (rc != RK_OK) {
                note_bad(l, rec.queue_offset, prev, at[i].pos, rec.total_size,
                         rc == RK_ETOOBIG ? "compressed body inflates past 64 MiB" : "compressed body does not inflate");
                continue;
            }
            l->inflated[l->ninflated++] = inf;
            m->body = inf;
            m->body_len = inf_len;
        }
        l->n++;
        prev = rec.queue_offset;
        m->topic = arena_put(&a, rec.topic, rec.topic_len);
        /* the three properties every message needs, in one walk of them
         * (the first of each name counts, as rk_props_get finds it) */
        prop_t tags = {0}, keys = {0}, uniq = {0};
        rk_prop_iter_t it = rk_props_iter(rec.props, rec.props_len);
        const char *k, *v;
        size_t kl, vl;
        while (rk_props_next(&it, &k, &kl, &v, &vl)) {
            prop_t *want = prop_is(k, kl, RK_PROP_TAGS) ? &tags : prop_is(k, kl, RK_PROP_KEYS) ? &keys
                         : prop_is(k, kl, RK_PROP_UNIQ_KEY) ? &uniq : NULL;
            if (want != NULL && want->v == NULL)
                *want = (prop_t){v, vl};
        }
        m->tags = arena_put(&a, tags.v ? tags.v : "", tags.len);
        m->keys = arena_put(&a, keys.v ? keys.v : "", keys.len);
        m->props = rec.props;
        m->props_len = rec.props_len;
        m->queue_id = rec.queue_id;
        m->flag = rec.flag;
        m->sys_flag = rec.sys_flag;
        m->reconsume_times = rec.reconsume_times;
        m->queue_offset = rec.queue_offset;
        m->commitlog_offset = rec.phys_offset;
        m->born_ts = rec.born_ts;
        m->store_ts = rec.store_ts;
        m->prepared_tx_offset = rec.prepared_tx_offset;
        /* a pull's records share their store host and mostly their born
         * host: format each once, copy it for the next record that has it */
        if (!have_hosts || !host_eq(&rec.born_host, &born))
            rk_host_format(&rec.born_host, born_s, sizeof born_s);
        if (!have_hosts || !host_eq(&rec.store_host, &store)) {
            rk_host_format(&rec.store_host, store_s, sizeof store_s);
            id_plen = rk_msgid_encode(&rec.store_host, 0, id_prefix, sizeof id_prefix) == RK_OK
                    ? strlen(id_prefix) - 16 : 0;
        }
        have_hosts = true;
        born = rec.born_host;
        store = rec.store_host;
        memcpy(m->born_host, born_s, sizeof m->born_host);
        memcpy(m->store_host, store_s, sizeof m->store_host);
        msgid_with_prefix(id_prefix, id_plen, rec.phys_offset, m->offset_msg_id);
        m->broker[0] = '\0';                /* the consumer's to fill */
        if (uniq.v != NULL && uniq.len < sizeof m->msg_id) {
            memcpy(m->msg_id, uniq.v, uniq.len);
            m->msg_id[uniq.len] = '\0';
        } else {
            memcpy(m->msg_id, m->offset_msg_id, sizeof m->msg_id);
        }
    }
    free(at);
    *out = l;
    return RK_OK;
}

int rk_msg_list_decode(uint8_t *raw, size_t len, rk_msg_list_t **out)
{
    int rc = rk_msg_list_decode_skip(raw, len, true, out);
    if (rc == RK_OK && (*out)->nbad > 0) {
        rk_msg_list_free(*out);
        *out = NULL;
        return RK_ECORRUPT;
    }
    return rc;
}

void rk_msg_list_free(rk_msg_list_t *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->ninflated; i++)
        free(l->inflated[i]);
    free(l->inflated);
    free(l->arena);
    free(l->msgs);
    free(l->raw);
    free(l);
}

int rk_msg_prop(const rk_msg_ext_t *m, const char *key, char *buf, size_t len)
{
    return rk_props_get_str(m->props, m->props_len, key, buf, len);
}

/* ---- fastjson maps keyed by MessageQueue ---- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

int rk_mq_map_parse(const char *text, size_t len, const char *table, rk_mq_map_entry_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char want[160];
    snprintf(want, sizeof want, "\"%s\"", table);
    const char *end = text + len, *p = memmem(text, len, want, strlen(want));
    if (p == NULL)
        return RK_ENOTFOUND;
    p = skip_ws(p + strlen(want), end);
    if (p >= end || *p != ':')
        return RK_EPROTO;
    p = skip_ws(p + 1, end);
    if (p >= end || *p != '{')
        return RK_EPROTO;
    p++;
    size_t cap = 0;
    rk_mq_map_entry_t *v = NULL;
    int rc = RK_OK;
    for (;;) {
        p = skip_ws(p, end);
        if (p < end && *p == ',')
            p = skip_ws(p + 1, end);
        if (p >= end) {
            rc = RK_EPROTO;
            break;
        }
        if (*p == '}')
            break;
        const char *kend = NULL, *vend = NULL;
        cJSON *key = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &kend, false);
        if (key == NULL || !cJSON_IsObject(key)) {
            cJSON_Delete(key);
            rc = RK_EPROTO;
            break;
        }
        p = skip_ws(kend, end);
        cJSON *val = NULL;
        if (p < end && *p == ':')
            val = cJSON_ParseWithLengthOpts(p + 1, (size_t)(end - p - 1), &vend, false);
        if (val == NULL) {
            cJSON_Delete(key);
            rc = RK_EPROTO;
            break;
        }
        p = vend;
        if (RK_GROW(v, cap, *n + 1, 16) != RK_OK) {
            cJSON_Delete(key);
            cJSON_Delete(val);
            rc = RK_ENOMEM;
            break;
        }
        rk_mq_map_entry_t *e = &v[(*n)++];
        memset(&e->mq, 0, sizeof e->mq);
        const char *t = rk_json_get_str(key, "topic"), *b = rk_json_get_str(key, "brokerName");
        int64_t q = -1;
        rk_json_get_i64(key, "queueId", &q);
        snprintf(e->mq.topic, sizeof e->mq.topic, "%s", t ? t : "");
        snprintf(e->mq.broker, sizeof e->mq.broker, "%s", b ? b : "");
        e->mq.queue_id = (int32_t)q;
        e->value = val;
        cJSON_Delete(key);
    }
    if (rc != RK_OK) {
        rk_mq_map_free(v, *n);
        *n = 0;
        return rc;
    }
    *out = v;
    return RK_OK;
}

void rk_mq_map_free(rk_mq_map_entry_t *entries, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(entries[i].value);
    free(entries);
}
