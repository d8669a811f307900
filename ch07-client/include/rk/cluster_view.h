/* cluster_view.h — reading two admin answers the same way everywhere: the name server's cluster
 * info (GET_BROKER_CLUSTER_INFO) walked broker by broker, and a broker's ConsumeStats
 * (GET_CONSUME_STATS) as per-queue rows. mqadmin (clusterList, consumerProgress) and chapter
 * 12's console (/api/cluster, /api/groups/{group}, /metrics) both read them through this.
 *
 * Memory: nothing here keeps a pointer after it returns, except what it hands back — the
 * strings given to the walk's callback live in info (valid during the call); the rows array
 * belongs to the caller (free()). No global state, any thread. */
#ifndef RK_CLUSTER_VIEW_H
#define RK_CLUSTER_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "rk/topic_route.h"

/* One broker address of the cluster info: cluster name, broker name, broker id as the
 * name server writes it ("0" is the master) and "ip:port". */
typedef void (*rk_cluster_broker_fn)(void *ctx, const char *cluster, const char *broker, const char *id,
                                     const char *addr);

/* Calls fn for every address of info (a parsed GET_BROKER_CLUSTER_INFO answer), cluster by
 * cluster, broker by broker in clusterAddrTable's order, id by id in brokerAddrs' order.
 * Members of the wrong JSON type are passed over. NULL info: no call. */
void rk_cluster_each_broker(const cJSON *info, rk_cluster_broker_fn fn, void *ctx);

/* One queue of a consumer group's ConsumeStats. */
typedef struct rk_consume_row {
    rk_mq_t mq;
    int64_t broker_off, consumer_off, last;     /* missing members: 0 */
} rk_consume_row_t;

/* Appends the queues of a GET_CONSUME_STATS answer body (ConsumeStats: offsetTable) to *rows
 * (*n used of *cap, grown by doubling), at most max rows in all (what is past max is left
 * out). RK_ECORRUPT when the body is no ConsumeStats (nothing appended), RK_ENOMEM (the rows
 * appended so far kept). */
int rk_consume_stats_append(const void *body, size_t len, rk_consume_row_t **rows, size_t *n, size_t *cap,
                            size_t max);
/* qsort order of rows: by queue (topic, broker, queue id), as RocketMQ's consumerProgress. */
int rk_consume_row_cmp(const void *a, const void *b);

#endif
