/* mqbroker — rocklet's broker as it stands after chapter 8: chapter 7's
 * main (rk_broker_main) with chapter 7's modules plus the election
 * (rk/elect.h) and HA (rk/ha.h).
 *
 *   mqbroker [-c FILE] [-n NAMESRV] [-p] [-h]
 *
 * brokerRole=ASYNC_MASTER|SYNC_MASTER|SLAVE, haListenPort, haMasterAddress,
 * enableDLegerCommitLog, dLegerPeers... go in the same file as the other
 * keys (mqbroker -h lists them). A replica whose log diverged from its
 * group's elected master stops itself; this main then truncates the closed
 * log (rk_elect_after_exit) and starts the broker again. */
#include <stddef.h>

#include "rk/broker.h"
#include "rk/elect.h"
#include "rk/ha.h"

int main(int argc, char **argv)
{
    const rk_broker_module_t *const modules[] = {&rk_broker_core_module, &rk_broker_stats_module, &rk_elect_module,
                                                 &rk_ha_module, NULL};
    const rk_config_field_t *const extra[] = {rk_ha_config_fields, rk_elect_config_fields, NULL};
    int rc;
    do
        rc = rk_broker_main(argc, argv, modules, extra);
    while (rk_elect_after_exit());
    return rc;
}
