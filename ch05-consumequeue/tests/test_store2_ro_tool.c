/* test_store2_ro_tool.c — rkstore's inspecting commands (queues, cq, query)
 * are read-only: every file of the store has the same size, mtime and bytes
 * after each of them, and no file appears or goes, on a clean store, on one
 * left by a kill -9 (abort present: nothing is recovered) and on one with a
 * deleted queue folder (nothing is rebuilt); they still print the right
 * data. They used to open the store with recovery: remove abort, rebuild
 * queues, write consumeQueueState.json (the verifier's finding after issue 9). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/hash.h"
#include "rk/log.h"
#include "rk/message_store.h"
#include "rk/store_ro.h"
#include "rk/testkit.h"

#define NQ 4
#define COUNT 40

static char dir[256], logpath[300];
static FILE *logf;

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "rotool"), 0);
    /* the test's log lives outside the store: the store must not change */
    snprintf(logpath, sizeof logpath, "%s.log", dir);
    logf = fopen(logpath, "w");
    cr_assert_not_null(logf);
    rk_log_init(RK_LOG_INFO, logf);
}

static void teardown(void)
{
    rk_log_init(RK_LOG_INFO, NULL);
    fclose(logf);
    unlink(logpath);
    rk_tk_rmtree(dir);
}

TestSuite(store2_ro_tool, .init = setup, .fini = teardown, .timeout = 60);

static rk_store_t *open_store(void)
{
    rk_kv_t kv;
    rk_kv_init(&kv);
    rk_kv_set(&kv, "mappedFileSizeCommitLog", "8192");
    rk_kv_set(&kv, "mappedFileSizeConsumeQueue", "200");
    rk_kv_set(&kv, "maxHashSlotNum", "64");
    rk_kv_set(&kv, "maxIndexNum", "300");
    rk_store_t *st = NULL;
    char err[512];
    int rc = rk_store_open(dir, &kv, &st, err, sizeof err);
    rk_kv_free(&kv);
    cr_assert_eq(rc, 0, "open: %s", err);
    cr_assert_eq(rk_store_start(st), 0);
    return st;
}

/* Message i: queue i % NQ, KEYS "key<i>", body of 300 bytes. */
static void put_all(rk_store_t *st)
{
    static uint8_t body[300];
    memset(body, 'b', sizeof body);
    for (int i = 0; i < COUNT; i++) {
        rk_buf_t props = {0};
        char k[32];
        snprintf(k, sizeof k, "key%d", i);
        rk_props_put(&props, RK_PROP_KEYS, k);
        rk_props_put(&props, RK_PROP_TAGS, i % 2 ? "b" : "a");
        cr_assert_eq(props.err, 0);
        rk_msg_t m = {0};
        m.topic = "T";
        m.topic_len = 1;
        m.queue_id = i % NQ;
        m.born_ts = rk_now_ms();
        rk_host_parse("127.0.0.1:5555", &m.born_host);
        rk_host_parse("127.0.0.1:10911", &m.store_host);
        m.body = body;
        m.body_len = sizeof body;
        m.props = (const char *)props.data;
        m.props_len = props.len;
        rk_put_result_t r;
        cr_assert_eq(rk_store_put(st, &m, &r), 0);
        cr_assert_eq(r.status, RK_PUT_OK);
        rk_buf_free(&props);
    }
    cr_assert_eq(rk_store_wait_dispatched(st, 10000), 0);
}

/* ---- a snapshot of every file under the store ---- */

typedef struct entry {
    char path[512];
    int kind;                   /* 'f' or 'd' */
    long long size, mtime_ns;
    uint32_t crc;
} entry_t;

typedef struct snap {
    entry_t v[512];
    int n;
} snap_t;

static void snap_dir(snap_t *s, const char *root, const char *rel)
{
    char full[1024];
    snprintf(full, sizeof full, "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(full);
    cr_assert_not_null(d, "%s", full);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        cr_assert_lt(s->n, 512);
        entry_t *en = &s->v[s->n++];
        snprintf(en->path, sizeof en->path, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        char p[1600];
        snprintf(p, sizeof p, "%s/%s", root, en->path);
        struct stat st;
        cr_assert_eq(lstat(p, &st), 0, "%s", p);
        en->kind = S_ISDIR(st.st_mode) ? 'd' : 'f';
        en->size = (long long)st.st_size;
        en->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        if (en->kind == 'd') {
            en->size = 0;       /* a folder's size follows its entries, compared one by one */
            snap_dir(s, root, en->path);
        } else {
            char *data = NULL;
            size_t len = 0;
            cr_assert_eq(rk_file_read_all(p, &data, &len), 0, "%s", p);
            en->crc = rk_crc32(data, len);
            free(data);
        }
    }
    closedir(d);
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const entry_t *)a)->path, ((const entry_t *)b)->path);
}

static void take(snap_t *s)
{
    s->n = 0;
    snap_dir(s, dir, "");
    qsort(s->v, (size_t)s->n, sizeof s->v[0], cmp_entry);
}

static void assert_same(const snap_t *a, const snap_t *b, const char *what)
{
    for (int i = 0, j = 0; i < a->n || j < b->n;) {
        int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i].path, b->v[j].path);
        cr_assert(c <= 0, "%s created %s", what, b->v[j].path);
        cr_assert(c >= 0, "%s removed %s", what, a->v[i].path);
        const entry_t *x = &a->v[i++], *y = &b->v[j++];
        cr_assert_eq(x->kind, y->kind, "%s changed the kind of %s", what, x->path);
        cr_assert_eq(x->size, y->size, "%s changed the size of %s", what, x->path);
        cr_assert_eq(x->mtime_ns, y->mtime_ns, "%s changed the mtime of %s", what, x->path);
        cr_assert_eq(x->crc, y->crc, "%s changed the bytes of %s", what, x->path);
    }
}

/* Runs `rkstore ARGS...` and checks the store did not change. */
static char *run_ro(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5)
{
    static snap_t before, after;
    take(&before);
    char *argv[10] = {(char *)rk_tk_bin("rkstore"), (char *)a1, dir};
    int n = 3;
    const char *more[] = {a2, a3, a4, a5};
    for (int i = 0; i < 4 && more[i]; i++)
        argv[n++] = (char *)more[i];
    argv[n] = NULL;
    char *out = NULL;
    int rc = rk_tk_run(argv, &out, 20000);
    cr_assert_eq(rc, 0, "rkstore %s exited %d:\n%s", a1, rc, out ? out : "");
    take(&after);
    char what[64];
    snprintf(what, sizeof what, "rkstore %s", a1);
    assert_same(&before, &after, what);
    return out;
}

static void has(const char *out, const char *needle)
{
    cr_assert_not_null(strstr(out, needle), "wanted \"%s\" in:\n%s", needle, out);
}

/* The three commands, checked for what they print. `missing` queue (or -1)
 * was deleted by hand. */
static void inspect_all(int missing)
{
    char *out = run_ro("queues", NULL, NULL, NULL, NULL);
    for (int q = 0; q < NQ; q++) {
        char line[64];
        snprintf(line, sizeof line, "T %d min=0 max=%d", q, COUNT / NQ);
        if (q == missing)
            cr_assert_null(strstr(out, line), "%s", out);
        else
            has(out, line);
    }
    if (missing >= 0) {
        char line[64];
        snprintf(line, sizeof line, "T %d MISSING", missing);
        has(out, line);
    }
    free(out);

    out = run_ro("cq", "T", "2", NULL, NULL);
    if (missing == 2) {
        has(out, "minOffset=0 maxOffset=0");
    } else {
        has(out, "minOffset=0 maxOffset=10");
        has(out, "\n9 ");
        cr_assert_null(strstr(out, "\n10 "), "%s", out);
    }
    free(out);

    out = run_ro("query", "--topic", "T", "--key", "key17");
    has(out, "queue=1 queueOffset=4 keys=key17");
    cr_assert_null(strstr(out, "key170"), "%s", out);
    free(out);
    out = run_ro("query", "--topic", "T", "--key", "nope");
    cr_assert_null(strstr(out, "phys="), "%s", out);
    free(out);

    /* chapter 4's inspecting commands, still in the table, are read-only too */
    free(run_ro("stat", NULL, NULL, NULL, NULL));
    free(run_ro("verify", NULL, NULL, NULL, NULL));
    free(run_ro("scan", NULL, NULL, NULL, NULL));
}

Test(store2_ro_tool, inspecting_a_clean_store_changes_nothing)
{
    rk_store_t *st = open_store();
    put_all(st);
    rk_store_close(st);
    inspect_all(-1);
}

Test(store2_ro_tool, inspecting_a_store_left_by_kill_9_changes_nothing_and_keeps_abort)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        rk_store_t *st = open_store();
        put_all(st);
        kill(getpid(), SIGKILL);
        _exit(3);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    char p[400];
    snprintf(p, sizeof p, "%s/abort", dir);
    cr_assert(rk_path_exists(p));
    inspect_all(-1);
    char *out = run_ro("queues", NULL, NULL, NULL, NULL);
    has(out, "abort");
    free(out);
    cr_assert(rk_path_exists(p), "abort is still there");
}

Test(store2_ro_tool, inspecting_a_store_with_a_deleted_queue_rebuilds_nothing)
{
    rk_store_t *st = open_store();
    put_all(st);
    rk_store_close(st);
    char p[400];
    snprintf(p, sizeof p, "%s/consumequeue/T/2", dir);
    cr_assert_eq(rk_tk_rmtree(p), 0);
    inspect_all(2);
    cr_assert(!rk_path_exists(p), "the queue was not rebuilt");
}

/* The view's bounds and units are the store's own, after cleanup moved the
 * queues' heads (files deleted, min past dropped records). */
Test(store2_ro_tool, the_view_agrees_with_the_store_after_cleanup)
{
    rk_store_t *st = open_store();
    for (int r = 0; r < 4; r++)
        put_all(st);
    cr_assert_eq(rk_store_clean_expired(st, true), 1);
    cr_assert_eq(rk_store_clean_expired(st, true), 1);
    int64_t min[NQ], max[NQ];
    rk_cq_unit_t units[NQ][4 * COUNT / NQ];
    int nunits[NQ];
    for (int q = 0; q < NQ; q++) {
        min[q] = rk_store_min_offset(st, "T", q);
        max[q] = rk_store_max_offset(st, "T", q);
        cr_assert_gt(min[q], 0, "cleanup moved queue %d's head", q);
        nunits[q] = rk_store_read_units(st, "T", q, min[q], units[q], 4 * COUNT / NQ);
        cr_assert_eq(nunits[q], max[q] - min[q]);
    }
    int64_t cl_min = rk_store_commitlog_min(st), cl_max = rk_store_commitlog_max(st);
    rk_store_close(st);

    static snap_t before, after;
    take(&before);
    rk_store_ro_t *ro;
    char err[256];
    cr_assert_eq(rk_store_ro_open(dir, 0, 0, &ro, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rk_store_ro_commitlog_min(ro), cl_min);
    cr_assert_eq(rk_store_ro_commitlog_max(ro), cl_max);
    cr_assert(!rk_store_ro_abnormal(ro));
    cr_assert_eq(rk_store_ro_queue_count(ro), NQ);
    for (int q = 0; q < NQ; q++) {
        const rk_store_ro_queue_t *v = rk_store_ro_find(ro, "T", q);
        cr_assert_not_null(v);
        cr_assert_eq(v->min_offset, min[q], "queue %d", q);
        cr_assert_eq(v->max_offset, max[q], "queue %d", q);
        cr_assert_null(v->problem);
        rk_cq_unit_t got[4 * COUNT / NQ];
        cr_assert_eq(rk_store_ro_read_units(ro, "T", q, min[q], got, 4 * COUNT / NQ), nunits[q]);
        for (int i = 0; i < nunits[q]; i++)
            cr_assert(got[i].phys == units[q][i].phys && got[i].size == units[q][i].size &&
                      got[i].tag_code == units[q][i].tag_code, "queue %d unit %d", q, i);
    }
    rk_store_ro_hit_t hits[8];
    int n = rk_store_ro_query_by_key(ro, "T", "key39", hits, 8);
    cr_assert(n >= 2 && n < 4, "key39 was put 4 times, the first went with cleanup: %d found", n);
    for (int i = 0; i < n; i++) {
        cr_assert_geq(hits[i].phys, cl_min);
        cr_assert_eq(hits[i].queue_id, 39 % NQ);
        cr_assert_eq(hits[i].queue_offset, (4 - i) * (COUNT / NQ) - 1, "newest first");
        cr_assert_str_eq(hits[i].keys, "key39");
    }
    int n3 = rk_store_ro_query_by_key(ro, "T", "key3", hits, 8);
    cr_assert(n3 >= 2 && n3 < 4, "%d", n3);
    for (int i = 0; i < n3; i++)
        cr_assert_str_eq(hits[i].keys, "key3", "key3 is not key39");
    cr_assert_eq(rk_store_ro_query_by_key(ro, "T", "key39", hits, 1), 1);
    cr_assert_eq(hits[0].queue_offset, 4 * (COUNT / NQ) - 1, "the newest");
    rk_store_ro_close(ro);
    take(&after);
    assert_same(&before, &after, "rk_store_ro_open");
}
