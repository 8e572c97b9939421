/* meta.c - WAMP session meta API (see meta.h). */
#include "meta.h"

#include <string.h>

#include "bus.h"
#include "config.h"
#include "event.h"
#include "gateway.h"
#include "router.h"

static json_t *session_details(const struct session *s)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}}",
			 "session", (json_int_t)s->id, "realm", s->realm->cfg->name,
			 "authid", s->authid, "authrole", s->authrole,
			 "authmethod", s->authmethod, "authprovider", "static",
			 "transport", "type", s->serializer == WAMP_INTERNAL ? "internal" : "websocket",
			 "peer", s->peer);
}

static void publish_meta(struct session *s, const char *topic, json_t *args)
{
	struct event *ev = event_new(s->realm->cfg->name, topic, args, NULL, NULL);
	bus_publish_live(router_gateway(s->router)->bus, ev);
	event_unref(ev);
}

void meta_session_joined(struct session *s)
{
	publish_meta(s, "wamp.session.on_join", json_pack("[o]", session_details(s)));
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
		result(s, request, session_details(o));
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
	else
		return false;
	return true;
}
