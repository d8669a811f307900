/* cluster_view.c — the cluster info's brokers and ConsumeStats rows (see rk/cluster_view.h). */
#include "rk/cluster_view.h"

#include <stdlib.h>

#include "rk/error.h"
#include "rk/grow.h"
#include "rk/json.h"
#include "rk/mqclient.h"

void rk_cluster_each_broker(const cJSON *info, rk_cluster_broker_fn fn, void *ctx)
{
    const cJSON *clusters = cJSON_GetObjectItemCaseSensitive(info, "clusterAddrTable");
    const cJSON *table = cJSON_GetObjectItemCaseSensitive(info, "brokerAddrTable");
    for (const cJSON *cl = clusters ? clusters->child : NULL; cl; cl = cl->next)
        for (const cJSON *bn = cl->child; bn; bn = bn->next) {
            const cJSON *bd = cJSON_IsString(bn) ? cJSON_GetObjectItemCaseSensitive(table, bn->valuestring) : NULL;
            const cJSON *addrs = cJSON_GetObjectItemCaseSensitive(bd, "brokerAddrs");
            for (const cJSON *a = addrs ? addrs->child : NULL; a; a = a->next)
                if (cJSON_IsString(a) && a->string != NULL && cl->string != NULL)
                    fn(ctx, cl->string, bn->valuestring, a->string, a->valuestring);
        }
}

int rk_consume_stats_append(const void *body, size_t len, rk_consume_row_t **rows, size_t *n, size_t *cap,
                            size_t max)
{
    rk_mq_map_entry_t *e = NULL;
    size_t ne = 0;
    int rc = rk_mq_map_parse((const char *)body, len, "offsetTable", &e, &ne);
    if (rc != RK_OK)
        return rc == RK_ENOMEM ? RK_ENOMEM : RK_ECORRUPT;
    for (size_t i = 0; i < ne && *n < max; i++) {
        if (RK_GROW(*rows, *cap, *n + 1, 64) != RK_OK) {
            rc = RK_ENOMEM;
            break;
        }
        rk_consume_row_t *r = &(*rows)[(*n)++];
        r->mq = e[i].mq;
        r->broker_off = r->consumer_off = r->last = 0;
        rk_json_get_i64(e[i].value, "brokerOffset", &r->broker_off);
        rk_json_get_i64(e[i].value, "consumerOffset", &r->consumer_off);
        rk_json_get_i64(e[i].value, "lastTimestamp", &r->last);
    }
    rk_mq_map_free(e, ne);
    return rc;
}

int rk_consume_row_cmp(const void *a, const void *b)
{
    return rk_mq_cmp(&((const rk_consume_row_t *)a)->mq, &((const rk_consume_row_t *)b)->mq);
}
