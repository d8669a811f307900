/* test_base.c — the base utilities: byte order, CRC, Java hash, config, atomic files. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "rk/buf.h"
#include "rk/config.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/hash.h"
#include "rk/strmap.h"
#include "rk/testkit.h"

Test(buf, big_endian_round_trip)
{
    rk_buf_t b = {0};
    cr_assert_eq(rk_buf_put_u16(&b, 0x0102), 0);
    cr_assert_eq(rk_buf_put_u32(&b, 0xDAA320A7u), 0);
    cr_assert_eq(rk_buf_put_u64(&b, 0x0102030405060708ull), 0);
    const uint8_t want[] = {1, 2, 0xDA, 0xA3, 0x20, 0xA7, 1, 2, 3, 4, 5, 6, 7, 8};
    cr_assert_eq(b.len, sizeof want);
    cr_assert_arr_eq(b.data, want, sizeof want);
    rk_reader_t r = rk_reader(b.data, b.len);
    cr_assert_eq(rk_reader_u16(&r), 0x0102);
    cr_assert_eq(rk_reader_u32(&r), 0xDAA320A7u);
    cr_assert_eq(rk_reader_u64(&r), 0x0102030405060708ull);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(rk_reader_u8(&r), 0);           /* past the end: zero and sticky error */
    cr_assert_eq(r.err, RK_EEOF);
    rk_buf_free(&b);
}

Test(hash, crc32_matches_java)
{
    /* java.util.zip.CRC32 of "123456789" is 0xCBF43926 (the standard check value). */
    cr_assert_eq(rk_crc32("123456789", 9), 0xCBF43926u);
    cr_assert_eq(rk_body_crc("123456789", 9), 0xCBF43926u & 0x7FFFFFFFu);
}

/* rk_crc32 is libdeflate's; the records on disk and on the wire hold zlib's
 * (java.util.zip.CRC32's) value: the two must agree on every length, at
 * every alignment, for the lengths a body has (0 .. a few KiB and beyond
 * the 16/32/64-byte folding widths). */
Test(hash, crc32_equals_zlib_on_random_buffers)
{
    enum { MAX = 9000 };
    uint8_t *buf = malloc(MAX + 8);
    cr_assert(buf != NULL);
    uint32_t x = 2463534242u;           /* xorshift: the same bytes every run */
    for (size_t i = 0; i < MAX + 8; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
    for (size_t len = 0; len <= MAX; len++) {
        size_t off = len % 8;
        uint32_t want = (uint32_t)crc32(0L, buf + off, (uInt)len);
        cr_assert_eq(rk_crc32(buf + off, len), want, "length %zu at offset %zu: %08x, zlib %08x", len, off,
                     rk_crc32(buf + off, len), want);
    }
    free(buf);
}

Test(hash, java_string_hashcode)
{
    cr_assert_eq(rk_java_hash("", 0), 0);
    cr_assert_eq(rk_java_hash("TagA", 4), 2598919);             /* "TagA".hashCode() */
    cr_assert_eq(rk_java_hash("hello world", 11), 1794106052);
    /* U+00E9 (2 UTF-8 bytes, 1 unit) and U+1F600 (4 bytes, a surrogate pair) */
    cr_assert_eq(rk_java_hash("\xc3\xa9", 2), 233);
    cr_assert_eq(rk_java_hash("\xf0\x9f\x98\x80", 4), 1772899);
}

/* The per-byte definition the 4-byte ASCII steps must agree with: every
 * byte one unit, h = 31*h + unit, for strings of ASCII only. */
static int32_t ascii_hash(const char *s, size_t len)
{
    uint32_t h = 0;
    for (size_t i = 0; i < len; i++)
        h = 31 * h + (unsigned char)s[i];
    return (int32_t)h;
}

Test(hash, java_hash_fast_path_and_continue)
{
    /* ASCII of every length around the 4-byte steps */
    const char *a = "TopicTest#order-20261202-0001 7F00000100012A9F0000000000000001";
    for (size_t n = 0; n <= strlen(a); n++)
        cr_assert_eq(rk_java_hash(a, n), ascii_hash(a, n), "length %zu", n);
    /* multi-byte characters between ASCII runs: the same as hashing the units */
    cr_assert_eq(rk_java_hash("ab\xc3\xa9" "cdef", 8),
                 (int32_t)((((((97u * 31 + 98) * 31 + 233) * 31 + 99) * 31 + 100) * 31 + 101) * 31 + 102));
    cr_assert_eq(rk_java_hash("abcde\xf0\x9f\x98\x80", 9),
                 rk_java_hash_continue(rk_java_hash("abcde", 5), "\xf0\x9f\x98\x80", 4));
    /* a truncated sequence counts as U+FFFD, fast path or not */
    cr_assert_eq(rk_java_hash("abcd\xc3", 5), (int32_t)(((((97u * 31 + 98) * 31 + 99) * 31 + 100) * 31) + 0xFFFD));
    /* prefix + rest, for every split of mixed text */
    const char *m = "T\xc3\xa9st#k\xe2\x82\xac-1234567 \xf0\x9f\x98\x80 tail";
    size_t ml = strlen(m);
    for (size_t cut = 0; cut <= ml; cut++) {
        if (cut < ml && ((unsigned char)m[cut] & 0xC0) == 0x80)
            continue;                   /* only splits between whole characters */
        cr_assert_eq(rk_java_hash_continue(rk_java_hash(m, cut), m + cut, ml - cut), rk_java_hash(m, ml),
                     "cut at %zu", cut);
    }
}

Test(strmap, key_int_is_snprintf)
{
    const char *topics[] = {"", "T", "BenchTopic", "%RETRY%group_a"};
    const int nums[] = {0, 7, -1, 42, 2147483647, -2147483647 - 1};
    for (size_t t = 0; t < sizeof topics / sizeof *topics; t++)
        for (size_t i = 0; i < sizeof nums / sizeof *nums; i++)
            for (size_t len = 0; len <= 32; len++) {
                char want[40], got[40];
                memset(want, 'x', sizeof want);
                memset(got, 'x', sizeof got);
                int wl = snprintf(want, len, "%s%c%d", topics[t], '-', nums[i]);
                size_t gl = rk_strmap_key_int(got, len, topics[t], '-', nums[i]);
                cr_assert_eq(gl, (size_t)wl, "%s %d len %zu", topics[t], nums[i], len);
                cr_assert_arr_eq(got, want, sizeof got, "%s %d len %zu", topics[t], nums[i], len);
            }
}

struct cfg {
    int64_t size;
    bool flag;
    char *name;
    int mode;
};
static const char *const modes[] = {"ASYNC_FLUSH", "SYNC_FLUSH", NULL};
static const rk_config_field_t fields[] = {
    {"mappedFileSizeCommitLog", RK_CFG_INT, offsetof(struct cfg, size), "1073741824", 4096, 1LL << 40, NULL, "file size"},
    {"enableX", RK_CFG_BOOL, offsetof(struct cfg, flag), "false", 0, -1, NULL, "a flag"},
    {"storePathRootDir", RK_CFG_STR, offsetof(struct cfg, name), "/tmp/store", 0, -1, NULL, "root"},
    {"flushDiskType", RK_CFG_ENUM, offsetof(struct cfg, mode), "ASYNC_FLUSH", 0, -1, modes, "flush"},
    {0},
};

Test(config, parses_validates_and_reports_unknown_keys)
{
    rk_kv_t kv;
    rk_kv_init(&kv);
    char err[200] = "";
    cr_assert_eq(rk_kv_parse(&kv, "# comment\n mappedFileSizeCommitLog = 64k\nflushDiskType=SYNC_FLUSH\n"
                                  "enableX=true\ntypoKey=1\n", err, sizeof err), 0, "%s", err);
    struct cfg c;
    cr_assert_eq(rk_config_defaults(fields, &c), 0);
    cr_assert_str_eq(c.name, "/tmp/store");
    cr_assert_eq(rk_config_apply(fields, &c, &kv, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.size, 65536);
    cr_assert(c.flag);
    cr_assert_eq(c.mode, 1);
    cr_assert_eq(rk_kv_warn_unused(&kv, "test"), 1);
    cr_assert_eq(rk_kv_set(&kv, "mappedFileSizeCommitLog", "12"), 0);
    cr_assert_eq(rk_config_apply(fields, &c, &kv, err, sizeof err), RK_EBADCONFIG);
    cr_assert(strstr(err, "mappedFileSizeCommitLog") != NULL, "%s", err);
    cr_assert_eq(rk_kv_set(&kv, "mappedFileSizeCommitLog", "4096"), 0);
    cr_assert_eq(rk_kv_set(&kv, "flushDiskType", "SOMETIMES"), 0);
    cr_assert_eq(rk_config_apply(fields, &c, &kv, err, sizeof err), RK_EBADCONFIG);
    cr_assert(strstr(err, "SYNC_FLUSH") != NULL, "%s", err);
    rk_config_free(fields, &c);
    rk_kv_free(&kv);
    rk_kv_init(&kv);
    cr_assert_eq(rk_kv_parse(&kv, "novalue\n", err, sizeof err), RK_EBADCONFIG);
    cr_assert(strstr(err, "line 1") != NULL);
    rk_kv_free(&kv);
}

static int parse_json_ish(const char *text, size_t len, void *ctx)
{
    if (len < 2 || text[0] != '{')
        return RK_ECORRUPT;
    *(char **)ctx = strdup(text);
    return 0;
}

Test(fileutil, atomic_write_keeps_bak_and_load_falls_back)
{
    char dir[256], path[300], bak[310];
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "fileutil"), 0);
    snprintf(path, sizeof path, "%s/offsets.json", dir);
    snprintf(bak, sizeof bak, "%s.bak", path);
    cr_assert_eq(rk_file_write_atomic(path, "{1}", 3), 0);
    cr_assert_eq(rk_file_write_atomic(path, "{2}", 3), 0);
    char *got = NULL;
    cr_assert_eq(rk_file_load_with_bak(path, parse_json_ish, &got, NULL), 0);
    cr_assert_str_eq(got, "{2}");
    free(got);
    /* A torn main file: the loader takes the previous version from .bak. */
    FILE *f = fopen(path, "w");
    fputs("{", f);
    fclose(f);
    bool used_bak = false;
    cr_assert_eq(rk_file_load_with_bak(path, parse_json_ish, &got, &used_bak), 0);
    cr_assert(used_bak);
    cr_assert_str_eq(got, "{1}");
    free(got);
    rk_tk_rmtree(dir);
    cr_assert_eq(rk_file_load_with_bak(path, parse_json_ish, &got, NULL), -ENOENT);
}

#include "rk/json.h"

Test(json, parses_fastjson_bare_int_keys_and_prints_them_back)
{
    const char *in = "{\"offsetTable\":{\"TopicTest@cg\":{0:12,1:40, -1 : 7},\"s\":\"a{0:b\"}}";
    cJSON *root = rk_json_parse(in, strlen(in));
    cr_assert_not_null(root);
    cJSON *t = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "offsetTable"), "TopicTest@cg");
    int64_t v = 0;
    cr_assert_eq(rk_json_get_i64(t, "1", &v), 0);
    cr_assert_eq(v, 40);
    cr_assert_eq(rk_json_get_i64(t, "-1", &v), 0);
    cr_assert_eq(v, 7);
    /* strings are left alone by the key-quoting pre-pass */
    cr_assert_str_eq(rk_json_get_str(cJSON_GetObjectItem(root, "offsetTable"), "s"), "a{0:b");
    char *out = rk_json_print(cJSON_GetObjectItem(root, "offsetTable"), RK_JSON_BARE_INT_KEYS);
    cr_assert_str_eq(out, "{\"TopicTest@cg\":{0:12,1:40,-1:7},\"s\":\"a{0:b\"}");
    free(out);
    out = rk_json_print(t, RK_JSON_PRETTY);
    cr_assert_str_eq(out, "{\n\t\"0\":12,\n\t\"1\":40,\n\t\"-1\":7\n}");
    free(out);
    cJSON_Delete(root);
}

Test(json, coerces_numbers_booleans_and_strings)
{
    const char *in = "{\"queueId\":3,\"sysFlag\":\"4\",\"batch\":true,\"unit\":\"false\",\"big\":1700000000123}";
    cJSON *o = rk_json_parse(in, strlen(in));
    int64_t v;
    bool b;
    cr_assert_eq(rk_json_get_i64(o, "queueId", &v), 0); cr_assert_eq(v, 3);
    cr_assert_eq(rk_json_get_i64(o, "sysFlag", &v), 0); cr_assert_eq(v, 4);
    cr_assert_eq(rk_json_get_i64(o, "big", &v), 0); cr_assert_eq(v, 1700000000123LL);
    cr_assert_eq(rk_json_get_bool(o, "batch", &b), 0); cr_assert(b);
    cr_assert_eq(rk_json_get_bool(o, "unit", &b), 0); cr_assert(!b);
    cr_assert_eq(rk_json_get_i64(o, "missing", &v), RK_ENOTFOUND);
    char *s = rk_json_get_strdup(o, "queueId");
    cr_assert_str_eq(s, "3");
    free(s);
    s = rk_json_get_strdup(o, "batch");
    cr_assert_str_eq(s, "true");
    free(s);
    cJSON_Delete(o);
}
