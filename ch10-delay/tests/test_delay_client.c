/* test_delay_client.c — the SDK's delay before anything is sent (rk/delay_client.h): which
 * property a delay becomes, that the message's own properties stay, and what is refused with
 * a sentence saying why. No broker needed: rk_delay_apply only writes properties, and a refused
 * delay must stop a send before it reaches the network (checked with a producer whose name
 * server does not exist: a send that got that far would fail differently). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rk/delay_client.h"
#include "rk/error.h"
#include "rk/message.h"

#define NOW 1800000000000LL     /* a fixed "now" for the checks */

static rk_message_t msg(const char *props)
{
    rk_message_t m = {.topic = "T", .tags = "tg", .keys = "k1 k2", .body = "body", .body_len = 4,
                      .props = props, .props_len = props ? strlen(props) : 0};
    return m;
}

/* The value of key in out's properties as a C string ("" if absent). */
static const char *prop(const rk_message_t *out, const char *key)
{
    static char v[64];
    if (rk_props_get_str(out->props, out->props_len, key, v, sizeof v) != RK_OK)
        v[0] = '\0';
    return v;
}

static int apply(const rk_message_t *m, rk_delay_t d, rk_buf_t *props, rk_message_t *out, char *err)
{
    d.now_ms = NOW;
    return rk_delay_apply(m, &d, props, out, NULL, err, 256);
}

Test(delay_client, level_becomes_DELAY_and_keeps_the_message)
{
    rk_message_t m = msg("color\001red\002size\001L"), out;
    rk_buf_t props = {0};
    char err[256];
    cr_assert_eq(apply(&m, (rk_delay_t){.kind = RK_DELAY_LEVEL, .value = 18}, &props, &out, err), RK_OK, "%s", err);
    cr_assert_str_eq(prop(&out, "DELAY"), "18");
    cr_assert_str_eq(prop(&out, "color"), "red");
    cr_assert_str_eq(prop(&out, "size"), "L");
    cr_assert_str_eq(out.topic, "T");
    cr_assert_str_eq(out.tags, "tg");
    cr_assert_str_eq(out.keys, "k1 k2");
    cr_assert_eq(out.body, m.body);
    cr_assert_eq(out.body_len, 4);
    rk_buf_free(&props);
}

Test(delay_client, delivery_time_becomes_TIMER_or_ONS_property)
{
    rk_message_t m = msg(NULL), out;
    rk_buf_t props = {0};
    char err[256];
    int64_t at;
    rk_delay_t d = {.kind = RK_DELAY_AT, .value = NOW + 5000, .now_ms = NOW};
    cr_assert_eq(rk_delay_apply(&m, &d, &props, &out, &at, err, sizeof err), RK_OK, "%s", err);
    cr_assert_str_eq(prop(&out, "TIMER_DELIVER_MS"), "1800000005000");
    cr_assert_eq(at, NOW + 5000);
    cr_assert_eq(out.props_len, strlen("TIMER_DELIVER_MS\0011800000005000"));

    rk_buf_reset(&props);
    cr_assert_eq(apply(&m, (rk_delay_t){.kind = RK_DELAY_AFTER, .value = 1500}, &props, &out, err), RK_OK, "%s", err);
    cr_assert_str_eq(prop(&out, "TIMER_DELAY_MS"), "1500");
    cr_assert_str_eq(prop(&out, "TIMER_DELIVER_MS"), "");

    rk_buf_reset(&props);
    cr_assert_eq(apply(&m, (rk_delay_t){.kind = RK_DELAY_AFTER, .value = 1500, .style = RK_DELIVER_ONS}, &props,
                       &out, err), RK_OK, "%s", err);
    cr_assert_str_eq(prop(&out, "__STARTDELIVERTIME"), "1800000001500");

    rk_buf_reset(&props);
    cr_assert_eq(apply(&m, (rk_delay_t){.kind = RK_DELAY_AT, .value = NOW + 60000, .style = RK_DELIVER_ONS}, &props,
                       &out, err), RK_OK, "%s", err);
    cr_assert_str_eq(prop(&out, "__STARTDELIVERTIME"), "1800000060000");
    rk_buf_free(&props);
}

Test(delay_client, go_style_trailing_separator_and_a_used_buffer)
{
    rk_message_t m = msg("a\001b\002"), out;
    rk_buf_t props = {0};
    rk_buf_put_str(&props, "something else");
    char err[256];
    cr_assert_eq(apply(&m, (rk_delay_t){.kind = RK_DELAY_LEVEL, .value = 2}, &props, &out, err), RK_OK, "%s", err);
    cr_assert_eq(out.props_len, strlen("a\001b\002DELAY\0012"));
    cr_assert_eq(memcmp(out.props, "a\001b\002DELAY\0012", out.props_len), 0);
    rk_buf_free(&props);
}

Test(delay_client, none_leaves_the_message_alone)
{
    rk_message_t m = msg("x\001y"), out;
    rk_buf_t props = {0};
    char err[256];
    cr_assert_eq(apply(&m, (rk_delay_t){.kind = RK_DELAY_NONE}, &props, &out, err), RK_OK);
    cr_assert_eq(out.props, m.props);
    cr_assert_eq(props.len, 0);
}

/* Each refused delay: RK_EINVAL and a sentence containing `why`. */
static void refused(const char *props, rk_delay_t d, const char *why)
{
    rk_message_t m = msg(props), out;
    rk_buf_t buf = {0};
    char err[256] = "";
    cr_assert_eq(apply(&m, d, &buf, &out, err), RK_EINVAL, "kind %d value %lld was taken", (int)d.kind,
                 (long long)d.value);
    cr_assert(strstr(err, why) != NULL, "error \"%s\" does not say \"%s\"", err, why);
    rk_buf_free(&buf);
}

Test(delay_client, bad_input_is_refused_with_a_reason)
{
    refused(NULL, (rk_delay_t){.kind = RK_DELAY_LEVEL, .value = 0}, "outside 1..18");
    refused(NULL, (rk_delay_t){.kind = RK_DELAY_LEVEL, .value = 19}, "outside 1..18");
    refused(NULL, (rk_delay_t){.kind = RK_DELAY_LEVEL, .value = -3}, "outside 1..18");
    refused(NULL, (rk_delay_t){.kind = RK_DELAY_LEVEL, .value = 4, .levels = 3}, "outside 1..3");
    refused(NULL, (rk_delay_t){.kind = RK_DELAY_AT, .value = NOW - 1}, "not in the future");
    refused(NULL, (rk_delay_t){.kind = RK_DELAY_AT, .value = NOW}, "not in the future");
    refused(NULL, (rk_delay_t){.kind = RK_DELAY_AT, .value = -5}, "ms since 1970");
    refused(NULL, (rk_delay_t){.kind = RK_DELAY_AT, .value = NOW + RK_TIMER_MAX_DELAY_MS + 1}, "longest delay");
    refused(NULL, (rk_delay_t){.kind = RK_DELAY_AFTER, .value = 0}, "more than 0");
    refused(NULL, (rk_delay_t){.kind = RK_DELAY_AFTER, .value = -100}, "more than 0");
    refused(NULL, (rk_delay_t){.kind = RK_DELAY_AFTER, .value = INT64_MAX}, "longest delay");
    refused(NULL, (rk_delay_t){.kind = RK_DELAY_AFTER, .value = 10000, .max_delay_ms = 5000}, "longest delay");
    refused(NULL, (rk_delay_t){.kind = RK_DELAY_AFTER, .value = INT64_MAX - 5, .max_delay_ms = INT64_MAX},
            "does not fit");
    refused("DELAY\0013", (rk_delay_t){.kind = RK_DELAY_LEVEL, .value = 2}, "already has a delay property (DELAY)");
    refused("a\001b\002TIMER_DELAY_SEC\0015", (rk_delay_t){.kind = RK_DELAY_AT, .value = NOW + 10},
            "TIMER_DELAY_SEC");
    refused("__STARTDELIVERTIME\0011", (rk_delay_t){.kind = RK_DELAY_AFTER, .value = 10}, "__STARTDELIVERTIME");
    refused(NULL, (rk_delay_t){.kind = (rk_delay_kind_t)42, .value = 1}, "unknown kind");
}

Test(delay_client, limits_at_the_edges_are_taken)
{
    rk_message_t m = msg(NULL), out;
    rk_buf_t props = {0};
    char err[256];
    cr_assert_eq(apply(&m, (rk_delay_t){.kind = RK_DELAY_LEVEL, .value = 1}, &props, &out, err), RK_OK);
    cr_assert_eq(apply(&m, (rk_delay_t){.kind = RK_DELAY_LEVEL, .value = 3, .levels = 3}, &props, &out, err), RK_OK);
    cr_assert_eq(apply(&m, (rk_delay_t){.kind = RK_DELAY_AT, .value = NOW + 1}, &props, &out, err), RK_OK);
    cr_assert_eq(apply(&m, (rk_delay_t){.kind = RK_DELAY_AT, .value = NOW + RK_TIMER_MAX_DELAY_MS}, &props, &out, err),
                 RK_OK);
    cr_assert_eq(apply(&m, (rk_delay_t){.kind = RK_DELAY_AFTER, .value = RK_TIMER_MAX_DELAY_MS}, &props, &out, err),
                 RK_OK);
    rk_buf_free(&props);
}

Test(delay_client, send_functions_refuse_before_the_network)
{
    /* a name server nobody listens on: a send that got past the checks would fail with a route
     * error, not RK_EINVAL and our sentence */
    rk_producer_config_t cfg = {.namesrv = "127.0.0.1:1", .group = "pg", .timeout_ms = 300, .retries = -1};
    rk_producer_t *p;
    cr_assert_eq(rk_producer_new(&cfg, &p), RK_OK);
    rk_message_t m = msg(NULL);
    rk_send_result_t r;
    cr_assert_eq(rk_producer_send_delay_level(p, &m, 0, &r), RK_EINVAL);
    cr_assert(strstr(r.error, "delay level 0") != NULL, "%s", r.error);
    cr_assert_eq(r.attempts, 0);
    cr_assert_eq(rk_producer_send_deliver_at(p, &m, 1000, &r), RK_EINVAL);
    cr_assert(strstr(r.error, "not in the future") != NULL, "%s", r.error);
    cr_assert_eq(rk_producer_send_deliver_after(p, &m, -1, &r), RK_EINVAL);
    cr_assert(strstr(r.error, "more than 0") != NULL, "%s", r.error);
    /* and a good one does reach the network (and fails there, differently) */
    cr_assert_neq(rk_producer_send_delay_level(p, &m, 2, &r), RK_EINVAL);
    rk_producer_free(p);
}

Test(delay_client, durations)
{
    int64_t ms;
    cr_assert_eq(rk_delay_parse_duration("1500ms", &ms), RK_OK);
    cr_assert_eq(ms, 1500);
    cr_assert_eq(rk_delay_parse_duration("30s", &ms), RK_OK);
    cr_assert_eq(ms, 30000);
    cr_assert_eq(rk_delay_parse_duration("5m", &ms), RK_OK);
    cr_assert_eq(ms, 300000);
    cr_assert_eq(rk_delay_parse_duration("2h", &ms), RK_OK);
    cr_assert_eq(ms, 7200000);
    cr_assert_eq(rk_delay_parse_duration("1d", &ms), RK_OK);
    cr_assert_eq(ms, 86400000);
    cr_assert_eq(rk_delay_parse_duration("250", &ms), RK_OK);
    cr_assert_eq(ms, 250);
    const char *bad[] = {"", "0s", "s", "-5s", "5 s", "5x", "5sec", "99999999999999999999", "106751991167301d", NULL};
    for (const char **b = bad; *b; b++)
        cr_assert_eq(rk_delay_parse_duration(*b, &ms), RK_EINVAL, "\"%s\" was taken", *b);
    cr_assert_eq(rk_delay_parse_duration(NULL, &ms), RK_EINVAL);
}
