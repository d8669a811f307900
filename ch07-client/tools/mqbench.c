/* mqbench — RocketMQ's benchmark producer and consumer for rocklet.
 *
 *   mqbench -n 127.0.0.1:9876 -t BenchTopic -s 1024 -w 64 --batch 16 --duration 10
 *   mqbench -n 127.0.0.1:9876 -t BenchTopic --mode consume -g bench_group
 *
 * produce: -w threads each send synchronously in a loop (a batch of N
 * messages per send with --batch N); --rate caps the total messages/s.
 * Every second: TPS, average and max send RT, failures; at the end the
 * totals and RT percentiles (p50/p99/p999) over every send.
 * consume: a push consumer from the first offset; every second the consume
 * TPS and the born-to-consume delay; it ends after --duration or when
 * nothing arrived for --idle seconds, and prints the catch-up rate. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "rk/clock.h"
#include "rk/consumer.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/mqadmin.h"
#include "rk/producer.h"

/* ---- latency histogram: 1 µs .. ~1100 s, 32 sub-buckets per power of two (≤3 % error) ---- */

#define SUB 32
#define POW 31
typedef struct hist {
    _Atomic uint64_t b[POW * SUB];
} hist_t;

static int bucket(uint64_t us)
{
    if (us < SUB)
        return (int)us;
    int p = 63 - __builtin_clzll(us);  /* us in [2^p, 2^(p+1)) */
    int shift = p - 5;                  /* keep 5 bits below the top one */
    int idx = (p - 4) * SUB + (int)((us >> shift) & (SUB - 1));
    return idx < POW * SUB ? idx : POW * SUB - 1;
}

static uint64_t bucket_value(int idx)
{
    if (idx < SUB)
        return (uint64_t)idx;
    int p = idx / SUB + 4, sub = idx % SUB;
    return ((uint64_t)(SUB + sub) << (p - 5));
}

static void hist_add(hist_t *h, uint64_t us) { atomic_fetch_add_explicit(&h->b[bucket(us)], 1, memory_order_relaxed); }

static double hist_pct(hist_t *h, double pct)
{
    uint64_t total = 0;
    for (int i = 0; i < POW * SUB; i++)
        total += atomic_load(&h->b[i]);
    if (total == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(total * pct / 100.0), seen = 0;
    for (int i = 0; i < POW * SUB; i++) {
        seen += atomic_load(&h->b[i]);
        if (seen >= want)
            return bucket_value(i) / 1000.0;
    }
    return 0;
}

/* ---- options ---- */

static const char *ns, *topic = "BenchmarkTest", *group = "benchmark_consumer", *mode = "produce";
static int64_t size = 128, threads = 64, batch = 1, duration = 10, rate = 0, idle = 3;
static bool async_mode;
static volatile sig_atomic_t stop_now;

static void on_signal(int sig) { (void)sig; stop_now = 1; }

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            v = atol(line + 6);
    if (f)
        fclose(f);
    return v;
}

static void now_str(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

/* ---- produce ---- */

static rk_producer_t *producer;
static hist_t send_rt;
static _Atomic uint64_t sent_msgs, sends, failed, rt_sum_us, rt_max_us;
static char *body;

/* --slow MS: each send slower than MS is printed with the wall-clock time it
 * started (µs since the epoch), so that it can be lined up with a trace of the
 * broker taken at the same time (`strace -ttt`, `perf sched timehist`). At
 * most SLOW_MAX lines: a stalled machine must not also flood the terminal. */
#define SLOW_MAX 1000
static int64_t slow_ms;
static _Atomic uint64_t slow_lines;

static void note_slow(uint64_t us)
{
    if (slow_ms <= 0 || us < (uint64_t)slow_ms * 1000)
        return;
    uint64_t n = atomic_fetch_add(&slow_lines, 1);
    if (n >= SLOW_MAX) {
        if (n == SLOW_MAX)
            fprintf(stderr, "SLOW: more than %d slow sends; no more are printed\n", SLOW_MAX);
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t end_us = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000;
    fprintf(stderr, "SLOW send started %" PRIu64 ".%06" PRIu64 " took %.3f ms\n", (end_us - us) / 1000000,
            (end_us - us) % 1000000, (double)us / 1000);
}

static void update_max(_Atomic uint64_t *m, uint64_t v)
{
    uint64_t cur = atomic_load(m);
    while (v > cur && !atomic_compare_exchange_weak(m, &cur, v))
        ;
}

static void sender(void *arg)
{
    int idx = (int)(intptr_t)arg;
    rk_message_t *msgs = calloc((size_t)batch, sizeof *msgs);
    if (msgs == NULL)
        return;
    for (int i = 0; i < batch; i++)
        msgs[i] = (rk_message_t){.topic = topic, .tags = "bench", .body = body, .body_len = (size_t)size};
    /* each thread paces itself to rate / threads messages per second */
    double gap_ns = rate > 0 ? 1e9 * (double)batch * (double)threads / (double)rate : 0;
    /* threads start staggered over one gap, so paced sends are spread evenly, not in bursts */
    uint64_t next = rk_mono_ns() + (uint64_t)(gap_ns * idx / (double)threads);
    while (!stop_now) {
        if (gap_ns > 0) {
            uint64_t now = rk_mono_ns();
            if (now < next) {
                struct timespec ts = {.tv_sec = (time_t)((next - now) / 1000000000u),
                                      .tv_nsec = (long)((next - now) % 1000000000u)};
                nanosleep(&ts, NULL);
            }
            next += (uint64_t)gap_ns;
        }
        rk_send_result_t r;
        uint64_t t0 = rk_mono_ns();
        int rc = batch > 1 ? rk_producer_send_batch(producer, msgs, (size_t)batch, &r)
                           : rk_producer_send(producer, &msgs[0], &r);
        uint64_t us = (rk_mono_ns() - t0) / 1000;
        if (rc != RK_OK) {
            if (atomic_fetch_add(&failed, 1) < 5)
                fprintf(stderr, "send failed: %s\n", r.error);
            continue;
        }
        hist_add(&send_rt, us);
        atomic_fetch_add(&sends, 1);
        atomic_fetch_add(&sent_msgs, (uint64_t)batch);
        atomic_fetch_add(&rt_sum_us, us);
        update_max(&rt_max_us, us);
        note_slow(us);
    }
    free(msgs);
}

/* --async: `threads` sends in flight at all times, each completion sending
 * the next one from the client's network thread (no thread per sender). */
static rk_message_t *amsgs;
static _Atomic int ainflight;

static void async_next(void);

static void on_async_sent(void *arg, int status, const rk_send_result_t *r)
{
    uint64_t t0 = (uint64_t)(uintptr_t)arg;
    uint64_t us = (rk_mono_ns() - t0) / 1000;
    if (status != RK_OK) {
        if (atomic_fetch_add(&failed, 1) < 5)
            fprintf(stderr, "send failed: %s\n", r->error);
    } else {
        hist_add(&send_rt, us);
        atomic_fetch_add(&sends, 1);
        atomic_fetch_add(&sent_msgs, (uint64_t)batch);
        atomic_fetch_add(&rt_sum_us, us);
        update_max(&rt_max_us, us);
        note_slow(us);
    }
    atomic_fetch_sub(&ainflight, 1);
    if (!stop_now)
        async_next();
}

static void async_next(void)
{
    uint64_t t0 = rk_mono_ns();
    atomic_fetch_add(&ainflight, 1);
    void *arg = (void *)(uintptr_t)t0;
    int rc = batch > 1 ? rk_producer_send_batch_async(producer, amsgs, (size_t)batch, on_async_sent, arg)
                       : rk_producer_send_async(producer, &amsgs[0], on_async_sent, arg);
    if (rc != RK_OK) {
        atomic_fetch_sub(&ainflight, 1);
        if (atomic_fetch_add(&failed, 1) < 5)
            fprintf(stderr, "send failed: %s\n", rk_strerror(rc));
    }
}

static int produce(void)
{
    if ((body = malloc((size_t)size)) == NULL)
        return 1;
    for (int64_t i = 0; i < size; i++)
        body[i] = (char)('a' + i % 26);
    rk_producer_config_t cfg = {.namesrv = ns, .group = "benchmark_producer", .instance_name = "mqbench",
                                .no_compress = true, .access_key = rk_mqadmin_access_key(),
                                .secret_key = rk_mqadmin_secret_key()};
    int rc = rk_producer_new(&cfg, &producer);
    if (rc != RK_OK) {
        fprintf(stderr, "mqbench: %s\n", rk_strerror(rc));
        return 1;
    }
    /* one send first: creates the topic if needed and warms the route */
    rk_message_t m = {.topic = topic, .body = body, .body_len = (size_t)size};
    rk_send_result_t r;
    if ((rc = rk_producer_send(producer, &m, &r)) != RK_OK) {
        fprintf(stderr, "mqbench: the first send failed: %s\n", r.error);
        rk_producer_free(producer);
        return 1;
    }
    if (async_mode && rate > 0) {
        fprintf(stderr, "mqbench: --rate works with sender threads, not with --async\n");
        rk_producer_free(producer);
        return 2;
    }
    printf("mqbench produce: topic %s, %" PRId64 " B bodies, %" PRId64 " %s, batch %" PRId64 ", %s\n", topic, size,
           threads, async_mode ? "async sends in flight" : "sender threads", batch,
           rate > 0 ? "rate-limited" : "as fast as possible");
    if (rate > 0)
        printf("  target rate: %" PRId64 " msgs/s\n", rate);
    uv_thread_t *t = calloc((size_t)threads, sizeof *t);
    int started = 0;
    if (async_mode) {
        if ((amsgs = calloc((size_t)batch, sizeof *amsgs)) == NULL)
            return 1;
        for (int i = 0; i < batch; i++)
            amsgs[i] = (rk_message_t){.topic = topic, .tags = "bench", .body = body, .body_len = (size_t)size};
        for (int i = 0; i < threads; i++)
            async_next();
    }
    for (int i = 0; t && !async_mode && i < threads; i++, started++)
        if (uv_thread_create(&t[i], sender, (void *)(intptr_t)i) != 0)
            break;
    uint64_t t0 = rk_mono_ms(), last_msgs = 0, last_sends = 0, last_sum = 0;
    for (int s = 1; s <= duration && !stop_now; s++) {
        while (rk_mono_ms() < t0 + (uint64_t)s * 1000 && !stop_now)
            usleep(20000);
        uint64_t msgs = atomic_load(&sent_msgs), n = atomic_load(&sends), sum = atomic_load(&rt_sum_us);
        uint64_t mx = atomic_exchange(&rt_max_us, 0);
        char ts[32];
        now_str(ts, sizeof ts);
        printf("Current Time: %s | Send TPS: %7" PRIu64 " | Max RT(ms): %7.3f | Average RT(ms): %7.3f | Send Failed: %" PRIu64
               " | Response Failed: 0\n",
               ts, msgs - last_msgs, mx / 1000.0, n > last_sends ? (sum - last_sum) / 1000.0 / (double)(n - last_sends) : 0.0,
               atomic_load(&failed));
        fflush(stdout);
        last_msgs = msgs;
        last_sends = n;
        last_sum = sum;
    }
    stop_now = 1;
    for (int i = 0; i < started; i++)
        uv_thread_join(&t[i]);
    while (atomic_load(&ainflight) > 0)
        usleep(1000);
    double secs = (rk_mono_ms() - t0) / 1000.0;
    uint64_t msgs = atomic_load(&sent_msgs);
    printf("SUMMARY produce: %" PRIu64 " msgs in %.1f s = %.0f msgs/s (%.1f MB/s), sends %" PRIu64
           ", failed %" PRIu64 ", send RT ms p50 %.3f p99 %.3f p999 %.3f, avg %.3f, client RSS %ld KiB\n",
           msgs, secs, msgs / secs, msgs * (double)size / secs / 1e6, atomic_load(&sends), atomic_load(&failed),
           hist_pct(&send_rt, 50), hist_pct(&send_rt, 99), hist_pct(&send_rt, 99.9),
           atomic_load(&sends) ? atomic_load(&rt_sum_us) / 1000.0 / atomic_load(&sends) : 0.0, rss_kib());
    free(t);
    rk_producer_free(producer);
    free(body);
    free(amsgs);
    return atomic_load(&failed) ? 1 : 0;
}

/* ---- consume ---- */

static _Atomic uint64_t consumed, consumed_bytes, b2c_sum_ms, b2c_max_ms;
static _Atomic uint64_t last_arrival_ms;

/* Sums per call, then one atomic add per counter: 64 threads adding to
 * shared counters per message would measure cache-line ping-pong. */
static rk_consume_result_t on_msgs(void *arg, const rk_msg_ext_t *msgs, size_t n)
{
    (void)arg;
    uint64_t now = (uint64_t)rk_now_ms(), sum = 0, mx = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t d = now > (uint64_t)msgs[i].born_ts ? now - (uint64_t)msgs[i].born_ts : 0;
        sum += d;
        mx = d > mx ? d : mx;
        bytes += msgs[i].body_len;
    }
    atomic_fetch_add(&b2c_sum_ms, sum);
    update_max(&b2c_max_ms, mx);
    atomic_fetch_add(&consumed_bytes, bytes);
    atomic_fetch_add(&consumed, n);
    atomic_store(&last_arrival_ms, rk_mono_ms());
    return RK_CONSUME_SUCCESS;
}

static int consume(void)
{
    rk_push_consumer_config_t cfg = {.namesrv = ns, .group = group, .instance_name = "mqbench",
                                     .from = RK_CONSUME_FROM_FIRST, .threads = (int)(threads < 64 ? threads : 64),
                                     .batch_max = 32, .pull_batch = 256, .access_key = rk_mqadmin_access_key(),
                                     .secret_key = rk_mqadmin_secret_key()};
    rk_push_consumer_t *pc;
    int rc = rk_push_consumer_new(&cfg, on_msgs, NULL, &pc);
    if (rc == RK_OK && (rc = rk_push_consumer_subscribe(pc, topic, "*")) == RK_OK)
        rc = rk_push_consumer_start(pc);
    if (rc != RK_OK) {
        fprintf(stderr, "mqbench: cannot start the consumer: %s\n", rk_strerror(rc));
        rk_push_consumer_free(pc);
        return 1;
    }
    printf("mqbench consume: topic %s, group %s, from the first offset\n", topic, group);
    uint64_t t0 = rk_mono_ms(), first = 0, last = 0, last_sum = 0;
    atomic_store(&last_arrival_ms, t0);
    for (int s = 1; s <= duration && !stop_now; s++) {
        while (rk_mono_ms() < t0 + (uint64_t)s * 1000 && !stop_now)
            usleep(20000);
        uint64_t n = atomic_load(&consumed), sum = atomic_load(&b2c_sum_ms), mx = atomic_exchange(&b2c_max_ms, 0);
        if (first == 0 && n > 0)
            first = rk_mono_ms();
        char ts[32];
        now_str(ts, sizeof ts);
        printf("Current Time: %s | Consume TPS: %7" PRIu64 " | AVG(B2C) RT(ms): %9.1f | MAX(B2C) RT(ms): %7" PRIu64 "\n", ts,
               n - last, n > last ? (double)(sum - last_sum) / (double)(n - last) : 0.0, mx);
        fflush(stdout);
        last = n;
        last_sum = sum;
        if (n > 0 && rk_mono_ms() - atomic_load(&last_arrival_ms) > (uint64_t)idle * 1000)
            break;                      /* caught up */
    }
    uint64_t n = atomic_load(&consumed), end = atomic_load(&last_arrival_ms);
    double secs = n > 0 && end > t0 ? (end - t0) / 1000.0 : 0;
    double mb = (double)atomic_load(&consumed_bytes) / 1e6;
    printf("SUMMARY consume: %" PRIu64 " msgs in %.2f s = %.0f msgs/s (%.1f MB/s of bodies), client RSS %ld KiB\n", n,
           secs, secs > 0 ? n / secs : 0.0, secs > 0 ? mb / secs : 0.0, rss_kib());
    rk_push_consumer_free(pc);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mqbench -n NAMESRV [-t TOPIC] [--mode produce|consume] [-s SIZE] [-w THREADS]\n"
               "               [--batch N] [--duration SECONDS] [--rate MSGS_PER_S] [--async] [-g GROUP] [--idle SECONDS]\n"
               "               [--slow MS]\n"
               "  produce: -w threads send synchronously (default 64 threads, 128 B, batch 1, 10 s);\n"
               "           with --async, -w sends are kept in flight by callbacks instead of threads\n"
               "           --slow MS prints each send slower than MS ms with the wall-clock time it started\n"
               "  consume: a push consumer reads from the first offset until idle for --idle s (3) or --duration\n"
               "  ACL: requests are signed when ROCKETMQ_ACCESS_KEY and ROCKETMQ_SECRET_KEY are set\n");
}

static bool num(const char *flag, const char *v, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*v == '\0' || *end || x < min || x > max) {
        fprintf(stderr, "mqbench: %s wants a number in [%" PRId64 ", %" PRId64 "], not \"%s\"\n", flag, min, max, v);
        return false;
    }
    *out = x;
    return true;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"batch", required_argument, 0, 'B'}, {"duration", required_argument, 0, 'D'},
        {"mode", required_argument, 0, 'M'},  {"rate", required_argument, 0, 'R'},
        {"idle", required_argument, 0, 'I'},  {"help", no_argument, 0, 'h'},
        {"async", no_argument, 0, 'A'},      {"slow", required_argument, 0, 'S'},
        {0, 0, 0, 0},
    };
    ns = getenv("NAMESRV_ADDR");
    int c;
    while ((c = getopt_long(argc, argv, "n:t:s:w:g:h", lo, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'n': ns = optarg; break;
        case 't': topic = optarg; break;
        case 'g': group = optarg; break;
        case 's': ok = num("-s", optarg, 1, 4 * 1024 * 1024, &size); break;
        case 'w': ok = num("-w", optarg, 1, 1024, &threads); break;
        case 'B': ok = num("--batch", optarg, 1, 64, &batch); break;
        case 'D': ok = num("--duration", optarg, 1, 86400, &duration); break;
        case 'R': ok = num("--rate", optarg, 1, 100000000, &rate); break;
        case 'I': ok = num("--idle", optarg, 1, 3600, &idle); break;
        case 'M': mode = optarg; break;
        case 'A': async_mode = true; break;
        case 'S': ok = num("--slow", optarg, 1, 3600 * 1000, &slow_ms); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (!ok)
            return 2;
    }
    if (ns == NULL || (strcmp(mode, "produce") != 0 && strcmp(mode, "consume") != 0)) {
        usage(stderr);
        return 2;
    }
    if (getenv("RK_LOG") == NULL)
        rk_log_set_level(RK_LOG_WARN);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    return strcmp(mode, "produce") == 0 ? produce() : consume();
}
