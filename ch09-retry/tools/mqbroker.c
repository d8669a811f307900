/* mqbroker — rocklet's broker as it stands after chapter 9: chapter 8's broker (the same
 * main, rk_broker_main, with chapter 7's modules and HA) plus the retry module: CONSUMER_SEND_MSG_BACK, delay levels on the
 * timing wheel, %RETRY% and %DLQ% topics.
 *
 *   mqbroker [-c FILE] [-n NAMESRV] [-p] [-h]
 *
 * Chapter 9's settings: messageDelayLevel, flushDelayOffsetInterval (rk/retry.h). */
#include "rk/broker.h"
#include "rk/ha.h"
#include "rk/retry.h"

int main(int argc, char **argv)
{
    const rk_broker_module_t *const modules[] = {&rk_broker_core_module, &rk_broker_stats_module, &rk_ha_module,
                                                 &rk_retry_module, NULL};
    const rk_config_field_t *const extra[] = {rk_ha_config_fields, NULL};
    return rk_broker_main(argc, argv, modules, extra);
}
