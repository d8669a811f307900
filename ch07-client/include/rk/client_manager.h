/* client_manager.h — who is connected to a broker: HEART_BEAT bodies and the group tables.
 *
 * Every client sends HEART_BEAT (code 34) every 30 s with a HeartbeatData
 * body (RocketMQ §3.4):
 *
 *   {"clientID":"10.0.0.5@12345#1234567890",
 *    "consumerDataSet":[{"groupName":"cg","consumeType":"CONSUME_PASSIVELY",
 *        "messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET",
 *        "subscriptionDataSet":[{"topic":"T","subString":"a || b","tagsSet":["a","b"],
 *                                "codeSet":[97,98],"subVersion":1700000000000,"expressionType":"TAG"}]}],
 *    "producerDataSet":[{"groupName":"pg"}]}
 *
 * client-cpp sends the enums as ordinals and subVersion as a string, and may
 * omit tagsSet/codeSet; all are accepted. The manager keeps, per consumer
 * group, its clients (with the connection they came on and when they were
 * last heard from) and their subscriptions; a change of membership is what
 * makes the broker send NOTIFY_CONSUMER_IDS_CHANGED so consumers rebalance.
 * Clients silent for the expiry time, or whose connection closed, go.
 *
 * A group's subscriptions are those of its newest heartbeat (RocketMQ's
 * ConsumerGroupInfo.updateSubscription drops the topics a heartbeat no
 * longer lists), and a group with no client left is forgotten, so the
 * tables hold no more than the live clients' heartbeats (each within the
 * RK_HEARTBEAT_MAX_* caps below).
 *
 * Threads: the manager has one mutex; any thread. Memory: parsed
 * heartbeats own their strings (rk_heartbeat_free); lists returned are
 * malloc'ed arrays of malloc'ed strings (rk_strv_free). */
#ifndef RK_CLIENT_MANAGER_H
#define RK_CLIENT_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { RK_CONSUME_ACTIVELY = 0, RK_CONSUME_PASSIVELY = 1 };           /* ConsumeType */
enum { RK_MODEL_BROADCASTING = 0, RK_MODEL_CLUSTERING = 1 };          /* MessageModel */
enum { RK_FROM_LAST_OFFSET = 0, RK_FROM_FIRST_OFFSET = 4, RK_FROM_TIMESTAMP = 5 };   /* ConsumeFromWhere */

typedef struct rk_subscription {
    char *topic;
    char *sub_string;           /* "*" or "a || b" */
    char *expression_type;      /* "TAG" (default) or "SQL92" */
    int64_t sub_version;
    char **tags;                /* tagsSet; derived from sub_string when absent */
    int32_t *codes;             /* codeSet: Java String.hashCode of each tag */
    size_t ntags;
    size_t tags_cap;            /* slots allocated in tags and codes (they grow by doubling) */
} rk_subscription_t;

typedef struct rk_consumer_data {
    char *group;
    int consume_type, message_model, consume_from_where;
    rk_subscription_t *subs;
    size_t nsubs;
} rk_consumer_data_t;

typedef struct rk_heartbeat {
    char *client_id;
    char **producer_groups;
    size_t nproducers;
    rk_consumer_data_t *consumers;
    size_t nconsumers;
    /* Not in the body: the broker sets them from the connection and the
     * request header before rk_client_manager_heartbeat (admin requests
     * GET_CONSUMER/PRODUCER_CONNECTION_LIST list them). */
    char client_addr[64];       /* "ip:port" */
    int language;               /* LanguageCode ordinal */
    int32_t version;            /* the client's MQVersion ordinal */
} rk_heartbeat_t;

/* What one heartbeat may carry. A client instance sends every group it
 * has in one heartbeat (the Java client: all consumers and producers of the
 * MQClientInstance, plus CLIENT_INNER_PRODUCER), so these are generous. */
#define RK_HEARTBEAT_MAX_CONSUMER_GROUPS 128
#define RK_HEARTBEAT_MAX_PRODUCER_GROUPS 128
#define RK_HEARTBEAT_MAX_SUBSCRIPTIONS   256     /* per consumer group */
#define RK_HEARTBEAT_MAX_TAGS            1024    /* per subscription */

/* Parses a HEART_BEAT body; RK_EPROTO with no clientID or not JSON. */
int rk_heartbeat_parse(const void *body, size_t len, rk_heartbeat_t *out);
/* The same; past one of the RK_HEARTBEAT_MAX_* caps RK_ETOOBIG. why (may be
 * NULL) receives a sentence saying what was wrong. */
int rk_heartbeat_parse_why(const void *body, size_t len, rk_heartbeat_t *out, char *why, size_t whylen);
void rk_heartbeat_free(rk_heartbeat_t *hb);
/* True if the subscription accepts a message with this tag (NULL: untagged). */
bool rk_subscription_matches(const rk_subscription_t *s, const char *tag);

typedef struct rk_client_manager rk_client_manager_t;

int rk_client_manager_new(int64_t expire_ms, rk_client_manager_t **out);
void rk_client_manager_free(rk_client_manager_t *m);
/* Records a heartbeat that came on connection conn_id at now_ms. changed
 * (may be NULL) receives, per consumer group of the heartbeat, whether its
 * membership changed: an array of group names (rk_strv_free) or NULL. */
int rk_client_manager_heartbeat(rk_client_manager_t *m, const rk_heartbeat_t *hb, uint64_t conn_id,
                                int64_t now_ms, char ***changed, size_t *nchanged);
/* Removes a client from a group (UNREGISTER_CLIENT); true if it was there. */
bool rk_client_manager_unregister(rk_client_manager_t *m, const char *group, const char *client_id);
/* Removes every client of a connection / silent since before now - expiry.
 * Returns the groups whose membership changed. */
char **rk_client_manager_drop_connection(rk_client_manager_t *m, uint64_t conn_id, size_t *n);
char **rk_client_manager_expire(rk_client_manager_t *m, int64_t now_ms, size_t *n);
/* The group's client IDs, sorted (GET_CONSUMER_LIST_BY_GROUP); NULL if none. */
char **rk_client_manager_consumers(rk_client_manager_t *m, const char *group, size_t *n);
/* The connections of a group's clients (to notify them); malloc'ed. */
uint64_t *rk_client_manager_connections(rk_client_manager_t *m, const char *group, size_t *n);
/* The same for a producer group (a transaction check-back goes to one of
 * them, GET_PRODUCER_CONNECTION_LIST lists them); malloc'ed, NULL if none. */
uint64_t *rk_client_manager_producer_connections(rk_client_manager_t *m, const char *group, size_t *n);
/* A copy of the group's subscription to topic (the newest reported);
 * RK_ENOTFOUND if none. Free with rk_subscription_free. */
int rk_client_manager_subscription(rk_client_manager_t *m, const char *group, const char *topic,
                                   rk_subscription_t *out);
void rk_subscription_free(rk_subscription_t *s);
void rk_strv_free(char **v, size_t n);

/* ---- for admin requests (GET_CONSUMER_CONNECTION_LIST and the like) ---- */

typedef struct rk_client_info {
    char *client_id;
    uint64_t conn;
    char addr[64];
    int language;
    int32_t version;
    int64_t last_ms;
} rk_client_info_t;

/* A copy of a group's clients (and, for a consumer group, its subscriptions
 * and the settings of its newest heartbeat). */
typedef struct rk_group_clients {
    rk_client_info_t *clients;
    size_t n;
    rk_subscription_t *subs;
    size_t nsubs;
    int consume_type, message_model, consume_from_where;
} rk_group_clients_t;

/* RK_ENOTFOUND when the group has no client (producer: a producer group). */
int rk_client_manager_group_info(rk_client_manager_t *m, const char *group, bool producer, rk_group_clients_t *out);
void rk_group_clients_free(rk_group_clients_t *gc);
/* The connection (and client version) of one member of a consumer group; RK_ENOTFOUND. */
int rk_client_manager_find_client(rk_client_manager_t *m, const char *group, const char *client_id, uint64_t *conn,
                                  int32_t *version);
/* The consumer groups with a live client subscribed to topic, sorted
 * (QUERY_TOPIC_CONSUME_BY_WHO); NULL if none. */
char **rk_client_manager_groups_of_topic(rk_client_manager_t *m, const char *topic, size_t *n);

#endif
