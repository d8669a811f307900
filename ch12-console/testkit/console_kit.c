/* console_kit.c — see rk/console_testkit.h. */
#include "rk/console_testkit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rk/testkit.h"

#define TIMEOUT_MS 10000

void ck_conn_init(ck_conn_t *c, int port)
{
    c->fd = -1;
    c->port = port;
}

void ck_conn_close(ck_conn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static ssize_t recv_some(int fd, char *buf, size_t n)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int rc = poll(&p, 1, TIMEOUT_MS);
    if (rc <= 0)
        return -1;
    ssize_t r;
    do
        r = recv(fd, buf, n, 0);
    while (r < 0 && errno == EINTR);
    return r;
}

const char *ck_header(const ck_resp_t *r, const char *name, char *buf, size_t len)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p != NULL; p = strstr(p, "\r\n")) {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t n = e ? (size_t)(e - v) : strlen(v);
            snprintf(buf, len, "%.*s", (int)n, v);
            return buf;
        }
    }
    return NULL;
}

static int once(ck_conn_t *c, const char *req, size_t reqlen, ck_resp_t *r)
{
    if (c->fd < 0 && (c->fd = dial(c->port)) < 0)
        return -1;
    if (send_all(c->fd, req, reqlen) != 0)
        return -1;
    size_t have = 0;
    char *end = NULL;
    while (end == NULL) {
        if (have + 1 >= sizeof r->head)
            return -1;
        ssize_t n = recv_some(c->fd, r->head + have, sizeof r->head - 1 - have);
        if (n <= 0)
            return -1;
        have += (size_t)n;
        r->head[have] = 0;
        end = strstr(r->head, "\r\n\r\n");
    }
    size_t hlen = (size_t)(end - r->head) + 4;
    if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
        return -1;
    char v[64];
    long long clen = ck_header(r, "content-length", v, sizeof v) ? atoll(v) : -1;
    bool close_after = ck_header(r, "connection", v, sizeof v) && strcasecmp(v, "close") == 0;
    size_t cap = clen >= 0 ? (size_t)clen + 1 : 65536, blen = have - hlen;
    r->body = malloc(cap > blen + 1 ? cap : blen + 1);
    if (r->body == NULL)
        return -1;
    memcpy(r->body, r->head + hlen, blen);
    r->head[hlen] = 0;
    while (clen < 0 || blen < (size_t)clen) {
        if (blen + 1 >= cap) {
            if (clen >= 0)
                break;
            char *nb = realloc(r->body, cap * 2);
            if (nb == NULL)
                return -1;
            r->body = nb;
            cap *= 2;
        }
        ssize_t n = recv_some(c->fd, r->body + blen, cap - 1 - blen);
        if (n < 0)
            return -1;
        if (n == 0) {
            if (clen >= 0)
                return -1;
            close_after = true;
            break;
        }
        blen += (size_t)n;
    }
    r->body[blen] = 0;
    r->len = blen;
    if (close_after)
        ck_conn_close(c);
    return 0;
}

int ck_request(ck_conn_t *c, const char *method, const char *target, const char *extra_headers, const char *body,
               ck_resp_t *r)
{
    memset(r, 0, sizeof *r);
    size_t blen = body ? strlen(body) : 0;
    size_t cap = strlen(method) + strlen(target) + (extra_headers ? strlen(extra_headers) : 0) + blen + 256;
    char *req = malloc(cap);
    if (req == NULL)
        return -1;
    int n = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%zu\r\n\r\n", method, target,
                     extra_headers ? extra_headers : "", body ? "Content-Type: application/json\r\nContent-Length: "
                                                               : "Content-Length: ", blen);
    if (body)
        memcpy(req + n, body, blen);
    int rc = -1;
    for (int attempt = 0; attempt < 2 && rc != 0; attempt++) {
        bool fresh = c->fd < 0;
        ck_resp_free(r);
        rc = once(c, req, (size_t)n + blen, r);
        if (rc != 0) {
            ck_conn_close(c);
            if (fresh)
                break;                  /* a new connection failed: no point in another */
        }
    }
    free(req);
    if (rc != 0)
        r->status = 0;
    return rc;
}

int ck_http(int port, const char *method, const char *target, const char *extra_headers, const char *body,
            ck_resp_t *r)
{
    ck_conn_t c;
    ck_conn_init(&c, port);
    int rc = ck_request(&c, method, target, extra_headers, body, r);
    ck_conn_close(&c);
    return rc;
}

void ck_resp_free(ck_resp_t *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

pid_t ck_console_start(const char *bin, const char *dir, const char *tag, const char *ns, const char *extra_conf,
                       int *port)
{
    char conf[600], log[600];
    snprintf(conf, sizeof conf, "%s/%s.conf", dir, tag);
    snprintf(log, sizeof log, "%s/%s.log", dir, tag);
    *port = rk_tk_free_port();
    FILE *f = fopen(conf, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "namesrvAddr=%s\nlistenHost=127.0.0.1\nlistenPort=%d\n%s\n", ns, *port, extra_conf ? extra_conf : "");
    fclose(f);
    char *argv[] = {(char *)bin, "-c", conf, NULL};
    pid_t pid = rk_tk_spawn(argv, log);
    if (pid > 0 && !rk_tk_wait_port(*port, 10000)) {
        rk_tk_stop(pid, 5000);
        return -1;
    }
    return pid;
}
