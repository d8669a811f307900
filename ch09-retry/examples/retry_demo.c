/* retry_demo.c — watch a consume retry and a dead letter (chapter 9's README, "Try it").
 *
 *   build/ch09/bin/retry_demo [NAMESRV]          send order-1 and order-2, consume them
 *   build/ch09/bin/retry_demo NAMESRV listen     only consume and accept, until a message came (15 s at most)
 *
 * It sends two messages to topic RetryDemo, then consumes them in group retry_demo_cg with a push
 * consumer and chapter 9's retry hooks (rk/retry_client.h), maxReconsumeTimes 2:
 *   - order-1 fails twice (RK_CONSUME_LATER) and is consumed the third time;
 *   - order-2 always fails: after its third delivery (reconsume count 2, the maximum) the broker
 *     puts it in %DLQ%retry_demo_cg instead of giving it back.
 * Every delivery is printed with its reconsume count and the seconds since the producer sent it
 * (the message's born timestamp, which the broker keeps on every retried copy). `listen` shows
 * what `mqadmin resendMsgFromDLQ` gave back. Built by `make` (the Makefile's examples rule) with
 * the SDK of chapters 4-7 (<rk/rocklet.h>) and chapter 9's library. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rk/retry_client.h>
#include <rk/rocklet.h>

#define TOPIC "RetryDemo"
#define GROUP "retry_demo_cg"

static atomic_int order1_done, order2_seen, received;
static atomic_bool listen_only;

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static rk_consume_result_t on_message(void *arg, const rk_msg_ext_t *msgs, size_t n)
{
    (void)arg;
    rk_consume_result_t res = RK_CONSUME_SUCCESS;
    for (size_t i = 0; i < n; i++) {
        const rk_msg_ext_t *m = &msgs[i];
        const char *verdict = "consumed";
        if (!atomic_load(&listen_only)) {
            if (strcmp(m->keys, "order-1") == 0 && m->reconsume_times < 2)
                verdict = "failed, try later";
            else if (strcmp(m->keys, "order-2") == 0) {
                verdict = "failed, try later";
                atomic_fetch_add(&order2_seen, 1);
            } else if (strcmp(m->keys, "order-1") == 0)
                atomic_store(&order1_done, 1);
        }
        if (strcmp(verdict, "consumed") != 0)
            res = RK_CONSUME_LATER;         /* a batch holds one message here (batch_max 1) */
        printf("%6.1f s  %-7s reconsumeTimes=%d  topic %s queue %d  %s\n",
               (double)(wall_ms() - m->born_ts) / 1000.0, m->keys, m->reconsume_times, m->topic,
               m->queue_id, verdict);
        atomic_fetch_add(&received, 1);
    }
    return res;
}

int main(int argc, char **argv)
{
    const char *ns = argc > 1 ? argv[1] : "127.0.0.1:9876";
    atomic_store(&listen_only, argc > 2 && strcmp(argv[2], "listen") == 0);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc;

    if (!atomic_load(&listen_only)) {
        rk_producer_config_t pcfg = {.namesrv = ns, .group = "retry_demo_producer"};
        rk_producer_t *p;
        if ((rc = rk_producer_new(&pcfg, &p)) != RK_OK) {
            fprintf(stderr, "producer: %s\n", rk_strerror(rc));
            return 1;
        }
        const char *keys[2] = {"order-1", "order-2"};
        for (int i = 0; i < 2; i++) {
            char body[64];
            snprintf(body, sizeof body, "%s: %s", keys[i], i == 0 ? "fails twice" : "always fails");
            rk_message_t m = {.topic = TOPIC, .keys = keys[i], .body = body, .body_len = strlen(body)};
            rk_send_result_t r;
            if (rk_producer_send(p, &m, &r) != RK_OK) {
                fprintf(stderr, "send: %s\n", r.error);
                rk_producer_free(p);
                return 1;
            }
            printf("sent %s  msgId %s\n", keys[i], r.msg_id);
        }
        rk_producer_free(p);
    }

    /* rebalance_ms 1000: the consumer finds %RETRY%retry_demo_cg's route within a second of the
     * broker creating it at the first send-back (RocketMQ's client looks every 30 s). */
    rk_push_consumer_config_t ccfg = {.namesrv = ns, .group = GROUP, .from = RK_CONSUME_FROM_FIRST,
                                      .rebalance_ms = 1000};
    rk_retry_client_config_t rcfg = {.namesrv = ns, .max_reconsume_times = 2};
    rk_push_consumer_t *c = NULL;
    rk_retry_client_t *retry = NULL;
    if ((rc = rk_push_consumer_new(&ccfg, on_message, NULL, &c)) != RK_OK ||
        (rc = rk_retry_client_attach(c, &rcfg, &retry)) != RK_OK ||
        (rc = rk_push_consumer_subscribe(c, TOPIC, "*")) != RK_OK ||
        (rc = rk_push_consumer_start(c)) != RK_OK) {
        fprintf(stderr, "consumer: %s\n", rk_strerror(rc));
        rk_push_consumer_free(c);
        rk_retry_client_free(retry);
        return 1;
    }

    int ok;
    if (atomic_load(&listen_only)) {
        /* Until a message came (and one more second for any other), at most 15 s. */
        int after = 0;
        for (int t = 0; t < 150 && after < 10; t++) {
            usleep(100000);
            if (atomic_load(&received) > 0)
                after++;
        }
        ok = atomic_load(&received) > 0;
    } else {
        /* Done when order-1 was consumed and order-2's three failures were all handed back (the
         * third to the DLQ): 2 + 3 send-backs. At most a minute. */
        for (int t = 0; t < 600; t++) {
            if (atomic_load(&order1_done) && atomic_load(&order2_seen) >= 3 &&
                rk_retry_client_sent_back(retry) + rk_retry_client_fallbacks(retry) >= 5)
                break;
            usleep(100000);
        }
        ok = atomic_load(&order1_done) && atomic_load(&order2_seen) >= 3;
        printf("handed back to the broker: %ld (CONSUMER_SEND_MSG_BACK), %ld (fallback sends)\n",
               rk_retry_client_sent_back(retry), rk_retry_client_fallbacks(retry));
    }
    rk_push_consumer_free(c);               /* first the consumer, then its retry hooks */
    rk_retry_client_free(retry);
    return ok ? 0 : 1;
}
