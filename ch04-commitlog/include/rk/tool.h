/* tool.h — sub-command programs (`rkstore put ...`) whose command set a later
 * chapter can extend.
 *
 * A program is a list of command tables; the first table that knows the
 * name wins, so chapter 5's rkstore lists its own table before chapter 4's
 * and can add commands or replace one (its `put` spreads messages over
 * queues). Tables end with an entry whose name is NULL; the list of tables
 * ends with NULL. Also small helpers for parsing flags. State: the program
 * name, remembered by rk_tool_main() for usage messages. */
#ifndef RK_TOOL_H
#define RK_TOOL_H

#include <stdbool.h>
#include <stdint.h>

typedef struct rk_tool_cmd {
    const char *name;
    const char *usage;      /* "DIR --topic T --count N ..." */
    const char *help;       /* one line */
    int (*run)(int argc, char **argv);   /* argv[0] is the command name */
} rk_tool_cmd_t;

/* Dispatches argv[1]; prints help for -h/--help/help or an unknown command.
 * Returns the exit status. */
int rk_tool_main(const char *prog, const rk_tool_cmd_t *const *tables, int argc, char **argv);

/* Flag helpers: `--name VALUE`. They print a clear message and return
 * false on a bad value. */
bool rk_tool_int(const char *flag, const char *text, int64_t min, int64_t max, int64_t *out);
/* Prints "usage: prog cmd USAGE" to stderr and returns 2. */
int rk_tool_usage(const rk_tool_cmd_t *cmd);
/* The table entry for name (for usage messages), or NULL. */
const rk_tool_cmd_t *rk_tool_find(const rk_tool_cmd_t *table, const char *name);

#endif
