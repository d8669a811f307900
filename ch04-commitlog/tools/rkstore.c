/* rkstore — poke at a rocklet store folder (chapter 4: the commitlog). */
#include "rk/rkstore.h"

int main(int argc, char **argv)
{
    const rk_tool_cmd_t *const tables[] = {rk_rkstore_cmds_ch04, NULL};
    return rk_tool_main("rkstore", tables, argc, argv);
}
