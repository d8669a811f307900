/* mqadmin — RocketMQ's admin tool after chapter 9: chapter 7's commands (rk/mqadmin.h), whose
 * queryMsgById also names a retried message's origin (Original Topic: from RETRY_TOPIC, Origin
 * Message ID: from ORIGIN_MESSAGE_ID), plus the dead-letter queue's:
 *
 *   mqadmin queryDlqMsg -n NS -g GROUP [-c COUNT]
 *       prints the messages in %DLQ%GROUP: where each came from (RETRY_TOPIC, ORIGIN_MESSAGE_ID),
 *       how often it was consumed, keys, tags, the start of its body
 *   mqadmin resendMsgFromDLQ -n NS -g GROUP (-i MSG_ID | -a) [-o FROM_OFFSET]
 *       gives one message (by offset id or message id) or all of them (from queue offset
 *       FROM_OFFSET, default 0) back to GROUP: a copy goes to %RETRY%GROUP with its reconsume
 *       count at 0, so only GROUP's consumers get it, under its original topic, with a full set
 *       of retries. The DLQ itself is left as it is (queues are append-only).
 *
 * -n may also come from $NAMESRV_ADDR. Nothing is committed: the DLQ is read with a pull
 * consumer of group TOOLS_CONSUMER that never stores an offset. */
#include "rk/mqadmin.h"
#include "rk/mqadmin_retry.h"

int main(int argc, char **argv)
{
    const rk_tool_cmd_t *const tables[] = {rk_mqadmin_cmds_ch09, rk_mqadmin_cmds_ch07, NULL};
    rk_mqadmin_add_msg_lines(rk_mqadmin_retry_lines);
    return rk_mqadmin_main(tables, argc, argv);
}
