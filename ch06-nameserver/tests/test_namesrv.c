/* test_namesrv.c — a real mqnamesrv process, driven the way brokers and clients drive it. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/json.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

static char dir[256], conf[300], addr[32];
static pid_t pid = -1;
static rk_rclient_t *cl;

static void write_conf(const char *extra)
{
    int port = rk_tk_free_port();
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    FILE *f = fopen(conf, "w");
    fprintf(f, "listenPort=%d\nlistenHost=127.0.0.1\nkvConfigPath=%s/namesrv/kvConfig.json\n%s", port, dir,
            extra ? extra : "");
    fclose(f);
}

static void start_ns(void)
{
    char log[300];
    snprintf(log, sizeof log, "%s/namesrv.log", dir);
    char *argv[] = {(char *)rk_tk_bin("mqnamesrv"), "-c", conf, NULL};
    pid = rk_tk_spawn(argv, log);
    cr_assert(pid > 0);
    cr_assert(rk_tk_wait_port(atoi(strchr(addr, ':') + 1), 5000), "mqnamesrv did not start");
}

static void stop_ns(void)
{
    if (pid > 0) {
        int st = rk_tk_stop(pid, 5000);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "mqnamesrv did not stop cleanly");
        pid = -1;
    }
}

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "namesrv"), 0);
    snprintf(conf, sizeof conf, "%s/namesrv.conf", dir);
    write_conf(NULL);
    start_ns();
    cr_assert_eq(rk_rclient_new(&cl), 0);
}

static void teardown(void)
{
    rk_rclient_free(cl);
    if (pid > 0)
        rk_tk_stop(pid, 5000);
    rk_tk_rmtree(dir);
}

TestSuite(namesrv, .init = setup, .fini = teardown);

static rk_cmd_t *call(rk_cmd_t *req)
{
    rk_cmd_t *resp = NULL;
    int rc = rk_rclient_invoke_sync(cl, addr, req, 3000, &resp);
    cr_assert_eq(rc, 0, "request failed: %s", rk_strerror(rc));
    return resp;
}

static void register_broker(rk_rclient_t *via, const char *name, const char *baddr, int id, const char *topic,
                            int counter)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_REGISTER_BROKER);
    rk_cmd_ext_set(req, "brokerName", name);
    rk_cmd_ext_set(req, "brokerAddr", baddr);
    rk_cmd_ext_set(req, "clusterName", "DefaultCluster");
    rk_cmd_ext_set(req, "haServerAddr", "127.0.0.1:10912");
    rk_cmd_ext_set_i64(req, "brokerId", id);
    rk_cmd_ext_set(req, "compressed", "false");
    char body[600];
    int n = snprintf(body, sizeof body,
                     "{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":%d,"
                     "\"timestamp\":1700000000000},\"topicConfigTable\":{\"%s\":{\"order\":false,\"perm\":6,"
                     "\"readQueueNums\":4,\"topicFilterType\":\"SINGLE_TAG\",\"topicName\":\"%s\",\"topicSysFlag\":0,"
                     "\"writeQueueNums\":4}}}}", counter, topic, topic);
    rk_cmd_set_body(req, body, (size_t)n);
    rk_cmd_t *resp = NULL;
    cr_assert_eq(rk_rclient_invoke_sync(via, addr, req, 3000, &resp), 0);
    cr_assert_eq(resp->code, 0, "%s", resp->remark ? resp->remark : "");
    if (id != 0)
        cr_assert_str_eq(rk_cmd_ext_get(resp, "masterAddr"), "127.0.0.1:10911", "a slave learns its master");
    rk_cmd_free(resp);
}

static char *route(int version, int *code)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_ROUTEINFO_BY_TOPIC);
    req->version = version;
    rk_cmd_ext_set(req, "topic", "TopicTest");
    rk_cmd_t *resp = call(req);
    *code = resp->code;
    char *body = resp->body ? strndup((const char *)resp->body, resp->body_len) : strdup("");
    rk_cmd_free(resp);
    return body;
}

Test(namesrv, routes_in_standard_and_legacy_json)
{
    register_broker(cl, "broker-a", "127.0.0.1:10911", 0, "TopicTest", 1);
    register_broker(cl, "broker-a", "127.0.0.1:10921", 1, "TopicTest", 1);
    int code;
    char *std = route(409, &code);          /* Java 4.9.8 */
    cr_assert_eq(code, 0);
    cr_assert(strstr(std, "\"brokerAddrs\":{\"0\":\"127.0.0.1:10911\",\"1\":\"127.0.0.1:10921\"}") != NULL, "%s", std);
    cr_assert(strstr(std, "\"writeQueueNums\":4") != NULL, "%s", std);
    char *legacy = route(317, &code);       /* rocketmq-client-go */
    cr_assert(strstr(legacy, "\"brokerAddrs\":{0:\"127.0.0.1:10911\",1:\"127.0.0.1:10921\"}") != NULL, "%s", legacy);
    cJSON *parsed = rk_json_parse(legacy, strlen(legacy));
    cr_assert_not_null(parsed, "our own lenient parser reads the legacy form");
    cJSON_Delete(parsed);
    free(std);
    free(legacy);
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_BROKER_CLUSTER_INFO);
    rk_cmd_t *resp = call(req);
    char *info = strndup((const char *)resp->body, resp->body_len);
    cr_assert(strstr(info, "\"clusterAddrTable\":{\"DefaultCluster\":[\"broker-a\"]}") != NULL, "%s", info);
    cr_assert(strstr(info, "{0:\"127.0.0.1:10911\"") != NULL, "cluster info always uses bare keys: %s", info);
    free(info);
    rk_cmd_free(resp);
}

Test(namesrv, unknown_topic_is_topic_not_exist)
{
    int code;
    free(route(409, &code));
    cr_assert_eq(code, RK_RESP_TOPIC_NOT_EXIST);
}

Test(namesrv, a_broker_goes_when_its_connection_closes)
{
    rk_rclient_t *broker;
    cr_assert_eq(rk_rclient_new(&broker), 0);
    register_broker(broker, "broker-b", "127.0.0.1:10931", 0, "TopicTest", 1);
    int code;
    free(route(409, &code));
    cr_assert_eq(code, 0);
    rk_rclient_free(broker);        /* the broker's connection closes */
    for (int i = 0; i < 100; i++) {
        free(route(409, &code));
        if (code == RK_RESP_TOPIC_NOT_EXIST)
            break;
        rk_sleep_ms(20);
    }
    cr_assert_eq(code, RK_RESP_TOPIC_NOT_EXIST);
}

Test(namesrv, a_silent_broker_expires)
{
    stop_ns();
    write_conf("brokerChannelExpiredTime=300\nscanNotActiveBrokerInterval=50\n");
    start_ns();
    register_broker(cl, "broker-c", "127.0.0.1:10941", 0, "TopicTest", 1);
    int code;
    free(route(409, &code));
    cr_assert_eq(code, 0);
    rk_sleep_ms(700);       /* no re-registration: expired */
    free(route(409, &code));
    cr_assert_eq(code, RK_RESP_TOPIC_NOT_EXIST);
}

static rk_cmd_t *kv(int code, const char *key, const char *value)
{
    rk_cmd_t *req = rk_cmd_new(code);
    rk_cmd_ext_set(req, "namespace", "ORDER_TOPIC_CONFIG");
    rk_cmd_ext_set(req, "key", key);
    if (value)
        rk_cmd_ext_set(req, "value", value);
    return call(req);
}

Test(namesrv, kv_config_survives_a_restart)
{
    rk_cmd_free(kv(RK_REQ_PUT_KV_CONFIG, "TopicTest", "broker-a:4"));
    rk_cmd_free(kv(RK_REQ_PUT_KV_CONFIG, "Gone", "x"));
    rk_cmd_free(kv(RK_REQ_DELETE_KV_CONFIG, "Gone", NULL));
    stop_ns();
    rk_rclient_free(cl);
    cr_assert_eq(rk_rclient_new(&cl), 0);
    start_ns();
    rk_cmd_t *r = kv(RK_REQ_GET_KV_CONFIG, "TopicTest", NULL);
    cr_assert_eq(r->code, 0);
    cr_assert_str_eq(rk_cmd_ext_get(r, "value"), "broker-a:4");
    rk_cmd_free(r);
    r = kv(RK_REQ_GET_KV_CONFIG, "Gone", NULL);
    cr_assert_eq(r->code, RK_RESP_QUERY_NOT_FOUND);
    rk_cmd_free(r);
}

Test(namesrv, crc_mismatch_is_refused)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_REGISTER_BROKER);
    rk_cmd_ext_set(req, "brokerName", "b");
    rk_cmd_ext_set(req, "brokerAddr", "127.0.0.1:1");
    rk_cmd_ext_set(req, "clusterName", "c");
    rk_cmd_ext_set(req, "brokerId", "0");
    rk_cmd_ext_set(req, "bodyCrc32", "12345");
    rk_cmd_set_body(req, "{}", 2);
    rk_cmd_t *resp = call(req);
    cr_assert_eq(resp->code, RK_RESP_SYSTEM_ERROR);
    cr_assert_str_eq(resp->remark, "crc32 not match");
    rk_cmd_free(resp);
}

Test(namesrv, bad_config_and_busy_port_fail_with_a_message)
{
    char *out = NULL;
    char *argv[] = {(char *)rk_tk_bin("mqnamesrv"), "-c", conf, NULL};
    int rc = rk_tk_run(argv, &out, 5000);       /* the port is taken by the running one */
    cr_assert_eq(rc, 1, "%s", out);
    cr_assert(strstr(out, "address already in use") != NULL, "%s", out);
    free(out);
    char bad[300];
    snprintf(bad, sizeof bad, "%s/bad.conf", dir);
    FILE *f = fopen(bad, "w");
    fputs("listenPort=notaport\n", f);
    fclose(f);
    char *argv2[] = {(char *)rk_tk_bin("mqnamesrv"), "-c", bad, NULL};
    rc = rk_tk_run(argv2, &out, 5000);
    cr_assert_eq(rc, 1, "%s", out);
    cr_assert(strstr(out, "listenPort") != NULL, "%s", out);
    free(out);
}

Test(namesrv, write_permission_can_be_wiped_and_restored_and_topics_listed_by_cluster)
{
    register_broker(cl, "broker-a", "127.0.0.1:10911", 0, "TopicTest", 1);
    rk_cmd_t *req = rk_cmd_new(RK_REQ_WIPE_WRITE_PERM_OF_BROKER);
    rk_cmd_ext_set(req, "brokerName", "broker-a");
    rk_cmd_t *resp = call(req);
    cr_assert_eq(resp->code, 0);
    cr_assert_str_eq(rk_cmd_ext_get(resp, "wipeTopicCount"), "1");
    rk_cmd_free(resp);
    int code;
    char *r = route(409, &code);
    cr_assert(strstr(r, "\"perm\":4") != NULL, "read-only now: %s", r);
    free(r);
    req = rk_cmd_new(RK_REQ_ADD_WRITE_PERM_OF_BROKER);
    rk_cmd_ext_set(req, "brokerName", "broker-a");
    rk_cmd_free(call(req));
    r = route(409, &code);
    cr_assert(strstr(r, "\"perm\":6") != NULL, "writable again: %s", r);
    free(r);
    req = rk_cmd_new(RK_REQ_GET_TOPICS_BY_CLUSTER);
    rk_cmd_ext_set(req, "cluster", "DefaultCluster");
    resp = call(req);
    cr_assert_eq(resp->code, 0);
    cr_assert(resp->body_len > 0 && memmem(resp->body, resp->body_len, "\"TopicTest\"", 11) != NULL);
    rk_cmd_free(resp);
}

#include "rk/brokerreg.h"

static char reg_topic[32] = "RegTopicA";

static char *reg_body(void *ctx)
{
    int *counter = ctx;
    char *s = malloc(400);
    snprintf(s, 400,
             "{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":%d,"
             "\"timestamp\":1},\"topicConfigTable\":{\"%s\":{\"perm\":6,\"readQueueNums\":2,"
             "\"writeQueueNums\":2}}}}", ++*counter, reg_topic);
    return s;
}

static int route_code(const char *topic)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_ROUTEINFO_BY_TOPIC);
    rk_cmd_ext_set(req, "topic", topic);
    rk_cmd_t *resp = call(req);
    int code = resp->code;
    rk_cmd_free(resp);
    return code;
}

Test(namesrv, the_broker_registration_library_registers_refreshes_and_unregisters)
{
    int counter = 0;
    rk_brokerreg_config_t rc = {.namesrv_addrs = addr, .cluster_name = "DefaultCluster",
                                .broker_name = "broker-r", .broker_addr = "127.0.0.1:10951",
                                .broker_id = 0, .period_ms = 60000, .timeout_ms = 3000};
    rk_brokerreg_t *reg;
    cr_assert_eq(rk_brokerreg_start(&rc, reg_body, &counter, &reg), 0);
    cr_assert_eq(route_code("RegTopicA"), 0, "registered at start");
    snprintf(reg_topic, sizeof reg_topic, "RegTopicB");     /* a topic change */
    rk_brokerreg_trigger(reg);
    int code = -1;
    for (int i = 0; i < 100 && (code = route_code("RegTopicB")) != 0; i++)
        rk_sleep_ms(20);
    cr_assert_eq(code, 0, "re-registered on trigger");
    rk_brokerreg_stop(reg);
    cr_assert_eq(route_code("RegTopicB"), RK_RESP_TOPIC_NOT_EXIST, "unregistered at stop");
}

#include <zlib.h>

Test(namesrv, accepts_the_compressed_register_body)
{
    rk_buf_t raw = {0};
    const char *dv = "{\"counter\":1,\"timestamp\":1700000000000}", *topic = "ZipTopic 4 4 6 SINGLE_TAG";
    rk_buf_put_u32(&raw, (uint32_t)strlen(dv));
    rk_buf_put_str(&raw, dv);
    rk_buf_put_u32(&raw, 1);
    rk_buf_put_u32(&raw, (uint32_t)strlen(topic));
    rk_buf_put_str(&raw, topic);
    rk_buf_put_u32(&raw, 2);
    rk_buf_put_str(&raw, "[]");
    uLongf zlen = compressBound(raw.len);
    uint8_t *z = malloc(zlen);
    cr_assert_eq(compress2(z, &zlen, raw.data, raw.len, Z_BEST_COMPRESSION), Z_OK);
    rk_cmd_t *req = rk_cmd_new(RK_REQ_REGISTER_BROKER);
    rk_cmd_ext_set(req, "brokerName", "broker-z");
    rk_cmd_ext_set(req, "brokerAddr", "127.0.0.1:10961");
    rk_cmd_ext_set(req, "clusterName", "DefaultCluster");
    rk_cmd_ext_set(req, "brokerId", "0");
    rk_cmd_ext_set(req, "compressed", "true");
    rk_cmd_set_body(req, z, zlen);
    rk_cmd_t *resp = call(req);
    cr_assert_eq(resp->code, 0, "%s", resp->remark ? resp->remark : "");
    rk_cmd_free(resp);
    cr_assert_eq(route_code("ZipTopic"), 0);
    free(z);
    rk_buf_free(&raw);
}
