/* test_broker.c — mqbroker and mqnamesrv processes, driven the way RocketMQ clients drive them. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/message.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"
#include "rk/tk_send.h"

static char dir[256], conf[300], ns_addr[32], br_addr[32];
static pid_t ns_pid = -1, br_pid = -1;
static int br_port;
static rk_rclient_t *cl;

static void start_broker(void)
{
    char log[300];
    snprintf(log, sizeof log, "%s/broker.log", dir);
    char *argv[] = {(char *)rk_tk_bin("mqbroker"), "-c", conf, NULL};
    br_pid = rk_tk_spawn(argv, log);
    cr_assert(br_pid > 0);
    cr_assert(rk_tk_wait_port(br_port, 10000), "mqbroker did not start (see %s)", log);
}

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "broker"), 0);
    int ns_port = rk_tk_free_port();
    br_port = rk_tk_free_port();
    snprintf(ns_addr, sizeof ns_addr, "127.0.0.1:%d", ns_port);
    snprintf(br_addr, sizeof br_addr, "127.0.0.1:%d", br_port);
    char nsconf[300], log[300];
    snprintf(nsconf, sizeof nsconf, "%s/ns.conf", dir);
    FILE *f = fopen(nsconf, "w");
    fprintf(f, "listenPort=%d\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv.json\n", ns_port, dir);
    fclose(f);
    snprintf(log, sizeof log, "%s/ns.log", dir);
    char *nsargv[] = {(char *)(RK_BIN_DIR "/../../ch06/bin/mqnamesrv"), "-c", nsconf, NULL};
    ns_pid = rk_tk_spawn(nsargv, log);
    cr_assert(ns_pid > 0 && rk_tk_wait_port(ns_port, 5000), "mqnamesrv did not start");
    snprintf(conf, sizeof conf, "%s/broker.conf", dir);
    f = fopen(conf, "w");
    fprintf(f, "brokerClusterName=TestCluster\nbrokerName=broker-t\nbrokerId=0\nnamesrvAddr=%s\n"
               "brokerIP1=127.0.0.1\nlistenHost=127.0.0.1\nlistenPort=%d\nstorePathRootDir=%s/store\nmappedFileSizeCommitLog=1048576\n",
            ns_addr, br_port, dir);
    fclose(f);
    start_broker();
    cr_assert_eq(rk_rclient_new(&cl), 0);
}

static void teardown(void)
{
    rk_rclient_free(cl);
    if (br_pid > 0)
        rk_tk_stop(br_pid, 10000);
    if (ns_pid > 0)
        rk_tk_stop(ns_pid, 5000);
    if (getenv("RK_KEEP_TMP") == NULL)
        rk_tk_rmtree(dir);
}

TestSuite(broker, .init = setup, .fini = teardown, .timeout = 60);

static rk_cmd_t *call(const char *addr, rk_cmd_t *req)
{
    rk_cmd_t *resp = NULL;
    int rc = rk_rclient_invoke_sync(cl, addr, req, 5000, &resp);
    cr_assert_eq(rc, 0, "request %d: %s", req ? 0 : 0, rk_strerror(rc));
    return resp;
}

/* SEND_MESSAGE_V2 as the Java client sends it (short header names). */
static rk_cmd_t *send_v2(const char *topic, int qid, const char *body, const char *props)
{
    rk_cmd_t *req = rk_tk_send_request(&(rk_tk_send_spec_t){.topic = topic, .queue_id = qid, .props = props,
                                                             .body = body});
    cr_assert(req != NULL);
    return call(br_addr, req);
}

static rk_cmd_t *pull(const char *topic, int qid, int64_t offset, const char *sub)
{
    rk_cmd_t *req = rk_tk_pull_request(&(rk_tk_pull_spec_t){.topic = topic, .queue_id = qid, .offset = offset,
                                                             .sub = sub});
    cr_assert(req != NULL);
    return call(br_addr, req);
}

static int64_t ext_i64(const rk_cmd_t *c, const char *k)
{
    int64_t v = -999;
    rk_cmd_ext_i64(c, k, &v);
    return v;
}

static int count_records(const rk_cmd_t *resp, const char *want_prefix)
{
    int n = 0;
    rk_record_t rec;
    for (size_t at = 0; at < resp->body_len; at += rec.total_size) {
        cr_assert_eq(rk_record_decode(resp->body + at, resp->body_len - at, true, &rec), 0);
        cr_assert_eq(memcmp(rec.body, want_prefix, strlen(want_prefix)), 0);
        n++;
    }
    return n;
}

Test(broker, send_pull_commit_and_survive_a_restart)
{
    for (int i = 0; i < 10; i++) {
        char body[32];
        snprintf(body, sizeof body, "hello-%d", i);
        rk_cmd_t *r = send_v2("E2ETopic", 0, body, "TAGS\001a\002KEYS\001k1\002WAIT\001true");
        cr_assert_eq(r->code, 0, "send: %s", r->remark ? r->remark : "");
        cr_assert_eq(ext_i64(r, "queueOffset"), i);
        cr_assert_eq(strlen(rk_cmd_ext_get(r, "msgId")), 32);
        rk_cmd_free(r);
    }
    /* the auto-created topic reaches the name server */
    int code = -1;
    for (int i = 0; i < 100 && code != 0; i++) {
        rk_cmd_t *q = rk_cmd_new(RK_REQ_GET_ROUTEINFO_BY_TOPIC);
        rk_cmd_ext_set(q, "topic", "E2ETopic");
        rk_cmd_t *r = call(ns_addr, q);
        code = r->code;
        rk_cmd_free(r);
        if (code != 0)
            rk_sleep_ms(50);
    }
    cr_assert_eq(code, 0, "route for the new topic");
    /* wait until dispatch has the messages, then pull them all */
    rk_cmd_t *r = NULL;
    for (int i = 0; i < 100; i++) {
        r = pull("E2ETopic", 0, 0, "*");
        if (r->code == 0 && ext_i64(r, "nextBeginOffset") == 10)
            break;
        rk_cmd_free(r);
        r = NULL;
        rk_sleep_ms(20);
    }
    cr_assert_not_null(r, "pulled the 10 messages");
    cr_assert_eq(count_records(r, "hello-"), 10);
    cr_assert_eq(ext_i64(r, "maxOffset"), 10);
    rk_cmd_free(r);
    r = pull("E2ETopic", 0, 0, "b");        /* no message is tagged b */
    cr_assert_eq(r->code, RK_RESP_PULL_RETRY_IMMEDIATELY);
    cr_assert_eq(ext_i64(r, "nextBeginOffset"), 10);
    rk_cmd_free(r);
    r = pull("E2ETopic", 0, 10, "*");       /* caught up */
    cr_assert_eq(r->code, RK_RESP_PULL_NOT_FOUND);
    rk_cmd_free(r);
    rk_cmd_t *u = rk_cmd_new(RK_REQ_UPDATE_CONSUMER_OFFSET);
    rk_cmd_ext_set(u, "consumerGroup", "cg");
    rk_cmd_ext_set(u, "topic", "E2ETopic");
    rk_cmd_ext_set(u, "queueId", "0");
    rk_cmd_ext_set(u, "commitOffset", "7");
    rk_cmd_free(call(br_addr, u));
    /* a clean restart keeps topics, offsets and messages */
    int st = rk_tk_stop(br_pid, 10000);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "clean stop");
    br_pid = -1;
    start_broker();
    rk_cmd_t *q = rk_cmd_new(RK_REQ_QUERY_CONSUMER_OFFSET);
    rk_cmd_ext_set(q, "consumerGroup", "cg");
    rk_cmd_ext_set(q, "topic", "E2ETopic");
    rk_cmd_ext_set(q, "queueId", "0");
    r = call(br_addr, q);
    cr_assert_eq(r->code, 0);
    cr_assert_eq(ext_i64(r, "offset"), 7);
    rk_cmd_free(r);
    r = pull("E2ETopic", 0, 7, "*");
    cr_assert_eq(r->code, 0);
    cr_assert_eq(count_records(r, "hello-"), 3);
    rk_cmd_free(r);
}

Test(broker, bad_requests_get_the_right_codes_and_the_broker_keeps_serving)
{
    rk_cmd_t *r = send_v2("bad topic!", 0, "x", "");
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR);
    rk_cmd_free(r);
    r = send_v2("Q4", 99, "x", "");     /* created with 4 queues: 99 is illegal */
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR, "%s", r->remark ? r->remark : "");
    rk_cmd_free(r);
    r = pull("NoSuchTopic", 0, 0, "*");
    cr_assert_eq(r->code, RK_RESP_TOPIC_NOT_EXIST);
    rk_cmd_free(r);
    static char big[5 * 1024 * 1024];
    memset(big, 'x', sizeof big - 1);
    r = send_v2("Q4", 0, big, "");
    cr_assert_eq(r->code, RK_RESP_MESSAGE_ILLEGAL, "over maxMessageSize");
    rk_cmd_free(r);
    r = send_v2("Q4", 1, "still serving", "");
    cr_assert_eq(r->code, 0);
    cr_assert_eq(ext_i64(r, "queueId"), 1);
    rk_cmd_free(r);
}

typedef struct {
    _Atomic int done;
    int code;
    uint64_t at;
} wait_t;

static void on_pull(void *arg, int status, rk_cmd_t *resp)
{
    wait_t *w = arg;
    w->code = status == RK_OK ? resp->code : -1;
    w->at = rk_mono_ms();
    rk_cmd_free(resp);
    atomic_store(&w->done, 1);
}

static void held_pull(const char *topic, int64_t offset, int suspend_ms, wait_t *w)
{
    /* sysFlag 2 = suspend: hold me */
    rk_cmd_t *req = rk_tk_pull_request(&(rk_tk_pull_spec_t){.topic = topic, .offset = offset, .sys_flag = 2,
                                                             .suspend_ms = suspend_ms,
                                                             .omit = "commitOffset subVersion"});
    cr_assert(req != NULL);
    cr_assert_eq(rk_rclient_invoke_async(cl, br_addr, req, suspend_ms + 5000, on_pull, w), 0);
}

Test(broker, long_polling_answers_on_arrival_or_at_the_timeout)
{
    rk_cmd_t *r = send_v2("LongPoll", 0, "first", "");
    cr_assert_eq(r->code, 0);
    rk_cmd_free(r);
    for (int i = 0; i < 100; i++) {     /* wait for dispatch of the first message */
        r = pull("LongPoll", 0, 0, "*");
        int code = r->code;
        rk_cmd_free(r);
        if (code == 0)
            break;
        rk_sleep_ms(20);
    }
    wait_t w = {0};
    uint64_t t0 = rk_mono_ms();
    held_pull("LongPoll", 1, 8000, &w);
    rk_sleep_ms(300);
    cr_assert_eq(atomic_load(&w.done), 0, "nothing to read: the pull is held");
    r = send_v2("LongPoll", 0, "second", "");
    cr_assert_eq(r->code, 0);
    rk_cmd_free(r);
    for (int i = 0; i < 800 && !atomic_load(&w.done); i++)
        rk_sleep_ms(10);
    cr_assert(atomic_load(&w.done));
    cr_assert_eq(w.code, 0, "answered with the new message");
    cr_assert(w.at - t0 < 6000, "woken by the message, not by the 8 s timeout");
    wait_t w2 = {0};
    t0 = rk_mono_ms();
    held_pull("LongPoll", 2, 300, &w2);
    for (int i = 0; i < 500 && !atomic_load(&w2.done); i++)
        rk_sleep_ms(10);
    cr_assert(atomic_load(&w2.done));
    cr_assert_eq(w2.code, RK_RESP_PULL_NOT_FOUND, "nothing came: PULL_NOT_FOUND at the timeout");
    cr_assert(w2.at - t0 >= 250, "held until its timeout");
}

Test(broker, messages_can_be_looked_up_by_offset_msg_id_and_by_key)
{
    rk_cmd_t *r = send_v2("Lookup", 0, "findme", "KEYS\001order-7\002TAGS\001x");
    cr_assert_eq(r->code, 0);
    rk_host_t h;
    int64_t phys;
    cr_assert_eq(rk_msgid_decode(rk_cmd_ext_get(r, "msgId"), &h, &phys), 0);
    rk_cmd_free(r);
    rk_cmd_t *v = rk_cmd_new(RK_REQ_VIEW_MESSAGE_BY_ID);
    rk_cmd_ext_set_i64(v, "offset", phys);
    r = call(br_addr, v);
    cr_assert_eq(r->code, 0);
    cr_assert_eq(count_records(r, "findme"), 1);
    rk_cmd_free(r);
    int code = -1;
    for (int i = 0; i < 100 && code != 0; i++) {    /* the index follows the dispatcher */
        rk_cmd_t *q = rk_cmd_new(RK_REQ_QUERY_MESSAGE);
        rk_cmd_ext_set(q, "topic", "Lookup");
        rk_cmd_ext_set(q, "key", "order-7");
        rk_cmd_ext_set(q, "maxNum", "32");
        rk_cmd_ext_set(q, "beginTimestamp", "0");
        rk_cmd_ext_set_i64(q, "endTimestamp", INT64_MAX);
        r = call(br_addr, q);
        code = r->code;
        if (code == 0)
            cr_assert_eq(count_records(r, "findme"), 1);
        rk_cmd_free(r);
        if (code != 0)
            rk_sleep_ms(20);
    }
    cr_assert_eq(code, 0, "found by key");
    v = rk_cmd_new(RK_REQ_VIEW_MESSAGE_BY_ID);
    rk_cmd_ext_set(v, "offset", "999999999");
    r = call(br_addr, v);
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR, "no such offset");
    rk_cmd_free(r);
}

static _Atomic int notified;

static rk_cmd_t *on_notify(void *ctx, const char *from, const rk_cmd_t *req)
{
    (void)ctx; (void)from;
    if (strcmp(rk_cmd_ext_get(req, "consumerGroup") ? rk_cmd_ext_get(req, "consumerGroup") : "", "cg") == 0)
        atomic_fetch_add(&notified, 1);
    return NULL;    /* oneway: nothing to answer */
}

static void heartbeat(rk_rclient_t *via, const char *client_id)
{
    char body[512];
    int n = snprintf(body, sizeof body,
                     "{\"clientID\":\"%s\",\"consumerDataSet\":[{\"groupName\":\"cg\",\"consumeType\":\"CONSUME_PASSIVELY\","
                     "\"messageModel\":\"CLUSTERING\",\"consumeFromWhere\":\"CONSUME_FROM_LAST_OFFSET\","
                     "\"subscriptionDataSet\":[{\"topic\":\"T\",\"subString\":\"*\",\"subVersion\":1}]}],"
                     "\"producerDataSet\":[]}", client_id);
    rk_cmd_t *req = rk_cmd_new(RK_REQ_HEART_BEAT), *resp = NULL;
    rk_cmd_set_body(req, body, (size_t)n);
    cr_assert_eq(rk_rclient_invoke_sync(via, br_addr, req, 5000, &resp), 0);
    cr_assert_eq(resp->code, 0);
    rk_cmd_free(resp);
}

Test(broker, group_members_are_told_when_the_group_changes)
{
    rk_rclient_t *c1, *c2;
    cr_assert_eq(rk_rclient_new(&c1), 0);
    cr_assert_eq(rk_rclient_register(c1, RK_REQ_NOTIFY_CONSUMER_IDS_CHANGED, on_notify, NULL), 0);
    cr_assert_eq(rk_rclient_new(&c2), 0);
    heartbeat(c1, "10.0.0.1@1");
    for (int i = 0; i < 200 && atomic_load(&notified) < 1; i++)
        rk_sleep_ms(10);
    int after_join1 = atomic_load(&notified);
    cr_assert(after_join1 >= 1, "told when it joined");
    heartbeat(c2, "10.0.0.2@2");
    for (int i = 0; i < 200 && atomic_load(&notified) <= after_join1; i++)
        rk_sleep_ms(10);
    cr_assert(atomic_load(&notified) > after_join1, "told when another member joined");
    char gpath[300];
    snprintf(gpath, sizeof gpath, "%s/store/config/subscriptionGroup.json", dir);
    for (int i = 0; i < 500 && !rk_path_exists(gpath); i++)
        rk_sleep_ms(10);        /* written by the groups' writer thread (flushTopicConfigInterval) */
    cr_assert(rk_path_exists(gpath), "the group's settings were created on first sight");
    rk_cmd_t *q = rk_cmd_new(RK_REQ_GET_CONSUMER_LIST_BY_GROUP);
    rk_cmd_ext_set(q, "consumerGroup", "cg");
    rk_cmd_t *r = call(br_addr, q);
    cr_assert_eq(r->code, 0);
    cr_assert(r->body_len > 0 && memmem(r->body, r->body_len, "10.0.0.2@2", 10) != NULL);
    rk_cmd_free(r);
    int before_leave = atomic_load(&notified);
    rk_rclient_free(c2);        /* its connection closes */
    for (int i = 0; i < 200 && atomic_load(&notified) <= before_leave; i++)
        rk_sleep_ms(10);
    cr_assert(atomic_load(&notified) > before_leave, "told when a member left");
    rk_rclient_free(c1);
}

static rk_cmd_t *lock_call(int code, const char *client, int qid)
{
    char body[300];
    int n = snprintf(body, sizeof body,
                     "{\"clientId\":\"%s\",\"consumerGroup\":\"og\",\"mqSet\":[{\"brokerName\":\"broker-t\","
                     "\"queueId\":%d,\"topic\":\"Ordered\"}]}", client, qid);
    rk_cmd_t *req = rk_cmd_new(code);
    rk_cmd_set_body(req, body, (size_t)n);
    return call(br_addr, req);
}

static bool locked_ok(const rk_cmd_t *r)
{
    return r->code == 0 && r->body_len > 0 && memmem(r->body, r->body_len, "\"queueId\":", 10) != NULL;
}

Test(broker, ordered_consumers_lock_queues_one_owner_at_a_time)
{
    rk_cmd_t *r = lock_call(RK_REQ_LOCK_BATCH_MQ, "c1", 0);
    cr_assert(locked_ok(r), "c1 gets queue 0");
    rk_cmd_free(r);
    r = lock_call(RK_REQ_LOCK_BATCH_MQ, "c2", 0);
    cr_assert(!locked_ok(r), "c2 does not while c1 holds it");
    rk_cmd_free(r);
    r = lock_call(RK_REQ_LOCK_BATCH_MQ, "c1", 0);
    cr_assert(locked_ok(r), "c1 renews its own lock");
    rk_cmd_free(r);
    rk_cmd_free(lock_call(RK_REQ_UNLOCK_BATCH_MQ, "c1", 0));
    r = lock_call(RK_REQ_LOCK_BATCH_MQ, "c2", 0);
    cr_assert(locked_ok(r), "c2 gets it once c1 unlocked");
    rk_cmd_free(r);
}
