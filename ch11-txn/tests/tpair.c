/* tpair.c — chapter 8's replica fixtures (pair.h: master + slave, three electing replicas)
 * compiled again for chapter 11's tests, so rk_tk_bin("mqbroker") is chapter 11's broker. The
 * source is chapter 8's, included, not copied. */
#include "../../ch08-ha/tests/pair.c"
