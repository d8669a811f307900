/* test_remoting.c — frames, codec and a live remoting server as clients see them. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/remoting_client.h"
#include "rk/rawconn.h"
#include "rk/remoting_server.h"
#include "rk/request_code.h"

/* ------------------------------------------------------------ codec */

Test(codec, json_round_trip_keeps_every_field)
{
    rk_cmd_t *c = rk_cmd_new(RK_REQ_SEND_MESSAGE_V2);
    c->opaque = 42;
    c->flag = RK_CMD_ONEWAY;
    rk_cmd_set_remark(c, "hi \"there\"");
    rk_cmd_ext_set(c, "b", "TopicTest");
    rk_cmd_ext_set_i64(c, "e", -1);
    rk_cmd_set_body(c, "\x00\x01body", 6);
    rk_buf_t b = {0};
    cr_assert_eq(rk_cmd_encode(c, &b), 0);
    cr_assert_eq(rk_be_get32(b.data), b.len - 4, "length excludes itself");
    cr_assert_eq(b.data[4], 0, "JSON serialize type");
    rk_cmd_t *d;
    cr_assert_eq(rk_cmd_decode(b.data + 4, b.len - 4, &d), 0);
    cr_assert_eq(d->code, 310);
    cr_assert_eq(d->opaque, 42);
    cr_assert(rk_cmd_is_oneway(d));
    cr_assert_str_eq(d->remark, "hi \"there\"");
    cr_assert_str_eq(rk_cmd_ext_get(d, "b"), "TopicTest");
    int64_t v;
    cr_assert_eq(rk_cmd_ext_i64(d, "e", &v), 0);
    cr_assert_eq(v, -1);
    cr_assert_eq(d->body_len, 6);
    cr_assert_eq(memcmp(d->body, "\x00\x01body", 6), 0);
    rk_cmd_free(c);
    rk_cmd_free(d);
    rk_buf_free(&b);
}

Test(codec, binary_round_trip)
{
    rk_cmd_t *c = rk_cmd_new(105);
    c->ser_type = RK_SER_ROCKETMQ;
    c->opaque = 7;
    rk_cmd_ext_set(c, "topic", "T");
    rk_buf_t b = {0};
    cr_assert_eq(rk_cmd_encode(c, &b), 0);
    cr_assert_eq(b.data[4], 1, "ROCKETMQ serialize type");
    /* header: code 2 + language 1 + version 2 + opaque 4 + flag 4 + remark len 4 +
     * ext len 4 = 21 fixed bytes, then ext "topic"="T": 2+5+4+1 = 12 */
    cr_assert_eq(rk_be_get32(b.data + 4) & 0xFFFFFF, 21 + 12);
    rk_cmd_t *d;
    cr_assert_eq(rk_cmd_decode(b.data + 4, b.len - 4, &d), 0);
    cr_assert_eq(d->code, 105);
    cr_assert_eq(d->opaque, 7);
    cr_assert_eq(d->version, RK_VERSION_CURRENT);
    cr_assert_null(d->remark);
    cr_assert_str_eq(rk_cmd_ext_get(d, "topic"), "T");
    rk_cmd_free(c);
    rk_cmd_free(d);
    rk_buf_free(&b);
}

static void frame_of(const char *header, rk_buf_t *b)
{
    rk_buf_put_u32(b, (uint32_t)(4 + strlen(header)));
    rk_buf_put_u32(b, (uint32_t)strlen(header));
    rk_buf_put_str(b, header);
}

Test(codec, accepts_what_cpp_and_go_clients_send)
{
    /* client-cpp: numbers in extFields; Go: remark "" and extFields {}. */
    rk_buf_t b = {0};
    frame_of("{\"code\":310,\"language\":\"CPP\",\"version\":333,\"opaque\":3,\"flag\":0,"
             "\"extFields\":{\"e\":2,\"f\":0,\"k\":false,\"a\":\"pg\"}}", &b);
    rk_cmd_t *d;
    cr_assert_eq(rk_cmd_decode(b.data + 4, b.len - 4, &d), 0);
    cr_assert_eq(d->language, 1);
    cr_assert_str_eq(rk_cmd_ext_get(d, "e"), "2");
    cr_assert_str_eq(rk_cmd_ext_get(d, "k"), "false");
    rk_cmd_free(d);
    rk_buf_reset(&b);
    frame_of("{\"code\":105,\"language\":\"GO\",\"version\":317,\"opaque\":1,\"flag\":0,\"remark\":\"\",\"extFields\":{}}", &b);
    cr_assert_eq(rk_cmd_decode(b.data + 4, b.len - 4, &d), 0);
    cr_assert_eq(d->language, 9);
    cr_assert_str_eq(d->remark, "");
    rk_cmd_free(d);
    rk_buf_free(&b);
}

Test(codec, splitter_handles_partial_many_and_oversized_frames)
{
    rk_buf_t b = {0};
    frame_of("{\"code\":1}", &b);
    frame_of("{\"code\":2}", &b);
    rk_frames_t f;
    rk_frames_init(&f, 1024);
    const uint8_t *fr;
    size_t len;
    cr_assert_eq(rk_frames_feed(&f, b.data, 3), 0);
    cr_assert_eq(rk_frames_next(&f, &fr, &len), 0, "3 bytes are not a frame");
    cr_assert_eq(rk_frames_feed(&f, b.data + 3, b.len - 3), 0);
    cr_assert_eq(rk_frames_next(&f, &fr, &len), 1);
    cr_assert_eq(rk_frames_next(&f, &fr, &len), 1);
    cr_assert_eq(rk_frames_next(&f, &fr, &len), 0);
    uint8_t big[4];
    rk_be_put32(big, 2000);
    cr_assert_eq(rk_frames_feed(&f, big, 4), 0);
    cr_assert_eq(rk_frames_next(&f, &fr, &len), RK_ETOOBIG);
    rk_frames_free(&f);
    cr_assert_eq(rk_cmd_decode((const uint8_t *)"\x00\x00\x00\x09{nope", 9, &(rk_cmd_t *){0}), RK_EPROTO);
    rk_buf_free(&b);
}

/* ------------------------------------------------------------ live server */

static rk_rserver_t *srv;
static int port;
static char addr[32];

static void echo(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)ctx; (void)conn;
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    rk_cmd_set_body(resp, req->body, req->body_len);
    rk_reply_send(reply, resp);
}

static uv_thread_t later_thread;

static void answer_later(void *arg)
{
    rk_reply_t *r = arg;
    rk_sleep_ms(30);
    rk_reply_code(r, RK_RESP_SUCCESS, "later");
}

static void deferred(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)ctx; (void)conn; (void)req;
    /* answered from another thread, after the processor returned */
    uv_thread_create(&later_thread, answer_later, reply);
}

static void slow(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)ctx; (void)conn; (void)req;
    rk_sleep_ms(20);    /* on a worker thread: the loop keeps serving */
    rk_reply_code(reply, RK_RESP_SUCCESS, "slow");
}

/* Server push: asks the client something, answers the original request with it. */
typedef struct {
    rk_reply_t *reply;
} ask_t;

static void on_client_answer(void *arg, int status, rk_cmd_t *resp)
{
    rk_reply_t *reply = arg;
    if (status != RK_OK) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "no answer from the client");
        return;
    }
    rk_reply_code(reply, RK_RESP_SUCCESS, resp->remark);
    rk_cmd_free(resp);
}

static void ask_client(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)ctx; (void)req;
    rk_cmd_t *q = rk_cmd_new(3000);
    if (rk_conn_invoke_async(conn, q, 2000, on_client_answer, reply) != RK_OK)
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "cannot push");
}

static void start_server(void)
{
    rk_rserver_config_t cfg = {.host = "127.0.0.1", .port = 0, .max_frame = 1 << 20, .idle_ms = 60000,
                               .name = "test"};
    cr_assert_eq(rk_rserver_new(&cfg, &srv), 0);
    rk_rserver_register(srv, 1000, echo, NULL, RK_PROC_INLINE);
    rk_rserver_register(srv, 1001, deferred, NULL, RK_PROC_INLINE);
    rk_rserver_register(srv, 1002, slow, NULL, RK_PROC_SLOW);
    rk_rserver_register(srv, 1003, ask_client, NULL, RK_PROC_INLINE);
    char err[200];
    cr_assert_eq(rk_rserver_start(srv, err, sizeof err), 0, "%s", err);
    port = rk_rserver_port(srv);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
}

static void stop_server(void) { rk_rserver_free(srv); }

TestSuite(server, .init = start_server, .fini = stop_server);

static int raw_connect(void)
{
    int fd = rk_raw_connect(port);
    cr_assert(fd >= 0, "connect: %s", strerror(-fd));
    return fd;
}

static void raw_send_cmd(int fd, int code, int opaque, int flag)
{
    rk_cmd_t *c = rk_cmd_new(code);
    c->opaque = opaque;
    c->flag = flag;
    rk_buf_t b = {0};
    rk_cmd_encode(c, &b);
    cr_assert_eq(write(fd, b.data, b.len), (ssize_t)b.len);
    rk_buf_free(&b);
    rk_cmd_free(c);
}

#define raw_read_cmd rk_raw_read_cmd

Test(server, echo_sync_through_the_client)
{
    rk_rclient_t *cl;
    cr_assert_eq(rk_rclient_new(&cl), 0);
    for (int i = 0; i < 50; i++) {
        rk_cmd_t *req = rk_cmd_new(1000), *resp = NULL;
        char body[32];
        int n = snprintf(body, sizeof body, "hello %d", i);
        rk_cmd_set_body(req, body, (size_t)n);
        cr_assert_eq(rk_rclient_invoke_sync(cl, addr, req, 3000, &resp), 0);
        cr_assert_eq(resp->code, 0);
        cr_assert(rk_cmd_is_response(resp));
        cr_assert_eq(resp->body_len, (size_t)n);
        cr_assert_eq(memcmp(resp->body, body, (size_t)n), 0);
        rk_cmd_free(resp);
    }
    rk_rclient_free(cl);
}

Test(server, deferred_and_slow_processors_answer_later)
{
    rk_rclient_t *cl;
    cr_assert_eq(rk_rclient_new(&cl), 0);
    rk_cmd_t *resp = NULL;
    cr_assert_eq(rk_rclient_invoke_sync(cl, addr, rk_cmd_new(1001), 3000, &resp), 0);
    cr_assert_str_eq(resp->remark, "later");
    rk_cmd_free(resp);
    uv_thread_join(&later_thread);
    cr_assert_eq(rk_rclient_invoke_sync(cl, addr, rk_cmd_new(1002), 3000, &resp), 0);
    cr_assert_str_eq(resp->remark, "slow");
    rk_cmd_free(resp);
    rk_rclient_free(cl);
}

Test(server, unknown_code_is_answered_not_supported)
{
    rk_rclient_t *cl;
    cr_assert_eq(rk_rclient_new(&cl), 0);
    rk_cmd_t *resp = NULL;
    cr_assert_eq(rk_rclient_invoke_sync(cl, addr, rk_cmd_new(4242), 3000, &resp), 0);
    cr_assert_eq(resp->code, RK_RESP_REQUEST_CODE_NOT_SUPPORTED);
    cr_assert_str_eq(resp->remark, " request type 4242 not supported");
    rk_cmd_free(resp);
    rk_rclient_free(cl);
}

Test(server, oneway_requests_get_no_response)
{
    int fd = raw_connect();
    raw_send_cmd(fd, 1000, 1, RK_CMD_ONEWAY);
    raw_send_cmd(fd, 4242, 2, RK_CMD_ONEWAY);   /* even an unknown one */
    raw_send_cmd(fd, 1000, 3, 0);
    rk_cmd_t *r = raw_read_cmd(fd);
    cr_assert_not_null(r);
    cr_assert_eq(r->opaque, 3, "the first response is to the only two-way request");
    rk_cmd_free(r);
    close(fd);
}

Test(server, garbage_truncated_and_oversized_frames_close_only_that_connection)
{
    const char *garbage[] = {"\x00\x00\x00\x08\x00\x00\x00\x04{{{{", "\x00\x00\x00\x08\x00\x00\x00\x20" "abcd",
                             "\x7f\xff\xff\xff"};
    size_t lens[] = {12, 12, 4};
    for (int i = 0; i < 3; i++) {
        int fd = raw_connect();
        cr_assert_eq(write(fd, garbage[i], lens[i]), (ssize_t)lens[i]);
        cr_assert_null(raw_read_cmd(fd), "case %d: the server closes the connection", i);
        close(fd);
    }
    int fd = raw_connect();     /* truncated: half a frame, then hang up */
    cr_assert_eq(write(fd, "\x00\x00\x00\x40\x00\x00", 6), 6);
    close(fd);
    fd = raw_connect();
    raw_send_cmd(fd, 1000, 9, 0);
    rk_cmd_t *r = raw_read_cmd(fd);
    cr_assert_not_null(r, "the server still serves the next client");
    cr_assert_eq(r->opaque, 9);
    rk_cmd_free(r);
    close(fd);
}

Test(server, three_hundred_concurrent_connections)
{
    enum { N = 300 };
    int fds[N];
    for (int i = 0; i < N; i++)
        fds[i] = raw_connect();
    for (int i = 0; i < N; i++)
        raw_send_cmd(fds[i], 1000, 100 + i, 0);
    for (int i = 0; i < N; i++) {
        rk_cmd_t *r = raw_read_cmd(fds[i]);
        cr_assert_not_null(r, "connection %d", i);
        cr_assert_eq(r->opaque, 100 + i);
        rk_cmd_free(r);
        close(fds[i]);
    }
}

Test(client, times_out_and_reports_refused_connections)
{
    rk_rclient_t *cl;
    cr_assert_eq(rk_rclient_new(&cl), 0);
    rk_cmd_t *resp = NULL;
    /* Nobody listens on port 1 of loopback. */
    int rc = rk_rclient_invoke_sync(cl, "127.0.0.1:1", rk_cmd_new(1000), 1000, &resp);
    cr_assert(rc < 0, "refused: %d", rc);
    cr_assert_null(resp);
    cr_assert_eq(rk_rclient_invoke_sync(cl, "not-an-address", rk_cmd_new(1000), 100, &resp), RK_EINVAL);
    rk_rclient_free(cl);
}

static rk_cmd_t *client_side(void *ctx, const char *from, const rk_cmd_t *req)
{
    (void)ctx; (void)from;
    return rk_cmd_new_response(req, RK_RESP_SUCCESS, "answered by the client");
}

Test(server, a_server_can_ask_its_client_over_the_same_connection)
{
    rk_rclient_t *cl;
    cr_assert_eq(rk_rclient_new(&cl), 0);
    cr_assert_eq(rk_rclient_register(cl, 3000, client_side, NULL), 0);
    rk_cmd_t *resp = NULL;
    cr_assert_eq(rk_rclient_invoke_sync(cl, addr, rk_cmd_new(1003), 3000, &resp), 0);
    cr_assert_eq(resp->code, 0);
    cr_assert_str_eq(resp->remark, "answered by the client");
    rk_cmd_free(resp);
    rk_rclient_free(cl);
}

Test(idle, silent_connections_are_closed)
{
    rk_rserver_t *s;
    rk_rserver_config_t cfg = {.host = "127.0.0.1", .port = 0, .idle_ms = 200, .name = "idle"};
    cr_assert_eq(rk_rserver_new(&cfg, &s), 0);
    rk_rserver_register(s, 1000, echo, NULL, RK_PROC_INLINE);
    cr_assert_eq(rk_rserver_start(s, NULL, 0), 0);
    port = rk_rserver_port(s);
    int fd = raw_connect();
    raw_send_cmd(fd, 1000, 1, 0);
    rk_cmd_t *r = raw_read_cmd(fd);
    cr_assert_not_null(r, "served while active");
    rk_cmd_free(r);
    uint64_t t0 = rk_mono_ms();
    cr_assert_null(raw_read_cmd(fd), "closed by the server");
    cr_assert(rk_mono_ms() - t0 < 3000, "closed for idling, not by the read timeout");
    close(fd);
    rk_rserver_free(s);
}

Test(codec, decodes_a_java_brokers_send_response_from_the_reference)
{
    /* The typical Java 4.9.8 response quoted in the reference, framed. */
    const char *h = "{\"code\":0,\"extFields\":{\"queueId\":\"1\",\"TRACE_ON\":\"true\",\"MSG_REGION\":\"DefaultRegion\","
                    "\"msgId\":\"C0A8000100002A9F0000000000000F3C\",\"queueOffset\":\"12\"},\"flag\":1,\"language\":\"JAVA\","
                    "\"opaque\":7,\"serializeTypeCurrentRPC\":\"JSON\",\"version\":409}";
    rk_buf_t b = {0};
    frame_of(h, &b);
    rk_frames_t f;
    rk_frames_init(&f, 0);
    rk_frames_feed(&f, b.data, b.len);
    const uint8_t *fr;
    size_t len;
    cr_assert_eq(rk_frames_next(&f, &fr, &len), 1);
    rk_cmd_t *d;
    cr_assert_eq(rk_cmd_decode(fr, len, &d), 0);
    cr_assert(rk_cmd_is_response(d));
    cr_assert_eq(d->opaque, 7);
    cr_assert_eq(d->version, 409);
    cr_assert_eq(d->language, 0);
    int64_t qo;
    cr_assert_eq(rk_cmd_ext_i64(d, "queueOffset", &qo), 0);
    cr_assert_eq(qo, 12);
    cr_assert_str_eq(rk_cmd_ext_get(d, "msgId"), "C0A8000100002A9F0000000000000F3C");
    cr_assert_eq(d->body_len, 0);
    rk_cmd_free(d);
    rk_frames_free(&f);
    rk_buf_free(&b);
}

/* A client processor that answers later, from another thread (rk_rclient_respond). */
typedef struct later_answer {
    rk_rclient_t *cl;
    char from[64];
    rk_cmd_t *req;              /* a copy with the push's opaque and flag */
    uv_thread_t thread;
    int rc;                     /* rk_rclient_respond's */
} later_answer_t;

static void answer_from_thread(void *arg)
{
    later_answer_t *la = arg;
    uv_sleep(50);
    la->rc = rk_rclient_respond(la->cl, la->from, la->req, rk_cmd_new_response(la->req, RK_RESP_SUCCESS,
                                                                              "answered later"));
}

static rk_cmd_t *client_side_later(void *ctx, const char *from, const rk_cmd_t *req)
{
    later_answer_t *la = ctx;
    snprintf(la->from, sizeof la->from, "%s", from);
    la->req = rk_cmd_clone(req);
    la->req->opaque = req->opaque;
    la->req->flag = req->flag;
    la->rc = uv_thread_create(&la->thread, answer_from_thread, la);
    return NULL;                /* nothing now */
}

Test(server, a_client_may_answer_a_push_later_from_another_thread)
{
    later_answer_t la = {0};
    cr_assert_eq(rk_rclient_new(&la.cl), 0);
    cr_assert_eq(rk_rclient_register(la.cl, 3000, client_side_later, &la), 0);
    rk_cmd_t *resp = NULL;
    cr_assert_eq(rk_rclient_invoke_sync(la.cl, addr, rk_cmd_new(1003), 3000, &resp), 0);
    cr_assert_eq(resp->code, 0);
    cr_assert_str_eq(resp->remark, "answered later");
    rk_cmd_free(resp);
    uv_thread_join(&la.thread);
    cr_assert_eq(la.rc, 0);
    rk_cmd_free(la.req);
    rk_rclient_free(la.cl);
}
