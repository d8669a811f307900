/* test_batched_io.c — the server and the client write a loop turn's frames
 * in one go: nothing may be lost or reordered by it (a reply just before a
 * close, hundreds of pipelined requests, async requests and oneways mixed
 * on one client connection), and the end-of-turn hook runs on the loop
 * thread. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/rawconn.h"
#include "rk/remoting_client.h"
#include "rk/remoting_server.h"
#include "rk/request_code.h"

static rk_rserver_t *srv;
static int port;
static char addr[32];
static atomic_int oneways;
static atomic_int turns;
static atomic_int turns_off_loop;   /* hook calls on another thread than the processors' */
static uv_thread_t proc_thread;
static atomic_bool proc_thread_set;

static void note_thread(void)
{
    if (!atomic_load(&proc_thread_set)) {
        proc_thread = uv_thread_self();
        atomic_store(&proc_thread_set, true);
    }
}

static void echo(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)ctx; (void)conn;
    note_thread();
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    rk_cmd_set_body(resp, req->body, req->body_len);
    rk_reply_send(reply, resp);
}

/* Answers, then hangs up at once (as a server does after a fatal request). */
static void answer_and_close(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)ctx; (void)req;
    rk_reply_code(reply, RK_RESP_SUCCESS, "last words");
    rk_conn_close(conn);
}

static void count_oneway(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)ctx; (void)conn; (void)req;
    atomic_fetch_add(&oneways, 1);
    rk_reply_send(reply, NULL);
}

static void on_turn(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&turns, 1);
    if (atomic_load(&proc_thread_set)) {
        uv_thread_t self = uv_thread_self();
        if (!uv_thread_equal(&self, &proc_thread))
            atomic_fetch_add(&turns_off_loop, 1);
    }
}

static void start(void)
{
    rk_rserver_config_t cfg = {.host = "127.0.0.1", .port = 0, .name = "test"};
    cr_assert_eq(rk_rserver_new(&cfg, &srv), 0);
    rk_rserver_register(srv, 1000, echo, NULL, RK_PROC_INLINE);
    rk_rserver_register(srv, 1001, answer_and_close, NULL, RK_PROC_INLINE);
    rk_rserver_register(srv, 1002, count_oneway, NULL, RK_PROC_INLINE);
    cr_assert_eq(rk_rserver_on_turn(srv, on_turn, NULL), 0);
    char err[200];
    cr_assert_eq(rk_rserver_start(srv, err, sizeof err), 0, "%s", err);
    port = rk_rserver_port(srv);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
}

static void stop(void) { rk_rserver_free(srv); }

TestSuite(batched, .init = start, .fini = stop);

Test(batched, a_reply_made_just_before_a_close_still_arrives)
{
    int fd = rk_raw_connect(port);
    cr_assert(fd >= 0);
    rk_cmd_t *c = rk_cmd_new(1001);
    c->opaque = 77;
    rk_buf_t b = {0};
    rk_cmd_encode(c, &b);
    cr_assert_eq(rk_raw_send_all(fd, b.data, b.len), 0);
    rk_cmd_t *r = rk_raw_read_cmd(fd);
    cr_assert_not_null(r, "the answer comes before the hang-up");
    cr_assert_eq(r->opaque, 77);
    cr_assert_str_eq(r->remark, "last words");
    cr_assert(rk_raw_closed_by_peer(fd, 5000));
    rk_cmd_free(r);
    rk_cmd_free(c);
    rk_buf_free(&b);
    close(fd);
}

Test(batched, five_hundred_pipelined_requests_are_answered_in_order)
{
    enum { N = 500 };
    int fd = rk_raw_connect(port);
    cr_assert(fd >= 0);
    rk_buf_t b = {0};
    for (int i = 0; i < N; i++) {      /* all in one write: the server reads them in one turn */
        rk_cmd_t *c = rk_cmd_new(1000);
        c->opaque = 1000 + i;
        char body[16];
        int n = snprintf(body, sizeof body, "m%d", i);
        rk_cmd_set_body(c, body, (size_t)n);
        rk_cmd_encode(c, &b);
        rk_cmd_free(c);
    }
    cr_assert_eq(rk_raw_send_all(fd, b.data, b.len), 0);
    for (int i = 0; i < N; i++) {
        rk_cmd_t *r = rk_raw_read_cmd(fd);
        cr_assert_not_null(r, "answer %d", i);
        cr_assert_eq(r->opaque, 1000 + i);
        char body[16];
        int n = snprintf(body, sizeof body, "m%d", i);
        cr_assert_eq(r->body_len, (size_t)n);
        cr_assert_eq(memcmp(r->body, body, (size_t)n), 0);
        rk_cmd_free(r);
    }
    rk_buf_free(&b);
    close(fd);
}

typedef struct {
    atomic_int done, bad;
} tally_t;

static void on_answer(void *arg, int status, rk_cmd_t *resp)
{
    tally_t *t = arg;
    if (status != RK_OK || resp == NULL || resp->code != RK_RESP_SUCCESS)
        atomic_fetch_add(&t->bad, 1);
    rk_cmd_free(resp);
    atomic_fetch_add(&t->done, 1);
}

Test(batched, three_hundred_async_requests_and_oneways_from_one_client_all_arrive)
{
    enum { N = 300 };
    rk_rclient_t *cl;
    cr_assert_eq(rk_rclient_new(&cl), 0);
    tally_t t = {0};
    for (int i = 0; i < N; i++) {
        cr_assert_eq(rk_rclient_invoke_async(cl, addr, rk_cmd_new(1000), 5000, on_answer, &t), 0);
        cr_assert_eq(rk_rclient_invoke_oneway(cl, addr, rk_cmd_new(1002)), 0);
    }
    for (int i = 0; i < 1000 && (atomic_load(&t.done) < N || atomic_load(&oneways) < N); i++)
        rk_sleep_ms(10);
    cr_assert_eq(atomic_load(&t.done), N);
    cr_assert_eq(atomic_load(&t.bad), 0);
    cr_assert_eq(atomic_load(&oneways), N);
    rk_rclient_free(cl);
}

Test(batched, the_turn_hook_runs_on_the_loop_thread)
{
    rk_rclient_t *cl;
    cr_assert_eq(rk_rclient_new(&cl), 0);
    for (int i = 0; i < 5; i++) {
        rk_cmd_t *resp = NULL;
        cr_assert_eq(rk_rclient_invoke_sync(cl, addr, rk_cmd_new(1000), 3000, &resp), 0);
        rk_cmd_free(resp);
    }
    rk_rclient_free(cl);
    cr_assert_geq(atomic_load(&turns), 5, "at least one turn per request answered");
    cr_assert_eq(atomic_load(&turns_off_loop), 0);
}

/* A callback that sends the next request from the client's network thread
 * (as an async producer does): the request goes out in the same loop turn,
 * in order, and the chain never stalls. */
typedef struct {
    rk_rclient_t *cl;
    atomic_int next, done, bad;
} chain_t;

static void chain_send(chain_t *ch);

static void on_chain_answer(void *arg, int status, rk_cmd_t *resp)
{
    chain_t *ch = arg;
    char want[16];
    int n = snprintf(want, sizeof want, "c%d", atomic_load(&ch->done));
    if (status != RK_OK || resp == NULL || resp->body_len != (size_t)n || memcmp(resp->body, want, (size_t)n) != 0)
        atomic_fetch_add(&ch->bad, 1);
    rk_cmd_free(resp);
    atomic_fetch_add(&ch->done, 1);
    chain_send(ch);
}

static void chain_send(chain_t *ch)
{
    int i = atomic_fetch_add(&ch->next, 1);
    if (i >= 400)
        return;
    rk_cmd_t *req = rk_cmd_new(1000);
    char body[16];
    int n = snprintf(body, sizeof body, "c%d", i);
    rk_cmd_set_body(req, body, (size_t)n);
    if (rk_rclient_invoke_async(ch->cl, addr, req, 5000, on_chain_answer, ch) != RK_OK)
        atomic_fetch_add(&ch->bad, 1);
}

Test(batched, requests_sent_from_answer_callbacks_go_out_in_order)
{
    chain_t ch = {0};
    cr_assert_eq(rk_rclient_new(&ch.cl), 0);
    chain_send(&ch);            /* from this thread: through the inbox */
    for (int i = 0; i < 1000 && atomic_load(&ch.done) < 400; i++)
        rk_sleep_ms(10);
    cr_assert_eq(atomic_load(&ch.done), 400);
    cr_assert_eq(atomic_load(&ch.bad), 0);
    rk_rclient_free(ch.cl);
}
