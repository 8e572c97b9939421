/* dealer.c - WAMP routed RPC (see dealer.h).
 *
 * Cancel and timeout semantics, where clients and Crossbar disagree:
 *   kill        INTERRUPT {mode: kill}; the caller gets the callee's answer.
 *   killnowait  ERROR wamp.error.canceled now + INTERRUPT killnowait.
 *   skip        nothing is sent (as Crossbar; Autobahn|JS has already
 *               rejected the call locally); the callee's answer is dropped.
 *   no mode     INTERRUPT killnowait, no ERROR: Autobahn|JS forgets the
 *               call and treats a later ERROR as a protocol violation.
 *   timeout     ERROR wamp.error.timeout + INTERRUPT killnowait.
 * INTERRUPT only ever goes to callees that announced call_canceling
 * (Autobahn|JS callees disconnect on one).  A call whose caller no longer
 * waits is "orphaned": it stays linked to its callee until the callee
 * answers (the answer is dropped) or leaves.
 */
#include "dealer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "gateway.h"
#include "meta.h"
#include "router.h"
#include "uri.h"
#include "util.h"

/* Calls one callee may have in flight (answered or not, orphaned or not):
 * a callee that never answers must not grow memory without bound. */
#define DEALER_MAX_INVOCATIONS 10000

enum invoke_policy { INVOKE_SINGLE, INVOKE_ROUNDROBIN, INVOKE_RANDOM, INVOKE_FIRST, INVOKE_LAST };

static const char *const invoke_names[] = {"single", "roundrobin", "random", "first", "last", NULL};

struct callee {
	struct session *session;
	bool disclose_caller;      /* REGISTER options.disclose_caller */
};

struct registration {
	uint64_t id;
	char *uri;
	enum uri_match match;
	enum invoke_policy invoke;
	struct callee *callees;    /* in registration order (first/last) */
	size_t n_callees, cap_callees;
	size_t next_callee;        /* roundrobin */
	struct registration *next_pattern;
};

struct call {
	struct dealer *dealer;
	struct session *caller;    /* NULL once orphaned */
	uint64_t request;          /* the caller's CALL request id */
	struct session *callee;
	uint64_t invocation;       /* our INVOCATION request id */
	bool receive_progress;
	int64_t timeout_ms;
	uv_timer_t *timer;         /* only with a timeout */
};

struct dealer {
	struct router *router;
	struct map exact;          /* URI -> registration */
	struct registration *patterns;  /* prefix and wildcard registrations */
	struct map by_id;          /* id (8 bytes) -> registration */
};

struct dealer *dealer_new(struct router *r)
{
	struct dealer *d = xcalloc(1, sizeof *d);
	d->router = r;
	return d;
}

void dealer_free(struct dealer *d)
{
	if (!d)
		return;
	map_clear(&d->exact);
	map_clear(&d->by_id);
	free(d);
}

static struct gateway_stats *stats(struct dealer *d)
{
	return &router_gateway(d->router)->stats;
}

/* ---- registrations -------------------------------------------------------- */

static struct registration *find_registration(struct dealer *d, const char *uri,
					      enum uri_match match)
{
	if (match == URI_EXACT)
		return map_get(&d->exact, uri, strlen(uri));
	for (struct registration *r = d->patterns; r; r = r->next_pattern)
		if (r->match == match && !strcmp(r->uri, uri))
			return r;
	return NULL;
}

static struct registration *registration_new(struct dealer *d, const char *uri,
					     enum uri_match match, enum invoke_policy invoke)
{
	struct registration *r = xcalloc(1, sizeof *r);
	r->id = router_next_id(d->router);
	r->uri = xstrdup(uri);
	r->match = match;
	r->invoke = invoke;
	if (match == URI_EXACT) {
		map_put(&d->exact, uri, strlen(uri), r);
	} else {
		r->next_pattern = d->patterns;
		d->patterns = r;
	}
	map_put(&d->by_id, (const char *)&r->id, sizeof r->id, r);
	stats(d)->registrations++;
	return r;
}

static void registration_drop(struct dealer *d, struct registration *r)
{
	if (r->match == URI_EXACT) {
		map_remove(&d->exact, r->uri, strlen(r->uri));
	} else {
		struct registration **p = &d->patterns;
		while (*p != r)
			p = &(*p)->next_pattern;
		*p = r->next_pattern;
	}
	map_remove(&d->by_id, (const char *)&r->id, sizeof r->id);
	stats(d)->registrations--;
	free(r->uri);
	free(r->callees);
	free(r);
}

static struct callee *find_callee(struct registration *r, const struct session *s)
{
	for (size_t i = 0; i < r->n_callees; i++)
		if (r->callees[i].session == s)
			return &r->callees[i];
	return NULL;
}

static void add_callee(struct registration *r, struct session *s, bool disclose_caller)
{
	if (r->n_callees == r->cap_callees) {
		r->cap_callees = r->cap_callees ? r->cap_callees * 2 : 2;
		r->callees = xrealloc(r->callees, r->cap_callees * sizeof *r->callees);
	}
	r->callees[r->n_callees++] = (struct callee){s, disclose_caller};
	session_hold((void ***)&s->registrations, &s->n_registrations, &s->cap_registrations, r);
}

/* Keeps registration order, which first/last depend on. */
static void remove_callee(struct dealer *d, struct registration *r, struct session *s)
{
	struct callee *c = find_callee(r, s);
	size_t i = (size_t)(c - r->callees);
	memmove(c, c + 1, (r->n_callees - i - 1) * sizeof *c);
	r->n_callees--;
	if (!r->n_callees)
		registration_drop(d, r);
}

static int option_index(struct session *s, int type, uint64_t request, const json_t *options,
			const char *key, const char *const *names)
{
	json_t *v = json_object_get(options, key);
	if (!v)
		return 0;
	for (int i = 0; names[i]; i++)
		if (json_is_string(v) && !strcmp(json_string_value(v), names[i]))
			return i;
	session_error(s, type, request, "wamp.error.invalid_argument", "unknown options.%s "
		      "value", key);
	return -1;
}

void dealer_register(struct dealer *d, struct session *s, const json_t *msg)
{
	uint64_t request = wamp_id(msg, 1);
	const json_t *options = json_array_get(msg, 2);
	const char *uri = json_string_value(json_array_get(msg, 3));
	int match = session_match_option(s, WAMP_REGISTER, request, options);
	int invoke = match < 0 ? -1 : option_index(s, WAMP_REGISTER, request, options,
						   "invoke", invoke_names);
	if (invoke < 0)
		return;
	if (!uri_pattern_is_valid(uri, match) || !strncmp(uri, "wamp.", 5)) {
		session_error(s, WAMP_REGISTER, request, "wamp.error.invalid_uri",
			      "%s procedure URI \"%s\"", strncmp(uri, "wamp.", 5) ? "invalid" :
			      "reserved", uri);
		return;
	}
	if (!session_authorize(s, ACL_REGISTER, WAMP_REGISTER, request, uri))
		return;
	struct registration *r = find_registration(d, uri, match);
	if (r && (r->invoke == INVOKE_SINGLE || find_callee(r, s))) {
		session_error(s, WAMP_REGISTER, request, "wamp.error.procedure_already_exists",
			      "register for already registered procedure \"%s\"", uri);
		return;
	}
	if (r && r->invoke != (enum invoke_policy)invoke) {
		session_error(s, WAMP_REGISTER, request,
			      "wamp.error.procedure_exists_with_different_invocation_policy",
			      "procedure \"%s\" is registered with invoke \"%s\", not \"%s\"", uri,
			      invoke_names[r->invoke], invoke_names[invoke]);
		return;
	}
	if (!r)
		r = registration_new(d, uri, match, invoke);
	add_callee(r, s, wamp_opt_true(options, "disclose_caller"));
	session_send(s, json_pack("[i, I, I]", WAMP_REGISTERED, (json_int_t)request,
				  (json_int_t)r->id));
}

void dealer_unregister(struct dealer *d, struct session *s, const json_t *msg)
{
	uint64_t request = wamp_id(msg, 1), id = wamp_id(msg, 2);
	struct registration *r = map_get(&d->by_id, (const char *)&id, sizeof id);
	if (!r || !find_callee(r, s)) {
		session_error(s, WAMP_UNREGISTER, request, "wamp.error.no_such_registration",
			      "session has no registration %llu", (unsigned long long)id);
		return;
	}
	session_release((void **)s->registrations, &s->n_registrations, r);
	remove_callee(d, r, s);
	session_send(s, json_pack("[i, I]", WAMP_UNREGISTERED, (json_int_t)request));
}

/* ---- routing -------------------------------------------------------------- */

/* Wildcard specificity: compares which pattern has a concrete component
 * first (WAMP: the longest leading run of matching components wins, ties
 * go to the next run).  Returns >0 if a is more specific than b. */
static int wildcard_compare(const char *a, const char *b)
{
	for (;;) {
		bool a_concrete = *a && *a != '.', b_concrete = *b && *b != '.';
		if (a_concrete != b_concrete)
			return a_concrete ? 1 : -1;
		a += strcspn(a, ".");
		b += strcspn(b, ".");
		if (!*a || !*b)
			return 0;
		a++;
		b++;
	}
}

static struct registration *route(struct dealer *d, const char *procedure)
{
	struct registration *r = map_get(&d->exact, procedure, strlen(procedure));
	struct registration *best_prefix = NULL, *best_wildcard = NULL;
	if (r)
		return r;
	for (r = d->patterns; r; r = r->next_pattern) {
		if (!uri_matches(r->uri, r->match, procedure))
			continue;
		if (r->match == URI_PREFIX) {
			if (!best_prefix || strlen(r->uri) > strlen(best_prefix->uri))
				best_prefix = r;
		} else if (!best_wildcard || wildcard_compare(r->uri, best_wildcard->uri) > 0) {
			best_wildcard = r;
		}
	}
	return best_prefix ? best_prefix : best_wildcard;
}

static struct callee *pick_callee(struct registration *r)
{
	uint32_t random;
	switch (r->invoke) {
	case INVOKE_LAST:
		return &r->callees[r->n_callees - 1];
	case INVOKE_ROUNDROBIN:
		return &r->callees[r->next_callee++ % r->n_callees];
	case INVOKE_RANDOM:
		if (RAND_bytes((unsigned char *)&random, sizeof random) != 1)
			random = (uint32_t)mono_ns();
		return &r->callees[random % r->n_callees];
	default:
		return &r->callees[0];
	}
}

/* ---- calls ---------------------------------------------------------------- */

static void unlink_caller(struct call *c)
{
	if (c->caller)
		map_remove(&c->caller->calls, (const char *)&c->request, sizeof c->request);
	c->caller = NULL;
	if (c->timer) {
		uv_timer_stop(c->timer);
		uv_close((uv_handle_t *)c->timer, (uv_close_cb)free);
		c->timer = NULL;
	}
}

static void call_finish(struct call *c)
{
	unlink_caller(c);
	map_remove(&c->callee->invocations, (const char *)&c->invocation, sizeof c->invocation);
	free(c);
}

/* Tells the callee to stop.  An in-process callee may answer at once,
 * inside this call, which ends c: callers unlink what they must first and
 * do not touch c afterwards. */
static void interrupt(struct call *c, const char *mode)
{
	if (c->callee->features.callee_cancel)
		session_send(c->callee, json_pack("[i, I, {s:s}]", WAMP_INTERRUPT,
						  (json_int_t)c->invocation, "mode", mode));
}

static void on_timeout(uv_timer_t *t)
{
	struct call *c = t->data;
	session_error(c->caller, WAMP_CALL, c->request, "wamp.error.timeout",
		      "the call did not complete within its timeout of %lld ms",
		      (long long)c->timeout_ms);
	unlink_caller(c);
	interrupt(c, "killnowait");        /* last: the callee may answer (and end c) inside */
}

static void start_timer(struct call *c)
{
	c->timer = xmalloc(sizeof *c->timer);
	uv_timer_init(router_gateway(c->dealer->router)->loop, c->timer);
	c->timer->data = c;
	uv_timer_start(c->timer, on_timeout, (uint64_t)c->timeout_ms, 0);
}

static json_t *invocation_details(const struct registration *r, const struct callee *callee,
				  const struct session *caller, const json_t *options,
				  const char *procedure, bool receive_progress)
{
	json_t *details = json_object();
	if (r->match != URI_EXACT)
		json_object_set_new(details, "procedure", json_string(procedure));
	if (receive_progress)
		json_object_set_new(details, "receive_progress", json_true());
	if (callee->disclose_caller || wamp_opt_true(options, "disclose_me") ||
	    session_discloses(caller, ACL_CALL, procedure)) {
		json_object_set_new(details, "caller", json_integer((json_int_t)caller->id));
		json_object_set_new(details, "caller_authid", json_string(caller->authid));
		json_object_set_new(details, "caller_authrole", json_string(caller->authrole));
	}
	return details;
}

static uint64_t next_invocation_id(struct session *callee)
{
	if (++callee->last_invocation_id > WAMP_MAX_ID)
		callee->last_invocation_id = 1;
	return callee->last_invocation_id;
}

/* A call record, linked from both ends; its timeout runs from now. */
static struct call *call_new(struct dealer *d, struct session *caller, uint64_t request,
			     struct session *callee, const json_t *options)
{
	struct call *c = xcalloc(1, sizeof *c);
	c->dealer = d;
	c->caller = caller;
	c->request = request;
	c->callee = callee;
	c->invocation = next_invocation_id(callee);
	c->receive_progress = wamp_opt_true(options, "receive_progress") &&
			      callee->features.callee_progress;
	c->timeout_ms = json_integer_value(json_object_get(options, "timeout"));
	map_put(&caller->calls, (const char *)&request, sizeof request, c);
	map_put(&callee->invocations, (const char *)&c->invocation, sizeof c->invocation, c);
	if (c->timeout_ms > 0)
		start_timer(c);
	return c;
}

void dealer_call(struct dealer *d, struct session *s, const json_t *msg)
{
	uint64_t request = wamp_id(msg, 1);
	const json_t *options = json_array_get(msg, 2);
	const char *procedure = json_string_value(json_array_get(msg, 3));
	json_t *timeout = json_object_get(options, "timeout");

	if (map_get(&s->calls, (const char *)&request, sizeof request)) {
		router_abort(s, "wamp.error.protocol_violation", 1002, "CALL request id %llu is "
			     "already in use by a pending call", (unsigned long long)request);
		return;
	}
	if (!uri_is_valid(procedure)) {
		session_error(s, WAMP_CALL, request, "wamp.error.invalid_uri",
			      "invalid procedure URI \"%s\"", procedure);
		return;
	}
	if (timeout && (!json_is_integer(timeout) || json_integer_value(timeout) < 0)) {
		session_error(s, WAMP_CALL, request, "wamp.error.invalid_argument",
			      "options.timeout must be a number of milliseconds >= 0");
		return;
	}
	if (!session_authorize(s, ACL_CALL, WAMP_CALL, request, procedure))
		return;
	if (!strncmp(procedure, "wamp.", 5) && meta_call(s, msg))
		return;
	struct registration *r = route(d, procedure);
	if (!r) {
		session_error(s, WAMP_CALL, request, "wamp.error.no_such_procedure",
			      "no callee registered for procedure %s", procedure);
		return;
	}
	struct callee *callee = pick_callee(r);
	if (callee->session->invocations.count >= DEALER_MAX_INVOCATIONS) {
		session_error(s, WAMP_CALL, request, "wamp.error.unavailable", "the callee of %s "
			      "has %d calls in flight, the most one callee may have; try again later",
			      procedure, DEALER_MAX_INVOCATIONS);
		return;
	}
	struct call *c = call_new(d, s, request, callee->session, options);
	json_t *details = invocation_details(r, callee, s, options, procedure, c->receive_progress);
	json_t *inv = json_pack("[i, I, I, o]", WAMP_INVOCATION, (json_int_t)c->invocation,
				(json_int_t)r->id, details);
	wamp_append_payload(inv, wamp_args(msg, 4), wamp_kwargs(msg, 4));
	session_send(c->callee, inv);
}

void dealer_cancel(struct dealer *d, struct session *s, const json_t *msg)
{
	uint64_t request = wamp_id(msg, 1);
	const char *mode = json_string_value(json_object_get(json_array_get(msg, 2), "mode"));
	struct call *c = map_get(&s->calls, (const char *)&request, sizeof request);
	if (!c)
		return;                    /* finished already */
	if (mode && !strcmp(mode, "kill")) {
		interrupt(c, "kill");      /* the callee's answer still goes to the caller */
		return;
	}
	if (mode && !strcmp(mode, "killnowait"))
		session_error(s, WAMP_CALL, request, "wamp.error.canceled",
			      "the call was canceled (killnowait)");
	unlink_caller(c);
	if (!mode || strcmp(mode, "skip"))
		interrupt(c, "killnowait");   /* last, as in on_timeout() */
}

/* The call a callee's YIELD or ERROR answers, or NULL (late: dropped). */
static struct call *answered_call(struct session *callee, uint64_t invocation)
{
	return map_get(&callee->invocations, (const char *)&invocation, sizeof invocation);
}

void dealer_yield(struct dealer *d, struct session *s, const json_t *msg)
{
	struct call *c = answered_call(s, wamp_id(msg, 1));
	bool is_progress = wamp_opt_true(json_array_get(msg, 2), "progress");
	if (!c)
		return;
	if (is_progress && !c->receive_progress)
		return;                    /* the caller did not ask for progress */
	if (c->caller) {
		json_t *result = json_pack("[i, I, {}]", WAMP_RESULT, (json_int_t)c->request);
		if (is_progress)
			json_object_set_new(json_array_get(result, 2), "progress", json_true());
		wamp_append_payload(result, wamp_args(msg, 3), wamp_kwargs(msg, 3));
		session_send(c->caller, result);
	}
	if (!is_progress)
		call_finish(c);
	else if (c->timer)
		/* the timeout bounds the gap between results */
		uv_timer_start(c->timer, on_timeout, (uint64_t)c->timeout_ms, 0);
}

void dealer_invocation_error(struct dealer *d, struct session *s, const json_t *msg)
{
	struct call *c = answered_call(s, wamp_id(msg, 2));
	if (!c)
		return;
	if (c->caller) {
		json_t *error = json_pack("[i, i, I, {}, O]", WAMP_ERROR, WAMP_CALL,
					  (json_int_t)c->request, json_array_get(msg, 4));
		wamp_append_payload(error, wamp_args(msg, 5), wamp_kwargs(msg, 5));
		session_send(c->caller, error);
	}
	call_finish(c);
}

/* ---- leaving ---------------------------------------------------------------- */

static void collect_call(const char *key, void *value, void *ctx)
{
	struct call ***out = ctx;
	*(*out)++ = value;
}

/* The calls in a session's map, copied out so they can be unlinked. */
static struct call **calls_of(const struct map *m, size_t *n)
{
	struct call **calls = xmalloc((m->count + 1) * sizeof *calls), **end = calls;
	map_each(m, collect_call, &end);
	*n = (size_t)(end - calls);
	return calls;
}

void dealer_session_left(struct dealer *d, struct session *s)
{
	size_t n;
	struct call **calls = calls_of(&s->calls, &n);
	for (size_t i = 0; i < n; i++) {
		unlink_caller(calls[i]);
		interrupt(calls[i], "killnowait");
	}
	free(calls);

	calls = calls_of(&s->invocations, &n);
	for (size_t i = 0; i < n; i++) {
		if (calls[i]->caller)
			session_error(calls[i]->caller, WAMP_CALL, calls[i]->request,
				      "wamp.error.canceled", "callee disconnected from in-flight "
				      "request");
		call_finish(calls[i]);
	}
	free(calls);

	while (s->n_registrations)
		remove_callee(d, s->registrations[--s->n_registrations], s);
}
