/* rcluster_ch09.c — chapter 9's test cluster (one mqnamesrv, one mqbroker, stopped by PID),
 * reused as it is: the Makefile builds only this folder's files into chapter 12's test binary. */
#include "../../ch09-retry/tests/rcluster.c"
