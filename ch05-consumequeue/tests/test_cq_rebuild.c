/* test_cq_rebuild.c — a deleted or truncated consume queue is rebuilt from
 * the commitlog at start, with a log line saying how much (issue 9, item
 * 11); a clean reopen rebuilds nothing and does not walk the log. Every
 * check reads the messages back through rk_store_get_message, as a
 * consumer would, and compares queue offsets and bodies. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"
#include "rk/message_store.h"
#include "rk/testkit.h"

#define CL_FILE 65536          /* commitlog file: ~100 messages of 600 bytes */
#define CQ_UNITS 50            /* units per consume-queue file */
#define NQ 4

static char dir[256], logpath[300];
static FILE *logf;

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "cqrebuild"), 0);
    snprintf(logpath, sizeof logpath, "%s/test.log", dir);
    logf = fopen(logpath, "w");
    cr_assert_not_null(logf);
    rk_log_init(RK_LOG_INFO, logf);
}

static void teardown(void)
{
    rk_log_init(RK_LOG_INFO, NULL);
    fclose(logf);
    rk_tk_rmtree(dir);
}

TestSuite(cqrebuild, .init = setup, .fini = teardown, .timeout = 60);

static rk_store_t *open_store(void)
{
    rk_kv_t kv;
    rk_kv_init(&kv);
    char v[32];
    snprintf(v, sizeof v, "%d", CL_FILE);
    rk_kv_set(&kv, "mappedFileSizeCommitLog", v);
    snprintf(v, sizeof v, "%d", CQ_UNITS * RK_CQ_UNIT_SIZE);
    rk_kv_set(&kv, "mappedFileSizeConsumeQueue", v);
    rk_kv_set(&kv, "maxHashSlotNum", "64");
    rk_kv_set(&kv, "maxIndexNum", "300");
    rk_store_t *st = NULL;
    char err[512];
    int rc = rk_store_open(dir, &kv, &st, err, sizeof err);
    rk_kv_free(&kv);
    cr_assert_eq(rc, 0, "open: %s", err);
    cr_assert_eq(rk_store_start(st), 0);
    return st;
}

/* Message i goes to queue i % NQ with body "m<i>" padded to 600 bytes. */
static void put_many(rk_store_t *st, int from, int n)
{
    static uint8_t body[600];
    for (int i = from; i < from + n; i++) {
        memset(body, '.', sizeof body);
        int len = snprintf((char *)body, sizeof body, "m%d", i);
        body[len] = '.';
        rk_msg_t m = {0};
        m.topic = "T";
        m.topic_len = 1;
        m.queue_id = i % NQ;
        m.born_ts = rk_now_ms();
        rk_host_parse("127.0.0.1:5555", &m.born_host);
        rk_host_parse("127.0.0.1:10911", &m.store_host);
        m.body = body;
        m.body_len = sizeof body;
        rk_put_result_t r;
        cr_assert_eq(rk_store_put(st, &m, &r), 0);
        cr_assert_eq(r.status, RK_PUT_OK);
        cr_assert_eq(r.queue_offset, i / NQ);
    }
    cr_assert_eq(rk_store_wait_dispatched(st, 10000), 0);
}

/* Messages 0..total-1 are all readable at their queue offsets, in order. */
static void assert_all_readable(rk_store_t *st, int total)
{
    for (int q = 0; q < NQ; q++) {
        int64_t want = (total - q + NQ - 1) / NQ;
        cr_assert_eq(rk_store_max_offset(st, "T", q), want, "queue %d: max offset %lld, want %lld", q,
                     (long long)rk_store_max_offset(st, "T", q), (long long)want);
        int64_t off = 0;
        while (off < want) {
            rk_get_result_t res;
            cr_assert_eq(rk_store_get_message(st, "g", "T", q, off, 32, 0, NULL, 0, &res), 0);
            cr_assert_eq(res.status, RK_GET_FOUND, "queue %d offset %lld: status %d", q,
                         (long long)off, res.status);
            for (int k = 0; k < res.count; k++) {
                rk_record_t r;
                cr_assert_eq(rk_record_decode(res.msgs[k].data, (size_t)res.msgs[k].size, true, &r), 0);
                cr_assert_eq(r.queue_id, q);
                cr_assert_eq(r.queue_offset, off + k);
                char expect[32];
                int n = snprintf(expect, sizeof expect, "m%lld.", (long long)((off + k) * NQ + q));
                cr_assert(r.body_len > (uint32_t)n && memcmp(r.body, expect, (size_t)n) == 0,
                          "queue %d offset %lld holds the wrong message", q, (long long)(off + k));
                cr_assert_eq(res.msgs[k].queue_offset, off + k);
            }
            off += res.count;
            rk_get_result_release(&res);
        }
    }
}

static char *read_log(void)
{
    fflush(logf);
    char *text = NULL;
    cr_assert_eq(rk_file_read_all(logpath, &text, NULL), 0);
    return text;
}

static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void cq_file(char *out, size_t len, int q, int index)
{
    snprintf(out, len, "%s/consumequeue/T/%d/%020d", dir, q, index * CQ_UNITS * RK_CQ_UNIT_SIZE);
}

Test(cqrebuild, clean_reopen_rebuilds_nothing_and_does_not_walk_the_log)
{
    rk_store_t *st = open_store();
    put_many(st, 0, 400);
    rk_store_close(st);
    fflush(logf);
    cr_assert_eq(truncate(logpath, 0), 0);
    rewind(logf);
    st = open_store();
    assert_all_readable(st, 400);
    rk_store_close(st);
    char *log = read_log();
    cr_assert_eq(count_of(log, "rebuilt consume queue"), 0, "%s", log);
    cr_assert_eq(count_of(log, "catch-up"), 0, "a clean start walked the log:\n%s", log);
    free(log);
}

Test(cqrebuild, deleted_queue_folder_and_cut_files_are_rebuilt_with_a_log_line)
{
    rk_store_t *st = open_store();
    put_many(st, 0, 400);               /* 100 per queue: 2 consume-queue files each */
    rk_store_close(st);
    char p[400];
    snprintf(p, sizeof p, "%s/consumequeue/T/1", dir);
    cr_assert_eq(rk_tk_rmtree(p), 0);                  /* queue 1: gone */
    cq_file(p, sizeof p, 2, 0);
    cr_assert_eq(truncate(p, 13 * RK_CQ_UNIT_SIZE + 7), 0);   /* queue 2: first file cut mid-unit */
    cq_file(p, sizeof p, 3, 1);
    cr_assert_eq(truncate(p, 20 * RK_CQ_UNIT_SIZE + 3), 0);   /* queue 3: last file cut mid-unit */

    st = open_store();
    assert_all_readable(st, 400);
    /* numbering continues where each queue ended */
    put_many(st, 400, 8);
    assert_all_readable(st, 408);
    rk_store_close(st);
    char *log = read_log();
    cr_assert_eq(count_of(log, "rebuilt consume queue T/1: 100 units from commitlog offset"), 1, "%s", log);
    cr_assert_eq(count_of(log, "rebuilt consume queue T/2: "), 1, "%s", log);
    cr_assert_eq(count_of(log, "rebuilt consume queue T/3: 30 units from commitlog offset"), 1, "%s", log);
    cr_assert_eq(count_of(log, "rebuilt consume queue T/0"), 0, "%s", log);
    free(log);
    /* and the next clean start has nothing left to do */
    fflush(logf);
    cr_assert_eq(truncate(logpath, 0), 0);
    rewind(logf);
    st = open_store();
    assert_all_readable(st, 408);
    rk_store_close(st);
    log = read_log();
    cr_assert_eq(count_of(log, "rebuilt consume queue"), 0, "%s", log);
    free(log);
}

Test(cqrebuild, a_deleted_newest_file_is_rebuilt)
{
    rk_store_t *st = open_store();
    put_many(st, 0, 400);
    rk_store_close(st);
    char p[400];
    cq_file(p, sizeof p, 0, 1);
    cr_assert_eq(unlink(p), 0);           /* queue 0 now ends at 50 of its 100 units */
    st = open_store();
    assert_all_readable(st, 400);
    rk_store_close(st);
    char *log = read_log();
    cr_assert_eq(count_of(log, "rebuilt consume queue T/0: 50 units from commitlog offset"), 1, "%s", log);
    free(log);
}

Test(cqrebuild, units_lost_after_the_last_flush_of_a_crashed_store_are_rebuilt)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        rk_store_t *st = open_store();
        put_many(st, 0, 200);
        rk_store_flush(st);              /* what is on disk for sure */
        put_many(st, 200, 200);
        _exit(0);                        /* crash: no close */
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the crash lost queue 1's units after the flush (pages never written) */
    char p[400];
    cq_file(p, sizeof p, 1, 1);
    cr_assert_eq(unlink(p), 0);
    cq_file(p, sizeof p, 1, 0);
    cr_assert_eq(truncate(p, 45 * RK_CQ_UNIT_SIZE), 0);
    rk_store_t *st = open_store();
    assert_all_readable(st, 400);
    rk_store_close(st);
    char *log = read_log();
    cr_assert_eq(count_of(log, "rebuilt consume queue T/1: 55 units from commitlog offset"), 1, "%s", log);
    free(log);
}

Test(cqrebuild, a_queue_whose_first_file_was_deleted_is_rebuilt_whole)
{
    rk_store_t *st = open_store();
    put_many(st, 0, 400);
    rk_store_close(st);
    char p[400];
    cq_file(p, sizeof p, 0, 0);
    cr_assert_eq(unlink(p), 0);           /* queue 0 now starts at 50: 0..49 would vanish */
    st = open_store();
    cr_assert_eq(rk_store_min_offset(st, "T", 0), 0);
    assert_all_readable(st, 400);
    rk_store_close(st);
    char *log = read_log();
    cr_assert_eq(count_of(log, "rebuilt consume queue T/0: 100 units from commitlog offset 0"), 1, "%s", log);
    free(log);
    snprintf(p, sizeof p, "%s/consumequeue/T/0.damaged", dir);
    cr_assert(rk_path_exists(p), "the damaged queue is kept aside");
}

Test(cqrebuild, an_unusable_state_file_means_the_slow_full_check_not_a_refusal)
{
    rk_store_t *st = open_store();
    put_many(st, 0, 200);
    rk_store_close(st);
    char p[400];
    snprintf(p, sizeof p, "%s/consumequeue/T/1", dir);
    cr_assert_eq(rk_tk_rmtree(p), 0);
    snprintf(p, sizeof p, "%s/config/consumeQueueState.json", dir);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs("{\"dispatched\":1e300,\"indexEnd\":0,\"queues\":{\"../x\":{\"0\":[1,0,0]}}}", f);
    fclose(f);
    st = open_store();
    assert_all_readable(st, 200);
    rk_store_close(st);
    char *log = read_log();
    cr_assert_eq(count_of(log, "checking every consume queue against the commitlog instead"), 1, "%s", log);
    cr_assert_eq(count_of(log, "rebuilt consume queue T/1: 50 units"), 1, "%s", log);
    free(log);
}

Test(cqrebuild, every_queue_gone_is_rebuilt_and_said)
{
    rk_store_t *st = open_store();
    put_many(st, 0, 200);
    rk_store_close(st);
    char p[400];
    snprintf(p, sizeof p, "%s/consumequeue", dir);
    cr_assert_eq(rk_tk_rmtree(p), 0);
    st = open_store();
    assert_all_readable(st, 200);
    rk_store_close(st);
    char *log = read_log();
    cr_assert_eq(count_of(log, "units from commitlog offset"), NQ, "%s", log);
    cr_assert_eq(count_of(log, "rebuilt consume queue T/3: 50 units"), 1, "%s", log);
    free(log);
}
