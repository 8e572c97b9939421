/* wamp.c - WAMP codecs and message shape checks (see wamp.h). */
#include "wamp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "util.h"

/* ---- frames ---------------------------------------------------------------- */

static struct wamp_frame *frame_new(unsigned char *mem, size_t len, bool is_binary)
{
	struct wamp_frame *f = xmalloc(sizeof *f);
	*f = (struct wamp_frame){.refs = 1, .is_binary = is_binary, .len = len, .mem = mem};
	return f;
}

struct wamp_frame *wamp_frame_ref(struct wamp_frame *f)
{
	f->refs++;
	return f;
}

void wamp_frame_unref(struct wamp_frame *f)
{
	if (!f || --f->refs > 0)
		return;
	free(f->mem);
	free(f);
}

/* ---- JSON ------------------------------------------------------------------ */

static int append_to_buf(const char *data, size_t len, void *ctx)
{
	buf_append(ctx, data, len);
	return 0;
}

static struct wamp_frame *encode_json(const json_t *msg)
{
	static const char headroom[WAMP_FRAME_HEADROOM];
	struct buf out = {0};
	buf_append(&out, headroom, sizeof headroom);
	json_dump_callback(msg, append_to_buf, &out, JSON_COMPACT | JSON_ENCODE_ANY);
	return frame_new((unsigned char *)out.data, out.len - WAMP_FRAME_HEADROOM, false);
}

static json_t *decode_json(const void *data, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	/* JSON_ALLOW_NUL: WAMP binary is "\u0000" + base64. */
	json_t *msg = json_loadb(data, len, JSON_ALLOW_NUL, &jerr);
	if (!msg)
		snprintf(err, errlen, "invalid JSON: %s at column %d", jerr.text, jerr.column);
	return msg;
}

/* ---- msgpack --------------------------------------------------------------- */

static bool is_wamp_binary(const json_t *s)
{
	return json_string_length(s) > 0 && json_string_value(s)[0] == '\0';
}

static void pack_binary(msgpack_packer *pk, const json_t *s)
{
	const char *b64 = json_string_value(s) + 1;
	size_t b64len = json_string_length(s) - 1;
	unsigned char *raw = xmalloc(b64len / 4 * 3 + 3);
	int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)b64len);
	if (n < 0 || b64len % 4) {
		/* Not base64 after all: send the string as it is. */
		msgpack_pack_str_with_body(pk, json_string_value(s), json_string_length(s));
	} else {
		n -= (b64len && b64[b64len - 1] == '=') + (b64len > 1 && b64[b64len - 2] == '=');
		msgpack_pack_bin_with_body(pk, raw, (size_t)n);
	}
	free(raw);
}

static void pack_value(msgpack_packer *pk, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *value;
		msgpack_pack_map(pk, json_object_size(v));
		json_object_foreach((json_t *)v, key, value) {
			msgpack_pack_str_with_body(pk, key, strlen(key));
			pack_value(pk, value);
		}
		break;
	}
	case JSON_ARRAY:
		msgpack_pack_array(pk, json_array_size(v));
		for (size_t i = 0; i < json_array_size(v); i++)
			pack_value(pk, json_array_get(v, i));
		break;
	case JSON_STRING:
		if (is_wamp_binary(v))
			pack_binary(pk, v);
		else
			msgpack_pack_str_with_body(pk, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		msgpack_pack_int64(pk, json_integer_value(v));
		break;
	case JSON_REAL:
		msgpack_pack_double(pk, json_real_value(v));
		break;
	case JSON_TRUE:
		msgpack_pack_true(pk);
		break;
	case JSON_FALSE:
		msgpack_pack_false(pk);
		break;
	case JSON_NULL:
		msgpack_pack_nil(pk);
		break;
	}
}

static struct wamp_frame *encode_msgpack(const json_t *msg)
{
	static const char headroom[WAMP_FRAME_HEADROOM];
	msgpack_sbuffer sbuf;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sbuf);
	msgpack_sbuffer_write(&sbuf, headroom, sizeof headroom);
	msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
	pack_value(&pk, msg);
	return frame_new((unsigned char *)sbuf.data, sbuf.size - WAMP_FRAME_HEADROOM, true);
}

static json_t *binary_string(const char *raw, size_t len)
{
	char *text = xmalloc(1 + (len + 2) / 3 * 4 + 1);
	text[0] = '\0';
	int n = EVP_EncodeBlock((unsigned char *)text + 1, (const unsigned char *)raw, (int)len);
	json_t *s = json_stringn(text, 1 + (size_t)n);
	free(text);
	return s;
}

/* JavaScript's undefined as msgpackr (wampy) writes it: fixext 1, type 0,
 * data 0.  Read as JSON.stringify would: a dict key with it is left out,
 * elsewhere it is null. */
static bool is_js_undefined(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_EXT && o->via.ext.type == 0 && o->via.ext.size == 1 &&
	       o->via.ext.ptr[0] == 0;
}

/* msgpack object -> json_t; NULL for what JSON cannot carry. */
static json_t *unpack_value(const msgpack_object *o)
{
	if (is_js_undefined(o))
		return json_null();
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return o->via.u64 <= INT64_MAX ? json_integer((json_int_t)o->via.u64)
					       : json_real((double)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer(o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return json_real(o->via.f64);
	case MSGPACK_OBJECT_STR:
		return json_stringn(o->via.str.ptr, o->via.str.size);  /* NULL if not UTF-8 */
	case MSGPACK_OBJECT_BIN:
		return binary_string(o->via.bin.ptr, o->via.bin.size);
	case MSGPACK_OBJECT_ARRAY: {
		json_t *a = json_array();
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			json_t *v = unpack_value(&o->via.array.ptr[i]);
			if (!v || json_array_append_new(a, v)) {
				json_decref(a);
				return NULL;
			}
		}
		return a;
	}
	case MSGPACK_OBJECT_MAP: {
		json_t *m = json_object();
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			if (kv->key.type == MSGPACK_OBJECT_STR && is_js_undefined(&kv->val))
				continue;
			json_t *v = kv->key.type == MSGPACK_OBJECT_STR ? unpack_value(&kv->val) : NULL;
			if (!v || json_object_setn_new(m, kv->key.via.str.ptr, kv->key.via.str.size, v)) {
				json_decref(m);
				return NULL;
			}
		}
		return m;
	}
	default:
		return NULL;               /* ext types */
	}
}

static json_t *decode_msgpack(const void *data, size_t len, char *err, size_t errlen)
{
	msgpack_unpacked result;
	size_t off = 0;
	json_t *msg = NULL;
	msgpack_unpacked_init(&result);
	msgpack_unpack_return rc = msgpack_unpack_next(&result, data, len, &off);
	if (rc != MSGPACK_UNPACK_SUCCESS)
		snprintf(err, errlen, "invalid msgpack (%s)",
			 rc == MSGPACK_UNPACK_CONTINUE ? "truncated" : "malformed");
	else if (off != len)
		snprintf(err, errlen, "invalid msgpack: %zu bytes after the message", len - off);
	else if (!(msg = unpack_value(&result.data)))
		snprintf(err, errlen, "msgpack value JSON cannot carry (non-UTF-8 string, non-string "
			 "map key or extension type)");
	msgpack_unpacked_destroy(&result);
	return msg;
}

/* ---- dispatch -------------------------------------------------------------- */

json_t *wamp_decode(enum wamp_serializer ser, const void *data, size_t len,
		    char *err, size_t errlen)
{
	return ser == WAMP_MSGPACK ? decode_msgpack(data, len, err, errlen)
				   : decode_json(data, len, err, errlen);
}

struct wamp_frame *wamp_encode(enum wamp_serializer ser, const json_t *msg)
{
	return ser == WAMP_MSGPACK ? encode_msgpack(msg) : encode_json(msg);
}

/* ---- shape checks ---------------------------------------------------------- */

/* What the router accepts from a peer.  Element types after the code:
 * i id, n integer, d dict, u string (URI, checked where used), s string;
 * has_payload: optional trailing Arguments list and ArgumentsKw dict. */
struct shape {
	int code;
	const char *name;
	const char *elements;
	bool has_payload;
};

static const struct shape shapes[] = {
	{WAMP_HELLO, "HELLO", "ud", false},
	{WAMP_ABORT, "ABORT", "du", true},
	{WAMP_AUTHENTICATE, "AUTHENTICATE", "sd", false},
	{WAMP_GOODBYE, "GOODBYE", "du", false},
	{WAMP_ERROR, "ERROR", "nidu", true},
	{WAMP_PUBLISH, "PUBLISH", "idu", true},
	{WAMP_SUBSCRIBE, "SUBSCRIBE", "idu", false},
	{WAMP_UNSUBSCRIBE, "UNSUBSCRIBE", "ii", false},
	{WAMP_CALL, "CALL", "idu", true},
	{WAMP_CANCEL, "CANCEL", "id", false},
	{WAMP_REGISTER, "REGISTER", "idu", false},
	{WAMP_UNREGISTER, "UNREGISTER", "ii", false},
	{WAMP_YIELD, "YIELD", "id", true},
	{0, NULL, NULL, false},
};

static bool is_id(const json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 1 &&
	       (uint64_t)json_integer_value(v) <= WAMP_MAX_ID;
}

static bool element_ok(char kind, const json_t *v)
{
	switch (kind) {
	case 'i': return is_id(v);
	case 'n': return json_is_integer(v);
	case 'd': return json_is_object(v);
	case 'u':
	case 's': return json_is_string(v);
	}
	return false;
}

static const char *element_kind(char kind)
{
	switch (kind) {
	case 'i': return "an id (integer 1..2^53)";
	case 'n': return "an integer";
	case 'd': return "a dict";
	default: return "a string";
	}
}

int wamp_check(const json_t *msg, char *err, size_t errlen)
{
	if (!json_is_array(msg) || !json_array_size(msg) || !json_is_integer(json_array_get(msg, 0))) {
		snprintf(err, errlen, "a WAMP message is a list starting with an integer message type");
		return 0;
	}
	json_int_t code = json_integer_value(json_array_get(msg, 0));
	const struct shape *s = shapes;
	while (s->code && s->code != code)
		s++;
	if (!s->code) {
		snprintf(err, errlen, "message type %lld is unknown or not sent by peers",
			 (long long)code);
		return 0;
	}
	size_t need = 1 + strlen(s->elements), have = json_array_size(msg);
	size_t most = need + (s->has_payload ? 2 : 0);
	if (have < need || have > most) {
		if (most > need)
			snprintf(err, errlen, "%s must have %zu to %zu elements, not %zu", s->name,
				 need, most, have);
		else
			snprintf(err, errlen, "%s must have %zu elements, not %zu", s->name, need, have);
		return 0;
	}
	for (size_t i = 1; i < need; i++) {
		if (!element_ok(s->elements[i - 1], json_array_get(msg, i))) {
			snprintf(err, errlen, "%s element %zu must be %s", s->name, i,
				 element_kind(s->elements[i - 1]));
			return 0;
		}
	}
	if (have > need && !json_is_array(json_array_get(msg, need))) {
		snprintf(err, errlen, "%s Arguments must be a list", s->name);
		return 0;
	}
	if (have > need + 1 && !json_is_object(json_array_get(msg, need + 1))) {
		snprintf(err, errlen, "%s ArgumentsKw must be a dict", s->name);
		return 0;
	}
	return (int)code;
}

uint64_t wamp_id(const json_t *msg, size_t i)
{
	return (uint64_t)json_integer_value(json_array_get(msg, i));
}

json_t *wamp_args(const json_t *msg, size_t i)
{
	return json_array_get(msg, i);
}

json_t *wamp_kwargs(const json_t *msg, size_t i)
{
	return json_array_get(msg, i + 1);
}

void wamp_append_payload(json_t *msg, json_t *args, json_t *kwargs)
{
	bool has_kwargs = json_object_size(kwargs) > 0;
	if (json_array_size(args) || has_kwargs)
		json_array_append_new(msg, args ? json_incref(args) : json_array());
	if (has_kwargs)
		json_array_append(msg, kwargs);
}

bool wamp_opt_true(const json_t *dict, const char *key)
{
	return json_is_true(json_object_get(dict, key));
}

uint64_t wamp_random_id(void)
{
	uint64_t id = 0;
	while (!id) {
		if (RAND_bytes((unsigned char *)&id, sizeof id) != 1)
			id = mono_ns();
		id &= WAMP_MAX_ID - 1;
	}
	return id;
}
