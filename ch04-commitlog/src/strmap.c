/* strmap.c — chained string hash map (see rk/strmap.h). */
#include "rk/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rk/error.h"

static unsigned fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 16777619u;
    }
    return h;
}

void rk_strmap_init(rk_strmap_t *m)
{
    m->buckets = NULL;
    m->nbuckets = 0;
    m->len = 0;
}

void rk_strmap_free(rk_strmap_t *m, void (*destroy)(void *value))
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        rk_strmap_entry_t *e = m->buckets[i];
        while (e) {
            rk_strmap_entry_t *next = e->next;
            if (destroy)
                destroy(e->value);
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    rk_strmap_init(m);
}

static rk_strmap_entry_t **slot_of(const rk_strmap_t *m, const char *key, unsigned h)
{
    rk_strmap_entry_t **pp = &m->buckets[h & (m->nbuckets - 1)];
    while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
        pp = &(*pp)->next;
    return pp;
}

void *rk_strmap_get(const rk_strmap_t *m, const char *key)
{
    if (m->nbuckets == 0)
        return NULL;
    rk_strmap_entry_t **pp = slot_of(m, key, fnv1a(key));
    return *pp ? (*pp)->value : NULL;
}

static int grow(rk_strmap_t *m)
{
    size_t nb = m->nbuckets ? m->nbuckets * 2 : 16;
    rk_strmap_entry_t **b = calloc(nb, sizeof *b);
    if (b == NULL)
        return RK_ENOMEM;
    for (size_t i = 0; i < m->nbuckets; i++) {
        rk_strmap_entry_t *e = m->buckets[i];
        while (e) {
            rk_strmap_entry_t *next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = nb;
    return RK_OK;
}

int rk_strmap_put(rk_strmap_t *m, const char *key, void *value, void **old)
{
    if (old)
        *old = NULL;
    if (m->len + 1 > m->nbuckets * 3 / 4) {
        int rc = grow(m);
        if (rc != RK_OK)
            return rc;
    }
    unsigned h = fnv1a(key);
    rk_strmap_entry_t **pp = slot_of(m, key, h);
    if (*pp) {
        if (old)
            *old = (*pp)->value;
        (*pp)->value = value;
        return RK_OK;
    }
    size_t kl = strlen(key);
    rk_strmap_entry_t *e = malloc(sizeof *e + kl + 1);
    if (e == NULL)
        return RK_ENOMEM;
    memcpy(e->key, key, kl + 1);
    e->hash = h;
    e->value = value;
    e->next = NULL;
    *pp = e;
    m->len++;
    return RK_OK;
}

void *rk_strmap_remove(rk_strmap_t *m, const char *key)
{
    if (m->nbuckets == 0)
        return NULL;
    rk_strmap_entry_t **pp = slot_of(m, key, fnv1a(key));
    rk_strmap_entry_t *e = *pp;
    if (e == NULL)
        return NULL;
    *pp = e->next;
    void *v = e->value;
    free(e);
    m->len--;
    return v;
}

int rk_strmap_foreach(const rk_strmap_t *m, int (*fn)(const char *, void *, void *), void *ctx)
{
    for (size_t i = 0; i < m->nbuckets; i++)
        for (rk_strmap_entry_t *e = m->buckets[i]; e; e = e->next) {
            int rc = fn(e->key, e->value, ctx);
            if (rc)
                return rc;
        }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **rk_strmap_keys_sorted(const rk_strmap_t *m, size_t *n)
{
    *n = 0;
    if (m->len == 0)
        return NULL;
    const char **keys = malloc(m->len * sizeof *keys);
    if (keys == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < m->nbuckets; i++)
        for (rk_strmap_entry_t *e = m->buckets[i]; e; e = e->next)
            keys[k++] = e->key;
    qsort(keys, k, sizeof *keys, cmp_str);
    *n = k;
    return keys;
}

size_t rk_strmap_key_int(char *out, size_t len, const char *s, char sep, int n)
{
    char num[12];                       /* "-2147483648" */
    size_t nl = 0;
    unsigned u = n < 0 ? 0u - (unsigned)n : (unsigned)n;
    do {
        num[sizeof num - 1 - nl++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (n < 0)
        num[sizeof num - 1 - nl++] = '-';
    size_t sl = strlen(s), total = sl + 1 + nl;
    if (len == 0)
        return total;
    size_t room = len - 1, at = 0;
    size_t c = sl < room ? sl : room;
    memcpy(out, s, c);
    at = c;
    if (at < room)
        out[at++] = sep;
    c = nl < room - at ? nl : room - at;
    memcpy(out + at, num + sizeof num - nl, c);
    at += c;
    out[at] = '\0';
    return total;
}
