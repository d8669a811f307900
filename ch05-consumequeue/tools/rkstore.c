/* rkstore.c — chapter 5's store tool: its own command table listed before
 * ch04's (rk/tool.h), so `put` becomes queue-aware and scan/stat/verify stay.
 *
 *   rkstore put   DIR --topic T [--count N] [--size B] [--queues Q] [--tags a,b] [--keys PREFIX]
 *   rkstore cq    DIR TOPIC QID                 one line per unit
 *   rkstore get   DIR --group G --topic T --queue Q [--tag a] [--max N]
 *                                               one line per message; commits G's offset
 *   rkstore query DIR --topic T --key K         messages whose KEYS / UNIQ_KEY is K
 *   rkstore queues DIR                          every topic/qid with min/max offsets
 *
 * Settings can be given as --key=value with RocketMQ's names
 * (--mappedFileSizeCommitLog=65536); file sizes of an existing store are
 * detected. Each command opens the store, recovers it (rebuilding consume
 * queues if needed), runs, and closes it. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/hash.h"
#include "rk/log.h"
#include "rk/message_store.h"
#include "rk/rkstore.h"
#include "rk/tool.h"
#include <dirent.h>
#include <sys/stat.h>

typedef struct opts {
    const char *dir, *topic, *group, *tag, *tags, *key, *keys_prefix;
    int count, size, queues, queue, max;
    rk_kv_t kv;
} opts_t;

static int usage(void)
{
    fprintf(stderr,
            "usage: rkstore put   DIR --topic T [--count N] [--size B] [--queues Q] [--tags a,b] [--keys PREFIX]\n"
            "       rkstore cq    DIR TOPIC QID\n"
            "       rkstore get   DIR --group G --topic T --queue Q [--tag a] [--max N]\n"
            "       rkstore query DIR --topic T --key K\n"
            "       rkstore queues DIR\n"
            "       (any command) --<rocketmqKey>=<value> to override a store setting\n");
    return 2;
}

/* Parses the options after the command; positional args are left in pos[]. */
static int parse(int argc, char **argv, opts_t *o, char **pos, int *npos)
{
    *npos = 0;
    for (int i = 0; i < argc; i++) {
        char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            if (*npos < 4)
                pos[(*npos)++] = a;
            continue;
        }
        char *eq = strchr(a, '=');
        if (eq) {                            /* --mappedFileSizeCommitLog=65536 */
            *eq = '\0';
            rk_kv_set(&o->kv, a + 2, eq + 1);
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "rkstore: %s needs a value\n", a);
            return -1;
        }
        char *v = argv[++i];
        if (!strcmp(a, "--topic")) o->topic = v;
        else if (!strcmp(a, "--group")) o->group = v;
        else if (!strcmp(a, "--tag")) o->tag = v;
        else if (!strcmp(a, "--tags")) o->tags = v;
        else if (!strcmp(a, "--key")) o->key = v;
        else if (!strcmp(a, "--keys")) o->keys_prefix = v;
        else if (!strcmp(a, "--count")) o->count = atoi(v);
        else if (!strcmp(a, "--size")) o->size = atoi(v);
        else if (!strcmp(a, "--queues")) o->queues = atoi(v);
        else if (!strcmp(a, "--queue")) o->queue = atoi(v);
        else if (!strcmp(a, "--max")) o->max = atoi(v);
        else {
            fprintf(stderr, "rkstore: unknown option %s\n", a);
            return -1;
        }
    }
    return 0;
}

/* The size of the first consume-queue file found under dir, or 0. */
static long long detect_cq_file_size(const char *dir)
{
    char root[4096];
    snprintf(root, sizeof root, "%s/consumequeue", dir);
    DIR *t = opendir(root);
    long long size = 0;
    struct dirent *te;
    while (size == 0 && t && (te = readdir(t)) != NULL) {
        if (te->d_name[0] == '.')
            continue;
        char qroot[4096 + 256];
        snprintf(qroot, sizeof qroot, "%s/%s", root, te->d_name);
        DIR *q = opendir(qroot);
        struct dirent *qe;
        while (size == 0 && q && (qe = readdir(q)) != NULL) {
            if (qe->d_name[0] == '.')
                continue;
            char fdir[4096 + 512];
            snprintf(fdir, sizeof fdir, "%s/%s", qroot, qe->d_name);
            DIR *f = opendir(fdir);
            struct dirent *fe;
            while (size == 0 && f && (fe = readdir(f)) != NULL) {
                if (strlen(fe->d_name) != 20)
                    continue;
                char path[4096 + 1024];
                struct stat st;
                snprintf(path, sizeof path, "%s/%s", fdir, fe->d_name);
                if (stat(path, &st) == 0)
                    size = (long long)st.st_size;
            }
            if (f)
                closedir(f);
        }
        if (q)
            closedir(q);
    }
    if (t)
        closedir(t);
    return size;
}

static rk_store_t *open_store(opts_t *o)
{
    /* an existing store's file sizes, unless given */
    char p[4096], v[32];
    snprintf(p, sizeof p, "%s/commitlog", o->dir);
    int64_t fs = rk_commitlog_detect_file_size(p);
    if (fs > 0 && rk_kv_get(&o->kv, "mappedFileSizeCommitLog") == NULL) {
        snprintf(v, sizeof v, "%lld", (long long)fs);
        rk_kv_set(&o->kv, "mappedFileSizeCommitLog", v);
    }
    long long cs = detect_cq_file_size(o->dir);
    if (cs > 0 && rk_kv_get(&o->kv, "mappedFileSizeConsumeQueue") == NULL) {
        snprintf(v, sizeof v, "%lld", cs);
        rk_kv_set(&o->kv, "mappedFileSizeConsumeQueue", v);
    }
    rk_store_t *st = NULL;
    char err[256];
    int rc = rk_store_open(o->dir, &o->kv, &st, err, sizeof err);
    if (rc != RK_OK) {
        fprintf(stderr, "rkstore: cannot open %s: %s\n", o->dir, err);
        return NULL;
    }
    rk_kv_warn_unused(&o->kv, "rkstore");
    if ((rc = rk_store_start(st)) != RK_OK) {
        fprintf(stderr, "rkstore: cannot start %s: %s\n", o->dir, rk_strerror(rc));
        rk_store_close(st);
        return NULL;
    }
    return st;
}

static int cmd_put(opts_t *o)
{
    if (o->topic == NULL)
        return usage();
    int count = o->count > 0 ? o->count : 1;
    int size = o->size >= 0 ? o->size : 128;
    int queues = o->queues > 0 ? o->queues : 1;
    char *tagv[64];
    int ntags = 0;
    char *tagbuf = o->tags ? strdup(o->tags) : NULL;
    char *save = NULL;
    for (char *s = tagbuf, *t; tagbuf && ntags < 64 && (t = strtok_r(s, ",", &save)) != NULL; s = NULL)
        tagv[ntags++] = t;
    rk_store_t *st = open_store(o);
    uint8_t *body = malloc((size_t)size + 1);
    if (st == NULL || body == NULL) {
        free(body);
        free(tagbuf);
        rk_store_close(st);
        return 1;
    }
    memset(body, 'm', (size_t)size);
    rk_host_t host;
    rk_host_parse("127.0.0.1:10911", &host);
    int rc = RK_OK;
    for (int i = 0; i < count && rc == RK_OK; i++) {
        rk_buf_t props = {0};
        if (ntags)
            rk_props_put(&props, RK_PROP_TAGS, tagv[i % ntags]);
        if (o->keys_prefix) {
            char k[128];
            snprintf(k, sizeof k, "%s%d", o->keys_prefix, i);
            rk_props_put(&props, RK_PROP_KEYS, k);
        }
        rk_msg_t m = {0};
        m.topic = o->topic;
        m.topic_len = strlen(o->topic);
        m.queue_id = i % queues;
        m.born_ts = rk_now_ms();
        m.born_host = host;
        m.store_host = host;
        m.body = body;
        m.body_len = (size_t)size;
        m.props = (const char *)props.data;
        m.props_len = props.len;
        rk_put_result_t r;
        rc = rk_store_put(st, &m, &r);
        if (rc == RK_OK && r.status != RK_PUT_OK) {
            fprintf(stderr, "rkstore: put: %s\n", rk_put_status_name(r.status));
            rc = RK_EINVAL;
        } else if (rc == RK_OK)
            printf("put %s queue=%d queueOffset=%" PRId64 " phys=%" PRId64 " size=%d msgId=%s\n",
                   o->topic, m.queue_id, r.queue_offset, r.phys_offset, (int)r.wrote_bytes, r.msg_id);
        else if (rc != RK_EINVAL)
            fprintf(stderr, "rkstore: put: %s\n", rk_strerror(rc));
        rk_buf_free(&props);
    }
    rk_store_wait_dispatched(st, 10000);
    free(body);
    free(tagbuf);
    rk_store_close(st);
    return rc == RK_OK ? 0 : 1;
}

static int cmd_cq(opts_t *o, char **pos, int npos)
{
    if (npos < 3)
        return usage();
    rk_store_t *st = open_store(o);
    if (st == NULL)
        return 1;
    const char *topic = pos[1];
    int qid = atoi(pos[2]);
    int64_t min = rk_store_min_offset(st, topic, qid), max = rk_store_max_offset(st, topic, qid);
    printf("# consumequeue %s/%d: minOffset=%" PRId64 " maxOffset=%" PRId64 "\n", topic, qid, min, max);
    printf("# queueOffset commitLogOffset size tagsCode\n");
    rk_cq_unit_t u[256];
    for (int64_t off = min; off < max;) {
        int n = rk_store_read_units(st, topic, qid, off, u, 256);
        if (n <= 0)
            break;
        for (int i = 0; i < n; i++)
            printf("%" PRId64 " %" PRId64 " %d %" PRId64 "\n", off + i, u[i].phys, u[i].size, u[i].tag_code);
        off += n;
    }
    rk_store_close(st);
    return 0;
}

static int cmd_get(opts_t *o)
{
    if (o->group == NULL || o->topic == NULL || o->queue < 0)
        return usage();
    rk_store_t *st = open_store(o);
    if (st == NULL)
        return 1;
    int64_t off = rk_store_query_offset(st, o->group, o->topic, o->queue);
    if (off < 0)
        off = rk_store_min_offset(st, o->topic, o->queue);    /* CONSUME_FROM_FIRST_OFFSET */
    int32_t code = 0;
    if (o->tag)
        code = rk_java_hash(o->tag, strlen(o->tag));
    rk_get_result_t g;
    int rc = rk_store_get_message(st, o->group, o->topic, o->queue, off, o->max > 0 ? o->max : 32, 0,
                                  o->tag ? &code : NULL, o->tag ? 1 : 0, &g);
    if (rc != RK_OK) {
        fprintf(stderr, "rkstore: get: %s\n", rk_strerror(rc));
        rk_store_close(st);
        return 1;
    }
    for (int i = 0; i < g.count; i++) {
        rk_record_t r;
        char tag[128] = "";
        if (rk_record_decode(g.msgs[i].data, (size_t)g.msgs[i].size, false, &r) != RK_OK)
            continue;
        rk_props_get_str(r.props, r.props_len, RK_PROP_TAGS, tag, sizeof tag);
        /* the client re-checks the tag string (hashes can collide) */
        if (o->tag && strcmp(tag, o->tag) != 0)
            continue;
        printf("%" PRId64 " %s %u\n", g.msgs[i].queue_offset, tag[0] ? tag : "-", r.body_len);
    }
    fprintf(stderr, "# group=%s %s/%d from=%" PRId64 " status=%s found=%d next=%" PRId64
            " min=%" PRId64 " max=%" PRId64 "\n", o->group, o->topic, o->queue, off,
            rk_get_status_name(g.status), g.count, g.next_begin_offset, g.min_offset, g.max_offset);
    int64_t next = g.next_begin_offset;
    bool commit = g.status == RK_GET_FOUND || g.status == RK_GET_NO_MATCHED_MESSAGE ||
                  g.status == RK_GET_OFFSET_TOO_SMALL || g.status == RK_GET_OFFSET_OVERFLOW_BADLY ||
                  g.status == RK_GET_MESSAGE_WAS_REMOVING || g.status == RK_GET_OFFSET_FOUND_NULL;
    rk_get_result_release(&g);
    if (commit)
        rc = rk_store_commit_offset(st, o->group, o->topic, o->queue, next);
    rk_store_close(st);     /* persists consumerOffset.json */
    return rc == RK_OK ? 0 : 1;
}

static int cmd_query(opts_t *o)
{
    if (o->topic == NULL || o->key == NULL)
        return usage();
    rk_store_t *st = open_store(o);
    if (st == NULL)
        return 1;
    int64_t phys[64];
    int n = rk_store_query_by_key(st, o->topic, o->key, 0, INT64_MAX, phys, 64);
    if (n < 0)
        fprintf(stderr, "rkstore: query: %s\n", rk_strerror(n));
    for (int i = 0; i < n; i++) {
        rk_store_view_t v;
        if (rk_store_view(st, phys[i], &v) != RK_OK)
            continue;
        rk_record_t r;
        if (rk_record_decode(v.data, (size_t)v.size, false, &r) == RK_OK) {
            char keys[256] = "", uniq[128] = "", id[RK_MSGID_MAX] = "";
            rk_props_get_str(r.props, r.props_len, RK_PROP_KEYS, keys, sizeof keys);
            rk_props_get_str(r.props, r.props_len, RK_PROP_UNIQ_KEY, uniq, sizeof uniq);
            rk_msgid_encode(&r.store_host, r.phys_offset, id, sizeof id);
            printf("phys=%" PRId64 " queue=%d queueOffset=%" PRId64 " keys=%s uniqKey=%s msgId=%s\n",
                   r.phys_offset, r.queue_id, r.queue_offset, keys, uniq[0] ? uniq : "-", id);
        }
        rk_store_view_release(&v);
    }
    rk_store_close(st);
    return n < 0 ? 1 : 0;
}

static int print_queue(const char *topic, int qid, void *ctx)
{
    rk_store_t *st = ctx;
    printf("%s %d min=%" PRId64 " max=%" PRId64 "\n", topic, qid, rk_store_min_offset(st, topic, qid),
           rk_store_max_offset(st, topic, qid));
    return 0;
}

static int cmd_queues(opts_t *o)
{
    rk_store_t *st = open_store(o);
    if (st == NULL)
        return 1;
    printf("# commitlog [%" PRId64 ", %" PRId64 ")\n", rk_store_commitlog_min(st), rk_store_commitlog_max(st));
    rk_store_foreach_queue(st, print_queue, st);
    rk_store_close(st);
    return 0;
}

/* Common front of every ch05 command: argv[0] is the command name. */
static int run(int argc, char **argv, int (*fn)(opts_t *, char **, int))
{
    opts_t o = {0};
    o.queue = -1;
    o.size = -1;
    rk_kv_init(&o.kv);
    char *pos[4];
    int npos = 0, rc;
    if (parse(argc - 1, argv + 1, &o, pos, &npos) != 0 || npos < 1) {
        rc = usage();
    } else {
        o.dir = pos[0];
        rc = fn(&o, pos, npos);
    }
    rk_kv_free(&o.kv);
    return rc;
}

static int put_fn(opts_t *o, char **pos, int npos) { (void)pos; (void)npos; return cmd_put(o); }
static int cq_fn(opts_t *o, char **pos, int npos) { return cmd_cq(o, pos, npos); }
static int get_fn(opts_t *o, char **pos, int npos) { (void)pos; (void)npos; return cmd_get(o); }
static int query_fn(opts_t *o, char **pos, int npos) { (void)pos; (void)npos; return cmd_query(o); }
static int queues_fn(opts_t *o, char **pos, int npos) { (void)pos; (void)npos; return cmd_queues(o); }

static int run_put(int argc, char **argv) { return run(argc, argv, put_fn); }
static int run_cq(int argc, char **argv) { return run(argc, argv, cq_fn); }
static int run_get(int argc, char **argv) { return run(argc, argv, get_fn); }
static int run_query(int argc, char **argv) { return run(argc, argv, query_fn); }
static int run_queues(int argc, char **argv) { return run(argc, argv, queues_fn); }

static const rk_tool_cmd_t ch05_cmds[] = {
    {"put", "DIR --topic T [--count N] [--size B] [--queues Q] [--tags a,b] [--keys PREFIX] [--<rocketmqKey>=V]",
     "append N messages spread over Q queues with tags and keys; consume queues and index follow", run_put},
    {"cq", "DIR TOPIC QID", "one line per consume-queue unit: queue offset, commitlog offset, size, tags code", run_cq},
    {"get", "DIR --group G --topic T --queue Q [--tag a] [--max N]",
     "read from G's committed offset: one line per message (queue offset, tag, body size); commit G's offset", run_get},
    {"query", "DIR --topic T --key K", "messages whose KEYS or UNIQ_KEY is K (the index)", run_query},
    {"queues", "DIR", "every topic/queue with its min and max offsets", run_queues},
    {NULL, NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    rk_log_init(RK_LOG_WARN, NULL);
    const rk_tool_cmd_t *const tables[] = {ch05_cmds, rk_rkstore_cmds_ch04, NULL};
    return rk_tool_main("rkstore", tables, argc, argv);
}
