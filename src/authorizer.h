/* authorizer.h - dynamic authorizers: a role whose config names an
 * "authorizer" procedure has every publish, subscribe, call and register
 * (and, for bridge and event-stream paths, every HTTP publish, call and
 * subscription) decided by calling it, as Crossbar.io does:
 * authorizer(session_details, uri, action, options) -> bool or
 * {allow, disclose, cache}.  Answers with cache true are kept per (realm,
 * role, action, uri).  A failing or malformed answer denies.
 *
 * The call goes through caller.c as the realm's "trusted" caller.
 * Loop thread only.
 */
#ifndef SB_AUTHORIZER_H
#define SB_AUTHORIZER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "acl.h"

struct gateway;
struct authorizer_ask;

struct verdict {
	bool allow;
	bool disclose;
};

/* Called once with the decision, on a later turn of the loop. */
typedef void (*authorizer_done_fn)(void *ctx, struct verdict v);

/* A verdict kept from an earlier answer with cache true: true and *v
 * set, or false (ask). */
bool authorizer_cached(struct gateway *gw, const char *realm, const char *role,
		       enum acl_action action, const char *uri, struct verdict *v);

/* Asks the authorizer of role (in realm) about action on uri for the
 * client described by details (stolen: {session, authid, authrole, ...}).
 * done runs later with the answer (a failing or malformed one denies);
 * the handle is for authorizer_forget() until then. */
struct authorizer_ask *authorizer_ask(struct gateway *gw, const char *realm,
				      const char *authorizer, const char *role,
				      enum acl_action action, const char *uri, json_t *details,
				      authorizer_done_fn done, void *ctx);

/* The session details an authorizer gets for an HTTP client (a /publish
 * or an event stream): authid (may be NULL), authrole, authmethod and the
 * transport with the client's address.  New reference. */
json_t *authorizer_http_details(const char *peer, const char *authid, const char *authrole,
				const char *authmethod);

/* The one asking has gone: done never runs. */
void authorizer_forget(struct authorizer_ask *ask);

/* Drops every cached answer (at shutdown). */
void authorizer_free_cache(struct gateway *gw);

const char *authorizer_action_name(enum acl_action action);

#endif
