/* fuzzkit.h — the pieces rocklet's fuzz programs share (the programs in chNN-x/fuzz/,
 * run by `make fuzz`; linked into fuzz and test programs only, never into a
 * server).
 *
 *   rk_fz_opts_t o; rk_fz_parse_args(argc, argv, &o);     --seed S --n N --rounds R
 *   rk_fz_rng_t r; rk_fz_seed(&r, o.seed);                  same seed, same inputs
 *   rk_fz_tpl_t *t; size_t nt; rk_fz_templates(&t, &nt);    valid requests, one per code
 *   rk_fz_mutate(&r, &t[i], &frame, desc, sizeof desc);     a mutated frame + what was done
 *
 * Templates are valid RocketMQ requests for the name server (register,
 * unregister, route and KV queries, replication snapshot/apply, ...) and for
 * the broker (sends, pulls, offsets, topic admin, heartbeats, locks, ...).
 * They name a made-up broker "fz-b" (127.0.0.1:1), cluster "FzCluster" and
 * topic "FzT", never the real broker under test, so a well-formed request
 * cannot legitimately remove the real broker's routes.
 *
 * A mutation is one of: the valid frame itself; flipped, inserted or
 * deleted bytes; a bogus frame length or header length/type; a truncated
 * frame; a hostile extFields value (huge or negative numbers, 1e300, long
 * strings); a hostile JSON body (wrong types, empty objects, deep nesting,
 * out-of-range numbers); a flipped byte in the JSON body; tens of thousands
 * of extFields. Bounded: no frame is over 4 MiB.
 *
 * Memory: rk_fz_templates() allocates, rk_fz_templates_free() releases; the
 * frame goes into the caller's rk_buf_t (reset first). No global state. */
#ifndef RK_FUZZKIT_H
#define RK_FUZZKIT_H

#include <stddef.h>
#include <stdint.h>

#include "rk/buf.h"
#include "rk/remoting_cmd.h"

/* xorshift64*: small, fast, the same sequence on every machine. */
typedef struct rk_fz_rng {
    uint64_t s;
} rk_fz_rng_t;

void rk_fz_seed(rk_fz_rng_t *r, uint64_t seed);
uint64_t rk_fz_next(rk_fz_rng_t *r);
/* Uniform in [0, n); 0 when n is 0. */
uint64_t rk_fz_below(rk_fz_rng_t *r, uint64_t n);

typedef struct rk_fz_opts {
    uint64_t seed;      /* --seed, default 1 */
    long n;             /* --n: mutated frames, default 2000 */
    long rounds;        /* --rounds: kill -9 rounds, default 10 */
} rk_fz_opts_t;

/* Parses --seed/--n/--rounds (each program uses those it needs); prints a
 * usage line and returns RK_EINVAL on anything else. */
int rk_fz_parse_args(int argc, char **argv, rk_fz_opts_t *o);

enum { RK_FZ_NAMESRV = 0, RK_FZ_BROKER = 1 };

typedef struct rk_fz_tpl {
    const char *name;       /* "REGISTER_BROKER", ... */
    int target;             /* RK_FZ_NAMESRV or RK_FZ_BROKER */
    rk_cmd_t *cmd;
} rk_fz_tpl_t;

int rk_fz_templates(rk_fz_tpl_t **out, size_t *n);
void rk_fz_templates_free(rk_fz_tpl_t *t, size_t n);

/* A mutation of tpl (sent as JSON or binary header at random) as one whole
 * frame, length field included, in out; desc says what was done (for the
 * report), e.g. "REGISTER_BROKER/json: body = {\"brokers\":[{}]}". The
 * thousands-of-extFields mutation says "huge: N extFields" (a fuzzer that
 * found them stalling may skip them after that). */
int rk_fz_mutate(rk_fz_rng_t *r, const rk_fz_tpl_t *tpl, rk_buf_t *out, char *desc, size_t desclen);

/* A fresh working folder base/name (base created if missing, base/name
 * emptied first: the previous run's leftovers go), its absolute path in
 * out. Fuzz programs use build/chNN/fuzz/, so `make clean` removes them. */
int rk_fz_workdir(char *out, size_t outlen, const char *base, const char *name);

/* Writes len bytes to path (the frame that broke something, for replay). */
int rk_fz_save(const char *path, const void *data, size_t len);

#endif
