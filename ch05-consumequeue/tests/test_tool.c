/* test_tool.c — what a student runs: rkstore put/cq/get/query as processes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/testkit.h"

static char dir[256];
static void setup(void) { cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "tool"), 0); }
static void teardown(void) { rk_tk_rmtree(dir); }
TestSuite(rkstore, .init = setup, .fini = teardown, .timeout = 60);

#define SMALL "--mappedFileSizeCommitLog=8192", "--mappedFileSizeConsumeQueue=200"

static char *run(char *const argv[])
{
    char *out = NULL;
    int rc = rk_tk_run(argv, &out, 20000);
    cr_assert_eq(rc, 0, "%s %s exited %d:\n%s", argv[0], argv[1], rc, out ? out : "");
    return out;
}

static int count_lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

Test(rkstore, put_spreads_over_queues_and_two_groups_consume_independently)
{
    const char *bin = rk_tk_bin("rkstore");
    char *out = run((char *const[]){(char *)bin, "put", dir, "--topic", "T", "--count", "40",
                                    "--size", "300", "--queues", "4", "--tags", "a,b",
                                    "--keys", "key", "--verbose", SMALL, NULL});
    cr_assert_eq(count_lines_with(out, "put T queue=3"), 10);
    free(out);

    out = run((char *const[]){(char *)bin, "cq", dir, "T", "2", SMALL, NULL});
    cr_assert_not_null(strstr(out, "minOffset=0 maxOffset=10"), "%s", out);
    free(out);

    /* g1 reads 4, then the next 4; g2 reads the same first 4 */
    out = run((char *const[]){(char *)bin, "get", dir, "--group", "g1", "--topic", "T", "--queue",
                              "1", "--max", "4", SMALL, NULL});
    cr_assert_not_null(strstr(out, "0 b 300\n1 b 300\n2 b 300\n3 b 300\n"), "%s", out);
    cr_assert_not_null(strstr(out, "next=4"), "%s", out);
    free(out);
    out = run((char *const[]){(char *)bin, "get", dir, "--group", "g1", "--topic", "T", "--queue",
                              "1", "--max", "4", SMALL, NULL});
    cr_assert_not_null(strstr(out, "4 b 300\n"), "%s", out);
    cr_assert_null(strstr(out, "\n0 b 300"), "%s", out);
    free(out);
    out = run((char *const[]){(char *)bin, "get", dir, "--group", "g2", "--topic", "T", "--queue",
                              "1", "--max", "4", SMALL, NULL});
    cr_assert_not_null(strstr(out, "0 b 300\n"), "%s", out);
    free(out);

    /* tag filter: queue 0 holds messages 0,4,8,... all tagged a */
    out = run((char *const[]){(char *)bin, "get", dir, "--group", "g3", "--topic", "T", "--queue",
                              "0", "--tag", "b", SMALL, NULL});
    cr_assert_not_null(strstr(out, "status=NO_MATCHED_MESSAGE found=0 next=10"), "%s", out);
    free(out);

    char p[400], *text = NULL;
    snprintf(p, sizeof p, "%s/config/consumerOffset.json", dir);
    FILE *f = fopen(p, "r");
    cr_assert_not_null(f);
    text = calloc(1, 4096);
    cr_assert_gt(fread(text, 1, 4095, f), 0);
    fclose(f);
    cr_assert_not_null(strstr(text, "\"T@g1\":{\n\t\t\t1:8\n\t\t}"), "%s", text);
    cr_assert_not_null(strstr(text, "\"T@g2\":{\n\t\t\t1:4\n\t\t}"), "%s", text);
    free(text);

    out = run((char *const[]){(char *)bin, "query", dir, "--topic", "T", "--key", "key17", SMALL, NULL});
    cr_assert_not_null(strstr(out, "queue=1 queueOffset=4 keys=key17"), "%s", out);
    cr_assert_eq(count_lines_with(out, "phys="), 1);
    free(out);
}

/* ---- SIGKILL in the middle of puts: everything derived agrees with the log ---- */

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rk/commitlog.h"
#include "rk/consumequeue.h"
#include "rk/message_store.h"

typedef struct count_ctx {
    int64_t per_queue[4];
    int64_t bad, total;
} count_ctx_t;

static int count_records(void *ctx, const rk_record_t *r, bool crc_ok)
{
    count_ctx_t *c = ctx;
    if (!crc_ok || r->queue_id < 0 || r->queue_id > 3 || r->queue_offset != c->per_queue[r->queue_id])
        c->bad++;
    else
        c->per_queue[r->queue_id]++;
    c->total++;
    return 0;
}

Test(rkstore, sigkill_during_puts_then_queues_and_index_match_the_log)
{
    char log[300];
    snprintf(log, sizeof log, "%s/put.log", dir);
    char *argv[] = {(char *)rk_tk_bin("rkstore"), "put", dir, "--topic", "T", "--count", "100000000",
                    "--size", "100", "--queues", "4", "--tags", "a,b", "--keys", "k",
                    "--mappedFileSizeCommitLog=1048576", "--mappedFileSizeConsumeQueue=20000", NULL};
    pid_t pid = rk_tk_spawn(argv, log);
    cr_assert(pid > 0);
    usleep(600 * 1000);
    rk_tk_kill(pid, SIGKILL);
    int st = rk_tk_wait(pid, 5000);
    cr_assert(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the writer was still running");

    rk_kv_t kv;
    rk_kv_init(&kv);
    rk_kv_set(&kv, "mappedFileSizeCommitLog", "1048576");
    rk_kv_set(&kv, "mappedFileSizeConsumeQueue", "20000");
    rk_store_t *s;
    char err[256];
    cr_assert_eq(rk_store_open(dir, &kv, &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rk_store_start(s), 0);
    /* the log after recovery, as ch04 scans it */
    count_ctx_t c = {{0}, 0, 0};
    char cldir[300];
    snprintf(cldir, sizeof cldir, "%s/commitlog", dir);
    rk_scan_report_t rep;
    cr_assert_eq(rk_commitlog_scan_dir(cldir, 1048576, 0, true, count_records, &c, &rep), 0);
    cr_assert_eq(c.bad, 0);
    cr_assert_gt(c.total, 1000, "only %lld records before the kill", (long long)c.total);
    for (int q = 0; q < 4; q++) {
        cr_assert_eq(rk_store_max_offset(s, "T", q), c.per_queue[q], "queue %d", q);
        int64_t n = c.per_queue[q];
        rk_cq_unit_t *u = malloc((size_t)n * sizeof *u);
        cr_assert_eq(rk_store_read_units(s, "T", q, 0, u, (int)n), n);
        for (int64_t i = 0; i < n; i += 97) {
            rk_store_view_t v;
            cr_assert_eq(rk_store_view(s, u[i].phys, &v), 0);
            rk_record_t r;
            cr_assert_eq(rk_record_decode(v.data, (size_t)v.size, true, &r), 0);
            cr_assert_eq(r.queue_id, q);
            cr_assert_eq(r.queue_offset, i);
            rk_store_view_release(&v);
        }
        free(u);
    }
    /* every 101st key of the prefix is found by the index */
    for (int64_t i = 0; i < c.total; i += 101) {
        char k[32];
        snprintf(k, sizeof k, "k%lld", (long long)i);
        int64_t phys[2];
        cr_assert_eq(rk_store_query_by_key(s, "T", k, 0, INT64_MAX, phys, 2), 1, "%s", k);
    }
    /* and puts continue each queue's numbering */
    rk_store_close(s);
    rk_kv_free(&kv);
    char *out = NULL;
    char *pargv[] = {(char *)rk_tk_bin("rkstore"), "put", dir, "--topic", "T", "--count", "4",
                     "--queues", "4", "--verbose", NULL};
    cr_assert_eq(rk_tk_run(pargv, &out, 20000), 0, "%s", out);
    char want[64];
    snprintf(want, sizeof want, "queue=0 queueOffset=%lld ", (long long)c.per_queue[0]);
    cr_assert_not_null(strstr(out, want), "%s", out);
    free(out);
}
