/* tk_rcluster.h — test fixture: one mqnamesrv (chapter 6) and one mqbroker on loopback in a
 * temporary folder, stopped by PID at the end; the broker can be killed with SIGKILL and started
 * again on the same store and port (tests only). Built into chapter 9's testkit library; the
 * broker is the running test binary's own chapter's (rk_tk_unit_bin) unless rk_rc_start_bin
 * names another. Modelled on ch07-client/tests/cluster.h. */
#ifndef RK_TEST_RCLUSTER_H
#define RK_TEST_RCLUSTER_H

#include <stdbool.h>
#include <sys/types.h>

#include "rk/remoting_cmd.h"

typedef struct rk_rc_cluster {
    char dir[256], conf[300], bin[512];
    char ns[32], br[32];
    int ns_port, br_port;
    pid_t ns_pid, br_pid;
} rk_rc_cluster_t;

/* Starts both; extra_conf is appended to broker.conf (may be NULL). Waits until the broker has
 * registered (TBW102 is routed). */
void rk_rc_start(rk_rc_cluster_t *c, const char *extra_conf);
/* The same with another broker program (e.g. chapter 7's, which has no CONSUMER_SEND_MSG_BACK). */
void rk_rc_start_bin(rk_rc_cluster_t *c, const char *broker_bin, const char *extra_conf);
/* SIGKILL the broker (no flush, `abort` left behind), then start it again. */
void rk_rc_kill9_restart_broker(rk_rc_cluster_t *c);
/* SIGTERM the broker, run between(c, arg) (may be NULL) while it is down, start it again, and
 * wait until it has registered again (TBW102 is routed). */
void rk_rc_restart_broker(rk_rc_cluster_t *c, void (*between)(rk_rc_cluster_t *c, void *arg), void *arg);
void rk_rc_stop(rk_rc_cluster_t *c);
/* UPDATE_AND_CREATE_TOPIC, then waits until the name server routes it. */
void rk_rc_create_topic(rk_rc_cluster_t *c, const char *topic, int queues);
/* True once the name server has a route for topic. */
bool rk_rc_routed(rk_rc_cluster_t *c, const char *topic);
/* One request to addr; returns the response (caller frees) or NULL. */
rk_cmd_t *rk_rc_call(const char *addr, rk_cmd_t *req);

#endif
