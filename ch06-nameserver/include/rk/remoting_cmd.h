/* remoting_cmd.h — RocketMQ's RemotingCommand and its frame.
 *
 * Every request and response between clients, brokers and name servers is
 * one frame (all integers big-endian):
 *
 *   +------------+-----------+----------------+--------------+-----------+
 *   | length (4) | type (1)  | header len (3) | header bytes | body      |
 *   +------------+-----------+----------------+--------------+-----------+
 *   length = 4 + header len + body len   (the length field itself excluded)
 *   type   = 0: JSON header, 1: ROCKETMQ binary header
 *
 *   JSON header: {"code":10,"extFields":{"topic":"T",...},"flag":0,
 *                 "language":"JAVA","opaque":7,"remark":"...","version":409}
 *   binary header: code i16, language i8, version i16, opaque i32, flag i32,
 *                  remarkLen i32 + remark, extLen i32 + (keyLen i16 + key,
 *                  valLen i32 + val)*
 *
 * flag bit 0 (RK_CMD_RESPONSE) marks a response, bit 1 (RK_CMD_ONEWAY) a
 * request that wants no response. Responses carry the request's opaque.
 *
 * Decoding is lenient the way RocketMQ's own clients need it to be:
 * extFields values that arrive as JSON numbers or booleans become strings,
 * `language` may be a name or an ordinal, missing fields take defaults.
 * Encoding always writes extFields values as strings.
 *
 * Memory: an rk_cmd_t owns its remark, extFields and body; rk_cmd_free()
 * releases them. Change them only through the setters, never free() one
 * yourself: a command is one block holding the struct, its first field
 * slots and a pool of bytes (arena) where its remark, keys and values go
 * while they fit (a decoded binary header: all of them, exactly sized; a
 * decoded JSON header: all of them, in a pool sized from the header; a
 * command from rk_cmd_new: RK_CMD_EXT_INLINE fields and RK_CMD_POOL bytes,
 * enough for a send request or response), and a field set by rk_cmd_ext_set
 * keeps its key and value together (joint). Only the body is a block of its
 * own, which a caller may take over (set body to NULL and body_len to 0).
 * Never copy an rk_cmd_t by value. No global state. */
#ifndef RK_REMOTING_CMD_H
#define RK_REMOTING_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/buf.h"

#define RK_CMD_RESPONSE 0x1
#define RK_CMD_ONEWAY   0x2
#define RK_SER_JSON     0
#define RK_SER_ROCKETMQ 1
#define RK_FRAME_MAX_DEFAULT (16 * 1024 * 1024)
/* A header with more extFields than this is refused (RK_ETOOBIG): a real
 * one has fewer than 40, and each field costs memory and time to decode. */
#define RK_CMD_MAX_EXT_FIELDS 256
/* Field slots and string bytes in the block of a command built by rk_cmd_new. */
#define RK_CMD_EXT_INLINE 16
#define RK_CMD_POOL 384
#define RK_VERSION_V4_9_4 401          /* standard-JSON routes from here on */
#define RK_VERSION_CURRENT 409         /* what rocklet says it speaks (V4_9_8) */
#define RK_LANGUAGE_JAVA 0

#define RK_EXT_LEN_UNKNOWN UINT32_MAX
typedef struct rk_ext_field {
    char *key;
    char *value;
    uint32_t klen, vlen;        /* strlen of key and value, or RK_EXT_LEN_UNKNOWN (internal: the
                                 * encoder's, so it need not measure what a setter measured) */
    bool joint;                 /* value lives in key's block and goes with it (internal) */
} rk_ext_field_t;

typedef struct rk_cmd {
    int32_t code;
    int language;               /* LanguageCode ordinal */
    int32_t version;
    int32_t opaque;
    int32_t flag;
    char *remark;               /* NULL when absent */
    rk_ext_field_t *ext;
    size_t next, ext_cap;
    uint8_t *body;
    size_t body_len;
    int ser_type;               /* how it arrived / how to send it */
    char *arena;                /* the pool in the command's own block (or NULL): a remark, key
                                 * or value pointing into it is not freed alone */
    size_t arena_len, arena_used;
    bool heap_strings;          /* some remark, key or value is a block of its own (internal) */
    bool body_borrowed;         /* body is the caller's (rk_cmd_borrow_body): never freed here */
    size_t body_cap;            /* the body's block holds this many bytes (>= body_len), or 0: it
                                 * was allocated for body_len exactly. Set on big answers read by
                                 * rk_rclient, whose block its taker may hand back with
                                 * rk_rclient_recycle_body (remoting_client.h); last, so that the
                                 * fields before it keep their places in librocklet.so.0 */
} rk_cmd_t;

rk_cmd_t *rk_cmd_new(int32_t code);
/* A response to req: same opaque and serialize type, flag RESPONSE. */
rk_cmd_t *rk_cmd_new_response(const rk_cmd_t *req, int32_t code, const char *remark);
void rk_cmd_free(rk_cmd_t *cmd);
/* A new request like src: code, language, version, serialize type, remark,
 * extension fields and body copied (not opaque, not flag). NULL on ENOMEM. */
rk_cmd_t *rk_cmd_clone(const rk_cmd_t *src);

int rk_cmd_set_remark(rk_cmd_t *cmd, const char *remark);
int rk_cmd_ext_set(rk_cmd_t *cmd, const char *key, const char *value);
int rk_cmd_ext_set_i64(rk_cmd_t *cmd, const char *key, int64_t value);
/* Appends a field the caller knows cmd does not have yet (a request or a
 * response being built, each key once), without looking for it: building a
 * send request of 14 fields scanned the list 14 times. */
int rk_cmd_ext_add(rk_cmd_t *cmd, const char *key, const char *value);
int rk_cmd_ext_add_i64(rk_cmd_t *cmd, const char *key, int64_t value);
const char *rk_cmd_ext_get(const rk_cmd_t *cmd, const char *key);
/* RK_ENOTFOUND if absent, RK_EINVAL if not an integer / boolean. */
int rk_cmd_ext_i64(const rk_cmd_t *cmd, const char *key, int64_t *out);
int rk_cmd_ext_bool(const rk_cmd_t *cmd, const char *key, bool *out);
/* The same readings of a value already found (a processor that reads all its
 * fields in one pass over cmd->ext): RK_EINVAL if not an integer / boolean. */
int rk_cmd_value_i64(const char *value, int64_t *out);
int rk_cmd_value_bool(const char *value, bool *out);
/* Copies len bytes as the body (replacing any). */
int rk_cmd_set_body(rk_cmd_t *cmd, const void *data, size_t len);
/* Takes ownership of a malloc'ed body. */
void rk_cmd_own_body(rk_cmd_t *cmd, uint8_t *data, size_t len);
/* Points the body at the caller's len bytes without copying them: the
 * command never frees nor changes them, and the caller keeps them alive and
 * unchanged as long as the command may be encoded (until rk_cmd_free; for a
 * request given to rk_rclient_invoke_async, until its callback has run,
 * since the client encodes a request only before calling back). A body
 * taken over from such a command (set body to NULL) is not the taker's to
 * free. Saves the copy of a big request's body per attempt (an async batch
 * of 64 x 1 KiB: 70 KB copied into a fresh block, then again into the
 * output buffer). */
void rk_cmd_borrow_body(rk_cmd_t *cmd, const uint8_t *data, size_t len);
static inline bool rk_cmd_is_response(const rk_cmd_t *c) { return c->flag & RK_CMD_RESPONSE; }
static inline bool rk_cmd_is_oneway(const rk_cmd_t *c) { return c->flag & RK_CMD_ONEWAY; }

const char *rk_language_name(int ordinal);
int rk_language_parse(const char *name);     /* -1 if unknown */

/* Appends the whole frame (length field included) to out. */
int rk_cmd_encode(const rk_cmd_t *cmd, rk_buf_t *out);
/* Appends only the length field and the header of a frame whose body of
 * body_len bytes is sent separately (zero-copy responses); cmd->body is
 * ignored. */
int rk_cmd_encode_head(const rk_cmd_t *cmd, size_t body_len, rk_buf_t *out);
/* Decodes one frame given WITHOUT its 4-byte length field, in time linear in
 * its size: RK_EPROTO if malformed, RK_ETOOBIG if its header has more than
 * RK_CMD_MAX_EXT_FIELDS extFields (or, JSON, too many values of any kind).
 * A repeated key keeps its first place and its last value. */
int rk_cmd_decode(const uint8_t *frame, size_t len, rk_cmd_t **out);
/* rk_cmd_decode reads a JSON header in one pass straight into the command and
 * hands what that pass does not fully understand to cJSON, with the same
 * results either way. For tests that hold the two to it: RK_CMD_JSON_AUTO is
 * rk_cmd_decode; RK_CMD_JSON_CJSON always takes cJSON (the reference);
 * RK_CMD_JSON_FAST only the single pass, RK_EINVAL where it would hand over
 * (rk_cmd_decode never returns RK_EINVAL). Binary headers: the same in all. */
enum { RK_CMD_JSON_AUTO = 0, RK_CMD_JSON_CJSON = 1, RK_CMD_JSON_FAST = 2 };
int rk_cmd_decode_as(const uint8_t *frame, size_t len, int json, rk_cmd_t **out);

/* Splits a byte stream into frames. Feed what the socket gave; then take
 * frames while rk_frames_next() returns 1. A frame longer than max (or a
 * header length that does not fit its frame) is RK_ETOOBIG / RK_EPROTO:
 * the connection should be closed. */
typedef struct rk_frames {
    rk_buf_t buf;
    size_t start;               /* consumed bytes at the front of buf */
    size_t max;
} rk_frames_t;

void rk_frames_init(rk_frames_t *f, size_t max);
void rk_frames_free(rk_frames_t *f);
int rk_frames_feed(rk_frames_t *f, const void *data, size_t len);
/* 1: *frame and *len give the next frame (without its length field), valid until
 * the next feed; 0: need more bytes; < 0: the stream is broken. */
int rk_frames_next(rk_frames_t *f, const uint8_t **frame, size_t *len);
/* Bytes fed and not yet taken as frames (a partial frame, or frames not taken yet). */
static inline size_t rk_frames_pending(const rk_frames_t *f) { return f->buf.len - f->start; }
/* Big bodies read in place (the server's big requests, the client's big answers): when the
 * pending bytes start a frame whose header has all arrived, whose body is at least min_body
 * bytes, and which has not all arrived, returns 1 with *body_len (the whole body) and
 * *body_here (its bytes already fed); the caller then gets a block of body_len bytes, moves
 * those bytes into it with rk_frames_split_body, and reads the rest of the body straight into
 * it. 0: not such a frame (small, header not all here, or all of it here). < 0: the stream is
 * broken (as rk_frames_next). */
int rk_frames_big_body(const rk_frames_t *f, size_t min_body, size_t *body_len, size_t *body_here);
/* Copies the body bytes fed so far (body_here of rk_frames_big_body) to dst and cuts them off:
 * the frame's header is left alone at the front, waiting for its body. */
void rk_frames_split_body(rk_frames_t *f, uint8_t *dst);
/* Once the split body's block is full: decodes the header waiting in front, gives the command
 * the body (the command owns it from then on; freed here on error) and takes the header off.
 * RK_OK and *out, or the decoder's error (the stream is broken). */
int rk_frames_join_body(rk_frames_t *f, uint8_t *body, size_t body_len, rk_cmd_t **out);
/* Gives back memory a big frame left behind: a buffer larger than keep whose
 * pending bytes fill under a quarter of it is replaced by one just big enough
 * (freed when nothing is pending). Invalidates frames taken so far. */
void rk_frames_shrink(rk_frames_t *f, size_t keep);

#endif
