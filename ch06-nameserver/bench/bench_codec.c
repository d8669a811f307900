/* bench_codec.c — the remoting codec's work for one unbatched send, in a loop.
 *
 * Per send, a producer builds a SEND_MESSAGE_V2 request (14 header fields, a
 * 100-byte body), encodes it, and decodes the broker's response; the broker
 * decodes the request, reads its fields, builds the response (5 fields),
 * encodes it, and frees both. This program does exactly that N times over in
 * one thread, once with ROCKETMQ (binary) headers, what the C SDK sends, and
 * once with JSON headers, what RocketMQ's Java client sends by default, and
 * prints ns per send. For a figure that does not depend on the machine's
 * load, count instructions instead:
 *   valgrind --tool=callgrind build/ch06/bin/bench_codec 20000 rocketmq   (or json)
 * and divide the total by 20000. Prints figures only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/remoting_cmd.h"

static const char *const v2_keys[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "m", "n"};
static const char *const v2_vals[] = {
    "benchmark_producer", "BenchTopic", "TBW102", "4", "3", "0", "1764670000123", "0",
    "TAGS\001bench\002WAIT\001true\002UNIQ_KEY\0017F0000012A3B18B4AAC2469D0C8A0000\002", "0", "false", "false",
    "broker-a"};

static int one_send(int ser, int32_t opaque, rk_buf_t *wire, uint8_t *body)
{
    /* producer: build and encode the request */
    rk_cmd_t *req = rk_cmd_new(310);
    if (req == NULL)
        return RK_ENOMEM;
    req->ser_type = ser;
    req->opaque = opaque;
    int rc = RK_OK;
    for (size_t i = 0; rc == RK_OK && i < sizeof v2_keys / sizeof v2_keys[0]; i++)
        rc = rk_cmd_ext_set(req, v2_keys[i], v2_vals[i]);
    if (rc == RK_OK)
        rc = rk_cmd_set_body(req, body, 100);
    wire->len = 0;
    if (rc == RK_OK)
        rc = rk_cmd_encode(req, wire);
    rk_cmd_free(req);
    /* broker: decode, read the fields, answer */
    rk_cmd_t *in = NULL;
    if (rc == RK_OK)
        rc = rk_cmd_decode(wire->data + 4, wire->len - 4, &in);
    if (rc != RK_OK)
        return rc;
    int64_t qid = 0;
    const char *topic = rk_cmd_ext_get(in, "b");
    rk_cmd_ext_i64(in, "e", &qid);
    rk_cmd_t *resp = rk_cmd_new_response(in, 0, NULL);
    if (resp == NULL || topic == NULL) {
        rk_cmd_free(in);
        rk_cmd_free(resp);
        return RK_ENOMEM;
    }
    rk_cmd_ext_set(resp, "msgId", "7F00000100002A9F0000000000000064");
    rk_cmd_ext_set_i64(resp, "queueId", qid);
    rk_cmd_ext_set_i64(resp, "queueOffset", 9876543210LL + opaque);
    rk_cmd_ext_set(resp, "MSG_REGION", "DefaultRegion");
    rk_cmd_ext_set(resp, "TRACE_ON", "true");
    wire->len = 0;
    rc = rk_cmd_encode(resp, wire);
    rk_cmd_free(resp);
    rk_cmd_free(in);
    /* producer: decode the response */
    rk_cmd_t *back = NULL;
    if (rc == RK_OK)
        rc = rk_cmd_decode(wire->data + 4, wire->len - 4, &back);
    rk_cmd_free(back);
    return rc;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200000;
    if (n <= 0)
        n = 200000;
    uint8_t body[100];
    memset(body, 'x', sizeof body);
    rk_buf_t wire = {0};
    printf("remoting codec, one unbatched send (request 13 fields + 100 B body, response 5 fields), %d sends\n", n);
    const char *only = argc > 2 ? argv[2] : "";
    for (int ser = RK_SER_ROCKETMQ; ser >= RK_SER_JSON; ser--) {
        if ((strcmp(only, "json") == 0 && ser != RK_SER_JSON) || (strcmp(only, "rocketmq") == 0 && ser == RK_SER_JSON))
            continue;
        uint64_t t0 = rk_mono_ns();
        for (int i = 0; i < n; i++)
            if (one_send(ser, i, &wire, body) != RK_OK) {
                fprintf(stderr, "bench_codec: a send failed\n");
                return 1;
            }
        double ns = (double)(rk_mono_ns() - t0) / n;
        printf("  %-8s %8.0f ns per send\n", ser == RK_SER_JSON ? "JSON" : "ROCKETMQ", ns);
    }
    rk_buf_free(&wire);
    return 0;
}
