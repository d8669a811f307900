/* test_retry_ha.c — retries and replicas (chapter 8's master/slave with chapter 9's broker):
 *   - a slave's commitlog stays its master's, byte for byte, while the master delivers retries,
 *     and a slave refuses CONSUMER_SEND_MSG_BACK;
 *   - the slave's delayOffset.json follows its master's (GET_ALL_DELAY_OFFSET copied with the
 *     other metadata);
 *   - a master that becomes a slave at runtime stops delivering (its log only grows by
 *     replication), and delivers again when it is the master again;
 *   - failover: the master is killed, its slave switched to master (rk_ha_switch_role, what an
 *     election calls) delivers every pending retry once, none before its time.
 * Real mqnamesrv / mqbroker processes on loopback; the broker whose role is switched runs in
 * this process so the test can call rk_ha_switch_role (as ch08's test_role_switch does). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/broker.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/ha.h"
#include "rk/json.h"
#include "rk/log.h"
#include "rk/message.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/retry.h"
#include "rk/testkit.h"
#include "rk/tk_pair.h"
#include "rk/tk_send.h"

#define REQ_GET_ALL_DELAY_OFFSET 45
#define GROUP "hg"
#define RETRY_TOPIC "%RETRY%" GROUP

typedef struct hb {
    char conf[300], log[300], store[300], addr[32];
    int port, ha_port;
    pid_t pid;
    rk_broker_t *inproc;            /* when it runs in this process */
    rk_kv_t kv;
} hb_t;

static char dir[256], ns[32];
static pid_t ns_pid = -1;
static hb_t m, s;
static rk_rclient_t *cl;
static rk_log_level_t old_level;

static void setup(void)
{
    old_level = rk_log_get_level();
    rk_log_set_level(RK_LOG_OFF);
    memset(&m, 0, sizeof m);
    memset(&s, 0, sizeof s);
    m.pid = s.pid = ns_pid = -1;
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "retryha"), 0);
    cr_assert_eq(rk_rclient_new(&cl), 0);
}

static void stop_inproc(hb_t *b)
{
    if (b->inproc != NULL) {
        rk_broker_stop(b->inproc);
        rk_kv_free(&b->kv);
        b->inproc = NULL;
    }
}

static void teardown(void)
{
    rk_rclient_free(cl);
    stop_inproc(&s);
    stop_inproc(&m);
    if (s.pid > 0)
        rk_tk_stop(s.pid, 10000);
    if (m.pid > 0)
        rk_tk_stop(m.pid, 10000);
    if (ns_pid > 0)
        rk_tk_stop(ns_pid, 5000);
    if (getenv("RK_KEEP_TMP") == NULL && dir[0])
        rk_tk_rmtree(dir);
    rk_log_set_level(old_level);
}

TestSuite(retry_ha, .init = setup, .fini = teardown, .timeout = 120);

static void start_ns(void)
{
    int port = rk_tk_free_port();
    snprintf(ns, sizeof ns, "127.0.0.1:%d", port);
    char conf[300], log[300];
    snprintf(conf, sizeof conf, "%s/ns.conf", dir);
    snprintf(log, sizeof log, "%s/ns.log", dir);
    FILE *f = fopen(conf, "w");
    cr_assert(f != NULL);
    fprintf(f, "listenPort=%d\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv.json\n", port, dir);
    fclose(f);
    char *argv[] = {(char *)(RK_BIN_DIR "/../../ch06/bin/mqnamesrv"), "-c", conf, NULL};
    ns_pid = rk_tk_spawn(argv, log);
    cr_assert(ns_pid > 0 && rk_tk_wait_port(port, 5000), "mqnamesrv did not start");
}

/* A broker's config: haListenPort always a free port of its own (never listenPort + 1). */
static void write_conf(hb_t *b, const char *name, const char *levels, bool with_ns, const char *extra)
{
    b->port = rk_tk_free_port();
    do
        b->ha_port = rk_tk_free_port();
    while (b->ha_port == b->port);
    snprintf(b->addr, sizeof b->addr, "127.0.0.1:%d", b->port);
    snprintf(b->conf, sizeof b->conf, "%s/%s.conf", dir, name);
    snprintf(b->log, sizeof b->log, "%s/%s.log", dir, name);
    snprintf(b->store, sizeof b->store, "%s/%s", dir, name);
    FILE *f = fopen(b->conf, "w");
    cr_assert(f != NULL);
    fprintf(f, "brokerClusterName=RetryHa\nbrokerName=broker-rh\nbrokerIP1=127.0.0.1\nlistenHost=127.0.0.1\n"
               "listenPort=%d\nhaListenPort=%d\nstorePathRootDir=%s\nmappedFileSizeCommitLog=262144\n"
               "mappedFileSizeConsumeQueue=60000\nmaxIndexNum=40000\nmaxHashSlotNum=10000\n"
               "slaveSyncMetaInterval=300\nregisterNameServerPeriod=1000\nflushDelayOffsetInterval=200\n"
               "messageDelayLevel=%s\n",
            b->port, b->ha_port, b->store, levels);
    if (with_ns)
        fprintf(f, "namesrvAddr=%s\n", ns);
    fprintf(f, "%s", extra ? extra : "");
    fclose(f);
}

static void start_proc(hb_t *b)
{
    char *argv[] = {(char *)rk_tk_bin("mqbroker"), "-c", b->conf, NULL};
    b->pid = rk_tk_spawn(argv, b->log);
    cr_assert(b->pid > 0);
    cr_assert(rk_tk_wait_port(b->port, 10000), "mqbroker did not start (see %s)", b->log);
    /* the port answering is not enough (another test may hold a port it picked): ours booted */
    for (int i = 0; i < 500; i++) {
        char *text = NULL;
        size_t len = 0;
        bool up = rk_file_read_all(b->log, &text, &len) == 0 && text != NULL &&
                  memmem(text, len, "boot success", 12) != NULL;
        free(text);
        if (up)
            return;
        if (rk_tk_wait(b->pid, 0) != -ETIMEDOUT) {
            b->pid = -1;
            cr_assert_fail("mqbroker exited (see %s)", b->log);
        }
        usleep(20000);
    }
    cr_assert_fail("mqbroker did not boot (see %s)", b->log);
}

static rk_ha_t *start_inproc(hb_t *b)
{
    static const rk_broker_module_t *const mods[] = {&rk_broker_core_module, &rk_broker_stats_module, &rk_ha_module,
                                                     &rk_retry_module, NULL};
    rk_kv_init(&b->kv);
    char err[512] = "";
    cr_assert_eq(rk_kv_load_file(&b->kv, b->conf, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rk_broker_start(&b->kv, mods, &b->inproc, err, sizeof err), 0, "%s", err);
    rk_ha_t *ha = rk_ha_of(b->inproc);
    cr_assert_not_null(ha);
    return ha;
}

static void wait_role(rk_ha_t *ha, rk_ha_role_t role)
{
    for (int i = 0; i < 500 && rk_ha_role(ha) != role; i++)
        usleep(10000);
    cr_assert_eq(rk_ha_role(ha), role);
}

static rk_cmd_t *call(const char *addr, rk_cmd_t *req)
{
    rk_cmd_t *resp = NULL;
    int rc = rk_rclient_invoke_sync(cl, addr, req, 8000, &resp);
    cr_assert_eq(rc, 0, "request %d to %s: %s", req->code, addr, rk_strerror(rc));
    return resp;
}

/* SEND_MESSAGE_V2 of body to topic queue 0; the message's commitlog offset. */
static int64_t send_msg(const char *addr, const char *topic, const char *body)
{
    rk_cmd_t *req = rk_tk_send_request(&(rk_tk_send_spec_t){.topic = topic, .body = body});
    cr_assert(req != NULL);
    rk_cmd_t *resp = call(addr, req);
    cr_assert_eq(resp->code, 0, "send: %d %s", resp->code, resp->remark ? resp->remark : "");
    rk_host_t h;
    int64_t phys = -1;
    cr_assert_eq(rk_msgid_decode(rk_cmd_ext_get(resp, "msgId"), &h, &phys), 0);
    rk_cmd_free(resp);
    return phys;
}

/* CONSUMER_SEND_MSG_BACK; the response code. */
static int send_back(const char *addr, int64_t phys, int level)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_CONSUMER_SEND_MSG_BACK);
    req->version = 401;
    rk_cmd_ext_set_i64(req, "offset", phys);
    rk_cmd_ext_set(req, "group", GROUP);
    rk_cmd_ext_set_i64(req, "delayLevel", level);
    rk_cmd_t *resp = call(addr, req);
    int code = resp->code;
    rk_cmd_free(resp);
    return code;
}

static int64_t qmax(const char *addr, const char *topic)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_MAX_OFFSET);
    rk_cmd_ext_set(req, "topic", topic);
    rk_cmd_ext_set_i64(req, "queueId", 0);
    rk_cmd_t *resp = NULL;
    int64_t off = -1;
    if (rk_rclient_invoke_sync(cl, addr, req, 3000, &resp) == RK_OK && resp->code == 0)
        rk_cmd_ext_i64(resp, "offset", &off);
    rk_cmd_free(resp);
    return off;
}

static bool wait_qmax(const char *addr, const char *topic, int64_t want, int ms)
{
    for (int i = 0; i < ms / 20 && qmax(addr, topic) < want; i++)
        usleep(20000);
    return qmax(addr, topic) >= want;
}

static char *runtime(const char *addr, const char *key)
{
    rk_cmd_t *resp = NULL;
    if (rk_rclient_invoke_sync(cl, addr, rk_cmd_new(RK_REQ_GET_BROKER_RUNTIME_INFO), 3000, &resp) != RK_OK)
        return NULL;
    char *v = NULL;
    cJSON *root = resp->code == 0 ? rk_json_parse((const char *)resp->body, resp->body_len) : NULL;
    const char *str = rk_json_get_str(cJSON_GetObjectItemCaseSensitive(root, "table"), key);
    if (str != NULL)
        v = strdup(str);
    cJSON_Delete(root);
    rk_cmd_free(resp);
    return v;
}

static int64_t log_end(const char *addr)
{
    char *v = runtime(addr, "commitLogMaxOffset");
    int64_t r = v ? strtoll(v, NULL, 10) : -1;
    free(v);
    return r;
}

static void wait_slave_connected(void)
{
    for (int i = 0; i < 500; i++) {
        char *v = runtime(m.addr, "haSlaveCount");
        bool ok = v != NULL && strcmp(v, "0") != 0;
        free(v);
        if (ok)
            return;
        usleep(20000);
    }
    cr_assert_fail("the slave never connected to the master (see %s)", s.log);
}

static bool wait_caught_up(int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        int64_t a = log_end(m.addr), b = log_end(s.addr);
        if (a > 0 && a == b)
            return true;
        usleep(20000);
    }
    return false;
}

/* GET_ALL_DELAY_OFFSET's text (malloc'ed). */
static char *delay_offsets(const char *addr)
{
    rk_cmd_t *resp = call(addr, rk_cmd_new(REQ_GET_ALL_DELAY_OFFSET));
    cr_assert_eq(resp->code, 0);
    char *t = strndup((const char *)resp->body, resp->body_len);
    rk_cmd_free(resp);
    return t;
}

/* Both commitlog folders hold the same files, byte for byte. */
static void assert_same_commitlog(void)
{
    char md[400], sd[400];
    snprintf(md, sizeof md, "%s/commitlog", m.store);
    snprintf(sd, sizeof sd, "%s/commitlog", s.store);
    int n = rk_tk_assert_files_match(md, sd);
    cr_assert_gt(n, 0);
    cr_assert_eq(rk_tk_assert_files_match(sd, md), n, "the slave has files the master does not");
}

/* The retries in %RETRY%hg queue 0 of an in-process broker: per body "m<k>", how many, and the
 * earliest store time. */
static int read_retries(rk_broker_t *b, int *count, int64_t *first_ts, int nk)
{
    rk_store_t *st = rk_broker_store(b);
    cr_assert_eq(rk_store_wait_dispatched(st, 5000), 0);
    for (int k = 0; k < nk; k++) {
        count[k] = 0;
        first_ts[k] = INT64_MAX;
    }
    int total = 0;
    for (int64_t off = rk_store_min_offset(st, RETRY_TOPIC, 0);; off++) {
        rk_cq_unit_t u;
        if (rk_store_read_units(st, RETRY_TOPIC, 0, off, &u, 1) != 1)
            break;
        rk_store_view_t v;
        cr_assert_eq(rk_store_view(st, u.phys, &v), 0);
        rk_record_t rec;
        cr_assert_eq(rk_record_decode(v.data, (size_t)v.size, false, &rec), 0);
        int k = rec.body_len >= 2 && rec.body[0] == 'm' ? atoi((const char *)rec.body + 1) : -1;
        cr_assert(k >= 0 && k < nk, "unexpected retry body");
        count[k]++;
        if (rec.store_ts < first_ts[k])
            first_ts[k] = rec.store_ts;
        rk_store_view_release(&v);
        total++;
    }
    return total;
}

/* (a) + (b): a master and its slave, both chapter 9 brokers (processes). Retries sent back on
 * the master are delivered there; the slave's commitlog stays the master's, byte for byte; the
 * slave refuses a send-back; its delayOffset.json follows the master's. */
Test(retry_ha, the_slave_log_stays_the_masters_while_retries_are_delivered)
{
    start_ns();
    write_conf(&m, "master", "1s 1s 1s", true, NULL);
    /* the slave writes offsets only once its log holds their deliveries on disk: flush soon */
    write_conf(&s, "slave", "1s 1s 1s", true, "brokerId=1\nbrokerRole=SLAVE\nflushCommitLogThoroughInterval=500\n");
    start_proc(&m);
    start_proc(&s);
    wait_slave_connected();
    enum { N = 6 };
    int64_t phys[N];
    for (int k = 0; k < N; k++) {
        char body[16];
        snprintf(body, sizeof body, "m%d", k);
        phys[k] = send_msg(m.addr, "RT", body);
    }
    for (int k = 0; k < N; k++)
        cr_assert_eq(send_back(m.addr, phys[k], 0), 0, "send-back %d on the master", k);
    cr_assert(wait_caught_up(10000), "the slave did not catch up");
    cr_assert_eq(send_back(s.addr, phys[0], 0), RK_RESP_NO_PERMISSION, "a slave takes no send-back");
    cr_assert(wait_qmax(m.addr, RETRY_TOPIC, N, 20000), "the master delivered %lld of %d retries",
              (long long)qmax(m.addr, RETRY_TOPIC), N);
    usleep(1500 * 1000);     /* time enough for a slave's schedule to deliver too, if it did */
    cr_assert(wait_caught_up(10000), "the slave's log is not the master's: master ends at %lld, slave at %lld",
              (long long)log_end(m.addr), (long long)log_end(s.addr));
    cr_assert_eq(qmax(s.addr, RETRY_TOPIC), N);
    assert_same_commitlog();
    /* (b) the master's offsets (level 3 at N) reach the slave's delayOffset.json */
    char *want = delay_offsets(m.addr), *file = NULL, path[400];
    cr_assert_not_null(strstr(want, "3:6"), "%s", want);
    snprintf(path, sizeof path, "%s/config/delayOffset.json", s.store);
    bool same = false;
    for (int i = 0; i < 250 && !same; i++) {
        size_t len = 0;
        free(file);
        file = NULL;
        same = rk_file_read_all(path, &file, &len) == 0 && strcmp(file, want) == 0;
        if (!same)
            usleep(20000);
    }
    cr_assert(same, "the slave's delayOffset.json is\n%s\nthe master's offsets are\n%s", file ? file : "(none)", want);
    char *mem = delay_offsets(s.addr);
    cr_assert_str_eq(mem, want);
    free(mem);
    free(file);
    free(want);
}

/* (1) at runtime: a master with retries pending becomes a slave (of a master not there yet): it
 * stops delivering — its commitlog grows only by replication — and when it is the master again
 * it delivers each of them once, none before its time. */
Test(retry_ha, a_master_that_becomes_a_slave_stops_delivering)
{
    write_conf(&s, "x", "1s 1s 3s", false, NULL);
    rk_ha_t *ha = start_inproc(&s);
    rk_store_t *st = rk_broker_store(s.inproc);
    enum { N = 4 };
    int64_t phys[N], sent_back_at[N];
    for (int k = 0; k < N; k++) {
        char body[16];
        snprintf(body, sizeof body, "m%d", k);
        phys[k] = send_msg(s.addr, "RT", body);
    }
    for (int k = 0; k < N; k++) {
        sent_back_at[k] = rk_now_ms();
        cr_assert_eq(send_back(s.addr, phys[k], 0), 0);
    }
    int nobody = rk_tk_free_port();
    char maddr[32];
    snprintf(maddr, sizeof maddr, "127.0.0.1:%d", nobody);
    cr_assert_eq(rk_ha_switch_role(ha, RK_HA_SLAVE, 1, maddr), 0);
    wait_role(ha, RK_HA_SLAVE);
    rk_schedule_t *sched = rk_retry_schedule(s.inproc);
    for (int i = 0; i < 200 && rk_schedule_delivering(sched); i++)
        usleep(10000);
    cr_assert(!rk_schedule_delivering(sched), "the schedule of a slave still delivers");
    cr_assert_lt(rk_now_ms(), sent_back_at[0] + 3000, "the switch came after the retries were due");
    int64_t end = rk_store_commitlog_max(st);
    while (rk_now_ms() < sent_back_at[N - 1] + 3000 + 1500)
        usleep(50000);
    cr_assert_eq(rk_store_commitlog_max(st), end, "a slave appended to its own commitlog (%lld -> %lld bytes)",
                 (long long)end, (long long)rk_store_commitlog_max(st));
    cr_assert_eq(rk_store_max_offset(st, RETRY_TOPIC, 0), 0, "a slave delivered retries");

    cr_assert_eq(rk_ha_switch_role(ha, RK_HA_ASYNC_MASTER, 0, NULL), 0);
    wait_role(ha, RK_HA_ASYNC_MASTER);
    cr_assert(wait_qmax(s.addr, RETRY_TOPIC, N, 10000), "the master again delivered %lld of %d",
              (long long)qmax(s.addr, RETRY_TOPIC), N);
    usleep(500 * 1000);
    int count[N];
    int64_t first[N];
    cr_assert_eq(read_retries(s.inproc, count, first, N), N);
    for (int k = 0; k < N; k++) {
        cr_assert_eq(count[k], 1, "m%d delivered %d times", k, count[k]);
        cr_assert_geq(first[k], sent_back_at[k] + 3000, "m%d came %lld ms early", k,
                      (long long)(sent_back_at[k] + 3000 - first[k]));
    }
}

/* (2) + (c) failover: retries pending on the master (level 1 = 1 s delivered, level 2 = 5 s
 * not yet); the slave copied the offsets; kill -9 the master, switch the slave to master:
 * every pending retry is delivered, none lost, none early, and (the copy having caught up
 * before the crash) none delivered twice. */
Test(retry_ha, failover_delivers_every_pending_retry_from_the_copied_offsets)
{
    start_ns();
    write_conf(&m, "master", "1s 5s 5s", true, NULL);
    write_conf(&s, "slave", "1s 5s 5s", true, "brokerId=1\nbrokerRole=SLAVE\n");
    start_proc(&m);
    rk_ha_t *ha = start_inproc(&s);
    wait_slave_connected();
    enum { N = 6 };
    static const int level[N] = {1, 1, 1, 2, 2, 2};
    static const int64_t delay[] = {0, 1000, 5000};
    int64_t phys[N], sent_back_at[N];
    for (int k = 0; k < N; k++) {
        char body[16];
        snprintf(body, sizeof body, "m%d", k);
        phys[k] = send_msg(m.addr, "RT", body);
    }
    for (int k = 0; k < N; k++) {
        sent_back_at[k] = rk_now_ms();
        cr_assert_eq(send_back(m.addr, phys[k], level[k]), 0);
    }
    cr_assert(wait_qmax(m.addr, RETRY_TOPIC, 3, 10000), "the master did not deliver the 1 s retries");
    rk_schedule_t *sched = rk_retry_schedule(s.inproc);
    cr_assert_not_null(sched);
    for (int i = 0; i < 250 && rk_schedule_offset(sched, 1) != 3; i++)
        usleep(20000);
    cr_assert_eq(rk_schedule_offset(sched, 1), 3, "the slave did not copy the master's level 1 offset");
    cr_assert(wait_caught_up(10000), "the slave did not catch up");
    cr_assert_eq(qmax(m.addr, RETRY_TOPIC), 3, "the 5 s retries came before the crash: the test proves nothing");
    cr_assert(!rk_schedule_delivering(sched), "a slave's schedule delivers");
    cr_assert_eq(rk_tk_kill(m.pid, SIGKILL), 0);
    cr_assert_neq(rk_tk_wait(m.pid, 10000), -ETIMEDOUT);
    m.pid = -1;

    cr_assert_eq(rk_ha_switch_role(ha, RK_HA_ASYNC_MASTER, 0, NULL), 0);
    wait_role(ha, RK_HA_ASYNC_MASTER);
    cr_assert(wait_qmax(s.addr, RETRY_TOPIC, N, 20000), "after the failover %lld of %d retries were delivered",
              (long long)qmax(s.addr, RETRY_TOPIC), N);
    usleep(800 * 1000);
    int count[N];
    int64_t first[N];
    int total = read_retries(s.inproc, count, first, N);
    for (int k = 0; k < N; k++) {
        cr_assert_eq(count[k], 1, "m%d delivered %d times", k, count[k]);
        cr_assert_geq(first[k], sent_back_at[k] + delay[level[k]], "m%d came %lld ms early", k,
                      (long long)(sent_back_at[k] + delay[level[k]] - first[k]));
    }
    cr_assert_eq(total, N);
}
