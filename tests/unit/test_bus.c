/* Test that the bus index delivers each event to exactly the subscriptions
 * a brute-force uri_matches() scan would pick - for exact, prefix and
 * wildcard patterns, across realms - in sequence order, and that
 * unsubscribing (which prunes the index) leaves it consistent. */
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "event.h"
#include "tap.h"
#include "util.h"

#define N_SUBS 400
#define N_EVENTS 3000

struct sub {
	struct bus_sub *handle;
	const char *realm;
	char pattern[64];
	enum uri_match match;
	int got;                   /* deliveries this round */
	uint64_t last_seq;
	bool out_of_order;
};

static const char *words[] = {"user", "users", "12", "orders", "com", "x", "a", ""};

static void random_uri(char *out, size_t n, bool allow_empty)
{
	int parts = 1 + rand() % 4;
	out[0] = '\0';
	for (int i = 0; i < parts; i++) {
		const char *w = words[rand() % (allow_empty ? 8 : 7)];
		if (i)
			strncat(out, ".", n - strlen(out) - 1);
		strncat(out, w, n - strlen(out) - 1);
	}
}

static void deliver(void *ctx, struct event *ev)
{
	struct sub *s = ctx;
	s->got++;
	if (ev->seq < s->last_seq)
		s->out_of_order = true;
	s->last_seq = ev->seq;
}

int main(void)
{
	static struct sub subs[N_SUBS];
	struct bus *bus = bus_new(NULL);
	srand(7);
	for (int i = 0; i < N_SUBS; i++) {
		struct sub *s = &subs[i];
		s->realm = i % 5 ? "realm1" : "realm2";
		s->match = (enum uri_match)(rand() % 3);
		do
			random_uri(s->pattern, sizeof s->pattern, s->match == URI_WILDCARD);
		while (!uri_pattern_is_valid(s->pattern, s->match));
		if (s->match == URI_PREFIX && rand() % 4 == 0)
			s->pattern[strlen(s->pattern) / 2] = '\0';   /* mid-component prefixes */
		s->handle = bus_subscribe(bus, s->realm, s->pattern, s->match, deliver, s);
	}

	int mismatches = 0, total = 0;
	for (int round = 0; round < 2; round++) {
		for (int e = 0; e < N_EVENTS; e++) {
			char topic[64];
			do
				random_uri(topic, sizeof topic, false);
			while (!uri_is_valid(topic));
			const char *realm = e % 3 ? "realm1" : "realm2";
			for (int i = 0; i < N_SUBS; i++)
				subs[i].got = 0;
			struct event *ev = event_new(realm, topic, NULL, NULL, NULL);
			bus_publish(bus, ev, NULL, NULL);
			event_unref(ev);
			for (int i = 0; i < N_SUBS; i++) {
				struct sub *s = &subs[i];
				int want = s->handle && !strcmp(s->realm, realm) &&
					   uri_matches(s->pattern, s->match, topic);
				total += want;
				if (s->got != want && mismatches++ < 5)
					diag("round %d: %s %s \"%s\" got %d for \"%s\", want %d", round,
					     s->realm, uri_match_name(s->match), s->pattern, s->got, topic, want);
			}
		}
		is_int(mismatches, 0, "round %d: index agrees with a brute-force scan (%d deliveries)",
		       round, total);
		/* Second round: drop every other subscription, pruning the index. */
		for (int i = 0; i < N_SUBS; i += 2) {
			bus_unsubscribe(bus, subs[i].handle);
			subs[i].handle = NULL;
		}
	}
	bool in_order = true;
	for (int i = 0; i < N_SUBS; i++)
		in_order &= !subs[i].out_of_order;
	ok(in_order, "every subscription saw strictly increasing sequence numbers");

	struct bus_stats st;
	bus_get_stats(bus, &st);
	is_int((long long)st.subscriptions, N_SUBS / 2, "stats count live subscriptions");
	is_int((long long)st.published, 2 * N_EVENTS, "stats count published events");
	is_int((long long)bus_delivered_seq(bus), 2 * N_EVENTS, "delivered sequence is the last published");
	for (int i = 1; i < N_SUBS; i += 2)
		bus_unsubscribe(bus, subs[i].handle);
	bus_get_stats(bus, &st);
	is_int((long long)st.subjects, 0, "unsubscribing everything empties the index");
	bus_free(bus);
	return done_testing();
}
