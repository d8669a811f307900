/* test_producer.c — the SDK producer and pull consumer against real
 * mqnamesrv and mqbroker processes. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster.h"
#include "rk/clock.h"
#include "rk/consumer.h"
#include "rk/error.h"
#include "rk/producer.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"
#include "rk/tk_send.h"

static tk_cluster_t cl;
static rk_producer_t *prod;
static rk_pull_consumer_t *puller;

static void setup(void)
{
    tk_cluster_start(&cl, NULL);
    rk_producer_config_t pc = {.namesrv = cl.ns, .group = "pg"};
    cr_assert_eq(rk_producer_new(&pc, &prod), 0);
    rk_pull_consumer_config_t cc = {.namesrv = cl.ns, .group = "reader"};
    cr_assert_eq(rk_pull_consumer_new(&cc, &puller), 0);
}

static void teardown(void)
{
    rk_pull_consumer_free(puller);
    rk_producer_free(prod);
    tk_cluster_stop(&cl);
}

TestSuite(producer, .init = setup, .fini = teardown, .timeout = 60);

/* What a reader finds in every queue of topic, in queue order. */
typedef struct seen {
    char body[64], msg_id[64], tags[32], keys[32];
    int qid;
    int64_t offset;
} seen_t;

static size_t read_all(const char *topic, seen_t *out, size_t max)
{
    rk_mq_t *qs;
    size_t nq, n = 0;
    cr_assert_eq(rk_pull_consumer_queues(puller, topic, &qs, &nq), 0);
    for (size_t q = 0; q < nq; q++) {
        int64_t off = 0, last = -1;
        for (;;) {
            rk_pull_result_t r;
            cr_assert_eq(rk_pull_consumer_pull(puller, &qs[q], "*", off, 32, 0, &r), 0, "%s", r.error);
            if (r.status != RK_PULL_FOUND) {
                rk_pull_result_free(&r);
                break;
            }
            for (size_t i = 0; i < r.msgs->n && n < max; i++) {
                const rk_msg_ext_t *m = &r.msgs->msgs[i];
                cr_assert_gt(m->queue_offset, last, "offsets grow within a queue");
                last = m->queue_offset;
                seen_t *s = &out[n++];
                snprintf(s->body, sizeof s->body, "%.*s", (int)m->body_len, (const char *)m->body);
                snprintf(s->msg_id, sizeof s->msg_id, "%s", m->msg_id);
                snprintf(s->tags, sizeof s->tags, "%s", m->tags);
                snprintf(s->keys, sizeof s->keys, "%s", m->keys);
                s->qid = m->queue_id;
                s->offset = m->queue_offset;
                cr_assert_str_eq(m->broker, "broker-t");
            }
            off = r.next_offset;
            rk_pull_result_free(&r);
        }
    }
    free(qs);
    return n;
}

/* Messages become readable once the broker's dispatcher has indexed them
 * (a few ms after the send is answered): read until want are there. */
static size_t read_want(const char *topic, seen_t *out, size_t max, size_t want)
{
    size_t n = 0;
    for (int t = 0; t < 500 && (n = read_all(topic, out, max)) < want; t++)
        usleep(10000);
    return n;
}

static rk_message_t msg(const char *topic, const char *body)
{
    return (rk_message_t){.topic = topic, .tags = "t1", .keys = "k1 k2", .body = body, .body_len = strlen(body)};
}

Test(producer, sync_sends_arrive_once_in_order_with_keys_tags_and_ids)
{
    tk_create_topic(&cl, "SyncT", 4);
    char ids[40][40];
    for (int i = 0; i < 40; i++) {
        char body[32];
        snprintf(body, sizeof body, "m-%03d", i);
        rk_message_t m = msg("SyncT", body);
        rk_send_result_t r;
        cr_assert_eq(rk_producer_send(prod, &m, &r), 0, "%s", r.error);
        cr_assert_eq(r.status, RK_SEND_OK);
        cr_assert_eq(strlen(r.msg_id), 32);
        cr_assert_str_eq(r.mq.broker, "broker-t");
        cr_assert(r.queue_offset >= 0 && r.mq.queue_id >= 0 && r.mq.queue_id < 4);
        strcpy(ids[i], r.msg_id);
    }
    static seen_t s[100];
    size_t n = read_want("SyncT", s, 100, 40);
    cr_assert_eq(n, 40, "every message exactly once (got %zu)", n);
    int qcount[4] = {0};
    for (size_t i = 0; i < n; i++) {
        int k = atoi(s[i].body + 2);
        cr_assert_str_eq(s[i].msg_id, ids[k], "the UNIQ_KEY the producer returned is the message's id");
        cr_assert_str_eq(s[i].tags, "t1");
        cr_assert_str_eq(s[i].keys, "k1 k2");
        qcount[s[i].qid]++;
    }
    for (int q = 0; q < 4; q++)
        cr_assert_eq(qcount[q], 10, "round robin spreads evenly (queue %d got %d)", q, qcount[q]);
    /* within a queue, send order is kept */
    for (size_t i = 1; i < n; i++)
        if (s[i].qid == s[i - 1].qid)
            cr_assert_lt(strcmp(s[i - 1].body, s[i].body), 0);
}

static atomic_int async_ok, async_done;

static void on_sent(void *arg, int status, const rk_send_result_t *r)
{
    (void)arg;
    if (status == RK_OK && r->status == RK_SEND_OK && r->queue_offset >= 0)
        atomic_fetch_add(&async_ok, 1);
    atomic_fetch_add(&async_done, 1);
}

static bool all_done(void *arg) { return atomic_load(&async_done) >= *(int *)arg; }

Test(producer, async_oneway_and_batch_sends_all_arrive)
{
    tk_create_topic(&cl, "AsyncT", 4);
    int want = 300;
    for (int i = 0; i < want; i++) {
        char body[32];
        snprintf(body, sizeof body, "a-%04d", i);
        rk_message_t m = msg("AsyncT", body);
        cr_assert_eq(rk_producer_send_async(prod, &m, on_sent, NULL), 0);
    }
    cr_assert(tk_wait_until(all_done, &want, 10000), "callbacks: %d of %d", atomic_load(&async_done), want);
    cr_assert_eq(atomic_load(&async_ok), want);
    for (int i = 0; i < 50; i++) {
        char body[32];
        snprintf(body, sizeof body, "o-%04d", i);
        rk_message_t m = msg("AsyncT", body);
        cr_assert_eq(rk_producer_send_oneway(prod, &m), 0);
    }
    char bodies[20][16];
    rk_message_t batch[20];
    for (int i = 0; i < 20; i++) {
        snprintf(bodies[i], sizeof bodies[i], "b-%04d", i);
        batch[i] = msg("AsyncT", bodies[i]);
    }
    rk_send_result_t r;
    cr_assert_eq(rk_producer_send_batch(prod, batch, 20, &r), 0, "%s", r.error);
    int batch_q = r.mq.queue_id;
    int64_t batch_off = r.queue_offset;
    static seen_t s[500];
    size_t n = read_want("AsyncT", s, 500, (size_t)want + 70);
    cr_assert_eq(n, (size_t)want + 70, "got %zu", n);
    char seen[400] = {0};
    int batch_seen = 0;
    for (size_t i = 0; i < n; i++) {
        int k = atoi(s[i].body + 2);
        if (s[i].body[0] == 'a') {
            cr_assert_eq(seen[k], 0, "a-%d twice", k);
            seen[k] = 1;
        }
        if (s[i].body[0] == 'b') {
            cr_assert_eq(s[i].qid, batch_q, "a batch goes to one queue");
            cr_assert_eq(s[i].offset, batch_off + k, "consecutive offsets in batch order");
            batch_seen++;
        }
    }
    cr_assert_eq(batch_seen, 20);
}

Test(producer, big_bodies_are_compressed_and_come_back_whole)
{
    tk_create_topic(&cl, "BigT", 1);
    size_t len = 64 * 1024;
    char *body = malloc(len);
    for (size_t i = 0; i < len; i++)
        body[i] = (char)('a' + (i * 7 + i / 100) % 26);
    rk_message_t m = {.topic = "BigT", .body = body, .body_len = len};
    rk_send_result_t r;
    cr_assert_eq(rk_producer_send(prod, &m, &r), 0, "%s", r.error);
    rk_mq_t mq = r.mq;
    rk_pull_result_t pr;
    cr_assert_eq(rk_pull_consumer_pull(puller, &mq, "*", 0, 1, 5000, &pr), 0, "%s", pr.error);
    cr_assert_eq(pr.status, RK_PULL_FOUND);
    const rk_msg_ext_t *got = &pr.msgs->msgs[0];
    cr_assert(got->sys_flag & 0x1, "stored compressed");
    cr_assert_eq(got->body_len, len);
    cr_assert_eq(memcmp(got->body, body, len), 0);
    rk_pull_result_free(&pr);
    free(body);
}

Test(producer, a_new_topic_is_created_on_first_send_from_tbw102)
{
    rk_message_t m = msg("BornOnSend", "first");
    rk_send_result_t r;
    cr_assert_eq(rk_producer_send(prod, &m, &r), 0, "%s", r.error);
    cr_assert_lt(r.mq.queue_id, 4, "the producer asked for 4 queues");
    static seen_t s[4];
    for (int i = 0; i < 300; i++) {
        rk_mq_t *qs;
        size_t nq;
        if (rk_pull_consumer_queues(puller, "BornOnSend", &qs, &nq) == RK_OK) {
            free(qs);
            cr_assert_eq(nq, 4);
            break;
        }
        usleep(10000);
    }
    cr_assert_eq(read_want("BornOnSend", s, 4, 1), 1);
}

Test(producer, bad_messages_are_refused_with_a_reason)
{
    rk_send_result_t r;
    rk_message_t m = msg("has space", "x");
    cr_assert_eq(rk_producer_send(prod, &m, &r), RK_EINVAL);
    cr_assert(strstr(r.error, "not valid") != NULL, "%s", r.error);
    m = msg("Fine", "");
    cr_assert_eq(rk_producer_send(prod, &m, &r), RK_EINVAL);
    cr_assert(strstr(r.error, "empty") != NULL, "%s", r.error);
    size_t big = 5u * 1024 * 1024;
    char *body = calloc(1, big);
    m = (rk_message_t){.topic = "Fine", .body = body, .body_len = big};
    cr_assert_eq(rk_producer_send(prod, &m, &r), RK_ETOOBIG);
    cr_assert(strstr(r.error, "maximum") != NULL, "%s", r.error);
    free(body);
    m = msg("TBW102", "x");
    cr_assert_eq(rk_producer_send(prod, &m, &r), RK_EINVAL);
    rk_message_t two[2] = {msg("A1", "x"), msg("A2", "y")};
    cr_assert_eq(rk_producer_send_batch(prod, two, 2, &r), RK_EINVAL);
    cr_assert(strstr(r.error, "same topic") != NULL, "%s", r.error);
}

Test(producer, ordered_sends_keep_a_key_on_one_queue)
{
    tk_create_topic(&cl, "OrderT", 8);
    const char *keys[] = {"order-1", "order-2", "order-3"};
    for (int i = 0; i < 30; i++) {
        char body[32];
        snprintf(body, sizeof body, "%s:%02d", keys[i % 3], i / 3);
        rk_message_t m = msg("OrderT", body);
        rk_send_result_t r;
        cr_assert_eq(rk_producer_send_ordered(prod, &m, keys[i % 3], &r), 0, "%s", r.error);
    }
    static seen_t s[40];
    size_t n = read_want("OrderT", s, 40, 30);
    cr_assert_eq(n, 30);
    for (int k = 0; k < 3; k++) {
        int q = -1, next = 0;
        for (size_t i = 0; i < n; i++) {
            if (strncmp(s[i].body, keys[k], 7) != 0)
                continue;
            if (q < 0)
                q = s[i].qid;
            cr_assert_eq(s[i].qid, q, "%s stays on one queue", keys[k]);
            cr_assert_eq(atoi(s[i].body + 8), next++, "%s in send order", keys[k]);
        }
        cr_assert_eq(next, 10);
    }
}

Test(producer, long_poll_wakes_when_a_message_arrives)
{
    tk_create_topic(&cl, "PollT", 1);
    rk_mq_t mq = {.topic = "PollT", .broker = "broker-t", .queue_id = 0};
    rk_mq_t *qs;
    size_t nq;
    cr_assert_eq(rk_pull_consumer_queues(puller, "PollT", &qs, &nq), 0);   /* learns the broker's address */
    free(qs);
    pid_t child = fork();
    cr_assert(child >= 0);
    if (child == 0) {                   /* a separate process sends in 300 ms */
        usleep(300000);
        rk_producer_t *p2;
        rk_producer_config_t pc = {.namesrv = cl.ns, .group = "pg2"};
        if (rk_producer_new(&pc, &p2) != RK_OK)
            _exit(1);
        rk_message_t m = msg("PollT", "wake up");
        int rc = rk_producer_send(p2, &m, NULL);
        rk_producer_free(p2);
        _exit(rc == RK_OK ? 0 : 2);
    }
    uint64_t t0 = rk_mono_ms();
    rk_pull_result_t r;
    cr_assert_eq(rk_pull_consumer_pull(puller, &mq, "*", 0, 32, 10000, &r), 0, "%s", r.error);
    uint64_t waited = rk_mono_ms() - t0;
    int st;
    waitpid(child, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    cr_assert_eq(r.status, RK_PULL_FOUND, "the held pull is answered with the message");
    cr_assert_lt(waited, 10000, "answered at arrival, not at the 10 s suspend timeout");
    fprintf(stderr, "long poll answered %llu ms after it was sent (message sent at ~300 ms)\n", (unsigned long long)waited);
    rk_pull_result_free(&r);
}

Test(producer, offsets_topics_and_messages_survive_a_broker_restart)
{
    tk_create_topic(&cl, "KeepT", 2);
    for (int i = 0; i < 10; i++) {
        char body[16];
        snprintf(body, sizeof body, "k-%d", i);
        rk_message_t m = msg("KeepT", body);
        cr_assert_eq(rk_producer_send(prod, &m, NULL), 0);
    }
    rk_mq_t mq = {.topic = "KeepT", .broker = "broker-t", .queue_id = 1};
    cr_assert_eq(rk_pull_consumer_commit_offset(puller, &mq, 3), 0);
    tk_cluster_restart_broker(&cl);
    int64_t off = -1;
    int rc = RK_ECLOSED;
    for (int i = 0; i < 300 && rc != RK_OK; i++) {     /* the client reconnects */
        rc = rk_pull_consumer_fetch_offset(puller, &mq, &off);
        if (rc != RK_OK)
            usleep(10000);
    }
    cr_assert_eq(rc, 0, "%s", rk_strerror(rc));
    cr_assert_eq(off, 3, "the committed offset is kept");
    static seen_t s[20];
    cr_assert_eq(read_want("KeepT", s, 20, 10), 10, "the messages are kept");
    rk_message_t m = msg("KeepT", "after");
    rk_send_result_t r;
    cr_assert_eq(rk_producer_send(prod, &m, &r), 0, "%s", r.error);
}

/* ---- a broker with autoCreateTopicEnable=false ---- */

static tk_cluster_t strict;

static void strict_setup(void) { tk_cluster_start(&strict, "autoCreateTopicEnable=false\n"); }
static void strict_teardown(void) { tk_cluster_stop(&strict); }

TestSuite(refusals, .init = strict_setup, .fini = strict_teardown, .timeout = 60);

static rk_cmd_t *raw_call(rk_rclient_t *rc, rk_cmd_t *req)
{
    rk_cmd_t *resp = NULL;
    int st = rk_rclient_invoke_sync(rc, strict.br, req, 5000, &resp);
    cr_assert_eq(st, 0, "%s", rk_strerror(st));
    return resp;
}

Test(refusals, bad_requests_are_refused_and_the_broker_keeps_serving)
{
    /* the SDK: no route for the topic, and no broker offers TBW102 */
    rk_producer_t *p;
    rk_producer_config_t pc = {.namesrv = strict.ns, .group = "pg", .retries = -1};
    cr_assert_eq(rk_producer_new(&pc, &p), 0);
    rk_message_t m = msg("NeverCreated", "x");
    rk_send_result_t r;
    cr_assert_eq(rk_producer_send(p, &m, &r), RK_ENOTFOUND);
    cr_assert(strstr(r.error, "NeverCreated") != NULL, "%s", r.error);
    rk_producer_free(p);

    rk_rclient_t *rc;
    cr_assert_eq(rk_rclient_new(&rc), 0);
    /* a send straight to the broker: TOPIC_NOT_EXIST */
    rk_cmd_t *req = rk_tk_send_request(&(rk_tk_send_spec_t){.topic = "NeverCreated", .last = 'e', .body = "x"});
    cr_assert(req != NULL);
    rk_cmd_t *resp = raw_call(rc, req);
    cr_assert_eq(resp->code, RK_RESP_TOPIC_NOT_EXIST, "code %d: %s", resp->code, resp->remark ? resp->remark : "");
    rk_cmd_free(resp);
    /* a pull (its first four fields only) whose queueId is not a number */
    req = rk_tk_pull_request(&(rk_tk_pull_spec_t){
        .topic = "SELF_TEST_TOPIC",
        .omit = "maxMsgNums sysFlag commitOffset suspendTimeoutMillis subscription subVersion"});
    cr_assert(req != NULL);
    rk_cmd_ext_set(req, "queueId", "abc");
    resp = raw_call(rc, req);
    cr_assert_eq(resp->code, RK_RESP_SYSTEM_ERROR, "code %d", resp->code);
    rk_cmd_free(resp);

    /* a frame whose header is not JSON: the broker closes that connection only */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)strict.br_port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const char hdr[] = "{this is not json";
    uint8_t frame[64];
    uint32_t total = htonl((uint32_t)(4 + sizeof hdr - 1)), hl = htonl((uint32_t)(sizeof hdr - 1));
    memcpy(frame, &total, 4);
    memcpy(frame + 4, &hl, 4);
    memcpy(frame + 8, hdr, sizeof hdr - 1);
    cr_assert_eq(write(fd, frame, 8 + sizeof hdr - 1), (ssize_t)(8 + sizeof hdr - 1));
    char buf[16];
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cr_assert_eq(read(fd, buf, sizeof buf), 0, "the broker closes a connection that sent a broken frame");
    close(fd);

    /* and still serves everyone else */
    req = rk_cmd_new(RK_REQ_GET_MAX_OFFSET);
    rk_cmd_ext_set(req, "topic", "SELF_TEST_TOPIC");
    rk_cmd_ext_set(req, "queueId", "0");
    resp = raw_call(rc, req);
    cr_assert_eq(resp->code, 0);
    rk_cmd_free(resp);
    rk_rclient_free(rc);
}

/* ---- kill -9 ---- */

static tk_cluster_t crashy;

static void crash_teardown(void) { tk_cluster_stop(&crashy); }

TestSuite(crash, .fini = crash_teardown, .timeout = 90);

/* Every message the broker acknowledged is there after the broker is
 * killed with SIGKILL and restarted (recovery from the abort file). */
static void acked_messages_survive_kill_9(const char *flush)
{
    char conf[64];
    snprintf(conf, sizeof conf, "flushDiskType=%s\n", flush);
    tk_cluster_start(&crashy, conf);
    tk_create_topic(&crashy, "Crash", 2);
    rk_producer_t *p;
    rk_producer_config_t pc = {.namesrv = crashy.ns, .group = "pg"};
    cr_assert_eq(rk_producer_new(&pc, &p), 0);
    for (int i = 0; i < 200; i++) {
        char body[32];
        snprintf(body, sizeof body, "n:%d", i);
        rk_message_t m = {.topic = "Crash", .body = body, .body_len = strlen(body)};
        rk_send_result_t r;
        cr_assert_eq(rk_producer_send(p, &m, &r), 0, "%s", r.error);
        cr_assert_eq(r.status, RK_SEND_OK);
    }
    rk_producer_free(p);
    cr_assert_eq(rk_tk_kill(crashy.br_pid, SIGKILL), 0);
    rk_tk_wait(crashy.br_pid, 5000);
    crashy.br_pid = -1;
    char log[300];
    snprintf(log, sizeof log, "%s/broker-2.log", crashy.dir);
    char *argv[] = {(char *)rk_tk_bin("mqbroker"), "-c", crashy.conf, NULL};
    crashy.br_pid = rk_tk_spawn(argv, log);
    cr_assert(crashy.br_pid > 0 && rk_tk_wait_port(crashy.br_port, 10000), "restart (see %s)", log);
    rk_pull_consumer_t *pcons;
    rk_pull_consumer_config_t cc = {.namesrv = crashy.ns, .group = "after_crash"};
    cr_assert_eq(rk_pull_consumer_new(&cc, &pcons), 0);
    rk_mq_t *qs;
    size_t nq;
    int qrc = RK_ENOTFOUND;             /* the name server dropped the broker with its connection */
    for (int t = 0; t < 200 && (qrc = rk_pull_consumer_queues(pcons, "Crash", &qs, &nq)) != RK_OK; t++)
        usleep(50000);
    cr_assert_eq(qrc, 0, "no route after the restart: %s", rk_strerror(qrc));
    static char seen[200];
    int n = 0;
    for (int round = 0; round < 100 && n < 200; round++) {    /* the restarted broker re-dispatches */
        if (round)
            usleep(50000);
        memset(seen, 0, sizeof seen);
        n = 0;
        for (size_t q = 0; q < nq; q++) {
            int64_t off = 0;
            for (int tries = 0; tries < 300;) {
                rk_pull_result_t r;
                int rc = rk_pull_consumer_pull(pcons, &qs[q], "*", off, 64, 0, &r);
                if (rc != RK_OK) {      /* reconnecting */
                    usleep(10000);
                    tries++;
                    continue;
                }
                if (r.status != RK_PULL_FOUND) {
                    rk_pull_result_free(&r);
                    break;
                }
                for (size_t i = 0; i < r.msgs->n; i++) {
                    int k = atoi((const char *)r.msgs->msgs[i].body + 2);
                    cr_assert(k >= 0 && k < 200 && !seen[k], "message %d once", k);
                    seen[k] = 1;
                    n++;
                }
                off = r.next_offset;
                rk_pull_result_free(&r);
            }
        }
    }
    free(qs);
    rk_pull_consumer_free(pcons);
    cr_assert_eq(n, 200, "%s: every acknowledged message after kill -9 (got %d)", flush, n);
}

Test(crash, acknowledged_sends_survive_kill_9_with_sync_flush) { acked_messages_survive_kill_9("SYNC_FLUSH"); }

/* With ASYNC_FLUSH an acknowledged message is in the page cache: a killed
 * process does not lose it (a machine crash could). */
Test(crash, acknowledged_sends_survive_kill_9_with_async_flush) { acked_messages_survive_kill_9("ASYNC_FLUSH"); }

/* A process that frees a producer and makes another (malloc hands back the same address, the
 * client id is the same): the two producers' message ids must still differ, or two messages
 * sent in the same millisecond share a UNIQ_KEY (seen as chapter 12's console listing one
 * message twice). The id is ip (8 hex), pid (4), the producer's instance (8), time, counter. */
Test(producer, a_producer_made_after_another_is_freed_has_its_own_ids)
{
    tk_create_topic(&cl, "IdT", 1);
    char ids[2][64];
    for (int i = 0; i < 2; i++) {
        rk_producer_config_t pc = {.namesrv = cl.ns, .group = "idpg", .instance_name = "same"};
        rk_producer_t *p;
        cr_assert_eq(rk_producer_new(&pc, &p), 0);
        rk_message_t m = {.topic = "IdT", .body = "x", .body_len = 1};
        rk_send_result_t r;
        cr_assert_eq(rk_producer_send(p, &m, &r), RK_OK, "%s", r.error);
        snprintf(ids[i], sizeof ids[i], "%s", r.msg_id);
        rk_producer_free(p);
    }
    cr_assert(strncmp(ids[0], ids[1], 20) != 0, "the same ip, pid and instance: %s %s", ids[0], ids[1]);
}
