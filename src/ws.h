/* ws.h - libwebsockets on the gateway's uv loop: takes over WebSocket
 * upgrades the listener hands it and runs the WAMP subprotocols.
 *
 * The WAMP router itself (sessions, broker, dealer) arrives in its own
 * issue; until then a WAMP HELLO is answered with ABORT
 * "wamp.error.not_implemented" so clients fail clearly, not by timeout.
 */
#ifndef SB_WS_H
#define SB_WS_H

#include <stddef.h>

#include <uv.h>

struct gateway;
struct ws_server;

struct ws_server *ws_server_new(struct gateway *gw, char *err, size_t errlen);

/* Adopts an accepted socket whose head (still unread) is an upgrade. */
void ws_server_adopt(struct ws_server *ws, int fd);

/* Closes every WebSocket with a close frame (1001 going away). */
void ws_server_close_all(struct ws_server *ws);

/* First half of destroying the lws context: lws starts closing its uv
 * handles, so the loop must run afterwards. */
void ws_server_stop(struct ws_server *ws);

/* Second half, after the loop has run dry (lws needs both calls on a
 * foreign loop, or it leaks its per-thread tables). */
void ws_server_free(struct ws_server *ws);

#endif
