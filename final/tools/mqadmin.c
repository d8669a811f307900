/* mqadmin — the assembled admin tool: every chapter's commands, the newest chapter's table
 * first (a later chapter may replace a command of an earlier one), and every chapter's extra
 * lines for queryMsgById. `mqadmin` alone lists the commands; `mqadmin CMD -h` explains one.
 *
 *   chapter 7    topics, groups, routes, messages, brokers, connections, offsets, ACL keys
 *   chapter 9    queryDlqMsg, resendMsgFromDLQ; a retried message's origin
 *   chapter 10   sendMessage -d LEVEL / -T WHEN, delayProgress
 *   chapter 11   txnPending; a message's transaction state */
#include <stddef.h>

#include "rk/delay_admin.h"
#include "rk/mqadmin.h"
#include "rk/mqadmin_retry.h"
#include "rk/txn_admin.h"

int main(int argc, char **argv)
{
    const rk_tool_cmd_t *const tables[] = {rk_mqadmin_cmds_ch11, rk_mqadmin_cmds_ch10, rk_mqadmin_cmds_ch09,
                                           rk_mqadmin_cmds_ch07, NULL};
    rk_mqadmin_add_msg_lines(rk_mqadmin_retry_lines);
    rk_mqadmin_add_msg_lines(rk_mqadmin_txn_lines);
    return rk_mqadmin_main(tables, argc, argv);
}
