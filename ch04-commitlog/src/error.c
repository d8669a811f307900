/* error.c — names and descriptions of rocklet's error codes (see rk/error.h). */
#include "rk/error.h"

#include <string.h>

static const struct {
    int code;
    const char *name;
    const char *text;
} rk_errors[] = {
    {RK_OK,         "RK_OK",         "success"},
    {RK_ECORRUPT,   "RK_ECORRUPT",   "data is corrupt"},
    {RK_EFULL,      "RK_EFULL",      "no room left"},
    {RK_ENOTFOUND,  "RK_ENOTFOUND",  "not found"},
    {RK_ELOCKED,    "RK_ELOCKED",    "locked by another process"},
    {RK_ETIMEDOUT,  "RK_ETIMEDOUT",  "timed out"},
    {RK_ECLOSED,    "RK_ECLOSED",    "already closed"},
    {RK_ETOOBIG,    "RK_ETOOBIG",    "too big"},
    {RK_EEOF,       "RK_EEOF",       "end of data"},
    {RK_EBADCONFIG, "RK_EBADCONFIG", "invalid configuration"},
    {RK_EPROTO,     "RK_EPROTO",     "protocol error"},
    {RK_EBUSY,      "RK_EBUSY",      "busy, try again later"},
    {RK_EEXIST,     "RK_EEXIST",     "already exists"},
    {RK_EPERM,      "RK_EPERM",      "operation not permitted"},
};

const char *rk_strerror(int code)
{
    for (size_t i = 0; i < sizeof rk_errors / sizeof rk_errors[0]; i++)
        if (rk_errors[i].code == code)
            return rk_errors[i].text;
    if (code < 0 && code > -4096)
        return strerror(-code);
    return "unknown error";
}

const char *rk_errname(int code)
{
    for (size_t i = 0; i < sizeof rk_errors / sizeof rk_errors[0]; i++)
        if (rk_errors[i].code == code)
            return rk_errors[i].name;
    if (code < 0 && code > -4096) {
        const char *n = strerrorname_np(-code);
        return n ? n : "E?";
    }
    return "RK_E?";
}
