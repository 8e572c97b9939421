/* authorizer.c - dynamic authorizers (see authorizer.h). */
#include "authorizer.h"

#include <stdlib.h>
#include <string.h>

#include "caller.h"
#include "gateway.h"
#include "log.h"
#include "map.h"
#include "util.h"
#include "wamp.h"

#define AUTHORIZER_TIMEOUT_MS 10000
#define CACHE_MAX 100000               /* answers; then start afresh */

struct authorizer_ask {
	struct gateway *gw;
	struct caller *caller;
	uint64_t call;
	char *cache_key;
	const char *authorizer;        /* borrowed from the config */
	json_t *args;                  /* kept to retry without options */
	bool is_retry;
	bool is_sending;               /* inside caller_call(): answers wait */
	bool needs_resend;
	bool is_answered;
	struct verdict verdict;
	authorizer_done_fn done;
	void *ctx;
};

const char *authorizer_action_name(enum acl_action action)
{
	switch (action) {
	case ACL_CALL: return "call";
	case ACL_REGISTER: return "register";
	case ACL_PUBLISH: return "publish";
	case ACL_SUBSCRIBE: return "subscribe";
	}
	return "?";
}

static void ask_free(struct authorizer_ask *ask)
{
	free(ask->cache_key);
	json_decref(ask->args);
	free(ask);
}

/* bool, or {allow (required), disclose, cache}; anything else is no. */
static bool read_verdict(const json_t *v, struct verdict *out, bool *cache)
{
	*out = (struct verdict){false, false};
	*cache = false;
	if (json_is_boolean(v)) {
		out->allow = json_is_true(v);
		return true;
	}
	if (!json_is_object(v) || !json_is_boolean(json_object_get(v, "allow")))
		return false;
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)v, key, value) {
		if (!json_is_boolean(value) || (strcmp(key, "allow") && strcmp(key, "disclose") &&
						strcmp(key, "cache") && strcmp(key, "validate")))
			return false;
	}
	out->allow = json_is_true(json_object_get(v, "allow"));
	out->disclose = json_is_true(json_object_get(v, "disclose"));
	*cache = json_is_true(json_object_get(v, "cache"));
	return true;
}

static void remember(struct gateway *gw, const char *key, struct verdict v)
{
	if (gw->authorizer_cache.count >= CACHE_MAX)
		authorizer_free_cache(gw);
	struct verdict *kept = xmalloc(sizeof *kept);
	*kept = v;
	free(map_put(&gw->authorizer_cache, key, strlen(key), kept));
}

static bool send_ask(struct authorizer_ask *ask);

static void deliver(struct authorizer_ask *ask)
{
	authorizer_done_fn done = ask->done;
	void *ctx = ask->ctx;
	struct verdict v = ask->verdict;
	ask_free(ask);
	done(ctx, v);
}

static void on_answer(void *ctx, const json_t *answer)
{
	struct authorizer_ask *ask = ctx;
	struct verdict v;
	bool cache = false;
	bool is_error = json_integer_value(json_array_get(answer, 0)) == WAMP_ERROR;
	const char *uri = is_error ? json_string_value(json_array_get(answer, 4)) : NULL;
	if (is_error && !ask->is_retry && !strcmp(uri, "wamp.error.runtime_error")) {
		/* Crossbar retries a 3-argument authorizer without options. */
		ask->is_retry = true;
		json_array_remove(ask->args, 3);
		if (ask->is_sending)
			ask->needs_resend = true;  /* send_ask() is on the stack: it resends */
		else
			send_ask(ask);
		return;
	}
	if (is_error || !read_verdict(json_array_get(wamp_args(answer, 3), 0), &v, &cache)) {
		log_msg(LOG_WARN, "authorizer", "%s: %s; denied (it must answer true, false or "
			"{\"allow\": bool, \"disclose\": bool, \"cache\": bool})", ask->authorizer,
			is_error ? uri : "malformed answer");
		v = (struct verdict){false, false};
	} else if (cache) {
		remember(ask->gw, ask->cache_key, v);
	}
	ask->verdict = v;
	ask->is_answered = true;
	if (!ask->is_sending)
		deliver(ask);
}

/* Sends the call; false if it was answered at once (and delivered). */
static bool send_ask(struct authorizer_ask *ask)
{
	do {
		ask->needs_resend = false;
		ask->is_sending = true;
		ask->call = caller_call(ask->caller, ask->authorizer, json_deep_copy(ask->args),
					NULL, json_pack("{s:i}", "timeout", AUTHORIZER_TIMEOUT_MS),
					on_answer, ask);
		ask->is_sending = false;
	} while (ask->needs_resend);
	if (!ask->is_answered)
		return true;
	deliver(ask);
	return false;
}

struct authorizer_ask *authorizer_ask(struct gateway *gw, const char *realm,
				      const char *authorizer, const char *role,
				      enum acl_action action, const char *uri, json_t *details,
				      authorizer_done_fn done, void *ctx)
{
	const char *name = authorizer_action_name(action);
	char *key = xasprintf("%s\n%s\n%s\n%s", realm, role, name, uri);
	struct verdict *cached = map_get(&gw->authorizer_cache, key, strlen(key));
	struct caller *caller = cached ? NULL : caller_for(gw, realm, "trusted");
	if (cached || !caller) {
		struct verdict v = cached ? *cached : (struct verdict){false, false};
		free(key);
		json_decref(details);
		done(ctx, v);
		return NULL;
	}
	struct authorizer_ask *ask = xcalloc(1, sizeof *ask);
	*ask = (struct authorizer_ask){
		.gw = gw, .caller = caller, .cache_key = key, .authorizer = authorizer,
		.args = json_pack("[o, s, s, {}]", details, uri, name), .done = done, .ctx = ctx,
	};
	return send_ask(ask) ? ask : NULL;
}

json_t *authorizer_http_details(const char *peer, const char *authid, const char *authrole,
				const char *authmethod)
{
	return json_pack("{s:s?, s:s, s:s, s:s, s:{s:s, s:s}}", "authid", authid, "authrole",
			 authrole, "authmethod", authmethod, "authprovider", "static", "transport",
			 "type", "http", "peer", peer);
}

void authorizer_forget(struct authorizer_ask *ask)
{
	caller_forget(ask->caller, ask->call);
	ask_free(ask);
}

static void free_verdict(const char *key, void *value, void *ctx)
{
	free(value);
}

void authorizer_free_cache(struct gateway *gw)
{
	map_each(&gw->authorizer_cache, free_verdict, NULL);
	map_clear(&gw->authorizer_cache);
}
