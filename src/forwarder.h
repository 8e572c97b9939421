/* forwarder.h - Crossbar's MessageForwarder, run in-process and made
 * durable: events on its topics are POSTed to back-end URLs, in order,
 * at least once, across back-end outages and gateway restarts.
 *
 * Each forwarder is an internal session in its realm (its role must allow
 * subscribing to its topics) with a cursor stored in the history database.
 * On failure an event is retried with exponential backoff; after
 * max_attempts answered-but-failed attempts it becomes a dead letter
 * (table dead_letters, a log line, and a live event on
 * switchboard.forwarder.on_dead_letter) and the stream moves on.
 *
 * Loop thread only.
 */
#ifndef SB_FORWARDER_H
#define SB_FORWARDER_H

#include <stdint.h>

#include "config.h"

struct forwarder;
struct gateway;

/* Joins the realm, subscribes, and resumes after the stored cursor (a new
 * forwarder starts with events published from now on).  NULL if it cannot
 * join (logged).  cfg is borrowed from the config. */
struct forwarder *forwarder_start(struct gateway *gw, const struct sb_component *cfg);

/* Leaves the realm and abandons requests in flight (their event is sent
 * again after a restart); frees fw once the loop has closed its timer.
 * Call before the history is closed. */
void forwarder_stop(struct forwarder *fw);

struct forwarder_stats {
	const char *name, *realm;  /* borrowed from the config */
	uint64_t cursor;           /* last event handled */
	uint64_t backlog;          /* events not handled yet (an upper bound while
				      catching up from history) */
	uint64_t delivered;        /* requests answered as expected */
	uint64_t failed_attempts;  /* requests that failed (then retried) */
	uint64_t dead_letters;
};
void forwarder_get_stats(const struct forwarder *fw, struct forwarder_stats *out);

#endif
