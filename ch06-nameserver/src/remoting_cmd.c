/* remoting_cmd.c — RemotingCommand codec (JSON and ROCKETMQ binary) and frame splitter (see rk/remoting_cmd.h). */
#include "rk/remoting_cmd.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rk/config.h"
#include "rk/error.h"
#include "rk/json.h"

static const char *const languages[] = {"JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY",
                                        "OTHER", "HTTP", "GO", "PHP", "OMS", "RUST"};
#define NLANG ((int)(sizeof languages / sizeof languages[0]))

const char *rk_language_name(int ordinal)
{
    return ordinal >= 0 && ordinal < NLANG ? languages[ordinal] : "OTHER";
}

int rk_language_parse(const char *name)
{
    for (int i = 0; i < NLANG; i++)
        if (strcasecmp(name, languages[i]) == 0)
            return i;
    return -1;
}

/* One block per command: the struct, then ext_slots field slots, then
 * tail_bytes for strings (c->arena), handed out front to back by carve().
 * A command built by code (a request, a response) gets RK_CMD_EXT_INLINE
 * slots and RK_CMD_POOL bytes: a send request or response fits, so building,
 * encoding and freeing one costs one allocation instead of one per field.
 * A decoded binary header gets exactly what it needs. */
static rk_cmd_t *cmd_alloc(size_t ext_slots, size_t tail_bytes)
{
    rk_cmd_t *c = malloc(sizeof *c + ext_slots * sizeof(rk_ext_field_t) + tail_bytes);
    if (c == NULL)
        return NULL;
    memset(c, 0, sizeof *c);
    _Static_assert(sizeof(rk_cmd_t) % _Alignof(rk_ext_field_t) == 0, "the slots follow the struct aligned");
    c->ext = ext_slots > 0 ? (rk_ext_field_t *)(c + 1) : NULL;
    c->ext_cap = ext_slots;
    c->arena = tail_bytes > 0 ? (char *)(c + 1) + ext_slots * sizeof(rk_ext_field_t) : NULL;
    c->arena_len = tail_bytes;
    c->language = RK_LANGUAGE_JAVA;
    c->version = RK_VERSION_CURRENT;
    return c;
}

/* The field slots are those of the command's own block (not freed alone). */
static bool ext_inline(const rk_cmd_t *c) { return c->ext != NULL && c->ext == (const rk_ext_field_t *)(c + 1); }

/* n bytes from the command's own block, or NULL when it has no room left. */
static char *carve(rk_cmd_t *c, size_t n)
{
    if (c->arena_len - c->arena_used < n)
        return NULL;
    char *p = c->arena + c->arena_used;
    c->arena_used += n;
    return p;
}

/* A copy of s[0..n) NUL-terminated: in the command's block if it fits, else malloc'ed. */
static char *cmd_strndup(rk_cmd_t *c, const char *s, size_t n)
{
    char *p = carve(c, n + 1);
    if (p == NULL) {
        c->heap_strings = true;
        return strndup(s, n);
    }
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* Room for one more field slot. */
static int ext_grow(rk_cmd_t *c, size_t first_cap)
{
    if (c->next < c->ext_cap)
        return RK_OK;
    size_t cap = c->ext_cap ? c->ext_cap * 2 : first_cap;
    rk_ext_field_t *n;
    if (ext_inline(c)) {            /* the block's slots are full: move to a heap array */
        if ((n = malloc(cap * sizeof *n)) == NULL)
            return RK_ENOMEM;
        memcpy(n, c->ext, c->next * sizeof *n);
    } else if ((n = realloc(c->ext, cap * sizeof *n)) == NULL) {
        return RK_ENOMEM;
    }
    c->ext = n;
    c->ext_cap = cap;
    return RK_OK;
}

rk_cmd_t *rk_cmd_new(int32_t code)
{
    rk_cmd_t *c = cmd_alloc(RK_CMD_EXT_INLINE, RK_CMD_POOL);
    if (c != NULL)
        c->code = code;
    return c;
}

rk_cmd_t *rk_cmd_new_response(const rk_cmd_t *req, int32_t code, const char *remark)
{
    rk_cmd_t *c = rk_cmd_new(code);
    if (c == NULL)
        return NULL;
    c->opaque = req->opaque;
    c->flag = RK_CMD_RESPONSE;
    c->ser_type = req->ser_type;
    if (remark != NULL && rk_cmd_set_remark(c, remark) != RK_OK) {
        rk_cmd_free(c);
        return NULL;
    }
    return c;
}

rk_cmd_t *rk_cmd_clone(const rk_cmd_t *src)
{
    rk_cmd_t *c = rk_cmd_new(src->code);
    if (c == NULL)
        return NULL;
    c->language = src->language;
    c->version = src->version;
    c->ser_type = src->ser_type;
    int rc = src->remark ? rk_cmd_set_remark(c, src->remark) : RK_OK;
    for (size_t i = 0; rc == RK_OK && i < src->next; i++)
        rc = rk_cmd_ext_set(c, src->ext[i].key, src->ext[i].value);
    if (rc == RK_OK && src->body_len > 0)
        rc = rk_cmd_set_body(c, src->body, src->body_len);
    if (rc != RK_OK) {
        rk_cmd_free(c);
        return NULL;
    }
    return c;
}

/* Frees p unless it lives in c's arena (freed with c). */
static void cmd_mem_free(const rk_cmd_t *c, void *p)
{
    if (c->arena != NULL && (char *)p >= c->arena && (char *)p < c->arena + c->arena_len)
        return;
    free(p);
}

void rk_cmd_free(rk_cmd_t *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; c->heap_strings && i < c->next; i++) {    /* else: all in the block */
        if (!c->ext[i].joint)
            cmd_mem_free(c, c->ext[i].value);
        cmd_mem_free(c, c->ext[i].key);
    }
    if (!ext_inline(c))
        free(c->ext);
    cmd_mem_free(c, c->remark);
    if (!c->body_borrowed)
        cmd_mem_free(c, c->body);
    free(c);
}

int rk_cmd_set_remark(rk_cmd_t *c, const char *remark)
{
    char *r = remark ? cmd_strndup(c, remark, strlen(remark)) : NULL;
    if (remark && r == NULL)
        return RK_ENOMEM;
    cmd_mem_free(c, c->remark);
    c->remark = r;
    return RK_OK;
}

static rk_ext_field_t *ext_find(const rk_cmd_t *c, const char *key)
{
    for (size_t i = 0; i < c->next; i++)     /* the first byte rules out most (V2 names are one letter) */
        if (c->ext[i].key[0] == key[0] && strcmp(c->ext[i].key, key) == 0)
            return &c->ext[i];
    return NULL;
}

/* Appends key[0..klen) = value[0..vlen) as one "key\0value\0" (joint): from
 * the command's own block while it has room, else one allocation. */
static int ext_append(rk_cmd_t *c, const char *key, size_t klen, const char *value, size_t vlen)
{
    if (klen >= RK_EXT_LEN_UNKNOWN || vlen >= RK_EXT_LEN_UNKNOWN)
        return RK_ETOOBIG;
    if (ext_grow(c, 16) != RK_OK)
        return RK_ENOMEM;
    char *k = carve(c, klen + vlen + 2);
    if (k == NULL) {
        c->heap_strings = true;
        if ((k = malloc(klen + vlen + 2)) == NULL)
            return RK_ENOMEM;
    }
    memcpy(k, key, klen);
    k[klen] = '\0';
    memcpy(k + klen + 1, value, vlen);
    k[klen + 1 + vlen] = '\0';
    c->ext[c->next++] = (rk_ext_field_t){k, k + klen + 1, (uint32_t)klen, (uint32_t)vlen, true};
    return RK_OK;
}

/* key is NUL-terminated at klen: an existing field takes the new value, else one is appended. */
static int ext_set_n(rk_cmd_t *c, const char *key, size_t klen, const char *value, size_t vlen)
{
    rk_ext_field_t *e = ext_find(c, key);
    if (e == NULL)
        return ext_append(c, key, klen, value, vlen);
    if (vlen >= RK_EXT_LEN_UNKNOWN)
        return RK_ETOOBIG;
    char *v = cmd_strndup(c, value, vlen);
    if (v == NULL)
        return RK_ENOMEM;
    if (!e->joint)
        cmd_mem_free(c, e->value);
    e->value = v;
    e->vlen = (uint32_t)vlen;
    e->joint = false;
    return RK_OK;
}

/* Decoding appends every field without looking for its key (ext_push), then
 * merges repeated keys once (ext_dedupe) with a hash table: linear time, where
 * a look-up per field made a header of N fields cost N^2. */
static int ext_push(rk_cmd_t *c, const char *key, size_t klen, const char *value, size_t vlen)
{
    if (c->next >= RK_CMD_MAX_EXT_FIELDS)
        return RK_ETOOBIG;
    if (klen >= RK_EXT_LEN_UNKNOWN || vlen >= RK_EXT_LEN_UNKNOWN)
        return RK_ETOOBIG;
    if (ext_grow(c, 8) != RK_OK)
        return RK_ENOMEM;
    char *k = cmd_strndup(c, key, klen), *v = cmd_strndup(c, value, vlen);
    if (k == NULL || v == NULL) {
        cmd_mem_free(c, k);
        cmd_mem_free(c, v);
        return RK_ENOMEM;
    }
    c->ext[c->next++] = (rk_ext_field_t){k, v, (uint32_t)klen, (uint32_t)vlen, false};   /* JSON: no NUL inside */
    return RK_OK;
}

static uint32_t key_hash(const char *k)
{
    uint32_t h = 2166136261u;       /* FNV-1a */
    for (; *k; k++)
        h = (h ^ (uint8_t)*k) * 16777619u;
    return h;
}

/* A repeated key keeps its first place and takes its last value, as if each
 * field had been set in turn. */
static int ext_dedupe(rk_cmd_t *c)
{
    _Static_assert((RK_CMD_MAX_EXT_FIELDS & (RK_CMD_MAX_EXT_FIELDS - 1)) == 0, "a power of two");
    if (c->next < 2)
        return RK_OK;
    if (c->next > RK_CMD_MAX_EXT_FIELDS)
        return RK_ETOOBIG;
    /* Keys that all begin with different bytes cannot repeat: the V2 send
     * header (one-letter names) is checked with one bit a field. */
    uint64_t seen[4] = {0};
    size_t i0 = 0;
    for (; i0 < c->next; i0++) {
        uint8_t b = (uint8_t)c->ext[i0].key[0];
        uint64_t bit = (uint64_t)1 << (b & 63);
        if (seen[b >> 6] & bit)
            break;
        seen[b >> 6] |= bit;
    }
    if (i0 == c->next)
        return RK_OK;
    /* A few fields (a send response: msgId, queueId, queueOffset, ...): the
     * pairs that share a first byte are compared, no table. */
    if (c->next <= 8) {
        bool dup = false;
        for (size_t i = 1; i < c->next && !dup; i++)
            for (size_t j = 0; j < i && !dup; j++)
                dup = c->ext[i].key[0] == c->ext[j].key[0] && strcmp(c->ext[i].key, c->ext[j].key) == 0;
        if (!dup)
            return RK_OK;
    }
    /* on the stack: every request is decoded here (ext_push caps next) */
    uint16_t slot[2 * RK_CMD_MAX_EXT_FIELDS];      /* field index + 1; 0: empty */
    size_t size = 16;
    while (size < c->next * 2)
        size *= 2;
    memset(slot, 0, size * sizeof *slot);
    size_t kept = 0;
    for (size_t i = 0; i < c->next; i++) {
        rk_ext_field_t f = c->ext[i];
        size_t h = key_hash(f.key) & (size - 1);
        while (slot[h] != 0 && strcmp(c->ext[slot[h] - 1].key, f.key) != 0)
            h = (h + 1) & (size - 1);
        if (slot[h] != 0) {             /* seen: the later value wins (decoded fields: never joint) */
            rk_ext_field_t *first = &c->ext[slot[h] - 1];
            cmd_mem_free(c, first->value);
            first->value = f.value;
            first->vlen = f.vlen;
            cmd_mem_free(c, f.key);
        } else {
            c->ext[kept] = f;
            slot[h] = (uint16_t)(kept + 1);
            kept++;
        }
    }
    c->next = kept;
    return RK_OK;
}

int rk_cmd_ext_set(rk_cmd_t *c, const char *key, const char *value)
{
    return ext_set_n(c, key, strlen(key), value, strlen(value));
}

/* "%lld" by hand into buf[24]: every send request has six, every response two. */
static const char *i64_str(char *buf, int64_t value)
{
    char *p = buf + 24;
    uint64_t u = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
    *--p = '\0';
    do
        *--p = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (value < 0)
        *--p = '-';
    return p;
}

int rk_cmd_ext_set_i64(rk_cmd_t *c, const char *key, int64_t value)
{
    char buf[24];
    return rk_cmd_ext_set(c, key, i64_str(buf, value));
}

int rk_cmd_ext_add(rk_cmd_t *c, const char *key, const char *value)
{
    return ext_append(c, key, strlen(key), value, strlen(value));
}

int rk_cmd_ext_add_i64(rk_cmd_t *c, const char *key, int64_t value)
{
    char buf[24];
    const char *v = i64_str(buf, value);
    return ext_append(c, key, strlen(key), v, (size_t)(buf + 23 - v));
}

const char *rk_cmd_ext_get(const rk_cmd_t *c, const char *key)
{
    rk_ext_field_t *e = ext_find(c, key);
    return e ? e->value : NULL;
}

int rk_cmd_value_i64(const char *v, int64_t *out)
{
    /* the usual case, up to 18 plain digits (no overflow possible), without strtoll */
    const char *d = v + (v[0] == '-');
    size_t n = 0;
    uint64_t u = 0;
    while (n <= 18 && d[n] >= '0' && d[n] <= '9')
        u = u * 10 + (uint64_t)(d[n++] - '0');
    if (n > 0 && n <= 18 && d[n] == '\0') {
        *out = v[0] == '-' ? -(int64_t)u : (int64_t)u;
        return RK_OK;
    }
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end != '\0')
        return RK_EINVAL;
    *out = x;
    return RK_OK;
}

int rk_cmd_ext_i64(const rk_cmd_t *c, const char *key, int64_t *out)
{
    const char *v = rk_cmd_ext_get(c, key);
    return v == NULL ? RK_ENOTFOUND : rk_cmd_value_i64(v, out);
}

int rk_cmd_value_bool(const char *v, bool *out)
{
    if (strcmp(v, "false") == 0 || strcmp(v, "true") == 0) {   /* what clients send */
        *out = v[0] == 't';
        return RK_OK;
    }
    return rk_parse_bool(v, out) == RK_OK ? RK_OK : RK_EINVAL;
}

int rk_cmd_ext_bool(const rk_cmd_t *c, const char *key, bool *out)
{
    const char *v = rk_cmd_ext_get(c, key);
    return v == NULL ? RK_ENOTFOUND : rk_cmd_value_bool(v, out);
}

int rk_cmd_set_body(rk_cmd_t *c, const void *data, size_t len)
{
    uint8_t *b = NULL;
    if (len > 0) {
        if ((b = malloc(len)) == NULL)
            return RK_ENOMEM;
        memcpy(b, data, len);
    }
    rk_cmd_own_body(c, b, len);
    return RK_OK;
}

void rk_cmd_own_body(rk_cmd_t *c, uint8_t *data, size_t len)
{
    if (!c->body_borrowed)
        cmd_mem_free(c, c->body);
    c->body_borrowed = false;
    c->body = data;
    c->body_len = data ? len : 0;
    c->body_cap = 0;
}

void rk_cmd_borrow_body(rk_cmd_t *c, const uint8_t *data, size_t len)
{
    rk_cmd_own_body(c, NULL, 0);
    if (data != NULL && len > 0) {
        c->body = (uint8_t *)data;      /* never written through: see body_borrowed */
        c->body_len = len;
        c->body_borrowed = true;
    }
}

/* ---- encode ---- */

/* A JSON string as rk_json_print writes it: runs of bytes that need no
 * escape are copied at once; '"', '\\' and control bytes are escaped. */
static void json_put_string(rk_buf_t *b, const char *s)
{
    rk_buf_put_u8(b, '"');
    const unsigned char *p = (const unsigned char *)s, *run = p;
    for (;; p++) {
        unsigned char ch = *p;
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        if (p > run)
            rk_buf_put(b, run, (size_t)(p - run));
        if (ch == '\0')
            break;
        run = p + 1;
        switch (ch) {
        case '"': rk_buf_put(b, "\\\"", 2); break;
        case '\\': rk_buf_put(b, "\\\\", 2); break;
        case '\n': rk_buf_put(b, "\\n", 2); break;
        case '\r': rk_buf_put(b, "\\r", 2); break;
        case '\t': rk_buf_put(b, "\\t", 2); break;
        case '\b': rk_buf_put(b, "\\b", 2); break;
        case '\f': rk_buf_put(b, "\\f", 2); break;
        default: {
            static const char hex[] = "0123456789abcdef";
            char u[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            rk_buf_put(b, u, sizeof u);
        }
        }
    }
    rk_buf_put_u8(b, '"');
}

static void json_put_i64(rk_buf_t *b, int64_t v)
{
    char buf[24];
    rk_buf_put_str(b, i64_str(buf, v));
}

/* Written straight into out, no cJSON tree: the bytes rk_json_print wrote
 * for the tree this used to build (fields in fastjson's order, alphabetical;
 * pinned by test_codec_bytes.c). */
static int encode_json_header(const rk_cmd_t *c, rk_buf_t *out)
{
    rk_buf_put_str(out, "{\"code\":");
    json_put_i64(out, c->code);
    rk_buf_put_str(out, ",\"extFields\":{");
    for (size_t i = 0; i < c->next; i++) {
        if (i > 0)
            rk_buf_put_u8(out, ',');
        json_put_string(out, c->ext[i].key);
        rk_buf_put_u8(out, ':');
        json_put_string(out, c->ext[i].value);
    }
    rk_buf_put_str(out, "},\"flag\":");
    json_put_i64(out, c->flag);
    rk_buf_put_str(out, ",\"language\":");
    json_put_string(out, rk_language_name(c->language));
    rk_buf_put_str(out, ",\"opaque\":");
    json_put_i64(out, c->opaque);
    if (c->remark != NULL) {
        rk_buf_put_str(out, ",\"remark\":");
        json_put_string(out, c->remark);
    }
    rk_buf_put_str(out, ",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
    json_put_i64(out, c->version);
    rk_buf_put_u8(out, '}');
    return out->err;
}

static inline size_t key_len(const rk_ext_field_t *f)
{
    return f->klen != RK_EXT_LEN_UNKNOWN ? f->klen : strlen(f->key);
}

static inline size_t value_len(const rk_ext_field_t *f)
{
    return f->vlen != RK_EXT_LEN_UNKNOWN ? f->vlen : strlen(f->value);
}

/* Sized first, then written with one reservation (no check per field); the
 * lengths the setters measured are not measured again. */
static int encode_binary_header(const rk_cmd_t *c, rk_buf_t *out)
{
    size_t rl = c->remark ? strlen(c->remark) : 0;
    size_t ext_len = 0;
    for (size_t i = 0; i < c->next; i++)
        ext_len += 2 + key_len(&c->ext[i]) + 4 + value_len(&c->ext[i]);
    int rc = rk_buf_reserve(out, 21 + rl + ext_len);
    if (rc != RK_OK)
        return rc;
    uint8_t *w = out->data + out->len;
    rk_be_put16(w, (uint16_t)c->code);
    w[2] = (uint8_t)c->language;
    rk_be_put16(w + 3, (uint16_t)c->version);
    rk_be_put32(w + 5, (uint32_t)c->opaque);
    rk_be_put32(w + 9, (uint32_t)c->flag);
    rk_be_put32(w + 13, (uint32_t)rl);
    w += 17;
    if (rl > 0)
        memcpy(w, c->remark, rl);
    w += rl;
    rk_be_put32(w, (uint32_t)ext_len);
    w += 4;
    for (size_t i = 0; i < c->next; i++) {
        size_t kl = key_len(&c->ext[i]), vl = value_len(&c->ext[i]);
        rk_be_put16(w, (uint16_t)kl);
        memcpy(w + 2, c->ext[i].key, kl);
        w += 2 + kl;
        rk_be_put32(w, (uint32_t)vl);
        memcpy(w + 4, c->ext[i].value, vl);
        w += 4 + vl;
    }
    out->len = (size_t)(w - out->data);
    return RK_OK;
}

static int encode_frame(const rk_cmd_t *c, const void *body, size_t body_len, bool with_body, rk_buf_t *out);

int rk_cmd_encode(const rk_cmd_t *c, rk_buf_t *out)
{
    return encode_frame(c, c->body, c->body_len, true, out);
}

int rk_cmd_encode_head(const rk_cmd_t *c, size_t body_len, rk_buf_t *out)
{
    return encode_frame(c, NULL, body_len, false, out);
}

static int encode_frame(const rk_cmd_t *c, const void *body, size_t body_len, bool with_body, rk_buf_t *out)
{
    size_t at = out->len;
    rk_buf_put_u32(out, 0);                 /* length, patched below */
    rk_buf_put_u32(out, 0);                 /* type + header length */
    size_t h0 = out->len;
    int rc = c->ser_type == RK_SER_ROCKETMQ ? encode_binary_header(c, out) : encode_json_header(c, out);
    if (rc != RK_OK || out->err)
        return rc ? rc : out->err;
    size_t hlen = out->len - h0;
    if (hlen > 0xFFFFFF)
        return RK_ETOOBIG;
    if (4 + hlen + body_len > UINT32_MAX)
        return RK_ETOOBIG;
    if (with_body)
        rk_buf_put(out, body, body_len);
    if (out->err)
        return out->err;
    rk_be_put32(out->data + at, (uint32_t)(4 + hlen + body_len));
    rk_be_put32(out->data + at + 4, ((uint32_t)c->ser_type << 24) | (uint32_t)hlen);
    return RK_OK;
}

/* ---- decode ---- */

/* The values of a JSON text (its ',' and ':' outside strings), counted up to
 * limit + 1 in one pass: a header that would make cJSON allocate a node for
 * each of a million values is refused before it is parsed. */
static size_t json_values(const uint8_t *p, size_t len, size_t limit)
{
    size_t n = 0;
    bool in_str = false;
    for (size_t i = 0; i < len && n <= limit; i++) {
        if (in_str) {
            if (p[i] == '\\')
                i++;
            else if (p[i] == '"')
                in_str = false;
        } else if (p[i] == '"') {
            in_str = true;
        } else if (p[i] == ',' || p[i] == ':') {
            n++;
        }
    }
    return n;
}

/* A field is a ':' and a ','; the top level has a dozen more. */
#define JSON_MAX_VALUES (2 * RK_CMD_MAX_EXT_FIELDS + 64)

static int decode_json_header(rk_cmd_t *c, const uint8_t *p, size_t len)
{
    if (json_values(p, len, JSON_MAX_VALUES) > JSON_MAX_VALUES)
        return RK_ETOOBIG;
    cJSON *h = rk_json_parse((const char *)p, len);
    if (h == NULL || !cJSON_IsObject(h)) {
        cJSON_Delete(h);
        return RK_EPROTO;
    }
    int64_t v;
    int rc = RK_OK;
    if (rk_json_get_i64(h, "code", &v) == RK_OK) c->code = (int32_t)v; else rc = RK_EPROTO;
    if (rk_json_get_i64(h, "version", &v) == RK_OK) c->version = (int32_t)v;
    if (rk_json_get_i64(h, "opaque", &v) == RK_OK) c->opaque = (int32_t)v;
    if (rk_json_get_i64(h, "flag", &v) == RK_OK) c->flag = (int32_t)v;
    const cJSON *lang = cJSON_GetObjectItemCaseSensitive(h, "language");
    if (cJSON_IsString(lang)) {
        int l = rk_language_parse(lang->valuestring);
        c->language = l >= 0 ? l : 7;
    } else if (cJSON_IsNumber(lang)) {
        /* an ordinal; one no int holds (2147483648, 1e300) is OTHER, as an unknown name is:
         * casting it was undefined behaviour (UBSan, test_json_fast.c) */
        double d = lang->valuedouble;
        c->language = d > INT_MIN - 1.0 && d < INT_MAX + 1.0 ? (int)d : 7;
    }
    const cJSON *remark = cJSON_GetObjectItemCaseSensitive(h, "remark");
    if (rc == RK_OK && cJSON_IsString(remark))
        rc = rk_cmd_set_remark(c, remark->valuestring);
    const cJSON *ext = cJSON_GetObjectItemCaseSensitive(h, "extFields");
    if (cJSON_IsObject(ext))
        for (const cJSON *e = ext->child; e != NULL && rc == RK_OK; e = e->next) {
            /* a string is copied once, straight from the tree; numbers and booleans become strings */
            const char *sv = cJSON_IsString(e) ? (e->valuestring ? e->valuestring : "") : NULL;
            char *s = sv == NULL ? rk_json_to_string(e) : NULL;
            if (sv == NULL && s == NULL)
                continue;                     /* null or nested: ignored, as fastjson would */
            const char *v = sv != NULL ? sv : s;
            rc = ext_push(c, e->string, strlen(e->string), v, strlen(v));
            free(s);
        }
    cJSON_Delete(h);
    return rc == RK_OK ? ext_dedupe(c) : rc;
}

/* ---- a JSON header in one pass ----
 *
 * What RocketMQ's Java client sends, {"code":310,"extFields":{"a":"g1",...},
 * "flag":0,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON",
 * "version":409} (keys in any order, whitespace, escapes), is read straight
 * into the command: every key and value unescaped into the command's own
 * block, sized from the header's length (a string never unescapes longer
 * than it is written, quotes included, so they all fit), no tree, no copy
 * per node. cJSON built a node and copied each key and value, then the
 * command copied them again: ~85 000 instructions a send, most of the cost
 * of a JSON send.
 *
 * It takes only what it fully understands and declines the rest (false):
 * then the header goes through cJSON exactly as before, so what is accepted,
 * what is refused and what a field reads are the same, byte for byte (held
 * to it by test_json_fast.c). It declines: a NUL byte, a byte after the
 * object other than whitespace, whitespace other than space, tab, CR and LF
 * (cJSON skips any byte up to 0x20), a top-level key written with an escape
 * or given twice (cJSON reads its first), a top-level value that is an
 * object or array (but extFields) or a key it reads of an unexpected type
 * (a string code, a null remark), a number that is not -?[0-9]{1,15}
 * (fractions, exponents and longer ones go through strtod), an escape cJSON
 * reads leniently or refuses (\u0000, bad hex digits, an unpaired
 * surrogate, \x), nested values or nulls in extFields, more fields or
 * values than the limits. It never reads past the header and does constant
 * work per byte. */
#define JF_KEY(j, lit) ((j)->klen == sizeof(lit) - 1 && memcmp((j)->key, lit, sizeof(lit) - 1) == 0)

typedef struct jfast {
    const uint8_t *p, *end;
    rk_cmd_t *c;
    size_t values;              /* ',' and ':' outside strings, as json_values counts them */
    const uint8_t *last_quote;  /* the header's last '"' */
    const uint8_t *key;         /* the top-level key being read */
    size_t klen;
} jfast_t;

/* the bytes that end a run of a string's bytes: '"', '\\' and NUL */
static const uint8_t jf_stop[256] = {['\0'] = 1, ['"'] = 1, ['\\'] = 1};

static inline void jf_ws(jfast_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static inline int jf_hex(uint8_t ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Four hex digits at p (p + 4 <= end checked by the caller), or -1. */
static inline long jf_hex4(const uint8_t *p)
{
    int a = jf_hex(p[0]), b = jf_hex(p[1]), c = jf_hex(p[2]), d = jf_hex(p[3]);
    if ((a | b | c | d) < 0)
        return -1;
    return (long)a << 12 | b << 8 | c << 4 | d;
}

/* The string at j->p (its opening quote) unescaped into the command's
 * block at arena_used, NUL-terminated, without taking the bytes (the caller
 * adds len + 1 to arena_used to keep it); NULL to decline. */
static char *jf_string(jfast_t *j, size_t *len)
{
    rk_cmd_t *c = j->c;
    const uint8_t *p = j->p + 1, *end = j->end;
    char *out = c->arena + c->arena_used, *w = out;
    /* Unescaped, a string is never longer than the bytes left (its closing
     * quote becomes the NUL): checked once, no check per byte written. And
     * no check per byte read: a run stops at a quote at the latest, and
     * there is one at last_quote or before, inside the header. */
    if (p > j->last_quote || (size_t)(c->arena + c->arena_len - w) < (size_t)(end - p) + 1)
        return NULL;
    for (;;) {
        while (!jf_stop[*p])
            *w++ = (char)*p++;
        if (*p == '"')
            break;
        if (*p == '\0' || end - p < 2)
            return NULL;
        uint8_t e = p[1];
        p += 2;
        switch (e) {
        case '"': case '\\': case '/': *w++ = (char)e; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
            if (end - p < 4)
                return NULL;
            long cp = jf_hex4(p);
            p += 4;
            if (cp <= 0 || (cp >= 0xDC00 && cp <= 0xDFFF))      /* \u0000 cuts the C string; bad hex reads as 0 */
                return NULL;
            if (cp >= 0xD800 && cp <= 0xDBFF) {                 /* a surrogate pair: \uD8xx\uDCxx */
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
                    return NULL;
                long lo = jf_hex4(p + 2);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return NULL;
                p += 6;
                cp = 0x10000 + (((cp & 0x3FF) << 10) | (lo & 0x3FF));
            }
            if (cp < 0x80) {
                *w++ = (char)cp;
            } else if (cp < 0x800) {
                *w++ = (char)(0xC0 | (cp >> 6));
                *w++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *w++ = (char)(0xE0 | (cp >> 12));
                *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *w++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *w++ = (char)(0xF0 | (cp >> 18));
                *w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *w++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            return NULL;
        }
        if (p > j->last_quote)          /* "\"" was the last quote: the run would have no end */
            return NULL;
    }
    *w = '\0';
    j->p = p + 1;
    *len = (size_t)(w - out);
    return out;
}

/* -?[0-9]{1,15} at j->p, not followed by what strtod would read on (. e E + - or
 * more digits): exact in a double, so cJSON reads the same value. */
static bool jf_int(jfast_t *j, int64_t *out)
{
    const uint8_t *p = j->p, *end = j->end;
    bool neg = p < end && *p == '-';
    p += neg;
    const uint8_t *d = p;
    int64_t v = 0;
    while (p < end && *p >= '0' && *p <= '9' && p - d < 16)
        v = v * 10 + (*p++ - '0');
    if (p == d || p - d > 15)
        return false;
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E' || *p == '+' || *p == '-' || (*p >= '0' && *p <= '9')))
        return false;
    j->p = p;
    *out = neg ? -v : v;
    return true;
}

/* true, false or null at j->p: 1, 0, 2; -1 if none. */
static int jf_literal(jfast_t *j)
{
    size_t left = (size_t)(j->end - j->p);
    if (left >= 4 && memcmp(j->p, "true", 4) == 0) {
        j->p += 4;
        return 1;
    }
    if (left >= 5 && memcmp(j->p, "false", 5) == 0) {
        j->p += 5;
        return 0;
    }
    if (left >= 4 && memcmp(j->p, "null", 4) == 0) {
        j->p += 4;
        return 2;
    }
    return -1;
}

/* The extFields object at j->p: each field appended to the command as
 * ext_push would (strings as they are, numbers and booleans as text). */
static bool jf_ext(jfast_t *j)
{
    rk_cmd_t *c = j->c;
    j->p++;                                 /* '{' */
    jf_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return true;
    }
    for (;;) {
        jf_ws(j);
        if (j->p >= j->end || *j->p != '"')
            return false;
        size_t mark = c->arena_used, klen, vlen;
        char *k = jf_string(j, &klen);
        if (k == NULL)
            return false;
        c->arena_used += klen + 1;
        jf_ws(j);
        if (j->p >= j->end || *j->p != ':')
            return false;
        j->p++;
        j->values++;
        jf_ws(j);
        if (j->p >= j->end)
            return false;
        char *v;
        int lit;
        int64_t num;
        if (*j->p == '"') {
            if ((v = jf_string(j, &vlen)) == NULL)
                return false;
        } else if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
            if (!jf_int(j, &num))
                return false;
            char buf[24];
            const char *s = i64_str(buf, num);
            vlen = (size_t)(buf + 23 - s);
            if (c->arena_len - c->arena_used < vlen + 1)
                return false;
            v = c->arena + c->arena_used;
            memcpy(v, s, vlen + 1);
        } else if ((lit = jf_literal(j)) == 0 || lit == 1) {
            vlen = lit ? 4 : 5;
            if (c->arena_len - c->arena_used < 6)
                return false;
            v = c->arena + c->arena_used;
            memcpy(v, lit ? "true" : "false", vlen + 1);
        } else {
            return false;                   /* null (skipped by the tree's reader) or nested: cJSON decides */
        }
        c->arena_used += vlen + 1;
        if (c->next >= RK_CMD_MAX_EXT_FIELDS || ext_grow(c, 8) != RK_OK) {
            c->arena_used = mark;
            return false;
        }
        c->ext[c->next++] = (rk_ext_field_t){k, v, (uint32_t)klen, (uint32_t)vlen, false};
        jf_ws(j);
        if (j->p >= j->end)
            return false;
        if (*j->p == '}') {
            j->p++;
            return true;
        }
        if (*j->p != ',')
            return false;
        j->p++;
        j->values++;
    }
}

/* A number (for code, flag, opaque, version): true if read. */
static bool jf_top_int(jfast_t *j, int32_t *out)
{
    int64_t v;
    if (!jf_int(j, &v))
        return false;
    *out = (int32_t)v;              /* as the tree's reader narrows it */
    return true;
}

/* The header of p[0..len) read into c (made by cmd_alloc with a pool of at
 * least len + 8 bytes); false: declined, c is to be thrown away. */
static bool decode_json_fast(rk_cmd_t *c, const uint8_t *p, size_t len)
{
    jfast_t j = {.p = p, .end = p + len, .c = c, .last_quote = len ? memrchr(p, '"', len) : NULL};
    if (j.last_quote == NULL)
        return false;
    enum { F_CODE = 1, F_EXT = 2, F_FLAG = 4, F_LANG = 8, F_OPAQUE = 16, F_REMARK = 32, F_VERSION = 64 };
    unsigned seen = 0;
    jf_ws(&j);
    if (j.p >= j.end || *j.p != '{')
        return false;
    j.p++;
    for (;;) {
        jf_ws(&j);
        if (j.p >= j.end || *j.p != '"')
            return false;               /* also {} : no code */
        const uint8_t *k = j.p + 1, *q = k;
        if (k > j.last_quote)
            return false;
        while (!jf_stop[*q])            /* stops at last_quote at the latest */
            q++;
        if (*q != '"')
            return false;
        j.key = k;
        j.klen = (size_t)(q - k);
        j.p = q + 1;
        jf_ws(&j);
        if (j.p >= j.end || *j.p != ':')
            return false;
        j.p++;
        j.values++;
        jf_ws(&j);
        if (j.p >= j.end)
            return false;
        unsigned f = JF_KEY(&j, "code") ? F_CODE : JF_KEY(&j, "extFields") ? F_EXT : JF_KEY(&j, "flag") ? F_FLAG
                   : JF_KEY(&j, "language") ? F_LANG : JF_KEY(&j, "opaque") ? F_OPAQUE
                   : JF_KEY(&j, "remark") ? F_REMARK : JF_KEY(&j, "version") ? F_VERSION : 0;
        if (f & seen)
            return false;               /* given twice: the tree's reader takes the first */
        seen |= f;
        uint8_t ch = *j.p;
        size_t len_s;
        switch (f) {
        case F_CODE:
            if (!jf_top_int(&j, &c->code))
                return false;
            break;
        case F_FLAG:
            if (!jf_top_int(&j, &c->flag))
                return false;
            break;
        case F_OPAQUE:
            if (!jf_top_int(&j, &c->opaque))
                return false;
            break;
        case F_VERSION:
            if (!jf_top_int(&j, &c->version))
                return false;
            break;
        case F_EXT:
            if (ch != '{' || !jf_ext(&j))
                return false;
            break;
        case F_REMARK: {
            char *s = ch == '"' ? jf_string(&j, &len_s) : NULL;
            if (s == NULL)
                return false;
            c->remark = s;
            c->arena_used += len_s + 1;
            break;
        }
        case F_LANG:
            if (ch == '"') {
                const char *s = jf_string(&j, &len_s);      /* read, not kept */
                if (s == NULL)
                    return false;
                int l = rk_language_parse(s);
                c->language = l >= 0 ? l : 7;
            } else {
                int64_t v;
                if (!jf_int(&j, &v) || v < INT_MIN || v > INT_MAX)
                    return false;
                c->language = (int)v;
            }
            break;
        default:                        /* serializeTypeCurrentRPC and any other: a scalar, skipped */
            if (ch == '"') {
                if (jf_string(&j, &len_s) == NULL)
                    return false;
            } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
                int64_t v;
                if (!jf_int(&j, &v))
                    return false;
            } else if (jf_literal(&j) < 0) {
                return false;
            }
        }
        jf_ws(&j);
        if (j.p >= j.end)
            return false;
        if (*j.p == '}')
            break;
        if (*j.p != ',')
            return false;
        j.p++;
        j.values++;
    }
    j.p++;
    jf_ws(&j);
    /* nothing after the object (cJSON ignores it, the value count does not), a code,
     * and no more values than json_values lets through */
    return j.p == j.end && (seen & F_CODE) && j.values <= JSON_MAX_VALUES;
}

/* A binary header: the command, its field slots, and its remark and every
 * key and value in one block, sized in a first pass that also checks every
 * length. The remark and the fields are copied with one memcpy, as they lie
 * in the frame; each string is then NUL-terminated in place, over the first
 * byte of the length that follows it (already read from the frame), the last
 * one over one spare byte. So a request costs two allocations (the block,
 * the body) and one copy however many fields it has. The body stays a block
 * of its own: callers may take it over (and free it). */
static int decode_binary(const uint8_t *p, size_t len, const uint8_t *body, size_t body_len, rk_cmd_t **out)
{
    if (len < 21)
        return RK_EPROTO;
    size_t rl = rk_be_get32(p + 13);
    if (len - 21 < rl)
        return RK_EPROTO;
    size_t el = rk_be_get32(p + 17 + rl);
    if (len - 21 - rl < el)
        return RK_EPROTO;
    const uint8_t *start = p + 17, *ep = p + 21 + rl, *end = ep + el;
    /* pass 1: check every length and count the fields (plain pointer
     * arithmetic: this runs for every field of every request) */
    size_t n = 0;
    for (const uint8_t *q = ep; q < end;) {
        if (end - q < 2)
            return RK_EPROTO;
        size_t kl = rk_be_get16(q);
        q += 2;
        if ((size_t)(end - q) < kl + 4)
            return RK_EPROTO;
        q += kl;
        size_t vl = rk_be_get32(q);
        q += 4;
        if ((size_t)(end - q) < vl)
            return RK_EPROTO;
        q += vl;
        if (++n > RK_CMD_MAX_EXT_FIELDS)
            return RK_ETOOBIG;
    }
    size_t strings = rl > 0 || n > 0 ? rl + 4 + el + 1 : 0;
    rk_cmd_t *c = cmd_alloc(n, strings);
    if (c == NULL)
        return RK_ENOMEM;
    c->code = (int16_t)rk_be_get16(p);
    c->language = p[2];
    c->version = (int16_t)rk_be_get16(p + 3);
    c->opaque = (int32_t)rk_be_get32(p + 5);
    c->flag = (int32_t)rk_be_get32(p + 9);
    c->ser_type = RK_SER_ROCKETMQ;
    if (strings > 0) {
        /* pass 2: one copy, then terminate each string in place (lengths read from the frame) */
        char *a = c->arena;
        memcpy(a, start, strings - 1);
        c->arena_used = strings;
        if (rl > 0) {
            a[rl] = '\0';
            c->remark = a;
        }
        for (const uint8_t *q = ep; q < end;) {
            size_t kl = rk_be_get16(q);
            const uint8_t *k = q + 2;
            size_t vl = rk_be_get32(k + kl);
            const uint8_t *v = k + kl + 4;
            q = v + vl;
            rk_ext_field_t *f = &c->ext[c->next++];
            f->key = a + (k - start);
            f->key[kl] = '\0';
            f->value = a + (v - start);
            f->value[vl] = '\0';
            f->klen = f->vlen = RK_EXT_LEN_UNKNOWN;    /* a NUL inside is cut where it is, as always */
            f->joint = false;           /* both in the block */
        }
    }
    int rc = ext_dedupe(c);
    if (rc == RK_OK)
        rc = rk_cmd_set_body(c, body, body_len);
    if (rc != RK_OK) {
        rk_cmd_free(c);
        return rc;
    }
    *out = c;
    return RK_OK;
}

/* A JSON header: the single pass first (decode_json_fast), cJSON for what it declines. */
static int decode_json(const uint8_t *p, size_t len, const uint8_t *body, size_t body_len, int how, rk_cmd_t **out)
{
    rk_cmd_t *c = NULL;
    int rc;
    if (how != RK_CMD_JSON_CJSON) {
        c = cmd_alloc(RK_CMD_EXT_INLINE, len + 8 > RK_CMD_POOL ? len + 8 : RK_CMD_POOL);
        if (c == NULL)
            return RK_ENOMEM;
        c->ser_type = RK_SER_JSON;
        c->language = 7;
        c->version = 0;
        if (decode_json_fast(c, p, len)) {
            rc = ext_dedupe(c);
            goto body;
        }
        rk_cmd_free(c);
        if (how == RK_CMD_JSON_FAST)
            return RK_EINVAL;
    }
    if ((c = rk_cmd_new(0)) == NULL)
        return RK_ENOMEM;
    c->ser_type = RK_SER_JSON;
    c->language = 7;
    c->version = 0;
    rc = decode_json_header(c, p, len);
body:
    if (rc == RK_OK)
        rc = rk_cmd_set_body(c, body, body_len);
    if (rc != RK_OK) {
        rk_cmd_free(c);
        return rc;
    }
    *out = c;
    return RK_OK;
}

int rk_cmd_decode(const uint8_t *frame, size_t len, rk_cmd_t **out)
{
    if (len < 4)
        return RK_EPROTO;
    uint32_t hf = rk_be_get32(frame);
    int type = (int)(hf >> 24);
    size_t hlen = hf & 0xFFFFFF;
    if (hlen > len - 4 || (type != RK_SER_JSON && type != RK_SER_ROCKETMQ))
        return RK_EPROTO;
    if (type == RK_SER_ROCKETMQ)
        return decode_binary(frame + 4, hlen, frame + 4 + hlen, len - 4 - hlen, out);
    return decode_json(frame + 4, hlen, frame + 4 + hlen, len - 4 - hlen, RK_CMD_JSON_AUTO, out);
}

/* Binary headers and malformed frames as rk_cmd_decode (one call site each: decode_binary
 * stays inlined there); a JSON header by the decoder asked for. */
int rk_cmd_decode_as(const uint8_t *frame, size_t len, int json, rk_cmd_t **out)
{
    if (json == RK_CMD_JSON_AUTO || len < 4 || frame[0] != RK_SER_JSON)
        return rk_cmd_decode(frame, len, out);
    size_t hlen = rk_be_get32(frame) & 0xFFFFFF;
    if (hlen > len - 4)
        return RK_EPROTO;
    return decode_json(frame + 4, hlen, frame + 4 + hlen, len - 4 - hlen, json, out);
}

/* ---- frame splitter ---- */

void rk_frames_init(rk_frames_t *f, size_t max)
{
    memset(f, 0, sizeof *f);
    f->max = max ? max : RK_FRAME_MAX_DEFAULT;
}

void rk_frames_free(rk_frames_t *f) { rk_buf_free(&f->buf); }

int rk_frames_feed(rk_frames_t *f, const void *data, size_t len)
{
    if (f->start > 0 && f->start == f->buf.len) {
        f->buf.len = f->start = 0;
    } else if (f->start > 65536 && f->start * 2 > f->buf.len) {
        memmove(f->buf.data, f->buf.data + f->start, f->buf.len - f->start);
        f->buf.len -= f->start;
        f->start = 0;
    }
    return rk_buf_put(&f->buf, data, len);
}

int rk_frames_next(rk_frames_t *f, const uint8_t **frame, size_t *len)
{
    size_t avail = f->buf.len - f->start;
    if (avail < 4)
        return 0;
    uint32_t flen = rk_be_get32(f->buf.data + f->start);
    if (flen > f->max)
        return RK_ETOOBIG;
    if (flen < 4)
        return RK_EPROTO;
    if (avail < 4 + (size_t)flen)
        return 0;
    *frame = f->buf.data + f->start + 4;
    *len = flen;
    f->start += 4 + (size_t)flen;
    return 1;
}

/* The header of the frame at the front: its frame length and header length, checked. */
static int front_frame(const rk_frames_t *f, size_t *flen, size_t *hlen)
{
    const uint8_t *p = f->buf.data + f->start;
    *flen = rk_be_get32(p);
    *hlen = rk_be_get32(p + 4) & 0xFFFFFF;
    if (*flen > f->max)
        return RK_ETOOBIG;
    if (*flen < 4 || *hlen > *flen - 4)
        return RK_EPROTO;
    return RK_OK;
}

int rk_frames_big_body(const rk_frames_t *f, size_t min_body, size_t *body_len, size_t *body_here)
{
    size_t pending = rk_frames_pending(f), flen, hlen;
    if (pending < 8)
        return 0;
    int rc = front_frame(f, &flen, &hlen);
    if (rc != RK_OK)
        return rc;
    size_t head = 8 + hlen;
    *body_len = flen - 4 - hlen;
    if (*body_len < min_body || pending < head || pending >= 4 + flen)
        return 0;
    *body_here = pending - head;
    return 1;
}

void rk_frames_split_body(rk_frames_t *f, uint8_t *dst)
{
    size_t flen, hlen;
    if (rk_frames_pending(f) < 8 || front_frame(f, &flen, &hlen) != RK_OK)
        return;                 /* not after a 1 from rk_frames_big_body: nothing to split */
    size_t head = 8 + hlen;
    if (rk_frames_pending(f) <= head)
        return;
    memcpy(dst, f->buf.data + f->start + head, rk_frames_pending(f) - head);
    f->buf.len = f->start + head;
}

int rk_frames_join_body(rk_frames_t *f, uint8_t *body, size_t body_len, rk_cmd_t **out)
{
    *out = NULL;
    size_t flen, hlen;
    int rc = rk_frames_pending(f) < 8 ? RK_EPROTO : front_frame(f, &flen, &hlen);
    if (rc == RK_OK && (rk_frames_pending(f) != 8 + hlen || flen != 4 + hlen + body_len))
        rc = RK_EPROTO;         /* not the header rk_frames_split_body left */
    if (rc == RK_OK)            /* the header alone: a command without body */
        rc = rk_cmd_decode(f->buf.data + f->start + 4, 4 + hlen, out);
    if (rc != RK_OK) {
        free(body);
        return rc;
    }
    f->start = f->buf.len;      /* the header is taken */
    rk_cmd_own_body(*out, body, body_len);
    return RK_OK;
}

void rk_frames_shrink(rk_frames_t *f, size_t keep)
{
    size_t pending = rk_frames_pending(f);
    if (f->buf.cap <= keep || pending > f->buf.cap / 4)
        return;
    rk_buf_t nb = {0};
    if (pending > 0 && rk_buf_put(&nb, f->buf.data + f->start, pending) != RK_OK) {
        rk_buf_free(&nb);       /* keep the big one: no harm but memory */
        return;
    }
    rk_buf_free(&f->buf);
    f->buf = nb;
    f->start = 0;
}
