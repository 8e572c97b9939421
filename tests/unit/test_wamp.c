/* Test the WAMP codecs and shape checks: JSON and msgpack carry the same
 * messages, binary crosses between them as "\u0000"+base64, and every
 * malformed message is refused with a sentence, never accepted. */
#include <stdlib.h>

#include <msgpack.h>

#include "tap.h"
#include "wamp.h"

static json_t *roundtrip(enum wamp_serializer ser, const json_t *msg)
{
	char err[256];
	struct wamp_frame *f = wamp_encode(ser, msg);
	json_t *back = wamp_decode(ser, wamp_frame_payload(f), f->len, err, sizeof err);
	wamp_frame_unref(f);
	return back;
}

static void test_roundtrips(void)
{
	json_t *msg = json_loads("[16, 7, {\"acknowledge\": true}, \"com.x\", [1, -2, 3.5, \"s\", "
				 "null, true, false, [\"n\"], {\"k\": \"v\"}], {\"big\": 9007199254740992}]",
				 0, NULL);
	for (int ser = 0; ser < WAMP_N_SERIALIZERS; ser++) {
		json_t *back = roundtrip(ser, msg);
		ok(back && json_equal(back, msg), "%s round-trips every JSON type",
		   ser ? "msgpack" : "json");
		json_decref(back);
	}
	json_decref(msg);
}

/* A msgpack bin becomes "\0"+base64 and goes back to the same bin. */
static void test_binary(void)
{
	static const char raw[] = {0, 1, 2, (char)0xff, 'b', 'i', 'n'};
	msgpack_sbuffer sbuf;
	msgpack_packer pk;
	char err[256];
	msgpack_sbuffer_init(&sbuf);
	msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_bin_with_body(&pk, raw, sizeof raw);
	json_t *msg = wamp_decode(WAMP_MSGPACK, sbuf.data, sbuf.size, err, sizeof err);
	json_t *s = json_array_get(msg, 0);
	ok(json_is_string(s) && json_string_length(s) == 13 &&
	   !memcmp(json_string_value(s), "\0AAEC/2Jpbg==", 13), "bin decodes to \\u0000 + base64");

	struct wamp_frame *f = wamp_encode(WAMP_MSGPACK, msg);
	ok(f->len == sbuf.size && !memcmp(wamp_frame_payload(f), sbuf.data, sbuf.size),
	   "and encodes back to the identical msgpack bin");
	struct wamp_frame *j = wamp_encode(WAMP_JSON, msg);
	is_str((char *)wamp_frame_payload(j), "[\"\\u0000AAEC/2Jpbg==\"]",
	       "JSON clients see the WAMP binary convention");
	wamp_frame_unref(f);
	wamp_frame_unref(j);
	json_decref(msg);
	msgpack_sbuffer_destroy(&sbuf);
}

/* wampy (msgpackr) sends JavaScript's undefined as fixext 1 type 0. */
static void test_js_undefined(void)
{
	/* [32, 1, {"match": undefined, "x": 1}, "a", [undefined]] */
	static const unsigned char packed[] = {
		0x95, 0x20, 0x01, 0x82, 0xa5, 'm', 'a', 't', 'c', 'h', 0xd4, 0x00, 0x00,
		0xa1, 'x', 0x01, 0xa1, 'a', 0x91, 0xd4, 0x00, 0x00,
	};
	char err[256];
	json_t *msg = wamp_decode(WAMP_MSGPACK, packed, sizeof packed, err, sizeof err);
	char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	is_str(text ? text : err, "[32,1,{\"x\":1},\"a\",[null]]",
	       "undefined: a dict key is left out, a list item is null");
	free(text);
	json_decref(msg);
}

static void test_decode_errors(void)
{
	char err[256];
	static const unsigned char truncated[] = {0x93, 0x01};
	static const unsigned char trailing[] = {0x91, 0x01, 0x01};
	static const unsigned char bad_utf8[] = {0x91, 0xa2, 0xc3, 0x28};
	static const unsigned char int_key[] = {0x91, 0x81, 0x01, 0x01};
	ok(!wamp_decode(WAMP_JSON, "[1, ", 4, err, sizeof err) && strstr(err, "invalid JSON"),
	   "truncated JSON: %s", err);
	ok(!wamp_decode(WAMP_MSGPACK, truncated, sizeof truncated, err, sizeof err),
	   "truncated msgpack: %s", err);
	ok(!wamp_decode(WAMP_MSGPACK, trailing, sizeof trailing, err, sizeof err),
	   "msgpack with trailing bytes: %s", err);
	ok(!wamp_decode(WAMP_MSGPACK, bad_utf8, sizeof bad_utf8, err, sizeof err),
	   "msgpack string that is not UTF-8: %s", err);
	ok(!wamp_decode(WAMP_MSGPACK, int_key, sizeof int_key, err, sizeof err),
	   "msgpack map with an integer key: %s", err);
}

static const struct {
	const char *json;
	int code;                  /* 0 = refused */
	const char *why;
} shapes[] = {
	{"[1, \"realm1\", {}]", WAMP_HELLO, "HELLO"},
	{"[1, \"realm1\"]", 0, "HELLO without details"},
	{"[1, 5, {}]", 0, "HELLO with a number for a realm"},
	{"{\"a\": 1}", 0, "not a list"},
	{"[]", 0, "empty list"},
	{"[\"16\", 1, {}, \"t\"]", 0, "type as a string"},
	{"[7, {}]", 0, "old HEARTBEAT"},
	{"[2, 1, {}]", 0, "WELCOME from a peer"},
	{"[99, 1]", 0, "unknown type"},
	{"[16, 1, {}, \"t\"]", WAMP_PUBLISH, "PUBLISH"},
	{"[16, 1, {}, \"t\", [1], {\"k\": 1}]", WAMP_PUBLISH, "PUBLISH with args and kwargs"},
	{"[16, 1, {}, \"t\", {\"k\": 1}]", 0, "PUBLISH with kwargs in the args place"},
	{"[16, 1, {}, \"t\", [], {}, 1]", 0, "PUBLISH with too many elements"},
	{"[16, -1, {}, \"t\"]", 0, "negative request id"},
	{"[16, 0, {}, \"t\"]", 0, "request id 0"},
	{"[16, 9007199254740993, {}, \"t\"]", 0, "request id over 2^53"},
	{"[16, 1.5, {}, \"t\"]", 0, "fractional request id"},
	{"[32, 1, [], \"t\"]", 0, "SUBSCRIBE with a list for options"},
	{"[48, 1, {}, \"p\", [1, 2]]", WAMP_CALL, "CALL"},
	{"[70, 1, {}]", WAMP_YIELD, "YIELD"},
	{"[8, 68, 1, {}, \"com.err\", [], {}]", WAMP_ERROR, "ERROR for an invocation"},
	{"[8, 68, 1, {}]", 0, "ERROR without a URI"},
	{"[6, {}, \"wamp.close.normal\"]", WAMP_GOODBYE, "GOODBYE"},
};

static void test_shapes(void)
{
	char err[256];
	for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
		json_t *msg = json_loads(shapes[i].json, JSON_DECODE_ANY, NULL);
		err[0] = '\0';
		int code = wamp_check(msg, err, sizeof err);
		ok(code == shapes[i].code && (code || err[0]), "%s: %s%s", shapes[i].why,
		   code ? "accepted" : "refused: ", code ? "" : err);
		json_decref(msg);
	}
}

static void test_payload(void)
{
	json_t *msg = json_pack("[i]", WAMP_RESULT);
	json_t *args = json_array(), *kwargs = json_object();
	wamp_append_payload(msg, args, kwargs);
	ok(json_array_size(msg) == 1, "empty args and kwargs are left out");
	json_object_set_new(kwargs, "a", json_integer(1));
	wamp_append_payload(msg, NULL, kwargs);
	ok(json_array_size(msg) == 3 && json_is_array(json_array_get(msg, 1)),
	   "kwargs bring an empty args list with them");
	json_decref(msg);
	json_decref(args);
	json_decref(kwargs);
}

int main(void)
{
	test_roundtrips();
	test_binary();
	test_js_undefined();
	test_decode_errors();
	test_shapes();
	test_payload();
	int out_of_range = 0;
	uint64_t high_bits = 0;
	for (int i = 0; i < 1000; i++) {
		uint64_t id = wamp_random_id();
		out_of_range += !id || id > WAMP_MAX_ID;
		high_bits |= id >> 40;
	}
	ok(!out_of_range && high_bits, "1000 random session ids in 1..2^53, using the high bits "
	   "(%d out of range)", out_of_range);
	return done_testing();
}
