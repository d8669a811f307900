/* test_adopt.c — a topic the master created after its replicas' last metadata copy is
 * readable on the replica elected in its place: the replicas adopt the topics their log holds
 * (ha_meta.c). Before that, the new master answered every pull of such a topic
 * TOPIC_NOT_EXIST, although it stored every acknowledged message of it. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "rk/tk_pair.h"
#include "rk/log.h"
#include "rk/testkit.h"

static rk_tk_trio_t t;

static void fini(void) { rk_tk_trio_stop(&t); }

TestSuite(adopt, .fini = fini, .timeout = 120);

Test(adopt, a_topic_created_just_before_the_master_died_is_readable_on_the_new_master)
{
    rk_log_set_level(RK_LOG_ERROR);
    /* no metadata copy during the test: the replicas learn the topic from the log only */
    rk_tk_trio_init(&t, "slaveSyncMetaInterval=600000\n");
    for (int i = 0; i < 3; i++)
        rk_tk_broker_start(&t.r[i]);
    int leader = rk_tk_trio_leader(&t, -1, 15000);
    cr_assert(leader >= 0, "no leader elected (see %s)", t.r[0].log);
    rk_tk_send_n_to(&t.base, t.r[leader].addr, "FreshTopic", 20, 100);     /* auto-created, majority-acked */
    rk_tk_kill(t.r[leader].pid, SIGKILL);
    rk_tk_wait(t.r[leader].pid, 5000);
    t.r[leader].pid = -1;
    int now = rk_tk_trio_leader(&t, leader, 15000);
    cr_assert(now >= 0, "no new leader after the kill");
    char *bodies[64];
    int n = 0;
    for (int k = 0; k < 100 && n < 20; k++) {       /* the new master may still be dispatching */
        for (int i = 0; i < n; i++)
            free(bodies[i]);
        n = rk_tk_pull_all(&t.base, t.r[now].addr, "FreshTopic", 8, bodies, 64);
        if (n < 20)
            usleep(50000);
    }
    cr_assert_eq(n, 20, "the new master served %d of the 20 acknowledged messages of FreshTopic", n);
    for (int i = 0; i < n; i++)
        free(bodies[i]);
}
