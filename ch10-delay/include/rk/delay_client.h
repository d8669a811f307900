/* delay_client.h — chapter 10 in the SDK: send a message that consumers get later.
 *
 *   rk_message_t m = {.topic = "orders", .tags = "remind", .body = "pay now", .body_len = 7};
 *   rk_send_result_t r;
 *   rk_producer_send_delay_level(p, &m, 3, &r);               level 3: 10 s with RocketMQ's levels
 *   rk_producer_send_deliver_after(p, &m, 90 * 1000, &r);     in 90 s
 *   rk_producer_send_deliver_at(p, &m, rk_now_ms() + 3600000, &r);   at a wall-clock time
 *
 * A delay is one property of the message; the broker parks the message and puts it into its
 * topic when due. Which property, and which brokers honour it:
 *
 *   DELAY = n               a delay LEVEL, 1..18 with RocketMQ's default messageDelayLevel
 *                           "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h" (the
 *                           broker's setting says what n means). Every RocketMQ 4.x and 5.x
 *                           broker; rocklet from chapter 9. A level past the broker's last is
 *                           clamped to the last by the broker.
 *   TIMER_DELIVER_MS = t    an absolute delivery time (ms since 1970, the producer's clock).
 *   TIMER_DELAY_SEC = s     a delay from the moment the broker takes the message (its clock).
 *   TIMER_DELAY_MS = d      the same in ms (what rk_producer_send_deliver_after sets).
 *                           RocketMQ 5.x brokers (timerWheelEnable, the default) and rocklet from
 *                           chapter 10, up to timerMaxDelaySec (3 days by default), rounded to
 *                           timerPrecisionMs (1 s in RocketMQ); 5.0.0's broker reads only
 *                           TIMER_DELIVER_MS and TIMER_DELAY_SEC, later 5.x ones TIMER_DELAY_MS
 *                           too. A RocketMQ 4.x broker does not know any of them: it keeps them
 *                           as plain properties and delivers the message AT ONCE.
 *   __STARTDELIVERTIME = t  the same absolute time as Alibaba Cloud's commercial RocketMQ (ONS)
 *                           names it, what the ali-ons client's setStartDeliverTime sets; rocklet
 *                           chapter 10 honours it too. Apache RocketMQ's broker (4.x, 5.x) does
 *                           not schedule by it (5.x only counts such a message as a delay type
 *                           in its metrics): it is delivered at once there.
 *
 * So: levels work everywhere; a delivery time needs a RocketMQ 5 broker (or rocklet 10, or ONS).
 * A RocketMQ 5 broker given both DELAY and a TIMER_* property uses the level and drops the
 * time; these functions refuse a message whose own properties already hold any delay property.
 *
 * Checks before anything is sent (RK_EINVAL and a sentence in the result's error): a level
 * outside 1..levels, a delivery time not in the future (RocketMQ 5 would deliver it at once,
 * which is rarely what the caller meant), a delay <= 0, or a delay longer than max_delay_ms (the
 * broker's timerMaxDelaySec; it would answer WHEEL_TIMER_MSG_ILLEGAL).
 *
 * Memory: messages are borrowed as in rk/producer.h; rk_delay_apply writes the properties into
 * the caller's buffer, which the prepared message points into until rk_buf_free. Threads: as
 * the producer's; these functions keep no state of their own. */
#ifndef RK_DELAY_CLIENT_H
#define RK_DELAY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/buf.h"
#include "rk/producer.h"

#define RK_PROP_TIMER_DELIVER_MS "TIMER_DELIVER_MS"
#define RK_PROP_TIMER_DELAY_SEC "TIMER_DELAY_SEC"
#define RK_PROP_TIMER_DELAY_MS "TIMER_DELAY_MS"
#define RK_PROP_START_DELIVER_TIME "__STARTDELIVERTIME"

#define RK_DELAY_LEVELS_RMQ 18                          /* levels in RocketMQ's default messageDelayLevel */
#define RK_TIMER_MAX_DELAY_MS (3LL * 24 * 3600 * 1000)  /* RocketMQ 5's timerMaxDelaySec, 3 days */

typedef enum rk_delay_kind {
    RK_DELAY_NONE = 0,
    RK_DELAY_LEVEL,             /* value: the level, 1..levels */
    RK_DELAY_AT,                /* value: delivery time, ms since 1970 */
    RK_DELAY_AFTER,             /* value: ms from now */
} rk_delay_kind_t;

/* Which property carries a delivery time (RK_DELAY_AT / RK_DELAY_AFTER). */
typedef enum rk_deliver_style {
    RK_DELIVER_TIMER = 0,       /* TIMER_DELIVER_MS (at) / TIMER_DELAY_MS (after): RocketMQ 5 */
    RK_DELIVER_ONS,             /* __STARTDELIVERTIME for both (after: now + delay, this clock) */
} rk_deliver_style_t;

/* What to delay and the limits to check it against. Zeroes mean the defaults. */
typedef struct rk_delay {
    rk_delay_kind_t kind;
    int64_t value;
    rk_deliver_style_t style;
    int levels;                 /* levels the broker has; 0: 18 */
    int64_t max_delay_ms;       /* longest delay the broker takes; 0: 3 days */
    int64_t now_ms;             /* "now" for the checks; 0: this machine's wall clock */
} rk_delay_t;

/* Checks d and turns m into *out: m's fields, its properties followed by the delay's, which
 * are appended to props (the caller's, empty or not; *out points into it, so free props only
 * after the send). RK_DELAY_NONE gives m unchanged. Returns RK_OK, RK_EINVAL (err says why) or
 * RK_ENOMEM. *deliver_ms (may be NULL) gets the delivery time the delay asks for as this
 * machine's clock sees it (a level's: -1, the broker's setting decides). */
int rk_delay_apply(const rk_message_t *m, const rk_delay_t *d, rk_buf_t *props, rk_message_t *out,
                   int64_t *deliver_ms, char *err, size_t errlen);

/* Synchronous sends with a delay and the default limits (18 levels, 3 days) and style
 * (TIMER_*). Like rk_producer_send: RK_OK or a negative code, r->error says why; a refused
 * delay is RK_EINVAL and nothing is sent. */
int rk_producer_send_delay_level(rk_producer_t *p, const rk_message_t *m, int level, rk_send_result_t *r);
int rk_producer_send_deliver_at(rk_producer_t *p, const rk_message_t *m, int64_t deliver_at_ms,
                                rk_send_result_t *r);
int rk_producer_send_deliver_after(rk_producer_t *p, const rk_message_t *m, int64_t delay_ms,
                                   rk_send_result_t *r);
/* Any delay (style, limits) through rk_producer_send. */
int rk_producer_send_delayed(rk_producer_t *p, const rk_message_t *m, const rk_delay_t *d, rk_send_result_t *r);

/* The same through rk_producer_send_async: on RK_OK cb runs once, as there; a refused delay is
 * RK_EINVAL with err (may be NULL) saying why, and cb never runs. */
int rk_producer_send_delayed_async(rk_producer_t *p, const rk_message_t *m, const rk_delay_t *d, rk_send_cb cb,
                                   void *arg, char *err, size_t errlen);

/* "1500ms", "30s", "5m", "2h", "1d" (a bare number is ms) -> ms; RK_EINVAL if it is not a
 * positive number with one of those units or does not fit. */
int rk_delay_parse_duration(const char *text, int64_t *out_ms);

/* ms -> "3d", "90s", "1500ms" when a unit divides it, else "about 2.5 h" (for messages). */
const char *rk_delay_format(int64_t ms, char *buf, size_t len);

#endif
