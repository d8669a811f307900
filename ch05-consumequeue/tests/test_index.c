/* test_index.c — the index file format and key lookups, without a store. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/buf.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/index.h"
#include "rk/testkit.h"

static char dir[256];
static void setup(void) { cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "index"), 0); }
static void teardown(void) { rk_tk_rmtree(dir); }
TestSuite(index, .init = setup, .fini = teardown);

Test(index, key_hash_is_java_abs_hashcode)
{
    /* "TopicTest#k1".hashCode() computed in Java: */
    /* h("a") = 97; |negative| stays positive; INT_MIN maps to 0 */
    cr_assert_eq(rk_index_key_hash("a", 1), 97);
    /* "polygenelubricants".hashCode() == Integer.MIN_VALUE in Java */
    cr_assert_eq(rk_index_key_hash("polygenelubricants", 18), 0);
    /* "Aa" and "BB" collide in Java: 2112 */
    cr_assert_eq(rk_index_key_hash("Aa", 2), 2112);
    cr_assert_eq(rk_index_key_hash("BB", 2), 2112);
    /* a negative hash: "zzzzzz".hashCode() = -1474633338... check sign only */
    cr_assert_geq(rk_index_key_hash("zzzzzzzzzz", 10), 0);
}

Test(index, file_layout_matches_rocketmq)
{
    rk_index_config_t cfg = {.max_hash_slot_num = 8, .max_index_num = 16};
    rk_index_t *idx;
    cr_assert_eq(rk_index_open(dir, &cfg, -1, &idx), 0);
    cr_assert_eq(rk_index_build(idx, "T", "k1", NULL, 1000, 1700000000000LL), 0);
    cr_assert_eq(rk_index_build(idx, "T", "k2", NULL, 2000, 1700000005000LL), 0);
    rk_index_file_info_t fi[4];
    cr_assert_eq(rk_index_files(idx, fi, 4), 1);
    cr_assert_eq(strlen(fi[0].name), 17);
    rk_index_close(idx);

    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, fi[0].name);
    cr_assert_eq(rk_tk_file_size(path), 40 + 8 * 4 + 16 * 20);
    FILE *f = fopen(path, "rb");
    uint8_t b[40 + 32 + 16 * 20];
    cr_assert_eq(fread(b, 1, sizeof b, f), sizeof b);
    fclose(f);
    cr_assert_eq((int64_t)rk_be_get64(b + 0), 1700000000000LL);     /* beginTimestamp */
    cr_assert_eq((int64_t)rk_be_get64(b + 8), 1700000005000LL);     /* endTimestamp */
    cr_assert_eq((int64_t)rk_be_get64(b + 16), 1000);               /* beginPhyOffset */
    cr_assert_eq((int64_t)rk_be_get64(b + 24), 2000);               /* endPhyOffset */
    cr_assert_eq(rk_be_get32(b + 36), 3);                           /* indexCount (starts at 1) */
    int32_t h1 = rk_index_key_hash("T#k1", 4), h2 = rk_index_key_hash("T#k2", 4);
    int slots_used = (h1 % 8 == h2 % 8) ? 1 : 2;
    cr_assert_eq((int)rk_be_get32(b + 32), slots_used);             /* hashSlotCount */
    cr_assert_eq(rk_be_get32(b + 40 + (h1 % 8) * 4), (h1 % 8 == h2 % 8) ? 2u : 1u);
    const uint8_t *e1 = b + 40 + 32 + 1 * 20;                       /* entry 1 */
    cr_assert_eq((int32_t)rk_be_get32(e1), h1);
    cr_assert_eq((int64_t)rk_be_get64(e1 + 4), 1000);
    cr_assert_eq(rk_be_get32(e1 + 12), 0);
    cr_assert_eq(rk_be_get32(e1 + 16), 0);
    const uint8_t *e2 = b + 40 + 32 + 2 * 20;
    cr_assert_eq((int64_t)rk_be_get64(e2 + 4), 2000);
    cr_assert_eq(rk_be_get32(e2 + 12), 5);                          /* seconds after begin */
}

Test(index, finds_every_key_across_rolled_files_and_respects_time_range)
{
    rk_index_config_t cfg = {.max_hash_slot_num = 7, .max_index_num = 10};
    rk_index_t *idx;
    cr_assert_eq(rk_index_open(dir, &cfg, -1, &idx), 0);
    const int64_t t0 = 1700000000000LL;
    for (int i = 0; i < 100; i++) {
        char keys[64], uniq[32];
        snprintf(keys, sizeof keys, "key%d  shared", i);
        snprintf(uniq, sizeof uniq, "U%04d", i);
        cr_assert_eq(rk_index_build(idx, "T", keys, uniq, (int64_t)i * 100, t0 + i * 1000), 0);
    }
    rk_index_file_info_t fi[64];
    int nf = rk_index_files(idx, fi, 64);
    cr_assert_gt(nf, 30, "3 keys per message, 9 entries per file: %d files", nf);
    int64_t got[128];
    for (int i = 0; i < 100; i++) {
        char k[32];
        snprintf(k, sizeof k, "key%d", i);
        int n = rk_index_query(idx, "T", k, 0, INT64_MAX, got, 128);
        int found = 0;
        for (int j = 0; j < n; j++)
            found += got[j] == (int64_t)i * 100;
        cr_assert_eq(found, 1, "key%d", i);
        snprintf(k, sizeof k, "U%04d", i);
        n = rk_index_query(idx, "T", k, 0, INT64_MAX, got, 128);
        cr_assert_geq(n, 1);
        cr_assert_eq(got[0], (int64_t)i * 100);
    }
    /* the shared key, all of them, newest first */
    int n = rk_index_query(idx, "T", "shared", 0, INT64_MAX, got, 128);
    cr_assert_eq(n, 100);
    cr_assert_eq(got[0], 9900);
    cr_assert_eq(got[99], 0);
    /* time range [t0+10s, t0+19s] */
    n = rk_index_query(idx, "T", "shared", t0 + 10000, t0 + 19000, got, 128);
    cr_assert_eq(n, 10);
    for (int j = 0; j < n; j++)
        cr_assert(got[j] >= 1000 && got[j] <= 1900);
    /* max honoured; other topic not found */
    cr_assert_eq(rk_index_query(idx, "T", "shared", 0, INT64_MAX, got, 5), 5);
    cr_assert_eq(rk_index_query(idx, "U", "key1", 0, INT64_MAX, got, 5), 0);
    rk_index_close(idx);

    /* reopen: still there; re-building old offsets is ignored */
    cr_assert_eq(rk_index_open(dir, &cfg, -1, &idx), 0);
    cr_assert_eq(rk_index_end_phy(idx), 9900);
    cr_assert_eq(rk_index_build(idx, "T", "shared", NULL, 500, t0), 0);
    cr_assert_eq(rk_index_query(idx, "T", "shared", 0, INT64_MAX, got, 128), 100);
    /* cleanup below a commitlog min offset keeps the newest file */
    int before = rk_index_files(idx, fi, 64);
    int del = rk_index_delete_expired(idx, 5000);
    cr_assert_gt(del, 0);
    cr_assert_eq(rk_index_files(idx, fi, 64), before - del);
    cr_assert_geq(fi[0].end_phy, 5000);
    n = rk_index_query(idx, "T", "key99", 0, INT64_MAX, got, 8);
    cr_assert_eq(n, 1);
    rk_index_close(idx);
}

Test(index, abnormal_stop_drops_files_newer_than_checkpoint)
{
    rk_index_config_t cfg = {.max_hash_slot_num = 4, .max_index_num = 4};
    rk_index_t *idx;
    cr_assert_eq(rk_index_open(dir, &cfg, -1, &idx), 0);
    for (int i = 0; i < 9; i++)   /* 3 entries per file: 3 files */
        cr_assert_eq(rk_index_build(idx, "T", "k", NULL, i * 10, 1000 + i), 0);
    rk_index_file_info_t fi[8];
    cr_assert_eq(rk_index_files(idx, fi, 8), 3);
    rk_index_close(idx);
    /* checkpoint says the index was flushed up to store time 1005 */
    cr_assert_eq(rk_index_open(dir, &cfg, 1005, &idx), 0);
    cr_assert_eq(rk_index_files(idx, fi, 8), 2);
    cr_assert_eq(rk_index_end_phy(idx), 50);
    rk_index_close(idx);
}

Test(index, sets_aside_a_damaged_file_and_drops_a_newest_one_cut_short)
{
    rk_index_config_t cfg = {.max_hash_slot_num = 4, .max_index_num = 4};
    char p[400];
    snprintf(p, sizeof p, "%s/20260101000000000", dir);
    FILE *f = fopen(p, "w");
    fputs("short", f);
    fclose(f);
    rk_index_t *idx = NULL;
    cr_assert_eq(rk_index_open(dir, &cfg, -1, &idx), 0);       /* newest and short: dropped */
    cr_assert_not(rk_path_exists(p));
    cr_assert_eq(rk_index_build(idx, "T", "k", NULL, 10, 1000), 0);
    rk_index_close(idx);
    f = fopen(p, "w");                                          /* now older than the real one */
    fputs("short", f);
    fclose(f);
    /* derived data: a damaged file does not keep the store down; its bytes
     * are kept aside, the other files still answer */
    char aside[420];
    snprintf(aside, sizeof aside, "%s.damaged", p);
    cr_assert_eq(rk_index_open(dir, &cfg, -1, &idx), 0);
    cr_assert_not(rk_path_exists(p));
    cr_assert(rk_path_exists(aside), "kept for inspection");
    int64_t got[4];
    cr_assert_eq(rk_index_query(idx, "T", "k", 0, INT64_MAX, got, 4), 1);
    cr_assert_eq(got[0], 10);
    rk_index_close(idx);
    cr_assert_eq(rk_index_open(dir, &cfg, -1, &idx), 0, "the .damaged file is not read again");
    rk_index_close(idx);
}

Test(index, a_file_with_an_impossible_header_is_set_aside)
{
    rk_index_config_t cfg = {.max_hash_slot_num = 4, .max_index_num = 4};
    rk_index_t *idx = NULL;
    cr_assert_eq(rk_index_open(dir, &cfg, -1, &idx), 0);
    for (int i = 0; i < 6; i++)   /* 3 entries per file: 2 files */
        cr_assert_eq(rk_index_build(idx, "T", "k", NULL, i * 10, 1000 + i), 0);
    rk_index_file_info_t fi[4];
    cr_assert_eq(rk_index_files(idx, fi, 4), 2);
    rk_index_close(idx);
    /* the older file's indexCount (header bytes 36..39) zeroed */
    char names[2][700];
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 2)
        if (de->d_name[0] != '.')
            snprintf(names[n++], sizeof names[0], "%s/%s", dir, de->d_name);
    closedir(d);
    cr_assert_eq(n, 2);
    const char *older = strcmp(names[0], names[1]) < 0 ? names[0] : names[1];
    FILE *f = fopen(older, "r+");
    cr_assert(f != NULL);
    fseek(f, 36, SEEK_SET);
    const char zero[4] = {0};
    fwrite(zero, 1, 4, f);
    fclose(f);
    cr_assert_eq(rk_index_open(dir, &cfg, -1, &idx), 0, "the store still opens");
    cr_assert_eq(rk_index_files(idx, fi, 4), 1);
    int64_t got[8];
    int k = rk_index_query(idx, "T", "k", 0, INT64_MAX, got, 8);
    cr_assert_geq(k, 1, "the intact file still answers");
    rk_index_close(idx);
}
