/* test_disk_full.c — one replica's disk fills up while the cluster takes majority-acknowledged
 * sends: the replica must not crash or serve anything damaged, the group keeps its master
 * (the other two replicas are a majority), every acknowledged message stays readable, and
 * once space comes back the replica catches up with its master.
 *
 * The replica's store is a small tmpfs (mount needs root, as CI runs; elsewhere the test is
 * skipped with the reason, and chapter 7's ENOSPC seam tests cover the store's side). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "fcluster.h"

static fc_t c;
static char mnt[460], filler[480];
static bool mounted;

static void fini(void)
{
    fc_stop_all(&c);
    if (mounted && umount2(mnt, MNT_DETACH) != 0)
        fprintf(stderr, "test_disk_full: umount %s: %s\n", mnt, strerror(errno));
    mounted = false;
}

/* Takes every free block of the tmpfs, as another process would. */
static void fill_disk(void)
{
    int fd = open(filler, O_RDWR | O_CREAT | O_TRUNC, 0644);
    cr_assert(fd >= 0);
    off_t at = 0;
    for (off_t step = 1 << 20; step >= 4096; step /= 2)
        while (posix_fallocate(fd, at, step) == 0)
            at += step;
    close(fd);
}

/* commitLogMaxOffset as `mqadmin brokerStatus` prints it; -1 if unreachable. */
static int64_t max_offset(int i)
{
    char addr[64], *out = NULL;
    snprintf(addr, sizeof addr, "127.0.0.1:%d", c.p[i].port);
    const char *args[] = {"brokerStatus", "-b", addr, NULL};
    int64_t v = -1;
    if (fc_admin(&c, &out, args) == 0 && out != NULL) {
        const char *k = strstr(out, "commitLogMaxOffset");
        if (k != NULL)
            sscanf(k + strlen("commitLogMaxOffset"), "%*[ :]%" SCNd64, &v);
    }
    free(out);
    return v;
}

TestSuite(disk_full, .fini = fini, .timeout = 180);

Test(disk_full, a_replica_with_a_full_disk_keeps_the_group_writable_and_catches_up_after)
{
    fc_init(&c, NULL);
    int full = fc_find(&c, "broker-a-n2");
    cr_assert(full >= 0);
    snprintf(mnt, sizeof mnt, "%s/store", c.p[full].home);
    snprintf(filler, sizeof filler, "%s/filler", mnt);
    cr_assert_eq(mkdir(mnt, 0755), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=64m") != 0) {
        int e = errno;
        cr_skip_test("cannot mount a tmpfs here (%s); chapter 7's ENOSPC seam tests cover the store", strerror(e));
    }
    mounted = true;
    /* the others first, so that n2 joins a group that already has its master */
    for (int i = 0; i < c.n; i++)
        if (i != full)
            fc_start(&c, i);
    int m = fc_master(&c, "broker-a", -1, 30000);
    cr_assert(m >= 0 && m != full);
    cr_assert(fc_master(&c, "broker-b", -1, 30000) >= 0);
    fc_start(&c, full);
    sleep(1);
    fill_disk();
    fc_event(&c, "filled the disk of %s", c.p[full].name);

    au_load_t l;
    au_start(&l, &c, "DiskFull", 4, 1024, 4);
    sleep(4);
    au_stop(&l);
    cr_assert_gt(atomic_load(&l.acked), 1000, "the cluster took only %lld sends with one replica's disk full",
                 (long long)atomic_load(&l.acked));
    cr_assert(c.p[full].pid > 0 && kill(c.p[full].pid, 0) == 0, "%s died when its disk filled (see %s)",
              c.p[full].name, c.p[full].log);
    fc_assert_one_master_each(&c);
    au_verify(&l, 20000);

    /* space comes back: the replica catches up with its master */
    cr_assert_eq(unlink(filler), 0);
    fc_event(&c, "freed the disk of %s", c.p[full].name);
    m = fc_master(&c, "broker-a", -1, 10000);
    cr_assert(m >= 0);
    int64_t want = max_offset(m), got = -1;
    for (int t = 0; t < 300 && got != want; t++) {
        got = max_offset(full);
        if (got != want)
            usleep(100000);
    }
    cr_assert_eq(got, want, "%s holds %" PRId64 " bytes of log, its master %" PRId64 " (see %s)", c.p[full].name, got,
                 want, c.p[full].log);
    au_free(&l);
}
