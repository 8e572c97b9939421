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

/* Destroys the lws context; the loop must run afterwards so lws can close
 * its handles. */
void ws_server_free(struct ws_server *ws);

#endif
