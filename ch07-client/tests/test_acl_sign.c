/* test_acl_sign.c — SHA-1, HMAC-SHA1 and Base64 against their RFCs' test
 * vectors, and RocketMQ's request signature against one computed with
 * Python's hmac module (independent of this code). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rk/acl_sign.h"

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void sha1_hex(const void *data, size_t len, size_t chunk, char out[41])
{
    rk_sha1_t s;
    uint8_t d[RK_SHA1_LEN];
    rk_sha1_init(&s);
    for (size_t i = 0; i < len; i += chunk)
        rk_sha1_update(&s, (const uint8_t *)data + i, len - i < chunk ? len - i : chunk);
    rk_sha1_final(&s, d);
    hex(d, sizeof d, out);
}

Test(acl_sign, sha1_rfc3174_vectors)
{
    char h[41];
    sha1_hex("abc", 3, 3, h);
    cr_expect_str_eq(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha1_hex(two, strlen(two), 7, h);     /* fed in odd pieces */
    cr_expect_str_eq(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    sha1_hex("", 0, 1, h);
    cr_expect_str_eq(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    static char million[1000000];
    memset(million, 'a', sizeof million);
    sha1_hex(million, sizeof million, 4096, h);
    cr_expect_str_eq(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

static void hmac_hex(const void *key, size_t klen, const void *msg, size_t mlen, char out[41])
{
    rk_hmac_sha1_t hm;
    uint8_t d[RK_SHA1_LEN];
    rk_hmac_sha1_init(&hm, key, klen);
    rk_hmac_sha1_update(&hm, msg, mlen);
    rk_hmac_sha1_final(&hm, d);
    hex(d, sizeof d, out);
}

Test(acl_sign, hmac_sha1_rfc2202_vectors)
{
    char h[41];
    uint8_t k[80];
    memset(k, 0x0b, 20);
    hmac_hex(k, 20, "Hi There", 8, h);
    cr_expect_str_eq(h, "b617318655057264e28bc0b6fb378c8ef146be00");
    hmac_hex("Jefe", 4, "what do ya want for nothing?", 28, h);
    cr_expect_str_eq(h, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    uint8_t dd[50];
    memset(k, 0xaa, 20);
    memset(dd, 0xdd, 50);
    hmac_hex(k, 20, dd, 50, h);
    cr_expect_str_eq(h, "125d7342b9ac11cd91a39af48aa17b4f63f175d3");
    memset(k, 0xaa, 80);       /* a key longer than the block is hashed first */
    const char *m = "Test Using Larger Than Block-Size Key - Hash Key First";
    hmac_hex(k, 80, m, strlen(m), h);
    cr_expect_str_eq(h, "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}

Test(acl_sign, base64_rfc4648_vectors)
{
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    char out[16];
    for (int i = 0; i < 7; i++) {
        size_t n = rk_base64_encode(in[i], strlen(in[i]), out);
        cr_expect_str_eq(out, want[i]);
        cr_expect_eq(n, strlen(want[i]));
    }
}

Test(acl_sign, request_signature_is_rocketmqs)
{
    /* extFields sorted by key ("AccessKey" < "producerGroup" < "topic"),
     * values concatenated, then the body:
     * base64(hmac_sha1(b"12345678", b"RocketMQ" b"grp" b"T1" b"hello body")) */
    rk_cmd_t *c = rk_cmd_new(10);
    rk_cmd_ext_set(c, "topic", "T1");
    rk_cmd_ext_set(c, "producerGroup", "grp");
    rk_cmd_set_body(c, "hello body", 10);
    cr_assert_eq(rk_acl_sign_request(c, "RocketMQ", "12345678", NULL), 0);
    cr_expect_str_eq(rk_cmd_ext_get(c, "AccessKey"), "RocketMQ");
    cr_expect_str_eq(rk_cmd_ext_get(c, "Signature"), "NX9GE097BWNdIN5i5gwR3cNFegM=");
    /* signing again (a retry) ignores the old Signature and gives the same */
    cr_assert_eq(rk_acl_sign_request(c, "RocketMQ", "12345678", NULL), 0);
    cr_expect_str_eq(rk_cmd_ext_get(c, "Signature"), "NX9GE097BWNdIN5i5gwR3cNFegM=");
    /* the broker's recomputation leaves out the key it is told to */
    char sig[RK_ACL_SIG_MAX];
    rk_cmd_ext_set(c, "_UNIQUE_KEY_QUERY", "true");
    cr_assert_eq(rk_acl_signature(c, "12345678", "_UNIQUE_KEY_QUERY", sig), 0);
    cr_expect_str_eq(sig, "NX9GE097BWNdIN5i5gwR3cNFegM=");
    cr_assert_eq(rk_acl_signature(c, "12345678", NULL, sig), 0);
    cr_expect_str_neq(sig, "NX9GE097BWNdIN5i5gwR3cNFegM=");
    rk_cmd_free(c);
    /* nothing at all: the HMAC of the empty string */
    c = rk_cmd_new(10);
    cr_assert_eq(rk_acl_signature(c, "12345678", NULL, sig), 0);
    cr_expect_str_eq(sig, "beQgVA0KNM4WtCe68fj2DEn3WWU=");
    rk_cmd_free(c);
}

Test(acl_sign, constant_time_compare)
{
    cr_expect(rk_ct_streq("abc", "abc"));
    cr_expect(!rk_ct_streq("abc", "abd"));
    cr_expect(!rk_ct_streq("abc", "ab"));
    cr_expect(!rk_ct_streq("", "a"));
    cr_expect(rk_ct_streq("", ""));
}
