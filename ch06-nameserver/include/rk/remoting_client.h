/* remoting_client.h — the client side of RocketMQ remoting, on its own libuv loop thread.
 *
 * One TCP connection per "host:port", opened on first use and reopened on
 * the next request after it breaks. host is an IPv4 address or a name; a
 * name is looked up (IPv4) with uv_getaddrinfo on libuv's worker pool each
 * time the connection opens, so the network thread never waits for DNS; an
 * unknown name fails the request with RK_ENOTFOUND (and a WARN line), a
 * malformed address or a port outside 1..65535 with RK_EINVAL. Requests get a fresh opaque; the
 * response with the same opaque completes them. Three ways to call:
 *
 *   rk_rclient_invoke_sync()    blocks the caller until the response or the timeout
 *   rk_rclient_invoke_async()   calls back on the client's loop thread
 *   rk_rclient_invoke_oneway()  sends with the ONEWAY flag, expects nothing
 *
 * Callbacks get status RK_OK with the response, or RK_ETIMEDOUT /
 * RK_ECLOSED / a connect error (-errno style) with resp NULL; a callback
 * runs exactly once, unless invoke returned an error. A request is encoded
 * (its body read) only before its callback runs: a sync or async request may
 * borrow its body (rk_cmd_borrow_body) from memory that lives until then.
 *
 * Threads: every function may be called from any thread except free, which
 * must not be called from a callback. Memory: invoke takes ownership of req;
 * a callback owns the response it is given (rk_cmd_free it). */
#ifndef RK_REMOTING_CLIENT_H
#define RK_REMOTING_CLIENT_H

#include "rk/remoting_cmd.h"

typedef struct rk_rclient rk_rclient_t;
typedef void (*rk_invoke_cb)(void *arg, int status, rk_cmd_t *resp);

int rk_rclient_new(rk_rclient_t **out);
/* Fails every pending request with RK_ECLOSED, closes, joins, frees (after
 * a name look-up in progress, which cannot be interrupted, has returned). */
void rk_rclient_free(rk_rclient_t *c);
/* Hands back the block of a big answer's body (cmd->body, when cmd->body_cap
 * is not 0; pass body_cap), taken from the command before rk_cmd_free, so
 * that the next big answer is read into it rather than into a fresh block
 * (any thread; before rk_rclient_free). A body whose block is not handed
 * back is an ordinary malloc'ed block: free() it. Why: a consumer's pull
 * answers of ~256 KiB were malloc'ed on the network thread and freed on a
 * listener's; glibc gave each freed block back to the kernel (madvise) and
 * the next answer faulted its pages in again, a third of all the bytes
 * pulled (ch07 README, "Where the time goes: the push consumer"). The
 * client keeps at most 16 idle blocks of up to 4 MiB each, and frees them
 * after about a second without a big answer. */
void rk_rclient_recycle_body(rk_rclient_t *c, uint8_t *body, size_t cap);

int rk_rclient_invoke_async(rk_rclient_t *c, const char *addr, rk_cmd_t *req, int timeout_ms,
                            rk_invoke_cb cb, void *arg);
/* On RK_OK, *resp is the response (caller frees). RK_EBUSY when called on
 * the client's own network thread (from a callback), where it could only hang. */
int rk_rclient_invoke_sync(rk_rclient_t *c, const char *addr, rk_cmd_t *req, int timeout_ms,
                           rk_cmd_t **resp);
int rk_rclient_invoke_oneway(rk_rclient_t *c, const char *addr, rk_cmd_t *req);
/* True on the client's network thread (inside callbacks and processors). */
bool rk_rclient_on_loop(const rk_rclient_t *c);

/* Requests a server pushes to this client (CHECK_TRANSACTION_STATE,
 * NOTIFY_CONSUMER_IDS_CHANGED, ...) go to the processor registered for their
 * code, on the client's loop thread. It returns the response (or NULL to
 * send none); the client stamps the opaque and the RESPONSE flag. Unknown
 * codes are answered REQUEST_CODE_NOT_SUPPORTED. Register before the first
 * request. */
typedef rk_cmd_t *(*rk_client_processor_fn)(void *ctx, const char *addr, const rk_cmd_t *req);
int rk_rclient_register(rk_rclient_t *c, int32_t code, rk_client_processor_fn fn, void *ctx);
/* A processor that cannot answer at once (it must not hold the network
 * thread: a consumer's listener runs elsewhere) returns NULL and answers
 * later with this, from any thread: resp (taken) goes to addr as the
 * response to req (its opaque, RESPONSE flag, serialize type; nothing is
 * sent for a oneway req). Keep what it needs of req (a copy: rk_cmd_clone
 * keeps no opaque, so copy opaque and flag too). */
int rk_rclient_respond(rk_rclient_t *c, const char *addr, const rk_cmd_t *req, rk_cmd_t *resp);

/* A hook run on every request this client sends (invoke_sync, _async,
 * _oneway), on the calling thread, before the request is queued: RocketMQ's
 * RPCHook doBeforeRequest, where its SDK signs requests (AclClientRPCHook).
 * It may add extFields; a non-zero return fails the invoke with that code
 * (the callback is not called). Set it before the first request. */
typedef int (*rk_rclient_before_fn)(void *ctx, const char *addr, rk_cmd_t *req);
void rk_rclient_set_before_request(rk_rclient_t *c, rk_rclient_before_fn fn, void *ctx);

#endif
