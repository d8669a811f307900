/* fcluster.c — see fcluster.h. */
#include "fcluster.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rk/error.h"
#include "rk/localconf.h"
#include "rk/testkit.h"

#define CONF_DIR RK_SRC_ROOT "/final/conf/local"
#define BIN RK_BIN_DIR "/../../bin"

void fc_init(fc_t *c, const char *broker_extra)
{
    memset(c, 0, sizeof *c);
    cr_assert_eq(rk_tk_tmpdir(c->dir, sizeof c->dir, "final"), 0);
    rk_lc_proc_t lp[RK_LC_MAX];
    char err[256] = "";
    int n = rk_lc_write(CONF_DIR, c->dir, broker_extra, lp, RK_LC_MAX, c->ns, (int)sizeof c->ns, err, (int)sizeof err);
    cr_assert(n > 0 && n <= FC_MAX, "cannot write the cluster's configuration: %s", err);
    for (int i = 0; i < n; i++) {
        fc_proc_t *p = &c->p[c->n++];
        memcpy(p->name, lp[i].name, sizeof p->name);
        memcpy(p->home, lp[i].home, sizeof p->home);
        memcpy(p->conf, lp[i].conf, sizeof p->conf);
        memcpy(p->group, lp[i].group, sizeof p->group);
        char dir[256], name[64];
        memcpy(dir, c->dir, sizeof dir);
        memcpy(name, lp[i].name, sizeof name);
        snprintf(p->log, sizeof p->log, "%s/%s.log", dir, name);
        p->port = lp[i].port;
        p->broker = lp[i].broker;
        p->pid = -1;
    }
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
    for (int t = 0; t < 500; t++) {
        char st[64];
        if (rk_tk_proc_stat(p->pid, st, sizeof st) && st[0] == 'T')
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

static bool usable(const fc_proc_t *p) { return p->broker && p->pid > 0 && !p->paused; }

int fc_master(fc_t *c, const char *group, int not_this, int ms)
{
    for (int t = 0; t <= ms; t += 100) {
        int port = rk_lc_registered_master(c->ns, group);
        for (int i = 0; port > 0 && i < c->n; i++)
            if (usable(&c->p[i]) && c->p[i].port == port && i != not_this)
                return i;
        if (t < ms)
            usleep(100000);
    }
    return -1;
}

int fc_masters(fc_t *c, const char *group)
{
    int n = 0;
    for (int i = 0; i < c->n; i++) {
        char addr[64], role[64];
        snprintf(addr, sizeof addr, "127.0.0.1:%d", c->p[i].port);
        if (usable(&c->p[i]) && strcmp(c->p[i].group, group) == 0 &&
            rk_lc_runtime(addr, "dLegerRole", role, sizeof role, 3000) == RK_OK && strcmp(role, "LEADER") == 0)
            n++;
    }
    return n;
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

void fc_assert_one_master_each(fc_t *c)
{
    for (int i = 0; i < c->n; i++) {
        if (!c->p[i].broker)
            continue;
        bool seen = false;
        for (int k = 0; k < i; k++)
            seen = seen || strcmp(c->p[k].group, c->p[i].group) == 0;
        if (seen)
            continue;
        const char *g = c->p[i].group;
        cr_assert(fc_master(c, g, -1, 20000) >= 0, "%s has no master", g);
        int n = 0;
        for (int t = 0; t < 200 && (n = fc_masters(c, g)) != 1; t++)
            usleep(100000);
        cr_assert_eq(n, 1, "%s: %d replicas say they lead it", g, n);
    }
}
