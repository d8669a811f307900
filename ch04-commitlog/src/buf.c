/* buf.c — growable buffers and bounds-checked readers (see rk/buf.h). */
#include "rk/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "rk/error.h"
#include "rk/grow.h"

void rk_buf_init(rk_buf_t *b) { memset(b, 0, sizeof *b); }

void rk_buf_free(rk_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void rk_buf_reset(rk_buf_t *b) { b->len = 0; }

int rk_buf_reserve(rk_buf_t *b, size_t extra)
{
    if (b->err)
        return b->err;
    if (extra <= b->cap - b->len)
        return RK_OK;
    if (extra > SIZE_MAX - b->len || RK_GROW(b->data, b->cap, b->len + extra, 64) != RK_OK) {
        b->err = RK_ENOMEM;
        return b->err;
    }
    return RK_OK;
}

int rk_buf_put(rk_buf_t *b, const void *p, size_t n)
{
    int rc = rk_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return RK_OK;
}

int rk_buf_put_u8(rk_buf_t *b, uint8_t v) { return rk_buf_put(b, &v, 1); }

int rk_buf_put_u16(rk_buf_t *b, uint16_t v)
{
    uint8_t t[2];
    rk_be_put16(t, v);
    return rk_buf_put(b, t, 2);
}

int rk_buf_put_u32(rk_buf_t *b, uint32_t v)
{
    uint8_t t[4];
    rk_be_put32(t, v);
    return rk_buf_put(b, t, 4);
}

int rk_buf_put_u64(rk_buf_t *b, uint64_t v)
{
    uint8_t t[8];
    rk_be_put64(t, v);
    return rk_buf_put(b, t, 8);
}

int rk_buf_put_str(rk_buf_t *b, const char *s) { return rk_buf_put(b, s, strlen(s)); }

int rk_buf_printf(rk_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return RK_EINVAL;
    int rc = rk_buf_reserve(b, (size_t)n + 1);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return RK_OK;
}

int rk_buf_cstr(rk_buf_t *b)
{
    int rc = rk_buf_reserve(b, 1);
    if (rc)
        return rc;
    b->data[b->len] = '\0';
    return RK_OK;
}

uint8_t *rk_buf_detach(rk_buf_t *b, size_t *len)
{
    uint8_t *p = b->data;
    if (len)
        *len = b->len;
    memset(b, 0, sizeof *b);
    return p;
}

const uint8_t *rk_reader_take(rk_reader_t *r, size_t n)
{
    if (r->err || n > r->len - r->pos) {
        r->err = RK_EEOF;
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

uint8_t rk_reader_u8(rk_reader_t *r)
{
    const uint8_t *p = rk_reader_take(r, 1);
    return p ? p[0] : 0;
}

uint16_t rk_reader_u16(rk_reader_t *r)
{
    const uint8_t *p = rk_reader_take(r, 2);
    return p ? rk_be_get16(p) : 0;
}

uint32_t rk_reader_u32(rk_reader_t *r)
{
    const uint8_t *p = rk_reader_take(r, 4);
    return p ? rk_be_get32(p) : 0;
}

uint64_t rk_reader_u64(rk_reader_t *r)
{
    const uint8_t *p = rk_reader_take(r, 8);
    return p ? rk_be_get64(p) : 0;
}
