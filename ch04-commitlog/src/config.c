/* config.c — key=value files and schema-driven config structs (see rk/config.h). */
#include "rk/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/grow.h"
#include "rk/log.h"

void rk_kv_init(rk_kv_t *kv) { memset(kv, 0, sizeof *kv); }

void rk_kv_free(rk_kv_t *kv)
{
    for (size_t i = 0; i < kv->len; i++) {
        free(kv->items[i].key);
        free(kv->items[i].value);
    }
    free(kv->items);
    memset(kv, 0, sizeof *kv);
}

static rk_kv_entry_t *kv_find(const rk_kv_t *kv, const char *key)
{
    for (size_t i = 0; i < kv->len; i++)
        if (strcmp(kv->items[i].key, key) == 0)
            return &kv->items[i];
    return NULL;
}

int rk_kv_set(rk_kv_t *kv, const char *key, const char *value)
{
    char *v = strdup(value);
    if (v == NULL)
        return RK_ENOMEM;
    rk_kv_entry_t *e = kv_find(kv, key);
    if (e != NULL) {
        free(e->value);
        e->value = v;
        return RK_OK;
    }
    if (RK_GROW(kv->items, kv->cap, kv->len + 1, 16) != RK_OK) {
        free(v);
        return RK_ENOMEM;
    }
    char *k = strdup(key);
    if (k == NULL) {
        free(v);
        return RK_ENOMEM;
    }
    kv->items[kv->len++] = (rk_kv_entry_t){k, v, false};
    return RK_OK;
}

const char *rk_kv_get(const rk_kv_t *kv, const char *key)
{
    rk_kv_entry_t *e = kv_find(kv, key);
    return e ? e->value : NULL;
}

static char *trim(char *s, char *end)
{
    while (s < end && isspace((unsigned char)*s))
        s++;
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    *end = '\0';
    return s;
}

int rk_kv_parse(rk_kv_t *kv, const char *text, char *err, size_t errlen)
{
    char *copy = strdup(text);
    if (copy == NULL)
        return RK_ENOMEM;
    int rc = RK_OK, lineno = 0;
    char *save = NULL;
    for (char *line = copy, *next; line != NULL && rc == RK_OK; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        lineno++;
        char *s = trim(line, line + strlen(line));
        if (*s == '\0' || *s == '#' || *s == '!')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "line %d: expected key=value, got \"%.60s\"", lineno, s);
            rc = RK_EBADCONFIG;
            break;
        }
        char *key = trim(s, eq);
        char *val = trim(eq + 1, eq + 1 + strlen(eq + 1));
        if (*key == '\0') {
            snprintf(err, errlen, "line %d: empty key", lineno);
            rc = RK_EBADCONFIG;
            break;
        }
        rc = rk_kv_set(kv, key, val);
    }
    (void)save;
    free(copy);
    return rc;
}

int rk_kv_load_file(rk_kv_t *kv, const char *path, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int rc = rk_file_read_all(path, &text, &len);
    if (rc != RK_OK) {
        snprintf(err, errlen, "%s: %s", path, rk_strerror(rc));
        return rc;
    }
    char inner[200] = "";
    rc = rk_kv_parse(kv, text, inner, sizeof inner);
    if (rc != RK_OK)
        snprintf(err, errlen, "%s: %s", path, inner);
    free(text);
    return rc;
}

int rk_kv_warn_unused(const rk_kv_t *kv, const char *module)
{
    int n = 0;
    for (size_t i = 0; i < kv->len; i++)
        if (!kv->items[i].used) {
            rk_log_warn(module, "unknown config key \"%s\" ignored", kv->items[i].key);
            n++;
        }
    return n;
}

#define EDIT_MAX_LEN 128

size_t rk_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > EDIT_MAX_LEN || lb > EDIT_MAX_LEN)
        return SIZE_MAX;
    /* optimal string alignment: three rows of the classic table */
    size_t rows[3][EDIT_MAX_LEN + 1];
    size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        int ca = tolower((unsigned char)a[i - 1]);
        for (size_t j = 1; j <= lb; j++) {
            int cb = tolower((unsigned char)b[j - 1]);
            size_t best = prev[j - 1] + (ca != cb);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

const char *rk_config_suggest(const rk_config_field_t *const *tables, const char *key)
{
    size_t len = strlen(key);
    size_t limit = len <= 4 ? 1 : len <= 12 ? 2 : 3;
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t t = 0; tables != NULL && tables[t] != NULL; t++)
        for (const rk_config_field_t *f = tables[t]; f->key != NULL; f++) {
            size_t d = rk_edit_distance(key, f->key);
            if (d <= limit && d < best_d) {
                best = f->key;
                best_d = d;
            }
        }
    return best;
}

int rk_kv_warn_unused_suggest(const rk_kv_t *kv, const char *module, const rk_config_field_t *const *tables)
{
    int n = 0;
    for (size_t i = 0; i < kv->len; i++) {
        if (kv->items[i].used)
            continue;
        const char *s = rk_config_suggest(tables, kv->items[i].key);
        if (s != NULL && kv_find(kv, s) == NULL)
            rk_log_warn(module, "unknown config key \"%s\" ignored: did you mean %s?", kv->items[i].key, s);
        else if (s != NULL)
            rk_log_warn(module, "unknown config key \"%s\" ignored: did you mean %s? (%s is set as well)",
                        kv->items[i].key, s, s);
        else
            rk_log_warn(module, "unknown config key \"%s\" ignored", kv->items[i].key);
        n++;
    }
    return n;
}

int rk_parse_int(const char *s, int64_t *out)
{
    if (s == NULL || *s == '\0')
        return RK_EINVAL;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s)
        return RK_EINVAL;
    int64_t mul = 1;
    if (*end != '\0') {
        switch (tolower((unsigned char)*end)) {
        case 'k': mul = 1024; break;
        case 'm': mul = 1024 * 1024; break;
        case 'g': mul = 1024LL * 1024 * 1024; break;
        default: return RK_EINVAL;
        }
        end++;
        if (*end == 'b' || *end == 'B')
            end++;
        if (*end != '\0')
            return RK_EINVAL;
    }
    if (v > INT64_MAX / mul || v < INT64_MIN / mul)
        return RK_EINVAL;
    *out = (int64_t)v * mul;
    return RK_OK;
}

int rk_parse_bool(const char *s, bool *out)
{
    if (s == NULL)
        return RK_EINVAL;
    if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0 || strcasecmp(s, "yes") == 0) {
        *out = true;
        return RK_OK;
    }
    if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0 || strcasecmp(s, "no") == 0) {
        *out = false;
        return RK_OK;
    }
    return RK_EINVAL;
}

static int field_set(const rk_config_field_t *f, void *obj, const char *text, char *err,
                     size_t errlen)
{
    char *base = (char *)obj + f->offset;
    switch (f->type) {
    case RK_CFG_INT: {
        int64_t v;
        if (rk_parse_int(text, &v) != RK_OK) {
            snprintf(err, errlen, "%s: \"%s\" is not a number", f->key, text);
            return RK_EBADCONFIG;
        }
        if (f->min > f->max) {      /* a table bug: every number read from a file has bounds */
            snprintf(err, errlen, "%s: the field has no range in its table", f->key);
            return RK_EINVAL;
        }
        if (v < f->min || v > f->max) {
            snprintf(err, errlen, "%s: %" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]",
                     f->key, v, f->min, f->max);
            return RK_EBADCONFIG;
        }
        *(int64_t *)base = v;
        return RK_OK;
    }
    case RK_CFG_BOOL:
        if (rk_parse_bool(text, (bool *)base) != RK_OK) {
            snprintf(err, errlen, "%s: \"%s\" is not true or false", f->key, text);
            return RK_EBADCONFIG;
        }
        return RK_OK;
    case RK_CFG_STR: {
        char *s = strdup(text);
        if (s == NULL)
            return RK_ENOMEM;
        free(*(char **)base);
        *(char **)base = s;
        return RK_OK;
    }
    case RK_CFG_ENUM:
        for (int i = 0; f->choices[i] != NULL; i++)
            if (strcasecmp(f->choices[i], text) == 0) {
                *(int *)base = i;
                return RK_OK;
            }
        {
            int n = snprintf(err, errlen, "%s: \"%s\" is not one of", f->key, text);
            for (int i = 0; f->choices[i] != NULL && n > 0 && (size_t)n < errlen; i++)
                n += snprintf(err + n, errlen - (size_t)n, " %s", f->choices[i]);
        }
        return RK_EBADCONFIG;
    }
    return RK_EINVAL;
}

int rk_config_defaults(const rk_config_field_t *fields, void *obj)
{
    char err[160];
    for (const rk_config_field_t *f = fields; f->key != NULL; f++) {
        if (f->type == RK_CFG_STR) {
            *(char **)((char *)obj + f->offset) = NULL;   /* obj may be uninitialised */
            if (f->def == NULL)
                continue;
        }
        int rc = field_set(f, obj, f->def ? f->def : "0", err, sizeof err);
        if (rc != RK_OK)
            return rc;
    }
    return RK_OK;
}

int rk_config_apply(const rk_config_field_t *fields, void *obj, rk_kv_t *kv, char *err,
                    size_t errlen)
{
    for (const rk_config_field_t *f = fields; f->key != NULL; f++) {
        rk_kv_entry_t *e = kv_find(kv, f->key);
        if (e == NULL)
            continue;
        e->used = true;
        int rc = field_set(f, obj, e->value, err, errlen);
        if (rc != RK_OK)
            return rc;
    }
    return RK_OK;
}

void rk_config_print(const rk_config_field_t *fields, const void *obj, FILE *out)
{
    for (const rk_config_field_t *f = fields; f->key != NULL; f++) {
        const char *base = (const char *)obj + f->offset;
        switch (f->type) {
        case RK_CFG_INT: fprintf(out, "%s=%" PRId64 "\n", f->key, *(const int64_t *)base); break;
        case RK_CFG_BOOL: fprintf(out, "%s=%s\n", f->key, *(const bool *)base ? "true" : "false"); break;
        case RK_CFG_STR: {
            const char *s = *(char *const *)base;
            fprintf(out, "%s=%s\n", f->key, s ? s : "");
            break;
        }
        case RK_CFG_ENUM: fprintf(out, "%s=%s\n", f->key, f->choices[*(const int *)base]); break;
        }
    }
}

void rk_config_free(const rk_config_field_t *fields, void *obj)
{
    for (const rk_config_field_t *f = fields; f->key != NULL; f++)
        if (f->type == RK_CFG_STR) {
            char **p = (char **)((char *)obj + f->offset);
            free(*p);
            *p = NULL;
        }
}

int rk_config_print_kv(const rk_config_field_t *fields, rk_kv_t *kv, FILE *out, char *err, size_t errlen)
{
    size_t size = sizeof(int64_t);
    for (const rk_config_field_t *f = fields; f->key != NULL; f++)
        if (f->offset + sizeof(int64_t) > size)
            size = f->offset + sizeof(int64_t);        /* no field type is wider than 8 bytes */
    void *obj = calloc(1, size);
    if (obj == NULL)
        return RK_ENOMEM;
    int rc = rk_config_defaults(fields, obj);
    if (rc == RK_OK)
        rc = rk_config_apply(fields, obj, kv, err, errlen);
    if (rc == RK_OK)
        rk_config_print(fields, obj, out);
    rk_config_free(fields, obj);
    free(obj);
    return rc;
}

void rk_config_usage(const rk_config_field_t *fields, int width, FILE *out)
{
    for (const rk_config_field_t *f = fields; f->key != NULL; f++)
        fprintf(out, "  %-*s %s (default %s)\n", width, f->key, f->help ? f->help : "", f->def && *f->def ? f->def : "-");
}

int rk_config_args(const char *prog, int argc, char **argv, const rk_config_flag_t *flags, rk_kv_t *kv,
                   const char **file, bool *print, void (*usage)(FILE *f, const void *ctx), const void *ctx)
{
    char err[512] = "";
    int rc = RK_OK;
    *file = NULL;
    *print = false;
    for (int i = 1; i < argc && rc == RK_OK; i++) {
        const rk_config_flag_t *fl = flags;
        while (fl != NULL && fl->flag != NULL && strcmp(argv[i], fl->flag) != 0)
            fl++;
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            *file = argv[++i];
            rc = rk_kv_load_file(kv, *file, err, sizeof err);
        } else if (fl != NULL && fl->flag != NULL && i + 1 < argc) {
            rc = rk_kv_set(kv, fl->key, argv[++i]);
        } else if (strcmp(argv[i], "-p") == 0) {
            *print = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout, ctx);
            return 0;
        } else {
            fprintf(stderr, "%s: unknown argument \"%s\"\n", prog, argv[i]);
            usage(stderr, ctx);
            return 2;
        }
    }
    if (rc != RK_OK) {
        fprintf(stderr, "%s: %s\n", prog, err[0] ? err : rk_strerror(rc));
        return 1;
    }
    return -1;
}
