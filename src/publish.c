/* publish.c - /publish, /call and webhooks (see publish.h).
 *
 * Checks run in Crossbar's order: method, content type, body size, JSON,
 * shape; request rejections are 4xx with {"error": URI, "args": [sentence]}.
 * Requests that were understood but refused by WAMP rules (not authorized,
 * reserved topic, no such procedure) are 200 with a WAMP error, as in
 * Crossbar.io, so existing clients keep working.
 */
#include "publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "acl.h"
#include "authorizer.h"
#include "bus.h"
#include "caller.h"
#include "event.h"
#include "gateway.h"
#include "httpclient.h"
#include "log.h"
#include "router.h"
#include "signing.h"

#define BAD_REQUEST "switchboard.error.bad_request"

/* Headers every bridge reply carries (Crossbar's common.py). */
static void bridge_headers(struct http_request *req)
{
	const char *origin = http_header(req, "Origin");
	const char *want = http_header(req, "Access-Control-Request-Headers");
	http_add_header(req, "Access-Control-Allow-Origin",
			origin && strcmp(origin, "null") ? origin : "*");
	http_add_header(req, "Access-Control-Allow-Credentials", "true");
	if (want)
		http_add_header(req, "Access-Control-Allow-Headers", want);
	http_add_header(req, "Cache-Control", "no-store,no-cache,must-revalidate,max-age=0");
}

/* Method and content type.  Returns false after answering. */
static bool check_request(struct http_request *req, bool needs_json)
{
	bridge_headers(req);
	if (!strcmp(req->method, "OPTIONS")) {
		http_add_header(req, "Allow", "POST,PUT,OPTIONS");
		http_add_header(req, "Access-Control-Allow-Methods", "POST,PUT,OPTIONS");
		req->response.status = 200;
		return false;
	}
	if (strcmp(req->method, "POST") && strcmp(req->method, "PUT")) {
		http_add_header(req, "Allow", "POST,PUT,OPTIONS");
		http_error(req, 405, "switchboard.error.method_not_allowed",
			   "Method not accepted by the REST bridge. (%s not allowed, only POST, PUT)",
			   req->method);
		return false;
	}
	const char *type = http_header(req, "Content-Type");
	if (!type)
		return true;
	size_t essence = strcspn(type, ";");
	while (essence && (type[essence - 1] == ' ' || type[essence - 1] == '\t'))
		essence--;
	if (needs_json && !(essence == 16 && !strncasecmp(type, "application/json", 16))) {
		http_error(req, 400, BAD_REQUEST,
			   "Non-accepted content type. (must be one of 'application/json', not '%.*s')",
			   (int)essence, type);
		return false;
	}
	const char *charset = strcasestr(type, "charset=");
	if (charset) {
		charset += 8;
		charset += *charset == '"';
		if (strncasecmp(charset, "utf-8", 5) && strncasecmp(charset, "utf8", 4)) {
			http_error(req, 400, BAD_REQUEST, "Non-accepted request encoding, must be UTF-8.");
			return false;
		}
	}
	return true;
}

static bool is_valid_uri_value(json_t *v)
{
	return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v) &&
	       uri_is_valid(json_string_value(v));
}

/* Parses the body as a JSON object with a valid URI under uri_key.
 * Returns it (new reference) or NULL after answering 400. */
static json_t *parse_body(struct http_request *req, const char *uri_key)
{
	json_error_t jerr;
	/* JSON_ALLOW_NUL: "\u0000" is valid JSON in payloads (WAMP binary);
	 * a URI with an embedded NUL is refused by is_valid_uri_value(). */
	json_t *body = json_loadb(req->body.data ? req->body.data : "", req->body.len,
				  JSON_ALLOW_NUL, &jerr);
	if (!body) {
		http_error(req, 400, BAD_REQUEST, "Request body was invalid JSON. (%s at line %d, column %d)",
			   jerr.text, jerr.line, jerr.column);
		return NULL;
	}
	json_t *uri = json_object_get(body, uri_key);
	json_t *args = json_object_get(body, "args");
	json_t *kwargs = json_object_get(body, "kwargs");
	json_t *options = json_object_get(body, "options");
	if (!json_is_object(body)) {
		http_error(req, 400, BAD_REQUEST,
			   "Request body was valid JSON, but not well formed (must be a dict).");
	} else if (!uri) {
		http_error(req, 400, BAD_REQUEST,
			   "Request body was valid JSON, but not well formed (missing key '%s').", uri_key);
	} else if (!is_valid_uri_value(uri)) {
		char *text = json_dumps(uri, JSON_COMPACT | JSON_ENCODE_ANY);
		http_error(req, 400, BAD_REQUEST,
			   "Request body was valid JSON, but '%s' is not a valid URI: %.200s "
			   "(dot-separated non-empty components without spaces or '#')", uri_key, text);
		free(text);
	} else if (args && !json_is_null(args) && !json_is_array(args)) {
		http_error(req, 400, BAD_REQUEST, "Request body was valid JSON, but 'args' must be a list.");
	} else if (kwargs && !json_is_null(kwargs) && !json_is_object(kwargs)) {
		http_error(req, 400, BAD_REQUEST, "Request body was valid JSON, but 'kwargs' must be a dict.");
	} else if (options && !json_is_null(options) && !json_is_object(options)) {
		http_error(req, 400, BAD_REQUEST, "Request body was valid JSON, but 'options' must be a dict.");
	} else {
		return body;
	}
	json_decref(body);
	return NULL;
}

static void wamp_error(struct http_request *req, const char *uri, const char *message)
{
	http_json(req, 200, json_pack("{s:s, s:[s], s:{}}", "error", uri, "args", message, "kwargs"));
}

static json_t *take_array(json_t *body, const char *key)
{
	json_t *v = json_object_get(body, key);
	return json_is_array(v) ? json_incref(v) : NULL;
}

/* ---- publishing ----------------------------------------------------------- */

struct publish_wait {
	struct http_request *req;      /* NULL once the client has gone */
	bool is_webhook;               /* reply 202 "OK", as Crossbar */
};

static void publish_cancelled(struct http_request *req)
{
	struct publish_wait *w = req->pending;
	w->req = NULL;
}

/* Crossbar's webhook replies: plain text, 202 or 500. */
static void webhook_reply(struct http_request *req, bool is_ok)
{
	const struct sb_path *path = req->route->path;
	const char *text = is_ok ? (path->success_response ? path->success_response : "OK")
				 : (path->error_response ? path->error_response : "NOT OK");
	req->response.status = is_ok ? 202 : 500;
	req->response.content_type = "text/plain; charset=utf-8";
	buf_append(&req->response.body, text, strlen(text));
}

static void published(void *ctx, struct event *ev, int err)
{
	struct publish_wait *w = ctx;
	struct http_request *req = w->req;
	bool is_webhook = w->is_webhook;
	free(w);
	if (!req)
		return;                /* stored all the same; nobody to tell */
	if (is_webhook)
		webhook_reply(req, !err);
	else if (err)
		http_error(req, 503, "switchboard.error.history_unavailable",
			   "The event could not be stored in history; it was not published. "
			   "Retry later.");
	else
		http_json(req, 200, json_pack("{s:I}", "id", (json_int_t)ev->pub_id));
	http_finish(req);
}

/* Publishes a validated request's event; the reply follows the commit. */
static enum http_result publish_event(struct http_request *req, const char *topic,
				      json_t *args, json_t *kwargs, const char *sse_event)
{
	bool is_webhook = req->route->kind == ROUTE_WEBHOOK;
	const struct sb_path *path = req->route->path;
	struct event *ev = event_new(path->realm, topic, args, kwargs, sse_event);
	struct publish_wait *w = xmalloc(sizeof *w);
	w->req = req;
	w->is_webhook = is_webhook;
	req->pending = w;
	req->cancel = publish_cancelled;
	bus_publish(req->gw->bus, ev, published, w);
	event_unref(ev);
	return HTTP_PENDING;
}

static void not_authorized(struct http_request *req, const char *topic)
{
	char message[512];
	snprintf(message, sizeof message, "session not authorized to publish to topic '%s'", topic);
	wamp_error(req, "wamp.error.not_authorized", message);
}

/* A body that passed every check and the role's permission. */
static enum http_result publish_allowed(struct http_request *req, json_t *body)
{
	const char *topic = json_string_value(json_object_get(body, "topic"));
	json_t *sse_event = json_object_get(json_object_get(body, "options"), "sse_event");
	json_t *kwargs = json_object_get(body, "kwargs");
	char message[512];
	if (!strncmp(topic, "wamp.", 5)) {
		snprintf(message, sizeof message, "publish with restricted topic URI '%s'", topic);
		wamp_error(req, "wamp.error.invalid_uri", message);
		return HTTP_DONE;
	}
	return publish_event(req, topic, take_array(body, "args"),
			     json_is_object(kwargs) ? json_incref(kwargs) : NULL,
			     json_string_value(sse_event));
}

/* A role with a dynamic authorizer: the publish waits for its verdict. */
struct publish_ask {
	struct http_request *req;
	json_t *body;
	struct authorizer_ask *asking;
};

static enum http_result publish_decided(struct http_request *req, json_t *body,
					struct verdict v)
{
	if (v.allow)
		return publish_allowed(req, body);
	not_authorized(req, json_string_value(json_object_get(body, "topic")));
	return HTTP_DONE;
}

static void publish_verdict(void *ctx, struct verdict v)
{
	struct publish_ask *p = ctx;
	struct http_request *req = p->req;
	req->pending = NULL;               /* publish_event() may set its own */
	enum http_result result = publish_decided(req, p->body, v);
	json_decref(p->body);
	free(p);
	if (result == HTTP_DONE)
		http_finish(req);          /* else publish_event() finishes it */
}

static void publish_ask_cancelled(struct http_request *req)
{
	struct publish_ask *p = req->pending;
	authorizer_forget(p->asking);
	json_decref(p->body);
	free(p);
}

static enum http_result ask_publish(struct http_request *req, const struct sb_role *role,
				    json_t *body)
{
	const struct sb_path *path = req->route->path;
	const char *topic = json_string_value(json_object_get(body, "topic"));
	struct verdict v;
	if (authorizer_cached(req->gw, path->realm, role->name, ACL_PUBLISH, topic, &v))
		return publish_decided(req, body, v);
	struct publish_ask *p = xcalloc(1, sizeof *p);
	p->req = req;
	p->body = json_incref(body);
	p->asking = authorizer_ask(req->gw, path->realm, role->authorizer, role->name, ACL_PUBLISH,
				   topic, authorizer_http_details(req->peer, NULL, role->name,
								  "anonymous"),
				   publish_verdict, p);
	req->pending = p;
	req->cancel = publish_ask_cancelled;
	return HTTP_PENDING;
}

enum http_result publish_handle(struct http_request *req)
{
	if (!check_request(req, true) || !signing_check(req))
		return HTTP_DONE;
	json_t *body = parse_body(req, "topic");
	if (!body)
		return HTTP_DONE;

	const char *topic = json_string_value(json_object_get(body, "topic"));
	json_t *sse_event = json_object_get(json_object_get(body, "options"), "sse_event");
	const struct sb_role *role = gateway_path_role(req->gw, req->route->path);
	enum http_result result = HTTP_DONE;

	if (sse_event && (!json_is_string(sse_event) || !json_string_length(sse_event) ||
			  strpbrk(json_string_value(sse_event), "\r\n")))
		http_error(req, 400, BAD_REQUEST, "options.sse_event must be a non-empty string "
			   "without line breaks.");
	else if (role && role->authorizer)
		result = ask_publish(req, role, body);
	else if (!acl_allows(role, ACL_PUBLISH, topic))
		not_authorized(req, topic);
	else
		result = publish_allowed(req, body);
	json_decref(body);
	return result;
}

/* ---- calling --------------------------------------------------------------- */

/* /call goes through the caller of the path's (realm, role): an in-process
 * WAMP session, so it is authorized and routed by the dealer exactly like
 * a WebSocket client's CALL. */

/* Crossbar's shape: {"args": [null]} for no result, else args and kwargs
 * each only when non-empty. */
static json_t *call_result(const json_t *msg, size_t from)
{
	json_t *args = wamp_args(msg, from), *kwargs = wamp_kwargs(msg, from);
	json_t *body = json_object();
	if (json_array_size(args))
		json_object_set(body, "args", args);
	if (json_object_size(kwargs))
		json_object_set(body, "kwargs", kwargs);
	if (!json_object_size(body))
		json_object_set_new(body, "args", json_pack("[n]"));
	return body;
}

static json_t *call_error(const json_t *msg)
{
	json_t *args = wamp_args(msg, 5), *kwargs = wamp_kwargs(msg, 5);
	return json_pack("{s:O, s:o, s:o}", "error", json_array_get(msg, 4),
			 "args", args ? json_incref(args) : json_array(),
			 "kwargs", kwargs ? json_incref(kwargs) : json_object());
}

struct call_wait {
	struct http_request *req;
	struct caller *caller;
	uint64_t request;
};

static void call_answered(void *ctx, const json_t *answer)
{
	struct call_wait *w = ctx;
	struct http_request *req = w->req;
	bool is_result = json_integer_value(json_array_get(answer, 0)) == WAMP_RESULT;
	http_json(req, 200, is_result ? call_result(answer, 3) : call_error(answer));
	req->pending = NULL;
	free(w);
	http_finish(req);
}

/* The HTTP client left first: forget it and cancel the call. */
static void call_cancelled(struct http_request *req)
{
	struct call_wait *w = req->pending;
	caller_forget(w->caller, w->request);
	free(w);
}

/* The answer always comes later (caller.c), so the request waits. */
static enum http_result call_procedure(struct http_request *req, struct caller *caller,
				       json_t *body)
{
	json_t *timeout = json_object_get(json_object_get(body, "options"), "timeout");
	json_t *args = json_object_get(body, "args"), *kwargs = json_object_get(body, "kwargs");
	struct call_wait *w = xcalloc(1, sizeof *w);
	w->req = req;
	w->caller = caller;
	w->request = caller_call(caller, json_string_value(json_object_get(body, "procedure")),
				 json_is_array(args) ? json_incref(args) : NULL,
				 json_is_object(kwargs) ? json_incref(kwargs) : NULL,
				 timeout ? json_pack("{s:O}", "timeout", timeout) : NULL,
				 call_answered, w);
	req->pending = w;
	req->cancel = call_cancelled;
	return HTTP_PENDING;
}

enum http_result publish_handle_call(struct http_request *req)
{
	if (!check_request(req, true) || !signing_check(req))
		return HTTP_DONE;
	json_t *body = parse_body(req, "procedure");
	if (!body)
		return HTTP_DONE;
	const char *procedure = json_string_value(json_object_get(body, "procedure"));
	const struct sb_path *path = req->route->path;
	json_t *timeout = json_object_get(json_object_get(body, "options"), "timeout");
	struct caller *caller = caller_for(req->gw, path->realm, path->role);
	enum http_result result = HTTP_DONE;
	char message[512];
	if (timeout && !(json_is_integer(timeout) && json_integer_value(timeout) >= 0)) {
		http_error(req, 400, BAD_REQUEST, "options.timeout must be a whole number of "
			   "milliseconds (0 = no timeout).");
	} else if (!caller) {
		snprintf(message, sizeof message, "session (authrole=\"%s\") is not authorized to "
			 "call procedure \"%s\" on realm \"%s\"", path->role, procedure, path->realm);
		wamp_error(req, "wamp.error.not_authorized", message);
	} else {
		result = call_procedure(req, caller, body);
	}
	json_decref(body);
	return result;
}

/* ---- webhook ----------------------------------------------------------------- */

/* Header names as Twisted prints them: "content-type" -> "Content-Type". */
static void add_header(void *ctx, const char *name, const char *value)
{
	json_t *headers = ctx;
	char canonical[256];
	httpclient_canonical_name(name, strlen(name), canonical, sizeof canonical);
	json_t *values = json_object_get(headers, canonical);
	if (!values)
		json_object_set_new(headers, canonical, values = json_array());
	json_t *v = json_string(value);   /* NULL if not UTF-8 */
	json_array_append_new(values, v ? v : json_string(""));
}

enum http_result publish_handle_webhook(struct http_request *req)
{
	if (!check_request(req, false) || !signing_check_github(req))
		return HTTP_DONE;
	json_t *text = json_stringn(req->body.data ? req->body.data : "", req->body.len);
	if (!text) {
		http_error(req, 400, BAD_REQUEST, "Non-decodable request body, was not UTF-8.");
		return HTTP_DONE;
	}
	const struct sb_path *path = req->route->path;
	if (!acl_allows(gateway_path_role(req->gw, path), ACL_PUBLISH, path->webhook_topic)) {
		/* Crossbar's webhook session fails to publish: error_response. */
		log_msg(LOG_WARN, "publish", "%s: webhook %s: role %s may not publish to %s; allow "
			"it in the role's permissions", req->peer, req->path, path->role,
			path->webhook_topic);
		json_decref(text);
		webhook_reply(req, false);
		return HTTP_DONE;
	}
	json_t *headers = json_object();
	req->adapter->each_header(req, add_header, headers);
	json_t *args = json_pack("[{s:o, s:o}]", "headers", headers, "body", text);
	return publish_event(req, path->webhook_topic, args, NULL, NULL);
}
