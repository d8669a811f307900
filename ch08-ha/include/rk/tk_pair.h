/* tk_pair.h — test fixture: one mqnamesrv and a master + slave pair (or three electing
 * replicas) of mqbrokers on loopback, in a temporary folder, stopped by PID (tests only).
 * Built into chapter 8's testkit library and used by the tests of chapters 8 and later: the
 * brokers started are the running test binary's own chapter's (rk_tk_unit_bin), so chapter
 * 11's tests start chapter 11's broker. The fixture owns nothing the caller frees but what
 * rk_tk_pull_all returns; rk_tk_pair_stop/rk_tk_trio_stop stop and remove everything. */
#ifndef RK_TEST_PAIR_H
#define RK_TEST_PAIR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "rk/remoting_client.h"

typedef struct rk_tk_broker {
    char conf[300], log[300], store[300], addr[32];
    int port, ha_port;
    pid_t pid;
} rk_tk_broker_t;

typedef struct rk_tk_pair {
    char dir[256], ns[32];
    pid_t ns_pid;
    rk_tk_broker_t m, s;
    rk_rclient_t *cl;
} rk_tk_pair_t;

/* Starts the name server and writes both brokers' configs (extra lines are
 * appended to each; both get a 256 KiB commitlog file size). Starts neither broker. */
void rk_tk_pair_init(rk_tk_pair_t *p, const char *master_extra, const char *slave_extra);
/* Starts a broker and waits until it accepts connections. */
void rk_tk_broker_start(rk_tk_broker_t *b);
/* SIGTERM (clean stop) and reap. */
void rk_tk_broker_stop(rk_tk_broker_t *b);
/* Stops everything, removes the folder (unless RK_KEEP_TMP is set). */
void rk_tk_pair_stop(rk_tk_pair_t *p);

/* One SEND_MESSAGE_V2 to addr (as the Java client sends it); the response. */
rk_cmd_t *rk_tk_send(rk_tk_pair_t *p, const char *addr, const char *topic, const char *body);
/* The same to queue qid with properties ("k\1v\2k\1v", NUL-terminated; may be NULL). */
rk_cmd_t *rk_tk_send_props(rk_tk_pair_t *p, const char *addr, const char *topic, int qid, const char *body,
                        const char *props);
/* Sends n messages of `size` bytes to the master, asserting each is SEND_OK. */
void rk_tk_send_n(rk_tk_pair_t *p, const char *topic, int n, size_t size);
/* The same to any broker. */
void rk_tk_send_n_to(rk_tk_pair_t *p, const char *addr, const char *topic, int n, size_t size);
/* SIGSTOP, and waits until the process is really stopped (/proc state T):
 * a signal is delivered asynchronously, a running process may still answer. */
void rk_tk_freeze(pid_t pid);
/* commitLogMaxOffset from GET_BROKER_RUNTIME_INFO (-1 if unreachable). */
int64_t rk_tk_max_offset(rk_tk_pair_t *p, const char *addr);
/* A runtime-info value as a string (malloc'ed) or NULL. */
char *rk_tk_runtime(rk_tk_pair_t *p, const char *addr, const char *key);
/* Waits until the master counts a connected slave. */
bool rk_tk_wait_slave_connected(rk_tk_pair_t *p, int ms);
/* Waits until the slave's log ends where the master's does. */
bool rk_tk_wait_caught_up(rk_tk_pair_t *p, int ms);
/* Asserts every file in from_dir is in to_dir with the same bytes; returns how many. */
int rk_tk_assert_files_match(const char *from_dir, const char *to_dir);
/* Asserts every commitlog file of the slave is the master's, byte for byte
 * (the slave may lack the master's older files); returns how many. */
int rk_tk_assert_slave_files_match(rk_tk_pair_t *p);
/* Asserts both commitlog folders hold the same files, byte for byte. */
void rk_tk_assert_same_commitlog(rk_tk_pair_t *p);

/* ---- three replicas electing their master (rk/elect.h) ---- */
typedef struct rk_tk_trio {
    rk_tk_pair_t base;                 /* name server, client, folder (base.m / base.s unused) */
    rk_tk_broker_t r[5];
    int elect_port[5];
    int n;                          /* replicas: 3 (rk_tk_trio_init) or what rk_tk_group_init says */
} rk_tk_trio_t;

/* Name server + three replica configs n0..n2 (not started); extra lines
 * are appended to each config. */
void rk_tk_trio_init(rk_tk_trio_t *t, const char *extra);
/* The same with n (odd, <= 5) replicas. */
void rk_tk_group_init(rk_tk_trio_t *t, int n, const char *extra);
void rk_tk_trio_stop(rk_tk_trio_t *t);
/* The index of the replica that says it is LEADER and was registered as
 * brokerId 0, waiting up to ms; -1 if none. `not` (-1: any) is skipped. */
int rk_tk_trio_leader(rk_tk_trio_t *t, int not_this, int ms);
/* One send to addr without asserting: the response code, or -1 when the
 * broker could not be reached / did not answer within timeout_ms. msg_id
 * (may be NULL, >= 64 bytes) receives the offset msgId of a SEND_OK. */
int rk_tk_try_send(rk_tk_pair_t *p, const char *addr, const char *topic, const char *body, int timeout_ms, char *msg_id);
/* Every message body in topic's queues 0..nq-1 on addr (pulled from 0);
 * returns how many were put in bodies (each malloc'ed, NUL-terminated). */
int rk_tk_pull_all(rk_tk_pair_t *p, const char *addr, const char *topic, int nq, char **bodies, int max);
/* Pulls topic/qid on addr from offset `from` to its end, calling fn for each
 * stored record (valid during the call); returns the offset after the last. */
struct rk_record;
int64_t rk_tk_pull_each(rk_tk_pair_t *p, const char *addr, const char *topic, int qid, int64_t from,
                     void (*fn)(void *arg, const struct rk_record *rec), void *arg);
/* Asserts two stores' commitlog folders hold the same files, byte for byte. */
void rk_tk_assert_same_logs(const char *store_a, const char *store_b);

#endif
