/* fcluster.h — test fixture: the local cluster of final/conf/local (two name servers, two
 * broker groups of three replicas electing their masters), started from the very files
 * `make run` uses, on free loopback ports, in a temporary folder (tests only).
 *
 * fc_init copies every conf file of final/conf/local into the test's folder, giving every
 * port a free one and every path an absolute one under the folder; the processes are then
 * started by the test (rk_tk_spawn: killed if the test process dies) and stopped by PID.
 * The programs are the assembled ones of build/bin. */
#ifndef RK_TEST_FCLUSTER_H
#define RK_TEST_FCLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define FC_MAX 16

typedef struct fc_proc {
    char name[64];          /* namesrv-1, broker-a-n0, ... (the conf file's name) */
    char conf[400], log[400], home[400];
    char group[128];        /* brokerName; "" for a name server */
    int port;
    bool broker;
    pid_t pid;              /* -1 when not running */
    bool paused;
} fc_proc_t;

typedef struct fc {
    char dir[256];
    char ns[160];           /* "127.0.0.1:p1;127.0.0.1:p2" */
    fc_proc_t p[FC_MAX];
    int n;
} fc_t;

/* Writes the configuration (extra lines appended to every broker's), starts nothing. */
void fc_init(fc_t *c, const char *broker_extra);
/* Starts every process; waits until every broker registered and every group has a master. */
void fc_start_all(fc_t *c);
/* Starts one process (again) and waits until it accepts connections. */
void fc_start(fc_t *c, int i);
/* kill -9 and reap (SIGKILL), or SIGSTOP / SIGCONT (paused is tracked). */
void fc_kill9(fc_t *c, int i);
void fc_pause(fc_t *c, int i);
void fc_resume(fc_t *c, int i);
/* Every process stopped (SIGCONT, SIGTERM, SIGKILL after 15 s), the folder removed. */
void fc_stop_all(fc_t *c);
int fc_find(const fc_t *c, const char *name);
/* The process that is GROUP's registered master (brokerId 0 in clusterList) and is running
 * and not paused, waiting up to ms; -1 if none. `not` (-1: none) is skipped. */
int fc_master(fc_t *c, const char *group, int not_this, int ms);
/* How many running, unpaused replicas of group say they are the leader (their own
 * GET_BROKER_RUNTIME_INFO: dLegerRole LEADER); a split brain would make it 2. */
int fc_masters(fc_t *c, const char *group);
/* Asserts, waiting up to 20 s, that every group has a registered master that is running and
 * exactly one replica that says it leads. */
void fc_assert_one_master_each(fc_t *c);
/* Runs `mqadmin ARGS... -n NS`; its output (malloc'ed) and exit status. */
int fc_admin(fc_t *c, char **out, const char *const *args);
/* Appends a line to the folder's events.log (kept with the logs when a test fails). */
void fc_event(fc_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
