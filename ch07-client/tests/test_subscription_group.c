/* test_subscription_group.c — subscriptionGroup.json and auto-creation. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/subscription_group.h"
#include "rk/testkit.h"

Test(groups_config, auto_created_with_rocketmq_defaults_and_persisted)
{
    char dir[256], path[300];
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "sgroups"), 0);
    snprintf(path, sizeof path, "%s/subscriptionGroup.json", dir);
    rk_group_manager_t *m;
    cr_assert_eq(rk_group_manager_open(path, true, &m, NULL, 0), 0);
    rk_group_config_t g;
    cr_assert_eq(rk_group_get(m, "cg", &g), 0);
    cr_assert_eq(g.retry_max_times, 16);
    cr_assert_eq(g.retry_queue_nums, 1);
    cr_assert(g.consume_enable);
    g.retry_max_times = 3;
    cr_assert_eq(rk_group_put(m, &g), 0);
    rk_group_manager_close(m);
    char *text = NULL;
    cr_assert_eq(rk_file_read_all(path, &text, NULL), 0);
    cr_assert(strstr(text, "\"subscriptionGroupTable\":{") != NULL, "%s", text);
    cr_assert(strstr(text, "\"retryMaxTimes\":3") != NULL, "%s", text);
    free(text);
    cr_assert_eq(rk_group_manager_open(path, false, &m, NULL, 0), 0);
    cr_assert_eq(rk_group_get(m, "cg", &g), 0);
    cr_assert_eq(g.retry_max_times, 3, "survives a restart");
    cr_assert_eq(rk_group_get(m, "other", &g), RK_ENOTFOUND, "no auto-create when it is off");
    rk_group_manager_close(m);
    rk_tk_rmtree(dir);
}
