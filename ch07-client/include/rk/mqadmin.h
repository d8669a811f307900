/* mqadmin.h — mqadmin's commands as a table later chapters extend (rk/tool.h).
 *
 * Chapter 7's commands (updateTopic, topicRoute, queryMsgById, consumeMessage, ...) are
 * rk_mqadmin_cmds_ch07; a later chapter's mqadmin lists its own table first (it may add
 * commands or replace one) and runs rk_mqadmin_main. Tables are static data; the one piece of
 * state is the list of message-lines hooks below, filled once by main before rk_mqadmin_main. */
#ifndef RK_MQADMIN_H
#define RK_MQADMIN_H

#include "rk/buf.h"
#include "rk/mqclient.h"
#include "rk/producer.h"
#include "rk/tool.h"

extern const rk_tool_cmd_t rk_mqadmin_cmds_ch07[];

/* Extra "Label:               value" lines later chapters print for a message that
 * queryMsgById shows (after its Properties line, before its body): chapter 9 names a retried
 * message's origin, chapter 11 its transaction state. Each chapter's hook is added once, in
 * chapter order, and they run in that order. Print with rk_mqadmin_print_field so the columns
 * line up. RK_EINVAL for NULL or past RK_MQADMIN_MSG_LINES_MAX hooks. */
#define RK_MQADMIN_MSG_LINES_MAX 8
typedef void (*rk_mqadmin_msg_lines_fn)(const rk_msg_ext_t *m);
int rk_mqadmin_add_msg_lines(rk_mqadmin_msg_lines_fn fn);
/* One "Label:  value" line in the message block's layout (RocketMQ's "%-20s %s"). */
void rk_mqadmin_print_field(const char *label, const char *value);
/* A time in ms as mqadmin prints it ("2026-12-02 08:00:01,123", local time; "-" for <= 0). */
char *rk_mqadmin_fmt_time(int64_t ms, char *buf, size_t len);

/* ACL credentials for the requests mqadmin sends (the SDK signs with them): from
 * `mqadmin -a KEY -s SECRET CMD ...` (before the command), --accessKey/--secretKey anywhere,
 * or the environment ROCKETMQ_ACCESS_KEY / ROCKETMQ_SECRET_KEY (which keeps the secret out
 * of `ps`). NULL when not both are given. A command that makes a client passes them in its
 * config. */
const char *rk_mqadmin_access_key(void);
const char *rk_mqadmin_secret_key(void);

/* The name server list a command talks to: given (its -n), else $NAMESRV_ADDR. NULL, after
 * printing "<cmd>: no name server: give -n host:port (or set NAMESRV_ADDR)", when the one
 * used is missing or empty (the command then exits 2). */
const char *rk_mqadmin_namesrv(const char *cmd, const char *given);

/* mqadmin's main over tables (NULL-terminated; the first that knows a command wins): ignores
 * SIGPIPE, logs at WARN unless RK_LOG is set. Returns the exit status. */
int rk_mqadmin_main(const rk_tool_cmd_t *const *tables, int argc, char **argv);

/* sendMessage with a later chapter's options (chapter 10 adds a delay): its own command runs
 * rk_mqadmin_send with an extension, every option of chapter 7's sendMessage kept.
 *   flags    more getopt letters ("d:T:O"); each one given goes to option(ctx, letter, optarg),
 *            which returns 0 or an exit status (2: usage; it printed why)
 *   prepare  before the send: may add properties to *m by appending them to props (m->props
 *            then points into props, which rk_mqadmin_send frees); 0 or an exit status
 *   sent     after a successful send, to print more (may be NULL)
 * NULL ext: chapter 7's sendMessage. Returns the exit status. */
typedef struct rk_mqadmin_send_ext {
    const char *flags;
    int (*option)(void *ctx, int letter, const char *arg);
    int (*prepare)(void *ctx, rk_message_t *m, rk_buf_t *props);
    void (*sent)(void *ctx, const rk_send_result_t *r);
    void *ctx;
} rk_mqadmin_send_ext_t;
int rk_mqadmin_send(int argc, char **argv, const rk_mqadmin_send_ext_t *ext);

/* For a later chapter's commands: sends req to addr (NULL: the name servers) and returns a
 * SUCCESS answer's body as JSON (cJSON_Delete it), or NULL after printing why ("mqadmin: what:
 * ..."). req is consumed. */
cJSON *rk_mqadmin_ask_json(rk_mqclient_t *c, const char *addr, rk_cmd_t *req, const char *what);

#endif
