/* client_message.c — UNIQ_KEY ids, batch bodies and body compression (see rk/client_message.h). */
#include "rk/client_message.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/json.h"

void rk_uniq_gen_init(rk_uniq_gen_t *g, const uint8_t ip4[4], uint32_t instance)
{
    static const uint8_t loopback[4] = {127, 0, 0, 1};
    memcpy(g->prefix, ip4 ? ip4 : loopback, 4);
    rk_be_put16(g->prefix + 4, (uint16_t)getpid());
    rk_be_put32(g->prefix + 6, instance);
    atomic_init(&g->counter, 0);
    atomic_init(&g->month_start_ms, 0);
    atomic_init(&g->next_month_ms, 0);     /* computed at the first id */
}

/* The start of the month containing now_ms and of the next one (local
 * time), as Java's MessageClientIDSetter computes them. */
static void month_bounds(int64_t now_ms, int64_t *start, int64_t *next)
{
    time_t secs = (time_t)(now_ms / 1000);
    struct tm tm;
    localtime_r(&secs, &tm);
    tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    struct tm nx = tm;
    *start = (int64_t)mktime(&tm) * 1000;
    nx.tm_mon += 1;
    nx.tm_isdst = -1;
    *next = (int64_t)mktime(&nx) * 1000;
}

/* Milliseconds since the start of the current month; the bounds are
 * recomputed only when a month ends (threads racing there compute the same). */
static uint32_t ms_in_month(rk_uniq_gen_t *g)
{
    int64_t now = rk_now_ms();
    if (now >= atomic_load(&g->next_month_ms) || now < atomic_load(&g->month_start_ms)) {
        int64_t start, next;
        month_bounds(now, &start, &next);
        atomic_store(&g->month_start_ms, start);
        atomic_store(&g->next_month_ms, next);
    }
    return (uint32_t)(now - atomic_load(&g->month_start_ms));
}

void rk_uniq_next(rk_uniq_gen_t *g, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    uint8_t raw[16];
    memcpy(raw, g->prefix, 10);
    rk_be_put32(raw + 10, ms_in_month(g));
    rk_be_put16(raw + 14, (uint16_t)atomic_fetch_add(&g->counter, 1));
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 0xF];
    }
    out[RK_UNIQ_KEY_LEN] = '\0';
}

int rk_batch_encode(rk_buf_t *out, const rk_batch_msg_t *m)
{
    if (m->props_len > RK_PROPERTIES_MAX_LEN || m->body_len > INT32_MAX - 64)
        return RK_ETOOBIG;
    size_t total = 4 + 4 + 4 + 4 + 4 + m->body_len + 2 + m->props_len;
    rk_buf_reserve(out, total);             /* one growth at most (errors are sticky) */
    rk_buf_put_u32(out, (uint32_t)total);
    rk_buf_put_u32(out, 0);                 /* magic: unused in a batch */
    rk_buf_put_u32(out, 0);                 /* body CRC: the broker computes it */
    rk_buf_put_u32(out, (uint32_t)m->flag);
    rk_buf_put_u32(out, (uint32_t)m->body_len);
    rk_buf_put(out, m->body, m->body_len);
    rk_buf_put_u16(out, (uint16_t)m->props_len);
    rk_buf_put(out, m->props, m->props_len);
    return out->err;
}

int rk_batch_decode(const uint8_t *p, size_t len, size_t *pos, rk_batch_msg_t *out)
{
    if (*pos >= len)
        return RK_EEOF;
    rk_reader_t r = rk_reader(p + *pos, len - *pos);
    uint32_t total = rk_reader_u32(&r);
    rk_reader_u32(&r);
    rk_reader_u32(&r);
    out->flag = (int32_t)rk_reader_u32(&r);
    uint32_t blen = rk_reader_u32(&r);
    out->body = rk_reader_take(&r, blen);
    out->body_len = blen;
    uint16_t plen = rk_reader_u16(&r);
    out->props = (const char *)rk_reader_take(&r, plen);
    out->props_len = plen;
    if (r.err || r.pos != total)
        return RK_ECORRUPT;
    *pos += total;
    return RK_OK;
}

int rk_body_compress(const uint8_t *body, size_t body_len, uint8_t **out, size_t *out_len)
{
    if (body_len < RK_COMPRESS_OVER)
        return 0;
    uLongf cap = compressBound((uLong)body_len);
    uint8_t *z = malloc(cap);
    if (z == NULL)
        return RK_ENOMEM;
    if (compress2(z, &cap, body, (uLong)body_len, RK_COMPRESS_LEVEL) != Z_OK) {
        free(z);
        return RK_EINVAL;
    }
    if (cap >= body_len) {      /* incompressible: send it as it is */
        free(z);
        return 0;
    }
    *out = z;
    *out_len = cap;
    return 1;
}

int rk_body_decompress(const uint8_t *body, size_t body_len, size_t max_len, uint8_t **out, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit(&zs) != Z_OK)
        return RK_ENOMEM;
    size_t cap = body_len * 4 + 1024;
    if (cap > max_len)
        cap = max_len;
    uint8_t *buf = malloc(cap ? cap : 1);
    int rc = buf ? RK_OK : RK_ENOMEM;
    zs.next_in = (Bytef *)body;
    zs.avail_in = (uInt)body_len;
    while (rc == RK_OK) {
        zs.next_out = buf + zs.total_out;
        zs.avail_out = (uInt)(cap - zs.total_out);
        int z = inflate(&zs, Z_NO_FLUSH);
        if (z == Z_STREAM_END)
            break;
        if (z != Z_OK && z != Z_BUF_ERROR) {
            rc = RK_ECORRUPT;
        } else if (zs.avail_out == 0) {
            if (cap >= max_len) {
                rc = RK_ETOOBIG;
            } else {
                size_t ncap = cap * 2 > max_len ? max_len : cap * 2;
                uint8_t *nb = realloc(buf, ncap);
                if (nb == NULL)
                    rc = RK_ENOMEM;
                else
                    buf = nb, cap = ncap;
            }
        } else if (zs.avail_in == 0) {
            rc = RK_ECORRUPT;       /* input ended before the stream did */
        }
    }
    size_t n = zs.total_out;
    inflateEnd(&zs);
    if (rc != RK_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = n;
    return RK_OK;
}

void rk_buf_put_json_str(rk_buf_t *b, const char *s)
{
    cJSON *j = cJSON_CreateString(s);
    char *t = j ? cJSON_PrintUnformatted(j) : NULL;
    if (t == NULL)
        b->err = RK_ENOMEM;
    else
        rk_buf_put_str(b, t);
    free(t);
    cJSON_Delete(j);
}

void rk_buf_put_mq_key(rk_buf_t *b, const char *broker, const char *topic, int qid)
{
    rk_buf_put_str(b, "{\"brokerName\":");
    rk_buf_put_json_str(b, broker);
    rk_buf_printf(b, ",\"queueId\":%d,\"topic\":", qid);
    rk_buf_put_json_str(b, topic);
    rk_buf_put_str(b, "}:");
}
