/* test_units.c — the 20-byte unit, tag codes and the GetMessageStatus rules. */
#include <criterion/criterion.h>
#include <limits.h>

#include "rk/cq_unit.h"
#include "rk/get_message.h"

Test(unit, twenty_bytes_big_endian)
{
    uint8_t b[RK_CQ_UNIT_SIZE];
    rk_cq_unit_t u = {.phys = 0x0102030405060708LL, .size = 0x0A0B0C0D, .tag_code = -2};
    rk_cq_unit_encode(b, &u);
    const uint8_t want[20] = {1, 2, 3, 4, 5, 6, 7, 8, 0x0A, 0x0B, 0x0C, 0x0D,
                              0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE};
    cr_assert_arr_eq(b, want, 20);
    rk_cq_unit_t d = rk_cq_unit_decode(b);
    cr_assert_eq(d.phys, u.phys);
    cr_assert_eq(d.size, u.size);
    cr_assert_eq(d.tag_code, -2);
    rk_cq_unit_t blank = {0, INT32_MAX, 0};
    cr_assert(rk_cq_unit_is_blank(&blank));
    rk_cq_unit_t zero = {0, 0, 0};
    cr_assert_not(rk_cq_unit_is_valid(&zero));
}

Test(unit, tag_code_is_java_hashcode_sign_extended)
{
    cr_assert_eq(rk_tag_code(NULL), 0);
    cr_assert_eq(rk_tag_code(""), 0);
    cr_assert_eq(rk_tag_code("TagA"), 2598919);               /* "TagA".hashCode() */
    /* "hello world".hashCode() = 1794106052; "zzzzzzzz" overflows negative */
    cr_assert_eq(rk_tag_code("hello world"), 1794106052);
    cr_assert_eq(rk_tag_code("polygenelubricants"), (int64_t)INT32_MIN);
}

Test(get_status, bounds_follow_default_message_store)
{
    rk_get_status_t s;
    int64_t next;
    cr_assert_not(rk_get_check_offset(0, 0, 5, &s, &next));
    cr_assert_eq(s, RK_GET_NO_MESSAGE_IN_QUEUE);
    cr_assert_eq(next, 0);
    cr_assert_not(rk_get_check_offset(10, 20, 3, &s, &next));
    cr_assert_eq(s, RK_GET_OFFSET_TOO_SMALL);
    cr_assert_eq(next, 10);
    cr_assert_not(rk_get_check_offset(10, 20, 20, &s, &next));
    cr_assert_eq(s, RK_GET_OFFSET_OVERFLOW_ONE);
    cr_assert_eq(next, 20);
    cr_assert_not(rk_get_check_offset(10, 20, 25, &s, &next));
    cr_assert_eq(s, RK_GET_OFFSET_OVERFLOW_BADLY);
    cr_assert_eq(next, 20);
    cr_assert_not(rk_get_check_offset(0, 20, 25, &s, &next));
    cr_assert_eq(next, 0);                                   /* min == 0: back to the start */
    cr_assert(rk_get_check_offset(10, 20, 19, &s, &next));
    cr_assert_str_eq(rk_get_status_name(RK_GET_OFFSET_FOUND_NULL), "OFFSET_FOUND_NULL");
}

Test(get_status, batch_limits_and_tag_filter)
{
    cr_assert_not(rk_get_batch_full(1 << 20, 4, 1024, 0, 0));  /* first always fits */
    cr_assert(rk_get_batch_full(10, 4, 1024, 4, 40));
    cr_assert(rk_get_batch_full(100, 32, 1024, 10, 1000));
    cr_assert_not(rk_get_batch_full(24, 32, 1024, 10, 1000));
    int32_t codes[2] = {rk_java_hash("a", 1), rk_java_hash("b", 1)};
    cr_assert(rk_get_tag_matches(rk_tag_code("a"), codes, 2));
    cr_assert_not(rk_get_tag_matches(rk_tag_code("c"), codes, 2));
    cr_assert(rk_get_tag_matches(rk_tag_code("c"), NULL, 0));
    /* only the low 32 bits count (intValue) */
    cr_assert(rk_get_tag_matches(((int64_t)7 << 32) | (uint32_t)codes[0], codes, 2));
}
