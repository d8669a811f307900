/* retry_admin.h — chapter 9's mqadmin commands: the dead-letter queue's.
 *
 *   queryDlqMsg       the messages in a group's %DLQ% topic
 *   resendMsgFromDLQ  one or all of them back to the group through %RETRY%<group>
 *
 * and the extra queryMsgById lines for a retried message (Original Topic, Origin Message ID).
 * A later chapter's mqadmin lists rk_mqadmin_cmds_ch09 after its own table and before
 * rk_mqadmin_cmds_ch07, and adds rk_mqadmin_retry_lines with rk_mqadmin_add_msg_lines
 * (tools/mqadmin.c shows how). The table is static data; nothing here owns memory. */
#ifndef RK_RETRY_ADMIN_H
#define RK_RETRY_ADMIN_H

#include "rk/mqadmin.h"

extern const rk_tool_cmd_t rk_mqadmin_cmds_ch09[];
/* queryMsgById's lines for a retried message (a rk_mqadmin_msg_lines_fn). */
void rk_mqadmin_retry_lines(const rk_msg_ext_t *m);

#endif
