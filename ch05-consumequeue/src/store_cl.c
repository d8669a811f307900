/* store_cl.c — chapter 5's calls into ch04's CommitLog (see store_cl.h). */
#include "store_cl.h"

#include <stdlib.h>
#include <string.h>

#include "rk/checkpoint.h"
#include "rk/error.h"
#include "rk/mapped_file.h"

int rk_store_cl_open(const char *root, rk_kv_t *kv, rk_commitlog_t **out, char *err, size_t errlen)
{
    rk_commitlog_config_t cfg;
    int rc = rk_commitlog_config_load(&cfg, kv, err, errlen);
    if (rc != RK_OK)
        return rc;
    /* the store's root wins over storePathRootDir */
    char *r = strdup(root);
    if (r == NULL) {
        rk_commitlog_config_free(&cfg);
        return RK_ENOMEM;
    }
    free(cfg.store_root);
    cfg.store_root = r;
    cfg.skip_queue_offset_scan = true;      /* seeded from the consume queues instead */
    rc = rk_commitlog_open(&cfg, out, err, errlen);
    rk_commitlog_config_free(&cfg);
    return rc;
}

int rk_store_cl_read(rk_commitlog_t *cl, int64_t off, const uint8_t **p, size_t *avail, void **hold)
{
    rk_slice_t s;
    int rc = rk_commitlog_read(cl, off, &s);
    if (rc != RK_OK)
        return rc;
    *p = s.data;
    *avail = s.len;
    *hold = s.mf;
    return RK_OK;
}

int rk_store_cl_slice(rk_commitlog_t *cl, int64_t off, int32_t size, const uint8_t **p, void **hold)
{
    size_t avail;
    int rc = rk_store_cl_read(cl, off, p, &avail, hold);
    if (rc != RK_OK)
        return rc;
    if (size <= 0 || (size_t)size > avail) {
        rk_mapped_file_release(*hold);
        *hold = NULL;
        return RK_ENOTFOUND;
    }
    return RK_OK;
}

void rk_store_cl_release(void *hold) { rk_mapped_file_release(hold); }

void rk_store_cl_checkpoint_update(rk_commitlog_t *cl, int64_t logics, int64_t index)
{
    rk_checkpoint_t *cp = rk_commitlog_checkpoint(cl);
    if (logics > 0)
        rk_checkpoint_set_logics(cp, logics);
    if (index > 0)
        rk_checkpoint_set_index(cp, index);
    rk_checkpoint_flush(cp);
}

int rk_store_cl_delete_expired(rk_commitlog_t *cl, int64_t reserved_ms, bool force, int64_t keep_from)
{
    int64_t min = rk_commitlog_min_offset(cl), fsize = rk_commitlog_file_size(cl);
    /* whole files entirely below keep_from */
    int64_t max_files = keep_from > min ? (keep_from - min) / fsize : 0;
    if (max_files <= 0)
        return 0;
    return rk_commitlog_delete_expired(cl, reserved_ms, force, (int)max_files);
}
