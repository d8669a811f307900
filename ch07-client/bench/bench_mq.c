/* bench_mq.c — `make bench-ch07`: mqbench against a local mqnamesrv +
 * mqbroker on loopback, with async flush and then sync flush.
 *
 * Rows (1 KiB bodies):
 *   batch16   64 sends in flight (async), 16 messages per SEND_BATCH_MESSAGE: throughput
 *   single    64 sends in flight (async), one message per send
 *   half      2 sender threads (sync) sending batches of 16, paced together at half
 *             the batch16 rate: latency when not saturated
 *   100k      the same paced at 100 000 msgs/s (half of chapter 7's 200 000 goal)
 *   consume   a push consumer catching up on everything sent (from offset 0)
 * Each produce row prints msgs/s, MB/s and send RT p50/p99/p999 in ms; the
 * broker's resident memory (VmHWM) closes each flush mode. Figures vary on
 * a shared machine: compare rows of one run, not runs. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/testkit.h"

static char bindir[1024], nsbin[1100], brbin[1100], benchbin[1100];
static int seconds = 5;

typedef struct row {
    double rate, mbs, p50, p99, p999;
    long rss;
} row_t;

static bool parse_summary(const char *out, row_t *r)
{
    const char *s = out ? strstr(out, "SUMMARY") : NULL;
    if (s == NULL)
        return false;
    memset(r, 0, sizeof *r);
    const char *p = strstr(s, "= ");
    if (p)
        r->rate = atof(p + 2);
    if ((p = strstr(s, "msgs/s (")) != NULL)
        r->mbs = atof(p + 8);
    if ((p = strstr(s, "p50 ")) != NULL)
        r->p50 = atof(p + 4);
    if ((p = strstr(s, "p99 ")) != NULL)
        r->p99 = atof(p + 4);
    if ((p = strstr(s, "p999 ")) != NULL)
        r->p999 = atof(p + 5);
    if ((p = strstr(s, "RSS ")) != NULL)
        r->rss = atol(p + 4);
    return true;
}

static bool mqbench(const char *ns, const char *topic, const char *mode, int threads, int batch, long rate,
                    bool async, row_t *r)
{
    char t[16], b[16], d[16], rt[32];
    snprintf(t, sizeof t, "%d", threads);
    snprintf(b, sizeof b, "%d", batch);
    snprintf(d, sizeof d, "%d", seconds);
    snprintf(rt, sizeof rt, "%ld", rate);
    char *argv[24];
    int n = 0;
    argv[n++] = benchbin;
    argv[n++] = "-n";
    argv[n++] = (char *)ns;
    argv[n++] = "-t";
    argv[n++] = (char *)topic;
    argv[n++] = "--mode";
    argv[n++] = (char *)mode;
    argv[n++] = "--duration";
    argv[n++] = strcmp(mode, "consume") == 0 ? "60" : d;
    if (strcmp(mode, "produce") == 0) {
        argv[n++] = "-s";
        argv[n++] = "1024";
        argv[n++] = "-w";
        argv[n++] = t;
        argv[n++] = "--batch";
        argv[n++] = b;
        if (rate > 0) {
            argv[n++] = "--rate";
            argv[n++] = rt;
        }
        if (async)
            argv[n++] = "--async";
    } else {
        argv[n++] = "-g";
        argv[n++] = "bench_consumer";
        argv[n++] = "--idle";
        argv[n++] = "2";
    }
    argv[n] = NULL;
    char *out = NULL;
    int st = rk_tk_run(argv, &out, 120000);
    bool ok = st == 0 && parse_summary(out, r);
    if (!ok)
        fprintf(stderr, "mqbench %s failed (status %d):\n%s\n", mode, st, out ? out : "");
    free(out);
    return ok;
}

static int run_mode(const char *flush)
{
    char dir[256];
    if (rk_tk_tmpdir(dir, sizeof dir, "bench07") != 0)
        return 1;
    int nsp = rk_tk_free_port(), brp = rk_tk_free_port();
    char ns[32], conf[300], nsconf[300], log[300];
    snprintf(ns, sizeof ns, "127.0.0.1:%d", nsp);
    snprintf(nsconf, sizeof nsconf, "%s/ns.conf", dir);
    FILE *f = fopen(nsconf, "w");
    if (f == NULL)
        return 1;
    fprintf(f, "listenPort=%d\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv.json\n", nsp, dir);
    fclose(f);
    snprintf(conf, sizeof conf, "%s/broker.conf", dir);
    if ((f = fopen(conf, "w")) == NULL)
        return 1;
    fprintf(f, "brokerClusterName=Bench\nbrokerName=broker-b\nbrokerId=0\nnamesrvAddr=%s\nbrokerIP1=127.0.0.1\nlistenHost=127.0.0.1\n"
               "listenPort=%d\nstorePathRootDir=%s/store\nflushDiskType=%s\n",
            ns, brp, dir, flush);
    fclose(f);
    snprintf(log, sizeof log, "%s/ns.log", dir);
    char *nsargv[] = {nsbin, "-c", nsconf, NULL};
    pid_t nspid = rk_tk_spawn(nsargv, log);
    snprintf(log, sizeof log, "%s/broker.log", dir);
    char *brargv[] = {brbin, "-c", conf, NULL};
    pid_t brpid = -1;
    int rc = 1;
    if (nspid > 0 && rk_tk_wait_port(nsp, 5000))
        brpid = rk_tk_spawn(brargv, log);
    if (brpid > 0 && rk_tk_wait_port(brp, 10000)) {
        usleep(300000);                 /* registration */
        row_t b16, single, half, cons;
        printf("\n%s (1 KiB bodies, %d s per row)\n", flush, seconds);
        printf("  %-10s %12s %9s %9s %9s %9s\n", "row", "msgs/s", "MB/s", "p50 ms", "p99 ms", "p999 ms");
        bool ok = mqbench(ns, "BenchBatch", "produce", 64, 16, 0, true, &b16);
        if (ok)
            printf("  %-10s %12.0f %9.1f %9.3f %9.3f %9.3f\n", "batch16", b16.rate, b16.mbs, b16.p50, b16.p99, b16.p999);
        ok = ok && mqbench(ns, "BenchSingle", "produce", 64, 1, 0, true, &single);
        if (ok)
            printf("  %-10s %12.0f %9.1f %9.3f %9.3f %9.3f\n", "single", single.rate, single.mbs, single.p50,
                   single.p99, single.p999);
        ok = ok && mqbench(ns, "BenchHalf", "produce", 2, 16, (long)(b16.rate / 2), false, &half);
        if (ok)
            printf("  %-10s %12.0f %9.1f %9.3f %9.3f %9.3f   (paced at %.0f msgs/s)\n", "half", half.rate, half.mbs,
                   half.p50, half.p99, half.p999, b16.rate / 2);
        row_t goal;
        ok = ok && mqbench(ns, "BenchGoal", "produce", 2, 16, 100000, false, &goal);
        if (ok)
            printf("  %-10s %12.0f %9.1f %9.3f %9.3f %9.3f   (paced at 100000 msgs/s: half the 200k goal)\n", "100k",
                   goal.rate, goal.mbs, goal.p50, goal.p99, goal.p999);
        ok = ok && mqbench(ns, "BenchBatch", "consume", 16, 1, 0, false, &cons);
        if (ok)
            printf("  %-10s %12.0f   (catch-up of the batch16 topic, client RSS %ld KiB)\n", "consume", cons.rate,
                   cons.rss);
        if (ok)
            printf("  batch16/single throughput: %.2fx; broker VmHWM %ld KiB; producer RSS %ld KiB\n",
                   single.rate > 0 ? b16.rate / single.rate : 0, rk_tk_vm_hwm_kib(brpid), b16.rss);
        rc = ok ? 0 : 1;
    } else {
        fprintf(stderr, "bench: the broker did not start (see %s)\n", log);
    }
    if (brpid > 0)
        rk_tk_stop(brpid, 20000);
    if (nspid > 0)
        rk_tk_stop(nspid, 5000);
    rk_tk_rmtree(dir);
    return rc;
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    ssize_t n = readlink("/proc/self/exe", bindir, sizeof bindir - 1);
    if (n <= 0)
        return 1;
    bindir[n] = '\0';
    *strrchr(bindir, '/') = '\0';
    snprintf(brbin, sizeof brbin, "%s/mqbroker", bindir);
    snprintf(benchbin, sizeof benchbin, "%s/mqbench", bindir);
    snprintf(nsbin, sizeof nsbin, "%s/../../ch06/bin/mqnamesrv", bindir);
    const char *s = getenv("RK_BENCH_SECONDS");
    if (s != NULL && atoi(s) > 0)
        seconds = atoi(s);
    printf("bench-ch07: mqbench against mqnamesrv + mqbroker on 127.0.0.1 (%ld cores)\n", sysconf(_SC_NPROCESSORS_ONLN));
    int rc = run_mode("ASYNC_FLUSH");
    rc |= run_mode("SYNC_FLUSH");
    return rc;
}
