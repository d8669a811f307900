/* test_acl.c — the broker's ACL with real processes (issue 14): a name
 * server and a broker with aclEnable=true, clients signing (or not) with
 * the SDK, mqadmin and a raw remoting client. Requests signed by an account
 * that may make them pass; unsigned, wrongly signed, replayed and
 * over-permission ones get NO_PERMISSION (16) with the rule in the remark;
 * white-listed addresses pass unsigned; the file reloads without a restart;
 * no secret ever reaches the log. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "rk/acl_sign.h"
#include "rk/consumer.h"
#include "rk/error.h"
#include "rk/producer.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"
#include "rk/tk_send.h"

static tk_cluster_t cl;
static char acl_dir[256], acl_file[300];

static const char *ACCOUNTS =
    "globalWhiteRemoteAddresses:\n"
    "  - 10.250.250.*\n"
    "accounts:\n"
    "  - accessKey: AdminAK\n"
    "    secretKey: admin-secret-1\n"
    "    admin: true\n"
    "  - accessKey: PubAK\n"
    "    secretKey: pub-secret-22\n"
    "    defaultTopicPerm: DENY\n"
    "    defaultGroupPerm: SUB\n"
    "    topicPerms:\n"
    "      - TopicA=PUB|SUB\n"
    "  - accessKey: SubAK\n"
    "    secretKey: %s\n"
    "    defaultTopicPerm: %s\n"
    "    defaultGroupPerm: SUB\n"
    "  - accessKey: WhiteAK\n"
    "    secretKey: white-secret-4444\n"
    "    whiteRemoteAddress: 127.0.0.1\n"
    "    defaultTopicPerm: DENY\n"
    "%s";

static const char *const SECRETS[] = {"admin-secret-1", "pub-secret-22", "sub-secret-333", "white-secret-4444"};

/* Writes the file beside and renames it over, as an operator should. */
static void write_acl(const char *sub_topic_perm, const char *more)
{
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.tmp", acl_file);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fprintf(f, ACCOUNTS, "sub-secret-333", sub_topic_perm, more);
    fclose(f);
    cr_assert_eq(rename(tmp, acl_file), 0);
}

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(acl_dir, sizeof acl_dir, "acl"), 0);
    snprintf(acl_file, sizeof acl_file, "%s/plain_acl.yml", acl_dir);
    write_acl("SUB", "");
    char extra[512];
    snprintf(extra, sizeof extra, "aclEnable=true\naclFile=%s\naclReloadIntervalMillis=100\n", acl_file);
    tk_cluster_start(&cl, extra);
}

static void teardown(void)
{
    tk_cluster_stop(&cl);
    if (getenv("RK_KEEP_TMP") == NULL)
        rk_tk_rmtree(acl_dir);
}

TestSuite(acl, .init = setup, .fini = teardown, .timeout = 90);

/* One request to the broker, signed by ak/sk when ak is not NULL. */
static rk_cmd_t *ask(rk_cmd_t *req, const char *ak, const char *sk)
{
    rk_rclient_t *rc;
    cr_assert_eq(rk_rclient_new(&rc), 0);
    if (ak != NULL)
        cr_assert_eq(rk_acl_sign_request(req, ak, sk, NULL), 0);
    rk_cmd_t *resp = NULL;
    cr_assert_eq(rk_rclient_invoke_sync(rc, cl.br, req, 5000, &resp), 0);
    rk_rclient_free(rc);
    return resp;
}

/* Runs mqadmin with the arguments up to a NULL; its exit status, output in *out. */
static int mqadmin(char **out, ...)
{
    char *argv[16] = {(char *)rk_tk_bin("mqadmin")};
    va_list ap;
    va_start(ap, out);
    for (int i = 1; i < 15 && (argv[i] = va_arg(ap, char *)) != NULL; i++)
        ;
    va_end(ap);
    *out = NULL;
    return rk_tk_run(argv, out, 20000);
}

static void create_topic_as_admin(const char *topic)
{
    char *out;
    int rc = mqadmin(&out, "-a", "AdminAK", "-s", "admin-secret-1", "updateTopic", "-n", cl.ns, "-t", topic, "-b", cl.br,
                     NULL);
    cr_assert_eq(rc, 0, "updateTopic as admin: %s", out ? out : "");
    free(out);
    /* wait for the route */
    rk_producer_config_t pc = {.namesrv = cl.ns, .group = "probe", .access_key = "AdminAK",
                               .secret_key = "admin-secret-1"};
    rk_producer_t *p;
    cr_assert_eq(rk_producer_new(&pc, &p), 0);
    rk_mq_t *qs = NULL;
    size_t n = 0;
    for (int i = 0; i < 500 && rk_producer_queues(p, topic, &qs, &n) != RK_OK; i++)
        usleep(10000);
    cr_assert(n > 0, "no route for %s", topic);
    free(qs);
    rk_producer_free(p);
}

/* A send with the SDK as ak/sk (NULL: unsigned). Returns the rk error; r->error says why. */
static int sdk_send(const char *ak, const char *sk, const char *topic, const char *body, rk_send_result_t *r)
{
    rk_producer_config_t pc = {.namesrv = cl.ns, .group = "acl_pg", .retries = -1, .access_key = ak,
                               .secret_key = sk};
    rk_producer_t *p;
    cr_assert_eq(rk_producer_new(&pc, &p), 0);
    rk_message_t m = {.topic = topic, .body = body, .body_len = strlen(body)};
    int rc = rk_producer_send(p, &m, r);
    rk_producer_free(p);
    return rc;
}

static char *broker_log(void)
{
    char path[320];
    snprintf(path, sizeof path, "%s/broker.log", cl.dir);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

Test(acl, signed_sdk_and_mqadmin_requests_pass)
{
    create_topic_as_admin("TopicA");
    rk_send_result_t r;
    cr_assert_eq(sdk_send("PubAK", "pub-secret-22", "TopicA", "hello-acl", &r), 0, "%s", r.error);

    /* SubAK may read (defaultTopicPerm SUB, defaultGroupPerm SUB) */
    rk_pull_consumer_config_t cc = {.namesrv = cl.ns, .group = "acl_cg", .access_key = "SubAK",
                                    .secret_key = "sub-secret-333"};
    rk_pull_consumer_t *pc;
    cr_assert_eq(rk_pull_consumer_new(&cc, &pc), 0);
    rk_mq_t *qs = NULL;
    size_t nq = 0;
    cr_assert_eq(rk_pull_consumer_queues(pc, "TopicA", &qs, &nq), 0);
    bool found = false;
    for (size_t q = 0; q < nq; q++) {
        if (qs[q].queue_id != r.mq.queue_id)
            continue;
        /* the consume queue is written just after the send is answered: a bounded wait */
        for (int tries = 0; tries < 500 && !found; tries++) {
            rk_pull_result_t pr;
            cr_assert_eq(rk_pull_consumer_pull(pc, &qs[q], "*", 0, 32, 0, &pr), 0, "%s", pr.error);
            found = pr.status == RK_PULL_FOUND && pr.msgs->n == 1 && pr.msgs->msgs[0].body_len == 9 &&
                    memcmp(pr.msgs->msgs[0].body, "hello-acl", 9) == 0;
            rk_pull_result_free(&pr);
            if (!found)
                usleep(10000);
        }
        cr_assert_eq(rk_pull_consumer_commit_offset(pc, &qs[q], 1), 0);     /* UPDATE_CONSUMER_OFFSET, signed */
    }
    cr_expect(found, "the consumer did not read the message");
    free(qs);
    rk_pull_consumer_free(pc);

    /* mqadmin with the keys in the environment */
    setenv("ROCKETMQ_ACCESS_KEY", "SubAK", 1);
    setenv("ROCKETMQ_SECRET_KEY", "sub-secret-333", 1);
    char *out;
    cr_expect_eq(mqadmin(&out, "brokerStatus", "-n", cl.ns, "-b", cl.br, NULL), 0, "%s", out);
    free(out);
    setenv("ROCKETMQ_SECRET_KEY", "not-the-secret", 1);
    cr_expect_eq(mqadmin(&out, "brokerStatus", "-n", cl.ns, "-b", cl.br, NULL), 1, "%s", out);
    cr_expect(out && strstr(out, "NO_PERMISSION") && strstr(out, "signature check failed"), "%s", out);
    free(out);
    unsetenv("ROCKETMQ_ACCESS_KEY");
    unsetenv("ROCKETMQ_SECRET_KEY");
}

static void expect_refused(rk_cmd_t *resp, const char *why)
{
    cr_expect_eq(resp->code, RK_RESP_NO_PERMISSION, "code %d remark %s", resp->code, resp->remark ? resp->remark : "");
    cr_expect(resp->remark && strstr(resp->remark, why), "remark \"%s\" does not say \"%s\"",
              resp->remark ? resp->remark : "", why);
    rk_cmd_free(resp);
}

static rk_cmd_t *pull_req(const char *topic, const char *group)
{
    rk_cmd_t *c = rk_tk_pull_request(&(rk_tk_pull_spec_t){.group = group, .topic = topic, .max = 1});
    cr_assert(c != NULL);
    return c;
}

Test(acl, unsigned_wrong_replayed_and_over_permission_requests_get_16)
{
    create_topic_as_admin("TopicA");
    /* unsigned */
    expect_refused(ask(pull_req("TopicA", "g1"), NULL, NULL), "carries no AccessKey");
    /* unknown account */
    expect_refused(ask(pull_req("TopicA", "g1"), "Mallory", "mallory-secret"), "no account for accessKey=Mallory");
    /* the right account, the wrong secret */
    expect_refused(ask(pull_req("TopicA", "g1"), "SubAK", "guessed-secret"), "signature check failed for accessKey=SubAK");
    /* a signature lifted from one request and put on another */
    rk_cmd_t *a = pull_req("TopicA", "g1");
    cr_assert_eq(rk_acl_sign_request(a, "SubAK", "sub-secret-333", NULL), 0);
    rk_cmd_t *b = pull_req("TopicA", "g2");
    rk_cmd_ext_set(b, "AccessKey", "SubAK");
    rk_cmd_ext_set(b, "Signature", rk_cmd_ext_get(a, "Signature"));
    rk_cmd_t *ra = ask(a, NULL, NULL);
    cr_expect_neq(ra->code, RK_RESP_NO_PERMISSION, "%s", ra->remark ? ra->remark : "");     /* the original passes */
    rk_cmd_free(ra);
    expect_refused(ask(b, NULL, NULL), "signature check failed");
    /* the same fields under another request code: the code is not signed
     * (RocketMQ 4.x), so it is the permission rules that refuse it */
    rk_cmd_t *c = pull_req("TopicA", "g1");
    cr_assert_eq(rk_acl_sign_request(c, "SubAK", "sub-secret-333", NULL), 0);
    c->code = RK_REQ_UPDATE_AND_CREATE_TOPIC;
    expect_refused(ask(c, NULL, NULL), "request code 17 needs an admin account");

    /* over permission through the SDK: SubAK sending, PubAK reading a denied topic */
    rk_send_result_t r;
    cr_expect_neq(sdk_send("SubAK", "sub-secret-333", "TopicA", "x", &r), 0);
    cr_expect(strstr(r.error, "no PUB permission on topic TopicA"), "%s", r.error);
    create_topic_as_admin("TopicB");
    expect_refused(ask(pull_req("TopicB", "g1"), "PubAK", "pub-secret-22"),
                   "accessKey=PubAK has no SUB permission on topic TopicB (defaultTopicPerm");
    /* a non-admin creating a topic with mqadmin */
    char *out;
    cr_expect_eq(mqadmin(&out, "-a", "PubAK", "-s", "pub-secret-22", "updateTopic", "-n", cl.ns, "-t", "TopicC", "-b",
                         cl.br, NULL), 1);
    cr_expect(out && strstr(out, "NO_PERMISSION") && strstr(out, "needs an admin account"), "%s", out);
    free(out);

    /* a body no send may carry is refused before anything hashes it */
    rk_cmd_t *big = pull_req("TopicA", "g1");
    size_t n = 6 * 1024 * 1024;
    uint8_t *body = calloc(1, n);
    cr_assert_not_null(body);
    rk_cmd_own_body(big, body, n);
    rk_cmd_ext_set(big, "AccessKey", "SubAK");
    rk_cmd_ext_set(big, "Signature", "AAAA");
    expect_refused(ask(big, NULL, NULL), "is not checked (over maxMessageSize)");

    /* refusals are logged, secrets never */
    const char *log = broker_log();
    cr_expect(strstr(log, "refused") != NULL, "no refusal logged");
    for (size_t i = 0; i < sizeof SECRETS / sizeof SECRETS[0]; i++)
        cr_expect(strstr(log, SECRETS[i]) == NULL, "secret %s in the log", SECRETS[i]);
}

Test(acl, white_listed_addresses_pass_unsigned)
{
    create_topic_as_admin("TopicA");
    /* WhiteAK's whiteRemoteAddress is 127.0.0.1: no signature is checked
     * (a wrong secret still passes), nor are its permissions */
    rk_send_result_t r;
    cr_expect_eq(sdk_send("WhiteAK", "whatever-secret", "TopicA", "w", &r), 0, "%s", r.error);
    /* an unsigned request without any AccessKey is not WhiteAK's */
    expect_refused(ask(pull_req("TopicA", "g1"), NULL, NULL), "carries no AccessKey");
}

static bool sub_can_send(void *arg)
{
    (void)arg;
    rk_send_result_t r;
    return sdk_send("SubAK", "sub-secret-333", "TopicA", "s", &r) == RK_OK;
}

static bool unsigned_passes(void *arg)
{
    (void)arg;
    rk_cmd_t *resp = ask(pull_req("TopicA", "g1"), NULL, NULL);
    bool ok = resp->code != RK_RESP_NO_PERMISSION;
    rk_cmd_free(resp);
    return ok;
}

static bool log_says(void *arg) { return strstr(broker_log(), (const char *)arg) != NULL; }

Test(acl, the_file_reloads_without_a_restart)
{
    create_topic_as_admin("TopicA");
    cr_assert(!sub_can_send(NULL));
    write_acl("PUB|SUB", "");
    cr_assert(tk_wait_until(sub_can_send, NULL, 10000), "SubAK still cannot send after the reload");
    pid_t pid = cl.br_pid;

    /* a broken file is refused and the rules in force stay */
    FILE *f = fopen(acl_file, "w");
    cr_assert_not_null(f);
    fputs("accounts:\n  - accessKey: SubAK\n    secretKey: sub-secret-333\n    defaultTopicPerm: EVERYTHING\n", f);
    fclose(f);
    cr_assert(tk_wait_until(log_says, "reload refused", 10000), "no reload error logged");
    cr_expect(strstr(broker_log(), "defaultTopicPerm must be") != NULL);
    cr_expect(sub_can_send(NULL));
    cr_expect(!unsigned_passes(NULL));

    /* a global white list for loopback: everything passes unsigned */
    write_acl("SUB", "globalWhiteRemoteAddresses:\n  - 127.0.0.*\n");
    cr_assert(tk_wait_until(unsigned_passes, NULL, 10000), "the global white list was not picked up");
    cr_expect_eq(cl.br_pid, pid);
    cr_expect_eq(rk_tk_wait(pid, 0), -ETIMEDOUT, "the broker exited");
    const char *log = broker_log();
    for (size_t i = 0; i < sizeof SECRETS / sizeof SECRETS[0]; i++)
        cr_expect(strstr(log, SECRETS[i]) == NULL, "secret %s in the log", SECRETS[i]);
}

/* ---- start-up: a broker refuses to start on a bad file, and says why ---- */

static int start_broker_with(const char *dir, const char *yml, char **out)
{
    char conf[320], path[320];
    snprintf(conf, sizeof conf, "%s/broker.conf", dir);
    FILE *f = fopen(conf, "w");
    cr_assert_not_null(f);
    fprintf(f, "brokerName=b\nlistenHost=127.0.0.1\nlistenPort=%d\nstorePathRootDir=%s/store\naclEnable=true\n",
            rk_tk_free_port(), dir);
    fclose(f);
    snprintf(path, sizeof path, "%s/plain_acl.yml", dir);
    unlink(path);
    if (yml != NULL) {
        f = fopen(path, "w");
        cr_assert_not_null(f);
        fputs(yml, f);
        fclose(f);
    }
    char *argv[] = {(char *)rk_tk_bin("mqbroker"), "-c", conf, NULL};
    return rk_tk_run(argv, out, 20000);
}

Test(acl_startup, a_missing_or_bad_file_stops_the_broker_with_the_reason, .timeout = 60)
{
    char dir[256];
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "aclstart"), 0);
    char *out = NULL, want[320];
    /* the default file is plain_acl.yml beside broker.conf */
    cr_expect_neq(start_broker_with(dir, NULL, &out), 0);
    snprintf(want, sizeof want, "%s/plain_acl.yml", dir);
    cr_expect(out && strstr(out, want), "%s", out);
    free(out);
    out = NULL;
    cr_expect_neq(start_broker_with(dir, "accounts:\n  - accessKey: a\n    secretKey: hush-hush-9\n    admin: sure\n",
                                    &out), 0);
    cr_expect(out && strstr(out, "line 4") && strstr(out, "admin must be true or false"), "%s", out);
    cr_expect(out && strstr(out, "hush-hush-9") == NULL, "%s", out);
    free(out);
    rk_tk_rmtree(dir);
}
