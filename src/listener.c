/* listener.c - accept, peek at the request head, dispatch (see listener.h). */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "gateway.h"
#include "http.h"
#include "log.h"
#include "lwshttp.h"
#include "mhd.h"
#include "util.h"
#include "ws.h"

#define HEAD_MAX 8192                  /* larger heads go to MHD as they are */
/* An event stream holds its MHD pool for hours, and the pool, allocated
 * whole, is most of what an idle stream costs.  A GET to an eventsource
 * path whose head is small goes to a daemon with 4 KiB pools (they hold
 * heads up to about 1.8 KB; 1.4 KB keeps a margin for the response
 * headers); other requests, and streams with big heads (cookies), get
 * connection_memory. */
#define SSE_POOL_SIZE 4096
#define SSE_HEAD_MAX 1400
#define BACKOFF_MAX_MS 64
#define EMFILE_PAUSE_MS 100

struct peek;

struct listener {
	struct gateway *gw;
	const struct sb_transport *transport;
	struct http_site site;
	struct mhd_server *mhd;        /* pools of connection_memory */
	struct mhd_server *mhd_sse;    /* small pools, for event streams */
	struct lwshttp_server *tls;    /* a TLS transport: lws listens, serves all */
	int fd;
	uv_poll_t poll;
	struct peek *peeks;            /* connections still being peeked */
	uv_timer_t emfile_timer;       /* resumes accepting after EMFILE */
	uint64_t last_emfile_log;
	int open_handles;              /* poll + timer, closed on stop */
	bool is_stopped, is_freed;
};

/* An accepted connection whose request head is not complete yet. */
struct peek {
	struct peek *prev, *next;
	struct listener *listener;
	int fd;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uv_poll_t poll;
	uv_timer_t timer;
	unsigned backoff_ms;
	uint64_t deadline;
	int open_handles;
};

/* ---- classifying a head ------------------------------------------------------ */

/* Value of header name in head (not NUL-terminated), or NULL. */
static const char *find_header(const char *head, size_t len, const char *name, size_t *vlen)
{
	size_t nlen = strlen(name);
	const char *end = head + len;
	const char *line = memchr(head, '\n', len);
	while (line && ++line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			return NULL;
		if ((size_t)(eol - line) > nlen && line[nlen] == ':' && !strncasecmp(line, name, nlen)) {
			const char *v = line + nlen + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*vlen = (size_t)(eol - v) - (eol[-1] == '\r');
			return v;
		}
		line = eol;
	}
	return NULL;
}

/* The path of the request line (up to '?' or the version), bounded by the
 * peeked bytes, which are not NUL-terminated.  NULL if there is none. */
static const char *request_path(const char *head, size_t len, size_t *plen)
{
	const char *line_end = memchr(head, '\n', len);
	const char *target = memchr(head, ' ', len);
	if (!target || !line_end || target > line_end)
		return NULL;
	target++;
	const char *end = target;
	while (end < line_end && *end != ' ' && *end != '?' && *end != '\r')
		end++;
	*plen = (size_t)(end - target);
	return target;
}

enum listener_route listener_classify(const char *head, size_t len,
				      bool (*is_ws_path)(void *ctx, const char *path, size_t len),
				      void *ctx)
{
	if (!memmem(head, len, "\r\n\r\n", 4) && !memmem(head, len, "\n\n", 2))
		return len >= HEAD_MAX ? ROUTE_TO_HTTP : ROUTE_INCOMPLETE;
	size_t ulen = 0, plen = 0;
	const char *upgrade = find_header(head, len, "Upgrade", &ulen);
	const char *proto = find_header(head, len, "Sec-WebSocket-Protocol", &plen);
	if (!http_has_token(upgrade, ulen, "websocket") || !http_offers_wamp(proto, plen))
		return ROUTE_TO_HTTP;          /* MHD answers, e.g. 400 for no subprotocol */
	size_t tlen;
	const char *target = request_path(head, len, &tlen);
	return target && is_ws_path(ctx, target, tlen) ? ROUTE_TO_WEBSOCKET : ROUTE_TO_HTTP;
}

/* The route a request path (not NUL-terminated) selects on site. */
static const struct http_route *route_for(const struct http_site *site, const char *path,
					  size_t len)
{
	char p[512];
	if (len >= sizeof p)
		return NULL;
	memcpy(p, path, len);
	p[len] = '\0';
	return http_site_route(site, p);
}

static enum http_route_kind path_kind(const struct http_site *site, const char *path, size_t len)
{
	const struct http_route *route = route_for(site, path, len);
	return route ? route->kind : ROUTE_NOT_FOUND;
}

static bool site_is_ws_path(void *ctx, const char *path, size_t len)
{
	return path_kind(ctx, path, len) == ROUTE_WEBSOCKET;
}

/* ---- peeking -------------------------------------------------------------------- */

static void peek_handle_closed(uv_handle_t *h)
{
	struct peek *p = h->data;
	if (--p->open_handles == 0)
		free(p);
}

/* Forgets the peek; the fd now belongs to someone else (or is closed). */
static void peek_done(struct peek *p)
{
	struct listener *l = p->listener;
	if (p->prev)
		p->prev->next = p->next;
	else
		l->peeks = p->next;
	if (p->next)
		p->next->prev = p->prev;
	uv_close((uv_handle_t *)&p->poll, peek_handle_closed);
	uv_close((uv_handle_t *)&p->timer, peek_handle_closed);
}

/* True for a complete GET head of at most SSE_HEAD_MAX bytes whose path
 * belongs to an eventsource route. */
static bool is_small_sse_head(const struct listener *l, const char *head, size_t len)
{
	const char *end = memmem(head, len, "\r\n\r\n", 4);
	size_t plen;
	if (!end || (size_t)(end + 4 - head) > SSE_HEAD_MAX || len < 5 || memcmp(head, "GET /", 5))
		return false;
	const char *path = request_path(head, len, &plen);
	return path && path_kind(&l->site, path, plen) == ROUTE_EVENTSOURCE;
}

/* Peeks at fd's head.  ROUTE_INCOMPLETE: wait for more.  *closed is set
 * when the peer went away (fd closed here); *ws_path to the websocket path
 * for ROUTE_TO_WEBSOCKET. */
static enum listener_route peek_route(struct listener *l, int fd, bool *closed,
				      const struct sb_path **ws_path)
{
	char head[HEAD_MAX];
	ssize_t n = recv(fd, head, sizeof head, MSG_PEEK);
	*closed = false;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return ROUTE_INCOMPLETE;
	if (n <= 0) {
		close(fd);                     /* closed or reset before a request */
		*closed = true;
		return ROUTE_TO_HTTP;
	}
	enum listener_route route = listener_classify(head, (size_t)n, site_is_ws_path, &l->site);
	if (route == ROUTE_TO_HTTP && is_small_sse_head(l, head, (size_t)n))
		route = ROUTE_TO_SSE;
	if (route == ROUTE_TO_WEBSOCKET) {
		size_t plen, olen = 0, hlen = 0;
		const char *path = request_path(head, (size_t)n, &plen);
		const char *origin = find_header(head, (size_t)n, "Origin", &olen);
		const char *host = find_header(head, (size_t)n, "Host", &hlen);
		*ws_path = route_for(&l->site, path, plen)->path;
		if (!http_origin_allowed(l->site.transport, *ws_path, origin, olen, host, hlen))
			route = ROUTE_TO_HTTP;     /* MHD answers 403 */
	}
	return route;
}

/* Gives fd to its library.  Our own uv_poll on fd must be closed first:
 * closing it later would unregister the library's watcher too. */
static void hand_over(struct listener *l, int fd, enum listener_route route,
		      const struct sb_path *ws_path, const struct sockaddr *addr, socklen_t addrlen)
{
	if (route == ROUTE_TO_WEBSOCKET)
		ws_server_adopt(l->gw->ws, fd, ws_path);
	else
		mhd_server_adopt(route == ROUTE_TO_SSE ? l->mhd_sse : l->mhd, fd, addr, addrlen);
}

static void on_peek_timer(uv_timer_t *t);

/* A new connection may wait as long for its first request as an idle
 * keep-alive one for its next (clients open connections ahead of use):
 * closing it sooner races with a request the client is just sending. */
static int head_timeout_s(const struct listener *l)
{
	return l->transport->client_timeout_s;
}

static void peek_again(struct peek *p)
{
	/* uv_poll is level-triggered: with part of a head waiting it would
	 * fire at once, so poll a partial head with a growing back-off. */
	if (uv_now(p->poll.loop) >= p->deadline) {
		char peer[64];
		format_peer((struct sockaddr *)&p->addr, peer, sizeof peer);
		log_msg(LOG_INFO, "listen", "%s: no request within %d s of connecting; closing "
			"(raise client_timeout if clients open connections long before use)",
			peer, head_timeout_s(p->listener));
		close(p->fd);
		peek_done(p);
		return;
	}
	bool closed;
	const struct sb_path *ws_path = NULL;
	enum listener_route route = peek_route(p->listener, p->fd, &closed, &ws_path);
	if (route != ROUTE_INCOMPLETE) {
		struct listener *l = p->listener;
		struct sockaddr_storage addr = p->addr;
		socklen_t addrlen = p->addrlen;
		int fd = p->fd;
		peek_done(p);
		if (!closed)
			hand_over(l, fd, route, ws_path, (struct sockaddr *)&addr, addrlen);
		return;
	}
	uv_poll_stop(&p->poll);
	uv_timer_start(&p->timer, on_peek_timer, p->backoff_ms, 0);
	if (p->backoff_ms < BACKOFF_MAX_MS)
		p->backoff_ms *= 2;
}

static void on_peek_timer(uv_timer_t *t)
{
	peek_again(t->data);
}

static void on_peek_readable(uv_poll_t *poll, int status, int events)
{
	peek_again(poll->data);
}

static void watch(struct listener *l, int fd, const struct sockaddr_storage *addr, socklen_t addrlen)
{
	struct peek *p = xcalloc(1, sizeof *p);
	p->listener = l;
	p->fd = fd;
	p->addr = *addr;
	p->addrlen = addrlen;
	p->backoff_ms = 1;
	p->deadline = uv_now(l->gw->loop) + (uint64_t)head_timeout_s(l) * 1000;
	p->open_handles = 2;
	uv_poll_init(l->gw->loop, &p->poll, fd);
	uv_timer_init(l->gw->loop, &p->timer);
	p->poll.data = p->timer.data = p;
	p->next = l->peeks;
	if (p->next)
		p->next->prev = p;
	l->peeks = p;
	uv_poll_start(&p->poll, UV_READABLE, on_peek_readable);
}

static void on_accept(uv_poll_t *poll, int status, int events);

static void resume_accepting(uv_timer_t *t)
{
	struct listener *l = t->data;
	if (!l->is_stopped)
		uv_poll_start(&l->poll, UV_READABLE, on_accept);
}

/* Out of file descriptors: the pending connection stays in the backlog and
 * the socket stays readable, so stop polling it for a moment instead of
 * spinning, and say so at most every 10 s. */
static void pause_accepting(struct listener *l, int err)
{
	uint64_t now = uv_now(l->gw->loop);
	if (!l->last_emfile_log || now - l->last_emfile_log >= 10000) {
		log_msg(LOG_ERROR, "listen", "cannot accept: %s; pausing accepts for %d ms "
			"(raise the open file limit, ulimit -n, or max_connections)",
			strerror(err), EMFILE_PAUSE_MS);
		l->last_emfile_log = now;
	}
	uv_poll_stop(&l->poll);
	uv_timer_start(&l->emfile_timer, resume_accepting, EMFILE_PAUSE_MS, 0);
}

static void on_accept(uv_poll_t *poll, int status, int events)
{
	struct listener *l = poll->data;
	for (int i = 0; i < 256; i++) {
		struct sockaddr_storage addr;
		socklen_t addrlen = sizeof addr;
		int fd = accept4(l->fd, (struct sockaddr *)&addr, &addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				pause_accepting(l, errno);
			return;
		}
		/* Most heads arrive with the connection: try before polling. */
		bool closed;
		const struct sb_path *ws_path = NULL;
		enum listener_route route = peek_route(l, fd, &closed, &ws_path);
		if (route == ROUTE_INCOMPLETE)
			watch(l, fd, &addr, addrlen);
		else if (!closed)
			hand_over(l, fd, route, ws_path, (struct sockaddr *)&addr, addrlen);
	}
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static int bind_listen(const struct sb_endpoint *e, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char port[16];
	snprintf(port, sizeof port, "%d", e->port);
	int rc = getaddrinfo(e->interface, port, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "listen: cannot resolve interface \"%s\": %s",
			 e->interface ? e->interface : "*", gai_strerror(rc));
		return -1;
	}
	int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, e->backlog)) {
		snprintf(err, errlen, "listen: cannot listen on %s:%d: %s (is another process "
			 "using the port? change it with --listen or the endpoint's port)",
			 e->interface ? e->interface : "*", e->port, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* A plain transport: our socket, peeked connections, two MHD daemons.
 * Returns the port bound, or -1 with err set. */
static int listen_plain(struct listener *l, char *err, size_t errlen)
{
	const struct sb_transport *t = l->transport;
	struct gateway *gw = l->gw;
	l->fd = bind_listen(&t->endpoint, err, errlen);
	if (l->fd < 0)
		return -1;
	l->mhd = mhd_server_new(gw, &l->site, t->connection_memory, err, errlen);
	l->mhd_sse = l->mhd ? mhd_server_new(gw, &l->site, SSE_POOL_SIZE, err, errlen) : NULL;
	if (!l->mhd_sse) {
		mhd_server_free(l->mhd);
		close(l->fd);
		return -1;
	}
	uv_poll_init(gw->loop, &l->poll, l->fd);
	uv_timer_init(gw->loop, &l->emfile_timer);
	l->poll.data = l->emfile_timer.data = l;
	l->open_handles = 2;
	uv_poll_start(&l->poll, UV_READABLE, on_accept);
	struct sockaddr_storage bound;
	socklen_t len = sizeof bound;
	if (getsockname(l->fd, (struct sockaddr *)&bound, &len) < 0)
		return t->endpoint.port;
	return ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						 : ((struct sockaddr_in *)&bound)->sin_port);
}

struct listener *listener_new(struct gateway *gw, const struct sb_transport *t,
			      char *err, size_t errlen)
{
	struct listener *l = xcalloc(1, sizeof *l);
	int port;
	l->gw = gw;
	l->transport = t;
	l->fd = -1;
	http_site_init(&l->site, t);
	if (t->endpoint.tls) {
		l->tls = lwshttp_server_new(gw, &l->site, err, errlen);
		port = l->tls ? lwshttp_server_port(l->tls) : -1;
	} else {
		port = listen_plain(l, err, errlen);
	}
	if (port < 0) {
		http_site_cleanup(&l->site);
		free(l);
		return NULL;
	}
	log_msg(LOG_INFO, "listen", "listening on %s:%d (%s transport%s)",
		t->endpoint.interface ? t->endpoint.interface : "0.0.0.0", port,
		t->type == SB_TRANSPORT_WEB ? "web" : "websocket", l->tls ? ", TLS" : "");
	return l;
}

static void release(struct listener *l)
{
	http_site_cleanup(&l->site);
	free(l);
}

static void listen_handle_closed(uv_handle_t *h)
{
	struct listener *l = h->data;
	if (--l->open_handles == 0 && l->is_freed)
		release(l);
}

void listener_stop(struct listener *l)
{
	if (l->is_stopped)
		return;
	l->is_stopped = true;
	if (l->tls)
		return;                    /* lws keeps its socket until the context goes */
	uv_close((uv_handle_t *)&l->poll, listen_handle_closed);  /* unregisters fd now */
	uv_close((uv_handle_t *)&l->emfile_timer, listen_handle_closed);
	close(l->fd);
}

bool listener_reload(struct listener *l)
{
	if (!l->tls)
		return false;
	lwshttp_server_reload(l->tls);
	return true;
}

void listener_free(struct listener *l)
{
	listener_stop(l);
	while (l->peeks) {
		int fd = l->peeks->fd;
		peek_done(l->peeks);
		close(fd);
	}
	mhd_server_free(l->mhd);
	mhd_server_free(l->mhd_sse);
	lwshttp_server_free(l->tls);
	l->is_freed = true;
	if (l->open_handles == 0)
		release(l);
}
