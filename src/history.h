/* history.h - event history in SQLite: append with group commit, replay,
 * retention.
 *
 * One writer thread owns the write connection.  The loop thread queues
 * events with history_append(); the writer takes everything queued, writes
 * it in one transaction, commits, and hands the batch back to the loop,
 * which then calls each callback in order.  Concurrent publishers thus
 * share commits (group commit) and still hear back only after theirs.
 * Retention runs on the writer thread in small slices between batches, so
 * it never holds publishers up for long.
 *
 * Replay reads run on the loop thread on a second connection (WAL mode lets
 * readers and the writer proceed together) in bounded chunks.
 *
 * Durability: WAL with synchronous=NORMAL.  A committed event is in the
 * WAL file before its callback runs, so it survives kill -9 of the gateway;
 * with sync "full" every commit is also fsync'ed and survives power loss.
 */
#ifndef SB_HISTORY_H
#define SB_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"
#include "event.h"

struct history;

/* Called on the loop thread when the event is committed (err 0) or could
 * not be stored (negative errno-style code). */
typedef void (*history_done_fn)(void *ctx, int err);

/* Opens (creating and migrating) the database cfg->path; schema_dir holds
 * the NNN-*.sql migrations.  Starts the writer thread.  Returns NULL with
 * err set on failure. */
struct history *history_open(const struct sb_history *cfg, const char *schema_dir,
			     uv_loop_t *loop, char *err, size_t errlen);

/* Writes every queued event, stops the writer thread, closes. */
void history_close(struct history *h);

/* Highest sequence number ever assigned (0 for a new database). */
uint64_t history_last_seq(const struct history *h);

/* Queue ev for storage (takes a reference until done has run).  ev->seq
 * must be set. */
void history_append(struct history *h, struct event *ev, history_done_fn done, void *ctx);

/* What a replay reads: events of realm whose topic matches one of topics. */
struct history_filter {
	const char *realm;
	char **topics;
	size_t n_topics;
	enum uri_match match;
};

typedef void (*history_row_fn)(void *ctx, struct event *ev);

/* Calls fn (which takes ownership of the new event) for stored events
 * with after < seq <= upto that match f, in order, at most max of them.
 * Returns the sequence up to which the range is covered: upto when the
 * replay is complete, less when the caller should call again. */
uint64_t history_replay(struct history *h, const struct history_filter *f,
			uint64_t after, uint64_t upto, size_t max,
			history_row_fn fn, void *ctx);

/* Calls fn (which takes ownership) for the newest stored events that
 * match f, newest first, at most max of them (patterns look at the newest
 * few thousand rows only).  Returns how many. */
size_t history_latest(struct history *h, const struct history_filter *f, size_t max,
		      history_row_fn fn, void *ctx);

/* Highest sequence retention removed from topics matching f (0 = none). */
uint64_t history_trimmed_seq(struct history *h, const struct history_filter *f);

/* ---- message forwarder state (forwarder.c) --------------------------------- */

/* What a forwarder gave up on.  Strings are copied. */
struct dead_letter {
	const char *forwarder, *topic, *url, *error;
	uint64_t seq;
	int attempts;
	long status;            /* last HTTP status; 0 = no answer */
};

/* The stored cursor of forwarder name into *seq: 0, or -1 if it has none.
 * Loop thread. */
int history_load_cursor(struct history *h, const char *name, uint64_t *seq);

/* Queue a write of the cursor / a dead letter; it rides along the next
 * commit (a crash before then loses it: forwarding is at-least-once). */
void history_save_cursor(struct history *h, const char *name, uint64_t seq);
void history_save_dead_letter(struct history *h, const struct dead_letter *dl);

struct history_stats {
	uint64_t rows;          /* events stored now */
	uint64_t bytes;         /* their payload bytes */
	uint64_t commits;       /* transactions committed */
	uint64_t trimmed;       /* rows removed by retention */
};
void history_get_stats(struct history *h, struct history_stats *out);

#endif
