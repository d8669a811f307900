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
 * Link with the SDK library alone (make install-sdk): librocklet.so or
 * librocklet.a, nothing of the broker. This header owns nothing and declares
 * one function of its own, rk_sdk_version(). */
#ifndef RK_ROCKLET_H
#define RK_ROCKLET_H

#include "rk/consumer.h"
#include "rk/error.h"
#include "rk/mqclient.h"
#include "rk/producer.h"

#define RK_SDK_VERSION "0.7.0"

/* The version of the library the program runs with ("0.7.0"); compare with
 * RK_SDK_VERSION, the one it was compiled against. */
const char *rk_sdk_version(void);

#endif
