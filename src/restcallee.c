/* restcallee.c - Crossbar's RESTCallee, in-process (see restcallee.h).
 *
 * The callee is a session with no transport: it joins its realm like any
 * client (so permissions, meta events and /info see it), registers its
 * procedure, and turns each INVOCATION into one HTTP request on the
 * gateway's libcurl multi handle.  The reply is Crossbar's shape
 * {code, content, headers}; a 4xx or 5xx is a normal result, only a
 * request that got no HTTP answer is a WAMP error.
 */
#include "restcallee.h"

#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway.h"
#include "httpclient.h"
#include "log.h"
#include "router.h"
#include "util.h"

struct restcallee {
	struct gateway *gw;
	const struct sb_component *cfg;
	struct session *session;
	struct map calls;              /* INVOCATION id -> struct rest_call */
};

struct rest_call {
	struct restcallee *callee;
	uint64_t invocation;
	struct httpclient_exchange *exchange;
	char *method, *url;            /* for error messages */
};

/* ---- answering the router ------------------------------------------------------ */

static void yield(struct restcallee *rc, uint64_t invocation, json_t *result)
{
	router_receive(rc->session, json_pack("[i, I, {}, [o]]", WAMP_YIELD,
					      (json_int_t)invocation, result));
}

/* ERROR for an INVOCATION; kwargs stolen (may be NULL). */
static void fail(struct restcallee *rc, uint64_t invocation, const char *uri, json_t *kwargs,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void fail(struct restcallee *rc, uint64_t invocation, const char *uri, json_t *kwargs,
		 const char *fmt, ...)
{
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	router_receive(rc->session, json_pack("[i, i, I, {}, s, [s], o]", WAMP_ERROR,
					      WAMP_INVOCATION, (json_int_t)invocation, uri, message,
					      kwargs ? kwargs : json_object()));
}

/* ---- the response ------------------------------------------------------------------ */

/* The charset parameter of a Content-Type, lower-cased, or "" if none. */
static void charset_of(const char *content_type, char *out, size_t size)
{
	const char *p = content_type ? strcasestr(content_type, "charset=") : NULL;
	size_t n = 0;
	if (p) {
		p += 8;
		p += *p == '"';
		while (p[n] && p[n] != '"' && p[n] != ';' && p[n] != ' ' && n + 1 < size) {
			out[n] = (char)(p[n] >= 'A' && p[n] <= 'Z' ? p[n] + 32 : p[n]);
			n++;
		}
	}
	out[n] = '\0';
}

static json_t *latin1_text(const char *data, size_t len)
{
	struct buf utf8 = {0};
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)data[i];
		char pair[2] = {(char)(0xc0 | ch >> 6), (char)(0x80 | (ch & 0x3f))};
		if (ch < 0x80)
			buf_append(&utf8, data + i, 1);
		else
			buf_append(&utf8, pair, 2);
	}
	json_t *text = json_stringn(utf8.data ? utf8.data : "", utf8.len);
	buf_free(&utf8);
	return text;
}

/* Body bytes in charset -> a JSON string, or NULL if they do not decode. */
static json_t *decode(const char *data, size_t len, const char *charset)
{
	if (!*charset || !strcmp(charset, "iso-8859-1") || !strcmp(charset, "latin1") ||
	    !strcmp(charset, "latin-1"))
		return latin1_text(data, len);       /* HTTP's default, as Crossbar */
	if (!strcmp(charset, "utf-8") || !strcmp(charset, "utf8") || !strcmp(charset, "us-ascii"))
		return json_stringn(data, len);
	iconv_t cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return NULL;
	struct buf out = {0};
	char chunk[4096];
	char *in = (char *)data;
	size_t left = len;
	bool is_ok = true;
	while (is_ok && left) {
		char *o = chunk;
		size_t room = sizeof chunk;
		is_ok = iconv(cd, &in, &left, &o, &room) != (size_t)-1 || errno == E2BIG;
		buf_append(&out, chunk, sizeof chunk - room);
	}
	iconv_close(cd);
	json_t *text = is_ok ? json_stringn(out.data ? out.data : "", out.len) : NULL;
	buf_free(&out);
	return text;
}

static void answered(void *ctx, const struct httpclient_reply *reply)
{
	struct rest_call *call = ctx;
	struct restcallee *rc = call->callee;
	uint64_t invocation = call->invocation;
	map_remove(&rc->calls, (const char *)&invocation, sizeof invocation);
	json_t *where = json_pack("{s:s, s:s}", "method", call->method, "url", call->url);

	if (reply->failure != HTTPCLIENT_OK) {
		static const char *const uris[] = {
			[HTTPCLIENT_UNREACHABLE] = "switchboard.error.backend_unreachable",
			[HTTPCLIENT_TIMEOUT] = "switchboard.error.backend_timeout",
			[HTTPCLIENT_FAILED] = "switchboard.error.backend_failed",
		};
		log_msg(LOG_WARN, "restcallee", "%s: %s %s failed: %s (check that the back end is "
			"up and reachable from the gateway)", rc->cfg->procedure, call->method,
			call->url, reply->error);
		fail(rc, invocation, uris[reply->failure], where, "%s %s failed: %s", call->method,
		     call->url, reply->error);
	} else {
		char charset[64];
		charset_of(reply->content_type, charset, sizeof charset);
		json_t *content = decode(reply->body.data ? reply->body.data : "", reply->body.len,
					 charset);
		if (!content) {
			fail(rc, invocation, "switchboard.error.backend_failed", where,
			     "%s %s: the response body is not valid %s text", call->method, call->url,
			     charset);
		} else {
			json_decref(where);
			yield(rc, invocation, json_pack("{s:i, s:o, s:O}", "code", (int)reply->status,
							"content", content, "headers", reply->headers));
		}
	}
	free(call->method);
	free(call->url);
	free(call);
}

/* ---- the request ------------------------------------------------------------------- */

/* Arguments by name, or by position in Crossbar's order. */
static json_t *argument(const json_t *inv, size_t position, const char *name)
{
	json_t *v = json_object_get(wamp_kwargs(inv, 4), name);
	return v ? v : json_array_get(wamp_args(inv, 4), position);
}

/* baseurl joined with url (RFC 3986, like Python's urljoin), params
 * appended to the query.  New string, or NULL with why set. */
static char *build_url(const char *baseurl, const json_t *url, const json_t *params,
		       char *why, size_t whylen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *full = NULL, *text = NULL;
	CURLUcode rc = CURLUE_OK;
	if (*baseurl)
		rc = curl_url_set(u, CURLUPART_URL, baseurl, 0);
	if (rc == CURLUE_OK && json_string_length(url))
		rc = curl_url_set(u, CURLUPART_URL, json_string_value(url), 0);
	else if (rc == CURLUE_OK && !*baseurl)
		rc = CURLUE_MALFORMED_INPUT;
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)params, key, value) {
		if (rc != CURLUE_OK)
			break;
		text = json_is_string(value) ? xstrdup(json_string_value(value))
		     : json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
		char *pair = xasprintf("%s=%s", key, text);
		rc = curl_url_set(u, CURLUPART_QUERY, pair, CURLU_APPENDQUERY | CURLU_URLENCODE);
		free(pair);
		free(text);
	}
	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	if (rc == CURLUE_OK && strcmp(scheme, "http") && strcmp(scheme, "https"))
		snprintf(why, whylen, "only http and https URLs are allowed, not %s:", scheme);
	else if (rc == CURLUE_OK)
		curl_url_get(u, CURLUPART_URL, &full, 0);
	else
		snprintf(why, whylen, "cannot make a URL of baseurl \"%s\" and url %s: %s", baseurl,
			 json_is_string(url) ? json_string_value(url) : "(none)", curl_url_strerror(rc));
	char *result = full ? xstrdup(full) : NULL;
	curl_free(full);
	curl_free(scheme);
	curl_url_cleanup(u);
	return result;
}

/* Query parameters are strings (numbers and booleans are written out). */
static bool params_valid(const json_t *params, char *why, size_t whylen)
{
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)params, key, value) {
		if (!json_is_string(value) && !json_is_number(value) && !json_is_boolean(value)) {
			snprintf(why, whylen, "params.%.100s must be a string or a number", key);
			return false;
		}
	}
	return true;
}

/* "Name: value" lines from {Name: [values]} (or {Name: value}).  Returns
 * false with why set for anything that is not a clean header. */
static bool build_headers(const json_t *headers, struct curl_slist **out, char *why, size_t whylen)
{
	const char *name;
	json_t *values;
	json_object_foreach((json_t *)headers, name, values) {
		if (!*name || strpbrk(name, ":\r\n \t")) {
			snprintf(why, whylen, "invalid header name \"%.100s\"", name);
			return false;
		}
		size_t n = json_is_array(values) ? json_array_size(values) : 1;
		for (size_t i = 0; i < n; i++) {
			json_t *v = json_is_array(values) ? json_array_get(values, i) : values;
			if (!json_is_string(v) || strpbrk(json_string_value(v), "\r\n") ||
			    strlen(json_string_value(v)) != json_string_length(v)) {
				snprintf(why, whylen, "header \"%.100s\" must be a string or a list of "
					 "strings without line breaks", name);
				return false;
			}
			char *line = xasprintf("%s: %s", name, json_string_value(v));
			*out = curl_slist_append(*out, line);
			free(line);
		}
	}
	return true;
}

/* Checks the call's arguments and starts the request; false with why set
 * if they are wrong. */
static bool start_request(struct restcallee *rc, const json_t *inv, uint64_t invocation,
			  char *why, size_t whylen)
{
	json_t *method = argument(inv, 0, "method"), *url = argument(inv, 1, "url");
	json_t *body = argument(inv, 2, "body"), *headers = argument(inv, 3, "headers");
	json_t *params = argument(inv, 4, "params");
	struct curl_slist *lines = NULL;
	const char *bad = method && !json_is_string(method) ? "method must be a string"
			: url && !json_is_null(url) && !json_is_string(url) ? "url must be a string"
			: body && !json_is_null(body) && !json_is_string(body) ? "body must be a string"
			: headers && !json_is_null(headers) && !json_is_object(headers)
			? "headers must be an object {Name: [values]}"
			: params && !json_is_null(params) && !json_is_object(params)
			? "params must be an object {name: value}" : NULL;
	if (bad) {
		snprintf(why, whylen, "%s", bad);
		return false;
	}
	const char *verb = method ? json_string_value(method) : "GET";
	if (!*verb || strspn(verb, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != strlen(verb)) {
		snprintf(why, whylen, "method \"%.50s\" is not an HTTP method", verb);
		return false;
	}
	if (!params_valid(params, why, whylen))
		return false;
	char *full = build_url(rc->cfg->baseurl, url, params, why, whylen);
	if (!full)
		return false;
	if (!build_headers(headers, &lines, why, whylen)) {
		curl_slist_free_all(lines);
		free(full);
		return false;
	}
	struct rest_call *call = xcalloc(1, sizeof *call);
	call->callee = rc;
	call->invocation = invocation;
	call->method = xstrdup(verb);
	call->url = full;
	struct httpclient_request req = {
		.method = verb,
		.url = full,
		.headers = lines,
		.body = body ? json_string_value(body) : NULL,
		.body_len = body ? json_string_length(body) : 0,
		.timeout_ms = rc->cfg->timeout_ms,
		.connect_timeout_ms = rc->cfg->connect_timeout_ms,
	};
	map_put(&rc->calls, (const char *)&invocation, sizeof invocation, call);
	call->exchange = httpclient_send(rc->gw->httpclient, &req, answered, call);
	return true;
}

/* ---- what the router says to the callee ------------------------------------------------ */

static void on_invocation(struct restcallee *rc, const json_t *inv)
{
	uint64_t invocation = wamp_id(inv, 1);
	char why[512];
	if (!start_request(rc, inv, invocation, why, sizeof why))
		fail(rc, invocation, "wamp.error.invalid_argument", NULL, "%s: %s",
		     rc->cfg->procedure, why);
}

/* The caller cancelled or timed out: abandon the request. */
static void on_interrupt(struct restcallee *rc, const json_t *msg)
{
	uint64_t invocation = wamp_id(msg, 1);
	struct rest_call *call = map_remove(&rc->calls, (const char *)&invocation, sizeof invocation);
	if (!call)
		return;
	httpclient_cancel(call->exchange);
	fail(rc, invocation, "wamp.error.canceled", NULL, "%s %s was cancelled by the caller",
	     call->method, call->url);
	free(call->method);
	free(call->url);
	free(call);
}

static void callee_receive(struct session *s, json_t *msg)
{
	struct restcallee *rc = s->transport;
	switch (json_integer_value(json_array_get(msg, 0))) {
	case WAMP_INVOCATION:
		on_invocation(rc, msg);
		break;
	case WAMP_INTERRUPT:
		on_interrupt(rc, msg);
		break;
	case WAMP_ERROR:                   /* REGISTER refused */
		log_msg(LOG_ERROR, "restcallee", "%s: cannot register %s: %s (%s)", rc->cfg->where,
			rc->cfg->procedure, json_string_value(json_array_get(msg, 4)),
			json_string_value(json_array_get(wamp_args(msg, 5), 0)));
		break;
	default:                           /* REGISTERED */
		break;
	}
	json_decref(msg);
}

static void callee_close(struct session *s, int code)
{
	(void)s;
	(void)code;                        /* in-process: nothing to close */
}

static const struct session_ops callee_ops = {callee_receive, NULL, callee_close};

struct restcallee *restcallee_start(struct gateway *gw, const struct sb_component *cfg)
{
	struct restcallee *rc = xcalloc(1, sizeof *rc);
	rc->gw = gw;
	rc->cfg = cfg;
	rc->session = router_session_join(gw->router, &callee_ops, rc, cfg->realm, cfg->role,
					  cfg->name);
	if (!rc->session) {
		log_msg(LOG_ERROR, "restcallee", "%s: cannot join realm %s as role %s", cfg->where,
			cfg->realm, cfg->role);
		free(rc);
		return NULL;
	}
	rc->session->features.callee_cancel = true;    /* INTERRUPT cancels the request */
	router_receive(rc->session, json_pack("[i, i, {}, s]", WAMP_REGISTER, 1, cfg->procedure));
	log_msg(LOG_INFO, "restcallee", "%s: %s -> %s", cfg->name, cfg->procedure,
		*cfg->baseurl ? cfg->baseurl : "(absolute URLs)");
	return rc;
}

static void drop_call(const char *key, void *value, void *ctx)
{
	struct rest_call *call = value;
	httpclient_cancel(call->exchange);
	free(call->method);
	free(call->url);
	free(call);
}

void restcallee_stop(struct restcallee *rc)
{
	if (!rc)
		return;
	map_each(&rc->calls, drop_call, NULL);
	map_clear(&rc->calls);
	router_session_gone(rc->session);
	free(rc);
}
