/* tool.c — sub-command dispatch for rocklet's programs (see rk/tool.h). */
#include "rk/tool.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "rk/config.h"
#include "rk/error.h"

static const char *tool_prog = "rk";

static void print_help(const char *prog, const rk_tool_cmd_t *const *tables)
{
    fprintf(stdout, "usage: %s COMMAND [ARGS]\n\ncommands:\n", prog);
    int width = 8;                      /* the longest command name, so help lines align */
    for (int t = 0; tables[t] != NULL; t++)
        for (const rk_tool_cmd_t *c = tables[t]; c->name != NULL; c++)
            if ((int)strlen(c->name) > width)
                width = (int)strlen(c->name);
    for (int t = 0; tables[t] != NULL; t++)
        for (const rk_tool_cmd_t *c = tables[t]; c->name != NULL; c++) {
            bool shadowed = false;      /* listed by an earlier table */
            for (int u = 0; u < t && !shadowed; u++)
                shadowed = rk_tool_find(tables[u], c->name) != NULL;
            if (!shadowed)
                fprintf(stdout, "  %-*s  %s\n      %s %s %s\n", width, c->name, c->help, prog, c->name, c->usage);
        }
    fprintf(stdout, "\n'%s COMMAND --help' shows one command.\n", prog);
}

const rk_tool_cmd_t *rk_tool_find(const rk_tool_cmd_t *table, const char *name)
{
    for (const rk_tool_cmd_t *c = table; c->name != NULL; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

int rk_tool_usage(const rk_tool_cmd_t *cmd)
{
    fprintf(stderr, "usage: %s %s %s\n  %s\n", tool_prog, cmd->name, cmd->usage, cmd->help);
    return 2;
}

int rk_tool_main(const char *prog, const rk_tool_cmd_t *const *tables, int argc, char **argv)
{
    tool_prog = prog;
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_help(prog, tables);
        return argc < 2 ? 2 : 0;
    }
    for (int t = 0; tables[t] != NULL; t++) {
        const rk_tool_cmd_t *c = rk_tool_find(tables[t], argv[1]);
        if (c == NULL)
            continue;
        for (int i = 2; i < argc; i++)
            if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                fprintf(stdout, "usage: %s %s %s\n  %s\n", prog, c->name, c->usage, c->help);
                return 0;
            }
        return c->run(argc - 1, argv + 1);
    }
    fprintf(stderr, "%s: unknown command \"%s\" (try %s --help)\n", prog, argv[1], prog);
    return 2;
}

bool rk_tool_int(const char *flag, const char *text, int64_t min, int64_t max, int64_t *out)
{
    int64_t v;
    if (text == NULL || rk_parse_int(text, &v) != RK_OK) {
        fprintf(stderr, "%s: \"%s\" is not a number\n", flag, text ? text : "");
        return false;
    }
    if (v < min || v > max) {
        fprintf(stderr, "%s: %" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]\n", flag, v, min, max);
        return false;
    }
    *out = v;
    return true;
}
