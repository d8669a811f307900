/* rkstore_cmds.c — chapter 4's rkstore commands: put, scan, stat, verify (see rk/rkstore.h). */
#include "rk/rkstore.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/hash.h"
#include "rk/log.h"

int rk_rkstore_config(rk_commitlog_config_t *cfg, const char *dir, int64_t file_size,
                      const char *flush)
{
    char err[256] = "";
    int rc = rk_commitlog_config_load(cfg, NULL, err, sizeof err);
    if (rc != RK_OK) {
        fprintf(stderr, "config: %s\n", err);
        return rc;
    }
    free(cfg->store_root);
    cfg->store_root = strdup(dir);
    if (cfg->store_root == NULL)
        return RK_ENOMEM;
    char cldir[4096];
    rk_path_join(cldir, sizeof cldir, dir, "commitlog");
    int64_t found = rk_commitlog_detect_file_size(cldir);
    if (found > 0 && file_size > 0 && found != file_size) {
        fprintf(stderr, "%s holds files of %" PRId64 " bytes, not %" PRId64 "\n", cldir, found, file_size);
        return RK_EBADCONFIG;
    }
    if (found > 0)
        cfg->file_size = found;
    else if (file_size > 0)
        cfg->file_size = file_size;
    if (cfg->file_size % 4096 != 0) {
        fprintf(stderr, "--file-size: %" PRId64 " is not a multiple of 4096\n", cfg->file_size);
        return RK_EBADCONFIG;
    }
    if (flush != NULL) {
        if (strcmp(flush, "async") == 0)
            cfg->flush_type = RK_FLUSH_ASYNC;
        else if (strcmp(flush, "sync") == 0)
            cfg->flush_type = RK_FLUSH_SYNC;
        else {
            fprintf(stderr, "--flush: \"%s\" is not async or sync\n", flush);
            return RK_EBADCONFIG;
        }
    }
    return RK_OK;
}

void rk_rkstore_fill_body(uint8_t *body, size_t len, int64_t seq)
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    int n = snprintf((char *)body, len, "msg-%" PRId64 "-", seq);
    for (size_t i = n > 0 ? (size_t)n : 0; i < len; i++)
        body[i] = (uint8_t)alpha[(i + (size_t)seq) % (sizeof alpha - 1)];
}

static bool dir_must_exist(const char *dir)
{
    if (rk_path_exists(dir))
        return true;
    fprintf(stderr, "%s: no such store folder\n", dir);
    return false;
}

/* ---- put ---- */

#define PA(f) offsetof(rk_rkstore_put_args_t, f)
const rk_tool_opt_t rk_rkstore_put_opts[] = {
    {"--topic", RK_OPT_STR, PA(topic), 0, 0},
    {"--count", RK_OPT_INT, PA(count), 1, INT64_MAX},
    {"--size", RK_OPT_INT, PA(size), 0, 4 << 20},
    {"--file-size", RK_OPT_INT, PA(file_size), 4096, 1LL << 40},
    {"--flush", RK_OPT_STR, PA(flush), 0, 0},
    {"--queue", RK_OPT_INT, PA(queue), 0, 65535},
    {"--batch", RK_OPT_INT, PA(batch), 1, 1024},
    {"--verbose", RK_OPT_FLAG, PA(verbose), 0, 0},
    {NULL, 0, 0, 0, 0},
};
#undef PA

void rk_rkstore_put_defaults(rk_rkstore_put_args_t *a)
{
    *a = (rk_rkstore_put_args_t){.topic = "TopicTest", .count = 1000, .size = 256, .batch = 1};
}

/* --verbose: the record as stored (its queue offset is the log's to give). */
static void print_put(rk_commitlog_t *cl, int64_t phys)
{
    rk_slice_t s;
    rk_record_t r;
    char id[RK_MSGID_MAX];
    rk_msgid_encode(rk_commitlog_store_host(cl), phys, id, sizeof id);
    if (rk_commitlog_read_record(cl, phys, &s, &r) != RK_OK) {
        printf("put phys=%" PRId64 " msgId=%s\n", phys, id);
        return;
    }
    printf("put %.*s queue=%d queueOffset=%" PRId64 " phys=%" PRId64 " size=%u msgId=%s\n", r.topic_len,
           r.topic, r.queue_id, r.queue_offset, phys, r.total_size, id);
    rk_slice_release(&s);
}

int rk_rkstore_put_loop(const rk_rkstore_put_args_t *a, const char *dir, rk_commitlog_t *cl,
                        rk_rkstore_decorate_fn decorate, void *ctx)
{
    if (strlen(a->topic) == 0 || strlen(a->topic) > RK_TOPIC_MAX_LEN) {
        fprintf(stderr, "--topic: must be 1 to %d bytes\n", RK_TOPIC_MAX_LEN);
        return 2;
    }
    int64_t batch = a->batch > 0 ? a->batch : 1, size = a->size;
    printf("put %" PRId64 " messages of %" PRId64 " bytes to %s (topic %s, %s, files of %" PRId64 " bytes)\n",
           a->count, size, dir, a->topic, rk_commitlog_put_may_wait(cl) ? "SYNC_FLUSH" : "ASYNC_FLUSH",
           rk_commitlog_file_size(cl));
    fflush(stdout);
    uint8_t *body = malloc((size_t)(size * batch) + 1);
    rk_msg_t *msgs = calloc((size_t)batch, sizeof *msgs);
    int64_t *phys = calloc((size_t)batch, sizeof *phys);
    if (body == NULL || msgs == NULL || phys == NULL) {
        fprintf(stderr, "out of memory\n");
        free(body);
        free(msgs);
        free(phys);
        return 1;
    }
    rk_host_t born;
    rk_host_parse("127.0.0.1:0", &born);
    int64_t first = -1, last = -1, done = 0, bytes = 0;
    uint64_t t0 = rk_mono_ns(), next_report = t0 + 1000000000ull;
    int status = 0;
    while (done < a->count && status == 0) {
        int n = (int)(a->count - done < batch ? a->count - done : batch);
        for (int i = 0; i < n && status == 0; i++) {
            uint8_t *b = body + (size_t)i * (size_t)size;
            rk_rkstore_fill_body(b, (size_t)size, done + i);
            msgs[i] = (rk_msg_t){.topic = a->topic, .topic_len = strlen(a->topic), .queue_id = (int32_t)a->queue,
                                 .born_ts = rk_now_ms(), .born_host = born,
                                 .store_host = *rk_commitlog_store_host(cl), .body = b,
                                 .body_len = (size_t)size};
            int rc = decorate ? decorate(ctx, i, done + i, &msgs[i]) : RK_OK;
            if (rc != RK_OK) {
                fprintf(stderr, "put: message %" PRId64 ": %s\n", done + i, rk_strerror(rc));
                status = 1;
            }
        }
        if (status != 0)
            break;
        rk_put_result_t res;
        int rc = rk_commitlog_put_batch(cl, msgs, n, &res, phys);
        if (rc != RK_OK || res.status != RK_PUT_OK) {
            fprintf(stderr, "put failed after %" PRId64 " messages: %s\n", done,
                    rc != RK_OK ? rk_strerror(rc) : rk_put_status_name(res.status));
            status = 1;
            break;
        }
        if (first < 0)
            first = phys[0];
        last = phys[n - 1];
        done += n;
        bytes += res.wrote_bytes;
        if (a->verbose)
            for (int i = 0; i < n; i++)
                print_put(cl, phys[i]);
        uint64_t now = rk_mono_ns();
        if (!a->verbose && now >= next_report && done < a->count) {
            printf("  %.1f s: %" PRId64 " messages, last offset %" PRId64 "\n", (double)(now - t0) / 1e9, done,
                   last);
            fflush(stdout);
            next_report = now + 1000000000ull;
        }
    }
    double secs = (double)(rk_mono_ns() - t0) / 1e9;
    if (secs <= 0)
        secs = 1e-9;
    printf("done: %" PRId64 " messages, %" PRId64 " bytes, first offset %" PRId64 ", last offset %" PRId64
           ", %.3f s, %.0f msgs/s, %.1f MB/s\n",
           done, bytes, first, last, secs, (double)done / secs, (double)bytes / secs / 1e6);
    free(body);
    free(msgs);
    free(phys);
    return status;
}

static int cmd_put(int argc, char **argv)
{
    const rk_tool_cmd_t *self = rk_tool_find(rk_rkstore_cmds_ch04, "put");
    rk_rkstore_put_args_t a;
    rk_rkstore_put_defaults(&a);
    const rk_tool_optset_t sets[] = {{rk_rkstore_put_opts, &a}};
    const char *pos[1];
    int npos = 0;
    if (rk_tool_parse(argc, argv, sets, 1, pos, 1, &npos, NULL) != 0 || npos != 1)
        return rk_tool_usage(self);
    const char *dir = pos[0];
    rk_commitlog_config_t cfg;
    int rc = rk_rkstore_config(&cfg, dir, a.file_size, a.flush);
    rk_commitlog_t *cl = NULL;
    char err[512] = "";
    if (rc == RK_OK && (rc = rk_commitlog_open(&cfg, &cl, err, sizeof err)) != RK_OK)
        fprintf(stderr, "%s: %s\n", dir, err[0] ? err : rk_strerror(rc));
    if (rc != RK_OK) {
        rk_commitlog_config_free(&cfg);
        return rc == RK_ELOCKED ? 3 : 1;
    }
    int status = rk_rkstore_put_loop(&a, dir, cl, NULL, NULL);
    rk_commitlog_close(cl);
    rk_commitlog_config_free(&cfg);
    return status;
}

/* ---- scan, stat, verify ---- */

typedef struct {
    int64_t limit, shown;
} scan_ctx_t;

static int print_record(void *ctx, const rk_record_t *r, bool crc_ok)
{
    scan_ctx_t *s = ctx;
    char when[32];
    printf("offset=%" PRId64 " size=%u topic=%.*s queueId=%d queueOffset=%" PRId64 " storeTime=%s crc=%s\n",
           r->phys_offset, r->total_size, r->topic_len, r->topic, r->queue_id, r->queue_offset,
           rk_format_ms(r->store_ts, when, sizeof when), crc_ok ? "ok" : "bad");
    return ++s->shown >= s->limit;
}

/* How the log ends, in words. After a crash (`abort` present) an intact
 * last record is where the writer stopped, not a "clean end". */
static const char *end_name(const rk_scan_report_t *rep, bool crashed)
{
    if (rep->how == RK_SCAN_END_TORN)
        return "torn last record";
    return crashed ? "the writer crashed after the last intact record" : "clean end";
}

static bool store_crashed(const char *dir)
{
    char p[4096];
    return rk_path_join(p, sizeof p, dir, "abort") == RK_OK && rk_path_exists(p);
}

/* Read-only: maps the files PROT_READ, takes no lock, changes nothing. */
static int scan_common(const char *dir, int64_t from, bool check_crc, scan_ctx_t *sc, rk_scan_fn fn,
                       rk_scan_report_t *rep, int64_t *file_size)
{
    if (!dir_must_exist(dir))
        return 1;
    char cldir[4096];
    rk_path_join(cldir, sizeof cldir, dir, "commitlog");
    int64_t fs = rk_commitlog_detect_file_size(cldir);
    if (fs <= 0) {
        printf("%s: empty store (no commitlog files)\n", dir);
        memset(rep, 0, sizeof *rep);
        *file_size = 0;
        return 0;
    }
    *file_size = fs;
    int rc = rk_commitlog_scan_dir(cldir, fs, from, check_crc, fn, sc, rep);
    if (rc != RK_OK) {
        fprintf(stderr, "%s: %s%s%s\n", cldir, rk_strerror(rc), rep->reason[0] ? ": " : "", rep->reason);
        return 1;
    }
    return 0;
}

static void print_damage(const rk_scan_report_t *rep)
{
    const rk_commitlog_damage_t *d = &rep->damage;
    printf("DAMAGED: %" PRId64 " range(s), %" PRId64 " bytes; the first at %" PRId64 " (%s)\n", d->ranges,
           d->bytes, rep->first_damage, rep->reason);
    for (int i = 0; i < d->listed; i++)
        printf("  damaged [%" PRId64 ", %" PRId64 ") %" PRId64 " bytes\n", d->list[i].from, d->list[i].to,
               d->list[i].to - d->list[i].from);
    if (d->ranges > d->listed)
        printf("  ... and %" PRId64 " more\n", d->ranges - d->listed);
    printf("after the first damage: %" PRId64 " valid records, %" PRId64 " bytes "
           "(a broker keeps them and skips the damaged ranges)\n",
           rep->records_after_damage, rep->bytes_after_damage);
}

static int cmd_scan(int argc, char **argv)
{
    const rk_tool_cmd_t *self = rk_tool_find(rk_rkstore_cmds_ch04, "scan");
    const char *dir = NULL;
    int64_t from = 0;
    scan_ctx_t sc = {INT64_MAX, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (strcmp(a, "--from") == 0) ok = rk_tool_int(a, v, 0, INT64_MAX, &from), i++;
        else if (strcmp(a, "--limit") == 0) ok = rk_tool_int(a, v, 1, INT64_MAX, &sc.limit), i++;
        else if (a[0] != '-' && dir == NULL) dir = a;
        else return rk_tool_usage(self);
        if (!ok)
            return 2;
    }
    if (dir == NULL)
        return rk_tool_usage(self);
    rk_scan_report_t rep;
    int64_t fs;
    int rc = scan_common(dir, from, false, &sc, print_record, &rep, &fs);
    if (rc == 0 && fs > 0 && sc.shown < sc.limit) {
        printf("-- %" PRId64 " records, log ends at %" PRId64 " (%s%s%s)\n", rep.records, rep.end,
               end_name(&rep, store_crashed(dir)), rep.how == RK_SCAN_END_TORN ? ": " : "",
               rep.how == RK_SCAN_END_TORN ? rep.reason : "");
        if (rep.damage.ranges > 0)
            print_damage(&rep);
    }
    return rc;
}

static int cmd_stat(int argc, char **argv)
{
    const rk_tool_cmd_t *self = rk_tool_find(rk_rkstore_cmds_ch04, "stat");
    if (argc != 2 || argv[1][0] == '-')
        return rk_tool_usage(self);
    rk_scan_report_t rep;
    int64_t fs;
    int rc = scan_common(argv[1], 0, false, NULL, NULL, &rep, &fs);
    if (rc != 0 || fs == 0)
        return rc;
    int64_t nfiles = rep.end / fs + (rep.end % fs != 0) - rep.start / fs;
    printf("store:      %s\nfile size:  %" PRId64 " bytes\nfiles:      %" PRId64 "\nmin offset: %" PRId64 "\nmax offset: %" PRId64 "\nrecords:    %" PRId64 "\nend:        %s\n",
           argv[1], fs, nfiles > 0 ? nfiles : 1, rep.start, rep.end, rep.records,
           end_name(&rep, store_crashed(argv[1])));
    if (rep.damage.ranges > 0)
        print_damage(&rep);
    return 0;
}

/* Read-only (nothing is recovered, truncated, deleted or written): reports
 * every record that fails its checks, CRC included, and what follows. */
static int cmd_verify(int argc, char **argv)
{
    const rk_tool_cmd_t *self = rk_tool_find(rk_rkstore_cmds_ch04, "verify");
    if (argc != 2 || argv[1][0] == '-')
        return rk_tool_usage(self);
    const char *dir = argv[1];
    rk_scan_report_t rep;
    int64_t fs;
    int rc = scan_common(dir, 0, true, NULL, NULL, &rep, &fs);
    if (rc != 0 || fs == 0)
        return rc;
    bool crashed = store_crashed(dir);
    printf("%s: last exit %s\n", dir, crashed ? "was a CRASH (abort file present): a broker recovers from the checkpoint"
                                              : "was clean");
    printf("%" PRId64 " valid records in [%" PRId64 ", %" PRId64 "), log ends at %" PRId64 " (%s)\n",
           rep.records, rep.start, rep.end, rep.end, end_name(&rep, crashed));
    if (rep.how == RK_SCAN_END_TORN)
        printf("torn tail: %" PRId64 " non-zero bytes after %" PRId64 " and no valid record among them (%s); "
               "an interrupted write, a broker truncates it\n", rep.torn_bytes, rep.end, rep.reason);
    if (rep.damage.ranges > 0) {
        print_damage(&rep);
        printf("verify FAILED: corrupt data in the middle of the log\n");
        return 1;
    }
    printf("verify ok\n");
    return 0;
}

const rk_tool_cmd_t rk_rkstore_cmds_ch04[] = {
    {"put", "DIR [--topic T] [--count N] [--size BYTES] [--flush async|sync] [--file-size BYTES] [--queue Q] [--batch N] [--verbose]",
     "append N messages to the commitlog of the store in DIR; progress each second, then offsets and throughput", cmd_put},
    {"scan", "DIR [--from OFFSET] [--limit N]", "one line per stored record, with its CRC check (read-only)", cmd_scan},
    {"stat", "DIR", "files, min/max offset and record count of the commitlog (read-only)", cmd_stat},
    {"verify", "DIR", "read-only check of every record (CRC included): lists damaged ranges and what follows them; exit 1 if any", cmd_verify},
    {NULL, NULL, NULL, NULL},
};
