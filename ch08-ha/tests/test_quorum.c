/* test_quorum.c — the HA ack stage in election mode (rk_ha_set_quorum):
 * a master parks a put until the quorum holds it, even with no slave
 * connected yet, and a put that reaches the stage on a replica that is no
 * longer the master is never acknowledged. The broker runs in this process
 * so the test can put straight into its commitlog (below chapter 7's write
 * gate, as a send racing a step-down would). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pair.h"
#include "rk/broker.h"
#include "rk/error.h"
#include "rk/ha.h"
#include "rk/log.h"
#include "rk/message.h"

static tk_pair_t p;

static void fini(void) { tk_pair_stop(&p); }

TestSuite(quorum, .fini = fini, .timeout = 60);

static rk_put_status_t put_one(rk_broker_t *b, const char *body)
{
    rk_commitlog_t *cl = rk_store_commitlog(rk_broker_store(b));
    rk_msg_t m;
    memset(&m, 0, sizeof m);
    m.topic = "QTopic";
    m.topic_len = 6;
    m.body = (const uint8_t *)body;
    m.body_len = strlen(body);
    m.store_host = *rk_commitlog_store_host(cl);
    m.born_ts = 1;
    rk_host_parse("127.0.0.1:1234", &m.born_host);
    rk_put_result_t r;
    cr_assert_eq(rk_commitlog_put(cl, &m, &r), 0);
    return r.status;
}

static void wait_role(rk_ha_t *ha, rk_ha_role_t role)
{
    for (int i = 0; i < 300 && rk_ha_role(ha) != role; i++)
        usleep(10000);
    cr_assert_eq(rk_ha_role(ha), role);
}

Test(quorum, a_put_waits_for_the_quorum_and_a_non_master_never_acknowledges)
{
    rk_log_set_level(RK_LOG_ERROR);
    tk_pair_init(&p, NULL, "brokerRole=SLAVE\nsyncFlushTimeout=500\n");
    rk_kv_t kv;
    rk_kv_init(&kv);
    char err[512] = "";
    cr_assert_eq(rk_kv_load_file(&kv, p.s.conf, err, sizeof err), 0, "%s", err);
    const rk_broker_module_t *const mods[] = {&rk_broker_core_module, &rk_broker_stats_module, &rk_ha_module, NULL};
    rk_broker_t *b = NULL;
    cr_assert_eq(rk_broker_start(&kv, mods, &b, err, sizeof err), 0, "%s", err);
    rk_ha_t *ha = rk_ha_of(b);
    cr_assert_eq(rk_ha_set_quorum(ha, -1), RK_EINVAL);
    cr_assert_eq(rk_ha_set_quorum(ha, 1), 0);           /* a group of three: one follower + itself */

    /* the master: no follower connected — parked, then 12 (not 11 as classic SYNC_MASTER says) */
    cr_assert_eq(rk_ha_switch_role(ha, RK_HA_SYNC_MASTER, 0, NULL), 0);
    wait_role(ha, RK_HA_SYNC_MASTER);
    cr_assert_eq(put_one(b, "waits for a majority"), RK_PUT_FLUSH_SLAVE_TIMEOUT);

    /* stepped down: a put that still reaches the stage is refused */
    cr_assert_eq(rk_ha_switch_role(ha, RK_HA_SLAVE, 1, NULL), 0);
    wait_role(ha, RK_HA_SLAVE);
    cr_assert_eq(put_one(b, "after the step-down"), RK_PUT_SLAVE_NOT_AVAILABLE,
                 "a replica that is not the master acknowledged a put");

    /* a group of one: the master alone is the majority */
    cr_assert_eq(rk_ha_set_quorum(ha, 0), 0);
    cr_assert_eq(rk_ha_switch_role(ha, RK_HA_SYNC_MASTER, 0, NULL), 0);
    wait_role(ha, RK_HA_SYNC_MASTER);
    cr_assert_eq(put_one(b, "alone"), RK_PUT_OK);
    rk_broker_stop(b);
    rk_kv_free(&kv);
}
