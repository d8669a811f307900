/* test_txn.c — chapter 11's broker on the wire: half messages, END_TRANSACTION, the check-back
 * service, the pending query; real mqnamesrv / mqbroker processes on loopback (rcluster.h).
 *
 * The producer here is played by hand with chapter 7's client: halves are sent with TRAN_MSG /
 * PGROUP, END_TRANSACTION through rk_mqclient_invoke, and CHECK_TRANSACTION_STATE arrives at a
 * processor registered on the client (rk_rclient_register), which records it; the test decides
 * whether to answer. Consumers are plain pulls of the real topic. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/tk_pair.h"
#include "rk/tk_rcluster.h"
#include "rk/testkit.h"
#include "rk/tk_send.h"
#include "rk/buf.h"
#include "rk/client_message.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/json.h"
#include "rk/log.h"
#include "rk/message.h"
#include "rk/mqclient.h"
#include "rk/request_code.h"
#include "rk/txn.h"

#define PG "txn_pg"
#define TOPIC "TxnTopic"
/* checks every 300 ms of halves older than 500 ms, 3 checks before giving up */
#define FAST "transactionCheckInterval=300\ntransactionTimeOut=500\ntransactionCheckMax=3\n"
#define MAX_CHECKS 256

typedef struct check {
    int64_t tsoff, cloff, times;
    char msg_id[128], txn_id[128], offset_msg_id[RK_MSGID_MAX], topic[128];
    int32_t queue_id;
} check_t;

typedef struct tprod {
    rk_mqclient_t *mc;
    pthread_mutex_t mu;
    check_t checks[MAX_CHECKS];
    int n;
    const char *group;
} tprod_t;

typedef struct half {
    char msg_id[RK_MSGID_MAX], uniq[64];
    int64_t qoff, cloff;
} half_t;

static void copy_ext(const rk_cmd_t *req, const char *key, char *out, size_t len)
{
    const char *v = rk_cmd_ext_get(req, key);
    snprintf(out, len, "%s", v ? v : "");
}

/* CHECK_TRANSACTION_STATE on the client's loop thread: record it, answer nothing (oneway). */
static rk_cmd_t *on_check(void *ctx, const char *addr, const rk_cmd_t *req)
{
    (void)addr;
    tprod_t *p = ctx;
    check_t c = {.times = -1};
    rk_cmd_ext_i64(req, "tranStateTableOffset", &c.tsoff);
    rk_cmd_ext_i64(req, "commitLogOffset", &c.cloff);
    copy_ext(req, "msgId", c.msg_id, sizeof c.msg_id);
    copy_ext(req, "transactionId", c.txn_id, sizeof c.txn_id);
    copy_ext(req, "offsetMsgId", c.offset_msg_id, sizeof c.offset_msg_id);
    rk_record_t rec;
    if (req->body != NULL && rk_record_decode(req->body, req->body_len, true, &rec) == RK_OK) {
        snprintf(c.topic, sizeof c.topic, "%.*s", (int)rec.topic_len, rec.topic);
        c.queue_id = rec.queue_id;
        char v[24];
        if (rk_props_get_str(rec.props, rec.props_len, RK_PROP_TRANSACTION_CHECK_TIMES, v, sizeof v) == RK_OK)
            c.times = atoll(v);
    }
    pthread_mutex_lock(&p->mu);
    if (p->n < MAX_CHECKS)
        p->checks[p->n++] = c;
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void fill_hb(void *arg, cJSON *producers, cJSON *consumers)
{
    (void)consumers;
    tprod_t *p = arg;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "groupName", p->group);
    cJSON_AddItemToArray(producers, o);
}

/* A producer of group on the cluster behind name server ns: heartbeats every 300 ms to the
 * masters of TBW102's route (refreshed every 300 ms, so it follows a failover). */
static void tp_start_ns(tprod_t *p, const char *ns, const char *group)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    p->group = group;
    rk_mqclient_config_t cfg = {.namesrv = ns, .timeout_ms = 5000, .heartbeat_ms = 300, .route_refresh_ms = 300};
    cr_assert_eq(rk_mqclient_new(&cfg, &p->mc), RK_OK);
    cr_assert_eq(rk_rclient_register(rk_mqclient_remoting(p->mc), RK_REQ_CHECK_TRANSACTION_STATE, on_check, p), RK_OK);
    rk_topic_route_t *r = NULL;
    cr_assert_eq(rk_mqclient_route(p->mc, RK_DEFAULT_TOPIC, true, &r), RK_OK);
    rk_topic_route_release(r);
    rk_mqclient_set_heartbeat(p->mc, fill_hb, p);
    cr_assert_eq(rk_mqclient_heartbeat_now(p->mc), 1);
}

static void tp_start(tprod_t *p, rk_rc_cluster_t *c, const char *group)
{
    tp_start_ns(p, c->ns, group);
}

static void tp_stop(tprod_t *p)
{
    rk_mqclient_free(p->mc);
    pthread_mutex_destroy(&p->mu);
}

static int tp_count(tprod_t *p)
{
    pthread_mutex_lock(&p->mu);
    int n = p->n;
    pthread_mutex_unlock(&p->mu);
    return n;
}

static check_t tp_check(tprod_t *p, int i)
{
    pthread_mutex_lock(&p->mu);
    check_t c = p->checks[i];
    pthread_mutex_unlock(&p->mu);
    return c;
}

/* The checks received once those already on their way arrived (a pass that decided before an
 * END_TRANSACTION may still be sending): two passes' worth of waiting. */
static int settled_checks(tprod_t *p)
{
    usleep(700000);
    return tp_count(p);
}

/* Waits (bounded) until the producer got at least n checks. */
static bool wait_checks(tprod_t *p, int n, int ms)
{
    for (int i = 0; i < ms / 20 && tp_count(p) < n; i++)
        usleep(20000);
    return tp_count(p) >= n;
}

static int raw_send(rk_rclient_t *rc, const char *addr, const char *topic, const char *group, bool txn,
                    const char *body, half_t *out)
{
    static int seq;
    memset(out, 0, sizeof *out);
    snprintf(out->uniq, sizeof out->uniq, "7F000001%08X%016llX", (unsigned)getpid(), (unsigned long long)++seq);
    char props[512];
    snprintf(props, sizeof props, "%s%s%s%sUNIQ_KEY\001%s\002KEYS\001%s\002WAIT\001true",
             txn ? "TRAN_MSG\001true\002" : "", group ? "PGROUP\001" : "", group ? group : "", group ? "\002" : "",
             out->uniq, body);
    rk_cmd_t *req = rk_tk_send_request(&(rk_tk_send_spec_t){
        .group = group ? group : PG, .topic = topic, .sys_flag = txn ? RK_SYSFLAG_TXN_PREPARED : 0, .props = props,
        .last = 'j', .binary = true, .body = body});
    rk_cmd_t *resp = NULL;
    if (req == NULL || rk_rclient_invoke_sync(rc, addr, req, 5000, &resp) != RK_OK)
        return -1;
    int code = resp->code;
    if (code == RK_RESP_SUCCESS) {
        copy_ext(resp, "msgId", out->msg_id, sizeof out->msg_id);
        cr_assert_eq(rk_cmd_ext_i64(resp, "queueOffset", &out->qoff), RK_OK);
        rk_host_t h;
        cr_assert_eq(rk_msgid_decode(out->msg_id, &h, &out->cloff), RK_OK);
    }
    rk_cmd_free(resp);
    return code;
}

static int send_msg(tprod_t *p, rk_rc_cluster_t *c, const char *topic, const char *group, bool txn, const char *body,
                    half_t *out)
{
    return raw_send(rk_mqclient_remoting(p->mc), c->br, topic, group, txn, body, out);
}

static half_t send_half(tprod_t *p, rk_rc_cluster_t *c, const char *body)
{
    half_t h;
    cr_assert_eq(send_msg(p, c, TOPIC, p->group, true, body, &h), RK_RESP_SUCCESS);
    return h;
}

/* END_TRANSACTION; returns the response code, remark into remark (may be NULL). */
static int raw_end_txn(rk_rclient_t *rc, const char *addr, const char *group, int64_t tsoff, int64_t cloff,
                       const char *uniq, int kind, bool from_check, char *remark, size_t rlen)
{
    rk_cmd_t *req = rk_mqclient_request(RK_REQ_END_TRANSACTION);
    rk_cmd_ext_set(req, "producerGroup", group);
    rk_cmd_ext_set_i64(req, "tranStateTableOffset", tsoff);
    rk_cmd_ext_set_i64(req, "commitLogOffset", cloff);
    rk_cmd_ext_set_i64(req, "commitOrRollback", kind);
    rk_cmd_ext_set(req, "fromTransactionCheck", from_check ? "true" : "false");
    rk_cmd_ext_set(req, "msgId", uniq);
    rk_cmd_ext_set(req, "transactionId", uniq);
    rk_cmd_t *resp = NULL;
    if (rk_rclient_invoke_sync(rc, addr, req, 5000, &resp) != RK_OK)
        return -1;
    int code = resp->code;
    if (remark)
        snprintf(remark, rlen, "%s", resp->remark ? resp->remark : "");
    rk_cmd_free(resp);
    return code;
}

static int end_txn(tprod_t *p, rk_rc_cluster_t *c, const char *group, int64_t tsoff, int64_t cloff, const char *uniq,
                   int kind, bool from_check, char *remark, size_t rlen)
{
    return raw_end_txn(rk_mqclient_remoting(p->mc), c->br, group, tsoff, cloff, uniq, kind, from_check, remark, rlen);
}

/* Every message in topic queue 0 from offset 0 (one pull). */
static rk_msg_list_t *pull_all(tprod_t *p, rk_rc_cluster_t *c, const char *topic)
{
    rk_cmd_t *req = rk_tk_pull_request(&(rk_tk_pull_spec_t){.group = "txn_cg", .topic = topic, .binary = true});
    cr_assert(req != NULL);
    rk_cmd_t *resp = NULL;
    cr_assert_eq(rk_mqclient_invoke(p->mc, c->br, req, &resp), RK_OK);
    rk_msg_list_t *l = NULL;
    if (resp->code == RK_RESP_SUCCESS && resp->body_len > 0) {
        uint8_t *raw = resp->body;
        size_t len = resp->body_len;
        resp->body = NULL;
        resp->body_len = 0;
        cr_assert_eq(rk_msg_list_decode(raw, len, &l), RK_OK);
    }
    rk_cmd_free(resp);
    return l;
}

static size_t count_msgs(tprod_t *p, rk_rc_cluster_t *c, const char *topic)
{
    rk_msg_list_t *l = pull_all(p, c, topic);
    size_t n = l ? l->n : 0;
    rk_msg_list_free(l);
    return n;
}

static bool wait_msgs(tprod_t *p, rk_rc_cluster_t *c, const char *topic, size_t n, int ms)
{
    for (int i = 0; i < ms / 20 && count_msgs(p, c, topic) < n; i++)
        usleep(20000);
    return count_msgs(p, c, topic) >= n;
}

/* Waits (bounded) until topic queue 0 holds at least n messages (GET_MAX_OFFSET). */
static bool wait_msgs_n(tprod_t *p, rk_rc_cluster_t *c, const char *topic, int64_t n, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_GET_MAX_OFFSET), *resp = NULL;
        rk_cmd_ext_set(req, "topic", topic);
        rk_cmd_ext_set(req, "queueId", "0");
        cr_assert_eq(rk_mqclient_invoke(p->mc, c->br, req, &resp), RK_OK);
        int64_t max = -1;
        rk_cmd_ext_i64(resp, "offset", &max);
        rk_cmd_free(resp);
        if (max >= n)
            return true;
        usleep(20000);
    }
    return false;
}

static cJSON *query_pending_limit(tprod_t *p, rk_rc_cluster_t *c, const char *group, const char *limit)
{
    rk_cmd_t *req = rk_mqclient_request(RK_REQ_QUERY_TXN_PENDING);
    if (group)
        rk_cmd_ext_set(req, "producerGroup", group);
    if (limit)
        rk_cmd_ext_set(req, "limit", limit);
    rk_cmd_t *resp = NULL;
    cr_assert_eq(rk_mqclient_invoke(p->mc, c->br, req, &resp), RK_OK);
    cr_assert_eq(resp->code, RK_RESP_SUCCESS);
    cJSON *j = rk_json_parse((const char *)resp->body, resp->body_len);
    cr_assert_not_null(j);
    rk_cmd_free(resp);
    return j;
}

static cJSON *query_pending(tprod_t *p, rk_rc_cluster_t *c, const char *group)
{
    return query_pending_limit(p, c, group, NULL);
}

static cJSON *group_of(cJSON *q, const char *group)
{
    cJSON *g;
    cJSON_ArrayForEach(g, cJSON_GetObjectItem(q, "groups"))
        if (strcmp(rk_json_get_str(g, "producerGroup"), group) == 0)
            return g;
    return NULL;
}

/* A GET_BROKER_RUNTIME_INFO figure as a number (-1 if absent). */
static int64_t runtime_i64(rk_rc_cluster_t *c, const char *key)
{
    rk_cmd_t *resp = rk_rc_call(c->br, rk_cmd_new(RK_REQ_GET_BROKER_RUNTIME_INFO));
    cr_assert_not_null(resp);
    cJSON *root = resp->code == 0 ? rk_json_parse((const char *)resp->body, resp->body_len) : NULL;
    const char *v = rk_json_get_str(cJSON_GetObjectItemCaseSensitive(root, "table"), key);
    int64_t x = v ? atoll(v) : -1;
    cJSON_Delete(root);
    rk_cmd_free(resp);
    return x;
}

/* The stored record at commitlog offset phys (VIEW_MESSAGE_BY_ID), decoded into *rec; the
 * response (which rec points into) is returned for the caller to free. */
static rk_cmd_t *view_record(tprod_t *p, rk_rc_cluster_t *c, int64_t phys, rk_record_t *rec)
{
    rk_cmd_t *req = rk_mqclient_request(RK_REQ_VIEW_MESSAGE_BY_ID), *resp = NULL;
    rk_cmd_ext_set_i64(req, "offset", phys);
    cr_assert_eq(rk_mqclient_invoke(p->mc, c->br, req, &resp), RK_OK);
    cr_assert_eq(resp->code, RK_RESP_SUCCESS);
    cr_assert_eq(rk_record_decode(resp->body, resp->body_len, true, rec), RK_OK);
    return resp;
}

static void start(rk_rc_cluster_t *c, tprod_t *p, const char *conf)
{
    rk_rc_start(c, conf);
    rk_rc_create_topic(c, TOPIC, 1);
    tp_start(p, c, PG);
}

static void stop(rk_rc_cluster_t *c, tprod_t *p)
{
    tp_stop(p);
    rk_rc_stop(c);
}

/* ------------------------------------------------------------ tests */

/* the client's warnings (a heartbeat to a broker being restarted) are expected here */
static void quiet(void) { rk_log_set_level(RK_LOG_ERROR); }
TestSuite(txn, .init = quiet);

Test(txn, commit_delivers_once_and_half_is_invisible_until_then)
{
    rk_rc_cluster_t c;
    tprod_t p;
    start(&c, &p, FAST);
    half_t h = send_half(&p, &c, "order-1");
    cr_assert(wait_msgs(&p, &c, RK_TXN_HALF_TOPIC, 1, 5000));
    /* the half lives in the half topic, not in the real one */
    cr_assert_eq(count_msgs(&p, &c, TOPIC), 0);
    rk_msg_list_t *hl = pull_all(&p, &c, RK_TXN_HALF_TOPIC);
    cr_assert(hl != NULL && hl->n == 1);
    cr_assert_eq(hl->msgs[0].queue_offset, h.qoff);
    cr_assert_eq(hl->msgs[0].commitlog_offset, h.cloff);
    char v[128];
    cr_assert_eq(rk_msg_prop(&hl->msgs[0], RK_PROP_REAL_TOPIC, v, sizeof v), RK_OK);
    cr_assert_str_eq(v, TOPIC);
    cr_assert_eq(rk_msg_prop(&hl->msgs[0], RK_PROP_REAL_QID, v, sizeof v), RK_OK);
    cr_assert_str_eq(v, "0");
    cr_assert_eq(hl->msgs[0].sys_flag & RK_SYSFLAG_TXN_MASK, 0);
    int64_t half_store_ts = hl->msgs[0].store_ts;
    rk_msg_list_free(hl);
    char remark[256];
    cr_assert_eq(end_txn(&p, &c, PG, h.qoff, h.cloff, h.uniq, RK_SYSFLAG_TXN_COMMIT, false, remark, sizeof remark),
                 RK_RESP_SUCCESS, "%s", remark);
    int checked = settled_checks(&p);   /* 0, unless this machine took more than transactionTimeOut */
    cr_assert(wait_msgs(&p, &c, TOPIC, 1, 5000));
    rk_msg_list_t *l = pull_all(&p, &c, TOPIC);
    cr_assert_eq(l->n, 1);
    rk_msg_ext_t *m = &l->msgs[0];
    cr_assert_eq(m->body_len, 7);
    cr_assert(memcmp(m->body, "order-1", 7) == 0);
    cr_assert_eq(m->sys_flag & RK_SYSFLAG_TXN_MASK, RK_SYSFLAG_TXN_COMMIT);
    cr_assert_eq(m->store_ts, half_store_ts, "a commit keeps its half's store time");
    cr_assert_str_eq(m->msg_id, h.uniq);
    cr_assert_eq(rk_msg_prop(m, RK_PROP_REAL_TOPIC, v, sizeof v), RK_ENOTFOUND);
    cr_assert_eq(rk_msg_prop(m, RK_PROP_TRAN_MSG, v, sizeof v), RK_ENOTFOUND);
    cr_assert_eq(rk_msg_prop(m, RK_PROP_PGROUP, v, sizeof v), RK_OK);
    /* PreparedTransactionOffset = the half's commitlog offset */
    rk_record_t rec;
    rk_cmd_t *vr = view_record(&p, &c, m->commitlog_offset, &rec);
    cr_assert_eq(rec.prepared_tx_offset, h.cloff);
    cr_assert_eq(rec.sys_flag & RK_SYSFLAG_TXN_MASK, RK_SYSFLAG_TXN_COMMIT);
    rk_cmd_free(vr);
    rk_msg_list_free(l);
    /* the op record: OP_HALF, tag d, body = the half's queue offset */
    cr_assert(wait_msgs(&p, &c, RK_TXN_OP_TOPIC, 1, 5000));
    rk_msg_list_t *ol = pull_all(&p, &c, RK_TXN_OP_TOPIC);
    cr_assert(ol != NULL && ol->n == 1);
    cr_assert_str_eq(ol->msgs[0].tags, "d");
    snprintf(v, sizeof v, "%lld", (long long)h.qoff);
    cr_assert_eq(ol->msgs[0].body_len, strlen(v));
    cr_assert(memcmp(ol->msgs[0].body, v, strlen(v)) == 0);
    rk_msg_list_free(ol);
    /* several check passes later: no check-back since, still exactly one message */
    usleep(1500000);
    cr_assert_eq(tp_count(&p), checked);
    cr_assert_eq(count_msgs(&p, &c, TOPIC), 1);
    cJSON *q = query_pending(&p, &c, NULL);
    cr_assert_null(group_of(q, PG));
    /* the check service's progress moved past the half (and its copies) and the op record */
    int64_t off, max;
    cr_assert_eq(rk_json_get_i64(q, "halfOffset", &off), RK_OK);
    cr_assert_eq(rk_json_get_i64(q, "halfMaxOffset", &max), RK_OK);
    cr_assert(off == max && max >= 1, "half progress %lld of %lld", (long long)off, (long long)max);
    cr_assert_eq(rk_json_get_i64(q, "opOffset", &off), RK_OK);
    cr_assert_eq(rk_json_get_i64(q, "opMaxOffset", &max), RK_OK);
    cr_assert(off == max && max == 1, "op progress %lld of %lld", (long long)off, (long long)max);
    cJSON_Delete(q);
    stop(&c, &p);
}

Test(txn, rollback_never_delivers)
{
    rk_rc_cluster_t c;
    tprod_t p;
    start(&c, &p, FAST);
    half_t h = send_half(&p, &c, "order-2");
    cr_assert_eq(end_txn(&p, &c, PG, h.qoff, h.cloff, h.uniq, RK_SYSFLAG_TXN_ROLLBACK, false, NULL, 0),
                 RK_RESP_SUCCESS);
    int checked = settled_checks(&p);
    usleep(1500000);
    cr_assert_eq(count_msgs(&p, &c, TOPIC), 0);
    cr_assert_eq(tp_count(&p), checked, "a rolled back half is never checked");
    cr_assert_eq(count_msgs(&p, &c, RK_TXN_OP_TOPIC), 1);
    stop(&c, &p);
}

Test(txn, unknown_then_check_back_commit_delivers_once)
{
    rk_rc_cluster_t c;
    tprod_t p;
    start(&c, &p, FAST);
    half_t h = send_half(&p, &c, "order-3");
    /* UNKNOWN (0) is only logged: no answer (sent oneway, as the Java client does) */
    rk_cmd_t *req = rk_mqclient_request(RK_REQ_END_TRANSACTION);
    rk_cmd_ext_set(req, "producerGroup", PG);
    rk_cmd_ext_set_i64(req, "tranStateTableOffset", h.qoff);
    rk_cmd_ext_set_i64(req, "commitLogOffset", h.cloff);
    rk_cmd_ext_set(req, "commitOrRollback", "0");
    rk_cmd_ext_set(req, "msgId", h.uniq);
    cr_assert_eq(rk_rclient_invoke_oneway(rk_mqclient_remoting(p.mc), c.br, req), RK_OK);
    cr_assert(wait_checks(&p, 1, 10000), "no CHECK_TRANSACTION_STATE arrived");
    check_t k = tp_check(&p, 0);
    /* the check names the re-appended copy and carries the message as the producer sent it */
    cr_assert_str_eq(k.msg_id, h.uniq);
    cr_assert_str_eq(k.txn_id, h.uniq);
    cr_assert_str_eq(k.topic, TOPIC);
    cr_assert_eq(k.queue_id, 0);
    cr_assert_eq(k.times, 1);
    cr_assert_gt(k.cloff, h.cloff);
    cr_assert_gt(k.tsoff, h.qoff);
    cr_assert_eq(count_msgs(&p, &c, TOPIC), 0);
    char remark[256];
    cr_assert_eq(end_txn(&p, &c, PG, k.tsoff, k.cloff, k.msg_id, RK_SYSFLAG_TXN_COMMIT, true, remark, sizeof remark),
                 RK_RESP_SUCCESS, "%s", remark);
    cr_assert(wait_msgs(&p, &c, TOPIC, 1, 5000));
    int n = tp_count(&p);
    usleep(1500000);
    cr_assert_eq(tp_count(&p), n, "checked again after the commit");
    cr_assert_eq(count_msgs(&p, &c, TOPIC), 1);
    stop(&c, &p);
}

Test(txn, silent_producer_is_checked_max_times_then_given_up)
{
    rk_rc_cluster_t c;
    tprod_t p;
    start(&c, &p, FAST);
    half_t h = send_half(&p, &c, "order-4");
    cr_assert(wait_msgs(&p, &c, RK_TXN_CHECK_MAX_TOPIC, 1, 20000), "never given up");
    cr_assert_eq(tp_count(&p), 3, "transactionCheckMax=3 checks, got %d", tp_count(&p));
    for (int i = 0; i < 3; i++) {
        check_t k = tp_check(&p, i);
        cr_assert_eq(k.times, i + 1);
        cr_assert_str_eq(k.msg_id, h.uniq);
    }
    rk_msg_list_t *l = pull_all(&p, &c, RK_TXN_CHECK_MAX_TOPIC);
    cr_assert(l->n == 1 && memcmp(l->msgs[0].body, "order-4", 7) == 0);
    rk_msg_list_free(l);
    usleep(1000000);
    cr_assert_eq(tp_count(&p), 3);
    cr_assert_eq(count_msgs(&p, &c, TOPIC), 0);
    cr_assert_eq(count_msgs(&p, &c, RK_TXN_CHECK_MAX_TOPIC), 1);
    cr_assert_eq(runtime_i64(&c, "txnChecksSent"), 3);
    cr_assert_eq(runtime_i64(&c, "txnGiveUps"), 1);
    cr_assert_eq(runtime_i64(&c, "txnHalfPuts"), 1);
    cJSON *q = query_pending(&p, &c, NULL);
    cr_assert_null(group_of(q, PG));
    cJSON_Delete(q);
    stop(&c, &p);
}

Test(txn, a_restarted_producer_still_receives_check_backs)
{
    rk_rc_cluster_t c;
    tprod_t p;
    start(&c, &p, "transactionCheckInterval=300\ntransactionTimeOut=500\ntransactionCheckMax=1000\n");
    half_t h = send_half(&p, &c, "order-6");
    cr_assert(wait_checks(&p, 1, 10000));
    /* the producer goes away: checks keep coming due, with nobody to ask */
    tp_stop(&p);
    for (int i = 0; i < 250 && runtime_i64(&c, "txnCheckNoProducer") < 1; i++)
        usleep(20000);
    tprod_t p2;
    tp_start(&p2, &c, PG);
    cr_assert(runtime_i64(&c, "txnCheckNoProducer") >= 1, "no check fell due while the producer was away");
    /* a new process of the same group gets the next one over its own connection */
    cr_assert(wait_checks(&p2, 1, 10000), "the restarted producer was never asked");
    check_t k = tp_check(&p2, 0);
    cr_assert_str_eq(k.msg_id, h.uniq);
    cr_assert_gt(k.times, 1);
    cr_assert_eq(end_txn(&p2, &c, PG, k.tsoff, k.cloff, k.msg_id, RK_SYSFLAG_TXN_COMMIT, true, NULL, 0), 0);
    cr_assert(wait_msgs(&p2, &c, TOPIC, 1, 5000));
    usleep(1000000);
    cr_assert_eq(count_msgs(&p2, &c, TOPIC), 1);
    stop(&c, &p2);
}

Test(txn, a_late_answer_about_an_older_copy_still_ends_the_transaction)
{
    rk_rc_cluster_t c;
    tprod_t p;
    start(&c, &p, "transactionCheckInterval=300\ntransactionTimeOut=500\ntransactionCheckMax=1000\n");
    half_t h = send_half(&p, &c, "order-7");
    cr_assert(wait_checks(&p, 2, 10000));
    /* the producer answers the FIRST check after the second was sent (about a newer copy) */
    check_t k = tp_check(&p, 0);
    cr_assert_eq(end_txn(&p, &c, PG, k.tsoff, k.cloff, k.msg_id, RK_SYSFLAG_TXN_ROLLBACK, true, NULL, 0), 0);
    usleep(600000);
    int n = tp_count(&p);
    usleep(1500000);
    cr_assert_eq(tp_count(&p), n, "the chain was checked again after one of its copies was rolled back");
    cJSON *q = query_pending(&p, &c, NULL);
    cr_assert_null(group_of(q, PG));
    cJSON_Delete(q);
    (void)h;
    stop(&c, &p);
}

Test(txn, an_immune_half_committed_by_its_first_offsets_is_never_checked)
{
    rk_rc_cluster_t c;
    tprod_t p;
    start(&c, &p, FAST);
    /* CHECK_IMMUNITY_TIME_IN_SECONDS: not checked for 2 s; meanwhile every pass renews it (a copy
     * naming its first half in TRAN_PREPARED_QUEUE_OFFSET) */
    half_t h;
    memset(&h, 0, sizeof h);
    snprintf(h.uniq, sizeof h.uniq, "7F0000010000IMMUNE0000000000001");
    rk_cmd_t *req = rk_tk_send_request(&(rk_tk_send_spec_t){
        .group = PG, .topic = TOPIC, .sys_flag = RK_SYSFLAG_TXN_PREPARED, .last = 'i', .binary = true, .body = "immune",
        .props = "TRAN_MSG\001true\002PGROUP\001" PG "\002CHECK_IMMUNITY_TIME_IN_SECONDS\0012"
                 "\002UNIQ_KEY\0017F0000010000IMMUNE0000000000001"});
    cr_assert(req != NULL);
    rk_cmd_t *resp = NULL;
    cr_assert_eq(rk_mqclient_invoke(p.mc, c.br, req, &resp), RK_OK);
    cr_assert_eq(resp->code, 0);
    rk_host_t host;
    cr_assert_eq(rk_cmd_ext_i64(resp, "queueOffset", &h.qoff), RK_OK);
    cr_assert_eq(rk_msgid_decode(rk_cmd_ext_get(resp, "msgId"), &host, &h.cloff), RK_OK);
    rk_cmd_free(resp);
    cr_assert(wait_msgs(&p, &c, RK_TXN_HALF_TOPIC, 2, 5000), "the immune half was never renewed");
    cr_assert_eq(end_txn(&p, &c, PG, h.qoff, h.cloff, h.uniq, RK_SYSFLAG_TXN_COMMIT, false, NULL, 0), 0);
    int checked = settled_checks(&p);   /* 0, unless this machine took more than the immunity */
    cr_assert(wait_msgs(&p, &c, TOPIC, 1, 5000));
    usleep(3000000);        /* past the immunity: the renewed copies are done by their first half */
    cr_assert_eq(tp_count(&p), checked, "a committed (immune) half was checked");
    cr_assert_eq(count_msgs(&p, &c, TOPIC), 1);
    stop(&c, &p);
}

/* TOPIC holds exactly two messages, `first` then `second` (looked at again after 1 s, so a late
 * second copy would be seen). */
static void expect_two(tprod_t *p, rk_rc_cluster_t *c, const char *first, const char *second)
{
    cr_assert(wait_msgs(p, c, TOPIC, 2, 5000));
    usleep(1000000);
    rk_msg_list_t *l = pull_all(p, c, TOPIC);
    cr_assert_eq(l->n, 2, "each transaction put its message once (got %zu)", l->n);
    cr_assert(l->msgs[0].body_len == strlen(first) && memcmp(l->msgs[0].body, first, strlen(first)) == 0);
    cr_assert(l->msgs[1].body_len == strlen(second) && memcmp(l->msgs[1].body, second, strlen(second)) == 0);
    rk_msg_list_free(l);
}

Test(txn, a_transaction_ends_once_whatever_the_answers)
{
    rk_rc_cluster_t c;
    tprod_t p;
    start(&c, &p, "transactionCheckInterval=300\ntransactionTimeOut=500\ntransactionCheckMax=1000\n");
    /* the same END_TRANSACTION twice (a client's retry) */
    half_t a = send_half(&p, &c, "once-a");
    char r[256];
    cr_assert_eq(end_txn(&p, &c, PG, a.qoff, a.cloff, a.uniq, RK_SYSFLAG_TXN_COMMIT, false, r, sizeof r), 0, "%s", r);
    cr_assert_eq(end_txn(&p, &c, PG, a.qoff, a.cloff, a.uniq, RK_SYSFLAG_TXN_COMMIT, false, r, sizeof r), 0, "%s", r);
    cr_assert_eq(end_txn(&p, &c, PG, a.qoff, a.cloff, a.uniq, RK_SYSFLAG_TXN_ROLLBACK, false, r, sizeof r),
                 RK_RESP_SYSTEM_ERROR);
    cr_assert_str_eq(r, "the transaction was already committed");
    /* two checks of one transaction both answered commit, and the producer's own late answer */
    half_t b = send_half(&p, &c, "once-b");
    check_t k1 = {0}, k2 = {0};
    int nb = 0;
    for (int i = 0; i < 500 && nb < 2; i++) {
        nb = 0;
        for (int j = 0; j < tp_count(&p) && nb < 2; j++) {
            check_t k = tp_check(&p, j);
            if (strcmp(k.msg_id, b.uniq) == 0)
                *(nb++ == 0 ? &k1 : &k2) = k;
        }
        if (nb < 2)
            usleep(20000);
    }
    cr_assert_eq(nb, 2, "b was not checked twice");
    cr_assert_eq(end_txn(&p, &c, PG, k2.tsoff, k2.cloff, b.uniq, RK_SYSFLAG_TXN_COMMIT, true, r, sizeof r), 0, "%s", r);
    cr_assert_eq(end_txn(&p, &c, PG, k1.tsoff, k1.cloff, b.uniq, RK_SYSFLAG_TXN_COMMIT, true, r, sizeof r), 0, "%s", r);
    cr_assert_eq(end_txn(&p, &c, PG, b.qoff, b.cloff, b.uniq, RK_SYSFLAG_TXN_COMMIT, false, r, sizeof r), 0, "%s", r);
    expect_two(&p, &c, "once-a", "once-b");
    cr_assert_eq(runtime_i64(&c, "txnCommits"), 2);
    stop(&c, &p);
}

/* The ended set is rebuilt at start from the op records (each says how its transaction ended):
 * a repeat after a kill -9 puts nothing, and the opposite decision is still refused. */
Test(txn, a_transaction_ends_once_across_a_kill_9)
{
    rk_rc_cluster_t c;
    tprod_t p;
    start(&c, &p, "transactionTimeOut=600000\n");
    half_t a = send_half(&p, &c, "kept-a");
    half_t b = send_half(&p, &c, "kept-b");
    char r[256];
    cr_assert_eq(end_txn(&p, &c, PG, a.qoff, a.cloff, a.uniq, RK_SYSFLAG_TXN_COMMIT, false, r, sizeof r), 0, "%s", r);
    cr_assert_eq(end_txn(&p, &c, PG, b.qoff, b.cloff, b.uniq, RK_SYSFLAG_TXN_ROLLBACK, false, r, sizeof r), 0, "%s", r);
    cr_assert(wait_msgs(&p, &c, TOPIC, 1, 5000));
    rk_rc_kill9_restart_broker(&c);
    cr_assert_eq(end_txn(&p, &c, PG, a.qoff, a.cloff, a.uniq, RK_SYSFLAG_TXN_COMMIT, false, r, sizeof r), 0, "%s", r);
    cr_assert_eq(end_txn(&p, &c, PG, a.qoff, a.cloff, a.uniq, RK_SYSFLAG_TXN_ROLLBACK, false, r, sizeof r),
                 RK_RESP_SYSTEM_ERROR);
    cr_assert_str_eq(r, "the transaction was already committed");
    cr_assert_eq(end_txn(&p, &c, PG, b.qoff, b.cloff, b.uniq, RK_SYSFLAG_TXN_COMMIT, false, r, sizeof r),
                 RK_RESP_SYSTEM_ERROR);
    cr_assert_str_eq(r, "the transaction was already rolled back");
    cr_assert_eq(end_txn(&p, &c, PG, b.qoff, b.cloff, b.uniq, RK_SYSFLAG_TXN_ROLLBACK, false, r, sizeof r), 0, "%s", r);
    /* and one ended after the restart is remembered as before */
    half_t d = send_half(&p, &c, "kept-d");
    cr_assert_eq(end_txn(&p, &c, PG, d.qoff, d.cloff, d.uniq, RK_SYSFLAG_TXN_COMMIT, false, r, sizeof r), 0, "%s", r);
    cr_assert_eq(end_txn(&p, &c, PG, d.qoff, d.cloff, d.uniq, RK_SYSFLAG_TXN_COMMIT, false, r, sizeof r), 0, "%s", r);
    expect_two(&p, &c, "kept-a", "kept-d");       /* b was rolled back: never delivered */
    stop(&c, &p);
}

Test(txn, the_ended_set_is_bounded_and_forgets_the_oldest)
{
    rk_rc_cluster_t c;
    tprod_t p;
    start(&c, &p, "transactionTimeOut=600000\ntransactionEndedCacheSize=4\n");
    enum { N = 9 };
    half_t h[N];
    char body[16];
    for (int i = 0; i < N; i++) {
        snprintf(body, sizeof body, "t%d", i);
        h[i] = send_half(&p, &c, body);
        cr_assert_eq(end_txn(&p, &c, PG, h[i].qoff, h[i].cloff, h[i].uniq, RK_SYSFLAG_TXN_COMMIT, false, NULL, 0), 0);
    }
    /* the last four are remembered: their repeats put nothing; the oldest one was forgotten, so
     * its repeat goes through as in RocketMQ (then it is the newest remembered) */
    for (int i = N - 4; i < N; i++)
        cr_assert_eq(end_txn(&p, &c, PG, h[i].qoff, h[i].cloff, h[i].uniq, RK_SYSFLAG_TXN_ROLLBACK, false, NULL, 0),
                     RK_RESP_SYSTEM_ERROR, "t%d forgotten too early", i);
    cr_assert_eq(end_txn(&p, &c, PG, h[0].qoff, h[0].cloff, h[0].uniq, RK_SYSFLAG_TXN_COMMIT, false, NULL, 0), 0);
    cr_assert_eq(end_txn(&p, &c, PG, h[0].qoff, h[0].cloff, h[0].uniq, RK_SYSFLAG_TXN_COMMIT, false, NULL, 0), 0);
    cr_assert(wait_msgs(&p, &c, TOPIC, N + 1, 5000));
    usleep(300000);
    cr_assert_eq(count_msgs(&p, &c, TOPIC), N + 1);
    cr_assert_eq(runtime_i64(&c, "txnCommits"), N + 1);
    stop(&c, &p);
}

Test(txn, bad_end_transaction_is_refused)
{
    rk_rc_cluster_t c;
    tprod_t p;
    start(&c, &p, "transactionTimeOut=600000\n");
    half_t h = send_half(&p, &c, "order-5");
    half_t plain;
    cr_assert_eq(send_msg(&p, &c, TOPIC, NULL, false, "plain", &plain), RK_RESP_SUCCESS);
    char r[256];
    cr_assert_eq(end_txn(&p, &c, "other_pg", h.qoff, h.cloff, h.uniq, RK_SYSFLAG_TXN_COMMIT, false, r, sizeof r),
                 RK_RESP_SYSTEM_ERROR);
    cr_assert_str_eq(r, "The producer group wrong");
    cr_assert_eq(end_txn(&p, &c, PG, h.qoff + 7, h.cloff, h.uniq, RK_SYSFLAG_TXN_COMMIT, false, r, sizeof r),
                 RK_RESP_SYSTEM_ERROR);
    cr_assert_str_eq(r, "The transaction state table offset wrong");
    cr_assert_eq(end_txn(&p, &c, PG, h.qoff, h.cloff + 3, h.uniq, RK_SYSFLAG_TXN_ROLLBACK, false, r, sizeof r),
                 RK_RESP_SYSTEM_ERROR);
    cr_assert_str_eq(r, "Find prepared transaction message failed");
    cr_assert_eq(end_txn(&p, &c, PG, h.qoff, 1LL << 40, h.uniq, RK_SYSFLAG_TXN_COMMIT, false, r, sizeof r),
                 RK_RESP_SYSTEM_ERROR);
    cr_assert_str_eq(r, "Find prepared transaction message failed");
    /* a plain message is not a half */
    cr_assert_eq(end_txn(&p, &c, PG, plain.qoff, plain.cloff, h.uniq, RK_SYSFLAG_TXN_COMMIT, false, r, sizeof r),
                 RK_RESP_SYSTEM_ERROR);
    cr_assert_str_eq(r, "Find prepared transaction message failed");
    /* a header that is not a number */
    rk_cmd_t *req = rk_mqclient_request(RK_REQ_END_TRANSACTION);
    rk_cmd_ext_set(req, "producerGroup", PG);
    rk_cmd_ext_set(req, "tranStateTableOffset", "x");
    rk_cmd_ext_set_i64(req, "commitLogOffset", h.cloff);
    rk_cmd_ext_set(req, "commitOrRollback", "8");
    rk_cmd_t *resp = NULL;
    cr_assert_eq(rk_mqclient_invoke(p.mc, c.br, req, &resp), RK_OK);
    cr_assert_eq(resp->code, RK_RESP_SYSTEM_ERROR);
    rk_cmd_free(resp);
    /* clients may not write the transaction system topics */
    half_t x;
    cr_assert_eq(send_msg(&p, &c, RK_TXN_HALF_TOPIC, NULL, false, "forged", &x), RK_RESP_MESSAGE_ILLEGAL);
    cr_assert_eq(send_msg(&p, &c, RK_TXN_OP_TOPIC, NULL, false, "0", &x), RK_RESP_MESSAGE_ILLEGAL);
    /* nothing was committed by the refused requests; the right one still works */
    cr_assert(wait_msgs(&p, &c, TOPIC, 1, 5000));
    cr_assert_eq(count_msgs(&p, &c, TOPIC), 1);
    cr_assert_eq(end_txn(&p, &c, PG, h.qoff, h.cloff, h.uniq, RK_SYSFLAG_TXN_COMMIT, false, r, sizeof r),
                 RK_RESP_SUCCESS, "%s", r);
    cr_assert(wait_msgs(&p, &c, TOPIC, 2, 5000));
    stop(&c, &p);
}

/* A record forged inside a plain message's body, shaped as a half with a PHYSICALOFFSET where it
 * lands, is not a half message. */
static int raw_send_body(tprod_t *p, rk_rc_cluster_t *c, const uint8_t *body, size_t len, int64_t *phys)
{
    rk_cmd_t *req = rk_tk_send_request(&(rk_tk_send_spec_t){
        .group = PG, .topic = "PlainTopic", .born = "1", .last = 'h', .binary = true, .body = body, .len = len});
    cr_assert(req != NULL);
    rk_cmd_t *resp = NULL;
    cr_assert_eq(rk_mqclient_invoke(p->mc, c->br, req, &resp), RK_OK);
    int code = resp->code;
    rk_host_t h;
    cr_assert_eq(rk_msgid_decode(rk_cmd_ext_get(resp, "msgId"), &h, phys), RK_OK);
    rk_cmd_free(resp);
    return code;
}

Test(txn, a_half_forged_inside_a_message_body_is_refused)
{
    rk_rc_cluster_t c;
    tprod_t p;
    start(&c, &p, "transactionTimeOut=600000\n");
    const char props[] = "PGROUP\001" PG "\002REAL_TOPIC\001" TOPIC "\002REAL_QID\0010\002TRAN_MSG\001true";
    rk_msg_t fake = {.topic = RK_TXN_HALF_TOPIC, .topic_len = strlen(RK_TXN_HALF_TOPIC), .born_ts = 1,
                     .body = (const uint8_t *)"evil", .body_len = 4, .props = props, .props_len = strlen(props)};
    rk_host_parse("127.0.0.1:1", &fake.born_host);
    rk_host_parse("127.0.0.1:1", &fake.store_host);
    size_t flen = rk_record_size(&fake);
    uint8_t *buf = calloc(1, flen);
    /* two equal sends tell how far apart they land: the third lands that much further */
    int64_t p1, p2, p3;
    cr_assert_eq(raw_send_body(&p, &c, buf, flen, &p1), 0);
    cr_assert_eq(raw_send_body(&p, &c, buf, flen, &p2), 0);
    int64_t at = p2 + (p2 - p1), fake_phys = at + RK_RECORD_FIXED_V4 + 4;    /* the body follows its length */
    cr_assert_gt(rk_record_encode(&fake, buf, flen, 0, fake_phys, rk_now_ms()), 0);
    cr_assert_eq(raw_send_body(&p, &c, buf, flen, &p3), 0);
    cr_assert_eq(p3, at, "the third send did not land where expected");
    char r[256];
    cr_assert_eq(end_txn(&p, &c, PG, 0, fake_phys, "X", RK_SYSFLAG_TXN_COMMIT, false, r, sizeof r),
                 RK_RESP_SYSTEM_ERROR);
    cr_assert_str_eq(r, "Find prepared transaction message failed");
    free(buf);
    usleep(300000);
    cr_assert_eq(count_msgs(&p, &c, TOPIC), 0);
    stop(&c, &p);
}

Test(txn, reject_transaction_message)
{
    rk_rc_cluster_t c;
    tprod_t p;
    start(&c, &p, "rejectTransactionMessage=true\n");
    half_t h;
    cr_assert_eq(send_msg(&p, &c, TOPIC, PG, true, "nope", &h), RK_RESP_NO_PERMISSION);
    cr_assert_eq(send_msg(&p, &c, TOPIC, NULL, false, "plain", &h), RK_RESP_SUCCESS);
    cr_assert_eq(count_msgs(&p, &c, RK_TXN_HALF_TOPIC), 0);
    stop(&c, &p);
}

/* A SEND_BATCH_MESSAGE of two entries, the second with TRAN_MSG=true when txn_entry, or with
 * the header's sysFlag saying PREPARED when txn_header. */
static int send_batch(tprod_t *p, rk_rc_cluster_t *c, bool txn_entry, bool txn_header)
{
    rk_buf_t body;
    rk_buf_init(&body);
    const char plain[] = "WAIT\001true";
    const char tran[] = "TRAN_MSG\001true\002PGROUP\001" PG;
    rk_batch_msg_t a = {.body = (const uint8_t *)"one", .body_len = 3, .props = plain, .props_len = strlen(plain)};
    rk_batch_msg_t b = {.body = (const uint8_t *)"two", .body_len = 3, .props = txn_entry ? tran : plain,
                        .props_len = strlen(txn_entry ? tran : plain)};
    cr_assert_eq(rk_batch_encode(&body, &a), RK_OK);
    cr_assert_eq(rk_batch_encode(&body, &b), RK_OK);
    rk_cmd_t *req = rk_tk_send_request(&(rk_tk_send_spec_t){
        .code = RK_REQ_SEND_BATCH_MESSAGE, .group = PG, .topic = TOPIC,
        .sys_flag = txn_header ? RK_SYSFLAG_TXN_PREPARED : 0, .last = 'h', .binary = true, .body = body.data,
        .len = body.len});
    rk_buf_free(&body);
    cr_assert(req != NULL);
    rk_cmd_ext_set(req, "j", "0");          /* no i: each entry carries its own properties */
    rk_cmd_ext_set(req, "m", "true");       /* batch */
    rk_cmd_t *resp = NULL;
    cr_assert_eq(rk_mqclient_invoke(p->mc, c->br, req, &resp), RK_OK);
    int code = resp->code;
    rk_cmd_free(resp);
    return code;
}

Test(txn, a_transactional_batch_is_refused_whole)
{
    rk_rc_cluster_t c;
    tprod_t p;
    start(&c, &p, NULL);
    cr_assert_eq(send_batch(&p, &c, true, false), RK_RESP_MESSAGE_ILLEGAL, "an entry with TRAN_MSG");
    cr_assert_eq(send_batch(&p, &c, false, true), RK_RESP_MESSAGE_ILLEGAL, "a PREPARED sysFlag");
    cr_assert_eq(send_batch(&p, &c, false, false), RK_RESP_SUCCESS, "a plain batch");
    cr_assert(wait_msgs(&p, &c, TOPIC, 2, 5000));
    usleep(200000);
    cr_assert_eq(count_msgs(&p, &c, TOPIC), 2, "only the plain batch's two messages arrived");
    cr_assert_eq(count_msgs(&p, &c, RK_TXN_HALF_TOPIC), 0, "no half was made");
    stop(&c, &p);
}

Test(txn, pending_query_counts_halves_per_group)
{
    rk_rc_cluster_t c;
    tprod_t p;
    start(&c, &p, "transactionTimeOut=600000\ntransactionCheckInterval=300\n");
    half_t a = send_half(&p, &c, "a");
    send_half(&p, &c, "b");
    send_half(&p, &c, "c");
    half_t o;
    cr_assert_eq(send_msg(&p, &c, TOPIC, "txn_pg2", true, "d", &o), RK_RESP_SUCCESS);
    cr_assert(wait_msgs(&p, &c, RK_TXN_HALF_TOPIC, 4, 5000));
    cJSON *q = query_pending(&p, &c, NULL);
    cJSON *g = group_of(q, PG), *g2 = group_of(q, "txn_pg2");
    cr_assert(g != NULL && g2 != NULL);
    int64_t n;
    cr_assert_eq(rk_json_get_i64(g, "pending", &n), RK_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(rk_json_get_i64(cJSON_GetObjectItem(g, "checkTimes"), "0", &n), RK_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(rk_json_get_i64(cJSON_GetObjectItem(g, "topics"), TOPIC, &n), RK_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(rk_json_get_i64(g2, "pending", &n), RK_OK);
    cr_assert_eq(n, 1);
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(q, "truncated")));
    cJSON_Delete(q);
    cr_assert_eq(end_txn(&p, &c, PG, a.qoff, a.cloff, a.uniq, RK_SYSFLAG_TXN_ROLLBACK, false, NULL, 0), 0);
    cr_assert(wait_msgs(&p, &c, RK_TXN_OP_TOPIC, 1, 5000));
    q = query_pending(&p, &c, PG);
    g = group_of(q, PG);
    cr_assert_eq(rk_json_get_i64(g, "pending", &n), RK_OK);
    cr_assert_eq(n, 2);
    cr_assert_null(group_of(q, "txn_pg2"));
    cJSON_Delete(q);
    /* the check passes count them too (runtime info): 3 of the 4 are still pending */
    for (int i = 0; i < 250 && runtime_i64(&c, "txnPendingHalves") != 3; i++)
        usleep(20000);
    cr_assert_eq(runtime_i64(&c, "txnPendingHalves"), 3);
    /* a bounded scan says it stopped short */
    q = query_pending_limit(&p, &c, NULL, "2");
    cr_assert_eq(rk_json_get_i64(q, "scanned", &n), RK_OK);
    cr_assert_eq(n, 2);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(q, "truncated")));
    cJSON_Delete(q);
    rk_cmd_t *req = rk_mqclient_request(RK_REQ_QUERY_TXN_PENDING), *resp = NULL;
    rk_cmd_ext_set(req, "limit", "-1");
    cr_assert_eq(rk_mqclient_invoke(p.mc, c.br, req, &resp), RK_OK);
    cr_assert_eq(resp->code, RK_RESP_SYSTEM_ERROR);
    rk_cmd_free(resp);
    /* one answer lists at most 256 groups */
    for (int i = 0; i < 260; i++) {
        char g[32];
        snprintf(g, sizeof g, "many_%d", i);
        cr_assert_eq(send_msg(&p, &c, TOPIC, g, true, "m", &o), RK_RESP_SUCCESS);
    }
    cr_assert(wait_msgs_n(&p, &c, RK_TXN_HALF_TOPIC, 264, 5000));
    q = query_pending(&p, &c, NULL);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(q, "groups")), 256);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(q, "groupsTruncated")));
    cJSON_Delete(q);
    stop(&c, &p);
}

Test(txn, kill9_with_pending_halves_checks_resume_and_commits_survive)
{
    rk_rc_cluster_t c;
    tprod_t p;
    /* no check before the restart: halves must age 1.5 s */
    start(&c, &p, "transactionCheckInterval=300\ntransactionTimeOut=1500\ntransactionCheckMax=5\n"
                  "flushDiskType=SYNC_FLUSH\n");
    half_t done = send_half(&p, &c, "committed");
    half_t pending = send_half(&p, &c, "pending");
    cr_assert_eq(end_txn(&p, &c, PG, done.qoff, done.cloff, done.uniq, RK_SYSFLAG_TXN_COMMIT, false, NULL, 0), 0);
    cr_assert(wait_msgs(&p, &c, TOPIC, 1, 5000));
    int before = tp_count(&p);      /* 0, unless this machine took more than transactionTimeOut */
    rk_rc_kill9_restart_broker(&c);
    /* the producer's heartbeats reach the new process; its check comes, for the pending one only */
    cr_assert(wait_checks(&p, before + 1, 15000), "no check after the restart");
    check_t k = tp_check(&p, before);
    cr_assert_str_eq(k.msg_id, pending.uniq);
    cr_assert_eq(end_txn(&p, &c, PG, k.tsoff, k.cloff, k.msg_id, RK_SYSFLAG_TXN_COMMIT, true, NULL, 0), 0);
    cr_assert(wait_msgs(&p, &c, TOPIC, 2, 5000));
    usleep(1000000);
    cr_assert_eq(count_msgs(&p, &c, TOPIC), 2, "committed once each");
    rk_msg_list_t *l = pull_all(&p, &c, TOPIC);
    cr_assert(strcmp(l->msgs[0].msg_id, done.uniq) == 0 && strcmp(l->msgs[1].msg_id, pending.uniq) == 0);
    rk_msg_list_free(l);
    for (int i = before; i < tp_count(&p); i++)
        cr_assert_str_neq(tp_check(&p, i).msg_id, done.uniq, "a committed half was checked");
    stop(&c, &p);
}

/* While the broker is down: progress far past the queues' ends, as after a power cut that lost
 * the log's tail but not consumerOffset.json. */
static void progress_too_far(rk_rc_cluster_t *c, void *arg)
{
    (void)arg;
    char path[400];
    snprintf(path, sizeof path, "%s/store/config/consumerOffset.json", c->dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "{\"offsetTable\":{\"%s@%s\":{0:100},\"%s@%s\":{0:50}}}", RK_TXN_HALF_TOPIC, RK_TXN_GROUP,
            RK_TXN_OP_TOPIC, RK_TXN_GROUP);
    fclose(f);
    snprintf(path, sizeof path, "%s/store/config/consumerOffset.json.bak", c->dir);
    unlink(path);
}

Test(txn, progress_past_a_lost_tail_reads_the_queues_again)
{
    rk_rc_cluster_t c;
    tprod_t p;
    start(&c, &p, FAST);
    half_t h = send_half(&p, &c, "before");
    cr_assert_eq(end_txn(&p, &c, PG, h.qoff, h.cloff, h.uniq, RK_SYSFLAG_TXN_COMMIT, false, NULL, 0), 0);
    usleep(700000);
    rk_rc_restart_broker(&c, progress_too_far, NULL);
    int before = tp_count(&p);
    half_t h2 = send_half(&p, &c, "after");
    cr_assert_lt(h2.qoff, 100);
    bool checked = false;
    for (int i = 0; i < 500 && !checked; i++) {
        for (int j = before; j < tp_count(&p) && !checked; j++)
            checked = strcmp(tp_check(&p, j).msg_id, h2.uniq) == 0;
        if (!checked)
            usleep(20000);
    }
    cr_assert(checked, "a half below the (too far) progress was never checked");
    /* the committed one is found done again, not checked */
    for (int j = before; j < tp_count(&p); j++)
        cr_assert_str_neq(tp_check(&p, j).msg_id, h.uniq, "a committed half was checked again");
    stop(&c, &p);
}

Test(txn, slave_refuses_end_transaction)
{
    rk_tk_pair_t pp;
    rk_tk_pair_init(&pp, NULL, "brokerRole=SLAVE\n");
    rk_tk_broker_start(&pp.m);
    rk_tk_broker_start(&pp.s);
    cr_assert(rk_tk_wait_slave_connected(&pp, 10000));
    half_t h;
    cr_assert_eq(raw_send(pp.cl, pp.m.addr, TOPIC, PG, true, "s", &h), RK_RESP_SUCCESS);
    cr_assert(rk_tk_wait_caught_up(&pp, 10000));
    char r[256];
    cr_assert_eq(raw_end_txn(pp.cl, pp.s.addr, PG, h.qoff, h.cloff, h.uniq, RK_SYSFLAG_TXN_COMMIT, false, r, sizeof r),
                 RK_RESP_SLAVE_NOT_AVAILABLE);
    cr_assert_eq(raw_end_txn(pp.cl, pp.m.addr, PG, h.qoff, h.cloff, h.uniq, RK_SYSFLAG_TXN_COMMIT, false, r, sizeof r),
                 RK_RESP_SUCCESS, "%s", r);
    rk_tk_pair_stop(&pp);
}

/* Three brokers electing their master (chapter 8) with conf; returns the master's index. */
static int trio_up(rk_tk_trio_t *t, const char *conf)
{
    rk_tk_trio_init(t, conf);
    for (int i = 0; i < 3; i++)
        rk_tk_broker_start(&t->r[i]);
    int old = rk_tk_trio_leader(t, -1, 15000);
    cr_assert(old >= 0, "no leader elected");
    return old;
}

/* kill -9 of the master `old`; returns the index of the one elected after it. */
static int trio_failover(rk_tk_trio_t *t, int old)
{
    rk_tk_kill(t->r[old].pid, SIGKILL);
    rk_tk_wait(t->r[old].pid, 5000);
    t->r[old].pid = -1;
    int now = rk_tk_trio_leader(t, old, 15000);
    cr_assert(now >= 0 && now != old, "no new leader");
    return now;
}

Test(txn, failover_a_commit_after_failover_completes_on_the_new_master)
{
    rk_tk_trio_t t;
    int old = trio_up(&t, "transactionTimeOut=600000\nslaveSyncMetaInterval=200\n");
    half_t h;
    cr_assert_eq(raw_send(t.base.cl, t.r[old].addr, TOPIC, PG, true, "fo", &h), RK_RESP_SUCCESS);
    usleep(1000000);        /* the followers copy the topic (auto-created by the send) with the metadata */
    int now = trio_failover(&t, old);
    int code = -1;
    char r[256] = "";
    for (int k = 0; k < 100 && code != RK_RESP_SUCCESS; k++) {
        code = raw_end_txn(t.base.cl, t.r[now].addr, PG, h.qoff, h.cloff, h.uniq, RK_SYSFLAG_TXN_COMMIT, false, r,
                           sizeof r);
        if (code != RK_RESP_SUCCESS)
            usleep(100000);
    }
    cr_assert_eq(code, RK_RESP_SUCCESS, "%s", r);
    char *bodies[16];
    int n = 0;
    for (int k = 0; k < 100 && n == 0; k++) {
        n = rk_tk_pull_all(&t.base, t.r[now].addr, TOPIC, 4, bodies, 16);
        if (n == 0)
            usleep(50000);
    }
    if (n != 1) {
        rk_cmd_t *req = rk_tk_pull_request(&(rk_tk_pull_spec_t){.topic = TOPIC}), *resp = NULL;
        cr_assert(req != NULL);
        cr_assert_eq(rk_rclient_invoke_sync(t.base.cl, t.r[now].addr, req, 5000, &resp), 0);
        cr_assert_fail("pull on the new master: %d %s", resp->code, resp->remark ? resp->remark : "");
    }
    cr_assert_str_eq(bodies[0], "fo");
    free(bodies[0]);
    rk_tk_trio_stop(&t);
}

/* A follower keeps the ended set from the op records it copies: after a failover, a repeated
 * commit puts nothing on the new master and a rollback of it is refused. */
Test(txn, failover_the_new_master_remembers_ended_transactions)
{
    rk_tk_trio_t t;
    int old = trio_up(&t, "transactionTimeOut=600000\n");
    tprod_t p;
    tp_start_ns(&p, t.base.ns, PG);
    half_t h;
    char r[256];
    rk_rclient_t *rem = rk_mqclient_remoting(p.mc);
    cr_assert_eq(raw_send(rem, t.r[old].addr, TOPIC, PG, true, "done", &h), 0);
    cr_assert_eq(raw_end_txn(rem, t.r[old].addr, PG, h.qoff, h.cloff, h.uniq, RK_SYSFLAG_TXN_COMMIT, false, r,
                             sizeof r), RK_RESP_SUCCESS, "%s", r);
    usleep(1000000);                /* the op record (WAIT=false) reaches the followers */
    int now = trio_failover(&t, old);
    int rc = RK_RESP_SYSTEM_BUSY;
    for (int i = 0; i < 100 && rc != RK_RESP_SUCCESS; i++) {     /* until it serves as master */
        rc = raw_end_txn(rem, t.r[now].addr, PG, h.qoff, h.cloff, h.uniq, RK_SYSFLAG_TXN_COMMIT, false, r, sizeof r);
        if (rc != RK_RESP_SUCCESS)
            usleep(100000);
    }
    cr_assert_eq(rc, RK_RESP_SUCCESS, "%s", r);
    cr_assert_eq(raw_end_txn(rem, t.r[now].addr, PG, h.qoff, h.cloff, h.uniq, RK_SYSFLAG_TXN_ROLLBACK, false, r,
                             sizeof r), RK_RESP_SYSTEM_ERROR);
    cr_assert_str_eq(r, "the transaction was already committed");
    usleep(500000);
    char *bodies[16];
    int n = rk_tk_pull_all(&t.base, t.r[now].addr, TOPIC, 4, bodies, 16);
    cr_assert_eq(n, 1, "the commit was put again on the new master (%d messages)", n);
    cr_assert_str_eq(bodies[0], "done");
    free(bodies[0]);
    tp_stop(&p);
    rk_tk_trio_stop(&t);
}

Test(txn, failover_the_new_master_checks_the_pending_halves)
{
    rk_tk_trio_t t;
    int old = trio_up(&t, "transactionCheckInterval=300\ntransactionTimeOut=500\ntransactionCheckMax=1000\n"
                     "slaveSyncMetaInterval=200\nregisterNameServerPeriod=1000\n");
    tprod_t p;
    tp_start_ns(&p, t.base.ns, PG);
    half_t h;
    cr_assert_eq(raw_send(rk_mqclient_remoting(p.mc), t.r[old].addr, TOPIC, PG, true, "pending", &h), 0);
    cr_assert(wait_checks(&p, 1, 10000), "the first master never checked");
    /* its progress (CID_RMQ_SYS_TRANS offsets) reaches the followers: they learn the master's
     * address when they register (registerNameServerPeriod), then copy every 200 ms */
    usleep(1500000);
    int now = trio_failover(&t, old);
    /* a check from the new master: its store host is in the check's offsetMsgId */
    check_t k = {0};
    bool from_new = false;
    for (int i = 0; i < 500 && !from_new; i++) {
        for (int j = 0; j < tp_count(&p) && !from_new; j++) {
            k = tp_check(&p, j);
            rk_host_t host;
            int64_t off;
            from_new = rk_msgid_decode(k.offset_msg_id, &host, &off) == RK_OK && host.port == t.r[now].port;
        }
        if (!from_new)
            usleep(20000);
    }
    cr_assert(from_new, "the new master never checked the pending half");
    cr_assert_str_eq(k.msg_id, h.uniq);
    /* it went on from the old master's progress: its first check counts on from the old ones */
    cr_assert_geq(k.times, 2, "the new master started the half queue over (check count %lld)", (long long)k.times);
    char r[256];
    cr_assert_eq(raw_end_txn(rk_mqclient_remoting(p.mc), t.r[now].addr, PG, k.tsoff, k.cloff, k.msg_id,
                             RK_SYSFLAG_TXN_COMMIT, true, r, sizeof r), RK_RESP_SUCCESS, "%s", r);
    char *bodies[16];
    int n = 0;
    for (int i = 0; i < 100 && n == 0; i++) {
        n = rk_tk_pull_all(&t.base, t.r[now].addr, TOPIC, 4, bodies, 16);
        if (n == 0)
            usleep(50000);
    }
    cr_assert_eq(n, 1);
    cr_assert_str_eq(bodies[0], "pending");
    free(bodies[0]);
    tp_stop(&p);
    rk_tk_trio_stop(&t);
}
