/* checkpoint.h — the store's `checkpoint` file: how far each log is known durable.
 *
 *   0        8        16       24 ...                4096
 *   +--------+--------+--------+----------------------+
 *   | physic | logics | index  |  (unused, zero)      |   int64 big-endian, ms
 *   +--------+--------+--------+----------------------+
 *
 *   physicMsgTimestamp  store time of the last commitlog message flushed
 *   logicsMsgTimestamp  store time of the last message in a flushed consume queue (ch05)
 *   indexMsgTimestamp   store time of the last message in a flushed index file (ch05)
 *
 * After a crash, recovery restarts from the newest commitlog file whose first
 * message is older than min(physic, logics) - 3 s: everything before that
 * point was on disk in every structure.
 *
 * The file is mmap'ed; setters are atomic stores, rk_checkpoint_flush()
 * msyncs. Owned by the CommitLog; ch05 updates logics/index through it. */
#ifndef RK_CHECKPOINT_H
#define RK_CHECKPOINT_H

#include <stdint.h>

typedef struct rk_checkpoint rk_checkpoint_t;

int rk_checkpoint_open(const char *path, rk_checkpoint_t **out);
void rk_checkpoint_close(rk_checkpoint_t *cp);     /* flushes first */
int rk_checkpoint_flush(rk_checkpoint_t *cp);

int64_t rk_checkpoint_physic(const rk_checkpoint_t *cp);
int64_t rk_checkpoint_logics(const rk_checkpoint_t *cp);
int64_t rk_checkpoint_index(const rk_checkpoint_t *cp);
void rk_checkpoint_set_physic(rk_checkpoint_t *cp, int64_t ms);
void rk_checkpoint_set_logics(rk_checkpoint_t *cp, int64_t ms);
void rk_checkpoint_set_index(rk_checkpoint_t *cp, int64_t ms);
/* max(0, min(physic, logics) - 3000), as RocketMQ's getMinTimestamp. */
int64_t rk_checkpoint_min_timestamp(const rk_checkpoint_t *cp);
/* min(min_timestamp, index), as getMinTimestampIndex. */
int64_t rk_checkpoint_min_timestamp_index(const rk_checkpoint_t *cp);

#endif
