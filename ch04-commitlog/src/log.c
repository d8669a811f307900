/* log.c — the process-wide logger (see rk/log.h). */
#include "rk/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* The logger's documented global state: level and output descriptor. */
static _Atomic int log_level = -1;      /* -1: not read from the environment yet */
static _Atomic int log_fd = STDERR_FILENO;

static const char *const level_names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

int rk_log_level_parse(const char *name)
{
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    if (name == NULL)
        return -1;
    for (int i = 0; i < 5; i++)
        if (strcasecmp(name, names[i]) == 0)
            return i;
    return -1;
}

static int env_level(int fallback)
{
    int lv = rk_log_level_parse(getenv("RK_LOG_LEVEL"));
    return lv >= 0 ? lv : fallback;
}

void rk_log_init(rk_log_level_t level, FILE *out)
{
    atomic_store(&log_level, env_level((int)level));
    if (out != NULL)
        atomic_store(&log_fd, fileno(out));
}

void rk_log_set_level(rk_log_level_t level) { atomic_store(&log_level, (int)level); }

rk_log_level_t rk_log_get_level(void)
{
    int lv = atomic_load(&log_level);
    if (lv < 0) {
        lv = env_level(RK_LOG_INFO);
        atomic_store(&log_level, lv);
    }
    return (rk_log_level_t)lv;
}

void rk_log_write(rk_log_level_t level, const char *module, const char *fmt, ...)
{
    if (level < rk_log_get_level() || level >= RK_LOG_OFF)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02d %02d:%02d:%02d.%03ld %s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], module);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    /* One write per line: lines from different threads do not interleave.
     * A failed log write has nowhere to be reported; ignore it. */
    ssize_t w = write(atomic_load(&log_fd), line, len);
    (void)w;
}
