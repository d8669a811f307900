/* test_quorum.c — the HA ack stage in election mode (rk_ha_set_quorum):
 * a master parks a put until the quorum holds it, even with no slave
 * connected yet, and a put that reaches the stage on a replica that is no
 * longer the master is never acknowledged. The broker runs in this process
 * so the test can put straight into its commitlog (below chapter 7's write
 * gate, as a send racing a step-down would). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/tk_pair.h"
#include "rk/broker.h"
#include "rk/error.h"
#include "rk/ha.h"
#include "rk/log.h"
#include "rk/buf.h"
#include "rk/message.h"

static rk_tk_pair_t p;

static void fini(void) { rk_tk_pair_stop(&p); }

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
    rk_tk_pair_init(&p, NULL, "brokerRole=SLAVE\nsyncFlushTimeout=500\n");
    rk_kv_t kv;
    rk_kv_init(&kv);
    char err[512] = "";
    cr_assert_eq(rk_kv_load_file(&kv, p.s.conf, err, sizeof err), 0, "%s", err);
    const rk_broker_module_t *const mods[] = {&rk_broker_core_module, &rk_broker_stats_module, &rk_ha_module, NULL};
    rk_broker_t *b = NULL;
    cr_assert_eq(rk_broker_start(&kv, mods, &b, err, sizeof err), 0, "%s", err);
    rk_ha_t *ha = rk_ha_of(b);
    cr_assert_eq(rk_ha_set_quorum(ha, -1, false), RK_EINVAL);
    cr_assert_eq(rk_ha_set_quorum(ha, 1, false), 0);           /* a group of three: one follower + itself */

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
    cr_assert_eq(rk_ha_set_quorum(ha, 0, false), 0);
    cr_assert_eq(rk_ha_switch_role(ha, RK_HA_SYNC_MASTER, 0, NULL), 0);
    wait_role(ha, RK_HA_SYNC_MASTER);
    cr_assert_eq(put_one(b, "alone"), RK_PUT_OK);
    rk_broker_stop(b);
    rk_kv_free(&kv);
}

/* ---- one ack per host: two connections from one machine count once ---- */

static int connect_ha(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static void report(int fd, int64_t off)
{
    uint8_t b[8];
    rk_be_put64(b, (uint64_t)off);
    cr_assert_eq(write(fd, b, 8), 8);
}

static _Atomic int put_status = -1;
static _Atomic int64_t put_end = -1;

static void on_put(void *arg, const rk_put_result_t *res)
{
    (void)arg;
    atomic_store(&put_end, res->phys_offset + res->wrote_bytes);
    atomic_store(&put_status, (int)res->status);
}

static int put_and_report(rk_broker_t *b, int fd1, int fd2)
{
    rk_commitlog_t *cl = rk_store_commitlog(rk_broker_store(b));
    rk_msg_t m;
    memset(&m, 0, sizeof m);
    m.topic = "QTopic";
    m.topic_len = 6;
    m.body = (const uint8_t *)"two connections";
    m.body_len = 15;
    m.store_host = *rk_commitlog_store_host(cl);
    m.born_ts = 1;
    rk_host_parse("127.0.0.1:1234", &m.born_host);
    atomic_store(&put_status, -1);
    int64_t end = rk_commitlog_max_offset(cl);
    cr_assert_eq(rk_commitlog_put_async(cl, &m, on_put, NULL), 0);
    for (int i = 0; i < 200 && rk_commitlog_max_offset(cl) == end; i++)
        usleep(5000);
    end = rk_commitlog_max_offset(cl);
    report(fd1, end);                   /* both "replicas" say they hold it */
    report(fd2, end);
    for (int i = 0; i < 400 && atomic_load(&put_status) < 0; i++)
        usleep(5000);
    return atomic_load(&put_status);
}

Test(quorum, by_host_two_connections_from_one_machine_count_once)
{
    rk_log_set_level(RK_LOG_ERROR);
    rk_tk_pair_init(&p, NULL, "brokerRole=SLAVE\nsyncFlushTimeout=500\n");
    rk_kv_t kv;
    rk_kv_init(&kv);
    char err[512] = "";
    cr_assert_eq(rk_kv_load_file(&kv, p.s.conf, err, sizeof err), 0, "%s", err);
    const rk_broker_module_t *const mods[] = {&rk_broker_core_module, &rk_broker_stats_module, &rk_ha_module, NULL};
    rk_broker_t *b = NULL;
    cr_assert_eq(rk_broker_start(&kv, mods, &b, err, sizeof err), 0, "%s", err);
    rk_ha_t *ha = rk_ha_of(b);
    cr_assert_eq(rk_ha_set_quorum(ha, 2, true), 0);     /* a group of five */
    cr_assert_eq(rk_ha_switch_role(ha, RK_HA_SYNC_MASTER, 0, NULL), 0);
    wait_role(ha, RK_HA_SYNC_MASTER);
    int fd1 = connect_ha(p.s.ha_port), fd2 = connect_ha(p.s.ha_port);
    report(fd1, 0);
    report(fd2, 0);
    usleep(200000);
    cr_assert_eq(put_and_report(b, fd1, fd2), RK_PUT_FLUSH_SLAVE_TIMEOUT,
                 "two connections from one host counted as two replicas");
    cr_assert_eq(rk_ha_set_quorum(ha, 2, false), 0);    /* replicas on one host: per connection */
    cr_assert_eq(put_and_report(b, fd1, fd2), RK_PUT_OK);
    close(fd1);
    close(fd2);
    rk_broker_stop(b);
    rk_kv_free(&kv);
}
