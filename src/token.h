/* token.h - who an event-stream request is: bearer tokens for private SSE
 * feeds.  EventSource cannot set headers, so a token may come as
 * `Authorization: Bearer`, a cookie, or a query parameter (the places
 * Mercure and nchan users put theirs).  A token is a static ticket of the
 * path's `auth.ticket` principals, or a JWT (HS256 with a secret, RS256 or
 * ES256 with a public key) whose exp/nbf/iss/aud are checked, whose `sub`
 * is the authid, whose role claim picks the role and whose topics claim
 * (like Mercure's subscribe claim) narrows what may be read.
 *
 * Loop thread only.
 */
#ifndef SB_TOKEN_H
#define SB_TOKEN_H

#include <stdbool.h>

#include <jansson.h>

#include "http.h"
#include "uri.h"

struct identity {
	char *authid;              /* NULL for anonymous */
	char *role;                /* the role's name in the path's realm */
	const char *authmethod;    /* "anonymous", "ticket", "jwt" */
	char *ticket;              /* TOKEN_ASK only */
	struct topic_claim {       /* the token's topics; NULL = no narrowing */
		char *uri;
		enum uri_match match;
	} *topics;
	size_t n_topics;
	bool has_topics;
};

enum token_result {
	TOKEN_OK,                  /* *who is filled */
	TOKEN_NONE,                /* no token, and the path needs one */
	TOKEN_INVALID,             /* a token, but not a good one; why is set */
	TOKEN_ASK,                 /* a ticket for the path's dynamic authenticator:
				      who->ticket holds it */
};

/* Identifies req on its eventsource path. */
enum token_result token_identify(struct http_request *req, struct identity *who,
				 char *why, size_t whylen);

/* Whether the token's topics claim lets who read topic (or, for a pattern
 * subscription, every topic of pattern). */
bool token_allows(const struct identity *who, const char *topic, enum uri_match match);

void token_identity_free(struct identity *who);

#endif
