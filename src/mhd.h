/* mhd.h - the libmicrohttpd adapter: plain-port HTTP connections become
 * neutral http_requests (http.h).
 *
 * MHD runs with no listening socket and no thread of its own: the
 * listener hands it accepted connections, and the gateway's uv loop
 * drives it through MHD's epoll fd and timeout.
 */
#ifndef SB_MHD_H
#define SB_MHD_H

#include <sys/socket.h>

#include <uv.h>

#include "http.h"

struct gateway;
struct mhd_server;

/* New daemon serving site (borrowed), giving each connection a memory
 * pool of pool_size bytes (request head + write buffer).  NULL with err
 * set on failure. */
struct mhd_server *mhd_server_new(struct gateway *gw, const struct http_site *site,
				  size_t pool_size, char *err, size_t errlen);

/* Hands over an accepted socket; MHD owns it from now on (also on error). */
void mhd_server_adopt(struct mhd_server *s, int fd, const struct sockaddr *addr,
		      socklen_t addrlen);

/* Stops the daemon, closing its connections; frees s once the loop has
 * closed its handles. */
void mhd_server_free(struct mhd_server *s);

#endif
