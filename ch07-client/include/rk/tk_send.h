/* tk_send.h — the SEND_MESSAGE_V2 request (code 310) and the PULL_MESSAGE request (code 11)
 * that tests, benchmarks and test fixtures send straight to a broker, built in one place (tests only: chapter 7's testkit library, used
 * by chapters 7 and later; it never asserts, so benchmarks can use it too).
 *
 * The request is the one the Java client 4.x sends: SendMessageRequestHeaderV2's short names
 * a..k, in that order, each a string, the body as it is:
 *
 *   a producerGroup   "pg" unless .group       g bornTimestamp   now (ms) unless .born
 *   b topic           .topic                   h flag            "0"
 *   c defaultTopic    "TBW102"                 i properties      .props ("" when NULL)
 *   d defaultTopicQueueNums  4 unless .queues  j reconsumeTimes  "0"
 *   e queueId         .queue_id                k unitMode        "false"
 *   f sysFlag         .sys_flag
 *
 * A topic the broker does not know yet is created from TBW102 with d queues (autoCreateTopicEnable).
 * A test that wants a request the Java client would not send (fewer fields, a fixed born time)
 * says so with .last and .born. Afterwards rk_cmd_ext_set overwrites a field in its place or
 * appends a new one (SEND_BATCH_MESSAGE's m=true). .binary makes it the way the C SDK sends it.
 * A zeroed spec but for .topic and .body is the usual request:
 *
 *   rk_cmd_t *req = rk_tk_send_request(&(rk_tk_send_spec_t){.topic = "T", .body = "hello"});
 */
#ifndef RK_TK_SEND_H
#define RK_TK_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/remoting_cmd.h"

typedef struct rk_tk_send_spec {
    int32_t code;               /* 0 = RK_REQ_SEND_MESSAGE_V2; RK_REQ_SEND_BATCH_MESSAGE has the same header */
    const char *group;          /* a: NULL = "pg" */
    const char *topic;          /* b */
    int queues;                 /* d: 0 = 4 */
    int queue_id;               /* e */
    int sys_flag;               /* f: RK_SYSFLAG_* (rk/message.h), e.g. RK_SYSFLAG_TXN_PREPARED for a half */
    const char *born;           /* g as sent (a fixed time, e.g. "0"); NULL = rk_now_ms() */
    const char *props;          /* i: "k\1v\2k\1v", NUL-terminated; NULL = "" */
    char last;                  /* the last field written, 'a'..'k': 'h' sends a..h only; 0 = 'k' */
    bool binary;                /* as rk_mqclient_request makes it (language CPP, RocketMQ's binary
                                 * header), not as rk_cmd_new does (JAVA, JSON) */
    const void *body;           /* may be NULL (no body) */
    size_t len;                 /* body bytes; 0 = strlen(body) */
} rk_tk_send_spec_t;

/* A new request as s says (the caller sends or frees it); NULL when out of memory, s->topic is
 * NULL or s->last is not 'a'..'k'. */
rk_cmd_t *rk_tk_send_request(const rk_tk_send_spec_t *s);

/* PULL_MESSAGE (code 11): PullMessageRequestHeader's fields, in its order, each a string:
 *
 *   consumerGroup   "cg" unless .group        commitOffset          .commit_offset
 *   topic           .topic                    suspendTimeoutMillis  .suspend_ms
 *   queueId         .queue_id                 subscription          "*" unless .sub
 *   queueOffset     .offset                   subVersion            .sub_version
 *   maxMsgNums      32 unless .max            expressionType        .expr, only when set
 *   sysFlag         .sys_flag (PullSysFlag: 1 commit offset, 2 suspend (long polling),
 *                   4 subscription, 8 class filter)
 *
 * A zeroed spec but for .topic is one pull of queue 0 from offset 0 that the broker answers at
 * once. A test that wants a request a client would not send leaves fields out with .omit, or
 * overwrites one in its place afterwards with rk_cmd_ext_set (queueId "abc"):
 *
 *   rk_cmd_t *req = rk_tk_pull_request(&(rk_tk_pull_spec_t){.topic = "T", .offset = next});
 */
typedef struct rk_tk_pull_spec {
    const char *group;          /* consumerGroup: NULL = "cg" */
    const char *topic;          /* topic */
    int queue_id;               /* queueId */
    int64_t offset;             /* queueOffset */
    int max;                    /* maxMsgNums: 0 = 32 */
    int sys_flag;               /* sysFlag */
    int64_t commit_offset;      /* commitOffset */
    int64_t suspend_ms;         /* suspendTimeoutMillis: how long a suspended pull is held */
    const char *sub;            /* subscription: NULL = "*" */
    int64_t sub_version;        /* subVersion */
    const char *expr;           /* expressionType ("TAG", "SQL92"): NULL = not sent */
    const char *omit;           /* the names of fields not sent, separated by spaces
                                 * ("commitOffset subVersion"); NULL = none */
    bool binary;                /* as rk_mqclient_request makes it, not as rk_cmd_new does */
} rk_tk_pull_spec_t;

/* A new request as s says (the caller sends or frees it); NULL when out of memory, s->topic is
 * NULL or s->omit has a word that is not a field's name (or names one twice). */
rk_cmd_t *rk_tk_pull_request(const rk_tk_pull_spec_t *s);

#endif
