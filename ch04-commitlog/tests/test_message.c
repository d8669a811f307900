/* test_message.c — the stored record, byte for byte, and its companions. */
#include <criterion/criterion.h>
#include <string.h>

#include "rk/error.h"
#include "rk/message.h"

static rk_msg_t sample(void)
{
    rk_msg_t m = {0};
    m.topic = "T1";
    m.topic_len = 2;
    m.queue_id = 3;
    m.flag = 7;
    m.born_ts = 1700000000000LL;
    rk_host_parse("10.0.0.5:40000", &m.born_host);
    rk_host_parse("10.0.0.1:10911", &m.store_host);
    m.reconsume_times = 1;
    m.body = (const uint8_t *)"hello";
    m.body_len = 5;
    m.props = "TAGS\001a";
    m.props_len = 6;
    return m;
}

/* Computed by hand from the layout in rk/message.h. crc32("hello") = 0x3610A686;
 * 1700000000000 = 0x18BCFE56800. */
static const uint8_t expected[104] = {
    0x00, 0x00, 0x00, 0x68,                         /* TOTALSIZE 104 = 91 + 5 + 2 + 6 */
    0xDA, 0xA3, 0x20, 0xA7,                         /* MAGIC V1 */
    0x36, 0x10, 0xA6, 0x86,                         /* BODYCRC */
    0x00, 0x00, 0x00, 0x03,                         /* QUEUEID */
    0x00, 0x00, 0x00, 0x07,                         /* FLAG */
    0, 0, 0, 0, 0, 0, 0, 5,                         /* QUEUEOFFSET */
    0, 0, 0, 0, 0, 0, 0x10, 0x00,                   /* PHYSICALOFFSET 4096 */
    0, 0, 0, 0,                                     /* SYSFLAG */
    0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x00, /* BORNTIMESTAMP */
    10, 0, 0, 5, 0x00, 0x00, 0x9C, 0x40,            /* BORNHOST 10.0.0.5:40000 */
    0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x7B, /* STORETIMESTAMP (+123 ms) */
    10, 0, 0, 1, 0x00, 0x00, 0x2A, 0x9F,            /* STOREHOST 10.0.0.1:10911 */
    0, 0, 0, 1,                                     /* RECONSUMETIMES */
    0, 0, 0, 0, 0, 0, 0, 0,                         /* PREPARED TX OFFSET */
    0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o',            /* BODY */
    2, 'T', '1',                                    /* TOPIC */
    0, 6, 'T', 'A', 'G', 'S', 1, 'a',               /* PROPERTIES */
};

Test(record, encodes_byte_exact_v1_layout)
{
    rk_msg_t m = sample();
    cr_assert_eq(rk_record_size(&m), 104);
    uint8_t buf[128];
    cr_assert_eq(rk_record_encode(&m, buf, sizeof buf, 5, 4096, 1700000000123LL), 104);
    for (size_t i = 0; i < sizeof expected; i++)
        cr_assert_eq(buf[i], expected[i], "byte %zu: got 0x%02x, want 0x%02x", i, buf[i], expected[i]);
}

Test(record, decodes_what_it_encodes)
{
    rk_record_t r;
    cr_assert_eq(rk_record_decode(expected, sizeof expected, true, &r), RK_OK);
    cr_assert_eq(r.total_size, 104);
    cr_assert_eq(r.queue_id, 3);
    cr_assert_eq(r.queue_offset, 5);
    cr_assert_eq(r.phys_offset, 4096);
    cr_assert_eq(r.store_ts, 1700000000123LL);
    cr_assert_eq(r.born_host.port, 40000);
    cr_assert_eq(r.store_host.port, 10911);
    cr_assert_eq(r.body_len, 5);
    cr_assert_eq(memcmp(r.body, "hello", 5), 0);
    cr_assert_eq(r.topic_len, 2);
    cr_assert_eq(memcmp(r.topic, "T1", 2), 0);
    cr_assert_eq(rk_record_peek_store_ts(expected, sizeof expected), 1700000000123LL);
}

Test(record, ipv6_hosts_widen_the_record_and_set_sysflags)
{
    rk_msg_t m = sample();
    cr_assert_eq(rk_host_parse("[::1]:10911", &m.store_host), 0);
    cr_assert_eq(rk_record_size(&m), 104 + 12);
    uint8_t buf[128];
    cr_assert_eq(rk_record_encode(&m, buf, sizeof buf, 0, 0, 1), 116);
    rk_record_t r;
    cr_assert_eq(rk_record_decode(buf, 116, true, &r), RK_OK);
    cr_assert(r.sys_flag & RK_SYSFLAG_STOREHOST_V6);
    cr_assert(!(r.sys_flag & RK_SYSFLAG_BORNHOST_V6));
    cr_assert_eq(r.store_host.ip_len, 16);
    cr_assert_eq(r.store_host.ip[15], 1);
    cr_assert_eq(r.store_ts, 1);
}

Test(record, torn_corrupt_blank_and_empty_are_told_apart)
{
    uint8_t buf[128];
    memcpy(buf, expected, sizeof expected);
    rk_record_t r;
    cr_assert_eq(rk_record_decode(buf, 60, true, &r), RK_ECORRUPT);          /* torn */
    buf[100] ^= 0x40;                                                        /* in PROPERTIES: no CRC */
    cr_assert_eq(rk_record_decode(buf, 104, true, &r), RK_OK);
    buf[100] ^= 0x40;
    buf[92] ^= 0x01;                                                         /* in BODY */
    cr_assert_eq(rk_record_decode(buf, 104, true, &r), RK_ECORRUPT);
    cr_assert_eq(rk_record_decode(buf, 104, false, &r), RK_OK);
    buf[92] ^= 0x01;
    buf[3] = 0x67;                                                           /* size disagrees */
    cr_assert_eq(rk_record_decode(buf, 104, true, &r), RK_ECORRUPT);
    memset(buf, 0, sizeof buf);
    cr_assert_eq(rk_record_decode(buf, 104, true, &r), RK_EEOF);             /* never written */
    rk_record_encode_blank(buf, 77);
    cr_assert_eq(rk_record_decode(buf, 104, true, &r), RK_OK);
    cr_assert(rk_record_is_blank(&r));
    cr_assert_eq(r.total_size, 77);
}

Test(record, rejects_oversized_topic_and_properties)
{
    rk_msg_t m = sample();
    char topic[200];
    memset(topic, 'a', sizeof topic);
    m.topic = topic;
    m.topic_len = 128;
    uint8_t buf[512];
    cr_assert_eq(rk_record_encode(&m, buf, sizeof buf, 0, 0, 0), RK_ETOOBIG);
    m = sample();
    m.props_len = 40000;
    cr_assert_eq(rk_msg_validate(&m), RK_ETOOBIG);
    m = sample();
    cr_assert_eq(rk_record_encode(&m, buf, 50, 0, 0, 0), RK_EFULL);
}

Test(properties, round_trip_and_tolerate_trailing_separator)
{
    rk_buf_t b = {0};
    rk_props_put(&b, RK_PROP_KEYS, "k1 k2");
    rk_props_put(&b, RK_PROP_TAGS, "TagA");
    rk_props_put(&b, RK_PROP_UNIQ_KEY, "ABC");
    cr_assert_eq(b.len, strlen("KEYS\001k1 k2\002TAGS\001TagA\002UNIQ_KEY\001ABC"));
    cr_assert_eq(memcmp(b.data, "KEYS\001k1 k2\002TAGS\001TagA\002UNIQ_KEY\001ABC", b.len), 0);
    char v[32];
    cr_assert_eq(rk_props_get_str((char *)b.data, b.len, "TAGS", v, sizeof v), 0);
    cr_assert_str_eq(v, "TagA");
    cr_assert_eq(rk_props_get_str((char *)b.data, b.len, "NOPE", v, sizeof v), RK_ENOTFOUND);
    rk_buf_t c = {0};
    cr_assert_eq(rk_props_copy_without(&c, (char *)b.data, b.len, "TAGS"), 0);
    cr_assert_eq(c.len, strlen("KEYS\001k1 k2\002UNIQ_KEY\001ABC"));
    cr_assert_eq(memcmp(c.data, "KEYS\001k1 k2\002UNIQ_KEY\001ABC", c.len), 0);
    rk_buf_t d = {0};
    const char *const two[] = {"KEYS", "UNIQ_KEY", NULL};
    cr_assert_eq(rk_props_copy_without_any(&d, (char *)b.data, b.len, two), 0);
    cr_assert_eq(d.len, strlen("TAGS\001TagA"));
    cr_assert_eq(memcmp(d.data, "TAGS\001TagA", d.len), 0);
    rk_buf_free(&d);
    /* Go clients end with \002; junk entries without \001 are skipped. */
    const char *go = "TAGS\001x\002junk\002WAIT\001true\002";
    cr_assert_eq(rk_props_get_str(go, strlen(go), "WAIT", v, sizeof v), 0);
    cr_assert_str_eq(v, "true");
    rk_buf_free(&b);
    rk_buf_free(&c);
}

/* rk_props_get finds what a walk of rk_props_next would find, on the odd
 * shapes too: empty names and values, junk entries, a name that is a prefix
 * of another, a value holding \001, a trailing \002, a key holding a separator. */
static const char *props_get_by_walk(const char *props, size_t len, const char *key, size_t *vlen)
{
    rk_prop_iter_t it = rk_props_iter(props, len);
    const char *k, *v;
    size_t kl, vl;
    while (rk_props_next(&it, &k, &kl, &v, &vl))
        if (kl == strlen(key) && memcmp(k, key, kl) == 0) {
            *vlen = vl;
            return v;
        }
    return NULL;
}

Test(properties, get_agrees_with_a_walk_of_the_entries)
{
    static const char *const props[] = {
        "", "\002", "A\001", "\001x", "AB\001x\002A\001y", "A\001x\001y\002B\001z", "junk\002A\001v\002",
        "KEYS\001k1 k2\002TAGS\001TagA\002UNIQ_KEY\001ABC", "TAGSX\001no\002TAGS\001yes", "TAG\002TAGS\001v",
        "\002\002TAGS\001\002", "DELAY\0013\002TRAN_MSG\001true\002",
    };
    static const char *const keys[] = {"", "A", "AB", "B", "TAGS", "TAG", "KEYS", "UNIQ_KEY", "DELAY",
                                       "TRAN_MSG", "A\001x", "A\002", "x", "NOPE"};
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        for (size_t j = 0; j < sizeof keys / sizeof keys[0]; j++) {
            size_t len = strlen(props[i]), want_len = 0, got_len = 0;
            const char *want = props_get_by_walk(props[i], len, keys[j], &want_len);
            const char *got = rk_props_get(props[i], len, keys[j], &got_len);
            cr_assert_eq(got, want, "props %zu, key \"%s\"", i, keys[j]);
            if (want != NULL)
                cr_assert_eq(got_len, want_len, "props %zu, key \"%s\"", i, keys[j]);
        }
    cr_assert_null(rk_props_get(NULL, 0, "A", NULL));
}

Test(host, formats_as_inet_ntop_and_snprintf_would)
{
    static const char *const cases[] = {"0.0.0.0:0", "255.255.255.255:65535", "10.0.0.1:10911", "127.0.0.1:9",
                                         "1.22.103.7:100", "[::1]:10911", "[fe80::1:2]:65535"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rk_host_t h;
        char out[64];
        cr_assert_eq(rk_host_parse(cases[i], &h), 0, "%s", cases[i]);
        cr_assert_str_eq(rk_host_format(&h, out, sizeof out), cases[i]);
    }
    /* a buffer too small for any address is cut as snprintf cuts */
    rk_host_t h;
    char small[8];
    cr_assert_eq(rk_host_parse("192.168.100.200:10911", &h), 0);
    cr_assert_str_eq(rk_host_format(&h, small, sizeof small), "192.168");
}

Test(msgid, round_trips_and_matches_the_reference_example)
{
    rk_host_t h;
    int64_t off;
    /* From the reference: a Java broker's send response. */
    cr_assert_eq(rk_msgid_decode("C0A8000100002A9F0000000000000F3C", &h, &off), 0);
    char addr[64];
    cr_assert_str_eq(rk_host_format(&h, addr, sizeof addr), "192.168.0.1:10911");
    cr_assert_eq(off, 0xF3C);
    char id[RK_MSGID_MAX];
    cr_assert_eq(rk_msgid_encode(&h, off, id, sizeof id), 0);
    cr_assert_str_eq(id, "C0A8000100002A9F0000000000000F3C");
    cr_assert_eq(rk_host_parse("[fe80::1]:9", &h), 0);
    cr_assert_eq(rk_msgid_encode(&h, 1LL << 40, id, sizeof id), 0);
    cr_assert_eq(strlen(id), 56);
    rk_host_t h2;
    cr_assert_eq(rk_msgid_decode(id, &h2, &off), 0);
    cr_assert_eq(memcmp(&h, &h2, sizeof h), 0);
    cr_assert_eq(off, 1LL << 40);
    cr_assert_eq(rk_msgid_decode("XYZ", &h2, &off), RK_EINVAL);
}
