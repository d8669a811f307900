/* console_http.c — mqconsole's HTTP side (see rk/console.h): libh2o on a libuv loop, the
 * login and its sessions, the limits, and the jobs that carry API requests to the worker pool.
 *
 * The loop thread parses and checks a request (path, parameters, JSON body, login, read-only),
 * then queues a job; the job runs the route on libuv's worker pool and is answered back on the
 * loop thread. A client that goes away while its job runs is forgotten (h2o disposes the
 * request; the job sees req == NULL and only frees itself). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <h2o.h>

#include "console_int.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/json.h"
#include "rk/log.h"

#define SESSIONS_MAX 64
#define FAILS_MAX 256
#define FAIL_LIMIT 5                    /* failed logins per address ... */
#define FAIL_WINDOW_MS 60000            /* ... in this long, then 429 until the window ends */
#define PATH_LIMIT 4096                 /* path + query bytes */
#define COOKIE_NAME "rksession"

const rk_config_field_t rk_console_config_fields[] = {
    {"namesrvAddr", RK_CFG_STR, offsetof(rk_console_config_t, namesrv), "", 0, 0, NULL,
     "name servers, host:port;host:port (required)"},
    {"listenHost", RK_CFG_STR, offsetof(rk_console_config_t, listen_host), "127.0.0.1", 0, 0, NULL,
     "address the console listens on"},
    {"listenPort", RK_CFG_INT, offsetof(rk_console_config_t, listen_port), "8080", 0, 65535, NULL,
     "HTTP port (0: any free port, printed at start)"},
    {"webDir", RK_CFG_STR, offsetof(rk_console_config_t, web_dir), "", 0, 0, NULL,
     "the built front end; empty: ch12-console/web/dist of the source tree if built, else a page says how to build it"},
    {"consoleUser", RK_CFG_STR, offsetof(rk_console_config_t, user), "", 0, 0, NULL,
     "user name of the login; empty: no login"},
    {"consolePassword", RK_CFG_STR, offsetof(rk_console_config_t, password), "", 0, 0, NULL,
     "password of the login"},
    {"readOnly", RK_CFG_BOOL, offsetof(rk_console_config_t, read_only), "false", 0, 0, NULL,
     "refuse every change (403)"},
    {"maxConnections", RK_CFG_INT, offsetof(rk_console_config_t, max_connections), "256", 1, 65536, NULL,
     "open HTTP connections at once (more are closed at once)"},
    {"maxRequestBodyBytes", RK_CFG_INT, offsetof(rk_console_config_t, max_body), "65536", 256, 16 << 20, NULL,
     "largest request body (413 past it)"},
    {"maxPendingRequests", RK_CFG_INT, offsetof(rk_console_config_t, max_jobs), "64", 1, 4096, NULL,
     "API requests waiting for or talking to the cluster (503 past it)"},
    {"maxResults", RK_CFG_INT, offsetof(rk_console_config_t, max_results), "1000", 10, 100000, NULL,
     "most rows one list or page answers"},
    {"brokerTimeoutMs", RK_CFG_INT, offsetof(rk_console_config_t, broker_timeout_ms), "3000", 100, 60000, NULL,
     "timeout of each request to a name server or broker"},
    {"metricsCacheMs", RK_CFG_INT, offsetof(rk_console_config_t, metrics_cache_ms), "5000", 0, 600000, NULL,
     "/metrics answers reuse figures this young (scrapers do not multiply broker load)"},
    {"sessionTimeoutMs", RK_CFG_INT, offsetof(rk_console_config_t, session_ms), "43200000", 1000, INT64_MAX, NULL,
     "how long a login lasts"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

typedef struct session {
    char token[65];                     /* 32 random bytes in hex; "" = free slot */
    int64_t expires;
} session_t;

typedef struct fail {
    char ip[64];
    int count;
    int64_t since;
} fail_t;

typedef struct handler {
    h2o_handler_t super;
    rk_console_t *cs;
} handler_t;

struct rk_console {
    rk_console_shared_t sh;             /* first: what workers use */
    uv_loop_t loop;
    h2o_globalconf_t hconf;
    h2o_context_t hctx;
    h2o_accept_ctx_t actx;
    bool hctx_ready;
    uv_tcp_t listener;
    bool listening;
    uv_signal_t sigterm, sigint;
    uv_timer_t stop_timer;              /* bounds the wait for idle connections at shutdown */
    bool stop_forced;
    int port;
    size_t nconns, njobs;
    bool stopping;
    bool web_built;
    session_t sessions[SESSIONS_MAX];
    fail_t fails[FAILS_MAX];
};

typedef struct conn {
    uv_tcp_t tcp;                       /* first: h2o's close callback gets it */
    rk_console_t *cs;
} conn_t;

typedef struct job {
    uv_work_t work;
    rk_console_t *cs;
    h2o_req_t *req;                     /* NULL once h2o disposed of the request */
    struct job **ref;                   /* the slot in the request's pool pointing here */
    rk_api_fn fn;
    rk_api_req_t in;
    rk_api_out_t out;
    char *text;                         /* the answer, serialized by the worker */
    size_t len;
} job_t;

rk_console_shared_t *rk__console_shared(rk_console_t *cs)
{
    return &cs->sh;
}

int rk_console_port(const rk_console_t *cs)
{
    return cs->port;
}

/* ------------------------------------------------------------------ answers */

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

static void send_body(h2o_req_t *req, int status, const char *ctype, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason(status);
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL,
                          H2O_STRLIT("nosniff"));
    h2o_send_inline(req, body, len);
}

static void send_json(h2o_req_t *req, int status, cJSON *j)
{
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    if (s == NULL)
        send_body(req, 500, "application/json", "{\"error\":\"out of memory\"}", 25);
    else
        send_body(req, status, "application/json", s, strlen(s));
    free(s);
}

static void send_error(h2o_req_t *req, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void send_error(h2o_req_t *req, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_CreateObject();
    rk__json_add_bytes(j, "error", msg, strlen(msg));
    send_json(req, status, j);
    cJSON_Delete(j);
}

/* ------------------------------------------------------------------ parsing */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..len) (and '+' as space when plus); NULL for a bad escape or a NUL. */
static char *pct_decode(const char *s, size_t len, bool plus)
{
    char *out = malloc(len + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int a = i + 1 < len ? hexval((unsigned char)s[i + 1]) : -1;
            int b = i + 2 < len ? hexval((unsigned char)s[i + 2]) : -1;
            int h = a < 0 || b < 0 ? -1 : a * 16 + b;
            if (h <= 0) {
                free(out);
                return NULL;
            }
            *o++ = (char)h;
            i += 2;
        } else if (plus && s[i] == '+') {
            *o++ = ' ';
        } else {
            *o++ = s[i];
        }
    }
    *o = 0;
    return out;
}

static void api_req_free(rk_api_req_t *r)
{
    for (size_t i = 0; i < r->nseg; i++)
        free(r->seg[i]);
    for (size_t i = 0; i < r->nparam; i++) {
        free(r->param[i].key);
        free(r->param[i].value);
    }
    cJSON_Delete(r->body);
    memset(r, 0, sizeof *r);
}

/* Splits "/api/a/b?x=1&y=2" into r; 0, or an HTTP status with msg. */
static int parse_target(const char *path, size_t len, rk_api_req_t *r, char *msg, size_t msglen)
{
    size_t q = 0;
    while (q < len && path[q] != '?')
        q++;
    size_t i = 5;                       /* past "/api/" */
    while (i < q) {
        size_t j = i;
        while (j < q && path[j] != '/')
            j++;
        if (j > i) {
            if (r->nseg == RK_API_MAX_SEGS) {
                snprintf(msg, msglen, "path has more than %d segments", RK_API_MAX_SEGS);
                return 404;
            }
            if ((r->seg[r->nseg] = pct_decode(path + i, j - i, false)) == NULL) {
                snprintf(msg, msglen, "bad percent-escape in the path");
                return 400;
            }
            r->nseg++;
        }
        i = j + 1;
    }
    for (i = q + 1; i < len;) {
        size_t j = i;
        while (j < len && path[j] != '&')
            j++;
        if (j > i) {
            if (r->nparam == RK_API_MAX_PARAMS) {
                snprintf(msg, msglen, "more than %d query parameters", RK_API_MAX_PARAMS);
                return 400;
            }
            size_t eq = i;
            while (eq < j && path[eq] != '=')
                eq++;
            char *k = pct_decode(path + i, eq - i, true);
            char *v = eq < j ? pct_decode(path + eq + 1, j - eq - 1, true) : strdup("");
            if (k == NULL || v == NULL) {
                free(k);
                free(v);
                snprintf(msg, msglen, "bad percent-escape in the query");
                return 400;
            }
            r->param[r->nparam].key = k;
            r->param[r->nparam].value = v;
            r->nparam++;
        }
        i = j + 1;
    }
    return 0;
}

static const rk_api_route_t *find_route(const rk_api_req_t *r, bool *path_known)
{
    *path_known = false;
    for (const rk_api_route_t *rt = rk__console_routes; rt->pattern; rt++) {
        const char *p = rt->pattern;
        size_t k = 0;
        bool ok = true;
        while (*p && ok) {
            const char *e = strchr(p, '/');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (k >= r->nseg || !((n == 1 && *p == '*') || (strlen(r->seg[k]) == n && memcmp(r->seg[k], p, n) == 0)))
                ok = false;
            k++;
            p += n + (e ? 1 : 0);
        }
        if (!ok || k != r->nseg)
            continue;
        *path_known = true;
        if (rt->method & r->method)
            return rt;
    }
    return NULL;
}

/* ------------------------------------------------------------------ login */

static bool ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    /* constant time in the secret's length: every byte of b is looked at whatever a is */
    unsigned char d = (unsigned char)(alen != blen);
    for (size_t i = 0; i < blen; i++)
        d |= (unsigned char)(b[i] ^ (i < alen ? a[i] : 0));
    return d == 0;
}

static bool login_required(const rk_console_t *cs)
{
    return cs->sh.cfg.user != NULL && cs->sh.cfg.user[0] != 0;
}

static bool creds_ok(const rk_console_t *cs, const char *user, size_t ulen, const char *pw, size_t plen)
{
    bool u = ct_equal(user, ulen, cs->sh.cfg.user, strlen(cs->sh.cfg.user));
    bool p = ct_equal(pw, plen, cs->sh.cfg.password, strlen(cs->sh.cfg.password));
    return u & p;
}

static void peer_ip(h2o_req_t *req, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    buf[0] = 0;
    if (sl == 0)
        snprintf(buf, len, "?");
    else if (ss.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)&ss, buf, len);
    else if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&ss, buf, len);
}

/* The failure record of ip (made when missing, replacing the oldest); NULL never. */
static fail_t *fail_slot(rk_console_t *cs, const char *ip, int64_t now)
{
    fail_t *oldest = &cs->fails[0];
    for (size_t i = 0; i < FAILS_MAX; i++) {
        fail_t *f = &cs->fails[i];
        if (f->ip[0] && strcmp(f->ip, ip) == 0) {
            if (now - f->since >= FAIL_WINDOW_MS) {
                f->count = 0;
                f->since = now;
            }
            return f;
        }
        if (!f->ip[0] || f->since < oldest->since)
            oldest = f;
        if (!f->ip[0])
            break;
    }
    snprintf(oldest->ip, sizeof oldest->ip, "%s", ip);
    oldest->count = 0;
    oldest->since = now;
    return oldest;
}

/* 0 when the address may try a password now; otherwise the seconds left of its lock. */
static int64_t locked_for(rk_console_t *cs, const char *ip, int64_t now)
{
    fail_t *f = fail_slot(cs, ip, now);
    return f->count >= FAIL_LIMIT ? (f->since + FAIL_WINDOW_MS - now + 999) / 1000 : 0;
}

static void note_failure(rk_console_t *cs, const char *ip, int64_t now)
{
    fail_slot(cs, ip, now)->count++;
}

static session_t *find_session(rk_console_t *cs, const char *tok, size_t len, int64_t now)
{
    session_t *hit = NULL;
    for (size_t i = 0; i < SESSIONS_MAX; i++) {
        session_t *s = &cs->sessions[i];
        if (!s->token[0])
            continue;
        if (s->expires <= now) {
            s->token[0] = 0;
            continue;
        }
        if (ct_equal(tok, len, s->token, 64))
            hit = s;
    }
    return hit;
}

static session_t *new_session(rk_console_t *cs, int64_t now)
{
    session_t *slot = &cs->sessions[0];
    for (size_t i = 0; i < SESSIONS_MAX; i++) {
        session_t *s = &cs->sessions[i];
        if (!s->token[0] || s->expires <= now) {
            slot = s;
            break;
        }
        if (s->expires < slot->expires)
            slot = s;                   /* all taken: the one closest to expiry goes */
    }
    unsigned char raw[32];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return NULL;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(slot->token + 2 * i, 3, "%02x", raw[i]);
    slot->expires = now + cs->sh.cfg.session_ms;
    return slot;
}

/* The session cookie's value in the request (len 0 when none). */
static const char *cookie_token(h2o_req_t *req, size_t *len)
{
    *len = 0;
    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i)) != -1;) {
        h2o_iovec_t v = req->headers.entries[i].value;
        const char *p = v.base, *end = v.base + v.len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == ';'))
                p++;
            const char *e = p;
            while (e < end && *e != ';')
                e++;
            size_t n = sizeof COOKIE_NAME;          /* name and '=' */
            if ((size_t)(e - p) > n && memcmp(p, COOKIE_NAME "=", n) == 0) {
                *len = (size_t)(e - p) - n;
                return p + n;
            }
            p = e;
        }
    }
    return NULL;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* "Authorization: Basic base64(user:password)" decoded into out (for Prometheus and scripts). */
static bool basic_auth(h2o_req_t *req, char *out, size_t outlen, size_t *n)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i == -1)
        return false;
    h2o_iovec_t v = req->headers.entries[i].value;
    if (v.len < 6 || strncasecmp(v.base, "Basic ", 6) != 0 || v.len > 6 + 4 * (outlen / 3))
        return false;
    unsigned acc = 0;
    int bits = 0;
    *n = 0;
    for (size_t k = 6; k < v.len && v.base[k] != '='; k++) {
        int d = b64val((unsigned char)v.base[k]);
        if (d < 0)
            return false;
        acc = (acc << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (*n + 1 >= outlen)
                return false;
            out[(*n)++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[*n] = 0;
    return true;
}

/* True when the request may use the API; otherwise answered (401 / 429). */
static bool check_login(rk_console_t *cs, h2o_req_t *req)
{
    if (!login_required(cs))
        return true;
    int64_t now = rk_now_ms();
    size_t tl;
    const char *tok = cookie_token(req, &tl);
    if (tok != NULL && find_session(cs, tok, tl, now) != NULL)
        return true;
    char cred[512];
    size_t cl;
    if (basic_auth(req, cred, sizeof cred, &cl)) {
        char ip[64];
        peer_ip(req, ip, sizeof ip);
        int64_t wait = locked_for(cs, ip, now);
        if (wait > 0) {
            send_error(req, 429, "too many failed logins from %s; try again in %" PRId64 " s", ip, wait);
            return false;
        }
        const char *colon = memchr(cred, ':', cl);
        if (colon != NULL && creds_ok(cs, cred, (size_t)(colon - cred), colon + 1, cl - (size_t)(colon - cred) - 1))
            return true;
        note_failure(cs, ip, now);
    }
    /* no WWW-Authenticate: a browser would then ask for and cache Basic credentials and send
     * them with any site's forged request; browsers log in with the cookie (SameSite=Strict) */
    send_error(req, 401, "log in first: POST /api/login {\"username\":...,\"password\":...}");
    return false;
}

static void set_cookie(h2o_req_t *req, const char *token, int64_t max_age_s)
{
    char *v = h2o_mem_alloc_pool(&req->pool, 200);
    int n = snprintf(v, 200, COOKIE_NAME "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%" PRId64, token, max_age_s);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SET_COOKIE, NULL, v, (size_t)n);
}

/* POST /api/login, POST /api/logout, GET /api/session: answered on the loop thread. */
static bool session_routes(rk_console_t *cs, h2o_req_t *req, const rk_api_req_t *r)
{
    if (r->nseg != 1)
        return false;
    int64_t now = rk_now_ms();
    if (strcmp(r->seg[0], "session") == 0) {
        size_t tl;
        const char *tok = cookie_token(req, &tl);
        bool in = !login_required(cs) || (tok != NULL && find_session(cs, tok, tl, now) != NULL);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddBoolToObject(j, "loginRequired", login_required(cs));
        cJSON_AddBoolToObject(j, "loggedIn", in);
        cJSON_AddBoolToObject(j, "readOnly", cs->sh.cfg.read_only);
        send_json(req, 200, j);
        cJSON_Delete(j);
        return true;
    }
    if (strcmp(r->seg[0], "logout") == 0) {
        if (r->method != RK_API_POST) {
            send_error(req, 405, "use POST");
            return true;
        }
        size_t tl;
        const char *tok = cookie_token(req, &tl);
        session_t *s = tok ? find_session(cs, tok, tl, now) : NULL;
        if (s != NULL)
            s->token[0] = 0;
        set_cookie(req, "", 0);
        send_body(req, 200, "application/json", "{}", 2);
        return true;
    }
    if (strcmp(r->seg[0], "login") != 0)
        return false;
    if (r->method != RK_API_POST) {
        send_error(req, 405, "use POST");
        return true;
    }
    if (!login_required(cs)) {
        send_body(req, 200, "application/json", "{\"loginRequired\":false}", 23);
        return true;
    }
    char ip[64];
    peer_ip(req, ip, sizeof ip);
    int64_t wait = locked_for(cs, ip, now);
    if (wait > 0) {
        send_error(req, 429, "too many failed logins from %s; try again in %" PRId64 " s", ip, wait);
        return true;
    }
    const char *u = rk_json_get_str(r->body, "username"), *p = rk_json_get_str(r->body, "password");
    if (u == NULL || p == NULL) {
        send_error(req, 400, "the body must be {\"username\":\"...\",\"password\":\"...\"}");
        return true;
    }
    if (!creds_ok(cs, u, strlen(u), p, strlen(p))) {
        note_failure(cs, ip, now);
        send_error(req, 401, "wrong user name or password");
        return true;
    }
    session_t *s = new_session(cs, now);
    if (s == NULL) {
        send_error(req, 500, "no random bytes for a session");
        return true;
    }
    set_cookie(req, s->token, cs->sh.cfg.session_ms / 1000);
    send_body(req, 200, "application/json", "{\"loggedIn\":true}", 17);
    return true;
}

/* At shutdown: the loop stops once no job runs (a job's worker uses the console) and no
 * connection is open (h2o's context cannot be disposed under one), or, past the grace
 * period, once no job runs. */
static void check_done(rk_console_t *cs)
{
    if (cs->stopping && cs->njobs == 0 && (cs->nconns == 0 || cs->stop_forced))
        uv_stop(&cs->loop);
}

/* ------------------------------------------------------------------ jobs */

static void on_req_dispose(void *p)
{
    job_t *j = *(job_t **)p;
    if (j != NULL)
        j->req = NULL;
}

static void job_work(uv_work_t *w)
{
    job_t *j = w->data;
    j->fn(j->cs, &j->in, &j->out);
    if (j->out.status == 0)
        j->out.status = 200;
    if (j->out.status >= 400) {
        cJSON *e = cJSON_CreateObject();
        rk__json_add_bytes(e, "error", j->out.error, strlen(j->out.error));
        j->text = e ? cJSON_PrintUnformatted(e) : NULL;
        cJSON_Delete(e);
    } else if (j->out.text != NULL) {
        j->text = j->out.text;
        j->len = j->out.text_len;
        j->out.text = NULL;
        return;
    } else {
        j->text = j->out.json ? cJSON_PrintUnformatted(j->out.json) : strdup("{}");
    }
    j->len = j->text ? strlen(j->text) : 0;
    j->out.ctype = "application/json";
}

static void job_done(uv_work_t *w, int status)
{
    job_t *j = w->data;
    rk_console_t *cs = j->cs;
    cs->njobs--;
    if (j->req != NULL) {
        *j->ref = NULL;
        if (status != 0 || j->text == NULL)
            send_error(j->req, 500, "the request could not be run");
        else
            send_body(j->req, j->out.status, j->out.ctype ? j->out.ctype : "application/json", j->text, j->len);
    }
    free(j->text);
    free(j->out.text);
    cJSON_Delete(j->out.json);
    api_req_free(&j->in);
    free(j);
    check_done(cs);
}

static void start_job(rk_console_t *cs, h2o_req_t *req, rk_api_fn fn, job_t *j)
{
    if (cs->njobs >= (size_t)cs->sh.cfg.max_jobs) {
        api_req_free(&j->in);
        free(j);
        send_error(req, 503, "the console is busy (%" PRId64 " requests in progress); try again", cs->sh.cfg.max_jobs);
        return;
    }
    j->cs = cs;
    j->req = req;
    j->fn = fn;
    j->work.data = j;
    j->ref = h2o_mem_alloc_shared(&req->pool, sizeof *j->ref, on_req_dispose);
    *j->ref = j;
    if (uv_queue_work(&cs->loop, &j->work, job_work, job_done) != 0) {
        *j->ref = NULL;
        api_req_free(&j->in);
        free(j);
        send_error(req, 500, "could not queue the request");
        return;
    }
    cs->njobs++;
}

/* ------------------------------------------------------------------ requests */

static const char not_built[] =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>rocklet console</title></head><body>"
    "<h1>rocklet console</h1><p>The web front end has not been built, so only the API is served here.</p>"
    "<p>Build it with <code>make ch12</code> on a machine with Node.js (it runs <code>npm ci &amp;&amp; npm run "
    "build</code> in <code>ch12-console/web</code>), then start mqconsole with <code>webDir=ch12-console/web/dist</code>."
    "</p><p>The API answers meanwhile: <a href=\"/api/cluster\">/api/cluster</a>, <a href=\"/api/topics\">/api/topics"
    "</a>, <a href=\"/metrics\">/metrics</a>.</p></body></html>\n";

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    rk_console_t *cs = ((handler_t *)self)->cs;
    h2o_iovec_t path = req->path;
    bool api = path.len >= 5 && memcmp(path.base, "/api/", 5) == 0;
    bool metrics = path.len >= 8 && memcmp(path.base, "/metrics", 8) == 0 && (path.len == 8 || path.base[8] == '?');
    if (!api && !metrics) {
        if (cs->web_built)
            return -1;                  /* the file handler next */
        bool root = path.len == 1 || (path.len >= 2 && path.base[1] == '?') ||
                    (path.len >= 11 && memcmp(path.base, "/index.html", 11) == 0);
        if (root)
            send_body(req, 200, "text/html; charset=utf-8", not_built, sizeof not_built - 1);
        else
            send_error(req, 404, "no such page (the web front end is not built; see /)");
        return 0;
    }
    if (path.len > PATH_LIMIT) {
        send_error(req, 414, "the request target is longer than %d bytes", PATH_LIMIT);
        return 0;
    }
    job_t *j = calloc(1, sizeof *j);
    if (j == NULL) {
        send_error(req, 503, "out of memory");
        return 0;
    }
    h2o_iovec_t m = req->method;
    j->in.method = h2o_memis(m.base, m.len, H2O_STRLIT("GET")) || h2o_memis(m.base, m.len, H2O_STRLIT("HEAD")) ? RK_API_GET
                   : h2o_memis(m.base, m.len, H2O_STRLIT("POST"))                                              ? RK_API_POST
                   : h2o_memis(m.base, m.len, H2O_STRLIT("DELETE"))                                            ? RK_API_DELETE
                                                                                                             : 0;
    char msg[256] = "";
    int st = 0;
    if (j->in.method == 0) {
        st = 405;
        snprintf(msg, sizeof msg, "method %.*s is not used here (GET, POST, DELETE)", (int)(m.len > 16 ? 16 : m.len),
                 m.base);
    } else if (api) {
        st = parse_target(path.base, path.len, &j->in, msg, sizeof msg);
    }
    if (st == 0 && req->entity.base != NULL && req->entity.len > 0) {
        ssize_t ct = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
        if (j->in.method == RK_API_GET) {
            st = 400;
            snprintf(msg, sizeof msg, "a GET has no body");
        } else if (ct == -1 || req->headers.entries[ct].value.len < 16 ||
                   strncasecmp(req->headers.entries[ct].value.base, "application/json", 16) != 0) {
            /* also what keeps another site's form from posting here (forms cannot send JSON) */
            st = 415;
            snprintf(msg, sizeof msg, "a request body must be Content-Type: application/json");
        } else if ((j->in.body = rk_json_parse(req->entity.base, req->entity.len)) == NULL) {
            st = 400;
            snprintf(msg, sizeof msg, "the body is not JSON");
        }
    }
    if (st != 0) {
        api_req_free(&j->in);
        free(j);
        send_error(req, st, "%s", msg);
        return 0;
    }
    if (api && session_routes(cs, req, &j->in)) {
        api_req_free(&j->in);
        free(j);
        return 0;
    }
    if (!check_login(cs, req)) {
        api_req_free(&j->in);
        free(j);
        return 0;
    }
    if (metrics) {
        if (j->in.method != RK_API_GET) {
            api_req_free(&j->in);
            free(j);
            send_error(req, 405, "use GET");
            return 0;
        }
        start_job(cs, req, rk__console_metrics, j);
        return 0;
    }
    bool known;
    const rk_api_route_t *rt = find_route(&j->in, &known);
    if (rt == NULL || (rt->change && cs->sh.cfg.read_only)) {
        api_req_free(&j->in);
        free(j);
        if (rt != NULL)
            send_error(req, 403, "the console is read-only (readOnly=true): no changes");
        else if (known)
            send_error(req, 405, "this path does not take %.*s", (int)(m.len > 16 ? 16 : m.len), m.base);
        else
            send_error(req, 404, "no such API path (see GET /api/ for the list)");
        return 0;
    }
    start_job(cs, req, rt->fn, j);
    return 0;
}

/* ------------------------------------------------------------------ connections */

static void on_conn_close(uv_handle_t *h)
{
    conn_t *c = (conn_t *)h;
    rk_console_t *cs = c->cs;
    cs->nconns--;
    free(c);
    check_done(cs);
}

static void on_plain_close(uv_handle_t *h)
{
    free(h);
}

static void on_accept(uv_stream_t *listener, int status)
{
    rk_console_t *cs = listener->data;
    if (status != 0)
        return;
    conn_t *c = calloc(1, sizeof *c);
    if (c == NULL || uv_tcp_init(&cs->loop, &c->tcp) != 0) {
        free(c);
        return;
    }
    c->cs = cs;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0 || cs->nconns >= (size_t)cs->sh.cfg.max_connections ||
        cs->stopping) {
        uv_close((uv_handle_t *)&c->tcp, on_plain_close);   /* over the limit: closed at once */
        return;
    }
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_conn_close);
    if (sock == NULL) {
        uv_close((uv_handle_t *)&c->tcp, on_plain_close);
        return;
    }
    cs->nconns++;
    h2o_accept(&cs->actx, sock);
}

static void on_stop_timer(uv_timer_t *t)
{
    rk_console_t *cs = t->data;
    cs->stop_forced = true;             /* idle keep-alive connections are left behind */
    check_done(cs);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    rk_console_t *cs = s->data;
    if (cs->stopping)
        return;
    cs->stopping = true;
    rk_log_info("console", "stopping");
    if (cs->listening) {
        uv_close((uv_handle_t *)&cs->listener, NULL);
        cs->listening = false;
    }
    uv_signal_stop(&cs->sigterm);
    uv_signal_stop(&cs->sigint);
    /* connections close after their request in progress; idle ones at their timeout or the
     * end of the grace period */
    h2o_context_request_shutdown(&cs->hctx);
    uv_timer_start(&cs->stop_timer, on_stop_timer, 6000, 0);     /* past h2o's idle timeout */
    check_done(cs);
}

/* ------------------------------------------------------------------ life */

static bool dir_has_index(const char *dir)
{
    char p[PATH_MAX];
    struct stat st;
    return dir != NULL && dir[0] && snprintf(p, sizeof p, "%s/index.html", dir) < (int)sizeof p && stat(p, &st) == 0 &&
           S_ISREG(st.st_mode);
}

/* webDir not set: the front end built in the source tree the program was built in
 * (build/chNN/bin/mqconsole or build/bin/mqconsole -> ch12-console/web/dist), if it is there. */
static bool find_web_dir(char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = 0;
    for (int up = 0; up < 5; up++) {
        char *slash = strrchr(exe, '/');
        if (slash == NULL)
            return false;
        *slash = 0;
        if (snprintf(out, len, "%s/ch12-console/web/dist", exe) < (int)len && dir_has_index(out))
            return true;
    }
    return false;
}

int rk_console_new(rk_kv_t *kv, rk_console_t **out, char *err, size_t errlen)
{
    *out = NULL;
    rk_console_t *cs = calloc(1, sizeof *cs);
    if (cs == NULL)
        return RK_ENOMEM;
    rk_console_config_t *cfg = &cs->sh.cfg;
    int rc = rk_config_defaults(rk_console_config_fields, cfg);
    if (rc == RK_OK)
        rc = rk_config_apply(rk_console_config_fields, cfg, kv, err, errlen);
    if (rc == RK_OK && (cfg->namesrv == NULL || !cfg->namesrv[0])) {
        snprintf(err, errlen, "namesrvAddr is required (-n host:port)");
        rc = RK_EBADCONFIG;
    }
    if (rc == RK_OK && cfg->user[0] && !cfg->password[0]) {
        snprintf(err, errlen, "consoleUser is set but consolePassword is empty");
        rc = RK_EBADCONFIG;
    }
    if (rc != RK_OK) {
        rk_config_free(rk_console_config_fields, cfg);
        free(cs);
        return rc;
    }
    uv_mutex_init(&cs->sh.metrics_mu);
    uv_mutex_init(&cs->sh.rates_mu);
    rk_strmap_init(&cs->sh.rates);
    uv_mutex_init(&cs->sh.offsets_mu);
    rk_strmap_init(&cs->sh.offsets);
    rk_mqclient_config_t mc = {.namesrv = cfg->namesrv, .instance_name = "mqconsole",
                               .timeout_ms = (int)cfg->broker_timeout_ms};
    if ((rc = rk_mqclient_new(&mc, &cs->sh.mq)) != RK_OK) {
        snprintf(err, errlen, "bad name server list %s: %s", cfg->namesrv, rk_strerror(rc));
        rk_console_free(cs);
        return rc;
    }
    if (uv_loop_init(&cs->loop) != 0) {
        snprintf(err, errlen, "uv_loop_init failed");
        rk_console_free(cs);
        return RK_ENOMEM;
    }
    h2o_config_init(&cs->hconf);
    cs->hconf.max_request_entity_size = (size_t)cfg->max_body;
    cs->hconf.http1.req_timeout = 5000;    /* also the idle keep-alive timeout */
    h2o_hostconf_t *host = h2o_config_register_host(&cs->hconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    handler_t *h = (handler_t *)h2o_create_handler(pc, sizeof *h);
    h->super.on_req = on_req;
    h->cs = cs;
    char found[PATH_MAX];
    const char *web = cfg->web_dir;
    if (!web[0] && find_web_dir(found, sizeof found))
        web = found;
    cs->web_built = dir_has_index(web);
    if (cs->web_built) {
        h2o_file_register(pc, web, NULL, NULL, 0);
        rk_log_info("console", "serving the front end from %s", web);
    }
    h2o_context_init(&cs->hctx, &cs->loop, &cs->hconf);
    cs->hctx_ready = true;
    cs->actx.ctx = &cs->hctx;
    cs->actx.hosts = cs->hconf.hosts;

    struct sockaddr_storage addr;
    if (uv_ip4_addr(cfg->listen_host, (int)cfg->listen_port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(cfg->listen_host, (int)cfg->listen_port, (struct sockaddr_in6 *)&addr) != 0) {
        snprintf(err, errlen, "listenHost %s is not an IP address", cfg->listen_host);
        rk_console_free(cs);
        return RK_EBADCONFIG;
    }
    uv_tcp_init(&cs->loop, &cs->listener);
    cs->listener.data = cs;
    cs->listening = true;
    int u = uv_tcp_bind(&cs->listener, (struct sockaddr *)&addr, 0);
    if (u == 0)
        u = uv_listen((uv_stream_t *)&cs->listener, 128, on_accept);
    if (u != 0) {
        snprintf(err, errlen, "cannot listen on %s:%" PRId64 ": %s", cfg->listen_host, cfg->listen_port, uv_strerror(u));
        rk_console_free(cs);
        return RK_EBADCONFIG;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&cs->listener, (struct sockaddr *)&bound, &blen);
    cs->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                 : ((struct sockaddr_in *)&bound)->sin_port);
    uv_signal_init(&cs->loop, &cs->sigterm);
    uv_signal_init(&cs->loop, &cs->sigint);
    cs->sigterm.data = cs->sigint.data = cs;
    uv_signal_start(&cs->sigterm, on_signal, SIGTERM);
    uv_signal_start(&cs->sigint, on_signal, SIGINT);
    uv_timer_init(&cs->loop, &cs->stop_timer);
    cs->stop_timer.data = cs;
    *out = cs;
    return RK_OK;
}

int rk_console_run(rk_console_t *cs)
{
    uv_run(&cs->loop, UV_RUN_DEFAULT);
    return RK_OK;
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static int free_rate(const char *key, void *value, void *ctx)
{
    (void)key;
    (void)ctx;
    free(value);
    return 0;
}

/* h2o asserts that its timeouts are empty when its context is disposed; a shutdown request
 * leaves entries in them (the graceful-shutdown timer) even with no connection open, and a
 * closing socket leaves one until its close completes. Runs the loop until every list is
 * empty, for at most 3 s; false if entries remain (then the context is not disposed). */
static bool h2o_timeouts_empty(h2o_context_t *c)
{
    h2o_timeout_t *t[] = {&c->zero_timeout, &c->one_sec_timeout, &c->hundred_ms_timeout, &c->handshake_timeout,
                          &c->http1.req_timeout, &c->http2.idle_timeout, &c->http2.graceful_shutdown_timeout,
                          &c->proxy.io_timeout};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!h2o_linklist_is_empty(&t[i]->_entries))
            return false;
    return true;
}

static bool h2o_timeouts_drained(rk_console_t *cs)
{
    uint64_t end = uv_now(&cs->loop) + 3000;
    for (int i = 0; i < 10; i++)
        uv_run(&cs->loop, UV_RUN_NOWAIT);
    while (!h2o_timeouts_empty(&cs->hctx) && uv_now(&cs->loop) < end) {
        uv_sleep(10);
        uv_run(&cs->loop, UV_RUN_NOWAIT);
    }
    return h2o_timeouts_empty(&cs->hctx);
}

void rk_console_free(rk_console_t *cs)
{
    if (cs == NULL)
        return;
    if (cs->hctx_ready && cs->nconns == 0 && h2o_timeouts_drained(cs)) {
        h2o_context_dispose(&cs->hctx);
        h2o_config_dispose(&cs->hconf);
        uv_walk(&cs->loop, close_any, NULL);
        uv_run(&cs->loop, UV_RUN_DEFAULT);
        uv_loop_close(&cs->loop);
    }
    /* else: connections outlived the grace period; h2o cannot dispose of its context under
     * them, so its memory goes with the process */
    rk_mqclient_free(cs->sh.mq);
    rk_strmap_foreach(&cs->sh.rates, free_rate, NULL);
    rk_strmap_free(&cs->sh.rates, NULL);
    uv_mutex_destroy(&cs->sh.metrics_mu);
    uv_mutex_destroy(&cs->sh.rates_mu);
    rk__offsets_cache_free(&cs->sh);
    uv_mutex_destroy(&cs->sh.offsets_mu);
    free(cs->sh.metrics_text);
    rk_config_free(rk_console_config_fields, &cs->sh.cfg);
    free(cs);
}
