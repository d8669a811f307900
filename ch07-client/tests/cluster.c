/* cluster.c — see cluster.h. */
#include "cluster.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

static void start_broker(tk_cluster_t *c)
{
    char log[300];
    snprintf(log, sizeof log, "%s/broker.log", c->dir);
    char *argv[] = {(char *)rk_tk_bin("mqbroker"), "-c", c->conf, NULL};
    c->br_pid = rk_tk_spawn(argv, log);
    cr_assert(c->br_pid > 0);
    cr_assert(rk_tk_wait_port(c->br_port, 10000), "mqbroker did not start (see %s)", log);
}

/* True once the name server has a route for topic. */
static bool routed(tk_cluster_t *c, const char *topic)
{
    rk_rclient_t *rc;
    cr_assert_eq(rk_rclient_new(&rc), 0);
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_ROUTEINFO_BY_TOPIC), *resp = NULL;
    rk_cmd_ext_set(req, "topic", topic);
    bool ok = rk_rclient_invoke_sync(rc, c->ns, req, 3000, &resp) == RK_OK && resp->code == RK_RESP_SUCCESS;
    rk_cmd_free(resp);
    rk_rclient_free(rc);
    return ok;
}

static void wait_routed(tk_cluster_t *c, const char *topic)
{
    uint64_t until = rk_mono_ms() + 30000;     /* generous: only a broker that never registers waits it out */
    while (!routed(c, topic) && rk_mono_ms() < until)
        usleep(10000);
    cr_assert(routed(c, topic), "the name server never routed %s (30 s)", topic);
}

void tk_cluster_start(tk_cluster_t *c, const char *extra_conf)
{
    memset(c, 0, sizeof *c);
    c->ns_pid = c->br_pid = -1;
    cr_assert_eq(rk_tk_tmpdir(c->dir, sizeof c->dir, "sdk"), 0);
    c->ns_port = rk_tk_free_port();
    c->br_port = rk_tk_free_port();
    snprintf(c->ns, sizeof c->ns, "127.0.0.1:%d", c->ns_port);
    snprintf(c->br, sizeof c->br, "127.0.0.1:%d", c->br_port);
    char nsconf[300], log[300];
    snprintf(nsconf, sizeof nsconf, "%s/ns.conf", c->dir);
    FILE *f = fopen(nsconf, "w");
    cr_assert(f != NULL);
    fprintf(f, "listenPort=%d\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv.json\n", c->ns_port, c->dir);
    fclose(f);
    snprintf(log, sizeof log, "%s/ns.log", c->dir);
    char *nsargv[] = {(char *)(RK_BIN_DIR "/../../ch06/bin/mqnamesrv"), "-c", nsconf, NULL};
    c->ns_pid = rk_tk_spawn(nsargv, log);
    cr_assert(c->ns_pid > 0 && rk_tk_wait_port(c->ns_port, 5000), "mqnamesrv did not start");
    snprintf(c->conf, sizeof c->conf, "%s/broker.conf", c->dir);
    f = fopen(c->conf, "w");
    cr_assert(f != NULL);
    fprintf(f, "brokerClusterName=TestCluster\nbrokerName=broker-t\nbrokerId=0\nnamesrvAddr=%s\n"
               "brokerIP1=127.0.0.1\nlistenHost=127.0.0.1\nlistenPort=%d\nstorePathRootDir=%s/store\nmappedFileSizeCommitLog=4194304\n%s",
            c->ns, c->br_port, c->dir, extra_conf ? extra_conf : "");
    fclose(f);
    start_broker(c);
    if (extra_conf == NULL || strstr(extra_conf, "autoCreateTopicEnable=false") == NULL)
        wait_routed(c, "TBW102");
}

void tk_cluster_restart_broker(tk_cluster_t *c)
{
    cr_assert_eq(rk_tk_stop(c->br_pid, 10000), 0, "the broker did not stop on SIGTERM");
    c->br_pid = -1;
    start_broker(c);
}

void tk_cluster_kill9_restart_broker(tk_cluster_t *c)
{
    rk_tk_kill(c->br_pid, SIGKILL);
    rk_tk_wait(c->br_pid, 10000);
    c->br_pid = -1;
    start_broker(c);
}

void tk_cluster_stop(tk_cluster_t *c)
{
    if (c->br_pid > 0)
        rk_tk_stop(c->br_pid, 10000);
    if (c->ns_pid > 0)
        rk_tk_stop(c->ns_pid, 5000);
    c->br_pid = c->ns_pid = -1;
    if (getenv("RK_KEEP_TMP") == NULL && c->dir[0])
        rk_tk_rmtree(c->dir);
}

void tk_create_topic(tk_cluster_t *c, const char *topic, int queues)
{
    rk_rclient_t *rc;
    cr_assert_eq(rk_rclient_new(&rc), 0);
    rk_cmd_t *req = rk_cmd_new(RK_REQ_UPDATE_AND_CREATE_TOPIC), *resp = NULL;
    rk_cmd_ext_set(req, "topic", topic);
    rk_cmd_ext_set(req, "defaultTopic", "TBW102");
    rk_cmd_ext_set_i64(req, "readQueueNums", queues);
    rk_cmd_ext_set_i64(req, "writeQueueNums", queues);
    rk_cmd_ext_set(req, "perm", "6");
    rk_cmd_ext_set(req, "topicFilterType", "SINGLE_TAG");
    cr_assert_eq(rk_rclient_invoke_sync(rc, c->br, req, 5000, &resp), 0);
    cr_assert_eq(resp->code, 0, "create %s: %s", topic, resp->remark ? resp->remark : "");
    rk_cmd_free(resp);
    rk_rclient_free(rc);
    wait_routed(c, topic);
}

bool tk_wait_until(bool (*cond)(void *), void *arg, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        if (cond(arg))
            return true;
        usleep(10000);
    }
    return cond(arg);
}

rk_cmd_t *tk_ask(const char *addr, rk_cmd_t *req)
{
    rk_rclient_t *rc;
    cr_assert_eq(rk_rclient_new(&rc), 0);
    rk_cmd_t *resp = NULL;
    int code = req->code;
    int rcode = rk_rclient_invoke_sync(rc, addr, req, 10000, &resp);
    rk_rclient_free(rc);
    cr_assert_eq(rcode, 0, "request %d to %s: %s", code, addr, rk_strerror(rcode));
    return resp;
}

int tk_mqadmin(tk_cluster_t *c, char **out, const char *cmd, ...)
{
    char *argv[32] = {(char *)rk_tk_bin("mqadmin"), (char *)cmd, "-n", c->ns};
    int n = 4;
    va_list ap;
    va_start(ap, cmd);
    for (const char *a; n < 31 && (a = va_arg(ap, const char *)) != NULL;)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    *out = NULL;
    return rk_tk_run(argv, out, 30000);
}
