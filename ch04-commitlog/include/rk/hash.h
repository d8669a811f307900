/* hash.h — the checksums and hashes RocketMQ's formats are defined with.
 *
 *   rk_crc32:        the CRC-32 of zlib and java.util.zip.CRC32, computed
 *                    by libdeflate (carry-less multiply when the CPU has
 *                    it); the record's BODYCRC is rk_crc32(body) & 0x7FFFFFFF.
 *   rk_java_hash:    Java's String.hashCode() over the UTF-16 code units of
 *                    a UTF-8 string (consume-queue tag codes, index keys).
 * No state. */
#ifndef RK_HASH_H
#define RK_HASH_H

#include <stddef.h>
#include <stdint.h>

uint32_t rk_crc32(const void *data, size_t len);
/* The 31-bit body CRC RocketMQ stores: CRC32 & 0x7FFFFFFF. */
static inline uint32_t rk_body_crc(const void *data, size_t len) { return rk_crc32(data, len) & 0x7FFFFFFFu; }
int32_t rk_java_hash(const char *s, size_t len);
/* The hash of prefix + s, given start = rk_java_hash(prefix), when prefix
 * ends with a whole character (an ASCII byte, say): the index hashes
 * "topic#" once per record and each key from there. */
int32_t rk_java_hash_continue(int32_t start, const char *s, size_t len);

#endif
