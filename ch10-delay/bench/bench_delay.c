/* bench_delay — timer messages at scale on a real chapter 10 broker process (with a name server),
 * driven over loopback by the SDK:
 *
 *   bench_delay [N] [FIRST_DUE_S] [WINDOW_S]     defaults 1 000 000, 30, 60
 *   (or RK_BENCH_DELAY_N / RK_BENCH_DELAY_FIRST_S / RK_BENCH_DELAY_WINDOW_S)
 *
 *   1. sends N messages of 100 bytes with TIMER_DELIVER_MS spread at random over
 *      [t0 + FIRST_DUE_S, t0 + FIRST_DUE_S + WINDOW_S], in batches of 64 from 4 threads:
 *      "delayed sends/s";
 *   2. once all are parked: the broker's anonymous memory (RssAnon) growth per pending message
 *      (the commitlog is a file mapping and is not counted), and the timer's own 48 bytes;
 *   3. kill -9 of the broker with N pending, start again: "restart" = from the spawn until the
 *      broker answers and reports all N pending (store recovery + timer log read), plus the
 *      timer log read alone (from the broker's log);
 *   4. during the delivery window a producer thread also sends ordinary messages (sync, one by
 *      one) and a pull consumer reads the delivered ones: lateness of each = store time of the
 *      delivered copy minus its TIMER_OUT_MS (broker side) and receive time minus TIMER_OUT_MS
 *      (end to end, includes the consumer's 5 ms polling); p50 / p99 / max.
 * Prints figures; exit status 1 if a message is lost, early or delivered twice. Everything runs in
 * a temporary folder removed at the end (RK_KEEP_TMP=1 keeps it). */
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/consumer.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/json.h"
#include "rk/log.h"
#include "rk/message.h"
#include "rk/producer.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"
#include "rk/timer.h"

#define SENDERS 4
#define BATCH 64
#define QUEUES 8
#define BODY 100

static char bindir[1024], dir[256], ns[32], br[32], conf[600], blog[600];
static int br_port;
static pid_t ns_pid = -1, br_pid = -1;
static int64_t n_msgs, t0, first_due, window_ms;
static int64_t *due;                        /* per message */
static int32_t *late_store, *late_recv;     /* ms; INT32_MIN: not delivered yet */
static _Atomic int64_t sent, got, early, twice, normal_sent, normal_failed;
static _Atomic bool stop_normal;

static int64_t env_or(const char *name, int argc, char **argv, int idx, int64_t def)
{
    if (argc > idx)
        return strtoll(argv[idx], NULL, 10);
    const char *e = getenv(name);
    return e && *e ? strtoll(e, NULL, 10) : def;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/* ---------------------------------------------------------------- processes */

static int64_t rss_anon_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    int64_t kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "RssAnon:", 8) == 0)
            kb = strtoll(line + 8, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static rk_cmd_t *call(const char *addr, rk_cmd_t *req, int timeout)
{
    rk_rclient_t *c;
    if (rk_rclient_new(&c) != RK_OK) {
        rk_cmd_free(req);
        return NULL;
    }
    rk_cmd_t *resp = NULL;
    if (rk_rclient_invoke_sync(c, addr, req, timeout, &resp) != RK_OK)
        resp = NULL;
    rk_rclient_free(c);
    return resp;
}

static int64_t runtime_i64(const char *key)
{
    rk_cmd_t *resp = call(br, rk_cmd_new(RK_REQ_GET_BROKER_RUNTIME_INFO), 2000);
    int64_t v = -1;
    cJSON *root = resp && resp->code == 0 ? rk_json_parse((const char *)resp->body, resp->body_len) : NULL;
    const char *s = rk_json_get_str(cJSON_GetObjectItemCaseSensitive(root, "table"), key);
    if (s != NULL)
        v = strtoll(s, NULL, 10);
    cJSON_Delete(root);
    rk_cmd_free(resp);
    return v;
}

static int start_broker(void)
{
    char bin[1100];
    snprintf(bin, sizeof bin, "%s/mqbroker", bindir);
    char *argv[] = {bin, "-c", conf, NULL};
    br_pid = rk_tk_spawn(argv, blog);
    return br_pid > 0 && rk_tk_wait_port(br_port, 60000) ? 0 : -1;
}

static int create_topic(const char *topic)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_UPDATE_AND_CREATE_TOPIC);
    rk_cmd_ext_set(req, "topic", topic);
    rk_cmd_ext_set(req, "defaultTopic", "TBW102");
    rk_cmd_ext_set_i64(req, "readQueueNums", QUEUES);
    rk_cmd_ext_set_i64(req, "writeQueueNums", QUEUES);
    rk_cmd_ext_set(req, "perm", "6");
    rk_cmd_ext_set(req, "topicFilterType", "SINGLE_TAG");
    rk_cmd_t *resp = call(br, req, 5000);
    int rc = resp && resp->code == 0 ? 0 : -1;
    rk_cmd_free(resp);
    return rc;
}

static int start_cluster(void)
{
    if (rk_tk_tmpdir(dir, sizeof dir, "benchdelay") != 0)
        return -1;
    int ns_port = rk_tk_free_port(), ha_port;
    br_port = rk_tk_free_port();
    do
        ha_port = rk_tk_free_port();
    while (ha_port == br_port || ha_port == ns_port);
    snprintf(ns, sizeof ns, "127.0.0.1:%d", ns_port);
    snprintf(br, sizeof br, "127.0.0.1:%d", br_port);
    char nsconf[400], nslog[400], nsbin[1100];
    snprintf(nsconf, sizeof nsconf, "%s/ns.conf", dir);
    snprintf(nslog, sizeof nslog, "%s/ns.log", dir);
    snprintf(nsbin, sizeof nsbin, "%s/../../ch06/bin/mqnamesrv", bindir);
    FILE *f = fopen(nsconf, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "listenPort=%d\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv.json\n", ns_port, dir);
    fclose(f);
    char *nsargv[] = {nsbin, "-c", nsconf, NULL};
    ns_pid = rk_tk_spawn(nsargv, nslog);
    if (ns_pid <= 0 || !rk_tk_wait_port(ns_port, 5000))
        return -1;
    snprintf(conf, sizeof conf, "%s/broker.conf", dir);
    snprintf(blog, sizeof blog, "%s/broker.log", dir);
    f = fopen(conf, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "brokerClusterName=Bench\nbrokerName=bench-delay\nbrokerId=0\nnamesrvAddr=%s\nbrokerIP1=127.0.0.1\n"
               "listenHost=127.0.0.1\nlistenPort=%d\nhaListenPort=%d\nstorePathRootDir=%s/store\n"
               "mappedFileSizeCommitLog=268435456\nregisterNameServerPeriod=2000\nmessageIndexEnable=false\n"
               "timerMaxPending=20000000\n",
            ns, br_port, ha_port, dir);
    fclose(f);
    if (start_broker() != 0 || create_topic("BenchDelay") != 0 || create_topic("BenchNormal") != 0)
        return -1;
    usleep(2500000);    /* registered with the name server: the producers find the route */
    return 0;
}

/* ---------------------------------------------------------------- senders */

typedef struct sender {
    int id;
    rk_producer_t *p;
} sender_t;

static void *send_main(void *arg)
{
    sender_t *s = arg;
    static _Thread_local char bodies[BATCH][BODY + 1], pv[BATCH][24];
    rk_buf_t props[BATCH] = {{0}};
    for (int64_t base = (int64_t)s->id * BATCH; base < n_msgs; base += (int64_t)SENDERS * BATCH) {
        rk_message_t m[BATCH];
        int n = 0;
        for (int64_t i = base; i < base + BATCH && i < n_msgs; i++, n++) {
            props[n].len = 0;
            snprintf(pv[n], sizeof pv[n], "%" PRId64, due[i]);
            rk_props_put(&props[n], RK_PROP_TIMER_DELIVER_MS, pv[n]);
            memset(bodies[n], 'x', BODY);
            int w = snprintf(bodies[n], BODY, "d%" PRId64 " ", i);
            bodies[n][w] = 'x';
            bodies[n][BODY] = '\0';
            m[n] = (rk_message_t){.topic = "BenchDelay", .body = bodies[n], .body_len = BODY,
                                  .props = (const char *)props[n].data, .props_len = props[n].len};
        }
        rk_send_result_t r;
        int rc;
        while ((rc = rk_producer_send_batch(s->p, m, (size_t)n, &r)) != RK_OK) {
            fprintf(stderr, "bench_delay: batch at %" PRId64 ": %s; again\n", base, r.error);
            usleep(100000);
        }
        atomic_fetch_add(&sent, n);
    }
    for (int i = 0; i < BATCH; i++)
        rk_buf_free(&props[i]);
    return NULL;
}

#define NORMAL_MAX 4000000
static int32_t *normal_lat;                 /* ms per ordinary send, for comparison */

static void *normal_main(void *arg)
{
    rk_producer_t *p = arg;
    char body[BODY];
    memset(body, 'n', sizeof body);
    while (!atomic_load(&stop_normal)) {
        rk_message_t m = {.topic = "BenchNormal", .body = body, .body_len = sizeof body};
        rk_send_result_t r;
        uint64_t a = rk_mono_ms();
        if (rk_producer_send(p, &m, &r) == RK_OK) {
            int64_t k = atomic_fetch_add(&normal_sent, 1);
            if (k < NORMAL_MAX)
                normal_lat[k] = (int32_t)(rk_mono_ms() - a);
        } else {
            atomic_fetch_add(&normal_failed, 1);
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- consumer */

static void consume_until(int64_t deadline)
{
    rk_pull_consumer_t *pc;
    rk_pull_consumer_config_t cfg = {.namesrv = ns, .group = "bench_delay_cg"};
    if (rk_pull_consumer_new(&cfg, &pc) != RK_OK)
        return;
    rk_mq_t *mqs = NULL;
    size_t nq = 0;
    for (int k = 0; k < 100 && rk_pull_consumer_queues(pc, "BenchDelay", &mqs, &nq) != RK_OK; k++)
        usleep(100000);
    int64_t off[QUEUES] = {0};
    while (atomic_load(&got) < n_msgs && rk_now_ms() < deadline) {
        bool any = false;
        for (size_t q = 0; q < nq && q < QUEUES; q++) {
            rk_pull_result_t r;
            if (rk_pull_consumer_pull(pc, &mqs[q], "*", off[q], 32, 0, &r) != RK_OK)
                continue;
            if (r.status == RK_PULL_FOUND) {
                int64_t now = rk_now_ms();
                for (size_t i = 0; i < r.msgs->n; i++) {
                    const rk_msg_ext_t *m = &r.msgs->msgs[i];
                    char v[32];
                    int64_t idx = m->body_len > 1 ? strtoll((const char *)m->body + 1, NULL, 10) : -1;
                    if (idx < 0 || idx >= n_msgs || rk_msg_prop(m, RK_PROP_TIMER_OUT_MS, v, sizeof v) != RK_OK)
                        continue;
                    int64_t out = strtoll(v, NULL, 10);
                    if (late_store[idx] != INT32_MIN) {
                        atomic_fetch_add(&twice, 1);
                        continue;
                    }
                    if (m->store_ts < due[idx])
                        atomic_fetch_add(&early, 1);
                    late_store[idx] = (int32_t)(m->store_ts - out);
                    late_recv[idx] = (int32_t)(now - out);
                    atomic_fetch_add(&got, 1);
                }
                any = true;
            }
            if (r.status == RK_PULL_FOUND || r.status == RK_PULL_NO_NEW_MSG || r.status == RK_PULL_OFFSET_ILLEGAL ||
                r.status == RK_PULL_NO_MATCHED_MSG)
                off[q] = r.next_offset > off[q] ? r.next_offset : off[q];
            rk_pull_result_free(&r);
        }
        if (!any)
            usleep(5000);
    }
    free(mqs);
    rk_pull_consumer_free(pc);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void percentiles(const char *what, int32_t *v, int64_t n)
{
    int32_t *s = malloc((size_t)n * sizeof *s);
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (v[i] != INT32_MIN)
            s[k++] = v[i];
    if (k == 0) {
        printf("  %-28s no data\n", what);
        free(s);
        return;
    }
    qsort(s, (size_t)k, sizeof *s, cmp_i32);
    printf("  %-28s p50 %4d ms   p99 %4d ms   max %5d ms   (min %d, %" PRId64 " messages)\n", what, s[k / 2],
           s[(k * 99) / 100], s[k - 1], s[0], k);
    free(s);
}

int main(int argc, char **argv)
{
    rk_log_set_level(RK_LOG_OFF);
    n_msgs = env_or("RK_BENCH_DELAY_N", argc, argv, 1, 1000000);
    int64_t first_s = env_or("RK_BENCH_DELAY_FIRST_S", argc, argv, 2, 30);
    window_ms = env_or("RK_BENCH_DELAY_WINDOW_S", argc, argv, 3, 60) * 1000;
    if (n_msgs <= 0 || first_s <= 0 || window_ms <= 0)
        return 2;
    char self[1024];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(bindir, sizeof bindir, "%s", dirname(self));
    due = malloc((size_t)n_msgs * sizeof *due);
    late_store = malloc((size_t)n_msgs * sizeof *late_store);
    late_recv = malloc((size_t)n_msgs * sizeof *late_recv);
    normal_lat = malloc(NORMAL_MAX * sizeof *normal_lat);
    if (!due || !late_store || !late_recv || !normal_lat)
        return 2;
    int status = 1;
    if (start_cluster() != 0) {
        fprintf(stderr, "bench_delay: cannot start the name server and broker (see %s)\n", dir);
        goto out;
    }
    t0 = rk_now_ms();
    first_due = t0 + first_s * 1000;
    for (int64_t i = 0; i < n_msgs; i++) {
        due[i] = first_due + (int64_t)(mix((uint64_t)i) % (uint64_t)window_ms);
        late_store[i] = late_recv[i] = INT32_MIN;   /* not delivered yet */
    }
    printf("bench_delay: %" PRId64 " timer messages of %d B due at random over %" PRId64 " s from %" PRId64
           " s after the start; %d senders x batches of %d\n", n_msgs, BODY, window_ms / 1000, first_s, SENDERS, BATCH);
    int64_t rss0 = rss_anon_kb(br_pid);
    /* 1. delayed sends */
    pthread_t th[SENDERS];
    sender_t s[SENDERS];
    uint64_t s0 = rk_mono_ms();
    for (int i = 0; i < SENDERS; i++) {
        rk_producer_config_t pc = {.namesrv = ns, .group = "bench_delay_pg", .timeout_ms = 10000};
        s[i].id = i;
        if (rk_producer_new(&pc, &s[i].p) != RK_OK)
            goto out;
        pthread_create(&th[i], NULL, send_main, &s[i]);
    }
    for (int i = 0; i < SENDERS; i++) {
        pthread_join(th[i], NULL);
        rk_producer_free(s[i].p);
    }
    uint64_t send_ms = rk_mono_ms() - s0;
    printf("  delayed sends                %" PRId64 " in %" PRIu64 " ms = %.0f msgs/s\n", atomic_load(&sent), send_ms,
           (double)atomic_load(&sent) * 1000.0 / (double)(send_ms ? send_ms : 1));
    /* 2. all parked: memory */
    int64_t pending = 0;
    for (int k = 0; k < 600 && (pending = runtime_i64("timerPendingCount")) < n_msgs; k++)
        usleep(100000);
    int64_t rss1 = rss_anon_kb(br_pid);
    printf("  pending after the sends      %" PRId64 "\n", pending);
    printf("  broker RssAnon growth        %" PRId64 " KB = %.1f bytes per pending message (timer entry: %zu B)\n",
           rss1 - rss0, (double)(rss1 - rss0) * 1024.0 / (double)n_msgs, rk_timer_entry_bytes());
    /* 3. kill -9 and restart with everything pending */
    if (rk_now_ms() + 8000 < first_due) {
        rk_tk_kill(br_pid, SIGKILL);
        rk_tk_wait(br_pid, 10000);
        uint64_t r0 = rk_mono_ms();
        if (start_broker() != 0) {
            fprintf(stderr, "bench_delay: the broker did not come back (see %s)\n", blog);
            goto out;
        }
        uint64_t up = rk_mono_ms() - r0;
        for (int k = 0; k < 3000 && runtime_i64("timerPendingCount") < n_msgs; k++)
            usleep(10000);
        uint64_t loaded = rk_mono_ms() - r0;
        char *text = NULL;
        size_t len = 0;
        const char *line = NULL;
        if (rk_file_read_all(blog, &text, &len) == RK_OK && text != NULL) {
            char *p = text, *last = NULL;
            while ((p = strstr(p, "timer-log units read")) != NULL)
                last = p++;
            line = last;
        }
        printf("  restart after kill -9        serving after %" PRIu64 " ms, all %" PRId64 " pending after %" PRIu64
               " ms\n", up, n_msgs, loaded);
        if (line != NULL) {
            const char *in = strstr(line, " in ");
            printf("  timer log read at restart    %.*s\n", in ? (int)strcspn(in + 4, ",") : 0, in ? in + 4 : "");
        }
        free(text);
    } else {
        printf("  restart after kill -9        skipped: the sends ended too close to the first due time\n");
    }
    /* 4. delivery under ordinary traffic */
    rk_producer_t *np = NULL;
    rk_producer_config_t npc = {.namesrv = ns, .group = "bench_normal_pg"};
    pthread_t nth;
    bool normal = rk_producer_new(&npc, &np) == RK_OK && pthread_create(&nth, NULL, normal_main, np) == 0;
    uint64_t n0 = rk_mono_ms();
    consume_until(first_due + window_ms + 60000);
    atomic_store(&stop_normal, true);
    if (normal) {
        pthread_join(nth, NULL);
        rk_producer_free(np);
    }
    uint64_t nms = rk_mono_ms() - n0;
    printf("  ordinary sends meanwhile     %" PRId64 " (%.0f msgs/s, one by one, sync), %" PRId64 " failed\n",
           atomic_load(&normal_sent), (double)atomic_load(&normal_sent) * 1000.0 / (double)(nms ? nms : 1),
           atomic_load(&normal_failed));
    printf("  delivered                    %" PRId64 " of %" PRId64 ", early %" PRId64 ", twice %" PRId64 "\n",
           atomic_load(&got), n_msgs, atomic_load(&early), atomic_load(&twice));
    percentiles("lateness (broker, store)", late_store, n_msgs);
    percentiles("lateness (consumer, recv)", late_recv, n_msgs);
    /* when the late ones were due (seconds after the first due time) */
    int64_t secs = window_ms / 1000 + 1, *late_at = calloc((size_t)secs, sizeof *late_at), shown = 0;
    for (int64_t i = 0; late_at && i < n_msgs; i++)
        if (late_store[i] != INT32_MIN && late_store[i] > 50)
            late_at[(due[i] - first_due) / 1000]++;
    for (int64_t k = 0; late_at && k < secs; k++)
        if (late_at[k] > 0 && shown++ < 12)
            printf("  more than 50 ms late          %" PRId64 " of those due in second %" PRId64 "\n", late_at[k], k);
    free(late_at);
    printf("  broker: longest wheel turn   %" PRId64 " ms, longest put-back of one turn %" PRId64 " ms\n",
           runtime_i64("timerMaxTurnMs"), runtime_i64("timerMaxPutMs"));
    int64_t nn = atomic_load(&normal_sent);
    percentiles("ordinary send round trip", normal_lat, nn < NORMAL_MAX ? nn : NORMAL_MAX);
    double load[3];
    if (getloadavg(load, 3) == 3)
        printf("  machine load average         %.1f %.1f %.1f (%ld CPUs)\n", load[0], load[1], load[2],
               sysconf(_SC_NPROCESSORS_ONLN));
    status = atomic_load(&got) == n_msgs && atomic_load(&early) == 0 && atomic_load(&twice) == 0 ? 0 : 1;
out:
    if (br_pid > 0)
        rk_tk_stop(br_pid, 20000);
    if (ns_pid > 0)
        rk_tk_stop(ns_pid, 5000);
    if (getenv("RK_KEEP_TMP") == NULL && dir[0])
        rk_tk_rmtree(dir);
    free(due);
    free(late_store);
    free(late_recv);
    free(normal_lat);
    return status;
}
