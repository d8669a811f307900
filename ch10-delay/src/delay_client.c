/* delay_client.c — a delay as a message property, checked before the send (rk/delay_client.h).
 * Nothing here talks to a broker: the delay is one more property, and chapter 7's producer sends
 * the message as it sends any other. */
#include "rk/delay_client.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/message.h"

/* Every property a broker reads as a delay: a message carries at most one, set by us. */
static const char *const delay_props[] = {
    RK_PROP_DELAY, RK_PROP_TIMER_DELIVER_MS, RK_PROP_TIMER_DELAY_SEC, RK_PROP_TIMER_DELAY_MS,
    RK_PROP_START_DELIVER_TIME, NULL,
};

static int refuse(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return RK_EINVAL;
}

const char *rk_delay_format(int64_t ms, char *buf, size_t len)
{
    static const struct { int64_t ms; const char *unit; } units[] = {
        {86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ms != 0 && ms % units[i].ms == 0) {
            snprintf(buf, len, "%" PRId64 "%s", ms / units[i].ms, units[i].unit);
            return buf;
        }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ms >= units[i].ms * 10 || (i + 1 == sizeof units / sizeof units[0] && ms >= units[i].ms)) {
            snprintf(buf, len, "about %.1f %s", (double)ms / (double)units[i].ms, units[i].unit);
            return buf;
        }
    snprintf(buf, len, "%" PRId64 "ms", ms);
    return buf;
}

/* Checks a delay of delay_ms (how far in the future the delivery is) against the limit. */
static int check_span(int64_t delay_ms, int64_t max_ms, char *err, size_t errlen)
{
    char a[32], b[32];
    if (delay_ms <= 0)
        return refuse(err, errlen, "the delivery time is not in the future (%s ago); give a later one, or send "
                      "the message without a delay", rk_delay_format(-delay_ms, a, sizeof a));
    if (delay_ms > max_ms)
        return refuse(err, errlen, "the delivery time is %s from now, past the longest delay a broker takes (%s, "
                      "timerMaxDelaySec); it would refuse the message", rk_delay_format(delay_ms, a, sizeof a),
                      rk_delay_format(max_ms, b, sizeof b));
    return RK_OK;
}

int rk_delay_apply(const rk_message_t *m, const rk_delay_t *d, rk_buf_t *props, rk_message_t *out,
                   int64_t *deliver_ms, char *err, size_t errlen)
{
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (deliver_ms != NULL)
        *deliver_ms = -1;
    if (m == NULL || d == NULL || props == NULL || out == NULL)
        return refuse(err, errlen, "no message, delay, property buffer or result");
    *out = *m;
    if (d->kind == RK_DELAY_NONE)
        return RK_OK;
    for (const char *const *k = delay_props; *k != NULL; k++) {
        size_t vlen;
        if (m->props != NULL && rk_props_get(m->props, m->props_len, *k, &vlen) != NULL)
            return refuse(err, errlen, "the message already has a delay property (%s); give the delay "
                          "here only", *k);
    }
    int levels = d->levels > 0 ? d->levels : RK_DELAY_LEVELS_RMQ;
    int64_t max_ms = d->max_delay_ms > 0 ? d->max_delay_ms : RK_TIMER_MAX_DELAY_MS;
    int64_t now = d->now_ms > 0 ? d->now_ms : rk_now_ms();
    const char *key;
    char value[24];
    int rc;
    switch (d->kind) {
    case RK_DELAY_LEVEL:
        if (d->value < 1 || d->value > levels)
            return refuse(err, errlen, "delay level %" PRId64 " is outside 1..%d (the broker's messageDelayLevel "
                          "lists %d delays%s)", d->value, levels, levels,
                          d->levels > 0 ? "" : " by default");
        key = RK_PROP_DELAY;
        snprintf(value, sizeof value, "%" PRId64, d->value);
        break;
    case RK_DELAY_AT:
        if (d->value <= 0)
            return refuse(err, errlen, "delivery time %" PRId64 ": it must be ms since 1970", d->value);
        if ((rc = check_span(d->value - now, max_ms, err, errlen)) != RK_OK)
            return rc;
        key = d->style == RK_DELIVER_ONS ? RK_PROP_START_DELIVER_TIME : RK_PROP_TIMER_DELIVER_MS;
        snprintf(value, sizeof value, "%" PRId64, d->value);
        if (deliver_ms != NULL)
            *deliver_ms = d->value;
        break;
    case RK_DELAY_AFTER:
        if (d->value <= 0)
            return refuse(err, errlen, "a delay of %" PRId64 " ms: it must be more than 0", d->value);
        if ((rc = check_span(d->value, max_ms, err, errlen)) != RK_OK)
            return rc;
        if (d->value > INT64_MAX - now)
            return refuse(err, errlen, "a delay of %" PRId64 " ms does not fit a delivery time", d->value);
        if (d->style == RK_DELIVER_ONS) {
            key = RK_PROP_START_DELIVER_TIME;
            snprintf(value, sizeof value, "%" PRId64, now + d->value);
        } else {
            key = RK_PROP_TIMER_DELAY_MS;
            snprintf(value, sizeof value, "%" PRId64, d->value);
        }
        if (deliver_ms != NULL)
            *deliver_ms = now + d->value;
        break;
    default:
        return refuse(err, errlen, "unknown kind of delay %d", (int)d->kind);
    }
    size_t start = props->len;
    if (m->props != NULL && m->props_len > 0) {
        rk_buf_put(props, m->props, m->props_len);
        if (m->props[m->props_len - 1] != RK_PROP_SEP)     /* Go clients end with one */
            rk_buf_put_u8(props, RK_PROP_SEP);
    }
    rk_buf_printf(props, "%s%c%s", key, RK_PROP_NAME_VALUE_SEP, value);
    if (props->err != 0)
        return RK_ENOMEM;
    out->props = (const char *)props->data + start;
    out->props_len = props->len - start;
    return RK_OK;
}

int rk_producer_send_delayed(rk_producer_t *p, const rk_message_t *m, const rk_delay_t *d, rk_send_result_t *r)
{
    rk_buf_t props = {0};
    rk_message_t dm;
    char err[sizeof r->error];
    int rc = rk_delay_apply(m, d, &props, &dm, NULL, err, sizeof err);
    if (rc != RK_OK) {
        memset(r, 0, sizeof *r);
        snprintf(r->error, sizeof r->error, "%s", rc == RK_ENOMEM ? "out of memory" : err);
        rk_buf_free(&props);
        return rc;
    }
    rc = rk_producer_send(p, &dm, r);
    rk_buf_free(&props);
    return rc;
}

int rk_producer_send_delayed_async(rk_producer_t *p, const rk_message_t *m, const rk_delay_t *d, rk_send_cb cb,
                                   void *arg, char *err, size_t errlen)
{
    rk_buf_t props = {0};
    rk_message_t dm;
    int rc = rk_delay_apply(m, d, &props, &dm, NULL, err, errlen);
    if (rc == RK_OK)
        rc = rk_producer_send_async(p, &dm, cb, arg);   /* it copies what it needs before returning */
    else if (rc == RK_ENOMEM && err != NULL && errlen > 0)
        snprintf(err, errlen, "out of memory");
    rk_buf_free(&props);
    return rc;
}

int rk_producer_send_delay_level(rk_producer_t *p, const rk_message_t *m, int level, rk_send_result_t *r)
{
    rk_delay_t d = {.kind = RK_DELAY_LEVEL, .value = level};
    return rk_producer_send_delayed(p, m, &d, r);
}

int rk_producer_send_deliver_at(rk_producer_t *p, const rk_message_t *m, int64_t deliver_at_ms, rk_send_result_t *r)
{
    rk_delay_t d = {.kind = RK_DELAY_AT, .value = deliver_at_ms};
    return rk_producer_send_delayed(p, m, &d, r);
}

int rk_producer_send_deliver_after(rk_producer_t *p, const rk_message_t *m, int64_t delay_ms, rk_send_result_t *r)
{
    rk_delay_t d = {.kind = RK_DELAY_AFTER, .value = delay_ms};
    return rk_producer_send_delayed(p, m, &d, r);
}

int rk_delay_parse_duration(const char *text, int64_t *out_ms)
{
    if (text == NULL || *text < '0' || *text > '9')
        return RK_EINVAL;
    int64_t n = 0;
    const char *s = text;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (n > (INT64_MAX - 9) / 10)
            return RK_EINVAL;
        n = n * 10 + (*s - '0');
    }
    static const struct { const char *unit; int64_t ms; } units[] = {
        {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(s, units[i].unit) == 0) {
            if (n == 0 || n > INT64_MAX / units[i].ms)
                return RK_EINVAL;
            *out_ms = n * units[i].ms;
            return RK_OK;
        }
    return RK_EINVAL;
}
