/* dcluster.c — see dcluster.h. Chapter 9's fixture itself is compiled in by fixture_rcluster.c. */
#include "dcluster.h"

const char *dc_broker_bin(void) { return RK_BIN_DIR "/mqbroker"; }

void dc_start(rk_rc_cluster_t *c, const char *extra_conf)
{
    rk_rc_start_bin(c, dc_broker_bin(), extra_conf);
}
