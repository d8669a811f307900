/* broker_main.c — mqbroker's main as a function, so every chapter's broker binary is the
 * same program linked with its own module list (see rk_broker_main in rk/broker.h). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "rk/broker.h"
#include "rk/error.h"
#include "rk/log.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mqbroker [-c FILE] [-n NAMESRV] [-p] [-h]\n\nbroker settings:\n");
    for (const rk_config_field_t *fl = rk_broker_config_fields; fl->key; fl++)
        fprintf(f, "  %-28s %s (default %s)\n", fl->key, fl->help, fl->def ? fl->def : "-");
    fprintf(f, "\nlimits on what clients can make the server hold:\n");
    for (const rk_config_field_t *fl = rk_rserver_limit_fields; fl->key; fl++)
        fprintf(f, "  %-28s %s (default %s)\n", fl->key, fl->help, fl->def ? fl->def : "-");
    fprintf(f, "\nstore settings (storePathRootDir, mappedFileSizeCommitLog, flushDiskType, ...) go in the same file.\n");
}

/* RocketMQ prints "boot success" whatever happened to the registration;
 * rocklet says what a client will find: the broker in the name servers'
 * routes, in some of them, in none (yet), or not at all (standalone). */
static void startup_line(rk_broker_t *b)
{
    const rk_broker_config_t *cfg = rk_broker_config(b);
    char missed[1024];
    int total = 0;
    int ok = rk_broker_namesrv_status(b, &total, missed, sizeof missed);
    long long every = (long long)(cfg->register_period_ms / 1000);
    if (total == 0)
        printf("The broker[%s, %s] boot success. It runs standalone: no namesrvAddr, so no name server "
               "routes clients to it (clients that know its address can still use it).\n",
               cfg->broker_name, rk_broker_addr(b));
    else if (ok == 0)
        printf("The broker[%s, %s] is serving but reached none of its name servers (%s); retrying every %lld s. "
               "Clients cannot find it until one answers.\n",
               cfg->broker_name, rk_broker_addr(b), missed, every);
    else if (ok < total)
        printf("The broker[%s, %s] boot success, registered with %d of %d name servers (not reached: %s; "
               "retrying every %lld s).\n",
               cfg->broker_name, rk_broker_addr(b), ok, total, missed, every);
    else
        printf("The broker[%s, %s] boot success, registered with %d of %d name servers.\n", cfg->broker_name,
               rk_broker_addr(b), ok, total);
    fflush(stdout);
}

int rk_broker_main(int argc, char **argv, const rk_broker_module_t *const *modules)
{
    rk_kv_t kv;
    rk_kv_init(&kv);
    char err[512] = "";
    bool print = false;
    int rc = RK_OK;
    for (int i = 1; i < argc && rc == RK_OK; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            rc = rk_kv_load_file(&kv, argv[++i], err, sizeof err);
        else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            rc = rk_kv_set(&kv, "namesrvAddr", argv[++i]);
        else if (strcmp(argv[i], "-p") == 0)
            print = true;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            rk_kv_free(&kv);
            return 0;
        } else {
            fprintf(stderr, "mqbroker: unknown argument \"%s\"\n", argv[i]);
            usage(stderr);
            rk_kv_free(&kv);
            return 2;
        }
    }
    if (rc != RK_OK) {
        fprintf(stderr, "mqbroker: %s\n", err[0] ? err : rk_strerror(rc));
        rk_kv_free(&kv);
        return 1;
    }
    if (print) {
        rk_broker_config_t cfg;
        rc = rk_config_defaults(rk_broker_config_fields, &cfg);
        if (rc == RK_OK)
            rc = rk_config_defaults(rk_rserver_limit_fields, &cfg.limits);
        if (rc == RK_OK)
            rc = rk_config_apply(rk_broker_config_fields, &cfg, &kv, err, sizeof err);
        if (rc == RK_OK)
            rc = rk_config_apply(rk_rserver_limit_fields, &cfg.limits, &kv, err, sizeof err);
        if (rc == RK_OK) {
            rk_config_print(rk_broker_config_fields, &cfg, stdout);
            rk_config_print(rk_rserver_limit_fields, &cfg.limits, stdout);
        }
        else
            fprintf(stderr, "mqbroker: bad configuration: %s\n", err);
        rk_config_free(rk_broker_config_fields, &cfg);
        rk_kv_free(&kv);
        return rc == RK_OK ? 0 : 1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    rk_broker_t *b;
    rc = rk_broker_start(&kv, modules, &b, err, sizeof err);
    if (rc != RK_OK) {
        fprintf(stderr, "mqbroker: cannot start: %s\n", err[0] ? err : rk_strerror(rc));
        rk_kv_free(&kv);
        return 1;
    }
    startup_line(b);
    int sig = 0;
    sigwait(&set, &sig);
    rk_log_info("broker", "signal %d: shutting down", sig);
    rk_broker_stop(b);
    rk_kv_free(&kv);
    return 0;
}
