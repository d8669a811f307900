/* mqadmin — RocketMQ's admin tool after chapter 11: chapter 11's commands (rk/txn_admin.h:
 * txnPending; queryMsgById saying where a message stands in a transaction), then chapter 10's
 * (a delayed sendMessage, delayProgress), 9's (the dead-letter queue's) and 7's.
 * -n may also come from $NAMESRV_ADDR. */
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
