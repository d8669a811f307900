/* hello.c — the smallest rocklet program: send three messages, then read
 * them back with a push consumer. Built against the installed SDK:
 *
 *   make install PREFIX=$HOME/.local
 *   cc -std=c11 hello.c $(PKG_CONFIG_PATH=$HOME/.local/lib/pkgconfig pkg-config --cflags --libs rocklet)
 *   ./a.out 127.0.0.1:9876
 *   ./a.out --version        the SDK library it runs with
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rk/rocklet.h>

static atomic_int received;

static rk_consume_result_t on_message(void *arg, const rk_msg_ext_t *msgs, size_t n)
{
    (void)arg;
    for (size_t i = 0; i < n; i++)
        printf("received %s queue %d offset %lld: %.*s\n", msgs[i].msg_id, msgs[i].queue_id,
               (long long)msgs[i].queue_offset, (int)msgs[i].body_len, (const char *)msgs[i].body);
    atomic_fetch_add(&received, (int)n);
    return RK_CONSUME_SUCCESS;          /* RK_CONSUME_LATER: deliver again later */
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("rocklet SDK %s (compiled against %s)\n", rk_sdk_version(), RK_SDK_VERSION);
        return 0;
    }
    const char *ns = argc > 1 ? argv[1] : "127.0.0.1:9876";
    rk_producer_config_t pcfg = {.namesrv = ns, .group = "hello_producer"};
    rk_producer_t *p;
    int rc = rk_producer_new(&pcfg, &p);
    if (rc != RK_OK) {
        fprintf(stderr, "producer: %s\n", rk_strerror(rc));
        return 1;
    }
    for (int i = 0; i < 3; i++) {
        char body[32];
        snprintf(body, sizeof body, "hello %d", i);
        rk_message_t m = {.topic = "Hello", .tags = "greeting", .keys = body, .body = body, .body_len = strlen(body)};
        rk_send_result_t r;
        if (rk_producer_send(p, &m, &r) != RK_OK) {
            fprintf(stderr, "send: %s\n", r.error);
            rk_producer_free(p);
            return 1;
        }
        printf("sent %s to %s queue %d\n", r.msg_id, r.mq.broker, r.mq.queue_id);
    }
    rk_producer_free(p);

    rk_push_consumer_config_t ccfg = {.namesrv = ns, .group = "hello_consumer", .from = RK_CONSUME_FROM_FIRST};
    rk_push_consumer_t *c;
    if ((rc = rk_push_consumer_new(&ccfg, on_message, NULL, &c)) != RK_OK ||
        (rc = rk_push_consumer_subscribe(c, "Hello", "greeting")) != RK_OK ||
        (rc = rk_push_consumer_start(c)) != RK_OK) {
        fprintf(stderr, "consumer: %s\n", rk_strerror(rc));
        return 1;
    }
    for (int t = 0; t < 100 && atomic_load(&received) < 3; t++)
        usleep(100000);
    rk_push_consumer_free(c);           /* commits the offsets: a second run reads only new messages */
    return atomic_load(&received) >= 3 ? 0 : 1;
}
