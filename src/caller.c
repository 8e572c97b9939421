/* caller.c - WAMP calls made from C (see caller.h).
 *
 * The router may answer a call before caller_call() returns (a refusal, or
 * an in-process callee such as the RESTCallee), so answers are kept on
 * their wait and handed out on the loop's next turn (gateway_defer()):
 * code that asks never sees its answer while it is still on the stack.
 */
#include "caller.h"

#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "map.h"
#include "router.h"
#include "util.h"

struct caller {
	struct gateway *gw;
	struct session *session;
	struct map waiting;            /* CALL request id -> struct wait */
	uint64_t last_request;
	uint64_t *due;                 /* answered requests, in order */
	size_t n_due, cap_due;
};

struct wait {
	caller_done_fn done;
	void *ctx;
	json_t *answer;                /* RESULT or ERROR once it came */
};

/* Hands out the answers that came since the last turn, in order. */
static void deliver_due(void *ctx)
{
	struct caller *c = ctx;
	uint64_t *due = c->due;
	size_t n = c->n_due;
	c->due = NULL;
	c->n_due = c->cap_due = 0;
	for (size_t i = 0; i < n; i++) {
		struct wait *w = map_remove(&c->waiting, (const char *)&due[i], sizeof due[i]);
		if (!w)
			continue;          /* forgotten meanwhile */
		w->done(w->ctx, w->answer);
		json_decref(w->answer);
		free(w);
	}
	free(due);
}

/* The router answers: RESULT or ERROR for one of our requests. */
static void caller_receive(struct session *s, json_t *msg)
{
	struct caller *c = s->transport;
	json_int_t code = json_integer_value(json_array_get(msg, 0));
	uint64_t request = wamp_id(msg, code == WAMP_ERROR ? 2 : 1);
	struct wait *w = code == WAMP_RESULT || code == WAMP_ERROR
		       ? map_get(&c->waiting, (const char *)&request, sizeof request) : NULL;
	if (w && !w->answer) {
		w->answer = msg;           /* kept until delivered */
		if (c->n_due == c->cap_due) {
			c->cap_due = c->cap_due ? c->cap_due * 2 : 8;
			c->due = xrealloc(c->due, c->cap_due * sizeof *c->due);
		}
		c->due[c->n_due++] = request;
		if (c->n_due == 1)
			gateway_defer(c->gw, deliver_due, c);
		return;
	}
	json_decref(msg);
}

static void caller_close(struct session *s, int code)
{
	(void)s;
	(void)code;                        /* in-process: nothing to close */
}

static const struct session_ops caller_ops = {caller_receive, NULL, caller_close};

struct caller *caller_for(struct gateway *gw, const char *realm, const char *role)
{
	char *key = xasprintf("%s\n%s", realm, role);
	struct caller *c = map_get(&gw->callers, key, strlen(key));
	if (!c) {
		c = xcalloc(1, sizeof *c);
		c->gw = gw;
		c->session = router_session_join(gw->router, &caller_ops, c, realm, role,
						 "switchboard-caller");
		if (c->session) {
			map_put(&gw->callers, key, strlen(key), c);
		} else {
			free(c);
			c = NULL;
		}
	}
	free(key);
	return c;
}

uint64_t caller_call(struct caller *c, const char *procedure, json_t *args, json_t *kwargs,
		     json_t *options, caller_done_fn done, void *ctx)
{
	uint64_t request = ++c->last_request;
	struct wait *w = xcalloc(1, sizeof *w);
	w->done = done;
	w->ctx = ctx;
	map_put(&c->waiting, (const char *)&request, sizeof request, w);
	json_t *msg = json_pack("[i, I, o, s]", WAMP_CALL, (json_int_t)request,
				options ? options : json_object(), procedure);
	wamp_append_payload(msg, args, kwargs);
	json_decref(args);
	json_decref(kwargs);
	router_receive(c->session, msg);
	return request;
}

void caller_forget(struct caller *c, uint64_t request)
{
	struct wait *w = map_remove(&c->waiting, (const char *)&request, sizeof request);
	if (!w)
		return;
	if (!w->answer)                    /* still running: stop it */
		router_receive(c->session, json_pack("[i, I, {s:s}]", WAMP_CANCEL,
						     (json_int_t)request, "mode", "killnowait"));
	json_decref(w->answer);
	free(w);
}

static void free_wait(const char *key, void *value, void *ctx)
{
	struct wait *w = value;
	json_decref(w->answer);
	free(w);
}

static void free_caller(const char *key, void *value, void *ctx)
{
	struct caller *c = value;
	router_session_gone(c->session);
	map_each(&c->waiting, free_wait, NULL);
	map_clear(&c->waiting);
	free(c->due);
	free(c);
}

void caller_free_all(struct gateway *gw)
{
	map_each(&gw->callers, free_caller, NULL);
	map_clear(&gw->callers);
}
