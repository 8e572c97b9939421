/* caller.h - WAMP calls made from C: the HTTP caller (/call), dynamic
 * authenticators and dynamic authorizers.
 *
 * A caller is an in-process session in one realm with one role, made on
 * first use and kept for the gateway's life, so its calls are authorized
 * and routed by the dealer exactly like a client's.  One caller per
 * (realm, role).
 *
 * Loop thread only.
 */
#ifndef SB_CALLER_H
#define SB_CALLER_H

#include <stdint.h>

#include <jansson.h>

struct caller;
struct gateway;

/* The answer: a RESULT or ERROR message (borrowed), as the router sent it.
 * Runs exactly once per call unless the call is forgotten, always on a
 * later turn of the loop, never inside caller_call(). */
typedef void (*caller_done_fn)(void *ctx, const json_t *answer);

/* The caller of (realm, role), joined on first use; NULL if the realm or
 * the role does not exist. */
struct caller *caller_for(struct gateway *gw, const char *realm, const char *role);

/* Calls procedure; args, kwargs and options are stolen (may be NULL).
 * Returns the request id, for caller_forget(). */
uint64_t caller_call(struct caller *c, const char *procedure, json_t *args, json_t *kwargs,
		     json_t *options, caller_done_fn done, void *ctx);

/* The one waiting has gone: done never runs; the call is cancelled. */
void caller_forget(struct caller *c, uint64_t request);

/* Leaves every caller's realm (at shutdown); waiting calls are dropped. */
void caller_free_all(struct gateway *gw);

#endif
