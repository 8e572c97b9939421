/* router.h - the WAMP router: realms, sessions, and the dispatch of their
 * messages to the broker (pub/sub) and the dealer (RPC).
 *
 * The router knows sessions, not sockets.  A transport (ws.c for
 * WebSocket peers, publish.c's HTTP caller for in-process ones) creates a
 * session with a small table of send/close operations, feeds it every
 * message it receives with router_receive(), and calls router_session_gone()
 * when the peer has gone.  Everything the router says to a peer goes back
 * through those operations, so a WebSocket client and the HTTP caller are
 * routed by exactly the same code.
 *
 * Loop thread only.
 */
#ifndef SB_ROUTER_H
#define SB_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "acl.h"
#include "map.h"
#include "wamp.h"

struct broker;
struct dealer;
struct auth_state;
struct authorizer_ask;
struct gateway;
struct router;
struct session;
struct subscription;
struct registration;

/* A configured realm at run time. */
struct realm {
	const struct sb_realm *cfg;
	struct broker *broker;
	struct dealer *dealer;
	struct session *sessions;  /* established, doubly linked */
};

struct session_ops {
	/* Sends one message; steals msg. */
	void (*send)(struct session *s, json_t *msg);
	/* Sends an encoded frame (borrowed: take a reference to queue it).
	 * Only called for sessions with a wire serializer. */
	void (*send_frame)(struct session *s, struct wamp_frame *frame);
	/* Closes the transport once what is queued has been sent.  code is
	 * a WebSocket close code (1000 normal, 1001 going away, 1002
	 * protocol error, 1009 too big). */
	void (*close)(struct session *s, int code);
};

enum session_state {
	SESSION_HELLO_WAIT,
	SESSION_AUTHENTICATING,    /* between HELLO and WELCOME (auth.c) */
	SESSION_ESTABLISHED,
	SESSION_CLOSED,
};

/* What the peer announced in HELLO that routing depends on. */
struct session_features {
	bool callee_cancel;        /* roles.callee.features.call_canceling */
	bool callee_progress;      /* roles.callee.features.progressive_call_results */
};

struct session {
	uint64_t id;               /* 0 until WELCOME */
	struct router *router;
	struct realm *realm;       /* NULL until WELCOME */
	const struct sb_role *role;
	char *authid, *authrole;
	const char *authmethod;    /* "anonymous", "ticket", ..., "internal" */
	const char *authprovider;  /* "static", "dynamic" */
	json_t *authextra;         /* from a dynamic authenticator, or NULL */
	enum session_state state;
	enum wamp_serializer serializer;  /* WAMP_INTERNAL for in-process */
	const struct session_ops *ops;
	void *transport;           /* the transport's own state */
	const struct sb_path *path; /* its websocket path: auth methods, roles */
	struct auth_state *auth;   /* while authenticating (auth.c) */
	char peer[64];             /* the client's address first: log lines, throttling */
	struct session_features features;

	struct session *prev, *next;          /* realm's sessions */
	struct subscription **subscriptions;  /* held, for leaving */
	size_t n_subscriptions, cap_subscriptions;
	struct registration **registrations;
	size_t n_registrations, cap_registrations;
	struct map calls;          /* as caller: CALL request id -> call */
	struct map invocations;    /* as callee: INVOCATION id -> call */
	uint64_t last_invocation_id;

	/* A role with a dynamic authorizer: messages wait in order while it
	 * decides; the verdict holds for the one message being dispatched. */
	json_t **held;
	size_t n_held, cap_held;
	struct authorizer_ask *asking;
	bool has_verdict;
	bool verdict_allows, verdict_discloses;
};

struct router *router_new(struct gateway *gw);
void router_free(struct router *r);

/* A new session waiting for HELLO.  peer is copied; path (its websocket
 * path: authentication methods, the anonymous role) is borrowed from the
 * config; NULL = anonymous as "anonymous". */
struct session *router_session_new(struct router *r, const struct session_ops *ops,
				   void *transport, enum wamp_serializer ser,
				   const char *peer, const struct sb_path *path);

/* An in-process session, established at once in realm with role (as
 * Crossbar's bridge services join).  NULL if the realm or role does not
 * exist. */
struct session *router_session_join(struct router *r, const struct session_ops *ops,
				    void *transport, const char *realm, const char *role,
				    const char *authid);

/* One message from the peer (bytes, or already decoded: steals msg). */
void router_receive_bytes(struct session *s, const void *data, size_t len);
void router_receive(struct session *s, json_t *msg);

/* The peer has gone: leave the realm, fail what waits on it, free s. */
void router_session_gone(struct session *s);

/* Says GOODBYE (wamp.close.system_shutdown) to every session and asks
 * the transports to close. */
void router_shutdown(struct router *r);

/* Ends a session with ABORT reason and message, then closes with code.
 * Further input from the peer is ignored. */
void router_abort(struct session *s, const char *reason, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- used by auth.c ---------------------------------------------------- */

/* Authentication succeeded: join realm as role (which must exist there,
 * else ABORT no_such_role) with this session id, and send WELCOME.
 * Strings and authextra are copied/borrowed. */
void router_welcome(struct session *s, struct realm *realm, uint64_t id, const char *role,
		    const char *authid, const char *authmethod, const char *authprovider,
		    json_t *authextra);
struct realm *router_find_realm(struct router *r, const char *name);

/* ---- used by broker.c and dealer.c ------------------------------------- */

struct gateway *router_gateway(const struct router *r);
uint64_t router_next_id(struct router *r);    /* subscription/registration ids */

/* The established session with this id, or NULL (it has left). */
struct session *router_find_session(struct router *r, uint64_t id);

/* Sends [8, type, request, {}, uri, [message]]. */
void session_error(struct session *s, int type, uint64_t request, const char *uri,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* SUBSCRIBE/REGISTER options.match as a uri_match (exact when absent), or
 * -1 after answering ERROR wamp.error.invalid_argument. */
int session_match_option(struct session *s, int type, uint64_t request, const json_t *options);

/* True if the session's role (its static permissions, or the verdict its
 * authorizer gave for the message being dispatched) allows action on uri;
 * otherwise answers ERROR wamp.error.not_authorized (when request != 0)
 * and returns false. */
bool session_authorize(struct session *s, enum acl_action action, int type,
		       uint64_t request, const char *uri);

/* Whether the role discloses the session's identity to callees (ACL_CALL)
 * or subscribers (ACL_PUBLISH) for uri. */
bool session_discloses(const struct session *s, enum acl_action action, const char *uri);

/* Sends one message; steals msg. */
void session_send(struct session *s, json_t *msg);

/* Remembers that s holds p (a subscription or registration), or forgets. */
void session_hold(void ***items, size_t *n, size_t *cap, void *p);
void session_release(void **items, size_t *n, void *p);

#endif
