/* error.h — one error convention for all of rocklet.
 *
 * Functions that can fail return an int: 0 (RK_OK) on success, a negative
 * code on failure. Codes in [-4095, -1] are -errno values straight from the
 * OS (e.g. -ENOENT, -ENOSPC); rocklet's own codes live below -10000 so the
 * two never collide. Functions that return a pointer return NULL on failure
 * and, where the caller needs to know why, take an `int *err` out-param.
 *
 * As in libuv: if a function that takes a callback returns an error, the
 * callback is never called.
 *
 * rk_strerror() returns a static string; nothing to free. No global state. */
#ifndef RK_ERROR_H
#define RK_ERROR_H

#include <errno.h>

enum {
    RK_OK = 0,
    RK_ENOMEM      = -ENOMEM,   /* allocation failed                          */
    RK_EINVAL      = -EINVAL,   /* bad argument or bad input                  */
    RK_EBASE       = -10000,
    RK_ECORRUPT    = -10001,    /* bytes on disk or wire fail a check          */
    RK_EFULL       = -10002,    /* no room left (file, buffer, queue)          */
    RK_ENOTFOUND   = -10003,    /* no such message, key, file, topic           */
    RK_ELOCKED     = -10004,    /* the store is locked by another process      */
    RK_ETIMEDOUT   = -10005,    /* a wait ran out (flush, replica, response)   */
    RK_ECLOSED     = -10006,    /* object or connection already closed         */
    RK_ETOOBIG     = -10007,    /* message, property or frame over its limit   */
    RK_EEOF        = -10008,    /* end of data (end of a file, a stream)       */
    RK_EBADCONFIG  = -10009,    /* a configuration value is invalid            */
    RK_EPROTO      = -10010,    /* protocol violation by a peer                */
    RK_EBUSY       = -10011,    /* try again later (flow control, pending)     */
    RK_EEXIST      = -10012,    /* already exists                              */
    RK_EPERM       = -10013,    /* not allowed (permission, read-only role)    */
};

/* A short English description of `code` (an RK_E* or -errno value). */
const char *rk_strerror(int code);

/* The code's symbolic name ("RK_ECORRUPT", "ENOENT"), for logs and tests. */
const char *rk_errname(int code);

#endif
