/* test_web.c — the browser tests: Debian's chromium, headless, driven by playwright-core
 * (ch12-console/web/tests/browser.js, one step per node run) against a real name server,
 * broker and mqconsole serving the built front end (web/dist). This file puts the cluster in
 * the state each step expects and checks through the API what a click changed.
 *
 * Needs node, /usr/bin/chromium and `make ch12` having run npm ci and vite build; without
 * them the test is skipped, saying which is missing. Screenshots go to build/ch12/screenshots/. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfix.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/json.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

#define WEB_DIR RK_SRC_ROOT "/ch12-console/web"
#define SHOTS RK_BIN_DIR "/../screenshots"

static const char *chromium_path(void)
{
    const char *p = getenv("RK_CHROMIUM");
    return p && *p ? p : "/usr/bin/chromium";
}

/* node's path from $PATH (the testkit starts programs by path), in out. */
static bool find_node(char *out, size_t len)
{
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t n = strcspn(path, ":");
        snprintf(out, len, "%.*s/node", (int)n, path);
        if (n > 0 && access(out, X_OK) == 0)
            return true;
        path += n + (path[n] == ':');
    }
    return false;
}

/* Skips (visibly) when a prerequisite is missing. */
static void need_browser(char *node, size_t len)
{
    if (!find_node(node, len))
        cr_skip_test("node is not installed: browser tests skipped");
    if (access(chromium_path(), X_OK) != 0)
        cr_skip_test("%s is missing (apt-get install chromium): browser tests skipped", chromium_path());
    if (access(WEB_DIR "/node_modules/playwright-core/package.json", R_OK) != 0 ||
        access(WEB_DIR "/dist/index.html", R_OK) != 0)
        cr_skip_test("the front end is not built (make ch12 with node/npm): browser tests skipped");
}

/* Runs one step of browser.js; asserts it passed, showing its output when not. Stopped by PID
 * (SIGTERM, then SIGKILL) if it runs past 90 s. */
static void step_on(cfix_t *f, int console_port, const char *node, const char *name, const char *a1, const char *a2,
                    const char *a3)
{
    char port[16], log[512];
    snprintf(port, sizeof port, "%d", console_port);
    snprintf(log, sizeof log, "%s/browser-%s.log", f->cl.dir, name);
    char *argv[] = {(char *)node, WEB_DIR "/tests/browser.js", port, SHOTS, (char *)name,
                    (char *)a1, (char *)a2, (char *)a3, NULL};
    pid_t pid = rk_tk_spawn(argv, log);
    cr_assert(pid > 0, "cannot start node");
    int st = rk_tk_wait(pid, 90000);
    if (st == -ETIMEDOUT)
        st = rk_tk_stop(pid, 5000);
    if (st != 0) {
        char *text = NULL;
        size_t len = 0;
        rk_file_read_all(log, &text, &len);
        cr_assert_fail("browser step %s %s: status %d:\n%s", name, a1 ? a1 : "", st, text ? text : "(no output)");
    }
}

static void step(cfix_t *f, const char *node, const char *name, const char *a1, const char *a2, const char *a3)
{
    step_on(f, f->port, node, name, a1, a2, a3);
}

/* Messages the broker keeps for a topic (GET /api/topics/{t}/status, t percent-encoded);
 * 0 while the topic does not exist. */
static double topic_messages(cfix_t *f, const char *topic)
{
    char target[256];
    snprintf(target, sizeof target, "/api/topics/%s/status", topic);
    ck_resp_t r;
    cr_assert_eq(ck_http(f->port, "GET", target, NULL, NULL, &r), 0);
    double n = 0;
    if (r.status == 200) {
        cJSON *j = rk_json_parse(r.body, r.len);
        n = cf_num(j, "messages");
        cJSON_Delete(j);
    } else {
        cr_assert_eq(r.status, 404, "%s: %d %s", target, r.status, r.body);
    }
    ck_resp_free(&r);
    return n;
}

/* Traffic while the dashboard is open, so its live TPS chart has something to draw: a
 * producer sending to WebTpsT and group WebDashG committing behind it, until stop is set. */
typedef struct traffic {
    cfix_t *f;
    atomic_bool stop;
    int sent;
    int failed;
} traffic_t;

static void *traffic_main(void *arg)
{
    traffic_t *t = arg;
    rk_producer_config_t cfg = {.namesrv = t->f->cl.ns, .group = "web_traffic", .instance_name = "webtraffic"};
    rk_producer_t *p;
    if (rk_producer_new(&cfg, &p) != RK_OK) {
        t->failed++;
        return NULL;
    }
    while (!atomic_load(&t->stop)) {
        rk_message_t m = {.topic = "WebTpsT", .body = "tick", .body_len = 4};
        rk_send_result_t r;
        if (rk_producer_send(p, &m, &r) == RK_OK)
            t->sent++;
        else
            t->failed++;
        if (t->sent % 4 == 0 && t->sent > 2) {    /* the group consumes, a little behind */
            rk_cmd_t *req = rk_cmd_new(RK_REQ_UPDATE_CONSUMER_OFFSET);
            rk_cmd_ext_set(req, "consumerGroup", "WebDashG");
            rk_cmd_ext_set(req, "topic", "WebTpsT");
            rk_cmd_ext_set_i64(req, "queueId", 0);
            rk_cmd_ext_set_i64(req, "commitOffset", t->sent - 2);
            rk_cmd_free(rk_rc_call(t->f->cl.br, req));
        }
        usleep(20000);
    }
    rk_producer_free(p);
    return NULL;
}

Test(browser, pages_topics_lag_and_dlq, .timeout = 300)
{
    char node[4096];
    need_browser(node, sizeof node);
    cfix_t f;
    cf_start(&f, NULL, NULL);

    /* every page loads with no console error (and in 中文) */
    rk_rc_create_topic(&f.cl, "WebT", 2);
    rk_send_result_t r;
    for (int i = 0; i < 3; i++)
        cf_send(&f, "WebT", "web-key", "hello from the browser test", NULL, &r);
    rk_rc_create_topic(&f.cl, "WebTpsT", 1);
    traffic_t tr = {.f = &f};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, traffic_main, &tr), 0);
    step(&f, node, "pages", NULL, NULL, NULL);
    atomic_store(&tr.stop, true);
    pthread_join(th, NULL);
    cr_assert(tr.sent > 0 && tr.failed == 0, "traffic: %d sent, %d failed", tr.sent, tr.failed);

    /* a search by key finds a message, and its detail shows the body */
    step(&f, node, "message", "WebT", "web-key", "hello from the browser test");

    /* a topic created through the API shows in the list */
    cJSON_Delete(cf_call(f.port, "POST", "/api/topics", NULL,
                         "{\"topic\":\"WebCreatedT\",\"readQueueNums\":4,\"writeQueueNums\":4}", 200));
    step(&f, node, "topic", "WebCreatedT", NULL, NULL);

    /* a group that fell behind shows its lag; it drops once the group consumes */
    rk_rc_create_topic(&f.cl, "WebLagT", 1);
    for (int i = 0; i < 5; i++)
        cf_send(&f, "WebLagT", NULL, "x", NULL, &r);
    cf_commit_offset(&f, "WebLagG", "WebLagT", 0, 1);
    step(&f, node, "lag", "WebLagG", "4", NULL);
    cf_commit_offset(&f, "WebLagG", "WebLagT", 0, 5);
    step(&f, node, "lag", "WebLagG", "0", NULL);

    /* a dead letter resent from the DLQ page goes back to its group (a copy in %RETRY%WebDlqG) */
    rk_rc_create_topic(&f.cl, "WebDlqT", 1);
    rk_send_result_t dead;
    cf_send(&f, "WebDlqT", "dk", "dead letter", NULL, &dead);
    cf_send_back(&f, "WebDlqG", &dead, -1);
    const char *retry = "%25RETRY%25WebDlqG";
    cr_assert_eq(topic_messages(&f, retry), 0);
    step(&f, node, "dlq", "WebDlqG", NULL, NULL);
    double n = 0;
    for (int i = 0; i < 200 && n < 1; i++) {
        n = topic_messages(&f, retry);
        if (n < 1)
            usleep(50000);
    }
    cr_assert_eq(n, 1, "the message resent from the page is in %%RETRY%%WebDlqG");

    /* a console with a login shows the login page first, the pages after logging in */
    int lport;
    pid_t lpid = cf_console(&f, "console-login", "consoleUser=admin\nconsolePassword=s3cret\n", &lport);
    step_on(&f, lport, node, "login", "admin", "s3cret", NULL);
    rk_tk_stop(lpid, 10000);

    cf_stop(&f);
}
