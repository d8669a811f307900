/* console_int.h — what the console's files share (private to chapter 12's library).
 *
 * An API request is parsed on the loop thread into an rk_api_req_t (owned by its job), run by a
 * route's function on a worker thread, which fills an rk_api_out_t; the loop thread sends it.
 * Route functions may call the cluster synchronously (they run on libuv's worker pool, never on
 * the loop) and must bound what they gather by cfg.max_results. */
#ifndef RK_CONSOLE_INT_H
#define RK_CONSOLE_INT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "rk/console.h"
#include "rk/mqclient.h"
#include "rk/strmap.h"

#define RK_API_MAX_SEGS 8
#define RK_API_MAX_PARAMS 16

enum { RK_API_GET = 1, RK_API_POST = 2, RK_API_DELETE = 4 };

typedef struct rk_api_req {
    int method;
    char *seg[RK_API_MAX_SEGS];     /* percent-decoded path segments after /api/ */
    size_t nseg;
    struct {
        char *key, *value;          /* percent-decoded */
    } param[RK_API_MAX_PARAMS];
    size_t nparam;
    cJSON *body;                    /* parsed JSON body; NULL when none */
} rk_api_req_t;

typedef struct rk_api_out {
    int status;                     /* HTTP status; 0 = 200 */
    cJSON *json;                    /* the answer (status < 400) */
    char error[512];                /* the message of a 4xx/5xx */
    char *text;                     /* a non-JSON answer (malloc'ed): /metrics */
    size_t text_len;
    const char *ctype;
} rk_api_out_t;

typedef void (*rk_api_fn)(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o);

typedef struct rk_api_route {
    int method;
    const char *pattern;            /* segments, "*" matches one: "topics/ * /route" */
    rk_api_fn fn;
    bool change;                    /* refused in read-only mode */
} rk_api_route_t;

extern const rk_api_route_t rk__console_routes[];

/* Rates between two looks at a counter (per second), for TPS figures the brokers do not report. */
typedef struct rk_console_rates rk_console_rates_t;

struct rk_console_shared {
    rk_console_config_t cfg;
    rk_mqclient_t *mq;
    /* /metrics: one build at a time, reused for metrics_cache_ms */
    uv_mutex_t metrics_mu;
    char *metrics_text;
    size_t metrics_len;
    int64_t metrics_at;
    /* counters seen before, for rates */
    uv_mutex_t rates_mu;
    rk_strmap_t rates;
    size_t nrates;                  /* bounded: a key per group/topic/broker seen */
    /* GET_ALL_CONSUMER_OFFSET answers per broker, reused for 2 s (rk__all_offsets) */
    uv_mutex_t offsets_mu;
    rk_strmap_t offsets;
    size_t noffsets;
};

/* The part of the console route functions use (any thread). */
typedef struct rk_console_shared rk_console_shared_t;
rk_console_shared_t *rk__console_shared(rk_console_t *cs);

/* ---- helpers for route functions (console_api.c) ---- */
void rk__api_fail(rk_api_out_t *o, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *rk__api_param(const rk_api_req_t *r, const char *key);
/* A string member from arbitrary bytes: invalid UTF-8 becomes U+FFFD, so the answer stays JSON. */
cJSON *rk__json_add_bytes(cJSON *obj, const char *key, const char *s, size_t len);
/* A counter's recent samples, at least RK__RATE_STEP_MS apart, spanning at most
 * RK__RATE_WINDOW_MS (zeroed = empty). */
#define RK__RATE_RING 16
#define RK__RATE_STEP_MS 500
#define RK__RATE_WINDOW_MS 10000
typedef struct rk__rate {
    int64_t v[RK__RATE_RING], at[RK__RATE_RING];
    int first, n;                   /* ring: oldest at first, n samples */
    double rate;                    /* the last answer */
} rk__rate_t;
/* Counter now at value v: its rate per second over the whole span of the samples (not the last
 * step), so a counter that moves in steps (committed offsets) reads smoothly; -1 the first time,
 * 0 when the counter went back; asked again within RK__RATE_STEP_MS, the last answer. */
double rk__rate_update(rk__rate_t *s, int64_t v, int64_t now_ms);
/* rk__rate_update on the console's sample of counter `key` (made on first use; -1 then). */
double rk__console_rate(rk_console_shared_t *sh, const char *key, int64_t v, int64_t now_ms);

/* A broker's (or, addr NULL, the name servers') JSON answer; NULL with o's status set. */
cJSON *rk__ask_json(rk_console_shared_t *sh, const char *addr, rk_cmd_t *req, rk_api_out_t *o, const char *what);
/* A broker's GET_BROKER_RUNTIME_INFO table ({"key":"value"}); NULL with o's status set. */
cJSON *rk__kv_table(rk_console_shared_t *sh, const char *addr, rk_api_out_t *o);

/* A broker's committed offsets of every group ({"offsetTable":{"topic@group":{"0":5}}}), at most
 * 2 s old; NULL with o's status set. */
cJSON *rk__all_offsets(rk_console_shared_t *sh, const char *addr, rk_api_out_t *o);
void rk__offsets_cache_free(rk_console_shared_t *sh);

/* /metrics (console_metrics.c) */
void rk__console_metrics(rk_console_t *cs, const rk_api_req_t *r, rk_api_out_t *o);

#endif
