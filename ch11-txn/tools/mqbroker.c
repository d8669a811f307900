/* mqbroker — rocklet's broker as it stands after chapter 11: chapter 10's broker
 * (rk_elect_broker_main: chapter 7's modules, the election and HA; chapter 9's retry module,
 * chapter 10's delay module) plus the transaction module: half messages, END_TRANSACTION, the
 * check-back service (rk/txn.h).
 *
 *   mqbroker [-c FILE] [-n NAMESRV] [-p] [-h]
 *
 * Chapter 11's settings: transactionCheckInterval, transactionTimeOut, transactionCheckMax,
 * rejectTransactionMessage, transactionCheckBatch, transactionOpBatch (rk/txn.h). */
#include "rk/delay.h"
#include "rk/elect.h"
#include "rk/retry.h"
#include "rk/txn.h"

int main(int argc, char **argv)
{
    const rk_broker_module_t *const more[] = {&rk_retry_module, &rk_delay_module, &rk_txn_module, NULL};
    const rk_config_field_t *const fields[] = {rk_delay_config_fields, rk_txn_config_fields, NULL};
    return rk_elect_broker_main(argc, argv, more, fields);
}
