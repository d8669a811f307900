/* dcluster.h — chapter 10's tests run on chapter 9's cluster fixture (ch09-retry/tests/rcluster.h:
 * a name server and one broker on loopback, stopped by PID), compiled into this chapter's test
 * binary by fixture_rcluster.c (not copied), with the broker chosen by dc_broker_bin(). */
#ifndef RK_TEST_DCLUSTER_H
#define RK_TEST_DCLUSTER_H

#include <stdbool.h>

#include "rk/tk_rcluster.h"

/* Chapter 10's mqbroker (build/ch10/bin/mqbroker): delay levels (chapter 9's module) and
 * delivery times (chapter 10's timer). */
const char *dc_broker_bin(void);
/* rk_rc_start_bin with dc_broker_bin(). */
void dc_start(rk_rc_cluster_t *c, const char *extra_conf);

#endif
