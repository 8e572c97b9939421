/* config.c - config.json (Crossbar-shaped) -> struct sb_config.
 *
 * Owns: the embedded default config, the JSON reader, the table of every
 * object kind's keys (checked by config_keys.c: a key not in the table is
 * an error naming its path), the starred-URI rule for
 * permissions, path resolution against CBDIR, the referential checks that
 * span objects (realm/role names, ports) and the starter file `init` writes.
 * The json_t tree lives only inside config_parse().
 */
#include "config.h"

#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_keys.h"
#include "tls.h"
#include "util.h"

/* Pretty-printed; what `switchboard init` writes and what runs without a
 * config file.  Keep in step with interface.md "The embedded default". */
const char config_default_json[] =
	"{\n"
	"  \"version\": 2,\n"
	"  \"workers\": [{\n"
	"    \"type\": \"router\",\n"
	"    \"realms\": [{\"name\": \"realm1\", \"roles\": [{\"name\": \"anonymous\", \"permissions\": [\n"
	"      {\"uri\": \"\", \"match\": \"prefix\",\n"
	"       \"allow\": {\"call\": true, \"register\": true, \"publish\": true, \"subscribe\": true},\n"
	"       \"disclose\": {\"caller\": false, \"publisher\": false}, \"cache\": true}]}]}],\n"
	"    \"transports\": [{\n"
	"      \"type\": \"web\",\n"
	"      \"endpoint\": {\"type\": \"tcp\", \"interface\": \"127.0.0.1\", \"port\": 8080},\n"
	"      \"paths\": {\n"
	"        \"/\": {\"type\": \"static\"},\n"
	"        \"ws\": {\"type\": \"websocket\"},\n"
	"        \"publish\": {\"type\": \"publisher\", \"realm\": \"realm1\", \"role\": \"anonymous\"},\n"
	"        \"call\": {\"type\": \"caller\", \"realm\": \"realm1\", \"role\": \"anonymous\"},\n"
	"        \"sse\": {\"type\": \"eventsource\", \"realm\": \"realm1\", \"role\": \"anonymous\"},\n"
	"        \"info\": {\"type\": \"nodeinfo\"}\n"
	"      }\n"
	"    }]\n"
	"  }],\n"
	"  \"history\": {\"path\": \"switchboard.db\"}\n"
	"}\n";

/* ---- realms, roles, permissions ----------------------------------------- */

static int perm_uri(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_permission *p = obj;
	free(p->uri);
	p->uri = xstrdup(json_string_value(v));   /* "" is allowed */
	return 0;
}

static int perm_match(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_match(c, v, &((struct sb_permission *)obj)->match);
}

static const struct field allow_fields[] = {
	BOOL("call", struct sb_permission, allow_call, 0),
	BOOL("register", struct sb_permission, allow_register, 0),
	BOOL("publish", struct sb_permission, allow_publish, 0),
	BOOL("subscribe", struct sb_permission, allow_subscribe, 0),
	END,
};

static const struct field disclose_fields[] = {
	BOOL("caller", struct sb_permission, disclose_caller, 0),
	BOOL("publisher", struct sb_permission, disclose_publisher, 0),
	END,
};

static const struct field permission_fields[] = {
	REQ("uri", T_STR, perm_uri),
	FN("match", T_STR, perm_match),
	SUB("allow", allow_fields),
	SUB("disclose", disclose_fields),
	BOOL("cache", struct sb_permission, cache, 0),
	F("validate", T_OBJ),
	END,
};

/* Crossbar's starred URIs, used when a rule has no "match": no '*' is
 * exact; one trailing '*' is a prefix without it ("*" = everything);
 * any other '*' makes a wildcard with the stars removed. */
static void unstar(struct sb_permission *p)
{
	size_t stars = 0, len = strlen(p->uri);
	for (const char *s = p->uri; *s; s++)
		stars += *s == '*';
	if (stars == 0) {
		p->match = URI_EXACT;
	} else if (stars == 1 && p->uri[len - 1] == '*') {
		p->match = URI_PREFIX;
		p->uri[len - 1] = '\0';
	} else {
		p->match = URI_WILDCARD;
		char *w = p->uri;
		for (const char *r = p->uri; *r; r++)
			if (*r != '*')
				*w++ = *r;
		*w = '\0';
	}
}

static int permissions(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_role *role = obj;
	role->n_permissions = json_array_size(v);
	role->permissions = xcalloc(role->n_permissions, sizeof(*role->permissions));
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		struct sb_permission *p = &role->permissions[i];
		size_t mark = keys_push_index(c, i);
		if (keys_expect_object(c, e) < 0)
			return -1;
		keys_defaults(permission_fields, p);
		keys_defaults(allow_fields, p);
		keys_defaults(disclose_fields, p);
		if (keys_parse_object(c, e, permission_fields, p) < 0)
			return -1;
		bool starred = !json_object_get(e, "match");
		if (starred)
			unstar(p);
		if (!uri_pattern_is_valid(p->uri, p->match)) {
			keys_push(c, "uri");
			if (starred && !*p->uri)
				return keys_reject(c, "\"\" without \"match\" is an exact URI that matches "
					    "nothing; add \"match\": \"prefix\" to cover every URI");
			return keys_reject(c, "invalid URI pattern \"%s\" for match \"%s\"",
				    json_string_value(json_object_get(e, "uri")),
				    uri_match_name(p->match));
		}
		keys_pop(c, mark);
	}
	return 0;
}

static int role_name(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_take_string(c, v, &((struct sb_role *)obj)->name);
}

static int role_authorizer(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_role *role = obj;
	if (!uri_is_valid(json_string_value(v)))
		return keys_reject(c, "invalid procedure URI \"%s\"", json_string_value(v));
	return keys_take_string(c, v, &role->authorizer);
}

static const struct field role_fields[] = {
	REQ("name", T_STR, role_name),
	FN("permissions", T_ARR, permissions),
	FN("authorizer", T_STR, role_authorizer),
	END,
};

static int roles(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_realm *realm = obj;
	realm->n_roles = json_array_size(v);
	realm->roles = xcalloc(realm->n_roles, sizeof(*realm->roles));
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		size_t mark = keys_push_index(c, i);
		if (keys_expect_object(c, e) < 0 ||
		    keys_parse_object(c, e, role_fields, &realm->roles[i]) < 0)
			return -1;
		if (realm->roles[i].authorizer && json_object_get(e, "permissions"))
			return keys_reject(c, "a role has \"permissions\" or an \"authorizer\", not both");
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(realm->roles[j].name, realm->roles[i].name)) {
				keys_push(c, "name");
				return keys_reject(c, "duplicate role \"%s\" (also roles[%zu])",
					    realm->roles[i].name, j);
			}
		}
		keys_pop(c, mark);
	}
	return 0;
}

static int realm_name(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_take_string(c, v, &((struct sb_realm *)obj)->name);
}

static int uri_check(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	const char *s = json_string_value(v);
	if (strcmp(s, "loose") != 0 && strcmp(s, "strict") != 0)
		return keys_reject(c, "unknown value \"%s\" (use \"loose\" or \"strict\")", s);
	return 0;
}

static const struct field realm_options_fields[] = {
	FN("uri_check", T_STR, uri_check),
	F("event_dispatching_chunk_size", T_INT),
	F("enable_meta_api", T_BOOL),
	F("bridge_meta_api", T_BOOL),
	END,
};

static const struct field realm_fields[] = {
	REQ("name", T_STR, realm_name),
	FN("roles", T_ARR, roles),
	SUB("options", realm_options_fields),
	F("store", T_OBJ),         /* Crossbar's in-memory store; history replaces it */
	END,
};

static int realms(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_config *cfg = c->cfg;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		size_t mark = keys_push_index(c, i);
		if (keys_expect_object(c, e) < 0)
			return -1;
		size_t n = cfg->n_realms;
		cfg->realms = xrealloc(cfg->realms, (n + 1) * sizeof(*cfg->realms));
		c->realm_at = xrealloc(c->realm_at, (n + 1) * sizeof(*c->realm_at));
		memset(&cfg->realms[n], 0, sizeof(cfg->realms[n]));
		c->realm_at[n] = (struct where){c->worker, i};
		cfg->n_realms = n + 1;
		if (keys_parse_object(c, e, realm_fields, &cfg->realms[n]) < 0)
			return -1;
		for (size_t j = 0; j < n; j++) {
			if (!strcmp(cfg->realms[j].name, cfg->realms[n].name)) {
				keys_push(c, "name");
				return keys_reject(c, "duplicate realm \"%s\" (also workers[%zu].realms[%zu])",
					    cfg->realms[n].name, c->realm_at[j].worker,
					    c->realm_at[j].index);
			}
		}
		keys_pop(c, mark);
	}
	return 0;
}

/* ---- endpoints ---------------------------------------------------------- */

static int endpoint_type(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	const char *s = json_string_value(v);
	if (strcmp(s, "tcp") != 0)
		return keys_reject(c, "endpoint type \"%s\" is not supported (only \"tcp\")", s);
	return 0;
}

static int port_number(struct ctx *c, long long n)
{
	if (n < 1 || n > 65535)
		return keys_reject(c, "port %lld is out of range (1..65535)", n);
	return 0;
}

/* An integer, or "$VAR" read from the environment (as Crossbar). */
static int endpoint_port(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_endpoint *ep = obj;
	if (json_is_integer(v)) {
		if (port_number(c, json_integer_value(v)) < 0)
			return -1;
		ep->port = (int)json_integer_value(v);
		return 0;
	}
	const char *s = json_string_value(v);
	if (s[0] != '$' || !s[1])
		return keys_reject(c, "expected an integer 1..65535 or \"$VAR\" (an environment "
			    "variable), not \"%s\"", s);
	/* "$VAR" or "${VAR}" */
	size_t len = strlen(s + 1);
	char *name = s[1] == '{' && len > 2 && s[len] == '}' ? xstrndup(s + 2, len - 2)
							     : xstrdup(s + 1);
	const char *val = getenv(name);
	if (!val) {
		keys_reject(c, "environment variable %s is not set", name);
		free(name);
		return -1;
	}
	free(name);
	char *end;
	errno = 0;
	long long n = strtoll(val, &end, 10);
	if (errno || end == val || *end)
		return keys_reject(c, "%s is \"%s\" in the environment, not a port number", s, val);
	if (port_number(c, n) < 0)
		return -1;
	ep->port = (int)n;
	return 0;
}

static int endpoint_interface(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_endpoint *ep = obj;
	if (ep->interface)
		return keys_reject(c, "give either \"interface\" or \"host\", not both");
	return keys_take_string(c, v, &ep->interface);
}

static int endpoint_version(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	json_int_t n = json_integer_value(v);
	if (n != 4 && n != 6)
		return keys_reject(c, "must be 4 or 6, not %lld", (long long)n);
	return 0;
}

/* A file of the tls object (key, certificate, dhparam): resolved against
 * the config's directory into the char * at f->off. */
static int tls_file(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	char **dst = (char **)((char *)obj + f->off);
	if (!*json_string_value(v))
		return keys_reject(c, "must not be empty");
	free(*dst);
	*dst = keys_resolve(c, json_string_value(v));
	return 0;
}

/* A list of files (chain_certificates, ca_certificates), each resolved. */
static int take_files(struct ctx *c, json_t *v, char ***list, size_t *n)
{
	if (keys_string_array(c, v, NULL) < 0)
		return -1;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		if (!*json_string_value(e)) {
			keys_push_index(c, i);
			return keys_reject(c, "must not be empty");
		}
		*list = xrealloc(*list, (*n + 1) * sizeof(**list));
		(*list)[(*n)++] = keys_resolve(c, json_string_value(e));
	}
	return 0;
}

static int tls_chain(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_tls *tls = obj;
	return take_files(c, v, &tls->chain_certificates, &tls->n_chain_certificates);
}

static int tls_ca(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_tls *tls = obj;
	return take_files(c, v, &tls->ca_certificates, &tls->n_ca_certificates);
}

static int tls_ciphers(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_take_string(c, v, &((struct sb_tls *)obj)->ciphers);
}

#define TLS_FILE(k, m, req) {.key = (k), .types = T_STR, .fn = tls_file, .required = (req), \
			     .off = offsetof(struct sb_tls, m)}

static const struct field tls_fields[] = {
	TLS_FILE("key", key, true),
	TLS_FILE("certificate", certificate, true),
	FN("chain_certificates", T_ARR, tls_chain),
	TLS_FILE("dhparam", dhparam, false),
	FN("ciphers", T_STR, tls_ciphers),
	FN("ca_certificates", T_ARR, tls_ca),
	END,
};

/* Listening TLS: the files are read and checked now, so `check` and
 * start-up fail on a missing file or a key that is not the
 * certificate's, naming the key. */
static int endpoint_tls(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_endpoint *ep = obj;
	ep->tls = xcalloc(1, sizeof(*ep->tls));
	if (keys_parse_object(c, v, tls_fields, ep->tls) < 0)
		return -1;
	char msg[512], where[64];
	if (tls_check(ep->tls, msg, sizeof(msg), where, sizeof(where)) == 0)
		return 0;
	const char *bracket = strchr(where, '[');    /* "chain_certificates[1]" */
	if (bracket) {
		where[bracket - where] = '\0';
		keys_push(c, where);
		keys_push_index(c, strtoul(bracket + 1, NULL, 10));
	} else {
		keys_push(c, where);
	}
	return keys_reject(c, "%s", msg);
}

static int endpoint_portrange(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_reject(c, "\"portrange\" is not supported yet; give one \"port\"");
}

static const struct field endpoint_fields[] = {
	REQ("type", T_STR, endpoint_type),
	REQ("port", T_INT | T_STR, endpoint_port),
	FN("interface", T_STR, endpoint_interface),
	FN("host", T_STR, endpoint_interface),  /* alias, as interface.md allows */
	FN("version", T_INT, endpoint_version),
	INT("backlog", struct sb_endpoint, backlog, 1, 65535, 1024),
	F("shared", T_BOOL),
	F("user_timeout", T_INT),
	FN("tls", T_OBJ, endpoint_tls),
	FN("portrange", T_ARR, endpoint_portrange),
	END,
};

static int transport_endpoint(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_parse_object(c, v, endpoint_fields, &((struct sb_transport *)obj)->endpoint);
}

/* ---- websocket (path or transport) ------------------------------------- */

static const char *const serializer_names[] = {
	"json", "msgpack", "cbor", "ubjson", "flatbuffers", NULL,
};

static int ws_serializers(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_string_array(c, v, serializer_names);
}

/* Origins a browser may open WebSockets from: exact, or with * patterns. */
static int ws_allowed_origins(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_path *p = obj;
	if (keys_string_array(c, v, NULL) < 0)
		return -1;
	for (size_t i = 0; i < p->n_allowed_origins; i++)
		free(p->allowed_origins[i]);
	free(p->allowed_origins);
	p->n_allowed_origins = json_array_size(v);
	p->allowed_origins = xcalloc(p->n_allowed_origins + 1, sizeof(char *));
	for (size_t i = 0; i < p->n_allowed_origins; i++)
		p->allowed_origins[i] = xstrdup(json_string_value(json_array_get(v, i)));
	return 0;
}

static const struct field ws_options_fields[] = {
	FN("allowed_origins", T_ARR, ws_allowed_origins),
	BOOL("allow_null_origin", struct sb_path, allow_null_origin, 0),
	INT("auth_failure_delay", struct sb_path, auth_failure_delay_ms, 0, 600000, 500),
	INT("auth_failure_delay_max", struct sb_path, auth_failure_delay_max_ms, 0, 3600000, 10000),
	F("external_port", T_INT),
	F("enable_hybi10", T_BOOL),
	F("enable_rfc6455", T_BOOL),
	F("open_handshake_timeout", T_INT),
	F("close_handshake_timeout", T_INT),
	F("enable_webstatus", T_BOOL),
	F("validate_utf8", T_BOOL),
	F("mask_server_frames", T_BOOL),
	F("require_masked_client_frames", T_BOOL),
	F("apply_mask", T_BOOL),
	F("max_frame_size", T_INT),
	SIZE("max_message_size", struct sb_path, max_message_size, 1, 64 * MIB, 1048576),
	F("auto_fragment_size", T_INT),
	F("fail_by_drop", T_BOOL),
	F("echo_close_codereason", T_BOOL),
	F("tcp_nodelay", T_BOOL),
	INT("auto_ping_interval", struct sb_path, auto_ping_interval_ms, 0, 3600000, 30000),
	INT("auto_ping_timeout", struct sb_path, auto_ping_timeout_ms, 0, 3600000, 10000),
	SIZE("queue_limit", struct sb_path, queue_limit, 1, 1000000, 1024),
	F("auto_ping_size", T_INT),
	F("auto_ping_restart_on_any_traffic", T_BOOL),
	F("enable_flash_policy", T_BOOL),
	F("flash_policy", T_STR),
	F("compression", T_OBJ),
	F("require_websocket_subprotocol", T_BOOL),
	F("show_server_version", T_BOOL),
	END,
};

/* ---- web paths ---------------------------------------------------------- */

static int path_realm(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_take_string(c, v, &((struct sb_path *)obj)->realm);
}

static int path_role(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_take_string(c, v, &((struct sb_path *)obj)->role);
}

static int static_directory(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_path *p = obj;
	if (!*json_string_value(v))
		return keys_reject(c, "must not be empty");
	free(p->directory);
	p->directory = keys_resolve(c, json_string_value(v));
	return 0;
}

static int static_package(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_reject(c, "static files from a Python package are not supported; "
		    "give a \"directory\"");
}

static int mime_types(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	const char *key;
	json_t *e;
	json_object_foreach(v, key, e) {
		size_t mark = keys_push(c, key);
		if (!json_is_string(e))
			return keys_reject(c, "expected a string");
		keys_pop(c, mark);
	}
	return 0;
}

/* Crossbar's cache_timeout: seconds of max-age, or null for no header.
 * Without it files are revalidated (our default, so edits show at once). */
static int cache_timeout(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	if (json_is_null(v)) {
		((struct sb_path *)obj)->cache_timeout_s = -2;
		return 0;
	}
	return keys_store(c, v, obj, f);
}

static const struct field static_options_fields[] = {
	BOOL("enable_directory_listing", struct sb_path, directory_listing, 0),
	FN("mime_types", T_OBJ, mime_types),
	STORE_FN("cache_timeout", T_INT | T_NULL, cache_timeout, S_INT, struct sb_path,
		 cache_timeout_s, 0, 10 * 365 * 86400, -1),
	F("default_file", T_STR),
	END,
};

/* Crossbar's 0 means unlimited; we keep a hard cap, so 0 becomes the cap
 * (and the struct never holds 0). */
static int body_limit(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_path *p = obj;
	if (keys_store(c, v, obj, f) < 0)
		return -1;
	if (p->post_body_limit == 0)
		p->post_body_limit = (size_t)f->max;
	return 0;
}

#define BODY_LIMIT STORE_FN("post_body_limit", T_INT, body_limit, S_SIZE, struct sb_path, \
			    post_body_limit, 0, 64 * MIB, 65536)

static int path_string(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_path *p = obj;
	char **dst = !strcmp(f->key, "key") ? &p->key
		   : !strcmp(f->key, "secret") ? &p->secret
		   : !strcmp(f->key, "github_secret") ? &p->github_secret
		   : !strcmp(f->key, "success_response") ? &p->success_response
		   : &p->error_response;
	bool is_reply = dst == &p->success_response || dst == &p->error_response;
	if (!is_reply)
		return keys_take_secret(c, v, dst);   /* key, secret, github_secret */
	free(*dst);
	*dst = xstrdup(json_string_value(v));     /* "" is a fine reply */
	return 0;
}

/* "10.0.0.0/8", "::1", "192.168.1.0/255.255.255.0" -> *out; 0 or -1. */
static int parse_cidr(const char *text, struct sb_cidr *out)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t len = slash ? (size_t)(slash - text) : strlen(text);
	if (len >= sizeof addr)
		return -1;
	memcpy(addr, text, len);
	addr[len] = '\0';
	memset(out, 0, sizeof *out);
	out->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	int bits = out->family == AF_INET ? 32 : 128;
	if (inet_pton(out->family, addr, out->addr) != 1)
		return -1;
	out->prefix = bits;
	if (slash) {
		unsigned char mask[16];
		char *end;
		long n = strtol(slash + 1, &end, 10);
		if (out->family == AF_INET && inet_pton(AF_INET, slash + 1, mask) == 1) {
			uint32_t m = ntohl(*(uint32_t *)mask);   /* a netmask: contiguous ones */
			if (m & (~m >> 1))
				return -1;
			n = __builtin_popcount(m);
		} else if (!slash[1] || *end || n < 0 || n > bits) {
			return -1;
		}
		out->prefix = (int)n;
	}
	for (int i = out->prefix; i < bits; i++)       /* store the network */
		out->addr[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
	return 0;
}

static int require_ip(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_path *p = obj;
	json_t *list = json_is_string(v) ? json_pack("[O]", v) : json_incref(v);
	int rc = keys_string_array(c, list, NULL);
	free(p->require_ip);
	p->n_require_ip = json_array_size(list);
	p->require_ip = xcalloc(p->n_require_ip ? p->n_require_ip : 1, sizeof *p->require_ip);
	for (size_t i = 0; rc == 0 && i < p->n_require_ip; i++) {
		const char *text = json_string_value(json_array_get(list, i));
		if (parse_cidr(text, &p->require_ip[i]) < 0) {
			keys_push_index(c, i);
			rc = keys_reject(c, "\"%s\" is not an IP address or network (e.g. \"127.0.0.1\", "
				    "\"10.0.0.0/8\", \"::1\")", text);
		}
	}
	json_decref(list);
	return rc;
}

static const struct field bridge_options_fields[] = {
	BODY_LIMIT,
	INT("timestamp_delta_limit", struct sb_path, timestamp_delta_limit_s, 0, 86400, 300),
	FN("require_ip", T_ARR | T_STR, require_ip),
	BOOL("require_tls", struct sb_path, require_tls, 0),
	F("debug", T_BOOL),
	FN("key", T_STR, path_string),
	FN("secret", T_STR, path_string),
	END,
};

static int allowed_origins(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_cors *cors = &((struct sb_path *)obj)->cors;
	for (size_t i = 0; i < cors->n_allowed_origins; i++)
		free(cors->allowed_origins[i]);
	free(cors->allowed_origins);
	cors->allowed_origins = NULL;
	cors->n_allowed_origins = 0;
	if (json_is_string(v)) {
		if (strcmp(json_string_value(v), "*") != 0)
			return keys_reject(c, "expected \"*\" or an array of origins");
		cors->allowed_origins = xcalloc(1, sizeof(char *));
		cors->allowed_origins[0] = xstrdup("*");
		cors->n_allowed_origins = 1;
		return 0;
	}
	if (keys_string_array(c, v, NULL) < 0)
		return -1;
	size_t n = json_array_size(v);
	cors->allowed_origins = xcalloc(n, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		cors->allowed_origins[i] = xstrdup(json_string_value(json_array_get(v, i)));
	cors->n_allowed_origins = n;
	return 0;
}

/* Where an event stream's token may come from besides Authorization. */
static int token_place(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_path *p = obj;
	return keys_take_string(c, v, !strcmp(f->key, "token_cookie") ? &p->token_cookie
							       : &p->token_query);
}

static const struct field eventsource_options_fields[] = {
	STORE("heartbeat", T_NUM, S_INT, struct sb_path, heartbeat_s, 1, 86400, 15),
	INT("retry", struct sb_path, retry_ms, 0, 86400000, 3000),
	SIZE("queue_limit", struct sb_path, queue_limit, 1, 1000000, 1024),
	FN("allowed_origins", T_ARR | T_STR, allowed_origins),
	FN("token_cookie", T_STR, token_place),
	FN("token_query", T_STR, token_place),
	END,
};

static int webhook_topic(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_path *p = obj;
	const char *s = json_string_value(v);
	if (!uri_is_valid(s))
		return keys_reject(c, "invalid topic URI \"%s\"", s);
	free(p->webhook_topic);
	p->webhook_topic = xstrdup(s);
	return 0;
}

static const struct field webhook_options_fields[] = {
	REQ("topic", T_STR, webhook_topic),
	FN("success_response", T_STR, path_string),
	FN("error_response", T_STR, path_string),
	FN("github_secret", T_STR, path_string),
	BODY_LIMIT,
	F("debug", T_BOOL),
	END,
};

static const struct field static_fields[] = {
	F("id", T_STR), F("type", T_STR),
	FN("directory", T_STR, static_directory),
	FN("package", T_STR, static_package),
	FN("resource", T_STR, static_package),
	SUB("options", static_options_fields),
	END,
};

static const struct field websocket_path_fields[] = {
	F("id", T_STR), F("type", T_STR),
	F("url", T_STR),
	FN("serializers", T_ARR, ws_serializers),
	F("cookie", T_OBJ),
	FN("auth", T_OBJ, config_path_auth),
	SUB("options", ws_options_fields),
	F("debug", T_BOOL),
	END,
};

static const struct field bridge_fields[] = {     /* publisher, caller */
	F("id", T_STR), F("type", T_STR),
	REQ("realm", T_STR, path_realm),
	REQ("role", T_STR, path_role),
	SUB("options", bridge_options_fields),
	END,
};

static const struct field eventsource_fields[] = {
	F("id", T_STR), F("type", T_STR),
	REQ("realm", T_STR, path_realm),
	REQ("role", T_STR, path_role),
	FN("auth", T_OBJ, config_path_auth),
	SUB("options", eventsource_options_fields),
	END,
};

static const struct field nodeinfo_fields[] = {
	F("id", T_STR), F("type", T_STR),
	END,
};

static const struct field webhook_fields[] = {
	F("id", T_STR), F("type", T_STR),
	REQ("realm", T_STR, path_realm),
	REQ("role", T_STR, path_role),
	SUBREQ("options", webhook_options_fields),
	END,
};

static const struct path_kind {
	const char *name;
	enum sb_path_type type;
	const struct field *fields;
	const struct field *options;   /* whose defaults apply */
} path_kinds[] = {
	{"static", SB_PATH_STATIC, static_fields, static_options_fields},
	{"websocket", SB_PATH_WEBSOCKET, websocket_path_fields, ws_options_fields},
	{"publisher", SB_PATH_PUBLISHER, bridge_fields, bridge_options_fields},
	{"caller", SB_PATH_CALLER, bridge_fields, bridge_options_fields},
	{"eventsource", SB_PATH_EVENTSOURCE, eventsource_fields, eventsource_options_fields},
	{"nodeinfo", SB_PATH_NODEINFO, nodeinfo_fields, NULL},
	{"webhook", SB_PATH_WEBHOOK, webhook_fields, webhook_options_fields},
};

static bool valid_path_name(const char *s)
{
	if (!strcmp(s, "/"))
		return true;
	if (!*s)
		return false;
	for (; *s; s++)
		if (!(*s == '_' || *s == '-' || (*s >= '0' && *s <= '9') ||
		      (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			return false;
	return true;
}

static int parse_path(struct ctx *c, json_t *o, struct sb_path *p)
{
	const char *type;
	if (keys_expect_object(c, o) < 0 || keys_get_type(c, o, &type) < 0)
		return -1;
	const struct path_kind *k = NULL;
	for (size_t i = 0; i < sizeof(path_kinds) / sizeof(path_kinds[0]); i++)
		if (!strcmp(path_kinds[i].name, type))
			k = &path_kinds[i];
	if (!k) {
		keys_push(c, "type");
		return keys_reject(c, "path type \"%s\" is not supported (use static, websocket, "
			    "publisher, caller, eventsource, nodeinfo or webhook)", type);
	}
	p->type = k->type;
	if (k->options)
		keys_defaults(k->options, p);
	if (k->type == SB_PATH_EVENTSOURCE) {
		p->cors.allowed_origins = xcalloc(1, sizeof(char *));
		p->cors.allowed_origins[0] = xstrdup("*");
		p->cors.n_allowed_origins = 1;
	}
	return keys_parse_object(c, o, k->fields, p);
}

static int web_paths(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_transport *t = obj;
	t->n_paths = json_object_size(v);
	t->paths = xcalloc(t->n_paths, sizeof(*t->paths));
	size_t i = 0;
	const char *key;
	json_t *e;
	json_object_foreach(v, key, e) {
		if (!valid_path_name(key))
			return keys_reject(c, "invalid path name \"%s\" (one segment of letters, digits, "
				    "'_' or '-', or \"/\"; nested paths are not supported)", key);
		struct sb_path *p = &t->paths[i++];
		p->name = xstrdup(key);
		size_t mark = keys_push(c, key);
		if (parse_path(c, e, p) < 0)
			return -1;
		keys_pop(c, mark);
	}
	return 0;
}

/* ---- transports --------------------------------------------------------- */

static const struct field web_options_fields[] = {
	BOOL("access_log", struct sb_transport, access_log, 0),
	F("display_tracebacks", T_BOOL),
	BOOL("hsts", struct sb_transport, hsts, 0),
	INT("hsts_max_age", struct sb_transport, hsts_max_age_s, 0, 1000000000, 31536000),
	INT("client_timeout", struct sb_transport, client_timeout_s, 1, 86400, 60),
	SIZE("max_connections", struct sb_transport, max_connections, 1, 1000000, 20000),
	SIZE("connection_memory", struct sb_transport, connection_memory, 2048, 16 * MIB, 8192),
	BOOL("http2", struct sb_transport, http2, 0),
	END,
};

static const struct field web_fields[] = {
	F("id", T_STR), F("type", T_STR),
	REQ("endpoint", T_OBJ, transport_endpoint),
	REQ("paths", T_OBJ, web_paths),
	SUB("options", web_options_fields),
	END,
};

/* A websocket transport is stored as a transport with one websocket path
 * "/"; its path-level keys are parsed into that path. */
static int wst_options(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_parse_object(c, v, ws_options_fields, &((struct sb_transport *)obj)->paths[0]);
}

static int wst_auth(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return config_path_auth(c, v, &((struct sb_transport *)obj)->paths[0], f);
}

static const struct field websocket_transport_fields[] = {
	F("id", T_STR), F("type", T_STR),
	REQ("endpoint", T_OBJ, transport_endpoint),
	F("url", T_STR),
	FN("serializers", T_ARR, ws_serializers),
	F("debug", T_BOOL),
	FN("options", T_OBJ, wst_options),
	FN("auth", T_OBJ, wst_auth),
	F("cookie", T_OBJ),
	END,
};

static int transports(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_config *cfg = c->cfg;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		size_t mark = keys_push_index(c, i);
		const char *type;
		if (keys_expect_object(c, e) < 0 || keys_get_type(c, e, &type) < 0)
			return -1;
		bool web = !strcmp(type, "web");
		if (!web && strcmp(type, "websocket") != 0) {
			keys_push(c, "type");
			return keys_reject(c, "transport type \"%s\" is not supported (use \"web\" or "
				    "\"websocket\")", type);
		}
		size_t n = cfg->n_transports;
		cfg->transports = xrealloc(cfg->transports, (n + 1) * sizeof(*cfg->transports));
		c->transport_at = xrealloc(c->transport_at, (n + 1) * sizeof(*c->transport_at));
		struct sb_transport *t = &cfg->transports[n];
		memset(t, 0, sizeof(*t));
		c->transport_at[n] = (struct where){c->worker, i};
		cfg->n_transports = n + 1;
		keys_defaults(endpoint_fields, &t->endpoint);
		keys_defaults(web_options_fields, t);
		if (web) {
			t->type = SB_TRANSPORT_WEB;
			if (keys_parse_object(c, e, web_fields, t) < 0)
				return -1;
		} else {
			t->type = SB_TRANSPORT_WEBSOCKET;
			t->n_paths = 1;
			t->paths = xcalloc(1, sizeof(*t->paths));
			t->paths[0].name = xstrdup("/");
			t->paths[0].type = SB_PATH_WEBSOCKET;
			keys_defaults(ws_options_fields, &t->paths[0]);
			if (keys_parse_object(c, e, websocket_transport_fields, t) < 0)
				return -1;
		}
		keys_pop(c, mark);
	}
	return 0;
}

/* ---- workers ------------------------------------------------------------ */

/* Worker options: Python process settings, accepted and ignored. */
#define WORKER_OPTIONS \
	F("title", T_STR), F("python", T_STR), F("pythonpath", T_ARR), \
	F("cpu_affinity", T_ARR), F("env", T_OBJ), F("expose_controller", T_BOOL), \
	F("expose_shared", T_BOOL), F("disabled", T_BOOL), F("extra", T_ANY)

static const struct field worker_options_fields[] = {
	WORKER_OPTIONS,
	END,
};

static int router_connections(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	if (json_array_size(v) > 0)
		return keys_reject(c, "router connections (to other routers) are not supported; "
			    "remove them or leave the array empty");
	return 0;
}

static const struct field router_fields[] = {
	F("id", T_STR), F("type", T_STR),
	SUB("options", worker_options_fields),
	F("manhole", T_OBJ),
	FN("realms", T_ARR, realms),
	FN("transports", T_ARR, transports),
	FN("components", T_ARR, config_router_components),
	FN("connections", T_ARR, router_connections),
	END,
};

/* Crossbar's container worker: a process of its own there, in-process here. */
static const struct field container_options_fields[] = {
	WORKER_OPTIONS,
	F("shutdown", T_STR),
	F("restart", T_STR),
	END,
};

static const struct field container_fields[] = {
	F("id", T_STR), F("type", T_STR),
	SUB("options", container_options_fields),
	F("manhole", T_OBJ),
	FN("components", T_ARR, config_container_components),
	FN("connections", T_ARR, router_connections),
	END,
};

static int workers(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		size_t mark = keys_push_index(c, i);
		const char *type;
		if (keys_expect_object(c, e) < 0 || keys_get_type(c, e, &type) < 0)
			return -1;
		const struct field *fields = !strcmp(type, "router") ? router_fields
					   : !strcmp(type, "container") ? container_fields : NULL;
		if (!fields) {
			keys_push(c, "type");
			return keys_reject(c, "worker type \"%s\" is not supported (use \"router\", or "
				    "\"container\" for RESTCallee and MessageForwarder)", type);
		}
		c->worker = i;
		if (keys_parse_object(c, e, fields, NULL) < 0)
			return -1;
		keys_pop(c, mark);
	}
	return 0;
}

/* ---- history ------------------------------------------------------------ */

static int history_path(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_history *h = obj;
	if (!*json_string_value(v))
		return keys_reject(c, "must not be empty");
	free(h->path);
	h->path = keys_resolve(c, json_string_value(v));
	return 0;
}

static int history_sync(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	const char *s = json_string_value(v);
	if (!strcmp(s, "normal"))
		((struct sb_history *)obj)->sync_full = false;
	else if (!strcmp(s, "full"))
		((struct sb_history *)obj)->sync_full = true;
	else
		return keys_reject(c, "unknown value \"%s\" (use \"normal\" or \"full\")", s);
	return 0;
}

static int rule_uri(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_retention *r = obj;
	free(r->uri);
	r->uri = xstrdup(json_string_value(v));
	return 0;
}

static int rule_match(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_match(c, v, &((struct sb_retention *)obj)->match);
}

/* A rule that leaves out a limit gets the default one, not "unlimited":
 * write 0 to lift it. */
static const struct field retention_fields[] = {
	REQ("uri", T_STR, rule_uri),
	FN("match", T_STR, rule_match),
	LONG("max_events", struct sb_retention, max_events, 0, 1000000000, 1000),
	LONG("max_age", struct sb_retention, max_age_s, 0, 100LL * 366 * 86400, 86400),
	END,
};

static void free_rules(struct sb_history *h)
{
	for (size_t i = 0; i < h->n_rules; i++)
		free(h->rules[i].uri);
	free(h->rules);
	h->rules = NULL;
	h->n_rules = 0;
}

static int retention(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	struct sb_history *h = obj;
	free_rules(h);
	h->n_rules = json_array_size(v);
	h->rules = xcalloc(h->n_rules, sizeof(*h->rules));
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		struct sb_retention *r = &h->rules[i];
		size_t mark = keys_push_index(c, i);
		if (keys_expect_object(c, e) < 0)
			return -1;
		keys_defaults(retention_fields, r);
		r->match = URI_PREFIX;
		if (keys_parse_object(c, e, retention_fields, r) < 0)
			return -1;
		if (!uri_pattern_is_valid(r->uri, r->match)) {
			keys_push(c, "uri");
			return keys_reject(c, "invalid URI pattern \"%s\" for match \"%s\"", r->uri,
				    uri_match_name(r->match));
		}
		keys_pop(c, mark);
	}
	return 0;
}

static const struct field history_fields[] = {
	FN("path", T_STR, history_path),
	FN("sync", T_STR, history_sync),
	FN("retention", T_ARR, retention),
	END,
};

static int history(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	return keys_parse_object(c, v, history_fields, &c->cfg->history);
}

static void history_defaults(struct ctx *c)
{
	struct sb_history *h = &c->cfg->history;
	h->path = keys_resolve(c, "switchboard.db");
	h->sync_full = false;
	h->n_rules = 1;
	h->rules = xcalloc(1, sizeof(*h->rules));
	keys_defaults(retention_fields, &h->rules[0]);
	h->rules[0].uri = xstrdup("");
	h->rules[0].match = URI_PREFIX;
}

/* ---- top level ---------------------------------------------------------- */

static int version(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	json_int_t n = json_integer_value(v);
	if (n != 2)
		return keys_reject(c, "config version %lld is not supported (only 2, the current "
			    "Crossbar format)", (long long)n);
	return 0;
}

static const struct field top_fields[] = {
	F("$schema", T_STR),
	FN("version", T_INT, version),
	F("controller", T_OBJ),    /* Crossbar's node controller: ignored */
	REQ("workers", T_ARR, workers),
	FN("history", T_OBJ, history),
	END,
};

static const char *all_interfaces(const char *iface)
{
	if (!iface || !strcmp(iface, "0.0.0.0") || !strcmp(iface, "::"))
		return NULL;
	return iface;
}

/* Checks that span objects: path realms/roles, ports, a listener at all. */
static int cross_check(struct ctx *c)
{
	struct sb_config *cfg = c->cfg;
	if (cfg->n_transports == 0) {
		keys_set_path(c, "workers");
		return keys_reject(c, "no router worker with a transport; add a \"web\" transport "
			    "(`switchboard init` writes an example)");
	}
	for (size_t i = 0; i < cfg->n_transports; i++) {
		const struct sb_transport *t = &cfg->transports[i];
		const struct where *w = &c->transport_at[i];
		for (size_t j = 0; j < t->n_paths; j++) {
			const struct sb_path *p = &t->paths[j];
			if (!p->realm)
				continue;
			keys_set_path(c, "workers[%zu].transports[%zu].paths", w->worker, w->index);
			keys_push(c, p->name);
			if (!p->key != !p->secret) {
				keys_push(c, "options");
				return keys_reject(c, "signed requests need both \"key\" and \"secret\"");
			}
			size_t mark = keys_push(c, "realm");
			const struct sb_realm *realm = config_realm(cfg, p->realm);
			if (!realm)
				return keys_reject(c, "unknown realm \"%s\"; define it under the "
					    "router's \"realms\"", p->realm);
			keys_pop(c, mark);
			keys_push(c, "role");
			if (!config_role(realm, p->role))
				return keys_reject(c, "role \"%s\" is not defined in realm \"%s\" (there is "
					    "no built-in role; add it to the realm's \"roles\")",
					    p->role, p->realm);
		}
		if (t->http2 && !t->endpoint.tls) {
			keys_set_path(c, "workers[%zu].transports[%zu].options.http2", w->worker, w->index);
			return keys_reject(c, "HTTP/2 needs TLS (browsers speak it only over TLS): add "
				    "\"tls\" to the endpoint or remove \"http2\"");
		}
		for (size_t j = 0; j < i; j++) {
			const struct sb_transport *o = &cfg->transports[j];
			if (o->endpoint.port != t->endpoint.port)
				continue;
			const char *a = all_interfaces(t->endpoint.interface);
			const char *b = all_interfaces(o->endpoint.interface);
			/* lws tells its TLS vhosts apart by port number alone */
			if (a && b && strcmp(a, b) != 0 && !(t->endpoint.tls && o->endpoint.tls))
				continue;
			keys_set_path(c, "workers[%zu].transports[%zu].endpoint.port", w->worker, w->index);
			return keys_reject(c, "port %d on %s is already used by workers[%zu].transports[%zu]; "
				    "give each transport its own port", t->endpoint.port,
				    a ? a : b ? b : "all interfaces",
				    c->transport_at[j].worker, c->transport_at[j].index);
		}
	}
	return 0;
}

/* Absolute form of dir (which may be relative to the working directory). */
static char *absolute_dir(const char *dir)
{
	if (dir[0] == '/')
		return xstrdup(dir);
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	while (dir[0] == '.' && dir[1] == '/')
		dir += 2;
	if (!*dir || !strcmp(dir, "."))
		return xstrdup(cwd);
	return xasprintf("%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "", dir);
}

int config_parse(struct sb_config *cfg, const char *json_text,
		 const char *source, const char *cbdir, char *err, size_t errlen)
{
	struct ctx c = {
		.cfg = cfg,
		.source = source ? source : "config",
		.err = err,
		.errlen = errlen,
	};
	memset(cfg, 0, sizeof(*cfg));
	if (err && errlen)
		err[0] = '\0';

	json_error_t jerr;
	json_t *root = json_loads(json_text, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		keys_reject(&c, "line %d, column %d: invalid JSON: %s", jerr.line, jerr.column, jerr.text);
		return -1;
	}
	cfg->source = xstrdup(c.source);
	cfg->cbdir = absolute_dir(cbdir && *cbdir ? cbdir : ".");
	if (!cfg->cbdir) {
		keys_reject(&c, "cannot resolve the config directory: %s", strerror(errno));
		goto fail;
	}
	if (keys_expect_object(&c, root) < 0)
		goto fail;
	history_defaults(&c);
	if (keys_parse_object(&c, root, top_fields, NULL) < 0 || cross_check(&c) < 0 ||
	    config_check_components(&c) < 0)
		goto fail;
	json_decref(root);
	free(c.realm_at);
	free(c.transport_at);
	return 0;
fail:
	json_decref(root);
	free(c.realm_at);
	free(c.transport_at);
	config_free(cfg);
	return -1;
}

int config_load_file(struct sb_config *cfg, const char *path, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	struct buf b = {0};
	if (buf_read_file(&b, path) < 0) {
		snprintf(err, errlen, "%s: cannot %s: %s", path, b.len ? "read" : "open",
			 strerror(errno));
		buf_free(&b);
		return -1;
	}
	buf_append(&b, "", 1);     /* NUL-terminate */
	if (memchr(b.data, '\0', b.len - 1)) {
		snprintf(err, errlen, "%s: invalid JSON: the file contains a NUL byte", path);
		buf_free(&b);
		return -1;
	}

	const char *slash = strrchr(path, '/');
	char *dir = slash ? (slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path)))
			  : xstrdup(".");
	int rc = config_parse(cfg, b.data, path, dir, err, errlen);
	free(dir);
	buf_free(&b);
	return rc;
}

int config_load_default(struct sb_config *cfg, char *err, size_t errlen)
{
	return config_parse(cfg, config_default_json, "(default)", ".", err, errlen);
}

/* mkdir -p */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
	char *p = xstrdup(dir);
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char saved = *s;
		*s = '\0';
		struct stat st;
		if (mkdir(p, 0755) < 0 && !(errno == EEXIST && stat(p, &st) == 0 &&
					     S_ISDIR(st.st_mode))) {
			snprintf(err, errlen, "%s: cannot create directory: %s", p,
				 errno == EEXIST ? "a file is in the way" : strerror(errno));
			free(p);
			return -1;
		}
		*s = saved;
		if (!saved)
			break;
	}
	free(p);
	return 0;
}

int config_write_starter(const char *dir, char *err, size_t errlen)
{
	if (!dir || !*dir) {
		snprintf(err, errlen, "init: no directory given");
		return -1;
	}
	if (make_dirs(dir, err, errlen) < 0)
		return -1;
	char *file = xasprintf("%s%sconfig.json", dir,
			       dir[strlen(dir) - 1] == '/' ? "" : "/");
	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno == EEXIST)
			snprintf(err, errlen, "%s: already exists; not overwriting it", file);
		else
			snprintf(err, errlen, "%s: cannot create: %s", file, strerror(errno));
		free(file);
		return -1;
	}
	size_t len = strlen(config_default_json), done = 0;
	while (done < len) {
		ssize_t w = write(fd, config_default_json + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errlen, "%s: cannot write: %s", file,
				 w < 0 ? strerror(errno) : "short write");
			close(fd);
			unlink(file);
			free(file);
			return -1;
		}
		done += (size_t)w;
	}
	if (close(fd) < 0) {
		snprintf(err, errlen, "%s: cannot write: %s", file, strerror(errno));
		unlink(file);
		free(file);
		return -1;
	}
	free(file);
	return 0;
}

/* ---- free and lookups --------------------------------------------------- */

static void free_tls(struct sb_tls *tls)
{
	if (!tls)
		return;
	free(tls->key);
	free(tls->certificate);
	for (size_t i = 0; i < tls->n_chain_certificates; i++)
		free(tls->chain_certificates[i]);
	free(tls->chain_certificates);
	free(tls->dhparam);
	free(tls->ciphers);
	for (size_t i = 0; i < tls->n_ca_certificates; i++)
		free(tls->ca_certificates[i]);
	free(tls->ca_certificates);
	free(tls);
}

static void free_path(struct sb_path *p)
{
	free(p->name);
	free(p->realm);
	free(p->role);
	free(p->directory);
	free(p->webhook_topic);
	free(p->success_response);
	free(p->error_response);
	free(p->github_secret);
	free(p->key);
	free(p->secret);
	free(p->require_ip);
	free(p->token_cookie);
	free(p->token_query);
	config_free_auth(&p->auth);
	for (size_t i = 0; i < p->n_allowed_origins; i++)
		free(p->allowed_origins[i]);
	free(p->allowed_origins);
	for (size_t i = 0; i < p->cors.n_allowed_origins; i++)
		free(p->cors.allowed_origins[i]);
	free(p->cors.allowed_origins);
}

void config_free(struct sb_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_realms; i++) {
		struct sb_realm *r = &cfg->realms[i];
		for (size_t j = 0; j < r->n_roles; j++) {
			struct sb_role *role = &r->roles[j];
			for (size_t k = 0; k < role->n_permissions; k++)
				free(role->permissions[k].uri);
			free(role->permissions);
			free(role->name);
			free(role->authorizer);
		}
		free(r->roles);
		free(r->name);
	}
	free(cfg->realms);
	for (size_t i = 0; i < cfg->n_transports; i++) {
		struct sb_transport *t = &cfg->transports[i];
		for (size_t j = 0; j < t->n_paths; j++)
			free_path(&t->paths[j]);
		free(t->paths);
		free(t->endpoint.interface);
		free_tls(t->endpoint.tls);
	}
	free(cfg->transports);
	config_free_components(cfg);
	free(cfg->history.path);
	free_rules(&cfg->history);
	free(cfg->source);
	free(cfg->cbdir);
	memset(cfg, 0, sizeof(*cfg));
}

const struct sb_realm *config_realm(const struct sb_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_realms; i++)
		if (cfg->realms[i].name && !strcmp(cfg->realms[i].name, name))
			return &cfg->realms[i];
	return NULL;
}

const struct sb_role *config_role(const struct sb_realm *realm, const char *name)
{
	for (size_t i = 0; i < realm->n_roles; i++)
		if (realm->roles[i].name && !strcmp(realm->roles[i].name, name))
			return &realm->roles[i];
	return NULL;
}
