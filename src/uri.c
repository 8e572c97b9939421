/* uri.c - WAMP URI validation and exact/prefix/wildcard matching. */
#include "uri.h"

#include <string.h>

#include "util.h"

static bool is_bad_char(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v' || c == '#' || c == '\0';
}

/* Loose WAMP rule: ^([^\s\.#]+\.)*([^\s\.#]+)$ */
bool uri_is_valid(const char *s)
{
	if (!s || !*s || !utf8_valid(s, strlen(s)))
		return false;
	size_t component = 0;
	for (; *s; s++) {
		if (*s == '.') {
			if (component == 0)
				return false;
			component = 0;
		} else if (is_bad_char(*s)) {
			return false;
		} else {
			component++;
		}
	}
	return component > 0;
}

bool uri_pattern_is_valid(const char *pattern, enum uri_match match)
{
	if (!pattern || !utf8_valid(pattern, strlen(pattern)))
		return false;
	switch (match) {
	case URI_EXACT:
		return uri_is_valid(pattern);
	case URI_PREFIX:
	case URI_WILDCARD:
		for (const char *p = pattern; *p; p++)
			if (*p != '.' && is_bad_char(*p))
				return false;
		/* A wildcard with no non-empty component would match anything of
		 * one length only; still valid, as in Crossbar. "" is valid for
		 * prefix (everything) but not for wildcard. */
		return match == URI_PREFIX || *pattern;
	}
	return false;
}

static bool wildcard_matches(const char *pattern, const char *topic)
{
	for (;;) {
		const char *pe = strchr(pattern, '.');
		const char *te = strchr(topic, '.');
		size_t plen = pe ? (size_t)(pe - pattern) : strlen(pattern);
		size_t tlen = te ? (size_t)(te - topic) : strlen(topic);
		if (tlen == 0)
			return false;         /* topics have no empty components */
		if (plen && (plen != tlen || memcmp(pattern, topic, plen) != 0))
			return false;
		if (!pe || !te)
			return !pe && !te;    /* component counts must be equal */
		pattern = pe + 1;
		topic = te + 1;
	}
}

bool uri_matches(const char *pattern, enum uri_match match, const char *topic)
{
	switch (match) {
	case URI_EXACT:
		return strcmp(pattern, topic) == 0;
	case URI_PREFIX:
		return strncmp(pattern, topic, strlen(pattern)) == 0;
	case URI_WILDCARD:
		return wildcard_matches(pattern, topic);
	}
	return false;
}

int uri_match_parse(const char *name)
{
	if (!strcmp(name, "exact"))
		return URI_EXACT;
	if (!strcmp(name, "prefix"))
		return URI_PREFIX;
	if (!strcmp(name, "wildcard"))
		return URI_WILDCARD;
	return -1;
}

const char *uri_match_name(enum uri_match match)
{
	static const char *names[] = {"exact", "prefix", "wildcard"};
	return names[match];
}
