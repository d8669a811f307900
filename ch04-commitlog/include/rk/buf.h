/* buf.h — byte buffers with big-endian readers and writers.
 *
 * RocketMQ writes every integer big-endian (Java's ByteBuffer default), on
 * disk and on the wire. Two tools here:
 *
 *   - rk_be_put/get_*: raw helpers on a byte pointer, for fixed layouts;
 *   - rk_buf_t: a growable write buffer (owns its memory, free with
 *     rk_buf_free) and rk_reader_t: a bounds-checked cursor over bytes it
 *     does NOT own. A reader that runs past its end sets `err` and returns
 *     zeros from then on, so a decoder can read a whole record and check
 *     `err` once at the end (truncated input never reads out of bounds). */
#ifndef RK_BUF_H
#define RK_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void rk_be_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void rk_be_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void rk_be_put64(uint8_t *p, uint64_t v)
{
    rk_be_put32(p, (uint32_t)(v >> 32));
    rk_be_put32(p + 4, (uint32_t)v);
}
static inline uint16_t rk_be_get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t rk_be_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t rk_be_get64(const uint8_t *p)
{
    return ((uint64_t)rk_be_get32(p) << 32) | rk_be_get32(p + 4);
}

/* Growable output buffer. Zero-initialise ({0}) or rk_buf_init; free with rk_buf_free. */
typedef struct rk_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    int err;        /* first allocation failure (RK_ENOMEM), sticky */
} rk_buf_t;

void rk_buf_init(rk_buf_t *b);
void rk_buf_free(rk_buf_t *b);
void rk_buf_reset(rk_buf_t *b);          /* len = 0, keep memory */
int rk_buf_reserve(rk_buf_t *b, size_t extra);
int rk_buf_put(rk_buf_t *b, const void *p, size_t n);
int rk_buf_put_u8(rk_buf_t *b, uint8_t v);
int rk_buf_put_u16(rk_buf_t *b, uint16_t v);
int rk_buf_put_u32(rk_buf_t *b, uint32_t v);
int rk_buf_put_u64(rk_buf_t *b, uint64_t v);
int rk_buf_put_str(rk_buf_t *b, const char *s);   /* bytes of s, no NUL */
int rk_buf_printf(rk_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes data a NUL-terminated string (the NUL is not counted in len). */
int rk_buf_cstr(rk_buf_t *b);
/* Hands the memory to the caller (free() it) and resets the buffer. */
uint8_t *rk_buf_detach(rk_buf_t *b, size_t *len);

/* Bounds-checked reader over borrowed bytes. */
typedef struct rk_reader {
    const uint8_t *p;
    size_t len;
    size_t pos;
    int err;        /* RK_EEOF once a read ran past the end, sticky */
} rk_reader_t;

static inline rk_reader_t rk_reader(const void *p, size_t len)
{
    rk_reader_t r = {(const uint8_t *)p, len, 0, 0};
    return r;
}
static inline size_t rk_reader_left(const rk_reader_t *r) { return r->err ? 0 : r->len - r->pos; }
/* Returns a pointer to the next n bytes and advances, or NULL (and sets err). */
const uint8_t *rk_reader_take(rk_reader_t *r, size_t n);
uint8_t rk_reader_u8(rk_reader_t *r);
uint16_t rk_reader_u16(rk_reader_t *r);
uint32_t rk_reader_u32(rk_reader_t *r);
uint64_t rk_reader_u64(rk_reader_t *r);

#endif
