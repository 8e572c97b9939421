/* dealer.h - WAMP routed RPC for one realm.
 *
 * Registrations are found by exact URI in a hash, then by the longest
 * matching prefix, then by the most specific wildcard (WAMP's order).  A
 * call is one record linked from both ends: the caller's request id and
 * the callee's invocation id, so either side leaving, a timeout or a
 * cancel finds it at once and nobody waits forever.
 */
#ifndef SB_DEALER_H
#define SB_DEALER_H

#include <stddef.h>

#include <jansson.h>

struct dealer;
struct router;
struct session;

struct dealer *dealer_new(struct router *r);
void dealer_free(struct dealer *d);

/* Handlers for checked messages of an established session (borrowed). */
void dealer_register(struct dealer *d, struct session *s, const json_t *msg);
void dealer_unregister(struct dealer *d, struct session *s, const json_t *msg);
void dealer_call(struct dealer *d, struct session *s, const json_t *msg);
void dealer_cancel(struct dealer *d, struct session *s, const json_t *msg);
void dealer_yield(struct dealer *d, struct session *s, const json_t *msg);
void dealer_invocation_error(struct dealer *d, struct session *s, const json_t *msg);

/* Fails the calls s is part of and drops its registrations. */
void dealer_session_left(struct dealer *d, struct session *s);

#endif
