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
struct sb_path;
struct ws_server;

struct ws_server *ws_server_new(struct gateway *gw, char *err, size_t errlen);

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
