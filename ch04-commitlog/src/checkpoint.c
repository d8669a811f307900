/* checkpoint.c — the 4 KiB mmap'ed checkpoint file (see rk/checkpoint.h). */
#include "rk/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <uv.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rk/buf.h"
#include "rk/error.h"
#include "rk/mapped_file.h"

#define CP_SIZE 4096

struct rk_checkpoint {
    int fd;
    uint8_t *map;
    uv_mutex_t mu;       /* 8-byte big-endian fields are not atomic stores */
};

int rk_checkpoint_open(const char *path, rk_checkpoint_t **out)
{
    rk_checkpoint_t *cp = calloc(1, sizeof *cp);
    if (cp == NULL)
        return RK_ENOMEM;
    cp->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (cp->fd < 0) {
        int e = -errno;
        free(cp);
        return e;
    }
    struct stat st;
    /* blocks for the whole page, not a hole: the setters store into the
     * mapping, and a store into a hole of a full disk is a SIGBUS (at
     * shutdown, say). Free where the blocks exist already. */
    int e = fstat(cp->fd, &st) != 0 ? -errno : rk_prealloc(cp->fd, 0, CP_SIZE);
    if (e != RK_OK) {
        close(cp->fd);
        free(cp);
        return e;
    }
    cp->map = mmap(NULL, CP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, cp->fd, 0);
    if (cp->map == MAP_FAILED) {
        int e = -errno;
        close(cp->fd);
        free(cp);
        return e;
    }
    if (uv_mutex_init(&cp->mu) != 0) {
        munmap(cp->map, CP_SIZE);
        close(cp->fd);
        free(cp);
        return RK_ENOMEM;
    }
    *out = cp;
    return RK_OK;
}

int rk_checkpoint_flush(rk_checkpoint_t *cp)
{
    return msync(cp->map, CP_SIZE, MS_SYNC) == 0 ? RK_OK : -errno;
}

void rk_checkpoint_close(rk_checkpoint_t *cp)
{
    if (cp == NULL)
        return;
    rk_checkpoint_flush(cp);
    munmap(cp->map, CP_SIZE);
    close(cp->fd);
    uv_mutex_destroy(&cp->mu);
    free(cp);
}

static int64_t get_at(const rk_checkpoint_t *cp, int off)
{
    uv_mutex_lock((uv_mutex_t *)&cp->mu);
    int64_t v = (int64_t)rk_be_get64(cp->map + off);
    uv_mutex_unlock((uv_mutex_t *)&cp->mu);
    return v;
}

static void set_at(rk_checkpoint_t *cp, int off, int64_t v)
{
    uv_mutex_lock(&cp->mu);
    rk_be_put64(cp->map + off, (uint64_t)v);
    uv_mutex_unlock(&cp->mu);
}

int64_t rk_checkpoint_physic(const rk_checkpoint_t *cp) { return get_at(cp, 0); }
int64_t rk_checkpoint_logics(const rk_checkpoint_t *cp) { return get_at(cp, 8); }
int64_t rk_checkpoint_index(const rk_checkpoint_t *cp) { return get_at(cp, 16); }
void rk_checkpoint_set_physic(rk_checkpoint_t *cp, int64_t ms) { set_at(cp, 0, ms); }
void rk_checkpoint_set_logics(rk_checkpoint_t *cp, int64_t ms) { set_at(cp, 8, ms); }
void rk_checkpoint_set_index(rk_checkpoint_t *cp, int64_t ms) { set_at(cp, 16, ms); }

int64_t rk_checkpoint_min_timestamp(const rk_checkpoint_t *cp)
{
    int64_t p = rk_checkpoint_physic(cp), l = rk_checkpoint_logics(cp);
    int64_t m = (p < l ? p : l) - 3000;
    return m > 0 ? m : 0;
}

int64_t rk_checkpoint_min_timestamp_index(const rk_checkpoint_t *cp)
{
    int64_t m = rk_checkpoint_min_timestamp(cp), i = rk_checkpoint_index(cp);
    return m < i ? m : i;
}
