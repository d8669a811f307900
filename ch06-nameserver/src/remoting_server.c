/* remoting_server.c — libuv TCP server with a processor table (see rk/remoting_server.h). */
#include "rk/remoting_server.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/request_code.h"
#include "rk/thread.h"
#include "remoting_io.h"


#define LIMIT(f) offsetof(rk_rserver_limits_t, f)
const rk_config_field_t rk_rserver_limit_fields[] = {
    {"serverMaxConnections", RK_CFG_INT, LIMIT(max_connections), "0", 0, 1000000, NULL,
     "open connections at most; more are refused with a log line (0: the fd limit minus a reserve)"},
    {"serverConnectionMaxPendingBytes", RK_CFG_INT, LIMIT(max_pending_bytes), "4m", 65536, 1073741824, NULL,
     "stop reading a connection whose unsent replies pass this (back-pressure)"},
    {"serverMaxBufferedInput", RK_CFG_INT, LIMIT(max_input_bytes), "256m", 1048576, 68719476736, NULL,
     "partial frames of all connections together; over it they wait"},
    {"serverFrameTimeoutMillis", RK_CFG_INT, LIMIT(frame_timeout_ms), "30000", -1, 86400000, NULL,
     "close a connection whose frame is not complete this long after it began (-1 never)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};
#undef LIMIT

void rk_rserver_config_set_limits(rk_rserver_config_t *sc, const rk_rserver_limits_t *l)
{
    sc->max_conns = (int)l->max_connections;
    sc->max_out_bytes = (size_t)l->max_pending_bytes;
    sc->max_in_bytes = (size_t)l->max_input_bytes;
    sc->frame_timeout_ms = l->frame_timeout_ms;
}
#define MAX_PROCESSORS 128
#define MAX_HOOKS 8
#define MAX_TASKS 8
#define READ_CHUNK 65536
#define OUT_MAX_DEFAULT ((size_t)4 << 20)
#define IN_MAX_DEFAULT ((size_t)256 << 20)
#define FRAME_TIMEOUT_DEFAULT 30000

typedef struct {
    int32_t code;
    rk_processor_fn fn;
    void *ctx;
    int flags;
} proc_t;

typedef struct {
    uv_timer_t timer;
    uint64_t period;
    void (*fn)(void *);
    void *ctx;
} task_t;

typedef struct push {
    int32_t opaque;
    uint64_t deadline;
    rk_push_cb cb;
    void *arg;
    struct push *next;
} push_t;

struct rk_conn {
    uv_tcp_t tcp;
    push_t *pushes;             /* requests we sent this client, awaiting answers */
    rk_rserver_t *srv;
    uint64_t id;
    char peer[64];
    rk_host_t peer_host;        /* peer, parsed at accept */
    bool peer_host_ok;
    rk_frames_t frames;
    uint8_t *body;              /* a big frame's body being read straight into its own block */
    size_t body_len, body_got;  /* (its header waits, alone, in frames: see direct_body_start) */
    bool head_read;             /* a big body just ended: read the next header in a small piece */
    uint64_t last_active;       /* mono ms of the last whole frame (or the accept) */
    uint64_t frame_start;       /* mono ms the partial frame in `frames` began; 0: none */
    size_t out_seen;            /* write queue size last counted into the server's total */
    size_t in_held;             /* frames buffer capacity last counted into the total */
    size_t inflight;            /* bytes of this connection's requests being processed */
    int refs;                   /* loop thread only: handle + outstanding replies */
    bool closing;
    bool reading;               /* uv_read_start is in effect */
    bool paused_out;            /* not read: its replies (or requests) pile up */
    bool paused_in;             /* not read: the server's input budget is used up */
    bool pumping;               /* inside conn_pump (processors may re-enter) */
    bool paused_counted;        /* counted in st_paused */
    bool needs_pump;            /* resumed with whole frames buffered: pump_timer runs them */
    bool out_listed;            /* in the server's out list (holds a reference) */
    rk_buf_t out;               /* frames made this loop turn, written at its end (rk__out_flush) */
    rk_conn_t *out_next;
    void *data;
    rk_conn_t *prev, *next;
};

struct rk_reply {
    rk_conn_t *conn;
    rk_cmd_t *req;
    rk_cmd_t *resp;
    rk_iov_t *iov;              /* zero-copy body, or NULL */
    int niov;
    void (*release)(void *);
    void *release_arg;
    size_t req_bytes;           /* the request's frame size, counted in conn->inflight */
    rk_processor_fn slow_fn;    /* what runs on the worker pool (SLOW, or rk_reply_defer) */
    void *slow_ctx;
    uv_work_t work;
    bool in_pool;               /* libuv still owns `work`: free only after slow_done */
    bool answered;              /* completed while in_pool */
    rk_reply_t *qnext;          /* cross-thread completion queue */
};

struct post {
    void (*fn)(void *);
    void *arg;
    struct post *next;
};

struct rk_rserver {
    rk_rserver_config_t cfg;
    char host[64], name[32];
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t async;
    uv_timer_t idle_timer;      /* idle connections and push timeouts */
    uv_timer_t pump_timer;      /* runs the frames of connections the input budget let go */
    uv_prepare_t out_prepare;   /* both write every connection's batched output: */
    uv_check_t out_check;       /* before the loop sleeps, and after each round of I/O */
    rk_conn_t *out_head;        /* connections with batched output */
    int32_t next_push_opaque;
    uv_thread_t thread;
    uv_thread_t loop_tid;
    _Atomic bool running;       /* written by the owner thread, read by the loop */
    bool stopping, async_closed;
    proc_t procs[MAX_PROCESSORS];
    int nprocs;
    rk_access_check_fn access_fn;   /* rk_rserver_set_access_check */
    void *access_ctx;
    struct { void (*fn)(void *, rk_conn_t *); void *ctx; } hooks[MAX_HOOKS];
    int nhooks;
    struct { void (*fn)(void *); void *ctx; } turn_hooks[MAX_HOOKS];
    int nturn_hooks;
    task_t tasks[MAX_TASKS];
    int ntasks;
    rk_conn_t *conns;
    uint64_t next_id;
    int outstanding;            /* replies not yet completed (loop thread) */
    uv_mutex_t qmu;             /* guards the completion queue and the posts */
    rk_reply_t *qhead, *qtail;
    struct post *posts;
    int bound_port;
    int nconns;
    int npaused_in;             /* connections waiting for the input budget */
    uint64_t last_refuse_log, last_accept_err_log, last_budget_log;
    /* counters for rk_rserver_stats (written on the loop thread, read anywhere) */
    _Atomic int64_t st_conns, st_out, st_in, st_inflight, st_paused;
    _Atomic uint64_t st_refused, st_frame_timeouts;
    char rbuf[READ_CHUNK];      /* every read lands here and is fed to a splitter at once */
};

/* ------------------------------------------------------------ setup */

int rk_rserver_new(const rk_rserver_config_t *cfg, rk_rserver_t **out)
{
    rk_rserver_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return RK_ENOMEM;
    s->cfg = *cfg;
    snprintf(s->host, sizeof s->host, "%s", cfg->host ? cfg->host : "0.0.0.0");
    snprintf(s->name, sizeof s->name, "%s", cfg->name ? cfg->name : "remoting");
    if (s->cfg.max_frame == 0)
        s->cfg.max_frame = RK_FRAME_MAX_DEFAULT;
    if (s->cfg.max_out_bytes == 0)
        s->cfg.max_out_bytes = OUT_MAX_DEFAULT;
    if (s->cfg.max_in_bytes == 0)
        s->cfg.max_in_bytes = IN_MAX_DEFAULT;
    if (s->cfg.max_in_bytes < 2 * s->cfg.max_frame)     /* else one big frame could never pass */
        s->cfg.max_in_bytes = 2 * s->cfg.max_frame;
    if (s->cfg.frame_timeout_ms == 0)
        s->cfg.frame_timeout_ms = FRAME_TIMEOUT_DEFAULT;
    if (s->cfg.max_conns == 0) {
        struct rlimit rl;
        rlim_t nofile = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
        if (nofile == RLIM_INFINITY || nofile > 1000000)
            nofile = 1000000;
        rlim_t reserve = nofile / 4 < 64 ? 64 : nofile / 4 > 4096 ? 4096 : nofile / 4;
        s->cfg.max_conns = nofile > reserve + 16 ? (int)(nofile - reserve) : 16;
    }
    if (uv_mutex_init(&s->qmu) != 0) {
        free(s);
        return RK_ENOMEM;
    }
    *out = s;
    return RK_OK;
}

int rk_rserver_register(rk_rserver_t *s, int32_t code, rk_processor_fn fn, void *ctx, int flags)
{
    for (int i = 0; i < s->nprocs; i++)
        if (s->procs[i].code == code)
            return RK_EEXIST;
    if (s->nprocs == MAX_PROCESSORS)
        return RK_EFULL;
    s->procs[s->nprocs++] = (proc_t){code, fn, ctx, flags};
    return RK_OK;
}

int rk_rserver_set_access_check(rk_rserver_t *s, rk_access_check_fn fn, void *ctx)
{
    s->access_fn = fn;
    s->access_ctx = ctx;
    return RK_OK;
}

int rk_rserver_on_close(rk_rserver_t *s, void (*fn)(void *, rk_conn_t *), void *ctx)
{
    if (s->nhooks == MAX_HOOKS)
        return RK_EFULL;
    s->hooks[s->nhooks].fn = fn;
    s->hooks[s->nhooks++].ctx = ctx;
    return RK_OK;
}

int rk_rserver_on_turn(rk_rserver_t *s, void (*fn)(void *), void *ctx)
{
    if (s->nturn_hooks == MAX_HOOKS)
        return RK_EFULL;
    s->turn_hooks[s->nturn_hooks].fn = fn;
    s->turn_hooks[s->nturn_hooks++].ctx = ctx;
    return RK_OK;
}

int rk_rserver_every(rk_rserver_t *s, uint64_t period_ms, void (*fn)(void *), void *ctx)
{
    if (s->ntasks == MAX_TASKS)
        return RK_EFULL;
    s->tasks[s->ntasks++] = (task_t){.period = period_ms, .fn = fn, .ctx = ctx};
    return RK_OK;
}

int rk_rserver_port(const rk_rserver_t *s) { return s->bound_port; }
const char *rk_conn_peer(const rk_conn_t *c) { return c->peer; }
const rk_host_t *rk_conn_peer_host(const rk_conn_t *c) { return c->peer_host_ok ? &c->peer_host : NULL; }
uint64_t rk_conn_id(const rk_conn_t *c) { return c->id; }
void *rk_conn_data(const rk_conn_t *c) { return c->data; }
void rk_conn_set_data(rk_conn_t *c, void *data) { c->data = data; }
const rk_cmd_t *rk_reply_request(const rk_reply_t *r) { return r->req; }

/* ------------------------------------------------------------ connections */

/* Brings the server's totals up to date with this connection's write queue
 * and input buffer (loop thread). */
static void conn_account(rk_conn_t *c)
{
    rk_rserver_t *s = c->srv;
    size_t out = c->closing ? 0 : uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) + c->out.len;
    size_t in = c->frames.buf.cap + (c->body != NULL ? c->body_len : 0);
    atomic_fetch_add(&s->st_out, (int64_t)out - (int64_t)c->out_seen);
    atomic_fetch_add(&s->st_in, (int64_t)in - (int64_t)c->in_held);
    c->out_seen = out;
    c->in_held = in;
}

static void budget_check(rk_rserver_t *s);

static void conn_unref(rk_conn_t *c)
{
    if (--c->refs > 0)
        return;
    rk_frames_free(&c->frames);
    free(c->body);
    c->body = NULL;
    rk_buf_free(&c->out);
    conn_account(c);            /* closing: both back to 0 */
    rk_rserver_t *s = c->srv;
    free(c);
    budget_check(s);
}

/* ------------------------------------------------------------ flow control
 *
 * A connection is read only while it may add work: it is paused (uv_read_stop)
 * when its unsent replies or its requests in processing pass max_out_bytes
 * (paused_out, until both are under half), or while the input held for all
 * connections is over max_in_bytes (paused_in, until under 3/4). Nothing is
 * dropped: replies still queue, buffered frames wait and run on resume. */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void conn_pump(rk_conn_t *c);

/* At most one line a second for each kind of flood. */
static bool log_due(uint64_t *last)
{
    uint64_t now = rk_mono_ms();
    if (*last != 0 && now - *last < 1000)
        return false;
    *last = now;
    return true;
}

static bool out_over(const rk_conn_t *c)
{
    size_t hi = c->srv->cfg.max_out_bytes;
    return c->out_seen > hi || c->inflight > hi;
}

static bool out_under(const rk_conn_t *c)
{
    size_t lo = c->srv->cfg.max_out_bytes / 2;
    return c->out_seen <= lo && c->inflight <= lo;
}

static int64_t in_used(rk_rserver_t *s) { return atomic_load(&s->st_in) + atomic_load(&s->st_inflight); }

/* Reads c exactly when nothing pauses it; keeps the paused count. */
static void conn_set_reading(rk_conn_t *c)
{
    rk_rserver_t *s = c->srv;
    bool paused = !c->closing && (c->paused_out || c->paused_in);
    if (paused != c->paused_counted) {
        atomic_fetch_add(&s->st_paused, paused ? 1 : -1);
        c->paused_counted = paused;
    }
    bool want = !c->closing && !paused;
    if (want && !c->reading) {
        int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        if (rc != 0) {
            rk_log_error(s->name, "%s: cannot read (%s), closing", c->peer, uv_strerror(rc));
            rk_conn_close(c);
            return;
        }
        c->reading = true;
    } else if (!want && c->reading) {
        if (!c->closing)
            uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

/* Over the input budget: every connection with a partial frame waits. */
static void budget_enforce(rk_rserver_t *s)
{
    int waiting = 0;
    for (rk_conn_t *c = s->conns; c != NULL; c = c->next)
        if (!c->closing && !c->paused_in && rk_frames_pending(&c->frames) > 0) {
            c->paused_in = true;
            s->npaused_in++;
            conn_set_reading(c);
            waiting++;
        }
    if (waiting > 0 && log_due(&s->last_budget_log))
        rk_log_warn(s->name, "input budget of %zu bytes used up (%lld held): %d connection(s) with buffered "
                    "input wait; a frame not completed in %lld ms closes its connection",
                    s->cfg.max_in_bytes, (long long)in_used(s), s->npaused_in, (long long)s->cfg.frame_timeout_ms);
}

static void on_pump_timer(uv_timer_t *t)
{
    rk_rserver_t *s = t->data;
    for (rk_conn_t *c = s->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (c->needs_pump) {
            c->needs_pump = false;
            conn_pump(c);
        }
    }
}

/* Under 3/4 of the budget again: the waiting connections read on, and the
 * whole frames they hold run soon (not from here: we may be inside a pump). */
static void budget_check(rk_rserver_t *s)
{
    if (s->npaused_in == 0 || s->stopping || in_used(s) > (int64_t)(s->cfg.max_in_bytes / 4 * 3))
        return;
    bool pump = false;
    for (rk_conn_t *c = s->conns; c != NULL; c = c->next)
        if (c->paused_in) {
            c->paused_in = false;
            s->npaused_in--;
            conn_set_reading(c);
            if (!c->closing && rk_frames_pending(&c->frames) > 0)
                pump = c->needs_pump = true;
        }
    if (pump)
        uv_timer_start(&s->pump_timer, on_pump_timer, 0, 0);
}

/* Replies were written or requests answered: resume a connection paused for
 * its backlog once it is under the low-water mark. */
static void conn_maybe_resume(rk_conn_t *c)
{
    if (c->closing)
        return;
    conn_account(c);
    if (c->paused_out && out_under(c)) {
        c->paused_out = false;
        if (c->pumping)
            return;             /* the pump we are inside goes on by itself */
        conn_pump(c);           /* frames that waited in the buffer first */
    }
}

static void on_conn_closed(uv_handle_t *h)
{
    rk_conn_t *c = h->data;
    conn_unref(c);
}

static int conn_flush_out(rk_conn_t *c);

void rk_conn_close(rk_conn_t *c)
{
    if (c->closing)
        return;
    conn_flush_out(c);          /* what was answered goes out first, as if written at once */
    c->closing = true;
    rk_rserver_t *s = c->srv;
    if (c->paused_in) {
        c->paused_in = false;
        s->npaused_in--;
    }
    conn_set_reading(c);        /* settles the paused count */
    for (int i = 0; i < s->nhooks; i++)
        s->hooks[i].fn(s->hooks[i].ctx, c);
    for (push_t *p = c->pushes, *next; p != NULL; p = next) {
        next = p->next;
        p->cb(p->arg, RK_ECLOSED, NULL);
        free(p);
    }
    c->pushes = NULL;
    s->nconns--;
    atomic_fetch_sub(&s->st_conns, 1);
    if (c->prev) c->prev->next = c->next; else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_out_progress(uv_stream_t *stream)
{
    rk_conn_t *c = stream->data;
    conn_maybe_resume(c);
}

/* Output is batched: every frame made during a loop turn is appended to its
 * connection's buffer, and the buffers are written at the end of the turn,
 * one write per connection (rk__out_flush). */
#define OUT_FLUSH_AT ((size_t)256 << 10)    /* a buffer this big is written at once */

/* Hands c's batched bytes to libuv: 0, or the error (c is not closed here). */
static int conn_flush_out(rk_conn_t *c)
{
    if (c->closing || c->out.len == 0)
        return 0;
    return rk__out_flush((uv_stream_t *)&c->tcp, &c->out, on_out_progress);
}

static void conn_write_failed(rk_conn_t *c, int rc)
{
    rk_log_error(c->srv->name, "%s: cannot send (%s), closing", c->peer, rc < -4095 ? rk_strerror(rc) : uv_strerror(rc));
    rk_conn_close(c);
}

static void on_out_flush(rk_rserver_t *s)
{
    for (int i = 0; i < s->nturn_hooks; i++)
        s->turn_hooks[i].fn(s->turn_hooks[i].ctx);
    while (s->out_head != NULL) {
        rk_conn_t *c = s->out_head;
        s->out_head = c->out_next;
        c->out_next = NULL;
        c->out_listed = false;
        int rc = conn_flush_out(c);
        if (rc != 0)
            conn_write_failed(c, rc);
        else if (!c->closing)
            conn_account(c);
        conn_unref(c);          /* the list's reference */
    }
}

static void on_out_prepare(uv_prepare_t *h) { on_out_flush(h->data); }
static void on_out_check(uv_check_t *h) { on_out_flush(h->data); }

static void conn_write_cmd(rk_conn_t *c, const rk_cmd_t *cmd)
{
    if (c->closing)
        return;
    int rc = rk__out_cmd(&c->out, cmd);
    if (rc == RK_OK && c->out.len >= OUT_FLUSH_AT)
        rc = conn_flush_out(c);
    if (rc == RK_OK && c->out.len > 0 && !c->out_listed) {
        c->out_listed = true;
        c->refs++;
        c->out_next = c->srv->out_head;
        c->srv->out_head = c;
    }
    conn_account(c);
    if (rc != RK_OK)
        conn_write_failed(c, rc);
}

/* ------------------------------------------------------------ replies */

static void maybe_close_async(rk_rserver_t *s);

typedef struct {
    uv_write_t req;
    uint8_t *head;
    void (*release)(void *);
    void *arg;
} iov_write_t;

static void on_iov_written(uv_write_t *w, int status)
{
    (void)status;
    iov_write_t *iw = (iov_write_t *)w;
    uv_stream_t *stream = w->handle;
    free(iw->head);
    if (iw->release)
        iw->release(iw->arg);
    free(iw);
    on_out_progress(stream);
}

/* Header from a buffer, body straight from the caller's memory; the
 * connection's batched output goes first, in the same write. */
static void conn_write_iov(rk_conn_t *c, rk_reply_t *r)
{
    size_t total = 0;
    for (int i = 0; i < r->niov; i++)
        total += r->iov[i].len;
    rk_buf_t head = {0};
    iov_write_t *iw = malloc(sizeof *iw);
    uv_buf_t *bufs = malloc(sizeof *bufs * (size_t)(r->niov + 1));
    int rc = iw && bufs && !c->closing ? RK_OK : RK_ECLOSED;
    if (rc == RK_OK) {
        size_t at = c->out.len;
        if ((rc = rk_cmd_encode_head(r->resp, total, &c->out)) == RK_OK) {
            head = c->out;      /* batched frames + this header: one buffer */
            memset(&c->out, 0, sizeof c->out);
        } else {
            c->out.len = at;
            c->out.err = 0;
        }
    }
    if (rc == RK_OK) {
        size_t hl;
        iw->head = rk_buf_detach(&head, &hl);
        iw->release = r->release;
        iw->arg = r->release_arg;
        bufs[0] = uv_buf_init((char *)iw->head, (unsigned)hl);
        for (int i = 0; i < r->niov; i++)
            bufs[i + 1] = uv_buf_init((char *)r->iov[i].base, (unsigned)r->iov[i].len);
        rc = uv_write(&iw->req, (uv_stream_t *)&c->tcp, bufs, (unsigned)(r->niov + 1), on_iov_written);
        if (rc != 0) {
            free(iw->head);
            rk_conn_close(c);
        }
        conn_account(c);
    }
    free(bufs);
    if (rc != RK_OK) {          /* nothing queued: release now */
        rk_buf_free(&head);
        free(iw);
        if (r->release)
            r->release(r->release_arg);
    }
}

static void complete_on_loop(rk_reply_t *r)
{
    rk_conn_t *c = r->conn;
    rk_rserver_t *s = c->srv;
    if (r->resp != NULL && !rk_cmd_is_oneway(r->req)) {
        r->resp->opaque = r->req->opaque;
        r->resp->flag |= RK_CMD_RESPONSE;
        r->resp->ser_type = r->req->ser_type;
        if (r->iov != NULL)
            conn_write_iov(c, r);
        else
            conn_write_cmd(c, r->resp);
        r->release = NULL;      /* handed to the write (or already released) */
    }
    if (r->release)
        r->release(r->release_arg);
    free(r->iov);
    rk_cmd_free(r->resp);
    rk_cmd_free(r->req);
    r->iov = NULL;
    r->resp = r->req = NULL;
    r->release = NULL;
    if (r->in_pool) {           /* the answer can overtake slow_done: r->work is still libuv's */
        r->answered = true;
        return;
    }
    c->inflight -= r->req_bytes;
    atomic_fetch_sub(&s->st_inflight, (int64_t)r->req_bytes);
    free(r);
    s->outstanding--;
    conn_maybe_resume(c);
    budget_check(s);
    conn_unref(c);
    maybe_close_async(s);
}

void rk_reply_send(rk_reply_t *r, rk_cmd_t *resp)
{
    rk_rserver_t *s = r->conn->srv;
    r->resp = resp;
    uv_thread_t self = uv_thread_self();
    if (uv_thread_equal(&self, &s->loop_tid)) {
        complete_on_loop(r);
        return;
    }
    r->qnext = NULL;
    uv_mutex_lock(&s->qmu);
    if (s->qtail) s->qtail->qnext = r; else s->qhead = r;
    s->qtail = r;
    uv_mutex_unlock(&s->qmu);
    uv_async_send(&s->async);
}

void rk_reply_send_iov(rk_reply_t *r, rk_cmd_t *resp, const rk_iov_t *iov, int n, void (*release)(void *arg),
                       void *arg)
{
    r->release = release;
    r->release_arg = arg;
    if (n > 0 && (r->iov = malloc(sizeof *r->iov * (size_t)n)) != NULL) {
        memcpy(r->iov, iov, sizeof *iov * (size_t)n);
        r->niov = n;
    }
    rk_reply_send(r, resp);
}

void rk_reply_code(rk_reply_t *r, int32_t code, const char *remark)
{
    rk_reply_send(r, rk_cmd_new_response(r->req, code, remark));
}

void rk_reply_codef(rk_reply_t *r, int32_t code, const char *fmt, ...)
{
    char remark[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(remark, sizeof remark, fmt, ap);
    va_end(ap);
    rk_reply_code(r, code, remark);
}

static void slow_work(uv_work_t *w)
{
    rk_reply_t *r = w->data;
    r->slow_fn(r->slow_ctx, r->conn, r->req, r);
}

static void slow_done(uv_work_t *w, int status)
{
    (void)status;   /* the reply completes itself through rk_reply_send */
    rk_reply_t *r = w->data;
    r->in_pool = false;
    if (r->answered)
        complete_on_loop(r);    /* only the freeing was left */
}

static void dispatch(rk_conn_t *c, rk_cmd_t *req, size_t bytes)
{
    rk_rserver_t *s = c->srv;
    if (rk_cmd_is_response(req)) {
        for (push_t **pp = &c->pushes; *pp != NULL; pp = &(*pp)->next)
            if ((*pp)->opaque == req->opaque) {
                push_t *p = *pp;
                *pp = p->next;
                p->cb(p->arg, RK_OK, req);
                free(p);
                return;
            }
        rk_log_debug(s->name, "%s: response %d to no request of ours, dropped", c->peer, req->opaque);
        rk_cmd_free(req);
        return;
    }
    const proc_t *p = NULL;
    for (int i = 0; i < s->nprocs && p == NULL; i++)
        if (s->procs[i].code == req->code)
            p = &s->procs[i];
    rk_reply_t *r = calloc(1, sizeof *r);
    if (r == NULL) {
        rk_cmd_free(req);
        return;
    }
    r->conn = c;
    r->req = req;
    r->req_bytes = bytes;
    c->inflight += bytes;
    atomic_fetch_add(&s->st_inflight, (int64_t)bytes);
    c->refs++;
    s->outstanding++;
    if (p == NULL) {
        char remark[64];
        snprintf(remark, sizeof remark, " request type %d not supported", req->code);
        rk_log_warn(s->name, "%s: request code %d not supported", c->peer, req->code);
        rk_reply_code(r, RK_RESP_REQUEST_CODE_NOT_SUPPORTED, remark);
        return;
    }
    if (s->access_fn != NULL) {
        char remark[512] = "";
        int32_t code = s->access_fn(s->access_ctx, c, req, remark, sizeof remark);
        if (code != 0) {
            rk_reply_code(r, code, remark);
            return;
        }
    }
    if (p->flags & RK_PROC_SLOW)
        rk_reply_defer(r, p->fn, p->ctx);
    else
        p->fn(p->ctx, c, req, r);
}

void rk_reply_defer(rk_reply_t *r, rk_processor_fn fn, void *ctx)
{
    r->slow_fn = fn;
    r->slow_ctx = ctx;
    r->work.data = r;
    r->in_pool = true;
    if (uv_queue_work(&r->conn->srv->loop, &r->work, slow_work, slow_done) == 0)
        return;
    r->in_pool = false;
    rk_reply_code(r, RK_RESP_SYSTEM_BUSY, "[OVERLOAD] cannot schedule the request");
}

/* ------------------------------------------------------------ loop callbacks */

/* Zero-copy reads of big request bodies (as the client does for big
 * answers, remoting_client.c). A batch of 64 messages of 1 KiB (70 KB)
 * crossed memory three times after the kernel's copy: socket -> rbuf, rbuf
 * -> the frame buffer, frame buffer -> the command's body (a fresh block the
 * decoder fills). Once the header of a frame whose body is at least
 * RK__DIRECT_BODY_MIN bytes has arrived, the body gets the block it ends up in
 * (the command's body) and on_alloc gives libuv the rest of that block; the
 * header waits alone in frames (so the frame timeout still sees a partial
 * frame). The body block counts in the input budget like the frame buffer.
 * The read after a big body takes at most RK__HEAD_READ bytes, so that the next
 * frame's header comes with a few KiB of its body to copy, not 64 KiB. */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    rk_conn_t *c = h->data;
    if (c->body != NULL)        /* the rest of a big body, and not a byte more */
        *buf = uv_buf_init((char *)c->body + c->body_got, (unsigned)(c->body_len - c->body_got));
    else                        /* one buffer for the whole server: each read is fed to its
                                 * splitter before the loop reads anything else */
        *buf = uv_buf_init(c->srv->rbuf, c->head_read ? RK__HEAD_READ : sizeof c->srv->rbuf);
}

/* If frames' pending bytes are the start of a frame with a big body and its
 * whole header, moves the body bytes that came into a block of their own and
 * leaves the header alone in frames: 0 (c->body set, or not a big frame), or
 * an error (close the connection). */
static int direct_body_start(rk_conn_t *c)
{
    size_t body_len, here;
    int rc = rk_frames_big_body(&c->frames, RK__DIRECT_BODY_MIN, &body_len, &here);
    if (rc <= 0)
        return rc;
    uint8_t *body = malloc(body_len);
    if (body == NULL)
        return RK_ENOMEM;
    rk_frames_split_body(&c->frames, body);
    c->body = body;
    c->body_len = body_len;
    c->body_got = here;
    return RK_OK;
}

/* Whether c may take its next frame now (conn_pump, direct_body_done):
 * not closing, not paused for its backlog or the server's input budget. */
static bool conn_may_take(rk_conn_t *c)
{
    rk_rserver_t *s = c->srv;
    conn_account(c);        /* replies from other threads count too */
    if (!c->closing && !c->paused_out && out_over(c)) {
        c->paused_out = true;
        rk_log_debug(s->name, "%s: %zu reply bytes unsent, %zu request bytes in processing: not read until "
                     "it drains", c->peer, c->out_seen, c->inflight);
    }
    if (c->closing || c->paused_out || c->paused_in)
        return false;
    if (in_used(s) > (int64_t)s->cfg.max_in_bytes) {
        budget_enforce(s);          /* no new work while over the budget: */
        if (c->paused_in)           /* this connection's frames wait too */
            return false;
    }
    return true;
}

/* Takes the whole frames buffered for c and dispatches them, until the
 * buffer holds only a partial frame or c is paused for its backlog; then
 * gives back memory and decides whether to read on. */
static void conn_pump(rk_conn_t *c)
{
    rk_rserver_t *s = c->srv;
    if (c->pumping || c->closing)
        return;
    c->pumping = true;
    c->refs++;      /* processors may close the connection mid-loop */
    const uint8_t *frame;
    size_t len;
    int rc = 0;
    bool incomplete = false;    /* stopped at a frame not all here */
    for (;;) {
        if (!conn_may_take(c))
            break;
        if ((rc = rk_frames_next(&c->frames, &frame, &len)) != 1) {
            incomplete = rc == 0;
            break;
        }
        c->last_active = rk_mono_ms();
        c->frame_start = 0;
        rk_cmd_t *req;
        int drc = rk_cmd_decode(frame, len, &req);
        if (drc == RK_ETOOBIG) {
            rk_log_warn(s->name, "%s: header over the limits (more than %d extFields, or too many values), "
                        "closing the connection", c->peer, RK_CMD_MAX_EXT_FIELDS);
            rk_conn_close(c);
            break;
        }
        if (drc != RK_OK) {
            rk_log_warn(s->name, "%s: malformed frame (%s), closing the connection", c->peer, rk_strerror(drc));
            rk_conn_close(c);
            break;
        }
        dispatch(c, req, 4 + len);
    }
    if (!c->closing && incomplete && c->body == NULL)
        rc = direct_body_start(c);
    if (!c->closing && rc == RK_ENOMEM) {
        rk_log_error(s->name, "%s: no memory for its input, closing the connection", c->peer);
        rk_conn_close(c);
    } else if (!c->closing && rc < 0) {
        rk_log_warn(s->name, "%s: %s, closing the connection", c->peer,
                    rc == RK_ETOOBIG ? "frame over the maximum size" : "broken frame");
        rk_conn_close(c);
    }
    if (!c->closing) {
        if (rk_frames_pending(&c->frames) == 0)
            c->frame_start = 0;
        else if (c->frame_start == 0)
            c->frame_start = rk_mono_ms();      /* the deadline of the frame now arriving */
        rk_frames_shrink(&c->frames, 2 * READ_CHUNK);
        conn_account(c);
        if (in_used(s) > (int64_t)s->cfg.max_in_bytes)
            budget_enforce(s);
        conn_set_reading(c);
    }
    c->pumping = false;
    budget_check(s);
    conn_unref(c);
}

/* The body read straight into its block is complete: decode the header that
 * waited in frames, give the command the body and dispatch it, if c may take
 * a frame now; else the body goes back behind its header in frames (a copy,
 * only then) and conn_pump takes the frame once c may. */
static void direct_body_done(rk_conn_t *c)
{
    rk_rserver_t *s = c->srv;
    rk_frames_t *f = &c->frames;
    uint8_t *body = c->body;
    size_t body_len = c->body_len;
    c->body = NULL;
    c->body_len = c->body_got = 0;
    c->head_read = true;
    if (c->pumping || !conn_may_take(c)) {
        int rc = rk_frames_feed(f, body, body_len);
        free(body);
        if (rc != RK_OK) {
            rk_log_error(s->name, "%s: no memory for its input, closing the connection", c->peer);
            rk_conn_close(c);
        }
        conn_pump(c);
        return;
    }
    size_t frame_bytes = rk_frames_pending(f) + body_len;  /* length field, header, body */
    rk_cmd_t *req;
    int drc = rk_frames_join_body(f, body, body_len, &req);
    if (drc != RK_OK) {
        if (drc == RK_ETOOBIG)
            rk_log_warn(s->name, "%s: header over the limits (more than %d extFields, or too many values), "
                        "closing the connection", c->peer, RK_CMD_MAX_EXT_FIELDS);
        else
            rk_log_warn(s->name, "%s: malformed frame (%s), closing the connection", c->peer, rk_strerror(drc));
        rk_conn_close(c);
        return;
    }
    c->last_active = rk_mono_ms();
    c->frame_start = 0;
    c->refs++;                  /* the processor may close the connection */
    dispatch(c, req, frame_bytes);
    conn_pump(c);               /* accounts, decides whether to read on */
    conn_unref(c);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    rk_conn_t *c = stream->data;
    if (nread < 0) {
        if (nread != UV_EOF)
            rk_log_debug(c->srv->name, "%s: %s", c->peer, uv_strerror((int)nread));
        rk_conn_close(c);
        return;
    }
    if (c->body != NULL && buf->base == (char *)c->body + c->body_got) {
        c->body_got += (size_t)nread;
        if (c->body_got == c->body_len)
            direct_body_done(c);
        return;
    }
    if (nread == 0)
        return;
    c->head_read = false;
    /* no idle-timer reset here: a byte is not a request (slow-loris) */
    if (rk_frames_feed(&c->frames, c->srv->rbuf, (size_t)nread) != RK_OK) {
        rk_log_error(c->srv->name, "%s: no memory for its input, closing the connection", c->peer);
        rk_conn_close(c);
        return;
    }
    conn_pump(c);
}

static void peer_name(uv_tcp_t *tcp, char *buf, size_t len, uint64_t id)
{
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    char ip[48] = "?";
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET) {
        uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
        snprintf(buf, len, "%s:%d", ip, ntohs(((struct sockaddr_in *)&ss)->sin_port));
    } else {
        snprintf(buf, len, "conn-%llu", (unsigned long long)id);
    }
}

static void free_handle(uv_handle_t *h) { free(h); }

/* Over max_conns: accepted (else libuv stops accepting) and closed at once. */
static void refuse(rk_rserver_t *s, uv_stream_t *server)
{
    uint64_t n = atomic_fetch_add(&s->st_refused, 1) + 1;
    uv_tcp_t *t = malloc(sizeof *t);
    char peer[64] = "?";
    if (t != NULL) {
        uv_tcp_init(&s->loop, t);
        if (uv_accept(server, (uv_stream_t *)t) == 0)
            peer_name(t, peer, sizeof peer, 0);
    }
    if (log_due(&s->last_refuse_log))
        rk_log_warn(s->name, "%d connections open, the maximum: refusing %s (%llu refused so far)", s->nconns, peer,
                    (unsigned long long)n);
    if (t != NULL)
        uv_close((uv_handle_t *)t, free_handle);    /* the client sees its connection closed */
}

static void on_connection(uv_stream_t *server, int status)
{
    rk_rserver_t *s = server->data;
    if (s->stopping)
        return;
    if (status < 0) {       /* EMFILE, ENFILE, ENOMEM: the client's connect is dropped */
        if (log_due(&s->last_accept_err_log))
            rk_log_warn(s->name, "cannot accept a connection: %s (%d open)", uv_strerror(status), s->nconns);
        return;
    }
    if (s->cfg.max_conns > 0 && s->nconns >= s->cfg.max_conns) {
        refuse(s, server);
        return;
    }
    rk_conn_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        refuse(s, server);
        return;
    }
    c->srv = s;
    c->id = ++s->next_id;
    c->refs = 1;
    rk_frames_init(&c->frames, s->cfg.max_frame);
    uv_tcp_init(&s->loop, &c->tcp);
    c->tcp.data = c;
    int rc = uv_accept(server, (uv_stream_t *)&c->tcp);
    if (rc != 0) {
        if (log_due(&s->last_accept_err_log))
            rk_log_warn(s->name, "cannot accept a connection: %s (%d open)", uv_strerror(rc), s->nconns);
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    peer_name(&c->tcp, c->peer, sizeof c->peer, c->id);
    c->peer_host_ok = rk_host_parse(c->peer, &c->peer_host) == RK_OK;
    c->last_active = rk_mono_ms();
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    atomic_fetch_add(&s->st_conns, 1);
    conn_set_reading(c);
}

static void on_idle_check(uv_timer_t *t)
{
    rk_rserver_t *s = t->data;
    uint64_t now = rk_mono_ms();
    for (rk_conn_t *c = s->conns, *next; c != NULL; c = next) {
        next = c->next;
        for (push_t **pp = &c->pushes; *pp != NULL;) {
            push_t *p = *pp;
            if (now >= p->deadline) {
                *pp = p->next;
                p->cb(p->arg, RK_ETIMEDOUT, NULL);
                free(p);
            } else {
                pp = &p->next;
            }
        }
        /* a connection paused for its backlog is not late: the server stopped
         * reading it (the idle timeout still applies) */
        if (s->cfg.frame_timeout_ms > 0 && c->frame_start != 0 && !c->paused_out &&
            now - c->frame_start > (uint64_t)s->cfg.frame_timeout_ms) {
            uint32_t want = 0;
            if (rk_frames_pending(&c->frames) >= 4)
                want = rk_be_get32(c->frames.buf.data + c->frames.start);
            rk_log_warn(s->name, "%s: frame not completed within %lld ms (%zu of %lu bytes arrived), closing",
                        c->peer, (long long)s->cfg.frame_timeout_ms, rk_frames_pending(&c->frames) + c->body_got,
                        (unsigned long)want + 4);
            atomic_fetch_add(&s->st_frame_timeouts, 1);
            rk_conn_close(c);
            continue;
        }
        if (s->cfg.idle_ms > 0 && now - c->last_active > (uint64_t)s->cfg.idle_ms) {
            rk_log_info(s->name, "%s: idle for %lld ms, closing", c->peer, (long long)s->cfg.idle_ms);
            rk_conn_close(c);
        }
    }
}

static void on_task(uv_timer_t *t)
{
    task_t *task = t->data;
    task->fn(task->ctx);
}

static void drain_queue(rk_rserver_t *s)
{
    uv_mutex_lock(&s->qmu);
    rk_reply_t *r = s->qhead;
    s->qhead = s->qtail = NULL;
    struct post *p = s->posts;
    s->posts = NULL;
    uv_mutex_unlock(&s->qmu);
    struct post *rev = NULL;        /* run in the order they were posted */
    while (p != NULL) {
        struct post *n = p->next;
        p->next = rev;
        rev = p;
        p = n;
    }
    for (struct post *next; rev != NULL; rev = next) {
        next = rev->next;
        rev->fn(rev->arg);
        free(rev);
    }
    for (rk_reply_t *next; r != NULL; r = next) {
        next = r->qnext;
        complete_on_loop(r);
    }
}

static void maybe_close_async(rk_rserver_t *s)
{
    if (s->stopping && s->outstanding == 0 && !s->async_closed) {
        uv_mutex_lock(&s->qmu);     /* rk_rserver_post checks it under the lock */
        s->async_closed = true;
        uv_mutex_unlock(&s->qmu);
        uv_close((uv_handle_t *)&s->async, NULL);
    }
}

static void begin_stop(rk_rserver_t *s)
{
    s->stopping = true;
    uv_close((uv_handle_t *)&s->listener, NULL);
    uv_close((uv_handle_t *)&s->idle_timer, NULL);
    uv_close((uv_handle_t *)&s->pump_timer, NULL);
    for (int i = 0; i < s->ntasks; i++)
        uv_close((uv_handle_t *)&s->tasks[i].timer, NULL);
    while (s->conns != NULL)
        rk_conn_close(s->conns);
    on_out_flush(s);            /* drops the list's references */
    uv_close((uv_handle_t *)&s->out_prepare, NULL);
    uv_close((uv_handle_t *)&s->out_check, NULL);
    maybe_close_async(s);
}

static void on_async(uv_async_t *a)
{
    rk_rserver_t *s = a->data;
    drain_queue(s);
    if (s->running == false && !s->stopping)
        begin_stop(s);
}

static void loop_main(void *arg)
{
    rk_rserver_t *s = arg;
    (void)rk_thread_init("rk-net", RK_THREAD_NORMAL);
    rk__block_sigpipe();
    s->loop_tid = uv_thread_self();
    uv_run(&s->loop, UV_RUN_DEFAULT);
}

int rk_rserver_start(rk_rserver_t *s, char *err, size_t errlen)
{
    char dummy[8];
    if (err == NULL) {
        err = dummy;
        errlen = sizeof dummy;
    }
    int rc = uv_loop_init(&s->loop);
    if (rc != 0) {
        snprintf(err, errlen, "uv_loop_init: %s", uv_strerror(rc));
        return rc;
    }
    struct sockaddr_in addr;
    if ((rc = uv_ip4_addr(s->host, s->cfg.port, &addr)) != 0) {
        /* a host name: looked up once, here, before the loop thread runs */
        uv_getaddrinfo_t gai;
        struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
        rc = uv_getaddrinfo(&s->loop, &gai, NULL, s->host, NULL, &hints);
        if (rc == 0) {
            const struct addrinfo *ai = gai.addrinfo;
            while (ai != NULL && ai->ai_family != AF_INET)
                ai = ai->ai_next;
            if (ai != NULL) {
                memcpy(&addr, ai->ai_addr, sizeof addr);
                addr.sin_port = htons((uint16_t)s->cfg.port);
            } else {
                rc = UV_EAI_ADDRFAMILY;
            }
            uv_freeaddrinfo(gai.addrinfo);
        }
        if (rc != 0) {
            snprintf(err, errlen, "bad listen address %s:%d (%s)", s->host, s->cfg.port, uv_strerror(rc));
            uv_loop_close(&s->loop);
            return RK_EBADCONFIG;
        }
    }
    uv_tcp_init(&s->loop, &s->listener);
    s->listener.data = s;
    if ((rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0)) == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", s->host, s->cfg.port, uv_strerror(rc));
        uv_close((uv_handle_t *)&s->listener, NULL);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        return rc;
    }
    struct sockaddr_in bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &blen);
    s->bound_port = ntohs(bound.sin_port);
    uv_async_init(&s->loop, &s->async, on_async);
    s->async.data = s;
    uv_timer_init(&s->loop, &s->idle_timer);
    s->idle_timer.data = s;
    uv_timer_init(&s->loop, &s->pump_timer);
    s->pump_timer.data = s;
    uv_prepare_init(&s->loop, &s->out_prepare);
    s->out_prepare.data = s;
    uv_prepare_start(&s->out_prepare, on_out_prepare);
    uv_check_init(&s->loop, &s->out_check);
    s->out_check.data = s;
    uv_check_start(&s->out_check, on_out_check);
    uint64_t every = s->cfg.idle_ms > 0 && (uint64_t)s->cfg.idle_ms / 4 < 50 ? (uint64_t)s->cfg.idle_ms / 4 + 1 : 50;
    uv_timer_start(&s->idle_timer, on_idle_check, every, every);
    for (int i = 0; i < s->ntasks; i++) {
        uv_timer_init(&s->loop, &s->tasks[i].timer);
        s->tasks[i].timer.data = &s->tasks[i];
        uv_timer_start(&s->tasks[i].timer, on_task, s->tasks[i].period, s->tasks[i].period);
    }
    s->running = true;
    if ((rc = uv_thread_create(&s->thread, loop_main, s)) != 0) {
        snprintf(err, errlen, "cannot start the loop thread");
        s->running = false;
        begin_stop(s);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        return rc;
    }
    rk_log_info(s->name, "listening on %s:%d", s->host, s->bound_port);
    return RK_OK;
}

void rk_rserver_free(rk_rserver_t *s)
{
    if (s == NULL)
        return;
    if (s->running) {
        s->running = false;
        uv_async_send(&s->async);
        uv_thread_join(&s->thread);
        int rc = uv_loop_close(&s->loop);
        if (rc != 0)
            rk_log_warn(s->name, "loop closed with handles still open: %s", uv_strerror(rc));
    }
    for (struct post *p = s->posts, *next; p != NULL; p = next) {    /* posted too late: dropped */
        next = p->next;
        free(p);
    }
    uv_mutex_destroy(&s->qmu);
    free(s);
}

/* ------------------------------------------------------------ server push */

int rk_conn_invoke_async(rk_conn_t *c, rk_cmd_t *req, int timeout_ms, rk_push_cb cb, void *arg)
{
    if (c->closing) {
        rk_cmd_free(req);
        return RK_ECLOSED;
    }
    push_t *p = malloc(sizeof *p);
    if (p == NULL) {
        rk_cmd_free(req);
        return RK_ENOMEM;
    }
    req->opaque = ++c->srv->next_push_opaque;
    req->flag &= ~(RK_CMD_RESPONSE | RK_CMD_ONEWAY);
    *p = (push_t){req->opaque, rk_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 3000), cb, arg, c->pushes};
    c->pushes = p;
    conn_write_cmd(c, req);
    rk_cmd_free(req);
    return RK_OK;
}

int rk_conn_send_oneway(rk_conn_t *c, rk_cmd_t *req)
{
    if (c->closing) {
        rk_cmd_free(req);
        return RK_ECLOSED;
    }
    req->opaque = ++c->srv->next_push_opaque;
    req->flag = (req->flag & ~RK_CMD_RESPONSE) | RK_CMD_ONEWAY;
    conn_write_cmd(c, req);
    rk_cmd_free(req);
    return RK_OK;
}

/* ------------------------------------------------------------ worker pool */

typedef struct {
    uv_work_t req;
    void (*work)(void *);
    void (*after)(void *);
    void *arg;
} job_t;

static void job_work(uv_work_t *w)
{
    job_t *j = (job_t *)w;
    j->work(j->arg);
}

static void job_after(uv_work_t *w, int status)
{
    (void)status;
    job_t *j = (job_t *)w;
    j->after(j->arg);
    free(j);
}

int rk_rserver_queue_work(rk_rserver_t *s, void (*work)(void *), void (*after)(void *), void *arg)
{
    job_t *j = malloc(sizeof *j);
    if (j == NULL)
        return RK_ENOMEM;
    *j = (job_t){.work = work, .after = after, .arg = arg};
    if (uv_queue_work(&s->loop, &j->req, job_work, job_after) != 0) {
        free(j);
        return RK_ENOMEM;
    }
    return RK_OK;
}

int rk_rserver_post(rk_rserver_t *s, void (*fn)(void *), void *arg)
{
    struct post *p = malloc(sizeof *p);
    if (p == NULL)
        return RK_ENOMEM;
    p->fn = fn;
    p->arg = arg;
    uv_mutex_lock(&s->qmu);
    if (s->async_closed || !s->running) {
        uv_mutex_unlock(&s->qmu);
        free(p);
        return RK_ECLOSED;
    }
    p->next = s->posts;
    s->posts = p;
    uv_async_send(&s->async);   /* under the lock: the handle cannot close meanwhile */
    uv_mutex_unlock(&s->qmu);
    return RK_OK;
}

void rk_rserver_stats(const rk_rserver_t *s, rk_rserver_stats_t *out)
{
    rk_rserver_t *m = (rk_rserver_t *)s;    /* atomics are read-only here */
    int64_t v[5] = {atomic_load(&m->st_conns), atomic_load(&m->st_out), atomic_load(&m->st_in),
                    atomic_load(&m->st_inflight), atomic_load(&m->st_paused)};
    for (int i = 0; i < 5; i++)
        v[i] = v[i] < 0 ? 0 : v[i];
    *out = (rk_rserver_stats_t){.conns = (uint64_t)v[0], .out_bytes = (uint64_t)v[1], .in_bytes = (uint64_t)v[2],
                                .inflight_bytes = (uint64_t)v[3], .paused = (uint64_t)v[4],
                                .refused = atomic_load(&m->st_refused),
                                .frame_timeouts = atomic_load(&m->st_frame_timeouts)};
}

rk_conn_t *rk_rserver_conn(rk_rserver_t *s, uint64_t id)
{
    for (rk_conn_t *c = s->conns; c != NULL; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

int rk_rserver_wrap(rk_rserver_t *s, int32_t code, rk_processor_fn fn, void *ctx, rk_processor_fn *prev_fn,
                    void **prev_ctx)
{
    for (int i = 0; i < s->nprocs; i++)
        if (s->procs[i].code == code) {
            *prev_fn = s->procs[i].fn;
            *prev_ctx = s->procs[i].ctx;
            s->procs[i].fn = fn;
            s->procs[i].ctx = ctx;
            return RK_OK;
        }
    return RK_ENOTFOUND;
}

void rk_reply_owned(rk_reply_t *r, char *body)
{
    if (body == NULL) {
        rk_reply_code(r, RK_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    rk_cmd_t *resp = rk_cmd_new_response(r->req, RK_RESP_SUCCESS, NULL);
    if (resp == NULL) {
        free(body);
        rk_reply_code(r, RK_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    rk_cmd_own_body(resp, (uint8_t *)body, strlen(body));
    rk_reply_send(r, resp);
}
