/* ws.c - WAMP over WebSocket with libwebsockets (see ws.h).
 *
 * lws runs on our uv loop (LWS_SERVER_OPTION_LIBUV with a foreign loop;
 * Debian's lws has no external-poll support).  No vhost listens: the plain
 * port's listener hands over peeked WebSocket upgrades to one plain vhost,
 * and each TLS transport has a TLS vhost of its own (created here for
 * lwshttp.c, which serves its HTTP) whose upgrades on websocket paths end
 * up here too.
 *
 * Sending.  The router hands us messages (json_t) or shared frames; each
 * connection queues frame references, at most queue_limit of them.  The
 * queues are written out once per loop iteration (a uv_idle handle that
 * runs only while some connection has something queued), with as many
 * lws_write() calls per connection as the socket takes without lws having
 * to buffer, so a burst of events costs one wake-up per connection, not
 * one POLLOUT round trip per frame.  What the socket does not take waits
 * for LWS_CALLBACK_SERVER_WRITEABLE.
 *
 * A WebSocket carried in an HTTP/2 stream (RFC 8441, offered on a TLS
 * port with http2) shares its TCP connection with other streams, and lws
 * allows only one write per WRITEABLE callback there: such a connection
 * writes one fragment of at most 4000 bytes per callback instead.
 *
 * A peer whose queue is full is too slow to keep up: it is disconnected
 * (and logged) rather than buffered without bound or silently skipped.
 */
#include "ws.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <libwebsockets.h>

#include "gateway.h"
#include "http.h"
#include "log.h"
#include "router.h"
#include "util.h"

_Static_assert(LWS_PRE <= WAMP_FRAME_HEADROOM, "frames need LWS_PRE bytes of headroom");

/* Bytes one peer's queue may pin, whatever queue_limit allows: 1,024
 * queued 1 MiB results would otherwise be a gigabyte. */
#define WS_QUEUE_BYTES_MAX (16u << 20)
/* A WebSocket fragment on an HTTP/2 stream: with its header (up to 10
 * bytes) and the DATA frame's (9), within one lws send of 4 KiB. */
#define WS_H2_FRAGMENT 4000

struct ws_server {
	struct gateway *gw;
	struct lws_context *context;
	struct lws_vhost *vhost;
	struct ws_conn *dirty;         /* connections with frames to write */
	uv_idle_t flusher;
	lws_retry_bo_t keepalive;
	void *foreign_loops[1];
	struct lws_protocols tls_protocols[4]; /* lwshttp's http, then WAMP */
};

/* Per-connection state, allocated by lws (per_session_data_size). */
struct ws_conn {
	struct ws_conn *next_dirty;
	struct ws_server *ws;
	struct lws *wsi;
	const struct sb_path *path;
	struct session *session;
	char peer[64];
	struct wamp_frame **queue;     /* ring of frames to send */
	size_t head, count, cap;
	size_t queued_bytes;           /* payload bytes those frames pin */
	struct buf rx;                 /* a message arriving in pieces */
	bool is_mux;                   /* an HTTP/2 stream: one write per WRITEABLE */
	size_t frag_off;               /* ...and bytes of the head frame sent */
	bool is_dirty, is_closing, is_close_sent, is_dropped;
	unsigned short close_code;
};

static struct ws_server *server_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

/* ---- the outgoing queue ------------------------------------------------- */

static void queue_push(struct ws_conn *c, struct wamp_frame *f)
{
	if (c->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct wamp_frame **q = xmalloc(cap * sizeof *q);
		for (size_t i = 0; i < c->count; i++)
			q[i] = c->queue[(c->head + i) % c->cap];
		free(c->queue);
		c->queue = q;
		c->head = 0;
		c->cap = cap;
	}
	c->queue[(c->head + c->count++) % c->cap] = wamp_frame_ref(f);
	c->queued_bytes += f->len;
}

static void queue_clear(struct ws_conn *c)
{
	for (; c->count; c->count--, c->head = (c->head + 1) % c->cap)
		wamp_frame_unref(c->queue[c->head]);
	c->queued_bytes = 0;
	c->frag_off = 0;
	free(c->queue);
	c->queue = NULL;
	c->cap = 0;
}

static void on_flush(uv_idle_t *idle);

static void mark_dirty(struct ws_conn *c)
{
	struct ws_server *ws = c->ws;
	if (c->is_mux) {
		lws_callback_on_writable(c->wsi);
		return;
	}
	if (c->is_dirty)
		return;
	c->is_dirty = true;
	c->next_dirty = ws->dirty;
	if (!ws->dirty)
		uv_idle_start(&ws->flusher, on_flush);
	ws->dirty = c;
}

/* Drops a peer that cannot keep up: nothing more is queued for it, and
 * lws closes it from its own loop (not inside the router's fan-out). */
static void drop(struct ws_conn *c)
{
	c->is_dropped = true;
	c->ws->gw->stats.ws_overflows++;
	log_msg(LOG_WARN, "ws", "%s: %zu messages (%zu bytes) queued, the peer is not reading "
		"fast enough; disconnecting it (raise the websocket path's options.queue_limit if "
		"the client is just bursty)", c->peer, c->count, c->queued_bytes);
	queue_clear(c);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void enqueue(struct ws_conn *c, struct wamp_frame *f)
{
	if (c->is_dropped || c->is_close_sent)
		return;
	if ((c->count >= c->path->queue_limit || c->queued_bytes >= WS_QUEUE_BYTES_MAX) &&
	    !c->is_closing) {
		drop(c);
		return;
	}
	queue_push(c, f);
	mark_dirty(c);
}

/* TCP_CORK on or off: while on, the kernel gathers what we send into
 * full segments; turning it off sends the rest at once. */
static void set_cork(struct ws_conn *c, int on)
{
	setsockopt(lws_get_socket_fd(c->wsi), IPPROTO_TCP, TCP_CORK, &on, sizeof on);
}

/* Removes the frame at the head of the queue (it has been sent). */
static void pop(struct ws_conn *c)
{
	struct wamp_frame *f = c->queue[c->head];
	c->head = (c->head + 1) % c->cap;
	c->count--;
	c->queued_bytes -= f->len;
	c->frag_off = 0;
	wamp_frame_unref(f);
}

/* An HTTP/2 stream: one WebSocket fragment of the head frame per
 * WRITEABLE, at most WS_H2_FRAGMENT bytes, since lws 4.1.6 stalls on an
 * HTTP/2 DATA frame larger than one send of its own (4 KiB) and sends a
 * WebSocket frame as one DATA frame.  A frame that fits goes from its
 * shared buffer; pieces of a larger one are copied, as each needs LWS_PRE
 * bytes in front for its header. */
static int write_fragment(struct ws_conn *c)
{
	unsigned char piece[LWS_PRE + WS_H2_FRAGMENT];
	struct wamp_frame *f = c->queue[c->head];
	size_t left = f->len - c->frag_off;
	size_t n = left < WS_H2_FRAGMENT ? left : WS_H2_FRAGMENT;
	bool is_first = c->frag_off == 0, is_last = n == left;
	unsigned char *data = wamp_frame_payload(f);
	if (!(is_first && is_last)) {
		memcpy(piece + LWS_PRE, data + c->frag_off, n);
		data = piece + LWS_PRE;
	}
	int flags = lws_write_ws_flags(f->is_binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT,
				       is_first, is_last);
	if (lws_write(c->wsi, data, n, (enum lws_write_protocol)flags) < 0)
		return -1;
	c->frag_off += n;
	if (is_last)
		pop(c);
	return 0;
}

/* Writes queued frames while the socket takes them whole (on an HTTP/2
 * stream, which writes only from WRITEABLE, one fragment).  Returns -1 if
 * the connection failed.  lws sends each frame with its own send(); with
 * several frames queued the socket is corked meanwhile, so they leave in
 * one segment and the receiving side (on loopback, charged to us) handles
 * one packet instead of one per frame. */
static int write_queue(struct ws_conn *c)
{
	bool is_corked = c->count > 1 && !c->is_mux;
	int rc = 0;
	if (c->is_mux) {
		if (c->count && !lws_partial_buffered(c->wsi))
			rc = write_fragment(c);
	} else {
		if (is_corked)
			set_cork(c, 1);
		while (c->count && !lws_partial_buffered(c->wsi)) {
			struct wamp_frame *f = c->queue[c->head];
			int n = lws_write(c->wsi, wamp_frame_payload(f), f->len,
					  f->is_binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
			pop(c);
			if (n < 0) {
				rc = -1;
				break;
			}
		}
		if (is_corked)
			set_cork(c, 0);
	}
	if (!rc && (c->count || (c->is_closing && !c->is_close_sent)))
		lws_callback_on_writable(c->wsi);
	return rc;
}

static void on_flush(uv_idle_t *idle)
{
	struct ws_server *ws = idle->data;
	struct ws_conn *c = ws->dirty;
	ws->dirty = NULL;
	uv_idle_stop(idle);
	while (c) {
		struct ws_conn *next = c->next_dirty;
		c->is_dirty = false;
		if (!c->is_dropped && write_queue(c) < 0)
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		c = next;
	}
}

/* lws 4.1 drops the connection without a close frame when a callback
 * returns -1 after lws_close_reason(), so the frame is written here and
 * the peer's answer (or a 2 s timeout) ends the connection. */
static void write_close_frame(struct ws_conn *c)
{
	unsigned char frame[LWS_PRE + 2] = {0};
	frame[LWS_PRE] = (unsigned char)(c->close_code >> 8);
	frame[LWS_PRE + 1] = (unsigned char)(c->close_code & 0xff);
	lws_write(c->wsi, frame + LWS_PRE, 2, (enum lws_write_protocol)4 /* close */);
	c->is_close_sent = true;
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 2);
}

/* ---- session operations -------------------------------------------------- */

static void conn_send_frame(struct session *s, struct wamp_frame *f)
{
	enqueue(s->transport, f);
}

static void conn_send(struct session *s, json_t *msg)
{
	struct wamp_frame *f = wamp_encode(s->serializer, msg);
	enqueue(s->transport, f);
	wamp_frame_unref(f);
	json_decref(msg);
}

static void conn_close(struct session *s, int code)
{
	struct ws_conn *c = s->transport;
	if (c->is_closing)
		return;
	c->is_closing = true;
	c->close_code = (unsigned short)code;
	mark_dirty(c);
}

static const struct session_ops conn_ops = {conn_send, conn_send_frame, conn_close};

/* ---- receiving ------------------------------------------------------------ */

/* One piece of a message: whole messages go straight to the router, the
 * rest is gathered first (rx_buffer_size is small to keep idle memory
 * low, so anything over 1 KiB arrives in pieces).  An oversized message
 * ends the session; the connection then ignores its input (is_closing). */
static void on_receive(struct ws_conn *c, const char *data, size_t len)
{
	bool is_last = lws_is_final_fragment(c->wsi) && !lws_remaining_packet_payload(c->wsi);
	if (c->rx.len + len > c->path->max_message_size) {
		router_abort(c->session, "wamp.error.payload_size_exceeded", 1009, "a message of "
			     "%s%zu bytes exceeds this transport's max_message_size of %zu bytes",
			     is_last ? "" : "at least ", c->rx.len + len, c->path->max_message_size);
		buf_free(&c->rx);
		return;
	}
	if (is_last && !c->rx.len) {
		router_receive_bytes(c->session, data, len);
		return;
	}
	buf_append(&c->rx, data, len);
	if (is_last) {
		router_receive_bytes(c->session, c->rx.data, c->rx.len);
		buf_free(&c->rx);
	}
}

/* ---- lws callbacks ----------------------------------------------------- */

static void on_established(struct ws_server *ws, struct ws_conn *c, struct lws *wsi)
{
	struct sockaddr_storage addr;
	socklen_t addrlen = sizeof addr;
	const struct lws_protocols *proto = lws_get_protocol(wsi);
	enum wamp_serializer ser = strcmp(proto->name, "wamp.2.msgpack") ? WAMP_JSON : WAMP_MSGPACK;
	memset(c, 0, sizeof *c);
	c->ws = ws;
	c->wsi = wsi;
	c->path = lws_get_opaque_user_data(wsi);
	c->is_mux = lws_get_network_wsi(wsi) != wsi;
	if (getpeername(lws_get_socket_fd(lws_get_network_wsi(wsi)), (struct sockaddr *)&addr,
			&addrlen) == 0)
		format_peer((struct sockaddr *)&addr, c->peer, sizeof c->peer);   /* "ip:port" */
	else
		snprintf(c->peer, sizeof c->peer, "?");
	c->session = router_session_new(ws->gw->router, &conn_ops, c, ser, c->peer, c->path);
	ws->gw->stats.ws_connections++;
	log_msg(LOG_DEBUG, "ws", "%s: WebSocket open (%s)", c->peer, proto->name);
}

static void on_closed(struct ws_server *ws, struct ws_conn *c)
{
	if (c->is_dirty) {
		struct ws_conn **p = &ws->dirty;
		while (*p != c)
			p = &(*p)->next_dirty;
		*p = c->next_dirty;
	}
	if (c->session)
		router_session_gone(c->session);
	queue_clear(c);
	buf_free(&c->rx);
	ws->gw->stats.ws_connections--;
	log_msg(LOG_DEBUG, "ws", "%s: WebSocket closed", c->peer);
}

/* An upgrade on a TLS vhost (HTTP/1.1, or a WebSocket in an HTTP/2
 * stream): the vhost's site routes its path, which must be a websocket
 * path whose origin rules let the page in; its options then apply.  Plain-port connections had their path
 * set when the listener handed them over.  Nonzero refuses. */
static int bind_tls_path(struct lws *wsi)
{
	const struct http_site *site = lws_vhost_user(lws_get_vhost(wsi));
	char *uri, path[512];
	int len;
	if (!site || lws_get_opaque_user_data(wsi))
		return 0;
	if (lws_http_get_uri_and_method(wsi, &uri, &len) < 0 || len <= 0 ||
	    (size_t)len >= sizeof path)
		return 1;
	memcpy(path, uri, (size_t)len);
	path[len] = '\0';
	path[strcspn(path, "?")] = '\0';
	const struct http_route *route = http_site_route(site, path);
	char origin[1024], host[512];
	int olen = lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN);
	int hlen = lws_hdr_copy(wsi, host, sizeof host, lws_hdr_total_length(wsi, WSI_TOKEN_HOST)
				? WSI_TOKEN_HOST : WSI_TOKEN_HTTP_COLON_AUTHORITY);
	if (olen < 0)
		return 1;                  /* an Origin too long to check */
	if (route->kind != ROUTE_WEBSOCKET ||
	    !http_origin_allowed(site->transport, route->path, olen > 0 ? origin : NULL,
				 olen > 0 ? (size_t)olen : 0, hlen > 0 ? host : NULL,
				 hlen > 0 ? (size_t)hlen : 0))
		return 1;
	lws_set_opaque_user_data(wsi, (void *)route->path);
	return 0;
}

static int callback_wamp(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			 void *in, size_t len)
{
	struct ws_conn *c = user;
	struct ws_server *ws = server_of(wsi);

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return bind_tls_path(wsi);
	case LWS_CALLBACK_ESTABLISHED:
		on_established(ws, c, wsi);
		break;
	case LWS_CALLBACK_RECEIVE:
		if (!c->is_closing && !c->is_dropped)
			on_receive(c, in, len);
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (c->is_dropped || write_queue(c) < 0)
			return -1;
		if (!c->count && c->is_closing && !c->is_close_sent && !lws_partial_buffered(wsi))
			write_close_frame(c);
		break;
	case LWS_CALLBACK_CLOSED:
		on_closed(ws, c);
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	/* protocols[0] gets handshakes offering no known subprotocol; the
	 * listener never hands those over (MHD answers them with 400). */
	{"http", lws_callback_http_dummy, 0, 0, 0, NULL, 0},
	/* rx_buffer_size 1024: about 2.5 KiB per idle connection instead of 5.4
	 * (one-port-notes §4); bigger messages arrive in pieces. */
	{"wamp.2.json", callback_wamp, sizeof(struct ws_conn), 1024, 0, NULL, 0},
	{"wamp.2.msgpack", callback_wamp, sizeof(struct ws_conn), 1024, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_logger(int level, const char *line)
{
	char copy[512];
	/* lws_http_mark_sse() on an HTTP/1.1 event stream (lwshttp.c) logs
	 * this as an error; the stream is fine. */
	if (strstr(line, "lws_mux_mark_immortal: not h2 substream"))
		return;
	/* lws retries a failing accept() (out of fds) at once, logging each
	 * time: say it at most every 10 s. */
	static uint64_t last_accept_error;
	if (strstr(line, "accept: errno")) {
		uint64_t now = mono_ns() / 1000000;
		if (last_accept_error && now - last_accept_error < 10000)
			return;
		last_accept_error = now;
	}
	snprintf(copy, sizeof copy, "%s", line);
	copy[strcspn(copy, "\n")] = '\0';
	log_msg(level == LLL_ERR ? LOG_ERROR : LOG_WARN, "ws", "libwebsockets: %s", copy);
}

/* Keep-alive is per vhost in lws: the shortest auto_ping_interval of any
 * WebSocket path applies to all of them. */
static void keepalive_policy(struct ws_server *ws, const struct sb_config *cfg)
{
	int interval_ms = 0, timeout_ms = 0;
	for (size_t i = 0; i < cfg->n_transports; i++) {
		for (size_t j = 0; j < cfg->transports[i].n_paths; j++) {
			const struct sb_path *p = &cfg->transports[i].paths[j];
			if (p->type != SB_PATH_WEBSOCKET || !p->auto_ping_interval_ms)
				continue;
			if (!interval_ms || p->auto_ping_interval_ms < interval_ms) {
				interval_ms = p->auto_ping_interval_ms;
				timeout_ms = p->auto_ping_timeout_ms ? p->auto_ping_timeout_ms
								     : interval_ms;
			}
		}
	}
	/* lws counts whole seconds and hangs up without pinging unless the
	 * hang-up comes at least a second after the ping. */
	int ping_s = (interval_ms + 999) / 1000, timeout_s = (timeout_ms + 999) / 1000;
	ws->keepalive.secs_since_valid_ping = (uint16_t)ping_s;
	ws->keepalive.secs_since_valid_hangup = (uint16_t)(ping_s + (timeout_s ? timeout_s : 1));
}

/* The TLS connections lws may hold: max_connections of each TLS
 * transport (0: no TLS transport). */
static size_t tls_connection_limit(const struct sb_config *cfg)
{
	size_t n = 0;
	for (size_t i = 0; i < cfg->n_transports; i++)
		if (cfg->transports[i].endpoint.tls)
			n += cfg->transports[i].max_connections;
	return n > INT_MAX ? INT_MAX : n;
}

struct ws_server *ws_server_new(struct gateway *gw, char *err, size_t errlen)
{
	struct ws_server *ws = xcalloc(1, sizeof *ws);
	struct lws_context_creation_info info;
	ws->gw = gw;
	ws->foreign_loops[0] = gw->loop;

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_logger);
	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	if (tls_connection_limit(gw->cfg)) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		/* At the limit lws stops accepting on its TLS ports (instead
		 * of failing accept() in a loop once fds run out). */
		info.simultaneous_ssl_restriction = (int)tls_connection_limit(gw->cfg);
	}
	info.foreign_loops = ws->foreign_loops;
	info.user = ws;
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	ws->context = lws_create_context(&info);
	if (!ws->context) {
		snprintf(err, errlen, "ws: cannot create the libwebsockets context (is the "
			 "libwebsockets-evlib-uv package installed?)");
		free(ws);
		return NULL;
	}
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.protocols = protocols;
	info.vhost_name = "switchboard";
	keepalive_policy(ws, gw->cfg);
	if (ws->keepalive.secs_since_valid_ping)
		info.retry_and_idle_policy = &ws->keepalive;
	ws->vhost = lws_create_vhost(ws->context, &info);
	if (!ws->vhost) {
		snprintf(err, errlen, "ws: cannot create the libwebsockets vhost");
		lws_context_destroy(ws->context);
		free(ws);
		return NULL;
	}
	uv_idle_init(gw->loop, &ws->flusher);
	ws->flusher.data = ws;
	return ws;
}

struct lws_vhost *ws_server_add_tls_vhost(struct ws_server *ws,
					  struct lws_context_creation_info *info,
					  const struct lws_protocols *http)
{
	ws->tls_protocols[0] = *http;
	ws->tls_protocols[1] = protocols[1];
	ws->tls_protocols[2] = protocols[2];
	info->protocols = ws->tls_protocols;   /* lws copies them */
	info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	if (ws->keepalive.secs_since_valid_ping)
		info->retry_and_idle_policy = &ws->keepalive;
	return lws_create_vhost(ws->context, info);
}

void ws_server_adopt(struct ws_server *ws, int fd, const struct sb_path *path)
{
	struct lws *wsi = lws_adopt_socket_vhost(ws->vhost, fd);
	if (!wsi) {
		log_msg(LOG_WARN, "ws", "fd %d: libwebsockets refused the connection; closing", fd);
		close(fd);
		return;
	}
	lws_set_opaque_user_data(wsi, (void *)path);
}

void ws_server_stop(struct ws_server *ws)
{
	if (!ws)
		return;
	uv_close((uv_handle_t *)&ws->flusher, NULL);
	lws_context_destroy(ws->context);
}

void ws_server_free(struct ws_server *ws)
{
	if (!ws)
		return;
	lws_context_destroy(ws->context);
	free(ws);
}
