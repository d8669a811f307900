/* mqnamesrv — rocklet's name server, configured like RocketMQ's.
 *
 *   mqnamesrv [-c FILE] [-p] [-h]
 *
 * -c reads key=value settings (listenPort, kvConfigPath, ...); -p prints the
 * effective configuration and exits. SIGTERM or SIGINT stop it cleanly. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/config.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/namesrv.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mqnamesrv [-c FILE] [-p] [-h]\n"
               "  -c FILE  key=value configuration (RocketMQ's names)\n"
               "  -p       print the configuration and exit\n"
               "  -h       this help\n\nsettings:\n");
    rk_config_usage(rk_namesrv_config_fields, 32, f);
    rk_config_usage(rk_rserver_limit_fields, 32, f);
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    bool print = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            file = argv[++i];
        else if (strcmp(argv[i], "-p") == 0)
            print = true;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "mqnamesrv: unknown argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    rk_kv_t kv;
    rk_kv_init(&kv);
    char err[512] = "";
    rk_namesrv_config_t cfg;
    int rc = rk_config_defaults(rk_namesrv_config_fields, &cfg);
    if (rc == RK_OK)
        rc = rk_config_defaults(rk_rserver_limit_fields, &cfg.limits);
    if (rc == RK_OK && file != NULL)
        rc = rk_kv_load_file(&kv, file, err, sizeof err);
    if (rc == RK_OK)
        rc = rk_config_apply(rk_namesrv_config_fields, &cfg, &kv, err, sizeof err);
    if (rc == RK_OK)
        rc = rk_config_apply(rk_rserver_limit_fields, &cfg.limits, &kv, err, sizeof err);
    if (rc != RK_OK) {
        fprintf(stderr, "mqnamesrv: bad configuration: %s\n", err[0] ? err : rk_strerror(rc));
        rk_config_free(rk_namesrv_config_fields, &cfg);
        rk_kv_free(&kv);
        return 1;
    }
    const rk_config_field_t *const tables[] = {rk_namesrv_config_fields, rk_rserver_limit_fields, NULL};
    rk_kv_warn_unused_suggest(&kv, "mqnamesrv", tables);
    rk_kv_free(&kv);
    if (print) {
        if (cfg.replication_secret != NULL && *cfg.replication_secret != '\0') {
            free(cfg.replication_secret);       /* a secret is not for printing */
            cfg.replication_secret = strdup("(set, not shown)");
        }
        rk_config_print(rk_namesrv_config_fields, &cfg, stdout);
        rk_config_print(rk_rserver_limit_fields, &cfg.limits, stdout);
        rk_config_free(rk_namesrv_config_fields, &cfg);
        return 0;
    }
    /* Signals are taken synchronously by this thread; block them before any
     * other thread starts so none of those receives them. */
    /* A peer that closes its connection must not kill the server: every thread that writes to
     * a socket (the remoting loops block SIGPIPE themselves; chapter 8's HA and election
     * threads did not, and a master died when a slave with a full disk hung up) gets EPIPE. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    rk_namesrv_t *ns;
    rc = rk_namesrv_start(&cfg, NULL, &ns, err, sizeof err);
    if (rc != RK_OK) {
        fprintf(stderr, "mqnamesrv: cannot start: %s\n", err[0] ? err : rk_strerror(rc));
        rk_config_free(rk_namesrv_config_fields, &cfg);
        return 1;
    }
    printf("The Name Server boot success. port=%d\n", rk_namesrv_port(ns));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    rk_log_info("namesrv", "signal %d: shutting down", sig);
    rk_namesrv_stop(ns);
    rk_config_free(rk_namesrv_config_fields, &cfg);
    return 0;
}
