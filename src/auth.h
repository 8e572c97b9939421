/* auth.h - WAMP authentication: which method a HELLO gets on its path and
 * running it.  anonymous welcomes at once; ticket, wampcra and cryptosign
 * go through CHALLENGE and AUTHENTICATE, checked against static principals
 * or a dynamic authenticator procedure (called through caller.c), exactly
 * as Crossbar.io does.  Failures are ABORT wamp.error.not_authorized (or
 * the authenticator's own error) that never says which part was wrong,
 * sent after a delay that grows with consecutive failures from the same
 * address.
 *
 * router.c calls in; auth.c answers with router_welcome() or
 * router_abort().  Loop thread only.
 */
#ifndef SB_AUTH_H
#define SB_AUTH_H

#include <jansson.h>

struct gateway;
struct realm;
struct session;

/* A HELLO for realm (which exists) on s: starts authentication. */
void auth_hello(struct session *s, struct realm *realm, const json_t *hello);

/* An AUTHENTICATE while s is authenticating. */
void auth_authenticate(struct session *s, const json_t *msg);

/* The session is going: drop what its authentication waits for. */
void auth_cancel(struct session *s);

/* Frees the per-address failure counts (at shutdown). */
void auth_forget_failures(struct gateway *gw);

#endif
