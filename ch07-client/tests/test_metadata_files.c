/* test_metadata_files.c — topics.json and subscriptionGroup.json are never
 * rolled back to their .bak silently (issue 9, item 10): the loaders refuse
 * an unusable file with a message naming it and its .bak, load the .bak
 * only when metadataFallbackToBak=true, and mqbroker exits 1 with that
 * message (no crash, no "boot success"). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"
#include "rk/subscription_group.h"
#include "rk/testkit.h"
#include "rk/topic_config.h"

static char dir[256], cfgdir[300], tpath[400], tbak[420], gpath[400], gbak[420];
static FILE *logf;

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "metafiles"), 0);
    snprintf(cfgdir, sizeof cfgdir, "%s/store/config", dir);
    cr_assert_eq(rk_mkdirs(cfgdir, 0755), 0);
    snprintf(tpath, sizeof tpath, "%s/topics.json", cfgdir);
    snprintf(tbak, sizeof tbak, "%s.bak", tpath);
    snprintf(gpath, sizeof gpath, "%s/subscriptionGroup.json", cfgdir);
    snprintf(gbak, sizeof gbak, "%s.bak", gpath);
    char lp[300];
    snprintf(lp, sizeof lp, "%s/test.log", dir);
    logf = fopen(lp, "w");
    cr_assert_not_null(logf);
    rk_log_init(RK_LOG_INFO, logf);
}

static void teardown(void)
{
    rk_log_init(RK_LOG_INFO, NULL);
    fclose(logf);
    rk_tk_rmtree(dir);
}

TestSuite(metafiles, .init = setup, .fini = teardown, .timeout = 60);

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* topics.json.bak knows Old; topics.json (Old + New) is cut short. */
static void torn_topics(void)
{
    write_file(tbak, "{\"dataVersion\":{\"counter\":1,\"timestamp\":1},\"topicConfigTable\":{"
                     "\"Old\":{\"perm\":6,\"readQueueNums\":4,\"writeQueueNums\":4,\"topicName\":\"Old\"}}}");
    write_file(tpath, "{\"dataVersion\":{\"counter\":2,\"timestamp\":2},\"topicConfigTable\":{"
                      "\"Old\":{\"perm\":6,\"readQueueNums\":4,\"writeQueueNums\":4,\"topicName\":\"Old\"},"
                      "\"New\":{\"perm\":6,\"readQu");
}

static int open_topics(bool fallback, rk_topic_manager_t **m, char *err, size_t errlen)
{
    rk_topic_manager_config_t cfg = {.path = tpath, .cluster_name = "DefaultCluster", .broker_name = "broker-a", .auto_create_topic = true, .default_queue_nums = 8, .fallback_to_bak = fallback};
    *m = NULL;
    return rk_topic_manager_open(&cfg, m, err, errlen);
}

Test(metafiles, invalid_topics_json_with_bak_refuses_naming_both_files)
{
    torn_topics();
    rk_topic_manager_t *m;
    char err[1024] = "";
    cr_assert_neq(open_topics(false, &m, err, sizeof err), 0, "the newest topic would be lost");
    cr_assert_null(m);
    cr_assert_not_null(strstr(err, tpath), "%s", err);
    cr_assert_not_null(strstr(err, tbak), "%s", err);
    cr_assert_not_null(strstr(err, "metadataFallbackToBak=true"), "%s", err);
}

Test(metafiles, opt_in_loads_topics_json_bak)
{
    torn_topics();
    rk_topic_manager_t *m;
    char err[1024] = "";
    cr_assert_eq(open_topics(true, &m, err, sizeof err), 0, "%s", err);
    rk_topic_config_t t;
    cr_assert_eq(rk_topic_get(m, "Old", &t), 0);
    cr_assert_eq(t.read_queues, 4);
    rk_topic_manager_close(m);
}

Test(metafiles, invalid_subscription_groups_with_bak_refuse_unless_opted_in)
{
    write_file(gbak, "{\"subscriptionGroupTable\":{\"g1\":{\"groupName\":\"g1\",\"retryMaxTimes\":3}}}");
    write_file(gpath, "{\"subscriptionGroupTable\":{\"g1\":{\"groupName\"");
    rk_group_manager_t *m = NULL;
    char err[1024] = "";
    cr_assert_neq(rk_group_manager_open_opts(gpath, false, false, &m, err, sizeof err), 0);
    cr_assert_not_null(strstr(err, gbak), "%s", err);
    cr_assert_eq(rk_group_manager_open_opts(gpath, false, true, &m, err, sizeof err), 0, "%s", err);
    rk_group_config_t g;
    cr_assert_eq(rk_group_get(m, "g1", &g), 0);
    cr_assert_eq(g.retry_max_times, 3);
    rk_group_manager_close(m);
}

static void write_conf(const char *conf, int port, bool fallback)
{
    FILE *f = fopen(conf, "w");
    cr_assert_not_null(f);
    fprintf(f, "brokerClusterName=TestCluster\nbrokerName=broker-m\nbrokerId=0\n"
               "brokerIP1=127.0.0.1\nlistenHost=127.0.0.1\nlistenPort=%d\nstorePathRootDir=%s/store\n"
               "mappedFileSizeCommitLog=1048576\n%s",
            port, dir, fallback ? "metadataFallbackToBak=true\n" : "");
    fclose(f);
}

Test(metafiles, mqbroker_exits_1_naming_the_files_and_starts_with_the_opt_in)
{
    torn_topics();
    char conf[300], log[300];
    snprintf(conf, sizeof conf, "%s/broker.conf", dir);
    snprintf(log, sizeof log, "%s/broker.log", dir);
    int port = rk_tk_free_port();
    write_conf(conf, port, false);
    char *argv[] = {(char *)rk_tk_bin("mqbroker"), "-c", conf, NULL};
    pid_t pid = rk_tk_spawn(argv, log);
    cr_assert_gt(pid, 0);
    int status = rk_tk_wait(pid, 20000);
    if (status == -ETIMEDOUT)
        rk_tk_stop(pid, 5000);
    cr_assert_neq(status, -ETIMEDOUT, "mqbroker started with an invalid topics.json");
    cr_assert(WIFEXITED(status), "mqbroker did not exit cleanly (status %d)", status);
    cr_assert_eq(WEXITSTATUS(status), 1);
    char *out = NULL;
    cr_assert_eq(rk_file_read_all(log, &out, NULL), 0);
    cr_assert_not_null(strstr(out, tbak), "%s", out);
    cr_assert_null(strstr(out, "boot success"), "%s", out);
    free(out);

    write_conf(conf, port, true);
    pid = rk_tk_spawn(argv, log);
    cr_assert_gt(pid, 0);
    bool up = rk_tk_wait_port(port, 20000);
    rk_tk_stop(pid, 10000);
    cr_assert(up, "mqbroker did not start with metadataFallbackToBak=true (see %s)", log);
}
