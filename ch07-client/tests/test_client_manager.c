/* test_client_manager.c — heartbeats as Java and C++ clients send them; group membership. */
#include <criterion/criterion.h>
#include <string.h>

#include "rk/client_manager.h"
#include "rk/error.h"

static const char *java_hb =
    "{\"clientID\":\"10.0.0.5@12345#1234567890\","
    "\"consumerDataSet\":[{\"consumeFromWhere\":\"CONSUME_FROM_FIRST_OFFSET\",\"consumeType\":\"CONSUME_PASSIVELY\","
    "\"groupName\":\"cg\",\"messageModel\":\"CLUSTERING\",\"subscriptionDataSet\":[{\"classFilterMode\":false,"
    "\"codeSet\":[97,98],\"expressionType\":\"TAG\",\"subString\":\"a || b\",\"subVersion\":1700000000000,"
    "\"tagsSet\":[\"a\",\"b\"],\"topic\":\"TopicTest\"},{\"subString\":\"*\",\"subVersion\":1,\"topic\":\"%RETRY%cg\"}],"
    "\"unitMode\":false}],\"producerDataSet\":[{\"groupName\":\"pg\"},{\"groupName\":\"CLIENT_INNER_PRODUCER\"}]}";

/* client-cpp: enum ordinals, subVersion as a string, no tagsSet. */
static const char *cpp_hb =
    "{\"clientID\":\"10.0.0.6@77\",\"consumerDataSet\":[{\"consumeFromWhere\":5,\"consumeType\":1,"
    "\"groupName\":\"cg\",\"messageModel\":0,\"subscriptionDataSet\":[{\"subString\":\"x||y \","
    "\"subVersion\":\"1700000000001\",\"topic\":\"TopicTest\"}]}],\"producerDataSet\":[]}";

Test(heartbeat, parses_what_java_and_cpp_clients_send)
{
    rk_heartbeat_t hb;
    cr_assert_eq(rk_heartbeat_parse(java_hb, strlen(java_hb), &hb), 0);
    cr_assert_str_eq(hb.client_id, "10.0.0.5@12345#1234567890");
    cr_assert_eq(hb.nproducers, 2);
    cr_assert_eq(hb.nconsumers, 1);
    rk_consumer_data_t *c = &hb.consumers[0];
    cr_assert_eq(c->consume_type, RK_CONSUME_PASSIVELY);
    cr_assert_eq(c->message_model, RK_MODEL_CLUSTERING);
    cr_assert_eq(c->consume_from_where, RK_FROM_FIRST_OFFSET);
    cr_assert_eq(c->nsubs, 2);
    cr_assert_eq(c->subs[0].ntags, 2);
    cr_assert_eq(c->subs[0].codes[0], 97, "\"a\".hashCode()");
    cr_assert(rk_subscription_matches(&c->subs[0], "b"));
    cr_assert(!rk_subscription_matches(&c->subs[0], "c"));
    cr_assert(rk_subscription_matches(&c->subs[1], NULL), "* takes everything");
    rk_heartbeat_free(&hb);
    cr_assert_eq(rk_heartbeat_parse(cpp_hb, strlen(cpp_hb), &hb), 0);
    c = &hb.consumers[0];
    cr_assert_eq(c->message_model, RK_MODEL_BROADCASTING);
    cr_assert_eq(c->consume_from_where, RK_FROM_TIMESTAMP);
    cr_assert_eq(c->subs[0].sub_version, 1700000000001LL);
    cr_assert_eq(c->subs[0].ntags, 2, "tags derived from \"x||y \"");
    cr_assert_str_eq(c->subs[0].tags[1], "y");
    cr_assert_str_eq(c->subs[0].expression_type, "TAG");
    rk_heartbeat_free(&hb);
    cr_assert_eq(rk_heartbeat_parse("{}", 2, &hb), RK_EPROTO, "no clientID");
    cr_assert_eq(rk_heartbeat_parse("nope", 4, &hb), RK_EPROTO);
}

Test(groups, membership_changes_expiry_and_disconnects)
{
    rk_client_manager_t *m;
    cr_assert_eq(rk_client_manager_new(1000, &m), 0);
    rk_heartbeat_t a, b;
    cr_assert_eq(rk_heartbeat_parse(java_hb, strlen(java_hb), &a), 0);
    cr_assert_eq(rk_heartbeat_parse(cpp_hb, strlen(cpp_hb), &b), 0);
    char **changed;
    size_t n;
    cr_assert_eq(rk_client_manager_heartbeat(m, &a, 1, 10000, &changed, &n), 0);
    cr_assert_eq(n, 1, "a new member changes group cg");
    cr_assert_str_eq(changed[0], "cg");
    rk_strv_free(changed, n);
    cr_assert_eq(rk_client_manager_heartbeat(m, &a, 1, 10500, &changed, &n), 0);
    cr_assert_eq(n, 0, "a known member does not");
    rk_strv_free(changed, n);
    cr_assert_eq(rk_client_manager_heartbeat(m, &b, 2, 10600, &changed, &n), 0);
    rk_strv_free(changed, n);
    char **ids = rk_client_manager_consumers(m, "cg", &n);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(ids[0], "10.0.0.5@12345#1234567890");
    rk_strv_free(ids, n);
    rk_subscription_t s;
    cr_assert_eq(rk_client_manager_subscription(m, "cg", "TopicTest", &s), 0);
    cr_assert_eq(s.sub_version, 1700000000001LL, "the newest subscription wins");
    rk_subscription_free(&s);
    char **gone = rk_client_manager_drop_connection(m, 2, &n);
    cr_assert_eq(n, 1);
    rk_strv_free(gone, n);
    gone = rk_client_manager_expire(m, 11000, &n);
    cr_assert_eq(n, 0, "heard from 500 ms ago: alive");
    gone = rk_client_manager_expire(m, 12000, &n);
    cr_assert_eq(n, 1, "silent for 1.5 s with a 1 s expiry: gone");
    rk_strv_free(gone, n);
    cr_assert_null(rk_client_manager_consumers(m, "cg", &n));
    rk_heartbeat_free(&a);
    rk_heartbeat_free(&b);
    rk_client_manager_free(m);
}
