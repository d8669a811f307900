/* test_system_topics.c — a client may not create, update or delete RocketMQ's system topics
 * (TopicValidator.isSystemTopic). Before, UPDATE_AND_CREATE_TOPIC redefined TBW102 (perm 0 on it
 * stopped every new topic's first send) and DELETE_TOPIC_IN_BROKER removed the timer's
 * rmq_sys_wheel_timer. */
#include <criterion/criterion.h>
#include <string.h>

#include "cluster.h"
#include "rk/error.h"
#include "rk/names.h"
#include "rk/remoting_cmd.h"
#include "rk/request_code.h"

static tk_cluster_t c;

static void fini(void) { tk_cluster_stop(&c); }

TestSuite(system_topics, .fini = fini, .timeout = 60);

Test(system_topics, names)
{
    cr_assert(rk_topic_is_system("TBW102"));
    cr_assert(rk_topic_is_system("SCHEDULE_TOPIC_XXXX"));
    cr_assert(rk_topic_is_system("RMQ_SYS_TRANS_HALF_TOPIC"));
    cr_assert(rk_topic_is_system("rmq_sys_wheel_timer"));
    cr_assert(!rk_topic_is_system("TopicTest"));
    cr_assert(!rk_topic_is_system("%RETRY%group"));
    cr_assert(!rk_topic_is_system(NULL));
}

Test(system_topics, create_update_and_delete_are_refused)
{
    tk_cluster_start(&c, NULL);
    const char *topics[] = {"TBW102", "SCHEDULE_TOPIC_XXXX", "rmq_sys_wheel_timer", "TRANS_CHECK_MAX_TIME_TOPIC"};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
        rk_cmd_t *req = rk_cmd_new(RK_REQ_UPDATE_AND_CREATE_TOPIC);
        rk_cmd_ext_set(req, "topic", topics[i]);
        rk_cmd_ext_set(req, "perm", "0");
        rk_cmd_t *resp = tk_ask(c.br, req);
        cr_assert(resp != NULL);
        cr_assert_eq(resp->code, RK_RESP_SYSTEM_ERROR, "%s: code %d", topics[i], resp->code);
        cr_assert(resp->remark != NULL && strstr(resp->remark, "conflict with system topic") != NULL, "%s: %s",
                  topics[i], resp->remark ? resp->remark : "");
        rk_cmd_free(resp);
        req = rk_cmd_new(215);          /* DELETE_TOPIC_IN_BROKER */
        rk_cmd_ext_set(req, "topic", topics[i]);
        resp = tk_ask(c.br, req);
        cr_assert(resp != NULL);
        cr_assert_neq(resp->code, RK_RESP_SUCCESS, "%s was deleted", topics[i]);
        rk_cmd_free(resp);
    }
    /* TBW102 still lends its queues: a first send to a new topic works */
    char *out = NULL;
    cr_assert_eq(tk_mqadmin(&c, &out, "sendMessage", "-t", "BrandNew", "-p", "hello", NULL), 0, "%s", out);
    free(out);
}
