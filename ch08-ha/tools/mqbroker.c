/* mqbroker — rocklet's broker as it stands after chapter 8: chapter 7's
 * main (rk_broker_main) with chapter 7's modules plus the election
 * (rk/elect.h) and HA (rk/ha.h).
 *
 *   mqbroker [-c FILE] [-n NAMESRV] [-p] [-h]
 *
 * brokerRole=ASYNC_MASTER|SYNC_MASTER|SLAVE, haListenPort, haMasterAddress,
 * enableDLegerCommitLog, dLegerPeers... go in the same file as the other
 * keys (mqbroker -h lists them). A replica whose log diverged from its
 * group's elected master stops itself; the main (rk_elect_broker_main)
 * then truncates the closed log and starts the broker again. */
#include <stddef.h>

#include "rk/elect.h"

int main(int argc, char **argv)
{
    return rk_elect_broker_main(argc, argv, NULL, NULL);
}
