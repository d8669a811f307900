/* broker_admin.c — the admin requests of RocketMQ's tools and Dashboard (see rk/broker_admin.h).
 *
 * Banner map: helpers · connections · groups · topics · reset offset ·
 * forwarded to a client · broker consume stats · broker config · module. */
#include "rk/broker_admin.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/buf.h"
#include "rk/client_message.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/grow.h"
#include "rk/json.h"
#include "rk/log.h"
#include "rk/message.h"
#include "rk/request_code.h"

typedef struct admin {
    rk_broker_t *b;
    rk_commitlog_config_t cl;           /* the commitlog's settings as the broker read them (GET_BROKER_CONFIG) */
    bool cl_read;
    _Atomic int64_t config_version;     /* GET_BROKER_CONFIG's dataVersion counter */
    _Atomic int64_t config_ts;
} admin_t;

/* ------------------------------------------------------------ helpers */

static void reply_buf(rk_reply_t *reply, rk_buf_t *b)
{
    if (b->err != 0 || rk_buf_cstr(b) != RK_OK) {
        rk_buf_free(b);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    size_t len;
    rk_reply_owned(reply, (char *)rk_buf_detach(b, &len));
}

static void reply_json(rk_reply_t *reply, cJSON *j)
{
    char *s = j ? rk_json_print(j, 0) : NULL;
    cJSON_Delete(j);
    rk_reply_owned(reply, s);
}

/* A name from the request header that must follow the topic/group rule;
 * NULL (and the request answered) when absent or not valid. */
static const char *name_field(const rk_cmd_t *req, rk_reply_t *reply, const char *key)
{
    const char *v = rk_cmd_ext_get(req, key);
    if (v == NULL || !rk_topic_name_valid(v)) {
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "request header field %s: %s%.60s%s; it must match "
                       "^[%%|a-zA-Z0-9_-]+$ with at most 127 characters", key, v ? "\"" : "missing",
                       v ? v : "", v ? "\" is not a valid name" : "");
        return NULL;
    }
    return v;
}

static const char *consume_type_name(int t) { return t == RK_CONSUME_ACTIVELY ? "CONSUME_ACTIVELY" : "CONSUME_PASSIVELY"; }
static const char *model_name(int m) { return m == RK_MODEL_BROADCASTING ? "BROADCASTING" : "CLUSTERING"; }
static const char *from_name(int f)
{
    return f == RK_FROM_FIRST_OFFSET ? "CONSUME_FROM_FIRST_OFFSET"
           : f == RK_FROM_TIMESTAMP  ? "CONSUME_FROM_TIMESTAMP"
                                     : "CONSUME_FROM_LAST_OFFSET";
}

/* Topics a client may not delete: RocketMQ's system topics, and the cluster's and the
 * broker's own names (TopicConfigManager makes topics of them). */
static bool builtin_topic(rk_broker_t *b, const char *topic)
{
    if (rk_topic_is_system(topic))
        return true;
    const rk_broker_config_t *cfg = rk_broker_config(b);
    return strcmp(topic, cfg->cluster_name) == 0 || strcmp(topic, cfg->broker_name) == 0;
}

/* ------------------------------------------------------------ connections */

static cJSON *connection_json(const rk_client_info_t *ci)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "clientAddr", ci->addr);
    cJSON_AddStringToObject(o, "clientId", ci->client_id);
    cJSON_AddStringToObject(o, "language", rk_language_name(ci->language));
    cJSON_AddNumberToObject(o, "version", ci->version);
    return o;
}

static cJSON *subscription_json(const rk_subscription_t *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "classFilterMode", false);
    cJSON *codes = cJSON_AddArrayToObject(o, "codeSet"), *tags = cJSON_AddArrayToObject(o, "tagsSet");
    for (size_t i = 0; i < s->ntags; i++) {
        cJSON_AddItemToArray(codes, cJSON_CreateNumber(s->codes ? s->codes[i] : 0));
        cJSON_AddItemToArray(tags, cJSON_CreateString(s->tags[i]));
    }
    cJSON_AddStringToObject(o, "expressionType", s->expression_type ? s->expression_type : "TAG");
    cJSON_AddStringToObject(o, "subString", s->sub_string ? s->sub_string : "*");
    rk_json_add_i64(o, "subVersion", s->sub_version);
    cJSON_AddStringToObject(o, "topic", s->topic);
    return o;
}

/* GET_CONSUMER_CONNECTION_LIST: ConsumerConnection. */
static void p_consumer_connections(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    admin_t *a = ctx;
    const char *group = name_field(req, reply, "consumerGroup");
    if (group == NULL)
        return;
    rk_group_clients_t gc;
    int rc = rk_client_manager_group_info(rk_broker_clients(a->b), group, false, &gc);
    if (rc == RK_ENOTFOUND) {
        rk_reply_codef(reply, RK_RESP_CONSUMER_NOT_ONLINE, "the consumer group[%s] not online", group);
        return;
    }
    if (rc != RK_OK) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, rk_strerror(rc));
        return;
    }
    cJSON *o = cJSON_CreateObject(), *set = cJSON_AddArrayToObject(o, "connectionSet");
    for (size_t i = 0; i < gc.n; i++)
        cJSON_AddItemToArray(set, connection_json(&gc.clients[i]));
    cJSON_AddStringToObject(o, "consumeFromWhere", from_name(gc.consume_from_where));
    cJSON_AddStringToObject(o, "consumeType", consume_type_name(gc.consume_type));
    cJSON_AddStringToObject(o, "messageModel", model_name(gc.message_model));
    cJSON *subs = cJSON_AddObjectToObject(o, "subscriptionTable");
    for (size_t i = 0; i < gc.nsubs; i++)
        cJSON_AddItemToObject(subs, gc.subs[i].topic, subscription_json(&gc.subs[i]));
    rk_group_clients_free(&gc);
    reply_json(reply, o);
}

/* GET_PRODUCER_CONNECTION_LIST: ProducerConnection. */
static void p_producer_connections(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    admin_t *a = ctx;
    const char *group = name_field(req, reply, "producerGroup");
    if (group == NULL)
        return;
    rk_group_clients_t gc;
    int rc = rk_client_manager_group_info(rk_broker_clients(a->b), group, true, &gc);
    if (rc != RK_OK) {
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, rc == RK_ENOTFOUND ? "the producer group[%s] not exist" : "%s",
                       rc == RK_ENOTFOUND ? group : rk_strerror(rc));
        return;
    }
    cJSON *o = cJSON_CreateObject(), *set = cJSON_AddArrayToObject(o, "connectionSet");
    for (size_t i = 0; i < gc.n; i++)
        cJSON_AddItemToArray(set, connection_json(&gc.clients[i]));
    rk_group_clients_free(&gc);
    reply_json(reply, o);
}

/* ------------------------------------------------------------ groups */

/* One number of a SubscriptionGroupConfig body: absent keeps *out; present
 * it must be an integer in [min, max]. */
static bool body_num(const cJSON *o, const char *key, int64_t min, int64_t max, int64_t *out, char *why, size_t len)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (it == NULL)
        return true;
    int64_t v;
    if (rk_json_get_i64(o, key, &v) == RK_OK && v >= min && v <= max) {
        *out = v;
        return true;
    }
    snprintf(why, len, "%s must be an integer in [%" PRId64 ", %" PRId64 "]", key, min, max);
    return false;
}

static bool body_bool(const cJSON *o, const char *key, bool *out, char *why, size_t len)
{
    if (cJSON_GetObjectItemCaseSensitive(o, key) == NULL || rk_json_get_bool(o, key, out) == RK_OK)
        return true;
    snprintf(why, len, "%s must be true or false", key);
    return false;
}

/* SubscriptionGroupConfig JSON -> cfg (defaults for absent members). */
static bool parse_group_body(const rk_cmd_t *req, rk_group_config_t *cfg, char *why, size_t len)
{
    if (req->body_len == 0 || req->body_len > RK_ADMIN_MAX_BODY) {
        snprintf(why, len, "the body must be a SubscriptionGroupConfig of 1 to %d bytes (it has %zu)",
                 RK_ADMIN_MAX_BODY, req->body_len);
        return false;
    }
    cJSON *o = rk_json_parse((const char *)req->body, req->body_len);
    const char *name = rk_json_get_str(o, "groupName");
    if (!cJSON_IsObject(o) || !rk_topic_name_valid(name)) {
        snprintf(why, len, "the body must be a SubscriptionGroupConfig JSON object whose groupName matches "
                 "^[%%|a-zA-Z0-9_-]+$ (at most 127 characters)");
        cJSON_Delete(o);
        return false;
    }
    rk_group_defaults(cfg, name);
    int64_t rq = cfg->retry_queue_nums, rm = cfg->retry_max_times, bid = cfg->broker_id,
            slow = cfg->which_broker_when_slow;
    bool ok = body_bool(o, "consumeEnable", &cfg->consume_enable, why, len) &&
              body_bool(o, "consumeFromMinEnable", &cfg->consume_from_min_enable, why, len) &&
              body_bool(o, "consumeBroadcastEnable", &cfg->consume_broadcast_enable, why, len) &&
              body_bool(o, "notifyConsumerIdsChangedEnable", &cfg->notify_ids_changed, why, len) &&
              body_num(o, "retryQueueNums", 0, RK_TOPIC_MAX_QUEUES, &rq, why, len) &&
              body_num(o, "retryMaxTimes", -1, 1000, &rm, why, len) &&
              body_num(o, "brokerId", 0, 1 << 20, &bid, why, len) &&
              body_num(o, "whichBrokerWhenConsumeSlowly", 0, 1 << 20, &slow, why, len);
    cfg->retry_queue_nums = (int32_t)rq;
    cfg->retry_max_times = (int32_t)rm;
    cfg->broker_id = bid;
    cfg->which_broker_when_slow = slow;
    cJSON_Delete(o);
    return ok;
}

/* UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: the body's group, written before the answer. */
static void p_update_group(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    admin_t *a = ctx;
    rk_group_config_t cfg;
    char why[300];
    if (!parse_group_body(req, &cfg, why, sizeof why)) {
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "UPDATE_AND_CREATE_SUBSCRIPTIONGROUP refused: %s", why);
        return;
    }
    int rc = rk_group_put(rk_broker_groups(a->b), &cfg);
    if (rc == RK_OK)
        rk_log_info("admin", "%s: subscription group %s created or updated", rk_conn_peer(conn), cfg.name);
    rk_reply_code(reply, rc == RK_OK ? RK_RESP_SUCCESS : RK_RESP_SYSTEM_ERROR, rc == RK_OK ? NULL : rk_strerror(rc));
}

/* GET_ALL_SUBSCRIPTIONGROUP_CONFIG: SubscriptionGroupWrapper (from memory). */
static void p_all_groups(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    (void)req;
    admin_t *a = ctx;
    rk_reply_owned(reply, rk_group_encode(rk_broker_groups(a->b)));
}

/* DELETE_SUBSCRIPTIONGROUP: success whether it existed or not (RocketMQ's answer). */
static void p_delete_group(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    admin_t *a = ctx;
    const char *group = name_field(req, reply, "groupName");
    if (group == NULL)
        return;
    int rc = rk_group_delete(rk_broker_groups(a->b), group);
    if (rc == RK_OK)
        rk_log_info("admin", "%s: subscription group %s deleted", rk_conn_peer(conn), group);
    if (rc != RK_OK && rc != RK_ENOTFOUND) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, rk_strerror(rc));
        return;
    }
    rk_reply_code(reply, RK_RESP_SUCCESS, NULL);
}

/* ------------------------------------------------------------ topics */

/* DELETE_TOPIC_IN_BROKER: the topic's config goes (success if it was not
 * there, as RocketMQ); the broker re-registers. The name servers keep their
 * route until told (DELETE_TOPIC_IN_NAMESRV: mqadmin deleteTopic does). */
static void p_delete_topic(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    admin_t *a = ctx;
    const char *topic = name_field(req, reply, "topic");
    if (topic == NULL)
        return;
    if (builtin_topic(a->b, topic)) {
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "the topic[%s] is a system topic of this broker, it cannot be "
                       "deleted", topic);
        return;
    }
    int rc = rk_topic_delete(rk_broker_topics(a->b), topic);
    if (rc != RK_OK && rc != RK_ENOTFOUND) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, rk_strerror(rc));
        return;
    }
    if (rc == RK_OK) {
        rk_log_info("admin", "%s: topic %s deleted", rk_conn_peer(conn), topic);
        rk_broker_topics_changed(a->b);
    }
    rk_reply_code(reply, RK_RESP_SUCCESS, NULL);
}

typedef struct names {
    char **v;
    size_t n, cap;
} names_t;

static void names_add(names_t *x, const char *s)
{
    for (size_t i = 0; i < x->n; i++)
        if (strcmp(x->v[i], s) == 0)
            return;
    if (RK_GROW(x->v, x->cap, x->n + 1, 16) != RK_OK)
        return;
    if ((x->v[x->n] = strdup(s)) != NULL)
        x->n++;
}

/* The subscription groups of the table (names only); malloc'ed strings. */
static void table_groups(rk_broker_t *b, names_t *out)
{
    char *s = rk_group_encode(rk_broker_groups(b));
    cJSON *j = s ? rk_json_parse(s, strlen(s)) : NULL;
    free(s);
    cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "subscriptionGroupTable");
    for (cJSON *g = t ? t->child : NULL; g != NULL; g = g->next)
        if (g->string != NULL)
            names_add(out, g->string);
    cJSON_Delete(j);
}

static int cmp_str(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

/* QUERY_TOPIC_CONSUME_BY_WHO: GroupList — groups with a live member
 * subscribed to the topic, and groups with an offset in one of its queues. */
static void p_consume_by_who(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    admin_t *a = ctx;
    const char *topic = name_field(req, reply, "topic");
    if (topic == NULL)
        return;
    names_t x = {0}, all = {0};
    size_t n = 0;
    char **live = rk_client_manager_groups_of_topic(rk_broker_clients(a->b), topic, &n);
    for (size_t i = 0; i < n; i++)
        names_add(&x, live[i]);
    rk_strv_free(live, n);
    rk_topic_config_t tc;
    int nq = rk_topic_get(rk_broker_topics(a->b), topic, &tc) == RK_OK ? tc.write_queues : 0;
    table_groups(a->b, &all);
    for (size_t i = 0; i < all.n; i++)
        for (int q = 0; q < nq; q++)
            if (rk_store_query_offset(rk_broker_store(a->b), all.v[i], topic, q) >= 0) {
                names_add(&x, all.v[i]);
                break;
            }
    rk_strv_free(all.v, all.n);
    if (x.n > 1)
        qsort(x.v, x.n, sizeof *x.v, cmp_str);
    cJSON *o = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(o, "groupList");
    for (size_t i = 0; i < x.n; i++)
        cJSON_AddItemToArray(list, cJSON_CreateString(x.v[i]));
    rk_strv_free(x.v, x.n);
    reply_json(reply, o);
}

/* ------------------------------------------------------------ reset offset */

typedef struct push_reset {
    admin_t *a;
    char group[RK_NAME_MAX];
    rk_cmd_t *cmd;              /* the RESET_CONSUMER_CLIENT_OFFSET to send (a copy each) */
} push_reset_t;

/* Loop thread: RESET_CONSUMER_CLIENT_OFFSET, oneway, to every member of
 * the group (RocketMQ's Broker2Client.resetOffset sends it oneway: a Java
 * consumer's ClientRemotingProcessor answers nothing). */
static void push_reset(void *arg)
{
    push_reset_t *p = arg;
    size_t n = 0;
    uint64_t *ids = rk_client_manager_connections(rk_broker_clients(p->a->b), p->group, &n);
    for (size_t i = 0; i < n; i++) {
        rk_conn_t *c = rk_rserver_conn(rk_broker_server(p->a->b), ids[i]);
        rk_cmd_t *cmd = c ? rk_cmd_clone(p->cmd) : NULL;
        if (cmd != NULL && rk_conn_send_oneway(c, cmd) != RK_OK)
            rk_log_warn("admin", "reset offset of %s: could not push to %s", p->group, rk_conn_peer(c));
    }
    free(ids);
    rk_cmd_free(p->cmd);
    free(p);
}

/* INVOKE_BROKER_TO_RESET_OFFSET (worker pool: it searches the consume
 * queues by time). Per queue of the topic: the first offset stored at or
 * after timestamp (-1: the queue's end); the group's offset moves there when
 * forced or when it is earlier than the committed one. The new offsets are
 * committed here and pushed to the live members, which jump to them. */
static void p_reset_offset(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    admin_t *a = ctx;
    const char *topic = name_field(req, reply, "topic");
    const char *group = topic ? name_field(req, reply, "group") : NULL;
    if (group == NULL)
        return;
    int64_t ts = 0;
    bool force = true;
    int trc = rk_cmd_ext_i64(req, "timestamp", &ts);
    if (trc != RK_OK || ts < -1 || rk_cmd_ext_bool(req, "isForce", &force) == RK_EINVAL) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "request header field timestamp must be milliseconds since 1970 "
                      "(or -1: the end of each queue) and isForce true or false");
        return;
    }
    rk_topic_config_t tc;
    if (rk_topic_get(rk_broker_topics(a->b), topic, &tc) != RK_OK) {
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "[reset-offset] reset offset failed, no topic in this broker. "
                       "topic=%s", topic);
        return;
    }
    size_t nlive = 0;
    free(rk_client_manager_connections(rk_broker_clients(a->b), group, &nlive));
    rk_store_t *st = rk_broker_store(a->b);
    const char *bname = rk_broker_config(a->b)->broker_name;
    int64_t *target = calloc((size_t)tc.write_queues + 1, sizeof *target);
    if (target == NULL) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    for (int q = 0; q < tc.write_queues; q++) {
        int64_t committed = rk_store_query_offset(st, group, topic, q);
        if (committed < 0 && nlive == 0) {
            free(target);
            rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "THe consumer group <%s> not exist", group);
            return;
        }
        int64_t at = ts == -1 ? rk_store_max_offset(st, topic, q) : rk_store_offset_by_time(st, topic, q, ts);
        if (at < 0)
            at = 0;
        target[q] = force || committed < 0 || at < committed ? at : committed;
    }
    if (nlive == 0) {
        free(target);
        rk_reply_codef(reply, RK_RESP_CONSUMER_NOT_ONLINE, "Consumer not online, so can not reset offset, Group: %s "
                       "Topic: %s Timestamp: %" PRId64, group, topic, ts);
        return;
    }
    rk_buf_t body = {0};
    rk_buf_put_str(&body, "{\"offsetTable\":{");
    for (int q = 0; q < tc.write_queues; q++) {
        if (q)
            rk_buf_put_u8(&body, ',');
        rk_buf_put_mq_key(&body, bname, topic, q);
        rk_buf_printf(&body, "%" PRId64, target[q]);
        rk_store_commit_offset(st, group, topic, q, target[q]);
    }
    rk_buf_put_str(&body, "}}");
    free(target);
    rk_log_info("admin", "%s: offsets of group %s on topic %s reset to time %" PRId64 "%s", rk_conn_peer(conn), group,
                topic, ts, force ? " (forced)" : "");
    push_reset_t *p = body.err == 0 ? calloc(1, sizeof *p) : NULL;
    rk_cmd_t *push = p ? rk_cmd_new(RK_REQ_RESET_CONSUMER_CLIENT_OFFSET) : NULL;
    if (push != NULL) {
        rk_cmd_ext_set(push, "topic", topic);
        rk_cmd_ext_set(push, "group", group);
        rk_cmd_ext_set_i64(push, "timestamp", ts);
        rk_cmd_ext_set(push, "isForce", force ? "true" : "false");
        rk_cmd_set_body(push, body.data, body.len);
        p->a = a;
        p->cmd = push;
        snprintf(p->group, sizeof p->group, "%s", group);
        if (rk_rserver_post(rk_broker_server(a->b), push_reset, p) != RK_OK) {
            rk_cmd_free(push);
            free(p);
            p = NULL;
        }
    } else {
        free(p);
        p = NULL;
    }
    if (p == NULL)
        rk_log_warn("admin", "reset offset of %s: the members were not told (out of memory); they take the new "
                    "offsets at their next rebalance", group);
    reply_buf(reply, &body);
}

/* ------------------------------------------------------------ forwarded to a client */

typedef struct fwd {
    rk_reply_t *reply;
} fwd_t;

/* Loop thread: the client's answer (or its absence) answers the admin. */
static void fwd_done(void *arg, int status, rk_cmd_t *resp)
{
    fwd_t *f = arg;
    const rk_cmd_t *req = rk_reply_request(f->reply);
    const char *client = rk_cmd_ext_get(req, "clientId");
    if (status != RK_OK) {
        rk_reply_codef(f->reply, RK_RESP_SYSTEM_ERROR, "invoke consumer <%.100s> <%.200s> Exception: %s",
                       rk_cmd_ext_get(req, "consumerGroup"), client ? client : "", rk_strerror(status));
    } else {
        rk_cmd_t *out = rk_cmd_new_response(req, resp->code, resp->remark);
        int rc = out ? RK_OK : RK_ENOMEM;
        for (size_t i = 0; rc == RK_OK && i < resp->next; i++)
            rc = rk_cmd_ext_set(out, resp->ext[i].key, resp->ext[i].value);
        if (rc == RK_OK && resp->body_len > 0) {
            rk_cmd_own_body(out, resp->body, resp->body_len);
            resp->body = NULL;
            resp->body_len = 0;
        }
        if (rc != RK_OK) {
            rk_cmd_free(out);
            rk_reply_code(f->reply, RK_RESP_SYSTEM_ERROR, "out of memory");
        } else {
            rk_reply_send(f->reply, out);
        }
    }
    rk_cmd_free(resp);
    free(f);
}

/* Loop thread: sends fwd (taken) to the group's member clientId; the
 * request is answered from its response. */
static void forward(admin_t *a, rk_cmd_t *req, rk_reply_t *reply, rk_cmd_t *fwd)
{
    const char *group = rk_cmd_ext_get(req, "consumerGroup"), *client = rk_cmd_ext_get(req, "clientId");
    uint64_t id = 0;
    rk_conn_t *c = NULL;
    if (rk_client_manager_find_client(rk_broker_clients(a->b), group, client, &id, NULL) == RK_OK)
        c = rk_rserver_conn(rk_broker_server(a->b), id);
    if (c == NULL) {
        rk_cmd_free(fwd);
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "The Consumer <%s> <%.200s> not online", group, client);
        return;
    }
    fwd_t *f = malloc(sizeof *f);
    if (f == NULL) {
        rk_cmd_free(fwd);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    f->reply = reply;
    int rc = rk_conn_invoke_async(c, fwd, RK_ADMIN_CLIENT_TIMEOUT_MS, fwd_done, f);
    if (rc != RK_OK) {
        free(f);
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "invoke consumer <%s> <%.200s> Exception: %s", group, client,
                       rk_strerror(rc));
    }
}

/* The header fields both forwarded requests need; false when answered. */
static bool client_fields(const rk_cmd_t *req, rk_reply_t *reply)
{
    const char *client = rk_cmd_ext_get(req, "clientId");
    if (name_field(req, reply, "consumerGroup") == NULL)
        return false;
    if (client == NULL || !*client || strlen(client) > 255) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "request header field clientId is required (at most 255 bytes)");
        return false;
    }
    return true;
}

/* GET_CONSUMER_RUNNING_INFO: the client answers ConsumerRunningInfo. */
static void p_running_info(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    if (!client_fields(req, reply))
        return;
    rk_cmd_t *fwd = rk_cmd_clone(req);
    if (fwd == NULL) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    fwd->body_len = 0;      /* a running-info request has no body */
    free(fwd->body);
    fwd->body = NULL;
    forward(ctx, req, reply, fwd);
}

/* CONSUME_MESSAGE_DIRECTLY: the stored message (by its offset msgId) goes
 * to the client as the body; it runs its listener and answers
 * ConsumeMessageDirectlyResult. */
static void p_consume_directly(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    admin_t *a = ctx;
    if (!client_fields(req, reply))
        return;
    const char *id = rk_cmd_ext_get(req, "msgId");
    rk_store_view_t v;
    if (id == NULL || strlen(id) > 64 || rk_store_view_by_msgid(rk_broker_store(a->b), id, &v) != RK_OK) {
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "the message %.64s is not on this broker (msgId must be an "
                       "offset message id of it)", id ? id : "(none)");
        return;
    }
    rk_cmd_t *fwd = rk_cmd_clone(req);
    int rc = fwd ? rk_cmd_set_body(fwd, v.data, (size_t)v.size) : RK_ENOMEM;
    rk_store_view_release(&v);
    if (rc == RK_OK)
        rc = rk_cmd_ext_set(fwd, "brokerName", rk_broker_config(a->b)->broker_name);
    if (rc != RK_OK) {
        rk_cmd_free(fwd);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    forward(a, req, reply, fwd);
}

/* ------------------------------------------------------------ broker consume stats */

/* GET_BROKER_CONSUME_STATS: ConsumeStatsList {"brokerAddr":..,"consumeStatsList":
 * [{"group":[ConsumeStats]}],"totalDiff":..}; a group's one ConsumeStats
 * holds the queues of every topic it has offsets in. */
static void p_broker_consume_stats(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    (void)req;
    admin_t *a = ctx;
    names_t all = {0};
    table_groups(a->b, &all);
    if (all.n > 1)
        qsort(all.v, all.n, sizeof *all.v, cmp_str);
    rk_buf_t b = {0};
    rk_buf_put_str(&b, "{\"brokerAddr\":");
    rk_buf_put_json_str(&b, rk_broker_addr(a->b));
    rk_buf_put_str(&b, ",\"consumeStatsList\":[");
    int64_t total = 0;
    int listed = 0;
    for (size_t i = 0; i < all.n; i++) {
        rk_buf_t one = {0};
        int64_t diff = 0;
        if (rk_broker_consume_stats(a->b, all.v[i], NULL, &one, &diff) > 0 && one.err == 0) {
            rk_buf_put_str(&b, listed++ ? ",{" : "{");
            rk_buf_put_json_str(&b, all.v[i]);
            rk_buf_put_str(&b, ":[");
            rk_buf_put(&b, one.data, one.len);
            rk_buf_put_str(&b, "]}");
            total += diff;
        }
        rk_buf_free(&one);
    }
    rk_strv_free(all.v, all.n);
    rk_buf_printf(&b, "],\"totalDiff\":%" PRId64 "}", total);
    reply_buf(reply, &b);
}

/* ------------------------------------------------------------ consume queue */

#define CQ_MAX_COUNT 256                /* units one QUERY_CONSUME_QUEUE returns at most */

/* QUERY_CONSUME_QUEUE: count units of a queue from index, raw
 * (QueryConsumeQueueResponseBody), and the group's subscription to the
 * topic when one is given and live. */
static void p_query_cq(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    admin_t *a = ctx;
    const char *topic = name_field(req, reply, "topic");
    if (topic == NULL)
        return;
    const char *group = rk_cmd_ext_get(req, "consumerGroup");
    int64_t qid = -1, index = -1, count = -1;
    if (rk_cmd_ext_i64(req, "queueId", &qid) != RK_OK || qid < 0 || qid >= RK_TOPIC_MAX_QUEUES ||
        rk_cmd_ext_i64(req, "index", &index) != RK_OK || index < 0 ||
        rk_cmd_ext_i64(req, "count", &count) != RK_OK || count < 1 || count > CQ_MAX_COUNT) {
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "queueId (0..%d), index (>= 0) and count (1..%d) are required "
                       "integers", RK_TOPIC_MAX_QUEUES - 1, CQ_MAX_COUNT);
        return;
    }
    rk_topic_config_t tc;
    if (rk_topic_get(rk_broker_topics(a->b), topic, &tc) != RK_OK || qid >= tc.read_queues) {
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "%s has no queue %d here", topic, (int)qid);
        return;
    }
    rk_store_t *st = rk_broker_store(a->b);
    rk_cq_unit_t units[CQ_MAX_COUNT];
    int n = rk_store_read_units(st, topic, (int)qid, index, units, (int)count);
    cJSON *o = cJSON_CreateObject();
    rk_json_add_i64(o, "maxQueueIndex", rk_store_max_offset(st, topic, (int)qid));
    rk_json_add_i64(o, "minQueueIndex", rk_store_min_offset(st, topic, (int)qid));
    cJSON *list = cJSON_AddArrayToObject(o, "queueData");
    for (int i = 0; i < n; i++) {
        cJSON *u = cJSON_CreateObject();
        cJSON_AddFalseToObject(u, "eval");
        rk_json_add_i64(u, "physicOffset", units[i].phys);
        cJSON_AddNumberToObject(u, "physicSize", units[i].size);
        rk_json_add_i64(u, "tagsCode", units[i].tag_code);
        cJSON_AddItemToArray(list, u);
    }
    rk_subscription_t sub;
    if (group != NULL && rk_topic_name_valid(group) &&
        rk_client_manager_subscription(rk_broker_clients(a->b), group, topic, &sub) == RK_OK) {
        cJSON_AddItemToObject(o, "subscriptionData", subscription_json(&sub));
        rk_subscription_free(&sub);
    }
    reply_json(reply, o);
}

/* ------------------------------------------------------------ broker config */

/* The runtime keys' live values, as broker.conf lines. */
static void live_lines(admin_t *a, rk_buf_t *out)
{
    bool gon;
    int64_t gmax;
    rk_group_get_auto_create(rk_broker_groups(a->b), &gon, &gmax);
    rk_buf_printf(out, "autoCreateSubscriptionGroup=%s\nautoCreateSubscriptionGroupMax=%" PRId64
                       "\nautoCreateTopicMax=%" PRId64 "\n",
                  gon ? "true" : "false", gmax, rk_topic_get_auto_create_max(rk_broker_topics(a->b)));
}

/* key, or key followed by '=' */
static bool runtime_key(const char *key)
{
    static const char *const keys[] = {"autoCreateSubscriptionGroup", "autoCreateSubscriptionGroupMax",
                                       "autoCreateTopicMax"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        size_t n = strlen(keys[i]);
        if (strncmp(key, keys[i], n) == 0 && (key[n] == '\0' || key[n] == '='))
            return true;
    }
    return false;
}

static void set_version(admin_t *a, rk_cmd_t *resp)
{
    char v[96];
    snprintf(v, sizeof v, "{\"counter\":%" PRId64 ",\"timestamp\":%" PRId64 "}", atomic_load(&a->config_version),
             atomic_load(&a->config_ts));
    rk_cmd_ext_set(resp, "version", v);
}

/* GET_BROKER_CONFIG: the broker's and the store's settings, "key=value"
 * lines (RocketMQ's properties text), the runtime keys at their live values. */
static void p_get_config(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    admin_t *a = ctx;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    const rk_broker_config_t *bc = rk_broker_config(a->b);
    rk_config_print(rk_broker_config_fields, bc, f);
    rk_config_print(rk_rserver_limit_fields, &bc->limits, f);
    if (a->cl_read)
        rk_config_print(rk_commitlog_config_fields, &a->cl, f);
    rk_config_print(rk_cq_store_config_fields, rk_store_config(rk_broker_store(a->b)), f);
    fclose(f);
    rk_buf_t b = {0};
    rk_buf_put_u8(&b, '\n');           /* every line then starts after a newline: "\nkey=" finds it */
    for (char *line = text, *next; line != NULL && *line; line = next) {
        next = strchr(line, '\n');
        size_t l = next ? (size_t)(next - line) : strlen(line);
        next = next ? next + 1 : NULL;
        char key[160];
        const char *eq = memchr(line, '=', l);
        snprintf(key, sizeof key, "\n%.*s=", eq && eq - line < 150 ? (int)(eq - line) : 0, line);
        if (eq == NULL || runtime_key(key + 1) || (b.data && memmem(b.data, b.len, key, strlen(key)) != NULL))
            continue;           /* a key two tables share (storePathRootDir, listenPort...) once */
        rk_buf_put(&b, line, l);
        rk_buf_put_u8(&b, '\n');
    }
    free(text);
    live_lines(a, &b);
    if (b.err != 0 || rk_buf_cstr(&b) != RK_OK) {
        rk_buf_free(&b);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    size_t blen;
    uint8_t *data = rk_buf_detach(&b, &blen);
    if (resp != NULL) {
        set_version(a, resp);
        rk_cmd_set_body(resp, data + 1, strlen((char *)data + 1));    /* without the leading newline */
    }
    free(data);
    rk_reply_send(reply, resp);
}

/* UPDATE_BROKER_CONFIG: "key=value" lines; every key must be a runtime key
 * and every value valid as in broker.conf, or nothing changes. */
static void p_update_config(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    admin_t *a = ctx;
    if (req->body_len == 0 || req->body_len > RK_ADMIN_MAX_BODY || memchr(req->body, '\0', req->body_len)) {
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "the body must be key=value lines of 1 to %d bytes",
                       RK_ADMIN_MAX_BODY);
        return;
    }
    char *text = malloc(req->body_len + 1);
    if (text == NULL) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    memcpy(text, req->body, req->body_len);
    text[req->body_len] = '\0';
    rk_kv_t kv;
    rk_kv_init(&kv);
    char err[256] = "";
    int rc = rk_kv_parse(&kv, text, err, sizeof err);
    free(text);
    if (rc != RK_OK || kv.len == 0) {
        rk_kv_free(&kv);
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "string2Properties error: %s", rc != RK_OK ? err : "no key");
        return;
    }
    for (size_t i = 0; i < kv.len; i++)
        if (!runtime_key(kv.items[i].key)) {
            rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "%.100s cannot be changed while the broker runs (set it in "
                           "broker.conf and restart); the keys that can: " RK_BROKER_RUNTIME_KEYS, kv.items[i].key);
            rk_kv_free(&kv);
            return;
        }
    /* validated by the broker's own settings table, on a copy holding the live values */
    rk_broker_config_t cfg = *rk_broker_config(a->b);
    rk_group_get_auto_create(rk_broker_groups(a->b), &cfg.auto_create_group, &cfg.auto_create_group_max);
    cfg.auto_create_topic_max = rk_topic_get_auto_create_max(rk_broker_topics(a->b));
    rc = rk_config_apply(rk_broker_config_fields, &cfg, &kv, err, sizeof err);
    rk_kv_free(&kv);
    if (rc != RK_OK) {
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "UPDATE_BROKER_CONFIG refused: %s", err);
        return;
    }
    rk_group_set_auto_create(rk_broker_groups(a->b), cfg.auto_create_group, cfg.auto_create_group_max);
    rk_topic_set_auto_create_max(rk_broker_topics(a->b), cfg.auto_create_topic_max);
    atomic_fetch_add(&a->config_version, 1);
    atomic_store(&a->config_ts, rk_now_ms());
    rk_log_info("admin", "%s: broker config updated: autoCreateSubscriptionGroup=%s autoCreateSubscriptionGroupMax=%"
                PRId64 " autoCreateTopicMax=%" PRId64, rk_conn_peer(conn), cfg.auto_create_group ? "true" : "false",
                cfg.auto_create_group_max, cfg.auto_create_topic_max);
    rk_reply_code(reply, RK_RESP_SUCCESS, NULL);
}

/* ------------------------------------------------------------ module */

static int admin_init(rk_broker_t *b, void **state)
{
    admin_t *a = calloc(1, sizeof *a);
    if (a == NULL)
        return RK_ENOMEM;
    a->b = b;
    atomic_init(&a->config_version, 0);
    atomic_init(&a->config_ts, rk_now_ms());
    *state = a;
    rk_kv_t *kv = rk_broker_kv(b);
    char err[256];
    if (kv != NULL && rk_config_defaults(rk_commitlog_config_fields, &a->cl) == RK_OK)
        a->cl_read = rk_config_apply(rk_commitlog_config_fields, &a->cl, kv, err, sizeof err) == RK_OK;
    static const struct {
        int32_t code;
        rk_processor_fn fn;
        int flags;
    } table[] = {
        {RK_REQ_GET_CONSUMER_CONNECTION_LIST, p_consumer_connections, RK_PROC_INLINE},
        {RK_REQ_GET_PRODUCER_CONNECTION_LIST, p_producer_connections, RK_PROC_INLINE},
        {RK_REQ_UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, p_update_group, RK_PROC_SLOW},    /* writes the file */
        {RK_REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG, p_all_groups, RK_PROC_SLOW},
        {RK_REQ_DELETE_SUBSCRIPTIONGROUP, p_delete_group, RK_PROC_SLOW},
        {RK_REQ_DELETE_TOPIC_IN_BROKER, p_delete_topic, RK_PROC_SLOW},
        {RK_REQ_INVOKE_BROKER_TO_RESET_OFFSET, p_reset_offset, RK_PROC_SLOW},          /* searches queues */
        {RK_REQ_QUERY_TOPIC_CONSUME_BY_WHO, p_consume_by_who, RK_PROC_SLOW},
        {RK_REQ_GET_CONSUMER_RUNNING_INFO, p_running_info, RK_PROC_INLINE},           /* pushes: loop thread */
        {RK_REQ_CONSUME_MESSAGE_DIRECTLY, p_consume_directly, RK_PROC_INLINE},
        {RK_REQ_GET_BROKER_CONSUME_STATS, p_broker_consume_stats, RK_PROC_SLOW},
        {RK_REQ_QUERY_CONSUME_QUEUE, p_query_cq, RK_PROC_SLOW},                        /* reads the queue */
        {RK_REQ_GET_BROKER_CONFIG, p_get_config, RK_PROC_INLINE},
        {RK_REQ_UPDATE_BROKER_CONFIG, p_update_config, RK_PROC_INLINE},
    };
    int rc = RK_OK;
    for (size_t i = 0; rc == RK_OK && i < sizeof table / sizeof table[0]; i++) {
        rc = rk_rserver_register(rk_broker_server(b), table[i].code, table[i].fn, a, table[i].flags);
        if (rc == RK_EEXIST && table[i].code == RK_REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG)
            rc = RK_OK;     /* chapter 8's HA module answers it too (the same body), for its slaves */
    }
    return rc;
}

static void admin_destroy(rk_broker_t *b, void *state)
{
    (void)b;
    admin_t *a = state;
    if (a != NULL)
        rk_config_free(rk_commitlog_config_fields, &a->cl);
    free(a);
}

const rk_broker_module_t rk_broker_admin_module = {
    .name = "admin",
    .init = admin_init,
    .destroy = admin_destroy,
};
