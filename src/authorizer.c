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

static void send_ask(struct authorizer_ask *ask);

/* The answer (never inside authorizer_ask(): caller.c defers it). */
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
	authorizer_done_fn done = ask->done;
	void *done_ctx = ask->ctx;
	ask_free(ask);
	done(done_ctx, v);
}

static void send_ask(struct authorizer_ask *ask)
{
	ask->call = caller_call(ask->caller, ask->authorizer, json_deep_copy(ask->args), NULL,
				json_pack("{s:i}", "timeout", AUTHORIZER_TIMEOUT_MS), on_answer, ask);
}

static char *cache_key(const char *realm, const char *role, enum acl_action action,
		       const char *uri)
{
	return xasprintf("%s\n%s\n%s\n%s", realm, role, authorizer_action_name(action), uri);
}

bool authorizer_cached(struct gateway *gw, const char *realm, const char *role,
		       enum acl_action action, const char *uri, struct verdict *v)
{
	char *key = cache_key(realm, role, action, uri);
	struct verdict *kept = map_get(&gw->authorizer_cache, key, strlen(key));
	free(key);
	if (kept)
		*v = *kept;
	return kept != NULL;
}

struct authorizer_ask *authorizer_ask(struct gateway *gw, const char *realm,
				      const char *authorizer, const char *role,
				      enum acl_action action, const char *uri, json_t *details,
				      authorizer_done_fn done, void *ctx)
{
	struct authorizer_ask *ask = xcalloc(1, sizeof *ask);
	*ask = (struct authorizer_ask){
		.gw = gw, .caller = caller_for(gw, realm, "trusted"),
		.cache_key = cache_key(realm, role, action, uri), .authorizer = authorizer,
		.args = json_pack("[o, s, s, {}]", details, uri, authorizer_action_name(action)),
		.done = done, .ctx = ctx,
	};
	send_ask(ask);                     /* the realm exists, so its "trusted" caller does */
	return ask;
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
