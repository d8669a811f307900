/* rcluster_ch09.c — chapter 9's test cluster (name server + one broker, ch09-retry/tests/rcluster.h)
 * compiled into chapter 11's test binary, not copied: rk_tk_bin("mqbroker") is then chapter 11's
 * broker (build/ch11/bin/mqbroker). */
#include "../../ch09-retry/tests/rcluster.c"
