/* ws.h - libwebsockets on the gateway's uv loop: takes over WebSocket
 * upgrades the listener hands it and runs the WAMP subprotocols.
 *
 * Each connection becomes a router session (router.h); ws.c only moves
 * bytes: reassembles incoming messages, enforces max_message_size, and
 * queues outgoing frames with a bound (queue_limit) per connection.
 */
#ifndef SB_WS_H
#define SB_WS_H

#include <stddef.h>

#include <uv.h>

struct gateway;
struct lws_context_creation_info;
struct lws_protocols;
struct lws_vhost;
struct sb_path;
struct ws_server;

struct ws_server *ws_server_new(struct gateway *gw, char *err, size_t errlen);

/* Adds the vhost of one TLS transport to the shared context, serving
 * http (lwshttp.c's HTTP protocol) and the WAMP subprotocols, with the
 * WebSocket keep-alive policy.  info (the caller's) holds the TLS and
 * HTTP/2 settings; its user must be the transport's http_site (borrowed,
 * outliving the vhost), which routes WebSocket upgrades to their
 * websocket path.  NULL if lws refused. */
struct lws_vhost *ws_server_add_tls_vhost(struct ws_server *ws,
					  struct lws_context_creation_info *info,
					  const struct lws_protocols *http);

/* Adopts an accepted socket whose head (still unread) is a WAMP upgrade
 * on path (borrowed from the config: its options apply). */
void ws_server_adopt(struct ws_server *ws, int fd, const struct sb_path *path);

/* First half of destroying the lws context: lws starts closing its uv
 * handles, so the loop must run afterwards. */
void ws_server_stop(struct ws_server *ws);

/* Second half, after the loop has run dry (lws needs both calls on a
 * foreign loop, or it leaks its per-thread tables). */
void ws_server_free(struct ws_server *ws);

#endif
