/* ha_meta.c — what a slave copies besides the log: topics, consumer offsets
 * and subscription groups (RocketMQ's SlaveSynchronize), and the master's
 * processors that hand them out.
 *
 *   slave, every slaveSyncMetaInterval ms            master
 *     GET_ALL_TOPIC_CONFIG 21              ───▶  topics.json            (chapter 7 answers)
 *     GET_ALL_CONSUMER_OFFSET 43           ───▶  consumerOffset.json    (here)
 *     GET_ALL_SUBSCRIPTIONGROUP_CONFIG 201 ───▶  subscriptionGroup.json (here)
 *     what later chapters add (rk_ha_meta_add) ─▶  e.g. chapter 9's GET_ALL_DELAY_OFFSET 45
 *
 * The master's address is the one the name server gave at registration
 * (masterAddr); in election mode the elected leader's, from its heartbeats
 * (rk_ha_follow_broker), copied from at once when a new leader is followed
 * (the name server's answer would come only at the next registration, up to
 * registerNameServerPeriod later); an answer from a master no longer
 * followed is dropped. Each answer is parsed and validated whole before anything is
 * applied: a bad answer changes nothing. Entries are added or updated, not
 * deleted (rocklet's topic and group tables have no delete yet).
 *
 * The copy is periodic, so a topic the master created since the last one is
 * in the replica's log (and consume queues) but not in its topic table; if the
 * master died then, the replica elected in its place would answer every pull
 * of that topic TOPIC_NOT_EXIST, and acknowledged messages would be stored but
 * unreadable. Chapter 7's broker adopts such a topic as its dispatch meets it
 * (rk_topic_adopt: as many queues as the log uses, read and write, logged), and
 * a slave that becomes master first adopts every topic its consume queues hold
 * (rk_broker_adopt_topics). The master's own config replaces an adopted one at
 * the next copy. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ha_internal.h"
#include "rk/consumer_offset.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/json.h"
#include "rk/log.h"
#include "rk/request_code.h"
#include "rk/topic_config.h"

/* Request codes of RocketMQ's AdminBrokerProcessor that only HA uses. */
#define REQ_GET_ALL_CONSUMER_OFFSET 43
#define REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG 201

#define META_MAX_ENTRIES 100000

/* ------------------------------------------------------------ master side */

static void reply_file(rk_ha_t *ha, rk_cmd_t *req, rk_reply_t *reply, const char *name, const char *empty)
{
    char path[4096], *data = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/config/%s", rk_broker_config(ha->b)->store_root, name);
    int rc = rk_file_read_all(path, &data, &len);
    if (rc == -ENOENT) {
        data = strdup(empty);
        len = data ? strlen(data) : 0;
        rc = data ? RK_OK : RK_ENOMEM;
    }
    rk_cmd_t *resp = rk_cmd_new_response(req, rc == RK_OK ? RK_RESP_SUCCESS : RK_RESP_SYSTEM_ERROR,
                                         rc == RK_OK ? NULL : rk_strerror(rc));
    if (resp != NULL && rc == RK_OK)
        rk_cmd_own_body(resp, (uint8_t *)data, len);
    else
        free(data);
    rk_reply_send(reply, resp);
}

static void p_all_offsets(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_ha_t *ha = ctx;
    rk_store_persist_offsets(rk_broker_store(ha->b));
    reply_file(ha, req, reply, RK_CONSUMER_OFFSET_FILE, "{\"offsetTable\":{}}");
}

/* From memory: chapter 7 writes subscriptionGroup.json later, batched. */
static void p_all_groups(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_ha_t *ha = ctx;
    char *s = rk_group_encode(rk_broker_groups(ha->b));
    rk_cmd_t *resp = rk_cmd_new_response(req, s ? RK_RESP_SUCCESS : RK_RESP_SYSTEM_ERROR, s ? NULL : "out of memory");
    if (resp != NULL && s != NULL)
        rk_cmd_own_body(resp, (uint8_t *)s, strlen(s));
    else
        free(s);
    rk_reply_send(reply, resp);
}

/* ------------------------------------------------------------ slave side: apply */

static bool in_range(const cJSON *o, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t v;
    int rc = rk_json_get_i64(o, key, &v);
    if (rc == RK_ENOTFOUND)
        return true;            /* absent: keep the default */
    if (rc != RK_OK || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool bool_ok(const cJSON *o, const char *key, bool *out)
{
    int rc = rk_json_get_bool(o, key, out);
    return rc == RK_OK || rc == RK_ENOTFOUND;
}

/* One topicConfigTable entry into c; false if anything is off. */
static bool topic_from_json(const cJSON *t, rk_topic_config_t *c)
{
    const char *name = t->string, *field = rk_json_get_str(t, "topicName");
    const char *filter = rk_json_get_str(t, "topicFilterType");
    if (name == NULL || !rk_topic_name_valid(name) || !cJSON_IsObject(t) || (field && strcmp(field, name) != 0) ||
        (filter && strcmp(filter, "SINGLE_TAG") != 0 && strcmp(filter, "MULTI_TAG") != 0))
        return false;
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    int64_t r = 1, w = 1, perm = RK_PERM_READ | RK_PERM_WRITE, sys = 0;
    bool order = false;
    if (!in_range(t, "readQueueNums", 0, 1024, &r) || !in_range(t, "writeQueueNums", 0, 1024, &w) ||
        !in_range(t, "perm", 0, 15, &perm) || !in_range(t, "topicSysFlag", 0, INT32_MAX, &sys) ||
        !bool_ok(t, "order", &order))
        return false;
    c->read_queues = (int32_t)r;
    c->write_queues = (int32_t)w;
    c->perm = (int32_t)perm;
    c->sys_flag = (int32_t)sys;
    c->order = order;
    c->multi_tag = filter && strcmp(filter, "MULTI_TAG") == 0;
    return true;
}

static int apply_topics(rk_ha_t *ha, const rk_cmd_t *resp)
{
    cJSON *root = rk_json_parse((const char *)resp->body, resp->body_len);
    cJSON *table = cJSON_GetObjectItemCaseSensitive(root, "topicConfigTable");
    int rc = cJSON_IsObject(table) ? RK_OK : RK_EPROTO, n = 0;
    for (cJSON *t = table ? table->child : NULL; rc == RK_OK && t != NULL; t = t->next) {
        rk_topic_config_t c;
        if (!topic_from_json(t, &c) || ++n > META_MAX_ENTRIES)
            rc = RK_EPROTO;
    }
    int changed = 0;
    rk_topic_manager_t *tm = rk_broker_topics(ha->b);
    for (cJSON *t = rc == RK_OK ? table->child : NULL; t != NULL; t = t->next) {
        rk_topic_config_t c, cur;
        topic_from_json(t, &c);
        if (rk_topic_get(tm, c.name, &cur) == RK_OK && cur.read_queues == c.read_queues &&
            cur.write_queues == c.write_queues && cur.perm == c.perm && cur.sys_flag == c.sys_flag &&
            cur.order == c.order && cur.multi_tag == c.multi_tag)
            continue;
        if (rk_topic_put(tm, &c) == RK_OK)
            changed++;
    }
    cJSON_Delete(root);
    if (changed > 0) {
        rk_log_info("ha", "copied %d topic(s) from the master", changed);
        rk_broker_topics_changed(ha->b);
    }
    return rc;
}

static bool group_from_json(const cJSON *g, rk_group_config_t *c)
{
    const char *name = g->string, *field = rk_json_get_str(g, "groupName");
    if (name == NULL || !cJSON_IsObject(g) || name[0] == '\0' || strlen(name) >= sizeof c->name ||
        (field && strcmp(field, name) != 0))
        return false;
    rk_group_defaults(c, name);
    int64_t rq = c->retry_queue_nums, rm = c->retry_max_times, id = c->broker_id, slow = c->which_broker_when_slow;
    if (!in_range(g, "retryQueueNums", 0, 1024, &rq) || !in_range(g, "retryMaxTimes", -1, 100000, &rm) ||
        !in_range(g, "brokerId", 0, 1024, &id) || !in_range(g, "whichBrokerWhenConsumeSlowly", 0, 1024, &slow) ||
        !bool_ok(g, "consumeEnable", &c->consume_enable) ||
        !bool_ok(g, "consumeFromMinEnable", &c->consume_from_min_enable) ||
        !bool_ok(g, "consumeBroadcastEnable", &c->consume_broadcast_enable) ||
        !bool_ok(g, "notifyConsumerIdsChangedEnable", &c->notify_ids_changed))
        return false;
    c->retry_queue_nums = (int32_t)rq;
    c->retry_max_times = (int32_t)rm;
    c->broker_id = id;
    c->which_broker_when_slow = slow;
    return true;
}

static int apply_groups(rk_ha_t *ha, const rk_cmd_t *resp)
{
    cJSON *root = rk_json_parse((const char *)resp->body, resp->body_len);
    cJSON *table = cJSON_GetObjectItemCaseSensitive(root, "subscriptionGroupTable");
    int rc = cJSON_IsObject(table) ? RK_OK : RK_EPROTO, n = 0;
    for (cJSON *g = table ? table->child : NULL; rc == RK_OK && g != NULL; g = g->next) {
        rk_group_config_t c;
        if (!group_from_json(g, &c) || ++n > META_MAX_ENTRIES)
            rc = RK_EPROTO;
    }
    rk_group_manager_t *gm = rk_broker_groups(ha->b);
    for (cJSON *g = rc == RK_OK ? table->child : NULL; g != NULL; g = g->next) {
        rk_group_config_t c, cur;
        group_from_json(g, &c);
        if (rk_group_get(gm, c.name, &cur) == RK_OK && memcmp(&cur, &c, sizeof c) == 0)
            continue;
        rk_group_put(gm, &c);
    }
    cJSON_Delete(root);
    return rc;
}

/* A decimal integer and nothing else. */
static bool int_strict(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (s == NULL || errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* {"offsetTable":{"topic@group":{0:12,1:40}}} (fastjson's bare integer keys,
 * which rk_json_parse reads). Walked twice: to check every entry, then to
 * commit them. Offsets below 0 are refused here, not skipped. */
static int offsets_walk(rk_ha_t *ha, const cJSON *tbl, bool apply)
{
    int n = 0;
    for (const cJSON *ge = tbl->child; ge != NULL; ge = ge->next) {
        const char *key = ge->string, *at = key ? strchr(key, '@') : NULL;
        char topic[256];
        if (!cJSON_IsObject(ge) || at == NULL || at == key || at[1] == '\0' ||
            (size_t)(at - key) >= sizeof topic || strlen(at + 1) >= 256)
            return RK_EPROTO;
        memcpy(topic, key, (size_t)(at - key));
        topic[at - key] = '\0';
        if (!rk_topic_name_valid(topic))
            return RK_EPROTO;
        for (const cJSON *qe = ge->child; qe != NULL; qe = qe->next) {
            int64_t qid, off;
            char *sv = rk_json_to_string(qe);
            bool ok = int_strict(qe->string, 0, RK_MAX_QUEUE_ID, &qid) && int_strict(sv, 0, INT64_MAX, &off);
            free(sv);
            if (!ok || ++n > META_MAX_ENTRIES)
                return RK_EPROTO;
            if (apply)
                rk_store_commit_offset(rk_broker_store(ha->b), at + 1, topic, (int)qid, off);
        }
    }
    return RK_OK;
}

static int apply_offsets(rk_ha_t *ha, const rk_cmd_t *resp)
{
    cJSON *root = rk_json_parse((const char *)resp->body, resp->body_len);
    const cJSON *tbl = cJSON_GetObjectItemCaseSensitive(root, "offsetTable");
    int rc = cJSON_IsObject(tbl) ? offsets_walk(ha, tbl, false) : RK_EPROTO;
    if (rc == RK_OK)
        offsets_walk(ha, tbl, true);
    cJSON_Delete(root);
    return rc;
}

/* ------------------------------------------------------------ slave side: ask */

typedef struct {
    rk_ha_t *ha;
    int code;
    rk_ha_meta_apply_fn apply;      /* a later chapter's (rk_ha_meta_add), or NULL */
    void *ctx;
    char master[64];                /* asked there */
} ask_t;

static void on_answer(void *arg, int status, rk_cmd_t *resp)
{
    ask_t *a = arg;
    rk_ha_t *ha = a->ha;
    int rc = status;
    if (rc == RK_OK && (resp->code != RK_RESP_SUCCESS || resp->body == NULL))
        rc = RK_EPROTO;
    bool stale = false;             /* from a master this slave no longer follows */
    if (rc == RK_OK) {
        char now_master[64];
        rk__ha_meta_master(ha, now_master, sizeof now_master);
        stale = strcmp(now_master, a->master) != 0;
    }
    if (rc == RK_OK && !stale && atomic_load(&ha->role) == RK_HA_SLAVE) {
        if (a->apply != NULL)
            rc = a->apply(a->ctx, resp->body, resp->body_len);
        else if (a->code == RK_REQ_GET_ALL_TOPIC_CONFIG)
            rc = apply_topics(ha, resp);
        else if (a->code == REQ_GET_ALL_CONSUMER_OFFSET)
            rc = apply_offsets(ha, resp);
        else
            rc = apply_groups(ha, resp);
    }
    if (rc != RK_OK && status != RK_ECLOSED && !stale)
        rk_log_warn("ha", "metadata copy (request %d) from the master failed: %s; nothing applied", a->code,
                    rk_strerror(rc));
    rk_cmd_free(resp);
    atomic_fetch_sub(&ha->meta_inflight, 1);
    free(a);
}

void rk__ha_meta_master(rk_ha_t *ha, char *buf, size_t len)
{
    buf[0] = '\0';
    if (atomic_load(&ha->quorum) >= 0) {
        /* election mode: the leader the election found (rk_ha_follow_broker), never the
         * name server's word, which lags an election by up to a registration period */
        uv_mutex_lock(&ha->mu);
        snprintf(buf, len, "%s", ha->master_broker);
        uv_mutex_unlock(&ha->mu);
        return;
    }
    rk_brokerreg_t *reg = rk_broker_registration(ha->b);
    if (reg != NULL)
        rk_brokerreg_master_addr(reg, buf, len);
}

bool rk__ha_meta_sync(rk_ha_t *ha)
{
    char master[64] = "";
    rk__ha_meta_master(ha, master, sizeof master);
    /* one round at a time per master; a new master need not wait for a round to a dead one */
    if (ha->rcl == NULL || !master[0] ||
        (atomic_load(&ha->meta_inflight) > 0 && strcmp(master, ha->meta_master) == 0))
        return false;
    snprintf(ha->meta_master, sizeof ha->meta_master, "%s", master);
    static const int codes[] = {RK_REQ_GET_ALL_TOPIC_CONFIG, REQ_GET_ALL_CONSUMER_OFFSET,
                                REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG};
    const int nbuiltin = (int)(sizeof codes / sizeof codes[0]);
    for (int i = 0; i < nbuiltin + ha->nmeta_extra; i++) {
        const int code = i < nbuiltin ? codes[i] : ha->meta_extra[i - nbuiltin].code;
        ask_t *a = malloc(sizeof *a);
        rk_cmd_t *req = a ? rk_cmd_new(code) : NULL;
        if (req == NULL) {
            free(a);
            return true;
        }
        a->ha = ha;
        snprintf(a->master, sizeof a->master, "%s", master);
        a->code = code;
        a->apply = i < nbuiltin ? NULL : ha->meta_extra[i - nbuiltin].apply;
        a->ctx = i < nbuiltin ? NULL : ha->meta_extra[i - nbuiltin].ctx;
        atomic_fetch_add(&ha->meta_inflight, 1);
        if (rk_rclient_invoke_async(ha->rcl, master, req, 10000, on_answer, a) != RK_OK) {
            atomic_fetch_sub(&ha->meta_inflight, 1);
            free(a);
        }
    }
    return true;
}

int rk_ha_meta_add(rk_ha_t *ha, int request_code, rk_ha_meta_apply_fn apply, void *ctx)
{
    if (ha == NULL || apply == NULL || request_code < 0)
        return RK_EINVAL;
    if (ha->running)
        return RK_EBUSY;
    if (request_code == RK_REQ_GET_ALL_TOPIC_CONFIG || request_code == REQ_GET_ALL_CONSUMER_OFFSET ||
        request_code == REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG)
        return RK_EEXIST;
    for (int i = 0; i < ha->nmeta_extra; i++)
        if (ha->meta_extra[i].code == request_code)
            return RK_EEXIST;
    if (ha->nmeta_extra == RK_HA_META_EXTRA_MAX)
        return RK_EFULL;
    ha->meta_extra[ha->nmeta_extra].code = request_code;
    ha->meta_extra[ha->nmeta_extra].apply = apply;
    ha->meta_extra[ha->nmeta_extra].ctx = ctx;
    ha->nmeta_extra++;
    return RK_OK;
}

int rk__ha_meta_init(rk_ha_t *ha)
{
    rk_rserver_t *srv = rk_broker_server(ha->b);
    int rc = rk_rserver_register(srv, REQ_GET_ALL_CONSUMER_OFFSET, p_all_offsets, ha, RK_PROC_SLOW);
    if (rc == RK_OK)        /* chapter 7's admin module may answer it already (the same body) */
        rc = rk_rserver_register(srv, REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG, p_all_groups, ha, RK_PROC_SLOW);
    if (rc == RK_EEXIST)
        rc = RK_OK;
    if (rc == RK_OK)
        rc = rk_rclient_new(&ha->rcl);
    return rc;
}

/* Answers pending copies (RK_ECLOSED) and joins the client's thread. */
void rk__ha_meta_stop(rk_ha_t *ha)
{
    rk_rclient_free(ha->rcl);
    ha->rcl = NULL;
}

void rk__ha_meta_free(rk_ha_t *ha) { (void)ha; }
