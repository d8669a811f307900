/* test_broker_limits.c — the remoting server's limits are broker.conf keys
 * too (serverMaxConnections, serverFrameTimeoutMillis, ...: one table in
 * rk/remoting_server.h that the name server and the broker both apply). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/rawconn.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"



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
    int two = rk_raw_connect(c.br_port);
    cr_assert(two >= 0);
    rk_sleep_ms(100);
    int three = rk_raw_connect(c.br_port);
    cr_assert(three >= 0);
    cr_assert(rk_raw_closed_by_peer(three, 5000), "serverMaxConnections=2: the third connection is refused");
    close(three);
    cr_assert(!rk_raw_closed_by_peer(two, 100), "the second is kept");
    /* half a frame on the second: closed at the deadline */
    const unsigned char half[] = {0, 0, 0, 40, 0, 0, 0, 10};
    cr_assert_eq(send(two, half, sizeof half, MSG_NOSIGNAL), (ssize_t)sizeof half);
    cr_assert(rk_raw_closed_by_peer(two, 10000), "serverFrameTimeoutMillis=500: a half frame is closed");
    close(two);
    cr_assert(runtime_info_answers(rc, c.br), "the first client is still served");
    rk_rclient_free(rc);
    tk_cluster_stop(&c);
}
