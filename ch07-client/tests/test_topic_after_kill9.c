/* test_topic_after_kill9.c — a message acknowledged to a topic created by that very send stays
 * readable after a kill -9, although topics.json (written a moment after an automatic
 * creation, flushTopicConfigInterval) had not recorded the topic yet. Before, the restarted
 * broker answered every pull of it TOPIC_NOT_EXIST until someone sent to the topic again (the
 * verifier found it; the broker now adopts the topics its store holds, rk_topic_adopt). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"

static tk_cluster_t c;

static void fini(void) { tk_cluster_stop(&c); }

TestSuite(topic_after_kill9, .fini = fini, .timeout = 60);

Test(topic_after_kill9, an_acknowledged_message_of_a_brand_new_topic_is_readable_after_kill_9)
{
    /* a long write interval: the kill surely comes before topics.json is written */
    tk_cluster_start(&c, "flushTopicConfigInterval=60000\n");
    char *out = NULL;
    cr_assert_eq(tk_mqadmin(&c, &out, "sendMessage", "-t", "JustMade", "-p", "survivor-1", NULL), 0, "%s", out);
    cr_assert(strstr(out, "SEND_OK") != NULL, "%s", out);
    free(out);
    tk_cluster_kill9_restart_broker(&c);
    bool found = false;
    for (int t = 0; t < 50 && !found; t++) {        /* the restart re-registers the topic */
        out = NULL;
        found = tk_mqadmin(&c, &out, "consumeMessage", "-t", "JustMade", "-c", "10", NULL) == 0 && out != NULL &&
                strstr(out, "survivor-1") != NULL;
        if (!found) {
            if (t == 49)
                cr_log_error("%s", out ? out : "");
            usleep(100000);
        }
        free(out);
    }
    cr_assert(found, "the acknowledged message of JustMade is not readable after kill -9");
    /* and the broker's topic table has it again (so topics.json will) */
    out = NULL;
    cr_assert_eq(tk_mqadmin(&c, &out, "topicStatus", "-t", "JustMade", NULL), 0, "%s", out);
    free(out);
}
