/* test_verify_index_ts.c — key lookups with extreme time bounds (issue 9
 * item 12, found by the verifier): QUERY_MESSAGE hands beginTimestamp and
 * endTimestamp straight from the request (any int64), and an index file's
 * header comes from the disk; neither may overflow the time arithmetic
 * (under SAN=1 that was "signed integer overflow: INT64_MIN - 999"). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rk/buf.h"
#include "rk/error.h"
#include "rk/index.h"
#include "rk/testkit.h"

static char dir[256];
static void setup(void) { cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "index-ts"), 0); }
static void teardown(void) { rk_tk_rmtree(dir); }
TestSuite(verify_index_ts, .init = setup, .fini = teardown);

Test(verify_index_ts, extreme_request_bounds_find_the_key)
{
    rk_index_config_t cfg = {.max_hash_slot_num = 8, .max_index_num = 16};
    rk_index_t *idx;
    cr_assert_eq(rk_index_open(dir, &cfg, -1, &idx), 0);
    cr_assert_eq(rk_index_build(idx, "T", "k1", NULL, 1000, 1700000000000LL), 0);
    cr_assert_eq(rk_index_build(idx, "T", "k2", NULL, 2000, 1700000005000LL), 0);
    int64_t out[8];
    cr_assert_eq(rk_index_query(idx, "T", "k1", INT64_MIN, INT64_MAX, out, 8), 1);
    cr_assert_eq(out[0], 1000);
    cr_assert_eq(rk_index_query(idx, "T", "k2", INT64_MIN + 500, INT64_MAX, out, 8), 1);
    cr_assert_eq(out[0], 2000);
    cr_assert_eq(rk_index_query(idx, "T", "k2", -1, INT64_MAX, out, 8), 1);
    cr_assert_eq(rk_index_query(idx, "T", "k1", INT64_MAX, INT64_MAX, out, 8), 0);
    cr_assert_eq(rk_index_query(idx, "T", "k1", INT64_MIN, INT64_MIN, out, 8), 0);
    rk_index_close(idx);
}

Test(verify_index_ts, hostile_header_time_does_not_overflow)
{
    rk_index_config_t cfg = {.max_hash_slot_num = 8, .max_index_num = 16};
    rk_index_t *idx;
    cr_assert_eq(rk_index_open(dir, &cfg, -1, &idx), 0);
    cr_assert_eq(rk_index_build(idx, "T", "k1", NULL, 1000, 1700000000000LL), 0);
    rk_index_file_info_t fi[2];
    cr_assert_eq(rk_index_files(idx, fi, 2), 1);
    rk_index_close(idx);

    /* beginTimestamp (offset 0) near INT64_MAX: base + diff * 1000 would overflow */
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, fi[0].name);
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    uint8_t b[16];
    rk_be_put64(b, (uint64_t)(INT64_MAX - 10));
    rk_be_put64(b + 8, (uint64_t)INT64_MAX);
    cr_assert_eq(fwrite(b, 1, sizeof b, f), sizeof b);
    cr_assert_eq(fclose(f), 0);
    /* the entry's stored difference must be large for the sum to overflow */
    cr_assert_eq(rk_index_open(dir, &cfg, -1, &idx), 0);
    int64_t out[8];
    int n = rk_index_query(idx, "T", "k1", INT64_MIN, INT64_MAX, out, 8);
    cr_assert(n == 0 || n == 1);
    rk_index_close(idx);
}
