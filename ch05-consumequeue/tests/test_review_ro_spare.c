/* test_review_ro_spare.c — the read-only view (rk/store_ro.h) finds the
 * commitlog's end where the store's recovery does when a crash left the
 * next file made ahead of time (the spare: all zeros, never written). The
 * view used to scan the last file only, and took the spare's start for
 * the end of the log. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/clock.h"
#include "rk/commitlog.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/message_store.h"
#include "rk/store_ro.h"
#include "rk/testkit.h"

#define CL_FILE 8192

static char dir[256];
static FILE *logf;

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "rospare"), 0);
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

TestSuite(review_ro_spare, .init = setup, .fini = teardown, .timeout = 60);

Test(review_ro_spare, a_zero_spare_file_after_a_crash_is_not_the_end_of_the_log)
{
    char sdir[300];
    snprintf(sdir, sizeof sdir, "%s/store", dir);
    rk_kv_t kv;
    rk_kv_init(&kv);
    rk_kv_set(&kv, "mappedFileSizeCommitLog", "8192");
    rk_kv_set(&kv, "mappedFileSizeConsumeQueue", "200");
    rk_store_t *st = NULL;
    char err[512] = "";
    cr_assert_eq(rk_store_open(sdir, &kv, &st, err, sizeof err), 0, "open: %s", err);
    rk_kv_free(&kv);
    cr_assert_eq(rk_store_start(st), 0);
    static uint8_t body[300];
    for (int i = 0; i < 30; i++) {      /* > 1 file: the end is in file 1 */
        rk_msg_t m = {.topic = "T", .topic_len = 1, .queue_id = 0, .body = body,
                      .body_len = sizeof body, .born_ts = rk_now_ms()};
        rk_host_parse("127.0.0.1:5555", &m.born_host);
        rk_host_parse("127.0.0.1:10911", &m.store_host);
        rk_put_result_t r;
        cr_assert_eq(rk_store_put(st, &m, &r), 0);
        cr_assert_eq(r.status, RK_PUT_OK);
    }
    cr_assert_eq(rk_store_wait_dispatched(st, 10000), 0);
    int64_t end = rk_commitlog_max_offset(rk_store_commitlog(st));
    cr_assert_gt(end, CL_FILE);
    rk_store_close(st);

    /* what a kill -9 leaves: the spare after the last file, and abort */
    char p[400];
    int64_t spare = end - end % CL_FILE + CL_FILE;
    snprintf(p, sizeof p, "%s/commitlog/%020lld", sdir, (long long)spare);
    int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
    cr_assert_geq(fd, 0, "%s", p);
    cr_assert_eq(ftruncate(fd, CL_FILE), 0);
    close(fd);
    snprintf(p, sizeof p, "%s/abort", sdir);
    fd = open(p, O_CREAT | O_WRONLY, 0644);
    cr_assert_geq(fd, 0);
    close(fd);

    rk_store_ro_t *ro = NULL;
    cr_assert_eq(rk_store_ro_open(sdir, 0, 0, &ro, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rk_store_ro_commitlog_max(ro), end, "view's end %lld, the log's %lld",
                 (long long)rk_store_ro_commitlog_max(ro), (long long)end);
    const rk_store_ro_queue_t *q = rk_store_ro_find(ro, "T", 0);
    cr_assert_not_null(q);
    cr_assert_eq(q->max_offset, 30);
    rk_store_ro_close(ro);
}
