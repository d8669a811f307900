/* fileutil.c — atomic metadata writes, .bak fallback, mkdir -p (see rk/fileutil.h). */
#include "rk/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rk/error.h"
#include "rk/grow.h"
#include "rk/log.h"

int rk_path_join(char *out, size_t outlen, const char *a, const char *b)
{
    size_t la = strlen(a);
    const char *sep = (la > 0 && a[la - 1] == '/') ? "" : "/";
    int n = snprintf(out, outlen, "%s%s%s", a, sep, b);
    return (n < 0 || (size_t)n >= outlen) ? RK_ETOOBIG : RK_OK;
}

bool rk_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int rk_file_read_all(const char *path, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL) {
        close(fd);
        return RK_ENOMEM;
    }
    for (;;) {
        /* if the file grew while we read it: room for a byte more and the NUL */
        if (RK_GROW(buf, cap, n + 2, 1) != RK_OK) {
            free(buf);
            close(fd);
            return RK_ENOMEM;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            free(buf);
            close(fd);
            return e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *data = buf;
    if (len)
        *len = n;
    return RK_OK;
}

int rk_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? RK_OK : -errno;
    close(fd);
    return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return RK_OK;
}

int rk_file_write_atomic(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX], bak[PATH_MAX], dir[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp ||
        snprintf(bak, sizeof bak, "%s.bak", path) >= (int)sizeof bak ||
        snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return RK_ETOOBIG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = write_all(fd, data, len);
    if (rc == RK_OK && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == RK_OK)
        rc = -errno;
    if (rc != RK_OK) {
        unlink(tmp);
        return rc;
    }
    /* Keep the previous version as .bak: a hard link, so no copy and no
     * window in which neither name holds a complete file. */
    if (rk_path_exists(path)) {
        if (unlink(bak) != 0 && errno != ENOENT) {
            rc = -errno;
            unlink(tmp);
            return rc;
        }
        if (link(path, bak) != 0)
            rk_log_warn("fileutil", "cannot keep %s: %s", bak, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        rc = -errno;
        unlink(tmp);
        return rc;
    }
    return rk_fsync_dir(dirname(dir));
}

#define LOAD_EMPTY 1    /* load_one: the file is empty (RK_ECORRUPT to callers) */

/* Reads and parses one file: 0, -ENOENT, a read error, LOAD_EMPTY, or the
 * parser's error. */
static int load_one(const char *path, rk_file_parse_fn parse, void *ctx)
{
    char *text = NULL;
    size_t len = 0;
    int rc = rk_file_read_all(path, &text, &len);
    if (rc == RK_OK)
        rc = len == 0 ? LOAD_EMPTY : parse(text, len, ctx);
    free(text);
    return rc;
}

/* The caller's err gets the message; without one, it is logged. */
static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    char msg[3 * PATH_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
    else
        rk_log_error("fileutil", "%s", msg);
}

static const char *why(int rc)
{
    if (rc == LOAD_EMPTY)
        return "empty";
    return rc == RK_ECORRUPT ? "not valid (it does not parse)" : rk_strerror(rc);
}

static int public_rc(int rc) { return rc == LOAD_EMPTY ? RK_ECORRUPT : rc; }

int rk_file_load(const char *path, rk_file_parse_fn parse, void *ctx,
                 const rk_file_load_opts_t *opts, bool *used_bak, char *err, size_t errlen)
{
    bool fallback_to_bak = opts != NULL && opts->fallback_to_bak;
    const char *opt_in = opts != NULL && opts->opt_in != NULL ? opts->opt_in : "opt in to the fallback";
    char bak[PATH_MAX];
    if (used_bak)
        *used_bak = false;
    if (err && errlen)
        err[0] = '\0';
    if (snprintf(bak, sizeof bak, "%s.bak", path) >= (int)sizeof bak)
        return RK_ETOOBIG;
    int rc = load_one(path, parse, ctx);
    if (rc == RK_OK)
        return RK_OK;
    if (rc == -ENOENT) {
        /* No primary at all: nothing newer than .bak is known to exist, so
         * loading it loses nothing (RocketMQ does the same). */
        int brc = load_one(bak, parse, ctx);
        if (brc == -ENOENT)
            return -ENOENT;
        if (brc != RK_OK) {
            set_err(err, errlen, "%s is missing and its previous version %s is %s", path, bak,
                    why(brc));
            return public_rc(brc);
        }
        rk_log_warn("fileutil", "%s is missing; loaded its previous version %s", path, bak);
        if (used_bak)
            *used_bak = true;
        return RK_OK;
    }
    /* The primary exists but cannot be used. Its .bak is one write older:
     * loading it silently would roll the metadata back. */
    bool have_bak = rk_path_exists(bak);
    if (!fallback_to_bak || !have_bak) {
        if (have_bak)
            set_err(err, errlen, "%s is %s; its previous version %s was NOT loaded (that would "
                    "undo every change made since): repair the file, replace it with the .bak, "
                    "or start with %s to load the .bak", path, why(rc), bak, opt_in);
        else
            set_err(err, errlen, "%s is %s and there is no %s to fall back to: repair or "
                    "remove it", path, why(rc), bak);
        return public_rc(rc);
    }
    int brc = load_one(bak, parse, ctx);
    if (brc != RK_OK) {
        set_err(err, errlen, "%s is %s, and its previous version %s is %s", path, why(rc), bak,
                why(brc));
        return public_rc(brc == -ENOENT ? rc : brc);
    }
    rk_log_error("fileutil", "%s is %s; loaded its previous version %s as asked (fallback to "
                 ".bak): changes made after that version are lost", path, why(rc), bak);
    if (used_bak)
        *used_bak = true;
    return RK_OK;
}

int rk_file_load_with_bak(const char *path, rk_file_parse_fn parse, void *ctx, bool *used_bak)
{
    rk_file_load_opts_t o = {true, NULL};
    return rk_file_load(path, parse, ctx, &o, used_bak, NULL, 0);
}

int rk_mkdirs(const char *path, unsigned mode)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return RK_ETOOBIG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST)
        return -errno;
    struct stat st;
    if (stat(buf, &st) != 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? RK_OK : -ENOTDIR;
}
