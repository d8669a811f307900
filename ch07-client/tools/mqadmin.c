/* mqadmin — RocketMQ's admin tool, for what chapter 7 has: topics, routes,
 * clusters, broker and consumer figures, message lookup, send and consume
 * (the commands are in src/admin/mqadmin_cmds.c, rk/mqadmin.h). Sub-commands and
 * flags keep RocketMQ's names (`mqadmin topicStatus -n 127.0.0.1:9876 -t T`);
 * -n may also come from $NAMESRV_ADDR. */
#include "rk/mqadmin.h"

int main(int argc, char **argv)
{
    const rk_tool_cmd_t *const tables[] = {rk_mqadmin_cmds_ch07, NULL};
    return rk_mqadmin_main(tables, argc, argv);
}
