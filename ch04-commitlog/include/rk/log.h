/* log.h — levelled logging to stderr (or a file) for every rocklet process.
 *
 *   2026-11-25 10:41:07.123 INFO  commitlog: recovered 1203 records, end=0x4b2c
 *
 * One process-wide logger: its level and output are the only global mutable
 * state of this module, set once at start with rk_log_init() (defaults:
 * INFO, stderr). Lines are written with one write(2) each, so lines from
 * many threads never interleave. RK_LOG_LEVEL=debug|info|warn|error|off in
 * the environment overrides the level set in code (handy in tests). */
#ifndef RK_LOG_H
#define RK_LOG_H

#include <stdio.h>

typedef enum {
    RK_LOG_DEBUG = 0,
    RK_LOG_INFO,
    RK_LOG_WARN,
    RK_LOG_ERROR,
    RK_LOG_OFF
} rk_log_level_t;

/* Sets the level and the output stream (NULL keeps stderr). */
void rk_log_init(rk_log_level_t level, FILE *out);
void rk_log_set_level(rk_log_level_t level);
rk_log_level_t rk_log_get_level(void);
/* Parses "debug", "info", "warn", "error", "off"; -1 if unknown. */
int rk_log_level_parse(const char *name);

void rk_log_write(rk_log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define rk_log_debug(mod, ...) \
    do { if (rk_log_get_level() <= RK_LOG_DEBUG) rk_log_write(RK_LOG_DEBUG, mod, __VA_ARGS__); } while (0)
#define rk_log_info(mod, ...)  rk_log_write(RK_LOG_INFO, mod, __VA_ARGS__)
#define rk_log_warn(mod, ...)  rk_log_write(RK_LOG_WARN, mod, __VA_ARGS__)
#define rk_log_error(mod, ...) rk_log_write(RK_LOG_ERROR, mod, __VA_ARGS__)

#endif
