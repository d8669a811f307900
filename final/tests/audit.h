/* audit.h — test load and audit for the assembled cluster (tests only).
 *
 * A load is producer threads sending synchronously to one topic of the cluster (2 broker
 * groups); every SEND_OK is recorded with where the broker put it (group, queue, queue
 * offset) and the body sent. The audit then reads every queue of every group from offset 0
 * and checks the promise a majority acknowledgement makes: each acknowledged message is
 * found at the place the broker named, with the body sent, byte for byte — after any kill,
 * pause or failover in between. Unacknowledged sends may or may not be there
 * (at-least-once), and are counted, not judged. */
#ifndef RK_TEST_AUDIT_H
#define RK_TEST_AUDIT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fcluster.h"
#include "rk/producer.h"

typedef struct au_rec {
    int64_t seq;
    char group[128];
    int32_t queue_id;
    int64_t queue_offset;
} au_rec_t;

typedef struct au_load {
    fc_t *c;
    char topic[64];
    int threads;
    size_t body_len;            /* bytes per body (>= 32) */
    uint64_t seed;
    pthread_t th[8];
    rk_producer_t *p;
    atomic_bool stop;
    atomic_llong next_seq;
    atomic_llong acked, failed;
    pthread_mutex_t mu;
    au_rec_t *recs;             /* the acknowledged sends */
    size_t nrecs, cap;
} au_load_t;

/* Starts threads producing to topic (created on first send). */
void au_start(au_load_t *l, fc_t *c, const char *topic, int threads, size_t body_len, uint64_t seed);
/* Stops the producer threads (the load stays readable for au_verify). */
void au_stop(au_load_t *l);
/* The body of send number seq (deterministic: seed, seq), into buf (>= body_len + 1). */
void au_body(const au_load_t *l, int64_t seq, char *buf);
/* Reads every queue and checks every acknowledged send, waiting up to ms for a group's
 * data to be readable (after a failover). Asserts; returns how many messages were read. */
int64_t au_verify(au_load_t *l, int ms);
void au_free(au_load_t *l);

#endif
