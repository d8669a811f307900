/* elect.h — automatic failover: a broker group of replicas elects its master
 * (Raft-style terms and votes), configured as RocketMQ's DLedger mode names it.
 *
 *   n0 ◀── PREVOTE / VOTE / HEARTBEAT (remoting, 4101-4103) ──▶ n1 ◀────▶ n2
 *   │ leader: SYNC_MASTER, brokerId 0,     followers: SLAVE, brokerId = index + 1,
 *   │ sends acked by a majority            stream the leader's log (rk/ha.h)
 *
 *   enableDLegerCommitLog=true
 *   dLegerGroup=broker-a
 *   dLegerPeers=n0-127.0.0.1:40911;n1-127.0.0.1:40912;n2-127.0.0.1:40913
 *   dLegerSelfId=n0
 *
 * The log stays the HAService byte stream of rk/ha.h; the election decides
 * only who is master. Terms and votes are persisted (<store>/dledger/vote,
 * atomic write + fsync) before a vote is answered; a follower whose timer
 * runs out first asks for pre-votes (granted only by replicas that hear no
 * leader), so a replica cut off never raises its term alone; a replica grants its
 * vote once per term, only to a candidate whose (epoch, max offset) is at
 * least its own. The leader writes (term, its max offset) to its epoch file
 * (<store>/epochFileCheckpoint, RocketMQ 5's format) before it takes writes,
 * heartbeats every dLegerHeartbeatIntervalMillis, and steps down when no
 * majority answered within the election timeout. A follower checks its
 * epochs against the leader's before it streams; a log that diverged is
 * truncated (the broker stops, truncates the closed log with
 * rk_commitlog_truncate_dir and starts again: rk_elect_after_exit) and rejoins.
 *
 * Module order: list rk_elect_module BEFORE rk_ha_module (its init makes
 * the broker start as a SLAVE with brokerId index + 1).
 * Threads: a remoting server (its loop thread runs ticks and requests) and
 * a remoting client (its loop thread runs answers); one mutex guards the
 * state. Memory: the module owns its state, freed by the broker. */
#ifndef RK_ELECT_H
#define RK_ELECT_H

#include <stdbool.h>
#include <stdint.h>

#include "rk/broker.h"
#include "rk/config.h"

/* Request codes between replicas (rocklet's range 4100-4199; RocketMQ has none there). */
enum { RK_REQ_ELECT_VOTE = 4101, RK_REQ_ELECT_HEARTBEAT = 4102, RK_REQ_ELECT_PREVOTE = 4103 };

#define RK_ELECT_MAX_PEERS 9
#define RK_ELECT_MAX_EPOCHS 256

typedef struct rk_elect_config {
    bool enable;                    /* enableDLegerCommitLog */
    char *group;                    /* dLegerGroup */
    char *peers;                    /* dLegerPeers: id-ip:port;... (odd count, <= 9) */
    char *self_id;                  /* dLegerSelfId */
    int64_t election_timeout_ms;    /* dLegerElectionTimeoutMillis: random in [t, 2t) (rocklet) */
    int64_t heartbeat_ms;           /* dLegerHeartbeatIntervalMillis (rocklet) */
} rk_elect_config_t;

extern const rk_config_field_t rk_elect_config_fields[];
extern const rk_broker_module_t rk_elect_module;

typedef struct rk_elect rk_elect_t;
rk_elect_t *rk_elect_of(rk_broker_t *b);

typedef enum { RK_ELECT_FOLLOWER = 0, RK_ELECT_CANDIDATE = 1, RK_ELECT_LEADER = 2 } rk_elect_state_t;
typedef struct rk_elect_status {
    rk_elect_state_t state;
    int64_t term, epoch;            /* epoch: of the last byte this log holds (-1: none) */
    int self, leader;               /* peer indexes (-1: no leader known) */
    int64_t max_offset, lag;        /* lag: leader: bytes the slowest follower lacks */
} rk_elect_status_t;
void rk_elect_status(rk_elect_t *e, rk_elect_status_t *out);

/* ---- epochs (pure functions, tested alone) ---- */
typedef struct rk_epoch {
    int64_t epoch, start;
} rk_epoch_t;
/* Parses "e-s;e-s;..." (epochs increasing, starts non-decreasing, n <= max).
 * Returns the count or RK_EINVAL. */
int rk_epochs_parse(const char *text, rk_epoch_t *out, int max);
/* Where log `mine` (ending at my_max) stops agreeing with log `theirs`
 * (ending at their_max): the end of the newest epoch both hold from the
 * same start, capped by both logs' ends. A list missing its beginning is
 * read as an epoch 0 from offset 0. */
int64_t rk_epochs_consistent_point(const rk_epoch_t *mine, int n_mine, int64_t my_max, const rk_epoch_t *theirs,
                                   int n_theirs, int64_t their_max);
/* RocketMQ 5's epochFileCheckpoint text: "count\ncrc32\nepoch-start\n...". */
int rk_epochs_load(const char *path, rk_epoch_t *out, int max);
int rk_epochs_store(const char *path, const rk_epoch_t *e, int n);

/* The broker program's main calls this after rk_broker_main returned: if
 * this replica stopped itself to truncate a diverged log, truncates the
 * closed log and returns true (run the broker again); false otherwise. */
bool rk_elect_after_exit(void);

/* Chapter 8's mqbroker as a function, for this and every later chapter's
 * program: rk_broker_main with chapter 7's modules, the election and HA,
 * then `more` (NULL-terminated, may be NULL: a later chapter's modules) and
 * `more_fields` (settings tables for -h/-p, may be NULL); run again after
 * rk_elect_after_exit. Returns the process exit status. */
int rk_elect_broker_main(int argc, char **argv, const rk_broker_module_t *const *more,
                         const rk_config_field_t *const *more_fields);

#endif
