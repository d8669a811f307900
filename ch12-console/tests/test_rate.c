/* test_rate.c — the console's rates (consume TPS, put TPS) over a window of samples: a counter
 * that moves in steps, as committed consumer offsets do, reads as its mean rate, not as 0 and
 * spikes. */
#include <criterion/criterion.h>
#include <math.h>

#include "../src/console_int.h"

Test(rate, a_counter_that_moves_in_steps_reads_its_mean_rate)
{
    rk__rate_t r = {0};
    cr_assert_eq(rk__rate_update(&r, 0, 0), -1, "no rate from one sample");
    /* 1 000 msgs/s consumed, committed every 5 s; the console asks every second */
    double last = 0;
    for (int64_t t = 1000; t <= 60000; t += 1000) {
        int64_t committed = t / 5000 * 5000;        /* what the broker holds: 5 000 per step */
        last = rk__rate_update(&r, committed, t);
        if (t >= 20000)
            cr_assert(last >= 500 && last <= 1500, "at %lld ms: %.0f/s, the mean is 1000", (long long)t, last);
    }
    cr_assert(fabs(last - 1000) <= 500);
}

Test(rate, asked_again_too_soon_gives_the_last_answer_and_a_reset_gives_zero)
{
    rk__rate_t r = {0};
    rk__rate_update(&r, 0, 0);
    cr_assert_float_eq(rk__rate_update(&r, 1000, 1000), 1000.0, 1e-9);
    cr_assert_float_eq(rk__rate_update(&r, 5000, 1100), 1000.0, 1e-9, "within 0.5 s: the last rate");
    cr_assert_eq(rk__rate_update(&r, 10, 2000), 0, "the counter went back");
    cr_assert_float_eq(rk__rate_update(&r, 510, 2500), 1000.0, 1e-9, "counted from the reset");
}

Test(rate, the_window_forgets_what_is_older_than_ten_seconds)
{
    rk__rate_t r = {0};
    rk__rate_update(&r, 0, 0);
    for (int64_t t = 1000; t <= 30000; t += 1000)   /* 100/s for 30 s ... */
        rk__rate_update(&r, t / 10, t);
    double x = 0;
    for (int64_t t = 31000; t <= 45000; t += 1000)  /* ... then nothing for 15 s */
        x = rk__rate_update(&r, 3000, t);
    cr_assert_float_eq(x, 0.0, 1e-9, "an idle counter reads 0 once the window passed: %.1f", x);
}
