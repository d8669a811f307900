/* store_cl.h — internal: the message store's narrow view of ch04's
 * CommitLog. Every call chapter 5 makes into ch04's commitlog goes through
 * here, so this list is exactly what chapter 5 needs from chapter 4. */
#ifndef RK_STORE_CL_H
#define RK_STORE_CL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/commitlog.h"
#include "rk/config.h"
#include "rk/message.h"

/* Opens and recovers the commitlog under root with ch04's keys from kv. */
int rk_store_cl_open(const char *root, rk_kv_t *kv, rk_commitlog_t **out, char *err, size_t errlen);

/* Bytes from offset to the readable end of its file, referenced (*hold). */
int rk_store_cl_read(rk_commitlog_t *cl, int64_t offset, const uint8_t **p, size_t *avail, void **hold);
/* Exactly size bytes at offset (one record), referenced; RK_ENOTFOUND if
 * they are not (or no longer) in the log. */
int rk_store_cl_slice(rk_commitlog_t *cl, int64_t offset, int32_t size, const uint8_t **p, void **hold);
void rk_store_cl_release(void *hold);

/* Writes the checkpoint's logics/index times (index_ts < 0: leave it) and flushes it. */
void rk_store_cl_checkpoint_update(rk_commitlog_t *cl, int64_t logics_ts, int64_t index_ts);

/* Deletes commitlog files last modified more than reserved_ms ago (or, with
 * force, the oldest one regardless), never the newest and never one that
 * holds offsets at or past keep_from (not dispatched yet). Returns how many. */
int rk_store_cl_delete_expired(rk_commitlog_t *cl, int64_t reserved_ms, bool force, int64_t keep_from);

#endif
