/* test_acl_send_names.c — the ACL must judge a send by the topic the broker
 * will actually write to (found by the verifier, issue 14).
 *
 * The send processor takes the topic from "b" or, failing that, "topic",
 * whatever the request code (10, 310 or 320); the ACL reads only "topic"
 * for code 10 and only "b" for 310/320, and lets a request through when the
 * field it reads is absent. So an account with PUB on TopicOK only and DENY
 * everywhere else can write to TopicDeny:
 *   - code 310 or 320 with long field names (topic=TopicDeny, no "b");
 *   - code 10 with topic=TopicOK and b=TopicDeny.
 * Each such send must get NO_PERMISSION (16), and TopicDeny must stay empty. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "rk/acl_sign.h"
#include "rk/remoting_cmd.h"
#include "rk/request_code.h"
#include "rk/testkit.h"
#include "rk/tk_send.h"

static tk_cluster_t cl;
static char dir[256], file[300];

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "aclnames"), 0);
    snprintf(file, sizeof file, "%s/plain_acl.yml", dir);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fputs("accounts:\n"
          "  - accessKey: AdminAK\n"
          "    secretKey: admin-secret-1\n"
          "    admin: true\n"
          "  - accessKey: PubAK\n"
          "    secretKey: pub-secret-22\n"
          "    defaultTopicPerm: DENY\n"
          "    defaultGroupPerm: SUB\n"
          "    topicPerms:\n"
          "      - TopicOK=PUB|SUB\n"
          "      - TopicDeny=DENY\n",
          f);
    cr_assert_eq(fclose(f), 0);
    char extra[512];
    snprintf(extra, sizeof extra, "aclEnable=true\naclFile=%s\n", file);
    tk_cluster_start(&cl, extra);
}

static void teardown(void)
{
    tk_cluster_stop(&cl);
    if (getenv("RK_KEEP_TMP") == NULL)
        rk_tk_rmtree(dir);
}

TestSuite(acl_send_names, .init = setup, .fini = teardown, .timeout = 60);

static rk_cmd_t *signed_ask(rk_cmd_t *req, const char *ak, const char *sk)
{
    cr_assert_eq(rk_acl_sign_request(req, ak, sk, NULL), 0);
    return tk_ask(cl.br, req);
}

static void create_topic(const char *topic)
{
    rk_cmd_t *c = rk_cmd_new(RK_REQ_UPDATE_AND_CREATE_TOPIC);
    rk_cmd_ext_set(c, "topic", topic);
    rk_cmd_ext_set(c, "defaultTopic", "TBW102");
    rk_cmd_ext_set(c, "readQueueNums", "1");
    rk_cmd_ext_set(c, "writeQueueNums", "1");
    rk_cmd_ext_set(c, "perm", "6");
    rk_cmd_ext_set(c, "topicFilterType", "SINGLE_TAG");
    rk_cmd_t *r = signed_ask(c, "AdminAK", "admin-secret-1");
    cr_assert_eq(r->code, 0, "create %s: %d %s", topic, r->code, r->remark ? r->remark : "");
    rk_cmd_free(r);
}

/* A send with SEND_MESSAGE's long field names under any code. */
static rk_cmd_t *long_send(int32_t code, const char *topic)
{
    rk_cmd_t *c = rk_cmd_new(code);
    rk_cmd_ext_set(c, "producerGroup", "pg");
    rk_cmd_ext_set(c, "topic", topic);
    rk_cmd_ext_set(c, "defaultTopic", "TBW102");
    rk_cmd_ext_set(c, "defaultTopicQueueNums", "4");
    rk_cmd_ext_set(c, "queueId", "0");
    rk_cmd_ext_set(c, "sysFlag", "0");
    rk_cmd_ext_set(c, "bornTimestamp", "1");
    rk_cmd_ext_set(c, "flag", "0");
    rk_cmd_set_body(c, "x", 1);
    return c;
}

static int64_t max_offset(const char *topic)
{
    rk_cmd_t *c = rk_cmd_new(RK_REQ_GET_MAX_OFFSET);
    rk_cmd_ext_set(c, "topic", topic);
    rk_cmd_ext_set(c, "queueId", "0");
    rk_cmd_t *r = signed_ask(c, "AdminAK", "admin-secret-1");
    cr_assert_eq(r->code, 0, "GET_MAX_OFFSET %s: %d", topic, r->code);
    const char *v = rk_cmd_ext_get(r, "offset");
    cr_assert_not_null(v);
    int64_t off = strtoll(v, NULL, 10);
    rk_cmd_free(r);
    return off;
}

static void expect_16(rk_cmd_t *r, const char *what)
{
    cr_expect_eq(r->code, 16, "%s: answered %d (%s), not NO_PERMISSION", what, r->code, r->remark ? r->remark : "");
    rk_cmd_free(r);
}

Test(acl_send_names, a_send_is_judged_by_the_topic_it_writes_to)
{
    create_topic("TopicOK");
    create_topic("TopicDeny");
    /* the control: V2 names on 310 are refused */
    rk_cmd_t *v2 =
        rk_tk_send_request(&(rk_tk_send_spec_t){.topic = "TopicDeny", .born = "1", .last = 'h', .body = "x"});
    cr_assert(v2 != NULL);
    expect_16(signed_ask(v2, "PubAK", "pub-secret-22"), "310 with b=TopicDeny");

    expect_16(signed_ask(long_send(RK_REQ_SEND_MESSAGE_V2, "TopicDeny"), "PubAK", "pub-secret-22"),
              "310 with topic=TopicDeny (long names)");
    expect_16(signed_ask(long_send(RK_REQ_SEND_BATCH_MESSAGE, "TopicDeny"), "PubAK", "pub-secret-22"),
              "320 with topic=TopicDeny (long names)");
    rk_cmd_t *both = long_send(RK_REQ_SEND_MESSAGE, "TopicOK");
    rk_cmd_ext_set(both, "b", "TopicDeny");
    rk_cmd_t *r = signed_ask(both, "PubAK", "pub-secret-22");
    rk_cmd_free(r);     /* refused, or written to TopicOK: either way TopicDeny stays empty */

    cr_expect_eq(max_offset("TopicDeny"), 0, "a DENY topic received messages from an account without PUB on it");
}
