/* test_schedule_unpark.c — rk_schedule_unpark (rk/schedule.h), which the delay levels, chapter
 * 10's timer and chapter 11's half messages use to put a parked record back in its real topic:
 * REAL_TOPIC / REAL_QID checked, everything else of the record kept. */
#include <criterion/criterion.h>
#include <string.h>

#include "rk/buf.h"
#include "rk/error.h"
#include "rk/message.h"
#include "rk/schedule.h"

static rk_record_t parked(rk_buf_t *props, const char *topic, const char *qid)
{
    props->len = 0;
    rk_props_put(props, "KEYS", "k1");
    if (topic)
        rk_props_put(props, RK_PROP_REAL_TOPIC, topic);
    if (qid)
        rk_props_put(props, RK_PROP_REAL_QID, qid);
    cr_assert_eq(props->err, 0);
    static const uint8_t body[] = "hello";
    return (rk_record_t){.queue_id = 3, .flag = 5, .sys_flag = 8, .born_ts = 11, .store_ts = 12,
                         .reconsume_times = 2, .prepared_tx_offset = 77, .body = body, .body_len = 5,
                         .topic = RK_SCHEDULE_TOPIC, .topic_len = sizeof RK_SCHEDULE_TOPIC - 1,
                         .props = (const char *)props->data, .props_len = (uint16_t)props->len};
}

Test(schedule_unpark, the_real_topic_and_queue_everything_else_kept)
{
    rk_buf_t props = {0};
    rk_record_t rec = parked(&props, "Orders", "6");
    char topic[RK_TOPIC_MAX_LEN + 1];
    rk_msg_t m;
    cr_assert_eq(rk_schedule_unpark(&rec, topic, sizeof topic, &m), RK_OK);
    cr_assert_str_eq(topic, "Orders");
    cr_assert_eq(m.topic, topic);
    cr_assert_eq(m.topic_len, 6);
    cr_assert_eq(m.queue_id, 6);
    cr_assert_eq(m.flag, 5);
    cr_assert_eq(m.sys_flag, 8);
    cr_assert_eq(m.born_ts, 11);
    cr_assert_eq(m.reconsume_times, 2);
    cr_assert_eq(m.prepared_tx_offset, 77);
    cr_assert_eq(m.body_len, 5);
    cr_assert_eq(memcmp(m.body, "hello", 5), 0);
    cr_assert_eq(m.props, rec.props);
    cr_assert_eq(m.props_len, rec.props_len);
    rk_buf_free(&props);
}

Test(schedule_unpark, missing_empty_or_out_of_range_is_corrupt)
{
    rk_buf_t props = {0};
    const char *cases[][2] = {
        {NULL, "0"}, {"Orders", NULL}, {"", "0"}, {"Orders", "-1"}, {"Orders", "2147483648"}, {"Orders", "x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rk_record_t rec = parked(&props, cases[i][0], cases[i][1]);
        char topic[RK_TOPIC_MAX_LEN + 1];
        rk_msg_t m = {.queue_id = -7};
        cr_assert_eq(rk_schedule_unpark(&rec, topic, sizeof topic, &m), RK_ECORRUPT, "case %zu", i);
        cr_assert_eq(m.queue_id, -7, "case %zu: out untouched", i);
    }
    char longer[300];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    rk_record_t rec = parked(&props, longer, "0");
    char topic[RK_TOPIC_MAX_LEN + 1];
    rk_msg_t m;
    cr_assert_eq(rk_schedule_unpark(&rec, topic, sizeof topic, &m), RK_ECORRUPT, "a topic longer than the buffer");
    rk_buf_free(&props);
}
