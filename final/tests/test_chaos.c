/* test_chaos.c — a bounded, seeded chaos run against the assembled cluster: while producers
 * send with majority acknowledgements, random kill -9s and pauses of brokers (masters more
 * often than not) and kill -9s of name servers; at most one replica of a group is down or
 * paused at a time, so a majority can always elect a master. Then everything is brought
 * back and every acknowledged message is audited (au_verify: found where the broker said,
 * body byte for byte).
 *
 *   RK_CHAOS_SEED=N      the seed (default: the clock; printed either way)
 *   RK_CHAOS_SECONDS=S   how long the faults go on (default 20)
 *
 * A failure prints the seed; the events (kills, pauses, restarts, with times) are in
 * events.log beside the processes' logs, which make test keeps for a failed test. Run the
 * same seed again to replay the same choices (timing on a loaded machine still varies). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "fcluster.h"

static fc_t c;

/* After the test, failed or not: every process stopped by PID, the logs kept when it failed. */
static void fini(void) { fc_stop_all(&c); }

TestSuite(chaos, .fini = fini);

static uint64_t rng;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int pick(int n) { return (int)(next_rand() % (uint64_t)n); }

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A fault in progress: process i is down (killed) or paused until `until`. */
typedef struct fault {
    int i;
    bool paused;
    uint64_t until;
} fault_t;

static bool group_hit(const fc_t *c, const fault_t *f, int nf, const char *group)
{
    for (int k = 0; k < nf; k++)
        if (strcmp(c->p[f[k].i].group, group) == 0)
            return true;
    return false;
}

static bool any_namesrv_hit(const fc_t *c, const fault_t *f, int nf)
{
    for (int k = 0; k < nf; k++)
        if (!c->p[f[k].i].broker)
            return true;
    return false;
}

static void heal(fc_t *c, fault_t *f)
{
    if (f->paused)
        fc_resume(c, f->i);
    else
        fc_start(c, f->i);
}

Test(chaos, random_kills_and_pauses_under_load_lose_no_acknowledged_message, .timeout = 600)
{
    const char *s = getenv("RK_CHAOS_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
    int seconds = getenv("RK_CHAOS_SECONDS") ? atoi(getenv("RK_CHAOS_SECONDS")) : 20;
    if (seconds < 5)
        seconds = 5;
    rng = seed * 2654435761u + 1;
    fprintf(stderr, "chaos: seed %" PRIu64 ", %d s of faults (replay: RK_CHAOS_SEED=%" PRIu64 ")\n", seed, seconds,
            seed);
    cr_log_info("chaos: seed %" PRIu64 ", %d s", seed, seconds);

    fc_init(&c, NULL);
    fc_event(&c, "chaos: seed %" PRIu64 ", %d s of faults", seed, seconds);
    fc_start_all(&c);
    au_load_t l;
    au_start(&l, &c, "Chaos", 4, 200, seed);
    fault_t f[4];
    int nf = 0, events = 0;
    uint64_t end = mono_ms() + (uint64_t)seconds * 1000, next = mono_ms() + 1000;
    while (mono_ms() < end) {
        uint64_t now = mono_ms();
        for (int k = 0; k < nf;) {              /* heal what is due */
            if (now >= f[k].until) {
                heal(&c, &f[k]);
                f[k] = f[--nf];
            } else {
                k++;
            }
        }
        if (now >= next && nf < 3) {
            int what = pick(10), i = -1;
            const char *groups[] = {"broker-a", "broker-b"};
            const char *g = groups[pick(2)];
            if (what < 6 && !group_hit(&c, f, nf, g)) {
                i = fc_master(&c, g, -1, 0);    /* a master, if one is known right now */
                if (i < 0 || pick(3) == 0) {    /* else (or sometimes) any replica of g */
                    int cand[FC_MAX], n = 0;
                    for (int k = 0; k < c.n; k++)
                        if (c.p[k].broker && strcmp(c.p[k].group, g) == 0)
                            cand[n++] = k;
                    i = cand[pick(n)];
                }
            } else if (what < 8 && !any_namesrv_hit(&c, f, nf)) {
                i = fc_find(&c, pick(2) ? "namesrv-1" : "namesrv-2");
            }
            if (i >= 0 && c.p[i].pid > 0) {
                bool pause = c.p[i].broker && pick(3) == 0;
                if (pause)
                    fc_pause(&c, i);
                else
                    fc_kill9(&c, i);
                f[nf++] = (fault_t){.i = i, .paused = pause, .until = now + 1000 + (uint64_t)pick(3000)};
                events++;
            }
            next = now + 1500 + (uint64_t)pick(2500);
        }
        usleep(50000);
    }
    while (nf > 0)
        heal(&c, &f[--nf]);
    fc_event(&c, "chaos: %d faults, all healed", events);
    for (int k = 0; k < 2; k++) {
        const char *g = k ? "broker-b" : "broker-a";
        cr_assert(fc_master(&c, g, -1, 30000) >= 0, "seed %" PRIu64 ": %s has no master after the faults", seed, g);
    }
    sleep(1);
    au_stop(&l);
    cr_assert_gt(atomic_load(&l.acked), 0, "seed %" PRIu64 ": nothing was acknowledged", seed);
    int64_t read = au_verify(&l, 60000);
    fprintf(stderr, "chaos: seed %" PRIu64 ": %d faults, %lld sends acknowledged (%lld failed), all %zu found; %" PRId64
            " messages read\n", seed, events, (long long)atomic_load(&l.acked), (long long)atomic_load(&l.failed),
            l.nrecs, read);
    au_free(&l);
}
