/* test_review_cq_salvage.c — blocks before bytes when a consume-queue file
 * cut short is salvaged at open: its whole units are copied into a fresh
 * file whose blocks are reserved first. The fresh file is a growing one (a
 * page reserved at creation); the copy used to go past that page without
 * reserving, which on a full disk is a SIGBUS. Now a full disk is an error
 * from rk_cq_open, and the units stay in <name>.damaged. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rk/consumequeue.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"
#include "rk/mapped_file.h"
#include "rk/testkit.h"

#define FILE_SIZE (1000 * RK_CQ_UNIT_SIZE)
#define UNITS 300                       /* 6000 bytes: past the first page */

static char dir[256];
static FILE *logf;

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "cqsalvage"), 0);
    char p[300];
    snprintf(p, sizeof p, "%s/test.log", dir);
    logf = fopen(p, "w");
    cr_assert_not_null(logf);
    rk_log_init(RK_LOG_INFO, logf);
}

static void teardown(void)
{
    rk_mapped_file_set_prealloc(NULL);
    rk_log_init(RK_LOG_INFO, NULL);
    fclose(logf);
    rk_tk_rmtree(dir);
}

TestSuite(review_cq_salvage, .init = setup, .fini = teardown, .timeout = 30);

/* The first page of a file has room; nothing past it. */
static int room_for_one_page(int fd, int64_t offset, int64_t len)
{
    if (offset + len > 4096)
        return -ENOSPC;
    int rc = posix_fallocate(fd, (off_t)offset, (off_t)len);
    return rc == 0 ? 0 : -rc;
}

Test(review_cq_salvage, a_short_file_is_copied_only_into_reserved_blocks)
{
    rk_cq_t *cq = NULL;
    cr_assert_eq(rk_cq_open(dir, "T", 0, FILE_SIZE, &cq), 0);
    for (int i = 0; i < UNITS; i++) {
        rk_cq_unit_t u = {1000 + (int64_t)i * 100, 100, i};
        cr_assert_geq(rk_cq_put(cq, i, &u), 0);
    }
    cr_assert_eq(rk_cq_flush(cq, 0), 0);
    rk_cq_close(cq);

    /* cut short, with a partial unit at the end */
    char p[400], dmg[420];
    snprintf(p, sizeof p, "%s/T/0/%020d", dir, 0);
    snprintf(dmg, sizeof dmg, "%s.damaged", p);
    cr_assert_eq(truncate(p, UNITS * RK_CQ_UNIT_SIZE + 7), 0);
    char *orig = NULL;
    size_t olen = 0;
    cr_assert_eq(rk_file_read_all(p, &orig, &olen), 0);

    rk_mapped_file_set_prealloc(room_for_one_page);
    int rc = rk_cq_open(dir, "T", 0, FILE_SIZE, &cq);
    if (rc == 0)
        rk_cq_close(cq);
    cr_assert_eq(rc, -ENOSPC, "salvage copied %d bytes past a 4 KiB reservation (rc %d)",
                 UNITS * RK_CQ_UNIT_SIZE, rc);
    /* the units are kept */
    char *kept = NULL;
    size_t klen = 0;
    cr_assert_eq(rk_file_read_all(dmg, &kept, &klen), 0, "the short file is kept as .damaged");
    cr_assert_eq(klen, olen);
    cr_assert(memcmp(kept, orig, olen) == 0);
    free(kept);
    free(orig);

    /* room again: the queue opens (the store rebuilds it from the log) */
    rk_mapped_file_set_prealloc(NULL);
    cr_assert_eq(rk_cq_open(dir, "T", 0, FILE_SIZE, &cq), 0);
    rk_cq_close(cq);
}
