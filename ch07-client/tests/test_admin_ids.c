/* test_admin_ids.c — mqadmin and the two ids of a message (issue 9 item
 * 16): sendMessage prints both, queryMsgById finds a message by its offset
 * id alone and by its message id (UNIQ_KEY) with -t, and never takes a
 * UNIQ_KEY for an address to connect to. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "rk/clock.h"
#include "rk/testkit.h"

static tk_cluster_t cl;

static void setup(void) { tk_cluster_start(&cl, NULL); }
static void teardown(void) { tk_cluster_stop(&cl); }

TestSuite(admin_ids, .init = setup, .fini = teardown, .timeout = 60);

/* Runs mqadmin with args; returns its exit status, output in *out. */
static int mqadmin(char **out, const char *a1, const char *a2, const char *a3, const char *a4, const char *a5,
                   const char *a6)
{
    char *argv[] = {(char *)rk_tk_bin("mqadmin"), (char *)a1, "-n", cl.ns, (char *)a2, (char *)a3, (char *)a4,
                    (char *)a5, (char *)a6, NULL};
    return rk_tk_run(argv, out, 20000);
}

Test(admin_ids, send_prints_both_ids_and_query_by_id_finds_the_message_by_either)
{
    tk_create_topic(&cl, "Ids", 2);
    char *out = NULL;
    cr_assert_eq(mqadmin(&out, "sendMessage", "-t", "Ids", "-p", "hello-ids", NULL), 0, "%s", out);
    cr_assert(strstr(out, "#MsgId") && strstr(out, "#OffsetMsgId"), "%s", out);
    /* the second line: broker, queue, status, msgId, offsetMsgId */
    char broker[64], status[64], msg_id[80], offset_id[80];
    int qid;
    const char *line = strchr(out, '\n');
    cr_assert(line != NULL);
    cr_assert_eq(sscanf(line + 1, "%63s %d %63s %79s %79s", broker, &qid, status, msg_id, offset_id), 5, "%s", out);
    cr_assert_str_eq(status, "SEND_OK");
    cr_assert_eq(strlen(msg_id), 32, "%s", msg_id);
    cr_assert_str_neq(msg_id, offset_id);
    free(out);

    /* the offset id alone */
    out = NULL;
    cr_assert_eq(mqadmin(&out, "queryMsgById", "-i", offset_id, NULL, NULL, NULL), 0, "%s", out);
    cr_assert(strstr(out, "hello-ids") != NULL, "%s", out);
    free(out);

    /* the offset id with -t: still the offset id (it was taken for a UNIQ_KEY) */
    out = NULL;
    cr_assert_eq(mqadmin(&out, "queryMsgById", "-i", offset_id, "-t", "Ids", NULL), 0, "%s", out);
    cr_assert(strstr(out, "hello-ids") != NULL, "%s", out);
    free(out);

    /* the message id (UNIQ_KEY) with its topic: found through the key index,
     * which the dispatcher writes just after the send was answered (as in
     * RocketMQ), so allow it a moment */
    int st0 = -1;
    out = NULL;
    for (int i = 0; i < 50 && st0 != 0; i++) {
        free(out);
        out = NULL;
        if ((st0 = mqadmin(&out, "queryMsgById", "-i", msg_id, "-t", "Ids", NULL)) != 0)
            rk_sleep_ms(100);
    }
    cr_assert_eq(st0, 0, "%s", out);
    cr_assert(strstr(out, "hello-ids") != NULL, "%s", out);
    free(out);

    /* the message id without a topic: it says what it needs, and does not
     * read the id's ip, pid and counter as a broker's address */
    out = NULL;
    int st = mqadmin(&out, "queryMsgById", "-i", msg_id, NULL, NULL, NULL);
    cr_assert_neq(st, 0, "%s", out);
    cr_assert(strstr(out, "-t TOPIC") != NULL, "%s", out);
    cr_assert(strstr(out, "VIEW_MESSAGE_BY_ID") == NULL, "no request to a made-up address: %s", out);
    free(out);
}

Test(admin_ids, query_by_id_of_a_damaged_record_says_so_instead_of_printing_it)
{
    tk_create_topic(&cl, "IdsBad", 1);
    char *out = NULL;
    cr_assert_eq(mqadmin(&out, "sendMessage", "-t", "IdsBad", "-p", "damage-me-please", NULL), 0, "%s", out);
    char broker[64], status[64], msg_id[80], offset_id[80];
    int qid;
    cr_assert_eq(sscanf(strchr(out, '\n') + 1, "%63s %d %63s %79s %79s", broker, &qid, status, msg_id, offset_id), 5);
    free(out);
    /* flip body bytes in the commitlog the broker has mapped */
    char path[512];
    snprintf(path, sizeof path, "%s/store/commitlog/00000000000000000000", cl.dir);
    FILE *f = fopen(path, "r+b");
    cr_assert(f != NULL);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text, f);
    char *hit = memmem(text, n, "damage-me", 9);
    cr_assert(hit != NULL);
    cr_assert_eq(fseek(f, (long)(hit - text), SEEK_SET), 0);
    cr_assert_eq(fwrite("DAMAGE", 1, 6, f), 6);
    fclose(f);
    out = NULL;
    int st = mqadmin(&out, "queryMsgById", "-i", offset_id, NULL, NULL, NULL);
    cr_assert_neq(st, 0, "%s", out);
    cr_assert(strstr(out, "DAMAGE-me") == NULL, "the damaged body is not shown as a message: %s", out);
    cr_assert(strstr(out, "damaged") != NULL || strstr(out, "no message") != NULL, "%s", out);
    free(out);
}
