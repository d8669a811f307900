/* remoting_client.c — pooled connections, opaque matching, timeouts (see rk/remoting_client.h). */
#include "rk/remoting_client.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/idle_pool.h"
#include "rk/log.h"
#include "rk/thread.h"
#include "remoting_io.h"

/* Big bodies' blocks kept for the next big answer: 16 cover a consumer's
 * pulls in flight and waiting for its listeners (8 queues x 1 000 cached
 * messages of 1 KiB ~ 32 answers of 256 KiB, half of them idle at a time
 * at most), ~4 MiB at worst, freed after a second without big answers. */
#define BODY_POOL_MAX 16
#define BODY_ROUND ((size_t)64 << 10)
#define BODY_KEEP_MAX ((size_t)4 << 20)        /* a bigger block handed back is freed */

typedef struct op {
    char addr[64];
    rk_cmd_t *req;
    uint64_t deadline;          /* mono ms */
    rk_invoke_cb cb;            /* NULL: oneway */
    void *arg;
    struct op *next;
} op_t;

typedef struct chan {
    char addr[64];
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_getaddrinfo_t resolve;   /* a host name being looked up (off the loop, in libuv's pool) */
    int refs;                   /* the tcp handle, and the look-up while it runs */
    bool connected, closing, resolving;
    rk_frames_t frames;
    uint8_t *body;              /* a big frame's body being read straight into its own block */
    size_t body_len, body_got;  /* (its header waits, alone, in frames: see on_read) */
    size_t body_cap;            /* the block's size (body_block) */
    bool head_read;             /* a big body just ended: read the next header in a small piece */
    op_t *waiting;              /* written once connected */
    op_t *pending;              /* sent, awaiting responses, oldest first (answers mostly come in order) */
    op_t *pending_tail;
    rk_buf_t out;               /* frames made this loop turn, written at its end */
    bool out_listed;            /* in the client's out list (holds a reference) */
    struct chan *out_next;
    struct rk_rclient *cl;
    struct chan *next;
    char rbuf[65536];
} chan_t;

struct rk_rclient {
    uv_loop_t loop;
    uv_async_t async;
    uv_timer_t sweep;
    uv_prepare_t out_prepare;   /* both write every channel's batched output: */
    uv_check_t out_check;       /* before the loop sleeps, and after each round of I/O */
    chan_t *out_head;           /* channels with batched output */
    uv_thread_t thread;
    uv_mutex_t mu;              /* guards inbox and stopping */
    op_t *inbox, *inbox_tail;
    bool stopping;
    chan_t *chans;
    _Atomic int32_t next_opaque;
    struct { int32_t code; rk_client_processor_fn fn; void *ctx; } procs[32];
    int nprocs;
    rk_rclient_before_fn before_fn;     /* rk_rclient_set_before_request */
    void *before_ctx;
    rk_idle_pool_t pool;                /* idle blocks for big bodies (rk_rclient_recycle_body) */
    uint64_t pool_looked;               /* mono ms of pool_trim's last look (network thread) */
};

/* A block for a big body of len bytes: an idle one that is big enough, or a
 * new one rounded up to BODY_ROUND (so that answers of slightly different
 * sizes fit each other's blocks); *cap is its size. Network thread. */
static uint8_t *body_block(rk_rclient_t *c, size_t len, size_t *cap)
{
    uint8_t *b = rk_idle_pool_get(&c->pool, len, cap);
    if (b == NULL) {
        *cap = len <= SIZE_MAX - BODY_ROUND ? (len + BODY_ROUND - 1) / BODY_ROUND * BODY_ROUND : len;
        b = malloc(*cap);
    }
    return b;
}

void rk_rclient_recycle_body(rk_rclient_t *c, uint8_t *body, size_t cap)
{
    if (cap == 0 || cap > BODY_KEEP_MAX)
        free(body);
    else
        rk_idle_pool_put(&c->pool, body, cap);
}

/* Frees the idle blocks when no big body came for about a second (from the
 * sweep timer, every 10 ms: one look a second); rk_rclient_free frees them all. */
static void pool_trim(rk_rclient_t *c)
{
    uint64_t now = rk_mono_ms();
    if (now - c->pool_looked < 1000)
        return;
    c->pool_looked = now;
    rk_idle_pool_trim(&c->pool, false);
}

void rk_rclient_set_before_request(rk_rclient_t *c, rk_rclient_before_fn fn, void *ctx)
{
    c->before_fn = fn;
    c->before_ctx = ctx;
}

int rk_rclient_register(rk_rclient_t *c, int32_t code, rk_client_processor_fn fn, void *ctx)
{
    if (c->nprocs == 32)
        return RK_EFULL;
    c->procs[c->nprocs].code = code;
    c->procs[c->nprocs].fn = fn;
    c->procs[c->nprocs++].ctx = ctx;
    return RK_OK;
}

static void op_fail(op_t *op, int status)
{
    if (op->cb)
        op->cb(op->arg, status, NULL);
    rk_cmd_free(op->req);
    free(op);
}

static void chan_unref(chan_t *ch)
{
    if (--ch->refs > 0)
        return;
    rk_frames_free(&ch->frames);
    free(ch->body);
    rk_buf_free(&ch->out);
    free(ch);
}

static void chan_closed(uv_handle_t *h) { chan_unref(h->data); }

static void chan_close(chan_t *ch, int status)
{
    if (ch->closing)
        return;
    ch->closing = true;
    rk_rclient_t *c = ch->cl;
    for (chan_t **pp = &c->chans; *pp; pp = &(*pp)->next)
        if (*pp == ch) {
            *pp = ch->next;
            break;
        }
    for (op_t *lists[2] = {ch->waiting, ch->pending}, **l = lists; l < lists + 2; l++)
        for (op_t *op = *l, *next; op != NULL; op = next) {
            next = op->next;
            op_fail(op, status);
        }
    ch->waiting = ch->pending = ch->pending_tail = NULL;
    if (ch->connected)          /* oneway requests and answers made before the close still go */
        rk__out_flush((uv_stream_t *)&ch->tcp, &ch->out, NULL);
    if (ch->resolving)
        uv_cancel((uv_req_t *)&ch->resolve);    /* may be too late: on_resolved copes */
    uv_close((uv_handle_t *)&ch->tcp, chan_closed);
}

/* Output is batched as in the server: frames are appended to the channel's
 * buffer and written once at the end of the loop turn (rk__out_flush). */
#define OUT_FLUSH_AT ((size_t)256 << 10)    /* a buffer this big is written at once */

static void on_out_flush(rk_rclient_t *c)
{
    while (c->out_head != NULL) {
        chan_t *ch = c->out_head;
        c->out_head = ch->out_next;
        ch->out_next = NULL;
        ch->out_listed = false;
        if (!ch->closing) {
            int rc = rk__out_flush((uv_stream_t *)&ch->tcp, &ch->out, NULL);
            if (rc != 0)
                chan_close(ch, RK_ECLOSED);
        }
        chan_unref(ch);         /* the list's reference */
    }
}

static void on_out_prepare(uv_prepare_t *h) { on_out_flush(h->data); }
static void on_out_check(uv_check_t *h) { on_out_flush(h->data); }

/* Appends cmd to ch's batched output: 0, or the error (ch not closed here). */
static int chan_write(chan_t *ch, const rk_cmd_t *cmd)
{
    int rc = rk__out_cmd(&ch->out, cmd);
    if (rc == RK_OK && ch->out.len >= OUT_FLUSH_AT)
        rc = rk__out_flush((uv_stream_t *)&ch->tcp, &ch->out, NULL);
    if (rc == RK_OK && ch->out.len > 0 && !ch->out_listed) {
        ch->out_listed = true;
        ch->refs++;
        ch->out_next = ch->cl->out_head;
        ch->cl->out_head = ch;
    }
    return rc;
}

static void chan_send(chan_t *ch, op_t *op)
{
    int rc = chan_write(ch, op->req);
    if (rc != RK_OK) {
        op_fail(op, rc);
        chan_close(ch, RK_ECLOSED);
        return;
    }
    if (op->cb == NULL) {       /* oneway: done once written */
        rk_cmd_free(op->req);
        free(op);
        return;
    }
    op->next = NULL;
    if (ch->pending_tail) ch->pending_tail->next = op; else ch->pending = op;
    ch->pending_tail = op;
}

/* Big frames come back to back (a consumer catching up): the read after a
 * big body takes at most RK__HEAD_READ bytes, so that the next frame's header
 * comes with a few KiB of its body to copy, not 64 KiB (a read of rbuf's
 * size copied 64 KiB of each 300 KiB pull answer twice, rbuf -> frames ->
 * body); the read after that is full-sized again. */
static void on_alloc(uv_handle_t *h, size_t s, uv_buf_t *buf)
{
    (void)s;
    chan_t *ch = h->data;
    if (ch->body != NULL)       /* the rest of a big body, and not a byte more */
        *buf = uv_buf_init((char *)ch->body + ch->body_got, (unsigned)(ch->body_len - ch->body_got));
    else                        /* after a big body, likely the next one's header: read little */
        *buf = uv_buf_init(ch->rbuf, ch->head_read ? RK__HEAD_READ : sizeof ch->rbuf);
}

static void serve_push(chan_t *ch, rk_cmd_t *req)
{
    rk_rclient_t *c = ch->cl;
    rk_cmd_t *resp = NULL;
    int i = 0;
    while (i < c->nprocs && c->procs[i].code != req->code)
        i++;
    if (i < c->nprocs) {
        resp = c->procs[i].fn(c->procs[i].ctx, ch->addr, req);
    } else {
        char remark[64];
        snprintf(remark, sizeof remark, " request type %d not supported", req->code);
        resp = rk_cmd_new_response(req, 3, remark);
    }
    if (resp != NULL && !rk_cmd_is_oneway(req)) {
        resp->opaque = req->opaque;
        resp->flag |= RK_CMD_RESPONSE;
        resp->ser_type = req->ser_type;
        chan_write(ch, resp);
    }
    rk_cmd_free(resp);
    rk_cmd_free(req);
}

/* Whether the frame now arriving is longer than keep. A consumer's pull
 * answers (256 KiB and more) come back to back: shrinking the buffer after
 * each one and growing it again for the next (64, 128, 256, 512 KiB, each
 * realloc a copy) copied every byte about 1.5 times more — a fifth of a
 * consumer's time. So the buffer is not shrunk after a read that took a big
 * frame or ends inside one; the first read of small frames only gives the
 * memory back. */
static bool big_frame_next(const rk_frames_t *f, size_t keep)
{
    size_t pending = rk_frames_pending(f);
    return pending >= 4 && (size_t)rk_be_get32(f->buf.data + f->start) + 4 > keep;
}

/* Hands a decoded command to whoever waits for it (or to a processor, for a
 * server push). false when the channel closed meanwhile: stop reading. */
static bool deliver(chan_t *ch, rk_cmd_t *resp)
{
    if (!rk_cmd_is_response(resp)) {
        serve_push(ch, resp);   /* a request from the server */
        return !ch->closing;
    }
    op_t **pp = &ch->pending, *prev = NULL;
    while (*pp && (*pp)->req->opaque != resp->opaque) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp == NULL) {
        rk_log_debug("rclient", "%s: late response %d dropped", ch->addr, resp->opaque);
        rk_cmd_free(resp);
        return true;
    }
    op_t *op = *pp;
    *pp = op->next;
    if (ch->pending_tail == op)
        ch->pending_tail = prev;
    op->cb(op->arg, RK_OK, resp);
    rk_cmd_free(op->req);
    free(op);
    return !ch->closing;        /* the callback's next request may have failed and closed it */
}

/* Zero-copy reads of big bodies. A consumer's pull answer (256 messages of
 * 1 KiB: ~300 KiB) used to cross memory three times after the kernel's copy:
 * socket -> rbuf, rbuf -> the frame buffer, frame buffer -> the command's
 * body. Once the header of a frame whose body is at least RK__DIRECT_BODY_MIN
 * bytes has arrived, the body gets the block it will end up in (the
 * command's body, which its user may take over) and on_alloc gives libuv the
 * rest of that block to read into; the header waits alone in frames. The
 * bytes of the body that came with the header are copied once; the rest are
 * written by the kernel where they stay. A connection holds less than
 * before: the body block (exactly its size, bounded by the frame maximum
 * checked first) and the header, instead of a frame buffer grown by doubling
 * to hold the whole frame plus the body's copy. */

/* If frames' pending bytes are the start of a frame with a big body and its
 * whole header, moves the body bytes into a block of their own and leaves
 * the header alone in frames: 0 (ch->body set, or not a big frame), or an
 * error (close the channel). */
static int direct_body_start(chan_t *ch)
{
    size_t body_len, here, cap;
    int rc = rk_frames_big_body(&ch->frames, RK__DIRECT_BODY_MIN, &body_len, &here);
    if (rc <= 0)
        return rc;
    uint8_t *body = body_block(ch->cl, body_len, &cap);
    if (body == NULL)
        return RK_ENOMEM;
    rk_frames_split_body(&ch->frames, body);
    ch->body = body;
    ch->body_len = body_len;
    ch->body_cap = cap;
    ch->body_got = here;
    return RK_OK;
}

/* The body read straight into its block is complete: decode the header that
 * waited in frames, give the command the body, deliver it. */
static void direct_body_done(chan_t *ch)
{
    uint8_t *body = ch->body;
    size_t body_len = ch->body_len;
    ch->body = NULL;
    ch->body_len = ch->body_got = 0;
    rk_cmd_t *resp;
    if (rk_frames_join_body(&ch->frames, body, body_len, &resp) != RK_OK) {
        rk_log_warn("rclient", "%s: malformed frame, closing", ch->addr);
        chan_close(ch, RK_EPROTO);
        return;
    }
    resp->body_cap = ch->body_cap;
    ch->head_read = true;
    if (deliver(ch, resp))
        rk_frames_shrink(&ch->frames, 2 * sizeof ch->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    chan_t *ch = st->data;
    if (n < 0) {
        chan_close(ch, RK_ECLOSED);
        return;
    }
    if (ch->body != NULL && buf->base == (char *)ch->body + ch->body_got) {
        ch->body_got += (size_t)n;
        if (ch->body_got == ch->body_len)
            direct_body_done(ch);
        return;
    }
    if (n == 0)                 /* EAGAIN: nothing read, keep waiting as we were */
        return;
    ch->head_read = false;
    if (rk_frames_feed(&ch->frames, ch->rbuf, (size_t)n) != RK_OK) {
        chan_close(ch, RK_ENOMEM);
        return;
    }
    const uint8_t *frame;
    size_t len, keep = 2 * sizeof ch->rbuf;
    bool big = false;                   /* a frame of this read was longer than keep */
    int rc;
    while ((rc = rk_frames_next(&ch->frames, &frame, &len)) == 1) {
        big = big || len + 4 > keep;
        rk_cmd_t *resp;
        if (rk_cmd_decode(frame, len, &resp) != RK_OK) {
            rk_log_warn("rclient", "%s: malformed frame, closing", ch->addr);
            chan_close(ch, RK_EPROTO);
            return;
        }
        if (!deliver(ch, resp))
            return;
    }
    if (rc == 0)
        rc = direct_body_start(ch);
    if (rc < 0)
        chan_close(ch, rc == RK_ENOMEM ? RK_ENOMEM : RK_EPROTO);
    else if (!big && !big_frame_next(&ch->frames, keep))
        rk_frames_shrink(&ch->frames, keep);
}

static void on_connect(uv_connect_t *req, int status)
{
    chan_t *ch = req->data;
    if (ch->closing)
        return;
    if (status < 0) {
        rk_log_debug("rclient", "connect %s: %s", ch->addr, uv_strerror(status));
        chan_close(ch, status);
        return;
    }
    ch->connected = true;
    uv_tcp_nodelay(&ch->tcp, 1);
    uv_read_start((uv_stream_t *)&ch->tcp, on_alloc, on_read);
    op_t *w = ch->waiting;
    ch->waiting = NULL;
    /* Keep request order: the waiting list is newest first. */
    op_t *rev = NULL;
    while (w) {
        op_t *n = w->next;
        w->next = rev;
        rev = w;
        w = n;
    }
    for (op_t *op = rev, *next; op != NULL && !ch->closing; op = next) {
        next = op->next;
        chan_send(ch, op);
    }
}

/* "host:port" -> host and port; RK_EINVAL unless the port is 1..65535. */
static int split_addr(const char *addr, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon == addr || (size_t)(colon - addr) >= hostlen)
        return RK_EINVAL;
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || p < 1 || p > 65535)
        return RK_EINVAL;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    *port = (int)p;
    return RK_OK;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    chan_t *ch = req->data;
    ch->resolving = false;
    if (!ch->closing) {
        const struct addrinfo *ai = res;
        while (ai != NULL && ai->ai_family != AF_INET)
            ai = ai->ai_next;
        int rc = status < 0 ? status : ai == NULL ? UV_EAI_ADDRFAMILY : 0;
        if (rc != 0) {
            rk_log_warn("rclient", "cannot resolve the host name in %s: %s", ch->addr, uv_strerror(rc));
            chan_close(ch, RK_ENOTFOUND);
        } else if ((rc = uv_tcp_connect(&ch->connect, &ch->tcp, ai->ai_addr, on_connect)) != 0) {
            chan_close(ch, rc);     /* as for a numeric address (chan_get) */
        }
    }
    uv_freeaddrinfo(res);
    chan_unref(ch);
}

/* The channel to addr, opened if needed: an IPv4 address connects at once,
 * a host name is looked up first with uv_getaddrinfo (libuv runs it on its
 * worker pool, so the loop never blocks) and again each time the channel is
 * reopened. Requests wait in `waiting` meanwhile. */
static chan_t *chan_get(rk_rclient_t *c, const char *addr, int *err)
{
    for (chan_t *ch = c->chans; ch; ch = ch->next)
        if (strcmp(ch->addr, addr) == 0)
            return ch;
    char host[64];
    int port;
    struct sockaddr_in sa;
    if (split_addr(addr, host, sizeof host, &port) != RK_OK) {
        *err = RK_EINVAL;
        return NULL;
    }
    bool numeric = uv_ip4_addr(host, port, &sa) == 0;
    chan_t *ch = calloc(1, sizeof *ch);
    if (ch == NULL) {
        *err = RK_ENOMEM;
        return NULL;
    }
    snprintf(ch->addr, sizeof ch->addr, "%s", addr);
    ch->cl = c;
    ch->refs = 1;
    rk_frames_init(&ch->frames, 0);
    uv_tcp_init(&c->loop, &ch->tcp);
    ch->tcp.data = ch;
    ch->connect.data = ch;
    ch->resolve.data = ch;
    ch->next = c->chans;
    c->chans = ch;
    int rc;
    if (numeric) {
        rc = uv_tcp_connect(&ch->connect, &ch->tcp, (struct sockaddr *)&sa, on_connect);
    } else {
        char service[8];
        snprintf(service, sizeof service, "%d", port);
        struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
        ch->refs++;
        ch->resolving = true;
        rc = uv_getaddrinfo(&c->loop, &ch->resolve, on_resolved, host, service, &hints);
        if (rc != 0) {
            ch->refs--;
            ch->resolving = false;
        }
    }
    if (rc != 0) {
        chan_close(ch, rc);
        *err = rc;
        return NULL;
    }
    return ch;
}

static void on_async(uv_async_t *a)
{
    rk_rclient_t *c = a->data;
    uv_mutex_lock(&c->mu);
    op_t *ops = c->inbox;
    c->inbox = c->inbox_tail = NULL;
    bool stopping = c->stopping;
    uv_mutex_unlock(&c->mu);
    for (op_t *op = ops, *next; op != NULL; op = next) {
        next = op->next;
        op->next = NULL;
        int err = RK_ECLOSED;
        chan_t *ch = stopping ? NULL : chan_get(c, op->addr, &err);
        if (ch == NULL) {
            op_fail(op, err);
        } else if (ch->connected) {
            chan_send(ch, op);
        } else {
            op->next = ch->waiting;
            ch->waiting = op;
        }
    }
    if (stopping) {
        while (c->chans)
            chan_close(c->chans, RK_ECLOSED);
        on_out_flush(c);        /* drops the list's references */
        uv_close((uv_handle_t *)&c->out_prepare, NULL);
        uv_close((uv_handle_t *)&c->out_check, NULL);
        uv_close((uv_handle_t *)&c->sweep, NULL);
        uv_close((uv_handle_t *)&c->async, NULL);
    }
}

static void on_sweep(uv_timer_t *t)
{
    rk_rclient_t *c = t->data;
    uint64_t now = rk_mono_ms();
    pool_trim(c);
    for (chan_t *ch = c->chans; ch; ch = ch->next) {
        for (op_t **lists[2] = {&ch->waiting, &ch->pending}, ***l = lists; l < lists + 2; l++)
            for (op_t **pp = *l; *pp;) {
                op_t *op = *pp;
                if (now >= op->deadline) {
                    *pp = op->next;
                    op_fail(op, RK_ETIMEDOUT);
                } else {
                    pp = &op->next;
                }
            }
        ch->pending_tail = ch->pending;
        while (ch->pending_tail != NULL && ch->pending_tail->next != NULL)
            ch->pending_tail = ch->pending_tail->next;
    }
}

static void loop_main(void *arg)
{
    rk_rclient_t *c = arg;
    (void)rk_thread_init("rk-client-net", RK_THREAD_NORMAL);
    rk__block_sigpipe();
    uv_run(&c->loop, UV_RUN_DEFAULT);
}

int rk_rclient_new(rk_rclient_t **out)
{
    rk_rclient_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return RK_ENOMEM;
    if (rk_idle_pool_init(&c->pool, BODY_POOL_MAX, free) != RK_OK) {
        free(c);
        return RK_ENOMEM;
    }
    if (uv_loop_init(&c->loop) != 0 || uv_mutex_init(&c->mu) != 0) {
        rk_idle_pool_destroy(&c->pool);
        free(c);
        return RK_ENOMEM;
    }
    uv_async_init(&c->loop, &c->async, on_async);
    c->async.data = c;
    uv_timer_init(&c->loop, &c->sweep);
    c->sweep.data = c;
    uv_timer_start(&c->sweep, on_sweep, 10, 10);
    uv_prepare_init(&c->loop, &c->out_prepare);
    c->out_prepare.data = c;
    uv_prepare_start(&c->out_prepare, on_out_prepare);
    uv_check_init(&c->loop, &c->out_check);
    c->out_check.data = c;
    uv_check_start(&c->out_check, on_out_check);
    atomic_init(&c->next_opaque, 1);
    if (uv_thread_create(&c->thread, loop_main, c) != 0) {
        uv_close((uv_handle_t *)&c->async, NULL);
        uv_close((uv_handle_t *)&c->sweep, NULL);
        uv_close((uv_handle_t *)&c->out_prepare, NULL);
        uv_close((uv_handle_t *)&c->out_check, NULL);
        uv_run(&c->loop, UV_RUN_DEFAULT);
        uv_loop_close(&c->loop);
        uv_mutex_destroy(&c->mu);
        rk_idle_pool_destroy(&c->pool);
        free(c);
        return RK_ENOMEM;
    }
    *out = c;
    return RK_OK;
}

void rk_rclient_free(rk_rclient_t *c)
{
    if (c == NULL)
        return;
    uv_mutex_lock(&c->mu);
    c->stopping = true;
    uv_mutex_unlock(&c->mu);
    uv_async_send(&c->async);
    uv_thread_join(&c->thread);
    if (uv_loop_close(&c->loop) != 0)
        rk_log_warn("rclient", "loop closed with handles open");
    uv_mutex_destroy(&c->mu);
    rk_idle_pool_destroy(&c->pool);
    free(c);
}

static int submit_cmd(rk_rclient_t *c, const char *addr, rk_cmd_t *req, int timeout_ms, rk_invoke_cb cb,
                      void *arg, bool response);

static int submit(rk_rclient_t *c, const char *addr, rk_cmd_t *req, int timeout_ms, rk_invoke_cb cb,
                  void *arg)
{
    return submit_cmd(c, addr, req, timeout_ms, cb, arg, false);
}

/* response: req is a response to a server push (rk_rclient_respond): its
 * opaque and flag are kept. */
static int submit_cmd(rk_rclient_t *c, const char *addr, rk_cmd_t *req, int timeout_ms, rk_invoke_cb cb,
                      void *arg, bool response)
{
    op_t *op = calloc(1, sizeof *op);
    if (op == NULL || strlen(addr) >= sizeof op->addr) {
        free(op);
        rk_cmd_free(req);
        return op ? RK_EINVAL : RK_ENOMEM;
    }
    memcpy(op->addr, addr, strlen(addr) + 1);       /* fits: checked above */
    if (!response && c->before_fn != NULL) {     /* a response to a server push is not signed */
        int rc = c->before_fn(c->before_ctx, addr, req);
        if (rc != 0) {
            free(op);
            rk_cmd_free(req);
            return rc;
        }
    }
    if (!response) {
        req->opaque = atomic_fetch_add(&c->next_opaque, 1);
        req->flag &= ~RK_CMD_RESPONSE;
    }
    op->req = req;
    op->cb = cb;
    op->arg = arg;
    op->deadline = rk_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 3000);
    uv_mutex_lock(&c->mu);
    if (c->stopping) {
        uv_mutex_unlock(&c->mu);
        rk_cmd_free(req);
        free(op);
        return RK_ECLOSED;
    }
    if (c->inbox_tail) c->inbox_tail->next = op; else c->inbox = op;
    c->inbox_tail = op;
    uv_mutex_unlock(&c->mu);
    uv_async_send(&c->async);
    return RK_OK;
}

int rk_rclient_invoke_async(rk_rclient_t *c, const char *addr, rk_cmd_t *req, int timeout_ms,
                            rk_invoke_cb cb, void *arg)
{
    if (cb == NULL) {
        rk_cmd_free(req);
        return RK_EINVAL;
    }
    return submit(c, addr, req, timeout_ms, cb, arg);
}

int rk_rclient_invoke_oneway(rk_rclient_t *c, const char *addr, rk_cmd_t *req)
{
    req->flag |= RK_CMD_ONEWAY;
    return submit(c, addr, req, 3000, NULL, NULL);
}

/* A synchronous call's completion: the network thread stores the outcome and
 * posts the semaphore; the caller waits on it. A semaphore is one futex word:
 * the post wakes the caller only if it already sleeps, and the caller wakes
 * holding nothing. (A mutex and condition variable made each answer a
 * hand-off: the woken caller blocked on the mutex the network thread still
 * held, and was woken a second time: 7 futex calls per send, a third of the
 * SDK network thread's time at 6 000 synchronous sends a second.) */
typedef struct {
    uv_sem_t sem;
    int status;
    rk_cmd_t *resp;
} sync_t;

static void sync_cb(void *arg, int status, rk_cmd_t *resp)
{
    sync_t *s = arg;
    s->status = status;
    s->resp = resp;
    uv_sem_post(&s->sem);       /* last touch of s: the caller may return at once */
}

bool rk_rclient_on_loop(const rk_rclient_t *c)
{
    uv_thread_t self = uv_thread_self();
    return uv_thread_equal(&self, &c->thread);
}

int rk_rclient_invoke_sync(rk_rclient_t *c, const char *addr, rk_cmd_t *req, int timeout_ms,
                           rk_cmd_t **resp)
{
    *resp = NULL;
    if (rk_rclient_on_loop(c)) {
        /* the answer would need this very thread: waiting here would hang forever */
        rk_log_warn("rclient", "synchronous request %d from the network thread refused (use the async call)",
                    req->code);
        rk_cmd_free(req);
        return RK_EBUSY;
    }
    sync_t s = {.status = RK_OK};
    if (uv_sem_init(&s.sem, 0) != 0) {
        rk_cmd_free(req);
        return RK_ENOMEM;
    }
    int rc = submit(c, addr, req, timeout_ms, sync_cb, &s);
    if (rc == RK_OK) {
        uv_sem_wait(&s.sem);    /* the callback runs exactly once (timeouts included) */
        rc = s.status;
        *resp = s.resp;
    }
    uv_sem_destroy(&s.sem);
    return rc;
}

int rk_rclient_respond(rk_rclient_t *c, const char *addr, const rk_cmd_t *req, rk_cmd_t *resp)
{
    if (resp == NULL)
        return RK_EINVAL;
    if (rk_cmd_is_oneway(req)) {
        rk_cmd_free(resp);
        return RK_OK;
    }
    resp->opaque = req->opaque;
    resp->flag = (resp->flag | RK_CMD_RESPONSE) & ~RK_CMD_ONEWAY;
    resp->ser_type = req->ser_type;
    return submit_cmd(c, addr, resp, 3000, NULL, NULL, true);
}
