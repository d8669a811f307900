/* topic_route.c — TopicRouteData parsing and queue lists. */
#include "rk/topic_route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/error.h"
#include "rk/json.h"

int rk_mq_cmp(const rk_mq_t *a, const rk_mq_t *b)
{
    int c = strcmp(a->topic, b->topic);
    if (c == 0)
        c = strcmp(a->broker, b->broker);
    if (c == 0)
        c = (a->queue_id > b->queue_id) - (a->queue_id < b->queue_id);
    return c;
}

char *rk_mq_key(const rk_mq_t *mq, char *buf, size_t len)
{
    snprintf(buf, len, "%s@%s@%d", mq->topic, mq->broker, (int)mq->queue_id);
    return buf;
}

static int copy_name(char *dst, size_t cap, const char *src)
{
    if (src == NULL || strlen(src) >= cap)
        return RK_EPROTO;
    memcpy(dst, src, strlen(src) + 1);
    return RK_OK;
}

static int cmp_queue(const void *a, const void *b)
{
    return strcmp(((const rk_route_queue_t *)a)->broker, ((const rk_route_queue_t *)b)->broker);
}

static int parse_broker(const cJSON *o, rk_route_broker_t *b)
{
    if (copy_name(b->name, sizeof b->name, rk_json_get_str(o, "brokerName")) != RK_OK)
        return RK_EPROTO;
    const char *cluster = rk_json_get_str(o, "cluster");
    snprintf(b->cluster, sizeof b->cluster, "%s", cluster ? cluster : "");
    const cJSON *addrs = cJSON_GetObjectItemCaseSensitive(o, "brokerAddrs");
    long best = -1;
    const cJSON *a;
    cJSON_ArrayForEach(a, addrs) {
        char *end;
        long id = strtol(a->string ? a->string : "x", &end, 10);
        if (*end != '\0' || !cJSON_IsString(a) || strlen(a->valuestring) >= RK_ADDR_MAX)
            continue;
        if (id < 0 || id > 1000000)
            continue;
        if (id == 0)
            snprintf(b->master, sizeof b->master, "%s", a->valuestring);
        size_t at = b->naddrs;          /* insert sorted; a duplicate id keeps the first */
        while (at > 0 && b->addrs[at - 1].id > id)
            at--;
        if (!(at > 0 && b->addrs[at - 1].id == id) && at < RK_ROUTE_ADDRS_MAX) {
            size_t n = b->naddrs < RK_ROUTE_ADDRS_MAX ? b->naddrs : RK_ROUTE_ADDRS_MAX - 1;
            memmove(&b->addrs[at + 1], &b->addrs[at], (n - at) * sizeof b->addrs[0]);
            b->addrs[at].id = id;
            snprintf(b->addrs[at].addr, sizeof b->addrs[at].addr, "%s", a->valuestring);
            if (b->naddrs < RK_ROUTE_ADDRS_MAX)
                b->naddrs++;
        }
        if (best < 0 || id < best) {
            best = id;
            snprintf(b->any, sizeof b->any, "%s", a->valuestring);
        }
    }
    return RK_OK;
}

int rk_topic_route_parse(const char *json, size_t len, rk_topic_route_t **out)
{
    *out = NULL;
    cJSON *root = rk_json_parse(json, len);
    if (root == NULL)
        return RK_EPROTO;
    const cJSON *bds = cJSON_GetObjectItemCaseSensitive(root, "brokerDatas");
    const cJSON *qds = cJSON_GetObjectItemCaseSensitive(root, "queueDatas");
    int rc = RK_EPROTO;
    rk_topic_route_t *r = NULL;
    if (!cJSON_IsArray(bds) || !cJSON_IsArray(qds))
        goto done;
    rc = RK_ENOMEM;
    size_t nb = (size_t)cJSON_GetArraySize(bds), nq = (size_t)cJSON_GetArraySize(qds);
    if ((r = calloc(1, sizeof *r)) == NULL || (r->brokers = calloc(nb + 1, sizeof *r->brokers)) == NULL ||
        (r->queues = calloc(nq + 1, sizeof *r->queues)) == NULL)
        goto done;
    atomic_init(&r->refs, 1);
    rc = RK_EPROTO;
    const cJSON *o;
    cJSON_ArrayForEach(o, bds) {
        if (parse_broker(o, &r->brokers[r->nbrokers]) != RK_OK)
            goto done;
        r->nbrokers++;
    }
    cJSON_ArrayForEach(o, qds) {
        rk_route_queue_t *q = &r->queues[r->nqueues];
        int64_t rd = 0, wr = 0, perm = 0, sf = 0;
        if (copy_name(q->broker, sizeof q->broker, rk_json_get_str(o, "brokerName")) != RK_OK ||
            rk_json_get_i64(o, "readQueueNums", &rd) != RK_OK || rk_json_get_i64(o, "writeQueueNums", &wr) != RK_OK ||
            rk_json_get_i64(o, "perm", &perm) != RK_OK || rd < 0 || wr < 0 || rd > 65535 || wr > 65535)
            goto done;
        rk_json_get_i64(o, "topicSysFlag", &sf);
        q->read_queues = (int32_t)rd;
        q->write_queues = (int32_t)wr;
        q->perm = (int32_t)perm;
        q->sys_flag = (int32_t)sf;
        r->nqueues++;
    }
    qsort(r->queues, r->nqueues, sizeof *r->queues, cmp_queue);
    rc = RK_OK;
done:
    cJSON_Delete(root);
    if (rc != RK_OK && r != NULL) {
        atomic_store(&r->refs, 1);
        rk_topic_route_release(r);
        r = NULL;
    }
    *out = r;
    return rc;
}

static const char *addr_of(const rk_route_broker_t *b, int64_t id)
{
    for (size_t i = 0; i < b->naddrs; i++)
        if (b->addrs[i].id == id)
            return b->addrs[i].addr;
    return NULL;
}

bool rk_route_broker_find(const rk_route_broker_t *b, int64_t id, bool only_this, char *buf, size_t len,
                          bool *slave)
{
    if (b == NULL || b->naddrs == 0)
        return false;
    const char *a = addr_of(b, id);
    int64_t got = id;
    if (a == NULL && id != 0 && id < INT64_MAX)
        a = addr_of(b, (got = id + 1));
    if (a == NULL && !only_this) {
        got = b->addrs[0].id;           /* HashMap<Long,..> iterates small ids in order: the lowest */
        a = b->addrs[0].addr;
    }
    if (a == NULL)
        return false;
    snprintf(buf, len, "%s", a);
    *slave = got != 0;
    return true;
}

rk_topic_route_t *rk_topic_route_retain(rk_topic_route_t *r)
{
    if (r != NULL)
        atomic_fetch_add(&r->refs, 1);
    return r;
}

void rk_topic_route_release(rk_topic_route_t *r)
{
    if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    free(r->brokers);
    free(r->queues);
    free(r);
}

const rk_route_broker_t *rk_topic_route_broker(const rk_topic_route_t *r, const char *broker)
{
    for (size_t i = 0; i < r->nbrokers; i++)
        if (strcmp(r->brokers[i].name, broker) == 0)
            return &r->brokers[i];
    return NULL;
}

static int queues(const rk_topic_route_t *r, const char *topic, bool write, int max_per_broker, rk_mq_t **out,
                  size_t *n)
{
    *out = NULL;
    *n = 0;
    if (strlen(topic) >= RK_NAME_MAX)
        return RK_EINVAL;
    size_t total = 0;
    for (size_t i = 0; i < r->nqueues; i++)
        total += (size_t)(write ? r->queues[i].write_queues : r->queues[i].read_queues);
    rk_mq_t *v = calloc(total + 1, sizeof *v);
    if (v == NULL)
        return RK_ENOMEM;
    for (size_t i = 0; i < r->nqueues; i++) {
        const rk_route_queue_t *q = &r->queues[i];
        const rk_route_broker_t *b = rk_topic_route_broker(r, q->broker);
        if (b == NULL || !(q->perm & (write ? RK_PERM_WRITE : RK_PERM_READ)))
            continue;
        if (write && b->master[0] == '\0')
            continue;                       /* producers only write to masters */
        int count = write ? q->write_queues : q->read_queues;
        if (max_per_broker > 0 && count > max_per_broker)
            count = max_per_broker;
        for (int id = 0; id < count; id++) {
            rk_mq_t *mq = &v[(*n)++];
            snprintf(mq->topic, sizeof mq->topic, "%s", topic);
            snprintf(mq->broker, sizeof mq->broker, "%s", q->broker);
            mq->queue_id = id;
        }
    }
    *out = v;
    return RK_OK;
}

int rk_topic_route_write_queues(const rk_topic_route_t *r, const char *topic, int max_per_broker, rk_mq_t **out,
                                size_t *n)
{
    return queues(r, topic, true, max_per_broker, out, n);
}

int rk_topic_route_read_queues(const rk_topic_route_t *r, const char *topic, rk_mq_t **out, size_t *n)
{
    return queues(r, topic, false, 0, out, n);
}
