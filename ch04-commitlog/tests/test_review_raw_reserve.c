/* test_review_raw_reserve.c — blocks before bytes on a replica: bytes a
 * master sent (rk_commitlog_append_raw) land in a file only where its
 * blocks are reserved, like a put's. A replica reopened on a full disk
 * with a hole in its last file refuses the bytes (nothing written) instead
 * of storing into the hole, which on a really full disk is a SIGBUS. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/commitlog.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/mapped_file.h"
#include "rk/testkit.h"

#define MB (1024 * 1024)

static char dir[256];
static FILE *logf;

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "rawreserve"), 0);
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

TestSuite(review_raw_reserve, .init = setup, .fini = teardown, .timeout = 30);

/* -ENOSPC for the replica's commitlog files only. */
static int no_space_in_replica(int fd, int64_t offset, int64_t len)
{
    char link[64], path[512];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    path[n > 0 ? n : 0] = '\0';
    if (strstr(path, "/r/commitlog/"))
        return -ENOSPC;
    int rc = posix_fallocate(fd, (off_t)offset, (off_t)len);
    return rc == 0 ? 0 : -rc;
}

static void cfg_for(rk_commitlog_config_t *cfg, const char *sub)
{
    char root[300], err[300] = "";
    snprintf(root, sizeof root, "%s/%s", dir, sub);
    cr_assert_eq(rk_commitlog_config_load(cfg, NULL, err, sizeof err), 0);
    free(cfg->store_root);
    cfg->store_root = strdup(root);
    cfg->file_size = MB;
}

static rk_commitlog_t *open_cfg(const rk_commitlog_config_t *cfg)
{
    char err[300] = "";
    rk_commitlog_t *cl = NULL;
    cr_assert_eq(rk_commitlog_open(cfg, &cl, err, sizeof err), 0, "%s", err);
    return cl;
}

static void put_one(rk_commitlog_t *cl)
{
    static uint8_t body[1000];
    rk_msg_t m = {.topic = "T", .topic_len = 1, .body = body, .body_len = sizeof body,
                  .store_host = *rk_commitlog_store_host(cl), .born_ts = 1};
    rk_host_parse("127.0.0.1:1234", &m.born_host);
    rk_put_result_t r;
    cr_assert_eq(rk_commitlog_put(cl, &m, &r), 0);
    cr_assert_eq(r.status, RK_PUT_OK);
}

/* Hands the replica master [from, to) in one piece. */
static int copy_range(rk_commitlog_t *m, rk_commitlog_t *r, int64_t from, int64_t to)
{
    rk_slice_t s;
    cr_assert_eq(rk_commitlog_read(m, from, &s), 0);
    cr_assert_geq((int64_t)s.len, to - from);
    size_t used = 0;
    int rc = rk_commitlog_append_raw(r, from, s.data, (size_t)(to - from), &used);
    rk_slice_release(&s);
    if (rc == 0)
        cr_assert_eq((int64_t)used, to - from);
    return rc;
}

Test(review_raw_reserve, a_replica_file_with_a_hole_is_reserved_before_the_bytes_land)
{
    rk_commitlog_config_t mc, rc_;
    cfg_for(&mc, "m");
    cfg_for(&rc_, "r");
    rk_commitlog_t *m = open_cfg(&mc), *r = open_cfg(&rc_);
    put_one(m);
    int64_t one = rk_commitlog_max_offset(m);
    put_one(m);
    int64_t two = rk_commitlog_max_offset(m);
    cr_assert_eq(copy_range(m, r, 0, one), 0);
    rk_commitlog_close(r);

    /* the replica's file gets a hole past its first record (a sparse copy) */
    char p[300];
    snprintf(p, sizeof p, "%s/r/commitlog/%020d", dir, 0);
    int fd = open(p, O_RDWR);
    cr_assert(fd >= 0);
    cr_assert_eq(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 65536, MB - 65536), 0);
    close(fd);

    /* reopened on a full disk: the master's next bytes are refused, and
     * nothing of them is written */
    rk_mapped_file_set_prealloc(no_space_in_replica);
    r = open_cfg(&rc_);
    cr_assert_eq(rk_commitlog_max_offset(r), one);
    int rc = copy_range(m, r, one, two);
    cr_assert_neq(rc, 0, "bytes stored into a hole on a full disk");
    cr_assert_eq(rk_commitlog_max_offset(r), one, "nothing written");

    /* room again: the same bytes go in */
    rk_mapped_file_set_prealloc(NULL);
    cr_assert_eq(copy_range(m, r, one, two), 0);
    cr_assert_eq(rk_commitlog_max_offset(r), two);
    rk_commitlog_close(r);
    rk_commitlog_close(m);
    rk_commitlog_config_free(&mc);
    rk_commitlog_config_free(&rc_);
}

static int count_in_log(const char *needle)
{
    fflush(logf);
    char p[300];
    snprintf(p, sizeof p, "%s/test.log", dir);
    FILE *f = fopen(p, "r");
    cr_assert_not_null(f);
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL)
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* A disk that stays full refuses every put, but says so once (and once
 * when puts succeed again), not an ERROR line per refused put. */
Test(review_raw_reserve, refused_puts_on_a_full_disk_log_once)
{
    rk_commitlog_config_t mc;
    cfg_for(&mc, "r");
    rk_commitlog_t *cl = open_cfg(&mc);
    put_one(cl);
    int64_t end = rk_commitlog_max_offset(cl);
    rk_commitlog_close(cl);
    char p[300];
    snprintf(p, sizeof p, "%s/r/commitlog/%020d", dir, 0);
    int fd = open(p, O_RDWR);
    cr_assert(fd >= 0);
    cr_assert_eq(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 65536, MB - 65536), 0);
    close(fd);

    rk_mapped_file_set_prealloc(no_space_in_replica);
    cl = open_cfg(&mc);
    static uint8_t body[100];
    rk_msg_t m = {.topic = "T", .topic_len = 1, .body = body, .body_len = sizeof body,
                  .store_host = *rk_commitlog_store_host(cl), .born_ts = 1};
    rk_host_parse("127.0.0.1:1234", &m.born_host);
    for (int i = 0; i < 5; i++) {
        rk_put_result_t r;
        cr_assert_eq(rk_commitlog_put(cl, &m, &r), 0);
        cr_assert_eq(r.status, RK_PUT_CREATE_MAPEDFILE_FAILED);
    }
    cr_assert_eq(rk_commitlog_max_offset(cl), end);
    cr_assert_eq(count_in_log("cannot reserve disk blocks"), 1, "one ERROR line for five refused puts");
    rk_mapped_file_set_prealloc(NULL);
    rk_put_result_t r;
    cr_assert_eq(rk_commitlog_put(cl, &m, &r), 0);
    cr_assert_eq(r.status, RK_PUT_OK);
    cr_assert_eq(count_in_log("can be reserved again"), 1);
    rk_commitlog_close(cl);
    rk_commitlog_config_free(&mc);
}
