/* test_conf.c — every configuration file final/ ships is one its program accepts as it is:
 * `mqbroker -c FILE -p` / `mqnamesrv -c FILE -p` exit 0 (every value in range), and a broker
 * started from the real-host template (its addresses moved to loopback) warns about no
 * unknown key: a misspelt key would otherwise be ignored on a real host. The local cluster's
 * files get the same check each time fcluster.c starts them. */
#include <signal.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/testkit.h"

static int check_dir(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert(d != NULL, "no %s", dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".conf") != 0)
            continue;
        const char *prog = strncmp(e->d_name, "broker", 6) == 0    ? RK_BIN_DIR "/../../bin/mqbroker"
                           : strncmp(e->d_name, "namesrv", 7) == 0 ? RK_BIN_DIR "/../../bin/mqnamesrv"
                                                                    : NULL;
        if (prog == NULL)
            continue;
        char path[600], *out = NULL;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *argv[] = {(char *)prog, "-c", path, "-p", NULL};
        int st = rk_tk_run(argv, &out, 10000);
        cr_assert_eq(st, 0, "%s -c %s -p: status %d\n%s", prog, path, st, out ? out : "");
        cr_assert(out == NULL || (strstr(out, "unknown") == NULL && strstr(out, "WARN") == NULL),
                  "%s: %s", path, out);
        free(out);
        n++;
    }
    closedir(d);
    return n;
}

Test(conf, the_shipped_configuration_files_are_accepted_without_a_warning)
{
    cr_assert_eq(check_dir(RK_SRC_ROOT "/final/conf/local"), 8);
    cr_assert_eq(check_dir(RK_SRC_ROOT "/final/conf/hosts"), 2);
}

Test(conf, the_real_host_broker_template_has_no_unknown_key)
{
    char dir[256];
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "conf"), 0);
    FILE *in = fopen(RK_SRC_ROOT "/final/conf/hosts/broker.conf", "r");
    cr_assert(in != NULL);
    char path[400], log[400], line[1024];
    snprintf(path, sizeof path, "%s/broker.conf", dir);
    snprintf(log, sizeof log, "%s/broker.log", dir);
    FILE *out = fopen(path, "w");
    cr_assert(out != NULL);
    int port = rk_tk_free_port(), ha = rk_tk_free_port(), el = rk_tk_free_port();
    while (fgets(line, sizeof line, in) != NULL) {       /* keys kept, addresses made local */
        if (strncmp(line, "namesrvAddr=", 12) == 0)
            fprintf(out, "namesrvAddr=127.0.0.1:%d\n", rk_tk_free_port());
        else if (strncmp(line, "brokerIP1=", 10) == 0)
            fprintf(out, "brokerIP1=127.0.0.1\n");
        else if (strncmp(line, "listenHost=", 11) == 0)
            fprintf(out, "listenHost=127.0.0.1\n");
        else if (strncmp(line, "listenPort=", 11) == 0)
            fprintf(out, "listenPort=%d\n", port);
        else if (strncmp(line, "haListenPort=", 13) == 0)
            fprintf(out, "haListenPort=%d\n", ha);
        else if (strncmp(line, "storePathRootDir=", 17) == 0)
            fprintf(out, "storePathRootDir=%s/store\n", dir);
        else if (strncmp(line, "dLegerPeers=", 12) == 0)
            fprintf(out, "dLegerPeers=n0-127.0.0.1:%d\n", el);
        else if (strncmp(line, "mappedFileSizeCommitLog=", 24) == 0)
            fprintf(out, "mappedFileSizeCommitLog=4194304\n");
        else
            fputs(line, out);
    }
    fclose(in);
    fclose(out);
    char *argv[] = {RK_BIN_DIR "/../../bin/mqbroker", "-c", path, NULL};
    pid_t pid = rk_tk_spawn(argv, log);
    cr_assert(pid > 0);
    bool up = rk_tk_wait_port(port, 15000);
    rk_tk_stop(pid, 10000);
    cr_assert(up, "the broker did not start from the template (see %s)", log);
    FILE *f = fopen(log, "r");
    cr_assert(f != NULL);
    while (fgets(line, sizeof line, f) != NULL)
        cr_assert(strstr(line, "unknown config key") == NULL, "hosts/broker.conf: %s", line);
    fclose(f);
    rk_tk_rmtree(dir);
}
