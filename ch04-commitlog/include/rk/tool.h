/* tool.h — sub-command programs (`rkstore put ...`) whose command set a later
 * chapter can extend.
 *
 * A program is a list of command tables; the first table that knows the
 * name wins, so chapter 5's rkstore lists its own table before chapter 4's
 * and can add commands or replace one (its `put` spreads messages over
 * queues). Tables end with an entry whose name is NULL; the list of tables
 * ends with NULL.
 *
 * Options are tables too (rk_tool_opt_t): a command parses its arguments
 * against a list of option sets, so a later chapter's command that replaces
 * an earlier one lists its own options first and the earlier command's
 * table after them, and keeps every option the earlier chapter had.
 * State: the program name, remembered by rk_tool_main() for usage messages. */
#ifndef RK_TOOL_H
#define RK_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/config.h"

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

/* One `--name VALUE` option: where it goes in the command's argument
 * struct (offsetof) and, for numbers, its range. FLAG takes no value. */
typedef enum { RK_OPT_INT, RK_OPT_STR, RK_OPT_FLAG } rk_opt_kind_t;
typedef struct rk_tool_opt {
    const char *name;           /* "--count"; NULL ends a table */
    rk_opt_kind_t kind;
    size_t offset;              /* of an int64_t (INT), const char * (STR) or bool (FLAG) */
    int64_t min, max;           /* INT only */
} rk_tool_opt_t;
/* A table and the struct its offsets point into. */
typedef struct rk_tool_optset {
    const rk_tool_opt_t *opts;
    void *target;
} rk_tool_optset_t;

/* Parses argv[1..argc) (argv[0] is the command): `--name VALUE` or
 * `--name=VALUE` of an option in sets[0..nsets) (the first set naming it
 * wins), positional arguments into pos[0..maxpos). An unknown
 * `--key=value` is stored in *extra when extra is not NULL (a store
 * setting by its RocketMQ key); any other unknown option, a missing or bad
 * value or too many positional arguments prints a message and returns 2.
 * String values point into argv. Returns 0. */
int rk_tool_parse(int argc, char **argv, const rk_tool_optset_t *sets, int nsets, const char **pos,
                  int maxpos, int *npos, rk_kv_t *extra);

#endif
