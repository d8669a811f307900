/* cfix.c — see cfix.h. */
#include "cfix.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rk/error.h"
#include "rk/message.h"
#include "rk/request_code.h"
#include "rk/json.h"
#include "rk/testkit.h"

pid_t cf_console(cfix_t *f, const char *tag, const char *console_extra, int *port)
{
    pid_t pid = ck_console_start(rk_tk_bin("mqconsole"), f->cl.dir, tag, f->cl.ns, console_extra, port);
    cr_assert(pid > 0, "mqconsole did not start (see %s/%s.log)", f->cl.dir, tag);
    return pid;
}

void cf_start(cfix_t *f, const char *broker_extra, const char *console_extra)
{
    memset(f, 0, sizeof *f);
    f->cs_pid = -1;
    rk_rc_start_bin(&f->cl, CF_BROKER_BIN, broker_extra);
    f->cs_pid = cf_console(f, "console", console_extra, &f->port);
}

void cf_stop(cfix_t *f)
{
    if (f->cs_pid > 0)
        rk_tk_stop(f->cs_pid, 10000);
    f->cs_pid = -1;
    rk_rc_stop(&f->cl);
}

cJSON *cf_call(int port, const char *method, const char *target, const char *headers, const char *body, int want)
{
    ck_resp_t r;
    cr_assert_eq(ck_http(port, method, target, headers, body, &r), 0, "%s %s: no answer", method, target);
    cr_assert_eq(r.status, want, "%s %s: status %d, wanted %d: %s", method, target, r.status, want, r.body);
    cJSON *j = rk_json_parse(r.body, r.len);
    cr_assert_not_null(j, "%s %s: the answer is not JSON: %s", method, target, r.body);
    ck_resp_free(&r);
    return j;
}

cJSON *cf_get(cfix_t *f, const char *target, int want)
{
    return cf_call(f->port, "GET", target, NULL, NULL, want);
}

cJSON *cf_try_get(cfix_t *f, const char *target, int *status)
{
    ck_resp_t r;
    *status = 0;
    if (ck_http(f->port, "GET", target, NULL, NULL, &r) != 0)
        return NULL;
    *status = r.status;
    cJSON *j = r.status == 200 ? rk_json_parse(r.body, r.len) : NULL;
    ck_resp_free(&r);
    return j;
}

void cf_error(int port, const char *method, const char *target, const char *headers, const char *body, int want,
              const char *has)
{
    cJSON *j = cf_call(port, method, target, headers, body, want);
    const char *e = rk_json_get_str(j, "error");
    cr_assert(e != NULL && *e, "%s %s: no error message", method, target);
    if (has != NULL)
        cr_assert(strstr(e, has) != NULL, "%s %s: error \"%s\" does not say \"%s\"", method, target, e, has);
    cJSON_Delete(j);
}

void cf_send(cfix_t *f, const char *topic, const char *keys, const char *body, const char *props,
             rk_send_result_t *r)
{
    rk_producer_config_t cfg = {.namesrv = f->cl.ns, .group = "cfix_producer", .instance_name = "cfix"};
    rk_producer_t *p;
    cr_assert_eq(rk_producer_new(&cfg, &p), RK_OK);
    rk_message_t m = {.topic = topic, .keys = keys, .body = body, .body_len = strlen(body),
                      .props = props, .props_len = props ? strlen(props) : 0};
    int rc = rk_producer_send(p, &m, r);
    cr_assert_eq(rc, RK_OK, "send to %s: %s", topic, r->error);
    rk_producer_free(p);
}

double cf_num(cJSON *j, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    cr_assert(cJSON_IsNumber(v), "no number %s", key);
    return v->valuedouble;
}

void cf_commit_offset(cfix_t *f, const char *group, const char *topic, int qid, int64_t off)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_UPDATE_CONSUMER_OFFSET);
    rk_cmd_ext_set(req, "consumerGroup", group);
    rk_cmd_ext_set(req, "topic", topic);
    rk_cmd_ext_set_i64(req, "queueId", qid);
    rk_cmd_ext_set_i64(req, "commitOffset", off);
    rk_cmd_t *resp = rk_rc_call(f->cl.br, req);
    cr_assert(resp != NULL && resp->code == 0, "commit offset failed");
    rk_cmd_free(resp);
}

/* What a consumer does with a message it gave up on: CONSUMER_SEND_MSG_BACK; delay level -1
 * sends it straight to the group's DLQ, 0 into the retry path. */
void cf_send_back(cfix_t *f, const char *group, const rk_send_result_t *sent, int delay_level)
{
    rk_host_t host;
    int64_t phys;
    cr_assert_eq(rk_msgid_decode(sent->offset_msg_id, &host, &phys), 0);
    rk_cmd_t *req = rk_cmd_new(RK_REQ_CONSUMER_SEND_MSG_BACK);
    rk_cmd_ext_set_i64(req, "offset", phys);
    rk_cmd_ext_set(req, "group", group);
    rk_cmd_ext_set_i64(req, "delayLevel", delay_level);
    rk_cmd_ext_set(req, "originMsgId", sent->msg_id);
    rk_cmd_ext_set(req, "originTopic", sent->mq.topic);
    rk_cmd_ext_set(req, "maxReconsumeTimes", "16");
    rk_cmd_t *resp = rk_rc_call(f->cl.br, req);
    cr_assert(resp != NULL && resp->code == 0, "send back failed: %s", resp && resp->remark ? resp->remark : "");
    rk_cmd_free(resp);
}
