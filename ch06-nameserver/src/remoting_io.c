/* remoting_io.c — encode-and-write for the remoting server and client (see remoting_io.h). */
#include "remoting_io.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "rk/error.h"

typedef struct {
    uv_write_t req;
    uint8_t *data;
    void (*done)(uv_stream_t *);
} write_t;

static void on_written(uv_write_t *w, int status)
{
    (void)status;   /* a failed write surfaces as a read error on the same stream */
    write_t *wr = (write_t *)w;
    void (*done)(uv_stream_t *) = wr->done;
    uv_stream_t *stream = w->handle;
    free(wr->data);
    free(wr);
    if (done != NULL)
        done(stream);
}

int rk__write_cmd(uv_stream_t *stream, const rk_cmd_t *cmd, void (*done)(uv_stream_t *))
{
    rk_buf_t b = {0};
    int rc = rk_cmd_encode(cmd, &b);
    write_t *wr = rc == RK_OK ? malloc(sizeof *wr) : NULL;
    if (wr == NULL) {
        rk_buf_free(&b);
        return rc != RK_OK ? rc : RK_ENOMEM;
    }
    size_t len;
    wr->data = rk_buf_detach(&b, &len);
    wr->done = done;
    uv_buf_t buf = uv_buf_init((char *)wr->data, (unsigned)len);
    rc = uv_write(&wr->req, stream, &buf, 1, on_written);
    if (rc != 0) {
        free(wr->data);
        free(wr);
    }
    return rc;
}

#define OUT_FIRST_CAP 16384     /* a turn's replies usually fit: no realloc per reply */

int rk__out_cmd(rk_buf_t *out, const rk_cmd_t *cmd)
{
    size_t at = out->len;
    if (out->cap == 0)
        rk_buf_reserve(out, OUT_FIRST_CAP > cmd->body_len + 1024 ? OUT_FIRST_CAP : cmd->body_len + 1024);
    int rc = rk_cmd_encode(cmd, out);
    if (rc != RK_OK) {
        out->len = at;          /* drop the partial frame */
        out->err = 0;           /* the buffer is usable again (err is sticky) */
    }
    return rc;
}

#define OUT_KEEP_MAX ((size_t)1 << 20)  /* a buffer written at once is kept up to this size */

int rk__out_flush(uv_stream_t *stream, rk_buf_t *out, void (*done)(uv_stream_t *))
{
    if (out->len == 0)
        return 0;
    /* Without done: write now if the socket takes it all (libuv's uv_write
     * makes the same first write() when nothing is queued) and keep the
     * buffer for the next turn. Handing it to a write request instead meant
     * a fresh block per turn: a 64 KiB+ block that malloc took from and gave
     * back to the kernel each time (page faults and zeroing cost the client
     * of async 64 x 1 KiB batches as much as the copy into the buffer). */
    size_t skip = 0;
    if (done == NULL) {
        uv_buf_t now = uv_buf_init((char *)out->data, (unsigned)out->len);
        int n = uv_try_write(stream, &now, 1);
        if (n == (int)out->len) {
            out->len = 0;
            if (out->cap > OUT_KEEP_MAX)
                rk_buf_free(out);
            return 0;
        }
        if (n > 0)
            skip = (size_t)n;       /* the rest goes as below; any error surfaces there too */
    }
    write_t *wr = malloc(sizeof *wr);
    size_t len;
    uint8_t *data = rk_buf_detach(out, &len);
    if (wr == NULL) {
        free(data);
        return RK_ENOMEM;
    }
    wr->data = data;
    wr->done = done;
    uv_buf_t buf = uv_buf_init((char *)data + skip, (unsigned)(len - skip));
    int rc = uv_write(&wr->req, stream, &buf, 1, on_written);
    if (rc != 0) {
        free(wr->data);
        free(wr);
    }
    return rc;
}

void rk__block_sigpipe(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}
