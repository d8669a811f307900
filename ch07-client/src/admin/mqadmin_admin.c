/* mqadmin_admin.c — mqadmin's commands for the broker's admin requests
 * (rk/broker_admin.h): connections, consumer status, subscription groups,
 * topic deletion, offset reset, broker config. Names, flags and output as
 * RocketMQ 4.9's tools (ConsumerConnectionSubCommand, ...). The table
 * entries are in mqadmin_cmds.c. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mqadmin_int.h"
#include "rk/mqadmin.h"
#include "rk/clock.h"
#include "rk/cluster_view.h"
#include "rk/config.h"
#include "rk/error.h"
#include "rk/json.h"
#include "rk/names.h"
#include "rk/request_code.h"
#include "rk/tool.h"
#include "rk/topic_route.h"

#define MAX_BROKERS 64

/* ---------------------------------------------------------------- options */

typedef struct aopts {
    const char *v[128];         /* by option letter */
} aopts_t;

/* getopt over flags ("n:g:b:"); every letter of required must be given;
 * -n defaults to $NAMESRV_ADDR. 0, or 2 with the reason on stderr. */
static int aparse(int argc, char **argv, const char *flags, const char *required, aopts_t *o)
{
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt(argc, argv, flags)) != -1) {
        if (ch == '?' || ch == ':' || ch < 0 || ch >= 128) {
            fprintf(stderr, "%s: unknown option or missing value: -%c\n", argv[0], optopt);
            return 2;
        }
        o->v[ch] = optarg;
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument %s\n", argv[0], argv[optind]);
        return 2;
    }
    if ((o->v['n'] = rk_mqadmin_namesrv(argv[0], o->v['n'])) == NULL)
        return 2;
    for (const char *r = required; *r; r++)
        if (o->v[(unsigned char)*r] == NULL) {
            fprintf(stderr, "%s: -%c is required\n", argv[0], *r);
            return 2;
        }
    return 0;
}

/* A group or topic name given on the command line. */
static bool valid_name(const char *cmd, const char *what, const char *v)
{
    if (rk_topic_name_valid(v))
        return true;
    fprintf(stderr, "%s: %s \"%s\" is not valid: ^[%%|a-zA-Z0-9_-]+$, at most 127 characters\n", cmd, what, v);
    return false;
}

/* MQVersion.getVersionDesc for the 4.9 line rocklet speaks (401 = V4_9_4). */
static const char *version_desc(int32_t v, char *buf, size_t len)
{
    if (v >= 401 && v <= 409)
        snprintf(buf, len, (v - 401) % 2 == 0 ? "V4_9_%d" : "V4_9_%d_SNAPSHOT", 4 + (v - 400) / 2);
    else
        snprintf(buf, len, "%d", v);
    return buf;
}

/* The brokers a command acts on: -b, or every master of cluster -c. */
static int target_brokers(rk_mqclient_t *c, const aopts_t *o, const char *cmd, char (*out)[RK_ADDR_MAX])
{
    if (o->v['b'] != NULL) {
        snprintf(out[0], RK_ADDR_MAX, "%s", o->v['b']);
        return 1;
    }
    if (o->v['c'] == NULL) {
        fprintf(stderr, "%s: -b BROKER_ADDR or -c CLUSTER is required\n", cmd);
        return -1;
    }
    cJSON *info = rk__mqadmin_cluster_info(c);
    if (info == NULL)
        return -1;
    cJSON *names = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(info, "clusterAddrTable"),
                                                    o->v['c']);
    cJSON *brokers = cJSON_GetObjectItemCaseSensitive(info, "brokerAddrTable");
    int n = 0;
    for (cJSON *name = names ? names->child : NULL; name != NULL && n < MAX_BROKERS; name = name->next) {
        cJSON *br = cJSON_IsString(name) ? cJSON_GetObjectItemCaseSensitive(brokers, name->valuestring) : NULL;
        const char *master = rk_json_get_str(cJSON_GetObjectItemCaseSensitive(br, "brokerAddrs"), "0");
        if (master != NULL && strlen(master) < RK_ADDR_MAX)
            snprintf(out[n++], RK_ADDR_MAX, "%s", master);
    }
    cJSON_Delete(info);
    if (n == 0)
        fprintf(stderr, "%s: cluster %s has no master broker\n", cmd, o->v['c']);
    return n > 0 ? n : -1;
}

/* Every master the name servers know (for a request any of them may answer). */
static int all_masters(rk_mqclient_t *c, char (*out)[RK_ADDR_MAX])
{
    cJSON *info = rk__mqadmin_cluster_info(c);
    cJSON *brokers = cJSON_GetObjectItemCaseSensitive(info, "brokerAddrTable");
    int n = 0;
    for (cJSON *br = brokers ? brokers->child : NULL; br != NULL && n < MAX_BROKERS; br = br->next) {
        const char *master = rk_json_get_str(cJSON_GetObjectItemCaseSensitive(br, "brokerAddrs"), "0");
        if (master != NULL && strlen(master) < RK_ADDR_MAX)
            snprintf(out[n++], RK_ADDR_MAX, "%s", master);
    }
    cJSON_Delete(info);
    return n;
}

/* ---------------------------------------------------------------- connections */

/* GET_CONSUMER_CONNECTION_LIST from -b, or from the first master that knows
 * the group; *from gets the broker that answered. */
static cJSON *consumer_connection(rk_mqclient_t *c, const char *group, const char *broker, char *from)
{
    char addrs[MAX_BROKERS][RK_ADDR_MAX];
    int n = broker ? 1 : all_masters(c, addrs);
    if (broker)
        snprintf(addrs[0], RK_ADDR_MAX, "%s", broker);
    for (int i = 0; i < n; i++) {
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_GET_CONSUMER_CONNECTION_LIST), *resp = NULL;
        if (req == NULL || rk_cmd_ext_set(req, "consumerGroup", group) != RK_OK) {
            rk_cmd_free(req);
            return NULL;
        }
        if (rk_mqclient_invoke(c, addrs[i], req, &resp) == RK_OK && resp->code == RK_RESP_SUCCESS) {
            cJSON *j = rk_json_parse((const char *)resp->body, resp->body_len);
            rk_cmd_free(resp);
            if (j != NULL) {
                memcpy(from, addrs[i], RK_ADDR_MAX);
                return j;
            }
            continue;
        }
        if (resp != NULL && (broker != NULL || i == n - 1)) {
            char why[300];
            rk_mqclient_resp_describe(resp, why, sizeof why);
            fprintf(stderr, "mqadmin: GET_CONSUMER_CONNECTION_LIST: %s\n", why);
        }
        rk_cmd_free(resp);
    }
    if (n == 0)
        fprintf(stderr, "mqadmin: no broker to ask\n");
    return NULL;
}

int rk__mqadmin_consumer_connection(int argc, char **argv)
{
    aopts_t o;
    int rc = aparse(argc, argv, "n:g:b:", "g", &o);
    if (rc || !valid_name(argv[0], "group", o.v['g']))
        return rc ? rc : 2;
    rk_mqclient_t *c = rk__mqadmin_client(o.v['n']);
    if (c == NULL)
        return 1;
    char from[RK_ADDR_MAX];
    cJSON *cc = consumer_connection(c, o.v['g'], o.v['b'], from);
    rk_mqclient_free(c);
    if (cc == NULL)
        return 1;
    int i = 1;
    char ver[32];
    cJSON *set = cJSON_GetObjectItemCaseSensitive(cc, "connectionSet");
    for (cJSON *e = set ? set->child : NULL; e != NULL; e = e->next) {
        int64_t v = 0;
        rk_json_get_i64(e, "version", &v);
        const char *id = rk_json_get_str(e, "clientId"), *addr = rk_json_get_str(e, "clientAddr");
        const char *lang = rk_json_get_str(e, "language");
        printf("%03d  %-32s %-22s %-8s %s\n", i++, id ? id : "", addr ? addr : "", lang ? lang : "",
               version_desc((int32_t)v, ver, sizeof ver));
    }
    printf("\nBelow is subscription:\n");
    i = 1;
    cJSON *subs = cJSON_GetObjectItemCaseSensitive(cc, "subscriptionTable");
    for (cJSON *s = subs ? subs->child : NULL; s != NULL; s = s->next) {
        const char *topic = rk_json_get_str(s, "topic"), *expr = rk_json_get_str(s, "subString");
        printf("%03d  Topic: %-40s SubExpression: %s\n", i++, topic ? topic : "", expr ? expr : "");
    }
    const char *ct = rk_json_get_str(cc, "consumeType"), *mm = rk_json_get_str(cc, "messageModel");
    const char *cf = rk_json_get_str(cc, "consumeFromWhere");
    printf("\nConsumeType: %s\nMessageModel: %s\nConsumeFromWhere: %s\n", ct ? ct : "", mm ? mm : "", cf ? cf : "");
    cJSON_Delete(cc);
    return 0;
}

int rk__mqadmin_producer_connection(int argc, char **argv)
{
    aopts_t o;
    int rc = aparse(argc, argv, "n:g:t:", "gt", &o);
    if (rc || !valid_name(argv[0], "group", o.v['g']) || !valid_name(argv[0], "topic", o.v['t']))
        return rc ? rc : 2;
    rk_mqclient_t *c = rk__mqadmin_client(o.v['n']);
    if (c == NULL)
        return 1;
    rk_topic_route_t *r = NULL;
    if (rk_mqclient_route(c, o.v['t'], true, &r) != RK_OK) {
        fprintf(stderr, "producerConnection: topic %s has no route\n", o.v['t']);
        rk_mqclient_free(c);
        return 1;
    }
    cJSON *seen = cJSON_CreateObject();
    int i = 1, answered = 0;
    char ver[32];
    for (size_t k = 0; k < r->nbrokers; k++) {
        if (!r->brokers[k].master[0])
            continue;
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_GET_PRODUCER_CONNECTION_LIST);
        if (req == NULL || rk_cmd_ext_set(req, "producerGroup", o.v['g']) != RK_OK) {
            rk_cmd_free(req);
            continue;
        }
        cJSON *pc = rk_mqadmin_ask_json(c, r->brokers[k].master, req, "GET_PRODUCER_CONNECTION_LIST");
        if (pc != NULL)
            answered++;
        cJSON *set = cJSON_GetObjectItemCaseSensitive(pc, "connectionSet");
        for (cJSON *e = set ? set->child : NULL; e != NULL; e = e->next) {
            const char *id = rk_json_get_str(e, "clientId"), *addr = rk_json_get_str(e, "clientAddr");
            const char *lang = rk_json_get_str(e, "language");
            int64_t v = 0;
            rk_json_get_i64(e, "version", &v);
            if (id == NULL || cJSON_GetObjectItemCaseSensitive(seen, id) != NULL)
                continue;       /* one line per client, as RocketMQ's HashSet of connections */
            cJSON_AddTrueToObject(seen, id);
            printf("%04d  %-32s %-22s %-8s %s\n", i++, id, addr ? addr : "", lang ? lang : "",
                   version_desc((int32_t)v, ver, sizeof ver));
        }
        cJSON_Delete(pc);
    }
    cJSON_Delete(seen);
    rk_topic_route_release(r);
    rk_mqclient_free(c);
    return answered > 0 ? 0 : 1;
}

/* ---------------------------------------------------------------- consumer status */

/* A body with one fastjson MessageQueue-keyed map (not JSON) parsed as JSON
 * without that member (read it with rk_mq_map_parse). Linear. */
static cJSON *parse_without(const char *text, size_t len, const char *member)
{
    char key[64];
    int kl = snprintf(key, sizeof key, "\"%s\":{", member);
    const char *at = kl > 0 ? memmem(text, len, key, (size_t)kl) : NULL;
    if (at == NULL)
        return rk_json_parse(text, len);
    size_t start = (size_t)(at - text), i = start + (size_t)kl - 1;    /* at the '{' */
    int depth = 0;
    bool in_str = false;
    for (; i < len; i++) {
        char ch = text[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '{') {
            depth++;
        } else if (ch == '}' && --depth == 0) {
            break;
        }
    }
    if (i >= len)
        return NULL;
    size_t end = i + 1;
    if (end < len && text[end] == ',')
        end++;                          /* the member and its comma go */
    else if (start > 0 && text[start - 1] == ',')
        start--;
    char *rest = malloc(len - (end - start) + 1);
    if (rest == NULL)
        return NULL;
    memcpy(rest, text, start);
    memcpy(rest + start, text + end, len - end);
    rest[len - (end - start)] = '\0';
    cJSON *j = rk_json_parse(rest, len - (end - start));
    free(rest);
    return j;
}

static rk_cmd_t *running_info_request(const char *group, const char *client)
{
    rk_cmd_t *req = rk_mqclient_request(RK_REQ_GET_CONSUMER_RUNNING_INFO);
    if (req != NULL && (rk_cmd_ext_set(req, "consumerGroup", group) != RK_OK ||
                        rk_cmd_ext_set(req, "clientId", client) != RK_OK ||
                        rk_cmd_ext_set(req, "jstackEnable", "false") != RK_OK)) {
        rk_cmd_free(req);
        return NULL;
    }
    return req;
}

/* ConsumerRunningInfo.formatString's sections. */
static void print_running_info(const rk_cmd_t *resp)
{
    cJSON *j = parse_without((const char *)resp->body, resp->body_len, "mqTable");
    printf("#Consumer Properties#\n");
    cJSON *props = cJSON_GetObjectItemCaseSensitive(j, "properties");
    for (cJSON *p = props ? props->child : NULL; p != NULL; p = p->next)
        printf("%-40s: %s\n", p->string, cJSON_IsString(p) ? p->valuestring : "");
    printf("\n\n#Consumer Subscription#\n");
    int i = 1;
    cJSON *subs = cJSON_GetObjectItemCaseSensitive(j, "subscriptionSet");
    for (cJSON *s = subs ? subs->child : NULL; s != NULL; s = s->next) {
        const char *t = rk_json_get_str(s, "topic"), *e = rk_json_get_str(s, "subString");
        printf("%03d Topic: %-40s ClassFilter: %-8s SubExpression: %s\n", i++, t ? t : "", "false", e ? e : "");
    }
    printf("\n\n#Consumer Offset#\n");
    printf("%-32s  %-32s  %-4s  %-20s\n", "#Topic", "#Broker Name", "#QID", "#Consumer Offset");
    rk_mq_map_entry_t *mq = NULL;
    size_t n = 0;
    rk_mq_map_parse((const char *)resp->body, resp->body_len, "mqTable", &mq, &n);
    for (size_t k = 0; k < n; k++) {
        int64_t off = 0;
        rk_json_get_i64(mq[k].value, "commitOffset", &off);
        printf("%-32s  %-32s  %-4d  %-20" PRId64 "\n", mq[k].mq.topic, mq[k].mq.broker, mq[k].mq.queue_id, off);
    }
    printf("\n\n#Consumer MQ Detail#\n");
    printf("%-32s  %-32s  %-4s  %-20s\n", "#Topic", "#Broker Name", "#QID", "#ProcessQueueInfo");
    for (size_t k = 0; k < n; k++) {
        int64_t cnt = 0, min = 0, max = 0, commit = 0;
        rk_json_get_i64(mq[k].value, "cachedMsgCount", &cnt);
        rk_json_get_i64(mq[k].value, "cachedMsgMinOffset", &min);
        rk_json_get_i64(mq[k].value, "cachedMsgMaxOffset", &max);
        rk_json_get_i64(mq[k].value, "commitOffset", &commit);
        printf("%-32s  %-32s  %-4d  ProcessQueueInfo [commitOffset=%" PRId64 ", cachedMsgMinOffset=%" PRId64
               ", cachedMsgMaxOffset=%" PRId64 ", cachedMsgCount=%" PRId64 "]\n",
               mq[k].mq.topic, mq[k].mq.broker, mq[k].mq.queue_id, commit, min, max, cnt);
    }
    rk_mq_map_free(mq, n);
    printf("\n\n#Consumer RT&TPS#\n");
    printf("%-32s  %14s %14s %14s %14s %18s %25s\n", "#Topic", "#Pull RT", "#Pull TPS", "#Consume RT",
           "#ConsumeOK TPS", "#ConsumeFailed TPS", "#ConsumeFailedMsgsInHour");
    cJSON *status = cJSON_GetObjectItemCaseSensitive(j, "statusTable");
    for (cJSON *s = status ? status->child : NULL; s != NULL; s = s->next) {
        cJSON *f[6] = {cJSON_GetObjectItemCaseSensitive(s, "pullRT"), cJSON_GetObjectItemCaseSensitive(s, "pullTPS"),
                       cJSON_GetObjectItemCaseSensitive(s, "consumeRT"),
                       cJSON_GetObjectItemCaseSensitive(s, "consumeOKTPS"),
                       cJSON_GetObjectItemCaseSensitive(s, "consumeFailedTPS"),
                       cJSON_GetObjectItemCaseSensitive(s, "consumeFailedMsgs")};
        double d[6];
        for (int k = 0; k < 6; k++)
            d[k] = cJSON_IsNumber(f[k]) ? f[k]->valuedouble : 0;
        printf("%-32s  %14.2f %14.2f %14.2f %14.2f %18.2f %25.0f\n", s->string, d[0], d[1], d[2], d[3], d[4], d[5]);
    }
    cJSON_Delete(j);
}

int rk__mqadmin_consumer_status(int argc, char **argv)
{
    aopts_t o;
    int rc = aparse(argc, argv, "n:g:i:b:s:", "g", &o);
    if (rc || !valid_name(argv[0], "group", o.v['g']))
        return rc ? rc : 2;
    rk_mqclient_t *c = rk__mqadmin_client(o.v['n']);
    if (c == NULL)
        return 1;
    char from[RK_ADDR_MAX];
    cJSON *cc = consumer_connection(c, o.v['g'], o.v['b'], from);
    if (cc == NULL) {
        rk_mqclient_free(c);
        return 1;
    }
    rc = 0;
    if (o.v['i'] != NULL) {
        rk_cmd_t *resp = rk__mqadmin_ask(c, from, running_info_request(o.v['g'], o.v['i']), "GET_CONSUMER_RUNNING_INFO");
        if (resp != NULL)
            print_running_info(resp);
        rc = resp ? 0 : 1;
        rk_cmd_free(resp);
    } else {
        int i = 1;
        char ver[32];
        char *first_subs = NULL;
        bool same = true;
        cJSON *set = cJSON_GetObjectItemCaseSensitive(cc, "connectionSet");
        for (cJSON *e = set ? set->child : NULL; e != NULL; e = e->next) {
            const char *id = rk_json_get_str(e, "clientId");
            int64_t v = 0;
            rk_json_get_i64(e, "version", &v);
            if (id == NULL)
                continue;
            rk_cmd_t *resp = rk__mqadmin_ask(c, from, running_info_request(o.v['g'], id), "GET_CONSUMER_RUNNING_INFO");
            printf("%03d  %-40s %-20s %s\n", i++, id, version_desc((int32_t)v, ver, sizeof ver),
                   resp ? "OK" : "NO ANSWER");
            cJSON *j = resp ? parse_without((const char *)resp->body, resp->body_len, "mqTable") : NULL;
            char *subs = j ? rk_json_print(cJSON_GetObjectItemCaseSensitive(j, "subscriptionSet"), 0) : NULL;
            if (subs != NULL && first_subs == NULL)
                first_subs = subs;
            else if (subs != NULL) {
                same = same && strcmp(subs, first_subs) == 0;
                free(subs);
            }
            cJSON_Delete(j);
            rk_cmd_free(resp);
        }
        free(first_subs);
        printf(same ? "\n\nSame subscription in the same group of consumer\n"
                    : "\n\nWARN: Different subscription in the same group of consumer!!!\n");
    }
    cJSON_Delete(cc);
    rk_mqclient_free(c);
    return rc;
}

/* ---------------------------------------------------------------- subscription groups */

static bool put_bool(cJSON *o, const char *key, const char *text, const char *flag)
{
    if (text == NULL)
        return true;
    bool v;
    if (rk_parse_bool(text, &v) != RK_OK) {
        fprintf(stderr, "updateSubGroup: %s must be true or false\n", flag);
        return false;
    }
    cJSON_AddBoolToObject(o, key, v);
    return true;
}

static bool put_int(cJSON *o, const char *key, const char *text, const char *flag, int64_t min, int64_t max)
{
    if (text == NULL)
        return true;
    int64_t v;
    if (!rk_tool_int(flag, text, min, max, &v))
        return false;
    rk_json_add_i64(o, key, v);
    return true;
}

int rk__mqadmin_update_sub_group(int argc, char **argv)
{
    aopts_t o;
    int rc = aparse(argc, argv, "n:g:b:c:s:m:d:q:r:i:w:a:", "g", &o);
    if (rc || !valid_name(argv[0], "group", o.v['g']))
        return rc ? rc : 2;
    /* SubscriptionGroupConfig with RocketMQ's defaults, then the flags */
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddStringToObject(cfg, "groupName", o.v['g']);
    if (!put_bool(cfg, "consumeEnable", o.v['s'] ? o.v['s'] : "true", "-s") ||
        !put_bool(cfg, "consumeFromMinEnable", o.v['m'] ? o.v['m'] : "true", "-m") ||
        !put_bool(cfg, "consumeBroadcastEnable", o.v['d'] ? o.v['d'] : "true", "-d") ||
        !put_int(cfg, "retryQueueNums", o.v['q'] ? o.v['q'] : "1", "-q", 0, 1024) ||
        !put_int(cfg, "retryMaxTimes", o.v['r'] ? o.v['r'] : "16", "-r", -1, 1000) ||
        !put_int(cfg, "brokerId", o.v['i'] ? o.v['i'] : "0", "-i", 0, 1 << 20) ||
        !put_int(cfg, "whichBrokerWhenConsumeSlowly", o.v['w'] ? o.v['w'] : "1", "-w", 0, 1 << 20) ||
        !put_bool(cfg, "notifyConsumerIdsChangedEnable", o.v['a'] ? o.v['a'] : "true", "-a")) {
        cJSON_Delete(cfg);
        return 2;
    }
    char *body = rk_json_print(cfg, 0);
    cJSON_Delete(cfg);
    rk_mqclient_t *c = body ? rk__mqadmin_client(o.v['n']) : NULL;
    char addrs[MAX_BROKERS][RK_ADDR_MAX];
    int n = c ? target_brokers(c, &o, argv[0], addrs) : -1;
    rc = n > 0 ? 0 : 1;
    for (int i = 0; i < n; i++) {
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_UPDATE_AND_CREATE_SUBSCRIPTIONGROUP);
        if (req == NULL || rk_cmd_set_body(req, body, strlen(body)) != RK_OK) {
            rk_cmd_free(req);
            rc = 1;
            continue;
        }
        rk_cmd_t *resp = rk__mqadmin_ask(c, addrs[i], req, "UPDATE_AND_CREATE_SUBSCRIPTIONGROUP");
        if (resp != NULL)
            printf("create subscription group to %s success.\n%s\n", addrs[i], body);
        else
            rc = 1;
        rk_cmd_free(resp);
    }
    free(body);
    rk_mqclient_free(c);
    return rc;
}

static rk_cmd_t *named_request(int32_t code, const char *key, const char *value)
{
    rk_cmd_t *req = rk_mqclient_request(code);
    if (req != NULL && rk_cmd_ext_set(req, key, value) != RK_OK) {
        rk_cmd_free(req);
        return NULL;
    }
    return req;
}

/* DELETE_TOPIC_IN_BROKER to each address, then DELETE_TOPIC_IN_NAMESRV to
 * every name server of ns (not just one: each keeps its own routes). */
static int delete_topic(rk_mqclient_t *c, const char *ns, char (*addrs)[RK_ADDR_MAX], int n, const char *topic,
                        const char *cluster)
{
    int rc = 0;
    for (int i = 0; i < n; i++) {
        rk_cmd_t *resp = rk__mqadmin_ask(c, addrs[i], named_request(RK_REQ_DELETE_TOPIC_IN_BROKER, "topic", topic),
                                         "DELETE_TOPIC_IN_BROKER");
        rc |= resp == NULL;
        rk_cmd_free(resp);
    }
    if (rc == 0)
        printf("delete topic [%s] from cluster [%s] success.\n", topic, cluster);
    char list[1024];
    snprintf(list, sizeof list, "%s", ns);
    int ok = 0;
    for (char *save = NULL, *a = strtok_r(list, ";", &save); a != NULL; a = strtok_r(NULL, ";", &save)) {
        rk_cmd_t *resp = rk__mqadmin_ask(c, a, named_request(RK_REQ_DELETE_TOPIC_IN_NAMESRV, "topic", topic),
                                         "DELETE_TOPIC_IN_NAMESRV");
        ok += resp != NULL;
        rc |= resp == NULL;
        rk_cmd_free(resp);
    }
    if (ok > 0)
        printf("delete topic [%s] from NameServer success.\n", topic);
    return rc;
}

int rk__mqadmin_delete_sub_group(int argc, char **argv)
{
    aopts_t o;
    int rc = aparse(argc, argv, "n:g:b:c:", "g", &o);
    if (rc || !valid_name(argv[0], "group", o.v['g']))
        return rc ? rc : 2;
    rk_mqclient_t *c = rk__mqadmin_client(o.v['n']);
    char addrs[MAX_BROKERS][RK_ADDR_MAX];
    int n = c ? target_brokers(c, &o, argv[0], addrs) : -1;
    rc = n > 0 ? 0 : 1;
    for (int i = 0; i < n; i++) {
        rk_cmd_t *resp = rk__mqadmin_ask(c, addrs[i], named_request(RK_REQ_DELETE_SUBSCRIPTIONGROUP, "groupName",
                                                                    o.v['g']), "DELETE_SUBSCRIPTIONGROUP");
        if (resp != NULL && o.v['b'] != NULL)
            printf("delete subscription group [%s] from broker [%s] success.\n", o.v['g'], addrs[i]);
        else if (resp != NULL)
            printf("delete subscription group [%s] from broker [%s] in cluster [%s] success.\n", o.v['g'], addrs[i],
                   o.v['c']);
        rc |= resp == NULL;
        rk_cmd_free(resp);
    }
    if (rc == 0 && o.v['b'] == NULL) {      /* RocketMQ also deletes the group's retry and dead-letter topics */
        char t[2][RK_NAME_MAX + 8];
        snprintf(t[0], sizeof t[0], "%%RETRY%%%s", o.v['g']);
        snprintf(t[1], sizeof t[1], "%%DLQ%%%s", o.v['g']);
        for (int k = 0; k < 2; k++)
            if (rk_topic_name_valid(t[k]))
                rc |= delete_topic(c, o.v['n'], addrs, n, t[k], o.v['c']);
    }
    rk_mqclient_free(c);
    return rc;
}

/* ---------------------------------------------------------------- topics */

int rk__mqadmin_delete_topic(int argc, char **argv)
{
    aopts_t o;
    int rc = aparse(argc, argv, "n:t:c:", "tc", &o);
    if (rc || !valid_name(argv[0], "topic", o.v['t']))
        return rc ? rc : 2;
    rk_mqclient_t *c = rk__mqadmin_client(o.v['n']);
    char addrs[MAX_BROKERS][RK_ADDR_MAX];
    int n = c ? target_brokers(c, &o, argv[0], addrs) : -1;
    rc = n > 0 ? delete_topic(c, o.v['n'], addrs, n, o.v['t'], o.v['c']) : 1;
    rk_mqclient_free(c);
    return rc;
}

/* ---------------------------------------------------------------- reset offsets */

/* "now", milliseconds since 1970, or yyyy-MM-dd#HH:mm:ss:SSS (local time). */
static bool parse_time(const char *s, int64_t *out)
{
    if (strcmp(s, "now") == 0) {
        *out = rk_now_ms();
        return true;
    }
    if (rk_parse_int(s, out) == RK_OK && *out >= -1 && strspn(s, "-0123456789") == strlen(s))
        return true;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(s, "%Y-%m-%d#%H:%M:%S", &tm);
    int ms = 0, used = 0;
    if (rest == NULL || (*rest && (sscanf(rest, ":%3d%n", &ms, &used) != 1 || rest[used] != '\0' || ms < 0)))
        return false;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t == (time_t)-1)
        return false;
    *out = (int64_t)t * 1000 + ms;
    return true;
}

/* The old way (RocketMQ's resetOffsetByTimestampOld), for a group with no
 * live member: each queue's offset found by time and committed directly. */
static int reset_offline(rk_mqclient_t *c, const rk_topic_route_t *r, const rk_route_broker_t *b, const char *group,
                         const char *topic, int64_t ts, bool force)
{
    int rc = 0;
    const rk_route_queue_t *rq = NULL;
    for (size_t k = 0; k < r->nqueues; k++)
        if (strcmp(r->queues[k].broker, b->name) == 0)
            rq = &r->queues[k];
    for (int q = 0; rq != NULL && q < rq->read_queues; q++) {
        rk_cmd_t *req = named_request(RK_REQ_SEARCH_OFFSET_BY_TIMESTAMP, "topic", topic), *resp;
        if (req == NULL || rk_cmd_ext_set_i64(req, "queueId", q) != RK_OK ||
            rk_cmd_ext_set_i64(req, "timestamp", ts) != RK_OK) {
            rk_cmd_free(req);
            return 1;
        }
        int64_t at = 0, cur = -1;
        resp = rk__mqadmin_ask(c, b->master, req, "SEARCH_OFFSET_BY_TIMESTAMP");
        if (resp == NULL || rk_cmd_ext_i64(resp, "offset", &at) != RK_OK) {
            rk_cmd_free(resp);
            rc = 1;
            continue;
        }
        rk_cmd_free(resp);
        req = named_request(RK_REQ_QUERY_CONSUMER_OFFSET, "topic", topic);
        resp = NULL;
        if (req == NULL || rk_cmd_ext_set(req, "consumerGroup", group) != RK_OK ||
            rk_cmd_ext_set_i64(req, "queueId", q) != RK_OK) {
            rk_cmd_free(req);
            return 1;
        }
        if (rk_mqclient_invoke(c, b->master, req, &resp) == RK_OK && resp->code == RK_RESP_SUCCESS)
            rk_cmd_ext_i64(resp, "offset", &cur);       /* none: the group never committed here */
        rk_cmd_free(resp);
        int64_t to = force || cur < 0 || at < cur ? at : cur;
        req = named_request(RK_REQ_UPDATE_CONSUMER_OFFSET, "topic", topic);
        if (req == NULL || rk_cmd_ext_set(req, "consumerGroup", group) != RK_OK ||
            rk_cmd_ext_set_i64(req, "queueId", q) != RK_OK || rk_cmd_ext_set_i64(req, "commitOffset", to) != RK_OK) {
            rk_cmd_free(req);
            return 1;
        }
        resp = rk__mqadmin_ask(c, b->master, req, "UPDATE_CONSUMER_OFFSET");
        if (resp != NULL)
            printf("%-40s  %-40d  %-40" PRId64 "\n", b->name, q, to);
        rc |= resp == NULL;
        rk_cmd_free(resp);
    }
    return rc;
}

int rk__mqadmin_reset_offset_by_time(int argc, char **argv)
{
    aopts_t o;
    int rc = aparse(argc, argv, "n:g:t:s:f:c:", "gts", &o);
    if (rc || !valid_name(argv[0], "group", o.v['g']) || !valid_name(argv[0], "topic", o.v['t']))
        return rc ? rc : 2;
    int64_t ts;
    bool force = true;
    if (!parse_time(o.v['s'], &ts)) {
        fprintf(stderr, "resetOffsetByTime: -s must be now, milliseconds since 1970 or yyyy-MM-dd#HH:mm:ss:SSS\n");
        return 2;
    }
    if (o.v['f'] != NULL && rk_parse_bool(o.v['f'], &force) != RK_OK) {
        fprintf(stderr, "resetOffsetByTime: -f must be true or false\n");
        return 2;
    }
    rk_mqclient_t *c = rk__mqadmin_client(o.v['n']);
    if (c == NULL)
        return 1;
    rk_topic_route_t *r = NULL;
    if (rk_mqclient_route(c, o.v['t'], true, &r) != RK_OK) {
        fprintf(stderr, "resetOffsetByTime: topic %s has no route\n", o.v['t']);
        rk_mqclient_free(c);
        return 1;
    }
    printf("rollback consumer offset by specified group[%s], topic[%s], force[%s], timestamp(string)[%s], "
           "timestamp(long)[%" PRId64 "]\n", o.v['g'], o.v['t'], force ? "true" : "false", o.v['s'], ts);
    printf("%-40s  %-40s  %-40s\n", "#brokerName", "#queueId", "#offset");
    rc = 0;
    for (size_t k = 0; k < r->nbrokers; k++) {
        const rk_route_broker_t *b = &r->brokers[k];
        if (!b->master[0])
            continue;
        rk_cmd_t *req = named_request(RK_REQ_INVOKE_BROKER_TO_RESET_OFFSET, "topic", o.v['t']), *resp = NULL;
        if (req == NULL || rk_cmd_ext_set(req, "group", o.v['g']) != RK_OK ||
            rk_cmd_ext_set_i64(req, "timestamp", ts) != RK_OK ||
            rk_cmd_ext_set(req, "isForce", force ? "true" : "false") != RK_OK) {
            rk_cmd_free(req);
            rc = 1;
            continue;
        }
        if (rk_mqclient_invoke(c, b->master, req, &resp) != RK_OK) {
            fprintf(stderr, "mqadmin: INVOKE_BROKER_TO_RESET_OFFSET: no answer from %s\n", b->master);
            rc = 1;
            continue;
        }
        if (resp->code == RK_RESP_CONSUMER_NOT_ONLINE) {
            rk_cmd_free(resp);
            rc |= reset_offline(c, r, b, o.v['g'], o.v['t'], ts, force);
            continue;
        }
        if (resp->code != RK_RESP_SUCCESS) {
            char why[300];
            rk_mqclient_resp_describe(resp, why, sizeof why);
            fprintf(stderr, "mqadmin: INVOKE_BROKER_TO_RESET_OFFSET: %s\n", why);
            rk_cmd_free(resp);
            rc = 1;
            continue;
        }
        rk_mq_map_entry_t *e = NULL;
        size_t n = 0;
        if (rk_mq_map_parse((const char *)resp->body, resp->body_len, "offsetTable", &e, &n) == RK_OK)
            for (size_t i = 0; i < n; i++)
                printf("%-40s  %-40d  %-40.0f\n", e[i].mq.broker, e[i].mq.queue_id,
                       cJSON_IsNumber(e[i].value) ? e[i].value->valuedouble : -1.0);
        rk_mq_map_free(e, n);
        rk_cmd_free(resp);
    }
    rk_topic_route_release(r);
    rk_mqclient_free(c);
    return rc;
}

/* ---------------------------------------------------------------- broker figures and config */

int rk__mqadmin_broker_consume_stats(int argc, char **argv)
{
    aopts_t o;
    int rc = aparse(argc, argv, "n:b:", "b", &o);
    if (rc)
        return rc;
    rk_mqclient_t *c = rk__mqadmin_client(o.v['n']);
    rk_cmd_t *resp = c ? rk__mqadmin_ask(c, o.v['b'], rk_mqclient_request(RK_REQ_GET_BROKER_CONSUME_STATS),
                                         "GET_BROKER_CONSUME_STATS")
                       : NULL;
    if (resp == NULL) {
        rk_mqclient_free(c);
        return 1;
    }
    printf("%-64s  %-64s  %-32s  %-4s  %-20s  %-20s  %-20s  %s\n", "#Topic", "#Group", "#Broker Name", "#QID",
           "#Broker Offset", "#Consumer Offset", "#Diff", "#LastTime");
    /* consumeStatsList: [{"group":[ConsumeStats]}]; each ConsumeStats holds a MessageQueue-keyed map */
    const char *text = (const char *)resp->body;
    size_t len = resp->body_len, pos = 0;
    const char *key = "\"consumeStatsList\":[";
    const char *list = memmem(text, len, key, strlen(key));
    pos = list ? (size_t)(list - text) + strlen(key) : len;
    int64_t total = 0;
    while (pos < len && text[pos] == '{') {
        /* {"group":[{"consumeTps":..,"offsetTable":{...}}]} — the group name, then its stats up to "]}" */
        const char *g = text + pos + 2, *gend = memchr(g, '"', len - pos - 2);
        const char *end = gend ? memmem(gend, len - (size_t)(gend - text), "]}", 2) : NULL;
        if (gend == NULL || end == NULL)
            break;
        char group[RK_NAME_MAX];
        snprintf(group, sizeof group, "%.*s", (int)(gend - g), g);
        rk_consume_row_t *rows = NULL;
        size_t n = 0, cap = 0;
        rk_consume_stats_append(gend, (size_t)(end - gend), &rows, &n, &cap, SIZE_MAX);
        for (size_t i = 0; i < n; i++) {
            const rk_consume_row_t *q = &rows[i];
            char when[64];
            printf("%-64s  %-64s  %-32s  %-4d  %-20" PRId64 "  %-20" PRId64 "  %-20" PRId64 "  %s\n", q->mq.topic,
                   group, q->mq.broker, q->mq.queue_id, q->broker_off, q->consumer_off, q->broker_off - q->consumer_off,
                   rk__mqadmin_fmt_time(q->last, when, sizeof when));
            total += q->broker_off - q->consumer_off;
        }
        free(rows);
        pos = (size_t)(end - text) + 2;
        if (pos < len && text[pos] == ',')
            pos++;
    }
    printf("\nDiff Total: %" PRId64 "\n", total);
    rk_cmd_free(resp);
    rk_mqclient_free(c);
    return 0;
}

static int cmp_line(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int rk__mqadmin_get_broker_config(int argc, char **argv)
{
    aopts_t o;
    int rc = aparse(argc, argv, "n:b:c:", "", &o);
    if (rc)
        return rc;
    rk_mqclient_t *c = rk__mqadmin_client(o.v['n']);
    char addrs[MAX_BROKERS][RK_ADDR_MAX];
    int n = c ? target_brokers(c, &o, argv[0], addrs) : -1;
    rc = n > 0 ? 0 : 1;
    for (int i = 0; i < n; i++) {
        rk_cmd_t *resp = rk__mqadmin_ask(c, addrs[i], rk_mqclient_request(RK_REQ_GET_BROKER_CONFIG), "GET_BROKER_CONFIG");
        if (resp == NULL) {
            rc = 1;
            continue;
        }
        char *text = malloc(resp->body_len + 1);
        char **lines = calloc(resp->body_len / 2 + 2, sizeof *lines);
        size_t nl = 0;
        if (text != NULL && lines != NULL) {
            memcpy(text, resp->body, resp->body_len);
            text[resp->body_len] = '\0';
            for (char *save = NULL, *l = strtok_r(text, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save))
                lines[nl++] = l;
            qsort(lines, nl, sizeof *lines, cmp_line);
            printf("============%s============\n", addrs[i]);
            for (size_t k = 0; k < nl; k++) {
                char *eq = strchr(lines[k], '=');
                if (eq == NULL)
                    continue;
                *eq = '\0';
                printf("%-50s=  %s\n", lines[k], eq + 1);
            }
        } else {
            rc = 1;
        }
        free(lines);
        free(text);
        rk_cmd_free(resp);
    }
    rk_mqclient_free(c);
    return rc;
}

int rk__mqadmin_update_broker_config(int argc, char **argv)
{
    aopts_t o;
    int rc = aparse(argc, argv, "n:b:c:k:v:", "kv", &o);
    if (rc)
        return rc;
    if (strpbrk(o.v['k'], "=\n#") != NULL || strchr(o.v['v'], '\n') != NULL || !*o.v['k']) {
        fprintf(stderr, "updateBrokerConfig: -k must be a key (no '=', '#' or newline) and -v one line\n");
        return 2;
    }
    rk_mqclient_t *c = rk__mqadmin_client(o.v['n']);
    char addrs[MAX_BROKERS][RK_ADDR_MAX];
    int n = c ? target_brokers(c, &o, argv[0], addrs) : -1;
    rc = n > 0 ? 0 : 1;
    char body[2048];
    int blen = snprintf(body, sizeof body, "%s=%s\n", o.v['k'], o.v['v']);
    if (blen < 0 || (size_t)blen >= sizeof body) {
        fprintf(stderr, "updateBrokerConfig: the key and value are too long\n");
        rk_mqclient_free(c);
        return 2;
    }
    for (int i = 0; i < n; i++) {
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_UPDATE_BROKER_CONFIG);
        if (req == NULL || rk_cmd_set_body(req, body, (size_t)blen) != RK_OK) {
            rk_cmd_free(req);
            rc = 1;
            continue;
        }
        rk_cmd_t *resp = rk__mqadmin_ask(c, addrs[i], req, "UPDATE_BROKER_CONFIG");
        if (resp != NULL)
            printf("update broker config success, %s\n", addrs[i]);
        rc |= resp == NULL;
        rk_cmd_free(resp);
    }
    rk_mqclient_free(c);
    return rc;
}

/* ---------------------------------------------------------------- consume directly */

/* queryMsgById -i OFFSET_MSG_ID -g GROUP -d CLIENT_ID: that client runs its
 * listener on the message now (CONSUME_MESSAGE_DIRECTLY through the broker
 * that stores it); without -d, chapter 7's queryMsgById. */
int rk__mqadmin_query_msg_by_id(int argc, char **argv)
{
    bool direct = false;
    for (int i = 1; i < argc; i++)
        direct = direct || strcmp(argv[i], "-d") == 0;
    if (!direct)
        return rk__mqadmin_query_by_id(argc, argv);
    aopts_t o;
    int rc = aparse(argc, argv, "n:i:t:g:d:", "igd", &o);
    if (rc || !valid_name(argv[0], "group", o.v['g']))
        return rc ? rc : 2;
    rk_host_t host;
    int64_t phys;
    if (rk_msgid_decode(o.v['i'], &host, &phys) != RK_OK) {
        fprintf(stderr, "queryMsgById: with -d, -i must be an offset message id (what sendMessage prints as "
                        "OffsetMsgId)\n");
        return 2;
    }
    char addr[64];
    rk_host_format(&host, addr, sizeof addr);
    rk_mqclient_t *c = rk__mqadmin_client(o.v['n']);
    rk_cmd_t *req = c ? named_request(RK_REQ_CONSUME_MESSAGE_DIRECTLY, "consumerGroup", o.v['g']) : NULL;
    if (req == NULL || rk_cmd_ext_set(req, "clientId", o.v['d']) != RK_OK ||
        rk_cmd_ext_set(req, "msgId", o.v['i']) != RK_OK) {
        rk_cmd_free(req);
        rk_mqclient_free(c);
        return 1;
    }
    cJSON *r = rk_mqadmin_ask_json(c, addr, req, "CONSUME_MESSAGE_DIRECTLY");
    rk_mqclient_free(c);
    if (r == NULL)
        return 1;
    bool order = false, auto_commit = false;
    int64_t spent = 0;
    rk_json_get_bool(r, "order", &order);
    rk_json_get_bool(r, "autoCommit", &auto_commit);
    rk_json_get_i64(r, "spentTimeMills", &spent);
    const char *res = rk_json_get_str(r, "consumeResult"), *remark = rk_json_get_str(r, "remark");
    printf("ConsumeMessageDirectlyResult [order=%s, autoCommit=%s, consumeResult=%s, remark=%s, spentTimeMills=%"
           PRId64 "]\n", order ? "true" : "false", auto_commit ? "true" : "false", res ? res : "null",
           remark ? remark : "null", spent);
    bool ok = res != NULL && strcmp(res, "CR_SUCCESS") == 0;
    cJSON_Delete(r);
    return ok ? 0 : 1;
}

/* ---------------------------------------------------------------- consume queue */

/* queryCq: QUERY_CONSUME_QUEUE to -b, or to the master of the first broker of the topic's route. */
int rk__mqadmin_query_cq(int argc, char **argv)
{
    aopts_t o;
    int rc = aparse(argc, argv, "n:t:q:i:c:b:g:", "tqi", &o);
    if (rc || !valid_name(argv[0], "topic", o.v['t']))
        return rc ? rc : 2;
    int64_t q, index, count = 10;
    if (!rk_tool_int("-q", o.v['q'], 0, 1023, &q) || !rk_tool_int("-i", o.v['i'], 0, INT64_MAX, &index) ||
        (o.v['c'] != NULL && !rk_tool_int("-c", o.v['c'], 1, 256, &count)))
        return 2;
    rk_mqclient_t *c = rk__mqadmin_client(o.v['n']);
    if (c == NULL)
        return 1;
    char addr[RK_ADDR_MAX] = "";
    if (o.v['b'] != NULL) {
        snprintf(addr, sizeof addr, "%s", o.v['b']);
    } else {
        rk_topic_route_t *r = NULL;
        if (rk_mqclient_route(c, o.v['t'], true, &r) == RK_OK && r->nbrokers > 0)
            snprintf(addr, sizeof addr, "%s", r->brokers[0].master);
        rk_topic_route_release(r);
    }
    rk_cmd_t *req = addr[0] ? named_request(RK_REQ_QUERY_CONSUME_QUEUE, "topic", o.v['t']) : NULL;
    if (req == NULL || rk_cmd_ext_set_i64(req, "queueId", q) != RK_OK || rk_cmd_ext_set_i64(req, "index", index) != RK_OK ||
        rk_cmd_ext_set_i64(req, "count", count) != RK_OK ||
        (o.v['g'] != NULL && rk_cmd_ext_set(req, "consumerGroup", o.v['g']) != RK_OK)) {
        if (!addr[0])
            fprintf(stderr, "queryCq: topic %s has no route; give -b BROKER_ADDR\n", o.v['t']);
        rk_cmd_free(req);
        rk_mqclient_free(c);
        return 1;
    }
    cJSON *j = rk_mqadmin_ask_json(c, addr, req, "QUERY_CONSUME_QUEUE");
    rk_mqclient_free(c);
    if (j == NULL)
        return 1;
    cJSON *sub = cJSON_GetObjectItemCaseSensitive(j, "subscriptionData");
    char *subs = sub ? rk_json_print(sub, 1) : NULL;
    int64_t max = 0, min = 0;
    rk_json_get_i64(j, "maxQueueIndex", &max);
    rk_json_get_i64(j, "minQueueIndex", &min);
    printf("SubscriptionData: \n%s\n======================================\n", subs ? subs : "null");
    free(subs);
    printf("Filter data: \nnull\n======================================\n");
    printf("Queue data: \nmax: %" PRId64 ", min: %" PRId64 "\n======================================\n", max, min);
    int i = 0;
    cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "queueData");
    for (cJSON *u = list ? list->child : NULL; u != NULL; u = u->next, i++) {
        int64_t off = 0, size = 0, tags = 0;
        rk_json_get_i64(u, "physicOffset", &off);
        rk_json_get_i64(u, "physicSize", &size);
        rk_json_get_i64(u, "tagsCode", &tags);
        printf("idx: %" PRId64 "\nConsumeQueueData{physicOffset=%" PRId64 ", physicSize=%" PRId64 ", tagsCode=%" PRId64
               ", extendDataJson='null', bitMap='null', eval=false, msg='null'}\n======================================\n",
               index + i, off, size, tags);
    }
    cJSON_Delete(j);
    return 0;
}
