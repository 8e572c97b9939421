/* info.c - node info and metrics, from the gateway's counters (see info.h). */
#include "info.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "bus.h"
#include "forwarder.h"
#include "gateway.h"
#include "history.h"
#include "util.h"

struct snapshot {
	struct gateway_stats gw;
	struct bus_stats bus;
	struct history_stats history;
	double uptime_s;
};

static void take(struct gateway *gw, struct snapshot *s)
{
	s->gw = gw->stats;
	bus_get_stats(gw->bus, &s->bus);
	history_get_stats(gw->history, &s->history);
	s->uptime_s = (double)(now_ms() - gw->started_ms) / 1000.0;
}

static void find_format(void *ctx, const char *name, const char *value)
{
	bool *is_json = ctx;
	if (!strcmp(name, "format") && value && !strcmp(value, "json"))
		*is_json = true;
}

/* JSON for Accept: application/json or ?format=json; HTML otherwise. */
static bool wants_json(struct http_request *req)
{
	const char *accept = http_header(req, "Accept");
	bool is_json = accept && strstr(accept, "application/json");
	req->adapter->each_query(req, find_format, &is_json);
	return is_json;
}

/* [{"id", "realm", "cursor", "backlog", "delivered", "failed_attempts",
 *   "dead_letters"}] for the forwarders that run. */
static json_t *forwarders_json(struct gateway *gw)
{
	json_t *list = json_array();
	for (size_t i = 0; gw->forwarders && i < gw->cfg->n_components; i++) {
		struct forwarder_stats f;
		if (!gw->forwarders[i])
			continue;
		forwarder_get_stats(gw->forwarders[i], &f);
		json_array_append_new(list, json_pack(
			"{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "id", f.name, "realm", f.realm,
			"cursor", (json_int_t)f.cursor, "backlog", (json_int_t)f.backlog,
			"delivered", (json_int_t)f.delivered,
			"failed_attempts", (json_int_t)f.failed_attempts,
			"dead_letters", (json_int_t)f.dead_letters));
	}
	return list;
}

enum http_result info_handle(struct http_request *req)
{
	struct snapshot s;
	bool is_json = wants_json(req);
	take(req->gw, &s);

	if (is_json) {
		http_json(req, 200, json_pack(
			"{s:s, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
			"version", PACKAGE_VERSION,
			"uptime_s", s.uptime_s,
			"sessions", (json_int_t)s.gw.wamp_sessions,
			"ws_connections", (json_int_t)s.gw.ws_connections,
			"sse_clients", (json_int_t)s.gw.sse_clients,
			"subscriptions", (json_int_t)s.bus.subscriptions,
			"registrations", (json_int_t)s.gw.registrations,
			"events_stored", (json_int_t)s.history.rows,
			"events_published", (json_int_t)s.bus.published,
			"events_delivered", (json_int_t)s.bus.deliveries,
			"events_replayed", (json_int_t)s.gw.events_replayed,
			"sse_cuts", (json_int_t)s.gw.sse_cuts,
			"http_connections", (json_int_t)s.gw.http_connections,
			"forwarders", forwarders_json(req->gw)));
		return HTTP_DONE;
	}
	struct buf *b = &req->response.body;
	req->response.content_type = "text/html; charset=utf-8";
	buf_appendf(b, "<!doctype html><html lang=en><head><meta charset=utf-8>"
		    "<meta name=viewport content='width=device-width'>"
		    "<title>Switchboard node info</title></head><body>"
		    "<h1>Switchboard %s</h1><table>", PACKAGE_VERSION);
	buf_appendf(b, "<tr><th>Uptime</th><td>%.0f s</td></tr>", s.uptime_s);
	buf_appendf(b, "<tr><th>WAMP sessions</th><td>%llu</td></tr>",
		    (unsigned long long)s.gw.wamp_sessions);
	buf_appendf(b, "<tr><th>SSE clients</th><td>%llu</td></tr>",
		    (unsigned long long)s.gw.sse_clients);
	buf_appendf(b, "<tr><th>Subscriptions</th><td>%zu</td></tr>", s.bus.subscriptions);
	buf_appendf(b, "<tr><th>Registrations</th><td>%llu</td></tr>",
		    (unsigned long long)s.gw.registrations);
	buf_appendf(b, "<tr><th>Events stored</th><td>%llu</td></tr>",
		    (unsigned long long)s.history.rows);
	buf_appendf(b, "<tr><th>Events published</th><td>%llu</td></tr>",
		    (unsigned long long)s.bus.published);
	buf_appendf(b, "<tr><th>Slow SSE clients cut</th><td>%llu</td></tr>",
		    (unsigned long long)s.gw.sse_cuts);
	buf_appendf(b, "</table><p><a href='?format=json'>JSON</a> · "
		    "<a href='/metrics'>metrics</a></p></body></html>\n");
	return HTTP_DONE;
}

static void metric_header(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_appendf(b, "# HELP switchboard_%s %s\n# TYPE switchboard_%s %s\n", name, help, name, type);
}

static void metric(struct buf *b, const char *name, const char *type, const char *help,
		   unsigned long long value)
{
	metric_header(b, name, type, help);
	buf_appendf(b, "switchboard_%s %llu\n", name, value);
}

/* A label value as the exposition format wants it: \ " and newline escaped. */
static void label_value(struct buf *b, const char *s)
{
	for (; *s; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
		if (esc)
			buf_append(b, esc, 2);
		else
			buf_append(b, s, 1);
	}
}

/* One labelled line per forwarder for each of its counters. */
static void forwarder_metrics(struct buf *b, struct gateway *gw)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} series[] = {
		{"forwarder_backlog", "gauge", "Events a forwarder has not handled yet.",
		 offsetof(struct forwarder_stats, backlog)},
		{"forwarder_delivered_total", "counter", "Events a forwarder delivered.",
		 offsetof(struct forwarder_stats, delivered)},
		{"forwarder_failed_attempts_total", "counter", "Forwarder requests that failed.",
		 offsetof(struct forwarder_stats, failed_attempts)},
		{"forwarder_dead_letters_total", "counter", "Events a forwarder gave up on.",
		 offsetof(struct forwarder_stats, dead_letters)},
	};
	for (size_t k = 0; k < sizeof series / sizeof series[0]; k++) {
		metric_header(b, series[k].name, series[k].type, series[k].help);
		for (size_t i = 0; gw->forwarders && i < gw->cfg->n_components; i++) {
			struct forwarder_stats f;
			if (!gw->forwarders[i])
				continue;
			forwarder_get_stats(gw->forwarders[i], &f);
			buf_appendf(b, "switchboard_%s{forwarder=\"", series[k].name);
			label_value(b, f.name);
			buf_appendf(b, "\"} %llu\n",
				    (unsigned long long)*(const uint64_t *)((const char *)&f + series[k].off));
		}
	}
}

enum http_result info_handle_metrics(struct http_request *req)
{
	struct snapshot s;
	struct buf *b = &req->response.body;
	take(req->gw, &s);
	req->response.content_type = "text/plain; version=0.0.4; charset=utf-8";
	buf_appendf(b, "# HELP switchboard_connections Open connections by kind.\n"
		    "# TYPE switchboard_connections gauge\n"
		    "switchboard_connections{kind=\"http\"} %llu\n"
		    "switchboard_connections{kind=\"sse\"} %llu\n"
		    "switchboard_connections{kind=\"websocket\"} %llu\n",
		    (unsigned long long)s.gw.http_connections,
		    (unsigned long long)s.gw.sse_clients,
		    (unsigned long long)s.gw.ws_connections);
	metric(b, "events_published_total", "counter", "Events stored and fanned out.",
	       s.bus.published);
	metric(b, "events_delivered_total", "counter", "Event deliveries to subscriptions.",
	       s.bus.deliveries);
	metric(b, "events_replayed_total", "counter", "Events sent to SSE clients from history.",
	       s.gw.events_replayed);
	metric(b, "publish_failed_total", "counter", "Publishes history could not store.",
	       s.bus.failed);
	metric(b, "sse_slow_cuts_total", "counter", "SSE streams ended for falling behind.",
	       s.gw.sse_cuts);
	metric(b, "subscriptions", "gauge", "Live bus subscriptions.", s.bus.subscriptions);
	metric(b, "wamp_sessions", "gauge", "Established WAMP sessions.", s.gw.wamp_sessions);
	metric(b, "wamp_registrations", "gauge", "WAMP procedure registrations.",
	       s.gw.registrations);
	metric(b, "websocket_overflows_total", "counter", "WebSockets dropped for not reading.",
	       s.gw.ws_overflows);
	metric(b, "history_rows", "gauge", "Events held in history.", s.history.rows);
	metric(b, "history_bytes", "gauge", "Payload bytes held in history.", s.history.bytes);
	metric(b, "history_commits_total", "counter", "History transactions committed.",
	       s.history.commits);
	metric(b, "history_trimmed_total", "counter", "Events removed by retention.",
	       s.history.trimmed);
	metric(b, "http_requests_total", "counter", "HTTP requests answered.",
	       s.gw.http_requests);
	forwarder_metrics(b, req->gw);
	return HTTP_DONE;
}
