/* router.c - realms, session lifecycle and message dispatch (see router.h).
 *
 * A session's life: HELLO (anonymous join) -> WELCOME -> requests handed
 * to the broker or the dealer -> GOODBYE or a vanished transport.  Any
 * protocol violation ends it with ABORT wamp.error.protocol_violation and
 * a 1002 close; the session then ignores its peer until the transport
 * reports it gone, so nothing a client sends can reach freed state.
 */
#include "router.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "authorizer.h"
#include "broker.h"
#include "config.h"
#include "dealer.h"
#include "gateway.h"
#include "log.h"
#include "meta.h"
#include "uri.h"
#include "util.h"

struct router {
	struct gateway *gw;
	struct realm *realms;
	size_t n_realms;
	struct session *pending;   /* sessions not in a realm (HELLO wait, closed) */
	struct map by_id;          /* session id (8 bytes) -> established session */
	uint64_t last_id;          /* subscription and registration ids */
};

/* Crossbar's built-in role that may do anything. */
static struct sb_permission trusted_permission = {
	.uri = "", .match = URI_PREFIX, .allow_call = true, .allow_register = true,
	.allow_publish = true, .allow_subscribe = true,
};
static const struct sb_role trusted_role = {"trusted", &trusted_permission, 1, NULL};

static const char *const session_features_broker[] = {
	"publisher_identification", "pattern_based_subscription", "publisher_exclusion",
	"subscriber_blackwhite_listing", "session_meta_api", "event_history", NULL,
};
static const char *const session_features_dealer[] = {
	"caller_identification", "pattern_based_registration", "shared_registration",
	"progressive_call_results", "call_canceling", "call_timeout", "session_meta_api", NULL,
};

/* ---- router ------------------------------------------------------------------ */

struct router *router_new(struct gateway *gw)
{
	struct router *r = xcalloc(1, sizeof *r);
	r->gw = gw;
	r->n_realms = gw->cfg->n_realms;
	r->realms = xcalloc(r->n_realms ? r->n_realms : 1, sizeof *r->realms);
	for (size_t i = 0; i < r->n_realms; i++) {
		struct realm *realm = &r->realms[i];
		realm->cfg = &gw->cfg->realms[i];
		realm->broker = broker_new(r, realm->cfg->name);
		realm->dealer = dealer_new(r);
	}
	return r;
}


void router_free(struct router *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_realms; i++) {
		struct realm *realm = &r->realms[i];
		while (realm->sessions)
			router_session_gone(realm->sessions);
		broker_free(realm->broker);
		dealer_free(realm->dealer);
	}
	while (r->pending)
		router_session_gone(r->pending);
	map_clear(&r->by_id);
	free(r->realms);
	free(r);
}

struct gateway *router_gateway(const struct router *r)
{
	return r->gw;
}

uint64_t router_next_id(struct router *r)
{
	return ++r->last_id;
}

struct session *router_find_session(struct router *r, uint64_t id)
{
	return map_get(&r->by_id, (const char *)&id, sizeof id);
}

struct realm *router_find_realm(struct router *r, const char *name)
{
	for (size_t i = 0; i < r->n_realms; i++)
		if (!strcmp(r->realms[i].cfg->name, name))
			return &r->realms[i];
	return NULL;
}

static const struct sb_role *find_role(const struct realm *realm, const char *name)
{
	const struct sb_role *role = config_role(realm->cfg, name);
	return role || strcmp(name, "trusted") ? role : &trusted_role;
}

/* ---- session lists ----------------------------------------------------------- */

static void list_insert(struct session **head, struct session *s)
{
	s->prev = NULL;
	s->next = *head;
	if (*head)
		(*head)->prev = s;
	*head = s;
}

static void list_remove(struct session **head, struct session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else if (*head == s)
		*head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

static struct session *session_alloc(struct router *r, const struct session_ops *ops,
				     void *transport, enum wamp_serializer ser, const char *peer)
{
	struct session *s = xcalloc(1, sizeof *s);
	s->router = r;
	s->ops = ops;
	s->transport = transport;
	s->serializer = ser;
	snprintf(s->peer, sizeof s->peer, "%s", peer);
	return s;
}

struct session *router_session_new(struct router *r, const struct session_ops *ops,
				   void *transport, enum wamp_serializer ser,
				   const char *peer, const struct sb_path *path)
{
	struct session *s = session_alloc(r, ops, transport, ser, peer);
	s->path = path;
	list_insert(&r->pending, s);
	return s;
}

void session_hold(void ***items, size_t *n, size_t *cap, void *p)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		*items = xrealloc(*items, *cap * sizeof **items);
	}
	(*items)[(*n)++] = p;
}

void session_release(void **items, size_t *n, void *p)
{
	for (size_t i = 0; i < *n; i++) {
		if (items[i] == p) {
			items[i] = items[--*n];
			return;
		}
	}
}

/* ---- sending ----------------------------------------------------------------- */

void session_send(struct session *s, json_t *msg)
{
	if (s->state == SESSION_CLOSED) {
		json_decref(msg);
		return;
	}
	s->ops->send(s, msg);
}

void session_error(struct session *s, int type, uint64_t request, const char *uri,
		   const char *fmt, ...)
{
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	session_send(s, json_pack("[i, i, I, {}, s, [s]]", WAMP_ERROR, type, (json_int_t)request,
				  uri, message));
}

int session_match_option(struct session *s, int type, uint64_t request, const json_t *options)
{
	json_t *v = json_object_get(options, "match");
	int match = v ? uri_match_parse(json_string_value(v) ?: "") : URI_EXACT;
	if (match < 0)
		session_error(s, type, request, "wamp.error.invalid_argument",
			      "options.match must be \"exact\", \"prefix\" or \"wildcard\"");
	return match;
}

static const char *action_name(enum acl_action action)
{
	switch (action) {
	case ACL_CALL: return "call procedure";
	case ACL_REGISTER: return "register procedure";
	case ACL_PUBLISH: return "publish to topic";
	case ACL_SUBSCRIBE: return "subscribe to topic";
	}
	return "use";
}

bool session_authorize(struct session *s, enum acl_action action, int type,
		       uint64_t request, const char *uri)
{
	if (s->role->authorizer ? s->has_verdict && s->verdict_allows
				: acl_allows(s->role, action, uri))
		return true;
	if (request)
		session_error(s, type, request, "wamp.error.not_authorized",
			      "session (session_id=%llu, authid=\"%s\", authrole=\"%s\") is not "
			      "authorized to %s \"%s\" on realm \"%s\"", (unsigned long long)s->id,
			      s->authid, s->authrole, action_name(action), uri, s->realm->cfg->name);
	return false;
}

bool session_discloses(const struct session *s, enum acl_action action, const char *uri)
{
	if (s->role->authorizer)
		return s->has_verdict && s->verdict_discloses;
	const struct sb_permission *rule = acl_rule(s->role, uri);
	return rule && (action == ACL_CALL ? rule->disclose_caller : rule->disclose_publisher);
}

static void leave_realm(struct session *s);
static void drop_held(struct session *s);

/* Ends the session now: what it held is released at once (callers of its
 * pending invocations are answered), not when the transport finally goes. */
static void end_session(struct session *s, int code)
{
	s->ops->close(s, code);
	s->state = SESSION_CLOSED;
	auth_cancel(s);
	leave_realm(s);
}

void router_abort(struct session *s, const char *reason, int code, const char *fmt, ...)
{
	char message[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	if (s->state == SESSION_CLOSED)
		return;
	log_msg(LOG_INFO, "wamp", "%s: ABORT %s: %s", s->peer, reason, message);
	s->ops->send(s, json_pack("[i, {s:s}, s]", WAMP_ABORT, "message", message, reason));
	end_session(s, code);
}

static void protocol_violation(struct session *s, const char *message)
{
	router_abort(s, "wamp.error.protocol_violation", 1002, "%s", message);
}

/* ---- joining and leaving ----------------------------------------------------- */

static json_t *feature_dict(const char *const *names)
{
	json_t *features = json_object();
	for (size_t i = 0; names[i]; i++)
		json_object_set_new(features, names[i], json_true());
	return json_pack("{s:o}", "features", features);
}

/* Crossbar-style anonymous authid: six groups of four. */
static char *random_authid(void)
{
	static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXY3456789";
	char id[30];
	uint64_t bits = wamp_random_id() ^ (wamp_random_id() << 11);
	size_t n = 0;
	for (int i = 0; i < 24; i++) {
		if (i && i % 4 == 0)
			id[n++] = '-';
		if (i == 12)
			bits = wamp_random_id() ^ (wamp_random_id() << 11);
		id[n++] = alphabet[bits % (sizeof alphabet - 1)];
		bits /= sizeof alphabet - 1;
	}
	id[n] = '\0';
	return xstrdup(id);
}

static void enter_realm(struct session *s, struct realm *realm, const struct sb_role *role,
			const char *authid, const char *authmethod, uint64_t id)
{
	struct router *r = s->router;
	list_remove(&r->pending, s);
	s->id = id;
	while (!s->id || map_get(&r->by_id, (const char *)&s->id, sizeof s->id))
		s->id = wamp_random_id();
	map_put(&r->by_id, (const char *)&s->id, sizeof s->id, s);
	s->realm = realm;
	s->role = role;
	s->authrole = xstrdup(role->name);
	s->authid = authid ? xstrdup(authid) : random_authid();
	s->authmethod = authmethod;
	s->authprovider = "static";
	s->state = SESSION_ESTABLISHED;
	list_insert(&realm->sessions, s);
	r->gw->stats.wamp_sessions++;
}

/* Drops everything the session holds in its realm; back to HELLO wait. */
static void leave_realm(struct session *s)
{
	struct router *r = s->router;
	struct realm *realm = s->realm;
	if (!realm)
		return;
	drop_held(s);
	broker_session_left(realm->broker, s);
	dealer_session_left(realm->dealer, s);
	list_remove(&realm->sessions, s);
	meta_session_left(s);
	r->gw->stats.wamp_sessions--;
	map_remove(&r->by_id, (const char *)&s->id, sizeof s->id);
	list_insert(&r->pending, s);
	free(s->authid);
	free(s->authrole);
	json_decref(s->authextra);
	s->authid = s->authrole = NULL;
	s->authextra = NULL;
	s->realm = NULL;
	s->role = NULL;
	s->id = 0;
}

/* roles: {"caller": {"features": {...}}, ...}; routing reads features. */
static bool roles_are_valid(const json_t *roles)
{
	const char *name;
	json_t *role;
	if (!roles)
		return true;               /* older clients; no features then */
	if (!json_is_object(roles))
		return false;
	json_object_foreach((json_t *)roles, name, role) {
		json_t *features = json_object_get(role, "features");
		if (!json_is_object(role) || (features && !json_is_object(features)))
			return false;
	}
	return true;
}

static void read_features(struct session *s, const json_t *details)
{
	json_t *callee = json_object_get(json_object_get(json_object_get(details, "roles"),
							 "callee"), "features");
	/* The progressive-invocations text spells it with two l's. */
	s->features.callee_cancel = wamp_opt_true(callee, "call_canceling") ||
				    wamp_opt_true(callee, "call_cancelling");
	s->features.callee_progress = wamp_opt_true(callee, "progressive_call_results");
}

/* Checks a HELLO; returns its realm, or NULL after an ABORT. */
static struct realm *hello_realm(struct session *s, const json_t *msg)
{
	const char *realm_name = json_string_value(json_array_get(msg, 1));
	json_t *details = json_array_get(msg, 2);
	struct realm *realm = NULL;
	if (!uri_is_valid(realm_name))
		protocol_violation(s, "HELLO realm is not a valid URI");
	else if (!roles_are_valid(json_object_get(details, "roles")))
		protocol_violation(s, "HELLO.Details.roles must be a dict of role names to dicts");
	else if (!(realm = router_find_realm(s->router, realm_name)))
		router_abort(s, "wamp.error.no_such_realm", 1000, "no realm \"%s\" exists on this "
			     "router", realm_name);
	return realm;
}

/* Authentication (auth.c) decides who the session is, then WELCOME. */
static void on_hello(struct session *s, json_t *msg)
{
	struct realm *realm = hello_realm(s, msg);
	if (!realm)
		return;
	read_features(s, json_array_get(msg, 2));
	s->state = SESSION_AUTHENTICATING;
	auth_hello(s, realm, msg);
}

void router_welcome(struct session *s, struct realm *realm, uint64_t id, const char *role_name,
		    const char *authid, const char *authmethod, const char *authprovider,
		    json_t *authextra)
{
	const struct sb_role *role = find_role(realm, role_name);
	if (!role) {
		router_abort(s, "wamp.error.no_such_role", 1000, "role \"%s\" does not exist on "
			     "realm \"%s\"", role_name, realm->cfg->name);
		return;
	}
	enter_realm(s, realm, role, authid, authmethod, id);
	s->authprovider = authprovider;
	s->authextra = json_incref(authextra);
	log_msg(LOG_DEBUG, "wamp", "%s: session %llu joined realm %s as %s (%s)", s->peer,
		(unsigned long long)s->id, realm->cfg->name, role->name, authmethod);
	json_t *roles = json_pack("{s:o, s:o}", "broker", feature_dict(session_features_broker),
				  "dealer", feature_dict(session_features_dealer));
	json_t *details = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "realm",
				    realm->cfg->name, "authid", s->authid, "authrole", s->authrole,
				    "authmethod", s->authmethod, "authprovider", authprovider,
				    "agent", "Switchboard-" PACKAGE_VERSION, "roles", roles);
	if (authextra)
		json_object_set(details, "authextra", authextra);
	session_send(s, json_pack("[i, I, o]", WAMP_WELCOME, (json_int_t)s->id, details));
	meta_session_joined(s);
}

struct session *router_session_join(struct router *r, const struct session_ops *ops,
				    void *transport, const char *realm_name, const char *role_name,
				    const char *authid)
{
	struct realm *realm = router_find_realm(r, realm_name);
	const struct sb_role *role = realm ? find_role(realm, role_name) : NULL;
	if (!role)
		return NULL;
	struct session *s = session_alloc(r, ops, transport, WAMP_INTERNAL, authid);
	list_insert(&r->pending, s);
	enter_realm(s, realm, role, authid, "internal", 0);
	meta_session_joined(s);
	return s;
}

static void on_goodbye(struct session *s)
{
	session_send(s, json_pack("[i, {}, s]", WAMP_GOODBYE, "wamp.close.goodbye_and_out"));
	leave_realm(s);
	s->state = SESSION_HELLO_WAIT;    /* the transport may carry a new HELLO */
}

void router_session_gone(struct session *s)
{
	struct router *r = s->router;
	auth_cancel(s);
	leave_realm(s);
	list_remove(&r->pending, s);
	map_clear(&s->calls);
	map_clear(&s->invocations);
	free(s->subscriptions);
	free(s->registrations);
	free(s);
}

void router_shutdown(struct router *r)
{
	for (size_t i = 0; i < r->n_realms; i++) {
		for (struct session *s = r->realms[i].sessions; s; s = s->next) {
			if (s->serializer == WAMP_INTERNAL)
				continue;
			session_send(s, json_pack("[i, {s:s}, s]", WAMP_GOODBYE, "message",
						  "the router is shutting down",
						  "wamp.close.system_shutdown"));
			s->ops->close(s, 1001);
			s->state = SESSION_CLOSED;
		}
	}
	for (struct session *s = r->pending; s; s = s->next) {
		if (s->state != SESSION_CLOSED)
			s->ops->close(s, 1001);
		s->state = SESSION_CLOSED;
	}
}

/* ---- dispatch ---------------------------------------------------------------- */

static void dispatch_established(struct session *s, int code, json_t *msg);

/* The action a message asks to be authorized for, if any. */
static bool action_of(int code, enum acl_action *action)
{
	switch (code) {
	case WAMP_PUBLISH: *action = ACL_PUBLISH; return true;
	case WAMP_SUBSCRIBE: *action = ACL_SUBSCRIBE; return true;
	case WAMP_CALL: *action = ACL_CALL; return true;
	case WAMP_REGISTER: *action = ACL_REGISTER; return true;
	default: return false;
	}
}

static void drain(struct session *s);

static void take_verdict(struct session *s, struct verdict v)
{
	s->has_verdict = true;
	s->verdict_allows = v.allow;
	s->verdict_discloses = v.disclose;
}

static void on_verdict(void *ctx, struct verdict v)
{
	struct session *s = ctx;
	s->asking = NULL;
	take_verdict(s, v);
	drain(s);
}

/* Dispatches held messages in order; an action the authorizer has not
 * decided before (cache) waits for its verdict, and everything after it
 * waits with it. */
static void drain(struct session *s)
{
	struct gateway *gw = router_gateway(s->router);
	while (s->n_held && !s->asking && s->state == SESSION_ESTABLISHED) {
		json_t *msg = s->held[0];
		int code = (int)json_integer_value(json_array_get(msg, 0));
		const char *uri = json_string_value(json_array_get(msg, 3));
		enum acl_action action;
		struct verdict v;
		if (!s->has_verdict && action_of(code, &action)) {
			if (authorizer_cached(gw, s->realm->cfg->name, s->authrole, action, uri, &v)) {
				take_verdict(s, v);
			} else {
				s->asking = authorizer_ask(gw, s->realm->cfg->name, s->role->authorizer,
							   s->authrole, action, uri,
							   meta_session_details(s), on_verdict, s);
				return;
			}
		}
		memmove(s->held, s->held + 1, --s->n_held * sizeof *s->held);
		dispatch_established(s, code, msg);
		s->has_verdict = false;
		json_decref(msg);
	}
}

static void hold(struct session *s, json_t *msg)
{
	session_hold((void ***)&s->held, &s->n_held, &s->cap_held, json_incref(msg));
	if (!s->asking)
		drain(s);
}

static void drop_held(struct session *s)
{
	if (s->asking)
		authorizer_forget(s->asking);
	s->asking = NULL;
	while (s->n_held)
		json_decref(s->held[--s->n_held]);
	free(s->held);
	s->held = NULL;
	s->cap_held = 0;
	s->has_verdict = false;
}

static void dispatch_established(struct session *s, int code, json_t *msg)
{
	struct realm *realm = s->realm;
	switch (code) {
	case WAMP_PUBLISH: broker_publish(realm->broker, s, msg); break;
	case WAMP_SUBSCRIBE: broker_subscribe(realm->broker, s, msg); break;
	case WAMP_UNSUBSCRIBE: broker_unsubscribe(realm->broker, s, msg); break;
	case WAMP_CALL: dealer_call(realm->dealer, s, msg); break;
	case WAMP_CANCEL: dealer_cancel(realm->dealer, s, msg); break;
	case WAMP_REGISTER: dealer_register(realm->dealer, s, msg); break;
	case WAMP_UNREGISTER: dealer_unregister(realm->dealer, s, msg); break;
	case WAMP_YIELD: dealer_yield(realm->dealer, s, msg); break;
	case WAMP_ERROR:
		if (json_integer_value(json_array_get(msg, 1)) != WAMP_INVOCATION)
			protocol_violation(s, "a peer may only send ERROR for an INVOCATION");
		else
			dealer_invocation_error(realm->dealer, s, msg);
		break;
	case WAMP_GOODBYE: on_goodbye(s); break;
	case WAMP_ABORT:
		end_session(s, 1000);
		break;
	default:
		protocol_violation(s, code == WAMP_HELLO ? "HELLO received on an established "
				   "session" : "AUTHENTICATE without a CHALLENGE");
		break;
	}
}

void router_receive(struct session *s, json_t *msg)
{
	char err[256];
	if (s->state == SESSION_CLOSED) {
		json_decref(msg);
		return;
	}
	int code = wamp_check(msg, err, sizeof err);
	if (!code)
		protocol_violation(s, err);
	else if (s->state == SESSION_ESTABLISHED && (s->role->authorizer || s->n_held))
		hold(s, msg);
	else if (s->state == SESSION_ESTABLISHED)
		dispatch_established(s, code, msg);
	else if (s->state == SESSION_AUTHENTICATING && code == WAMP_AUTHENTICATE)
		auth_authenticate(s, msg);
	else if (s->state == SESSION_AUTHENTICATING && code != WAMP_ABORT)
		protocol_violation(s, "only AUTHENTICATE (or ABORT) may follow HELLO until WELCOME");
	else if (code == WAMP_HELLO)
		on_hello(s, msg);
	else if (code == WAMP_ABORT)
		end_session(s, 1000);
	else
		protocol_violation(s, "the first message of a session must be HELLO");
	json_decref(msg);
}

void router_receive_bytes(struct session *s, const void *data, size_t len)
{
	char err[256];
	if (s->state == SESSION_CLOSED)
		return;
	json_t *msg = wamp_decode(s->serializer, data, len, err, sizeof err);
	if (msg)
		router_receive(s, msg);
	else
		protocol_violation(s, err);
}
