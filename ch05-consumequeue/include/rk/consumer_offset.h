/* consumer_offset.h — where each consumer group is in each queue.
 *
 * The table maps "topic@group" → queueId → the NEXT queue offset the group
 * will consume (RocketMQ's ConsumerOffsetManager). Offsets live apart from
 * the log: many groups read the same consume queue, each at its own pace,
 * and a group commits what it has processed, not what it was sent.
 *
 * On disk: config/consumerOffset.json, exactly as RocketMQ writes it
 * (fastjson pretty format, tab indents, UNQUOTED integer keys):
 *
 *   {
 *   	"offsetTable":{
 *   		"TopicTest@cg":{0:12,1:40}
 *   	}
 *   }
 *
 * Persisting goes through rk_file_write_atomic (write .tmp + fsync, keep the
 * old file as .bak, rename): a crash at any point leaves a complete file.
 * Loading (rk_file_load) takes .bak when the file is missing; when the file
 * is there but empty or unparsable it refuses (RK_ECORRUPT, the message
 * names the file and its .bak) unless the caller opts in to the .bak
 * (metadataFallbackToBak): an older .bak would move every group's offsets
 * back. It accepts quoted keys as well ("0":12), and ignores unknown fields
 * (5.x adds "dataVersion"). An entry that is not a queue id mapped to a
 * queue offset (an integer from -1, RocketMQ's "none", to 2^53, where a
 * JSON number stops being exact) makes the whole file unusable, with an
 * ERROR line naming the entry: -5 is not read as "no offset".
 *
 * This module owns no thread: the message store persists it every
 * flushConsumerOffsetInterval ms and at shutdown. Thread-safety: every
 * function takes the table's own mutex, so the broker's network thread may
 * commit while the store's service thread persists. */
#ifndef RK_CONSUMER_OFFSET_H
#define RK_CONSUMER_OFFSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RK_CONSUMER_OFFSET_FILE "consumerOffset.json"
#define RK_MAX_QUEUE_ID 65535       /* queue ids accepted by the table */

typedef struct rk_consumer_offsets rk_consumer_offsets_t;

/* Opens the table backed by `path` (e.g. <root>/config/consumerOffset.json)
 * and loads it (see above for .bak). A missing file (and no .bak) is an
 * empty table; an unusable one is RK_ECORRUPT with err (may be NULL: then
 * logged) saying why; nothing is overwritten. */
int rk_consumer_offsets_open_opts(const char *path, bool fallback_to_bak, char *err, size_t errlen,
                                  rk_consumer_offsets_t **out);
/* The same without the fallback (fallback_to_bak = false), errors logged. */
int rk_consumer_offsets_open(const char *path, rk_consumer_offsets_t **out);
/* Frees the table. Does not persist: call rk_consumer_offsets_persist first. */
void rk_consumer_offsets_close(rk_consumer_offsets_t *co);

/* Records that `group` will next consume `offset` in topic/qid. */
int rk_consumer_offsets_commit(rk_consumer_offsets_t *co, const char *group,
                               const char *topic, int qid, int64_t offset);
/* The committed next offset, or -1 if the group never committed one. */
int64_t rk_consumer_offsets_query(rk_consumer_offsets_t *co, const char *group,
                                  const char *topic, int qid);
/* Forgets every offset of group in topic; RK_ENOTFOUND if it had none. */
int rk_consumer_offsets_remove(rk_consumer_offsets_t *co, const char *group, const char *topic);

/* Writes the file atomically if anything changed since the last persist
 * (or always with force). */
int rk_consumer_offsets_persist(rk_consumer_offsets_t *co, bool force);

/* The table as RocketMQ's JSON (pretty with tab indents, bare int keys);
 * malloc'ed, caller frees. NULL on ENOMEM. */
char *rk_consumer_offsets_encode(rk_consumer_offsets_t *co);
/* Replaces the table with the offsets in text (the format above). */
int rk_consumer_offsets_decode(rk_consumer_offsets_t *co, const char *text, size_t len);

/* Visits every (topic@group, qid, offset) in key then qid order. */
typedef int (*rk_consumer_offset_visit_fn)(const char *topic_at_group, int qid,
                                           int64_t offset, void *ctx);
int rk_consumer_offsets_foreach(rk_consumer_offsets_t *co, rk_consumer_offset_visit_fn fn, void *ctx);
/* Visits the offsets of one group only, as (topic@group, qid, offset), in topic then qid order:
 * a look at each key, not at every queue of the broker (GET_CONSUME_STATS of one group on a
 * broker with thousands of queues). Both visits hold the table's lock: fn must not call back
 * into the table. */
int rk_consumer_offsets_foreach_of_group(rk_consumer_offsets_t *co, const char *group,
                                         rk_consumer_offset_visit_fn fn, void *ctx);

#endif
