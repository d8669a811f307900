/* mqadmin — RocketMQ's admin tool after chapter 10: chapter 9's (the dead-letter queue's commands,
 * queryMsgById naming a retried message's origin) and chapter 7's, with sendMessage taking a delay
 * (-d LEVEL, -T WHEN) and delayProgress showing the delay levels' queues (rk/delay_admin.h). */
#include "rk/delay_admin.h"
#include "rk/mqadmin.h"
#include "rk/mqadmin_retry.h"

int main(int argc, char **argv)
{
    const rk_tool_cmd_t *const tables[] = {rk_mqadmin_cmds_ch10, rk_mqadmin_cmds_ch09, rk_mqadmin_cmds_ch07, NULL};
    rk_mqadmin_add_msg_lines(rk_mqadmin_retry_lines);
    return rk_mqadmin_main(tables, argc, argv);
}
