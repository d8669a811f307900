/* localconf.h — the local cluster's configuration (final/conf/local) moved to free ports and a
 * folder of one's own, for tests and benchmarks that run the shipped files without touching a
 * cluster a student may have running (final's testkit; never linked into a server).
 *
 *   rk_lc_proc_t p[RK_LC_MAX]; char ns[160];
 *   int n = rk_lc_write(RK_SRC_ROOT "/final/conf/local", dir, NULL, p, RK_LC_MAX, ns, sizeof ns);
 *
 * Every conf file of the source folder (namesrv-*.conf, broker-*.conf) becomes
 * dir/NAME/NAME.conf with every port (listenPort, haListenPort, the ports in namesrvAddr and
 * dLegerPeers) replaced consistently by a free one, storePathRootDir and kvConfigPath made
 * absolute under dir/NAME/, and `broker_extra` appended to each broker's. Name servers come
 * first in p[], then brokers, each sorted by name. Nothing is allocated. */
#ifndef RK_LOCALCONF_H
#define RK_LOCALCONF_H

#include <stdbool.h>

#define RK_LC_MAX 16

typedef struct rk_lc_proc {
    char name[64];          /* namesrv-1, broker-a-n0, ... (the conf file's name) */
    char home[400];         /* dir/NAME: its store and kv files go there */
    char conf[400];         /* dir/NAME/NAME.conf */
    char group[128];        /* brokerName; "" for a name server */
    int port;               /* listenPort (the new one) */
    bool broker;
} rk_lc_proc_t;

/* Returns how many processes it wrote (0 if the folder has none), or a negative RK_E* / -errno
 * (err says what). ns receives "127.0.0.1:p1;127.0.0.1:p2", the new name server list. */
int rk_lc_write(const char *src_dir, const char *dst_dir, const char *broker_extra, rk_lc_proc_t *procs, int max,
                char *ns, int nslen, char *err, int errlen);

/* A broker's GET_BROKER_RUNTIME_INFO value for key into out ("" and RK_ENOTFOUND if absent,
 * an rk error if the broker does not answer within timeout_ms). */
int rk_lc_runtime(const char *addr, const char *key, char *out, int outlen, int timeout_ms);
/* The port of group's master as the name server ns ("host:port;...", the first that answers)
 * registered it (brokerId 0 in GET_BROKER_CLUSTER_INFO); -1 if none. */
int rk_lc_registered_master(const char *ns, const char *group);
/* One SEND_MESSAGE_V2 of body to topic on the broker at addr, as the Java client sends it
 * (auto-created from TBW102 with 4 queues): the response code (0 SEND_OK), or a negative rk
 * error when the broker did not answer within timeout_ms. */
int rk_lc_send(const char *addr, const char *topic, const void *body, int len, int timeout_ms);

#endif
