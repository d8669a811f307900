/* test_timer_store.c — the timer on a real store in this process (no network): the checkpoint
 * file is hostile input (checked whole; a broken one stops the start unless its .bak may be
 * used), and a replica takes its master's checkpoint only once its own log reached the
 * checkpoint's logPos. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"
#include "rk/testkit.h"
#include "rk/timer.h"

static char dir[256], path[512];
static rk_store_t *st;
static rk_timer_t *tm;
static rk_log_level_t old_level;

static void setup(void)
{
    old_level = rk_log_get_level();
    rk_log_set_level(RK_LOG_OFF);
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "timerstore"), 0);
    snprintf(path, sizeof path, "%s/config/timerCheckpoint.json", dir);
    rk_kv_t kv;
    rk_kv_init(&kv);
    rk_kv_set(&kv, "mappedFileSizeCommitLog", "1048576");
    char err[256] = "";
    cr_assert_eq(rk_store_open(dir, &kv, &st, err, sizeof err), 0, "%s", err);
    rk_kv_free(&kv);
}

static void teardown(void)
{
    rk_timer_stop(tm);
    if (st != NULL)
        rk_store_close(st);
    rk_timer_free(tm);
    tm = NULL;
    st = NULL;
    rk_tk_rmtree(dir);
    rk_log_set_level(old_level);
}

TestSuite(timer_store, .init = setup, .fini = teardown, .timeout = 30);

static bool never(void *ctx)
{
    (void)ctx;
    return false;
}

static int open_timer(bool fallback, char *err, size_t errlen)
{
    rk_timer_config_t c = {.checkpoint_path = path, .may_deliver = never, .fallback_to_bak = fallback};
    return rk_timer_new(st, &c, &tm, err, errlen);
}

static void write_file(const char *p, const char *text)
{
    char d[600];
    snprintf(d, sizeof d, "%s/config", dir);
    rk_mkdirs(d, 0755);
    FILE *f = fopen(p, "w");
    cr_assert(f != NULL);
    fputs(text, f);
    fclose(f);
}

Test(timer_store, a_broken_or_inconsistent_checkpoint_stops_the_start)
{
    const char *bad[] = {"not json", "{\"readOffset\":5,\"lowOffset\":9,\"progressMs\":0,\"logPos\":0}",
                         "{\"readOffset\":-1,\"lowOffset\":0,\"progressMs\":0,\"logPos\":0}",
                         "{\"readOffset\":5,\"lowOffset\":1,\"progressMs\":\"soon\",\"logPos\":0}",
                         "{\"readOffset\":5,\"lowOffset\":1,\"progressMs\":7}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(path, bad[i]);
        char err[512] = "";
        cr_assert_neq(open_timer(false, err, sizeof err), 0, "accepted: %s", bad[i]);
        cr_assert(tm == NULL && err[0] != '\0');
    }
    /* with metadataFallbackToBak the previous version is used */
    char bak[600], err[512] = "";
    snprintf(bak, sizeof bak, "%s.bak", path);
    write_file(bak, "{\"readOffset\":5,\"lowOffset\":1,\"progressMs\":7,\"logPos\":0}");
    cr_assert_eq(open_timer(true, err, sizeof err), 0, "%s", err);
    rk_timer_stats_t s;
    rk_timer_stats(tm, &s);
    cr_assert(s.read_offset == 5 && s.low_offset == 1 && s.progress_ms == 7);
}

Test(timer_store, a_copied_checkpoint_waits_for_the_log_it_counts)
{
    char err[512] = "";
    cr_assert_eq(open_timer(false, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rk_store_start(st), 0);
    cr_assert_eq(rk_timer_start(tm), 0);
    const char *ahead = "{\"readOffset\":7,\"lowOffset\":3,\"progressMs\":99,\"logPos\":1000000000}";
    cr_assert_eq(rk_timer_follow(tm, ahead, strlen(ahead)), 0);
    rk_timer_stats_t s;
    rk_timer_stats(tm, &s);
    cr_assert_eq(s.read_offset, 0, "a checkpoint ahead of this log is not taken");
    const char *reached = "{\"readOffset\":7,\"lowOffset\":3,\"progressMs\":99,\"logPos\":0}";
    cr_assert_eq(rk_timer_follow(tm, reached, strlen(reached)), 0);
    rk_timer_stats(tm, &s);
    cr_assert(s.read_offset == 7 && s.low_offset == 3 && s.progress_ms == 99 && !s.delivering);
    const char *hostile = "{\"readOffset\":7,\"lowOffset\":8,\"progressMs\":99,\"logPos\":0}";
    cr_assert_eq(rk_timer_follow(tm, hostile, strlen(hostile)), RK_ECORRUPT);
    rk_timer_stats(tm, &s);
    cr_assert_eq(s.low_offset, 3, "a rejected copy changes nothing");
    /* what a replica took is on its disk */
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(rk_file_read_all(path, &text, &len), 0);
    cr_assert(strstr(text, "\"readOffset\":7") != NULL, "%s", text);
    free(text);
}
