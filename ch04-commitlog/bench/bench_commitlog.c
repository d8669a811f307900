/* bench_commitlog.c — how fast the CommitLog appends, next to the ceiling.
 *
 * The ceiling is a plain memcpy of the same bytes into an mmap'ed file: the
 * append path can only add work to it (record encoding, CRC, the lock, queue
 * offsets). Prints figures; asserts nothing. Uses a temporary folder under
 * $TMPDIR (default /tmp) and removes it. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <uv.h>

#include "rk/clock.h"
#include "rk/commitlog.h"
#include "rk/fileutil.h"
#include "rk/log.h"
#include "rk/mapped_file.h"
#include "rk/rkstore.h"
#include "rk/testkit.h"

#define FILE_SIZE (256LL << 20)
#define VOLUME (768LL << 20)        /* bytes appended per measurement */

static char root[256];

static void fresh_store(rk_commitlog_config_t *cfg, int flush_type)
{
    char sub[300];
    static int n;
    snprintf(sub, sizeof sub, "%s/s%d", root, n++);
    char err[200];
    rk_commitlog_config_load(cfg, NULL, err, sizeof err);
    free(cfg->store_root);
    cfg->store_root = strdup(sub);
    cfg->file_size = FILE_SIZE;
    cfg->flush_type = flush_type;
}

/* memcpy of `chunk`-byte pieces into fresh mapped files, the way appends
 * fill fresh files (first-touch page faults included, as for the log). */
static double ceiling_mbps(size_t chunk)
{
    char dir[300];
    static int n;
    snprintf(dir, sizeof dir, "%s/raw%d", root, n++);
    if (rk_mkdirs(dir, 0755) != 0) {
        fprintf(stderr, "cannot create %s\n", dir);
        exit(1);
    }
    uint8_t *src = malloc(chunk);
    memset(src, 'x', chunk);
    uint64_t t0 = rk_mono_ns();
    int64_t done = 0;
    for (int64_t from = 0; done < VOLUME; from += FILE_SIZE) {
        rk_mapped_file_t *mf;
        if (rk_mapped_file_open(dir, from, FILE_SIZE, true, &mf) != 0) {
            fprintf(stderr, "cannot create a file in %s\n", dir);
            exit(1);
        }
        for (size_t pos = 0; pos + chunk <= FILE_SIZE && done < VOLUME; pos += chunk) {
            memcpy(mf->base + pos, src, chunk);
            done += (int64_t)chunk;
        }
        rk_mapped_file_destroy(mf);
        rk_mapped_file_release(mf);
    }
    double secs = (double)(rk_mono_ns() - t0) / 1e9;
    free(src);
    return (double)done / secs / 1e6;
}

/* warm: warmMapedFileEnable. one_file: stop before the first roll, so only
 * the put path is measured (the file was made and warmed before timing). */
/* memcpy into one mapped file whose pages were touched first. */
static double warm_ceiling_mbps(size_t chunk)
{
    char dir[300];
    static int n;
    snprintf(dir, sizeof dir, "%s/warm%d", root, n++);
    rk_mapped_file_t *mf;
    if (rk_mkdirs(dir, 0755) != 0 || rk_mapped_file_open(dir, 0, FILE_SIZE, true, &mf) != 0) {
        fprintf(stderr, "cannot create a file in %s\n", dir);
        exit(1);
    }
    rk_mapped_file_warm(mf);
    uint8_t *src = malloc(chunk);
    memset(src, 'w', chunk);
    uint64_t t0 = rk_mono_ns();
    size_t pos = 0;
    for (; pos + chunk <= FILE_SIZE; pos += chunk)
        memcpy(mf->base + pos, src, chunk);
    double secs = (double)(rk_mono_ns() - t0) / 1e9;
    free(src);
    rk_mapped_file_destroy(mf);
    rk_mapped_file_release(mf);
    return (double)pos / secs / 1e6;
}

static void append_run(const char *label, size_t body, int batch, double ceiling, bool warm, bool one_file)
{
    rk_commitlog_config_t cfg;
    fresh_store(&cfg, RK_FLUSH_ASYNC);
    cfg.warm_mapped_file = warm;
    cfg.flush_interval_ms = 50;     /* the flush thread also makes the next file ahead */
    rk_commitlog_t *cl;
    char err[300];
    if (rk_commitlog_open(&cfg, &cl, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    rk_msg_t msgs[64];
    uint8_t *b = malloc(body);
    rk_rkstore_fill_body(b, body, 1);
    for (int i = 0; i < batch; i++) {
        msgs[i] = (rk_msg_t){.topic = "BenchTopic", .topic_len = 10, .queue_id = i % 8, .body = b,
                             .body_len = body, .store_host = *rk_commitlog_store_host(cl)};
        rk_host_parse("127.0.0.1:5555", &msgs[i].born_host);
    }
    int64_t rec = (int64_t)rk_record_size(&msgs[0]);
    int64_t n = one_file ? (FILE_SIZE - 65536) / rec / batch * batch : VOLUME / rec;
    rk_put_result_t r;
    /* untimed: the first file is created (and warmed) like a broker's at start */
    rk_commitlog_put(cl, &msgs[0], &r);
    uint64_t t0 = rk_mono_ns();
    for (int64_t i = 0; i < n; i += batch)
        if (rk_commitlog_put_batch(cl, msgs, batch, &r, NULL) != 0 || r.status != RK_PUT_OK) {
            fprintf(stderr, "put failed: %s\n", rk_put_status_name(r.status));
            exit(1);
        }
    double secs = (double)(rk_mono_ns() - t0) / 1e9;
    double mbps = (double)(n * rec) / secs / 1e6;
    printf("%-34s %10.0f msgs/s %8.1f MB/s  %5.1f%% of ceiling\n", label, (double)n / secs, mbps,
           100.0 * mbps / ceiling);
    free(b);
    rk_commitlog_close(cl);
    rk_tk_rmtree(cfg.store_root);
    rk_commitlog_config_free(&cfg);
}

typedef struct {
    rk_commitlog_t *cl;
    int64_t n;
} sync_arg_t;

static void sync_putter(void *arg)
{
    sync_arg_t *a = arg;
    uint8_t body[1024];
    memset(body, 's', sizeof body);
    rk_msg_t m = {.topic = "SyncTopic", .topic_len = 9, .body = body, .body_len = sizeof body,
                  .store_host = *rk_commitlog_store_host(a->cl)};
    rk_host_parse("127.0.0.1:5555", &m.born_host);
    for (int64_t i = 0; i < a->n; i++) {
        rk_put_result_t r;
        rk_commitlog_put(a->cl, &m, &r);
    }
}

static void sync_run(int threads, int64_t per_thread)
{
    rk_commitlog_config_t cfg;
    fresh_store(&cfg, RK_FLUSH_SYNC);
    rk_commitlog_t *cl;
    char err[300];
    if (rk_commitlog_open(&cfg, &cl, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    uv_thread_t t[64];
    sync_arg_t a = {cl, per_thread};
    uint64_t f0 = rk_commitlog_flush_count(cl), t0 = rk_mono_ns();
    for (int i = 0; i < threads; i++)
        uv_thread_create(&t[i], sync_putter, &a);
    for (int i = 0; i < threads; i++)
        uv_thread_join(&t[i]);
    double secs = (double)(rk_mono_ns() - t0) / 1e9;
    uint64_t flushes = rk_commitlog_flush_count(cl) - f0;
    int64_t n = per_thread * threads;
    printf("sync flush, %2d putters, 1 KiB        %10.0f msgs/s  %6" PRIu64 " flushes for %6" PRId64
           " puts (%.1f puts per flush)\n",
           threads, (double)n / secs, flushes, n, flushes ? (double)n / (double)flushes : 0.0);
    rk_commitlog_close(cl);
    rk_tk_rmtree(cfg.store_root);
    rk_commitlog_config_free(&cfg);
}

int main(void)
{
    rk_log_init(RK_LOG_WARN, NULL);
    if (rk_tk_tmpdir(root, sizeof root, "bench04") != 0) {
        perror("tmpdir");
        return 1;
    }
    printf("rocklet ch04 benchmark: %lld MiB per run, files of %lld MiB, in %s\n", VOLUME >> 20,
           FILE_SIZE >> 20, root);
    double c1k = ceiling_mbps(1116), c100 = ceiling_mbps(193);
    printf("%-34s %27.1f MB/s (memcpy of 1116-byte records)\n", "ceiling: memcpy into mmap", c1k);
    printf("%-34s %27.1f MB/s (memcpy of 193-byte records)\n", "ceiling: memcpy into mmap", c100);
    append_run("append 100 B, one at a time", 100, 1, c100, false, false);
    append_run("append 1 KiB, one at a time", 1024, 1, c1k, false, false);
    append_run("append 100 B, batches of 32", 100, 32, c100, false, false);
    append_run("append 1 KiB, batches of 32", 1024, 32, c1k, false, false);
    printf("-- with warmMapedFileEnable=true: the next file is made and its pages touched ahead,\n"
           "   on the flush thread, so the putter takes no first-touch page faults\n");
    append_run("append 100 B, warmed ahead", 100, 1, c100, true, false);
    append_run("append 1 KiB, warmed ahead", 1024, 1, c1k, true, false);
    printf("-- the put path alone: one warmed file, no roll while timing (ceiling: the same memcpy\n"
           "   into already-faulted pages)\n");
    double w100 = warm_ceiling_mbps(193), w1k = warm_ceiling_mbps(1116);
    printf("%-34s %27.1f MB/s (193-byte pieces)\n", "ceiling: memcpy, pages faulted", w100);
    printf("%-34s %27.1f MB/s (1116-byte pieces)\n", "ceiling: memcpy, pages faulted", w1k);
    append_run("append 100 B, put path only", 100, 1, w100, true, true);
    append_run("append 1 KiB, put path only", 1024, 1, w1k, true, true);
    sync_run(1, 300);
    sync_run(8, 300);
    sync_run(64, 100);
    rk_tk_rmtree(root);
    return 0;
}
