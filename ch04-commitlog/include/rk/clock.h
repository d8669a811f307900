/* clock.h — time as rocklet uses it.
 *
 * Wall-clock milliseconds since the epoch are what RocketMQ stores (born and
 * store timestamps, checkpoint); a monotonic clock measures intervals and
 * timeouts so a clock step never fires or starves a timer. No state. */
#ifndef RK_CLOCK_H
#define RK_CLOCK_H

#include <stdint.h>

int64_t rk_now_ms(void);          /* CLOCK_REALTIME, ms since 1970 */
uint64_t rk_mono_ns(void);        /* CLOCK_MONOTONIC, ns */
uint64_t rk_mono_ms(void);
void rk_sleep_ms(uint32_t ms);
/* "2026-11-25 10:41:07.123" (local time) into buf (>= 24 bytes). */
char *rk_format_ms(int64_t ms, char *buf, unsigned len);

#endif
