/* brokerreg.c — periodic REGISTER_BROKER to every name server (see rk/brokerreg.h). */
#include "rk/brokerreg.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "rk/error.h"
#include "rk/hash.h"
#include "rk/log.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/thread.h"

#define MAX_NS 16

struct rk_brokerreg {
    char ns[MAX_NS][64];
    int nns;
    char cluster[128], name[128], addr[64], ha[64];
    int64_t id, period_ms, timeout_ms;
    rk_brokerreg_body_fn body;
    void *ctx;
    rk_rclient_t *rcl;
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cond;
    bool stopping, triggered;   /* under mu */
    char master[64];            /* under mu */
    bool reached[MAX_NS];       /* under mu: the last round's answers */
    int nreached;               /* under mu */
    int64_t rounds;             /* under mu: registration rounds done */
    char master_ha[64];         /* under mu */
};

static rk_cmd_t *header(rk_brokerreg_t *r, int code)
{
    rk_cmd_t *c = rk_cmd_new(code);
    if (c == NULL)
        return NULL;
    rk_cmd_ext_set(c, "brokerName", r->name);
    rk_cmd_ext_set(c, "brokerAddr", r->addr);
    rk_cmd_ext_set(c, "clusterName", r->cluster);
    uv_mutex_lock(&r->mu);
    int64_t id = r->id;
    uv_mutex_unlock(&r->mu);
    rk_cmd_ext_set_i64(c, "brokerId", id);
    return c;
}

int rk_brokerreg_register_now(rk_brokerreg_t *r)
{
    char *body = r->body(r->ctx);
    if (body == NULL)
        return 0;
    int ok = 0;
    bool reached[MAX_NS] = {false};
    for (int i = 0; i < r->nns; i++) {
        rk_cmd_t *req = header(r, RK_REQ_REGISTER_BROKER), *resp = NULL;
        if (req == NULL)
            break;
        char ha[64];
        uv_mutex_lock(&r->mu);
        snprintf(ha, sizeof ha, "%s", r->ha);
        uv_mutex_unlock(&r->mu);
        rk_cmd_ext_set(req, "haServerAddr", ha);
        rk_cmd_ext_set(req, "compressed", "false");
        rk_cmd_ext_set_i64(req, "bodyCrc32", rk_body_crc(body, strlen(body)));
        rk_cmd_set_body(req, body, strlen(body));
        int rc = rk_rclient_invoke_sync(r->rcl, r->ns[i], req, (int)r->timeout_ms, &resp);
        if (rc == RK_OK && resp->code == 0) {
            ok++;
            reached[i] = true;
            const char *m = rk_cmd_ext_get(resp, "masterAddr"), *mha = rk_cmd_ext_get(resp, "haServerAddr");
            uv_mutex_lock(&r->mu);
            snprintf(r->master, sizeof r->master, "%s", m ? m : "");
            snprintf(r->master_ha, sizeof r->master_ha, "%s", mha ? mha : "");
            uv_mutex_unlock(&r->mu);
        } else {
            rk_log_warn("brokerreg", "register with name server %s failed: %s", r->ns[i],
                        rc != RK_OK ? rk_strerror(rc) : (resp->remark ? resp->remark : "refused"));
        }
        rk_cmd_free(resp);
    }
    free(body);
    uv_mutex_lock(&r->mu);
    for (int i = 0; i < r->nns; i++)    /* the start-up line said it was missed: say when it answers */
        if (reached[i] && !r->reached[i] && r->rounds > 0)
            rk_log_info("brokerreg", "%s (%s) is now registered with name server %s", r->name, r->addr, r->ns[i]);
    memcpy(r->reached, reached, sizeof reached);
    r->nreached = ok;
    r->rounds++;
    uv_mutex_unlock(&r->mu);
    return ok;
}

int rk_brokerreg_status(rk_brokerreg_t *r, int *total, char *missed, size_t len)
{
    uv_mutex_lock(&r->mu);
    *total = r->nns;
    int ok = r->nreached;
    size_t at = 0;
    if (missed != NULL && len > 0) {
        missed[0] = '\0';
        for (int i = 0; i < r->nns; i++) {
            if (r->reached[i])
                continue;
            int n = snprintf(missed + at, len - at, "%s%s", at ? ";" : "", r->ns[i]);
            if (n < 0 || (size_t)n >= len - at)
                break;
            at += (size_t)n;
        }
    }
    uv_mutex_unlock(&r->mu);
    return ok;
}

static void reg_main(void *arg)
{
    rk_brokerreg_t *r = arg;
    (void)rk_thread_init("rk-register", RK_THREAD_NORMAL);
    uv_mutex_lock(&r->mu);
    while (!r->stopping) {
        if (!r->triggered)
            uv_cond_timedwait(&r->cond, &r->mu, (uint64_t)r->period_ms * 1000000ull);
        if (r->stopping)
            break;
        r->triggered = false;
        uv_mutex_unlock(&r->mu);
        rk_brokerreg_register_now(r);
        uv_mutex_lock(&r->mu);
    }
    uv_mutex_unlock(&r->mu);
}

int rk_brokerreg_start(const rk_brokerreg_config_t *cfg, rk_brokerreg_body_fn body, void *ctx,
                       rk_brokerreg_t **out)
{
    if (cfg->namesrv_addrs == NULL || cfg->broker_name == NULL || cfg->broker_addr == NULL ||
        cfg->cluster_name == NULL || body == NULL)
        return RK_EINVAL;
    rk_brokerreg_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return RK_ENOMEM;
    char list[1024];
    snprintf(list, sizeof list, "%s", cfg->namesrv_addrs);
    char *save = NULL;
    for (char *t = strtok_r(list, ";, ", &save); t && r->nns < MAX_NS; t = strtok_r(NULL, ";, ", &save))
        snprintf(r->ns[r->nns++], sizeof r->ns[0], "%s", t);
    snprintf(r->cluster, sizeof r->cluster, "%s", cfg->cluster_name);
    snprintf(r->name, sizeof r->name, "%s", cfg->broker_name);
    snprintf(r->addr, sizeof r->addr, "%s", cfg->broker_addr);
    snprintf(r->ha, sizeof r->ha, "%s", cfg->ha_addr ? cfg->ha_addr : "");
    r->id = cfg->broker_id;
    r->period_ms = cfg->period_ms > 0 ? cfg->period_ms : 30000;
    r->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 6000;
    r->body = body;
    r->ctx = ctx;
    int rc = r->nns == 0 ? RK_EINVAL : rk_rclient_new(&r->rcl);
    if (rc == RK_OK && (uv_mutex_init(&r->mu) != 0 || uv_cond_init(&r->cond) != 0))
        rc = RK_ENOMEM;
    if (rc != RK_OK) {
        rk_rclient_free(r->rcl);
        free(r);
        return rc;
    }
    int ok = rk_brokerreg_register_now(r);
    rk_log_info("brokerreg", "%s (%s) registered with %d of %d name servers", r->name, r->addr, ok, r->nns);
    if (uv_thread_create(&r->thread, reg_main, r) != 0) {
        rk_rclient_free(r->rcl);
        uv_cond_destroy(&r->cond);
        uv_mutex_destroy(&r->mu);
        free(r);
        return RK_ENOMEM;
    }
    *out = r;
    return RK_OK;
}

void rk_brokerreg_trigger(rk_brokerreg_t *r)
{
    uv_mutex_lock(&r->mu);
    r->triggered = true;
    uv_cond_signal(&r->cond);
    uv_mutex_unlock(&r->mu);
}

void rk_brokerreg_master_addr(rk_brokerreg_t *r, char *buf, size_t len)
{
    uv_mutex_lock(&r->mu);
    snprintf(buf, len, "%s", r->master);
    uv_mutex_unlock(&r->mu);
}

void rk_brokerreg_master_ha_addr(rk_brokerreg_t *r, char *buf, size_t len)
{
    uv_mutex_lock(&r->mu);
    snprintf(buf, len, "%s", r->master_ha);
    uv_mutex_unlock(&r->mu);
}

void rk_brokerreg_set_identity(rk_brokerreg_t *r, int64_t broker_id, const char *ha_addr)
{
    uv_mutex_lock(&r->mu);
    r->id = broker_id;
    if (ha_addr != NULL)
        snprintf(r->ha, sizeof r->ha, "%s", ha_addr);
    r->triggered = true;
    uv_cond_signal(&r->cond);
    uv_mutex_unlock(&r->mu);
}

void rk_brokerreg_stop(rk_brokerreg_t *r)
{
    if (r == NULL)
        return;
    uv_mutex_lock(&r->mu);
    r->stopping = true;
    uv_cond_signal(&r->cond);
    uv_mutex_unlock(&r->mu);
    uv_thread_join(&r->thread);
    for (int i = 0; i < r->nns; i++) {
        rk_cmd_t *resp = NULL;
        rk_cmd_t *req = header(r, RK_REQ_UNREGISTER_BROKER);
        if (req != NULL && rk_rclient_invoke_sync(r->rcl, r->ns[i], req, (int)r->timeout_ms, &resp) != RK_OK)
            rk_log_warn("brokerreg", "unregister from %s failed", r->ns[i]);
        rk_cmd_free(resp);
    }
    rk_rclient_free(r->rcl);
    uv_cond_destroy(&r->cond);
    uv_mutex_destroy(&r->mu);
    free(r);
}
