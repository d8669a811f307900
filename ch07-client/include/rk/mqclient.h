/* mqclient.h — what every rocklet client shares: name servers, routes,
 * connections, timers, heartbeats, and the messages a consumer receives.
 *
 * RocketMQ's MQClientInstance. A producer, a consumer or an admin tool owns
 * one rk_mqclient_t:
 *
 *      producer / consumer / mqadmin
 *               │
 *          rk_mqclient ── route cache ◀── GET_ROUTEINFO_BY_TOPIC (name servers, every 30 s)
 *               │     └── scheduler thread: periodic and delayed tasks
 *               └── rk_rclient (one libuv loop thread, one connection per broker)
 *                        └── HEART_BEAT to every master it knows (every 30 s)
 *
 * Name servers are tried in turn: a request that fails on one goes to the
 * next, and the last one that answered is asked first next time.
 *
 * Threads: every function may be called from any thread. Scheduled tasks
 * run on the client's scheduler thread, one at a time; they must not block
 * for long (a synchronous request with a timeout is fine).
 *
 * Memory: routes come retained (rk_topic_route_release them); responses
 * belong to the caller; a received-message list owns the response body its
 * messages point into. No global state. */
#ifndef RK_MQCLIENT_H
#define RK_MQCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "rk/message.h"
#include "rk/remoting_client.h"
#include "rk/remoting_cmd.h"
#include "rk/topic_route.h"

#define RK_CLIENT_ID_MAX 192
#define RK_DEFAULT_TOPIC "TBW102"          /* the route a new topic borrows (auto-create) */

typedef struct rk_mqclient_config {
    const char *namesrv;        /* "host:port;host:port" (required) */
    const char *instance_name;  /* part of the client id; NULL: the pid */
    int timeout_ms;             /* per request; 0: 3000 */
    int heartbeat_ms;           /* 0: 30000 */
    int route_refresh_ms;       /* 0: 30000 */
    /* RocketMQ ACL (rk/acl_sign.h): with both set, every request is signed
     * (AccessKey + Signature extFields, as AclClientRPCHook). At most
     * RK_ACL_KEY_MAX - 1 bytes each; copied. NULL: requests go unsigned. */
    const char *access_key;
    const char *secret_key;
} rk_mqclient_config_t;

#define RK_ACL_KEY_MAX 257

typedef struct rk_mqclient rk_mqclient_t;

int rk_mqclient_new(const rk_mqclient_config_t *cfg, rk_mqclient_t **out);
/* Stops the scheduler (cancelled tasks are called with cancelled = true),
 * fails pending requests, closes connections, frees. */
void rk_mqclient_free(rk_mqclient_t *c);

/* "ip@instance", as RocketMQ's clientId. */
const char *rk_mqclient_id(const rk_mqclient_t *c);
rk_rclient_t *rk_mqclient_remoting(rk_mqclient_t *c);
int rk_mqclient_timeout(const rk_mqclient_t *c);

/* ---- requests ---- */

/* A new request with rocklet's language and version set. */
rk_cmd_t *rk_mqclient_request(int32_t code);
/* Sends req (consumed) to a name server, trying each in turn. */
int rk_mqclient_invoke_namesrv(rk_mqclient_t *c, rk_cmd_t *req, rk_cmd_t **resp);
/* Synchronous request to a broker with the client's timeout. */
int rk_mqclient_invoke(rk_mqclient_t *c, const char *addr, rk_cmd_t *req, rk_cmd_t **resp);

/* A broker's non-success answer as an rk error code, for callers that
 * need one: TOPIC_NOT_EXIST → RK_ENOTFOUND, MESSAGE_ILLEGAL → RK_EINVAL,
 * NO_PERMISSION → RK_EPERM, SYSTEM_BUSY / SERVICE_NOT_AVAILABLE → RK_EBUSY,
 * FLUSH_*_TIMEOUT → RK_ETIMEDOUT, anything else → RK_EPROTO. */
int rk_mqclient_resp_error(int32_t resp_code);
/* Writes "CODE_NAME (n): remark" for a response into buf. */
void rk_mqclient_resp_describe(const rk_cmd_t *resp, char *buf, size_t len);

/* ---- routes ---- */

/* The topic's route: from the cache, or asked of the name servers when
 * missing or when force is set. RK_ENOTFOUND when no name server has it. */
int rk_mqclient_route(rk_mqclient_t *c, const char *topic, bool force, rk_topic_route_t **out);
/* Forgets a topic's cached route (it is no longer refreshed). */
void rk_mqclient_forget_route(rk_mqclient_t *c, const char *topic);
/* Master address of a broker known from any cached route; "" when none.
 * buf >= RK_ADDR_MAX. */
bool rk_mqclient_master_addr(rk_mqclient_t *c, const char *broker, char *buf, size_t len);
/* The address a consumer reads `broker` from: rk_route_broker_find() on
 * the newest route entry of that broker group the client holds (brokerId
 * id; a missing slave id -> id + 1; unless only_this, the lowest id present,
 * i.e. a slave when the master is gone). *slave says id != 0. Any thread. */
bool rk_mqclient_find_addr(rk_mqclient_t *c, const char *broker, int64_t id, bool only_this, char *buf, size_t len,
                           bool *slave);
/* The addresses of every master in the cached routes (malloc'ed array of
 * RK_ADDR_MAX strings). */
int rk_mqclient_masters(rk_mqclient_t *c, char (**out)[RK_ADDR_MAX], size_t *n);

/* ---- scheduler ---- */

/* fn(arg, false) runs once on the scheduler thread after delay_ms; at
 * shutdown tasks not yet run get fn(arg, true) so they can release arg. */
typedef void (*rk_task_fn)(void *arg, bool cancelled);
int rk_mqclient_schedule(rk_mqclient_t *c, uint64_t delay_ms, rk_task_fn fn, void *arg);

/* ---- heartbeats ---- */

/* Fills the producerDataSet / consumerDataSet arrays of a HeartbeatData. */
typedef void (*rk_heartbeat_fill_fn)(void *arg, cJSON *producers, cJSON *consumers);
/* Sets the owner's heartbeat contents; heartbeats start being sent. */
void rk_mqclient_set_heartbeat(rk_mqclient_t *c, rk_heartbeat_fill_fn fill, void *arg);
/* Sends a heartbeat to every known master now (synchronously). Returns
 * how many brokers accepted it. */
int rk_mqclient_heartbeat_now(rk_mqclient_t *c);
/* UNREGISTER_CLIENT for a producer or consumer group to every known master. */
void rk_mqclient_unregister(rk_mqclient_t *c, const char *producer_group, const char *consumer_group);

/* ---- received messages ---- */

/* A message as a consumer sees it (RocketMQ's MessageExt). Strings are
 * NUL-terminated; body is decompressed when the producer compressed it. */
typedef struct rk_msg_ext {
    const char *topic;
    const char *tags;           /* "" when none */
    const char *keys;           /* "" when none */
    const uint8_t *body;
    size_t body_len;
    const char *props;          /* "k\1v\2k\1v" (not NUL-terminated) */
    size_t props_len;
    int32_t queue_id, flag, sys_flag, reconsume_times;
    int64_t queue_offset, commitlog_offset, born_ts, store_ts;
    char born_host[56], store_host[56];
    char msg_id[RK_MSGID_MAX];          /* UNIQ_KEY, or offset_msg_id if the producer set none */
    char offset_msg_id[RK_MSGID_MAX];   /* store host + commitlog offset */
    char broker[RK_NAME_MAX];           /* filled by the consumer */
    int64_t prepared_tx_offset;         /* a committed transactional message: its half's commitlog
                                         * offset (PreparedTransactionOffset); else 0 */
} rk_msg_ext_t;

/* A stored record a decoder left out: damaged bytes in a pull or query body. */
typedef struct rk_msg_bad {
    int64_t queue_offset;       /* from the record's own header; -1 when the header is unreadable */
    int64_t prev_offset;        /* queue offset of the last good record before it; -1 if none */
    size_t pos, len;            /* the skipped bytes of the body */
    const char *why;            /* static text: "body CRC mismatch", ... */
} rk_msg_bad_t;

#define RK_MSG_BAD_MAX 8

typedef struct rk_msg_list {
    rk_msg_ext_t *msgs;
    size_t n;
    /* rk_msg_list_decode_skip: what it left out */
    size_t nbad;                        /* damaged ranges skipped */
    rk_msg_bad_t bad[RK_MSG_BAD_MAX];   /* the first RK_MSG_BAD_MAX of them */
    bool cut;                           /* the body ends with damage no valid record follows: what
                                         * came after it was not read (pull it again, past it) */
    int64_t last_offset;                /* queue offset of the last good record (-1: none) */
    /* private */
    uint8_t *raw;
    char *arena;
    uint8_t **inflated;
    size_t ninflated;
    size_t msgs_cap, arena_cap;         /* msgs' and arena's block sizes (for reuse) */
    size_t raw_cap;                     /* raw's block size when rk_rclient may have it back
                                         * (rk_cmd_t.body_cap), or 0 */
} rk_msg_list_t;

/* Decodes stored records (a pull or query body). Takes ownership of raw
 * (malloc'ed). Strict: RK_ECORRUPT if any record is damaged (body CRC checked). */
int rk_msg_list_decode(uint8_t *raw, size_t len, rk_msg_list_t **out);
/* Decodes the records that verify and skips the damaged ones, so that one
 * bad record never blocks the ones around it: a record whose framing holds
 * (size and fields agree) but whose body CRC does not match (check_crc) or
 * whose compressed body does not inflate is skipped by its size; a record
 * whose header is damaged is skipped by scanning for the next valid record
 * (magic, sizes, CRC). Each skipped range is reported in l->bad / l->nbad;
 * l->cut says the damage ran to the end of the body. Takes ownership of
 * raw; fails only for lack of memory. Linear in len (the rescan verifies at
 * most a bounded number of candidates). */
int rk_msg_list_decode_skip(uint8_t *raw, size_t len, bool check_crc, rk_msg_list_t **out);
/* The same, reusing the blocks of spare, a list the caller is done with
 * (NULL: none): its message array and its strings' block when they are big
 * enough (its raw is freed unless taken first: set spare->raw to NULL).
 * spare is always consumed: it becomes *out, or is freed. A consumer's pull
 * of 256 messages has a message array of ~130 KiB; freed and malloc'ed
 * again at each pull, glibc gave it back to the kernel and faulted it in
 * again (ch07 README, "Where the time goes: the push consumer"). */
int rk_msg_list_decode_reusing(uint8_t *raw, size_t len, bool check_crc, rk_msg_list_t *spare, rk_msg_list_t **out);
void rk_msg_list_free(rk_msg_list_t *l);
/* A property of a received message as a C string; RK_ENOTFOUND / RK_ETOOBIG. */
int rk_msg_prop(const rk_msg_ext_t *m, const char *key, char *buf, size_t len);

/* ---- fastjson maps keyed by MessageQueue ---- */

/* RocketMQ's stats answers (TopicStatsTable, ConsumeStats) hold maps whose
 * member names are objects — {"offsetTable":{{"brokerName":"b","queueId":0,
 * "topic":"t"}:{"maxOffset":5,...}}} — which no JSON parser accepts. This
 * reads the map named `table`: one entry per queue, value parsed with cJSON. */
typedef struct rk_mq_map_entry {
    rk_mq_t mq;
    cJSON *value;
} rk_mq_map_entry_t;

int rk_mq_map_parse(const char *text, size_t len, const char *table, rk_mq_map_entry_t **out, size_t *n);
void rk_mq_map_free(rk_mq_map_entry_t *entries, size_t n);

#endif
