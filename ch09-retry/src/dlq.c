/* dlq.c — see rk/dlq.h. */
#include "rk/dlq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/consumer.h"
#include "rk/error.h"
#include "rk/retry.h"

int rk_dlq_each(const rk_dlq_client_t *who, const char *group, int64_t from, int64_t max, rk_dlq_visit_fn fn,
                void *ctx, int64_t *next, char *err, size_t errlen)
{
    const char *namesrv = who->namesrv;
    char dlq[RK_NAME_MAX];
    snprintf(dlq, sizeof dlq, "%s%s", RK_DLQ_PREFIX, group);
    if (next != NULL)
        *next = from;
    rk_pull_consumer_config_t cfg = {.namesrv = namesrv, .group = "TOOLS_CONSUMER", .instance_name = "mqadmin",
                                     .access_key = who->access_key, .secret_key = who->secret_key};
    rk_pull_consumer_t *pc;
    int rc = rk_pull_consumer_new(&cfg, &pc);
    if (rc != RK_OK) {
        snprintf(err, errlen, "bad name server list %s", namesrv);
        return rc;
    }
    rk_mq_t *qs = NULL;
    size_t nq = 0;
    rc = rk_pull_consumer_queues(pc, dlq, &qs, &nq);
    if (rc != RK_OK || nq == 0) {
        snprintf(err, errlen, "%s has no readable queue (%s): no message of group %s reached the DLQ, or the DLQ is "
                 "write-only (a client's own send past the maximum creates it so; give it read permission with "
                 "updateTopic -p 6)", dlq, rc != RK_OK ? rk_strerror(rc) : "none", group);
        rk_pull_consumer_free(pc);
        free(qs);
        return RK_ENOTFOUND;
    }
    int64_t seen = 0;
    int status = 0;
    for (size_t q = 0; q < nq && seen < max && status == 0; q++) {
        int64_t off = from;
        while (seen < max && status == 0) {
            rk_pull_result_t r;
            rc = rk_pull_consumer_pull(pc, &qs[q], "*", off, 32, 0, &r);
            if (rc != RK_OK) {
                snprintf(err, errlen, "pulling %s queue %d: %s", dlq, qs[q].queue_id,
                         r.error[0] ? r.error : rk_strerror(rc));
                status = rc;
                break;
            }
            if (r.status == RK_PULL_OFFSET_ILLEGAL && r.next_offset > off) {
                off = r.next_offset;
                continue;
            }
            if (r.status != RK_PULL_FOUND) {
                rk_pull_result_free(&r);
                break;
            }
            size_t i = 0;
            for (; i < r.msgs->n && seen < max && status == 0; i++, seen++) {
                status = fn(ctx, &r.msgs->msgs[i]);
                off = r.msgs->msgs[i].queue_offset + 1;
            }
            if (i == r.msgs->n)
                off = r.next_offset;
            rk_pull_result_free(&r);
        }
        if (next != NULL)
            *next = off;
    }
    free(qs);
    rk_pull_consumer_free(pc);
    return status;
}

int rk_dlq_resend(rk_producer_t *p, const char *group, const rk_msg_ext_t *m, rk_send_result_t *r)
{
    memset(r, 0, sizeof *r);
    char topic[RK_NAME_MAX], retry[RK_NAME_MAX];
    if (rk_msg_prop(m, RK_PROP_RETRY_TOPIC, topic, sizeof topic) != RK_OK) {
        snprintf(r->error, sizeof r->error, "%s has no RETRY_TOPIC", m->offset_msg_id);
        return RK_ENOTFOUND;
    }
    snprintf(retry, sizeof retry, "%s%s", RK_RETRY_PREFIX, group);
    /* its own properties, without what the retry path sets again or the store adds */
    static const char *const drop[] = {RK_PROP_RETRY_TOPIC, RK_PROP_DELAY, RK_PROP_REAL_TOPIC, RK_PROP_REAL_QID,
                                       RK_PROP_RECONSUME_TIME, RK_PROP_MAX_RECONSUME_TIMES, RK_PROP_UNIQ_KEY,
                                       RK_PROP_WAIT, RK_PROP_CLUSTER, NULL};
    rk_buf_t props = {0};
    rk_props_copy_without_any(&props, m->props, m->props_len, drop);
    rk_props_put(&props, RK_PROP_RETRY_TOPIC, topic);
    int rc;
    if (props.err != 0) {
        snprintf(r->error, sizeof r->error, "out of memory");
        rc = RK_ENOMEM;
    } else {
        rk_message_t msg = {.topic = retry, .body = m->body, .body_len = m->body_len, .flag = m->flag,
                            .props = (const char *)props.data, .props_len = props.len};
        rc = rk_producer_send(p, &msg, r);
    }
    rk_buf_free(&props);
    return rc;
}
