/* rcluster.h — test fixture: one mqnamesrv (chapter 6) and chapter 9's mqbroker on loopback in a
 * temporary folder, stopped by PID at the end; the broker can be killed with SIGKILL and started
 * again on the same store and port (tests only). Modelled on ch07-client/tests/cluster.h. */
#ifndef RK_TEST_RCLUSTER_H
#define RK_TEST_RCLUSTER_H

#include <stdbool.h>
#include <sys/types.h>

#include "rk/remoting_cmd.h"

typedef struct rc_cluster {
    char dir[256], conf[300], bin[512];
    char ns[32], br[32];
    int ns_port, br_port;
    pid_t ns_pid, br_pid;
} rc_cluster_t;

/* Starts both; extra_conf is appended to broker.conf (may be NULL). Waits until the broker has
 * registered (TBW102 is routed). */
void rc_start(rc_cluster_t *c, const char *extra_conf);
/* The same with another broker program (e.g. chapter 7's, which has no CONSUMER_SEND_MSG_BACK). */
void rc_start_bin(rc_cluster_t *c, const char *broker_bin, const char *extra_conf);
/* SIGKILL the broker (no flush, `abort` left behind), then start it again. */
void rc_kill9_restart_broker(rc_cluster_t *c);
/* SIGTERM the broker, run between(c, arg) (may be NULL) while it is down, start it again. */
void rc_restart_broker(rc_cluster_t *c, void (*between)(rc_cluster_t *c, void *arg), void *arg);
void rc_stop(rc_cluster_t *c);
/* UPDATE_AND_CREATE_TOPIC, then waits until the name server routes it. */
void rc_create_topic(rc_cluster_t *c, const char *topic, int queues);
/* True once the name server has a route for topic. */
bool rc_routed(rc_cluster_t *c, const char *topic);
/* One request to addr; returns the response (caller frees) or NULL. */
rk_cmd_t *rc_call(const char *addr, rk_cmd_t *req);

#endif
