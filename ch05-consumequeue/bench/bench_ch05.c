/* bench_ch05.c — chapter 5's figures (make bench-ch05):
 *
 *   1. dispatch rate while appending: N 1 KiB messages put as fast as one
 *      thread can; how fast the reput thread builds consume-queue and index
 *      entries behind it, and how far behind it is when the puts end;
 *   2. rebuild rate: the same log, consumequeue/ and index/ deleted, reopened;
 *   3. get throughput from page cache: every queue read front to back in
 *      batches of 32 (zero-copy slices; then also copying each record out,
 *      as a socket write would), against memcpy of the same bytes in this run;
 *   4. memory per million messages: consume-queue and index bytes on disk,
 *      and heap growth of the process.
 *
 * RK_BENCH_N overrides the message count (default 1,000,000). */
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"
#include "rk/message_store.h"
#include <ftw.h>
#include <unistd.h>

#define QUEUES 8
#define BODY 1024

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}
static void rmtree(const char *p) { nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static long long du(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return (long long)st.st_blocks * 512;
    long long sum = 0;
    DIR *d = opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", path, de->d_name);
        sum += du(p);
    }
    if (d)
        closedir(d);
    return sum;
}

static rk_store_t *open_store(const char *dir)
{
    rk_store_t *st = NULL;
    char err[256];
    int rc = rk_store_open(dir, NULL, &st, err, sizeof err);
    if (rc != RK_OK || (rc = rk_store_start(st)) != RK_OK) {
        fprintf(stderr, "open: %s %s\n", err, rk_strerror(rc));
        exit(1);
    }
    return st;
}

int main(void)
{
    rk_log_init(RK_LOG_WARN, NULL);
    long n = getenv("RK_BENCH_N") ? atol(getenv("RK_BENCH_N")) : 1000000;
    char dir[256];
    snprintf(dir, sizeof dir, "%s/rk-bench05-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(dir) == NULL)
        return 1;
    printf("ch05 bench: %ld messages, %d B bodies, %d queues, store %s\n", n, BODY, QUEUES, dir);

    struct mallinfo2 m0 = mallinfo2();
    rk_store_t *st = open_store(dir);
    uint8_t body[BODY];
    memset(body, 'b', sizeof body);
    rk_host_t host;
    rk_host_parse("127.0.0.1:10911", &host);
    char props[128];

    /* 1. append + dispatch */
    uint64_t t0 = rk_mono_ns();
    for (long i = 0; i < n; i++) {
        int pl = snprintf(props, sizeof props, "TAGS\001t%ld\002KEYS\001key%ld\002UNIQ_KEY\0017F0000010001%020lX",
                          i % 4, i, i);
        rk_msg_t m = {.topic = "BenchTopic", .topic_len = 10, .queue_id = (int32_t)(i % QUEUES),
                      .born_ts = 0, .born_host = host, .store_host = host,
                      .body = body, .body_len = BODY, .props = props, .props_len = (size_t)pl};
        rk_put_result_t r;
        if (rk_store_put(st, &m, &r) != RK_OK || r.status != RK_PUT_OK) {
            fprintf(stderr, "put failed at %ld\n", i);
            return 1;
        }
    }
    uint64_t t1 = rk_mono_ns();
    int64_t behind = rk_store_commitlog_max(st) - rk_store_dispatched(st);
    rk_store_wait_dispatched(st, 600000);
    uint64_t t2 = rk_mono_ns();
    double put_s = (double)(t1 - t0) / 1e9, disp_s = (double)(t2 - t0) / 1e9;
    printf("append:   %.0f msgs/s (%.1f MB/s of records) single thread\n", n / put_s,
           (double)rk_store_commitlog_max(st) / put_s / 1e6);
    printf("dispatch: %.0f records/s while appending (consume queue + index); "
           "%.3f s after the last put it had caught up; %lld bytes behind at that moment\n",
           n / disp_s, (double)(t2 - t1) / 1e9, (long long)behind);
    long long units = 0;
    for (int q = 0; q < QUEUES; q++)
        units += rk_store_max_offset(st, "BenchTopic", q);
    rk_store_close(st);

    /* 2. rebuild from the log */
    char p[512];
    snprintf(p, sizeof p, "%s/consumequeue", dir);
    long long cq_bytes = du(p);
    rmtree(p);
    snprintf(p, sizeof p, "%s/index", dir);
    long long idx_bytes = du(p);
    rmtree(p);
    t0 = rk_mono_ns();
    char err[256];
    if (rk_store_open(dir, NULL, &st, err, sizeof err) != RK_OK) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }
    uint64_t to = rk_mono_ns();
    if (rk_store_start(st) != RK_OK)
        return 1;
    t1 = rk_mono_ns();
    printf("rebuild:  %.0f records/s (consumequeue/ and index/ deleted: start() rebuilt them in %.3f s; "
           "open() with commitlog recovery took %.3f s before that)\n",
           n / ((double)(t1 - to) / 1e9), (double)(t1 - to) / 1e9, (double)(to - t0) / 1e9);

    /* 2b. a plain restart: the catch-up pass finds nothing missing */
    rk_store_close(st);
    t0 = rk_mono_ns();
    if (rk_store_open(dir, NULL, &st, err, sizeof err) != RK_OK)
        return 1;
    to = rk_mono_ns();
    if (rk_store_start(st) != RK_OK)
        return 1;
    t1 = rk_mono_ns();
    printf("restart:  open() %.3f s, start() %.3f s (catch-up pass over %ld records, nothing missing)\n",
           (double)(to - t0) / 1e9, (double)(t1 - to) / 1e9, n);

    /* 3. get throughput from page cache: one warm-up pass, then the best of
     * three passes of each kind, and memcpy of the same bytes from a buffer
     * of the same size, also best of three, in this run */
    uint8_t *out = malloc(256 * 1024);
    long long bytes = 0, msgs = 0;
    volatile uint8_t sink = 0;
    double best_zc = 0, best_copy = 0, best_mc = 0;
    for (int pass = 0; pass < 7; pass++) {
        bool copy = pass >= 4;
        bytes = msgs = 0;
        t0 = rk_mono_ns();
        for (int q = 0; q < QUEUES; q++) {
            int64_t off = 0;
            for (;;) {
                rk_get_result_t g;
                rk_store_get_message(st, "bench", "BenchTopic", q, off, 32, 256 * 1024, NULL, 0, &g);
                if (g.status != RK_GET_FOUND) {
                    rk_get_result_release(&g);
                    break;
                }
                size_t o = 0;
                for (int i = 0; i < g.count; i++) {
                    if (copy) {               /* copy out, as a socket write would */
                        memcpy(out + o, g.msgs[i].data, (size_t)g.msgs[i].size);
                        o += (size_t)g.msgs[i].size;
                    } else {                  /* zero copy: read one byte per record */
                        sink ^= g.msgs[i].data[g.msgs[i].size - 1];
                    }
                    bytes += g.msgs[i].size;
                }
                sink ^= out[0];
                msgs += g.count;
                off = g.next_begin_offset;
                rk_get_result_release(&g);
            }
        }
        double rate = bytes / ((double)(rk_mono_ns() - t0) / 1e9) / 1e6;
        if (pass > 0 && !copy && rate > best_zc)
            best_zc = rate;
        if (copy && rate > best_copy)
            best_copy = rate;
    }
    size_t rec = (size_t)(bytes / msgs);
    uint8_t *src = malloc((size_t)bytes);
    if (src == NULL)
        return 1;
    memset(src, 1, (size_t)bytes);
    for (int pass = 0; pass < 3; pass++) {
        uint64_t c0 = rk_mono_ns();
        for (size_t so = 0; so + rec <= (size_t)bytes;) {
            size_t o2 = 0;
            for (int i = 0; i < 32 && so + rec <= (size_t)bytes; i++) {
                memcpy(out + o2, src + so, rec);
                so += rec;
                o2 += rec;
            }
            sink ^= out[0];
        }
        double mc = bytes / ((double)(rk_mono_ns() - c0) / 1e9) / 1e6;
        if (mc > best_mc)
            best_mc = mc;
    }
    /* the same copies in the order a queue reader visits an interleaved log:
     * queue q holds records q, q+8, q+16... (a 9.5 KB stride) */
    double best_stride = 0;
    long long nrec = bytes / (long long)rec;
    for (int pass = 0; pass < 3; pass++) {
        uint64_t c0 = rk_mono_ns();
        for (int q = 0; q < QUEUES; q++) {
            size_t o2 = 0;
            int in_batch = 0;
            for (long long r = q; r < nrec; r += QUEUES) {
                memcpy(out + o2, src + (size_t)r * rec, rec);
                o2 += rec;
                if (++in_batch == 32) {
                    sink ^= out[0];
                    o2 = 0;
                    in_batch = 0;
                }
            }
        }
        double mc = bytes / ((double)(rk_mono_ns() - c0) / 1e9) / 1e6;
        if (mc > best_stride)
            best_stride = mc;
    }
    free(src);
    printf("get:      %.0f MB/s of records handed out as zero-copy slices (%lld msgs of %zu B per "
           "pass; one byte read per record)\n", best_zc, msgs, rec);
    printf("get+copy: %.0f MB/s (each record copied out, as a socket write would); memcpy of the "
           "same bytes from a %.0f MB buffer in 32-record batches: %.0f MB/s; "
           "ratio get+copy/memcpy = %.2f (best of 3 each)\n", best_copy, bytes / 1e6, best_mc,
           best_copy / best_mc);
    printf("          memcpy in a queue reader's order (every %dth record): %.0f MB/s; "
           "ratio get+copy/that = %.2f\n", QUEUES, best_stride, best_copy / best_stride);
    (void)sink;
    free(out);
    struct mallinfo2 m1 = mallinfo2();
    rk_store_close(st);
    printf("memory:   consume queues %.1f MB of units per million messages (%lld units; %.1f MB "
           "allocated now: %d files pre-allocated at 6 MB); index %.1f MB allocated per million "
           "(2 entries each: KEYS and UNIQ_KEY; 420 MB sparse files); heap growth %.2f MB for %ld "
           "messages (no per-message heap)\n",
           units * 20.0 / 1e6 * 1e6 / n, units, cq_bytes / 1e6, QUEUES, idx_bytes / 1e6 * 1e6 / n,
           ((double)m1.uordblks - (double)m0.uordblks) / 1e6, n);
    rmtree(dir);
    return 0;
}
