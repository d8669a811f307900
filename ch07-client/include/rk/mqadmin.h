/* mqadmin.h — mqadmin's commands as a table later chapters extend (rk/tool.h).
 *
 * Chapter 7's commands (updateTopic, topicRoute, queryMsgById, consumeMessage, ...) are
 * rk_mqadmin_cmds_ch07; a later chapter's mqadmin lists its own table first (it may add
 * commands or replace one) and runs rk_mqadmin_main. No state; tables are static data. */
#ifndef RK_MQADMIN_H
#define RK_MQADMIN_H

#include "rk/tool.h"

extern const rk_tool_cmd_t rk_mqadmin_cmds_ch07[];

/* mqadmin's main over tables (NULL-terminated; the first that knows a command wins): ignores
 * SIGPIPE, logs at WARN unless RK_LOG is set. Returns the exit status. */
int rk_mqadmin_main(const rk_tool_cmd_t *const *tables, int argc, char **argv);

#endif
