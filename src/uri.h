/* uri.h - WAMP URIs: validation and the three match policies.
 *
 * Matching follows WAMP / Crossbar semantics:
 *   exact     the strings are equal;
 *   prefix    a plain string prefix ("com.myapp" matches "com.myapp2.x");
 *   wildcard  same number of '.'-separated components; an empty pattern
 *             component matches any one component ("user..orders" matches
 *             "user.12.orders", not "users.12.orders" nor "user.orders").
 */
#ifndef SB_URI_H
#define SB_URI_H

#include <stdbool.h>

enum uri_match { URI_EXACT, URI_PREFIX, URI_WILDCARD };

/* True if s is a valid topic/procedure URI (WAMP loose rules: non-empty
 * components without whitespace or '#', no empty component). */
bool uri_is_valid(const char *s);

/* True if pattern is valid for the policy: exact = uri_is_valid; prefix =
 * any string without whitespace/'#' (may be "" or end in '.'); wildcard =
 * components may be empty. */
bool uri_pattern_is_valid(const char *pattern, enum uri_match match);

/* True if topic matches pattern under the policy. */
bool uri_matches(const char *pattern, enum uri_match match, const char *topic);

/* "exact" | "prefix" | "wildcard" -> policy; returns -1 if unknown. */
int uri_match_parse(const char *name);
const char *uri_match_name(enum uri_match match);

#endif
