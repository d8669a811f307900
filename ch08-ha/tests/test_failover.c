/* test_failover.c — three replicas elect their master (rk/elect.h), as real
 * processes on loopback: kill -9 of the master under a send load, kill -STOP
 * of the master (a partition), an old master with an unacknowledged tail,
 * and majority acks. Every acknowledged message must be consumable exactly
 * as sent from whoever is master at the end. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/tk_pair.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"
#include "rk/consumer.h"
#include "rk/producer.h"
#include "rk/request_code.h"
#include "rk/testkit.h"
#include "rk/tk_send.h"

static rk_tk_trio_t t;

static void fini(void) { rk_tk_trio_stop(&t); }

TestSuite(failover, .fini = fini, .timeout = 240);

#define MAX_MSGS 20000

/* ---- a sender under load: follows the master as a client would ---- */

typedef struct sender {
    pthread_t th;
    _Atomic bool stop;
    _Atomic int target;             /* replica it sends to */
    _Atomic uint64_t last_ok_ms;    /* mono ms of the last SEND_OK */
    _Atomic int last_ok_from;
    pthread_mutex_t mu;
    char *acked[MAX_MSGS];
    int nacked, seq;
} sender_t;

static sender_t S;

static void *sender_main(void *arg)
{
    (void)arg;
    char body[256];
    while (!atomic_load(&S.stop) && S.nacked < MAX_MSGS) {
        int i = atomic_load(&S.target);
        if (t.r[i].pid <= 0) {
            atomic_store(&S.target, (i + 1) % 3);
            continue;
        }
        snprintf(body, sizeof body, "load-%06d-%0120d", S.seq++, 7);
        int code = rk_tk_try_send(&t.base, t.r[i].addr, "FoTopic", body, 4000, NULL);
        if (code == 0) {
            pthread_mutex_lock(&S.mu);
            S.acked[S.nacked++] = strdup(body);
            pthread_mutex_unlock(&S.mu);
            atomic_store(&S.last_ok_ms, rk_mono_ms());
            atomic_store(&S.last_ok_from, i);
        } else {
            /* refused (a slave says 14), unreachable, or not acknowledged:
             * try the next replica, as a client refreshing its route */
            atomic_store(&S.target, (i + 1) % 3);
            usleep(20000);
        }
    }
    return NULL;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every acked body is on addr exactly once; returns how many bodies addr has. */
static int assert_all_acked_consumable(const char *addr, char **acked, int nacked)
{
    static char *got[MAX_MSGS + 100];
    int n = rk_tk_pull_all(&t.base, addr, "FoTopic", 4, got, MAX_MSGS + 100);
    qsort(got, (size_t)n, sizeof got[0], cmp_str);
    for (int i = 1; i < n; i++)
        cr_assert(strcmp(got[i - 1], got[i]) != 0, "message %s is there twice", got[i]);
    for (int i = 0; i < nacked; i++)
        cr_assert(bsearch(&acked[i], got, (size_t)n, sizeof got[0], cmp_str) != NULL,
                  "acknowledged message %s is missing on %s", acked[i], addr);
    for (int i = 0; i < n; i++)
        free(got[i]);
    return n;
}

static void wait_same_max(int a, int b)
{
    for (int k = 0; k < 600; k++) {
        int64_t x = rk_tk_max_offset(&t.base, t.r[a].addr), y = rk_tk_max_offset(&t.base, t.r[b].addr);
        if (x > 0 && x == y)
            return;
        usleep(50000);
    }
    cr_assert_fail("replica n%d never caught up with n%d (see %s)", b, a, t.r[b].log);
}

static bool log_has(const char *path, const char *what)
{
    char *text = NULL;
    size_t len = 0;
    bool yes = rk_file_read_all(path, &text, &len) == 0 && text != NULL && memmem(text, len, what, strlen(what));
    free(text);
    return yes;
}

Test(failover, kill_9_of_the_master_under_load_a_new_master_within_5s_nothing_acknowledged_lost)
{
    rk_log_set_level(RK_LOG_ERROR);
    rk_tk_trio_init(&t, NULL);
    for (int i = 0; i < 3; i++)
        rk_tk_broker_start(&t.r[i]);
    int leader = rk_tk_trio_leader(&t, -1, 15000);
    cr_assert(leader >= 0, "no leader elected (see %s)", t.r[0].log);
    pthread_mutex_init(&S.mu, NULL);
    atomic_store(&S.target, leader);
    pthread_create(&S.th, NULL, sender_main, NULL);
    for (int round = 0; round < 3; round++) {
        /* let the load run, then kill the master without warning */
        int before = S.nacked;
        for (int k = 0; k < 200 && S.nacked < before + 50; k++)
            usleep(20000);
        cr_assert_gt(S.nacked, before, "round %d: no acknowledged send before the kill", round);
        leader = rk_tk_trio_leader(&t, -1, 5000);
        cr_assert(leader >= 0);
        uint64_t killed_at = rk_mono_ms();
        rk_tk_kill(t.r[leader].pid, SIGKILL);
        rk_tk_wait(t.r[leader].pid, 5000);
        t.r[leader].pid = -1;
        /* a new master serves writes within 5 s */
        bool served = false;
        for (int k = 0; k < 100 && !served; k++) {
            served = atomic_load(&S.last_ok_ms) > killed_at && atomic_load(&S.last_ok_from) != leader;
            if (!served)
                usleep(50000);
        }
        cr_assert(served, "round %d: no write acknowledged by a new master within 5 s of kill -9 of n%d", round, leader);
        /* the old master comes back as a follower (truncating what it had
         * alone, which restarts it once); the next round starts with the
         * group whole again */
        rk_tk_broker_start(&t.r[leader]);
        bool back = false;
        for (int k = 0; k < 400 && !back; k++) {
            char *role = rk_tk_runtime(&t.base, t.r[leader].addr, "dLegerRole");
            char *conn = rk_tk_runtime(&t.base, t.r[leader].addr, "haConnectedToMaster");
            back = role && conn && strcmp(role, "FOLLOWER") == 0 && strcmp(conn, "true") == 0;
            free(role);
            free(conn);
            if (!back)
                usleep(50000);
        }
        cr_assert(back, "round %d: n%d did not rejoin (see %s)", round, leader, t.r[leader].log);
    }
    atomic_store(&S.stop, true);
    pthread_join(S.th, NULL);
    leader = rk_tk_trio_leader(&t, -1, 10000);
    cr_assert(leader >= 0);
    for (int i = 0; i < 3; i++)
        if (i != leader)
            wait_same_max(leader, i);
    int n = assert_all_acked_consumable(t.r[leader].addr, S.acked, S.nacked);
    cr_assert_geq(n, S.nacked);
    /* byte for byte: every replica holds the master's log */
    for (int i = 0; i < 3; i++)
        if (i != leader)
            rk_tk_assert_same_logs(t.r[leader].store, t.r[i].store);
    for (int i = 0; i < S.nacked; i++)
        free(S.acked[i]);
    pthread_mutex_destroy(&S.mu);
}

/* ---- kill -STOP: the old master is cut off, comes back, steps down ---- */

typedef struct {
    _Atomic int code;               /* -2: no answer yet */
} async_t;

static void on_answer(void *arg, int status, rk_cmd_t *resp)
{
    async_t *a = arg;
    atomic_store(&a->code, status == RK_OK ? resp->code : -1);
    rk_cmd_free(resp);
}

static int send_batch(int to, const char *tag, int n, char **acked, int *nacked)
{
    char body[200];
    int ok = 0;
    for (int i = 0; i < n; i++) {
        snprintf(body, sizeof body, "%s-%04d-%080d", tag, i, 3);
        int code = rk_tk_try_send(&t.base, t.r[to].addr, "FoTopic", body, 5000, NULL);
        cr_assert_eq(code, 0, "send %s to n%d: %d", body, to, code);
        acked[(*nacked)++] = strdup(body);
        ok++;
    }
    return ok;
}

static bool is_follower_of(int i, int leader)
{
    char *role = rk_tk_runtime(&t.base, t.r[i].addr, "dLegerRole");
    char *lid = rk_tk_runtime(&t.base, t.r[i].addr, "dLegerLeaderId");
    char *br = rk_tk_runtime(&t.base, t.r[i].addr, "brokerRole");
    char want[8];
    snprintf(want, sizeof want, "n%d", leader);
    bool yes = role && lid && br && strcmp(role, "FOLLOWER") == 0 && strcmp(lid, want) == 0 && strcmp(br, "SLAVE") == 0;
    free(role);
    free(lid);
    free(br);
    return yes;
}

Test(failover, a_stopped_master_is_replaced_and_on_cont_steps_down_without_acking_truncates_and_rejoins)
{
    rk_log_set_level(RK_LOG_ERROR);
    rk_tk_trio_init(&t, NULL);
    for (int i = 0; i < 3; i++)
        rk_tk_broker_start(&t.r[i]);
    int old = rk_tk_trio_leader(&t, -1, 15000);
    cr_assert(old >= 0);
    static char *acked[200];
    int nacked = 0;
    send_batch(old, "before", 20, acked, &nacked);
    rk_tk_freeze(t.r[old].pid);
    int now = rk_tk_trio_leader(&t, old, 10000);
    cr_assert(now >= 0 && now != old, "the others elected nobody while n%d was stopped", old);
    send_batch(now, "during", 20, acked, &nacked);
    /* a send reaches the old master while it is stopped: it will see it
     * when it resumes, before it learns it is no longer the master */
    async_t a = {-2};
    rk_cmd_t *req = rk_tk_send_request(&(rk_tk_send_spec_t){.topic = "FoTopic", .body = "to-the-old-master"});
    cr_assert(req != NULL);
    cr_assert_eq(rk_rclient_invoke_async(t.base.cl, t.r[old].addr, req, 8000, on_answer, &a), 0);
    usleep(200000);
    rk_tk_kill(t.r[old].pid, SIGCONT);
    for (int k = 0; k < 200 && atomic_load(&a.code) == -2; k++)
        usleep(50000);
    int code = atomic_load(&a.code);
    cr_assert_neq(code, 0, "the old master acknowledged a write while another master ruled");
    /* it steps down and follows the new master */
    bool follows = false;
    for (int k = 0; k < 300 && !follows; k++) {
        follows = is_follower_of(old, now);
        if (!follows)
            usleep(50000);
    }
    cr_assert(follows, "n%d never followed n%d (see %s)", old, now, t.r[old].log);
    send_batch(now, "after", 20, acked, &nacked);
    wait_same_max(now, old);
    /* its divergent tail is gone: its log is the new master's, byte for byte */
    rk_tk_assert_same_logs(t.r[now].store, t.r[old].store);
    if (code == RK_RESP_SLAVE_NOT_AVAILABLE || code == RK_RESP_FLUSH_SLAVE_TIMEOUT || code == -1)
        cr_assert(log_has(t.r[old].log, "commitlog truncated at"),
                  "the old master stored a send (answered %d) but did not truncate it (see %s)", code, t.r[old].log);
    assert_all_acked_consumable(t.r[now].addr, acked, nacked);
    static char *got[400];
    int n = rk_tk_pull_all(&t.base, t.r[now].addr, "FoTopic", 4, got, 400);
    for (int i = 0; i < n; i++) {
        cr_assert(strcmp(got[i], "to-the-old-master") != 0, "an unacknowledged write reached the new master");
        free(got[i]);
    }
    for (int i = 0; i < nacked; i++)
        free(acked[i]);
}

/* The old master appends a send no follower gets (both are down: a frozen
 * follower would still find the bytes in its socket buffer on SIGCONT and
 * append them), is killed, the others come back and elect a master, which
 * moves on: back, the old master truncates exactly its unacknowledged tail
 * and rejoins. */
Test(failover, an_old_master_with_an_unacknowledged_tail_is_truncated_to_the_agreed_offset)
{
    rk_log_set_level(RK_LOG_ERROR);
    rk_tk_trio_init(&t, NULL);
    for (int i = 0; i < 3; i++)
        rk_tk_broker_start(&t.r[i]);
    int old = rk_tk_trio_leader(&t, -1, 15000);
    cr_assert(old >= 0);
    static char *acked[200];
    int nacked = 0;
    send_batch(old, "acked", 10, acked, &nacked);
    int f1 = (old + 1) % 3, f2 = (old + 2) % 3;
    wait_same_max(old, f1);
    wait_same_max(old, f2);
    int64_t agreed = rk_tk_max_offset(&t.base, t.r[old].addr);
    int fs[2] = {f1, f2};
    for (int k = 0; k < 2; k++) {
        rk_tk_kill(t.r[fs[k]].pid, SIGKILL);
        rk_tk_wait(t.r[fs[k]].pid, 5000);
        t.r[fs[k]].pid = -1;
    }
    char id[64];
    int code = rk_tk_try_send(&t.base, t.r[old].addr, "FoTopic", "never-acknowledged", 8000, id);
    cr_assert_neq(code, 0, "a send was acknowledged with no follower running");
    int64_t tail = rk_tk_max_offset(&t.base, t.r[old].addr);
    cr_assert_gt(tail, agreed, "the unacknowledged send was not appended (answer %d)", code);
    rk_tk_kill(t.r[old].pid, SIGKILL);
    rk_tk_wait(t.r[old].pid, 5000);
    t.r[old].pid = -1;
    rk_tk_broker_start(&t.r[f1]);
    rk_tk_broker_start(&t.r[f2]);
    int now = rk_tk_trio_leader(&t, old, 15000);
    cr_assert(now >= 0);
    send_batch(now, "later", 10, acked, &nacked);
    rk_tk_broker_start(&t.r[old]);
    wait_same_max(now, old);
    char line[96];
    snprintf(line, sizeof line, "commitlog truncated at %lld: %lld bytes", (long long)agreed, (long long)(tail - agreed));
    cr_assert(log_has(t.r[old].log, line), "expected \"%s\" in %s", line, t.r[old].log);
    rk_tk_assert_same_logs(t.r[now].store, t.r[old].store);
    assert_all_acked_consumable(t.r[now].addr, acked, nacked);
    static char *got[400];
    int n = rk_tk_pull_all(&t.base, t.r[now].addr, "FoTopic", 4, got, 400);
    for (int i = 0; i < n; i++) {
        cr_assert(strcmp(got[i], "never-acknowledged") != 0, "the unacknowledged write survived");
        free(got[i]);
    }
    for (int i = 0; i < nacked; i++)
        free(acked[i]);
}

static _Atomic int got_after;

static rk_consume_result_t on_msgs(void *arg, const rk_msg_ext_t *msgs, size_t n)
{
    (void)arg;
    for (size_t i = 0; i < n; i++)
        if (msgs[i].body_len == 5 && memcmp(msgs[i].body, "after", 5) == 0)
            atomic_fetch_add(&got_after, 1);
    return RK_CONSUME_SUCCESS;
}

/* rocklet's SDK: a producer whose master dies asks the name servers again
 * at once (connection refused, a slave's SERVICE_NOT_AVAILABLE), instead of
 * sending to the dead address until its 30 s route refresh; a push consumer
 * likewise (a pull that cannot connect, or a slave's "ask the master"). */
Test(failover, the_sdk_producer_follows_the_new_master_without_waiting_for_its_route_refresh)
{
    rk_log_set_level(RK_LOG_ERROR);
    rk_tk_trio_init(&t, NULL);
    for (int i = 0; i < 3; i++)
        rk_tk_broker_start(&t.r[i]);
    int old = rk_tk_trio_leader(&t, -1, 15000);
    cr_assert(old >= 0);
    rk_producer_config_t pc = {.namesrv = t.base.ns, .group = "fo-producer", .timeout_ms = 2000};
    rk_producer_t *prod = NULL;
    cr_assert_eq(rk_producer_new(&pc, &prod), 0);
    rk_message_t m = {.topic = "SdkTopic", .body = "before", .body_len = 6};
    rk_send_result_t r;
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(rk_producer_send(prod, &m, &r), 0, "%s", r.error);
        cr_assert_eq(r.status, RK_SEND_OK);
    }
    char offdir[300];
    snprintf(offdir, sizeof offdir, "%s/offsets", t.base.dir);
    rk_push_consumer_config_t cc = {.namesrv = t.base.ns, .group = "fo-consumer", .from = RK_CONSUME_FROM_FIRST,
                                    .offset_dir = offdir};
    rk_push_consumer_t *cons = NULL;
    cr_assert_eq(rk_push_consumer_new(&cc, on_msgs, NULL, &cons), 0);
    cr_assert_eq(rk_push_consumer_subscribe(cons, "SdkTopic", "*"), 0);
    cr_assert_eq(rk_push_consumer_start(cons), 0);
    usleep(500000);                 /* it pulls from the master */
    rk_tk_kill(t.r[old].pid, SIGKILL);
    rk_tk_wait(t.r[old].pid, 5000);
    t.r[old].pid = -1;
    m.body = "after";
    m.body_len = 5;
    bool ok = false;
    for (int i = 0; i < 200 && !ok; i++) {        /* 10 s at most, well under the 30 s refresh */
        ok = rk_producer_send(prod, &m, &r) == 0 && r.status == RK_SEND_OK;
        if (!ok)
            usleep(50000);
    }
    cr_assert(ok, "the producer never reached the new master: %s", r.error);
    int now = rk_tk_trio_leader(&t, old, 5000);
    cr_assert(now >= 0 && now != old);
    /* the consumer gets what was sent to the new master, well before 30 s */
    for (int i = 0; i < 200 && atomic_load(&got_after) == 0; i++)
        usleep(50000);
    cr_assert_gt(atomic_load(&got_after), 0, "the consumer never pulled from the new master");
    rk_push_consumer_free(cons);
    rk_producer_free(prod);
}

/* What an operator sees: mqadmin clusterList shows each replica's role,
 * the master epoch and the replication lag; the logs say every role change
 * with term, epoch and offsets. */
Test(failover, cluster_list_shows_roles_epoch_and_lag_and_role_changes_are_logged)
{
    rk_log_set_level(RK_LOG_ERROR);
    rk_tk_trio_init(&t, NULL);
    for (int i = 0; i < 3; i++)
        rk_tk_broker_start(&t.r[i]);
    int leader = rk_tk_trio_leader(&t, -1, 15000);
    cr_assert(leader >= 0);
    static char *acked[20];
    int nacked = 0;
    send_batch(leader, "list", 5, acked, &nacked);
    for (int i = 0; i < 3; i++)
        if (i != leader)
            wait_same_max(leader, i);
    char *term = rk_tk_runtime(&t.base, t.r[leader].addr, "dLegerTerm");
    cr_assert_not_null(term);
    char *out = NULL;
    bool all = false;
    for (int k = 0; k < 100 && !all; k++) {     /* registrations land within a moment */
        free(out);
        out = NULL;
        char *argv[] = {(char *)(RK_BIN_DIR "/../../ch07/bin/mqadmin"), "clusterList", "-n", t.base.ns, NULL};
        cr_assert_eq(rk_tk_run(argv, &out, 10000), 0);
        int slaves = 0;
        for (const char *p = out; (p = strstr(p, "SLAVE ")) != NULL; p++)
            slaves++;
        char want[128];
        snprintf(want, sizeof want, "%s  ", t.r[leader].addr);
        const char *row = strstr(out, want);
        all = slaves == 2 && row != NULL && strstr(row, "SYNC_MASTER") != NULL;
        if (!all)
            usleep(100000);
    }
    cr_assert(all, "clusterList:\n%s", out);
    cr_assert(strstr(out, "#Epoch") != NULL && strstr(out, "#SlaveBehind") != NULL, "%s", out);
    /* the master row: its epoch is the term it leads; every slave row: lag 0 */
    char *row = strstr(out, t.r[leader].addr);
    char want[64];
    snprintf(want, sizeof want, "SYNC_MASTER   %-6s  0", term);
    cr_assert(row != NULL && strstr(row, want) != NULL, "want \"%s\" in\n%s", want, out);
    snprintf(want, sizeof want, "SLAVE         %-6s  0", term);
    cr_assert(strstr(out, want) != NULL, "want \"%s\" in\n%s", want, out);
    free(out);
    char line[160];
    snprintf(line, sizeof line, "n%d: LEADER (master, brokerId 0; writes accepted from here on), term %s, epoch", leader,
             term);
    cr_assert(log_has(t.r[leader].log, line), "no \"%s\" in %s", line, t.r[leader].log);
    cr_assert(log_has(t.r[(leader + 1) % 3].log, "FOLLOWER of a new leader, term"));
    free(term);
    for (int i = 0; i < nacked; i++)
        free(acked[i]);
}

/* Any odd size: five replicas acknowledge with three (the leader and two
 * followers), survive two deaths, and stop acknowledging at the third. */
Test(failover, five_replicas_survive_two_deaths_and_stop_acknowledging_at_the_third)
{
    rk_log_set_level(RK_LOG_ERROR);
    rk_tk_group_init(&t, 5, NULL);
    for (int i = 0; i < 5; i++)
        rk_tk_broker_start(&t.r[i]);
    int leader = rk_tk_trio_leader(&t, -1, 15000);
    cr_assert(leader >= 0);
    static char *acked[200];
    int nacked = 0;
    send_batch(leader, "five", 20, acked, &nacked);
    /* the master and one follower die */
    int other = (leader + 1) % 5;
    int dead[2] = {leader, other};
    for (int k = 0; k < 2; k++) {
        rk_tk_kill(t.r[dead[k]].pid, SIGKILL);
        rk_tk_wait(t.r[dead[k]].pid, 5000);
        t.r[dead[k]].pid = -1;
    }
    int now = rk_tk_trio_leader(&t, -1, 10000);
    cr_assert(now >= 0, "three of five replicas elected nobody");
    send_batch(now, "three-left", 20, acked, &nacked);
    assert_all_acked_consumable(t.r[now].addr, acked, nacked);
    /* a third death: two of five are no majority — nothing is acknowledged */
    int third = -1;
    for (int i = 0; i < 5 && third < 0; i++)
        if (i != now && t.r[i].pid > 0)
            third = i;
    rk_tk_kill(t.r[third].pid, SIGKILL);
    rk_tk_wait(t.r[third].pid, 5000);
    t.r[third].pid = -1;
    int code = rk_tk_try_send(&t.base, t.r[now].addr, "FoTopic", "no-majority", 8000, NULL);
    cr_assert_neq(code, 0, "a send was acknowledged by two replicas of five");
    /* and the master stepped down */
    bool down = false;
    for (int k = 0; k < 100 && !down; k++) {
        char *role = rk_tk_runtime(&t.base, t.r[now].addr, "dLegerRole");
        down = role != NULL && strcmp(role, "LEADER") != 0;
        free(role);
        if (!down)
            usleep(50000);
    }
    cr_assert(down, "n%d still leads two of five", now);
    for (int i = 0; i < nacked; i++)
        free(acked[i]);
}

/* Pre-vote: a replica cut off from the others (here: both others stopped)
 * steps down but does not raise its term on its own, so when the group is
 * whole again it does not force an extra election with an inflated term. */
Test(failover, a_replica_alone_steps_down_and_does_not_raise_its_term)
{
    rk_log_set_level(RK_LOG_ERROR);
    rk_tk_trio_init(&t, NULL);
    for (int i = 0; i < 3; i++)
        rk_tk_broker_start(&t.r[i]);
    int l = rk_tk_trio_leader(&t, -1, 15000);
    cr_assert(l >= 0);
    char *t0 = rk_tk_runtime(&t.base, t.r[l].addr, "dLegerTerm");
    cr_assert_not_null(t0);
    int f1 = (l + 1) % 3, f2 = (l + 2) % 3;
    rk_tk_freeze(t.r[f1].pid);
    rk_tk_freeze(t.r[f2].pid);
    usleep(4500000);                    /* several election timeouts alone */
    char *role = rk_tk_runtime(&t.base, t.r[l].addr, "dLegerRole");
    char *t1 = rk_tk_runtime(&t.base, t.r[l].addr, "dLegerTerm");
    cr_assert(role != NULL && strcmp(role, "LEADER") != 0, "a leader alone kept leading");
    cr_assert(t1 != NULL && strcmp(t0, t1) == 0, "alone, its term went from %s to %s", t0, t1 ? t1 : "?");
    rk_tk_kill(t.r[f1].pid, SIGCONT);
    rk_tk_kill(t.r[f2].pid, SIGCONT);
    int now = rk_tk_trio_leader(&t, -1, 10000);
    cr_assert(now >= 0, "no leader once the group was whole again");
    static char *acked[20];
    int nacked = 0;
    send_batch(now, "whole-again", 5, acked, &nacked);
    for (int i = 0; i < nacked; i++)
        free(acked[i]);
    free(t0);
    free(t1);
    free(role);
}
