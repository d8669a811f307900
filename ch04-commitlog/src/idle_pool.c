/* idle_pool.c — a few idle objects kept for reuse (see rk/idle_pool.h). */
#include "rk/idle_pool.h"

#include <string.h>

#include "rk/error.h"

int rk_idle_pool_init(rk_idle_pool_t *p, int max, rk_idle_free_fn free_fn)
{
    if (max < 1 || max > RK_IDLE_POOL_MAX || free_fn == NULL)
        return RK_EINVAL;
    if (uv_mutex_init(&p->mu) != 0)
        return RK_ENOMEM;
    p->n = 0;
    p->max = max;
    p->used = false;
    p->free_fn = free_fn;
    return RK_OK;
}

void *rk_idle_pool_get(rk_idle_pool_t *p, size_t min_size, size_t *size)
{
    void *it = NULL;
    uv_mutex_lock(&p->mu);
    p->used = true;
    for (int i = p->n - 1; i >= 0; i--)
        if (p->size[i] >= min_size) {
            it = p->item[i];
            if (size != NULL)
                *size = p->size[i];
            p->n--;
            p->item[i] = p->item[p->n];
            p->size[i] = p->size[p->n];
            break;
        }
    uv_mutex_unlock(&p->mu);
    return it;
}

void rk_idle_pool_put(rk_idle_pool_t *p, void *item, size_t size)
{
    if (item == NULL)
        return;
    uv_mutex_lock(&p->mu);
    bool kept = p->n < p->max;
    if (kept) {
        p->item[p->n] = item;
        p->size[p->n++] = size;
    }
    uv_mutex_unlock(&p->mu);
    if (!kept)
        p->free_fn(item);
}

void rk_idle_pool_trim(rk_idle_pool_t *p, bool all)
{
    void *drop[RK_IDLE_POOL_MAX];
    int n = 0;
    uv_mutex_lock(&p->mu);
    if (all || !p->used) {
        n = p->n;
        memcpy(drop, p->item, (size_t)n * sizeof *drop);
        p->n = 0;
    }
    p->used = false;
    uv_mutex_unlock(&p->mu);
    for (int i = 0; i < n; i++)
        p->free_fn(drop[i]);
}

void rk_idle_pool_destroy(rk_idle_pool_t *p)
{
    rk_idle_pool_trim(p, true);
    uv_mutex_destroy(&p->mu);
}
