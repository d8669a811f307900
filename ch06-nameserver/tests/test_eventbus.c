/* test_eventbus.c — handlers plugged in at start see what the route table does. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <string.h>

#include "rk/clock.h"
#include "rk/eventbus.h"
#include "rk/namesrv.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

static _Atomic int registered, topic_changes, disconnected;

static void counter(void *ctx, const rk_event_t *ev)
{
    (void)ctx;
    if (ev->type == RK_EV_BROKER_REGISTERED)
        atomic_fetch_add(&registered, 1);
    if (ev->type == RK_EV_TOPIC_CHANGED)
        atomic_fetch_add(&topic_changes, 1);
    if (ev->type == RK_EV_BROKER_DISCONNECTED)
        atomic_fetch_add(&disconnected, 1);
}

Test(eventbus, handlers_registered_at_start_receive_route_events)
{
    char dir[256], kv[300], addr[32];
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "eventbus"), 0);
    snprintf(kv, sizeof kv, "%s/kv.json", dir);
    rk_namesrv_config_t cfg;
    cr_assert_eq(rk_config_defaults(rk_namesrv_config_fields, &cfg), 0);
    cfg.listen_port = 0;
    free(cfg.listen_host);
    cfg.listen_host = strdup("127.0.0.1");
    free(cfg.kv_config_path);
    cfg.kv_config_path = strdup(kv);
    rk_eventbus_t bus = {.n = 0};
    cr_assert_eq(rk_eventbus_subscribe(&bus, counter, NULL), 0);
    rk_namesrv_t *ns;
    cr_assert_eq(rk_namesrv_start(&cfg, &bus, &ns, NULL, 0), 0);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", rk_namesrv_port(ns));
    rk_rclient_t *cl;
    cr_assert_eq(rk_rclient_new(&cl), 0);
    rk_cmd_t *req = rk_cmd_new(RK_REQ_REGISTER_BROKER), *resp = NULL;
    rk_cmd_ext_set(req, "brokerName", "b");
    rk_cmd_ext_set(req, "brokerAddr", "127.0.0.1:10911");
    rk_cmd_ext_set(req, "clusterName", "c");
    rk_cmd_ext_set(req, "brokerId", "0");
    const char *body = "{\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":1,\"timestamp\":1},"
                       "\"topicConfigTable\":{\"T1\":{\"perm\":6,\"readQueueNums\":1,\"writeQueueNums\":1},"
                       "\"T2\":{\"perm\":6,\"readQueueNums\":1,\"writeQueueNums\":1}}}}";
    rk_cmd_set_body(req, body, strlen(body));
    cr_assert_eq(rk_rclient_invoke_sync(cl, addr, req, 3000, &resp), 0);
    cr_assert_eq(resp->code, 0);
    rk_cmd_free(resp);
    cr_assert_eq(atomic_load(&registered), 1);
    cr_assert_eq(atomic_load(&topic_changes), 2);
    rk_rclient_free(cl);        /* the broker's connection closes */
    for (int i = 0; i < 100 && atomic_load(&disconnected) == 0; i++)
        rk_sleep_ms(10);
    cr_assert_eq(atomic_load(&disconnected), 1);
    rk_namesrv_stop(ns);
    rk_config_free(rk_namesrv_config_fields, &cfg);
    rk_tk_rmtree(dir);
}
