/* test_master_moved.c — a slave of a broker name registers as its master
 * (brokerId 0): the route names the new master at once, the old master's
 * entry is replaced rather than left until its 120 s expiry, and the log
 * says a master moved (not the "MASTER REPLACED" warning, which remains only
 * for a replica applying its upstream's decision). Chapter 8's elections
 * rely on this. A stranger — an address never registered under the broker
 * name — cannot take brokerId 0 while the master's registration is live
 * (rocklet's hijack guard; RocketMQ 4.x lets it). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/fileutil.h"
#include "rk/json.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

static char dir[256], addr[32], logpath[300];
static pid_t pid = -1;
static rk_rclient_t *cl;

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "nsmoved"), 0);
    char conf[300];
    snprintf(conf, sizeof conf, "%s/ns.conf", dir);
    snprintf(logpath, sizeof logpath, "%s/ns.log", dir);
    int port = rk_tk_free_port();
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    FILE *f = fopen(conf, "w");
    cr_assert(f != NULL);
    fprintf(f, "listenPort=%d\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv.json\n", port, dir);
    fclose(f);
    char *argv[] = {(char *)rk_tk_bin("mqnamesrv"), "-c", conf, NULL};
    pid = rk_tk_spawn(argv, logpath);
    cr_assert(pid > 0 && rk_tk_wait_port(port, 5000), "mqnamesrv did not start");
    cr_assert_eq(rk_rclient_new(&cl), 0);
}

static void teardown(void)
{
    rk_rclient_free(cl);
    if (pid > 0)
        rk_tk_stop(pid, 5000);
    rk_tk_rmtree(dir);
}

TestSuite(master_moved, .init = setup, .fini = teardown);

static int32_t reg_code(const char *baddr, int id, char *remark, size_t len);

static void reg(const char *baddr, int id)
{
    char remark[512];
    int32_t code = reg_code(baddr, id, remark, sizeof remark);
    cr_assert_eq(code, 0, "%s", remark);
}

/* REGISTER_BROKER of broker-a at baddr as id: the answer's code and remark. */
static int32_t reg_code(const char *baddr, int id, char *remark, size_t len)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_REGISTER_BROKER), *resp = NULL;
    rk_cmd_ext_set(req, "brokerName", "broker-a");
    rk_cmd_ext_set(req, "brokerAddr", baddr);
    rk_cmd_ext_set(req, "clusterName", "C");
    rk_cmd_ext_set(req, "haServerAddr", "127.0.0.1:1");
    rk_cmd_ext_set_i64(req, "brokerId", id);
    rk_cmd_ext_set(req, "compressed", "false");
    const char *body = "{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":1,"
                       "\"timestamp\":1700000000000},\"topicConfigTable\":{\"T\":{\"order\":false,\"perm\":6,"
                       "\"readQueueNums\":4,\"topicFilterType\":\"SINGLE_TAG\",\"topicName\":\"T\",\"topicSysFlag\":0,"
                       "\"writeQueueNums\":4}}}}";
    rk_cmd_set_body(req, body, strlen(body));
    cr_assert_eq(rk_rclient_invoke_sync(cl, addr, req, 3000, &resp), 0);
    int32_t code = resp->code;
    snprintf(remark, len, "%s", resp->remark ? resp->remark : "");
    rk_cmd_free(resp);
    return code;
}

/* The route's brokerAddrs of broker-a as "id=addr,..." in id order. */
static void addrs(char *out, size_t len)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_ROUTEINFO_BY_TOPIC), *resp = NULL;
    rk_cmd_ext_set(req, "topic", "T");
    cr_assert_eq(rk_rclient_invoke_sync(cl, addr, req, 3000, &resp), 0);
    cr_assert_eq(resp->code, 0);
    cJSON *root = rk_json_parse((const char *)resp->body, resp->body_len);
    cJSON *bds = cJSON_GetObjectItemCaseSensitive(root, "brokerDatas");
    cJSON *a = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(bds, 0), "brokerAddrs");
    out[0] = '\0';
    for (int id = 0; id < 10; id++) {
        char k[16];
        snprintf(k, sizeof k, "%d", id);
        const char *v = rk_json_get_str(a, k);
        if (v != NULL)
            snprintf(out + strlen(out), len - strlen(out), "%s%d=%s", out[0] ? "," : "", id, v);
    }
    cJSON_Delete(root);
    rk_cmd_free(resp);
}

static bool log_has(const char *what)
{
    char *text = NULL;
    size_t len = 0;
    bool yes = rk_file_read_all(logpath, &text, &len) == 0 && text && memmem(text, len, what, strlen(what));
    free(text);
    return yes;
}

Test(master_moved, a_promoted_slave_replaces_the_master_at_once)
{
    char got[256];
    reg("127.0.0.1:10911", 0);
    reg("127.0.0.1:10921", 2);
    reg("127.0.0.1:10931", 3);
    addrs(got, sizeof got);
    cr_assert_str_eq(got, "0=127.0.0.1:10911,2=127.0.0.1:10921,3=127.0.0.1:10931");
    /* the old master is silent (dead); a slave is elected and registers as 0 */
    reg("127.0.0.1:10921", 0);
    addrs(got, sizeof got);
    cr_assert_str_eq(got, "0=127.0.0.1:10921,3=127.0.0.1:10931");
    cr_assert(log_has("master of broker-a moved: 127.0.0.1:10921 (brokerId 2 until now) replaces 127.0.0.1:10911"));
    cr_assert(!log_has("MASTER REPLACED"));
    /* the old master comes back as a slave */
    reg("127.0.0.1:10911", 1);
    addrs(got, sizeof got);
    cr_assert_str_eq(got, "0=127.0.0.1:10921,1=127.0.0.1:10911,3=127.0.0.1:10931");
}

Test(master_moved, a_stranger_cannot_take_brokerId_0_from_a_live_master)
{
    char got[256], remark[512];
    reg("127.0.0.1:10911", 0);
    reg("127.0.0.1:10921", 1);
    /* a broker this name server never saw under broker-a claims to be its
     * master: refused (NO_PERMISSION), the route keeps the real one */
    cr_assert_eq(reg_code("127.0.0.1:10999", 0, remark, sizeof remark), 16);
    cr_expect(strstr(remark, "already has a live master at 127.0.0.1:10911"), "%s", remark);
    addrs(got, sizeof got);
    cr_assert_str_eq(got, "0=127.0.0.1:10911,1=127.0.0.1:10921");
    cr_assert(log_has("MASTER HIJACK REFUSED: 127.0.0.1:10999"));
    /* it may still join as a slave... */
    reg("127.0.0.1:10999", 5);
    /* ...and the real master keeps registering */
    reg("127.0.0.1:10911", 0);
    addrs(got, sizeof got);
    cr_assert_str_eq(got, "0=127.0.0.1:10911,1=127.0.0.1:10921,5=127.0.0.1:10999");
}

Test(master_moved, brokerId_0_is_free_once_the_master_is_gone)
{
    char got[256];
    reg("127.0.0.1:10911", 0);
    /* the master unregisters (or its connection closes, or it expires) */
    rk_cmd_t *req = rk_cmd_new(RK_REQ_UNREGISTER_BROKER), *resp = NULL;
    rk_cmd_ext_set(req, "brokerName", "broker-a");
    rk_cmd_ext_set(req, "brokerAddr", "127.0.0.1:10911");
    rk_cmd_ext_set(req, "clusterName", "C");
    rk_cmd_ext_set(req, "brokerId", "0");
    cr_assert_eq(rk_rclient_invoke_sync(cl, addr, req, 3000, &resp), 0);
    rk_cmd_free(resp);
    reg("127.0.0.1:10999", 0);
    addrs(got, sizeof got);
    cr_assert_str_eq(got, "0=127.0.0.1:10999");
}
