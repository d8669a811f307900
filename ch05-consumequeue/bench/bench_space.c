/* bench_space.c — disk and memory of many small queues (make bench-ch05).
 *
 * Issue 9 item 6: 3 000 one-message topics took 17 GB of disk and 15 GB of
 * RSS after a restart, because every consume-queue file reserved its full
 * 6,000,000 bytes and loading touched every page of it. This bench puts one
 * message (with a key, so the index is written too) into each of N topics
 * with the default file sizes except a 64 MiB commitlog, closes the store,
 * and reports:
 *
 *   - the blocks the store takes on disk (what `du -s` says), split into
 *     consumequeue/, index/ and commitlog/;
 *   - how much the resident set grows when the store is opened and started
 *     again (the restart a broker does), measured in a fresh child process.
 *
 * RK_BENCH_TOPICS overrides N (default 500); RK_BENCH_KEEP=1 keeps the
 * store (its path is printed), RK_BENCH_SMAPS=1 shows where the resident
 * pages of the reopened store are. */
#include <dirent.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/message_store.h"

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static int64_t du_total;
static int du_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)p; (void)flag; (void)ftw;
    du_total += (int64_t)sb->st_blocks * 512;
    return 0;
}

static int64_t du(const char *root, const char *sub)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, sub);
    du_total = 0;
    nftw(p, du_one, 16, FTW_PHYS);
    return du_total;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static rk_store_t *open_store(const char *root)
{
    rk_kv_t kv;
    rk_kv_init(&kv);
    rk_kv_set(&kv, "mappedFileSizeCommitLog", "67108864");
    rk_kv_set(&kv, "flushDiskType", "ASYNC_FLUSH");
    rk_store_t *st = NULL;
    char err[512];
    int rc = rk_store_open(root, &kv, &st, err, sizeof err);
    rk_kv_free(&kv);
    if (rc != RK_OK) {
        fprintf(stderr, "bench_space: open %s: %s (%s)\n", root, rk_strerror(rc), err);
        exit(1);
    }
    if ((rc = rk_store_start(st)) != RK_OK) {
        fprintf(stderr, "bench_space: start: %s\n", rk_strerror(rc));
        exit(1);
    }
    return st;
}

int main(void)
{
    rk_log_set_level(RK_LOG_ERROR);
    int n = getenv("RK_BENCH_TOPICS") ? atoi(getenv("RK_BENCH_TOPICS")) : 500;
    if (n <= 0)
        n = 500;
    char root[] = "/tmp/rk-bench-space-XXXXXX";
    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    rk_store_t *st = open_store(root);
    rk_host_t host;
    rk_host_parse("127.0.0.1:10911", &host);
    for (int i = 0; i < n; i++) {
        char topic[32], key[32];
        snprintf(topic, sizeof topic, "space-%d", i);
        snprintf(key, sizeof key, "k%d", i);
        rk_buf_t props = {0};
        rk_props_put(&props, RK_PROP_KEYS, key);
        rk_msg_t m = {.topic = topic, .topic_len = strlen(topic), .born_ts = rk_now_ms(),
                      .born_host = host, .store_host = host, .body = (const uint8_t *)"hello",
                      .body_len = 5, .props = (const char *)props.data, .props_len = props.len};
        rk_put_result_t r;
        int rc = rk_store_put(st, &m, &r);
        rk_buf_free(&props);
        if (rc != RK_OK || r.status != RK_PUT_OK) {
            fprintf(stderr, "bench_space: put %d failed\n", i);
            return 1;
        }
    }
    rk_store_wait_dispatched(st, 60000);
    rk_store_close(st);
    printf("%d one-message topics (default consume-queue and index sizes, 64 MiB commitlog files)\n", n);
    printf("  on disk: %8.1f MiB total: consumequeue %.1f MiB, index %.1f MiB, commitlog %.1f MiB\n",
           (double)du(root, ".") / 1048576, (double)du(root, "consumequeue") / 1048576,
           (double)du(root, "index") / 1048576, (double)du(root, "commitlog") / 1048576);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        long before = rss_kb();
        rk_store_t *again = open_store(root);
        long after = rss_kb();
        printf("  restart: RSS %ld MiB -> %ld MiB (+%ld MiB) after opening and starting the store\n",
               before / 1024, after / 1024, (after - before) / 1024);
        if (getenv("RK_BENCH_SMAPS")) {     /* where the resident pages are */
            char cmd[128];
            snprintf(cmd, sizeof cmd, "awk '/^[0-9a-f]+-/{f=$6} /^Rss:/{r[f]+=$2} END{for(k in r) if(r[k]>1024) print r[k], k}' /proc/%d/smaps | sort -rn | head -5", (int)getpid());
            fflush(stdout);
            if (system(cmd) != 0)
                fprintf(stderr, "bench_space: smaps summary failed\n");
        }
        rk_store_close(again);
        fflush(stdout);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (getenv("RK_BENCH_KEEP"))            /* e.g. to start a broker on it */
        printf("  store kept in %s\n", root);
    else
        nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
