/* test_append_raw.c — rk_commitlog_append_raw: a replica's log is the
 * master's bytes at the master's offsets, and nothing else gets in. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/commitlog.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"
#include "rk/testkit.h"

#define FILE_SIZE (64 * 1024)

static char dir[256];

static rk_commitlog_t *open_at(const char *sub)
{
    char root[300], err[300] = "";
    snprintf(root, sizeof root, "%s/%s", dir, sub);
    rk_commitlog_config_t cfg;
    cr_assert_eq(rk_commitlog_config_load(&cfg, NULL, err, sizeof err), 0);
    free(cfg.store_root);
    cfg.store_root = strdup(root);
    cfg.file_size = FILE_SIZE;
    rk_commitlog_t *cl = NULL;
    cr_assert_eq(rk_commitlog_open(&cfg, &cl, err, sizeof err), 0, "%s", err);
    rk_commitlog_config_free(&cfg);
    return cl;
}

static void setup(void)
{
    rk_log_set_level(RK_LOG_WARN);
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "rawappend"), 0);
}
static void teardown(void) { rk_tk_rmtree(dir); }

static void put_n(rk_commitlog_t *cl, int n, size_t body_len)
{
    uint8_t body[4096];
    memset(body, 'x', sizeof body);
    for (int i = 0; i < n; i++) {
        rk_msg_t m = {.topic = "T", .topic_len = 1, .queue_id = i % 2, .body = body, .body_len = body_len};
        rk_host_parse("127.0.0.1:1", &m.born_host);
        rk_host_parse("127.0.0.1:2", &m.store_host);
        rk_put_result_t res;
        cr_assert_eq(rk_commitlog_put(cl, &m, &res), 0);
        cr_assert_eq(res.status, RK_PUT_OK);
    }
}

/* Copies master [from, to) into the replica in chunks of `chunk` bytes,
 * the way the HA stream does (records cut anywhere). */
static void replicate(rk_commitlog_t *master, rk_commitlog_t *replica, size_t chunk)
{
    uint8_t *stage = malloc(FILE_SIZE * 2);
    size_t staged = 0;
    int64_t stream = rk_commitlog_max_offset(replica);
    int64_t end = rk_commitlog_max_offset(master);
    while (stream < end) {
        rk_slice_t s;
        cr_assert_eq(rk_commitlog_read(master, stream, &s), 0);
        size_t n = s.len < chunk ? s.len : chunk;
        memcpy(stage + staged, s.data, n);
        staged += n;
        stream += (int64_t)n;
        rk_slice_release(&s);
        for (;;) {
            int64_t base = stream - (int64_t)staged, max = rk_commitlog_max_offset(replica);
            if (base < max) {       /* the zeros after a BLANK */
                size_t skip = (size_t)(max - base) < staged ? (size_t)(max - base) : staged;
                memmove(stage, stage + skip, staged - skip);
                staged -= skip;
                continue;
            }
            size_t used = 0;
            cr_assert_eq(rk_commitlog_append_raw(replica, base, stage, staged, &used), 0);
            if (used == 0)
                break;
            memmove(stage, stage + used, staged - used);
            staged -= used;
        }
    }
    free(stage);
}

static void assert_same_files(void)
{
    for (int64_t from = 0; from < 4 * FILE_SIZE; from += FILE_SIZE) {
        char a[400], b[400], name[21];
        rk_mapped_file_name(from, name);
        snprintf(a, sizeof a, "%s/m/commitlog/%s", dir, name);
        snprintf(b, sizeof b, "%s/r/commitlog/%s", dir, name);
        char *da = NULL, *db = NULL;
        size_t la = 0, lb = 0;
        int ra = rk_file_read_all(a, &da, &la), rb = rk_file_read_all(b, &db, &lb);
        cr_assert_eq(ra == 0, rb == 0, "file %s exists on one side only", name);
        if (ra == 0) {
            cr_assert_eq(la, lb);
            cr_assert(memcmp(da, db, la) == 0, "file %s differs", name);
        }
        free(da);
        free(db);
    }
}

TestSuite(append_raw, .init = setup, .fini = teardown);

Test(append_raw, replica_is_byte_identical_across_rolls_with_records_cut_anywhere)
{
    rk_commitlog_t *m = open_at("m"), *r = open_at("r");
    put_n(m, 150, 1000);        /* > 2 files: two BLANKs */
    replicate(m, r, 777);
    cr_assert_eq(rk_commitlog_max_offset(r), rk_commitlog_max_offset(m));
    /* the replica numbers its queues as the master did */
    cr_assert_eq(rk_commitlog_queue_offset_get(r, "T", 0), rk_commitlog_queue_offset_get(m, "T", 0));
    rk_commitlog_close(m);
    rk_commitlog_close(r);
    assert_same_files();
}

Test(append_raw, empty_replica_starts_at_a_file_boundary_only)
{
    rk_commitlog_t *m = open_at("m"), *r = open_at("r");
    put_n(m, 100, 1000);
    int64_t last = rk_commitlog_max_offset(m) - rk_commitlog_max_offset(m) % FILE_SIZE;
    cr_assert_gt(last, 0);
    rk_slice_t s;
    cr_assert_eq(rk_commitlog_read(m, last + 1, &s), 0);
    size_t used = 9;
    cr_assert_eq(rk_commitlog_append_raw(r, last + 1, s.data, s.len, &used), RK_EINVAL);
    cr_assert_eq(used, 0);
    rk_slice_release(&s);
    cr_assert_eq(rk_commitlog_read(m, last, &s), 0);
    cr_assert_eq(rk_commitlog_append_raw(r, last, s.data, s.len, &used), 0);
    cr_assert_eq((int64_t)used, (int64_t)s.len);
    rk_slice_release(&s);
    cr_assert_eq(rk_commitlog_max_offset(r), rk_commitlog_max_offset(m));
    cr_assert_eq(rk_commitlog_min_offset(r), last);
    rk_commitlog_close(m);
    rk_commitlog_close(r);
}

Test(append_raw, refuses_wrong_offsets_and_damaged_bytes)
{
    rk_commitlog_t *m = open_at("m"), *r = open_at("r");
    put_n(m, 3, 100);
    rk_slice_t s;
    cr_assert_eq(rk_commitlog_read(m, 0, &s), 0);
    uint8_t *copy = malloc(s.len);
    size_t len = s.len, used = 0;
    memcpy(copy, s.data, len);
    rk_slice_release(&s);
    uint32_t rec = rk_be_get32(copy);
    /* a gap: the second record where the log ends */
    cr_assert_eq(rk_commitlog_append_raw(r, rec, copy + rec, len - rec, &used), RK_EINVAL);
    /* a flipped body byte: CRC */
    copy[rec - 10] ^= 1;
    cr_assert_eq(rk_commitlog_append_raw(r, 0, copy, len, &used), RK_ECORRUPT);
    copy[rec - 10] ^= 1;
    /* a record that claims to live elsewhere */
    copy[28 + 7] ^= 1;
    cr_assert_eq(rk_commitlog_append_raw(r, 0, copy, len, &used), RK_ECORRUPT);
    copy[28 + 7] ^= 1;
    /* a BLANK in the middle of a file */
    uint8_t blank[8];
    rk_be_put32(blank, 64);
    rk_be_put32(blank + 4, RK_MAGIC_BLANK);
    cr_assert_eq(rk_commitlog_append_raw(r, 0, blank, 8, &used), RK_ECORRUPT);
    cr_assert_eq(rk_commitlog_max_offset(r), 0, "nothing was written");
    /* half a record is kept waiting, then the whole goes in */
    cr_assert_eq(rk_commitlog_append_raw(r, 0, copy, rec - 1, &used), 0);
    cr_assert_eq(used, 0);
    cr_assert_eq(rk_commitlog_append_raw(r, 0, copy, len, &used), 0);
    cr_assert_eq(used, len);
    free(copy);
    rk_commitlog_close(m);
    rk_commitlog_close(r);
}
