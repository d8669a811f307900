/* test_hostile_offsets.c — consumerOffset.json queue ids that do not fit an
 * int are refused, not cast onto queue 0 (issue 9, item 12). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rk/consumer_offset.h"
#include "rk/error.h"
#include "rk/testkit.h"

Test(hostile_offsets, a_queue_id_past_int_range_does_not_overwrite_queue_0)
{
    char dir[256], path[320];
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "offsets-bad"), 0);
    snprintf(path, sizeof path, "%s/consumerOffset.json", dir);
    rk_consumer_offsets_t *co;
    cr_assert_eq(rk_consumer_offsets_open(path, &co), 0);
    const char *bad[] = {"{\"offsetTable\":{\"T@g\":{0:5,4294967296:77}}}",
                         "{\"offsetTable\":{\"T@g\":{0:5,99999999999999999999:77}}}",
                         "{\"offsetTable\":{\"T@g\":{0:5,-1:77}}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_neq(rk_consumer_offsets_decode(co, bad[i], strlen(bad[i])), 0, "%s refused", bad[i]);
        cr_assert_neq(rk_consumer_offsets_query(co, "g", "T", 0), 77, "queue 0 not overwritten by %s", bad[i]);
    }
    rk_consumer_offsets_close(co);
    rk_tk_rmtree(dir);
}
