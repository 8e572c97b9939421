/* Test that URI validation and exact/prefix/wildcard matching follow the
 * WAMP / Crossbar rules (reference/crossbar-bridge.md §8.1). */
#include "tap.h"
#include "uri.h"

static const struct {
	const char *uri;
	bool valid;
} validity[] = {
	{"com.example.news", true}, {"a", true}, {"user.12.orders", true},
	{"com.ex-ample.ü", true}, {"", false}, {"a..b", false}, {".a", false},
	{"a.", false}, {"a b", false}, {"a\tb", false}, {"a#b", false},
	{"com.example.", false}, {"a.\xff", false}, {"a.\xc0\xae", false},
	{"a.\xed\xa0\x80", false}, {"caf\xc3\xa9.\xf0\x9f\x98\x80", true},
};

static const struct {
	const char *pattern;
	enum uri_match match;
	const char *topic;
	bool matches;
} cases[] = {
	{"com.myapp", URI_EXACT, "com.myapp", true},
	{"com.myapp", URI_EXACT, "com.myapp.x", false},
	{"com.myapp", URI_PREFIX, "com.myapp", true},
	{"com.myapp", URI_PREFIX, "com.myapp.topic1", true},
	{"com.myapp", URI_PREFIX, "com.myapp2.foobar", true},   /* plain string prefix */
	{"com.myapp.", URI_PREFIX, "com.myapp2.foobar", false},
	{"", URI_PREFIX, "anything.at.all", true},
	{"com.myapp", URI_PREFIX, "com.my", false},
	{"user..orders", URI_WILDCARD, "user.12.orders", true},
	{"user..orders", URI_WILDCARD, "users.12.orders", false},
	{"user..orders", URI_WILDCARD, "user.12.x.orders", false},
	{"user..orders", URI_WILDCARD, "user.orders", false},
	{"user..orders", URI_WILDCARD, "user.12.order", false},
	{"..c", URI_WILDCARD, "a.b.c", true},
	{"a..", URI_WILDCARD, "a.b.c", true},
	{"a..", URI_WILDCARD, "a.b", false},
	{"a.b.c", URI_WILDCARD, "a.b.c", true},
	{"a.b.c", URI_WILDCARD, "a.b.cd", false},
	{"a..c", URI_WILDCARD, "a.bb.c", true},
};

int main(void)
{
	for (size_t i = 0; i < sizeof validity / sizeof *validity; i++)
		ok(uri_is_valid(validity[i].uri) == validity[i].valid, "uri_is_valid(\"%s\") is %s",
		   validity[i].uri, validity[i].valid ? "true" : "false");

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		ok(uri_matches(cases[i].pattern, cases[i].match, cases[i].topic) == cases[i].matches,
		   "%s \"%s\" %s \"%s\"", uri_match_name(cases[i].match), cases[i].pattern,
		   cases[i].matches ? "matches" : "does not match", cases[i].topic);

	ok(uri_pattern_is_valid("", URI_PREFIX), "prefix \"\" is a valid pattern (everything)");
	ok(uri_pattern_is_valid("com.example.", URI_PREFIX), "prefix may end in a dot");
	ok(uri_pattern_is_valid("user..orders", URI_WILDCARD), "wildcard may have empty components");
	ok(!uri_pattern_is_valid("user..orders", URI_EXACT), "exact may not have empty components");
	ok(!uri_pattern_is_valid("a b", URI_PREFIX), "prefix may not contain spaces");
	ok(!uri_pattern_is_valid("", URI_WILDCARD), "wildcard \"\" is not a pattern");
	is_int(uri_match_parse("wildcard"), URI_WILDCARD, "uri_match_parse(\"wildcard\")");
	is_int(uri_match_parse("regex"), -1, "uri_match_parse rejects unknown policies");
	return done_testing();
}
