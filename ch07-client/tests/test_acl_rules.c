/* test_acl_rules.c — the ACL's rules without a network: plain_acl.yml
 * parsing (and what a bad file is told), white-list patterns, and the
 * verdict rk_acl_check gives each kind of request (which field names the
 * topic or group for each request code, PUB/SUB/DENY, admin codes). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/acl.h"
#include "rk/acl_sign.h"
#include "rk/error.h"
#include "rk/request_code.h"

static const char *YML =
    "globalWhiteRemoteAddresses:\n"
    "  - 10.10.103.*\n"
    "  - 192.168.0.{1,2}\n"
    "accounts:\n"
    "  - accessKey: RocketMQ\n"
    "    secretKey: 12345678\n"
    "    whiteRemoteAddress:\n"
    "    admin: false\n"
    "    defaultTopicPerm: DENY\n"
    "    defaultGroupPerm: SUB\n"
    "    topicPerms:\n"
    "      - topicA=DENY\n"
    "      - topicB=PUB|SUB\n"
    "      - topicC=SUB\n"
    "    groupPerms:\n"
    "      - groupA=DENY\n"
    "      - groupB=PUB|SUB\n"
    "  - accessKey: rocketmq2\n"
    "    secretKey: 87654321\n"
    "    whiteRemoteAddress: 192.168.1.*\n"
    "    admin: true\n";

static rk_acl_t *load(const char *text)
{
    rk_acl_t *acl = NULL;
    char err[256] = "";
    int rc = rk_acl_parse(text, strlen(text), &acl, err, sizeof err);
    cr_assert_eq(rc, 0, "parse: %s", err);
    return acl;
}

/* The error a bad file gets (asserts it is refused). */
static void refused(const char *text, const char *want)
{
    rk_acl_t *acl = NULL;
    char err[256] = "";
    cr_assert_eq(rk_acl_parse(text, strlen(text), &acl, err, sizeof err), RK_EBADCONFIG, "accepted: %s", text);
    cr_assert_null(acl);
    cr_expect(strstr(err, want) != NULL, "error \"%s\" does not say \"%s\"", err, want);
}

static rk_cmd_t *signed_req(int32_t code, const char *ak, const char *sk)
{
    rk_cmd_t *c = rk_cmd_new(code);
    if (ak != NULL)
        rk_acl_sign_request(c, ak, sk, NULL);
    return c;
}

static int32_t check(const rk_acl_t *acl, const char *peer, rk_cmd_t *c, char *remark)
{
    if (rk_cmd_ext_get(c, "AccessKey") != NULL && rk_cmd_ext_get(c, "Signature") != NULL) {
        /* (re)sign after the fields were set, as the SDK does just before sending */
        const char *ak = rk_cmd_ext_get(c, "AccessKey");
        char akc[64];
        snprintf(akc, sizeof akc, "%s", ak);
        rk_acl_sign_request(c, akc, strcmp(akc, "RocketMQ") == 0 ? "12345678" : "87654321", NULL);
    }
    remark[0] = '\0';
    return rk_acl_check(acl, peer, c, remark, 512);
}

Test(acl_rules, parses_rocketmqs_sample_file)
{
    rk_acl_t *acl = load(YML);
    cr_expect_eq(rk_acl_accounts(acl), 2);
    rk_acl_free(acl);
    acl = load("");     /* empty: no accounts */
    cr_expect_eq(rk_acl_accounts(acl), 0);
    rk_acl_free(acl);
}

Test(acl_rules, bad_files_are_refused_with_a_reason_and_never_the_secret)
{
    refused("accounts: [", "YAML");
    refused("accounts:\n  - accessKey: a\n", "secretKey are required");
    refused("accounts:\n  - accessKey: a\n    secretKey: s3cr\n", "secretKey must be 6");
    refused("accounts:\n  - accessKey: a\n    secretKey: topsecretvalue\n    defaultTopicPerm: ALL\n",
            "defaultTopicPerm must be PUB, SUB, PUB|SUB or DENY");
    refused("accounts:\n  - accessKey: a\n    secretKey: topsecretvalue\n    topicPerms: [x=PUBLISH]\n",
            "permission must be");
    refused("accounts:\n  - accessKey: a\n    secretKey: topsecretvalue\n    topicPerms: [justaname]\n",
            "NAME=PERM");
    refused("accounts:\n  - accessKey: a\n    secretKey: topsecretvalue\n    topicPerm: [a=PUB]\n",
            "unknown key \"topicPerm\"");
    refused("accounts:\n  - accessKey: a\n    secretKey: topsecretvalue\n  - accessKey: a\n    secretKey: othersecret\n",
            "appears twice");
    refused("accounts:\n  - accessKey: a\n    secretKey: topsecretvalue\n    whiteRemoteAddress: 300.1.1.1\n",
            "not an IPv4 address pattern");
    refused("globalWhiteRemoteAddresses: [10.1.*]\n", "line 1");
    refused("acounts: []\n", "unknown key \"acounts\"");
    refused("- a\n- b\n", "must be a map");
    /* the refusal of a file never quotes its secret */
    rk_acl_t *acl = NULL;
    char err[256] = "";
    const char *t = "accounts:\n  - accessKey: a\n    secretKey: topsecretvalue\n    admin: maybe\n";
    cr_assert_neq(rk_acl_parse(t, strlen(t), &acl, err, sizeof err), 0);
    cr_expect(strstr(err, "topsecretvalue") == NULL, "%s", err);
    cr_expect(strstr(err, "line 4") != NULL, "%s", err);
}

Test(acl_rules, a_file_of_aliases_is_bounded)
{
    /* one permission list shared by alias among many accounts: each use is
     * counted, so a small file cannot make the broker walk a huge one */
    char *t;
    size_t n;
    rk_acl_t *acl = NULL;
    char err[256] = "";
    t = malloc(1024 * 1024);
    cr_assert_not_null(t);
    n = (size_t)sprintf(t, "dataVersion: &p [");
    for (int i = 0; i < 2000; i++)
        n += (size_t)sprintf(t + n, "t%d=PUB,", i);
    n += (size_t)sprintf(t + n, "z=PUB]\naccounts:\n");
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(t + n, "  - {accessKey: a%d, secretKey: secret-%d, topicPerms: *p}\n", i, i);
    cr_expect_eq(rk_acl_parse(t, n, &acl, err, sizeof err), RK_EBADCONFIG);
    cr_expect(strstr(err, "more than") != NULL, "%s", err);
    free(t);
}

Test(acl_rules, white_list_patterns)
{
    struct { const char *pat, *ip; bool valid, match; } cases[] = {
        {"192.168.0.*", "192.168.0.77", true, true},
        {"192.168.0.*", "192.168.1.77", true, false},
        {"192.168.1.1-10", "192.168.1.10", true, true},
        {"192.168.1.1-10", "192.168.1.11", true, false},
        {"192.168.1.{1,2,3}", "192.168.1.2", true, true},
        {"192.168.1.{1,2,3}", "192.168.1.4", true, false},
        {"192.168.1.1,192.168.1.5", "192.168.1.5:4567", true, true},
        {"192.168.1.1,192.168.1.5", "192.168.1.4", true, false},
        {"*", "8.8.8.8", true, true},
        {"*.*.*.*", "8.8.8.8", true, true},
        {"127.0.0.1", "127.0.0.1:9999", true, true},
        {"", "127.0.0.1", true, false},
        {"10.*.*.*", "10.1.2.3", true, true},
        {"192.168.1.10-1", NULL, false, false},
        {"192.168.1", NULL, false, false},
        {"192.168.1.1.1", NULL, false, false},
        {"192.168.1.256", NULL, false, false},
        {"192.168.1.{1,}", NULL, false, false},
        {"192.168.1.{1,{2}}", NULL, false, false},
        {"a.b.c.d", NULL, false, false},
        {"::1", NULL, false, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool m = false;
        bool v = rk_acl_ip_pattern(cases[i].pat, cases[i].ip ? cases[i].ip : "0.0.0.0", &m);
        cr_expect_eq(v, cases[i].valid, "pattern %s valid=%d", cases[i].pat, v);
        if (v)
            cr_expect_eq(m, cases[i].match, "pattern %s ip %s match=%d", cases[i].pat, cases[i].ip, m);
    }
}

Test(acl_rules, each_request_code_names_its_topic_and_group)
{
    rk_acl_t *acl = load(YML);
    char remark[512];
    const char *peer = "172.16.0.9:51000";
    rk_cmd_t *c;

    /* SEND_MESSAGE: PUB on "topic" */
    c = signed_req(RK_REQ_SEND_MESSAGE, "RocketMQ", "12345678");
    rk_cmd_ext_set(c, "topic", "topicB");
    cr_expect_eq(check(acl, peer, c, remark), 0, "%s", remark);
    rk_cmd_ext_set(c, "topic", "topicC");       /* SUB only */
    cr_expect_eq(check(acl, peer, c, remark), RK_RESP_NO_PERMISSION);
    cr_expect(strstr(remark, "no PUB permission on topic topicC (topicPerms") != NULL, "%s", remark);
    rk_cmd_ext_set(c, "topic", "other");        /* defaultTopicPerm DENY */
    cr_expect_eq(check(acl, peer, c, remark), RK_RESP_NO_PERMISSION);
    cr_expect(strstr(remark, "defaultTopicPerm") != NULL, "%s", remark);
    /* a send to a retry topic is a consumer's: SUB on its group */
    rk_cmd_ext_set(c, "topic", "%RETRY%groupC");
    cr_expect_eq(check(acl, peer, c, remark), 0, "%s", remark);
    rk_cmd_ext_set(c, "topic", "%RETRY%groupA");
    cr_expect_eq(check(acl, peer, c, remark), RK_RESP_NO_PERMISSION);
    cr_expect(strstr(remark, "no SUB permission on group groupA") != NULL, "%s", remark);
    rk_cmd_free(c);

    /* SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE: the topic is "b" */
    int32_t v2[] = {RK_REQ_SEND_MESSAGE_V2, RK_REQ_SEND_BATCH_MESSAGE};
    for (int i = 0; i < 2; i++) {
        c = signed_req(v2[i], "RocketMQ", "12345678");
        rk_cmd_ext_set(c, "b", "topicA");
        cr_expect_eq(check(acl, peer, c, remark), RK_RESP_NO_PERMISSION, "code %d", v2[i]);
        rk_cmd_ext_set(c, "b", "topicB");
        cr_expect_eq(check(acl, peer, c, remark), 0, "%s", remark);
        rk_cmd_free(c);
    }

    /* PULL_MESSAGE: SUB on the topic and on the group */
    c = signed_req(RK_REQ_PULL_MESSAGE, "RocketMQ", "12345678");
    rk_cmd_ext_set(c, "topic", "topicC");
    rk_cmd_ext_set(c, "consumerGroup", "groupZ");       /* defaultGroupPerm SUB */
    cr_expect_eq(check(acl, peer, c, remark), 0, "%s", remark);
    rk_cmd_ext_set(c, "consumerGroup", "groupA");
    cr_expect_eq(check(acl, peer, c, remark), RK_RESP_NO_PERMISSION);
    rk_cmd_ext_set(c, "consumerGroup", "groupB");
    rk_cmd_ext_set(c, "topic", "topicA");
    cr_expect_eq(check(acl, peer, c, remark), RK_RESP_NO_PERMISSION);
    cr_expect(strstr(remark, "no SUB permission on topic topicA") != NULL, "%s", remark);
    rk_cmd_free(c);

    /* UPDATE_CONSUMER_OFFSET, GET_CONSUMER_LIST_BY_GROUP, CONSUMER_SEND_MSG_BACK: the group */
    c = signed_req(RK_REQ_UPDATE_CONSUMER_OFFSET, "RocketMQ", "12345678");
    rk_cmd_ext_set(c, "consumerGroup", "groupA");
    rk_cmd_ext_set(c, "topic", "topicC");
    cr_expect_eq(check(acl, peer, c, remark), RK_RESP_NO_PERMISSION);
    rk_cmd_free(c);
    c = signed_req(RK_REQ_GET_CONSUMER_LIST_BY_GROUP, "RocketMQ", "12345678");
    rk_cmd_ext_set(c, "consumerGroup", "groupA");
    cr_expect_eq(check(acl, peer, c, remark), RK_RESP_NO_PERMISSION);
    rk_cmd_free(c);
    c = signed_req(RK_REQ_CONSUMER_SEND_MSG_BACK, "RocketMQ", "12345678");
    rk_cmd_ext_set(c, "group", "groupB");
    cr_expect_eq(check(acl, peer, c, remark), 0, "%s", remark);
    rk_cmd_free(c);

    /* HEART_BEAT: every consumer group and subscribed topic of its body */
    c = signed_req(RK_REQ_HEART_BEAT, "RocketMQ", "12345678");
    const char *hb = "{\"clientID\":\"c1\",\"producerDataSet\":[],\"consumerDataSet\":[{\"groupName\":\"groupB\","
                     "\"consumeType\":\"CONSUME_PASSIVELY\",\"messageModel\":\"CLUSTERING\",\"consumeFromWhere\":"
                     "\"CONSUME_FROM_LAST_OFFSET\",\"unitMode\":false,\"subscriptionDataSet\":[{\"topic\":\"topicA\","
                     "\"subString\":\"*\",\"tagsSet\":[],\"codeSet\":[],\"subVersion\":1,\"expressionType\":\"TAG\"}]}]}";
    rk_cmd_set_body(c, hb, strlen(hb));
    cr_expect_eq(check(acl, peer, c, remark), RK_RESP_NO_PERMISSION);
    cr_expect(strstr(remark, "topic topicA") != NULL, "%s", remark);
    rk_cmd_set_body(c, "{not json", 9);
    cr_expect_eq(check(acl, peer, c, remark), RK_RESP_NO_PERMISSION);
    cr_expect(strstr(remark, "heartbeat body unreadable") != NULL, "%s", remark);
    rk_cmd_free(c);

    /* admin-only codes */
    c = signed_req(RK_REQ_UPDATE_AND_CREATE_TOPIC, "RocketMQ", "12345678");
    rk_cmd_ext_set(c, "topic", "topicB");
    cr_expect_eq(check(acl, peer, c, remark), RK_RESP_NO_PERMISSION);
    cr_expect(strstr(remark, "request code 17 needs an admin account") != NULL, "%s", remark);
    rk_cmd_free(c);
    c = signed_req(RK_REQ_UPDATE_AND_CREATE_TOPIC, "rocketmq2", "87654321");
    rk_cmd_ext_set(c, "topic", "anything");
    cr_expect_eq(check(acl, peer, c, remark), 0, "%s", remark);      /* admin without perms: everything */
    rk_cmd_free(c);

    /* the trace topic passes whatever the rules say (RocketMQ's exception) */
    c = signed_req(RK_REQ_SEND_MESSAGE, "RocketMQ", "12345678");
    rk_cmd_ext_set(c, "topic", "RMQ_SYS_TRACE_TOPIC");
    cr_expect_eq(check(acl, peer, c, remark), 0, "%s", remark);
    rk_cmd_free(c);
    rk_acl_free(acl);
}

Test(acl_rules, who_is_asking)
{
    rk_acl_t *acl = load(YML);
    char remark[512];
    rk_cmd_t *c = rk_cmd_new(RK_REQ_SEND_MESSAGE);
    rk_cmd_ext_set(c, "topic", "topicA");
    /* global white list: anything, unsigned */
    cr_expect_eq(rk_acl_check(acl, "10.10.103.5:1234", c, remark, sizeof remark), 0);
    cr_expect_eq(rk_acl_check(acl, "192.168.0.2:1234", c, remark, sizeof remark), 0);
    /* elsewhere: an AccessKey is needed */
    cr_expect_eq(rk_acl_check(acl, "192.168.0.3:1234", c, remark, sizeof remark), RK_RESP_NO_PERMISSION);
    cr_expect(strstr(remark, "carries no AccessKey") != NULL, "%s", remark);
    rk_cmd_ext_set(c, "AccessKey", "nobody");
    cr_expect_eq(rk_acl_check(acl, "192.168.0.3:1234", c, remark, sizeof remark), RK_RESP_NO_PERMISSION);
    cr_expect(strstr(remark, "no account for accessKey=nobody") != NULL, "%s", remark);
    /* the account's own white list: no signature, no permission checks */
    rk_cmd_ext_set(c, "AccessKey", "rocketmq2");
    cr_expect_eq(rk_acl_check(acl, "192.168.1.200:1234", c, remark, sizeof remark), 0, "%s", remark);
    cr_expect_eq(rk_acl_check(acl, "192.168.2.200:1234", c, remark, sizeof remark), RK_RESP_NO_PERMISSION);
    cr_expect(strstr(remark, "carries no Signature") != NULL, "%s", remark);
    /* a signature made with another secret, or of other fields */
    rk_acl_sign_request(c, "rocketmq2", "wrong-secret", NULL);
    cr_expect_eq(rk_acl_check(acl, "192.168.2.200:1234", c, remark, sizeof remark), RK_RESP_NO_PERMISSION);
    cr_expect(strstr(remark, "signature check failed for accessKey=rocketmq2") != NULL, "%s", remark);
    cr_expect(strstr(remark, "87654321") == NULL);
    rk_acl_sign_request(c, "rocketmq2", "87654321", NULL);
    cr_expect_eq(rk_acl_check(acl, "192.168.2.200:1234", c, remark, sizeof remark), 0, "%s", remark);
    rk_cmd_ext_set(c, "topic", "topicB");       /* changed after signing */
    cr_expect_eq(rk_acl_check(acl, "192.168.2.200:1234", c, remark, sizeof remark), RK_RESP_NO_PERMISSION);
    rk_cmd_set_body(c, "x", 1);
    rk_acl_sign_request(c, "rocketmq2", "87654321", NULL);
    cr_expect_eq(rk_acl_check(acl, "192.168.2.200:1234", c, remark, sizeof remark), 0, "%s", remark);
    rk_cmd_set_body(c, "y", 1);                 /* the body is signed too */
    cr_expect_eq(rk_acl_check(acl, "192.168.2.200:1234", c, remark, sizeof remark), RK_RESP_NO_PERMISSION);
    rk_cmd_free(c);
    rk_acl_free(acl);
}

Test(acl_rules, mutated_files_are_parsed_or_refused_never_crash)
{
    /* 3000 copies of the sample file with a few bytes changed, inserted or cut
     * (a fixed seed: the same inputs each run). Each must parse or be refused
     * with a reason; under SAN=1 any bad read or leak fails the test. */
    size_t base = strlen(YML);
    char *t = malloc(base + 64);
    cr_assert_not_null(t);
    uint32_t seed = 14;
    int parsed = 0, refused_n = 0;
    for (int round = 0; round < 3000; round++) {
        memcpy(t, YML, base);
        size_t n = base;
        int edits = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 4;
        for (int e = 0; e < edits; e++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % n;
            static const char pool[] = ":-{}[],*&!|='\"#\n \t\x01\xff" "0123456789abcSUBPUBDENY";
            char ch = pool[(seed >> 20) % (sizeof pool - 1)];
            switch ((seed >> 4) % 3) {
            case 0: t[pos] = ch; break;                                             /* change */
            case 1: memmove(t + pos + 1, t + pos, n - pos); t[pos] = ch; n++; break; /* insert */
            default: memmove(t + pos, t + pos + 1, n - pos - 1); n--; break;        /* cut */
            }
        }
        rk_acl_t *acl = NULL;
        char err[256] = "";
        int rc = rk_acl_parse(t, n, &acl, err, sizeof err);
        if (rc == RK_OK) {
            cr_assert_not_null(acl);
            char remark[512];
            rk_cmd_t *c = rk_cmd_new(RK_REQ_SEND_MESSAGE);
            rk_cmd_ext_set(c, "topic", "topicB");
            rk_acl_sign_request(c, "RocketMQ", "12345678", NULL);
            rk_acl_check(acl, "192.168.1.9:1", c, remark, sizeof remark);
            rk_cmd_free(c);
            rk_acl_free(acl);
            parsed++;
        } else {
            cr_assert_eq(rc, RK_EBADCONFIG, "rc %d", rc);
            cr_assert_null(acl);
            cr_assert(err[0] != '\0');
            cr_assert(strstr(err, "12345678") == NULL && strstr(err, "87654321") == NULL, "%s", err);
            refused_n++;
        }
    }
    cr_log_info("mutated files: %d parsed, %d refused", parsed, refused_n);
    cr_expect(parsed > 0 && refused_n > 0);
    free(t);
}
