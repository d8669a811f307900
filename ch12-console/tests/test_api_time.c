/* test_api_time.c — the console's search by time with messages stored in the same millisecond
 * as a bound. A batch is stored with one timestamp; the broker's search by time answers any
 * message of that millisecond (a binary search), so a range starting there missed the ones
 * before it, and a range ending there took some of them in ([begin, end) excludes them). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cfix.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/json.h"

static cJSON *range(cfix_t *f, int64_t begin, int64_t end, int page, int size)
{
    char path[300];
    snprintf(path, sizeof path, "/api/messages?topic=SameMs&begin=%" PRId64 "&end=%" PRId64 "&page=%d&pageSize=%d",
             begin, end, page, size);
    return cf_get(f, path, 200);
}

Test(api_time, a_bound_in_a_millisecond_of_many_messages_takes_all_or_none_of_them)
{
    cfix_t f;
    cf_start(&f, NULL, NULL);
    rk_rc_create_topic(&f.cl, "SameMs", 1);
    rk_producer_config_t cfg = {.namesrv = f.cl.ns, .group = "same_ms_producer", .instance_name = "samems"};
    rk_producer_t *p;
    cr_assert_eq(rk_producer_new(&cfg, &p), RK_OK);
    enum { N = 7 };
    rk_message_t m[N];
    for (int i = 0; i < N; i++)
        m[i] = (rk_message_t){.topic = "SameMs", .body = "same millisecond", .body_len = 16};
    rk_send_result_t r;
    cr_assert_eq(rk_producer_send_batch(p, m, N, &r), RK_OK, "batch: %s", r.error);
    rk_producer_free(p);

    /* every message, once dispatched: their one store time */
    cJSON *j = NULL;
    for (int k = 0; k < 200; k++) {
        cJSON_Delete(j);
        j = range(&f, 1, rk_now_ms() + 60000, 0, 100);
        if (cf_num(j, "total") == N)
            break;
        usleep(50000);
    }
    cr_assert_eq(cf_num(j, "total"), N);
    int64_t t = -1;
    for (cJSON *x = cJSON_GetObjectItemCaseSensitive(j, "messages")->child; x; x = x->next) {
        int64_t ts = (int64_t)cJSON_GetObjectItemCaseSensitive(x, "storeTimestamp")->valuedouble;
        cr_assert(t < 0 || ts == t, "a batch is stored with one timestamp (%" PRId64 ", %" PRId64 ")", t, ts);
        t = ts;
    }
    cJSON_Delete(j);

    /* [t, t+1): all of them, in pages of 3, each once */
    bool seen[N] = {false};
    for (int page = 0; page < 3; page++) {
        j = range(&f, t, t + 1, page, 3);
        cr_assert_eq(cf_num(j, "total"), N, "a range starting in their millisecond holds all %d", N);
        cJSON *ms = cJSON_GetObjectItemCaseSensitive(j, "messages");
        cr_assert_eq(cJSON_GetArraySize(ms), page < 2 ? 3 : 1);
        for (cJSON *x = ms->child; x; x = x->next) {
            int off = (int)cJSON_GetObjectItemCaseSensitive(x, "queueOffset")->valuedouble;
            cr_assert(off >= 0 && off < N && !seen[off], "queue offset %d twice or out of range", off);
            seen[off] = true;
        }
        cJSON_Delete(j);
    }
    /* [t-5, t): none of them */
    j = range(&f, t - 5, t, 0, 100);
    cr_assert_eq(cf_num(j, "total"), 0, "a range ending at their millisecond holds none");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "messages")), 0);
    cJSON_Delete(j);
    cf_stop(&f);
}
