/* tk_pair.c — see rk/tk_pair.h. */
#include "rk/tk_pair.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/json.h"
#include "rk/message.h"
#include "rk/request_code.h"
#include "rk/testkit.h"
#include "rk/tk_send.h"

static void write_conf(rk_tk_pair_t *p, rk_tk_broker_t *b, const char *name, int id, const char *extra)
{
    b->port = rk_tk_free_port();
    b->ha_port = rk_tk_free_port();
    b->pid = -1;
    snprintf(b->addr, sizeof b->addr, "127.0.0.1:%d", b->port);
    snprintf(b->conf, sizeof b->conf, "%s/%s.conf", p->dir, name);
    snprintf(b->log, sizeof b->log, "%s/%s.log", p->dir, name);
    snprintf(b->store, sizeof b->store, "%s/%s", p->dir, name);
    FILE *f = fopen(b->conf, "w");
    cr_assert(f != NULL);
    fprintf(f, "brokerClusterName=HaCluster\nbrokerName=broker-ha\nbrokerId=%d\nnamesrvAddr=%s\n"
               "brokerIP1=127.0.0.1\nlistenHost=127.0.0.1\nlistenPort=%d\nhaListenPort=%d\n"
               "storePathRootDir=%s\nmappedFileSizeCommitLog=262144\nmaxIndexNum=40000\nmaxHashSlotNum=10000\n"
               "mappedFileSizeConsumeQueue=60000\nslaveSyncMetaInterval=500\n%s\n",
            id, p->ns, b->port, b->ha_port, b->store, extra ? extra : "");
    fclose(f);
}

void rk_tk_pair_init(rk_tk_pair_t *p, const char *master_extra, const char *slave_extra)
{
    memset(p, 0, sizeof *p);
    p->ns_pid = -1;
    cr_assert_eq(rk_tk_tmpdir(p->dir, sizeof p->dir, "ha"), 0);
    int ns_port = rk_tk_free_port();
    snprintf(p->ns, sizeof p->ns, "127.0.0.1:%d", ns_port);
    char nsconf[300], log[300];
    snprintf(nsconf, sizeof nsconf, "%s/ns.conf", p->dir);
    FILE *f = fopen(nsconf, "w");
    cr_assert(f != NULL);
    fprintf(f, "listenPort=%d\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv.json\n", ns_port, p->dir);
    fclose(f);
    snprintf(log, sizeof log, "%s/ns.log", p->dir);
    char bin[PATH_MAX];
    cr_assert_not_null(rk_tk_unit_bin("ch06", "mqnamesrv", bin, sizeof bin));
    char *argv[] = {bin, "-c", nsconf, NULL};
    p->ns_pid = rk_tk_spawn(argv, log);
    cr_assert(p->ns_pid > 0 && rk_tk_wait_port(ns_port, 5000), "mqnamesrv did not start");
    write_conf(p, &p->m, "master", 0, master_extra);
    write_conf(p, &p->s, "slave", 1, slave_extra);
    cr_assert_eq(rk_rclient_new(&p->cl), 0);
}

void rk_tk_broker_start(rk_tk_broker_t *b)
{
    char bin[PATH_MAX];     /* the broker of the chapter whose tests run */
    cr_assert_not_null(rk_tk_unit_bin(NULL, "mqbroker", bin, sizeof bin));
    char *argv[] = {bin, "-c", b->conf, NULL};
    long long before = rk_tk_file_size(b->log);     /* a restart appends to the same log */
    if (before < 0)
        before = 0;
    b->pid = rk_tk_spawn(argv, b->log);
    cr_assert(b->pid > 0);
    cr_assert(rk_tk_wait_port(b->port, 10000), "mqbroker did not start (see %s)", b->log);
    /* the port answering is not enough: another test's process may hold it
     * (free ports are picked, then bound later); ours says it booted */
    for (int i = 0; i < 500; i++) {
        char *text = NULL;
        size_t len = 0;
        bool up = rk_file_read_all(b->log, &text, &len) == 0 && text != NULL && len > (size_t)before &&
                  memmem(text + before, len - (size_t)before, "boot success", 12) != NULL;
        free(text);
        if (up)
            return;
        if (rk_tk_wait(b->pid, 0) != -ETIMEDOUT) {
            b->pid = -1;        /* reaped */
            cr_assert_fail("mqbroker exited (see %s)", b->log);
        }
        usleep(20000);
    }
    cr_assert_fail("mqbroker did not boot (see %s)", b->log);
}

void rk_tk_broker_stop(rk_tk_broker_t *b)
{
    if (b->pid > 0)
        cr_assert_eq(rk_tk_stop(b->pid, 10000), 0, "%s did not stop cleanly on SIGTERM", b->conf);
    b->pid = -1;
}

void rk_tk_pair_stop(rk_tk_pair_t *p)
{
    rk_rclient_free(p->cl);
    p->cl = NULL;
    if (p->s.pid > 0)
        rk_tk_stop(p->s.pid, 10000);
    if (p->m.pid > 0)
        rk_tk_stop(p->m.pid, 10000);
    if (p->ns_pid > 0)
        rk_tk_stop(p->ns_pid, 5000);
    p->s.pid = p->m.pid = p->ns_pid = -1;
    if (getenv("RK_KEEP_TMP") == NULL && p->dir[0])
        rk_tk_rmtree(p->dir);
}

rk_cmd_t *rk_tk_send(rk_tk_pair_t *p, const char *addr, const char *topic, const char *body)
{
    return rk_tk_send_props(p, addr, topic, 0, body, NULL);
}

rk_cmd_t *rk_tk_send_props(rk_tk_pair_t *p, const char *addr, const char *topic, int qid, const char *body,
                        const char *props)
{
    rk_cmd_t *req = rk_tk_send_request(&(rk_tk_send_spec_t){.topic = topic, .queue_id = qid, .props = props,
                                                             .body = body}), *resp = NULL;
    cr_assert(req != NULL);
    int rc = rk_rclient_invoke_sync(p->cl, addr, req, 8000, &resp);
    cr_assert_eq(rc, 0, "send to %s: %s", addr, rk_strerror(rc));
    return resp;
}

void rk_tk_send_n(rk_tk_pair_t *p, const char *topic, int n, size_t size)
{
    rk_tk_send_n_to(p, p->m.addr, topic, n, size);
}

void rk_tk_send_n_to(rk_tk_pair_t *p, const char *addr, const char *topic, int n, size_t size)
{
    char *body = malloc(size + 1);
    cr_assert(body != NULL);
    for (int i = 0; i < n; i++) {
        memset(body, 'a' + i % 26, size);
        int k = snprintf(body, size, "m%06d-", i);
        body[k] = '-';
        body[size] = '\0';
        rk_cmd_t *resp = rk_tk_send(p, addr, topic, body);
        cr_assert_eq(resp->code, 0, "send %d: %d %s", i, resp->code, resp->remark ? resp->remark : "");
        rk_cmd_free(resp);
    }
    free(body);
}

char *rk_tk_runtime(rk_tk_pair_t *p, const char *addr, const char *key)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_BROKER_RUNTIME_INFO), *resp = NULL;
    if (rk_rclient_invoke_sync(p->cl, addr, req, 3000, &resp) != RK_OK)
        return NULL;
    char *v = NULL;
    cJSON *root = resp->code == 0 ? rk_json_parse((const char *)resp->body, resp->body_len) : NULL;
    const char *s = rk_json_get_str(cJSON_GetObjectItemCaseSensitive(root, "table"), key);
    if (s != NULL)
        v = strdup(s);
    cJSON_Delete(root);
    rk_cmd_free(resp);
    return v;
}

void rk_tk_freeze(pid_t pid)
{
    cr_assert_eq(rk_tk_kill(pid, SIGSTOP), 0);
    for (int i = 0; i < 500; i++) {
        char st[64];
        if (rk_tk_proc_stat(pid, st, sizeof st) && (st[0] == 'T' || st[0] == 't'))
            return;
        usleep(2000);
    }
    cr_assert_fail("process %d did not stop", (int)pid);
}

int64_t rk_tk_max_offset(rk_tk_pair_t *p, const char *addr)
{
    char *v = rk_tk_runtime(p, addr, "commitLogMaxOffset");
    int64_t r = v ? strtoll(v, NULL, 10) : -1;
    free(v);
    return r;
}

bool rk_tk_wait_slave_connected(rk_tk_pair_t *p, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        char *v = rk_tk_runtime(p, p->m.addr, "haSlaveCount");
        bool ok = v != NULL && strcmp(v, "0") != 0;
        free(v);
        if (ok)
            return true;
        usleep(20000);
    }
    return false;
}

bool rk_tk_wait_caught_up(rk_tk_pair_t *p, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        int64_t m = rk_tk_max_offset(p, p->m.addr), s = rk_tk_max_offset(p, p->s.addr);
        if (m > 0 && m == s)
            return true;
        usleep(20000);
    }
    return false;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    return n;
}

int rk_tk_assert_files_match(const char *from_dir, const char *to_dir)
{
    DIR *d = opendir(from_dir);
    cr_assert(d != NULL, "cannot open %s", from_dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char a[700], b[700];
        snprintf(a, sizeof a, "%s/%s", from_dir, e->d_name);
        snprintf(b, sizeof b, "%s/%s", to_dir, e->d_name);
        char *da = NULL, *db = NULL;
        size_t la = 0, lb = 0;
        cr_assert_eq(rk_file_read_all(a, &da, &la), 0);
        cr_assert_eq(rk_file_read_all(b, &db, &lb), 0, "%s has %s, %s does not", from_dir, e->d_name, to_dir);
        cr_assert(la == lb && memcmp(da, db, la) == 0, "file %s differs between %s and %s", e->d_name, from_dir,
                  to_dir);
        free(da);
        free(db);
        n++;
    }
    closedir(d);
    return n;
}

void rk_tk_assert_same_commitlog(rk_tk_pair_t *p)
{
    char md[400], sd[400];
    snprintf(md, sizeof md, "%s/commitlog", p->m.store);
    snprintf(sd, sizeof sd, "%s/commitlog", p->s.store);
    int n = rk_tk_assert_files_match(md, sd);
    cr_assert_gt(n, 0);
    cr_assert_eq(count_files(sd), n, "the slave has files the master does not");
}

int rk_tk_assert_slave_files_match(rk_tk_pair_t *p)
{
    char md[400], sd[400];
    snprintf(md, sizeof md, "%s/commitlog", p->m.store);
    snprintf(sd, sizeof sd, "%s/commitlog", p->s.store);
    return rk_tk_assert_files_match(sd, md);
}

/* ---------------------------------------------------------------- trio */

void rk_tk_trio_init(rk_tk_trio_t *t, const char *extra) { rk_tk_group_init(t, 3, extra); }

void rk_tk_group_init(rk_tk_trio_t *t, int n, const char *extra)
{
    memset(t, 0, sizeof *t);
    cr_assert(n >= 1 && n <= 5);
    t->n = n;
    rk_tk_pair_init(&t->base, NULL, NULL);
    char peers[256] = "";
    for (int i = 0; i < n; i++) {
        t->elect_port[i] = rk_tk_free_port();
        size_t len = strlen(peers);
        snprintf(peers + len, sizeof peers - len, "%sn%d-127.0.0.1:%d", i ? ";" : "", i, t->elect_port[i]);
    }
    for (int i = 0; i < n; i++) {
        char name[16], more[1024];
        snprintf(name, sizeof name, "n%d", i);
        snprintf(more, sizeof more,
                 "enableDLegerCommitLog=true\ndLegerGroup=broker-ha\ndLegerPeers=%s\ndLegerSelfId=n%d\n"
                 "dLegerElectionTimeoutMillis=1000\ndLegerHeartbeatIntervalMillis=100\nsyncFlushTimeout=3000\n%s",
                 peers, i, extra ? extra : "");
        write_conf(&t->base, &t->r[i], name, 0, more);
    }
}

void rk_tk_trio_stop(rk_tk_trio_t *t)
{
    for (int i = 0; i < t->n; i++)
        if (t->r[i].pid > 0) {
            rk_tk_kill(t->r[i].pid, SIGCONT);
            rk_tk_stop(t->r[i].pid, 10000);
            t->r[i].pid = -1;
        }
    rk_tk_pair_stop(&t->base);
}

int rk_tk_trio_leader(rk_tk_trio_t *t, int not_this, int ms)
{
    for (int k = 0; k <= ms / 50; k++) {
        for (int i = 0; i < t->n; i++) {
            if (i == not_this || t->r[i].pid <= 0)
                continue;
            char *role = rk_tk_runtime(&t->base, t->r[i].addr, "dLegerRole");
            char *br = rk_tk_runtime(&t->base, t->r[i].addr, "brokerRole");
            bool lead = role && br && strcmp(role, "LEADER") == 0 && strcmp(br, "SYNC_MASTER") == 0;
            free(role);
            free(br);
            if (lead)
                return i;
        }
        usleep(50000);
    }
    return -1;
}

int rk_tk_try_send(rk_tk_pair_t *p, const char *addr, const char *topic, const char *body, int timeout_ms, char *msg_id)
{
    rk_cmd_t *req = rk_tk_send_request(&(rk_tk_send_spec_t){.topic = topic, .body = body}), *resp = NULL;
    if (req == NULL || rk_rclient_invoke_sync(p->cl, addr, req, timeout_ms, &resp) != RK_OK)
        return -1;
    int code = resp->code;
    const char *id = rk_cmd_ext_get(resp, "msgId");
    if (msg_id != NULL)
        snprintf(msg_id, 64, "%s", id ? id : "");
    rk_cmd_free(resp);
    return code;
}

typedef struct bodies {
    char **out;
    int n, max;
} bodies_t;

static void keep_body(void *arg, const rk_record_t *rec)
{
    bodies_t *b = arg;
    cr_assert(b->n < b->max);
    b->out[b->n++] = strndup((const char *)rec->body, rec->body_len);
}

int rk_tk_pull_all(rk_tk_pair_t *p, const char *addr, const char *topic, int nq, char **bodies, int max)
{
    bodies_t b = {bodies, 0, max};
    for (int q = 0; q < nq; q++)
        rk_tk_pull_each(p, addr, topic, q, 0, keep_body, &b);
    return b.n;
}

int64_t rk_tk_pull_each(rk_tk_pair_t *p, const char *addr, const char *topic, int qid, int64_t from,
                     void (*fn)(void *arg, const rk_record_t *rec), void *arg)
{
    int64_t off = from;
    for (;;) {
        rk_cmd_t *req = rk_tk_pull_request(&(rk_tk_pull_spec_t){.topic = topic, .queue_id = qid, .offset = off});
        rk_cmd_t *resp = NULL;
        cr_assert(req != NULL);
        cr_assert_eq(rk_rclient_invoke_sync(p->cl, addr, req, 5000, &resp), 0);
        if (resp->code != 0) {
            rk_cmd_free(resp);
            break;
        }
        size_t at = 0;
        while (at < resp->body_len) {
            rk_record_t rec;
            cr_assert_eq(rk_record_decode(resp->body + at, resp->body_len - at, true, &rec), 0);
            fn(arg, &rec);
            at += rec.total_size;
        }
        int64_t next = off;
        rk_cmd_ext_i64(resp, "nextBeginOffset", &next);
        rk_cmd_free(resp);
        if (next <= off)
            break;
        off = next;
    }
    return off;
}

static bool all_zero(const char *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (d[i] != 0)
            return false;
    return true;
}

/* Files in a but not b must be empty (made ahead by a master). */
static int compare_dirs(const char *a, const char *b)
{
    DIR *d = opendir(a);
    cr_assert(d != NULL, "no folder %s", a);
    struct dirent *e;
    int same = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char pa[700], pb[700];
        snprintf(pa, sizeof pa, "%s/%s", a, e->d_name);
        snprintf(pb, sizeof pb, "%s/%s", b, e->d_name);
        char *da = NULL, *db = NULL;
        size_t la = 0, lb = 0;
        cr_assert_eq(rk_file_read_all(pa, &da, &la), 0);
        if (rk_file_read_all(pb, &db, &lb) != 0) {
            cr_assert(all_zero(da, la), "%s holds records, %s has no such file", pa, b);
        } else {
            cr_assert(la == lb && memcmp(da, db, la) == 0, "commitlog file %s differs between %s and %s", e->d_name,
                      a, b);
            same++;
        }
        free(da);
        free(db);
    }
    closedir(d);
    return same;
}

void rk_tk_assert_same_logs(const char *store_a, const char *store_b)
{
    char a[400], b[400];
    snprintf(a, sizeof a, "%s/commitlog", store_a);
    snprintf(b, sizeof b, "%s/commitlog", store_b);
    cr_assert_gt(compare_dirs(a, b), 0);
    compare_dirs(b, a);
}
