/* test_tool.c — what a student runs: rkstore put/cq/get/query as processes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/testkit.h"

static char dir[256];
static void setup(void) { cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "tool"), 0); }
static void teardown(void) { rk_tk_rmtree(dir); }
TestSuite(rkstore, .init = setup, .fini = teardown, .timeout = 60);

#define SMALL "--mappedFileSizeCommitLog=8192", "--mappedFileSizeConsumeQueue=200"

static char *run(char *const argv[])
{
    char *out = NULL;
    int rc = rk_tk_run(argv, &out, 20000);
    cr_assert_eq(rc, 0, "%s %s exited %d:\n%s", argv[0], argv[1], rc, out ? out : "");
    return out;
}

static int count_lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

Test(rkstore, put_spreads_over_queues_and_two_groups_consume_independently)
{
    const char *bin = rk_tk_bin("rkstore");
    char *out = run((char *const[]){(char *)bin, "put", dir, "--topic", "T", "--count", "40",
                                    "--size", "300", "--queues", "4", "--tags", "a,b",
                                    "--keys", "key", SMALL, NULL});
    cr_assert_eq(count_lines_with(out, "put T queue=3"), 10);
    free(out);

    out = run((char *const[]){(char *)bin, "cq", dir, "T", "2", SMALL, NULL});
    cr_assert_not_null(strstr(out, "minOffset=0 maxOffset=10"), "%s", out);
    free(out);

    /* g1 reads 4, then the next 4; g2 reads the same first 4 */
    out = run((char *const[]){(char *)bin, "get", dir, "--group", "g1", "--topic", "T", "--queue",
                              "1", "--max", "4", SMALL, NULL});
    cr_assert_not_null(strstr(out, "0 b 300\n1 b 300\n2 b 300\n3 b 300\n"), "%s", out);
    cr_assert_not_null(strstr(out, "next=4"), "%s", out);
    free(out);
    out = run((char *const[]){(char *)bin, "get", dir, "--group", "g1", "--topic", "T", "--queue",
                              "1", "--max", "4", SMALL, NULL});
    cr_assert_not_null(strstr(out, "4 b 300\n"), "%s", out);
    cr_assert_null(strstr(out, "\n0 b 300"), "%s", out);
    free(out);
    out = run((char *const[]){(char *)bin, "get", dir, "--group", "g2", "--topic", "T", "--queue",
                              "1", "--max", "4", SMALL, NULL});
    cr_assert_not_null(strstr(out, "0 b 300\n"), "%s", out);
    free(out);

    /* tag filter: queue 0 holds messages 0,4,8,... all tagged a */
    out = run((char *const[]){(char *)bin, "get", dir, "--group", "g3", "--topic", "T", "--queue",
                              "0", "--tag", "b", SMALL, NULL});
    cr_assert_not_null(strstr(out, "status=NO_MATCHED_MESSAGE found=0 next=10"), "%s", out);
    free(out);

    char p[400], *text = NULL;
    snprintf(p, sizeof p, "%s/config/consumerOffset.json", dir);
    FILE *f = fopen(p, "r");
    cr_assert_not_null(f);
    text = calloc(1, 4096);
    cr_assert_gt(fread(text, 1, 4095, f), 0);
    fclose(f);
    cr_assert_not_null(strstr(text, "\"T@g1\":{\n\t\t\t1:8\n\t\t}"), "%s", text);
    cr_assert_not_null(strstr(text, "\"T@g2\":{\n\t\t\t1:4\n\t\t}"), "%s", text);
    free(text);

    out = run((char *const[]){(char *)bin, "query", dir, "--topic", "T", "--key", "key17", SMALL, NULL});
    cr_assert_not_null(strstr(out, "queue=1 queueOffset=4 keys=key17"), "%s", out);
    cr_assert_eq(count_lines_with(out, "phys="), 1);
    free(out);
}
