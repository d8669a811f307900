/* remoting_io.h — internal to the remoting layer: write one command to a libuv stream.
 *
 * Encodes the frame into a buffer owned by the write request, which
 * on_written frees; the server and the client both write this way. */
#ifndef RK_REMOTING_IO_H
#define RK_REMOTING_IO_H

#include <uv.h>

#include "rk/remoting_cmd.h"

/* 0, or RK_E* / a libuv error (then nothing was queued). done (may be NULL)
 * runs on the loop thread once the bytes are written or dropped, after the
 * buffer is freed: the server uses it to resume a connection it stopped
 * reading while its replies piled up. */
int rk__write_cmd(uv_stream_t *stream, const rk_cmd_t *cmd, void (*done)(uv_stream_t *stream));

/* Blocks SIGPIPE in the calling (network) thread: a write to a peer that
 * went away then fails with EPIPE instead of killing the whole process,
 * whatever the program does with SIGPIPE elsewhere. */
void rk__block_sigpipe(void);

#endif
