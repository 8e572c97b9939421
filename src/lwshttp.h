/* lwshttp.h - the libwebsockets adapter: a TLS transport's port.
 *
 * libwebsockets terminates TLS (OpenSSL) and speaks HTTP/1.1, and HTTP/2
 * when the transport's options say "http2".  Every request - static files,
 * bridge POSTs, event streams, nodeinfo, /metrics, /healthz - becomes a
 * neutral http_request (http.h) answered by the same handlers as on the
 * plain port; WebSocket upgrades on websocket paths become WAMP sessions in
 * ws.c.  Each TLS transport is one vhost on ws.c's lws context, on the
 * gateway's uv loop, listening on the transport's port itself.
 */
#ifndef SB_LWSHTTP_H
#define SB_LWSHTTP_H

#include <stddef.h>

#include "http.h"

struct gateway;
struct lwshttp_server;

/* A TLS vhost listening on site's endpoint and serving it (site is
 * borrowed; its transport has endpoint.tls).  The certificate files are
 * read now.  NULL with err set on failure. */
struct lwshttp_server *lwshttp_server_new(struct gateway *gw, const struct http_site *site,
					  char *err, size_t errlen);

/* The port it listens on (the one the kernel chose for port 0). */
int lwshttp_server_port(const struct lwshttp_server *s);

/* Reads the certificate, key and chain again and uses them for the
 * handshakes that follow; open connections are not touched.  A file that
 * cannot be used leaves the current certificate in place.  Logs one line
 * either way. */
void lwshttp_server_reload(struct lwshttp_server *s);

/* Closes the vhost's connections (their requests and streams end now,
 * while the site is still there) and frees s. */
void lwshttp_server_free(struct lwshttp_server *s);

#endif
