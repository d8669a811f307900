/* test_role_switch.c — rk_ha_switch_role, the hook an election drives: a
 * slave whose master is gone becomes a master that continues the log (same
 * physical and queue offsets) and takes writes. The slave runs in this
 * process so the test can call the function; the master is a real process. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/tk_pair.h"
#include "rk/broker.h"
#include "rk/error.h"
#include "rk/ha.h"
#include "rk/log.h"
#include "rk/message.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

static rk_tk_pair_t p;

static void fini(void) { rk_tk_pair_stop(&p); }

TestSuite(role_switch, .fini = fini, .timeout = 60);

Test(role_switch, a_slave_switched_to_master_continues_the_log_and_takes_writes)
{
    rk_log_set_level(RK_LOG_ERROR);
    rk_tk_pair_init(&p, NULL, "brokerRole=SLAVE\n");
    rk_tk_broker_start(&p.m);
    rk_tk_send_n(&p, "SwitchTopic", 20, 300);       /* all to queue 0: queue offsets 0..19 */
    rk_kv_t kv;
    rk_kv_init(&kv);
    char err[512] = "";
    cr_assert_eq(rk_kv_load_file(&kv, p.s.conf, err, sizeof err), 0, "%s", err);
    const rk_broker_module_t *const mods[] = {&rk_broker_core_module, &rk_broker_stats_module, &rk_ha_module, NULL};
    rk_broker_t *b = NULL;
    cr_assert_eq(rk_broker_start(&kv, mods, &b, err, sizeof err), 0, "%s", err);
    rk_ha_t *ha = rk_ha_of(b);
    cr_assert_not_null(ha);
    cr_assert_eq(rk_ha_role(ha), RK_HA_SLAVE);
    cr_assert(rk_tk_wait_caught_up(&p, 10000));
    int64_t end = rk_tk_max_offset(&p, p.m.addr);
    rk_tk_broker_stop(&p.m);                          /* the master is gone */

    rk_cmd_t *resp = rk_tk_send(&p, p.s.addr, "SwitchTopic", "refused");
    cr_assert_eq(resp->code, RK_RESP_SERVICE_NOT_AVAILABLE);
    rk_cmd_free(resp);
    cr_assert_eq(rk_ha_switch_role(ha, RK_HA_SLAVE, 0, NULL), RK_EINVAL, "a slave needs brokerId > 0");
    cr_assert_eq(rk_ha_switch_role(ha, RK_HA_ASYNC_MASTER, 0, NULL), 0);
    for (int i = 0; i < 200 && rk_ha_role(ha) != RK_HA_ASYNC_MASTER; i++)
        usleep(10000);
    cr_assert_eq(rk_ha_role(ha), RK_HA_ASYNC_MASTER);
    cr_assert_eq(rk_broker_id(b), 0);
    resp = rk_tk_send(&p, p.s.addr, "SwitchTopic", "written on the new master");
    cr_assert_eq(resp->code, 0, "got %d %s", resp->code, resp->remark ? resp->remark : "");
    rk_host_t h;
    int64_t phys = -1, qoff = -1;
    cr_assert_eq(rk_msgid_decode(rk_cmd_ext_get(resp, "msgId"), &h, &phys), 0);
    rk_cmd_ext_i64(resp, "queueOffset", &qoff);
    cr_assert_eq(phys, end, "the new master's first record is where the old log ended");
    cr_assert_eq(qoff, 20, "queue offsets continue the old master's");
    rk_cmd_free(resp);

    /* The old master comes back as a slave of the new one: its log is a
     * prefix of the new master's, so it simply catches up. */
    FILE *f = fopen(p.m.conf, "a");
    cr_assert(f != NULL);
    fprintf(f, "brokerRole=SLAVE\nbrokerId=1\nhaMasterAddress=127.0.0.1:%d\n", p.s.ha_port);
    fclose(f);
    rk_tk_broker_start(&p.m);
    rk_tk_send_n_to(&p, p.s.addr, "SwitchTopic", 10, 300);
    cr_assert(rk_tk_wait_caught_up(&p, 10000), "the old master did not follow the new one (see %s)", p.m.log);
    rk_tk_broker_stop(&p.m);

    /* and back: the new master steps down (to follow a master at an
     * address where nobody listens): writes are refused again */
    cr_assert_eq(rk_ha_switch_role(ha, RK_HA_SLAVE, 2, "127.0.0.1:1"), 0);
    for (int i = 0; i < 200 && rk_ha_role(ha) != RK_HA_SLAVE; i++)
        usleep(10000);
    cr_assert_eq(rk_ha_role(ha), RK_HA_SLAVE);
    cr_assert_eq(rk_broker_id(b), 2);
    resp = rk_tk_send(&p, p.s.addr, "SwitchTopic", "refused again");
    cr_assert_eq(resp->code, RK_RESP_SERVICE_NOT_AVAILABLE, "got %d", resp->code);
    rk_cmd_free(resp);
    rk_broker_stop(b);
    rk_kv_free(&kv);
    rk_tk_assert_same_commitlog(&p);
}
