/* thread.h — naming a thread and telling the scheduler what kind of work it does.
 *
 * libuv creates every thread; these calls are made by the thread itself, first thing in its
 * main function. A name ("rk-flush", at most 15 characters) shows in `top -H`, `ps -L` and
 * /proc/PID/task/TID/comm, so an operator sees which part of the broker burns a core.
 *
 * A class tells the Linux scheduler how urgent the thread is. On a machine with few cores the
 * thread that answers a client (the network loop) competes with background threads that flush,
 * pre-write files and build indexes; when they all want the CPU, the one that waited longest
 * wins, and a client's request waits a whole time slice behind a flush. RK_THREAD_BACKGROUND
 * makes a thread SCHED_BATCH (it never preempts another on wake-up) with nice +5, so a
 * waking network thread runs at once and background work fills the gaps. It is only a hint:
 * a thread that cannot change class keeps running as it was (the calls never fail the caller).
 * No state. */
#ifndef RK_THREAD_H
#define RK_THREAD_H

typedef enum {
    RK_THREAD_NORMAL = 0,       /* answers clients: network loops, request workers */
    RK_THREAD_BATCH = 1,        /* keeps pace with the clients but never preempts on wake-up */
    RK_THREAD_BACKGROUND = 2,   /* throughput work nobody waits for this millisecond */
} rk_thread_class_t;

/* Names the calling thread (truncated to 15 bytes) and sets its class. Returns 0, or -1 when
 * the kernel refused the class (the name is still set if it could be). */
int rk_thread_init(const char *name, rk_thread_class_t cls);

#endif
