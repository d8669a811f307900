/* bench_final — the headline table: the assembled cluster (two name servers, two groups of
 * three electing replicas, majority acknowledgements: final/conf/local on free ports) measured
 * in one run against what this machine can do at all:
 *
 *   memcpy into a mapped file   what the commitlog's append is, minus everything else (MB/s)
 *   fdatasync of 4 KiB          the disk's flush rate (a SYNC_FLUSH send's floor)
 *   loopback round trip         one request and its answer with no work (µs)
 *
 * then, with mqbench (build/bin) against the cluster: async sends, unbatched and in batches of
 * 16, 100 B and 1 KiB; latency at half the unbatched 1 KiB rate; consumption catch-up of what
 * was sent; failover (kill -9 of a master → first acknowledged write to that group), several
 * rounds. Figures only, no assertion: the machine is shared, so compare rows of one run.
 *
 *   bench_final [--rounds N] [--seconds S]      (make bench-final)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/localconf.h"
#include "rk/log.h"
#include "rk/testkit.h"

#define BIN RK_BIN_DIR "/../../bin"

static char dir[256], ns[160];
static rk_lc_proc_t procs[RK_LC_MAX];
static pid_t pids[RK_LC_MAX];
static int nprocs;

/* ------------------------------------------------------------ baselines */

static double memcpy_mb_s(size_t rec)
{
    char path[300];
    snprintf(path, sizeof path, "%s/memcpy.bin", dir);
    size_t len = 256u << 20;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, (off_t)len) != 0)
        return 0;
    char *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return 0;
    char *src = malloc(rec);
    memset(src, 'x', rec);
    for (size_t at = 0; at < len; at += 4096)   /* fault every page in first, as the store does ahead */
        map[at] = 0;
    uint64_t t0 = rk_mono_ms();
    size_t at = 0;
    while (at + rec <= len) {
        memcpy(map + at, src, rec);
        at += rec;
    }
    double secs = (double)(rk_mono_ms() - t0) / 1000.0;
    munmap(map, len);
    free(src);
    unlink(path);
    return secs > 0 ? (double)at / 1e6 / secs : 0;
}

static double fsync_per_s(void)
{
    char path[300], buf[4096];
    snprintf(path, sizeof path, "%s/fsync.bin", dir);
    memset(buf, 'y', sizeof buf);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return 0;
    uint64_t t0 = rk_mono_ms(), n = 0;
    while (rk_mono_ms() - t0 < 1000) {
        if (pwrite(fd, buf, sizeof buf, (off_t)(n * sizeof buf)) != (ssize_t)sizeof buf || fdatasync(fd) != 0)
            break;
        n++;
    }
    double secs = (double)(rk_mono_ms() - t0) / 1000.0;
    close(fd);
    unlink(path);
    return secs > 0 ? (double)n / secs : 0;
}

static void *echo_main(void *arg)
{
    int ls = *(int *)arg, c = accept(ls, NULL, NULL);
    char b[64];
    ssize_t k;
    while (c >= 0 && (k = read(c, b, sizeof b)) > 0)
        if (write(c, b, (size_t)k) != k)
            break;
    if (c >= 0)
        close(c);
    return NULL;
}

/* One-byte ping-pong over TCP on 127.0.0.1 for a second: the median round trip in µs. */
static double loopback_rtt_us(void)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 1) != 0 ||
        getsockname(ls, (struct sockaddr *)&sa, &sl) != 0)
        return 0;
    pthread_t th;
    pthread_create(&th, NULL, echo_main, &ls);
    int c = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof sa) != 0)
        return 0;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    static uint32_t us[200000];
    size_t n = 0;
    uint64_t t0 = rk_mono_ms();
    while (rk_mono_ms() - t0 < 1000 && n < sizeof us / sizeof us[0]) {
        struct timespec a, b;
        char x = 'p';
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (write(c, &x, 1) != 1 || read(c, &x, 1) != 1)
            break;
        clock_gettime(CLOCK_MONOTONIC, &b);
        us[n++] = (uint32_t)((b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000);
    }
    close(c);
    pthread_join(th, NULL);
    close(ls);
    /* median by counting (values are small) */
    uint32_t lo = 0, hi = 100000;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        size_t le = 0;
        for (size_t i = 0; i < n; i++)
            le += us[i] <= mid;
        if (le >= n / 2 + 1)
            hi = mid;
        else
            lo = mid + 1;
    }
    return n ? (double)lo : 0;
}

/* ------------------------------------------------------------ the cluster */

static void start(int i)
{
    char log[500];
    snprintf(log, sizeof log, "%s/%s.log", dir, procs[i].name);
    char *argv[] = {procs[i].broker ? BIN "/mqbroker" : BIN "/mqnamesrv", "-c", procs[i].conf, NULL};
    pids[i] = rk_tk_spawn(argv, log);
    if (pids[i] <= 0 || !rk_tk_wait_port(procs[i].port, 20000)) {
        fprintf(stderr, "bench_final: %s did not start (see %s)\n", procs[i].name, log);
        exit(1);
    }
}

static void stop_all(void)
{
    for (int i = nprocs - 1; i >= 0; i--)
        if (pids[i] > 0) {
            rk_tk_stop(pids[i], 15000);
            pids[i] = -1;
        }
}

static int master_of(const char *group, int not_this, int ms)
{
    for (int t = 0; t <= ms; t += 50) {
        int port = rk_lc_registered_master(ns, group);
        for (int i = 0; port > 0 && i < nprocs; i++)
            if (procs[i].broker && procs[i].port == port && pids[i] > 0 && i != not_this)
                return i;
        usleep(50000);
    }
    return -1;
}

/* ------------------------------------------------------------ mqbench rows */

typedef struct row {
    double msgs_s, mb_s, p50, p99, p999;
} row_t;

static int mqbench(row_t *r, const char *const *args)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = BIN "/mqbench";
    argv[n++] = "-n";
    argv[n++] = ns;
    for (int i = 0; args[i] != NULL && n < 30; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char *out = NULL;
    int st = rk_tk_run((char *const *)argv, &out, 600000);
    memset(r, 0, sizeof *r);
    const char *s = out ? strstr(out, "SUMMARY") : NULL;
    if (s != NULL) {
        const char *eq = strstr(s, "= ");
        if (eq)
            r->msgs_s = atof(eq + 2);
        const char *mb = strstr(s, "msgs/s (");
        if (mb)
            r->mb_s = atof(mb + 8);
        const char *p = strstr(s, "p50 ");
        if (p)
            sscanf(p, "p50 %lf p99 %lf p999 %lf", &r->p50, &r->p99, &r->p999);
    } else {
        fprintf(stderr, "bench_final: mqbench status %d:\n%s\n", st, out ? out : "");
    }
    free(out);
    return s != NULL ? 0 : -1;
}

/* ------------------------------------------------------------ failover */

/* kill -9 of broker-a's master, then a send every 10 ms to whichever replica the name servers
 * say is broker-a's master: the time until the first SEND_OK from a new master (ms), or -1. */
static int64_t failover_round(void)
{
    int m = master_of("broker-a", -1, 20000);
    if (m < 0)
        return -1;
    char body[100];
    memset(body, 'f', sizeof body);
    uint64_t killed = rk_mono_ms();
    rk_tk_kill(pids[m], SIGKILL);
    rk_tk_wait(pids[m], 5000);
    pids[m] = -1;
    int64_t took = -1;
    int last = 0;
    while (rk_mono_ms() - killed < 30000) {
        int port = rk_lc_registered_master(ns, "broker-a");
        if (port > 0 && port != procs[m].port) {
            char addr[64];
            snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
            if ((last = rk_lc_send(addr, "FailoverProbe", body, (int)sizeof body, 3000)) == 0) {
                took = (int64_t)(rk_mono_ms() - killed);
                break;
            }
        }
        usleep(10000);
    }
    if (took < 0)
        fprintf(stderr, "bench_final: no SEND_OK from a new master of broker-a 30 s after the kill (last: %d)\n", last);
    start(m);                                   /* back as a follower for the next round */
    sleep(3);
    return took;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_all();
    _exit(1);
}

int main(int argc, char **argv)
{
    int rounds = 5, seconds = 5;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = atoi(argv[++i]);
    }
    if (rounds < 1 || rounds > 50 || seconds < 1 || seconds > 300) {
        fprintf(stderr, "usage: bench_final [--rounds 1..50] [--seconds 1..300]\n");
        return 2;
    }
    rk_log_set_level(RK_LOG_ERROR);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (rk_tk_tmpdir(dir, sizeof dir, "bench-final") != 0)
        return 1;
    uint64_t t_all = rk_mono_ms();
    printf("bench-final: the assembled cluster on 127.0.0.1 (this machine: %ld cores), figures only\n\n",
           sysconf(_SC_NPROCESSORS_ONLN));

    printf("1. what the machine can do\n");
    double mc1k = memcpy_mb_s(1024), mc100 = memcpy_mb_s(100), fs = fsync_per_s(), rtt = loopback_rtt_us();
    printf("  memcpy into a mapped file, 1 KiB records   %8.0f MB/s (%.0f k records/s)\n", mc1k, mc1k * 1e3 / 1024);
    printf("  memcpy into a mapped file, 100 B records   %8.0f MB/s (%.0f k records/s)\n", mc100, mc100 * 1e3 / 100);
    printf("  fdatasync of a 4 KiB write                 %8.0f /s\n", fs);
    printf("  loopback TCP round trip (median)           %8.0f us\n\n", rtt);
    fflush(stdout);

    char err[256] = "";
    nprocs = rk_lc_write(RK_SRC_ROOT "/final/conf/local", dir, NULL, procs, RK_LC_MAX, ns, (int)sizeof ns, err,
                         (int)sizeof err);
    if (nprocs <= 0) {
        fprintf(stderr, "bench_final: %s\n", err);
        return 1;
    }
    for (int i = 0; i < nprocs; i++)
        start(i);
    if (master_of("broker-a", -1, 30000) < 0 || master_of("broker-b", -1, 30000) < 0) {
        fprintf(stderr, "bench_final: no master in every group (logs in %s)\n", dir);
        stop_all();
        return 1;
    }
    char secs[16];
    snprintf(secs, sizeof secs, "%d", seconds);
    printf("2. sends to the cluster: two groups, majority acks (2 of 3 replicas), ASYNC_FLUSH; mqbench --async,\n"
           "   128 sends in flight, %d s per row\n", seconds);
    printf("  %-26s %10s %8s %8s %8s %8s   %s\n", "row", "msgs/s", "MB/s", "p50 ms", "p99 ms", "p999 ms", "of memcpy");
    struct {
        const char *name, *size, *batch, *topic;
        double memcpy_mb;
    } rows[] = {
        {"100 B unbatched", "100", "1", "Bench100", mc100},
        {"100 B batch 16", "100", "16", "Bench100b", mc100},
        {"1 KiB unbatched", "1024", "1", "Bench1k", mc1k},
        {"1 KiB batch 16", "1024", "16", "Bench1kb", mc1k},
    };
    double unbatched_1k = 0;
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        row_t r;
        const char *args[] = {"-t", rows[k].topic, "-s", rows[k].size, "--batch", rows[k].batch, "--async", "-w", "128",
                              "--duration", secs, NULL};
        if (mqbench(&r, args) != 0)
            continue;
        if (k == 2)
            unbatched_1k = r.msgs_s;
        printf("  %-26s %10.0f %8.1f %8.3f %8.3f %8.3f   %.2f %%\n", rows[k].name, r.msgs_s, r.mb_s, r.p50, r.p99, r.p999,
               rows[k].memcpy_mb > 0 ? 100 * r.mb_s / rows[k].memcpy_mb : 0);
        fflush(stdout);
    }
    if (unbatched_1k > 0) {
        char rate[32];
        snprintf(rate, sizeof rate, "%.0f", unbatched_1k / 2);
        row_t r;
        const char *args[] = {"-t", "BenchHalf", "-s", "1024", "-w", "64", "--rate", rate, "--duration", secs, NULL};
        if (mqbench(&r, args) == 0)
            printf("\n  at half that 1 KiB rate (%s msgs/s paced): p50 %.3f ms, p99 %.3f ms, p999 %.3f ms "
                   "(%.0fx / %.0fx / %.0fx the loopback round trip)\n",
                   rate, r.p50, r.p99, r.p999, rtt > 0 ? r.p50 * 1000 / rtt : 0, rtt > 0 ? r.p99 * 1000 / rtt : 0,
                   rtt > 0 ? r.p999 * 1000 / rtt : 0);
    }
    {
        row_t r;
        const char *args[] = {"--mode", "consume", "-t", "Bench1kb", "-g", "BenchCatchUp", "--idle", "3", NULL};
        if (mqbench(&r, args) == 0)
            printf("\n3. consumption catch-up (push consumer from offset 0 of the 1 KiB batched topic): %.0f msgs/s = "
                   "%.0f MB/s (%.3fx memcpy)\n",
                   r.msgs_s, r.msgs_s * 1024 / 1e6, mc1k > 0 ? r.msgs_s * 1024 / 1e6 / mc1k : 0);
    }
    fflush(stdout);

    printf("\n4. failover: kill -9 of broker-a's master -> first SEND_OK from its new master (majority-acked), %d rounds\n",
           rounds);
    int64_t took[50];
    int n = 0;
    printf("  ms:");
    for (int k = 0; k < rounds; k++) {
        int64_t t = failover_round();
        printf(" %" PRId64, t);
        fflush(stdout);
        if (t >= 0)
            took[n++] = t;
    }
    if (n > 0) {
        qsort(took, (size_t)n, sizeof took[0], cmp_i64);
        printf("\n  median %" PRId64 " ms, worst %" PRId64 " ms (%d of %d rounds with a write within 30 s)\n",
               took[n / 2], took[n - 1], n, rounds);
    }
    stop_all();
    rk_tk_rmtree(dir);
    printf("\nbench-final: %.0f s in all\n", (double)(rk_mono_ms() - t_all) / 1000.0);
    return 0;
}
