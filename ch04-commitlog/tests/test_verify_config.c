/* test_verify_config.c — a refused commitlog configuration leaves nothing
 * allocated (found by the verifier: `mqbroker` with mappedFileSizeCommitLog=
 * 4294967297 or an out-of-range flushIntervalCommitLog exited with a
 * LeakSanitizer report, because the string fields filled by the defaults and
 * the file were not freed when a later check refused the configuration). */
#include <criterion/criterion.h>
#include <string.h>

#include "rk/commitlog.h"
#include "rk/config.h"
#include "rk/error.h"

static void refused_config_owns_nothing(const char *key, const char *value)
{
    rk_kv_t kv;
    rk_kv_init(&kv);
    cr_assert_eq(rk_kv_set(&kv, "storePathRootDir", "/tmp/somewhere"), RK_OK);
    cr_assert_eq(rk_kv_set(&kv, key, value), RK_OK);
    rk_commitlog_config_t cfg;
    char err[256] = "";
    cr_assert_neq(rk_commitlog_config_load(&cfg, &kv, err, sizeof err), RK_OK, "%s=%s accepted", key, value);
    cr_assert_neq(err[0], '\0', "a refusal says why");
    cr_assert_null(cfg.store_root, "%s=%s: storePathRootDir still held", key, value);
    cr_assert_null(cfg.broker_ip1, "%s=%s: brokerIP1 still held", key, value);
    cr_assert_null(cfg.commitlog_dir);
    rk_commitlog_config_free(&cfg);     /* safe after a refusal too */
    rk_kv_free(&kv);
}

TestSuite(verify_config);

Test(verify_config, file_size_not_a_page_multiple) { refused_config_owns_nothing("mappedFileSizeCommitLog", "4294967297"); }
Test(verify_config, number_out_of_range) { refused_config_owns_nothing("flushIntervalCommitLog", "99999999999999999999"); }
Test(verify_config, not_a_number) { refused_config_owns_nothing("maxMessageSize", "1e300"); }
