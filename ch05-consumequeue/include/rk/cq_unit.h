/* cq_unit.h — the 20-byte consume-queue unit and the tag code it carries.
 *
 *   0                 8        12                 20
 *   +-----------------+--------+------------------+
 *   | commitlog off   | size   | tags code        |    all big-endian
 *   |   int64         | int32  |   int64          |
 *   +-----------------+--------+------------------+
 *
 * Logical (queue) offset n lives at byte n × 20 of the queue's file chain,
 * so "the 1000th message of queue 3" is one multiplication away, and the
 * size lets a reader fetch the record without parsing the log.
 *
 * tags code = String.hashCode() of the TAGS property, sign-extended to 64
 * bits (0 when the message has no tag); the broker filters on it and the
 * client re-checks the tag string, because different tags can share a hash.
 * (For SCHEDULE_TOPIC_XXXX RocketMQ stores the delivery time here; ch10
 * provides that code through the dispatcher's tag-code hook.)
 *
 * A "blank" unit (0, INT32_MAX, 0) fills the head of a queue's first file
 * when the queue starts at a non-zero offset (RocketMQ's fillPreBlank). No
 * state; everything here is inline. */
#ifndef RK_CQ_UNIT_H
#define RK_CQ_UNIT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "rk/buf.h"
#include "rk/hash.h"

#define RK_CQ_UNIT_SIZE 20
#define RK_CQ_DEFAULT_UNITS_PER_FILE 300000        /* 6,000,000-byte files */

typedef struct rk_cq_unit {
    int64_t phys;       /* commitlog offset of the record */
    int32_t size;       /* record size in bytes           */
    int64_t tag_code;   /* tags hash (or delivery time)   */
} rk_cq_unit_t;

static inline void rk_cq_unit_encode(uint8_t *p, const rk_cq_unit_t *u)
{
    rk_be_put64(p, (uint64_t)u->phys);
    rk_be_put32(p + 8, (uint32_t)u->size);
    rk_be_put64(p + 12, (uint64_t)u->tag_code);
}

static inline rk_cq_unit_t rk_cq_unit_decode(const uint8_t *p)
{
    rk_cq_unit_t u;
    u.phys = (int64_t)rk_be_get64(p);
    u.size = (int32_t)rk_be_get32(p + 8);
    u.tag_code = (int64_t)rk_be_get64(p + 12);
    return u;
}

static inline bool rk_cq_unit_is_blank(const rk_cq_unit_t *u)
{
    return u->phys == 0 && u->size == INT32_MAX && u->tag_code == 0;
}

/* A unit written by a dispatcher: recovery stops at the first one that is
 * not (zeros past the write position, or a torn write). */
static inline bool rk_cq_unit_is_valid(const rk_cq_unit_t *u)
{
    return u->phys >= 0 && u->size > 0;
}

/* The tags code of a TAGS value (may be NULL): Java's hashCode, 0 if none. */
static inline int64_t rk_tag_code(const char *tags)
{
    if (tags == NULL || *tags == '\0')
        return 0;
    return (int64_t)rk_java_hash(tags, strlen(tags));
}

#endif
