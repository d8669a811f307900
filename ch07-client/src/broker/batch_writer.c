/* batch_writer.c — a metadata file written by its own thread, batched (see rk/batch_writer.h). */
#include "rk/batch_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/log.h"
#include "rk/thread.h"

struct rk_batch_writer {
    char path[4096], tag[32];
    int64_t interval_ms;
    rk_batch_encode_fn encode;
    void *owner;
    uv_mutex_t mu;              /* dirty, stop */
    uv_cond_t cond;             /* with mu: dirty or stop changed */
    uv_mutex_t wmu;             /* serialises writes; taken before mu, never held by the owner */
    bool dirty, stop, has_thread;
    uv_thread_t thread;
};

int rk_batch_writer_flush(rk_batch_writer_t *w)
{
    uv_mutex_lock(&w->wmu);
    uv_mutex_lock(&w->mu);
    bool dirty = w->dirty;
    w->dirty = false;           /* a change from now on marks it again */
    uv_mutex_unlock(&w->mu);
    int rc = RK_OK;
    if (dirty) {
        char *s = w->encode(w->owner);
        rc = s ? rk_file_write_atomic(w->path, s, strlen(s)) : RK_ENOMEM;
        free(s);
        if (rc != RK_OK) {
            rk_log_error(w->tag, "cannot persist %s: %s", w->path, rk_strerror(rc));
            uv_mutex_lock(&w->mu);
            w->dirty = true;    /* the next flush tries again */
            uv_mutex_unlock(&w->mu);
        }
    }
    uv_mutex_unlock(&w->wmu);
    return rc;
}

/* Waits for a change, lets more changes come for interval_ms, writes them all at once. */
static void writer(void *arg)
{
    rk_batch_writer_t *w = arg;
    (void)rk_thread_init("rk-meta-write", RK_THREAD_BACKGROUND);
    uv_mutex_lock(&w->mu);
    while (!w->stop) {
        if (!w->dirty) {
            uv_cond_wait(&w->cond, &w->mu);
            continue;
        }
        uint64_t until = rk_mono_ms() + (uint64_t)w->interval_ms;
        for (uint64_t now; !w->stop && (now = rk_mono_ms()) < until;)
            uv_cond_timedwait(&w->cond, &w->mu, (until - now) * 1000000);
        if (w->stop)
            break;
        uv_mutex_unlock(&w->mu);
        rk_batch_writer_flush(w);
        uv_mutex_lock(&w->mu);
    }
    uv_mutex_unlock(&w->mu);
}

int rk_batch_writer_new(const char *path, const char *log_tag, int64_t interval_ms, rk_batch_encode_fn encode,
                        void *owner, rk_batch_writer_t **out)
{
    if (path == NULL || encode == NULL || interval_ms < 0 || strlen(path) >= sizeof((rk_batch_writer_t *)0)->path)
        return RK_EINVAL;
    rk_batch_writer_t *w = calloc(1, sizeof *w);
    if (w == NULL)
        return RK_ENOMEM;
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->tag, sizeof w->tag, "%s", log_tag ? log_tag : "meta");
    w->interval_ms = interval_ms;
    w->encode = encode;
    w->owner = owner;
    if (uv_mutex_init(&w->mu) != 0) {
        free(w);
        return RK_ENOMEM;
    }
    if (uv_mutex_init(&w->wmu) != 0) {
        uv_mutex_destroy(&w->mu);
        free(w);
        return RK_ENOMEM;
    }
    if (uv_cond_init(&w->cond) != 0) {
        uv_mutex_destroy(&w->wmu);
        uv_mutex_destroy(&w->mu);
        free(w);
        return RK_ENOMEM;
    }
    if (interval_ms > 0) {
        if (uv_thread_create(&w->thread, writer, w) != 0) {
            uv_cond_destroy(&w->cond);
            uv_mutex_destroy(&w->wmu);
            uv_mutex_destroy(&w->mu);
            free(w);
            return RK_ENOMEM;
        }
        w->has_thread = true;
    }
    *out = w;
    return RK_OK;
}

int rk_batch_writer_changed(rk_batch_writer_t *w)
{
    uv_mutex_lock(&w->mu);
    w->dirty = true;
    if (w->has_thread)
        uv_cond_signal(&w->cond);
    uv_mutex_unlock(&w->mu);
    return w->has_thread ? RK_OK : rk_batch_writer_flush(w);
}

void rk_batch_writer_free(rk_batch_writer_t *w)
{
    if (w == NULL)
        return;
    if (w->has_thread) {
        uv_mutex_lock(&w->mu);
        w->stop = true;
        uv_cond_signal(&w->cond);
        uv_mutex_unlock(&w->mu);
        uv_thread_join(&w->thread);
    }
    rk_batch_writer_flush(w);   /* what the thread had not written yet */
    uv_cond_destroy(&w->cond);
    uv_mutex_destroy(&w->wmu);
    uv_mutex_destroy(&w->mu);
    free(w);
}
