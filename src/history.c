/* history.c - SQLite history: writer thread, group commit, replay,
 * retention (see history.h). */
#include "history.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "map.h"
#include "util.h"

#define RETENTION_INTERVAL_MS 1000
#define RETENTION_TOPICS_PER_SLICE 200
#define RETENTION_ROWS_PER_DELETE 2000
#define REPLAY_SCAN_LIMIT 2048
#define GROUP_COMMIT_MIN 16          /* a batch this big commits at once */
#define GROUP_COMMIT_WAIT_US 50      /* else wait this long for company */

/* A forwarder's cursor (topic NULL) or dead letter, written along with the
 * next batch of events.  Owned by its job. */
struct note {
	char *forwarder;
	uint64_t seq;
	char *topic, *url, *error;
	int attempts;
	long status;
	int64_t time_ms;
};

struct job {
	struct event *ev;          /* an event to store, or NULL for a note */
	struct note *note;
	history_done_fn done;      /* may be NULL */
	void *ctx;
	int err;
};

struct jobs {
	struct job *v;
	size_t len, cap;
};

struct history {
	const struct sb_history *cfg;
	sqlite3 *wdb;                  /* writer thread only */
	sqlite3 *rdb;                  /* loop thread only */
	sqlite3_stmt *insert, *count_topic, *set_last_seq, *set_cursor, *add_dead_letter;
	uint64_t last_seq;             /* at open */

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct jobs pending;           /* loop -> writer, under lock */
	struct map pending_cursors;    /* forwarder -> its note in pending, under lock */
	struct jobs completed;         /* writer -> loop, under lock */
	bool stopping;                 /* under lock */
	uv_async_t async;

	int64_t retention_cursor;      /* writer: topics rowid to resume at */
	int64_t next_retention_ms;     /* writer */

	_Atomic uint64_t rows, bytes, commits, trimmed;
};

static void jobs_push(struct jobs *q, struct job j)
{
	if (q->len == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 64;
		q->v = xrealloc(q->v, q->cap * sizeof *q->v);
	}
	q->v[q->len++] = j;
}

/* ---- schema ------------------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Applies every schema_dir/NNN-*.sql with NNN > user_version, in order. */
static int migrate(sqlite3 *db, const char *schema_dir, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int version = 0;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);

	DIR *d = opendir(schema_dir);
	if (!d) {
		snprintf(err, errlen, "history: cannot open schema directory %s: %s "
			 "(reinstall, or run from the build tree)", schema_dir, strerror(errno));
		return -1;
	}
	char *names[256];
	size_t n = 0;
	for (struct dirent *e; (e = readdir(d)) && n < 256;)
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && strstr(e->d_name, ".sql"))
			names[n++] = xstrdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof *names, cmp_names);

	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		int file_version = atoi(names[i]);
		if (rc || file_version <= version)
			continue;
		char *path = xasprintf("%s/%s", schema_dir, names[i]);
		struct buf sql = {0};
		bool is_read = buf_read_file(&sql, path) == 0;
		buf_appendf(&sql, "\n;PRAGMA user_version = %d;", file_version);
		char *msg = NULL;
		if (!is_read || sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, sql.data, NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
			snprintf(err, errlen, "history: migration %s failed: %s", path,
				 msg ? msg : strerror(errno));
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			rc = -1;
		} else {
			log_msg(LOG_INFO, "history", "applied schema %s", names[i]);
		}
		sqlite3_free(msg);
		buf_free(&sql);
		free(path);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return rc;
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		log_msg(LOG_ERROR, "history", "cannot prepare \"%s\": %s", sql, sqlite3_errmsg(db));
		return NULL;
	}
	return st;
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int open_db(const char *path, int flags, sqlite3 **db, char *err, size_t errlen)
{
	if (sqlite3_open_v2(path, db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "history: cannot open %s: %s (check the path and its permissions, or pass --db)",
			 path, *db ? sqlite3_errmsg(*db) : "out of memory");
		sqlite3_close(*db);
		*db = NULL;
		return -1;
	}
	sqlite3_busy_timeout(*db, 5000);
	return 0;
}

/* ---- writer thread -------------------------------------------------------- */

struct topic_count {
	const struct event *ev;
	int64_t n;
};

static void count_topic(struct map *counts, const struct event *ev)
{
	char key[1024];
	int len = snprintf(key, sizeof key, "%s%c%s", ev->realm, 0, ev->topic);
	if (len < 0 || (size_t)len >= sizeof key)
		len = sizeof key - 1;
	struct topic_count *c = map_get(counts, key, (size_t)len);
	if (!c) {
		c = xcalloc(1, sizeof *c);
		c->ev = ev;
		map_put(counts, key, (size_t)len, c);
	}
	c->n++;
}

static void flush_count(const char *key, void *value, void *ctx)
{
	struct history *h = ctx;
	struct topic_count *c = value;
	sqlite3_stmt *st = h->count_topic;
	sqlite3_bind_text(st, 1, c->ev->realm, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->ev->topic, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, c->n);
	sqlite3_step(st);
	sqlite3_reset(st);
	free(c);
}

static int write_note(struct history *h, const struct note *note)
{
	sqlite3_stmt *st = note->topic ? h->add_dead_letter : h->set_cursor;
	sqlite3_bind_text(st, 1, note->forwarder, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)note->seq);
	if (note->topic) {
		sqlite3_bind_text(st, 3, note->topic, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, note->url, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 5, note->attempts);
		if (note->status)
			sqlite3_bind_int64(st, 6, note->status);
		else
			sqlite3_bind_null(st, 6);
		sqlite3_bind_text(st, 7, note->error, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 8, note->time_ms);
	}
	int rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	sqlite3_reset(st);
	return rc;
}

/* Writes one batch in one transaction. Returns 0 or -EIO. */
static int write_batch(struct history *h, struct job *jobs, size_t n)
{
	sqlite3 *db = h->wdb;
	struct map counts = {0};
	uint64_t bytes = 0, rows = 0, last_seq = 0;
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		const struct event *ev = jobs[i].ev;
		sqlite3_stmt *st = h->insert;
		if (!ev) {
			rc = write_note(h, jobs[i].note);
			continue;
		}
		last_seq = ev->seq;
		if (ev->is_live_only)
			continue;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)ev->seq);
		sqlite3_bind_text(st, 2, ev->realm, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, ev->topic, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)ev->pub_id);
		sqlite3_bind_int64(st, 5, ev->time_ms);
		if (ev->sse_event)
			sqlite3_bind_text(st, 6, ev->sse_event, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 6);
		sqlite3_bind_text(st, 7, ev->payload, (int)ev->payload_len, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_reset(st);
		count_topic(&counts, ev);
		bytes += ev->payload_len;
		rows++;
	}
	map_each(&counts, flush_count, h);
	map_clear(&counts);
	if (rc == SQLITE_OK && last_seq) {
		sqlite3_bind_int64(h->set_last_seq, 1, (sqlite3_int64)last_seq);
		sqlite3_step(h->set_last_seq);
		sqlite3_reset(h->set_last_seq);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		log_msg(LOG_ERROR, "history", "cannot store %zu events: %s (check disk space and "
			"permissions of the database file)", n, sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -EIO;
	}
	atomic_fetch_add(&h->rows, rows);
	atomic_fetch_add(&h->bytes, bytes);
	atomic_fetch_add(&h->commits, 1);
	return 0;
}

static bool publishes_waiting(struct history *h)
{
	pthread_mutex_lock(&h->lock);
	bool waiting = h->pending.len > 0 || h->stopping;
	pthread_mutex_unlock(&h->lock);
	return waiting;
}

/* The most specific rule for a topic: exact, then wildcard, then the
 * longest prefix. */
static const struct sb_retention *rule_for(const struct sb_history *cfg, const char *topic)
{
	const struct sb_retention *best = NULL;
	int best_rank = -1;
	for (size_t i = 0; i < cfg->n_rules; i++) {
		const struct sb_retention *r = &cfg->rules[i];
		if (!uri_matches(r->uri, r->match, topic))
			continue;
		int rank = r->match == URI_EXACT ? 1 << 30
			 : r->match == URI_WILDCARD ? 1 << 29
			 : (int)strlen(r->uri);
		if (rank > best_rank) {
			best = r;
			best_rank = rank;
		}
	}
	return best;
}

/* Runs sql with (realm, topic, arg) bound; the first column of its first
 * row, or 0. */
static int64_t topic_query(sqlite3 *db, const char *sql, const char *realm,
			   const char *topic, int64_t arg)
{
	sqlite3_stmt *st = NULL;
	int64_t v = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, realm, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, topic, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, arg);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Removes the events of one topic that its rule no longer keeps, at most
 * RETENTION_ROWS_PER_DELETE at a time.  Returns true if more remain. */
static bool trim_topic(struct history *h, int64_t rowid, const char *realm,
		       const char *topic, int64_t events, const struct sb_retention *rule)
{
	sqlite3 *db = h->wdb;
	int64_t cut = 0;
	if (rule->max_events > 0 && events > rule->max_events)
		cut = topic_query(db, "SELECT seq FROM events WHERE realm=?1 AND topic=?2 "
				"ORDER BY seq LIMIT 1 OFFSET ?3", realm, topic,
				events - rule->max_events - 1);
	if (rule->max_age_s > 0) {
		int64_t cutoff = now_ms() - rule->max_age_s * 1000;
		/* Sequence order is time order: look at the oldest row first. */
		int64_t oldest = topic_query(db, "SELECT time_ms FROM events WHERE realm=?1 AND "
					   "topic=?2 AND seq > ?3 ORDER BY seq LIMIT 1", realm, topic, 0);
		if (oldest && oldest < cutoff) {
			int64_t aged = topic_query(db, "SELECT max(seq) FROM events WHERE realm=?1 AND "
						 "topic=?2 AND time_ms < ?3", realm, topic, cutoff);
			if (aged > cut)
				cut = aged;
		}
	}
	if (cut <= 0)
		return false;
	/* Bound the work of one transaction so publishers never wait long. */
	int64_t capped = topic_query(db, "SELECT seq FROM events WHERE realm=?1 AND topic=?2 "
				   "ORDER BY seq LIMIT 1 OFFSET ?3", realm, topic,
				   RETENTION_ROWS_PER_DELETE - 1);
	bool more = capped && capped < cut;
	if (more)
		cut = capped;

	sqlite3_stmt *st = NULL;
	int64_t removed = 0, bytes = 0;
	sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (sqlite3_prepare_v2(db, "SELECT count(*), total(length(payload)) FROM events "
			       "WHERE realm=?1 AND topic=?2 AND seq <= ?3", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, realm, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, topic, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, cut);
		if (sqlite3_step(st) == SQLITE_ROW) {
			removed = sqlite3_column_int64(st, 0);
			bytes = (int64_t)sqlite3_column_double(st, 1);
		}
	}
	sqlite3_finalize(st);
	topic_query(db, "DELETE FROM events WHERE realm=?1 AND topic=?2 AND seq <= ?3",
		    realm, topic, cut);
	char *sql = sqlite3_mprintf("UPDATE topics SET events = events - %lld, trimmed_seq = "
				    "max(trimmed_seq, %lld) WHERE rowid = %lld",
				    (long long)removed, (long long)cut, (long long)rowid);
	sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_free(sql);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		log_msg(LOG_WARN, "history", "retention of %s failed: %s; will retry",
			topic, sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return false;
	}
	atomic_fetch_sub(&h->rows, (uint64_t)removed);
	atomic_fetch_sub(&h->bytes, (uint64_t)bytes);
	atomic_fetch_add(&h->trimmed, (uint64_t)removed);
	return more;
}

/* One slice of the retention pass: up to RETENTION_TOPICS_PER_SLICE topics,
 * yielding as soon as publishes are waiting. */
static void retention_slice(struct history *h)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(h->wdb, "SELECT rowid, realm, topic, events FROM topics "
			       "WHERE rowid > ?1 ORDER BY rowid LIMIT ?2", -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(st, 1, h->retention_cursor);
	sqlite3_bind_int(st, 2, RETENTION_TOPICS_PER_SLICE);

	/* Copy the rows out first: trimming writes to the table we read. */
	struct row { int64_t rowid, events; char *realm, *topic; } rows[RETENTION_TOPICS_PER_SLICE];
	size_t n = 0;
	while (n < RETENTION_TOPICS_PER_SLICE && sqlite3_step(st) == SQLITE_ROW) {
		rows[n].rowid = sqlite3_column_int64(st, 0);
		rows[n].realm = xstrdup((const char *)sqlite3_column_text(st, 1));
		rows[n].topic = xstrdup((const char *)sqlite3_column_text(st, 2));
		rows[n].events = sqlite3_column_int64(st, 3);
		n++;
	}
	sqlite3_finalize(st);

	size_t i = 0;
	for (; i < n; i++) {
		if (publishes_waiting(h))
			break;
		const struct sb_retention *rule = rule_for(h->cfg, rows[i].topic);
		if (rule && trim_topic(h, rows[i].rowid, rows[i].realm, rows[i].topic,
				       rows[i].events, rule))
			break;          /* more to remove here: resume at this topic */
		h->retention_cursor = rows[i].rowid;
	}
	bool pass_done = i == n && n < RETENTION_TOPICS_PER_SLICE;
	for (size_t j = 0; j < n; j++) {
		free(rows[j].realm);
		free(rows[j].topic);
	}
	if (pass_done) {
		h->retention_cursor = 0;
		h->next_retention_ms = now_ms() + RETENTION_INTERVAL_MS;
	}
}

static void *writer_main(void *arg)
{
	struct history *h = arg;
	struct jobs batch = {0};

	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (!h->pending.len && !h->stopping && now_ms() < h->next_retention_ms) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 100 * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&h->wake, &h->lock, &until);
		}
		if (!h->pending.len && h->stopping)
			break;
		if (h->pending.len && h->pending.len < GROUP_COMMIT_MIN && !h->stopping) {
			/* Let concurrent publishers join this commit: a short wait
			 * costs each of them far less than a commit of its own. */
			pthread_mutex_unlock(&h->lock);
			struct timespec pause = {0, GROUP_COMMIT_WAIT_US * 1000L};
			nanosleep(&pause, NULL);
			pthread_mutex_lock(&h->lock);
		}
		struct jobs swap = h->pending;
		h->pending = batch;
		batch = swap;
		map_clear(&h->pending_cursors);   /* its notes are the batch's now */
		pthread_mutex_unlock(&h->lock);

		if (batch.len) {
			int err = write_batch(h, batch.v, batch.len);
			pthread_mutex_lock(&h->lock);
			for (size_t i = 0; i < batch.len; i++) {
				batch.v[i].err = err;
				jobs_push(&h->completed, batch.v[i]);
			}
			batch.len = 0;
			pthread_mutex_unlock(&h->lock);
			uv_async_send(&h->async);
		} else {
			retention_slice(h);
		}
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	free(batch.v);
	return NULL;
}

static void note_free(struct note *note)
{
	free(note->forwarder);
	free(note->topic);
	free(note->url);
	free(note->error);
	free(note);
}

/* Loop thread: run the callbacks of committed batches, in order. */
static void on_committed(uv_async_t *async)
{
	struct history *h = async->data;
	pthread_mutex_lock(&h->lock);
	struct jobs done = h->completed;
	h->completed = (struct jobs){0};
	pthread_mutex_unlock(&h->lock);

	for (size_t i = 0; i < done.len; i++) {
		struct job *j = &done.v[i];
		if (j->done)
			j->done(j->ctx, j->err);
		if (j->ev)
			event_unref(j->ev);
		if (j->note)
			note_free(j->note);
	}
	free(done.v);
}

/* ---- open / close --------------------------------------------------------- */

static void finalize_writes(struct history *h)
{
	sqlite3_finalize(h->insert);
	sqlite3_finalize(h->count_topic);
	sqlite3_finalize(h->set_last_seq);
	sqlite3_finalize(h->set_cursor);
	sqlite3_finalize(h->add_dead_letter);
}

struct history *history_open(const struct sb_history *cfg, const char *schema_dir,
			     uv_loop_t *loop, char *err, size_t errlen)
{
	struct history *h = xcalloc(1, sizeof *h);
	h->cfg = cfg;
	if (open_db(cfg->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &h->wdb, err, errlen))
		goto fail;
	char *msg = NULL;
	if (sqlite3_exec(h->wdb, "PRAGMA journal_mode=WAL", NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "history: %s: cannot enable WAL: %s", cfg->path, msg);
		sqlite3_free(msg);
		goto fail;
	}
	sqlite3_exec(h->wdb, cfg->sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
		     NULL, NULL, NULL);
	if (migrate(h->wdb, schema_dir, err, errlen))
		goto fail;
	h->insert = prepare(h->wdb, "INSERT INTO events (seq, realm, topic, pub_id, time_ms, "
			    "sse_event, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
	h->count_topic = prepare(h->wdb, "INSERT INTO topics (realm, topic, events) VALUES "
				 "(?1, ?2, ?3) ON CONFLICT (realm, topic) DO UPDATE SET "
				 "events = events + excluded.events");
	h->set_last_seq = prepare(h->wdb, "INSERT INTO meta (key, value) VALUES ('last_seq', ?1) "
				  "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
	h->set_cursor = prepare(h->wdb, "INSERT INTO forwarder_cursors (forwarder, seq) VALUES "
				"(?1, ?2) ON CONFLICT (forwarder) DO UPDATE SET seq = excluded.seq");
	h->add_dead_letter = prepare(h->wdb, "INSERT INTO dead_letters (forwarder, seq, topic, "
				     "url, attempts, status, error, time_ms) VALUES "
				     "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
	if (!h->insert || !h->count_topic || !h->set_last_seq || !h->set_cursor ||
	    !h->add_dead_letter) {
		snprintf(err, errlen, "history: %s: schema does not match this version of switchboard: %s",
			 cfg->path, sqlite3_errmsg(h->wdb));
		goto fail;
	}
	int64_t by_meta = query_int(h->wdb, "SELECT value FROM meta WHERE key = 'last_seq'");
	int64_t by_rows = query_int(h->wdb, "SELECT max(seq) FROM events");
	h->last_seq = (uint64_t)(by_meta > by_rows ? by_meta : by_rows);
	atomic_store(&h->rows, (uint64_t)query_int(h->wdb, "SELECT count(*) FROM events"));
	atomic_store(&h->bytes, (uint64_t)query_int(h->wdb, "SELECT total(length(payload)) FROM events"));

	if (open_db(cfg->path, SQLITE_OPEN_READONLY, &h->rdb, err, errlen))
		goto fail;

	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->wake, NULL);
	uv_async_init(loop, &h->async, on_committed);
	h->async.data = h;
	if (pthread_create(&h->thread, NULL, writer_main, h) != 0) {
		snprintf(err, errlen, "history: cannot start the writer thread");
		goto fail;
	}
	log_msg(LOG_INFO, "history", "%s: %llu events stored, last sequence %llu",
		cfg->path, (unsigned long long)atomic_load(&h->rows),
		(unsigned long long)h->last_seq);
	return h;
fail:
	sqlite3_finalize(h->insert);
	sqlite3_finalize(h->count_topic);
	finalize_writes(h);
	sqlite3_close(h->wdb);
	sqlite3_close(h->rdb);
	free(h);
	return NULL;
}

static void free_handle(uv_handle_t *handle)
{
	free(handle->data);
}

void history_close(struct history *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	on_committed(&h->async);       /* callbacks of the last batches */

	finalize_writes(h);
	sqlite3_exec(h->wdb, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	sqlite3_close(h->wdb);
	sqlite3_close(h->rdb);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->wake);
	free(h->pending.v);
	map_clear(&h->pending_cursors);
	free(h->completed.v);
	uv_close((uv_handle_t *)&h->async, free_handle);  /* frees h */
}

uint64_t history_last_seq(const struct history *h)
{
	return h->last_seq;
}

static void queue_job(struct history *h, struct job j)
{
	pthread_mutex_lock(&h->lock);
	jobs_push(&h->pending, j);
	if (h->pending.len == 1)
		pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
}

void history_append(struct history *h, struct event *ev, history_done_fn done, void *ctx)
{
	queue_job(h, (struct job){.ev = event_ref(ev), .done = done, .ctx = ctx});
}

/* Only a forwarder's latest cursor matters: one not yet taken by the
 * writer is updated in place, so a busy forwarder costs one row write per
 * commit, not one per event. */
void history_save_cursor(struct history *h, const char *name, uint64_t seq)
{
	pthread_mutex_lock(&h->lock);
	struct note *note = map_get(&h->pending_cursors, name, strlen(name));
	if (note) {
		note->seq = seq;
	} else {
		note = xcalloc(1, sizeof *note);
		note->forwarder = xstrdup(name);
		note->seq = seq;
		map_put(&h->pending_cursors, name, strlen(name), note);
		jobs_push(&h->pending, (struct job){.note = note});
		if (h->pending.len == 1)
			pthread_cond_signal(&h->wake);
	}
	pthread_mutex_unlock(&h->lock);
}

void history_save_dead_letter(struct history *h, const struct dead_letter *dl)
{
	struct note *note = xcalloc(1, sizeof *note);
	note->forwarder = xstrdup(dl->forwarder);
	note->seq = dl->seq;
	note->topic = xstrdup(dl->topic);
	note->url = xstrdup(dl->url);
	note->error = xstrdup(dl->error);
	note->attempts = dl->attempts;
	note->status = dl->status;
	note->time_ms = now_ms();
	queue_job(h, (struct job){.note = note});
}

int history_load_cursor(struct history *h, const char *name, uint64_t *seq)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;
	if (sqlite3_prepare_v2(h->rdb, "SELECT seq FROM forwarder_cursors WHERE forwarder = ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			*seq = (uint64_t)sqlite3_column_int64(st, 0);
			rc = 0;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

/* ---- replay (loop thread) -------------------------------------------------- */

static bool filter_matches(const struct history_filter *f, const char *realm, const char *topic)
{
	if (strcmp(f->realm, realm))
		return false;
	for (size_t i = 0; i < f->n_topics; i++)
		if (uri_matches(f->topics[i], f->match, topic))
			return true;
	return false;
}

/* Exact topics use the (realm, topic, seq) index; patterns scan by seq. */
static sqlite3_stmt *replay_query(struct history *h, const struct history_filter *f,
				  uint64_t after, uint64_t upto, size_t limit, bool newest_first)
{
	struct buf sql = {0};
	buf_appendf(&sql, "SELECT seq, pub_id, time_ms, realm, topic, sse_event, payload "
		    "FROM events WHERE seq > ?1 AND seq <= ?2");
	if (f->match == URI_EXACT) {
		buf_appendf(&sql, " AND realm = ?3 AND topic IN (");
		for (size_t i = 0; i < f->n_topics; i++)
			buf_appendf(&sql, "%s?%zu", i ? "," : "", i + 4);
		buf_appendf(&sql, ")");
	}
	buf_appendf(&sql, " ORDER BY seq%s LIMIT %zu", newest_first ? " DESC" : "", limit);

	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(h->rdb, sql.data, -1, &st, NULL) != SQLITE_OK) {
		log_msg(LOG_ERROR, "history", "replay query failed: %s", sqlite3_errmsg(h->rdb));
		st = NULL;
	} else {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)after);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)upto);
		if (f->match == URI_EXACT) {
			sqlite3_bind_text(st, 3, f->realm, -1, SQLITE_STATIC);
			for (size_t i = 0; i < f->n_topics; i++)
				sqlite3_bind_text(st, (int)i + 4, f->topics[i], -1, SQLITE_STATIC);
		}
	}
	buf_free(&sql);
	return st;
}

/* Hands the query's current row to fn as an event if it matches f;
 * returns 1 if it did. */
static int row_event(sqlite3_stmt *st, const struct history_filter *f, history_row_fn fn,
		     void *ctx)
{
	const char *realm = (const char *)sqlite3_column_text(st, 3);
	const char *topic = (const char *)sqlite3_column_text(st, 4);
	if (f->match != URI_EXACT && !filter_matches(f, realm, topic))
		return 0;
	fn(ctx, event_from_row((uint64_t)sqlite3_column_int64(st, 0),
			       (uint64_t)sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
			       realm, topic, (const char *)sqlite3_column_text(st, 6),
			       (size_t)sqlite3_column_bytes(st, 6),
			       (const char *)sqlite3_column_text(st, 5)));
	return 1;
}

uint64_t history_replay(struct history *h, const struct history_filter *f,
			uint64_t after, uint64_t upto, size_t max,
			history_row_fn fn, void *ctx)
{
	if (after >= upto)
		return upto;
	size_t limit = f->match == URI_EXACT ? max : REPLAY_SCAN_LIMIT;
	sqlite3_stmt *st = replay_query(h, f, after, upto, limit, false);
	if (!st)
		return upto;
	size_t scanned = 0, matched = 0;
	uint64_t covered = after;
	int rc;
	while (matched < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		scanned++;
		covered = (uint64_t)sqlite3_column_int64(st, 0);
		matched += row_event(st, f, fn, ctx);
	}
	sqlite3_finalize(st);
	/* Covered the whole range unless a limit stopped us early. */
	if (matched < max && scanned < limit)
		covered = upto;
	return covered;
}

size_t history_latest(struct history *h, const struct history_filter *f, size_t max,
		      history_row_fn fn, void *ctx)
{
	size_t limit = f->match == URI_EXACT ? max : REPLAY_SCAN_LIMIT;
	sqlite3_stmt *st = replay_query(h, f, 0, INT64_MAX, limit, true);
	size_t matched = 0;
	while (st && matched < max && sqlite3_step(st) == SQLITE_ROW)
		matched += row_event(st, f, fn, ctx);
	sqlite3_finalize(st);
	return matched;
}

uint64_t history_trimmed_seq(struct history *h, const struct history_filter *f)
{
	sqlite3_stmt *st = NULL;
	uint64_t trimmed = 0;
	if (sqlite3_prepare_v2(h->rdb, "SELECT topic, trimmed_seq FROM topics WHERE realm = ?1 "
			       "AND trimmed_seq > 0", -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, f->realm, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *topic = (const char *)sqlite3_column_text(st, 0);
		uint64_t seq = (uint64_t)sqlite3_column_int64(st, 1);
		if (seq > trimmed && filter_matches(f, f->realm, topic))
			trimmed = seq;
	}
	sqlite3_finalize(st);
	return trimmed;
}

void history_get_stats(struct history *h, struct history_stats *out)
{
	out->rows = atomic_load(&h->rows);
	out->bytes = atomic_load(&h->bytes);
	out->commits = atomic_load(&h->commits);
	out->trimmed = atomic_load(&h->trimmed);
}
