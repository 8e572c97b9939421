/* bus.c - subscription index, publish ordering, fan-out (see bus.h). */
#include "bus.h"

#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "map.h"
#include "util.h"

/* All subscriptions to one (pattern, match) in one realm. */
struct subject {
	char *pattern;
	enum uri_match match;
	struct bus_sub *subs;          /* doubly linked */
	struct wnode *node;            /* wildcard: its trie node */
};

struct bus_sub {
	struct bus_sub *prev, *next;
	struct subject *subject;
	struct bus_realm *realm;
	bus_deliver_fn deliver;
	void *ctx;
};

/* Wildcard trie: one level per URI component; "" children match any. */
struct wnode {
	struct wnode *parent;
	char *component;               /* key in parent->children, or NULL for any */
	struct map children;           /* component -> struct wnode */
	struct wnode *any;             /* empty pattern component */
	struct subject *subject;       /* a pattern ends here */
};

struct bus_realm {
	struct bus_realm *next;
	char *name;
	struct map exact;              /* topic -> subject */
	struct map prefix;             /* prefix -> subject */
	size_t *prefix_lengths;        /* [len] = prefix subjects of that length */
	size_t n_prefix_lengths;       /* entries allocated */
	struct wnode wildcards;
};

struct pending {                       /* a publish waiting for its commit */
	struct bus *bus;
	struct event *ev;
	bus_published_fn done;
	void *ctx;
};

struct bus {
	struct history *history;
	struct bus_realm *realms;
	uint64_t next_seq;
	uint64_t delivered_seq;
	struct bus_stats stats;
};

/* ---- realms and subjects ---------------------------------------------- */

static struct bus_realm *realm_get(struct bus *bus, const char *name, int create)
{
	for (struct bus_realm *r = bus->realms; r; r = r->next)
		if (!strcmp(r->name, name))
			return r;
	if (!create)
		return NULL;
	struct bus_realm *r = xcalloc(1, sizeof *r);
	r->name = xstrdup(name);
	r->next = bus->realms;
	bus->realms = r;
	return r;
}

static struct subject *subject_new(const char *pattern, enum uri_match match)
{
	struct subject *s = xcalloc(1, sizeof *s);
	s->pattern = xstrdup(pattern);
	s->match = match;
	return s;
}

static struct wnode *wildcard_node(struct bus_realm *r, const char *pattern, int create)
{
	struct wnode *n = &r->wildcards;
	for (const char *p = pattern;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		struct wnode *child = len ? map_get(&n->children, p, len) : n->any;
		if (!child) {
			if (!create)
				return NULL;
			child = xcalloc(1, sizeof *child);
			child->parent = n;
			if (len) {
				child->component = xstrndup(p, len);
				map_put(&n->children, p, len, child);
			} else {
				n->any = child;
			}
		}
		n = child;
		if (!dot)
			return n;
		p = dot + 1;
	}
}

/* Free empty trie nodes from n upwards. */
static void wildcard_prune(struct wnode *n)
{
	while (n->parent && !n->subject && !n->any && n->children.count == 0) {
		struct wnode *parent = n->parent;
		if (n->component)
			map_remove(&parent->children, n->component, strlen(n->component));
		else
			parent->any = NULL;
		map_clear(&n->children);
		free(n->component);
		free(n);
		n = parent;
	}
}

static struct subject *subject_find(struct bus_realm *r, const char *pattern,
				    enum uri_match match, int create)
{
	size_t len = strlen(pattern);
	struct subject *s = NULL;

	switch (match) {
	case URI_EXACT:
		s = map_get(&r->exact, pattern, len);
		if (!s && create)
			map_put(&r->exact, pattern, len, s = subject_new(pattern, match));
		break;
	case URI_PREFIX:
		s = map_get(&r->prefix, pattern, len);
		if (!s && create) {
			map_put(&r->prefix, pattern, len, s = subject_new(pattern, match));
			if (len >= r->n_prefix_lengths) {
				r->prefix_lengths = xrealloc(r->prefix_lengths, (len + 1) * sizeof(size_t));
				for (size_t i = r->n_prefix_lengths; i <= len; i++)
					r->prefix_lengths[i] = 0;
				r->n_prefix_lengths = len + 1;
			}
			r->prefix_lengths[len]++;
		}
		break;
	case URI_WILDCARD: {
		struct wnode *n = wildcard_node(r, pattern, create);
		if (n && !n->subject && create) {
			n->subject = subject_new(pattern, match);
			n->subject->node = n;
		}
		s = n ? n->subject : NULL;
		break;
	}
	}
	return s;
}

static void subject_drop(struct bus_realm *r, struct subject *s)
{
	size_t len = strlen(s->pattern);
	switch (s->match) {
	case URI_EXACT:
		map_remove(&r->exact, s->pattern, len);
		break;
	case URI_PREFIX:
		map_remove(&r->prefix, s->pattern, len);
		r->prefix_lengths[len]--;
		break;
	case URI_WILDCARD:
		s->node->subject = NULL;
		wildcard_prune(s->node);
		break;
	}
	free(s->pattern);
	free(s);
}

/* ---- subscribe -------------------------------------------------------- */

struct bus *bus_new(struct history *history)
{
	struct bus *bus = xcalloc(1, sizeof *bus);
	bus->history = history;
	bus->delivered_seq = history ? history_last_seq(history) : 0;
	bus->next_seq = bus->delivered_seq + 1;
	return bus;
}

struct bus_sub *bus_subscribe(struct bus *bus, const char *realm,
			      const char *pattern, enum uri_match match,
			      bus_deliver_fn deliver, void *ctx)
{
	struct bus_realm *r = realm_get(bus, realm, 1);
	struct subject *s = subject_find(r, pattern, match, 0);
	if (!s) {
		s = subject_find(r, pattern, match, 1);
		bus->stats.subjects++;
	}
	struct bus_sub *sub = xcalloc(1, sizeof *sub);
	sub->subject = s;
	sub->realm = r;
	sub->deliver = deliver;
	sub->ctx = ctx;
	sub->next = s->subs;
	if (s->subs)
		s->subs->prev = sub;
	s->subs = sub;
	bus->stats.subscriptions++;
	return sub;
}

void bus_unsubscribe(struct bus *bus, struct bus_sub *sub)
{
	if (!sub)
		return;
	struct subject *s = sub->subject;
	if (sub->prev)
		sub->prev->next = sub->next;
	else
		s->subs = sub->next;
	if (sub->next)
		sub->next->prev = sub->prev;
	if (!s->subs) {
		subject_drop(sub->realm, s);
		bus->stats.subjects--;
	}
	bus->stats.subscriptions--;
	free(sub);
}

/* ---- fan-out ------------------------------------------------------------ */

static void deliver_subject(struct bus *bus, struct subject *s, struct event *ev)
{
	if (!s)
		return;
	for (struct bus_sub *sub = s->subs, *next; sub; sub = next) {
		next = sub->next;
		sub->deliver(sub->ctx, ev);
		bus->stats.deliveries++;
	}
}

static void deliver_wildcards(struct bus *bus, struct wnode *n, const char *rest, struct event *ev)
{
	const char *dot = strchr(rest, '.');
	size_t len = dot ? (size_t)(dot - rest) : strlen(rest);
	struct wnode *next[2] = {map_get(&n->children, rest, len), n->any};
	for (int i = 0; i < 2; i++) {
		if (!next[i])
			continue;
		if (dot)
			deliver_wildcards(bus, next[i], dot + 1, ev);
		else
			deliver_subject(bus, next[i]->subject, ev);
	}
}

static void fan_out(struct bus *bus, struct event *ev)
{
	struct bus_realm *r = realm_get(bus, ev->realm, 0);
	bus->stats.published++;
	if (!r)
		return;
	size_t len = strlen(ev->topic);
	deliver_subject(bus, map_get(&r->exact, ev->topic, len), ev);
	if (r->prefix.count) {
		size_t top = len < r->n_prefix_lengths ? len + 1 : r->n_prefix_lengths;
		for (size_t l = 0; l < top; l++)
			if (r->prefix_lengths[l])
				deliver_subject(bus, map_get(&r->prefix, ev->topic, l), ev);
	}
	if (r->wildcards.children.count || r->wildcards.any)
		deliver_wildcards(bus, &r->wildcards, ev->topic, ev);
}

static void stored(void *ctx, int err)
{
	struct pending *p = ctx;
	if (err == 0) {
		p->bus->delivered_seq = p->ev->seq;
		fan_out(p->bus, p->ev);
	}
	else
		p->bus->stats.failed++;
	if (p->done)
		p->done(p->ctx, p->ev, err);
	event_unref(p->ev);
	free(p);
}

void bus_publish(struct bus *bus, struct event *ev, bus_published_fn done, void *ctx)
{
	struct pending *p = xmalloc(sizeof *p);
	*p = (struct pending){bus, event_ref(ev), done, ctx};
	event_set_seq(ev, bus->next_seq++);
	if (bus->history)
		history_append(bus->history, ev, stored, p);
	else
		stored(p, 0);
}

void bus_publish_live(struct bus *bus, struct event *ev)
{
	ev->is_live_only = true;
	fan_out(bus, ev);
}

uint64_t bus_delivered_seq(const struct bus *bus)
{
	return bus->delivered_seq;
}

void bus_get_stats(const struct bus *bus, struct bus_stats *out)
{
	*out = bus->stats;
}

/* ---- teardown ----------------------------------------------------------- */

static void free_subject_value(const char *key, void *value, void *ctx)
{
	struct subject *s = value;
	for (struct bus_sub *sub = s->subs, *next; sub; sub = next) {
		next = sub->next;
		free(sub);
	}
	free(s->pattern);
	free(s);
}

static void free_wnode(struct wnode *n);

static void free_wnode_value(const char *key, void *value, void *ctx)
{
	free_wnode(value);
}

static void free_wnode(struct wnode *n)
{
	map_each(&n->children, free_wnode_value, NULL);
	map_clear(&n->children);
	if (n->any)
		free_wnode(n->any);
	if (n->subject)
		free_subject_value(NULL, n->subject, NULL);
	free(n->component);
	if (n->parent)
		free(n);
}

void bus_free(struct bus *bus)
{
	if (!bus)
		return;
	for (struct bus_realm *r = bus->realms, *next; r; r = next) {
		next = r->next;
		map_each(&r->exact, free_subject_value, NULL);
		map_clear(&r->exact);
		map_each(&r->prefix, free_subject_value, NULL);
		map_clear(&r->prefix);
		free(r->prefix_lengths);
		free_wnode(&r->wildcards);
		free(r->name);
		free(r);
	}
	free(bus);
}
