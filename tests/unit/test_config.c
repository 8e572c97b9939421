/* test_config.c - config.c: the default, a Crossbar-style config, starred
 * permission URIs, the starter file round trip, and one line per bad
 * config naming the key path its error must contain.
 *
 * JSON in this file is written with ' for " to stay readable; jsonq()
 * swaps them back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config.h"
#include "tap.h"
#include "tls.h"
#include "util.h"

static char cwd[PATH_MAX];

/* New string: tmpl with its one '@' replaced by snippet, ' -> ". */
static char *jsonq(const char *tmpl, const char *snippet)
{
	size_t n = strlen(tmpl) + strlen(snippet) + 1;
	char *out = malloc(n), *w = out;
	for (const char *s = tmpl; *s; s++) {
		if (*s == '@') {
			for (const char *q = snippet; *q; q++)
				*w++ = *q == '\'' ? '"' : *q;
		} else {
			*w++ = *s == '\'' ? '"' : *s;
		}
	}
	*w = '\0';
	return out;
}

static int parse_q(struct sb_config *cfg, const char *tmpl, const char *snippet,
		   char *err, size_t errlen)
{
	char *text = jsonq(tmpl, snippet);
	int rc = config_parse(cfg, text, "t.json", "/srv/app/.crossbar", err, errlen);
	free(text);
	return rc;
}

static bool is_empty(const struct sb_config *cfg)
{
	return !cfg->source && !cfg->cbdir && !cfg->realms && !cfg->n_realms &&
	       !cfg->components && !cfg->n_components &&
	       !cfg->transports && !cfg->n_transports && !cfg->history.path &&
	       !cfg->history.rules && !cfg->history.n_rules;
}

/* ---- the embedded default ---------------------------------------------- */

static void test_default(void)
{
	struct sb_config cfg;
	char err[512];
	if (!ok(config_load_default(&cfg, err, sizeof(err)) == 0, "default parses")) {
		diag("%s", err);
		return;
	}
	char db[PATH_MAX + 16];
	snprintf(db, sizeof(db), "%s/switchboard.db", cwd);

	is_str(cfg.source, "(default)", "default: source");
	is_str(cfg.cbdir, cwd, "default: cbdir is the working directory");
	is_int((long long)cfg.n_realms, 1, "default: one realm");
	is_str(cfg.realms[0].name, "realm1", "default: realm1");
	const struct sb_realm *realm = config_realm(&cfg, "realm1");
	ok(realm == &cfg.realms[0], "config_realm finds realm1");
	ok(config_realm(&cfg, "realm2") == NULL, "config_realm: unknown -> NULL");
	const struct sb_role *role = config_role(realm, "anonymous");
	ok(role && role->n_permissions == 1, "default: role anonymous, one rule");
	ok(config_role(realm, "trusted") == NULL, "config_role: unknown -> NULL");
	const struct sb_permission *p = &role->permissions[0];
	ok(!strcmp(p->uri, "") && p->match == URI_PREFIX, "default: rule is prefix \"\"");
	ok(p->allow_call && p->allow_register && p->allow_publish && p->allow_subscribe,
	   "default: all four actions allowed");
	ok(!p->disclose_caller && !p->disclose_publisher && p->cache,
	   "default: disclose false, cache true");

	is_int((long long)cfg.n_transports, 1, "default: one transport");
	const struct sb_transport *t = &cfg.transports[0];
	ok(t->type == SB_TRANSPORT_WEB, "default: web transport");
	is_str(t->endpoint.interface, "127.0.0.1", "default: interface");
	is_int(t->endpoint.port, 8080, "default: port");
	is_int(t->endpoint.backlog, 1024, "default: backlog");
	is_int((long long)t->max_connections, 20000, "default: max_connections");
	is_int((long long)t->client_timeout_s, 60, "default: client_timeout");
	ok(!t->access_log, "default: no access log");
	is_int((long long)t->connection_memory, 8192, "default: connection_memory");

	static const struct { const char *name; enum sb_path_type type; } want[] = {
		{"/", SB_PATH_STATIC}, {"ws", SB_PATH_WEBSOCKET},
		{"publish", SB_PATH_PUBLISHER}, {"call", SB_PATH_CALLER},
		{"sse", SB_PATH_EVENTSOURCE}, {"info", SB_PATH_NODEINFO},
	};
	if (is_int((long long)t->n_paths, 6, "default: six paths"))
		for (size_t i = 0; i < 6; i++)
			ok(!strcmp(t->paths[i].name, want[i].name) && t->paths[i].type == want[i].type,
			   "default: path %zu is %s", i, want[i].name);
	ok(t->paths[0].directory == NULL && !t->paths[0].directory_listing,
	   "default: static directory NULL (the www root), no listing");
	is_int((long long)t->paths[1].max_message_size, 1048576, "default: ws max_message_size");
	ok(!t->paths[1].realm && !t->paths[1].role, "default: ws has no realm/role");
	ok(!strcmp(t->paths[2].realm, "realm1") && !strcmp(t->paths[2].role, "anonymous"),
	   "default: publish realm1/anonymous");
	is_int((long long)t->paths[2].post_body_limit, 65536, "default: publish post_body_limit");
	is_int((long long)t->paths[3].post_body_limit, 65536, "default: call post_body_limit");
	const struct sb_path *sse = &t->paths[4];
	is_int(sse->heartbeat_s, 15, "default: sse heartbeat");
	is_int(sse->retry_ms, 3000, "default: sse retry");
	is_int((long long)sse->queue_limit, 1024, "default: sse queue_limit");
	ok(sse->cors.n_allowed_origins == 1 && !strcmp(sse->cors.allowed_origins[0], "*"),
	   "default: sse allowed_origins [\"*\"]");

	is_str(cfg.history.path, db, "default: history in the working directory");
	ok(!cfg.history.sync_full, "default: sync normal");
	if (is_int((long long)cfg.history.n_rules, 1, "default: one retention rule")) {
		const struct sb_retention *r = &cfg.history.rules[0];
		ok(!strcmp(r->uri, "") && r->match == URI_PREFIX && r->max_events == 1000 &&
		   r->max_age_s == 86400, "default: retention prefix \"\" 1000 events 86400 s");
	}
	config_free(&cfg);
	ok(is_empty(&cfg), "config_free zeroes the struct");
}

/* ---- a config written for Crossbar ------------------------------------- */

/* The seed article's router plus `crossbar init`'s web transport options. */
static const char seed[] =
	"{'$schema': 'https://raw.githubusercontent.com/crossbario/crossbar/master/crossbar.json',"
	" 'version': 2, 'controller': {},"
	" 'workers': [{"
	"  'type': 'router', 'options': {'pythonpath': ['..']},"
	"  'realms': [{'name': 'acme-company', 'roles': [{'name': 'anonymous', 'permissions': [{"
	"    'uri': '', 'match': 'prefix',"
	"    'allow': {'call': true, 'register': true, 'publish': true, 'subscribe': true},"
	"    'disclose': {'caller': false, 'publisher': false}, 'cache': true}]}]}],"
	"  'transports': ["
	"   {'type': 'websocket', 'endpoint': {'type': 'tcp', 'port': 7000}},"
	"   {'type': 'web', 'endpoint': {'type': 'tcp', 'port': 8000, 'backlog': 1024},"
	"    'paths': {"
	"     '/': {'type': 'static', 'directory': '../web',"
	"           'options': {'enable_directory_listing': true}},"
	"     'publish': {'type': 'publisher', 'realm': 'acme-company', 'role': 'anonymous',"
	"                 'options': {'debug': true}},"
	"     'info': {'type': 'nodeinfo'},"
	"     'ws': {'type': 'websocket', 'serializers': ['cbor', 'msgpack', 'json'],"
	"            'options': {'allowed_origins': ['*'], 'allow_null_origin': true,"
	"             'enable_webstatus': false, 'max_frame_size': 1048576,"
	"             'max_message_size': 1048576, 'auto_fragment_size': 65536,"
	"             'fail_by_drop': true, 'open_handshake_timeout': 2500,"
	"             'close_handshake_timeout': 1000, 'auto_ping_interval': 10000,"
	"             'auto_ping_timeout': 5000, 'auto_ping_size': 12,"
	"             'compression': {'deflate': {'request_no_context_takeover': false,"
	"               'request_max_window_bits': 13, 'no_context_takeover': false,"
	"               'max_window_bits': 13, 'memory_level': 5}}}},"
	"     'call': {'type': 'caller', 'realm': 'acme-company', 'role': 'anonymous',"
	"              'options': {'debug': true}}"
	"    }}"
	"  ]"
	" }]"
	"}";

static void test_seed(void)
{
	struct sb_config cfg;
	char err[512];
	if (!ok(parse_q(&cfg, "@", seed, err, sizeof(err)) == 0, "crossbar seed config parses")) {
		diag("%s", err);
		return;
	}
	is_str(cfg.cbdir, "/srv/app/.crossbar", "seed: cbdir");
	is_str(cfg.realms[0].name, "acme-company", "seed: realm");
	is_int((long long)cfg.n_transports, 2, "seed: two transports");
	const struct sb_transport *ws = &cfg.transports[0], *web = &cfg.transports[1];
	ok(ws->type == SB_TRANSPORT_WEBSOCKET && ws->endpoint.port == 7000 &&
	   ws->endpoint.interface == NULL, "seed: websocket transport on all interfaces :7000");
	ok(ws->n_paths == 1 && !strcmp(ws->paths[0].name, "/") &&
	   ws->paths[0].type == SB_PATH_WEBSOCKET && ws->paths[0].max_message_size == 1048576,
	   "seed: websocket transport is one websocket path \"/\"");
	ok(web->type == SB_TRANSPORT_WEB && web->endpoint.port == 8000 && web->n_paths == 5,
	   "seed: web transport :8000 with five paths");
	is_str(web->paths[0].directory, "/srv/app/.crossbar/../web",
	       "seed: static directory resolved against cbdir");
	ok(web->paths[0].directory_listing, "seed: directory listing on");
	is_str(web->paths[1].role, "anonymous", "seed: publisher role");
	is_str(cfg.history.path, "/srv/app/.crossbar/switchboard.db",
	       "seed: history defaults to cbdir/switchboard.db");
	config_free(&cfg);
}

/* ---- starred permission URIs and other accepted values ----------------- */

#define REALM "{'name':'realm1','roles':[{'name':'anonymous','permissions':" \
	"[{'uri':'','match':'prefix','allow':{'publish':true,'subscribe':true}}]}]}"
#define WEB "{'type':'web','endpoint':{'type':'tcp','port':8080}," \
	"'paths':{'ws':{'type':'websocket'}}}"
#define PERM_T "{'workers':[{'type':'router','realms':[{'name':'realm1','roles':" \
	"[{'name':'anonymous','permissions':[{@}]}]}],'transports':[" WEB "]}]}"

static void test_starred(void)
{
	static const struct {
		const char *rule, *uri;
		enum uri_match match;
	} cases[] = {
		{"'uri':'com.example.foo'", "com.example.foo", URI_EXACT},
		{"'uri':'com.example.*'", "com.example.", URI_PREFIX},
		{"'uri':'*'", "", URI_PREFIX},
		{"'uri':'com.*.foo'", "com..foo", URI_WILDCARD},
		{"'uri':'com.*.foo.*'", "com..foo.", URI_WILDCARD},
		{"'uri':'*.foo'", ".foo", URI_WILDCARD},
		{"'uri':'com.*','match':'exact'", "com.*", URI_EXACT},
		{"'uri':'com.','match':'prefix'", "com.", URI_PREFIX},
		{"'uri':'user..orders','match':'wildcard'", "user..orders", URI_WILDCARD},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sb_config cfg;
		char err[512];
		if (!ok(parse_q(&cfg, PERM_T, cases[i].rule, err, sizeof(err)) == 0,
			"permission {%s} parses", cases[i].rule)) {
			diag("%s", err);
			continue;
		}
		const struct sb_permission *p = &cfg.realms[0].roles[0].permissions[0];
		ok(!strcmp(p->uri, cases[i].uri) && p->match == cases[i].match,
		   "{%s} -> %s \"%s\" (got %s \"%s\")", cases[i].rule,
		   uri_match_name(cases[i].match), cases[i].uri, uri_match_name(p->match), p->uri);
		config_free(&cfg);
	}
}

static void test_values(void)
{
	struct sb_config cfg;
	char err[512];
	setenv("SB_TEST_PORT", "9123", 1);
	ok(parse_q(&cfg, "{'workers':[{'type':'router','transports':[{'type':'web',"
		   "'endpoint':{'type':'tcp','port':'$SB_TEST_PORT','host':'::1','version':6},"
		   "'paths':{}}]}]}", "", err, sizeof(err)) == 0 &&
	   cfg.transports[0].endpoint.port == 9123 &&
	   !strcmp(cfg.transports[0].endpoint.interface, "::1"),
	   "port \"$VAR\" from the environment, host as interface");
	config_free(&cfg);

	ok(parse_q(&cfg, "{'workers':[{'type':'router','transports':["
		   "{'type':'web','endpoint':{'type':'tcp','port':8080,'interface':'127.0.0.1'},'paths':{}},"
		   "{'type':'websocket','endpoint':{'type':'tcp','port':8080,'interface':'127.0.0.2'}}]}]}",
		   "", err, sizeof(err)) == 0, "same port on two interfaces is fine");
	config_free(&cfg);

	const char *h = "{'workers':[{'type':'router','realms':[" REALM "],'transports':[" WEB
			"]}],'history':{@}}";
	if (ok(parse_q(&cfg, h, "'path':'/var/lib/sb.db','sync':'full','retention':["
		       "{'uri':'com.x','match':'exact','max_events':5},{'uri':'com.','max_age':0}]",
		       err, sizeof(err)) == 0, "history with two retention rules parses")) {
		const struct sb_history *hy = &cfg.history;
		ok(!strcmp(hy->path, "/var/lib/sb.db") && hy->sync_full && hy->n_rules == 2,
		   "history: absolute path kept, sync full");
		ok(hy->rules[0].match == URI_EXACT && hy->rules[0].max_events == 5 &&
		   hy->rules[0].max_age_s == 86400, "retention: omitted max_age takes the default");
		ok(hy->rules[1].match == URI_PREFIX && hy->rules[1].max_events == 1000 &&
		   hy->rules[1].max_age_s == 0, "retention: match defaults to prefix; 0 = no limit");
	} else {
		diag("%s", err);
	}
	config_free(&cfg);

	if (ok(parse_q(&cfg, h, "'path':'data/h.db'", err, sizeof(err)) == 0,
	       "history relative path parses"))
		is_str(cfg.history.path, "/srv/app/.crossbar/data/h.db", "history path under cbdir");
	config_free(&cfg);

	const char *paths = "{'workers':[{'type':'router','realms':[" REALM "],'transports':"
			    "[{'type':'web','endpoint':{'type':'tcp','port':8080},'paths':{@}}]}]}";
	if (ok(parse_q(&cfg, paths,
		       "'sse':{'type':'eventsource','realm':'realm1','role':'anonymous','options':"
		       "{'heartbeat':2.5,'retry':500,'queue_limit':10,"
		       "'allowed_origins':['https://a.example','https://b.example']}},"
		       "'hook':{'type':'webhook','realm':'realm1','role':'anonymous','options':"
		       "{'topic':'com.hook','post_body_limit':1000}},"
		       "'ws':{'type':'websocket','auth':{'anonymous':{'type':'static','role':'anonymous'}},"
		       "'options':{'max_message_size':4096}},"
		       "'pub':{'type':'publisher','realm':'realm1','role':'anonymous','options':"
		       "{'post_body_limit':0,'require_tls':false,'timestamp_delta_limit':10}}",
		       err, sizeof(err)) == 0, "eventsource, webhook, websocket options parse")) {
		const struct sb_path *sse = &cfg.transports[0].paths[0];
		ok(sse->heartbeat_s == 3 && sse->retry_ms == 500 && sse->queue_limit == 10,
		   "eventsource options stored (heartbeat 2.5 rounds to 3)");
		ok(sse->cors.n_allowed_origins == 2 &&
		   !strcmp(sse->cors.allowed_origins[1], "https://b.example"), "allowed_origins stored");
		const struct sb_path *hook = &cfg.transports[0].paths[1];
		ok(!strcmp(hook->webhook_topic, "com.hook") && hook->post_body_limit == 1000,
		   "webhook topic and limit stored");
		const struct sb_path *ws = &cfg.transports[0].paths[2];
		ok(ws->max_message_size == 4096 && !strcmp(ws->role, "anonymous"),
		   "websocket max_message_size and anonymous role stored");
		is_int((long long)cfg.transports[0].paths[3].post_body_limit, 64 * 1024 * 1024,
		       "post_body_limit 0 (Crossbar: unlimited) becomes the 64 MiB cap");
	} else {
		diag("%s", err);
	}
	config_free(&cfg);
}

/* ---- REST bridge: components and signed paths ----------------------------- */

/* realm1: "anonymous" may do anything; "backend" may register api.* and
 * subscribe to orders.*, and is what the ws path gives anonymous clients. */
static const char bridge[] =
	"{'version':2,'workers':[{'type':'router','realms':[{'name':'realm1','roles':["
	"{'name':'anonymous','permissions':[{'uri':'','match':'prefix','allow':{'call':true,"
	"'register':true,'publish':true,'subscribe':true}}]},"
	"{'name':'backend','permissions':[{'uri':'api.','match':'prefix','allow':{'register':true}},"
	"{'uri':'orders.','match':'prefix','allow':{'subscribe':true}}]}]}],"
	"'transports':[{'type':'web','endpoint':{'type':'tcp','port':8080},'paths':{"
	"'ws':{'type':'websocket','auth':{'anonymous':{'type':'static','role':'backend'}}},"
	"'publish':{'type':'publisher','realm':'realm1','role':'anonymous','options':{"
	"'key':'k1','secret':'s1','require_ip':['127.0.0.1','10.0.0.0/255.0.0.0','::1']}}}}],"
	"'components':[{'type':'class','classname':'crossbar.adapter.rest.MessageForwarder',"
	"'realm':'realm1','extra':{'subscriptions':[{'topic':'a.b','url':'http://h/x'}]}}]},"
	"{'type':'container','options':{'pythonpath':['..'],'shutdown':'shutdown-manual'},"
	"'components':[{'type':'class','classname':'crossbar.bridge.rest.RESTCallee',"
	"'realm':'realm1','extra':{'procedure':'api.rest','baseurl':'http://127.0.0.1:9/v1/'},"
	"'transport':{'type':'websocket','endpoint':{'type':'tcp','host':'127.0.0.1',"
	"'port':8080},'url':'ws://127.0.0.1:8080/ws'}},"
	"{'type':'class','classname':'crossbar.bridge.rest.MessageForwarder','id':'orders-fwd',"
	"'realm':'realm1','extra':{'subscriptions':[{'topic':'orders.','match':'prefix',"
	"'url':'https://app.example/hook'},{'topic':'orders..paid','match':'wildcard',"
	"'url':'http://h/paid'}],'expectedcode':201,'method':'PUT','max_attempts':3},"
	"'transport':{'type':'websocket','endpoint':{'type':'tcp','host':'127.0.0.1',"
	"'port':8080},'url':'ws://127.0.0.1:8080/ws'}}]}]}";

static void test_bridge(void)
{
	struct sb_config cfg, again;
	char err[512];
	if (!ok(parse_q(&cfg, "@", bridge, err, sizeof(err)) == 0, "REST bridge config parses")) {
		diag("%s", err);
		return;
	}
	if (ok(cfg.n_components == 3, "three components")) {
		const struct sb_component *router_fwd = &cfg.components[0];
		const struct sb_component *callee = &cfg.components[1];
		const struct sb_component *fwd = &cfg.components[2];
		ok(router_fwd->type == SB_COMPONENT_FORWARDER && !strcmp(router_fwd->role, "anonymous") &&
		   !strncmp(router_fwd->name, "forwarder-", 10) && strlen(router_fwd->name) == 26,
		   "router component: pre-2018 class name, role anonymous, derived name");
		ok(callee->type == SB_COMPONENT_REST_CALLEE && !strcmp(callee->role, "backend") &&
		   !strcmp(callee->name, "restcallee-api.rest") &&
		   !strcmp(callee->baseurl, "http://127.0.0.1:9/v1/") && callee->timeout_ms == 30000 &&
		   callee->connect_timeout_ms == 10000,
		   "callee: the role of the ws path its url names, its name, default timeouts");
		ok(!strcmp(fwd->name, "orders-fwd") && !strcmp(fwd->method, "PUT") &&
		   fwd->expected_code == 201 && fwd->max_attempts == 3 && fwd->retry_delay_ms == 1000 &&
		   fwd->retry_max_delay_ms == 60000 && fwd->timeout_ms == 10000,
		   "forwarder: id, method, expectedcode, retry defaults");
		ok(fwd->n_subscriptions == 2 && fwd->subscriptions[0].match == URI_PREFIX &&
		   fwd->subscriptions[1].match == URI_WILDCARD &&
		   !strcmp(fwd->subscriptions[1].url, "http://h/paid"),
		   "forwarder subscriptions with their match policies");
		ok(parse_q(&again, "@", bridge, err, sizeof(err)) == 0 &&
		   !strcmp(again.components[0].name, router_fwd->name),
		   "a derived forwarder name is the same on every start");
		config_free(&again);
	}
	const struct sb_path *pub = &cfg.transports[0].paths[1];
	ok(!strcmp(pub->key, "k1") && !strcmp(pub->secret, "s1") &&
	   pub->timestamp_delta_limit_s == 300 && !pub->require_tls,
	   "publisher: key, secret, timestamp_delta_limit default 300 s");
	ok(pub->n_require_ip == 3 && pub->require_ip[0].prefix == 32 &&
	   pub->require_ip[1].family == AF_INET && pub->require_ip[1].prefix == 8 &&
	   pub->require_ip[2].family == AF_INET6 && pub->require_ip[2].prefix == 128,
	   "require_ip: address, netmask form, IPv6");
	config_free(&cfg);
}

/* ---- authentication ------------------------------------------------------------ */

static const char authcfg[] =
	"{'workers':[{'type':'router','realms':[{'name':'realm1','roles':["
	"{'name':'frontend','authorizer':'com.example.authorize'}]}],"
	"'transports':[{'type':'web','endpoint':{'type':'tcp','port':8080},'paths':{"
	"'ws':{'type':'websocket','options':{'allowed_origins':['https://*.example.com'],"
	"'auth_failure_delay':50},'auth':{"
	"'anonymous':{'type':'static','role':'public'},"
	"'ticket':{'type':'static','principals':{'joe':{'ticket':'${SB_TEST_TICKET}','role':'frontend'}}},"
	"'wampcra':{'type':'dynamic','authenticator':'com.example.authenticate','default-role':'frontend'},"
	"'cryptosign':{'type':'static','principals':{'al':{'authorized_keys':"
	"['00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00fe'],'realm':'realm1'}}}}},"
	"'sse':{'type':'eventsource','realm':'realm1','role':'frontend','auth':{"
	"'jwt':{'secret':'k3y','issuer':'app','topics_claim':'topics'}},"
	"'options':{'token_cookie':'tok'}}}}]}]}";

static void test_auth(void)
{
	struct sb_config cfg;
	char err[512];
	setenv("SB_TEST_TICKET", "from-the-environment", 1);
	if (!ok(parse_q(&cfg, "@", authcfg, err, sizeof(err)) == 0, "auth config parses")) {
		diag("%s", err);
		return;
	}
	const struct sb_path *ws = &cfg.transports[0].paths[0], *sse = &cfg.transports[0].paths[1];
	const struct sb_auth *a = &ws->auth;
	ok(!strcmp(cfg.realms[0].roles[0].authorizer, "com.example.authorize"),
	   "a role's authorizer");
	ok(a->is_set && a->methods[SB_AUTH_ANONYMOUS].is_enabled && !strcmp(ws->role, "public"),
	   "anonymous: its role is the path's role for anonymous clients");
	ok(a->methods[SB_AUTH_TICKET].n_principals == 1 &&
	   !strcmp(a->methods[SB_AUTH_TICKET].principals[0].secret, "from-the-environment"),
	   "ticket: ${VAR} expanded");
	ok(a->methods[SB_AUTH_WAMPCRA].is_dynamic &&
	   !strcmp(a->methods[SB_AUTH_WAMPCRA].authenticator, "com.example.authenticate") &&
	   !strcmp(a->methods[SB_AUTH_WAMPCRA].role, "frontend"),
	   "wampcra: dynamic, its authenticator and default-role");
	const struct sb_principal *al = &a->methods[SB_AUTH_CRYPTOSIGN].principals[0];
	ok(al->n_keys == 1 && al->keys[0][0] == 0x00 && al->keys[0][1] == 0xff &&
	   al->keys[0][31] == 0xfe && !strcmp(al->realm, "realm1"), "cryptosign: key bytes, realm");
	ok(!a->methods[SB_AUTH_JWT].is_enabled, "no jwt on a websocket path");
	ok(ws->n_allowed_origins == 1 && ws->auth_failure_delay_ms == 50 &&
	   ws->auth_failure_delay_max_ms == 10000, "origins and failure delays");
	ok(sse->auth.methods[SB_AUTH_JWT].is_enabled &&
	   !strcmp(sse->auth.methods[SB_AUTH_JWT].jwt_secret, "k3y") &&
	   !strcmp(sse->auth.methods[SB_AUTH_JWT].topics_claim, "topics") &&
	   !strcmp(sse->token_cookie, "tok") && !sse->auth.methods[SB_AUTH_ANONYMOUS].is_enabled,
	   "eventsource: jwt settings, token cookie, no anonymous");
	config_free(&cfg);
}

/* ---- TLS files --------------------------------------------------------- */

static char tls_dir[PATH_MAX];

static EVP_PKEY *make_key(const char *type)
{
	return !strcmp(type, "RSA") ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
				    : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/* A certificate for key, signed by issuer_key (NULL: self-signed). */
static X509 *make_cert(EVP_PKEY *key, EVP_PKEY *issuer_key, long serial, const char *cn)
{
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
	return x;
}

static FILE *open_in_dir(const char *file, const char *mode)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", tls_dir, file);
	return fopen(path, mode);
}

static void write_key(const char *file, EVP_PKEY *key, bool encrypted)
{
	FILE *fp = open_in_dir(file, "w");
	PEM_write_PrivateKey(fp, key, encrypted ? EVP_aes_128_cbc() : NULL,
			     (unsigned char *)"secret", encrypted ? 6 : 0, NULL, NULL);
	fclose(fp);
}

/* Appends, so several certificates can share a file. */
static void write_cert(const char *file, X509 *x)
{
	FILE *fp = open_in_dir(file, "a");
	PEM_write_X509(fp, x);
	fclose(fp);
}

static void write_text(const char *file, const char *text)
{
	FILE *fp = open_in_dir(file, "w");
	fputs(text, fp);
	fclose(fp);
}

/* RFC 7919's ffdhe2048 group as DH parameters (generating new ones takes
 * seconds). */
static void write_dhparam(const char *file)
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	EVP_PKEY *params = NULL;
	EVP_PKEY_paramgen_init(pctx);
	EVP_PKEY_CTX_set_group_name(pctx, "ffdhe2048");
	EVP_PKEY_paramgen(pctx, &params);
	BIO *out = BIO_new_fp(open_in_dir(file, "w"), BIO_CLOSE);
	PEM_write_bio_Parameters(out, params);
	BIO_free(out);
	EVP_PKEY_free(params);
	EVP_PKEY_CTX_free(pctx);
}

/* The CA, a server certificate it signed (serial 2) with its key, an
 * unrelated key, an RSA server certificate, a bad file. */
static void make_tls_files(void)
{
	EVP_PKEY *ca = make_key("EC"), *server = make_key("EC"), *other = make_key("EC");
	EVP_PKEY *rsa = make_key("RSA");
	X509 *ca_cert = make_cert(ca, NULL, 1, "Test CA");
	X509 *server_cert = make_cert(server, ca, 2, "localhost");
	X509 *rsa_cert = make_cert(rsa, ca, 3, "localhost");
	write_key("server.key", server, false);
	write_key("other.key", other, false);
	write_key("locked.key", server, true);
	write_key("rsa.key", rsa, false);
	write_cert("server.crt", server_cert);
	write_cert("fullchain.crt", server_cert);
	write_cert("fullchain.crt", ca_cert);
	write_cert("rsa.crt", rsa_cert);
	write_cert("ca.crt", ca_cert);
	write_text("notes.txt", "not a certificate\n");
	write_dhparam("dh.pem");
	X509_free(ca_cert);
	X509_free(server_cert);
	X509_free(rsa_cert);
	EVP_PKEY_free(ca);
	EVP_PKEY_free(server);
	EVP_PKEY_free(other);
	EVP_PKEY_free(rsa);
}

#define TLS_T "{'workers':[{'type':'router','realms':[" REALM "],'transports':[" \
	"{'type':'web','endpoint':{'type':'tcp','port':8443,'tls':{@}},'paths':{}," \
	"'options':{'http2':true,'hsts':true}}]}]}"

static int parse_tls(struct sb_config *cfg, const char *tls, char *err, size_t errlen)
{
	char *text = jsonq(TLS_T, tls);
	int rc = config_parse(cfg, text, "t.json", tls_dir, err, errlen);
	free(text);
	return rc;
}

static const struct {
	const char *tls, *want;
} bad_tls[] = {
	{"'key':'missing.key','certificate':'server.crt'", ".tls.key: cannot read @/missing.key"},
	{"'key':'other.key','certificate':'server.crt'",
	 ".tls.key: @/other.key is not the key of the certificate @/server.crt"},
	{"'key':'locked.key','certificate':'server.crt'",
	 ".tls.key: no PEM private key in @/locked.key (a passphrase-protected key"},
	{"'key':'server.key','certificate':'notes.txt'", ".tls.certificate: no PEM certificate in"},
	{"'key':'server.key','certificate':'server.crt','chain_certificates':['ca.crt','nope.crt']",
	 ".tls.chain_certificates[1]: cannot read @/nope.crt"},
	{"'key':'server.key','certificate':'server.crt','dhparam':'ca.crt'",
	 ".tls.dhparam: no PEM DH parameters in @/ca.crt"},
	{"'key':'server.key','certificate':'server.crt','ciphers':'NO-SUCH-CIPHER'",
	 ".tls.ciphers: no cipher in \"NO-SUCH-CIPHER\" is known to OpenSSL"},
	{"'key':'server.key','certificate':'server.crt','ca_certificates':['notes.txt']",
	 ".tls.ca_certificates[0]: no PEM certificate in @/notes.txt"},
};

static void test_tls_config(void)
{
	struct sb_config cfg;
	char err[1024];
	int rc = parse_tls(&cfg, "'key':'server.key','certificate':'server.crt',"
			   "'chain_certificates':['ca.crt'],'dhparam':'./dh.pem',"
			   "'ciphers':'ECDHE-ECDSA-AES128-GCM-SHA256','ca_certificates':['ca.crt']",
			   err, sizeof(err));
	if (!ok(rc == 0, "tls: every Crossbar key parses")) {
		diag("%s", err);
		return;
	}
	const struct sb_transport *t = &cfg.transports[0];
	const struct sb_tls *tls = t->endpoint.tls;
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "%s/server.key", tls_dir);
	is_str(tls->key, want, "tls: key resolved against the config's directory");
	snprintf(want, sizeof(want), "%s/dh.pem", tls_dir);
	is_str(tls->dhparam, want, "tls: ./dh.pem resolved");
	ok(tls->n_chain_certificates == 1 && tls->n_ca_certificates == 1 &&
	   !strcmp(tls->ciphers, "ECDHE-ECDSA-AES128-GCM-SHA256"), "tls: lists and ciphers kept");
	ok(t->http2 && t->hsts && t->hsts_max_age_s == 31536000, "http2, hsts and its default max-age");
	config_free(&cfg);

	for (size_t i = 0; i < sizeof(bad_tls) / sizeof(*bad_tls); i++) {
		char expect[512];
		const char *at = strchr(bad_tls[i].want, '@');
		snprintf(expect, sizeof(expect), "%s", bad_tls[i].want);
		/* '@' stands for the directory, twice at most */
		for (int n = 0; n < 2 && (at = strchr(expect, '@')); n++) {
			char rest[512];
			snprintf(rest, sizeof(rest), "%s", at + 1);
			snprintf(expect + (at - expect), sizeof(expect) - (size_t)(at - expect), "%s%s",
				 tls_dir, rest);
		}
		rc = parse_tls(&cfg, bad_tls[i].tls, err, sizeof(err));
		if (!ok(rc == -1 && strstr(err, "t.json: workers[0].transports[0].endpoint.tls.") &&
			strstr(err, expect) && is_empty(&cfg), "tls bad %zu: %s", i, bad_tls[i].want))
			diag("rc %d, error: %s", rc, err);
	}

	/* lws tells TLS vhosts apart by port number alone. */
#define TLS_AT(ip) "{'type':'web','endpoint':{'type':'tcp','port':8443,'interface':'" ip "'," \
	"'tls':{'key':'server.key','certificate':'server.crt'}},'paths':{}}"
	char *two = jsonq("{'workers':[{'type':'router','transports':[@]}]}",
			  TLS_AT("127.0.0.1") "," TLS_AT("127.0.0.2"));
	rc = config_parse(&cfg, two, "t.json", tls_dir, err, sizeof(err));
	ok(rc == -1 && strstr(err, "transports[1].endpoint.port: port 8443"),
	   "two TLS transports cannot share a port number: %s", err);
	free(two);
}

static void test_tls_ctx(void)
{
	const struct sb_tls tls = {
		.key = xasprintf("%s/server.key", tls_dir),
		.certificate = xasprintf("%s/fullchain.crt", tls_dir),
		.ca_certificates = (char *[]){xasprintf("%s/ca.crt", tls_dir)},
		.n_ca_certificates = 1,
	};
	const struct sb_tls rsa = {
		.key = xasprintf("%s/rsa.key", tls_dir),
		.certificate = xasprintf("%s/rsa.crt", tls_dir),
	};
	struct tls_material m = {0}, r = {0};
	char err[512], where[64], desc[128];
	ok(tls_material_load(&m, &tls, err, sizeof(err), where, sizeof(where)) == 0 &&
	   sk_X509_num(m.chain) == 1, "material: the certificate file's second certificate is chain");
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	ok(tls_ctx_setup(ctx, &tls, &m, err, sizeof(err)) == 0, "setup: %s", err);
	ok(SSL_CTX_get_min_proto_version(ctx) == TLS1_2_VERSION, "setup: TLS 1.2 or newer only");
	ok(SSL_CTX_get_verify_mode(ctx) == (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT),
	   "setup: ca_certificates require a client certificate");
	tls_describe(SSL_CTX_get0_certificate(ctx), desc, sizeof(desc));
	ok(!strncmp(desc, "serial 02, expires ", 19), "describe: %s", desc);
	ok(tls_material_load(&r, &rsa, err, sizeof(err), where, sizeof(where)) == 0, "rsa material");
	ok(tls_ctx_replace(ctx, &r, err, sizeof(err)) == -1 && strstr(err, "restart to change"),
	   "replace: another key type is refused: %s", err);
	ok(ASN1_INTEGER_get(X509_get0_serialNumber(SSL_CTX_get0_certificate(ctx))) == 2,
	   "replace refused: the old certificate stays");
	ok(tls_ctx_replace(ctx, &m, err, sizeof(err)) == 0, "replace with the same type");
	tls_material_cleanup(&m);
	tls_material_cleanup(&r);
	SSL_CTX_free(ctx);
	free(tls.key);
	free(tls.certificate);
	free(tls.ca_certificates[0]);
	free(rsa.key);
	free(rsa.certificate);
}

static void test_tls(void)
{
	snprintf(tls_dir, sizeof(tls_dir), "/tmp/sb-test-tls-XXXXXX");
	if (!ok(mkdtemp(tls_dir) != NULL, "tls: temp dir")) {
		diag("mkdtemp: %s", strerror(errno));
		return;
	}
	make_tls_files();
	test_tls_config();
	test_tls_ctx();
	const char *files[] = {"server.key", "other.key", "locked.key", "rsa.key", "server.crt",
			       "fullchain.crt", "rsa.crt", "ca.crt", "notes.txt", "dh.pem"};
	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		char path[PATH_MAX + 64];
		snprintf(path, sizeof(path), "%s/%s", tls_dir, files[i]);
		unlink(path);
	}
	rmdir(tls_dir);
}

/* ---- bad configs --------------------------------------------------------- */

enum where { RAW, TOP, WORKERS, WORKER, REALM_X, ROLE_X, PERM, TRANSPORTS, ENDPOINT,
	     PATHS, HISTORY, COMPONENT };

static const char *const templates[] = {
	[RAW] = "@",
	[TOP] = "{'workers':[{'type':'router','realms':[" REALM "],'transports':[" WEB "]}]@}",
	[WORKERS] = "{'workers':[@]}",
	[WORKER] = "{'workers':[{'type':'router','realms':[" REALM "],'transports':[" WEB "]@}]}",
	[REALM_X] = "{'workers':[{'type':'router','realms':[{'name':'realm1'@}],"
		    "'transports':[" WEB "]}]}",
	[ROLE_X] = "{'workers':[{'type':'router','realms':[{'name':'realm1','roles':"
		   "[{'name':'anonymous'@}]}],'transports':[" WEB "]}]}",
	[PERM] = PERM_T,
	[TRANSPORTS] = "{'workers':[{'type':'router','realms':[" REALM "],'transports':[@]}]}",
	[ENDPOINT] = "{'workers':[{'type':'router','realms':[" REALM "],'transports':"
		     "[{'type':'web','endpoint':{@},'paths':{}}]}]}",
	[PATHS] = "{'workers':[{'type':'router','realms':[" REALM "],'transports':"
		  "[{'type':'web','endpoint':{'type':'tcp','port':8080},'paths':{@}}]}]}",
	[HISTORY] = "{'workers':[{'type':'router','realms':[" REALM "],'transports':[" WEB
		    "]}],'history':{@}}",
	[COMPONENT] = "{'workers':[{'type':'router','realms':[" REALM "],'transports':[" WEB
		      "]},{'type':'container','components':[{@}]}]}",
};

#define SSE "'sse':{'type':'eventsource','realm':'realm1','role':'anonymous',"
#define W0 "t.json: workers[0]"
#define T0 W0 ".transports[0]"
#define P0 T0 ".paths"
#define C0 "t.json: workers[1].components[0]"
#define CALLEE "crossbar.bridge.rest.RESTCallee"
#define FORWARDER "crossbar.bridge.rest.MessageForwarder"
#define TO "'transport':{'type':'websocket','endpoint':{'type':'tcp','host':'127.0.0.1'," \
	"'port':8080},'url':'ws://127.0.0.1:8080/ws'}"

static const struct bad {
	enum where where;
	const char *snippet;
	const char *want;          /* substring of the error */
} bad_cases[] = {
	/* top level */
	{TOP, ",'foo':1", "t.json: unknown key \"foo\""},
	{TOP, ",'version':1", "t.json: version: config version 1 is not supported"},
	{TOP, ",'version':'2'", "t.json: version: expected an integer, not a string"},
	{TOP, ",'controller':[]", "t.json: controller: expected an object, not an array"},
	{TOP, ",'wrokers':[]", "unknown key \"wrokers\" (did you mean \"workers\"?)"},
	{RAW, "{}", "t.json: missing required key \"workers\""},
	{RAW, "[1]", "t.json: expected an object, not an array"},
	{RAW, "{'workers':[]}", "t.json: workers: no router worker with a transport"},
	{RAW, "{'workers':[{'type':'router','realms':[" REALM "]}]}",
	 "t.json: workers: no router worker with a transport"},
	{RAW, "{\n  'version': 2,\n  'version': 2,\n  'workers': []\n}",
	 "t.json: line 3, column"},
	{RAW, "{\n  'version': 2,\n  'workers': [\n}\n", "t.json: line 4, column 1: invalid JSON"},
	{RAW, "", "t.json: line 1"},
	/* workers */
	{WORKERS, "{'type':'guest'}", W0 ".type: worker type \"guest\" is not supported"},
	{WORKERS, "{'realms':[]}", W0 ": missing required key \"type\""},
	{WORKERS, "{'type':7}", W0 ".type: expected a string"},
	{WORKERS, "'router'", W0 ": expected an object, not a string"},
	{WORKER, ",'components':[{'type':'class'}]",
	 W0 ".components[0]: missing required key \"classname\""},
	{WORKER, ",'connections':[{}]", W0 ".connections: router connections (to other routers) "
	 "are not supported"},
	{WORKER, ",'options':{'pythonpath':['..'],'titel':'x'}",
	 W0 ".options: unknown key \"titel\" (did you mean \"title\"?)"},
	{WORKER, ",'options':{'disabled':'no'}", W0 ".options.disabled: expected a boolean"},
	{RAW, "{'workers':[{'type':'router','realms':[" REALM "],'transports':[" WEB "]},"
	      "{'type':'router','realms':[" REALM "]}]}",
	 "t.json: workers[1].realms[0].name: duplicate realm \"realm1\" (also workers[0].realms[0])"},
	/* realms, roles, permissions */
	{REALM_X, ",'colour':'red'", W0 ".realms[0]: unknown key \"colour\""},
	{REALM_X, ",'roles':{}", W0 ".realms[0].roles: expected an array, not an object"},
	{REALM_X, ",'options':{'uri_check':'weird'}", W0 ".realms[0].options.uri_check: unknown value"},
	{REALM_X, ",'name':'x'", "t.json: line 1"},                /* duplicate key */
	{REALM_X, ",'roles':[{'name':'a'},{'name':'a'}]",
	 W0 ".realms[0].roles[1].name: duplicate role \"a\""},
	{REALM_X, ",'roles':[{'permissions':[]}]",
	 W0 ".realms[0].roles[0]: missing required key \"name\""},
	{RAW, "{'workers':[{'type':'router','realms':[{'name':''}]}]}",
	 W0 ".realms[0].name: must not be empty"},
	{ROLE_X, ",'authorizer':'com.example.auth','permissions':[]",
	 W0 ".realms[0].roles[0]: a role has \"permissions\" or an \"authorizer\", not both"},
	{ROLE_X, ",'authorizer':'com..auth'",
	 W0 ".realms[0].roles[0].authorizer: invalid procedure URI \"com..auth\""},
	{ROLE_X, ",'permissions':[{'uri':'a','allow':{'publish':'yes'}}]",
	 W0 ".realms[0].roles[0].permissions[0].allow.publish: expected a boolean, not a string"},
	{ROLE_X, ",'permissions':[{'uri':'a','allow':{'publsh':true}}]",
	 W0 ".realms[0].roles[0].permissions[0].allow: unknown key \"publsh\" (did you mean"},
	{ROLE_X, ",'permissions':{}", ".roles[0].permissions: expected an array"},
	{PERM, "'uri':'a b'", ".permissions[0].uri: invalid URI pattern \"a b\" for match \"exact\""},
	{PERM, "'uri':'com..x','match':'exact'", ".permissions[0].uri: invalid URI pattern"},
	{PERM, "'uri':'','match':'wildcard'", ".permissions[0].uri: invalid URI pattern"},
	{PERM, "'uri':'com#x','match':'prefix'", ".permissions[0].uri: invalid URI pattern"},
	{PERM, "'uri':''", ".permissions[0].uri: \"\" without \"match\""},
	{PERM, "'uri':'com.x','match':'regex'", ".permissions[0].match: unknown match \"regex\""},
	{PERM, "'match':'prefix'", ".permissions[0]: missing required key \"uri\""},
	{PERM, "'uri':5", ".permissions[0].uri: expected a string, not an integer"},
	{PERM, "'uri':'x','disclose':{'caller':true,'subscriber':true}",
	 ".permissions[0].disclose: unknown key \"subscriber\""},
	{PERM, "'uri':'x','cache':1", ".permissions[0].cache: expected a boolean, not an integer"},
	/* transports */
	{TRANSPORTS, "{'type':'rawsocket','endpoint':{'type':'tcp','port':8081}}",
	 T0 ".type: transport type \"rawsocket\" is not supported"},
	{TRANSPORTS, "{'type':'mqtt'}", T0 ".type: transport type \"mqtt\" is not supported"},
	{TRANSPORTS, "{'type':'web','paths':{}}", T0 ": missing required key \"endpoint\""},
	{TRANSPORTS, "{'type':'web','endpoint':{'type':'tcp','port':8443},'paths':{},"
		     "'options':{'http2':true}}",
	 T0 ".options.http2: HTTP/2 needs TLS"},
	{TRANSPORTS, "{'type':'web','endpoint':{'type':'tcp','port':8080}}",
	 T0 ": missing required key \"paths\""},
	{TRANSPORTS, "{'type':'web','endpoint':{'type':'tcp','port':8080},'paths':{},"
		     "'options':{'max_connections':'many'}}",
	 T0 ".options.max_connections: expected an integer, not a string"},
	{TRANSPORTS, "{'type':'web','endpoint':{'type':'tcp','port':8080},'paths':{},"
		     "'options':{'connection_memory':1024}}",
	 T0 ".options.connection_memory: 1024 is out of range (2048.."},
	{TRANSPORTS, "{'type':'web','endpoint':{'type':'tcp','port':8080},'paths':{},"
		     "'options':{'hsts':true,'acces_log':true}}",
	 T0 ".options: unknown key \"acces_log\" (did you mean \"access_log\"?)"},
	{TRANSPORTS, "{'type':'web','endpoint':{'type':'tcp','port':8080},'paths':{}},"
		     "{'type':'websocket','endpoint':{'type':'tcp','port':8080,'interface':'127.0.0.1'}}",
	 W0 ".transports[1].endpoint.port: port 8080 on 127.0.0.1 is already used by "
	 "workers[0].transports[0]"},
	{TRANSPORTS, "{'type':'websocket','endpoint':{'type':'tcp','port':7000},"
		     "'options':{'max_message_size':'x'}}",
	 T0 ".options.max_message_size: expected an integer"},
	{TRANSPORTS, "{'type':'websocket','endpoint':{'type':'tcp','port':7000},"
		     "'auth':{'scram':{'type':'static'}}}",
	 T0 ".auth.scram: authentication method \"scram\" is not supported here"},
	{TRANSPORTS, "{'type':'websocket','endpoint':{'type':'tcp','port':7000},'paths':{}}",
	 T0 ": unknown key \"paths\""},
	{TRANSPORTS, "{'type':'web','endpoint':[],'paths':{}}",
	 T0 ".endpoint: expected an object, not an array"},
	/* endpoints */
	{ENDPOINT, "'type':'tcp','port':0", T0 ".endpoint.port: port 0 is out of range"},
	{ENDPOINT, "'type':'tcp','port':70000", T0 ".endpoint.port: port 70000 is out of range"},
	{ENDPOINT, "'type':'tcp','port':8080.5", T0 ".endpoint.port: expected a string or an integer"},
	{ENDPOINT, "'type':'tcp','port':'8080'", T0 ".endpoint.port: expected an integer 1..65535 or"},
	{ENDPOINT, "'type':'tcp','port':'$SB_TEST_UNSET_VAR'",
	 T0 ".endpoint.port: environment variable SB_TEST_UNSET_VAR is not set"},
	{ENDPOINT, "'type':'tcp','port':'$SB_TEST_BAD_PORT'",
	 T0 ".endpoint.port: $SB_TEST_BAD_PORT is \"http\" in the environment"},
	{ENDPOINT, "'type':'unix','path':'/tmp/s'",
	 T0 ".endpoint.type: endpoint type \"unix\" is not supported"},
	{ENDPOINT, "'type':'tcp','port':8080,'tls':{'key':'k.pem','certificate':'c.pem'}",
	 T0 ".endpoint.tls.certificate: cannot read /srv/app/.crossbar/c.pem: No such file"},
	{ENDPOINT, "'type':'tcp','port':8080,'tls':{'key':'k.pem'}",
	 T0 ".endpoint.tls: missing required key \"certificate\""},
	{ENDPOINT, "'type':'tcp','port':8080,'tls':{'key':'k.pem','certificate':'c.pem','cert':1}",
	 T0 ".endpoint.tls: unknown key \"cert\""},
	{ENDPOINT, "'type':'tcp','port':8080,'tls':{'key':'','certificate':'c.pem'}",
	 T0 ".endpoint.tls.key: must not be empty"},
	{ENDPOINT, "'type':'tcp','port':8080,'tls':{'key':'k.pem','certificate':'c.pem',"
		   "'chain_certificates':'chain.pem'}",
	 T0 ".endpoint.tls.chain_certificates: expected an array, not a string"},
	{ENDPOINT, "'type':'tcp','port':8080,'tls':{'key':'k.pem','certificate':'c.pem',"
		   "'ca_certificates':[1]}",
	 T0 ".endpoint.tls.ca_certificates[0]: expected a string"},
	{ENDPOINT, "'type':'tcp','port':8080,'interface':'127.0.0.1','host':'::1'",
	 T0 ".endpoint.host: give either \"interface\" or \"host\", not both"},
	{ENDPOINT, "'type':'tcp','port':8080,'version':5", T0 ".endpoint.version: must be 4 or 6"},
	{ENDPOINT, "'type':'tcp','port':8080,'backlog':0", T0 ".endpoint.backlog: 0 is out of range"},
	{ENDPOINT, "'type':'tcp','port':8080,'adress':'x'", T0 ".endpoint: unknown key \"adress\""},
	{ENDPOINT, "'port':8080", T0 ".endpoint: missing required key \"type\""},
	{ENDPOINT, "'type':'tcp'", T0 ".endpoint: missing required key \"port\""},
	{ENDPOINT, "'type':'tcp','portrange':[8000,8010]", T0 ".endpoint.portrange: "},
	/* paths */
	{PATHS, "'sse':{'type':'eventsource','realm':'nope','role':'anonymous'}",
	 P0 ".sse.realm: unknown realm \"nope\""},
	{PATHS, "'sse':{'type':'eventsource','realm':'realm1','role':'admin'}",
	 P0 ".sse.role: role \"admin\" is not defined in realm \"realm1\""},
	{PATHS, "'publish':{'type':'publisher','realm':'realm1','role':'trusted'}",
	 P0 ".publish.role: role \"trusted\" is not defined"},
	{PATHS, SSE "'options':{'hearbeat':5}}",
	 P0 ".sse.options: unknown key \"hearbeat\""},
	{PATHS, SSE "'options':{'heartbeat':'5'}}",
	 P0 ".sse.options.heartbeat: expected a number, not a string"},
	{PATHS, SSE "'options':{'heartbeat':0}}", P0 ".sse.options.heartbeat: 0 is out of range"},
	{PATHS, SSE "'options':{'queue_limit':0}}", P0 ".sse.options.queue_limit: 0 is out of range"},
	{PATHS, SSE "'options':{'allowed_origins':'https://a'}}",
	 P0 ".sse.options.allowed_origins: expected \"*\" or an array of origins"},
	{PATHS, SSE "'options':{'allowed_origins':['https://a',3]}}",
	 P0 ".sse.options.allowed_origins[1]: expected a string"},
	{PATHS, "'sse':{'type':'eventsource','realm':'realm1'}", P0 ".sse: missing required key \"role\""},
	{PATHS, "'a/b':{'type':'static'}", P0 ": invalid path name \"a/b\""},
	{PATHS, "'':{'type':'static'}", P0 ": invalid path name \"\""},
	{PATHS, "'a\\nb':{'type':'static'}", P0 ": invalid path name \"a?b\""},
	{PATHS, "'x':{'type':'path','paths':{}}", P0 ".x.type: path type \"path\" is not supported"},
	{PATHS, "'x':{'type':'redirect','url':'http://x'}",
	 P0 ".x.type: path type \"redirect\" is not supported"},
	{PATHS, "'x':{'type':'wsgi'}", P0 ".x.type: path type \"wsgi\" is not supported"},
	{PATHS, "'x':{'realm':'realm1'}", P0 ".x: missing required key \"type\""},
	{PATHS, "'/':{'type':'static','directory':5}",
	 P0 "[\"/\"].directory: expected a string, not an integer"},
	{PATHS, "'/':{'type':'static','package':'app','resource':'web'}",
	 P0 "[\"/\"].package: static files from a Python package are not supported"},
	{PATHS, "'/':{'type':'static','options':{'enable_directory_listing':1}}",
	 P0 "[\"/\"].options.enable_directory_listing: expected a boolean"},
	{PATHS, "'/':{'type':'static','options':{'mime_types':{'.x':1}}}",
	 P0 "[\"/\"].options.mime_types[\".x\"]: expected a string"},
	{PATHS, "'publish':{'type':'publisher','realm':'realm1','role':'anonymous',"
		"'options':{'key':'k'}}",
	 P0 ".publish.options: signed requests need both \"key\" and \"secret\""},
	{PATHS, "'publish':{'type':'publisher','realm':'realm1','role':'anonymous',"
		"'options':{'require_ip':['127.0.0.1','10.0.0.0/33']}}",
	 P0 ".publish.options.require_ip[1]: \"10.0.0.0/33\" is not an IP address or network"},
	{PATHS, "'publish':{'type':'publisher','realm':'realm1','role':'anonymous',"
		"'options':{'require_ip':'10.0.0.0/255.0.255.0'}}",
	 P0 ".publish.options.require_ip[0]: \"10.0.0.0/255.0.255.0\" is not an IP address"},
	{PATHS, "'publish':{'type':'publisher','realm':'realm1','role':'anonymous',"
		"'options':{'require_tls':'yes'}}",
	 P0 ".publish.options.require_tls: expected a boolean"},
	{PATHS, "'hook':{'type':'webhook','realm':'realm1','role':'anonymous',"
		"'options':{'topic':'a.b','github_secret':''}}",
	 P0 ".hook.options.github_secret: must not be empty"},
	{PATHS, "'publish':{'type':'publisher','realm':'realm1','role':'anonymous',"
		"'options':{'post_body_limit':-1}}",
	 P0 ".publish.options.post_body_limit: -1 is out of range"},
	{PATHS, "'call':{'type':'caller','realm':'realm1','role':'anonymous','options':{'timeout':5}}",
	 P0 ".call.options: unknown key \"timeout\""},
	{PATHS, "'hook':{'type':'webhook','realm':'realm1','role':'anonymous'}",
	 P0 ".hook: missing required key \"options\""},
	{PATHS, "'hook':{'type':'webhook','realm':'realm1','role':'anonymous','options':{}}",
	 P0 ".hook.options: missing required key \"topic\""},
	{PATHS, "'hook':{'type':'webhook','realm':'realm1','role':'anonymous',"
		"'options':{'topic':'a..b'}}", P0 ".hook.options.topic: invalid topic URI"},
	{PATHS, "'ws':{'type':'websocket','auth':{'anonymous':{'type':'static'},'ticket':{}}}",
	 P0 ".ws.auth.ticket: missing required key \"type\""},
	{PATHS, "'ws':{'type':'websocket','auth':{'anonymous':{'type':'dynamic'}}}",
	 P0 ".ws.auth.anonymous: anonymous authentication is static only"},
	{PATHS, "'ws':{'type':'websocket','auth':{'magic':{}}}",
	 P0 ".ws.auth.magic: authentication method \"magic\" is not supported here"},
	{PATHS, "'ws':{'type':'websocket','auth':{'ticket':{'type':'dynamic'}}}",
	 P0 ".ws.auth.ticket: a dynamic method needs \"authenticator\""},
	{PATHS, "'ws':{'type':'websocket','auth':{'ticket':{'type':'static','principals':"
		"{'joe':{'ticket':'${SB_TEST_UNSET_VAR}'}}}}}",
	 P0 ".ws.auth.ticket.principals.joe.ticket: environment variable SB_TEST_UNSET_VAR is not set"},
	{PATHS, "'ws':{'type':'websocket','auth':{'wampcra':{'type':'static','users':"
		"{'joe':{'role':'x'}}}}}",
	 P0 ".ws.auth.wampcra.users.joe: missing required key \"secret\""},
	{PATHS, "'ws':{'type':'websocket','auth':{'cryptosign':{'type':'static','principals':"
		"{'al':{'authorized_keys':['abcd']}}}}}",
	 P0 ".ws.auth.cryptosign.principals.al.authorized_keys[0]: expected an Ed25519 public key"},
	{PATHS, "'ws':{'type':'websocket','auth':{'jwt':{'secret':'s'}}}",
	 P0 ".ws.auth.jwt: authentication method \"jwt\" is not supported here"},
	{PATHS, SSE "'auth':{'wampcra':{'type':'static','users':{}}}}",
	 P0 ".sse.auth.wampcra: authentication method \"wampcra\" is not supported here"},
	{PATHS, SSE "'auth':{'jwt':{'issuer':'me'}}}",
	 P0 ".sse.auth.jwt: give \"secret\" (HS256) or \"public_key\" (RS256, ES256)"},
	{PATHS, SSE "'auth':{'jwt':{'public_key':'/nonexistent.pem'}}}",
	 P0 ".sse.auth.jwt.public_key: /nonexistent.pem: cannot read a PEM public key"},
	{PATHS, "'ws':{'type':'websocket','options':{'allowed_origins':'*'}}",
	 P0 ".ws.options.allowed_origins: expected an array, not a string"},
	{PATHS, "'ws':{'type':'websocket','serializers':['json','xml']}",
	 P0 ".ws.serializers[1]: unknown value \"xml\""},
	{PATHS, "'ws':{'type':'websocket','options':{'max_message_size':0}}",
	 P0 ".ws.options.max_message_size: 0 is out of range"},
	{PATHS, "'ws':{'type':'websocket','options':{'compresion':{}}}",
	 P0 ".ws.options: unknown key \"compresion\" (did you mean \"compression\"?)"},
	{PATHS, "'ws':'websocket'", P0 ".ws: expected an object, not a string"},
	{PATHS, "'info':{'type':'nodeinfo','extra':1}", P0 ".info: unknown key \"extra\""},
	/* container components */
	{COMPONENT, "'type':'class','classname':'my.Component','realm':'realm1'," TO ",'extra':{}",
	 C0 ".classname: component class \"my.Component\" is not supported"},
	{COMPONENT, "'type':'function','classname':'" CALLEE "','realm':'realm1'," TO ",'extra':{}",
	 C0 ".type: component type \"function\" is not supported"},
	{COMPONENT, "'type':'class','realm':'realm1'," TO ",'extra':{}",
	 C0 ": missing required key \"classname\""},
	{COMPONENT, "'type':'class','classname':'" CALLEE "','realm':'realm1','extra':"
		    "{'procedure':'api.x','baseurl':''}", C0 ": missing required key \"transport\""},
	{COMPONENT, "'type':'class','classname':'" CALLEE "','realm':'realm1','role':'a'," TO
		    ",'extra':{'procedure':'api.x','baseurl':''}", C0 ": unknown key \"role\""},
	{COMPONENT, "'type':'class','classname':'" CALLEE "','realm':'realm1'," TO ",'extra':{}",
	 C0 ".extra: missing required key \"procedure\""},
	{COMPONENT, "'type':'class','classname':'" CALLEE "','realm':'realm1'," TO
		    ",'extra':{'procedure':'api.x','baseurl':'','timout':5}",
	 C0 ".extra: unknown key \"timout\" (did you mean \"timeout\"?)"},
	{COMPONENT, "'type':'class','classname':'" CALLEE "','realm':'realm1'," TO
		    ",'extra':{'procedure':'api.x','baseurl':'ftp://h/'}",
	 C0 ".extra.baseurl: \"ftp://h/\": only http and https URLs are supported"},
	{COMPONENT, "'type':'class','classname':'" CALLEE "','realm':'realm1'," TO
		    ",'extra':{'procedure':'api.x','baseurl':''}",
	 C0 ".extra.procedure: role \"anonymous\" of realm \"realm1\" may not register \"api.x\""},
	{COMPONENT, "'type':'class','classname':'" CALLEE "','realm':'realm2'," TO
		    ",'extra':{'procedure':'api.x','baseurl':''}",
	 C0 ".realm: unknown realm \"realm2\""},
	{COMPONENT, "'type':'class','classname':'" FORWARDER "','realm':'realm1'," TO
		    ",'extra':{'subscriptions':[{'topic':'a','url':'http://h/','match':'glob'}]}",
	 C0 ".extra.subscriptions[0].match: unknown match \"glob\""},
	{COMPONENT, "'type':'class','classname':'" FORWARDER "','realm':'realm1'," TO
		    ",'extra':{'subscriptions':[{'topic':'a','url':'/hook'}]}",
	 C0 ".extra.subscriptions[0].url: \"/hook\" is not an absolute URL"},
	{COMPONENT, "'type':'class','classname':'" FORWARDER "','realm':'realm1'," TO
		    ",'extra':{'subscriptions':[]}",
	 C0 ".extra.subscriptions: must list at least one"},
	{COMPONENT, "'type':'class','classname':'" FORWARDER "','realm':'realm1'," TO
		    ",'extra':{'subscriptions':[{'topic':'a','url':'http://h/'}],'expectedcode':99}",
	 C0 ".extra.expectedcode: 99 is out of range"},
	{COMPONENT, "'type':'class','classname':'" FORWARDER "','realm':'realm1'," TO
		    ",'extra':{'subscriptions':[{'topic':'a','url':'http://h/'}],'method':'post'}",
	 C0 ".extra.method: \"post\" is not an HTTP method"},
	{COMPONENT, "'type':'class','classname':'" FORWARDER "','realm':'realm1',"
		    "'transport':{'type':'websocket','endpoint':{'type':'tcp','hots':'h'}},"
		    "'extra':{'subscriptions':[{'topic':'a','url':'http://h/'}]}",
	 C0 ".transport.endpoint: unknown key \"hots\" (did you mean \"host\"?)"},
	/* history */
	{HISTORY, "'path':''", "t.json: history.path: must not be empty"},
	{HISTORY, "'sync':'sometimes'", "t.json: history.sync: unknown value \"sometimes\""},
	{HISTORY, "'sink':1", "t.json: history: unknown key \"sink\""},
	{HISTORY, "'retention':[{'uri':'a b'}]", "t.json: history.retention[0].uri: invalid URI pattern"},
	{HISTORY, "'retention':[{'uri':'a','max_events':-5}]",
	 "t.json: history.retention[0].max_events: -5 is out of range"},
	{HISTORY, "'retention':[{'uri':'a','max_age':'1d'}]",
	 "t.json: history.retention[0].max_age: expected an integer, not a string"},
	{HISTORY, "'retention':[{'max_events':5}]",
	 "t.json: history.retention[0]: missing required key \"uri\""},
	{HISTORY, "'retention':[{'uri':'a','match':'glob'}]",
	 "t.json: history.retention[0].match: unknown match \"glob\""},
	{HISTORY, "'retention':{}", "t.json: history.retention: expected an array"},
};

static void test_bad(void)
{
	setenv("SB_TEST_BAD_PORT", "http", 1);
	unsetenv("SB_TEST_UNSET_VAR");
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct sb_config cfg;
		char err[512] = "";
		int rc = parse_q(&cfg, templates[bad_cases[i].where], bad_cases[i].snippet, err, sizeof(err));
		bool pass = rc == -1 && strstr(err, bad_cases[i].want) && !strchr(err, '\n') &&
			    is_empty(&cfg);
		if (!ok(pass, "bad %zu: %s", i, bad_cases[i].want) || getenv("TEST_VERBOSE"))
			diag("rc %d, error: %s", rc, err);
		if (rc == 0)
			config_free(&cfg);
	}
}

/* ---- init: starter file round trip -------------------------------------- */

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	static char buf[16384];
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return buf;
}

static void test_starter(void)
{
	char tmpl[] = "/tmp/sb-test-config-XXXXXX";
	char *tmp = mkdtemp(tmpl);
	if (!ok(tmp != NULL, "temp dir")) {
		diag("mkdtemp: %s", strerror(errno));
		return;
	}
	char dir[PATH_MAX], file[PATH_MAX + 16], db[PATH_MAX + 16], err[512];
	snprintf(dir, sizeof(dir), "%s/a/b/.switchboard", tmp);
	snprintf(file, sizeof(file), "%s/config.json", dir);
	snprintf(db, sizeof(db), "%s/switchboard.db", dir);

	ok(config_write_starter(dir, err, sizeof(err)) == 0, "init writes a starter (mkdir -p)");
	const char *text = slurp(file);
	ok(text && !strcmp(text, config_default_json), "starter is the embedded default");
	ok(config_write_starter(dir, err, sizeof(err)) == -1 && strstr(err, "already exists"),
	   "init refuses to overwrite: %s", err);

	struct sb_config cfg;
	if (ok(config_load_file(&cfg, file, err, sizeof(err)) == 0, "starter loads")) {
		is_str(cfg.source, file, "source is the file name");
		is_str(cfg.cbdir, dir, "cbdir is the file's directory");
		is_str(cfg.history.path, db, "history path resolved against cbdir");
		ok(cfg.n_transports == 1 && cfg.transports[0].n_paths == 6,
		   "starter: same transport and paths as the default");
	} else {
		diag("%s", err);
	}
	config_free(&cfg);

	/* A relative --config: cbdir still comes out absolute. */
	if (chdir(tmp) == 0) {
		char want[PATH_MAX + 32];
		snprintf(want, sizeof(want), "%s/a/b/.switchboard", tmp);
		if (ok(config_load_file(&cfg, "a/b/.switchboard/config.json", err, sizeof(err)) == 0,
		       "relative config path loads"))
			is_str(cfg.cbdir, want, "relative config: cbdir made absolute");
		config_free(&cfg);
		if (chdir(cwd) != 0)
			abort();
	}

	char bad[PATH_MAX + 16];
	snprintf(bad, sizeof(bad), "%s/bad.json", tmp);
	FILE *fp = fopen(bad, "w");
	fputs("{\n  \"version\": 2,\n  \"workers\": [,]\n}\n", fp);
	fclose(fp);
	ok(config_load_file(&cfg, bad, err, sizeof(err)) == -1 && strstr(err, bad) &&
	   strstr(err, "line 3") && is_empty(&cfg), "invalid file: error names file and line: %s", err);

	snprintf(file, sizeof(file), "%s/missing.json", tmp);
	ok(config_load_file(&cfg, file, err, sizeof(err)) == -1 && strstr(err, "cannot open") &&
	   is_empty(&cfg), "missing file: %s", err);

	/* A file where a directory should be. */
	snprintf(file, sizeof(file), "%s/bad.json/sub", tmp);
	ok(config_write_starter(file, err, sizeof(err)) == -1 && strstr(err, "cannot create"),
	   "init under a file fails: %s", err);

	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		diag("could not remove %s", tmp);
}

int main(void)
{
	if (!getcwd(cwd, sizeof(cwd)))
		return 1;
	test_default();
	test_seed();
	test_starred();
	test_values();
	test_bridge();
	test_auth();
	test_tls();
	test_bad();
	test_starter();
	return done_testing();
}
