/* remoting_io.h — internal to the remoting layer: write commands to a libuv stream.
 *
 * Encodes the frame into a buffer owned by the write request, which
 * on_written frees; the server and the client both write this way.
 *
 * Batched output: rk__out_cmd appends a frame to a connection's pending
 * buffer (the caller's rk_buf_t) and rk__out_flush hands everything
 * appended so far to libuv as ONE write. The server and the client append
 * every frame they make during a loop turn and flush once at its end (a
 * uv_check and a uv_prepare handle), so 100 replies answered in one turn cost
 * one write system call and one TCP segment train instead of 100. */
#ifndef RK_REMOTING_IO_H
#define RK_REMOTING_IO_H

#include <uv.h>

#include "rk/remoting_cmd.h"

/* 0, or RK_E* / a libuv error (then nothing was queued). done (may be NULL)
 * runs on the loop thread once the bytes are written or dropped, after the
 * buffer is freed: the server uses it to resume a connection it stopped
 * reading while its replies piled up. */
int rk__write_cmd(uv_stream_t *stream, const rk_cmd_t *cmd, void (*done)(uv_stream_t *stream));

/* Appends cmd's whole frame to out; on failure out is as it was (RK_ENOMEM,
 * RK_ETOOBIG). */
int rk__out_cmd(rk_buf_t *out, const rk_cmd_t *cmd);

/* Writes out's bytes as one uv_write (the buffer's memory goes to the write
 * request; out is empty afterwards, also on failure). 0 when out was empty
 * or the write is queued; else a libuv error, nothing queued. done as for
 * rk__write_cmd. Without done, the bytes the socket takes at once are
 * written right away (uv_try_write) and, if that was all of them, out keeps
 * its block (emptied) for the next frames, up to 1 MiB. */
int rk__out_flush(uv_stream_t *stream, rk_buf_t *out, void (*done)(uv_stream_t *stream));

/* Big bodies are read in place, by the server (big requests: batches) and the client (big
 * answers: pulls): once the header of a frame whose body is at least RK__DIRECT_BODY_MIN bytes
 * has arrived, the body gets the block it ends up in and libuv reads the rest straight into it
 * (rk_frames_big_body, rk_frames_split_body, rk_frames_join_body). The read after such a body
 * takes at most RK__HEAD_READ bytes, so that the next frame's header comes with a few KiB of
 * its body to copy, not a whole read buffer. */
#define RK__DIRECT_BODY_MIN ((size_t)32 << 10)
#define RK__HEAD_READ 4096u

/* Blocks SIGPIPE in the calling (network) thread: a write to a peer that
 * went away then fails with EPIPE instead of killing the whole process,
 * whatever the program does with SIGPIPE elsewhere. */
void rk__block_sigpipe(void);

#endif
