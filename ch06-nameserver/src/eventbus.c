/* eventbus.c — synchronous publish to the handlers registered at start (see rk/eventbus.h). */
#include "rk/eventbus.h"

#include "rk/error.h"

int rk_eventbus_subscribe(rk_eventbus_t *bus, rk_event_handler_fn fn, void *ctx)
{
    if (bus->n == (int)(sizeof bus->handlers / sizeof bus->handlers[0]))
        return RK_EFULL;
    bus->handlers[bus->n].fn = fn;
    bus->handlers[bus->n++].ctx = ctx;
    return RK_OK;
}

void rk_eventbus_publish(const rk_eventbus_t *bus, const rk_event_t *ev)
{
    for (int i = 0; i < bus->n; i++)
        bus->handlers[i].fn(bus->handlers[i].ctx, ev);
}

const char *rk_event_name(rk_event_type_t t)
{
    static const char *const names[] = {"broker registered", "broker unregistered", "broker expired",
                                        "broker disconnected", "topic changed", "kv changed"};
    return (unsigned)t < RK_EV__COUNT ? names[t] : "?";
}
