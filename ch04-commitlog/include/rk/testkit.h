/* testkit.h — helpers for rocklet's tests (linked into test binaries only).
 *
 * Every test works in its own temporary folder and stops every process it
 * started, by PID. These helpers make that the easy path:
 *
 *   char dir[256]; rk_tk_tmpdir(dir, sizeof dir, "recovery");  ... rk_tk_rmtree(dir);
 *   int port = rk_tk_free_port();                     127.0.0.1 only
 *   pid_t pid = rk_tk_spawn(argv, logpath);           stdout+stderr -> logpath
 *   rk_tk_kill(pid, SIGKILL); rk_tk_wait(pid, 5000);  always reap what you spawn
 *
 * rk_tk_bin(name) is the path of a program this chapter built
 * (build/chNN/bin/name), from the RK_BIN_DIR the Makefile defines.
 * Returned strings are owned by the caller unless said otherwise. */
#ifndef RK_TESTKIT_H
#define RK_TESTKIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Creates /tmp/rk-<tag>-XXXXXX (or under $TMPDIR); 0 or -errno. */
int rk_tk_tmpdir(char *out, size_t outlen, const char *tag);
/* rm -rf; ignores a missing path. When RK_TEST_LOG_DIR is set (make test
 * sets it), the *.log files in the folder are first copied to
 * $RK_TEST_LOG_DIR/<folder name>/, so the logs of the servers a failing
 * test started can be read after the test removed its folder. */
int rk_tk_rmtree(const char *path);
/* A TCP port on 127.0.0.1 that was free a moment ago. It is drawn at random
 * BELOW the kernel's ephemeral range (ip_local_port_range): a port the
 * kernel hands out for bind(0) is also one it may give any outgoing
 * connection as its local port in the meantime, and a server started on it
 * then fails with EADDRINUSE (seen once in five runs under load). Falls
 * back to bind(0) if no port below the range is free. Never the same port twice in one process
 * (within its last 1024 answers): a port stays "free" until the test binds it, so two calls
 * could otherwise agree. That list is this testkit's one piece of global state (thread-safe). */
int rk_tk_free_port(void);
/* Starts argv[0] with argv; output to logpath (or /dev/null if NULL).
 * The child is killed if the test process dies first (PR_SET_PDEATHSIG),
 * so a crashing test leaves nothing running. Returns the pid, or -errno. */
pid_t rk_tk_spawn(char *const argv[], const char *logpath);
/* Sends sig (ignores a process that is already gone). */
int rk_tk_kill(pid_t pid, int sig);
/* Waits up to timeout_ms for pid to exit; returns its wait status, or
 * -ETIMEDOUT (then the caller should kill it). */
int rk_tk_wait(pid_t pid, int timeout_ms);
/* SIGTERM, wait up to timeout_ms, then SIGKILL and reap. Returns status. */
int rk_tk_stop(pid_t pid, int timeout_ms);
/* Waits until something accepts TCP connections on 127.0.0.1:port, and checks (through
 * /proc/net/tcp and /proc/PID/fd) that the listener is this process or one it started: a
 * port another process took between rk_tk_free_port and our server's bind is false at once,
 * with a line on stderr, instead of a test talking to a stranger's server. Where /proc cannot
 * tell, a connection that is accepted is enough, as before. */
bool rk_tk_wait_port(int port, int timeout_ms);
/* Runs argv to completion, capturing stdout+stderr into *out (malloc'ed,
 * may be NULL). Returns the exit status (0..255), or -errno. */
int rk_tk_run(char *const argv[], char **out, int timeout_ms);
/* Path of a program built by this chapter (build/chNN/bin/NAME): the
 * Makefile defines RK_BIN_DIR when it compiles a chapter's tests, so this
 * is inline and resolves to the calling chapter's folder. */
#ifdef RK_BIN_DIR
#define rk_tk_bin(name) (RK_BIN_DIR "/" name)
#endif
/* Path of program NAME as built for unit (e.g. "ch06": build/ch06/bin/NAME), or, when unit
 * is NULL, for the chapter of the running program, found from /proc/self/exe (test binaries
 * live in build/chNN/, benchmarks and tools in build/chNN/bin/). For fixtures in a testkit
 * library, compiled once but used by the tests of several chapters, each of which must start
 * its own chapter's broker. Writes into out; returns out, or NULL if it does not fit. */
const char *rk_tk_unit_bin(const char *unit, const char *name, char *out, size_t len);
/* Size of a file, or -errno. */
long long rk_tk_file_size(const char *path);
/* Peak resident memory (VmHWM in /proc/PID/status) of a process, in KiB; -1 if unknown.
 * For benchmarks' memory lines. */
long rk_tk_vm_hwm_kib(pid_t pid);
/* The fields of /proc/PID/stat after the command name ("S 1234 ..." : state, ppid, ... as in
 * proc(5)), copied into out (NUL-terminated); false if the process is gone. The name is
 * skipped at its last ')', so one holding spaces or parentheses does not shift the fields. */
bool rk_tk_proc_stat(pid_t pid, char *out, size_t len);

#endif
