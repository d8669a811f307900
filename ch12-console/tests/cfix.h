/* cfix.h — chapter 12's test fixture: chapter 9's cluster (rcluster.h) plus an mqconsole on a
 * free loopback port, stopped by PID (tests only). */
#ifndef RK_TEST_CFIX_H
#define RK_TEST_CFIX_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <sys/types.h>

#include "rk/tk_rcluster.h"
#include "rk/console_testkit.h"
#include "rk/producer.h"

/* The broker the console is tested against: the newest chapter's mqbroker merged so far. */
#define CF_BROKER_BIN RK_BIN_DIR "/../../ch11/bin/mqbroker"

typedef struct cfix {
    rk_rc_cluster_t cl;
    pid_t cs_pid;
    int port;
} cfix_t;

/* Starts the cluster (broker_extra appended to broker.conf) and a console (console_extra lines
 * appended to its config). */
void cf_start(cfix_t *f, const char *broker_extra, const char *console_extra);
/* Another console on the same cluster; returns its pid, *port its port. */
pid_t cf_console(cfix_t *f, const char *tag, const char *console_extra, int *port);
void cf_stop(cfix_t *f);
/* A request to the console; asserts the status and that the body is JSON; returns it (caller
 * frees). extra_headers may be NULL. */
cJSON *cf_call(int port, const char *method, const char *target, const char *headers, const char *body, int want);
cJSON *cf_get(cfix_t *f, const char *target, int want);
/* GET that asserts nothing: the parsed body of a 200 answer, else NULL with
 * *status set (0 when no answer came), for polls that wait for a state. */
cJSON *cf_try_get(cfix_t *f, const char *target, int *status);
/* Asserts an error answer: status want and {"error":"..."} containing `has` (may be NULL). */
void cf_error(int port, const char *method, const char *target, const char *headers, const char *body, int want,
              const char *has);
/* Sends one message (props "k\1v\2..." may be NULL). */
void cf_send(cfix_t *f, const char *topic, const char *keys, const char *body, const char *props,
             rk_send_result_t *r);
/* Commits a consumer offset for group on queue qid of topic (UPDATE_CONSUMER_OFFSET). */
void cf_commit_offset(cfix_t *f, const char *group, const char *topic, int qid, int64_t off);
/* What a consumer does with a message it gave up on (CONSUMER_SEND_MSG_BACK): delay level -1
 * sends it straight to the group's DLQ, 0 into the retry path. */
void cf_send_back(cfix_t *f, const char *group, const rk_send_result_t *sent, int delay_level);
/* The number member at a path of object keys ("a", "b", NULL); asserts it exists. */
double cf_num(cJSON *j, const char *key);

#endif
