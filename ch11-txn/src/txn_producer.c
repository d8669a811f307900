/* txn_producer.c — the transactional producer: half send, local transaction, END_TRANSACTION,
 * and the check-back threads (see rk/txn_producer.h). */
#include "rk/txn_producer.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "rk/error.h"
#include "rk/log.h"
#include "rk/message.h"
#include "rk/names.h"
#include "rk/request_code.h"
#include "rk/thread.h"

#define CHECK_THREADS_MAX 16
#define CHECK_QUEUE_DEFAULT 2000
#define CHECK_QUEUE_BYTES_MAX (64u << 20)  /* message bytes queued for check threads */
#define HB_BROKERS 32                      /* broker names already told about the group */
#define ID_MAX 128

/* One CHECK_TRANSACTION_STATE waiting for a check thread. */
typedef struct check_job {
    struct check_job *next;
    char addr[RK_ADDR_MAX];             /* the broker that asked, where the answer goes */
    int64_t tran_off, clog_off;
    char transaction_id[ID_MAX];
    rk_msg_list_t *msg;                 /* exactly one message */
    size_t bytes;
} check_job_t;

struct rk_txn_producer {
    rk_producer_t *p;
    rk_mqclient_t *c;
    char group[RK_NAME_MAX];
    rk_txn_check_fn check;
    void *check_arg;
    int nthreads, queue_max;

    uv_mutex_t mu;                      /* everything below */
    uv_cond_t cond;
    check_job_t *head, *tail;
    int queued;
    size_t queued_bytes;
    bool stopping;
    char hb[HB_BROKERS][RK_NAME_MAX];   /* brokers a heartbeat reached since a half went there */
    int nhb;
    rk_txn_producer_stats_t st;

    uv_thread_t threads[CHECK_THREADS_MAX];
    int started;
};

const char *rk_txn_state_name(rk_txn_state_t s)
{
    switch (s) {
    case RK_TXN_COMMIT: return "COMMIT";
    case RK_TXN_ROLLBACK: return "ROLLBACK";
    case RK_TXN_UNKNOWN: return "UNKNOWN";
    }
    return "?";
}

static bool state_valid(int s)
{
    return s == RK_TXN_COMMIT || s == RK_TXN_ROLLBACK || s == RK_TXN_UNKNOWN;
}

/* ---- END_TRANSACTION ---- */

rk_cmd_t *rk_txn_end_request(const rk_txn_end_t *e, int *err)
{
    int dummy;
    err = err ? err : &dummy;
    *err = RK_EINVAL;
    if (e == NULL || e->group == NULL || !*e->group || e->msg_id == NULL || !*e->msg_id ||
        e->tran_state_table_offset < 0 || e->commit_log_offset < 0 || !state_valid((int)e->state))
        return NULL;
    *err = RK_ENOMEM;
    rk_cmd_t *req = rk_mqclient_request(RK_REQ_END_TRANSACTION);
    if (req == NULL)
        return NULL;
    int rc = rk_cmd_ext_set(req, "producerGroup", e->group);
    if (rc == RK_OK) rc = rk_cmd_ext_set_i64(req, "tranStateTableOffset", e->tran_state_table_offset);
    if (rc == RK_OK) rc = rk_cmd_ext_set_i64(req, "commitLogOffset", e->commit_log_offset);
    if (rc == RK_OK) rc = rk_cmd_ext_set_i64(req, "commitOrRollback", (int64_t)e->state);
    if (rc == RK_OK) rc = rk_cmd_ext_set(req, "fromTransactionCheck", e->from_check ? "true" : "false");
    if (rc == RK_OK) rc = rk_cmd_ext_set(req, "msgId", e->msg_id);
    if (rc == RK_OK && e->transaction_id != NULL && *e->transaction_id)
        rc = rk_cmd_ext_set(req, "transactionId", e->transaction_id);
    if (rc != RK_OK) {
        rk_cmd_free(req);
        return NULL;
    }
    *err = RK_OK;
    return req;
}

rk_cmd_t *rk_txn_end_for_half(const char *group, const rk_send_result_t *half, rk_txn_state_t state, int *err)
{
    int dummy;
    err = err ? err : &dummy;
    rk_host_t host;
    int64_t clog = -1;
    /* RocketMQ decodes offsetMsgId when there is one, else msgId (an old broker's answer) */
    if (half == NULL || rk_msgid_decode(half->offset_msg_id[0] ? half->offset_msg_id : half->msg_id, &host, &clog) !=
            RK_OK || half->queue_offset < 0) {
        *err = RK_EINVAL;
        return NULL;
    }
    rk_txn_end_t e = {.group = group, .tran_state_table_offset = half->queue_offset, .commit_log_offset = clog,
                      .state = state, .from_check = false, .msg_id = half->msg_id,
                      .transaction_id = half->msg_id};
    return rk_txn_end_request(&e, err);
}

/* ---- heartbeats: the broker looks for a live producer of the group among its heartbeats ---- */

/* After a half reached `broker` for the first time, tell it about the group now rather than at
 * the next 30 s heartbeat, so a check-back never finds the group empty. */
static void heartbeat_once(rk_txn_producer_t *tp, const char *broker)
{
    uv_mutex_lock(&tp->mu);
    bool known = false;
    for (int i = 0; i < tp->nhb && !known; i++)
        known = strcmp(tp->hb[i], broker) == 0;
    uv_mutex_unlock(&tp->mu);
    if (known)
        return;
    if (rk_mqclient_heartbeat_now(tp->c) <= 0)
        return;                         /* try again after the next half */
    uv_mutex_lock(&tp->mu);
    if (tp->nhb < HB_BROKERS) {
        bool again = false;
        for (int i = 0; i < tp->nhb && !again; i++)
            again = strcmp(tp->hb[i], broker) == 0;
        if (!again)
            snprintf(tp->hb[tp->nhb++], RK_NAME_MAX, "%s", broker);
    }
    uv_mutex_unlock(&tp->mu);
}

/* ---- the send path ---- */

static int fail(rk_txn_send_result_t *r, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(rk_txn_send_result_t *r, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    return rc;
}

/* The caller's properties without what a transaction may not carry, plus TRAN_MSG and PGROUP. */
static int half_props(const rk_txn_producer_t *tp, const rk_message_t *m, rk_buf_t *out)
{
    static const char *const drop[] = {RK_PROP_DELAY, RK_PROP_TRAN_MSG, RK_PROP_PGROUP, "TIMER_DELIVER_MS",
                                       "TIMER_DELAY_SEC", "TIMER_DELAY_MS", NULL};
    int rc = RK_OK;
    if (m->props != NULL && m->props_len > 0)
        rc = rk_props_copy_without_any(out, m->props, m->props_len, drop);
    if (rc == RK_OK) rc = rk_props_put(out, RK_PROP_TRAN_MSG, "true");
    if (rc == RK_OK) rc = rk_props_put(out, RK_PROP_PGROUP, tp->group);
    return rc != RK_OK ? rc : out->err;
}

int rk_txn_producer_send(rk_txn_producer_t *tp, const rk_message_t *m, rk_txn_execute_fn execute, void *arg,
                         rk_txn_send_result_t *r)
{
    rk_txn_send_result_t scratch;
    r = r ? r : &scratch;
    memset(r, 0, sizeof *r);
    r->state = RK_TXN_UNKNOWN;
    r->end_status = RK_EINVAL;
    if (tp == NULL)
        return fail(r, RK_EINVAL, "no producer");
    if (execute == NULL)
        return fail(r, RK_EINVAL, "no local-transaction callback: a transactional send needs one");
    if (m == NULL)
        return fail(r, RK_EINVAL, "no message");
    if (m->props_len > 0 && m->props == NULL)
        return fail(r, RK_EINVAL, "props_len without props");
    rk_buf_t props = {0};
    int rc = half_props(tp, m, &props);
    if (rc != RK_OK) {
        rk_buf_free(&props);
        return fail(r, rc, "the message properties: %s", rk_strerror(rc));
    }
    rk_message_t half = *m;
    half.props = (const char *)props.data;
    half.props_len = props.len;
    rc = rk_producer_send(tp->p, &half, &r->half);
    rk_buf_free(&props);
    if (rc != RK_OK)
        return fail(r, rc, "the half message was not stored: %s", r->half.error[0] ? r->half.error : rk_strerror(rc));

    heartbeat_once(tp, r->half.mq.broker);
    if (r->half.status == RK_SEND_OK) {
        int s = (int)execute(arg, m, &r->half);
        r->executed = true;
        if (!state_valid(s)) {
            rk_log_warn("txn", "local transaction of %s returned %d, not a state: UNKNOWN", r->half.msg_id, s);
            s = RK_TXN_UNKNOWN;
        }
        r->state = (rk_txn_state_t)s;
    } else {
        /* stored, but maybe not durable or not replicated: as RocketMQ, roll back unexecuted */
        r->state = RK_TXN_ROLLBACK;
    }

    char addr[RK_ADDR_MAX];
    int err = RK_OK;
    rk_cmd_t *req = NULL;
    if (!rk_mqclient_master_addr(tp->c, r->half.mq.broker, addr, sizeof addr)) {
        err = RK_ENOTFOUND;
        fail(r, RK_OK, "END_TRANSACTION not sent: broker %s has no master address now (it will check back)",
             r->half.mq.broker);
    } else if ((req = rk_txn_end_for_half(tp->group, &r->half, r->state, &err)) == NULL) {
        fail(r, RK_OK, "END_TRANSACTION not sent: %s (offsetMsgId %s, queue offset %" PRId64 ")",
             rk_strerror(err), r->half.offset_msg_id, r->half.queue_offset);
    } else if ((err = rk_rclient_invoke_oneway(rk_mqclient_remoting(tp->c), addr, req)) != RK_OK) {
        fail(r, RK_OK, "END_TRANSACTION to %s failed: %s (the broker will check back)", addr, rk_strerror(err));
    }
    r->end_status = err;
    uv_mutex_lock(&tp->mu);
    tp->st.sends++;
    if (err != RK_OK)
        tp->st.end_failures++;
    else if (r->state == RK_TXN_COMMIT)
        tp->st.commits++;
    else if (r->state == RK_TXN_ROLLBACK)
        tp->st.rollbacks++;
    else
        tp->st.unknowns++;
    uv_mutex_unlock(&tp->mu);
    if (err != RK_OK)
        rk_log_warn("txn", "%s", r->error);
    return RK_OK;
}

/* ---- check-back ---- */

static void job_free(check_job_t *j)
{
    if (j != NULL) {
        rk_msg_list_free(j->msg);
        free(j);
    }
}

static void count(rk_txn_producer_t *tp, uint64_t *field)
{
    uv_mutex_lock(&tp->mu);
    (*field)++;
    uv_mutex_unlock(&tp->mu);
}

/* CHECK_TRANSACTION_STATE, on the network thread: validate, queue, return at once. The broker
 * sends it oneway: no response either way. */
static rk_cmd_t *on_check(void *ctx, const char *addr, const rk_cmd_t *req)
{
    rk_txn_producer_t *tp = ctx;
    uv_mutex_lock(&tp->mu);
    tp->st.checks_received++;
    bool stopping = tp->stopping;
    uv_mutex_unlock(&tp->mu);
    if (stopping) {
        count(tp, &tp->st.checks_dropped);
        return NULL;
    }
    int64_t tran_off = -1, clog_off = -1;
    const char *tid = rk_cmd_ext_get(req, "transactionId");
    if (rk_cmd_ext_i64(req, "tranStateTableOffset", &tran_off) != RK_OK || tran_off < 0 ||
        rk_cmd_ext_i64(req, "commitLogOffset", &clog_off) != RK_OK || clog_off < 0 ||
        (tid != NULL && strlen(tid) >= ID_MAX) || req->body == NULL || req->body_len == 0 ||
        strlen(addr) >= RK_ADDR_MAX) {
        rk_log_warn("txn", "CHECK_TRANSACTION_STATE from %s without valid offsets or message: ignored", addr);
        count(tp, &tp->st.checks_rejected);
        return NULL;
    }
    check_job_t *j = calloc(1, sizeof *j);
    uint8_t *raw = j ? malloc(req->body_len) : NULL;
    if (raw == NULL) {
        free(j);
        count(tp, &tp->st.checks_dropped);
        return NULL;
    }
    memcpy(raw, req->body, req->body_len);
    int rc = rk_msg_list_decode(raw, req->body_len, &j->msg);     /* takes raw */
    char group[RK_NAME_MAX] = "";
    if (rc != RK_OK || j->msg->n != 1 ||
        rk_msg_prop(&j->msg->msgs[0], RK_PROP_PGROUP, group, sizeof group) != RK_OK ||
        strcmp(group, tp->group) != 0) {
        rk_log_warn("txn", "CHECK_TRANSACTION_STATE from %s: %s: ignored", addr,
                    rc != RK_OK ? "the message does not decode" : j->msg->n != 1 ? "not one message"
                    : group[0] ? "another producer group's half" : "the half names no producer group");
        job_free(j);
        count(tp, &tp->st.checks_rejected);
        return NULL;
    }
    snprintf(j->addr, sizeof j->addr, "%s", addr);
    j->tran_off = tran_off;
    j->clog_off = clog_off;
    snprintf(j->transaction_id, sizeof j->transaction_id, "%s", tid ? tid : "");
    j->bytes = req->body_len;
    uv_mutex_lock(&tp->mu);
    bool full = tp->stopping || tp->queued >= tp->queue_max || tp->queued_bytes + j->bytes > CHECK_QUEUE_BYTES_MAX;
    if (!full) {
        if (tp->tail)
            tp->tail->next = j;
        else
            tp->head = j;
        tp->tail = j;
        tp->queued++;
        tp->queued_bytes += j->bytes;
        uv_cond_signal(&tp->cond);
    } else {
        tp->st.checks_dropped++;
        if (tp->st.checks_dropped % 1000 == 1)
            rk_log_warn("txn", "check queue full (%d waiting): check of %s dropped, %" PRIu64 " so far; the broker "
                        "asks again", tp->queued, j->msg->msgs[0].msg_id, tp->st.checks_dropped);
    }
    uv_mutex_unlock(&tp->mu);
    if (full)
        job_free(j);
    return NULL;
}

static void answer(rk_txn_producer_t *tp, check_job_t *j)
{
    const rk_msg_ext_t *m = &j->msg->msgs[0];
    int s = (int)tp->check(tp->check_arg, m);
    if (!state_valid(s)) {
        rk_log_warn("txn", "check of %s returned %d, not a state: UNKNOWN", m->msg_id, s);
        s = RK_TXN_UNKNOWN;
    }
    /* msgId: the half's UNIQ_KEY (rk_msg_ext_t.msg_id is it, or the offset id when none) */
    rk_txn_end_t e = {.group = tp->group, .tran_state_table_offset = j->tran_off, .commit_log_offset = j->clog_off,
                      .state = (rk_txn_state_t)s, .from_check = true, .msg_id = m->msg_id,
                      .transaction_id = j->transaction_id};
    int err;
    rk_cmd_t *req = rk_txn_end_request(&e, &err);
    if (req != NULL)
        err = rk_rclient_invoke_oneway(rk_mqclient_remoting(tp->c), j->addr, req);
    if (err != RK_OK)
        rk_log_warn("txn", "answer to the check of %s (%s) not sent to %s: %s", m->msg_id, rk_txn_state_name(s),
                    j->addr, rk_strerror(err));
    count(tp, err == RK_OK ? &tp->st.checks_answered : &tp->st.end_failures);
}

static void check_thread(void *arg)
{
    rk_txn_producer_t *tp = arg;
    (void)rk_thread_init("rk-txn-check", RK_THREAD_NORMAL);
    uv_mutex_lock(&tp->mu);
    for (;;) {
        while (tp->head == NULL && !tp->stopping)
            uv_cond_wait(&tp->cond, &tp->mu);
        if (tp->stopping)
            break;
        check_job_t *j = tp->head;
        tp->head = j->next;
        if (tp->head == NULL)
            tp->tail = NULL;
        tp->queued--;
        tp->queued_bytes -= j->bytes;
        uv_mutex_unlock(&tp->mu);
        answer(tp, j);
        job_free(j);
        uv_mutex_lock(&tp->mu);
    }
    uv_mutex_unlock(&tp->mu);
}

/* ---- life cycle ---- */

static int bad(const char *why)
{
    rk_log_error("txn", "transactional producer: %s", why);
    return RK_EINVAL;
}

static void stop_threads(rk_txn_producer_t *tp)
{
    uv_mutex_lock(&tp->mu);
    tp->stopping = true;
    uv_cond_broadcast(&tp->cond);
    uv_mutex_unlock(&tp->mu);
    for (int i = 0; i < tp->started; i++)
        uv_thread_join(&tp->threads[i]);
    tp->started = 0;
    uv_mutex_lock(&tp->mu);
    while (tp->head != NULL) {
        check_job_t *j = tp->head;
        tp->head = j->next;
        tp->st.checks_dropped++;
        job_free(j);
    }
    tp->tail = NULL;
    tp->queued = 0;
    tp->queued_bytes = 0;
    uv_mutex_unlock(&tp->mu);
}

int rk_txn_producer_new(const rk_txn_producer_config_t *cfg, rk_txn_producer_t **out)
{
    if (out == NULL)
        return RK_EINVAL;
    *out = NULL;
    if (cfg == NULL)
        return bad("no configuration");
    if (cfg->producer.namesrv == NULL || !*cfg->producer.namesrv)
        return bad("no name server (producer.namesrv)");
    if (cfg->producer.group == NULL || !*cfg->producer.group)
        return bad("no producer group: the broker finds a producer to ask by its group");
    if (cfg->check == NULL)
        return bad("no check callback: the broker's check-back needs one");
    if (cfg->check_threads < 0 || cfg->check_threads > CHECK_THREADS_MAX)
        return bad("check_threads out of range (0..16)");
    if (cfg->check_queue_max < 0 || cfg->check_queue_max > 1000000)
        return bad("check_queue_max out of range (0..1000000)");
    rk_txn_producer_t *tp = calloc(1, sizeof *tp);
    if (tp == NULL)
        return RK_ENOMEM;
    snprintf(tp->group, sizeof tp->group, "%s", cfg->producer.group);
    tp->check = cfg->check;
    tp->check_arg = cfg->check_arg;
    tp->nthreads = cfg->check_threads > 0 ? cfg->check_threads : 1;
    tp->queue_max = cfg->check_queue_max > 0 ? cfg->check_queue_max : CHECK_QUEUE_DEFAULT;
    if (uv_mutex_init(&tp->mu) != 0) {
        free(tp);
        return RK_ENOMEM;
    }
    if (uv_cond_init(&tp->cond) != 0) {
        uv_mutex_destroy(&tp->mu);
        free(tp);
        return RK_ENOMEM;
    }
    int rc = rk_producer_new(&cfg->producer, &tp->p);
    if (rc != RK_OK) {
        uv_cond_destroy(&tp->cond);
        uv_mutex_destroy(&tp->mu);
        free(tp);
        return rc == RK_EINVAL ? bad("the producer settings were refused (name server list, group name)") : rc;
    }
    tp->c = rk_producer_client(tp->p);
    /* before any request of this client: the processor table is read on the network thread */
    rc = rk_rclient_register(rk_mqclient_remoting(tp->c), RK_REQ_CHECK_TRANSACTION_STATE, on_check, tp);
    for (int i = 0; rc == RK_OK && i < tp->nthreads; i++) {
        if (uv_thread_create(&tp->threads[i], check_thread, tp) != 0)
            rc = RK_ENOMEM;
        else
            tp->started++;
    }
    if (rc != RK_OK) {
        rk_txn_producer_free(tp);
        return rc;
    }
    /* routes first, so the heartbeat reaches the brokers holding this group's halves */
    rk_topic_route_t *route = NULL;
    if (rk_mqclient_route(tp->c, RK_DEFAULT_TOPIC, false, &route) == RK_OK)
        rk_topic_route_release(route);
    for (size_t i = 0; cfg->topics != NULL && cfg->topics[i] != NULL; i++) {
        route = NULL;
        if (rk_mqclient_route(tp->c, cfg->topics[i], false, &route) == RK_OK)
            rk_topic_route_release(route);
    }
    rk_mqclient_heartbeat_now(tp->c);
    *out = tp;
    return RK_OK;
}

void rk_txn_producer_free(rk_txn_producer_t *tp)
{
    if (tp == NULL)
        return;
    stop_threads(tp);
    rk_producer_free(tp->p);            /* the network thread stops: on_check runs no more */
    uv_cond_destroy(&tp->cond);
    uv_mutex_destroy(&tp->mu);
    free(tp);
}

void rk_txn_producer_stats(rk_txn_producer_t *tp, rk_txn_producer_stats_t *out)
{
    uv_mutex_lock(&tp->mu);
    *out = tp->st;
    uv_mutex_unlock(&tp->mu);
}

rk_producer_t *rk_txn_producer_base(rk_txn_producer_t *tp)
{
    return tp->p;
}
