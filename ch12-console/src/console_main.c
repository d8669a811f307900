/* console_main.c — the mqconsole program's main (see rk/console.h).
 *
 *   mqconsole [-c FILE] [-n NAMESRV] [-l PORT] [-p] [-h]
 *
 * -c reads key=value settings; -n sets namesrvAddr, -l listenPort; -p prints the settings and
 * exits. SIGTERM or SIGINT stop it once the requests in progress are answered. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/console.h"
#include "rk/error.h"
#include "rk/log.h"

static void usage(FILE *f, const void *ctx)
{
    (void)ctx;
    fprintf(f, "usage: mqconsole [-c FILE] [-n NAMESRV] [-l PORT] [-p] [-h]\n\nsettings:\n");
    rk_config_usage(rk_console_config_fields, 22, f);
}

int rk_console_main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    rk_kv_t kv;
    rk_kv_init(&kv);
    char err[512] = "";
    bool print;
    const char *file;
    static const rk_config_flag_t flags[] = {{"-n", "namesrvAddr"}, {"-l", "listenPort"}, {NULL, NULL}};
    int rc = rk_config_args("mqconsole", argc, argv, flags, &kv, &file, &print, usage, NULL);
    if (rc >= 0) {
        rk_kv_free(&kv);
        return rc;
    }
    if (print) {
        rc = rk_config_print_kv(rk_console_config_fields, &kv, stdout, err, sizeof err);
        if (rc != RK_OK)
            fprintf(stderr, "mqconsole: bad configuration: %s\n", err[0] ? err : rk_strerror(rc));
        rk_kv_free(&kv);
        return rc == RK_OK ? 0 : 1;
    }
    /* API requests wait for brokers on libuv's worker pool (4 threads by default): a few slow
     * brokers must not hold every one */
    setenv("UV_THREADPOOL_SIZE", "16", 0);
    /* and each of those threads would get a malloc arena of its own that keeps what a big
     * answer once used: a few shared arenas keep the console's RSS near what it holds */
    mallopt(M_ARENA_MAX, 2);
    if (getenv("RK_LOG") == NULL)
        rk_log_set_level(RK_LOG_WARN);
    rk_console_t *cs = NULL;
    rc = rk_console_new(&kv, &cs, err, sizeof err);
    if (rc == RK_OK)
        rk_kv_warn_unused(&kv, "console");
    rk_kv_free(&kv);
    if (rc != RK_OK) {
        fprintf(stderr, "mqconsole: cannot start: %s\n", err[0] ? err : rk_strerror(rc));
        return 1;
    }
    printf("mqconsole listening on port %d\n", rk_console_port(cs));
    fflush(stdout);
    rk_console_run(cs);
    rk_console_free(cs);
    return 0;
}
