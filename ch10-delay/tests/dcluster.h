/* dcluster.h — chapter 10's tests run on chapter 9's cluster fixture (ch09-retry/tests/rcluster.h:
 * a name server and one broker on loopback, stopped by PID), compiled into this chapter's test
 * binary by fixture_rcluster.c (not copied), with the broker chosen by dc_broker_bin(). */
#ifndef RK_TEST_DCLUSTER_H
#define RK_TEST_DCLUSTER_H

#include <stdbool.h>

#include "../../ch09-retry/tests/rcluster.h"

/* Chapter 10's mqbroker (build/ch10/bin/mqbroker) when it was built, else chapter 9's: delay
 * levels are chapter 9's and work on both; delivery times need chapter 10's. */
const char *dc_broker_bin(void);
/* True when dc_broker_bin() is chapter 10's (a broker that takes TIMER_* properties). */
bool dc_has_timer(void);
/* rc_start_bin with dc_broker_bin(). */
void dc_start(rc_cluster_t *c, const char *extra_conf);

#endif
