/* test_tool_options.c — chapter 5's rkstore (the one `make install`
 * installs) keeps every chapter-4 option and command, prints progress and a
 * summary instead of a line per message, and `get --max N` reads N even when
 * N messages take more than one transfer. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/testkit.h"

static char dir[256];
static void setup(void) { cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "tool5"), 0); }
static void teardown(void) { rk_tk_rmtree(dir); }
TestSuite(rkstore5, .init = setup, .fini = teardown, .timeout = 90);

static char *run_ok(char *const argv[])
{
    char *out = NULL;
    int rc = rk_tk_run(argv, &out, 60000);
    cr_assert_eq(rc, 0, "%s %s exited %d:\n%s", argv[0], argv[1], rc, out ? out : "");
    return out;
}

static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; (p = strchr(p, '\n')) != NULL; p++)
        n++;
    return n;
}

Test(rkstore5, put_takes_every_chapter4_option)
{
    const char *bin = rk_tk_bin("rkstore");
    char *out = run_ok((char *const[]){(char *)bin, "put", dir, "--topic", "T", "--count", "300", "--size", "100",
                                       "--file-size", "65536", "--flush", "sync", "--batch", "8", "--queue", "2",
                                       "--queues", "2", NULL});
    cr_assert_not_null(strstr(out, "done: 300 messages"), "%s", out);
    cr_assert_not_null(strstr(out, "SYNC_FLUSH"), "%s", out);
    free(out);
    char p[400];
    snprintf(p, sizeof p, "%s/commitlog/%020d", dir, 0);
    cr_assert_eq(rk_tk_file_size(p), 65536, "--file-size was applied");
    out = run_ok((char *const[]){(char *)bin, "cq", dir, "T", "3", NULL});
    cr_assert_not_null(strstr(out, "minOffset=0 maxOffset=150"), "--queue 2 --queues 2: queues 2 and 3\n%s", out);
    free(out);
    /* chapter 4's commands are there too */
    out = run_ok((char *const[]){(char *)bin, "verify", dir, NULL});
    cr_assert_not_null(strstr(out, "300 valid records"), "%s", out);
    free(out);
    out = run_ok((char *const[]){(char *)bin, "stat", dir, NULL});
    cr_assert_not_null(strstr(out, "records:    300"), "%s", out);
    free(out);
    /* --verbose: one line per message, as before */
    out = run_ok((char *const[]){(char *)bin, "put", dir, "--topic", "T", "--count", "4", "--queues", "4",
                                 "--verbose", NULL});
    cr_assert_not_null(strstr(out, "put T queue=3 queueOffset=150 "), "%s", out);
    free(out);
}

Test(rkstore5, put_prints_a_summary_not_a_line_per_message)
{
    char *out = run_ok((char *const[]){(char *)rk_tk_bin("rkstore"), "put", dir, "--topic", "T", "--count",
                                       "20000", "--size", "64", "--queues", "4", "--file-size", "1m", NULL});
    cr_assert_lt(count_lines(out), 40, "%d lines:\n%.2000s", count_lines(out), out);
    cr_assert_not_null(strstr(out, "done: 20000 messages"), "%s", out);
    cr_assert_not_null(strstr(out, "MB/s"), "%s", out);
    free(out);
}

Test(rkstore5, get_max_reads_n_across_transfers)
{
    const char *bin = rk_tk_bin("rkstore");
    /* 2000 messages of 300 bytes: more than one transfer's byte limit */
    free(run_ok((char *const[]){(char *)bin, "put", dir, "--topic", "T", "--count", "2000", "--size", "300",
                                "--file-size", "1m", NULL}));
    char *out = run_ok((char *const[]){(char *)bin, "get", dir, "--group", "g", "--topic", "T", "--queue", "0",
                                       "--max", "2000", NULL});
    cr_assert_not_null(strstr(out, "found=2000 next=2000"), "%.300s ... %s", out, strrchr(out, '#'));
    cr_assert_not_null(strstr(out, "\n1999 - 300\n"), "the last message");
    cr_assert_eq(count_lines(out), 2001);
    free(out);
    /* the group's offset moved to 2000: nothing more */
    out = run_ok((char *const[]){(char *)bin, "get", dir, "--group", "g", "--topic", "T", "--queue", "0", NULL});
    cr_assert_not_null(strstr(out, "found=0 next=2000"), "%s", out);
    free(out);
}
