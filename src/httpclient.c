/* httpclient.c - libcurl's multi interface on the uv loop (see httpclient.h).
 *
 * The pattern is curl's docs/examples/multi-uv.c: curl asks to watch a
 * socket (socket callback -> one uv_poll per socket, attached to curl's
 * socket with curl_multi_assign) or to be woken later (timer callback ->
 * one uv_timer); when either fires we call curl_multi_socket_action() and
 * then collect finished transfers.  A socket's uv_poll lives as long as
 * the socket: CURL_POLL_REMOVE (the connection went idle in curl's cache)
 * only stops it, and curl's close-socket callback closes it just before
 * the fd is closed, so the fd number cannot be reused while we still
 * watch it (HACKING.md: one uv_poll per fd).  Kept connections and reused
 * easy handles make a call to a back end cost no connect and no setup.
 */
#include "httpclient.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "map.h"

/* Bounds that keep one misbehaving back end from taking the gateway down. */
#define MAX_RESPONSE_BYTES (16 * 1024 * 1024)
#define MAX_CONNECTIONS_PER_HOST 256
#define MAX_KEPT_CONNECTIONS 1024      /* curl's default shrinks with traffic */
#define MAX_SPARE_HANDLES 64
#define MAX_REDIRECTS 10

struct httpclient {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	struct httpclient_exchange *exchanges;   /* in flight, doubly linked */
	struct map watches;                       /* fd -> struct watch */
	CURL *spare[MAX_SPARE_HANDLES];           /* idle easy handles, reset */
	size_t n_spare;
};

struct watch {                   /* a socket curl uses, while it is open */
	uv_poll_t poll;
	curl_socket_t fd;
	struct httpclient *hc;
};

struct httpclient_exchange {
	struct httpclient *hc;
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	struct buf response;
	json_t *response_headers;
	bool is_too_large;
	char error[CURL_ERROR_SIZE];
	httpclient_done_fn done;
	void *ctx;
	struct httpclient_exchange *prev, *next;
};

/* ---- finished transfers ----------------------------------------------------- */

static enum httpclient_failure classify(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return HTTPCLIENT_OK;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		return HTTPCLIENT_UNREACHABLE;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTPCLIENT_TIMEOUT;
	default:
		return HTTPCLIENT_FAILED;
	}
}

static void exchange_free(struct httpclient_exchange *x)
{
	struct httpclient *hc = x->hc;
	if (x->prev)
		x->prev->next = x->next;
	else
		hc->exchanges = x->next;
	if (x->next)
		x->next->prev = x->prev;
	curl_multi_remove_handle(hc->multi, x->easy);
	if (hc->n_spare < MAX_SPARE_HANDLES) {
		curl_easy_reset(x->easy);      /* keeps its DNS and connection caches */
		hc->spare[hc->n_spare++] = x->easy;
	} else {
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->headers);
	free(x->body);
	buf_free(&x->response);
	json_decref(x->response_headers);
	free(x);
}

static void finish(struct httpclient_exchange *x, CURLcode rc)
{
	struct httpclient_reply reply = {
		.failure = x->is_too_large ? HTTPCLIENT_FAILED : classify(rc),
		.error = x->is_too_large ? "the response is larger than 16 MiB"
		       : x->error[0] ? x->error : curl_easy_strerror(rc),
		.body = x->response,
		.headers = x->response_headers,
	};
	if (reply.failure == HTTPCLIENT_OK) {
		reply.error = "";
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &reply.status);
		curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &reply.content_type);
	}
	x->done(x->ctx, &reply);
	exchange_free(x);
}

static void collect_finished(struct httpclient *hc)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(hc->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct httpclient_exchange *x;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		finish(x, msg->data.result);
	}
}

/* ---- curl's socket and timer callbacks ----------------------------------------- */

static void on_poll(uv_poll_t *poll, int status, int events)
{
	struct watch *w = poll->data;
	struct httpclient *hc = w->hc;
	int flags = status < 0 ? CURL_CSELECT_ERR
		  : ((events & UV_READABLE) ? CURL_CSELECT_IN : 0) |
		    ((events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0);
	int running;
	curl_multi_socket_action(hc->multi, w->fd, flags, &running);
	collect_finished(hc);
}

static void on_timer(uv_timer_t *timer)
{
	struct httpclient *hc = timer->data;
	int running;
	curl_multi_socket_action(hc->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	collect_finished(hc);
}

static void watch_closed(uv_handle_t *handle)
{
	free(handle->data);
}

static void unwatch(struct watch *w)
{
	map_remove(&w->hc->watches, (const char *)&w->fd, sizeof w->fd);
	uv_poll_stop(&w->poll);
	uv_close((uv_handle_t *)&w->poll, watch_closed);
}

/* curl closes a socket: our poll goes first. */
static int on_close_socket(void *userp, curl_socket_t fd)
{
	struct httpclient *hc = userp;
	struct watch *w = map_get(&hc->watches, (const char *)&fd, sizeof fd);
	if (w)
		unwatch(w);
	return close(fd);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct httpclient *hc = userp;
	struct watch *w = map_get(&hc->watches, (const char *)&fd, sizeof fd);
	if (what == CURL_POLL_REMOVE) {
		if (w)
			uv_poll_stop(&w->poll);   /* idle in curl's cache: keep the handle */
		return 0;
	}
	if (!w) {
		w = xcalloc(1, sizeof *w);
		w->fd = fd;
		w->hc = hc;
		w->poll.data = w;
		uv_poll_init_socket(hc->loop, &w->poll, fd);
		map_put(&hc->watches, (const char *)&w->fd, sizeof w->fd, w);
	}
	int events = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
	uv_poll_start(&w->poll, events, on_poll);
	return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct httpclient *hc = userp;
	if (timeout_ms < 0)
		uv_timer_stop(&hc->timer);
	else
		uv_timer_start(&hc->timer, on_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

/* ---- response bytes ------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
	struct httpclient_exchange *x = userp;
	if (x->response.len + n > MAX_RESPONSE_BYTES) {
		x->is_too_large = true;
		return 0;                  /* curl aborts the transfer */
	}
	buf_append(&x->response, data, n);
	return n;
}

void httpclient_canonical_name(const char *name, size_t len, char *out, size_t size)
{
	size_t i = 0;
	for (bool upper = true; i < len && i + 1 < size; i++) {
		out[i] = upper ? (char)toupper((unsigned char)name[i])
			       : (char)tolower((unsigned char)name[i]);
		upper = name[i] == '-';
	}
	out[i] = '\0';
}

/* One header line; a status line starts a new response (after a redirect
 * or a 100 Continue), whose headers replace the previous ones. */
static size_t on_header(char *line, size_t size, size_t n, void *userp)
{
	struct httpclient_exchange *x = userp;
	if (n >= 5 && !memcmp(line, "HTTP/", 5)) {
		json_object_clear(x->response_headers);
		return n;
	}
	const char *colon = memchr(line, ':', n);
	if (!colon)
		return n;                  /* the blank line, or junk */
	char name[256];
	httpclient_canonical_name(line, (size_t)(colon - line), name, sizeof name);
	const char *value = colon + 1, *end = line + n;
	while (value < end && (*value == ' ' || *value == '\t'))
		value++;
	while (end > value && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	json_t *text = json_stringn(value, (size_t)(end - value));
	if (!text)                         /* not UTF-8: keep it readable */
		text = json_string("");
	json_t *values = json_object_get(x->response_headers, name);
	if (!values)
		json_object_set_new(x->response_headers, name, values = json_array());
	json_array_append_new(values, text);
	return n;
}

/* ---- requests ---------------------------------------------------------------------- */

static bool has_header(const struct curl_slist *h, const char *name)
{
	size_t len = strlen(name);
	for (; h; h = h->next)
		if (!strncasecmp(h->data, name, len) && (h->data[len] == ':' || h->data[len] == ';'))
			return true;
	return false;
}

/* Send the caller's headers and no others: curl would add Accept, a form
 * Content-Type for bodies and Expect: 100-continue for large ones. */
static struct curl_slist *only_given_headers(struct curl_slist *h)
{
	static const char *const added[] = {"Accept", "Content-Type", "Expect"};
	for (size_t i = 0; i < sizeof added / sizeof added[0]; i++) {
		if (!has_header(h, added[i])) {
			char line[32];
			snprintf(line, sizeof line, "%s:", added[i]);
			h = curl_slist_append(h, line);
		}
	}
	return h;
}

static void set_method(CURL *e, const struct httpclient_request *req, struct httpclient_exchange *x)
{
	if (!strcmp(req->method, "HEAD"))
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(req->method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body && (req->body_len || strcmp(req->method, "GET"))) {
		x->body = xmalloc(req->body_len + 1);
		memcpy(x->body, req->body, req->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		if (!strcmp(req->method, "GET"))
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "GET");
	}
}

struct httpclient_exchange *httpclient_send(struct httpclient *hc,
					    const struct httpclient_request *req,
					    httpclient_done_fn done, void *ctx)
{
	struct httpclient_exchange *x = xcalloc(1, sizeof *x);
	CURL *e = hc->n_spare ? hc->spare[--hc->n_spare] : curl_easy_init();
	x->hc = hc;
	x->easy = e;
	x->done = done;
	x->ctx = ctx;
	x->headers = only_given_headers(req->headers);
	x->response_headers = json_object();

	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)MAX_REDIRECTS);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->error);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, hc);
	set_method(e, req, x);

	x->next = hc->exchanges;
	if (hc->exchanges)
		hc->exchanges->prev = x;
	hc->exchanges = x;
	curl_multi_add_handle(hc->multi, e);   /* curl schedules its timer */
	return x;
}

void httpclient_cancel(struct httpclient_exchange *x)
{
	exchange_free(x);
}

/* ---- the client ---------------------------------------------------------------------- */

struct httpclient *httpclient_new(uv_loop_t *loop)
{
	struct httpclient *hc = xcalloc(1, sizeof *hc);
	hc->loop = loop;
	hc->multi = curl_multi_init();
	uv_timer_init(loop, &hc->timer);
	hc->timer.data = hc;
	curl_multi_setopt(hc->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(hc->multi, CURLMOPT_SOCKETDATA, hc);
	curl_multi_setopt(hc->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(hc->multi, CURLMOPT_TIMERDATA, hc);
	curl_multi_setopt(hc->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)MAX_CONNECTIONS_PER_HOST);
	curl_multi_setopt(hc->multi, CURLMOPT_MAXCONNECTS, (long)MAX_KEPT_CONNECTIONS);
	return hc;
}

static void unwatch_each(const char *key, void *value, void *ctx)
{
	struct watch *w = value;       /* the map is cleared after the walk */
	uv_poll_stop(&w->poll);
	uv_close((uv_handle_t *)&w->poll, watch_closed);
}

static void client_closed(uv_handle_t *handle)
{
	free(handle->data);
}

void httpclient_free(struct httpclient *hc)
{
	if (!hc)
		return;
	while (hc->exchanges)
		exchange_free(hc->exchanges);
	while (hc->n_spare)
		curl_easy_cleanup(hc->spare[--hc->n_spare]);
	curl_multi_cleanup(hc->multi);     /* closes the kept connections */
	map_each(&hc->watches, unwatch_each, NULL);
	map_clear(&hc->watches);
	uv_timer_stop(&hc->timer);
	uv_close((uv_handle_t *)&hc->timer, client_closed);
}
