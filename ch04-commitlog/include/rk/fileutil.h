/* fileutil.h — small, careful file operations shared by every chapter.
 *
 * rk_file_write_atomic() is how rocklet persists a metadata file (offsets,
 * topics, KV config) so that a crash at any instant leaves either the old
 * or the new content, never a torn mix, and keeps the previous version:
 *
 *   1. write  path.tmp, fsync it
 *   2. link   path -> path.bak        (the old version, kept, no copy)
 *   3. rename path.tmp -> path        (atomic replace), fsync the folder
 *
 * rk_file_load_with_bak() reads path and, if it is missing, empty or its
 * parser rejects it, falls back to path.bak, the way RocketMQ's
 * ConfigManager does.
 *
 * Memory: buffers returned through `char **data` are malloc'ed, NUL
 * terminated, and owned by the caller. No global state. */
#ifndef RK_FILEUTIL_H
#define RK_FILEUTIL_H

#include <stdbool.h>
#include <stddef.h>

int rk_file_read_all(const char *path, char **data, size_t *len);
int rk_file_write_atomic(const char *path, const void *data, size_t len);
/* parse returns 0 if it accepted the text; its error is kept otherwise. */
typedef int (*rk_file_parse_fn)(const char *text, size_t len, void *ctx);
/* Returns 0 when path or path.bak parsed, -ENOENT when neither exists,
 * else the parser's (or the read's) error. `used_bak` may be NULL. */
int rk_file_load_with_bak(const char *path, rk_file_parse_fn parse, void *ctx, bool *used_bak);
/* mkdir -p; 0 if it exists already. */
int rk_mkdirs(const char *path, unsigned mode);
int rk_fsync_dir(const char *dir);
bool rk_path_exists(const char *path);
/* Joins a and b with one '/' into out; RK_ETOOBIG if it does not fit. */
int rk_path_join(char *out, size_t outlen, const char *a, const char *b);

#endif
