/* store_config.c — chapter 5's configuration schema (see rk/store_config.h). */
#include "rk/store_config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define F(k, t, f, d, lo, hi, h) {k, t, offsetof(rk_cq_store_config_t, f), d, lo, hi, NULL, h}

const rk_config_field_t rk_cq_store_config_fields[] = {
    F("mappedFileSizeConsumeQueue", RK_CFG_INT, mapped_file_size_cq, "6000000", 20, 1LL << 40,
      "bytes per consume-queue file (rounded down to 20-byte units)"),
    F("flushIntervalConsumeQueue", RK_CFG_INT, flush_interval_cq, "1000", 1, 3600000,
      "ms between consume-queue flushes"),
    F("flushConsumeQueueLeastPages", RK_CFG_INT, flush_cq_least_pages, "2", 0, 1 << 20,
      "dirty 4 KiB pages needed before a periodic flush"),
    F("flushConsumeQueueThoroughInterval", RK_CFG_INT, flush_cq_thorough_interval, "60000", 0,
      86400000, "ms after which everything dirty is flushed (and the checkpoint)"),
    F("flushConsumerOffsetInterval", RK_CFG_INT, flush_consumer_offset_interval, "5000", 1,
      3600000, "ms between consumerOffset.json writes"),
    F("messageIndexEnable", RK_CFG_BOOL, message_index_enable, "true", 1, 0,
      "build index/ files for lookups by key and UNIQ_KEY"),
    F("maxHashSlotNum", RK_CFG_INT, max_hash_slot_num, "5000000", 1, 1 << 30,
      "hash slots per index file"),
    F("maxIndexNum", RK_CFG_INT, max_index_num, "20000000", 2, 1 << 30,
      "entries per index file"),
    F("fileReservedTime", RK_CFG_INT, file_reserved_time, "72", 0, 1 << 20,
      "hours a commitlog file is kept"),
    F("deleteWhen", RK_CFG_STR, delete_when, "04", 1, 0,
      "hours of the day (';'-separated) when expired files are deleted"),
    F("diskMaxUsedSpaceRatio", RK_CFG_INT, disk_max_used_space_ratio, "75", 10, 95,
      "disk usage (%, as df) above which expired files are deleted whatever the hour, the oldest first"),
    F("diskSpaceWarningLevelRatio", RK_CFG_INT, disk_space_warning_ratio, "90", 1, 99,
      "disk usage (%, as df) above which the store is read-only: puts are refused until space is freed"),
    F("cleanResourceInterval", RK_CFG_INT, clean_resource_interval, "10000", 1, 86400000,
      "ms between cleanup scans"),
    F("warmMapedFileEnable", RK_CFG_BOOL, warm_mapped_file, "false", 1, 0,
      "touch every page of a new consume-queue file"),
    F("maxTransferBytesOnMessageInMemory", RK_CFG_INT, max_transfer_bytes, "262144", 1, 1 << 30,
      "default byte limit of one get"),
    F("maxTransferCountOnMessageInMemory", RK_CFG_INT, max_transfer_count, "32", 1, 1 << 20,
      "default message limit of one get"),
    F("metadataFallbackToBak", RK_CFG_BOOL, metadata_fallback_to_bak, "false", 1, 0,
      "load config/*.json.bak when the file itself is unusable (default: refuse to start)"),
    {0},
};

bool rk_cq_store_is_delete_hour(const char *delete_when, int64_t now_ms)
{
    if (delete_when == NULL)
        return false;
    time_t s = (time_t)(now_ms / 1000);
    struct tm tm;
    localtime_r(&s, &tm);
    const char *p = delete_when;
    while (*p) {
        char *end = NULL;
        long h = strtol(p, &end, 10);
        if (end == p)
            break;
        if (h == tm.tm_hour)
            return true;
        p = end;
        while (*p == ';' || *p == ' ')
            p++;
    }
    return false;
}
