/* test_meta_after_election.c — in election mode a follower copies its leader's metadata
 * (consumer offsets, subscription groups) from the moment the leader is elected: it learns
 * the leader's broker address from the election's heartbeats, not from the name server.
 * Before, it learnt it only when it re-registered (registerNameServerPeriod, 30 s by
 * default), so for up to 30 s after an election no follower held the offsets or groups
 * committed on the leader, and a failover then lost them. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "rk/tk_pair.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

static rk_tk_trio_t t;

static void fini(void) { rk_tk_trio_stop(&t); }

TestSuite(meta_after_election, .fini = fini, .timeout = 120);

static bool offset_on(const char *addr)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_QUERY_CONSUMER_OFFSET), *resp = NULL;
    rk_cmd_ext_set(req, "consumerGroup", "elected-group");
    rk_cmd_ext_set(req, "topic", "ElectedTopic");
    rk_cmd_ext_set(req, "queueId", "2");
    int64_t off = -1;
    bool ok = rk_rclient_invoke_sync(t.base.cl, addr, req, 3000, &resp) == RK_OK && resp->code == 0 &&
              rk_cmd_ext_i64(resp, "offset", &off) == RK_OK && off == 7;
    rk_cmd_free(resp);
    return ok;
}

static bool group_on(const char *addr)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG), *resp = NULL;
    bool ok = rk_rclient_invoke_sync(t.base.cl, addr, req, 3000, &resp) == RK_OK && resp->code == 0 &&
              resp->body_len > 0 && memmem(resp->body, resp->body_len, "\"elected-group\"", 15) != NULL;
    rk_cmd_free(resp);
    return ok;
}

Test(meta_after_election, followers_copy_offsets_and_groups_before_they_re_register)
{
    rk_log_set_level(RK_LOG_ERROR);
    /* registerNameServerPeriod stays at its default (30 s); slaveSyncMetaInterval is the
     * fixture's 500 ms: only the leader's address can be missing */
    rk_tk_trio_init(&t, NULL);
    uint64_t started = rk_mono_ms();
    for (int i = 0; i < 3; i++)
        rk_tk_broker_start(&t.r[i]);
    int leader = rk_tk_trio_leader(&t, -1, 15000);
    cr_assert(leader >= 0, "no leader elected (see %s)", t.r[0].log);
    /* no message is sent: a topic a follower adopts from the log (ha_meta.c) makes it
     * re-register at once, which would hide the missing address */

    rk_cmd_t *req = rk_cmd_new(RK_REQ_UPDATE_AND_CREATE_TOPIC), *resp = NULL;
    rk_cmd_ext_set(req, "topic", "ElectedTopic");
    rk_cmd_ext_set(req, "defaultTopic", "TBW102");
    rk_cmd_ext_set(req, "readQueueNums", "4");
    rk_cmd_ext_set(req, "writeQueueNums", "4");
    rk_cmd_ext_set(req, "perm", "6");
    rk_cmd_ext_set(req, "topicFilterType", "SINGLE_TAG");
    cr_assert_eq(rk_rclient_invoke_sync(t.base.cl, t.r[leader].addr, req, 3000, &resp), 0);
    cr_assert_eq(resp->code, 0, "create ElectedTopic: %s", resp->remark ? resp->remark : "");
    rk_cmd_free(resp);

    req = rk_cmd_new(RK_REQ_UPDATE_CONSUMER_OFFSET);
    resp = NULL;
    rk_cmd_ext_set(req, "consumerGroup", "elected-group");
    rk_cmd_ext_set(req, "topic", "ElectedTopic");
    rk_cmd_ext_set(req, "queueId", "2");
    rk_cmd_ext_set(req, "commitOffset", "7");
    cr_assert_eq(rk_rclient_invoke_sync(t.base.cl, t.r[leader].addr, req, 3000, &resp), 0);
    cr_assert_eq(resp->code, 0, "commit: %s", resp->remark ? resp->remark : "");
    rk_cmd_free(resp);
    /* a consumer's heartbeat creates its subscription group on the leader */
    const char *hb = "{\"clientID\":\"127.0.0.1@1\",\"consumerDataSet\":[{\"groupName\":\"elected-group\","
                     "\"consumeType\":\"CONSUME_PASSIVELY\",\"messageModel\":\"CLUSTERING\","
                     "\"consumeFromWhere\":\"CONSUME_FROM_LAST_OFFSET\",\"subscriptionDataSet\":[{\"topic\":"
                     "\"ElectedTopic\",\"subString\":\"*\",\"subVersion\":1}]}],\"producerDataSet\":[]}";
    req = rk_cmd_new(RK_REQ_HEART_BEAT);
    resp = NULL;
    rk_cmd_set_body(req, hb, strlen(hb));
    cr_assert_eq(rk_rclient_invoke_sync(t.base.cl, t.r[leader].addr, req, 3000, &resp), 0);
    cr_assert_eq(resp->code, 0);
    rk_cmd_free(resp);

    /* a few seconds (bounded wait, no timing asserted): well before the followers'
     * first re-registration, 30 s after they started */
    for (int i = 0; i < 3; i++) {
        if (i == leader)
            continue;
        bool off = false, grp = false;
        for (int k = 0; k < 100 && !(off && grp); k++) {
            off = off || offset_on(t.r[i].addr);
            grp = grp || group_on(t.r[i].addr);
            if (!(off && grp))
                usleep(50000);
        }
        cr_assert(rk_mono_ms() - started < 28000, "the test ran into the followers' re-registration");
        cr_assert(off, "follower n%d lacks the consumer offset committed on leader n%d (see %s)", i, leader,
                  t.r[i].log);
        cr_assert(grp, "follower n%d lacks the subscription group created on leader n%d (see %s)", i, leader,
                  t.r[i].log);
    }
}
