/* localconf.c — see rk/localconf.h. */
#include "rk/localconf.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/json.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"
#include "rk/tk_send.h"

/* The ports of the shipped configuration and the free ones used instead. */
typedef struct portmap {
    int from[64], to[64];
    int n;
} portmap_t;

static int map_port(portmap_t *m, int from)
{
    for (int i = 0; i < m->n; i++)
        if (m->from[i] == from)
            return m->to[i];
    if (m->n == 64)
        return -1;
    /* a port free a moment ago, and not one handed out already: nothing is bound until the
     * processes start, so the same free port can come up twice (a broker's listen and election
     * ports once got the same number) */
    int to = -1;
    for (int tries = 0; tries < 100 && to < 0; tries++) {
        to = rk_tk_free_port();
        for (int i = 0; i < m->n && to > 0; i++)
            if (m->to[i] == to)
                to = -1;
    }
    if (to <= 0)
        return -1;
    m->from[m->n] = from;
    m->to[m->n] = to;
    return m->to[m->n++];
}

/* Every ":digits" of a host:port list (namesrvAddr, dLegerPeers) mapped. */
static int map_list(portmap_t *m, const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    for (const char *s = in; *s;) {
        if (o + 16 >= outlen)
            return RK_ETOOBIG;
        if (*s == ':' && s[1] >= '0' && s[1] <= '9') {
            char *end;
            long p = strtol(s + 1, &end, 10);
            int to = p > 0 && p < 65536 ? map_port(m, (int)p) : -1;
            if (to < 0)
                return RK_EINVAL;
            o += (size_t)snprintf(out + o, outlen - o, ":%d", to);
            s = end;
        } else {
            out[o++] = *s++;
        }
    }
    out[o] = '\0';
    return RK_OK;
}

static int write_conf(portmap_t *m, rk_lc_proc_t *p, const char *src, const char *extra)
{
    FILE *in = fopen(src, "r");
    if (in == NULL)
        return -errno;
    FILE *out = fopen(p->conf, "w");
    if (out == NULL) {
        int e = -errno;
        fclose(in);
        return e;
    }
    char line[2048], val[2048];
    int rc = RK_OK;
    while (rc == RK_OK && fgets(line, sizeof line, in) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (line[0] == '#' || eq == NULL) {
            fprintf(out, "%s\n", line);
            continue;
        }
        *eq = '\0';
        const char *k = line, *v = eq + 1;
        if (strcmp(k, "listenPort") == 0 || strcmp(k, "haListenPort") == 0) {
            int port = map_port(m, atoi(v));
            if (port < 0)
                rc = RK_EINVAL;
            if (strcmp(k, "listenPort") == 0)
                p->port = port;
            fprintf(out, "%s=%d\n", k, port);
        } else if (strcmp(k, "namesrvAddr") == 0 || strcmp(k, "dLegerPeers") == 0) {
            rc = map_list(m, v, val, sizeof val);
            fprintf(out, "%s=%s\n", k, val);
        } else if (strcmp(k, "storePathRootDir") == 0) {
            fprintf(out, "%s=%s/store\n", k, p->home);
        } else if (strcmp(k, "kvConfigPath") == 0) {
            fprintf(out, "%s=%s/kvConfig.json\n", k, p->home);
        } else {
            if (strcmp(k, "brokerName") == 0)
                snprintf(p->group, sizeof p->group, "%s", v);
            fprintf(out, "%s=%s\n", k, v);
        }
    }
    if (p->broker && extra != NULL)
        fprintf(out, "%s\n", extra);
    fclose(in);
    if (fclose(out) != 0 && rc == RK_OK)
        rc = -errno;
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int rk_lc_write(const char *src_dir, const char *dst_dir, const char *broker_extra, rk_lc_proc_t *procs, int max,
                char *ns, int nslen, char *err, int errlen)
{
    DIR *d = opendir(src_dir);
    if (d == NULL) {
        int e = -errno;
        snprintf(err, (size_t)errlen, "cannot open %s: %s", src_dir, strerror(-e));
        return e;
    }
    char *names[RK_LC_MAX];
    int n = 0, rc = RK_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || len > 60 || strcmp(e->d_name + len - 5, ".conf") != 0)
            continue;
        if (strncmp(e->d_name, "namesrv-", 8) != 0 && strncmp(e->d_name, "broker-", 7) != 0)
            continue;
        if (n == RK_LC_MAX || n == max || (names[n] = strdup(e->d_name)) == NULL) {
            rc = RK_ETOOBIG;
            break;
        }
        n++;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);
    portmap_t m = {.n = 0};
    int w = 0;
    ns[0] = '\0';
    for (int pass = 0; pass < 2 && rc == RK_OK; pass++)      /* name servers first */
        for (int i = 0; i < n && rc == RK_OK; i++) {
            bool is_ns = strncmp(names[i], "namesrv-", 8) == 0;
            if (is_ns != (pass == 0))
                continue;
            rk_lc_proc_t *p = &procs[w++];
            memset(p, 0, sizeof *p);
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(strlen(names[i]) - 5), names[i]);
            memcpy(p->name, name, sizeof name);
            snprintf(p->home, sizeof p->home, "%s/%s", dst_dir, name);
            snprintf(p->conf, sizeof p->conf, "%s/%s/%s.conf", dst_dir, name, name);
            p->broker = !is_ns;
            if (mkdir(p->home, 0755) != 0 && errno != EEXIST) {
                rc = -errno;
                snprintf(err, (size_t)errlen, "mkdir %s: %s", p->home, strerror(errno));
                break;
            }
            char src[600];
            snprintf(src, sizeof src, "%s/%s", src_dir, names[i]);
            if ((rc = write_conf(&m, p, src, broker_extra)) != RK_OK) {
                snprintf(err, (size_t)errlen, "%s: %s", src, rk_strerror(rc));
                break;
            }
            if (is_ns) {
                size_t l = strlen(ns);
                snprintf(ns + l, (size_t)nslen - l, "%s127.0.0.1:%d", l ? ";" : "", p->port);
            }
        }
    for (int i = 0; i < n; i++)
        free(names[i]);
    return rc == RK_OK ? w : rc;
}

/* One request to addr on a client of its own; the response or NULL. */
static rk_cmd_t *ask(const char *addr, rk_cmd_t *req, int timeout_ms, int *rc)
{
    rk_rclient_t *cl;
    rk_cmd_t *resp = NULL;
    if ((*rc = rk_rclient_new(&cl)) != RK_OK) {
        rk_cmd_free(req);
        return NULL;
    }
    *rc = rk_rclient_invoke_sync(cl, addr, req, timeout_ms, &resp);
    rk_rclient_free(cl);
    return *rc == RK_OK ? resp : NULL;
}

int rk_lc_runtime(const char *addr, const char *key, char *out, int outlen, int timeout_ms)
{
    int rc;
    out[0] = '\0';
    rk_cmd_t *resp = ask(addr, rk_cmd_new(RK_REQ_GET_BROKER_RUNTIME_INFO), timeout_ms, &rc);
    if (resp == NULL)
        return rc;
    cJSON *root = resp->code == 0 ? rk_json_parse((const char *)resp->body, resp->body_len) : NULL;
    const char *v = rk_json_get_str(cJSON_GetObjectItemCaseSensitive(root, "table"), key);
    rc = v != NULL ? RK_OK : RK_ENOTFOUND;
    if (v != NULL)
        snprintf(out, (size_t)outlen, "%s", v);
    cJSON_Delete(root);
    rk_cmd_free(resp);
    return rc;
}

int rk_lc_registered_master(const char *ns, const char *group)
{
    char list[512];
    snprintf(list, sizeof list, "%s", ns);
    char *save = NULL;
    for (char *addr = strtok_r(list, ";", &save); addr != NULL; addr = strtok_r(NULL, ";", &save)) {
        int rc;
        rk_cmd_t *resp = ask(addr, rk_cmd_new(RK_REQ_GET_BROKER_CLUSTER_INFO), 3000, &rc);
        if (resp == NULL)
            continue;
        cJSON *root = resp->code == 0 ? rk_json_parse((const char *)resp->body, resp->body_len) : NULL;
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "brokerAddrTable"), group);
        const char *m = rk_json_get_str(cJSON_GetObjectItemCaseSensitive(g, "brokerAddrs"), "0");
        const char *colon = m != NULL ? strrchr(m, ':') : NULL;
        int port = colon != NULL ? atoi(colon + 1) : -1;
        cJSON_Delete(root);
        rk_cmd_free(resp);
        if (root != NULL)
            return port > 0 ? port : -1;
    }
    return -1;
}

int rk_lc_send(const char *addr, const char *topic, const void *body, int len, int timeout_ms)
{
    rk_cmd_t *req = rk_tk_send_request(&(rk_tk_send_spec_t){.group = "LocalConfProducer", .topic = topic,
                                                             .body = len > 0 ? body : NULL, .len = (size_t)len});
    if (req == NULL)
        return RK_ENOMEM;
    int rc;
    rk_cmd_t *resp = ask(addr, req, timeout_ms, &rc);
    if (resp == NULL)
        return rc < 0 ? rc : RK_EPROTO;
    int code = resp->code;
    rk_cmd_free(resp);
    return code;
}
