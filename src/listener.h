/* listener.h - one listening socket per transport, and the dispatcher
 * that gives each accepted connection to the right library.
 *
 * On a plain transport the dispatcher peeks (MSG_PEEK, nothing consumed)
 * at the request head: a WebSocket upgrade for a websocket path offering
 * a WAMP subprotocol goes to libwebsockets, everything else to
 * libmicrohttpd.  Peeking is required because neither library accepts
 * bytes already read.  A TLS transport is libwebsockets' (lwshttp.c): it
 * listens, terminates TLS and serves every path itself.
 */
#ifndef SB_LISTENER_H
#define SB_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct gateway;
struct listener;

/* Binds and listens on t's endpoint.  NULL with err set on failure. */
struct listener *listener_new(struct gateway *gw, const struct sb_transport *t,
			      char *err, size_t errlen);

/* Stops accepting (open connections stay); a TLS port accepts until the
 * lws context goes. */
void listener_stop(struct listener *l);

/* A TLS transport reads its certificate files again (SIGHUP) and returns
 * true; a plain one returns false. */
bool listener_reload(struct listener *l);

/* Closes everything; l is freed once the loop has closed its handles. */
void listener_free(struct listener *l);

/* What the dispatcher decided for a request head (exposed for tests). */
enum listener_route { ROUTE_TO_HTTP, ROUTE_TO_SSE, ROUTE_TO_WEBSOCKET, ROUTE_INCOMPLETE };
enum listener_route listener_classify(const char *head, size_t len,
				      bool (*is_ws_path)(void *ctx, const char *path, size_t len),
				      void *ctx);

#endif
