/* eventbus.h — the name server's internal events, with handlers plugged in at start.
 *
 * The route table publishes what happens to it (a broker registered, went
 * away, a topic changed); handlers registered before the server starts
 * react (the built-in one logs; replication or metrics can subscribe the
 * same way, without the route table knowing them). Publishing runs every
 * handler in order, synchronously, on the publishing thread (the name
 * server's loop thread). Event strings are borrowed for the call. */
#ifndef RK_EVENTBUS_H
#define RK_EVENTBUS_H

typedef enum {
    RK_EV_BROKER_REGISTERED,    /* first registration of a broker address */
    RK_EV_BROKER_UNREGISTERED,  /* UNREGISTER_BROKER */
    RK_EV_BROKER_EXPIRED,       /* no registration within the expiry time */
    RK_EV_BROKER_DISCONNECTED,  /* its connection closed */
    RK_EV_TOPIC_CHANGED,        /* a topic's queues were created, changed or removed */
    RK_EV_KV_CHANGED,
    RK_EV__COUNT
} rk_event_type_t;

typedef struct rk_event {
    rk_event_type_t type;
    const char *cluster, *broker_name, *broker_addr, *topic;
    long long broker_id;
} rk_event_t;

typedef void (*rk_event_handler_fn)(void *ctx, const rk_event_t *ev);

typedef struct rk_eventbus {
    struct { rk_event_handler_fn fn; void *ctx; } handlers[16];
    int n;
} rk_eventbus_t;

int rk_eventbus_subscribe(rk_eventbus_t *bus, rk_event_handler_fn fn, void *ctx);
void rk_eventbus_publish(const rk_eventbus_t *bus, const rk_event_t *ev);
const char *rk_event_name(rk_event_type_t t);

#endif
