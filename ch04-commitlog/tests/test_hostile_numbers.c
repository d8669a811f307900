/* test_hostile_numbers.c — numbers from metadata and config files that do not
 * fit their field are refused, never cast (issue 9, item 12). */
#include <criterion/criterion.h>
#include <stddef.h>
#include <string.h>

#include "rk/config.h"
#include "rk/error.h"
#include "rk/json.h"

static int get(const char *json, int64_t *v)
{
    cJSON *root = rk_json_parse(json, strlen(json));
    cr_assert_not_null(root, "%s parses", json);
    int rc = rk_json_get_i64(root, "n", v);
    cJSON_Delete(root);
    return rc;
}

Test(hostile_numbers, json_numbers_outside_int64_are_refused_before_the_cast)
{
    int64_t v = 42;
    cr_assert_eq(get("{\"n\":1e300}", &v), RK_EINVAL, "1e300 used to be cast to an integer");
    cr_assert_eq(get("{\"n\":-1e300}", &v), RK_EINVAL);
    cr_assert_eq(get("{\"n\":1e400}", &v), RK_EINVAL, "inf");
    cr_assert_eq(get("{\"n\":9223372036854775808}", &v), RK_EINVAL, "2^63");
    cr_assert_eq(get("{\"n\":1e19}", &v), RK_EINVAL);
    cr_assert_eq(get("{\"n\":1.5}", &v), RK_EINVAL);
    cr_assert_eq(get("{\"n\":\"99999999999999999999\"}", &v), RK_EINVAL, "a string past 2^63");
    cr_assert_eq(get("{\"n\":\"12abc\"}", &v), RK_EINVAL);
    cr_assert_eq(v, 42, "nothing written on a refusal");
    cr_assert_eq(get("{\"n\":-9223372036854775808}", &v), 0, "-2^63 fits");
    cr_assert_eq(v, INT64_MIN);
    cr_assert_eq(get("{\"n\":9007199254740992}", &v), 0);
    cr_assert_eq(v, 9007199254740992LL);
    cr_assert_eq(get("{\"n\":4294967297}", &v), 0, "fits int64: the caller checks its own range");
    cr_assert_eq(v, 4294967297LL);
    cr_assert_eq(get("{\"n\":-1}", &v), 0);
    cr_assert_eq(v, -1);
}

struct cfg {
    int64_t queues;
};

static const rk_config_field_t fields[] = {
    {"queueNums", RK_CFG_INT, offsetof(struct cfg, queues), "8", 1, 1024, NULL, "queues"},
    {0},
};

static int apply(const char *value, struct cfg *c, char *err, size_t errlen)
{
    rk_kv_t kv;
    rk_kv_init(&kv);
    cr_assert_eq(rk_kv_set(&kv, "queueNums", value), 0);
    int rc = rk_config_apply(fields, c, &kv, err, errlen);
    rk_kv_free(&kv);
    return rc;
}

Test(hostile_numbers, config_numbers_are_range_checked_per_field)
{
    struct cfg c;
    char err[200] = "";
    cr_assert_eq(rk_config_defaults(fields, &c), 0);
    const char *bad[] = {"4294967297", "0", "-1", "1025", "99999999999999999999", "9223372036854775807k",
                         "8589934592g", "1e3", "1.5", "0x10", "", "4 queues"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        cr_assert_eq(apply(bad[i], &c, err, sizeof err), RK_EBADCONFIG, "queueNums=%s refused", bad[i]);
        cr_assert(strstr(err, "queueNums") != NULL, "the error names the key: %s", err);
        cr_assert_eq(c.queues, 8, "queueNums=%s left the field alone", bad[i]);
    }
    cr_assert_eq(apply("1k", &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.queues, 1024);
    /* a table field without a range is a bug, caught at the defaults */
    static const rk_config_field_t unbounded[] = {
        {"queueNums", RK_CFG_INT, offsetof(struct cfg, queues), "8", 0, -1, NULL, "queues"},
        {0},
    };
    cr_assert_eq(rk_config_defaults(unbounded, &c), RK_EINVAL);
}
