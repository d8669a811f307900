/* retry_broker.c — chapter 9's broker module: CONSUMER_SEND_MSG_BACK, %RETRY% / %DLQ% topics,
 * the %RETRY% -> %DLQ% put hook, and the delay-level schedule service (see rk/retry.h). */
#include "rk/retry.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/ha.h"
#include "rk/log.h"
#include "rk/request_code.h"
#include "rk/store_config.h"

#define RESP_SUBSCRIPTION_GROUP_NOT_EXIST 26
#define REQ_GET_ALL_DELAY_OFFSET 45
#define VERSION_3_4_9 121           /* from this client version on, maxReconsumeTimes is honoured */

typedef struct retry_config {
    char *delay_levels;             /* messageDelayLevel */
    int64_t flush_ms;               /* flushDelayOffsetInterval */
} retry_config_t;

#define F(f) offsetof(retry_config_t, f)
static const rk_config_field_t retry_fields[] = {
    {"messageDelayLevel", RK_CFG_STR, F(delay_levels), RK_DELAY_LEVELS_DEFAULT, 0, -1, NULL,
     "delay of each level, level 1 first (s, m, h, d); retries use level 3 + reconsume count"},
    {"flushDelayOffsetInterval", RK_CFG_INT, F(flush_ms), "10000", 100, 3600000, NULL,
     "write delayOffset.json at most this often (ms)"},
    {0},
};
#undef F

typedef struct retry_state {
    rk_broker_t *b;
    retry_config_t cfg;
    rk_schedule_t *sched;
} retry_state_t;

/* ------------------------------------------------------------ helpers */

/* props without the named keys (NULL-terminated list) appended to out. */
static void props_without(rk_buf_t *out, const char *props, size_t len, const char *const *keys)
{
    rk_prop_iter_t it = rk_props_iter(props, len);
    const char *k, *v;
    size_t kl, vl;
    while (rk_props_next(&it, &k, &kl, &v, &vl)) {
        bool drop = false;
        for (int i = 0; keys[i] && !drop; i++)
            drop = strlen(keys[i]) == kl && memcmp(keys[i], k, kl) == 0;
        if (drop)
            continue;
        if (out->len > 0)
            rk_buf_put_u8(out, RK_PROP_SEP);
        rk_buf_put(out, k, kl);
        rk_buf_put_u8(out, RK_PROP_NAME_VALUE_SEP);
        rk_buf_put(out, v, vl);
    }
}

/* The topic, created with queues/perm if missing (createTopicInSendMessageBackMethod); the
 * name servers learn of a new one at once. */
static int topic_for_retry(rk_broker_t *b, const char *name, int32_t queues, int32_t perm, rk_topic_config_t *out)
{
    if (rk_topic_get(rk_broker_topics(b), name, out) == RK_OK)
        return RK_OK;
    rk_topic_config_t tc = {.read_queues = queues, .write_queues = queues, .perm = perm};
    snprintf(tc.name, sizeof tc.name, "%s", name);
    int rc = rk_topic_put(rk_broker_topics(b), &tc);
    if (rc != RK_OK)
        return rc;
    rk_log_info("retry", "created topic %s (%d queue(s), perm %d)", name, queues, perm);
    rk_broker_topics_changed(b);
    return rk_topic_get(rk_broker_topics(b), name, out);
}

static int group_topic(char *out, size_t len, const char *prefix, const char *group)
{
    int n = snprintf(out, len, "%s%s", prefix, group);
    return n > 0 && (size_t)n < len && rk_topic_name_valid(out) ? RK_OK : RK_EINVAL;
}

/* ------------------------------------------------------------ put hook: what clients send
 *
 * Puts the broker makes itself (rk_schedule_internal_put) pass. A client's message to
 * SCHEDULE_TOPIC_XXXX is refused (MESSAGE_ILLEGAL); one to %RETRY%<group> whose reconsume count
 * reached MAX_RECONSUME_TIMES (or the group's retryMaxTimes) goes to %DLQ%<group>. */

static rk_put_status_t dlq_hook(void *ctx, rk_msg_t *m, rk_put_scratch_t *scratch)
{
    retry_state_t *rs = ctx;
    const size_t plen = sizeof RK_RETRY_PREFIX - 1;
    if (rk_schedule_in_internal_put())
        return RK_PUT_OK;
    /* only the broker parks messages there (as RocketMQ's send path refuses the topic) */
    if (m->topic_len == sizeof RK_SCHEDULE_TOPIC - 1 && memcmp(m->topic, RK_SCHEDULE_TOPIC, m->topic_len) == 0)
        return RK_PUT_MESSAGE_ILLEGAL;
    if (m->topic_len <= plen || memcmp(m->topic, RK_RETRY_PREFIX, plen) != 0)
        return RK_PUT_OK;
    char group[RK_TOPIC_MAX_LEN + 1];
    snprintf(group, sizeof group, "%.*s", (int)(m->topic_len - plen), m->topic + plen);
    rk_group_config_t gc;
    if (rk_group_get(rk_broker_groups(rs->b), group, &gc) != RK_OK)
        return RK_PUT_OK;
    int64_t max = gc.retry_max_times;
    char v[24];
    int64_t x;
    if (rk_props_get_str(m->props, m->props_len, RK_PROP_MAX_RECONSUME_TIMES, v, sizeof v) == RK_OK &&
        rk_parse_int(v, &x) == RK_OK && x >= 0 && x <= INT32_MAX)
        max = x;
    if (m->reconsume_times < max)
        return RK_PUT_OK;
    char dlq[RK_TOPIC_MAX_LEN + 1];
    rk_topic_config_t tc;
    if (group_topic(dlq, sizeof dlq, RK_DLQ_PREFIX, group) != RK_OK ||
        topic_for_retry(rs->b, dlq, RK_DLQ_QUEUES, RK_PERM_WRITE, &tc) != RK_OK) {
        rk_log_error("retry", "cannot create %s%s for a message past its retries", RK_DLQ_PREFIX, group);
        return RK_PUT_UNKNOWN_ERROR;
    }
    rk_buf_t b = {0};
    static const char *const drop[] = {RK_PROP_DELAY, NULL};
    props_without(&b, m->props, m->props_len, drop);
    size_t tlen = strlen(dlq);
    char *p = b.err == 0 ? rk_put_scratch(scratch, b.len + tlen + 2) : NULL;
    if (p == NULL) {
        rk_buf_free(&b);
        return RK_PUT_UNKNOWN_ERROR;
    }
    memcpy(p, dlq, tlen + 1);
    memcpy(p + tlen + 1, b.data, b.len);
    m->topic = p;
    m->topic_len = tlen;
    m->props = p + tlen + 1;
    m->props_len = b.len;
    m->queue_id = 0;
    rk_buf_free(&b);
    rk_log_info("retry", "a message sent to %s%s with reconsume count %d (max %" PRId64 ") goes to %s",
                RK_RETRY_PREFIX, group, m->reconsume_times, max, dlq);
    return RK_PUT_OK;
}

/* ------------------------------------------------------------ CONSUMER_SEND_MSG_BACK */


/* A number header: required ones must be there; all must be integers in range. */
static bool num(const rk_cmd_t *req, rk_reply_t *reply, const char *key, bool required, int64_t min, int64_t max,
                int64_t def, int64_t *out)
{
    const char *v = rk_cmd_ext_get(req, key);
    if (v == NULL && !required) {
        *out = def;
        return true;
    }
    if (v != NULL && rk_cmd_ext_i64(req, key, out) == RK_OK && *out >= min && *out <= max)
        return true;
    rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "request header field %s: \"%.40s\" %s; it must be an integer in [%" PRId64
              ", %" PRId64 "]", key, v ? v : "", v ? "is invalid" : "is missing", min, max);
    return false;
}

static void p_send_back(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    retry_state_t *rs = ctx;
    rk_broker_t *b = rs->b;
    const char *group = rk_cmd_ext_get(req, "group");
    int64_t offset, delay_level, max_reconsume;
    if (!num(req, reply, "offset", true, 0, INT64_MAX, 0, &offset) ||
        !num(req, reply, "delayLevel", true, INT32_MIN, INT32_MAX, 0, &delay_level) ||
        !num(req, reply, "maxReconsumeTimes", false, 0, INT32_MAX, -1, &max_reconsume))
        return;
    if (group == NULL || *group == '\0') {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "request header field group is missing");
        return;
    }
    rk_group_config_t gc;
    if (rk_group_get(rk_broker_groups(b), group, &gc) != RK_OK) {
        rk_reply_codef(reply, RESP_SUBSCRIPTION_GROUP_NOT_EXIST, "subscription group not exist, %.200s", group);
        return;
    }
    if (rk_broker_is_slave(b)) {    /* a slave's log is its master's copy: nothing of its own */
        rk_reply_codef(reply, RK_RESP_NO_PERMISSION, "the broker[%s] sending message is forbidden",
                  rk_broker_addr(b));
        return;
    }
    if (gc.retry_queue_nums <= 0) {     /* the group asked for no retries */
        rk_reply_code(reply, RK_RESP_SUCCESS, NULL);
        return;
    }
    char retry[RK_TOPIC_MAX_LEN + 1], dlq[RK_TOPIC_MAX_LEN + 1];
    rk_topic_config_t tc;
    if (group_topic(retry, sizeof retry, RK_RETRY_PREFIX, group) != RK_OK ||
        group_topic(dlq, sizeof dlq, RK_DLQ_PREFIX, group) != RK_OK) {
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "the group name %.200s makes no valid retry topic", group);
        return;
    }
    if (topic_for_retry(b, retry, gc.retry_queue_nums, RK_PERM_READ | RK_PERM_WRITE, &tc) != RK_OK) {
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "topic[%s] not exist", retry);
        return;
    }
    if (!(tc.perm & RK_PERM_WRITE)) {
        rk_reply_codef(reply, RK_RESP_NO_PERMISSION, "the topic[%s] sending message is forbidden", retry);
        return;
    }
    rk_store_t *st = rk_broker_store(b);
    rk_store_view_t v;
    rk_record_t rec;
    if (rk_store_view(st, offset, &v) != RK_OK) {
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "look message by offset failed, %" PRId64, offset);
        return;
    }
    if (rk_record_decode(v.data, (size_t)v.size, false, &rec) != RK_OK || rk_record_is_blank(&rec)) {
        rk_store_view_release(&v);
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "look message by offset failed, %" PRId64, offset);
        return;
    }
    int64_t max = gc.retry_max_times;
    if (max_reconsume >= 0 && req->version >= VERSION_3_4_9)
        max = max_reconsume;
    bool to_dlq = rec.reconsume_times >= max || delay_level < 0;
    if (!to_dlq && delay_level == 0)
        delay_level = 3 + (int64_t)rec.reconsume_times;
    const char *dest = to_dlq ? dlq : retry;
    int32_t qid = 0;
    if (to_dlq) {
        if (topic_for_retry(b, dlq, RK_DLQ_QUEUES, RK_PERM_READ | RK_PERM_WRITE, &tc) != RK_OK) {
            rk_store_view_release(&v);
            rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "topic[%s] not exist", dlq);
            return;
        }
    } else {
        qid = (int32_t)(rk_mono_ns() % (uint64_t)gc.retry_queue_nums);
    }
    /* the copy: the original's properties, RETRY_TOPIC kept or set, ORIGIN_MESSAGE_ID kept or
     * set to the original's id, DELAY for the back-off (none for the DLQ) */
    char orig_topic[RK_TOPIC_MAX_LEN + 1], origin[RK_MSGID_MAX + 8], lvl[24];
    snprintf(orig_topic, sizeof orig_topic, "%.*s", (int)rec.topic_len, rec.topic);
    bool has_retry_topic = rk_props_get(rec.props, rec.props_len, RK_PROP_RETRY_TOPIC, &(size_t){0}) != NULL;
    if (rk_props_get_str(rec.props, rec.props_len, RK_PROP_ORIGIN_MESSAGE_ID, origin, sizeof origin) != RK_OK ||
        origin[0] == '\0')
        rk_msgid_encode(&rec.store_host, rec.phys_offset, origin, sizeof origin);
    rk_buf_t props = {0};
    static const char *const drop[] = {RK_PROP_DELAY, RK_PROP_ORIGIN_MESSAGE_ID, NULL};
    props_without(&props, rec.props, rec.props_len, drop);
    if (!has_retry_topic)
        rk_props_put(&props, RK_PROP_RETRY_TOPIC, orig_topic);
    rk_props_put(&props, RK_PROP_ORIGIN_MESSAGE_ID, origin);
    if (!to_dlq) {
        snprintf(lvl, sizeof lvl, "%" PRId64, delay_level);
        rk_props_put(&props, RK_PROP_DELAY, lvl);
    }
    rk_msg_t m = {.topic = dest, .topic_len = strlen(dest), .queue_id = qid, .flag = rec.flag,
                  .sys_flag = rec.sys_flag, .born_ts = rec.born_ts, .born_host = rec.born_host,
                  .store_host = rec.store_host, .reconsume_times = rec.reconsume_times + 1,
                  .body = rec.body, .body_len = rec.body_len, .props = (const char *)props.data,
                  .props_len = props.len};
    rk_put_result_t res;
    int rc = RK_ENOMEM;
    if (props.err == 0 && props.len <= RK_PROPERTIES_MAX_LEN) {
        rk_schedule_internal_put(true);
        rc = rk_store_put(st, &m, &res);
        rk_schedule_internal_put(false);
    } else if (props.err == 0) {
        rc = RK_ETOOBIG;
    }
    rk_buf_free(&props);
    rk_store_view_release(&v);
    if (rc != RK_OK) {
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "%s", rk_strerror(rc));
        return;
    }
    if (res.status != RK_PUT_OK) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, rk_put_status_name(res.status));
        return;
    }
    if (to_dlq)
        rk_log_info("retry", "group %s: message %s (reconsumed %d times, max %" PRId64 ") moved to %s", group,
                    origin, rec.reconsume_times, max, dlq);
    rk_reply_code(reply, RK_RESP_SUCCESS, NULL);
}

/* GET_ALL_DELAY_OFFSET (45): delayOffset.json's text, for a slave to copy (SlaveSynchronize). */
static void p_delay_offsets(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    retry_state_t *rs = ctx;
    (void)req;
    rk_reply_owned(reply, rk_schedule_encode(rs->sched));
}

/* The schedule delivers only on a master (a slave's commitlog is its master's, byte for byte). */
static bool is_master(void *ctx)
{
    retry_state_t *rs = ctx;
    return !rk_broker_is_slave(rs->b);
}

/* Chapter 8's metadata copy hands a slave its master's GET_ALL_DELAY_OFFSET answer. */
static int copy_delay_offsets(void *ctx, const uint8_t *body, size_t len)
{
    retry_state_t *rs = ctx;
    int rc = rk_schedule_follow(rs->sched, (const char *)body, len);
    return rc == RK_EBUSY ? RK_OK : rc;     /* just became the master: it keeps its own */
}

/* ------------------------------------------------------------ module */

static int retry_init(rk_broker_t *b, void **state)
{
    retry_state_t *rs = calloc(1, sizeof *rs);
    if (rs == NULL)
        return RK_ENOMEM;
    rs->b = b;
    char err[512] = "";
    int rc = rk_config_defaults(retry_fields, &rs->cfg);
    rk_kv_t *kv = rk_broker_kv(b);
    if (rc == RK_OK && kv != NULL)
        rc = rk_config_apply(retry_fields, &rs->cfg, kv, err, sizeof err);
    char path[4096];
    rk_store_t *st = rk_broker_store(b);
    if (rc == RK_OK)
        rc = rk_path_join(path, sizeof path, rk_broker_config(b)->store_root, "config/delayOffset.json");
    /* order matters: the DLQ redirect looks at what the client sent, before a DELAY parks it */
    if (rc == RK_OK)
        rc = rk_commitlog_add_put_hook(rk_store_commitlog(st), "retry-dlq", dlq_hook, rs);
    if (rc == RK_OK) {
        rk_schedule_config_t sc = {.levels = rs->cfg.delay_levels, .offset_path = path,
                                   .flush_interval_ms = rs->cfg.flush_ms,
                                   .fallback_to_bak = rk_store_config(st)->metadata_fallback_to_bak,
                                   .may_deliver = is_master, .may_deliver_ctx = rs};
        rc = rk_schedule_new(st, &sc, &rs->sched, err, sizeof err);
    }
    if (rc == RK_OK)
        rc = rk_rserver_register(rk_broker_server(b), RK_REQ_CONSUMER_SEND_MSG_BACK, p_send_back, rs, RK_PROC_SLOW);
    if (rc == RK_OK)
        rc = rk_rserver_register(rk_broker_server(b), REQ_GET_ALL_DELAY_OFFSET, p_delay_offsets, rs, RK_PROC_INLINE);
    /* with chapter 8's HA (listed before this module): a slave copies the offsets too */
    if (rc == RK_OK && rk_ha_of(b) != NULL)
        rc = rk_ha_meta_add(rk_ha_of(b), REQ_GET_ALL_DELAY_OFFSET, copy_delay_offsets, rs);
    if (rc != RK_OK) {
        if (err[0])
            rk_log_error("retry", "%s", err);
        rk_schedule_free(rs->sched);
        rk_config_free(retry_fields, &rs->cfg);
        free(rs);
        return rc;
    }
    *state = rs;
    return RK_OK;
}

/* Every broker runs the service: a master delivers, a slave follows (is_master, asked at each
 * round, so a role switch at runtime takes effect either way). */
static int retry_start(rk_broker_t *b, void *state)
{
    (void)b;
    retry_state_t *rs = state;
    return rk_schedule_start(rs->sched);
}

static void retry_stop(rk_broker_t *b, void *state)
{
    (void)b;
    retry_state_t *rs = state;
    rk_schedule_stop(rs->sched);
}

static void retry_destroy(rk_broker_t *b, void *state)
{
    (void)b;
    retry_state_t *rs = state;
    rk_schedule_free(rs->sched);
    rk_config_free(retry_fields, &rs->cfg);
    free(rs);
}

const rk_broker_module_t rk_retry_module = {"retry", retry_init, retry_start, retry_stop, retry_destroy};

rk_schedule_t *rk_retry_schedule(rk_broker_t *b)
{
    retry_state_t *rs = rk_broker_module_state(b, rk_retry_module.name);
    return rs != NULL ? rs->sched : NULL;
}
