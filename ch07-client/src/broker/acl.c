/* acl.c — the broker's plain ACL: plain_acl.yml through libyaml, white-list
 * patterns, the per-request check, and the broker module that installs it
 * and re-reads the file when it changes (see rk/acl.h). */
#include "rk/acl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "rk/acl_sign.h"
#include "rk/client_manager.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/request_code.h"
#include "rk/strmap.h"

#define RETRY_PREFIX "%RETRY%"
#define TRACE_TOPIC "RMQ_SYS_TRACE_TOPIC"
#define UNIQUE_KEY_QUERY "_UNIQUE_KEY_QUERY"
#define KEY_MAX 256                 /* accessKey, secretKey, resource names */

/* ------------------------------------------------------------ white-list patterns */

/* One alternative of a pattern: the values each of the 4 octets may take. */
typedef struct ip_alt {
    uint8_t bits[4][32];
} ip_alt_t;

typedef struct ip_pat {
    ip_alt_t *alts;
    size_t n;                       /* 0: matches nothing (a blank pattern) */
} ip_pat_t;

static void bit_set(uint8_t *bits, unsigned v) { bits[v >> 3] |= (uint8_t)(1u << (v & 7)); }
static bool bit_get(const uint8_t *bits, unsigned v) { return bits[v >> 3] >> (v & 7) & 1; }

/* A decimal 0..255 of 1-3 digits spanning exactly s[0..n). */
static bool octet_num(const char *s, size_t n, unsigned *out)
{
    if (n == 0 || n > 3)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return v <= 255;
}

/* "*", "n", "a-b" or "{a,b,c}" */
static bool octet_spec(const char *s, size_t n, uint8_t *bits)
{
    unsigned a, b;
    if (n == 1 && s[0] == '*') {
        memset(bits, 0xff, 32);
        return true;
    }
    if (n >= 2 && s[0] == '{' && s[n - 1] == '}') {
        size_t i = 1;
        while (i < n - 1) {
            size_t j = i;
            while (j < n - 1 && s[j] != ',')
                j++;
            if (!octet_num(s + i, j - i, &a))
                return false;
            bit_set(bits, a);
            i = j + 1;
            if (j < n - 1 && i == n - 1)    /* trailing comma */
                return false;
        }
        return true;
    }
    const char *dash = memchr(s, '-', n);
    if (dash != NULL) {
        if (!octet_num(s, (size_t)(dash - s), &a) || !octet_num(dash + 1, n - (size_t)(dash - s) - 1, &b) || a > b)
            return false;
        for (unsigned v = a; v <= b; v++)
            bit_set(bits, v);
        return true;
    }
    if (!octet_num(s, n, &a))
        return false;
    bit_set(bits, a);
    return true;
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

static bool alt_parse(const char *s, size_t n, ip_alt_t *alt)
{
    memset(alt, 0, sizeof *alt);
    trim(&s, &n);
    if (n == 1 && s[0] == '*') {        /* "*" alone: every address */
        memset(alt->bits, 0xff, sizeof alt->bits);
        return true;
    }
    int part = 0;
    for (size_t i = 0; i <= n; part++) {
        size_t j = i;
        while (j < n && s[j] != '.')
            j++;
        if (part == 4 || !octet_spec(s + i, j - i, alt->bits[part]))
            return false;
        i = j + 1;
    }
    return part == 4;
}

/* Parses pattern into *pat (pat may be NULL to only validate). */
static bool pat_parse(const char *pattern, ip_pat_t *pat)
{
    size_t n = strlen(pattern);
    const char *s = pattern;
    trim(&s, &n);
    if (pat != NULL)
        *pat = (ip_pat_t){0};
    if (n == 0)
        return true;
    size_t nalts = 1;
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '{')
            depth++;
        else if (s[i] == '}')
            depth--;
        else if (s[i] == ',' && depth == 0)
            nalts++;
        if (depth < 0 || depth > 1)
            return false;
    }
    ip_alt_t *alts = calloc(nalts, sizeof *alts);
    if (alts == NULL)
        return false;
    size_t k = 0, i = 0;
    depth = 0;
    bool ok = true;
    for (size_t j = 0; j <= n && ok; j++) {
        if (j < n && s[j] == '{')
            depth++;
        else if (j < n && s[j] == '}')
            depth--;
        if (j == n || (s[j] == ',' && depth == 0)) {
            ok = alt_parse(s + i, j - i, &alts[k++]);
            i = j + 1;
        }
    }
    if (!ok || pat == NULL) {
        free(alts);
        return ok;
    }
    pat->alts = alts;
    pat->n = k;
    return true;
}

static bool pat_match(const ip_pat_t *pat, const uint8_t ip[4])
{
    for (size_t i = 0; i < pat->n; i++)
        if (bit_get(pat->alts[i].bits[0], ip[0]) && bit_get(pat->alts[i].bits[1], ip[1]) &&
            bit_get(pat->alts[i].bits[2], ip[2]) && bit_get(pat->alts[i].bits[3], ip[3]))
            return true;
    return false;
}

/* "1.2.3.4" or "1.2.3.4:port" -> 4 bytes. */
static bool peer_ipv4(const char *peer, uint8_t out[4])
{
    char ip[64];
    snprintf(ip, sizeof ip, "%s", peer);
    char *colon = strrchr(ip, ':');
    if (colon != NULL && strchr(ip, ':') == colon)
        *colon = '\0';
    return inet_pton(AF_INET, ip, out) == 1;
}

bool rk_acl_ip_pattern(const char *pattern, const char *ip, bool *match)
{
    ip_pat_t p;
    if (!pat_parse(pattern, &p))
        return false;
    if (match != NULL) {
        uint8_t a[4];
        *match = peer_ipv4(ip, a) && pat_match(&p, a);
    }
    free(p.alts);
    return true;
}

/* ------------------------------------------------------------ the rules */

typedef struct account {
    char *ak, *sk;
    ip_pat_t white;
    bool admin;
    uint8_t def_topic, def_group;
    rk_strmap_t perms;              /* topic, or %RETRY%group -> (void *)(uintptr_t)perm */
} account_t;

struct rk_acl {
    ip_pat_t *global;
    size_t nglobal;
    account_t *acc;
    size_t nacc;
    rk_strmap_t by_ak;              /* accessKey -> account_t * */
};

void rk_acl_free(rk_acl_t *acl)
{
    if (acl == NULL)
        return;
    for (size_t i = 0; i < acl->nglobal; i++)
        free(acl->global[i].alts);
    free(acl->global);
    for (size_t i = 0; i < acl->nacc; i++) {
        account_t *a = &acl->acc[i];
        free(a->ak);
        if (a->sk != NULL) {
            memset(a->sk, 0, strlen(a->sk));
            free(a->sk);
        }
        free(a->white.alts);
        rk_strmap_free(&a->perms, NULL);
    }
    free(acl->acc);
    rk_strmap_free(&acl->by_ak, NULL);
    free(acl);
}

size_t rk_acl_accounts(const rk_acl_t *acl) { return acl ? acl->nacc : 0; }

/* ------------------------------------------------------------ plain_acl.yml */

typedef struct yctx {
    yaml_document_t *doc;
    char *err;
    size_t errlen;
    size_t entries;
} yctx_t;

__attribute__((format(printf, 3, 4))) static int yfail(yctx_t *y, const yaml_node_t *at, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (at != NULL)
        snprintf(y->err, y->errlen, "line %zu: %s", at->start_mark.line + 1, msg);
    else
        snprintf(y->err, y->errlen, "%s", msg);
    return RK_EBADCONFIG;
}

static bool yscalar(const yaml_node_t *n) { return n != NULL && n->type == YAML_SCALAR_NODE; }

static const char *ystr(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

/* A YAML null: an empty plain scalar, "~" or "null". */
static bool ynull(const yaml_node_t *n)
{
    if (!yscalar(n) || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = ystr(n);
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

/* A scalar without NUL or control bytes, at most KEY_MAX bytes. */
static bool yclean(const yaml_node_t *n)
{
    if (!yscalar(n) || n->data.scalar.length > KEY_MAX || strlen(ystr(n)) != n->data.scalar.length)
        return false;
    for (const unsigned char *p = n->data.scalar.value; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static int count_entry(yctx_t *y, const yaml_node_t *at)
{
    if (++y->entries > RK_ACL_MAX_ENTRIES)
        return yfail(y, at, "more than %d entries", RK_ACL_MAX_ENTRIES);
    return RK_OK;
}

static int parse_perm(const char *s, uint8_t *out)
{
    char t[16];
    size_t n = strlen(s);
    trim(&s, &n);
    if (n >= sizeof t)
        return RK_EINVAL;
    memcpy(t, s, n);
    t[n] = '\0';
    if (strcmp(t, "PUB") == 0)
        *out = RK_PERM_PUB;
    else if (strcmp(t, "SUB") == 0)
        *out = RK_PERM_SUB;
    else if (strcmp(t, "PUB|SUB") == 0 || strcmp(t, "SUB|PUB") == 0)
        *out = RK_PERM_PUB | RK_PERM_SUB;
    else if (strcmp(t, "DENY") == 0)
        *out = RK_PERM_DENY;
    else
        return RK_EINVAL;
    return RK_OK;
}

/* A list (sequence of scalars, or null) -> calls fn on each item. */
static int ylist(yctx_t *y, const yaml_node_t *n, const char *what, int (*fn)(yctx_t *, const yaml_node_t *, void *),
                 void *arg)
{
    if (ynull(n))
        return RK_OK;
    if (n->type != YAML_SEQUENCE_NODE)
        return yfail(y, n, "%s must be a list", what);
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        const yaml_node_t *item = yaml_document_get_node(y->doc, *it);
        if (!yclean(item))
            return yfail(y, item ? item : n, "%s: each item must be a short single-line text", what);
        int rc = count_entry(y, item);
        if (rc == RK_OK)
            rc = fn(y, item, arg);
        if (rc != RK_OK)
            return rc;
    }
    return RK_OK;
}

static int add_global(yctx_t *y, const yaml_node_t *item, void *arg)
{
    rk_acl_t *acl = arg;
    ip_pat_t p;
    if (!pat_parse(ystr(item), &p))
        return yfail(y, item, "globalWhiteRemoteAddresses: \"%s\" is not an IPv4 address pattern", ystr(item));
    ip_pat_t *g = realloc(acl->global, (acl->nglobal + 1) * sizeof *g);
    if (g == NULL) {
        free(p.alts);
        return RK_ENOMEM;
    }
    acl->global = g;
    g[acl->nglobal++] = p;
    return RK_OK;
}

typedef struct perm_arg {
    account_t *a;
    bool group;
} perm_arg_t;

static int add_perm(yctx_t *y, const yaml_node_t *item, void *arg)
{
    perm_arg_t *pa = arg;
    const char *what = pa->group ? "groupPerms" : "topicPerms";
    const char *s = ystr(item), *eq = strchr(s, '=');
    if (eq == NULL || strchr(eq + 1, '='))
        return yfail(y, item, "%s: \"%s\" is not NAME=PERM (e.g. topicA=PUB|SUB)", what, s);
    const char *name = s;
    size_t nlen = (size_t)(eq - s);
    trim(&name, &nlen);
    uint8_t perm;
    if (nlen == 0)
        return yfail(y, item, "%s: \"%s\" has no name before '='", what, s);
    if (parse_perm(eq + 1, &perm) != RK_OK)
        return yfail(y, item, "%s: \"%s\": permission must be PUB, SUB, PUB|SUB or DENY", what, s);
    char key[sizeof RETRY_PREFIX + KEY_MAX];
    snprintf(key, sizeof key, "%s%.*s", pa->group ? RETRY_PREFIX : "", (int)nlen, name);
    return rk_strmap_put(&pa->a->perms, key, (void *)(uintptr_t)perm, NULL);
}

static int parse_account(yctx_t *y, rk_acl_t *acl, const yaml_node_t *n, size_t idx)
{
    if (n == NULL || n->type != YAML_MAPPING_NODE)
        return yfail(y, n, "accounts: item %zu must be a map (accessKey: ..., secretKey: ...)", idx + 1);
    account_t *a = &acl->acc[acl->nacc++];
    rk_strmap_init(&a->perms);
    a->def_topic = a->def_group = RK_PERM_DENY;     /* RocketMQ: an absent default is DENY */
    const yaml_node_t *topics = NULL, *groups = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(y->doc, p->key), *v = yaml_document_get_node(y->doc, p->value);
        if (!yscalar(k) || v == NULL)
            return yfail(y, n, "accounts: item %zu: keys must be plain names", idx + 1);
        const char *key = ystr(k);
        if (strcmp(key, "topicPerms") == 0 || strcmp(key, "groupPerms") == 0) {
            *(key[0] == 't' ? &topics : &groups) = v;
            continue;
        }
        static const char *const known[] = {"accessKey", "secretKey", "whiteRemoteAddress", "admin",
                                            "defaultTopicPerm", "defaultGroupPerm", NULL};
        bool is_known = false;
        for (int i = 0; known[i] && !is_known; i++)
            is_known = strcmp(key, known[i]) == 0;
        if (!is_known)
            return yfail(y, k, "accounts: item %zu: unknown key \"%.64s\"", idx + 1, key);
        if (!yscalar(v))
            return yfail(y, v, "accounts: item %zu: %s must be a single value", idx + 1, key);
        if (strcmp(key, "accessKey") == 0) {
            if (!yclean(v) || v->data.scalar.length == 0)
                return yfail(y, v, "accounts: item %zu: accessKey must be 1..%d printable characters", idx + 1, KEY_MAX);
            free(a->ak);
            if ((a->ak = strdup(ystr(v))) == NULL)
                return RK_ENOMEM;
        } else if (strcmp(key, "secretKey") == 0) {
            /* the value is never quoted in a message */
            if (!yclean(v) || v->data.scalar.length < 6)
                return yfail(y, v, "accounts: item %zu: secretKey must be 6..%d printable characters", idx + 1,
                             KEY_MAX);
            free(a->sk);
            if ((a->sk = strdup(ystr(v))) == NULL)
                return RK_ENOMEM;
        } else if (strcmp(key, "whiteRemoteAddress") == 0) {
            free(a->white.alts);
            a->white = (ip_pat_t){0};
            if (!ynull(v) && (!yclean(v) || !pat_parse(ystr(v), &a->white)))
                return yfail(y, v, "accounts: item %zu: whiteRemoteAddress \"%.64s\" is not an IPv4 address pattern",
                             idx + 1, ystr(v));
        } else if (strcmp(key, "admin") == 0) {
            const char *s = ystr(v);
            if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
                a->admin = true;
            else if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0 || ynull(v))
                a->admin = false;
            else
                return yfail(y, v, "accounts: item %zu: admin must be true or false", idx + 1);
        } else if (strcmp(key, "defaultTopicPerm") == 0 || strcmp(key, "defaultGroupPerm") == 0) {
            uint8_t *dst = key[7] == 'T' ? &a->def_topic : &a->def_group;
            if (ynull(v))
                *dst = RK_PERM_DENY;
            else if (parse_perm(ystr(v), dst) != RK_OK)
                return yfail(y, v, "accounts: item %zu: %s must be PUB, SUB, PUB|SUB or DENY", idx + 1, key);
        } else {
            return yfail(y, k, "accounts: item %zu: unknown key \"%.64s\"", idx + 1, key);
        }
    }
    if (a->ak == NULL || a->sk == NULL)
        return yfail(y, n, "accounts: item %zu: accessKey and secretKey are required", idx + 1);
    perm_arg_t pa = {a, false};
    int rc = topics ? ylist(y, topics, "topicPerms", add_perm, &pa) : RK_OK;
    pa.group = true;
    if (rc == RK_OK && groups)
        rc = ylist(y, groups, "groupPerms", add_perm, &pa);
    if (rc != RK_OK)
        return rc;
    void *old = NULL;
    if ((rc = rk_strmap_put(&acl->by_ak, a->ak, a, &old)) != RK_OK)
        return rc;
    if (old != NULL)
        return yfail(y, n, "accounts: accessKey \"%s\" appears twice", a->ak);
    return RK_OK;
}

static int parse_doc(yctx_t *y, rk_acl_t *acl)
{
    const yaml_node_t *root = yaml_document_get_root_node(y->doc);
    if (root == NULL || ynull(root))
        return RK_OK;       /* an empty file: no accounts, only nothing passes */
    if (root->type != YAML_MAPPING_NODE)
        return yfail(y, root, "the file must be a map (globalWhiteRemoteAddresses:, accounts:)");
    const yaml_node_t *accounts = NULL;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(y->doc, p->key), *v = yaml_document_get_node(y->doc, p->value);
        if (!yscalar(k) || v == NULL)
            return yfail(y, root, "top-level keys must be plain names");
        const char *key = ystr(k);
        int rc = RK_OK;
        if (strcmp(key, "globalWhiteRemoteAddresses") == 0)
            rc = ylist(y, v, key, add_global, acl);
        else if (strcmp(key, "accounts") == 0)
            accounts = v;
        else if (strcmp(key, "dataVersion") == 0)
            ;   /* RocketMQ's updateAclConfig writes it; nothing to check */
        else
            rc = yfail(y, k, "unknown key \"%.64s\" (expected globalWhiteRemoteAddresses, accounts)", key);
        if (rc != RK_OK)
            return rc;
    }
    if (accounts == NULL || ynull(accounts))
        return RK_OK;
    if (accounts->type != YAML_SEQUENCE_NODE)
        return yfail(y, accounts, "accounts must be a list");
    size_t n = (size_t)(accounts->data.sequence.items.top - accounts->data.sequence.items.start);
    if (n > RK_ACL_MAX_ENTRIES)
        return yfail(y, accounts, "more than %d accounts", RK_ACL_MAX_ENTRIES);
    if (n > 0 && (acl->acc = calloc(n, sizeof *acl->acc)) == NULL)
        return RK_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int rc = count_entry(y, accounts);
        if (rc == RK_OK)
            rc = parse_account(y, acl, yaml_document_get_node(y->doc, accounts->data.sequence.items.start[i]), i);
        if (rc != RK_OK)
            return rc;
    }
    return RK_OK;
}

int rk_acl_parse(const char *text, size_t len, rk_acl_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (len > RK_ACL_FILE_MAX) {
        snprintf(err, errlen, "the file is over %d bytes", RK_ACL_FILE_MAX);
        return RK_EBADCONFIG;
    }
    rk_acl_t *acl = calloc(1, sizeof *acl);
    if (acl == NULL)
        return RK_ENOMEM;
    rk_strmap_init(&acl->by_ak);
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        free(acl);
        return RK_ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc;
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "line %zu: YAML: %s%s%s", parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "malformed", parser.context ? " " : "",
                 parser.context ? parser.context : "");
        rc = RK_EBADCONFIG;
    } else {
        yctx_t y = {&doc, err, errlen, 0};
        rc = parse_doc(&y, acl);
        yaml_document_delete(&doc);
        if (rc == RK_ENOMEM)
            snprintf(err, errlen, "out of memory");
    }
    yaml_parser_delete(&parser);
    if (rc != RK_OK) {
        rk_acl_free(acl);
        return rc;
    }
    *out = acl;
    return RK_OK;
}

int rk_acl_load_file(const char *path, rk_acl_t **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    char *buf = malloc(RK_ACL_FILE_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        return RK_ENOMEM;
    }
    size_t n = fread(buf, 1, RK_ACL_FILE_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    int rc;
    if (bad) {
        snprintf(err, errlen, "%s: read error", path);
        rc = -EIO;
    } else {
        char why[400];
        rc = rk_acl_parse(buf, n, out, why, sizeof why);
        if (rc != RK_OK)
            snprintf(err, errlen, "%s: %s", path, why);
    }
    free(buf);
    return rc;
}

/* ------------------------------------------------------------ the check */

/* What a request code needs, RocketMQ's PlainAccessValidator.parse (plus
 * SEND_BATCH_MESSAGE, which RocketMQ 4.9 leaves unchecked). */
static bool needs_admin(int32_t code)
{
    switch (code) {
    case RK_REQ_UPDATE_AND_CREATE_TOPIC:        /* 17 */
    case 25:                                    /* UPDATE_BROKER_CONFIG */
    case 215:                                   /* DELETE_TOPIC_IN_BROKER */
    case 200:                                   /* UPDATE_AND_CREATE_SUBSCRIPTIONGROUP */
    case 207:                                   /* DELETE_SUBSCRIPTIONGROUP */
    case 222:                                   /* INVOKE_BROKER_TO_RESET_OFFSET (rocklet: rewrites a group's offsets) */
        return true;
    default:
        return false;
    }
}

typedef struct check {
    const account_t *a;
    int32_t code;
    char *remark;
    size_t len;
} check_t;

static bool is_retry(const char *res) { return strncmp(res, RETRY_PREFIX, strlen(RETRY_PREFIX)) == 0; }

/* Permission.checkPermission */
static bool perm_ok(uint8_t need, uint8_t owned)
{
    if (owned & RK_PERM_DENY)
        return false;
    if (need & RK_PERM_ANY)
        return (owned & (RK_PERM_PUB | RK_PERM_SUB)) != 0;
    return (need & owned) != 0;
}

/* Printable prefix of a hostile string, for a remark or a log line. */
static const char *shown(const char *s, char *buf, size_t len)
{
    size_t i = 0;
    for (; s[i] && i + 1 < len; i++)
        buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    buf[i] = '\0';
    return buf;
}

/* One resource: a topic, or "%RETRY%group" for a group. false (remark written) if refused. */
static bool need(check_t *k, const char *res, uint8_t perm)
{
    if (res == NULL || res[0] == '\0')
        return true;        /* the processor refuses a request without it */
    bool group = is_retry(res);
    void *v = rk_strmap_get(&k->a->perms, res);
    uint8_t owned = v ? (uint8_t)(uintptr_t)v : group ? k->a->def_group : k->a->def_topic;
    if (perm_ok(perm, owned))
        return true;
    char name[201];
    shown(group ? res + strlen(RETRY_PREFIX) : res, name, sizeof name);
    snprintf(k->remark, k->len, "[ACL] accessKey=%s has no %s permission on %s %s (%s, request code %d)", k->a->ak,
             perm == RK_PERM_PUB ? "PUB" : "SUB", group ? "group" : "topic", name,
             v ? (group ? "groupPerms" : "topicPerms") : (group ? "defaultGroupPerm" : "defaultTopicPerm"), k->code);
    return false;
}

static bool need_group(check_t *k, const char *group)
{
    if (group == NULL || group[0] == '\0')
        return true;
    char res[sizeof RETRY_PREFIX + 512];
    if (strlen(group) > 500) {
        snprintf(k->remark, k->len, "[ACL] group name too long (request code %d)", k->code);
        return false;
    }
    snprintf(res, sizeof res, "%s%s", RETRY_PREFIX, group);
    return need(k, res, RK_PERM_SUB);
}

/* A send: PUB on the topic, or for a retry topic SUB on its group. */
static bool need_send(check_t *k, const char *topic)
{
    if (topic != NULL && is_retry(topic))
        return need(k, topic, RK_PERM_SUB);
    return need(k, topic, RK_PERM_PUB);
}

static bool resources_ok(check_t *k, const rk_cmd_t *req)
{
    const char *(*get)(const rk_cmd_t *, const char *) = rk_cmd_ext_get;
    switch (req->code) {
    case RK_REQ_SEND_MESSAGE:
    case RK_REQ_SEND_MESSAGE_V2:
    case RK_REQ_SEND_BATCH_MESSAGE:
        /* The send processor takes the topic from "b" (V2's short name) or else "topic", under
         * any of the three codes, as RocketMQ's header decoding lets a client do: whichever
         * names are present must each be allowed, or a client would name an allowed topic in
         * one field and write to a denied one through the other. */
        return need_send(k, get(req, "topic")) && need_send(k, get(req, "b"));
    case RK_REQ_CONSUMER_SEND_MSG_BACK:
        return need_group(k, get(req, "group"));
    case RK_REQ_PULL_MESSAGE:
        return need(k, get(req, "topic"), RK_PERM_SUB) && need_group(k, get(req, "consumerGroup"));
    case RK_REQ_QUERY_MESSAGE:
        return need(k, get(req, "topic"), RK_PERM_SUB);
    case RK_REQ_UNREGISTER_CLIENT:
    case RK_REQ_GET_CONSUMER_LIST_BY_GROUP:
        return need_group(k, get(req, "consumerGroup"));
    case RK_REQ_UPDATE_CONSUMER_OFFSET:
        return need_group(k, get(req, "consumerGroup")) && need(k, get(req, "topic"), RK_PERM_SUB);
    case RK_REQ_HEART_BEAT: {
        rk_heartbeat_t hb;
        char why[128];
        if (rk_heartbeat_parse_why(req->body, req->body_len, &hb, why, sizeof why) != RK_OK) {
            snprintf(k->remark, k->len, "[ACL] heartbeat body unreadable: %s", why);
            return false;
        }
        bool ok = true;
        for (size_t i = 0; i < hb.nconsumers && ok; i++) {
            ok = need_group(k, hb.consumers[i].group);
            for (size_t j = 0; j < hb.consumers[i].nsubs && ok; j++)
                ok = need(k, hb.consumers[i].subs[j].topic, RK_PERM_SUB);
        }
        rk_heartbeat_free(&hb);
        return ok;
    }
    default:
        return true;
    }
}

static int32_t deny(char *remark, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int32_t deny(char *remark, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(remark, len, fmt, ap);
    va_end(ap);
    return RK_RESP_NO_PERMISSION;
}

int32_t rk_acl_check(const rk_acl_t *acl, const char *peer, const rk_cmd_t *req, char *remark, size_t len)
{
    uint8_t ip[4];
    bool ipok = peer_ipv4(peer, ip);
    for (size_t i = 0; ipok && i < acl->nglobal; i++)
        if (pat_match(&acl->global[i], ip))
            return 0;
    const char *ak = rk_cmd_ext_get(req, RK_ACL_ACCESS_KEY);
    char akbuf[72];
    if (ak == NULL || ak[0] == '\0')
        return deny(remark, len, "[ACL] request code %d carries no AccessKey and %s is not in globalWhiteRemoteAddresses",
                    req->code, peer);
    const account_t *a = rk_strmap_get(&acl->by_ak, ak);
    if (a == NULL)
        return deny(remark, len, "[ACL] no account for accessKey=%s", shown(ak, akbuf, 65));
    if (ipok && pat_match(&a->white, ip))
        return 0;
    const char *sig = rk_cmd_ext_get(req, RK_ACL_SIGNATURE);
    if (sig == NULL)
        return deny(remark, len, "[ACL] request code %d from accessKey=%s carries no Signature", req->code, a->ak);
    char want[RK_ACL_SIG_MAX];
    if (rk_acl_signature(req, a->sk, UNIQUE_KEY_QUERY, want) != RK_OK)
        return deny(remark, len, "[ACL] out of memory checking the signature");
    bool good = rk_ct_streq(want, sig);
    memset(want, 0, sizeof want);
    if (!good)
        return deny(remark, len,
                    "[ACL] signature check failed for accessKey=%s (request code %d): not signed with this "
                    "account's secretKey, or its fields or body changed after signing",
                    a->ak, req->code);
    /* RocketMQ lets message traces through whatever the topic rules say */
    const char *topic = req->code == RK_REQ_SEND_MESSAGE ? rk_cmd_ext_get(req, "topic")
                        : req->code == RK_REQ_SEND_MESSAGE_V2 ? rk_cmd_ext_get(req, "b") : NULL;
    if (topic != NULL && strcmp(topic, TRACE_TOPIC) == 0)
        return 0;
    if (needs_admin(req->code) && !a->admin)
        return deny(remark, len, "[ACL] request code %d needs an admin account, accessKey=%s is not (admin: false)",
                    req->code, a->ak);
    if (a->admin && a->perms.len == 0)
        return 0;
    check_t k = {a, req->code, remark, len};
    return resources_ok(&k, req) ? 0 : RK_RESP_NO_PERMISSION;
}

/* ------------------------------------------------------------ the broker module */

typedef struct acl_state {
    rk_broker_t *b;
    rk_acl_config_t cfg;
    rk_acl_t *acl;                  /* loop thread only once serving */
    struct stat seen;               /* the file as last read (or tried) */
    bool seen_ok;
    uint64_t last_log_ms, quiet;    /* refusal log lines: at most one a second */
    uint64_t denied, reloads;
} acl_state_t;

#define CFG_OFF(f) offsetof(rk_acl_config_t, f)
const rk_config_field_t rk_acl_config_fields[] = {
    {"aclEnable", RK_CFG_BOOL, CFG_OFF(enable), "false", 0, 0, NULL,
     "check every request against aclFile's accounts (RocketMQ's plain ACL)"},
    {"aclFile", RK_CFG_STR, CFG_OFF(file), "", 0, 0, NULL,
     "the plain_acl.yml to read (rocklet; default: plain_acl.yml beside broker.conf)"},
    {"aclReloadIntervalMillis", RK_CFG_INT, CFG_OFF(reload_ms), "1000", 100, 3600000, NULL,
     "how often aclFile is checked for changes (rocklet)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static int32_t access_check(void *ctx, rk_conn_t *conn, const rk_cmd_t *req, char *remark, size_t len)
{
    acl_state_t *st = ctx;
    int32_t code;
    /* Access keys are not secret: anyone may name one and make the broker hash
     * a body. Hash no more than the largest message (batch) a send may carry,
     * plus room for a big heartbeat. */
    int64_t max_body = rk_broker_config(st->b)->max_message_size + 1024 * 1024;
    if ((int64_t)req->body_len > max_body)
        code = deny(remark, len, "[ACL] request code %d: a body of %zu bytes is not checked (over maxMessageSize)",
                    req->code, req->body_len);
    else
        code = rk_acl_check(st->acl, rk_conn_peer(conn), req, remark, len);
    if (code != 0) {
        st->denied++;
        uint64_t now = rk_mono_ms();
        if (now - st->last_log_ms >= 1000) {
            rk_log_warn("acl", "%s: refused: %s%s", rk_conn_peer(conn), remark,
                        st->quiet ? " (and more refusals not logged)" : "");
            st->last_log_ms = now;
            st->quiet = 0;
        } else {
            st->quiet++;
        }
    }
    return code;
}

static void poll_file(void *ctx)
{
    acl_state_t *st = ctx;
    struct stat now;
    if (stat(st->cfg.file, &now) != 0) {
        if (st->seen_ok)
            rk_log_error("acl", "%s: %s; keeping the rules in force", st->cfg.file, strerror(errno));
        st->seen_ok = false;
        return;
    }
    if (st->seen_ok && same_file(&now, &st->seen))
        return;
    st->seen = now;
    st->seen_ok = true;
    rk_acl_t *acl;
    char err[512];
    if (rk_acl_load_file(st->cfg.file, &acl, err, sizeof err) != RK_OK) {
        rk_log_error("acl", "reload refused, keeping the rules in force: %s", err);
        return;
    }
    rk_acl_free(st->acl);
    st->acl = acl;
    st->reloads++;
    rk_log_info("acl", "%s reloaded: %zu accounts, %zu global white-list patterns", st->cfg.file, acl->nacc,
                acl->nglobal);
}

static void runtime_info(void *ctx, rk_buf_t *out)
{
    acl_state_t *st = ctx;
    char s[160];
    int n = snprintf(s, sizeof s, ",\"aclEnable\":\"%s\",\"aclAccounts\":\"%zu\",\"aclDenied\":\"%llu\",\"aclReloads\":\"%llu\"",
                     st->acl ? "true" : "false", rk_acl_accounts(st->acl), (unsigned long long)st->denied,
                     (unsigned long long)st->reloads);
    rk_buf_put(out, s, (size_t)n);
}

static void acl_destroy(rk_broker_t *b, void *state)
{
    (void)b;
    acl_state_t *st = state;
    if (st == NULL)
        return;
    rk_acl_free(st->acl);
    rk_config_free(rk_acl_config_fields, &st->cfg);
    free(st);
}

static int acl_setup(rk_broker_t *b, acl_state_t *st)
{
    st->b = b;
    char err[512];
    int rc = rk_config_defaults(rk_acl_config_fields, &st->cfg);
    rk_kv_t *kv = rk_broker_kv(b);
    if (rc == RK_OK && kv != NULL && (rc = rk_config_apply(rk_acl_config_fields, &st->cfg, kv, err, sizeof err)) != RK_OK)
        rk_log_error("acl", "bad configuration: %s", err);
    if (rc != RK_OK || !st->cfg.enable)
        return rc;
    if (st->cfg.file == NULL || st->cfg.file[0] == '\0') {
        rk_log_error("acl", "aclEnable=true but no aclFile: set aclFile=PATH (or start with -c so plain_acl.yml "
                            "beside broker.conf is used)");
        return RK_EBADCONFIG;
    }
    if (stat(st->cfg.file, &st->seen) == 0)
        st->seen_ok = true;
    if ((rc = rk_acl_load_file(st->cfg.file, &st->acl, err, sizeof err)) != RK_OK) {
        rk_log_error("acl", "cannot start with aclEnable=true: %s", err);
        return RK_EBADCONFIG;
    }
    rk_rserver_t *srv = rk_broker_server(b);
    if ((rc = rk_rserver_set_access_check(srv, access_check, st)) != RK_OK ||
        (rc = rk_rserver_every(srv, (uint64_t)st->cfg.reload_ms, poll_file, st)) != RK_OK ||
        (rc = rk_broker_add_runtime_info(b, runtime_info, st)) != RK_OK)
        return rc;
    rk_log_info("acl", "ACL on: %s, %zu accounts, %zu global white-list patterns", st->cfg.file, st->acl->nacc,
                st->acl->nglobal);
    return RK_OK;
}

/* The broker calls destroy only for modules whose init succeeded. */
static int acl_init(rk_broker_t *b, void **state)
{
    acl_state_t *st = calloc(1, sizeof *st);
    if (st == NULL)
        return RK_ENOMEM;
    int rc = acl_setup(b, st);
    if (rc != RK_OK) {
        acl_destroy(b, st);
        st = NULL;
    }
    *state = st;
    return rc;
}

const rk_broker_module_t rk_broker_acl_module = {
    .name = "acl",
    .init = acl_init,
    .destroy = acl_destroy,
};
