/* bus.h - the topic bus: every producer publishes here, every consumer
 * subscribes here.
 *
 * Producers (/publish, WAMP publishers, webhooks) call bus_publish(); the
 * bus gives the event its global sequence number, has history store it,
 * and only once it is committed delivers it to every matching subscription
 * (SSE streams, WAMP sessions, forwarders), in sequence order.  Storing
 * before delivering is what lets an SSE client that reconnects replay from
 * history with no gap: whatever a subscriber has seen is already on disk.
 *
 * Matching never scans all subscriptions: exact topics are one hash
 * lookup, prefixes one lookup per distinct prefix length that exists, and
 * wildcards a walk down a trie of URI components.  Cost per event grows
 * with the number of matching subscriptions.
 *
 * A cluster-wide bus (Redis) would stand behind these same functions.
 * Loop thread only.
 */
#ifndef SB_BUS_H
#define SB_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "uri.h"

struct bus;
struct bus_sub;
struct history;

/* Called once per matching subscription, on the loop thread.  ev is
 * borrowed: take event_ref() to keep it.  Must not subscribe or
 * unsubscribe (mark and defer instead). */
typedef void (*bus_deliver_fn)(void *ctx, struct event *ev);

/* Called when a publish is settled: err 0 = stored and delivered, or a
 * negative errno when history could not store it (nothing was delivered). */
typedef void (*bus_published_fn)(void *ctx, struct event *ev, int err);

/* New bus over history (borrowed; NULL = no persistence, deliver at once,
 * as the unit tests do).  Sequence numbers continue after history's last. */
struct bus *bus_new(struct history *history);
void bus_free(struct bus *bus);

/* Subscribe.  New handle, owned by the caller until bus_unsubscribe().
 * pattern and realm are copied. */
struct bus_sub *bus_subscribe(struct bus *bus, const char *realm,
			      const char *pattern, enum uri_match match,
			      bus_deliver_fn deliver, void *ctx);
void bus_unsubscribe(struct bus *bus, struct bus_sub *sub);

/* Publish ev (the bus takes its own reference).  done may be NULL. */
void bus_publish(struct bus *bus, struct event *ev, bus_published_fn done, void *ctx);

/* Delivers ev at once, outside the sequence: no number, no history, no
 * SSE (router meta events, which need no order with other events and must
 * reach subscribers before the session they announce can act). */
void bus_publish_live(struct bus *bus, struct event *ev);

/* Sequence number of the last event delivered to subscribers: everything
 * up to it is in history, everything after it will be delivered live. */
uint64_t bus_delivered_seq(const struct bus *bus);

struct bus_stats {
	uint64_t published;      /* events stored and fanned out */
	uint64_t deliveries;     /* deliver calls made */
	uint64_t failed;         /* publishes history refused */
	size_t subscriptions;    /* live handles */
	size_t subjects;         /* distinct (realm, pattern, match) */
};
void bus_get_stats(const struct bus *bus, struct bus_stats *out);

#endif
