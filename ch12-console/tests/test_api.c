/* test_api.c — mqconsole's JSON API against a real name server and broker (chapter 9's), over
 * HTTP on loopback: what each endpoint answers, and 4xx with a message for bad input. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfix.h"
#include "rk/clock.h"
#include "rk/json.h"
#include "rk/message.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

static bool has_string(cJSON *arr, const char *s)
{
    for (cJSON *e = arr ? arr->child : NULL; e; e = e->next)
        if (cJSON_IsString(e) && strcmp(e->valuestring, s) == 0)
            return true;
    return false;
}

/* GET target until the number at key (top level, or in the first element of array `in`) is
 * want (the broker's consume queues are built just after a put), for up to 10 s. */
static cJSON *get_until(cfix_t *f, const char *target, const char *in, const char *key, double want)
{
    /* A route or topic created a moment ago can still be unknown to the
     * name server (404) while the broker's registration is on its way, so
     * only the last answer has to be a 200. */
    cJSON *j = NULL;
    for (int i = 0; i < 200; i++) {
        cJSON_Delete(j);
        int status;
        j = cf_try_get(f, target, &status);
        if (j == NULL) {
            usleep(50000);
            continue;
        }
        cJSON *o = in ? cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, in), 0) : j;
        cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        if (cJSON_IsNumber(v) && v->valuedouble == want)
            break;
        usleep(50000);
    }
    if (j == NULL)
        j = cf_get(f, target, 200);
    return j;
}

Test(api, cluster_and_brokers)
{
    cfix_t f;
    cf_start(&f, NULL, NULL);
    cJSON *j = cf_get(&f, "/api/cluster", 200);
    cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "brokers"), 0);
    cr_assert_not_null(b, "no broker listed");
    cr_assert_str_eq(rk_json_get_str(b, "addr"), f.cl.br);
    cr_assert_str_eq(rk_json_get_str(b, "brokerName"), "broker-r");
    cr_assert_str_eq(rk_json_get_str(b, "cluster"), "TestCluster");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "up")));
    cr_assert(strstr(rk_json_get_str(b, "role"), "MASTER") != NULL);
    cr_assert_str_eq(rk_json_get_str(b, "version"), "V4_9_8");
    cJSON_Delete(j);

    char path[200];
    snprintf(path, sizeof path, "/api/brokers/%s", f.cl.br);
    j = cf_get(&f, path, 200);
    cr_assert_str_eq(rk_json_get_str(cJSON_GetObjectItemCaseSensitive(j, "runtime"), "brokerName"), "broker-r");
    cJSON_Delete(j);
    /* the console only talks to brokers the name servers list */
    cf_error(f.port, "GET", "/api/brokers/10.1.2.3:4", NULL, NULL, 404, "not a broker");
    j = cf_get(&f, "/api/", 200);
    cr_assert(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "routes")) > 15);
    cJSON_Delete(j);
    j = cf_get(&f, "/api/tps", 200);
    cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(j, "brokers"), 0), "producerTps"));
    cJSON_Delete(j);
    cf_stop(&f);
}

Test(api, topics_create_list_route_status)
{
    cfix_t f;
    cf_start(&f, NULL, NULL);
    cJSON *j = cf_call(f.port, "POST", "/api/topics", NULL,
                       "{\"topic\":\"ConsoleT\",\"readQueueNums\":2,\"writeQueueNums\":2}", 200);
    cr_assert(has_string(cJSON_GetObjectItemCaseSensitive(j, "brokers"), f.cl.br));
    cJSON_Delete(j);
    for (int i = 0; i < 500 && !rk_rc_routed(&f.cl, "ConsoleT"); i++)
        usleep(10000);
    j = cf_get(&f, "/api/topics", 200);
    cr_assert(has_string(cJSON_GetObjectItemCaseSensitive(j, "topics"), "ConsoleT"));
    cr_assert(!has_string(cJSON_GetObjectItemCaseSensitive(j, "topics"), "TBW102"), "system topics only on ask");
    cJSON_Delete(j);
    j = cf_get(&f, "/api/topics?system=1&q=TBW", 200);
    cr_assert(has_string(cJSON_GetObjectItemCaseSensitive(j, "topics"), "TBW102"));
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "topics")), 1);
    cJSON_Delete(j);
    j = cf_get(&f, "/api/topics?system=1&offset=1&limit=1", 200);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "topics")), 1, "a page of one");
    cr_assert(cf_num(j, "total") > 2);
    cJSON_Delete(j);

    j = cf_get(&f, "/api/topics/ConsoleT/route", 200);
    cJSON *qd = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "queueDatas"), 0);
    cr_assert_eq(cf_num(qd, "writeQueueNums"), 2);
    cJSON_Delete(j);

    rk_send_result_t r;
    for (int i = 0; i < 3; i++)
        cf_send(&f, "ConsoleT", "k", "hello", NULL, &r);
    j = get_until(&f, "/api/topics/ConsoleT/status", NULL, "messages", 3);
    cr_assert_eq(cf_num(j, "messages"), 3);
    cr_assert(cf_num(j, "lastUpdateTimestamp") > 0);
    cJSON *qs = cJSON_GetObjectItemCaseSensitive(j, "queues");
    cr_assert_eq(cJSON_GetArraySize(qs), 2);
    double sum = 0;
    for (cJSON *q = qs->child; q; q = q->next)
        sum += cf_num(q, "maxOffset");
    cr_assert_eq(sum, 3);
    cJSON_Delete(j);

    /* bad input: 4xx with a message */
    cf_error(f.port, "GET", "/api/topics/NoSuchTopic/status", NULL, NULL, 404, "NoSuchTopic");
    cf_error(f.port, "GET", "/api/topics/NoSuchTopic/route", NULL, NULL, 404, NULL);
    cf_error(f.port, "POST", "/api/topics", NULL, "{\"topic\":\"bad name!\"}", 400, "valid");
    cf_error(f.port, "POST", "/api/topics", NULL, "{\"topic\":", 400, "not JSON");
    cf_error(f.port, "POST", "/api/topics", NULL, "{\"topic\":\"T\",\"readQueueNums\":0}", 400, "1..1024");
    cf_error(f.port, "POST", "/api/topics", NULL, "{\"topic\":\"T\",\"cluster\":\"nope\"}", 404, "cluster");
    cf_error(f.port, "GET", "/api/topics?limit=0", NULL, NULL, 400, "limit");
    cf_error(f.port, "GET", "/api/topics?offset=-1", NULL, NULL, 400, "offset");
    cf_error(f.port, "GET", "/api/topics?limit=1000000", NULL, NULL, 400, "limit");
    cf_error(f.port, "GET", "/api/topics/%zz/status", NULL, NULL, 400, "escape");
    cf_error(f.port, "GET", "/api/topics/a%00b/status", NULL, NULL, 400, "escape");
    cf_error(f.port, "GET", "/api/nothing/here", NULL, NULL, 404, "no such API");
    cf_error(f.port, "PUT", "/api/topics", NULL, NULL, 405, "PUT");
    cf_error(f.port, "DELETE", "/api/cluster", NULL, NULL, 405, NULL);
    cf_error(f.port, "GET", "/api/topics", NULL, "{}", 400, "GET has no body");
    cf_stop(&f);
}

Test(api, messages_by_id_key_and_time)
{
    cfix_t f;
    cf_start(&f, NULL, NULL);
    rk_rc_create_topic(&f.cl, "MsgT", 2);
    int64_t t0 = rk_now_ms();
    rk_send_result_t first, r;
    cf_send(&f, "MsgT", "order-1", "body one", NULL, &first);
    for (int i = 0; i < 4; i++)
        cf_send(&f, "MsgT", "other", "body n", NULL, &r);
    int64_t t1 = rk_now_ms() + 1;
    char path[400];
    cJSON_Delete(get_until(&f, "/api/topics/MsgT/status", NULL, "messages", 5));     /* all dispatched */

    /* by offset message id, alone */
    snprintf(path, sizeof path, "/api/messages/%s", first.offset_msg_id);
    cJSON *j = cf_get(&f, path, 200);
    cr_assert_str_eq(rk_json_get_str(j, "body"), "body one");
    cr_assert_str_eq(rk_json_get_str(j, "keys"), "order-1");
    cr_assert_str_eq(rk_json_get_str(j, "msgId"), first.msg_id);
    cJSON_Delete(j);
    /* by message id (UNIQ_KEY), which needs the topic */
    snprintf(path, sizeof path, "/api/messages/%s?topic=MsgT", first.msg_id);
    j = cf_get(&f, path, 200);
    cr_assert_str_eq(rk_json_get_str(j, "offsetMsgId"), first.offset_msg_id);
    cJSON_Delete(j);
    snprintf(path, sizeof path, "/api/messages/%s", first.msg_id);
    cf_error(f.port, "GET", path, NULL, NULL, 404, "topic");
    cf_error(f.port, "GET", "/api/messages/xyz", NULL, NULL, 400, "hex");

    /* by key */
    j = cf_get(&f, "/api/messages?topic=MsgT&key=order-1", 200);
    cr_assert_eq(cf_num(j, "total"), 1);
    cr_assert_str_eq(rk_json_get_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "messages"), 0), "body"),
                     "body one");
    cJSON_Delete(j);

    /* by time, in pages of two: every message once */
    int seen = 0;
    char ids[5][RK_MSGID_MAX];
    for (int page = 0; page < 3; page++) {
        snprintf(path, sizeof path, "/api/messages?topic=MsgT&begin=%" PRId64 "&end=%" PRId64 "&page=%d&pageSize=2",
                 t0, t1, page);
        j = cf_get(&f, path, 200);
        cr_assert_eq(cf_num(j, "total"), 5, "5 messages in the range");
        cJSON *ms = cJSON_GetObjectItemCaseSensitive(j, "messages");
        cr_assert_eq(cJSON_GetArraySize(ms), page < 2 ? 2 : 1);
        for (cJSON *m = ms->child; m; m = m->next) {
            for (int k = 0; k < seen; k++)
                cr_assert_str_neq(ids[k], rk_json_get_str(m, "msgId"), "a message on two pages");
            snprintf(ids[seen++], RK_MSGID_MAX, "%s", rk_json_get_str(m, "msgId"));
        }
        cJSON_Delete(j);
    }
    cr_assert_eq(seen, 5);
    /* a range before anything was sent is empty */
    snprintf(path, sizeof path, "/api/messages?topic=MsgT&begin=1&end=%" PRId64, t0 - 1000);
    j = cf_get(&f, path, 200);
    cr_assert_eq(cf_num(j, "total"), 0);
    cJSON_Delete(j);

    cf_error(f.port, "GET", "/api/messages?topic=MsgT&begin=10&end=5", NULL, NULL, 400, "begin");
    cf_error(f.port, "GET", "/api/messages?topic=MsgT&pageSize=0", NULL, NULL, 400, "pageSize");
    cf_error(f.port, "GET", "/api/messages?topic=MsgT&pageSize=5000", NULL, NULL, 400, "pageSize");
    cf_error(f.port, "GET", "/api/messages?topic=MsgT&page=x", NULL, NULL, 400, "page");
    cf_error(f.port, "GET", "/api/messages?topic=Nope", NULL, NULL, 404, "Nope");
    cf_error(f.port, "GET", "/api/messages", NULL, NULL, 400, "topic");
    cf_stop(&f);
}

Test(api, groups_and_lag)
{
    cfix_t f;
    cf_start(&f, NULL, NULL);
    rk_rc_create_topic(&f.cl, "LagT", 1);
    rk_send_result_t r;
    for (int i = 0; i < 5; i++)
        cf_send(&f, "LagT", NULL, "x", NULL, &r);
    cf_commit_offset(&f, "LagG", "LagT", 0, 2);
    cJSON *j = get_until(&f, "/api/groups/LagG", NULL, "diffTotal", 3);
    cr_assert_eq(cf_num(j, "diffTotal"), 3, "5 sent, 2 consumed");
    cJSON *q = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "queues"), 0);
    cr_assert_str_eq(rk_json_get_str(q, "topic"), "LagT");
    cr_assert_eq(cf_num(q, "brokerOffset"), 5);
    cr_assert_eq(cf_num(q, "consumerOffset"), 2);
    cr_assert_eq(cf_num(q, "diff"), 3);
    cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(j, "consumeTps"));
    cJSON_Delete(j);
    /* it consumed more: the lag drops, and the consume TPS (between two looks) shows it */
    usleep(600000);
    cf_commit_offset(&f, "LagG", "LagT", 0, 5);
    j = cf_get(&f, "/api/groups/LagG", 200);
    cr_assert_eq(cf_num(j, "diffTotal"), 0);
    cr_assert(cf_num(j, "consumeTps") > 0, "3 more consumed since the last look");
    cJSON_Delete(j);
    j = cf_get(&f, "/api/groups", 200);
    bool found = false;
    for (cJSON *g = cJSON_GetObjectItemCaseSensitive(j, "groups")->child; g; g = g->next)
        found |= strcmp(rk_json_get_str(g, "group"), "LagG") == 0;
    cr_assert(found, "LagG is listed");
    cJSON_Delete(j);
    cf_error(f.port, "GET", "/api/groups/NoSuchGroup", NULL, NULL, 404, "NoSuchGroup");
    cf_error(f.port, "GET", "/api/groups/bad%20group", NULL, NULL, 400, "valid");
    cf_error(f.port, "GET", "/api/groups/LagG?broker=1.2.3.4:5", NULL, NULL, 404, "not a broker");
    cf_stop(&f);
}

Test(api, dlq_list_resend_and_trace)
{
    cfix_t f;
    cf_start(&f, NULL, NULL);
    rk_rc_create_topic(&f.cl, "DlqT", 1);
    rk_send_result_t dead, parked;
    cf_send(&f, "DlqT", "dk", "dead letter", NULL, &dead);
    cf_send(&f, "DlqT", "pk", "parked", NULL, &parked);
    cf_send_back(&f, "DlqG", &dead, -1);        /* straight to %DLQ%DlqG */
    cf_send_back(&f, "DlqG", &parked, 0);       /* retry 1: parked in SCHEDULE_TOPIC_XXXX */

    cJSON *j = get_until(&f, "/api/dlq/DlqG", NULL, "nextFrom", 1);
    cJSON *ms = cJSON_GetObjectItemCaseSensitive(j, "messages");
    cr_assert_eq(cJSON_GetArraySize(ms), 1);
    cJSON *m = cJSON_GetArrayItem(ms, 0);
    cr_assert_str_eq(rk_json_get_str(m, "body"), "dead letter");
    cr_assert_str_eq(rk_json_get_str(m, "originTopic"), "DlqT");
    cr_assert_eq(cf_num(j, "nextFrom"), 1);
    char dlq_id[RK_MSGID_MAX];
    snprintf(dlq_id, sizeof dlq_id, "%s", rk_json_get_str(m, "offsetMsgId"));
    cJSON_Delete(j);
    j = cf_get(&f, "/api/dlq/DlqG?from=1", 200);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "messages")), 0, "paged past the end");
    cJSON_Delete(j);

    /* the trace: the original, its dead copy; and for the other, its parked retry */
    char path[300];
    snprintf(path, sizeof path, "/api/messages/%s/trace?topic=DlqT&group=DlqG", dead.msg_id);
    j = cf_get(&f, path, 200);
    cr_assert_str_eq(rk_json_get_str(cJSON_GetObjectItemCaseSensitive(j, "message"), "body"), "dead letter");
    cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "copies"), 0);
    cr_assert_not_null(c, "the dead copy is traced");
    cr_assert_str_eq(rk_json_get_str(c, "stage"), "dlq");
    cJSON_Delete(j);
    snprintf(path, sizeof path, "/api/messages/%s/trace?topic=DlqT&group=DlqG", parked.msg_id);
    j = NULL;
    for (int i = 0; i < 200; i++) {     /* until the parked copy is indexed */
        cJSON_Delete(j);
        j = cf_get(&f, path, 200);
        if ((c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "copies"), 0)) != NULL)
            break;
        usleep(50000);
    }
    cr_assert_not_null(c, "the parked copy is traced");
    cr_assert_str_eq(rk_json_get_str(c, "stage"), "scheduled");
    cr_assert_eq(cf_num(c, "reconsumeTimes"), 1);
    cJSON_Delete(j);
    snprintf(path, sizeof path, "/api/messages/%s/trace?topic=DlqT", parked.msg_id);
    cf_error(f.port, "GET", path, NULL, NULL, 400, "group");

    /* resend one: a copy goes to %RETRY%DlqG */
    cf_error(f.port, "POST", "/api/dlq/DlqG/resend", NULL, "{\"msgId\":\"00AA\"}", 404, "no message");
    cf_error(f.port, "POST", "/api/dlq/DlqG/resend", NULL, "{\"msgId\":\"00AA\",\"all\":true}", 400, "either");
    cf_error(f.port, "POST", "/api/dlq/DlqG/resend", NULL, "{}", 400, "either");
    char body[200];
    snprintf(body, sizeof body, "{\"msgId\":\"%s\"}", dlq_id);
    j = cf_call(f.port, "POST", "/api/dlq/DlqG/resend", NULL, body, 200);
    cr_assert_eq(cf_num(j, "resent"), 1);
    cJSON_Delete(j);
    j = get_until(&f, "/api/topics/%25RETRY%25DlqG/status", NULL, "messages", 1);
    cr_assert_eq(cf_num(j, "messages"), 1, "the resent copy is in the retry topic");
    cJSON_Delete(j);
    j = cf_call(f.port, "POST", "/api/dlq/DlqG/resend", NULL, "{\"all\":true}", 200);
    cr_assert_eq(cf_num(j, "resent"), 1);
    cJSON_Delete(j);
    cf_error(f.port, "GET", "/api/dlq/NoDeadGroup", NULL, NULL, 404, "no readable queue");
    cf_error(f.port, "GET", "/api/dlq/DlqG?limit=0", NULL, NULL, 400, "limit");
    cf_stop(&f);
}

Test(api, delayed_pending_per_level)
{
    cfix_t f;
    cf_start(&f, NULL, NULL);
    rk_rc_create_topic(&f.cl, "DelayT", 1);
    rk_send_result_t r;
    char props[32];
    snprintf(props, sizeof props, "%s\001%s", RK_PROP_DELAY, "5");      /* level 5: one minute */
    cf_send(&f, "DelayT", NULL, "later", props, &r);
    cf_send(&f, "DelayT", NULL, "later", props, &r);
    cJSON *j = get_until(&f, "/api/delayed", "brokers", "pending", 2);
    cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "brokers"), 0);
    cr_assert_eq(cf_num(b, "pending"), 2);
    bool level5 = false;
    for (cJSON *l = cJSON_GetObjectItemCaseSensitive(b, "levels")->child; l; l = l->next)
        if (cf_num(l, "level") == 5)
            level5 = cf_num(l, "pending") == 2;
    cr_assert(level5, "both wait at level 5");
    cJSON_Delete(j);
    cf_stop(&f);
}
