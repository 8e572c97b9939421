-- Switchboard history, schema version 2: message forwarder state.
-- Applied at start-up by history.c when PRAGMA user_version < 2.

-- Each forwarder's cursor: the sequence of the last event it has handled
-- (delivered to every matching subscription, or dead-lettered).  After a
-- restart it resumes with the next stored event after seq.
CREATE TABLE forwarder_cursors (
	forwarder TEXT    PRIMARY KEY,
	seq       INTEGER NOT NULL
);

-- Events a forwarder gave up on after max_attempts, for an operator to
-- inspect and replay by hand.  status is NULL when no HTTP answer came.
CREATE TABLE dead_letters (
	id        INTEGER PRIMARY KEY,
	forwarder TEXT    NOT NULL,
	seq       INTEGER NOT NULL,
	topic     TEXT    NOT NULL,
	url       TEXT    NOT NULL,
	attempts  INTEGER NOT NULL,
	status    INTEGER,
	error     TEXT    NOT NULL,
	time_ms   INTEGER NOT NULL
);
