/* test_grow.c — RK_GROW: the elements already in an array survive every growth, the capacity
 * doubles from the first size asked for, and a size that cannot exist leaves the array as it
 * was (the caller still owns it). */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "rk/error.h"
#include "rk/grow.h"

typedef struct {
    int64_t a;
    char b[12];
} item_t;

Test(grow, keeps_every_element_and_doubles)
{
    item_t *v = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < 1000; i++) {
        size_t before = cap;
        cr_assert_eq(RK_GROW(v, cap, n + 1, 16), RK_OK);
        if (before == 0)
            cr_assert_eq(cap, 16u);
        else if (cap != before)
            cr_assert_eq(cap, before * 2);
        v[n] = (item_t){.a = i * 7};
        snprintf(v[n].b, sizeof v[n].b, "%d", i);
        n++;
    }
    cr_assert_eq(cap, 1024u);
    for (int i = 0; i < 1000; i++) {
        char want[12];
        snprintf(want, sizeof want, "%d", i);
        cr_assert_eq(v[i].a, i * 7);
        cr_assert_str_eq(v[i].b, want);
    }
    free(v);
}

Test(grow, room_already_there_changes_nothing)
{
    int *v = malloc(8 * sizeof *v);
    cr_assert_not_null(v);
    int *was = v;
    size_t cap = 8;
    cr_assert_eq(RK_GROW(v, cap, 8, 16), RK_OK);
    cr_assert_eq(v, was);
    cr_assert_eq(cap, 8u);
    cr_assert_eq(RK_GROW(v, cap, 0, 16), RK_OK);
    cr_assert_eq(cap, 8u);
    free(v);
}

Test(grow, a_big_need_doubles_past_it_at_once)
{
    char *v = NULL;
    size_t cap = 0;
    cr_assert_eq(RK_GROW(v, cap, 1000, 64), RK_OK);
    cr_assert_eq(cap, 1024u);
    v[999] = 'x';
    int *w = NULL;
    int icap = 0;
    cr_assert_eq(RK_GROW(w, icap, 5, 0), RK_OK);       /* no first size: from 1 */
    cr_assert_eq(icap, 8);
    free(v);
    free(w);
}

Test(grow, an_int_capacity_stops_at_INT_MAX)
{
    char *v = NULL;
    int cap = INT_MAX / 2 + 1;                 /* pretend: the doubling would pass INT_MAX */
    /* the realloc of ~2 GiB may fail or not: either way cap stays an int that covers need */
    char *keep = v;
    int rc = RK_GROW(v, cap, INT_MAX / 2 + 2, 1);
    if (rc == RK_OK) {
        cr_assert_eq(cap, INT_MAX);
        free(v);
    } else {
        cr_assert_eq(rc, RK_ENOMEM);
        cr_assert_eq(cap, INT_MAX / 2 + 1);
        cr_assert_eq(v, keep);
    }
}

Test(grow, an_impossible_size_leaves_the_array_as_it_was)
{
    uint64_t *v = malloc(4 * sizeof *v);
    cr_assert_not_null(v);
    for (int i = 0; i < 4; i++)
        v[i] = (uint64_t)i + 100;
    uint64_t *was = v;
    size_t cap = 4;
    cr_assert_eq(RK_GROW(v, cap, SIZE_MAX / 4, 4), RK_ENOMEM);     /* bytes overflow size_t */
    cr_assert_eq(v, was);
    cr_assert_eq(cap, 4u);
    cr_assert_eq(RK_GROW(v, cap, SIZE_MAX, 4), RK_ENOMEM);         /* the count itself */
    cr_assert_eq(cap, 4u);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(v[i], (uint64_t)i + 100);
    free(v);
}
