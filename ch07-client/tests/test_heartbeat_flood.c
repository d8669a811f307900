/* test_heartbeat_flood.c — HEART_BEAT and UPDATE_CONSUMER_OFFSET from a client
 * that misbehaves (issue 9, item 6 variant found by the verifier): one
 * heartbeat listing thousands of consumer groups made one %RETRY% topic and
 * one subscription group each, written to disk one at a time on the request
 * path, past autoCreateTopicMax; tags grew one realloc at a time; offsets
 * were stored for an empty group and for topics that do not exist. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "rk/client_manager.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/json.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/tk_send.h"

static tk_cluster_t c;
static rk_rclient_t *cl;

static void fini(void)
{
    rk_rclient_free(cl);
    cl = NULL;
    tk_cluster_stop(&c);
}

TestSuite(heartbeat_flood, .fini = fini, .timeout = 120);

static void start(const char *extra)
{
    tk_cluster_start(&c, extra);
    cr_assert_eq(rk_rclient_new(&cl), 0);
}

static rk_cmd_t *call(rk_cmd_t *req)
{
    rk_cmd_t *resp = NULL;
    int rc = rk_rclient_invoke_sync(cl, c.br, req, 60000, &resp);
    cr_assert_eq(rc, 0, "request: %s", rk_strerror(rc));
    return resp;
}

/* A HeartbeatData body: client id, ngroups consumer groups named
 * <prefix><first + i>, each subscribing nsubs topics "T<j>" with tags
 * "t0 || t1 ..." (ntags of them, as a subString; 0: "*"). */
static char *heartbeat_body(const char *client, const char *prefix, int first, int ngroups, int nsubs, int ntags,
                            int nproducers)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "clientID", client);
    cJSON *cs = cJSON_AddArrayToObject(root, "consumerDataSet");
    rk_buf_t sub = {0};
    for (int t = 0; t < ntags; t++) {
        char tag[32];
        snprintf(tag, sizeof tag, "%st%d", t ? " || " : "", t);
        rk_buf_put_str(&sub, tag);
    }
    rk_buf_put_u8(&sub, 0);
    for (int i = 0; i < ngroups; i++) {
        cJSON *g = cJSON_CreateObject();
        char name[64];
        snprintf(name, sizeof name, "%s%d", prefix, first + i);
        cJSON_AddStringToObject(g, "groupName", name);
        cJSON_AddStringToObject(g, "consumeType", "CONSUME_PASSIVELY");
        cJSON_AddStringToObject(g, "messageModel", "CLUSTERING");
        cJSON_AddStringToObject(g, "consumeFromWhere", "CONSUME_FROM_LAST_OFFSET");
        cJSON *subs = cJSON_AddArrayToObject(g, "subscriptionDataSet");
        for (int j = 0; j < nsubs; j++) {
            cJSON *s = cJSON_CreateObject();
            char topic[32];
            snprintf(topic, sizeof topic, "T%d", j);
            cJSON_AddStringToObject(s, "topic", topic);
            cJSON_AddStringToObject(s, "subString", ntags ? (const char *)sub.data : "*");
            cJSON_AddNumberToObject(s, "subVersion", 1);
            cJSON_AddItemToArray(subs, s);
        }
        cJSON_AddItemToArray(cs, g);
    }
    cJSON *ps = cJSON_AddArrayToObject(root, "producerDataSet");
    for (int i = 0; i < nproducers; i++) {
        cJSON *p = cJSON_CreateObject();
        char name[64];
        snprintf(name, sizeof name, "PG%d", i);
        cJSON_AddStringToObject(p, "groupName", name);
        cJSON_AddItemToArray(ps, p);
    }
    rk_buf_free(&sub);
    char *s = rk_json_print(root, 0);
    cJSON_Delete(root);
    cr_assert(s != NULL);
    return s;
}

static rk_cmd_t *heartbeat(const char *body)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_HEART_BEAT);
    rk_cmd_set_body(req, body, strlen(body));
    return call(req);
}

/* Topics of GET_ALL_TOPIC_CONFIG whose name starts with prefix. */
static int count_topics(const char *prefix)
{
    rk_cmd_t *r = call(rk_cmd_new(RK_REQ_GET_ALL_TOPIC_CONFIG));
    cr_assert_eq(r->code, 0);
    cJSON *root = rk_json_parse((const char *)r->body, r->body_len);
    int n = 0;
    cJSON *table = cJSON_GetObjectItemCaseSensitive(root, "topicConfigTable");
    for (cJSON *t = table ? table->child : NULL; t; t = t->next)
        n += strncmp(t->string, prefix, strlen(prefix)) == 0;
    cJSON_Delete(root);
    rk_cmd_free(r);
    return n;
}

/* Groups in <store>/config/subscriptionGroup.json (-1: no file). */
static int groups_on_disk(const char *prefix, const char *name, bool *has_name)
{
    char path[400], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/store/config/subscriptionGroup.json", c.dir);
    if (has_name)
        *has_name = false;
    if (rk_file_read_all(path, &text, &len) != 0)
        return -1;
    cJSON *root = rk_json_parse(text, len);
    free(text);
    int n = 0;
    cJSON *table = cJSON_GetObjectItemCaseSensitive(root, "subscriptionGroupTable");
    for (cJSON *g = table ? table->child : NULL; g; g = g->next) {
        n += strncmp(g->string, prefix, strlen(prefix)) == 0;
        if (has_name && name && strcmp(g->string, name) == 0)
            *has_name = true;
    }
    cJSON_Delete(root);
    return n;
}

static bool consumer_listed(const char *group, const char *client)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_CONSUMER_LIST_BY_GROUP);
    rk_cmd_ext_set(req, "consumerGroup", group);
    rk_cmd_t *r = call(req);
    bool found = r->code == 0 && r->body && memmem(r->body, r->body_len, client, strlen(client)) != NULL;
    rk_cmd_free(r);
    return found;
}

static rk_cmd_t *send_req(const char *topic)
{
    rk_cmd_t *req = rk_tk_send_request(&(rk_tk_send_spec_t){.topic = topic, .last = 'i', .body = "hello"});
    cr_assert(req != NULL);
    return req;
}

static void expect_refused(rk_cmd_t *r, const char *words, const char *what)
{
    cr_assert_eq(r->code, RK_RESP_SYSTEM_ERROR, "%s: refused (code %d, %s)", what, r->code, r->remark ? r->remark : "");
    cr_assert(r->remark != NULL && strstr(r->remark, words) != NULL, "%s: the remark says '%s': %s", what, words,
              r->remark ? r->remark : "");
    rk_cmd_free(r);
}

/* ------------------------------------------------------------ caps of one heartbeat */

Test(heartbeat_flood, one_heartbeat_over_its_caps_is_refused_and_creates_nothing)
{
    start(NULL);
    char *body = heartbeat_body("10.0.0.1@flood", "Huge", 0, RK_HEARTBEAT_MAX_CONSUMER_GROUPS + 1, 1, 0, 0);
    expect_refused(heartbeat(body), "consumer groups", "one group over the cap");
    free(body);
    cr_assert_eq(count_topics("%RETRY%Huge"), 0, "a refused heartbeat creates no retry topic");
    cr_assert(!consumer_listed("Huge0", "10.0.0.1@flood"), "nor registers its consumers");

    body = heartbeat_body("10.0.0.1@flood", "Subs", 0, 1, RK_HEARTBEAT_MAX_SUBSCRIPTIONS + 1, 0, 0);
    expect_refused(heartbeat(body), "subscriptions", "a group with one subscription over the cap");
    free(body);
    body = heartbeat_body("10.0.0.1@flood", "Tags", 0, 1, 1, RK_HEARTBEAT_MAX_TAGS + 1, 0);
    expect_refused(heartbeat(body), "tags", "a subscription with one tag over the cap");
    free(body);
    body = heartbeat_body("10.0.0.1@flood", "Prod", 0, 0, 0, 0, RK_HEARTBEAT_MAX_PRODUCER_GROUPS + 1);
    expect_refused(heartbeat(body), "producer groups", "one producer group over the cap");
    free(body);
    cr_assert_eq(count_topics("%RETRY%"), 0);

    /* exactly at every cap: accepted (a client instance sends all its groups) */
    body = heartbeat_body("10.0.0.1@big", "Max", 0, 2, RK_HEARTBEAT_MAX_SUBSCRIPTIONS, 4, 2);
    rk_cmd_t *r = heartbeat(body);
    free(body);
    cr_assert_eq(r->code, 0, "%s", r->remark ? r->remark : "");
    rk_cmd_free(r);
    body = heartbeat_body("10.0.0.1@big", "Tag", 0, 1, 1, RK_HEARTBEAT_MAX_TAGS, 0);
    r = heartbeat(body);
    free(body);
    cr_assert_eq(r->code, 0, "%s", r->remark ? r->remark : "");
    rk_cmd_free(r);
    cr_assert(consumer_listed("Max1", "10.0.0.1@big"));
    cr_assert_eq(count_topics("%RETRY%"), 3);
}

/* ------------------------------------------------------------ bounds across heartbeats */

Test(heartbeat_flood, groups_and_retry_topics_made_by_heartbeats_are_bounded)
{
    start("autoCreateTopicMax=5\nautoCreateSubscriptionGroupMax=20\n");
    /* an honest consumer first */
    char *body = heartbeat_body("10.0.0.2@honest", "Honest", 0, 1, 1, 2, 1);
    rk_cmd_t *r = heartbeat(body);
    cr_assert_eq(r->code, 0, "%s", r->remark ? r->remark : "");
    rk_cmd_free(r);
    /* then 10 heartbeats of 8 new groups each: 80 groups */
    int refused = 0;
    for (int i = 0; i < 10; i++) {
        char client[64];
        snprintf(client, sizeof client, "10.0.0.3@flood%d", i);
        char *fb = heartbeat_body(client, "Flood", i * 8, 8, 1, 0, 0);
        r = heartbeat(fb);
        free(fb);
        if (r->code != 0) {
            refused++;
            cr_assert(r->remark && strstr(r->remark, "autoCreateSubscriptionGroupMax"), "the remark says why: %s",
                      r->remark ? r->remark : "");
        }
        rk_cmd_free(r);
    }
    cr_assert_gt(refused, 0, "heartbeats past the bound are told so");
    int retry = count_topics("%RETRY%");
    cr_assert_leq(retry, 20, "%d retry topics for a bound of 20 groups", retry);
    cr_assert_geq(retry, 19, "the groups under the bound got theirs (%d)", retry);
    /* retry topics do not use up what producers may auto-create */
    for (int i = 0; i < 5; i++) {
        char topic[32];
        snprintf(topic, sizeof topic, "Send%d", i);
        r = call(send_req(topic));
        cr_assert_eq(r->code, 0, "%s: %s", topic, r->remark ? r->remark : "");
        rk_cmd_free(r);
    }
    /* the honest consumer is still served: its heartbeat, its group */
    r = heartbeat(body);
    cr_assert_eq(r->code, 0, "%s", r->remark ? r->remark : "");
    rk_cmd_free(r);
    free(body);
    cr_assert(consumer_listed("Honest0", "10.0.0.2@honest"));
    /* the groups reach the disk (at the latest at shutdown), bounded too */
    tk_cluster_restart_broker(&c);
    bool honest = false;
    int on_disk = groups_on_disk("", "Honest0", &honest);
    cr_assert(honest, "the honest group was persisted");
    cr_assert_leq(on_disk, 20, "%d groups on disk", on_disk);
    cr_assert_geq(on_disk, 19, "%d groups on disk", on_disk);
    /* and the bound holds after the restart */
    char *fb = heartbeat_body("10.0.0.3@again", "After", 0, 1, 1, 0, 0);
    r = heartbeat(fb);
    free(fb);
    cr_assert_neq(r->code, 0, "a new group past the bound is refused after a restart");
    rk_cmd_free(r);
    cr_assert_leq(count_topics("%RETRY%"), 20);
}

Test(heartbeat_flood, subscription_groups_are_written_off_the_request_path)
{
    /* a long interval: the group is in memory at once, on disk at close */
    start("flushTopicConfigInterval=60000\n");
    char *body = heartbeat_body("10.0.0.4@c", "Batched", 0, 40, 1, 0, 0);
    rk_cmd_t *r = heartbeat(body);
    free(body);
    cr_assert_eq(r->code, 0, "%s", r->remark ? r->remark : "");
    rk_cmd_free(r);
    cr_assert_eq(count_topics("%RETRY%Batched"), 40);
    cr_assert(consumer_listed("Batched39", "10.0.0.4@c"));
    int n = groups_on_disk("Batched", NULL, NULL);
    cr_assert_leq(n, 0, "the heartbeat did not write subscriptionGroup.json itself (%d groups there)", n);
    tk_cluster_restart_broker(&c);
    cr_assert_eq(groups_on_disk("Batched", NULL, NULL), 40, "close wrote them all");
    cr_assert_eq(count_topics("%RETRY%Batched"), 40, "and their retry topics");
}

/* ------------------------------------------------------------ parsing: caps and linear growth */

Test(heartbeat_flood_parse, many_tags_parse_up_to_the_cap_and_are_refused_past_it)
{
    /* a subString of 100 000 tags was 118 s under SAN (one realloc per tag) */
    const int counts[] = {RK_HEARTBEAT_MAX_TAGS, RK_HEARTBEAT_MAX_TAGS + 1, 100000};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        int ntags = counts[k];
        char *body = heartbeat_body("c@1", "G", 0, 1, 1, ntags, 0);
        rk_heartbeat_t hb;
        int rc = rk_heartbeat_parse(body, strlen(body), &hb);
        free(body);
        if (ntags <= RK_HEARTBEAT_MAX_TAGS) {
            cr_assert_eq(rc, 0);
            cr_assert_eq(hb.consumers[0].subs[0].ntags, (size_t)ntags);
            cr_assert_str_eq(hb.consumers[0].subs[0].tags[0], "t0");
            rk_heartbeat_free(&hb);
        } else {
            cr_assert_eq(rc, RK_ETOOBIG, "%d tags: %s", ntags, rk_strerror(rc));
        }
    }
    /* the same through tagsSet */
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "clientID", "c@1");
    cJSON *g = cJSON_CreateObject();
    cJSON_AddStringToObject(g, "groupName", "G");
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "topic", "T");
    cJSON *tags = cJSON_AddArrayToObject(s, "tagsSet");
    for (int i = 0; i <= RK_HEARTBEAT_MAX_TAGS; i++) {
        char t[16];
        snprintf(t, sizeof t, "x%d", i);
        cJSON_AddItemToArray(tags, cJSON_CreateString(t));
    }
    cJSON_AddItemToArray(cJSON_AddArrayToObject(g, "subscriptionDataSet"), s);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "consumerDataSet"), g);
    char *body = rk_json_print(root, 0);
    cJSON_Delete(root);
    rk_heartbeat_t hb;
    char why[200] = "";
    cr_assert_eq(rk_heartbeat_parse_why(body, strlen(body), &hb, why, sizeof why), RK_ETOOBIG);
    cr_assert(strstr(why, "tags") != NULL, "%s", why);
    free(body);
}

Test(heartbeat_flood_parse, a_group_keeps_only_its_latest_heartbeats_subscriptions)
{
    /* they accumulated: heartbeats of 256 new topics each grew a group without bound */
    rk_client_manager_t *m;
    cr_assert_eq(rk_client_manager_new(120000, &m), 0);
    for (int round = 0; round < 3; round++) {
        char *body = heartbeat_body("c@1", "G", 0, 1, round == 2 ? 1 : RK_HEARTBEAT_MAX_SUBSCRIPTIONS, 0, 0);
        rk_heartbeat_t hb;
        cr_assert_eq(rk_heartbeat_parse(body, strlen(body), &hb), 0);
        free(body);
        if (round == 1)         /* another client, other topics: "T<j>" renamed "U<j>" */
            for (size_t j = 0; j < hb.consumers[0].nsubs; j++)
                hb.consumers[0].subs[j].topic[0] = 'U';
        char **changed = NULL;
        size_t n = 0;
        cr_assert_eq(rk_client_manager_heartbeat(m, &hb, 1, 1000, &changed, &n), 0);
        rk_strv_free(changed, n);
        rk_heartbeat_free(&hb);
    }
    rk_subscription_t s;
    cr_assert_eq(rk_client_manager_subscription(m, "G0", "T0", &s), 0);
    rk_subscription_free(&s);
    cr_assert_eq(rk_client_manager_subscription(m, "G0", "T1", &s), RK_ENOTFOUND, "not in the latest heartbeat");
    cr_assert_eq(rk_client_manager_subscription(m, "G0", "U1", &s), RK_ENOTFOUND);
    /* a group with no client left is forgotten, and comes back with its next heartbeat */
    size_t n = 0;
    char **gone = rk_client_manager_drop_connection(m, 1, &n);
    rk_strv_free(gone, n);
    cr_assert_null(rk_client_manager_consumers(m, "G0", &n));
    cr_assert_eq(rk_client_manager_subscription(m, "G0", "T0", &s), RK_ENOTFOUND, "its subscriptions went with it");
    rk_client_manager_free(m);
}

/* ------------------------------------------------------------ UPDATE_CONSUMER_OFFSET */

static rk_cmd_t *commit_req(const char *group, const char *topic, const char *off)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_UPDATE_CONSUMER_OFFSET);
    if (group)
        rk_cmd_ext_set(req, "consumerGroup", group);
    rk_cmd_ext_set(req, "topic", topic);
    rk_cmd_ext_set(req, "queueId", "0");
    rk_cmd_ext_set(req, "commitOffset", off);
    return req;
}

static int64_t query_offset(const char *group, const char *topic)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_QUERY_CONSUMER_OFFSET);
    rk_cmd_ext_set(req, "consumerGroup", group);
    rk_cmd_ext_set(req, "topic", topic);
    rk_cmd_ext_set(req, "queueId", "0");
    rk_cmd_t *r = call(req);
    int64_t v = -1;
    if (r->code == 0)
        rk_cmd_ext_i64(r, "offset", &v);
    rk_cmd_free(r);
    return v;
}

Test(heartbeat_flood, update_consumer_offset_refuses_an_empty_group_and_an_unknown_topic)
{
    start("autoCreateSubscriptionGroup=false\n");
    tk_create_topic(&c, "Known", 1);
    rk_cmd_t *r = call(commit_req("", "Known", "3"));
    cr_assert_eq(r->code, RK_RESP_SUBSCRIPTION_GROUP_NOT_EXIST, "empty group: code %d (%s)", r->code,
                 r->remark ? r->remark : "");
    rk_cmd_free(r);
    r = call(commit_req(NULL, "Known", "3"));
    cr_assert_neq(r->code, 0, "no group at all");
    rk_cmd_free(r);
    r = call(commit_req("NeverSeen", "Known", "3"));
    cr_assert_eq(r->code, RK_RESP_SUBSCRIPTION_GROUP_NOT_EXIST, "unknown group with auto-create off: code %d (%s)",
                 r->code, r->remark ? r->remark : "");
    cr_assert(r->remark && strstr(r->remark, "NeverSeen"), "%s", r->remark ? r->remark : "");
    rk_cmd_free(r);
    r = call(commit_req("NeverSeen", "NoSuchTopic", "3"));
    cr_assert_neq(r->code, 0);
    rk_cmd_free(r);
    cr_assert_lt(query_offset("NeverSeen", "Known"), 3, "nothing was stored");
}

Test(heartbeat_flood, first_commit_after_a_heartbeat_works_and_unknown_topics_are_refused)
{
    start(NULL);
    tk_create_topic(&c, "Known", 1);
    char *body = heartbeat_body("10.0.0.5@c", "Fresh", 0, 1, 1, 0, 0);
    rk_cmd_t *r = heartbeat(body);
    free(body);
    cr_assert_eq(r->code, 0);
    rk_cmd_free(r);
    r = call(commit_req("Fresh0", "Known", "7"));
    cr_assert_eq(r->code, 0, "the group's first commit: %s", r->remark ? r->remark : "");
    rk_cmd_free(r);
    cr_assert_eq(query_offset("Fresh0", "Known"), 7);
    r = call(commit_req("Fresh0", "%RETRY%Fresh0", "0"));
    cr_assert_eq(r->code, 0, "its retry topic's offset too: %s", r->remark ? r->remark : "");
    rk_cmd_free(r);
    r = call(commit_req("Fresh0", "NoSuchTopic", "3"));
    cr_assert_eq(r->code, RK_RESP_TOPIC_NOT_EXIST, "unknown topic: code %d (%s)", r->code, r->remark ? r->remark : "");
    cr_assert(r->remark && strstr(r->remark, "NoSuchTopic"), "%s", r->remark ? r->remark : "");
    rk_cmd_free(r);
    r = call(commit_req("", "Known", "3"));
    cr_assert_eq(r->code, RK_RESP_SUBSCRIPTION_GROUP_NOT_EXIST, "empty group with auto-create on: code %d (%s)", r->code,
                 r->remark ? r->remark : "");
    rk_cmd_free(r);
}
