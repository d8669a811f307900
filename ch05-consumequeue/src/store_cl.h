/* store_cl.h — internal: the message store's narrow view of ch04's
 * commitlog. Every call chapter 5 makes into ch04 goes through here, so the
 * list below is exactly what chapter 5 needs from chapter 4. */
#ifndef RK_STORE_CL_H
#define RK_STORE_CL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/config.h"
#include "rk/message.h"
#include "rk/message_store.h"

typedef struct rk_store_cl rk_store_cl_t;

/* Opens and recovers the commitlog under root; *abnormal says whether the
 * last exit was abnormal (the abort marker was present). */
int rk_store_cl_open(const char *root, rk_kv_t *kv, rk_store_cl_t **out, bool *abnormal,
                     char *err, size_t errlen);
void rk_store_cl_close(rk_store_cl_t *cl);

int64_t rk_store_cl_min(rk_store_cl_t *cl);
/* The end of what readers may see (everything below is complete records). */
int64_t rk_store_cl_max(rk_store_cl_t *cl);
/* First offset of the file after the one holding offset. */
int64_t rk_store_cl_roll_next(rk_store_cl_t *cl, int64_t offset);

/* Appends m with the given queue offset; fills res (phys, size, store_ts, msg_id). */
int rk_store_cl_put(rk_store_cl_t *cl, const rk_msg_t *m, int64_t queue_offset,
                    rk_store_put_result_t *res);

/* Bytes from offset to the readable end of its file, referenced (*hold). */
int rk_store_cl_read(rk_store_cl_t *cl, int64_t offset, const uint8_t **p, size_t *avail, void **hold);
/* Exactly size bytes at offset (one record), referenced; RK_ENOTFOUND if
 * they are not (or no longer) in the log. */
int rk_store_cl_slice(rk_store_cl_t *cl, int64_t offset, int32_t size, const uint8_t **p, void **hold);
void rk_store_cl_release(rk_store_cl_t *cl, void *hold);

/* Checkpoint: indexMsgTimestamp as last written; and an update of the
 * logics/index timestamps (index_ts < 0: leave it) followed by a flush. */
int64_t rk_store_cl_checkpoint_index_ts(rk_store_cl_t *cl);
void rk_store_cl_checkpoint_update(rk_store_cl_t *cl, int64_t logics_ts, int64_t index_ts);

/* Deletes commitlog files (never the newest, never one holding offsets at
 * or past `keep_from`) last modified more than reserved_ms ago, or, with
 * force, the oldest one regardless of age. Returns how many. */
int rk_store_cl_delete_expired(rk_store_cl_t *cl, int64_t reserved_ms, bool force, int64_t keep_from);

/* The store assigns queue offsets itself (rk_store_put); if ch04 asks a
 * callback for them instead, this wires it. */
void rk_store_cl_set_queue_offset_fn(rk_store_cl_t *cl,
                                     int (*fn)(void *ctx, const char *topic, int qid, int64_t *next),
                                     void *ctx);

#endif
