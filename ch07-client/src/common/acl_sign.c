/* acl_sign.c — SHA-1, HMAC-SHA1, Base64 and RocketMQ's request signature
 * (see rk/acl_sign.h for the layout of what is signed). */
#include "rk/acl_sign.h"

#include <stdlib.h>
#include <string.h>

#include "rk/error.h"

/* ------------------------------------------------------------ SHA-1 (FIPS 180-4 §6.1) */

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

/* One 64-byte block. The message schedule is kept as a ring of 16 words
 * (w[t] for t >= 16 is computed in place of w[t-16]) and the 80 rounds are
 * unrolled by the macros below, so the compiler keeps the state in
 * registers: about twice as fast as the loop over an 80-word array that
 * FIPS 180-4 writes down, and the same function. */
#define SHA1_W(t) (w[(t) & 15] = rol(w[((t) + 13) & 15] ^ w[((t) + 8) & 15] ^ w[((t) + 2) & 15] ^ w[(t) & 15], 1))
#define SHA1_R(a, b, c, d, e, f, k, wt)                                                                            \
    do {                                                                                                           \
        e += rol(a, 5) + (f) + (k) + (wt);                                                                         \
        b = rol(b, 30);                                                                                            \
    } while (0)
#define SHA1_F1(b, c, d) ((d) ^ ((b) & ((c) ^ (d))))
#define SHA1_F2(b, c, d) ((b) ^ (c) ^ (d))
#define SHA1_F3(b, c, d) (((b) & (c)) | ((d) & ((b) | (c))))
/* five rounds, rotating the roles of a..e instead of moving the values */
#define SHA1_5(F, k, t, W)                                                                                         \
    do {                                                                                                           \
        SHA1_R(a, b, c, d, e, F(b, c, d), k, W(t));                                                                \
        SHA1_R(e, a, b, c, d, F(a, b, c), k, W((t) + 1));                                                          \
        SHA1_R(d, e, a, b, c, F(e, a, b), k, W((t) + 2));                                                          \
        SHA1_R(c, d, e, a, b, F(d, e, a), k, W((t) + 3));                                                          \
        SHA1_R(b, c, d, e, a, F(c, d, e), k, W((t) + 4));                                                          \
    } while (0)
#define SHA1_W0(t) (w[t])

static void sha1_block(rk_sha1_t *s, const uint8_t *p)
{
    uint32_t w[16];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
    SHA1_5(SHA1_F1, 0x5A827999u, 0, SHA1_W0);
    SHA1_5(SHA1_F1, 0x5A827999u, 5, SHA1_W0);
    SHA1_5(SHA1_F1, 0x5A827999u, 10, SHA1_W0);
    SHA1_R(a, b, c, d, e, SHA1_F1(b, c, d), 0x5A827999u, w[15]);
    SHA1_R(e, a, b, c, d, SHA1_F1(a, b, c), 0x5A827999u, SHA1_W(16));
    SHA1_R(d, e, a, b, c, SHA1_F1(e, a, b), 0x5A827999u, SHA1_W(17));
    SHA1_R(c, d, e, a, b, SHA1_F1(d, e, a), 0x5A827999u, SHA1_W(18));
    SHA1_R(b, c, d, e, a, SHA1_F1(c, d, e), 0x5A827999u, SHA1_W(19));
    SHA1_5(SHA1_F2, 0x6ED9EBA1u, 20, SHA1_W);
    SHA1_5(SHA1_F2, 0x6ED9EBA1u, 25, SHA1_W);
    SHA1_5(SHA1_F2, 0x6ED9EBA1u, 30, SHA1_W);
    SHA1_5(SHA1_F2, 0x6ED9EBA1u, 35, SHA1_W);
    SHA1_5(SHA1_F3, 0x8F1BBCDCu, 40, SHA1_W);
    SHA1_5(SHA1_F3, 0x8F1BBCDCu, 45, SHA1_W);
    SHA1_5(SHA1_F3, 0x8F1BBCDCu, 50, SHA1_W);
    SHA1_5(SHA1_F3, 0x8F1BBCDCu, 55, SHA1_W);
    SHA1_5(SHA1_F2, 0xCA62C1D6u, 60, SHA1_W);
    SHA1_5(SHA1_F2, 0xCA62C1D6u, 65, SHA1_W);
    SHA1_5(SHA1_F2, 0xCA62C1D6u, 70, SHA1_W);
    SHA1_5(SHA1_F2, 0xCA62C1D6u, 75, SHA1_W);
    s->h[0] += a;
    s->h[1] += b;
    s->h[2] += c;
    s->h[3] += d;
    s->h[4] += e;
}

void rk_sha1_init(rk_sha1_t *s)
{
    static const uint32_t iv[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
    memcpy(s->h, iv, sizeof iv);
    s->total = 0;
    s->used = 0;
}

void rk_sha1_update(rk_sha1_t *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    s->total += len;
    if (s->used > 0) {
        size_t take = 64 - s->used < len ? 64 - s->used : len;
        memcpy(s->block + s->used, p, take);
        s->used += take;
        p += take;
        len -= take;
        if (s->used < 64)
            return;
        sha1_block(s, s->block);
        s->used = 0;
    }
    for (; len >= 64; p += 64, len -= 64)
        sha1_block(s, p);
    memcpy(s->block, p, len);
    s->used = len;
}

void rk_sha1_final(rk_sha1_t *s, uint8_t out[RK_SHA1_LEN])
{
    uint64_t bits = s->total * 8;
    uint8_t pad[72] = {0x80};
    size_t npad = (s->used < 56 ? 56 : 120) - s->used;
    for (int i = 0; i < 8; i++)
        pad[npad + i] = (uint8_t)(bits >> (56 - 8 * i));
    rk_sha1_update(s, pad, npad + 8);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

/* ------------------------------------------------------------ HMAC (RFC 2104) */

void rk_hmac_sha1_init(rk_hmac_sha1_t *h, const void *key, size_t key_len)
{
    uint8_t k[64] = {0}, ikey[64];
    if (key_len > 64) {         /* long keys are hashed first */
        rk_sha1_t s;
        rk_sha1_init(&s);
        rk_sha1_update(&s, key, key_len);
        rk_sha1_final(&s, k);
    } else if (key_len > 0) {
        memcpy(k, key, key_len);
    }
    for (int i = 0; i < 64; i++) {
        ikey[i] = k[i] ^ 0x36;
        h->okey[i] = k[i] ^ 0x5c;
    }
    rk_sha1_init(&h->inner);
    rk_sha1_update(&h->inner, ikey, 64);
}

void rk_hmac_sha1_update(rk_hmac_sha1_t *h, const void *data, size_t len) { rk_sha1_update(&h->inner, data, len); }

void rk_hmac_sha1_final(rk_hmac_sha1_t *h, uint8_t out[RK_SHA1_LEN])
{
    uint8_t ih[RK_SHA1_LEN];
    rk_sha1_final(&h->inner, ih);
    rk_sha1_t o;
    rk_sha1_init(&o);
    rk_sha1_update(&o, h->okey, 64);
    rk_sha1_update(&o, ih, sizeof ih);
    rk_sha1_final(&o, out);
}

/* ------------------------------------------------------------ Base64 (RFC 4648 §4) */

size_t rk_base64_encode(const void *data, size_t len, char *out)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *p = data;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        out[o++] = al[v >> 18 & 63];
        out[o++] = al[v >> 12 & 63];
        out[o++] = i + 1 < len ? al[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? al[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

bool rk_ct_streq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    /* walk the longer string so the time depends on the lengths only */
    size_t n = la > lb ? la : lb;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)((i < la ? a[i] : 0) ^ (i < lb ? b[i] : 0));
    return diff == 0;
}

/* ------------------------------------------------------------ the request signature */

static int by_key(const void *x, const void *y)
{
    const rk_ext_field_t *a = *(const rk_ext_field_t *const *)x, *b = *(const rk_ext_field_t *const *)y;
    return strcmp(a->key, b->key);
}

int rk_acl_signature(const rk_cmd_t *cmd, const char *secret, const char *skip, char out[RK_ACL_SIG_MAX])
{
    const rk_ext_field_t **sorted = NULL;
    if (cmd->next > 0) {
        sorted = malloc(cmd->next * sizeof *sorted);
        if (sorted == NULL)
            return RK_ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < cmd->next; i++) {
        const rk_ext_field_t *f = &cmd->ext[i];
        if (strcmp(f->key, RK_ACL_SIGNATURE) == 0 || (skip != NULL && strcmp(f->key, skip) == 0))
            continue;
        sorted[n++] = f;
    }
    if (n > 1)
        qsort(sorted, n, sizeof *sorted, by_key);
    rk_hmac_sha1_t h;
    rk_hmac_sha1_init(&h, secret, strlen(secret));
    for (size_t i = 0; i < n; i++)
        rk_hmac_sha1_update(&h, sorted[i]->value, strlen(sorted[i]->value));
    if (cmd->body_len > 0)
        rk_hmac_sha1_update(&h, cmd->body, cmd->body_len);
    uint8_t mac[RK_SHA1_LEN];
    rk_hmac_sha1_final(&h, mac);
    rk_base64_encode(mac, sizeof mac, out);
    free(sorted);
    memset(&h, 0, sizeof h);    /* holds key-derived state */
    return RK_OK;
}

int rk_acl_sign_request(rk_cmd_t *cmd, const char *access_key, const char *secret, const char *token)
{
    int rc = rk_cmd_ext_set(cmd, RK_ACL_ACCESS_KEY, access_key);
    if (rc == RK_OK && token != NULL)
        rc = rk_cmd_ext_set(cmd, RK_ACL_SECURITY_TOKEN, token);
    char sig[RK_ACL_SIG_MAX];
    if (rc == RK_OK)
        rc = rk_acl_signature(cmd, secret, NULL, sig);
    if (rc == RK_OK)
        rc = rk_cmd_ext_set(cmd, RK_ACL_SIGNATURE, sig);
    return rc;
}
