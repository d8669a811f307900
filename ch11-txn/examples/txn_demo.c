/* txn_demo.c — an order service that writes an order to its "database" and announces it with a
 * message, both or neither (chapter 11's README, "Try it").
 *
 *   build/ch11/bin/txn_demo [NAMESRV]     (default 127.0.0.1:9876)
 *
 * Three orders go through rocklet's transactional producer (rk/txn_producer.h), topic TxnDemo,
 * producer group txn_demo_pg:
 *   order-1  the insert succeeds                      -> COMMIT: consumers get it
 *   order-2  the insert fails (a constraint, say)     -> ROLLBACK: nobody ever sees it
 *   order-3  the process cannot tell yet (the database
 *            answered after our timeout)              -> UNKNOWN: the broker asks later; the
 *            check callback finds the row and says COMMIT
 * The "database" is an array guarded by a mutex; a real application would query its own tables
 * in the check callback. The demo waits up to 90 s for the broker's check-back of order-3 (the
 * broker checks every transactionCheckInterval, 60 s by default: start it with
 * transactionCheckInterval=5000 for a quick run), then prints what the producer counted. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rk/rocklet.h>
#include <rk/txn_producer.h>

#define TOPIC "TxnDemo"
#define GROUP "txn_demo_pg"
#define ROWS 8

typedef struct db {
    pthread_mutex_t mu;
    char rows[ROWS][64];                /* committed order ids */
    int nrows;
    char txn_of[ROWS][RK_MSGID_MAX];    /* which transaction wrote each row */
    int checks;
} db_t;

typedef struct order {
    db_t *db;
    const char *id;
    bool insert_fails, slow_answer;
} order_t;

static rk_txn_state_t run_local_transaction(void *arg, const rk_message_t *m, const rk_send_result_t *half)
{
    (void)m;
    order_t *o = arg;
    if (o->insert_fails) {
        printf("  %s: INSERT failed -> ROLLBACK\n", o->id);
        return RK_TXN_ROLLBACK;
    }
    pthread_mutex_lock(&o->db->mu);
    if (o->db->nrows < ROWS) {
        snprintf(o->db->rows[o->db->nrows], sizeof o->db->rows[0], "%s", o->id);
        snprintf(o->db->txn_of[o->db->nrows], sizeof o->db->txn_of[0], "%s", half->msg_id);
        o->db->nrows++;
    }
    pthread_mutex_unlock(&o->db->mu);
    if (o->slow_answer) {
        printf("  %s: INSERT sent, no answer in time -> UNKNOWN (the broker will ask)\n", o->id);
        return RK_TXN_UNKNOWN;
    }
    printf("  %s: INSERT done -> COMMIT\n", o->id);
    return RK_TXN_COMMIT;
}

/* The broker asks about a half: was its row written? */
static rk_txn_state_t check_back(void *arg, const rk_msg_ext_t *m)
{
    db_t *db = arg;
    pthread_mutex_lock(&db->mu);
    bool found = false;
    for (int i = 0; i < db->nrows && !found; i++)
        found = strcmp(db->txn_of[i], m->msg_id) == 0;
    db->checks++;
    pthread_mutex_unlock(&db->mu);
    char times[16] = "?";
    rk_msg_prop(m, "TRANSACTION_CHECK_TIMES", times, sizeof times);
    printf("  check-back for %.*s (transaction %s, asked %s time(s)): row %s -> %s\n", (int)m->body_len,
           (const char *)m->body, m->msg_id, times, found ? "found" : "missing", found ? "COMMIT" : "ROLLBACK");
    return found ? RK_TXN_COMMIT : RK_TXN_ROLLBACK;
}

int main(int argc, char **argv)
{
    const char *ns = argc > 1 ? argv[1] : "127.0.0.1:9876";
    db_t db = {.nrows = 0};
    pthread_mutex_init(&db.mu, NULL);
    const char *topics[] = {TOPIC, NULL};
    rk_txn_producer_config_t cfg = {.producer = {.namesrv = ns, .group = GROUP}, .check = check_back,
                                    .check_arg = &db, .topics = topics};
    rk_txn_producer_t *tp;
    int rc = rk_txn_producer_new(&cfg, &tp);
    if (rc != RK_OK) {
        fprintf(stderr, "txn_demo: %s\n", rk_strerror(rc));
        return 1;
    }
    order_t orders[] = {{&db, "order-1", false, false}, {&db, "order-2", true, false}, {&db, "order-3", false, true}};
    printf("sending 3 orders to %s through %s:\n", TOPIC, ns);
    int status = 0;
    for (size_t i = 0; i < sizeof orders / sizeof orders[0]; i++) {
        rk_message_t m = {.topic = TOPIC, .tags = "created", .keys = orders[i].id, .body = orders[i].id,
                          .body_len = strlen(orders[i].id)};
        rk_txn_send_result_t r;
        rc = rk_txn_producer_send(tp, &m, run_local_transaction, &orders[i], &r);
        if (rc != RK_OK) {
            fprintf(stderr, "txn_demo: %s: %s\n", orders[i].id, r.error);
            status = 1;
            continue;
        }
        printf("  %s: half %s at %s queue %d offset %lld, ended %s\n", orders[i].id, r.half.msg_id,
               r.half.mq.broker, r.half.mq.queue_id, (long long)r.half.queue_offset, rk_txn_state_name(r.state));
        if (r.end_status != RK_OK)
            printf("  %s: %s\n", orders[i].id, r.error);
    }
    printf("waiting up to 90 s for the broker to ask about order-3 ...\n");
    for (int i = 0; i < 900; i++) {
        pthread_mutex_lock(&db.mu);
        int checks = db.checks;
        pthread_mutex_unlock(&db.mu);
        if (checks > 0)
            break;
        usleep(100000);
    }
    usleep(300000);                     /* let the answer leave */
    rk_txn_producer_stats_t st;
    rk_txn_producer_stats(tp, &st);
    printf("producer: %llu sends (%llu commit, %llu rollback, %llu unknown), %llu check(s) answered\n",
           (unsigned long long)st.sends, (unsigned long long)st.commits, (unsigned long long)st.rollbacks,
           (unsigned long long)st.unknowns, (unsigned long long)st.checks_answered);
    if (st.checks_answered == 0)
        printf("no check-back came: is the broker chapter 11's, and its transactionCheckInterval short?\n");
    printf("now: mqadmin consumeMessage -n %s -t %s   shows order-1 and order-3, never order-2\n", ns, TOPIC);
    rk_txn_producer_free(tp);
    pthread_mutex_destroy(&db.mu);
    return status;
}
