-- Switchboard event history, schema version 1.
-- Applied at start-up by history.c when PRAGMA user_version < 1.

-- Every published event, in global publication order.  seq is the SSE
-- event id and the replay cursor; pub_id is the WAMP publication id.
-- payload is the SSE data line: {"topic":..,"args":..,"kwargs":..}.
CREATE TABLE events (
	seq       INTEGER PRIMARY KEY,
	realm     TEXT    NOT NULL,
	topic     TEXT    NOT NULL,
	pub_id    INTEGER NOT NULL,
	time_ms   INTEGER NOT NULL,
	sse_event TEXT,
	payload   TEXT    NOT NULL
);
CREATE INDEX events_by_topic ON events (realm, topic, seq);

-- One row per topic ever published: how many events it holds now, and the
-- highest seq retention removed (so a resume from before it can say that
-- events expired).
CREATE TABLE topics (
	realm       TEXT    NOT NULL,
	topic       TEXT    NOT NULL,
	events      INTEGER NOT NULL DEFAULT 0,
	trimmed_seq INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (realm, topic)
);

-- Small facts: 'last_seq' is the high-water mark of assigned sequences, so
-- numbers are never reused even when retention empties the events table.
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value
);
