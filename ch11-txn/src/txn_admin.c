/* txn_admin.c — chapter 11's mqadmin commands (rk/txn_admin.h): txnPending, and the lines
 * queryMsgById prints about a message's transaction. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/error.h"
#include "rk/json.h"
#include "rk/message.h"
#include "rk/mqadmin.h"
#include "rk/mqclient.h"
#include "rk/request_code.h"
#include "rk/txn.h"
#include "rk/txn_admin.h"

#define MAX_BROKERS 256

typedef struct target {
    char name[RK_NAME_MAX];
    char addr[RK_ADDR_MAX];
} target_t;

/* The master of every broker of `cluster` (NULL: of every cluster), from the name server. */
static int masters(rk_mqclient_t *c, const char *cluster, target_t *out, int max, int *n)
{
    *n = 0;
    cJSON *info = rk_mqadmin_ask_json(c, NULL, rk_mqclient_request(RK_REQ_GET_BROKER_CLUSTER_INFO),
                                      "GET_BROKER_CLUSTER_INFO");
    if (info == NULL)
        return 1;
    cJSON *clusters = cJSON_GetObjectItemCaseSensitive(info, "clusterAddrTable");
    cJSON *table = cJSON_GetObjectItemCaseSensitive(info, "brokerAddrTable");
    if (info == NULL || !cJSON_IsObject(clusters) || !cJSON_IsObject(table)) {
        fprintf(stderr, "txnPending: the name server's cluster info is not what it should be\n");
        cJSON_Delete(info);
        return 1;
    }
    bool found = cluster == NULL;
    for (cJSON *cl = clusters->child; cl != NULL; cl = cl->next) {
        if (cluster != NULL && (cl->string == NULL || strcmp(cl->string, cluster) != 0))
            continue;
        found = true;
        for (cJSON *b = cJSON_IsArray(cl) ? cl->child : NULL; b != NULL && *n < max; b = b->next) {
            if (!cJSON_IsString(b))
                continue;
            cJSON *addrs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(table, b->valuestring),
                                                            "brokerAddrs");
            const char *m = rk_json_get_str(addrs, "0");
            if (m == NULL) {
                fprintf(stderr, "txnPending: broker %s has no master now; skipped\n", b->valuestring);
                continue;
            }
            snprintf(out[*n].name, sizeof out[*n].name, "%s", b->valuestring);
            snprintf(out[*n].addr, sizeof out[*n].addr, "%s", m);
            (*n)++;
        }
    }
    cJSON_Delete(info);
    if (!found) {
        fprintf(stderr, "txnPending: no cluster %s\n", cluster);
        return 1;
    }
    return 0;
}

/* "0:5 1:2" from {"0":5,"1":2}, in check-count order. */
static void check_times(const cJSON *ct, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int64_t k = 0; k <= 100000 && used < len; k++) {
        char key[24];
        snprintf(key, sizeof key, "%" PRId64, k);
        int64_t v;
        if (rk_json_get_i64(ct, key, &v) != RK_OK)
            continue;
        int w = snprintf(buf + used, len - used, "%s%" PRId64 ":%" PRId64, used ? " " : "", k, v);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (used == 0)
        snprintf(buf, len, "-");
}

/* Prints one broker's answer; adds its pending figures to *total. */
static int print_broker(const target_t *t, const cJSON *j, int64_t *total)
{
    cJSON *groups = cJSON_GetObjectItemCaseSensitive(j, "groups");
    if (!cJSON_IsArray(groups)) {
        fprintf(stderr, "txnPending: broker %s answered without a group list\n", t->name);
        return 1;
    }
    for (cJSON *g = groups->child; g != NULL; g = g->next) {
        const char *name = rk_json_get_str(g, "producerGroup");
        int64_t pending = 0, oldest = 0;
        rk_json_get_i64(g, "pending", &pending);
        rk_json_get_i64(g, "oldestStoreTimestamp", &oldest);
        char times[256], when[40];
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(g, "checkTimes");
        if (cJSON_IsObject(ct) && cJSON_GetArraySize(ct) <= 64)
            check_times(ct, times, sizeof times);
        else
            snprintf(times, sizeof times, "%s", cJSON_IsObject(ct) ? "(many)" : "-");
        printf("%-20s  %-24s  %-8" PRId64 "  %-23s  %s\n", t->name, name ? name : "?", pending,
               rk_mqadmin_fmt_time(oldest, when, sizeof when), times);
        *total += pending;
    }
    int64_t scanned = 0, ho = -1, hmax = -1, oo = -1, omax = -1;
    bool truncated = false, groups_cut = false;
    rk_json_get_bool(j, "groupsTruncated", &groups_cut);
    if (groups_cut)
        fprintf(stderr, "txnPending: %s lists only its first producer groups (the answer is bounded); use -g\n",
                t->name);
    rk_json_get_i64(j, "scanned", &scanned);
    rk_json_get_bool(j, "truncated", &truncated);
    rk_json_get_i64(j, "halfOffset", &ho);
    rk_json_get_i64(j, "halfMaxOffset", &hmax);
    rk_json_get_i64(j, "opOffset", &oo);
    rk_json_get_i64(j, "opMaxOffset", &omax);
    fprintf(stderr, "txnPending: %s (%s): %" PRId64 " half-queue entries scanned%s; check progress: half queue %"
            PRId64 " of %" PRId64 ", op queue %" PRId64 " of %" PRId64 "\n", t->name, t->addr, scanned,
            truncated ? " (stopped at the limit: more pending than shown; raise -l)" : "", ho, hmax, oo, omax);
    return 0;
}

static int cmd_txn_pending(int argc, char **argv)
{
    const char *ns = getenv("NAMESRV_ADDR"), *cluster = NULL, *group = NULL;
    int64_t limit = 0;
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt(argc, argv, "n:c:g:l:")) != -1) {
        switch (ch) {
        case 'n': ns = optarg; break;
        case 'c': cluster = optarg; break;
        case 'g': group = optarg; break;
        case 'l': if (!rk_tool_int("-l", optarg, 1, 1000000, &limit)) return 2; break;
        default:
            fprintf(stderr, "txnPending: unknown option -%c\n", optopt);
            return 2;
        }
    }
    if (ns == NULL || !*ns) {
        fprintf(stderr, "txnPending: no name server: give -n host:port (or set NAMESRV_ADDR)\n");
        return 2;
    }
    rk_mqclient_config_t cc = {.namesrv = ns, .instance_name = "mqadmin", .access_key = rk_mqadmin_access_key(),
                               .secret_key = rk_mqadmin_secret_key()};
    rk_mqclient_t *c;
    if (rk_mqclient_new(&cc, &c) != RK_OK) {
        fprintf(stderr, "txnPending: bad name server list %s\n", ns);
        return 1;
    }
    target_t *ts = calloc(MAX_BROKERS, sizeof *ts);
    int n = 0, status = ts ? masters(c, cluster, ts, MAX_BROKERS, &n) : 1;
    if (status == 0 && n == 0) {
        fprintf(stderr, "txnPending: no master broker%s%s\n", cluster ? " in cluster " : "", cluster ? cluster : "");
        status = 1;
    }
    if (status == 0)
        printf("%-20s  %-24s  %-8s  %-23s  %s\n", "#Broker", "#Producer Group", "#Pending", "#Oldest Half",
               "#Check Times (times:halves)");
    int64_t total = 0;
    for (int i = 0; i < n && status == 0; i++) {
        rk_cmd_t *req = rk_mqclient_request(RK_REQ_QUERY_TXN_PENDING);
        if (req != NULL && group != NULL && rk_cmd_ext_set(req, "producerGroup", group) != RK_OK) {
            rk_cmd_free(req);
            req = NULL;
        }
        if (req != NULL && limit > 0 && rk_cmd_ext_set_i64(req, "limit", limit) != RK_OK) {
            rk_cmd_free(req);
            req = NULL;
        }
        if (req == NULL) {
            fprintf(stderr, "txnPending: out of memory\n");
            status = 1;
            break;
        }
        char what[RK_NAME_MAX + RK_ADDR_MAX + 40];
        snprintf(what, sizeof what, "QUERY_TXN_PENDING to %s (%s)", ts[i].name, ts[i].addr);
        cJSON *j = rk_mqadmin_ask_json(c, ts[i].addr, req, what);
        status = j != NULL ? print_broker(&ts[i], j, &total) : 1;
        cJSON_Delete(j);
    }
    if (status == 0)
        fprintf(stderr, "txnPending: %" PRId64 " half message(s) pending on %d broker(s)\n", total, n);
    free(ts);
    rk_mqclient_free(c);
    return status;
}

static const char *txn_type(const rk_msg_ext_t *m)
{
    if (strcmp(m->topic, RK_TXN_HALF_TOPIC) == 0)
        return "HALF (stored in " RK_TXN_HALF_TOPIC ", waiting for commit or rollback)";
    switch (rk_sysflag_txn(m->sys_flag)) {
    case RK_SYSFLAG_TXN_PREPARED: return "PREPARED";
    case RK_SYSFLAG_TXN_COMMIT: return "COMMIT (a transaction's message, committed)";
    case RK_SYSFLAG_TXN_ROLLBACK: return "ROLLBACK";
    default: return "NOT (not a transactional message)";
    }
}

void rk_mqadmin_txn_lines(const rk_msg_ext_t *m)
{
    char v[RK_NAME_MAX + 32], q[24];
    rk_mqadmin_print_field("Transaction:", txn_type(m));
    if (m->prepared_tx_offset > 0 || rk_sysflag_txn(m->sys_flag) == RK_SYSFLAG_TXN_COMMIT) {
        snprintf(v, sizeof v, "%" PRId64, m->prepared_tx_offset);
        rk_mqadmin_print_field("Prepared Tx Offset:", v);
    }
    if (rk_msg_prop(m, RK_PROP_REAL_TOPIC, v, RK_NAME_MAX) == RK_OK) {
        if (rk_msg_prop(m, RK_PROP_REAL_QID, q, sizeof q) == RK_OK) {
            size_t l = strlen(v);
            snprintf(v + l, sizeof v - l, " (queue %s)", q);
        }
        rk_mqadmin_print_field("Real Topic:", v);
    }
    if (rk_msg_prop(m, RK_PROP_PGROUP, v, sizeof v) == RK_OK)
        rk_mqadmin_print_field("Producer Group:", v);
    if (rk_msg_prop(m, RK_PROP_TRANSACTION_CHECK_TIMES, v, sizeof v) == RK_OK)
        rk_mqadmin_print_field("Check Times:", v);
}

const rk_tool_cmd_t rk_mqadmin_cmds_ch11[] = {
    {"txnPending", "-n NS [-c CLUSTER] [-g GROUP] [-l LIMIT]",
     "half messages waiting for commit or rollback, per producer group, and their check counts", cmd_txn_pending},
    {NULL, NULL, NULL, NULL},
};
