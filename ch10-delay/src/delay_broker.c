/* delay_broker.c — chapter 10's broker module: the timer (rk/timer.h) wired into the broker, its
 * replica copy and the operators' figures for timers and levels (see rk/delay.h). */
#include "rk/delay.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/ha.h"
#include "rk/log.h"
#include "rk/request_code.h"
#include "rk/retry.h"
#include "rk/store_config.h"

typedef struct delay_config {
    int64_t max_delay_sec;          /* timerMaxDelaySec */
    int64_t precision_ms;           /* timerPrecisionMs */
    int64_t flush_ms;               /* timerFlushIntervalMs */
    int64_t max_pending;            /* timerMaxPending */
    int64_t near_sec;               /* timerWheelNearSec (rocklet) */
    bool enable;                    /* timerWheelEnable */
} delay_config_t;

#define F(f) offsetof(delay_config_t, f)
const rk_config_field_t rk_delay_config_fields[] = {
    {"timerMaxDelaySec", RK_CFG_INT, F(max_delay_sec), "259200", 1, 2592000, NULL,
     "a timer message may be at most this far ahead (s); further: MESSAGE_ILLEGAL"},
    {"timerPrecisionMs", RK_CFG_INT, F(precision_ms), "10", 1, 1000, NULL,
     "delivery times are rounded up to this (ms; a divisor of 1000); the wheel ticks at it"},
    {"timerFlushIntervalMs", RK_CFG_INT, F(flush_ms), "1000", 10, 600000, NULL,
     "write config/timerCheckpoint.json at most this often (ms)"},
    {"timerMaxPending", RK_CFG_INT, F(max_pending), "10000000", 1, 1000000000, NULL,
     "timer messages that may wait at once (48 bytes of memory each); beyond: flow control"},
    {"timerWheelNearSec", RK_CFG_INT, F(near_sec), "50", 1, 3600, NULL,
     "a message due further ahead waits in its second's list and enters the wheel this long before (s)"},
    {"timerWheelEnable", RK_CFG_BOOL, F(enable), "true", 0, 0, NULL,
     "park messages with TIMER_* / __STARTDELIVERTIME until their time"},
    {0},
};
#undef F

typedef struct delay_state {
    rk_broker_t *b;
    delay_config_t cfg;
    rk_timer_t *timer;
} delay_state_t;

static bool is_master(void *ctx)
{
    delay_state_t *ds = ctx;
    return !rk_broker_is_slave(ds->b);
}

/* GET_TIMER_CHECK_POINT (60): the checkpoint, for a replica to copy. */
static void p_checkpoint(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)conn;
    delay_state_t *ds = ctx;
    (void)req;
    rk_reply_owned(reply, rk_timer_encode(ds->timer));
}

static int copy_checkpoint(void *ctx, const uint8_t *body, size_t len)
{
    delay_state_t *ds = ctx;
    int rc = rk_timer_follow(ds->timer, (const char *)body, len);
    return rc == RK_EBUSY ? RK_OK : rc;     /* just became the master: it keeps its own */
}

static void runtime_info(void *ctx, rk_buf_t *out)
{
    delay_state_t *ds = ctx;
    if (ds->timer != NULL) {
        rk_timer_stats_t s;
        rk_timer_stats(ds->timer, &s);
        int64_t behind_ms = s.progress_ms > 0 ? rk_now_ms() - s.progress_ms : 0;
        rk_buf_printf(out, ",\"timerPendingCount\":\"%" PRId64 "\",\"timerOffsetBehind\":\"%" PRId64
                           "\",\"timerReadOffset\":\"%" PRId64 "\",\"timerLowOffset\":\"%" PRId64
                           "\",\"timerProgressMs\":\"%" PRId64 "\",\"timerReadBehindMs\":\"%" PRId64
                           "\",\"timerDeliveredCount\":\"%" PRId64 "\",\"timerPrecisionMs\":\"%" PRId64
                           "\",\"timerMaxDelaySec\":\"%" PRId64 "\",\"timerMaxTurnMs\":\"%" PRId64
                           "\",\"timerMaxPutMs\":\"%" PRId64 "\"",
                      s.pending, s.behind, s.read_offset, s.low_offset, s.progress_ms, behind_ms < 0 ? 0 : behind_ms,
                      s.delivered, s.precision_ms, s.max_delay_sec, s.max_turn_ms, s.max_put_ms);
    }
    rk_schedule_t *sched = rk_retry_schedule(ds->b);
    if (sched == NULL)
        return;
    int n = rk_schedule_levels(sched);
    rk_buf_printf(out, ",\"scheduleDelayLevels\":\"%d\"", n);
    rk_store_t *st = rk_broker_store(ds->b);
    for (int level = 1; level <= n; level++)
        rk_buf_printf(out, ",\"scheduleMessageOffset_%d\":\"%" PRId64 ",%" PRId64 "\"", level,
                      rk_schedule_offset(sched, level), rk_store_max_offset(st, RK_SCHEDULE_TOPIC, level - 1));
}

static int delay_init(rk_broker_t *b, void **state)
{
    delay_state_t *ds = calloc(1, sizeof *ds);
    if (ds == NULL)
        return RK_ENOMEM;
    ds->b = b;
    char err[512] = "";
    int rc = rk_config_defaults(rk_delay_config_fields, &ds->cfg);
    rk_kv_t *kv = rk_broker_kv(b);
    if (rc == RK_OK && kv != NULL)
        rc = rk_config_apply(rk_delay_config_fields, &ds->cfg, kv, err, sizeof err);
    rk_store_t *st = rk_broker_store(b);
    rk_commitlog_t *cl = rk_store_commitlog(st);
    char path[4096], remark[256];
    if (rc == RK_OK && ds->cfg.enable)
        rc = rk_path_join(path, sizeof path, rk_broker_config(b)->store_root, "config/timerCheckpoint.json");
    if (rc == RK_OK && ds->cfg.enable) {
        rk_timer_config_t tc = {.checkpoint_path = path, .max_delay_sec = ds->cfg.max_delay_sec,
                                .precision_ms = ds->cfg.precision_ms, .flush_interval_ms = ds->cfg.flush_ms,
                                .max_pending = ds->cfg.max_pending, .near_sec = ds->cfg.near_sec,
                                .fallback_to_bak = rk_store_config(st)->metadata_fallback_to_bak,
                                .may_deliver = is_master, .may_deliver_ctx = ds};
        rc = rk_timer_new(st, &tc, &ds->timer, err, sizeof err);
    }
    /* RocketMQ's remarks (SendMessageProcessor.handlePutMessageResult) */
    if (rc == RK_OK) {
        snprintf(remark, sizeof remark, "timer message illegal, the delay time should not be bigger than the max "
                 "delay %" PRId64 "ms; or if set del msg, the delay time should be bigger than the current time",
                 ds->cfg.max_delay_sec * 1000);
        rc = rk_commitlog_set_status_remark(cl, RK_PUT_WHEEL_TIMER_MSG_ILLEGAL, remark);
    }
    if (rc == RK_OK) {
        snprintf(remark, sizeof remark, "timer message is under flow control, max num limit is %" PRId64
                 " or the current value is greater than %" PRId64 " and less than %" PRId64
                 ", trigger random flow control", ds->cfg.max_pending, ds->cfg.max_pending, ds->cfg.max_pending);
        rc = rk_commitlog_set_status_remark(cl, RK_PUT_WHEEL_TIMER_FLOW_CONTROL, remark);
    }
    if (rc == RK_OK && ds->timer != NULL)
        rc = rk_rserver_register(rk_broker_server(b), RK_REQ_GET_TIMER_CHECK_POINT, p_checkpoint, ds, RK_PROC_INLINE);
    if (rc == RK_OK && ds->timer != NULL && rk_ha_of(b) != NULL)
        rc = rk_ha_meta_add(rk_ha_of(b), RK_REQ_GET_TIMER_CHECK_POINT, copy_checkpoint, ds);
    if (rc == RK_OK)
        rc = rk_broker_add_runtime_info(b, runtime_info, ds);
    if (rc != RK_OK) {
        rk_log_error("delay", "%s", err[0] ? err : rk_strerror(rc));
        rk_timer_free(ds->timer);
        rk_config_free(rk_delay_config_fields, &ds->cfg);
        free(ds);
        return rc;
    }
    *state = ds;
    return RK_OK;
}

static int delay_start(rk_broker_t *b, void *state)
{
    (void)b;
    delay_state_t *ds = state;
    return ds->timer != NULL ? rk_timer_start(ds->timer) : RK_OK;
}

static void delay_stop(rk_broker_t *b, void *state)
{
    (void)b;
    delay_state_t *ds = state;
    rk_timer_stop(ds->timer);
}

static void delay_destroy(rk_broker_t *b, void *state)
{
    (void)b;
    delay_state_t *ds = state;
    rk_timer_free(ds->timer);
    rk_config_free(rk_delay_config_fields, &ds->cfg);
    free(ds);
}

const rk_broker_module_t rk_delay_module = {"delay", delay_init, delay_start, delay_stop, delay_destroy};

rk_timer_t *rk_delay_timer(rk_broker_t *b)
{
    delay_state_t *ds = rk_broker_module_state(b, rk_delay_module.name);
    return ds != NULL ? ds->timer : NULL;
}
