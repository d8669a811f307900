/* message.h — a message as RocketMQ stores it in the CommitLog (record V1).
 *
 * Every stored record has this layout, all integers big-endian (§4 of the
 * reference; Java's MessageDecoder / CommitLog.calMsgLength):
 *
 *   off  size  field
 *     0     4  TOTALSIZE        whole record, this field included
 *     4     4  MAGICCODE        0xDAA320A7 message V1 | 0xCBD43194 blank
 *     8     4  BODYCRC          crc32(body) & 0x7FFFFFFF
 *    12     4  QUEUEID
 *    16     4  FLAG             the producer's user flag
 *    20     8  QUEUEOFFSET      index of this message in its consume queue
 *    28     8  PHYSICALOFFSET   where this record starts in the commitlog
 *    36     4  SYSFLAG          RK_SYSFLAG_* below
 *    40     8  BORNTIMESTAMP    ms, set by the producer
 *    48   8|20 BORNHOST         IPv4 (4) + port (4), or IPv6 (16) + port (4)
 *     .     8  STORETIMESTAMP   ms, set under the put lock
 *     .   8|20 STOREHOST        broker ip + port
 *     .     4  RECONSUMETIMES
 *     .     8  PREPARED TX OFFSET
 *     .   4+n  BODY             int32 length + bytes
 *     .   1+n  TOPIC            int8 length (<= 127) + bytes
 *     .   2+n  PROPERTIES       int16 length (<= 32767) + "k\1v\2k\1v"
 *
 *   With IPv4 hosts the fixed part is 84 bytes: total = 91 + body + topic + props.
 *
 * A file that cannot hold the next record ends with a BLANK record:
 * [int32 remaining bytes][int32 0xCBD43194]; readers skip to the next file.
 *
 * Memory: rk_msg_t only borrows its pointers (topic, body, properties) from
 * the caller; rk_record_t points into the bytes it was decoded from (usually
 * mapped commitlog memory) and is valid as long as those bytes are. */
#ifndef RK_MESSAGE_H
#define RK_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/buf.h"

#define RK_MAGIC_MESSAGE_V1        0xDAA320A7u
#define RK_MAGIC_BLANK             0xCBD43194u
#define RK_END_FILE_MIN_BLANK_LEN  8
#define RK_RECORD_FIXED_V4         84      /* fixed part with two IPv4 hosts */
#define RK_TOPIC_MAX_LEN           127
#define RK_PROPERTIES_MAX_LEN      32767

/* MessageSysFlag */
#define RK_SYSFLAG_COMPRESSED       0x1
#define RK_SYSFLAG_MULTI_TAGS       0x2
#define RK_SYSFLAG_TXN_NOT          0x0
#define RK_SYSFLAG_TXN_PREPARED     0x4
#define RK_SYSFLAG_TXN_COMMIT       0x8
#define RK_SYSFLAG_TXN_ROLLBACK     0xC
#define RK_SYSFLAG_TXN_MASK         0xC
#define RK_SYSFLAG_BORNHOST_V6      0x10
#define RK_SYSFLAG_STOREHOST_V6     0x20
#define RK_SYSFLAG_NEED_UNWRAP      0x40
#define RK_SYSFLAG_INNER_BATCH      0x80
#define RK_SYSFLAG_COMPRESSION_MASK 0x700

static inline int32_t rk_sysflag_txn(int32_t sys_flag) { return sys_flag & RK_SYSFLAG_TXN_MASK; }

/* Well-known property keys (MessageConst). */
#define RK_PROP_KEYS                 "KEYS"
#define RK_PROP_TAGS                 "TAGS"
#define RK_PROP_WAIT                 "WAIT"
#define RK_PROP_DELAY                "DELAY"
#define RK_PROP_RETRY_TOPIC          "RETRY_TOPIC"
#define RK_PROP_REAL_TOPIC           "REAL_TOPIC"
#define RK_PROP_REAL_QID             "REAL_QID"
#define RK_PROP_TRAN_MSG             "TRAN_MSG"
#define RK_PROP_PGROUP               "PGROUP"
#define RK_PROP_UNIQ_KEY             "UNIQ_KEY"
#define RK_PROP_MAX_RECONSUME_TIMES  "MAX_RECONSUME_TIMES"
#define RK_PROP_RECONSUME_TIME       "RECONSUME_TIME"
#define RK_PROP_ORIGIN_MESSAGE_ID    "ORIGIN_MESSAGE_ID"
#define RK_PROP_TRAN_PREPARED_QUEUE_OFFSET "TRAN_PREPARED_QUEUE_OFFSET"
#define RK_PROP_TRANSACTION_CHECK_TIMES    "TRANSACTION_CHECK_TIMES"
#define RK_PROP_CHECK_IMMUNITY_TIME_IN_SECONDS "CHECK_IMMUNITY_TIME_IN_SECONDS"
#define RK_PROP_MSG_REGION           "MSG_REGION"
#define RK_PROP_TRACE_ON             "TRACE_ON"
#define RK_PROP_CLUSTER              "CLUSTER"
#define RK_PROP_MIN_OFFSET           "MIN_OFFSET"
#define RK_PROP_MAX_OFFSET           "MAX_OFFSET"

#define RK_PROP_NAME_VALUE_SEP '\001'
#define RK_PROP_SEP            '\002'

/* A network endpoint as stored: 4- or 16-byte address and a port. */
typedef struct rk_host {
    uint8_t ip[16];
    uint8_t ip_len;         /* 4 or 16 */
    uint16_t port;
} rk_host_t;

/* "10.0.0.1:10911" or "[::1]:10911" -> host; RK_EINVAL if malformed. */
int rk_host_parse(const char *text, rk_host_t *out);
/* host -> "10.0.0.1:10911" / "[::1]:10911"; buf >= 56 bytes. */
char *rk_host_format(const rk_host_t *h, char *buf, size_t len);
static inline size_t rk_host_width(const rk_host_t *h) { return h->ip_len == 16 ? 20 : 8; }

/* What a caller appends. All pointers are borrowed. The V6 sysflag bits are
 * derived from the hosts' widths by rk_record_encode(); the caller need not
 * set them. */
typedef struct rk_msg {
    const char *topic;
    size_t topic_len;
    int32_t queue_id;
    int32_t flag;
    int32_t sys_flag;
    int64_t born_ts;
    rk_host_t born_host;
    rk_host_t store_host;
    int32_t reconsume_times;
    int64_t prepared_tx_offset;
    const uint8_t *body;
    size_t body_len;
    const char *props;
    size_t props_len;
    int64_t store_ts;       /* 0: the put's clock; > 0 kept (chapter 11: a commit keeps its half's) */
} rk_msg_t;

/* A decoded stored record; pointers point into the decoded bytes. */
typedef struct rk_record {
    uint32_t total_size;
    uint32_t magic;
    uint32_t body_crc;
    int32_t queue_id;
    int32_t flag;
    int64_t queue_offset;
    int64_t phys_offset;
    int32_t sys_flag;
    int64_t born_ts;
    rk_host_t born_host;
    int64_t store_ts;
    rk_host_t store_host;
    int32_t reconsume_times;
    int64_t prepared_tx_offset;
    const uint8_t *body;
    uint32_t body_len;
    const char *topic;
    uint8_t topic_len;
    const char *props;
    uint16_t props_len;
} rk_record_t;

/* Bytes the record for m takes (no validation of limits). */
size_t rk_record_size(const rk_msg_t *m);
/* Checks the limits a store enforces: RK_ETOOBIG for a topic > 127 bytes or
 * properties > 32767 bytes, RK_EINVAL for an empty topic or a bad host. */
int rk_msg_validate(const rk_msg_t *m);
/* Encodes m into dst (cap bytes). Returns the record size (> 0), or
 * RK_EFULL if cap is too small, RK_ETOOBIG / RK_EINVAL as rk_msg_validate. */
int64_t rk_record_encode(const rk_msg_t *m, uint8_t *dst, size_t cap, int64_t queue_offset,
                         int64_t phys_offset, int64_t store_ts);
/* Writes a BLANK record of `len` (>= 8) bytes' worth at dst (8 bytes written). */
void rk_record_encode_blank(uint8_t *dst, uint32_t len);

/* Decodes the record at p (avail bytes readable).
 *   RK_OK        a message (magic V1), or a BLANK (rk_record_is_blank(): only
 *                total_size and magic are set; skip to the next file)
 *   RK_EEOF      nothing written here (size and magic both zero)
 *   RK_ECORRUPT  bad magic, size that disagrees with the fields, a record
 *                running past avail (torn), or (check_crc) a body CRC mismatch */
int rk_record_decode(const uint8_t *p, size_t avail, bool check_crc, rk_record_t *out);
static inline bool rk_record_is_blank(const rk_record_t *r) { return r->magic == RK_MAGIC_BLANK; }
/* Store timestamp of the record at p without a full decode (0 if not a message). */
int64_t rk_record_peek_store_ts(const uint8_t *p, size_t avail);

/* ---- properties: "k\1v\2k\1v" (Java writes no trailing \2; Go does) ---- */

typedef struct rk_prop_iter {
    const char *p, *end;
} rk_prop_iter_t;

static inline rk_prop_iter_t rk_props_iter(const char *props, size_t len)
{
    rk_prop_iter_t it = {props, props + len};
    return it;
}
/* Next key/value pair; entries without a \1 are skipped. false at the end. */
bool rk_props_next(rk_prop_iter_t *it, const char **k, size_t *klen, const char **v, size_t *vlen);
/* Value of key (not NUL-terminated; *vlen set), or NULL. */
const char *rk_props_get(const char *props, size_t len, const char *key, size_t *vlen);
/* Copies the value of key into buf as a C string; RK_ENOTFOUND / RK_ETOOBIG. */
int rk_props_get_str(const char *props, size_t len, const char *key, char *buf, size_t buflen);
/* Appends key\1value to b, with a \2 first if b is not empty. */
int rk_props_put(rk_buf_t *b, const char *key, const char *value);
/* Copies props into b without the entries named key (b is appended to). */
int rk_props_copy_without(rk_buf_t *b, const char *props, size_t len, const char *key);
/* The same without any entry named in keys (NULL-terminated), in one pass. */
int rk_props_copy_without_any(rk_buf_t *b, const char *props, size_t len, const char *const *keys);
/* Does record r belong to topic and carry key in KEYS (space-separated) or
 * as UNIQ_KEY? (What a lookup by key checks of each candidate record.) */
bool rk_record_has_key(const rk_record_t *r, const char *topic, const char *key);

/* ---- offsetMsgId: store host ip + port + physical offset, uppercase hex ---- */

#define RK_MSGID_MAX 57     /* 56 hex chars (IPv6) + NUL; IPv4 ids are 32 */
int rk_msgid_encode(const rk_host_t *store_host, int64_t phys_offset, char *out, size_t outlen);
int rk_msgid_decode(const char *id, rk_host_t *store_host, int64_t *phys_offset);

#endif
