/* idle_pool.h — a few idle objects kept for reuse, freed when nobody asked for one.
 *
 * Some objects are costly to make again and again (a 256 KiB block the kernel must fault in
 * page by page, a message array): the code that is done with one hands it to a pool, and the
 * code that needs one next asks the pool first. A pool holds at most `max` items
 * (RK_IDLE_POOL_MAX at most); each has a size (a block's capacity, or 0 when any item fits
 * any need). A get returns the newest item whose size is at least the size asked for. A pool
 * that was not asked for an item between two trims frees what it holds, so a program that
 * went quiet keeps nothing.
 *
 *   rk_idle_pool_t p;
 *   if (rk_idle_pool_init(&p, 16, free) != RK_OK) return RK_ENOMEM;
 *   size_t cap;
 *   void *b = rk_idle_pool_get(&p, len, &cap);   // NULL: make one (cap = its size)
 *   ...
 *   rk_idle_pool_put(&p, b, cap);                // kept, or freed at once
 *   rk_idle_pool_trim(&p, false);                // from a timer: frees all if no get since
 *   rk_idle_pool_destroy(&p);                    // frees what is left
 *
 * Memory: an item put in the pool belongs to the pool, which frees it with the free function
 * given at init (when the pool is full, at a trim, at destroy); an item returned by get
 * belongs to the caller again. The pool never allocates. Every call but init and destroy may
 * come from any thread (a mutex guards the pool); free functions run outside it. The caller
 * owns the rk_idle_pool_t itself; no global state. */
#ifndef RK_IDLE_POOL_H
#define RK_IDLE_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#define RK_IDLE_POOL_MAX 16

typedef void (*rk_idle_free_fn)(void *item);

typedef struct {
    uv_mutex_t mu;
    void *item[RK_IDLE_POOL_MAX];       /* oldest first (a get moves the newest into the hole) */
    size_t size[RK_IDLE_POOL_MAX];
    int n, max;
    bool used;                          /* a get was asked since the last trim */
    rk_idle_free_fn free_fn;
} rk_idle_pool_t;

/* An empty pool keeping at most max (1..RK_IDLE_POOL_MAX) items, freed with free_fn
 * (not NULL). RK_OK, RK_EINVAL, or RK_ENOMEM (the mutex). */
int rk_idle_pool_init(rk_idle_pool_t *p, int max, rk_idle_free_fn free_fn);

/* The newest item of size >= min_size, taken out of the pool (*size, when not NULL, set to
 * its size), or NULL when none fits. Either way the pool counts as used until the next trim. */
void *rk_idle_pool_get(rk_idle_pool_t *p, size_t min_size, size_t *size);

/* Gives item (of the given size) to the pool: kept if there is room, else freed at once with
 * free_fn. NULL is ignored. */
void rk_idle_pool_put(rk_idle_pool_t *p, void *item, size_t size);

/* Frees every item if no get was asked since the last trim, or if all; then starts a new
 * period. Callers call it periodically (how often is theirs to choose). */
void rk_idle_pool_trim(rk_idle_pool_t *p, bool all);

/* Frees the items left and the mutex. */
void rk_idle_pool_destroy(rk_idle_pool_t *p);

#endif
