/* mqbroker — rocklet's broker as it stands after chapter 7: the shared main
 * (rk_broker_main, src/broker/broker_main.c) with chapter 7's modules.
 *
 *   mqbroker [-c FILE] [-n NAMESRV] [-p] [-h] */
#include <stddef.h>

#include "rk/acl.h"
#include "rk/broker.h"
#include "rk/broker_admin.h"

int main(int argc, char **argv)
{
    const rk_broker_module_t *const modules[] = {&rk_broker_acl_module, &rk_broker_core_module,
                                                 &rk_broker_stats_module, &rk_broker_admin_module, NULL};
    const rk_config_field_t *const fields[] = {rk_acl_config_fields, NULL};
    return rk_broker_main(argc, argv, modules, fields);
}
