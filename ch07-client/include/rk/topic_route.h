/* topic_route.h — a topic's route as the name server gives it, and the
 * message queues a client derives from it.
 *
 * GET_ROUTEINFO_BY_TOPIC answers with TopicRouteData (reference §3.1):
 *
 *   {"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"broker-a",
 *                    "cluster":"DefaultCluster"}],
 *    "queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,
 *                   "writeQueueNums":4,"topicSysFlag":0}]}
 *
 * A producer writes to the *write* queues of brokers that have a master
 * (brokerId 0) and the WRITE permission; a consumer reads the *read* queues
 * of brokers with READ. Both lists are sorted (broker name, then queue id),
 * so every member of a consumer group sees the same order — rebalance
 * depends on that.
 *
 * Memory: a route is immutable once parsed and reference counted, so a
 * cache can hand it to several threads: rk_topic_route_retain() /
 * rk_topic_route_release(). Queue lists are malloc'ed arrays the caller
 * frees. No global state. */
#ifndef RK_TOPIC_ROUTE_H
#define RK_TOPIC_ROUTE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/names.h"

#define RK_ADDR_MAX 64                  /* "ip:port" */
#define RK_ROUTE_ADDRS_MAX 8            /* members of one broker group a route keeps */

#define RK_PERM_READ  0x4
#define RK_PERM_WRITE 0x2

/* One queue of one broker: RocketMQ's MessageQueue. */
typedef struct rk_mq {
    char topic[RK_NAME_MAX];
    char broker[RK_NAME_MAX];
    int32_t queue_id;
} rk_mq_t;

/* Orders by topic, broker, queue id (MessageQueue.compareTo). */
int rk_mq_cmp(const rk_mq_t *a, const rk_mq_t *b);
/* "topic@broker@qid": a key for maps; buf >= 2 * RK_NAME_MAX + 16. */
char *rk_mq_key(const rk_mq_t *mq, char *buf, size_t len);

typedef struct rk_route_broker {
    char name[RK_NAME_MAX];
    char cluster[RK_NAME_MAX];
    char master[RK_ADDR_MAX];           /* address of brokerId 0; "" if none */
    char any[RK_ADDR_MAX];              /* the master, else the lowest-id slave */
    struct {
        int64_t id;
        char addr[RK_ADDR_MAX];
    } addrs[RK_ROUTE_ADDRS_MAX];        /* every member by brokerId, ascending (first
                                         * RK_ROUTE_ADDRS_MAX ids; the rest are ignored) */
    size_t naddrs;
} rk_route_broker_t;

/* The member of a broker group a consumer reads from — RocketMQ's
 * MQClientInstance.findBrokerAddressInSubscribe: brokerId `id`; a missing
 * slave id falls to id + 1; then, unless only_this, the lowest id present
 * (the master when there is one, else the lowest slave: a client reads
 * from a slave when the master is gone). Copies the address to buf, sets
 * *slave (id != 0); false if nothing fits. b may be NULL. */
bool rk_route_broker_find(const rk_route_broker_t *b, int64_t id, bool only_this, char *buf, size_t len,
                          bool *slave);

typedef struct rk_route_queue {
    char broker[RK_NAME_MAX];
    int32_t read_queues, write_queues, perm, sys_flag;
} rk_route_queue_t;

typedef struct rk_topic_route {
    _Atomic int refs;
    rk_route_broker_t *brokers;
    size_t nbrokers;
    rk_route_queue_t *queues;           /* sorted by broker name */
    size_t nqueues;
} rk_topic_route_t;

/* Parses a TopicRouteData body (standard or fastjson-legacy JSON). The
 * result has one reference. RK_EPROTO if it is not a route. */
int rk_topic_route_parse(const char *json, size_t len, rk_topic_route_t **out);
rk_topic_route_t *rk_topic_route_retain(rk_topic_route_t *r);
void rk_topic_route_release(rk_topic_route_t *r);

/* The broker entry named `broker`, or NULL. */
const rk_route_broker_t *rk_topic_route_broker(const rk_topic_route_t *r, const char *broker);

/* Writable queues of `topic` (at most max_per_broker per broker when > 0,
 * as a producer using the TBW102 route for a new topic does). */
int rk_topic_route_write_queues(const rk_topic_route_t *r, const char *topic, int max_per_broker,
                                rk_mq_t **out, size_t *n);
/* Readable queues of `topic`. */
int rk_topic_route_read_queues(const rk_topic_route_t *r, const char *topic, rk_mq_t **out, size_t *n);

#endif
