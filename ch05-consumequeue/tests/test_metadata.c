/* test_metadata.c — config/consumerOffset.json is never rolled back
 * silently (issue 9, item 10): an unusable file with a .bak present stops
 * the store with a message naming both, unless metadataFallbackToBak=true;
 * a missing file loads its .bak; writes are atomic (tmp + fsync + rename +
 * folder fsync) and a failed step is reported, the primary untouched. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rk/consumer_offset.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"
#include "rk/message_store.h"
#include "rk/testkit.h"

static char dir[256], opath[400], obak[420], logpath[400];
static FILE *logf;

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "meta"), 0);
    snprintf(opath, sizeof opath, "%s/config/consumerOffset.json", dir);
    snprintf(obak, sizeof obak, "%s.bak", opath);
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

TestSuite(metadata, .init = setup, .fini = teardown, .timeout = 60);

static int open_store(bool fallback, rk_store_t **st, char *err, size_t errlen)
{
    rk_kv_t kv;
    rk_kv_init(&kv);
    rk_kv_set(&kv, "mappedFileSizeCommitLog", "65536");
    rk_kv_set(&kv, "mappedFileSizeConsumeQueue", "1000");
    rk_kv_set(&kv, "maxHashSlotNum", "64");
    rk_kv_set(&kv, "maxIndexNum", "300");
    if (fallback)
        rk_kv_set(&kv, "metadataFallbackToBak", "true");
    int rc = rk_store_open(dir, &kv, st, err, errlen);
    rk_kv_free(&kv);
    return rc;
}

/* consumerOffset.json says 200 and its .bak says 100, as after two persists. */
static void two_versions(void)
{
    rk_store_t *st;
    char err[512];
    cr_assert_eq(open_store(false, &st, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rk_store_commit_offset(st, "g", "T", 0, 100), 0);
    cr_assert_eq(rk_store_persist_offsets(st), 0);
    cr_assert_eq(rk_store_commit_offset(st, "g", "T", 0, 200), 0);
    cr_assert_eq(rk_store_persist_offsets(st), 0);
    rk_store_close(st);
    cr_assert(rk_path_exists(obak));
}

static char *slurp(const char *path)
{
    char *text = NULL;
    fflush(logf);
    cr_assert_eq(rk_file_read_all(path, &text, NULL), 0);
    return text;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(metadata, invalid_offsets_file_with_bak_refuses_to_open_naming_both_files)
{
    two_versions();
    write_file(opath, "{\"offsetTable\":{\"T@g\":{0:2");      /* not JSON */
    rk_store_t *st = NULL;
    char err[1024] = "";
    int rc = open_store(false, &st, err, sizeof err);
    cr_assert_neq(rc, 0, "opened a store whose consumerOffset.json is invalid");
    cr_assert_null(st);
    cr_assert_not_null(strstr(err, opath), "%s", err);
    cr_assert_not_null(strstr(err, obak), "%s", err);
    cr_assert_not_null(strstr(err, "metadataFallbackToBak=true"), "%s", err);
    /* nothing was rewritten: both files are as they were */
    char *text = slurp(opath);
    cr_assert_str_eq(text, "{\"offsetTable\":{\"T@g\":{0:2");
    free(text);
    text = slurp(obak);
    cr_assert_not_null(strstr(text, "0:100"));
    free(text);
}

Test(metadata, empty_offsets_file_with_bak_refuses_too)
{
    two_versions();
    write_file(opath, "");
    rk_store_t *st = NULL;
    char err[1024] = "";
    cr_assert_neq(open_store(false, &st, err, sizeof err), 0);
    cr_assert_not_null(strstr(err, obak), "%s", err);
}

Test(metadata, opt_in_loads_the_bak_and_says_so_at_error_level)
{
    two_versions();
    write_file(opath, "garbage");
    rk_store_t *st = NULL;
    char err[1024] = "";
    cr_assert_eq(open_store(true, &st, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rk_store_query_offset(st, "g", "T", 0), 100);
    rk_store_close(st);
    char *log = slurp(logpath);
    const char *line = strstr(log, "loaded its previous version");
    cr_assert_not_null(line, "%s", log);
    cr_assert_not_null(strstr(log, "ERROR"), "%s", log);
    free(log);
    /* the next persist wrote a good primary again (from the .bak's content) */
    char *text = slurp(opath);
    cr_assert_not_null(strstr(text, "0:100"), "%s", text);
    free(text);
}

Test(metadata, missing_offsets_file_loads_its_bak_with_a_warning)
{
    two_versions();
    cr_assert_eq(remove(opath), 0);
    rk_store_t *st = NULL;
    char err[1024] = "";
    cr_assert_eq(open_store(false, &st, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rk_store_query_offset(st, "g", "T", 0), 100);
    rk_store_close(st);
    char *log = slurp(logpath);
    cr_assert_not_null(strstr(log, "is missing; loaded its previous version"), "%s", log);
    free(log);
}

Test(metadata, invalid_offsets_file_without_bak_refuses_and_says_there_is_none)
{
    rk_store_t *st;
    char err[1024] = "";
    cr_assert_eq(open_store(false, &st, err, sizeof err), 0, "%s", err);  /* makes config/ */
    rk_store_close(st);
    write_file(opath, "[");
    st = NULL;
    cr_assert_neq(open_store(true, &st, err, sizeof err), 0);
    cr_assert_not_null(strstr(err, opath), "%s", err);
    cr_assert_not_null(strstr(err, "no "), "%s", err);
}

Test(metadata, atomic_write_replaces_the_file_whole_and_leaves_no_tmp)
{
    char path[400], tmp[420], bak[420];
    snprintf(path, sizeof path, "%s/x.json", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    snprintf(bak, sizeof bak, "%s.bak", path);
    /* a .tmp left by a crash in the middle of a write is not read, and is replaced */
    write_file(tmp, "{\"half");
    cr_assert_eq(rk_file_write_atomic(path, "{\"v\":1}", 7), 0);
    cr_assert_eq(rk_file_write_atomic(path, "{\"v\":2}", 7), 0);
    cr_assert_not(rk_path_exists(tmp));
    char *text = slurp(path);
    cr_assert_str_eq(text, "{\"v\":2}");
    free(text);
    text = slurp(bak);
    cr_assert_str_eq(text, "{\"v\":1}");
    free(text);
    /* a step that fails (the .tmp cannot be created) is an error, and the
     * primary keeps its content */
    cr_assert_eq(mkdir(tmp, 0755), 0);
    cr_assert_lt(rk_file_write_atomic(path, "{\"v\":3}", 7), 0);
    text = slurp(path);
    cr_assert_str_eq(text, "{\"v\":2}");
    free(text);
    rmdir(tmp);
}

Test(metadata, offsets_table_alone_refuses_without_opt_in)
{
    two_versions();
    write_file(opath, "{");
    rk_consumer_offsets_t *co = NULL;
    char err[1024] = "";
    cr_assert_eq(rk_consumer_offsets_open_opts(opath, false, err, sizeof err, &co), RK_ECORRUPT);
    cr_assert_null(co);
    cr_assert_eq(rk_consumer_offsets_open_opts(opath, true, err, sizeof err, &co), 0, "%s", err);
    cr_assert_eq(rk_consumer_offsets_query(co, "g", "T", 0), 100);
    rk_consumer_offsets_close(co);
}
