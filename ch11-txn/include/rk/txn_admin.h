/* txn_admin.h — chapter 11's mqadmin commands (rk/mqadmin.h: chapter 11's mqadmin lists this
 * table first, then chapter 10's, 9's and 7's):
 *
 *   txnPending -n NS [-c CLUSTER] [-g GROUP] [-l LIMIT]
 *       asks every master broker (of CLUSTER, or of every cluster) for its half messages not yet
 *       committed or rolled back (rocklet's request QUERY_TXN_PENDING, 10501): per producer
 *       group how many, how often the broker already asked the producer about them
 *       (TRANSACTION_CHECK_TIMES: "0:5 1:2" = five never asked, two asked once) and when the
 *       oldest was stored; then each broker's scan: half-queue entries looked at (at most LIMIT,
 *       default the broker's) and the check service's progress on the half and op queues.
 *
 * rk_mqadmin_txn_lines, added with rk_mqadmin_add_msg_lines after chapter 9's, prints after
 * queryMsgById's Properties:
 *   Transaction:          NOT / HALF (stored in RMQ_SYS_TRANS_HALF_TOPIC, waiting) /
 *                         PREPARED / COMMIT / ROLLBACK, from sysFlag bits 0xC and the topic
 *   Prepared Tx Offset:   a committed message's half, by commitlog offset (PreparedTransactionOffset)
 *   Real Topic:           a half's real topic and queue (REAL_TOPIC, REAL_QID)
 *   Producer Group:       PGROUP
 *   Check Times:          TRANSACTION_CHECK_TIMES, the broker's check-backs so far
 *
 * Static data; nothing to free. */
#ifndef RK_TXN_ADMIN_H
#define RK_TXN_ADMIN_H

#include "rk/mqadmin.h"

extern const rk_tool_cmd_t rk_mqadmin_cmds_ch11[];
void rk_mqadmin_txn_lines(const rk_msg_ext_t *m);

#endif
