/* console_testkit.h — for chapter 12's tests and benchmark only: a small blocking HTTP/1.1
 * client (keep-alive, Content-Length bodies, which is all mqconsole sends) and a helper that
 * starts mqconsole on a free loopback port.
 *
 * Memory: a response's body is malloc'ed and freed by ck_resp_free. No global state. */
#ifndef RK_CONSOLE_TESTKIT_H
#define RK_CONSOLE_TESTKIT_H

#include <stddef.h>
#include <sys/types.h>

typedef struct ck_conn {
    int fd;                         /* -1: not connected (connects on the next request) */
    int port;
} ck_conn_t;

typedef struct ck_resp {
    int status;                     /* 0: no (complete) answer */
    char head[4096];                /* status line and headers, NUL-terminated */
    char *body;                     /* NUL-terminated */
    size_t len;
} ck_resp_t;

void ck_conn_init(ck_conn_t *c, int port);
void ck_conn_close(ck_conn_t *c);
/* One request on c (reconnecting once if the server closed it). extra_headers: "Name: v\r\n"...
 * or NULL; body may be NULL. Returns 0, or -1 when no complete answer came (10 s). */
int ck_request(ck_conn_t *c, const char *method, const char *target, const char *extra_headers, const char *body,
               ck_resp_t *r);
/* The same on a fresh connection, closed after. */
int ck_http(int port, const char *method, const char *target, const char *extra_headers, const char *body,
            ck_resp_t *r);
void ck_resp_free(ck_resp_t *r);
/* A header's value (case-insensitive name) copied into buf; NULL when absent. */
const char *ck_header(const ck_resp_t *r, const char *name, char *buf, size_t len);

/* Writes dir/console.conf (namesrvAddr, a free listenPort, then extra_conf lines), starts bin
 * with it (log: dir/console.log) and waits for its port. Returns the pid (-1 on failure). */
pid_t ck_console_start(const char *bin, const char *dir, const char *tag, const char *ns, const char *extra_conf,
                       int *port);

#endif
