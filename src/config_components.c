/* config_components.c - container workers and router components: the
 * Crossbar REST-bridge services Switchboard runs in-process (RESTCallee,
 * MessageForwarder).  Part of config.c's parse: fills cfg->components and
 * checks, once every realm and transport is known, that each component's
 * role may do what the component needs.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "config_keys.h"
#include "util.h"

/* Crossbar moved the bridge from crossbar.adapter.rest (before May 2018)
 * to crossbar.bridge.rest; configs use both. */
static const struct {
	const char *name;
	enum sb_component_type type;
} classes[] = {
	{"crossbar.bridge.rest.RESTCallee", SB_COMPONENT_REST_CALLEE},
	{"crossbar.adapter.rest.RESTCallee", SB_COMPONENT_REST_CALLEE},
	{"crossbar.bridge.rest.MessageForwarder", SB_COMPONENT_FORWARDER},
	{"crossbar.adapter.rest.MessageForwarder", SB_COMPONENT_FORWARDER},
};

/* ---- URLs ---------------------------------------------------------------- */

/* 0 if url is an absolute http(s) URL; else rejects naming the problem. */
static int http_url(struct ctx *c, const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL;
	CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	bool is_http = rc == CURLUE_OK && (!strcmp(scheme, "http") || !strcmp(scheme, "https"));
	curl_free(scheme);
	curl_url_cleanup(u);
	if (rc != CURLUE_OK)
		return keys_reject(c, "\"%s\" is not an absolute URL (%s)", url, curl_url_strerror(rc));
	if (!is_http)
		return keys_reject(c, "\"%s\": only http and https URLs are supported", url);
	return 0;
}

static int store_http_url(struct ctx *c, json_t *v, char **dst, bool may_be_empty)
{
	const char *s = json_string_value(v);
	if (!(may_be_empty && !*s) && http_url(c, s) < 0)
		return -1;
	free(*dst);
	*dst = xstrdup(s);
	return 0;
}

/* ---- RESTCallee extra ------------------------------------------------------ */

static int callee_procedure(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	const char *s = json_string_value(v);
	if (!uri_is_valid(s))
		return keys_reject(c, "invalid procedure URI \"%s\"", s);
	return keys_take_string(c, v, &((struct sb_component *)obj)->procedure);
}

static int callee_baseurl(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return store_http_url(c, v, &((struct sb_component *)obj)->baseurl, true);
}

#define TIMEOUTS(timeout_default) \
	INT("timeout", struct sb_component, timeout_ms, 0, 86400000, timeout_default), \
	INT("connect_timeout", struct sb_component, connect_timeout_ms, 0, 600000, 10000)

static const struct field callee_extra_fields[] = {
	REQ("procedure", T_STR, callee_procedure),
	REQ("baseurl", T_STR, callee_baseurl),
	TIMEOUTS(30000),
	END,
};

/* ---- MessageForwarder extra ------------------------------------------------ */

static int forward_topic(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_take_string(c, v, &((struct sb_forward *)obj)->topic);
}

static int forward_url(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return store_http_url(c, v, &((struct sb_forward *)obj)->url, false);
}

static int forward_match(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_match(c, v, &((struct sb_forward *)obj)->match);
}

static const struct field forward_fields[] = {
	REQ("topic", T_STR, forward_topic),
	REQ("url", T_STR, forward_url),
	FN("match", T_STR, forward_match),
	END,
};

static int forward_subscriptions(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_component *comp = obj;
	if (!json_array_size(v))
		return keys_reject(c, "must list at least one {\"topic\", \"url\"}");
	comp->n_subscriptions = json_array_size(v);
	comp->subscriptions = xcalloc(comp->n_subscriptions, sizeof *comp->subscriptions);
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		struct sb_forward *fw = &comp->subscriptions[i];
		size_t mark = keys_push_index(c, i);
		if (keys_expect_object(c, e) < 0 || keys_parse_object(c, e, forward_fields, fw) < 0)
			return -1;
		if (!uri_pattern_is_valid(fw->topic, fw->match)) {
			keys_push(c, "topic");
			return keys_reject(c, "invalid topic pattern \"%s\" for match \"%s\"",
					   fw->topic, uri_match_name(fw->match));
		}
		keys_pop(c, mark);
	}
	return 0;
}

static int forward_method(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	const char *s = json_string_value(v);
	if (!*s || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(s))
		return keys_reject(c, "\"%s\" is not an HTTP method (e.g. \"POST\", \"PUT\")", s);
	return keys_take_string(c, v, &((struct sb_component *)obj)->method);
}

static const struct field forwarder_extra_fields[] = {
	REQ("subscriptions", T_ARR, forward_subscriptions),
	FN("method", T_STR, forward_method),
	INT("expectedcode", struct sb_component, expected_code, 100, 599, 0),
	BOOL("debug", struct sb_component, debug, 0),
	INT("retry_delay", struct sb_component, retry_delay_ms, 1, 3600000, 1000),
	INT("retry_max_delay", struct sb_component, retry_max_delay_ms, 1, 86400000, 60000),
	INT("max_attempts", struct sb_component, max_attempts, 0, 1000000, 10),
	TIMEOUTS(10000),
	END,
};

/* ---- the component ------------------------------------------------------------ */

static int component_extra(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_component *comp = obj;
	return keys_parse_object(c, v, comp->type == SB_COMPONENT_REST_CALLEE
				 ? callee_extra_fields : forwarder_extra_fields, comp);
}

static int component_type(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	if (strcmp(json_string_value(v), "class") != 0)
		return keys_reject(c, "component type \"%s\" is not supported (only \"class\")",
				   json_string_value(v));
	return 0;
}

static int component_realm(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_take_string(c, v, &((struct sb_component *)obj)->realm);
}

static int component_role(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_take_string(c, v, &((struct sb_component *)obj)->role);
}

static int component_id(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_take_string(c, v, &((struct sb_component *)obj)->name);
}

/* The connecting transport Crossbar would use: checked for shape only; its
 * url tells which path's anonymous role the component gets. */
static const struct field connect_endpoint_fields[] = {
	F("type", T_STR), F("host", T_STR), F("port", T_INT | T_STR), F("path", T_STR),
	F("version", T_INT), F("timeout", T_INT), F("tls", T_OBJ | T_BOOL),
	END,
};

static int transport_url(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_take_string(c, v, &((struct sb_component *)obj)->transport_url);
}

static int transport_type(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	const char *s = json_string_value(v);
	if (strcmp(s, "websocket") && strcmp(s, "rawsocket"))
		return keys_reject(c, "unknown transport type \"%s\" (use \"websocket\")", s);
	return 0;
}

static const struct field connect_transport_fields[] = {
	REQ("type", T_STR, transport_type),
	SUBREQ("endpoint", connect_endpoint_fields),
	FN("url", T_STR, transport_url),
	F("serializers", T_ARR),
	F("options", T_OBJ),
	END,
};

#define COMPONENT_COMMON \
	REQ("type", T_STR, component_type), \
	F("classname", T_STR), \
	REQ("realm", T_STR, component_realm), \
	REQ("extra", T_OBJ, component_extra), \
	FN("id", T_STR, component_id)

static const struct field container_component_fields[] = {
	COMPONENT_COMMON,
	SUBREQ("transport", connect_transport_fields),
	END,
};

static const struct field router_component_fields[] = {
	COMPONENT_COMMON,
	FN("role", T_STR, component_role),
	END,
};

/* Finds the class before the other keys, since it decides what "extra"
 * may hold. */
static int component_class(struct ctx *c, json_t *o, struct sb_component *comp)
{
	json_t *name = json_object_get(o, "classname");
	if (!json_is_string(name)) {
		if (!name)
			return keys_reject(c, "missing required key \"classname\"");
		keys_push(c, "classname");
		return keys_reject(c, "expected a string");
	}
	for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
		if (!strcmp(classes[i].name, json_string_value(name))) {
			comp->type = classes[i].type;
			return 0;
		}
	}
	keys_push(c, "classname");
	return keys_reject(c, "component class \"%s\" is not supported: Switchboard runs "
			   "crossbar.bridge.rest.RESTCallee and MessageForwarder in-process; "
			   "run other components as WAMP clients", json_string_value(name));
}

/* A name that stays the same while the forwarder's config does: a
 * forwarder without an "id" keeps its cursor across restarts. */
static char *derived_name(const struct sb_component *comp)
{
	if (comp->type == SB_COMPONENT_REST_CALLEE)
		return xasprintf("restcallee-%s", comp->procedure);
	struct buf text = {0};             /* NUL separates the parts */
	buf_append(&text, comp->realm, strlen(comp->realm) + 1);
	buf_append(&text, comp->method, strlen(comp->method) + 1);
	for (size_t i = 0; i < comp->n_subscriptions; i++) {
		const struct sb_forward *fw = &comp->subscriptions[i];
		buf_appendf(&text, "%s%c%s%c%s%c", fw->topic, 0, uri_match_name(fw->match), 0,
			    fw->url, 0);
	}
	uint64_t h = hash_bytes(text.data, text.len);
	buf_free(&text);
	return xasprintf("forwarder-%016llx", (unsigned long long)h);
}

static int parse_component(struct ctx *c, json_t *o, bool in_router)
{
	struct sb_config *cfg = c->cfg;
	cfg->components = xrealloc(cfg->components, (cfg->n_components + 1) * sizeof *cfg->components);
	struct sb_component *comp = &cfg->components[cfg->n_components++];
	memset(comp, 0, sizeof *comp);
	comp->where = xstrdup(c->path);
	if (keys_expect_object(c, o) < 0 || component_class(c, o, comp) < 0)
		return -1;
	keys_defaults(comp->type == SB_COMPONENT_REST_CALLEE ? callee_extra_fields
			     : forwarder_extra_fields, comp);
	if (keys_parse_object(c, o, in_router ? router_component_fields
			      : container_component_fields, comp) < 0)
		return -1;
	if (!comp->method)
		comp->method = xstrdup("POST");
	if (!comp->name)
		comp->name = derived_name(comp);
	return 0;
}

static int components(struct ctx *c, json_t *v, bool in_router)
{
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		size_t mark = keys_push_index(c, i);
		if (parse_component(c, e, in_router) < 0)
			return -1;
		keys_pop(c, mark);
	}
	return 0;
}

int config_router_components(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return components(c, v, true);
}

int config_container_components(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return components(c, v, false);
}

/* ---- checks across objects ------------------------------------------------------ */

/* The anonymous role of the WebSocket path at port/path, or NULL. */
static const char *websocket_role(const struct sb_config *cfg, long port, const char *path)
{
	while (*path == '/')
		path++;
	for (size_t i = 0; i < cfg->n_transports; i++) {
		const struct sb_transport *t = &cfg->transports[i];
		if (t->endpoint.port != port)
			continue;
		for (size_t j = 0; j < t->n_paths; j++) {
			const struct sb_path *p = &t->paths[j];
			if (p->type == SB_PATH_WEBSOCKET &&
			    (t->type == SB_TRANSPORT_WEBSOCKET || !strcmp(p->name, path)))
				return p->role ? p->role : "anonymous";
		}
	}
	return NULL;
}

/* A container component gets the role its transport would have given it:
 * the anonymous role of the WebSocket path its url names. */
static const char *container_role(const struct sb_config *cfg, const char *url)
{
	CURLU *u = curl_url();
	char *port = NULL, *path = NULL;
	const char *role = NULL;
	if (url && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK) {
		long n = strncmp(url, "wss:", 4) ? 80 : 443;
		if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
			n = strtol(port, NULL, 10);
		role = websocket_role(cfg, n, path);
	}
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return role ? role : "anonymous";
}

static int check_permission(struct ctx *c, const struct sb_role *role,
			    const struct sb_component *comp, enum acl_action action,
			    const char *uri)
{
	if (role && role->authorizer)
		return keys_reject(c, "role \"%s\" of realm \"%s\" is decided by a dynamic "
				   "authorizer; give the component a role with static permissions",
				   comp->role, comp->realm);
	if (!role || acl_allows(role, action, uri))
		return 0;             /* NULL: the built-in "trusted" */
	return keys_reject(c, "role \"%s\" of realm \"%s\" may not %s \"%s\"; allow it in the "
			   "role's permissions", comp->role, comp->realm,
			   action == ACL_REGISTER ? "register" : "subscribe to", uri);
}

int config_check_components(struct ctx *c)
{
	struct sb_config *cfg = c->cfg;
	for (size_t i = 0; i < cfg->n_components; i++) {
		struct sb_component *comp = &cfg->components[i];
		if (!comp->role)
			comp->role = xstrdup(comp->transport_url
					     ? container_role(cfg, comp->transport_url) : "anonymous");
		keys_set_path(c, "%s", comp->where);
		size_t mark = keys_push(c, "realm");
		const struct sb_realm *realm = config_realm(cfg, comp->realm);
		if (!realm)
			return keys_reject(c, "unknown realm \"%s\"; define it under the router's "
					   "\"realms\"", comp->realm);
		keys_pop(c, mark);
		const struct sb_role *role = config_role(realm, comp->role);
		if (!role && strcmp(comp->role, "trusted") != 0)
			return keys_reject(c, "the component would join realm \"%s\" as role \"%s\", "
					   "which the realm does not define; add the role", comp->realm,
					   comp->role);
		keys_push(c, "extra");
		if (comp->type == SB_COMPONENT_REST_CALLEE) {
			keys_push(c, "procedure");
			if (check_permission(c, role, comp, ACL_REGISTER, comp->procedure) < 0)
				return -1;
			continue;
		}
		for (size_t j = 0; j < comp->n_subscriptions; j++) {
			keys_set_path(c, "%s.extra.subscriptions[%zu].topic", comp->where, j);
			if (check_permission(c, role, comp, ACL_SUBSCRIBE,
					     comp->subscriptions[j].topic) < 0)
				return -1;
		}
	}
	return 0;
}

void config_free_components(struct sb_config *cfg)
{
	for (size_t i = 0; i < cfg->n_components; i++) {
		struct sb_component *comp = &cfg->components[i];
		for (size_t j = 0; j < comp->n_subscriptions; j++) {
			free(comp->subscriptions[j].topic);
			free(comp->subscriptions[j].url);
		}
		free(comp->subscriptions);
		free(comp->name);
		free(comp->where);
		free(comp->realm);
		free(comp->role);
		free(comp->transport_url);
		free(comp->procedure);
		free(comp->baseurl);
		free(comp->method);
	}
	free(cfg->components);
	cfg->components = NULL;
	cfg->n_components = 0;
}
