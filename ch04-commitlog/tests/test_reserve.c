/* test_reserve.c — blocks before bytes (issue 9 items 2 and 6): every
 * mapped file has its blocks reserved before a write lands in it, growing
 * files reserve in chunks, a full disk (the rk_prealloc seam returning
 * -ENOSPC) is an error and never a SIGBUS, and resetting a file's tail
 * (recovery) does not fault its holes into memory. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rk/checkpoint.h"
#include "rk/commitlog.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/mapped_file.h"
#include "rk/rkstore.h"
#include "rk/testkit.h"

static char dir[256];
static FILE *logf;

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "reserve"), 0);
    char p[300];
    snprintf(p, sizeof p, "%s/test.log", dir);
    logf = fopen(p, "w");
    cr_assert(logf != NULL);
    rk_log_init(RK_LOG_INFO, logf);
}

static void teardown(void)
{
    rk_mapped_file_set_prealloc(NULL);
    rk_log_init(RK_LOG_INFO, NULL);
    if (logf)
        fclose(logf);
    rk_tk_rmtree(dir);
}

TestSuite(reserve, .init = setup, .fini = teardown, .timeout = 30);

static int no_space(int fd, int64_t offset, int64_t len)
{
    (void)fd; (void)offset; (void)len;
    return -ENOSPC;
}

/* -ENOSPC for commitlog files only (the checkpoint keeps its block). */
static int no_space_in_commitlog(int fd, int64_t offset, int64_t len)
{
    char link[64], path[512];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    path[n > 0 ? n : 0] = '\0';
    if (strstr(path, "/commitlog/"))
        return -ENOSPC;
    int rc = posix_fallocate(fd, (off_t)offset, (off_t)len);
    return rc == 0 ? 0 : -rc;
}

static long long disk_bytes(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s", path);
    return (long long)st.st_blocks * 512;
}

#define MB (1024 * 1024)

Test(reserve, a_growing_file_has_its_size_but_blocks_only_ahead_of_the_writer)
{
    rk_mapped_file_t *mf;
    cr_assert_eq(rk_mapped_file_open_grow(dir, 0, 8 * MB, true, &mf), 0);
    struct stat st;
    cr_assert_eq(stat(mf->path, &st), 0);
    cr_assert_eq(st.st_size, 8 * MB);
    cr_assert_eq(atomic_load(&mf->reserved), 4096);
    cr_assert_leq(disk_bytes(mf->path), 8192);
    /* doubling, page aligned, covering what is asked */
    cr_assert_eq(rk_mapped_file_reserve(mf, 4097), 0);
    cr_assert_eq(atomic_load(&mf->reserved), 8192);
    cr_assert_eq(rk_mapped_file_reserve(mf, 100000), 0);
    cr_assert_eq(atomic_load(&mf->reserved), 102400);
    cr_assert_geq(disk_bytes(mf->path), 100000);
    /* steps stop doubling at 1 MiB and never pass the end */
    cr_assert_eq(rk_mapped_file_reserve(mf, 3 * MB + 1), 0);
    cr_assert_eq(rk_mapped_file_reserve(mf, 3 * MB + 4096 + 1), 0);
    cr_assert_eq(atomic_load(&mf->reserved), 4 * MB + 4096);
    cr_assert_eq(rk_mapped_file_reserve(mf, 100 * MB), 0);
    cr_assert_eq(atomic_load(&mf->reserved), 8 * MB);
    rk_mapped_file_release(mf);
}

Test(reserve, no_space_is_an_error_and_reserves_nothing)
{
    rk_mapped_file_t *mf;
    cr_assert_eq(rk_mapped_file_open_grow(dir, 0, MB, true, &mf), 0);
    rk_mapped_file_set_prealloc(no_space);
    cr_assert_eq(rk_mapped_file_reserve(mf, 4096), 0, "within the reservation: no call");
    cr_assert_eq(rk_mapped_file_reserve(mf, 4097), -ENOSPC);
    cr_assert_eq(atomic_load(&mf->reserved), 4096);
    rk_mapped_file_release(mf);
    /* a new file: nothing is left behind */
    cr_assert_eq(rk_mapped_file_open_grow(dir, MB, MB, true, &mf), -ENOSPC);
    cr_assert_eq(rk_mapped_file_open(dir, 2 * MB, MB, true, &mf), -ENOSPC);
    char p[300];
    snprintf(p, sizeof p, "%s/%020d", dir, MB);
    cr_assert_eq(access(p, F_OK), -1);
}

Test(reserve, the_checkpoint_gets_its_block_or_an_error)
{
    char p[300];
    snprintf(p, sizeof p, "%s/checkpoint", dir);
    rk_mapped_file_set_prealloc(no_space);
    rk_checkpoint_t *cp = NULL;
    cr_assert_eq(rk_checkpoint_open(p, &cp), -ENOSPC, "not a hole that a later store faults on");
    rk_mapped_file_set_prealloc(NULL);
    cr_assert_eq(rk_checkpoint_open(p, &cp), 0);
    cr_assert_geq(disk_bytes(p), 4096);
    rk_checkpoint_set_physic(cp, 42);
    rk_checkpoint_close(cp);
}

/* A commitlog in dir with 1 MiB files (every file's end is in reach of the prefault thread);
 * prefault_ahead < 0 keeps prefaultAheadBytes' default. */
static rk_commitlog_t *open_mb_log(rk_commitlog_config_t *cfg, int64_t prefault_ahead)
{
    char err[300] = "";
    cr_assert_eq(rk_commitlog_config_load(cfg, NULL, err, sizeof err), 0);
    free(cfg->store_root);
    cfg->store_root = strdup(dir);
    cfg->file_size = MB;
    if (prefault_ahead >= 0)
        cfg->prefault_ahead = prefault_ahead;
    rk_commitlog_t *cl;
    cr_assert_eq(rk_commitlog_open(cfg, &cl, err, sizeof err), 0, "%s", err);
    return cl;
}

/* A message to topic T with body (len bytes), born at 127.0.0.1:1234. */
static rk_msg_t test_msg(rk_commitlog_t *cl, const uint8_t *body, size_t len)
{
    rk_msg_t m = {.topic = "T", .topic_len = 1, .body = body, .body_len = len,
                  .store_host = *rk_commitlog_store_host(cl), .born_ts = 1};
    rk_host_parse("127.0.0.1:1234", &m.born_host);
    return m;
}

Test(reserve, a_commitlog_file_with_holes_is_reserved_before_the_put)
{
    rk_commitlog_config_t cfg;
    char err[300] = "";
    rk_commitlog_t *cl = open_mb_log(&cfg, -1);
    static uint8_t body[1000];
    rk_msg_t m = test_msg(cl, body, sizeof body);
    rk_put_result_t r;
    cr_assert_eq(rk_commitlog_put(cl, &m, &r), 0);
    cr_assert_eq(r.status, RK_PUT_OK);
    int64_t end = rk_commitlog_max_offset(cl);
    rk_commitlog_close(cl);
    /* a store copied with `cp --sparse` (or extended by hand): the tail is a hole */
    char p[300];
    snprintf(p, sizeof p, "%s/commitlog/%020d", dir, 0);
    int fd = open(p, O_RDWR);
    cr_assert(fd >= 0);
    cr_assert_eq(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 65536, MB - 65536), 0);
    close(fd);
    /* reopened on a full disk: the hole cannot be filled at load (a warning),
     * and a put into it is refused instead of faulting */
    rk_mapped_file_set_prealloc(no_space_in_commitlog);
    cr_assert_eq(rk_commitlog_open(&cfg, &cl, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rk_commitlog_max_offset(cl), end);
    cr_assert_eq(rk_commitlog_put(cl, &m, &r), 0);
    cr_assert_eq(r.status, RK_PUT_CREATE_MAPEDFILE_FAILED, "put into a hole on a full disk: %s",
                 rk_put_status_name(r.status));
    cr_assert_eq(rk_commitlog_max_offset(cl), end, "nothing written");
    rk_mapped_file_set_prealloc(NULL);
    cr_assert_eq(rk_commitlog_put(cl, &m, &r), 0);
    cr_assert_eq(r.status, RK_PUT_OK);
    cr_assert_eq(r.phys_offset, end);
    cr_assert_geq(disk_bytes(p), MB, "the hole has its blocks again");
    rk_commitlog_close(cl);
    rk_commitlog_config_free(&cfg);
}

/* Resident set of this process, KiB (pages of file mappings it touched count). */
static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    cr_assert(f != NULL);
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

Test(reserve, resetting_a_tail_reads_only_the_pages_that_hold_data)
{
    rk_mapped_file_t *mf;
    cr_assert_eq(rk_mapped_file_open_grow(dir, 0, 8 * MB, true, &mf), 0);
    cr_assert_eq(rk_mapped_file_reserve(mf, 10000), 0);
    memset(mf->base, 'x', 10000);
    cr_assert_eq(msync(mf->base, 12288, MS_SYNC), 0);
    rk_mapped_file_release(mf);
    /* reloaded: recovery says the data ends at 5000 */
    cr_assert_eq(rk_mapped_file_open_grow(dir, 0, 8 * MB, false, &mf), 0);
    long before = rss_kb();
    rk_mapped_file_reset_to(mf, 5000);
    long grew = rss_kb() - before;
    cr_assert_eq(mf->base[4999], 'x');
    for (int i = 5000; i < 12288; i++)
        cr_assert_eq(mf->base[i], 0, "byte %d", i);
    /* the 8 MB past the data were not faulted in (before: all of them) */
    cr_assert_lt(grew, 1024, "reset_to faulted in %ld KiB of holes", grew);
    rk_mapped_file_release(mf);
}

/* Pre-writing zeros ahead of the writer (the prefault thread) changes bytes,
 * unlike faulting pages in: it must never reach a byte the writer claimed,
 * and never allocate blocks (only what is reserved). */
Test(reserve, a_prewrite_never_zeroes_what_the_writer_claimed)
{
    rk_mapped_file_t *mf;
    cr_assert_eq(rk_mapped_file_open(dir, 0, MB, true, &mf), 0);
    rk_mapped_file_claim(mf, 1000);
    memset(mf->base, 'x', 1000);
    atomic_store(&mf->wrote, 1000);
    cr_assert_eq(rk_mapped_file_prewrite(mf, 0, MB), 0, "stops before the writer's claim");
    int64_t c = atomic_load(&mf->claimed);
    cr_assert_geq(c, 1000);
    int64_t from = (c + 4095) / 4096 * 4096;
    cr_assert_eq(rk_mapped_file_prewrite(mf, from, MB), MB, "past the claim: to the end");
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(mf->base[i], 'x', "byte %d kept", i);
    for (int64_t i = from; i < MB; i += 997)
        cr_assert_eq(mf->base[i], 0);
    /* the writer goes on into pre-written pages */
    rk_mapped_file_claim(mf, MB);
    memset(mf->base + from, 'y', 4096);
    cr_assert_eq(rk_mapped_file_flush(mf, 0) >= 0, true);
    uint8_t b[4096];
    cr_assert_eq(pread(mf->fd, b, sizeof b, from), (ssize_t)sizeof b);
    cr_assert_eq(b[0], 'y');
    cr_assert_eq(b[4095], 'y');
    rk_mapped_file_destroy(mf);
    rk_mapped_file_release(mf);
}

Test(reserve, a_prewrite_stops_at_the_reserved_blocks)
{
    rk_mapped_file_t *mf;
    cr_assert_eq(rk_mapped_file_open_grow(dir, 0, MB, true, &mf), 0);
    int64_t reserved = atomic_load(&mf->reserved);
    cr_assert_lt(reserved, MB);
    cr_assert_eq(rk_mapped_file_prewrite(mf, 0, MB), reserved);
    cr_assert_eq(rk_mapped_file_data_end(mf, 0), reserved, "no data past the reservation");
    rk_mapped_file_destroy(mf);
    rk_mapped_file_release(mf);
}

static int count_record(void *ctx, const rk_record_t *rec, bool crc_ok)
{
    (void)rec;
    cr_assert(crc_ok);
    (*(int64_t *)ctx)++;
    return 0;
}

/* The prefault thread pre-writes ahead while puts run as fast as they can,
 * across several files (1 MiB: every file's end is in reach of it): every
 * record put is on disk, whole, after the close. */
Test(reserve, records_survive_the_prefault_threads_prewrite)
{
    rk_commitlog_config_t cfg;
    rk_commitlog_t *cl = open_mb_log(&cfg, -1);
    static uint8_t body[100];
    rk_msg_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = test_msg(cl, body, sizeof body);
    rk_put_result_t r;
    int64_t n = 0;
    for (int round = 0; round < 3000; round++) {
        int k = 1 + round % 16;
        cr_assert_eq(rk_commitlog_put_batch(cl, m, k, &r, NULL), 0);
        cr_assert_eq(r.status, RK_PUT_OK);
        n += k;
    }
    rk_commitlog_close(cl);
    char cdir[300];
    snprintf(cdir, sizeof cdir, "%s/commitlog", dir);
    int64_t seen = 0;
    rk_scan_report_t rep;
    cr_assert_eq(rk_commitlog_scan_dir(cdir, MB, 0, true, count_record, &seen, &rep), 0);
    cr_assert_eq(seen, n, "%lld of %lld records", (long long)seen, (long long)n);
    cr_assert_eq(rep.how, RK_SCAN_END_CLEAN);
    cr_assert_eq(rep.damage.ranges, 0);
    rk_commitlog_config_free(&cfg);
}

/* How many of the first `len` bytes' pages of path are in the page cache (mincore). */
static int resident_pages(const char *path, size_t len)
{
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
    void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    cr_assert(p != MAP_FAILED);
    unsigned char vec[64];
    size_t pages = len / 4096;
    cr_assert(pages <= sizeof vec);
    cr_assert_eq(mincore(p, len, vec), 0);
    int n = 0;
    for (size_t i = 0; i < pages; i++)
        n += vec[i] & 1;
    munmap(p, len);
    close(fd);
    return n;
}

/* Near a file's end, the prefault thread does the part of prefaultAheadBytes past the end in
 * the next file (made ahead by the flush thread), before the writer rolls into it: the roll
 * finds its first pages in the page cache, instead of one large fill after the roll. */
Test(reserve, the_next_files_head_is_ready_before_the_roll)
{
    rk_commitlog_config_t cfg;
    rk_commitlog_t *cl = open_mb_log(&cfg, 256 * 1024);
    static uint8_t body[1000];
    rk_msg_t m = test_msg(cl, body, sizeof body);
    rk_put_result_t r;
    cr_assert_eq(rk_commitlog_put_batch(cl, &m, 1, &r, NULL), 0);
    char spare[400];
    snprintf(spare, sizeof spare, "%s/commitlog/%020d", dir, MB);
    for (int i = 0; i < 200 && access(spare, F_OK) != 0; i++)
        usleep(10000);
    cr_assert_eq(access(spare, F_OK), 0, "the flush thread did not make the next file ahead");
    /* far from the end: nothing of the next file is touched yet (fallocate reserves blocks, it
     * reads and writes no page) */
    usleep(100000);
    cr_assert_eq(resident_pages(spare, 64 * 4096), 0, "the next file's pages were touched too early");
    /* within prefaultAheadBytes of the end, without reaching it */
    while (rk_commitlog_max_offset(cl) < MB - 128 * 1024) {
        cr_assert_eq(rk_commitlog_put_batch(cl, &m, 1, &r, NULL), 0);
        cr_assert_eq(r.status, RK_PUT_OK);
    }
    cr_assert_lt(rk_commitlog_max_offset(cl), MB - 64 * 1024, "rolled already");
    /* the writer is at least 128 KiB past MB - prefaultAheadBytes: the next file's first
     * 32 pages are due; ask for 16 */
    int n = 0;
    for (int i = 0; i < 200 && (n = resident_pages(spare, 16 * 4096)) < 16; i++)
        usleep(10000);
    cr_assert_eq(n, 16, "only %d of the next file's first 16 pages are in the page cache", n);
    rk_commitlog_close(cl);
    rk_commitlog_config_free(&cfg);
}
