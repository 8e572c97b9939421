/* http.h - the transport-neutral HTTP layer.
 *
 * Every HTTP concern - routing, limits, validation, JSON errors, CORS, SSE
 * framing and replay - is written once, against this small interface: a
 * request (method, path, headers, query, body) that a handler answers with
 * a response, possibly later (HTTP_PENDING), possibly as an endless stream.
 * An adapter turns a server library's connections into these requests:
 * mhd.c for the plain port, lwshttp.c (libwebsockets) for the TLS port.
 */
#ifndef SB_HTTP_H
#define SB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "util.h"

struct gateway;
struct http_request;

/* ---- what an adapter provides -------------------------------------------- */

struct http_adapter {
	/* Value of a request header (case-insensitive name), or NULL. */
	const char *(*header)(struct http_request *req, const char *name);
	/* Calls fn for each request header, in order. */
	void (*each_header)(struct http_request *req,
			    void (*fn)(void *ctx, const char *name, const char *value), void *ctx);
	/* Calls fn for each query argument, in order (repeats included). */
	void (*each_query)(struct http_request *req,
			   void (*fn)(void *ctx, const char *name, const char *value), void *ctx);
	/* A pending request has its response ready: send it. */
	void (*resume)(struct http_request *req);
};

/* A streamed response body (SSE).  The adapter pulls bytes with read();
 * the stream pushes a wake() when it has new bytes after read() returned
 * 0.  The adapter calls closed() exactly once when the connection is gone;
 * after that the stream frees itself and never calls wake() again. */
#define HTTP_STREAM_END ((ssize_t)-1)
struct http_stream {
	ssize_t (*read)(struct http_stream *s, char *buf, size_t max);
	void (*closed)(struct http_stream *s);
	/* Set by the adapter when the stream starts: */
	void (*wake)(struct http_stream *s);
	void (*kill)(struct http_stream *s);   /* drop the connection now */
	void *conn;                        /* adapter's connection */
	bool is_paused;                    /* adapter waits for wake() */
};

/* ---- request and response -------------------------------------------------- */

#define HTTP_MAX_HEADERS 12

struct http_response {
	int status;
	const char *content_type;          /* static string */
	struct {
		char *name, *value;        /* owned */
	} headers[HTTP_MAX_HEADERS];
	size_t n_headers;
	struct buf body;
	int file_fd;                       /* >= 0: send this file (owned) */
	uint64_t file_size;
	struct http_stream *stream;        /* non-NULL: stream the body */
};

struct http_route;

struct http_request {
	const struct http_adapter *adapter;
	struct gateway *gw;
	const struct http_route *route;
	const char *method;                /* borrowed from the adapter */
	const char *path;                  /* percent-decoded, no query */
	char peer[64];                     /* "127.0.0.1:5555", "[::1]:5555" */
	bool is_secure;                    /* arrived over TLS */
	struct buf body;
	size_t body_limit;                 /* adapter's cap if below the route's; 0 = */
	bool body_too_large;               /* ...the route's body_limit */
	struct http_response response;

	/* Set by a handler that returned HTTP_PENDING: */
	void (*cancel)(struct http_request *req); /* connection gone first */
	void *pending;
};

enum http_result { HTTP_DONE, HTTP_PENDING };

/* ---- routes ------------------------------------------------------------------- */

struct http_route {
	const struct sb_path *path;        /* NULL for the built-ins */
	const struct sb_transport *transport;
	enum http_route_kind {
		ROUTE_STATIC, ROUTE_WEBSOCKET, ROUTE_PUBLISHER, ROUTE_CALLER,
		ROUTE_EVENTSOURCE, ROUTE_NODEINFO, ROUTE_WEBHOOK,
		ROUTE_METRICS, ROUTE_HEALTHZ, ROUTE_NOT_FOUND,
	} kind;
	size_t body_limit;                 /* bytes accepted in a request body */
};

/* The routes of one listening transport. */
struct http_site {
	const struct sb_transport *transport;
	struct http_route *routes;         /* one per path, then built-ins */
	size_t n_routes;
	const struct http_route *root;     /* the "/" path, or not-found */
};

void http_site_init(struct http_site *site, const struct sb_transport *t);
void http_site_cleanup(struct http_site *site);

/* Route for a request path ("/sse", "/sse/x", "/index.html"). Never NULL. */
const struct http_route *http_site_route(const struct http_site *site, const char *path);


/* ---- handling ------------------------------------------------------------------- */

/* Initialises req's response; call before anything else. */
void http_request_init(struct http_request *req);
/* Frees what req owns (not the request itself). */
void http_request_cleanup(struct http_request *req);

/* Answers req (req->route set, body complete).  HTTP_PENDING: the handler
 * calls http_finish() later. */
enum http_result http_dispatch(struct http_request *req);

/* A pending handler is done: hands the response to the adapter. */
void http_finish(struct http_request *req);

/* Helpers for handlers. */
const char *http_header(struct http_request *req, const char *name);
void http_add_header(struct http_request *req, const char *name, const char *value);
/* {"error": uri, "args": [sentence], "kwargs": {}} with status: the shape
 * of Crossbar's bridge errors and of our WAMP errors over HTTP. */
void http_error(struct http_request *req, int status, const char *uri,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* status + compact JSON body (steals json). */
void http_json(struct http_request *req, int status, void *json);
/* May a browser page from origin (NULL: not a browser) open a WebSocket
 * on path of transport t, whose Host header says host?  The path's
 * allowed_origins (exact or with * globs) and allow_null_origin decide;
 * without a list, any origin when t listens on a loopback address (local
 * development), else only the same origin. */
bool http_origin_allowed(const struct sb_transport *t, const struct sb_path *path,
			 const char *origin, size_t origin_len, const char *host, size_t host_len);

/* CORS headers for an allowed origin list (NULL cors = allow any). */
void http_cors(struct http_request *req, const struct sb_cors *cors);

/* True if the comma-separated header value v (vlen bytes, not
 * NUL-terminated) lists token, in any case: "wamp.2.json.batched" does
 * not list "wamp.2.json". */
bool http_has_token(const char *v, size_t vlen, const char *token);
/* True if a Sec-WebSocket-Protocol value offers a WAMP serializer we speak. */
bool http_offers_wamp(const char *protocols, size_t len);

#endif
