/* gateway.c - start-up, the loop, and a clean shutdown (see gateway.h).
 *
 * Shutdown on SIGTERM/SIGINT, in order: stop accepting; end every SSE
 * stream (a proper end of the chunked body, so browsers reconnect with
 * their Last-Event-ID) and close every WebSocket with a close frame; give
 * in-flight publishes a moment to commit and answer; stop the HTTP
 * daemons; write whatever history still has queued; exit 0.  SIGHUP
 * reloads the certificates of TLS transports.
 */
#include "gateway.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "authorizer.h"
#include "bus.h"
#include "caller.h"
#include "forwarder.h"
#include "history.h"
#include "httpclient.h"
#include "listener.h"
#include "log.h"
#include "restcallee.h"
#include "router.h"
#include "signing.h"
#include "sse.h"
#include "util.h"
#include "ws.h"

#define DRAIN_MS 250

static void close_signal(uv_signal_t *s)
{
	uv_signal_stop(s);
	uv_close((uv_handle_t *)s, NULL);
}

/* ---- later: gateway_defer() ------------------------------------------------ */

struct deferred {
	void (*fn)(void *ctx);
	void *ctx;
	struct deferred *next;
};

static void run_later(uv_idle_t *idle)
{
	struct gateway *gw = idle->data;
	struct deferred *d = gw->later_head;
	gw->later_head = gw->later_tail = NULL;   /* what these defer runs next turn */
	uv_idle_stop(idle);
	while (d) {
		struct deferred *next = d->next;
		d->fn(d->ctx);
		free(d);
		d = next;
	}
}

void gateway_defer(struct gateway *gw, void (*fn)(void *ctx), void *ctx)
{
	if (!gw->is_later_open)
		return;                    /* stopping: nothing runs any more */
	struct deferred *d = xmalloc(sizeof *d);
	*d = (struct deferred){fn, ctx, NULL};
	if (gw->later_tail)
		gw->later_tail->next = d;
	else
		gw->later_head = d;
	gw->later_tail = d;
	uv_idle_start(&gw->later, run_later);
}

static void close_later(struct gateway *gw)
{
	if (!gw->is_later_open)
		return;
	gw->is_later_open = false;
	uv_idle_stop(&gw->later);
	uv_close((uv_handle_t *)&gw->later, NULL);
	while (gw->later_head) {
		struct deferred *next = gw->later_head->next;
		free(gw->later_head);
		gw->later_head = next;
	}
	gw->later_tail = NULL;
}

/* RESTCallees and MessageForwarders join their realms like clients. */
static void start_components(struct gateway *gw)
{
	const struct sb_config *cfg = gw->cfg;
	gw->httpclient = httpclient_new(gw->loop);
	gw->callees = xcalloc(cfg->n_components + 1, sizeof *gw->callees);
	gw->forwarders = xcalloc(cfg->n_components + 1, sizeof *gw->forwarders);
	for (size_t i = 0; i < cfg->n_components; i++) {
		const struct sb_component *c = &cfg->components[i];
		if (c->type == SB_COMPONENT_REST_CALLEE)
			gw->callees[i] = restcallee_start(gw, c);
		else
			gw->forwarders[i] = forwarder_start(gw, c);
	}
}

/* Before the history closes: forwarders save their cursors with it. */
static void stop_components(struct gateway *gw)
{
	for (size_t i = 0; gw->callees && i < gw->cfg->n_components; i++) {
		restcallee_stop(gw->callees[i]);
		forwarder_stop(gw->forwarders[i]);
	}
	free(gw->callees);
	free(gw->forwarders);
	gw->callees = NULL;
	gw->forwarders = NULL;
	httpclient_free(gw->httpclient);
	gw->httpclient = NULL;
}

/* Second half of shutdown: everything in flight has had its chance. */
static void on_drained(uv_timer_t *t)
{
	struct gateway *gw = t->data;
	uv_close((uv_handle_t *)t, (uv_close_cb)free);
	for (size_t i = 0; i < gw->n_listeners; i++)
		listener_free(gw->listeners[i]);
	gw->n_listeners = 0;
	stop_components(gw);
	history_close(gw->history);    /* writes the rest; callbacks run now */
	gw->history = NULL;
	ws_server_stop(gw->ws);
	sse_hub_free(gw->sse);
	gw->sse = NULL;
	close_signal(&gw->sigterm);
	close_signal(&gw->sigint);
	close_signal(&gw->sighup);
	close_later(gw);
	log_msg(LOG_INFO, "main", "stopped cleanly");
}

/* SIGHUP: every TLS transport reads its certificate files again (each
 * logs a line); open connections keep theirs. */
static void on_hangup(uv_signal_t *s, int signum)
{
	struct gateway *gw = s->data;
	size_t n = 0;
	for (size_t i = 0; i < gw->n_listeners && !gw->is_stopping; i++)
		n += listener_reload(gw->listeners[i]);
	if (!n)
		log_msg(LOG_INFO, "main", "SIGHUP received: no TLS transport, nothing to reload");
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct gateway *gw = s->data;
	if (gw->is_stopping)
		return;
	gw->is_stopping = true;
	log_msg(LOG_INFO, "main", "%s received: ending streams and stopping",
		signum == SIGTERM ? "SIGTERM" : "SIGINT");
	for (size_t i = 0; i < gw->n_listeners; i++)
		listener_stop(gw->listeners[i]);
	sse_hub_end_all(gw->sse);
	router_shutdown(gw->router);        /* GOODBYE, then WebSocket close 1001 */
	uv_timer_t *t = xmalloc(sizeof *t);
	uv_timer_init(gw->loop, t);
	t->data = gw;
	uv_timer_start(t, on_drained, DRAIN_MS, 0);
}

const struct sb_role *gateway_path_role(const struct gateway *gw, const struct sb_path *path)
{
	const struct sb_realm *realm = path->realm ? config_realm(gw->cfg, path->realm) : NULL;
	return realm && path->role ? config_role(realm, path->role) : NULL;
}

static void watch_signal(struct gateway *gw, uv_signal_t *s, int signum, uv_signal_cb cb)
{
	uv_signal_init(gw->loop, s);
	s->data = gw;
	uv_signal_start(s, cb, signum);
}

int gateway_run(const struct sb_config *cfg, const char *www_dir, const char *schema_dir)
{
	static struct gateway gateway;    /* one per process; its address is stable */
	struct gateway *gw = &gateway;
	char err[512];
	int code = 0;

	signal(SIGPIPE, SIG_IGN);          /* a vanished peer is an error return */
	gw->loop = uv_default_loop();
	gw->cfg = cfg;
	gw->www_dir = www_dir;
	gw->started_ms = now_ms();
	uv_idle_init(gw->loop, &gw->later);
	gw->later.data = gw;
	gw->is_later_open = true;

	gw->history = history_open(&cfg->history, schema_dir, gw->loop, err, sizeof err);
	if (!gw->history)
		goto fail;
	gw->bus = bus_new(gw->history);
	gw->sse = sse_hub_new(gw);
	gw->router = router_new(gw);
	gw->ws = ws_server_new(gw, err, sizeof err);
	if (!gw->ws)
		goto fail;
	start_components(gw);
	gw->listeners = xcalloc(cfg->n_transports, sizeof *gw->listeners);
	for (size_t i = 0; i < cfg->n_transports; i++) {
		struct listener *l = listener_new(gw, &cfg->transports[i], err, sizeof err);
		if (!l)
			goto fail;
		gw->listeners[gw->n_listeners++] = l;
	}
	watch_signal(gw, &gw->sigterm, SIGTERM, on_signal);
	watch_signal(gw, &gw->sigint, SIGINT, on_signal);
	watch_signal(gw, &gw->sighup, SIGHUP, on_hangup);
	log_msg(LOG_INFO, "main", "switchboard %s ready (config %s, history %s, www %s)",
		PACKAGE_VERSION, cfg->source, cfg->history.path, www_dir);

	uv_run(gw->loop, UV_RUN_DEFAULT);
	goto done;
fail:
	log_msg(LOG_ERROR, "main", "%s", err);
	code = 1;
	for (size_t i = 0; i < gw->n_listeners; i++)
		listener_free(gw->listeners[i]);
	stop_components(gw);
	history_close(gw->history);
	ws_server_stop(gw->ws);
	sse_hub_free(gw->sse);
	close_later(gw);
	uv_run(gw->loop, UV_RUN_DEFAULT);  /* let handles close */
done:
	ws_server_free(gw->ws);            /* closes the last sessions */
	caller_free_all(gw);
	auth_forget_failures(gw);
	authorizer_free_cache(gw);
	signing_forget_nonces(gw);
	router_free(gw->router);
	bus_free(gw->bus);
	free(gw->listeners);
	uv_loop_close(gw->loop);
	return code;
}
