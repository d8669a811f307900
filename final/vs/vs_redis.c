/* vs_redis — the Redis side of `make bench-vs` where redis-benchmark cannot go (hiredis):
 *
 *   vs_redis paced  -p PORT -k KEY -s SIZE -w CONNS -b BATCH -r MSGS_PER_S -d SECONDS
 *       CONNS threads, one connection each, send XADD KEY * f <SIZE bytes> in pipelines of BATCH
 *       and wait for the replies, each thread paced to MSGS_PER_S / CONNS (starts staggered over
 *       one gap), as mqbench --rate paces its sender threads. A send's time runs from writing the
 *       first XADD to reading the last reply, as mqbench times a send (not from when it was due).
 *       Prints the p50/p99/p999 of those times.
 *   vs_redis xrange -p PORT -k KEY [-c COUNT]
 *       reads the whole stream KEY back from the start, XRANGE KEY (last-id + COUNT COUNT
 *       (default 1000) one after another on one connection, and prints entries/s and the payload
 *       (field values) in MB/s.
 *
 * Output (one line, parsed by bench-vs.sh):
 *   SUMMARY paced: N msgs in S s = R msgs/s, RT ms p50 A p99 B p999 C
 *   SUMMARY xrange: N msgs, B payload bytes in S s = R msgs/s (M MB/s)
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vs_common.h"

static int port, size = 1024, conns = 64, batch = 1, count = 1000;
static double rate = 100000, secs = 5;
static const char *key = "vs";
static char *body;

static redisContext *connect_to(void)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    if (c == NULL || c->err) {
        fprintf(stderr, "vs_redis: connect to 127.0.0.1:%d: %s\n", port, c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    return c;
}

/* ------------------------------------------------------------ paced XADD */

typedef struct worker {
    pthread_t th;
    int idx;
    uint32_t *us;       /* one send time (µs) per send */
    size_t n, cap;
    long msgs, errors;
} worker_t;

static uint64_t t_end;

static void *paced_main(void *arg)
{
    worker_t *w = arg;
    redisContext *c = connect_to();
    if (c == NULL) {
        w->errors++;
        return NULL;
    }
    double gap = 1e9 * batch * conns / rate;
    uint64_t next = vs_now_ns() + (uint64_t)(gap * w->idx / conns);
    while (vs_now_ns() < t_end) {
        uint64_t now = vs_now_ns();
        if (now < next) {
            struct timespec ts = {.tv_sec = (time_t)((next - now) / 1000000000u),
                                  .tv_nsec = (long)((next - now) % 1000000000u)};
            nanosleep(&ts, NULL);
        }
        next += (uint64_t)gap;
        uint64_t t0 = vs_now_ns();
        int ok = 1;
        for (int i = 0; i < batch; i++)
            if (redisAppendCommand(c, "XADD %s * f %b", key, body, (size_t)size) != REDIS_OK)
                ok = 0;
        for (int i = 0; i < batch && ok; i++) {
            redisReply *r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK || r == NULL || r->type == REDIS_REPLY_ERROR)
                ok = 0;
            freeReplyObject(r);
        }
        if (!ok) {
            if (w->errors++ < 3)
                fprintf(stderr, "vs_redis: XADD failed: %s\n", c->err ? c->errstr : "error reply");
            if (c->err)
                break;
            continue;
        }
        if (w->n == w->cap) {
            size_t cap = w->cap ? w->cap * 2 : 4096;
            uint32_t *us = realloc(w->us, cap * sizeof *us);
            if (us == NULL)
                break;
            w->us = us;
            w->cap = cap;
        }
        w->us[w->n++] = (uint32_t)((vs_now_ns() - t0) / 1000);
        w->msgs += batch;
    }
    redisFree(c);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(const uint32_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)((double)n * p / 100.0);
    return v[i < n ? i : n - 1] / 1000.0;
}

static int paced(void)
{
    worker_t *w = calloc((size_t)conns, sizeof *w);
    if (w == NULL)
        return 1;
    uint64_t t0 = vs_now_ns();
    t_end = t0 + (uint64_t)(secs * 1e9);
    int started = 0;
    for (int i = 0; i < conns; i++, started++) {
        w[i].idx = i;
        if (pthread_create(&w[i].th, NULL, paced_main, &w[i]) != 0)
            break;
    }
    size_t total = 0;
    long msgs = 0, errors = started < conns;
    for (int i = 0; i < started; i++) {
        pthread_join(w[i].th, NULL);
        total += w[i].n;
        msgs += w[i].msgs;
        errors += w[i].errors;
    }
    double took = (double)(vs_now_ns() - t0) / 1e9;
    uint32_t *all = malloc((total ? total : 1) * sizeof *all);
    if (all == NULL)
        return 1;
    size_t k = 0;
    for (int i = 0; i < started; i++) {
        if (w[i].n > 0)
            memcpy(all + k, w[i].us, w[i].n * sizeof *all);
        k += w[i].n;
        free(w[i].us);
    }
    qsort(all, total, sizeof *all, cmp_u32);
    printf("SUMMARY paced: %ld msgs in %.2f s = %.0f msgs/s, errors %ld, RT ms p50 %.3f p99 %.3f p999 %.3f\n", msgs, took,
           (double)msgs / took, errors, pct_ms(all, total, 50), pct_ms(all, total, 99), pct_ms(all, total, 99.9));
    free(all);
    free(w);
    return errors ? 1 : 0;
}

/* ------------------------------------------------------------ XRANGE catch-up */

static int xrange(void)
{
    redisContext *c = connect_to();
    if (c == NULL)
        return 1;
    char start[64] = "-";
    long n = 0;
    unsigned long long bytes = 0;
    uint64_t t0 = vs_now_ns();
    for (;;) {
        redisReply *r = redisCommand(c, "XRANGE %s %s + COUNT %d", key, start, count);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
            fprintf(stderr, "vs_redis: XRANGE failed: %s\n", r ? (r->str ? r->str : "unexpected reply") : c->errstr);
            freeReplyObject(r);
            redisFree(c);
            return 1;
        }
        for (size_t i = 0; i < r->elements; i++) {
            redisReply *e = r->element[i];              /* [id, [field, value, ...]] */
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
                continue;
            redisReply *fv = e->element[1];
            for (size_t j = 1; j < fv->elements; j += 2)
                bytes += fv->element[j]->len;
            n++;
            if (i + 1 == r->elements)
                snprintf(start, sizeof start, "(%s", e->element[0]->str);
        }
        size_t got = r->elements;
        freeReplyObject(r);
        if (got < (size_t)count)
            break;
    }
    double took = (double)(vs_now_ns() - t0) / 1e9;
    printf("SUMMARY xrange: %ld msgs, %llu payload bytes in %.2f s = %.0f msgs/s (%.1f MB/s)\n", n, bytes, took,
           took > 0 ? (double)n / took : 0, took > 0 ? (double)bytes / took / 1e6 : 0);
    redisFree(c);
    return n > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: vs_redis paced|xrange -p PORT [-k KEY] [-s SIZE] [-w CONNS] [-b BATCH] [-r RATE] "
                        "[-d SECONDS] [-c COUNT]\n");
        return 2;
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *f = argv[i], *v = argv[i + 1];
        if (strcmp(f, "-p") == 0)
            port = atoi(v);
        else if (strcmp(f, "-k") == 0)
            key = v;
        else if (strcmp(f, "-s") == 0)
            size = atoi(v);
        else if (strcmp(f, "-w") == 0)
            conns = atoi(v);
        else if (strcmp(f, "-b") == 0)
            batch = atoi(v);
        else if (strcmp(f, "-r") == 0)
            rate = atof(v);
        else if (strcmp(f, "-d") == 0)
            secs = atof(v);
        else if (strcmp(f, "-c") == 0)
            count = atoi(v);
    }
    if (port <= 0 || size <= 0 || size > (1 << 20) || conns <= 0 || conns > 1024 || batch <= 0 || rate <= 0 ||
        secs <= 0 || count <= 0) {
        fprintf(stderr, "vs_redis: a flag is out of range\n");
        return 2;
    }
    if ((body = malloc((size_t)size)) == NULL)
        return 1;
    for (int i = 0; i < size; i++)
        body[i] = (char)('a' + i % 26);
    int rc = strcmp(argv[1], "paced") == 0 ? paced() : strcmp(argv[1], "xrange") == 0 ? xrange() : 2;
    free(body);
    return rc;
}
