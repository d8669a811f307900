/* rkstore.c — chapter 5's store tool: its own command table listed before
 * ch04's (rk/tool.h), so `put` becomes queue-aware and scan/stat/verify stay.
 *
 *   rkstore put   DIR [--topic T] [--count N] [--size B] [--queues Q] [--tags a,b] [--keys PREFIX]
 *                 and every chapter-4 put option (--file-size --flush --queue --batch --verbose)
 *   rkstore cq    DIR TOPIC QID                 one line per unit                  (read-only)
 *   rkstore get   DIR --group G --topic T --queue Q [--tag a] [--max N]
 *                                               one line per message; commits G's offset
 *   rkstore query DIR --topic T --key K         messages whose KEYS / UNIQ_KEY is K (read-only)
 *   rkstore queues DIR                          every topic/qid with min/max offsets (read-only)
 *
 * `put` parses its own options first, then chapter 4's table
 * (rk_rkstore_put_opts) and runs chapter 4's put loop on the store's
 * commitlog with a hook that spreads messages over queues and adds tags
 * and keys: progress once a second and a summary, never one line per
 * message unless --verbose. Settings can be given as --key=value with
 * RocketMQ's names (--mappedFileSizeCommitLog=65536); file sizes of an
 * existing store are detected.
 *
 * Tools that inspect are read-only: cq, query and queues (and chapter 4's
 * scan, stat, verify) open the store with rk_store_ro_open (rk/store_ro.h):
 * no recovery, no abort handling, nothing written, renamed or deleted, so a
 * store left by a crash or damaged by hand is shown as it is. put and get
 * write by design: they open the store with recovery (rk_store_open: a
 * crashed store is recovered, missing consume queues are rebuilt), and get
 * commits the group's offset to config/consumerOffset.json. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/consumer_offset.h"
#include "rk/error.h"
#include "rk/hash.h"
#include "rk/log.h"
#include "rk/message_store.h"
#include "rk/rkstore.h"
#include "rk/store_config.h"
#include "rk/store_ro.h"
#include "rk/tool.h"
#include <dirent.h>
#include <sys/stat.h>

/* "usage: rkstore NAME ..." for one of this chapter's commands; returns 2. */
static int usage_of(const char *name);

/* Options of the commands other than put (one struct: they share names). */
typedef struct opts {
    const char *dir, *topic, *group, *tag, *key;
    int64_t queue, max;
    rk_kv_t kv;                 /* --rocketmqKey=value store settings */
} opts_t;

#define OO(f) offsetof(opts_t, f)
static const rk_tool_opt_t common_opts[] = {
    {"--topic", RK_OPT_STR, OO(topic), 0, 0},
    {"--group", RK_OPT_STR, OO(group), 0, 0},
    {"--tag", RK_OPT_STR, OO(tag), 0, 0},
    {"--key", RK_OPT_STR, OO(key), 0, 0},
    {"--queue", RK_OPT_INT, OO(queue), 0, RK_MAX_QUEUE_ID},
    {"--max", RK_OPT_INT, OO(max), 1, INT32_MAX},
    {NULL, 0, 0, 0, 0},
};
#undef OO

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

/* The read-only view for the inspecting commands: file sizes given as
 * --mappedFileSizeCommitLog / --mappedFileSizeConsumeQueue (validated by
 * the store's own tables) or detected from the files. */
static rk_store_ro_t *open_ro(opts_t *o)
{
    char err[512] = "";
    rk_commitlog_config_t clc;
    rk_cq_store_config_t cqc;
    rk_config_defaults(rk_cq_store_config_fields, &cqc);
    int rc = rk_config_apply(rk_cq_store_config_fields, &cqc, &o->kv, err, sizeof err);
    if (rc == RK_OK) {
        rc = rk_commitlog_config_load(&clc, &o->kv, err, sizeof err);
        if (rc == RK_OK) {
            if (rk_kv_get(&o->kv, "mappedFileSizeCommitLog") == NULL)
                clc.file_size = 0;
            rk_commitlog_config_free(&clc);
        }
    }
    int64_t cl_size = rc == RK_OK ? clc.file_size : 0;
    int64_t cq_size = rk_kv_get(&o->kv, "mappedFileSizeConsumeQueue") ? cqc.mapped_file_size_cq : 0;
    rk_config_free(rk_cq_store_config_fields, &cqc);
    if (rc == RK_OK && cq_size % RK_CQ_UNIT_SIZE != 0) {
        snprintf(err, sizeof err, "mappedFileSizeConsumeQueue: %lld is not a multiple of %d",
                 (long long)cq_size, RK_CQ_UNIT_SIZE);
        rc = RK_EINVAL;
    }
    if (rc != RK_OK) {
        fprintf(stderr, "rkstore: %s\n", err[0] ? err : rk_strerror(rc));
        return NULL;
    }
    rk_kv_warn_unused(&o->kv, "rkstore");
    rk_store_ro_t *ro = NULL;
    rc = rk_store_ro_open(o->dir, cl_size, cq_size, &ro, err, sizeof err);
    if (rc != RK_OK) {
        fprintf(stderr, "rkstore: cannot read %s: %s\n", o->dir, err[0] ? err : rk_strerror(rc));
        return NULL;
    }
    return ro;
}

/* put: chapter 5's options, then chapter 4's (every one of them works). */
typedef struct put_opts {
    int64_t queues;
    const char *tags, *keys;
} put_opts_t;

#define PO(f) offsetof(put_opts_t, f)
static const rk_tool_opt_t put_opts[] = {
    {"--queues", RK_OPT_INT, PO(queues), 1, RK_MAX_QUEUE_ID + 1},
    {"--tags", RK_OPT_STR, PO(tags), 0, 0},
    {"--keys", RK_OPT_STR, PO(keys), 0, 0},
    {NULL, 0, 0, 0, 0},
};
#undef PO

typedef struct put_ctx {
    int64_t first_queue, queues;
    char *tagv[64];
    int ntags;
    const char *keys_prefix;
    rk_buf_t *props;            /* one per batch slot */
} put_ctx_t;

/* chapter 4's put loop calls this for each message: queue, tag, key */
static int decorate(void *ctx, int slot, int64_t seq, rk_msg_t *m)
{
    put_ctx_t *c = ctx;
    rk_buf_t *props = &c->props[slot];
    props->len = 0;
    props->err = 0;
    m->queue_id = (int32_t)(c->first_queue + seq % c->queues);
    if (c->ntags)
        rk_props_put(props, RK_PROP_TAGS, c->tagv[seq % c->ntags]);
    if (c->keys_prefix) {
        char k[160];
        snprintf(k, sizeof k, "%s%" PRId64, c->keys_prefix, seq);
        rk_props_put(props, RK_PROP_KEYS, k);
    }
    if (props->err != 0)
        return RK_ENOMEM;
    m->props = (const char *)props->data;
    m->props_len = props->len;
    return RK_OK;
}

static int run_put(int argc, char **argv)
{
        rk_rkstore_put_args_t a;
    rk_rkstore_put_defaults(&a);
    put_opts_t po = {.queues = 1};
    opts_t o = {0};
    rk_kv_init(&o.kv);
    const rk_tool_optset_t sets[] = {{put_opts, &po}, {rk_rkstore_put_opts, &a}};
    const char *pos[1];
    int npos = 0;
    if (rk_tool_parse(argc, argv, sets, 2, pos, 1, &npos, &o.kv) != 0 || npos != 1) {
        rk_kv_free(&o.kv);
        return usage_of("put");
    }
    o.dir = pos[0];
    if (a.queue + po.queues - 1 > RK_MAX_QUEUE_ID) {
        fprintf(stderr, "--queue %" PRId64 " --queues %" PRId64 ": past queue id %d\n", a.queue, po.queues,
                RK_MAX_QUEUE_ID);
        rk_kv_free(&o.kv);
        return 2;
    }
    /* chapter 4's store options, as the store's keys */
    char v[32];
    if (a.file_size > 0 && rk_kv_get(&o.kv, "mappedFileSizeCommitLog") == NULL) {
        snprintf(v, sizeof v, "%" PRId64, a.file_size);
        rk_kv_set(&o.kv, "mappedFileSizeCommitLog", v);
    }
    if (a.flush != NULL) {
        if (strcmp(a.flush, "async") != 0 && strcmp(a.flush, "sync") != 0) {
            fprintf(stderr, "--flush: \"%s\" is not async or sync\n", a.flush);
            rk_kv_free(&o.kv);
            return 2;
        }
        rk_kv_set(&o.kv, "flushDiskType", strcmp(a.flush, "sync") == 0 ? "SYNC_FLUSH" : "ASYNC_FLUSH");
    }
    put_ctx_t c = {.first_queue = a.queue, .queues = po.queues, .keys_prefix = po.keys};
    char *tagbuf = po.tags ? strdup(po.tags) : NULL;
    char *save = NULL;
    for (char *s = tagbuf, *t; tagbuf && c.ntags < 64 && (t = strtok_r(s, ",", &save)) != NULL; s = NULL)
        c.tagv[c.ntags++] = t;
    c.props = calloc((size_t)a.batch, sizeof *c.props);
    rk_store_t *st = c.props != NULL && (po.tags == NULL || tagbuf != NULL) ? open_store(&o) : NULL;
    int status = 1;
    if (st != NULL) {
        status = rk_rkstore_put_loop(&a, o.dir, rk_store_commitlog(st), decorate, &c);
        if (rk_store_wait_dispatched(st, 10000) != RK_OK)
            fprintf(stderr, "rkstore: consume queues are still catching up with the log\n");
        rk_store_close(st);
    } else if (c.props == NULL) {
        fprintf(stderr, "rkstore: out of memory\n");
    }
    for (int64_t i = 0; c.props != NULL && i < a.batch; i++)
        rk_buf_free(&c.props[i]);
    free(c.props);
    free(tagbuf);
    rk_kv_free(&o.kv);
    return status;
}

static int cmd_cq(opts_t *o, const char **pos, int npos)
{
    int64_t qid;
    if (npos != 3)
        return usage_of("cq");
    if (!rk_tool_int("QID", pos[2], 0, RK_MAX_QUEUE_ID, &qid))
        return 2;
    rk_store_ro_t *ro = open_ro(o);
    if (ro == NULL)
        return 1;
    const char *topic = pos[1];
    const rk_store_ro_queue_t *q = rk_store_ro_find(ro, topic, (int)qid);
    int64_t min = q ? q->min_offset : 0, max = q ? q->max_offset : 0;
    printf("# consumequeue %s/%d: minOffset=%" PRId64 " maxOffset=%" PRId64 "\n", topic, (int)qid, min, max);
    if (q && q->missing)
        printf("# not on disk: consumeQueueState.json says it had %" PRId64 " units (a broker's start "
               "rebuilds it from the commitlog; this read-only view does not)\n", q->state_max);
    else if (q && q->problem)
        printf("# %s (a broker's start rebuilds the rest from the commitlog)\n", q->problem);
    printf("# queueOffset commitLogOffset size tagsCode\n");
    rk_cq_unit_t u[256];
    int rc = 0;
    for (int64_t off = min; off < max;) {
        int n = rk_store_ro_read_units(ro, topic, (int)qid, off, u, 256);
        if (n < 0) {
            fprintf(stderr, "rkstore: cq: %s\n", rk_strerror(n));
            rc = 1;
        }
        if (n <= 0)
            break;
        for (int i = 0; i < n; i++)
            printf("%" PRId64 " %" PRId64 " %d %" PRId64 "\n", off + i, u[i].phys, u[i].size, u[i].tag_code);
        off += n;
    }
    rk_store_ro_close(ro);
    return rc;
}

/* Statuses after which G's offset moves to nextBeginOffset. */
static bool moves_offset(rk_get_status_t s)
{
    return s == RK_GET_FOUND || s == RK_GET_NO_MATCHED_MESSAGE || s == RK_GET_OFFSET_TOO_SMALL ||
           s == RK_GET_OFFSET_OVERFLOW_BADLY || s == RK_GET_MESSAGE_WAS_REMOVING ||
           s == RK_GET_OFFSET_FOUND_NULL;
}

/* Reads up to --max messages (default 32): one get returns at most one
 * transfer's worth (maxTransferBytes/CountOnMessageInMemory), so this asks
 * again from each nextBeginOffset until it has N or the queue has no more. */
static int cmd_get(opts_t *o)
{
    if (o->group == NULL || o->topic == NULL || o->queue < 0)
        return usage_of("get");
    rk_store_t *st = open_store(o);
    if (st == NULL)
        return 1;
    int qid = (int)o->queue;
    int64_t start = rk_store_query_offset(st, o->group, o->topic, qid);
    if (start < 0)
        start = rk_store_min_offset(st, o->topic, qid);    /* CONSUME_FROM_FIRST_OFFSET */
    int32_t code = 0;
    if (o->tag)
        code = rk_java_hash(o->tag, strlen(o->tag));
    int64_t want = o->max > 0 ? o->max : 32, found = 0, off = start, commit_to = -1;
    rk_get_status_t status = RK_GET_NO_MESSAGE_IN_QUEUE;
    int64_t min = 0, max = 0;
    int rc = RK_OK;
    for (bool first = true; found < want; first = false) {
        rk_get_result_t g;
        int64_t ask = want - found;
        rc = rk_store_get_message(st, o->group, o->topic, qid, off, ask > INT32_MAX ? INT32_MAX : (int)ask, 0,
                                  o->tag ? &code : NULL, o->tag ? 1 : 0, &g);
        if (rc != RK_OK) {
            fprintf(stderr, "rkstore: get: %s\n", rk_strerror(rc));
            break;
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
            found++;
        }
        int64_t next = g.next_begin_offset;
        bool progress = moves_offset(g.status) && next > off;
        if (first || progress) {        /* report the last get that got somewhere */
            status = g.status;
            min = g.min_offset;
            max = g.max_offset;
        }
        if (moves_offset(g.status) && (first || progress))
            commit_to = next;
        rk_get_result_release(&g);
        if (!progress)
            break;      /* caught up (OFFSET_OVERFLOW_ONE), or an offset to reset, not to follow */
        off = next;
    }
    fprintf(stderr, "# group=%s %s/%d from=%" PRId64 " status=%s found=%" PRId64 " next=%" PRId64
            " min=%" PRId64 " max=%" PRId64 "\n", o->group, o->topic, qid, start, rk_get_status_name(status),
            found, commit_to >= 0 ? commit_to : off, min, max);
    if (rc == RK_OK && commit_to >= 0)
        rc = rk_store_commit_offset(st, o->group, o->topic, qid, commit_to);
    rk_store_close(st);     /* persists consumerOffset.json */
    return rc == RK_OK ? 0 : 1;
}

static int cmd_query(opts_t *o)
{
    if (o->topic == NULL || o->key == NULL)
        return usage_of("query");
    rk_store_ro_t *ro = open_ro(o);
    if (ro == NULL)
        return 1;
    rk_store_ro_hit_t *hits = calloc(64, sizeof *hits);
    int n = hits ? rk_store_ro_query_by_key(ro, o->topic, o->key, hits, 64) : RK_ENOMEM;
    if (n < 0)
        fprintf(stderr, "rkstore: query: %s\n", rk_strerror(n));
    for (int i = 0; i < n; i++)
        printf("phys=%" PRId64 " queue=%d queueOffset=%" PRId64 " keys=%s uniqKey=%s msgId=%s%s\n",
               hits[i].phys, hits[i].queue_id, hits[i].queue_offset, hits[i].keys,
               hits[i].uniq[0] ? hits[i].uniq : "-", hits[i].msg_id,
               hits[i].crc_ok ? "" : " (body CRC mismatch)");
    free(hits);
    rk_store_ro_close(ro);
    return n < 0 ? 1 : 0;
}

static int cmd_queues(opts_t *o)
{
    rk_store_ro_t *ro = open_ro(o);
    if (ro == NULL)
        return 1;
    printf("# commitlog [%" PRId64 ", %" PRId64 ")\n", rk_store_ro_commitlog_min(ro), rk_store_ro_commitlog_max(ro));
    if (rk_store_ro_abnormal(ro))
        printf("# abort present: the last run did not exit cleanly; shown as on disk, nothing recovered "
               "(read-only)\n");
    for (size_t i = 0; i < rk_store_ro_queue_count(ro); i++) {
        const rk_store_ro_queue_t *q = rk_store_ro_queue(ro, i);
        if (q->missing) {
            printf("%s %d MISSING (consumeQueueState.json: max=%" PRId64 "; a broker's start rebuilds it)\n",
                   q->topic, q->qid, q->state_max);
            continue;
        }
        printf("%s %d min=%" PRId64 " max=%" PRId64, q->topic, q->qid, q->min_offset, q->max_offset);
        if (q->problem)
            printf(" DAMAGED: %s", q->problem);
        else if (q->state_max > q->max_offset)
            printf(" SHORT: consumeQueueState.json says max=%" PRId64, q->state_max);
        printf("\n");
    }
    rk_store_ro_close(ro);
    return 0;
}

/* Common front of the ch05 commands but put: argv[0] is the command name. */
static int run(int argc, char **argv, int (*fn)(opts_t *, const char **, int))
{
    opts_t o = {0};
    o.queue = -1;
    rk_kv_init(&o.kv);
    const char *pos[3];
    int npos = 0, rc;
    const rk_tool_optset_t sets[] = {{common_opts, &o}};
    if (rk_tool_parse(argc, argv, sets, 1, pos, 3, &npos, &o.kv) != 0 || npos < 1) {
        rc = usage_of(argv[0]);
    } else {
        o.dir = pos[0];
        rc = fn(&o, pos, npos);
    }
    rk_kv_free(&o.kv);
    return rc;
}

static int cq_fn(opts_t *o, const char **pos, int npos) { return cmd_cq(o, pos, npos); }
static int get_fn(opts_t *o, const char **pos, int npos) { (void)pos; (void)npos; return cmd_get(o); }
static int query_fn(opts_t *o, const char **pos, int npos) { (void)pos; (void)npos; return cmd_query(o); }
static int queues_fn(opts_t *o, const char **pos, int npos) { (void)pos; (void)npos; return cmd_queues(o); }

static int run_cq(int argc, char **argv) { return run(argc, argv, cq_fn); }
static int run_get(int argc, char **argv) { return run(argc, argv, get_fn); }
static int run_query(int argc, char **argv) { return run(argc, argv, query_fn); }
static int run_queues(int argc, char **argv) { return run(argc, argv, queues_fn); }

static const rk_tool_cmd_t ch05_cmds[] = {
    {"put", "DIR [--topic T] [--count N] [--size B] [--queues Q] [--tags a,b] [--keys PREFIX] [--queue FIRST] "
            "[--batch N] [--flush async|sync] [--file-size BYTES] [--verbose] [--<rocketmqKey>=V]",
     "append N messages spread over Q queues with tags and keys; consume queues and index follow; "
     "progress each second and a summary", run_put},
    {"cq", "DIR TOPIC QID", "one line per consume-queue unit: queue offset, commitlog offset, size, tags code "
                            "(read-only)", run_cq},
    {"get", "DIR --group G --topic T --queue Q [--tag a] [--max N]",
     "read up to N (32) messages from G's committed offset: one line per message (queue offset, tag, body size); "
     "commit G's offset (opens the store read-write: recovers it, rebuilds missing consume queues)", run_get},
    {"query", "DIR --topic T --key K", "messages whose KEYS or UNIQ_KEY is K, newest first (read-only: scans "
                                       "the commitlog, not the index)", run_query},
    {"queues", "DIR", "every topic/queue with its min and max offsets (read-only: a crashed or damaged store "
                      "is shown as it is)", run_queues},
    {NULL, NULL, NULL, NULL},
};

static int usage_of(const char *name) { return rk_tool_usage(rk_tool_find(ch05_cmds, name)); }

int main(int argc, char **argv)
{
    rk_log_init(RK_LOG_WARN, NULL);
    const rk_tool_cmd_t *const tables[] = {ch05_cmds, rk_rkstore_cmds_ch04, NULL};
    return rk_tool_main("rkstore", tables, argc, argv);
}
