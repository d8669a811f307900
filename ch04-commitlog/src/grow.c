/* grow.c — growing an array by doubling (see rk/grow.h). */
#include "rk/grow.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rk/error.h"

/* Reallocates the array *arrp points at to nc elements of elem bytes.
 * arrp points at a T *: its value is read and written with memcpy, which is
 * defined for any object pointer type (a cast to void ** would not be). */
static int realloc_to(void *arrp, size_t nc, size_t elem)
{
    if (elem > 0 && nc > SIZE_MAX / elem)
        return RK_ENOMEM;
    void *old;
    memcpy(&old, arrp, sizeof old);
    void *p = realloc(old, nc * elem);
    if (p == NULL)
        return RK_ENOMEM;
    memcpy(arrp, &p, sizeof p);
    return RK_OK;
}

int rk_grow_z(void *arrp, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return RK_OK;
    size_t nc = *cap > 0 ? *cap : (first > 0 ? first : 1);
    while (nc < need) {
        if (nc > SIZE_MAX / 2)
            return RK_ENOMEM;
        nc *= 2;
    }
    int rc = realloc_to(arrp, nc, elem);
    if (rc == RK_OK)
        *cap = nc;
    return rc;
}

int rk_grow_i(void *arrp, int *cap, int need, size_t elem, int first)
{
    if (need <= *cap)
        return RK_OK;
    if (*cap < 0)
        return RK_EINVAL;
    int nc = *cap > 0 ? *cap : (first > 0 ? first : 1);
    while (nc < need)
        nc = nc > INT_MAX / 2 ? INT_MAX : nc * 2;   /* need <= INT_MAX: this ends */
    int rc = realloc_to(arrp, (size_t)nc, elem);
    if (rc == RK_OK)
        *cap = nc;
    return rc;
}
