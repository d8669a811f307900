/* fuzz_kill9 — kill -9 rounds: no acknowledged message may be lost.
 *
 *   fuzz_kill9 [--seed S] [--rounds R]      (make fuzz runs it)
 *
 * Starts mqnamesrv and a mqbroker with flushDiskType=SYNC_FLUSH on free
 * 127.0.0.1 ports, creates the topic Kill9 (4 queues), and runs a producer
 * thread that sends numbered messages one by one and records each one the
 * broker acknowledged (SEND_OK). R times, at a random moment (50-600 ms
 * into the round, from the seed), the broker is killed with SIGKILL and
 * restarted on the same store. Then every queue is read from offset 0 and
 * every acknowledged number must be there. Prints acknowledged / found /
 * missing (the first missing numbers and their round); exit status 1 on any
 * loss, the folder (build/chNN/fuzz/kill9-seedS/) with the store and the
 * logs kept for inspection. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rk/consumer.h"
#include "rk/error.h"
#include "rk/fuzzkit.h"
#include "rk/log.h"
#include "rk/producer.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

#define TOPIC "Kill9"
#define MAX_MSGS (1 << 20)

static char dir[256], ns_addr[32], br_addr[32], br_conf[300];
static int br_port;
static pid_t ns_pid = -1, br_pid = -1;
static int restarts;

/* What the producer did: acked[k] = round + 1 of an acknowledged message k. */
static uint16_t *acked;
static _Atomic long next_msg, n_acked, n_failed;
static _Atomic int round_now;
static _Atomic bool stop_producer;

static int start_broker(void)
{
    char log[300];
    snprintf(log, sizeof log, "%s/broker-%d.log", dir, restarts++);
    char *argv[] = {(char *)rk_tk_bin("mqbroker"), "-c", br_conf, NULL};
    br_pid = rk_tk_spawn(argv, log);
    if (br_pid < 0 || !rk_tk_wait_port(br_port, 30000)) {
        printf("fuzz_kill9: mqbroker did not start (see %s)\n", log);
        return -1;
    }
    return 0;
}

static void *producer_main(void *arg)
{
    rk_producer_t *p = arg;
    while (!atomic_load(&stop_producer)) {
        long k = atomic_fetch_add(&next_msg, 1);
        if (k >= MAX_MSGS) {
            usleep(10000);
            continue;
        }
        char body[32];
        snprintf(body, sizeof body, "k9:%ld", k);
        rk_message_t m = {.topic = TOPIC, .body = body, .body_len = strlen(body)};
        rk_send_result_t r;
        if (rk_producer_send(p, &m, &r) == RK_OK && r.status == RK_SEND_OK) {
            acked[k] = (uint16_t)(atomic_load(&round_now) + 1);
            atomic_fetch_add(&n_acked, 1);
        } else {
            atomic_fetch_add(&n_failed, 1);
            usleep(20000);          /* the broker is down: don't spin */
        }
    }
    return NULL;
}

static int create_topic(void)
{
    rk_rclient_t *rc;
    if (rk_rclient_new(&rc) != RK_OK)
        return -1;
    rk_cmd_t *req = rk_cmd_new(RK_REQ_UPDATE_AND_CREATE_TOPIC), *resp = NULL;
    rk_cmd_ext_set(req, "topic", TOPIC);
    rk_cmd_ext_set(req, "defaultTopic", "TBW102");
    rk_cmd_ext_set(req, "readQueueNums", "4");
    rk_cmd_ext_set(req, "writeQueueNums", "4");
    rk_cmd_ext_set(req, "perm", "6");
    rk_cmd_ext_set(req, "topicFilterType", "SINGLE_TAG");
    int code = rk_rclient_invoke_sync(rc, br_addr, req, 10000, &resp) == RK_OK ? resp->code : -1;
    rk_cmd_free(resp);
    rk_rclient_free(rc);
    return code == RK_RESP_SUCCESS ? 0 : -1;
}

/* Reads every queue from 0; found[k] set for each message k; returns how many
 * distinct numbers were found, or -1 if the queues could not be read. */
static long read_all(uint8_t *found)
{
    rk_pull_consumer_t *pc;
    rk_pull_consumer_config_t cc = {.namesrv = ns_addr, .group = "kill9_check"};
    if (rk_pull_consumer_new(&cc, &pc) != RK_OK)
        return -1;
    rk_mq_t *qs = NULL;
    size_t nq = 0;
    int qrc = RK_ENOTFOUND;
    for (int t = 0; t < 300 && (qrc = rk_pull_consumer_queues(pc, TOPIC, &qs, &nq)) != RK_OK; t++)
        usleep(50000);
    long n = 0;
    if (qrc != RK_OK) {
        rk_pull_consumer_free(pc);
        return -1;
    }
    for (size_t q = 0; q < nq; q++) {
        int64_t off = 0;
        for (int tries = 0; tries < 300;) {
            rk_pull_result_t r;
            if (rk_pull_consumer_pull(pc, &qs[q], "*", off, 64, 0, &r) != RK_OK) {
                usleep(20000);
                tries++;
                continue;
            }
            if (r.status != RK_PULL_FOUND) {
                rk_pull_result_free(&r);
                break;
            }
            for (size_t i = 0; i < r.msgs->n; i++) {
                const rk_msg_ext_t *m = &r.msgs->msgs[i];
                if (m->body_len > 3 && m->body_len < 32 && memcmp(m->body, "k9:", 3) == 0) {
                    char num[32];
                    memcpy(num, (const char *)m->body + 3, m->body_len - 3);
                    num[m->body_len - 3] = '\0';
                    long k = strtol(num, NULL, 10);
                    if (k >= 0 && k < MAX_MSGS && !found[k]) {
                        found[k] = 1;
                        n++;
                    }
                }
            }
            off = r.next_offset;
            rk_pull_result_free(&r);
        }
    }
    free(qs);
    rk_pull_consumer_free(pc);
    return n;
}

static int setup(uint64_t seed)
{
    char name[64];
    snprintf(name, sizeof name, "kill9-seed%llu", (unsigned long long)seed);
    if (rk_fz_workdir(dir, sizeof dir, RK_BIN_DIR "/../fuzz", name) != RK_OK)
        return -1;
    int ns_port = rk_tk_free_port();
    br_port = rk_tk_free_port();
    snprintf(ns_addr, sizeof ns_addr, "127.0.0.1:%d", ns_port);
    snprintf(br_addr, sizeof br_addr, "127.0.0.1:%d", br_port);
    char ns_conf[300], ns_log[300];
    snprintf(ns_conf, sizeof ns_conf, "%s/ns.conf", dir);
    snprintf(ns_log, sizeof ns_log, "%s/ns.log", dir);
    snprintf(br_conf, sizeof br_conf, "%s/broker.conf", dir);
    FILE *f = fopen(ns_conf, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "listenPort=%d\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv.json\n", ns_port, dir);
    fclose(f);
    f = fopen(br_conf, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "brokerClusterName=Kill9Cluster\nbrokerName=broker-k9\nbrokerId=0\nnamesrvAddr=%s\n"
               "brokerIP1=127.0.0.1\nlistenHost=127.0.0.1\nlistenPort=%d\nstorePathRootDir=%s/store\n"
               "mappedFileSizeCommitLog=1048576\nflushDiskType=SYNC_FLUSH\nregisterNameServerPeriod=1000\n",
            ns_addr, br_port, dir);
    fclose(f);
    char *argv[] = {(char *)(RK_BIN_DIR "/../../ch06/bin/mqnamesrv"), "-c", ns_conf, NULL};
    ns_pid = rk_tk_spawn(argv, ns_log);
    if (ns_pid < 0 || !rk_tk_wait_port(ns_port, 15000)) {
        printf("fuzz_kill9: mqnamesrv did not start (see %s)\n", ns_log);
        return -1;
    }
    if (start_broker() != 0 || create_topic() != 0) {
        printf("fuzz_kill9: could not create topic %s\n", TOPIC);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    rk_fz_opts_t o;
    if (rk_fz_parse_args(argc, argv, &o) != RK_OK)
        return 2;
    rk_log_init(RK_LOG_OFF, NULL);
    signal(SIGPIPE, SIG_IGN);
    rk_fz_rng_t r;
    rk_fz_seed(&r, o.seed ^ 0x6b696c6c39ull);
    acked = calloc(MAX_MSGS, sizeof *acked);
    uint8_t *found = calloc(MAX_MSGS, 1);
    if (acked == NULL || found == NULL)
        return 1;
    int rc = 1;
    if (setup(o.seed) != 0) {
        printf("fuzz_kill9: FAILED to set up (folder %s kept)\n", dir);
        goto out;
    }
    printf("fuzz_kill9: seed %llu, %ld kill -9 rounds of mqbroker (SYNC_FLUSH) under a producer (folder %s)\n",
           (unsigned long long)o.seed, o.rounds, dir);
    fflush(stdout);
    rk_producer_t *p;
    rk_producer_config_t pc = {.namesrv = ns_addr, .group = "kill9_pg", .retries = -1, .timeout_ms = 3000};
    if (rk_producer_new(&pc, &p) != RK_OK)
        goto out;
    pthread_t th;
    if (pthread_create(&th, NULL, producer_main, p) != 0) {
        rk_producer_free(p);
        goto out;
    }
    bool broker_ok = true;
    for (long round = 0; round < o.rounds && broker_ok; round++) {
        atomic_store(&round_now, (int)round);
        long before = atomic_load(&n_acked);
        /* let the producer get going (the route comes back after a restart) */
        for (int w = 0; w < 200 && atomic_load(&n_acked) == before; w++)
            usleep(50000);
        long ms = 50 + (long)rk_fz_below(&r, 551);
        usleep((useconds_t)ms * 1000);
        rk_tk_kill(br_pid, SIGKILL);
        rk_tk_wait(br_pid, 10000);
        br_pid = -1;
        printf("fuzz_kill9: round %ld: kill -9 after %ld ms; %ld acknowledged so far\n", round + 1, ms,
               atomic_load(&n_acked));
        fflush(stdout);
        broker_ok = start_broker() == 0;
    }
    atomic_store(&round_now, (int)o.rounds);
    /* a last stretch of sends to the restarted broker, then stop */
    long before = atomic_load(&n_acked);
    for (int w = 0; w < 200 && atomic_load(&n_acked) == before; w++)
        usleep(50000);
    atomic_store(&stop_producer, true);
    pthread_join(th, NULL);
    rk_producer_free(p);
    if (!broker_ok)
        goto out;
    long want = atomic_load(&n_acked), sent = atomic_load(&next_msg);
    long got = read_all(found);
    if (got < 0) {
        printf("fuzz_kill9: FAIL: could not read topic %s after the restarts\n", TOPIC);
        goto out;
    }
    long missing = 0, extra = 0;
    for (long k = 0; k < sent && k < MAX_MSGS; k++) {
        if (acked[k] && !found[k]) {
            if (missing < 10)
                printf("fuzz_kill9: LOST message k9:%ld, acknowledged in round %d\n", k, acked[k]);
            missing++;
        } else if (!acked[k] && found[k]) {
            extra++;
        }
    }
    printf("fuzz_kill9: %ld rounds: %ld acknowledged, %ld of them found, %ld lost; %ld unacknowledged sends "
           "(%ld of those stored anyway, which is allowed)\n",
           o.rounds, want, want - missing, missing, (long)atomic_load(&n_failed), extra);
    if (missing == 0 && want > 0)
        rc = 0;
    else if (want == 0)
        printf("fuzz_kill9: FAIL: the broker acknowledged nothing\n");
out:
    if (br_pid > 0)
        rk_tk_stop(br_pid, 15000);
    if (ns_pid > 0)
        rk_tk_stop(ns_pid, 5000);
    free(acked);
    free(found);
    if (rc == 0) {
        rk_tk_rmtree(dir);
        printf("fuzz_kill9: OK\n");
    } else {
        printf("fuzz_kill9: FAILED (reproduce: make fuzz-ch07 FUZZ_SEED=%llu FUZZ_ROUNDS=%ld; store and logs kept in "
               "%s)\n", (unsigned long long)o.seed, o.rounds, dir);
    }
    return rc;
}
