/* rkstore.h — the commands of the `rkstore` tool, as a table later chapters extend.
 *
 * Chapter 4's commands (put, scan, stat, verify) work on a store folder's
 * commitlog; chapter 5 lists its own table first (see rk/tool.h) to add
 * consume-queue commands and a queue-aware put. The helpers below are what
 * those commands share: opening a store folder the way the tool does, and
 * `put` itself as an extension point — its options (rk_rkstore_put_opts,
 * which a later put lists after its own, so every chapter-4 option keeps
 * working) and its loop (batches, progress once a second, a summary line),
 * which a later chapter runs on its own store with a hook that fills in
 * each message's queue and properties. Memory: args point into argv. */
#ifndef RK_RKSTORE_H
#define RK_RKSTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "rk/commitlog.h"
#include "rk/tool.h"

extern const rk_tool_cmd_t rk_rkstore_cmds_ch04[];

/* Fills cfg for the store at dir: defaults, storePathRootDir = dir, the file
 * size of existing commitlog files (or file_size if > 0, else the default),
 * flush type from "async"/"sync" (NULL: async). Prints errors to stderr. */
int rk_rkstore_config(rk_commitlog_config_t *cfg, const char *dir, int64_t file_size,
                      const char *flush);
/* Fills body with printable bytes derived from seq (deterministic). */
void rk_rkstore_fill_body(uint8_t *body, size_t len, int64_t seq);

/* `put`'s arguments and options (--topic --count --size --file-size
 * --flush --queue --batch --verbose). */
typedef struct rk_rkstore_put_args {
    const char *topic, *flush;
    int64_t count, size, file_size, queue, batch;
    bool verbose;               /* one line per message */
} rk_rkstore_put_args_t;
extern const rk_tool_opt_t rk_rkstore_put_opts[];
void rk_rkstore_put_defaults(rk_rkstore_put_args_t *a);

/* Called for each message before it is appended: may set its queue id
 * and properties (bytes that live until the next call for the same slot;
 * slot < batch). Returns 0, or an error that ends the put. */
typedef int (*rk_rkstore_decorate_fn)(void *ctx, int slot, int64_t seq, rk_msg_t *m);
/* Appends a->count messages to cl in batches of a->batch, body and queue
 * as chapter 4 makes them, then decorate (may be NULL). Prints a header,
 * progress at most once a second, with --verbose one line per message, and
 * a summary (count, bytes, time, msgs/s, MB/s). Returns the exit status. */
int rk_rkstore_put_loop(const rk_rkstore_put_args_t *a, const char *dir, rk_commitlog_t *cl,
                        rk_rkstore_decorate_fn decorate, void *ctx);

#endif
