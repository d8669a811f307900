/* mqconsole — rocklet's web console and its HTTP/JSON API and /metrics (rk/console.h).
 *
 *   mqconsole [-c FILE] [-n NAMESRV] [-l PORT] [-p] [-h]
 */
#include "rk/console.h"

int main(int argc, char **argv)
{
    return rk_console_main(argc, argv);
}
