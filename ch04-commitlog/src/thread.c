/* thread.c — thread names and scheduling classes (see rk/thread.h). */
#include "rk/thread.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
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
    if (cls == RK_THREAD_BATCH && getenv("RKX_NOBATCH")) return 0; /*EXP*/
    if (getenv("RKX_NOCLASS")) return 0; /*EXP*/
    if (getenv("RKX_IDLE")) { struct sched_param q = {0}; return sched_setscheduler(0, SCHED_IDLE, &q); } /*EXP*/
    struct sched_param sp = {.sched_priority = 0};
    int rc = sched_setscheduler(0, SCHED_BATCH, &sp);   /* 0: the calling thread */
    /* nice is per thread on Linux: setpriority on the thread's id lowers this thread only */
    if (cls == RK_THREAD_BACKGROUND && setpriority(PRIO_PROCESS, (id_t)gettid(), 5) != 0)
        rc = -1;
    return rc == 0 ? 0 : -1;
}
