/* test_broker_limits.c — the remoting server's limits are broker.conf keys
 * too (serverMaxConnections, serverFrameTimeoutMillis, ...: one table in
 * rk/remoting_server.h that the name server and the broker both apply). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"

static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* True when the server closes fd within max_ms. */
static bool closed_by_server(int fd, int max_ms)
{
    for (int waited = 0; waited < max_ms; waited += 50) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) == 1) {
            char c[4096];
            ssize_t n = recv(fd, c, sizeof c, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN))
                return true;
        }
    }
    return false;
}

static bool runtime_info_answers(rk_rclient_t *rc, const char *addr)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_BROKER_RUNTIME_INFO), *resp = NULL;
    bool ok = rk_rclient_invoke_sync(rc, addr, req, 3000, &resp) == RK_OK && resp->code == RK_RESP_SUCCESS;
    rk_cmd_free(resp);
    return ok;
}

Test(broker_limits, serverMaxConnections_and_serverFrameTimeoutMillis_apply_to_the_broker)
{
    tk_cluster_t c;
    tk_cluster_start(&c, "serverMaxConnections=2\nserverFrameTimeoutMillis=500\n");
    rk_rclient_t *rc;
    cr_assert_eq(rk_rclient_new(&rc), 0);
    /* connection 1: a client that stays connected (the fixture's probes
     * may still be closing: retry a moment) */
    bool served = false;
    for (int i = 0; i < 50 && !served; i++) {
        served = runtime_info_answers(rc, c.br);
        if (!served)
            rk_sleep_ms(100);
    }
    cr_assert(served, "the first connection is served");
    int two = raw_connect(c.br_port);
    rk_sleep_ms(100);
    int three = raw_connect(c.br_port);
    cr_assert(closed_by_server(three, 5000), "serverMaxConnections=2: the third connection is refused");
    close(three);
    cr_assert(!closed_by_server(two, 100), "the second is kept");
    /* half a frame on the second: closed at the deadline */
    const unsigned char half[] = {0, 0, 0, 40, 0, 0, 0, 10};
    cr_assert_eq(send(two, half, sizeof half, MSG_NOSIGNAL), (ssize_t)sizeof half);
    cr_assert(closed_by_server(two, 10000), "serverFrameTimeoutMillis=500: a half frame is closed");
    close(two);
    cr_assert(runtime_info_answers(rc, c.br), "the first client is still served");
    rk_rclient_free(rc);
    tk_cluster_stop(&c);
}
