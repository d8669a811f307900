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
 * Each step is checked: a failed write, fsync, close, rename or folder
 * fsync is returned (path.tmp removed when the rename did not happen), so
 * the caller never believes a version is on disk when it is not. path itself is only ever replaced by
 * rename(2): it is never half-written by rocklet.
 *
 * rk_file_load() reads path. If path is missing and path.bak exists, it
 * loads path.bak (RocketMQ's ConfigManager does the same) and says so. If
 * path exists but is unusable (unreadable, empty, rejected by the parser),
 * loading path.bak would silently roll the metadata back to its previous
 * version (offsets going backwards, the newest topic gone): rk_file_load
 * refuses instead, with a message naming both files, unless the caller
 * opts in (opts->fallback_to_bak) (then it loads path.bak and logs an ERROR).
 * Where RocketMQ's ConfigManager falls back with a warning, rocklet stops.
 *
 * rk_file_load_with_bak() is the old, lenient loader (always falls back,
 * with an ERROR line); kept for files whose owner has no opt-in yet.
 *
 * Memory: buffers returned through `char **data` are malloc'ed, NUL
 * terminated, and owned by the caller. No global state. */
#ifndef RK_FILEUTIL_H
#define RK_FILEUTIL_H

#include <stdbool.h>
#include <stddef.h>

int rk_file_read_all(const char *path, char **data, size_t *len);
int rk_file_write_atomic(const char *path, const void *data, size_t len);
/* parse returns 0 if it accepted the text; its error is kept otherwise. It
 * may be called on path, then on path.bak: it must leave ctx unchanged (or
 * harmlessly partial, if the caller discards ctx on error) when it fails. */
typedef int (*rk_file_parse_fn)(const char *text, size_t len, void *ctx);
/* Returns 0 when path (or, as described above, path.bak) parsed; -ENOENT
 * when neither exists; otherwise RK_ECORRUPT (empty), the parser's error or
 * the read's -errno, with err saying which file is bad and what could be
 * loaded instead (err NULL: that message is logged at ERROR). opts may be
 * NULL (no fallback). `used_bak` may be NULL. */
typedef struct rk_file_load_opts {
    bool fallback_to_bak;       /* the operator opted in to loading path.bak */
    const char *opt_in;         /* how to opt in, named in the refusal (may be NULL) */
} rk_file_load_opts_t;
int rk_file_load(const char *path, rk_file_parse_fn parse, void *ctx,
                 const rk_file_load_opts_t *opts, bool *used_bak, char *err, size_t errlen);
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
