/* test_idle_pool.c — rk_idle_pool: a get returns the newest item big enough and never one too
 * small; a full pool frees what is put in; a trim frees everything only when no get was asked
 * since the last one; destroy frees what is left. Every item is counted in and out. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "rk/error.h"
#include "rk/idle_pool.h"

static int freed;

static void count_free(void *item)
{
    freed++;
    free(item);
}

static void *item(void)
{
    void *p = malloc(8);
    cr_assert_not_null(p);
    return p;
}

/* Trims p (all or not) and checks how many items were freed in all and how many are left. */
static void trim_expect(rk_idle_pool_t *p, bool all, int freed_total, int left)
{
    rk_idle_pool_trim(p, all);
    cr_assert_eq(freed, freed_total);
    cr_assert_eq(p->n, left);
}

/* A pool of max items (count_free), holding n items of size 1 put into it. */
static void setup(rk_idle_pool_t *p, int max, int n)
{
    freed = 0;
    cr_assert_eq(rk_idle_pool_init(p, max, count_free), RK_OK);
    for (int i = 0; i < n; i++)
        rk_idle_pool_put(p, item(), 1);
}

Test(idle_pool, init_refuses_bad_arguments)
{
    rk_idle_pool_t p;
    cr_assert_eq(rk_idle_pool_init(&p, 0, count_free), RK_EINVAL);
    cr_assert_eq(rk_idle_pool_init(&p, RK_IDLE_POOL_MAX + 1, count_free), RK_EINVAL);
    cr_assert_eq(rk_idle_pool_init(&p, 4, NULL), RK_EINVAL);
}

Test(idle_pool, get_returns_the_newest_item_that_fits)
{
    rk_idle_pool_t p;
    setup(&p, 16, 0);
    void *a = item(), *b = item(), *c = item(), *d = item();
    rk_idle_pool_put(&p, a, 100);
    rk_idle_pool_put(&p, b, 300);
    rk_idle_pool_put(&p, c, 200);
    rk_idle_pool_put(&p, d, 50);
    size_t sz = 0;
    cr_assert_eq(rk_idle_pool_get(&p, 150, &sz), c);       /* newest of b and c */
    cr_assert_eq(sz, 200u);
    cr_assert_eq(rk_idle_pool_get(&p, 150, &sz), b);
    cr_assert_eq(sz, 300u);
    cr_assert_eq(rk_idle_pool_get(&p, 0, &sz), d);         /* any size: the newest */
    cr_assert_eq(sz, 50u);
    cr_assert_eq(rk_idle_pool_get(&p, 100, NULL), a);      /* exactly big enough */
    cr_assert_null(rk_idle_pool_get(&p, 0, &sz));
    free(a);
    free(b);
    free(c);
    free(d);
    rk_idle_pool_destroy(&p);
    cr_assert_eq(freed, 0);
}

Test(idle_pool, no_item_too_small_is_returned)
{
    rk_idle_pool_t p;
    setup(&p, 16, 0);
    rk_idle_pool_put(&p, item(), 10);
    rk_idle_pool_put(&p, item(), 99);
    cr_assert_null(rk_idle_pool_get(&p, 100, NULL));
    cr_assert_eq(p.n, 2);                                   /* both still kept */
    rk_idle_pool_put(&p, NULL, 1000);                       /* ignored */
    cr_assert_eq(p.n, 2);
    rk_idle_pool_destroy(&p);
    cr_assert_eq(freed, 2);
}

Test(idle_pool, a_full_pool_frees_what_is_put)
{
    rk_idle_pool_t p;
    setup(&p, 3, 5);
    cr_assert_eq(freed, 2);
    cr_assert_eq(p.n, 3);
    rk_idle_pool_destroy(&p);
    cr_assert_eq(freed, 5);

    setup(&p, RK_IDLE_POOL_MAX, RK_IDLE_POOL_MAX + 4);
    cr_assert_eq(freed, 4);
    rk_idle_pool_destroy(&p);
    cr_assert_eq(freed, RK_IDLE_POOL_MAX + 4);
}

Test(idle_pool, a_trim_after_no_get_frees_all)
{
    rk_idle_pool_t p;
    setup(&p, 16, 4);
    trim_expect(&p, false, 4, 0);
    cr_assert_null(rk_idle_pool_get(&p, 0, NULL));
    rk_idle_pool_destroy(&p);
    cr_assert_eq(freed, 4);
}

Test(idle_pool, a_trim_after_a_get_keeps_them_and_the_next_frees)
{
    rk_idle_pool_t p;
    setup(&p, 16, 4);
    void *x = rk_idle_pool_get(&p, 0, NULL);
    cr_assert_not_null(x);
    rk_idle_pool_put(&p, x, 1);
    trim_expect(&p, false, 0, 4);
    trim_expect(&p, false, 4, 0);
    rk_idle_pool_destroy(&p);
}

Test(idle_pool, a_get_that_finds_nothing_still_counts_as_used)
{
    rk_idle_pool_t p;
    setup(&p, 16, 0);
    rk_idle_pool_put(&p, item(), 10);
    cr_assert_null(rk_idle_pool_get(&p, 20, NULL));
    trim_expect(&p, false, 0, 1);
    trim_expect(&p, false, 1, 0);
    rk_idle_pool_destroy(&p);
}

Test(idle_pool, trim_all_frees_even_after_a_get)
{
    rk_idle_pool_t p;
    setup(&p, 16, 2);
    free(rk_idle_pool_get(&p, 0, NULL));
    trim_expect(&p, true, 1, 0);
    rk_idle_pool_destroy(&p);
}

Test(idle_pool, destroy_frees_all)
{
    rk_idle_pool_t p;
    setup(&p, 16, 7);
    free(rk_idle_pool_get(&p, 0, NULL));                    /* used: destroy frees anyway */
    rk_idle_pool_destroy(&p);
    cr_assert_eq(freed, 6);
}
