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
