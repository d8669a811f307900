/* mqadmin_retry.h — chapter 9's mqadmin commands as a table later chapters' mqadmin list
 * (rk/mqadmin.h): queryDlqMsg and resendMsgFromDLQ (usage in ch09-retry/tools/mqadmin.c), and
 * the extra lines queryMsgById prints for a retried message (Original Topic from RETRY_TOPIC,
 * Origin Message ID from ORIGIN_MESSAGE_ID). Static data; no state. */
#ifndef RK_MQADMIN_RETRY_H
#define RK_MQADMIN_RETRY_H

#include "rk/mqadmin.h"

extern const rk_tool_cmd_t rk_mqadmin_cmds_ch09[];
/* An rk_mqadmin_msg_lines_fn; a later chapter's own hook calls it before adding its lines. */
void rk_mqadmin_retry_lines(const rk_msg_ext_t *m);

#endif
