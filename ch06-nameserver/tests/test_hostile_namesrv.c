/* test_hostile_namesrv.c — a real mqnamesrv under hostile requests (issue 9, items 1 and 13):
 * replication requests from strangers, malformed JSON bodies, and an impostor broker that
 * shares the real one's brokerName. The server must survive, refuse, and never apply half a body. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <zlib.h>

#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/namesrv.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

#define SECRET "s3cret-of-the-cluster-0123456789"

static char dir[256], conf[300], logpath[300], addr[32];
static pid_t pid = -1;
static rk_rclient_t *cl;

static void start_ns(const char *extra)
{
    int port = rk_tk_free_port();
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    FILE *f = fopen(conf, "w");
    cr_assert_not_null(f);
    fprintf(f, "listenPort=%d\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv.json\n%s", port, dir, extra ? extra : "");
    fclose(f);
    char *argv[] = {(char *)rk_tk_bin("mqnamesrv"), "-c", conf, NULL};
    pid = rk_tk_spawn(argv, logpath);
    cr_assert(pid > 0);
    cr_assert(rk_tk_wait_port(port, 5000), "mqnamesrv did not start");
}

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "nshostile"), 0);
    snprintf(conf, sizeof conf, "%s/namesrv.conf", dir);
    snprintf(logpath, sizeof logpath, "%s/namesrv.log", dir);
    cr_assert_eq(rk_rclient_new(&cl), 0);
}

static void teardown(void)
{
    rk_rclient_free(cl);
    if (pid > 0)
        rk_tk_stop(pid, 5000);
    if (getenv("RK_KEEP_TMP") == NULL)
        rk_tk_rmtree(dir);
}

TestSuite(hostile_namesrv, .init = setup, .fini = teardown, .timeout = 60);

static void assert_alive(const char *what)
{
    int st = 0;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) {
        pid = -1;
        cr_assert_fail("mqnamesrv died after %s (%s %d)", what, WIFSIGNALED(st) ? "signal" : "exit",
                       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    }
}

/* Sends req on the given client; returns the response code (the server must answer). */
static int send_via(rk_rclient_t *via, rk_cmd_t *req, char *remark, size_t rlen)
{
    rk_cmd_t *resp = NULL;
    int rc = rk_rclient_invoke_sync(via, addr, req, 3000, &resp);
    cr_assert_eq(rc, 0, "no answer: %s", rk_strerror(rc));
    int code = resp->code;
    if (remark != NULL)
        snprintf(remark, rlen, "%s", resp->remark ? resp->remark : "");
    rk_cmd_free(resp);
    return code;
}

static int register_body(rk_rclient_t *via, const char *name, const char *baddr, const char *body)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_REGISTER_BROKER);
    rk_cmd_ext_set(req, "brokerName", name);
    rk_cmd_ext_set(req, "brokerAddr", baddr);
    rk_cmd_ext_set(req, "clusterName", "DefaultCluster");
    rk_cmd_ext_set(req, "brokerId", "0");
    rk_cmd_set_body(req, body, strlen(body));
    return send_via(via, req, NULL, 0);
}

/* A well-formed registration of one master serving `topic` with 4 queues. */
static int register_topic(rk_rclient_t *via, const char *name, const char *baddr, const char *topic, int counter)
{
    char body[600];
    snprintf(body, sizeof body,
             "{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":%d,"
             "\"timestamp\":1700000000000},\"topicConfigTable\":{\"%s\":{\"order\":false,\"perm\":6,"
             "\"readQueueNums\":4,\"topicFilterType\":\"SINGLE_TAG\",\"topicName\":\"%s\",\"topicSysFlag\":0,"
             "\"writeQueueNums\":4}}}}", counter, topic, topic);
    return register_body(via, name, baddr, body);
}

/* The route body of topic (malloc'ed, "" if none) and its response code. */
static char *route(const char *topic, int *code)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_ROUTEINFO_BY_TOPIC);
    rk_cmd_ext_set(req, "topic", topic);
    req->version = 409;
    rk_cmd_t *resp = NULL;
    cr_assert_eq(rk_rclient_invoke_sync(cl, addr, req, 3000, &resp), 0);
    *code = resp->code;
    char *body = resp->body ? strndup((const char *)resp->body, resp->body_len) : strdup("");
    rk_cmd_free(resp);
    return body;
}

static int route_code(const char *topic)
{
    int code;
    free(route(topic, &code));
    return code;
}

/* TopicA is served by broker-a at 127.0.0.1:10911 with 4 queues, nothing else changed. */
static void assert_table_unchanged(const char *after)
{
    assert_alive(after);
    int code;
    char *r = route("TopicA", &code);
    cr_assert_eq(code, 0, "TopicA lost after %s", after);
    cr_assert(strstr(r, "\"writeQueueNums\":4") && strstr(r, "\"readQueueNums\":4") && strstr(r, "\"perm\":6"),
              "TopicA changed after %s: %s", after, r);
    cr_assert(strstr(r, "\"0\":\"127.0.0.1:10911\""), "broker-a's address changed after %s: %s", after, r);
    free(r);
    cr_assert_eq(route_code("EvilTopic"), RK_RESP_TOPIC_NOT_EXIST, "an attacker's route after %s", after);
    cr_assert_eq(route_code("NewTopic"), RK_RESP_TOPIC_NOT_EXIST, "part of a refused body applied after %s", after);
}

/* SIGTERM: a clean exit (under SAN=1 this is also where a leak would show). */
static void stop_clean(void)
{
    int st = rk_tk_stop(pid, 10000);
    pid = -1;
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "mqnamesrv did not stop cleanly (status %d)", st);
}

static bool log_has(const char *a, const char *b)
{
    char *text = NULL;
    size_t len = 0;
    if (rk_file_read_all(logpath, &text, &len) != 0)
        return false;
    bool hit = false;
    for (char *line = strtok(text, "\n"); line && !hit; line = strtok(NULL, "\n"))
        hit = strstr(line, a) && (b == NULL || strstr(line, b));
    free(text);
    return hit;
}

/* ------------------------------------------------------------ replication from strangers (item 1) */

static const char *const bad_snapshots[] = {
    "{\"brokers\":[{}]}",
    "{\"topics\":[[{}]]}",
    "{\"live\":[{}]}",
    "{}",
    "not json at all",
    "[]",
    "{\"brokers\":{},\"topics\":{},\"live\":{}}",       /* no kv: incomplete */
    "{\"brokers\":{\"broker-a\":{\"cluster\":\"c\",\"addrs\":{\"0\":5}}},\"topics\":{},\"live\":{},\"kv\":{}}",
    "{\"brokers\":{\"broker-a\":{\"cluster\":\"c\",\"addrs\":{\"x\":\"1.2.3.4:1\"}}},\"topics\":{},\"live\":{},"
    "\"kv\":{}}",
    "{\"brokers\":{},\"topics\":{\"EvilTopic\":[{\"brokerName\":\"evil\",\"read\":4294967297,\"write\":4,"
    "\"perm\":6,\"sysflag\":0}]},\"live\":{},\"kv\":{}}",
    "{\"brokers\":{},\"topics\":{\"EvilTopic\":[{\"brokerName\":\"evil\",\"read\":4,\"write\":4,\"perm\":-1,"
    "\"sysflag\":0}]},\"live\":{},\"kv\":{}}",
    "{\"brokers\":{},\"topics\":{\"EvilTopic\":[{\"brokerName\":\"evil\",\"read\":1e300,\"write\":4,\"perm\":6,"
    "\"sysflag\":0}]},\"live\":{},\"kv\":{}}",
    "{\"brokers\":{},\"topics\":{},\"live\":{\"6.6.6.6:1\":{\"name\":\"evil\",\"cluster\":\"c\",\"id\":-3,"
    "\"dvCounter\":1,\"dvTs\":1}},\"kv\":{}}",
    "{\"brokers\":{},\"topics\":{},\"live\":{},\"kv\":{\"ns\":5}}",
    /* a valid table followed by one bad queue: nothing of it may be applied */
    "{\"brokers\":{\"evil\":{\"cluster\":\"c\",\"addrs\":{\"0\":\"6.6.6.6:10911\"}}},\"topics\":{\"EvilTopic\":"
    "[{\"brokerName\":\"evil\",\"read\":4,\"write\":4,\"perm\":6,\"sysflag\":0}],\"NewTopic\":[{\"brokerName\":"
    "\"evil\",\"read\":4,\"write\":4,\"perm\":99,\"sysflag\":0}]},\"live\":{},\"kv\":{}}",
    /* the same key twice */
    "{\"brokers\":{\"evil\":{\"cluster\":\"c\",\"addrs\":{\"0\":\"6.6.6.6:1\"}},\"evil\":{\"cluster\":\"c\","
    "\"addrs\":{\"0\":\"6.6.6.6:2\"}}},\"topics\":{},\"live\":{},\"kv\":{}}",
};

/* Well formed: installs EvilTopic on an attacker's broker and drops everything else. */
static const char made_up_table[] =
    "{\"brokers\":{\"evil\":{\"cluster\":\"DefaultCluster\",\"addrs\":{\"0\":\"6.6.6.6:10911\"}}},"
    "\"topics\":{\"EvilTopic\":[{\"brokerName\":\"evil\",\"read\":4,\"write\":4,\"perm\":6,\"sysflag\":0}]},"
    "\"live\":{\"6.6.6.6:10911\":{\"name\":\"evil\",\"cluster\":\"DefaultCluster\",\"ha\":\"\",\"id\":0,"
    "\"dvCounter\":1,\"dvTs\":1}},\"kv\":{}}";

static rk_cmd_t *repl(int32_t code, const char *body, const char *secret)
{
    rk_cmd_t *req = rk_cmd_new(code);
    if (body != NULL)
        rk_cmd_set_body(req, body, strlen(body));
    if (secret != NULL)
        rk_cmd_ext_set(req, "replicationSecret", secret);
    return req;
}

/* A replicated REGISTER_BROKER that would install EvilTopic. */
static rk_cmd_t *repl_apply_evil(const char *secret)
{
    rk_cmd_t *req = repl(RK_REQ_NS_REPL_APPLY,
                         "{\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":1,\"timestamp\":1},"
                         "\"topicConfigTable\":{\"EvilTopic\":{\"perm\":6,\"readQueueNums\":4,\"writeQueueNums\":4}}}}",
                         secret);
    rk_cmd_ext_set(req, "origCode", "103");
    rk_cmd_ext_set(req, "brokerName", "evil");
    rk_cmd_ext_set(req, "brokerAddr", "6.6.6.6:10911");
    rk_cmd_ext_set(req, "clusterName", "DefaultCluster");
    rk_cmd_ext_set(req, "brokerId", "0");
    return req;
}

static void assert_every_replication_request_refused(const char *secret)
{
    char remark[256];
    for (size_t i = 0; i < sizeof bad_snapshots / sizeof bad_snapshots[0]; i++) {
        int code = send_via(cl, repl(RK_REQ_NS_REPL_SNAPSHOT, bad_snapshots[i], secret), remark, sizeof remark);
        cr_assert_eq(code, RK_RESP_NO_PERMISSION, "snapshot %zu: code %d (%s)", i, code, remark);
        assert_table_unchanged(bad_snapshots[i]);
    }
    int code = send_via(cl, repl(RK_REQ_NS_REPL_SNAPSHOT, made_up_table, secret), remark, sizeof remark);
    cr_assert_eq(code, RK_RESP_NO_PERMISSION, "made-up table: code %d", code);
    cr_assert(strlen(remark) > 0, "a refusal says why");
    assert_table_unchanged("a made-up snapshot");
    code = send_via(cl, repl_apply_evil(secret), remark, sizeof remark);
    cr_assert_eq(code, RK_RESP_NO_PERMISSION, "replicated write: code %d (%s)", code, remark);
    assert_table_unchanged("a replicated write");
    code = send_via(cl, repl(RK_REQ_NS_REPL_PING, NULL, secret), remark, sizeof remark);
    cr_assert_eq(code, RK_RESP_NO_PERMISSION, "ping: code %d (%s)", code, remark);
}

Test(hostile_namesrv, independent_mode_refuses_every_replication_request)
{
    start_ns(NULL);
    cr_assert_eq(register_topic(cl, "broker-a", "127.0.0.1:10911", "TopicA", 1), 0);
    assert_every_replication_request_refused(NULL);
    assert_every_replication_request_refused(SECRET);
    cr_assert(log_has("WARN", "127.0.0.1:"), "the refusal is logged with the remote address");
    stop_clean();
}

Test(hostile_namesrv, a_follower_refuses_replication_from_an_address_that_is_not_its_upstream)
{
    start_ns("clusterMode=master_slave\nreplicationUpstream=10.255.255.1:9876\nreplicationSecret=" SECRET "\n");
    cr_assert_eq(register_topic(cl, "broker-a", "127.0.0.1:10911", "TopicA", 1), 0);
    assert_every_replication_request_refused(SECRET);    /* right secret, wrong address */
    cr_assert(log_has("WARN", "127.0.0.1:"));
    stop_clean();
}

Test(hostile_namesrv, a_follower_needs_the_shared_secret_and_validates_what_its_upstream_sends)
{
    start_ns("clusterMode=master_slave\nreplicationUpstream=127.0.0.1:1\nreplicationSecret=" SECRET "\n");
    cr_assert_eq(register_topic(cl, "broker-a", "127.0.0.1:10911", "TopicA", 1), 0);
    assert_every_replication_request_refused(NULL);
    assert_every_replication_request_refused("wrong");
    assert_every_replication_request_refused(SECRET "x");
    /* from the upstream with the secret: malformed bodies are refused whole */
    char remark[256];
    for (size_t i = 0; i < sizeof bad_snapshots / sizeof bad_snapshots[0]; i++) {
        int code = send_via(cl, repl(RK_REQ_NS_REPL_SNAPSHOT, bad_snapshots[i], SECRET), remark, sizeof remark);
        cr_assert_eq(code, RK_RESP_SYSTEM_ERROR, "snapshot %zu: code %d", i, code);
        cr_assert(strlen(remark) > 0);
        assert_table_unchanged(bad_snapshots[i]);
    }
    cr_assert_eq(send_via(cl, repl(RK_REQ_NS_REPL_PING, NULL, SECRET), NULL, 0), 0, "the upstream may ping");
    /* a well-formed snapshot from the upstream replaces the table */
    cr_assert_eq(send_via(cl, repl(RK_REQ_NS_REPL_SNAPSHOT, made_up_table, SECRET), remark, sizeof remark), 0,
                 "%s", remark);
    assert_alive("a good snapshot");
    cr_assert_eq(route_code("EvilTopic"), 0, "accepted from the configured upstream");
    cr_assert_eq(route_code("TopicA"), RK_RESP_TOPIC_NOT_EXIST);
    stop_clean();
}

/* ------------------------------------------------------------ hostile REGISTER_BROKER bodies (item 1) */

#define WRAP(table) "{\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":7,\"timestamp\":1}," \
                    "\"topicConfigTable\":" table "}}"
#define Q(r, w, p) "{\"perm\":" p ",\"readQueueNums\":" r ",\"writeQueueNums\":" w "}"

static const char *const bad_register_bodies[] = {
    "[]",
    "\"str\"",
    "{\"topicConfigSerializeWrapper\":[]}",
    "{\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":\"x\",\"timestamp\":1},\"topicConfigTable\":{}}}",
    "{\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":1e300,\"timestamp\":1},\"topicConfigTable\":{}}}",
    "{\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":-1,\"timestamp\":1},\"topicConfigTable\":{}}}",
    "{\"topicConfigSerializeWrapper\":{\"dataVersion\":5,\"topicConfigTable\":{}}}",
    "{\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":8,\"timestamp\":1}}}",
    WRAP("[]"),
    WRAP("{\"NewTopic\":5}"),
    WRAP("{\"NewTopic\":" Q("4294967297", "4", "6") "}"),
    WRAP("{\"NewTopic\":" Q("4", "4", "-1") "}"),
    WRAP("{\"NewTopic\":" Q("4", "4", "8") "}"),
    WRAP("{\"NewTopic\":" Q("1e300", "4", "6") "}"),
    WRAP("{\"NewTopic\":" Q("4.5", "4", "6") "}"),
    WRAP("{\"NewTopic\":" Q("4", "\"abc\"", "6") "}"),
    WRAP("{\"NewTopic\":" Q("4", "true", "6") "}"),
    WRAP("{\"NewTopic\":{\"perm\":6,\"readQueueNums\":4}}"),
    WRAP("{\"NewTopic\":{\"perm\":6,\"readQueueNums\":4,\"writeQueueNums\":4,\"topicSysFlag\":-5}}"),
    WRAP("{\"\":" Q("4", "4", "6") "}"),
    WRAP("{\"NewTopic\":" Q("4", "4", "6") ",\"BadTopic\":" Q("4", "4", "99") "}"),
    WRAP("{\"NewTopic\":" Q("4", "4", "6") ",\"TopicA\":" Q("2000", "4", "6") "}"),
    WRAP("{\"NewTopic\":" Q("4", "4", "6") ",\"NewTopic\":" Q("4", "4", "6") "}"),
    "{\"filterServerList\":{},\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":9,\"timestamp\":1},"
    "\"topicConfigTable\":{\"NewTopic\":" Q("4", "4", "6") "}}}",
    "{\"filterServerList\":[5],\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":9,\"timestamp\":1},"
    "\"topicConfigTable\":{\"NewTopic\":" Q("4", "4", "6") "}}}",
};

Test(hostile_namesrv, malformed_register_bodies_are_refused_whole)
{
    start_ns(NULL);
    cr_assert_eq(register_topic(cl, "broker-a", "127.0.0.1:10911", "TopicA", 1), 0);
    for (size_t i = 0; i < sizeof bad_register_bodies / sizeof bad_register_bodies[0]; i++) {
        int code = register_body(cl, "broker-a", "127.0.0.1:10911", bad_register_bodies[i]);
        cr_assert_eq(code, RK_RESP_SYSTEM_ERROR, "body %zu accepted: %s", i, bad_register_bodies[i]);
        assert_table_unchanged(bad_register_bodies[i]);
    }
    char longname[400];
    memset(longname, 'T', 300);
    longname[300] = '\0';
    char body[800];
    snprintf(body, sizeof body, WRAP("{\"%s\":" Q("4", "4", "6") "}"), longname);
    cr_assert_eq(register_body(cl, "broker-a", "127.0.0.1:10911", body), RK_RESP_SYSTEM_ERROR, "a 300-byte topic");
    assert_table_unchanged("a long topic name");
    /* the extFields are checked too */
    rk_cmd_t *req = rk_cmd_new(RK_REQ_REGISTER_BROKER);
    rk_cmd_ext_set(req, "brokerName", "broker-a");
    rk_cmd_ext_set(req, "brokerAddr", "127.0.0.1:10911");
    rk_cmd_ext_set(req, "clusterName", "DefaultCluster");
    rk_cmd_ext_set(req, "brokerId", "99999999999999999999");
    cr_assert_eq(send_via(cl, req, NULL, 0), RK_RESP_SYSTEM_ERROR);
    assert_table_unchanged("an overflowing brokerId");
    stop_clean();
}

static uint8_t *compressed_body(const char *topic_line, uLongf *zlen)
{
    rk_buf_t raw = {0};
    const char *dv = "{\"counter\":3,\"timestamp\":1700000000000}";
    rk_buf_put_u32(&raw, (uint32_t)strlen(dv));
    rk_buf_put_str(&raw, dv);
    rk_buf_put_u32(&raw, 1);
    rk_buf_put_u32(&raw, (uint32_t)strlen(topic_line));
    rk_buf_put_str(&raw, topic_line);
    rk_buf_put_u32(&raw, 2);
    rk_buf_put_str(&raw, "[]");
    *zlen = compressBound(raw.len);
    uint8_t *z = malloc(*zlen);
    cr_assert_eq(compress2(z, zlen, raw.data, raw.len, Z_BEST_COMPRESSION), Z_OK);
    rk_buf_free(&raw);
    return z;
}

Test(hostile_namesrv, malformed_compressed_register_bodies_and_data_versions_are_refused)
{
    start_ns(NULL);
    cr_assert_eq(register_topic(cl, "broker-a", "127.0.0.1:10911", "TopicA", 1), 0);
    const char *lines[] = {"NewTopic 4294967297 4 6 SINGLE_TAG", "NewTopic 4 4 99 SINGLE_TAG",
                           "NewTopic -4 4 6 SINGLE_TAG", "NewTopic 99999999999999999999999 4 6 SINGLE_TAG",
                           "NewTopic 4 x 6 SINGLE_TAG", "NewTopic"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        uLongf zlen;
        uint8_t *z = compressed_body(lines[i], &zlen);
        rk_cmd_t *req = rk_cmd_new(RK_REQ_REGISTER_BROKER);
        rk_cmd_ext_set(req, "brokerName", "broker-a");
        rk_cmd_ext_set(req, "brokerAddr", "127.0.0.1:10911");
        rk_cmd_ext_set(req, "clusterName", "DefaultCluster");
        rk_cmd_ext_set(req, "brokerId", "0");
        rk_cmd_ext_set(req, "compressed", "true");
        rk_cmd_set_body(req, z, zlen);
        free(z);
        cr_assert_eq(send_via(cl, req, NULL, 0), RK_RESP_SYSTEM_ERROR, "line \"%s\" accepted", lines[i]);
        assert_table_unchanged(lines[i]);
    }
    const char *dvs[] = {"{\"counter\":1e300,\"timestamp\":1}", "[1]", "{\"counter\":\"x\",\"timestamp\":1}"};
    for (size_t i = 0; i < sizeof dvs / sizeof dvs[0]; i++) {
        rk_cmd_t *req = rk_cmd_new(RK_REQ_QUERY_DATA_VERSION);
        rk_cmd_ext_set(req, "brokerName", "broker-a");
        rk_cmd_ext_set(req, "brokerAddr", "127.0.0.1:10911");
        rk_cmd_ext_set(req, "clusterName", "DefaultCluster");
        rk_cmd_ext_set(req, "brokerId", "0");
        rk_cmd_set_body(req, dvs[i], strlen(dvs[i]));
        cr_assert_eq(send_via(cl, req, NULL, 0), RK_RESP_SYSTEM_ERROR, "data version %s", dvs[i]);
        assert_table_unchanged(dvs[i]);
    }
    stop_clean();
}

Test(hostile_namesrv, kv_config_with_wrong_types_or_sizes_is_refused)
{
    start_ns(NULL);
    cr_assert_eq(register_topic(cl, "broker-a", "127.0.0.1:10911", "TopicA", 1), 0);
    char big[400];
    memset(big, 'k', 300);
    big[300] = '\0';
    rk_cmd_t *req = rk_cmd_new(RK_REQ_PUT_KV_CONFIG);
    rk_cmd_ext_set(req, "namespace", "ORDER_TOPIC_CONFIG");
    rk_cmd_ext_set(req, "key", big);
    rk_cmd_ext_set(req, "value", "v");
    cr_assert_eq(send_via(cl, req, NULL, 0), RK_RESP_SYSTEM_ERROR, "a 300-byte key");
    assert_table_unchanged("a long KV key");
    rk_tk_stop(pid, 5000);
    pid = -1;
    /* a KV file whose namespace is not an object: refused at start, never half used */
    char kvpath[300];
    snprintf(kvpath, sizeof kvpath, "%s/kv.json", dir);
    FILE *f = fopen(kvpath, "w");
    fputs("{\"configTable\":{\"ns\":5}}", f);
    fclose(f);
    char *out = NULL;
    int port = rk_tk_free_port();
    f = fopen(conf, "w");
    fprintf(f, "listenPort=%d\nlistenHost=127.0.0.1\nkvConfigPath=%s\n", port, kvpath);
    fclose(f);
    char *argv[] = {(char *)rk_tk_bin("mqnamesrv"), "-c", conf, NULL};
    int rc = rk_tk_run(argv, &out, 5000);
    cr_assert_neq(rc, 0, "started with a bad KV file: %s", out ? out : "");
    cr_assert(out && strstr(out, "kv.json"), "the message names the file: %s", out ? out : "");
    free(out);
}

/* ------------------------------------------------------------ an impostor broker (item 13) */

static int unregister(rk_rclient_t *via, const char *name, const char *baddr)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_UNREGISTER_BROKER);
    rk_cmd_ext_set(req, "brokerName", name);
    rk_cmd_ext_set(req, "brokerAddr", baddr);
    rk_cmd_ext_set(req, "clusterName", "DefaultCluster");
    rk_cmd_ext_set(req, "brokerId", "0");
    return send_via(via, req, NULL, 0);
}

Test(hostile_namesrv, an_impostor_with_the_same_name_does_not_erase_the_real_brokers_routes)
{
    start_ns(NULL);
    rk_rclient_t *a, *b;
    cr_assert_eq(rk_rclient_new(&a), 0);
    cr_assert_eq(rk_rclient_new(&b), 0);
    cr_assert_eq(register_topic(a, "broker-a", "127.0.0.1:10911", "TopicA", 1), 0);
    /* a typo'd config (or a fake broker) claims brokerId 0 of the live master's name: refused */
    cr_assert_eq(register_topic(b, "broker-a", "127.0.0.1:10999", "TopicB", 1), 16);
    cr_assert(log_has("WARN", "MASTER HIJACK REFUSED: 127.0.0.1:10999"), "refusing a hijack is logged loudly");
    cr_assert(log_has("WARN", "live master at 127.0.0.1:10911"));
    int code;
    char *r = route("TopicA", &code);
    cr_assert_eq(code, 0, "the real broker's routes never left");
    cr_assert(strstr(r, "\"0\":\"127.0.0.1:10911\""), "%s", r);
    free(r);
    free(route("TopicB", &code));
    cr_assert_neq(code, 0, "the impostor's topic is not routed");
    /* the impostor leaving (unregister, close) changes nothing for the real one */
    cr_assert_eq(unregister(b, "broker-a", "127.0.0.1:10999"), 0);
    rk_rclient_free(b);
    cr_assert_eq(register_topic(a, "broker-a", "127.0.0.1:10911", "TopicA", 1), 0);   /* same data version */
    r = route("TopicA", &code);
    cr_assert_eq(code, 0);
    cr_assert(strstr(r, "\"0\":\"127.0.0.1:10911\""), "%s", r);
    free(r);
    rk_rclient_free(a);
    stop_clean();
}

Test(hostile_namesrv, a_displaced_master_leaving_does_not_take_the_current_masters_routes)
{
    start_ns(NULL);
    cr_assert_eq(register_topic(cl, "broker-a", "127.0.0.1:10911", "TopicA", 1), 0);
    /* a slave of broker-a is promoted (an election, chapter 8): it may take brokerId 0 */
    rk_cmd_t *req = rk_cmd_new(RK_REQ_REGISTER_BROKER);
    rk_cmd_ext_set(req, "brokerName", "broker-a");
    rk_cmd_ext_set(req, "brokerAddr", "127.0.0.1:10922");
    rk_cmd_ext_set(req, "clusterName", "DefaultCluster");
    rk_cmd_ext_set(req, "brokerId", "1");
    cr_assert_eq(send_via(cl, req, NULL, 0), 0);
    cr_assert_eq(register_topic(cl, "broker-a", "127.0.0.1:10922", "TopicB", 1), 0);   /* the new master */
    cr_assert_eq(unregister(cl, "broker-a", "127.0.0.1:10911"), 0);                    /* the old one goes */
    int code;
    char *r = route("TopicB", &code);
    cr_assert_eq(code, 0, "the current master's routes stay");
    cr_assert(strstr(r, "\"0\":\"127.0.0.1:10922\""), "%s", r);
    free(r);
    stop_clean();
}
