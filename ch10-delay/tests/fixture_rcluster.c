/* fixture_rcluster.c — chapter 9's single-broker test cluster (ch09-retry/tests/rcluster.c),
 * compiled into chapter 10's test binary so the tests here start chapter 10's mqbroker. */
#include "../../ch09-retry/tests/rcluster.c"
