/* bench_console — what the console costs and how fast it answers, on a real name server,
 * chapter 9's broker and mqconsole on loopback:
 *
 *   1. 1 000 topics x 8 queues, 100 groups (each with offsets in 10 topics) and one group with
 *      offsets in every queue; then GET /api/cluster and GET /api/groups/{group} (the lag page)
 *      from 4 keep-alive clients: requests/s, p50, p99;
 *   2. the console's RSS after that;
 *   3. what a scrape costs the broker in CPU time (utime + stime of the broker process from
 *      /proc/PID/stat), with no send load: an idle window, BENCH_SCRAPES scrapes of /metrics one
 *      per second through a console that builds every scrape (metricsCacheMs=0, so each reaches
 *      the broker), another idle window; the broker's CPU in the scrape window minus its idle
 *      rate (mean of the two idle windows) over the same time = the CPU the scrapes cost; then
 *      the requests a scrape sends, sent back to back (and the per-topic GET_TOPIC_STATS_INFO a
 *      scrape of a broker without GET_ALL_TOPIC_STATS sends), each priced the same way;
 *   4. the broker's send throughput (2 producer threads, synchronous sends) without scraping, with
 *      a /metrics scrape every second from a console with the default 5 s cache, and from one
 *      that builds every scrape (metricsCacheMs=0): A/B/C/A/B/C, with the broker's CPU ms per
 *      second in each window (row A's is the yardstick for 3). On a shared machine the
 *      throughputs are noisy (±20 %); the CPU figures of 3 are not disturbed by other processes.
 *
 * Prints figures; asserts nothing. BENCH_TOPICS, BENCH_GROUPS, BENCH_REQS, BENCH_WINDOW_S,
 * BENCH_SCRAPES override the sizes. */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/broker.h"
#include "rk/clock.h"
#include "rk/console_testkit.h"
#include "rk/error.h"
#include "rk/json.h"
#include "rk/producer.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

#define CLIENTS 4

static char bindir[1024], nsbin[1200], brbin[1200], csbin[1200];

static int64_t now_us(void)
{
    return (int64_t)(rk_mono_ns() / 1000);
}

/* The programs next to this one: build/ch12/bin, ../../ch06/bin, ../../ch11/bin (the newest broker). */
static int find_bins(void)
{
    ssize_t n = readlink("/proc/self/exe", bindir, sizeof bindir - 1);
    if (n <= 0)
        return -1;
    bindir[n] = 0;
    *strrchr(bindir, '/') = 0;
    snprintf(nsbin, sizeof nsbin, "%s/../../ch06/bin/mqnamesrv", bindir);
    snprintf(brbin, sizeof brbin, "%s/../../ch11/bin/mqbroker", bindir);
    snprintf(csbin, sizeof csbin, "%s/mqconsole", bindir);
    return 0;
}

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && atoi(v) > 0 ? atoi(v) : def;
}

typedef struct bench {
    char dir[256], ns[32], br[32];
    pid_t ns_pid, br_pid, cs_pid;
    int cs_port;
    rk_rclient_t *rc;
} bench_t;

static int call(bench_t *b, rk_cmd_t *req)
{
    rk_cmd_t *resp = NULL;
    int rc = rk_rclient_invoke_sync(b->rc, b->br, req, 30000, &resp);
    if (rc == RK_OK && resp->code != 0)
        rc = RK_EPROTO;
    rk_cmd_free(resp);
    return rc;
}

static int start_cluster(bench_t *b)
{
    if (rk_tk_tmpdir(b->dir, sizeof b->dir, "bench-console") != 0)
        return -1;
    int nsp = rk_tk_free_port(), brp = rk_tk_free_port(), hap;
    do
        hap = rk_tk_free_port();
    while (hap == brp || hap == nsp);
    snprintf(b->ns, sizeof b->ns, "127.0.0.1:%d", nsp);
    snprintf(b->br, sizeof b->br, "127.0.0.1:%d", brp);
    char path[400], log[400];
    snprintf(path, sizeof path, "%s/ns.conf", b->dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "listenPort=%d\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv.json\n", nsp, b->dir);
    fclose(f);
    snprintf(log, sizeof log, "%s/ns.log", b->dir);
    char *nsargv[] = {nsbin, "-c", path, NULL};
    b->ns_pid = rk_tk_spawn(nsargv, log);
    if (b->ns_pid <= 0 || !rk_tk_wait_port(nsp, 5000))
        return -1;
    char bconf[400];
    snprintf(bconf, sizeof bconf, "%s/broker.conf", b->dir);
    f = fopen(bconf, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "brokerClusterName=BenchCluster\nbrokerName=broker-b\nbrokerId=0\nnamesrvAddr=%s\nbrokerIP1=127.0.0.1\n"
               "listenHost=127.0.0.1\nlistenPort=%d\nhaListenPort=%d\nstorePathRootDir=%s/store\n"
               "registerNameServerPeriod=5000\n", b->ns, brp, hap, b->dir);
    fclose(f);
    snprintf(log, sizeof log, "%s/broker.log", b->dir);
    char *brargv[] = {brbin, "-c", bconf, NULL};
    b->br_pid = rk_tk_spawn(brargv, log);
    if (b->br_pid <= 0 || !rk_tk_wait_port(brp, 10000))
        return -1;
    return rk_rclient_new(&b->rc);
}

static void stop_all(bench_t *b)
{
    if (b->cs_pid > 0)
        rk_tk_stop(b->cs_pid, 10000);
    if (b->br_pid > 0)
        rk_tk_stop(b->br_pid, 20000);
    if (b->ns_pid > 0)
        rk_tk_stop(b->ns_pid, 5000);
    if (b->rc)
        rk_rclient_free(b->rc);
    if (getenv("RK_KEEP_TMP") == NULL && b->dir[0])
        rk_tk_rmtree(b->dir);
}

/* ---------------------------------------------------------------- HTTP load */

typedef struct load {
    int port;
    const char *const *targets;
    int ntargets, per_client;
    int64_t *lat_us;                    /* CLIENTS * per_client */
    _Atomic int errors;
} load_t;

typedef struct client_arg {
    load_t *l;
    int idx;
} client_arg_t;

static void *client_main(void *arg)
{
    client_arg_t *a = arg;
    load_t *l = a->l;
    ck_conn_t c;
    ck_conn_init(&c, l->port);
    for (int i = 0; i < l->per_client; i++) {
        const char *t = l->targets[(a->idx * l->per_client + i) % l->ntargets];
        int64_t t0 = now_us();
        ck_resp_t r;
        if (ck_request(&c, "GET", t, NULL, NULL, &r) != 0 || r.status != 200) {
            if (atomic_fetch_add(&l->errors, 1) == 0)
                fprintf(stderr, "first error: GET %s: %d %.200s\n", t, r.status, r.body ? r.body : "");
        }
        ck_resp_free(&r);
        l->lat_us[a->idx * l->per_client + i] = now_us() - t0;
    }
    ck_conn_close(&c);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void run_load(const char *what, int port, const char *const *targets, int ntargets, int total)
{
    load_t l = {.port = port, .targets = targets, .ntargets = ntargets, .per_client = total / CLIENTS};
    l.lat_us = calloc((size_t)CLIENTS * l.per_client, sizeof *l.lat_us);
    pthread_t th[CLIENTS];
    client_arg_t args[CLIENTS];
    int64_t t0 = now_us();
    for (int i = 0; i < CLIENTS; i++) {
        args[i] = (client_arg_t){&l, i};
        pthread_create(&th[i], NULL, client_main, &args[i]);
    }
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(th[i], NULL);
    double secs = (double)(now_us() - t0) / 1e6;
    int n = CLIENTS * l.per_client;
    qsort(l.lat_us, (size_t)n, sizeof *l.lat_us, cmp_i64);
    printf("%-34s %6d requests  %8.1f req/s  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  errors %d\n", what, n,
           n / secs, l.lat_us[n / 2] / 1000.0, l.lat_us[(n * 99) / 100] / 1000.0, l.lat_us[n - 1] / 1000.0,
           atomic_load(&l.errors));
    free(l.lat_us);
}

/* ---------------------------------------------------------------- send throughput */

typedef struct sender {
    const char *ns;
    _Atomic bool stop;
    _Atomic int64_t sent;
} sender_t;

static void *send_main(void *arg)
{
    sender_t *s = arg;
    rk_producer_config_t cfg = {.namesrv = s->ns, .group = "bench_console_p", .instance_name = NULL};
    rk_producer_t *p;
    if (rk_producer_new(&cfg, &p) != RK_OK)
        return NULL;
    char body[256];
    memset(body, 'x', sizeof body);
    while (!atomic_load(&s->stop)) {
        rk_message_t m = {.topic = "BenchSend", .body = body, .body_len = sizeof body};
        rk_send_result_t r;
        if (rk_producer_send(p, &m, &r) == RK_OK)
            atomic_fetch_add(&s->sent, 1);
    }
    rk_producer_free(p);
    return NULL;
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

/* The CPU time a process spent so far, user + system, all its threads: fields 14 and 15 of
 * /proc/PID/stat (counted after the ')' closing the command name, which may hold spaces), in
 * clock ticks (1/100 s on Linux) -> ms. -1 when unreadable. */
static double cpu_ms(pid_t pid)
{
    char line[1024];
    unsigned long long ut = 0, st = 0;
    /* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (!rk_tk_proc_stat(pid, line, sizeof line) ||
        sscanf(line, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    long tck = sysconf(_SC_CLK_TCK);
    return (double)(ut + st) * 1000.0 / (double)(tck > 0 ? tck : 100);
}

/* The broker's CPU ms per second over an idle window of secs seconds. */
static double idle_rate(pid_t br, int secs)
{
    double c0 = cpu_ms(br);
    int64_t w0 = now_us();
    sleep((unsigned)secs);
    double c1 = cpu_ms(br);
    return (c1 - c0) * 1e6 / (double)(now_us() - w0);
}

/* The broker CPU ms above idle (idle_ms_s) that `rounds` rounds of fn cost, per round. */
static double per_round(bench_t *b, double idle_ms_s, int rounds, void (*fn)(bench_t *b, int ntopics), int ntopics)
{
    double c0 = cpu_ms(b->br_pid);
    int64_t w0 = now_us();
    for (int r = 0; r < rounds; r++)
        fn(b, ntopics);
    double c1 = cpu_ms(b->br_pid);
    return ((c1 - c0) - idle_ms_s * (double)(now_us() - w0) / 1e6) / rounds;
}

static void ask_offsets(bench_t *b, int ntopics)
{
    (void)ntopics;
    call(b, rk_cmd_new(43));             /* GET_ALL_CONSUMER_OFFSET, as the console asks it */
}

static void ask_topic_config(bench_t *b, int ntopics)
{
    (void)ntopics;
    call(b, rk_cmd_new(RK_REQ_GET_ALL_TOPIC_CONFIG));
}

static int stats_pages;

/* GET_ALL_TOPIC_STATS, every page (rk/broker.h). */
static void ask_all_topic_stats(bench_t *b, int ntopics)
{
    (void)ntopics;
    char after[256] = "";
    stats_pages = 0;
    for (;;) {
        rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_ALL_TOPIC_STATS), *resp = NULL;
        if (after[0])
            rk_cmd_ext_set(req, "afterTopic", after);
        if (rk_rclient_invoke_sync(b->rc, b->br, req, 30000, &resp) != RK_OK)
            return;
        stats_pages++;
        const char *more = rk_cmd_ext_get(resp, "more"), *last = rk_cmd_ext_get(resp, "lastTopic");
        bool next = resp->code == 0 && more && strcmp(more, "true") == 0 && last && strlen(last) < sizeof after;
        if (next)
            snprintf(after, sizeof after, "%s", last);
        rk_cmd_free(resp);
        if (!next)
            return;
    }
}

/* The RocketMQ way: GET_TOPIC_STATS_INFO for each topic. */
static void ask_topic_by_topic(bench_t *b, int ntopics)
{
    char name[64];
    for (int t = 0; t <= ntopics; t++) {
        rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_TOPIC_STATS_INFO);
        if (t < ntopics)
            snprintf(name, sizeof name, "BenchT%04d", t);
        rk_cmd_ext_set(req, "topic", t < ntopics ? name : "BenchSend");
        call(b, req);
    }
}

/* Where a scrape's broker CPU goes: the requests a /metrics build sends (and the per-topic ones
 * it sends to a broker without GET_ALL_TOPIC_STATS), sent by the bench itself back to back:
 * per round, the broker CPU ms above idle (idle_ms_s). CPU time is counted in 10 ms ticks:
 * the cheap requests get many rounds. */
static void scrape_parts(bench_t *b, int ntopics, double idle_ms_s, int rounds)
{
    double offs = per_round(b, idle_ms_s, rounds * 10, ask_offsets, ntopics);
    double cfg = per_round(b, idle_ms_s, rounds * 10, ask_topic_config, ntopics);
    double all = per_round(b, idle_ms_s, rounds * 10, ask_all_topic_stats, ntopics);
    double each = per_round(b, idle_ms_s, rounds, ask_topic_by_topic, ntopics);
    printf("  of which (the same requests sent by the bench, back to back; broker CPU per round): consumer offsets "
           "%.2f ms (%d rounds); GET_ALL_TOPIC_STATS, every topic in %d page(s): %.2f ms (%d rounds, %.2f us a queue)\n"
           "  the RocketMQ way instead: topic config %.2f ms (%d rounds) + %d x GET_TOPIC_STATS_INFO %.1f ms (%.0f us "
           "each; %d rounds)\n",
           offs, rounds * 10, stats_pages, all, rounds * 10, all * 1000.0 / (8.0 * (ntopics + 1)), cfg, rounds * 10,
           ntopics + 1, each, each * 1000.0 / (ntopics + 1), rounds);
}

/* 3: the broker CPU one /metrics scrape costs (every scrape built: the console on port). Returns
 * the ms per scrape, or -1. */
static double scrape_cost(bench_t *b, int ntopics, int port, int nscrapes)
{
    pid_t br = b->br_pid;
    int window = nscrapes;              /* one scrape per second */
    double idle1 = idle_rate(br, window);
    double c0 = cpu_ms(br);
    int64_t w0 = now_us(), built_us = 0;
    int complete = 0;
    size_t bytes = 0;
    for (int i = 0; i < nscrapes; i++) {
        int64_t s0 = now_us();
        ck_resp_t r;
        if (ck_http(port, "GET", "/metrics", NULL, NULL, &r) == 0 && r.status == 200 && r.body &&
            strstr(r.body, "\nrocklet_console_scrape_complete 1") != NULL)
            complete++;
        bytes = r.len;
        ck_resp_free(&r);
        built_us += now_us() - s0;
        int64_t left = 1000000 - (now_us() - s0);
        if (left > 0)
            usleep((useconds_t)left);
    }
    double c1 = cpu_ms(br);
    double secs = (double)(now_us() - w0) / 1e6;
    double idle2 = idle_rate(br, window);
    if (c0 < 0 || c1 < 0 || idle1 < 0 || idle2 < 0)
        return -1;
    double idle = (idle1 + idle2) / 2, extra = (c1 - c0) - idle * secs;
    printf("broker CPU, no send load: idle %.1f / %.1f ms/s (windows of %d s before/after); %d scrapes "
           "(1/s, no cache, %zu bytes, %d complete, %.0f ms each on average) in %.1f s: %.0f ms of broker CPU, "
           "%.0f ms more than idle\n", idle1, idle2, window, nscrapes, bytes, complete,
           (double)built_us / 1000.0 / nscrapes, secs, c1 - c0, extra);
    scrape_parts(b, ntopics, idle, 5);
    return extra / nscrapes;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int ntopics = env_int("BENCH_TOPICS", 1000), ngroups = env_int("BENCH_GROUPS", 100);
    int nreqs = env_int("BENCH_REQS", 400), window = env_int("BENCH_WINDOW_S", 5);
    int nscrapes = env_int("BENCH_SCRAPES", 30);
    bench_t b = {.ns_pid = -1, .br_pid = -1, .cs_pid = -1};
    if (find_bins() != 0)
        return 1;
    if (start_cluster(&b) != 0) {
        fprintf(stderr, "bench_console: the cluster did not start (see %s)\n", b.dir);
        stop_all(&b);
        return 1;
    }
    int64_t t0 = rk_now_ms();
    char name[64];
    for (int t = 0; t < ntopics; t++) {
        rk_cmd_t *req = rk_cmd_new(RK_REQ_UPDATE_AND_CREATE_TOPIC);
        snprintf(name, sizeof name, "BenchT%04d", t);
        rk_cmd_ext_set(req, "topic", name);
        rk_cmd_ext_set(req, "defaultTopic", "TBW102");
        rk_cmd_ext_set(req, "readQueueNums", "8");
        rk_cmd_ext_set(req, "writeQueueNums", "8");
        rk_cmd_ext_set(req, "perm", "6");
        rk_cmd_ext_set(req, "topicFilterType", "SINGLE_TAG");
        if (call(&b, req) != RK_OK) {
            fprintf(stderr, "bench_console: creating %s failed\n", name);
            stop_all(&b);
            return 1;
        }
    }
    rk_cmd_t *req = rk_cmd_new(RK_REQ_UPDATE_AND_CREATE_TOPIC);
    rk_cmd_ext_set(req, "topic", "BenchSend");
    rk_cmd_ext_set(req, "defaultTopic", "TBW102");
    rk_cmd_ext_set(req, "readQueueNums", "8");
    rk_cmd_ext_set(req, "writeQueueNums", "8");
    rk_cmd_ext_set(req, "perm", "6");
    call(&b, req);
    /* the name server routes them all once the broker registered its new topics */
    snprintf(name, sizeof name, "BenchT%04d", ntopics - 1);
    for (int i = 0; i < 600; i++) {
        rk_cmd_t *rq = rk_cmd_new(RK_REQ_GET_ROUTEINFO_BY_TOPIC), *resp = NULL;
        rk_cmd_ext_set(rq, "topic", name);
        bool ok = rk_rclient_invoke_sync(b.rc, b.ns, rq, 3000, &resp) == RK_OK && resp->code == 0;
        rk_cmd_free(resp);
        if (ok)
            break;
        usleep(100000);
    }
    /* a message in every queue (a queue's consume queue exists once it holds one) */
    rk_producer_config_t pcfg = {.namesrv = b.ns, .group = "bench_console_setup"};
    rk_producer_t *prod;
    int send_failed = 0;
    if (rk_producer_new(&pcfg, &prod) != RK_OK) {
        stop_all(&b);
        return 1;
    }
    for (int t = 0; t < ntopics; t++) {
        snprintf(name, sizeof name, "BenchT%04d", t);
        for (int q = 0; q < 8; q++) {
            rk_message_t m = {.topic = name, .body = "setup", .body_len = 5};
            rk_send_result_t sr;
            if (rk_producer_send(prod, &m, &sr) != RK_OK)
                send_failed++;
        }
    }
    rk_producer_free(prod);
    /* every message in its consume queue (each new queue's file is made on the first dispatch
     * to it: with 8 000 queues that takes a while) */
    int64_t wait0 = rk_now_ms();
    for (int i = 0; i < 3000; i++) {
        rk_cmd_t *resp = NULL;
        bool done = false;
        if (rk_rclient_invoke_sync(b.rc, b.br, rk_cmd_new(RK_REQ_GET_BROKER_RUNTIME_INFO), 5000, &resp) == RK_OK &&
            resp->code == 0) {
            cJSON *j = rk_json_parse((const char *)resp->body, resp->body_len);
            const char *v = rk_json_get_str(cJSON_GetObjectItemCaseSensitive(j, "table"), "dispatchBehindBytes");
            done = v != NULL && strcmp(v, "0") == 0;
            cJSON_Delete(j);
        }
        rk_cmd_free(resp);
        if (done)
            break;
        usleep(100000);
    }
    printf("setup: the broker dispatched every message in %.1f s\n", (double)(rk_now_ms() - wait0) / 1000.0);
    if (send_failed)
        printf("setup: %d sends failed\n", send_failed);
    /* offsets: group g in topics 10g..10g+9, every queue; BenchGAll in every queue of every topic */
    for (int g = 0; g <= ngroups; g++) {
        char group[32];
        if (g < ngroups)
            snprintf(group, sizeof group, "BenchG%03d", g);
        else
            snprintf(group, sizeof group, "BenchGAll");
        int from = g < ngroups ? (g * 10) % ntopics : 0, count = g < ngroups ? 10 : ntopics;
        for (int t = from; t < from + count && t < ntopics; t++)
            for (int q = 0; q < 8; q++) {
                rk_cmd_t *u = rk_cmd_new(RK_REQ_UPDATE_CONSUMER_OFFSET);
                snprintf(name, sizeof name, "BenchT%04d", t);
                rk_cmd_ext_set(u, "consumerGroup", group);
                rk_cmd_ext_set(u, "topic", name);
                rk_cmd_ext_set_i64(u, "queueId", q);
                rk_cmd_ext_set(u, "commitOffset", "0");
                call(&b, u);
            }
    }
    printf("setup: %d topics x 8 queues, %d groups (+1 in every queue) in %.1f s\n", ntopics, ngroups,
           (double)(rk_now_ms() - t0) / 1000.0);
    sleep(6);                           /* a registration with every topic reaches the name server */
    b.cs_pid = ck_console_start(csbin, b.dir, "console", b.ns, "metricsCacheMs=1000\n", &b.cs_port);
    if (b.cs_pid <= 0) {
        fprintf(stderr, "bench_console: mqconsole did not start (see %s/console.log)\n", b.dir);
        stop_all(&b);
        return 1;
    }
    printf("console RSS at start: %ld kB\n", rss_kb(b.cs_pid));

    const char *cluster[] = {"/api/cluster"};
    run_load("GET /api/cluster", b.cs_port, cluster, 1, nreqs);
    char **lag = calloc((size_t)ngroups, sizeof *lag);
    for (int g = 0; g < ngroups; g++) {
        lag[g] = malloc(64);
        snprintf(lag[g], 64, "/api/groups/BenchG%03d", g);
    }
    run_load("GET /api/groups/{g} (80 queues)", b.cs_port, (const char *const *)lag, ngroups, nreqs);
    const char *all[] = {"/api/groups/BenchGAll"};
    run_load("GET /api/groups/BenchGAll (all q)", b.cs_port, all, 1, nreqs / 4);
    const char *topics[] = {"/api/topics?limit=1000"};
    run_load("GET /api/topics", b.cs_port, topics, 1, nreqs);
    for (int g = 0; g < ngroups; g++)
        free(lag[g]);
    free(lag);
    int64_t m0 = now_us();
    ck_resp_t r;
    ck_http(b.cs_port, "GET", "/metrics", NULL, NULL, &r);
    printf("GET /metrics (built, %zu bytes): %.1f ms\n", r.len, (double)(now_us() - m0) / 1000.0);
    ck_resp_free(&r);
    printf("console RSS after the load: %ld kB\n", rss_kb(b.cs_pid));

    /* A/B/C: send throughput without scraping (A), with a scrape every second answered from
     * the default 5 s cache (B: the brokers see one build per 5 s), and with a scrape every second
     * each built anew (C: a console with metricsCacheMs=0) */
    int nc_port = 0;
    pid_t nc_pid = ck_console_start(csbin, b.dir, "console-nocache", b.ns, "metricsCacheMs=0\n", &nc_port);
    int b_port = 0;
    pid_t b_pid = ck_console_start(csbin, b.dir, "console-default", b.ns, "", &b_port);
    double per_scrape = -1;
    if (nc_pid > 0) {
        sleep(2);                       /* the consoles' start-up requests are over */
        per_scrape = scrape_cost(&b, ntopics, nc_port, nscrapes);
    }
    double tput[3] = {0, 0, 0}, cpu[3] = {0, 0, 0};
    int rounds[3] = {0, 0, 0};
    static const char *const label[3] = {"(no scraping)", "(scrape 1/s, 5 s cache)", "(scrape 1/s, no cache)"};
    for (int round = 0; round < 6 && nc_pid > 0 && b_pid > 0; round++) {
        int mode = round % 3;
        int port = mode == 1 ? b_port : nc_port;
        sender_t s = {.ns = b.ns};
        pthread_t th[2];
        for (int i = 0; i < 2; i++)
            pthread_create(&th[i], NULL, send_main, &s);
        sleep(1);                       /* warm-up: routes, connections */
        int64_t c0 = atomic_load(&s.sent), w0 = now_us();
        double u0 = cpu_ms(b.br_pid);
        for (int sec = 0; sec < window; sec++) {
            int64_t s0 = now_us();
            if (mode > 0) {
                ck_http(port, "GET", "/metrics", NULL, NULL, &r);
                ck_resp_free(&r);
            }
            int64_t left = 1000000 - (now_us() - s0);
            if (left > 0)
                usleep((useconds_t)left);
        }
        double rate = (double)(atomic_load(&s.sent) - c0) * 1e6 / (double)(now_us() - w0);
        double ums = (cpu_ms(b.br_pid) - u0) * 1e6 / (double)(now_us() - w0);
        atomic_store(&s.stop, true);
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        printf("send throughput %-26s %9.0f msgs/s  broker CPU %6.0f ms/s\n", label[mode], rate, ums);
        tput[mode] += rate;
        cpu[mode] += ums;
        rounds[mode]++;
    }
    if (rounds[0] && rounds[1] && rounds[2]) {
        double a = tput[0] / rounds[0], bb = tput[1] / rounds[1], cc = tput[2] / rounds[2];
        printf("scraping every second costs the broker %.1f %% (default 5 s cache) and %.1f %% (every scrape "
               "built) of its send throughput (A %.0f, B %.0f, C %.0f msgs/s; on a shared machine the noise is "
               "of the same order)\n", (a - bb) * 100.0 / a, (a - cc) * 100.0 / a, a, bb, cc);
    }
    if (per_scrape >= 0) {
        printf("scrape cost in broker CPU: %.1f ms per scrape (every scrape reaching the broker); scraping once "
               "a second = %.2f %% of one core", per_scrape, per_scrape / 10.0);
        if (rounds[0] && cpu[0] > 0)
            printf(", %.2f %% of the broker's CPU under send load A (%.0f ms/s)", per_scrape * 100.0 / (cpu[0] / rounds[0]),
                   cpu[0] / rounds[0]);
        printf("; with the default 5 s cache, a fifth of that\n");
    }
    if (nc_pid > 0)
        rk_tk_stop(nc_pid, 10000);
    if (b_pid > 0)
        rk_tk_stop(b_pid, 10000);
    printf("console RSS at the end: %ld kB\n", rss_kb(b.cs_pid));
    stop_all(&b);
    return 0;
}
