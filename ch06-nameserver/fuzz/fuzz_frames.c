/* fuzz_frames — in-process fuzz of the frame decoder (rk/remoting_cmd.h).
 *
 *   fuzz_frames [--seed S] [--n N]      (make fuzz runs it; N x 10 frames)
 *
 * Each round takes a valid request of one of ~40 request codes (name server
 * and broker), sends it as a JSON or a binary header, mutates it
 * (rk/fuzzkit.h), and feeds the bytes to the frame splitter in random-sized
 * pieces, decoding every frame it yields. A decoded request must encode
 * again and decode to the same code, flag, opaque, extFields and body; a
 * crash is caught by the sanitizers (make SAN=1 fuzz). One decode taking
 * more than 2 s is reported as a stall (quadratic parsing holds a server's
 * network thread that long); later huge frames are then skipped, as each
 * would stall as long. Exit status 1 on any failure, with the seed, the
 * round, the mutation, and the frame saved for replay in build/chNN/fuzz/. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "rk/error.h"
#include "rk/fuzzkit.h"
#include "rk/log.h"
#include "rk/remoting_cmd.h"

#define STALL_S 2.0
#define MAX_FAILURES 5

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long failures;
static bool stalled;
/* Where failing frames are saved: build/chNN/fuzz/ (next to the chapter's bin/). */
static const char *const save_dir = RK_BIN_DIR "/../fuzz";

static void fail(uint64_t seed, long round, const char *desc, const rk_buf_t *frame, const char *why)
{
    char path[512];
    snprintf(path, sizeof path, "%s/fuzz_frames-seed%llu-round%ld.bin", save_dir, (unsigned long long)seed, round);
    int rc = mkdir(save_dir, 0755) == 0 || errno == EEXIST ? rk_fz_save(path, frame->data, frame->len) : -errno;
    char real[PATH_MAX];
    printf("fuzz_frames: FAIL seed %llu round %ld: %s\n  mutation: %s\n  frame: %zu bytes%s%s\n",
           (unsigned long long)seed, round, why, desc, frame->len, rc == RK_OK ? ", saved in " : "",
           rc != RK_OK ? "" : realpath(path, real) ? real : path);
    fflush(stdout);
    failures++;
}

/* Same request after encode + decode? NULL if so, else what differs. */
static const char *round_trip(const rk_cmd_t *c)
{
    rk_buf_t b;
    rk_buf_init(&b);
    const char *why = NULL;
    rk_cmd_t *d = NULL;
    if (rk_cmd_encode(c, &b) != RK_OK)
        why = "a decoded request does not encode again";
    else if (b.len < 4 || rk_cmd_decode(b.data + 4, b.len - 4, &d) != RK_OK)
        why = "a decoded request, encoded again, does not decode";
    else if (d->code != c->code || d->flag != c->flag || d->opaque != c->opaque)
        why = "code, flag or opaque changed in a round trip";
    else if (d->body_len != c->body_len || (c->body_len && memcmp(d->body, c->body, c->body_len) != 0))
        why = "the body changed in a round trip";
    else if (d->next != c->next)
        why = "the number of extFields changed in a round trip";
    else
        for (size_t i = 0; i < c->next && why == NULL; i++)    /* encode and decode keep the order */
            if (strcmp(d->ext[i].key, c->ext[i].key) != 0 || strcmp(d->ext[i].value, c->ext[i].value) != 0)
                why = "an extFields key or value changed in a round trip";
    rk_cmd_free(d);
    rk_buf_free(&b);
    return why;
}

int main(int argc, char **argv)
{
    rk_fz_opts_t o;
    if (rk_fz_parse_args(argc, argv, &o) != RK_OK)
        return 2;
    rk_log_init(RK_LOG_OFF, NULL);
    rk_fz_rng_t r;
    rk_fz_seed(&r, o.seed);
    rk_fz_tpl_t *tpl;
    size_t ntpl;
    if (rk_fz_templates(&tpl, &ntpl) != RK_OK)
        return 1;
    long rounds = o.n * 10, skipped = 0, decoded = 0, rejected = 0, split_errors = 0, incomplete = 0;
    double slowest = 0, t0 = now_s();
    char slowest_desc[300] = "";
    printf("fuzz_frames: seed %llu, %ld mutated frames through rk_frames_* and rk_cmd_decode (%zu request codes)\n",
           (unsigned long long)o.seed, rounds, ntpl);
    fflush(stdout);
    rk_buf_t frame;
    rk_buf_init(&frame);
    long i;
    for (i = 0; i < rounds && failures < MAX_FAILURES; i++) {
        char desc[300];
        const rk_fz_tpl_t *t = &tpl[rk_fz_below(&r, ntpl)];
        if (rk_fz_mutate(&r, t, &frame, desc, sizeof desc) != RK_OK) {
            fail(o.seed, i, t->name, &frame, "the fuzzer ran out of memory");
            break;
        }
        if (stalled && strstr(desc, ": huge: ") != NULL) {
            skipped++;
            continue;
        }
        rk_frames_t fs;
        rk_frames_init(&fs, RK_FRAME_MAX_DEFAULT);
        size_t fed = 0;
        int st = 0;
        while (fed < frame.len && st >= 0) {
            size_t piece = 1 + rk_fz_below(&r, rk_fz_below(&r, 2) ? 16 : frame.len);
            if (piece > frame.len - fed)
                piece = frame.len - fed;
            if (rk_frames_feed(&fs, frame.data + fed, piece) != RK_OK)
                break;
            fed += piece;
            const uint8_t *f;
            size_t flen;
            while ((st = rk_frames_next(&fs, &f, &flen)) == 1) {
                rk_cmd_t *c = NULL;
                double t1 = now_s();
                int rc = rk_cmd_decode(f, flen, &c);
                double dt = now_s() - t1;
                if (dt > slowest) {
                    slowest = dt;
                    snprintf(slowest_desc, sizeof slowest_desc, "%s", desc);
                }
                if (dt > STALL_S) {
                    char why[96];
                    snprintf(why, sizeof why, "one rk_cmd_decode took %.1f s (a server's network thread stalls)", dt);
                    fail(o.seed, i, desc, &frame, why);
                    stalled = true;
                }
                if (rc == RK_OK) {
                    decoded++;
                    const char *why = round_trip(c);
                    if (why)
                        fail(o.seed, i, desc, &frame, why);
                } else {
                    rejected++;
                }
                rk_cmd_free(c);
            }
        }
        if (st < 0)
            split_errors++;
        else if (fs.buf.len > fs.start)
            incomplete++;
        rk_frames_free(&fs);
    }
    rk_buf_free(&frame);
    rk_fz_templates_free(tpl, ntpl);
    if (stalled)
        printf("fuzz_frames: after the stall, %ld frames with thousands of extFields were skipped\n", skipped);
    printf("fuzz_frames: %ld frames in %.1f s: %ld decoded (and round-tripped), %ld refused by the decoder, "
           "%ld refused by the splitter, %ld left incomplete; slowest decode %.3f s (%s)\n",
           i, now_s() - t0, decoded, rejected, split_errors, incomplete, slowest, slowest_desc);
    if (failures) {
        printf("fuzz_frames: FAILED: %ld failure%s (reproduce: make fuzz-ch06 FUZZ_SEED=%llu FUZZ_N=%ld)\n", failures,
               failures > 1 ? "s" : "", (unsigned long long)o.seed, o.n);
        return 1;
    }
    printf("fuzz_frames: OK\n");
    return 0;
}
