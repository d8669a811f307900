/* test_store2_lost_head.c — a consume queue whose first file(s) were deleted
 * is rebuilt whole even when config/consumeQueueState.json cannot tell
 * (missing, corrupt, or a crash before its first write): the start then
 * walks the whole retained commitlog, and a record of the queue that the
 * log still holds below the queue's min offset is a lost head (issue 9,
 * item 11, the verifier's variant: 300/500 messages gone, pulls got
 * OFFSET_MOVED). A queue whose head went by cleanup (commitlog files
 * deleted first) is not a lost head and is left alone. */
#include <criterion/criterion.h>
#include <signal.h>
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

#define CL_FILE 65536          /* commitlog file: ~90 messages of 600 bytes */
#define CQ_UNITS 50            /* units per consume-queue file */
#define NQ 4

static char dir[256], logpath[300];
static FILE *logf;

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "losthead"), 0);
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

TestSuite(lost_head, .init = setup, .fini = teardown, .timeout = 60);

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

/* Queue q holds exactly its messages from queue offset `from` to its end
 * (total messages were put), read as a consumer would. */
static void assert_readable_from(rk_store_t *st, int q, int64_t from, int total)
{
    int64_t want = (total - q + NQ - 1) / NQ;
    cr_assert_eq(rk_store_min_offset(st, "T", q), from, "queue %d: min offset %lld, want %lld", q,
                 (long long)rk_store_min_offset(st, "T", q), (long long)from);
    cr_assert_eq(rk_store_max_offset(st, "T", q), want, "queue %d: max offset %lld, want %lld", q,
                 (long long)rk_store_max_offset(st, "T", q), (long long)want);
    int64_t off = from;
    while (off < want) {
        rk_get_result_t res;
        cr_assert_eq(rk_store_get_message(st, "g", "T", q, off, 32, 0, NULL, 0, &res), 0);
        cr_assert_eq(res.status, RK_GET_FOUND, "queue %d offset %lld: status %s", q, (long long)off,
                     rk_get_status_name(res.status));
        for (int k = 0; k < res.count; k++) {
            rk_record_t r;
            cr_assert_eq(rk_record_decode(res.msgs[k].data, (size_t)res.msgs[k].size, true, &r), 0);
            cr_assert_eq(r.queue_offset, off + k);
            char expect[32];
            int n = snprintf(expect, sizeof expect, "m%lld.", (long long)((off + k) * NQ + q));
            cr_assert(r.body_len > (uint32_t)n && memcmp(r.body, expect, (size_t)n) == 0,
                      "queue %d offset %lld holds the wrong message", q, (long long)(off + k));
        }
        off += res.count;
        rk_get_result_release(&res);
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

static void path_of(char *out, size_t len, const char *rel)
{
    snprintf(out, len, "%s/%s", dir, rel);
}

static void cq_file(char *out, size_t len, int q, int index)
{
    snprintf(out, len, "%s/consumequeue/T/%d/%020d", dir, q, index * CQ_UNITS * RK_CQ_UNIT_SIZE);
}

/* Queue 0 loses its first file, queue 2 its first two (of 3 after 600
 * messages); queues 1 and 3 keep theirs. Then the store must give back all
 * 600 messages, say so, and keep the old folders aside. */
static void delete_heads_and_check(void)
{
    char p[400];
    cq_file(p, sizeof p, 0, 0);
    cr_assert_eq(unlink(p), 0);
    cq_file(p, sizeof p, 2, 0);
    cr_assert_eq(unlink(p), 0);
    cq_file(p, sizeof p, 2, 1);
    cr_assert_eq(unlink(p), 0);
    rk_store_t *st = open_store();
    for (int q = 0; q < NQ; q++)
        assert_readable_from(st, q, 0, 600);
    rk_store_close(st);
    char *log = read_log();
    cr_assert_eq(count_of(log, "consume queue T/0 starts at offset 50, but"), 1, "%s", log);
    cr_assert_eq(count_of(log, "consume queue T/2 starts at offset 100, but"), 1, "%s", log);
    cr_assert_eq(count_of(log, "its first file(s) are gone; rebuilding it whole"), 2, "%s", log);
    cr_assert_eq(count_of(log, "rebuilt consume queue T/0: 150 units from commitlog offset 0"), 1, "%s", log);
    cr_assert_eq(count_of(log, "rebuilt consume queue T/2: 150 units from commitlog offset"), 1, "%s", log);
    cr_assert_eq(count_of(log, "rebuilt consume queue T/1"), 0, "%s", log);
    free(log);
    path_of(p, sizeof p, "consumequeue/T/0.damaged");
    cr_assert(rk_path_exists(p), "queue 0's old folder is kept aside");
    path_of(p, sizeof p, "consumequeue/T/2.damaged");
    cr_assert(rk_path_exists(p), "queue 2's old folder is kept aside");
    /* the next clean start (the state file exists now) has nothing to do */
    fflush(logf);
    cr_assert_eq(truncate(logpath, 0), 0);
    rewind(logf);
    st = open_store();
    for (int q = 0; q < NQ; q++)
        assert_readable_from(st, q, 0, 600);
    rk_store_close(st);
    log = read_log();
    cr_assert_eq(count_of(log, "rebuilt consume queue"), 0, "%s", log);
    cr_assert_eq(count_of(log, "catch-up"), 0, "a clean start walked the log:\n%s", log);
    free(log);
}

Test(lost_head, without_a_state_file_a_deleted_first_file_is_rebuilt_whole)
{
    rk_store_t *st = open_store();
    put_many(st, 0, 600);
    rk_store_close(st);
    char p[400];
    path_of(p, sizeof p, "config/consumeQueueState.json");
    cr_assert_eq(unlink(p), 0);
    delete_heads_and_check();
}

Test(lost_head, with_a_corrupt_state_file_a_deleted_first_file_is_rebuilt_whole)
{
    rk_store_t *st = open_store();
    put_many(st, 0, 600);
    rk_store_close(st);
    char p[400];
    path_of(p, sizeof p, "config/consumeQueueState.json");
    cr_assert_eq(rk_file_write_atomic(p, "{\"dispatched\":", 14), 0);
    delete_heads_and_check();
}

Test(lost_head, after_a_crash_before_the_first_state_write_a_deleted_first_file_is_rebuilt_whole)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        rk_store_t *st = open_store();
        put_many(st, 0, 600);
        kill(getpid(), SIGKILL);        /* kill -9, seconds after a fresh start */
        _exit(3);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    char p[400];
    path_of(p, sizeof p, "config/consumeQueueState.json");
    cr_assert(!rk_path_exists(p), "the scenario is a crash before the state file's first write");
    path_of(p, sizeof p, "abort");
    cr_assert(rk_path_exists(p));
    delete_heads_and_check();
}

Test(lost_head, a_head_removed_by_cleanup_is_not_a_lost_head)
{
    rk_store_t *st = open_store();
    put_many(st, 0, 600);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(rk_store_clean_expired(st, true), 1);
    int64_t cl_min = rk_store_commitlog_min(st);
    int64_t min[NQ];
    for (int q = 0; q < NQ; q++) {
        min[q] = rk_store_min_offset(st, "T", q);
        cr_assert_gt(min[q], CQ_UNITS, "queue %d: cleanup took its first consume-queue file", q);
    }
    char p[400];
    cq_file(p, sizeof p, 0, 0);
    cr_assert(!rk_path_exists(p), "cleanup deleted the first consume-queue file");
    rk_store_close(st);
    path_of(p, sizeof p, "config/consumeQueueState.json");
    cr_assert_eq(unlink(p), 0);
    fflush(logf);
    cr_assert_eq(truncate(logpath, 0), 0);
    rewind(logf);

    st = open_store();
    cr_assert_eq(rk_store_commitlog_min(st), cl_min);
    for (int q = 0; q < NQ; q++)
        assert_readable_from(st, q, min[q], 600);
    rk_store_close(st);
    char *log = read_log();
    cr_assert_eq(count_of(log, "its first file(s) are gone"), 0, "%s", log);
    cr_assert_eq(count_of(log, "set aside"), 0, "%s", log);
    cr_assert_eq(count_of(log, "rebuilt consume queue"), 0, "%s", log);
    free(log);
    for (int q = 0; q < NQ; q++) {
        snprintf(p, sizeof p, "%s/consumequeue/T/%d.damaged", dir, q);
        cr_assert(!rk_path_exists(p), "queue %d was set aside", q);
    }
}
