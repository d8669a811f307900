/* json.h — cJSON with RocketMQ's fastjson quirks on both sides.
 *
 * RocketMQ's Java side serialises with fastjson, which writes non-string map
 * keys UNQUOTED ({0:"10.0.0.1:10911"} in routes, {"t@g":{0:12,1:40}} in
 * consumerOffset.json), and its clients send numbers and booleans where
 * strings are expected. So:
 *
 *   rk_json_parse()  accepts standard JSON *and* bare integer keys (a
 *                    pre-pass quotes `{0:` / `,-1:` outside strings);
 *   rk_json_print()  writes compact or tab-indented JSON (fastjson's pretty
 *                    format), optionally with integer-looking keys bare,
 *                    integral numbers without exponent or ".0";
 *   rk_json_get_*()  read a member with coercion: "12" and 12 are both an
 *                    int64, "true"/true/1 a bool, 12 as a string is "12".
 *
 * Memory: rk_json_parse returns a tree the caller frees with cJSON_Delete;
 * rk_json_print and rk_json_to_string return malloc'ed strings the caller
 * frees. No global state. */
#ifndef RK_JSON_H
#define RK_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    RK_JSON_PRETTY        = 1 << 0,  /* newlines and tab indents, as fastjson's pretty */
    RK_JSON_BARE_INT_KEYS = 1 << 1,  /* keys like "0", "-1" written without quotes    */
};

cJSON *rk_json_parse(const char *text, size_t len);
char *rk_json_print(const cJSON *item, unsigned flags);

/* Coercing getters; return RK_ENOTFOUND if absent, RK_EINVAL if not coercible.
 * rk_json_get_i64 refuses (RK_EINVAL) a number that is not integral or does
 * not fit an int64_t (1.5, 1e300, a string past 2^63): callers then check
 * the range of the field they fill before narrowing it. */
int rk_json_get_i64(const cJSON *obj, const char *key, int64_t *out);
int rk_json_get_bool(const cJSON *obj, const char *key, bool *out);
/* The member as a string (numbers and booleans converted); NULL if absent
 * or not a scalar. The result is malloc'ed. */
char *rk_json_get_strdup(const cJSON *obj, const char *key);
/* The member if it is a JSON string (no copy), else NULL. */
const char *rk_json_get_str(const cJSON *obj, const char *key);
/* A scalar item (string, number, bool) as a malloc'ed string, else NULL. */
char *rk_json_to_string(const cJSON *item);
/* Adds an integral number exactly (cJSON stores doubles: exact to 2^53). */
cJSON *rk_json_add_i64(cJSON *obj, const char *key, int64_t v);

#endif
