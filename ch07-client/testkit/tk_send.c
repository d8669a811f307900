/* tk_send.c — see rk/tk_send.h. */
#include "rk/tk_send.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/mqclient.h"
#include "rk/request_code.h"

rk_cmd_t *rk_tk_send_request(const rk_tk_send_spec_t *s)
{
    char last = s->last ? s->last : 'k';
    if (s->topic == NULL || last < 'a' || last > 'k')
        return NULL;
    char queues[16], qid[16], flag[16], born[24];
    snprintf(queues, sizeof queues, "%d", s->queues ? s->queues : 4);
    snprintf(qid, sizeof qid, "%d", s->queue_id);
    snprintf(flag, sizeof flag, "%d", s->sys_flag);
    snprintf(born, sizeof born, "%lld", (long long)rk_now_ms());
    const char *value[] = {s->group ? s->group : "pg", s->topic, "TBW102", queues, qid, flag,
                           s->born ? s->born : born, "0", s->props ? s->props : "", "0", "false"};
    int32_t code = s->code ? s->code : RK_REQ_SEND_MESSAGE_V2;
    rk_cmd_t *req = s->binary ? rk_mqclient_request(code) : rk_cmd_new(code);
    if (req == NULL)
        return NULL;
    int rc = RK_OK;
    for (char k = 'a'; k <= last && rc == RK_OK; k++)
        rc = rk_cmd_ext_add(req, (char[]){k, '\0'}, value[k - 'a']);
    size_t len = s->len == 0 && s->body != NULL ? strlen(s->body) : s->len;
    if (rc == RK_OK && len > 0)
        rc = rk_cmd_set_body(req, s->body, len);
    if (rc != RK_OK) {
        rk_cmd_free(req);
        return NULL;
    }
    return req;
}

/* Whether name is one of the space-separated words of list. */
static bool is_word_of(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list + strspn(list, " "); *p != '\0'; p += strspn(p, " ")) {
        size_t w = strcspn(p, " ");
        if (w == n && memcmp(p, name, n) == 0)
            return true;
        p += w;
    }
    return false;
}

rk_cmd_t *rk_tk_pull_request(const rk_tk_pull_spec_t *s)
{
    enum { N = 11 };
    static const char *const name[N] = {"consumerGroup", "topic", "queueId", "queueOffset", "maxMsgNums",
                                        "sysFlag", "commitOffset", "suspendTimeoutMillis", "subscription",
                                        "subVersion", "expressionType"};
    const char *omit = s->omit ? s->omit : "";
    size_t words = 0, known = 0;
    for (const char *p = omit + strspn(omit, " "); *p != '\0'; p += strspn(p, " ")) {
        words++;
        p += strcspn(p, " ");
    }
    for (int i = 0; i < N; i++)
        known += is_word_of(omit, name[i]);
    if (s->topic == NULL || known != words)
        return NULL;
    char qid[24], off[24], max[24], flag[24], commit[24], suspend[24], subv[24];
    snprintf(qid, sizeof qid, "%d", s->queue_id);
    snprintf(off, sizeof off, "%" PRId64, s->offset);
    snprintf(max, sizeof max, "%d", s->max ? s->max : 32);
    snprintf(flag, sizeof flag, "%d", s->sys_flag);
    snprintf(commit, sizeof commit, "%" PRId64, s->commit_offset);
    snprintf(suspend, sizeof suspend, "%" PRId64, s->suspend_ms);
    snprintf(subv, sizeof subv, "%" PRId64, s->sub_version);
    const char *value[N] = {s->group ? s->group : "cg", s->topic, qid, off, max, flag, commit, suspend,
                            s->sub ? s->sub : "*", subv, s->expr};
    rk_cmd_t *req = s->binary ? rk_mqclient_request(RK_REQ_PULL_MESSAGE) : rk_cmd_new(RK_REQ_PULL_MESSAGE);
    if (req == NULL)
        return NULL;
    int rc = RK_OK;
    for (int i = 0; i < N && rc == RK_OK; i++)
        if (value[i] != NULL && !is_word_of(omit, name[i]))
            rc = rk_cmd_ext_add(req, name[i], value[i]);
    if (rc != RK_OK) {
        rk_cmd_free(req);
        return NULL;
    }
    return req;
}
