/* test_replication.c — master → slave replication with real brokers on
 * loopback: byte-identical logs, a late slave, a restarted slave, and what
 * the slave itself serves from its own dispatch. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/tk_pair.h"
#include "rk/error.h"
#include "rk/message.h"
#include "rk/testkit.h"
#include "rk/tk_send.h"

static rk_tk_pair_t p;

static void fini(void) { rk_tk_pair_stop(&p); }

TestSuite(replication, .fini = fini, .timeout = 120);

static rk_cmd_t *pull_from(const char *addr, const char *topic, int64_t offset)
{
    rk_cmd_t *req = rk_tk_pull_request(&(rk_tk_pull_spec_t){.topic = topic, .offset = offset}), *resp = NULL;
    cr_assert(req != NULL);
    cr_assert_eq(rk_rclient_invoke_sync(p.cl, addr, req, 5000, &resp), 0);
    return resp;
}

Test(replication, slave_log_is_byte_identical_after_a_load_across_files)
{
    rk_tk_pair_init(&p, NULL, "brokerRole=SLAVE\nslaveReadEnable=true\n");
    rk_tk_broker_start(&p.m);
    rk_tk_broker_start(&p.s);
    cr_assert(rk_tk_wait_slave_connected(&p, 10000), "the slave never connected (see %s)", p.s.log);
    rk_tk_send_n(&p, "HaTopic", 700, 1000);           /* ~800 KB: three file rolls, BLANKs included */
    cr_assert(rk_tk_wait_caught_up(&p, 20000), "the slave did not catch up (see %s)", p.s.log);
    /* the slave's own dispatch built its consume queue: it serves the pull */
    rk_cmd_t *resp = NULL;
    for (int i = 0; i < 200; i++) {
        rk_cmd_free(resp);
        resp = pull_from(p.s.addr, "HaTopic", 0);
        if (resp->code == 0)
            break;
        usleep(20000);
    }
    cr_assert_eq(resp->code, 0, "pull from the slave: %d %s", resp->code, resp->remark ? resp->remark : "");
    rk_record_t rec;
    cr_assert_eq(rk_record_decode(resp->body, resp->body_len, true, &rec), 0);
    cr_assert(rec.body_len == 1000 && memcmp(rec.body, "m000000-", 8) == 0);
    rk_cmd_free(resp);
    /* what operators see (GET_BROKER_RUNTIME_INFO) */
    char *v = rk_tk_runtime(&p, p.m.addr, "brokerRole");
    cr_assert_str_eq(v ? v : "", "ASYNC_MASTER");
    free(v);
    v = rk_tk_runtime(&p, p.m.addr, "slaveFallBehindMuch");
    cr_assert_str_eq(v ? v : "", "0");
    free(v);
    v = rk_tk_runtime(&p, p.s.addr, "brokerRole");
    cr_assert_str_eq(v ? v : "", "SLAVE");
    free(v);
    v = rk_tk_runtime(&p, p.s.addr, "masterAddr");
    cr_assert_str_eq(v ? v : "", p.m.addr);
    free(v);
    rk_tk_broker_stop(&p.s);
    rk_tk_broker_stop(&p.m);
    rk_tk_assert_same_commitlog(&p);
}

Test(replication, a_slave_started_late_catches_up_from_zero)
{
    rk_tk_pair_init(&p, NULL, "brokerRole=SLAVE\n");
    rk_tk_broker_start(&p.m);
    rk_tk_send_n(&p, "HaTopic", 150, 1000);           /* within the first file */
    rk_tk_broker_start(&p.s);
    cr_assert(rk_tk_wait_caught_up(&p, 20000), "the late slave did not catch up (see %s)", p.s.log);
    rk_tk_broker_stop(&p.s);
    rk_tk_broker_stop(&p.m);
    rk_tk_assert_same_commitlog(&p);
}

Test(replication, a_slave_killed_and_restarted_resumes_where_it_was)
{
    rk_tk_pair_init(&p, NULL, "brokerRole=SLAVE\n");
    rk_tk_broker_start(&p.m);
    rk_tk_broker_start(&p.s);
    cr_assert(rk_tk_wait_slave_connected(&p, 10000));
    rk_tk_send_n(&p, "HaTopic", 200, 900);
    /* a slave with an empty log would start over at the master's last file (as RocketMQ's):
     * kill it once it holds some of the stream (under load it may not yet have any) */
    for (int i = 0; i < 200 && rk_tk_max_offset(&p, p.s.addr) <= 0; i++)
        usleep(10000);
    rk_tk_kill(p.s.pid, SIGKILL);                  /* mid-stream, no clean stop */
    rk_tk_wait(p.s.pid, 5000);
    p.s.pid = -1;
    rk_tk_send_n(&p, "HaTopic", 300, 900);            /* the log rolls while the slave is away */
    rk_tk_broker_start(&p.s);
    cr_assert(rk_tk_wait_caught_up(&p, 20000), "the restarted slave did not catch up (see %s)", p.s.log);
    rk_tk_send_n(&p, "HaTopic", 50, 900);
    cr_assert(rk_tk_wait_caught_up(&p, 20000));
    rk_tk_broker_stop(&p.s);
    rk_tk_broker_stop(&p.m);
    rk_tk_assert_same_commitlog(&p);
}

Test(replication, a_slave_started_before_its_master_finds_it)
{
    /* The name server tells a slave its master when the slave registers; a
     * slave that registered first must not wait for its next 30 s round. */
    rk_tk_pair_init(&p, NULL, "brokerRole=SLAVE\n");
    rk_tk_broker_start(&p.s);
    usleep(300000);
    rk_tk_broker_start(&p.m);
    cr_assert(rk_tk_wait_slave_connected(&p, 10000), "the slave never found its master (see %s)", p.s.log);
    rk_tk_send_n(&p, "HaTopic", 20, 100);
    cr_assert(rk_tk_wait_caught_up(&p, 10000));
}

Test(replication, a_fresh_slave_starts_at_the_masters_last_file)
{
    /* RocketMQ's rule: a slave that holds nothing gets the master's last
     * file, not its whole history; its own dispatch starts there too. */
    rk_tk_pair_init(&p, NULL, "brokerRole=SLAVE\nslaveReadEnable=true\n");
    rk_tk_broker_start(&p.m);
    rk_tk_send_n(&p, "HaTopic", 700, 1000);           /* three rolls: the last file starts at 786432 */
    rk_tk_broker_start(&p.s);
    cr_assert(rk_tk_wait_caught_up(&p, 20000), "the slave did not catch up (see %s)", p.s.log);
    rk_cmd_t *resp = rk_tk_send(&p, p.m.addr, "HaTopic", "newest");
    cr_assert_eq(resp->code, 0);
    int64_t qoff = -1;
    rk_cmd_ext_i64(resp, "queueOffset", &qoff);
    rk_cmd_free(resp);
    cr_assert(rk_tk_wait_caught_up(&p, 10000));
    resp = NULL;
    for (int i = 0; i < 200; i++) {
        rk_cmd_free(resp);
        resp = pull_from(p.s.addr, "HaTopic", qoff);
        if (resp->code == 0)
            break;
        usleep(20000);
    }
    cr_assert_eq(resp->code, 0, "the slave's dispatch did not reach the newest message: %d", resp->code);
    rk_record_t rec;
    cr_assert_eq(rk_record_decode(resp->body, resp->body_len, true, &rec), 0);
    cr_assert(rec.body_len == 6 && memcmp(rec.body, "newest", 6) == 0);
    rk_cmd_free(resp);
    rk_tk_broker_stop(&p.s);
    rk_tk_broker_stop(&p.m);
    cr_assert_eq(rk_tk_assert_slave_files_match(&p), 1, "the slave should hold exactly the master's last file");
}
