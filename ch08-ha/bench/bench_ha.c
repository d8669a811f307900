/* bench_ha.c — `make bench-ch08`: chapter 8's brokers on loopback, against
 * Redis Streams in the same run. Prints figures, asserts nothing.
 *
 * Sections (each starts its own mqnamesrv + brokers in a temp folder, 8 MiB
 * commitlog files, and stops every process by PID before the next):
 *   1. one broker, flushDiskType=SYNC_FLUSH: durable sends, 128 in flight
 *      (mqbench --async -w 128), 1 KiB and 100 B, single and batched (16)
 *   2. three replicas electing their master (enableDLegerCommitLog), SYNC_FLUSH,
 *      acknowledged once a majority holds the message: the same four rows
 *   3. one broker, ASYNC_FLUSH, unbatched: the figure Redis without persistence
 *      is compared with
 *   4. failover: three fresh replicas; each round sends one message and waits
 *      until every replica holds it, kill -9s the master, then tries one send
 *      to each survivor every few ms until one is acknowledged (SEND_OK, so a
 *      majority holds it); the killed replica is restarted before the next round
 *   5. replication lag: ASYNC_MASTER + SLAVE under mqbench async load; every
 *      10 ms the master's and the slave's commitLogMaxOffset are read: lag in
 *      bytes = master - slave, lag in ms = how long ago the master's log
 *      ended where the slave's ends now (interpolated between samples)
 *   6. Redis Streams (Debian's redis-server, if installed): XADD from 128
 *      clients, pipeline 1, with appendonly yes + appendfsync always (run
 *      right after section 1) and without persistence (right after section 3);
 *      rocklet / Redis ratios for the unbatched rows. Not installed: says so,
 *      prints no ratio, and still exits 0.
 *
 * Environment: RK_BENCH_SECONDS (3) per mqbench row, RK_BENCH_FAILOVER_ROUNDS
 * (10), RK_BENCH_REDIS_N (80000) XADDs per Redis row. Figures vary on a shared
 * machine: compare rows of one run, not runs. */
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/json.h"
#include "rk/remoting_client.h"
#include "rk/remoting_cmd.h"
#include "rk/request_code.h"
#include "rk/testkit.h"
#include "rk/tk_send.h"

#define MAXREP 3

static char bindir[1024], nsbin[1100], brbin[1100], benchbin[1100];
static int seconds = 3, rounds = 10, redis_n = 80000;
static rk_rclient_t *cl;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct row {
    bool ok;
    double rate, p50, p99;
    long failed;
} row_t;

typedef struct broker {
    char conf[300], log[300], addr[32];
    int port;
    pid_t pid;
} broker_t;

typedef struct env {
    char dir[256], ns[32];
    pid_t ns_pid;
    broker_t b[MAXREP];
    int n;
} env_t;

/* ------------------------------------------------------------ processes */

static int env_init(env_t *e, const char *tag)
{
    memset(e, 0, sizeof *e);
    e->ns_pid = -1;
    for (int i = 0; i < MAXREP; i++)
        e->b[i].pid = -1;
    if (rk_tk_tmpdir(e->dir, sizeof e->dir, tag) != 0)
        return -1;
    int nsp = rk_tk_free_port();
    snprintf(e->ns, sizeof e->ns, "127.0.0.1:%d", nsp);
    char conf[300], log[300];
    snprintf(conf, sizeof conf, "%s/ns.conf", e->dir);
    FILE *f = fopen(conf, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "listenPort=%d\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv.json\n", nsp, e->dir);
    fclose(f);
    snprintf(log, sizeof log, "%s/ns.log", e->dir);
    char *argv[] = {nsbin, "-c", conf, NULL};
    e->ns_pid = rk_tk_spawn(argv, log);
    if (e->ns_pid <= 0 || !rk_tk_wait_port(nsp, 5000)) {
        fprintf(stderr, "bench: mqnamesrv did not start (%s)\n", log);
        return -1;
    }
    return 0;
}

/* Writes broker i's config: common lines + extra. */
static int env_broker(env_t *e, int i, int broker_id, const char *extra)
{
    broker_t *b = &e->b[i];
    char dir[256];
    snprintf(dir, sizeof dir, "%s", e->dir);
    b->port = rk_tk_free_port();
    int ha = rk_tk_free_port();
    snprintf(b->addr, sizeof b->addr, "127.0.0.1:%d", b->port);
    snprintf(b->conf, sizeof b->conf, "%s/b%d.conf", dir, i);
    snprintf(b->log, sizeof b->log, "%s/b%d.log", dir, i);
    FILE *f = fopen(b->conf, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "brokerClusterName=Bench\nbrokerName=broker-ha\nbrokerId=%d\nnamesrvAddr=%s\nbrokerIP1=127.0.0.1\n"
               "listenHost=127.0.0.1\nlistenPort=%d\nhaListenPort=%d\nstorePathRootDir=%s/store%d\n"
               "mappedFileSizeCommitLog=8388608\nmappedFileSizeConsumeQueue=600000\nmaxIndexNum=400000\n"
               "maxHashSlotNum=100000\n%s\n",
            broker_id, e->ns, b->port, ha, dir, i, extra);
    fclose(f);
    if (i >= e->n)
        e->n = i + 1;
    return 0;
}

static bool broker_start(broker_t *b)
{
    char *argv[] = {brbin, "-c", b->conf, NULL};
    b->pid = rk_tk_spawn(argv, b->log);
    if (b->pid <= 0 || !rk_tk_wait_port(b->port, 15000)) {
        fprintf(stderr, "bench: a broker did not start (see %s)\n", b->log);
        return false;
    }
    return true;
}

static void env_stop(env_t *e)
{
    for (int i = 0; i < e->n; i++)
        if (e->b[i].pid > 0) {
            rk_tk_kill(e->b[i].pid, SIGCONT);
            rk_tk_stop(e->b[i].pid, 20000);
            e->b[i].pid = -1;
        }
    if (e->ns_pid > 0)
        rk_tk_stop(e->ns_pid, 5000);
    e->ns_pid = -1;
    if (e->dir[0])
        rk_tk_rmtree(e->dir);
    e->dir[0] = '\0';
}

/* ------------------------------------------------------------ broker queries */

/* A GET_BROKER_RUNTIME_INFO value (malloc'ed) or NULL. */
static char *runtime(const char *addr, const char *key, int timeout_ms)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_BROKER_RUNTIME_INFO), *resp = NULL;
    if (req == NULL || rk_rclient_invoke_sync(cl, addr, req, timeout_ms, &resp) != RK_OK)
        return NULL;
    char *v = NULL;
    cJSON *root = resp->code == 0 ? rk_json_parse((const char *)resp->body, resp->body_len) : NULL;
    const char *s = rk_json_get_str(cJSON_GetObjectItemCaseSensitive(root, "table"), key);
    if (s != NULL)
        v = strdup(s);
    cJSON_Delete(root);
    rk_cmd_free(resp);
    return v;
}

static int64_t max_offset(const char *addr)
{
    char *v = runtime(addr, "commitLogMaxOffset", 1000);
    int64_t r = v ? strtoll(v, NULL, 10) : -1;
    free(v);
    return r;
}

/* One SEND_MESSAGE_V2 as the Java client sends it: the response code, or -1
 * when the broker could not be reached or did not answer in time. */
static int try_send(const char *addr, const char *topic, const char *body, int timeout_ms)
{
    rk_cmd_t *req = rk_tk_send_request(&(rk_tk_send_spec_t){.group = "bench_pg", .topic = topic, .body = body});
    rk_cmd_t *resp = NULL;
    if (req == NULL || rk_rclient_invoke_sync(cl, addr, req, timeout_ms, &resp) != RK_OK)
        return -1;
    int code = resp->code;
    rk_cmd_free(resp);
    return code;
}

/* The replica that says it is the elected master (dLegerRole LEADER, brokerRole
 * SYNC_MASTER), waiting up to ms; -1 if none. */
static int leader(env_t *e, int ms)
{
    int64_t end = rk_now_ms() + ms;
    do {
        for (int i = 0; i < e->n; i++) {
            if (e->b[i].pid <= 0)
                continue;
            char *role = runtime(e->b[i].addr, "dLegerRole", 500);
            char *br = runtime(e->b[i].addr, "brokerRole", 500);
            bool lead = role && br && strcmp(role, "LEADER") == 0 && strcmp(br, "SYNC_MASTER") == 0;
            free(role);
            free(br);
            if (lead)
                return i;
        }
        usleep(50000);
    } while (rk_now_ms() < end);
    return -1;
}

/* ------------------------------------------------------------ mqbench */

static bool parse_summary(const char *out, row_t *r)
{
    const char *s = out ? strstr(out, "SUMMARY produce") : NULL;
    if (s == NULL)
        return false;
    const char *p = strstr(s, "= ");
    r->rate = p ? atof(p + 2) : 0;
    r->p50 = (p = strstr(s, "p50 ")) != NULL ? atof(p + 4) : 0;
    r->p99 = (p = strstr(s, "p99 ")) != NULL ? atof(p + 4) : 0;
    r->failed = (p = strstr(s, "failed ")) != NULL ? atol(p + 7) : 0;
    r->ok = true;
    return true;
}

static void mqbench_argv(char **argv, char *bufs, const char *ns, const char *topic, int size, int batch)
{
    char *sz = bufs, *bt = bufs + 16, *d = bufs + 32;
    snprintf(sz, 16, "%d", size);
    snprintf(bt, 16, "%d", batch);
    snprintf(d, 16, "%d", seconds);
    int n = 0;
    argv[n++] = benchbin;
    argv[n++] = "-n";
    argv[n++] = (char *)ns;
    argv[n++] = "-t";
    argv[n++] = (char *)topic;
    argv[n++] = "--mode";
    argv[n++] = "produce";
    argv[n++] = "--duration";
    argv[n++] = d;
    argv[n++] = "-s";
    argv[n++] = sz;
    argv[n++] = "-w";
    argv[n++] = "128";
    argv[n++] = "--batch";
    argv[n++] = bt;
    argv[n++] = "--async";
    argv[n] = NULL;
}

static row_t produce(const char *ns, const char *topic, int size, int batch)
{
    char *argv[20], bufs[48];
    mqbench_argv(argv, bufs, ns, topic, size, batch);
    row_t r = {0};
    char *out = NULL;
    int st = rk_tk_run(argv, &out, (seconds + 60) * 1000);
    if (st != 0 || !parse_summary(out, &r))
        fprintf(stderr, "bench: mqbench failed (status %d):\n%s\n", st, out ? out : "");
    free(out);
    return r;
}

static void print_row(const char *name, const row_t *r)
{
    if (!r->ok) {
        printf("  %-22s %12s\n", name, "(failed)");
        return;
    }
    printf("  %-22s %12.0f %9.3f %9.3f", name, r->rate, r->p50, r->p99);
    if (r->failed > 0)
        printf("   (%ld sends failed)", r->failed);
    printf("\n");
}

/* The four durable rows on an environment whose brokers are up. */
static void durable_rows(const char *ns, const char *label, row_t out[4])
{
    static const struct {
        const char *name, *topic;
        int size, batch;
    } rows[4] = {
        {"1 KiB single", "BenchK1", 1024, 1},
        {"1 KiB batch16", "BenchK16", 1024, 16},
        {"100 B single", "BenchB1", 100, 1},
        {"100 B batch16", "BenchB16", 100, 16},
    };
    printf("\n%s (128 sends in flight, %d s per row)\n", label, seconds);
    printf("  %-22s %12s %9s %9s\n", "row", "msgs/s", "p50 ms", "p99 ms");
    for (int i = 0; i < 4; i++) {
        out[i] = produce(ns, rows[i].topic, rows[i].size, rows[i].batch);
        print_row(rows[i].name, &out[i]);
    }
    fflush(stdout);
}

/* ------------------------------------------------------------ sections */

static int single_broker(const char *flush, bool durable, row_t out[4])
{
    env_t e;
    char extra[128];
    snprintf(extra, sizeof extra, "flushDiskType=%s", flush);
    int rc = 1;
    if (env_init(&e, "bench08") == 0 && env_broker(&e, 0, 0, extra) == 0 && broker_start(&e.b[0])) {
        usleep(300000);                 /* registration */
        if (durable) {
            durable_rows(e.ns, "1. one broker, SYNC_FLUSH (fsync before the answer)", out);
        } else {
            printf("\n3. one broker, ASYNC_FLUSH, unbatched (128 sends in flight, %d s per row)\n", seconds);
            printf("  %-22s %12s %9s %9s\n", "row", "msgs/s", "p50 ms", "p99 ms");
            out[0] = produce(e.ns, "BenchAK1", 1024, 1);
            print_row("1 KiB single", &out[0]);
            out[2] = produce(e.ns, "BenchAB1", 100, 1);
            print_row("100 B single", &out[2]);
        }
        rc = 0;
    }
    env_stop(&e);
    return rc;
}

static int trio_init(env_t *e, const char *extra)
{
    if (env_init(e, "bench08") != 0)
        return -1;
    int eport[3];
    char peers[256] = "";
    for (int i = 0; i < 3; i++) {
        eport[i] = rk_tk_free_port();
        size_t len = strlen(peers);
        snprintf(peers + len, sizeof peers - len, "%sn%d-127.0.0.1:%d", i ? ";" : "", i, eport[i]);
    }
    for (int i = 0; i < 3; i++) {
        char more[1024];
        snprintf(more, sizeof more, "enableDLegerCommitLog=true\ndLegerGroup=broker-ha\ndLegerPeers=%s\ndLegerSelfId=n%d\n%s",
                 peers, i, extra);
        if (env_broker(e, i, 0, more) != 0)
            return -1;
    }
    for (int i = 0; i < 3; i++)
        if (!broker_start(&e->b[i]))
            return -1;
    return 0;
}

static int majority(row_t out[4])
{
    env_t e;
    int rc = 1;
    memset(&e, 0, sizeof e);
    if (trio_init(&e, "flushDiskType=SYNC_FLUSH") == 0) {
        int l = leader(&e, 15000);
        if (l >= 0) {
            usleep(500000);             /* the leader's registration as brokerId 0 */
            durable_rows(e.ns, "2. three replicas, elected master, SYNC_FLUSH + majority acks", out);
            rc = 0;
        } else {
            fprintf(stderr, "bench: no leader elected (see %s)\n", e.dir);
        }
    }
    env_stop(&e);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Waits until one send to the leader is acknowledged and every live replica's
 * log ends where the leader's does. */
static bool settle(env_t *e, int l, int ms)
{
    int64_t end = rk_now_ms() + ms;
    while (try_send(e->b[l].addr, "BenchFail", "before-the-kill", 3000) != 0)
        if (rk_now_ms() > end || usleep(50000) != 0)
            return false;
    for (;;) {
        int64_t m = max_offset(e->b[l].addr);
        bool same = m > 0;
        for (int i = 0; i < e->n && same; i++)
            if (i != l)
                same = max_offset(e->b[i].addr) == m;
        if (same)
            return true;
        if (rk_now_ms() > end)
            return false;
        usleep(20000);
    }
}

static void failover(void)
{
    env_t e;
    memset(&e, 0, sizeof e);
    int64_t *ms = calloc((size_t)rounds, sizeof *ms), *acc = calloc((size_t)rounds, sizeof *acc);
    int done = 0, failed = 0;
    printf("\n4. failover: three replicas (election timeout 1000 ms, heartbeat 200 ms: the defaults); kill -9 of\n"
           "   the master -> first SEND_OK from a survivor (majority-acknowledged), %d rounds\n",
           rounds);
    fflush(stdout);
    if (ms == NULL || acc == NULL || trio_init(&e, "flushDiskType=ASYNC_FLUSH") != 0) {
        printf("  (could not start the replicas)\n");
        goto out;
    }
    for (int r = 0; r < rounds; r++) {
        int l = leader(&e, 15000);
        if (l < 0 || !settle(&e, l, 15000)) {
            printf("  round %d: the group did not settle (no leader or a replica behind); stopping\n", r + 1);
            break;
        }
        int64_t t0 = now_us();
        rk_tk_kill(e.b[l].pid, SIGKILL);
        rk_tk_wait(e.b[l].pid, 5000);
        e.b[l].pid = -1;
        int64_t t1 = -1;
        while (t1 < 0 && now_us() - t0 < 20 * 1000000LL) {
            for (int i = 0; i < e.n && t1 < 0; i++)
                if (i != l) {
                    int64_t a = now_us();
                    if (try_send(e.b[i].addr, "BenchFail", "after-the-kill", 3000) == 0) {
                        t1 = now_us();
                        acc[done] = (a - t0) / 1000;
                    }
                }
            if (t1 < 0)
                usleep(5000);
        }
        if (t1 < 0) {
            printf("  round %d: no write acknowledged within 20 s\n", r + 1);
            failed++;
        } else {
            ms[done++] = (t1 - t0) / 1000;
        }
        if (!broker_start(&e.b[l]))
            break;
    }
    if (done > 0) {
        int64_t sorted[done];
        memcpy(sorted, ms, sizeof sorted);
        qsort(sorted, (size_t)done, sizeof *sorted, cmp_i64);
        printf("  first acknowledged write, ms after the kill (in brackets: when that send was made, i.e. when\n"
               "  a survivor first took a write instead of refusing it; the rest is the wait for the majority ack):\n ");
        for (int i = 0; i < done; i++)
            printf(" %" PRId64 " (%" PRId64 ")", ms[i], acc[i]);
        qsort(acc, (size_t)done, sizeof *acc, cmp_i64);
        int64_t median = done % 2 ? sorted[done / 2] : (sorted[done / 2 - 1] + sorted[done / 2]) / 2;
        int64_t amedian = done % 2 ? acc[done / 2] : (acc[done / 2 - 1] + acc[done / 2]) / 2;
        printf("\n  median %" PRId64 " ms, worst %" PRId64 " ms (%d rounds measured, %d without a write in 20 s);"
               " a survivor took the write after %" PRId64 " ms (median)\n",
               median, sorted[done - 1], done, failed, amedian);
    }
out:
    fflush(stdout);
    free(ms);
    free(acc);
    env_stop(&e);
}

typedef struct sample {
    int64_t t_us, off;
} sample_t;

static void lag(void)
{
    env_t e;
    memset(&e, 0, sizeof e);
    printf("\n5. replication lag: ASYNC_MASTER + SLAVE (ASYNC_FLUSH), mqbench 1 KiB unbatched, 128 in flight, %d s\n",
           seconds);
    fflush(stdout);
    if (env_init(&e, "bench08") != 0 || env_broker(&e, 0, 0, "brokerRole=ASYNC_MASTER\nflushDiskType=ASYNC_FLUSH") != 0 ||
        env_broker(&e, 1, 1, "brokerRole=SLAVE\nflushDiskType=ASYNC_FLUSH") != 0 || !broker_start(&e.b[0]) ||
        !broker_start(&e.b[1])) {
        printf("  (could not start the pair)\n");
        env_stop(&e);
        return;
    }
    for (int i = 0; i < 250; i++) {     /* the slave connected */
        char *v = runtime(e.b[0].addr, "haSlaveCount", 500);
        bool ok = v != NULL && strcmp(v, "0") != 0;
        free(v);
        if (ok)
            break;
        usleep(20000);
    }
    usleep(300000);
    char *argv[20], bufs[48], log[300];
    mqbench_argv(argv, bufs, e.ns, "BenchLag", 1024, 1);
    snprintf(log, sizeof log, "%s/mqbench.log", e.dir);
    pid_t pid = rk_tk_spawn(argv, log);
    size_t cap = (size_t)(seconds + 70) * 100 + 16, nm = 0, nl = 0;
    sample_t *hist = malloc(cap * sizeof *hist);
    int64_t *lag_b = malloc(cap * sizeof *lag_b), *lag_ms = malloc(cap * sizeof *lag_ms);
    int st = -1;
    while (pid > 0 && hist && lag_b && lag_ms && nm < cap) {
        int w = rk_tk_wait(pid, 0);
        if (w != -ETIMEDOUT) {
            st = w;
            pid = -1;
            break;
        }
        int64_t m = max_offset(e.b[0].addr);
        int64_t tm = now_us();
        int64_t s = max_offset(e.b[1].addr);
        int64_t ts = now_us();
        if (m < 0 || s < 0) {
            usleep(10000);
            continue;
        }
        hist[nm++] = (sample_t){tm, m};
        /* only while the load runs: the master's log grew since the last sample */
        if (nm > 1 && m > hist[nm - 2].off) {
            lag_b[nl] = m > s ? m - s : 0;
            /* when did the master's log end at s? the last sample at or below s,
             * interpolated towards the next one */
            int64_t when = ts;
            for (size_t k = nm; k-- > 0;)
                if (hist[k].off <= s) {
                    when = hist[k].t_us;
                    if (k + 1 < nm && hist[k + 1].off > hist[k].off)
                        when += (hist[k + 1].t_us - hist[k].t_us) * (s - hist[k].off) / (hist[k + 1].off - hist[k].off);
                    break;
                }
            lag_ms[nl++] = ts > when ? (ts - when) / 1000 : 0;
        }
        usleep(10000);
    }
    if (pid > 0) {                      /* out of memory or samples */
        st = rk_tk_wait(pid, (seconds + 60) * 1000);
        if (st == -ETIMEDOUT)
            rk_tk_stop(pid, 2000);
    }
    char *out = NULL;
    row_t r = {0};
    FILE *f = fopen(log, "r");
    if (f != NULL) {
        out = calloc(1, 65536);
        if (out != NULL)
            out[fread(out, 1, 65535, f)] = '\0';
        fclose(f);
    }
    parse_summary(out, &r);
    free(out);
    if (r.ok)
        printf("  produce: %.0f msgs/s, p50 %.3f ms, p99 %.3f ms (mqbench status %d)\n", r.rate, r.p50, r.p99,
               WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    else
        printf("  produce: mqbench failed (status %d)\n", st);
    if (nl > 0) {
        qsort(lag_b, nl, sizeof *lag_b, cmp_i64);
        qsort(lag_ms, nl, sizeof *lag_ms, cmp_i64);
        printf("  slave lag over %zu samples: bytes p50 %" PRId64 " p99 %" PRId64 " max %" PRId64 "; ms p50 %" PRId64
               " p99 %" PRId64 " max %" PRId64 "\n",
               nl, lag_b[nl / 2], lag_b[nl * 99 / 100], lag_b[nl - 1], lag_ms[nl / 2], lag_ms[nl * 99 / 100],
               lag_ms[nl - 1]);
    }
    int64_t end = rk_now_ms() + 20000, m = -1, s = -2;
    while (rk_now_ms() < end && (m = max_offset(e.b[0].addr)) != (s = max_offset(e.b[1].addr)))
        usleep(10000);
    int64_t t = 20000 - (end - rk_now_ms());
    if (m == s && m > 0)
        printf("  after the run: the slave held the master's %" PRId64 " bytes %" PRId64 " ms after mqbench ended\n", m,
               t);
    else
        printf("  after the run: the slave still %" PRId64 " bytes behind after 20 s\n", m - s);
    fflush(stdout);
    free(hist);
    free(lag_b);
    free(lag_ms);
    env_stop(&e);
}

/* ------------------------------------------------------------ Redis */

typedef struct rrow {
    bool ok;
    double rate, p50, p99;
} rrow_t;

static char redis_server[1100], redis_benchmark[1100];

/* prog's path in $PATH (testkit spawns with execv, no PATH lookup). */
static bool which(const char *prog, char *out, size_t outlen)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s", path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, outlen, "%s/%s", d, prog);
        if (access(out, X_OK) == 0)
            return true;
    }
    return false;
}

/* CSV of redis-benchmark 7: "test","rps","avg","min","p50","p95","p99","max" */
static bool parse_csv(const char *out, rrow_t *r)
{
    const char *p = out ? strstr(out, "\"XADD") : NULL;
    if (p == NULL)
        return false;
    double v[8] = {0};
    int k = 0;
    const char *q = strchr(p + 1, '"');         /* end of the test name */
    while (q != NULL && k < 7) {
        q = strstr(q, ",\"");
        if (q == NULL)
            break;
        q += 2;
        v[k++] = atof(q);
    }
    if (k < 1)
        return false;
    r->rate = v[0];
    r->p50 = k >= 4 ? v[3] : 0;
    r->p99 = k >= 6 ? v[5] : 0;
    r->ok = r->rate > 0;
    return r->ok;
}

static rrow_t redis_row(bool persist, int size)
{
    rrow_t r = {0};
    char dir[256];
    if (rk_tk_tmpdir(dir, sizeof dir, "bench08-redis") != 0)
        return r;
    int port = rk_tk_free_port();
    char ps[16], log[300], n[16];
    snprintf(ps, sizeof ps, "%d", port);
    snprintf(log, sizeof log, "%s/redis.log", dir);
    snprintf(n, sizeof n, "%d", redis_n);
    char *sargv[] = {redis_server, "--port", ps, "--bind", "127.0.0.1", "--dir", dir, "--save", "",
                     "--appendonly", persist ? "yes" : "no", "--appendfsync", "always", "--daemonize", "no",
                     "--protected-mode", "no", NULL};
    pid_t pid = rk_tk_spawn(sargv, log);
    char *val = malloc((size_t)size + 1);
    if (pid > 0 && rk_tk_wait_port(port, 10000) && val != NULL) {
        memset(val, 'x', (size_t)size);
        val[size] = '\0';
        char *bargv[] = {redis_benchmark, "-h", "127.0.0.1", "-p", ps, "-c", "128", "-n", n, "-P", "1", "--csv",
                         "XADD", "s", "*", "f", val, NULL};
        char *out = NULL;
        int st = rk_tk_run(bargv, &out, 120000);
        if (st != 0 || !parse_csv(out, &r))
            fprintf(stderr, "bench: redis-benchmark failed (status %d):\n%.2000s\n", st, out ? out : "");
        free(out);
    } else {
        fprintf(stderr, "bench: redis-server did not start\n");
    }
    free(val);
    if (pid > 0)
        rk_tk_stop(pid, 10000);
    rk_tk_rmtree(dir);
    return r;
}

static void ratio(const char *name, const row_t *a, const rrow_t *b)
{
    if (a->ok && b->ok && b->rate > 0)
        printf("  %-40s %10.0f / %10.0f = %.2fx\n", name, a->rate, b->rate, a->rate / b->rate);
    else
        printf("  %-40s (a figure is missing)\n", name);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    ssize_t n = readlink("/proc/self/exe", bindir, sizeof bindir - 1);
    if (n <= 0)
        return 1;
    bindir[n] = '\0';
    *strrchr(bindir, '/') = '\0';
    snprintf(brbin, sizeof brbin, "%s/mqbroker", bindir);
    snprintf(benchbin, sizeof benchbin, "%s/../../ch07/bin/mqbench", bindir);
    snprintf(nsbin, sizeof nsbin, "%s/../../ch06/bin/mqnamesrv", bindir);
    const char *s = getenv("RK_BENCH_SECONDS");
    if (s != NULL && atoi(s) > 0 && atoi(s) <= 60)
        seconds = atoi(s);
    if ((s = getenv("RK_BENCH_FAILOVER_ROUNDS")) != NULL && atoi(s) > 0 && atoi(s) <= 1000)
        rounds = atoi(s);
    if ((s = getenv("RK_BENCH_REDIS_N")) != NULL && atoi(s) > 0 && atoi(s) <= 10000000)
        redis_n = atoi(s);
    if (rk_rclient_new(&cl) != RK_OK)
        return 1;
    int64_t t0 = rk_now_ms();
    printf("bench-ch08: chapter 8 brokers on 127.0.0.1 (%ld cores), mqbench --async -w 128; figures, no assertions\n",
           sysconf(_SC_NPROCESSORS_ONLN));
    bool redis = which("redis-server", redis_server, sizeof redis_server) &&
                 which("redis-benchmark", redis_benchmark, sizeof redis_benchmark);
    /* Each Redis row runs right after the rocklet rows it is compared with, so
     * that a change in the shared machine's load hits both sides alike. */
    row_t sync[4] = {{0}}, maj[4] = {{0}}, async[4] = {{0}};
    rrow_t aof_k = {0}, aof_b = {0}, mem_k = {0}, mem_b = {0};
    single_broker("SYNC_FLUSH", true, sync);
    if (redis) {
        aof_k = redis_row(true, 1024);
        aof_b = redis_row(true, 100);
    }
    majority(maj);
    single_broker("ASYNC_FLUSH", false, async);
    if (redis) {
        mem_k = redis_row(false, 1024);
        mem_b = redis_row(false, 100);
    }
    failover();
    lag();

    printf("\n6. Redis Streams baseline: redis-benchmark -c 128 -P 1 -n %d XADD s * f <SIZE bytes>\n", redis_n);
    if (!redis) {
        printf("  redis-server / redis-benchmark not installed (apt-get install -y redis-server redis-tools):"
               " no baseline, no ratios\n");
    } else {
        printf("   (AOF rows ran right after section 1, no-persistence rows right after section 3)\n");
        printf("  %-36s %12s %9s %9s\n", "row", "XADD/s", "p50 ms", "p99 ms");
        const struct {
            const char *name;
            rrow_t *r;
        } rr[4] = {{"AOF appendfsync always, 1 KiB", &aof_k},
                   {"AOF appendfsync always, 100 B", &aof_b},
                   {"no persistence, 1 KiB", &mem_k},
                   {"no persistence, 100 B", &mem_b}};
        for (int i = 0; i < 4; i++)
            if (rr[i].r->ok)
                printf("  %-36s %12.0f %9.3f %9.3f\n", rr[i].name, rr[i].r->rate, rr[i].r->p50, rr[i].r->p99);
            else
                printf("  %-36s %12s\n", rr[i].name, "(failed)");
        printf("\n  rocklet / Redis, unbatched (msgs/s over XADD/s)\n");
        ratio("SYNC_FLUSH 1 KiB / AOF always 1 KiB", &sync[0], &aof_k);
        ratio("SYNC_FLUSH 100 B / AOF always 100 B", &sync[2], &aof_b);
        ratio("majority 1 KiB / AOF always 1 KiB", &maj[0], &aof_k);
        ratio("majority 100 B / AOF always 100 B", &maj[2], &aof_b);
        ratio("ASYNC_FLUSH 1 KiB / no persistence 1 KiB", &async[0], &mem_k);
        ratio("ASYNC_FLUSH 100 B / no persistence 100 B", &async[2], &mem_b);
    }
    printf("\nbench-ch08: %.0f s in all\n", (rk_now_ms() - t0) / 1000.0);
    rk_rclient_free(cl);
    return 0;
}
