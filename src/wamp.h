/* wamp.h - WAMP v2 messages: codes, the two serializers, shape checks.
 *
 * Inside the gateway every message is a jansson array, whatever the
 * client speaks.  Binary values travel as WAMP's JSON convention, a
 * string of U+0000 followed by base64; the msgpack codec turns them back
 * into msgpack bin on the way out, so a JSON and a msgpack client can
 * exchange binary payloads (as Autobahn|Python does).
 *
 * An encoded message is a wamp_frame: refcounted and shared by the
 * outgoing queues of every receiver, with headroom in front for the
 * WebSocket frame header libwebsockets writes in place.  One EVENT to
 * 10,000 subscribers is serialized once per serializer.
 */
#ifndef SB_WAMP_H
#define SB_WAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum wamp_code {
	WAMP_HELLO = 1,
	WAMP_WELCOME = 2,
	WAMP_ABORT = 3,
	WAMP_CHALLENGE = 4,
	WAMP_AUTHENTICATE = 5,
	WAMP_GOODBYE = 6,
	WAMP_ERROR = 8,
	WAMP_PUBLISH = 16,
	WAMP_PUBLISHED = 17,
	WAMP_SUBSCRIBE = 32,
	WAMP_SUBSCRIBED = 33,
	WAMP_UNSUBSCRIBE = 34,
	WAMP_UNSUBSCRIBED = 35,
	WAMP_EVENT = 36,
	WAMP_CALL = 48,
	WAMP_CANCEL = 49,
	WAMP_RESULT = 50,
	WAMP_REGISTER = 64,
	WAMP_REGISTERED = 65,
	WAMP_UNREGISTER = 66,
	WAMP_UNREGISTERED = 67,
	WAMP_INVOCATION = 68,
	WAMP_INTERRUPT = 69,
	WAMP_YIELD = 70,
};

/* WAMP ids are integers in [1, 2^53] (JavaScript's exact range). */
#define WAMP_MAX_ID (1ull << 53)

enum wamp_serializer {
	WAMP_JSON,                 /* wamp.2.json, text frames */
	WAMP_MSGPACK,              /* wamp.2.msgpack, binary frames */
	WAMP_N_SERIALIZERS,
	WAMP_INTERNAL = WAMP_N_SERIALIZERS, /* in-process sessions: json_t */
};

/* Bytes reserved in front of every frame (libwebsockets' LWS_PRE fits;
 * ws.c checks that at compile time). */
#define WAMP_FRAME_HEADROOM 32

struct wamp_frame {
	int refs;
	bool is_binary;
	size_t len;                /* payload bytes after the headroom */
	unsigned char *mem;        /* headroom + payload, malloc'ed */
};

static inline unsigned char *wamp_frame_payload(const struct wamp_frame *f)
{
	return f->mem + WAMP_FRAME_HEADROOM;
}

/* Decodes one message.  Returns a new reference, or NULL with a sentence
 * in err (undecodable bytes, trailing data, invalid UTF-8). */
json_t *wamp_decode(enum wamp_serializer ser, const void *data, size_t len,
		    char *err, size_t errlen);

/* Encodes msg into a new frame (refcount 1). */
struct wamp_frame *wamp_encode(enum wamp_serializer ser, const json_t *msg);

struct wamp_frame *wamp_frame_ref(struct wamp_frame *f);
void wamp_frame_unref(struct wamp_frame *f);

/* Checks a decoded message's shape: a list starting with a known code
 * the router may receive, the right arity and element types, ids in
 * range.  Returns the code, or 0 with a sentence in err. */
int wamp_check(const json_t *msg, char *err, size_t errlen);

/* Element i as an id (caller has run wamp_check). */
uint64_t wamp_id(const json_t *msg, size_t i);

/* Trailing Arguments/ArgumentsKw from element i on (borrowed, or NULL). */
json_t *wamp_args(const json_t *msg, size_t i);
json_t *wamp_kwargs(const json_t *msg, size_t i);

/* Appends args and kwargs to msg, leaving out what is empty (kwargs
 * forces args, as the spec requires).  Borrowed; msg takes references. */
void wamp_append_payload(json_t *msg, json_t *args, json_t *kwargs);

/* True if the option key is present and boolean true. */
bool wamp_opt_true(const json_t *dict, const char *key);

/* A random id in 1..2^53 from the CSPRNG (session ids). */
uint64_t wamp_random_id(void);

#endif
