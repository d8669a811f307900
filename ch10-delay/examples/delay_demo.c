/* delay_demo.c — watch delayed messages arrive (chapter 10's README, "Try it").
 *
 *   build/ch10/bin/delay_demo [NAMESRV] [levels|timer|all]
 *
 * Sends to topic DelayDemo, with chapter 10's SDK (rk/delay_client.h):
 *   levels  three messages at delay levels 3, 2 and 1, in that order (10 s, 5 s and 1 s with
 *           RocketMQ's default messageDelayLevel): they arrive in the opposite order;
 *   timer   two messages with a delivery time, 4 s from now (TIMER_DELIVER_MS) and 2 s after the
 *           broker takes it (TIMER_DELAY_MS): they need chapter 10's broker (or RocketMQ 5);
 *   all     both (the default).
 * Then consumes DelayDemo with a push consumer of group delay_demo_cg from the first offset and
 * prints every message with the seconds since the producer sent it (the born timestamp, which
 * the broker keeps on the restored message), until all came or 40 s passed. A refused delay
 * (level 0, a time in the past) is shown first: the SDK says why and sends nothing. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rk/delay_client.h>
#include <rk/rocklet.h>

#define TOPIC "DelayDemo"
#define GROUP "delay_demo_cg"

static atomic_int received;
static char run_id[32];

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static rk_consume_result_t on_message(void *arg, const rk_msg_ext_t *msgs, size_t n)
{
    (void)arg;
    for (size_t i = 0; i < n; i++) {
        const rk_msg_ext_t *m = &msgs[i];
        size_t skip = strlen(run_id) + 1;   /* the body is "<run id> <what>", not NUL-terminated */
        if (m->body_len <= skip || memcmp(m->body, run_id, skip - 1) != 0)
            continue;                       /* an earlier run's */
        printf("%6.2f s after sending: %-10.*s tags [%s] keys [%s] topic %s queue %d\n",
               (double)(wall_ms() - m->born_ts) / 1000.0, (int)(m->body_len - skip), (const char *)m->body + skip,
               m->tags, m->keys, m->topic, m->queue_id);
        atomic_fetch_add(&received, 1);
    }
    return RK_CONSUME_SUCCESS;
}

static int send_one(rk_producer_t *p, const char *what, const rk_delay_t *d)
{
    char body[96];
    snprintf(body, sizeof body, "%s %s", run_id, what);
    rk_message_t m = {.topic = TOPIC, .tags = "demo", .keys = what, .body = body, .body_len = strlen(body)};
    rk_send_result_t r;
    int rc = rk_producer_send_delayed(p, &m, d, &r);
    if (rc != RK_OK)
        printf("not sent %-10s %s\n", what, r.error);
    else
        printf("sent     %-10s msgId %s\n", what, r.msg_id);
    return rc;
}

int main(int argc, char **argv)
{
    const char *ns = argc > 1 ? argv[1] : "127.0.0.1:9876";
    const char *mode = argc > 2 ? argv[2] : "all";
    bool levels = strcmp(mode, "levels") == 0 || strcmp(mode, "all") == 0;
    bool timer = strcmp(mode, "timer") == 0 || strcmp(mode, "all") == 0;
    if (!levels && !timer) {
        fprintf(stderr, "usage: %s [NAMESRV] [levels|timer|all]\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    snprintf(run_id, sizeof run_id, "run-%lld", wall_ms());

    rk_producer_config_t pcfg = {.namesrv = ns, .group = "delay_demo_producer"};
    rk_producer_t *p;
    int rc = rk_producer_new(&pcfg, &p);
    if (rc != RK_OK) {
        fprintf(stderr, "producer: %s\n", rk_strerror(rc));
        return 1;
    }
    /* what the SDK refuses before sending */
    send_one(p, "level-0", &(rk_delay_t){.kind = RK_DELAY_LEVEL, .value = 0});
    send_one(p, "yesterday", &(rk_delay_t){.kind = RK_DELAY_AT, .value = wall_ms() - 86400000});

    int expected = 0, failed = 0;
    if (levels)
        for (int level = 3; level >= 1; level--) {
            char what[24];
            snprintf(what, sizeof what, "level-%d", level);
            failed |= send_one(p, what, &(rk_delay_t){.kind = RK_DELAY_LEVEL, .value = level}) != RK_OK;
            expected++;
        }
    if (timer) {
        failed |= send_one(p, "at+4s", &(rk_delay_t){.kind = RK_DELAY_AT, .value = wall_ms() + 4000}) != RK_OK;
        failed |= send_one(p, "after-2s", &(rk_delay_t){.kind = RK_DELAY_AFTER, .value = 2000}) != RK_OK;
        expected += 2;
    }
    rk_producer_free(p);
    if (failed)
        return 1;

    rk_push_consumer_config_t ccfg = {.namesrv = ns, .group = GROUP, .from = RK_CONSUME_FROM_FIRST,
                                      .rebalance_ms = 1000};
    rk_push_consumer_t *c = NULL;
    if ((rc = rk_push_consumer_new(&ccfg, on_message, NULL, &c)) != RK_OK ||
        (rc = rk_push_consumer_subscribe(c, TOPIC, "*")) != RK_OK || (rc = rk_push_consumer_start(c)) != RK_OK) {
        fprintf(stderr, "consumer: %s\n", rk_strerror(rc));
        rk_push_consumer_free(c);
        return 1;
    }
    for (int t = 0; t < 400 && atomic_load(&received) < expected; t++)
        usleep(100000);
    rk_push_consumer_free(c);
    int got = atomic_load(&received);
    printf("%d of %d delayed messages arrived\n", got, expected);
    return got >= expected ? 0 : 1;
}
