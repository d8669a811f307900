/* fixture_pair.c — chapter 8's replica fixtures (ch08-ha/tests/pair.c: master/slave pairs and
 * electing trios), compiled into chapter 10's test binary so they start chapter 10's mqbroker. */
#include "../../ch08-ha/tests/pair.c"
