/* mqbroker — rocklet's broker as it stands after chapter 10: chapter 9's broker (chapter 8's
 * election and HA, chapter 7's modules, the retry module with the delay levels) plus the delay
 * module: any delivery time (TIMER_DELIVER_MS, TIMER_DELAY_SEC, TIMER_DELAY_MS,
 * __STARTDELIVERTIME) on a persisted timer log and wheel.
 *
 *   mqbroker [-c FILE] [-n NAMESRV] [-p] [-h]
 *
 * Chapter 10's settings: timerMaxDelaySec, timerPrecisionMs, timerFlushIntervalMs,
 * timerMaxPending, timerWheelEnable (rk/delay.h). */
#include "rk/delay.h"
#include "rk/elect.h"
#include "rk/retry.h"

int main(int argc, char **argv)
{
    const rk_broker_module_t *const more[] = {&rk_retry_module, &rk_delay_module, NULL};
    const rk_config_field_t *const fields[] = {rk_delay_config_fields, NULL};
    return rk_elect_broker_main(argc, argv, more, fields);
}
