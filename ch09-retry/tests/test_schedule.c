/* test_schedule.c — delay levels on a real store (no network): a DELAY message is parked in
 * SCHEDULE_TOPIC_XXXX with its delivery time in the consume queue, comes back into its real
 * topic at its time (never before), levels are independent, and delayOffset.json carries the
 * progress across a restart. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"
#include "rk/schedule.h"
#include "rk/testkit.h"

static char dir[256];
static rk_store_t *st;
static rk_schedule_t *sch;
static rk_log_level_t old_level;

static void open_all_kv(const char *levels, const char *const *extra);
static void open_all(const char *levels) { open_all_kv(levels, NULL); }

/* extra: key, value, ..., NULL: more store settings */
static void open_all_kv(const char *levels, const char *const *extra)
{
    rk_kv_t kv;
    rk_kv_init(&kv);
    for (int i = 0; extra != NULL && extra[i] != NULL; i += 2)
        rk_kv_set(&kv, extra[i], extra[i + 1]);
    rk_kv_set(&kv, "mappedFileSizeCommitLog", "1048576");
    rk_kv_set(&kv, "mappedFileSizeConsumeQueue", "6000");
    char err[512] = "", path[512];
    cr_assert_eq(rk_store_open(dir, &kv, &st, err, sizeof err), 0, "%s", err);
    snprintf(path, sizeof path, "%s/config/delayOffset.json", dir);
    rk_schedule_config_t sc = {.levels = levels, .offset_path = path, .flush_interval_ms = 200};
    cr_assert_eq(rk_schedule_new(st, &sc, &sch, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rk_store_start(st), 0);
    cr_assert_eq(rk_schedule_start(sch), 0);
    rk_kv_free(&kv);
}

static void close_all(void)
{
    rk_schedule_stop(sch);
    rk_store_close(st);
    rk_schedule_free(sch);
    st = NULL;
    sch = NULL;
}

static void setup(void)
{
    old_level = rk_log_get_level();
    rk_log_set_level(RK_LOG_ERROR);
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "sched"), 0);
}

static void teardown(void)
{
    if (st != NULL)
        close_all();
    rk_tk_rmtree(dir);
    rk_log_set_level(old_level);
}

TestSuite(schedule, .init = setup, .fini = teardown, .timeout = 60);

/* Puts body to topic queue 0 with DELAY=level (0: none); returns the store time. */
static int64_t put(const char *topic, const char *body, int level)
{
    rk_buf_t props = {0};
    if (strlen(body) < 100)
        rk_props_put(&props, "KEYS", body);
    if (level > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", level);
        rk_props_put(&props, RK_PROP_DELAY, v);
    }
    rk_msg_t m = {.topic = topic, .topic_len = strlen(topic), .body = (const uint8_t *)body,
                  .body_len = strlen(body), .props = (const char *)props.data, .props_len = props.len,
                  .born_ts = rk_now_ms()};
    rk_host_parse("127.0.0.1:1", &m.born_host);
    rk_host_parse("127.0.0.1:2", &m.store_host);
    rk_put_result_t res;
    cr_assert_eq(rk_store_put(st, &m, &res), 0);
    cr_assert_eq(res.status, RK_PUT_OK);
    rk_buf_free(&props);
    return res.store_ts;
}

/* The message at offset off of topic/0: its body into body, store time returned (-1: none yet). */
static int64_t get(const char *topic, int64_t off, char *body, size_t len, char *props, size_t plen)
{
    rk_get_result_t r;
    cr_assert_eq(rk_store_get_message(st, "g", topic, 0, off, 1, 0, NULL, 0, &r), 0);
    int64_t ts = -1;
    if (r.status == RK_GET_FOUND && r.count == 1) {
        rk_record_t rec;
        cr_assert_eq(rk_record_decode(r.msgs[0].data, (size_t)r.msgs[0].size, true, &rec), 0);
        snprintf(body, len, "%.*s", (int)rec.body_len, (const char *)rec.body);
        if (props != NULL)
            snprintf(props, plen, "%.*s", (int)rec.props_len, rec.props);
        ts = rec.store_ts;
    }
    rk_get_result_release(&r);
    return ts;
}

static int64_t wait_get(const char *topic, int64_t off, char *body, size_t len, char *props, size_t plen, int ms)
{
    int64_t ts = -1;
    for (int i = 0; i < ms / 10 && (ts = get(topic, off, body, len, props, plen)) < 0; i++)
        usleep(10000);
    return ts;
}

Test(schedule, parses_levels)
{
    int64_t d[8];
    cr_assert_eq(rk_delay_levels_parse("1s 5s 2m 1h 1d", d, 8), 5);
    cr_assert_eq(d[0], 1000);
    cr_assert_eq(d[2], 120000);
    cr_assert_eq(d[4], 86400000);
    cr_assert_eq(rk_delay_levels_parse(RK_DELAY_LEVELS_DEFAULT, d, 8), RK_EINVAL, "too many for 8");
    const char *bad[] = {"", "5", "0s", "-1s", "1x", "1s2s", "99999999999999s", "31d", "s", NULL};
    for (int i = 0; bad[i]; i++)
        cr_assert_eq(rk_delay_levels_parse(bad[i], d, 8), RK_EINVAL, "\"%s\" accepted", bad[i]);
}

Test(schedule, parks_then_delivers_at_its_time)
{
    open_all("1s 2s");
    int64_t t0 = put("T", "later", 2);
    int64_t t1 = put("T", "now", 0);
    (void)t1;
    char body[64], props[512];
    /* parked: the real topic has only "now"; the schedule queue of level 2 (queue 1) has one unit */
    cr_assert_eq(rk_store_wait_dispatched(st, 5000), 0);
    cr_assert_geq(get("T", 0, body, sizeof body, NULL, 0), 0);
    cr_assert_str_eq(body, "now");
    rk_cq_unit_t u;
    cr_assert_eq(rk_store_read_units(st, RK_SCHEDULE_TOPIC, 1, 0, &u, 1), 1);
    cr_assert_eq(u.tag_code, t0 + 2000, "the unit carries the delivery time");
    int64_t ts = wait_get("T", 1, body, sizeof body, props, sizeof props, 10000);
    cr_assert_geq(ts, 0, "never delivered");
    cr_assert_str_eq(body, "later");
    cr_assert_geq(ts, t0 + 2000, "delivered %lld ms early", (long long)(t0 + 2000 - ts));
    cr_assert_null(strstr(props, "DELAY"), "DELAY is removed: %s", props);
    cr_assert_not_null(strstr(props, "REAL_TOPIC\001T"));
    cr_assert_not_null(strstr(props, "KEYS\001later"));
    cr_assert_eq(rk_schedule_offset(sch, 2), 1);
    cr_assert_eq(rk_schedule_offset(sch, 1), 0);
}

Test(schedule, a_long_level_does_not_hold_up_a_short_one)
{
    open_all("1s 30s");
    put("T", "slow", 2);
    int64_t t = put("T", "fast", 1);
    char body[64];
    int64_t ts = wait_get("T", 0, body, sizeof body, NULL, 0, 10000);
    cr_assert_geq(ts, t + 1000);
    cr_assert_str_eq(body, "fast");
}

Test(schedule, offsets_survive_a_restart)
{
    open_all("1s 3s");
    put("T", "a", 1);
    put("T", "b", 2);
    char body[64];
    cr_assert_geq(wait_get("T", 0, body, sizeof body, NULL, 0, 10000), 0);
    cr_assert_str_eq(body, "a");
    close_all();    /* "b" still parked */
    char path[512], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/config/delayOffset.json", dir);
    cr_assert_eq(rk_file_read_all(path, &text, &len), 0);
    cr_assert_not_null(strstr(text, "1:1"), "level 1 at 1, bare int keys as RocketMQ: %s", text);
    cr_assert_not_null(strstr(text, "2:0"), "%s", text);
    free(text);
    open_all("1s 3s");
    cr_assert_geq(wait_get("T", 1, body, sizeof body, NULL, 0, 10000), 0);
    cr_assert_str_eq(body, "b");
    usleep(1200 * 1000);
    cr_assert_lt(get("T", 2, body, sizeof body, NULL, 0), 0, "\"a\" was delivered again: %s", body);
}

/* delayOffset.json may say "delivered" only once the restored copy is on disk: with a commitlog
 * that is not flushed, the file keeps the old offset; after the flush it moves. (A power cut
 * between the two would otherwise lose the message; no power needs cutting to see the order.) */
Test(schedule, offsets_wait_for_the_commitlog_flush_of_what_they_count)
{
    const char *const lazy[] = {"flushCommitLogLeastPages", "64", "flushCommitLogThoroughInterval", "3600000",
                                "flushIntervalCommitLog", "20", NULL};
    open_all_kv("1s", lazy);
    rk_commitlog_t *cl = rk_store_commitlog(st);
    put("T", "a", 1);
    char body[64], path[512], *text = NULL;
    size_t len;
    cr_assert_geq(wait_get("T", 0, body, sizeof body, NULL, 0, 10000), 0, "not delivered");
    cr_assert_eq(rk_schedule_offset(sch, 1), 1);
    cr_assert_lt(rk_commitlog_flushed_offset(cl), rk_store_commitlog_max(st), "the log was flushed already");
    cr_assert_eq(rk_schedule_persist(sch), 0);
    snprintf(path, sizeof path, "%s/config/delayOffset.json", dir);
    if (rk_file_read_all(path, &text, &len) == 0)
        cr_assert_null(strstr(text, "1:1"), "written before the delivery reached the disk: %s", text);
    free(text);
    text = NULL;
    /* 300 KiB more: past flushCommitLogLeastPages, so the flush thread writes everything */
    size_t big = 300 * 1024;
    char *filler = malloc(big + 1);
    memset(filler, 'x', big);
    filler[big] = '\0';
    put("Filler", filler, 0);
    free(filler);
    int64_t end = rk_store_commitlog_max(st);
    for (int i = 0; i < 500 && rk_commitlog_flushed_offset(cl) < end; i++)
        usleep(10000);
    cr_assert_geq(rk_commitlog_flushed_offset(cl), end, "the commitlog was never flushed");
    cr_assert_eq(rk_schedule_persist(sch), 0);
    cr_assert_eq(rk_file_read_all(path, &text, &len), 0);
    cr_assert_not_null(strstr(text, "1:1"), "not written after the flush: %s", text);
    free(text);
}

Test(schedule, refuses_a_corrupt_offset_file)
{
    char cfg[300], path[512], err[512] = "";
    snprintf(cfg, sizeof cfg, "%s/config", dir);
    rk_mkdirs(cfg, 0755);
    snprintf(path, sizeof path, "%s/delayOffset.json", cfg);
    cr_assert_eq(rk_file_write_atomic(path, "{\"offsetTable\":{1:-5}}", 22), 0);
    rk_store_t *s2;
    cr_assert_eq(rk_store_open(dir, NULL, &s2, err, sizeof err), 0, "%s", err);
    rk_schedule_config_t sc = {.levels = "1s", .offset_path = path};
    rk_schedule_t *x = NULL;
    cr_assert_neq(rk_schedule_new(s2, &sc, &x, err, sizeof err), 0, "a negative offset was accepted");
    cr_assert_null(x);
    rk_store_close(s2);
}

static bool never(void *ctx)
{
    (void)ctx;
    return false;
}

/* A replica takes its master's offsets only once its own log holds what they count as delivered
 * ("logPos"); a copy without logPos (RocketMQ's) is taken at once. */
Test(schedule, a_copied_offset_waits_for_the_log_it_counts)
{
    rk_kv_t kv;
    rk_kv_init(&kv);
    rk_kv_set(&kv, "mappedFileSizeCommitLog", "1048576");
    char err[512] = "", path[512];
    cr_assert_eq(rk_store_open(dir, &kv, &st, err, sizeof err), 0, "%s", err);
    snprintf(path, sizeof path, "%s/config/delayOffset.json", dir);
    rk_schedule_config_t sc = {.levels = "1s 2s", .offset_path = path, .may_deliver = never};
    cr_assert_eq(rk_schedule_new(st, &sc, &sch, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rk_store_start(st), 0);
    cr_assert_eq(rk_schedule_start(sch), 0);
    rk_kv_free(&kv);
    const char *ahead = "{\"offsetTable\":{1:5,2:7},\"logPos\":1000000}";
    cr_assert_eq(rk_schedule_follow(sch, ahead, strlen(ahead)), 0);
    cr_assert_eq(rk_schedule_offset(sch, 1), 0, "a copy ahead of this log is not taken");
    const char *reached = "{\"offsetTable\":{1:5,2:7},\"logPos\":0}";
    cr_assert_eq(rk_schedule_follow(sch, reached, strlen(reached)), 0);
    cr_assert_eq(rk_schedule_offset(sch, 1), 5);
    cr_assert_eq(rk_schedule_offset(sch, 2), 7);
    const char *rocketmq = "{\"offsetTable\":{1:6,2:8}}";
    cr_assert_eq(rk_schedule_follow(sch, rocketmq, strlen(rocketmq)), 0);
    cr_assert_eq(rk_schedule_offset(sch, 2), 8);
    char *text = rk_schedule_encode(sch);
    cr_assert(text != NULL && strstr(text, "\"logPos\"") != NULL, "%s", text ? text : "");
    free(text);
}
