/*
 * wampload: WAMP load generator for the Switchboard benchmark (bench/run.sh).
 *
 * One process, one libuv loop, no threads. WebSocket connections are
 * libwebsockets clients running on that loop (lws's libuv event library with
 * our loop as a foreign loop, so the loop is epoll-based however many
 * sessions are open); keep-alive HTTP publishers are plain non-blocking
 * sockets watched by uv_poll. Messages are built by hand and parsed with a
 * small scanner on the hot paths (EVENT, RESULT, INVOCATION, PUBLISHED);
 * every other message, and any hot message the scanner does not recognise,
 * is parsed with jansson.
 *
 * Modes:
 *   fanout  N subscriber sessions (HELLO -> WELCOME -> SUBSCRIBE one topic),
 *           then events published at a fixed rate or at saturation, by
 *           POST /publish on keep-alive connections or by one WAMP publisher
 *           session (PUBLISH, acknowledge, exclude_me). Each event carries a
 *           counter and its CLOCK_MONOTONIC send time in args [n,t]; every
 *           session verifies every event (losses, duplicates, order) and
 *           records publish->deliver latency.
 *   idle    open N sessions (WELCOMEd, optionally subscribed) and hold them;
 *           prints READY when all are up, so the runner can read the
 *           gateway's RSS.
 *   rpc     one callee registers an echo procedure, one caller keeps K calls
 *           in flight for D seconds: calls/s, p50/p99.
 *   callee  only the echo callee: registers, prints READY and serves
 *           invocations (e.g. POST /call driven by wrk) until SIGTERM.
 *
 * Targets: switchboard (WebSocket /ws, subprotocol wamp.2.json; POST
 * /publish {"topic":T,"args":[n,t]}) and nchan (raw WebSocket subscriber
 * GET /wsub?channel=T, each message is the published body; POST
 * /pub?channel=T with body [n,t]). Loopback addresses only. Every phase is
 * bounded in time.
 *
 * Output: human-readable lines, then one "RESULT key=value ..." line that
 * bench/run.sh parses. Exit 0 = verified, 1 = verification failed (loss,
 * duplicate, call error, incomplete), 2 = usage or setup error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>
#include <uv.h>

#define MSG_MAX (64 * 1024)		/* largest WAMP message we build or keep */

#include "loadgen.h"

/* ---- options ---------------------------------------------------------------- */

enum mode { M_FANOUT, M_IDLE, M_RPC, M_CALLEE };
enum target { T_SWITCHBOARD, T_NCHAN };
enum pubkind { P_HTTP, P_WAMP };

static struct {
	enum mode mode;
	enum target target;
	enum pubkind pub;
	char host[64];
	int port;
	char topic[128];
	char realm[128];
	char procedure[128];
	char ws_path[256];	/* empty: from target */
	char pub_path[256];
	int nsubs;		/* fanout/idle: sessions */
	double rate;		/* fanout: events/s; 0 = saturation */
	double duration;	/* fanout/rpc: seconds of load */
	int window;		/* fanout saturation: events not yet delivered to all */
	int pubconns;		/* HTTP publisher keep-alive connections */
	int inflight;		/* rpc: calls in flight */
	int batch;		/* connects in flight at once */
	int subscribe;		/* idle: also SUBSCRIBE */
	double connect_timeout;	/* seconds to establish all sessions */
	double drain;		/* seconds to wait for stragglers */
	double hold;		/* idle/callee: seconds to hold after READY (0: until signal) */
	double timeout;		/* overall bound, seconds */
	int quiet;
} opt = {
	.mode = M_FANOUT, .target = T_SWITCHBOARD, .pub = P_HTTP, .host = "127.0.0.1",
	.port = 8080, .topic = "bench", .realm = "realm1", .procedure = "bench.echo",
	.nsubs = 1000, .rate = 10, .duration = 10, .window = 4, .pubconns = 4, .inflight = 100,
	.batch = 256, .connect_timeout = 60, .drain = 10, .hold = 0, .timeout = 0,
};

static const char *target_name(void)
{
	return opt.target == T_NCHAN ? "nchan" : "switchboard";
}

/* ---- global state ------------------------------------------------------------ */

static uv_loop_t *loop;
static struct lws_context *ctx;
static struct lws_vhost *vhost;
static uv_timer_t tick_timer;
static uv_check_t tick_check;
static uv_signal_t sig_int, sig_term;
static struct sockaddr_in srv;
static int64_t t_now, t_start, t_phase;
static int phase;
static int finished;
static int rc_final;

static unsigned char wbuf[LWS_PRE + MSG_MAX];	/* one outgoing message at a time */

/* ---- sessions (libwebsockets clients) ------------------------------------- */

enum role { R_SUB, R_PUB, R_CALLER, R_CALLEE };
enum sstate {
	SS_NONE,		/* not opened yet */
	SS_CONNECTING,		/* TCP + WebSocket handshake */
	SS_HELLO,		/* WebSocket open, HELLO to send / sent */
	SS_SETUP,		/* WELCOMEd, SUBSCRIBE/REGISTER sent */
	SS_READY,		/* subscribed / registered / welcomed (publisher, caller) */
	SS_CLOSED
};

struct sess {
	struct lws *wsi;
	enum role role;
	enum sstate st;
	int idx;
	int hello_pending;
	int was_ready;
	/* reassembly of fragmented messages */
	char *frag;
	size_t fraglen, fragcap;
	/* verification (subscribers) */
	struct bits seen;
	uint64_t got, dups, reorder, foreign;
	int64_t maxseen;
	int64_t subid;
	uint64_t session_id;
	int64_t next_req;	/* next request id we send */
};

static struct sess **subs;
static int nsubs_opened, nsubs_pending, nsubs_est, nsubs_failed, nsubs_closed;
static struct sess *pubsess, *caller, *callee;

static char first_error[256];
static int n_errors_logged;
static char abort_reason[128];		/* first ABORT/ERROR reason seen in setup */
static int n_aborts;
static uint64_t n_foreign_msgs, n_bad_msgs;

static void note_error(const char *fmt, ...)
{
	va_list ap;
	char b[256];

	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (!first_error[0])
		snprintf(first_error, sizeof(first_error), "%s", b);
	if (!opt.quiet && n_errors_logged < 5)
		fprintf(stderr, "wampload: %s\n", b);
	n_errors_logged++;
}

/* Sends one text message now (lws buffers whatever the socket does not take,
 * in order; no extensions are negotiated, so that is safe outside WRITEABLE
 * on an HTTP/1.1 WebSocket). Returns -1 when the connection is unusable. */
static int sess_send(struct sess *s, const char *msg, size_t len)
{
	if (!s->wsi || s->st == SS_CLOSED || s->st == SS_CONNECTING)
		return -1;
	if (len > MSG_MAX)
		die("message too large (%zu)", len);
	memcpy(wbuf + LWS_PRE, msg, len);
	if (lws_write(s->wsi, wbuf + LWS_PRE, len, LWS_WRITE_TEXT) < (int)len) {
		note_error("session %d: write failed", s->idx);
		return -1;
	}
	return 0;
}

static int sess_sendf(struct sess *s, const char *fmt, ...)
{
	char b[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(b))
		die("message too large");
	return sess_send(s, b, (size_t)n);
}

static const struct lws_protocols protocols[];
static void sess_failed(struct sess *s, const char *why);

static int sess_open(struct sess *s)
{
	struct lws_client_connect_info i;
	char hostport[96];
	static char path[300];

	memset(&i, 0, sizeof(i));
	snprintf(hostport, sizeof(hostport), "%s:%d", opt.host, opt.port);
	snprintf(path, sizeof(path), "%s", opt.ws_path);
	i.context = ctx;
	i.vhost = vhost;
	i.address = opt.host;
	i.port = opt.port;
	i.path = path;
	i.host = hostport;
	i.origin = hostport;
	i.protocol = opt.target == T_NCHAN ? NULL : "wamp.2.json";
	i.local_protocol_name = protocols[0].name;
	i.ietf_version_or_minus_one = -1;
	i.userdata = s;
	i.pwsi = &s->wsi;
	s->st = SS_CONNECTING;
	s->maxseen = 0;
	s->next_req = 1;
	if (!lws_client_connect_via_info(&i)) {
		/* lws may already have reported CONNECTION_ERROR, which counted
		 * the failure; sess_failed() counts it only once */
		s->wsi = NULL;
		note_error("session %d: lws_client_connect_via_info failed", s->idx);
		sess_failed(s, "connect");
		return -1;
	}
	return 0;
}

/* ---- fan-out per-event state (indexed by counter, 1-based) ----------------- */

static int64_t *ev_sent;		/* send time, 0 = not sent */
static int8_t *ev_acked;		/* 1 = acknowledged, -1 = failed */
static uint32_t *ev_count;		/* sessions that got it */
static int64_t *ev_first, *ev_last;	/* first and last delivery time */
static size_t ev_cap;
static int64_t next_counter = 1;
static int64_t n_acked, n_pubfail;
static int64_t low_incomplete = 1;
static int64_t late_sends;
static struct hist lat;
static uint64_t deliveries;
static int64_t t_first_send, t_last_send, t_last_delivery;
static char pub_err[200];

static void ev_grow(int64_t n)
{
	size_t cap;

	if ((size_t)n < ev_cap)
		return;
	cap = ev_cap ? ev_cap : 1024;
	while (cap <= (size_t)n)
		cap *= 2;
	ev_sent = xrealloc(ev_sent, cap * sizeof(*ev_sent));
	ev_acked = xrealloc(ev_acked, cap * sizeof(*ev_acked));
	ev_count = xrealloc(ev_count, cap * sizeof(*ev_count));
	ev_first = xrealloc(ev_first, cap * sizeof(*ev_first));
	ev_last = xrealloc(ev_last, cap * sizeof(*ev_last));
	memset(ev_sent + ev_cap, 0, (cap - ev_cap) * sizeof(*ev_sent));
	memset(ev_acked + ev_cap, 0, (cap - ev_cap) * sizeof(*ev_acked));
	memset(ev_count + ev_cap, 0, (cap - ev_cap) * sizeof(*ev_count));
	memset(ev_first + ev_cap, 0, (cap - ev_cap) * sizeof(*ev_first));
	memset(ev_last + ev_cap, 0, (cap - ev_cap) * sizeof(*ev_last));
	ev_cap = cap;
}

static void ev_ack(int64_t n, int ok)
{
	if (n < 1 || n >= next_counter || ev_acked[n])
		return;
	ev_acked[n] = ok ? 1 : -1;
	if (ok)
		n_acked++;
	else
		n_pubfail++;
}

/* A subscriber got event n sent at t. */
static void on_event(struct sess *s, int64_t n, int64_t t)
{
	if (n < 1 || n >= next_counter) {
		s->foreign++;
		return;
	}
	if (bits_set(&s->seen, (uint64_t)n)) {
		s->dups++;
		return;
	}
	if (n < s->maxseen)
		s->reorder++;
	else
		s->maxseen = n;
	s->got++;
	ev_count[n]++;
	if (!ev_first[n])
		ev_first[n] = t_now;
	ev_last[n] = t_now;
	deliveries++;
	t_last_delivery = t_now;
	hist_add(&lat, (t_now - t) / 1000);
}

/* ---- rpc state ---------------------------------------------------------------- */

#define CALL_SLOTS 65536
static struct { int64_t req, t; } calls[CALL_SLOTS];
static int64_t calls_inflight, calls_sent, calls_done, calls_err, calls_bad;
static int64_t t_first_call, t_last_result;
static int64_t invocations, invocation_errs;
static char call_err[160];

/* ---- message scanner ----------------------------------------------------------- */

static const char *skip_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *skip_string(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		if (*p == '\\') {
			p++;
			continue;
		}
		if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Skips one JSON value; returns the first byte after it, NULL if malformed. */
static const char *skip_value(const char *p, const char *e)
{
	p = skip_ws(p, e);
	if (p >= e)
		return NULL;
	if (*p == '"')
		return skip_string(p, e);
	if (*p == '{' || *p == '[') {
		int d = 0;

		while (p < e) {
			if (*p == '"') {
				p = skip_string(p, e);
				if (!p)
					return NULL;
				continue;
			}
			if (*p == '{' || *p == '[')
				d++;
			else if ((*p == '}' || *p == ']') && --d == 0)
				return p + 1;
			p++;
		}
		return NULL;
	}
	while (p < e && *p != ',' && *p != ']' && *p != '}' && *p != ' ')
		p++;
	return p;
}

/* Reads an integer at *pp (after blanks); then consumes blanks and one ','
 * if present. Returns 0 on success. */
static int scan_int(const char **pp, const char *e, int64_t *v)
{
	const char *p = skip_ws(*pp, e);
	int64_t x = 0;
	int neg = 0, digits = 0;

	if (p < e && *p == '-')
		neg = 1, p++;
	while (p < e && *p >= '0' && *p <= '9') {
		x = x * 10 + (*p - '0');
		p++;
		digits++;
	}
	if (!digits || digits > 18)
		return -1;
	p = skip_ws(p, e);
	if (p < e && *p == ',')
		p = skip_ws(p + 1, e);
	*v = neg ? -x : x;
	*pp = p;
	return 0;
}

/* Expects '[' and the message type. */
static int scan_head(const char **pp, const char *e, int64_t *type)
{
	const char *p = skip_ws(*pp, e);

	if (p >= e || *p != '[')
		return -1;
	p++;
	*pp = p;
	return scan_int(pp, e, type);
}

/* Skips a dict (Details/Options) then one ','; sets *after to what follows. */
static int scan_skip_dict(const char **pp, const char *e)
{
	const char *p = skip_ws(*pp, e);

	if (p >= e || *p != '{')
		return -1;
	p = skip_value(p, e);
	if (!p)
		return -1;
	*pp = skip_ws(p, e);
	return 0;
}

/* "[n,t" at *p (the args list); returns 0 with n and t. */
static int scan_nt(const char *p, const char *e, int64_t *n, int64_t *t)
{
	p = skip_ws(p, e);
	if (p >= e || *p != '[')
		return -1;
	p++;
	if (scan_int(&p, e, n) < 0)
		return -1;
	return scan_int(&p, e, t);
}

/* ---- WAMP message handling ----------------------------------------------------- */

static void sess_ready(struct sess *s);

/* jansson path: control messages and anything the scanner did not take. */
static void handle_json(struct sess *s, const char *msg, size_t len)
{
	json_error_t jerr;
	json_t *m = json_loadb(msg, len, 0, &jerr);
	int64_t type;

	if (!m || !json_is_array(m) || !json_is_integer(json_array_get(m, 0))) {
		n_bad_msgs++;
		note_error("session %d: undecodable message: %.80s", s->idx, msg);
		json_decref(m);
		return;
	}
	type = json_integer_value(json_array_get(m, 0));
	switch (type) {
	case 2:		/* WELCOME */
		if (s->st != SS_HELLO)
			break;
		s->session_id = (uint64_t)json_integer_value(json_array_get(m, 1));
		if (s->role == R_SUB && (opt.mode == M_FANOUT || opt.subscribe)) {
			s->st = SS_SETUP;
			sess_sendf(s, "[32,%" PRId64 ",{},\"%s\"]", s->next_req++, opt.topic);
		} else if (s->role == R_CALLEE) {
			s->st = SS_SETUP;
			sess_sendf(s, "[64,%" PRId64 ",{},\"%s\"]", s->next_req++, opt.procedure);
		} else {
			sess_ready(s);
		}
		break;
	case 3:		/* ABORT */
	case 6: {	/* GOODBYE */
		const char *r = json_string_value(json_array_get(m, 2));
		json_t *d = json_array_get(m, 1);
		const char *why = json_string_value(json_object_get(d, "message"));

		n_aborts++;
		if (!abort_reason[0])
			snprintf(abort_reason, sizeof(abort_reason), "%s", r ? r : "?");
		note_error("session %d: %s %s%s%s", s->idx, type == 3 ? "ABORT" : "GOODBYE",
			   r ? r : "?", why ? ": " : "", why ? why : "");
		sess_failed(s, type == 3 ? "ABORT" : "GOODBYE");
		break;
	}
	case 8: {	/* ERROR [8, type, req, details, uri, ...] */
		int64_t rtype = json_integer_value(json_array_get(m, 1));
		int64_t req = json_integer_value(json_array_get(m, 2));
		const char *uri = json_string_value(json_array_get(m, 4));

		if (rtype == 16 && s->role == R_PUB) {
			ev_ack(req, 0);
			snprintf(pub_err, sizeof(pub_err), "%s", uri ? uri : "?");
		} else if (rtype == 48 && s->role == R_CALLER) {
			int slot = (int)(req % CALL_SLOTS);

			if (calls[slot].req == req) {
				calls[slot].req = 0;
				calls_inflight--;
				calls_err++;
				snprintf(call_err, sizeof(call_err), "%s", uri ? uri : "?");
			}
		} else {
			if (!abort_reason[0])
				snprintf(abort_reason, sizeof(abort_reason), "%s", uri ? uri : "?");
			note_error("session %d: ERROR for type %" PRId64 ": %s", s->idx, rtype,
				   uri ? uri : "?");
			if (s->st == SS_SETUP)
				sess_failed(s, "ERROR");
		}
		break;
	}
	case 33:	/* SUBSCRIBED */
		if (s->st == SS_SETUP) {
			s->subid = json_integer_value(json_array_get(m, 2));
			sess_ready(s);
		}
		break;
	case 65:	/* REGISTERED */
		if (s->st == SS_SETUP)
			sess_ready(s);
		break;
	case 17:	/* PUBLISHED */
		if (s->role == R_PUB)
			ev_ack(json_integer_value(json_array_get(m, 1)), 1);
		break;
	case 36: {	/* EVENT the scanner did not take, e.g. kwargs only */
		json_t *a = json_array_get(m, 4);

		if (s->role == R_SUB && json_is_array(a) && json_array_size(a) >= 2)
			on_event(s, json_integer_value(json_array_get(a, 0)),
				 json_integer_value(json_array_get(a, 1)));
		else
			s->foreign++, n_foreign_msgs++;
		break;
	}
	default:
		n_foreign_msgs++;
		if (n_foreign_msgs <= 3)
			note_error("session %d: unexpected message: %.80s", s->idx, msg);
		break;
	}
	json_decref(m);
}

static void on_invocation(struct sess *s, int64_t req, const char *rest, const char *e)
{
	/* YIELD [70, req, {}, <the invocation's args and kwargs echoed>] */
	static char b[MSG_MAX];
	int n = snprintf(b, sizeof(b), "[70,%" PRId64 ",{}", req);
	size_t rl = (size_t)(e - rest);

	if ((size_t)n + rl > sizeof(b)) {
		invocation_errs++;
		return;
	}
	memcpy(b + n, rest, rl);	/* "," args [, kwargs] "]" or just "]" */
	invocations++;
	sess_send(s, b, (size_t)n + rl);
}

static void caller_send(void);

static void on_result(int64_t req, const char *args, const char *e)
{
	int slot = (int)(req % CALL_SLOTS);
	int64_t t = -1;
	const char *p = skip_ws(args, e);

	if (calls[slot].req != req) {
		calls_bad++;
		return;
	}
	calls[slot].req = 0;
	calls_inflight--;
	/* the echo must be the call's own args: [t] */
	if (p < e && *p == '[') {
		p++;
		if (scan_int(&p, e, &t) < 0)
			t = -1;
	}
	if (t != calls[slot].t)
		calls_bad++;
	calls_done++;
	t_last_result = t_now;
	hist_add(&lat, (t_now - calls[slot].t) / 1000);
	caller_send();
}

/* One complete message. Hot messages go through the scanner. */
static void handle_msg(struct sess *s, const char *msg, size_t len)
{
	const char *p = msg, *e = msg + len;
	int64_t type, a, b;

	if (opt.target == T_NCHAN) {
		int64_t n, t;

		if (scan_nt(msg, e, &n, &t) == 0)
			on_event(s, n, t);
		else
			s->foreign++, n_foreign_msgs++;
		return;
	}
	if (scan_head(&p, e, &type) < 0)
		goto slow;
	switch (type) {
	case 36:	/* EVENT [36, sub, pub, details, args] */
		if (s->role != R_SUB || scan_int(&p, e, &a) < 0 || scan_int(&p, e, &b) < 0 ||
		    scan_skip_dict(&p, e) < 0 || p >= e || *p != ',')
			goto slow;
		{
			int64_t n, t;

			if (scan_nt(p + 1, e, &n, &t) < 0)
				goto slow;
			on_event(s, n, t);
		}
		return;
	case 17:	/* PUBLISHED [17, req, pub] */
		if (s->role != R_PUB || scan_int(&p, e, &a) < 0)
			goto slow;
		ev_ack(a, 1);
		return;
	case 50:	/* RESULT [50, req, details, args] */
		if (s->role != R_CALLER || scan_int(&p, e, &a) < 0 || scan_skip_dict(&p, e) < 0)
			goto slow;
		on_result(a, p < e && *p == ',' ? p + 1 : p, e);
		return;
	case 68:	/* INVOCATION [68, req, reg, details, args...] */
		if (s->role != R_CALLEE || scan_int(&p, e, &a) < 0 || scan_int(&p, e, &b) < 0 ||
		    scan_skip_dict(&p, e) < 0)
			goto slow;
		/* trim trailing blanks so the echo ends at the closing ']' */
		while (e > p && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\t'))
			e--;
		on_invocation(s, a, p, e);
		return;
	default:
		break;
	}
slow:
	handle_json(s, msg, len);
}

/* ---- session lifecycle ------------------------------------------------------------ */

static void sess_ready(struct sess *s)
{
	if (s->st == SS_READY)
		return;
	s->st = SS_READY;
	s->was_ready = 1;
	if (s->role == R_SUB) {
		nsubs_pending--;
		nsubs_est++;
	}
}

static void sess_failed(struct sess *s, const char *why)
{
	(void)why;
	if (s->st == SS_CLOSED)
		return;
	if (s->role == R_SUB) {
		if (s->st == SS_READY)
			nsubs_closed++;
		else if (s->st != SS_NONE)
			nsubs_pending--, nsubs_failed++;
	}
	s->st = SS_CLOSED;
	if (s->wsi)
		lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_ACK, LWS_TO_KILL_ASYNC);
}

static int callback_wamp(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			 void *in, size_t len)
{
	struct sess *s = user;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (!s)
			break;
		note_error("session %d: connection error: %s", s->idx,
			   in ? (const char *)in : "(none)");
		s->wsi = NULL;
		sess_failed(s, "connect");
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (!s)
			break;
		t_now = now_ns();
		if (opt.target == T_NCHAN) {
			sess_ready(s);
		} else {
			s->st = SS_HELLO;
			s->hello_pending = 1;
			lws_callback_on_writable(wsi);
		}
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (s && s->hello_pending) {
			s->hello_pending = 0;
			sess_sendf(s, "[1,\"%s\",{\"agent\":\"wampload\",\"roles\":{\"publisher\":{},"
				   "\"subscriber\":{},\"caller\":{},\"callee\":{}}}]", opt.realm);
		}
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE: {
		int final;

		if (!s || s->st == SS_CLOSED)
			break;
		t_now = now_ns();
		final = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
		if (final && !s->fraglen) {
			handle_msg(s, in, len);
			break;
		}
		if (s->fraglen + len > MSG_MAX) {
			note_error("session %d: message over %d bytes", s->idx, MSG_MAX);
			s->fraglen = 0;
			break;
		}
		if (s->fraglen + len > s->fragcap) {
			s->fragcap = s->fraglen + len + 1024;
			s->frag = xrealloc(s->frag, s->fragcap);
		}
		memcpy(s->frag + s->fraglen, in, len);
		s->fraglen += len;
		if (final) {
			handle_msg(s, s->frag, s->fraglen);
			s->fraglen = 0;
		}
		break;
	}
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (s && len >= 2) {
			const unsigned char *c = in;

			note_error("session %d: closed by server, code %u", s->idx,
				   (unsigned)(c[0] << 8 | c[1]));
		}
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (!s)
			break;
		s->wsi = NULL;
		sess_failed(s, "closed");
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	/* One protocol for both targets: "wamp.2.json" is what we offer to
	 * Switchboard; nchan gets no subprotocol and the connection stays bound
	 * to this entry (protocols[0]). */
	{"wamp.2.json", callback_wamp, 0, 0, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* lws logs: errors and warnings, at most 20 lines. */
static void lws_logger(int level, const char *line)
{
	static int n;

	(void)level;
	if (n++ < 20)
		fprintf(stderr, "wampload: libwebsockets: %s", line);
}

/* ---- HTTP publishers (keep-alive, one POST in flight each) -------------------- */

struct hpub {
	int fd;
	int connected;
	uv_poll_t poll;
	int idx;
	char out[1024];
	size_t outlen, outoff;
	char in[8192];
	size_t inlen;
	int64_t inflight;	/* counter in flight; 0 = idle */
	int closing;
};

static struct hpub **hpubs;
static int nhpubs;
static int64_t hpub_closes, hpub_closes_inflight;
static char hpub_close_why[160];
static int64_t pub_last_status;

static void hpub_poll_cb(uv_poll_t *h, int status, int events);

static void hpub_free_cb(uv_handle_t *h)
{
	free(h->data);
}

static void hpub_close(struct hpub *c, const char *why, int err)
{
	struct hpub *n;

	if (c->closing)
		return;
	hpub_closes++;
	if (c->inflight) {
		hpub_closes_inflight++;
		snprintf(hpub_close_why, sizeof(hpub_close_why), "%s%s%s with event %" PRId64
			 " in flight", why, err ? ": " : "", err ? strerror(err) : "", c->inflight);
		ev_ack(c->inflight, 0);
	} else if (!hpub_close_why[0]) {
		snprintf(hpub_close_why, sizeof(hpub_close_why), "%s%s%s while idle", why,
			 err ? ": " : "", err ? strerror(err) : "");
	}
	c->closing = 1;
	uv_poll_stop(&c->poll);
	close(c->fd);
	c->poll.data = c;
	uv_close((uv_handle_t *)&c->poll, hpub_free_cb);
	/* a fresh one takes its place, connected lazily */
	n = xcalloc(1, sizeof(*n));
	n->idx = c->idx;
	n->fd = -1;
	hpubs[c->idx] = n;
}

static int hpub_connect(struct hpub *c)
{
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&srv, sizeof(srv)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	c->fd = fd;
	c->connected = 0;
	uv_poll_init(loop, &c->poll, fd);
	c->poll.data = c;
	uv_poll_start(&c->poll, UV_WRITABLE, hpub_poll_cb);
	return 0;
}

static void hpub_flush(struct hpub *c)
{
	while (c->outoff < c->outlen) {
		ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				uv_poll_start(&c->poll, UV_READABLE | UV_WRITABLE, hpub_poll_cb);
				return;
			}
			hpub_close(c, "send", errno);
			return;
		}
		c->outoff += (size_t)w;
	}
	uv_poll_start(&c->poll, UV_READABLE, hpub_poll_cb);
}

/* Parses a complete response in c->in; returns bytes used, 0 if incomplete,
 * -1 if malformed. Sets *status and *close. */
static long http_response_len(const char *b, size_t n, int *status, int *is_close)
{
	const char *end = memmem(b, n, "\r\n\r\n", 4), *p;
	size_t hl;
	long cl = -1;
	int chunked = 0;

	if (!end)
		return n > 6000 ? -1 : 0;
	hl = (size_t)(end - b) + 4;
	if (n < 12 || strncmp(b, "HTTP/1.", 7))
		return -1;
	*status = atoi(b + 9);
	*is_close = 0;
	for (p = memchr(b, '\n', hl); p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
		p++;
		if (!strncasecmp(p, "content-length:", 15))
			cl = strtol(p + 15, NULL, 10);
		else if (!strncasecmp(p, "transfer-encoding:", 18) && !strncasecmp(skip_ws(p + 18, end),
										 "chunked", 7))
			chunked = 1;
		else if (!strncasecmp(p, "connection:", 11) && !strncasecmp(skip_ws(p + 11, end),
									       "close", 5))
			*is_close = 1;
	}
	if (chunked) {
		size_t pos = hl;

		for (;;) {
			const char *nl = memchr(b + pos, '\n', n - pos);
			long sz;

			if (!nl)
				return 0;
			sz = strtol(b + pos, NULL, 16);
			if (sz < 0)
				return -1;
			pos = (size_t)(nl - b) + 1;
			if (sz == 0) {
				/* trailers end with an empty line */
				for (;;) {
					nl = memchr(b + pos, '\n', n - pos);
					if (!nl)
						return 0;
					if (nl == b + pos || (nl == b + pos + 1 && b[pos] == '\r'))
						return (long)((size_t)(nl - b) + 1);
					pos = (size_t)(nl - b) + 1;
				}
			}
			if (pos + (size_t)sz + 2 > n)
				return 0;
			pos += (size_t)sz + 2;
		}
	}
	if (cl < 0)
		cl = (*status == 204 || *status == 304) ? 0 : -1;
	if (cl < 0)
		return -1;	/* close-delimited bodies are not expected here */
	if (n < hl + (size_t)cl)
		return 0;
	return (long)(hl + (size_t)cl);
}

static void hpub_read(struct hpub *c)
{
	for (;;) {
		ssize_t r = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
		long used;
		int status = 0, is_close = 0;

		if (r == 0) {
			hpub_close(c, "closed by server", 0);
			return;
		}
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			hpub_close(c, "recv", errno);
			return;
		}
		t_now = now_ns();
		c->inlen += (size_t)r;
		used = http_response_len(c->in, c->inlen, &status, &is_close);
		if (used < 0) {
			hpub_close(c, "bad HTTP response", 0);
			return;
		}
		if (used == 0) {
			if (c->inlen == sizeof(c->in)) {
				hpub_close(c, "response too large", 0);
				return;
			}
			continue;
		}
		pub_last_status = status;
		if (c->inflight) {
			if (status / 100 != 2) {
				const char *body = memmem(c->in, (size_t)used, "\r\n\r\n", 4);

				snprintf(pub_err, sizeof(pub_err), "HTTP %d %.*s", status,
					 body ? (int)((c->in + used) - (body + 4)) : 0,
					 body ? body + 4 : "");
			}
			ev_ack(c->inflight, status / 100 == 2);
			c->inflight = 0;
		}
		memmove(c->in, c->in + used, c->inlen - (size_t)used);
		c->inlen -= (size_t)used;
		if (is_close) {
			hpub_close(c, "Connection: close", 0);
			return;
		}
	}
}

static void hpub_poll_cb(uv_poll_t *h, int status, int events)
{
	struct hpub *c = h->data;

	if (c->closing)
		return;
	if (!c->connected) {
		int err = 0;
		socklen_t el = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (status < 0 || err) {
			hpub_close(c, "connect", err);
			return;
		}
		c->connected = 1;
	}
	if ((events & UV_WRITABLE) || c->outoff < c->outlen)
		hpub_flush(c);
	if (!c->closing && (events & UV_READABLE))
		hpub_read(c);
}

static void hpubs_open(void)
{
	int i;

	hpubs = xcalloc((size_t)opt.pubconns, sizeof(*hpubs));
	for (i = 0; i < opt.pubconns; i++) {
		hpubs[i] = xcalloc(1, sizeof(struct hpub));
		hpubs[i]->idx = i;
		hpubs[i]->fd = -1;
		if (hpub_connect(hpubs[i]) < 0)
			die("cannot connect publisher to %s:%d", opt.host, opt.port);
	}
	nhpubs = opt.pubconns;
}

static struct hpub *hpub_idle(void)
{
	int i;

	for (i = 0; i < nhpubs; i++) {
		struct hpub *c = hpubs[i];

		if (c->fd < 0 && hpub_connect(c) < 0)
			continue;
		if (!c->inflight)
			return c;
	}
	return NULL;
}

static void hpub_send(struct hpub *c, int64_t n, int64_t t)
{
	char body[400];
	int blen;

	if (opt.target == T_SWITCHBOARD)
		blen = snprintf(body, sizeof(body), "{\"topic\":\"%s\",\"args\":[%" PRId64 ",%" PRId64
				"]}", opt.topic, n, t);
	else
		blen = snprintf(body, sizeof(body), "[%" PRId64 ",%" PRId64 "]", n, t);
	c->outlen = (size_t)snprintf(c->out, sizeof(c->out),
				     "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
				     "Content-Length: %d\r\n\r\n%s", opt.pub_path, opt.host, opt.port,
				     blen, body);
	c->outoff = 0;
	c->inflight = n;
	if (c->connected)
		hpub_flush(c);
}

/* ---- publishing (either kind) --------------------------------------------------- */

static int pub_busy(void)
{
	int i, busy = 0;

	if (opt.pub == P_WAMP)
		return 0;
	for (i = 0; i < nhpubs; i++)
		busy += hpubs[i]->inflight != 0;
	return busy;
}

/* Publishes the next event if a publisher is free; returns 0 if it did. */
static int publish_next(void)
{
	int64_t n = next_counter, t;

	if (opt.pub == P_WAMP) {
		if (!pubsess || pubsess->st != SS_READY)
			return -1;
	}
	{
		struct hpub *c = NULL;

		if (opt.pub == P_HTTP && !(c = hpub_idle()))
			return -1;
		ev_grow(n);
		next_counter++;
		t = now_ns();
		ev_sent[n] = t;
		if (!t_first_send)
			t_first_send = t;
		t_last_send = t;
		if (c) {
			hpub_send(c, n, t);
		} else if (sess_sendf(pubsess, "[16,%" PRId64 ",{\"acknowledge\":true,\"exclude_me\":true},"
				      "\"%s\",[%" PRId64 ",%" PRId64 "]]", n, opt.topic, n, t) < 0) {
			ev_ack(n, 0);
		}
	}
	return 0;
}

/* ---- rpc -------------------------------------------------------------------------- */

static void caller_send(void)
{
	while (phase == 2 /* PH_RUN */ && calls_inflight < opt.inflight && caller &&
	       caller->st == SS_READY) {
		int64_t req = caller->next_req++;
		int slot = (int)(req % CALL_SLOTS);
		int64_t t = now_ns();

		if (calls[slot].req) {	/* a call 65536 requests old is still open */
			calls_bad++;
			calls[slot].req = 0;
			calls_inflight--;
		}
		calls[slot].req = req;
		calls[slot].t = t;
		calls_inflight++;
		calls_sent++;
		if (!t_first_call)
			t_first_call = t;
		if (sess_sendf(caller, "[48,%" PRId64 ",{},\"%s\",[%" PRId64 "]]", req, opt.procedure,
			       t) < 0)
			break;
	}
}

/* ---- phases ---------------------------------------------------------------------- */

enum { PH_CONNECT, PH_SETTLE, PH_RUN, PH_DRAIN, PH_HOLD, PH_END };

static void set_phase(int p)
{
	phase = p;
	t_phase = t_now;
}

static void subs_alloc(int n)
{
	int i;

	subs = xcalloc((size_t)n, sizeof(*subs));
	for (i = 0; i < n; i++) {
		subs[i] = xcalloc(1, sizeof(struct sess));
		subs[i]->role = R_SUB;
		subs[i]->idx = i;
	}
}

static void subs_pump(int total)
{
	while (nsubs_opened < total && nsubs_pending < opt.batch) {
		struct sess *s = subs[nsubs_opened++];

		nsubs_pending++;
		sess_open(s);	/* a failure is counted by sess_failed() */
	}
}

static int subs_alive(void)
{
	return nsubs_est - nsubs_closed;
}

static struct sess *special_sess(enum role r, int idx)
{
	struct sess *s = xcalloc(1, sizeof(*s));

	s->role = r;
	s->idx = idx;
	if (sess_open(s) < 0)
		die("cannot open a WebSocket to %s:%d", opt.host, opt.port);
	return s;
}

static void window_advance(void)
{
	int alive = subs_alive();

	while (low_incomplete < next_counter) {
		int64_t k = low_incomplete;

		if (ev_acked[k] < 0 || (int)ev_count[k] >= alive ||
		    (ev_acked[k] > 0 && t_now - ev_sent[k] > 2000000000LL))
			low_incomplete++;
		else
			break;
	}
}

/* Fan-out and idle; returns the timeout in ms until the next tick. */
static int tick_fanout(void)
{
	switch (phase) {
	case PH_CONNECT:
		subs_pump(opt.nsubs);
		if (nsubs_est + nsubs_failed >= opt.nsubs && nsubs_pending == 0) {
			if (!opt.quiet)
				fprintf(stderr, "wampload: %d sessions established in %.2f s (%d failed)\n",
					nsubs_est, secs(t_now - t_start), nsubs_failed);
			if (opt.mode == M_IDLE) {
				printf("READY established=%d failed=%d\n", nsubs_est, nsubs_failed);
				fflush(stdout);
				set_phase(PH_HOLD);
				return 100;
			}
			if (nsubs_est == 0) {
				set_phase(PH_END);
				return 0;
			}
			if (opt.pub == P_HTTP)
				hpubs_open();
			else
				pubsess = special_sess(R_PUB, -1);
			set_phase(PH_SETTLE);
			return 300;
		}
		if (t_now - t_phase > (int64_t)(opt.connect_timeout * 1e9)) {
			fprintf(stderr, "wampload: connect timeout: %d of %d established, %d pending\n",
				nsubs_est, opt.nsubs, nsubs_pending);
			if (opt.mode == M_IDLE) {
				printf("READY established=%d failed=%d\n", nsubs_est,
				       opt.nsubs - nsubs_est);
				fflush(stdout);
				set_phase(PH_HOLD);
				return 100;
			}
			set_phase(PH_END);
			return 0;
		}
		return 20;
	case PH_SETTLE:
		if (opt.pub == P_WAMP && pubsess->st != SS_READY) {
			if (pubsess->st == SS_CLOSED) {
				fprintf(stderr, "wampload: publisher session failed: %s\n",
					first_error);
				set_phase(PH_END);
				return 0;
			}
			if (t_now - t_phase > 10000000000LL) {
				fprintf(stderr, "wampload: publisher session not welcomed in 10 s\n");
				set_phase(PH_END);
				return 0;
			}
			return 10;
		}
		if (t_now - t_phase < 300000000LL)
			return 10;
		set_phase(PH_RUN);
		/* fall through */
	case PH_RUN: {
		int64_t elapsed = t_now - t_phase;

		if (elapsed >= (int64_t)(opt.duration * 1e9)) {
			set_phase(PH_DRAIN);
			return 0;
		}
		if (opt.rate > 0) {
			int64_t period = (int64_t)(1e9 / opt.rate);
			int64_t due = elapsed / period + 1;

			while (next_counter <= due) {
				if (next_counter < due)
					late_sends++;
				if (publish_next() < 0)
					break;
			}
			{
				int64_t wait = (next_counter - 1) * period - elapsed;

				return wait <= 0 ? 1 : (int)(wait / 1000000) + 1;
			}
		}
		window_advance();
		while (next_counter - low_incomplete < opt.window)
			if (publish_next() < 0)
				break;
		return 5;
	}
	case PH_DRAIN: {
		int64_t k;
		int alive = subs_alive(), complete = 1;

		if (!pub_busy()) {
			for (k = low_incomplete; k < next_counter; k++) {
				if (!ev_acked[k] && opt.pub == P_WAMP) {
					complete = 0;	/* PUBLISHED still to come */
					break;
				}
				if (ev_acked[k] > 0 && (int)ev_count[k] < alive) {
					complete = 0;
					break;
				}
			}
			low_incomplete = k;
		} else {
			complete = 0;
		}
		if (complete || t_now - t_phase > (int64_t)(opt.drain * 1e9))
			set_phase(PH_END);
		return 5;
	}
	case PH_HOLD:
		if (opt.hold > 0 && t_now - t_phase > (int64_t)(opt.hold * 1e9))
			set_phase(PH_END);
		return 200;
	}
	return 100;
}

static int tick_rpc(void)
{
	switch (phase) {
	case PH_CONNECT:
		if (callee->st == SS_CLOSED || (caller && caller->st == SS_CLOSED)) {
			fprintf(stderr, "wampload: session failed during setup: %s\n", first_error);
			rc_final = 2;
			set_phase(PH_END);
			return 0;
		}
		if (t_now - t_phase > (int64_t)(opt.connect_timeout * 1e9)) {
			fprintf(stderr, "wampload: setup timeout\n");
			rc_final = 2;
			set_phase(PH_END);
			return 0;
		}
		if (callee->st != SS_READY)
			return 10;
		if (opt.mode == M_CALLEE) {
			printf("READY procedure=%s\n", opt.procedure);
			fflush(stdout);
			if (!opt.quiet)
				fprintf(stderr, "wampload: callee registered %s\n", opt.procedure);
			set_phase(PH_HOLD);
			return 100;
		}
		if (!caller) {
			caller = special_sess(R_CALLER, -2);
			return 10;
		}
		if (caller->st != SS_READY)
			return 10;
		set_phase(PH_RUN);
		caller_send();
		return 10;
	case PH_RUN:
		if (t_now - t_phase >= (int64_t)(opt.duration * 1e9)) {
			set_phase(PH_DRAIN);
			return 0;
		}
		if (caller->st != SS_READY || callee->st != SS_READY) {
			note_error("a session closed during the run");
			set_phase(PH_DRAIN);
			return 0;
		}
		caller_send();	/* refill after errors */
		return 50;
	case PH_DRAIN:
		if (calls_inflight <= 0 || t_now - t_phase > (int64_t)(opt.drain * 1e9))
			set_phase(PH_END);
		return 5;
	case PH_HOLD:
		if (callee->st == SS_CLOSED) {
			fprintf(stderr, "wampload: callee session closed\n");
			rc_final = 1;
			set_phase(PH_END);
			return 0;
		}
		if (opt.hold > 0 && t_now - t_phase > (int64_t)(opt.hold * 1e9))
			set_phase(PH_END);
		return 200;
	}
	return 100;
}

static void on_tick_timer(uv_timer_t *t);

static void tick(void)
{
	int ms = 100;

	if (finished)
		return;
	t_now = now_ns();
	if (t_now - t_start > (int64_t)(opt.timeout * 1e9)) {
		fprintf(stderr, "wampload: overall timeout (%.0f s)\n", opt.timeout);
		set_phase(PH_END);
	}
	if (phase != PH_END)
		ms = (opt.mode == M_RPC || opt.mode == M_CALLEE) ? tick_rpc() : tick_fanout();
	if (phase == PH_END) {
		finished = 1;
		uv_stop(loop);
		return;
	}
	uv_timer_start(&tick_timer, on_tick_timer, (uint64_t)(ms < 0 ? 0 : ms), 0);
}

static void on_tick_timer(uv_timer_t *t)
{
	(void)t;
	tick();
}

static void on_check(uv_check_t *c)
{
	(void)c;
	tick();
}

static void on_signal(uv_signal_t *h, int signum)
{
	(void)h;
	if (!opt.quiet)
		fprintf(stderr, "wampload: stopped by signal %d\n", signum);
	set_phase(PH_END);
	finished = 1;
	uv_stop(loop);
}

/* ---- reports ---------------------------------------------------------------------- */

static int report_fanout(void)
{
	uint64_t losses = 0, dups = 0, reorder = 0, foreign = 0, incomplete_subs = 0;
	int64_t k, nev = 0;
	int i;
	double span, dps, first_p50, first_p99, last_p50, last_p99;
	static struct hist first, last;

	for (k = 1; k < next_counter; k++)
		nev += ev_acked[k] > 0;
	for (i = 0; i < nsubs_opened; i++) {
		struct sess *s = subs[i];
		uint64_t miss = 0;

		if (!s->was_ready)
			continue;
		for (k = 1; k < next_counter; k++)
			if (ev_acked[k] > 0 && !bits_get(&s->seen, (uint64_t)k))
				miss++;
		losses += miss;
		incomplete_subs += miss > 0;
		dups += s->dups;
		reorder += s->reorder;
		foreign += s->foreign;
	}
	for (k = 1; k < next_counter; k++)
		if (ev_acked[k] > 0 && ev_first[k]) {
			hist_add(&first, (ev_first[k] - ev_sent[k]) / 1000);
			hist_add(&last, (ev_last[k] - ev_sent[k]) / 1000);
		}
	first_p50 = hist_pct(&first, 50) / 1e3;
	first_p99 = hist_pct(&first, 99) / 1e3;
	last_p50 = hist_pct(&last, 50) / 1e3;
	last_p99 = hist_pct(&last, 99) / 1e3;
	span = secs(t_last_delivery - t_first_send);
	dps = span > 0 ? (double)deliveries / span : 0;
	printf("wamp fanout target=%s publisher=%s sessions=%d established=%d rate=%s duration=%.0fs\n",
	       target_name(), opt.pub == P_WAMP ? "wamp" : "http", opt.nsubs, nsubs_est,
	       opt.rate > 0 ? "fixed" : "saturation", opt.duration);
	printf("  events published (acked) %" PRId64 ", failed %" PRId64 ", event rate %.1f/s\n",
	       nev, n_pubfail, span > 0 ? (double)nev / span : 0);
	printf("  deliveries %" PRIu64 " in %.2f s = %.0f/s\n", deliveries, span, dps);
	printf("  losses %" PRIu64 " (sessions missing events: %" PRIu64 "), duplicates %" PRIu64
	       ", reordered %" PRIu64 ", unexpected messages %" PRIu64 ", sessions closed %d\n",
	       losses, incomplete_subs, dups, reorder, foreign, nsubs_closed);
	printf("  latency ms: p50 %.2f p99 %.2f max %.2f (n=%" PRIu64 ")\n",
	       hist_pct(&lat, 50) / 1e3, hist_pct(&lat, 99) / 1e3, lat.max / 1e3, lat.n);
	printf("  per event ms: to first session p50 %.2f p99 %.2f; to last session p50 %.2f "
	       "p99 %.2f\n", first_p50, first_p99, last_p50, last_p99);
	if (n_pubfail)
		printf("  publish errors: %s\n", pub_err);
	if (hpub_closes)
		printf("  publisher connections ended %" PRId64 " times (%" PRId64
		       " with a POST in flight); last: %s\n", hpub_closes, hpub_closes_inflight,
		       hpub_close_why);
	if (first_error[0])
		printf("  first error: %s%s%s\n", first_error, abort_reason[0] ? "; reason " : "",
		       abort_reason);
	printf("RESULT mode=fanout target=%s pub=%s subs=%d established=%d failed=%d rate=%g "
	       "events=%" PRId64 " pubfail=%" PRId64 " deliveries=%" PRIu64 " dps=%.0f "
	       "losses=%" PRIu64 " dups=%" PRIu64 " reorder=%" PRIu64 " foreign=%" PRIu64
	       " closed=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f late=%" PRId64
	       " first_p50_ms=%.2f first_p99_ms=%.2f last_p50_ms=%.2f last_p99_ms=%.2f"
	       " reason=%s\n",
	       target_name(), opt.pub == P_WAMP ? "wamp" : "http", opt.nsubs, nsubs_est,
	       opt.nsubs - nsubs_est, opt.rate, nev, n_pubfail, deliveries, dps, losses, dups,
	       reorder, foreign, nsubs_closed, hist_pct(&lat, 50) / 1e3, hist_pct(&lat, 99) / 1e3,
	       lat.max / 1e3, late_sends, first_p50, first_p99, last_p50, last_p99,
	       abort_reason[0] ? abort_reason : "-");
	return (losses || dups || nsubs_est < opt.nsubs || nev == 0) ? 1 : 0;
}

static int report_idle(void)
{
	int alive = subs_alive();

	printf("wamp idle target=%s sessions=%d established=%d still open=%d\n", target_name(),
	       opt.nsubs, nsubs_est, alive);
	if (first_error[0])
		printf("  first error: %s\n", first_error);
	printf("RESULT mode=idle target=%s subs=%d established=%d open=%d reason=%s\n",
	       target_name(), opt.nsubs, nsubs_est, alive, abort_reason[0] ? abort_reason : "-");
	return alive == opt.nsubs ? 0 : 1;
}

static int report_rpc(void)
{
	double span = secs(t_last_result - t_first_call);
	double cps = span > 0 ? (double)calls_done / span : 0;

	printf("wamp rpc in flight %d, %.0f s: calls sent %" PRId64 ", results %" PRId64
	       ", errors %" PRId64 ", bad/unknown results %" PRId64 ", still open %" PRId64 "\n",
	       opt.inflight, opt.duration, calls_sent, calls_done, calls_err, calls_bad,
	       calls_inflight);
	printf("  %.0f calls/s; latency ms: p50 %.3f p99 %.3f max %.3f\n", cps,
	       hist_pct(&lat, 50) / 1e3, hist_pct(&lat, 99) / 1e3, lat.max / 1e3);
	if (calls_err)
		printf("  call error: %s\n", call_err);
	if (first_error[0])
		printf("  first error: %s\n", first_error);
	printf("RESULT mode=rpc inflight=%d calls=%" PRId64 " cps=%.0f errors=%" PRId64
	       " bad=%" PRId64 " open=%" PRId64 " p50_ms=%.3f p99_ms=%.3f max_ms=%.3f"
	       " invocations=%" PRId64 " reason=%s\n",
	       opt.inflight, calls_done, cps, calls_err, calls_bad, calls_inflight,
	       hist_pct(&lat, 50) / 1e3, hist_pct(&lat, 99) / 1e3, lat.max / 1e3, invocations,
	       abort_reason[0] ? abort_reason : (call_err[0] ? call_err : "-"));
	if (rc_final)
		return rc_final;
	return (calls_done == 0 || calls_err || calls_bad || calls_inflight) ? 1 : 0;
}

static int report_callee(void)
{
	printf("wamp callee %s: invocations %" PRId64 ", failed %" PRId64 "\n", opt.procedure,
	       invocations, invocation_errs);
	if (first_error[0])
		printf("  first error: %s\n", first_error);
	printf("RESULT mode=callee invocations=%" PRId64 " errors=%" PRId64 " reason=%s\n",
	       invocations, invocation_errs, abort_reason[0] ? abort_reason : "-");
	if (rc_final)
		return rc_final;
	return callee->was_ready ? 0 : 2;
}

/* ---- main ---------------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: wampload fanout|idle|rpc|callee --target switchboard|nchan --port PORT [options]\n"
		"  --host ADDR        loopback address (127.0.0.1)\n"
		"  --path P           WebSocket path (/ws, or /wsub?channel=T for nchan)\n"
		"  --pub-path P       HTTP publish path (/publish, or /pub?channel=T for nchan)\n"
		"  --realm R          WAMP realm (realm1)\n"
		"  --topic T          topic / channel (bench)\n"
		"  --procedure P      rpc/callee: procedure (bench.echo)\n"
		"  -n N               fanout/idle: sessions (1000)\n"
		"  --rate R           fanout: events/s, 0 = saturation (10)\n"
		"  --duration D       fanout/rpc: seconds of load (10)\n"
		"  --window W         fanout saturation: events in flight end to end (4)\n"
		"  --pub http|wamp    fanout: POST /publish or one WAMP publisher session (http)\n"
		"  --pubconns K       HTTP publisher connections (4)\n"
		"  --inflight K       rpc: calls in flight (100)\n"
		"  --subscribe        idle: also subscribe each session to --topic\n"
		"  --batch B          connects in flight (256)\n"
		"  --hold S           idle/callee: seconds to hold after READY (0 = until SIGTERM)\n"
		"  --connect-timeout S, --drain S, --timeout S\n"
		"  --quiet\n");
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	int i;

	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "fanout"))
		opt.mode = M_FANOUT;
	else if (!strcmp(argv[1], "idle"))
		opt.mode = M_IDLE;
	else if (!strcmp(argv[1], "rpc"))
		opt.mode = M_RPC;
	else if (!strcmp(argv[1], "callee"))
		opt.mode = M_CALLEE;
	else
		usage();
	for (i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

#define ARG(name) (!strcmp(a, name) && v && (i++, 1))
		if (ARG("--target")) {
			if (!strcmp(v, "switchboard"))
				opt.target = T_SWITCHBOARD;
			else if (!strcmp(v, "nchan"))
				opt.target = T_NCHAN;
			else
				usage();
		} else if (ARG("--pub")) {
			if (!strcmp(v, "http"))
				opt.pub = P_HTTP;
			else if (!strcmp(v, "wamp"))
				opt.pub = P_WAMP;
			else
				usage();
		} else if (ARG("--host"))
			snprintf(opt.host, sizeof(opt.host), "%s", v);
		else if (ARG("--port"))
			opt.port = atoi(v);
		else if (ARG("--topic"))
			snprintf(opt.topic, sizeof(opt.topic), "%s", v);
		else if (ARG("--realm"))
			snprintf(opt.realm, sizeof(opt.realm), "%s", v);
		else if (ARG("--procedure"))
			snprintf(opt.procedure, sizeof(opt.procedure), "%s", v);
		else if (ARG("--path"))
			snprintf(opt.ws_path, sizeof(opt.ws_path), "%s", v);
		else if (ARG("--pub-path"))
			snprintf(opt.pub_path, sizeof(opt.pub_path), "%s", v);
		else if (ARG("-n"))
			opt.nsubs = atoi(v);
		else if (ARG("--rate"))
			opt.rate = atof(v);
		else if (ARG("--duration"))
			opt.duration = atof(v);
		else if (ARG("--window"))
			opt.window = atoi(v);
		else if (ARG("--pubconns"))
			opt.pubconns = atoi(v);
		else if (ARG("--inflight"))
			opt.inflight = atoi(v);
		else if (ARG("--batch"))
			opt.batch = atoi(v);
		else if (ARG("--connect-timeout"))
			opt.connect_timeout = atof(v);
		else if (ARG("--drain"))
			opt.drain = atof(v);
		else if (ARG("--hold"))
			opt.hold = atof(v);
		else if (ARG("--timeout"))
			opt.timeout = atof(v);
		else if (!strcmp(a, "--subscribe"))
			opt.subscribe = 1;
		else if (!strcmp(a, "--quiet"))
			opt.quiet = 1;
		else
			usage();
#undef ARG
	}
	if (opt.port <= 0 || opt.port > 65535 || opt.nsubs < 1 || opt.pubconns < 1 ||
	    opt.window < 1 || opt.batch < 1 || opt.duration <= 0 || opt.inflight < 1 ||
	    opt.inflight > CALL_SLOTS / 2)
		usage();
	if (opt.target == T_NCHAN && (opt.pub == P_WAMP || opt.mode == M_RPC ||
				      opt.mode == M_CALLEE))
		die("nchan has no WAMP: only fanout/idle with --pub http");
	if (!opt.ws_path[0])
		snprintf(opt.ws_path, sizeof(opt.ws_path),
			 opt.target == T_NCHAN ? "/wsub?channel=%s" : "/ws", opt.topic);
	if (!opt.pub_path[0]) {
		if (opt.target == T_NCHAN)
			snprintf(opt.pub_path, sizeof(opt.pub_path), "/pub?channel=%s", opt.topic);
		else
			snprintf(opt.pub_path, sizeof(opt.pub_path), "/publish");
	}
	if (opt.timeout <= 0) {
		opt.timeout = opt.connect_timeout + 120;
		if (opt.mode == M_FANOUT || opt.mode == M_RPC)
			opt.timeout += opt.duration + opt.drain;
		if ((opt.mode == M_IDLE || opt.mode == M_CALLEE) && opt.hold > 0)
			opt.timeout += opt.hold;
		if ((opt.mode == M_IDLE || opt.mode == M_CALLEE) && opt.hold <= 0)
			opt.timeout = 3600;
	}
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	struct lws_context_creation_info info;
	void *foreign[1];
	int rc;

	parse_args(argc, argv);

	memset(&srv, 0, sizeof(srv));
	srv.sin_family = AF_INET;
	srv.sin_port = htons((uint16_t)opt.port);
	if (!strcmp(opt.host, "localhost"))
		snprintf(opt.host, sizeof(opt.host), "127.0.0.1");
	if (inet_pton(AF_INET, opt.host, &srv.sin_addr) != 1 ||
	    (ntohl(srv.sin_addr.s_addr) >> 24) != 127)
		die("--host must be an IPv4 loopback address (127.x.x.x), got %s", opt.host);

	/* Raise the fd limit to the hard limit before lws sizes its fd table. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		int need = (opt.mode == M_FANOUT || opt.mode == M_IDLE ? opt.nsubs : 2) +
			   opt.pubconns + 32;

		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < (rlim_t)need)
			die("RLIMIT_NOFILE is %llu, need %d (raise the hard limit: ulimit -Hn)",
			    (unsigned long long)rl.rlim_cur, need);
	}
	signal(SIGPIPE, SIG_IGN);

	loop = uv_default_loop();
	foreign[0] = loop;
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_logger);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_LIBUV;
	info.foreign_loops = foreign;
	info.timeout_secs = 30;
	info.connect_timeout_secs = 30;
	info.gid = -1;
	info.uid = -1;
	ctx = lws_create_context(&info);
	if (!ctx)
		die("cannot create the libwebsockets context (libwebsockets-evlib-uv installed?)");
	vhost = lws_get_vhost_by_name(ctx, "default");

	uv_timer_init(loop, &tick_timer);
	uv_check_init(loop, &tick_check);
	uv_check_start(&tick_check, on_check);
	uv_signal_init(loop, &sig_int);
	uv_signal_init(loop, &sig_term);
	uv_signal_start(&sig_int, on_signal, SIGINT);
	uv_signal_start(&sig_term, on_signal, SIGTERM);

	t_start = t_now = now_ns();
	t_phase = t_now;
	ev_grow(1024);
	if (opt.mode == M_FANOUT || opt.mode == M_IDLE) {
		subs_alloc(opt.nsubs);
	} else {
		callee = special_sess(R_CALLEE, -3);
	}
	set_phase(PH_CONNECT);
	uv_timer_start(&tick_timer, on_tick_timer, 0, 0);
	uv_run(loop, UV_RUN_DEFAULT);

	switch (opt.mode) {
	case M_FANOUT:
		rc = report_fanout();
		break;
	case M_IDLE:
		rc = report_idle();
		break;
	case M_RPC:
		rc = report_rpc();
		break;
	default:
		rc = report_callee();
		break;
	}
	fflush(stdout);
	fflush(stderr);
	/* The kernel closes every socket; a clean WebSocket close of thousands
	 * of sessions would only slow the next test down. */
	_exit(rc);
}
