/* test_features.c — every feature a user reaches through the SDK, on one assembled cluster (two
 * groups of three electing replicas, majority acks): sync, async, oneway, batch and ordered
 * sends; pull and push; clustering and broadcasting; retry -> dead-letter queue -> resend; delay
 * levels and delivery times; transactions (commit, rollback, check-back); the console's API and
 * /metrics over the same cluster. Each chapter tests its feature against its own broker; this test
 * shows they still work together, through the programs a user runs. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fcluster.h"
#include "rk/clock.h"
#include "rk/consumer.h"
#include "rk/delay_client.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/producer.h"
#include "rk/retry_client.h"
#include "rk/testkit.h"
#include "rk/txn_producer.h"

static fc_t c;

static void fini(void) { fc_stop_all(&c); }

TestSuite(features, .fini = fini, .timeout = 240);

/* ------------------------------------------------------------ what consumers saw */

#define SEEN_MAX 64

typedef struct seen {
    pthread_mutex_t mu;
    char body[SEEN_MAX][64];
    int count[SEEN_MAX];
    int64_t first_ms[SEEN_MAX];
    int n;
    atomic_int later;           /* RK_CONSUME_LATER answers given */
    atomic_bool fail;           /* answer RK_CONSUME_LATER to everything */
} seen_t;

static void seen_init(seen_t *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
}

static int seen_count(seen_t *s, const char *body)
{
    pthread_mutex_lock(&s->mu);
    int n = 0;
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->body[i], body) == 0)
            n = s->count[i];
    pthread_mutex_unlock(&s->mu);
    return n;
}

static int64_t seen_first(seen_t *s, const char *body)
{
    pthread_mutex_lock(&s->mu);
    int64_t t = -1;
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->body[i], body) == 0)
            t = s->first_ms[i];
    pthread_mutex_unlock(&s->mu);
    return t;
}

static rk_consume_result_t on_msgs(void *arg, const rk_msg_ext_t *msgs, size_t n)
{
    seen_t *s = arg;
    if (atomic_load(&s->fail)) {
        atomic_fetch_add(&s->later, 1);
        return RK_CONSUME_LATER;
    }
    pthread_mutex_lock(&s->mu);
    for (size_t k = 0; k < n; k++) {
        char b[64];
        snprintf(b, sizeof b, "%.*s", (int)(msgs[k].body_len < 63 ? msgs[k].body_len : 63), (const char *)msgs[k].body);
        int i = 0;
        while (i < s->n && strcmp(s->body[i], b) != 0)
            i++;
        if (i == s->n && s->n < SEEN_MAX) {
            snprintf(s->body[s->n], sizeof s->body[0], "%s", b);
            s->first_ms[s->n] = rk_now_ms();
            s->n++;
        }
        if (i < SEEN_MAX)
            s->count[i]++;
    }
    pthread_mutex_unlock(&s->mu);
    return RK_CONSUME_SUCCESS;
}

static rk_push_consumer_t *push(const char *group, const char *inst, const char *topic, rk_message_model_t model,
                                seen_t *s)
{
    char offsets[400];
    snprintf(offsets, sizeof offsets, "%s/offsets", c.dir);
    rk_push_consumer_config_t cfg = {.namesrv = c.ns, .group = group, .instance_name = inst, .model = model,
                                     .from = RK_CONSUME_FROM_FIRST, .rebalance_ms = 1000, .offset_dir = offsets};
    rk_push_consumer_t *pc;
    cr_assert_eq(rk_push_consumer_new(&cfg, on_msgs, s, &pc), RK_OK);
    cr_assert_eq(rk_push_consumer_subscribe(pc, topic, "*"), RK_OK);
    return pc;
}

static bool wait_count(seen_t *s, const char *body, int at_least, int ms)
{
    for (int t = 0; t < ms; t += 50) {
        if (seen_count(s, body) >= at_least)
            return true;
        usleep(50000);
    }
    return seen_count(s, body) >= at_least;
}

static void send_ok(rk_producer_t *p, const char *topic, const char *body, rk_send_result_t *r)
{
    rk_message_t m = {.topic = topic, .tags = "t", .keys = body, .body = body, .body_len = strlen(body)};
    int rc = rk_producer_send(p, &m, r);
    cr_assert(rc == RK_OK && r->status == RK_SEND_OK, "send %s to %s: %s", body, topic, r->error);
}


/* GET path from 127.0.0.1:port (HTTP/1.0): the whole answer, malloc'ed (NULL if none). */
static char *http_get(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 10};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap + 1);
    if (buf == NULL || write(fd, req, (size_t)n) != n) {
        free(buf);
        close(fd);
        return NULL;
    }
    ssize_t k;
    while (len < cap && (k = read(fd, buf + len, cap - len)) > 0)
        len += (size_t)k;
    buf[len] = '\0';
    close(fd);
    return buf;
}


/* ------------------------------------------------------------ transactions */

static rk_txn_state_t local_tx(void *arg, const rk_message_t *m, const rk_send_result_t *half)
{
    (void)arg;
    (void)half;
    if (m->body_len >= 6 && memcmp(m->body, "commit", 6) == 0)
        return RK_TXN_COMMIT;
    if (m->body_len >= 8 && memcmp(m->body, "rollback", 8) == 0)
        return RK_TXN_ROLLBACK;
    return RK_TXN_UNKNOWN;      /* "unknown-...": the broker asks back */
}

static atomic_int checks;

static rk_txn_state_t check_back(void *arg, const rk_msg_ext_t *m)
{
    (void)arg;
    (void)m;
    atomic_fetch_add(&checks, 1);
    return RK_TXN_COMMIT;       /* the local transaction did commit after all */
}

/* ------------------------------------------------------------ the test */

typedef struct async_wait {
    atomic_int done, ok;
} async_wait_t;

static void on_sent(void *arg, int status, const rk_send_result_t *r)
{
    async_wait_t *w = arg;
    if (status == RK_OK && r->status == RK_SEND_OK)
        atomic_fetch_add(&w->ok, 1);
    atomic_fetch_add(&w->done, 1);
}

Test(features, every_feature_through_one_assembled_cluster)
{
    rk_log_set_level(RK_LOG_ERROR);
    /* short retry back-off: every delay level is a second */
    fc_init(&c, "messageDelayLevel=1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s\n"
                "transactionCheckInterval=1000\ntransactionTimeOut=1000");
    fc_start_all(&c);
    rk_producer_config_t pcfg = {.namesrv = c.ns, .group = "FeatureProducer"};
    rk_producer_t *p;
    cr_assert_eq(rk_producer_new(&pcfg, &p), RK_OK);

    /* sync send, then a pull of exactly where the broker put it */
    rk_send_result_t r;
    send_ok(p, "FSync", "sync-1", &r);
    rk_pull_consumer_config_t pullcfg = {.namesrv = c.ns, .group = "FeaturePull"};
    rk_pull_consumer_t *pull;
    cr_assert_eq(rk_pull_consumer_new(&pullcfg, &pull), RK_OK);
    rk_pull_result_t pr;
    cr_assert_eq(rk_pull_consumer_pull(pull, &r.mq, "*", r.queue_offset, 1, 5000, &pr), RK_OK);   /* long poll */
    cr_assert(pr.status == RK_PULL_FOUND && pr.msgs->n == 1 && pr.msgs->msgs[0].body_len == 6 &&
              memcmp(pr.msgs->msgs[0].body, "sync-1", 6) == 0, "the pull did not return the message sent");
    rk_pull_result_free(&pr);

    /* ordered: one sharding key, one queue, offsets in send order */
    rk_mq_t first = {0};
    int64_t last = -1;
    for (int i = 0; i < 10; i++) {
        char body[32];
        snprintf(body, sizeof body, "order-%d", i);
        rk_message_t m = {.topic = "FOrder", .body = body, .body_len = strlen(body)};
        cr_assert_eq(rk_producer_send_ordered(p, &m, "customer-7", &r), RK_OK, "%s", r.error);
        if (i == 0)
            first = r.mq;
        cr_assert(strcmp(r.mq.broker, first.broker) == 0 && r.mq.queue_id == first.queue_id,
                  "an ordered send moved to another queue");
        cr_assert_gt(r.queue_offset, last);
        last = r.queue_offset;
    }

    /* clustering: two members of one group share the messages; async, oneway and batch sends
     * feed them */
    seen_t clu;
    seen_init(&clu);
    rk_push_consumer_t *c1 = push("GClustering", "m1", "FPush", RK_CLUSTERING, &clu);
    rk_push_consumer_t *c2 = push("GClustering", "m2", "FPush", RK_CLUSTERING, &clu);
    cr_assert_eq(rk_push_consumer_start(c1), RK_OK);
    cr_assert_eq(rk_push_consumer_start(c2), RK_OK);
    async_wait_t w = {0};
    for (int i = 0; i < 5; i++) {
        char body[32];
        snprintf(body, sizeof body, "async-%d", i);
        rk_message_t m = {.topic = "FPush", .body = body, .body_len = strlen(body)};
        cr_assert_eq(rk_producer_send_async(p, &m, on_sent, &w), RK_OK);
    }
    rk_message_t one = {.topic = "FPush", .body = "oneway-1", .body_len = 8};
    cr_assert_eq(rk_producer_send_oneway(p, &one), RK_OK);
    rk_message_t batch[5];
    char bodies[5][32];
    for (int i = 0; i < 5; i++) {
        snprintf(bodies[i], sizeof bodies[i], "batch-%d", i);
        batch[i] = (rk_message_t){.topic = "FPush", .body = bodies[i], .body_len = strlen(bodies[i])};
    }
    cr_assert_eq(rk_producer_send_batch(p, batch, 5, &r), RK_OK, "%s", r.error);
    for (int t = 0; t < 200 && atomic_load(&w.done) < 5; t++)
        usleep(50000);
    cr_assert_eq(atomic_load(&w.ok), 5, "async sends acknowledged: %d of 5", atomic_load(&w.ok));
    const char *want[] = {"async-0", "async-4", "oneway-1", "batch-0", "batch-4"};
    for (int i = 0; i < 5; i++)
        cr_assert(wait_count(&clu, want[i], 1, 20000), "the clustering group never got %s", want[i]);

    /* broadcasting: every member gets every message */
    seen_t b1, b2;
    seen_init(&b1);
    seen_init(&b2);
    rk_push_consumer_t *bc1 = push("GBroadcast", "b1", "FBroadcast", RK_BROADCASTING, &b1);
    rk_push_consumer_t *bc2 = push("GBroadcast", "b2", "FBroadcast", RK_BROADCASTING, &b2);
    cr_assert_eq(rk_push_consumer_start(bc1), RK_OK);
    cr_assert_eq(rk_push_consumer_start(bc2), RK_OK);
    send_ok(p, "FBroadcast", "everyone-1", &r);
    cr_assert(wait_count(&b1, "everyone-1", 1, 20000) && wait_count(&b2, "everyone-1", 1, 20000),
              "a broadcasting member missed the message");

    /* retry -> dead letters -> resend */
    seen_t ret;
    seen_init(&ret);
    atomic_store(&ret.fail, true);
    rk_push_consumer_t *rc = push("GRetry", "r1", "FRetry", RK_CLUSTERING, &ret);
    rk_retry_client_config_t rcfg = {.namesrv = c.ns, .max_reconsume_times = 2};
    rk_retry_client_t *retry;
    cr_assert_eq(rk_retry_client_attach(rc, &rcfg, &retry), RK_OK);
    cr_assert_eq(rk_push_consumer_start(rc), RK_OK);
    send_ok(p, "FRetry", "doomed-1", &r);
    char *out = NULL;
    bool dead = false;
    for (int t = 0; t < 60 && !dead; t++) {         /* 3 attempts a second apart, then %DLQ%GRetry */
        const char *args[] = {"queryDlqMsg", "-g", "GRetry", NULL};
        free(out);
        out = NULL;
        dead = fc_admin(&c, &out, args) == 0 && out != NULL && strstr(out, "doomed-1") != NULL;
        if (!dead)
            usleep(500000);
    }
    cr_assert(dead, "doomed-1 never reached %%DLQ%%GRetry (%d failed attempts):\n%s", atomic_load(&ret.later),
              out ? out : "");
    cr_assert_geq(atomic_load(&ret.later), 3, "attempts before the dead-letter queue: %d", atomic_load(&ret.later));
    free(out);
    atomic_store(&ret.fail, false);                 /* the application is fixed: resend */
    const char *resend[] = {"resendMsgFromDLQ", "-g", "GRetry", "-a", NULL};
    out = NULL;
    cr_assert_eq(fc_admin(&c, &out, resend), 0, "%s", out ? out : "");
    free(out);
    cr_assert(wait_count(&ret, "doomed-1", 1, 30000), "the resent message was not consumed");

    /* delay: a level (1 s here) and a delivery time 1.5 s ahead; neither comes early */
    seen_t del;
    seen_init(&del);
    rk_push_consumer_t *dc = push("GDelay", "d1", "FDelay", RK_CLUSTERING, &del);
    cr_assert_eq(rk_push_consumer_start(dc), RK_OK);
    rk_message_t lv = {.topic = "FDelay", .body = "level-2", .body_len = 7};
    int64_t t_level = rk_now_ms();
    cr_assert_eq(rk_producer_send_delay_level(p, &lv, 2, &r), RK_OK, "%s", r.error);
    rk_message_t at = {.topic = "FDelay", .body = "after-1500", .body_len = 10};
    int64_t t_after = rk_now_ms();
    cr_assert_eq(rk_producer_send_deliver_after(p, &at, 1500, &r), RK_OK, "%s", r.error);
    cr_assert(wait_count(&del, "level-2", 1, 20000), "the delay-level message never came");
    cr_assert(wait_count(&del, "after-1500", 1, 20000), "the timed message never came");
    cr_assert_geq(seen_first(&del, "level-2"), t_level + 1000, "a 1 s delay level came early");
    cr_assert_geq(seen_first(&del, "after-1500"), t_after + 1500 - 50, "a 1.5 s delivery time came early");

    /* transactions: commit -> delivered once; rollback -> never; unknown -> checked back -> once */
    seen_t tx;
    seen_init(&tx);
    rk_push_consumer_t *tc = push("GTxn", "t1", "FTxn", RK_CLUSTERING, &tx);
    cr_assert_eq(rk_push_consumer_start(tc), RK_OK);
    const char *const txtopics[] = {"FTxn", NULL};
    rk_txn_producer_config_t tcfg = {.producer = {.namesrv = c.ns, .group = "FeatureTxnProducer"},
                                     .check = check_back, .topics = txtopics};
    rk_txn_producer_t *tp;
    cr_assert_eq(rk_txn_producer_new(&tcfg, &tp), RK_OK);
    const char *txbodies[] = {"commit-1", "rollback-1", "unknown-1"};
    for (int i = 0; i < 3; i++) {
        rk_message_t m = {.topic = "FTxn", .body = txbodies[i], .body_len = strlen(txbodies[i])};
        rk_txn_send_result_t tr;
        cr_assert_eq(rk_txn_producer_send(tp, &m, local_tx, NULL, &tr), RK_OK, "%s", tr.error);
        cr_assert(tr.executed);
    }
    cr_assert(wait_count(&tx, "commit-1", 1, 20000), "a committed message was not delivered");
    cr_assert(wait_count(&tx, "unknown-1", 1, 60000), "an unknown transaction was not checked back and delivered "
              "(%d checks)", atomic_load(&checks));
    cr_assert_geq(atomic_load(&checks), 1);
    sleep(1);
    cr_assert_eq(seen_count(&tx, "rollback-1"), 0, "a rolled-back message was delivered");
    cr_assert_eq(seen_count(&tx, "commit-1"), 1, "a committed message was delivered %d times",
                 seen_count(&tx, "commit-1"));
    rk_txn_producer_free(tp);
    rk_push_consumer_free(tc);

    /* the console sees the same cluster: its API lists the topics, /metrics every replica */
    int cport = rk_tk_free_port();
    char portarg[16], clog[300];
    snprintf(portarg, sizeof portarg, "%d", cport);
    snprintf(clog, sizeof clog, "%s/console.log", c.dir);
    char *cargv[] = {RK_BIN_DIR "/../../bin/mqconsole", "-n", c.ns, "-l", portarg, NULL};
    pid_t cpid = rk_tk_spawn(cargv, clog);
    cr_assert(cpid > 0 && rk_tk_wait_port(cport, 10000), "mqconsole did not start (see %s)", clog);
    char *topics = NULL;
    for (int t = 0; t < 50 && (topics == NULL || strstr(topics, "FPush") == NULL); t++) {
        free(topics);
        topics = http_get(cport, "/api/topics");
        if (topics == NULL || strstr(topics, "FPush") == NULL)
            usleep(200000);
    }
    cr_assert(topics != NULL && strstr(topics, " 200 ") != NULL && strstr(topics, "FPush") != NULL,
              "the console's /api/topics does not list FPush:\n%.300s", topics ? topics : "(no answer)");
    free(topics);
    char *metrics = http_get(cport, "/metrics");
    cr_assert(metrics != NULL && strstr(metrics, " 200 ") != NULL, "no /metrics");
    int up = 0;
    for (const char *m = metrics; (m = strstr(m, "\nrocklet_broker_up{")) != NULL; m++)
        up += strstr(m, "} 1") != NULL && strstr(m, "} 1") < strchr(m + 1, '\n');
    cr_assert_eq(up, 6, "/metrics says %d of the 6 replicas are up", up);
    free(metrics);
    rk_tk_stop(cpid, 10000);

    rk_push_consumer_free(dc);
    rk_push_consumer_free(rc);
    rk_retry_client_free(retry);
    rk_push_consumer_free(bc1);
    rk_push_consumer_free(bc2);
    rk_push_consumer_free(c1);
    rk_push_consumer_free(c2);
    rk_pull_consumer_free(pull);
    rk_producer_free(p);
}
