/* test_cq.c — one consume queue on its own: units, rolls, min/max, recovery,
 * truncation, lookup by time, cleanup, and slices that outlive a delete. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/consumequeue.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/testkit.h"

static char dir[256];
static void setup(void) { cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "cq"), 0); }
static void teardown(void) { rk_tk_rmtree(dir); }
TestSuite(cq, .init = setup, .fini = teardown);

#define FILE_UNITS 10
#define FSIZE (FILE_UNITS * RK_CQ_UNIT_SIZE)

/* message i: phys 1000 + 100 i, size 100, tag i % 3 */
static rk_cq_unit_t unit_of(int64_t i) { return (rk_cq_unit_t){1000 + 100 * i, 100, i % 3}; }

static void fill(rk_cq_t *cq, int64_t from, int64_t to)
{
    for (int64_t i = from; i < to; i++) {
        rk_cq_unit_t u = unit_of(i);
        cr_assert_eq(rk_cq_put(cq, i, &u), 1, "put %lld", (long long)i);
    }
}

Test(cq, puts_roll_files_and_reads_stop_at_file_end_and_max)
{
    rk_cq_t *cq;
    cr_assert_eq(rk_cq_open(dir, "T", 3, FSIZE, &cq), 0);
    cr_assert_eq(rk_cq_max_offset(cq), 0);
    fill(cq, 0, 25);
    cr_assert_eq(rk_cq_min_offset(cq), 0);
    cr_assert_eq(rk_cq_max_offset(cq), 25);
    cr_assert_eq(rk_cq_max_phys(cq), 1000 + 100 * 24 + 100);
    cr_assert_eq(rk_cq_file_count(cq), 3);
    char p[400];
    snprintf(p, sizeof p, "%s/T/3/%020d", dir, 2 * FSIZE);
    cr_assert(rk_path_exists(p), "%s", p);
    cr_assert_eq(rk_tk_file_size(p), FSIZE);

    rk_cq_slice_t s;
    cr_assert_eq(rk_cq_read(cq, 7, &s), 0);
    cr_assert_eq(s.count, 3);                          /* to the end of file 0 */
    rk_cq_unit_t u = rk_cq_unit_decode(s.units + 2 * RK_CQ_UNIT_SIZE);
    cr_assert_eq(u.phys, 1000 + 900);
    rk_cq_slice_release(&s);
    cr_assert_eq(rk_cq_read(cq, 21, &s), 0);
    cr_assert_eq(s.count, 4);                          /* to max, not to the file end */
    rk_cq_slice_release(&s);
    cr_assert_eq(rk_cq_read(cq, 25, &s), RK_ENOTFOUND);
    cr_assert_eq(rk_cq_read(cq, -1, &s), RK_ENOTFOUND);

    /* repeats are ignored, a gap is filled with blanks */
    rk_cq_unit_t again = unit_of(3);
    cr_assert_eq(rk_cq_put(cq, 3, &again), 0);
    rk_cq_unit_t late = unit_of(27);
    cr_assert_eq(rk_cq_put(cq, 27, &late), 1);
    cr_assert_eq(rk_cq_max_offset(cq), 28);
    cr_assert_eq(rk_cq_get_unit(cq, 25, &u), 0);
    cr_assert(rk_cq_unit_is_blank(&u));
    rk_cq_close(cq);
}

Test(cq, reopen_recovers_to_last_valid_unit)
{
    rk_cq_t *cq;
    cr_assert_eq(rk_cq_open(dir, "T", 0, FSIZE, &cq), 0);
    fill(cq, 0, 34);
    rk_cq_close(cq);
    /* a torn last unit (zeros) in file 3: recovery stops before it */
    char p[400];
    snprintf(p, sizeof p, "%s/T/0/%020d", dir, 3 * FSIZE);
    FILE *f = fopen(p, "r+b");
    cr_assert_not_null(f);
    fseek(f, 3 * RK_CQ_UNIT_SIZE + 8, SEEK_SET);
    uint8_t z[4] = {0};
    fwrite(z, 1, 4, f);                                 /* size of unit 33 = 0 */
    fclose(f);
    cr_assert_eq(rk_cq_open(dir, "T", 0, FSIZE, &cq), 0);
    cr_assert_eq(rk_cq_max_offset(cq), 40);             /* loaded files count as full */
    rk_cq_recover(cq);
    cr_assert_eq(rk_cq_max_offset(cq), 33);
    cr_assert_eq(rk_cq_max_phys(cq), 1000 + 100 * 32 + 100);
    fill(cq, 33, 36);
    cr_assert_eq(rk_cq_max_offset(cq), 36);
    rk_cq_close(cq);
}

Test(cq, truncate_phys_drops_units_past_the_log_end_across_files)
{
    rk_cq_t *cq;
    cr_assert_eq(rk_cq_open(dir, "T", 0, FSIZE, &cq), 0);
    fill(cq, 0, 25);
    cr_assert_eq(rk_cq_truncate_phys(cq, 1000 + 100 * 18 + 50), 6);   /* 19..24 point past */
    cr_assert_eq(rk_cq_max_offset(cq), 19);
    cr_assert_eq(rk_cq_max_phys(cq), 1000 + 1800 + 100);
    cr_assert_eq(rk_cq_file_count(cq), 2);
    cr_assert_eq(rk_cq_truncate_phys(cq, 1000 + 100 * 9), 10);        /* file 1 emptied */
    cr_assert_eq(rk_cq_max_offset(cq), 9);
    cr_assert_eq(rk_cq_file_count(cq), 1);
    fill(cq, 9, 12);
    cr_assert_eq(rk_cq_max_offset(cq), 12);
    rk_cq_close(cq);
}

Test(cq, queue_starting_past_zero_gets_blank_head_and_min_offset)
{
    rk_cq_t *cq;
    cr_assert_eq(rk_cq_open(dir, "T", 0, FSIZE, &cq), 0);
    fill(cq, 23, 26);
    cr_assert_eq(rk_cq_min_offset(cq), 23);
    cr_assert_eq(rk_cq_max_offset(cq), 26);
    cr_assert_eq(rk_cq_file_count(cq), 1);
    rk_cq_slice_t s;
    cr_assert_eq(rk_cq_read(cq, 22, &s), RK_ENOTFOUND);
    rk_cq_close(cq);
    /* reopen: blanks survive recovery; min is corrected past them */
    cr_assert_eq(rk_cq_open(dir, "T", 0, FSIZE, &cq), 0);
    rk_cq_recover(cq);
    cr_assert_eq(rk_cq_max_offset(cq), 26);
    cr_assert_eq(rk_cq_delete_expired(cq, 0), 0);
    cr_assert_eq(rk_cq_min_offset(cq), 23);
    rk_cq_close(cq);
}

static int64_t fake_ts(int64_t phys, int32_t size, void *ctx)
{
    (void)size; (void)ctx;
    int64_t i = (phys - 1000) / 100;
    return 10000 + i / 2 * 10;               /* two messages per timestamp */
}

Test(cq, offset_by_time_binary_searches_store_time)
{
    rk_cq_t *cq;
    cr_assert_eq(rk_cq_open(dir, "T", 0, FSIZE, &cq), 0);
    cr_assert_eq(rk_cq_offset_by_time(cq, 5, fake_ts, NULL), 0);
    fill(cq, 0, 40);                          /* ts 10000 .. 10190 */
    for (int64_t t = 10000; t < 10200; t += 10)     /* exact: the first of the two */
        cr_assert_eq(rk_cq_offset_by_time(cq, t, fake_ts, NULL), (t - 10000) / 10 * 2, "ts %lld", (long long)t);
    cr_assert_eq(rk_cq_offset_by_time(cq, 10103, fake_ts, NULL) / 2, 10);   /* nearer left */
    cr_assert_eq(rk_cq_offset_by_time(cq, 10107, fake_ts, NULL) / 2, 11);   /* nearer right */
    cr_assert_eq(rk_cq_offset_by_time(cq, 1, fake_ts, NULL), 0);
    cr_assert_eq(rk_cq_offset_by_time(cq, 99999, fake_ts, NULL), 39);
    rk_cq_close(cq);
}

Test(cq, delete_expired_keeps_slices_valid_and_corrects_min)
{
    rk_cq_t *cq;
    cr_assert_eq(rk_cq_open(dir, "T", 0, FSIZE, &cq), 0);
    fill(cq, 0, 35);
    rk_cq_slice_t held;
    cr_assert_eq(rk_cq_read(cq, 2, &held), 0);
    /* commitlog now starts at message 13: file 0 (0..9) goes, min → 13 */
    cr_assert_eq(rk_cq_delete_expired(cq, 1000 + 100 * 13), 1);
    cr_assert_eq(rk_cq_min_offset(cq), 13);
    cr_assert_eq(rk_cq_file_count(cq), 3);
    char p[400];
    snprintf(p, sizeof p, "%s/T/0/%020d", dir, 0);
    /* the held slice still reads the deleted, still mapped, file; ch04's
     * mapped file unlinks it when the last reference goes */
    rk_cq_unit_t u = rk_cq_unit_decode(held.units);
    cr_assert_eq(u.phys, 1200);
    rk_cq_slice_release(&held);
    cr_assert_not(rk_path_exists(p));
    rk_cq_slice_t s;
    cr_assert_eq(rk_cq_read(cq, 12, &s), RK_ENOTFOUND);
    cr_assert_eq(rk_cq_read(cq, 13, &s), 0);
    rk_cq_slice_release(&s);
    /* the newest file is never deleted */
    cr_assert_eq(rk_cq_delete_expired(cq, 1 << 30), 2);
    cr_assert_eq(rk_cq_file_count(cq), 1);
    cr_assert_eq(rk_cq_min_offset(cq), 35);
    cr_assert_eq(rk_cq_flush(cq, 0), 0);
    rk_cq_close(cq);
}

Test(cq, repairs_short_files_and_refuses_oversized_ones_and_bad_names)
{
    char p[400], d[420];
    snprintf(p, sizeof p, "%s/T/0", dir);
    cr_assert_eq(rk_mkdirs(p, 0755), 0);
    snprintf(p, sizeof p, "%s/T/0/%020d", dir, 0);
    FILE *f = fopen(p, "w");
    fputs("xx", f);                             /* a short file that is not the newest */
    fclose(f);
    snprintf(p, sizeof p, "%s/T/0/%020d", dir, FSIZE);
    f = fopen(p, "w");
    cr_assert_eq(ftruncate(fileno(f), FSIZE), 0);
    fclose(f);
    /* loaded, not refused (issue 9 item 11): the queue ends in the short
     * file, which and every later file are kept aside as .damaged */
    rk_cq_t *cq = NULL;
    cr_assert_eq(rk_cq_open(dir, "T", 0, FSIZE, &cq), 0);
    cr_assert(rk_cq_was_repaired(cq));
    rk_cq_recover(cq);
    cr_assert_eq(rk_cq_max_offset(cq), 0);
    rk_cq_close(cq);
    snprintf(d, sizeof d, "%s.damaged", p);
    cr_assert(rk_path_exists(d));
    cr_assert_not(rk_path_exists(p));
    snprintf(d, sizeof d, "%s/T/0/%020d.damaged", dir, 0);
    cr_assert(rk_path_exists(d));
    /* a file larger than the configured size: mappedFileSizeConsumeQueue changed */
    snprintf(p, sizeof p, "%s/T/1/%020d", dir, 0);
    cr_assert_eq(rk_mkdirs(p, 0755), 0);
    cr_assert_eq(rmdir(p), 0);
    f = fopen(p, "w");
    cr_assert_eq(ftruncate(fileno(f), 2 * FSIZE), 0);
    fclose(f);
    cr_assert_eq(rk_cq_open(dir, "T", 1, FSIZE, &cq), RK_ECORRUPT);
    cr_assert_eq(rk_cq_open(dir, "../x", 0, FSIZE, &cq), RK_EINVAL);
    cr_assert_eq(rk_cq_open(dir, "T", 1, 30, &cq), RK_EINVAL);
}

Test(cq, a_newest_file_cut_short_by_a_crash_is_dropped)
{
    rk_cq_t *cq;
    cr_assert_eq(rk_cq_open(dir, "T", 0, FSIZE, &cq), 0);
    fill(cq, 0, 10);                            /* file 0 full */
    rk_cq_close(cq);
    char p[400];
    snprintf(p, sizeof p, "%s/T/0/%020d", dir, FSIZE);
    FILE *f = fopen(p, "w");                    /* created, never allocated */
    fclose(f);
    cr_assert_eq(rk_cq_open(dir, "T", 0, FSIZE, &cq), 0);
    rk_cq_recover(cq);
    cr_assert_eq(rk_cq_max_offset(cq), 10);
    cr_assert_not(rk_path_exists(p));
    fill(cq, 10, 12);
    cr_assert_eq(rk_cq_max_offset(cq), 12);
    rk_cq_close(cq);
}

Test(cq, destroy_removes_the_folder)
{
    rk_cq_t *cq;
    cr_assert_eq(rk_cq_open(dir, "T", 1, FSIZE, &cq), 0);
    fill(cq, 0, 12);
    cr_assert_eq(rk_cq_destroy(cq), 0);
    char p[400];
    snprintf(p, sizeof p, "%s/T/1", dir);
    cr_assert_not(rk_path_exists(p));
}
