/* vs_diskwrite — a neighbour that writes to the disk and nothing else: the control row of
 * `make bench-vs` that shows what disk writes cost every process on this machine.
 *
 *   vs_diskwrite -f FILE -r MB_PER_S -d SECONDS
 *
 * Every 50 ms (on an absolute schedule, so a slow step does not lower the rate) it writes
 * RATE / 20 MB of non-zero bytes with pwrite and then fdatasync()s them, as a log that flushes
 * 20 times a second does. The writes go round a window of at most 256 MiB of FILE, which is
 * created, and removed at the end. The buffer (one step, 5 MB at 100 MB/s) is its only memory.
 *
 * Why: at 1 KiB and 100 000 msgs/s rocklet writes about 120 MB/s. On the VMs these benchmarks
 * ran on, a process that only writes 100 MB/s made a Redis that writes nothing (and a sleeping
 * thread) milliseconds late at p999, while the same Redis alone stayed under 0.5 ms: the host
 * seems to pay for the guest's disk I/O with CPU time the guest then misses. bench-vs.sh runs
 * Redis beside this program for its "beside a disk writer" row.
 *
 * Output (one line): SUMMARY diskwrite: M MB in S s (R MB/s), fdatasync p50 A ms max B ms
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vs_common.h"

#define STEP_MS 50
#define WINDOW (256ll * 1024 * 1024)

static int usage(void)
{
    fprintf(stderr, "usage: vs_diskwrite -f FILE -r MB_PER_S -d SECONDS\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    long rate = 100, secs = 4;
    int c;
    while ((c = getopt(argc, argv, "f:r:d:")) != -1) {
        if (c == 'f') {
            path = optarg;
            continue;
        }
        if (c != 'r' && c != 'd')
            return usage();
        char *end;
        errno = 0;
        long v = strtol(optarg, &end, 10);
        if (errno != 0 || end == optarg || *end != '\0' || v < 1 || v > (c == 'r' ? 2000 : 3600)) {
            fprintf(stderr, "vs_diskwrite: -%c %s is not a number in range (MB/s 1-2000, seconds 1-3600)\n", c,
                    optarg);
            return 2;
        }
        if (c == 'r')
            rate = v;
        else
            secs = v;
    }
    if (path == NULL || optind != argc)
        return usage();

    size_t step = (size_t)rate * 1000000u / (1000 / STEP_MS);
    step = (step + 4095) / 4096 * 4096;
    size_t nsteps = (size_t)secs * (1000 / STEP_MS);
    uint8_t *buf = malloc(step);
    uint64_t *sync_ns = malloc(nsteps * sizeof *sync_ns);
    if (buf == NULL || sync_ns == NULL) {
        fprintf(stderr, "vs_diskwrite: out of memory (%zu bytes a step)\n", step);
        free(buf);
        free(sync_ns);
        return 1;
    }
    memset(buf, 'w', step);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "vs_diskwrite: cannot create %s: %s\n", path, strerror(errno));
        free(buf);
        free(sync_ns);
        return 1;
    }
    int rc = 0;
    int64_t off = 0, wrote = 0;
    uint64_t t0 = vs_now_ns();
    size_t i;
    for (i = 0; i < nsteps; i++) {
        for (size_t done = 0; done < step;) {
            ssize_t w = pwrite(fd, buf + done, step - done, (off_t)(off + (int64_t)done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                fprintf(stderr, "vs_diskwrite: write to %s: %s\n", path, w < 0 ? strerror(errno) : "no progress");
                rc = 1;
                goto out;
            }
            done += (size_t)w;
        }
        uint64_t s = vs_now_ns();
        if (fdatasync(fd) != 0) {
            fprintf(stderr, "vs_diskwrite: fdatasync %s: %s\n", path, strerror(errno));
            rc = 1;
            goto out;
        }
        sync_ns[i] = vs_now_ns() - s;
        wrote += (int64_t)step;
        off = off + (int64_t)step + (int64_t)step > WINDOW ? 0 : off + (int64_t)step;
        uint64_t next = t0 + (uint64_t)(i + 1) * STEP_MS * 1000000u, now = vs_now_ns();
        if (next > now) {
            struct timespec ts = {.tv_sec = (time_t)((next - now) / 1000000000u),
                                  .tv_nsec = (long)((next - now) % 1000000000u)};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            }
        }
    }
out:;
    double el = (double)(vs_now_ns() - t0) / 1e9;
    if (close(fd) != 0 && rc == 0) {
        fprintf(stderr, "vs_diskwrite: close %s: %s\n", path, strerror(errno));
        rc = 1;
    }
    if (unlink(path) != 0) {
        fprintf(stderr, "vs_diskwrite: cannot remove %s: %s\n", path, strerror(errno));
        rc = 1;
    }
    if (i > 0) {
        qsort(sync_ns, i, sizeof *sync_ns, vs_cmp_u64);
        printf("SUMMARY diskwrite: %.0f MB in %.1f s (%.0f MB/s), fdatasync p50 %.1f ms max %.1f ms\n",
               (double)wrote / 1e6, el, (double)wrote / 1e6 / el, (double)sync_ns[i / 2] / 1e6,
               (double)sync_ns[i - 1] / 1e6);
    }
    free(buf);
    free(sync_ns);
    return rc;
}
