/* elect.c — a broker group elects its master (see rk/elect.h).
 *
 * Banner map: config · epochs · persisted state · roles · votes ·
 * heartbeats · tick · truncation · module. */
#include "rk/elect.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/ha.h"
#include "rk/hash.h"
#include "rk/log.h"
#include "rk/remoting_client.h"
#include "rk/remoting_server.h"
#include "rk/request_code.h"

/* ------------------------------------------------------------ config */

#define F(f) offsetof(rk_elect_config_t, f)
const rk_config_field_t rk_elect_config_fields[] = {
    {"enableDLegerCommitLog", RK_CFG_BOOL, F(enable), "false", 0, -1, NULL,
     "elect the master among dLegerPeers (rocklet keeps its own log format)"},
    {"dLegerGroup", RK_CFG_STR, F(group), NULL, 0, -1, NULL, "the replica group's name (usually brokerName)"},
    {"dLegerPeers", RK_CFG_STR, F(peers), NULL, 0, -1, NULL, "id-ip:port;... every replica's election address"},
    {"dLegerSelfId", RK_CFG_STR, F(self_id), NULL, 0, -1, NULL, "this replica's id in dLegerPeers"},
    {"dLegerElectionTimeoutMillis", RK_CFG_INT, F(election_timeout_ms), "1000", 100, 60000, NULL,
     "no heartbeat for a random [t, 2t): stand for election; a leader without a majority for t steps down"},
    {"dLegerHeartbeatIntervalMillis", RK_CFG_INT, F(heartbeat_ms), "200", 20, 10000, NULL,
     "leader heartbeats this often (keep well under the election timeout)"},
    {0},
};
#undef F

#define ADDR_MAX 64
#define ID_MAX 32
#define TICK_MS 20
#define TERM_MAX (INT64_C(1) << 62)     /* terms from peers above this are refused (term + 1 never overflows) */
#define REREGISTER_MS 3000

typedef struct peer {
    char id[ID_MAX], addr[ADDR_MAX];
    uint64_t last_ok;               /* leader: last successful heartbeat answer (mono ms) */
    int64_t offset;                 /* leader: its max offset then */
} peer_t;

struct rk_elect {
    rk_broker_t *b;
    rk_ha_t *ha;
    rk_elect_config_t cfg;
    peer_t peers[RK_ELECT_MAX_PEERS];
    int n, self, majority;
    char vote_path[PATH_MAX], epoch_path[PATH_MAX], trunc_path[PATH_MAX];

    uv_mutex_t mu;                  /* guards everything below */
    bool mu_ok;
    int64_t term;
    int voted;                      /* peer index or -1 */
    rk_elect_state_t state;
    int leader;                     /* peer index or -1 */
    char leader_addr[ADDR_MAX], leader_ha[ADDR_MAX];
    bool following;                 /* follower: log checked against this leader, streaming */
    uint64_t deadline;              /* follower/candidate: stand for election then */
    uint64_t leader_since, next_hb, next_reg;
    int votes;
    int prevotes;
    int64_t pre_round;              /* pre-vote round (answers of older rounds are ignored) */
    uint64_t last_leader_ms;        /* mono ms of the last heartbeat accepted from the leader */
    int64_t leader_max;             /* follower: the leader's max offset in its last heartbeat */
    rk_epoch_t ep[RK_ELECT_MAX_EPOCHS];
    int nep;
    bool truncating;

    rk_rserver_t *srv;
    rk_rclient_t *cl;
    _Atomic bool stopping;
};

/* What main needs after the broker stopped for a truncation. */
static struct {
    _Atomic bool pending;
    char dir[PATH_MAX], intent[PATH_MAX];
    int64_t file_size, offset;
} g_trunc;

static uint64_t now_ms(void) { return rk_mono_ms(); }

static const char *state_name(rk_elect_state_t s)
{
    return s == RK_ELECT_LEADER ? "LEADER" : s == RK_ELECT_CANDIDATE ? "CANDIDATE" : "FOLLOWER";
}

/* "host:port" with a dotted IPv4 host and a port 1..65535. */
static bool addr_ok(const char *a)
{
    const char *colon = strrchr(a, ':');
    if (colon == NULL || colon == a || strlen(a) >= ADDR_MAX)
        return false;
    char host[ADDR_MAX];
    memcpy(host, a, (size_t)(colon - a));
    host[colon - a] = '\0';
    int64_t port;
    struct sockaddr_in sa;
    return rk_parse_int(colon + 1, &port) == RK_OK && port > 0 && port <= 65535 &&
           uv_ip4_addr(host, (int)port, &sa) == 0;
}

/* dLegerPeers: "n0-127.0.0.1:40911;n1-..."; ids unique, odd count. */
static int parse_peers(rk_elect_t *e, char *err, size_t errlen)
{
    const char *p = e->cfg.peers;
    e->n = 0;
    while (p != NULL && *p) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[ID_MAX + ADDR_MAX + 2];
        if (len == 0 || len >= sizeof item) {
            snprintf(err, errlen, "dLegerPeers: an entry is empty or too long");
            return RK_EBADCONFIG;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        char *dash = strchr(item, '-');
        if (dash == NULL || dash == item || (size_t)(dash - item) >= ID_MAX || !addr_ok(dash + 1)) {
            snprintf(err, errlen, "dLegerPeers: \"%s\" is not id-ip:port", item);
            return RK_EBADCONFIG;
        }
        if (e->n == RK_ELECT_MAX_PEERS) {
            snprintf(err, errlen, "dLegerPeers: more than %d replicas", RK_ELECT_MAX_PEERS);
            return RK_EBADCONFIG;
        }
        *dash = '\0';
        for (int i = 0; i < e->n; i++)
            if (strcmp(e->peers[i].id, item) == 0) {
                snprintf(err, errlen, "dLegerPeers: id %s appears twice", item);
                return RK_EBADCONFIG;
            }
        memcpy(e->peers[e->n].id, item, (size_t)(dash - item) + 1);     /* < ID_MAX, checked */
        memcpy(e->peers[e->n].addr, dash + 1, strlen(dash + 1) + 1);     /* < ADDR_MAX (addr_ok) */
        e->n++;
        p = end ? end + 1 : NULL;
    }
    if (e->n == 0 || e->n % 2 == 0) {
        snprintf(err, errlen, "dLegerPeers: %d replicas; an odd number (1, 3, 5...) is needed", e->n);
        return RK_EBADCONFIG;
    }
    e->self = -1;
    for (int i = 0; i < e->n; i++)
        if (e->cfg.self_id != NULL && strcmp(e->peers[i].id, e->cfg.self_id) == 0)
            e->self = i;
    if (e->self < 0) {
        snprintf(err, errlen, "dLegerSelfId \"%s\" is not in dLegerPeers", e->cfg.self_id ? e->cfg.self_id : "");
        return RK_EBADCONFIG;
    }
    e->majority = e->n / 2 + 1;
    return RK_OK;
}

/* ------------------------------------------------------------ epochs */

int rk_epochs_parse(const char *text, rk_epoch_t *out, int max)
{
    int n = 0;
    const char *p = text;
    while (p != NULL && *p) {
        char *end;
        errno = 0;
        long long ep = strtoll(p, &end, 10);
        if (end == p || *end != '-' || errno != 0 || ep < 0)
            return RK_EINVAL;
        p = end + 1;
        long long st = strtoll(p, &end, 10);
        if (end == p || (*end != ';' && *end != '\0' && *end != '\n') || errno != 0 || st < 0)
            return RK_EINVAL;
        if (n == max || (n > 0 && (ep <= out[n - 1].epoch || st < out[n - 1].start)))
            return RK_EINVAL;
        out[n].epoch = ep;
        out[n].start = st;
        n++;
        p = *end ? end + 1 : end;
    }
    return n;
}

static int epochs_format(const rk_epoch_t *e, int n, char *buf, size_t len, const char *sep)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        int k = snprintf(buf + used, len - used, "%s%" PRId64 "-%" PRId64, i ? sep : "", e[i].epoch, e[i].start);
        if (k < 0 || (size_t)k >= len - used)
            return RK_ETOOBIG;
        used += (size_t)k;
    }
    return RK_OK;
}

/* The entries a log holding [.., max) has data of: start < max; a list
 * without an entry at 0 begins with an implicit epoch 0 at 0. */
static int effective(const rk_epoch_t *in, int n, int64_t max, rk_epoch_t *out)
{
    int k = 0;
    if (max > 0 && (n == 0 || in[0].start > 0))
        out[k++] = (rk_epoch_t){0, 0};
    for (int i = 0; i < n; i++)
        if (in[i].start < max && !(k > 0 && out[k - 1].epoch >= in[i].epoch))
            out[k++] = in[i];
    return k;
}

int64_t rk_epochs_consistent_point(const rk_epoch_t *mine, int n_mine, int64_t my_max, const rk_epoch_t *theirs,
                                   int n_theirs, int64_t their_max)
{
    rk_epoch_t a[RK_ELECT_MAX_EPOCHS + 1], b[RK_ELECT_MAX_EPOCHS + 1];
    if (n_mine > RK_ELECT_MAX_EPOCHS || n_theirs > RK_ELECT_MAX_EPOCHS)
        return 0;
    int na = effective(mine, n_mine, my_max, a), nb = effective(theirs, n_theirs, their_max, b);
    for (int i = na - 1; i >= 0; i--)
        for (int j = nb - 1; j >= 0; j--) {
            if (b[j].epoch != a[i].epoch)
                continue;
            if (b[j].start != a[i].start)
                break;
            int64_t end_a = i + 1 < na ? a[i + 1].start : my_max;
            int64_t end_b = j + 1 < nb ? b[j + 1].start : their_max;
            return end_a < end_b ? end_a : end_b;
        }
    return 0;
}

/* The epoch of the last byte held (-1: an empty log). */
static int64_t last_epoch(const rk_epoch_t *e, int n, int64_t max)
{
    rk_epoch_t a[RK_ELECT_MAX_EPOCHS + 1];
    int k = n <= RK_ELECT_MAX_EPOCHS ? effective(e, n, max, a) : 0;
    return k > 0 ? a[k - 1].epoch : -1;
}

typedef struct {
    rk_epoch_t *out;
    int max, n;
} eload_t;

static int parse_epoch_file(const char *text, size_t len, void *ctx)
{
    eload_t *l = ctx;
    char *copy = strndup(text, len);
    if (copy == NULL)
        return RK_ENOMEM;
    int rc = RK_ECORRUPT;
    char *nl1 = strchr(copy, '\n'), *nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
    int64_t count, crc;
    if (nl1 && nl2) {
        *nl1 = *nl2 = '\0';
        char *body = nl2 + 1;
        size_t blen = strlen(body);
        if (rk_parse_int(copy, &count) == RK_OK && rk_parse_int(nl1 + 1, &crc) == RK_OK && count >= 0 &&
            count <= l->max && (uint32_t)crc == rk_crc32(body, blen)) {
            int n = rk_epochs_parse(body, l->out, l->max);
            if (n == count) {
                l->n = n;
                rc = RK_OK;
            }
        }
    }
    free(copy);
    return rc;
}

int rk_epochs_load(const char *path, rk_epoch_t *out, int max)
{
    eload_t l = {out, max, 0};
    /* no fallback to the .bak (an older list): a damaged file is refused */
    int rc = rk_file_load(path, parse_epoch_file, &l, NULL, NULL, NULL, 0);
    if (rc == -ENOENT)
        return 0;
    return rc == RK_OK ? l.n : rc;
}

int rk_epochs_store(const char *path, const rk_epoch_t *e, int n)
{
    char body[RK_ELECT_MAX_EPOCHS * 44 + 2], text[sizeof body + 64];
    int rc = epochs_format(e, n, body, sizeof body - 1, "\n");
    if (rc != RK_OK)
        return rc;
    if (n > 0)
        strcat(body, "\n");
    int k = snprintf(text, sizeof text, "%d\n%u\n%s", n, rk_crc32(body, strlen(body)), body);
    return rk_file_write_atomic(path, text, (size_t)k);
}

/* ------------------------------------------------------------ persisted state */

typedef struct {
    rk_elect_t *e;
    int64_t term;
    int voted;
} vload_t;

static int parse_vote(const char *text, size_t len, void *ctx)
{
    vload_t *v = ctx;
    char buf[256];
    if (len >= sizeof buf)
        return RK_ECORRUPT;
    memcpy(buf, text, len);
    buf[len] = '\0';
    char who[ID_MAX + 2] = "";
    long long term;
    if (sscanf(buf, "term=%lld\nvotedFor=%33[^\n]", &term, who) < 1 || term < 0 || term >= TERM_MAX)
        return RK_ECORRUPT;
    v->term = term;
    v->voted = -1;
    if (who[0]) {
        for (int i = 0; i < v->e->n; i++)
            if (strcmp(v->e->peers[i].id, who) == 0)
                v->voted = i;
        if (v->voted < 0)
            return RK_ECORRUPT;     /* a vote for nobody we know: do not guess */
    }
    return RK_OK;
}

/* Before any answer that depends on them: term and vote on disk. */
static int persist_vote(rk_elect_t *e)
{
    char text[128];
    int k = snprintf(text, sizeof text, "term=%" PRId64 "\nvotedFor=%s\n", e->term,
                     e->voted >= 0 ? e->peers[e->voted].id : "");
    int rc = rk_file_write_atomic(e->vote_path, text, (size_t)k);
    if (rc != RK_OK)
        rk_log_error("elect", "cannot persist term %" PRId64 " / vote: %s", e->term, rk_strerror(rc));
    return rc;
}

static int64_t my_max(rk_elect_t *e) { return rk_commitlog_max_offset(rk_store_commitlog(rk_broker_store(e->b))); }

/* ------------------------------------------------------------ roles (mu held) */

static uint64_t random_timeout(rk_elect_t *e)
{
    uint64_t t = (uint64_t)e->cfg.election_timeout_ms;
    return t + ((uint64_t)rand() % t);
}

static void log_role(rk_elect_t *e, const char *what)
{
    int64_t max = my_max(e);
    rk_log_info("elect", "%s: %s, term %" PRId64 ", epoch %" PRId64 ", leader %s, commitlog max offset %" PRId64,
                e->peers[e->self].id, what, e->term, last_epoch(e->ep, e->nep, max),
                e->leader >= 0 ? e->peers[e->leader].id : "-", max);
}

/* Follower of nobody (yet): stop writing, stop streaming. */
static void become_follower(rk_elect_t *e, const char *why)
{
    bool was = e->state != RK_ELECT_FOLLOWER;
    e->state = RK_ELECT_FOLLOWER;
    e->leader = -1;
    e->following = false;
    e->deadline = now_ms() + random_timeout(e);
    rk_ha_follow(e->ha, "");
    rk_ha_follow_broker(e->ha, "");
    rk_ha_switch_role(e->ha, RK_HA_SLAVE, e->self + 1, NULL);
    if (was)
        log_role(e, why);
}

static void adopt_term(rk_elect_t *e, int64_t term, const char *why)
{
    e->term = term;
    e->voted = -1;
    persist_vote(e);
    if (e->state != RK_ELECT_FOLLOWER || e->leader >= 0)
        become_follower(e, why);
}

static void become_leader(rk_elect_t *e)
{
    int64_t max = my_max(e);
    /* drop epochs this log holds no byte of, then open ours */
    while (e->nep > 0 && (e->ep[e->nep - 1].start >= max || e->ep[e->nep - 1].epoch >= e->term))
        e->nep--;
    if (e->nep == RK_ELECT_MAX_EPOCHS) {
        memmove(e->ep, e->ep + 1, sizeof e->ep[0] * (RK_ELECT_MAX_EPOCHS - 1));
        e->nep--;
    }
    e->ep[e->nep++] = (rk_epoch_t){e->term, max};
    int rc = rk_epochs_store(e->epoch_path, e->ep, e->nep);
    if (rc != RK_OK) {
        rk_log_error("elect", "cannot write the epoch file: %s; not taking the lead", rk_strerror(rc));
        e->nep--;
        become_follower(e, "epoch file not written");
        return;
    }
    e->state = RK_ELECT_LEADER;
    e->leader = e->self;
    e->following = false;
    uint64_t now = now_ms();
    e->leader_since = now;
    e->next_hb = 0;
    e->next_reg = now + REREGISTER_MS;
    for (int i = 0; i < e->n; i++)
        e->peers[i].last_ok = 0;
    rk_ha_follow(e->ha, "");
    rk_ha_follow_broker(e->ha, "");
    rk_ha_switch_role(e->ha, RK_HA_SYNC_MASTER, 0, NULL);
    log_role(e, "LEADER (master, brokerId 0; writes accepted from here on)");
}

/* ------------------------------------------------------------ truncation */

static void request_truncation(rk_elect_t *e, int64_t offset, const char *why)
{
    if (e->truncating)
        return;
    e->truncating = true;
    char text[64];
    int k = snprintf(text, sizeof text, "%" PRId64 "\n", offset);
    int rc = rk_file_write_atomic(e->trunc_path, text, (size_t)k);
    rk_log_warn("elect", "%s: this log (max offset %" PRId64 ") diverged from leader %s's at %" PRId64
                " (%s): stopping to truncate the unacknowledged tail, then rejoining",
                e->peers[e->self].id, my_max(e), e->leader >= 0 ? e->peers[e->leader].id : "-", offset, why);
    if (rc != RK_OK) {
        rk_log_error("elect", "cannot write %s: %s", e->trunc_path, rk_strerror(rc));
        return;
    }
    atomic_store(&g_trunc.pending, true);
    kill(getpid(), SIGTERM);        /* rk_broker_main stops cleanly; main calls rk_elect_after_exit */
}

static int read_intent(const char *path, int64_t *offset)
{
    char *text = NULL;
    size_t len = 0;
    int rc = rk_file_read_all(path, &text, &len);
    if (rc != RK_OK)
        return rc;
    char buf[32];
    rc = RK_ECORRUPT;
    if (len > 0 && len < sizeof buf) {
        memcpy(buf, text, len);
        buf[len] = '\0';
        char *nl = strchr(buf, '\n');
        if (nl)
            *nl = '\0';
        if (rk_parse_int(buf, offset) == RK_OK && *offset >= 0)
            rc = RK_OK;
    }
    free(text);
    return rc;
}

bool rk_elect_after_exit(void)
{
    if (!atomic_exchange(&g_trunc.pending, false))
        return false;
    int64_t off;
    if (read_intent(g_trunc.intent, &off) != RK_OK) {
        rk_log_error("elect", "truncation intent %s unreadable: not restarting", g_trunc.intent);
        return false;
    }
    int64_t dropped = 0;
    int rc = rk_commitlog_truncate_dir(g_trunc.dir, g_trunc.file_size, off, &dropped);
    if (rc != RK_OK) {
        rk_log_error("elect", "truncating %s at %" PRId64 " failed: %s", g_trunc.dir, off, rk_strerror(rc));
        return false;
    }
    rk_log_warn("elect", "commitlog truncated at %" PRId64 ": %" PRId64 " bytes of records dropped (never "
                "acknowledged by a majority); consume queues and index follow at open; starting again",
                off, dropped);
    unlink(g_trunc.intent);
    return true;
}

/* ------------------------------------------------------------ votes */

static int ext_str(const rk_cmd_t *c, const char *k, char *out, size_t len)
{
    const char *v = rk_cmd_ext_get(c, k);
    if (v == NULL || strlen(v) >= len)
        return RK_EINVAL;
    snprintf(out, len, "%s", v);
    return RK_OK;
}

static int peer_index(rk_elect_t *e, const char *id)
{
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->peers[i].id, id) == 0)
            return i;
    return -1;
}

static void reply_bad(rk_reply_t *reply, const char *why)
{
    rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, why);
}

/* VOTE and PREVOTE carry the same fields; -1 after answering a bad one. */
static int parse_vote_req(rk_elect_t *e, rk_cmd_t *req, rk_reply_t *reply, int64_t *term, int64_t *epoch,
                          int64_t *max)
{
    char group[128], cand[ID_MAX];
    if (ext_str(req, "group", group, sizeof group) != RK_OK || strcmp(group, e->cfg.group) != 0 ||
        ext_str(req, "candidateId", cand, sizeof cand) != RK_OK || rk_cmd_ext_i64(req, "term", term) != RK_OK ||
        rk_cmd_ext_i64(req, "epoch", epoch) != RK_OK || rk_cmd_ext_i64(req, "maxOffset", max) != RK_OK ||
        *term < 0 || *term >= TERM_MAX || *epoch < -1 || *epoch >= TERM_MAX || *max < 0) {
        reply_bad(reply, "bad vote request");
        return -1;
    }
    int ci = peer_index(e, cand);
    if (ci < 0 || ci == e->self) {
        reply_bad(reply, "unknown candidate");
        return -1;
    }
    return ci;
}

static void reply_vote(rk_cmd_t *req, rk_reply_t *reply, int64_t term, bool granted)
{
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    if (resp != NULL) {
        rk_cmd_ext_set_i64(resp, "term", term);
        rk_cmd_ext_set(resp, "voteGranted", granted ? "true" : "false");
    }
    rk_reply_send(reply, resp);
}

/* PREVOTE: "would you vote for me in term+1?" — answered without changing
 * anything (no term adopted, nothing persisted). Refused while this replica
 * hears a leader (or is one): a replica that was cut off and comes back
 * cannot make a healthy group elect again, and one alone never raises its
 * term (Raft's pre-vote, Ongaro's thesis 9.6). */
static void p_prevote(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_elect_t *e = ctx;
    int64_t term, epoch, max;
    if (parse_vote_req(e, req, reply, &term, &epoch, &max) < 0)
        return;
    uv_mutex_lock(&e->mu);
    uint64_t now = now_ms();
    bool leader_alive = e->state == RK_ELECT_LEADER ||
                        (e->leader >= 0 && now - e->last_leader_ms < (uint64_t)e->cfg.election_timeout_ms);
    int64_t mine = my_max(e), my_epoch = last_epoch(e->ep, e->nep, mine);
    bool up_to_date = epoch > my_epoch || (epoch == my_epoch && max >= mine);
    bool granted = term > e->term && up_to_date && !leader_alive && !e->truncating;
    int64_t my_term = e->term;
    uv_mutex_unlock(&e->mu);
    reply_vote(req, reply, my_term, granted);
}

static void p_vote(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_elect_t *e = ctx;
    int64_t term, epoch, max;
    int ci = parse_vote_req(e, req, reply, &term, &epoch, &max);
    if (ci < 0)
        return;
    char cand[ID_MAX];
    snprintf(cand, sizeof cand, "%s", e->peers[ci].id);
    bool granted = false;
    uv_mutex_lock(&e->mu);
    if (term > e->term)
        adopt_term(e, term, "FOLLOWER (a candidate has a higher term)");
    int64_t mine = my_max(e), my_epoch = last_epoch(e->ep, e->nep, mine);
    bool up_to_date = epoch > my_epoch || (epoch == my_epoch && max >= mine);
    if (term == e->term && (e->voted < 0 || e->voted == ci) && up_to_date && !e->truncating) {
        int prev = e->voted;
        e->voted = ci;
        if (persist_vote(e) == RK_OK) {
            granted = true;
            e->deadline = now_ms() + random_timeout(e);
        } else {
            e->voted = prev;
        }
    }
    rk_log_info("elect", "%s: vote for %s in term %" PRId64 " (its epoch %" PRId64 ", offset %" PRId64
                "; mine %" PRId64 ", %" PRId64 "): %s", e->peers[e->self].id, cand, term, epoch, max, my_epoch,
                mine, granted ? "granted" : "refused");
    int64_t my_term = e->term;
    uv_mutex_unlock(&e->mu);
    reply_vote(req, reply, my_term, granted);
}

typedef struct call {
    rk_elect_t *e;
    int peer;
    int64_t term;
} call_t;

/* An answer from a peer: success with a term >= 0, else ignored. */
static bool read_answer(int status, const rk_cmd_t *resp, int64_t *term)
{
    return status == RK_OK && resp != NULL && resp->code == RK_RESP_SUCCESS &&
           rk_cmd_ext_i64(resp, "term", term) == RK_OK && *term >= 0 && *term < TERM_MAX;
}

static void on_vote_answer(void *arg, int status, rk_cmd_t *resp)
{
    call_t *c = arg;
    rk_elect_t *e = c->e;
    int64_t term;
    bool granted = false;
    if (!atomic_load(&e->stopping) && read_answer(status, resp, &term)) {
        rk_cmd_ext_bool(resp, "voteGranted", &granted);
        uv_mutex_lock(&e->mu);
        if (term > e->term)
            adopt_term(e, term, "FOLLOWER (a voter has a higher term)");
        else if (granted && term == c->term && e->state == RK_ELECT_CANDIDATE && e->term == c->term &&
                 ++e->votes >= e->majority)
            become_leader(e);
        uv_mutex_unlock(&e->mu);
    }
    rk_cmd_free(resp);
    free(c);
}

static void send_to(rk_elect_t *e, int i, rk_cmd_t *req, rk_invoke_cb cb)
{
    call_t *c = malloc(sizeof *c);
    if (c == NULL) {
        rk_cmd_free(req);
        return;
    }
    *c = (call_t){e, i, e->term};
    if (rk_rclient_invoke_async(e->cl, e->peers[i].addr, req, (int)e->cfg.election_timeout_ms, cb, c) != RK_OK)
        free(c);
}

static void start_election(rk_elect_t *e)
{
    e->term++;
    e->voted = e->self;
    if (persist_vote(e) != RK_OK) {
        e->deadline = now_ms() + random_timeout(e);
        return;
    }
    e->state = RK_ELECT_CANDIDATE;
    e->leader = -1;
    e->following = false;
    e->votes = 1;
    e->deadline = now_ms() + random_timeout(e);
    rk_ha_follow(e->ha, "");
    rk_ha_switch_role(e->ha, RK_HA_SLAVE, e->self + 1, NULL);
    log_role(e, "CANDIDATE");
    if (e->votes >= e->majority) {
        become_leader(e);
        return;
    }
    int64_t max = my_max(e);
    for (int i = 0; i < e->n; i++) {
        if (i == e->self)
            continue;
        rk_cmd_t *req = rk_cmd_new(RK_REQ_ELECT_VOTE);
        if (req == NULL)
            continue;
        rk_cmd_ext_set(req, "group", e->cfg.group);
        rk_cmd_ext_set(req, "candidateId", e->peers[e->self].id);
        rk_cmd_ext_set_i64(req, "term", e->term);
        rk_cmd_ext_set_i64(req, "epoch", last_epoch(e->ep, e->nep, max));
        rk_cmd_ext_set_i64(req, "maxOffset", max);
        send_to(e, i, req, on_vote_answer);
    }
}

static void on_prevote_answer(void *arg, int status, rk_cmd_t *resp)
{
    call_t *c = arg;
    rk_elect_t *e = c->e;
    int64_t term;
    bool granted = false;
    if (!atomic_load(&e->stopping) && read_answer(status, resp, &term)) {
        rk_cmd_ext_bool(resp, "voteGranted", &granted);
        uv_mutex_lock(&e->mu);
        if (term > e->term)
            adopt_term(e, term, "FOLLOWER (a replica has a higher term)");
        else if (granted && c->term == e->pre_round && e->state != RK_ELECT_LEADER && !e->truncating &&
                 ++e->prevotes >= e->majority) {
            e->pre_round++;             /* this round is decided */
            start_election(e);
        }
        uv_mutex_unlock(&e->mu);
    }
    rk_cmd_free(resp);
    free(c);
}

/* The election timer ran out: first ask whether a majority would vote. */
static void start_prevote(rk_elect_t *e)
{
    e->pre_round++;
    e->prevotes = 1;
    e->deadline = now_ms() + random_timeout(e);
    if (e->prevotes >= e->majority) {
        start_election(e);
        return;
    }
    int64_t max = my_max(e);
    rk_log_debug("elect", "%s: pre-vote for term %" PRId64, e->peers[e->self].id, e->term + 1);
    for (int i = 0; i < e->n; i++) {
        if (i == e->self)
            continue;
        rk_cmd_t *req = rk_cmd_new(RK_REQ_ELECT_PREVOTE);
        if (req == NULL)
            continue;
        rk_cmd_ext_set(req, "group", e->cfg.group);
        rk_cmd_ext_set(req, "candidateId", e->peers[e->self].id);
        rk_cmd_ext_set_i64(req, "term", e->term + 1);
        rk_cmd_ext_set_i64(req, "epoch", last_epoch(e->ep, e->nep, max));
        rk_cmd_ext_set_i64(req, "maxOffset", max);
        call_t *c = malloc(sizeof *c);
        if (c == NULL) {
            rk_cmd_free(req);
            continue;
        }
        *c = (call_t){e, i, e->pre_round};
        if (rk_rclient_invoke_async(e->cl, e->peers[i].addr, req, (int)e->cfg.election_timeout_ms, on_prevote_answer,
                                    c) != RK_OK)
            free(c);
    }
}

/* ------------------------------------------------------------ heartbeats */

static void p_heartbeat(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    rk_elect_t *e = ctx;
    char group[128], lid[ID_MAX], baddr[ADDR_MAX], haddr[ADDR_MAX];
    int64_t term, lmax;
    rk_epoch_t lep[RK_ELECT_MAX_EPOCHS];
    const char *eps = rk_cmd_ext_get(req, "epochs");
    int nl = eps != NULL ? rk_epochs_parse(eps, lep, RK_ELECT_MAX_EPOCHS) : RK_EINVAL;
    if (ext_str(req, "group", group, sizeof group) != RK_OK || strcmp(group, e->cfg.group) != 0 ||
        ext_str(req, "leaderId", lid, sizeof lid) != RK_OK || ext_str(req, "brokerAddr", baddr, sizeof baddr) != RK_OK ||
        ext_str(req, "haAddr", haddr, sizeof haddr) != RK_OK || !addr_ok(baddr) || !addr_ok(haddr) ||
        rk_cmd_ext_i64(req, "term", &term) != RK_OK || rk_cmd_ext_i64(req, "maxOffset", &lmax) != RK_OK ||
        term < 0 || term >= TERM_MAX || lmax < 0 || nl < 0 || (nl > 0 && lep[nl - 1].start > lmax) ||
        (nl > 0 && lep[nl - 1].epoch > term)) {
        reply_bad(reply, "bad heartbeat");
        return;
    }
    int li = peer_index(e, lid);
    if (li < 0 || li == e->self) {
        reply_bad(reply, "unknown leader");
        return;
    }
    bool ok = false;
    uv_mutex_lock(&e->mu);
    int64_t mine = my_max(e);
    if (term >= e->term && !e->truncating) {
        if (term > e->term)
            adopt_term(e, term, "FOLLOWER (a leader has a higher term)");
        if (e->state != RK_ELECT_FOLLOWER || e->leader != li) {
            if (e->state == RK_ELECT_LEADER)
                rk_log_error("elect", "two leaders in term %" PRId64 "? stepping down", term);
            become_follower(e, "FOLLOWER");
            e->leader = li;
            log_role(e, "FOLLOWER of a new leader");
        }
        e->deadline = now_ms() + random_timeout(e);
        e->last_leader_ms = now_ms();
        snprintf(e->leader_addr, sizeof e->leader_addr, "%s", baddr);
        e->leader_max = lmax;
        snprintf(e->leader_ha, sizeof e->leader_ha, "%s", haddr);
        if (!e->following) {
            /* no byte of any other master lands after this (rk_ha_follow
             * waits for an apply in progress): the end read next is final */
            rk_ha_follow(e->ha, "");
            mine = my_max(e);
            int64_t cp = rk_epochs_consistent_point(e->ep, e->nep, mine, lep, nl, lmax);
            if (cp < mine) {
                request_truncation(e, cp, "epochs disagree");
            } else {
                e->following = true;
                log_role(e, "log agrees with the leader's epochs; streaming from it");
            }
        }
        if (e->following) {
            /* the leader's epochs describe this log too (a prefix of it) */
            if (nl != e->nep || memcmp(lep, e->ep, sizeof lep[0] * (size_t)nl) != 0) {
                if (rk_epochs_store(e->epoch_path, lep, nl) == RK_OK) {
                    memcpy(e->ep, lep, sizeof lep[0] * (size_t)nl);
                    e->nep = nl;
                }
            }
            if (nl == e->nep && memcmp(lep, e->ep, sizeof lep[0] * (size_t)nl) == 0) {
                rk_ha_follow(e->ha, haddr);
                /* its broker address (checked above: host:port, IPv4), so the metadata
                 * copy starts now rather than at this broker's next registration */
                rk_ha_follow_broker(e->ha, baddr);
                ok = true;
            }
        }
    }
    rk_cmd_t *resp = rk_cmd_new_response(req, RK_RESP_SUCCESS, NULL);
    if (resp != NULL) {
        rk_cmd_ext_set_i64(resp, "term", e->term);
        rk_cmd_ext_set(resp, "success", ok ? "true" : "false");
        rk_cmd_ext_set_i64(resp, "maxOffset", mine);
    }
    uv_mutex_unlock(&e->mu);
    rk_reply_send(reply, resp);
}

static void on_heartbeat_answer(void *arg, int status, rk_cmd_t *resp)
{
    call_t *c = arg;
    rk_elect_t *e = c->e;
    int64_t term, off = -1;
    bool ok = false;
    if (!atomic_load(&e->stopping) && read_answer(status, resp, &term)) {
        rk_cmd_ext_bool(resp, "success", &ok);
        rk_cmd_ext_i64(resp, "maxOffset", &off);
        uv_mutex_lock(&e->mu);
        if (term > e->term)
            adopt_term(e, term, "FOLLOWER (a follower has a higher term: stepping down)");
        else if (ok && term == c->term && e->state == RK_ELECT_LEADER && e->term == c->term) {
            e->peers[c->peer].last_ok = now_ms();
            if (off >= 0)
                e->peers[c->peer].offset = off;
        }
        uv_mutex_unlock(&e->mu);
    }
    rk_cmd_free(resp);
    free(c);
}

static void send_heartbeats(rk_elect_t *e)
{
    char eps[RK_ELECT_MAX_EPOCHS * 44];
    if (epochs_format(e->ep, e->nep, eps, sizeof eps, ";") != RK_OK)
        return;
    int64_t max = my_max(e);
    for (int i = 0; i < e->n; i++) {
        if (i == e->self)
            continue;
        rk_cmd_t *req = rk_cmd_new(RK_REQ_ELECT_HEARTBEAT);
        if (req == NULL)
            continue;
        rk_cmd_ext_set(req, "group", e->cfg.group);
        rk_cmd_ext_set(req, "leaderId", e->peers[e->self].id);
        rk_cmd_ext_set_i64(req, "term", e->term);
        rk_cmd_ext_set(req, "brokerAddr", rk_broker_addr(e->b));
        rk_cmd_ext_set(req, "haAddr", rk_ha_address(e->ha));
        rk_cmd_ext_set_i64(req, "maxOffset", max);
        rk_cmd_ext_set(req, "epochs", eps);
        send_to(e, i, req, on_heartbeat_answer);
    }
}

/* ------------------------------------------------------------ tick */

static void tick(void *ctx)
{
    rk_elect_t *e = ctx;
    if (atomic_load(&e->stopping))
        return;
    uv_mutex_lock(&e->mu);
    uint64_t now = now_ms();
    if (e->truncating) {
        /* waiting for the stop */
    } else if (e->state == RK_ELECT_LEADER) {
        int alive = 1;
        for (int i = 0; i < e->n; i++)
            if (i != e->self && e->peers[i].last_ok > 0 && now - e->peers[i].last_ok <= (uint64_t)e->cfg.election_timeout_ms)
                alive++;
        if (alive < e->majority && now - e->leader_since > (uint64_t)e->cfg.election_timeout_ms) {
            rk_log_warn("elect", "%s: only %d of %d replicas answered heartbeats within %" PRId64
                        " ms: stepping down, no more writes", e->peers[e->self].id, alive, e->n,
                        e->cfg.election_timeout_ms);
            become_follower(e, "FOLLOWER (lost the majority)");
        } else {
            if (now >= e->next_hb) {
                send_heartbeats(e);
                e->next_hb = now + (uint64_t)e->cfg.heartbeat_ms;
            }
            if (now >= e->next_reg) {
                /* the name servers keep brokerId 0 = us even if a stale
                 * master's late registration overwrote it meanwhile */
                rk_brokerreg_t *reg = rk_broker_registration(e->b);
                if (reg != NULL)
                    rk_brokerreg_trigger(reg);
                e->next_reg = now + REREGISTER_MS;
            }
        }
    } else if (now >= e->deadline) {
        start_prevote(e);
    }
    uv_mutex_unlock(&e->mu);
}

/* ------------------------------------------------------------ status, runtime info */

void rk_elect_status(rk_elect_t *e, rk_elect_status_t *out)
{
    memset(out, 0, sizeof *out);
    uv_mutex_lock(&e->mu);
    out->state = e->state;
    out->term = e->term;
    out->self = e->self;
    out->leader = e->leader;
    out->max_offset = my_max(e);
    out->epoch = last_epoch(e->ep, e->nep, out->max_offset);
    if (e->state == RK_ELECT_FOLLOWER && e->leader >= 0)
        out->lag = e->leader_max > out->max_offset ? e->leader_max - out->max_offset : 0;
    if (e->state == RK_ELECT_LEADER)
        for (int i = 0; i < e->n; i++)
            if (i != e->self) {
                int64_t lag = e->peers[i].offset >= 0 ? out->max_offset - e->peers[i].offset : out->max_offset;
                if (lag > out->lag)
                    out->lag = lag;
            }
    uv_mutex_unlock(&e->mu);
}

static void runtime_info(void *ctx, rk_buf_t *out)
{
    rk_elect_t *e = ctx;
    rk_elect_status_t s;
    rk_elect_status(e, &s);
    uv_mutex_lock(&e->mu);
    int64_t master_epoch = e->nep > 0 ? e->ep[e->nep - 1].epoch : -1;
    uv_mutex_unlock(&e->mu);
    /* masterEpoch: the newest epoch this replica knows (its master's);
     * dLegerLogEpoch: the epoch of the last byte its log holds */
    rk_buf_printf(out, ",\"dLegerGroup\":\"%s\",\"dLegerSelfId\":\"%s\",\"dLegerRole\":\"%s\",\"dLegerTerm\":\"%" PRId64
                       "\",\"dLegerLeaderId\":\"%s\",\"masterEpoch\":\"%" PRId64 "\",\"dLegerLogEpoch\":\"%" PRId64
                       "\",\"haReplicaLag\":\"%" PRId64 "\"",
                  e->cfg.group, e->peers[e->self].id, state_name(s.state), s.term,
                  s.leader >= 0 ? e->peers[s.leader].id : "", master_epoch, s.epoch, s.lag);
}

/* ------------------------------------------------------------ module */

static void elect_destroy(rk_broker_t *b, void *state);

static int init_state(rk_broker_t *b, rk_elect_t *e)
{
    char err[256] = "";
    int rc = rk_config_defaults(rk_elect_config_fields, &e->cfg);
    if (rc == RK_OK && rk_broker_kv(b) != NULL)
        rc = rk_config_apply(rk_elect_config_fields, &e->cfg, rk_broker_kv(b), err, sizeof err);
    if (rc != RK_OK) {
        rk_log_error("elect", "bad configuration: %s", err);
        return rc;
    }
    if (!e->cfg.enable)
        return RK_OK;
    if (e->cfg.group == NULL || !*e->cfg.group || strlen(e->cfg.group) > 127) {
        rk_log_error("elect", "enableDLegerCommitLog=true needs dLegerGroup (1..127 bytes)");
        return RK_EBADCONFIG;
    }
    if ((rc = parse_peers(e, err, sizeof err)) != RK_OK) {
        rk_log_error("elect", "%s", err);
        return rc;
    }
    if (e->cfg.heartbeat_ms * 2 > e->cfg.election_timeout_ms) {
        rk_log_error("elect", "dLegerHeartbeatIntervalMillis must be at most half dLegerElectionTimeoutMillis");
        return RK_EBADCONFIG;
    }
    /* Every replica starts as a slave; the election makes one the master. */
    rk_kv_t *kv = rk_broker_kv(b);
    const char *role = rk_kv_get(kv, "brokerRole");
    if (role != NULL && strcmp(role, "SLAVE") != 0)
        rk_log_warn("elect", "enableDLegerCommitLog=true: brokerRole=%s is ignored (the election decides)", role);
    if ((rc = rk_kv_set(kv, "brokerRole", "SLAVE")) != RK_OK)
        return rc;
    rk_broker_set_id(b, e->self + 1);
    if ((rc = uv_mutex_init(&e->mu)) != 0)
        return RK_ENOMEM;
    e->mu_ok = true;

    const char *root = rk_broker_config(b)->store_root;
    char dir[PATH_MAX];
    rk_path_join(dir, sizeof dir, root, "dledger");
    if ((rc = rk_mkdirs(dir, 0755)) != RK_OK)
        return rc;
    rk_path_join(e->vote_path, sizeof e->vote_path, dir, "vote");
    rk_path_join(e->trunc_path, sizeof e->trunc_path, dir, "truncate");
    rk_path_join(e->epoch_path, sizeof e->epoch_path, root, "epochFileCheckpoint");
    rk_commitlog_t *cl = rk_store_commitlog(rk_broker_store(b));
    rk_path_join(g_trunc.dir, sizeof g_trunc.dir, rk_commitlog_root(cl), "commitlog");
    snprintf(g_trunc.intent, sizeof g_trunc.intent, "%s", e->trunc_path);
    g_trunc.file_size = rk_commitlog_file_size(cl);
    int64_t off;
    if (read_intent(e->trunc_path, &off) == RK_OK) {
        /* stopped (or killed) before the truncation was done: do it first */
        rk_log_warn("elect", "a truncation at %" PRId64 " is pending: stopping to do it", off);
        atomic_store(&g_trunc.pending, true);
        return RK_EBUSY;
    }
    vload_t v = {e, 0, -1};
    /* no fallback to the .bak: it holds an older term, in which this
     * replica may vote again (twice) */
    rc = rk_file_load(e->vote_path, parse_vote, &v, NULL, NULL, NULL, 0);
    if (rc != RK_OK && rc != -ENOENT) {
        rk_log_error("elect", "%s: %s (refusing to start: a lost vote could vote twice)", e->vote_path,
                     rk_strerror(rc));
        return rc;
    }
    e->term = v.term;
    e->voted = v.voted;
    int n = rk_epochs_load(e->epoch_path, e->ep, RK_ELECT_MAX_EPOCHS);
    if (n < 0) {
        rk_log_error("elect", "%s: %s", e->epoch_path, rk_strerror(n));
        return n;
    }
    e->nep = n;
    e->state = RK_ELECT_FOLLOWER;
    e->leader = -1;
    for (int i = 0; i < e->n; i++)
        e->peers[i].offset = -1;

    rk_rserver_config_t sc = {0};
    char host[ADDR_MAX];
    const char *addr = e->peers[e->self].addr, *colon = strrchr(addr, ':');
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    sc.host = host;
    sc.port = atoi(colon + 1);
    sc.max_frame = 1 << 20;
    sc.idle_ms = 120000;
    sc.name = "elect";
    sc.max_conns = 64;
    if ((rc = rk_rserver_new(&sc, &e->srv)) != RK_OK || (rc = rk_rclient_new(&e->cl)) != RK_OK ||
        (rc = rk_rserver_register(e->srv, RK_REQ_ELECT_VOTE, p_vote, e, RK_PROC_INLINE)) != RK_OK ||
        (rc = rk_rserver_register(e->srv, RK_REQ_ELECT_HEARTBEAT, p_heartbeat, e, RK_PROC_INLINE)) != RK_OK ||
        (rc = rk_rserver_register(e->srv, RK_REQ_ELECT_PREVOTE, p_prevote, e, RK_PROC_INLINE)) != RK_OK ||
        (rc = rk_rserver_every(e->srv, TICK_MS, tick, e)) != RK_OK ||
        (rc = rk_broker_add_runtime_info(b, runtime_info, e)) != RK_OK)
        return rc;
    srand((unsigned)(rk_now_ms() ^ ((uint64_t)getpid() << 16)));
    rk_log_info("elect", "%s of group %s (%d replicas, majority %d), election on %s, term %" PRId64
                ", voted for %s, %d epoch(s)", e->peers[e->self].id, e->cfg.group, e->n, e->majority, addr, e->term,
                e->voted >= 0 ? e->peers[e->voted].id : "-", e->nep);
    return RK_OK;
}

static int elect_init(rk_broker_t *b, void **state)
{
    rk_elect_t *e = calloc(1, sizeof *e);
    if (e == NULL)
        return RK_ENOMEM;
    e->b = b;
    int rc = init_state(b, e);
    if (rc != RK_OK) {
        elect_destroy(b, e);
        return rc;
    }
    *state = e;
    return RK_OK;
}

static int elect_start(rk_broker_t *b, void *state)
{
    rk_elect_t *e = state;
    if (!e->cfg.enable)
        return RK_OK;
    e->ha = rk_ha_of(b);
    if (e->ha == NULL) {
        rk_log_error("elect", "enableDLegerCommitLog=true needs the ha module");
        return RK_EINVAL;
    }
    /* replicas on distinct hosts: one ack per host (a stale second HA
     * connection of a replica must not count twice); all on one host (a
     * test, a laptop): per connection, a replica holding one at a time */
    bool distinct = true;
    for (int i = 0; i < e->n && distinct; i++)
        for (int j = i + 1; j < e->n && distinct; j++) {
            const char *a = e->peers[i].addr, *b = e->peers[j].addr;
            size_t la = (size_t)(strrchr(a, ':') - a), lb = (size_t)(strrchr(b, ':') - b);
            distinct = la != lb || memcmp(a, b, la) != 0;
        }
    int rc = rk_ha_set_quorum(e->ha, e->majority - 1, distinct);
    if (rc != RK_OK)
        return rc;
    rk_ha_follow(e->ha, "");        /* haMasterAddress means nothing here: the leader is elected */
    uv_mutex_lock(&e->mu);
    e->deadline = now_ms() + random_timeout(e);
    uv_mutex_unlock(&e->mu);
    char err[256] = "";
    if ((rc = rk_rserver_start(e->srv, err, sizeof err)) != RK_OK) {
        rk_log_error("elect", "cannot listen on %s: %s", e->peers[e->self].addr, err);
        return rc;
    }
    return RK_OK;
}

static void elect_stop(rk_broker_t *b, void *state)
{
    (void)b;
    rk_elect_t *e = state;
    if (e == NULL)
        return;
    atomic_store(&e->stopping, true);
    rk_rserver_free(e->srv);        /* no more ticks or requests */
    e->srv = NULL;
    rk_rclient_free(e->cl);         /* pending calls end (their callbacks see stopping) */
    e->cl = NULL;
}

static void elect_destroy(rk_broker_t *b, void *state)
{
    rk_elect_t *e = state;
    if (e == NULL)
        return;
    elect_stop(b, e);
    if (e->mu_ok)
        uv_mutex_destroy(&e->mu);
    rk_config_free(rk_elect_config_fields, &e->cfg);
    free(e);
}

rk_elect_t *rk_elect_of(rk_broker_t *b) { return rk_broker_module_state(b, rk_elect_module.name); }

const rk_broker_module_t rk_elect_module = {
    .name = "elect",
    .init = elect_init,
    .start = elect_start,
    .stop = elect_stop,
    .destroy = elect_destroy,
};
