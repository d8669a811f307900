/* test_auth.c — the console's optional login (session cookie, HTTP Basic for scripts and
 * Prometheus, failed logins rate-limited), read-only mode, and the bounds on what a client can
 * make it hold; the web page when the front end is (not) built. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include "cfix.h"
#include "rk/json.h"
#include "rk/testkit.h"

#define LOGIN "consoleUser=admin\nconsolePassword=s3cret\n"

/* The session cookie's "name=value" from a login answer. */
static void login(int port, char *cookie, size_t len)
{
    ck_resp_t r;
    cr_assert_eq(ck_http(port, "POST", "/api/login", NULL, "{\"username\":\"admin\",\"password\":\"s3cret\"}", &r), 0);
    cr_assert_eq(r.status, 200, "login: %s", r.body);
    char sc[512];
    cr_assert_not_null(ck_header(&r, "set-cookie", sc, sizeof sc));
    cr_assert(strstr(sc, "HttpOnly") && strstr(sc, "SameSite=Strict"), "cookie flags: %s", sc);
    size_t n = strcspn(sc, ";");
    snprintf(cookie, len, "Cookie: %.*s\r\n", (int)n, sc);
    ck_resp_free(&r);
}

Test(auth, login_session_logout)
{
    cfix_t f;
    cf_start(&f, NULL, LOGIN);
    cf_error(f.port, "GET", "/api/cluster", NULL, NULL, 401, "log in");
    cf_error(f.port, "GET", "/metrics", NULL, NULL, 401, NULL);
    cJSON *j = cf_get(&f, "/api/session", 200);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "loginRequired")));
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "loggedIn")));
    cJSON_Delete(j);
    cf_error(f.port, "POST", "/api/login", NULL, "{\"username\":\"admin\",\"password\":\"wrong\"}", 401, "wrong");
    cf_error(f.port, "POST", "/api/login", NULL, "{\"username\":\"admin\",\"password\":\"s3cret!\"}", 401, NULL);
    cf_error(f.port, "POST", "/api/login", NULL, "{\"username\":\"admin\"}", 400, "password");
    ck_resp_t fr;       /* a form post (what another site could make a browser send) */
    cr_assert_eq(ck_http(f.port, "POST", "/api/login", "Content-Type: text/plain\r\n",
                         "{\"username\":\"admin\",\"password\":\"s3cret\"}", &fr), 0);
    cr_assert_eq(fr.status, 415, "%d %s", fr.status, fr.body);
    char wa[64];
    ck_resp_free(&fr);
    cr_assert_eq(ck_http(f.port, "GET", "/api/cluster", NULL, NULL, &fr), 0);
    cr_assert_null(ck_header(&fr, "www-authenticate", wa, sizeof wa), "no Basic prompt for browsers");
    ck_resp_free(&fr);
    cf_error(f.port, "GET", "/api/login", NULL, NULL, 405, NULL);
    char cookie[512];
    login(f.port, cookie, sizeof cookie);
    j = cf_call(f.port, "GET", "/api/cluster", cookie, NULL, 200);
    cJSON_Delete(j);
    j = cf_call(f.port, "GET", "/api/session", cookie, NULL, 200);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "loggedIn")));
    cJSON_Delete(j);
    /* a forged or altered cookie is no session */
    char forged[512];
    snprintf(forged, sizeof forged, "%s", cookie);
    char *v = strchr(forged, '=') + 1;
    *v = *v == 'a' ? 'b' : 'a';
    cf_error(f.port, "GET", "/api/cluster", forged, NULL, 401, NULL);
    cf_error(f.port, "GET", "/api/cluster", "Cookie: rksession=\r\n", NULL, 401, NULL);
    /* HTTP Basic, for Prometheus and scripts */
    ck_resp_t r;
    cr_assert_eq(ck_http(f.port, "GET", "/metrics", "Authorization: Basic YWRtaW46czNjcmV0\r\n", NULL, &r), 0);
    cr_assert_eq(r.status, 200, "basic auth: %s", r.body);
    ck_resp_free(&r);
    cf_error(f.port, "GET", "/metrics", "Authorization: Basic YWRtaW46bm9wZQ==\r\n", NULL, 401, NULL);
    /* logged out: the cookie no longer works */
    j = cf_call(f.port, "POST", "/api/logout", cookie, NULL, 200);
    cJSON_Delete(j);
    cf_error(f.port, "GET", "/api/cluster", cookie, NULL, 401, NULL);
    cf_stop(&f);
}

Test(auth, failed_logins_are_rate_limited)
{
    cfix_t f;
    cf_start(&f, NULL, LOGIN);
    for (int i = 0; i < 5; i++)
        cf_error(f.port, "POST", "/api/login", NULL, "{\"username\":\"admin\",\"password\":\"guess\"}", 401, NULL);
    /* locked out for a while, even with the right password */
    cf_error(f.port, "POST", "/api/login", NULL, "{\"username\":\"admin\",\"password\":\"s3cret\"}", 429, "try again");
    cf_error(f.port, "GET", "/api/cluster", "Authorization: Basic YWRtaW46czNjcmV0\r\n", NULL, 429, NULL);
    cf_stop(&f);
}

Test(auth, read_only_refuses_changes)
{
    cfix_t f;
    cf_start(&f, NULL, "readOnly=true\n");
    cf_error(f.port, "POST", "/api/topics", NULL, "{\"topic\":\"RoT\"}", 403, "read-only");
    cf_error(f.port, "DELETE", "/api/topics/TBW102", NULL, NULL, 403, "read-only");
    cf_error(f.port, "POST", "/api/dlq/G/resend", NULL, "{\"all\":true}", 403, "read-only");
    cf_error(f.port, "POST", "/api/groups/G/reset-offset", NULL, "{\"topic\":\"T\",\"timestamp\":0}", 403, NULL);
    cJSON *j = cf_get(&f, "/api/session", 200);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "readOnly")));
    cJSON_Delete(j);
    j = cf_get(&f, "/api/cluster", 200);
    cJSON_Delete(j);
    cr_assert(!rk_rc_routed(&f.cl, "RoT"), "nothing was created");
    cf_stop(&f);
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* True when the server closed fd (read returns 0 or an error within 5 s). */
static bool closed_by_server(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 5000) != 1)
        return false;
    char c;
    return recv(fd, &c, 1, 0) <= 0;
}

Test(limits, bodies_targets_connections)
{
    cfix_t f;
    cf_start(&f, NULL, "maxConnections=3\nmaxRequestBodyBytes=1024\n");
    /* a body over maxRequestBodyBytes: 413 */
    char *big = malloc(4096);
    memset(big, ' ', 4095);
    big[0] = '{';
    big[4094] = '}';
    big[4095] = 0;
    ck_resp_t r;
    cr_assert_eq(ck_http(f.port, "POST", "/api/topics", NULL, big, &r), 0);
    cr_assert_eq(r.status, 413, "%d %s", r.status, r.body);
    ck_resp_free(&r);
    free(big);
    /* a huge target: 414; too many parameters or segments */
    char *path = malloc(9000);
    snprintf(path, 9000, "/api/topics?q=");
    memset(path + 14, 'a', 8000);
    path[8014] = 0;
    cr_assert_eq(ck_http(f.port, "GET", path, NULL, NULL, &r), 0);
    cr_assert(r.status == 414 || r.status == 400, "huge target: %d", r.status);
    ck_resp_free(&r);
    free(path);
    cf_error(f.port, "GET", "/api/topics?a=1&b=1&c=1&d=1&e=1&f=1&g=1&h=1&i=1&j=1&k=1&l=1&m=1&n=1&o=1&p=1&q=1", NULL,
             NULL, 400, "parameters");
    cf_error(f.port, "GET", "/api/a/b/c/d/e/f/g/h/i/j", NULL, NULL, 404, "segments");
    /* maxConnections: past it, a new connection is closed at once; a freed slot is usable again */
    /* three connections, each proven open by an answer on it (keep-alive) */
    ck_conn_t conns[3];
    for (int i = 0; i < 3; i++) {
        ck_conn_init(&conns[i], f.port);
        bool ok = false;
        for (int k = 0; k < 50 && !ok; k++) {
            ok = ck_request(&conns[i], "GET", "/api/session", NULL, NULL, &r) == 0 && r.status == 200;
            ck_resp_free(&r);
            if (!ok)
                usleep(100000);     /* an earlier connection not yet seen closed */
        }
        cr_assert(ok, "connection %d serves", i);
    }
    int extra = dial(f.port);
    cr_assert(closed_by_server(extra), "a fourth connection is closed");
    close(extra);
    ck_conn_close(&conns[0]);
    cJSON *j = NULL;
    for (int i = 0; i < 50 && j == NULL; i++) {
        if (ck_http(f.port, "GET", "/api/session", NULL, NULL, &r) == 0 && r.status == 200)
            j = rk_json_parse(r.body, r.len);
        ck_resp_free(&r);
        if (j == NULL)
            usleep(100000);
    }
    cr_assert_not_null(j, "a freed slot serves again");
    cJSON_Delete(j);
    ck_conn_close(&conns[1]);
    ck_conn_close(&conns[2]);
    cf_stop(&f);
}

Test(web, not_built_page_and_built_front_end)
{
    cfix_t f;
    /* a webDir without index.html: not built (the default would find ch12-console/web/dist
     * once the front end is built in this tree) */
    cf_start(&f, NULL, "webDir=/nonexistent/dist\n");
    ck_resp_t r;
    cr_assert_eq(ck_http(f.port, "GET", "/", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "has not been built") && strstr(r.body, "make ch12"), "%s", r.body);
    ck_resp_free(&r);
    cf_error(f.port, "GET", "/assets/app.js", NULL, NULL, 404, "not built");
    /* a built front end is served from webDir */
    char dir[400], file[500];
    snprintf(dir, sizeof dir, "%s/dist", f.cl.dir);
    snprintf(file, sizeof file, "%s/index.html", dir);
    cr_assert_eq(mkdir(dir, 0755), 0);
    FILE *fp = fopen(file, "w");
    fputs("<html>the console app</html>\n", fp);
    fclose(fp);
    char conf[500];
    snprintf(conf, sizeof conf, "webDir=%s\n", dir);
    int port;
    pid_t pid = cf_console(&f, "web", conf, &port);
    cr_assert_eq(ck_http(port, "GET", "/", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "the console app") != NULL, "%s", r.body);
    ck_resp_free(&r);
    cJSON *j = cf_call(port, "GET", "/api/cluster", NULL, NULL, 200);
    cJSON_Delete(j);
    rk_tk_stop(pid, 5000);
    cf_stop(&f);
}

/* SIGTERM: the request in progress is answered, an idle keep-alive connection closes at h2o's
 * idle timeout, and mqconsole exits 0 (under SAN=1 also: nothing leaked). */
Test(lifecycle, sigterm_exits_cleanly)
{
    cfix_t f;
    cf_start(&f, NULL, NULL);
    ck_conn_t idle;
    ck_conn_init(&idle, f.port);
    ck_resp_t r;
    cr_assert_eq(ck_request(&idle, "GET", "/api/session", NULL, NULL, &r), 0);
    ck_resp_free(&r);
    int fd = dial(f.port);
    const char *req = "GET /api/cluster HTTP/1.1\r\nHost: x\r\n\r\n";
    cr_assert_eq(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
    usleep(100000);
    cr_assert_eq(rk_tk_kill(f.cs_pid, SIGTERM), 0);
    char buf[64] = "";
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 10000), 1);
    cr_assert(recv(fd, buf, sizeof buf - 1, 0) > 0 && strncmp(buf, "HTTP/1.1 200", 12) == 0, "answered: %s", buf);
    close(fd);
    int st = rk_tk_wait(f.cs_pid, 15000);
    f.cs_pid = -1;
    cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "mqconsole exited with status %d", st);
    ck_conn_close(&idle);
    cf_stop(&f);
}

/* SIGTERM with no connection open: h2o's shutdown request leaves its graceful-shutdown timer
 * pending, and disposing of the context under it aborted (seen by the README's walk-through). */
Test(lifecycle, sigterm_with_no_connection)
{
    cfix_t f;
    cf_start(&f, NULL, NULL);
    cr_assert_eq(rk_tk_kill(f.cs_pid, SIGTERM), 0);
    int st = rk_tk_wait(f.cs_pid, 15000);
    f.cs_pid = -1;
    cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "mqconsole exited with status %d", st);
    cf_stop(&f);
}
