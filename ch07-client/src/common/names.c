/* names.c — topic and group name rules (see rk/names.h). */
#include "rk/names.h"

#include <string.h>

bool rk_topic_name_valid(const char *name)
{
    if (name == NULL)
        return false;
    size_t n = strnlen(name, 128);
    if (n == 0 || n > 127)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '%' ||
              c == '|' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool rk_topic_is_system(const char *name)
{
    static const char *const names[] = {"TBW102", "SCHEDULE_TOPIC_XXXX", "RMQ_SYS_TRANS_HALF_TOPIC",
                                        "RMQ_SYS_TRANS_OP_HALF_TOPIC", "TRANS_CHECK_MAX_TIME_TOPIC", "BenchmarkTest",
                                        "OFFSET_MOVED_EVENT", "SELF_TEST_TOPIC", "RMQ_SYS_TRACE_TOPIC"};
    if (name == NULL)
        return false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return strncmp(name, "rmq_sys_", 8) == 0;
}
