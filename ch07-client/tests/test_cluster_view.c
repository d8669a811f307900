/* test_cluster_view.c — reading the cluster info broker by broker and ConsumeStats as rows
 * (rk/cluster_view.h), as mqadmin and the console do. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/cluster_view.h"
#include "rk/error.h"
#include "rk/json.h"

static void seen(void *ctx, const char *cluster, const char *broker, const char *id, const char *addr)
{
    char *out = ctx;
    size_t len = strlen(out);
    snprintf(out + len, 512 - len, "%s/%s/%s/%s;", cluster, broker, id, addr);
}

Test(cluster_view, every_address_cluster_by_cluster_wrong_types_passed_over)
{
    const char *text =
        "{\"brokerAddrTable\":{"
        "\"b1\":{\"brokerName\":\"b1\",\"brokerAddrs\":{0:\"10.0.0.1:10911\",1:\"10.0.0.2:10911\"}},"
        "\"b2\":{\"brokerName\":\"b2\",\"brokerAddrs\":{0:\"10.0.0.3:10911\",1:7}},"
        "\"b3\":{\"brokerName\":\"b3\"}},"
        "\"clusterAddrTable\":{\"C1\":[\"b1\",\"nosuch\",5],\"C2\":[\"b2\",\"b3\"]}}";
    cJSON *info = rk_json_parse(text, strlen(text));
    cr_assert_not_null(info);
    char out[512] = "";
    rk_cluster_each_broker(info, seen, out);
    cr_assert_str_eq(out, "C1/b1/0/10.0.0.1:10911;C1/b1/1/10.0.0.2:10911;C2/b2/0/10.0.0.3:10911;");
    out[0] = '\0';
    rk_cluster_each_broker(NULL, seen, out);
    cr_assert_str_eq(out, "");
    cJSON_Delete(info);
}

static const char *stats =
    "{\"consumeTps\":0.0,\"offsetTable\":{"
    "{\"brokerName\":\"b2\",\"queueId\":1,\"topic\":\"T\"}:{\"brokerOffset\":9,\"consumerOffset\":4,\"lastTimestamp\":7},"
    "{\"brokerName\":\"b1\",\"queueId\":0,\"topic\":\"T\"}:{\"brokerOffset\":5,\"consumerOffset\":5},"
    "{\"brokerName\":\"b1\",\"queueId\":0,\"topic\":\"%RETRY%g\"}:{\"brokerOffset\":1}}}";

Test(consume_stats, rows_appended_across_answers_and_sorted_by_queue)
{
    rk_consume_row_t *rows = NULL;
    size_t n = 0, cap = 0;
    cr_assert_eq(rk_consume_stats_append(stats, strlen(stats), &rows, &n, &cap, SIZE_MAX), RK_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(rk_consume_stats_append(stats, strlen(stats), &rows, &n, &cap, SIZE_MAX), RK_OK);
    cr_assert_eq(n, 6, "a second broker's answer is appended");
    qsort(rows, n, sizeof *rows, rk_consume_row_cmp);
    cr_assert_str_eq(rows[0].mq.topic, "%RETRY%g");
    cr_assert_eq(rows[0].broker_off, 1);
    cr_assert_eq(rows[0].consumer_off, 0, "missing members are 0");
    cr_assert_eq(rows[0].last, 0);
    cr_assert_str_eq(rows[2].mq.broker, "b1");
    cr_assert_str_eq(rows[4].mq.broker, "b2");
    cr_assert_eq(rows[4].mq.queue_id, 1);
    cr_assert_eq(rows[4].broker_off, 9);
    cr_assert_eq(rows[4].consumer_off, 4);
    cr_assert_eq(rows[4].last, 7);
    free(rows);
}

Test(consume_stats, at_most_max_rows_and_garbage_refused)
{
    rk_consume_row_t *rows = NULL;
    size_t n = 0, cap = 0;
    cr_assert_eq(rk_consume_stats_append(stats, strlen(stats), &rows, &n, &cap, 2), RK_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(rk_consume_stats_append(stats, strlen(stats), &rows, &n, &cap, 2), RK_OK);
    cr_assert_eq(n, 2, "nothing past max");
    const char *bad = "{\"offsetTable\":{{\"brokerName\":";
    cr_assert_eq(rk_consume_stats_append(bad, strlen(bad), &rows, &n, &cap, SIZE_MAX), RK_ECORRUPT);
    cr_assert_eq(n, 2, "nothing appended from garbage");
    free(rows);
}
