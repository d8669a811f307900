/* strmap.h — a small string-keyed hash map (chained, grows by doubling).
 *
 * The store keys many tables by strings RocketMQ builds the same way:
 * "topic-queueId" (queue offset table), "topic@group" (consumer offsets),
 * topic (consume-queue table). This map copies its keys; values are opaque
 * pointers the caller owns (rk_strmap_free takes an optional destructor).
 *
 * Not thread-safe: the owner of a map guards it with its own lock. Iteration
 * order is unspecified; rk_strmap_keys_sorted() gives a stable order for
 * printing and persisting. No global state. */
#ifndef RK_STRMAP_H
#define RK_STRMAP_H

#include <stddef.h>

typedef struct rk_strmap_entry {
    struct rk_strmap_entry *next;
    unsigned hash;
    void *value;
    char key[];                    /* NUL-terminated copy */
} rk_strmap_entry_t;

typedef struct rk_strmap {
    rk_strmap_entry_t **buckets;
    size_t nbuckets;               /* power of two, or 0 before the first put */
    size_t len;
} rk_strmap_t;

void rk_strmap_init(rk_strmap_t *m);
/* Frees the entries; calls destroy(value) on each value if destroy != NULL. */
void rk_strmap_free(rk_strmap_t *m, void (*destroy)(void *value));
void *rk_strmap_get(const rk_strmap_t *m, const char *key);
/* Inserts or replaces; *old (if not NULL) receives the replaced value or NULL.
 * RK_ENOMEM leaves the map unchanged. */
int rk_strmap_put(rk_strmap_t *m, const char *key, void *value, void **old);
/* Removes key; returns its value (or NULL if absent). */
void *rk_strmap_remove(rk_strmap_t *m, const char *key);
/* Visits every entry; stops early if fn returns non-zero and returns that. */
int rk_strmap_foreach(const rk_strmap_t *m, int (*fn)(const char *key, void *value, void *ctx), void *ctx);
/* A malloc'ed array of the keys (pointers into the map, valid until the next
 * put/remove), sorted with strcmp; *n receives the count. NULL on ENOMEM or
 * for an empty map (then *n == 0). */
const char **rk_strmap_keys_sorted(const rk_strmap_t *m, size_t *n);
/* Writes the key s + sep + decimal(n) into out, exactly as
 * snprintf(out, len, "%s%c%d", s, sep, n) would (cut to len - 1 bytes and
 * NUL-terminated when len > 0), without the format machinery: for keys
 * built once per message ("topic-queueId"). Returns the uncut length. */
size_t rk_strmap_key_int(char *out, size_t len, const char *s, char sep, int n);

#endif
