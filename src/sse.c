/* sse.c - event streams, replay, slow-client cuts, heartbeats (see sse.h). */
#include "sse.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "acl.h"
#include "authorizer.h"
#include "bus.h"
#include "caller.h"
#include "event.h"
#include "gateway.h"
#include "history.h"
#include "log.h"
#include "token.h"
#include "wamp.h"

#define MAX_TOPICS 64
#define REPLAY_CHUNK 64
#define REPLAY_SCANS_PER_READ 16
#define INLINE_RING 4

struct sse_client {
	struct http_stream stream;         /* the adapter's view; first member */
	struct sse_hub *hub;
	struct sse_client *prev, *next;
	char peer[64];

	const struct sb_path *path;
	struct history_filter filter;      /* realm, topics, match */
	struct bus_sub **subs;             /* one per topic */

	struct event **ring;               /* queued events, shared */
	struct event *inline_ring[INLINE_RING];
	size_t cap, head, count, limit;
	size_t frame_off;                  /* bytes of ring[head] written */

	struct buf pre;                    /* retry line, comments */
	size_t pre_off;

	/* Pattern subscriptions only: each event's own topic must be readable
	 * too, so neither live events nor replay leak a forbidden topic. */
	const struct sb_role *role;        /* static permissions; NULL = authorizer */
	struct identity who;               /* its token's topics claim */

	bool is_replaying;
	uint64_t cursor;                   /* every event <= cursor is handled */
	bool is_cut, is_ended, needs_ping;
	int64_t last_write_ms;
};

struct sse_hub {
	struct gateway *gw;
	struct sse_client *clients;
	uv_timer_t heartbeat;
};

/* ---- framing ------------------------------------------------------------- */

/* Appends prefix + line + LF for each line of text, splitting where an
 * EventSource would: at CRLF, CR or LF. */
static void append_lines(struct buf *out, const char *prefix, const char *text, size_t len)
{
	size_t start = 0, plen = strlen(prefix);
	for (size_t i = 0; i <= len; i++) {
		if (i < len && text[i] != '\r' && text[i] != '\n')
			continue;
		buf_append(out, prefix, plen);
		buf_append(out, text + start, i - start);
		buf_append(out, "\n", 1);
		if (i < len && text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
			i++;
		start = i + 1;
	}
}

void sse_frame_build(struct buf *out, const char *id, const char *event,
		     const char *data, size_t len)
{
	if (id)
		buf_appendf(out, "id: %s\n", id);
	if (event)
		buf_appendf(out, "event: %s\n", event);
	append_lines(out, "data: ", data, len);
	buf_append(out, "\n", 1);
}

void sse_comment_build(struct buf *out, const char *text)
{
	append_lines(out, ": ", text, strlen(text));
	buf_append(out, "\n", 1);
}

/* ---- the queue ----------------------------------------------------------- */

static void wake(struct sse_client *c)
{
	if (c->stream.is_paused && c->stream.wake)
		c->stream.wake(&c->stream);
}

static void push(struct sse_client *c, struct event *ev)
{
	if (c->count == c->cap) {
		size_t cap = c->cap * 2;
		struct event **ring = xmalloc(cap * sizeof *ring);
		for (size_t i = 0; i < c->count; i++)
			ring[i] = c->ring[(c->head + i) % c->cap];
		if (c->ring != c->inline_ring)
			free(c->ring);
		c->ring = ring;
		c->cap = cap;
		c->head = 0;
	}
	c->ring[(c->head + c->count) % c->cap] = ev;
	c->count++;
}

static void pop(struct sse_client *c)
{
	event_unref(c->ring[c->head]);
	c->head = (c->head + 1) % c->cap;
	c->count--;
	c->frame_off = 0;
}

/* Exact topics were checked when the stream opened; a pattern's events
 * are checked one by one. */
static bool may_read(const struct sse_client *c, const char *topic)
{
	if (c->filter.match == URI_EXACT)
		return true;
	return (!c->role || acl_allows(c->role, ACL_SUBSCRIBE, topic)) &&
	       token_allows(&c->who, topic, URI_EXACT);
}

/* Bus delivery: queue the shared event, or cut a client that lags. */
static void on_event(void *ctx, struct event *ev)
{
	struct sse_client *c = ctx;
	struct gateway *gw = c->hub->gw;
	if (c->is_replaying || c->is_cut || c->is_ended || ev->seq <= c->cursor ||
	    ev->is_live_only || !may_read(c, ev->topic))
		return;                    /* replay reads it; overlapping topics; WAMP only */
	if (c->count >= c->limit) {
		c->is_cut = true;
		gw->stats.sse_cuts++;
		log_msg(LOG_WARN, "sse", "%s: too slow, %zu events queued; ending the stream "
			"(it will resume from its Last-Event-ID; raise queue_limit if this is common)",
			c->peer, c->count);
		/* A client that never reads never lets the adapter call read()
		 * again, so ending the body is not enough: drop the connection. */
		if (c->stream.kill)
			c->stream.kill(&c->stream);
		wake(c);
		return;
	}
	push(c, event_ref(ev));
	c->cursor = ev->seq;
	wake(c);
}

static void on_replayed(void *ctx, struct event *ev)
{
	struct sse_client *c = ctx;
	if (!may_read(c, ev->topic)) {
		event_unref(ev);
		return;
	}
	push(c, ev);                       /* takes the new reference */
	c->hub->gw->stats.events_replayed++;
}

/* Reads the next chunk of history; leaves replay mode once caught up. */
static void replay_more(struct sse_client *c)
{
	struct gateway *gw = c->hub->gw;
	uint64_t upto = bus_delivered_seq(gw->bus);
	size_t room = c->limit > c->count ? c->limit - c->count : 0;
	size_t max = room < REPLAY_CHUNK ? room : REPLAY_CHUNK;
	if (max == 0)
		return;
	c->cursor = history_replay(gw->history, &c->filter, c->cursor, upto, max, on_replayed, c);
	if (c->cursor >= upto)
		c->is_replaying = false;   /* later events all arrive live */
}

/* ---- the stream the adapter reads ------------------------------------------ */

static size_t copy_out(char *dst, size_t max, const char *src, size_t len, size_t *off)
{
	size_t n = len - *off < max ? len - *off : max;
	memcpy(dst, src + *off, n);
	*off += n;
	return n;
}

static ssize_t stream_read(struct http_stream *s, char *buf, size_t max)
{
	struct sse_client *c = (struct sse_client *)s;
	size_t n = 0;

	if (c->is_cut || c->is_ended)
		return HTTP_STREAM_END;
	if (c->pre_off < c->pre.len) {
		n += copy_out(buf, max, c->pre.data, c->pre.len, &c->pre_off);
		if (c->pre_off == c->pre.len) {
			buf_free(&c->pre);
			c->pre_off = 0;
		}
	}
	/* A pattern replay may scan rows that match nothing: keep reading,
	 * but within a budget, so one client cannot stall the loop. */
	for (int budget = REPLAY_SCANS_PER_READ; c->count == 0 && c->is_replaying && budget; budget--)
		replay_more(c);
	if (c->count == 0 && c->is_replaying && n + 16 <= max) {
		/* Still scanning: a comment keeps MHD calling us back on the next
		 * writable event instead of parking the stream (nothing would wake
		 * it: live events are ignored while replaying). */
		memcpy(buf + n, ": replaying\n\n", 14);
		n += 14;
	}
	while (n < max && c->count) {
		struct event *ev = c->ring[c->head];
		n += copy_out(buf + n, max - n, ev->frame, ev->frame_len, &c->frame_off);
		if (c->frame_off == ev->frame_len)
			pop(c);
		if (c->count == 0 && c->is_replaying)
			replay_more(c);
	}
	if (c->needs_ping && n + 8 <= max) {
		memcpy(buf + n, ": ping\n\n", 8);
		n += 8;
		c->needs_ping = false;
	}
	if (n)
		c->last_write_ms = uv_now(c->hub->gw->loop);
	return (ssize_t)n;
}

static void stream_closed(struct http_stream *s)
{
	struct sse_client *c = (struct sse_client *)s;
	struct sse_hub *hub = c->hub;
	for (size_t i = 0; i < c->filter.n_topics; i++) {
		bus_unsubscribe(hub->gw->bus, c->subs[i]);
		free(c->filter.topics[i]);
	}
	free(c->filter.topics);
	free(c->subs);
	token_identity_free(&c->who);
	while (c->count)
		pop(c);
	if (c->ring != c->inline_ring)
		free(c->ring);
	buf_free(&c->pre);
	if (c->prev)
		c->prev->next = c->next;
	else
		hub->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	hub->gw->stats.sse_clients--;
	log_msg(LOG_DEBUG, "sse", "%s: stream closed", c->peer);
	free(c);
}

/* ---- GET /sse ---------------------------------------------------------------- */

struct sse_query {
	const char *topics[MAX_TOPICS + 1];
	size_t n_topics;
	const char *match;
	const char *last_event_id;
};

static void collect_query(void *ctx, const char *name, const char *value)
{
	struct sse_query *q = ctx;
	if (!value)
		value = "";
	if (!strcmp(name, "topic")) {
		if (q->n_topics <= MAX_TOPICS)
			q->topics[q->n_topics++] = value;
	} else if (!strcmp(name, "match")) {
		q->match = value;
	} else if (!strcmp(name, "lastEventId") || !strcmp(name, "last_event_id") ||
		   !strcmp(name, "lastEventID")) {
		q->last_event_id = value;
	}
}

/* Parses a decimal sequence; false if id is not one. */
static bool parse_seq(const char *id, uint64_t *seq)
{
	if (!*id || strlen(id) > 19 || strspn(id, "0123456789") != strlen(id))
		return false;
	*seq = strtoull(id, NULL, 10);
	return true;
}

/* Validates the query and fills match; answers 400 and returns false. */
static bool check_query(struct http_request *req, struct sse_query *q, enum uri_match *match)
{
	int m = q->match ? uri_match_parse(q->match) : URI_EXACT;
	if (m < 0) {
		http_error(req, 400, "switchboard.error.bad_request",
			   "Unknown match '%s': use exact, prefix or wildcard.", q->match);
		return false;
	}
	*match = (enum uri_match)m;
	if (q->n_topics == 0 || q->n_topics > MAX_TOPICS) {
		http_error(req, 400, "switchboard.error.bad_request",
			   "Name between 1 and %d topics: /sse?topic=com.example.news&topic=...",
			   MAX_TOPICS);
		return false;
	}
	for (size_t i = 0; i < q->n_topics; i++) {
		bool ok = *match == URI_EXACT ? uri_is_valid(q->topics[i])
					      : uri_pattern_is_valid(q->topics[i], *match);
		if (!ok) {
			http_error(req, 400, "switchboard.error.bad_request",
				   "Invalid topic '%.200s' for match %s (dot-separated components "
				   "without spaces or '#').", q->topics[i], uri_match_name(*match));
			return false;
		}
	}
	return true;
}

/* Decides where the stream starts, and says why in a comment if the
 * cursor cannot be honoured exactly. */
static void position(struct sse_client *c, struct gateway *gw, const char *id)
{
	uint64_t delivered = bus_delivered_seq(gw->bus);
	uint64_t seq;
	char note[256];
	c->cursor = delivered;
	if (!id)
		return;                    /* live only */
	c->is_replaying = true;
	if (!parse_seq(id, &seq) || seq > delivered) {
		snprintf(note, sizeof note, "Last-Event-ID '%.40s' is unknown here; replaying "
			 "every event history holds for these topics", id);
		sse_comment_build(&c->pre, note);
		c->cursor = 0;
		return;
	}
	c->cursor = seq;
	uint64_t trimmed = history_trimmed_seq(gw->history, &c->filter);
	if (seq < trimmed) {
		snprintf(note, sizeof note, "events after %" PRIu64 " up to %" PRIu64
			 " have expired from history; replaying what remains", seq, trimmed);
		sse_comment_build(&c->pre, note);
	}
}

/* Starts the stream: req is answered with it. */
static void open_stream(struct http_request *req, const struct sse_query *q,
			enum uri_match match, const struct sb_role *role, struct identity *who)
{
	const struct sb_path *path = req->route->path;
	struct gateway *gw = req->gw;
	struct sse_client *c = xcalloc(1, sizeof *c);
	c->hub = gw->sse;
	c->path = path;
	c->role = role->authorizer ? NULL : role;
	c->who = *who;                     /* takes it over */
	memset(who, 0, sizeof *who);
	snprintf(c->peer, sizeof c->peer, "%s", req->peer);
	c->ring = c->inline_ring;
	c->cap = INLINE_RING;
	c->limit = path->queue_limit ? path->queue_limit : 1024;
	c->filter.realm = path->realm;
	c->filter.match = match;
	c->filter.n_topics = q->n_topics;
	c->filter.topics = xcalloc(q->n_topics, sizeof(char *));
	c->subs = xcalloc(q->n_topics, sizeof *c->subs);
	for (size_t i = 0; i < q->n_topics; i++) {
		c->filter.topics[i] = xstrdup(q->topics[i]);
		c->subs[i] = bus_subscribe(gw->bus, path->realm, q->topics[i], match, on_event, c);
	}
	buf_appendf(&c->pre, "retry: %d\n\n", path->retry_ms > 0 ? path->retry_ms : 3000);
	position(c, gw, q->last_event_id);
	c->last_write_ms = uv_now(gw->loop);
	c->stream.read = stream_read;
	c->stream.closed = stream_closed;

	c->next = c->hub->clients;
	if (c->next)
		c->next->prev = c;
	c->hub->clients = c;
	gw->stats.sse_clients++;

	req->response.status = 200;
	req->response.content_type = "text/event-stream";
	http_add_header(req, "Cache-Control", "no-cache");
	http_add_header(req, "X-Accel-Buffering", "no");
	req->response.stream = &c->stream;
	log_msg(LOG_DEBUG, "sse", "%s: stream opened, %zu topics, cursor %" PRIu64 "%s",
		c->peer, q->n_topics, c->cursor, c->is_replaying ? " (replaying)" : "");
}

/* ---- who may open a stream ----------------------------------------------------- */

/* A stream request between its query check and its stream: the client is
 * identified (a dynamic ticket authenticator answers later), then each
 * topic is authorized (a dynamic authorizer answers later, unless it has
 * a cached verdict); meanwhile the request waits (HTTP_PENDING). */
struct admission {
	struct http_request *req;
	struct sse_query q;
	enum uri_match match;
	struct identity who;
	const struct sb_role *role;
	size_t next;                       /* topics authorized so far */
	struct authorizer_ask *asking;
	struct caller *caller;             /* asking a dynamic ticket authenticator */
	uint64_t call;
};

static void admission_free(struct admission *a)
{
	token_identity_free(&a->who);
	free(a);
}

/* An answer came after the handler returned HTTP_PENDING. */
static void admission_done(struct admission *a)
{
	struct http_request *req = a->req;
	req->pending = NULL;
	admission_free(a);
	http_finish(req);
}

static void refuse_topic(const struct admission *a, const char *topic)
{
	http_error(a->req, 403, "wamp.error.not_authorized", "Role '%s' may not subscribe to "
		   "'%.200s'.", a->role->name, topic);
}

static void on_topic_verdict(void *ctx, struct verdict v);

/* Authorizes the remaining topics; true when the request is answered
 * (stream or 403), false while the authorizer is asked about one. */
static bool advance(struct admission *a)
{
	struct http_request *req = a->req;
	const char *realm = req->route->path->realm;
	for (; a->next < a->q.n_topics; a->next++) {
		const char *topic = a->q.topics[a->next];
		struct verdict v = {false, false};
		if (!token_allows(&a->who, topic, a->match)) {
			http_error(req, 403, "wamp.error.not_authorized", "The token does not "
				   "allow reading '%.200s'.", topic);
			return true;
		}
		if (!a->role->authorizer) {
			v.allow = acl_allows(a->role, ACL_SUBSCRIBE, topic);
		} else if (!authorizer_cached(req->gw, realm, a->role->name, ACL_SUBSCRIBE, topic,
					      &v)) {
			a->asking = authorizer_ask(req->gw, realm, a->role->authorizer,
						   a->role->name, ACL_SUBSCRIBE, topic,
						   authorizer_http_details(req->peer, a->who.authid,
									   a->role->name,
									   a->who.authmethod),
						   on_topic_verdict, a);
			return false;
		}
		if (!v.allow) {
			refuse_topic(a, topic);
			return true;
		}
	}
	open_stream(req, &a->q, a->match, a->role, &a->who);
	return true;
}

static void on_topic_verdict(void *ctx, struct verdict v)
{
	struct admission *a = ctx;
	a->asking = NULL;
	if (!v.allow)
		refuse_topic(a, a->q.topics[a->next]);
	else if (a->next++, !advance(a))
		return;                    /* the next topic waits */
	admission_done(a);
}

static void admission_cancelled(struct http_request *req)
{
	struct admission *a = req->pending;
	if (a->asking)
		authorizer_forget(a->asking);
	if (a->caller)
		caller_forget(a->caller, a->call);
	admission_free(a);
}

static void refuse_token(struct http_request *req, const char *why)
{
	http_add_header(req, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
	http_error(req, 401, "switchboard.error.invalid_token", "The token was refused: %s.", why);
}

/* The role the client reads as; false after answering 403. */
static bool resolve_role(struct admission *a)
{
	const struct sb_path *path = a->req->route->path;
	const char *name = a->who.role ? a->who.role : path->role;
	const struct sb_realm *realm = config_realm(a->req->gw->cfg, path->realm);
	a->role = realm ? config_role(realm, name) : NULL;
	if (!a->role)
		http_error(a->req, 403, "wamp.error.not_authorized", "Role '%.100s' does not exist "
			   "on realm '%s'.", name, path->realm);
	return a->role != NULL;
}

/* The authenticator's verdict on a ticket: a role, or {role, authid};
 * false after answering 401 or 403. */
static bool take_ticket_verdict(struct admission *a, const json_t *answer)
{
	const json_t *v = json_array_get(wamp_args(answer, 3), 0);
	const char *role = json_is_string(v) ? json_string_value(v)
			 : json_string_value(json_object_get(v, "role"));
	const char *authid = json_string_value(json_object_get(v, "authid"));
	if (json_integer_value(json_array_get(answer, 0)) != WAMP_RESULT || !role) {
		refuse_token(a->req, "the authenticator refused the ticket");
		return false;
	}
	a->who.role = xstrdup(role);
	a->who.authid = authid ? xstrdup(authid) : NULL;
	return resolve_role(a);
}

static void on_ticket_verdict(void *ctx, const json_t *answer)
{
	struct admission *a = ctx;
	a->caller = NULL;
	if (take_ticket_verdict(a, answer) && !advance(a))
		return;                    /* a topic waits for the authorizer */
	admission_done(a);
}

/* Asks the path's ticket authenticator (realm, null, {ticket, ...}); false
 * after answering 401 when it cannot be called. */
static bool ask_authenticator(struct admission *a)
{
	struct http_request *req = a->req;
	const struct sb_path *path = req->route->path;
	const struct sb_auth_method_cfg *m = &path->auth.methods[SB_AUTH_TICKET];
	a->caller = caller_for(req->gw, m->authenticator_realm ? m->authenticator_realm : path->realm,
			       m->authenticator_role ? m->authenticator_role : "trusted");
	if (!a->caller) {
		refuse_token(req, "the authenticator cannot be called");
		return false;
	}
	json_t *args = json_pack("[s, n, {s:s, s:s, s:{s:s, s:s}}]", path->realm, "ticket",
				 a->who.ticket, "authmethod", "ticket", "transport", "type", "http",
				 "peer", req->peer);
	a->call = caller_call(a->caller, m->authenticator, args, NULL,
			      json_pack("{s:i}", "timeout", 10000), on_ticket_verdict, a);
	return true;
}

/* Who the client is (its token) and which role it reads as; false after
 * answering 401 or 403.  A dynamic ticket may still be with its
 * authenticator when this returns true (a->caller set). */
static bool identify(struct admission *a)
{
	struct http_request *req = a->req;
	const struct sb_path *path = req->route->path;
	char why[160];
	switch (token_identify(req, &a->who, why, sizeof why)) {
	case TOKEN_ASK:
		return ask_authenticator(a);
	case TOKEN_NONE:
		http_add_header(req, "WWW-Authenticate", "Bearer realm=\"switchboard\"");
		http_error(req, 401, "switchboard.error.not_authenticated", "This event stream "
			   "needs a token: Authorization: Bearer, the '%s' cookie or the '%s' query "
			   "parameter.", path->token_cookie ? path->token_cookie : "sb_token",
			   path->token_query ? path->token_query : "access_token");
		return false;
	case TOKEN_INVALID:
		refuse_token(req, why);
		return false;
	case TOKEN_OK:
		break;
	}
	return resolve_role(a);
}

enum http_result sse_handle(struct http_request *req)
{
	const struct sb_path *path = req->route->path;
	struct admission *a;
	struct sse_query q = {0};
	enum uri_match match;

	http_cors(req, &path->cors);
	if (!strcmp(req->method, "OPTIONS")) {
		http_add_header(req, "Access-Control-Allow-Methods", "GET");
		http_add_header(req, "Access-Control-Allow-Headers",
				"last-event-id, cache-control, authorization");
		req->response.status = 204;
		return HTTP_DONE;
	}
	if (strcmp(req->method, "GET")) {
		http_error(req, 405, "switchboard.error.method_not_allowed",
			   "Use GET for an event stream (not %s).", req->method);
		return HTTP_DONE;
	}
	req->adapter->each_query(req, collect_query, &q);
	const char *header_id = http_header(req, "Last-Event-ID");
	if (header_id)
		q.last_event_id = header_id;   /* the header wins: the URL is stale */
	if (!check_query(req, &q, &match))
		return HTTP_DONE;

	a = xcalloc(1, sizeof *a);
	a->req = req;
	a->q = q;
	a->match = match;
	if (!identify(a) || (!a->caller && advance(a))) {
		admission_free(a);
		return HTTP_DONE;
	}
	req->pending = a;
	req->cancel = admission_cancelled;
	return HTTP_PENDING;
}

/* ---- the hub: heartbeats and shutdown ----------------------------------------- */

static void on_heartbeat(uv_timer_t *t)
{
	struct sse_hub *hub = t->data;
	uint64_t now = uv_now(hub->gw->loop);
	for (struct sse_client *c = hub->clients; c; c = c->next) {
		int64_t every = (int64_t)(c->path->heartbeat_s > 0 ? c->path->heartbeat_s : 15) * 1000;
		if ((int64_t)now - c->last_write_ms >= every) {
			c->needs_ping = true;
			c->last_write_ms = (int64_t)now;
			wake(c);
		}
	}
}

struct sse_hub *sse_hub_new(struct gateway *gw)
{
	struct sse_hub *hub = xcalloc(1, sizeof *hub);
	hub->gw = gw;
	uv_timer_init(gw->loop, &hub->heartbeat);
	hub->heartbeat.data = hub;
	uv_timer_start(&hub->heartbeat, on_heartbeat, 1000, 1000);
	return hub;
}

void sse_hub_end_all(struct sse_hub *hub)
{
	for (struct sse_client *c = hub->clients; c; c = c->next) {
		c->is_ended = true;
		wake(c);
	}
	uv_timer_stop(&hub->heartbeat);
}

static void free_hub(uv_handle_t *handle)
{
	free(handle->data);
}

void sse_hub_free(struct sse_hub *hub)
{
	if (hub)
		uv_close((uv_handle_t *)&hub->heartbeat, free_hub);
}
