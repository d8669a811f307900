/* delay_admin.c — chapter 10's mqadmin commands: sendMessage with a delay, delayProgress
 * (rk/delay_admin.h). */
#include "rk/delay_admin.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/clock.h"
#include "rk/config.h"
#include "rk/delay_client.h"
#include "rk/error.h"
#include "rk/json.h"
#include "rk/request_code.h"
#include "rk/schedule.h"

#define REQ_GET_ALL_DELAY_OFFSET 45     /* RequestCode.GET_ALL_DELAY_OFFSET: delayOffset.json's text */

/* ---------------------------------------------------------------- sendMessage -d / -T */

typedef struct send_delay {
    rk_delay_t d;
    const char *level_arg, *when_arg;
    bool ons;
    int64_t deliver_ms;
} send_delay_t;

static int delay_option(void *ctx, int letter, const char *arg)
{
    send_delay_t *x = ctx;
    if (letter == 'd')
        x->level_arg = arg;
    else if (letter == 'T')
        x->when_arg = arg;
    else if (letter == 'O')
        x->ons = true;
    return 0;
}

static int delay_prepare(void *ctx, rk_message_t *m, rk_buf_t *props)
{
    send_delay_t *x = ctx;
    if (x->level_arg != NULL && x->when_arg != NULL) {
        fprintf(stderr, "sendMessage: give a delay level (-d) or a delivery time (-T), not both\n");
        return 2;
    }
    if (x->ons && x->when_arg == NULL) {
        fprintf(stderr, "sendMessage: -O names the property of a delivery time: give -T too\n");
        return 2;
    }
    x->d.style = x->ons ? RK_DELIVER_ONS : RK_DELIVER_TIMER;
    if (x->level_arg != NULL) {
        x->d.kind = RK_DELAY_LEVEL;
        if (rk_parse_int(x->level_arg, &x->d.value) != RK_OK) {
            fprintf(stderr, "sendMessage: -d %s: a delay level is a number (1..%d)\n", x->level_arg,
                    RK_DELAY_LEVELS_RMQ);
            return 2;
        }
    } else if (x->when_arg != NULL) {
        /* both become an absolute time here, so the property is TIMER_DELIVER_MS (or ONS') */
        x->d.kind = RK_DELAY_AT;
        int64_t ms;
        if (x->when_arg[0] == '+') {
            if (rk_delay_parse_duration(x->when_arg + 1, &ms) != RK_OK) {
                fprintf(stderr, "sendMessage: -T %s: give +N with a unit (ms, s, m, h, d), e.g. +30s\n",
                        x->when_arg);
                return 2;
            }
            int64_t now = rk_now_ms();
            x->d.value = ms > INT64_MAX - now ? INT64_MAX : now + ms;     /* refused below as too far */
        } else if (rk_parse_int(x->when_arg, &x->d.value) != RK_OK) {
            fprintf(stderr, "sendMessage: -T %s: give ms since 1970 or +DURATION (e.g. +30s)\n", x->when_arg);
            return 2;
        }
    } else {
        return 0;                           /* no delay: chapter 7's sendMessage */
    }
    char err[256];
    int rc = rk_delay_apply(m, &x->d, props, m, &x->deliver_ms, err, sizeof err);
    if (rc != RK_OK) {
        fprintf(stderr, "sendMessage: %s; nothing sent\n", rc == RK_ENOMEM ? "out of memory" : err);
        return rc == RK_EINVAL ? 2 : 1;
    }
    return 0;
}

static void delay_sent(void *ctx, const rk_send_result_t *r)
{
    (void)r;
    send_delay_t *x = ctx;
    char t[40];
    if (x->d.kind == RK_DELAY_LEVEL)
        printf("%-20s level %" PRId64 " (%s=%" PRId64 "; the broker's messageDelayLevel says how long)\n", "Delay:",
               x->d.value, RK_PROP_DELAY, x->d.value);
    else if (x->d.kind == RK_DELAY_AT)
        printf("%-20s %s (%s=%" PRId64 ")\n", "Deliver At:", rk_format_ms(x->deliver_ms, t, sizeof t),
               x->ons ? RK_PROP_START_DELIVER_TIME : RK_PROP_TIMER_DELIVER_MS, x->deliver_ms);
}

static int cmd_send_delayed(int argc, char **argv)
{
    send_delay_t x = {0};
    rk_mqadmin_send_ext_t ext = {.flags = "d:T:O", .option = delay_option, .prepare = delay_prepare,
                                 .sent = delay_sent, .ctx = &x};
    return rk_mqadmin_send(argc, argv, &ext);
}

/* ---------------------------------------------------------------- delayProgress */

typedef struct progress_opts {
    const char *ns, *broker, *levels;
    int64_t delay[RK_DELAY_LEVEL_MAX];
    int nlevels;
} progress_opts_t;

static int64_t max_offset(rk_mqclient_t *c, const char *addr, int qid)
{
    rk_cmd_t *req = rk_mqclient_request(RK_REQ_GET_MAX_OFFSET);
    rk_cmd_ext_set(req, "topic", RK_SCHEDULE_TOPIC);
    rk_cmd_ext_set_i64(req, "queueId", qid);
    rk_cmd_t *resp = NULL;
    int64_t off = -1;
    if (rk_mqclient_invoke(c, addr, req, &resp) == RK_OK && resp->code == RK_RESP_SUCCESS) {
        const char *v = rk_cmd_ext_get(resp, "offset");
        if (v == NULL || rk_parse_int(v, &off) != RK_OK || off < 0)
            off = -1;
    }
    rk_cmd_free(resp);
    return off;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The broker's runtime fields about delays, sorted: schedule* (RocketMQ's scheduleMessageOffset_N,
 * "delivered,max" per level) and timer* (the timer's, as RocketMQ 5 names them). */
static void print_delay_fields(rk_mqclient_t *c, const char *addr)
{
    cJSON *rt = rk_mqadmin_ask_json(c, addr, rk_mqclient_request(RK_REQ_GET_BROKER_RUNTIME_INFO),
                                    "GET_BROKER_RUNTIME_INFO");
    cJSON *kv = cJSON_GetObjectItemCaseSensitive(rt, "table");
    size_t n = 0;
    for (cJSON *e = kv ? kv->child : NULL; e; e = e->next)
        n++;
    const char **keys = n ? calloc(n, sizeof *keys) : NULL;
    size_t k = 0;
    for (cJSON *e = kv ? kv->child : NULL; keys && e; e = e->next)
        if (e->string && (strncmp(e->string, "timer", 5) == 0 || strncmp(e->string, "schedule", 8) == 0))
            keys[k++] = e->string;
    if (k > 0) {
        qsort(keys, k, sizeof *keys, cmp_str);
        printf("Runtime fields about delays:\n");
        for (size_t i = 0; i < k; i++)
            printf("  %-32s: %s\n", keys[i], rk_json_get_str(kv, keys[i]) ? rk_json_get_str(kv, keys[i]) : "-");
    }
    free(keys);
    cJSON_Delete(rt);
}

/* One broker's levels; returns 0 or 1. */
static int progress_of(rk_mqclient_t *c, const progress_opts_t *o, const char *name, const char *addr)
{
    cJSON *j = rk_mqadmin_ask_json(c, addr, rk_mqclient_request(REQ_GET_ALL_DELAY_OFFSET), "GET_ALL_DELAY_OFFSET");
    if (j == NULL) {
        fprintf(stderr, "delayProgress: broker %s (%s) does not tell its delay offsets (a broker before "
                "chapter 9?)\n", name, addr);
        return 1;
    }
    /* the levels are the keys of offsetTable (the broker writes every level it has) */
    int64_t done[RK_DELAY_LEVEL_MAX + 1];
    int top = 0;
    for (int i = 0; i <= RK_DELAY_LEVEL_MAX; i++)
        done[i] = -1;
    const cJSON *table = cJSON_GetObjectItemCaseSensitive(j, "offsetTable");
    for (const cJSON *it = table ? table->child : NULL; it; it = it->next) {
        int64_t level, v;
        if (it->string == NULL || rk_parse_int(it->string, &level) != RK_OK || level < 1 ||
            level > RK_DELAY_LEVEL_MAX || !cJSON_IsNumber(it) || (v = (int64_t)it->valuedouble) < 0)
            continue;
        done[level] = v;
        if (level > top)
            top = (int)level;
    }
    cJSON_Delete(j);
    bool named = o->levels != NULL || top == RK_DELAY_LEVELS_RMQ;
    if (o->levels != NULL && o->nlevels != top)
        fprintf(stderr, "delayProgress: -L lists %d levels, broker %s has %d: is it the broker's messageDelayLevel?\n",
                o->nlevels, name, top);
    printf("Broker %s (%s): %d delay levels%s\n", name, addr, top,
           named ? "" : " (their delays unknown here: give the broker's messageDelayLevel with -L)");
    printf("%-6s  %-8s  %-18s  %-12s  %-9s  %s\n", "#Level", "#Delay", "#Delivered Offset", "#Max Offset",
           "#Pending", "#Oldest Due By");
    int64_t now = rk_now_ms(), total = 0;
    for (int level = 1; level <= top; level++) {
        int64_t max = max_offset(c, addr, level - 1);
        int64_t delay = named && level <= o->nlevels ? o->delay[level - 1] : -1;
        int64_t pending = max >= 0 && done[level] >= 0 && max > done[level] ? max - done[level] : 0;
        char d[32], due[40];
        if (pending > 0 && delay > 0)
            rk_format_ms(now + delay, due, sizeof due);
        else
            snprintf(due, sizeof due, "-");
        char maxs[24];
        if (max >= 0)
            snprintf(maxs, sizeof maxs, "%" PRId64, max);
        else
            snprintf(maxs, sizeof maxs, "?");
        printf("%-6d  %-8s  %-18" PRId64 "  %-12s  %-9" PRId64 "  %s\n", level,
               delay > 0 ? rk_delay_format(delay, d, sizeof d) : "-",
               done[level] < 0 ? 0 : done[level], maxs, pending, due);
        total += pending;
    }
    printf("Pending Total: %" PRId64 "\n", total);
    print_delay_fields(c, addr);
    return 0;
}

static int cmd_delay_progress(int argc, char **argv)
{
    progress_opts_t o = {0};
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt(argc, argv, "n:b:L:")) != -1) {
        switch (ch) {
        case 'n': o.ns = optarg; break;
        case 'b': o.broker = optarg; break;
        case 'L': o.levels = optarg; break;
        default:
            fprintf(stderr, "%s: unknown option -%c\n", argv[0], optopt);
            return 2;
        }
    }
    if ((o.ns = rk_mqadmin_namesrv(argv[0], o.ns)) == NULL)
        return 2;
    o.nlevels = rk_delay_levels_parse(o.levels ? o.levels : RK_DELAY_LEVELS_DEFAULT, o.delay, RK_DELAY_LEVEL_MAX);
    if (o.nlevels < 1) {
        fprintf(stderr, "%s: -L \"%s\": give the delays as the broker's messageDelayLevel does (\"1s 5s 1m 2h\")\n",
                argv[0], o.levels);
        return 2;
    }
    rk_mqclient_config_t cfg = {.namesrv = o.ns, .instance_name = "mqadmin", .access_key = rk_mqadmin_access_key(),
                                .secret_key = rk_mqadmin_secret_key()};
    rk_mqclient_t *c = NULL;
    int rc = rk_mqclient_new(&cfg, &c);
    if (rc != RK_OK) {
        fprintf(stderr, "%s: bad name server list %s: %s\n", argv[0], o.ns, rk_strerror(rc));
        return 1;
    }
    int status = 0;
    if (o.broker != NULL) {
        status = progress_of(c, &o, o.broker, o.broker);
    } else {
        /* every master the name servers know (delays are delivered by masters only) */
        cJSON *info = rk_mqadmin_ask_json(c, NULL, rk_mqclient_request(RK_REQ_GET_BROKER_CLUSTER_INFO),
                                          "GET_BROKER_CLUSTER_INFO");
        cJSON *table = cJSON_GetObjectItemCaseSensitive(info, "brokerAddrTable");
        int seen = 0;
        for (cJSON *bd = table ? table->child : NULL; bd; bd = bd->next) {
            const char *addr = rk_json_get_str(cJSON_GetObjectItemCaseSensitive(bd, "brokerAddrs"), "0");
            if (addr == NULL || bd->string == NULL)
                continue;
            if (seen++)
                printf("\n");
            status |= progress_of(c, &o, bd->string, addr);
        }
        if (info != NULL && seen == 0)
            fprintf(stderr, "%s: the name servers know no master\n", argv[0]);
        if (info == NULL || seen == 0)
            status = 1;
        cJSON_Delete(info);
    }
    rk_mqclient_free(c);
    return status;
}

const rk_tool_cmd_t rk_mqadmin_cmds_ch10[] = {
    {"sendMessage", "-n NS -t TOPIC -p BODY [-c TAGS] [-k KEYS] [-d LEVEL | -T (MS_SINCE_1970 | +DURATION) [-O]]",
     "send one message, now or later (-d delay level, -T delivery time; -O: ali-ons' __STARTDELIVERTIME)",
     cmd_send_delayed},
    {"delayProgress", "-n NS [-b BROKER_ADDR] [-L LEVELS]",
     "per delay level: delivered offset, max offset, pending, when the oldest is due at the latest", cmd_delay_progress},
    {NULL, NULL, NULL, NULL},
};
