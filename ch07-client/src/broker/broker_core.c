/* broker_core.c — chapter 7's broker module: send, pull, offsets, heartbeats, topic admin (see rk/broker.h).
 *
 * Banner map: helpers · send · pull · offsets · clients · admin · module. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/broker.h"
#include "rk/client_message.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/grow.h"
#include "rk/hash.h"
#include "rk/json.h"
#include "rk/log.h"
#include "rk/strmap.h"
#include "rk/request_code.h"
#include <uv.h>

/* ------------------------------------------------------------ helpers */

/* A number from the request header: v, the value found under V2's short
 * name a, else under the long name b (b may be NULL; the names are for the
 * remark). Absent (v NULL): *out = def. Present: it must be a decimal integer
 * in [min, max]; otherwise the request is answered SYSTEM_ERROR with a remark
 * naming the field, and false tells the caller to return. Every number a
 * processor takes from extFields goes through here: a cast alone turned
 * queueId=2^40 into queue 0 and readQueueNums=2^32+1 into one queue. */
static bool num_value(rk_reply_t *reply, const char *a, const char *b, const char *v, int64_t min, int64_t max,
                      int64_t def, int64_t *out)
{
    if (v == NULL) {
        *out = def;
        return true;
    }
    int64_t x = 0;
    int rc = rk_cmd_value_i64(v, &x);
    if (rc == RK_OK && x >= min && x <= max) {
        *out = x;
        return true;
    }
    char remark[300];
    snprintf(remark, sizeof remark, "request header field %s%s%s%s: \"%.40s\" is %s; it must be an integer in [%" PRId64
             ", %" PRId64 "]", b ? b : a, b ? " (" : "", b ? a : "", b ? ")" : "", v,
             rc == RK_OK ? "out of range" : "not an integer", min, max);
    rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, remark);
    return false;
}

/* num_value of the field looked up by name: a, else b. */
static bool ext_num(const rk_cmd_t *req, rk_reply_t *reply, const char *a, const char *b, int64_t min, int64_t max,
                    int64_t def, int64_t *out)
{
    const char *v = rk_cmd_ext_get(req, a);
    if (v == NULL && b != NULL)
        v = rk_cmd_ext_get(req, b);
    return num_value(reply, a, b, v, min, max, def, out);
}

/* False (and the request answered) when topic exists and has no queue qid. */
static bool queue_exists(rk_topic_manager_t *tm, const char *topic, int64_t qid, rk_reply_t *reply)
{
    rk_topic_config_t tc;
    if (rk_topic_get(tm, topic, &tc) != RK_OK)
        return true;        /* RocketMQ keeps offsets of topics it does not know */
    int32_t nq = tc.write_queues > tc.read_queues ? tc.write_queues : tc.read_queues;
    if (qid < nq)
        return true;
    char remark[300];
    snprintf(remark, sizeof remark, "request queueId[%" PRId64 "] is illegal, topic %.200s has %d queues", qid, topic,
             nq);
    rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, remark);
    return false;
}

static int put_status_code(rk_put_status_t s)
{
    switch (s) {
    case RK_PUT_OK: return RK_RESP_SUCCESS;
    case RK_PUT_FLUSH_DISK_TIMEOUT: return RK_RESP_FLUSH_DISK_TIMEOUT;
    case RK_PUT_SLAVE_NOT_AVAILABLE: return RK_RESP_SLAVE_NOT_AVAILABLE;
    case RK_PUT_FLUSH_SLAVE_TIMEOUT: return RK_RESP_FLUSH_SLAVE_TIMEOUT;
    case RK_PUT_MESSAGE_ILLEGAL:
    case RK_PUT_WHEEL_TIMER_MSG_ILLEGAL:
    case RK_PUT_PROPERTIES_SIZE_EXCEEDED: return RK_RESP_MESSAGE_ILLEGAL;
    case RK_PUT_SERVICE_NOT_AVAILABLE: return RK_RESP_SERVICE_NOT_AVAILABLE;
    default: return RK_RESP_SYSTEM_ERROR;
    }
}

/* ------------------------------------------------------------ send */

/* A put in flight: the reply is sent from the stage that completes the put
 * (right away for ASYNC_FLUSH; the flush thread for SYNC_FLUSH; a replica's
 * acknowledgement in chapter 8), so no thread waits for it. */
typedef struct send_done {
    rk_reply_t *reply;
    rk_store_t *st;
    int64_t qid;
    bool batch;
    int n;
    rk_host_t store_host;
    int64_t phys[];             /* a batch's 64 offsets, filled by the batch put before it returns;
                                 * not allocated for a single message */
} send_done_t;

static void send_done(void *arg, const rk_put_result_t *res)
{
    send_done_t *sd = arg;
    const rk_cmd_t *req = rk_reply_request(sd->reply);
    int code = put_status_code(res->status);
    const char *remark = code == RK_RESP_SUCCESS ? NULL : rk_put_status_name(res->status);
    const char *fuller = rk_commitlog_status_remark(rk_store_commitlog(sd->st), res->status);
    if (code != RK_RESP_SUCCESS && fuller != NULL)
        remark = fuller;
    char why[256];
    int used = -1;
    if (res->status == RK_PUT_SERVICE_NOT_AVAILABLE && rk_store_disk_full(sd->st, &used)) {
        snprintf(why, sizeof why, "service not available now: the broker's disk is full (%d%% used, "
                 "above diskSpaceWarningLevelRatio %lld%%); it refuses messages until space is freed",
                 used, (long long)rk_store_config(sd->st)->disk_space_warning_ratio);
        remark = why;
    } else if (res->status == RK_PUT_CREATE_MAPEDFILE_FAILED) {
        remark = "create mapped file failed: the broker could not reserve disk space (disk full?)";
    }
    rk_cmd_t *resp = rk_cmd_new_response(req, code, remark);
    if (resp != NULL && (code == 0 || code == 10 || code == 11 || code == 12)) {
        char ids[64 * 33 + 64] = "";
        for (int i = 0; sd->batch && i < sd->n && i < 64; i++) {
            char id[RK_MSGID_MAX];
            rk_msgid_encode(&sd->store_host, sd->phys[i], id, sizeof id);
            if (i)
                strcat(ids, ",");
            strcat(ids, id);
        }
        rk_cmd_ext_add(resp, "msgId", sd->batch ? ids : res->msg_id);     /* a new response: each key once */
        rk_cmd_ext_add_i64(resp, "queueId", sd->qid);
        rk_cmd_ext_add_i64(resp, "queueOffset", res->queue_offset);
        rk_cmd_ext_add(resp, "MSG_REGION", "DefaultRegion");
        rk_cmd_ext_add(resp, "TRACE_ON", "true");
    }
    rk_reply_send(sd->reply, resp);
    free(sd);
}

/* SEND_MESSAGE (10, long names), SEND_MESSAGE_V2 (310, a..n) and
 * SEND_BATCH_MESSAGE (320, always V2 names). The put is asynchronous:
 * send_done answers once every ack stage completed it. A put only copies
 * into the mapped file under the put lock; whatever it must wait for (the
 * disk with SYNC_FLUSH, a slave with SYNC_MASTER) is an ack stage that
 * answers later through send_done. So the send runs INLINE on the network
 * thread, whatever the flush or replication policy: no worker-pool thread
 * sits on an fsync or a replica's acknowledgement. */
/* The fields of SendMessageRequestHeader(V2) that p_send reads, found in
 * one pass over the extFields: one switch a field, where a look-up by name
 * for each (V2's short name, then the long one) scanned the list up to
 * eighteen times per send. [0] is the V2 name's value, [1] the long name's. */
enum { SH_TOPIC, SH_DEF_TOPIC, SH_DEF_QUEUES, SH_QID, SH_SYS_FLAG, SH_BORN, SH_FLAG, SH_PROPS, SH_RECONSUME,
       SH_BATCH, SH_N };

static void send_header_read(const rk_cmd_t *req, const char *v[SH_N][2])
{
    static const char *const longs[SH_N] = {"topic", "defaultTopic", "defaultTopicQueueNums", "queueId", "sysFlag",
                                            "bornTimestamp", "flag", "properties", "reconsumeTimes", "batch"};
    memset(v, 0, sizeof(const char *[SH_N][2]));
    for (size_t i = 0; i < req->next; i++) {
        const char *k = req->ext[i].key;
        int f = -1, form = 0;
        if (k[0] != '\0' && k[1] == '\0') {
            switch (k[0]) {
            case 'b': f = SH_TOPIC; break;
            case 'c': f = SH_DEF_TOPIC; break;
            case 'd': f = SH_DEF_QUEUES; break;
            case 'e': f = SH_QID; break;
            case 'f': f = SH_SYS_FLAG; break;
            case 'g': f = SH_BORN; break;
            case 'h': f = SH_FLAG; break;
            case 'i': f = SH_PROPS; break;
            case 'j': f = SH_RECONSUME; break;
            case 'm': f = SH_BATCH; break;
            default: break;
            }
        } else {
            form = 1;
            for (int j = 0; j < SH_N && f < 0; j++)
                if (k[0] == longs[j][0] && strcmp(k, longs[j]) == 0)
                    f = j;
        }
        if (f >= 0)
            v[f][form] = req->ext[i].value;     /* decoded keys are unique */
    }
}

/* SEND_MESSAGE (10, long names), SEND_MESSAGE_V2 (310, a..n) and
 * SEND_BATCH_MESSAGE (320, always V2 names). The put is asynchronous:
 * send_done answers once every ack stage completed it. A put only copies
 * into the mapped file under the put lock; whatever it must wait for (the
 * disk with SYNC_FLUSH, a slave with SYNC_MASTER) is an ack stage that
 * answers later through send_done. So the send runs INLINE on the network
 * thread, whatever the flush or replication policy: no worker-pool thread
 * sits on an fsync or a replica's acknowledgement. */
static void p_send(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    rk_broker_t *b = ctx;
    const char *h[SH_N][2];
    send_header_read(req, h);
#define SH(f) (h[f][0] ? h[f][0] : h[f][1])
    const char *topic = SH(SH_TOPIC);
    const char *def_topic = SH(SH_DEF_TOPIC);
    const char *props = SH(SH_PROPS);
    int64_t qid, sys_flag, born, flag, reconsume, def_queues;
    if (!num_value(reply, "e", "queueId", SH(SH_QID), -1, INT32_MAX, -1, &qid) ||
        !num_value(reply, "f", "sysFlag", SH(SH_SYS_FLAG), 0, INT32_MAX, 0, &sys_flag) ||
        !num_value(reply, "g", "bornTimestamp", SH(SH_BORN), 0, INT64_MAX, rk_now_ms(), &born) ||
        !num_value(reply, "h", "flag", SH(SH_FLAG), INT32_MIN, INT32_MAX, 0, &flag) ||
        !num_value(reply, "j", "reconsumeTimes", SH(SH_RECONSUME), 0, INT32_MAX, 0, &reconsume) ||
        !num_value(reply, "d", "defaultTopicQueueNums", SH(SH_DEF_QUEUES), 0, INT32_MAX, 4, &def_queues))
        return;
#undef SH
    bool batch = false;
    if (h[SH_BATCH][0] != NULL)
        rk_cmd_value_bool(h[SH_BATCH][0], &batch);
    if (h[SH_BATCH][1] != NULL)     /* the long name, when both came, is read last (and wins) */
        rk_cmd_value_bool(h[SH_BATCH][1], &batch);
    if (rk_broker_is_slave(b)) {
        /* RocketMQ's store refuses puts on a slave: SERVICE_NOT_AVAILABLE */
        rk_reply_code(reply, RK_RESP_SERVICE_NOT_AVAILABLE,
                      "service not available now: the broker is a SLAVE, messages are put to its master");
        return;
    }
    if (topic == NULL) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "the topic is missing");
        return;
    }
    if (!rk_topic_name_valid(topic)) {
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "The specified topic[%s] contains illegal characters, allowing only ^[%%|a-zA-Z0-9_-]+$ and at most 127 characters", topic);
        return;
    }
    rk_topic_config_t tc;
    bool created = false;
    int rc = rk_topic_get_or_create_in_send(rk_broker_topics(b), topic, def_topic ? def_topic : RK_TOPIC_DEFAULT,
                                            (int32_t)def_queues, &tc, &created);
    if (rc == RK_EFULL) {
        rk_reply_codef(reply, RK_RESP_TOPIC_NOT_EXIST, "topic[%s] not exist, apply first please! (auto-create refused: "
                       "the broker already has autoCreateTopicMax=%" PRId64 " topics)", topic,
                       rk_broker_config(b)->auto_create_topic_max);
        return;
    }
    if (rc != RK_OK) {
        rk_reply_codef(reply, RK_RESP_TOPIC_NOT_EXIST, "topic[%s] not exist, apply first please!", topic);
        return;
    }
    if (created)
        rk_broker_topics_changed(b);
    if (!(tc.perm & RK_PERM_WRITE)) {
        rk_reply_codef(reply, RK_RESP_NO_PERMISSION, "the topic[%s] sending message is forbidden", topic);
        return;
    }
    int32_t nq = tc.write_queues > tc.read_queues ? tc.write_queues : tc.read_queues;
    if (qid >= nq) {
        char remark[200];
        snprintf(remark, sizeof remark, "request queueId[%" PRId64 "] is illegal, topic %s has %d queues", qid, topic, nq);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, remark);
        return;
    }
    if (qid < 0)
        qid = (int64_t)(rk_mono_ns() % (uint64_t)(tc.write_queues > 0 ? tc.write_queues : 1));
    rk_store_t *st = rk_broker_store(b);
    rk_commitlog_t *cl = rk_store_commitlog(st);
    rk_msg_t base = {.topic = topic, .topic_len = strlen(topic), .queue_id = (int32_t)qid, .flag = (int32_t)flag,
                     .sys_flag = (int32_t)sys_flag, .born_ts = born, .store_host = *rk_commitlog_store_host(cl),
                     .reconsume_times = (int32_t)reconsume};
    const rk_host_t *peer = rk_conn_peer_host(conn);
    if (peer != NULL)
        base.born_host = *peer;
    else
        rk_host_parse("0.0.0.0:0", &base.born_host);
    if (tc.multi_tag)
        base.sys_flag |= RK_SYSFLAG_MULTI_TAGS;
    /* The broker adds CLUSTER to what the producer sent. */
    rk_buf_t hp = {0};
    if (props != NULL && *props)
        rk_buf_put_str(&hp, props);
    while (hp.len > 0 && hp.data[hp.len - 1] == RK_PROP_SEP)     /* Go ends with \2 */
        hp.len--;
    rk_props_put(&hp, RK_PROP_CLUSTER, rk_broker_config(b)->cluster_name);
    send_done_t *sd = calloc(1, sizeof *sd + (batch ? 64 * sizeof sd->phys[0] : 0));
    if (sd == NULL) {
        rk_buf_free(&hp);
        rk_reply_code(reply, RK_RESP_SYSTEM_BUSY, "out of memory");
        return;
    }
    sd->reply = reply;
    sd->st = rk_broker_store(b);
    sd->qid = qid;
    sd->batch = batch;
    sd->store_host = base.store_host;
    if (!batch) {
        base.body = req->body;
        base.body_len = req->body_len;
        base.props = (const char *)hp.data;
        base.props_len = hp.len;
        rc = rk_commitlog_put_async(cl, &base, send_done, sd);
    } else {
        /* each inner message: its own properties + the batch header's */
        rk_batch_msg_t bm;
        size_t pos = 0;
        int n = 0;
        rk_msg_t msgs[64];
        rk_buf_t pbufs[64];
        memset(pbufs, 0, sizeof pbufs);
        rc = RK_OK;
        while (rc == RK_OK && (rc = rk_batch_decode(req->body, req->body_len, &pos, &bm)) == RK_OK) {
            if (n == 64) {
                rc = RK_ETOOBIG;
                break;
            }
            msgs[n] = base;
            msgs[n].body = bm.body;
            msgs[n].body_len = bm.body_len;
            msgs[n].flag = bm.flag;
            rk_buf_put(&pbufs[n], bm.props, bm.props_len);
            if (pbufs[n].len > 0 && pbufs[n].data[pbufs[n].len - 1] != RK_PROP_SEP)
                rk_buf_put_u8(&pbufs[n], RK_PROP_SEP);
            rk_buf_put(&pbufs[n], hp.data, hp.len);
            msgs[n].props = (const char *)pbufs[n].data;
            msgs[n].props_len = pbufs[n].len;
            n++;
        }
        sd->n = n;
        if (rc == RK_EEOF && n > 0)
            rc = rk_commitlog_put_batch_async(cl, msgs, n, sd->phys, send_done, sd);
        else if (rc == RK_EEOF || rc == RK_OK)
            rc = RK_EINVAL;
        for (int i = 0; i < n; i++)
            rk_buf_free(&pbufs[i]);
    }
    rk_buf_free(&hp);
    if (rc != RK_OK) {
        free(sd);       /* the callback never runs when the put returns an error */
        rk_reply_code(reply, rc == RK_ETOOBIG || rc == RK_EINVAL || rc == RK_ECORRUPT ? RK_RESP_MESSAGE_ILLEGAL
                                                                                          : RK_RESP_SYSTEM_ERROR,
                      rc == RK_ETOOBIG ? "a batch holds at most 64 messages" : "bad message body");
        return;
    }
}

/* End of a network loop turn: the sends of the turn were put with their
 * wake-ups held back; one wake of the flush thread (one group commit) and of
 * the dispatcher now covers them all (rk_commitlog_batch_end). */
static void send_turn_end(void *ctx)
{
    rk_broker_t *b = ctx;
    rk_commitlog_batch_end(rk_store_commitlog(rk_broker_store(b)));
}

/* ------------------------------------------------------------ pull */

static int pull_status_code(rk_get_status_t s, int64_t req_offset)
{
    switch (s) {
    case RK_GET_FOUND: return RK_RESP_SUCCESS;
    case RK_GET_NO_MATCHED_MESSAGE:
    case RK_GET_MESSAGE_WAS_REMOVING: return RK_RESP_PULL_RETRY_IMMEDIATELY;
    case RK_GET_OFFSET_FOUND_NULL:
    case RK_GET_OFFSET_OVERFLOW_ONE: return RK_RESP_PULL_NOT_FOUND;
    case RK_GET_NO_MESSAGE_IN_QUEUE:
    case RK_GET_NO_MATCHED_LOGIC_QUEUE: return req_offset != 0 ? RK_RESP_PULL_OFFSET_MOVED : RK_RESP_PULL_NOT_FOUND;
    default: return RK_RESP_PULL_OFFSET_MOVED;
    }
}

/* Tag codes of "a || b" (NULL for "*" or nothing). */
static int32_t *tag_codes(const char *expr, int *n)
{
    *n = 0;
    if (expr == NULL || *expr == '\0' || strcmp(expr, "*") == 0)
        return NULL;
    int32_t *codes = malloc(sizeof *codes * (strlen(expr) / 2 + 1));
    if (codes == NULL)
        return NULL;
    for (const char *p = expr; *p;) {
        const char *bar = strstr(p, "||"), *end = bar ? bar : p + strlen(p), *a = p, *e = end;
        while (a < e && (*a == ' ' || *a == '\t')) a++;
        while (e > a && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if (e > a)
            codes[(*n)++] = rk_java_hash(a, (size_t)(e - a));
        p = bar ? bar + 2 : end;
    }
    return codes;
}

/* What a pull asks for; a held pull keeps its own copy. */
typedef struct pull_req {
    char group[256], topic[256];
    int qid;
    int64_t offset;
    int max;
    int32_t *codes;
    int ncodes;
} pull_req_t;

/* Runs the read and builds the response; *code is its response code. When
 * records were found, *found holds them (mapped memory, still referenced):
 * send them with send_pull(), which releases them once written. */
static rk_cmd_t *pull_response(rk_broker_t *b, const pull_req_t *pr, const rk_cmd_t *req, int *code,
                               rk_get_result_t **found)
{
    *found = NULL;
    rk_get_result_t *res = malloc(sizeof *res);
    int rc = res ? rk_store_get_message(rk_broker_store(b), pr->group, pr->topic, pr->qid, pr->offset, pr->max, 0,
                                        pr->codes, pr->ncodes, res)
                 : RK_ENOMEM;
    if (rc != RK_OK) {
        free(res);
        *code = RK_RESP_SYSTEM_ERROR;
        return rk_cmd_new_response(req, RK_RESP_SYSTEM_ERROR, rk_strerror(rc));
    }
    *code = pull_status_code(res->status, pr->offset);
    rk_cmd_t *resp = rk_cmd_new_response(req, *code, rk_get_status_name(res->status));
    if (resp != NULL) {
        rk_cmd_ext_set(resp, "suggestWhichBrokerId", "0");
        rk_cmd_ext_set_i64(resp, "nextBeginOffset", res->next_begin_offset);
        rk_cmd_ext_set_i64(resp, "minOffset", res->min_offset);
        rk_cmd_ext_set_i64(resp, "maxOffset", res->max_offset);
    }
    if (resp != NULL && res->count > 0) {
        *found = res;
        return resp;
    }
    rk_get_result_release(res);
    free(res);
    return resp;
}

static void release_found(void *arg)
{
    rk_get_result_t *res = arg;
    rk_get_result_release(res);
    free(res);
}

/* Zero copy: the records go from the mapped commitlog to the socket, the
 * files stay mapped until the write completes. */
static void send_pull(rk_reply_t *reply, rk_cmd_t *resp, rk_get_result_t *found)
{
    if (found == NULL) {
        rk_reply_send(reply, resp);
        return;
    }
    rk_iov_t *v = malloc(sizeof *v * (size_t)found->count);
    if (v == NULL) {
        release_found(found);
        rk_cmd_free(resp);
        rk_reply_code(reply, RK_RESP_SYSTEM_BUSY, "out of memory");
        return;
    }
    for (int i = 0; i < found->count; i++)
        v[i] = (rk_iov_t){found->msgs[i].data, (size_t)found->msgs[i].size};
    rk_reply_send_iov(reply, resp, v, found->count, release_found, found);
    free(v);
}

/* ---- long polling ----
 *
 * A pull that finds nothing and carries the suspend flag (sysFlag 0x2) is
 * held, not answered. The store's dispatcher tells us (on the reput thread)
 * which queues got messages; a 2 ms task on the server loop re-runs the held
 * pulls of those queues and answers them, or answers PULL_NOT_FOUND when
 * their suspendTimeoutMillis runs out.
 *
 * Each held pull is in three places, so that no event costs more than the
 * pulls it concerns:
 *   - its queue's list ("topic\1queueId" -> hqueue_t): a message wakes the
 *     pulls of its queue only (one map look-up on the reput thread);
 *   - its connection's list (connection id -> hconn_t): when the client goes
 *     away its pulls are dropped at once (RocketMQ keeps them until their
 *     timeout, up to 60 s, still re-running them on every message);
 *   - a min-heap by deadline: the tick visits only the pulls that are due.
 * Held pulls are capped per connection (maxHeldPullsPerConnection) and in
 * total (maxHeldPulls); a pull over a cap is answered PULL_NOT_FOUND at once. */

typedef struct hqueue hqueue_t;
typedef struct hconn hconn_t;

typedef struct held {
    pull_req_t pr;
    rk_reply_t *reply;
    uint64_t conn_id;
    uint64_t deadline;          /* mono ms */
    hqueue_t *q;
    hconn_t *c;
    struct held *qprev, *qnext; /* in q's list */
    struct held *cprev, *cnext; /* in c's list */
    struct held *dnext;         /* in a list of pulls to answer (not held any more) */
    size_t heap_at;
} held_t;

struct hqueue {
    held_t *head;
    hqueue_t *rnext;            /* in the ready list */
    bool ready;                 /* a message arrived: in the ready list */
    char key[];                 /* its key in core_t.queues */
};

struct hconn {
    held_t *head;
    size_t n;
    char key[24];               /* its key in core_t.conns */
};

typedef struct core {   /* the core module's state: held pulls and queue locks */
    rk_broker_t *b;
    uv_mutex_t mu;              /* guards everything about held pulls */
    rk_strmap_t queues;         /* "topic\1qid" -> hqueue_t*, queues with held pulls */
    rk_strmap_t conns;          /* connection id -> hconn_t*, connections with held pulls */
    held_t **heap;              /* every held pull, min-heap by deadline */
    size_t nheld, heap_cap;
    hqueue_t *ready;            /* queues a message arrived for */
    _Atomic size_t held_count;  /* nheld, read without the lock */
    size_t max_total, max_per_conn;
    uint64_t warned_at;         /* last "over the cap" log line (mono ms) */
    bool stopped;
    uv_mutex_t locks_mu;        /* guards locks (the module's other state) */
    rk_strmap_t locks;          /* queue locks of ordered consumption */
} core_t;

static void queue_key(char *out, size_t outlen, const char *topic, int qid)
{
    rk_strmap_key_int(out, outlen, topic, '\001', qid);   /* "%s\001%d": once per dispatched record */
}

/* ---- the deadline heap (under mu) ---- */

static void heap_set(core_t *lp, size_t i, held_t *h)
{
    lp->heap[i] = h;
    h->heap_at = i;
}

static void heap_up(core_t *lp, size_t i)
{
    held_t *h = lp->heap[i];
    while (i > 0 && lp->heap[(i - 1) / 2]->deadline > h->deadline) {
        heap_set(lp, i, lp->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_set(lp, i, h);
}

static void heap_down(core_t *lp, size_t i)
{
    held_t *h = lp->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        const held_t *best = h;
        if (l < lp->nheld && lp->heap[l]->deadline < best->deadline)
            best = lp->heap[m = l];
        if (l + 1 < lp->nheld && lp->heap[l + 1]->deadline < best->deadline)
            m = l + 1;
        if (m == i)
            break;
        heap_set(lp, i, lp->heap[m]);
        i = m;
    }
    heap_set(lp, i, h);
}

static void heap_remove(core_t *lp, held_t *h)
{
    size_t i = h->heap_at;
    held_t *last = lp->heap[--lp->nheld];
    if (i == lp->nheld)
        return;
    heap_set(lp, i, last);
    heap_up(lp, i);
    heap_down(lp, last->heap_at);
}

/* ---- holding and letting go (under mu) ---- */

static void mark_ready(core_t *lp, hqueue_t *q)
{
    if (!q->ready) {
        q->ready = true;
        q->rnext = lp->ready;
        lp->ready = q;
    }
}

/* Adds h to the three structures; RK_EFULL over a cap (unless force: a pull
 * that was held already goes back), RK_ENOMEM. */
static int hold(core_t *lp, held_t *h, uint64_t conn_id, bool force)
{
    char ckey[24], qkey[300];
    snprintf(ckey, sizeof ckey, "%" PRIu64, conn_id);
    hconn_t *c = rk_strmap_get(&lp->conns, ckey);
    if (!force && (lp->nheld >= lp->max_total || (c != NULL && c->n >= lp->max_per_conn)))
        return RK_EFULL;
    if (RK_GROW(lp->heap, lp->heap_cap, lp->nheld + 1, 64) != RK_OK)
        return RK_ENOMEM;
    queue_key(qkey, sizeof qkey, h->pr.topic, h->pr.qid);
    hqueue_t *q = rk_strmap_get(&lp->queues, qkey);
    if (q == NULL) {
        size_t klen = strlen(qkey) + 1;
        if ((q = calloc(1, sizeof *q + klen)) == NULL)
            return RK_ENOMEM;
        memcpy(q->key, qkey, klen);
        if (rk_strmap_put(&lp->queues, qkey, q, NULL) != RK_OK) {
            free(q);
            return RK_ENOMEM;
        }
    }
    if (c == NULL) {
        if ((c = calloc(1, sizeof *c)) == NULL || rk_strmap_put(&lp->conns, ckey, c, NULL) != RK_OK) {
            free(c);
            if (q->head == NULL && !q->ready)
                free(rk_strmap_remove(&lp->queues, qkey));
            return RK_ENOMEM;
        }
        memcpy(c->key, ckey, sizeof ckey);
    }
    h->q = q;
    h->qprev = NULL;
    h->qnext = q->head;
    if (q->head)
        q->head->qprev = h;
    q->head = h;
    h->c = c;
    h->cprev = NULL;
    h->cnext = c->head;
    if (c->head)
        c->head->cprev = h;
    c->head = h;
    c->n++;
    lp->heap[lp->nheld] = h;
    h->heap_at = lp->nheld++;
    heap_up(lp, h->heap_at);
    atomic_store(&lp->held_count, lp->nheld);
    return RK_OK;
}

/* Takes h out of the three structures (it is no longer held). */
static void unhold(core_t *lp, held_t *h)
{
    hqueue_t *q = h->q;
    if (h->qprev)
        h->qprev->qnext = h->qnext;
    else
        q->head = h->qnext;
    if (h->qnext)
        h->qnext->qprev = h->qprev;
    if (q->head == NULL && !q->ready)       /* a ready queue is freed by the tick */
        free(rk_strmap_remove(&lp->queues, q->key));
    hconn_t *c = h->c;
    if (h->cprev)
        h->cprev->cnext = h->cnext;
    else
        c->head = h->cnext;
    if (h->cnext)
        h->cnext->cprev = h->cprev;
    if (--c->n == 0)
        free(rk_strmap_remove(&lp->conns, c->key));
    heap_remove(lp, h);
    h->q = NULL;
    h->c = NULL;
    atomic_store(&lp->held_count, lp->nheld);
}

/* Reput thread: a message for d's queue wakes that queue's held pulls. */
static int lp_on_dispatch(void *ctx, const rk_dispatch_request_t *d)
{
    core_t *lp = ctx;
    if (atomic_load(&lp->held_count) == 0)
        return 0;
    char qkey[300];
    queue_key(qkey, sizeof qkey, d->topic, d->queue_id);
    uv_mutex_lock(&lp->mu);
    hqueue_t *q = rk_strmap_get(&lp->queues, qkey);
    if (q != NULL)
        mark_ready(lp, q);
    uv_mutex_unlock(&lp->mu);
    return 0;
}

static void held_free(held_t *h)
{
    free(h->pr.codes);
    free(h);
}

size_t rk_broker_held_pulls(rk_broker_t *b)
{
    core_t *lp = rk_broker_module_state(b, rk_broker_core_module.name);
    return lp ? atomic_load(&lp->held_count) : 0;
}

/* Loop thread, every 2 ms: re-runs the pulls of the queues that got messages
 * and answers those whose time is up. */
static void lp_tick(void *ctx)
{
    core_t *lp = ctx;
    uint64_t now = rk_mono_ms();
    held_t *due = NULL;
    uv_mutex_lock(&lp->mu);
    while (lp->ready != NULL) {
        hqueue_t *q = lp->ready;
        lp->ready = q->rnext;
        while (q->head != NULL) {
            held_t *h = q->head;
            unhold(lp, h);      /* keeps q: it is still marked ready */
            h->dnext = due;
            due = h;
        }
        free(rk_strmap_remove(&lp->queues, q->key));
    }
    while (lp->nheld > 0 && lp->heap[0]->deadline <= now) {
        held_t *h = lp->heap[0];
        unhold(lp, h);
        h->dnext = due;
        due = h;
    }
    uv_mutex_unlock(&lp->mu);
    for (held_t *h = due, *next; h != NULL; h = next) {
        next = h->dnext;
        int code;
        rk_get_result_t *found;
        rk_cmd_t *resp = pull_response(lp->b, &h->pr, rk_reply_request(h->reply), &code, &found);
        if (code == RK_RESP_PULL_NOT_FOUND && now < h->deadline) {
            /* woken by a message it cannot see yet: hold on */
            uv_mutex_lock(&lp->mu);
            int rc = lp->stopped ? RK_ECLOSED : hold(lp, h, h->conn_id, true);
            uv_mutex_unlock(&lp->mu);
            if (rc == RK_OK) {
                rk_cmd_free(resp);
                continue;
            }
        }
        send_pull(h->reply, resp, found);
        held_free(h);
    }
}

/* Loop thread: a connection closed; its held pulls go with it. */
static void lp_on_close(void *ctx, rk_conn_t *conn)
{
    core_t *lp = ctx;
    if (atomic_load(&lp->held_count) == 0)
        return;
    char ckey[24];
    snprintf(ckey, sizeof ckey, "%" PRIu64, rk_conn_id(conn));
    held_t *gone = NULL;
    size_t n = 0;
    uv_mutex_lock(&lp->mu);
    hconn_t *c = rk_strmap_get(&lp->conns, ckey);
    while (c != NULL && c->head != NULL) {
        held_t *h = c->head;
        bool last = c->n == 1;
        unhold(lp, h);          /* frees c with its last pull */
        h->dnext = gone;
        gone = h;
        n++;
        if (last)
            break;
    }
    uv_mutex_unlock(&lp->mu);
    for (held_t *h = gone, *next; h != NULL; h = next) {
        next = h->dnext;
        rk_reply_code(h->reply, RK_RESP_PULL_NOT_FOUND, "the connection closed");   /* dropped */
        held_free(h);
    }
    if (n > 0)
        rk_log_debug("broker", "%s closed: dropped its %zu held pulls", rk_conn_peer(conn), n);
}

static void p_pull(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    core_t *lp = ctx;
    rk_broker_t *b = lp->b;
    const char *group = rk_cmd_ext_get(req, "consumerGroup");
    const char *topic = rk_cmd_ext_get(req, "topic");
    int64_t qid, offset, max, sys_flag, commit, suspend;
    if (!ext_num(req, reply, "queueId", NULL, 0, INT32_MAX, -1, &qid) ||
        !ext_num(req, reply, "queueOffset", NULL, 0, INT64_MAX, -1, &offset) ||
        !ext_num(req, reply, "maxMsgNums", NULL, 0, INT32_MAX, 32, &max) ||
        !ext_num(req, reply, "sysFlag", NULL, 0, INT32_MAX, 0, &sys_flag) ||
        !ext_num(req, reply, "commitOffset", NULL, -1, INT64_MAX, -1, &commit) ||
        !ext_num(req, reply, "suspendTimeoutMillis", NULL, 0, INT64_MAX, 0, &suspend))
        return;
    rk_topic_config_t tc;
    if (group == NULL || topic == NULL || qid < 0 || offset < 0 || strlen(group) >= 256) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "consumerGroup, topic, queueId and queueOffset are required");
        return;
    }
    if (rk_topic_get(rk_broker_topics(b), topic, &tc) != RK_OK) {
        rk_reply_codef(reply, RK_RESP_TOPIC_NOT_EXIST, "topic[%s] not exist, apply first please!", topic);
        return;
    }
    if (qid >= tc.read_queues) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "queueId is illegal");
        return;
    }
    if (rk_broker_is_slave(b) && !rk_broker_slave_read_enable(b)) {
        /* PullMessageProcessor: a slave without slaveReadEnable sends the
         * consumer to the master (brokerId 0) and keeps its offset. */
        rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_PULL_RETRY_IMMEDIATELY, "SLAVE_READ_DISABLED");
        if (resp != NULL) {
            rk_cmd_ext_set(resp, "suggestWhichBrokerId", "0");
            rk_cmd_ext_set_i64(resp, "nextBeginOffset", offset);
            rk_cmd_ext_set_i64(resp, "minOffset", rk_store_min_offset(rk_broker_store(b), topic, (int)qid));
            rk_cmd_ext_set_i64(resp, "maxOffset", rk_store_max_offset(rk_broker_store(b), topic, (int)qid));
        }
        rk_reply_send(reply, resp);
        return;
    }
    if ((sys_flag & 0x1) && commit >= 0 && !rk_broker_is_slave(b))     /* a slave takes offsets from its master */
        rk_store_commit_offset(rk_broker_store(b), group, topic, (int)qid, commit);
    held_t *h = calloc(1, sizeof *h);
    if (h == NULL) {
        rk_reply_code(reply, RK_RESP_SYSTEM_BUSY, "out of memory");
        return;
    }
    snprintf(h->pr.group, sizeof h->pr.group, "%s", group);
    snprintf(h->pr.topic, sizeof h->pr.topic, "%s", topic);
    h->pr.qid = (int)qid;
    h->pr.offset = offset;
    h->pr.max = (int)(max > 0 && max <= 1024 ? max : 32);
    h->pr.codes = tag_codes(rk_cmd_ext_get(req, "subscription"), &h->pr.ncodes);
    int code;
    rk_get_result_t *found;
    rk_cmd_t *resp = pull_response(b, &h->pr, req, &code, &found);
    if (code == RK_RESP_PULL_NOT_FOUND && (sys_flag & 0x2) && suspend > 0) {
        rk_cmd_free(resp);
        h->reply = reply;
        h->conn_id = rk_conn_id(conn);
        h->deadline = rk_mono_ms() + (uint64_t)(suspend < 60000 ? suspend : 60000);
        uv_mutex_lock(&lp->mu);
        int rc = lp->stopped ? RK_ECLOSED : hold(lp, h, h->conn_id, false);
        if (rc == RK_OK) {
            /* a message dispatched between our read and now would not wake us */
            if (rk_store_max_offset(rk_broker_store(b), h->pr.topic, h->pr.qid) > h->pr.offset)
                mark_ready(lp, h->q);
            uv_mutex_unlock(&lp->mu);
            return;
        }
        uint64_t now = rk_mono_ms();
        bool warn = rc == RK_EFULL && (lp->warned_at == 0 || now - lp->warned_at >= 10000);
        if (warn)
            lp->warned_at = now;
        uv_mutex_unlock(&lp->mu);
        if (warn)
            rk_log_warn("broker", "%s: too many held pulls (maxHeldPulls=%zu, maxHeldPullsPerConnection=%zu); "
                        "answering at once instead of holding", rk_conn_peer(conn), lp->max_total, lp->max_per_conn);
        rk_reply_code(reply, RK_RESP_PULL_NOT_FOUND, rc == RK_EFULL ? "OFFSET_OVERFLOW_ONE (too many held pulls)"
                                                                    : "OFFSET_OVERFLOW_ONE");
        held_free(h);
        return;
    }
    held_free(h);
    send_pull(reply, resp, found);
}

/* ------------------------------------------------------------ offsets */

static void p_query_offset(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_broker_t *b = ctx;
    const char *group = rk_cmd_ext_get(req, "consumerGroup"), *topic = rk_cmd_ext_get(req, "topic");
    int64_t qid;
    if (!ext_num(req, reply, "queueId", NULL, 0, INT32_MAX, -1, &qid))
        return;
    if (group == NULL || topic == NULL || qid < 0) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "consumerGroup, topic and queueId are required");
        return;
    }
    rk_store_t *st = rk_broker_store(b);
    int64_t off = rk_store_query_offset(st, group, topic, (int)qid);
    if (off < 0) {
        /* No committed offset: a queue that still starts at 0 is read from 0. */
        if (rk_store_min_offset(st, topic, (int)qid) <= 0)
            off = 0;
        else {
            rk_reply_code(reply, RK_RESP_QUERY_NOT_FOUND, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first");
            return;
        }
    }
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    if (resp)
        rk_cmd_ext_set_i64(resp, "offset", off);
    rk_reply_send(reply, resp);
}

static void p_update_offset(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_broker_t *b = ctx;
    const char *group = rk_cmd_ext_get(req, "consumerGroup"), *topic = rk_cmd_ext_get(req, "topic");
    int64_t qid, off;
    if (!ext_num(req, reply, "queueId", NULL, 0, INT32_MAX, -1, &qid) ||
        !ext_num(req, reply, "commitOffset", NULL, 0, INT64_MAX, -1, &off))
        return;
    if (group == NULL || topic == NULL || qid < 0 || off < 0) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "consumerGroup, topic, queueId and commitOffset are required");
        return;
    }
    /* RocketMQ 5's ConsumerManageProcessor: the group and the topic must
     * exist (4.x stored offsets for any name, an empty group included). A
     * group is created here on first sight like on a heartbeat, bounded the same. */
    rk_group_config_t gc;
    int grc = rk_group_get(rk_broker_groups(b), group, &gc);
    if (grc != RK_OK) {
        rk_reply_codef(reply, RK_RESP_SUBSCRIPTION_GROUP_NOT_EXIST, "Group %.200s not exist!%s", group,
                   grc == RK_EFULL ? " (not created: the broker already has autoCreateSubscriptionGroupMax groups)"
                                   : "");
        return;
    }
    rk_topic_config_t tc;
    if (rk_topic_get(rk_broker_topics(b), topic, &tc) != RK_OK) {
        rk_reply_codef(reply, RK_RESP_TOPIC_NOT_EXIST, "Topic %.200s not exist!", topic);
        return;
    }
    if (!queue_exists(rk_broker_topics(b), topic, qid, reply))
        return;
    int rc = rk_store_commit_offset(rk_broker_store(b), group, topic, (int)qid, off);
    rk_reply_code(reply, rc == RK_OK ? RK_RESP_SUCCESS : RK_RESP_SYSTEM_ERROR,
                  rc == RK_OK ? NULL : rk_strerror(rc));   /* no answer goes out for oneway */
}

static void reply_offset(rk_reply_t *reply, int64_t off)
{
    rk_cmd_t *resp = rk_cmd_new_response(rk_reply_request(reply), RK_RESP_SUCCESS, NULL);
    if (resp)
        rk_cmd_ext_set_i64(resp, "offset", off);
    rk_reply_send(reply, resp);
}

static void p_max_offset(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    int64_t qid;
    if (!ext_num(req, reply, "queueId", NULL, 0, INT32_MAX, 0, &qid))
        return;
    const char *topic = rk_cmd_ext_get(req, "topic");
    reply_offset(reply, topic ? rk_store_max_offset(rk_broker_store(ctx), topic, (int)qid) : 0);
}

static void p_min_offset(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    int64_t qid;
    if (!ext_num(req, reply, "queueId", NULL, 0, INT32_MAX, 0, &qid))
        return;
    const char *topic = rk_cmd_ext_get(req, "topic");
    reply_offset(reply, topic ? rk_store_min_offset(rk_broker_store(ctx), topic, (int)qid) : 0);
}

/* ------------------------------------------------------------ lookups */

static void release_view(void *arg)
{
    rk_store_view_t *v = arg;
    rk_store_view_release(v);
    free(v);
}

/* VIEW_MESSAGE_BY_ID: the stored record at a commitlog offset, zero-copy. */
static void p_view(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_broker_t *b = ctx;
    int64_t off;
    if (!ext_num(req, reply, "offset", NULL, 0, INT64_MAX, -1, &off))
        return;
    rk_store_view_t *v = malloc(sizeof *v);
    if (v == NULL || off < 0 || rk_store_view(rk_broker_store(b), off, v) != RK_OK) {
        free(v);
        char remark[96];
        snprintf(remark, sizeof remark, "can not find message by the offset, %" PRId64, off);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, remark);
        return;
    }
    rk_iov_t iov = {v->data, (size_t)v->size};
    rk_reply_send_iov(reply, rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL), &iov, 1, release_view, v);
}

typedef struct {
    rk_store_view_t views[64];
    int n;
} views_t;

static void release_views(void *arg)
{
    views_t *vs = arg;
    for (int i = 0; i < vs->n; i++)
        rk_store_view_release(&vs->views[i]);
    free(vs);
}

/* QUERY_MESSAGE: messages by key (or UNIQ_KEY) in a time range. */
static void p_query_message(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_broker_t *b = ctx;
    const char *topic = rk_cmd_ext_get(req, "topic"), *key = rk_cmd_ext_get(req, "key");
    int64_t max, begin, end;
    if (!ext_num(req, reply, "maxNum", NULL, INT32_MIN, INT32_MAX, 32, &max) ||
        !ext_num(req, reply, "beginTimestamp", NULL, INT64_MIN, INT64_MAX, 0, &begin) ||
        !ext_num(req, reply, "endTimestamp", NULL, INT64_MIN, INT64_MAX, INT64_MAX, &end))
        return;
    bool uniq = false;
    rk_cmd_ext_bool(req, "_UNIQUE_KEY_QUERY", &uniq);
    if (uniq || max <= 0 || max > 64)
        max = uniq ? 32 : 64;               /* defaultQueryMaxNum for UNIQ_KEY queries */
    if (topic == NULL || key == NULL) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "topic and key are required");
        return;
    }
    int64_t phys[64];
    int n = rk_store_query_by_key(rk_broker_store(b), topic, key, begin, end, phys, (int)max);
    views_t *vs = n > 0 ? calloc(1, sizeof *vs) : NULL;
    rk_iov_t iov[64];
    for (int i = 0; vs != NULL && i < n; i++)
        if (rk_store_view(rk_broker_store(b), phys[i], &vs->views[vs->n]) == RK_OK) {
            iov[vs->n] = (rk_iov_t){vs->views[vs->n].data, (size_t)vs->views[vs->n].size};
            vs->n++;
        }
    if (vs == NULL || vs->n == 0) {
        free(vs);
        rk_reply_code(reply, RK_RESP_QUERY_NOT_FOUND, "can not find message, maybe time range not correct");
        return;
    }
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    if (resp != NULL) {
        rk_cmd_ext_set_i64(resp, "indexLastUpdateTimestamp", rk_now_ms());
        rk_cmd_ext_set_i64(resp, "indexLastUpdatePhyoffset", rk_store_commitlog_max(rk_broker_store(b)));
    }
    rk_reply_send_iov(reply, resp, iov, vs->n, release_views, vs);
}

static void p_search_offset(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    int64_t qid, ts;
    if (!ext_num(req, reply, "queueId", NULL, 0, INT32_MAX, 0, &qid) ||
        !ext_num(req, reply, "timestamp", NULL, INT64_MIN, INT64_MAX, 0, &ts))
        return;
    const char *topic = rk_cmd_ext_get(req, "topic");
    reply_offset(reply, topic ? rk_store_offset_by_time(rk_broker_store(ctx), topic, (int)qid, ts) : 0);
}

static void p_earliest_time(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    int64_t qid;
    if (!ext_num(req, reply, "queueId", NULL, 0, INT32_MAX, 0, &qid))
        return;
    const char *topic = rk_cmd_ext_get(req, "topic");
    rk_store_t *st = rk_broker_store(ctx);
    int64_t ts = topic ? rk_store_message_store_time(st, topic, (int)qid, rk_store_min_offset(st, topic, (int)qid)) : -1;
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    if (resp)
        rk_cmd_ext_set_i64(resp, "timestamp", ts);
    rk_reply_send(reply, resp);
}

/* ------------------------------------------------------------ clients */

/* ---- NOTIFY_CONSUMER_IDS_CHANGED: members of a group learn it changed and rebalance ---- */

typedef struct {
    rk_broker_t *b;
    char group[256];
} notify_t;

/* Loop thread: a oneway NOTIFY_CONSUMER_IDS_CHANGED to every member. */
static void notify_group(void *arg)
{
    notify_t *nt = arg;
    size_t n;
    uint64_t *ids = rk_client_manager_connections(rk_broker_clients(nt->b), nt->group, &n);
    for (size_t i = 0; i < n; i++) {
        rk_conn_t *conn = rk_rserver_conn(rk_broker_server(nt->b), ids[i]);
        rk_cmd_t *cmd = conn ? rk_cmd_new(RK_REQ_NOTIFY_CONSUMER_IDS_CHANGED) : NULL;
        if (cmd == NULL)
            continue;
        rk_cmd_ext_set(cmd, "consumerGroup", nt->group);
        rk_conn_send_oneway(conn, cmd);
    }
    free(ids);
    free(nt);
}

/* Any thread. */
void rk_broker_notify_group_changed(rk_broker_t *b, const char *group)
{
    notify_t *nt = malloc(sizeof *nt);
    if (nt == NULL)
        return;
    nt->b = b;
    snprintf(nt->group, sizeof nt->group, "%s", group);
    if (rk_rserver_post(rk_broker_server(b), notify_group, nt) != RK_OK)
        free(nt);
}

static void consumer_data_free(rk_consumer_data_t *cd)
{
    free(cd->group);
    for (size_t j = 0; j < cd->nsubs; j++)
        rk_subscription_free(&cd->subs[j]);
    free(cd->subs);
    memset(cd, 0, sizeof *cd);
}

/* HEART_BEAT: the body within the RK_HEARTBEAT_MAX_* caps (else refused
 * whole); per consumer group, its subscription group (created on first
 * sight up to autoCreateSubscriptionGroupMax) and, when that exists, its
 * %RETRY% topic; both are written later by their writer threads. A group
 * past the bound is not registered and the answer says so; the others are. */
static void p_heartbeat(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    rk_broker_t *b = ctx;
    rk_heartbeat_t hb;
    char why[300] = "";
    int rc = rk_heartbeat_parse_why(req->body, req->body_len, &hb, why, sizeof why);
    if (rc != RK_OK) {
        if (rc == RK_ETOOBIG)
            rk_log_warn("broker", "%s: heartbeat refused: %s", rk_conn_peer(conn), why);
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "%s HeartbeatData body: %s",
                   rc == RK_ETOOBIG ? "heartbeat refused, too big a" : "bad", why[0] ? why : rk_strerror(rc));
        return;
    }
    snprintf(hb.client_addr, sizeof hb.client_addr, "%s", rk_conn_peer(conn));
    hb.language = req->language;
    hb.version = req->version;
    size_t kept = 0, refused = 0;
    char first_refused[256] = "";
    for (size_t i = 0; i < hb.nconsumers; i++) {
        rk_consumer_data_t *cd = &hb.consumers[i];
        rk_group_config_t gc;       /* the group's settings, created on first sight */
        int grc = rk_group_get(rk_broker_groups(b), cd->group, &gc);
        if (grc == RK_EFULL || grc == RK_EINVAL) {
            if (refused++ == 0)
                snprintf(first_refused, sizeof first_refused, "%.200s", cd->group);
            consumer_data_free(cd);
            continue;
        }
        if (grc == RK_OK) {         /* RocketMQ: a retry topic only for a group that has a config */
            char retry[256];
            int len = snprintf(retry, sizeof retry, "%s%s", RK_RETRY_PREFIX, cd->group);
            bool created = false;
            int trc = len < (int)sizeof retry && rk_topic_name_valid(retry)
                          ? rk_topic_create_retry(rk_broker_topics(b), retry, &created)
                          : RK_EINVAL;
            if (created)
                rk_broker_topics_changed(b);
            else if (trc == RK_EFULL)
                rk_log_warn("broker", "consumer group %s: no retry topic created, the broker already has "
                            "autoCreateSubscriptionGroupMax=%" PRId64 " %s topics", cd->group,
                            rk_broker_config(b)->auto_create_group_max, RK_RETRY_PREFIX);
        } else {
            rk_log_warn("broker", "consumer group %s has no subscription group config", cd->group);
        }
        if (kept != i) {
            hb.consumers[kept] = *cd;
            memset(cd, 0, sizeof *cd);
        }
        kept++;
    }
    hb.nconsumers = kept;
    char **changed = NULL;
    size_t n = 0;
    rc = rk_client_manager_heartbeat(rk_broker_clients(b), &hb, rk_conn_id(conn), rk_now_ms(), &changed, &n);
    for (size_t i = 0; i < n; i++) {
        rk_log_info("broker", "consumer group %s: %s joined", changed[i], hb.client_id);
        rk_broker_notify_group_changed(b, changed[i]);
    }
    rk_strv_free(changed, n);
    if (refused > 0) {
        rk_log_warn("broker", "%s: heartbeat of %s: %zu consumer group(s) not registered (first: %s), the broker "
                    "already has autoCreateSubscriptionGroupMax=%" PRId64 " subscription groups",
                    rk_conn_peer(conn), hb.client_id, refused, first_refused, rk_broker_config(b)->auto_create_group_max);
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "%zu consumer group(s) not registered (first: %s): the broker already "
                   "has autoCreateSubscriptionGroupMax=%" PRId64 " subscription groups (or a name is empty or over "
                   "255 bytes)", refused, first_refused, rk_broker_config(b)->auto_create_group_max);
    } else if (rc != RK_OK) {
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, rk_strerror(rc));
    } else {
        rk_reply_code(reply, RK_RESP_SUCCESS, NULL);
    }
    rk_heartbeat_free(&hb);
}

static void p_consumer_list(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_broker_t *b = ctx;
    const char *group = rk_cmd_ext_get(req, "consumerGroup");
    size_t n = 0;
    char **ids = group ? rk_client_manager_consumers(rk_broker_clients(b), group, &n) : NULL;
    if (n == 0) {
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "no consumer for this group, %s", group ? group : "");
        return;
    }
    rk_buf_t body = {0};
    rk_buf_put_str(&body, "{\"consumerIdList\":[");
    for (size_t i = 0; i < n; i++)
        rk_buf_printf(&body, "%s\"%s\"", i ? "," : "", ids[i]);
    rk_buf_put_str(&body, "]}");
    rk_strv_free(ids, n);
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    if (resp != NULL && body.err == 0) {
        size_t len;
        uint8_t *data = rk_buf_detach(&body, &len);
        rk_cmd_own_body(resp, data, len);
    }
    rk_buf_free(&body);
    rk_reply_send(reply, resp);
}

static void p_unregister_client(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_broker_t *b = ctx;
    const char *id = rk_cmd_ext_get(req, "clientID"), *group = rk_cmd_ext_get(req, "consumerGroup");
    if (id != NULL && group != NULL && rk_client_manager_unregister(rk_broker_clients(b), group, id))
        rk_log_info("broker", "consumer group %s: %s left", group, id);
    rk_reply_code(reply, RK_RESP_SUCCESS, NULL);
}

/* ------------------------------------------------------------ admin */

static void p_create_topic(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_broker_t *b = ctx;
    const char *topic = rk_cmd_ext_get(req, "topic");
    if (topic == NULL || !rk_topic_name_valid(topic)) {
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "the topic[%s] is not valid", topic ? topic : "");
        return;
    }
    if (rk_topic_is_system(topic)) {        /* AdminBrokerProcessor.updateAndCreateTopic */
        rk_reply_codef(reply, RK_RESP_SYSTEM_ERROR, "The topic[%s] is conflict with system topic.", topic);
        return;
    }
    rk_topic_config_t tc = {.read_queues = 8, .write_queues = 8, .perm = RK_PERM_READ | RK_PERM_WRITE};
    snprintf(tc.name, sizeof tc.name, "%s", topic);
    int64_t rq, wq, perm, sf;
    if (!ext_num(req, reply, "readQueueNums", NULL, 1, RK_TOPIC_MAX_QUEUES, 8, &rq) ||
        !ext_num(req, reply, "writeQueueNums", NULL, 1, RK_TOPIC_MAX_QUEUES, 8, &wq) ||
        !ext_num(req, reply, "perm", NULL, 0, RK_PERM_MAX, RK_PERM_READ | RK_PERM_WRITE, &perm) ||
        !ext_num(req, reply, "topicSysFlag", NULL, 0, INT32_MAX, 0, &sf))
        return;
    tc.read_queues = (int32_t)rq;
    tc.write_queues = (int32_t)wq;
    tc.perm = (int32_t)perm;
    tc.sys_flag = (int32_t)sf;
    rk_cmd_ext_bool(req, "order", &tc.order);
    const char *ft = rk_cmd_ext_get(req, "topicFilterType");
    tc.multi_tag = ft != NULL && strcmp(ft, "MULTI_TAG") == 0;
    int rc = rk_topic_put(rk_broker_topics(b), &tc);
    if (rc == RK_OK)
        rk_broker_topics_changed(b);
    rk_reply_code(reply, rc == RK_OK ? RK_RESP_SUCCESS : RK_RESP_SYSTEM_ERROR, rc == RK_OK ? NULL : rk_strerror(rc));
}

static void p_all_topics(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    char *s = rk_topic_encode(rk_broker_topics(ctx), false);
    rk_cmd_t *resp = rk_cmd_new_response(req, s ? RK_RESP_SUCCESS : RK_RESP_SYSTEM_ERROR, NULL);
    if (resp != NULL && s != NULL)
        rk_cmd_own_body(resp, (uint8_t *)s, strlen(s));
    else
        free(s);
    rk_reply_send(reply, resp);
}

/* ------------------------------------------------------------ queue locks (ordered consumption)
 *
 * LOCK_BATCH_MQ / UNLOCK_BATCH_MQ: a consumer of an ordered topic locks the
 * queues it was given so that, during a rebalance, two members never consume
 * the same queue at once. A lock belongs to a client id and lapses 60 s after
 * it was last renewed (rocketmq.broker.rebalance.lockMaxLiveTime); clients
 * renew every 20 s. Keyed "group\1topic\1brokerName\1queueId". */

#define LOCK_MAX_LIVE_MS 60000

typedef struct {
    char client[256];
    int64_t at;
} qlock_t;

static void p_lock_batch(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply, bool lock)
{
    (void)conn;
    core_t *lp = ctx;
    cJSON *body = req->body_len ? rk_json_parse((const char *)req->body, req->body_len) : NULL;
    const char *client = rk_json_get_str(body, "clientId"), *group = rk_json_get_str(body, "consumerGroup");
    cJSON *set = cJSON_GetObjectItemCaseSensitive(body, "mqSet");
    if (client == NULL || group == NULL || !cJSON_IsArray(set) || strlen(client) >= 256) {
        cJSON_Delete(body);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "clientId, consumerGroup and mqSet are required");
        return;
    }
    cJSON *out = cJSON_CreateObject(), *ok = cJSON_AddArrayToObject(out, "lockOKMQSet");
    int64_t now = rk_now_ms();
    uv_mutex_lock(&lp->locks_mu);
    for (cJSON *mq = set->child; mq != NULL; mq = mq->next) {
        const char *topic = rk_json_get_str(mq, "topic"), *bname = rk_json_get_str(mq, "brokerName");
        int64_t qid = -1;
        rk_json_get_i64(mq, "queueId", &qid);
        if (topic == NULL || bname == NULL || qid < 0 || qid > INT32_MAX)
            continue;
        char key[800];
        snprintf(key, sizeof key, "%s\001%s\001%s\001%lld", group, topic, bname, (long long)qid);
        qlock_t *l = rk_strmap_get(&lp->locks, key);
        if (!lock) {
            if (l != NULL && strcmp(l->client, client) == 0)
                free(rk_strmap_remove(&lp->locks, key));
            continue;
        }
        bool mine = l == NULL || strcmp(l->client, client) == 0 || now - l->at > LOCK_MAX_LIVE_MS;
        if (!mine)
            continue;
        if (l == NULL && ((l = malloc(sizeof *l)) == NULL || rk_strmap_put(&lp->locks, key, l, NULL) != RK_OK)) {
            free(l);
            continue;
        }
        snprintf(l->client, sizeof l->client, "%s", client);
        l->at = now;
        cJSON_AddItemToArray(ok, cJSON_Duplicate(mq, true));
    }
    uv_mutex_unlock(&lp->locks_mu);
    cJSON_Delete(body);
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    if (lock && resp != NULL) {
        char *s = rk_json_print(out, 0);
        if (s != NULL)
            rk_cmd_own_body(resp, (uint8_t *)s, strlen(s));
    }
    cJSON_Delete(out);
    rk_reply_send(reply, resp);
}

static void p_lock(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    p_lock_batch(ctx, conn, req, reply, true);
}

static void p_unlock(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    p_lock_batch(ctx, conn, req, reply, false);
}

/* ------------------------------------------------------------ module */

static int core_init(rk_broker_t *b, void **state)
{
    core_t *lp = calloc(1, sizeof *lp);
    if (lp == NULL || uv_mutex_init(&lp->mu) != 0) {
        free(lp);
        return RK_ENOMEM;
    }
    if (uv_mutex_init(&lp->locks_mu) != 0) {
        uv_mutex_destroy(&lp->mu);
        free(lp);
        return RK_ENOMEM;
    }
    rk_strmap_init(&lp->locks);
    rk_strmap_init(&lp->queues);
    rk_strmap_init(&lp->conns);
    lp->b = b;
    lp->max_total = (size_t)rk_broker_config(b)->max_held_pulls;
    lp->max_per_conn = (size_t)rk_broker_config(b)->max_held_pulls_per_conn;
    *state = lp;
    static const struct {
        int32_t code;
        rk_processor_fn fn;
        int flags;
    } table[] = {
        {RK_REQ_SEND_MESSAGE, p_send, RK_PROC_INLINE},
        {RK_REQ_SEND_MESSAGE_V2, p_send, RK_PROC_INLINE},
        {RK_REQ_SEND_BATCH_MESSAGE, p_send, RK_PROC_INLINE},
        {RK_REQ_QUERY_CONSUMER_OFFSET, p_query_offset, RK_PROC_INLINE},
        {RK_REQ_UPDATE_CONSUMER_OFFSET, p_update_offset, RK_PROC_INLINE},
        {RK_REQ_GET_MAX_OFFSET, p_max_offset, RK_PROC_INLINE},
        {RK_REQ_GET_MIN_OFFSET, p_min_offset, RK_PROC_INLINE},
        {RK_REQ_HEART_BEAT, p_heartbeat, RK_PROC_SLOW},          /* may persist topics.json */
        {RK_REQ_UNREGISTER_CLIENT, p_unregister_client, RK_PROC_INLINE},
        {RK_REQ_GET_CONSUMER_LIST_BY_GROUP, p_consumer_list, RK_PROC_INLINE},
        {RK_REQ_UPDATE_AND_CREATE_TOPIC, p_create_topic, RK_PROC_SLOW},
        {RK_REQ_GET_ALL_TOPIC_CONFIG, p_all_topics, RK_PROC_INLINE},
        {RK_REQ_VIEW_MESSAGE_BY_ID, p_view, RK_PROC_INLINE},
        {RK_REQ_QUERY_MESSAGE, p_query_message, RK_PROC_SLOW},     /* reads index files */
        {RK_REQ_SEARCH_OFFSET_BY_TIMESTAMP, p_search_offset, RK_PROC_SLOW},
        {RK_REQ_GET_EARLIEST_MSG_STORETIME, p_earliest_time, RK_PROC_INLINE},
    };
    rk_rserver_t *srv = rk_broker_server(b);
    int rc = rk_rserver_register(srv, RK_REQ_PULL_MESSAGE, p_pull, lp, RK_PROC_INLINE);
    if (rc == RK_OK)
        rc = rk_rserver_register(srv, RK_REQ_LOCK_BATCH_MQ, p_lock, lp, RK_PROC_INLINE);
    if (rc == RK_OK)
        rc = rk_rserver_register(srv, RK_REQ_UNLOCK_BATCH_MQ, p_unlock, lp, RK_PROC_INLINE);
    for (size_t i = 0; rc == RK_OK && i < sizeof table / sizeof table[0]; i++)
        rc = rk_rserver_register(srv, table[i].code, table[i].fn, b, table[i].flags);
    if (rc == RK_OK)
        rc = rk_rserver_every(srv, 2, lp_tick, lp);
    if (rc == RK_OK)
        rc = rk_rserver_on_close(srv, lp_on_close, lp);
    if (rc == RK_OK)
        rc = rk_rserver_on_turn(srv, send_turn_end, b);
    if (rc == RK_OK)
        rc = rk_store_register_dispatcher(rk_broker_store(b), "long-poll wake-up", lp_on_dispatch, lp);
    return rc;
}

/* Answers every held pull (the server waits for them before it closes). */
static void core_stop(rk_broker_t *b, void *state)
{
    (void)b;
    core_t *lp = state;
    held_t *all = NULL;
    uv_mutex_lock(&lp->mu);
    lp->stopped = true;
    while (lp->nheld > 0) {
        held_t *h = lp->heap[lp->nheld - 1];
        unhold(lp, h);
        h->dnext = all;
        all = h;
    }
    for (hqueue_t *q = lp->ready, *next; q != NULL; q = next) {    /* ready queues left empty */
        next = q->rnext;
        q->ready = false;
        if (q->head == NULL)
            free(rk_strmap_remove(&lp->queues, q->key));
    }
    lp->ready = NULL;
    uv_mutex_unlock(&lp->mu);
    for (held_t *h = all, *next; h != NULL; h = next) {
        next = h->dnext;
        rk_reply_code(h->reply, RK_RESP_PULL_NOT_FOUND, "OFFSET_OVERFLOW_ONE");
        held_free(h);
    }
}

static void core_destroy(rk_broker_t *b, void *state)
{
    (void)b;
    core_t *lp = state;
    if (lp == NULL)
        return;
    core_stop(b, lp);       /* in case start never ran */
    uv_mutex_destroy(&lp->mu);
    rk_strmap_free(&lp->queues, free);
    rk_strmap_free(&lp->conns, free);
    free(lp->heap);
    rk_strmap_free(&lp->locks, free);
    uv_mutex_destroy(&lp->locks_mu);
    free(lp);
}

const rk_broker_module_t rk_broker_core_module = {"core", core_init, NULL, core_stop, core_destroy};
