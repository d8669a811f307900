/* test_broker_startup.c — what mqbroker and mqnamesrv tell a newcomer at
 * start (issue 9 items 14 and 15): whether the broker reached its name
 * servers (or runs standalone), and config typos warned before serving,
 * with the key that was probably meant. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/config.h"
#include "rk/fileutil.h"
#include "rk/testkit.h"

static char dir[256];
static pid_t pids[4];
static int npids;

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "startup"), 0);
    npids = 0;
}

static void teardown(void)
{
    for (int i = npids - 1; i >= 0; i--)
        rk_tk_stop(pids[i], 10000);
    if (getenv("RK_KEEP_TMP") == NULL)
        rk_tk_rmtree(dir);
}

TestSuite(startup, .init = setup, .fini = teardown, .timeout = 60);

static char *read_log(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    if (rk_file_read_all(path, &text, &len) != 0)
        return NULL;
    return text;
}

/* Waits (up to 10 s) until the log at path contains want; returns the log. */
static char *wait_log(const char *path, const char *want)
{
    for (int i = 0; i < 1000; i++) {
        char *t = read_log(path);
        if (t != NULL && strstr(t, want) != NULL)
            return t;
        free(t);
        usleep(10000);
    }
    char *t = read_log(path);
    cr_assert_fail("\"%s\" never appeared in %s:\n%s", want, path, t ? t : "(no log)");
    return NULL;
}

static int start_namesrv(const char *extra, const char *logname)
{
    int port = rk_tk_free_port();
    char conf[300], log[300];
    snprintf(conf, sizeof conf, "%s/ns%d.conf", dir, port);
    FILE *f = fopen(conf, "w");
    cr_assert(f != NULL);
    fprintf(f, "listenPort=%d\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv%d.json\n%s", port, dir, port,
            extra ? extra : "");
    fclose(f);
    snprintf(log, sizeof log, "%s/%s", dir, logname);
    char *argv[] = {(char *)(RK_BIN_DIR "/../../ch06/bin/mqnamesrv"), "-c", conf, NULL};
    pid_t pid = rk_tk_spawn(argv, log);
    cr_assert(pid > 0);
    pids[npids++] = pid;
    cr_assert(rk_tk_wait_port(port, 5000), "mqnamesrv did not start (see %s)", log);
    return port;
}

/* Starts mqbroker with the given namesrvAddr line (may be "") and extra
 * keys; returns its log path (static). */
static const char *start_broker(const char *ns_line, const char *extra)
{
    static char log[300];
    char conf[300];
    snprintf(conf, sizeof conf, "%s/broker.conf", dir);
    FILE *f = fopen(conf, "w");
    cr_assert(f != NULL);
    fprintf(f, "brokerClusterName=TestCluster\nbrokerName=broker-t\n%s\nbrokerIP1=127.0.0.1\nlistenHost=127.0.0.1\n"
               "listenPort=%d\nstorePathRootDir=%s/store\nmappedFileSizeCommitLog=1048576\n%s",
            ns_line, rk_tk_free_port(), dir, extra ? extra : "");
    fclose(f);
    snprintf(log, sizeof log, "%s/broker.log", dir);
    char *argv[] = {(char *)rk_tk_bin("mqbroker"), "-c", conf, NULL};
    pid_t pid = rk_tk_spawn(argv, log);
    cr_assert(pid > 0);
    pids[npids++] = pid;
    return log;
}

Test(startup, a_broker_that_reached_no_name_server_says_so_instead_of_boot_success)
{
    char ns[64];
    snprintf(ns, sizeof ns, "namesrvAddr=127.0.0.1:%d", rk_tk_free_port());     /* nobody listens there */
    const char *log = start_broker(ns, NULL);
    char *t = wait_log(log, "The broker[");
    cr_assert(strstr(t, "reached none of its name servers (127.0.0.1:") != NULL, "%s", t);
    cr_assert(strstr(t, "retrying every 30 s") != NULL, "%s", t);
    cr_assert(strstr(t, "boot success") == NULL, "%s", t);
    free(t);
}

/* Starts mqnamesrv on a given port. */
static void start_namesrv_on(int port, const char *logname)
{
    char conf[300], log[300];
    snprintf(conf, sizeof conf, "%s/ns%d.conf", dir, port);
    FILE *f = fopen(conf, "w");
    cr_assert(f != NULL);
    fprintf(f, "listenPort=%d\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv%d.json\n", port, dir, port);
    fclose(f);
    snprintf(log, sizeof log, "%s/%s", dir, logname);
    char *argv[] = {(char *)(RK_BIN_DIR "/../../ch06/bin/mqnamesrv"), "-c", conf, NULL};
    pid_t pid = rk_tk_spawn(argv, log);
    cr_assert(pid > 0);
    pids[npids++] = pid;
    cr_assert(rk_tk_wait_port(port, 5000), "mqnamesrv did not start (see %s)", log);
}

Test(startup, a_name_server_that_comes_up_later_is_registered_with_and_the_log_says_so)
{
    int port = rk_tk_free_port();
    char ns[64];
    snprintf(ns, sizeof ns, "namesrvAddr=127.0.0.1:%d", port);
    const char *log = start_broker(ns, "registerNameServerPeriod=1000\n");
    free(wait_log(log, "reached none of its name servers"));
    start_namesrv_on(port, "late-ns.log");
    char want[96];
    snprintf(want, sizeof want, "is now registered with name server 127.0.0.1:%d", port);
    free(wait_log(log, want));
}

Test(startup, a_broker_that_reached_one_of_two_name_servers_says_which_it_missed)
{
    int up = start_namesrv(NULL, "ns.log"), down = rk_tk_free_port();
    char ns[128];
    snprintf(ns, sizeof ns, "namesrvAddr=127.0.0.1:%d;127.0.0.1:%d", up, down);
    const char *log = start_broker(ns, NULL);
    char *t = wait_log(log, "The broker[");
    char want[128];
    snprintf(want, sizeof want, "registered with 1 of 2 name servers (not reached: 127.0.0.1:%d;", down);
    cr_assert(strstr(t, want) != NULL, "%s", t);
    free(t);
}

Test(startup, a_broker_with_every_name_server_and_one_with_none_say_which)
{
    int up = start_namesrv(NULL, "ns.log");
    char ns[128];
    snprintf(ns, sizeof ns, "namesrvAddr=127.0.0.1:%d", up);
    const char *log = start_broker(ns, NULL);
    char *t = wait_log(log, "The broker[");
    cr_assert(strstr(t, "boot success, registered with 1 of 1 name servers.") != NULL, "%s", t);
    free(t);
    rk_tk_stop(pids[--npids], 10000);
    unlink(log);
    log = start_broker("", NULL);
    t = wait_log(log, "The broker[");
    cr_assert(strstr(t, "runs standalone: no namesrvAddr") != NULL, "%s", t);
    free(t);
}

Test(startup, a_typo_in_broker_conf_is_warned_before_serving_with_the_key_meant)
{
    const char *log = start_broker("", "brokerNmae=broker-x\nflushDiskTyp=SYNC_FLUSH\nnothingLikeAnyKey=1\n");
    char *t = wait_log(log, "The broker[");
    char *typo = strstr(t, "unknown config key \"brokerNmae\" ignored: did you mean brokerName?");
    char *serving = strstr(t, "serving on");
    cr_assert(typo != NULL, "%s", t);
    cr_assert(serving != NULL && typo < serving, "the warning comes before \"serving on\":\n%s", t);
    cr_assert(strstr(t, "\"flushDiskTyp\" ignored: did you mean flushDiskType?") != NULL, "a store key: %s", t);
    cr_assert(strstr(t, "\"nothingLikeAnyKey\" ignored\n") != NULL, "no suggestion when nothing is close: %s", t);
    free(t);
}

Test(startup, a_typo_in_the_name_server_conf_gets_a_suggestion_too)
{
    start_namesrv("listenPrt=9999\n", "ns.log");
    char path[300];
    snprintf(path, sizeof path, "%s/ns.log", dir);
    char *t = wait_log(path, "boot success");
    cr_assert(strstr(t, "unknown config key \"listenPrt\" ignored: did you mean listenPort?") != NULL, "%s", t);
    free(t);
}

Test(startup, edit_distance_counts_a_swap_as_one_edit_and_ignores_case)
{
    cr_assert_eq(rk_edit_distance("brokerNmae", "brokerName"), 1);
    cr_assert_eq(rk_edit_distance("brokername", "brokerName"), 0);
    cr_assert_eq(rk_edit_distance("", "abc"), 3);
    cr_assert_eq(rk_edit_distance("kitten", "sitting"), 3);
    char big[300];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_assert_eq(rk_edit_distance(big, "a"), SIZE_MAX, "long keys are not compared");
    static const rk_config_field_t t1[] = {{"brokerName", RK_CFG_STR, 0, NULL, 0, -1, NULL, ""},
                                           {"brokerId", RK_CFG_INT, 0, "0", 0, 1, NULL, ""},
                                           {0}};
    const rk_config_field_t *const tables[] = {t1, NULL};
    cr_assert_str_eq(rk_config_suggest(tables, "brokerNmae"), "brokerName");
    cr_assert_str_eq(rk_config_suggest(tables, "brokerid"), "brokerId");
    cr_assert_null(rk_config_suggest(tables, "listenPort"));
}
