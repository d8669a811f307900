/* test_commitlog.c — the CommitLog as a user relies on it: offsets, rolls,
 * recovery after crashes and damage, locking, flush, extension points. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/commitlog.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/rkstore.h"
#include "rk/testkit.h"

#define FILE_SIZE (64 * 1024)

static char dir[256];
static rk_commitlog_config_t cfg;

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "commitlog"), 0);
    char err[200];
    cr_assert_eq(rk_commitlog_config_load(&cfg, NULL, err, sizeof err), 0);
    free(cfg.store_root);
    cfg.store_root = strdup(dir);
    cfg.file_size = FILE_SIZE;
}

static void teardown(void)
{
    rk_commitlog_config_free(&cfg);
    rk_tk_rmtree(dir);
}

static rk_commitlog_t *open_cl(void)
{
    rk_commitlog_t *cl = NULL;
    char err[300] = "";
    int rc = rk_commitlog_open(&cfg, &cl, err, sizeof err);
    cr_assert_eq(rc, 0, "open: %s (%s)", err, rk_strerror(rc));
    return cl;
}

static uint8_t body_buf[8192];

static rk_msg_t make_msg(rk_commitlog_t *cl, const char *topic, int qid, size_t size, int64_t seq)
{
    rk_rkstore_fill_body(body_buf, size, seq);
    rk_msg_t m = {.topic = topic, .topic_len = strlen(topic), .queue_id = qid, .body = body_buf,
                  .body_len = size, .store_host = *rk_commitlog_store_host(cl), .born_ts = 1};
    rk_host_parse("127.0.0.1:1234", &m.born_host);
    return m;
}

static rk_put_result_t put1(rk_commitlog_t *cl, const char *topic, int qid, size_t size, int64_t seq)
{
    rk_msg_t m = make_msg(cl, topic, qid, size, seq);
    rk_put_result_t r;
    cr_assert_eq(rk_commitlog_put(cl, &m, &r), 0);
    return r;
}

static void path_of(char *out, size_t len, int64_t file_start)
{
    snprintf(out, len, "%s/commitlog/%020lld", dir, (long long)file_start);
}

TestSuite(commitlog, .init = setup, .fini = teardown);

Test(commitlog, blank_at_end_and_roll_keep_offsets_continuous)
{
    rk_commitlog_t *cl = open_cl();
    int64_t expect = 0;
    int64_t last_file_start = 0;
    for (int i = 0; i < 200; i++) {     /* 200 x 1100 B = 3.4 files */
        rk_put_result_t r = put1(cl, "T", 0, 1000, i);
        cr_assert_eq(r.status, RK_PUT_OK);
        if (r.phys_offset != expect) {
            /* A roll: the previous file ended with a BLANK of exactly the gap. */
            cr_assert_eq(r.phys_offset % FILE_SIZE, 0, "record %d at %lld", i, (long long)r.phys_offset);
            cr_assert_eq(r.phys_offset, rk_commitlog_roll_next(cl, expect));
            rk_slice_t s;
            cr_assert_eq(rk_commitlog_read(cl, expect, &s), 0);
            rk_record_t rec;
            cr_assert_eq(rk_record_decode(s.data, s.len, true, &rec), 0);
            cr_assert(rk_record_is_blank(&rec));
            cr_assert_eq(rec.total_size, r.phys_offset - expect);
            rk_slice_release(&s);
            last_file_start = r.phys_offset;
        }
        cr_assert_eq(r.queue_offset, i);
        cr_assert_eq(r.wrote_bytes, 1000 + 91 + 1);
        expect = r.phys_offset + r.wrote_bytes;
    }
    cr_assert(last_file_start >= 3 * FILE_SIZE);
    cr_assert_eq(rk_commitlog_max_offset(cl), expect);
    rk_commitlog_close(cl);
}

Test(commitlog, reads_back_what_was_written_with_its_msgid)
{
    rk_commitlog_t *cl = open_cl();
    put1(cl, "T", 0, 10, 0);
    rk_put_result_t r = put1(cl, "Other", 3, 500, 7);
    rk_slice_t s;
    rk_record_t rec;
    cr_assert_eq(rk_commitlog_read_record(cl, r.phys_offset, &s, &rec), 0);
    cr_assert_eq(rec.queue_id, 3);
    cr_assert_eq(rec.queue_offset, 0);
    cr_assert_eq(rec.store_ts, r.store_ts);
    uint8_t want[500];
    rk_rkstore_fill_body(want, 500, 7);
    cr_assert_eq(memcmp(rec.body, want, 500), 0);
    rk_slice_release(&s);
    rk_host_t h;
    int64_t off;
    cr_assert_eq(rk_msgid_decode(r.msg_id, &h, &off), 0);
    cr_assert_eq(off, r.phys_offset);
    cr_assert_eq(h.port, 10911);
    cr_assert_eq(rk_commitlog_read(cl, rk_commitlog_max_offset(cl), &s), RK_ENOTFOUND);
    rk_commitlog_close(cl);
}

Test(commitlog, clean_restart_continues_offsets_and_queue_numbers)
{
    rk_commitlog_t *cl = open_cl();
    for (int i = 0; i < 100; i++)
        put1(cl, "T", 1, 700, i);
    int64_t end = rk_commitlog_max_offset(cl);
    rk_commitlog_close(cl);
    char abort_path[300];
    snprintf(abort_path, sizeof abort_path, "%s/abort", dir);
    cr_assert(!rk_path_exists(abort_path), "a clean close removes abort");
    cl = open_cl();
    cr_assert(!rk_commitlog_was_abnormal(cl));
    cr_assert_eq(rk_commitlog_max_offset(cl), end);
    rk_put_result_t r = put1(cl, "T", 1, 700, 100);
    cr_assert_eq(r.phys_offset == end || r.phys_offset == rk_commitlog_roll_next(cl, end), 1);
    cr_assert_eq(r.queue_offset, 100);
    rk_commitlog_close(cl);
}

Test(commitlog, crash_with_abort_present_keeps_every_written_record)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {     /* a broker that dies without closing */
        rk_commitlog_t *cl = NULL;
        if (rk_commitlog_open(&cfg, &cl, NULL, 0) != 0)
            _exit(1);
        for (int i = 0; i < 150; i++) {
            rk_msg_t m = make_msg(cl, "T", 0, 900, i);
            rk_put_result_t r;
            if (rk_commitlog_put(cl, &m, &r) != 0 || r.status != RK_PUT_OK)
                _exit(2);
        }
        _exit(0);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    rk_commitlog_t *cl = open_cl();
    cr_assert(rk_commitlog_was_abnormal(cl));
    rk_put_result_t r = put1(cl, "T", 0, 900, 150);
    cr_assert_eq(r.queue_offset, 150, "all 150 records survived; numbering continues");
    rk_commitlog_close(cl);
}

/* Fills a store with n records of `size` bytes, closes it, returns offsets. */
static void fill(int n, size_t size, int64_t *phys)
{
    rk_commitlog_t *cl = open_cl();
    for (int i = 0; i < n; i++)
        phys[i] = put1(cl, "T", 0, size, i).phys_offset;
    rk_commitlog_close(cl);
}

static void poke(int64_t offset, uint8_t xor_mask)
{
    char path[300];
    path_of(path, sizeof path, offset - offset % FILE_SIZE);
    int fd = open(path, O_RDWR);
    cr_assert(fd >= 0);
    uint8_t b;
    cr_assert_eq(pread(fd, &b, 1, offset % FILE_SIZE), 1);
    b ^= xor_mask;
    cr_assert_eq(pwrite(fd, &b, 1, offset % FILE_SIZE), 1);
    close(fd);
}

Test(commitlog, torn_last_record_is_truncated_and_appends_reuse_its_place)
{
    int64_t phys[80];
    fill(80, 1000, phys);
    /* Cut the last file in the middle of the last record. */
    char path[300];
    int64_t last = phys[79];
    path_of(path, sizeof path, last - last % FILE_SIZE);
    cr_assert_eq(truncate(path, last % FILE_SIZE + 500), 0);
    rk_commitlog_t *cl = open_cl();
    cr_assert_eq(rk_commitlog_max_offset(cl), last, "log ends where the torn record began");
    rk_put_result_t r = put1(cl, "T", 0, 1000, 79);
    cr_assert_eq(r.phys_offset, last);
    cr_assert_eq(r.queue_offset, 79);
    rk_commitlog_close(cl);
}

Test(commitlog, corrupt_byte_in_last_file_is_skipped_not_truncated)
{
    int64_t phys[150];
    fill(150, 1000, phys);
    /* A record in the middle of the last file: flip a body byte (CRC mismatch). */
    int64_t last_file = phys[149] - phys[149] % FILE_SIZE;
    int k = 149;
    while (k > 0 && phys[k - 1] >= last_file)
        k--;
    k += (149 - k) / 2;
    cr_assert(phys[k] >= last_file && k < 149);
    poke(phys[k] + 120, 0x20);
    /* verify sees data after the damage: that is a failure to report. */
    char *out = NULL;
    char *argv[] = {(char *)rk_tk_bin("rkstore"), "verify", dir, NULL};
    int rc = rk_tk_run(argv, &out, 10000);
    cr_assert_eq(rc, 1, "verify: %s", out);
    cr_assert(strstr(out, "FAILED") != NULL, "%s", out);
    free(out);
    /* Recovery keeps the records after k (test_corruption.c has the rest). */
    rk_commitlog_t *cl = open_cl();
    int64_t end = rk_commitlog_max_offset(cl);
    cr_assert_gt(end, phys[149]);
    rk_put_result_t r = put1(cl, "T", 0, 1000, 150);
    cr_assert_eq(r.phys_offset, end);
    cr_assert_eq(r.queue_offset, 150);
    rk_commitlog_close(cl);
}

Test(commitlog, second_process_cannot_open_a_locked_store)
{
    rk_commitlog_t *cl = open_cl();
    char *out = NULL;
    char *argv[] = {(char *)rk_tk_bin("rkstore"), "put", dir, "--count", "1", NULL};
    int rc = rk_tk_run(argv, &out, 10000);
    cr_assert_eq(rc, 3, "%s", out);
    cr_assert(strstr(out, "locked") != NULL, "%s", out);
    free(out);
    rk_commitlog_close(cl);
    out = NULL;
    rc = rk_tk_run(argv, &out, 10000);
    cr_assert_eq(rc, 0, "unlocked after close: %s", out);
    free(out);
}

Test(commitlog, rejects_oversized_messages_with_putmessagestatus)
{
    cfg.max_message_size = 100;
    rk_commitlog_t *cl = open_cl();
    rk_msg_t m = make_msg(cl, "T", 0, 101, 0);
    rk_put_result_t r;
    cr_assert_eq(rk_commitlog_put(cl, &m, &r), 0);
    cr_assert_eq(r.status, RK_PUT_MESSAGE_ILLEGAL);
    m = make_msg(cl, "T", 0, 10, 0);
    static char props[40000];
    memset(props, 'x', sizeof props);
    props[0] = 'K';
    props[1] = '\001';
    m.props = props;
    m.props_len = sizeof props;
    cr_assert_eq(rk_commitlog_put(cl, &m, &r), 0);
    cr_assert_eq(r.status, RK_PUT_PROPERTIES_SIZE_EXCEEDED);
    cr_assert_eq(rk_commitlog_max_offset(cl), 0, "nothing was written");
    rk_commitlog_close(cl);
}

static int no_space(int fd, int64_t offset, int64_t len)
{
    (void)fd; (void)offset; (void)len;
    return -ENOSPC;
}

Test(commitlog, full_disk_is_an_error_not_a_crash)
{
    rk_commitlog_t *cl = open_cl();     /* the checkpoint gets its block */
    rk_mapped_file_set_prealloc(no_space);
    rk_msg_t m = make_msg(cl, "T", 0, 10, 0);
    rk_put_result_t r;
    cr_assert_eq(rk_commitlog_put(cl, &m, &r), 0);
    cr_assert_eq(r.status, RK_PUT_CREATE_MAPEDFILE_FAILED);
    rk_commitlog_close(cl);
    rk_mapped_file_set_prealloc(NULL);
}

Test(commitlog, batch_is_contiguous_in_one_file)
{
    rk_commitlog_t *cl = open_cl();
    for (int i = 0; i < 50; i++)
        put1(cl, "T", 2, 1000, i);      /* the last file is ~80% full */
    rk_msg_t msgs[20];
    static uint8_t bodies[20][1000];
    for (int i = 0; i < 20; i++) {
        msgs[i] = make_msg(cl, "T", 2, 1000, 50 + i);
        rk_rkstore_fill_body(bodies[i], 1000, 50 + i);
        msgs[i].body = bodies[i];
    }
    rk_put_result_t r;
    int64_t phys[20];
    cr_assert_eq(rk_commitlog_put_batch(cl, msgs, 20, &r, phys), 0);
    cr_assert_eq(r.status, RK_PUT_OK);
    cr_assert_eq(r.count, 20);
    cr_assert_eq(r.queue_offset, 50);
    for (int i = 1; i < 20; i++)
        cr_assert_eq(phys[i], phys[i - 1] + 1092);
    cr_assert_eq(phys[0] / FILE_SIZE, phys[19] / FILE_SIZE, "a batch never straddles files");
    rk_commitlog_close(cl);
}

static rk_put_status_t redirect_hook(void *ctx, rk_msg_t *m, rk_put_scratch_t *s)
{
    (void)ctx;
    if (m->topic_len == 5 && memcmp(m->topic, "DELAY", 5) == 0) {
        char *t = rk_put_scratch(s, 16);
        memcpy(t, "SCHEDULE_TOPIC", 14);
        m->topic = t;
        m->topic_len = 14;
        m->queue_id = 4;
    }
    if (m->topic_len == 4 && memcmp(m->topic, "DENY", 4) == 0)
        return RK_PUT_SERVICE_NOT_AVAILABLE;
    return RK_PUT_OK;
}

Test(commitlog, put_hooks_rewrite_or_refuse_messages)
{
    rk_commitlog_t *cl = open_cl();
    cr_assert_eq(rk_commitlog_add_put_hook(cl, "redirect", redirect_hook, NULL), 0);
    rk_put_result_t r = put1(cl, "DELAY", 0, 10, 0);
    cr_assert_eq(r.status, RK_PUT_OK);
    rk_slice_t s;
    rk_record_t rec;
    cr_assert_eq(rk_commitlog_read_record(cl, r.phys_offset, &s, &rec), 0);
    cr_assert_eq(rec.topic_len, 14);
    cr_assert_eq(memcmp(rec.topic, "SCHEDULE_TOPIC", 14), 0);
    cr_assert_eq(rec.queue_id, 4);
    rk_slice_release(&s);
    r = put1(cl, "DENY", 0, 10, 0);
    cr_assert_eq(r.status, RK_PUT_SERVICE_NOT_AVAILABLE);
    rk_commitlog_close(cl);
}

/* A batch of 64 whose every message a hook rewrites: each takes scratch space (more than the 16
 * blocks a put used to have; the batch then failed UNKNOWN_ERROR). */
Test(commitlog, a_hook_may_rewrite_every_message_of_a_64_batch)
{
    rk_commitlog_t *cl = open_cl();
    cr_assert_eq(rk_commitlog_add_put_hook(cl, "redirect", redirect_hook, NULL), 0);
    rk_msg_t msgs[64];
    for (int i = 0; i < 64; i++)
        msgs[i] = make_msg(cl, "DELAY", 0, 10, i);
    rk_put_result_t r;
    int64_t phys[64];
    cr_assert_eq(rk_commitlog_put_batch(cl, msgs, 64, &r, phys), 0);
    cr_assert_eq(r.status, RK_PUT_OK, "%s", rk_put_status_name(r.status));
    for (int i = 0; i < 64; i += 63) {
        rk_slice_t s;
        rk_record_t rec;
        cr_assert_eq(rk_commitlog_read_record(cl, phys[i], &s, &rec), 0);
        cr_assert_eq(rec.topic_len, 14);
        cr_assert_eq(memcmp(rec.topic, "SCHEDULE_TOPIC", 14), 0);
        rk_slice_release(&s);
    }
    rk_commitlog_close(cl);
}

/* An ack stage like chapter 8's "wait for the slave": completes later,
 * from another thread. */
typedef struct {
    rk_ack_t *pending;
    _Atomic int submitted;
} stage_ctx_t;

static void later_stage(void *ctx, rk_ack_t *ack)
{
    stage_ctx_t *s = ctx;
    s->pending = ack;
    atomic_store(&s->submitted, 1);
}

static void completer(void *arg)
{
    stage_ctx_t *s = arg;
    while (!atomic_load(&s->submitted))
        usleep(1000);
    usleep(50000);
    rk_ack_done(s->pending, RK_PUT_FLUSH_SLAVE_TIMEOUT);
}

Test(commitlog, ack_stages_decide_when_a_put_completes)
{
    rk_commitlog_t *cl = open_cl();
    stage_ctx_t sc = {NULL, 0};
    cr_assert_eq(rk_commitlog_add_ack_stage(cl, "slave", later_stage, &sc), 0);
    uv_thread_t t;
    uv_thread_create(&t, completer, &sc);
    rk_put_result_t r = put1(cl, "T", 0, 10, 0);     /* blocks until the stage is done */
    uv_thread_join(&t);
    cr_assert_eq(r.status, RK_PUT_FLUSH_SLAVE_TIMEOUT);
    cr_assert_eq(r.phys_offset, 0, "the message is stored all the same");
    rk_commitlog_close(cl);
}

Test(commitlog, sync_flush_answers_only_after_the_flush)
{
    cfg.flush_type = RK_FLUSH_SYNC;
    rk_commitlog_t *cl = open_cl();
    for (int i = 0; i < 20; i++) {
        rk_put_result_t r = put1(cl, "T", 0, 300, i);
        cr_assert_eq(r.status, RK_PUT_OK);
        cr_assert(rk_commitlog_flushed_offset(cl) >= r.phys_offset + r.wrote_bytes);
    }
    rk_commitlog_close(cl);
}

typedef struct {
    rk_commitlog_t *cl;
    int id;
    int ok;
} putter_t;

static void putter(void *arg)
{
    putter_t *p = arg;
    uint8_t body[200];
    memset(body, 'a' + p->id, sizeof body);
    for (int i = 0; i < 100; i++) {
        rk_msg_t m = {.topic = "T", .topic_len = 1, .queue_id = p->id, .body = body, .body_len = sizeof body,
                      .store_host = *rk_commitlog_store_host(p->cl)};
        rk_host_parse("127.0.0.1:1", &m.born_host);
        rk_put_result_t r;
        if (rk_commitlog_put(p->cl, &m, &r) == 0 && r.status == RK_PUT_OK &&
            rk_commitlog_flushed_offset(p->cl) >= r.phys_offset + r.wrote_bytes)
            p->ok++;
    }
}

Test(commitlog, group_commit_shares_one_flush_among_concurrent_putters)
{
    cfg.flush_type = RK_FLUSH_SYNC;
    cfg.file_size = 1 << 20;
    rk_commitlog_t *cl = open_cl();
    putter_t p[8];
    uv_thread_t t[8];
    for (int i = 0; i < 8; i++) {
        p[i] = (putter_t){cl, i, 0};
        uv_thread_create(&t[i], putter, &p[i]);
    }
    for (int i = 0; i < 8; i++)
        uv_thread_join(&t[i]);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(p[i].ok, 100, "putter %d", i);
    uint64_t flushes = rk_commitlog_flush_count(cl);
    cr_assert(flushes < 800, "800 synced puts took %llu flushes: no group commit", (unsigned long long)flushes);
    rk_commitlog_close(cl);
}

Test(commitlog, sync_flush_past_its_deadline_reports_timeout)
{
    cfg.flush_type = RK_FLUSH_SYNC;
    cfg.sync_flush_timeout_ms = 0;
    rk_commitlog_t *cl = open_cl();
    rk_put_result_t r = put1(cl, "T", 0, 10, 0);
    cr_assert_eq(r.status, RK_PUT_FLUSH_DISK_TIMEOUT);
    cr_assert_eq(rk_commitlog_max_offset(cl), r.wrote_bytes, "stored all the same");
    rk_commitlog_close(cl);
}

typedef struct {
    int64_t next_qoff;
    int bad;
} prefix_ctx_t;

static int check_prefix(void *ctx, const rk_record_t *r, bool crc_ok)
{
    prefix_ctx_t *p = ctx;
    uint8_t want[200];
    rk_rkstore_fill_body(want, sizeof want, r->queue_offset);
    if (!crc_ok || r->queue_offset != p->next_qoff || r->body_len != 200 || memcmp(r->body, want, 200) != 0)
        p->bad++;
    p->next_qoff++;
    return 0;
}

Test(commitlog, sigkill_during_put_leaves_an_intact_prefix)
{
    char log[300];
    snprintf(log, sizeof log, "%s/put.log", dir);
    char *argv[] = {(char *)rk_tk_bin("rkstore"), "put", dir, "--count", "100000000", "--size", "200",
                    "--file-size", "1m", NULL};
    pid_t pid = rk_tk_spawn(argv, log);
    cr_assert(pid > 0);
    usleep(400 * 1000);
    rk_tk_kill(pid, SIGKILL);
    int st = rk_tk_wait(pid, 5000);
    cr_assert(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the writer was still running");
    char *out = NULL;
    char *vargv[] = {(char *)rk_tk_bin("rkstore"), "verify", dir, NULL};
    int rc = rk_tk_run(vargv, &out, 30000);
    cr_assert_eq(rc, 0, "verify: %s", out);
    free(out);
    char cldir[300];
    snprintf(cldir, sizeof cldir, "%s/commitlog", dir);
    prefix_ctx_t pc = {0, 0};
    rk_scan_report_t rep;
    cr_assert_eq(rk_commitlog_scan_dir(cldir, 1 << 20, 0, true, check_prefix, &pc, &rep), 0);
    cr_assert(pc.next_qoff > 1000, "only %lld records were written before the kill", (long long)pc.next_qoff);
    cr_assert_eq(pc.bad, 0, "%d damaged records in the prefix", pc.bad);
    cr_assert_eq(rep.damage.ranges, 0, "a kill leaves at most a torn tail, never damage before it");
}

static void waker(void *arg)
{
    rk_sleep_ms(50);
    rk_commitlog_wake_waiters(arg);
}

Test(commitlog, wake_waiters_ends_a_wait_for_appends)
{
    rk_commitlog_t *cl = open_cl();
    uv_thread_t t;
    uv_thread_create(&t, waker, cl);
    uint64_t t0 = rk_mono_ms();
    cr_assert(!rk_commitlog_wait_append(cl, 0, 10000));
    cr_assert(rk_mono_ms() - t0 < 5000, "woken, not timed out");
    uv_thread_join(&t);
    rk_commitlog_close(cl);
}

Test(commitlog, the_next_file_is_made_ahead_and_removed_at_close_if_unused)
{
    cfg.flush_interval_ms = 10;
    rk_commitlog_t *cl = open_cl();
    put1(cl, "T", 0, 1000, 0);
    char next[300];
    path_of(next, sizeof next, FILE_SIZE);
    /* the file appears (O_CREAT) a moment before its blocks are reserved:
     * wait for both, as the writer does (it takes the spare under a lock) */
    bool made = false;
    for (int i = 0; i < 200 && !made; i++) {
        made = rk_path_exists(next) && rk_tk_file_size(next) == FILE_SIZE;
        if (!made)
            rk_sleep_ms(10);
    }
    cr_assert(made, "the flush thread made %s ahead of need, at full size", next);
    int64_t end = 0;
    for (int i = 1; i < 70; i++)        /* roll into it: the writer takes it as is */
        end = put1(cl, "T", 0, 1000, i).phys_offset;
    cr_assert(end >= FILE_SIZE, "rolled into the second file");
    rk_commitlog_close(cl);
    path_of(next, sizeof next, 2 * FILE_SIZE);
    cr_assert(!rk_path_exists(next), "an unused spare does not outlive the store");
    cl = open_cl();
    cr_assert_eq(rk_commitlog_max_offset(cl), end + 1092, "reopens exactly where it ended");
    rk_commitlog_close(cl);
}

/* ---- batched wake-ups (rk_commitlog_batch_end) ---- */

typedef struct {
    atomic_int done, ok;
    rk_commitlog_t *cl;
    atomic_int_least64_t unflushed;     /* acks that came before their bytes were flushed */
} acks_t;

static void count_ack(void *arg, const rk_put_result_t *r)
{
    acks_t *a = arg;
    if (r->status == RK_PUT_OK)
        atomic_fetch_add(&a->ok, 1);
    if (rk_commitlog_flushed_offset(a->cl) < r->phys_offset + r->wrote_bytes)
        atomic_fetch_add(&a->unflushed, 1);
    atomic_fetch_add(&a->done, 1);
}

static void wait_acks(acks_t *a, int n)
{
    for (int i = 0; i < 1000 && atomic_load(&a->done) < n; i++)
        rk_sleep_ms(10);
    cr_assert_eq(atomic_load(&a->done), n, "every put is answered");
}

Test(commitlog, a_batch_of_sync_puts_is_answered_after_one_wake_and_flushed_together)
{
    cfg.flush_type = RK_FLUSH_SYNC;
    cfg.file_size = 1 << 20;
    rk_commitlog_t *cl = open_cl();
    cr_assert_eq(rk_commitlog_batch_end(cl), 0, "this thread batches from now on");
    acks_t a = {.cl = cl};
    uint64_t before = rk_commitlog_flush_count(cl);
    for (int i = 0; i < 50; i++) {
        rk_msg_t m = make_msg(cl, "T", 0, 300, i);
        cr_assert_eq(rk_commitlog_put_async(cl, &m, count_ack, &a), 0);
    }
    cr_assert_eq(rk_commitlog_batch_end(cl), 0);
    wait_acks(&a, 50);
    cr_assert_eq(atomic_load(&a.ok), 50);
    cr_assert_eq(atomic_load(&a.unflushed), 0, "SYNC_FLUSH answers only after the flush");
    uint64_t flushes = rk_commitlog_flush_count(cl) - before;
    cr_assert(flushes >= 1 && flushes < 10, "50 puts of one batch took %llu flushes", (unsigned long long)flushes);
    rk_commitlog_close(cl);
}

typedef struct {
    rk_commitlog_t *cl;
    int batch_end_rc;
    acks_t acks;
} other_t;

static void other_thread(void *arg)
{
    other_t *o = arg;
    o->batch_end_rc = rk_commitlog_batch_end(o->cl);
    rk_msg_t m = make_msg(o->cl, "T", 1, 100, 0);
    rk_commitlog_put_async(o->cl, &m, count_ack, &o->acks);    /* not batched: no batch_end needed */
}

Test(commitlog, only_the_batching_thread_defers_its_wakeups)
{
    cfg.flush_type = RK_FLUSH_SYNC;
    rk_commitlog_t *cl = open_cl();
    cr_assert_eq(rk_commitlog_batch_end(cl), 0);
    other_t o = {.cl = cl, .acks = {.cl = cl}};
    uv_thread_t t;
    uv_thread_create(&t, other_thread, &o);
    uv_thread_join(&t);
    cr_assert_eq(o.batch_end_rc, RK_EBUSY);
    wait_acks(&o.acks, 1);
    cr_assert_eq(atomic_load(&o.acks.ok), 1);
    rk_put_result_t r = put1(cl, "T", 0, 100, 0);      /* a blocking put on the batching thread */
    cr_assert_eq(r.status, RK_PUT_OK);
    cr_assert(rk_commitlog_flushed_offset(cl) >= r.phys_offset + r.wrote_bytes);
    rk_commitlog_close(cl);
}

typedef struct {
    rk_commitlog_t *cl;
    int64_t from;
    atomic_bool started;
    bool got;
    uint64_t took_ms;
} waiter_arg_t;

static void append_waiter(void *arg)
{
    waiter_arg_t *w = arg;
    uint64_t t0 = rk_mono_ms();
    atomic_store(&w->started, true);
    w->got = rk_commitlog_wait_append(w->cl, w->from, 10000);
    w->took_ms = rk_mono_ms() - t0;
}

Test(commitlog, batch_end_wakes_those_waiting_for_appends)
{
    rk_commitlog_t *cl = open_cl();
    cr_assert_eq(rk_commitlog_batch_end(cl), 0);
    put1(cl, "T", 0, 100, 0);
    waiter_arg_t w = {.cl = cl, .from = rk_commitlog_max_offset(cl)};
    uv_thread_t t;
    uv_thread_create(&t, append_waiter, &w);
    while (!atomic_load(&w.started))
        rk_sleep_ms(1);
    rk_sleep_ms(20);                /* most likely asleep in the wait by now */
    acks_t a = {.cl = cl};
    rk_msg_t m = make_msg(cl, "T", 0, 100, 1);
    cr_assert_eq(rk_commitlog_put_async(cl, &m, count_ack, &a), 0);
    cr_assert_eq(rk_commitlog_batch_end(cl), 0);
    uv_thread_join(&t);
    cr_assert(w.got);
    cr_assert(w.took_ms < 5000, "woken by batch_end, not timed out");
    rk_commitlog_close(cl);
}

/* ---- SYNC_FLUSH records go in with pwrite, a loop turn's together ---- */

static void other_put(void *arg)
{
    other_t *o = arg;
    rk_msg_t m = make_msg(o->cl, "U", 1, 100, 0);
    rk_commitlog_put_async(o->cl, &m, count_ack, &o->acks);
}

/* The batching thread's SYNC_FLUSH puts are stored at rk_commitlog_batch_end
 * (one pwrite per turn, not through the mapping): not readable before it,
 * answered only once flushed, and the file itself (read with pread, not
 * through the mapping) holds every record, across a roll, past the 64 KiB
 * write buffer and with a put from another thread in the middle of the
 * turn; a reopened log ends where it did. */
Test(commitlog, sync_puts_of_a_turn_reach_the_file_at_batch_end)
{
    cfg.flush_type = RK_FLUSH_SYNC;
    rk_commitlog_t *cl = open_cl();
    cr_assert_eq(rk_commitlog_batch_end(cl), 0);
    enum { N = 150, SIZE = 1000 };
    static int64_t phys[N];
    acks_t a = {.cl = cl};
    int64_t before = rk_commitlog_max_offset(cl);
    rk_msg_t m = make_msg(cl, "T", 0, SIZE, 0);
    cr_assert_eq(rk_commitlog_put_batch_async(cl, &m, 1, &phys[0], count_ack, &a), 0);
    cr_assert_eq(rk_commitlog_max_offset(cl), before, "not readable before the turn ends");
    cr_assert_eq(rk_commitlog_batch_end(cl), 0);
    cr_assert_gt(rk_commitlog_max_offset(cl), before, "readable once it ended");
    wait_acks(&a, 1);
    other_t o = {.cl = cl, .acks = {.cl = cl}};
    for (int i = 1; i < N; i++) {       /* one turn of 149 KiB: rolls (64 KiB files) */
        m = make_msg(cl, "T", 0, SIZE, i);
        cr_assert_eq(rk_commitlog_put_batch_async(cl, &m, 1, &phys[i], count_ack, &a), 0);
        if (i == N / 2) {
            uv_thread_t t;
            uv_thread_create(&t, other_put, &o);
            uv_thread_join(&t);
        }
    }
    cr_assert_eq(rk_commitlog_batch_end(cl), 0);
    wait_acks(&a, N);
    wait_acks(&o.acks, 1);
    cr_assert_eq(atomic_load(&a.ok), N);
    cr_assert_eq(atomic_load(&o.acks.ok), 1);
    cr_assert_eq(atomic_load(&a.unflushed), 0, "SYNC_FLUSH answers only after the flush");
    cr_assert_eq(atomic_load(&o.acks.unflushed), 0);
    cr_assert_geq(phys[N - 1], FILE_SIZE, "the turn rolled into another file");
    static uint8_t rec[SIZE + 512], want[SIZE];
    for (int i = 0; i < N; i++) {
        char path[300];
        path_of(path, sizeof path, phys[i] - phys[i] % FILE_SIZE);
        int fd = open(path, O_RDONLY);
        cr_assert(fd >= 0, "%s", path);
        ssize_t got = pread(fd, rec, sizeof rec, (off_t)(phys[i] % FILE_SIZE));
        close(fd);
        rk_record_t r;
        cr_assert(got > 0 && rk_record_decode(rec, (size_t)got, true, &r) == RK_OK, "record %d in the file", i);
        rk_rkstore_fill_body(want, SIZE, i);
        cr_assert(r.body_len == SIZE && memcmp(r.body, want, SIZE) == 0, "record %d's body", i);
        cr_assert_eq(r.queue_offset, i, "record %d's queue offset", i);
    }
    int64_t end = rk_commitlog_max_offset(cl);
    rk_commitlog_close(cl);
    cl = open_cl();
    cr_assert_eq(rk_commitlog_max_offset(cl), end, "reopens exactly where it ended");
    rk_commitlog_close(cl);
}
