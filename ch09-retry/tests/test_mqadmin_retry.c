/* test_mqadmin_retry.c — what an operator sees of a retried message through mqadmin (real
 * mqnamesrv, chapter 9 mqbroker and mqadmin processes): queryMsgById on the retry copy shows its
 * reconsume count and where it came from (RETRY_TOPIC, ORIGIN_MESSAGE_ID, the original topic),
 * queryMsgByKey finds it under %RETRY%<group>, and consumerProgress lists the group's
 * %RETRY%<group> rows next to its topic's. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "rk/tk_rcluster.h"
#include "rk/consumer.h"
#include "rk/log.h"
#include "rk/producer.h"
#include "rk/retry.h"
#include "rk/retry_client.h"
#include "rk/testkit.h"

/* What the listener saw of the message "q0": each delivery's offset id and reconsume count. */
static struct {
    uv_mutex_t mu;
    int n;
    char offset_id[4][64], msg_id[4][64];
    int reconsume[4];
} seen;

static rk_rc_cluster_t cl;
static rk_log_level_t old_level;

static void setup(void)
{
    old_level = rk_log_get_level();
    rk_log_set_level(RK_LOG_OFF);
    memset(&seen, 0, sizeof seen);
    uv_mutex_init(&seen.mu);
}

static void teardown(void)
{
    rk_rc_stop(&cl);
    uv_mutex_destroy(&seen.mu);
    rk_log_set_level(old_level);
}

TestSuite(mqadmin_retry, .init = setup, .fini = teardown, .timeout = 120);

/* Fails "q0" the first time, consumes everything else. */
static rk_consume_result_t on_msgs(void *arg, const rk_msg_ext_t *msgs, size_t n)
{
    (void)arg;
    rk_consume_result_t res = RK_CONSUME_SUCCESS;
    uv_mutex_lock(&seen.mu);
    for (size_t i = 0; i < n; i++) {
        const rk_msg_ext_t *m = &msgs[i];
        if (m->body_len != 2 || memcmp(m->body, "q0", 2) != 0 || seen.n >= 4)
            continue;
        snprintf(seen.offset_id[seen.n], sizeof seen.offset_id[0], "%s", m->offset_msg_id);
        snprintf(seen.msg_id[seen.n], sizeof seen.msg_id[0], "%s", m->msg_id);
        seen.reconsume[seen.n] = m->reconsume_times;
        if (seen.n++ == 0)
            res = RK_CONSUME_LATER;
    }
    uv_mutex_unlock(&seen.mu);
    return res;
}

static int deliveries(void)
{
    uv_mutex_lock(&seen.mu);
    int n = seen.n;
    uv_mutex_unlock(&seen.mu);
    return n;
}

/* Runs mqadmin with args (NULL-terminated after the command); its exit status, output in *out. */
static int mqadmin(char **out, const char *cmd, const char *a1, const char *a2, const char *a3, const char *a4)
{
    char *argv[] = {(char *)rk_tk_bin("mqadmin"), (char *)cmd, "-n", cl.ns, (char *)a1, (char *)a2,
                    (char *)a3, (char *)a4, NULL};
    *out = NULL;
    return rk_tk_run(argv, out, 20000);
}

/* The value printed after "Label:" on a line of its own, or "" (static buffer). */
static const char *field(const char *out, const char *label)
{
    static char v[256];
    v[0] = 0;
    const char *p = out;
    size_t ll = strlen(label);
    while (p != NULL && *p) {
        if (strncmp(p, label, ll) == 0) {
            p += ll;
            while (*p == ' ')
                p++;
            size_t n = strcspn(p, "\n");
            snprintf(v, sizeof v, "%.*s", (int)(n < sizeof v - 1 ? n : sizeof v - 1), p);
            return v;
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return v;
}

/* A message failed once through the SDK's listener: its retry copy, looked up by the offset id
 * the listener got, shows reconsume times 1, RETRY_TOPIC, ORIGIN_MESSAGE_ID and the original topic;
 * consumerProgress lists %RETRY%<group> with the consumed retry. */
Test(mqadmin_retry, query_and_progress_show_the_retry)
{
    rk_rc_start(&cl, "messageDelayLevel=1s 1s 1s 1s 1s 1s\n");
    rk_rc_create_topic(&cl, "QT", 1);
    rk_push_consumer_config_t cc = {.namesrv = cl.ns, .group = "qg", .from = RK_CONSUME_FROM_FIRST,
                                    .rebalance_ms = 1000, .persist_ms = 500};
    rk_push_consumer_t *pc;
    cr_assert_eq(rk_push_consumer_new(&cc, on_msgs, NULL, &pc), 0);
    cr_assert_eq(rk_push_consumer_subscribe(pc, "QT", "*"), 0);
    rk_retry_client_t *rc;
    rk_retry_client_config_t rcfg = {.namesrv = cl.ns};
    cr_assert_eq(rk_retry_client_attach(pc, &rcfg, &rc), 0);
    cr_assert_eq(rk_push_consumer_start(pc), 0);
    rk_producer_t *p;
    rk_producer_config_t pcfg = {.namesrv = cl.ns, .group = "qpg"};
    cr_assert_eq(rk_producer_new(&pcfg, &p), 0);
    rk_message_t m = {.topic = "QT", .tags = "TagQ", .keys = "K-q0", .body = "q0", .body_len = 2};
    rk_send_result_t sr;
    cr_assert_eq(rk_producer_send(p, &m, &sr), 0, "send: %s", sr.error);
    rk_producer_free(p);
    for (int i = 0; i < 1500 && deliveries() < 2; i++)
        usleep(20000);
    cr_assert_eq(deliveries(), 2, "q0 delivered %d times", deliveries());
    cr_assert_eq(seen.reconsume[1], 1);
    cr_assert_str_eq(seen.offset_id[0], sr.offset_msg_id);
    cr_assert_str_neq(seen.offset_id[1], seen.offset_id[0], "the retry is a copy of its own");

    /* queryMsgById on the retry copy (the offset id its consumer got) */
    char *out;
    cr_assert_eq(mqadmin(&out, "queryMsgById", "-i", seen.offset_id[1], NULL, NULL), 0, "queryMsgById: %s", out);
    cr_assert_str_eq(field(out, "Topic:"), "%RETRY%qg", "%s", out);
    cr_assert_str_eq(field(out, "Reconsume Times:"), "1", "%s", out);
    cr_assert_str_eq(field(out, "Original Topic:"), "QT", "%s", out);
    cr_assert_str_eq(field(out, "Origin Message ID:"), sr.offset_msg_id, "%s", out);
    cr_assert_str_eq(field(out, "Message Body:"), "q0", "%s", out);
    char want[300];
    snprintf(want, sizeof want, "ORIGIN_MESSAGE_ID=%s", sr.offset_msg_id);
    cr_assert_not_null(strstr(out, want), "properties lack %s:\n%s", want, out);
    cr_assert_not_null(strstr(out, "RETRY_TOPIC=QT"), "%s", out);
    free(out);

    /* the original says it is one: reconsume times 0, no origin lines */
    cr_assert_eq(mqadmin(&out, "queryMsgById", "-i", sr.offset_msg_id, NULL, NULL), 0, "%s", out);
    cr_assert_str_eq(field(out, "Topic:"), "QT", "%s", out);
    cr_assert_str_eq(field(out, "Reconsume Times:"), "0", "%s", out);
    cr_assert_null(strstr(out, "Origin Message ID:"), "%s", out);
    free(out);

    /* by the producer's message id (what the listener sees as msg_id) and the retry topic */
    cr_assert_str_eq(seen.msg_id[1], sr.msg_id);
    cr_assert_eq(mqadmin(&out, "queryMsgById", "-i", sr.msg_id, "-t", "%RETRY%qg"), 0, "%s", out);
    cr_assert_str_eq(field(out, "Reconsume Times:"), "1", "%s", out);
    cr_assert_str_eq(field(out, "Original Topic:"), "QT", "%s", out);
    free(out);

    /* by key: the retry copy is indexed under %RETRY%qg */
    cr_assert_eq(mqadmin(&out, "queryMsgByKey", "-t", "%RETRY%qg", "-k", "K-q0"), 0, "%s", out);
    cr_assert_not_null(strstr(out, sr.msg_id), "%s", out);
    free(out);

    /* consumerProgress: the group's retry topic has a row with its consumed retry */
    for (int i = 0; i < 100; i++) {     /* until the consumer committed the retry's offset */
        cr_assert_eq(mqadmin(&out, "consumerProgress", "-g", "qg", NULL, NULL), 0, "%s", out);
        if (strstr(out, "%RETRY%qg") != NULL && strstr(out, "Diff Total: 0") != NULL)
            break;
        free(out);
        out = NULL;
        usleep(100000);
    }
    cr_assert_not_null(out, "consumerProgress never showed %%RETRY%%qg caught up");
    const char *qt = strstr(out, "\nQT "), *retry = strstr(out, "\n%RETRY%qg ");
    cr_assert(qt != NULL && retry != NULL, "%s", out);
    cr_assert_lt(retry, qt, "rows not sorted by topic as RocketMQ's:\n%s", out);
    int qid = -1;
    long long bo = -1, co = -1;
    char broker[64];
    cr_assert_eq(sscanf(retry + 1, "%%RETRY%%qg %63s %d %lld %lld", broker, &qid, &bo, &co), 4, "%s", out);
    cr_assert_str_eq(broker, "broker-r");
    cr_assert_eq(bo, 1, "%s", out);
    cr_assert_eq(co, 1, "%s", out);
    free(out);
    rk_push_consumer_free(pc);
    rk_retry_client_free(rc);
}

/* As RocketMQ's push consumer (correctTagsOffset on an empty pull), a clustering consumer that
 * never failed anything has committed offset 0 in %RETRY%<group>: consumerProgress lists the row. */
Test(mqadmin_retry, progress_lists_the_retry_topic_before_any_retry)
{
    rk_rc_start(&cl, NULL);
    rk_rc_create_topic(&cl, "PT", 1);
    rk_push_consumer_config_t cc = {.namesrv = cl.ns, .group = "pgq", .from = RK_CONSUME_FROM_FIRST,
                                    .rebalance_ms = 1000, .persist_ms = 500};
    rk_push_consumer_t *pc;
    cr_assert_eq(rk_push_consumer_new(&cc, on_msgs, NULL, &pc), 0);
    cr_assert_eq(rk_push_consumer_subscribe(pc, "PT", "*"), 0);
    rk_retry_client_t *rc;
    rk_retry_client_config_t rcfg = {.namesrv = cl.ns};
    cr_assert_eq(rk_retry_client_attach(pc, &rcfg, &rc), 0);
    cr_assert_eq(rk_push_consumer_start(pc), 0);
    rk_producer_t *p;
    rk_producer_config_t pcfg = {.namesrv = cl.ns, .group = "qpg"};
    cr_assert_eq(rk_producer_new(&pcfg, &p), 0);
    rk_message_t m = {.topic = "PT", .body = "ok", .body_len = 2};
    rk_send_result_t sr;
    cr_assert_eq(rk_producer_send(p, &m, &sr), 0, "send: %s", sr.error);
    rk_producer_free(p);
    char *out = NULL;
    for (int i = 0; i < 100; i++) {
        if (mqadmin(&out, "consumerProgress", "-g", "pgq", NULL, NULL) == 0 && strstr(out, "%RETRY%pgq") != NULL &&
            strstr(out, "\nPT ") != NULL && strstr(out, "Diff Total: 0") != NULL)
            break;
        free(out);
        out = NULL;
        usleep(100000);
    }
    cr_assert_not_null(out, "consumerProgress never listed %%RETRY%%pgq next to PT");
    const char *retry = strstr(out, "\n%RETRY%pgq "), *pt = strstr(out, "\nPT ");
    cr_assert(retry != NULL && retry < pt, "rows not sorted by queue as RocketMQ's:\n%s", out);
    long long bo = -1, co = -1;
    cr_assert_eq(sscanf(retry + 1, "%%RETRY%%pgq broker-r 0 %lld %lld", &bo, &co), 2, "%s", out);
    cr_assert(bo == 0 && co == 0, "%s", out);
    free(out);
    rk_push_consumer_free(pc);
    rk_retry_client_free(rc);
}
