/* fcluster.c — see fcluster.h. */
#include "fcluster.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rk/testkit.h"

#define CONF_DIR RK_SRC_ROOT "/final/conf/local"
#define BIN RK_BIN_DIR "/../../bin"

/* The ports of the shipped configuration and the free ones the test uses instead. */
typedef struct portmap {
    int from[64], to[64];
    int n;
} portmap_t;

static int map_port(portmap_t *m, int from)
{
    for (int i = 0; i < m->n; i++)
        if (m->from[i] == from)
            return m->to[i];
    cr_assert(m->n < 64, "too many ports in " CONF_DIR);
    m->from[m->n] = from;
    m->to[m->n] = rk_tk_free_port();
    cr_assert(m->to[m->n] > 0);
    return m->to[m->n++];
}

/* Every ":digits" in a list of host:port (namesrvAddr, dLegerPeers) mapped. */
static void map_list(portmap_t *m, const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    for (const char *s = in; *s && o + 8 < outlen;) {
        if (*s == ':' && s[1] >= '0' && s[1] <= '9') {
            char *end;
            long p = strtol(s + 1, &end, 10);
            o += (size_t)snprintf(out + o, outlen - o, ":%d", map_port(m, (int)p));
            s = end;
        } else {
            out[o++] = *s++;
        }
    }
    out[o] = '\0';
}

static void write_conf(portmap_t *m, fc_proc_t *p, const char *src, const char *extra)
{
    FILE *in = fopen(src, "r");
    cr_assert(in != NULL, "cannot read %s", src);
    FILE *out = fopen(p->conf, "w");
    cr_assert(out != NULL);
    char line[2048], val[2048];
    while (fgets(line, sizeof line, in) != NULL) {
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
            if (strcmp(k, "listenPort") == 0)
                p->port = port;
            fprintf(out, "%s=%d\n", k, port);
        } else if (strcmp(k, "namesrvAddr") == 0 || strcmp(k, "dLegerPeers") == 0) {
            map_list(m, v, val, sizeof val);
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
    fclose(out);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void fc_init(fc_t *c, const char *broker_extra)
{
    memset(c, 0, sizeof *c);
    cr_assert_eq(rk_tk_tmpdir(c->dir, sizeof c->dir, "final"), 0);
    DIR *d = opendir(CONF_DIR);
    cr_assert(d != NULL, "no %s", CONF_DIR);
    char *names[FC_MAX];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".conf") != 0)
            continue;
        if (strncmp(e->d_name, "namesrv-", 8) != 0 && strncmp(e->d_name, "broker-", 7) != 0)
            continue;           /* the console has tests of its own */
        cr_assert(n < FC_MAX);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);    /* broker-* before namesrv-* */
    portmap_t m = {.n = 0};
    /* name servers first, so their ports are known for the address list */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            bool ns = strncmp(names[i], "namesrv-", 8) == 0;
            if (ns != (pass == 0))
                continue;
            fc_proc_t *p = &c->p[c->n++];
            char name[64], dir[256];
            snprintf(name, sizeof name, "%.*s", (int)(strlen(names[i]) - 5), names[i]);
            memcpy(dir, c->dir, sizeof dir);
            memcpy(p->name, name, sizeof name);
            snprintf(p->home, sizeof p->home, "%s/%s", dir, name);
            cr_assert_eq(mkdir(p->home, 0755), 0);
            snprintf(p->conf, sizeof p->conf, "%s/%s/%s.conf", dir, name, name);
            snprintf(p->log, sizeof p->log, "%s/%s.log", dir, name);
            p->broker = !ns;
            p->pid = -1;
            char src[512];
            snprintf(src, sizeof src, "%s/%s", CONF_DIR, names[i]);
            write_conf(&m, p, src, broker_extra);
            if (ns) {
                size_t l = strlen(c->ns);
                snprintf(c->ns + l, sizeof c->ns - l, "%s127.0.0.1:%d", l ? ";" : "", p->port);
            }
        }
    for (int i = 0; i < n; i++)
        free(names[i]);
    fc_event(c, "cluster in %s, name servers %s", c->dir, c->ns);
}

void fc_start(fc_t *c, int i)
{
    fc_proc_t *p = &c->p[i];
    cr_assert(p->pid < 0, "%s is already running", p->name);
    char *argv[] = {p->broker ? BIN "/mqbroker" : BIN "/mqnamesrv", "-c", p->conf, NULL};
    p->pid = rk_tk_spawn(argv, p->log);     /* appends: a restart's log follows the earlier life */
    cr_assert(p->pid > 0, "cannot start %s", p->name);
    p->paused = false;
    fc_event(c, "started %s (PID %d, port %d)", p->name, (int)p->pid, p->port);
    cr_assert(rk_tk_wait_port(p->port, 15000), "%s did not start (see %s)", p->name, p->log);
}

int fc_find(const fc_t *c, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->p[i].name, name) == 0)
            return i;
    return -1;
}

void fc_kill9(fc_t *c, int i)
{
    fc_proc_t *p = &c->p[i];
    if (p->pid < 0)
        return;
    rk_tk_kill(p->pid, SIGKILL);
    rk_tk_wait(p->pid, 10000);
    fc_event(c, "kill -9 %s (PID %d)", p->name, (int)p->pid);
    p->pid = -1;
    p->paused = false;
}

void fc_pause(fc_t *c, int i)
{
    fc_proc_t *p = &c->p[i];
    if (p->pid < 0 || p->paused)
        return;
    rk_tk_kill(p->pid, SIGSTOP);
    /* wait until it is really stopped: a signal is delivered asynchronously */
    char path[64], st[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)p->pid);
    for (int t = 0; t < 500; t++) {
        FILE *f = fopen(path, "r");
        bool stopped = false;
        if (f != NULL) {
            if (fgets(st, sizeof st, f) != NULL) {
                char *rp = strrchr(st, ')');
                stopped = rp != NULL && rp[1] == ' ' && rp[2] == 'T';
            }
            fclose(f);
        }
        if (stopped)
            break;
        usleep(2000);
    }
    p->paused = true;
    fc_event(c, "kill -STOP %s (PID %d)", p->name, (int)p->pid);
}

void fc_resume(fc_t *c, int i)
{
    fc_proc_t *p = &c->p[i];
    if (p->pid < 0 || !p->paused)
        return;
    rk_tk_kill(p->pid, SIGCONT);
    p->paused = false;
    fc_event(c, "kill -CONT %s (PID %d)", p->name, (int)p->pid);
}

void fc_stop_all(fc_t *c)
{
    for (int i = c->n - 1; i >= 0; i--) {     /* brokers first, then the name servers */
        fc_proc_t *p = &c->p[i];
        if (p->pid < 0)
            continue;
        if (p->paused)
            rk_tk_kill(p->pid, SIGCONT);
        rk_tk_stop(p->pid, 15000);
        p->pid = -1;
    }
    if (getenv("RK_KEEP_TMP") == NULL && c->dir[0] != '\0')
        rk_tk_rmtree(c->dir);
}

int fc_admin(fc_t *c, char **out, const char *const *args)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = BIN "/mqadmin";
    for (int i = 0; args[i] != NULL && n < 28; i++)
        argv[n++] = args[i];
    argv[n++] = "-n";
    argv[n++] = c->ns;
    argv[n] = NULL;
    return rk_tk_run((char *const *)argv, out, 20000);
}

/* clusterList rows of group with brokerId 0: their ports, in *ports (up to max). */
static int registered_masters(fc_t *c, const char *group, int *ports, int max)
{
    char *out = NULL;
    const char *args[] = {"clusterList", NULL};
    int n = 0;
    if (fc_admin(c, &out, args) != 0 || out == NULL) {
        free(out);
        return 0;
    }
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char cluster[128], name[128], addr[128];
        int bid;
        if (line[0] == '#' || sscanf(line, "%127s %127s %d %127s", cluster, name, &bid, addr) != 4)
            continue;
        char *colon = strrchr(addr, ':');
        if (bid == 0 && strcmp(name, group) == 0 && colon != NULL && n < max)
            ports[n++] = atoi(colon + 1);
    }
    free(out);
    return n;
}

static int live_master(fc_t *c, const char *group, int not_this)
{
    int ports[8];
    int n = registered_masters(c, group, ports, 8);
    for (int k = 0; k < n; k++)
        for (int i = 0; i < c->n; i++)
            if (c->p[i].broker && c->p[i].port == ports[k] && c->p[i].pid > 0 && !c->p[i].paused && i != not_this)
                return i;
    return -1;
}

int fc_master(fc_t *c, const char *group, int not_this, int ms)
{
    for (int t = 0; t <= ms; t += 100) {
        int i = live_master(c, group, not_this);
        if (i >= 0)
            return i;
        usleep(100000);
    }
    return -1;
}

int fc_masters(fc_t *c, const char *group)
{
    int ports[8], live = 0;
    int n = registered_masters(c, group, ports, 8);
    for (int k = 0; k < n; k++)
        for (int i = 0; i < c->n; i++)
            if (c->p[i].broker && c->p[i].port == ports[k] && c->p[i].pid > 0 && !c->p[i].paused)
                live++;
    return live;
}

void fc_start_all(fc_t *c)
{
    for (int i = 0; i < c->n; i++)
        fc_start(c, i);
    for (int i = 0; i < c->n; i++) {
        if (!c->p[i].broker)
            continue;
        bool seen = false;
        for (int k = 0; k < i; k++)
            seen = seen || strcmp(c->p[k].group, c->p[i].group) == 0;
        if (!seen)
            cr_assert(fc_master(c, c->p[i].group, -1, 30000) >= 0, "%s elected no master in 30 s (logs in %s)",
                      c->p[i].group, c->dir);
    }
    /* the shipped files have no key the programs do not know (a typo would be ignored) */
    for (int i = 0; i < c->n; i++) {
        FILE *f = fopen(c->p[i].log, "r");
        char line[1024];
        while (f != NULL && fgets(line, sizeof line, f) != NULL)
            cr_assert(strstr(line, "unknown config key") == NULL, "%s: %s", c->p[i].name, line);
        if (f != NULL)
            fclose(f);
    }
}

void fc_event(fc_t *c, const char *fmt, ...)
{
    char path[300];
    snprintf(path, sizeof path, "%s/events.log", c->dir);
    FILE *f = fopen(path, "a");
    if (f == NULL)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(f, "%lld.%03ld ", (long long)ts.tv_sec, ts.tv_nsec / 1000000);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}
