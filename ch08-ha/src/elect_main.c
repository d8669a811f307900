/* elect_main.c — chapter 8's mqbroker program as a function (see
 * rk_elect_broker_main in rk/elect.h): every later chapter's mqbroker is
 * this list plus its own modules. */
#include <stddef.h>

#include "rk/acl.h"
#include "rk/broker.h"
#include "rk/broker_admin.h"
#include "rk/elect.h"
#include "rk/ha.h"

enum { MAX_MODULES = 32, MAX_FIELDS = 16 };

int rk_elect_broker_main(int argc, char **argv, const rk_broker_module_t *const *more,
                         const rk_config_field_t *const *more_fields)
{
    /* the election before HA: it sets HA's quorum during init */
    const rk_broker_module_t *modules[MAX_MODULES] = {&rk_broker_acl_module, &rk_broker_core_module,
                                                      &rk_broker_stats_module, &rk_broker_admin_module,
                                                      &rk_elect_module, &rk_ha_module};
    const rk_config_field_t *fields[MAX_FIELDS] = {rk_acl_config_fields, rk_ha_config_fields, rk_elect_config_fields};
    int nm = 6, nf = 3;
    for (int i = 0; more && more[i] && nm < MAX_MODULES - 1; i++)
        modules[nm++] = more[i];
    for (int i = 0; more_fields && more_fields[i] && nf < MAX_FIELDS - 1; i++)
        fields[nf++] = more_fields[i];
    modules[nm] = NULL;
    fields[nf] = NULL;
    int rc;
    do      /* a replica that must truncate its diverged log stops, truncates, starts again */
        rc = rk_broker_main(argc, argv, modules, fields);
    while (rk_elect_after_exit());
    return rc;
}
