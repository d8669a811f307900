/* thread.c — thread names and scheduling classes (see rk/thread.h). */
#include "rk/thread.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int rk_thread_init(const char *name, rk_thread_class_t cls)
{
    if (name != NULL) {
        char n[16];
        size_t len = strlen(name);
        if (len > sizeof n - 1)
            len = sizeof n - 1;
        memcpy(n, name, len);
        n[len] = '\0';
        (void)pthread_setname_np(pthread_self(), n);   /* only a label: ignore failure */
    }
    if (cls == RK_THREAD_NORMAL)
        return 0;
    struct sched_param sp = {.sched_priority = 0};
    int rc = sched_setscheduler(0, SCHED_BATCH, &sp);   /* 0: the calling thread */
    if (cls == RK_THREAD_BACKGROUND) {
        /* nice is per thread on Linux: PRIO_PROCESS with the thread's id changes this thread
         * only. Relative to what the process was started with (`nice -n 10 mqbroker` gives
         * background threads 15), since only a privileged thread may lower a nice value. */
        id_t tid = (id_t)gettid();
        errno = 0;
        int cur = getpriority(PRIO_PROCESS, tid);      /* -1 is a valid answer: errno says */
        if (errno != 0 || setpriority(PRIO_PROCESS, tid, cur + 5 > 19 ? 19 : cur + 5) != 0)
            rc = -1;
    }
    return rc == 0 ? 0 : -1;
}
