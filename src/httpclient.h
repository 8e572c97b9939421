/* httpclient.h - outgoing HTTP requests (REST callee, message forwarder).
 *
 * One libcurl multi handle driven by the gateway's uv loop: curl tells us
 * which sockets to watch and when to wake it (its socket and timer
 * callbacks become uv_poll and uv_timer handles), so thousands of requests
 * are in flight at once without a thread or a blocking call, and
 * connections to a back end are kept open and reused between requests.
 *
 * Loop thread only.
 */
#ifndef SB_HTTPCLIENT_H
#define SB_HTTPCLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "util.h"

struct httpclient;
struct httpclient_exchange;

struct httpclient_request {
	const char *method;        /* "GET", "POST", ... */
	const char *url;           /* absolute http(s) URL */
	struct curl_slist *headers; /* "Name: value" lines; stolen (may be NULL) */
	const char *body;          /* copied; NULL = no body */
	size_t body_len;
	long timeout_ms;           /* whole exchange; 0 = none */
	long connect_timeout_ms;   /* 0 = curl's default */
};

enum httpclient_failure {
	HTTPCLIENT_OK,             /* a response arrived: look at status */
	HTTPCLIENT_UNREACHABLE,    /* DNS, refused, TLS: no connection */
	HTTPCLIENT_TIMEOUT,        /* no complete response in time */
	HTTPCLIENT_FAILED,         /* anything else (reset, bad response, too large) */
};

struct httpclient_reply {
	enum httpclient_failure failure;
	const char *error;         /* what went wrong, for people; "" if OK */
	long status;               /* HTTP status; 0 without a response */
	const char *content_type;  /* borrowed; NULL if none */
	struct buf body;           /* borrowed: the response body */
	json_t *headers;           /* borrowed: {"Content-Type": ["text/html"], ...} */
};

/* Called once per exchange, on the loop thread; the reply is borrowed for
 * the duration of the call. */
typedef void (*httpclient_done_fn)(void *ctx, const struct httpclient_reply *reply);

struct httpclient *httpclient_new(uv_loop_t *loop);

/* Cancels every exchange (their callbacks never run) and frees the client
 * once the loop has closed its handles. */
void httpclient_free(struct httpclient *hc);

/* Starts a request.  The returned handle is valid until done has run or
 * httpclient_cancel() is called. */
struct httpclient_exchange *httpclient_send(struct httpclient *hc,
					    const struct httpclient_request *req,
					    httpclient_done_fn done, void *ctx);

/* Abandons an exchange; its callback never runs. */
void httpclient_cancel(struct httpclient_exchange *x);

/* Header names as Twisted prints them, which Crossbar's replies carry:
 * "content-type" -> "Content-Type".  Writes at most size bytes with NUL. */
void httpclient_canonical_name(const char *name, size_t len, char *out, size_t size);

#endif
