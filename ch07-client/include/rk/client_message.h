/* client_message.h — what a producer does to a message before it goes on the wire.
 *
 * Three things RocketMQ clients do, shared by rocklet's SDK and broker:
 *
 *   UNIQ_KEY   the client-side message id (MessageClientIDSetter), 32
 *              uppercase hex chars for IPv4:
 *                ip(4) | pid(2) | instance(4) | ms since start of month(4) | counter(2)
 *   batch body one SEND_BATCH_MESSAGE body is the concatenation of
 *              (MessageDecoder.encodeMessage), all big-endian:
 *                [totalSize 4][magic 4 = 0][bodyCRC 4 = 0][flag 4][bodyLen 4][body]
 *                [propLen 2][properties]
 *   compression bodies of 4 KiB or more are zlib-compressed (level 5); the
 *              sysflag gets COMPRESSED (0x1) and compression type ZLIB (3 << 8).
 *
 * Memory: encoders append to a caller's rk_buf_t; decoded batch entries
 * point into the batch bytes; decompression returns a malloc'ed buffer.
 * The id generator is an object the caller owns (one per producer), safe
 * to use from any thread. */
#ifndef RK_CLIENT_MESSAGE_H
#define RK_CLIENT_MESSAGE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/buf.h"
#include "rk/message.h"

#define RK_UNIQ_KEY_LEN 32
#define RK_COMPRESS_OVER 4096           /* compressMsgBodyOverHowmuch */
#define RK_COMPRESS_LEVEL 5             /* compressLevel */
#define RK_SYSFLAG_COMPRESSION_ZLIB (3 << 8)

typedef struct rk_uniq_gen {
    uint8_t prefix[10];                 /* ip(4) pid(2) instance(4) */
    _Atomic uint32_t counter;
    _Atomic int64_t month_start_ms;     /* cached: localtime/mktime stat the zone file */
    _Atomic int64_t next_month_ms;
} rk_uniq_gen_t;

/* ip4 may be NULL (127.0.0.1 then); instance distinguishes producers of one
 * process (Java uses a class loader's hash). */
void rk_uniq_gen_init(rk_uniq_gen_t *g, const uint8_t ip4[4], uint32_t instance);
/* Writes the next id into out (>= RK_UNIQ_KEY_LEN + 1 bytes). */
void rk_uniq_next(rk_uniq_gen_t *g, char *out);

/* One message of a batch. */
typedef struct rk_batch_msg {
    int32_t flag;
    const uint8_t *body;
    size_t body_len;
    const char *props;
    size_t props_len;
} rk_batch_msg_t;

/* Appends one batch entry; RK_ETOOBIG if its properties exceed 32767 bytes. */
int rk_batch_encode(rk_buf_t *out, const rk_batch_msg_t *m);
/* Decodes the entry at *pos of a batch body and advances *pos; RK_EEOF at
 * the end, RK_ECORRUPT if the entry does not fit or disagrees with itself. */
int rk_batch_decode(const uint8_t *p, size_t len, size_t *pos, rk_batch_msg_t *out);

/* If body_len >= RK_COMPRESS_OVER: compresses into *out (malloc'ed), sets
 * *out_len and returns 1 (the caller ORs RK_SYSFLAG_COMPRESSED and
 * RK_SYSFLAG_COMPRESSION_ZLIB into the sysflag); 0 if not worth it (or the
 * result would not be smaller); < 0 on error. */
int rk_body_compress(const uint8_t *body, size_t body_len, uint8_t **out, size_t *out_len);
/* Inflates a zlib body (at most max_len bytes out); RK_ECORRUPT if it is
 * not zlib, RK_ETOOBIG if it inflates past max_len. */
int rk_body_decompress(const uint8_t *body, size_t body_len, size_t max_len, uint8_t **out, size_t *out_len);

/* JSON for both halves: s as a JSON string, escaped, appended to b (b->err
 * set on ENOMEM); and the member name fastjson writes for a MessageQueue
 * key of a map (the key object itself, then ':'; rk_mq_map_parse reads it). */
void rk_buf_put_json_str(rk_buf_t *b, const char *s);
void rk_buf_put_mq_key(rk_buf_t *b, const char *broker, const char *topic, int qid);

#endif
