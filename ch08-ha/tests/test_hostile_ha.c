/* test_hostile_ha.c — the HA ports face the network: a peer that lies is
 * disconnected, and nothing it sent reaches the log. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "rk/tk_pair.h"
#include "rk/buf.h"
#include "rk/error.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

static rk_tk_pair_t p;

static void fini(void) { rk_tk_pair_stop(&p); }

TestSuite(hostile_ha, .fini = fini, .timeout = 60);

static void set_timeout(int fd, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    set_timeout(fd, 5000);
    return fd;
}

/* Reads exactly n bytes (the peer may split them); false on EOF or timeout. */
static bool read_full(int fd, void *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

/* True when the peer closes the connection (reads until EOF, bounded). */
static bool closed_by_peer(int fd)
{
    char buf[65536];
    for (int i = 0; i < 1000; i++) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0)
            return true;
        if (n < 0)
            return false;   /* timed out: still open */
    }
    return false;
}

Test(hostile_ha, a_slave_claiming_more_than_the_master_has_is_dropped)
{
    rk_tk_pair_init(&p, NULL, NULL);
    rk_tk_broker_start(&p.m);
    rk_tk_send_n(&p, "HostileTopic", 3, 100);
    int fd = connect_to(p.m.ha_port);
    uint8_t off[8];
    rk_be_put64(off, (uint64_t)1 << 40);
    cr_assert_eq(write(fd, off, 8), 8);
    cr_assert(closed_by_peer(fd), "the master kept a slave that is ahead of it");
    close(fd);
    fd = connect_to(p.m.ha_port);
    rk_be_put64(off, (uint64_t)-5);
    cr_assert_eq(write(fd, off, 8), 8);
    cr_assert(closed_by_peer(fd), "the master kept a slave reporting a negative offset");
    close(fd);
    /* an honest report split in two writes is understood: frames follow */
    fd = connect_to(p.m.ha_port);
    rk_be_put64(off, 0);
    cr_assert_eq(write(fd, off, 3), 3);
    usleep(50000);
    cr_assert_eq(write(fd, off + 3, 5), 5);
    uint8_t hdr[12];
    cr_assert(read_full(fd, hdr, 12));
    cr_assert_eq(rk_be_get64(hdr), 0);
    cr_assert_gt(rk_be_get32(hdr + 8), 0);
    close(fd);
    rk_cmd_t *resp = rk_tk_send(&p, p.m.addr, "HostileTopic", "still serving");
    cr_assert_eq(resp->code, 0);
    rk_cmd_free(resp);
}

/* A fake master: the test listens where the slave's haMasterAddress points. */
static int listen_on(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    *port = ntohs(sa.sin_port);
    cr_assert_eq(listen(fd, 4), 0);
    return fd;
}

static int accept_slave(int lfd)
{
    struct timeval tv = {10, 0};
    setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int fd = accept(lfd, NULL, NULL);
    cr_assert(fd >= 0, "the slave never connected to the fake master");
    set_timeout(fd, 5000);
    uint8_t off[8];
    cr_assert(read_full(fd, off, 8), "the slave did not report its offset first");
    cr_assert_eq(rk_be_get64(off), 0);
    return fd;
}

Test(hostile_ha, a_master_sending_garbage_changes_nothing_on_the_slave)
{
    int fake_port;
    int lfd = listen_on(&fake_port);
    char extra[200];
    snprintf(extra, sizeof extra, "brokerRole=SLAVE\nhaMasterAddress=127.0.0.1:%d\n", fake_port);
    rk_tk_pair_init(&p, NULL, extra);
    rk_tk_broker_start(&p.s);

    /* bytes that are not records */
    int fd = accept_slave(lfd);
    uint8_t frame[12 + 200];
    memset(frame, 0x5A, sizeof frame);
    rk_be_put64(frame, 0);
    rk_be_put32(frame + 8, 200);
    cr_assert_eq(write(fd, frame, sizeof frame), (ssize_t)sizeof frame);
    cr_assert(closed_by_peer(fd), "the slave kept a master that sent garbage");
    close(fd);

    /* a frame larger than anything a master sends */
    fd = accept_slave(lfd);
    rk_be_put64(frame, 0);
    rk_be_put32(frame + 8, 0x7FFFFFFF);
    cr_assert_eq(write(fd, frame, 12), 12);
    cr_assert(closed_by_peer(fd), "the slave accepted a 2 GiB frame");
    close(fd);

    /* a frame that is not at a file boundary of an empty log */
    fd = accept_slave(lfd);
    rk_be_put64(frame, 12345);
    rk_be_put32(frame + 8, 8);
    rk_be_put32(frame + 12, 8);
    rk_be_put32(frame + 16, 0xCBD43194u);
    cr_assert_eq(write(fd, frame, 20), 20);
    cr_assert(closed_by_peer(fd), "the slave accepted data at an offset its log cannot start at");
    close(fd);
    close(lfd);

    cr_assert_eq(rk_tk_max_offset(&p, p.s.addr), 0, "something reached the slave's log");
}

Test(hostile_ha, a_master_keeps_at_most_16_ha_connections)
{
    rk_tk_pair_init(&p, NULL, NULL);
    rk_tk_broker_start(&p.m);
    rk_tk_send_n(&p, "HostileTopic", 3, 100);        /* something to stream */
    int fds[16];
    for (int i = 0; i < 16; i++)
        fds[i] = connect_to(p.m.ha_port);
    usleep(300000);
    int extra = connect_to(p.m.ha_port);
    cr_assert(closed_by_peer(extra), "a 17th HA connection was kept");
    close(extra);
    close(fds[0]);                                  /* one goes: room for another */
    usleep(300000);
    int again = connect_to(p.m.ha_port);
    uint8_t off[8], hdr[12];
    rk_be_put64(off, 0);
    cr_assert_eq(write(again, off, 8), 8);
    cr_assert(read_full(again, hdr, 12), "the master does not stream to a connection within the limit");
    close(again);
    for (int i = 1; i < 16; i++)
        close(fds[i]);
    rk_cmd_t *resp = rk_tk_send(&p, p.m.addr, "HostileTopic", "still serving");
    cr_assert_eq(resp->code, 0);
    rk_cmd_free(resp);
}

Test(hostile_ha, a_silent_peer_is_closed_after_the_housekeeping_interval)
{
    rk_tk_pair_init(&p, "haHousekeepingInterval=1000\n", NULL);
    rk_tk_broker_start(&p.m);
    int fd = connect_to(p.m.ha_port);              /* connects, never reports */
    cr_assert(closed_by_peer(fd), "a silent HA connection stayed open");
    close(fd);
}
