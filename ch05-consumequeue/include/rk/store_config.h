/* store_config.h — chapter 5's store settings, with RocketMQ's key names.
 *
 * These keys sit in the same broker.conf as ch04's commitlog keys; each
 * chapter applies its own schema table to the shared rk_kv_t (see
 * rk/config.h). Defaults are MessageStoreConfig's:
 *
 *   mappedFileSizeConsumeQueue        6000000   (300,000 units of 20 bytes)
 *   flushIntervalConsumeQueue         1000 ms
 *   flushConsumeQueueLeastPages       2
 *   flushConsumeQueueThoroughInterval 60000 ms
 *   flushConsumerOffsetInterval       5000 ms
 *   messageIndexEnable                true
 *   maxHashSlotNum / maxIndexNum      5000000 / 20000000
 *   fileReservedTime                  72 h
 *   deleteWhen                        "04"    (hours, ';'-separated)
 *   diskMaxUsedSpaceRatio             75 %   (above: cleanup at any hour, oldest files first)
 *   diskSpaceWarningLevelRatio        90 %   (above: read-only; RocketMQ's -D property of
 *                                             that name, a broker.conf key here)
 *   cleanResourceInterval             10000 ms
 *   warmMapedFileEnable               false   (RocketMQ's spelling)
 *   maxTransferBytesOnMessageInMemory 262144, maxTransferCountOnMessageInMemory 32
 *   metadataFallbackToBak             false   (rocklet's own: load config/X.json.bak
 *                                              when X.json is unusable, instead of
 *                                              refusing to start)
 *
 * The table is constant data; the struct is owned by whoever fills it
 * (rk_config_free releases delete_when). */
#ifndef RK_STORE_CONFIG_H
#define RK_STORE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "rk/config.h"

typedef struct rk_cq_store_config {
    int64_t mapped_file_size_cq;
    int64_t flush_interval_cq;
    int64_t flush_cq_least_pages;
    int64_t flush_cq_thorough_interval;
    int64_t flush_consumer_offset_interval;
    bool message_index_enable;
    int64_t max_hash_slot_num;
    int64_t max_index_num;
    int64_t file_reserved_time;          /* hours */
    char *delete_when;                   /* "04" or "04;16" */
    int64_t disk_max_used_space_ratio;   /* percent */
    int64_t disk_space_warning_ratio;    /* percent: read-only above */
    int64_t clean_resource_interval;     /* ms */
    bool warm_mapped_file;
    int64_t max_transfer_bytes;          /* default batch limits of a get */
    int64_t max_transfer_count;
    bool metadata_fallback_to_bak;       /* see rk_file_load (rk/fileutil.h) */
} rk_cq_store_config_t;

extern const rk_config_field_t rk_cq_store_config_fields[];

/* The key that opts in to loading a metadata file's .bak when the file
 * itself is unusable; named in the refusal message. */
#define RK_METADATA_FALLBACK_KEY "metadataFallbackToBak"

/* Is the local hour of `now_ms` one of delete_when's hours? */
bool rk_cq_store_is_delete_hour(const char *delete_when, int64_t now_ms);

#endif
