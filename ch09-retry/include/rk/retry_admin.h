/* retry_admin.h — chapter 9's mqadmin commands, for chapter 9's mqadmin and the later chapters'
 * (rk/mqadmin.h: a later chapter lists its own table, then this one, then chapter 7's):
 *
 *   queryDlqMsg -n NS -g GROUP [-c COUNT]                    the messages in %DLQ%GROUP
 *   resendMsgFromDLQ -n NS -g GROUP (-i MSG_ID | -a) [-o N]   give them back through %RETRY%GROUP
 *
 * and the lines queryMsgById adds for a retried message (its origin), for
 * rk_mqadmin_set_msg_lines. Static data; nothing to free. */
#ifndef RK_RETRY_ADMIN_H
#define RK_RETRY_ADMIN_H

#include "rk/mqadmin.h"

extern const rk_tool_cmd_t rk_mqadmin_cmds_ch09[];

/* "Original Topic:" (RETRY_TOPIC) and "Origin Message ID:" (ORIGIN_MESSAGE_ID) lines. */
void rk_mqadmin_retry_lines(const rk_msg_ext_t *m);

#endif
