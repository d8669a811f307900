/* test_admin_client_manager.c — what the client manager keeps for the admin
 * requests: each client's address, language and version, a group's
 * settings and subscriptions, the groups of a topic; gone with the connection. */
#include <criterion/criterion.h>
#include <string.h>

#include "rk/client_manager.h"
#include "rk/error.h"

static const char *hb_text =
    "{\"clientID\":\"10.0.0.5@c1\",\"consumerDataSet\":[{\"consumeFromWhere\":\"CONSUME_FROM_TIMESTAMP\","
    "\"consumeType\":\"CONSUME_PASSIVELY\",\"groupName\":\"cg\",\"messageModel\":\"BROADCASTING\","
    "\"subscriptionDataSet\":[{\"subString\":\"a || b\",\"subVersion\":5,\"topic\":\"T1\"}]}],"
    "\"producerDataSet\":[{\"groupName\":\"pg\"}]}";

Test(admin_client_manager, records_where_clients_are_and_what_they_speak)
{
    rk_client_manager_t *m;
    cr_assert_eq(rk_client_manager_new(60000, &m), 0);
    rk_heartbeat_t hb;
    cr_assert_eq(rk_heartbeat_parse(hb_text, strlen(hb_text), &hb), 0);
    strcpy(hb.client_addr, "10.0.0.5:40000");
    hb.language = 0;
    hb.version = 401;
    cr_assert_eq(rk_client_manager_heartbeat(m, &hb, 7, 1000, NULL, NULL), 0);
    rk_heartbeat_free(&hb);

    rk_group_clients_t gc;
    cr_assert_eq(rk_client_manager_group_info(m, "cg", false, &gc), 0);
    cr_assert_eq(gc.n, 1);
    cr_assert_str_eq(gc.clients[0].client_id, "10.0.0.5@c1");
    cr_assert_str_eq(gc.clients[0].addr, "10.0.0.5:40000");
    cr_assert_eq(gc.clients[0].version, 401);
    cr_assert_eq(gc.clients[0].conn, 7);
    cr_assert_eq(gc.message_model, RK_MODEL_BROADCASTING);
    cr_assert_eq(gc.consume_from_where, RK_FROM_TIMESTAMP);
    cr_assert_eq(gc.nsubs, 1);
    cr_assert_str_eq(gc.subs[0].sub_string, "a || b");
    cr_assert_eq(gc.subs[0].ntags, 2);
    rk_group_clients_free(&gc);
    cr_assert_eq(rk_client_manager_group_info(m, "pg", true, &gc), 0);
    cr_assert_str_eq(gc.clients[0].addr, "10.0.0.5:40000");
    rk_group_clients_free(&gc);
    cr_assert_eq(rk_client_manager_group_info(m, "pg", false, &gc), RK_ENOTFOUND, "pg is a producer group");

    uint64_t conn = 0;
    int32_t ver = 0;
    cr_assert_eq(rk_client_manager_find_client(m, "cg", "10.0.0.5@c1", &conn, &ver), 0);
    cr_assert_eq(conn, 7);
    cr_assert_eq(ver, 401);
    cr_assert_eq(rk_client_manager_find_client(m, "cg", "10.0.0.5@c2", &conn, NULL), RK_ENOTFOUND);
    size_t n = 0;
    char **groups = rk_client_manager_groups_of_topic(m, "T1", &n);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(groups[0], "cg");
    rk_strv_free(groups, n);
    cr_assert_null(rk_client_manager_groups_of_topic(m, "T2", &n));

    size_t nch = 0;
    char **gone = rk_client_manager_drop_connection(m, 7, &nch);
    cr_assert_eq(nch, 1, "cg lost its member");
    rk_strv_free(gone, nch);
    cr_assert_eq(rk_client_manager_group_info(m, "cg", false, &gc), RK_ENOTFOUND);
    cr_assert_eq(rk_client_manager_group_info(m, "pg", true, &gc), RK_ENOTFOUND);
    cr_assert_eq(rk_client_manager_find_client(m, "cg", "10.0.0.5@c1", &conn, NULL), RK_ENOTFOUND);
    rk_client_manager_free(m);
}
