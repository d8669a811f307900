/* tk_send.c — see rk/tk_send.h. */
#include "rk/tk_send.h"

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
