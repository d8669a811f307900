/* test_elect.c — the election's pieces: epochs (where two logs stop
 * agreeing), the epoch file, truncation of a closed commitlog (byte-checked),
 * votes that survive a restart, and hostile election requests. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/tk_pair.h"
#include "rk/commitlog.h"
#include "rk/elect.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"
#include "rk/testkit.h"

/* ---- epochs ---- */

Test(epochs, parse_accepts_increasing_lists_only)
{
    rk_epoch_t e[8];
    cr_assert_eq(rk_epochs_parse("", e, 8), 0);
    cr_assert_eq(rk_epochs_parse("1-0;3-483;4-483", e, 8), 3);
    cr_assert(e[1].epoch == 3 && e[1].start == 483);
    cr_assert_eq(rk_epochs_parse("3-10;2-20", e, 8), RK_EINVAL);         /* epochs go up */
    cr_assert_eq(rk_epochs_parse("1-10;2-5", e, 8), RK_EINVAL);          /* starts do not go back */
    cr_assert_eq(rk_epochs_parse("1-x", e, 8), RK_EINVAL);
    cr_assert_eq(rk_epochs_parse("-1-0", e, 8), RK_EINVAL);
    cr_assert_eq(rk_epochs_parse("1-0;2-1;3-2", e, 2), RK_EINVAL);       /* bounded */
    cr_assert_eq(rk_epochs_parse("1-99999999999999999999", e, 8), RK_EINVAL);
}

Test(epochs, consistent_point_is_where_the_logs_stop_agreeing)
{
    rk_epoch_t old[] = {{1, 0}, {2, 1000}};             /* old master: led epoch 2 from 1000 */
    rk_epoch_t leader[] = {{1, 0}, {2, 1000}, {3, 1500}};
    /* it wrote up to 1800 in epoch 2; the new leader's epoch 3 began at 1500 */
    cr_assert_eq(rk_epochs_consistent_point(old, 2, 1800, leader, 3, 2400), 1500);
    /* a follower that is simply behind agrees up to its end */
    cr_assert_eq(rk_epochs_consistent_point(old, 2, 1200, leader, 3, 2400), 1200);
    /* the same lists, the leader shorter: only what both hold */
    cr_assert_eq(rk_epochs_consistent_point(leader, 3, 2400, leader, 3, 2000), 2000);
    /* epoch 2 started elsewhere on the other side: back to epoch 1's end */
    rk_epoch_t other[] = {{1, 0}, {2, 900}};
    cr_assert_eq(rk_epochs_consistent_point(old, 2, 1800, other, 2, 3000), 900);
    /* an empty log agrees with anything */
    cr_assert_eq(rk_epochs_consistent_point(NULL, 0, 0, leader, 3, 2400), 0);
    /* epochs announced but not yet reached do not count */
    rk_epoch_t ahead[] = {{1, 0}, {2, 1000}, {3, 1500}};
    cr_assert_eq(rk_epochs_consistent_point(ahead, 3, 1200, leader, 3, 2400), 1200);
}

Test(epochs, the_file_round_trips_and_a_damaged_one_is_refused)
{
    rk_log_set_level(RK_LOG_OFF);       /* the refusal is logged: expected here */
    char dir[256], path[300];
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "epochs"), 0);
    snprintf(path, sizeof path, "%s/epochFileCheckpoint", dir);
    rk_epoch_t e[] = {{1, 0}, {4, 4096}}, back[8];
    cr_assert_eq(rk_epochs_load(path, back, 8), 0);                      /* none yet */
    cr_assert_eq(rk_epochs_store(path, e, 2), 0);
    cr_assert_eq(rk_epochs_load(path, back, 8), 2);
    cr_assert(back[1].epoch == 4 && back[1].start == 4096);
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(rk_file_read_all(path, &text, &len), 0);
    cr_assert(strncmp(text, "2\n", 2) == 0 && strstr(text, "\n1-0\n4-4096\n") != NULL, "got %.*s", (int)len, text);
    free(text);
    /* a flipped digit fails the CRC: refused, even with a good .bak there */
    cr_assert_eq(rk_epochs_store(path, e, 2), 0);       /* the previous version becomes the .bak */
    FILE *f = fopen(path, "w");
    fprintf(f, "2\n123\n1-0\n4-4097\n");
    fclose(f);
    char bak[320];
    snprintf(bak, sizeof bak, "%s.bak", path);
    cr_assert(rk_path_exists(bak));
    cr_assert_lt(rk_epochs_load(path, back, 8), 0, "a damaged epoch file was read (or its older .bak)");
    rk_tk_rmtree(dir);
}

/* ---- truncation of a closed log ---- */

static void msg_init(rk_commitlog_t *cl, rk_msg_t *m, const char *body)
{
    memset(m, 0, sizeof *m);
    m->topic = "T";
    m->topic_len = 1;
    m->body = (const uint8_t *)body;
    m->body_len = strlen(body);
    m->store_host = *rk_commitlog_store_host(cl);
    m->born_ts = 1;
    rk_host_parse("127.0.0.1:1234", &m->born_host);
}

Test(truncate, a_closed_commitlog_is_cut_exactly_at_a_record_end)
{
    rk_log_set_level(RK_LOG_ERROR);
    char dir[256], cldir[300];
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "trunc"), 0);
    rk_commitlog_config_t cfg;
    cr_assert_eq(rk_commitlog_config_load(&cfg, NULL, NULL, 0), 0);
    free(cfg.store_root);
    cfg.store_root = strdup(dir);
    free(cfg.commitlog_dir);
    cfg.commitlog_dir = NULL;
    cfg.file_size = 64 * 1024;
    rk_commitlog_t *cl;
    cr_assert_eq(rk_commitlog_open(&cfg, &cl, NULL, 0), 0);
    int64_t ends[400];
    char body[300];
    for (int i = 0; i < 400; i++) {             /* ~ 2 files */
        rk_msg_t m;
        memset(&m, 0, sizeof m);
        snprintf(body, sizeof body, "record-%03d-%0200d", i, i);
        msg_init(cl, &m, body);
        rk_put_result_t r;
        cr_assert_eq(rk_commitlog_put(cl, &m, &r), 0);
        cr_assert_eq(r.status, RK_PUT_OK);
        ends[i] = r.phys_offset + r.wrote_bytes;
    }
    int64_t max = rk_commitlog_max_offset(cl);
    rk_commitlog_close(cl);
    snprintf(cldir, sizeof cldir, "%s/commitlog", dir);
    /* keep the bytes before the cut to compare */
    int64_t cut = ends[149];
    char first[400], *before = NULL;
    size_t blen = 0;
    snprintf(first, sizeof first, "%s/00000000000000000000", cldir);
    cr_assert_eq(rk_file_read_all(first, &before, &blen), 0);
    int64_t dropped = -1;
    cr_assert_eq(rk_commitlog_truncate_dir(cldir, cfg.file_size, cut, &dropped), 0);
    cr_assert_eq(dropped, max - cut);
    char *after = NULL;
    size_t alen = 0;
    char second[400];
    snprintf(second, sizeof second, "%s/%020lld", cldir, (long long)cfg.file_size);
    cr_assert(cut < cfg.file_size);
    cr_assert(!rk_path_exists(second), "a file past the cut is still there");
    cr_assert_eq(rk_file_read_all(first, &after, &alen), 0);
    cr_assert_eq(alen, blen);
    cr_assert(memcmp(before, after, (size_t)cut) == 0, "bytes before the cut changed");
    for (size_t i = (size_t)cut; i < alen; i++)
        cr_assert_eq(after[i], 0, "byte %zu after the cut is not zero", i);
    free(before);
    free(after);
    /* reopened, the log ends at the cut and takes the next record there */
    cr_assert_eq(rk_commitlog_open(&cfg, &cl, NULL, 0), 0);
    cr_assert_eq(rk_commitlog_max_offset(cl), cut);
    rk_commitlog_close(cl);
    cr_assert_eq(rk_commitlog_truncate_dir(cldir, cfg.file_size, -1, NULL), RK_EINVAL);
    rk_commitlog_config_free(&cfg);
    rk_tk_rmtree(dir);
}

/* ---- votes ---- */

static rk_tk_trio_t t;
static void fini(void) { rk_tk_trio_stop(&t); }
TestSuite(votes, .fini = fini, .timeout = 60);

static char elect_addr[32];

/* VOTE; returns 1 granted, 0 refused, -code for an error answer. */
static int vote(const char *group, const char *cand, int64_t term, int64_t epoch, int64_t max)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_ELECT_VOTE), *resp = NULL;
    if (group)
        rk_cmd_ext_set(req, "group", group);
    if (cand)
        rk_cmd_ext_set(req, "candidateId", cand);
    rk_cmd_ext_set_i64(req, "term", term);
    rk_cmd_ext_set_i64(req, "epoch", epoch);
    rk_cmd_ext_set_i64(req, "maxOffset", max);
    cr_assert_eq(rk_rclient_invoke_sync(t.base.cl, elect_addr, req, 5000, &resp), 0);
    int r;
    if (resp->code != 0) {
        r = -resp->code;
    } else {
        bool g = false;
        rk_cmd_ext_bool(resp, "voteGranted", &g);
        r = g ? 1 : 0;
    }
    rk_cmd_free(resp);
    return r;
}

Test(votes, a_replica_never_votes_twice_in_a_term_across_a_restart)
{
    rk_log_set_level(RK_LOG_ERROR);
    /* one replica of three; the test plays the other two. It never stands
     * for election itself here (a 60 s timeout). */
    rk_tk_trio_init(&t, "dLegerElectionTimeoutMillis=60000\n");
    rk_tk_broker_start(&t.r[0]);
    snprintf(elect_addr, sizeof elect_addr, "127.0.0.1:%d", t.elect_port[0]);
    cr_assert_eq(vote("broker-ha", "n1", 5, -1, 0), 1);
    cr_assert_eq(vote("broker-ha", "n2", 5, -1, 0), 0, "voted twice in term 5");
    cr_assert_eq(vote("broker-ha", "n1", 4, -1, 0), 0, "a stale term got a vote");
    rk_tk_kill(t.r[0].pid, SIGKILL);            /* no clean stop: the vote must be on disk already */
    rk_tk_wait(t.r[0].pid, 5000);
    t.r[0].pid = -1;
    rk_tk_broker_start(&t.r[0]);
    cr_assert_eq(vote("broker-ha", "n2", 5, -1, 0), 0, "voted twice in term 5 across a restart");
    cr_assert_eq(vote("broker-ha", "n1", 5, -1, 0), 1);         /* the same candidate asking again */
    cr_assert_eq(vote("broker-ha", "n2", 6, -1, 0), 1);         /* a new term, a new vote */
    char path[400], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/dledger/vote", t.r[0].store);
    cr_assert_eq(rk_file_read_all(path, &text, &len), 0);
    cr_assert(len > 0 && strstr(text, "term=6\nvotedFor=n2\n") != NULL, "vote file: %.*s", (int)len, text);
    free(text);
    /* a damaged vote file is not replaced by its older .bak (term 5, where
     * this replica would vote again): the replica refuses to start */
    rk_tk_broker_stop(&t.r[0]);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fputs("term=6\nvotedFor=n", f);      /* torn, and a peer nobody knows */
    fclose(f);
    char *out = NULL;
    char *argv[] = {(char *)rk_tk_bin("mqbroker"), "-c", t.r[0].conf, NULL};
    int st = rk_tk_run(argv, &out, 20000);
    cr_assert(st != 0, "the replica started with a damaged vote file");
    cr_assert(out != NULL && strstr(out, "a lost vote could vote twice") != NULL, "%s", out ? out : "");
    free(out);
}

Test(votes, a_candidate_behind_this_log_is_refused)
{
    rk_log_set_level(RK_LOG_ERROR);
    rk_tk_trio_init(&t, "dLegerElectionTimeoutMillis=60000\n");
    /* the replica's log before it starts: 20 records, all of epoch 3 */
    rk_commitlog_config_t cfg;
    cr_assert_eq(rk_commitlog_config_load(&cfg, NULL, NULL, 0), 0);
    free(cfg.store_root);
    cfg.store_root = strdup(t.r[0].store);
    free(cfg.commitlog_dir);
    cfg.commitlog_dir = NULL;
    cfg.file_size = 262144;
    rk_commitlog_t *cl;
    cr_assert_eq(rk_commitlog_open(&cfg, &cl, NULL, 0), 0);
    for (int i = 0; i < 20; i++) {
        rk_msg_t m;
        memset(&m, 0, sizeof m);
        msg_init(cl, &m, "some body");
        rk_put_result_t r;
        cr_assert_eq(rk_commitlog_put(cl, &m, &r), 0);
        cr_assert_eq(r.status, RK_PUT_OK);
    }
    int64_t max = rk_commitlog_max_offset(cl);
    rk_commitlog_close(cl);
    rk_commitlog_config_free(&cfg);
    char path[400];
    snprintf(path, sizeof path, "%s/epochFileCheckpoint", t.r[0].store);
    rk_epoch_t e[] = {{3, 0}};
    cr_assert_eq(rk_epochs_store(path, e, 1), 0);
    rk_tk_broker_start(&t.r[0]);
    snprintf(elect_addr, sizeof elect_addr, "127.0.0.1:%d", t.elect_port[0]);
    cr_assert_eq(vote("broker-ha", "n1", 7, 2, max * 10), 0, "an older epoch won, whatever its length");
    cr_assert_eq(vote("broker-ha", "n1", 7, 3, max - 1), 0, "a shorter log of the same epoch won");
    cr_assert_eq(vote("broker-ha", "n2", 7, 3, max), 1);       /* as up to date: granted */
    cr_assert_eq(vote("broker-ha", "n1", 7, 4, 0), 0);         /* and only once in term 7 */
    cr_assert_eq(vote("broker-ha", "n1", 8, 4, 0), 1);         /* a newer epoch wins */
}

Test(votes, hostile_election_requests_are_refused_and_change_nothing)
{
    rk_log_set_level(RK_LOG_ERROR);
    rk_tk_trio_init(&t, "dLegerElectionTimeoutMillis=60000\n");
    rk_tk_broker_start(&t.r[0]);
    snprintf(elect_addr, sizeof elect_addr, "127.0.0.1:%d", t.elect_port[0]);
    cr_assert_lt(vote(NULL, "n1", 5, -1, 0), 0);                 /* no group */
    cr_assert_lt(vote("other-group", "n1", 5, -1, 0), 0);
    cr_assert_lt(vote("broker-ha", "n9", 5, -1, 0), 0);          /* not a peer */
    cr_assert_lt(vote("broker-ha", "n0", 5, -1, 0), 0);          /* itself */
    cr_assert_lt(vote("broker-ha", "n1", -5, -1, 0), 0);
    cr_assert_lt(vote("broker-ha", "n1", 5, -1, -7), 0);
    cr_assert_lt(vote("broker-ha", NULL, 5, -1, 0), 0);
    cr_assert_lt(vote("broker-ha", "n1", INT64_MAX, -1, 0), 0);     /* a term that would overflow */
    /* heartbeats: bad epochs, a leader that is no peer, a bad address */
    const char *bad[][3] = {{"n1", "3-10;2-20", "127.0.0.1:1"},
                            {"n7", "1-0", "127.0.0.1:1"},
                            {"n1", "1-0", "not-an-address"},
                            {"n1", "1-999999", "127.0.0.1:1"},       /* epoch past the leader's end */
                            {"n1", "1-0;60-50", "127.0.0.1:1"},      /* an epoch above the leader's term */
                            /* broker addresses a follower would copy metadata from */
                            {"n1", "1-0", "127.0.0.1:0"},
                            {"n1", "1-0", "127.0.0.1:70000"},
                            {"n1", "1-0", "evil.example:10911"},
                            {"n1", "1-0", ""},
                            {"n1", "1-0", "127.0.0.1:000000000000000000000000000000000000000000000000000000000010911"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rk_cmd_t *req = rk_cmd_new(RK_REQ_ELECT_HEARTBEAT), *resp = NULL;
        rk_cmd_ext_set(req, "group", "broker-ha");
        rk_cmd_ext_set(req, "leaderId", bad[i][0]);
        rk_cmd_ext_set(req, "term", "50");
        rk_cmd_ext_set(req, "brokerAddr", bad[i][2]);
        rk_cmd_ext_set(req, "haAddr", "127.0.0.1:2");
        rk_cmd_ext_set(req, "maxOffset", "100");
        rk_cmd_ext_set(req, "epochs", bad[i][1]);
        cr_assert_eq(rk_rclient_invoke_sync(t.base.cl, elect_addr, req, 5000, &resp), 0);
        cr_assert_neq(resp->code, 0, "heartbeat %zu accepted", i);
        rk_cmd_free(resp);
    }
    /* a pre-vote changes nothing (no term adopted, nothing persisted) */
    rk_cmd_t *pv = rk_cmd_new(RK_REQ_ELECT_PREVOTE), *pvr = NULL;
    rk_cmd_ext_set(pv, "group", "broker-ha");
    rk_cmd_ext_set(pv, "candidateId", "n2");
    rk_cmd_ext_set(pv, "term", "100");
    rk_cmd_ext_set(pv, "epoch", "-1");
    rk_cmd_ext_set(pv, "maxOffset", "0");
    cr_assert_eq(rk_rclient_invoke_sync(t.base.cl, elect_addr, pv, 5000, &pvr), 0);
    cr_assert_eq(pvr->code, 0);
    rk_cmd_free(pvr);
    pv = rk_cmd_new(RK_REQ_ELECT_PREVOTE);
    rk_cmd_ext_set(pv, "group", "broker-ha");
    rk_cmd_ext_set(pv, "candidateId", "n2");
    cr_assert_eq(rk_rclient_invoke_sync(t.base.cl, elect_addr, pv, 5000, &pvr), 0);
    cr_assert_neq(pvr->code, 0, "a pre-vote without a term was answered");
    rk_cmd_free(pvr);
    /* nothing moved: terms 50 and 100 were never adopted, a vote in term 5 is still free */
    cr_assert_eq(vote("broker-ha", "n1", 5, -1, 0), 1);
    char *term = rk_tk_runtime(&t.base, t.r[0].addr, "dLegerTerm");
    cr_assert(term != NULL && strcmp(term, "5") == 0, "term %s", term ? term : "?");
    free(term);
}
