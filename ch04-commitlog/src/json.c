/* json.c — lenient parsing and fastjson-style printing on top of cJSON (see rk/json.h). */
#include "rk/json.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/buf.h"
#include "rk/config.h"
#include "rk/error.h"

/* One scan for bare integer keys: after '{' or ',' (outside strings), optional spaces,
 * -?[0-9]+, optional spaces, ':'. With out, copies text into it with those keys quoted and
 * returns 0; without, returns 1 as soon as the text would need that copy (a bare key, or a NUL,
 * which would end the copy's C string) and 0 if it can be parsed where it lies. */
static int bare_keys(const char *text, size_t len, rk_buf_t *out)
{
    bool in_str = false, esc = false;
    char prev = 0;     /* last non-space structural char outside strings */
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '\0' && out == NULL)
            return 1;
        if (in_str) {
            if (out != NULL)
                rk_buf_put_u8(out, (uint8_t)c);
            if (esc) esc = false;
            else if (c == '\\') esc = true;
            else if (c == '"') in_str = false;
            continue;
        }
        if ((prev == '{' || prev == ',') && (c == '-' || isdigit((unsigned char)c))) {
            size_t j = i + (c == '-');
            while (j < len && isdigit((unsigned char)text[j]))
                j++;
            size_t k = j;
            while (k < len && isspace((unsigned char)text[k]))
                k++;
            if (j > i + (c == '-') && k < len && text[k] == ':') {
                if (out == NULL)
                    return 1;
                rk_buf_put_u8(out, '"');
                rk_buf_put(out, text + i, j - i);
                rk_buf_put_u8(out, '"');
                i = j - 1;
                prev = 'k';
                continue;
            }
        }
        if (out != NULL)
            rk_buf_put_u8(out, (uint8_t)c);
        if (c == '"')
            in_str = true;
        if (!isspace((unsigned char)c))
            prev = c;
    }
    return 0;
}

/* text with its bare integer keys quoted, NUL-terminated (malloc'ed); NULL on ENOMEM. */
static char *quote_bare_keys(const char *text, size_t len)
{
    rk_buf_t out = {0};
    bare_keys(text, len, &out);
    if (rk_buf_cstr(&out) != RK_OK) {
        rk_buf_free(&out);
        return NULL;
    }
    return (char *)rk_buf_detach(&out, NULL);
}

cJSON *rk_json_parse(const char *text, size_t len)
{
    /* The usual text (every key quoted) is parsed where it lies: copying it
     * byte by byte was a third of the cost of decoding a JSON request header. */
    if (!bare_keys(text, len, NULL))
        return cJSON_ParseWithLength(text, len);
    char *fixed = quote_bare_keys(text, len);
    if (fixed == NULL)
        return NULL;
    cJSON *root = cJSON_Parse(fixed);
    free(fixed);
    return root;
}

static bool is_int_key(const char *s)
{
    if (*s == '-')
        s++;
    if (!isdigit((unsigned char)*s))
        return false;
    while (isdigit((unsigned char)*s))
        s++;
    return *s == '\0';
}

static void put_string(rk_buf_t *b, const char *s)
{
    rk_buf_put_u8(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': rk_buf_put_str(b, "\\\""); break;
        case '\\': rk_buf_put_str(b, "\\\\"); break;
        case '\n': rk_buf_put_str(b, "\\n"); break;
        case '\r': rk_buf_put_str(b, "\\r"); break;
        case '\t': rk_buf_put_str(b, "\\t"); break;
        case '\b': rk_buf_put_str(b, "\\b"); break;
        case '\f': rk_buf_put_str(b, "\\f"); break;
        default:
            if (*p < 0x20)
                rk_buf_printf(b, "\\u%04x", *p);
            else
                rk_buf_put_u8(b, *p);
        }
    }
    rk_buf_put_u8(b, '"');
}

static void put_number(rk_buf_t *b, double d)
{
    if (isfinite(d) && d == floor(d) && fabs(d) < 9.2e18)
        rk_buf_printf(b, "%" PRId64, (int64_t)d);
    else if (isfinite(d))
        rk_buf_printf(b, "%.17g", d);
    else
        rk_buf_put_str(b, "null");
}

static void indent(rk_buf_t *b, unsigned flags, int depth)
{
    if (!(flags & RK_JSON_PRETTY))
        return;
    rk_buf_put_u8(b, '\n');
    for (int i = 0; i < depth; i++)
        rk_buf_put_u8(b, '\t');
}

static void print_item(rk_buf_t *b, const cJSON *it, unsigned flags, int depth)
{
    if (cJSON_IsObject(it) || cJSON_IsArray(it)) {
        bool obj = cJSON_IsObject(it);
        rk_buf_put_u8(b, obj ? '{' : '[');
        const cJSON *c = it->child;
        for (; c != NULL; c = c->next) {
            indent(b, flags, depth + 1);
            if (obj) {
                const char *k = c->string ? c->string : "";
                if ((flags & RK_JSON_BARE_INT_KEYS) && is_int_key(k))
                    rk_buf_put_str(b, k);
                else
                    put_string(b, k);
                rk_buf_put_u8(b, ':');
            }
            print_item(b, c, flags, depth + 1);
            if (c->next)
                rk_buf_put_u8(b, ',');
        }
        if (it->child)
            indent(b, flags, depth);
        rk_buf_put_u8(b, obj ? '}' : ']');
    } else if (cJSON_IsString(it)) {
        put_string(b, it->valuestring ? it->valuestring : "");
    } else if (cJSON_IsNumber(it)) {
        put_number(b, it->valuedouble);
    } else if (cJSON_IsBool(it)) {
        rk_buf_put_str(b, cJSON_IsTrue(it) ? "true" : "false");
    } else {
        rk_buf_put_str(b, "null");
    }
}

char *rk_json_print(const cJSON *item, unsigned flags)
{
    rk_buf_t b = {0};
    print_item(&b, item, flags, 0);
    if (rk_buf_cstr(&b) != RK_OK) {
        rk_buf_free(&b);
        return NULL;
    }
    return (char *)rk_buf_detach(&b, NULL);
}

char *rk_json_to_string(const cJSON *item)
{
    if (item == NULL)
        return NULL;
    if (cJSON_IsString(item))
        return strdup(item->valuestring ? item->valuestring : "");
    if (cJSON_IsBool(item))
        return strdup(cJSON_IsTrue(item) ? "true" : "false");
    if (cJSON_IsNumber(item)) {
        rk_buf_t b = {0};
        put_number(&b, item->valuedouble);
        if (rk_buf_cstr(&b) != RK_OK) {
            rk_buf_free(&b);
            return NULL;
        }
        return (char *)rk_buf_detach(&b, NULL);
    }
    return NULL;
}

char *rk_json_get_strdup(const cJSON *obj, const char *key)
{
    return rk_json_to_string(cJSON_GetObjectItemCaseSensitive(obj, key));
}

const char *rk_json_get_str(const cJSON *obj, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

int rk_json_get_i64(const cJSON *obj, const char *key, int64_t *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (it == NULL)
        return RK_ENOTFOUND;
    if (cJSON_IsNumber(it)) {
        /* Only an integral double inside int64_t's range may be cast: 1e300,
         * inf or 2^63 cast to an integer is undefined behaviour. */
        double d = it->valuedouble;
        if (!isfinite(d) || d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
            return RK_EINVAL;
        *out = (int64_t)d;
        return RK_OK;
    }
    if (cJSON_IsString(it)) {
        const char *s = it->valuestring;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || *end != '\0')
            return RK_EINVAL;
        *out = v;
        return RK_OK;
    }
    if (cJSON_IsBool(it)) {
        *out = cJSON_IsTrue(it);
        return RK_OK;
    }
    return RK_EINVAL;
}

int rk_json_get_bool(const cJSON *obj, const char *key, bool *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (it == NULL)
        return RK_ENOTFOUND;
    if (cJSON_IsBool(it)) {
        *out = cJSON_IsTrue(it);
        return RK_OK;
    }
    if (cJSON_IsNumber(it)) {
        *out = it->valuedouble != 0;
        return RK_OK;
    }
    if (cJSON_IsString(it))
        return rk_parse_bool(it->valuestring, out) == RK_OK ? RK_OK : RK_EINVAL;
    return RK_EINVAL;
}

cJSON *rk_json_add_i64(cJSON *obj, const char *key, int64_t v)
{
    return cJSON_AddNumberToObject(obj, key, (double)v);
}
