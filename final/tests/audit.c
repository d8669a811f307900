/* audit.c — see audit.h. */
#include "audit.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk/consumer.h"
#include "rk/error.h"

void au_body(const au_load_t *l, int64_t seq, char *buf)
{
    int k = snprintf(buf, l->body_len + 1, "seq-%012" PRId64 "-", seq);
    uint64_t x = l->seed ^ ((uint64_t)seq * 0x9E3779B97F4A7C15ull);
    for (size_t i = (size_t)k; i < l->body_len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (char)('a' + x % 26);
    }
    buf[l->body_len] = '\0';
}

static void record(au_load_t *l, int64_t seq, const rk_send_result_t *r)
{
    pthread_mutex_lock(&l->mu);
    if (l->nrecs == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->recs = realloc(l->recs, l->cap * sizeof *l->recs);
        cr_assert(l->recs != NULL);
    }
    au_rec_t *a = &l->recs[l->nrecs++];
    a->seq = seq;
    snprintf(a->group, sizeof a->group, "%s", r->mq.broker);
    a->queue_id = r->mq.queue_id;
    a->queue_offset = r->queue_offset;
    pthread_mutex_unlock(&l->mu);
}

static void *produce(void *arg)
{
    au_load_t *l = arg;
    char *body = malloc(l->body_len + 1);
    cr_assert(body != NULL);
    while (!atomic_load(&l->stop)) {
        int64_t seq = atomic_fetch_add(&l->next_seq, 1);
        au_body(l, seq, body);
        rk_message_t m = {.topic = l->topic, .tags = "audit", .body = body, .body_len = l->body_len};
        rk_send_result_t r;
        if (rk_producer_send(l->p, &m, &r) == RK_OK && r.status == RK_SEND_OK) {
            record(l, seq, &r);
            atomic_fetch_add(&l->acked, 1);
        } else {
            atomic_fetch_add(&l->failed, 1);
            usleep(20000);
        }
    }
    free(body);
    return NULL;
}

void au_start(au_load_t *l, fc_t *c, const char *topic, int threads, size_t body_len, uint64_t seed)
{
    memset(l, 0, sizeof *l);
    l->c = c;
    snprintf(l->topic, sizeof l->topic, "%s", topic);
    l->threads = threads > 8 ? 8 : threads;
    l->body_len = body_len < 32 ? 32 : body_len;
    l->seed = seed;
    pthread_mutex_init(&l->mu, NULL);
    rk_producer_config_t pc = {.namesrv = c->ns, .group = "AuditProducer", .timeout_ms = 3000};
    cr_assert_eq(rk_producer_new(&pc, &l->p), RK_OK);
    for (int i = 0; i < l->threads; i++)
        cr_assert_eq(pthread_create(&l->th[i], NULL, produce, l), 0);
    fc_event(c, "load: %d producer threads on %s, %zu-byte bodies", l->threads, topic, l->body_len);
}

void au_stop(au_load_t *l)
{
    if (l->p == NULL)
        return;
    atomic_store(&l->stop, true);
    for (int i = 0; i < l->threads; i++)
        pthread_join(l->th[i], NULL);
    rk_producer_free(l->p);
    l->p = NULL;
    fc_event(l->c, "load stopped: %lld acknowledged, %lld failed sends", (long long)atomic_load(&l->acked),
             (long long)atomic_load(&l->failed));
}

static int by_place(const void *a, const void *b)
{
    const au_rec_t *x = a, *y = b;
    int c = strcmp(x->group, y->group);
    if (c != 0)
        return c;
    if (x->queue_id != y->queue_id)
        return x->queue_id < y->queue_id ? -1 : 1;
    return x->queue_offset < y->queue_offset ? -1 : x->queue_offset > y->queue_offset;
}

/* Reads queue mq from 0 and checks the acknowledged sends recs[0..n) placed in it (sorted by
 * offset). Returns how many messages it read, or -1 when the queue could not be read yet. */
static int64_t check_queue(au_load_t *l, rk_pull_consumer_t *pc, const rk_mq_t *mq, const au_rec_t *recs, size_t n)
{
    char *want = malloc(l->body_len + 1);
    cr_assert(want != NULL);
    int64_t off = 0, read = 0;
    size_t k = 0;
    for (;;) {
        rk_pull_result_t r;
        int rc = rk_pull_consumer_pull(pc, mq, "*", off, 32, 0, &r);
        if (rc != RK_OK) {
            fc_event(l->c, "audit: %s queue %d: pull from %" PRId64 " failed: %s", mq->broker, mq->queue_id, off,
                     rk_strerror(rc));
            free(want);
            return -1;
        }
        if (r.status == RK_PULL_OFFSET_ILLEGAL && off == 0 && r.min_offset > 0) {
            off = r.min_offset;
            rk_pull_result_free(&r);
            continue;
        }
        if (r.status != RK_PULL_FOUND) {
            rk_pull_result_free(&r);
            break;
        }
        cr_assert_eq(r.skipped, 0, "%s queue %d: %zu damaged records served", mq->broker, mq->queue_id, r.skipped);
        for (size_t i = 0; i < r.msgs->n; i++) {
            const rk_msg_ext_t *m = &r.msgs->msgs[i];
            read++;
            while (k < n && recs[k].queue_offset < m->queue_offset) {
                cr_assert_fail("%s queue %d: acknowledged send seq %" PRId64 " at offset %" PRId64
                               " is missing (next found: %" PRId64 ")",
                               mq->broker, mq->queue_id, recs[k].seq, recs[k].queue_offset, m->queue_offset);
                k++;
            }
            if (k < n && recs[k].queue_offset == m->queue_offset) {
                au_body(l, recs[k].seq, want);
                cr_assert(m->body_len == l->body_len && memcmp(m->body, want, l->body_len) == 0,
                          "%s queue %d offset %" PRId64 ": the body is not the one acknowledged for seq %" PRId64,
                          mq->broker, mq->queue_id, m->queue_offset, recs[k].seq);
                k++;
            }
        }
        off = r.next_offset;
        rk_pull_result_free(&r);
    }
    free(want);
    if (k < n) {        /* not readable yet (a new master still catching up): the caller retries */
        fc_event(l->c, "audit: %s queue %d: read up to offset %" PRId64 ", acknowledged seq %" PRId64 " at %" PRId64
                 " not there yet", mq->broker, mq->queue_id, off, recs[k].seq, recs[k].queue_offset);
        return -1;
    }
    return read;
}

int64_t au_verify(au_load_t *l, int ms)
{
    qsort(l->recs, l->nrecs, sizeof *l->recs, by_place);
    rk_pull_consumer_config_t cfg = {.namesrv = l->c->ns, .group = "AuditReader", .timeout_ms = 3000,
                                     .check_crc = true};
    rk_pull_consumer_t *pc;
    cr_assert_eq(rk_pull_consumer_new(&cfg, &pc), RK_OK);
    int64_t total = -1;
    for (int t = 0; t <= ms && total < 0; t += 250) {
        rk_mq_t *mqs = NULL;
        size_t nq = 0;
        total = 0;
        if (rk_pull_consumer_queues(pc, l->topic, &mqs, &nq) != RK_OK) {
            fc_event(l->c, "audit: no route for %s", l->topic);
            total = -1;
        } else {
            for (size_t q = 0; q < nq && total >= 0; q++) {
                size_t a = 0;
                while (a < l->nrecs && (strcmp(l->recs[a].group, mqs[q].broker) < 0 ||
                                        (strcmp(l->recs[a].group, mqs[q].broker) == 0 && l->recs[a].queue_id < mqs[q].queue_id)))
                    a++;
                size_t b = a;
                while (b < l->nrecs && strcmp(l->recs[b].group, mqs[q].broker) == 0 && l->recs[b].queue_id == mqs[q].queue_id)
                    b++;
                int64_t got = check_queue(l, pc, &mqs[q], l->recs + a, b - a);
                total = got < 0 ? -1 : total + got;
            }
            /* every acknowledged send's queue must be among the routed ones */
            for (size_t a = 0; a < l->nrecs && total >= 0; a++) {
                bool routed = false;
                for (size_t q = 0; q < nq && !routed; q++)
                    routed = strcmp(mqs[q].broker, l->recs[a].group) == 0 && mqs[q].queue_id == l->recs[a].queue_id;
                if (!routed) {
                    fc_event(l->c, "audit: %s queue %d (seq %" PRId64 ") is not in the route", l->recs[a].group,
                             l->recs[a].queue_id, l->recs[a].seq);
                    total = -1;
                }
            }
        }
        free(mqs);
        if (total < 0)
            usleep(250000);
    }
    rk_pull_consumer_free(pc);
    cr_assert(total >= 0, "not every acknowledged send was readable after %d ms (events in %s/events.log)", ms, l->c->dir);
    fc_event(l->c, "audit: %zu acknowledged sends all found with their bodies; %" PRId64 " messages read", l->nrecs, total);
    return total;
}

void au_free(au_load_t *l)
{
    au_stop(l);
    free(l->recs);
    l->recs = NULL;
    pthread_mutex_destroy(&l->mu);
}
