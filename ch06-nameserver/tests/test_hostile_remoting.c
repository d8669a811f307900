/* test_hostile_remoting.c — the remoting layer against clients that abuse it
 * (issue 9, items 3, 4 and the name half of 14): headers with too many fields,
 * clients that never read, half-sent frames, too many connections, too much
 * buffered input, and names instead of IP addresses.
 *
 * Every test runs a real server on a free loopback port and logs to a
 * temporary file (so passing tests stay quiet), which some tests read back to
 * check the line an operator would see. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/remoting_client.h"
#include "rk/rawconn.h"
#include "rk/remoting_server.h"
#include "rk/request_code.h"

static FILE *logf_;

static void quiet_log(void)
{
    logf_ = tmpfile();
    cr_assert_not_null(logf_);
    rk_log_init(RK_LOG_INFO, logf_);
}

/* True when the log written so far contains needle. */
static bool log_contains(const char *needle)
{
    fflush(logf_);
    int fd = fileno(logf_);
    off_t size = lseek(fd, 0, SEEK_END);
    if (size <= 0)
        return false;
    char *text = calloc(1, (size_t)size + 1);
    ssize_t n = pread(fd, text, (size_t)size, 0);
    bool found = n > 0 && strstr(text, needle) != NULL;
    free(text);
    return found;
}

/* ------------------------------------------------------------ item 3: header fields */

/* A JSON header with n extFields "k<i>":"v<i>". */
static void json_header_with(size_t n, rk_buf_t *h)
{
    rk_buf_put_str(h, "{\"code\":1000,\"extFields\":{");
    for (size_t i = 0; i < n; i++)
        rk_buf_printf(h, "%s\"k%zu\":\"v%zu\"", i ? "," : "", i, i);
    rk_buf_put_str(h, "},\"flag\":0,\"language\":\"JAVA\",\"opaque\":5,\"version\":409}");
}

/* The frame without its length field, as rk_cmd_decode takes it. */
static void frame_body(int type, const rk_buf_t *header, rk_buf_t *out)
{
    rk_buf_put_u32(out, ((uint32_t)type << 24) | (uint32_t)header->len);
    rk_buf_put(out, header->data, header->len);
}

/* A ROCKETMQ (binary) header with n extFields. */
static void binary_header_with(size_t n, rk_buf_t *h)
{
    rk_buf_put_u16(h, 1000);
    rk_buf_put_u8(h, 0);
    rk_buf_put_u16(h, 409);
    rk_buf_put_u32(h, 5);
    rk_buf_put_u32(h, 0);
    rk_buf_put_u32(h, 0);           /* no remark */
    rk_buf_t ext = {0};
    char k[32], v[32];
    for (size_t i = 0; i < n; i++) {
        snprintf(k, sizeof k, "k%zu", i);
        snprintf(v, sizeof v, "v%zu", i);
        rk_buf_put_u16(&ext, (uint16_t)strlen(k));
        rk_buf_put_str(&ext, k);
        rk_buf_put_u32(&ext, (uint32_t)strlen(v));
        rk_buf_put_str(&ext, v);
    }
    rk_buf_put_u32(h, (uint32_t)ext.len);
    rk_buf_put(h, ext.data, ext.len);
    rk_buf_free(&ext);
}

static int decode_with(int type, size_t n, rk_cmd_t **out)
{
    rk_buf_t h = {0}, f = {0};
    if (type == RK_SER_JSON)
        json_header_with(n, &h);
    else
        binary_header_with(n, &h);
    frame_body(type, &h, &f);
    *out = NULL;
    int rc = rk_cmd_decode(f.data, f.len, out);
    rk_buf_free(&h);
    rk_buf_free(&f);
    return rc;
}

Test(fields, a_header_of_the_maximum_size_decodes_whole)
{
    for (int type = 0; type <= 1; type++) {
        rk_cmd_t *c;
        cr_assert_eq(decode_with(type, RK_CMD_MAX_EXT_FIELDS, &c), RK_OK, "type %d", type);
        cr_assert_eq(c->next, RK_CMD_MAX_EXT_FIELDS);
        cr_assert_eq(c->opaque, 5);
        cr_assert_str_eq(c->ext[0].key, "k0", "order kept");
        cr_assert_str_eq(rk_cmd_ext_get(c, "k0"), "v0");
        cr_assert_str_eq(rk_cmd_ext_get(c, "k255"), "v255");
        rk_cmd_free(c);
    }
}

Test(fields, more_fields_than_the_maximum_are_refused)
{
    for (int type = 0; type <= 1; type++) {
        rk_cmd_t *c;
        cr_assert_eq(decode_with(type, RK_CMD_MAX_EXT_FIELDS + 1, &c), RK_ETOOBIG, "type %d", type);
        cr_assert_null(c);
        cr_assert_eq(decode_with(type, 100000, &c), RK_ETOOBIG, "type %d: 100 000 fields", type);
        cr_assert_null(c);
    }
}

Test(fields, a_repeated_key_keeps_its_place_and_takes_the_last_value)
{
    const char *hj = "{\"code\":1,\"extFields\":{\"a\":\"1\",\"b\":\"2\",\"a\":\"3\",\"c\":4,\"b\":\"5\"}}";
    rk_buf_t h = {0}, f = {0};
    rk_buf_put_str(&h, hj);
    frame_body(RK_SER_JSON, &h, &f);
    rk_cmd_t *c;
    cr_assert_eq(rk_cmd_decode(f.data, f.len, &c), RK_OK);
    cr_assert_eq(c->next, 3);
    cr_assert_str_eq(c->ext[0].key, "a");
    cr_assert_str_eq(c->ext[0].value, "3");
    cr_assert_str_eq(c->ext[1].key, "b");
    cr_assert_str_eq(c->ext[1].value, "5");
    cr_assert_str_eq(c->ext[2].key, "c");
    cr_assert_str_eq(c->ext[2].value, "4");
    rk_cmd_free(c);
    rk_buf_free(&h);
    rk_buf_free(&f);
}

Test(fields, a_header_of_a_million_values_is_refused_before_it_is_parsed)
{
    /* not extFields but one huge array: each value would cost cJSON a node */
    rk_buf_t h = {0}, f = {0};
    rk_buf_put_str(&h, "{\"code\":1,\"junk\":[");
    for (int i = 0; i < 1000000; i++)
        rk_buf_put_str(&h, i ? ",1" : "1");
    rk_buf_put_str(&h, "]}");
    frame_body(RK_SER_JSON, &h, &f);
    rk_cmd_t *c = NULL;
    cr_assert_eq(rk_cmd_decode(f.data, f.len, &c), RK_ETOOBIG);
    cr_assert_null(c);
    rk_buf_free(&h);
    rk_buf_free(&f);
}

/* ------------------------------------------------------------ a live server */

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

/* Code 1001: held until the test releases it (like a long-polling pull). */
static uv_mutex_t held_mu;
static bool held_ready;
static rk_reply_t *held[4096];
static int nheld;

static void hold(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)ctx; (void)conn; (void)req;
    uv_mutex_lock(&held_mu);
    if (nheld < (int)(sizeof held / sizeof held[0]))
        held[nheld++] = reply;
    else
        rk_reply_code(reply, RK_RESP_SYSTEM_BUSY, "test holds too many");
    uv_mutex_unlock(&held_mu);
}

static int release_held(void)
{
    rk_reply_t *r[4096];
    uv_mutex_lock(&held_mu);
    int n = nheld;
    memcpy(r, held, sizeof r[0] * (size_t)n);
    nheld = 0;
    uv_mutex_unlock(&held_mu);
    for (int i = 0; i < n; i++)
        rk_reply_code(r[i], RK_RESP_SUCCESS, "released");
    return n;
}

static void start(rk_rserver_config_t cfg)
{
    uv_mutex_init(&held_mu);
    held_ready = true;
    nheld = 0;
    quiet_log();
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    cfg.name = "hostile";
    cr_assert_eq(rk_rserver_new(&cfg, &srv), 0);
    rk_rserver_register(srv, 1000, echo, NULL, RK_PROC_INLINE);
    rk_rserver_register(srv, 1001, hold, NULL, RK_PROC_INLINE);
    char err[200];
    cr_assert_eq(rk_rserver_start(srv, err, sizeof err), 0, "%s", err);
    port = rk_rserver_port(srv);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
}

static void stop(void)
{
    if (held_ready)
        release_held();
    rk_rserver_free(srv);
    srv = NULL;
}

static int raw_connect(void)
{
    int fd = rk_raw_connect(port);
    cr_assert(fd >= 0, "connect: %s", strerror(-fd));
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    int rc = rk_raw_send_all(fd, p, n);
    cr_assert_eq(rc, 0, "send: %s", strerror(-rc));
}

static void encode_request(int opaque, size_t body_len, rk_buf_t *out)
{
    rk_cmd_t *c = rk_cmd_new(1000);
    c->opaque = opaque;
    uint8_t *body = calloc(1, body_len ? body_len : 1);
    rk_cmd_set_body(c, body, body_len);
    free(body);
    cr_assert_eq(rk_cmd_encode(c, out), 0);
    rk_cmd_free(c);
}

#define raw_read_cmd rk_raw_read_cmd

/* A request on a new connection is answered. */
static void assert_served(int opaque)
{
    int fd = raw_connect();
    rk_buf_t b = {0};
    encode_request(opaque, 10, &b);
    send_all(fd, b.data, b.len);
    rk_buf_free(&b);
    rk_cmd_t *r = raw_read_cmd(fd);
    cr_assert_not_null(r, "another client is still served");
    cr_assert_eq(r->opaque, opaque);
    rk_cmd_free(r);
    close(fd);
}

/* Waits (bounded) until the server closes fd; true if it did. */
#define closed_by_server rk_raw_closed_by_peer

static rk_rserver_stats_t stats(void)
{
    rk_rserver_stats_t st;
    rk_rserver_stats(srv, &st);
    return st;
}

TestSuite(hostile, .fini = stop);

Test(hostile, a_header_of_100000_fields_closes_its_connection_and_others_are_served)
{
    start((rk_rserver_config_t){.max_frame = 4 << 20, .idle_ms = 60000});
    int other = raw_connect();      /* connected before the attack */
    int fd = raw_connect();
    rk_buf_t h = {0}, f = {0};
    json_header_with(100000, &h);
    rk_buf_put_u32(&f, (uint32_t)(4 + h.len));
    frame_body(RK_SER_JSON, &h, &f);
    send_all(fd, f.data, f.len);
    rk_buf_free(&h);
    rk_buf_free(&f);
    rk_buf_t b = {0};
    encode_request(77, 10, &b);
    send_all(other, b.data, b.len);
    rk_buf_free(&b);
    rk_cmd_t *r = raw_read_cmd(other);
    cr_assert_not_null(r, "the other connection is answered (within the 5 s read timeout)");
    cr_assert_eq(r->opaque, 77);
    rk_cmd_free(r);
    cr_assert_null(raw_read_cmd(fd), "the attacker's connection is closed");
    cr_assert(log_contains("more than 256 extFields"), "the log says why");
    close(fd);
    close(other);
    assert_served(78);
}

Test(hostile, a_client_that_never_reads_is_stopped_and_the_server_queues_a_bounded_amount)
{
    enum { HIGH = 256 << 10, BODY = 16 << 10 };
    start((rk_rserver_config_t){.idle_ms = 60000, .max_out_bytes = HIGH});
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 32 << 10;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    rk_buf_t one = {0};
    encode_request(1, BODY, &one);
    /* write requests until the server stops taking them (or 64 MiB went in) */
    size_t sent = 0, limit = 64u << 20;
    while (sent < limit) {
        ssize_t w = send(fd, one.data + sent % one.len, one.len - sent % one.len, MSG_NOSIGNAL);
        if (w > 0) {
            sent += (size_t)w;
            continue;
        }
        cr_assert(w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "send: %s", strerror(errno));
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, 500) == 0)
            break;          /* nothing taken for half a second: the server stopped reading */
    }
    rk_buf_free(&one);
    rk_rserver_stats_t st = stats();
    cr_assert(sent < limit, "the server stopped reading (took %zu bytes)", sent);
    cr_assert_geq(st.paused, 1, "the connection is paused");
    cr_assert_leq(st.out_bytes, HIGH + 2 * (BODY + 1024), "queued replies bounded: %llu",
                  (unsigned long long)st.out_bytes);
    assert_served(9);
    rk_rclient_t *cl;
    cr_assert_eq(rk_rclient_new(&cl), 0);
    rk_cmd_t *resp = NULL;
    cr_assert_eq(rk_rclient_invoke_sync(cl, addr, rk_cmd_new(1000), 3000, &resp), 0);
    rk_cmd_free(resp);
    rk_rclient_free(cl);
    close(fd);
    for (int i = 0; i < 100 && (stats().out_bytes > 0 || stats().conns > 0); i++)
        rk_sleep_ms(50);
    cr_assert_eq(stats().out_bytes, 0, "released with the connection");
}

Test(hostile, a_reader_that_drains_its_replies_gets_them_all)
{
    /* back-pressure must only pause: a slow but honest client loses nothing */
    enum { N = 400, BODY = 8 << 10 };
    start((rk_rserver_config_t){.idle_ms = 60000, .max_out_bytes = 64 << 10});
    int fd = raw_connect();
    rk_buf_t all = {0};
    for (int i = 0; i < N; i++)
        encode_request(i + 1, BODY, &all);
    /* one writer thread would be tidier; writing in slices between reads does the same */
    size_t off = 0;
    int next = 1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    uint8_t *in = NULL;
    size_t in_len = 0;
    for (int rounds = 0; next <= N && rounds < 20000; rounds++) {
        if (off < all.len) {
            ssize_t w = send(fd, all.data + off, all.len - off, MSG_NOSIGNAL);
            if (w > 0)
                off += (size_t)w;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5) == 1) {
            uint8_t chunk[65536];
            ssize_t n = recv(fd, chunk, sizeof chunk, 0);
            cr_assert(n > 0, "the connection stays open");
            uint8_t *grown = realloc(in, in_len + (size_t)n);
            cr_assert_not_null(grown);
            in = grown;
            memcpy(in + in_len, chunk, (size_t)n);
            in_len += (size_t)n;
            while (in_len >= 4 && in_len >= 4 + (size_t)rk_be_get32(in)) {
                size_t fl = rk_be_get32(in);
                rk_cmd_t *r = NULL;
                cr_assert_eq(rk_cmd_decode(in + 4, fl, &r), 0);
                cr_assert_eq(r->opaque, next, "in order, none lost");
                cr_assert_eq(r->body_len, BODY);
                rk_cmd_free(r);
                next++;
                memmove(in, in + 4 + fl, in_len - 4 - fl);
                in_len -= 4 + fl;
            }
        }
    }
    free(in);
    rk_buf_free(&all);
    cr_assert_eq(next, N + 1, "all %d replies arrived (got %d)", N, next - 1);
    close(fd);
}

Test(hostile, a_slow_loris_is_closed_when_its_frame_is_not_complete_in_time)
{
    start((rk_rserver_config_t){.idle_ms = 60000, .frame_timeout_ms = 300});
    int fd = raw_connect();
    rk_buf_t b = {0};
    encode_request(1, 100, &b);
    bool closed = false;
    /* one byte every 50 ms: each would have reset the idle timer */
    for (size_t i = 0; i < b.len - 1 && !closed; i++) {
        if (send(fd, b.data + i, 1, MSG_NOSIGNAL) != 1)
            closed = true;
        else
            closed = closed_by_server(fd, 50);
    }
    rk_buf_free(&b);
    cr_assert(closed, "the server closed the connection before the frame was complete");
    cr_assert_eq(stats().frame_timeouts, 1);
    cr_assert(log_contains("not completed within"), "the log says why");
    close(fd);
    assert_served(3);
}

Test(hostile, a_half_sent_frame_that_stalls_is_closed_after_the_deadline)
{
    start((rk_rserver_config_t){.idle_ms = 60000, .frame_timeout_ms = 300});
    int fd = raw_connect();
    rk_buf_t b = {0};
    encode_request(1, 100000, &b);
    send_all(fd, b.data, b.len / 2);
    rk_buf_free(&b);
    cr_assert(closed_by_server(fd, 10000), "closed");
    close(fd);
    for (int i = 0; i < 100 && stats().in_bytes > 0; i++)
        rk_sleep_ms(20);
    cr_assert_eq(stats().in_bytes, 0, "its buffer is released");
    assert_served(4);
}

Test(hostile, connections_over_the_cap_are_refused_and_the_first_ones_still_served)
{
    enum { CAP = 3 };
    start((rk_rserver_config_t){.idle_ms = 60000, .max_conns = CAP});
    int fds[CAP];
    rk_buf_t b = {0};
    encode_request(5, 10, &b);
    for (int i = 0; i < CAP; i++) {
        fds[i] = raw_connect();
        send_all(fds[i], b.data, b.len);
        rk_cmd_t *r = raw_read_cmd(fds[i]);
        cr_assert_not_null(r, "connection %d of %d is served", i + 1, CAP);
        rk_cmd_free(r);
    }
    int extra = raw_connect();      /* the kernel accepts it; the server closes it */
    cr_assert(closed_by_server(extra, 5000), "the connection over the cap is closed");
    close(extra);
    cr_assert_eq(stats().refused, 1);
    cr_assert_eq(stats().conns, CAP);
    cr_assert(log_contains("refus"), "the refusal is logged");
    for (int i = 0; i < CAP; i++) {
        send_all(fds[i], b.data, b.len);
        rk_cmd_t *r = raw_read_cmd(fds[i]);
        cr_assert_not_null(r, "connection %d is still served", i + 1);
        rk_cmd_free(r);
    }
    close(fds[0]);
    for (int i = 0; i < 100 && stats().conns == CAP; i++)
        rk_sleep_ms(20);
    assert_served(6);       /* room again once one left */
    for (int i = 1; i < CAP; i++)
        close(fds[i]);
    rk_buf_free(&b);
}

Test(hostile, total_buffered_input_is_bounded)
{
    enum { BUDGET = 2 << 20, N = 8, PART = 600 << 10 };    /* 2 MiB; 8 x 600 KiB of 900 KiB frames */
    start((rk_rserver_config_t){.idle_ms = 60000, .max_frame = 1 << 20, .max_in_bytes = BUDGET,
                                .frame_timeout_ms = 1000});
    rk_buf_t b = {0};
    encode_request(1, 900 << 10, &b);
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = raw_connect();
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        size_t off = 0;
        for (int tries = 0; off < PART && tries < 100; tries++) {
            ssize_t w = send(fds[i], b.data + off, PART - off, MSG_NOSIGNAL);
            if (w > 0)
                off += (size_t)w;
            else
                rk_sleep_ms(5);
        }
    }
    rk_sleep_ms(300);               /* let the server take what it will */
    rk_rserver_stats_t st = stats();
    cr_assert_leq(st.in_bytes, BUDGET + (1 << 20) + N * (128 << 10), "input held bounded: %llu",
                  (unsigned long long)st.in_bytes);
    cr_assert_geq(st.paused, 1, "some connections wait");
    assert_served(2);
    cr_assert(log_contains("input budget"), "the wait is logged");
    for (int i = 0; i < N; i++)
        close(fds[i]);
    /* a waiting connection is not read, so its hang-up goes unseen until
     * its frame's deadline closes it */
    for (int i = 0; i < 250 && stats().in_bytes > 0; i++)
        rk_sleep_ms(20);
    cr_assert_eq(stats().in_bytes, 0, "all released");
    rk_buf_free(&b);
}

Test(hostile, requests_held_in_processing_count_against_the_input_budget)
{
    /* 4 connections x 256 held requests of 8 KiB: 8 MiB asked for, 1 MiB allowed.
     * Frames of exactly 8 KiB make the server's 64 KiB reads end on a frame
     * boundary, so no connection is ever left with a partial frame. */
    enum { BUDGET = 1 << 20, N = 4, PER = 256, FRAME = 8192 };
    start((rk_rserver_config_t){.idle_ms = 60000, .max_frame = 256 << 10, .max_in_bytes = BUDGET});
    rk_buf_t b = {0};
    rk_cmd_t *c = rk_cmd_new(1001);
    c->opaque = 1;
    rk_buf_t probe = {0};
    rk_cmd_encode(c, &probe);               /* header size, to fill the frame up to FRAME */
    uint8_t *body = calloc(1, FRAME);
    rk_cmd_set_body(c, body, FRAME - probe.len);
    free(body);
    rk_buf_free(&probe);
    for (int i = 0; i < PER; i++)
        rk_cmd_encode(c, &b);
    rk_cmd_free(c);
    cr_assert_eq(b.len, (size_t)FRAME * PER);
    int fds[N];
    size_t off[N];
    for (int i = 0; i < N; i++) {
        fds[i] = raw_connect();
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        off[i] = 0;
    }
    for (int round = 0; round < 100; round++)     /* what the kernel takes, for a while */
        for (int i = 0; i < N; i++) {
            ssize_t w = off[i] < b.len ? send(fds[i], b.data + off[i], FRAME - off[i] % FRAME, MSG_NOSIGNAL) : 0;
            if (w > 0)
                off[i] += (size_t)w;
            if (i == 0)
                rk_sleep_ms(3);
        }
    rk_rserver_stats_t st = stats();
    cr_assert_leq(st.inflight_bytes + st.in_bytes, BUDGET + (N + 2) * (128 << 10),
                  "held %llu + buffered %llu bytes", (unsigned long long)st.inflight_bytes,
                  (unsigned long long)st.in_bytes);
    cr_assert_geq(st.inflight_bytes, BUDGET / 2, "work was taken up to the budget");
    cr_assert_geq(st.paused, 1);
    /* answering the held requests lets the waiting ones in: all are answered */
    int got[N] = {0}, total = 0;
    rk_buf_t in[N];
    memset(in, 0, sizeof in);
    for (int round = 0; round < 500 && total < N * PER; round++) {
        release_held();
        for (int i = 0; i < N; i++) {
            if (off[i] < b.len) {
                ssize_t w = send(fds[i], b.data + off[i], b.len - off[i], MSG_NOSIGNAL);
                if (w > 0)
                    off[i] += (size_t)w;
            }
            uint8_t chunk[65536];
            ssize_t n;
            while ((n = recv(fds[i], chunk, sizeof chunk, 0)) > 0)
                rk_buf_put(&in[i], chunk, (size_t)n);
            size_t at = 0;
            while (in[i].len - at >= 4 && in[i].len - at >= 4 + (size_t)rk_be_get32(in[i].data + at)) {
                at += 4 + rk_be_get32(in[i].data + at);
                got[i]++;
                total++;
            }
            if (at > 0) {
                memmove(in[i].data, in[i].data + at, in[i].len - at);
                in[i].len -= at;
            }
        }
        rk_sleep_ms(20);
    }
    for (int i = 0; i < N; i++) {
        cr_assert_eq(got[i], PER, "connection %d: %d of %d answered", i, got[i], PER);
        rk_buf_free(&in[i]);
        close(fds[i]);
    }
    rk_buf_free(&b);
    assert_served(12);
}

Test(hostile, a_big_frame_does_not_keep_its_buffer_once_served)
{
    start((rk_rserver_config_t){.idle_ms = 60000, .max_frame = 8 << 20});
    int fd = raw_connect();
    rk_buf_t b = {0};
    encode_request(8, 3 << 20, &b);
    send_all(fd, b.data, b.len);
    rk_buf_free(&b);
    rk_cmd_t *r = raw_read_cmd(fd);
    cr_assert_not_null(r);
    cr_assert_eq(r->body_len, 3u << 20);
    rk_cmd_free(r);
    /* the reply can reach us before the server's loop gets past it */
    for (int i = 0; i < 100 && stats().in_bytes > (256 << 10); i++)
        rk_sleep_ms(20);
    cr_assert_leq(stats().in_bytes, 256 << 10, "the connection, still open, holds %llu input bytes",
                  (unsigned long long)stats().in_bytes);
    close(fd);
}

/* ------------------------------------------------------------ item 14: names */

Test(hostile, a_client_reaches_a_server_by_its_host_name)
{
    quiet_log();
    cr_assert_eq(rk_rserver_new(&(rk_rserver_config_t){.host = "localhost", .idle_ms = 60000, .name = "byname"},
                                &srv), 0);
    rk_rserver_register(srv, 1000, echo, NULL, RK_PROC_INLINE);
    char err[200];
    cr_assert_eq(rk_rserver_start(srv, err, sizeof err), 0, "listens on localhost: %s", err);
    port = rk_rserver_port(srv);
    char byname[64];
    snprintf(byname, sizeof byname, "localhost:%d", port);
    rk_rclient_t *cl;
    cr_assert_eq(rk_rclient_new(&cl), 0);
    for (int i = 0; i < 3; i++) {       /* the connection, resolved once, is reused */
        rk_cmd_t *req = rk_cmd_new(1000), *resp = NULL;
        rk_cmd_set_body(req, "hi", 2);
        int rc = rk_rclient_invoke_sync(cl, byname, req, 3000, &resp);
        cr_assert_eq(rc, 0, "%s: %s", byname, rk_strerror(rc));
        cr_assert_eq(resp->body_len, 2);
        rk_cmd_free(resp);
    }
    rk_cmd_t *resp = NULL;
    int rc = rk_rclient_invoke_sync(cl, "no-such-host.invalid:9876", rk_cmd_new(1000), 3000, &resp);
    cr_assert(rc < 0, "an unknown name fails: %d", rc);
    cr_assert_null(resp);
    cr_assert_eq(rk_rclient_invoke_sync(cl, "localhost:99999", rk_cmd_new(1000), 500, &resp), RK_EINVAL,
                 "a bad port is refused at once");
    rk_rclient_free(cl);
}

/* ------------------------------------------------------------ mqnamesrv's keys */

#include "rk/testkit.h"

/* A request on fd is answered (any code: an unknown one gets NOT_SUPPORTED). */
static bool answered(int fd)
{
    rk_buf_t b = {0};
    encode_request(11, 10, &b);
    bool ok = send(fd, b.data, b.len, MSG_NOSIGNAL) == (ssize_t)b.len;
    rk_buf_free(&b);
    rk_cmd_t *r = ok ? raw_read_cmd(fd) : NULL;
    rk_cmd_free(r);
    return r != NULL;
}

Test(namesrv_limits, mqnamesrv_maps_its_keys_onto_the_limits)
{
    char dir[256], conf[300], log[300], kv[300];
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "nslimits"), 0);
    snprintf(conf, sizeof conf, "%s/ns.conf", dir);
    snprintf(log, sizeof log, "%s/ns.log", dir);
    snprintf(kv, sizeof kv, "%s/kv.json", dir);
    port = rk_tk_free_port();
    FILE *f = fopen(conf, "w");
    fprintf(f, "listenPort=%d\nkvConfigPath=%s\nserverMaxConnections=1\nserverFrameTimeoutMillis=500\n", port, kv);
    fclose(f);
    char *argv[] = {(char *)rk_tk_bin("mqnamesrv"), "-c", conf, NULL};
    pid_t pid = rk_tk_spawn(argv, log);
    cr_assert(pid > 0);
    cr_assert(rk_tk_wait_port(port, 5000), "mqnamesrv listens");
    int a = -1;
    for (int i = 0; i < 50 && a < 0; i++) {     /* the probe's connection may not be gone yet */
        a = raw_connect();
        if (!answered(a)) {
            close(a);
            a = -1;
            rk_sleep_ms(50);
        }
    }
    cr_assert(a >= 0, "the first connection is served");
    int b = raw_connect();
    cr_assert(closed_by_server(b, 5000), "serverMaxConnections=1: the second is refused");
    close(b);
    cr_assert(answered(a), "the first is still served");
    rk_buf_t half = {0};
    encode_request(12, 1000, &half);
    send_all(a, half.data, half.len / 2);
    rk_buf_free(&half);
    cr_assert(closed_by_server(a, 10000), "serverFrameTimeoutMillis=500: a half frame is closed");
    close(a);
    rk_tk_stop(pid, 5000);
    char *text = NULL;
    char *cat[] = {"/bin/cat", log, NULL};
    rk_tk_run(cat, &text, 5000);
    cr_assert(text != NULL && strstr(text, "refusing") != NULL, "the refusal is logged");
    cr_assert(strstr(text, "frame not completed within 500 ms") != NULL, "the deadline is logged");
    free(text);
    rk_tk_rmtree(dir);
}

#include "rk/brokerreg.h"

static char *tiny_body(void *ctx)
{
    (void)ctx;
    return strdup("{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":1,"
                  "\"timestamp\":1},\"topicConfigTable\":{\"NameTopic\":{\"perm\":6,\"readQueueNums\":1,"
                  "\"writeQueueNums\":1}}}}");
}

Test(namesrv_limits, a_broker_registers_with_namesrvAddr_localhost)
{
    char dir[256], conf[300], log[300], kv[300], ns[64];
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "nsbyname"), 0);
    snprintf(conf, sizeof conf, "%s/ns.conf", dir);
    snprintf(log, sizeof log, "%s/ns.log", dir);
    snprintf(kv, sizeof kv, "%s/kv.json", dir);
    quiet_log();
    port = rk_tk_free_port();
    FILE *f = fopen(conf, "w");
    fprintf(f, "listenPort=%d\nkvConfigPath=%s\n", port, kv);
    fclose(f);
    char *argv[] = {(char *)rk_tk_bin("mqnamesrv"), "-c", conf, NULL};
    pid_t pid = rk_tk_spawn(argv, log);
    cr_assert(pid > 0);
    cr_assert(rk_tk_wait_port(port, 5000), "mqnamesrv listens");
    snprintf(ns, sizeof ns, "localhost:%d", port);
    rk_brokerreg_config_t rc = {.namesrv_addrs = ns, .cluster_name = "DefaultCluster", .broker_name = "b-name",
                                .broker_addr = "127.0.0.1:10961", .period_ms = 60000, .timeout_ms = 3000};
    rk_brokerreg_t *reg = NULL;
    int rc_start = rk_brokerreg_start(&rc, tiny_body, NULL, &reg);
    int accepted = rc_start == RK_OK ? rk_brokerreg_register_now(reg) : -1;
    if (reg != NULL)
        rk_brokerreg_stop(reg);
    rk_tk_stop(pid, 5000);
    rk_tk_rmtree(dir);
    cr_assert_eq(rc_start, RK_OK, "%s", rk_strerror(rc_start));
    cr_assert_eq(accepted, 1, "namesrvAddr=%s: registered with %d of 1 name servers", ns, accepted);
}
