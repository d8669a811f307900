/* pair.h — test fixture: one mqnamesrv and a master + slave pair of chapter 8
 * mqbrokers on loopback, in a temporary folder, stopped by PID (tests only). */
#ifndef RK_TEST_PAIR_H
#define RK_TEST_PAIR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "rk/remoting_client.h"

typedef struct tk_broker {
    char conf[300], log[300], store[300], addr[32];
    int port, ha_port;
    pid_t pid;
} tk_broker_t;

typedef struct tk_pair {
    char dir[256], ns[32];
    pid_t ns_pid;
    tk_broker_t m, s;
    rk_rclient_t *cl;
} tk_pair_t;

/* Starts the name server and writes both brokers' configs (extra lines are
 * appended to each; both get a 256 KiB commitlog file size). Starts neither broker. */
void tk_pair_init(tk_pair_t *p, const char *master_extra, const char *slave_extra);
/* Starts a broker and waits until it accepts connections. */
void tk_broker_start(tk_broker_t *b);
/* SIGTERM (clean stop) and reap. */
void tk_broker_stop(tk_broker_t *b);
/* Stops everything, removes the folder (unless RK_KEEP_TMP is set). */
void tk_pair_stop(tk_pair_t *p);

/* One SEND_MESSAGE_V2 to addr (as the Java client sends it); the response. */
rk_cmd_t *tk_send(tk_pair_t *p, const char *addr, const char *topic, const char *body);
/* The same to queue qid with properties ("k\1v\2k\1v", NUL-terminated; may be NULL). */
rk_cmd_t *tk_send_props(tk_pair_t *p, const char *addr, const char *topic, int qid, const char *body,
                        const char *props);
/* Sends n messages of `size` bytes to the master, asserting each is SEND_OK. */
void tk_send_n(tk_pair_t *p, const char *topic, int n, size_t size);
/* The same to any broker. */
void tk_send_n_to(tk_pair_t *p, const char *addr, const char *topic, int n, size_t size);
/* SIGSTOP, and waits until the process is really stopped (/proc state T):
 * a signal is delivered asynchronously, a running process may still answer. */
void tk_freeze(pid_t pid);
/* commitLogMaxOffset from GET_BROKER_RUNTIME_INFO (-1 if unreachable). */
int64_t tk_max_offset(tk_pair_t *p, const char *addr);
/* A runtime-info value as a string (malloc'ed) or NULL. */
char *tk_runtime(tk_pair_t *p, const char *addr, const char *key);
/* Waits until the master counts a connected slave. */
bool tk_wait_slave_connected(tk_pair_t *p, int ms);
/* Waits until the slave's log ends where the master's does. */
bool tk_wait_caught_up(tk_pair_t *p, int ms);
/* Asserts every commitlog file of the slave is the master's, byte for byte
 * (the slave may lack the master's older files); returns how many. */
int tk_assert_slave_files_match(tk_pair_t *p);
/* Asserts both commitlog folders hold the same files, byte for byte. */
void tk_assert_same_commitlog(tk_pair_t *p);

#endif

/* ---- three replicas electing their master (rk/elect.h) ---- */
typedef struct tk_trio {
    tk_pair_t base;                 /* name server, client, folder (base.m / base.s unused) */
    tk_broker_t r[5];
    int elect_port[5];
    int n;                          /* replicas: 3 (tk_trio_init) or what tk_group_init says */
} tk_trio_t;

/* Name server + three replica configs n0..n2 (not started); extra lines
 * are appended to each config. */
void tk_trio_init(tk_trio_t *t, const char *extra);
/* The same with n (odd, <= 5) replicas. */
void tk_group_init(tk_trio_t *t, int n, const char *extra);
void tk_trio_stop(tk_trio_t *t);
/* The index of the replica that says it is LEADER and was registered as
 * brokerId 0, waiting up to ms; -1 if none. `not` (-1: any) is skipped. */
int tk_trio_leader(tk_trio_t *t, int not_this, int ms);
/* One send to addr without asserting: the response code, or -1 when the
 * broker could not be reached / did not answer within timeout_ms. msg_id
 * (may be NULL, >= 64 bytes) receives the offset msgId of a SEND_OK. */
int tk_try_send(tk_pair_t *p, const char *addr, const char *topic, const char *body, int timeout_ms, char *msg_id);
/* Every message body in topic's queues 0..nq-1 on addr (pulled from 0);
 * returns how many were put in bodies (each malloc'ed, NUL-terminated). */
int tk_pull_all(tk_pair_t *p, const char *addr, const char *topic, int nq, char **bodies, int max);
/* Pulls topic/qid on addr from offset `from` to its end, calling fn for each
 * stored record (valid during the call); returns the offset after the last. */
struct rk_record;
int64_t tk_pull_each(tk_pair_t *p, const char *addr, const char *topic, int qid, int64_t from,
                     void (*fn)(void *arg, const struct rk_record *rec), void *arg);
/* Asserts two stores' commitlog folders hold the same files, byte for byte. */
void tk_assert_same_logs(const char *store_a, const char *store_b);
