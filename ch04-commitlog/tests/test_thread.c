/* test_thread.c — rk_thread_init: what an operator sees (the thread's name) and what the
 * scheduler is told (policy and nice value of that thread only). */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "rk/thread.h"

typedef struct {
    const char *name;
    rk_thread_class_t cls;
    int rc, policy, nice_before, nice_after;
    char comm[32];
} probe_t;

static void probe_main(void *arg)
{
    probe_t *p = arg;
    id_t tid = (id_t)gettid();
    p->nice_before = getpriority(PRIO_PROCESS, tid);
    p->rc = rk_thread_init(p->name, p->cls);
    p->policy = sched_getscheduler(0);
    p->nice_after = getpriority(PRIO_PROCESS, tid);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        if (fgets(p->comm, sizeof p->comm, f) == NULL)
            p->comm[0] = '\0';
        fclose(f);
        p->comm[strcspn(p->comm, "\n")] = '\0';
    }
}

static probe_t run(const char *name, rk_thread_class_t cls)
{
    probe_t p = {.name = name, .cls = cls, .rc = -9};
    uv_thread_t t;
    cr_assert_eq(uv_thread_create(&t, probe_main, &p), 0);
    cr_assert_eq(uv_thread_join(&t), 0);
    return p;
}

Test(thread, names_show_in_proc_and_are_cut_at_15_bytes)
{
    probe_t p = run("rk-flush", RK_THREAD_NORMAL);
    cr_assert_eq(p.rc, 0);
    cr_assert_str_eq(p.comm, "rk-flush");
    p = run("rk-a-very-long-thread-name", RK_THREAD_NORMAL);
    cr_assert_str_eq(p.comm, "rk-a-very-long-");
}

Test(thread, classes_set_policy_and_nice_of_that_thread_only)
{
    int main_policy = sched_getscheduler(0);
    int main_nice = getpriority(PRIO_PROCESS, (id_t)gettid());

    probe_t p = run("t-normal", RK_THREAD_NORMAL);
    cr_assert_eq(p.policy, main_policy);                /* left as it was */
    cr_assert_eq(p.nice_after, p.nice_before);

    p = run("t-batch", RK_THREAD_BATCH);
    cr_assert_eq(p.rc, 0);
    cr_assert_eq(p.policy, SCHED_BATCH);
    cr_assert_eq(p.nice_after, p.nice_before);          /* batch: same share, no preemption */

    p = run("t-background", RK_THREAD_BACKGROUND);
    cr_assert_eq(p.rc, 0);
    cr_assert_eq(p.policy, SCHED_BATCH);
    cr_assert_eq(p.nice_after, p.nice_before + 5 > 19 ? 19 : p.nice_before + 5);

    /* the calling thread, and so the rest of the process, is untouched */
    cr_assert_eq(sched_getscheduler(0), main_policy);
    cr_assert_eq(getpriority(PRIO_PROCESS, (id_t)gettid()), main_nice);
}
