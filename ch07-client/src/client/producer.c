/* producer.c — sends messages: queue selection, retries, async, batch, ordered. */
#include "rk/producer.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uv.h>

#include "rk/client_message.h"
#include "rk/clock.h"
#include "rk/config.h"
#include "rk/error.h"
#include "rk/hash.h"
#include "rk/log.h"
#include "rk/mqclient.h"
#include "rk/request_code.h"
#include "rk/names.h"

#define FAULT_SLOTS 16
#define FAULT_MS 30000                  /* how long a broker that failed is avoided */
#define BATCH_MAX 64                    /* what the broker stores in one batch */

typedef struct fault {
    char broker[RK_NAME_MAX];
    uint64_t until_ms;
} fault_t;

struct rk_producer {
    rk_mqclient_t *c;
    char group[RK_NAME_MAX];
    int timeout_ms, retries, max_size, def_queues;
    bool no_compress;
    rk_uniq_gen_t uniq;
    _Atomic uint32_t rr;                /* round-robin position */

    uv_mutex_t mu;                      /* faults, inflight */
    uv_cond_t idle;
    fault_t faults[FAULT_SLOTS];
    _Atomic uint64_t faults_until;      /* no fault is active past this: sends skip the table */
    int inflight;                       /* async sends not yet called back */
    _Atomic uint64_t refresh_after;     /* no route refresh_soon() before this (mono ms) */
    struct qset *tcache;                /* under mu: the write queues made last (see targets_from) */
};

/* ---- validation and encoding ---- */

/* snprintf(dst, cap, "%s", src) without the printf machinery: the send
 * path copies a few names per message. */
static void scopy(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int fail(rk_send_result_t *r, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(rk_send_result_t *r, int rc, const char *fmt, ...)
{
    if (r != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->error, sizeof r->error, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int check_message(const rk_producer_t *p, const rk_message_t *m, rk_send_result_t *r)
{
    if (m == NULL || m->topic == NULL)
        return fail(r, RK_EINVAL, "the message has no topic");
    if (!rk_topic_name_valid(m->topic))
        return fail(r, RK_EINVAL, "topic \"%.128s\" is not valid: only [%%|a-zA-Z0-9_-], at most 127 characters",
                    m->topic);
    if (strcmp(m->topic, RK_DEFAULT_TOPIC) == 0)
        return fail(r, RK_EINVAL, "topic %s is reserved: the default topic cannot be sent to", RK_DEFAULT_TOPIC);
    if (m->body == NULL || m->body_len == 0)
        return fail(r, RK_EINVAL, "the message body is empty");
    if (m->body_len > (size_t)p->max_size)
        return fail(r, RK_ETOOBIG, "the message body is %zu bytes, more than the maximum %d", m->body_len,
                    p->max_size);
    if (m->props_len > 0 && m->props == NULL)
        return fail(r, RK_EINVAL, "props_len without props");
    return RK_OK;
}

/* The properties a message travels with: the user's, then KEYS, TAGS,
 * WAIT and a fresh UNIQ_KEY (written into id). */
static int build_props(rk_producer_t *p, const rk_message_t *m, bool wait, rk_buf_t *out, char *id)
{
    int rc = RK_OK;
    if (m->props_len > 0)
        rc = rk_buf_put(out, m->props, m->props_len);
    while (out->len > 0 && out->data[out->len - 1] == RK_PROP_SEP)
        out->len--;
    if (rc == RK_OK && m->keys != NULL && *m->keys)
        rc = rk_props_put(out, RK_PROP_KEYS, m->keys);
    if (rc == RK_OK && m->tags != NULL && *m->tags)
        rc = rk_props_put(out, RK_PROP_TAGS, m->tags);
    if (rc == RK_OK && wait)
        rc = rk_props_put(out, RK_PROP_WAIT, "true");
    rk_uniq_next(&p->uniq, id);
    if (rc == RK_OK)
        rc = rk_props_put(out, RK_PROP_UNIQ_KEY, id);
    if (rc == RK_OK && out->len > 32767)
        rc = RK_ETOOBIG;
    return rc;
}

/* A request ready to be addressed: everything but the queue. */
typedef struct prepared {
    char topic[RK_NAME_MAX];
    char id[RK_MSGID_MAX];
    rk_buf_t props;                     /* NUL-terminated */
    const uint8_t *body;                /* the caller's bytes (sync), or `owned` */
    uint8_t *owned;                     /* compressed, a batch, or an async send's copy */
    size_t body_len;
    int32_t flag, sys_flag;
    bool batch;
} prepared_t;

static void prepared_free(prepared_t *pr)
{
    rk_buf_free(&pr->props);
    free(pr->owned);
    memset(pr, 0, sizeof *pr);
}

/* own: copy the body (an async send outlives the caller's message); a
 * synchronous send borrows it and copies once, into the request. */
static int prepare_one(rk_producer_t *p, const rk_message_t *m, bool own, prepared_t *pr, rk_send_result_t *r)
{
    memset(pr, 0, sizeof *pr);
    int rc = check_message(p, m, r);
    if (rc != RK_OK)
        return rc;
    scopy(pr->topic, sizeof pr->topic, m->topic);
    if ((rc = build_props(p, m, true, &pr->props, pr->id)) != RK_OK || (rc = rk_buf_cstr(&pr->props)) != RK_OK) {
        prepared_free(pr);
        return fail(r, rc, "the message properties are too long (at most 32767 bytes)");
    }
    pr->flag = m->flag;
    /* as RocketMQ's sendKernelImpl: a message that carries TRAN_MSG=true is a
     * transaction's half (chapter 11): its sysFlag says PREPARED */
    char tran[8];
    if (rk_props_get_str((const char *)pr->props.data, pr->props.len, RK_PROP_TRAN_MSG, tran, sizeof tran) ==
            RK_OK && strcasecmp(tran, "true") == 0)
        pr->sys_flag |= RK_SYSFLAG_TXN_PREPARED;
    int z = p->no_compress ? 0 : rk_body_compress(m->body, m->body_len, &pr->owned, &pr->body_len);
    if (z < 0) {
        prepared_free(pr);
        return fail(r, z, "compressing the body failed: %s", rk_strerror(z));
    }
    if (z == 1) {
        pr->sys_flag |= RK_SYSFLAG_COMPRESSED | RK_SYSFLAG_COMPRESSION_ZLIB;
        pr->body = pr->owned;
        return RK_OK;
    }
    pr->body = m->body;
    pr->body_len = m->body_len;
    if (own) {
        if ((pr->owned = malloc(m->body_len)) == NULL) {
            prepared_free(pr);
            return fail(r, RK_ENOMEM, "out of memory");
        }
        memcpy(pr->owned, m->body, m->body_len);
        pr->body = pr->owned;
    }
    return RK_OK;
}

static int prepare_batch(rk_producer_t *p, const rk_message_t *msgs, size_t n, prepared_t *pr,
                         rk_send_result_t *r)
{
    memset(pr, 0, sizeof *pr);
    if (msgs == NULL || n == 0)
        return fail(r, RK_EINVAL, "the batch is empty");
    if (n > BATCH_MAX)
        return fail(r, RK_ETOOBIG, "a batch holds at most %d messages (got %zu)", BATCH_MAX, n);
    /* the whole encoding in one block, sized up front: growing it by
     * doubling copied a 64 x 1 KiB batch about twice more (each message's
     * record is 22 bytes around its body and properties; the properties add
     * KEYS, TAGS and a UNIQ_KEY of about 50 bytes) */
    size_t want = 0;
    for (size_t i = 0; i < n; i++)
        if (msgs[i].body_len <= (size_t)p->max_size && msgs[i].props_len <= RK_PROPERTIES_MAX_LEN)
            want += 22 + msgs[i].body_len + msgs[i].props_len + 64 + (msgs[i].keys ? strlen(msgs[i].keys) : 0) +
                    (msgs[i].tags ? strlen(msgs[i].tags) : 0);
    rk_buf_t body = {0}, props = {0};  /* props: each message's in turn, one block for all */
    int rc = rk_buf_reserve(&body, want < (size_t)p->max_size + 4096 ? want : (size_t)p->max_size + 4096);
    if (rc != RK_OK)
        fail(r, rc, "out of memory");
    for (size_t i = 0; i < n && rc == RK_OK; i++) {
        if ((rc = check_message(p, &msgs[i], r)) != RK_OK)
            break;
        if (strcmp(msgs[i].topic, msgs[0].topic) != 0) {
            rc = fail(r, RK_EINVAL, "every message of a batch must have the same topic (%s, %s)", msgs[0].topic,
                      msgs[i].topic);
            break;
        }
        props.len = 0;
        char id[RK_MSGID_MAX];
        rc = build_props(p, &msgs[i], false, &props, id);
        if (i == 0)
            snprintf(pr->id, sizeof pr->id, "%s", id);
        rk_batch_msg_t bm = {.flag = msgs[i].flag, .body = msgs[i].body, .body_len = msgs[i].body_len,
                             .props = (const char *)props.data, .props_len = props.len};
        if (rc == RK_OK)
            rc = rk_batch_encode(&body, &bm);
        if (rc != RK_OK)
            fail(r, rc, "message %zu of the batch: %s", i, rk_strerror(rc));
    }
    rk_buf_free(&props);
    if (rc == RK_OK && body.len > (size_t)p->max_size)
        rc = fail(r, RK_ETOOBIG, "the batch is %zu bytes, more than the maximum %d", body.len, p->max_size);
    if (rc == RK_OK)
        rc = rk_props_put(&pr->props, RK_PROP_WAIT, "true");
    if (rc == RK_OK)
        rc = rk_buf_cstr(&pr->props);
    if (rc != RK_OK) {
        rk_buf_free(&body);
        prepared_free(pr);
        return rc;
    }
    snprintf(pr->topic, sizeof pr->topic, "%s", msgs[0].topic);
    pr->body = pr->owned = rk_buf_detach(&body, &pr->body_len);
    pr->batch = true;
    return RK_OK;
}

/* borrow: the request points at pr's body instead of copying it, for a
 * request whose callback runs before pr is freed (sync and async sends:
 * rk_cmd_borrow_body); a oneway request outlives the call and copies. */
static rk_cmd_t *make_request(rk_producer_t *p, const prepared_t *pr, const rk_mq_t *mq, int def_queues,
                              bool borrow)
{
    rk_cmd_t *req = rk_mqclient_request(pr->batch ? RK_REQ_SEND_BATCH_MESSAGE : RK_REQ_SEND_MESSAGE_V2);
    if (req == NULL)
        return NULL;
    /* a new request: each key once, appended without a look-up */
    int rc = rk_cmd_ext_add(req, "a", p->group);
    if (rc == RK_OK) rc = rk_cmd_ext_add(req, "b", pr->topic);
    if (rc == RK_OK) rc = rk_cmd_ext_add(req, "c", RK_DEFAULT_TOPIC);
    if (rc == RK_OK) rc = rk_cmd_ext_add_i64(req, "d", def_queues);
    if (rc == RK_OK) rc = rk_cmd_ext_add_i64(req, "e", mq->queue_id);
    if (rc == RK_OK) rc = rk_cmd_ext_add_i64(req, "f", pr->sys_flag);
    if (rc == RK_OK) rc = rk_cmd_ext_add_i64(req, "g", (int64_t)rk_now_ms());
    if (rc == RK_OK) rc = rk_cmd_ext_add_i64(req, "h", pr->flag);
    if (rc == RK_OK) rc = rk_cmd_ext_add(req, "i", (const char *)pr->props.data);
    /* as RocketMQ's producer: a send to a retry topic carries its reconsume
     * count and maximum in the header (the broker's DLQ decision reads them) */
    int64_t reconsume = 0, max_reconsume = -1;
    if (strncmp(pr->topic, "%RETRY%", 7) == 0 && !pr->batch) {
        char v[24];
        if (rk_props_get_str((const char *)pr->props.data, pr->props.len, RK_PROP_RECONSUME_TIME, v, sizeof v) ==
                RK_OK && (rk_parse_int(v, &reconsume) != RK_OK || reconsume < 0 || reconsume > INT32_MAX))
            reconsume = 0;
        if (rk_props_get_str((const char *)pr->props.data, pr->props.len, RK_PROP_MAX_RECONSUME_TIMES, v,
                             sizeof v) == RK_OK &&
            (rk_parse_int(v, &max_reconsume) != RK_OK || max_reconsume < 0 || max_reconsume > INT32_MAX))
            max_reconsume = -1;
    }
    if (rc == RK_OK) rc = rk_cmd_ext_add_i64(req, "j", reconsume);
    if (rc == RK_OK && max_reconsume >= 0) rc = rk_cmd_ext_add_i64(req, "l", max_reconsume);
    if (rc == RK_OK) rc = rk_cmd_ext_add(req, "k", "false");
    if (rc == RK_OK) rc = rk_cmd_ext_add(req, "m", pr->batch ? "true" : "false");
    if (rc == RK_OK) rc = rk_cmd_ext_add(req, "n", mq->broker);
    if (rc == RK_OK && borrow)
        rk_cmd_borrow_body(req, pr->body, pr->body_len);
    else if (rc == RK_OK)
        rc = rk_cmd_set_body(req, pr->body, pr->body_len);
    if (rc != RK_OK) {
        rk_cmd_free(req);
        return NULL;
    }
    return req;
}

/* ---- queues and faults ---- */

static bool broker_faulty(rk_producer_t *p, const char *broker)
{
    uint64_t now = rk_mono_ms();
    if (now >= atomic_load(&p->faults_until))
        return false;
    bool bad = false;
    uv_mutex_lock(&p->mu);
    for (int i = 0; i < FAULT_SLOTS; i++)
        if (p->faults[i].until_ms > now && strcmp(p->faults[i].broker, broker) == 0)
            bad = true;
    uv_mutex_unlock(&p->mu);
    return bad;
}

static void mark_fault(rk_producer_t *p, const char *broker, bool failed)
{
    uint64_t now = rk_mono_ms();
    if (!failed && now >= atomic_load(&p->faults_until))
        return;                         /* nothing to clear: the usual success */
    uv_mutex_lock(&p->mu);
    int slot = -1;
    for (int i = 0; i < FAULT_SLOTS; i++) {
        if (strcmp(p->faults[i].broker, broker) == 0) {
            slot = i;
            break;
        }
        if (slot < 0 && p->faults[i].until_ms <= now)
            slot = i;
    }
    if (slot >= 0 && (failed || strcmp(p->faults[slot].broker, broker) == 0)) {
        snprintf(p->faults[slot].broker, sizeof p->faults[slot].broker, "%s", broker);
        p->faults[slot].until_ms = failed ? now + FAULT_MS : 0;
        if (failed)
            atomic_store(&p->faults_until, now + FAULT_MS);
    }
    uv_mutex_unlock(&p->mu);
}

/* A topic's write queues made from one route, shared by every send that
 * uses that route: building the list (an allocation, two strings per queue)
 * for each send cost the producer more than encoding the request. Routes are
 * immutable and replaced when refreshed, so the route pointer (held) tells
 * whether the list is still right. */
typedef struct qset {
    _Atomic int refs;
    rk_topic_route_t *route;            /* held */
    rk_mq_t *qs;
    size_t n;
    int max_per_broker;
    char topic[RK_NAME_MAX];
} qset_t;

static void qset_release(qset_t *q)
{
    if (q == NULL || atomic_fetch_sub(&q->refs, 1) != 1)
        return;
    rk_topic_route_release(q->route);
    free(q->qs);
    free(q);
}

/* Where a send may go: the write queues of a topic and the route they come
 * from (retained: a queue's broker address is read from it, not looked up
 * again in the client's route cache); both borrowed from `set`. */
typedef struct targets {
    rk_topic_route_t *route;
    rk_mq_t *qs;
    size_t n;
    qset_t *set;
} targets_t;

static void targets_free(targets_t *t)
{
    qset_release(t->set);
    memset(t, 0, sizeof *t);
}

/* The master address of mq's broker; false if the route has none. */
static bool target_addr(const targets_t *t, const rk_mq_t *mq, char *addr, size_t len)
{
    const rk_route_broker_t *b = rk_topic_route_broker(t->route, mq->broker);
    if (b == NULL || !b->master[0])
        return false;
    scopy(addr, len, b->master);
    return true;
}

static void targets_use(targets_t *t, qset_t *q)
{
    t->set = q;
    t->route = q->route;
    t->qs = q->qs;
    t->n = q->n;
}

/* Takes route (a reference) and keeps it with its write queues of topic:
 * the producer's last list if it was made from the same route. */
static int targets_from(rk_producer_t *p, rk_topic_route_t *route, const char *topic, int max_per_broker,
                        targets_t *t)
{
    memset(t, 0, sizeof *t);
    uv_mutex_lock(&p->mu);
    qset_t *c = p->tcache;
    if (c != NULL && c->route == route && c->max_per_broker == max_per_broker && strcmp(c->topic, topic) == 0) {
        atomic_fetch_add(&c->refs, 1);
        uv_mutex_unlock(&p->mu);
        rk_topic_route_release(route);      /* c holds the same one */
        targets_use(t, c);
        return RK_OK;
    }
    uv_mutex_unlock(&p->mu);
    qset_t *q = calloc(1, sizeof *q);
    if (q == NULL || strlen(topic) >= sizeof q->topic) {
        free(q);
        rk_topic_route_release(route);
        return q == NULL ? RK_ENOMEM : RK_EINVAL;
    }
    int rc = rk_topic_route_write_queues(route, topic, max_per_broker, &q->qs, &q->n);
    q->route = route;
    atomic_init(&q->refs, 1);
    if (rc == RK_OK && q->n == 0)
        rc = RK_ENOTFOUND;
    if (rc != RK_OK) {
        qset_release(q);
        return rc;
    }
    q->max_per_broker = max_per_broker;
    memcpy(q->topic, topic, strlen(topic) + 1);
    targets_use(t, q);
    atomic_fetch_add(&q->refs, 1);          /* the cache's */
    uv_mutex_lock(&p->mu);
    c = p->tcache;
    p->tcache = q;
    uv_mutex_unlock(&p->mu);
    qset_release(c);
    return RK_OK;
}

/* The topic's write queues. A topic the name servers do not know yet
 * borrows TBW102's brokers, which create it on the first send. */
static void refresh_soon(rk_producer_t *p, const char *topic);

static int topic_targets_ex(rk_producer_t *p, const char *topic, bool force, targets_t *t, rk_send_result_t *r)
{
    memset(t, 0, sizeof *t);            /* targets_free() is safe on failure */
    rk_topic_route_t *route = NULL;
    int rc = rk_mqclient_route(p->c, topic, force, &route);
    if (rc == RK_OK && (rc = targets_from(p, route, topic, 0, t)) == RK_OK)
        return RK_OK;
    if (rc == RK_ENOTFOUND && route != NULL)
        refresh_soon(p, topic);         /* a route without a master (it died, a slave stays):
                                         * ask again soon for the one that replaces it */
    if (rc != RK_ENOTFOUND)
        return fail(r, rc, "no route for topic %s: %s", topic, rk_strerror(rc));
    rc = rk_mqclient_route(p->c, RK_DEFAULT_TOPIC, force, &route);
    if (rc == RK_OK)
        rc = targets_from(p, route, topic, p->def_queues, t);
    if (rc != RK_OK)
        return fail(r, rc, "no route for topic %s (and no broker allows auto-creating it): %s", topic,
                    rk_strerror(rc));
    return RK_OK;
}

static int topic_targets(rk_producer_t *p, const char *topic, targets_t *t, rk_send_result_t *r)
{
    return topic_targets_ex(p, topic, false, t, r);
}

/* A broker that cannot be reached, or answers that it is not (or no longer)
 * a master that can store — SERVICE_NOT_AVAILABLE from a slave,
 * SLAVE_NOT_AVAILABLE from a master that just stepped down — may have been
 * replaced (chapter 8 elects a new master within seconds): the route is
 * asked of the name servers again now, not at the next periodic refresh. */
static bool master_suspect(int status, const rk_cmd_t *resp)
{
    return status != RK_OK || resp == NULL || resp->code == RK_RESP_SERVICE_NOT_AVAILABLE ||
           resp->code == RK_RESP_SLAVE_NOT_AVAILABLE;
}

typedef struct refresh_task {
    rk_producer_t *p;
    char topic[];
} refresh_task_t;

static void refresh_task(void *arg, bool cancelled)
{
    refresh_task_t *rt = arg;
    if (!cancelled) {
        rk_topic_route_t *route = NULL;
        if (rk_mqclient_route(rt->p->c, rt->topic, true, &route) == RK_OK)
            rk_topic_route_release(route);
    }
    free(rt);
}

/* From any thread (the network thread too): the refresh runs on the
 * client's scheduler thread. */
static void refresh_soon(rk_producer_t *p, const char *topic)
{
    uint64_t now = rk_mono_ms(), after = atomic_load(&p->refresh_after);
    if (now < after || !atomic_compare_exchange_strong(&p->refresh_after, &after, now + 200))
        return;     /* at most one name-server question per 200 ms from failures */
    size_t len = strlen(topic);
    refresh_task_t *rt = malloc(sizeof *rt + len + 1);
    if (rt == NULL)
        return;
    rt->p = p;
    memcpy(rt->topic, topic, len + 1);
    if (rk_mqclient_schedule(p->c, 0, refresh_task, rt) != RK_OK)
        free(rt);
}

/* The next queue round robin, not on `avoid` (the broker of the previous
 * attempt) nor on a broker that failed lately, if any other remains. */
static const rk_mq_t *select_queue(rk_producer_t *p, const rk_mq_t *qs, size_t n, const char *avoid)
{
    uint32_t start = atomic_fetch_add(&p->rr, 1);
    for (int pass = 0; pass < 3; pass++) {
        for (size_t i = 0; i < n; i++) {
            const rk_mq_t *q = &qs[(start + i) % n];
            if (pass < 2 && avoid != NULL && *avoid && strcmp(q->broker, avoid) == 0)
                continue;
            if (pass < 1 && broker_faulty(p, q->broker))
                continue;
            return q;
        }
    }
    return &qs[start % n];
}

static bool retryable(int32_t code)
{
    return code == RK_RESP_SYSTEM_ERROR || code == RK_RESP_SYSTEM_BUSY || code == RK_RESP_SERVICE_NOT_AVAILABLE ||
           code == RK_RESP_TOPIC_NOT_EXIST || code == RK_RESP_NO_PERMISSION;
}

/* Fills r from a response; returns RK_OK, or the error with r->error set.
 * *retry says whether another broker may do better. */
static int read_response(rk_producer_t *p, int status, rk_cmd_t *resp, const rk_mq_t *mq, rk_send_result_t *r,
                         bool *retry)
{
    *retry = false;
    r->mq = *mq;
    if (status != RK_OK) {
        *retry = true;
        mark_fault(p, mq->broker, true);
        return fail(r, status, "sending to broker %s queue %d failed: %s", mq->broker, mq->queue_id,
                    rk_strerror(status));
    }
    int32_t code = resp->code;
    switch (code) {
    case RK_RESP_SUCCESS: r->status = RK_SEND_OK; break;
    case RK_RESP_FLUSH_DISK_TIMEOUT: r->status = RK_SEND_FLUSH_DISK_TIMEOUT; break;
    case RK_RESP_FLUSH_SLAVE_TIMEOUT: r->status = RK_SEND_FLUSH_SLAVE_TIMEOUT; break;
    case RK_RESP_SLAVE_NOT_AVAILABLE: r->status = RK_SEND_SLAVE_NOT_AVAILABLE; break;
    default: {
        char why[200];
        rk_mqclient_resp_describe(resp, why, sizeof why);
        *retry = retryable(code);
        if (code == RK_RESP_SYSTEM_BUSY || code == RK_RESP_SERVICE_NOT_AVAILABLE)
            mark_fault(p, mq->broker, true);
        return fail(r, rk_mqclient_resp_error(code), "broker %s refused the message: %s", mq->broker, why);
    }
    }
    mark_fault(p, mq->broker, false);
    const char *id = rk_cmd_ext_get(resp, "msgId");
    scopy(r->offset_msg_id, sizeof r->offset_msg_id, id ? id : "");
    int64_t v = -1;
    if (rk_cmd_ext_i64(resp, "queueOffset", &v) == RK_OK)
        r->queue_offset = v;
    if (rk_cmd_ext_i64(resp, "queueId", &v) == RK_OK)
        r->mq.queue_id = (int32_t)v;
    r->error[0] = '\0';
    return RK_OK;
}

static void result_init(rk_send_result_t *r, const prepared_t *pr)
{
    memset(r, 0, sizeof *r);
    r->queue_offset = -1;
    scopy(r->msg_id, sizeof r->msg_id, pr->id);
    scopy(r->mq.topic, sizeof r->mq.topic, pr->topic);
}

/* ---- synchronous ---- */

/* Sends to the queue round robin with retries, or to `only` once. */
static int send_prepared(rk_producer_t *p, const prepared_t *pr, targets_t *t, const rk_mq_t *only,
                         rk_send_result_t *r)
{
    int attempts = only ? 1 : 1 + p->retries;
    char avoid[RK_NAME_MAX] = "";
    int rc = RK_EINVAL;
    uint64_t deadline = rk_mono_ms() + (uint64_t)p->timeout_ms;
    for (int a = 0; a < attempts; a++) {
        const rk_mq_t *mq = only ? only : t->n == 1 ? &t->qs[0] : select_queue(p, t->qs, t->n, avoid);
        char addr[RK_ADDR_MAX];
        r->attempts = a + 1;
        if (!target_addr(t, mq, addr, sizeof addr)) {
            rc = fail(r, RK_ENOTFOUND, "broker %s has no master address", mq->broker);
            snprintf(avoid, sizeof avoid, "%s", mq->broker);
            continue;
        }
        uint64_t now = rk_mono_ms();
        if (a > 0 && now >= deadline)
            break;                      /* as RocketMQ: no retry past the send timeout */
        rk_cmd_t *req = make_request(p, pr, mq, p->def_queues, true);
        if (req == NULL)
            return fail(r, RK_ENOMEM, "out of memory");
        rk_cmd_t *resp = NULL;
        int st = rk_rclient_invoke_sync(rk_mqclient_remoting(p->c), addr, req, p->timeout_ms, &resp);
        bool again = false, suspect = master_suspect(st, resp);
        rc = read_response(p, st, resp, mq, r, &again);
        rk_cmd_free(resp);
        if (suspect && (rc == RK_OK || !again || only != NULL))
            refresh_soon(p, pr->topic);     /* for the next send */
        if (rc == RK_OK || !again)
            return rc;
        if (suspect && only == NULL) {
            /* for the next attempt: the name servers may know a new master */
            targets_t nt;
            rk_send_result_t scratch;
            if (topic_targets_ex(p, pr->topic, true, &nt, &scratch) == RK_OK) {
                targets_free(t);
                *t = nt;
                avoid[0] = '\0';
                rk_log_debug("producer", "attempt %d of %s failed (%s): route asked again", a + 1, pr->topic,
                             r->error);
                continue;
            }
        }
        rk_log_debug("producer", "attempt %d of %s: %s", a + 1, pr->topic, r->error);
        snprintf(avoid, sizeof avoid, "%s", mq->broker);
    }
    return rc;
}

/* Sends a prepared message (or batch) with retries, then frees it. */
static int send_and_free(rk_producer_t *p, prepared_t *pr, rk_send_result_t *r)
{
    result_init(r, pr);
    targets_t t;
    int rc = topic_targets(p, pr->topic, &t, r);
    if (rc == RK_OK)
        rc = send_prepared(p, pr, &t, NULL, r);
    targets_free(&t);
    prepared_free(pr);
    return rc;
}

int rk_producer_send(rk_producer_t *p, const rk_message_t *m, rk_send_result_t *r)
{
    rk_send_result_t scratch;
    r = r ? r : &scratch;
    memset(r, 0, sizeof *r);
    prepared_t pr;
    int rc = prepare_one(p, m, false, &pr, r);
    return rc != RK_OK ? rc : send_and_free(p, &pr, r);
}

int rk_producer_send_batch(rk_producer_t *p, const rk_message_t *msgs, size_t n, rk_send_result_t *r)
{
    rk_send_result_t scratch;
    r = r ? r : &scratch;
    memset(r, 0, sizeof *r);
    prepared_t pr;
    int rc = prepare_batch(p, msgs, n, &pr, r);
    return rc != RK_OK ? rc : send_and_free(p, &pr, r);
}

int rk_producer_send_ordered(rk_producer_t *p, const rk_message_t *m, const char *sharding_key,
                             rk_send_result_t *r)
{
    rk_send_result_t scratch;
    if (r == NULL)
        r = &scratch;
    memset(r, 0, sizeof *r);
    if (sharding_key == NULL)
        return fail(r, RK_EINVAL, "an ordered send needs a sharding key");
    prepared_t pr;
    int rc = prepare_one(p, m, false, &pr, r);
    if (rc != RK_OK)
        return rc;
    result_init(r, &pr);
    targets_t t;
    if ((rc = topic_targets(p, pr.topic, &t, r)) == RK_OK) {
        int64_t h = rk_java_hash(sharding_key, strlen(sharding_key));
        if (h < 0)
            h = -h;                     /* Math.abs(int), widened so INT_MIN stays positive */
        rc = send_prepared(p, &pr, &t, &t.qs[h % (int64_t)t.n], r);
    }
    targets_free(&t);
    prepared_free(&pr);
    return rc;
}

int rk_producer_queues(rk_producer_t *p, const char *topic, rk_mq_t **out, size_t *n)
{
    rk_send_result_t r;
    if (topic == NULL || !rk_topic_name_valid(topic))
        return RK_EINVAL;
    targets_t t;
    int rc = topic_targets(p, topic, &t, &r);
    if (rc != RK_OK)
        return rc;
    *out = malloc(t.n * sizeof **out);  /* a copy: the list is shared */
    if (*out != NULL)
        memcpy(*out, t.qs, t.n * sizeof **out);
    *n = *out != NULL ? t.n : 0;
    targets_free(&t);
    return *out != NULL ? RK_OK : RK_ENOMEM;
}

/* ---- oneway ---- */

int rk_producer_send_oneway(rk_producer_t *p, const rk_message_t *m)
{
    prepared_t pr;
    int rc = prepare_one(p, m, false, &pr, NULL);
    if (rc != RK_OK)
        return rc;
    targets_t t;
    if ((rc = topic_targets(p, pr.topic, &t, NULL)) == RK_OK) {
        const rk_mq_t *mq = select_queue(p, t.qs, t.n, NULL);
        char addr[RK_ADDR_MAX];
        rk_cmd_t *req = NULL;
        if (!target_addr(&t, mq, addr, sizeof addr))
            rc = RK_ENOTFOUND;
        else if ((req = make_request(p, &pr, mq, p->def_queues, false)) == NULL)
            rc = RK_ENOMEM;
        else
            rc = rk_rclient_invoke_oneway(rk_mqclient_remoting(p->c), addr, req);
    }
    targets_free(&t);
    prepared_free(&pr);
    return rc;
}

/* ---- asynchronous ---- */

/* One async send in flight: retries happen from the network thread, on the
 * targets known when the send started (no name-server call there). */
typedef struct async_send {
    rk_producer_t *p;
    prepared_t pr;
    targets_t t;
    int attempt, attempts;
    uint64_t deadline;
    rk_mq_t cur;
    rk_send_cb cb;
    void *arg;
    rk_send_result_t r;
} async_send_t;

static void async_done(async_send_t *s, int status)
{
    rk_producer_t *p = s->p;
    s->r.attempts = s->attempt;
    s->cb(s->arg, status, &s->r);
    prepared_free(&s->pr);
    targets_free(&s->t);
    free(s);
    uv_mutex_lock(&p->mu);
    if (--p->inflight == 0)
        uv_cond_broadcast(&p->idle);
    uv_mutex_unlock(&p->mu);
}

static int async_attempt(async_send_t *s);

static void async_cb(void *arg, int status, rk_cmd_t *resp)
{
    async_send_t *s = arg;
    bool again = false;
    if (master_suspect(status, resp))
        refresh_soon(s->p, s->pr.topic);
    int rc = read_response(s->p, status, resp, &s->cur, &s->r, &again);
    rk_cmd_free(resp);
    if (rc != RK_OK && again && s->attempt < s->attempts && rk_mono_ms() < s->deadline) {
        rk_log_debug("producer", "async attempt %d of %s: %s", s->attempt, s->pr.topic, s->r.error);
        rc = async_attempt(s);
        if (rc == RK_OK)
            return;
    }
    async_done(s, rc);
}

/* Sends the next attempt; on RK_OK the callback will run. */
static int async_attempt(async_send_t *s)
{
    rk_producer_t *p = s->p;
    int rc = RK_ENOTFOUND;
    while (s->attempt < s->attempts) {
        const rk_mq_t *mq =
            s->t.n == 1 ? &s->t.qs[0] : select_queue(p, s->t.qs, s->t.n, s->attempt ? s->cur.broker : NULL);
        s->cur = *mq;
        s->attempt++;
        char addr[RK_ADDR_MAX];
        if (!target_addr(&s->t, mq, addr, sizeof addr)) {
            rc = fail(&s->r, RK_ENOTFOUND, "broker %s has no master address", mq->broker);
            continue;
        }
        rk_cmd_t *req = make_request(p, &s->pr, mq, p->def_queues, true);
        if (req == NULL)
            return fail(&s->r, RK_ENOMEM, "out of memory");
        rc = rk_rclient_invoke_async(rk_mqclient_remoting(p->c), addr, req, p->timeout_ms, async_cb, s);
        if (rc == RK_OK)
            return RK_OK;
        fail(&s->r, rc, "sending to broker %s failed: %s", mq->broker, rk_strerror(rc));
    }
    return rc;
}

static int start_async(rk_producer_t *p, prepared_t *pr, rk_send_cb cb, void *arg)
{
    if (cb == NULL) {
        prepared_free(pr);
        return RK_EINVAL;
    }
    async_send_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        prepared_free(pr);
        return RK_ENOMEM;
    }
    s->p = p;
    s->pr = *pr;
    s->cb = cb;
    s->arg = arg;
    s->attempts = 1 + p->retries;
    s->deadline = rk_mono_ms() + (uint64_t)p->timeout_ms;
    result_init(&s->r, &s->pr);
    int rc = topic_targets(p, s->pr.topic, &s->t, &s->r);
    if (rc == RK_OK) {
        uv_mutex_lock(&p->mu);
        p->inflight++;
        uv_mutex_unlock(&p->mu);
        rc = async_attempt(s);
        if (rc == RK_OK)
            return RK_OK;
        uv_mutex_lock(&p->mu);
        if (--p->inflight == 0)
            uv_cond_broadcast(&p->idle);
        uv_mutex_unlock(&p->mu);
    }
    rk_log_warn("producer", "async send to %s not started: %s", s->pr.topic, s->r.error);
    prepared_free(&s->pr);
    targets_free(&s->t);
    free(s);
    return rc;
}

int rk_producer_send_async(rk_producer_t *p, const rk_message_t *m, rk_send_cb cb, void *arg)
{
    prepared_t pr;
    int rc = prepare_one(p, m, true, &pr, NULL);
    return rc != RK_OK ? rc : start_async(p, &pr, cb, arg);
}

int rk_producer_send_batch_async(rk_producer_t *p, const rk_message_t *msgs, size_t n, rk_send_cb cb, void *arg)
{
    prepared_t pr;
    int rc = prepare_batch(p, msgs, n, &pr, NULL);
    return rc != RK_OK ? rc : start_async(p, &pr, cb, arg);
}

/* ---- life cycle ---- */

static void fill_heartbeat(void *arg, cJSON *producers, cJSON *consumers)
{
    (void)consumers;
    rk_producer_t *p = arg;
    cJSON *o = cJSON_CreateObject();
    if (o != NULL && cJSON_AddStringToObject(o, "groupName", p->group) != NULL)
        cJSON_AddItemToArray(producers, o);
    else
        cJSON_Delete(o);
}

int rk_producer_new(const rk_producer_config_t *cfg, rk_producer_t **out)
{
    *out = NULL;
    if (cfg == NULL || cfg->namesrv == NULL || cfg->group == NULL || !rk_topic_name_valid(cfg->group))
        return RK_EINVAL;
    rk_producer_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return RK_ENOMEM;
    snprintf(p->group, sizeof p->group, "%s", cfg->group);
    p->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 3000;
    p->retries = cfg->retries == 0 ? 2 : cfg->retries < 0 ? 0 : cfg->retries;
    p->max_size = cfg->max_message_size > 0 ? cfg->max_message_size : RK_MAX_MESSAGE_SIZE_DEFAULT;
    p->def_queues = cfg->default_queue_nums > 0 ? cfg->default_queue_nums : 4;
    p->no_compress = cfg->no_compress;
    if (uv_mutex_init(&p->mu) != 0) {
        free(p);
        return RK_ENOMEM;
    }
    if (uv_cond_init(&p->idle) != 0) {
        uv_mutex_destroy(&p->mu);
        free(p);
        return RK_ENOMEM;
    }
    rk_mqclient_config_t cc = {.namesrv = cfg->namesrv, .instance_name = cfg->instance_name,
                               .timeout_ms = p->timeout_ms, .access_key = cfg->access_key,
                               .secret_key = cfg->secret_key};
    int rc = rk_mqclient_new(&cc, &p->c);
    if (rc != RK_OK) {
        uv_cond_destroy(&p->idle);
        uv_mutex_destroy(&p->mu);
        free(p);
        return rc;
    }
    /* UNIQ_KEY: this host's IPv4 (the client id starts with it), and an
     * instance number distinct per producer of a process: random bits, as
     * each producer's counter starts at 0 and a freed producer's address is
     * often the next one's (the same client id and address gave two
     * producers made in turn the same ids within a millisecond) */
    uint8_t ip4[4], *ip = NULL;
    char host[64];
    snprintf(host, sizeof host, "%s", rk_mqclient_id(p->c));
    char *at = strchr(host, '@');
    if (at != NULL)
        *at = '\0';
    if (inet_pton(AF_INET, host, ip4) == 1)
        ip = ip4;
    uint32_t salt = 0;
    if (uv_random(NULL, NULL, &salt, sizeof salt, 0, NULL) != 0)
        salt = (uint32_t)rk_mono_ms() * 2654435761u ^ (uint32_t)rk_now_ms();  /* no entropy source: time */
    rk_uniq_gen_init(&p->uniq, ip, (uint32_t)rk_java_hash(rk_mqclient_id(p->c), strlen(rk_mqclient_id(p->c))) ^
                                         (uint32_t)(uintptr_t)p ^ salt);
    rk_mqclient_set_heartbeat(p->c, fill_heartbeat, p);
    *out = p;
    return RK_OK;
}

void rk_producer_free(rk_producer_t *p)
{
    if (p == NULL)
        return;
    uv_mutex_lock(&p->mu);
    while (p->inflight > 0)
        uv_cond_wait(&p->idle, &p->mu);     /* each ends by its timeout at the latest */
    uv_mutex_unlock(&p->mu);
    rk_mqclient_unregister(p->c, p->group, NULL);
    rk_mqclient_free(p->c);
    qset_release(p->tcache);
    uv_cond_destroy(&p->idle);
    uv_mutex_destroy(&p->mu);
    free(p);
}

rk_mqclient_t *rk_producer_client(rk_producer_t *p)
{
    return p->c;
}
