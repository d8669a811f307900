/* acl_sign.h — RocketMQ 4.x's request signature (AclClientRPCHook), shared
 * by the SDK, which signs, and the broker's ACL (rk/acl.h), which verifies.
 *
 *   content   = the extFields VALUES, in the order of their KEYS (byte order,
 *               Java's TreeMap for ASCII keys), Signature left out,
 *               followed by the body bytes
 *   Signature = Base64( HMAC-SHA1(key = secretKey, content) )
 *
 * The client adds AccessKey (and SecurityToken, when it has one) to the
 * extFields *before* computing the content, so the access key is signed too,
 * then adds Signature. The broker recomputes the same content from what it
 * received (also leaving out "_UNIQUE_KEY_QUERY", as RocketMQ's
 * PlainAccessValidator does) with the secret it holds for that AccessKey.
 *
 * SHA-1 (FIPS 180-4), HMAC (RFC 2104) and Base64 (RFC 4648) are implemented
 * here in a few dozen lines rather than linking OpenSSL into the client
 * library: none of rocklet's dependencies has them. They are tested
 * against the RFCs' vectors (tests/test_acl_sign.c). SHA-1 is weak for
 * collisions but HMAC-SHA1 is still a sound MAC; it is what the wire
 * protocol fixes.
 *
 * No state, no allocation except where noted. */
#ifndef RK_ACL_SIGN_H
#define RK_ACL_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rk/remoting_cmd.h"

#define RK_ACL_ACCESS_KEY "AccessKey"
#define RK_ACL_SIGNATURE "Signature"
#define RK_ACL_SECURITY_TOKEN "SecurityToken"
#define RK_SHA1_LEN 20
/* Base64 of a 20-byte digest: 28 characters and a NUL. */
#define RK_ACL_SIG_MAX 29

typedef struct rk_sha1 {
    uint32_t h[5];
    uint64_t total;             /* bytes fed */
    uint8_t block[64];
    size_t used;                /* bytes in block */
} rk_sha1_t;

void rk_sha1_init(rk_sha1_t *s);
void rk_sha1_update(rk_sha1_t *s, const void *data, size_t len);
void rk_sha1_final(rk_sha1_t *s, uint8_t out[RK_SHA1_LEN]);

/* HMAC-SHA1 streamed: init with the key, feed the message, final. */
typedef struct rk_hmac_sha1 {
    rk_sha1_t inner;
    uint8_t okey[64];           /* key ^ opad */
} rk_hmac_sha1_t;

void rk_hmac_sha1_init(rk_hmac_sha1_t *h, const void *key, size_t key_len);
void rk_hmac_sha1_update(rk_hmac_sha1_t *h, const void *data, size_t len);
void rk_hmac_sha1_final(rk_hmac_sha1_t *h, uint8_t out[RK_SHA1_LEN]);

/* Standard Base64 with padding; out must hold 4 * ceil(len / 3) + 1 bytes.
 * Returns the length written (without the NUL). */
size_t rk_base64_encode(const void *data, size_t len, char *out);

/* Compares two strings in time that depends on their lengths only, never
 * on where they differ (a signature check must not tell an attacker how
 * many leading characters were right). */
bool rk_ct_streq(const char *a, const char *b);

/* The signature of cmd's extFields and body under secret, into out
 * (RK_ACL_SIG_MAX). skip (may be NULL) names one more key to leave out
 * besides Signature (the broker passes "_UNIQUE_KEY_QUERY").
 * RK_ENOMEM if the key list cannot be sorted. */
int rk_acl_signature(const rk_cmd_t *cmd, const char *secret, const char *skip, char out[RK_ACL_SIG_MAX]);

/* What the client does before each request: sets AccessKey (and
 * SecurityToken when token is not NULL), then Signature. A request that
 * already carries a signature (a retry) is signed again. */
int rk_acl_sign_request(rk_cmd_t *cmd, const char *access_key, const char *secret, const char *token);

#endif
