/* test_verify_kvconfig.c — the name server's kvConfig.json follows the rule
 * of issue 9 item 10 like the broker's metadata (found by the verifier): an
 * unusable kvConfig.json next to a valid .bak used to be replaced silently by
 * the .bak (an ERROR line saying "as asked", though nobody asked), and the
 * next write rotated the unusable file into .bak. Now the start is refused
 * with a message naming both files, unless metadataFallbackToBak=true. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/config.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"
#include "rk/namesrv.h"
#include "rk/testkit.h"

static char dir[256], kv[300], bak[320];
static rk_namesrv_config_t cfg;

static void setup(void)
{
    rk_log_set_level(RK_LOG_OFF);
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "kvconfig"), 0);
    snprintf(kv, sizeof kv, "%s/kv.json", dir);
    snprintf(bak, sizeof bak, "%s.bak", kv);
    cr_assert_eq(rk_config_defaults(rk_namesrv_config_fields, &cfg), 0);
    cfg.listen_port = 0;
    free(cfg.listen_host);
    cfg.listen_host = strdup("127.0.0.1");
    free(cfg.kv_config_path);
    cfg.kv_config_path = strdup(kv);
    const char *good = "{\"configTable\":{\"N\":{\"k\":\"v\"}}}";
    cr_assert_eq(rk_file_write_atomic(bak, good, strlen(good)), 0);
}

static void teardown(void)
{
    rk_config_free(rk_namesrv_config_fields, &cfg);
    rk_tk_rmtree(dir);
}

TestSuite(verify_kvconfig, .init = setup, .fini = teardown);

Test(verify_kvconfig, an_unusable_file_with_a_bak_refuses_the_start)
{
    const char *cases[] = {"{bad", "", "{}"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fopen(kv, "w");
        cr_assert_not_null(f);
        fputs(cases[i], f);
        fclose(f);
        rk_namesrv_t *ns = NULL;
        char err[1024] = "";
        int rc = rk_namesrv_start(&cfg, NULL, &ns, err, sizeof err);
        if (rc == RK_OK)
            rk_namesrv_stop(ns);
        cr_assert_neq(rc, RK_OK, "kv.json \"%s\" with a valid .bak: started (rolled back to the .bak)", cases[i]);
        cr_assert(strstr(err, kv) != NULL && strstr(err, ".bak") != NULL, "the refusal names both files: %s", err);
        cr_assert(strstr(err, "metadataFallbackToBak") != NULL, "the refusal says how to opt in: %s", err);
    }
}

Test(verify_kvconfig, the_operator_may_opt_in_to_the_bak)
{
    FILE *f = fopen(kv, "w");
    cr_assert_not_null(f);
    fputs("{bad", f);
    fclose(f);
    cfg.metadata_fallback_to_bak = true;
    rk_namesrv_t *ns = NULL;
    char err[1024] = "";
    cr_assert_eq(rk_namesrv_start(&cfg, NULL, &ns, err, sizeof err), RK_OK, "%s", err);
    rk_namesrv_stop(ns);
}

Test(verify_kvconfig, a_missing_file_still_loads_its_bak)
{
    rk_namesrv_t *ns = NULL;
    char err[1024] = "";
    cr_assert_eq(rk_namesrv_start(&cfg, NULL, &ns, err, sizeof err), RK_OK, "%s", err);
    rk_namesrv_stop(ns);
}
