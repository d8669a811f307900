/* get_message.c — GetMessageStatus rules that need no files (see rk/get_message.h). */
#include "rk/get_message.h"

#include "rk/buf.h"
#include "rk/message.h"

const char *rk_get_status_name(rk_get_status_t s)
{
    switch (s) {
    case RK_GET_FOUND: return "FOUND";
    case RK_GET_NO_MATCHED_MESSAGE: return "NO_MATCHED_MESSAGE";
    case RK_GET_MESSAGE_WAS_REMOVING: return "MESSAGE_WAS_REMOVING";
    case RK_GET_OFFSET_FOUND_NULL: return "OFFSET_FOUND_NULL";
    case RK_GET_OFFSET_OVERFLOW_BADLY: return "OFFSET_OVERFLOW_BADLY";
    case RK_GET_OFFSET_OVERFLOW_ONE: return "OFFSET_OVERFLOW_ONE";
    case RK_GET_OFFSET_TOO_SMALL: return "OFFSET_TOO_SMALL";
    case RK_GET_NO_MATCHED_LOGIC_QUEUE: return "NO_MATCHED_LOGIC_QUEUE";
    case RK_GET_NO_MESSAGE_IN_QUEUE: return "NO_MESSAGE_IN_QUEUE";
    }
    return "UNKNOWN";
}

bool rk_get_check_offset(int64_t min, int64_t max, int64_t offset, rk_get_status_t *status,
                         int64_t *next)
{
    if (max == 0) {
        *status = RK_GET_NO_MESSAGE_IN_QUEUE;
        *next = 0;
    } else if (offset < min) {
        *status = RK_GET_OFFSET_TOO_SMALL;
        *next = min;
    } else if (offset == max) {
        *status = RK_GET_OFFSET_OVERFLOW_ONE;
        *next = offset;
    } else if (offset > max) {
        *status = RK_GET_OFFSET_OVERFLOW_BADLY;
        *next = min == 0 ? min : max;
    } else {
        return true;
    }
    return false;
}

bool rk_get_batch_full(int32_t size, int max_count, int64_t max_bytes, int count, int64_t bytes)
{
    if (count == 0 || bytes == 0)
        return false;
    if (count >= max_count)
        return true;
    return bytes + size > max_bytes;
}

bool rk_get_tag_matches(int64_t tag_code, const int32_t *codes, int ncodes)
{
    if (codes == 0 || ncodes <= 0)
        return true;
    for (int i = 0; i < ncodes; i++)
        if (codes[i] == (int32_t)tag_code)
            return true;
    return false;
}

const char *rk_get_record_check(const uint8_t *p, int32_t size, int64_t phys)
{
    if (size < RK_RECORD_FIXED_V4 + 7)
        return "consume-queue unit too small for a record";
    if (rk_be_get32(p + 4) != RK_MAGIC_MESSAGE_V1)
        return "no message magic where the consume queue points";
    if (rk_be_get32(p) != (uint32_t)size)
        return "TOTALSIZE differs from the consume-queue unit's size";
    if ((int64_t)rk_be_get64(p + 28) != phys)
        return "PHYSICALOFFSET differs from where the consume queue points";
    return NULL;
}
