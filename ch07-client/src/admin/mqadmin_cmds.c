/* mqadmin_cmds.c — mqadmin's chapter 7 commands (see rk/mqadmin.h): topics, routes,
 * clusters, broker and consumer figures, message lookup, send and consume.
 * Sub-commands and flags keep RocketMQ's names (`mqadmin topicStatus -n
 * 127.0.0.1:9876 -t T`); -n may also come from $NAMESRV_ADDR. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rk/cluster_view.h"
#include "rk/consumer.h"
#include "rk/error.h"
#include "rk/json.h"
#include "rk/log.h"
#include "rk/mqadmin.h"
#include "rk/mqclient.h"
#include "rk/producer.h"
#include "rk/request_code.h"
#include "rk/tool.h"

#include "mqadmin_int.h"

/* The options every sub-command may get; each uses what it needs. */
typedef struct opts {
    const char *ns, *topic, *cluster, *broker, *group, *key, *id, *body, *tags, *keys;
    int64_t read_q, write_q, perm, count, queue, offset;
} opts_t;

static int parse_opts(int argc, char **argv, const char *allowed, opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->read_q = o->write_q = 8;
    o->perm = 6;
    o->count = -1;
    o->queue = -1;
    o->offset = -1;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt(argc, argv, allowed)) != -1) {
        switch (c) {
        case 'n': o->ns = optarg; break;
        case 't': o->topic = optarg; break;
        case 'c':                       /* RocketMQ reuses -c: cluster, tags, or a count */
            if (strcmp(argv[0], "sendMessage") == 0)
                o->tags = optarg;
            else if (strcmp(argv[0], "consumeMessage") == 0) {
                if (!rk_tool_int("-c", optarg, 1, INT64_MAX, &o->count))
                    return 2;
            } else
                o->cluster = optarg;
            break;
        case 'b': o->broker = optarg; break;
        case 'g': o->group = optarg; break;
        case 'k':
            if (strcmp(argv[0], "sendMessage") == 0) o->keys = optarg; else o->key = optarg;
            break;
        case 'i': o->id = optarg; break;
        case 'p': if (strcmp(argv[0], "sendMessage") == 0) o->body = optarg; else if (!rk_tool_int("-p", optarg, 0, 7, &o->perm)) return 2; break;
        case 'r': if (!rk_tool_int("-r", optarg, 1, 1024, &o->read_q)) return 2; break;
        case 'w': if (!rk_tool_int("-w", optarg, 1, 1024, &o->write_q)) return 2; break;
        case 'q': if (!rk_tool_int("-q", optarg, 0, 65535, &o->queue)) return 2; break;
        case 'o': if (!rk_tool_int("-o", optarg, 0, INT64_MAX, &o->offset)) return 2; break;
        default:
            fprintf(stderr, "%s: unknown option -%c\n", argv[0], optopt);
            return 2;
        }
    }
    if ((o->ns = rk_mqadmin_namesrv(argv[0], o->ns)) == NULL)
        return 2;
    return 0;
}

static rk_mqclient_t *client(const opts_t *o)
{
    rk_mqclient_config_t cfg = {.namesrv = o->ns, .instance_name = "mqadmin", .access_key = rk_mqadmin_access_key(),
                                .secret_key = rk_mqadmin_secret_key()};
    rk_mqclient_t *c = NULL;
    int rc = rk_mqclient_new(&cfg, &c);
    if (rc != RK_OK)
        fprintf(stderr, "mqadmin: bad name server list %s: %s\n", o->ns, rk_strerror(rc));
    return c;
}

/* The start every sub-command shares: flags, the required ones (letters of
 * `required`), and a client. NULL with *rc set (2: usage, 1: failure). */
static rk_mqclient_t *setup(int argc, char **argv, const char *flags, const char *required, opts_t *o, int *rc)
{
    if ((*rc = parse_opts(argc, argv, flags, o)) != 0)
        return NULL;
    static const struct { char letter; const char *flag; } names[] = {
        {'t', "-t TOPIC"}, {'g', "-g GROUP"}, {'b', "-b BROKER_ADDR"}, {'i', "-i MSG_ID"}, {'k', "-k KEY"},
    };
    for (const char *r = required; *r; r++) {
        const char *v = *r == 't' ? o->topic : *r == 'g' ? o->group : *r == 'b' ? o->broker : *r == 'i' ? o->id : o->key;
        if (v != NULL)
            continue;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (names[i].letter == *r)
                fprintf(stderr, "%s: %s is required\n", argv[0], names[i].flag);
        *rc = 2;
        return NULL;
    }
    rk_mqclient_t *c = client(o);
    *rc = c ? 0 : 1;
    return c;
}

/* Sends req and checks the answer; prints why not. */
static rk_cmd_t *ask(rk_mqclient_t *c, const char *addr, rk_cmd_t *req, const char *what)
{
    rk_cmd_t *resp = NULL;
    int rc = addr ? rk_mqclient_invoke(c, addr, req, &resp) : rk_mqclient_invoke_namesrv(c, req, &resp);
    if (rc != RK_OK) {
        fprintf(stderr, "mqadmin: %s: %s%s%s\n", what, rk_strerror(rc), addr ? " at " : "", addr ? addr : "");
        return NULL;
    }
    if (resp->code != RK_RESP_SUCCESS) {
        char why[300];
        rk_mqclient_resp_describe(resp, why, sizeof why);
        fprintf(stderr, "mqadmin: %s: %s\n", what, why);
        rk_cmd_free(resp);
        return NULL;
    }
    return resp;
}

static cJSON *ask_json(rk_mqclient_t *c, const char *addr, rk_cmd_t *req, const char *what)
{
    rk_cmd_t *resp = ask(c, addr, req, what);
    if (resp == NULL)
        return NULL;
    cJSON *j = rk_json_parse((const char *)resp->body, resp->body_len);
    if (j == NULL)
        fprintf(stderr, "mqadmin: %s: the answer is not JSON\n", what);
    rk_cmd_free(resp);
    return j;
}

cJSON *rk_mqadmin_ask_json(rk_mqclient_t *c, const char *addr, rk_cmd_t *req, const char *what)
{
    return ask_json(c, addr, req, what);
}

/* Cluster info: brokerAddrTable and clusterAddrTable. */
static cJSON *cluster_info(rk_mqclient_t *c)
{
    return ask_json(c, NULL, rk_mqclient_request(RK_REQ_GET_BROKER_CLUSTER_INFO), "GET_BROKER_CLUSTER_INFO");
}

static const char *master_of(cJSON *broker)
{
    cJSON *addrs = cJSON_GetObjectItemCaseSensitive(broker, "brokerAddrs");
    return rk_json_get_str(addrs, "0");
}

static char *fmt_time(int64_t ms, char *buf, size_t len)
{
    if (ms <= 0) {
        snprintf(buf, len, "-");
        return buf;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + n, len - n, ",%03d", (int)(ms % 1000));
    return buf;
}

/* ---------------------------------------------------------------- topics */

static int cmd_update_topic(int argc, char **argv)
{
    opts_t o;
    int rc = parse_opts(argc, argv, "n:t:c:b:r:w:p:", &o);
    if (rc)
        return rc;
    if (o.topic == NULL || (o.cluster == NULL && o.broker == NULL)) {
        fprintf(stderr, "updateTopic: -t TOPIC and -c CLUSTER or -b BROKER_ADDR are required\n");
        return 2;
    }
    rk_mqclient_t *c = client(&o);
    if (c == NULL)
        return 1;
    const char *addrs[64];
    int n = 0;
    cJSON *info = NULL;
    if (o.broker != NULL) {
        addrs[n++] = o.broker;
    } else {
        info = cluster_info(c);
        cJSON *names = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(info, "clusterAddrTable"), o.cluster);
        cJSON *table = cJSON_GetObjectItemCaseSensitive(info, "brokerAddrTable");
        for (cJSON *e = names ? names->child : NULL; e && n < 64; e = e->next) {
            const char *m = cJSON_IsString(e) ? master_of(cJSON_GetObjectItemCaseSensitive(table, e->valuestring)) : NULL;
            if (m != NULL)
                addrs[n++] = m;
        }
        if (n == 0) {
            fprintf(stderr, "updateTopic: cluster %s has no master broker\n", o.cluster);
            cJSON_Delete(info);
            rk_mqclient_free(c);
            return 1;
        }
    }
    int failed = 0;
    for (int i = 0; i < n; i++) {
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_UPDATE_AND_CREATE_TOPIC);
        rk_cmd_ext_set(req, "topic", o.topic);
        rk_cmd_ext_set(req, "defaultTopic", RK_DEFAULT_TOPIC);
        rk_cmd_ext_set_i64(req, "readQueueNums", o.read_q);
        rk_cmd_ext_set_i64(req, "writeQueueNums", o.write_q);
        rk_cmd_ext_set_i64(req, "perm", o.perm);
        rk_cmd_ext_set(req, "topicFilterType", "SINGLE_TAG");
        rk_cmd_ext_set(req, "topicSysFlag", "0");
        rk_cmd_ext_set(req, "order", "false");
        rk_cmd_t *resp = ask(c, addrs[i], req, "UPDATE_AND_CREATE_TOPIC");
        if (resp == NULL) {
            failed++;
            continue;
        }
        rk_cmd_free(resp);
        printf("create topic to %s success.\n", addrs[i]);
    }
    printf("TopicConfig [topicName=%s, readQueueNums=%" PRId64 ", writeQueueNums=%" PRId64 ", perm=%s%s%s]\n", o.topic,
           o.read_q, o.write_q, o.perm & 4 ? "R" : "-", o.perm & 2 ? "W" : "-", o.perm & 1 ? "X" : "-");
    cJSON_Delete(info);
    rk_mqclient_free(c);
    return failed ? 1 : 0;
}

static int cmd_topic_list(int argc, char **argv)
{
    opts_t o;
    int rc;
    rk_mqclient_t *c = setup(argc, argv, "n:", "", &o, &rc);
    if (c == NULL)
        return rc;
    cJSON *j = ask_json(c, NULL, rk_mqclient_request(RK_REQ_GET_ALL_TOPIC_LIST_FROM_NAMESERVER), "topic list");
    cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "topicList");
    for (cJSON *e = list ? list->child : NULL; e; e = e->next)
        if (cJSON_IsString(e))
            printf("%s\n", e->valuestring);
    cJSON_Delete(j);
    rk_mqclient_free(c);
    return j ? 0 : 1;
}

static int cmd_topic_route(int argc, char **argv)
{
    opts_t o;
    int rc;
    rk_mqclient_t *c = setup(argc, argv, "n:t:", "t", &o, &rc);
    if (c == NULL)
        return rc;
    rk_cmd_t *req = rk_mqclient_request(RK_REQ_GET_ROUTEINFO_BY_TOPIC);
    rk_cmd_ext_set(req, "topic", o.topic);
    cJSON *j = ask_json(c, NULL, req, "topic route");
    char *s = j ? rk_json_print(j, 1) : NULL;
    if (s)
        printf("%s\n", s);
    free(s);
    cJSON_Delete(j);
    rk_mqclient_free(c);
    return j ? 0 : 1;
}

static int cmd_topic_status(int argc, char **argv)
{
    opts_t o;
    int rc;
    rk_mqclient_t *c = setup(argc, argv, "n:t:", "t", &o, &rc);
    if (c == NULL)
        return rc;
    rk_topic_route_t *route = NULL;
    rc = rk_mqclient_route(c, o.topic, true, &route);
    if (rc != RK_OK) {
        fprintf(stderr, "topicStatus: topic %s: %s\n", o.topic, rc == RK_ENOTFOUND ? "no route (does it exist?)" : rk_strerror(rc));
        rk_mqclient_free(c);
        return 1;
    }
    printf("%-32s  %-4s  %-20s  %-20s  %s\n", "#Broker Name", "#QID", "#Min Offset", "#Max Offset", "#Last Updated");
    int failed = 0;
    for (size_t b = 0; b < route->nbrokers; b++) {
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_GET_TOPIC_STATS_INFO);
        rk_cmd_ext_set(req, "topic", o.topic);
        rk_cmd_t *resp = ask(c, route->brokers[b].any, req, "GET_TOPIC_STATS_INFO");
        rk_mq_map_entry_t *e = NULL;
        size_t n = 0;
        if (resp == NULL || rk_mq_map_parse((const char *)resp->body, resp->body_len, "offsetTable", &e, &n) != RK_OK) {
            failed++;
            rk_cmd_free(resp);
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            int64_t min = 0, max = 0, last = 0;
            rk_json_get_i64(e[i].value, "minOffset", &min);
            rk_json_get_i64(e[i].value, "maxOffset", &max);
            rk_json_get_i64(e[i].value, "lastUpdateTimestamp", &last);
            char t[40];
            printf("%-32s  %-4d  %-20" PRId64 "  %-20" PRId64 "  %s\n", e[i].mq.broker, e[i].mq.queue_id, min, max,
                   fmt_time(last, t, sizeof t));
        }
        rk_mq_map_free(e, n);
        rk_cmd_free(resp);
    }
    rk_topic_route_release(route);
    rk_mqclient_free(c);
    return failed ? 1 : 0;
}

/* ---------------------------------------------------------------- cluster, brokers */

static cJSON *runtime_info(rk_mqclient_t *c, const char *addr)
{
    return ask_json(c, addr, rk_mqclient_request(RK_REQ_GET_BROKER_RUNTIME_INFO), "GET_BROKER_RUNTIME_INFO");
}

/* One line of clusterList: the broker's runtime figures. */
static void cluster_list_row(void *ctx, const char *cluster, const char *broker, const char *id, const char *addr)
{
    cJSON *rt = runtime_info(ctx, addr);
    cJSON *kv = cJSON_GetObjectItemCaseSensitive(rt, "table");
    const char *tps = rk_json_get_str(kv, "putTps"), *total = rk_json_get_str(kv, "msgPutTotalTodayNow");
    const char *role = rk_json_get_str(kv, "brokerRole"), *behind = rk_json_get_str(kv, "slaveFallBehindMuch");
    const char *epoch = rk_json_get_str(kv, "masterEpoch"), *lag = rk_json_get_str(kv, "haReplicaLag");
    bool slave = role != NULL && strcmp(role, "SLAVE") == 0;
    if (slave)
        behind = lag;
    printf("%-22s  %-22s  %-4s  %-22s  %-10s  %-12s  %-12s  %-6s  %s\n", cluster, broker, id, addr, tps ? tps : "-",
           total ? total : "-", role ? role : "-", epoch ? epoch : "-", behind ? behind : "-");
    cJSON_Delete(rt);
}

static int cmd_cluster_list(int argc, char **argv)
{
    opts_t o;
    int rc;
    rk_mqclient_t *c = setup(argc, argv, "n:", "", &o, &rc);
    if (c == NULL)
        return rc;
    cJSON *info = cluster_info(c);
    if (info == NULL) {
        rk_mqclient_free(c);
        return 1;
    }
    /* #Role, #Epoch and #SlaveBehind come from chapter 8's runtime fields
     * ("-" before it): a master's slowest slave's lag, a slave's own lag
     * behind its elected master (haReplicaLag), the master epoch of an
     * elected group (masterEpoch) */
    printf("%-22s  %-22s  %-4s  %-22s  %-10s  %-12s  %-12s  %-6s  %s\n", "#Cluster Name", "#Broker Name", "#BID",
           "#Addr", "#InTPS", "#PutTotal", "#Role", "#Epoch", "#SlaveBehind");
    rk_cluster_each_broker(info, cluster_list_row, c);
    cJSON_Delete(info);
    rk_mqclient_free(c);
    return 0;
}

static int cmd_broker_status(int argc, char **argv)
{
    opts_t o;
    int rc;
    rk_mqclient_t *c = setup(argc, argv, "n:b:", "b", &o, &rc);
    if (c == NULL)
        return rc;
    cJSON *rt = runtime_info(c, o.broker);
    cJSON *kv = cJSON_GetObjectItemCaseSensitive(rt, "table");
    size_t n = 0;
    for (cJSON *e = kv ? kv->child : NULL; e; e = e->next)
        n++;
    const char **keys = calloc(n + 1, sizeof *keys);
    size_t k = 0;
    for (cJSON *e = kv ? kv->child : NULL; keys && e; e = e->next)
        keys[k++] = e->string;
    for (size_t i = 1; i < k; i++)      /* sorted, as RocketMQ prints a TreeMap */
        for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    for (size_t i = 0; i < k; i++)
        printf("%-32s: %s\n", keys[i], rk_json_get_str(kv, keys[i]));
    free(keys);
    cJSON_Delete(rt);
    rk_mqclient_free(c);
    return rt ? 0 : 1;
}

/* ---------------------------------------------------------------- consumers */

/* As RocketMQ's: the ConsumeStats of every master merged, rows sorted by queue (topic, broker,
 * queue id), so a group's %RETRY%<group> rows come first, together across brokers. */
static int cmd_consumer_progress(int argc, char **argv)
{
    opts_t o;
    int rc;
    rk_mqclient_t *c = setup(argc, argv, "n:g:t:", "g", &o, &rc);
    if (c == NULL)
        return rc;
    /* every master of the cluster(s), then GET_CONSUME_STATS on each */
    cJSON *info = cluster_info(c);
    cJSON *table = cJSON_GetObjectItemCaseSensitive(info, "brokerAddrTable");
    rk_consume_row_t *rows = NULL;
    size_t nrows = 0, cap = 0;
    bool oom = false;
    for (cJSON *bd = table ? table->child : NULL; bd && !oom; bd = bd->next) {
        const char *addr = master_of(bd);
        if (addr == NULL)
            continue;
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_GET_CONSUME_STATS);
        rk_cmd_ext_set(req, "consumerGroup", o.group);
        if (o.topic)
            rk_cmd_ext_set(req, "topic", o.topic);
        rk_cmd_t *resp = NULL;
        if (rk_mqclient_invoke(c, addr, req, &resp) != RK_OK || resp->code != RK_RESP_SUCCESS) {
            rk_cmd_free(resp);
            continue;
        }
        oom = rk_consume_stats_append(resp->body, resp->body_len, &rows, &nrows, &cap, SIZE_MAX) == RK_ENOMEM;
        rk_cmd_free(resp);
    }
    cJSON_Delete(info);
    rk_mqclient_free(c);
    if (oom) {
        fprintf(stderr, "consumerProgress: out of memory\n");
        free(rows);
        return 1;
    }
    if (nrows > 1)
        qsort(rows, nrows, sizeof *rows, rk_consume_row_cmp);
    printf("%-32s  %-22s  %-4s  %-14s  %-14s  %-8s  %s\n", "#Topic", "#Broker Name", "#QID", "#Broker Offset",
           "#Consumer Offset", "#Diff", "#LastTime");
    int64_t total = 0;
    for (size_t i = 0; i < nrows; i++) {
        const rk_consume_row_t *r = &rows[i];
        char t[40];
        printf("%-32s  %-22s  %-4d  %-14" PRId64 "  %-16" PRId64 "  %-8" PRId64 "  %s\n", r->mq.topic, r->mq.broker,
               r->mq.queue_id, r->broker_off, r->consumer_off, r->broker_off - r->consumer_off,
               fmt_time(r->last, t, sizeof t));
        total += r->broker_off - r->consumer_off;
    }
    printf("\nConsume TPS: -\nDiff Total: %" PRId64 "\n", total);
    free(rows);
    if (nrows == 0) {
        fprintf(stderr, "consumerProgress: group %s has no committed offset on any broker\n", o.group);
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- messages */

static rk_mqadmin_msg_lines_fn msg_lines[RK_MQADMIN_MSG_LINES_MAX];
static size_t nmsg_lines;

int rk_mqadmin_add_msg_lines(rk_mqadmin_msg_lines_fn fn)
{
    if (fn == NULL || nmsg_lines == RK_MQADMIN_MSG_LINES_MAX)
        return RK_EINVAL;
    msg_lines[nmsg_lines++] = fn;
    return RK_OK;
}

void rk_mqadmin_print_field(const char *label, const char *value)
{
    printf("%-20s %s\n", label, value);
}

static void print_message(const rk_msg_ext_t *m, bool full)
{
    char born[40], stored[40];
    printf("OffsetID:            %s\n", m->offset_msg_id);
    printf("Topic:               %s\n", m->topic);
    printf("Tags:                [%s]\n", m->tags);
    printf("Keys:                [%s]\n", m->keys);
    printf("Queue ID:            %d\n", m->queue_id);
    printf("Queue Offset:        %" PRId64 "\n", m->queue_offset);
    printf("CommitLog Offset:    %" PRId64 "\n", m->commitlog_offset);
    printf("Reconsume Times:     %d\n", m->reconsume_times);
    printf("Born Timestamp:      %s\n", fmt_time(m->born_ts, born, sizeof born));
    printf("Store Timestamp:     %s\n", fmt_time(m->store_ts, stored, sizeof stored));
    printf("Born Host:           %s\n", m->born_host);
    printf("Store Host:          %s\n", m->store_host);
    printf("System Flag:         %d\n", m->sys_flag);
    printf("Properties:          {");
    rk_prop_iter_t it = rk_props_iter(m->props, m->props_len);
    const char *k, *v;
    size_t kl, vl;
    bool first = true;
    while (rk_props_next(&it, &k, &kl, &v, &vl)) {
        printf("%s%.*s=%.*s", first ? "" : ", ", (int)kl, k, (int)vl, v);
        first = false;
    }
    printf("}\n");
    for (size_t i = 0; i < nmsg_lines; i++)
        msg_lines[i](m);
    if (full)
        printf("Message Body:        %.*s\n", (int)(m->body_len > 4096 ? 4096 : m->body_len), (const char *)m->body);
    else
        printf("Message Body Size:   %zu\n", m->body_len);
}

/* QUERY_MESSAGE (by key, or by UNIQ_KEY) on every broker of the topic. */
static int query_messages(rk_mqclient_t *c, const char *topic, const char *key, bool uniq, bool full)
{
    rk_topic_route_t *route = NULL;
    int rc = rk_mqclient_route(c, topic, true, &route);
    if (rc != RK_OK) {
        fprintf(stderr, "mqadmin: topic %s: %s\n", topic, rc == RK_ENOTFOUND ? "no route" : rk_strerror(rc));
        return 1;
    }
    int found = 0;
    for (size_t b = 0; b < route->nbrokers; b++) {
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_QUERY_MESSAGE), *resp = NULL;
        rk_cmd_ext_set(req, "topic", topic);
        rk_cmd_ext_set(req, "key", key);
        rk_cmd_ext_set(req, "maxNum", "64");
        rk_cmd_ext_set(req, "beginTimestamp", "0");
        rk_cmd_ext_set_i64(req, "endTimestamp", INT64_MAX);
        if (uniq)
            rk_cmd_ext_set(req, "_UNIQUE_KEY_QUERY", "true");
        if (rk_mqclient_invoke(c, route->brokers[b].any, req, &resp) != RK_OK || resp->code != RK_RESP_SUCCESS) {
            rk_cmd_free(resp);
            continue;
        }
        uint8_t *raw = resp->body;
        size_t len = resp->body_len;
        resp->body = NULL;
        resp->body_len = 0;
        rk_cmd_free(resp);
        rk_msg_list_t *l = NULL;
        if (rk_msg_list_decode_skip(raw, len, true, &l) != RK_OK)
            continue;
        if (l->nbad > 0)
            fprintf(stderr, "mqadmin: %zu damaged record(s) in the answer of %s left out (first: %s)\n", l->nbad,
                    route->brokers[b].any, l->bad[0].why);
        for (size_t i = 0; i < l->n; i++) {
            if (uniq) {
                print_message(&l->msgs[i], full);
                printf("\n");
            } else {
                if (found == 0)
                    printf("%-50s  %-4s  %s\n", "#Message ID", "#QID", "#Offset");
                printf("%-50s  %-4d  %" PRId64 "\n", l->msgs[i].msg_id, l->msgs[i].queue_id, l->msgs[i].queue_offset);
            }
            found++;
        }
        rk_msg_list_free(l);
    }
    rk_topic_route_release(route);
    if (found == 0)
        fprintf(stderr, "mqadmin: no message with %s %s in topic %s\n", uniq ? "id" : "key", key, topic);
    return found ? 0 : 1;
}

static int cmd_query_by_key(int argc, char **argv)
{
    opts_t o;
    int rc;
    rk_mqclient_t *c = setup(argc, argv, "n:t:k:", "tk", &o, &rc);
    if (c == NULL)
        return rc;
    rc = query_messages(c, o.topic, o.key, false, false);
    rk_mqclient_free(c);
    return rc;
}

/* True when addr ("ip:port") is a broker the name servers know. */
static bool known_broker(rk_mqclient_t *c, const char *addr)
{
    cJSON *info = cluster_info(c);
    cJSON *table = cJSON_GetObjectItemCaseSensitive(info, "brokerAddrTable");
    bool found = false;
    for (cJSON *b = table ? table->child : NULL; b != NULL && !found; b = b->next) {
        cJSON *addrs = cJSON_GetObjectItemCaseSensitive(b, "brokerAddrs");
        for (cJSON *a = addrs ? addrs->child : NULL; a != NULL && !found; a = a->next)
            found = cJSON_IsString(a) && strcmp(a->valuestring, addr) == 0;
    }
    cJSON_Delete(info);
    return found;
}

/* VIEW_MESSAGE_BY_ID: the message an offset id names, printed; 0 if found. */
static int view_by_offset_id(rk_mqclient_t *c, const char *id, bool quiet)
{
    rk_host_t host;
    int64_t phys;
    if (rk_msgid_decode(id, &host, &phys) != RK_OK)
        return 1;
    char addr[64];
    rk_host_format(&host, addr, sizeof addr);
    if (!known_broker(c, addr)) {
        if (!quiet)
            fprintf(stderr, "queryMsgById: %s would be at %s, which is not a broker the name servers know\n", id,
                    addr);
        return 1;
    }
    rk_cmd_t *req = rk_mqclient_request(RK_REQ_VIEW_MESSAGE_BY_ID);
    if (req == NULL || rk_cmd_ext_set_i64(req, "offset", phys) != RK_OK) {
        rk_cmd_free(req);
        return 1;
    }
    rk_cmd_t *resp = NULL;
    if (rk_mqclient_invoke(c, addr, req, &resp) != RK_OK || resp->code != RK_RESP_SUCCESS) {
        if (!quiet)
            fprintf(stderr, "queryMsgById: broker %s has no message at commitlog offset %" PRId64 "\n", addr, phys);
        rk_cmd_free(resp);
        return 1;
    }
    uint8_t *raw = resp->body;
    size_t len = resp->body_len;
    resp->body = NULL;
    rk_cmd_free(resp);
    rk_msg_list_t *l = NULL;
    int rc = 1;
    if (rk_msg_list_decode_skip(raw, len, true, &l) == RK_OK && l->n > 0) {
        print_message(&l->msgs[0], true);
        rc = 0;
    } else if (l != NULL && l->nbad > 0) {     /* said even with -t: the id did name a record */
        fprintf(stderr, "queryMsgById: the record at commitlog offset %" PRId64 " of broker %s is damaged (%s)\n",
                phys, addr, l->bad[0].why);
    } else if (!quiet) {
        fprintf(stderr, "queryMsgById: the answer of broker %s is not a message\n", addr);
    }
    rk_msg_list_free(l);
    return rc;
}

/* As RocketMQ's admin: the id is first taken as an offset message id (store
 * host + commitlog offset) and looked up on that broker — if it is one the
 * name servers know; otherwise (or when that broker has no such message)
 * it is a producer's message id (UNIQ_KEY), which only the topic's index
 * can find: that needs -t. */
static int cmd_query_by_id(int argc, char **argv)
{
    opts_t o;
    int rc = parse_opts(argc, argv, "n:i:t:", &o);
    if (rc)
        return rc;
    if (o.id == NULL) {
        fprintf(stderr, "queryMsgById: -i MSG_ID is required (an offset id, or a message id (UNIQ_KEY) with -t TOPIC)\n");
        return 2;
    }
    rk_mqclient_t *c = client(&o);
    if (c == NULL)
        return 1;
    rc = view_by_offset_id(c, o.id, o.topic != NULL);
    if (rc != 0 && o.topic != NULL) {
        rc = query_messages(c, o.topic, o.id, true, true);
    } else if (rc != 0) {
        fprintf(stderr, "queryMsgById: %s is not the offset id of a stored message; if it is a message id "
                        "(UNIQ_KEY, what sendMessage prints as MsgId), give its topic: -t TOPIC\n", o.id);
        rc = 1;
    }
    rk_mqclient_free(c);
    return rc;
}

/* sendMessage's arguments with an extension's letters taken out first (each handed to
 * ext->option), the rest parsed as chapter 7's (parse_opts, untouched). */
static int parse_send_ext(int argc, char **argv, const char *flags, const rk_mqadmin_send_ext_t *ext, opts_t *o)
{
    char all[64];
    snprintf(all, sizeof all, "%s%s", flags, ext->flags ? ext->flags : "");
    char **rest = calloc((size_t)argc * 2 + 1, sizeof *rest);
    char *letters = malloc((size_t)argc * 3 + 1);      /* "-x" for each option kept */
    if (rest == NULL || letters == NULL) {
        free(rest);
        free(letters);
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        return 1;
    }
    int n = 0, rc = 0, c;
    char *l = letters;
    rest[n++] = argv[0];
    optind = 1;
    opterr = 0;
    while (rc == 0 && (c = getopt(argc, argv, all)) != -1) {
        int letter = c == '?' ? optopt : c;
        if (c != '?' && ext->flags && strchr(ext->flags, c) != NULL && ext->option) {
            rc = ext->option(ext->ctx, c, optarg);
            continue;
        }
        l[0] = '-', l[1] = (char)letter, l[2] = '\0';  /* kept for parse_opts (an unknown one: it says so) */
        rest[n++] = l;
        l += 3;
        if (c != '?' && optarg != NULL)
            rest[n++] = optarg;
    }
    for (int i = optind; rc == 0 && i < argc; i++)
        rest[n++] = argv[i];
    if (rc == 0)
        rc = parse_opts(n, rest, flags, o);
    free(rest);
    free(letters);
    return rc;
}

int rk_mqadmin_send(int argc, char **argv, const rk_mqadmin_send_ext_t *ext)
{
    opts_t o;
    int rc = ext ? parse_send_ext(argc, argv, "n:t:p:c:k:", ext, &o) : parse_opts(argc, argv, "n:t:p:c:k:", &o);
    if (rc)
        return rc;
    if (o.topic == NULL || o.body == NULL) {
        fprintf(stderr, "sendMessage: -t TOPIC and -p BODY are required\n");
        return 2;
    }
    rk_producer_config_t cfg = {.namesrv = o.ns, .group = "mqadmin_producer", .instance_name = "mqadmin",
                                .access_key = rk_mqadmin_access_key(), .secret_key = rk_mqadmin_secret_key()};
    rk_producer_t *p;
    if ((rc = rk_producer_new(&cfg, &p)) != RK_OK) {
        fprintf(stderr, "sendMessage: %s\n", rk_strerror(rc));
        return 1;
    }
    rk_message_t m = {.topic = o.topic, .tags = o.tags, .keys = o.keys, .body = o.body, .body_len = strlen(o.body)};
    rk_send_result_t r;
    rk_buf_t props = {0};
    if (ext && ext->prepare && (rc = ext->prepare(ext->ctx, &m, &props)) != 0) {
        rk_buf_free(&props);
        rk_producer_free(p);
        return rc;
    }
    rc = rk_producer_send(p, &m, &r);
    rk_buf_free(&props);
    if (rc == RK_OK) {
        static const char *st[] = {"SEND_OK", "FLUSH_DISK_TIMEOUT", "FLUSH_SLAVE_TIMEOUT", "SLAVE_NOT_AVAILABLE"};
        /* both ids: the producer's (UNIQ_KEY, what consumers see as msg_id; queryMsgById needs -t
         * for it) and the broker's (store host + commitlog offset; queryMsgById finds it alone) */
        printf("%-22s  %-4s  %-20s  %-32s  %s\n", "#Broker Name", "#QID", "#Send Result", "#MsgId", "#OffsetMsgId");
        printf("%-22s  %-4d  %-20s  %-32s  %s\n", r.mq.broker, r.mq.queue_id, st[r.status], r.msg_id,
               r.offset_msg_id);
        if (ext && ext->sent)
            ext->sent(ext->ctx, &r);
    } else {
        fprintf(stderr, "sendMessage: %s\n", r.error);
    }
    rk_producer_free(p);
    return rc == RK_OK ? 0 : 1;
}

static int cmd_send(int argc, char **argv)
{
    return rk_mqadmin_send(argc, argv, NULL);
}

static int cmd_consume(int argc, char **argv)
{
    opts_t o;
    int rc = parse_opts(argc, argv, "n:t:g:c:q:o:", &o);
    if (rc)
        return rc;
    if (o.topic == NULL) {
        fprintf(stderr, "consumeMessage: -t TOPIC is required\n");
        return 2;
    }
    rk_pull_consumer_config_t cfg = {.namesrv = o.ns, .group = o.group ? o.group : "mqadmin_consumer",
                                     .instance_name = "mqadmin", .access_key = rk_mqadmin_access_key(),
                                     .secret_key = rk_mqadmin_secret_key(),
                                     .check_crc = true};  /* an operator looking: report damage */
    rk_pull_consumer_t *pc;
    if ((rc = rk_pull_consumer_new(&cfg, &pc)) != RK_OK) {
        fprintf(stderr, "consumeMessage: %s\n", rk_strerror(rc));
        return 1;
    }
    rk_mq_t *qs = NULL;
    size_t nq = 0;
    rc = rk_pull_consumer_queues(pc, o.topic, &qs, &nq);
    if (rc != RK_OK) {
        fprintf(stderr, "consumeMessage: topic %s: %s\n", o.topic, rc == RK_ENOTFOUND ? "no route" : rk_strerror(rc));
        rk_pull_consumer_free(pc);
        return 1;
    }
    int64_t limit = o.count > 0 ? o.count : 128, got = 0;
    for (size_t q = 0; q < nq && got < limit; q++) {
        if (o.queue >= 0 && qs[q].queue_id != o.queue)
            continue;
        int64_t off = o.offset >= 0 ? o.offset : 0;
        if (o.offset < 0)
            rk_pull_consumer_min_offset(pc, &qs[q], &off);
        while (got < limit) {
            rk_pull_result_t r;
            if (rk_pull_consumer_pull(pc, &qs[q], "*", off, 32, 0, &r) != RK_OK) {
                fprintf(stderr, "consumeMessage: %s\n", r.error);
                break;
            }
            if (r.status != RK_PULL_FOUND) {
                rk_pull_result_free(&r);
                if (r.status == RK_PULL_NO_MATCHED_MSG && r.next_offset > off) {
                    off = r.next_offset;
                    continue;
                }
                break;
            }
            for (size_t i = 0; i < r.msgs->n && got < limit; i++, got++) {
                const rk_msg_ext_t *m = &r.msgs->msgs[i];
                printf("%s queue %d offset %" PRId64 " id %s tags [%s] keys [%s]: %.*s\n", m->broker, m->queue_id,
                       m->queue_offset, m->msg_id, m->tags, m->keys, (int)(m->body_len > 200 ? 200 : m->body_len),
                       (const char *)m->body);
            }
            off = r.next_offset;
            rk_pull_result_free(&r);
        }
    }
    fprintf(stderr, "consumeMessage: %" PRId64 " message(s)\n", got);
    free(qs);
    rk_pull_consumer_free(pc);
    return 0;
}

const rk_tool_cmd_t rk_mqadmin_cmds_ch07[] = {
    {"updateTopic", "-n NS -t TOPIC (-c CLUSTER | -b BROKER_ADDR) [-r 8] [-w 8] [-p 6]", "create or update a topic",
     cmd_update_topic},
    {"topicList", "-n NS", "every topic the name servers know", cmd_topic_list},
    {"topicRoute", "-n NS -t TOPIC", "a topic's route (brokers and queues)", cmd_topic_route},
    {"topicStatus", "-n NS -t TOPIC", "min/max offset and last store time of each queue", cmd_topic_status},
    {"clusterList", "-n NS", "clusters, brokers and their put rates", cmd_cluster_list},
    {"brokerStatus", "-n NS -b BROKER_ADDR", "a broker's runtime figures", cmd_broker_status},
    {"consumerProgress", "-n NS -g GROUP [-t TOPIC]", "a group's offsets and lag per queue", cmd_consumer_progress},
    {"queryMsgById", "-n NS -i MSG_ID [-t TOPIC] [-g GROUP -d CLIENT_ID]",
     "one message by offset id, or by message id (UNIQ_KEY) with -t; -g/-d: that client consumes it now",
     rk__mqadmin_query_msg_by_id},
    {"queryMsgByKey", "-n NS -t TOPIC -k KEY", "messages with a key", cmd_query_by_key},
    {"sendMessage", "-n NS -t TOPIC -p BODY [-c TAGS] [-k KEYS]", "send one message", cmd_send},
    {"consumeMessage", "-n NS -t TOPIC [-g GROUP] [-c COUNT] [-q QUEUE] [-o OFFSET]",
     "print messages (from each queue's min offset; no offset is committed)", cmd_consume},
    /* admin requests (mqadmin_admin.c) */
    {"consumerConnection", "-n NS -g GROUP [-b BROKER_ADDR]", "a consumer group's clients and subscriptions",
     rk__mqadmin_consumer_connection},
    {"producerConnection", "-n NS -g GROUP -t TOPIC", "a producer group's clients", rk__mqadmin_producer_connection},
    {"consumerStatus", "-n NS -g GROUP [-i CLIENT_ID] [-b BROKER_ADDR]",
     "what each client of a group is doing (its queues, offsets, rates)", rk__mqadmin_consumer_status},
    {"updateSubGroup", "-n NS -g GROUP (-b BROKER_ADDR | -c CLUSTER) [-s true] [-m true] [-d true] [-q 1] [-r 16] "
     "[-i 0] [-w 1] [-a true]", "create or update a subscription group", rk__mqadmin_update_sub_group},
    {"deleteSubGroup", "-n NS -g GROUP (-b BROKER_ADDR | -c CLUSTER)",
     "delete a subscription group (with -c also its %RETRY% and %DLQ% topics)", rk__mqadmin_delete_sub_group},
    {"deleteTopic", "-n NS -t TOPIC -c CLUSTER", "delete a topic from a cluster's brokers and the name servers",
     rk__mqadmin_delete_topic},
    {"resetOffsetByTime", "-n NS -g GROUP -t TOPIC -s (now | MILLIS | yyyy-MM-dd#HH:mm:ss:SSS) [-f true]",
     "move a group's offsets of a topic to a time", rk__mqadmin_reset_offset_by_time},
    {"brokerConsumeStats", "-n NS -b BROKER_ADDR", "every group's offsets and lag on a broker",
     rk__mqadmin_broker_consume_stats},
    {"getBrokerConfig", "-n NS (-b BROKER_ADDR | -c CLUSTER)", "a broker's settings", rk__mqadmin_get_broker_config},
    {"updateBrokerConfig", "-n NS (-b BROKER_ADDR | -c CLUSTER) -k KEY -v VALUE",
     "change a setting of a running broker (the keys that may change at run time)", rk__mqadmin_update_broker_config},
    {"queryCq", "-n NS -t TOPIC -q QUEUE -i INDEX [-c COUNT] [-b BROKER_ADDR] [-g GROUP]",
     "raw units of a consume queue", rk__mqadmin_query_cq},
    {NULL, NULL, NULL, NULL},
};

/* ---- ACL credentials ---- */

const char *rk_mqadmin_access_key(void)
{
    const char *ak = getenv("ROCKETMQ_ACCESS_KEY"), *sk = getenv("ROCKETMQ_SECRET_KEY");
    return ak && *ak && sk && *sk ? ak : NULL;
}

const char *rk_mqadmin_secret_key(void) { return rk_mqadmin_access_key() ? getenv("ROCKETMQ_SECRET_KEY") : NULL; }

/* Takes -a/-s (before the sub-command, where they cannot clash with a
 * command's own -s) and --accessKey/--secretKey (anywhere, also as
 * --accessKey=KEY) out of argv and into the environment variables the
 * commands read. 2 on a flag without a value. */
static int take_credentials(int *argc, char **argv)
{
    bool before_cmd = true;
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i], *env = NULL, *val = NULL;
        if (before_cmd && (strcmp(a, "-a") == 0 || strcmp(a, "-s") == 0))
            env = a[1] == 'a' ? "ROCKETMQ_ACCESS_KEY" : "ROCKETMQ_SECRET_KEY";
        else if (strcmp(a, "--accessKey") == 0 || strncmp(a, "--accessKey=", 12) == 0)
            env = "ROCKETMQ_ACCESS_KEY", val = a[11] == '=' ? a + 12 : NULL;
        else if (strcmp(a, "--secretKey") == 0 || strncmp(a, "--secretKey=", 12) == 0)
            env = "ROCKETMQ_SECRET_KEY", val = a[11] == '=' ? a + 12 : NULL;
        if (env == NULL) {
            if (a[0] != '-')
                before_cmd = false;
            argv[out++] = argv[i];
            continue;
        }
        if (val == NULL) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "mqadmin: %s needs a value\n", a);
                return 2;
            }
            val = argv[++i];
        }
        if (setenv(env, val, 1) != 0) {
            fprintf(stderr, "mqadmin: cannot keep %s\n", a);
            return 2;
        }
    }
    argv[out] = NULL;
    *argc = out;
    return 0;
}

int rk_mqadmin_main(const rk_tool_cmd_t *const *tables, int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (getenv("RK_LOG") == NULL)
        rk_log_set_level(RK_LOG_WARN);
    if (take_credentials(&argc, argv) != 0)
        return 2;
    int rc = rk_tool_main("mqadmin", tables, argc, argv);
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)
        fprintf(stdout,
                "\nACL (a broker with aclEnable=true): mqadmin -a ACCESS_KEY -s SECRET_KEY COMMAND ..., or\n"
                "--accessKey/--secretKey anywhere, or ROCKETMQ_ACCESS_KEY / ROCKETMQ_SECRET_KEY in the environment\n");
    return rc;
}

/* ---------------------------------------------------------------- for mqadmin_admin.c (mqadmin_int.h) */

rk_mqclient_t *rk__mqadmin_client(const char *ns)
{
    opts_t o = {.ns = ns};
    return client(&o);
}

rk_cmd_t *rk__mqadmin_ask(rk_mqclient_t *c, const char *addr, rk_cmd_t *req, const char *what)
{
    return ask(c, addr, req, what);
}

cJSON *rk__mqadmin_cluster_info(rk_mqclient_t *c) { return cluster_info(c); }
int rk__mqadmin_query_by_id(int argc, char **argv) { return cmd_query_by_id(argc, argv); }
char *rk__mqadmin_fmt_time(int64_t ms, char *buf, size_t len) { return fmt_time(ms, buf, len); }

char *rk_mqadmin_fmt_time(int64_t ms, char *buf, size_t len)
{
    return fmt_time(ms, buf, len);
}

const char *rk_mqadmin_namesrv(const char *cmd, const char *given)
{
    const char *ns = given != NULL ? given : getenv("NAMESRV_ADDR");
    if (ns == NULL || !*ns) {
        fprintf(stderr, "%s: no name server: give -n host:port (or set NAMESRV_ADDR)\n", cmd);
        return NULL;
    }
    return ns;
}
