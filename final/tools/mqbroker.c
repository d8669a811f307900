/* mqbroker — the assembled broker: chapter 8's main (rk_elect_broker_main: chapter 7's ACL,
 * core, stats and admin modules, HA replication and the election) with every later chapter's
 * module. This is the program the local cluster runs (final/conf/local/broker-*.conf) and
 * `make install-bin` installs.
 *
 *   mqbroker [-c FILE] [-n NAMESRV] [-p] [-h]      (-h lists every setting)
 *
 * Modules after chapter 8's, in the order they are started:
 *   chapter 9    rk_retry_module   consumer send-back, %RETRY% and %DLQ% topics, delay levels
 *   chapter 10   rk_delay_module   any delivery time (TIMER_* properties): the timer store */
#include <stddef.h>

#include "rk/delay.h"
#include "rk/elect.h"
#include "rk/retry.h"

int main(int argc, char **argv)
{
    const rk_broker_module_t *const modules[] = {&rk_retry_module, &rk_delay_module, NULL};
    const rk_config_field_t *const fields[] = {rk_delay_config_fields, NULL};
    return rk_elect_broker_main(argc, argv, modules, fields);
}
