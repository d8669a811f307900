/* vs_jitter — how late this machine wakes a sleeping thread: the floor under every latency row
 * of `make bench-vs`.
 *
 *   vs_jitter -r WAKEUPS_PER_S -d SECONDS
 *
 * One thread sleeps 1/RATE s (nanosleep on CLOCK_MONOTONIC), RATE times a second, and records
 * by how much each sleep overran. A send through rocklet wakes four threads on its way (the
 * sender's SDK network thread, the broker's network thread, the SDK network thread again, the
 * sender); a Redis pipeline wakes two. On an idle machine the overrun is tens of µs; when the
 * benchmark's own threads fill both cores, or the hypervisor takes a core away (`steal` in
 * /proc/stat), single wake-ups come milliseconds late, and no send can be faster than its
 * slowest wake-up. bench-vs.sh runs this beside each paced run and prints its p999.
 *
 * Output (one line, parsed by bench-vs.sh):
 *   SUMMARY jitter: N wake-ups, late µs p50 A p99 B p999 C max D, steal S ms
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vs_common.h"

/* the hypervisor's "steal" ticks of all CPUs (the 8th field of /proc/stat's cpu line), in ms */
static long steal_ms(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7]);
    fclose(f);
    long hz = 100;      /* USER_HZ: the unit of /proc/stat on every Linux build */
    return n == 8 ? (long)(v[7] * 1000ull / (unsigned long long)hz) : -1;
}

int main(int argc, char **argv)
{
    long rate = 1000, secs = 4;
    int c;
    while ((c = getopt(argc, argv, "r:d:")) != -1) {
        if (c != 'r' && c != 'd') {
            fprintf(stderr, "usage: vs_jitter -r WAKEUPS_PER_S -d SECONDS\n");
            return 2;
        }
        char *end;
        long v = strtol(optarg, &end, 10);
        if (*end != '\0' || v < 1 || v > (c == 'r' ? 100000 : 3600)) {
            fprintf(stderr, "vs_jitter: -%c %s is not a number in range\n", c, optarg);
            return 2;
        }
        if (c == 'r')
            rate = v;
        else
            secs = v;
    }
    if (optind != argc) {
        fprintf(stderr, "usage: vs_jitter -r WAKEUPS_PER_S -d SECONDS\n");
        return 2;
    }
    size_t n = (size_t)(rate * secs);
    uint64_t *late = malloc(n * sizeof *late);
    if (late == NULL) {
        fprintf(stderr, "vs_jitter: out of memory\n");
        return 1;
    }
    uint64_t gap = 1000000000u / (uint64_t)rate;
    long s0 = steal_ms();
    for (size_t i = 0; i < n; i++) {
        uint64_t t0 = vs_now_ns();
        struct timespec ts = {.tv_sec = (time_t)(gap / 1000000000u), .tv_nsec = (long)(gap % 1000000000u)};
        nanosleep(&ts, NULL);
        uint64_t slept = vs_now_ns() - t0;
        late[i] = slept > gap ? slept - gap : 0;
    }
    long s1 = steal_ms();
    qsort(late, n, sizeof *late, vs_cmp_u64);
    printf("SUMMARY jitter: %zu wake-ups, late µs p50 %.0f p99 %.0f p999 %.0f max %.0f, steal %ld ms\n", n,
           (double)late[n / 2] / 1e3, (double)late[n * 99 / 100] / 1e3, (double)late[n * 999 / 1000] / 1e3,
           (double)late[n - 1] / 1e3, s0 >= 0 && s1 >= 0 ? s1 - s0 : -1);
    free(late);
    return 0;
}
