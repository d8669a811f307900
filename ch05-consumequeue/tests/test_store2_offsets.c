/* test_store2_offsets.c — an offset in consumerOffset.json that is not a
 * queue offset (below -1, RocketMQ's "none"; fractional; past 2^53, where
 * a JSON number stops being read exactly) makes the file invalid, as any other bad entry does: the store
 * refuses to open, naming the file, and an ERROR line names the entry. It
 * used to load silently as "no offset", so the group restarted from its
 * consume-from policy (the verifier's finding after issue 9). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/consumer_offset.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"
#include "rk/message_store.h"
#include "rk/testkit.h"

static char dir[256], opath[400], logpath[400];
static FILE *logf;

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "offsets2"), 0);
    snprintf(opath, sizeof opath, "%s/config/consumerOffset.json", dir);
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

TestSuite(store2_offsets, .init = setup, .fini = teardown, .timeout = 60);

static int open_store(rk_store_t **st, char *err, size_t errlen)
{
    rk_kv_t kv;
    rk_kv_init(&kv);
    rk_kv_set(&kv, "mappedFileSizeCommitLog", "65536");
    rk_kv_set(&kv, "mappedFileSizeConsumeQueue", "1000");
    rk_kv_set(&kv, "maxHashSlotNum", "64");
    rk_kv_set(&kv, "maxIndexNum", "300");
    *st = NULL;
    int rc = rk_store_open(dir, &kv, st, err, errlen);
    rk_kv_free(&kv);
    return rc;
}

static void write_offsets(const char *offset_text)
{
    char doc[256];
    snprintf(doc, sizeof doc, "{\"offsetTable\":{\"T@g\":{0:7,1:%s},\"U@h\":{0:3}}}", offset_text);
    cr_assert_eq(rk_file_write_atomic(opath, doc, strlen(doc)), 0);
}

static char *read_log(void)
{
    fflush(logf);
    char *text = NULL;
    cr_assert_eq(rk_file_read_all(logpath, &text, NULL), 0);
    return text;
}

/* The log has an ERROR line holding every one of the needles. */
static bool error_line_with(const char *log, const char *a, const char *b)
{
    for (const char *line = log; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char buf[1024];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
        if (strstr(buf, "ERROR") && strstr(buf, a) && strstr(buf, b))
            return true;
        line = nl ? nl + 1 : NULL;
    }
    return false;
}

Test(store2_offsets, offsets_that_are_not_queue_offsets_make_the_file_invalid_naming_the_entry)
{
    rk_store_t *st;
    char err[1024] = "";
    cr_assert_eq(open_store(&st, err, sizeof err), 0, "%s", err);  /* makes config/ */
    rk_store_close(st);
    /* the ERROR line shows small values as written; large ones as the
     * double JSON reads them */
    const char *bad[] = {"-5", "-2", "1.5", "-9223372036854775808", "1e300", "-1e300",
                         "18014398509481984", "9223372036854775807", "9223372036854775808",
                         "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(truncate(logpath, 0), 0);
        rewind(logf);
        write_offsets(bad[i]);
        err[0] = '\0';
        cr_assert_neq(open_store(&st, err, sizeof err), 0, "offset %s loaded", bad[i]);
        cr_assert_null(st);
        cr_assert_not_null(strstr(err, opath), "offset %s: %s", bad[i], err);
        char *log = read_log();
        cr_assert(error_line_with(log, "entry \"T@g\" queue 1:", "the file is invalid"),
                  "offset %s: no ERROR naming the entry:\n%s", bad[i], log);
        if (i < 3)
            cr_assert(error_line_with(log, "queue 1:", bad[i]), "offset %s not shown:\n%s", bad[i], log);
        free(log);
    }
}

Test(store2_offsets, minus_one_is_no_offset_and_loads)
{
    rk_store_t *st;
    char err[1024] = "";
    cr_assert_eq(open_store(&st, err, sizeof err), 0, "%s", err);
    rk_store_close(st);
    write_offsets("-1");
    cr_assert_eq(open_store(&st, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rk_store_query_offset(st, "g", "T", 0), 7);
    cr_assert_eq(rk_store_query_offset(st, "g", "T", 1), -1);
    cr_assert_eq(rk_store_query_offset(st, "h", "U", 0), 3);
    rk_store_close(st);
    write_offsets("9007199254740992");    /* 2^53: the largest JSON number read exactly */
    cr_assert_eq(open_store(&st, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rk_store_query_offset(st, "g", "T", 1), 9007199254740992LL);
    rk_store_close(st);
}

Test(store2_offsets, decode_refuses_a_negative_offset_and_keeps_the_table)
{
    char path[400];
    snprintf(path, sizeof path, "%s/o.json", dir);
    rk_consumer_offsets_t *co;
    cr_assert_eq(rk_consumer_offsets_open(path, &co), 0);
    cr_assert_eq(rk_consumer_offsets_commit(co, "g", "T", 1, 42), 0);
    const char *doc = "{\"offsetTable\":{\"T@g\":{1:-5}}}";
    cr_assert_neq(rk_consumer_offsets_decode(co, doc, strlen(doc)), 0);
    cr_assert_eq(rk_consumer_offsets_query(co, "g", "T", 1), 42);
    rk_consumer_offsets_close(co);
}
