/* version.c — the SDK library's version (see rk/rocklet.h). */
#include "rk/rocklet.h"

const char *rk_sdk_version(void) { return RK_SDK_VERSION; }
