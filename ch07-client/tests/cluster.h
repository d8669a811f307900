/* cluster.h — test fixture: one mqnamesrv and one mqbroker on loopback, in a
 * temporary directory, stopped by PID at the end (tests only). */
#ifndef RK_TEST_CLUSTER_H
#define RK_TEST_CLUSTER_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct tk_cluster {
    char dir[256], conf[300];
    char ns[32], br[32];
    int ns_port, br_port;
    pid_t ns_pid, br_pid;
} tk_cluster_t;

/* Starts both; extra_conf is appended to broker.conf (may be NULL). Waits
 * until the broker has registered (TBW102 has a route when auto-create is on). */
void tk_cluster_start(tk_cluster_t *c, const char *extra_conf);
/* SIGTERM and restart the broker on the same store. */
void tk_cluster_restart_broker(tk_cluster_t *c);
/* kill -9 and restart the broker on the same store. */
void tk_cluster_kill9_restart_broker(tk_cluster_t *c);
void tk_cluster_stop(tk_cluster_t *c);
/* UPDATE_AND_CREATE_TOPIC, then waits until the name server routes it. */
void tk_create_topic(tk_cluster_t *c, const char *topic, int queues);
/* Polls cond(arg) every 10 ms for up to ms; true when it became true. */
bool tk_wait_until(bool (*cond)(void *), void *arg, int ms);
/* Sends req (taken) to addr (c->br, c->ns, ...) and returns the response
 * (asserts one came within 10 s); rk_cmd_free it. */
struct rk_cmd;
struct rk_cmd *tk_ask(const char *addr, struct rk_cmd *req);
/* Runs the chapter's mqadmin with -n c->ns and the NULL-terminated
 * arguments after the sub-command; its exit status, output in *out (free). */
int tk_mqadmin(tk_cluster_t *c, char **out, const char *cmd, ...);

#endif
