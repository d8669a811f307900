/* remoting_server.h — a RocketMQ remoting server on one libuv loop thread.
 *
 *   socket ─▶ frames ─▶ decode ─▶ processor table[code] ─▶ reply ─▶ encode ─▶ socket
 *
 * The processor table is the extension point every server role uses: the
 * name server registers its codes (chapter 6), the broker its own (7), later
 * chapters add theirs. A processor receives the request and a *reply*
 * handle, and answers by calling rk_reply_send() exactly once — right away,
 * or later from any thread (a held pull in chapter 7). Processors flagged
 * RK_PROC_SLOW run on libuv's worker pool so disk work never blocks the loop.
 *
 * Built in: a response carries its request's opaque and serialize type;
 * oneway requests get none; an unknown code is answered
 * REQUEST_CODE_NOT_SUPPORTED; a malformed or oversized frame closes that
 * connection (logged), never the server; idle connections are closed.
 *
 * Bounded against hostile clients (limits in rk_rserver_config_t, counters
 * in rk_rserver_stats): a connection whose replies pile up is not read until
 * they drain (back-pressure), partial frames wait while all connections hold
 * too much input, a frame must complete within a deadline, and connections
 * over a cap are refused. A connection that is not being read does not see
 * its peer hang up either: the frame deadline or the idle timeout closes it.
 * A response to a server push also waits while its connection is paused.
 *
 * Threads: everything runs on the server's loop thread except SLOW
 * processors. rk_reply_send() may be called from any thread. Close hooks
 * and periodic tasks run on the loop thread.
 *
 * Memory: the reply owns the request until rk_reply_send(), which also
 * takes ownership of the response. A connection stays valid (though maybe
 * closed) while a reply for it is outstanding. */
#ifndef RK_REMOTING_SERVER_H
#define RK_REMOTING_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "rk/config.h"
#include "rk/message.h"
#include "rk/remoting_cmd.h"

typedef struct rk_rserver rk_rserver_t;
typedef struct rk_conn rk_conn_t;
typedef struct rk_reply rk_reply_t;

typedef void (*rk_processor_fn)(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply);
enum { RK_PROC_INLINE = 0, RK_PROC_SLOW = 1 };

typedef struct rk_rserver_config {
    const char *host;           /* default "0.0.0.0" */
    int port;                   /* 0: any free port (see rk_rserver_port) */
    size_t max_frame;           /* default 16 MiB */
    int64_t idle_ms;            /* close connections that sent no whole frame this long; 0: never */
    const char *name;           /* for log lines */
    /* Limits against clients that abuse the server (0 takes the default): */
    size_t max_out_bytes;       /* back-pressure: once a connection's unsent replies, or the
                                 * requests it has in processing, pass this many bytes, the
                                 * server stops reading from it until both are under half of
                                 * it (default 4 MiB) */
    size_t max_in_bytes;        /* input held for all connections together: partial frames
                                 * plus requests in processing. Over it, connections with a
                                 * partial frame wait (reading stopped, logged) until it
                                 * drops under 3/4 (default 256 MiB) */
    int64_t frame_timeout_ms;   /* a frame must be complete this long after its first byte
                                 * arrived, else the connection is closed (logged); the
                                 * slow-loris defence. Default 30 s; < 0: never */
    int max_conns;              /* open connections; more are accepted and closed at once
                                 * (logged, at most once a second). Default: the soft
                                 * RLIMIT_NOFILE minus a reserve of a quarter of it (at least
                                 * 64, at most 4096) for files; < 0: no cap */
} rk_rserver_config_t;

/* The limits above as configuration keys (rocklet's names), one table for
 * every server (name server, broker): a server's config struct embeds an
 * rk_rserver_limits_t, applies rk_rserver_limit_fields to it beside its own
 * table, and copies it into its rk_rserver_config_t. */
typedef struct rk_rserver_limits {
    int64_t max_connections;        /* serverMaxConnections (0: from RLIMIT_NOFILE) */
    int64_t max_pending_bytes;      /* serverConnectionMaxPendingBytes */
    int64_t max_input_bytes;        /* serverMaxBufferedInput */
    int64_t frame_timeout_ms;       /* serverFrameTimeoutMillis (-1: never) */
} rk_rserver_limits_t;

extern const rk_config_field_t rk_rserver_limit_fields[];
void rk_rserver_config_set_limits(rk_rserver_config_t *sc, const rk_rserver_limits_t *limits);

/* What the limits above are doing, for tests and runtime info. */
typedef struct rk_rserver_stats {
    uint64_t conns;             /* open connections */
    uint64_t out_bytes;         /* replies queued, not yet taken by the kernel */
    uint64_t in_bytes;          /* memory held by partial (and unprocessed) frames */
    uint64_t inflight_bytes;    /* requests being processed (decoded, not answered) */
    uint64_t paused;            /* connections not being read (back-pressure or budget) */
    uint64_t refused;           /* since start: connections refused over max_conns */
    uint64_t frame_timeouts;    /* since start: connections closed for an incomplete frame */
} rk_rserver_stats_t;

int rk_rserver_new(const rk_rserver_config_t *cfg, rk_rserver_t **out);
/* Before start: route `code` to fn. */
int rk_rserver_register(rk_rserver_t *s, int32_t code, rk_processor_fn fn, void *ctx, int flags);
/* Before start: an access check run on the loop thread for every request
 * whose code has a processor, before the processor (RocketMQ's RPCHook
 * doBeforeRequest, where its broker hangs the ACL). It returns 0 to let the
 * request through, or a response code (e.g. RK_RESP_NO_PERMISSION) to refuse
 * it: the request is then answered with that code and the remark fn wrote
 * into remark (NUL-terminated, at most len bytes) and the processor never
 * sees it. One check per server; a second call replaces the first. It must
 * be quick: it delays every request behind it. */
typedef int32_t (*rk_access_check_fn)(void *ctx, rk_conn_t *conn, const rk_cmd_t *req, char *remark, size_t len);
int rk_rserver_set_access_check(rk_rserver_t *s, rk_access_check_fn fn, void *ctx);

/* Before start: puts fn in front of code's processor (same thread flags) and hands back the
 * one it replaces, which fn may call on to: how a later chapter filters a lower one's requests
 * (chapter 11 refuses half messages before chapter 7's send). RK_ENOTFOUND if code has none. */
int rk_rserver_wrap(rk_rserver_t *s, int32_t code, rk_processor_fn fn, void *ctx, rk_processor_fn *prev_fn,
                    void **prev_ctx);
/* Before start: called on the loop thread when a connection closes. */
int rk_rserver_on_close(rk_rserver_t *s, void (*fn)(void *ctx, rk_conn_t *conn), void *ctx);
/* Before start: fn(ctx) on the loop thread at the end of every loop turn,
 * after the turn's requests and completions were processed and before the
 * loop sleeps: for work a processor batches over the turn (the broker wakes
 * its flush thread once for all the sends of a turn, rk_commitlog_defer_wakeups).
 * Keep it short: it runs thousands of times a second. */
int rk_rserver_on_turn(rk_rserver_t *s, void (*fn)(void *ctx), void *ctx);
/* Before start: fn(ctx) every period_ms on the loop thread. */
int rk_rserver_every(rk_rserver_t *s, uint64_t period_ms, void (*fn)(void *ctx), void *ctx);
/* Loop thread only: run work(arg) on the worker pool, then after(arg) back on
 * the loop thread — for a processor that must touch the disk before it
 * answers. RK_ENOMEM if it cannot be queued (nothing runs then). */
int rk_rserver_queue_work(rk_rserver_t *s, void (*work)(void *arg), void (*after)(void *arg), void *arg);
/* Any thread: runs fn(arg) on the loop thread soon (e.g. a worker-pool
 * processor that must push to connections). RK_ENOMEM if it cannot. */
int rk_rserver_post(rk_rserver_t *s, void (*fn)(void *arg), void *arg);
/* Loop thread only: the open connection with this id, or NULL. */
rk_conn_t *rk_rserver_conn(rk_rserver_t *s, uint64_t id);
/* Binds and starts the loop thread. A port in use is -EADDRINUSE with err set. */
int rk_rserver_start(rk_rserver_t *s, char *err, size_t errlen);
int rk_rserver_port(const rk_rserver_t *s);
/* Any thread, after start: a snapshot of the counters above. */
void rk_rserver_stats(const rk_rserver_t *s, rk_rserver_stats_t *out);
/* Stops (closing every connection), joins the thread, frees everything. */
void rk_rserver_free(rk_rserver_t *s);

/* Answers the request: resp may be NULL to send nothing. Any thread, once. */
void rk_reply_send(rk_reply_t *r, rk_cmd_t *resp);
/* Zero-copy: answers with resp's header and a body made of n pieces of
 * memory the caller does not copy (e.g. records in a mapped commitlog).
 * release(arg) runs on the loop thread once the bytes are written (or
 * dropped), so the memory must stay valid until then. Any thread, once. */
typedef struct rk_iov {
    const void *base;
    size_t len;
} rk_iov_t;
void rk_reply_send_iov(rk_reply_t *r, rk_cmd_t *resp, const rk_iov_t *iov, int n, void (*release)(void *arg),
                       void *arg);
/* Convenience: a response with code and remark (and no body). */
void rk_reply_code(rk_reply_t *r, int32_t code, const char *remark);
/* The same with a printf-style remark (cut at 511 bytes). */
void rk_reply_codef(rk_reply_t *r, int32_t code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Convenience: SUCCESS with body, a malloc'ed string (taken, freed here; sent without its
 * terminating NUL), or SYSTEM_ERROR "out of memory" when body is NULL (so a caller passes what
 * its encoder returned as it is). Any thread, once. */
void rk_reply_owned(rk_reply_t *r, char *body);
/* Loop thread only, from an INLINE processor that finds this request may
 * block: fn(ctx, conn, req, r) runs on the worker pool instead, as for a
 * SLOW processor (SYSTEM_BUSY if the pool cannot take it). */
void rk_reply_defer(rk_reply_t *r, rk_processor_fn fn, void *ctx);
const rk_cmd_t *rk_reply_request(const rk_reply_t *r);

/* The peer as "ip:port". */
const char *rk_conn_peer(const rk_conn_t *c);
/* The peer's address, parsed once when the connection was accepted (what a
 * send stores as the message's born host); NULL if it could not be parsed. */
const rk_host_t *rk_conn_peer_host(const rk_conn_t *c);
uint64_t rk_conn_id(const rk_conn_t *c);
/* Loop thread only: per-connection data for processors (not freed here). */
void *rk_conn_data(const rk_conn_t *c);
void rk_conn_set_data(rk_conn_t *c, void *data);
/* Loop thread only: close this connection. */
void rk_conn_close(rk_conn_t *c);

/* Server push (loop thread only, e.g. from a processor or a periodic task):
 * send a request to the client at the other end of c and get its response
 * through cb (on the loop thread; status RK_OK with the response, which cb
 * owns, or RK_ETIMEDOUT / RK_ECLOSED). Takes ownership of req. If this
 * returns an error, cb is never called. */
typedef void (*rk_push_cb)(void *arg, int status, rk_cmd_t *resp);
int rk_conn_invoke_async(rk_conn_t *c, rk_cmd_t *req, int timeout_ms, rk_push_cb cb, void *arg);
/* The same without a response wanted (ONEWAY flag set). */
int rk_conn_send_oneway(rk_conn_t *c, rk_cmd_t *req);

#endif
