/* forwarder.c - Crossbar's MessageForwarder, durable (see forwarder.h).
 *
 * A forwarder reads the event stream like an SSE client that never
 * disconnects for good: it has a cursor (the last event it has handled)
 * over the history's sequence, takes new events live from the bus while
 * it keeps up, and reads them back from history when it falls behind
 * (its back end is slow or down, its queue filled, or the gateway was
 * restarted).  Events go out one at a time, in sequence order: event N+1
 * is sent only once event N has been delivered to every subscription it
 * matched, or dead-lettered.  The cursor is saved after each event, so
 * delivery is at-least-once: an event whose cursor write did not commit
 * before a crash is sent again after the restart.
 */
#include "forwarder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "gateway.h"
#include "history.h"
#include "httpclient.h"
#include "log.h"
#include "router.h"
#include "util.h"

#define QUEUE_MAX 256              /* live events held; beyond, read history */
#define HISTORY_READS_PER_TURN 8   /* each scans at most 2,048 rows */
#define DEAD_LETTER_TOPIC "switchboard.forwarder.on_dead_letter"

struct delivery {                  /* the current event to one subscription */
	struct forwarder *fw;
	const struct sb_forward *target;
	struct httpclient_exchange *exchange;  /* in flight, or NULL */
	int tries;                 /* sent so far */
	int attempts;              /* failures that count toward max_attempts */
	int64_t retry_at;          /* ms; 0 = not waiting */
	bool is_settled;           /* delivered or dead-lettered */
};

struct forwarder {
	struct gateway *gw;
	const struct sb_component *cfg;
	struct session *session;
	struct bus_sub **subs;     /* parallel to cfg->subscriptions */
	uint64_t cursor;           /* last event handled */
	uint64_t seen;             /* last event queued or passed over */
	bool is_behind;            /* events after seen are read from history */

	struct event *queue[QUEUE_MAX];        /* ring of events after the current */
	size_t head, len;

	struct event *current;     /* being delivered */
	char *body;                /* its request body */
	struct delivery *deliveries;           /* one per matching subscription */
	size_t n_deliveries, n_unsettled;
	uv_timer_t retry_timer;

	struct forwarder_stats stats;
};

static void pump(struct forwarder *fw);

/* ---- which events -------------------------------------------------------------- */

static bool wants(const struct forwarder *fw, const struct event *ev)
{
	if (ev->is_live_only || strcmp(ev->realm, fw->cfg->realm))
		return false;
	for (size_t i = 0; i < fw->cfg->n_subscriptions; i++)
		if (fw->subs[i] && uri_matches(fw->cfg->subscriptions[i].topic,
					       fw->cfg->subscriptions[i].match, ev->topic))
			return true;
	return false;
}

static void enqueue(struct forwarder *fw, struct event *ev)
{
	fw->queue[(fw->head + fw->len++) % QUEUE_MAX] = event_ref(ev);
	fw->seen = ev->seq;
}

/* A live event (bus callback: must not unsubscribe; it only queues and
 * starts requests).  One event can arrive once per matching subscription. */
static void on_event(void *ctx, struct event *ev)
{
	struct forwarder *fw = ctx;
	if (ev->is_live_only || ev->seq <= fw->seen || fw->is_behind)
		return;                    /* history will have it */
	if (fw->len == QUEUE_MAX) {
		fw->is_behind = true;
		return;
	}
	enqueue(fw, ev);
	pump(fw);
}

static void on_row(void *ctx, struct event *ev)
{
	struct forwarder *fw = ctx;
	if (wants(fw, ev))
		enqueue(fw, ev);
	event_unref(ev);
}

/* Refills the queue from history.  Every event in the realm is scanned
 * and filtered here, since one forwarder mixes match policies. */
static void read_history(struct forwarder *fw)
{
	char *everything = "";
	struct history_filter all = {fw->cfg->realm, &everything, 1, URI_PREFIX};
	uint64_t upto = bus_delivered_seq(fw->gw->bus);
	uint64_t covered = history_replay(fw->gw->history, &all, fw->seen, upto,
					  QUEUE_MAX - fw->len, on_row, fw);
	if (covered > fw->seen)
		fw->seen = covered;
	if (covered >= upto)
		fw->is_behind = false;     /* what comes next arrives live */
}

/* ---- handling one event ------------------------------------------------------------ */

/* Crossbar's body: {"args": [...], "kwargs": {...}}, both always present. */
static char *request_body(const struct event *ev)
{
	json_t *payload = json_loadb(ev->payload, ev->payload_len, JSON_ALLOW_NUL, NULL);
	json_t *args = json_object_get(payload, "args"), *kwargs = json_object_get(payload, "kwargs");
	json_t *body = json_pack("{s:o, s:o}", "args", args ? json_incref(args) : json_array(),
				 "kwargs", kwargs ? json_incref(kwargs) : json_object());
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	json_decref(payload);
	return text;
}

static void send_delivery(struct delivery *d);

static void handled(struct forwarder *fw)
{
	fw->cursor = fw->current->seq;
	history_save_cursor(fw->gw->history, fw->cfg->name, fw->cursor);
	event_unref(fw->current);
	fw->current = NULL;
	free(fw->body);
	fw->body = NULL;
	free(fw->deliveries);
	fw->deliveries = NULL;
	fw->n_deliveries = 0;
	pump(fw);
}

static void dead_letter(struct delivery *d, long status, const char *error)
{
	struct forwarder *fw = d->fw;
	const struct event *ev = fw->current;
	struct dead_letter dl = {fw->cfg->name, ev->topic, d->target->url, error, ev->seq,
				 d->attempts, status};
	history_save_dead_letter(fw->gw->history, &dl);
	fw->stats.dead_letters++;
	log_msg(LOG_WARN, "forwarder", "%s: dead letter: event %llu on %s to %s gave up after %d "
		"attempts (%s); it is in the dead_letters table, forwarding goes on", fw->cfg->name,
		(unsigned long long)ev->seq, ev->topic, d->target->url, d->attempts, error);
	json_t *info = json_pack("{s:s, s:s, s:I, s:s, s:i, s:o, s:s}", "forwarder", fw->cfg->name,
				 "topic", ev->topic, "seq", (json_int_t)ev->seq, "url",
				 d->target->url, "attempts", d->attempts, "status",
				 status ? json_integer(status) : json_null(), "error", error);
	struct event *note = event_new(fw->cfg->realm, DEAD_LETTER_TOPIC, json_pack("[o]", info),
				       NULL, NULL);
	bus_publish_live(fw->gw->bus, note);
	event_unref(note);
}

static void arm_retry_timer(struct forwarder *fw);

/* A failed try: wait and send again, or give up on this subscription. */
static void failed(struct delivery *d, bool counts, long status, const char *error)
{
	struct forwarder *fw = d->fw;
	const struct sb_component *cfg = fw->cfg;
	fw->stats.failed_attempts++;
	d->attempts += counts;
	if (counts && cfg->max_attempts && d->attempts >= cfg->max_attempts) {
		dead_letter(d, status, error);
		d->is_settled = true;
		return;
	}
	int64_t delay = cfg->retry_delay_ms;
	for (int i = 1; i < d->tries && delay < cfg->retry_max_delay_ms; i++)
		delay *= 2;
	if (delay > cfg->retry_max_delay_ms)
		delay = cfg->retry_max_delay_ms;
	d->retry_at = now_ms() + delay;
	if (d->tries == 1 || cfg->debug)
		log_msg(LOG_WARN, "forwarder", "%s: event %llu to %s: %s; retrying in %lld ms (check "
			"that the back end is up)", cfg->name, (unsigned long long)fw->current->seq,
			d->target->url, error, (long long)delay);
	arm_retry_timer(fw);
}

static void on_answer(void *ctx, const struct httpclient_reply *reply)
{
	struct delivery *d = ctx;
	struct forwarder *fw = d->fw;
	const struct sb_component *cfg = fw->cfg;
	d->exchange = NULL;
	bool is_ok = reply->failure == HTTPCLIENT_OK &&
		     (cfg->expected_code ? reply->status == cfg->expected_code
					 : reply->status >= 200 && reply->status < 300);
	if (cfg->debug)
		log_msg(LOG_INFO, "forwarder", "%s: event %llu to %s: %ld %.*s", cfg->name,
			(unsigned long long)fw->current->seq, d->target->url, reply->status,
			(int)(reply->body.len > 200 ? 200 : reply->body.len),
			reply->body.data ? reply->body.data : "");
	if (is_ok) {
		fw->stats.delivered++;
		d->is_settled = true;
	} else if (reply->failure == HTTPCLIENT_OK) {
		char error[96];
		if (cfg->expected_code)
			snprintf(error, sizeof error, "Request returned %ld, not the expected %d",
				 reply->status, cfg->expected_code);
		else
			snprintf(error, sizeof error, "Request returned %ld, not a 2xx status",
				 reply->status);
		failed(d, true, reply->status, error);
	} else {
		/* No answer at all means the back end is down: the event waits
		 * for it (retrying) instead of counting toward dead-lettering. */
		failed(d, reply->failure != HTTPCLIENT_UNREACHABLE, 0, reply->error);
	}
	if (d->is_settled && --fw->n_unsettled == 0)
		handled(fw);
}

static void send_delivery(struct delivery *d)
{
	struct forwarder *fw = d->fw;
	const struct event *ev = fw->current;
	char id[48];
	snprintf(id, sizeof id, "X-Switchboard-Event-Id: %llu", (unsigned long long)ev->seq);
	char *topic = xasprintf("X-Switchboard-Topic: %s", ev->topic);
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	headers = curl_slist_append(headers, topic);
	headers = curl_slist_append(headers, id);
	free(topic);
	struct httpclient_request req = {
		.method = fw->cfg->method,
		.url = d->target->url,
		.headers = headers,
		.body = fw->body,
		.body_len = strlen(fw->body),
		.timeout_ms = fw->cfg->timeout_ms,
		.connect_timeout_ms = fw->cfg->connect_timeout_ms,
	};
	d->tries++;
	d->retry_at = 0;
	d->exchange = httpclient_send(fw->gw->httpclient, &req, on_answer, d);
}

/* Takes the next event and sends it to every subscription it matches. */
static void start_event(struct forwarder *fw, struct event *ev)
{
	const struct sb_component *cfg = fw->cfg;
	fw->current = ev;
	fw->body = request_body(ev);
	fw->deliveries = xcalloc(cfg->n_subscriptions, sizeof *fw->deliveries);
	fw->n_deliveries = 0;
	for (size_t i = 0; i < cfg->n_subscriptions; i++) {
		const struct sb_forward *target = &cfg->subscriptions[i];
		if (fw->subs[i] && uri_matches(target->topic, target->match, ev->topic))
			fw->deliveries[fw->n_deliveries++] = (struct delivery){.fw = fw, .target = target};
	}
	fw->n_unsettled = fw->n_deliveries;
	for (size_t i = 0; i < fw->n_deliveries; i++)
		send_delivery(&fw->deliveries[i]);
}

static void on_retry_timer(uv_timer_t *t);

static void pump(struct forwarder *fw)
{
	int reads = 0;
	while (!fw->current) {
		if (!fw->len && fw->is_behind) {
			if (reads++ == HISTORY_READS_PER_TURN) {
				/* A long stretch of other topics (a forwarder far behind on
				 * a busy realm): go on in the next loop turn, not all now. */
				uv_timer_start(&fw->retry_timer, on_retry_timer, 0, 0);
				return;
			}
			read_history(fw);
		}
		if (!fw->len) {
			if (fw->is_behind)
				continue;          /* a stretch of other topics: read on */
			return;
		}
		struct event *ev = fw->queue[fw->head];
		fw->head = (fw->head + 1) % QUEUE_MAX;
		fw->len--;
		start_event(fw, ev);
	}
}

/* ---- retries ------------------------------------------------------------------------- */

/* Retries that are due; or, between events, the next stretch of history. */
static void on_retry_timer(uv_timer_t *t)
{
	struct forwarder *fw = t->data;
	int64_t now = now_ms();
	if (!fw->current) {
		pump(fw);
		return;
	}
	for (size_t i = 0; fw->current && i < fw->n_deliveries; i++) {
		struct delivery *d = &fw->deliveries[i];
		if (d->retry_at && d->retry_at <= now)
			send_delivery(d);
	}
	arm_retry_timer(fw);
}

static void arm_retry_timer(struct forwarder *fw)
{
	int64_t next = 0;
	for (size_t i = 0; fw->current && i < fw->n_deliveries; i++) {
		int64_t at = fw->deliveries[i].retry_at;
		if (at && (!next || at < next))
			next = at;
	}
	if (next) {
		int64_t wait = next - now_ms();
		uv_timer_start(&fw->retry_timer, on_retry_timer, wait > 0 ? (uint64_t)wait : 0, 0);
	}
}

/* ---- the session ------------------------------------------------------------------------ */

static void forwarder_receive(struct session *s, json_t *msg)
{
	json_decref(msg);                  /* it subscribes on the bus directly */
}

static void forwarder_close(struct session *s, int code)
{
	(void)s;
	(void)code;
}

static const struct session_ops forwarder_ops = {forwarder_receive, NULL, forwarder_close};

/* Retention may have removed events the forwarder had not sent yet (its
 * back end was down longer than history keeps them): say so once. */
static void warn_if_expired(const struct forwarder *fw)
{
	const struct sb_component *cfg = fw->cfg;
	for (size_t i = 0; i < cfg->n_subscriptions; i++) {
		char *topic = cfg->subscriptions[i].topic;
		struct history_filter f = {cfg->realm, &topic, 1, cfg->subscriptions[i].match};
		uint64_t trimmed = history_trimmed_seq(fw->gw->history, &f);
		if (trimmed > fw->cursor)
			log_msg(LOG_WARN, "forwarder", "%s: events on %s after %llu up to %llu expired "
				"from history before they were forwarded to %s; raise the history "
				"retention for them", cfg->name, topic, (unsigned long long)fw->cursor,
				(unsigned long long)trimmed, cfg->subscriptions[i].url);
	}
}

struct forwarder *forwarder_start(struct gateway *gw, const struct sb_component *cfg)
{
	struct forwarder *fw = xcalloc(1, sizeof *fw);
	fw->gw = gw;
	fw->cfg = cfg;
	fw->session = router_session_join(gw->router, &forwarder_ops, fw, cfg->realm, cfg->role,
					  cfg->name);
	if (!fw->session) {
		log_msg(LOG_ERROR, "forwarder", "%s: cannot join realm %s as role %s", cfg->where,
			cfg->realm, cfg->role);
		free(fw);
		return NULL;
	}
	uv_timer_init(gw->loop, &fw->retry_timer);
	fw->retry_timer.data = fw;
	fw->subs = xcalloc(cfg->n_subscriptions, sizeof *fw->subs);
	for (size_t i = 0; i < cfg->n_subscriptions; i++) {
		const struct sb_forward *target = &cfg->subscriptions[i];
		if (!session_authorize(fw->session, ACL_SUBSCRIBE, WAMP_SUBSCRIBE, 0, target->topic)) {
			log_msg(LOG_ERROR, "forwarder", "%s: role %s may not subscribe to %s; nothing "
				"is forwarded to %s (allow subscribe for the role)", cfg->name,
				cfg->role, target->topic, target->url);
			continue;
		}
		fw->subs[i] = bus_subscribe(gw->bus, cfg->realm, target->topic, target->match,
					    on_event, fw);
	}
	uint64_t now = bus_delivered_seq(gw->bus);
	bool is_new = history_load_cursor(gw->history, cfg->name, &fw->cursor) < 0;
	if (is_new || fw->cursor > now)
		fw->cursor = now;          /* a new forwarder starts from now */
	fw->seen = fw->cursor;
	fw->is_behind = fw->cursor < now;
	warn_if_expired(fw);
	log_msg(LOG_INFO, "forwarder", "%s: %zu subscription(s), %s at event %llu", cfg->name,
		cfg->n_subscriptions, is_new ? "starting" : "resuming",
		(unsigned long long)fw->cursor);
	pump(fw);
	return fw;
}

static void timer_closed(uv_handle_t *handle)
{
	free(handle->data);                /* the forwarder */
}

void forwarder_stop(struct forwarder *fw)
{
	if (!fw)
		return;
	for (size_t i = 0; i < fw->cfg->n_subscriptions; i++)
		if (fw->subs[i])
			bus_unsubscribe(fw->gw->bus, fw->subs[i]);
	free(fw->subs);
	for (size_t i = 0; fw->current && i < fw->n_deliveries; i++)
		if (fw->deliveries[i].exchange)
			httpclient_cancel(fw->deliveries[i].exchange);
	while (fw->len--) {
		event_unref(fw->queue[fw->head]);
		fw->head = (fw->head + 1) % QUEUE_MAX;
	}
	if (fw->current)
		event_unref(fw->current);  /* not handled: sent again after a restart */
	free(fw->body);
	free(fw->deliveries);
	router_session_gone(fw->session);
	uv_timer_stop(&fw->retry_timer);
	uv_close((uv_handle_t *)&fw->retry_timer, timer_closed);
}

void forwarder_get_stats(const struct forwarder *fw, struct forwarder_stats *out)
{
	*out = fw->stats;
	out->name = fw->cfg->name;
	out->realm = fw->cfg->realm;
	out->cursor = fw->cursor;
	uint64_t delivered = bus_delivered_seq(fw->gw->bus);
	out->backlog = fw->is_behind && delivered > fw->cursor ? delivered - fw->cursor
		     : fw->len + (fw->current != NULL);
}
