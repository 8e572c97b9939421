/* broker.c - WAMP pub/sub over the topic bus (see broker.h). */
#include "broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "event.h"
#include "gateway.h"
#include "router.h"
#include "uri.h"
#include "util.h"

struct subscription {
	uint64_t id;
	char *uri;
	enum uri_match match;
	struct broker *broker;
	struct bus_sub *bus_sub;
	struct session **subscribers;
	size_t n_subscribers, cap_subscribers;
};

struct broker {
	struct router *router;
	char *realm;
	struct map by_key;             /* match letter + URI -> subscription */
	struct map by_id;              /* id (8 bytes) -> subscription */
};

/* A PUBLISH with acknowledge waits for history; the session may be gone
 * by then, so it is found again by id. */
struct publish_ack {
	struct router *router;
	uint64_t session_id, request;
};

struct broker *broker_new(struct router *r, const char *realm)
{
	struct broker *b = xcalloc(1, sizeof *b);
	b->router = r;
	b->realm = xstrdup(realm);
	return b;
}

void broker_free(struct broker *b)
{
	if (!b)
		return;
	map_clear(&b->by_key);
	map_clear(&b->by_id);
	free(b->realm);
	free(b);
}

/* ---- delivery ------------------------------------------------------------ */

static bool list_has_id(const json_t *list, uint64_t id)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
		if (json_is_integer(v) && (uint64_t)json_integer_value(v) == id)
			return true;
	return false;
}

static bool list_has_string(const json_t *list, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	return false;
}

/* A subscriber must pass every list the publisher gave. */
static bool in_audience(const json_t *options, const struct session *s)
{
	json_t *list;
	if ((list = json_object_get(options, "exclude")) && list_has_id(list, s->id))
		return false;
	if ((list = json_object_get(options, "eligible")) && !list_has_id(list, s->id))
		return false;
	if ((list = json_object_get(options, "exclude_authid")) && list_has_string(list, s->authid))
		return false;
	if ((list = json_object_get(options, "eligible_authid")) && !list_has_string(list, s->authid))
		return false;
	if ((list = json_object_get(options, "exclude_authrole")) &&
	    list_has_string(list, s->authrole))
		return false;
	if ((list = json_object_get(options, "eligible_authrole")) &&
	    !list_has_string(list, s->authrole))
		return false;
	return true;
}

static bool may_receive(const struct event *ev, const struct session *s)
{
	if (s->state != SESSION_ESTABLISHED)
		return false;
	if (ev->exclude_publisher && ev->publisher == s->id)
		return false;
	return !ev->audience || in_audience(ev->audience, s);
}

static json_t *event_message(const struct subscription *sub, const struct event *ev)
{
	json_t *details = json_object();
	if (sub->match != URI_EXACT)
		json_object_set_new(details, "topic", json_string(ev->topic));
	if (ev->disclose_publisher) {
		json_object_set_new(details, "publisher", json_integer((json_int_t)ev->publisher));
		json_object_set_new(details, "publisher_authid", json_string(ev->publisher_authid));
		json_object_set_new(details, "publisher_authrole", json_string(ev->publisher_authrole));
	}
	json_t *msg = json_pack("[i, I, I, o]", WAMP_EVENT, (json_int_t)sub->id,
				(json_int_t)ev->pub_id, details);
	wamp_append_payload(msg, ev->args, ev->kwargs);
	return msg;
}

/* Bus delivery: one EVENT, serialized at most once per serializer, queued
 * for every subscriber that may receive it. */
static void on_bus_event(void *ctx, struct event *ev)
{
	struct subscription *sub = ctx;
	struct wamp_frame *frames[WAMP_N_SERIALIZERS] = {NULL};
	json_t *msg = NULL;
	for (size_t i = 0; i < sub->n_subscribers; i++) {
		struct session *s = sub->subscribers[i];
		if (!may_receive(ev, s))
			continue;
		if (!msg)
			msg = event_message(sub, ev);
		if (s->serializer == WAMP_INTERNAL) {
			session_send(s, json_incref(msg));
			continue;
		}
		if (!frames[s->serializer])
			frames[s->serializer] = wamp_encode(s->serializer, msg);
		s->ops->send_frame(s, frames[s->serializer]);
	}
	for (int i = 0; i < WAMP_N_SERIALIZERS; i++)
		wamp_frame_unref(frames[i]);
	json_decref(msg);
}

/* ---- subscribe ----------------------------------------------------------- */

/* The subscription's key in by_key: "e", "p" or "w" then the URI. */
static char *subscription_key(const char *uri, enum uri_match match, size_t *len)
{
	char *key = xasprintf("%c%s", "epw"[match], uri);
	*len = strlen(key);
	return key;
}

static struct subscription *subscription_get(struct broker *b, const char *uri,
					     enum uri_match match)
{
	size_t len;
	char *key = subscription_key(uri, match, &len);
	struct subscription *sub = map_get(&b->by_key, key, len);
	if (!sub) {
		sub = xcalloc(1, sizeof *sub);
		sub->id = router_next_id(b->router);
		sub->uri = xstrdup(uri);
		sub->match = match;
		sub->broker = b;
		sub->bus_sub = bus_subscribe(router_gateway(b->router)->bus, b->realm, uri, match,
					     on_bus_event, sub);
		map_put(&b->by_key, key, len, sub);
		map_put(&b->by_id, (const char *)&sub->id, sizeof sub->id, sub);
	}
	free(key);
	return sub;
}

static void subscription_drop(struct broker *b, struct subscription *sub)
{
	size_t len;
	char *key = subscription_key(sub->uri, sub->match, &len);
	map_remove(&b->by_key, key, len);
	map_remove(&b->by_id, (const char *)&sub->id, sizeof sub->id);
	bus_unsubscribe(router_gateway(b->router)->bus, sub->bus_sub);
	free(key);
	free(sub->uri);
	free(sub->subscribers);
	free(sub);
}

static bool has_subscriber(const struct subscription *sub, const struct session *s)
{
	for (size_t i = 0; i < sub->n_subscribers; i++)
		if (sub->subscribers[i] == s)
			return true;
	return false;
}

void broker_subscribe(struct broker *b, struct session *s, const json_t *msg)
{
	uint64_t request = wamp_id(msg, 1);
	const char *uri = json_string_value(json_array_get(msg, 3));
	int match = session_match_option(s, WAMP_SUBSCRIBE, request, json_array_get(msg, 2));
	if (match < 0)
		return;
	if (!uri_pattern_is_valid(uri, match)) {
		session_error(s, WAMP_SUBSCRIBE, request, "wamp.error.invalid_uri",
			      "invalid %s topic URI \"%s\"", uri_match_name(match), uri);
		return;
	}
	if (!session_authorize(s, ACL_SUBSCRIBE, WAMP_SUBSCRIBE, request, uri))
		return;
	struct subscription *sub = subscription_get(b, uri, match);
	if (!has_subscriber(sub, s)) {
		session_hold((void ***)&sub->subscribers, &sub->n_subscribers,
			     &sub->cap_subscribers, s);
		session_hold((void ***)&s->subscriptions, &s->n_subscriptions,
			     &s->cap_subscriptions, sub);
	}
	session_send(s, json_pack("[i, I, I]", WAMP_SUBSCRIBED, (json_int_t)request,
				  (json_int_t)sub->id));
}

static void remove_subscriber(struct broker *b, struct subscription *sub, struct session *s)
{
	session_release((void **)sub->subscribers, &sub->n_subscribers, s);
	if (!sub->n_subscribers)
		subscription_drop(b, sub);
}

void broker_unsubscribe(struct broker *b, struct session *s, const json_t *msg)
{
	uint64_t request = wamp_id(msg, 1), id = wamp_id(msg, 2);
	struct subscription *sub = map_get(&b->by_id, (const char *)&id, sizeof id);
	if (!sub || !has_subscriber(sub, s)) {
		session_error(s, WAMP_UNSUBSCRIBE, request, "wamp.error.no_such_subscription",
			      "session has no subscription %llu", (unsigned long long)id);
		return;
	}
	session_release((void **)s->subscriptions, &s->n_subscriptions, sub);
	remove_subscriber(b, sub, s);
	session_send(s, json_pack("[i, I]", WAMP_UNSUBSCRIBED, (json_int_t)request));
}

bool broker_subscription(const struct broker *b, uint64_t id, const char **uri, int *match)
{
	const struct subscription *sub = map_get(&b->by_id, (const char *)&id, sizeof id);
	if (!sub)
		return false;
	*uri = sub->uri;
	*match = (int)sub->match;
	return true;
}

void broker_session_left(struct broker *b, struct session *s)
{
	while (s->n_subscriptions)
		remove_subscriber(b, s->subscriptions[--s->n_subscriptions], s);
}

/* ---- publish ------------------------------------------------------------- */

static const char *const audience_keys[] = {
	"exclude", "eligible", "exclude_authid", "eligible_authid",
	"exclude_authrole", "eligible_authrole", NULL,
};

static bool has_audience(const json_t *options)
{
	for (size_t i = 0; audience_keys[i]; i++)
		if (json_is_array(json_object_get(options, audience_keys[i])))
			return true;
	return false;
}

static void published(void *ctx, struct event *ev, int err)
{
	struct publish_ack *ack = ctx;
	struct session *s = router_find_session(ack->router, ack->session_id);
	if (s && err)
		session_error(s, WAMP_PUBLISH, ack->request, "switchboard.error.history_unavailable",
			      "the event could not be stored in history; it was not published");
	else if (s)
		session_send(s, json_pack("[i, I, I]", WAMP_PUBLISHED, (json_int_t)ack->request,
					  (json_int_t)ev->pub_id));
	free(ack);
}

static struct event *event_from_publish(struct broker *b, struct session *s, const json_t *msg)
{
	const json_t *options = json_array_get(msg, 2);
	const char *topic = json_string_value(json_array_get(msg, 3));
	json_t *args = wamp_args(msg, 4), *kwargs = wamp_kwargs(msg, 4);
	json_t *sse_event = json_object_get(options, "sse_event");
	const char *name = json_string_value(sse_event);
	struct event *ev = event_new(b->realm, topic, args ? json_incref(args) : NULL,
				     kwargs ? json_incref(kwargs) : NULL,
				     name && *name && !strpbrk(name, "\r\n") ? name : NULL);
	ev->publisher = s->id;
	ev->exclude_publisher = !json_is_false(json_object_get(options, "exclude_me"));
	ev->disclose_publisher = wamp_opt_true(options, "disclose_me") ||
				 session_discloses(s, ACL_PUBLISH, topic);
	if (ev->disclose_publisher) {
		ev->publisher_authid = xstrdup(s->authid);
		ev->publisher_authrole = xstrdup(s->authrole);
	}
	if (has_audience(options)) {
		ev->audience = json_incref((json_t *)options);
		ev->is_live_only = true;   /* private to the sessions it names */
	}
	return ev;
}

void broker_publish(struct broker *b, struct session *s, const json_t *msg)
{
	uint64_t request = wamp_id(msg, 1);
	const json_t *options = json_array_get(msg, 2);
	const char *topic = json_string_value(json_array_get(msg, 3));
	bool acknowledge = wamp_opt_true(options, "acknowledge");
	uint64_t answer = acknowledge ? request : 0;   /* errors only when acknowledged */

	if (!uri_is_valid(topic) || !strncmp(topic, "wamp.", 5)) {
		if (acknowledge)
			session_error(s, WAMP_PUBLISH, request, "wamp.error.invalid_uri",
				      "%s topic URI \"%s\"", uri_is_valid(topic) ? "reserved" :
				      "invalid", topic);
		return;
	}
	if (!session_authorize(s, ACL_PUBLISH, WAMP_PUBLISH, answer, topic))
		return;
	struct event *ev = event_from_publish(b, s, msg);
	struct publish_ack *ack = NULL;
	if (acknowledge) {
		ack = xmalloc(sizeof *ack);
		*ack = (struct publish_ack){b->router, s->id, request};
	}
	bus_publish(router_gateway(b->router)->bus, ev, ack ? published : NULL, ack);
	event_unref(ev);
}
