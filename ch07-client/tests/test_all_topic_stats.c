/* test_all_topic_stats.c — rocklet's GET_ALL_TOPIC_STATS (rk/broker.h) on the wire: every
 * topic of the broker, a page a request, each queue's min/max offset and last store time equal
 * to what GET_TOPIC_STATS_INFO answers for it (before and after a restart, when the last store
 * times come from memory and then from the log); pages that walk the table in name order
 * without a gap or a repeat; bad page arguments answered with an error. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "rk/broker.h"
#include "rk/error.h"
#include "rk/json.h"
#include "rk/mqclient.h"
#include "rk/producer.h"
#include "rk/remoting_cmd.h"
#include "rk/request_code.h"

#define MAX_TOPICS 64

typedef struct page {
    int code;
    char remark[256];
    bool more;
    char last[256];
    cJSON *body;                    /* the parsed body (SUCCESS) */
} page_t;

static void ask_page(tk_cluster_t *c, const char *after, const char *max, page_t *p)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_ALL_TOPIC_STATS);
    if (after != NULL)
        rk_cmd_ext_set(req, "afterTopic", after);
    if (max != NULL)
        rk_cmd_ext_set(req, "maxTopics", max);
    rk_cmd_t *resp = tk_ask(c->br, req);
    memset(p, 0, sizeof *p);
    p->code = resp->code;
    snprintf(p->remark, sizeof p->remark, "%s", resp->remark ? resp->remark : "");
    if (resp->code == RK_RESP_SUCCESS) {
        const char *more = rk_cmd_ext_get(resp, "more"), *last = rk_cmd_ext_get(resp, "lastTopic");
        cr_assert_not_null(more);
        p->more = strcmp(more, "true") == 0;
        snprintf(p->last, sizeof p->last, "%s", last ? last : "");
        p->body = rk_json_parse((const char *)resp->body, resp->body_len);
        cr_assert_not_null(p->body, "not JSON: %.*s", (int)resp->body_len, (const char *)resp->body);
        cr_assert(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(p->body, "topics")));
        cr_assert_str_eq(rk_json_get_str(p->body, "brokerName"), "broker-t");
    }
    rk_cmd_free(resp);
}

/* Every topic through pages of maxTopics=per (NULL: the default), each checked against
 * GET_TOPIC_STATS_INFO. Returns how many topics; names[] gets them. */
static int walk_and_compare(tk_cluster_t *c, const char *per, char names[][256], int *pages)
{
    int n = 0;
    *pages = 0;
    char after[256] = "";
    for (;;) {
        page_t p;
        ask_page(c, after[0] ? after : NULL, per, &p);
        cr_assert_eq(p.code, RK_RESP_SUCCESS, "%s", p.remark);
        (*pages)++;
        cJSON *topics = cJSON_GetObjectItemCaseSensitive(p.body, "topics");
        int in_page = 0;
        for (cJSON *t = topics->child; t; t = t->next, in_page++) {
            cr_assert(strcmp(t->string, after) > 0, "%s after %s: not in name order", t->string, after);
            snprintf(after, sizeof after, "%s", t->string);
            cr_assert_lt(n, MAX_TOPICS);
            snprintf(names[n++], 256, "%s", t->string);
            /* the same figures GET_TOPIC_STATS_INFO gives */
            rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_TOPIC_STATS_INFO);
            rk_cmd_ext_set(req, "topic", t->string);
            rk_cmd_t *resp = tk_ask(c->br, req);
            cr_assert_eq(resp->code, RK_RESP_SUCCESS, "%s: %s", t->string, resp->remark);
            rk_mq_map_entry_t *e = NULL;
            size_t ne = 0;
            cr_assert_eq(rk_mq_map_parse((const char *)resp->body, resp->body_len, "offsetTable", &e, &ne), RK_OK);
            cr_assert_eq((size_t)cJSON_GetArraySize(t), ne, "%s: %d queues, GET_TOPIC_STATS_INFO %zu", t->string,
                         cJSON_GetArraySize(t), ne);
            for (size_t i = 0; i < ne; i++) {
                int qid = e[i].mq.queue_id;
                cJSON *row = cJSON_GetArrayItem(t, qid);
                cr_assert_eq(cJSON_GetArraySize(row), 3);
                int64_t min = -1, max = -1, last = -1;
                rk_json_get_i64(e[i].value, "minOffset", &min);
                rk_json_get_i64(e[i].value, "maxOffset", &max);
                rk_json_get_i64(e[i].value, "lastUpdateTimestamp", &last);
                cr_assert_eq((int64_t)cJSON_GetArrayItem(row, 0)->valuedouble, min, "%s/%d min", t->string, qid);
                cr_assert_eq((int64_t)cJSON_GetArrayItem(row, 1)->valuedouble, max, "%s/%d max", t->string, qid);
                cr_assert_eq((int64_t)cJSON_GetArrayItem(row, 2)->valuedouble, last, "%s/%d last", t->string, qid);
            }
            rk_mq_map_free(e, ne);
            rk_cmd_free(resp);
        }
        if (per != NULL)
            cr_assert_leq(in_page, atoi(per));
        if (in_page > 0)
            cr_assert_str_eq(p.last, after, "lastTopic is the page's last");
        bool more = p.more;
        cJSON_Delete(p.body);
        if (!more)
            break;
        cr_assert_gt(in_page, 0, "a page that says more has topics");
    }
    return n;
}

/* The topics GET_ALL_TOPIC_CONFIG lists: every one must be in the walk, once. */
static void same_topics_as_config(tk_cluster_t *c, char names[][256], int n)
{
    rk_cmd_t *resp = tk_ask(c->br, rk_cmd_new(RK_REQ_GET_ALL_TOPIC_CONFIG));
    cr_assert_eq(resp->code, RK_RESP_SUCCESS);
    cJSON *j = rk_json_parse((const char *)resp->body, resp->body_len);
    cJSON *table = cJSON_GetObjectItemCaseSensitive(j, "topicConfigTable");
    cr_assert_eq(cJSON_GetArraySize(table), n, "the config has %d topics, the pages %d", cJSON_GetArraySize(table), n);
    for (cJSON *t = table->child; t; t = t->next) {
        int seen = 0;
        for (int i = 0; i < n; i++)
            seen += strcmp(names[i], t->string) == 0;
        cr_assert_eq(seen, 1, "%s in %d pages", t->string, seen);
    }
    cJSON_Delete(j);
    rk_cmd_free(resp);
}

typedef struct want {
    tk_cluster_t *c;
    int64_t total;
} want_t;

/* Every message sent is in a consume queue (the sum of the Stat topics' max offsets). */
static bool all_dispatched(void *arg)
{
    want_t *w = arg;
    page_t p;
    ask_page(w->c, NULL, NULL, &p);
    int64_t sum = 0;
    for (cJSON *t = cJSON_GetObjectItemCaseSensitive(p.body, "topics")->child; t; t = t->next)
        if (strncmp(t->string, "Stat", 4) == 0)
            for (cJSON *q = t->child; q; q = q->next)
                sum += (int64_t)cJSON_GetArrayItem(q, 1)->valuedouble;
    cJSON_Delete(p.body);
    return sum == w->total;
}

Test(all_topic_stats, every_topic_a_page_at_a_time_as_topic_stats_answers_it, .timeout = 120)
{
    tk_cluster_t c;
    tk_cluster_start(&c, NULL);
    tk_create_topic(&c, "StatA", 4);
    tk_create_topic(&c, "StatB", 2);
    tk_create_topic(&c, "StatC", 3);         /* never sent to: queues the store does not have */
    rk_producer_config_t pc = {.namesrv = c.ns, .group = "stat_producer"};
    rk_producer_t *p = NULL;
    cr_assert_eq(rk_producer_new(&pc, &p), RK_OK);
    int64_t sent = 0;
    for (int i = 0; i < 30; i++) {
        rk_message_t m = {.topic = i % 3 ? "StatA" : "StatB", .body = "x", .body_len = 1};
        rk_send_result_t r;
        cr_assert_eq(rk_producer_send(p, &m, &r), RK_OK, "send %d: %s", i, r.error);
        sent++;
    }
    rk_producer_free(p);
    want_t w = {&c, sent};
    cr_assert(tk_wait_until(all_dispatched, &w, 10000), "the messages were not dispatched");

    char names[MAX_TOPICS][256];
    int pages = 0;
    int n = walk_and_compare(&c, NULL, names, &pages);
    cr_assert_eq(pages, 1, "the default page holds every topic of a small broker");
    same_topics_as_config(&c, names, n);
    int n2 = walk_and_compare(&c, "2", names, &pages);
    cr_assert_eq(n2, n);
    cr_assert_geq(pages, (n + 1) / 2);
    same_topics_as_config(&c, names, n);
    walk_and_compare(&c, "1", names, &pages);
    cr_assert_geq(pages, n);

    /* after a restart the last store times are not in memory: read from the log, the same */
    tk_cluster_restart_broker(&c);
    n2 = walk_and_compare(&c, "3", names, &pages);
    cr_assert_eq(n2, n);
    same_topics_as_config(&c, names, n);
    walk_and_compare(&c, NULL, names, &pages);  /* and again, now remembered */

    /* a page after the last topic: empty, no more */
    page_t pg;
    ask_page(&c, "~~~~", NULL, &pg);
    cr_assert_eq(pg.code, RK_RESP_SUCCESS);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(pg.body, "topics")), 0);
    cr_assert(!pg.more);
    cr_assert_str_eq(pg.last, "");
    cJSON_Delete(pg.body);
    tk_cluster_stop(&c);
}

Test(all_topic_stats, bad_page_arguments_get_an_error_and_the_broker_keeps_serving, .timeout = 60)
{
    tk_cluster_t c;
    tk_cluster_start(&c, NULL);
    static const char *const bad[] = {"abc", "0", "-1", "10001", "", "12x", "99999999999999999999999", " 5"};
    page_t p;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ask_page(&c, NULL, bad[i], &p);
        cr_assert_eq(p.code, RK_RESP_SYSTEM_ERROR, "maxTopics=\"%s\" answered %d", bad[i], p.code);
        cr_assert_not_null(strstr(p.remark, "maxTopics"), "%s", p.remark);
    }
    char longname[400];
    memset(longname, 'T', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    ask_page(&c, longname, "10", &p);
    cr_assert_eq(p.code, RK_RESP_SYSTEM_ERROR, "afterTopic of %zu bytes answered %d", strlen(longname), p.code);
    /* still serving */
    ask_page(&c, NULL, "10000", &p);
    cr_assert_eq(p.code, RK_RESP_SUCCESS, "%s", p.remark);
    cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p.body, "topics"), "TBW102"));
    cJSON_Delete(p.body);
    tk_cluster_stop(&c);
}
