/* test_corrupt_stats.c — a broker whose commitlog holds a damaged record in
 * the middle says so in its runtime info (commitLogCorruptRanges/Bytes), and
 * still serves every other message's offsets. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/message_store.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

#define CL_FILE 4194304     /* the fixture's mappedFileSizeCommitLog */

static char *runtime_info(tk_cluster_t *c)
{
    rk_rclient_t *rc;
    cr_assert_eq(rk_rclient_new(&rc), 0);
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_BROKER_RUNTIME_INFO), *resp = NULL;
    cr_assert_eq(rk_rclient_invoke_sync(rc, c->br, req, 5000, &resp), 0);
    cr_assert_eq(resp->code, RK_RESP_SUCCESS);
    char *body = strndup((const char *)resp->body, resp->body_len);
    rk_cmd_free(resp);
    rk_rclient_free(rc);
    return body;
}

Test(corrupt_stats, runtime_info_counts_damaged_ranges, .timeout = 60)
{
    tk_cluster_t c;
    tk_cluster_start(&c, NULL);
    char *info = runtime_info(&c);
    cr_assert_not_null(strstr(info, "\"commitLogCorruptRanges\":\"0\""), "%s", info);
    free(info);
    cr_assert_eq(rk_tk_stop(c.br_pid, 10000), 0);
    c.br_pid = -1;

    /* 200 messages straight into the broker's store, then one damaged */
    char root[300];
    snprintf(root, sizeof root, "%s/store", c.dir);
    rk_kv_t kv;
    rk_kv_init(&kv);
    rk_kv_set(&kv, "mappedFileSizeCommitLog", "4194304");
    rk_store_t *st;
    char err[256];
    cr_assert_eq(rk_store_open(root, &kv, &st, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rk_store_start(st), 0);
    static uint8_t body[100];
    memset(body, 'b', sizeof body);
    int64_t phys[201];
    for (int i = 0; i < 200; i++) {
        rk_msg_t m = {.topic = "Dmg", .topic_len = 3, .queue_id = 0, .born_ts = rk_now_ms(), .body = body,
                      .body_len = sizeof body};
        rk_host_parse("127.0.0.1:5555", &m.born_host);
        m.store_host = *rk_commitlog_store_host(rk_store_commitlog(st));
        rk_put_result_t r;
        cr_assert_eq(rk_store_put(st, &m, &r), 0);
        phys[i] = r.phys_offset;
    }
    phys[200] = rk_store_commitlog_max(st);
    rk_store_close(st);
    rk_kv_free(&kv);
    char path[400];
    snprintf(path, sizeof path, "%s/commitlog/%020d", root, 0);
    int fd = open(path, O_RDWR);
    cr_assert(fd >= 0);
    cr_assert_eq(pwrite(fd, "XXXX", 4, (off_t)(phys[100] + 150)), 4);
    close(fd);

    char log[300];
    snprintf(log, sizeof log, "%s/broker2.log", c.dir);
    char *argv[] = {(char *)rk_tk_bin("mqbroker"), "-c", c.conf, NULL};
    c.br_pid = rk_tk_spawn(argv, log);
    cr_assert(c.br_pid > 0 && rk_tk_wait_port(c.br_port, 10000), "mqbroker did not start (see %s)", log);
    info = runtime_info(&c);
    cr_assert_not_null(strstr(info, "\"commitLogCorruptRanges\":\"1\""), "%s", info);
    char want[80];
    snprintf(want, sizeof want, "\"commitLogCorruptBytes\":\"%lld\"", (long long)(phys[101] - phys[100]));
    cr_assert_not_null(strstr(info, want), "%s", info);
    snprintf(want, sizeof want, "\"commitLogMaxOffset\":\"%lld\"", (long long)phys[200]);
    cr_assert_not_null(strstr(info, want), "the log was not truncated: %s", info);
    free(info);
    tk_cluster_stop(&c);
}
