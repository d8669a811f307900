/* mqadmin_retry.c — chapter 9's mqadmin commands (rk/mqadmin_retry.h): the dead-letter queue's
 * queryDlqMsg and resendMsgFromDLQ, and the lines queryMsgById adds for a retried message. In the
 * library so that later chapters' mqadmin list them too; tools/mqadmin.c is the thin main. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/consumer.h"
#include "rk/error.h"
#include "rk/mqadmin.h"
#include "rk/dlq.h"
#include "rk/mqadmin_retry.h"
#include "rk/producer.h"
#include "rk/retry.h"

typedef struct dlq_opts {
    const char *ns, *group, *id;
    bool all;
    int64_t count, from;
} dlq_opts_t;

static int parse(int argc, char **argv, const char *flags, dlq_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->count = INT64_MAX;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt(argc, argv, flags)) != -1) {
        switch (c) {
        case 'n': o->ns = optarg; break;
        case 'g': o->group = optarg; break;
        case 'i': o->id = optarg; break;
        case 'a': o->all = true; break;
        case 'c': if (!rk_tool_int("-c", optarg, 1, INT64_MAX, &o->count)) return 2; break;
        case 'o': if (!rk_tool_int("-o", optarg, 0, INT64_MAX, &o->from)) return 2; break;
        default:
            fprintf(stderr, "%s: unknown option -%c\n", argv[0], optopt);
            return 2;
        }
    }
    if ((o->ns = rk_mqadmin_namesrv(argv[0], o->ns)) == NULL)
        return 2;
    if (o->group == NULL || !*o->group) {
        fprintf(stderr, "%s: -g GROUP is required\n", argv[0]);
        return 2;
    }
    return 0;
}


/* Calls fn for every message of %DLQ%group from queue offset `from` (at most `max`); returns
 * the exit status. */
static int each_dlq_message(const dlq_opts_t *o, const char *cmd, int64_t from, int64_t max, rk_dlq_visit_fn fn,
                            void *ctx)
{
    char err[512] = "";
    rk_dlq_client_t who = {.namesrv = o->ns, .access_key = rk_mqadmin_access_key(), .secret_key = rk_mqadmin_secret_key()};
    int rc = rk_dlq_each(&who, o->group, from, max, fn, ctx, NULL, err, sizeof err);
    if (rc != RK_OK && err[0])
        fprintf(stderr, "%s: %s\n", cmd, err);
    return rc == RK_OK ? 0 : 1;
}

static void prop(const rk_msg_ext_t *m, const char *key, char *buf, size_t len)
{
    if (rk_msg_prop(m, key, buf, len) != RK_OK)
        snprintf(buf, len, "-");
}

static int print_one(void *ctx, const rk_msg_ext_t *m)
{
    int64_t *n = ctx;
    char topic[RK_NAME_MAX], origin[128];
    prop(m, RK_PROP_RETRY_TOPIC, topic, sizeof topic);
    prop(m, RK_PROP_ORIGIN_MESSAGE_ID, origin, sizeof origin);
    printf("queue %d offset %" PRId64 " OffsetID %s MsgId %s origin %s topic %s reconsumed %d tags [%s] keys [%s]: "
           "%.*s\n", m->queue_id, m->queue_offset, m->offset_msg_id, m->msg_id, origin, topic, m->reconsume_times,
           m->tags, m->keys, (int)(m->body_len > 200 ? 200 : m->body_len), (const char *)m->body);
    (*n)++;
    return 0;
}

static int cmd_query_dlq(int argc, char **argv)
{
    dlq_opts_t o;
    int rc = parse(argc, argv, "n:g:c:", &o);
    if (rc != 0)
        return rc;
    int64_t n = 0;
    rc = each_dlq_message(&o, argv[0], 0, o.count, print_one, &n);
    fprintf(stderr, "queryDlqMsg: %" PRId64 " message(s) in %s%s\n", n, RK_DLQ_PREFIX, o.group);
    return rc;
}

typedef struct resend_ctx {
    const dlq_opts_t *o;
    rk_producer_t *p;
    char retry[RK_NAME_MAX];
    int64_t sent;
} resend_ctx_t;

static int resend_one(void *arg, const rk_msg_ext_t *m)
{
    resend_ctx_t *x = arg;
    if (x->o->id != NULL && strcmp(x->o->id, m->offset_msg_id) != 0 && strcmp(x->o->id, m->msg_id) != 0)
        return 0;
    rk_send_result_t r;
    int rc = rk_dlq_resend(x->p, x->o->group, m, &r);
    if (rc == RK_ENOTFOUND) {
        fprintf(stderr, "resendMsgFromDLQ: %s has no RETRY_TOPIC; skipped\n", m->offset_msg_id);
        return 0;
    }
    if (rc != RK_OK) {
        fprintf(stderr, "resendMsgFromDLQ: sending %s to %s failed: %s\n", m->offset_msg_id, x->retry,
                r.error[0] ? r.error : rk_strerror(rc));
        return 1;
    }
    char topic[RK_NAME_MAX];
    if (rk_msg_prop(m, RK_PROP_RETRY_TOPIC, topic, sizeof topic) != RK_OK)
        topic[0] = 0;
    printf("resent %s (origin topic %s) to %s: %s\n", m->offset_msg_id, topic, x->retry, r.offset_msg_id);
    x->sent++;
    return 0;
}

static int cmd_resend(int argc, char **argv)
{
    dlq_opts_t o;
    int rc = parse(argc, argv, "n:g:i:ao:", &o);
    if (rc != 0)
        return rc;
    if ((o.id == NULL) == !o.all) {
        fprintf(stderr, "resendMsgFromDLQ: give either -i MSG_ID or -a (all)\n");
        return 2;
    }
    resend_ctx_t x = {.o = &o};
    snprintf(x.retry, sizeof x.retry, "%s%s", RK_RETRY_PREFIX, o.group);
    rk_producer_config_t pc = {.namesrv = o.ns, .group = "TOOLS_PRODUCER", .instance_name = "mqadmin",
                               .access_key = rk_mqadmin_access_key(), .secret_key = rk_mqadmin_secret_key()};
    if (rk_producer_new(&pc, &x.p) != RK_OK) {
        fprintf(stderr, "resendMsgFromDLQ: bad name server list %s\n", o.ns);
        return 1;
    }
    rc = each_dlq_message(&o, argv[0], o.from, INT64_MAX, resend_one, &x);
    rk_producer_free(x.p);
    fprintf(stderr, "resendMsgFromDLQ: %" PRId64 " message(s) resent to %s\n", x.sent, x.retry);
    if (rc == 0 && o.id != NULL && x.sent == 0) {
        fprintf(stderr, "resendMsgFromDLQ: no message %s in %s%s\n", o.id, RK_DLQ_PREFIX, o.group);
        return 1;
    }
    return rc;
}

/* queryMsgById's extra lines for a message that was retried (a %RETRY% copy, a parked retry in
 * SCHEDULE_TOPIC_XXXX, a dead letter): the topic it was first sent to and the offset id of
 * that first copy, from its RETRY_TOPIC and ORIGIN_MESSAGE_ID properties, which RocketMQ's
 * queryMsgById shows only inside Properties. */
void rk_mqadmin_retry_lines(const rk_msg_ext_t *m)
{
    char v[RK_NAME_MAX > 128 ? RK_NAME_MAX : 128];
    if (rk_msg_prop(m, RK_PROP_RETRY_TOPIC, v, sizeof v) == RK_OK)
        rk_mqadmin_print_field("Original Topic:", v);
    if (rk_msg_prop(m, RK_PROP_ORIGIN_MESSAGE_ID, v, sizeof v) == RK_OK)
        rk_mqadmin_print_field("Origin Message ID:", v);
}

const rk_tool_cmd_t rk_mqadmin_cmds_ch09[] = {
    {"queryDlqMsg", "-n NS -g GROUP [-c COUNT]", "the messages in a group's dead-letter queue", cmd_query_dlq},
    {"resendMsgFromDLQ", "-n NS -g GROUP (-i MSG_ID | -a) [-o FROM_OFFSET]",
     "give dead-letter messages back to the group (through its retry topic)", cmd_resend},
    {NULL, NULL, NULL, NULL},
};
