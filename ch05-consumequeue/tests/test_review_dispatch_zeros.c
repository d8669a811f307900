/* test_review_dispatch_zeros.c — the dispatch source never "advances" to
 * where it already is. A dispatch point inside a record (a hostile or stale
 * consumeQueueState.json after a crash, here) that lands on zero bytes with
 * no valid record after them used to return "skip" without saying where
 * to: the catch-up pass then looped on the same offset forever and the
 * store never started (and the reput thread would spin the same way). It
 * must treat that point as unreadable: the catch-up pass goes on at the
 * next file and the store starts with every message served. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/clock.h"
#include "rk/commitlog.h"
#include "rk/consumequeue.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"
#include "rk/message_store.h"
#include "rk/testkit.h"

#define CL_FILE (64 * 1024)
#define N 10
#define BODY 200

static char dir[256];
static FILE *logf;

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "dispzeros"), 0);
    char p[300];
    snprintf(p, sizeof p, "%s/test.log", dir);
    logf = fopen(p, "w");
    cr_assert_not_null(logf);
    rk_log_init(RK_LOG_INFO, logf);
}

static void teardown(void)
{
    rk_log_init(RK_LOG_INFO, NULL);
    fclose(logf);
    rk_tk_rmtree(dir);
}

TestSuite(review_dispatch_zeros, .init = setup, .fini = teardown, .timeout = 30);

static rk_store_t *open_store(void)
{
    rk_kv_t kv;
    rk_kv_init(&kv);
    char v[32];
    snprintf(v, sizeof v, "%d", CL_FILE);
    rk_kv_set(&kv, "mappedFileSizeCommitLog", v);
    snprintf(v, sizeof v, "%d", 100 * RK_CQ_UNIT_SIZE);
    rk_kv_set(&kv, "mappedFileSizeConsumeQueue", v);
    rk_store_t *st = NULL;
    char err[256] = "";
    int rc = rk_store_open(dir, &kv, &st, err, sizeof err);
    rk_kv_free(&kv);
    cr_assert_eq(rc, 0, "open: %s", err);
    cr_assert_eq(rk_store_start(st), 0);
    return st;
}

Test(review_dispatch_zeros, a_dispatch_point_on_zeros_with_nothing_after_does_not_hang_the_start)
{
    rk_store_t *st = open_store();
    static uint8_t body[BODY];          /* zeros */
    int64_t last = -1;
    for (int i = 0; i < N; i++) {
        rk_msg_t m = {.topic = "T", .topic_len = 1, .queue_id = 0, .born_ts = rk_now_ms(),
                      .body = body, .body_len = BODY};
        rk_host_parse("127.0.0.1:5555", &m.born_host);
        rk_host_parse("127.0.0.1:10911", &m.store_host);
        rk_put_result_t r;
        cr_assert_eq(rk_store_put(st, &m, &r), 0);
        cr_assert_eq(r.status, RK_PUT_OK);
        last = r.phys_offset;
    }
    int64_t end = rk_store_commitlog_max(st);
    cr_assert_eq(rk_store_wait_dispatched(st, 10000), 0);
    rk_store_close(st);

    /* a point in the last record's body: 8 zero bytes (a header that reads
     * as "nothing written"), and no valid record after it */
    char p[400];
    snprintf(p, sizeof p, "%s/commitlog/%020d", dir, 0);
    int fd = open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    uint8_t rec[1024];
    cr_assert_eq(pread(fd, rec, (size_t)(end - last), last), end - last);
    close(fd);
    int64_t at = -1;
    for (int64_t i = 100; i + 16 <= end - last && at < 0; i++)
        if (memcmp(rec + i, body, 16) == 0)
            at = last + i;
    cr_assert_geq(at, 0);

    /* after a crash (abort), the state file's dispatch point is where the
     * catch-up pass starts */
    char state[256];
    int n = snprintf(state, sizeof state, "{\"dispatched\":%lld,\"indexEnd\":0,\"queues\":{}}", (long long)at);
    snprintf(p, sizeof p, "%s/config/consumeQueueState.json", dir);
    cr_assert_eq(rk_file_write_atomic(p, state, (size_t)n), 0);
    snprintf(p, sizeof p, "%s/abort", dir);
    fd = open(p, O_CREAT | O_WRONLY, 0644);
    cr_assert_geq(fd, 0);
    close(fd);

    st = open_store();                  /* used to loop forever in the catch-up pass */
    cr_assert_eq(rk_store_max_offset(st, "T", 0), N);
    rk_get_result_t g;
    cr_assert_eq(rk_store_get_message(st, "g", "T", 0, 0, 32, 0, NULL, 0, &g), 0);
    cr_assert_eq(g.count, N, "every message is served");
    rk_get_result_release(&g);
    rk_store_close(st);
}
