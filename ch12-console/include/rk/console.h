/* console.h — mqconsole: rocklet's web console, its HTTP/JSON API and /metrics for Prometheus.
 *
 *   browser / script / Prometheus ──HTTP/1.1──▶ mqconsole (libh2o on a libuv loop)
 *        │                                        │ parse, log in, limits (loop thread)
 *        │                                        ▼
 *        │                           a job on libuv's worker pool: chapter 7's SDK and
 *        │                           admin requests ──▶ name servers ──▶ brokers
 *        ◀────────────── JSON / text ◀── answered back on the loop thread
 *
 * mqconsole is a program of its own, like RocketMQ Dashboard: it knows the cluster only
 * through the name servers, so a slow page or a console crash never touches a broker.
 * The loop thread never waits on the cluster: each API request becomes a job; at most
 * maxPendingRequests jobs wait or run (more: 503).
 *
 * Settings (console.conf, key=value; see rk_console_config_fields for ranges and defaults):
 *   namesrvAddr, listenHost, listenPort, webDir, consoleUser, consolePassword, readOnly,
 *   maxConnections, maxRequestBodyBytes, maxPendingRequests, maxResults, brokerTimeoutMs,
 *   metricsCacheMs, sessionTimeoutMs.
 *
 * Memory: the console owns its config, client, caches and sessions; rk_console_free releases
 * them. No global state. */
#ifndef RK_CONSOLE_H
#define RK_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

#include "rk/config.h"

typedef struct rk_console_config {
    char *namesrv;              /* namesrvAddr: "host:port;host:port" (required) */
    char *listen_host;          /* listenHost: 127.0.0.1 (a console is an operator's tool) */
    int64_t listen_port;        /* listenPort: 8080 */
    char *web_dir;              /* webDir: the built front end (web/dist); "" = none */
    char *user;                 /* consoleUser: "" = no login */
    char *password;             /* consolePassword */
    bool read_only;             /* readOnly: every change answered 403 */
    int64_t max_connections;    /* maxConnections: open HTTP connections at once */
    int64_t max_body;           /* maxRequestBodyBytes: a request body larger is answered 413 */
    int64_t max_jobs;           /* maxPendingRequests: API requests waiting or running (503 past it) */
    int64_t max_results;        /* maxResults: the most rows a list or a page answers */
    int64_t broker_timeout_ms;  /* brokerTimeoutMs: per request to a name server or a broker */
    int64_t metrics_cache_ms;   /* metricsCacheMs: /metrics figures reused this long */
    int64_t session_ms;         /* sessionTimeoutMs: a login lasts this long */
} rk_console_config_t;

extern const rk_config_field_t rk_console_config_fields[];

typedef struct rk_console rk_console_t;

/* Reads the settings from kv, connects the client, listens. err gets a one-line reason. */
int rk_console_new(rk_kv_t *kv, rk_console_t **out, char *err, size_t errlen);
/* Serves until SIGTERM/SIGINT (or rk_console_stop from the loop thread). */
int rk_console_run(rk_console_t *cs);
void rk_console_free(rk_console_t *cs);
/* The port it listens on (useful with listenPort=0). */
int rk_console_port(const rk_console_t *cs);

/* mqconsole's main: mqconsole [-c FILE] [-n NAMESRV] [-l PORT] [-p] [-h]. */
int rk_console_main(int argc, char **argv);

#endif
