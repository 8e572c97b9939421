/* caller.c - WAMP calls made from C (see caller.h). */
#include "caller.h"

#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "map.h"
#include "router.h"
#include "util.h"

struct caller {
	struct session *session;
	struct map waiting;            /* CALL request id -> struct wait */
	uint64_t last_request;
};

struct wait {
	caller_done_fn done;
	void *ctx;
};

/* The router answers: RESULT or ERROR for one of our requests. */
static void caller_receive(struct session *s, json_t *msg)
{
	struct caller *c = s->transport;
	json_int_t code = json_integer_value(json_array_get(msg, 0));
	uint64_t request = wamp_id(msg, code == WAMP_ERROR ? 2 : 1);
	if (code == WAMP_RESULT || code == WAMP_ERROR) {
		struct wait *w = map_remove(&c->waiting, (const char *)&request, sizeof request);
		if (w) {
			w->done(w->ctx, msg);
			free(w);
		}
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
	struct wait *w = xmalloc(sizeof *w);
	*w = (struct wait){done, ctx};
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
	free(map_remove(&c->waiting, (const char *)&request, sizeof request));
	router_receive(c->session, json_pack("[i, I, {s:s}]", WAMP_CANCEL, (json_int_t)request,
					     "mode", "killnowait"));
}

static void free_wait(const char *key, void *value, void *ctx)
{
	free(value);
}

static void free_caller(const char *key, void *value, void *ctx)
{
	struct caller *c = value;
	router_session_gone(c->session);
	map_each(&c->waiting, free_wait, NULL);
	map_clear(&c->waiting);
	free(c);
}

void caller_free_all(struct gateway *gw)
{
	map_each(&gw->callers, free_caller, NULL);
	map_clear(&gw->callers);
}
