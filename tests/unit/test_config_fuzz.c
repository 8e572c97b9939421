/* Test that config_parse never crashes, leaks or prints a multi-line error
 * on mangled input: thousands of deterministic mutations of the embedded
 * default, at the JSON level (values of the wrong type, unknown keys,
 * removed keys) and at the byte level (broken JSON).  Every outcome must be
 * a parsed config or one line naming where it went wrong.  Run it under
 * ./configure --enable-sanitizers to catch memory errors. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "roll.h"
#include "tap.h"
#include "util.h"

#define ROUNDS 4000


static json_t *random_value(void)
{
	switch (roll(9)) {
	case 0: return json_string("");
	case 1: return json_string("com..x");
	case 2: return json_integer(-1);
	case 3: return json_integer(70000);
	case 4: return json_real(1e300);
	case 5: return json_true();
	case 6: return json_null();
	case 7: return json_pack("[s, i]", "*", 3);
	default: return json_pack("{s:s}", "type", "static");
	}
}

/* Picks a random object or array inside root (root itself included). */
static json_t *random_container(json_t *root)
{
	json_t *node = root;
	for (int depth = 0; depth < 8 && roll(3); depth++) {
		json_t *next = NULL;
		if (json_is_object(node) && json_object_size(node)) {
			size_t want = roll((unsigned)json_object_size(node)), i = 0;
			const char *key;
			json_t *v;
			json_object_foreach(node, key, v) {
				if (i++ == want) {
					next = v;
					break;
				}
			}
		} else if (json_is_array(node) && json_array_size(node)) {
			next = json_array_get(node, roll((unsigned)json_array_size(node)));
		}
		if (!next || !(json_is_object(next) || json_is_array(next)))
			break;
		node = next;
	}
	return node;
}

static void mutate_json(json_t *root)
{
	json_t *node = random_container(root);
	static const char *keys[] = {"type", "port", "paths", "realm", "role", "options",
				     "uri", "match", "allow", "history", "retention", "zzz"};
	if (json_is_object(node)) {
		const char *key = keys[roll(12)];
		if (roll(4) == 0)
			json_object_del(node, key);
		else
			json_object_set_new(node, key, random_value());
	} else if (json_is_array(node)) {
		if (json_array_size(node) && roll(2))
			json_array_set_new(node, roll((unsigned)json_array_size(node)), random_value());
		else
			json_array_append_new(node, random_value());
	}
}

static char *mutate_bytes(const char *text)
{
	static const char *tokens[] = {"{", "}", "[", "]", "\"", ",", ":", "0", "-1", "true",
				       "null", "\"x\"", "1e999", "\"\\u0000\"", "\"\\ud800\"", "\xff"};
	size_t len = strlen(text);
	struct buf b = {0};
	size_t at = roll((unsigned)len + 1);
	buf_append(&b, text, at);
	if (roll(2)) {
		const char *t = tokens[roll(16)];
		buf_append(&b, t, strlen(t));
	} else {
		at += roll(8);           /* delete a few bytes */
		if (at > len)
			at = len;
	}
	buf_append(&b, text + at, len - at);
	return b.data;
}

/* Returns true if the outcome is acceptable. */
static bool try_parse(const char *text, int *parsed)
{
	struct sb_config cfg;
	char err[512] = "";
	if (config_parse(&cfg, text, "fuzz.json", "/tmp", err, sizeof err) == 0) {
		(*parsed)++;
		config_free(&cfg);
		return true;
	}
	return err[0] && !strchr(err, '\n') && !strncmp(err, "fuzz.json", 9);
}

int main(void)
{
	int parsed = 0, bad = 0;
	for (int round = 0; round < ROUNDS; round++) {
		json_t *root = json_loads(config_default_json, 0, NULL);
		for (int m = 0; m <= (int)roll(3); m++)
			mutate_json(root);
		char *text = json_dumps(root, 0);
		if (!try_parse(text, &parsed) && bad++ < 5)
			diag("bad outcome for: %s", text);
		free(text);
		json_decref(root);
	}
	ok(bad == 0, "%d JSON-level mutations: each parsed or refused in one line (%d parsed)",
	   ROUNDS, parsed);

	bad = 0;
	parsed = 0;
	for (int round = 0; round < ROUNDS; round++) {
		char *text = mutate_bytes(config_default_json);
		if (!try_parse(text, &parsed) && bad++ < 5)
			diag("bad outcome for: %s", text);
		free(text);
	}
	ok(bad == 0, "%d byte-level mutations: each parsed or refused in one line (%d parsed)",
	   ROUNDS, parsed);
	return done_testing();
}
