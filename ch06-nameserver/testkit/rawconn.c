/* rawconn.c — raw sockets for tests and fuzz programs (see rk/rawconn.h). */
#include "rk/rawconn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "rk/buf.h"

int rk_raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

int rk_raw_send_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EPIPE;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static bool read_full(int fd, uint8_t *p, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

rk_cmd_t *rk_raw_read_cmd(int fd)
{
    uint8_t len[4];
    if (!read_full(fd, len, 4))
        return NULL;
    size_t flen = rk_be_get32(len);
    if (flen == 0 || flen > (64u << 20))
        return NULL;
    uint8_t *buf = malloc(flen);
    if (buf == NULL)
        return NULL;
    rk_cmd_t *c = NULL;
    if (read_full(fd, buf, flen) && rk_cmd_decode(buf, flen, &c) != 0)
        c = NULL;
    free(buf);
    return c;
}

bool rk_raw_closed_by_peer(int fd, int max_ms)
{
    for (int waited = 0; waited < max_ms; waited += 50) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) == 1) {
            char c[4096];
            ssize_t n = recv(fd, c, sizeof c, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
                return true;
        }
    }
    return false;
}
