/* test_verify_offsets.c — a consumerOffset.json that parses but has no
 * offsetTable is not an empty table (found by the verifier, issue 9 item 10):
 * "{}" was loaded silently as "no offsets", so every group restarted from
 * its consumeFromWhere — worse than the .bak roll-back item 10 forbids.
 * rocklet and RocketMQ always write offsetTable; without it the file is
 * refused like any other unusable file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rk/consumer_offset.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/testkit.h"

static char dir[256], path[320];
static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "offsets-verify"), 0);
    snprintf(path, sizeof path, "%s/consumerOffset.json", dir);
}
static void teardown(void) { rk_tk_rmtree(dir); }
TestSuite(verify_offsets, .init = setup, .fini = teardown);

Test(verify_offsets, decode_refuses_a_document_without_offset_table)
{
    rk_consumer_offsets_t *co;
    cr_assert_eq(rk_consumer_offsets_open(path, &co), 0);
    const char *good = "{\"offsetTable\":{\"T@g\":{0:200}}}";
    cr_assert_eq(rk_consumer_offsets_decode(co, good, strlen(good)), 0);
    const char *bad[] = {"{}", "{\"offsetTabel\":{\"T@g\":{0:5}}}", "{\"offsetTable\":null}", "{\"offsetTable\":[]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_neq(rk_consumer_offsets_decode(co, bad[i], strlen(bad[i])), 0, "%s refused", bad[i]);
        cr_assert_eq(rk_consumer_offsets_query(co, "g", "T", 0), 200, "offsets kept after %s", bad[i]);
    }
    const char *empty = "{\"offsetTable\":{}}";     /* a table with no groups is fine */
    cr_assert_eq(rk_consumer_offsets_decode(co, empty, strlen(empty)), 0);
    rk_consumer_offsets_close(co);
}

Test(verify_offsets, open_refuses_an_empty_object_with_a_bak_present)
{
    const char *bak = "{\"offsetTable\":{\"T@g\":{0:100}}}";
    char bakpath[340];
    snprintf(bakpath, sizeof bakpath, "%s.bak", path);
    cr_assert_eq(rk_file_write_atomic(bakpath, bak, strlen(bak)), 0);
    cr_assert_eq(rk_file_write_atomic(path, "{}", 2), 0);
    rk_consumer_offsets_t *co = NULL;
    int rc = rk_consumer_offsets_open(path, &co);
    if (rc == RK_OK) {
        int64_t got = rk_consumer_offsets_query(co, "g", "T", 0);
        rk_consumer_offsets_close(co);
        cr_assert_fail("\"{}\" was loaded (queue 0 offset now %lld)", (long long)got);
    }
}
