/* test_sdk_units.c — the SDK's pure parts: queue allocation, tag
 * expressions, routes, fastjson MessageQueue maps, received-message decoding. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/client_message.h"
#include "rk/consumer.h"
#include "rk/error.h"
#include "rk/json.h"
#include "rk/message.h"
#include "rk/mqclient.h"
#include "rk/topic_route.h"

static size_t alloc(size_t nq, const char *const *cids, size_t nc, const char *me, size_t *out)
{
    return rk_allocate_avg(nq, cids, nc, me, out);
}

Test(allocate, average_gives_contiguous_blocks_first_members_one_more)
{
    const char *cids[] = {"a", "b", "c"};
    size_t out[16], n;
    n = alloc(8, cids, 3, "a", out);
    cr_assert_eq(n, 3);
    cr_assert(out[0] == 0 && out[1] == 1 && out[2] == 2);
    n = alloc(8, cids, 3, "b", out);
    cr_assert(n == 3 && out[0] == 3 && out[2] == 5);
    n = alloc(8, cids, 3, "c", out);
    cr_assert(n == 2 && out[0] == 6 && out[1] == 7);
    /* more members than queues: the last ones get nothing */
    n = alloc(2, cids, 3, "c", out);
    cr_assert_eq(n, 0);
    n = alloc(2, cids, 3, "b", out);
    cr_assert(n == 1 && out[0] == 1);
    /* not a member, or no queue */
    cr_assert_eq(alloc(8, cids, 3, "z", out), 0);
    cr_assert_eq(alloc(0, cids, 3, "a", out), 0);
    /* every queue owned exactly once, for many shapes */
    const char *many[] = {"m0", "m1", "m2", "m3", "m4", "m5", "m6"};
    for (size_t nq = 1; nq <= 16; nq++)
        for (size_t nc = 1; nc <= 7; nc++) {
            int owners[16] = {0};
            for (size_t m = 0; m < nc; m++) {
                size_t k = alloc(nq, many, nc, many[m], out);
                for (size_t i = 0; i < k; i++)
                    owners[out[i]]++;
            }
            for (size_t q = 0; q < nq; q++)
                cr_assert_eq(owners[q], 1, "queue %zu of %zu with %zu members", q, nq, nc);
        }
}

Test(tags, star_empty_and_or_expressions)
{
    cr_assert(rk_tag_matches("*", "x"));
    cr_assert(rk_tag_matches("", "x"));
    cr_assert(rk_tag_matches(NULL, ""));
    cr_assert(rk_tag_matches("a || b", "b"));
    cr_assert(rk_tag_matches("a||b", "a"));
    cr_assert(!rk_tag_matches("a || b", "c"));
    cr_assert(!rk_tag_matches("a || b", ""));
    cr_assert(!rk_tag_matches("ab", "a"), "whole tags only");
}

Test(route, standard_and_legacy_json_sorted_queues_masters_only_for_writes)
{
    /* fastjson's legacy form: a bare integer key */
    const char *json =
        "{\"brokerDatas\":[{\"brokerAddrs\":{1:\"10.0.0.2:10911\"},\"brokerName\":\"b\",\"cluster\":\"C\"},"
        "{\"brokerAddrs\":{0:\"10.0.0.1:10911\",1:\"10.0.0.3:10911\"},\"brokerName\":\"a\",\"cluster\":\"C\"}],"
        "\"queueDatas\":[{\"brokerName\":\"b\",\"perm\":6,\"readQueueNums\":2,\"writeQueueNums\":2,\"topicSysFlag\":0},"
        "{\"brokerName\":\"a\",\"perm\":6,\"readQueueNums\":3,\"writeQueueNums\":2,\"topicSysFlag\":0}]}";
    rk_topic_route_t *r;
    cr_assert_eq(rk_topic_route_parse(json, strlen(json), &r), 0);
    const rk_route_broker_t *a = rk_topic_route_broker(r, "a"), *b = rk_topic_route_broker(r, "b");
    cr_assert(a && b);
    cr_assert_str_eq(a->master, "10.0.0.1:10911");
    cr_assert_str_eq(b->master, "", "broker b has no master (only id 1)");
    cr_assert_str_eq(b->any, "10.0.0.2:10911");
    rk_mq_t *qs;
    size_t n;
    cr_assert_eq(rk_topic_route_write_queues(r, "T", 0, &qs, &n), 0);
    cr_assert_eq(n, 2, "writes go to masters only");
    cr_assert(strcmp(qs[0].broker, "a") == 0 && qs[0].queue_id == 0 && qs[1].queue_id == 1);
    free(qs);
    cr_assert_eq(rk_topic_route_read_queues(r, "T", &qs, &n), 0);
    cr_assert_eq(n, 5, "reads from every broker with READ");
    cr_assert(strcmp(qs[0].broker, "a") == 0 && strcmp(qs[3].broker, "b") == 0, "sorted by broker");
    free(qs);
    cr_assert_eq(rk_topic_route_write_queues(r, "T", 1, &qs, &n), 0);
    cr_assert_eq(n, 1, "max_per_broker (a new topic borrowing TBW102's route)");
    free(qs);
    rk_topic_route_release(r);
    cr_assert_eq(rk_topic_route_parse("{\"x\":1}", 7, &r), RK_EPROTO);
    cr_assert_eq(rk_topic_route_parse("not json", 8, &r), RK_EPROTO);
}

Test(mq_map, reads_fastjson_maps_keyed_by_message_queue)
{
    const char *text = "{\"consumeTps\":0.0,\"offsetTable\":{"
                       "{\"brokerName\":\"b1\",\"queueId\":0,\"topic\":\"T\"}:{\"brokerOffset\":10,\"consumerOffset\":4},"
                       "{\"brokerName\":\"b1\",\"queueId\":1,\"topic\":\"T\"}:{\"brokerOffset\":7,\"consumerOffset\":7}}}";
    rk_mq_map_entry_t *e;
    size_t n;
    cr_assert_eq(rk_mq_map_parse(text, strlen(text), "offsetTable", &e, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(e[0].mq.topic, "T");
    cr_assert_str_eq(e[1].mq.broker, "b1");
    cr_assert_eq(e[1].mq.queue_id, 1);
    int64_t v = 0;
    cr_assert_eq(rk_json_get_i64(e[0].value, "consumerOffset", &v), 0);
    cr_assert_eq(v, 4);
    rk_mq_map_free(e, n);
    cr_assert_eq(rk_mq_map_parse("{\"offsetTable\":{}}", 18, "offsetTable", &e, &n), 0);
    cr_assert_eq(n, 0);
    rk_mq_map_free(e, n);
    cr_assert_eq(rk_mq_map_parse("{\"other\":1}", 11, "offsetTable", &e, &n), RK_ENOTFOUND);
    cr_assert_eq(rk_mq_map_parse("{\"offsetTable\":{{\"a\":1}:", 24, "offsetTable", &e, &n), RK_EPROTO);
}

static size_t encode(uint8_t *buf, size_t cap, const char *body, size_t body_len, int32_t sys_flag,
                     const char *props, int64_t qoff)
{
    rk_msg_t m = {.topic = "T", .topic_len = 1, .queue_id = 2, .sys_flag = sys_flag, .born_ts = 1000,
                  .body = (const uint8_t *)body, .body_len = body_len, .props = props, .props_len = strlen(props)};
    rk_host_parse("127.0.0.1:1", &m.born_host);
    rk_host_parse("127.0.0.1:10911", &m.store_host);
    int64_t n = rk_record_encode(&m, buf, cap, qoff, 4096 + qoff, 2000);
    cr_assert_gt(n, 0);
    return (size_t)n;
}

Test(msg_list, decodes_records_inflates_bodies_and_rejects_bad_crcs)
{
    static uint8_t buf[65536];
    size_t at = encode(buf, sizeof buf, "plain", 5, 0, "TAGS\001t1\002KEYS\001k1 k2\002UNIQ_KEY\001ABCDEF", 0);
    char big[8192];
    memset(big, 'z', sizeof big);
    uint8_t *z;
    size_t zlen;
    cr_assert_eq(rk_body_compress((const uint8_t *)big, sizeof big, &z, &zlen), 1);
    at += encode(buf + at, sizeof buf - at, (const char *)z, zlen, RK_SYSFLAG_COMPRESSED | RK_SYSFLAG_COMPRESSION_ZLIB,
                 "", 1);
    free(z);
    uint8_t *raw = malloc(at);
    memcpy(raw, buf, at);
    rk_msg_list_t *l;
    cr_assert_eq(rk_msg_list_decode(raw, at, &l), 0);
    cr_assert_eq(l->n, 2);
    cr_assert_str_eq(l->msgs[0].tags, "t1");
    cr_assert_str_eq(l->msgs[0].keys, "k1 k2");
    cr_assert_str_eq(l->msgs[0].msg_id, "ABCDEF", "UNIQ_KEY is the id");
    cr_assert_str_eq(l->msgs[1].msg_id, l->msgs[1].offset_msg_id, "no UNIQ_KEY: the offset id");
    cr_assert_eq(l->msgs[1].body_len, sizeof big, "inflated");
    cr_assert_eq(memcmp(l->msgs[1].body, big, sizeof big), 0);
    cr_assert_eq(l->msgs[1].queue_offset, 1);
    char v[16];
    cr_assert_eq(rk_msg_prop(&l->msgs[0], "TAGS", v, sizeof v), 0);
    cr_assert_eq(rk_msg_prop(&l->msgs[0], "NOPE", v, sizeof v), RK_ENOTFOUND);
    rk_msg_list_free(l);
    /* one flipped body byte: the body CRC catches it */
    raw = malloc(at);
    memcpy(raw, buf, at);
    uint8_t *plain = memmem(raw, at, "plain", 5);
    cr_assert(plain != NULL);
    plain[2] ^= 0xFF;
    cr_assert_eq(rk_msg_list_decode(raw, at, &l), RK_ECORRUPT);
    /* truncated */
    raw = malloc(at - 3);
    memcpy(raw, buf, at - 3);
    cr_assert_eq(rk_msg_list_decode(raw, at - 3, &l), RK_ECORRUPT);
}

/* Issue 17: a pull's offset message ids are built from the store host's half
 * encoded once per host; each must still be exactly rk_msgid_encode's, for
 * every host the records name (IPv4, IPv6, one changing back and forth) and
 * any commitlog offset, and the message's other fields must not depend on
 * what the decoder's memory held before (it is malloc'ed, not calloc'ed). */
Test(msg_list, offset_ids_match_rk_msgid_encode_for_every_store_host)
{
    static uint8_t buf[65536];
    const char *hosts[] = {"127.0.0.1:10911", "127.0.0.1:10911", "10.1.2.3:30911", "[::1]:10911",
                           "[fe80::1:2]:7", "127.0.0.1:10911", "255.255.255.255:65535"};
    const int64_t phys[] = {0, 1, 0x123456789ABCLL, INT64_MAX, 15, 4096, 0x0F0F0F0F0F0F0F0FLL};
    size_t n = sizeof hosts / sizeof hosts[0], at = 0;
    for (size_t i = 0; i < n; i++) {
        rk_msg_t m = {.topic = "T", .topic_len = 1, .queue_id = 1, .born_ts = 1000,
                      .body = (const uint8_t *)"b", .body_len = 1, .props = "", .props_len = 0};
        rk_host_parse("127.0.0.1:1", &m.born_host);
        cr_assert_eq(rk_host_parse(hosts[i], &m.store_host), 0, "%s", hosts[i]);
        int64_t w = rk_record_encode(&m, buf + at, sizeof buf - at, (int64_t)i, phys[i], 2000);
        cr_assert_gt(w, 0);
        at += (size_t)w;
    }
    for (int round = 0; round < 2; round++) {   /* the second decode reuses freed memory */
        uint8_t *raw = malloc(at);
        memcpy(raw, buf, at);
        rk_msg_list_t *l;
        cr_assert_eq(rk_msg_list_decode(raw, at, &l), 0);
        cr_assert_eq(l->n, n);
        for (size_t i = 0; i < n; i++) {
            rk_host_t h;
            rk_host_parse(hosts[i], &h);
            char want[RK_MSGID_MAX];
            cr_assert_eq(rk_msgid_encode(&h, phys[i], want, sizeof want), 0);
            cr_assert_str_eq(l->msgs[i].offset_msg_id, want, "record %zu (%s)", i, hosts[i]);
            cr_assert_str_eq(l->msgs[i].msg_id, want);
            cr_assert_str_eq(l->msgs[i].broker, "");
            cr_assert_eq(l->msgs[i].commitlog_offset, phys[i]);
            cr_assert_eq(l->msgs[i].prepared_tx_offset, 0);
        }
        memset(l->msgs, 0xA5, n * sizeof *l->msgs);     /* dirty the memory the next decode may get */
        rk_msg_list_free(l);
    }
}

/* Issue 17: a push consumer decodes each pull into the blocks of a list it is
 * done with (rk_msg_list_decode_reusing). Whatever the spare held — more
 * messages, fewer, inflated bodies, damaged records — the result is the one
 * a fresh decode gives, field for field. */
static void same_lists(const rk_msg_list_t *a, const rk_msg_list_t *b)
{
    cr_assert_eq(a->n, b->n);
    cr_assert_eq(a->nbad, b->nbad);
    cr_assert_eq(a->cut, b->cut);
    cr_assert_eq(a->last_offset, b->last_offset);
    for (size_t i = 0; i < a->n; i++) {
        const rk_msg_ext_t *x = &a->msgs[i], *y = &b->msgs[i];
        cr_assert_str_eq(x->topic, y->topic);
        cr_assert_str_eq(x->tags, y->tags);
        cr_assert_str_eq(x->keys, y->keys);
        cr_assert_eq(x->body_len, y->body_len);
        cr_assert_eq(memcmp(x->body, y->body, x->body_len), 0, "message %zu: body", i);
        cr_assert_eq(x->props_len, y->props_len);
        cr_assert_eq(memcmp(x->props, y->props, x->props_len), 0);
        cr_assert_eq(x->queue_offset, y->queue_offset);
        cr_assert_eq(x->commitlog_offset, y->commitlog_offset);
        cr_assert_eq(x->sys_flag, y->sys_flag);
        cr_assert_str_eq(x->msg_id, y->msg_id);
        cr_assert_str_eq(x->offset_msg_id, y->offset_msg_id);
        cr_assert_str_eq(x->born_host, y->born_host);
        cr_assert_str_eq(x->store_host, y->store_host);
    }
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    cr_assert_not_null(d);
    memcpy(d, p, n);
    return d;
}

Test(msg_list, a_decode_into_a_spare_list_equals_a_fresh_one)
{
    static uint8_t big[1 << 20], small[4096], odd[65536];
    size_t nbig = 0, nsmall = 0, nodd = 0;
    char body[1500], props[256];
    for (int i = 0; i < 300; i++) {     /* many messages, props of every length */
        memset(body, 'a' + i % 26, sizeof body);
        snprintf(props, sizeof props, "TAGS\001tag%d\002KEYS\001%.*s\002UNIQ_KEY\001ID%d", i, i % 120,
                 "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
                 i);
        nbig += encode(big + nbig, sizeof big - nbig, body, (size_t)(i * 5) % sizeof body, 0, props, i);
    }
    nsmall = encode(small, sizeof small, "x", 1, 0, "TAGS\001only", 7);
    char zbody[8192];                   /* an inflated body, then a damaged record */
    memset(zbody, 'q', sizeof zbody);
    uint8_t *z;
    size_t zlen;
    cr_assert_eq(rk_body_compress((const uint8_t *)zbody, sizeof zbody, &z, &zlen), 1);
    nodd = encode(odd, sizeof odd, (const char *)z, zlen, RK_SYSFLAG_COMPRESSED | RK_SYSFLAG_COMPRESSION_ZLIB, "", 3);
    free(z);
    size_t at = nodd;
    nodd += encode(odd + nodd, sizeof odd - nodd, "damaged", 7, 0, "", 4);
    uint8_t *d = memmem(odd + at, nodd - at, "damaged", 7);
    cr_assert_not_null(d);
    d[0] ^= 0xFF;
    nodd += encode(odd + nodd, sizeof odd - nodd, "after", 5, 0, "KEYS\001k", 5);

    const struct { const uint8_t *p; size_t n; } in[] = {{big, nbig}, {small, nsmall}, {odd, nodd}, {big, nbig},
                                                          {odd, nodd}, {small, nsmall}, {big, nbig}};
    rk_msg_list_t *spare = NULL;
    for (size_t k = 0; k < sizeof in / sizeof in[0]; k++) {
        rk_msg_list_t *fresh, *reused;
        cr_assert_eq(rk_msg_list_decode_skip(dup_bytes(in[k].p, in[k].n), in[k].n, true, &fresh), RK_OK);
        cr_assert_eq(rk_msg_list_decode_reusing(dup_bytes(in[k].p, in[k].n), in[k].n, true, spare, &reused), RK_OK);
        if (k > 0)
            cr_assert_eq(reused, spare, "the spare list itself is reused");
        same_lists(fresh, reused);
        rk_msg_list_free(fresh);
        spare = reused;                 /* its raw is freed by the next decode */
    }
    rk_msg_list_free(spare);
}
