/* broker.h - WAMP publish & subscribe for one realm, on the topic bus.
 *
 * A WAMP subscription (one per realm, URI and match policy, shared by
 * every session subscribed to it) is one bus subscription.  When the bus
 * delivers an event to it, the EVENT message is built and serialized once
 * and the same frame is queued for every eligible subscriber.  WAMP
 * PUBLISH goes into bus_publish() exactly like POST /publish, so SSE
 * clients, history and WAMP subscribers see one order.
 */
#ifndef SB_BROKER_H
#define SB_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct broker;
struct router;
struct session;

struct broker *broker_new(struct router *r, const char *realm);
void broker_free(struct broker *b);

/* Handlers for checked messages of an established session (borrowed). */
void broker_publish(struct broker *b, struct session *s, const json_t *msg);
void broker_subscribe(struct broker *b, struct session *s, const json_t *msg);
void broker_unsubscribe(struct broker *b, struct session *s, const json_t *msg);

/* The URI and match policy of subscription id, borrowed; false if the
 * realm has no such subscription. */
bool broker_subscription(const struct broker *b, uint64_t id, const char **uri, int *match);

/* Drops every subscription of s. */
void broker_session_left(struct broker *b, struct session *s);

#endif
