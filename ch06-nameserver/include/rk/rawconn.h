/* rawconn.h — a plain TCP socket to a rocklet server, for tests and fuzz
 * programs that must send what no well-behaved client would (half frames,
 * garbage, floods) and watch how the server reacts. Linked into test and
 * fuzz programs only (ch06's testkit), never into a server.
 *
 *   int fd = rk_raw_connect(port);             127.0.0.1, 5 s receive timeout
 *   rk_raw_send_all(fd, frame, len);           all of it, or an error
 *   rk_cmd_t *r = rk_raw_read_cmd(fd);         one frame, NULL if closed / timed out
 *   rk_raw_closed_by_peer(fd, 5000);           did the server hang up within 5 s?
 *
 * The caller owns fd (close it) and every command returned (rk_cmd_free). */
#ifndef RK_RAWCONN_H
#define RK_RAWCONN_H

#include <stdbool.h>
#include <stddef.h>

#include "rk/remoting_cmd.h"

/* A connected socket to 127.0.0.1:port (blocking, 5 s receive timeout), or
 * a negative errno. */
int rk_raw_connect(int port);
/* Writes all n bytes (MSG_NOSIGNAL); 0 or a negative errno. */
int rk_raw_send_all(int fd, const void *p, size_t n);
/* Reads one whole frame and decodes it; NULL when the peer closed the
 * connection, the read timed out or the frame does not decode. */
rk_cmd_t *rk_raw_read_cmd(int fd);
/* True when the peer closes fd (EOF or reset) within max_ms; bytes it sends
 * meanwhile are read and dropped. */
bool rk_raw_closed_by_peer(int fd, int max_ms);

#endif
