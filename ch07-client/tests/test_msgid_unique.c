/* test_msgid_unique.c — message ids (UNIQ_KEY) stay unique across producers a process makes
 * one after another. A producer's id holds ip, pid, an instance number, the millisecond and a
 * counter from 0; the instance was derived from the client id and the producer's address, and
 * a freed producer's memory is usually the next one's: two producers made in turn sent
 * messages with the same id in the same millisecond (seen as "a message on two pages" in
 * chapter 12's console test, and fatal to a lookup by id or a consumer's de-duplication). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/producer.h"

static tk_cluster_t c;

static void fini(void) { tk_cluster_stop(&c); }

TestSuite(msgid, .fini = fini, .timeout = 120);

static int cmp_id(const void *a, const void *b) { return strcmp(a, b); }

Test(msgid, producers_made_one_after_another_never_repeat_an_id)
{
    rk_log_set_level(RK_LOG_ERROR);
    tk_cluster_start(&c, NULL);
    tk_create_topic(&c, "IdTopic", 1);
    enum { N = 150 };
    static char ids[N][RK_MSGID_MAX];
    for (int i = 0; i < N; i++) {
        rk_producer_config_t pc = {.namesrv = c.ns, .group = "id_producer", .instance_name = "same"};
        rk_producer_t *p = NULL;
        cr_assert_eq(rk_producer_new(&pc, &p), RK_OK);
        rk_message_t m = {.topic = "IdTopic", .body = "x", .body_len = 1};
        rk_send_result_t r;
        cr_assert_eq(rk_producer_send(p, &m, &r), RK_OK, "send %d: %s", i, r.error);
        snprintf(ids[i], sizeof ids[i], "%s", r.msg_id);
        rk_producer_free(p);
    }
    qsort(ids, N, sizeof ids[0], cmp_id);
    for (int i = 1; i < N; i++)
        cr_assert_str_neq(ids[i - 1], ids[i], "two messages with the id %s", ids[i]);
}
