/* test_offsets.c — consumer offset table and consumerOffset.json persistence. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/consumer_offset.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/testkit.h"

static char dir[256], path[320];

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "offsets"), 0);
    snprintf(path, sizeof path, "%s/consumerOffset.json", dir);
}
static void teardown(void) { rk_tk_rmtree(dir); }

TestSuite(offsets, .init = setup, .fini = teardown);

Test(offsets, groups_are_independent_and_survive_reopen)
{
    rk_consumer_offsets_t *co;
    cr_assert_eq(rk_consumer_offsets_open(path, &co), 0);
    cr_assert_eq(rk_consumer_offsets_query(co, "g1", "T", 0), -1);
    cr_assert_eq(rk_consumer_offsets_commit(co, "g1", "T", 0, 12), 0);
    cr_assert_eq(rk_consumer_offsets_commit(co, "g1", "T", 3, 40), 0);
    cr_assert_eq(rk_consumer_offsets_commit(co, "g2", "T", 0, 5), 0);
    cr_assert_eq(rk_consumer_offsets_commit(co, "g1", "T", -1, 5), RK_EINVAL);
    cr_assert_eq(rk_consumer_offsets_commit(co, "g1", "T", 0, -3), RK_EINVAL);
    cr_assert_eq(rk_consumer_offsets_query(co, "g1", "T", 0), 12);
    cr_assert_eq(rk_consumer_offsets_query(co, "g1", "T", 1), -1);
    cr_assert_eq(rk_consumer_offsets_query(co, "g2", "T", 0), 5);
    cr_assert_eq(rk_consumer_offsets_persist(co, false), 0);
    rk_consumer_offsets_close(co);

    cr_assert_eq(rk_consumer_offsets_open(path, &co), 0);
    cr_assert_eq(rk_consumer_offsets_query(co, "g1", "T", 0), 12);
    cr_assert_eq(rk_consumer_offsets_query(co, "g1", "T", 3), 40);
    cr_assert_eq(rk_consumer_offsets_query(co, "g2", "T", 0), 5);
    cr_assert_eq(rk_consumer_offsets_query(co, "g2", "T", 3), -1);
    rk_consumer_offsets_close(co);
}

Test(offsets, file_is_rocketmq_format_with_bare_int_keys)
{
    rk_consumer_offsets_t *co;
    cr_assert_eq(rk_consumer_offsets_open(path, &co), 0);
    cr_assert_eq(rk_consumer_offsets_commit(co, "cg", "TopicTest", 1, 40), 0);
    cr_assert_eq(rk_consumer_offsets_commit(co, "cg", "TopicTest", 0, 12), 0);
    cr_assert_eq(rk_consumer_offsets_persist(co, false), 0);
    rk_consumer_offsets_close(co);
    char *text = NULL;
    cr_assert_eq(rk_file_read_all(path, &text, NULL), 0);
    cr_assert_str_eq(text, "{\n\t\"offsetTable\":{\n\t\t\"TopicTest@cg\":{\n\t\t\t0:12,\n\t\t\t1:40\n\t\t}\n\t}\n}");
    free(text);
}

Test(offsets, reads_java_written_files_quoted_or_not_and_ignores_unknown_fields)
{
    const char *java = "{\"dataVersion\":{\"counter\":3,\"timestamp\":1},\"offsetTable\":{"
                       "\"%RETRY%cg@cg\":{0:0},\"TopicTest@cg\":{0:250,1:249,\"2\":\"251\"}}}";
    cr_assert_eq(rk_file_write_atomic(path, java, strlen(java)), 0);
    rk_consumer_offsets_t *co;
    cr_assert_eq(rk_consumer_offsets_open(path, &co), 0);
    cr_assert_eq(rk_consumer_offsets_query(co, "cg", "TopicTest", 0), 250);
    cr_assert_eq(rk_consumer_offsets_query(co, "cg", "TopicTest", 1), 249);
    cr_assert_eq(rk_consumer_offsets_query(co, "cg", "TopicTest", 2), 251);
    cr_assert_eq(rk_consumer_offsets_query(co, "cg", "%RETRY%cg", 0), 0);
    rk_consumer_offsets_close(co);
}

Test(offsets, crash_between_tmp_and_rename_loses_nothing)
{
    rk_consumer_offsets_t *co;
    cr_assert_eq(rk_consumer_offsets_open(path, &co), 0);
    cr_assert_eq(rk_consumer_offsets_commit(co, "g", "T", 0, 7), 0);
    cr_assert_eq(rk_consumer_offsets_persist(co, false), 0);
    rk_consumer_offsets_close(co);
    /* The process died after writing a half .tmp and before the rename. */
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fputs("{\"offsetTable\":{\"T@g\":{0:9", f);
    fclose(f);
    cr_assert_eq(rk_consumer_offsets_open(path, &co), 0);
    cr_assert_eq(rk_consumer_offsets_query(co, "g", "T", 0), 7);
    /* The next persist replaces the stale .tmp and keeps the previous file as .bak. */
    cr_assert_eq(rk_consumer_offsets_commit(co, "g", "T", 0, 8), 0);
    cr_assert_eq(rk_consumer_offsets_persist(co, false), 0);
    rk_consumer_offsets_close(co);
    cr_assert_not(rk_path_exists(tmp));
    char bak[400], *text = NULL;
    snprintf(bak, sizeof bak, "%s.bak", path);
    cr_assert_eq(rk_file_read_all(bak, &text, NULL), 0);
    cr_assert_not_null(strstr(text, "0:7"));
    free(text);
}

Test(offsets, falls_back_to_bak_when_file_is_corrupt_or_empty_if_opted_in)
{
    rk_consumer_offsets_t *co;
    cr_assert_eq(rk_consumer_offsets_open(path, &co), 0);
    cr_assert_eq(rk_consumer_offsets_commit(co, "g", "T", 0, 1), 0);
    cr_assert_eq(rk_consumer_offsets_persist(co, false), 0);
    cr_assert_eq(rk_consumer_offsets_commit(co, "g", "T", 0, 2), 0);
    cr_assert_eq(rk_consumer_offsets_persist(co, false), 0);   /* .bak holds 1, file holds 2 */
    rk_consumer_offsets_close(co);

    FILE *f = fopen(path, "w");                                 /* torn by hand */
    fputs("{\"offsetTable\":{\"T@g\":{0:", f);
    fclose(f);
    /* refused by default (test_metadata.c); loaded when the operator opts in */
    cr_assert_eq(rk_consumer_offsets_open(path, &co), RK_ECORRUPT);
    cr_assert_eq(rk_consumer_offsets_open_opts(path, true, NULL, 0, &co), 0);
    cr_assert_eq(rk_consumer_offsets_query(co, "g", "T", 0), 1);
    rk_consumer_offsets_close(co);

    f = fopen(path, "w");                                       /* empty */
    fclose(f);
    cr_assert_eq(rk_consumer_offsets_open_opts(path, true, NULL, 0, &co), 0);
    cr_assert_eq(rk_consumer_offsets_query(co, "g", "T", 0), 1);
    /* loaded from .bak: the next persist writes a good main file even unchanged */
    cr_assert_eq(rk_consumer_offsets_persist(co, false), 0);
    rk_consumer_offsets_close(co);
    char *text = NULL;
    cr_assert_eq(rk_file_read_all(path, &text, NULL), 0);
    cr_assert_not_null(strstr(text, "0:1"));
    free(text);
}

Test(offsets, both_files_corrupt_is_an_error_not_an_empty_table)
{
    char bak[400];
    snprintf(bak, sizeof bak, "%s.bak", path);
    FILE *f = fopen(path, "w");
    fputs("garbage", f);
    fclose(f);
    f = fopen(bak, "w");
    fputs("{\"offsetTable\":[1]}", f);
    fclose(f);
    rk_consumer_offsets_t *co = NULL;
    cr_assert_eq(rk_consumer_offsets_open(path, &co), RK_ECORRUPT);
    cr_assert_null(co);
}

Test(offsets, persist_skips_unchanged_table_and_remove_forgets_a_group)
{
    rk_consumer_offsets_t *co;
    cr_assert_eq(rk_consumer_offsets_open(path, &co), 0);
    cr_assert_eq(rk_consumer_offsets_persist(co, false), 0);
    cr_assert_not(rk_path_exists(path));                       /* nothing changed yet */
    cr_assert_eq(rk_consumer_offsets_commit(co, "g", "T", 2, 3), 0);
    cr_assert_eq(rk_consumer_offsets_persist(co, false), 0);
    cr_assert(rk_path_exists(path));
    cr_assert_eq(rk_consumer_offsets_remove(co, "g", "T"), 0);
    cr_assert_eq(rk_consumer_offsets_remove(co, "g", "T"), RK_ENOTFOUND);
    cr_assert_eq(rk_consumer_offsets_query(co, "g", "T", 2), -1);
    rk_consumer_offsets_close(co);
}

static int count_visit(const char *k, int q, int64_t o, void *ctx)
{
    (void)k; (void)q;
    *(int64_t *)ctx += o;
    return 0;
}

Test(offsets, foreach_visits_every_offset)
{
    rk_consumer_offsets_t *co;
    cr_assert_eq(rk_consumer_offsets_open(path, &co), 0);
    rk_consumer_offsets_commit(co, "a", "T", 0, 1);
    rk_consumer_offsets_commit(co, "a", "T", 9, 10);
    rk_consumer_offsets_commit(co, "b", "U", 1, 100);
    int64_t sum = 0;
    cr_assert_eq(rk_consumer_offsets_foreach(co, count_visit, &sum), 0);
    cr_assert_eq(sum, 111);
    rk_consumer_offsets_close(co);
}

static int list_visit(const char *key, int qid, int64_t off, void *ctx)
{
    char *out = ctx;
    size_t l = strlen(out);
    snprintf(out + l, 512 - l, "%s/%d=%lld ", key, qid, (long long)off);
    return 0;
}

/* A group's consume stats walk its own offsets: only that group's, in topic then qid order, and
 * not a group whose name ends like it (or a group with an '@' in its name). */
Test(offsets, foreach_of_group_visits_that_group_only_in_order)
{
    rk_consumer_offsets_t *co;
    cr_assert_eq(rk_consumer_offsets_open(path, &co), 0);
    rk_consumer_offsets_commit(co, "G", "T2", 1, 21);
    rk_consumer_offsets_commit(co, "G", "T1", 3, 13);
    rk_consumer_offsets_commit(co, "G", "T1", 0, 10);
    rk_consumer_offsets_commit(co, "xG", "T1", 0, 99);
    rk_consumer_offsets_commit(co, "a@G", "T1", 0, 98);
    rk_consumer_offsets_commit(co, "H", "T3", 0, 97);
    char out[512] = "";
    cr_assert_eq(rk_consumer_offsets_foreach_of_group(co, "G", list_visit, out), 0);
    cr_assert_str_eq(out, "T1@G/0=10 T1@G/3=13 T2@G/1=21 ");
    out[0] = '\0';
    cr_assert_eq(rk_consumer_offsets_foreach_of_group(co, "a@G", list_visit, out), 0);
    cr_assert_str_eq(out, "T1@a@G/0=98 ");
    out[0] = '\0';
    cr_assert_eq(rk_consumer_offsets_foreach_of_group(co, "nobody", list_visit, out), 0);
    cr_assert_str_eq(out, "");
    rk_consumer_offsets_close(co);
}
