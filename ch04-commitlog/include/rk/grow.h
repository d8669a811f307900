/* grow.h — growing an array by doubling: the one realloc idiom of the code base.
 *
 *   item_t *v = NULL;  size_t n = 0, cap = 0;
 *   if (RK_GROW(v, cap, n + 1, 16) != RK_OK) return RK_ENOMEM;
 *   v[n++] = x;
 *
 * RK_GROW(arr, cap, need, first) makes room for at least `need` elements in
 * `arr` (an lvalue of type T *), whose capacity in elements is `cap` (an
 * lvalue of type size_t or int): nothing when cap >= need already; else the
 * capacity doubles, starting from `first` when it is 0, until it covers
 * `need`, and arr is realloc'ed to it. Returns RK_OK, or RK_ENOMEM with arr
 * and cap unchanged (the old block and its elements are still there, and
 * still the caller's) when memory runs out or the size in bytes would
 * overflow (an int capacity also stops at INT_MAX). New elements are not
 * initialised. The caller owns arr and frees it with free(). */
#ifndef RK_GROW_H
#define RK_GROW_H

#include <stddef.h>

int rk_grow_z(void *arrp, size_t *cap, size_t need, size_t elem, size_t first);
int rk_grow_i(void *arrp, int *cap, int need, size_t elem, int first);

#define RK_GROW(arr, cap, need, first)                                                  \
    _Generic(&(cap), size_t *: rk_grow_z, int *: rk_grow_i)(&(arr), &(cap), (need),     \
                                                            sizeof *(arr), (first))

#endif
