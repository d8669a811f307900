/* test_replication.c — name-server clusters: master/slave (sync, async, semi-sync) and chain,
 * with nodes killed by SIGKILL and restarted. Every node is a real mqnamesrv process. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/namesrv.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

typedef struct {
    int port;
    char addr[32], conf[300];
    pid_t pid;
} node_t;

static char dir[256];
static node_t nodes[4];
static rk_rclient_t *cl;

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "nsrepl"), 0);
    cr_assert_eq(rk_rclient_new(&cl), 0);
    for (int i = 0; i < 4; i++) {
        nodes[i].port = rk_tk_free_port();
        snprintf(nodes[i].addr, sizeof nodes[i].addr, "127.0.0.1:%d", nodes[i].port);
        nodes[i].pid = -1;
    }
}

static void teardown(void)
{
    rk_rclient_free(cl);
    for (int i = 0; i < 4; i++)
        if (nodes[i].pid > 0)
            rk_tk_stop(nodes[i].pid, 5000);
    if (getenv("RK_KEEP_TMP") == NULL)
        rk_tk_rmtree(dir);
}

TestSuite(replication, .init = setup, .fini = teardown, .timeout = 60);

static void start(int i, const char *mode, const char *ack, const char *peers)
{
    node_t *n = &nodes[i];
    snprintf(n->conf, sizeof n->conf, "%s/ns%d.conf", dir, i);
    FILE *f = fopen(n->conf, "w");
    fprintf(f, "listenPort=%d\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv%d.json\nclusterMode=%s\n"
               "replicationAck=%s\nreplicationPeers=%s\nreplicationTimeout=1000\n"
               /* every node may be replicated to by the others (all on loopback), with the secret */
               "replicationUpstream=127.0.0.1\nreplicationSecret=test-cluster-secret-0123456789\n",
            n->port, dir, i, mode, ack, peers ? peers : "");
    fclose(f);
    char log[300];
    snprintf(log, sizeof log, "%s/ns%d.log", dir, i);
    char *argv[] = {(char *)rk_tk_bin("mqnamesrv"), "-c", n->conf, NULL};
    n->pid = rk_tk_spawn(argv, log);
    cr_assert(n->pid > 0);
    cr_assert(rk_tk_wait_port(n->port, 5000), "node %d did not start", i);
}

static void crash(int i)
{
    rk_tk_kill(nodes[i].pid, SIGKILL);
    rk_tk_wait(nodes[i].pid, 5000);
    nodes[i].pid = -1;
}

/* REGISTER_BROKER of a master serving `topic`; returns the response code. */
static int register_at(int i, const char *topic)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_REGISTER_BROKER);
    rk_cmd_ext_set(req, "brokerName", "broker-a");
    rk_cmd_ext_set(req, "brokerAddr", "127.0.0.1:10911");
    rk_cmd_ext_set(req, "clusterName", "DefaultCluster");
    rk_cmd_ext_set(req, "brokerId", "0");
    static int counter;
    char body[400];
    int n = snprintf(body, sizeof body,
                     "{\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":%d,\"timestamp\":1},"
                     "\"topicConfigTable\":{\"%s\":{\"perm\":6,\"readQueueNums\":4,\"writeQueueNums\":4}}}}",
                     ++counter, topic);
    rk_cmd_set_body(req, body, (size_t)n);
    rk_cmd_t *resp = NULL;
    int rc = rk_rclient_invoke_sync(cl, nodes[i].addr, req, 5000, &resp);
    cr_assert_eq(rc, 0, "register: %s", rk_strerror(rc));
    int code = resp->code;
    rk_cmd_free(resp);
    return code;
}

static int route_at(int i, const char *topic)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_ROUTEINFO_BY_TOPIC);
    rk_cmd_ext_set(req, "topic", topic);
    rk_cmd_t *resp = NULL;
    if (rk_rclient_invoke_sync(cl, nodes[i].addr, req, 3000, &resp) != 0)
        return -1;
    int code = resp->code;
    rk_cmd_free(resp);
    return code;
}

static bool eventually_routed(int i, const char *topic, int ms)
{
    for (int waited = 0; waited < ms; waited += 50) {
        if (route_at(i, topic) == 0)
            return true;
        rk_sleep_ms(50);
    }
    return false;
}

Test(replication, sync_master_waits_for_its_follower_and_a_restarted_follower_catches_up)
{
    start(1, "master_slave", "sync", NULL);                 /* follower */
    start(0, "master_slave", "sync", nodes[1].addr);        /* master */
    cr_assert_eq(register_at(0, "T1"), 0);
    cr_assert_eq(route_at(1, "T1"), 0, "acknowledged means the follower has it");
    crash(1);
    cr_assert_eq(register_at(0, "T2"), RK_RESP_SYSTEM_ERROR, "sync: no follower, no success");
    start(1, "master_slave", "sync", NULL);                 /* comes back empty */
    cr_assert(eventually_routed(1, "T1", 5000), "the follower caught up");
    cr_assert(eventually_routed(1, "T2", 5000), "including what it missed");
    cr_assert_eq(register_at(0, "T3"), 0);
    cr_assert_eq(route_at(1, "T3"), 0);
}

Test(replication, async_master_answers_without_followers_and_they_catch_up)
{
    start(1, "master_slave", "async", NULL);
    start(0, "master_slave", "async", nodes[1].addr);
    crash(1);
    cr_assert_eq(register_at(0, "T1"), 0, "async does not wait");
    start(1, "master_slave", "async", NULL);
    cr_assert(eventually_routed(1, "T1", 5000));
}

Test(replication, semi_sync_needs_half_of_the_followers)
{
    char peers[80];
    start(1, "master_slave", "semi_sync", NULL);
    start(2, "master_slave", "semi_sync", NULL);
    snprintf(peers, sizeof peers, "%s,%s", nodes[1].addr, nodes[2].addr);
    start(0, "master_slave", "semi_sync", peers);
    crash(2);
    cr_assert_eq(register_at(0, "T1"), 0, "one of two followers is enough");
    crash(1);
    cr_assert_eq(register_at(0, "T2"), RK_RESP_SYSTEM_ERROR, "none of two is not");
    start(2, "master_slave", "semi_sync", NULL);
    cr_assert(eventually_routed(2, "T1", 5000), "a restarted follower catches up");
}

Test(replication, chain_writes_at_the_head_and_reads_come_from_the_tail)
{
    start(2, "chain", "sync", NULL);                        /* tail */
    start(1, "chain", "sync", nodes[2].addr);
    start(0, "chain", "sync", nodes[1].addr);               /* head */
    cr_assert_eq(register_at(0, "T1"), 0);
    /* read-after-write, at every node: each passes reads down to the tail */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(route_at(i, "T1"), 0, "node %d", i);
    crash(2);
    cr_assert_eq(register_at(0, "T2"), RK_RESP_SYSTEM_ERROR, "the chain is broken: no ack");
    cr_assert_eq(route_at(0, "T1"), RK_RESP_SYSTEM_ERROR, "reads need the tail");
    start(2, "chain", "sync", NULL);
    cr_assert(eventually_routed(0, "T1", 5000), "the tail caught up from its predecessor");
    cr_assert_eq(register_at(0, "T3"), 0);
    cr_assert_eq(route_at(2, "T3"), 0);
}
