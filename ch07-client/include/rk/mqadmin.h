/* mqadmin.h — mqadmin's commands as a table later chapters extend (rk/tool.h).
 *
 * Chapter 7's commands (updateTopic, topicRoute, queryMsgById, consumeMessage, ...) are
 * rk_mqadmin_cmds_ch07; a later chapter's mqadmin lists its own table first (it may add
 * commands or replace one) and runs rk_mqadmin_main. Tables are static data; the one piece of
 * state is the message-lines hook below, set once by main before rk_mqadmin_main. */
#ifndef RK_MQADMIN_H
#define RK_MQADMIN_H

#include "rk/mqclient.h"
#include "rk/tool.h"

extern const rk_tool_cmd_t rk_mqadmin_cmds_ch07[];

/* Extra "Label:               value" lines a later chapter prints for a message that
 * queryMsgById shows (after its Properties line, before its body): chapter 9 names a retried
 * message's origin. Print with rk_mqadmin_print_field so the columns line up. NULL: none. */
typedef void (*rk_mqadmin_msg_lines_fn)(const rk_msg_ext_t *m);
void rk_mqadmin_set_msg_lines(rk_mqadmin_msg_lines_fn fn);
/* One "Label:  value" line in the message block's layout (RocketMQ's "%-20s %s"). */
void rk_mqadmin_print_field(const char *label, const char *value);
/* A time in ms as mqadmin prints it ("2026-12-02 08:00:01,123", local time; "-" for <= 0). */
char *rk_mqadmin_fmt_time(int64_t ms, char *buf, size_t len);

/* mqadmin's main over tables (NULL-terminated; the first that knows a command wins): ignores
 * SIGPIPE, logs at WARN unless RK_LOG is set. Returns the exit status. */
int rk_mqadmin_main(const rk_tool_cmd_t *const *tables, int argc, char **argv);

#endif
