/* txn_producer.h — chapter 11 in the SDK: a transactional producer (RocketMQ's
 * TransactionMQProducer), built on chapter 7's producer.
 *
 * A message that must go out if, and only if, the application's own (database) transaction
 * commits is sent in two phases:
 *
 *   rk_txn_producer_send(tp, m, execute, arg, &r)
 *     1. SEND_MESSAGE_V2 of m with TRAN_MSG=true, PGROUP=<group> (sysFlag PREPARED), synchronous,
 *        with chapter 7's retries: the broker stores a *half* message no consumer sees;
 *     2. execute(arg, m, &half) — the local transaction — on the calling thread, once;
 *     3. END_TRANSACTION (37), oneway, to the master that stored the half:
 *        commitOrRollback 8 (COMMIT: the broker makes the real message visible), 12 (ROLLBACK:
 *        dropped) or 0 (UNKNOWN: the broker asks later).
 *
 *   broker ──CHECK_TRANSACTION_STATE (39)──▶ network thread ──bounded queue──▶ check thread
 *          ◀──END_TRANSACTION fromTransactionCheck=true──────────────────────── check(arg, msg)
 *
 * When step 3 is lost (crash, network) or said UNKNOWN, the broker's check service asks a live
 * producer of the group (it knows them from heartbeats, which this producer sends with its
 * group) what became of the transaction; `check` answers from the application's records.
 *
 * Header values (RocketMQ 4.9's endTransaction / processTransactionState): producerGroup,
 * tranStateTableOffset = the half's queue offset (send path) or the check's value,
 * commitLogOffset = the offset inside the half's offsetMsgId (send path) or the check's value,
 * commitOrRollback, fromTransactionCheck, msgId = the half's UNIQ_KEY, transactionId = the
 * same key (send path) or the check's transactionId.
 *
 * Like RocketMQ: a DELAY (or 5.x TIMER_*) property is removed, a transactional message cannot be
 * delayed; a half stored with FLUSH_DISK_TIMEOUT / FLUSH_SLAVE_TIMEOUT / SLAVE_NOT_AVAILABLE is
 * rolled back without running `execute` (it might not survive the broker); a check whose queue
 * is full is dropped (counted; the broker asks again at its next round).
 *
 * Threads: rk_txn_producer_send from any number of threads at once (each runs its own execute);
 * `check` runs on the producer's check threads (cfg.check_threads of them, in parallel when
 * more than one), never on the network thread, so it may block (query a database). Neither
 * callback may call rk_txn_producer_free. free from one thread, after every send returned.
 * Memory: messages are borrowed for the call; the message a check gets is valid during the
 * callback only; results belong to the caller. No global state. */
#ifndef RK_TXN_PRODUCER_H
#define RK_TXN_PRODUCER_H

#include <stdbool.h>
#include <stdint.h>

#include "rk/mqclient.h"
#include "rk/producer.h"

/* A transaction's outcome; the values are END_TRANSACTION's commitOrRollback. */
typedef enum rk_txn_state {
    RK_TXN_UNKNOWN = 0,         /* not decided yet: the broker will check back */
    RK_TXN_COMMIT = 8,          /* deliver the message */
    RK_TXN_ROLLBACK = 12,       /* drop it */
} rk_txn_state_t;

/* The local transaction for one send: m is the caller's message, half the stored half (its
 * msg_id is the transaction id). Any other return value than the three states counts as
 * UNKNOWN (logged). */
typedef rk_txn_state_t (*rk_txn_execute_fn)(void *arg, const rk_message_t *m, const rk_send_result_t *half);
/* The broker's question about a half: m->msg_id is the transaction id, m->topic / queue_id the
 * real topic and queue, m->props its properties (TRANSACTION_CHECK_TIMES says how often it was
 * asked). */
typedef rk_txn_state_t (*rk_txn_check_fn)(void *arg, const rk_msg_ext_t *m);

typedef struct rk_txn_producer_config {
    rk_producer_config_t producer;  /* namesrv and group required (chapter 7's settings) */
    rk_txn_check_fn check;          /* required */
    void *check_arg;
    int check_threads;              /* 0: 1 (as RocketMQ's checkThreadPoolMinSize); 1..16 */
    int check_queue_max;            /* checks waiting for a thread; 0: 2000 (checkRequestHoldMax) */
    /* Topics this producer sends to (NULL-terminated, may be NULL): their routes are looked up
     * at start, with TBW102's, and a heartbeat names the group to their brokers at once, so a
     * restarted producer is asked about the halves its predecessor left without sending first. */
    const char *const *topics;
} rk_txn_producer_config_t;

typedef struct rk_txn_send_result {
    rk_send_result_t half;          /* the half's send (half.msg_id = transaction id) */
    bool executed;                  /* execute ran */
    rk_txn_state_t state;           /* what END_TRANSACTION said */
    int end_status;                 /* RK_OK: END_TRANSACTION written; else why not (the broker
                                     * will check back) */
    char error[256];                /* empty unless something failed */
} rk_txn_send_result_t;

typedef struct rk_txn_producer_stats {
    uint64_t sends, commits, rollbacks, unknowns;   /* END_TRANSACTION of the send path */
    uint64_t end_failures;                          /* an END_TRANSACTION that could not be sent */
    uint64_t checks_received, checks_answered;
    uint64_t checks_dropped;                        /* queue full, or the producer stopping */
    uint64_t checks_rejected;                       /* malformed, or another group's */
} rk_txn_producer_stats_t;

typedef struct rk_txn_producer rk_txn_producer_t;

/* RK_EINVAL (a reason in the log) for a missing name server, group or check callback, or
 * thread / queue numbers out of range. */
int rk_txn_producer_new(const rk_txn_producer_config_t *cfg, rk_txn_producer_t **out);
/* Stops the check threads (checks still queued are dropped: the broker asks again; a check
 * callback already running is waited for), then frees the producer (unregisters the group).
 * NULL is a no-op. */
void rk_txn_producer_free(rk_txn_producer_t *tp);

/* Steps 1-3 above. Returns RK_OK once the half was stored (then r->state and r->end_status say
 * how it ended), or the send's error (r->error says why; nothing ran, nothing is pending):
 * RK_EINVAL for a missing message or execute, or what rk_producer_send returned. */
int rk_txn_producer_send(rk_txn_producer_t *tp, const rk_message_t *m, rk_txn_execute_fn execute, void *arg,
                         rk_txn_send_result_t *r);

void rk_txn_producer_stats(rk_txn_producer_t *tp, rk_txn_producer_stats_t *out);
/* The chapter 7 producer underneath: plain sends of the same group, routes, the client. */
rk_producer_t *rk_txn_producer_base(rk_txn_producer_t *tp);

/* ---- the END_TRANSACTION request itself (the producer, tools and tests build it here) ---- */

typedef struct rk_txn_end {
    const char *group;              /* producerGroup */
    int64_t tran_state_table_offset;
    int64_t commit_log_offset;
    rk_txn_state_t state;
    bool from_check;
    const char *msg_id;             /* UNIQ_KEY */
    const char *transaction_id;     /* NULL: none */
} rk_txn_end_t;

/* The request (caller owns it), or NULL: RK_EINVAL for a missing group or msg_id, negative
 * offsets or a state other than the three, RK_ENOMEM (in *err when err is not NULL). */
rk_cmd_t *rk_txn_end_request(const rk_txn_end_t *e, int *err);
/* The half's END_TRANSACTION from its send result: commitLogOffset from offset_msg_id,
 * tranStateTableOffset from queue_offset. NULL with *err RK_EINVAL for an offset_msg_id that
 * does not decode or a negative queue offset. */
rk_cmd_t *rk_txn_end_for_half(const char *group, const rk_send_result_t *half, rk_txn_state_t state, int *err);
/* "COMMIT", "ROLLBACK", "UNKNOWN". */
const char *rk_txn_state_name(rk_txn_state_t s);

#endif
