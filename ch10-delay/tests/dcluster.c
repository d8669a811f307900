/* dcluster.c — see dcluster.h. Chapter 9's fixture itself is compiled in by fixture_rcluster.c. */
#include "dcluster.h"

#include <unistd.h>

const char *dc_broker_bin(void)
{
    return dc_has_timer() ? RK_BIN_DIR "/mqbroker" : RK_BIN_DIR "/../../ch09/bin/mqbroker";
}

bool dc_has_timer(void)
{
    return access(RK_BIN_DIR "/mqbroker", X_OK) == 0;
}

void dc_start(rc_cluster_t *c, const char *extra_conf)
{
    rc_start_bin(c, dc_broker_bin(), extra_conf);
}
