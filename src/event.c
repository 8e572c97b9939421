/* event.c - refcounted publications and their one-time serialization. */
#include "event.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "sse.h"
#include "util.h"

static void build_payload(struct event *ev)
{
	json_t *data = json_object();
	json_object_set_new(data, "topic", json_string(ev->topic));
	if (ev->args)
		json_object_set(data, "args", ev->args);
	if (ev->kwargs)
		json_object_set(data, "kwargs", ev->kwargs);
	ev->payload = json_dumps(data, JSON_COMPACT);
	ev->payload_len = strlen(ev->payload);
	json_decref(data);
}

struct event *event_new(const char *realm, const char *topic, json_t *args,
			json_t *kwargs, const char *sse_event)
{
	struct event *ev = xcalloc(1, sizeof *ev);
	ev->refs = 1;
	ev->pub_id = event_random_id();
	ev->time_ms = now_ms();
	ev->realm = xstrdup(realm);
	ev->topic = xstrdup(topic);
	ev->args = args;
	ev->kwargs = kwargs;
	ev->sse_event = sse_event ? xstrdup(sse_event) : NULL;
	build_payload(ev);
	return ev;
}

struct event *event_from_row(uint64_t seq, uint64_t pub_id, int64_t time_ms,
			     const char *realm, const char *topic,
			     const char *payload, size_t payload_len,
			     const char *sse_event)
{
	struct event *ev = xcalloc(1, sizeof *ev);
	ev->refs = 1;
	ev->pub_id = pub_id;
	ev->time_ms = time_ms;
	ev->realm = xstrdup(realm);
	ev->topic = xstrdup(topic);
	ev->sse_event = sse_event ? xstrdup(sse_event) : NULL;
	ev->payload = xstrndup(payload, payload_len);
	ev->payload_len = payload_len;
	event_set_seq(ev, seq);
	return ev;
}

void event_set_seq(struct event *ev, uint64_t seq)
{
	struct buf frame = {0};
	char id[24];
	ev->seq = seq;
	snprintf(id, sizeof id, "%llu", (unsigned long long)seq);
	sse_frame_build(&frame, id, ev->sse_event, ev->payload, ev->payload_len);
	free(ev->frame);
	ev->frame = frame.data;
	ev->frame_len = frame.len;
}

struct event *event_ref(struct event *ev)
{
	ev->refs++;
	return ev;
}

void event_unref(struct event *ev)
{
	if (!ev || --ev->refs > 0)
		return;
	free(ev->realm);
	free(ev->topic);
	json_decref(ev->args);
	json_decref(ev->kwargs);
	free(ev->sse_event);
	free(ev->payload);
	free(ev->frame);
	free(ev->publisher_authid);
	free(ev->publisher_authrole);
	json_decref(ev->audience);
	free(ev);
}

/* Publication ids only need to be unpredictable enough not to collide, not
 * secret: splitmix64 seeded once from OpenSSL costs nothing per event
 * (RAND_bytes checks getpid() on every call).  Loop thread only. */
uint64_t event_random_id(void)
{
	static uint64_t state;
	static bool is_seeded;
	if (!is_seeded) {
		if (RAND_bytes((unsigned char *)&state, sizeof state) != 1)
			state = mono_ns() ^ (uint64_t)now_ms() << 20;
		is_seeded = true;
	}
	for (;;) {
		uint64_t z = (state += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z = (z ^ (z >> 31)) & ((1ull << 53) - 1);
		if (z)
			return z;
	}
}
