/* Test that history stores every published event in sequence order, hands
 * back commits in order, replays exact, prefix and wildcard filters in
 * chunks without gaps or duplicates, applies retention per topic (and says
 * how far it trimmed), and continues the sequence after a reopen. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "bus.h"
#include "history.h"
#include "tap.h"
#include "util.h"

#define PER_TOPIC 100

static int committed;
static uint64_t last_committed_seq;
static bool out_of_order;

static void on_published(void *ctx, struct event *ev, int err)
{
	if (err == 0)
		committed++;
	if (ev->seq <= last_committed_seq)
		out_of_order = true;
	last_committed_seq = ev->seq;
}

struct collected {
	uint64_t seqs[4 * PER_TOPIC];
	size_t n;
	bool wrong_topic;
	const char *prefix;
};

static void collect(void *ctx, struct event *ev)
{
	struct collected *c = ctx;
	if (c->n < 4 * PER_TOPIC)
		c->seqs[c->n++] = ev->seq;
	if (strncmp(ev->topic, c->prefix, strlen(c->prefix)))
		c->wrong_topic = true;
	event_unref(ev);
}

/* Replays f in chunks of max until covered; returns what was collected. */
static void replay_all(struct history *h, struct history_filter *f, uint64_t upto,
		       size_t max, struct collected *c)
{
	uint64_t cursor = 0;
	for (int guard = 0; cursor < upto && guard < 10000; guard++)
		cursor = history_replay(h, f, cursor, upto, max, collect, c);
}

static bool strictly_increasing(const struct collected *c)
{
	for (size_t i = 1; i < c->n; i++)
		if (c->seqs[i] <= c->seqs[i - 1])
			return false;
	return true;
}

static void tick(uv_timer_t *t)
{
}

/* Runs the loop until *done or about ms milliseconds passed. */
static void run_until(uv_loop_t *loop, bool (*done)(void *), void *ctx, int ms)
{
	uv_timer_t t;
	uv_timer_init(loop, &t);
	uv_timer_start(&t, tick, 10, 10);
	for (int i = 0; i < ms / 10 && !done(ctx); i++)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

static bool all_committed(void *ctx)
{
	return committed == *(int *)ctx;
}

static bool trimmed(void *ctx)
{
	struct history_stats st;
	history_get_stats(ctx, &st);
	return st.trimmed >= PER_TOPIC - 5;
}

int main(void)
{
	char dir[] = "/tmp/sb-test-history-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	char *path = xasprintf("%s/h.db", dir);
	struct sb_retention rules[] = {
		{"ret.", URI_PREFIX, 5, 0},
		{"", URI_PREFIX, 0, 0},
	};
	struct sb_history cfg = {path, false, rules, 2};
	char err[256];
	uv_loop_t *loop = uv_default_loop();

	struct history *h = history_open(&cfg, SB_SRCDIR "/schema", loop, err, sizeof err);
	if (!ok(h != NULL, "history opens a new database")) {
		diag("%s", err);
		return done_testing();
	}
	is_int((long long)history_last_seq(h), 0, "a new database starts at sequence 0");
	struct bus *bus = bus_new(h);

	const char *topics[] = {"a.x", "a.y", "ret.t"};
	int want = 3 * PER_TOPIC;
	for (int i = 0; i < want; i++) {
		json_t *args = json_pack("[i]", i);
		struct event *ev = event_new("realm1", topics[i % 3], args, NULL, NULL);
		bus_publish(bus, ev, on_published, NULL);
		event_unref(ev);
	}
	run_until(loop, all_committed, &want, 5000);
	is_int(committed, want, "every publish is committed");
	ok(!out_of_order, "commits come back in sequence order");
	is_int((long long)bus_delivered_seq(bus), want, "the bus delivered up to the last sequence");

	struct collected c = {.prefix = "a.x"};
	char *exact[] = {"a.x"};
	struct history_filter f = {"realm1", exact, 1, URI_EXACT};
	replay_all(h, &f, bus_delivered_seq(bus), 7, &c);
	is_int((long long)c.n, PER_TOPIC, "exact replay in chunks of 7 finds every a.x event");
	ok(strictly_increasing(&c) && !c.wrong_topic, "... in order, once each, only a.x");

	struct collected p = {.prefix = "a."};
	char *prefix[] = {"a."};
	struct history_filter fp = {"realm1", prefix, 1, URI_PREFIX};
	replay_all(h, &fp, bus_delivered_seq(bus), 1000, &p);
	is_int((long long)p.n, 2 * PER_TOPIC, "prefix replay finds a.x and a.y");
	ok(strictly_increasing(&p) && !p.wrong_topic, "... in order, once each");

	struct collected w = {.prefix = "a."};
	char *wild[] = {"a."};
	struct history_filter fw = {"realm1", wild, 1, URI_WILDCARD};
	replay_all(h, &fw, 150, 1000, &w);
	is_int((long long)w.n, 100, "wildcard replay up to seq 150 finds the a.* events below it");

	struct collected none = {.prefix = ""};
	struct history_filter fr = {"realm2", exact, 1, URI_EXACT};
	replay_all(h, &fr, bus_delivered_seq(bus), 1000, &none);
	is_int((long long)none.n, 0, "another realm's replay finds nothing");

	/* Retention runs on the writer thread about once a second. */
	run_until(loop, trimmed, h, 5000);
	struct history_stats st;
	history_get_stats(h, &st);
	is_int((long long)st.rows, 2 * PER_TOPIC + 5, "retention keeps 5 ret.t events, all a.* events");
	char *ret[] = {"ret.t"};
	struct history_filter ft = {"realm1", ret, 1, URI_EXACT};
	/* ret.t is every third event from seq 3: its 95th is seq 285. */
	is_int((long long)history_trimmed_seq(h, &ft), 285, "trimmed_seq names the last removed ret.t event");
	is_int((long long)history_trimmed_seq(h, &f), 0, "a.x was never trimmed");
	struct collected r = {.prefix = "ret.t"};
	replay_all(h, &ft, bus_delivered_seq(bus), 1000, &r);
	is_int((long long)r.n, 5, "a ret.t replay finds the 5 kept events");

	bus_free(bus);
	history_close(h);
	uv_run(loop, UV_RUN_DEFAULT);

	h = history_open(&cfg, SB_SRCDIR "/schema", loop, err, sizeof err);
	ok(h != NULL, "the database reopens");
	is_int((long long)history_last_seq(h), want, "the sequence continues after a reopen");
	history_close(h);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);

	char *cmd = xasprintf("rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	free(cmd);
	free(path);
	return done_testing();
}
