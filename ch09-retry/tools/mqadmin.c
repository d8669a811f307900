/* mqadmin — RocketMQ's admin tool after chapter 9: chapter 7's commands plus the dead-letter
 * queue's (queryDlqMsg, resendMsgFromDLQ; rk/retry_admin.h), and queryMsgById naming a retried
 * message's origin. -n may also come from $NAMESRV_ADDR. */
#include "rk/mqadmin.h"
#include "rk/retry_admin.h"

int main(int argc, char **argv)
{
    const rk_tool_cmd_t *const tables[] = {rk_mqadmin_cmds_ch09, rk_mqadmin_cmds_ch07, NULL};
    rk_mqadmin_set_msg_lines(rk_mqadmin_retry_lines);
    return rk_mqadmin_main(tables, argc, argv);
}
