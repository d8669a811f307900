/* bench_txn.c — `make bench-ch11`: what a transaction costs a producer, against a local
 * mqnamesrv + mqbroker on loopback (asynchronous flush), in one run:
 *
 *   plain async   rk_producer_send_async, 64 sends in flight: the yardstick
 *   txn           rk_txn_producer_send from 32 threads: half (synchronous send) + local
 *                 transaction (returns COMMIT at once) + END_TRANSACTION (oneway) each; as
 *                 RocketMQ's sendMessageInTransaction, a transactional send is synchronous, so
 *                 concurrency comes from threads. Goal: >= 40 % of plain async.
 *   plain sync    rk_producer_send from the same 32 threads: what the half alone costs
 *   check-back    100 000 halves left UNKNOWN while the broker's check service asks about them
 *                 (transactionCheckInterval 1 s, transactionTimeOut 6 s as RocketMQ's default: a
 *                 half is asked about once 6 s old, so the halves row runs beside the first
 *                 checks, while the txn row's halves are decided long before that); the check
 *                 callback (4 threads) says COMMIT:
 *                 distinct halves resolved per second from the first check to the last new one,
 *                 and the checks answered in all (the broker may ask again before an answer lands)
 *
 * 256-byte bodies; RK_BENCH_SECONDS (default 5) per send row; RK_BENCH_HALVES (default 100000; 0
 * skips the check-back row).
 * The broker is chapter 11's when build/ch11/bin/mqbroker exists; otherwise chapter 9's, which
 * stores a half as an ordinary message and ignores END_TRANSACTION: the txn row then measures the
 * client's work and the half only, and the check-back row is skipped (said in the output).
 * Figures vary on a shared machine: compare rows of one run, not runs. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/strmap.h"
#include "rk/testkit.h"
#include "rk/txn_producer.h"

#define BODY 256
#define THREADS 32
#define INFLIGHT 64
#define SAMPLES (1 << 16)               /* latency samples kept per thread */

typedef struct bench {
    char ns[32];
    char body[BODY];
    int seconds;
    bool txn_broker;
} bench_t;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- plain async ---- */

typedef struct async_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight;
    long ok, failed;
} async_state_t;

static void async_done(void *arg, int status, const rk_send_result_t *r)
{
    (void)r;
    async_state_t *s = arg;
    pthread_mutex_lock(&s->mu);
    s->inflight--;
    if (status == RK_OK)
        s->ok++;
    else
        s->failed++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static double row_async(const bench_t *b, const char *topic)
{
    rk_producer_config_t cfg = {.namesrv = b->ns, .group = "bench_plain_pg"};
    rk_producer_t *p;
    if (rk_producer_new(&cfg, &p) != RK_OK)
        return -1;
    async_state_t s = {.inflight = 0};
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    rk_message_t m = {.topic = topic, .body = b->body, .body_len = BODY};
    rk_send_result_t r;
    rk_producer_send(p, &m, &r);        /* route and connection */
    uint64_t start = rk_mono_ms(), end = start + (uint64_t)b->seconds * 1000;
    while (rk_mono_ms() < end) {
        pthread_mutex_lock(&s.mu);
        while (s.inflight >= INFLIGHT)
            pthread_cond_wait(&s.cv, &s.mu);
        s.inflight++;
        pthread_mutex_unlock(&s.mu);
        if (rk_producer_send_async(p, &m, async_done, &s) != RK_OK) {
            pthread_mutex_lock(&s.mu);
            s.inflight--;
            s.failed++;
            pthread_mutex_unlock(&s.mu);
        }
    }
    pthread_mutex_lock(&s.mu);
    while (s.inflight > 0)
        pthread_cond_wait(&s.cv, &s.mu);
    pthread_mutex_unlock(&s.mu);
    double secs = (double)(rk_mono_ms() - start) / 1000.0;
    rk_producer_free(p);
    double rate = (double)s.ok / secs;
    printf("  %-12s %10.0f msgs/s  (%ld ok, %ld failed, %d in flight)\n", "plain async", rate, s.ok, s.failed,
           INFLIGHT);
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
    return rate;
}

/* ---- threads of synchronous sends (transactional or plain) ---- */

typedef struct worker {
    const bench_t *b;
    const char *topic;
    rk_txn_producer_t *tp;
    rk_producer_t *p;                   /* plain sync when set */
    rk_txn_state_t answer;
    uint64_t end;
    long ok, failed, end_failed;
    double *lat;
    int nlat;
    long max;                           /* stop after this many (0: by time) */
} worker_t;

static rk_txn_state_t answer(void *arg, const rk_message_t *m, const rk_send_result_t *half)
{
    (void)m;
    (void)half;
    return ((worker_t *)arg)->answer;
}

static void *worker_run(void *arg)
{
    worker_t *w = arg;
    rk_message_t m = {.topic = w->topic, .body = w->b->body, .body_len = BODY};
    while ((w->max == 0 && rk_mono_ms() < w->end) || (w->max > 0 && w->ok + w->failed < w->max)) {
        uint64_t t0 = rk_mono_ns();
        int rc;
        if (w->p != NULL) {
            rk_send_result_t r;
            rc = rk_producer_send(w->p, &m, &r);
        } else {
            rk_txn_send_result_t r;
            rc = rk_txn_producer_send(w->tp, &m, answer, w, &r);
            if (rc == RK_OK && r.end_status != RK_OK)
                w->end_failed++;
        }
        if (rc == RK_OK) {
            w->ok++;
            if (w->nlat < SAMPLES)
                w->lat[w->nlat++] = (double)(rk_mono_ns() - t0) / 1e6;
        } else {
            w->failed++;
        }
    }
    return NULL;
}

/* Runs THREADS workers; returns msgs/s (prints a row). max > 0: each sends max, untimed row. */
static double row_threads(const bench_t *b, const char *label, const char *topic, rk_txn_producer_t *tp,
                          rk_producer_t *p, rk_txn_state_t st, long max)
{
    worker_t w[THREADS];
    pthread_t th[THREADS];
    uint64_t start = rk_mono_ms();
    int started = 0;
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){.b = b, .topic = topic, .tp = tp, .p = p, .answer = st, .max = max,
                          .end = start + (uint64_t)b->seconds * 1000, .lat = malloc(SAMPLES * sizeof(double))};
        if (w[i].lat == NULL || pthread_create(&th[i], NULL, worker_run, &w[i]) != 0)
            break;
        started++;
    }
    long ok = 0, failed = 0, end_failed = 0;
    int nlat = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
        failed += w[i].failed;
        end_failed += w[i].end_failed;
        nlat += w[i].nlat;
    }
    double secs = (double)(rk_mono_ms() - start) / 1000.0;
    double *all = malloc((size_t)(nlat > 0 ? nlat : 1) * sizeof *all);
    int k = 0;
    for (int i = 0; i < started; i++) {
        if (all != NULL)
            memcpy(all + k, w[i].lat, (size_t)w[i].nlat * sizeof *all);
        k += w[i].nlat;
        free(w[i].lat);
    }
    if (started < THREADS)
        free(w[started].lat);
    double p50 = 0, p99 = 0;
    if (all != NULL && nlat > 0) {
        qsort(all, (size_t)nlat, sizeof *all, cmp_double);
        p50 = all[nlat / 2];
        p99 = all[(size_t)((double)nlat * 0.99)];
    }
    free(all);
    double rate = (double)ok / secs;
    printf("  %-12s %10.0f msgs/s  p50 %.2f ms  p99 %.2f ms  (%ld ok, %ld failed%s%ld END not sent, %d threads)\n",
           label, rate, p50, p99, ok, failed, ", ", end_failed, THREADS);
    return rate;
}

/* ---- check-back ---- */

/* The broker may ask about a half again before its first answer is applied (a pass starts while
 * the COMMIT is on its way): checks answered count those repeats, halves resolved do not. */
typedef struct checks {
    pthread_mutex_t mu;
    rk_strmap_t seen;                   /* transaction ids answered */
    long answered, distinct;
    uint64_t first_ms, last_new_ms;
} checks_t;

static void checks_init(checks_t *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    rk_strmap_init(&c->seen);
}

static void checks_free(checks_t *c)
{
    rk_strmap_free(&c->seen, NULL);
    pthread_mutex_destroy(&c->mu);
}

static long checks_distinct(checks_t *c)
{
    pthread_mutex_lock(&c->mu);
    long n = c->distinct;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static rk_txn_state_t on_check(void *arg, const rk_msg_ext_t *m)
{
    checks_t *c = arg;
    uint64_t now = rk_mono_ms();
    pthread_mutex_lock(&c->mu);
    if (c->first_ms == 0)
        c->first_ms = now;
    c->answered++;
    if (rk_strmap_get(&c->seen, m->msg_id) == NULL && rk_strmap_put(&c->seen, m->msg_id, c, NULL) == RK_OK) {
        c->distinct++;
        c->last_new_ms = now;
    }
    pthread_mutex_unlock(&c->mu);
    return RK_TXN_COMMIT;
}

static void row_checks(const bench_t *b, long halves)
{
    if (!b->txn_broker) {
        printf("  %-12s skipped: chapter 9's broker never checks back (build chapter 11's mqbroker)\n", "check-back");
        return;
    }
    if (halves < THREADS) {
        printf("  %-12s skipped: RK_BENCH_HALVES under %d\n", "check-back", THREADS);
        return;
    }
    checks_t c;
    checks_init(&c);
    const char *topics[] = {"BenchTxnCheck", NULL};
    rk_txn_producer_config_t cfg = {.producer = {.namesrv = b->ns, .group = "bench_check_pg"}, .check = on_check,
                                    .check_arg = &c, .check_threads = 4, .check_queue_max = 200000,
                                    .topics = topics};
    rk_txn_producer_t *tp;
    if (rk_txn_producer_new(&cfg, &tp) != RK_OK) {
        printf("  check-back: the producer did not start\n");
        checks_free(&c);
        return;
    }
    uint64_t t0 = rk_mono_ms();
    row_threads(b, "halves", "BenchTxnCheck", tp, NULL, RK_TXN_UNKNOWN, halves / THREADS);
    long sent = halves / THREADS * THREADS;
    printf("  %-12s %ld halves left UNKNOWN in %.1f s (checked once 6 s old, beside the sends); "
           "waiting for every one to be asked about (180 s at most)\n", "", sent, (double)(rk_mono_ms() - t0) / 1000.0);
    uint64_t deadline = rk_mono_ms() + 180000;
    while (checks_distinct(&c) < sent && rk_mono_ms() < deadline)
        usleep(100000);
    rk_txn_producer_stats_t st;
    rk_txn_producer_stats(tp, &st);
    pthread_mutex_lock(&c.mu);
    double span = (double)(c.last_new_ms - c.first_ms) / 1000.0;
    printf("  %-12s %10.0f halves/s  (%ld of %ld halves resolved in %.1f s from the first check; %ld checks "
           "answered with repeats, %" PRIu64 " dropped by a full queue)\n", "check-back",
           span > 0 ? (double)c.distinct / span : 0.0, c.distinct, sent, span, c.answered, st.checks_dropped);
    pthread_mutex_unlock(&c.mu);
    rk_txn_producer_free(tp);
    checks_free(&c);
}

int main(void)
{
    bench_t b = {.seconds = 5};
    memset(b.body, 'x', sizeof b.body);
    const char *s = getenv("RK_BENCH_SECONDS");
    if (s != NULL && atoi(s) > 0)
        b.seconds = atoi(s);
    long halves = 100000;
    if ((s = getenv("RK_BENCH_HALVES")) != NULL && atol(s) >= 0)
        halves = atol(s);
    rk_log_set_level(RK_LOG_ERROR);

    char bindir[1024], nsbin[1100], brbin[1100];
    ssize_t n = readlink("/proc/self/exe", bindir, sizeof bindir - 1);
    if (n <= 0)
        return 1;
    bindir[n] = '\0';
    *strrchr(bindir, '/') = '\0';
    snprintf(nsbin, sizeof nsbin, "%s/../../ch06/bin/mqnamesrv", bindir);
    snprintf(brbin, sizeof brbin, "%s/mqbroker", bindir);
    b.txn_broker = access(brbin, X_OK) == 0;
    if (!b.txn_broker)
        snprintf(brbin, sizeof brbin, "%s/../../ch09/bin/mqbroker", bindir);

    char dir[256];
    if (rk_tk_tmpdir(dir, sizeof dir, "bench11") != 0)
        return 1;
    int nsp = rk_tk_free_port(), brp = rk_tk_free_port(), hap;
    do
        hap = rk_tk_free_port();
    while (hap == nsp || hap == brp);
    snprintf(b.ns, sizeof b.ns, "127.0.0.1:%d", nsp);
    char conf[300], nsconf[300], log[300];
    snprintf(nsconf, sizeof nsconf, "%s/ns.conf", dir);
    FILE *f = fopen(nsconf, "w");
    if (f == NULL)
        return 1;
    fprintf(f, "listenPort=%d\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv.json\n", nsp, dir);
    fclose(f);
    snprintf(conf, sizeof conf, "%s/broker.conf", dir);
    if ((f = fopen(conf, "w")) == NULL)
        return 1;
    fprintf(f, "brokerClusterName=Bench\nbrokerName=broker-t\nbrokerId=0\nnamesrvAddr=%s\nbrokerIP1=127.0.0.1\n"
               "listenHost=127.0.0.1\nlistenPort=%d\nhaListenPort=%d\nstorePathRootDir=%s/store\n"
               "flushDiskType=ASYNC_FLUSH\n%s", b.ns, brp, hap, dir,
            b.txn_broker ? "transactionCheckInterval=1000\ntransactionTimeOut=6000\n" : "");
    fclose(f);
    snprintf(log, sizeof log, "%s/ns.log", dir);
    char *nsargv[] = {nsbin, "-c", nsconf, NULL};
    pid_t nspid = rk_tk_spawn(nsargv, log), brpid = -1;
    snprintf(log, sizeof log, "%s/broker.log", dir);
    char *brargv[] = {brbin, "-c", conf, NULL};
    if (nspid > 0 && rk_tk_wait_port(nsp, 5000))
        brpid = rk_tk_spawn(brargv, log);
    int rc = 1;
    if (brpid > 0 && rk_tk_wait_port(brp, 10000)) {
        usleep(500000);                 /* registration */
        printf("bench-ch11: mqbroker of chapter %s on 127.0.0.1 (%ld cores), %d-byte bodies, %d s per row\n",
               b.txn_broker ? "11" : "9: no transactions there, halves are stored as plain messages and END_TRANSACTION "
               "is ignored (see bench_txn.c)", sysconf(_SC_NPROCESSORS_ONLN), BODY, b.seconds);
        double plain = row_async(&b, "BenchPlain");
        rk_txn_producer_config_t cfg = {.producer = {.namesrv = b.ns, .group = "bench_txn_pg"}, .check = on_check,
                                        .check_arg = NULL};
        checks_t unused;
        checks_init(&unused);
        cfg.check_arg = &unused;
        rk_txn_producer_t *tp;
        double txn = -1, sync = -1;
        if (rk_txn_producer_new(&cfg, &tp) == RK_OK) {
            rk_message_t warm = {.topic = "BenchTxn", .body = b.body, .body_len = BODY};
            rk_txn_send_result_t wr;
            worker_t dummy = {.answer = RK_TXN_COMMIT};
            rk_txn_producer_send(tp, &warm, answer, &dummy, &wr);
            txn = row_threads(&b, "txn commit", "BenchTxn", tp, NULL, RK_TXN_COMMIT, 0);
            sync = row_threads(&b, "plain sync", "BenchSync", NULL, rk_txn_producer_base(tp), RK_TXN_COMMIT, 0);
            rk_txn_producer_free(tp);
        }
        checks_free(&unused);
        if (plain > 0 && txn > 0)
            printf("  txn / plain async: %.0f %% (goal >= 40 %%); txn / plain sync: %.0f %%\n", 100.0 * txn / plain,
                   sync > 0 ? 100.0 * txn / sync : 0.0);
        row_checks(&b, halves);
        printf("  broker VmHWM %ld KiB, this process VmHWM %ld KiB\n", rk_tk_vm_hwm_kib(brpid), rk_tk_vm_hwm_kib(getpid()));
        rc = plain > 0 && txn > 0 ? 0 : 1;
    } else {
        fprintf(stderr, "bench-ch11: the broker did not start (see %s)\n", log);
    }
    if (brpid > 0)
        rk_tk_stop(brpid, 20000);
    if (nspid > 0)
        rk_tk_stop(nspid, 5000);
    rk_tk_rmtree(dir);
    return rc;
}
