/* test_topic_config.c — the broker's topics.json and the auto-create rules. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"
#include "rk/topic_config.h"
#include "rk/testkit.h"

static char dir[256], path[300];

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "topics"), 0);
    snprintf(path, sizeof path, "%s/config/topics.json", dir);
}

static void teardown(void) { rk_tk_rmtree(dir); }

TestSuite(topics, .init = setup, .fini = teardown);

static rk_topic_manager_t *open_m(bool auto_create)
{
    rk_topic_manager_config_t cfg = {.path = path, .cluster_name = "DefaultCluster", .broker_name = "broker-a",
                                     .auto_create_topic = auto_create, .default_queue_nums = 8};
    rk_topic_manager_t *m;
    char err[200] = "";
    cr_assert_eq(rk_topic_manager_open(&cfg, &m, err, sizeof err), 0, "%s", err);
    return m;
}

Test(topics, built_in_topics_exist_and_tbw102_only_with_auto_create)
{
    rk_topic_manager_t *m = open_m(true);
    rk_topic_config_t t;
    cr_assert_eq(rk_topic_get(m, "TBW102", &t), 0);
    cr_assert_eq(t.perm, 7);
    cr_assert_eq(t.write_queues, 8);
    cr_assert_eq(rk_topic_get(m, "SELF_TEST_TOPIC", &t), 0);
    cr_assert_eq(rk_topic_get(m, "DefaultCluster", &t), 0);
    cr_assert_eq(t.read_queues, 16);
    cr_assert_eq(rk_topic_get(m, "broker-a", &t), 0);
    rk_topic_manager_close(m);
    rk_tk_rmtree(dir);
    setup();
    m = open_m(false);
    cr_assert_eq(rk_topic_get(m, "TBW102", &t), RK_ENOTFOUND);
    bool created;
    cr_assert_eq(rk_topic_get_or_create_in_send(m, "NewTopic", "TBW102", 4, &t, &created), RK_ENOTFOUND,
                 "no auto-create without TBW102");
    rk_topic_manager_close(m);
}

Test(topics, first_send_creates_from_the_default_topic)
{
    rk_topic_manager_t *m = open_m(true);
    int64_t c0, ts;
    rk_topic_data_version(m, &c0, &ts);
    rk_topic_config_t t;
    bool created;
    cr_assert_eq(rk_topic_get_or_create_in_send(m, "Orders", "TBW102", 4, &t, &created), 0);
    cr_assert(created);
    cr_assert_eq(t.write_queues, 4, "min(asked, TBW102's)");
    cr_assert_eq(t.perm, 6, "TBW102's perm without INHERIT");
    cr_assert_eq(rk_topic_get_or_create_in_send(m, "Big", "TBW102", 64, &t, &created), 0);
    cr_assert_eq(t.write_queues, 8, "never more than TBW102's");
    cr_assert_eq(rk_topic_get_or_create_in_send(m, "Orders", "TBW102", 2, &t, &created), 0);
    cr_assert(!created);
    cr_assert_eq(t.write_queues, 4, "an existing topic is left alone");
    int64_t c1;
    rk_topic_data_version(m, &c1, &ts);
    cr_assert_eq(c1, c0 + 2, "each creation bumps the data version");
    cr_assert_eq(rk_topic_get_or_create_in_send(m, "bad topic!", "TBW102", 4, &t, &created), RK_EINVAL);
    rk_topic_manager_close(m);
}

Test(topics, persist_in_rocketmq_format_and_survive_reopen_and_a_torn_file)
{
    rk_topic_manager_t *m = open_m(true);
    rk_topic_config_t t = {.read_queues = 3, .write_queues = 3, .perm = 6, .order = true};
    snprintf(t.name, sizeof t.name, "Kept");
    cr_assert_eq(rk_topic_put(m, &t), 0);
    snprintf(t.name, sizeof t.name, "Second");
    cr_assert_eq(rk_topic_put(m, &t), 0);
    rk_topic_manager_close(m);
    char *text = NULL;
    cr_assert_eq(rk_file_read_all(path, &text, NULL), 0);
    cr_assert(strstr(text, "\"topicConfigTable\":{") != NULL, "%s", text);
    cr_assert(strstr(text, "\t\"dataVersion\":{") != NULL, "tab-indented like fastjson's pretty: %s", text);
    cr_assert(strstr(text, "\"topicFilterType\":\"SINGLE_TAG\",\n\t\t\t\"topicName\":\"Kept\"") != NULL, "%s", text);
    free(text);
    FILE *f = fopen(path, "w");     /* torn: the .bak holds the previous version */
    fputs("{\"topicConf", f);
    fclose(f);
    /* refused by default (it would roll back silently); loaded with the opt-in */
    rk_topic_manager_config_t cfg = {.path = path, .cluster_name = "DefaultCluster", .broker_name = "broker-a", .auto_create_topic = true, .default_queue_nums = 8};
    char err[600] = "";
    cr_assert_eq(rk_topic_manager_open(&cfg, &m, err, sizeof err), RK_ECORRUPT);
    cr_assert(strstr(err, ".bak") != NULL, "%s", err);
    cfg.fallback_to_bak = true;
    rk_log_set_level(RK_LOG_OFF);           /* its ERROR line is expected */
    cr_assert_eq(rk_topic_manager_open(&cfg, &m, err, sizeof err), 0, "%s", err);
    rk_log_set_level(RK_LOG_INFO);
    rk_topic_config_t got;
    cr_assert_eq(rk_topic_get(m, "Kept", &got), 0);
    cr_assert_eq(got.read_queues, 3);
    cr_assert(got.order);
    char *body = rk_topic_register_body(m);
    cr_assert(strstr(body, "\"topicConfigSerializeWrapper\":{\"dataVersion\"") != NULL, "%s", body);
    cr_assert(strstr(body, "\"Kept\":{") != NULL);
    free(body);
    rk_topic_manager_close(m);
}

Test(topics, names_follow_rocketmq_rules)
{
    cr_assert(rk_topic_name_valid("TopicTest"));
    cr_assert(rk_topic_name_valid("%RETRY%group_1"));
    cr_assert(!rk_topic_name_valid(""));
    cr_assert(!rk_topic_name_valid("a b"));
    cr_assert(!rk_topic_name_valid("topic/x"));
    char longname[200];
    memset(longname, 'a', 128);
    longname[128] = '\0';
    cr_assert(!rk_topic_name_valid(longname));
    longname[127] = '\0';
    cr_assert(rk_topic_name_valid(longname));
}
