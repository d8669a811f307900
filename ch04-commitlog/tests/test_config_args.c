/* test_config_args.c — what programs share for their settings: the command line
 * (rk_config_args), -p (rk_config_print_kv) and -h (rk_config_usage). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/config.h"
#include "rk/error.h"
#include "rk/fileutil.h"

typedef struct demo {
    char *name;
    int64_t port;
    bool on;
} demo_t;

static const rk_config_field_t demo_fields[] = {
    {"demoName", RK_CFG_STR, offsetof(demo_t, name), "", 0, 0, NULL, "a name"},
    {"demoPort", RK_CFG_INT, offsetof(demo_t, port), "8080", 0, 65535, NULL, "a port"},
    {"demoOn", RK_CFG_BOOL, offsetof(demo_t, on), "false", 0, 0, NULL, NULL},
    {0},
};

static const rk_config_flag_t flags[] = {{"-n", "demoName"}, {"-l", "demoPort"}, {NULL, NULL}};

static int usages;
static FILE *usage_to;
static void usage(FILE *f, const void *ctx)
{
    cr_assert_eq(ctx, &usages);
    usages++;
    usage_to = f;
}

/* argv from a string literal list; the strings are literals, the array is static per call site */
static int run(rk_kv_t *kv, const char **file, bool *print, int argc, const char **argv)
{
    usages = 0;
    usage_to = NULL;
    return rk_config_args("demo", argc, (char **)argv, flags, kv, file, print, usage, &usages);
}

static char *memfile(const char *text)
{
    char *path = strdup("/tmp/rk-config-args-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

Test(config_args, file_then_flags_later_wins_and_print)
{
    char *path = memfile("demoName=fromfile\ndemoPort=1\n");
    rk_kv_t kv;
    rk_kv_init(&kv);
    const char *file = (const char *)1;
    bool print = false;
    const char *argv[] = {"demo", "-c", path, "-l", "2", "-p", NULL};
    cr_assert_eq(run(&kv, &file, &print, 6, argv), -1, "go on");
    cr_assert_str_eq(file, path);
    cr_assert(print);
    cr_assert_str_eq(rk_kv_get(&kv, "demoName"), "fromfile");
    cr_assert_str_eq(rk_kv_get(&kv, "demoPort"), "2", "the flag after the file wins");
    cr_assert_eq(usages, 0);
    rk_kv_free(&kv);
    unlink(path);
    free(path);
}

Test(config_args, no_arguments_means_no_file_no_print)
{
    rk_kv_t kv;
    rk_kv_init(&kv);
    const char *file = (const char *)1;
    bool print = true;
    const char *argv[] = {"demo", NULL};
    cr_assert_eq(run(&kv, &file, &print, 1, argv), -1);
    cr_assert_null(file);
    cr_assert_not(print);
    cr_assert_eq(kv.len, 0);
    rk_kv_free(&kv);
}

Test(config_args, help_unknown_missing_value_and_missing_file, .init = cr_redirect_stderr)
{
    rk_kv_t kv;
    rk_kv_init(&kv);
    const char *file;
    bool print;
    const char *help[] = {"demo", "--help", NULL};
    cr_assert_eq(run(&kv, &file, &print, 2, help), 0);
    cr_assert_eq(usages, 1);
    cr_assert_eq(usage_to, stdout);
    const char *unknown[] = {"demo", "-x", NULL};
    cr_assert_eq(run(&kv, &file, &print, 2, unknown), 2);
    cr_assert_eq(usages, 1);
    cr_assert_eq(usage_to, stderr);
    const char *novalue[] = {"demo", "-n", NULL};
    cr_assert_eq(run(&kv, &file, &print, 2, novalue), 2, "a flag without its value is an unknown argument");
    const char *nofile[] = {"demo", "-c", "/nonexistent/rk-demo.conf", NULL};
    cr_assert_eq(run(&kv, &file, &print, 3, nofile), 1);
    cr_assert_eq(usages, 0);
    rk_kv_free(&kv);
}

/* -p's output with key=value set on top of the defaults; rc and err as rk_config_print_kv left
 * them; *unused: keys no table used afterwards. */
typedef struct printed {
    char *text;
    int rc;
    int unused;
    char err[256];
} printed_t;

static printed_t printed(const char *key, const char *value)
{
    printed_t p = {0};
    rk_kv_t kv;
    rk_kv_init(&kv);
    cr_assert_eq(rk_kv_set(&kv, key, value), RK_OK);
    size_t len = 0;
    FILE *f = open_memstream(&p.text, &len);
    cr_assert_not_null(f);
    p.rc = rk_config_print_kv(demo_fields, &kv, f, p.err, sizeof p.err);
    fclose(f);
    p.unused = p.rc == RK_OK ? rk_kv_warn_unused(&kv, "demo") : -1;
    rk_kv_free(&kv);
    return p;
}

Test(config_print_kv, defaults_then_the_keys_given)
{
    printed_t p = printed("demoName", "n1");
    cr_assert_eq(p.rc, RK_OK, "%s", p.err);
    cr_assert_str_eq(p.text, "demoName=n1\ndemoPort=8080\ndemoOn=false\n");
    cr_assert_eq(p.unused, 0, "the key counts as used");
    free(p.text);
}

Test(config_print_kv, a_bad_value_prints_nothing_and_names_the_key)
{
    printed_t p = printed("demoPort", "70000");
    cr_assert_neq(p.rc, RK_OK);
    cr_assert_str_eq(p.text, "");
    cr_assert(strstr(p.err, "demoPort"), "%s", p.err);
    free(p.text);
}

Test(config_usage, one_line_per_field_dash_for_no_default)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    rk_config_usage(demo_fields, 10, f);
    fclose(f);
    cr_assert_str_eq(text, "  demoName   a name (default -)\n"
                           "  demoPort   a port (default 8080)\n"
                           "  demoOn      (default false)\n");
    free(text);
}
