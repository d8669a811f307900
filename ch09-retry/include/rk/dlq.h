/* dlq.h — reading a consumer group's dead-letter queue and giving its messages back, for admin
 * tools (mqadmin queryDlqMsg / resendMsgFromDLQ, chapter 12's console).
 *
 *   rk_dlq_each    pulls %DLQ%<group> with a pull consumer of group TOOLS_CONSUMER that never
 *                  commits an offset, and calls fn for each message in queue order
 *   rk_dlq_resend  sends one dead letter back to its group: a copy goes to %RETRY%<group> with
 *                  its reconsume count at 0 (only that group's consumers get it, under its
 *                  original topic, with a full set of retries). The DLQ is left as it is.
 *
 * Threads: any thread (each call makes its own client). Memory: a message given to fn is valid
 * during the call only. No state. */
#ifndef RK_DLQ_H
#define RK_DLQ_H

#include <stddef.h>
#include <stdint.h>

#include "rk/mqclient.h"
#include "rk/producer.h"

/* Visits one message; a non-zero return stops the walk and is returned by rk_dlq_each. */
typedef int (*rk_dlq_visit_fn)(void *ctx, const rk_msg_ext_t *m);

/* Who reads: the name servers, and the ACL keys to sign with (chapter 7; NULL: unsigned). */
typedef struct rk_dlq_client {
    const char *namesrv;
    const char *access_key, *secret_key;
} rk_dlq_client_t;

/* Calls fn for the messages of %DLQ%group from queue offset `from` on, at most `max` of them.
 * *next (may be NULL) gets the queue offset after the last message visited (of the last queue
 * read). RK_ENOTFOUND when the DLQ has no readable queue (no message of the group died, or the
 * DLQ is write-only), another RK_E... when a pull failed, with a one-line reason in err. */
int rk_dlq_each(const rk_dlq_client_t *who, const char *group, int64_t from, int64_t max, rk_dlq_visit_fn fn,
                void *ctx, int64_t *next, char *err, size_t errlen);

/* Sends m, a message of %DLQ%group, back to group through p (a started producer). RK_ENOTFOUND
 * when m has no RETRY_TOPIC (it did not come through the retry path); r gets the send result. */
int rk_dlq_resend(rk_producer_t *p, const char *group, const rk_msg_ext_t *m, rk_send_result_t *r);

#endif
