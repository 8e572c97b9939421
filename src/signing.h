/* signing.h - who may use the HTTP bridge: Crossbar's signed requests
 * (key, timestamp, seq, nonce, signature), require_ip and require_tls for
 * publisher and caller paths, and GitHub's X-Hub-Signature for webhooks.
 *
 * Crossbar computes signature = URL-safe base64 (with padding) of
 * HMAC-SHA256(secret, key || timestamp || seq || nonce || body), the query
 * values exactly as sent; we do the same and compare in constant time.
 * Unlike Crossbar we also refuse a nonce already used with the same path
 * within the timestamp window, so a captured request cannot be replayed.
 *
 * Loop thread only.
 */
#ifndef SB_SIGNING_H
#define SB_SIGNING_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

/* Crossbar's checks 8-12 for a publisher or caller request, in its order:
 * signing fields (400), key (401), signature (401), replayed nonce (401),
 * require_ip (400), require_tls (400).  True if the request may go on;
 * otherwise it has been answered. */
bool signing_check(struct http_request *req);

/* A webhook with github_secret: X-Hub-Signature must be
 * sha1=hex(HMAC-SHA1(secret, body)).  True if it may go on (or no secret
 * is configured); otherwise answered 400. */
bool signing_check_github(struct http_request *req);

/* Frees the nonces remembered for gw (at shutdown). */
void signing_forget_nonces(struct gateway *gw);

#endif
