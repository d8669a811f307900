/* test_meta_extra.c — rk_ha_meta_add, the metadata copy's extension point: a module of a later
 * chapter registers one more request the slave sends its master every slaveSyncMetaInterval;
 * the answer's body reaches its apply callback (only while a slave), an apply that refuses
 * the body changes nothing of the other copies, and registration is closed once the broker
 * runs. The slave runs in this process (a small test module registers from its init); the
 * master is a real chapter 8 mqbroker. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/tk_pair.h"
#include "rk/broker.h"
#include "rk/error.h"
#include "rk/ha.h"
#include "rk/log.h"
#include "rk/request_code.h"

static rk_tk_pair_t p;

static void fini(void) { rk_tk_pair_stop(&p); }

TestSuite(meta_extra, .fini = fini, .timeout = 60);

typedef struct probe {
    _Atomic int calls, good;        /* answers seen; answers that looked like runtime info */
    int add_rc[4];                  /* what rk_ha_meta_add said at init */
} probe_t;

static probe_t probe;

/* GET_BROKER_RUNTIME_INFO stands in for a later chapter's request: any request the master answers. */
static int apply_runtime(void *ctx, const uint8_t *body, size_t len)
{
    probe_t *pr = ctx;
    atomic_fetch_add(&pr->calls, 1);
    if (body == NULL || len == 0 || memmem(body, len, "commitLogMaxOffset", 18) == NULL)
        return RK_EPROTO;
    atomic_fetch_add(&pr->good, 1);
    return RK_OK;
}

static int apply_refuses(void *ctx, const uint8_t *body, size_t len)
{
    (void)ctx;
    (void)body;
    (void)len;
    return RK_ECORRUPT;             /* "validated, refused": nothing applied */
}

static int probe_init(rk_broker_t *b, void **state)
{
    rk_ha_t *ha = rk_ha_of(b);
    probe.add_rc[0] = rk_ha_meta_add(ha, RK_REQ_GET_BROKER_RUNTIME_INFO, apply_runtime, &probe);
    probe.add_rc[1] = rk_ha_meta_add(ha, RK_REQ_GET_BROKER_RUNTIME_INFO, apply_runtime, &probe);
    probe.add_rc[2] = rk_ha_meta_add(ha, RK_REQ_GET_ALL_TOPIC_CONFIG, apply_runtime, &probe);
    probe.add_rc[3] = rk_ha_meta_add(ha, RK_REQ_GET_BROKER_CLUSTER_INFO, apply_refuses, NULL);
    *state = &probe;
    return RK_OK;
}

static const rk_broker_module_t probe_module = {.name = "probe", .init = probe_init};

Test(meta_extra, a_later_module_adds_a_copy)
{
    rk_log_set_level(RK_LOG_OFF);
    memset(&probe, 0, sizeof probe);
    rk_tk_pair_init(&p, NULL, "brokerRole=SLAVE\n");
    rk_tk_broker_start(&p.m);
    rk_kv_t kv;
    rk_kv_init(&kv);
    char err[512] = "";
    cr_assert_eq(rk_kv_load_file(&kv, p.s.conf, err, sizeof err), 0, "%s", err);
    const rk_broker_module_t *const mods[] = {&rk_broker_core_module, &rk_broker_stats_module, &rk_ha_module,
                                              &probe_module, NULL};
    rk_broker_t *b = NULL;
    cr_assert_eq(rk_broker_start(&kv, mods, &b, err, sizeof err), 0, "%s", err);
    cr_assert_eq(probe.add_rc[0], RK_OK);
    cr_assert_eq(probe.add_rc[1], RK_EEXIST, "the same code twice");
    cr_assert_eq(probe.add_rc[2], RK_EEXIST, "a code HA copies itself");
    cr_assert_eq(probe.add_rc[3], RK_OK);
    rk_ha_t *ha = rk_ha_of(b);
    cr_assert_eq(rk_ha_meta_add(ha, 9999, apply_runtime, &probe), RK_EBUSY, "registration after start");

    /* slaveSyncMetaInterval is 500 ms in the fixture: a few rounds */
    for (int i = 0; i < 500 && atomic_load(&probe.good) < 3; i++)
        usleep(10000);
    cr_assert_geq(atomic_load(&probe.good), 3, "the added copy ran %d times (%d good)", atomic_load(&probe.calls),
                  atomic_load(&probe.good));
    /* the refused one changed nothing of the others: topics still copied */
    rk_tk_send_n(&p, "ExtraTopic", 1, 100);
    cr_assert(rk_tk_wait_caught_up(&p, 10000));
    bool copied = false;
    for (int i = 0; i < 300 && !copied; i++) {
        rk_topic_config_t tc;
        copied = rk_topic_get(rk_broker_topics(b), "ExtraTopic", &tc) == RK_OK;
        if (!copied)
            usleep(10000);
    }
    cr_assert(copied, "topics were not copied next to the added requests");

    /* a master asks nothing: the callback is not called any more */
    cr_assert_eq(rk_ha_switch_role(ha, RK_HA_ASYNC_MASTER, 0, NULL), 0);
    for (int i = 0; i < 200 && rk_ha_role(ha) != RK_HA_ASYNC_MASTER; i++)
        usleep(10000);
    cr_assert_eq(rk_ha_role(ha), RK_HA_ASYNC_MASTER);
    usleep(300 * 1000);             /* an answer in flight at the switch may still arrive (not applied) */
    int before = atomic_load(&probe.good);
    usleep(1500 * 1000);
    cr_assert_eq(atomic_load(&probe.good), before, "a master applied a copy");
    rk_broker_stop(b);
    rk_kv_free(&kv);
}
