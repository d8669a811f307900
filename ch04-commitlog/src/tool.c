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

static const rk_tool_opt_t *find_opt(const rk_tool_optset_t *sets, int nsets, const char *name, size_t len,
                                     void **target)
{
    for (int i = 0; i < nsets; i++)
        for (const rk_tool_opt_t *o = sets[i].opts; o->name != NULL; o++)
            if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) {
                *target = sets[i].target;
                return o;
            }
    return NULL;
}

int rk_tool_parse(int argc, char **argv, const rk_tool_optset_t *sets, int nsets, const char **pos,
                  int maxpos, int *npos, rk_kv_t *extra)
{
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (*npos == maxpos) {
                fprintf(stderr, "%s: unexpected argument \"%s\"\n", tool_prog, a);
                return 2;
            }
            pos[(*npos)++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        void *target = NULL;
        const rk_tool_opt_t *o = find_opt(sets, nsets, a, nlen, &target);
        if (o == NULL) {
            if (eq != NULL && extra != NULL && nlen > 2) {
                char key[128];
                if (nlen - 2 >= sizeof key) {
                    fprintf(stderr, "%s: option name too long: %.40s...\n", tool_prog, a);
                    return 2;
                }
                memcpy(key, a + 2, nlen - 2);
                key[nlen - 2] = '\0';
                if (rk_kv_set(extra, key, eq + 1) != RK_OK) {
                    fprintf(stderr, "%s: out of memory\n", tool_prog);
                    return 2;
                }
                continue;
            }
            fprintf(stderr, "%s: unknown option %.*s\n", tool_prog, (int)nlen, a);
            return 2;
        }
        if (o->kind == RK_OPT_FLAG) {
            if (eq != NULL) {
                fprintf(stderr, "%s: %s takes no value\n", tool_prog, o->name);
                return 2;
            }
            *(bool *)((char *)target + o->offset) = true;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (v == NULL) {
            fprintf(stderr, "%s: %s needs a value\n", tool_prog, o->name);
            return 2;
        }
        if (o->kind == RK_OPT_STR) {
            *(const char **)((char *)target + o->offset) = v;
        } else if (!rk_tool_int(o->name, v, o->min, o->max, (int64_t *)((char *)target + o->offset))) {
            return 2;
        }
    }
    return 0;
}
