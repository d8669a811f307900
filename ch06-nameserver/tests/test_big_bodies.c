/* test_big_bodies.c — the remoting client reads a big body straight into the
 * command's own block (issue 17): whatever way the bytes arrive — a byte at a
 * time, splits inside the length, the header or the body, several frames in
 * one write, a big frame followed by small ones — every response carries
 * exactly the bytes the server sent, in both header formats, and a big frame
 * with a damaged header fails its request instead of being delivered. A body
 * handed back (rk_rclient_recycle_body) is read into by later big answers,
 * which still carry exactly their bytes.
 *
 * The server here is a plain socket on a free loopback port, run by a thread
 * of the test, so that the test chooses how each byte is written. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/rawconn.h"
#include "rk/remoting_client.h"

/* Body sizes around the direct-read threshold (32 KiB) and well past it. */
static const size_t sizes[] = {0, 10, 32767, 32768, 32769, 300000, 2 * 65536 + 3, 5, 1 << 20, 40000, 7};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static uint8_t pattern(size_t i, size_t j) { return (uint8_t)(i * 31 + j * 7 + (j >> 8)); }

typedef struct {
    int lfd;
    int mode;                   /* 0: all answers in one write; 1: in chunks of varied sizes; 2: a damaged big frame;
                                 * 3: as 1, the client handing each big body's block back */
    pthread_t th;
} fake_t;

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(fd, 4), 0);
    socklen_t sl = sizeof sa;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Writes p in chunks of 1, 7, 100, 5000, 70000, 3 ... bytes, pausing after
 * each so the client sees the pieces one read at a time. */
static void send_chunked(int fd, const uint8_t *p, size_t n)
{
    static const size_t chunk[] = {1, 7, 100, 5000, 70000, 3, 1, 1, 20000, 13};
    for (size_t at = 0, k = 0; at < n; k++) {
        size_t c = chunk[k % (sizeof chunk / sizeof chunk[0])];
        if (c > n - at)
            c = n - at;
        if (rk_raw_send_all(fd, p + at, c) != 0)
            return;
        at += c;
        usleep(200);
    }
}

static void *fake_main(void *arg)
{
    fake_t *f = arg;
    int fd = accept(f->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    size_t nreq = f->mode == 2 ? 1 : NSIZES;
    rk_buf_t out = {0};
    for (size_t i = 0; i < nreq; i++) {
        rk_cmd_t *req = rk_raw_read_cmd(fd);
        if (req == NULL)
            break;
        int64_t idx = -1;
        rk_cmd_ext_i64(req, "idx", &idx);
        rk_cmd_t *resp = rk_cmd_new_response(req, 0, NULL);
        rk_cmd_free(req);
        if (resp == NULL || idx < 0 || (size_t)idx >= NSIZES) {
            rk_cmd_free(resp);
            break;
        }
        size_t len = f->mode == 2 ? 100000 : sizes[idx];
        uint8_t *body = malloc(len + 1);
        for (size_t j = 0; j < len; j++)
            body[j] = pattern((size_t)idx, j);
        rk_cmd_own_body(resp, body, len);
        resp->ser_type = idx % 2 ? RK_SER_JSON : RK_SER_ROCKETMQ;
        rk_cmd_ext_set_i64(resp, "idx", idx);
        size_t at = out.len;
        rk_cmd_encode(resp, &out);
        rk_cmd_free(resp);
        if (f->mode == 2)       /* binary header whose extFields length runs past it */
            memset(out.data + at + 8 + 13, 0x7F, 4);
    }
    if (f->mode >= 1)
        send_chunked(fd, out.data, out.len);
    else
        rk_raw_send_all(fd, out.data, out.len);
    rk_buf_free(&out);
    char c;
    while (read(fd, &c, 1) > 0)     /* until the client goes */
        ;
    close(fd);
    return NULL;
}

typedef struct {
    pthread_mutex_t mu;
    int done;
    int status[NSIZES];
    rk_cmd_t *resp[NSIZES];
    rk_rclient_t *recycle_to;   /* the callback checks each body and hands its block back */
    int bad[NSIZES];            /* 0, or what was wrong (1 size, 2 a byte, 3 body_cap) */
} got_t;

typedef struct {
    got_t *g;
    size_t i;
} slot_t;

static void on_resp(void *arg, int status, rk_cmd_t *resp)
{
    slot_t *s = arg;
    if (s->g->recycle_to != NULL && status == RK_OK) {
        if (resp->body_len != sizes[s->i])
            s->g->bad[s->i] = 1;
        for (size_t j = 0; j < resp->body_len && s->g->bad[s->i] == 0; j++)
            if (resp->body[j] != pattern(s->i, j))
                s->g->bad[s->i] = 2;
        if (resp->body_cap != 0 && resp->body_cap < resp->body_len)
            s->g->bad[s->i] = 3;
        if (resp->body_cap != 0) {      /* the next big answers are read into this block */
            rk_rclient_recycle_body(s->g->recycle_to, resp->body, resp->body_cap);
            resp->body = NULL;
            resp->body_len = 0;
        }
    }
    pthread_mutex_lock(&s->g->mu);
    s->g->status[s->i] = status;
    s->g->resp[s->i] = resp;
    s->g->done++;
    pthread_mutex_unlock(&s->g->mu);
}

static int done_count(got_t *g)
{
    pthread_mutex_lock(&g->mu);
    int d = g->done;
    pthread_mutex_unlock(&g->mu);
    return d;
}

static void run(int mode)
{
    FILE *logf = tmpfile();
    cr_assert_not_null(logf);
    rk_log_init(RK_LOG_INFO, logf);
    fake_t f = {.mode = mode};
    int port;
    f.lfd = listen_any(&port);
    cr_assert_eq(pthread_create(&f.th, NULL, fake_main, &f), 0);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    rk_rclient_t *c;
    cr_assert_eq(rk_rclient_new(&c), RK_OK);
    got_t g = {.done = 0, .recycle_to = mode == 3 ? c : NULL};
    pthread_mutex_init(&g.mu, NULL);
    slot_t slots[NSIZES];
    size_t n = mode == 2 ? 1 : NSIZES;
    int handed_back = 0;
    for (size_t i = 0; i < n; i++) {
        rk_cmd_t *req = rk_cmd_new(11);
        cr_assert_not_null(req);
        rk_cmd_ext_set_i64(req, "idx", (int64_t)i);
        slots[i] = (slot_t){&g, i};
        cr_assert_eq(rk_rclient_invoke_async(c, addr, req, 20000, on_resp, &slots[i]), RK_OK);
    }
    for (int t = 0; t < 2000 && done_count(&g) < (int)n; t++)
        rk_sleep_ms(10);
    cr_assert_eq(done_count(&g), (int)n, "%d of %zu answers", done_count(&g), n);
    for (size_t i = 0; i < n; i++) {
        if (mode == 2) {
            cr_assert_neq(g.status[i], RK_OK, "a big frame with a damaged header was delivered");
            cr_assert_null(g.resp[i]);
            continue;
        }
        cr_assert_eq(g.status[i], RK_OK, "answer %zu: status %d", i, g.status[i]);
        rk_cmd_t *r = g.resp[i];
        if (mode == 3) {
            cr_assert_eq(g.bad[i], 0, "answer %zu (%zu bytes): %s", i, sizes[i],
                         g.bad[i] == 1 ? "wrong size" : g.bad[i] == 2 ? "a byte differs" : "body_cap < body_len");
            cr_assert(r->body_cap == 0 || sizes[i] >= 32768, "answer %zu: body_cap %zu", i, r->body_cap);
            handed_back += r->body_cap != 0;
            rk_cmd_free(r);
            continue;
        }
        int64_t idx = -1;
        cr_assert_eq(rk_cmd_ext_i64(r, "idx", &idx), RK_OK);
        cr_assert_eq(idx, (int64_t)i);
        cr_assert_eq(r->ser_type, i % 2 ? RK_SER_JSON : RK_SER_ROCKETMQ);
        cr_assert_eq(r->body_len, sizes[i], "answer %zu: %zu bytes, not %zu", i, r->body_len, sizes[i]);
        for (size_t j = 0; j < sizes[i]; j++)
            if (r->body[j] != pattern(i, j))
                cr_assert_fail("answer %zu: byte %zu differs", i, j);
        uint8_t *taken = r->body;       /* a body may be taken over and freed alone */
        r->body = NULL;
        r->body_len = 0;
        free(taken);
        rk_cmd_free(r);
    }
    if (mode == 3)      /* at least the 1 MiB answer came in pieces, read into its own block */
        cr_assert_geq(handed_back, 1);
    rk_rclient_free(c);
    pthread_join(f.th, NULL);
    close(f.lfd);
    pthread_mutex_destroy(&g.mu);
    rk_log_init(RK_LOG_INFO, stderr);
    fclose(logf);
}

Test(big_bodies, answers_written_at_once_arrive_byte_for_byte) { run(0); }

Test(big_bodies, answers_split_anywhere_arrive_byte_for_byte) { run(1); }

Test(big_bodies, a_big_frame_with_a_damaged_header_fails_its_request) { run(2); }

Test(big_bodies, blocks_handed_back_are_read_into_again_and_answers_stay_byte_for_byte) { run(3); }
