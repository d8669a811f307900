/* test_big_requests.c — the remoting server reads a big request body straight
 * into the command's own block (issue 17): whatever way the bytes arrive — a
 * byte at a time, splits inside the length, the header or the body, several
 * frames in one write, big frames back to back with small ones — every
 * request reaches its processor with exactly the bytes the client sent, in
 * both header formats and in order, also while the connection is paused for
 * its backlog (a slow processor, a small max_out_bytes). */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/rawconn.h"
#include "rk/remoting_server.h"
#include "rk/request_code.h"

/* Body sizes around the direct-read threshold (32 KiB) and well past it. */
static const size_t sizes[] = {0, 10, 32767, 32768, 32769, 300000, 2 * 65536 + 3, 5, 1 << 20, 40000, 7, 70000};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static uint8_t pattern(size_t i, size_t j) { return (uint8_t)(i * 31 + j * 7 + (j >> 8)); }

/* Answers with the request's size and whether every byte is as sent (the
 * answer's remark), so the client needs not read megabytes back. */
static void check_body(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)ctx; (void)conn;
    int64_t idx = -1;
    rk_cmd_ext_i64(req, "idx", &idx);
    const char *verdict = "ok";
    if (idx < 0 || (size_t)idx >= NSIZES || req->body_len != sizes[idx])
        verdict = "wrong size";
    for (size_t j = 0; j < req->body_len && verdict[0] == 'o'; j++)
        if (req->body[j] != pattern((size_t)idx, j))
            verdict = "wrong byte";
    if (ctx != NULL)
        rk_sleep_ms(5);         /* the slow one: requests pile up in processing */
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, verdict);
    rk_cmd_ext_set_i64(resp, "idx", idx);
    rk_cmd_ext_set_i64(resp, "len", (int64_t)req->body_len);
    rk_reply_send(reply, resp);
}

static void send_chunked(int fd, const uint8_t *p, size_t n)
{
    static const size_t chunk[] = {1, 7, 100, 5000, 70000, 3, 1, 1, 20000, 13, 131072};
    for (size_t at = 0, k = 0; at < n; k++) {
        size_t c = chunk[k % (sizeof chunk / sizeof chunk[0])];
        if (c > n - at)
            c = n - at;
        cr_assert_eq(rk_raw_send_all(fd, p + at, c), 0);
        at += c;
        if (k % 3 == 0)
            usleep(200);
    }
}

/* mode 0: all requests in one write; 1: in chunks of varied sizes; 2: one
 * write, to a slow processor on a server with a small max_out_bytes. */
static void run(int mode)
{
    FILE *logf = tmpfile();
    cr_assert_not_null(logf);
    rk_log_init(RK_LOG_INFO, logf);
    rk_rserver_config_t cfg = {.host = "127.0.0.1", .port = 0, .name = "test"};
    if (mode == 2)
        cfg.max_out_bytes = 64 * 1024;
    rk_rserver_t *srv;
    cr_assert_eq(rk_rserver_new(&cfg, &srv), 0);
    static int slow = 1;
    rk_rserver_register(srv, 1000, check_body, mode == 2 ? &slow : NULL, mode == 2 ? RK_PROC_SLOW : RK_PROC_INLINE);
    char err[200];
    cr_assert_eq(rk_rserver_start(srv, err, sizeof err), 0, "%s", err);
    int fd = rk_raw_connect(rk_rserver_port(srv));
    cr_assert(fd >= 0);
    rk_buf_t out = {0};
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < NSIZES; i++) {
            rk_cmd_t *req = rk_cmd_new(1000);
            req->opaque = (int32_t)(round * 100 + i);
            req->ser_type = (i + round) % 2 ? RK_SER_JSON : RK_SER_ROCKETMQ;
            rk_cmd_ext_set_i64(req, "idx", (int64_t)i);
            uint8_t *body = sizes[i] ? malloc(sizes[i]) : NULL;
            for (size_t j = 0; j < sizes[i]; j++)
                body[j] = pattern(i, j);
            rk_cmd_own_body(req, body, sizes[i]);
            cr_assert_eq(rk_cmd_encode(req, &out), RK_OK);
            rk_cmd_free(req);
        }
    if (mode == 1)
        send_chunked(fd, out.data, out.len);
    else
        cr_assert_eq(rk_raw_send_all(fd, out.data, out.len), 0);
    rk_buf_free(&out);
    bool seen[2][NSIZES] = {{false}};
    for (int k = 0; k < 2 * (int)NSIZES; k++) {
        rk_cmd_t *r = rk_raw_read_cmd(fd);
        cr_assert_not_null(r, "answer %d missing", k);
        /* inline processors answer in order; slow ones (the worker pool) in any */
        int round = r->opaque / 100;
        size_t i = (size_t)(r->opaque % 100);
        if (mode != 2)
            cr_assert_eq(r->opaque, (int32_t)((k / (int)NSIZES) * 100 + k % (int)NSIZES), "answers in order");
        cr_assert(round >= 0 && round < 2 && i < NSIZES && !seen[round][i], "answer %d: opaque %d", k, r->opaque);
        seen[round][i] = true;
        int64_t idx = -1, len = -1;
        cr_assert_eq(rk_cmd_ext_i64(r, "idx", &idx), RK_OK);
        cr_assert_eq(rk_cmd_ext_i64(r, "len", &len), RK_OK);
        cr_assert_eq(idx, (int64_t)i);
        cr_assert_eq(len, (int64_t)sizes[i]);
        cr_assert_str_eq(r->remark, "ok", "request %d/%zu (%zu bytes): %s", round, i, sizes[i], r->remark);
        rk_cmd_free(r);
    }
    close(fd);
    rk_rserver_free(srv);
    rk_log_init(RK_LOG_INFO, stderr);
    fclose(logf);
}

Test(big_requests, requests_written_at_once_arrive_byte_for_byte) { run(0); }

Test(big_requests, requests_split_anywhere_arrive_byte_for_byte) { run(1); }

Test(big_requests, requests_to_a_slow_processor_with_back_pressure_arrive_byte_for_byte) { run(2); }

/* The splitter's side of it, alone: a big body is recognised once its header is all here and
 * not before, the bytes that came are moved out whole, and the header stays for the decoder. */
Test(big_requests, the_splitter_hands_out_a_big_body_and_joins_it_to_its_header)
{
    rk_frames_t f;
    rk_frames_init(&f, 1 << 20);
    /* a frame: length, header length (JSON: 0 in the top byte), 5 header bytes, 40 000 body */
    size_t body = 40000, hlen = 5, flen = 4 + hlen + body;
    uint8_t head[13];
    rk_be_put32(head, (uint32_t)flen);
    rk_be_put32(head + 4, (uint32_t)hlen);
    memcpy(head + 8, "{\"a\"}", hlen);
    size_t blen = 0, here = 0;
    cr_assert_eq(rk_frames_feed(&f, head, 10), RK_OK);         /* header not all here */
    cr_assert_eq(rk_frames_big_body(&f, 32768, &blen, &here), 0);
    cr_assert_eq(rk_frames_feed(&f, head + 10, 3), RK_OK);
    uint8_t part[100];
    for (size_t j = 0; j < sizeof part; j++)
        part[j] = pattern(1, j);
    cr_assert_eq(rk_frames_feed(&f, part, sizeof part), RK_OK);
    cr_assert_eq(rk_frames_big_body(&f, 32768, &blen, &here), 1);
    cr_assert_eq(blen, body);
    cr_assert_eq(here, sizeof part);
    cr_assert_eq(rk_frames_big_body(&f, body + 1, &blen, &here), 0);   /* under the threshold */
    uint8_t *dst = calloc(1, body);
    cr_assert_not_null(dst);
    rk_frames_split_body(&f, dst);
    cr_assert_arr_eq(dst, part, sizeof part);
    cr_assert_eq(rk_frames_pending(&f), 8 + hlen);                     /* the header waits alone */
    cr_assert_arr_eq(f.buf.data + f.start, head, 8 + hlen);
    rk_cmd_t *cmd = NULL;                                               /* "{\"a\"}" is no header */
    cr_assert_neq(rk_frames_join_body(&f, dst, body, &cmd), RK_OK);     /* (dst freed with it) */
    cr_assert_null(cmd);
    rk_frames_free(&f);

    /* a real command: split, the rest of the body read into the block, joined again */
    rk_frames_init(&f, 1 << 20);
    rk_cmd_t *sent = rk_cmd_new(RK_REQ_SEND_MESSAGE_V2);
    cr_assert_not_null(sent);
    cr_assert_eq(rk_cmd_ext_add(sent, "b", "TopicA"), RK_OK);
    uint8_t *big = malloc(body);
    cr_assert_not_null(big);
    for (size_t j = 0; j < body; j++)
        big[j] = pattern(2, j);
    cr_assert_eq(rk_cmd_set_body(sent, big, body), RK_OK);
    rk_buf_t wire = {0};
    cr_assert_eq(rk_cmd_encode(sent, &wire), RK_OK);
    size_t first = wire.len - body + 1000;                              /* the header, 1000 body bytes */
    cr_assert_eq(rk_frames_feed(&f, wire.data, first), RK_OK);
    cr_assert_eq(rk_frames_big_body(&f, 32768, &blen, &here), 1);
    cr_assert_eq(blen, body);
    cr_assert_eq(here, 1000u);
    dst = malloc(body);
    cr_assert_not_null(dst);
    rk_frames_split_body(&f, dst);
    memcpy(dst + here, wire.data + first, body - here);                 /* what the socket reads */
    cr_assert_eq(rk_frames_join_body(&f, dst, body, &cmd), RK_OK);
    cr_assert_eq(rk_frames_pending(&f), 0u);
    cr_assert_eq(cmd->code, RK_REQ_SEND_MESSAGE_V2);
    cr_assert_str_eq(rk_cmd_ext_get(cmd, "b"), "TopicA");
    cr_assert_eq(cmd->body_len, body);
    cr_assert_arr_eq(cmd->body, big, body);
    rk_cmd_free(cmd);
    rk_cmd_free(sent);
    rk_buf_free(&wire);
    free(big);

    /* a broken length is an error, not a big body */
    rk_frames_t g;
    rk_frames_init(&g, 1 << 20);
    uint8_t bad[8];
    rk_be_put32(bad, 8);
    rk_be_put32(bad + 4, 100);          /* header longer than its frame */
    cr_assert_eq(rk_frames_feed(&g, bad, sizeof bad), RK_OK);
    cr_assert_eq(rk_frames_big_body(&g, 1, &blen, &here), RK_EPROTO);
    rk_frames_free(&g);
    rk_frames_free(&f);
}
