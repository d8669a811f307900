/* txn.h — chapter 11's broker module: transactional messages (half messages, END_TRANSACTION,
 * the check-back service), RocketMQ 4.9's TransactionalMessageService.
 *
 *   producer ──SEND (TRAN_MSG=true, PGROUP=pg)──▶ put hook: stored as a *half* message in
 *            RMQ_SYS_TRANS_HALF_TOPIC queue 0 with REAL_TOPIC / REAL_QID (transaction bits reset
 *            to NOT, so it gets a consume-queue entry there and none in the real topic); the
 *            send response carries the half's msgId (offsetMsgId) and queueOffset
 *   producer ──END_TRANSACTION (37) commit──▶ the half looked up by commitLogOffset, checked
 *            (PGROUP, queue offset, commitlog offset), the real message put (sysFlag COMMIT,
 *            PreparedTransactionOffset = the half's commitlog offset, the half's store time,
 *            REAL_TOPIC / REAL_QID / TRAN_MSG removed), then an op record
 *   producer ──END_TRANSACTION rollback──▶ the same checks, the op record only
 *            (a transaction ends once: the last transactionEndedCacheSize ended ones are
 *            remembered by their first half, so a repeated commit answers SUCCESS and puts
 *            nothing, a conflicting answer is refused with SYSTEM_ERROR; rebuilt at start from
 *            the op records' RK_TXN_ENDED_AS and kept from every op record dispatched, a
 *            follower's copied ones too; RocketMQ keeps no such set)
 *   op record: RMQ_SYS_TRANS_OP_HALF_TOPIC queue 0, TAGS "d", body = the half's queue offset in
 *            decimal (4.9's format; 5.x's "off1,off2," lists are read too)
 *   check service (master only), every transactionCheckInterval: halves past their timeout and
 *            with no op record are re-appended with TRANSACTION_CHECK_TIMES + 1 and
 *            CHECK_TRANSACTION_STATE (39, oneway) goes to one live producer of PGROUP over its
 *            own connection; after transactionCheckMax checks the half goes to
 *            TRANS_CHECK_MAX_TIME_TOPIC. Progress = consumer offsets of group CID_RMQ_SYS_TRANS
 *            on the half and op queues (consumerOffset.json, copied to slaves by chapter 8).
 *
 * Settings read at init (broker.conf, RocketMQ's names unless marked rocklet):
 *   transactionCheckInterval   60000 ms between check passes
 *   transactionTimeOut          6000 ms a half must age (since born) before it is checked
 *   transactionCheckMax           15 checks before the half is given up
 *   rejectTransactionMessage   false: true refuses halves (NO_PERMISSION)
 *   transactionCheckBatch      20000 (rocklet) halves one pass examines at most
 *   transactionOpBatch        200000 (rocklet) op records one pass holds in memory at most
 *   transactionEndedCacheSize  65536 (rocklet) ended transactions remembered (25 bytes each)
 *   (a half's CHECK_IMMUNITY_TIME_IN_SECONDS is honoured up to one hour)
 *
 * Rocklet-specific admin request (for mqadmin and the console):
 *   RK_REQ_QUERY_TXN_PENDING (10501)
 *     request extFields (all optional):
 *       producerGroup   only this group
 *       limit           half messages to scan at most (default 10000, max 200000)
 *     response SUCCESS, body JSON:
 *       {"groups":[{"producerGroup":"pg","pending":N,
 *                   "checkTimes":{"0":n,"1":n,...},      pending halves by TRANSACTION_CHECK_TIMES
 *                   "oldestStoreTimestamp":ms,            store time of its oldest pending half
 *                   "topics":{"RealTopic":n,...}}],       pending halves by REAL_TOPIC
 *        "scanned":N,                 half-queue entries looked at
 *        "truncated":bool,            true when limit stopped the scan before the queue's end
 *        "groupsTruncated":bool,      true when more than 256 producer groups had pending halves
 *                                     (the first 256 met are listed)
 *        "halfOffset":N,              CID_RMQ_SYS_TRANS's progress on the half queue
 *        "halfMaxOffset":N,           next half queue offset to be written
 *        "opOffset":N, "opMaxOffset":N}   the same for the op queue
 *     Pending = half-queue entries at or past the progress offset without an op record. A half
 *     being re-appended for a check may count twice for the moment of one pass.
 *     A slave answers from its copy (it does not check, so the figures may lag).
 *
 * Runtime info (GET_BROKER_RUNTIME_INFO) adds: txnPendingHalves (found by the last check pass),
 * txnHalfPuts, txnCommits, txnRollbacks, txnChecksSent, txnCheckNoProducer (a check due but no
 * live producer of the group: the half is re-appended and counted anyway, as RocketMQ does),
 * txnGiveUps, txnCheckPasses.
 *
 * Threads: END_TRANSACTION runs on the server's loop and answers from the put's completion (no
 * thread waits for a flush or a replica); the check service is one thread of its own (its puts
 * wait there, as chapter 9's schedule service does); pushes go out on the loop thread.
 * Memory: the module owns its state (rk_broker_module_state). */
#ifndef RK_TXN_H
#define RK_TXN_H

#include <stdbool.h>
#include <stdint.h>

#include "rk/broker.h"

#define RK_TXN_HALF_TOPIC "RMQ_SYS_TRANS_HALF_TOPIC"
#define RK_TXN_OP_TOPIC "RMQ_SYS_TRANS_OP_HALF_TOPIC"
#define RK_TXN_CHECK_MAX_TOPIC "TRANS_CHECK_MAX_TIME_TOPIC"
#define RK_TXN_GROUP "CID_RMQ_SYS_TRANS"
#define RK_TXN_OP_TAG "d"
/* rocklet's property on its op records: how the transaction ended, "8" (COMMIT) or "12"
 * (ROLLBACK), END_TRANSACTION's commitOrRollback. The ended set is rebuilt from it at start and
 * kept up to date from replicated op records (a RocketMQ broker ignores it). */
#define RK_TXN_PROP_ENDED_AS "RK_TXN_ENDED_AS"

/* Rocklet's admin request codes for chapter 11 (RocketMQ has none at 10501). */
enum { RK_REQ_QUERY_TXN_PENDING = 10501 };

extern const rk_broker_module_t rk_txn_module;
/* The settings above (for mqbroker -h / -p). */
extern const rk_config_field_t rk_txn_config_fields[];

/* Counters (runtime info's figures). */
typedef struct rk_txn_stats {
    int64_t half_puts, commits, rollbacks, checks_sent, check_no_producer, give_ups, passes;
    int64_t pending;                /* found by the last pass */
} rk_txn_stats_t;

/* RK_ENOTFOUND if b has no transaction module. Any thread. */
int rk_txn_stats(rk_broker_t *b, rk_txn_stats_t *out);

#endif
