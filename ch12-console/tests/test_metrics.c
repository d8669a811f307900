/* test_metrics.c — GET /metrics: it parses as Prometheus' text format (a strict checker below:
 * HELP/TYPE once per family and before its samples, a family's samples together, names and
 * label names by the format's grammar, label values with only \\ \" \n escapes, a number per
 * sample, no series twice), and its figures are what the broker itself reports. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfix.h"
#include "rk/brokerreg.h"
#include "rk/json.h"
#include "rk/remoting_client.h"
#include "rk/remoting_server.h"
#include "rk/request_code.h"
#include "rk/strmap.h"
#include "rk/testkit.h"

#define SERIES_MAX 4096
#define LABELS_MAX 16

typedef struct series {
    char name[128];
    int nlabels;
    char lname[LABELS_MAX][64];
    char lvalue[LABELS_MAX][256];
    double value;
} series_t;

typedef struct parsed {
    series_t *s;
    int n;
} parsed_t;

static bool name_ok(const char *p, size_t n, bool metric)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        bool ok = isalpha((unsigned char)c) || c == '_' || (metric && c == ':') || (i > 0 && isdigit((unsigned char)c));
        if (!ok)
            return false;
    }
    return true;
}

/* Parses text strictly; on a violation fails the test with the line. */
static parsed_t parse_strict(const char *text)
{
    parsed_t out = {calloc(SERIES_MAX, sizeof(series_t)), 0};
    cr_assert_not_null(out.s);
    rk_strmap_t typed, closed, seen;
    rk_strmap_init(&typed);
    rk_strmap_init(&closed);
    rk_strmap_init(&seen);
    char last[128] = "";
    size_t len = strlen(text);
    cr_assert(len > 0 && text[len - 1] == '\n', "the text ends with a newline");
    int lineno = 0;
    for (const char *line = text; *line; ) {
        const char *nl = strchr(line, '\n');
        size_t ll = (size_t)(nl - line);
        char buf[2048];
        cr_assert(ll < sizeof buf, "line %d is too long", lineno);
        memcpy(buf, line, ll);
        buf[ll] = 0;
        lineno++;
        line = nl + 1;
        if (buf[0] == '#') {
            char kind[8], name[128];
            int off = 0;
            cr_assert(sscanf(buf, "# %7s %127s %n", kind, name, &off) == 2, "line %d: bad comment: %s", lineno, buf);
            cr_assert(name_ok(name, strlen(name), true), "line %d: bad metric name %s", lineno, name);
            if (strcmp(kind, "TYPE") == 0) {
                const char *type = buf + off;
                cr_assert(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 || strcmp(type, "untyped") == 0 ||
                          strcmp(type, "histogram") == 0 || strcmp(type, "summary") == 0,
                          "line %d: bad type %s", lineno, type);
                cr_assert_null(rk_strmap_get(&typed, name), "line %d: second TYPE for %s", lineno, name);
                cr_assert_null(rk_strmap_get(&closed, name), "line %d: TYPE after samples of %s", lineno, name);
                rk_strmap_put(&typed, name, (void *)1, NULL);
            } else {
                cr_assert_str_eq(kind, "HELP", "line %d: a comment is HELP or TYPE", lineno);
                for (const char *h = buf + off; *h; h++)
                    if (*h == '\\') {
                        cr_assert(h[1] == '\\' || h[1] == 'n', "line %d: bad escape in HELP", lineno);
                        h++;
                    }
            }
            continue;
        }
        cr_assert(ll > 0, "line %d is empty", lineno);
        cr_assert(out.n < SERIES_MAX, "too many series");
        series_t *s = &out.s[out.n++];
        const char *p = buf;
        size_t nlen = strcspn(p, "{ ");
        cr_assert(name_ok(p, nlen, true) && nlen < sizeof s->name, "line %d: bad metric name", lineno);
        memcpy(s->name, p, nlen);
        s->name[nlen] = 0;
        p += nlen;
        cr_assert_not_null(rk_strmap_get(&typed, s->name), "line %d: sample of %s before its TYPE", lineno, s->name);
        if (strcmp(last, s->name) != 0) {
            cr_assert_null(rk_strmap_get(&closed, s->name), "line %d: samples of %s are not together", lineno, s->name);
            if (last[0])
                rk_strmap_put(&closed, last, (void *)1, NULL);
            snprintf(last, sizeof last, "%s", s->name);
        }
        if (*p == '{') {
            p++;
            while (*p != '}') {
                cr_assert(s->nlabels < LABELS_MAX, "line %d: too many labels", lineno);
                size_t ln = strcspn(p, "=");
                cr_assert(name_ok(p, ln, false) && ln < 64, "line %d: bad label name", lineno);
                memcpy(s->lname[s->nlabels], p, ln);
                s->lname[s->nlabels][ln] = 0;
                for (int k = 0; k < s->nlabels; k++)
                    cr_assert_str_neq(s->lname[k], s->lname[s->nlabels], "line %d: label twice", lineno);
                p += ln;
                cr_assert(p[0] == '=' && p[1] == '"', "line %d: label value not quoted", lineno);
                p += 2;
                char *v = s->lvalue[s->nlabels];
                size_t vn = 0;
                while (*p != '"') {
                    cr_assert(*p != 0, "line %d: label value not closed", lineno);
                    char c = *p++;
                    if (c == '\\') {
                        cr_assert(*p == '\\' || *p == '"' || *p == 'n', "line %d: bad escape \\%c", lineno, *p);
                        c = *p == 'n' ? '\n' : *p;
                        p++;
                    }
                    cr_assert(vn + 1 < 256, "line %d: label value too long", lineno);
                    v[vn++] = c;
                }
                v[vn] = 0;
                p++;
                s->nlabels++;
                if (*p == ',')
                    p++;
                else
                    cr_assert(*p == '}', "line %d: labels not separated by commas", lineno);
            }
            p++;
        }
        cr_assert(*p == ' ', "line %d: no space before the value", lineno);
        p++;
        char *end;
        s->value = strtod(p, &end);
        cr_assert(end != p && (*end == 0 || *end == ' '), "line %d: bad value %s", lineno, p);
        char key[2048];
        size_t kl = (size_t)(p - buf);
        memcpy(key, buf, kl);
        key[kl] = 0;
        cr_assert_null(rk_strmap_get(&seen, key), "line %d: series twice: %s", lineno, key);
        rk_strmap_put(&seen, key, (void *)1, NULL);
    }
    rk_strmap_free(&typed, NULL);
    rk_strmap_free(&closed, NULL);
    rk_strmap_free(&seen, NULL);
    return out;
}

/* The value of the one series of name whose labels include the given pairs (NULL-terminated);
 * NAN when there is none. */
static double value_of(const parsed_t *p, const char *name, ...)
{
    for (int i = 0; i < p->n; i++) {
        const series_t *s = &p->s[i];
        if (strcmp(s->name, name) != 0)
            continue;
        va_list ap;
        va_start(ap, name);
        bool all = true;
        const char *k;
        while (all && (k = va_arg(ap, const char *)) != NULL) {
            const char *v = va_arg(ap, const char *);
            bool hit = false;
            for (int j = 0; j < s->nlabels && !hit; j++)
                hit = strcmp(s->lname[j], k) == 0 && strcmp(s->lvalue[j], v) == 0;
            all = hit;
        }
        va_end(ap);
        if (all)
            return s->value;
    }
    return NAN;
}

static char *scrape(int port, const char *headers, int want)
{
    ck_resp_t r;
    cr_assert_eq(ck_http(port, "GET", "/metrics", headers, NULL, &r), 0);
    cr_assert_eq(r.status, want, "/metrics: %d %s", r.status, r.body);
    char ct[128];
    if (want == 200)
        cr_assert(ck_header(&r, "content-type", ct, sizeof ct) && strncmp(ct, "text/plain; version=0.0.4", 25) == 0);
    return r.body;
}

static int64_t runtime_i64(cfix_t *f, const char *key)
{
    rk_cmd_t *resp = rk_rc_call(f->cl.br, rk_cmd_new(RK_REQ_GET_BROKER_RUNTIME_INFO));
    cr_assert(resp != NULL && resp->code == 0);
    cJSON *j = rk_json_parse((const char *)resp->body, resp->body_len);
    int64_t v = -1;
    cr_assert_eq(rk_json_get_i64(cJSON_GetObjectItemCaseSensitive(j, "table"), key, &v), 0, "no %s", key);
    cJSON_Delete(j);
    rk_cmd_free(resp);
    return v;
}

Test(metrics, parses_and_matches_the_broker)
{
    cfix_t f;
    /* a cluster name with a quote and a backslash: its label value must be escaped */
    cf_start(&f, "brokerClusterName=Te\"st\\Cl\n", "metricsCacheMs=0\n");
    rk_rc_create_topic(&f.cl, "MetT", 1);
    rk_send_result_t r;
    for (int i = 0; i < 3; i++)
        cf_send(&f, "MetT", NULL, "m", NULL, &r);
    cf_commit_offset(&f, "MetG", "MetT", 0, 1);
    for (int i = 0; i < 200; i++) {     /* until the consume queue has all three */
        cJSON *j = cf_get(&f, "/api/topics/MetT/status", 200);
        double n = cf_num(j, "messages");
        cJSON_Delete(j);
        if (n == 3)
            break;
        usleep(50000);
    }
    /* the broker counts a put in a dispatcher that runs after the consume queue's: the queue can
     * show three messages a moment before the put counter does */
    for (int i = 0; i < 200 && runtime_i64(&f, "msgPutTotalTodayNow") < 3; i++)
        usleep(50000);
    char *text = scrape(f.port, NULL, 200);
    parsed_t p = parse_strict(text);
    const char *cl = "Te\"st\\Cl";
    cr_assert_eq(value_of(&p, "rocklet_broker_up", "cluster", cl, "brokerIP", f.cl.br, NULL), 1, "%s", text);
    cr_assert_eq(value_of(&p, "rocketmq_producer_offset", "topic", "MetT", NULL), 3);
    cr_assert_eq(value_of(&p, "rocklet_topic_messages", "topic", "MetT", NULL), 3);
    cr_assert_eq(value_of(&p, "rocketmq_group_diff", "group", "MetG", "topic", "MetT", NULL), 2);
    cr_assert_eq(value_of(&p, "rocketmq_group_queue_diff", "group", "MetG", "topic", "MetT", "queueId", "0", NULL), 2);
    cr_assert_eq(value_of(&p, "rocketmq_consumer_offset", "group", "MetG", "topic", "MetT", NULL), 1);
    /* what the broker itself reports (mqadmin brokerStatus's figures) */
    cr_assert_eq(value_of(&p, "rocketmq_brokeruntime_msg_put_total_today_now", "broker", "broker-r", NULL),
                 (double)runtime_i64(&f, "msgPutTotalTodayNow"));
    cr_assert_eq(value_of(&p, "rocketmq_brokeruntime_commitlog_maxoffset", "broker", "broker-r", NULL),
                 (double)runtime_i64(&f, "commitLogMaxOffset"));
    cr_assert(!isnan(value_of(&p, "rocklet_broker_role", "role", "ASYNC_MASTER", NULL)));
    cr_assert_eq(value_of(&p, "rocklet_console_scrape_complete", NULL), 1);
    free(p.s);
    free(text);
    /* a second scrape has rates (a first look has none) */
    cf_send(&f, "MetT", NULL, "m", NULL, &r);
    usleep(600000);
    text = scrape(f.port, NULL, 200);
    p = parse_strict(text);
    cr_assert(value_of(&p, "rocketmq_producer_tps", "topic", "MetT", NULL) > 0, "one more message: %s", text);
    free(p.s);
    free(text);
    cf_stop(&f);
}

Test(metrics, cached_and_bounded)
{
    cfix_t f;
    cf_start(&f, NULL, "metricsCacheMs=600000\nbrokerTimeoutMs=500\n");
    rk_rc_create_topic(&f.cl, "CacheT", 1);
    char *a = scrape(f.port, NULL, 200);
    rk_send_result_t r;
    cf_send(&f, "CacheT", NULL, "m", NULL, &r);
    char *b = scrape(f.port, NULL, 200);
    cr_assert_str_eq(a, b, "a scrape within metricsCacheMs reuses the figures");
    free(a);
    free(b);
    /* a console that does not cache, while the broker is down: answered, broker_up 0 */
    int port;
    pid_t pid = cf_console(&f, "nocache", "metricsCacheMs=0\nbrokerTimeoutMs=500\n", &port);
    cr_assert_eq(rk_tk_kill(f.cl.br_pid, SIGSTOP), 0);    /* a hung broker: it never answers */
    char *text = scrape(port, NULL, 200);
    rk_tk_kill(f.cl.br_pid, SIGCONT);
    parsed_t p = parse_strict(text);
    cr_assert_eq(value_of(&p, "rocklet_broker_up", NULL), 0, "a hung broker is down: %s", text);
    cr_assert_eq(value_of(&p, "rocklet_console_scrape_complete", NULL), 0);
    cr_assert(value_of(&p, "rocklet_console_scrape_duration_seconds", NULL) < 5, "the scrape is bounded");
    free(p.s);
    free(text);
    rk_tk_stop(pid, 5000);
    cf_error(f.port, "POST", "/metrics", NULL, "{}", 405, NULL);
    cf_stop(&f);
}

/* A broker that knows only RocketMQ's requests: a remoting server registered with the name
 * server as broker-p that forwards what a scrape asks (runtime info, topic config, topic stats,
 * consumer offsets) to the real broker and answers anything else, GET_ALL_TOPIC_STATS among them,
 * REQUEST_CODE_NOT_SUPPORTED. */
typedef struct proxy {
    const char *target;
} proxy_t;

static void forward(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    proxy_t *px = ctx;
    rk_cmd_t *fw = rk_cmd_new(req->code), *resp = NULL;
    const char *topic = rk_cmd_ext_get(req, "topic");
    if (topic != NULL)
        rk_cmd_ext_set(fw, "topic", topic);
    rk_rclient_t *rc = NULL;
    if (rk_rclient_new(&rc) != 0 || rk_rclient_invoke_sync(rc, px->target, fw, 10000, &resp) != 0) {
        rk_rclient_free(rc);
        rk_reply_code(reply, RK_RESP_SYSTEM_ERROR, "proxy: no answer");
        return;
    }
    rk_rclient_free(rc);
    rk_cmd_t *out = rk_cmd_new_response(req, resp->code, resp->remark);
    if (resp->body_len > 0) {
        uint8_t *copy = malloc(resp->body_len);
        memcpy(copy, resp->body, resp->body_len);
        rk_cmd_own_body(out, copy, resp->body_len);
    }
    rk_cmd_free(resp);
    rk_reply_send(reply, out);
}

static char *proxy_register_body(void *ctx)
{
    (void)ctx;
    return strdup("{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":1,"
                  "\"timestamp\":1},\"topicConfigTable\":{}}}");
}

Test(metrics, a_broker_without_all_topic_stats_is_asked_topic_by_topic)
{
    cfix_t f;
    cf_start(&f, NULL, "metricsCacheMs=0\n");
    rk_rc_create_topic(&f.cl, "MetP", 2);
    rk_send_result_t r;
    for (int i = 0; i < 4; i++)
        cf_send(&f, "MetP", NULL, "m", NULL, &r);
    cf_commit_offset(&f, "MetPG", "MetP", 0, 1);
    proxy_t px = {f.cl.br};
    rk_rserver_config_t sc = {.host = "127.0.0.1", .name = "proxy"};
    rk_rserver_t *srv;
    cr_assert_eq(rk_rserver_new(&sc, &srv), 0);
    static const int codes[] = {RK_REQ_GET_BROKER_RUNTIME_INFO, RK_REQ_GET_ALL_TOPIC_CONFIG,
                                RK_REQ_GET_TOPIC_STATS_INFO, 43 /* GET_ALL_CONSUMER_OFFSET */};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        cr_assert_eq(rk_rserver_register(srv, codes[i], forward, &px, RK_PROC_SLOW), 0);
    char err[256];
    cr_assert_eq(rk_rserver_start(srv, err, sizeof err), 0, "%s", err);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", rk_rserver_port(srv));
    rk_brokerreg_config_t rcfg = {.namesrv_addrs = f.cl.ns, .cluster_name = "ProxyCl", .broker_name = "broker-p",
                                  .broker_addr = addr, .broker_id = 0, .period_ms = 1000};
    rk_brokerreg_t *reg;
    cr_assert_eq(rk_brokerreg_start(&rcfg, proxy_register_body, NULL, &reg), 0);
    char *text = NULL;
    parsed_t p = {0};
    for (int i = 0; i < 200; i++) {     /* until both see all four messages */
        text = scrape(f.port, NULL, 200);
        p = parse_strict(text);
        if (value_of(&p, "rocketmq_producer_offset", "broker", "broker-p", "topic", "MetP", NULL) == 4 &&
            value_of(&p, "rocketmq_producer_offset", "broker", "broker-r", "topic", "MetP", NULL) == 4)
            break;
        free(p.s);
        free(text);
        text = NULL;
        usleep(50000);
    }
    cr_assert_not_null(text, "the scrapes never showed MetP's 4 messages through both brokers");
    /* the same figures through GET_ALL_TOPIC_STATS (broker-r) and topic by topic (broker-p) */
    static const char *const fams[] = {"rocketmq_producer_offset", "rocklet_topic_messages"};
    for (size_t i = 0; i < 2; i++)
        for (int k = 0; k < p.n; k++) {
            const series_t *se = &p.s[k];
            const char *topic = NULL;
            bool real = false;
            for (int j = 0; j < se->nlabels; j++) {
                if (strcmp(se->lname[j], "topic") == 0)
                    topic = se->lvalue[j];
                if (strcmp(se->lname[j], "broker") == 0 && strcmp(se->lvalue[j], "broker-r") == 0)
                    real = true;
            }
            if (!real || topic == NULL || strcmp(se->name, fams[i]) != 0)
                continue;
            double via = value_of(&p, fams[i], "broker", "broker-p", "topic", topic, NULL);
            cr_assert_eq(via, se->value, "%s{topic=%s}: %g through GET_ALL_TOPIC_STATS, %g topic by topic", fams[i],
                         topic, se->value, via);
        }
    cr_assert_eq(value_of(&p, "rocketmq_group_diff", "broker", "broker-p", "group", "MetPG", "topic", "MetP", NULL),
                 value_of(&p, "rocketmq_group_diff", "broker", "broker-r", "group", "MetPG", "topic", "MetP", NULL));
    cr_assert_eq(value_of(&p, "rocklet_console_scrape_complete", NULL), 1, "%s", text);
    free(p.s);
    free(text);
    rk_brokerreg_stop(reg);
    rk_rserver_free(srv);
    cf_stop(&f);
}
