/* test_faults.c — the assembled cluster under faults, with majority acknowledgements: after
 * each fault every acknowledged message is readable where the broker said it put it, with
 * the body sent, nothing damaged is served, and every group has exactly one master. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "fcluster.h"

static fc_t c;

/* After the test, failed or not: every process stopped by PID, the logs kept when it failed. */
static void fini(void) { fc_stop_all(&c); }

TestSuite(faults, .fini = fini);


Test(faults, kill9_of_a_master_under_load, .timeout = 120)
{
    fc_init(&c, NULL);
    fc_start_all(&c);
    au_load_t l;
    au_start(&l, &c, "FaultKill", 4, 128, 1);
    sleep(2);
    int m = fc_master(&c, "broker-a", -1, 5000);
    cr_assert(m >= 0);
    fc_kill9(&c, m);
    cr_assert(fc_master(&c, "broker-a", m, 20000) >= 0, "no new master of broker-a after the kill");
    sleep(2);
    au_stop(&l);
    cr_assert(atomic_load(&l.acked) > 0);
    fc_start(&c, m);                    /* the old master comes back as a replica */
    fc_assert_one_master_each(&c);
    au_verify(&l, 20000);
    au_free(&l);
}

Test(faults, a_paused_master_steps_down_and_rejoins, .timeout = 120)
{
    fc_init(&c, NULL);
    fc_start_all(&c);
    au_load_t l;
    au_start(&l, &c, "FaultPause", 4, 128, 2);
    sleep(1);
    int m = fc_master(&c, "broker-b", -1, 5000);
    cr_assert(m >= 0);
    fc_pause(&c, m);                    /* cut off from the majority */
    cr_assert(fc_master(&c, "broker-b", m, 20000) >= 0, "the other replicas elected no master");
    sleep(2);
    fc_resume(&c, m);                   /* it must step down, truncate what was never acknowledged, rejoin */
    sleep(2);
    au_stop(&l);
    fc_assert_one_master_each(&c);
    au_verify(&l, 20000);
    au_free(&l);
}

Test(faults, a_name_server_killed_and_every_process_killed_and_restarted, .timeout = 150)
{
    fc_init(&c, NULL);
    fc_start_all(&c);
    au_load_t l;
    au_start(&l, &c, "FaultRestart", 2, 256, 3);
    sleep(1);
    int ns = fc_find(&c, "namesrv-1");
    cr_assert(ns >= 0);
    fc_kill9(&c, ns);                   /* clients and brokers go on with the other name server */
    sleep(2);
    fc_start(&c, ns);
    sleep(1);
    au_stop(&l);
    int64_t acked = atomic_load(&l.acked);
    cr_assert(acked > 0);
    for (int i = 0; i < c.n; i++)       /* a power cut */
        fc_kill9(&c, i);
    fc_start_all(&c);
    fc_assert_one_master_each(&c);
    au_verify(&l, 30000);
    au_free(&l);
}
