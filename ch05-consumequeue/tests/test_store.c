/* test_store.c — the message store end to end: dispatch across file rolls,
 * tag filtering, offsets and statuses, lookup by time, groups, recovery,
 * rebuild of a deleted queue, cleanup, index lookups. Tiny files so every
 * roll happens within a few hundred messages. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/consumequeue.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/hash.h"
#include "rk/message_store.h"
#include "rk/testkit.h"

#define CL_FILE 65536          /* commitlog file: ~60 messages of 1 KiB */
#define CQ_UNITS 50

static char dir[256];
static void setup(void) { cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "store"), 0); }
static void teardown(void) { rk_tk_rmtree(dir); }
TestSuite(store, .init = setup, .fini = teardown, .timeout = 60);

static rk_store_t *open_store_kv(const char *extra_key, const char *extra_val)
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
    if (extra_key)
        rk_kv_set(&kv, extra_key, extra_val);
    rk_store_t *st = NULL;
    char err[256];
    int rc = rk_store_open(dir, &kv, &st, err, sizeof err);
    cr_assert_eq(rc, 0, "open: %s", err);
    cr_assert_eq(rk_store_start(st), 0);
    rk_kv_free(&kv);
    return st;
}
static rk_store_t *open_store(void) { return open_store_kv(NULL, NULL); }

/* Appends one message: body of `len` bytes, tag and keys optional. */
static rk_put_result_t put(rk_store_t *st, const char *topic, int qid, const char *tag,
                                 const char *keys, const char *uniq, size_t len)
{
    static uint8_t body[4096];
    memset(body, 'x', sizeof body);
    rk_buf_t props = {0};
    if (tag)
        rk_props_put(&props, RK_PROP_TAGS, tag);
    if (keys)
        rk_props_put(&props, RK_PROP_KEYS, keys);
    if (uniq)
        rk_props_put(&props, RK_PROP_UNIQ_KEY, uniq);
    rk_msg_t m = {0};
    m.topic = topic;
    m.topic_len = strlen(topic);
    m.queue_id = qid;
    m.born_ts = rk_now_ms();
    rk_host_parse("127.0.0.1:5555", &m.born_host);
    rk_host_parse("127.0.0.1:10911", &m.store_host);
    m.body = body;
    m.body_len = len;
    m.props = (const char *)props.data;
    m.props_len = props.len;
    rk_put_result_t r;
    int rc = rk_store_put(st, &m, &r);
    cr_assert_eq(rc, 0, "put: %s", rk_strerror(rc));
    cr_assert_eq(r.status, RK_PUT_OK, "put: %s", rk_put_status_name(r.status));
    rk_buf_free(&props);
    return r;
}

static const char *TAGS[3] = {"a", "b", "c"};

/* 4 queues, tags a/b/c in turn, keys "k<i>", uniq "U<i>". */
static void put_many(rk_store_t *st, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        char keys[32], uniq[32];
        snprintf(keys, sizeof keys, "k%d common", i);
        snprintf(uniq, sizeof uniq, "U%06d", i);
        rk_put_result_t r = put(st, "T", i % 4, TAGS[i % 3], keys, uniq, 900 + (size_t)(i % 7) * 10);
        cr_assert_eq(r.queue_offset, i / 4, "message %d got queue offset %lld", i, (long long)r.queue_offset);
    }
    cr_assert_eq(rk_store_wait_dispatched(st, 10000), 0);
}

/* Decodes a returned record. */
static rk_record_t rec_of(const uint8_t *p, int32_t size)
{
    rk_record_t r;
    cr_assert_eq(rk_record_decode(p, (size_t)size, true, &r), 0);
    return r;
}

Test(store, dispatch_is_complete_and_in_order_across_file_rolls)
{
    rk_store_t *st = open_store();
    put_many(st, 0, 400);                       /* ~6 commitlog files, 2 CQ files per queue */
    cr_assert_gt(rk_store_commitlog_max(st), 5 * CL_FILE);
    for (int q = 0; q < 4; q++) {
        cr_assert_eq(rk_store_min_offset(st, "T", q), 0);
        cr_assert_eq(rk_store_max_offset(st, "T", q), 100);
        rk_cq_unit_t u[100];
        cr_assert_eq(rk_store_read_units(st, "T", q, 0, u, 100), 100);
        for (int i = 0; i < 100; i++) {
            rk_store_view_t v;
            cr_assert_eq(rk_store_view(st, u[i].phys, &v), 0);
            rk_record_t r = rec_of(v.data, v.size);
            cr_assert_eq(r.queue_id, q);
            cr_assert_eq(r.queue_offset, i);
            cr_assert_eq((int32_t)r.total_size, u[i].size);
            int msg = i * 4 + q;
            cr_assert_eq(u[i].tag_code, rk_java_hash(TAGS[msg % 3], 1));
            if (i > 0)
                cr_assert_gt(u[i].phys, u[i - 1].phys);
            rk_store_view_release(&v);
        }
    }
    char p[400];
    snprintf(p, sizeof p, "%s/consumequeue/T/3/%020d", dir, CQ_UNITS * RK_CQ_UNIT_SIZE);
    cr_assert(rk_path_exists(p), "second CQ file %s", p);
    rk_store_close(st);
}

Test(store, get_filters_by_tag_and_reports_offsets_like_rocketmq)
{
    rk_store_t *st = open_store();
    put_many(st, 0, 120);                        /* 30 per queue */
    rk_get_result_t g;
    /* all tags */
    cr_assert_eq(rk_store_get_message(st, "g", "T", 1, 0, 8, 0, NULL, 0, &g), 0);
    cr_assert_eq(g.status, RK_GET_FOUND);
    cr_assert_eq(g.count, 8);
    cr_assert_eq(g.next_begin_offset, 8);
    cr_assert_eq(g.min_offset, 0);
    cr_assert_eq(g.max_offset, 30);
    for (int i = 0; i < g.count; i++) {
        rk_record_t r = rec_of(g.msgs[i].data, g.msgs[i].size);
        cr_assert_eq(r.queue_offset, i);
        cr_assert_eq(g.msgs[i].queue_offset, i);
    }
    rk_get_result_release(&g);
    /* tag "b" only: queue 1 holds messages 1,5,9,... tags (1,5,9)%3 = b,c,a,... */
    int32_t b = rk_java_hash("b", 1);
    cr_assert_eq(rk_store_get_message(st, "g", "T", 1, 0, 100, 0, &b, 1, &g), 0);
    cr_assert_eq(g.status, RK_GET_FOUND);
    cr_assert_eq(g.count, 10);
    cr_assert_eq(g.next_begin_offset, 30);       /* whole queue scanned */
    for (int i = 0; i < g.count; i++) {
        rk_record_t r = rec_of(g.msgs[i].data, g.msgs[i].size);
        char tag[8];
        cr_assert_eq(rk_props_get_str(r.props, r.props_len, "TAGS", tag, sizeof tag), 0);
        cr_assert_str_eq(tag, "b");
    }
    rk_get_result_release(&g);
    /* a tag nobody has */
    int32_t z = rk_java_hash("zz", 2);
    cr_assert_eq(rk_store_get_message(st, "g", "T", 1, 0, 100, 0, &z, 1, &g), 0);
    cr_assert_eq(g.status, RK_GET_NO_MATCHED_MESSAGE);
    cr_assert_eq(g.count, 0);
    cr_assert_eq(g.next_begin_offset, 30);
    rk_get_result_release(&g);
    /* byte limit: the first always fits, then stop before going over */
    cr_assert_eq(rk_store_get_message(st, "g", "T", 0, 0, 100, 2500, NULL, 0, &g), 0);
    cr_assert_eq(g.count, 2);
    cr_assert_leq(g.total_bytes, 2500);
    rk_get_result_release(&g);
    /* statuses */
    cr_assert_eq(rk_store_get_message(st, "g", "T", 0, 30, 8, 0, NULL, 0, &g), 0);
    cr_assert_eq(g.status, RK_GET_OFFSET_OVERFLOW_ONE);
    cr_assert_eq(g.next_begin_offset, 30);
    cr_assert_eq(rk_store_get_message(st, "g", "T", 0, 99, 8, 0, NULL, 0, &g), 0);
    cr_assert_eq(g.status, RK_GET_OFFSET_OVERFLOW_BADLY);
    cr_assert_eq(g.next_begin_offset, 0);
    cr_assert_eq(rk_store_get_message(st, "g", "NOPE", 0, 5, 8, 0, NULL, 0, &g), 0);
    cr_assert_eq(g.status, RK_GET_NO_MATCHED_LOGIC_QUEUE);
    cr_assert_eq(g.next_begin_offset, 0);
    /* a read crossing a CQ file boundary stops at the file end (RocketMQ) */
    cr_assert_eq(rk_store_get_message(st, "g", "T", 2, 25, 32, 1 << 20, NULL, 0, &g), 0);
    cr_assert_eq(g.count, 5);
    cr_assert_eq(g.next_begin_offset, 30);
    rk_get_result_release(&g);
    rk_store_close(st);
}

Test(store, lookup_by_time_and_store_times)
{
    rk_store_t *st = open_store();
    int64_t t[12];
    for (int i = 0; i < 12; i++) {
        rk_put_result_t r = put(st, "TT", 0, NULL, NULL, NULL, 100);
        t[i] = r.store_ts;
        rk_sleep_ms(3);
    }
    cr_assert_eq(rk_store_wait_dispatched(st, 5000), 0);
    for (int i = 0; i < 12; i++) {
        cr_assert_eq(rk_store_message_store_time(st, "TT", 0, i), t[i]);
        int64_t o = rk_store_offset_by_time(st, "TT", 0, t[i]);
        cr_assert_eq(rk_store_message_store_time(st, "TT", 0, o), t[i], "offset %d -> %lld", i, (long long)o);
    }
    cr_assert_eq(rk_store_offset_by_time(st, "TT", 0, t[0] - 100000), 0);
    cr_assert_eq(rk_store_offset_by_time(st, "TT", 0, t[11] + 100000), 11);
    cr_assert_eq(rk_store_earliest_time(st), t[0]);
    rk_store_close(st);
}

/* rk_store_queue_stats: each queue's min/max offsets and the store time of its last message,
 * as the single-figure calls answer them: right after dispatch (the time remembered), after a
 * reopen (read from the log, then remembered), and for queues the store does not have. */
Test(store, queue_stats_give_each_queues_offsets_and_last_store_time)
{
    rk_store_t *st = open_store();
    int64_t last0 = 0, last2 = 0, max0 = 5;
    for (int i = 0; i < 8; i++) {
        rk_put_result_t r = put(st, "QS", i < 5 ? 0 : 2, NULL, NULL, NULL, 100);
        if (i < 5)
            last0 = r.store_ts;
        else
            last2 = r.store_ts;
        rk_sleep_ms(2);
    }
    cr_assert_eq(rk_store_wait_dispatched(st, 5000), 0);
    for (int round = 0; round < 3; round++) {
        rk_queue_stats_t q[4];
        memset(q, 0x55, sizeof q);
        cr_assert_eq(rk_store_queue_stats(st, "QS", 4, q), RK_OK);
        cr_assert_eq(q[0].min_offset, 0);
        cr_assert_eq(q[0].max_offset, max0);
        cr_assert_eq(q[0].last_store_ts, last0, "round %d: %lld, stored %lld", round, (long long)q[0].last_store_ts,
                     (long long)last0);
        cr_assert_eq(q[1].max_offset, 0);
        cr_assert_eq(q[1].last_store_ts, -1);
        cr_assert_eq(q[2].max_offset, 3);
        cr_assert_eq(q[2].last_store_ts, last2);
        cr_assert_eq(q[3].min_offset, 0);
        cr_assert_eq(q[3].max_offset, 0);
        cr_assert_eq(q[3].last_store_ts, -1);
        for (int i = 0; i < 4; i++) {
            cr_assert_eq(q[i].min_offset, rk_store_min_offset(st, "QS", i));
            cr_assert_eq(q[i].max_offset, rk_store_max_offset(st, "QS", i));
            cr_assert_eq(q[i].last_store_ts, q[i].max_offset > 0
                                                 ? rk_store_message_store_time(st, "QS", i, q[i].max_offset - 1)
                                                 : -1);
        }
        if (round == 0) {               /* a reopened store knows the times from the log only */
            rk_store_close(st);
            st = open_store();
        } else if (round == 1) {        /* a new message: its time, not the one read before */
            rk_sleep_ms(2);
            last0 = put(st, "QS", 0, NULL, NULL, NULL, 100).store_ts;
            cr_assert_eq(rk_store_wait_dispatched(st, 5000), 0);
            cr_assert_eq(rk_store_message_store_time(st, "QS", 0, 5), last0);
            cr_assert_eq(rk_store_max_offset(st, "QS", 0), 6);
            rk_sleep_ms(2);
            last0 = put(st, "QS", 0, NULL, NULL, NULL, 100).store_ts;     /* and one more */
            cr_assert_eq(rk_store_wait_dispatched(st, 5000), 0);
            max0 = 7;
        }
    }
    rk_queue_stats_t none[2];
    cr_assert_eq(rk_store_queue_stats(st, "NOPE", 2, none), RK_OK);
    cr_assert_eq(none[1].max_offset, 0);
    cr_assert_eq(none[1].last_store_ts, -1);
    char longname[400];
    memset(longname, 'L', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    cr_assert_eq(rk_store_queue_stats(st, longname, 2, none), RK_EINVAL);
    rk_store_close(st);
}

Test(store, two_groups_keep_independent_offsets_across_restart)
{
    rk_store_t *st = open_store();
    put_many(st, 0, 40);
    rk_get_result_t g;
    cr_assert_eq(rk_store_get_message(st, "g1", "T", 0, 0, 4, 0, NULL, 0, &g), 0);
    cr_assert_eq(rk_store_commit_offset(st, "g1", "T", 0, g.next_begin_offset), 0);
    rk_get_result_release(&g);
    cr_assert_eq(rk_store_get_message(st, "g2", "T", 0, 0, 7, 0, NULL, 0, &g), 0);
    cr_assert_eq(rk_store_commit_offset(st, "g2", "T", 0, g.next_begin_offset), 0);
    rk_get_result_release(&g);
    rk_store_close(st);

    st = open_store();
    cr_assert_eq(rk_store_query_offset(st, "g1", "T", 0), 4);
    cr_assert_eq(rk_store_query_offset(st, "g2", "T", 0), 7);
    cr_assert_eq(rk_store_query_offset(st, "g3", "T", 0), -1);
    /* each continues where it stopped, over the same messages */
    cr_assert_eq(rk_store_get_message(st, "g1", "T", 0, 4, 2, 0, NULL, 0, &g), 0);
    cr_assert_eq(g.msgs[0].queue_offset, 4);
    rk_get_result_release(&g);
    rk_store_close(st);
    char *text = NULL;
    char p[400];
    snprintf(p, sizeof p, "%s/config/consumerOffset.json", dir);
    cr_assert_eq(rk_file_read_all(p, &text, NULL), 0);
    cr_assert_not_null(strstr(text, "\"T@g1\":{\n\t\t\t0:4\n\t\t}"), "%s", text);
    free(text);
}

static void assert_units_eq(const rk_cq_unit_t *a, const rk_cq_unit_t *b, int n)
{
    for (int i = 0; i < n; i++) {
        cr_assert_eq(a[i].phys, b[i].phys, "unit %d", i);
        cr_assert_eq(a[i].size, b[i].size, "unit %d", i);
        cr_assert_eq(a[i].tag_code, b[i].tag_code, "unit %d", i);
    }
}

/* Reads a whole consume queue's units. */
static int snapshot(rk_store_t *st, const char *topic, int qid, rk_cq_unit_t *out, int max)
{
    int64_t min = rk_store_min_offset(st, topic, qid);
    return rk_store_read_units(st, topic, qid, min, out, max);
}

Test(store, deleted_consume_queue_folder_is_rebuilt_entirely)
{
    rk_store_t *st = open_store();
    put_many(st, 0, 200);
    rk_cq_unit_t before[60], after[60];
    int n = snapshot(st, "T", 1, before, 60);
    cr_assert_eq(n, 50);
    rk_store_close(st);
    char p[400];
    snprintf(p, sizeof p, "%s/consumequeue/T/1", dir);
    cr_assert_eq(rk_tk_rmtree(p), 0);
    st = open_store();
    cr_assert_eq(rk_store_max_offset(st, "T", 1), 50);
    cr_assert_eq(snapshot(st, "T", 1, after, 60), 50);
    assert_units_eq(before, after, 50);
    /* and the queue offset numbering continues */
    rk_put_result_t r = put(st, "T", 1, "a", NULL, NULL, 10);
    cr_assert_eq(r.queue_offset, 50);
    rk_store_close(st);
}

Test(store, abnormal_stop_rebuilds_exactly_the_missing_units)
{
    /* a child appends and dies without closing (abort marker left behind) */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        rk_store_t *st = open_store();
        put_many(st, 0, 300);
        _exit(0);     /* no flush: the checkpoint never covered the index */
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the units written before the crash, read straight from the files */
    rk_cq_t *cq;
    char root[400];
    snprintf(root, sizeof root, "%s/consumequeue", dir);
    cr_assert_eq(rk_cq_open(root, "T", 2, CQ_UNITS * RK_CQ_UNIT_SIZE, &cq), 0);
    rk_cq_recover(cq);
    cr_assert_eq(rk_cq_max_offset(cq), 75);
    rk_cq_unit_t before[75];
    for (int i = 0; i < 75; i++)
        cr_assert_eq(rk_cq_get_unit(cq, i, &before[i]), 0);
    /* the crash lost the last 12 units of queue 2 (pages never written back) */
    cr_assert_eq(rk_cq_truncate_phys(cq, before[63].phys), 12);
    rk_cq_close(cq);

    rk_store_t *st = open_store();
    cr_assert_eq(rk_store_max_offset(st, "T", 2), 75);
    rk_cq_unit_t after[75];
    cr_assert_eq(snapshot(st, "T", 2, after, 75), 75);
    assert_units_eq(before, after, 75);
    /* nothing duplicated anywhere: every queue still has 75 */
    for (int q = 0; q < 4; q++)
        cr_assert_eq(rk_store_max_offset(st, "T", q), 75);
    /* the index files were dropped (checkpoint older than them) and rebuilt:
     * every key is found */
    for (int i = 0; i < 300; i += 7) {
        char k[32];
        snprintf(k, sizeof k, "k%d", i);
        int64_t phys[4];
        cr_assert_eq(rk_store_query_by_key(st, "T", k, 0, INT64_MAX, phys, 4), 1, "%s", k);
    }
    rk_store_close(st);
}

/* A dispatcher that blocks the reput thread on one record until released. */
typedef struct gate {
    _Atomic int open;
    int64_t block_at_queue_offset;
} gate_t;

static int gate_fn(void *ctx, const rk_dispatch_request_t *req)
{
    gate_t *g = ctx;
    while (req->queue_offset >= g->block_at_queue_offset && !atomic_load(&g->open))
        rk_sleep_ms(1);
    return 0;
}

Test(store, get_never_returns_a_record_past_the_dispatched_end)
{
    rk_kv_t kv;
    rk_kv_init(&kv);
    rk_kv_set(&kv, "mappedFileSizeCommitLog", "65536");
    rk_store_t *st;
    char err[256];
    cr_assert_eq(rk_store_open(dir, &kv, &st, err, sizeof err), 0, "%s", err);
    gate_t gate = {0, 20};
    cr_assert_eq(rk_store_register_dispatcher(st, "gate", gate_fn, &gate), 0);
    cr_assert_eq(rk_store_start(st), 0);
    for (int i = 0; i < 50; i++)
        put(st, "G", 0, NULL, NULL, NULL, 200);
    rk_sleep_ms(50);
    /* the log has 50, dispatch is held at queue offset 20 */
    rk_get_result_t g;
    cr_assert_eq(rk_store_get_message(st, "g", "G", 0, 0, 100, 1 << 20, NULL, 0, &g), 0);
    cr_assert_leq(g.count, 21);
    cr_assert_leq(g.max_offset, 21);
    for (int i = 0; i < g.count; i++)
        cr_assert_leq(g.msgs[i].phys + g.msgs[i].size, rk_store_dispatched(st) + g.msgs[i].size);
    rk_get_result_release(&g);
    cr_assert_lt(rk_store_dispatched(st), rk_store_commitlog_max(st));
    atomic_store(&gate.open, 1);
    cr_assert_eq(rk_store_wait_dispatched(st, 5000), 0);
    cr_assert_eq(rk_store_get_message(st, "g", "G", 0, 0, 100, 1 << 20, NULL, 0, &g), 0);
    cr_assert_eq(g.count, 50);
    rk_get_result_release(&g);
    rk_store_close(st);
    rk_kv_free(&kv);
}

Test(store, index_finds_every_key_uniq_key_and_offset_msg_id)
{
    rk_store_t *st = open_store();
    rk_put_result_t res[150];
    for (int i = 0; i < 150; i++) {
        char keys[32], uniq[32];
        snprintf(keys, sizeof keys, "k%d common", i);
        snprintf(uniq, sizeof uniq, "U%06d", i);
        res[i] = put(st, "T", i % 4, "a", keys, uniq, 300);
    }
    put(st, "OTHER", 0, "a", "k1", NULL, 10);
    cr_assert_eq(rk_store_wait_dispatched(st, 5000), 0);
    int64_t phys[200];
    for (int i = 0; i < 150; i++) {
        char k[32];
        snprintf(k, sizeof k, "k%d", i);
        cr_assert_eq(rk_store_query_by_key(st, "T", k, 0, INT64_MAX, phys, 10), 1, "%s", k);
        cr_assert_eq(phys[0], res[i].phys_offset);
        snprintf(k, sizeof k, "U%06d", i);
        cr_assert_eq(rk_store_query_by_key(st, "T", k, 0, INT64_MAX, phys, 10), 1, "%s", k);
        cr_assert_eq(phys[0], res[i].phys_offset);
        rk_store_view_t v;
        cr_assert_eq(rk_store_view_by_msgid(st, res[i].msg_id, &v), 0);
        cr_assert_eq(v.phys, res[i].phys_offset);
        rk_store_view_release(&v);
    }
    cr_assert_eq(rk_store_query_by_key(st, "T", "common", 0, INT64_MAX, phys, 200), 150);
    cr_assert_eq(rk_store_query_by_key(st, "T", "common", 0, INT64_MAX, phys, 20), 20);
    cr_assert_eq(phys[0], res[149].phys_offset);                     /* newest first */
    cr_assert_eq(rk_store_query_by_key(st, "T", "nokey", 0, INT64_MAX, phys, 20), 0);
    cr_assert_eq(rk_store_query_by_key(st, "OTHER", "k1", 0, INT64_MAX, phys, 20), 1);
    /* a time range that ends before everything */
    cr_assert_eq(rk_store_query_by_key(st, "T", "k3", 0, res[0].store_ts - 5000, phys, 20), 0);
    char p[400];
    snprintf(p, sizeof p, "%s/index", dir);
    cr_assert(rk_path_exists(p));
    rk_store_close(st);
}

Test(store, cleanup_deletes_old_files_and_moves_min_offsets)
{
    rk_store_t *st = open_store();
    put_many(st, 0, 400);
    int64_t min0 = rk_store_commitlog_min(st);
    cr_assert_eq(min0, 0);
    /* fileReservedTime passed for nobody yet: forced deletion removes the oldest files */
    int del = 0;
    for (int i = 0; i < 4; i++)
        del += rk_store_clean_expired(st, true);
    cr_assert_eq(del, 4);
    int64_t min1 = rk_store_commitlog_min(st);
    cr_assert_eq(min1, 4 * CL_FILE);
    for (int q = 0; q < 4; q++) {
        int64_t qmin = rk_store_min_offset(st, "T", q);
        cr_assert_gt(qmin, 0);
        rk_cq_unit_t u;
        cr_assert_eq(rk_store_read_units(st, "T", q, qmin, &u, 1), 1);
        cr_assert_geq(u.phys, min1);
        rk_get_result_t g;
        cr_assert_eq(rk_store_get_message(st, "g", "T", q, 0, 8, 0, NULL, 0, &g), 0);
        cr_assert_eq(g.status, RK_GET_OFFSET_TOO_SMALL);
        cr_assert_eq(g.next_begin_offset, qmin);
        cr_assert_eq(rk_store_get_message(st, "g", "T", q, qmin, 8, 0, NULL, 0, &g), 0);
        cr_assert_eq(g.status, RK_GET_FOUND);
        rk_get_result_release(&g);
    }
    char p[400];
    snprintf(p, sizeof p, "%s/consumequeue/T/0/%020d", dir, 0);
    cr_assert_not(rk_path_exists(p), "first CQ file of queue 0 should be gone");
    rk_store_close(st);
    /* and a restart agrees */
    st = open_store();
    cr_assert_eq(rk_store_commitlog_min(st), min1);
    cr_assert_gt(rk_store_min_offset(st, "T", 0), 0);
    rk_store_close(st);
}

/* Readers race the writer, the reput thread and cleanup: every record a get
 * returns must decode (CRC checked) and be the one its unit promised, even
 * while the files under it are being deleted. */
typedef struct race {
    rk_store_t *st;
    _Atomic int done;
    _Atomic long checked;
} race_t;

static void *reader(void *arg)
{
    race_t *r = arg;
    int64_t off[4] = {0, 0, 0, 0};
    while (!atomic_load(&r->done)) {
        for (int q = 0; q < 4; q++) {
            rk_get_result_t g;
            cr_assert_eq(rk_store_get_message(r->st, "race", "T", q, off[q], 16, 0, NULL, 0, &g), 0);
            for (int i = 0; i < g.count; i++) {
                rk_record_t rec;
                cr_assert_eq(rk_record_decode(g.msgs[i].data, (size_t)g.msgs[i].size, true, &rec), 0);
                cr_assert_eq(rec.queue_id, q);
                cr_assert_eq(rec.queue_offset, g.msgs[i].queue_offset);
                cr_assert_eq(rec.phys_offset, g.msgs[i].phys);
                atomic_fetch_add(&r->checked, 1);
            }
            rk_sleep_ms(g.count ? 0 : 1);     /* hold the slices a moment */
            off[q] = g.next_begin_offset;
            rk_get_result_release(&g);
        }
    }
    return NULL;
}

Test(store, concurrent_gets_during_appends_and_cleanup)
{
    rk_store_t *st = open_store();
    race_t r = {.st = st};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, reader, &r), 0);
    for (int round = 0; round < 8; round++) {
        put_many(st, round * 100, 100);
        rk_store_clean_expired(st, true);
    }
    /* let the readers finish what is left */
    for (int i = 0; i < 500 && atomic_load(&r.checked) < 200; i++)
        rk_sleep_ms(10);
    atomic_store(&r.done, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_assert_gt(atomic_load(&r.checked), 100);
    cr_assert_gt(rk_store_commitlog_min(st), 0);
    rk_store_close(st);
}

static rk_put_result_t put_txn(rk_store_t *st, int32_t sysflag, const char *key)
{
    rk_buf_t props = {0};
    rk_props_put(&props, RK_PROP_KEYS, key);
    rk_msg_t m = {0};
    m.topic = "TX";
    m.topic_len = 2;
    m.sys_flag = sysflag;
    m.born_ts = rk_now_ms();
    rk_host_parse("127.0.0.1:5555", &m.born_host);
    rk_host_parse("127.0.0.1:10911", &m.store_host);
    m.body = (const uint8_t *)"x";
    m.body_len = 1;
    m.props = (const char *)props.data;
    m.props_len = props.len;
    rk_put_result_t r;
    cr_assert_eq(rk_store_put(st, &m, &r), 0);
    cr_assert_eq(r.status, RK_PUT_OK);
    rk_buf_free(&props);
    return r;
}

Test(store, only_committed_records_reach_consume_queues_and_rollbacks_are_not_indexed)
{
    rk_store_t *st = open_store();
    rk_put_result_t a = put_txn(st, RK_SYSFLAG_TXN_NOT, "plain");
    rk_put_result_t p = put_txn(st, RK_SYSFLAG_TXN_PREPARED, "half");
    rk_put_result_t rb = put_txn(st, RK_SYSFLAG_TXN_ROLLBACK, "rolled");
    rk_put_result_t c = put_txn(st, RK_SYSFLAG_TXN_COMMIT, "committed");
    cr_assert_eq(a.queue_offset, 0);
    cr_assert_eq(p.queue_offset, 0);          /* prepared/rollback: 0, no CQ entry */
    cr_assert_eq(rb.queue_offset, 0);
    cr_assert_eq(c.queue_offset, 1);
    cr_assert_eq(rk_store_wait_dispatched(st, 5000), 0);
    cr_assert_eq(rk_store_max_offset(st, "TX", 0), 2);
    rk_cq_unit_t u[4];
    cr_assert_eq(rk_store_read_units(st, "TX", 0, 0, u, 4), 2);
    cr_assert_eq(u[0].phys, a.phys_offset);
    cr_assert_eq(u[1].phys, c.phys_offset);
    int64_t phys[4];
    cr_assert_eq(rk_store_query_by_key(st, "TX", "half", 0, INT64_MAX, phys, 4), 1);
    cr_assert_eq(rk_store_query_by_key(st, "TX", "committed", 0, INT64_MAX, phys, 4), 1);
    cr_assert_eq(rk_store_query_by_key(st, "TX", "rolled", 0, INT64_MAX, phys, 4), 0);
    rk_store_close(st);
}

Test(store, offsets_are_persisted_periodically_while_running)
{
    rk_store_t *st = open_store_kv("flushConsumerOffsetInterval", "50");
    cr_assert_eq(rk_store_commit_offset(st, "g", "T", 3, 42), 0);
    char p[400];
    snprintf(p, sizeof p, "%s/config/consumerOffset.json", dir);
    char *text = NULL;
    for (int i = 0; i < 200 && !rk_path_exists(p); i++)
        rk_sleep_ms(10);
    cr_assert_eq(rk_file_read_all(p, &text, NULL), 0);
    cr_assert_not_null(strstr(text, "3:42"), "%s", text);
    free(text);
    rk_store_close(st);
}

Test(store, units_pointing_at_deleted_log_files_say_message_was_removing)
{
    rk_store_t *st = open_store();
    put_many(st, 0, 400);
    /* the commitlog loses its first files behind the store's back (the
     * store's own cleanup would fix the consume queues right after) */
    rk_commitlog_t *cl = rk_store_commitlog(st);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(rk_commitlog_delete_expired(cl, 0, true, 1), 1);
    cr_assert_eq(rk_store_commitlog_min(st), 2 * CL_FILE);
    cr_assert_eq(rk_store_min_offset(st, "T", 0), 0);       /* not corrected yet */
    rk_get_result_t g;
    /* removed units are skipped; the first record returned is one still there */
    cr_assert_eq(rk_store_get_message(st, "g", "T", 0, 0, 4, 0, NULL, 0, &g), 0);
    cr_assert_eq(g.status, RK_GET_FOUND);
    cr_assert_gt(g.msgs[0].queue_offset, 0);
    cr_assert_geq(g.msgs[0].phys, 2 * CL_FILE);
    rk_get_result_release(&g);
    /* two more files gone: every unit of queue 0's first CQ file (messages
     * 0..196, ~205 KB) now points at a removed record */
    for (int i = 0; i < 2; i++)
        cr_assert_eq(rk_commitlog_delete_expired(cl, 0, true, 1), 1);
    cr_assert_eq(rk_store_get_message(st, "g", "T", 0, 0, 4, 0, NULL, 0, &g), 0);
    cr_assert_eq(g.status, RK_GET_MESSAGE_WAS_REMOVING);
    cr_assert_eq(g.count, 0);
    cr_assert_eq(g.next_begin_offset, CQ_UNITS);             /* the whole file scanned */
    rk_get_result_release(&g);
    /* cleanup then deletes that CQ file and moves min past the removed units */
    rk_store_clean_expired(st, false);
    rk_cq_unit_t u;
    int64_t qmin = rk_store_min_offset(st, "T", 0);
    cr_assert_geq(qmin, CQ_UNITS);
    cr_assert_eq(rk_store_read_units(st, "T", 0, qmin, &u, 1), 1);
    cr_assert_geq(u.phys, 4 * CL_FILE);
    cr_assert_eq(rk_store_read_units(st, "T", 0, qmin - 1, &u, 1), 0);
    rk_store_close(st);
}

static bool fixed_code(void *ctx, const rk_record_t *rec, const char *tags, int64_t *code)
{
    (void)ctx;
    (void)tags;
    if (rec->topic_len != 19 || memcmp(rec->topic, "SCHEDULE_TOPIC_XXXX", 19) != 0)
        return false;
    *code = 1000000000000LL + rec->queue_offset;   /* e.g. a delivery time */
    return true;
}

static bool second_code(void *ctx, const rk_record_t *rec, const char *tags, int64_t *code)
{
    (void)tags;
    if (rec->topic_len != 1 || rec->topic[0] != 'W')
        return false;
    *code = *(const int64_t *)ctx;
    return true;
}

Test(store, tag_code_hooks_chain_and_others_keep_the_tags_hash)
{
    rk_kv_t kv;
    rk_kv_init(&kv);
    rk_kv_set(&kv, "mappedFileSizeCommitLog", "65536");
    rk_store_t *st;
    char err[256];
    const int64_t w_code = 424242;
    cr_assert_eq(rk_store_open(dir, &kv, &st, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rk_store_add_tag_code_hook(st, fixed_code, NULL), 0);
    cr_assert_eq(rk_store_add_tag_code_hook(st, second_code, (void *)&w_code), 0);
    cr_assert_eq(rk_store_add_tag_code_hook(st, NULL, NULL), RK_EINVAL);
    cr_assert_eq(rk_store_start(st), 0);
    cr_assert_eq(rk_store_add_tag_code_hook(st, fixed_code, NULL), RK_EBUSY);
    for (int i = 0; i < 3; i++)
        put(st, "SCHEDULE_TOPIC_XXXX", 2, "x", NULL, NULL, 10);
    put(st, "W", 0, "x", NULL, NULL, 10);
    put(st, "T", 0, "x", NULL, NULL, 10);
    cr_assert_eq(rk_store_wait_dispatched(st, 5000), 0);
    rk_cq_unit_t u[3];
    cr_assert_eq(rk_store_read_units(st, "SCHEDULE_TOPIC_XXXX", 2, 0, u, 3), 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(u[i].tag_code, 1000000000000LL + i);
    cr_assert_eq(rk_store_read_units(st, "W", 0, 0, u, 1), 1);
    cr_assert_eq(u[0].tag_code, w_code);
    cr_assert_eq(rk_store_read_units(st, "T", 0, 0, u, 1), 1);
    cr_assert_eq(u[0].tag_code, rk_tag_code("x"), "a record no hook claims keeps its tags hash");
    rk_store_close(st);
    rk_kv_free(&kv);
}

Test(store, torn_commitlog_tail_truncates_queues_and_index_and_numbering_continues)
{
    rk_store_t *st = open_store();
    rk_put_result_t last[4];
    for (int i = 0; i < 40; i++) {
        char keys[32];
        snprintf(keys, sizeof keys, "old%d", i);
        last[i % 4] = put(st, "T", i % 4, "a", keys, NULL, 500);
    }
    cr_assert_eq(rk_store_wait_dispatched(st, 5000), 0);
    rk_store_close(st);
    /* the body of the last message (39: queue 3, offset 9) is corrupted on
     * disk and nothing valid follows it: a torn tail, the log ends there
     * (damage followed by valid records is skipped instead: test_damage.c) */
    int64_t bad = last[3].phys_offset;
    char p[400];
    snprintf(p, sizeof p, "%s/commitlog/%020lld", dir, (long long)(bad / CL_FILE * CL_FILE));
    FILE *f = fopen(p, "r+b");
    cr_assert_not_null(f);
    fseek(f, (long)(bad % CL_FILE) + 200, SEEK_SET);
    fputs("garbage", f);
    fclose(f);

    st = open_store();
    cr_assert_eq(rk_store_commitlog_max(st), bad);
    for (int q = 0; q < 4; q++)
        cr_assert_eq(rk_store_max_offset(st, "T", q), q == 3 ? 9 : 10, "queue %d", q);
    int64_t phys[4];
    cr_assert_eq(rk_store_query_by_key(st, "T", "old39", 0, INT64_MAX, phys, 4), 0);
    cr_assert_eq(rk_store_query_by_key(st, "T", "old38", 0, INT64_MAX, phys, 4), 1);
    /* new messages reuse the offsets: numbered 9, 10 ... and indexed */
    rk_put_result_t r = put(st, "T", 3, "a", "new0", NULL, 500);
    cr_assert_eq(r.phys_offset, bad);
    cr_assert_eq(r.queue_offset, 9);
    cr_assert_eq(rk_store_wait_dispatched(st, 5000), 0);
    cr_assert_eq(rk_store_query_by_key(st, "T", "new0", 0, INT64_MAX, phys, 4), 1);
    cr_assert_eq(phys[0], bad);
    rk_get_result_t g;
    cr_assert_eq(rk_store_get_message(st, "g", "T", 3, 9, 4, 0, NULL, 0, &g), 0);
    cr_assert_eq(g.count, 1);
    cr_assert_eq(g.msgs[0].phys, bad);
    rk_get_result_release(&g);
    rk_store_close(st);
}

Test(store, a_damaged_old_record_costs_its_file_not_the_start)
{
    rk_store_t *st = open_store();
    rk_put_result_t r10 = {0};
    for (int i = 0; i < 400; i++) {
        rk_put_result_t r = put(st, "T", i % 4, "a", NULL, NULL, 900);
        if (i == 10)
            r10 = r;
    }
    cr_assert_eq(rk_store_wait_dispatched(st, 5000), 0);
    rk_store_close(st);
    /* record 10 (queue 2) in the first file loses its magic; ch04's recovery
     * only re-reads the newest files, so only our catch-up pass meets it */
    char p[400];
    snprintf(p, sizeof p, "%s/commitlog/%020d", dir, 0);
    FILE *f = fopen(p, "r+b");
    cr_assert_not_null(f);
    fseek(f, (long)r10.phys_offset + 4, SEEK_SET);
    fputs("XXXX", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/consumequeue/T/2", dir);
    cr_assert_eq(rk_tk_rmtree(p), 0);
    st = open_store();                                /* starts, with a warning */
    cr_assert_eq(rk_store_max_offset(st, "T", 2), 100);
    cr_assert_eq(rk_store_max_offset(st, "T", 1), 100);
    rk_cq_unit_t u[100];
    cr_assert_eq(rk_store_read_units(st, "T", 2, 0, u, 100), 100);
    rk_store_view_t v;                                /* record 6, before the damage */
    cr_assert_eq(rk_store_view(st, u[1].phys, &v), 0);
    cr_assert_eq(rec_of(v.data, v.size).queue_offset, 1);
    rk_store_view_release(&v);
    cr_assert(rk_cq_unit_is_blank(&u[2]), "record 10 is unreadable: a blank unit");
    cr_assert_neq(u[99].phys, 0);
    rk_get_result_t g;
    cr_assert_eq(rk_store_get_message(st, "g", "T", 2, 2, 1, 0, NULL, 0, &g), 0);
    cr_assert_eq(g.status, RK_GET_FOUND);               /* the blanks are skipped */
    cr_assert_gt(g.msgs[0].queue_offset, 2);
    rk_get_result_release(&g);
    rk_store_close(st);
}

Test(store, message_index_can_be_turned_off)
{
    rk_store_t *st = open_store_kv("messageIndexEnable", "false");
    put(st, "T", 0, "a", "k1", "U1", 10);
    cr_assert_eq(rk_store_wait_dispatched(st, 5000), 0);
    int64_t phys[2];
    cr_assert_eq(rk_store_query_by_key(st, "T", "k1", 0, INT64_MAX, phys, 2), RK_EPERM);
    cr_assert_eq(rk_store_max_offset(st, "T", 0), 1);
    char p[400];
    snprintf(p, sizeof p, "%s/index", dir);
    cr_assert_not(rk_path_exists(p));
    rk_store_close(st);
}

/* Appends one message with raw properties (any order, repeats, junk). */
static rk_put_result_t put_raw_props(rk_store_t *st, const char *topic, int qid, const char *props)
{
    static const uint8_t body[16];
    rk_msg_t m = {0};
    m.topic = topic;
    m.topic_len = strlen(topic);
    m.queue_id = qid;
    m.born_ts = rk_now_ms();
    rk_host_parse("127.0.0.1:5555", &m.born_host);
    rk_host_parse("127.0.0.1:10911", &m.store_host);
    m.body = body;
    m.body_len = sizeof body;
    m.props = props;
    m.props_len = strlen(props);
    rk_put_result_t r;
    cr_assert_eq(rk_store_put(st, &m, &r), 0);
    cr_assert_eq(r.status, RK_PUT_OK);
    return r;
}

typedef struct seen_tags {
    int n;
    char tags[8][300];
} seen_tags_t;

static bool collect_tags(void *ctx, const rk_record_t *rec, const char *tags, int64_t *code)
{
    (void)rec;
    (void)code;
    seen_tags_t *s = ctx;
    if (s->n < 8)
        snprintf(s->tags[s->n++], sizeof s->tags[0], "%s", tags ? tags : "(none)");
    return false;
}

/* The dispatcher reads TAGS, KEYS and UNIQ_KEY in one pass over the
 * properties: each is the name's first entry, as rk_props_get finds it,
 * whatever the order, repeats or malformed entries around it; a value too
 * long for the dispatcher is left out. And the consume-queue builder's
 * queue cache keeps topics that share queue ids apart. */
Test(store, dispatch_reads_the_first_entry_of_each_property)
{
    rk_store_t *st = NULL;
    char err[256];
    cr_assert_eq(rk_store_open(dir, NULL, &st, err, sizeof err), 0, "%s", err);
    static seen_tags_t seen;
    cr_assert_eq(rk_store_add_tag_code_hook(st, collect_tags, &seen), 0);
    cr_assert_eq(rk_store_start(st), 0);
    char big[400];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char props[600];
    rk_put_result_t r[6];
    r[0] = put_raw_props(st, "A", 0, "u\001v\002junk\002UNIQ_KEY\001U1\002TAGS\001x\002KEYS\001k1  k2\002TAGS\001y\002"
                                     "KEYS\001zz\002UNIQ_KEY\001U2");
    r[1] = put_raw_props(st, "B", 0, "KEYS\001cl\xc3\xa9 \xf0\x9f\x98\x80\002TAGS\001t\xc3\xa9");
    snprintf(props, sizeof props, "TAGS\001%s\002KEYS\001late", big);   /* TAGS too long: left out */
    r[2] = put_raw_props(st, "A", 0, props);
    r[3] = put_raw_props(st, "B", 0, "TAGSX\001no\002XTAGS\001no\002KEY\001no");
    r[4] = put_raw_props(st, "A", 1, "TAGS\001\002KEYS\001");
    r[5] = put_raw_props(st, "B", 1, "");
    cr_assert_eq(rk_store_wait_dispatched(st, 5000), 0);
    cr_assert_eq(seen.n, 6);
    cr_assert_str_eq(seen.tags[0], "x");
    cr_assert_str_eq(seen.tags[1], "t\xc3\xa9");
    cr_assert_str_eq(seen.tags[2], "(none)");
    cr_assert_str_eq(seen.tags[3], "(none)");
    cr_assert_str_eq(seen.tags[4], "");
    cr_assert_str_eq(seen.tags[5], "(none)");
    rk_cq_unit_t u[2];
    cr_assert_eq(rk_store_read_units(st, "A", 0, 0, u, 2), 2);
    cr_assert_eq(u[0].phys, r[0].phys_offset);
    cr_assert_eq(u[0].tag_code, rk_java_hash("x", 1));
    cr_assert_eq(u[1].phys, r[2].phys_offset);
    cr_assert_eq(u[1].tag_code, 0);
    cr_assert_eq(rk_store_read_units(st, "B", 0, 0, u, 2), 2);
    cr_assert_eq(u[0].phys, r[1].phys_offset);
    cr_assert_eq(u[0].tag_code, rk_java_hash("t\xc3\xa9", 3));
    cr_assert_eq(u[1].phys, r[3].phys_offset);
    cr_assert_eq(rk_store_max_offset(st, "A", 1), 1);
    cr_assert_eq(rk_store_max_offset(st, "B", 1), 1);
    int64_t phys[4];
    const struct { const char *topic, *key; int n; int64_t phys; } q[] = {
        {"A", "U1", 1, r[0].phys_offset}, {"A", "k1", 1, r[0].phys_offset}, {"A", "k2", 1, r[0].phys_offset},
        {"A", "U2", 0, 0}, {"A", "zz", 0, 0}, {"A", "late", 1, r[2].phys_offset},
        {"B", "cl\xc3\xa9", 1, r[1].phys_offset}, {"B", "\xf0\x9f\x98\x80", 1, r[1].phys_offset},
        {"B", "k1", 0, 0}, {"B", "no", 0, 0},
    };
    for (size_t i = 0; i < sizeof q / sizeof *q; i++) {
        cr_assert_eq(rk_store_query_by_key(st, q[i].topic, q[i].key, 0, INT64_MAX, phys, 4), q[i].n, "%s#%s",
                     q[i].topic, q[i].key);
        if (q[i].n > 0)
            cr_assert_eq(phys[0], q[i].phys, "%s#%s", q[i].topic, q[i].key);
    }
    rk_store_close(st);
}
