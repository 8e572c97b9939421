/* http.c - routing, JSON replies, CORS: the adapter-independent half of
 * HTTP (see http.h). */
#include "http.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "info.h"
#include "publish.h"
#include "sse.h"
#include "static.h"

#define DEFAULT_BODY_LIMIT 4096

/* ---- routes ------------------------------------------------------------ */

static enum http_route_kind kind_of(enum sb_path_type type)
{
	switch (type) {
	case SB_PATH_STATIC: return ROUTE_STATIC;
	case SB_PATH_WEBSOCKET: return ROUTE_WEBSOCKET;
	case SB_PATH_PUBLISHER: return ROUTE_PUBLISHER;
	case SB_PATH_CALLER: return ROUTE_CALLER;
	case SB_PATH_EVENTSOURCE: return ROUTE_EVENTSOURCE;
	case SB_PATH_NODEINFO: return ROUTE_NODEINFO;
	case SB_PATH_WEBHOOK: return ROUTE_WEBHOOK;
	}
	return ROUTE_NOT_FOUND;
}

static const struct http_route builtin_metrics = {.kind = ROUTE_METRICS,
						     .body_limit = DEFAULT_BODY_LIMIT};
static const struct http_route builtin_healthz = {.kind = ROUTE_HEALTHZ,
						     .body_limit = DEFAULT_BODY_LIMIT};
static const struct http_route builtin_not_found = {.kind = ROUTE_NOT_FOUND,
						     .body_limit = DEFAULT_BODY_LIMIT};

void http_site_init(struct http_site *site, const struct sb_transport *t)
{
	site->transport = t;
	site->n_routes = t->n_paths;
	site->routes = xcalloc(t->n_paths, sizeof *site->routes);
	site->root = &builtin_not_found;
	for (size_t i = 0; i < t->n_paths; i++) {
		struct http_route *r = &site->routes[i];
		r->path = &t->paths[i];
		r->transport = t;
		r->kind = kind_of(t->paths[i].type);
		r->body_limit = t->paths[i].post_body_limit ? t->paths[i].post_body_limit
							    : DEFAULT_BODY_LIMIT;
		if (!strcmp(t->paths[i].name, "/"))
			site->root = r;
	}
}

void http_site_cleanup(struct http_site *site)
{
	free(site->routes);
	site->routes = NULL;
}

const struct http_route *http_site_route(const struct http_site *site, const char *path)
{
	/* A websocket transport has one path that takes every URL. */
	if (site->transport->type == SB_TRANSPORT_WEBSOCKET)
		return site->root;
	const char *seg = path[0] == '/' ? path + 1 : path;
	size_t len = strcspn(seg, "/");
	for (size_t i = 0; i < site->n_routes; i++) {
		const char *name = site->routes[i].path->name;
		if (strlen(name) == len && !strncmp(name, seg, len) && strcmp(name, "/"))
			return &site->routes[i];
	}
	if (len == 7 && !strncmp(seg, "metrics", 7) && !seg[7])
		return &builtin_metrics;
	if (len == 7 && !strncmp(seg, "healthz", 7) && !seg[7])
		return &builtin_healthz;
	return site->root;
}

/* ---- header values ------------------------------------------------------ */

bool http_has_token(const char *v, size_t vlen, const char *token)
{
	size_t tlen = strlen(token);
	const char *end = v + vlen;
	while (v && v < end) {
		while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
			v++;
		const char *item = v;
		while (v < end && *v != ',')
			v++;
		const char *item_end = v;
		while (item_end > item && (item_end[-1] == ' ' || item_end[-1] == '\t'))
			item_end--;
		if ((size_t)(item_end - item) == tlen && !strncasecmp(item, token, tlen))
			return true;
	}
	return false;
}

bool http_offers_wamp(const char *protocols, size_t len)
{
	return http_has_token(protocols, len, "wamp.2.json") ||
	       http_has_token(protocols, len, "wamp.2.msgpack");
}

/* ---- requests ---------------------------------------------------------- */

void http_request_init(struct http_request *req)
{
	req->response.status = 200;
	req->response.file_fd = -1;
}

void http_request_cleanup(struct http_request *req)
{
	struct http_response *r = &req->response;
	for (size_t i = 0; i < r->n_headers; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	r->n_headers = 0;
	buf_free(&r->body);
	buf_free(&req->body);
	if (r->file_fd >= 0)
		close(r->file_fd);
	r->file_fd = -1;
}

const char *http_header(struct http_request *req, const char *name)
{
	return req->adapter->header(req, name);
}

void http_add_header(struct http_request *req, const char *name, const char *value)
{
	struct http_response *r = &req->response;
	if (r->n_headers == HTTP_MAX_HEADERS)
		return;
	r->headers[r->n_headers].name = xstrdup(name);
	r->headers[r->n_headers].value = xstrdup(value);
	r->n_headers++;
}

void http_json(struct http_request *req, int status, void *json)
{
	char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
	if (!text) {                   /* json_pack refused its input */
		status = 500;
		text = strdup("{\"error\":\"switchboard.error.internal\",\"args\":[\"could not encode the reply\"]}");
	}
	struct http_response *r = &req->response;
	r->status = status;
	r->content_type = "application/json; charset=utf-8";
	r->body.len = 0;
	buf_append(&r->body, text, strlen(text));
	free(text);
	json_decref(json);
}

/* Replaces bytes that are not valid UTF-8 (an echoed path, say) with '?',
 * so the sentence can always be a JSON string. */
static void utf8_scrub(char *s)
{
	unsigned char *p = (unsigned char *)s;
	for (size_t left = strlen(s), n; left; p += n, left -= n) {
		n = utf8_sequence(p, left);
		if (n == 0) {
			*p = '?';
			n = 1;
		}
	}
}

void http_error(struct http_request *req, int status, const char *uri, const char *fmt, ...)
{
	char sentence[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sentence, sizeof sentence, fmt, ap);
	va_end(ap);
	utf8_scrub(sentence);
	http_json(req, status, json_pack("{s:s, s:[s], s:{}}", "error", uri, "args", sentence,
					 "kwargs"));
}

static bool origin_allowed(const struct sb_cors *cors, const char *origin)
{
	if (!cors || !cors->n_allowed_origins)
		return true;
	for (size_t i = 0; i < cors->n_allowed_origins; i++)
		if (!strcmp(cors->allowed_origins[i], "*") || !strcmp(cors->allowed_origins[i], origin))
			return true;
	return false;
}

void http_cors(struct http_request *req, const struct sb_cors *cors)
{
	const char *origin = http_header(req, "Origin");
	if (!origin || !strcmp(origin, "null")) {
		if (origin_allowed(cors, "*"))
			http_add_header(req, "Access-Control-Allow-Origin", "*");
		return;
	}
	if (!origin_allowed(cors, origin))
		return;                    /* the browser refuses the response */
	/* Echo the origin (never "*") so withCredentials works. */
	http_add_header(req, "Access-Control-Allow-Origin", origin);
	http_add_header(req, "Access-Control-Allow-Credentials", "true");
	http_add_header(req, "Vary", "Origin");
}

/* Glob with '*' for any run of characters; text is not NUL-terminated. */
static bool glob_matches(const char *glob, const char *text, size_t len)
{
	if (!*glob)
		return len == 0;
	if (*glob == '*') {
		for (size_t skip = 0; skip <= len; skip++)
			if (glob_matches(glob + 1, text + skip, len - skip))
				return true;
		return false;
	}
	return len && tolower((unsigned char)*glob) == tolower((unsigned char)*text) &&
	       glob_matches(glob + 1, text + 1, len - 1);
}

static bool is_loopback(const char *interface)
{
	return interface && (!strncmp(interface, "127.", 4) || !strcmp(interface, "::1") ||
			     !strcasecmp(interface, "localhost"));
}

bool http_origin_allowed(const struct sb_transport *t, const struct sb_path *path,
			 const char *origin, size_t origin_len, const char *host, size_t host_len)
{
	if (!origin)
		return true;               /* not a browser: no cross-site risk */
	if (origin_len == 4 && !strncasecmp(origin, "null", 4))
		return path->allow_null_origin;
	if (path->allowed_origins) {
		for (size_t i = 0; i < path->n_allowed_origins; i++)
			if (glob_matches(path->allowed_origins[i], origin, origin_len))
				return true;
		return false;
	}
	if (is_loopback(t->endpoint.interface))
		return true;
	const char *sep = memmem(origin, origin_len, "://", 3);
	const char *origin_host = sep ? sep + 3 : origin;
	size_t n = origin_len - (size_t)(origin_host - origin);
	return host && n == host_len && !strncasecmp(origin_host, host, n);
}

static enum http_result websocket_without_upgrade(struct http_request *req)
{
	const char *origin = http_header(req, "Origin"), *host = http_header(req, "Host");
	const char *upgrade = http_header(req, "Upgrade");
	if (upgrade && !strcasecmp(upgrade, "websocket") &&
	    !http_origin_allowed(req->route->transport, req->route->path, origin,
				 origin ? strlen(origin) : 0, host, host ? strlen(host) : 0)) {
		http_error(req, 403, "switchboard.error.origin_not_allowed", "Pages from %s may not "
			   "open WebSockets here; list the origin in the path's "
			   "options.allowed_origins.", origin);
		return HTTP_DONE;
	}
	http_error(req, 400, "switchboard.error.bad_request",
		   "This is a WAMP WebSocket endpoint: open it with a WebSocket client "
		   "offering subprotocol wamp.2.json or wamp.2.msgpack.");
	return HTTP_DONE;
}

static enum http_result healthz(struct http_request *req)
{
	http_json(req, 200, json_pack("{s:s}", "status", "ok"));
	return HTTP_DONE;
}

enum http_result http_dispatch(struct http_request *req)
{
	if (req->body_too_large) {
		http_error(req, 413, "switchboard.error.payload_too_large",
			   "Request too long. (the body is longer than the accepted %zu bytes)",
			   req->body_limit ? req->body_limit : req->route->body_limit);
		return HTTP_DONE;
	}
	switch (req->route->kind) {
	case ROUTE_STATIC: return static_handle(req);
	case ROUTE_WEBSOCKET: return websocket_without_upgrade(req);
	case ROUTE_PUBLISHER: return publish_handle(req);
	case ROUTE_CALLER: return publish_handle_call(req);
	case ROUTE_EVENTSOURCE: return sse_handle(req);
	case ROUTE_NODEINFO: return info_handle(req);
	case ROUTE_WEBHOOK: return publish_handle_webhook(req);
	case ROUTE_METRICS: return info_handle_metrics(req);
	case ROUTE_HEALTHZ: return healthz(req);
	case ROUTE_NOT_FOUND: break;
	}
	http_error(req, 404, "switchboard.error.not_found", "No such path: %s", req->path);
	return HTTP_DONE;
}

void http_finish(struct http_request *req)
{
	req->cancel = NULL;
	req->pending = NULL;
	req->adapter->resume(req);
}
