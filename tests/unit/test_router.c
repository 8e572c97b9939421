/* Test the WAMP router's bounds, then that it survives anything peers send: a dozen sessions
 * on the embedded default realm exchange tens of thousands of random,
 * mostly well-formed messages (every type a peer may send, options from
 * the spec and junk, ids of real and vanished requests, URIs valid and
 * not), answer INVOCATIONs late, early, twice, never or at once (inside the
 * router's own send, as an in-process callee does), time out, cancel
 * and vanish mid-call.  Every message the router sends must be a valid
 * router-to-client message for its session, nothing may reach a session
 * after its ABORT, and the run must actually reach deep states (results,
 * events, timeouts, violations).  Run under ./configure --enable-sanitizers
 * for memory errors and leaks; the sequence is deterministic. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "bus.h"
#include "config.h"
#include "gateway.h"
#include "log.h"
#include "router.h"
#include "roll.h"
#include "tap.h"
#include "util.h"
#include "wamp.h"

#define N_PEERS 12
#define ROUNDS 100000


struct peer {
	struct session *session;
	bool answers_at_once;      /* answers inside the router's send, as the
				      in-process RESTCallee does */
	bool is_closed;            /* ABORT seen or close requested */
	bool was_aborted;
	uint64_t invocations[8];   /* INVOCATION ids to answer */
	size_t n_invocations;
	uint64_t subscriptions[4], registrations[4];
};

static struct peer peers[N_PEERS];
static struct {
	unsigned sent, after_close, malformed, results, errors, events, invocations, aborts,
		timeouts, canceled, violations, unavailable;
} seen;

/* ---- what the router may send ------------------------------------------- */

static bool is_id(const json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 0 &&
	       (uint64_t)json_integer_value(v) <= WAMP_MAX_ID;
}

static void remember(uint64_t *ids, size_t cap, uint64_t id)
{
	ids[roll((unsigned)cap)] = id;
}

static bool router_message_ok(struct peer *p, const json_t *m)
{
	json_int_t code = json_integer_value(json_array_get(m, 0));
	switch (code) {
	case WAMP_WELCOME:
		return is_id(json_array_get(m, 1)) && json_is_object(json_array_get(m, 2));
	case WAMP_ABORT:
		seen.aborts++;
		p->was_aborted = true;
		if (!strcmp(json_string_value(json_array_get(m, 2)) ?: "", "wamp.error.protocol_violation"))
			seen.violations++;
		return json_is_object(json_array_get(m, 1)) && json_is_string(json_array_get(m, 2));
	case WAMP_GOODBYE:
		return json_is_string(json_array_get(m, 2));
	case WAMP_ERROR: {
		seen.errors++;
		const char *uri = json_string_value(json_array_get(m, 4));
		seen.timeouts += uri && !strcmp(uri, "wamp.error.timeout");
		seen.canceled += uri && !strcmp(uri, "wamp.error.canceled");
		seen.unavailable += uri && !strcmp(uri, "wamp.error.unavailable");
		json_int_t type = json_integer_value(json_array_get(m, 1));
		return uri && (type == WAMP_PUBLISH || type == WAMP_SUBSCRIBE || type == WAMP_UNSUBSCRIBE ||
			       type == WAMP_CALL || type == WAMP_REGISTER || type == WAMP_UNREGISTER) &&
		       is_id(json_array_get(m, 2));
	}
	case WAMP_PUBLISHED:
	case WAMP_UNSUBSCRIBED:
	case WAMP_UNREGISTERED:
		return is_id(json_array_get(m, 1));
	case WAMP_SUBSCRIBED:
		remember(p->subscriptions, 4, (uint64_t)json_integer_value(json_array_get(m, 2)));
		return is_id(json_array_get(m, 2));
	case WAMP_REGISTERED:
		remember(p->registrations, 4, (uint64_t)json_integer_value(json_array_get(m, 2)));
		return is_id(json_array_get(m, 2));
	case WAMP_EVENT:
		seen.events++;
		return is_id(json_array_get(m, 1)) && json_is_object(json_array_get(m, 3));
	case WAMP_RESULT:
		seen.results++;
		return is_id(json_array_get(m, 1)) && json_is_object(json_array_get(m, 2));
	case WAMP_INVOCATION:
		seen.invocations++;
		if (p->n_invocations < 8)
			p->invocations[p->n_invocations++] = (uint64_t)json_integer_value(json_array_get(m, 1));
		return is_id(json_array_get(m, 1)) && is_id(json_array_get(m, 2));
	case WAMP_INTERRUPT:
		return is_id(json_array_get(m, 1)) && json_is_object(json_array_get(m, 2));
	}
	return false;
}

static void check_message(struct peer *p, const json_t *m)
{
	seen.sent++;
	if (p->was_aborted)
		seen.after_close++;
	if (!json_is_array(m) || !router_message_ok(p, m))
		seen.malformed++;
}

/* An in-process callee may answer an INVOCATION or an INTERRUPT before
 * the router's send returns; the router must cope. */
static void answer_at_once(struct session *s, const json_t *msg)
{
	json_int_t code = json_integer_value(json_array_get(msg, 0));
	json_int_t id = json_integer_value(json_array_get(msg, 1));
	if (code == WAMP_INTERRUPT)
		router_receive(s, json_pack("[i, i, I, {}, s]", WAMP_ERROR, WAMP_INVOCATION, id,
					    "wamp.error.canceled"));
	else if (code == WAMP_INVOCATION && roll(2))
		router_receive(s, json_pack("[i, I, {}, [s]]", WAMP_YIELD, id, "at once"));
}

static void peer_send(struct session *s, json_t *msg)
{
	struct peer *p = s->transport;
	check_message(p, msg);
	if (p->answers_at_once && !p->is_closed)
		answer_at_once(s, msg);
	json_decref(msg);
}

/* Wire sessions get EVENTs as shared frames: decode to check them. */
static void peer_send_frame(struct session *s, struct wamp_frame *f)
{
	char err[128];
	json_t *m = wamp_decode(s->serializer, wamp_frame_payload(f), f->len, err, sizeof err);
	if (!m)
		seen.malformed++;
	else
		check_message(s->transport, m);
	json_decref(m);
}

static void peer_close(struct session *s, int code)
{
	((struct peer *)s->transport)->is_closed = true;
}

static const struct session_ops peer_ops = {peer_send, peer_send_frame, peer_close};

/* ---- random messages ---------------------------------------------------- */

static const char *const uris[] = {
	"com.a", "com.a.b", "com.b", "com.a.b.c", "com.a", "com.a.b", "com.b", "com",
	"wamp.session.count", "wamp.session.get", "wamp.subscription.get_events", "wamp.x",
	"com..b", "", "a b", "com.a.",
	"com.a\xc3",
};

static json_t *random_uri(void)
{
	return json_string(uris[roll(sizeof uris / sizeof *uris)]) ?: json_string("bad");
}

/* Mostly ids that mean something; now and then one a peer must not send. */
static json_t *random_id(struct peer *p, const uint64_t *known)
{
	switch (roll(40)) {
	case 0: return json_integer(0);
	case 1: return json_integer(-5);
	case 2: return json_integer((json_int_t)WAMP_MAX_ID + 1);
	default:
		if (known && roll(2))
			return json_integer((json_int_t)(known[roll(4)] ? known[roll(4)] : 1));
		return json_integer(1 + roll(50));
	}
}

static json_t *some_session_ids(void)
{
	json_t *ids = json_array();
	for (unsigned i = roll(3); i > 0; i--) {
		struct session *s = peers[roll(N_PEERS)].session;
		json_array_append_new(ids, json_integer(s ? (json_int_t)s->id : 7));
	}
	return ids;
}

static json_t *random_options(void)
{
	static const char *const matches[] = {"exact", "prefix", "wildcard", "bogus"};
	static const char *const invokes[] = {"single", "roundrobin", "random", "first", "last", "x"};
	static const char *const modes[] = {"skip", "kill", "killnowait", "nope"};
	json_t *o = json_object();
	for (unsigned i = roll(4); i > 0; i--) {
		switch (roll(13)) {
		case 0: json_object_set_new(o, "match", json_string(matches[roll(4)])); break;
		case 1: json_object_set_new(o, "invoke", json_string(invokes[roll(6)])); break;
		case 2: json_object_set_new(o, "acknowledge", json_true()); break;
		case 3: json_object_set_new(o, "exclude_me", json_boolean(roll(2))); break;
		case 4: json_object_set_new(o, "eligible", some_session_ids()); break;
		case 5: json_object_set_new(o, "exclude", some_session_ids()); break;
		case 6: json_object_set_new(o, "exclude_authrole", json_pack("[s]", "anonymous")); break;
		case 7: json_object_set_new(o, "disclose_me", json_true()); break;
		case 8: json_object_set_new(o, "receive_progress", json_true()); break;
		case 9: json_object_set_new(o, "timeout", json_integer(roll(4))); break;
		case 10: json_object_set_new(o, "mode", json_string(modes[roll(4)])); break;
		case 11: json_object_set_new(o, "progress", json_boolean(roll(2))); break;
		default: json_object_set_new(o, "match", json_integer(3)); break;
		}
	}
	return o;
}

static void append_payload(json_t *m)
{
	switch (roll(40)) {
	case 0: json_array_append_new(m, json_pack("{s:i}", "not", 1)); break;  /* violation */
	case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 8: case 9: case 10:
		json_array_append_new(m, json_pack("[i, s]", 1, "\xc3\xa9")); break;
	case 11: case 12: case 13: case 14: case 15:
		json_array_append_new(m, json_array());
		json_array_append_new(m, json_pack("{s:b}", "k", 1)); break;
	default: break;
	}
}

/* An answer to a real invocation (or to a made-up one). */
static json_t *answer(struct peer *p)
{
	uint64_t id = 1 + roll(9);
	if (p->n_invocations) {
		size_t i = roll((unsigned)p->n_invocations);
		id = p->invocations[i];
		if (roll(4))               /* answered; sometimes answered again later */
			p->invocations[i] = p->invocations[--p->n_invocations];
	}
	if (roll(3))
		return json_pack("[i, I, o]", WAMP_YIELD, (json_int_t)id, random_options());
	return json_pack("[i, i, I, {}, s]", WAMP_ERROR, roll(40) ? WAMP_INVOCATION : WAMP_CALL,
			 (json_int_t)id, "com.app.error");
}

static json_t *random_message(struct peer *p)
{
	static const int codes[] = {
		WAMP_PUBLISH, WAMP_PUBLISH, WAMP_SUBSCRIBE, WAMP_SUBSCRIBE, WAMP_UNSUBSCRIBE,
		WAMP_CALL, WAMP_CALL, WAMP_CALL, WAMP_CANCEL, WAMP_REGISTER, WAMP_REGISTER,
		WAMP_UNREGISTER, WAMP_GOODBYE,
	};
	unsigned pick = roll(100);
	if (pick < 30)
		return answer(p);
	if (pick == 99)                    /* violations: HELLO again, AUTHENTICATE, junk */
		return json_pack("[i, s, {}]", WAMP_HELLO, "realm1");
	if (pick == 98)
		return json_pack("[i, s]", WAMP_AUTHENTICATE, "x");
	if (pick == 97)
		return json_pack("[i, i]", 99, 1);
	int code = codes[roll(sizeof codes / sizeof *codes)];
	json_t *m = json_pack("[i]", code);
	switch (code) {
	case WAMP_PUBLISH:
	case WAMP_SUBSCRIBE:
	case WAMP_CALL:
	case WAMP_REGISTER:
		json_array_append_new(m, random_id(p, NULL));
		json_array_append_new(m, random_options());
		json_array_append_new(m, random_uri());
		if (code == WAMP_PUBLISH || code == WAMP_CALL)
			append_payload(m);
		break;
	case WAMP_UNSUBSCRIBE:
	case WAMP_UNREGISTER:
		json_array_append_new(m, random_id(p, NULL));
		json_array_append_new(m, random_id(p, code == WAMP_UNSUBSCRIBE ? p->subscriptions
										: p->registrations));
		break;
	case WAMP_CANCEL:
		json_array_append_new(m, random_id(p, NULL));
		json_array_append_new(m, random_options());
		break;
	default:                           /* GOODBYE */
		json_array_append_new(m, json_object());
		json_array_append_new(m, json_string("wamp.close.normal"));
		break;
	}
	return m;
}

/* ---- the run ----------------------------------------------------------- */

static void connect_peer(struct router *r, struct peer *p)
{
	memset(p, 0, sizeof *p);
	p->answers_at_once = roll(4) == 0;
	p->session = router_session_new(r, &peer_ops, p, roll(2) ? WAMP_JSON : WAMP_MSGPACK,
					"fuzz", NULL);
	router_receive(p->session, json_pack("[i, s, {s:{s:{s:{s:b, s:b}}}}]", WAMP_HELLO, "realm1",
					     "roles", "callee", "features", "call_canceling",
					     roll(2), "progressive_call_results", 1));
}

/* A callee that takes calls and never answers holds at most 10,000 of them;
 * the next caller is told the callee is unavailable, and when the callee
 * goes every waiting caller hears it. */
static void test_pending_limit(struct router *r)
{
	struct peer *callee = &peers[0], *caller = &peers[1];
	connect_peer(r, callee);
	connect_peer(r, caller);
	callee->answers_at_once = caller->answers_at_once = false;   /* a stuck callee */
	memset(&seen, 0, sizeof seen);
	router_receive(callee->session, json_pack("[i, i, {}, s]", WAMP_REGISTER, 1, "com.stuck"));
	for (int i = 1; i <= 10001; i++)
		router_receive(caller->session, json_pack("[i, i, {}, s]", WAMP_CALL, i, "com.stuck"));
	ok(seen.invocations == 10000 && seen.unavailable == 1,
	   "10,000 calls in flight to one callee, the 10,001st is unavailable (%u invocations, "
	   "%u unavailable)", seen.invocations, seen.unavailable);
	router_session_gone(callee->session);
	ok(seen.canceled == 10000, "the callee leaving cancels every waiting call (%u)", seen.canceled);
	router_session_gone(caller->session);
	memset(&seen, 0, sizeof seen);
}

int main(void)
{
	struct gateway gw = {0};
	struct sb_config cfg;
	char err[256];
	if (config_load_default(&cfg, err, sizeof err)) {
		ok(false, "default config: %s", err);
		return done_testing();
	}
	roll_state = 0xfeed;
	log_threshold = LOG_ERROR;         /* thousands of ABORTs are expected */
	gw.loop = uv_default_loop();
	gw.cfg = &cfg;
	gw.bus = bus_new(NULL);
	gw.router = router_new(&gw);

	test_pending_limit(gw.router);

	for (int i = 0; i < N_PEERS; i++)
		connect_peer(gw.router, &peers[i]);
	ok(seen.sent == N_PEERS && !seen.malformed, "%d sessions welcomed", N_PEERS);

	for (int round = 0; round < ROUNDS; round++) {
		struct peer *p = &peers[roll(N_PEERS)];
		if (p->is_closed || roll(400) == 0) {          /* vanish; someone new comes */
			router_session_gone(p->session);
			connect_peer(gw.router, p);
			continue;
		}
		json_t *m = p->session->state == SESSION_HELLO_WAIT ? json_pack("[i, s, {}]",
			WAMP_HELLO, "realm1") : random_message(p);
		if (roll(50) == 0) {                           /* the same bytes, serialized */
			struct wamp_frame *f = wamp_encode(p->session->serializer, m);
			router_receive_bytes(p->session, wamp_frame_payload(f), roll(3) ? f->len : f->len / 2);
			wamp_frame_unref(f);
			json_decref(m);
		} else {
			router_receive(p->session, m);
		}
		if (round % 64 == 0)
			uv_run(gw.loop, UV_RUN_NOWAIT);        /* call timeouts fire */
	}

	ok(!seen.malformed, "every message the router sent is a valid router message (%u sent, "
	   "%u malformed)", seen.sent, seen.malformed);
	ok(!seen.after_close, "nothing reached a session after its ABORT (%u did)", seen.after_close);
	ok(seen.results > 100 && seen.events > 100 && seen.invocations > 100,
	   "the run routed calls and events (%u results, %u events, %u invocations)",
	   seen.results, seen.events, seen.invocations);
	ok(seen.violations > 100 && seen.errors > 100, "and refused what was wrong (%u violations, "
	   "%u errors)", seen.violations, seen.errors);
	ok(seen.canceled > 0, "callers of vanished callees were answered canceled (%u)", seen.canceled);

	for (int i = 0; i < N_PEERS; i++)
		router_session_gone(peers[i].session);
	struct bus_stats bs;
	bus_get_stats(gw.bus, &bs);
	ok(bs.subscriptions == 0 && gw.stats.wamp_sessions == 0 && gw.stats.registrations == 0,
	   "everything is released when the sessions are gone (%zu subscriptions, %llu sessions, "
	   "%llu registrations)", bs.subscriptions, (unsigned long long)gw.stats.wamp_sessions,
	   (unsigned long long)gw.stats.registrations);
	router_free(gw.router);
	bus_free(gw.bus);
	uv_run(gw.loop, UV_RUN_DEFAULT);                       /* timer handles close */
	ok(uv_loop_close(gw.loop) == 0, "no handle left open");
	config_free(&cfg);
	return done_testing();
}
