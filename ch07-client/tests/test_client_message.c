/* test_client_message.c — ids, batch bodies and compression as RocketMQ clients make them. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "rk/client_message.h"
#include "rk/error.h"

Test(uniq_key, is_32_uppercase_hex_with_ip_pid_and_a_counter)
{
    rk_uniq_gen_t g;
    const uint8_t ip[4] = {192, 168, 0, 1};
    rk_uniq_gen_init(&g, ip, 0x01020304);
    char a[RK_UNIQ_KEY_LEN + 1], b[RK_UNIQ_KEY_LEN + 1];
    rk_uniq_next(&g, a);
    rk_uniq_next(&g, b);
    cr_assert_eq(strlen(a), 32);
    cr_assert_eq(strspn(a, "0123456789ABCDEF"), 32);
    cr_assert_eq(strncmp(a, "C0A80001", 8), 0, "starts with the ip: %s", a);
    cr_assert_eq(strncmp(a + 12, "01020304", 8), 0, "then pid, then the instance: %s", a);
    cr_assert_str_neq(a, b);
    cr_assert_eq(strtoul(b + 28, NULL, 16), strtoul(a + 28, NULL, 16) + 1, "the counter counts");
}

Test(batch, encodes_messagedecoder_layout_and_decodes_it_back)
{
    rk_buf_t b = {0};
    rk_batch_msg_t m1 = {7, (const uint8_t *)"hello", 5, "TAGS\001a", 6};
    rk_batch_msg_t m2 = {0, (const uint8_t *)"", 0, NULL, 0};
    cr_assert_eq(rk_batch_encode(&b, &m1), 0);
    cr_assert_eq(rk_batch_encode(&b, &m2), 0);
    const uint8_t first[] = {0, 0, 0, 33, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 5,
                             'h', 'e', 'l', 'l', 'o', 0, 6, 'T', 'A', 'G', 'S', 1, 'a'};
    cr_assert_eq(b.len, 33 + 22);
    cr_assert_eq(memcmp(b.data, first, sizeof first), 0);
    size_t pos = 0;
    rk_batch_msg_t d;
    cr_assert_eq(rk_batch_decode(b.data, b.len, &pos, &d), 0);
    cr_assert_eq(d.flag, 7);
    cr_assert_eq(d.body_len, 5);
    cr_assert_eq(memcmp(d.body, "hello", 5), 0);
    cr_assert_eq(d.props_len, 6);
    cr_assert_eq(rk_batch_decode(b.data, b.len, &pos, &d), 0);
    cr_assert_eq(d.body_len, 0);
    cr_assert_eq(rk_batch_decode(b.data, b.len, &pos, &d), RK_EEOF);
    pos = 0;
    cr_assert_eq(rk_batch_decode(b.data, 20, &pos, &d), RK_ECORRUPT, "truncated");
    b.data[3] = 40;     /* total size disagrees with the fields */
    pos = 0;
    cr_assert_eq(rk_batch_decode(b.data, b.len, &pos, &d), RK_ECORRUPT);
    rk_buf_free(&b);
}

Test(compress, only_bodies_over_4k_and_round_trips)
{
    uint8_t small[100] = {0}, *z = NULL, *back = NULL;
    size_t zl = 0, bl = 0;
    cr_assert_eq(rk_body_compress(small, sizeof small, &z, &zl), 0, "under 4 KiB: left alone");
    size_t n = 64 * 1024;
    uint8_t *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)("rocklet "[i % 8]);
    cr_assert_eq(rk_body_compress(big, n, &z, &zl), 1);
    cr_assert(zl < n / 10, "text compresses: %zu", zl);
    cr_assert_eq(rk_body_decompress(z, zl, 4 << 20, &back, &bl), 0);
    cr_assert_eq(bl, n);
    cr_assert_eq(memcmp(back, big, n), 0);
    free(back);
    cr_assert_eq(rk_body_decompress(z, zl, 1000, &back, &bl), RK_ETOOBIG, "bounded");
    cr_assert_eq(rk_body_decompress(z, zl / 2, 4 << 20, &back, &bl), RK_ECORRUPT, "truncated");
    cr_assert_eq(rk_body_decompress(big, 100, 4 << 20, &back, &bl), RK_ECORRUPT, "not zlib");
    free(z);
    free(big);
}
