/* mqbroker — rocklet's broker as it stands after chapter 9: chapter 8's broker
 * (rk_elect_broker_main: chapter 7's modules, the election and HA) plus the
 * retry module: CONSUMER_SEND_MSG_BACK, delay levels on the timing wheel,
 * %RETRY% and %DLQ% topics.
 *
 *   mqbroker [-c FILE] [-n NAMESRV] [-p] [-h]
 *
 * Chapter 9's settings: messageDelayLevel, flushDelayOffsetInterval (rk/retry.h). */
#include "rk/elect.h"
#include "rk/retry.h"

int main(int argc, char **argv)
{
    const rk_broker_module_t *const more[] = {&rk_retry_module, NULL};
    return rk_elect_broker_main(argc, argv, more, NULL);
}
