/* mqadmin_int.h — what mqadmin_cmds.c shares with the admin commands of
 * mqadmin_admin.c (private to src/admin; see rk/mqadmin.h for the table).
 * Memory: clients, responses and JSON trees returned are the caller's. */
#ifndef RK_MQADMIN_INT_H
#define RK_MQADMIN_INT_H

#include <cjson/cJSON.h>

#include "rk/mqclient.h"

/* A client of the name servers ns ("host:port;..."), with what every
 * command's client gets (mqadmin_cmds.c's client()); NULL said on stderr. */
rk_mqclient_t *rk__mqadmin_client(const char *ns);
/* Sends req (taken) to addr (NULL: a name server); the response if it is
 * SUCCESS, else NULL with the reason on stderr ("mqadmin: what: ..."). */
rk_cmd_t *rk__mqadmin_ask(rk_mqclient_t *c, const char *addr, rk_cmd_t *req, const char *what);
/* The same, the body parsed as JSON. */
/* GET_BROKER_CLUSTER_INFO: brokerAddrTable and clusterAddrTable. */
cJSON *rk__mqadmin_cluster_info(rk_mqclient_t *c);
/* queryMsgById as chapter 7 has it (the admin commands add -g/-d). */
int rk__mqadmin_query_by_id(int argc, char **argv);
/* "2024-01-02 03:04:05,678" (local time) or "-". */
char *rk__mqadmin_fmt_time(int64_t ms, char *buf, size_t len);

/* The admin commands (mqadmin_admin.c). */
int rk__mqadmin_consumer_connection(int argc, char **argv);
int rk__mqadmin_producer_connection(int argc, char **argv);
int rk__mqadmin_update_sub_group(int argc, char **argv);
int rk__mqadmin_delete_sub_group(int argc, char **argv);
int rk__mqadmin_delete_topic(int argc, char **argv);
int rk__mqadmin_reset_offset_by_time(int argc, char **argv);
int rk__mqadmin_consumer_status(int argc, char **argv);
int rk__mqadmin_get_broker_config(int argc, char **argv);
int rk__mqadmin_update_broker_config(int argc, char **argv);
int rk__mqadmin_broker_consume_stats(int argc, char **argv);
int rk__mqadmin_query_msg_by_id(int argc, char **argv);
int rk__mqadmin_query_cq(int argc, char **argv);

#endif
