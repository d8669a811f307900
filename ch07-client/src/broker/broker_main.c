/* broker_main.c — the mqbroker program's main, shared by every chapter's
 * mqbroker (each links its own module list; see rk/broker.h).
 *
 *   mqbroker [-c FILE] [-n NAMESRV] [-p] [-h]
 *
 * -c reads key=value settings with RocketMQ's names (broker, store and the
 * modules' keys in one file); -n sets namesrvAddr; -p prints the broker's
 * settings and exits. SIGTERM or SIGINT stop it cleanly (flush, remove
 * `abort`). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "rk/broker.h"
#include "rk/error.h"
#include "rk/log.h"

static void usage(FILE *f, const void *ctx)
{
    const rk_config_field_t *const *extra = ctx;
    fprintf(f, "usage: mqbroker [-c FILE] [-n NAMESRV] [-p] [-h]\n\nbroker settings:\n");
    rk_config_usage(rk_broker_config_fields, 28, f);
    for (int i = 0; extra && extra[i]; i++)
        rk_config_usage(extra[i], 28, f);
    fprintf(f, "\nlimits on what clients can make the server hold:\n");
    rk_config_usage(rk_rserver_limit_fields, 28, f);
    fprintf(f, "\nstore settings (storePathRootDir, mappedFileSizeCommitLog, flushDiskType, ...) go in the same file.\n");
}

/* -p: one settings table, defaults then the file's keys. */
static int print_fields(const rk_config_field_t *fields, rk_kv_t *kv)
{
    char err[512] = "";
    int rc = rk_config_print_kv(fields, kv, stdout, err, sizeof err);
    if (rc != RK_OK)
        fprintf(stderr, "mqbroker: bad configuration: %s\n", err[0] ? err : rk_strerror(rc));
    return rc;
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

int rk_broker_main(int argc, char **argv, const rk_broker_module_t *const *modules,
                   const rk_config_field_t *const *extra_fields)
{
    rk_kv_t kv;
    rk_kv_init(&kv);
    char err[512] = "";
    bool print;
    const char *file;
    static const rk_config_flag_t flags[] = {{"-n", "namesrvAddr"}, {NULL, NULL}};
    int rc = rk_config_args("mqbroker", argc, argv, flags, &kv, &file, &print, usage, extra_fields);
    if (rc >= 0) {
        rk_kv_free(&kv);
        return rc;
    }
    /* the ACL's file defaults to plain_acl.yml beside broker.conf (rk/acl.h) */
    const char *en = rk_kv_get(&kv, "aclEnable");
    rc = RK_OK;
    if (file != NULL && en != NULL && strcmp(en, "true") == 0 && rk_kv_get(&kv, "aclFile") == NULL) {
        const char *slash = strrchr(file, '/');
        char path[4096];
        snprintf(path, sizeof path, "%.*splain_acl.yml", slash ? (int)(slash - file + 1) : 0, file);
        rc = rk_kv_set(&kv, "aclFile", path);
    }
    if (rc != RK_OK) {
        fprintf(stderr, "mqbroker: %s\n", rk_strerror(rc));
        rk_kv_free(&kv);
        return 1;
    }
    if (print) {
        rc = print_fields(rk_broker_config_fields, &kv);
        if (rc == RK_OK)
            rc = print_fields(rk_rserver_limit_fields, &kv);
        for (int i = 0; rc == RK_OK && extra_fields && extra_fields[i]; i++)
            rc = print_fields(extra_fields[i], &kv);
        rk_kv_free(&kv);
        return rc == RK_OK ? 0 : 1;
    }
    /* A peer that closes its connection must not kill the server: every thread that writes to
     * a socket (the remoting loops block SIGPIPE themselves; chapter 8's HA and election
     * threads did not, and a master died when a slave with a full disk hung up) gets EPIPE. */
    signal(SIGPIPE, SIG_IGN);
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
    startup_line(b);      /* unknown keys were reported before serving (rk_broker_start) */
    int sig = 0;
    sigwait(&set, &sig);
    rk_log_info("broker", "signal %d: shutting down", sig);
    rk_broker_stop(b);
    rk_kv_free(&kv);
    return 0;
}
