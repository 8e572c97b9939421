/* gateway.h - the running gateway: one loop, its listeners, the bus, the
 * history, and the counters /info and /metrics report.
 *
 * Threads: the loop thread runs everything (MHD, libwebsockets, timers,
 * fan-out, replay reads); the history writer thread only writes SQLite.
 */
#ifndef SB_GATEWAY_H
#define SB_GATEWAY_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"
#include "map.h"

struct bus;
struct deferred;
struct forwarder;
struct history;
struct httpclient;
struct listener;
struct nonce_log;
struct restcallee;
struct router;
struct sse_hub;
struct ws_server;

struct gateway_stats {
	uint64_t http_connections;     /* open, handed to MHD */
	uint64_t http_requests;        /* answered */
	uint64_t ws_connections;       /* open WebSocket connections */
	uint64_t ws_overflows;         /* WebSockets dropped for a full queue */
	uint64_t wamp_sessions;        /* established WAMP sessions */
	uint64_t registrations;        /* WAMP registrations */
	uint64_t sse_clients;          /* open SSE streams */
	uint64_t sse_cuts;             /* streams ended for being too slow */
	uint64_t events_replayed;      /* events sent from history */
};

struct gateway {
	uv_loop_t *loop;
	const struct sb_config *cfg;   /* borrowed */
	const char *www_dir;           /* default static root */
	int64_t started_ms;
	struct bus *bus;
	struct history *history;
	struct sse_hub *sse;
	struct ws_server *ws;
	struct router *router;
	struct map callers;            /* caller.c: in-process callers by realm, role */
	struct map auth_failures;      /* auth.c: failed logins per client address */
	struct map authorizer_cache;   /* authorizer.c: cached verdicts */
	uv_idle_t later;               /* runs what gateway_defer() queued */
	struct deferred *later_head, *later_tail;
	bool is_later_open;
	struct httpclient *httpclient; /* outgoing HTTP (REST callees, forwarders) */
	struct nonce_log *nonces;      /* signing.c: nonces of signed requests */
	struct restcallee **callees;   /* parallel to cfg->components; NULL = */
	struct forwarder **forwarders; /* not that kind, or could not start */
	struct listener **listeners;
	size_t n_listeners;
	struct gateway_stats stats;
	bool is_stopping;
	uv_signal_t sigterm, sigint, sighup, sigpipe;
};

/* Runs the gateway until SIGTERM/SIGINT.  Returns the process exit code. */
int gateway_run(const struct sb_config *cfg, const char *www_dir, const char *schema_dir);

/* Runs fn(ctx) once on a later turn of the loop, never inside the call
 * that asked: how answers reach code that may still be on the stack.
 * Dropped if the gateway stops first. */
void gateway_defer(struct gateway *gw, void (*fn)(void *ctx), void *ctx);

/* The realm/role a path serves, looked up in the config; NULL if none. */
const struct sb_role *gateway_path_role(const struct gateway *gw, const struct sb_path *path);

#endif
