/* test_json_fast.c — the single-pass JSON header decoder against cJSON.
 *
 * rk_cmd_decode reads a JSON header in one pass and hands what it does not
 * fully understand to cJSON (issue 17). Both must give the same answer for
 * every input: the same code, language, version, opaque, flag, remark,
 * extFields (keys, values, order) and body, or the same error. Each test
 * decodes many frames three ways (rk_cmd_decode_as: cJSON only, the single
 * pass only, and rk_cmd_decode's choice) and compares: captured-style
 * headers as RocketMQ's Java client writes them, the 500 random commands of
 * test_codec_bytes.c, the fuzz kit's mutated requests, and every truncation,
 * byte flip and escape splice of the representative headers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/error.h"
#include "rk/fuzzkit.h"
#include "rk/remoting_cmd.h"

typedef struct stats {
    long frames, fast, ok, refused;
} stats_t;

static const char *same_cmd(const rk_cmd_t *a, const rk_cmd_t *b)
{
    if (a->code != b->code || a->language != b->language || a->version != b->version || a->opaque != b->opaque ||
        a->flag != b->flag || a->ser_type != b->ser_type)
        return "code, language, version, opaque, flag or serialize type";
    if ((a->remark == NULL) != (b->remark == NULL) || (a->remark && strcmp(a->remark, b->remark) != 0))
        return "remark";
    if (a->next != b->next)
        return "number of extFields";
    for (size_t i = 0; i < a->next; i++) {
        const rk_ext_field_t *x = &a->ext[i], *y = &b->ext[i];
        if (strcmp(x->key, y->key) != 0 || strcmp(x->value, y->value) != 0)
            return "an extFields key or value";
        size_t xk = x->klen == RK_EXT_LEN_UNKNOWN ? strlen(x->key) : x->klen;
        size_t yk = y->klen == RK_EXT_LEN_UNKNOWN ? strlen(y->key) : y->klen;
        size_t xv = x->vlen == RK_EXT_LEN_UNKNOWN ? strlen(x->value) : x->vlen;
        size_t yv = y->vlen == RK_EXT_LEN_UNKNOWN ? strlen(y->value) : y->vlen;
        if (xk != yk || xv != yv || xk != strlen(x->key) || xv != strlen(x->value))
            return "an extFields length";
    }
    if (a->body_len != b->body_len || (a->body_len && memcmp(a->body, b->body, a->body_len) != 0))
        return "body";
    return NULL;
}

static void dump(const uint8_t *f, size_t len)
{
    fprintf(stderr, "frame (%zu bytes): ", len);
    for (size_t i = 0; i < len && i < 600; i++)
        fputc(f[i] >= 0x20 && f[i] < 0x7f ? f[i] : '.', stderr);
    fputc('\n', stderr);
}

/* f[0..len): a frame without its length field. */
static void check_frame(const uint8_t *f, size_t len, stats_t *st, const char *what)
{
    rk_cmd_t *ref = NULL, *fast = NULL, *aut = NULL;
    int rr = rk_cmd_decode_as(f, len, RK_CMD_JSON_CJSON, &ref);
    int rf = rk_cmd_decode_as(f, len, RK_CMD_JSON_FAST, &fast);
    int ra = rk_cmd_decode(f, len, &aut);
    st->frames++;
    if (rr != ra || (rf == RK_OK && rr != RK_OK)) {
        dump(f, len);
        cr_assert_fail("%s: cJSON %s, single pass %s, rk_cmd_decode %s", what, rk_errname(rr), rk_errname(rf),
                       rk_errname(ra));
    }
    if (rr == RK_OK) {
        st->ok++;
        const char *d = same_cmd(ref, aut);
        if (d) {
            dump(f, len);
            cr_assert_fail("%s: rk_cmd_decode and cJSON differ in %s", what, d);
        }
        if (rf == RK_OK) {
            st->fast += ref->ser_type == RK_SER_JSON;
            if ((d = same_cmd(ref, fast)) != NULL) {
                dump(f, len);
                cr_assert_fail("%s: the single pass and cJSON differ in %s", what, d);
            }
        }
    } else {
        st->refused++;
    }
    rk_cmd_free(ref);
    rk_cmd_free(fast);
    rk_cmd_free(aut);
}

/* A frame (no length field) of a JSON header and a body, in b. */
static void json_frame(rk_buf_t *b, const char *hdr, size_t hlen, const char *body)
{
    b->len = 0;
    rk_buf_put_u32(b, (uint32_t)hlen);          /* type 0: JSON */
    rk_buf_put(b, hdr, hlen);
    if (body)
        rk_buf_put_str(b, body);
    cr_assert_eq(b->err, RK_OK);
}

/* The frame ends where the header does, in a block of exactly its size: a
 * read past it is an error under SAN=1. Then again with a body after it. */
static void check_header(const char *hdr, size_t hlen, stats_t *st, const char *what)
{
    rk_buf_t b = {0};
    json_frame(&b, hdr, hlen, NULL);
    uint8_t *exact = malloc(b.len);
    cr_assert_not_null(exact);
    memcpy(exact, b.data, b.len);
    check_frame(exact, b.len, st, what);
    free(exact);
    json_frame(&b, hdr, hlen, "\"body\\\"}");
    check_frame(b.data, b.len, st, what);
    rk_buf_free(&b);
}

/* Headers as RocketMQ's Java client and broker write them (fastjson: keys in
 * alphabetical order, no spaces), and the same shapes written other ways. */
static const char *const captured[] = {
    /* SEND_MESSAGE_V2 from a Java producer */
    "{\"code\":310,\"extFields\":{\"a\":\"please_rename_unique_group_name\",\"b\":\"TopicTest\",\"c\":\"TBW102\","
    "\"d\":\"4\",\"e\":\"1\",\"f\":\"0\",\"g\":\"1764670000123\",\"h\":\"0\",\"i\":\"UNIQ_KEY\\u00017F000001"
    "2A3B18B4AAC2469D0C8A0000\\u0002WAIT\\u0001true\\u0002TAGS\\u0001TagA\\u0002\",\"j\":\"0\",\"k\":\"false\","
    "\"m\":\"false\",\"n\":\"broker-a\"},\"flag\":0,\"language\":\"JAVA\",\"opaque\":5,"
    "\"serializeTypeCurrentRPC\":\"JSON\",\"version\":435}",
    /* the broker's send response */
    "{\"code\":0,\"extFields\":{\"queueId\":\"1\",\"TRACE_ON\":\"true\",\"MSG_REGION\":\"DefaultRegion\","
    "\"msgId\":\"7F00000100002A9F0000000000000064\",\"queueOffset\":\"42\",\"transactionId\":\"\"},\"flag\":1,"
    "\"language\":\"JAVA\",\"opaque\":5,\"serializeTypeCurrentRPC\":\"JSON\",\"version\":435}",
    /* a heartbeat: no extFields */
    "{\"code\":34,\"flag\":0,\"language\":\"JAVA\",\"opaque\":12,\"serializeTypeCurrentRPC\":\"JSON\",\"version\":435}",
    /* GET_ROUTEINFO_BY_TOPIC, a Go client (language as an ordinal) */
    "{\"code\":105,\"extFields\":{\"topic\":\"TopicTest\"},\"flag\":0,\"language\":9,\"opaque\":3,\"version\":317}",
    /* an error response with a remark (escapes, non-ASCII, a surrogate pair) */
    "{\"code\":17,\"flag\":1,\"language\":\"JAVA\",\"opaque\":99,\"remark\":\"topic[T\\u00e9\\/\\\"x\\\"] not exist,"
    " apply first please! \\uD83D\\uDE00 \\u4e2d\\t\\r\\n\\b\\f\\\\\",\"serializeTypeCurrentRPC\":\"JSON\","
    "\"version\":435}",
    /* pull request, numbers and booleans as extFields values */
    "{\"code\":11,\"extFields\":{\"consumerGroup\":\"g\",\"topic\":\"T\",\"queueId\":3,\"queueOffset\":-1,"
    "\"maxMsgNums\":32,\"sysFlag\":0,\"commitOffset\":007,\"suspendTimeoutMillis\":20000,\"subscription\":\"*\","
    "\"subVersion\":1764670000123,\"expressionType\":\"TAG\",\"lite\":true,\"neg0\":-0,\"no\":false},\"flag\":0,"
    "\"language\":\"CPP\",\"opaque\":-2147483648,\"version\":401}",
    /* pretty, keys in another order, whitespace everywhere */
    " \r\n\t{ \"version\" : 409 ,\n \"opaque\" :\t7, \"extFields\" : { \"k\" : \"v\" , \"k2\" : \"w\" } ,"
    " \"language\" : \"go\" , \"code\" : 10 , \"remark\" : \"r\" , \"flag\" : 2 } \n\t ",
    /* repeated extFields keys (first place, last value), unknown top-level keys of every scalar kind */
    "{\"code\":10,\"extFields\":{\"a\":\"1\",\"b\":\"2\",\"a\":\"3\",\"c\":\"\",\"b\":4},\"x\":null,\"y\":true,"
    "\"z\":false,\"w\":-12,\"v\":\"s\\u0041\",\"language\":\"NOPE\"}",
    /* escaped extFields keys, empty key and value, raw control and UTF-8 bytes, invalid UTF-8 bytes */
    "{\"code\":1,\"extFields\":{\"\\u0061b\":\"x\",\"\":\"\",\"caf\xc3\xa9\":\"\x01\x1f\xff\xfe\xc3\",\"t\\/\":\"\\uDBFF\\uDFFF\"}}",
    /* numbers at the edge of what the single pass reads */
    "{\"code\":999999999999999,\"opaque\":-999999999999999,\"flag\":4294967297,\"version\":-1,\"language\":2147483647}",
    "{\"code\":1,\"language\":-2147483648}",
    "{\"code\":1,\"extFields\":{}}",
    "{\"code\":1}",
};
#define NCAPTURED (sizeof captured / sizeof captured[0])

/* what the single pass hands over (cJSON's answer must stand, accepted or refused) */
static const char *const handed_over[] = {
    "{\"code\":1.5}", "{\"code\":1e2}", "{\"code\":1E2,\"extFields\":{\"a\":1.25e1}}", "{\"code\":\"310\"}",
    "{\"code\":true}", "{\"code\":null}", "{\"code\":9999999999999999}", "{\"code\":99999999999999999999999}",
    "{\"code\":-}", "{\"code\":+1}", "{\"code\":1-2}", "{\"code\":01.0}", "{\"code\":1,\"code\":2}",
    "{\"code\":1,\"remark\":\"a\",\"remark\":\"b\"}", "{\"c\\u006fde\":5}", "{\"code\":1,\"remark\":null}",
    "{\"code\":1,\"remark\":12}", "{\"code\":1,\"extFields\":null}", "{\"code\":1,\"extFields\":[1,2]}",
    "{\"code\":1,\"extFields\":\"x\"}", "{\"code\":1,\"extFields\":{\"a\":null,\"b\":\"2\"}}",
    "{\"code\":1,\"extFields\":{\"a\":{\"n\":1},\"b\":[1],\"c\":\"3\"}}", "{\"code\":1,\"o\":{\"a\":1}}",
    "{\"code\":1,\"o\":[]}", "{\"code\":1,\"language\":true}", "{\"code\":1,\"language\":2147483648}",
    "{\"code\":1,\"language\":1.9}", "{\"code\":1,\"language\":1e300}", "{\"code\":1,\"language\":-2147483649}",
    "{\"code\":1,\"language\":-2147483648.5}", "{\"code\":1,\"language\":2147483647.9}", "{\"code\":1}garbage", "{\"code\":1},{\"code\":2}", "{\"code\":1}\x0b",
    "\xef\xbb\xbf{\"code\":1}", "{\"code\":1\x0b}", "{\x01\"code\":1}", "{\"code\":1,\"remark\":\"a\\u0000b\"}",
    "{\"code\":1,\"remark\":\"\\uZZZZ\"}", "{\"code\":1,\"remark\":\"\\u12\"}", "{\"code\":1,\"remark\":\"\\uDC00\"}",
    "{\"code\":1,\"remark\":\"\\uD800\"}", "{\"code\":1,\"remark\":\"\\uD800x\"}",
    "{\"code\":1,\"remark\":\"\\uD800\\u0041\"}", "{\"code\":1,\"remark\":\"\\uD800\\uZZZZ\"}",
    "{\"code\":1,\"remark\":\"\\x\"}", "{\"code\":1,\"remark\":\"\\'\"}", "{\"code\":1,\"remark\":\"a\\\"}",
    "{\"code\":1,\"remark\":\"a\\", "{\"code\":1,\"remark\":\"a", "{0:1,\"code\":1}", "{\"code\":1,-3 :1}",
    "{}", "", " ", "[]", "[{\"code\":1}]", "{\"code\":1,}", "{\"code\":1,\"extFields\":{\"a\":\"b\",}}",
    "{\"code\" 1}", "{\"code\":1 \"flag\":2}", "{\"code\":nul}", "{\"code\":1,\"x\":tru}", "{\"code\":1,\"x\":truex}",
    "{\"code\":1,\"x\":nullx}", "{\"code\":1,\"extFields\":{\"a\":falsey}}", "{\"code\":1,\"extFields\":{\"a\"}}",
    "{\"code\":1,\"extFields\":{a:1}}", "{\"code\":1,\"extFields\":{\"0\":1,1:2}}", "{\"code\":1,\"language\":\"\"}",
    "{\"code\":1,\"language\":\"J\\u0041VA\"}", "{\"code\":1,\"language\":\"java\"}",
};
#define NHANDED (sizeof handed_over / sizeof handed_over[0])

Test(json_fast, captured_headers_decode_the_same_and_take_the_single_pass)
{
    stats_t st = {0};
    for (size_t i = 0; i < NCAPTURED; i++) {
        long fast0 = st.fast;
        char what[64];
        snprintf(what, sizeof what, "captured header %zu", i);
        check_header(captured[i], strlen(captured[i]), &st, what);
        cr_assert_eq(st.fast, fast0 + 2, "captured header %zu did not take the single pass", i);
    }
    /* the header length from a binary prefix, a body after it: the body is not read as header */
    rk_buf_t b = {0};
    json_frame(&b, captured[0], strlen(captured[0]), "}{\"code\":2} trailing body bytes");
    check_frame(b.data, b.len, &st, "body after the header");
    rk_buf_free(&b);
}

Test(json_fast, what_the_single_pass_hands_over_decodes_as_cjson_says)
{
    stats_t st = {0};
    for (size_t i = 0; i < NHANDED; i++) {
        char what[64];
        snprintf(what, sizeof what, "handed-over header %zu", i);
        check_header(handed_over[i], strlen(handed_over[i]), &st, what);
    }
    /* a NUL inside the header (cJSON's copy stops there) */
    static const char nul[] = "{\"code\":1,\"remark\":\"a\0b\"}";
    check_header(nul, sizeof nul - 1, &st, "NUL in a string");
    static const char nul2[] = "{\"code\":1}\0{";
    check_header(nul2, sizeof nul2 - 1, &st, "NUL after the object");
    cr_log_info("handed over: %ld frames, %ld accepted by cJSON, %ld by the single pass", st.frames, st.ok, st.fast);
}

static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void rnd_str(uint32_t *s, char *out, size_t max)
{
    size_t n = rnd(s) % max;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(1 + rnd(s) % 255);      /* every byte but NUL: controls, quotes, UTF-8 */
    out[n] = '\0';
}

/* The 500 random commands of test_codec_bytes.c (same seed, same commands), encoded with JSON headers. */
Test(json_fast, the_random_commands_of_test_codec_bytes_decode_the_same)
{
    stats_t st = {0};
    uint32_t seed = 12345;
    for (int round = 0; round < 500; round++) {
        rk_cmd_t *c = rk_cmd_new((int32_t)rnd(&seed));
        c->ser_type = RK_SER_JSON;
        c->opaque = (int32_t)rnd(&seed);
        c->flag = (int32_t)(rnd(&seed) % 4);
        c->language = (int)(rnd(&seed) % 16);
        c->version = (int32_t)(rnd(&seed) % 1000) - 10;
        char k[40], v[200];
        int nf = (int)(rnd(&seed) % 24);
        for (int f = 0; f < nf; f++) {
            rnd_str(&seed, k, sizeof k);
            rnd_str(&seed, v, sizeof v);
            cr_assert_eq(rk_cmd_ext_set(c, k, v), RK_OK);
        }
        if (rnd(&seed) % 2) {
            rnd_str(&seed, v, sizeof v);
            rk_cmd_set_remark(c, v);
        }
        rk_buf_t b = {0};
        cr_assert_eq(rk_cmd_encode(c, &b), RK_OK);
        char what[64];
        snprintf(what, sizeof what, "random command %d", round);
        check_frame(b.data + 4, b.len - 4, &st, what);
        rk_buf_free(&b);
        rk_cmd_free(c);
    }
    cr_assert_eq(st.fast, 500, "every command rocklet encodes takes the single pass (%ld did)", st.fast);
}

/* Every truncation, byte flips at every position, splices of escapes, numbers and structure. */
Test(json_fast, mutated_headers_decode_the_same)
{
    static const char *const flips = "\"\\,:{}[]0-9.eE+ \t\n\x0b\x01\x7f\x80\xc3\xffntfu/";
    static const char *const splices[] = {
        "\\u0000", "\\uD83D\\uDE00", "\\uDC00", "\\uD800", "\\uD800x", "\\uZZZZ", "\\u00", "\\/", "\\x", "\\",
        "\"", "\\\"", ",", ":", "{", "}", "[1]", "{\"q\":1}", "null", "true", "1.5", "1e9", "-0", "007",
        "9999999999999999", "2147483648", "\"code\":2,", "\"extFields\":{},", ",\"remark\":\"r\"", "\x00",
    };
    stats_t st = {0};
    uint32_t seed = 777;
    rk_buf_t m = {0};
    for (size_t i = 0; i < NCAPTURED; i++) {
        const char *h = captured[i];
        size_t n = strlen(h);
        char what[96];
        for (size_t cut = 0; cut < n; cut++) {               /* truncations */
            snprintf(what, sizeof what, "header %zu cut at %zu", i, cut);
            check_header(h, cut, &st, what);
        }
        for (size_t at = 0; at < n; at++) {                  /* byte flips */
            for (size_t f = 0; f < 4; f++) {
                m.len = 0;
                rk_buf_put(&m, h, n);
                m.data[at] = f < 3 ? (uint8_t)flips[rnd(&seed) % strlen(flips)] : (uint8_t)rnd(&seed);
                snprintf(what, sizeof what, "header %zu byte %zu = 0x%02x", i, at, m.data[at]);
                check_header((const char *)m.data, n, &st, what);
            }
        }
        for (size_t s = 0; s < sizeof splices / sizeof splices[0]; s++)     /* splices */
            for (int r = 0; r < 24; r++) {
                size_t at = rnd(&seed) % (n + 1), sl = s + 1 == sizeof splices / sizeof splices[0] ? 1 : strlen(splices[s]);
                size_t del = rnd(&seed) % 3 == 0 ? rnd(&seed) % 4 : 0;
                if (del > n - at)
                    del = n - at;
                m.len = 0;
                rk_buf_put(&m, h, at);
                rk_buf_put(&m, splices[s], sl);
                rk_buf_put(&m, h + at + del, n - at - del);
                snprintf(what, sizeof what, "header %zu splice %zu at %zu (deleting %zu)", i, s, at, del);
                check_header((const char *)m.data, m.len, &st, what);
            }
    }
    rk_buf_free(&m);
    cr_log_info("mutated: %ld frames, %ld accepted, %ld by the single pass, %ld refused", st.frames, st.ok, st.fast,
                st.refused);
    cr_assert_gt(st.fast, 0);
    cr_assert_gt(st.refused, 0);
}

/* The fuzz kit's mutated requests (the ones make fuzz-ch06 sends), JSON and binary. */
Test(json_fast, fuzz_kit_frames_decode_the_same)
{
    rk_fz_tpl_t *tpl;
    size_t ntpl;
    cr_assert_eq(rk_fz_templates(&tpl, &ntpl), RK_OK);
    rk_fz_rng_t r;
    rk_fz_seed(&r, 17);
    stats_t st = {0};
    rk_buf_t frame = {0};
    char desc[300];
    for (int i = 0; i < 4000; i++) {
        const rk_fz_tpl_t *t = &tpl[rk_fz_below(&r, ntpl)];
        cr_assert_eq(rk_fz_mutate(&r, t, &frame, desc, sizeof desc), RK_OK);
        if (strstr(desc, ": huge: ") != NULL && i % 40 != 0)
            continue;                   /* thousands of fields: a few are enough */
        if (frame.len < 4)
            continue;
        size_t flen = rk_be_get32(frame.data);
        if (flen > frame.len - 4)
            flen = frame.len - 4;       /* a lying length: decode what is there */
        check_frame(frame.data + 4, flen, &st, desc);
    }
    rk_buf_free(&frame);
    rk_fz_templates_free(tpl, ntpl);
    cr_log_info("fuzz kit: %ld frames, %ld accepted, %ld by the single pass", st.frames, st.ok, st.fast);
    cr_assert_gt(st.fast, 0);
}

/* Limits: as many extFields as allowed, one more, and more values than the value count lets through. */
Test(json_fast, limits_are_the_same)
{
    stats_t st = {0};
    rk_buf_t h = {0};
    int counts[] = {255, 256, 257, 300};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
        for (int kind = 0; kind < 3; kind++) {
            h.len = 0;
            rk_buf_put_str(&h, "{\"code\":1,\"extFields\":{");
            for (int f = 0; f < counts[c]; f++)
                rk_buf_printf(&h, "%s\"k%d\":%s", f ? "," : "", kind == 1 ? f % 7 : f,
                              kind == 2 && f % 2 ? "5" : "\"v\"");
            rk_buf_put_str(&h, "}}");
            char what[64];
            snprintf(what, sizeof what, "%d extFields, kind %d", counts[c], kind);
            check_header((const char *)h.data, h.len, &st, what);
        }
    /* many top-level values: the value count refuses before the limit of fields does */
    for (int nv = 250; nv < 700; nv += 50) {
        h.len = 0;
        rk_buf_put_str(&h, "{\"code\":1");
        for (int f = 0; f < nv; f++)
            rk_buf_printf(&h, ",\"x%d\":%d", f, f);
        rk_buf_put_str(&h, "}");
        char what[64];
        snprintf(what, sizeof what, "%d top-level values", nv);
        check_header((const char *)h.data, h.len, &st, what);
    }
    rk_buf_free(&h);
    cr_assert_gt(st.fast, 0);
    cr_assert_gt(st.refused, 0);
}

/* A language ordinal no int holds is OTHER (7), as an unknown name is (casting it was undefined). */
Test(json_fast, an_out_of_range_language_ordinal_is_other)
{
    static const char *const hdrs[] = {"{\"code\":1,\"language\":2147483648}", "{\"code\":1,\"language\":-1e300}",
                                       "{\"code\":1,\"language\":\"KLINGON\"}"};
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        rk_buf_t b = {0};
        json_frame(&b, hdrs[i], strlen(hdrs[i]), NULL);
        rk_cmd_t *c = NULL;
        cr_assert_eq(rk_cmd_decode(b.data, b.len, &c), RK_OK, "%s", hdrs[i]);
        cr_assert_eq(c->language, 7, "%s: language %d", hdrs[i], c->language);
        rk_cmd_free(c);
        rk_buf_free(&b);
    }
}
