/* test_cluster_script.c — final/cluster.sh, the script behind make run / status / stop /
 * kill-master, on the local cluster's configuration moved to free ports: run starts every
 * process and waits for the masters, a second run starts nothing new, kill-master leads to a
 * new master, stop leaves nothing running. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fcluster.h"
#include "rk/testkit.h"

static fc_t c;
static char conf[300], run[300];

/* PIDs the script wrote; anything still alive is killed (the script's processes are not our
 * children, so a test that fails half-way must not leave them running). */
static int pids(pid_t *out, int max)
{
    int n = 0;
    for (int i = 0; i < c.n && n < max; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/%s/%s.pid", run, c.p[i].name, c.p[i].name);
        FILE *f = fopen(path, "r");
        int pid = 0;
        if (f != NULL) {
            if (fscanf(f, "%d", &pid) == 1 && pid > 0)
                out[n++] = pid;
            fclose(f);
        }
    }
    return n;
}

static int alive(void)
{
    pid_t p[FC_MAX];
    int n = pids(p, FC_MAX), live = 0;
    for (int i = 0; i < n; i++)
        live += kill(p[i], 0) == 0;
    return live;
}

static void fini(void)
{
    pid_t p[FC_MAX];
    int n = pids(p, FC_MAX);
    for (int i = 0; i < n; i++)
        if (kill(p[i], 0) == 0) {
            kill(p[i], SIGCONT);
            kill(p[i], SIGKILL);
        }
    fc_stop_all(&c);
}

static int script(char **out, const char *cmd, const char *arg)
{
    char *argv[] = {"/bin/bash", RK_SRC_ROOT "/final/cluster.sh", (char *)cmd, (char *)arg, NULL};
    return rk_tk_run(argv, out, 120000);
}

TestSuite(cluster_script, .fini = fini, .timeout = 240);

Test(cluster_script, run_status_kill_master_and_stop)
{
    fc_init(&c, NULL);
    snprintf(conf, sizeof conf, "%s/conf", c.dir);
    snprintf(run, sizeof run, "%s/run", c.dir);
    cr_assert_eq(mkdir(conf, 0755), 0);
    for (int i = 0; i < c.n; i++) {     /* the fixture's files, with their free ports */
        char dst[700], *text = NULL;
        snprintf(dst, sizeof dst, "%s/%s.conf", conf, c.p[i].name);
        char *cp[] = {"/bin/cp", c.p[i].conf, dst, NULL};
        cr_assert_eq(rk_tk_run(cp, &text, 5000), 0);
        free(text);
    }
    setenv("RK_CLUSTER_CONF", conf, 1);
    setenv("RK_CLUSTER_DIR", run, 1);
    setenv("RK_BIN", RK_BIN_DIR "/../../bin", 1);

    char *out = NULL;
    cr_assert_eq(script(&out, "run", NULL), 0, "cluster.sh run failed:\n%s", out);
    cr_assert(strstr(out, "ready after") != NULL, "%s", out);
    int masters = 0;
    for (const char *s = out; (s = strstr(s, " master ")) != NULL; s++)
        masters++;
    cr_assert_eq(masters, 2, "want one master per group in the status table:\n%s", out);
    cr_assert_eq(alive(), c.n);
    pid_t before[FC_MAX];
    int nb = pids(before, FC_MAX);
    free(out);

    /* a second run starts nothing new */
    cr_assert_eq(script(&out, "run", NULL), 0, "%s", out);
    cr_assert(strstr(out, "already running") != NULL, "%s", out);
    pid_t after[FC_MAX];
    cr_assert_eq(pids(after, FC_MAX), nb);
    cr_assert_arr_eq(before, after, sizeof(pid_t) * (size_t)nb, "a second make run started processes again");
    free(out);

    /* kill-master: the group elects another */
    cr_assert_eq(script(&out, "kill-master", "broker-a"), 0, "%s", out);
    free(out);
    bool replaced = false;
    for (int t = 0; t < 100 && !replaced; t++) {
        cr_assert_eq(script(&out, "status", NULL), 0);
        replaced = strstr(out, "stopped") != NULL && strstr(out, "broker-a") != NULL;
        int m = 0;
        for (const char *s = out; (s = strstr(s, " master ")) != NULL; s++)
            m++;
        replaced = replaced && m == 2;
        if (!replaced) {
            free(out);
            out = NULL;
            usleep(200000);
        }
    }
    cr_assert(replaced, "no new master of broker-a after kill-master:\n%s", out ? out : "");
    free(out);

    cr_assert_eq(script(&out, "stop", NULL), 0, "%s", out);
    cr_assert(strstr(out, "stopped") != NULL, "%s", out);
    free(out);
    cr_assert_eq(alive(), 0, "processes left running after cluster.sh stop");
}
