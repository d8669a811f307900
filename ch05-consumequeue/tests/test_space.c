/* test_space.c — disk blocks and memory of consume queues and the index
 * (issue 9 items 2 and 6).
 *
 *   - a queue that holds one message takes a page of disk, not 6 MB, while
 *     its file keeps RocketMQ's logical size and name;
 *   - writing past the first chunk works, and survives a reopen;
 *   - no space at a growth step (the rk_prealloc seam returns -ENOSPC) is a
 *     clean error: nothing written, nothing lost, the next put after space
 *     returns continues where it stopped;
 *   - the index out of space skips keys instead of crashing or stalling
 *     consumers;
 *   - reopening many one-message queues does not fault whole files in;
 *   - diskSpaceWarningLevelRatio below the disk's use makes the store read-only.
 *
 * The seam fails only for the files a test names, so the rest of the store
 * keeps working. Logs go to a file in the test's folder. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/consumequeue.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/index.h"
#include "rk/log.h"
#include "rk/mapped_file.h"
#include "rk/message_store.h"
#include "rk/testkit.h"

#define CQ_FILE 6000000     /* RocketMQ's mappedFileSizeConsumeQueue */

static char dir[256];
static FILE *logf;

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "space"), 0);
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

TestSuite(space, .init = setup, .fini = teardown, .timeout = 60);

/* ---- the seam: -ENOSPC for chosen files -------------------------------- */

static const char *fail_path_part;     /* fail files whose path contains this */
static int64_t fail_from;              /* ... for reservations reaching past this offset */

static int picky_prealloc(int fd, int64_t offset, int64_t len)
{
    char link[64], path[512];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    path[n > 0 ? n : 0] = '\0';
    if (fail_path_part && strstr(path, fail_path_part) && offset + len > fail_from)
        return -ENOSPC;
    int rc = posix_fallocate(fd, (off_t)offset, (off_t)len);
    return rc == 0 ? 0 : -rc;
}

static void fail_space(const char *path_part, int64_t from)
{
    fail_path_part = path_part;
    fail_from = from;
    rk_mapped_file_set_prealloc(picky_prealloc);
}

/* ---- helpers ------------------------------------------------------------ */

static rk_store_t *open_store(const char *k1, const char *v1)
{
    rk_kv_t kv;
    rk_kv_init(&kv);
    rk_kv_set(&kv, "mappedFileSizeCommitLog", "1048576");
    rk_kv_set(&kv, "prefaultAheadBytes", "0");
    rk_kv_set(&kv, "maxHashSlotNum", "1000");
    rk_kv_set(&kv, "maxIndexNum", "4000");
    if (k1)
        rk_kv_set(&kv, k1, v1);
    rk_store_t *st = NULL;
    char err[256];
    int rc = rk_store_open(dir, &kv, &st, err, sizeof err);
    rk_kv_free(&kv);
    cr_assert_eq(rc, 0, "open: %s", err);
    cr_assert_eq(rk_store_start(st), 0);
    return st;
}

static rk_put_result_t put(rk_store_t *st, const char *topic, const char *keys)
{
    rk_buf_t props = {0};
    if (keys)
        rk_props_put(&props, RK_PROP_KEYS, keys);
    rk_msg_t m = {.topic = topic, .topic_len = strlen(topic), .born_ts = rk_now_ms(),
                  .body = (const uint8_t *)"body", .body_len = 4, .props = (const char *)props.data,
                  .props_len = props.len};
    rk_host_parse("127.0.0.1:5555", &m.born_host);
    rk_host_parse("127.0.0.1:10911", &m.store_host);
    rk_put_result_t r;
    cr_assert_eq(rk_store_put(st, &m, &r), 0);
    rk_buf_free(&props);
    return r;
}

static void cq_path(char *out, size_t len, const char *topic, int64_t base)
{
    snprintf(out, len, "%s/consumequeue/%s/0/%020lld", dir, topic, (long long)base);
}

static rk_cq_unit_t unit_for(int64_t i) { return (rk_cq_unit_t){i * 100, 100, i % 7}; }

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

/* ---- tests -------------------------------------------------------------- */

Test(space, one_message_queues_take_a_page_of_disk_not_a_whole_file)
{
    rk_store_t *st = open_store(NULL, NULL);
    for (int i = 0; i < 40; i++) {
        char t[32];
        snprintf(t, sizeof t, "one-%d", i);
        cr_assert_eq(put(st, t, NULL).status, RK_PUT_OK);
    }
    cr_assert_eq(rk_store_wait_dispatched(st, 10000), 0);
    rk_store_close(st);
    for (int i = 0; i < 40; i++) {
        char t[32], p[512];
        snprintf(t, sizeof t, "one-%d", i);
        cq_path(p, sizeof p, t, 0);
        struct stat sb;
        cr_assert_eq(stat(p, &sb), 0, "%s", p);
        cr_assert_eq(sb.st_size, CQ_FILE, "the file keeps RocketMQ's size");
        cr_assert_leq((long long)sb.st_blocks * 512, 64 * 1024,
                      "%s takes %lld bytes of disk for one unit", p, (long long)sb.st_blocks * 512);
    }
    /* and they read back after a restart */
    st = open_store(NULL, NULL);
    for (int i = 0; i < 40; i++) {
        char t[32];
        snprintf(t, sizeof t, "one-%d", i);
        cr_assert_eq(rk_store_max_offset(st, t, 0), 1);
        rk_cq_unit_t u;
        cr_assert_eq(rk_store_read_units(st, t, 0, 0, &u, 1), 1);
        cr_assert_gt(u.size, 0);
    }
    rk_store_close(st);
}

Test(space, writing_past_the_first_chunk_works_and_survives_a_reopen)
{
    char root[300];
    snprintf(root, sizeof root, "%s/cq", dir);
    rk_cq_t *cq;
    cr_assert_eq(rk_cq_open(root, "T", 0, CQ_FILE, &cq), 0);
    const int n = 20000;                /* 400 KB: many growth steps */
    for (int i = 0; i < n; i++) {
        rk_cq_unit_t u = unit_for(i);
        cr_assert_eq(rk_cq_put(cq, i, &u), 1, "unit %d", i);
    }
    cr_assert_eq(rk_cq_flush(cq, 0), 0);
    rk_cq_close(cq);
    char p[512];
    snprintf(p, sizeof p, "%s/T/0/%020d", root, 0);
    struct stat sb;
    cr_assert_eq(stat(p, &sb), 0);
    cr_assert_eq(sb.st_size, CQ_FILE);
    long long used = (long long)sb.st_blocks * 512;
    cr_assert_geq(used, n * 20LL, "every written byte has its block");
    cr_assert_lt(used, CQ_FILE / 2, "reserved ahead, not all at once (%lld bytes)", used);

    cr_assert_eq(rk_cq_open(root, "T", 0, CQ_FILE, &cq), 0);
    cr_assert_eq(rk_cq_recover(cq), n);
    cr_assert_eq(rk_cq_max_offset(cq), n);
    for (int i = 0; i < n; i += 997) {
        rk_cq_unit_t u, want = unit_for(i);
        cr_assert_eq(rk_cq_get_unit(cq, i, &u), 0);
        cr_assert(u.phys == want.phys && u.size == want.size && u.tag_code == want.tag_code);
    }
    rk_cq_unit_t u = unit_for(n);
    cr_assert_eq(rk_cq_put(cq, n, &u), 1, "appends after the reopen");
    rk_cq_close(cq);
}

Test(space, no_space_at_a_growth_step_is_a_clean_error)
{
    char root[300];
    snprintf(root, sizeof root, "%s/cq", dir);
    rk_cq_t *cq;
    cr_assert_eq(rk_cq_open(root, "T", 0, CQ_FILE, &cq), 0);
    fail_space("/cq/T/", 4096);         /* the first page is all there is */
    int i = 0, rc = 1;
    for (; i < 1000 && rc == 1; i++) {
        rk_cq_unit_t u = unit_for(i);
        rc = rk_cq_put(cq, i, &u);
    }
    i--;
    cr_assert_eq(rc, -ENOSPC, "unit %d: %s", i, rk_strerror(rc));
    cr_assert_eq(i, 4096 / 20, "the first unit that does not fit in the first page");
    cr_assert_eq(rk_cq_max_offset(cq), i, "nothing half-written is visible");
    rk_cq_unit_t last;
    cr_assert_eq(rk_cq_get_unit(cq, i - 1, &last), 0);
    cr_assert_eq(last.phys, unit_for(i - 1).phys);
    /* space comes back: the same put goes through */
    rk_mapped_file_set_prealloc(NULL);
    rk_cq_unit_t u = unit_for(i);
    cr_assert_eq(rk_cq_put(cq, i, &u), 1);
    cr_assert_eq(rk_cq_max_offset(cq), i + 1);
    rk_cq_close(cq);
}

Test(space, a_new_queue_file_without_space_is_an_error_not_a_file)
{
    char root[300];
    snprintf(root, sizeof root, "%s/cq", dir);
    rk_cq_t *cq;
    cr_assert_eq(rk_cq_open(root, "T", 0, CQ_FILE, &cq), 0);
    fail_space("/cq/T/", 0);
    rk_cq_unit_t u = unit_for(0);
    cr_assert_eq(rk_cq_put(cq, 0, &u), -ENOSPC);
    cr_assert_eq(rk_cq_max_offset(cq), 0);
    char p[512];
    snprintf(p, sizeof p, "%s/T/0/%020d", root, 0);
    cr_assert(!rk_path_exists(p), "no file left half-made");
    rk_cq_close(cq);
}

Test(space, index_without_space_skips_keys_and_consumers_still_get_messages)
{
    rk_store_t *st = open_store(NULL, NULL);
    fail_space("/index/", 0);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(put(st, "K", "key-a").status, RK_PUT_OK);
    cr_assert_eq(rk_store_wait_dispatched(st, 10000), 0, "dispatch does not stall on the index");
    cr_assert_eq(rk_store_max_offset(st, "K", 0), 5);
    rk_get_result_t g;
    cr_assert_eq(rk_store_get_message(st, "g", "K", 0, 0, 32, 0, NULL, 0, &g), 0);
    cr_assert_eq(g.count, 5);
    rk_get_result_release(&g);
    int64_t phys[8];
    cr_assert_eq(rk_store_query_by_key(st, "K", "key-a", 0, INT64_MAX, phys, 8), 0);
    /* space again: new keys are indexed */
    rk_mapped_file_set_prealloc(NULL);
    cr_assert_eq(put(st, "K", "key-b").status, RK_PUT_OK);
    cr_assert_eq(rk_store_wait_dispatched(st, 10000), 0);
    cr_assert_eq(rk_store_query_by_key(st, "K", "key-b", 0, INT64_MAX, phys, 8), 1);
    rk_store_close(st);
}

Test(space, index_entries_without_space_are_an_error_not_a_crash)
{
    char idir[300];
    snprintf(idir, sizeof idir, "%s/index", dir);
    rk_index_config_t cfg = {100, 5000};     /* 40 + 400 + 100,000 bytes */
    rk_index_t *idx;
    cr_assert_eq(rk_index_open(idir, &cfg, -1, &idx), 0);
    /* header, slots and the first entry page are reserved; then no more */
    fail_space("/index/", 40 + 400 + 4096);
    int rc = 0, i = 0;
    for (; i < 1000 && rc == 0; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        rc = rk_index_build(idx, "T", k, NULL, 1000 + i, 1000);
    }
    cr_assert_eq(rc, -ENOSPC);
    rk_index_file_info_t info;
    cr_assert_eq(rk_index_files(idx, &info, 1), 1);
    cr_assert_eq(info.index_count, i, "entries 1..%d written, the failed one not counted", i - 1);
    int64_t phys[4];
    cr_assert_eq(rk_index_query(idx, "T", "k0", 0, INT64_MAX, phys, 4), 1);
    rk_index_close(idx);
}

Test(space, reopening_many_small_queues_does_not_fault_whole_files_in)
{
    rk_store_t *st = open_store(NULL, NULL);
    for (int i = 0; i < 30; i++) {
        char t[32];
        snprintf(t, sizeof t, "rss-%d", i);
        cr_assert_eq(put(st, t, NULL).status, RK_PUT_OK);
    }
    cr_assert_eq(rk_store_wait_dispatched(st, 10000), 0);
    rk_store_close(st);
    /* 30 files of 6 MB: 180 MB if loading touched them all */
    long before = rss_kb();
    st = open_store(NULL, NULL);
    long grew = rss_kb() - before;
    cr_assert_eq(rk_store_max_offset(st, "rss-29", 0), 1);
    rk_store_close(st);
    cr_assert_lt(grew, 30 * 1024, "opening 30 one-message queues grew the RSS by %ld KiB", grew);
}

static int disk_used_pct(const char *path)
{
    struct statvfs sv;
    cr_assert_eq(statvfs(path, &sv), 0);
    double used = (double)(sv.f_blocks - sv.f_bfree);
    return (int)(used * 100.0 / (used + (double)sv.f_bavail));
}

Test(space, above_disk_space_warning_level_ratio_the_store_is_read_only)
{
    /* statvfs rounds up: any disk holding this test's files is >= 1 % used */
    int used = disk_used_pct(dir);
    rk_store_t *st = open_store("diskSpaceWarningLevelRatio", "1");
    int seen = -2;
    cr_assert(rk_store_disk_full(st, &seen), "a disk %d%% used is above 1%%", used);
    cr_assert_geq(seen, 1);
    rk_put_result_t r = put(st, "RO", "k");
    cr_assert_eq(r.status, RK_PUT_SERVICE_NOT_AVAILABLE);
    cr_assert_eq(rk_store_commitlog_max(st), 0, "nothing was written");
    rk_store_close(st);
    /* and a ratio above the use lets puts in */
    st = open_store("diskSpaceWarningLevelRatio", "99");
    if (used < 99) {
        cr_assert(!rk_store_disk_full(st, NULL));
        cr_assert_eq(put(st, "RO", "k").status, RK_PUT_OK);
    }
    rk_store_close(st);
}

Test(space, an_index_file_cut_short_after_its_blocks_were_reserved_is_dropped)
{
    /* a crash between reserving the new file's blocks and writing its header */
    char idir[300], p[400];
    snprintf(idir, sizeof idir, "%s/index", dir);
    cr_assert_eq(mkdir(idir, 0755), 0);
    snprintf(p, sizeof p, "%s/20260102030405006", idir);
    rk_index_config_t cfg = {100, 5000};
    int fd = open(p, O_RDWR | O_CREAT, 0644);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, 40 + 100 * 4 + 5000 * 20), 0);
    close(fd);
    rk_index_t *idx;
    cr_assert_eq(rk_index_open(idir, &cfg, -1, &idx), 0, "a blank newest file does not stop the store");
    cr_assert_eq(rk_index_files(idx, NULL, 0), 0);
    cr_assert(!rk_path_exists(p));
    cr_assert_eq(rk_index_build(idx, "T", "k", NULL, 100, 1000), 0);
    rk_index_close(idx);
}
