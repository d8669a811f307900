/* console_rate.c — rates of counters over a window of samples (see console_int.h). Kept apart
 * from the HTTP code so a unit test links it alone. */
#include "console_int.h"

static void rate_push(rk__rate_t *s, int64_t v, int64_t at)
{
    if (s->n == RK__RATE_RING) {
        s->first = (s->first + 1) % RK__RATE_RING;
        s->n--;
    }
    int i = (s->first + s->n) % RK__RATE_RING;
    s->v[i] = v;
    s->at[i] = at;
    s->n++;
}

/* Committed consumer offsets move in steps (a consumer commits every few seconds), so a rate over
 * the last half second read 0 or five times the truth; over the window it reads the rate. */
double rk__rate_update(rk__rate_t *s, int64_t v, int64_t now_ms)
{
    if (s->n == 0) {
        rate_push(s, v, now_ms);
        s->rate = -1;
        return -1;
    }
    int last = (s->first + s->n - 1) % RK__RATE_RING;
    if (now_ms - s->at[last] < RK__RATE_STEP_MS)
        return s->rate;                 /* asked again too soon: the last rate */
    if (v < s->v[last]) {
        s->first = s->n = 0;            /* the counter went back (a reset, a restart): start again */
        rate_push(s, v, now_ms);
        return s->rate = 0;
    }
    rate_push(s, v, now_ms);
    /* drop samples older than the window, keeping two at least */
    while (s->n > 2 && now_ms - s->at[(s->first + 1) % RK__RATE_RING] >= RK__RATE_WINDOW_MS) {
        s->first = (s->first + 1) % RK__RATE_RING;
        s->n--;
    }
    int64_t dv = v - s->v[s->first], dt = now_ms - s->at[s->first];
    return s->rate = dt > 0 ? (double)dv * 1000.0 / (double)dt : 0;
}
