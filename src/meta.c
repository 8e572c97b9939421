/* meta.c - WAMP meta API (see meta.h). */
#include "meta.h"

#include <string.h>

#include "broker.h"
#include "bus.h"
#include "config.h"
#include "event.h"
#include "gateway.h"
#include "history.h"
#include "router.h"

json_t *meta_session_details(const struct session *s)
{
	json_t *details = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}}",
				    "session", (json_int_t)s->id, "realm", s->realm->cfg->name,
				    "authid", s->authid, "authrole", s->authrole,
				    "authmethod", s->authmethod, "authprovider", s->authprovider,
				    "transport", "type",
				    s->serializer == WAMP_INTERNAL ? "internal" : "websocket",
				    "peer", s->peer);
	if (s->authextra)
		json_object_set(details, "authextra", s->authextra);
	return details;
}

static void publish_meta(struct session *s, const char *topic, json_t *args)
{
	struct event *ev = event_new(s->realm->cfg->name, topic, args, NULL, NULL);
	bus_publish_live(router_gateway(s->router)->bus, ev);
	event_unref(ev);
}

void meta_session_joined(struct session *s)
{
	publish_meta(s, "wamp.session.on_join", json_pack("[o]", meta_session_details(s)));
}

void meta_session_left(struct session *s)
{
	publish_meta(s, "wamp.session.on_leave", json_pack("[I, s, s]", (json_int_t)s->id,
							   s->authid, s->authrole));
}

/* ---- procedures --------------------------------------------------------- */

static void result(struct session *s, uint64_t request, json_t *value)
{
	session_send(s, json_pack("[i, I, {}, [o]]", WAMP_RESULT, (json_int_t)request, value));
}

/* The optional filter_authroles list: NULL = every session. */
static bool role_listed(const json_t *filter, const struct session *s)
{
	size_t i;
	json_t *role;
	if (!filter)
		return true;
	json_array_foreach(filter, i, role)
		if (json_is_string(role) && !strcmp(json_string_value(role), s->authrole))
			return true;
	return false;
}

/* count and list: sessions of the caller's realm, optionally by role. */
static void list_sessions(struct session *s, uint64_t request, const json_t *filter,
			  bool is_count)
{
	json_t *ids = json_array();
	json_int_t count = 0;
	if (filter && !json_is_array(filter)) {
		json_decref(ids);
		session_error(s, WAMP_CALL, request, "wamp.error.invalid_argument",
			      "filter_authroles must be a list of role names");
		return;
	}
	for (struct session *o = s->realm->sessions; o; o = o->next) {
		if (!role_listed(filter, o))
			continue;
		count++;
		if (!is_count)
			json_array_append_new(ids, json_integer((json_int_t)o->id));
	}
	if (is_count) {
		json_decref(ids);
		result(s, request, json_integer(count));
	} else {
		result(s, request, ids);
	}
}

static void get_session(struct session *s, uint64_t request, const json_t *id)
{
	struct session *o = json_is_integer(id) ?
		router_find_session(s->router, (uint64_t)json_integer_value(id)) : NULL;
	if (!o || o->realm != s->realm)
		session_error(s, WAMP_CALL, request, "wamp.error.no_such_session",
			      "no session with this id on realm \"%s\"", s->realm->cfg->name);
	else
		result(s, request, meta_session_details(o));
}

/* One stored event as Crossbar's event history shows it (without the
 * publisher's identity, which history does not keep), plus its sequence
 * number, the position an SSE client would resume from. */
static void add_history_item(void *ctx, struct event *ev)
{
	json_t *items = ctx;
	json_t *payload = json_loadb(ev->payload, ev->payload_len, JSON_ALLOW_NUL, NULL);
	json_t *item = json_pack("{s:I, s:s, s:I, s:s, s:I}", "time_ns",
				 (json_int_t)ev->time_ms * 1000000, "realm", ev->realm,
				 "publication", (json_int_t)ev->pub_id, "topic", ev->topic,
				 "seq", (json_int_t)ev->seq);
	json_object_set(item, "args", json_object_get(payload, "args") ?: json_array());
	json_object_set(item, "kwargs", json_object_get(payload, "kwargs") ?: json_object());
	json_array_append_new(items, item);
	json_decref(payload);
	event_unref(ev);
}

/* wamp.subscription.get_events(subscription, limit=10): the newest stored
 * events the subscription matches, newest first (Crossbar's order). */
static void get_events(struct session *s, uint64_t request, const json_t *args,
		       const json_t *kwargs)
{
	json_t *id = json_array_get(args, 0);
	json_t *limit = json_object_get(kwargs, "limit") ?: json_array_get(args, 1);
	struct history *h = router_gateway(s->router)->history;
	const char *uri;
	int match;
	if (limit && !(json_is_integer(limit) && json_integer_value(limit) >= 1 &&
		       json_integer_value(limit) <= 1000)) {
		session_error(s, WAMP_CALL, request, "wamp.error.invalid_argument",
			      "limit must be a whole number from 1 to 1000");
	} else if (!json_is_integer(id) || !broker_subscription(s->realm->broker,
			(uint64_t)json_integer_value(id), &uri, &match)) {
		session_error(s, WAMP_CALL, request, "wamp.error.no_such_subscription",
			      "no subscription with this id on realm \"%s\"", s->realm->cfg->name);
	} else if (!h) {
		session_error(s, WAMP_CALL, request, "wamp.error.history_unavailable",
			      "this router keeps no event history");
	} else if (session_authorize(s, ACL_SUBSCRIBE, WAMP_CALL, request, uri)) {
		char *topics[1] = {(char *)uri};
		struct history_filter f = {s->realm->cfg->name, topics, 1, (enum uri_match)match};
		json_t *items = json_array();
		history_latest(h, &f, limit ? (size_t)json_integer_value(limit) : 10,
			       add_history_item, items);
		result(s, request, items);
	}
}

bool meta_call(struct session *s, const json_t *msg)
{
	uint64_t request = wamp_id(msg, 1);
	const char *procedure = json_string_value(json_array_get(msg, 3));
	json_t *args = wamp_args(msg, 4);
	if (!strcmp(procedure, "wamp.session.count"))
		list_sessions(s, request, json_array_get(args, 0), true);
	else if (!strcmp(procedure, "wamp.session.list"))
		list_sessions(s, request, json_array_get(args, 0), false);
	else if (!strcmp(procedure, "wamp.session.get"))
		get_session(s, request, json_array_get(args, 0));
	else if (!strcmp(procedure, "wamp.subscription.get_events"))
		get_events(s, request, args, wamp_kwargs(msg, 4));
	else
		return false;
	return true;
}
