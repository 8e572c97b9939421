/* lwshttp.c - libwebsockets adapter for the TLS port (see lwshttp.h).
 *
 * lws gives every HTTP/1.1 connection, and every HTTP/2 stream, a wsi of
 * its own, serving one request at a time.  A request is a struct lreq,
 * made at LWS_CALLBACK_HTTP: its body arrives in HTTP_BODY, the handler
 * runs at HTTP_BODY_COMPLETION (at once when there is no body), and the
 * response goes out from HTTP_WRITEABLE: the head, then the body, a file
 * or an event stream in chunks.  On HTTP/2 lws allows one lws_write per
 * WRITEABLE callback, so the head and each chunk wait for their own; on
 * HTTP/1.1 the head and the first chunk go together.
 *
 * libwebsockets 4.1.6 behaviour this file works around (HACKING.md):
 *  - on HTTP/2 it keeps only the request headers it knows by name
 *    (Last-Event-ID and X-Hub-Signature are not among them), and on
 *    HTTP/1.1 other headers can be looked up by name but not listed;
 *  - it joins repeated Cookie fields without a separator, and HTTP/2
 *    clients split cookies: values are joined here, fragment by fragment;
 *  - request bodies over 256 KiB stall on HTTP/2: they are capped below;
 *  - an HTTP/2 DATA frame larger than one lws send (4 KiB) stalls: every
 *    write is at most that;
 *  - lws_http_mark_sse() releases the request headers, so the method, the
 *    path and every value handed to a handler are copies owned here;
 *  - its default HTTP/2 settings cost 159 KB per connection (a 64 KiB
 *    HPACK table): the vhost advertises a 4 KiB one (31 KB).
 */
#include "lwshttp.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "gateway.h"
#include "log.h"
#include "tls.h"
#include "util.h"
#include "ws.h"

/* Bodies above this stall on HTTP/2 in lws 4.1.6 (at 262,144 bytes):
 * larger ones get 413 there; HTTP/1.1 takes the route's limit. */
#define H2_BODY_MAX (255u * 1024)
/* What lws sends in one go (pt_serv_buf_size, 4096, less an HTTP/2
 * frame header): a larger HTTP/2 DATA frame is split by lws and its rest
 * never sent (lws 4.1.6); lws' own file serving writes this much. */
#define WRITE_CHUNK (4096 - 9)
#define HEAD_MAX 8192

struct lwshttp_server {
	struct gateway *gw;
	const struct http_site *site;  /* borrowed; the vhost's user data */
	const struct sb_tls *tls;
	struct lws_vhost *vhost;
	SSL_CTX *ssl_ctx;              /* lws's, set up here; reloads change it */
	struct tls_material material;  /* during creation only */
	char name[80];                 /* "127.0.0.1:8443", for log lines */
	char vhost_name[32];
	char err[512];                 /* why the SSL_CTX setup failed */
};

enum phase {
	P_BODY,                        /* reading the request body */
	P_PENDING,                     /* the handler answers later */
	P_READY,                       /* response ready: head next */
	P_SENDING,                     /* body or file going out */
	P_STREAMING,                   /* an event stream */
};

/* One request and its response.  Owned by the wsi's lconn; freed when the
 * response is complete or the connection is gone, whichever comes first. */
struct lreq {
	struct http_request req;       /* first member */
	struct lws *wsi;
	struct lconn *conn;
	enum phase phase;
	bool is_h2, is_head;
	char method[16];
	char *path;                    /* owned, percent-decoded, no query */
	char **copies;                 /* owned: header values and query */
	size_t n_copies;               /* arguments handed to the handler */
	size_t body_off;               /* response body bytes written */
	uint64_t file_left;            /* response file bytes still to write */
	struct http_stream *stream;    /* started event stream, or NULL */
};

/* lws' per-session data of the "http" protocol. */
struct lconn {
	struct lreq *r;
};

/* The server being created: the SSL_CTX setup callback runs inside
 * lws_create_vhost(), before the vhost can carry a pointer to it. */
static struct lwshttp_server *being_created;

static struct lwshttp_server *server_of(struct lws *wsi)
{
	struct lwshttp_server **slot =
		lws_protocol_vh_priv_get(lws_get_vhost(wsi), lws_get_protocol(wsi));
	return slot ? *slot : NULL;
}

/* ---- request values, copied ------------------------------------------------ */

/* Takes ownership of s, keeps it until the request is freed; returns it. */
static const char *keep(struct lreq *r, char *s)
{
	r->copies = xrealloc(r->copies, (r->n_copies + 1) * sizeof(*r->copies));
	r->copies[r->n_copies++] = s;
	return s;
}

/* All fragments of a known header (repeated fields), joined with sep;
 * new string, or NULL if the request has no such header. */
static char *join_fragments(struct lws *wsi, enum lws_token_indexes token, const char *sep)
{
	struct buf b = {0};
	int i;
	for (i = 0;; i++) {
		int len = lws_hdr_fragment_length(wsi, token, i);   /* 0 if none */
		char *frag = xmalloc((size_t)len + 1);
		int got = lws_hdr_copy_fragment(wsi, frag, len + 1, token, i);
		if (got >= 0) {
			if (i)
				buf_append(&b, sep, strlen(sep));
			buf_append(&b, frag, (size_t)got);
		}
		free(frag);
		if (got < 0)
			break;
	}
	if (i == 0)
		return NULL;
	buf_append(&b, "", 1);
	return b.data;
}

/* The token lws files a header under ("content-type:"), or -1. */
static int token_of(const char *lower_colon)
{
	for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
		const unsigned char *s = lws_token_to_string((enum lws_token_indexes)t);
		if (s && !strcmp((const char *)s, lower_colon))
			return t;
	}
	return -1;
}

static const char *header(struct http_request *req, const char *name)
{
	struct lreq *r = (struct lreq *)req;
	char key[64];
	size_t n = strlen(name);
	if (n + 2 > sizeof key)
		return NULL;
	for (size_t i = 0; i < n; i++)
		key[i] = (char)tolower((unsigned char)name[i]);
	key[n] = ':';
	key[n + 1] = '\0';
	int token = token_of(key);
	if (token >= 0) {
		char *v = join_fragments(r->wsi, (enum lws_token_indexes)token,
					 token == WSI_TOKEN_HTTP_COOKIE ? "; " : ", ");
		return v ? keep(r, v) : NULL;
	}
	if (r->is_h2)
		return NULL;               /* lws 4.1 drops unknown HTTP/2 headers */
	int len = lws_hdr_custom_length(r->wsi, key, (int)n + 1);
	if (len < 0)
		return NULL;
	char *v = xmalloc((size_t)len + 1);
	if (lws_hdr_custom_copy(r->wsi, v, len + 1, key, (int)n + 1) < 0) {
		free(v);
		return NULL;
	}
	return keep(r, v);
}

/* Headers lws 4.1 keeps but cannot list (it knows no name for them) that
 * webhook senders rely on: on HTTP/1.1 they are looked up by name, so a
 * webhook publishes them as on the plain port. */
static const char *const webhook_headers[] = {
	"X-GitHub-Event", "X-GitHub-Delivery", "X-GitHub-Hook-ID", "X-Hub-Signature",
	"X-Hub-Signature-256", "X-Gitlab-Event", "X-Gitlab-Token", "X-Gitea-Event",
	"X-Gitea-Delivery", "X-Gitea-Signature", "X-Event-Key", "X-Request-Id",
	"X-Forwarded-Proto", "X-Forwarded-Host", "Stripe-Signature", NULL,
};

static void each_header(struct http_request *req,
			void (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
	struct lreq *r = (struct lreq *)req;
	for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
		const char *s = (const char *)lws_token_to_string((enum lws_token_indexes)t);
		size_t n = s ? strlen(s) : 0;
		if (n < 2 || s[n - 1] != ':' || s[0] == ':' || !lws_hdr_total_length(r->wsi, t))
			continue;              /* methods, pseudo-headers, absent */
		char name[64];
		snprintf(name, sizeof name, "%.*s", (int)n - 1, s);
		const char *v = header(req, name);
		if (v)
			fn(ctx, name, v);
	}
	for (const char *const *h = webhook_headers; *h && !r->is_h2; h++) {
		const char *v = header(req, *h);
		if (v)
			fn(ctx, *h, v);
	}
}

static void each_query(struct http_request *req,
		       void (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
	struct lreq *r = (struct lreq *)req;
	for (int i = 0;; i++) {
		int len = lws_hdr_fragment_length(r->wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
		char *arg = xmalloc((size_t)len + 1);
		if (lws_hdr_copy_fragment(r->wsi, arg, len + 1, WSI_TOKEN_HTTP_URI_ARGS, i) < 0) {
			free(arg);
			break;
		}
		keep(r, arg);
		char *eq = strchr(arg, '=');
		if (eq)
			*eq = '\0';
		fn(ctx, arg, eq ? eq + 1 : NULL);
	}
}

static void resume(struct http_request *req);

static const struct http_adapter adapter = {header, each_header, each_query, resume};

/* ---- requests ---------------------------------------------------------------- */

/* Frees r: a handler still waiting is told the client left, a stream is
 * closed (also one never started). */
static void request_free(struct lreq *r)
{
	if (r->req.pending && r->req.cancel)
		r->req.cancel(&r->req);
	struct http_stream *st = r->stream ? r->stream : r->req.response.stream;
	r->req.response.stream = NULL;
	if (st)
		st->closed(st);
	http_request_cleanup(&r->req);
	for (size_t i = 0; i < r->n_copies; i++)
		free(r->copies[i]);
	free(r->copies);
	free(r->path);
	r->conn->r = NULL;
	free(r);
}

static void copy_method(struct lreq *r)
{
	static const struct {
		enum lws_token_indexes token;
		const char *name;
	} methods[] = {
		{WSI_TOKEN_GET_URI, "GET"}, {WSI_TOKEN_POST_URI, "POST"},
		{WSI_TOKEN_OPTIONS_URI, "OPTIONS"}, {WSI_TOKEN_PUT_URI, "PUT"},
		{WSI_TOKEN_PATCH_URI, "PATCH"}, {WSI_TOKEN_DELETE_URI, "DELETE"},
		{WSI_TOKEN_HEAD_URI, "HEAD"},
	};
	if (lws_hdr_copy(r->wsi, r->method, sizeof r->method, WSI_TOKEN_HTTP_COLON_METHOD) > 0)
		return;                    /* HTTP/2 */
	for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
		if (lws_hdr_total_length(r->wsi, methods[i].token)) {
			snprintf(r->method, sizeof r->method, "%s", methods[i].name);
			return;
		}
	snprintf(r->method, sizeof r->method, "?");
}

/* Content-Length of the request, or -1 without one. */
static long long content_length(struct lws *wsi)
{
	char v[32];
	if (lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return -1;
	return strtoll(v, NULL, 10);
}

static void peer_of(struct lws *wsi, char *out, size_t len)
{
	struct sockaddr_storage addr;
	socklen_t alen = sizeof addr;
	int fd = lws_get_socket_fd(lws_get_network_wsi(wsi));
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&addr, &alen) < 0)
		snprintf(out, len, "?");
	else
		format_peer((struct sockaddr *)&addr, out, len);
}

static struct lreq *request_new(struct lwshttp_server *s, struct lws *wsi, struct lconn *conn,
				const char *uri, size_t len)
{
	struct lreq *r = xcalloc(1, sizeof *r);
	r->wsi = wsi;
	r->conn = conn;
	conn->r = r;
	r->is_h2 = lws_get_network_wsi(wsi) != wsi;
	copy_method(r);
	r->is_head = !strcmp(r->method, "HEAD");
	r->path = xstrndup(uri, len);
	r->path[strcspn(r->path, "?")] = '\0';
	http_request_init(&r->req);
	r->req.adapter = &adapter;
	r->req.gw = s->gw;
	r->req.method = r->method;
	r->req.path = r->path;
	r->req.route = http_site_route(s->site, r->path);
	r->req.is_secure = true;
	if (r->is_h2 && r->req.route->body_limit > H2_BODY_MAX)
		r->req.body_limit = H2_BODY_MAX;
	peer_of(wsi, r->req.peer, sizeof r->req.peer);
	return r;
}

static size_t body_limit(const struct lreq *r)
{
	return r->req.body_limit ? r->req.body_limit : r->req.route->body_limit;
}

/* The response is complete: send it from the next WRITEABLE. */
static int answer(struct lreq *r)
{
	r->phase = P_READY;
	lws_callback_on_writable(r->wsi);
	return 0;
}

static int dispatch(struct lreq *r)
{
	/* A handler may finish during http_dispatch (http_finish() clears
	 * pending): then it is answered now, like one that returned DONE. */
	if (http_dispatch(&r->req) == HTTP_PENDING && r->req.pending) {
		r->phase = P_PENDING;
		lws_set_timeout(r->wsi, NO_PENDING_TIMEOUT, 0);  /* a /call may take long */
		return 0;
	}
	return answer(r);
}

static void resume(struct http_request *req)
{
	struct lreq *r = (struct lreq *)req;
	if (r->phase == P_PENDING)
		answer(r);
}

static int on_http(struct lwshttp_server *s, struct lws *wsi, struct lconn *conn,
		   const char *uri, size_t len)
{
	if (!s || !conn)
		return -1;                 /* shutting down */
	if (conn->r)
		request_free(conn->r);     /* not expected: one request at a time */
	struct lreq *r = request_new(s, wsi, conn, uri, len);
	long long declared = content_length(wsi);
	if (declared > (long long)body_limit(r)) {
		r->req.body_too_large = true;  /* refused before reading it */
		return dispatch(r);
	}
	/* HTTP/2 may send a body without a Content-Length. */
	bool may_have_body = !strcmp(r->method, "POST") || !strcmp(r->method, "PUT") ||
			     !strcmp(r->method, "PATCH");
	if (declared > 0 || (declared < 0 && r->is_h2 && may_have_body)) {
		r->phase = P_BODY;
		return 0;
	}
	return dispatch(r);
}

static int on_body(struct lreq *r, const char *data, size_t len)
{
	if (!r || r->phase != P_BODY)
		return 0;
	if (r->req.body.len + len > body_limit(r)) {
		/* Answer now: on HTTP/2 the rest may never come (see top). */
		r->req.body_too_large = true;
		buf_free(&r->req.body);
		return dispatch(r);
	}
	buf_append(&r->req.body, data, len);
	return 0;
}

static int on_body_done(struct lreq *r)
{
	if (!r || r->phase != P_BODY)
		return 0;
	return dispatch(r);
}

/* ---- responses ------------------------------------------------------------------ */

static int add_header(struct lws *wsi, const char *name, const char *value,
		      unsigned char **p, unsigned char *end)
{
	char key[128];
	snprintf(key, sizeof key, "%s:", name);
	return lws_add_http_header_by_name(wsi, (const unsigned char *)key,
					   (const unsigned char *)value, (int)strlen(value), p, end);
}

static void stream_wake(struct http_stream *st)
{
	struct lreq *r = st->conn;
	st->is_paused = false;
	lws_callback_on_writable(r->wsi);
}

/* Drops the connection (an HTTP/2 stream: just the stream) from lws' loop. */
static void stream_kill(struct http_stream *st)
{
	struct lreq *r = st->conn;
	lws_set_timeout(r->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void start_stream(struct lreq *r)
{
	r->stream = r->req.response.stream;
	r->req.response.stream = NULL;
	r->stream->conn = r;
	r->stream->wake = stream_wake;
	r->stream->kill = stream_kill;
	/* No idle timeout for the stream (on HTTP/2, for its connection
	 * while it lasts); releases the request headers.  On HTTP/1.1 it
	 * logs "not h2 substream", which ws.c's logger drops. */
	lws_http_mark_sse(r->wsi);
	r->phase = P_STREAMING;
}

static void log_answer(struct lwshttp_server *s, struct lreq *r)
{
	s->gw->stats.http_requests++;
	if (s->site->transport->access_log)
		log_msg(LOG_INFO, "http", "%s: %s %s %d%s (TLS%s)", r->req.peer, r->req.method,
			r->req.path, r->req.response.status, r->stream ? " (event stream)" : "",
			r->is_h2 ? ", HTTP/2" : "");
}

/* Status line and headers.  -1 closes the connection. */
static int write_head(struct lwshttp_server *s, struct lreq *r)
{
	unsigned char out[LWS_PRE + HEAD_MAX];
	unsigned char *start = out + LWS_PRE, *p = start, *end = out + sizeof out - 1;
	struct http_response *res = &r->req.response;
	const struct sb_transport *t = s->site->transport;
	lws_filepos_t len = res->stream ? LWS_ILLEGAL_HTTP_CONTENT_LEN
			  : res->file_fd >= 0 ? res->file_size : res->body.len;
	char hsts[48];
	int fail = lws_add_http_common_headers(r->wsi, (unsigned)res->status, res->content_type,
					       len, &p, end);
	for (size_t i = 0; i < res->n_headers && !fail; i++)
		fail = add_header(r->wsi, res->headers[i].name, res->headers[i].value, &p, end);
	if (t->hsts && !fail) {
		snprintf(hsts, sizeof hsts, "max-age=%d", t->hsts_max_age_s);
		fail = add_header(r->wsi, "Strict-Transport-Security", hsts, &p, end);
	}
	if (fail) {
		log_msg(LOG_WARN, "http", "%s: %s %s: the response headers exceed %d bytes; closing",
			r->req.peer, r->req.method, r->req.path, HEAD_MAX);
		return -1;
	}
	if (lws_finalize_write_http_header(r->wsi, start, &p, end))
		return -1;
	r->file_left = res->file_fd >= 0 ? res->file_size : 0;
	if (res->stream && !r->is_head)
		start_stream(r);
	else
		r->phase = P_SENDING;
	log_answer(s, r);
	return 0;
}

/* The transaction is over: free the request, let lws keep the connection
 * for the next one (HTTP/1.1 keep-alive) or close it. */
static int finish(struct lreq *r)
{
	struct lws *wsi = r->wsi;
	request_free(r);
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Bytes lws may write now (HTTP/2 flow control), at most max; 0 = wait. */
static size_t allowance(struct lws *wsi, size_t max)
{
	lws_fileofs_t a = lws_get_peer_write_allowance(wsi);
	return a < 0 || (size_t)a > max ? max : (size_t)a;
}

static int write_body(struct lreq *r)
{
	unsigned char out[LWS_PRE + WRITE_CHUNK], *buf = out + LWS_PRE;
	struct http_response *res = &r->req.response;
	size_t max = allowance(r->wsi, WRITE_CHUNK), n = 0;
	bool last = true;
	if (r->is_head) {
		n = 0;                     /* the head said how long; no body */
	} else if (res->file_fd >= 0) {
		size_t want = r->file_left < max ? (size_t)r->file_left : max;
		ssize_t got = want ? read(res->file_fd, buf, want) : 0;
		if (got < 0 || (got == 0 && want)) {
			log_msg(LOG_WARN, "http", "%s: %s: reading the file failed: %s", r->req.peer,
				r->req.path, got < 0 ? strerror(errno) : "it became shorter");
			return -1;
		}
		n = (size_t)got;
		r->file_left -= n;
		last = r->file_left == 0;
	} else {
		size_t left = res->body.len - r->body_off;
		n = left < max ? left : max;
		if (n)
			memcpy(buf, res->body.data + r->body_off, n);
		r->body_off += n;
		last = r->body_off == res->body.len;
	}
	if (!n && !last) {                 /* no HTTP/2 window: wait for it */
		lws_callback_on_writable(r->wsi);
		return 0;
	}
	/* An empty body still ends the HTTP/2 stream (END_STREAM). */
	if ((n || r->is_h2) &&
	    lws_write(r->wsi, buf, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
		return -1;
	if (!last) {
		lws_callback_on_writable(r->wsi);
		return 0;
	}
	return finish(r);
}

static int write_stream(struct lreq *r)
{
	unsigned char out[LWS_PRE + WRITE_CHUNK], *buf = out + LWS_PRE;
	size_t max = allowance(r->wsi, WRITE_CHUNK);
	if (!max) {
		lws_callback_on_writable(r->wsi);
		return 0;
	}
	ssize_t n = r->stream->read(r->stream, (char *)buf, max);
	if (n == HTTP_STREAM_END) {
		/* HTTP/2 ends the stream; HTTP/1.1 (no length) closes. */
		if (r->is_h2 && lws_write(r->wsi, buf, 0, LWS_WRITE_HTTP_FINAL) != 0)
			return -1;
		return finish(r);
	}
	if (n == 0) {
		r->stream->is_paused = true;   /* until wake() */
		return 0;
	}
	if (lws_write(r->wsi, buf, (size_t)n, LWS_WRITE_HTTP) != (int)n)
		return -1;
	lws_callback_on_writable(r->wsi);  /* more may be queued */
	return 0;
}

static int on_writeable(struct lwshttp_server *s, struct lconn *conn)
{
	struct lreq *r = conn ? conn->r : NULL;
	if (!r || r->phase < P_READY)
		return 0;
	if (r->phase == P_READY) {
		if (!s || write_head(s, r) < 0)
			return -1;
		if (r->is_h2) {
			lws_callback_on_writable(r->wsi);
			return 0;
		}
	}
	return r->phase == P_STREAMING ? write_stream(r) : write_body(r);
}

/* ---- WebSocket upgrades (HTTP/1.1) ----------------------------------------------- */

/* Writes a complete small response now (the upgrade request is answered
 * before any WRITEABLE).  Returns 1: lws completes the transaction. */
static int reply_now(struct lws *wsi, struct http_request *req)
{
	unsigned char out[LWS_PRE + 2048];
	unsigned char *start = out + LWS_PRE, *p = start, *end = out + sizeof out - 1;
	struct http_response *res = &req->response;
	if (lws_add_http_common_headers(wsi, (unsigned)res->status, res->content_type,
					res->body.len, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_write(wsi, (unsigned char *)res->body.data, res->body.len, LWS_WRITE_HTTP_FINAL);
	return 1;
}

/* An HTTP/1.1 Upgrade: WebSocket on a websocket path offering a WAMP
 * subprotocol, from an allowed origin, goes ahead (ws.c binds the path);
 * anything else is answered as on the plain port: the websocket path's
 * 400 or 403, or 400 elsewhere. */
static int confirm_upgrade(struct lwshttp_server *s, struct lws *wsi, const char *what)
{
	char *uri, proto[256];
	int len;
	if (!s || strcasecmp(what, "websocket"))
		return -1;                 /* h2c over TLS makes no sense */
	if (lws_http_get_uri_and_method(wsi, &uri, &len) < 0 || len <= 0)
		return -1;
	struct lconn none = {0};
	struct lreq *r = request_new(s, wsi, &none, uri, (size_t)len);
	const struct http_route *route = r->req.route;
	const char *origin = header(&r->req, "Origin"), *host = header(&r->req, "Host");
	int plen = lws_hdr_copy(wsi, proto, sizeof proto, WSI_TOKEN_PROTOCOL);
	int rc = 0;
	if (route->kind != ROUTE_WEBSOCKET)
		http_error(&r->req, 400, "switchboard.error.bad_request",
			   "No WebSocket endpoint at %s.", r->path);
	else if (plen <= 0 || !http_offers_wamp(proto, (size_t)plen) ||
		 !http_origin_allowed(route->transport, route->path, origin,
				      origin ? strlen(origin) : 0, host, host ? strlen(host) : 0))
		http_dispatch(&r->req);    /* the websocket path's 400 or 403 */
	else
		rc = -2;                   /* allowed */
	if (rc == 0)
		rc = reply_now(wsi, &r->req);
	request_free(r);
	return rc == -2 ? 0 : rc;
}

/* ---- the protocol ------------------------------------------------------------------ */

static int setup_ssl_ctx(SSL_CTX *ctx)
{
	struct lwshttp_server *s = being_created;
	if (!s)
		return 0;
	s->ssl_ctx = ctx;
	return tls_ctx_setup(ctx, s->tls, &s->material, s->err, sizeof s->err) < 0 ? -1 : 0;
}

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			 void *in, size_t len)
{
	struct lconn *conn = user;
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
		return setup_ssl_ctx(user);    /* user is the vhost's SSL_CTX */
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return confirm_upgrade(server_of(wsi), wsi, in);
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return 1;                  /* a WebSocket with no WAMP subprotocol (HTTP/2) */
	case LWS_CALLBACK_HTTP:
		return on_http(server_of(wsi), wsi, conn, in, len);
	case LWS_CALLBACK_HTTP_BODY:
		return on_body(conn ? conn->r : NULL, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return on_body_done(conn ? conn->r : NULL);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return on_writeable(server_of(wsi), conn);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (conn && conn->r)
			request_free(conn->r);
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols http_protocol = {
	"http", callback_http, sizeof(struct lconn), 0, 0, NULL, 0,
};

/* ---- lifecycle ------------------------------------------------------------------------ */

struct lwshttp_server *lwshttp_server_new(struct gateway *gw, const struct http_site *site,
					  char *err, size_t errlen)
{
	const struct sb_transport *t = site->transport;
	struct lwshttp_server *s = xcalloc(1, sizeof *s);
	char where[64];
	s->gw = gw;
	s->site = site;
	s->tls = t->endpoint.tls;
	snprintf(s->name, sizeof s->name, "%s:%d",
		 t->endpoint.interface ? t->endpoint.interface : "0.0.0.0", t->endpoint.port);
	if (tls_material_load(&s->material, s->tls, s->err, sizeof s->err, where, sizeof where) < 0) {
		snprintf(err, errlen, "tls: %s: %s: %s", s->name, where, s->err);
		free(s);
		return NULL;
	}
	snprintf(s->vhost_name, sizeof s->vhost_name, "tls:%d", t->endpoint.port);

	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	/* lws listens itself: it picks a connection's vhost by its listening
	 * port (for SNI, and again from each HTTP/1.1 Host header), which a
	 * vhost fed through lws_adopt_socket_vhost() does not have. */
	info.port = t->endpoint.port;
	info.iface = t->endpoint.interface;
	info.vhost_name = s->vhost_name;
	info.user = (void *)site;
	info.options = LWS_SERVER_OPTION_CREATE_VHOST_SSL_CTX |
		       LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
	/* Crossbar's endpoints are IPv4 unless the interface says otherwise;
	 * a dual-stack socket would also show peers as ::ffff:a.b.c.d. */
	if (!t->endpoint.interface || !strchr(t->endpoint.interface, ':'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.alpn = t->http2 ? "h2,http/1.1" : "http/1.1";
	/* HEADER_TABLE_SIZE 4096, no push, 24 streams, window by lws, 16 KiB
	 * frames: 31 KB per HTTP/2 connection instead of 159 KB. */
	static const uint32_t h2_settings[7] = {1, 4096, 0, 24, 0, 16384, 4096};
	memcpy(info.http2_settings, h2_settings, sizeof h2_settings);
	info.keepalive_timeout = t->client_timeout_s;

	being_created = s;
	s->vhost = ws_server_add_tls_vhost(gw->ws, &info, &http_protocol);
	being_created = NULL;
	tls_material_cleanup(&s->material);    /* the SSL_CTX holds references */
	if (!s->vhost) {
		if (s->err[0])
			snprintf(err, errlen, "tls: %s: %s", s->name, s->err);
		else
			snprintf(err, errlen, "listen: cannot listen on %s (is another process using "
				 "the port? change it with --listen or the endpoint's port)", s->name);
		free(s);
		return NULL;
	}
	snprintf(s->name, sizeof s->name, "%s:%d",     /* the port chosen for port 0 */
		 t->endpoint.interface ? t->endpoint.interface : "0.0.0.0",
		 lws_get_vhost_listen_port(s->vhost));
	struct lwshttp_server **slot = lws_protocol_vh_priv_zalloc(
		s->vhost, lws_vhost_name_to_protocol(s->vhost, "http"), sizeof *slot);
	*slot = s;
	char desc[128];
	tls_describe(SSL_CTX_get0_certificate(s->ssl_ctx), desc, sizeof desc);
	log_msg(LOG_INFO, "tls", "%s: certificate %s (%s), %s", s->name, s->tls->certificate,
		desc, t->http2 ? "HTTP/2 and HTTP/1.1" : "HTTP/1.1");
	return s;
}

int lwshttp_server_port(const struct lwshttp_server *s)
{
	return lws_get_vhost_listen_port(s->vhost);
}

void lwshttp_server_reload(struct lwshttp_server *s)
{
	struct tls_material m;
	char err[512], where[64] = "key", desc[128];
	if (tls_material_load(&m, s->tls, err, sizeof err, where, sizeof where) < 0 ||
	    tls_ctx_replace(s->ssl_ctx, &m, err, sizeof err) < 0) {
		tls_describe(SSL_CTX_get0_certificate(s->ssl_ctx), desc, sizeof desc);
		log_msg(LOG_ERROR, "tls", "%s: certificate not reloaded: tls.%s: %s; still using "
			"the current one (%s)", s->name, where, err, desc);
		tls_material_cleanup(&m);
		return;
	}
	tls_describe(m.cert, desc, sizeof desc);
	log_msg(LOG_INFO, "tls", "%s: certificate reloaded from %s (%s)", s->name,
		s->tls->certificate, desc);
	tls_material_cleanup(&m);
}

/* The vhost goes with the lws context (ws_server_stop): lws 4.1 closes a
 * destroyed vhost's connections only later, from its own loop.  Those
 * connections never need s again; their requests free themselves. */
void lwshttp_server_free(struct lwshttp_server *s)
{
	if (!s)
		return;
	struct lwshttp_server **slot = lws_protocol_vh_priv_get(
		s->vhost, lws_vhost_name_to_protocol(s->vhost, "http"));
	if (slot)
		*slot = NULL;
	free(s);
}
