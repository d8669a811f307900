/* acl.h — the broker's access control, RocketMQ 4.x's "plain ACL".
 *
 * With aclEnable=true in broker.conf, every request is checked before its
 * processor runs (through rk_rserver_set_access_check) and refused with
 * NO_PERMISSION (16) and a remark naming the rule that refused it:
 *
 *   peer IP in globalWhiteRemoteAddresses? ── yes ─▶ allowed
 *        │ no
 *   AccessKey present and known? ──────────── no ──▶ refused
 *        │ yes
 *   peer IP in the account's whiteRemoteAddress? ── yes ─▶ allowed
 *        │ no
 *   Signature == HMAC-SHA1(secretKey, sorted extFields values + body)? ── no ─▶ refused
 *        │ yes
 *   admin-only request code and account not admin? ── yes ─▶ refused
 *        │ no
 *   each topic / group the request names: the account's permission
 *   (topicPerms / groupPerms, else defaultTopicPerm / defaultGroupPerm)
 *   covers what the code needs (PUB to send, SUB to pull) ─── no ─▶ refused
 *
 * The accounts live in a YAML file shaped like RocketMQ's plain_acl.yml
 * (aclFile=PATH; default plain_acl.yml beside broker.conf), read with
 * libyaml:
 *
 *   globalWhiteRemoteAddresses: [10.10.103.*, 192.168.0.*]
 *   accounts:
 *     - accessKey: RocketMQ
 *       secretKey: 12345678
 *       whiteRemoteAddress:             # "", 192.168.1.*, 192.168.1.1-10, 192.168.1.{1,2}, a,b
 *       admin: false
 *       defaultTopicPerm: DENY          # DENY, PUB, SUB, PUB|SUB (absent: DENY)
 *       defaultGroupPerm: SUB
 *       topicPerms: [topicA=DENY, topicB=PUB|SUB, topicC=SUB]
 *       groupPerms: [groupA=DENY, groupB=PUB|SUB]
 *
 * The file is checked every aclReloadIntervalMillis (size, mtime, inode)
 * and re-read when it changed; a file that does not parse keeps the rules
 * in force (logged). At start a bad file stops the broker. Secrets are
 * never logged or put in a remark. IPv4 addresses only. A request whose
 * body is over maxMessageSize + 1 MiB is refused before anything hashes it
 * (access keys are not secret, so anyone could make the broker hash 16 MiB).
 *
 * Threads: the checks and the reloads run on the broker's server loop.
 * Memory: an rk_acl_t owns every string it holds. */
#ifndef RK_ACL_H
#define RK_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/broker.h"
#include "rk/remoting_cmd.h"

/* Permission bits, RocketMQ's values. */
enum { RK_PERM_DENY = 1, RK_PERM_ANY = 2, RK_PERM_PUB = 4, RK_PERM_SUB = 8 };

/* Limits on what a file may hold (a file is config, hence hostile). */
#define RK_ACL_FILE_MAX (4 * 1024 * 1024)
#define RK_ACL_MAX_ENTRIES 100000       /* accounts + permissions + addresses, together */

typedef struct rk_acl rk_acl_t;

/* Parses a plain_acl.yml text. On error returns RK_EBADCONFIG with a
 * one-line reason (line number when libyaml knows it; never a secret). */
int rk_acl_parse(const char *text, size_t len, rk_acl_t **out, char *err, size_t errlen);
/* Reads and parses a file (at most RK_ACL_FILE_MAX bytes). */
int rk_acl_load_file(const char *path, rk_acl_t **out, char *err, size_t errlen);
void rk_acl_free(rk_acl_t *acl);
size_t rk_acl_accounts(const rk_acl_t *acl);

/* Checks one request from peer ("ip" or "ip:port"): 0 if allowed, else
 * RK_RESP_NO_PERMISSION with the reason in remark. */
int32_t rk_acl_check(const rk_acl_t *acl, const char *peer, const rk_cmd_t *req, char *remark, size_t len);

/* True when an IPv4 white-list pattern ("192.168.0.*", "10.0.0.1-10",
 * "10.0.0.{1,2}", "a.b.c.d,e.f.g.h", "*") is valid; matches ip when
 * *match is not NULL. For tests and the broker's start-up checks. */
bool rk_acl_ip_pattern(const char *pattern, const char *ip, bool *match);

/* The broker's settings for the ACL (aclEnable, aclFile, aclReloadIntervalMillis). */
typedef struct rk_acl_config {
    bool enable;
    char *file;
    int64_t reload_ms;
} rk_acl_config_t;
extern const rk_config_field_t rk_acl_config_fields[];

/* The broker module: reads the settings above in init, loads the file,
 * installs the access check and the reload timer. Inert without aclEnable. */
extern const rk_broker_module_t rk_broker_acl_module;

#endif
