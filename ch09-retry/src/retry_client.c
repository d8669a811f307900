/* retry_client.c — the push consumer's send-back, fallback and topic restore (see rk/retry_client.h). */
#include "rk/retry_client.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "rk/error.h"
#include "rk/log.h"
#include "rk/request_code.h"
#include "rk/retry.h"

#define MAX_TOPICS 256              /* distinct original topics shown to listeners */

struct rk_retry_client {
    char group[RK_NAME_MAX];
    char retry_topic[RK_NAME_MAX];
    int max_reconsume;
    int32_t orderly_max;            /* orderly: RocketMQ's -1 means for ever */
    rk_producer_t *producer;        /* the fallback */
    atomic_long sent_back, fallbacks, to_dlq;
    uv_mutex_t mu;                  /* topics */
    char *topics[MAX_TOPICS];
    int ntopics;
};

long rk_retry_client_sent_back(rk_retry_client_t *rc) { return atomic_load(&rc->sent_back); }
long rk_retry_client_fallbacks(rk_retry_client_t *rc) { return atomic_load(&rc->fallbacks); }
long rk_retry_client_orderly_dlq(rk_retry_client_t *rc) { return atomic_load(&rc->to_dlq); }

/* A stable copy of topic (len bytes) that lives as long as rc; NULL when the table is full. */
static const char *intern(rk_retry_client_t *rc, const char *topic, size_t len)
{
    const char *out = NULL;
    uv_mutex_lock(&rc->mu);
    for (int i = 0; i < rc->ntopics && out == NULL; i++)
        if (strlen(rc->topics[i]) == len && memcmp(rc->topics[i], topic, len) == 0)
            out = rc->topics[i];
    if (out == NULL && rc->ntopics < MAX_TOPICS && (rc->topics[rc->ntopics] = strndup(topic, len)) != NULL)
        out = rc->topics[rc->ntopics++];
    uv_mutex_unlock(&rc->mu);
    return out;
}

/* resetRetryAndNamespace: a message of %RETRY%<group> is shown under its RETRY_TOPIC. */
static void before_consume(void *ctx, rk_push_consumer_t *pc, rk_msg_ext_t *msgs, size_t n)
{
    (void)pc;
    rk_retry_client_t *rc = ctx;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(msgs[i].topic, rc->retry_topic) != 0)
            continue;
        size_t len = 0;
        const char *orig = rk_props_get(msgs[i].props, msgs[i].props_len, RK_PROP_RETRY_TOPIC, &len);
        if (orig == NULL || len == 0 || len > RK_TOPIC_MAX_LEN)
            continue;
        const char *t = intern(rc, orig, len);
        if (t != NULL)
            msgs[i].topic = t;
    }
}

static bool send_back(rk_retry_client_t *rc, rk_push_consumer_t *pc, const rk_msg_ext_t *m)
{
    rk_mqclient_t *c = rk_push_consumer_client(pc);
    rk_cmd_t *req = rk_mqclient_request(RK_REQ_CONSUMER_SEND_MSG_BACK), *resp = NULL;
    if (req == NULL)
        return false;
    int rc_ = rk_cmd_ext_set_i64(req, "offset", m->commitlog_offset);
    if (rc_ == RK_OK) rc_ = rk_cmd_ext_set(req, "group", rc->group);
    if (rc_ == RK_OK) rc_ = rk_cmd_ext_set_i64(req, "delayLevel", 0);
    if (rc_ == RK_OK) rc_ = rk_cmd_ext_set(req, "originMsgId", m->msg_id);
    if (rc_ == RK_OK) rc_ = rk_cmd_ext_set(req, "originTopic", m->topic);
    if (rc_ == RK_OK) rc_ = rk_cmd_ext_set(req, "unitMode", "false");
    if (rc_ == RK_OK) rc_ = rk_cmd_ext_set_i64(req, "maxReconsumeTimes", rc->max_reconsume);
    char addr[RK_ADDR_MAX];
    if (rc_ != RK_OK || !rk_mqclient_master_addr(c, m->broker, addr, sizeof addr)) {
        rk_cmd_free(req);
        return false;
    }
    rc_ = rk_mqclient_invoke(c, addr, req, &resp);
    bool ok = rc_ == RK_OK && resp->code == RK_RESP_SUCCESS;
    if (!ok)
        rk_log_warn("retry", "%s: sending message %s back failed (%s); sending it to %s instead", rc->group, m->msg_id,
                    rc_ != RK_OK ? rk_strerror(rc_) : (resp->remark ? resp->remark : "refused"), rc->retry_topic);
    rk_cmd_free(resp);
    return ok;
}

/* The client's own copy to %RETRY%<group> (RocketMQ's fallback when send-back fails; the
 * orderly service's way to the DLQ), with RECONSUME_TIME = reconsume and MAX_RECONSUME_TIMES =
 * max: the broker parks it for DELAY, or puts it in the DLQ when reconsume >= max. */
static bool send_copy(rk_retry_client_t *rc, const rk_msg_ext_t *m, int32_t reconsume, int32_t max)
{
    rk_buf_t props = {0};
    static const char *const drop[] = {RK_PROP_RETRY_TOPIC, RK_PROP_RECONSUME_TIME, RK_PROP_MAX_RECONSUME_TIMES,
                                       RK_PROP_DELAY, RK_PROP_ORIGIN_MESSAGE_ID, RK_PROP_UNIQ_KEY, RK_PROP_WAIT,
                                       RK_PROP_REAL_TOPIC, RK_PROP_REAL_QID, "TRAN_MSG", NULL};
    char origin[RK_MSGID_MAX + 8] = "";
    if (rk_props_get_str(m->props, m->props_len, RK_PROP_ORIGIN_MESSAGE_ID, origin, sizeof origin) != RK_OK)
        origin[0] = '\0';
    rk_props_copy_without_any(&props, m->props, m->props_len, drop);
    char n1[24], n2[24], n3[24];
    snprintf(n1, sizeof n1, "%d", reconsume);
    snprintf(n2, sizeof n2, "%d", max);
    snprintf(n3, sizeof n3, "%d", 3 + m->reconsume_times);
    rk_props_put(&props, RK_PROP_RETRY_TOPIC, m->topic);
    rk_props_put(&props, RK_PROP_ORIGIN_MESSAGE_ID, origin[0] ? origin : m->msg_id);
    rk_props_put(&props, RK_PROP_RECONSUME_TIME, n1);
    rk_props_put(&props, RK_PROP_MAX_RECONSUME_TIMES, n2);
    rk_props_put(&props, RK_PROP_DELAY, n3);
    bool ok = false;
    if (props.err == 0) {
        rk_message_t msg = {.topic = rc->retry_topic, .body = m->body, .body_len = m->body_len, .flag = m->flag,
                            .props = (const char *)props.data, .props_len = props.len};
        rk_send_result_t r;
        int src = rk_producer_send(rc->producer, &msg, &r);
        ok = src == RK_OK;
        if (!ok)
            rk_log_warn("retry", "%s: sending message %s to %s failed too (%s); it is consumed again here",
                        rc->group, m->msg_id, rc->retry_topic, r.error[0] ? r.error : rk_strerror(src));
    }
    rk_buf_free(&props);
    return ok;
}

static bool consume_failed(void *ctx, rk_push_consumer_t *pc, const rk_msg_ext_t *m)
{
    rk_retry_client_t *rc = ctx;
    if (send_back(rc, pc, m)) {
        atomic_fetch_add(&rc->sent_back, 1);
        return true;
    }
    if (send_copy(rc, m, m->reconsume_times + 1, rc->max_reconsume)) {
        atomic_fetch_add(&rc->fallbacks, 1);
        return true;
    }
    return false;
}

/* ConsumeMessageOrderlyService.checkReconsumeTimes: a message failed max times goes to the DLQ
 * (through %RETRY%, redirected by the broker); the others count the attempt and the queue
 * pauses. True when every message is in the DLQ. */
static bool orderly_failed(void *ctx, rk_push_consumer_t *pc, rk_msg_ext_t *msgs, size_t n)
{
    (void)pc;
    rk_retry_client_t *rc = ctx;
    bool all = true;
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].reconsume_times >= rc->orderly_max &&
            send_copy(rc, &msgs[i], msgs[i].reconsume_times, rc->orderly_max)) {
            atomic_fetch_add(&rc->to_dlq, 1);
            continue;
        }
        all = false;
        if (msgs[i].reconsume_times < INT32_MAX)
            msgs[i].reconsume_times++;
    }
    return all;
}

int rk_retry_client_attach(rk_push_consumer_t *pc, const rk_retry_client_config_t *cfg, rk_retry_client_t **out)
{
    *out = NULL;
    if (pc == NULL || cfg == NULL || cfg->namesrv == NULL || cfg->max_reconsume_times < -1)
        return RK_EINVAL;
    rk_retry_client_t *rc = calloc(1, sizeof *rc);
    if (rc == NULL)
        return RK_ENOMEM;
    const char *group = rk_push_consumer_group(pc);
    snprintf(rc->group, sizeof rc->group, "%s", group);
    int n = snprintf(rc->retry_topic, sizeof rc->retry_topic, "%s%s", RK_RETRY_PREFIX, group);
    rc->max_reconsume = cfg->max_reconsume_times > 0 ? cfg->max_reconsume_times : 16;
    rc->orderly_max = cfg->max_reconsume_times > 0 ? cfg->max_reconsume_times : INT32_MAX;
    if (n <= 0 || (size_t)n >= sizeof rc->retry_topic || uv_mutex_init(&rc->mu) != 0) {
        free(rc);
        return RK_EINVAL;
    }
    /* RocketMQ's client uses its inner producer group CLIENT_INNER_PRODUCER */
    char inst[64];
    snprintf(inst, sizeof inst, "retry-%p", (void *)rc);
    rk_producer_config_t prc = {.namesrv = cfg->namesrv, .group = "CLIENT_INNER_PRODUCER", .instance_name = inst,
                                .timeout_ms = cfg->timeout_ms, .access_key = cfg->access_key,
                                .secret_key = cfg->secret_key};
    int rc_ = rk_producer_new(&prc, &rc->producer);
    rk_push_consumer_hooks_t hooks = {.before_consume = before_consume, .consume_failed = consume_failed,
                                      .orderly_failed = orderly_failed, .ctx = rc};
    if (rc_ == RK_OK)
        rc_ = rk_push_consumer_set_hooks(pc, &hooks);
    if (rc_ != RK_OK) {
        rk_producer_free(rc->producer);
        uv_mutex_destroy(&rc->mu);
        free(rc);
        return rc_;
    }
    *out = rc;
    return RK_OK;
}

void rk_retry_client_free(rk_retry_client_t *rc)
{
    if (rc == NULL)
        return;
    rk_producer_free(rc->producer);
    for (int i = 0; i < rc->ntopics; i++)
        free(rc->topics[i]);
    uv_mutex_destroy(&rc->mu);
    free(rc);
}
