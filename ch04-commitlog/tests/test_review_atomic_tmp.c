/* test_review_atomic_tmp.c — rk_file_write_atomic leaves no path.tmp
 * behind when it fails before the rename (rk/fileutil.h promises it): here
 * the old .bak cannot be replaced (it is a folder). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rk/fileutil.h"
#include "rk/log.h"
#include "rk/testkit.h"

static char dir[256];

static void setup(void) { cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "atomictmp"), 0); }
static void teardown(void) { rk_tk_rmtree(dir); }
TestSuite(review_atomic_tmp, .init = setup, .fini = teardown, .timeout = 10);

Test(review_atomic_tmp, a_write_that_fails_before_the_rename_removes_its_tmp)
{
    char path[300], bak[320], tmp[320], inside[340];
    snprintf(path, sizeof path, "%s/x.json", dir);
    snprintf(bak, sizeof bak, "%s.bak", path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    snprintf(inside, sizeof inside, "%s/f", bak);
    cr_assert_eq(rk_file_write_atomic(path, "{}", 2), 0);
    cr_assert_eq(mkdir(bak, 0755), 0);
    FILE *f = fopen(inside, "w");
    cr_assert_not_null(f);
    fclose(f);
    cr_assert_neq(rk_file_write_atomic(path, "{\"a\":1}", 7), 0);
    cr_assert_eq(access(tmp, F_OK), -1, "%s left behind", tmp);
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(rk_file_read_all(path, &text, &len), 0);
    cr_assert_eq(len, 2, "the old version is still in place");
    free(text);
}
