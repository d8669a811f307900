/* tk_rcluster.c — see rk/tk_rcluster.h. */
#include "rk/tk_rcluster.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

static void wait_routed(rk_rc_cluster_t *c, const char *topic)
{
    uint64_t until = rk_mono_ms() + 30000;
    while (!rk_rc_routed(c, topic) && rk_mono_ms() < until)
        usleep(10000);
    cr_assert(rk_rc_routed(c, topic), "the name server never routed %s (30 s)", topic);
}

static void start_broker(rk_rc_cluster_t *c)
{
    char log[300];
    snprintf(log, sizeof log, "%s/broker.log", c->dir);
    char *argv[] = {c->bin, "-c", c->conf, NULL};
    c->br_pid = rk_tk_spawn(argv, log);
    cr_assert(c->br_pid > 0);
    cr_assert(rk_tk_wait_port(c->br_port, 10000), "mqbroker did not start (see %s)", log);
}

rk_cmd_t *rk_rc_call(const char *addr, rk_cmd_t *req)
{
    rk_rclient_t *rc;
    cr_assert_eq(rk_rclient_new(&rc), 0);
    rk_cmd_t *resp = NULL;
    if (rk_rclient_invoke_sync(rc, addr, req, 5000, &resp) != RK_OK)
        resp = NULL;
    rk_rclient_free(rc);
    return resp;
}

bool rk_rc_routed(rk_rc_cluster_t *c, const char *topic)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_ROUTEINFO_BY_TOPIC);
    rk_cmd_ext_set(req, "topic", topic);
    rk_cmd_t *resp = rk_rc_call(c->ns, req);
    bool ok = resp != NULL && resp->code == RK_RESP_SUCCESS;
    rk_cmd_free(resp);
    return ok;
}

/* A broker registers within a second or two; under the sanitizers on a loaded machine it once
 * took more than the 5 s this used to wait, so the limit is generous: only a broker that never
 * registers waits it out. */

void rk_rc_start(rk_rc_cluster_t *c, const char *extra_conf)
{
    char bin[PATH_MAX];     /* the broker of the chapter whose tests run */
    cr_assert_not_null(rk_tk_unit_bin(NULL, "mqbroker", bin, sizeof bin));
    rk_rc_start_bin(c, bin, extra_conf);
}

void rk_rc_start_bin(rk_rc_cluster_t *c, const char *broker_bin, const char *extra_conf)
{
    memset(c, 0, sizeof *c);
    snprintf(c->bin, sizeof c->bin, "%s", broker_bin);
    c->ns_pid = c->br_pid = -1;
    cr_assert_eq(rk_tk_tmpdir(c->dir, sizeof c->dir, "retry"), 0);
    c->ns_port = rk_tk_free_port();
    c->br_port = rk_tk_free_port();
    int ha_port;                /* chapter 8's HA listener (default listenPort+1, maybe taken) */
    do
        ha_port = rk_tk_free_port();
    while (ha_port == c->br_port || ha_port == c->ns_port);
    snprintf(c->ns, sizeof c->ns, "127.0.0.1:%d", c->ns_port);
    snprintf(c->br, sizeof c->br, "127.0.0.1:%d", c->br_port);
    char nsconf[300], log[300];
    snprintf(nsconf, sizeof nsconf, "%s/ns.conf", c->dir);
    FILE *f = fopen(nsconf, "w");
    cr_assert(f != NULL);
    fprintf(f, "listenPort=%d\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv.json\n", c->ns_port, c->dir);
    fclose(f);
    snprintf(log, sizeof log, "%s/ns.log", c->dir);
    char nsbin[PATH_MAX];
    cr_assert_not_null(rk_tk_unit_bin("ch06", "mqnamesrv", nsbin, sizeof nsbin));
    char *nsargv[] = {nsbin, "-c", nsconf, NULL};
    c->ns_pid = rk_tk_spawn(nsargv, log);
    cr_assert(c->ns_pid > 0 && rk_tk_wait_port(c->ns_port, 5000), "mqnamesrv did not start");
    snprintf(c->conf, sizeof c->conf, "%s/broker.conf", c->dir);
    f = fopen(c->conf, "w");
    cr_assert(f != NULL);
    fprintf(f, "brokerClusterName=TestCluster\nbrokerName=broker-r\nbrokerId=0\nnamesrvAddr=%s\n"
               "brokerIP1=127.0.0.1\nlistenHost=127.0.0.1\nlistenPort=%d\nstorePathRootDir=%s/store\n"
               "haListenPort=%d\nmappedFileSizeCommitLog=4194304\nregisterNameServerPeriod=2000\n%s",
            c->ns, c->br_port, c->dir, ha_port, extra_conf ? extra_conf : "");
    fclose(f);
    start_broker(c);
    wait_routed(c, "TBW102");
}

void rk_rc_kill9_restart_broker(rk_rc_cluster_t *c)
{
    cr_assert_eq(rk_tk_kill(c->br_pid, SIGKILL), 0);
    cr_assert_neq(rk_tk_wait(c->br_pid, 10000), -ETIMEDOUT);
    c->br_pid = -1;
    start_broker(c);
}

void rk_rc_restart_broker(rk_rc_cluster_t *c, void (*between)(rk_rc_cluster_t *c, void *arg), void *arg)
{
    cr_assert_eq(rk_tk_stop(c->br_pid, 10000), 0, "the broker did not stop on SIGTERM");
    c->br_pid = -1;
    if (between != NULL)
        between(c, arg);
    start_broker(c);
    /* a stopped broker unregisters: until the new one has registered, a producer finds no
     * route (CI saw "no route for topic" once, under the sanitizers). Its topics arrive in
     * one registration, so the default topic's route stands for all of them. */
    wait_routed(c, "TBW102");
}

void rk_rc_stop(rk_rc_cluster_t *c)
{
    if (c->br_pid > 0)
        rk_tk_stop(c->br_pid, 10000);
    if (c->ns_pid > 0)
        rk_tk_stop(c->ns_pid, 5000);
    c->br_pid = c->ns_pid = -1;
    if (getenv("RK_KEEP_TMP") == NULL && c->dir[0])
        rk_tk_rmtree(c->dir);
}

void rk_rc_create_topic(rk_rc_cluster_t *c, const char *topic, int queues)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_UPDATE_AND_CREATE_TOPIC);
    rk_cmd_ext_set(req, "topic", topic);
    rk_cmd_ext_set(req, "defaultTopic", "TBW102");
    rk_cmd_ext_set_i64(req, "readQueueNums", queues);
    rk_cmd_ext_set_i64(req, "writeQueueNums", queues);
    rk_cmd_ext_set(req, "perm", "6");
    rk_cmd_ext_set(req, "topicFilterType", "SINGLE_TAG");
    rk_cmd_t *resp = rk_rc_call(c->br, req);
    cr_assert_not_null(resp);
    cr_assert_eq(resp->code, 0, "create %s: %s", topic, resp->remark ? resp->remark : "");
    rk_cmd_free(resp);
    wait_routed(c, topic);
}
