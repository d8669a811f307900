/* rocklet.h — the C client SDK in one include: what a program that sends
 * or receives messages needs.
 *
 *   #include <rk/rocklet.h>
 *   cc app.c $(pkg-config --cflags --libs rocklet)
 *
 *   rk/producer.h   send: sync, async, oneway, batch, ordered
 *   rk/consumer.h   receive: pull consumer, push consumer (listeners, groups)
 *   rk/mqclient.h   what both share: received messages, routes, raw requests
 *   rk/error.h      RK_E* codes and rk_strerror()
 *
 * This header owns nothing and declares nothing of its own. */
#ifndef RK_ROCKLET_H
#define RK_ROCKLET_H

#include "rk/consumer.h"
#include "rk/error.h"
#include "rk/mqclient.h"
#include "rk/producer.h"

#define RK_SDK_VERSION "0.7.0"

#endif
