/* bench_route.c — GET_ROUTEINFO_BY_TOPIC round trips over loopback, next to a bare TCP echo.
 *
 * Both servers are driven the same way: N client threads, each on its own
 * connection, send one frame and wait for the answer, for a fixed time. The
 * echo server (libuv, no decoding) is the ceiling; the name server adds the
 * frame codec, the processor and the route JSON. Prints figures only. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/grow.h"
#include "rk/log.h"
#include "rk/namesrv.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

#define SECONDS 2

/* ---- a bare libuv echo server ---- */
static uv_loop_t echo_loop;
static uv_tcp_t echo_srv;
static uv_async_t echo_stop;
static int echo_port;

typedef struct {
    uv_tcp_t tcp;
    char buf[65536];
} echo_conn_t;

static void echo_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    (void)s;
    echo_conn_t *c = h->data;
    *b = uv_buf_init(c->buf, sizeof c->buf);
}

static void echo_written(uv_write_t *w, int st)
{
    (void)st;
    free(w);
}

static void echo_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n < 0) {
        uv_close((uv_handle_t *)s, (uv_close_cb)free);
        return;
    }
    uv_write_t *w = malloc(sizeof *w + (size_t)n);
    memcpy(w + 1, b->base, (size_t)n);
    uv_buf_t out = uv_buf_init((char *)(w + 1), (unsigned)n);
    uv_write(w, s, &out, 1, echo_written);
}

static void echo_accept(uv_stream_t *srv, int st)
{
    if (st < 0)
        return;
    echo_conn_t *c = calloc(1, sizeof *c);
    uv_tcp_init(&echo_loop, &c->tcp);
    c->tcp.data = c;
    uv_accept(srv, (uv_stream_t *)&c->tcp);
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, echo_alloc, echo_read);
}

static void close_all(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->type == UV_TCP && h != (uv_handle_t *)&echo_srv ? (uv_close_cb)free : NULL);
}

static void echo_on_stop(uv_async_t *a)
{
    uv_walk(a->loop, close_all, NULL);
}

static void echo_main(void *arg)
{
    (void)arg;
    uv_run(&echo_loop, UV_RUN_DEFAULT);
}

/* ---- load generator ---- */
typedef struct {
    int port;
    const uint8_t *req;
    size_t req_len;
    uint64_t *lat;          /* ns per round trip */
    size_t n, cap;
} worker_t;

static void worker(void *arg)
{
    worker_t *w = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)w->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect");
        close(fd);
        return;
    }
    uint8_t buf[65536];
    uint64_t end = rk_mono_ns() + SECONDS * 1000000000ull;
    for (uint64_t t0; (t0 = rk_mono_ns()) < end;) {
        if (write(fd, w->req, w->req_len) != (ssize_t)w->req_len)
            break;
        size_t got = 0, need = 4;
        while (got < need) {
            ssize_t r = read(fd, buf + got, sizeof buf - got);
            if (r <= 0)
                goto out;
            got += (size_t)r;
            if (got >= 4)
                need = 4 + rk_be_get32(buf);
        }
        if (RK_GROW(w->lat, w->cap, w->n + 1, 4096) != RK_OK)
            break;                      /* out of memory: report what was measured */
        w->lat[w->n++] = rk_mono_ns() - t0;
    }
out:
    close(fd);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static double run(const char *label, int port, const uint8_t *req, size_t len, int threads, double ceiling)
{
    worker_t *w = calloc((size_t)threads, sizeof *w);
    uv_thread_t *t = calloc((size_t)threads, sizeof *t);
    for (int i = 0; i < threads; i++) {
        w[i] = (worker_t){.port = port, .req = req, .req_len = len};
        uv_thread_create(&t[i], worker, &w[i]);
    }
    size_t total = 0;
    for (int i = 0; i < threads; i++) {
        uv_thread_join(&t[i]);
        total += w[i].n;
    }
    uint64_t *all = malloc((total + 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + k, w[i].lat, w[i].n * sizeof *all);
        k += w[i].n;
        free(w[i].lat);
    }
    qsort(all, total, sizeof *all, cmp_u64);
    double rps = (double)total / SECONDS;
    printf("%-28s %3d conn  %9.0f req/s  p50 %6.1f us  p99 %7.1f us", label, threads, rps,
           total ? all[total / 2] / 1e3 : 0, total ? all[total * 99 / 100] / 1e3 : 0);
    if (ceiling > 0)
        printf("  %5.1f%% of echo", 100 * rps / ceiling);
    printf("\n");
    free(all);
    free(w);
    free(t);
    return rps;
}

int main(void)
{
    rk_log_init(RK_LOG_WARN, NULL);
    char dir[256];
    rk_tk_tmpdir(dir, sizeof dir, "bench06");
    char kvpath[300];
    snprintf(kvpath, sizeof kvpath, "%s/kv.json", dir);
    rk_namesrv_config_t cfg;
    rk_config_defaults(rk_namesrv_config_fields, &cfg);
    cfg.listen_port = 0;
    free(cfg.listen_host);
    cfg.listen_host = strdup("127.0.0.1");
    free(cfg.kv_config_path);
    cfg.kv_config_path = strdup(kvpath);
    rk_namesrv_t *ns;
    char err[200];
    if (rk_namesrv_start(&cfg, NULL, &ns, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", rk_namesrv_port(ns));
    /* one broker serving the topic */
    rk_rclient_t *cl;
    rk_rclient_new(&cl);
    rk_cmd_t *reg = rk_cmd_new(RK_REQ_REGISTER_BROKER), *resp = NULL;
    rk_cmd_ext_set(reg, "brokerName", "broker-a");
    rk_cmd_ext_set(reg, "brokerAddr", "127.0.0.1:10911");
    rk_cmd_ext_set(reg, "clusterName", "DefaultCluster");
    rk_cmd_ext_set(reg, "brokerId", "0");
    const char *body = "{\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":1,\"timestamp\":1},"
                       "\"topicConfigTable\":{\"TopicTest\":{\"perm\":6,\"readQueueNums\":8,\"writeQueueNums\":8}}}}";
    rk_cmd_set_body(reg, body, strlen(body));
    if (rk_rclient_invoke_sync(cl, addr, reg, 3000, &resp) != 0 || resp->code != 0) {
        fprintf(stderr, "register failed\n");
        return 1;
    }
    rk_cmd_free(resp);
    rk_cmd_t *q = rk_cmd_new(RK_REQ_GET_ROUTEINFO_BY_TOPIC);
    rk_cmd_ext_set(q, "topic", "TopicTest");
    rk_buf_t frame = {0};
    rk_cmd_encode(q, &frame);
    rk_cmd_free(q);
    /* the echo server */
    uv_loop_init(&echo_loop);
    uv_tcp_init(&echo_loop, &echo_srv);
    struct sockaddr_in ea;
    uv_ip4_addr("127.0.0.1", 0, &ea);
    uv_tcp_bind(&echo_srv, (struct sockaddr *)&ea, 0);
    uv_listen((uv_stream_t *)&echo_srv, 256, echo_accept);
    struct sockaddr_in bound;
    int bl = sizeof bound;
    uv_tcp_getsockname(&echo_srv, (struct sockaddr *)&bound, &bl);
    echo_port = ntohs(bound.sin_port);
    uv_async_init(&echo_loop, &echo_stop, echo_on_stop);
    uv_thread_t et;
    uv_thread_create(&et, echo_main, NULL);

    printf("rocklet ch06 benchmark: %d s per run, %zu-byte request frame\n", SECONDS, frame.len);
    double e1 = run("bare TCP echo", echo_port, frame.data, frame.len, 1, 0);
    run("GET_ROUTEINFO_BY_TOPIC", rk_namesrv_port(ns), frame.data, frame.len, 1, e1);
    double e64 = run("bare TCP echo", echo_port, frame.data, frame.len, 64, 0);
    run("GET_ROUTEINFO_BY_TOPIC", rk_namesrv_port(ns), frame.data, frame.len, 64, e64);

    uv_async_send(&echo_stop);
    uv_thread_join(&et);
    uv_loop_close(&echo_loop);
    rk_buf_free(&frame);
    rk_rclient_free(cl);
    rk_namesrv_stop(ns);
    rk_config_free(rk_namesrv_config_fields, &cfg);
    rk_tk_rmtree(dir);
    return 0;
}
