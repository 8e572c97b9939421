/* mhd.c - libmicrohttpd adapter (see mhd.h).
 *
 * Pitfalls this file answers (measured in the one-port spike):
 *  - in external-polling mode MHD has no wake-up channel, so resuming a
 *    connection does nothing until the next MHD_run: every resume
 *    schedules one (a 0 ms timer), never from inside an MHD callback;
 *  - suspended connections do not notice a vanished peer: the SSE
 *    heartbeat writes, and a failed write closes them;
 *  - the default connection limit is 1020 even with epoll: set it.
 */
#include "mhd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "gateway.h"
#include "log.h"

struct mhd_server {
	struct gateway *gw;
	const struct http_site *site;
	struct MHD_Daemon *daemon;
	uv_poll_t poll;                /* MHD's epoll fd */
	uv_timer_t timer;              /* MHD's timeout, or a 0 ms kick */
	bool is_kicked;                /* a 0 ms run is already scheduled */
	int closing_handles;
};

struct mhd_request {
	struct http_request req;       /* first member */
	struct mhd_server *server;
	struct MHD_Connection *conn;
	bool is_pending, is_answered;
};

/* ---- driving MHD from the loop -------------------------------------------- */

static void on_timer(uv_timer_t *t);

/* After every MHD_run: wake up again when MHD's next timeout is due. */
static void arm(struct mhd_server *s)
{
	MHD_UNSIGNED_LONG_LONG timeout;
	if (s->is_kicked)
		return;                /* a kick during the run wants another one */
	if (MHD_get_timeout(s->daemon, &timeout) == MHD_YES)
		uv_timer_start(&s->timer, on_timer, timeout, 0);
	else
		uv_timer_stop(&s->timer);
}

static void on_timer(uv_timer_t *t)
{
	struct mhd_server *s = t->data;
	s->is_kicked = false;
	MHD_run(s->daemon);
	arm(s);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct mhd_server *s = p->data;
	s->is_kicked = false;
	MHD_run(s->daemon);
	arm(s);
}

/* Runs MHD on the next loop iteration (never re-entrantly).  A fan-out
 * wakes thousands of streams; they share one run. */
static void kick(struct mhd_server *s)
{
	if (s->is_kicked)
		return;
	s->is_kicked = true;
	uv_timer_start(&s->timer, on_timer, 0, 0);
}

/* ---- the adapter interface --------------------------------------------------- */

static const char *header(struct http_request *req, const char *name)
{
	struct mhd_request *r = (struct mhd_request *)req;
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

struct each_ctx {
	void (*fn)(void *ctx, const char *name, const char *value);
	void *ctx;
};

static enum MHD_Result each_value(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	struct each_ctx *e = cls;
	e->fn(e->ctx, key, value);
	return MHD_YES;
}

static void each_header(struct http_request *req,
			void (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
	struct mhd_request *r = (struct mhd_request *)req;
	struct each_ctx e = {fn, ctx};
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, each_value, &e);
}

static void each_query(struct http_request *req,
		       void (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
	struct mhd_request *r = (struct mhd_request *)req;
	struct each_ctx e = {fn, ctx};
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, each_value, &e);
}

static void resume(struct http_request *req)
{
	struct mhd_request *r = (struct mhd_request *)req;
	MHD_resume_connection(r->conn);
	kick(r->server);
}

static const struct http_adapter adapter = {header, each_header, each_query, resume};

/* ---- streamed bodies (SSE) --------------------------------------------------- */

struct mhd_stream {
	struct http_stream *stream;
	struct mhd_server *server;
	struct MHD_Connection *conn;
	uv_poll_t hangup;              /* peer's FIN/RST, even while suspended */
	bool is_watching;
	bool is_dead;                  /* the peer has gone: end the body */
};

static void stream_wake(struct http_stream *st)
{
	struct mhd_stream *ms = st->conn;
	st->is_paused = false;
	MHD_resume_connection(ms->conn);
	kick(ms->server);
}

/* Makes MHD's next send fail, so it closes the connection itself. */
static void stream_kill(struct http_stream *st)
{
	struct mhd_stream *ms = st->conn;
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(ms->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (info)
		shutdown(info->connect_fd, SHUT_RDWR);
}

/* A suspended MHD connection does not notice its peer leaving; a FIN or
 * reset seen here ends the stream at once instead of at a later write. */
static void on_hangup(uv_poll_t *p, int status, int events)
{
	struct mhd_stream *ms = p->data;
	uv_poll_stop(p);
	ms->is_dead = true;
	stream_kill(ms->stream);
	if (ms->stream->is_paused)
		stream_wake(ms->stream);
}

static void watch_hangup(struct mhd_stream *ms)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(ms->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!info || uv_poll_init_socket(ms->server->gw->loop, &ms->hangup, info->connect_fd))
		return;
	ms->hangup.data = ms;
	ms->is_watching = true;
	uv_poll_start(&ms->hangup, UV_DISCONNECT, on_hangup);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct mhd_stream *ms = cls;
	if (ms->is_dead)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	ssize_t n = ms->stream->read(ms->stream, buf, max);
	if (n == HTTP_STREAM_END)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n == 0) {
		/* Nothing to send: park the connection until wake(). */
		ms->stream->is_paused = true;
		MHD_suspend_connection(ms->conn);
	}
	return n;
}

static void free_stream(uv_handle_t *h)
{
	free(h->data);
}

static void stream_free(void *cls)
{
	struct mhd_stream *ms = cls;
	ms->stream->closed(ms->stream);
	if (ms->is_watching)
		uv_close((uv_handle_t *)&ms->hangup, free_stream);  /* before MHD closes the fd */
	else
		free(ms);
}

/* ---- requests ------------------------------------------------------------------ */

static struct MHD_Response *make_response(struct mhd_request *r)
{
	struct http_response *res = &r->req.response;
	struct MHD_Response *mr;
	if (res->stream) {
		struct mhd_stream *ms = xcalloc(1, sizeof *ms);
		ms->stream = res->stream;
		ms->server = r->server;
		ms->conn = r->conn;
		res->stream->conn = ms;
		res->stream->wake = stream_wake;
		res->stream->kill = stream_kill;
		watch_hangup(ms);
		/* Chunked bodies are read straight into the connection's buffer;
		 * the block size only sizes a buffer MHD mallocs per response and
		 * uses for HTTP/1.0 clients, so keep it small: it is per stream. */
		mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 256, stream_reader,
						       ms, stream_free);
		res->stream = NULL;            /* the response owns it now */
	} else if (res->file_fd >= 0) {
		mr = MHD_create_response_from_fd64(res->file_size, res->file_fd);
		res->file_fd = -1;             /* MHD closes it */
	} else {
		/* Hand the body buffer to MHD, which frees it. */
		mr = MHD_create_response_from_buffer(res->body.len, res->body.data ? res->body.data : "",
						     res->body.data ? MHD_RESPMEM_MUST_FREE
								    : MHD_RESPMEM_PERSISTENT);
		res->body = (struct buf){0};
	}
	if (res->content_type)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
	for (size_t i = 0; i < res->n_headers; i++)
		MHD_add_response_header(mr, res->headers[i].name, res->headers[i].value);
	return mr;
}

static enum MHD_Result answer(struct mhd_request *r)
{
	bool is_stream = r->req.response.stream != NULL;
	struct MHD_Response *mr = make_response(r);
	enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)r->req.response.status, mr);
	MHD_destroy_response(mr);
	http_request_cleanup(&r->req);     /* MHD has its own copy; a stream may live long */
	r->is_answered = true;
	r->server->gw->stats.http_requests++;
	if (r->server->site->transport->access_log)
		log_msg(LOG_INFO, "http", "%s: %s %s %d%s", r->req.peer, r->req.method, r->req.path,
			r->req.response.status, is_stream ? " (event stream)" : "");
	return ok;
}

static struct mhd_request *request_new(struct mhd_server *s, struct MHD_Connection *conn,
				       const char *url, const char *method)
{
	struct mhd_request *r = xcalloc(1, sizeof *r);
	r->server = s;
	r->conn = conn;
	http_request_init(&r->req);
	r->req.adapter = &adapter;
	r->req.gw = s->gw;
	r->req.method = method;
	r->req.path = url;
	r->req.route = http_site_route(s->site, url);

	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	format_peer(info ? info->client_addr : NULL, r->req.peer, sizeof r->req.peer);
	return r;
}

static bool declared_too_large(struct mhd_request *r)
{
	const char *length = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_CONTENT_LENGTH);
	return length && strtoull(length, NULL, 10) > r->req.route->body_limit;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct mhd_server *s = cls;
	struct mhd_request *r = *con_cls;

	if (!r) {
		*con_cls = r = request_new(s, conn, url, method);
		/* Refuse an oversized body before reading it. */
		if (declared_too_large(r)) {
			r->req.body_too_large = true;
			http_dispatch(&r->req);
			return answer(r);
		}
		return MHD_YES;
	}
	if (r->is_answered) {
		*upload_data_size = 0;         /* discard what follows a refusal */
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (r->req.body.len + *upload_data_size > r->req.route->body_limit)
			r->req.body_too_large = true;
		else
			buf_append(&r->req.body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->is_pending) {
		if (r->req.pending)            /* still waiting (a stray resume) */
			return MHD_YES;
		r->is_pending = false;
		return answer(r);
	}
	if (http_dispatch(&r->req) == HTTP_PENDING) {
		r->is_pending = true;
		MHD_suspend_connection(conn);
		return MHD_YES;
	}
	return answer(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	struct mhd_request *r = *con_cls;
	if (!r)
		return;
	if (r->req.pending && r->req.cancel)
		r->req.cancel(&r->req);
	http_request_cleanup(&r->req);
	free(r);
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct mhd_server *s = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		s->gw->stats.http_connections++;
	else
		s->gw->stats.http_connections--;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	vsnprintf(line, sizeof line, fmt, ap);
	/* Ending a stream whose peer has gone is routine, not a warning. */
	bool routine = strstr(line, "application error generating response") != NULL;
	log_msg(routine ? LOG_DEBUG : LOG_WARN, "http", "libmicrohttpd: %s", line);
}

/* ---- lifecycle --------------------------------------------------------------------- */

struct mhd_server *mhd_server_new(struct gateway *gw, const struct http_site *site,
				  size_t pool_size, char *err, size_t errlen)
{
	const struct sb_transport *t = site->transport;
	struct mhd_server *s = xcalloc(1, sizeof *s);
	s->gw = gw;
	s->site = site;
	/* Idle connections close after client_timeout; streams write at
	 * least every heartbeat, so keep the timeout above it. */
	unsigned timeout_s = (unsigned)t->client_timeout_s;
	for (size_t i = 0; i < t->n_paths; i++)
		if (t->paths[i].heartbeat_s * 2 > (int)timeout_s)
			timeout_s = (unsigned)t->paths[i].heartbeat_s * 2;

	s->daemon = MHD_start_daemon(
		MHD_USE_NO_LISTEN_SOCKET | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
		MHD_USE_TURBO | MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, s,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)t->max_connections,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool_size,
		MHD_OPTION_CONNECTION_MEMORY_INCREMENT, pool_size / 8,
		MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		MHD_OPTION_END);
	if (!s->daemon) {
		snprintf(err, errlen, "http: libmicrohttpd refused to start (check max_connections "
			 "and connection_memory in the web transport options)");
		free(s);
		return NULL;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	uv_poll_init(gw->loop, &s->poll, info->epoll_fd);
	s->poll.data = s;
	uv_poll_start(&s->poll, UV_READABLE, on_poll);
	uv_timer_init(gw->loop, &s->timer);
	s->timer.data = s;
	return s;
}

void mhd_server_adopt(struct mhd_server *s, int fd, const struct sockaddr *addr,
		      socklen_t addrlen)
{
	if (MHD_add_connection(s->daemon, fd, addr, addrlen) != MHD_YES)
		log_msg(LOG_WARN, "http", "connection refused: limit of %zu connections reached "
			"(raise max_connections in the web transport options)",
			s->site->transport->max_connections);
	kick(s);
}

static void handle_closed(uv_handle_t *h)
{
	struct mhd_server *s = h->data;
	if (--s->closing_handles == 0)
		free(s);
}

void mhd_server_free(struct mhd_server *s)
{
	if (!s)
		return;
	uv_poll_stop(&s->poll);
	MHD_stop_daemon(s->daemon);
	s->closing_handles = 2;
	uv_close((uv_handle_t *)&s->poll, handle_closed);
	uv_close((uv_handle_t *)&s->timer, handle_closed);
}
