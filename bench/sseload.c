/*
 * sseload: SSE load generator for the Switchboard benchmark (bench/run.sh).
 *
 * One process, one epoll loop, no threads. It owns every connection it opens:
 * SSE subscribers (raw HTTP/1.1 GET, Accept: text/event-stream) and keep-alive
 * publisher connections (POST). Each published event carries a counter and a
 * CLOCK_MONOTONIC send time ([n,t] in the data); every subscriber verifies
 * every event it receives by counter (losses, duplicates, order) and records
 * publish->deliver latency in a log-linear histogram.
 *
 * Modes:
 *   fanout  N subscribers, publisher at a fixed rate or at saturation
 *   idle    hold N idle subscribers; prints READY when all are established
 *   replay  publish P, then C clients resume B events back (Last-Event-ID)
 *           while L more are published live; each must see exactly the
 *           missed events then the live ones, in the server's order
 *   burst   no subscriber: publish exactly P events as fast as they are
 *           acknowledged (one POST in flight per publisher connection);
 *           reports the wall-clock span, for measuring what happens to
 *           the events afterwards (bench/run.sh's forwarder test)
 *
 * Targets: switchboard (POST /publish JSON, GET /sse?topic=T) and nchan
 * (POST /pub?channel=T body [n,t], GET /sub?channel=T eventsource).
 * Loopback addresses only. Every phase is bounded in time.
 *
 * Output: human-readable lines, then one "RESULT key=value ..." line that
 * bench/run.sh parses. Exit 0 = verified, 1 = verification failed (loss,
 * duplicate, disorder, incomplete), 2 = usage or setup error.
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
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HLINE_MAX 256		/* HTTP status/header/chunk-size line kept */
#define SLINE_MAX 512		/* SSE line kept (longer lines are truncated) */
#define ID_MAX 64		/* SSE id kept */
#define RBUF_SIZE (256 * 1024)	/* one shared read buffer */

#include "loadgen.h"

/* ---- options ---------------------------------------------------------------- */

enum mode { M_FANOUT, M_IDLE, M_REPLAY, M_BURST };
enum target { T_SWITCHBOARD, T_NCHAN };

static struct {
	enum mode mode;
	enum target target;
	char host[64];
	int port;
	char topic[128];
	char sub_path[256];	/* empty: from target */
	char pub_path[256];
	int nsubs;		/* fanout/idle: subscribers */
	double rate;		/* fanout: events/s; 0 = saturation */
	double duration;	/* fanout: seconds of publishing */
	int window;		/* saturation: events not yet delivered to all */
	int pubconns;		/* publisher keep-alive connections */
	int batch;		/* connects in flight at once */
	double connect_timeout;	/* seconds to establish all subscribers */
	double drain;		/* fanout: seconds to wait for stragglers */
	double hold;		/* idle: seconds to hold after READY (0: until signal) */
	int count;		/* replay: P events published first; burst: P events */
	int back;		/* replay: resume this many events back */
	int clients;		/* replay: C resuming clients */
	int live;		/* replay: L events published live */
	double live_rate;	/* replay: events/s for the live part; 0 = ack window */
	double timeout;		/* overall bound, seconds */
	int quiet;
} opt = {
	.mode = M_FANOUT, .target = T_SWITCHBOARD, .host = "127.0.0.1", .port = 8080,
	.topic = "bench", .nsubs = 1000, .rate = 10, .duration = 10, .window = 4,
	.pubconns = 4, .batch = 256, .connect_timeout = 60, .drain = 10,
	.hold = 0, .count = 1000, .back = 500, .clients = 1000, .live = 1000,
	.live_rate = 0, .timeout = 0,
};

/* ---- connections ---------------------------------------------------------- */

enum kind { K_SUB, K_PUB, K_HELPER };
enum cstate { CS_CONNECTING, CS_SENDING, CS_WAITHDR, CS_OPEN, CS_CLOSED };
enum hstate {
	HS_STATUS, HS_HEADER, HS_BODY_CL, HS_BODY_EOF, HS_CHUNK_SIZE,
	HS_CHUNK_DATA, HS_CHUNK_CRLF, HS_TRAILER, HS_DONE
};

struct conn {
	int fd;
	enum kind kind;
	enum cstate st;
	int idx;			/* index among its kind */
	/* request being written (borrowed for subs: shared request text) */
	const char *out;
	size_t outlen, outoff;
	char *outown;			/* owned request buffer (publisher) */
	/* HTTP response parser */
	enum hstate hs;
	int status;
	int64_t remaining;		/* content-length or chunk bytes left */
	unsigned chunked : 1, has_cl : 1, is_close : 1;
	char hl[HLINE_MAX];
	int hlen;
	/* SSE parser */
	char sl[SLINE_MAX];
	int slen;
	int sl_over;			/* current line longer than SLINE_MAX */
	char last_id[ID_MAX];
	int ev_has;			/* data with [n,t] seen in this event */
	int64_t ev_n, ev_t;
	/* verification */
	struct bits seen;
	uint64_t got;			/* distinct events received */
	uint64_t dups, reorder, foreign, comments;
	int64_t maxseen;
	int saw_unknown, saw_expired;
	int64_t *seq;			/* replay: counters in arrival order */
	size_t nseq, capseq;
	int64_t t_done;			/* replay: completion time */
	/* publisher */
	int64_t inflight;		/* counter in flight; 0 = idle */
	int want_out;			/* EPOLLOUT registered */
};

static int epfd;
static char *rbuf;
static int64_t t_now;
static volatile sig_atomic_t stop_sig;
static struct sockaddr_in srv;

static struct conn **subs;		/* fanout/idle/replay clients */
static int nsubs_opened, nsubs_pending, nsubs_est, nsubs_failed, nsubs_closed;
static struct conn **pubs;
static int npubs;
static struct conn *helper;
static char sub_req[2048];		/* shared subscriber request */
static size_t sub_reqlen;

static struct hist lat;
static uint64_t deliveries;		/* distinct (sub, counter) deliveries */
static int64_t t_first_send, t_last_send, t_last_delivery;

/* per-event state, indexed by counter (1-based) */
static int64_t *ev_sent;		/* send time, 0 = not sent */
static int8_t *ev_acked;		/* 1 = 2xx, -1 = failed */
static uint32_t *ev_count;		/* subscribers that got it */
static int64_t *ev_first, *ev_last;	/* first and last delivery time */
static size_t ev_cap;
static int64_t next_counter = 1;	/* next counter to publish */
static int64_t n_acked, n_pubfail;
static int64_t pub_last_status;
static char pub_err_body[200];

/* helper (replay): server order and ids, by position */
static int64_t *h_order;		/* counters in the order the helper saw them */
static char **h_ids;			/* id string of each, same positions */
static size_t h_n, h_cap;

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
	memset(ev_first + ev_cap, 0, (cap - ev_cap) * sizeof(*ev_first));
	memset(ev_last + ev_cap, 0, (cap - ev_cap) * sizeof(*ev_last));
	memset(ev_sent + ev_cap, 0, (cap - ev_cap) * sizeof(*ev_sent));
	memset(ev_acked + ev_cap, 0, (cap - ev_cap) * sizeof(*ev_acked));
	memset(ev_count + ev_cap, 0, (cap - ev_cap) * sizeof(*ev_count));
	ev_cap = cap;
}

static void conn_close(struct conn *c)
{
	if (c->st == CS_CLOSED)
		return;
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	if (c->kind != K_PUB) {
		if (c->st == CS_OPEN)
			nsubs_closed += c->kind == K_SUB;
		else
			nsubs_pending -= c->kind == K_SUB, nsubs_failed += c->kind == K_SUB;
	}
	c->st = CS_CLOSED;
}

static int conn_connect(struct conn *c)
{
	struct epoll_event ee;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* lets a server later bind a port this socket's TIME_WAIT still holds */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&srv, sizeof(srv)) < 0 && errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		return -e;
	}
	c->fd = fd;
	c->st = CS_CONNECTING;
	c->hs = HS_STATUS;
	ee.events = EPOLLOUT;
	ee.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ee) < 0)
		die("epoll_ctl: %s", strerror(errno));
	return 0;
}

static void conn_want(struct conn *c, uint32_t events)
{
	struct epoll_event ee;

	ee.events = events;
	ee.data.ptr = c;
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ee);
}

/* Writes what is pending; returns -1 on error (connection closed). */
static int conn_flush(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				conn_want(c, EPOLLIN | EPOLLOUT);
				c->want_out = 1;
				return 0;
			}
			return -1;
		}
		c->outoff += (size_t)w;
	}
	if (c->st == CS_SENDING || c->st == CS_CONNECTING) {
		c->st = CS_WAITHDR;
		conn_want(c, EPOLLIN);
	} else if (c->want_out) {
		conn_want(c, EPOLLIN);
	}
	c->want_out = 0;
	return 0;
}

/* ---- event callbacks (defined per mode below) ------------------------------ */

static void on_headers(struct conn *c);
static void on_event(struct conn *c, int64_t n, int64_t t);
static void on_response(struct conn *c);
static void on_pub_closed(struct conn *c, const char *why, int err);

/* ---- SSE parser ------------------------------------------------------------ */

/* Finds the first JSON array "[n,t" in s; returns 1 and sets n, t. */
static int parse_nt(const char *s, size_t len, int64_t *n, int64_t *t)
{
	const char *p = memchr(s, '[', len), *end = s + len;
	char *q;

	if (!p)
		return 0;
	p++;
	while (p < end && *p == ' ')
		p++;
	if (p >= end || !(*p >= '0' && *p <= '9'))
		return 0;
	*n = strtoll(p, &q, 10);
	p = q;
	while (p < end && (*p == ' ' || *p == ','))
		p++;
	if (p >= end || !(*p >= '0' && *p <= '9'))
		return 0;
	*t = strtoll(p, &q, 10);
	return 1;
}

static void sse_line(struct conn *c, char *line, size_t len)
{
	const char *v;
	size_t flen, vlen;
	char *colon;

	if (len == 0) {
		if (c->ev_has)
			on_event(c, c->ev_n, c->ev_t);
		c->ev_has = 0;
		return;
	}
	if (line[0] == ':') {
		c->comments++;
		line[len] = 0;
		if (strstr(line, "unknown"))
			c->saw_unknown = 1;
		if (strstr(line, "expired"))
			c->saw_expired = 1;
		return;
	}
	colon = memchr(line, ':', len);
	flen = colon ? (size_t)(colon - line) : len;
	v = colon ? colon + 1 : line + len;
	if (colon && v < line + len && *v == ' ')
		v++;
	vlen = (size_t)(line + len - v);
	if (flen == 4 && !memcmp(line, "data", 4)) {
		if (!c->ev_has && parse_nt(v, vlen, &c->ev_n, &c->ev_t))
			c->ev_has = 1;
		else if (!c->ev_has)
			c->foreign++;
	} else if (flen == 2 && !memcmp(line, "id", 2)) {
		if (vlen >= ID_MAX)
			vlen = ID_MAX - 1;
		memcpy(c->last_id, v, vlen);
		c->last_id[vlen] = 0;
	}
	/* retry:, event: and unknown fields are ignored */
}

static void sse_feed(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		size_t room = SLINE_MAX - 1 - (size_t)c->slen;

		if (take > room) {
			c->sl_over = 1;
			memcpy(c->sl + c->slen, p, room);
			c->slen += (int)room;
		} else {
			memcpy(c->sl + c->slen, p, take);
			c->slen += (int)take;
		}
		if (!nl)
			return;
		p += take + 1;
		n -= take + 1;
		if (c->slen > 0 && c->sl[c->slen - 1] == '\r')
			c->slen--;
		sse_line(c, c->sl, (size_t)c->slen);
		c->slen = 0;
		c->sl_over = 0;
	}
}

/* ---- HTTP/1.1 response parser (status, headers, CL / chunked / EOF body) ---- */

static void http_reset(struct conn *c)
{
	c->hs = HS_STATUS;
	c->status = 0;
	c->remaining = 0;
	c->chunked = c->has_cl = c->is_close = 0;
	c->hlen = 0;
}

static void http_body(struct conn *c, const char *p, size_t n)
{
	if (c->kind == K_PUB) {
		if (c->status / 100 != 2) {
			size_t have = strlen(pub_err_body);
			size_t room = sizeof(pub_err_body) - 1 - have;

			if (n > room)
				n = room;
			memcpy(pub_err_body + have, p, n);
			pub_err_body[have + n] = 0;
		}
		return;
	}
	sse_feed(c, p, n);
}

static void http_done(struct conn *c)
{
	c->hs = HS_DONE;
	on_response(c);
}

/* Handles one complete line (without CR LF); returns -1 on a protocol error. */
static int http_line(struct conn *c)
{
	char *l = c->hl;

	c->hl[c->hlen] = 0;
	if (c->hlen > 0 && c->hl[c->hlen - 1] == '\r')
		c->hl[--c->hlen] = 0;
	switch (c->hs) {
	case HS_STATUS:
		if (strncmp(l, "HTTP/1.", 7) || c->hlen < 12)
			return -1;
		c->status = atoi(l + 9);
		c->hs = HS_HEADER;
		return 0;
	case HS_HEADER:
		if (c->hlen == 0) {
			if (c->status == 100) {
				http_reset(c);
				return 0;
			}
			if (c->chunked)
				c->hs = HS_CHUNK_SIZE;
			else if (c->has_cl)
				c->hs = c->remaining ? HS_BODY_CL : HS_DONE;
			else if (c->kind == K_PUB && (c->status == 204 || c->status == 304))
				c->hs = HS_DONE;
			else
				c->hs = HS_BODY_EOF;
			on_headers(c);
			if (c->hs == HS_DONE)
				http_done(c);
			return 0;
		}
		if (!strncasecmp(l, "content-length:", 15)) {
			c->has_cl = 1;
			c->remaining = strtoll(l + 15, NULL, 10);
		} else if (!strncasecmp(l, "transfer-encoding:", 18)) {
			if (strcasestr(l + 18, "chunked"))
				c->chunked = 1;
		} else if (!strncasecmp(l, "connection:", 11)) {
			if (strcasestr(l + 11, "close"))
				c->is_close = 1;
		}
		return 0;
	case HS_CHUNK_SIZE: {
		char *end;
		long long sz = strtoll(l, &end, 16);

		if (end == l || sz < 0)
			return -1;
		if (sz == 0) {
			c->hs = HS_TRAILER;
		} else {
			c->remaining = sz;
			c->hs = HS_CHUNK_DATA;
		}
		return 0;
	}
	case HS_CHUNK_CRLF:
		if (c->hlen != 0)
			return -1;
		c->hs = HS_CHUNK_SIZE;
		return 0;
	case HS_TRAILER:
		if (c->hlen == 0)
			http_done(c);
		return 0;
	default:
		return -1;
	}
}

/* Feeds received bytes; returns -1 on a protocol error. */
static int http_feed(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		switch (c->hs) {
		case HS_STATUS:
		case HS_HEADER:
		case HS_CHUNK_SIZE:
		case HS_CHUNK_CRLF:
		case HS_TRAILER: {
			const char *nl = memchr(p, '\n', n);
			size_t take = nl ? (size_t)(nl - p) : n;
			size_t room = HLINE_MAX - 1 - (size_t)c->hlen;

			memcpy(c->hl + c->hlen, p, take < room ? take : room);
			c->hlen += (int)(take < room ? take : room);
			if (!nl)
				return 0;
			p += take + 1;
			n -= take + 1;
			if (http_line(c) < 0)
				return -1;
			c->hlen = 0;
			break;
		}
		case HS_BODY_CL:
		case HS_CHUNK_DATA: {
			size_t take = (int64_t)n < c->remaining ? n : (size_t)c->remaining;

			http_body(c, p, take);
			p += take;
			n -= take;
			c->remaining -= (int64_t)take;
			if (c->remaining == 0) {
				if (c->hs == HS_CHUNK_DATA)
					c->hs = HS_CHUNK_CRLF;
				else
					http_done(c);
			}
			break;
		}
		case HS_BODY_EOF:
			http_body(c, p, n);
			return 0;
		case HS_DONE:
			if (c->kind != K_PUB)
				return 0;	/* bytes after a finished stream: ignore */
			http_reset(c);
			break;
		}
		if (c->st == CS_CLOSED)
			return 0;
	}
	return 0;
}

/* ---- publisher --------------------------------------------------------------- */

static int pub_connect_all(void)
{
	int i;

	pubs = xcalloc((size_t)opt.pubconns, sizeof(*pubs));
	for (i = 0; i < opt.pubconns; i++) {
		pubs[i] = xcalloc(1, sizeof(struct conn));
		pubs[i]->kind = K_PUB;
		pubs[i]->idx = i;
		pubs[i]->outown = xcalloc(1, 1024);
		if (conn_connect(pubs[i]) < 0)
			return -1;
	}
	npubs = opt.pubconns;
	return 0;
}

static struct conn *pub_idle(void)
{
	int i;

	for (i = 0; i < npubs; i++) {
		struct conn *c = pubs[i];

		if (c->st == CS_CLOSED) {
			c->inflight = 0;
			if (conn_connect(c) < 0)
				continue;
		}
		if (!c->inflight)
			return c;
	}
	return NULL;
}

/* Sends event `n` on publisher c. */
static void pub_send(struct conn *c, int64_t n)
{
	char body[256];
	int blen, hlen;
	int64_t t = now_ns();

	if (opt.target == T_SWITCHBOARD)
		blen = snprintf(body, sizeof(body), "{\"topic\":\"%s\",\"args\":[%" PRId64 ",%" PRId64 "]}",
				opt.topic, n, t);
	else
		blen = snprintf(body, sizeof(body), "[%" PRId64 ",%" PRId64 "]", n, t);
	hlen = snprintf(c->outown, 1024,
			"POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
			"Content-Length: %d\r\n\r\n%s",
			opt.pub_path, opt.host, opt.port, blen, body);
	ev_grow(n);
	ev_sent[n] = t;
	c->inflight = n;
	c->out = c->outown;
	c->outlen = (size_t)hlen;
	c->outoff = 0;
	if (!t_first_send)
		t_first_send = t;
	t_last_send = t;
	http_reset(c);
	if (c->st == CS_CONNECTING)
		return;		/* flushed when the connect completes */
	if (conn_flush(c) < 0) {
		int e = errno;

		conn_close(c);
		on_pub_closed(c, "send", e);
	}
}

static void pub_response(struct conn *c)
{
	int64_t n = c->inflight;

	pub_last_status = c->status;
	if (n) {
		if (c->status / 100 == 2) {
			ev_acked[n] = 1;
			n_acked++;
		} else {
			ev_acked[n] = -1;
			n_pubfail++;
		}
	}
	c->inflight = 0;
	if (c->is_close) {
		conn_close(c);
		on_pub_closed(c, "Connection: close", 0);
	}
}

static int64_t pub_closes, pub_closes_inflight;
static char pub_close_why[160];

/* A publisher connection ended; an event in flight on it counts as failed. */
static void on_pub_closed(struct conn *c, const char *why, int err)
{
	pub_closes++;
	if (c->inflight) {
		pub_closes_inflight++;
		snprintf(pub_close_why, sizeof(pub_close_why),
			 "%s%s%s with event %" PRId64 " in flight, sent %.1f ms before",
			 why, err ? ": " : "", err ? strerror(err) : "", c->inflight,
			 (double)(now_ns() - ev_sent[c->inflight]) / 1e6);
	} else if (!pub_close_why[0]) {
		snprintf(pub_close_why, sizeof(pub_close_why), "%s%s%s while idle", why,
			 err ? ": " : "", err ? strerror(err) : "");
	}
	if (c->inflight) {
		ev_acked[c->inflight] = -1;
		n_pubfail++;
		c->inflight = 0;
	}
}

/* ---- subscribers -------------------------------------------------------------- */

static void build_sub_req(const char *last_event_id)
{
	int n = snprintf(sub_req, sizeof(sub_req),
			 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n"
			 "Cache-Control: no-cache\r\n",
			 opt.sub_path, opt.host, opt.port);

	if (last_event_id)
		n += snprintf(sub_req + n, sizeof(sub_req) - (size_t)n, "Last-Event-ID: %s\r\n",
			      last_event_id);
	n += snprintf(sub_req + n, sizeof(sub_req) - (size_t)n, "\r\n");
	sub_reqlen = (size_t)n;
}

static int sub_open(struct conn *c)
{
	int r = conn_connect(c);

	if (r < 0)
		return r;
	c->out = sub_req;
	c->outlen = sub_reqlen;
	c->outoff = 0;
	c->maxseen = 0;
	return 0;
}

/* Opens more subscribers while fewer than opt.batch are pending. */
static void subs_pump(int total)
{
	while (nsubs_opened < total && nsubs_pending < opt.batch) {
		struct conn *c = subs[nsubs_opened];
		int r = sub_open(c);

		if (r < 0) {
			if (r == -EMFILE || r == -ENFILE || r == -EADDRNOTAVAIL)
				die("cannot open subscriber %d: %s (raise ulimit -n / port range)",
				    nsubs_opened, strerror(-r));
			c->st = CS_CLOSED;
			nsubs_failed++;
			nsubs_opened++;
			continue;
		}
		nsubs_opened++;
		nsubs_pending++;
	}
}

static void subs_alloc(int n, enum kind kind)
{
	int i;

	subs = xcalloc((size_t)n, sizeof(*subs));
	for (i = 0; i < n; i++) {
		subs[i] = xcalloc(1, sizeof(struct conn));
		subs[i]->kind = kind;
		subs[i]->idx = i;
		subs[i]->fd = -1;
		subs[i]->st = CS_CLOSED;
	}
}

static int n_non200;
static int first_bad_status;

static void on_headers(struct conn *c)
{
	if (c->kind == K_PUB)
		return;
	if (c->status != 200) {
		if (!first_bad_status)
			first_bad_status = c->status;
		n_non200++;
		conn_close(c);
		return;
	}
	c->st = CS_OPEN;
	if (c->kind == K_SUB) {
		nsubs_pending--;
		nsubs_est++;
	}
}

static int64_t stream_ends;

static void on_response(struct conn *c)
{
	if (c->st == CS_CLOSED)
		return;
	if (c->kind == K_PUB) {
		pub_response(c);
		return;
	}
	/* an SSE stream that ended */
	stream_ends++;
	conn_close(c);
}

/* ---- mode logic -------------------------------------------------------------- */

static int phase;
static int64_t t_phase;
static int64_t t_start;
static int64_t replay_first;		/* h_order position of the first missed event */
static int64_t replay_expect;			/* events each client must get */
static int replay_done_clients;
static int64_t t_clients_start, t_clients_est, t_replayed, t_all_done;
static int replay_replayed_clients;
static int64_t low_incomplete = 1;		/* saturation window */
static int64_t late_sends;

static void on_event(struct conn *c, int64_t n, int64_t t)
{
	if (c->kind == K_HELPER) {
		if (h_n == h_cap) {
			h_cap = h_cap ? h_cap * 2 : 4096;
			h_order = xrealloc(h_order, h_cap * sizeof(*h_order));
			h_ids = xrealloc(h_ids, h_cap * sizeof(*h_ids));
		}
		h_order[h_n] = n;
		h_ids[h_n] = strdup(c->last_id);
		h_n++;
		return;
	}
	if (n < 1 || n >= next_counter) {
		c->foreign++;
		return;
	}
	if (bits_set(&c->seen, (uint64_t)n)) {
		c->dups++;
		return;
	}
	if (n < c->maxseen)
		c->reorder++;
	else
		c->maxseen = n;
	c->got++;
	if (opt.mode == M_REPLAY) {
		if (c->nseq == c->capseq) {
			c->capseq = c->capseq ? c->capseq * 2 : (size_t)replay_expect + 16;
			c->seq = xrealloc(c->seq, c->capseq * sizeof(*c->seq));
		}
		c->seq[c->nseq++] = n;
		if (c->got == (uint64_t)opt.back) {
			replay_replayed_clients++;
		}
		if (c->got == (uint64_t)replay_expect) {
			c->t_done = t_now;
			replay_done_clients++;
		}
		if (n > opt.count)	/* live events only: replayed ones are old */
			hist_add(&lat, (t_now - t) / 1000);
		deliveries++;
		t_last_delivery = t_now;
		return;
	}
	ev_count[n]++;
	if (!ev_first[n])
		ev_first[n] = t_now;
	ev_last[n] = t_now;
	deliveries++;
	t_last_delivery = t_now;
	hist_add(&lat, (t_now - t) / 1000);
}

static int subs_alive(void)
{
	return nsubs_est - nsubs_closed;
}

/* Fanout: advance the lowest event not yet delivered to every live subscriber. */
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

enum { PH_CONNECT, PH_SETTLE, PH_RUN, PH_DRAIN, PH_END,
       PH_HELPER, PH_PREPUB, PH_PREWAIT, PH_CLIENTS, PH_LIVE, PH_LIVEWAIT };

static void set_phase(int p)
{
	phase = p;
	t_phase = t_now;
}

/* Returns the epoll timeout in ms for the next tick. */
static int tick_fanout(void)
{
	struct conn *c;

	switch (phase) {
	case PH_CONNECT:
		subs_pump(opt.nsubs);
		if (nsubs_est + nsubs_failed >= opt.nsubs && nsubs_pending == 0) {
			if (!opt.quiet)
				fprintf(stderr, "sseload: %d subscribers established in %.2f s (%d failed)\n",
					nsubs_est, secs(t_now - t_start), nsubs_failed);
			if (opt.mode == M_IDLE) {
				printf("READY established=%d failed=%d\n", nsubs_est, nsubs_failed);
				fflush(stdout);
				set_phase(PH_RUN);
				return 100;
			}
			if (pub_connect_all() < 0)
				die("cannot connect publisher");
			set_phase(PH_SETTLE);
			return 300;
		}
		if (t_now - t_phase > (int64_t)(opt.connect_timeout * 1e9)) {
			fprintf(stderr, "sseload: connect timeout: %d of %d established, %d pending\n",
				nsubs_est, opt.nsubs, nsubs_pending);
			set_phase(PH_END);
			return 0;
		}
		return 50;
	case PH_SETTLE:
		if (t_now - t_phase < 300000000LL)
			return 10;
		set_phase(PH_RUN);
		/* fall through */
	case PH_RUN: {
		int64_t elapsed = t_now - t_phase;

		if (opt.mode == M_IDLE) {
			if (opt.hold > 0 && elapsed > (int64_t)(opt.hold * 1e9))
				set_phase(PH_END);
			return 200;
		}
		if (elapsed >= (int64_t)(opt.duration * 1e9)) {
			set_phase(PH_DRAIN);
			return 0;
		}
		if (opt.rate > 0) {
			int64_t period = (int64_t)(1e9 / opt.rate);
			int64_t due = elapsed / period + 1;	/* events due so far */

			while (next_counter <= due && (c = pub_idle())) {
				if (next_counter < due)
					late_sends++;
				pub_send(c, next_counter++);
			}
			{
				int64_t wait = (next_counter - 1) * period - elapsed;

				return wait <= 0 ? 1 : (int)(wait / 1000000) + 1;
			}
		}
		window_advance();
		while (next_counter - low_incomplete < opt.window && (c = pub_idle()))
			pub_send(c, next_counter++);
		return 5;
	}
	case PH_DRAIN: {
		int i, busy = 0;
		int64_t k;
		int alive = subs_alive();
		int complete = 1;

		for (i = 0; i < npubs; i++)
			busy += pubs[i]->inflight != 0;
		if (!busy) {
			for (k = low_incomplete; k < next_counter; k++)
				if (ev_acked[k] > 0 && (int)ev_count[k] < alive) {
					complete = 0;
					break;
				}
			low_incomplete = k;
		} else {
			complete = 0;
		}
		if (complete || t_now - t_phase > (int64_t)(opt.drain * 1e9))
			set_phase(PH_END);
		return 5;
	}
	}
	return 100;
}

static void replay_begin_clients(void)
{
	const char *rid;

	replay_first = (int64_t)h_n - opt.back;	/* first missed event position */
	if (replay_first < 1)
		die("replay: helper saw only %zu events", h_n);
	rid = h_ids[replay_first - 1];
	if (!rid || !*rid)
		die("replay: event at position %" PRId64 " had no id: line", replay_first - 1);
	if (!opt.quiet)
		fprintf(stderr, "sseload: replay: resuming %d clients from id %s (%d back)\n",
			opt.clients, rid, opt.back);
	build_sub_req(rid);
	replay_expect = opt.back + opt.live;
	t_clients_start = t_now;
}

static int tick_replay(void)
{
	struct conn *c;

	switch (phase) {
	case PH_HELPER:
		if (helper->st == CS_OPEN) {
			if (t_now - t_phase < 200000000LL)
				return 10;
			if (pub_connect_all() < 0)
				die("cannot connect publisher");
			set_phase(PH_PREPUB);
			return 0;
		}
		if (helper->st == CS_CLOSED)
			die("replay: helper subscriber failed (status %d)", first_bad_status);
		if (t_now - t_phase > 10000000000LL)
			die("replay: helper subscriber not established");
		return 10;
	case PH_PREPUB:
		while (next_counter <= opt.count && (c = pub_idle()))
			pub_send(c, next_counter++);
		if (next_counter > opt.count)
			set_phase(PH_PREWAIT);
		return 5;
	case PH_PREWAIT:
		if (h_n >= (size_t)(n_acked) && n_acked + n_pubfail >= opt.count) {
			if (n_pubfail)
				die("replay: %" PRId64 " publishes failed (last status %" PRId64 ") %s",
				    n_pubfail, pub_last_status, pub_err_body);
			replay_begin_clients();
			set_phase(PH_CLIENTS);
			return 0;
		}
		if (t_now - t_phase > 30000000000LL)
			die("replay: helper got %zu of %" PRId64 " events", h_n, n_acked);
		return 5;
	case PH_CLIENTS:
		subs_pump(opt.clients);
		if (nsubs_est + nsubs_failed >= opt.clients && nsubs_pending == 0) {
			t_clients_est = t_now;
			set_phase(PH_LIVE);
			return 0;
		}
		if (t_now - t_phase > (int64_t)(opt.connect_timeout * 1e9)) {
			fprintf(stderr, "sseload: replay connect timeout: %d of %d\n", nsubs_est,
				opt.clients);
			set_phase(PH_END);
		}
		return 20;
	case PH_LIVE: {
		int64_t last = (int64_t)opt.count + opt.live;

		if (opt.live_rate > 0) {
			int64_t period = (int64_t)(1e9 / opt.live_rate);
			int64_t due = (t_now - t_phase) / period + 1 + opt.count;

			while (next_counter <= last && next_counter <= due && (c = pub_idle()))
				pub_send(c, next_counter++);
		} else {
			while (next_counter <= last && (c = pub_idle()))
				pub_send(c, next_counter++);
		}
		if (next_counter > last)
			set_phase(PH_LIVEWAIT);
	}
		/* fall through */
	case PH_LIVEWAIT:
		if (replay_replayed_clients >= nsubs_est && !t_replayed)
			t_replayed = t_now;
		if (phase == PH_LIVEWAIT && replay_done_clients >= nsubs_est &&
		    h_n >= (size_t)(opt.count + opt.live)) {
			t_all_done = t_now;
			set_phase(PH_END);
			return 0;
		}
		if (phase == PH_LIVEWAIT && t_now - (t_last_delivery > t_phase ? t_last_delivery : t_phase) >
		    (int64_t)(opt.drain * 1e9)) {
			fprintf(stderr, "sseload: replay stalled: %d of %d clients complete\n",
				replay_done_clients, nsubs_est);
			set_phase(PH_END);
		} else if (t_now - t_clients_start > (int64_t)(opt.drain * 1e9) + 60000000000LL) {
			fprintf(stderr, "sseload: replay timeout: %d of %d clients complete\n",
				replay_done_clients, nsubs_est);
			set_phase(PH_END);
		}
		return 5;
	}
	return 100;
}

/* ---- reports ------------------------------------------------------------------- */

static int report_fanout(void)
{
	uint64_t losses = 0, dups = 0, reorder = 0, foreign = 0;
	uint64_t incomplete_subs = 0;
	int64_t k, nev = 0;
	int i;
	double span, dps, first_p50, first_p99, last_p50, last_p99;

	for (k = 1; k < next_counter; k++)
		nev += ev_acked[k] > 0;
	for (i = 0; i < nsubs_opened; i++) {
		struct conn *c = subs[i];
		uint64_t miss = 0;

		if (c->status != 200)
			continue;
		for (k = 1; k < next_counter; k++)
			if (ev_acked[k] > 0 && !bits_get(&c->seen, (uint64_t)k))
				miss++;
		losses += miss;
		incomplete_subs += miss > 0;
		dups += c->dups;
		reorder += c->reorder;
		foreign += c->foreign;
	}
	/* per event: time to its first subscriber (the server's pipeline:
	 * parse, store, dispatch) and to its last one (whole fan-out) */
	{
		static struct hist first, last;

		for (k = 1; k < next_counter; k++)
			if (ev_acked[k] > 0 && ev_first[k]) {
				hist_add(&first, (ev_first[k] - ev_sent[k]) / 1000);
				hist_add(&last, (ev_last[k] - ev_sent[k]) / 1000);
			}
		first_p50 = hist_pct(&first, 50) / 1e3;
		first_p99 = hist_pct(&first, 99) / 1e3;
		last_p50 = hist_pct(&last, 50) / 1e3;
		last_p99 = hist_pct(&last, 99) / 1e3;
	}
	span = secs(t_last_delivery - t_first_send);
	dps = span > 0 ? (double)deliveries / span : 0;
	printf("fanout target=%s subscribers=%d established=%d rate=%s duration=%.0fs\n",
	       opt.target == T_NCHAN ? "nchan" : "switchboard", opt.nsubs, nsubs_est,
	       opt.rate > 0 ? "fixed" : "saturation", opt.duration);
	printf("  events published (acked) %" PRId64 ", failed %" PRId64 ", event rate %.1f/s\n",
	       nev, n_pubfail, span > 0 ? (double)nev / span : 0);
	printf("  deliveries %" PRIu64 " in %.2f s = %.0f/s\n", deliveries, span, dps);
	printf("  losses %" PRIu64 " (subscribers missing events: %" PRIu64 "), duplicates %" PRIu64
	       ", reordered %" PRIu64 ", streams ended by server %" PRId64 ", closed %d\n",
	       losses, incomplete_subs, dups, reorder, stream_ends, nsubs_closed);
	printf("  latency ms: p50 %.2f p99 %.2f max %.2f (n=%" PRIu64 ")\n",
	       hist_pct(&lat, 50) / 1e3, hist_pct(&lat, 99) / 1e3, lat.max / 1e3, lat.n);
	printf("  per event ms: to first subscriber p50 %.2f p99 %.2f; to last subscriber p50 %.2f "
	       "p99 %.2f\n", first_p50, first_p99, last_p50, last_p99);
	if (n_pubfail)
		printf("  publish errors: last status %" PRId64 " body %s\n", pub_last_status,
		       pub_err_body);
	if (pub_closes)
		printf("  publisher connections ended %" PRId64 " times (%" PRId64
		       " with a POST in flight); last: %s\n", pub_closes, pub_closes_inflight,
		       pub_close_why);
	printf("RESULT mode=fanout target=%s subs=%d established=%d failed=%d rate=%g "
	       "events=%" PRId64 " pubfail=%" PRId64 " deliveries=%" PRIu64 " dps=%.0f "
	       "losses=%" PRIu64 " dups=%" PRIu64 " reorder=%" PRIu64 " foreign=%" PRIu64
	       " ended=%" PRId64 " p50_ms=%.2f p99_ms=%.2f max_ms=%.2f late=%" PRId64
	       " first_p50_ms=%.2f first_p99_ms=%.2f last_p50_ms=%.2f last_p99_ms=%.2f\n",
	       opt.target == T_NCHAN ? "nchan" : "switchboard", opt.nsubs, nsubs_est,
	       nsubs_failed + n_non200, opt.rate, nev, n_pubfail, deliveries, dps, losses, dups,
	       reorder, foreign, stream_ends, hist_pct(&lat, 50) / 1e3, hist_pct(&lat, 99) / 1e3,
	       lat.max / 1e3, late_sends, first_p50, first_p99, last_p50, last_p99);
	return (losses || dups || nsubs_est < opt.nsubs || nev == 0) ? 1 : 0;
}

static int report_idle(void)
{
	int alive = subs_alive();
	uint64_t foreign = 0;
	int i;

	for (i = 0; i < nsubs_opened; i++)
		foreign += subs[i]->foreign;
	printf("idle target=%s subscribers=%d established=%d still open=%d ended by server=%" PRId64
	       "\n", opt.target == T_NCHAN ? "nchan" : "switchboard", opt.nsubs, nsubs_est, alive,
	       stream_ends);
	printf("RESULT mode=idle target=%s subs=%d established=%d open=%d ended=%" PRId64 "\n",
	       opt.target == T_NCHAN ? "nchan" : "switchboard", opt.nsubs, nsubs_est, alive,
	       stream_ends);
	return alive == opt.nsubs ? 0 : 1;
}

static int report_replay(void)
{
	int i, ok = 0, short_clients = 0, disorder = 0;
	uint64_t missing = 0, dups = 0, extra = 0;
	int unknown = 0, expired = 0;
	int64_t first_pos = replay_first;	/* h_order index of the first missed event */
	int64_t need = opt.back + opt.live;
	double t_done_s = t_all_done ? secs(t_all_done - t_clients_start) : -1;
	double t_rep_s = t_replayed ? secs(t_replayed - t_clients_start) : -1;

	for (i = 0; i < nsubs_opened; i++) {
		struct conn *c = subs[i];
		int64_t j;
		int good = c->status == 200;

		unknown += c->saw_unknown;
		expired += c->saw_expired;
		dups += c->dups;
		extra += c->foreign;
		if ((int64_t)c->got < need) {
			missing += (uint64_t)(need - (int64_t)c->got);
			short_clients++;
			good = 0;
		}
		if (c->dups || c->foreign)
			good = 0;
		for (j = 0; j < (int64_t)c->nseq && good; j++) {
			int64_t pos = first_pos + j;

			if (pos >= (int64_t)h_n || c->seq[j] != h_order[pos]) {
				good = 0;
				/* a counter outside the expected window is "extra" */
				disorder++;
			}
		}
		if (good && (int64_t)c->nseq != need)
			good = 0;
		ok += good;
	}
	printf("replay target=%s clients=%d established=%d back=%d live=%d\n",
	       opt.target == T_NCHAN ? "nchan" : "switchboard", opt.clients, nsubs_est, opt.back,
	       opt.live);
	printf("  clients exact %d of %d; short %d (missing events %" PRIu64 "), duplicates %" PRIu64
	       ", unexpected events %" PRIu64 ", out of order %d\n",
	       ok, opt.clients, short_clients, missing, dups, extra, disorder);
	printf("  all connected %.3f s, all replayed %.3f s, all complete %.3f s "
	       "(from the first connect); comments: unknown %d expired %d\n",
	       t_clients_est ? secs(t_clients_est - t_clients_start) : -1.0, t_rep_s, t_done_s,
	       unknown, expired);
	printf("  latency of deliveries ms: p50 %.2f p99 %.2f max %.2f\n", hist_pct(&lat, 50) / 1e3,
	       hist_pct(&lat, 99) / 1e3, lat.max / 1e3);
	if (n_pubfail || pub_closes)
		printf("  publish errors %" PRId64 "; publisher connections ended %" PRId64
		       " times (%" PRId64 " with a POST in flight); last: %s\n", n_pubfail, pub_closes,
		       pub_closes_inflight, pub_close_why);
	printf("RESULT mode=replay target=%s clients=%d established=%d exact=%d short=%d "
	       "missing=%" PRIu64 " dups=%" PRIu64 " unexpected=%" PRIu64 " disorder=%d "
	       "connect_s=%.3f replayed_s=%.3f complete_s=%.3f unknown=%d expired=%d\n",
	       opt.target == T_NCHAN ? "nchan" : "switchboard", opt.clients, nsubs_est, ok,
	       short_clients, missing, dups, extra, disorder,
	       t_clients_est ? secs(t_clients_est - t_clients_start) : -1.0, t_rep_s, t_done_s,
	       unknown, expired);
	return ok == opt.clients ? 0 : 1;
}

/* ---- burst -------------------------------------------------------------------- */

static int64_t t_burst_done;
static double wall_first_send, wall_done;	/* CLOCK_REALTIME, seconds */

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keeps every publisher connection busy until P events were sent, then
 * waits for the last acknowledgements. */
static int tick_burst(void)
{
	struct conn *c;
	int i, busy = 0;

	while (next_counter <= opt.count && (c = pub_idle())) {
		if (next_counter == 1)
			wall_first_send = wall_now();
		pub_send(c, next_counter++);
	}
	for (i = 0; i < npubs; i++)
		busy += pubs[i]->inflight != 0;
	if (next_counter > opt.count && !busy) {
		t_burst_done = t_now;
		wall_done = wall_now();
		set_phase(PH_END);
		return 0;
	}
	return 5;
}

static int report_burst(void)
{
	double span = secs((t_burst_done ? t_burst_done : t_now) - t_first_send);

	printf("burst target=%s events=%d publisher connections=%d\n",
	       opt.target == T_NCHAN ? "nchan" : "switchboard", opt.count, opt.pubconns);
	printf("  acknowledged %" PRId64 ", failed %" PRId64 ", in %.3f s = %.0f/s\n", n_acked,
	       n_pubfail, span, span > 0 ? (double)n_acked / span : 0);
	if (n_pubfail)
		printf("  publish errors: last status %" PRId64 " body %s\n", pub_last_status,
		       pub_err_body);
	if (pub_closes)
		printf("  publisher connections ended %" PRId64 " times (%" PRId64
		       " with a POST in flight); last: %s\n", pub_closes, pub_closes_inflight,
		       pub_close_why);
	printf("RESULT mode=burst target=%s count=%d events=%" PRId64 " pubfail=%" PRId64
	       " pub_s=%.3f eps=%.0f t0=%.6f t1=%.6f\n",
	       opt.target == T_NCHAN ? "nchan" : "switchboard", opt.count, n_acked, n_pubfail,
	       span, span > 0 ? (double)n_acked / span : 0, wall_first_send, wall_done);
	return n_acked == opt.count && t_burst_done ? 0 : 1;
}

/* ---- main loop ------------------------------------------------------------------ */

static void handle(struct conn *c, uint32_t ev)
{
	if (c->st == CS_CLOSED)
		return;
	if (c->st == CS_CONNECTING && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		int err = 0;
		socklen_t el = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			conn_close(c);
			if (c->kind == K_PUB)
				on_pub_closed(c, "connect", err);
			return;
		}
		c->st = c->kind == K_PUB ? CS_OPEN : CS_SENDING;
		if (c->kind == K_PUB && c->outoff >= c->outlen) {
			conn_want(c, EPOLLIN);
			return;
		}
		c->want_out = 1;
	}
	if ((ev & EPOLLOUT) && c->outoff < c->outlen) {
		if (conn_flush(c) < 0) {
			int e = errno;

			conn_close(c);
			if (c->kind == K_PUB)
				on_pub_closed(c, "send", e);
			return;
		}
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ssize_t r = recv(c->fd, rbuf, RBUF_SIZE, 0);

		t_now = now_ns();

		if (r > 0) {
			if (http_feed(c, rbuf, (size_t)r) < 0) {
				conn_close(c);
				if (c->kind == K_PUB)
					on_pub_closed(c, "bad HTTP response", 0);
			}
		} else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			int e = r == 0 ? 0 : errno;

			if (c->kind != K_PUB && c->hs == HS_BODY_EOF)
				stream_ends++;
			conn_close(c);
			if (c->kind == K_PUB)
				on_pub_closed(c, r == 0 ? "closed by server" : "recv", e);
		}
	}
}

static void on_signal(int s)
{
	(void)s;
	stop_sig = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: sseload fanout|idle|replay|burst --target switchboard|nchan --port PORT [options]\n"
		"  --host ADDR        loopback address (127.0.0.1)\n"
		"  --topic T          topic / channel (bench)\n"
		"  --sub-path P       subscribe path (default /sse?topic=T or /sub?channel=T)\n"
		"  --pub-path P       publish path (default /publish or /pub?channel=T)\n"
		"  -n N               subscribers (fanout, idle) (1000)\n"
		"  --rate R           events/s, 0 = saturation (10)\n"
		"  --duration D       seconds of publishing (10)\n"
		"  --window W         saturation: events in flight end to end (4)\n"
		"  --pubconns K       publisher connections (4)\n"
		"  --batch B          connects in flight (256)\n"
		"  --connect-timeout S, --drain S, --timeout S\n"
		"  --hold S           idle: seconds to hold after READY (0 = until SIGTERM)\n"
		"  --count P --back B --clients C --live L --live-rate R   replay\n"
		"  --count P          burst: events to publish (1000)\n"
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
	else if (!strcmp(argv[1], "replay"))
		opt.mode = M_REPLAY;
	else if (!strcmp(argv[1], "burst"))
		opt.mode = M_BURST;
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
		} else if (ARG("--host"))
			snprintf(opt.host, sizeof(opt.host), "%s", v);
		else if (ARG("--port"))
			opt.port = atoi(v);
		else if (ARG("--topic"))
			snprintf(opt.topic, sizeof(opt.topic), "%s", v);
		else if (ARG("--sub-path"))
			snprintf(opt.sub_path, sizeof(opt.sub_path), "%s", v);
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
		else if (ARG("--batch"))
			opt.batch = atoi(v);
		else if (ARG("--connect-timeout"))
			opt.connect_timeout = atof(v);
		else if (ARG("--drain"))
			opt.drain = atof(v);
		else if (ARG("--hold"))
			opt.hold = atof(v);
		else if (ARG("--count"))
			opt.count = atoi(v);
		else if (ARG("--back"))
			opt.back = atoi(v);
		else if (ARG("--clients"))
			opt.clients = atoi(v);
		else if (ARG("--live"))
			opt.live = atoi(v);
		else if (ARG("--live-rate"))
			opt.live_rate = atof(v);
		else if (ARG("--timeout"))
			opt.timeout = atof(v);
		else if (!strcmp(a, "--quiet"))
			opt.quiet = 1;
		else
			usage();
#undef ARG
	}
	if (opt.port <= 0 || opt.port > 65535 || opt.nsubs < 1 || opt.pubconns < 1 ||
	    opt.window < 1 || opt.batch < 1 || opt.clients < 1 || opt.back < 1 ||
	    opt.count < 1 || (opt.mode == M_REPLAY && opt.count < opt.back) || opt.live < 0 ||
	    opt.duration <= 0)
		usage();
	if (!opt.sub_path[0])
		snprintf(opt.sub_path, sizeof(opt.sub_path),
			 opt.target == T_NCHAN ? "/sub?channel=%s" : "/sse?topic=%s", opt.topic);
	if (!opt.pub_path[0]) {
		if (opt.target == T_NCHAN)
			snprintf(opt.pub_path, sizeof(opt.pub_path), "/pub?channel=%s", opt.topic);
		else
			snprintf(opt.pub_path, sizeof(opt.pub_path), "/publish");
	}
	if (opt.timeout <= 0) {
		opt.timeout = opt.connect_timeout + 120;
		if (opt.mode == M_FANOUT)
			opt.timeout += opt.duration + opt.drain;
		if (opt.mode == M_IDLE && opt.hold > 0)
			opt.timeout += opt.hold;
		if (opt.mode == M_IDLE && opt.hold <= 0)
			opt.timeout = 3600;
	}
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	struct epoll_event *evs;
	struct sigaction sa;
	int rc, nev = 4096;

	parse_args(argc, argv);

	/* Loopback only. */
	memset(&srv, 0, sizeof(srv));
	srv.sin_family = AF_INET;
	srv.sin_port = htons((uint16_t)opt.port);
	if (!strcmp(opt.host, "localhost"))
		snprintf(opt.host, sizeof(opt.host), "127.0.0.1");
	if (inet_pton(AF_INET, opt.host, &srv.sin_addr) != 1 ||
	    (ntohl(srv.sin_addr.s_addr) >> 24) != 127)
		die("--host must be an IPv4 loopback address (127.x.x.x), got %s", opt.host);

	/* Raise the fd limit to the hard limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
		{
			int need = (opt.mode == M_REPLAY ? opt.clients : opt.mode == M_BURST ? 0
				    : opt.nsubs) + opt.pubconns + 16;

			if (rl.rlim_cur < (rlim_t)need)
				die("RLIMIT_NOFILE is %llu, need %d (raise the hard limit: ulimit -Hn)",
				    (unsigned long long)rl.rlim_cur, need);
		}
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1: %s", strerror(errno));
	rbuf = xcalloc(1, RBUF_SIZE);
	evs = xcalloc((size_t)nev, sizeof(*evs));
	ev_grow(1024);

	t_start = t_now = now_ns();
	t_phase = t_now;
	if (opt.mode == M_REPLAY) {
		subs_alloc(opt.clients, K_SUB);
		helper = xcalloc(1, sizeof(*helper));
		helper->kind = K_HELPER;
		build_sub_req(NULL);
		if (sub_open(helper) < 0)
			die("cannot connect to %s:%d", opt.host, opt.port);
		set_phase(PH_HELPER);
	} else if (opt.mode == M_BURST) {
		if (pub_connect_all() < 0)
			die("cannot connect to %s:%d", opt.host, opt.port);
		set_phase(PH_RUN);
	} else {
		subs_alloc(opt.nsubs, K_SUB);
		build_sub_req(NULL);
		set_phase(PH_CONNECT);
	}

	for (;;) {
		int timeout_ms, n, i;

		t_now = now_ns();
		if (stop_sig) {
			if (!opt.quiet)
				fprintf(stderr, "sseload: stopped by signal\n");
			break;
		}
		if (t_now - t_start > (int64_t)(opt.timeout * 1e9)) {
			fprintf(stderr, "sseload: overall timeout (%.0f s)\n", opt.timeout);
			break;
		}
		timeout_ms = opt.mode == M_REPLAY ? tick_replay()
			   : opt.mode == M_BURST ? tick_burst() : tick_fanout();
		if (phase == PH_END)
			break;
		n = epoll_wait(epfd, evs, nev, timeout_ms);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		t_now = now_ns();
		for (i = 0; i < n; i++)
			handle(evs[i].data.ptr, evs[i].events);
	}

	if (n_non200)
		fprintf(stderr, "sseload: %d subscriber requests got a non-200 status (first %d)\n",
			n_non200, first_bad_status);
	if (opt.mode == M_FANOUT)
		rc = report_fanout();
	else if (opt.mode == M_IDLE)
		rc = report_idle();
	else if (opt.mode == M_BURST)
		rc = report_burst();
	else
		rc = report_replay();
	fflush(stdout);
	free(evs);
	return rc;
}
