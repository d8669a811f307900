/* test_hostile_broker.c — the broker against clients that misbehave (issue 9):
 * held pulls of a closed connection, too many held pulls, an auto-create
 * flood, numbers that do not fit the field they are meant for. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/json.h"
#include "rk/log.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"
#include "rk/tk_send.h"
#include "rk/topic_config.h"

static tk_cluster_t c;
static rk_rclient_t *cl;

static void fini(void)
{
    rk_rclient_free(cl);
    cl = NULL;
    tk_cluster_stop(&c);
}

TestSuite(hostile_broker, .fini = fini, .timeout = 90);

static void start(const char *extra)
{
    tk_cluster_start(&c, extra);
    cr_assert_eq(rk_rclient_new(&cl), 0);
}

static rk_cmd_t *call(rk_cmd_t *req)
{
    rk_cmd_t *resp = NULL;
    int rc = rk_rclient_invoke_sync(cl, c.br, req, 5000, &resp);
    cr_assert_eq(rc, 0, "request: %s", rk_strerror(rc));
    return resp;
}

static int64_t ext_i64(const rk_cmd_t *r, const char *k)
{
    int64_t v = -999;
    rk_cmd_ext_i64(r, k, &v);
    return v;
}

/* SEND_MESSAGE_V2 as the Java client sends it; the caller may override fields. */
static rk_cmd_t *send_req(const char *topic, int qid)
{
    rk_cmd_t *req = rk_tk_send_request(&(rk_tk_send_spec_t){.topic = topic, .queue_id = qid, .body = "hello"});
    cr_assert(req != NULL);
    return req;
}

static rk_cmd_t *pull_req(const char *topic, int64_t offset, int64_t suspend_ms)
{
    rk_cmd_t *req = rk_tk_pull_request(&(rk_tk_pull_spec_t){.topic = topic, .offset = offset,
                                                             .sys_flag = suspend_ms > 0 ? 2 : 0,
                                                             .suspend_ms = suspend_ms});
    cr_assert(req != NULL);
    return req;
}

/* A key of GET_BROKER_RUNTIME_INFO's table, as a number (-1 if absent). */
static int64_t runtime_i64(const char *key)
{
    rk_cmd_t *r = call(rk_cmd_new(RK_REQ_GET_BROKER_RUNTIME_INFO));
    cr_assert_eq(r->code, 0);
    cJSON *root = rk_json_parse((const char *)r->body, r->body_len);
    int64_t v = -1;
    rk_json_get_i64(cJSON_GetObjectItemCaseSensitive(root, "table"), key, &v);
    cJSON_Delete(root);
    rk_cmd_free(r);
    return v;
}

/* ------------------------------------------------------------ item 5: held pulls */

typedef struct {
    _Atomic int done, not_found, closed;
} pulls_t;

static void on_pull(void *arg, int status, rk_cmd_t *resp)
{
    pulls_t *p = arg;
    if (status == RK_OK && resp->code == RK_RESP_PULL_NOT_FOUND)
        atomic_fetch_add(&p->not_found, 1);
    if (status != RK_OK)
        atomic_fetch_add(&p->closed, 1);
    atomic_fetch_add(&p->done, 1);
    rk_cmd_free(resp);
}

static int64_t want_held;
static bool held_is(void *arg)
{
    (void)arg;
    return runtime_i64("heldPulls") == want_held;
}

static bool count_is(void *arg)
{
    return atomic_load(&((pulls_t *)arg)->done) >= (int)want_held;
}

/* n long-polling pulls (30 s) on an empty queue from client r. */
static void hold_pulls(rk_rclient_t *r, int n, pulls_t *p)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(rk_rclient_invoke_async(r, c.br, pull_req("Empty", 0, 30000), 40000, on_pull, p), 0);
}

Test(hostile_broker, held_pulls_of_a_closed_connection_are_dropped_at_once)
{
    start(NULL);
    tk_create_topic(&c, "Empty", 1);
    rk_rclient_t *r;
    cr_assert_eq(rk_rclient_new(&r), 0);
    pulls_t p = {0};
    hold_pulls(r, 100, &p);
    want_held = 100;
    cr_assert(tk_wait_until(held_is, NULL, 10000), "the broker holds the 100 pulls (holds %lld)",
              (long long)runtime_i64("heldPulls"));
    cr_assert_eq(atomic_load(&p.done), 0, "nothing answered them yet");
    rk_rclient_free(r);                 /* the client goes away without a word */
    want_held = 0;
    cr_assert(tk_wait_until(held_is, NULL, 5000), "its held pulls are dropped when it closes, not after 30 s "
              "(still %lld held)", (long long)runtime_i64("heldPulls"));
    /* the broker still answers an unrelated pull */
    rk_cmd_t *resp = call(pull_req("Empty", 0, 0));
    cr_assert_eq(resp->code, RK_RESP_PULL_NOT_FOUND);
    rk_cmd_free(resp);
}

Test(hostile_broker, held_pulls_are_capped_per_connection_and_in_total)
{
    start("maxHeldPullsPerConnection=50\nmaxHeldPulls=70\n");
    tk_create_topic(&c, "Empty", 1);
    rk_rclient_t *r1, *r2;
    cr_assert_eq(rk_rclient_new(&r1), 0);
    cr_assert_eq(rk_rclient_new(&r2), 0);
    pulls_t p1 = {0}, p2 = {0};
    hold_pulls(r1, 80, &p1);
    want_held = 30;
    cr_assert(tk_wait_until(count_is, &p1, 10000), "the 30 pulls over the connection's cap are answered at once");
    cr_assert_eq(atomic_load(&p1.not_found), 30, "with PULL_NOT_FOUND");
    want_held = 50;
    cr_assert(tk_wait_until(held_is, NULL, 5000), "50 held (%lld)", (long long)runtime_i64("heldPulls"));
    hold_pulls(r2, 40, &p2);
    want_held = 20;
    cr_assert(tk_wait_until(count_is, &p2, 10000), "over the broker's cap of 70: 20 answered at once");
    cr_assert_eq(atomic_load(&p2.not_found), 20);
    want_held = 70;
    cr_assert(tk_wait_until(held_is, NULL, 5000), "70 held (%lld)", (long long)runtime_i64("heldPulls"));
    /* a message wakes the held pulls of its queue */
    rk_cmd_t *resp = call(send_req("Empty", 0));
    cr_assert_eq(resp->code, 0, "%s", resp->remark ? resp->remark : "");
    rk_cmd_free(resp);
    want_held = 0;
    cr_assert(tk_wait_until(held_is, NULL, 10000), "woken by the message (%lld held)",
              (long long)runtime_i64("heldPulls"));
    want_held = 80;
    cr_assert(tk_wait_until(count_is, &p1, 10000));
    want_held = 40;
    cr_assert(tk_wait_until(count_is, &p2, 10000));
    rk_rclient_free(r1);
    rk_rclient_free(r2);
}

/* ------------------------------------------------------------ item 6: auto-create */

Test(hostile_broker, auto_created_topics_are_persisted_and_capped)
{
    start("autoCreateTopicMax=5\n");
    char topic[64];
    for (int i = 0; i < 5; i++) {
        snprintf(topic, sizeof topic, "Flood%d", i);
        rk_cmd_t *r = call(send_req(topic, 0));
        cr_assert_eq(r->code, 0, "%s: %s", topic, r->remark ? r->remark : "");
        rk_cmd_free(r);
    }
    rk_cmd_t *r = call(send_req("Flood5", 0));
    cr_assert_eq(r->code, RK_RESP_TOPIC_NOT_EXIST, "the 6th auto-created topic is refused");
    cr_assert(r->remark != NULL && strstr(r->remark, "autoCreateTopicMax") != NULL, "the remark says why: %s",
              r->remark ? r->remark : "");
    rk_cmd_free(r);
    r = call(send_req("Flood0", 0));
    cr_assert_eq(r->code, 0, "an existing topic still takes messages");
    rk_cmd_free(r);
    tk_cluster_restart_broker(&c);
    char path[400], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/store/config/topics.json", c.dir);
    cr_assert_eq(rk_file_read_all(path, &text, &len), 0);
    for (int i = 0; i < 5; i++) {
        char quoted[64];
        snprintf(quoted, sizeof quoted, "\"Flood%d\"", i);
        cr_assert(strstr(text, quoted) != NULL, "%s persisted", quoted);
    }
    cr_assert(strstr(text, "\"Flood5\"") == NULL);
    free(text);
    /* the cap holds after the restart too */
    r = call(send_req("Flood6", 0));
    cr_assert_eq(r->code, RK_RESP_TOPIC_NOT_EXIST);
    rk_cmd_free(r);
    /* and every message sent to the five is still there */
    r = call(pull_req("Flood0", 0, 0));
    cr_assert_eq(r->code, 0);
    cr_assert_eq(ext_i64(r, "maxOffset"), 2);
    rk_cmd_free(r);
}

/* ------------------------------------------------------------ item 12: numbers */

static rk_cmd_t *create_req(const char *topic, const char *rq, const char *perm)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_UPDATE_AND_CREATE_TOPIC);
    rk_cmd_ext_set(req, "topic", topic);
    rk_cmd_ext_set(req, "defaultTopic", "TBW102");
    rk_cmd_ext_set(req, "readQueueNums", rq);
    rk_cmd_ext_set(req, "writeQueueNums", "4");
    rk_cmd_ext_set(req, "perm", perm);
    rk_cmd_ext_set(req, "topicFilterType", "SINGLE_TAG");
    return req;
}

static void expect_refused(rk_cmd_t *req, const char *field, const char *what)
{
    rk_cmd_t *r = call(req);
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR, "%s: refused (code %d, %s)", what, r->code, r->remark ? r->remark : "");
    cr_assert(r->remark != NULL && strstr(r->remark, field) != NULL, "%s: the remark names %s: %s", what, field,
              r->remark ? r->remark : "");
    rk_cmd_free(r);
}

static bool topic_exists(const char *topic)
{
    rk_cmd_t *r = call(rk_cmd_new(RK_REQ_GET_ALL_TOPIC_CONFIG));
    cr_assert_eq(r->code, 0);
    cJSON *root = rk_json_parse((const char *)r->body, r->body_len);
    bool found = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "topicConfigTable"),
                                                  topic) != NULL;
    cJSON_Delete(root);
    rk_cmd_free(r);
    return found;
}

static rk_cmd_t *offset_req(int32_t code, const char *topic, const char *qid, const char *off)
{
    rk_cmd_t *req = rk_cmd_new(code);
    rk_cmd_ext_set(req, "consumerGroup", "cg");
    rk_cmd_ext_set(req, "topic", topic);
    rk_cmd_ext_set(req, "queueId", qid);
    if (off)
        rk_cmd_ext_set(req, "commitOffset", off);
    return req;
}

Test(hostile_broker, numbers_that_do_not_fit_are_refused_not_truncated)
{
    start(NULL);
    /* readQueueNums = 2^32 + 1 was taken as 1 queue */
    expect_refused(create_req("Trunc", "4294967297", "6"), "readQueueNums", "readQueueNums=2^32+1");
    cr_assert(!topic_exists("Trunc"));
    /* perm = -1 was accepted */
    expect_refused(create_req("Trunc", "4", "-1"), "perm", "perm=-1");
    expect_refused(create_req("Trunc", "4", "16"), "perm", "perm=16");
    expect_refused(create_req("Trunc", "4x", "6"), "readQueueNums", "readQueueNums=4x");
    cr_assert(!topic_exists("Trunc"));
    tk_create_topic(&c, "Offsets", 4);
    /* UPDATE_CONSUMER_OFFSET with queueId = 2^40 overwrote queue 0 */
    rk_cmd_t *r = call(offset_req(RK_REQ_UPDATE_CONSUMER_OFFSET, "Offsets", "0", "5"));
    cr_assert_eq(r->code, 0);
    rk_cmd_free(r);
    expect_refused(offset_req(RK_REQ_UPDATE_CONSUMER_OFFSET, "Offsets", "1099511627776", "77"), "queueId",
                   "queueId=2^40");
    r = call(offset_req(RK_REQ_UPDATE_CONSUMER_OFFSET, "Offsets", "4", "77"));
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR, "queueId 4 of a 4-queue topic");
    rk_cmd_free(r);
    expect_refused(offset_req(RK_REQ_UPDATE_CONSUMER_OFFSET, "Offsets", "0", "99999999999999999999"),
                   "commitOffset", "commitOffset past 2^63");
    r = call(offset_req(RK_REQ_QUERY_CONSUMER_OFFSET, "Offsets", "0", NULL));
    cr_assert_eq(r->code, 0);
    cr_assert_eq(ext_i64(r, "offset"), 5, "queue 0 keeps its offset");
    rk_cmd_free(r);
    expect_refused(offset_req(RK_REQ_QUERY_CONSUMER_OFFSET, "Offsets", "4294967296", NULL), "queueId",
                   "query queueId=2^32");
    /* send: queueId, sysFlag, bornTimestamp */
    rk_cmd_t *req = send_req("Offsets", 0);
    rk_cmd_ext_set(req, "e", "4294967296");
    expect_refused(req, "queueId", "send queueId=2^32");
    req = send_req("Offsets", 0);
    rk_cmd_ext_set(req, "f", "-1");
    expect_refused(req, "sysFlag", "send sysFlag=-1");
    req = send_req("Offsets", 0);
    rk_cmd_ext_set(req, "g", "soon");
    expect_refused(req, "bornTimestamp", "send bornTimestamp=soon");
    /* pull: queueId, maxMsgNums, queueOffset */
    req = pull_req("Offsets", 0, 0);
    rk_cmd_ext_set(req, "queueId", "4294967296");
    expect_refused(req, "queueId", "pull queueId=2^32");
    req = pull_req("Offsets", 0, 0);
    rk_cmd_ext_set(req, "maxMsgNums", "1099511627776");
    expect_refused(req, "maxMsgNums", "pull maxMsgNums=2^40");
    req = pull_req("Offsets", 0, 0);
    rk_cmd_ext_set(req, "queueOffset", "-5");
    expect_refused(req, "queueOffset", "pull queueOffset=-5");
    /* lookups */
    req = rk_cmd_new(RK_REQ_GET_MAX_OFFSET);
    rk_cmd_ext_set(req, "topic", "Offsets");
    rk_cmd_ext_set(req, "queueId", "4294967296");
    expect_refused(req, "queueId", "max offset queueId=2^32");
    req = rk_cmd_new(RK_REQ_VIEW_MESSAGE_BY_ID);
    rk_cmd_ext_set(req, "offset", "1e3");
    expect_refused(req, "offset", "view offset=1e3");
    /* the broker is still there and right */
    r = call(send_req("Offsets", 1));
    cr_assert_eq(r->code, 0);
    cr_assert_eq(ext_i64(r, "queueId"), 1);
    rk_cmd_free(r);
}

/* topics.json with numbers that do not fit: refused with a reason, never cast. */
Test(hostile_broker_files, topics_json_numbers_out_of_range_are_refused)
{
    char dir[256], path[300];
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "topics-bad"), 0);
    snprintf(path, sizeof path, "%s/topics.json", dir);
    const char *bad[] = {"\"readQueueNums\":4294967297", "\"readQueueNums\":1e300", "\"perm\":-1",
                         "\"writeQueueNums\":-3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[300];
        snprintf(text, sizeof text, "{\"topicConfigTable\":{\"T\":{\"topicName\":\"T\",%s}}}", bad[i]);
        cr_assert_eq(rk_file_write_atomic(path, text, strlen(text)), 0);
        rk_topic_manager_config_t cfg = {.path = path, .cluster_name = "C", .broker_name = "b", .auto_create_topic = true, .default_queue_nums = 8};
        rk_topic_manager_t *m = NULL;
        char err[300] = "";
        rk_log_level_t was = rk_log_get_level();
        rk_log_set_level(RK_LOG_OFF);       /* the ERROR naming the field is expected */
        int rc = rk_topic_manager_open(&cfg, &m, err, sizeof err);
        rk_log_set_level(was);
        cr_assert_neq(rc, 0, "%s refused", bad[i]);
        cr_assert_null(m);
        unlink(path);
        char bak[320];
        snprintf(bak, sizeof bak, "%s.bak", path);
        unlink(bak);
    }
    rk_tk_rmtree(dir);
}

static bool file_has(const char *path, const char *needle)
{
    char *text = NULL;
    size_t len;
    if (rk_file_read_all(path, &text, &len) != RK_OK)
        return false;
    bool found = strstr(text, needle) != NULL;
    free(text);
    return found;
}

/* Auto-created topics are not written by the sender (one fsync per topic on
 * the network thread): the writer thread writes them in one go, and close
 * writes what is pending. */
Test(hostile_broker_files, auto_created_topics_are_written_later_in_one_go_and_at_close)
{
    char dir[256], path[300];
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "topics-batch"), 0);
    snprintf(path, sizeof path, "%s/topics.json", dir);
    rk_topic_manager_config_t cfg = {.path = path, .cluster_name = "C", .broker_name = "b", .auto_create_topic = true, .default_queue_nums = 8, .flush_interval_ms = 60000};
    rk_topic_manager_t *m = NULL;
    char err[300] = "";
    rk_log_level_t was = rk_log_get_level();
    rk_log_set_level(RK_LOG_WARN);          /* 200 "auto-created" INFO lines */
    cr_assert_eq(rk_topic_manager_open(&cfg, &m, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < 200; i++) {
        char name[32];
        snprintf(name, sizeof name, "Batch%d", i);
        rk_topic_config_t t;
        bool created;
        cr_assert_eq(rk_topic_get_or_create_in_send(m, name, "TBW102", 4, &t, &created), 0);
        cr_assert(created);
    }
    cr_assert(!file_has(path, "\"Batch0\""), "the senders did not write the file themselves");
    rk_topic_manager_close(m);
    cr_assert(file_has(path, "\"Batch0\"") && file_has(path, "\"Batch199\""), "close wrote every pending topic");
    /* with a short interval the writer thread gets there on its own */
    cfg.flush_interval_ms = 20;
    cr_assert_eq(rk_topic_manager_open(&cfg, &m, err, sizeof err), 0, "%s", err);
    rk_topic_config_t t;
    bool created;
    cr_assert_eq(rk_topic_get_or_create_in_send(m, "Later", "TBW102", 4, &t, &created), 0);
    for (int i = 0; i < 500 && !file_has(path, "\"Later\""); i++)
        rk_sleep_ms(10);
    cr_assert(file_has(path, "\"Later\""), "written by the writer thread");
    /* the cap counts every topic but the built-in ones */
    rk_topic_manager_close(m);
    cfg.auto_create_max = 201;
    cr_assert_eq(rk_topic_manager_open(&cfg, &m, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rk_topic_get_or_create_in_send(m, "OneTooMany", "TBW102", 4, &t, &created), RK_EFULL);
    cr_assert(!created);
    rk_topic_manager_close(m);
    rk_log_set_level(was);
    rk_tk_rmtree(dir);
}
