/* test_txn_producer.c — the transactional producer (rk/txn_producer.h).
 *
 * Without a broker: validation, the END_TRANSACTION request builder, and the whole send and
 * check-back paths against an in-process fake that plays name server and broker on one port
 * (it stores nothing: it records what the producer sends and pushes CHECK_TRANSACTION_STATE
 * over the producer's own connection, as a broker does).
 *
 * With chapter 11's broker (txn_e2e suite): real processes on loopback. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/message.h"
#include "rk/remoting_server.h"
#include "rk/request_code.h"
#include "rk/testkit.h"
#include "rk/txn.h"
#include "rk/txn_producer.h"

/* ------------------------------------------------------------------ the fake */

#define FAKE_MAX 64

typedef struct fake {
    rk_rserver_t *s;
    char addr[32];
    pthread_mutex_t mu;
    int32_t send_code;                  /* answer to sends (SUCCESS, FLUSH_DISK_TIMEOUT, ...) */
    int sends;
    int32_t sys_flag[FAKE_MAX];
    char props[FAKE_MAX][1024];
    char uniq[FAKE_MAX][64];
    rk_cmd_t *ends[FAKE_MAX];
    bool end_oneway[FAKE_MAX];
    int nends;
    int heartbeats;
    char hb_body[2048];
    uint64_t hb_conn;
    char pending_json[1024];            /* QUERY_TXN_PENDING's answer */
    char pending_group[64], pending_limit[24];
} fake_t;

static void on_route(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    (void)req;
    fake_t *f = ctx;
    char body[512];
    snprintf(body, sizeof body,
             "{\"brokerDatas\":[{\"brokerAddrs\":{\"0\":\"%s\"},\"brokerName\":\"fake-a\",\"cluster\":\"C\"}],"
             "\"queueDatas\":[{\"brokerName\":\"fake-a\",\"perm\":6,\"readQueueNums\":1,\"writeQueueNums\":1,"
             "\"topicSysFlag\":0}]}", f->addr);
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    rk_cmd_set_body(resp, body, strlen(body));
    rk_reply_send(reply, resp);
}

static void on_heartbeat(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    fake_t *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->heartbeats++;
    f->hb_conn = rk_conn_id(conn);
    snprintf(f->hb_body, sizeof f->hb_body, "%.*s", (int)req->body_len, (const char *)req->body);
    pthread_mutex_unlock(&f->mu);
    rk_reply_code(reply, RK_RESP_SUCCESS, NULL);
}

static void on_ok(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)ctx;
    (void)conn;
    (void)req;
    rk_reply_code(reply, RK_RESP_SUCCESS, NULL);
}

static void on_send(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    fake_t *f = ctx;
    int64_t sf = -1;
    rk_cmd_ext_i64(req, "f", &sf);
    const char *props = rk_cmd_ext_get(req, "i");
    pthread_mutex_lock(&f->mu);
    int n = f->sends++;
    int32_t code = f->send_code;
    if (n < FAKE_MAX) {
        f->sys_flag[n] = (int32_t)sf;
        snprintf(f->props[n], sizeof f->props[n], "%s", props ? props : "");
        rk_props_get_str(f->props[n], strlen(f->props[n]), RK_PROP_UNIQ_KEY, f->uniq[n], sizeof f->uniq[n]);
    }
    pthread_mutex_unlock(&f->mu);
    rk_cmd_t *resp = rk_cmd_new_response(req, code, NULL);
    rk_host_t h;
    char id[RK_MSGID_MAX];
    if (rk_host_parse(f->addr, &h) != RK_OK || rk_msgid_encode(&h, 100000 + 1000 * n, id, sizeof id) != RK_OK)
        snprintf(id, sizeof id, "bad");                     /* the test then fails on the offsets */
    rk_cmd_ext_set(resp, "msgId", id);
    rk_cmd_ext_set_i64(resp, "queueId", 0);
    rk_cmd_ext_set_i64(resp, "queueOffset", 40 + n);
    rk_reply_send(reply, resp);
}

static void on_end(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    fake_t *f = ctx;
    pthread_mutex_lock(&f->mu);
    if (f->nends < FAKE_MAX) {
        f->end_oneway[f->nends] = rk_cmd_is_oneway(req);
        f->ends[f->nends++] = rk_cmd_clone(req);
    }
    pthread_mutex_unlock(&f->mu);
    rk_reply_send(reply, NULL);         /* oneway */
}

static void on_cluster(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    fake_t *f = ctx;
    char body[512];
    snprintf(body, sizeof body,
             "{\"brokerAddrTable\":{\"fake-a\":{\"brokerAddrs\":{0:\"%s\"},\"brokerName\":\"fake-a\","
             "\"cluster\":\"C\"}},\"clusterAddrTable\":{\"C\":[\"fake-a\"]}}", f->addr);
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    rk_cmd_set_body(resp, body, strlen(body));
    rk_reply_send(reply, resp);
}

static void on_pending(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    fake_t *f = ctx;
    const char *g = rk_cmd_ext_get(req, "producerGroup"), *l = rk_cmd_ext_get(req, "limit");
    pthread_mutex_lock(&f->mu);
    snprintf(f->pending_group, sizeof f->pending_group, "%s", g ? g : "");
    snprintf(f->pending_limit, sizeof f->pending_limit, "%s", l ? l : "");
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    rk_cmd_set_body(resp, f->pending_json, strlen(f->pending_json));
    pthread_mutex_unlock(&f->mu);
    rk_reply_send(reply, resp);
}

static void fake_start(fake_t *f)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    rk_rserver_config_t sc = {.host = "127.0.0.1", .port = 0, .name = "fake"};
    cr_assert_eq(rk_rserver_new(&sc, &f->s), RK_OK);
    rk_rserver_register(f->s, RK_REQ_GET_ROUTEINFO_BY_TOPIC, on_route, f, RK_PROC_INLINE);
    rk_rserver_register(f->s, RK_REQ_HEART_BEAT, on_heartbeat, f, RK_PROC_INLINE);
    rk_rserver_register(f->s, RK_REQ_UNREGISTER_CLIENT, on_ok, f, RK_PROC_INLINE);
    rk_rserver_register(f->s, RK_REQ_SEND_MESSAGE_V2, on_send, f, RK_PROC_INLINE);
    rk_rserver_register(f->s, RK_REQ_END_TRANSACTION, on_end, f, RK_PROC_INLINE);
    rk_rserver_register(f->s, RK_REQ_GET_BROKER_CLUSTER_INFO, on_cluster, f, RK_PROC_INLINE);
    rk_rserver_register(f->s, RK_REQ_QUERY_TXN_PENDING, on_pending, f, RK_PROC_INLINE);
    char err[128];
    cr_assert_eq(rk_rserver_start(f->s, err, sizeof err), RK_OK, "%s", err);
    snprintf(f->addr, sizeof f->addr, "127.0.0.1:%d", rk_rserver_port(f->s));
}

static void fake_stop(fake_t *f)
{
    rk_rserver_free(f->s);
    for (int i = 0; i < f->nends; i++)
        rk_cmd_free(f->ends[i]);
    pthread_mutex_destroy(&f->mu);
}

static int fake_nends(fake_t *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->nends;
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* Polls until the fake holds n END_TRANSACTION requests (at most 5 s). */
static void wait_ends(fake_t *f, int n)
{
    for (int i = 0; i < 500 && fake_nends(f) < n; i++)
        usleep(10000);
    cr_assert_eq(fake_nends(f), n, "the fake got %d END_TRANSACTION, not %d", fake_nends(f), n);
}

static const char *ext(const rk_cmd_t *c, const char *k)
{
    const char *v = rk_cmd_ext_get(c, k);
    return v ? v : "(none)";
}

/* CHECK_TRANSACTION_STATE as a broker sends it: header offsets, the half as a stored record. */
typedef struct push {
    fake_t *f;
    rk_cmd_t *req;
} push_t;

static void do_push(void *arg)
{
    push_t *p = arg;
    rk_conn_t *c = rk_rserver_conn(p->f->s, p->f->hb_conn);
    if (c == NULL)
        rk_cmd_free(p->req);
    if (c == NULL || rk_conn_send_oneway(c, p->req) != RK_OK)  /* the test then waits in vain and fails */
        fprintf(stderr, "fake: the producer's connection is gone\n");
    free(p);
}

/* Sends req (consumed) to the producer over its own connection, from the fake's loop thread. */
static void push_cmd(fake_t *f, rk_cmd_t *req)
{
    push_t *p = malloc(sizeof *p);
    cr_assert_not_null(p);
    p->f = f;
    p->req = req;
    cr_assert_eq(rk_rserver_post(f->s, do_push, p), RK_OK);
}

static void push_check(fake_t *f, const char *group, const char *uniq, int64_t tran_off, int64_t clog_off)
{
    rk_buf_t props = {0};
    rk_props_put(&props, RK_PROP_UNIQ_KEY, uniq);
    rk_props_put(&props, RK_PROP_PGROUP, group);
    rk_props_put(&props, RK_PROP_TRAN_MSG, "true");
    rk_props_put(&props, RK_PROP_TRANSACTION_CHECK_TIMES, "1");
    rk_msg_t m = {.topic = "RealTopic", .topic_len = 9, .queue_id = 2, .sys_flag = 0, .born_ts = 1700000000000,
                  .body = (const uint8_t *)"order-17", .body_len = 8, .props = (const char *)props.data,
                  .props_len = props.len};
    cr_assert_eq(rk_host_parse(f->addr, &m.born_host), RK_OK);
    m.store_host = m.born_host;
    size_t len = rk_record_size(&m);
    uint8_t *rec = malloc(len);
    cr_assert_eq(rk_record_encode(&m, rec, len, tran_off, clog_off, 1700000000001), (int64_t)len);
    rk_buf_free(&props);
    rk_cmd_t *req = rk_cmd_new(RK_REQ_CHECK_TRANSACTION_STATE);
    rk_cmd_ext_set_i64(req, "tranStateTableOffset", tran_off);
    rk_cmd_ext_set_i64(req, "commitLogOffset", clog_off);
    rk_cmd_ext_set(req, "msgId", uniq);
    rk_cmd_ext_set(req, "transactionId", uniq);
    rk_cmd_own_body(req, rec, len);
    push_cmd(f, req);
}

/* ------------------------------------------------------------------ callbacks */

typedef struct app {
    _Atomic int executed, checked;
    rk_txn_state_t answer;              /* what execute returns */
    rk_txn_state_t check_answer;
    char checked_topic[64], checked_id[64], checked_body[32], check_times[8];
    /* a check callback that blocks until released */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool block, released;
    _Atomic int inside;
} app_t;

static rk_txn_state_t execute(void *arg, const rk_message_t *m, const rk_send_result_t *half)
{
    (void)m;
    (void)half;
    app_t *a = arg;
    a->executed++;
    return a->answer;
}

static rk_txn_state_t check(void *arg, const rk_msg_ext_t *m)
{
    app_t *a = arg;
    a->inside++;
    pthread_mutex_lock(&a->mu);
    snprintf(a->checked_topic, sizeof a->checked_topic, "%s", m->topic);
    snprintf(a->checked_id, sizeof a->checked_id, "%s", m->msg_id);
    snprintf(a->checked_body, sizeof a->checked_body, "%.*s", (int)m->body_len, (const char *)m->body);
    if (rk_msg_prop(m, RK_PROP_TRANSACTION_CHECK_TIMES, a->check_times, sizeof a->check_times) != RK_OK)
        a->check_times[0] = '\0';
    while (a->block && !a->released)
        pthread_cond_wait(&a->cv, &a->mu);
    pthread_mutex_unlock(&a->mu);
    a->checked++;
    return a->check_answer;
}

static void app_init(app_t *a, rk_txn_state_t answer, rk_txn_state_t check_answer)
{
    memset(a, 0, sizeof *a);
    a->answer = answer;
    a->check_answer = check_answer;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
}

static void app_release(app_t *a)
{
    pthread_mutex_lock(&a->mu);
    a->released = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void app_destroy(app_t *a)
{
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
}

static rk_txn_producer_t *producer_on(fake_t *f, app_t *a, const char *group, int threads, int queue_max)
{
    rk_txn_producer_config_t cfg = {.producer = {.namesrv = f->addr, .group = group, .retries = -1},
                                    .check = check, .check_arg = a, .check_threads = threads,
                                    .check_queue_max = queue_max};
    rk_txn_producer_t *tp = NULL;
    cr_assert_eq(rk_txn_producer_new(&cfg, &tp), RK_OK);
    return tp;
}

static void quiet(void)
{
    rk_log_set_level(RK_LOG_ERROR + 1);
}

/* ------------------------------------------------------------------ validation */

Test(txn_producer, new_refuses_missing_or_bad_settings, .init = quiet)
{
    rk_txn_producer_t *tp = (rk_txn_producer_t *)1;
    rk_txn_producer_config_t ok = {.producer = {.namesrv = "127.0.0.1:1", .group = "pg"}, .check = check};
    rk_txn_producer_config_t c = ok;
    c.check = NULL;
    cr_expect_eq(rk_txn_producer_new(&c, &tp), RK_EINVAL, "no check callback");
    cr_expect_null(tp);
    c = ok;
    c.producer.group = NULL;
    cr_expect_eq(rk_txn_producer_new(&c, &tp), RK_EINVAL, "no group");
    c = ok;
    c.producer.group = "bad group!";
    cr_expect_eq(rk_txn_producer_new(&c, &tp), RK_EINVAL, "bad group name");
    c = ok;
    c.producer.namesrv = "";
    cr_expect_eq(rk_txn_producer_new(&c, &tp), RK_EINVAL, "no name server");
    c = ok;
    c.check_threads = 17;
    cr_expect_eq(rk_txn_producer_new(&c, &tp), RK_EINVAL, "too many threads");
    c = ok;
    c.check_queue_max = -1;
    cr_expect_eq(rk_txn_producer_new(&c, &tp), RK_EINVAL, "negative queue");
    cr_expect_eq(rk_txn_producer_new(NULL, &tp), RK_EINVAL);
    rk_txn_producer_free(NULL);
}

Test(txn_producer, send_refuses_missing_callback_or_message, .init = quiet)
{
    fake_t f;
    fake_start(&f);
    app_t a;
    app_init(&a, RK_TXN_COMMIT, RK_TXN_COMMIT);
    rk_txn_producer_t *tp = producer_on(&f, &a, "pg", 0, 0);
    rk_message_t m = {.topic = "RealTopic", .body = "x", .body_len = 1};
    rk_txn_send_result_t r;
    cr_expect_eq(rk_txn_producer_send(tp, &m, NULL, &a, &r), RK_EINVAL);
    cr_expect(strstr(r.error, "local-transaction callback") != NULL, "%s", r.error);
    cr_expect_eq(rk_txn_producer_send(tp, NULL, execute, &a, &r), RK_EINVAL);
    rk_message_t empty = {.topic = "RealTopic"};
    cr_expect_eq(rk_txn_producer_send(tp, &empty, execute, &a, &r), RK_EINVAL);
    cr_expect(strstr(r.error, "body is empty") != NULL, "%s", r.error);
    cr_expect_eq(a.executed, 0, "nothing was stored, nothing may run");
    rk_txn_producer_free(tp);
    cr_expect_eq(f.sends, 0);
    cr_expect_eq(f.nends, 0);
    fake_stop(&f);
    app_destroy(&a);
}

/* ------------------------------------------------------------------ END_TRANSACTION requests */

Test(txn_end, request_carries_the_header_fields)
{
    rk_txn_end_t e = {.group = "pg", .tran_state_table_offset = 7, .commit_log_offset = 123456,
                      .state = RK_TXN_ROLLBACK, .from_check = true, .msg_id = "U1", .transaction_id = "T1"};
    int err = 1;
    rk_cmd_t *c = rk_txn_end_request(&e, &err);
    cr_assert_not_null(c);
    cr_expect_eq(err, RK_OK);
    cr_expect_eq(c->code, RK_REQ_END_TRANSACTION);
    cr_expect_str_eq(ext(c, "producerGroup"), "pg");
    cr_expect_str_eq(ext(c, "tranStateTableOffset"), "7");
    cr_expect_str_eq(ext(c, "commitLogOffset"), "123456");
    cr_expect_str_eq(ext(c, "commitOrRollback"), "12");
    cr_expect_str_eq(ext(c, "fromTransactionCheck"), "true");
    cr_expect_str_eq(ext(c, "msgId"), "U1");
    cr_expect_str_eq(ext(c, "transactionId"), "T1");
    rk_cmd_free(c);
}

Test(txn_end, request_refuses_bad_values)
{
    rk_txn_end_t ok = {.group = "pg", .tran_state_table_offset = 0, .commit_log_offset = 0, .state = RK_TXN_COMMIT,
                       .msg_id = "U"};
    rk_txn_end_t e = ok;
    int err = 0;
    e.state = (rk_txn_state_t)4;
    cr_expect_null(rk_txn_end_request(&e, &err));
    cr_expect_eq(err, RK_EINVAL);
    e = ok;
    e.commit_log_offset = -1;
    cr_expect_null(rk_txn_end_request(&e, &err));
    e = ok;
    e.tran_state_table_offset = -5;
    cr_expect_null(rk_txn_end_request(&e, &err));
    e = ok;
    e.msg_id = "";
    cr_expect_null(rk_txn_end_request(&e, &err));
    e = ok;
    e.group = NULL;
    cr_expect_null(rk_txn_end_request(&e, &err));
    rk_cmd_t *c = rk_txn_end_request(&ok, &err);
    cr_assert_not_null(c);
    cr_expect_null(rk_cmd_ext_get(c, "transactionId"), "no transaction id given, none sent");
    cr_expect_str_eq(ext(c, "fromTransactionCheck"), "false");
    rk_cmd_free(c);
}

Test(txn_end, for_half_takes_offsets_from_the_send_result)
{
    rk_send_result_t half = {.queue_offset = 41};
    snprintf(half.msg_id, sizeof half.msg_id, "UNIQ1");
    rk_host_t h;
    cr_assert_eq(rk_host_parse("10.1.2.3:10911", &h), RK_OK);
    rk_msgid_encode(&h, 987654321, half.offset_msg_id, sizeof half.offset_msg_id);
    int err;
    rk_cmd_t *c = rk_txn_end_for_half("pg", &half, RK_TXN_COMMIT, &err);
    cr_assert_not_null(c);
    cr_expect_str_eq(ext(c, "commitLogOffset"), "987654321");
    cr_expect_str_eq(ext(c, "tranStateTableOffset"), "41");
    cr_expect_str_eq(ext(c, "commitOrRollback"), "8");
    cr_expect_str_eq(ext(c, "msgId"), "UNIQ1");
    cr_expect_str_eq(ext(c, "transactionId"), "UNIQ1");
    rk_cmd_free(c);
    snprintf(half.offset_msg_id, sizeof half.offset_msg_id, "not-hex");
    cr_expect_null(rk_txn_end_for_half("pg", &half, RK_TXN_COMMIT, &err));
    cr_expect_eq(err, RK_EINVAL);
}

/* ------------------------------------------------------------------ send path (fake broker) */

/* One transactional send whose local transaction answers `answer`; returns the END the fake got. */
static void send_one(rk_txn_state_t answer, rk_txn_state_t want, const char *want_code)
{
    fake_t f;
    fake_start(&f);
    app_t a;
    app_init(&a, answer, RK_TXN_COMMIT);
    rk_txn_producer_t *tp = producer_on(&f, &a, "pg_send", 0, 0);
    rk_buf_t props = {0};
    rk_props_put(&props, RK_PROP_DELAY, "3");       /* a transaction cannot be delayed: removed */
    rk_props_put(&props, "order", "17");
    rk_message_t m = {.topic = "RealTopic", .tags = "paid", .body = "order-17", .body_len = 8,
                      .props = (const char *)props.data, .props_len = props.len};
    rk_txn_send_result_t r;
    cr_assert_eq(rk_txn_producer_send(tp, &m, execute, &a, &r), RK_OK, "%s", r.error);
    rk_buf_free(&props);
    cr_expect_eq(a.executed, 1);
    cr_expect(r.executed);
    cr_expect_eq((int)r.state, (int)want);
    cr_expect_eq(r.end_status, RK_OK, "%s", r.error);
    wait_ends(&f, 1);
    /* the half */
    cr_expect_eq(f.sends, 1);
    cr_expect_eq(f.sys_flag[0] & RK_SYSFLAG_TXN_MASK, RK_SYSFLAG_TXN_PREPARED, "sysFlag %d", f.sys_flag[0]);
    char v[64];
    cr_expect_eq(rk_props_get_str(f.props[0], strlen(f.props[0]), RK_PROP_TRAN_MSG, v, sizeof v), RK_OK);
    cr_expect_str_eq(v, "true");
    cr_expect_eq(rk_props_get_str(f.props[0], strlen(f.props[0]), RK_PROP_PGROUP, v, sizeof v), RK_OK);
    cr_expect_str_eq(v, "pg_send");
    cr_expect_eq(rk_props_get_str(f.props[0], strlen(f.props[0]), RK_PROP_DELAY, v, sizeof v), RK_ENOTFOUND);
    cr_expect_eq(rk_props_get_str(f.props[0], strlen(f.props[0]), "order", v, sizeof v), RK_OK);
    /* its END_TRANSACTION */
    rk_cmd_t *e = f.ends[0];
    cr_expect_str_eq(ext(e, "producerGroup"), "pg_send");
    cr_expect_str_eq(ext(e, "commitOrRollback"), want_code);
    cr_expect_str_eq(ext(e, "fromTransactionCheck"), "false");
    cr_expect_str_eq(ext(e, "tranStateTableOffset"), "40");         /* the half's queue offset */
    cr_expect_str_eq(ext(e, "commitLogOffset"), "100000");          /* inside its offsetMsgId */
    cr_expect_str_eq(ext(e, "msgId"), f.uniq[0]);
    cr_expect_str_eq(ext(e, "transactionId"), f.uniq[0]);
    cr_expect_str_eq(r.half.msg_id, f.uniq[0]);
    cr_expect(f.end_oneway[0], "END_TRANSACTION goes oneway, as RocketMQ's");
    rk_txn_producer_stats_t st;
    rk_txn_producer_stats(tp, &st);
    cr_expect_eq(st.sends, 1);
    cr_expect_eq(st.commits + st.rollbacks + st.unknowns, 1);
    rk_txn_producer_free(tp);
    fake_stop(&f);
    app_destroy(&a);
}

Test(txn_send, commit_sends_the_half_then_end_8, .init = quiet) { send_one(RK_TXN_COMMIT, RK_TXN_COMMIT, "8"); }
Test(txn_send, rollback_ends_with_12, .init = quiet) { send_one(RK_TXN_ROLLBACK, RK_TXN_ROLLBACK, "12"); }
Test(txn_send, unknown_ends_with_0, .init = quiet) { send_one(RK_TXN_UNKNOWN, RK_TXN_UNKNOWN, "0"); }
Test(txn_send, a_value_that_is_no_state_counts_as_unknown, .init = quiet) { send_one((rk_txn_state_t)77, RK_TXN_UNKNOWN, "0"); }

Test(txn_send, half_not_durable_is_rolled_back_without_running_the_transaction, .init = quiet)
{
    fake_t f;
    fake_start(&f);
    f.send_code = RK_RESP_FLUSH_DISK_TIMEOUT;
    app_t a;
    app_init(&a, RK_TXN_COMMIT, RK_TXN_COMMIT);
    rk_txn_producer_t *tp = producer_on(&f, &a, "pg", 0, 0);
    rk_message_t m = {.topic = "RealTopic", .body = "x", .body_len = 1};
    rk_txn_send_result_t r;
    cr_assert_eq(rk_txn_producer_send(tp, &m, execute, &a, &r), RK_OK, "%s", r.error);
    cr_expect_eq(r.half.status, RK_SEND_FLUSH_DISK_TIMEOUT);
    cr_expect_not(r.executed);
    cr_expect_eq(a.executed, 0);
    cr_expect_eq(r.state, RK_TXN_ROLLBACK);
    wait_ends(&f, 1);
    cr_expect_str_eq(ext(f.ends[0], "commitOrRollback"), "12");
    rk_txn_producer_free(tp);
    fake_stop(&f);
    app_destroy(&a);
}

Test(txn_send, heartbeat_names_the_group_at_start, .init = quiet)
{
    fake_t f;
    fake_start(&f);
    app_t a;
    app_init(&a, RK_TXN_COMMIT, RK_TXN_COMMIT);
    rk_txn_producer_t *tp = producer_on(&f, &a, "pg_hb", 0, 0);
    /* no send yet: the TBW102 route led the heartbeat to the broker */
    pthread_mutex_lock(&f.mu);
    int hb = f.heartbeats;
    bool named = strstr(f.hb_body, "\"producerDataSet\":[{\"groupName\":\"pg_hb\"}]") != NULL;
    pthread_mutex_unlock(&f.mu);
    cr_expect_geq(hb, 1);
    cr_expect(named, "heartbeat %s", f.hb_body);
    rk_txn_producer_free(tp);
    fake_stop(&f);
    app_destroy(&a);
}

/* ------------------------------------------------------------------ check-back (fake broker) */

Test(txn_check, check_back_is_answered_with_end_from_check, .init = quiet)
{
    fake_t f;
    fake_start(&f);
    app_t a;
    app_init(&a, RK_TXN_UNKNOWN, RK_TXN_COMMIT);
    rk_txn_producer_t *tp = producer_on(&f, &a, "pg_chk", 2, 0);
    cr_assert_geq(f.heartbeats, 1);
    push_check(&f, "pg_chk", "AC1100010000000000000000000000AA", 55, 777777);
    wait_ends(&f, 1);
    rk_cmd_t *e = f.ends[0];
    cr_expect_str_eq(ext(e, "producerGroup"), "pg_chk");
    cr_expect_str_eq(ext(e, "commitOrRollback"), "8");
    cr_expect_str_eq(ext(e, "fromTransactionCheck"), "true");
    cr_expect_str_eq(ext(e, "tranStateTableOffset"), "55");     /* the check's, not a send's */
    cr_expect_str_eq(ext(e, "commitLogOffset"), "777777");
    cr_expect_str_eq(ext(e, "msgId"), "AC1100010000000000000000000000AA");
    cr_expect_str_eq(ext(e, "transactionId"), "AC1100010000000000000000000000AA");
    cr_expect_eq(a.checked, 1);
    cr_expect_str_eq(a.checked_topic, "RealTopic");
    cr_expect_str_eq(a.checked_id, "AC1100010000000000000000000000AA");
    cr_expect_str_eq(a.checked_body, "order-17");
    cr_expect_str_eq(a.check_times, "1");
    rk_txn_producer_stats_t st;
    rk_txn_producer_stats(tp, &st);
    cr_expect_eq(st.checks_received, 1);
    cr_expect_eq(st.checks_answered, 1);
    rk_txn_producer_free(tp);
    fake_stop(&f);
    app_destroy(&a);
}

Test(txn_check, another_groups_check_is_ignored, .init = quiet)
{
    fake_t f;
    fake_start(&f);
    app_t a;
    app_init(&a, RK_TXN_UNKNOWN, RK_TXN_COMMIT);
    rk_txn_producer_t *tp = producer_on(&f, &a, "pg_mine", 1, 0);
    push_check(&f, "pg_other", "AC1100010000000000000000000000AB", 1, 2);
    push_check(&f, "pg_mine", "AC1100010000000000000000000000AC", 3, 4);     /* ordered after the first */
    wait_ends(&f, 1);
    cr_expect_str_eq(ext(f.ends[0], "msgId"), "AC1100010000000000000000000000AC");
    rk_txn_producer_stats_t st;
    rk_txn_producer_stats(tp, &st);
    cr_expect_eq(st.checks_rejected, 1);
    cr_expect_eq(a.checked, 1);
    rk_txn_producer_free(tp);
    fake_stop(&f);
    app_destroy(&a);
}

Test(txn_check, malformed_checks_are_counted_and_ignored, .init = quiet)
{
    fake_t f;
    fake_start(&f);
    app_t a;
    app_init(&a, RK_TXN_UNKNOWN, RK_TXN_COMMIT);
    rk_txn_producer_t *tp = producer_on(&f, &a, "pg_bad", 1, 0);
    rk_cmd_t *req = rk_cmd_new(RK_REQ_CHECK_TRANSACTION_STATE);        /* no offsets, no body */
    push_cmd(&f, req);
    req = rk_cmd_new(RK_REQ_CHECK_TRANSACTION_STATE);                  /* negative offset */
    rk_cmd_ext_set_i64(req, "tranStateTableOffset", -1);
    rk_cmd_ext_set_i64(req, "commitLogOffset", 5);
    rk_cmd_set_body(req, "x", 1);
    push_cmd(&f, req);
    req = rk_cmd_new(RK_REQ_CHECK_TRANSACTION_STATE);                  /* a body that is no record */
    rk_cmd_ext_set_i64(req, "tranStateTableOffset", 1);
    rk_cmd_ext_set_i64(req, "commitLogOffset", 5);
    rk_cmd_set_body(req, "garbage, not a stored message", 29);
    push_cmd(&f, req);
    push_check(&f, "pg_bad", "AC1100010000000000000000000000AD", 9, 99);     /* then a good one */
    wait_ends(&f, 1);
    cr_expect_str_eq(ext(f.ends[0], "commitLogOffset"), "99");
    rk_txn_producer_stats_t st;
    rk_txn_producer_stats(tp, &st);
    cr_expect_eq(st.checks_received, 4);
    cr_expect_eq(st.checks_rejected, 3);
    cr_expect_eq(a.checked, 1);
    rk_txn_producer_free(tp);
    fake_stop(&f);
    app_destroy(&a);
}

Test(txn_check, slow_check_blocks_neither_sends_nor_the_network, .init = quiet)
{
    fake_t f;
    fake_start(&f);
    app_t a;
    app_init(&a, RK_TXN_COMMIT, RK_TXN_ROLLBACK);
    a.block = true;
    rk_txn_producer_t *tp = producer_on(&f, &a, "pg_slow", 1, 2);
    push_check(&f, "pg_slow", "AC1100010000000000000000000000B0", 1, 10);
    for (int i = 0; i < 500 && a.inside == 0; i++)
        usleep(10000);
    cr_assert_eq(a.inside, 1, "the check never started");
    /* the check thread is stuck in the application; the network thread is not */
    rk_message_t m = {.topic = "RealTopic", .body = "x", .body_len = 1};
    rk_txn_send_result_t r;
    cr_assert_eq(rk_txn_producer_send(tp, &m, execute, &a, &r), RK_OK, "%s", r.error);
    wait_ends(&f, 1);
    cr_expect_str_eq(ext(f.ends[0], "fromTransactionCheck"), "false");
    /* two more wait in the queue (its bound is 2), the next two are dropped */
    for (int i = 0; i < 4; i++)
        push_check(&f, "pg_slow", "AC1100010000000000000000000000B1", 2 + i, 20 + i);
    rk_txn_producer_stats_t st;
    for (int i = 0; i < 500; i++) {
        rk_txn_producer_stats(tp, &st);
        if (st.checks_received == 5)
            break;
        usleep(10000);
    }
    cr_expect_eq(st.checks_received, 5);
    cr_expect_eq(st.checks_dropped, 2);
    app_release(&a);
    wait_ends(&f, 4);                   /* the send's, then the three checks kept */
    for (int i = 1; i < 4; i++) {
        cr_expect_str_eq(ext(f.ends[i], "fromTransactionCheck"), "true");
        cr_expect_str_eq(ext(f.ends[i], "commitOrRollback"), "12");
    }
    rk_txn_producer_free(tp);
    fake_stop(&f);
    app_destroy(&a);
}

Test(txn_check, free_with_checks_queued_drops_them, .init = quiet)
{
    fake_t f;
    fake_start(&f);
    app_t a;
    app_init(&a, RK_TXN_COMMIT, RK_TXN_COMMIT);
    a.block = true;
    rk_txn_producer_t *tp = producer_on(&f, &a, "pg_free", 1, 0);
    for (int i = 0; i < 3; i++)
        push_check(&f, "pg_free", "AC1100010000000000000000000000C0", i, 100 + i);
    rk_txn_producer_stats_t st;
    for (int i = 0; i < 500; i++) {
        rk_txn_producer_stats(tp, &st);
        if (st.checks_received == 3 && a.inside == 1)
            break;
        usleep(10000);
    }
    cr_assert_eq(st.checks_received, 3);
    app_release(&a);                    /* the one running finishes; free drops what waits */
    rk_txn_producer_free(tp);
    cr_expect_leq(fake_nends(&f), 3);
    fake_stop(&f);
    app_destroy(&a);
}

/* ------------------------------------------------------------------ mqadmin (fake broker) */

static int mqadmin(char **out, const char *a1, const char *a2, const char *a3, const char *a4, const char *a5,
                   const char *a6, const char *a7, const char *a8)
{
    char *argv[] = {(char *)rk_tk_bin("mqadmin"), (char *)a1, (char *)a2, (char *)a3, (char *)a4, (char *)a5,
                    (char *)a6, (char *)a7, (char *)a8, NULL};
    return rk_tk_run(argv, out, 20000);
}

Test(txn_mqadmin, txn_pending_prints_each_group_and_its_check_counts)
{
    fake_t f;
    fake_start(&f);
    snprintf(f.pending_json, sizeof f.pending_json,
             "{\"groups\":[{\"producerGroup\":\"pg_orders\",\"pending\":3,\"checkTimes\":{\"1\":1,\"0\":2},"
             "\"oldestStoreTimestamp\":1700000000000,\"topics\":{\"Orders\":3}}],\"scanned\":9,\"truncated\":true,"
             "\"halfOffset\":6,\"halfMaxOffset\":15,\"opOffset\":4,\"opMaxOffset\":8}");
    char *out = NULL;
    int rc = mqadmin(&out, "txnPending", "-n", f.addr, "-g", "pg_orders", "-l", "500", NULL);
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "fake-a") && strstr(out, "pg_orders"), "%s", out);
    cr_expect(strstr(out, "  3  ") != NULL, "the pending count: %s", out);
    cr_expect(strstr(out, "0:2 1:1") != NULL, "check counts in order: %s", out);
    cr_expect(strstr(out, "9 half-queue entries scanned (stopped at the limit") != NULL, "%s", out);
    cr_expect(strstr(out, "half queue 6 of 15, op queue 4 of 8") != NULL, "%s", out);
    cr_expect(strstr(out, "3 half message(s) pending on 1 broker(s)") != NULL, "%s", out);
    cr_expect_str_eq(f.pending_group, "pg_orders");
    cr_expect_str_eq(f.pending_limit, "500");
    free(out);
    out = NULL;
    rc = mqadmin(&out, "txnPending", "-n", f.addr, "-c", "NoSuchCluster", NULL, NULL, NULL);
    cr_expect_eq(rc, 1);
    cr_expect(strstr(out, "no cluster NoSuchCluster") != NULL, "%s", out);
    free(out);
    out = NULL;
    rc = mqadmin(&out, "txnPending", "-n", f.addr, "-l", "0", NULL, NULL, NULL);
    cr_expect_eq(rc, 2, "a limit under 1 is refused: %s", out);
    free(out);
    fake_stop(&f);
}

Test(txn_mqadmin, txn_pending_says_when_a_broker_does_not_know_the_request)
{
    fake_t f;
    fake_start(&f);
    snprintf(f.pending_json, sizeof f.pending_json, "not json");
    char *out = NULL;
    int rc = mqadmin(&out, "txnPending", "-n", f.addr, NULL, NULL, NULL, NULL, NULL);
    cr_expect_eq(rc, 1);
    cr_expect(strstr(out, "not JSON") != NULL, "%s", out);
    free(out);
    fake_stop(&f);
}

/* ------------------------------------------------------------------ end to end (chapter 11's broker) */

#include "rk/tk_rcluster.h"
#include "rk/consumer.h"

/* Fast checks: a pass every second, a half is checked once 500 ms old. */
#define TXN_CONF "transactionCheckInterval=1000\ntransactionTimeOut=500\n"

static void need_txn_broker(void)
{
    quiet();
    cr_assert_eq(access(rk_tk_bin("mqbroker"), X_OK), 0, "chapter 11's mqbroker (%s) is not built", rk_tk_bin("mqbroker"));
}

/* Every message of the topic's only queue from offset 0 until one with body `until` (at most
 * 20 s); counts those with body `a` and `b` into *na / *nb. Returns whether `until` came. */
static bool consume_until(rk_rc_cluster_t *c, const char *topic, const char *until, const char *a, int *na,
                          const char *b, int *nb)
{
    rk_pull_consumer_config_t cfg = {.namesrv = c->ns, .group = "txn_test_reader"};
    rk_pull_consumer_t *pc;
    cr_assert_eq(rk_pull_consumer_new(&cfg, &pc), RK_OK);
    rk_mq_t *qs = NULL;
    size_t nq = 0;
    cr_assert_eq(rk_pull_consumer_queues(pc, topic, &qs, &nq), RK_OK);
    cr_assert_eq(nq, 1);
    *na = 0;
    if (nb)
        *nb = 0;
    bool seen = false;
    int64_t off = 0;
    uint64_t deadline = rk_mono_ms() + 20000;
    while (!seen && rk_mono_ms() < deadline) {
        rk_pull_result_t r;
        if (rk_pull_consumer_pull(pc, &qs[0], "*", off, 32, 1000, &r) != RK_OK)
            continue;
        if (r.status == RK_PULL_FOUND) {
            for (size_t i = 0; i < r.msgs->n; i++) {
                const rk_msg_ext_t *m = &r.msgs->msgs[i];
                cr_expect_eq(m->sys_flag & RK_SYSFLAG_TXN_MASK, m->body_len && strncmp((const char *)m->body,
                             "plain", 5) == 0 ? RK_SYSFLAG_TXN_NOT : RK_SYSFLAG_TXN_COMMIT,
                             "a committed message says COMMIT in its sysFlag");
                if (m->body_len == strlen(a) && memcmp(m->body, a, m->body_len) == 0)
                    (*na)++;
                if (b && m->body_len == strlen(b) && memcmp(m->body, b, m->body_len) == 0)
                    (*nb)++;
                if (m->body_len == strlen(until) && memcmp(m->body, until, m->body_len) == 0)
                    seen = true;
            }
        }
        if (r.status != RK_PULL_NO_NEW_MSG)
            off = r.next_offset;
        rk_pull_result_free(&r);
    }
    free(qs);
    rk_pull_consumer_free(pc);
    return seen;
}

static rk_txn_producer_t *real_producer(rk_rc_cluster_t *c, app_t *a, const char *group, const char *topic)
{
    const char *topics[] = {topic, NULL};
    rk_txn_producer_config_t cfg = {.producer = {.namesrv = c->ns, .group = group}, .check = check,
                                    .check_arg = a, .topics = topics};
    rk_txn_producer_t *tp = NULL;
    cr_assert_eq(rk_txn_producer_new(&cfg, &tp), RK_OK);
    return tp;
}

static void txn_send(rk_txn_producer_t *tp, const char *topic, const char *body, app_t *a, rk_txn_state_t st)
{
    a->answer = st;
    rk_message_t m = {.topic = topic, .body = body, .body_len = strlen(body)};
    rk_txn_send_result_t r;
    cr_assert_eq(rk_txn_producer_send(tp, &m, execute, a, &r), RK_OK, "%s", r.error);
    cr_assert_eq(r.half.status, RK_SEND_OK);
    cr_assert_eq(r.end_status, RK_OK, "%s", r.error);
}

Test(txn_e2e, commit_delivers_once_rollback_never, .init = need_txn_broker, .timeout = 60)
{
    rk_rc_cluster_t c;
    rk_rc_start(&c, TXN_CONF);
    rk_rc_create_topic(&c, "TxnOnce", 1);
    app_t a;
    app_init(&a, RK_TXN_COMMIT, RK_TXN_UNKNOWN);
    rk_txn_producer_t *tp = real_producer(&c, &a, "pg_once", "TxnOnce");
    txn_send(tp, "TxnOnce", "committed", &a, RK_TXN_COMMIT);
    txn_send(tp, "TxnOnce", "rolled-back", &a, RK_TXN_ROLLBACK);
    txn_send(tp, "TxnOnce", "last", &a, RK_TXN_COMMIT);
    int nc, nr;
    cr_assert(consume_until(&c, "TxnOnce", "last", "committed", &nc, "rolled-back", &nr), "the last commit never came");
    cr_expect_eq(nc, 1, "the committed message came %d times", nc);
    cr_expect_eq(nr, 0, "the rolled-back message came %d times", nr);
    cr_expect_eq(a.checked, 0, "nothing was left to check");
    rk_txn_producer_free(tp);
    rk_rc_stop(&c);
    app_destroy(&a);
}

Test(txn_e2e, unknown_then_check_back_commit_delivers_once, .init = need_txn_broker, .timeout = 60)
{
    rk_rc_cluster_t c;
    rk_rc_start(&c, TXN_CONF);
    rk_rc_create_topic(&c, "TxnCheck", 1);
    app_t a;
    app_init(&a, RK_TXN_UNKNOWN, RK_TXN_COMMIT);
    rk_txn_producer_t *tp = real_producer(&c, &a, "pg_check", "TxnCheck");
    txn_send(tp, "TxnCheck", "decided-later", &a, RK_TXN_UNKNOWN);
    int n, dummy;
    cr_assert(consume_until(&c, "TxnCheck", "decided-later", "decided-later", &n, NULL, NULL),
              "the check-back's commit never delivered the message");
    cr_expect_geq(a.checked, 1);
    cr_expect_str_eq(a.checked_topic, "TxnCheck", "the check shows the real topic");
    txn_send(tp, "TxnCheck", "marker", &a, RK_TXN_COMMIT);
    cr_assert(consume_until(&c, "TxnCheck", "marker", "decided-later", &n, NULL, &dummy));
    cr_expect_eq(n, 1, "the checked message came %d times", n);
    rk_txn_producer_free(tp);
    rk_rc_stop(&c);
    app_destroy(&a);
}

Test(txn_e2e, restarted_producer_receives_the_check_back, .init = need_txn_broker, .timeout = 60)
{
    rk_rc_cluster_t c;
    rk_rc_start(&c, TXN_CONF);
    rk_rc_create_topic(&c, "TxnRestart", 1);
    app_t a1, a2;
    app_init(&a1, RK_TXN_UNKNOWN, RK_TXN_UNKNOWN);
    app_init(&a2, RK_TXN_COMMIT, RK_TXN_COMMIT);
    rk_txn_producer_t *tp = real_producer(&c, &a1, "pg_restart", "TxnRestart");
    txn_send(tp, "TxnRestart", "orphan", &a1, RK_TXN_UNKNOWN);
    rk_txn_producer_free(tp);           /* the application stops before deciding */
    tp = real_producer(&c, &a2, "pg_restart", "TxnRestart");   /* never sends the orphan */
    int n;
    cr_assert(consume_until(&c, "TxnRestart", "orphan", "orphan", &n, NULL, NULL),
              "the new producer was never asked about the orphan");
    cr_expect_geq(a2.checked, 1);
    cr_expect_eq(n, 1);
    rk_txn_producer_free(tp);
    rk_rc_stop(&c);
    app_destroy(&a1);
    app_destroy(&a2);
}

/* The committed message's offset id, pulled from the topic's only queue. */
static bool committed_offset_id(rk_rc_cluster_t *c, const char *topic, char *id, size_t len)
{
    rk_pull_consumer_config_t cfg = {.namesrv = c->ns, .group = "txn_test_reader"};
    rk_pull_consumer_t *pc;
    cr_assert_eq(rk_pull_consumer_new(&cfg, &pc), RK_OK);
    rk_mq_t *qs = NULL;
    size_t nq = 0;
    bool ok = false;
    if (rk_pull_consumer_queues(pc, topic, &qs, &nq) == RK_OK && nq == 1) {
        for (int i = 0; i < 20 && !ok; i++) {
            rk_pull_result_t r;
            if (rk_pull_consumer_pull(pc, &qs[0], "*", 0, 1, 1000, &r) != RK_OK)
                continue;
            if (r.status == RK_PULL_FOUND && r.msgs->n > 0) {
                snprintf(id, len, "%s", r.msgs->msgs[0].offset_msg_id);
                ok = true;
            }
            rk_pull_result_free(&r);
        }
    }
    free(qs);
    rk_pull_consumer_free(pc);
    return ok;
}

Test(txn_e2e, mqadmin_shows_pending_halves_and_a_commits_state, .init = need_txn_broker, .timeout = 60)
{
    rk_rc_cluster_t c;
    rk_rc_start(&c, "transactionCheckInterval=600000\n");      /* no check-back during the test */
    rk_rc_create_topic(&c, "TxnAdmin", 1);
    rk_rc_create_topic(&c, "TxnAdminC", 1);
    app_t a;
    app_init(&a, RK_TXN_UNKNOWN, RK_TXN_UNKNOWN);
    rk_txn_producer_t *tp = real_producer(&c, &a, "pg_admin", "TxnAdmin");
    txn_send(tp, "TxnAdmin", "undecided", &a, RK_TXN_UNKNOWN);
    rk_message_t m = {.topic = "TxnAdmin", .body = "undecided-too", .body_len = 13};
    rk_txn_send_result_t r, pending;
    cr_assert_eq(rk_txn_producer_send(tp, &m, execute, &a, &pending), RK_OK, "%s", pending.error);
    a.answer = RK_TXN_COMMIT;
    m = (rk_message_t){.topic = "TxnAdminC", .body = "done", .body_len = 4};
    cr_assert_eq(rk_txn_producer_send(tp, &m, execute, &a, &r), RK_OK, "%s", r.error);
    rk_host_t h;
    int64_t half_off = -1;
    cr_assert_eq(rk_msgid_decode(r.half.offset_msg_id, &h, &half_off), RK_OK);

    /* the half queue's index is built behind the store (chapter 5's dispatcher): ask until both
     * halves are indexed */
    char *out = NULL;
    int rc = -1;
    for (int i = 0; i < 50; i++) {
        free(out);
        out = NULL;
        rc = mqadmin(&out, "txnPending", "-n", c.ns, "-g", "pg_admin", NULL, NULL, NULL);
        if (rc != 0 || strstr(out, "  2  ") != NULL)
            break;
        usleep(100000);
    }
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "pg_admin") != NULL && strstr(out, "  2  ") != NULL, "two pending: %s", out);
    cr_expect(strstr(out, "0:2") != NULL, "never checked: %s", out);
    free(out);

    /* the pending half itself, by its offset id */
    out = NULL;
    rc = mqadmin(&out, "queryMsgById", "-n", c.ns, "-i", pending.half.offset_msg_id, NULL, NULL, NULL);
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "Transaction:         HALF") != NULL, "%s", out);
    cr_expect(strstr(out, "Real Topic:          TxnAdmin (queue ") != NULL, "%s", out);
    cr_expect(strstr(out, "Producer Group:      pg_admin") != NULL, "%s", out);
    free(out);

    char id[RK_MSGID_MAX];
    cr_assert(committed_offset_id(&c, "TxnAdminC", id, sizeof id), "the commit never came");
    out = NULL;
    rc = mqadmin(&out, "queryMsgById", "-n", c.ns, "-i", id, NULL, NULL, NULL);
    cr_expect_eq(rc, 0, "%s", out);
    char want[64];
    snprintf(want, sizeof want, "Prepared Tx Offset:  %" PRId64, half_off);
    cr_expect(strstr(out, "Transaction:         COMMIT") != NULL, "%s", out);
    cr_expect(strstr(out, want) != NULL, "%s in %s", want, out);
    free(out);
    rk_txn_producer_free(tp);
    rk_rc_stop(&c);
    app_destroy(&a);
}

/* Any broker: a plain message says it is not transactional (and chapter 9's lines still come). */
Test(txn_mqadmin, query_msg_by_id_says_a_plain_message_is_not_transactional, .init = quiet, .timeout = 60)
{
    rk_rc_cluster_t c;
    rk_rc_start_bin(&c, RK_BIN_DIR "/../../ch09/bin/mqbroker", NULL);
    rk_rc_create_topic(&c, "PlainT", 1);
    rk_producer_config_t pcfg = {.namesrv = c.ns, .group = "pg_plain"};
    rk_producer_t *p;
    cr_assert_eq(rk_producer_new(&pcfg, &p), RK_OK);
    rk_message_t m = {.topic = "PlainT", .body = "plain", .body_len = 5};
    rk_send_result_t r;
    cr_assert_eq(rk_producer_send(p, &m, &r), RK_OK, "%s", r.error);
    rk_producer_free(p);
    char *out = NULL;
    int rc = mqadmin(&out, "queryMsgById", "-n", c.ns, "-i", r.offset_msg_id, NULL, NULL, NULL);
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "Transaction:         NOT") != NULL, "%s", out);
    cr_expect(strstr(out, "Prepared Tx Offset") == NULL, "%s", out);
    free(out);
    rk_rc_stop(&c);
}
