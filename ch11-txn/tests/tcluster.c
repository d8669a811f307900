/* tcluster.c — chapter 9's test cluster (rcluster.h: one mqnamesrv, one mqbroker, kill -9 and
 * restart) compiled again for chapter 11's tests, so rk_tk_bin("mqbroker") is chapter 11's
 * broker. The source is chapter 9's, included, not copied. */
#include "../../ch09-retry/tests/rcluster.c"
