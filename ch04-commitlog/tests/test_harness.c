/* test_harness.c — `make test`'s runner (.ci/run-tests) and the testkit's log
 * keeping: passing tests are quiet, a failure is shown, and the run ends with
 * exactly one "N passed, N failed" line. The runner is given small shell
 * scripts that print what a Criterion binary prints. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rk/testkit.h"

static char dir[256];

static void setup(void) { cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "harness"), 0); }
static void teardown(void) { rk_tk_rmtree(dir); }

TestSuite(harness, .init = setup, .fini = teardown, .timeout = 60);

/* Writes an executable script dir/name. */
static void script(const char *name, const char *body)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fprintf(f, "#!/bin/sh\n%s", body);
    fclose(f);
    cr_assert_eq(chmod(path, 0755), 0);
}

/* Runs .ci/run-tests with args; returns its exit status, output in *out. */
static int run_tests(char **out, const char *a1, const char *a2, const char *a3, const char *a4)
{
    char runner[400];
    snprintf(runner, sizeof runner, "%s/.ci/run-tests", RK_SRC_ROOT);
    char *argv[] = {"/usr/bin/env", "python3", runner, (char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL};
    return rk_tk_run(argv, out, 50000);
}

static const char *last_line(char *out)
{
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '\n')
        out[--n] = '\0';
    char *nl = strrchr(out, '\n');
    return nl ? nl + 1 : out;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

Test(harness, passing_tests_print_one_line_each_and_a_total)
{
    script("ok", "echo '2026-12-02 10:00:00.000 ERROR test: noise a passing test makes'\n"
                 "echo '[====] Synthesis: Tested: 3 | Passing: 3 | Failing: 0 | Crashing: 0 '\n");
    char spec[400], step[600], *out = NULL;
    snprintf(spec, sizeof spec, "chA=%s/ok", dir);
    snprintf(step, sizeof step, "install=%s/step.log=echo building; true", dir);
    int rc = run_tests(&out, "--criterion", spec, "--step", step);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "noise") == NULL, "a passing test's output stays in its log:\n%s", out);
    cr_assert(strstr(out, "chA: 3 passed, 0 failed (log: ") != NULL, "%s", out);
    cr_assert_eq(count_lines(out), 3, "one line per binary and step, then the total:\n%s", out);
    cr_assert_str_eq(last_line(out), "4 passed, 0 failed");
    free(out);
    /* the binary's output is in test.log next to it */
    char log[400];
    snprintf(log, sizeof log, "%s/test.log", dir);
    cr_assert_gt(rk_tk_file_size(log), 0);
}

Test(harness, a_failure_is_shown_counted_and_fails_the_run)
{
    script("bad", "echo 'the failing test printed this'\n"
                  "echo '[----] tests/x.c:12: Assertion Failed'\n"
                  "echo '[FAIL] suite::broken: (0.01s)'\n"
                  "echo '[====] Synthesis: Tested: 5 | Passing: 4 | Failing: 1 | Crashing: 0 '\n"
                  "exit 1\n");
    script("ok", "echo '[====] Synthesis: Tested: 2 | Passing: 2 | Failing: 0 | Crashing: 0 '\n");
    char bad[400], ok[400], *out = NULL;
    snprintf(bad, sizeof bad, "chB=%s/bad", dir);
    snprintf(ok, sizeof ok, "chC=%s/ok", dir);
    int rc = run_tests(&out, "--criterion", bad, "--criterion", ok);
    cr_assert_eq(rc, 1, "%s", out);
    cr_assert(strstr(out, "chB: 4 passed, 1 failed") != NULL, "%s", out);
    cr_assert(strstr(out, "[FAIL] suite::broken") != NULL, "Criterion's failure lines are shown:\n%s", out);
    cr_assert(strstr(out, "suite::broken run again alone") != NULL, "%s", out);
    cr_assert(strstr(out, "the failing test printed this") != NULL, "the rerun's output is shown:\n%s", out);
    cr_assert_str_eq(last_line(out), "6 passed, 1 failed");
    free(out);
}

Test(harness, a_test_binary_that_dies_counts_all_its_tests_as_failed)
{
    /* no Synthesis line (the runner itself crashed); --list says 4 tests */
    script("dies", "if [ \"$1\" = --list ]; then echo 'suite: 4 tests'; exit 0; fi\nkill -9 $$\n");
    char spec[400], step[600], *out = NULL;
    snprintf(spec, sizeof spec, "chD=%s/dies", dir);
    snprintf(step, sizeof step, "conformance=%s/c.log=echo boom; exit 3", dir);
    int rc = run_tests(&out, "--criterion", spec, "--step", step);
    cr_assert_eq(rc, 1, "%s", out);
    cr_assert(strstr(out, "chD: 0 passed, 4 failed") != NULL, "%s", out);
    cr_assert(strstr(out, "conformance: FAILED, exit status 3") != NULL, "%s", out);
    cr_assert(strstr(out, "boom") != NULL, "a failed step's log tail is shown:\n%s", out);
    cr_assert_str_eq(last_line(out), "0 passed, 5 failed");
    free(out);
}

/* With RK_TEST_LOG_DIR set, the logs of a test's folder survive its removal. */
Test(harness, rmtree_keeps_the_logs_when_asked)
{
    char sub[400], keep[400], path[500];
    snprintf(sub, sizeof sub, "%s/rk-sdk-AbC123", dir);
    snprintf(keep, sizeof keep, "%s/kept", dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
    cr_assert_eq(mkdir(keep, 0755), 0);
    snprintf(path, sizeof path, "%s/broker.log", sub);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fputs("boot success\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/data.bin", sub);
    f = fopen(path, "w");
    cr_assert(f != NULL);
    fclose(f);
    cr_assert_eq(setenv("RK_TEST_LOG_DIR", keep, 1), 0);
    cr_assert_eq(rk_tk_rmtree(sub), 0);
    unsetenv("RK_TEST_LOG_DIR");
    cr_assert_lt(rk_tk_file_size(sub), 0, "the folder is gone");
    snprintf(path, sizeof path, "%s/rk-sdk-AbC123/broker.log", keep);
    cr_assert_eq(rk_tk_file_size(path), 13, "its log was kept");
    snprintf(path, sizeof path, "%s/rk-sdk-AbC123/data.bin", keep);
    cr_assert_lt(rk_tk_file_size(path), 0, "only logs are kept");
}
