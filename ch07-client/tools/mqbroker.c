/* mqbroker — rocklet's broker as it stands after chapter 7.
 *
 *   mqbroker [-c FILE] [-n NAMESRV] [-p] [-h]
 *
 * -c reads key=value settings with RocketMQ's names (broker and store keys
 * in one file); -n sets namesrvAddr; -p prints the broker's settings and
 * exits. SIGTERM or SIGINT stop it cleanly (flush, remove `abort`).
 * The program is rk_broker_main (src/broker_main.c) with chapter 7's modules. */
#include "rk/broker.h"

int main(int argc, char **argv)
{
    const rk_broker_module_t *const modules[] = {&rk_broker_core_module, &rk_broker_stats_module, NULL};
    return rk_broker_main(argc, argv, modules);
}
