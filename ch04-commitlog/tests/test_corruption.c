/* test_corruption.c — damage in the middle of the log is corruption, not a
 * torn write: recovery keeps every record that verifies, skips the damaged
 * range (its bytes stay on disk) and reports it; only a tail with nothing
 * valid after it is truncated. `rkstore verify` changes nothing on disk. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "rk/commitlog.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/rkstore.h"
#include "rk/testkit.h"

#define FILE_SIZE (256 * 1024)
#define N 3000
#define BODY 300

static char dir[256];
static rk_commitlog_config_t cfg;
static int64_t phys[N + 1];     /* phys[N] = end of the log */
static uint8_t body_buf[BODY];

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "corrupt"), 0);
    char log[300];
    snprintf(log, sizeof log, "%s/test.log", dir);
    FILE *f = fopen(log, "a");      /* ERROR lines are expected here: keep them out of the run */
    cr_assert_not_null(f);
    rk_log_init(RK_LOG_INFO, f);
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

TestSuite(corruption, .init = setup, .fini = teardown, .timeout = 60);

static rk_commitlog_t *open_cl(void)
{
    rk_commitlog_t *cl = NULL;
    char err[300] = "";
    int rc = rk_commitlog_open(&cfg, &cl, err, sizeof err);
    cr_assert_eq(rc, 0, "open: %s (%s)", err, rk_strerror(rc));
    return cl;
}

/* N records of BODY bytes in queue 0, closed cleanly. */
static void fill(void)
{
    rk_commitlog_t *cl = open_cl();
    for (int i = 0; i < N; i++) {
        rk_rkstore_fill_body(body_buf, BODY, i);
        rk_msg_t m = {.topic = "T", .topic_len = 1, .queue_id = 0, .body = body_buf, .body_len = BODY,
                      .store_host = *rk_commitlog_store_host(cl), .born_ts = 1};
        rk_host_parse("127.0.0.1:1234", &m.born_host);
        rk_put_result_t r;
        cr_assert_eq(rk_commitlog_put(cl, &m, &r), 0);
        cr_assert_eq(r.status, RK_PUT_OK);
        phys[i] = r.phys_offset;
    }
    phys[N] = rk_commitlog_max_offset(cl);
    rk_commitlog_close(cl);
}

static void file_of(char *out, size_t len, int64_t off)
{
    snprintf(out, len, "%s/commitlog/%020lld", dir, (long long)(off - off % FILE_SIZE));
}

static void write_at(int64_t off, const void *p, size_t n)
{
    char path[400];
    file_of(path, sizeof path, off);
    int fd = open(path, O_RDWR);
    cr_assert(fd >= 0);
    cr_assert_eq(pwrite(fd, p, n, off % FILE_SIZE), (ssize_t)n);
    close(fd);
}

static void read_at(int64_t off, void *p, size_t n)
{
    char path[400];
    file_of(path, sizeof path, off);
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(pread(fd, p, n, off % FILE_SIZE), (ssize_t)n);
    close(fd);
}

static int count_files(void)
{
    char d[400];
    snprintf(d, sizeof d, "%s/commitlog", dir);
    DIR *dd = opendir(d);
    cr_assert_not_null(dd);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dd)) != NULL)
        n += strlen(e->d_name) == 20;
    closedir(dd);
    return n;
}

/* Every record but `bad` reads back whole with a good CRC, in place. */
static void assert_all_but(rk_commitlog_t *cl, int bad)
{
    for (int i = 0; i < N; i++) {
        if (i == bad)
            continue;
        rk_slice_t s;
        rk_record_t rec;
        cr_assert_eq(rk_commitlog_read_record(cl, phys[i], &s, &rec), 0, "record %d", i);
        cr_assert_eq(rk_record_decode(s.data, s.len, true, &rec), 0, "record %d CRC", i);
        cr_assert_eq(rec.queue_offset, i);
        rk_slice_release(&s);
    }
}

/* The damaged record is in the newest three files (recovery scans them
 * after a clean shutdown), with more files after it. */
static int victim(void)
{
    int k = N * 2 / 3;
    cr_assert_lt(phys[k] / FILE_SIZE, phys[N] / FILE_SIZE, "files follow the victim's");
    cr_assert_geq(phys[k] / FILE_SIZE, phys[N] / FILE_SIZE - 2, "in the files recovery scans");
    return k;
}

static void reopen_and_check(int k, const uint8_t *damaged, size_t dlen, int64_t doff, bool crashed)
{
    int files = count_files();
    if (crashed) {
        char p[400];
        snprintf(p, sizeof p, "%s/abort", dir);
        FILE *f = fopen(p, "w");
        cr_assert_not_null(f);
        fclose(f);
    }
    rk_commitlog_t *cl = open_cl();
    cr_assert_eq(rk_commitlog_max_offset(cl), phys[N], "the log still ends where it did");
    cr_assert_eq(count_files(), files, "no file was deleted");
    assert_all_but(cl, k);
    rk_commitlog_damage_t d;
    rk_commitlog_damage_stats(cl, &d);
    cr_assert_eq(d.ranges, 1);
    cr_assert_eq(d.bytes, phys[k + 1] - phys[k]);
    cr_assert_eq(d.listed, 1);
    cr_assert_eq(d.list[0].from, phys[k]);
    cr_assert_eq(d.list[0].to, phys[k + 1]);
    cr_assert_eq(rk_commitlog_skip_damaged(cl, phys[k]), phys[k + 1]);
    cr_assert_eq(rk_commitlog_skip_damaged(cl, phys[k + 1]), phys[k + 1]);
    cr_assert_eq(rk_commitlog_next_valid(cl, phys[k]), phys[k + 1]);
    cr_assert_eq(rk_commitlog_next_valid(cl, phys[k - 1]), phys[k - 1]);
    rk_slice_t s;
    rk_record_t rec;
    cr_assert_eq(rk_commitlog_read_record(cl, phys[k], &s, &rec), RK_ECORRUPT, "never handed out");
    /* numbering continues after the last record */
    rk_rkstore_fill_body(body_buf, BODY, N);
    rk_msg_t m = {.topic = "T", .topic_len = 1, .body = body_buf, .body_len = BODY,
                  .store_host = *rk_commitlog_store_host(cl), .born_ts = 1};
    rk_host_parse("127.0.0.1:1234", &m.born_host);
    rk_put_result_t r;
    cr_assert_eq(rk_commitlog_put(cl, &m, &r), 0);
    cr_assert_eq(r.phys_offset, phys[N]);
    cr_assert_eq(r.queue_offset, N);
    rk_commitlog_close(cl);
    uint8_t now[128];
    cr_assert_leq(dlen, sizeof now);
    read_at(doff, now, dlen);
    cr_assert_eq(memcmp(now, damaged, dlen), 0, "the damaged bytes are still in the file");
}

Test(corruption, flipped_body_bytes_keep_every_later_record_and_file)
{
    fill();
    int k = victim();
    uint8_t b[4];
    int64_t at = phys[k] + (phys[k + 1] - phys[k]) / 2;     /* inside the body */
    read_at(at, b, 4);
    for (int i = 0; i < 4; i++)
        b[i] ^= 0x5a;
    write_at(at, b, 4);
    reopen_and_check(k, b, 4, at, false);
}

Test(corruption, zeroed_header_is_found_past_by_scanning)
{
    fill();
    int k = victim();
    uint8_t z[84] = {0};
    write_at(phys[k], z, sizeof z);
    reopen_and_check(k, z, sizeof z, phys[k], false);
}

Test(corruption, damage_after_a_crash_is_skipped_too)
{
    fill();
    int k = victim();
    uint8_t b[4] = {0xff, 0xff, 0xff, 0xff};       /* TOTALSIZE: absurd */
    write_at(phys[k], b, 4);
    reopen_and_check(k, b, 4, phys[k], true);
}

Test(corruption, a_torn_tail_is_still_truncated)
{
    fill();
    /* the last record's body damaged and a zero-filled file after it (a
     * file made ahead, as a crash leaves it): nothing valid follows */
    uint8_t b[4] = {1, 2, 3, 4};
    write_at(phys[N - 1] + 200, b, 4);
    char p[400];
    int64_t next = phys[N] - phys[N] % FILE_SIZE + FILE_SIZE;
    snprintf(p, sizeof p, "%s/commitlog/%020lld", dir, (long long)next);
    int fd = open(p, O_RDWR | O_CREAT, 0644);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, FILE_SIZE), 0);
    close(fd);
    rk_commitlog_t *cl = open_cl();
    cr_assert_eq(rk_commitlog_max_offset(cl), phys[N - 1], "truncated at the torn record");
    rk_commitlog_damage_t d;
    rk_commitlog_damage_stats(cl, &d);
    cr_assert_eq(d.ranges, 0, "a torn tail is not corruption");
    rk_commitlog_close(cl);
    cr_assert_eq(access(p, F_OK), -1, "the empty file after it is gone");
    uint8_t now[4];
    read_at(phys[N - 1] + 200, now, 4);
    cr_assert_eq(memcmp(now, (uint8_t[4]){0}, 4), 0, "the torn bytes were zeroed");
}

Test(corruption, a_clean_log_with_a_zero_tail_reports_nothing)
{
    fill();
    rk_commitlog_t *cl = open_cl();
    cr_assert_eq(rk_commitlog_max_offset(cl), phys[N]);
    rk_commitlog_damage_t d;
    rk_commitlog_damage_stats(cl, &d);
    cr_assert_eq(d.ranges, 0);
    cr_assert_eq(rk_commitlog_next_valid(cl, phys[N]), RK_ENOTFOUND, "nothing after the end");
    rk_commitlog_close(cl);
}

/* ---- rkstore verify: read-only, exact counts ---- */

typedef struct snap {
    char name[300];
    long long size, mtime_ns;
    unsigned long crc;
} snap_t;

/* name, size, mtime and CRC of every file under dir (two levels) */
static int snapshot(snap_t *out, int max)
{
    int n = 0;
    const char *subs[] = {"", "commitlog"};
    for (int s = 0; s < 2; s++) {
        char d[400];
        snprintf(d, sizeof d, "%s/%s", dir, subs[s]);
        DIR *dd = opendir(d);
        cr_assert_not_null(dd);
        struct dirent *e;
        while ((e = readdir(dd)) != NULL) {
            char p[700];
            snprintf(p, sizeof p, "%s/%s", d, e->d_name);
            struct stat st;
            if (e->d_name[0] == '.' || strcmp(e->d_name, "test.log") == 0 || stat(p, &st) != 0 ||
                !S_ISREG(st.st_mode))
                continue;
            cr_assert_lt(n, max);
            snap_t *x = &out[n++];
            snprintf(x->name, sizeof x->name, "%s/%s", s ? "cl" : "", e->d_name);
            x->size = (long long)st.st_size;
            x->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
            FILE *f = fopen(p, "rb");
            cr_assert_not_null(f);
            static unsigned char buf[65536];
            uLong c = crc32(0L, Z_NULL, 0);
            size_t r;
            while ((r = fread(buf, 1, sizeof buf, f)) > 0)
                c = crc32(c, buf, (uInt)r);
            fclose(f);
            x->crc = c;
        }
        closedir(dd);
    }
    return n;
}

static int cmp_snap(const void *a, const void *b) { return strcmp(((const snap_t *)a)->name, ((const snap_t *)b)->name); }

static char *verify_unchanged(int want_rc)
{
    snap_t before[64], after[64];
    int nb = snapshot(before, 64);
    char *out = NULL;
    char *argv[] = {(char *)rk_tk_bin("rkstore"), "verify", dir, NULL};
    int rc = rk_tk_run(argv, &out, 30000);
    cr_assert_eq(rc, want_rc, "verify exited %d:\n%s", rc, out);
    int na = snapshot(after, 64);
    cr_assert_eq(na, nb, "files appeared or vanished:\n%s", out);
    qsort(before, (size_t)nb, sizeof *before, cmp_snap);
    qsort(after, (size_t)na, sizeof *after, cmp_snap);
    for (int i = 0; i < nb; i++) {
        cr_assert_str_eq(after[i].name, before[i].name);
        cr_assert_eq(after[i].size, before[i].size, "%s", before[i].name);
        cr_assert_eq(after[i].crc, before[i].crc, "%s changed", before[i].name);
        cr_assert_eq(after[i].mtime_ns, before[i].mtime_ns, "%s written", before[i].name);
    }
    return out;
}

Test(corruption, verify_changes_nothing_and_counts_what_follows_the_damage)
{
    fill();
    int k = victim();
    uint8_t b[4] = {0xde, 0xad, 0xbe, 0xef};
    write_at(phys[k] + 150, b, 4);
    char p[400];
    snprintf(p, sizeof p, "%s/abort", dir);      /* as a crash leaves it */
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fclose(f);
    char *out = verify_unchanged(1);
    /* every record has the same size; the BLANKs closing files are not records */
    int64_t rec = phys[1] - phys[0];
    char want[200];
    snprintf(want, sizeof want, "after the first damage: %d valid records, %lld bytes", N - k - 1,
             (long long)((N - k - 1) * rec));
    cr_assert_not_null(strstr(out, want), "want \"%s\" in:\n%s", want, out);
    snprintf(want, sizeof want, "damaged [%lld, %lld)", (long long)phys[k], (long long)phys[k + 1]);
    cr_assert_not_null(strstr(out, want), "want \"%s\" in:\n%s", want, out);
    cr_assert_not_null(strstr(out, "CRASH"), "%s", out);
    cr_assert_null(strstr(out, "clean end"), "%s", out);
    free(out);
    cr_assert_eq(access(p, F_OK), 0, "abort is still there");
}

Test(corruption, verify_after_a_crash_does_not_say_clean_end)
{
    fill();
    char p[400];
    snprintf(p, sizeof p, "%s/abort", dir);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fclose(f);
    char *out = verify_unchanged(0);
    cr_assert_null(strstr(out, "clean end"), "%s", out);
    cr_assert_not_null(strstr(out, "crashed"), "%s", out);
    char want[100];
    snprintf(want, sizeof want, "%d valid records", N);
    cr_assert_not_null(strstr(out, want), "%s", out);
    free(out);
}

Test(corruption, a_lost_blank_at_the_end_of_a_file_is_not_damage)
{
    fill();
    /* the BLANK closing the victim's file never reached the disk: zeros
     * there, and the next file starts with a valid record */
    int k = victim();
    while (phys[k + 1] / FILE_SIZE == phys[k] / FILE_SIZE)
        k++;
    int64_t blank = phys[k] + (phys[1] - phys[0]);
    uint8_t z[8] = {0};
    write_at(blank, z, sizeof z);
    int files = count_files();
    rk_commitlog_t *cl = open_cl();
    cr_assert_eq(rk_commitlog_max_offset(cl), phys[N]);
    cr_assert_eq(count_files(), files);
    assert_all_but(cl, -1);
    rk_commitlog_damage_t d;
    rk_commitlog_damage_stats(cl, &d);
    cr_assert_eq(d.ranges, 0);
    cr_assert_eq(rk_commitlog_next_valid(cl, blank), phys[k + 1]);
    rk_commitlog_damage_stats(cl, &d);
    cr_assert_eq(d.ranges, 0);
    rk_commitlog_close(cl);
}
