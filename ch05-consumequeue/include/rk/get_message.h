/* get_message.h — RocketMQ's GetMessageStatus and the pull bookkeeping that
 * does not depend on the files (DefaultMessageStore.getMessage, §2.5).
 *
 *   status                  when                              nextBeginOffset
 *   NO_MATCHED_LOGIC_QUEUE  no consume queue for topic/qid    0
 *   NO_MESSAGE_IN_QUEUE     the queue is empty (max == 0)     0
 *   OFFSET_TOO_SMALL        offset < min                      min
 *   OFFSET_OVERFLOW_ONE     offset == max (caught up)         offset
 *   OFFSET_OVERFLOW_BADLY   offset > max                      min if min == 0, else max
 *   OFFSET_FOUND_NULL       units not readable (file gone)    first offset of the next file
 *   FOUND                   at least one record returned      offset + units scanned
 *   NO_MATCHED_MESSAGE      units scanned, none matched tags  offset + units scanned
 *   MESSAGE_WAS_REMOVING    units point below the log's min   offset + units scanned
 *
 * The broker maps them to response codes (FOUND → SUCCESS, the two "retry"
 * ones → PULL_RETRY_IMMEDIATELY, ...); see rk_get_status_name for logs. */
#ifndef RK_GET_MESSAGE_H
#define RK_GET_MESSAGE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum rk_get_status {
    RK_GET_FOUND = 0,
    RK_GET_NO_MATCHED_MESSAGE,
    RK_GET_MESSAGE_WAS_REMOVING,
    RK_GET_OFFSET_FOUND_NULL,
    RK_GET_OFFSET_OVERFLOW_BADLY,
    RK_GET_OFFSET_OVERFLOW_ONE,
    RK_GET_OFFSET_TOO_SMALL,
    RK_GET_NO_MATCHED_LOGIC_QUEUE,
    RK_GET_NO_MESSAGE_IN_QUEUE,
} rk_get_status_t;

/* "FOUND", "OFFSET_TOO_SMALL", ... (RocketMQ's enum names). */
const char *rk_get_status_name(rk_get_status_t s);

/* The checks made before any unit is read. Returns true when offset lies in
 * [min, max) and units must be scanned; otherwise fills *status and *next. */
bool rk_get_check_offset(int64_t min, int64_t max, int64_t offset, rk_get_status_t *status,
                         int64_t *next);

/* isTheBatchFull: may one more record of `size` bytes join a batch that
 * already holds `count` records and `bytes` bytes? The first record always
 * may, however large (a consumer must be able to make progress). */
bool rk_get_batch_full(int32_t size, int max_count, int64_t max_bytes, int count, int64_t bytes);

/* isMatchedByConsumeQueue: a tag filter is a set of 32-bit tag hashes (the
 * subscription's codeSet); NULL/0 codes means "*" (everything). RocketMQ
 * compares tagsCode.intValue(), so only the low 32 bits count. */
bool rk_get_tag_matches(int64_t tag_code, const int32_t *codes, int ncodes);

/* The cheap checks a record must pass before a pull hands it out: p holds
 * the `size` bytes a consume-queue unit points at (log offset phys). NULL
 * if the record there starts with the message magic, its TOTALSIZE is the
 * unit's size and its PHYSICALOFFSET is phys; else what is wrong. No CRC
 * (the client checks it when asked, as RocketMQ's does). */
const char *rk_get_record_check(const uint8_t *p, int32_t size, int64_t phys);

#endif
