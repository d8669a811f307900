/* test_damage.c — a damaged commitlog record, seen from chapter 5: the reput
 * skips it (every other message reaches its consume queue), and the get path
 * never hands out a record that fails the cheap checks (magic, size, its
 * own offset), even in an old file that recovery did not scan: it skips the
 * unit, logs one ERROR, and the consumer moves on. */
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
#include "rk/log.h"
#include "rk/message_store.h"
#include "rk/testkit.h"

#define CL_FILE (128 * 1024)
#define N 2000
#define QUEUES 4
#define BODY 200

static char dir[256], logpath[300];
static int64_t phys[N + 1];

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "damage"), 0);
    snprintf(logpath, sizeof logpath, "%s/test.log", dir);
    FILE *f = fopen(logpath, "a");      /* the ERROR lines are expected: keep them in the temp dir */
    cr_assert_not_null(f);
    setvbuf(f, NULL, _IONBF, 0);
    rk_log_init(RK_LOG_INFO, f);
}
static void teardown(void) { rk_tk_rmtree(dir); }
TestSuite(damage, .init = setup, .fini = teardown, .timeout = 60);

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
    char err[256];
    int rc = rk_store_open(dir, &kv, &st, err, sizeof err);
    cr_assert_eq(rc, 0, "open: %s", err);
    cr_assert_eq(rk_store_start(st), 0);
    rk_kv_free(&kv);
    return st;
}

/* N messages over QUEUES queues (message i -> queue i % QUEUES, offset i / QUEUES). */
static void fill(void)
{
    rk_store_t *st = open_store();
    static uint8_t body[BODY];
    for (int i = 0; i < N; i++) {
        memset(body, 'a' + i % 26, sizeof body);
        rk_msg_t m = {.topic = "T", .topic_len = 1, .queue_id = i % QUEUES, .born_ts = rk_now_ms(),
                      .body = body, .body_len = BODY};
        rk_host_parse("127.0.0.1:5555", &m.born_host);
        rk_host_parse("127.0.0.1:10911", &m.store_host);
        rk_put_result_t r;
        cr_assert_eq(rk_store_put(st, &m, &r), 0);
        cr_assert_eq(r.status, RK_PUT_OK);
        cr_assert_eq(r.queue_offset, i / QUEUES);
        phys[i] = r.phys_offset;
    }
    phys[N] = rk_store_commitlog_max(st);
    cr_assert_eq(rk_store_wait_dispatched(st, 10000), 0);
    rk_store_close(st);
}

static void write_at(int64_t off, const void *p, size_t n)
{
    char path[400];
    snprintf(path, sizeof path, "%s/commitlog/%020lld", dir, (long long)(off - off % CL_FILE));
    int fd = open(path, O_RDWR);
    cr_assert(fd >= 0);
    cr_assert_eq(pwrite(fd, p, n, off % CL_FILE), (ssize_t)n);
    close(fd);
}

/* Reads queue q from 0 as a consumer does (next offset each time); marks
 * every message seen in got[] by its index; returns how many pulls. */
static int consume_queue(rk_store_t *st, int q, bool *got)
{
    int64_t off = 0;
    int pulls = 0;
    while (off < rk_store_max_offset(st, "T", q)) {
        cr_assert_lt(++pulls, 1000, "queue %d: the consumer does not move (stuck at %lld)", q, (long long)off);
        rk_get_result_t g;
        cr_assert_eq(rk_store_get_message(st, "g", "T", q, off, 16, 0, NULL, 0, &g), 0);
        for (int i = 0; i < g.count; i++) {
            rk_record_t r;
            cr_assert_eq(rk_record_decode(g.msgs[i].data, (size_t)g.msgs[i].size, true, &r), 0,
                         "queue %d offset %lld: a record that does not decode was handed out", q,
                         (long long)g.msgs[i].queue_offset);
            cr_assert_eq(r.queue_id, q);
            cr_assert_eq(r.queue_offset, g.msgs[i].queue_offset);
            int idx = (int)(r.queue_offset * QUEUES + q);
            cr_assert_eq(r.phys_offset, phys[idx]);
            got[idx] = true;
        }
        cr_assert_gt(g.next_begin_offset, off, "queue %d: next offset does not advance past %lld (%s)", q,
                     (long long)off, rk_get_status_name(g.status));
        off = g.next_begin_offset;
        rk_get_result_release(&g);
    }
    return pulls;
}

static void assert_all_but(rk_store_t *st, int bad)
{
    static bool got[N];
    memset(got, 0, sizeof got);
    for (int q = 0; q < QUEUES; q++)
        consume_queue(st, q, got);
    for (int i = 0; i < N; i++)
        cr_assert_eq(got[i], i != bad, "message %d %s", i, i == bad ? "was served" : "is missing");
}

static int count_in_log(const char *needle)
{
    FILE *f = fopen(logpath, "r");
    cr_assert_not_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL)
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

Test(damage, reput_skips_a_damaged_record_and_queues_get_every_other_message)
{
    fill();
    int k = N * 3 / 4;      /* in the newest files, with files after it */
    cr_assert_lt(phys[k] / CL_FILE, phys[N] / CL_FILE);
    uint8_t z[84] = {0};    /* a zeroed header */
    write_at(phys[k], z, sizeof z);
    /* consume queues are rebuilt from the log: the reput must pass the damage */
    char cq[300];
    snprintf(cq, sizeof cq, "%s/consumequeue", dir);
    rk_tk_rmtree(cq);
    rk_store_t *st = open_store();
    cr_assert_eq(rk_store_wait_dispatched(st, 10000), 0, "dispatch stopped at %lld of %lld",
                 (long long)rk_store_dispatched(st), (long long)rk_store_commitlog_max(st));
    for (int q = 0; q < QUEUES; q++)
        cr_assert_eq(rk_store_max_offset(st, "T", q), N / QUEUES, "queue %d", q);
    assert_all_but(st, k);
    rk_commitlog_damage_t d;
    rk_commitlog_damage_stats(rk_store_commitlog(st), &d);
    cr_assert_eq(d.ranges, 1);
    cr_assert_eq(d.list[0].from, phys[k]);
    cr_assert_eq(d.list[0].to, phys[k + 1]);
    rk_store_close(st);
}

Test(damage, a_record_damaged_after_dispatch_is_not_served)
{
    fill();
    int k = N * 3 / 4 + 1;
    uint8_t b[4] = {0x11, 0x22, 0x33, 0x44};
    write_at(phys[k] + 120, b, 4);      /* body: CRC mismatch, found by recovery */
    rk_store_t *st = open_store();
    assert_all_but(st, k);
    rk_store_close(st);
}

Test(damage, get_skips_a_bad_record_in_an_old_file_and_logs_it_once)
{
    fill();
    int k = 10;             /* file 0: recovery after a clean shutdown does not scan it */
    cr_assert_lt(phys[k] / CL_FILE, phys[N] / CL_FILE - 3);
    uint8_t b[4] = {0, 0, 0, 0};
    write_at(phys[k] + 4, b, 4);        /* the magic */
    rk_store_t *st = open_store();
    assert_all_but(st, k);
    assert_all_but(st, k);              /* a second consumer group */
    rk_store_close(st);
    char needle[64];
    snprintf(needle, sizeof needle, "[%lld, ", (long long)phys[k]);
    cr_assert_eq(count_in_log(needle), 1, "one ERROR line for the record (see %s)", logpath);
}

Test(damage, get_skips_a_unit_whose_record_has_the_wrong_size)
{
    fill();
    int k = 21;
    uint8_t b[4] = {0, 0, 0x01, 0x00};  /* TOTALSIZE 256: not the unit's size */
    write_at(phys[k], b, 4);
    rk_store_t *st = open_store();
    assert_all_but(st, k);
    rk_store_close(st);
}

Test(damage, a_garbage_consume_queue_unit_does_not_hide_the_records_it_points_into)
{
    fill();
    /* unit 5 of queue 0 (message 20) now points 100 bytes into its record:
     * that unit is skipped, and the records it overlaps (message 21 in
     * queue 1) are still served */
    char p[400];
    snprintf(p, sizeof p, "%s/consumequeue/T/0/%020d", dir, 0);
    int fd = open(p, O_RDWR);
    cr_assert(fd >= 0);
    uint8_t be[8];
    int64_t wrong = phys[20] + 100;
    for (int i = 0; i < 8; i++)
        be[i] = (uint8_t)((uint64_t)wrong >> (56 - 8 * i));
    cr_assert_eq(pwrite(fd, be, 8, 5 * RK_CQ_UNIT_SIZE), 8);
    close(fd);
    rk_store_t *st = open_store();
    assert_all_but(st, 20);
    assert_all_but(st, 20);
    rk_commitlog_damage_t d;
    rk_commitlog_damage_stats(rk_store_commitlog(st), &d);
    cr_assert_eq(d.ranges, 1, "counted once");
    rk_store_close(st);
}
