/* rkstore.h — the commands of the `rkstore` tool, as a table later chapters extend.
 *
 * Chapter 4's commands (put, scan, stat, verify) work on a store folder's
 * commitlog; chapter 5 lists its own table first (see rk/tool.h) to add
 * consume-queue commands and a queue-aware put. The helpers below are what
 * those commands share: opening a store folder the way the tool does. */
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

#endif
