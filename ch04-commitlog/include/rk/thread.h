/* thread.h — naming a thread and telling the scheduler what kind of work it does.
 *
 * libuv creates every thread; these calls are made by the thread itself, first thing in its
 * main function. A name ("rk-flush", at most 15 characters) shows in `top -H`, `ps -L` and
 * /proc/PID/task/TID/comm, so an operator sees which part of the broker burns a core.
 *
 * A class tells the Linux scheduler how urgent the thread is. On a machine with few cores the
 * thread that answers a client (the network loop) competes with background threads that flush,
 * pre-write files and build indexes; when they all want the CPU, the one that waited longest
 * wins, and a client's request can wait behind an index build it has just woken. A thread of
 * class RK_THREAD_BATCH runs SCHED_BATCH: it gets its fair share of the CPU, but waking it
 * never preempts the thread that woke it (the network thread finishes its turn and answers
 * first). RK_THREAD_BACKGROUND is SCHED_BATCH at nice +5 (relative to the process): a third
 * of a normal thread's share when the CPUs are full, for work nobody waits for this
 * millisecond. Only a hint: a thread the kernel refuses a class keeps running as it was.
 * No state. */
#ifndef RK_THREAD_H
#define RK_THREAD_H

typedef enum {
    RK_THREAD_NORMAL = 0,       /* answers clients: network loops, request workers */
    RK_THREAD_BATCH = 1,        /* keeps pace with the clients, never preempts on wake-up:
                                   the dispatcher that builds consume queues and the index */
    RK_THREAD_BACKGROUND = 2,   /* ASYNC_FLUSH flushes, pre-writing files, periodic chores */
} rk_thread_class_t;

/* Names the calling thread (truncated to 15 bytes) and sets its class. Returns 0, or -1 when
 * the kernel refused the class (the name is still set if it could be). */
int rk_thread_init(const char *name, rk_thread_class_t cls);

#endif
