/* ha.c — the HA service: master server, slave client, parked SYNC_MASTER sends (see rk/ha.h).
 *
 * Banner map: config · parked sends (ack stage) · master side · slave side ·
 * loop and timers · role switch · module. Metadata copies live in ha_meta.c. */
#include "rk/ha.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ha_internal.h"
#include "rk/buf.h"
#include "rk/clock.h"
#include "rk/error.h"
#include "rk/log.h"
#include "rk/thread.h"

/* ------------------------------------------------------------ config */

static const char *const roles[] = {"ASYNC_MASTER", "SYNC_MASTER", "SLAVE", NULL};

#define F(f) offsetof(rk_ha_config_t, f)
const rk_config_field_t rk_ha_config_fields[] = {
    {"brokerRole", RK_CFG_ENUM, F(role), "ASYNC_MASTER", 0, -1, roles, "ASYNC_MASTER | SYNC_MASTER | SLAVE"},
    {"haListenPort", RK_CFG_INT, F(listen_port), "-1", -1, 65535, NULL,
     "HA port (-1: listenPort + 1; 0: any free port)"},
    {"haMasterAddress", RK_CFG_STR, F(master_address), NULL, 0, -1, NULL,
     "slave: the master's HA address ip:port (unset: what the name server says)"},
    {"brokerIP2", RK_CFG_STR, F(broker_ip2), NULL, 0, -1, NULL, "HA address slaves reach (unset: brokerIP1)"},
    {"haSendHeartbeatInterval", RK_CFG_INT, F(heartbeat_ms), "5000", 100, 600000, NULL,
     "slave reports / master heartbeats at least this often (ms)"},
    {"haHousekeepingInterval", RK_CFG_INT, F(housekeeping_ms), "20000", 500, 3600000, NULL,
     "close an HA connection silent this long (ms)"},
    {"haTransferBatchSize", RK_CFG_INT, F(batch_size), "32768", 1024, 1 << 20, NULL,
     "largest chunk of commitlog per frame (bytes)"},
    {"haSlaveFallbehindMax", RK_CFG_INT, F(fallbehind_max), "268435456", 0, 1LL << 40, NULL,
     "SYNC_MASTER: a slave further behind counts as unavailable (bytes)"},
    {"syncFlushTimeout", RK_CFG_INT, F(sync_timeout_ms), "5000", 1, 600000, NULL,
     "SYNC_MASTER: how long a send waits for a slave (ms)"},
    {"slaveReadEnable", RK_CFG_BOOL, F(slave_read_enable), "false", 0, -1, NULL, "a slave serves pulls"},
    {"slaveSyncMetaInterval", RK_CFG_INT, F(meta_sync_ms), "10000", 100, 3600000, NULL,
     "slave: copy topics, offsets and groups from the master this often (ms; rocklet)"},
    {0},
};
#undef F

#define RECV_FRAME_MAX (1 << 20)    /* what we accept from a master (RocketMQ sends <= 32 KiB) */
#define MAX_SLAVES 16               /* HA connections a master keeps at once (bounded memory) */

static uint64_t now_ms(void) { return rk_mono_ms(); }
static void wake(rk_ha_t *ha) { uv_async_send(&ha->wake); }

/* ------------------------------------------------------------ parked sends (ack stage)
 *
 * A SYNC_MASTER put comes here after the flush stage. It is answered right
 * away when a slave already holds it or none is usable, otherwise parked in
 * a list ordered by end offset; the HA thread completes the front of the
 * list as slaves report, and expires what waited syncFlushTimeout. */

static void ack_stage(void *ctx, rk_ack_t *ack)
{
    rk_ha_t *ha = ctx;
    int role = atomic_load(&ha->role);
    if (role != RK_HA_SYNC_MASTER && atomic_load(&ha->quorum) >= 0) {
        /* election mode, and no longer the master (a step-down raced this
         * put through the write gate): never acknowledged without a majority */
        rk_ack_done(ack, RK_PUT_SLAVE_NOT_AVAILABLE);
        return;
    }
    if (role != RK_HA_SYNC_MASTER || !rk_ack_wants_wait(ack)) {
        rk_ack_done(ack, RK_PUT_OK);
        return;
    }
    int64_t end = rk_ack_end_offset(ack);
    int quorum = atomic_load(&ha->quorum);
    if (quorum == 0 || (quorum > 0 ? atomic_load(&ha->qacked) : atomic_load(&ha->acked)) >= end) {
        rk_ack_done(ack, RK_PUT_OK);
        return;
    }
    /* Election mode waits for a majority even with no slave connected yet
     * (right after an election the followers are still connecting). */
    if (quorum < 0 && (atomic_load(&ha->nslaves) == 0 || end - atomic_load(&ha->acked) > ha->cfg.fallbehind_max)) {
        rk_ack_done(ack, RK_PUT_SLAVE_NOT_AVAILABLE);
        return;
    }
    parked_t *p = malloc(sizeof *p);
    if (p == NULL) {
        rk_ack_done(ack, RK_PUT_UNKNOWN_ERROR);
        return;
    }
    p->ack = ack;
    p->end = end;
    p->deadline = now_ms() + (uint64_t)ha->cfg.sync_timeout_ms;
    p->next = NULL;
    uv_mutex_lock(&ha->mu);
    if (ha->stopped) {
        uv_mutex_unlock(&ha->mu);
        free(p);
        rk_ack_done(ack, RK_PUT_SLAVE_NOT_AVAILABLE);
        return;
    }
    /* puts arrive nearly in offset order: insert from the tail */
    parked_t **pp = &ha->parked;
    if (ha->parked_tail != NULL && ha->parked_tail->end <= end)
        pp = &ha->parked_tail->next;
    else
        while (*pp != NULL && (*pp)->end <= end)
            pp = &(*pp)->next;
    p->next = *pp;
    *pp = p;
    if (p->next == NULL)
        ha->parked_tail = p;
    ha->nparked++;
    uv_mutex_unlock(&ha->mu);
    wake(ha);       /* a slave may have reported in between */
}

/* Completes parked sends a slave holds (OK), that waited too long
 * (FLUSH_SLAVE_TIMEOUT), or all of them with `all_status` when != OK. */
static void complete_parked(rk_ha_t *ha, rk_put_status_t all_status)
{
    int64_t acked = atomic_load(&ha->quorum) >= 0 ? atomic_load(&ha->qacked) : atomic_load(&ha->acked);
    uint64_t now = now_ms();
    parked_t *done = NULL, **dtail = &done;
    uv_mutex_lock(&ha->mu);
    for (parked_t **pp = &ha->parked; *pp != NULL;) {
        parked_t *p = *pp;
        rk_put_status_t st;
        if (all_status != RK_PUT_OK)
            st = all_status;
        else if (p->end <= acked)
            st = RK_PUT_OK;
        else if (now >= p->deadline)
            st = RK_PUT_FLUSH_SLAVE_TIMEOUT;
        else {
            pp = &p->next;      /* still waiting */
            continue;
        }
        *pp = p->next;
        p->status = st;
        p->next = NULL;
        *dtail = p;
        dtail = &p->next;
        ha->nparked--;
    }
    ha->parked_tail = NULL;
    for (parked_t *p = ha->parked; p != NULL; p = p->next)
        ha->parked_tail = p;
    uv_mutex_unlock(&ha->mu);
    for (parked_t *p = done, *next; p != NULL; p = next) {
        next = p->next;
        rk_ack_done(p->ack, p->status);     /* answers the producer from this thread */
        free(p);
    }
}

static int notify_dispatch(void *ctx, const rk_dispatch_request_t *d)
{
    (void)d;
    rk_ha_t *ha = ctx;
    if (atomic_load(&ha->nslaves) > 0)
        wake(ha);
    return 0;
}

/* ------------------------------------------------------------ master side */

static void sconn_closed(uv_handle_t *h)
{
    sconn_t *c = h->data;
    rk_slice_release(&c->slice);
    free(c);
}

static void sconn_close(sconn_t *c, const char *why)
{
    if (c->closing)
        return;
    rk_ha_t *ha = c->ha;
    c->closing = true;
    for (sconn_t **pp = &ha->slaves; *pp != NULL; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    atomic_fetch_sub(&ha->nslaves, 1);
    rk_log_info("ha", "slave %s disconnected: %s (it held up to %" PRId64 ")", c->peer, why, c->ack);
    uv_close((uv_handle_t *)&c->tcp, sconn_closed);
}

static void sconn_try_send(sconn_t *c);
static bool update_quorum(rk_ha_t *ha);

static void sconn_wrote(uv_write_t *w, int status)
{
    sconn_t *c = w->data;
    c->writing = false;
    c->next_off += c->inflight;
    c->inflight = 0;
    rk_slice_release(&c->slice);
    if (c->closing)
        return;
    if (status < 0) {
        sconn_close(c, uv_strerror(status));
        return;
    }
    c->last_write = now_ms();
    sconn_try_send(c);
}

/* One frame at a time: the next chunk of the log, or a heartbeat when idle. */
static void sconn_try_send(sconn_t *c)
{
    rk_ha_t *ha = c->ha;
    if (c->writing || c->closing || c->next_off < 0)
        return;
    rk_commitlog_t *cl = rk_store_commitlog(rk_broker_store(ha->b));
    int64_t max = rk_commitlog_max_offset(cl);
    size_t len = 0;
    if (c->next_off < max) {
        if (c->next_off < rk_commitlog_min_offset(cl)) {
            sconn_close(c, "it needs data older than this log keeps");
            return;
        }
        if (rk_commitlog_read(cl, c->next_off, &c->slice) != RK_OK)
            return;     /* the next file appears with its first record: try again later */
        len = c->slice.len < (size_t)ha->cfg.batch_size ? c->slice.len : (size_t)ha->cfg.batch_size;
    } else if (now_ms() - c->last_write < (uint64_t)ha->cfg.heartbeat_ms) {
        return;
    }
    rk_be_put64(c->hdr, (uint64_t)c->next_off);
    rk_be_put32(c->hdr + 8, (uint32_t)len);
    uv_buf_t bufs[2] = {uv_buf_init((char *)c->hdr, 12), uv_buf_init((char *)c->slice.data, (unsigned)len)};
    c->inflight = (int64_t)len;
    c->writing = true;
    c->wr.data = c;
    int rc = uv_write(&c->wr, (uv_stream_t *)&c->tcp, bufs, len ? 2 : 1, sconn_wrote);
    if (rc < 0) {
        c->writing = false;
        c->inflight = 0;
        rk_slice_release(&c->slice);
        sconn_close(c, uv_strerror(rc));
    }
}

static void sconn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    sconn_t *c = h->data;
    buf->base = (char *)c->rbuf;
    buf->len = sizeof c->rbuf;
}

/* The slave's reports: 8-byte offsets, possibly split or several at once;
 * the newest complete one counts. */
static void sconn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    sconn_t *c = s->data;
    rk_ha_t *ha = c->ha;
    if (n < 0) {
        sconn_close(c, n == UV_EOF ? "closed by the slave" : uv_strerror((int)n));
        return;
    }
    int64_t report = -1;
    bool got = false;
    for (ssize_t i = 0; i < n; i++) {
        c->part[c->npart++] = (uint8_t)buf->base[i];
        if (c->npart == 8) {
            report = (int64_t)rk_be_get64(c->part);
            c->npart = 0;
            got = true;
        }
    }
    if (n > 0)
        c->last_read = now_ms();
    if (!got)
        return;
    if (report < 0) {
        sconn_close(c, "it reported a negative offset");
        return;
    }
    rk_commitlog_t *cl = rk_store_commitlog(rk_broker_store(ha->b));
    int64_t max = rk_commitlog_max_offset(cl);
    if (report > max) {
        /* A slave ahead of its master has a log we never wrote: refuse it
         * rather than stream bytes that would not line up. */
        char why[128];
        snprintf(why, sizeof why, "it reports offset %" PRId64 ", beyond this log's end %" PRId64, report, max);
        sconn_close(c, why);
        return;
    }
    c->ack = report;
    if (c->next_off < 0) {
        int64_t fs = rk_commitlog_file_size(cl);
        /* election mode: a new replica copies the whole log (it may become
         * the master, and counts toward majorities of every older message) */
        c->next_off = report > 0 ? report
                      : atomic_load(&ha->quorum) >= 0 ? rk_commitlog_min_offset(cl) : max - max % fs;
        rk_log_info("ha", "slave %s holds up to %" PRId64 "; streaming from %" PRId64, c->peer, report, c->next_off);
    }
    int64_t prev = atomic_load(&ha->acked);
    while (report > prev && !atomic_compare_exchange_weak(&ha->acked, &prev, report))
        ;
    bool moved = update_quorum(ha);     /* both: || would skip the quorum */
    if (report > prev || moved)
        complete_parked(ha, RK_PUT_OK);
    sconn_try_send(c);
}

/* Election mode: what `quorum` slaves all hold — the quorum-th highest of
 * their reports (a replica has one HA connection). Never moves back while
 * this broker stays master. True if it moved. HA thread. */
static bool update_quorum(rk_ha_t *ha)
{
    int k = atomic_load(&ha->quorum);
    if (k <= 0)
        return false;
    bool by_host = atomic_load(&ha->quorum_by_host);
    struct {
        char host[64];
        int64_t ack;
    } v[MAX_SLAVES + 1];
    int n = 0;
    for (sconn_t *c = ha->slaves; c != NULL && n < MAX_SLAVES + 1; c = c->next) {
        if (c->closing || c->ack < 0)
            continue;
        char host[64];
        snprintf(host, sizeof host, "%s", c->peer);
        char *colon = strrchr(host, ':');
        if (colon != NULL)
            *colon = '\0';
        int i = 0;
        if (by_host)        /* one vote per machine: a stale second connection of a replica counts once */
            while (i < n && strcmp(v[i].host, host) != 0)
                i++;
        else
            i = n;
        if (i == n) {
            snprintf(v[n].host, sizeof v[n].host, "%s", host);
            v[n++].ack = c->ack;
        } else if (c->ack > v[i].ack) {
            v[i].ack = c->ack;
        }
    }
    if (n < k)
        return false;
    int64_t acks[MAX_SLAVES + 1];
    for (int i = 0; i < n; i++) {           /* insertion sort, highest first */
        int j = i;
        while (j > 0 && acks[j - 1] < v[i].ack) {
            acks[j] = acks[j - 1];
            j--;
        }
        acks[j] = v[i].ack;
    }
    int64_t q = acks[k - 1], prev = atomic_load(&ha->qacked);
    if (q <= prev)
        return false;
    atomic_store(&ha->qacked, q);
    return true;
}

static void on_slave_connect(uv_stream_t *server, int status)
{
    rk_ha_t *ha = server->data;
    if (status < 0)
        return;
    sconn_t *c = calloc(1, sizeof *c);
    if (c == NULL || uv_tcp_init(&ha->loop, &c->tcp) != 0) {
        free(c);
        return;
    }
    c->tcp.data = c;
    c->ha = ha;
    c->next_off = -1;
    c->ack = -1;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, sconn_closed);
        return;
    }
    struct sockaddr_storage sa;
    int len = sizeof sa;
    snprintf(c->peer, sizeof c->peer, "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &len) == 0 && sa.ss_family == AF_INET) {
        char ip[40];
        uv_ip4_name((struct sockaddr_in *)&sa, ip, sizeof ip);
        snprintf(c->peer, sizeof c->peer, "%s:%d", ip, ntohs(((struct sockaddr_in *)&sa)->sin_port));
    }
    if (atomic_load(&ha->nslaves) >= MAX_SLAVES) {
        rk_log_warn("ha", "refusing HA connection from %s: already %d", c->peer, MAX_SLAVES);
        uv_close((uv_handle_t *)&c->tcp, sconn_closed);
        return;
    }
    c->last_read = c->last_write = now_ms();
    c->next = ha->slaves;
    ha->slaves = c;
    atomic_fetch_add(&ha->nslaves, 1);
    rk_log_info("ha", "slave %s connected", c->peer);
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, sconn_alloc, sconn_read) != 0)
        sconn_close(c, "cannot read");
}

/* ------------------------------------------------------------ slave side */

static void mc_closed(uv_handle_t *h)
{
    rk_ha_t *ha = h->data;
    ha->mc.state = MC_IDLE;
    ha->mc.next_try = now_ms() + 1000;
}

static void mc_close(rk_ha_t *ha, const char *why)
{
    mclient_t *m = &ha->mc;
    if (m->state == MC_IDLE || m->state == MC_CLOSING)
        return;
    rk_log_warn("ha", "connection to master %s closed: %s (this log ends at %" PRId64 ")", m->addr, why,
                rk_commitlog_max_offset(rk_store_commitlog(rk_broker_store(ha->b))));
    m->state = MC_CLOSING;
    atomic_store(&ha->connected, false);
    uv_close((uv_handle_t *)&m->tcp, mc_closed);
}

static void mc_report(rk_ha_t *ha);

static void mc_wrote(uv_write_t *w, int status)
{
    rk_ha_t *ha = w->data;
    ha->mc.writing = false;
    if (status < 0) {
        mc_close(ha, uv_strerror(status));
        return;
    }
    /* chunks applied while this report was on its way: say so now, a
     * SYNC_MASTER's parked sends wait for it */
    if (rk_commitlog_max_offset(rk_store_commitlog(rk_broker_store(ha->b))) != ha->mc.reported)
        mc_report(ha);
}

/* "I hold up to here": the commitlog's max offset, 8 bytes. */
static void mc_report(rk_ha_t *ha)
{
    mclient_t *m = &ha->mc;
    if (m->state != MC_CONNECTED || m->writing)
        return;
    int64_t max = rk_commitlog_max_offset(rk_store_commitlog(rk_broker_store(ha->b)));
    rk_be_put64(m->out, (uint64_t)max);
    uv_buf_t b = uv_buf_init((char *)m->out, 8);
    m->wr.data = ha;
    m->writing = true;
    int rc = uv_write(&m->wr, (uv_stream_t *)&m->tcp, &b, 1, mc_wrote);
    if (rc < 0) {
        m->writing = false;
        mc_close(ha, uv_strerror(rc));
        return;
    }
    m->reported = max;
    m->last_report = now_ms();
}

/* Appends the staged bytes that form whole records; keeps a torn tail for
 * the next frame. Bytes below the log's end can only be the zeros after a
 * BLANK (the log moved to the next file): they are checked and dropped. */
static int mc_apply(rk_ha_t *ha)
{
    mclient_t *m = &ha->mc;
    rk_commitlog_t *cl = rk_store_commitlog(rk_broker_store(ha->b));
    for (;;) {
        if (m->staged == 0)
            return RK_OK;
        int64_t base = m->stream - (int64_t)m->staged, max = rk_commitlog_max_offset(cl);
        if (base < max) {
            size_t skip = (size_t)(max - base) < m->staged ? (size_t)(max - base) : m->staged;
            for (size_t i = 0; i < skip; i++)
                if (m->stage[i] != 0)
                    return RK_ECORRUPT;
            memmove(m->stage, m->stage + skip, m->staged - skip);
            m->staged -= skip;
            continue;
        }
        size_t used = 0;
        int rc = rk_commitlog_append_raw(cl, base, m->stage, m->staged, &used);
        if (rc != RK_OK)
            return rc;
        if (used == 0)
            return m->staged == m->cap ? RK_ETOOBIG : RK_OK;
        memmove(m->stage, m->stage + used, m->staged - used);
        m->staged -= used;
    }
}

static void mc_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    rk_ha_t *ha = h->data;
    buf->base = (char *)ha->mc.rbuf;
    buf->len = sizeof ha->mc.rbuf;
}

static void mc_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    rk_ha_t *ha = s->data;
    mclient_t *m = &ha->mc;
    if (n < 0) {
        mc_close(ha, n == UV_EOF ? "closed by the master" : uv_strerror((int)n));
        return;
    }
    if (n == 0)
        return;
    m->last_read = now_ms();
    rk_commitlog_t *cl = rk_store_commitlog(rk_broker_store(ha->b));
    const uint8_t *p = (const uint8_t *)buf->base;
    size_t left = (size_t)n;
    char why[160] = "";
    /* Election mode: bytes are applied under the lock rk_ha_follow takes,
     * and only while this is still the master followed, so once
     * rk_ha_follow() returned nothing more of the old master lands (the
     * election checked this log's end against the new master's after it). */
    bool locked = atomic_load(&ha->quorum) >= 0;
    if (locked) {
        uv_mutex_lock(&ha->mu);
        if (strcmp(m->addr, ha->master_ha) != 0)
            snprintf(why, sizeof why, "no longer the master this broker follows");
    }
    while (left > 0 && !why[0]) {
        if (m->hdr_len < 12) {                      /* frame header */
            size_t t = 12 - m->hdr_len < left ? 12 - m->hdr_len : left;
            memcpy(m->hdr + m->hdr_len, p, t);
            m->hdr_len += t;
            p += t;
            left -= t;
            if (m->hdr_len < 12)
                break;
            int64_t off = (int64_t)rk_be_get64(m->hdr);
            int32_t size = (int32_t)rk_be_get32(m->hdr + 8);
            if (size < 0 || size > RECV_FRAME_MAX) {
                snprintf(why, sizeof why, "frame of %" PRId32 " bytes", size);
                break;
            }
            if (m->stream < 0 && off >= 0 && rk_commitlog_max_offset(cl) == 0 && m->staged == 0)
                m->stream = off;    /* an empty log starts where the master does */
            if (off != m->stream) {
                snprintf(why, sizeof why, "the master sent offset %" PRId64 " where %" PRId64 " was expected", off,
                         m->stream);
                break;
            }
            m->body_left = size;
            continue;
        }
        size_t t = (size_t)m->body_left < left ? (size_t)m->body_left : left;
        if (t > m->cap - m->staged) {
            snprintf(why, sizeof why, "a record larger than %zu bytes", m->cap);
            break;
        }
        memcpy(m->stage + m->staged, p, t);
        m->staged += t;
        m->stream += (int64_t)t;
        m->body_left -= (int32_t)t;
        p += t;
        left -= t;
        int rc = mc_apply(ha);
        if (rc != RK_OK) {
            snprintf(why, sizeof why, "bytes at %" PRId64 " are not records of this log (%s)",
                     m->stream - (int64_t)m->staged, rk_strerror(rc));
            break;
        }
        if (m->body_left == 0)
            m->hdr_len = 0;
    }
    if (m->body_left == 0 && m->hdr_len == 12)
        m->hdr_len = 0;                             /* a heartbeat */
    if (locked)
        uv_mutex_unlock(&ha->mu);
    if (why[0]) {
        mc_close(ha, why);
        return;
    }
    if (rk_commitlog_max_offset(cl) != m->reported)
        mc_report(ha);
}

static void mc_connected(uv_connect_t *req, int status)
{
    rk_ha_t *ha = req->data;
    mclient_t *m = &ha->mc;
    if (m->state != MC_CONNECTING)
        return;
    if (status < 0) {
        rk_log_debug("ha", "cannot reach master %s: %s", m->addr, uv_strerror(status));
        m->failures++;
        m->state = MC_CLOSING;
        uv_close((uv_handle_t *)&m->tcp, mc_closed);
        return;
    }
    m->state = MC_CONNECTED;
    m->failures = 0;
    atomic_store(&ha->connected, true);
    m->last_read = now_ms();
    m->hdr_len = 0;
    m->body_left = 0;
    m->staged = 0;
    rk_commitlog_t *cl = rk_store_commitlog(rk_broker_store(ha->b));
    int64_t max = rk_commitlog_max_offset(cl);
    m->stream = max > 0 ? max : -1;
    rk_log_info("ha", "connected to master %s; this log ends at %" PRId64, m->addr, max);
    uv_tcp_nodelay(&m->tcp, 1);
    if (uv_read_start((uv_stream_t *)&m->tcp, mc_alloc, mc_read) != 0) {
        mc_close(ha, "cannot read");
        return;
    }
    mc_report(ha);
}

static void mc_try_connect(rk_ha_t *ha)
{
    mclient_t *m = &ha->mc;
    if (m->state != MC_IDLE)
        return;
    char addr[64] = "";
    uv_mutex_lock(&ha->mu);
    snprintf(addr, sizeof addr, "%s", ha->master_ha);
    uv_mutex_unlock(&ha->mu);
    /* The 1 s pause between tries is for the same master; a new one (an
     * election's leader, rk_ha_follow) is tried at once: a failover's first
     * majority ack waited up to a second for it (bench-ch08). */
    if (now_ms() < m->next_try && (addr[0] == '\0' || strcmp(addr, m->addr) == 0))
        return;
    rk_brokerreg_t *reg = rk_broker_registration(ha->b);
    if (atomic_load(&ha->quorum) >= 0) {
        /* Election mode: only the leader the election module found, whose
         * log it checked against this one; never the name server's word. */
        if (!addr[0])
            return;
        reg = NULL;
    }
    if (!addr[0] && reg != NULL)
        rk_brokerreg_master_ha_addr(reg, addr, sizeof addr);
    uint64_t now = now_ms();
    if (!addr[0] || m->failures > 0) {
        /* The name server tells a slave its master in the answer to
         * REGISTER_BROKER. Registered before the master did, or the master
         * moved: ask again now rather than at the next 30 s registration. */
        if (reg != NULL && now >= m->next_ask) {
            rk_brokerreg_trigger(reg);
            m->next_ask = now + 2000;
        }
    }
    m->next_try = now + 1000;
    char host[64];
    int port = 0;
    const char *colon = strrchr(addr, ':');
    struct sockaddr_in sa;
    if (colon == NULL || colon == addr || (size_t)(colon - addr) >= sizeof host)
        return;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    port = atoi(colon + 1);
    if (port <= 0 || port > 65535 || uv_ip4_addr(host, port, &sa) != 0)
        return;
    snprintf(m->addr, sizeof m->addr, "%s", addr);
    if (uv_tcp_init(&ha->loop, &m->tcp) != 0)
        return;
    m->tcp.data = ha;
    m->creq.data = ha;
    m->state = MC_CONNECTING;
    if (uv_tcp_connect(&m->creq, &m->tcp, (const struct sockaddr *)&sa, mc_connected) != 0) {
        m->state = MC_CLOSING;
        uv_close((uv_handle_t *)&m->tcp, mc_closed);
    }
}

/* ------------------------------------------------------------ loop and timers */

static void apply_role(rk_ha_t *ha);

static void on_wake(uv_async_t *a)
{
    rk_ha_t *ha = a->data;
    if (atomic_load(&ha->stopping)) {
        /* close the connections here, where their write callbacks run */
        while (ha->slaves != NULL)
            sconn_close(ha->slaves, "this broker is stopping");
        if (ha->mc.state == MC_CONNECTED || ha->mc.state == MC_CONNECTING) {
            ha->mc.state = MC_CLOSING;
            atomic_store(&ha->connected, false);
            uv_close((uv_handle_t *)&ha->mc.tcp, mc_closed);
        }
        uv_stop(&ha->loop);
        return;
    }
    apply_role(ha);
    uv_mutex_lock(&ha->mu);
    bool meta_now = ha->meta_now;
    ha->meta_now = false;
    uv_mutex_unlock(&ha->mu);
    if (meta_now && atomic_load(&ha->role) == RK_HA_SLAVE) {
        /* a new master elected: copy its metadata now, not at the next interval */
        ha->next_meta = 0;
        if (rk__ha_meta_sync(ha))
            ha->next_meta = now_ms() + (uint64_t)ha->cfg.meta_sync_ms;
    }
    for (sconn_t *c = ha->slaves; c != NULL; c = c->next)
        sconn_try_send(c);
    complete_parked(ha, RK_PUT_OK);
}

static void on_tick(uv_timer_t *t)
{
    rk_ha_t *ha = t->data;
    uint64_t now = now_ms();
    for (sconn_t *c = ha->slaves, *next; c != NULL; c = next) {
        next = c->next;
        if (now - c->last_read > (uint64_t)ha->cfg.housekeeping_ms)
            sconn_close(c, "silent for haHousekeepingInterval");
        else
            sconn_try_send(c);
    }
    complete_parked(ha, RK_PUT_OK);
    if (atomic_load(&ha->role) == RK_HA_SLAVE) {
        mclient_t *m = &ha->mc;
        if (m->state == MC_CONNECTED && now - m->last_read > (uint64_t)ha->cfg.housekeeping_ms)
            mc_close(ha, "silent for haHousekeepingInterval");
        else if (m->state == MC_CONNECTED && now - m->last_report >= (uint64_t)ha->cfg.heartbeat_ms)
            mc_report(ha);
        mc_try_connect(ha);
        /* not started (no master known yet): tried again at the next tick */
        if (now >= ha->next_meta && rk__ha_meta_sync(ha))
            ha->next_meta = now + (uint64_t)ha->cfg.meta_sync_ms;
    }
}

static void loop_main(void *arg)
{
    rk_ha_t *ha = arg;
    (void)rk_thread_init("rk-ha", RK_THREAD_NORMAL);
    uv_run(&ha->loop, UV_RUN_DEFAULT);
}

/* At destroy: what is left open is the listener, the async and the timer
 * (connections were closed by the stopping loop). */
static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* ------------------------------------------------------------ role switch */

/* On the HA thread: makes the running state match ha->want_role. */
static void apply_role(rk_ha_t *ha)
{
    uv_mutex_lock(&ha->mu);
    int want = ha->want_role;
    int64_t id = ha->want_id;
    bool moved = (ha->mc.state == MC_CONNECTED || ha->mc.state == MC_CONNECTING) &&
                 strcmp(ha->mc.addr, ha->master_ha) != 0;
    uv_mutex_unlock(&ha->mu);
    if (moved && atomic_load(&ha->quorum) >= 0)
        mc_close(ha, "the election module follows another master now");
    int cur = atomic_load(&ha->role);
    if (want == cur)
        return;
    rk_commitlog_t *cl = rk_store_commitlog(rk_broker_store(ha->b));
    rk_log_info("ha", "role change: %s -> %s (brokerId %" PRId64 ", commitlog ends at %" PRId64 ")", roles[cur],
                roles[want], id, rk_commitlog_max_offset(cl));
    atomic_store(&ha->role, want);
    if (want == RK_HA_SLAVE) {
        rk_broker_set_role(ha->b, true, ha->cfg.slave_read_enable);
        complete_parked(ha, RK_PUT_SLAVE_NOT_AVAILABLE);
        while (ha->slaves != NULL)
            sconn_close(ha->slaves, "this broker is now a slave");
        ha->mc.next_try = 0;
    } else {
        mc_close(ha, "this broker is now a master");
        atomic_store(&ha->qacked, -1);      /* acks count from this mastership on */
        rk_broker_adopt_topics(ha->b);      /* topics the old master made since the last copy */
        rk_broker_set_role(ha->b, false, ha->cfg.slave_read_enable);
    }
    rk_broker_set_id(ha->b, id);
}

int rk_ha_switch_role(rk_ha_t *ha, rk_ha_role_t role, int64_t broker_id, const char *master_ha_addr)
{
    if ((int)role < 0 || role > RK_HA_SLAVE || (role == RK_HA_SLAVE) != (broker_id > 0))
        return RK_EINVAL;
    if (role == RK_HA_SYNC_MASTER && !ha->has_stage)
        return RK_EINVAL;
    if (master_ha_addr != NULL && strlen(master_ha_addr) >= sizeof ha->master_ha)
        return RK_EINVAL;
    uv_mutex_lock(&ha->mu);
    ha->want_role = (int)role;
    ha->want_id = broker_id;
    if (master_ha_addr != NULL)
        snprintf(ha->master_ha, sizeof ha->master_ha, "%s", master_ha_addr);
    uv_mutex_unlock(&ha->mu);
    wake(ha);
    return RK_OK;
}

rk_ha_role_t rk_ha_role(const rk_ha_t *ha) { return (rk_ha_role_t)atomic_load(&ha->role); }

const char *rk_ha_address(const rk_ha_t *ha) { return ha->addr; }

int rk_ha_set_quorum(rk_ha_t *ha, int slaves_needed, bool by_host)
{
    if (slaves_needed < 0 || slaves_needed > MAX_SLAVES || !ha->has_stage)
        return RK_EINVAL;
    atomic_store(&ha->quorum_by_host, by_host);
    atomic_store(&ha->quorum, slaves_needed);
    return RK_OK;
}

int rk_ha_follow(rk_ha_t *ha, const char *master_ha_addr)
{
    if (master_ha_addr == NULL)
        master_ha_addr = "";
    if (strlen(master_ha_addr) >= sizeof ha->master_ha)
        return RK_EINVAL;
    uv_mutex_lock(&ha->mu);
    snprintf(ha->master_ha, sizeof ha->master_ha, "%s", master_ha_addr);
    uv_mutex_unlock(&ha->mu);
    wake(ha);
    return RK_OK;
}

int rk_ha_follow_broker(rk_ha_t *ha, const char *master_broker_addr)
{
    if (master_broker_addr == NULL)
        master_broker_addr = "";
    if (strlen(master_broker_addr) >= sizeof ha->master_broker)
        return RK_EINVAL;
    uv_mutex_lock(&ha->mu);
    bool changed = strcmp(ha->master_broker, master_broker_addr) != 0;
    if (changed) {
        snprintf(ha->master_broker, sizeof ha->master_broker, "%s", master_broker_addr);
        ha->meta_now = master_broker_addr[0] != '\0';
    }
    uv_mutex_unlock(&ha->mu);
    if (changed && master_broker_addr[0])
        rk_log_info("ha", "the elected master's broker address is %s: copying its metadata from there",
                    master_broker_addr);
    if (changed)
        wake(ha);
    return RK_OK;
}

rk_ha_t *rk_ha_of(rk_broker_t *b) { return rk_broker_module_state(b, rk_ha_module.name); }

void rk_ha_get_stats(rk_ha_t *ha, rk_ha_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->slaves = atomic_load(&ha->nslaves);
    out->slave_ack = atomic_load(&ha->acked);
    int64_t max = rk_commitlog_max_offset(rk_store_commitlog(rk_broker_store(ha->b)));
    out->behind = out->slave_ack >= 0 && max > out->slave_ack ? max - out->slave_ack : (out->slave_ack < 0 ? max : 0);
    out->connected = atomic_load(&ha->connected);
    uv_mutex_lock(&ha->mu);
    out->parked = ha->nparked;
    uv_mutex_unlock(&ha->mu);
}

/* GET_BROKER_RUNTIME_INFO: RocketMQ's slaveFallBehindMuch (bytes a master's
 * slave lags), masterAddr on a slave, and rocklet's brokerRole / haSlave*. */
static void runtime_info(void *ctx, rk_buf_t *out)
{
    rk_ha_t *ha = ctx;
    rk_ha_stats_t s;
    rk_ha_get_stats(ha, &s);
    int role = atomic_load(&ha->role);
    rk_buf_printf(out, ",\"brokerRole\":\"%s\",\"haListenPort\":\"%d\"", roles[role], ha->port);
    if (role == RK_HA_SLAVE) {
        char maddr[64] = "";
        rk__ha_meta_master(ha, maddr, sizeof maddr);
        rk_buf_printf(out, ",\"masterAddr\":\"%s\",\"haConnectedToMaster\":\"%s\",\"slaveFallBehindMuch\":\"0\"",
                      maddr, s.connected ? "true" : "false");
    } else {
        rk_buf_printf(out, ",\"slaveFallBehindMuch\":\"%" PRId64 "\",\"haSlaveCount\":\"%d\",\"haSlaveAckOffset\":\"%" PRId64
                           "\",\"haParkedSends\":\"%" PRId64 "\"",
                      s.behind, s.slaves, s.slave_ack, s.parked);
    }
}

/* ------------------------------------------------------------ module */

static void ha_destroy(rk_broker_t *b, void *state);

static int init_state(rk_broker_t *b, rk_ha_t *ha)
{
    atomic_store(&ha->acked, -1);
    atomic_store(&ha->quorum, -1);
    atomic_store(&ha->qacked, -1);
    char err[256] = "";
    int rc = rk_config_defaults(rk_ha_config_fields, &ha->cfg);
    if (rc == RK_OK && rk_broker_kv(b) != NULL)
        rc = rk_config_apply(rk_ha_config_fields, &ha->cfg, rk_broker_kv(b), err, sizeof err);
    if (rc != RK_OK) {
        rk_log_error("ha", "bad configuration: %s", err);
        return rc;
    }
    const rk_broker_config_t *bc = rk_broker_config(b);
    if (ha->cfg.role == RK_HA_SLAVE && rk_broker_id(b) <= 0) {
        rk_log_error("ha", "brokerRole=SLAVE needs brokerId > 0 (0 is the master's)");
        return RK_EBADCONFIG;
    }
    if (ha->cfg.role != RK_HA_SLAVE && rk_broker_id(b) != 0) {
        rk_log_warn("ha", "brokerRole=%s: brokerId %" PRId64 " becomes 0", roles[ha->cfg.role], rk_broker_id(b));
        rk_broker_set_id(b, 0);
    }
    atomic_store(&ha->role, ha->cfg.role);
    ha->want_role = ha->cfg.role;
    ha->want_id = rk_broker_id(b);
    if (ha->cfg.master_address != NULL)
        snprintf(ha->master_ha, sizeof ha->master_ha, "%s", ha->cfg.master_address);
    /* the staging buffer holds one whole record at most (+ a frame) */
    ha->mc.cap = (size_t)bc->max_message_size + 64 * 1024 + RECV_FRAME_MAX;
    ha->mc.state = MC_IDLE;
    if (uv_mutex_init(&ha->mu) != 0)
        return RK_ENOMEM;
    ha->mu_ok = true;
    if ((rc = uv_loop_init(&ha->loop)) != 0)
        return rc;
    ha->loop_ok = true;
    if ((rc = uv_async_init(&ha->loop, &ha->wake, on_wake)) != 0 || (rc = uv_timer_init(&ha->loop, &ha->tick)) != 0 ||
        (rc = uv_tcp_init(&ha->loop, &ha->server)) != 0)
        return rc;
    ha->wake.data = ha->tick.data = ha->server.data = ha;
    int64_t port = ha->cfg.listen_port;
    if (port < 0)
        port = bc->listen_port > 0 ? bc->listen_port + 1 : 0;
    struct sockaddr_in sa;
    if ((rc = uv_ip4_addr(bc->listen_host, (int)port, &sa)) != 0 ||
        (rc = uv_tcp_bind(&ha->server, (const struct sockaddr *)&sa, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&ha->server, 16, on_slave_connect)) != 0) {
        rk_log_error("ha", "cannot listen on %s:%" PRId64 ": %s", bc->listen_host, port, uv_strerror(rc));
        return rc;
    }
    int len = sizeof sa;
    uv_tcp_getsockname(&ha->server, (struct sockaddr *)&sa, &len);
    ha->port = ntohs(sa.sin_port);
    char addr[96];
    snprintf(addr, sizeof addr, "%s:%d", ha->cfg.broker_ip2 ? ha->cfg.broker_ip2 : bc->broker_ip1, ha->port);
    snprintf(ha->addr, sizeof ha->addr, "%s", addr);
    if ((rc = rk_broker_set_ha_addr(b, addr)) != RK_OK)
        return rc;
    if (ha->cfg.role == RK_HA_SLAVE && (ha->mc.stage = malloc(ha->mc.cap)) == NULL)
        return RK_ENOMEM;
    rk_store_t *st = rk_broker_store(b);
    if (ha->cfg.role != RK_HA_ASYNC_MASTER) {
        if ((rc = rk_commitlog_add_ack_stage(rk_store_commitlog(st), "ha", ack_stage, ha)) != RK_OK)
            return rc;
        ha->has_stage = true;
    }
    if ((rc = rk_store_register_dispatcher(st, "ha notify", notify_dispatch, ha)) != RK_OK ||
        (rc = rk__ha_meta_init(ha)) != RK_OK || (rc = rk_broker_add_runtime_info(b, runtime_info, ha)) != RK_OK)
        return rc;
    rk_broker_set_role(b, ha->cfg.role == RK_HA_SLAVE, ha->cfg.slave_read_enable);
    rk_log_info("ha", "%s, HA on %s", roles[ha->cfg.role], addr);
    return RK_OK;
}

/* The broker calls destroy only for modules whose init succeeded: a failed
 * init frees what it made itself (nothing it registered can run yet: the
 * store and the server have not started). */
static int ha_init(rk_broker_t *b, void **state)
{
    rk_ha_t *ha = calloc(1, sizeof *ha);
    if (ha == NULL)
        return RK_ENOMEM;
    ha->b = b;
    int rc = init_state(b, ha);
    if (rc != RK_OK) {
        ha_destroy(b, ha);
        return rc;
    }
    *state = ha;
    return RK_OK;
}

static int ha_start(rk_broker_t *b, void *state)
{
    (void)b;
    rk_ha_t *ha = state;
    if (ha->mc.stage == NULL && (ha->mc.stage = malloc(ha->mc.cap)) == NULL)
        return RK_ENOMEM;       /* a master keeps one too: it may become a slave */
    int rc = uv_timer_start(&ha->tick, on_tick, 100, 100);
    if (rc == 0)
        rc = uv_thread_create(&ha->thread, loop_main, ha);
    if (rc != 0)
        return RK_ENOMEM;
    ha->running = true;
    return RK_OK;
}

/* Stops the HA thread; sends still parked are answered FLUSH_SLAVE_TIMEOUT
 * (no slave confirmed them), later ones SLAVE_NOT_AVAILABLE. */
static void ha_stop(rk_broker_t *b, void *state)
{
    (void)b;
    rk_ha_t *ha = state;
    if (ha == NULL || !ha->mu_ok)
        return;
    uv_mutex_lock(&ha->mu);
    ha->stopped = true;
    uv_mutex_unlock(&ha->mu);
    if (ha->running) {
        atomic_store(&ha->stopping, true);
        uv_async_send(&ha->wake);
        uv_thread_join(&ha->thread);
        ha->running = false;
    }
    complete_parked(ha, RK_PUT_FLUSH_SLAVE_TIMEOUT);
    rk__ha_meta_stop(ha);
}

static void ha_destroy(rk_broker_t *b, void *state)
{
    rk_ha_t *ha = state;
    if (ha == NULL)
        return;
    ha_stop(b, ha);
    if (ha->loop_ok) {
        uv_walk(&ha->loop, close_walk, ha);
        uv_run(&ha->loop, UV_RUN_DEFAULT);
        if (uv_loop_close(&ha->loop) != 0)
            rk_log_warn("ha", "the HA loop still had handles at close");
    }
    rk__ha_meta_free(ha);
    if (ha->mu_ok)
        uv_mutex_destroy(&ha->mu);
    free(ha->mc.stage);
    rk_config_free(rk_ha_config_fields, &ha->cfg);
    free(ha);
}

const rk_broker_module_t rk_ha_module = {
    .name = "ha",
    .init = ha_init,
    .start = ha_start,
    .stop = ha_stop,
    .destroy = ha_destroy,
};
