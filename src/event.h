/* event.h - one publication, shared by every receiver.
 *
 * An event is created once by a producer (/publish, WAMP, webhook, a
 * history replay), serialized once, and shared by reference count with
 * every queue it sits in: fan-out to 10,000 subscribers costs 10,000
 * pointer pushes, not 10,000 copies.  Reference counts are touched on the
 * loop thread only; the history writer thread reads immutable fields.
 */
#ifndef SB_EVENT_H
#define SB_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct event {
	int refs;
	uint64_t seq;          /* global history order; 0 until published */
	uint64_t pub_id;       /* WAMP publication id, random 1..2^53 */
	int64_t time_ms;       /* publication time, ms since the epoch */
	char *realm;
	char *topic;
	json_t *args;          /* array or NULL */
	json_t *kwargs;        /* object or NULL */
	char *sse_event;       /* SSE "event:" name, or NULL */
	char *payload;         /* {"topic":..,"args":..,"kwargs":..}, compact */
	size_t payload_len;
	char *frame;           /* SSE frame "id: SEQ\n...data: PAYLOAD\n\n" */
	size_t frame_len;

	/* Set by the broker for WAMP publishes; zero for HTTP ones. */
	uint64_t publisher;    /* session id */
	char *publisher_authid, *publisher_authrole;
	bool disclose_publisher;
	bool exclude_publisher;  /* PUBLISH exclude_me (default true) */
	/* PUBLISH options holding exclude/eligible lists, or NULL. */
	json_t *audience;
	/* Delivered live to WAMP sessions only: history does not store it and
	 * SSE clients never see it (targeted events, meta events). */
	bool is_live_only;
};

/* New event, refcount 1.  Copies realm, topic and sse_event (may be NULL);
 * steals args and kwargs (either may be NULL).  Builds the payload. */
struct event *event_new(const char *realm, const char *topic, json_t *args,
			json_t *kwargs, const char *sse_event);

/* New event from a stored history row (payload as stored).  Refcount 1. */
struct event *event_from_row(uint64_t seq, uint64_t pub_id, int64_t time_ms,
			     const char *realm, const char *topic,
			     const char *payload, size_t payload_len,
			     const char *sse_event);

/* Assign the sequence number and build the SSE frame. */
void event_set_seq(struct event *ev, uint64_t seq);

struct event *event_ref(struct event *ev);
void event_unref(struct event *ev);

/* A random publication id in 1..2^53 (WAMP's id space). */
uint64_t event_random_id(void);

#endif
