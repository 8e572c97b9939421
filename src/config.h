/* config.h - the gateway's configuration as plain structs.
 *
 * config.c turns a Crossbar-shaped config.json (or the embedded default)
 * into these structs once, at start-up; nothing outside config.c ever sees
 * the json_t.  Every string is owned by the struct that holds it and freed
 * by config_free().
 */
#ifndef SB_CONFIG_H
#define SB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "uri.h"

/* ---- realms, roles, permissions ---------------------------------------- */

struct sb_permission {
	char *uri;                 /* may be "" (prefix "" = everything) */
	enum uri_match match;
	bool allow_call, allow_register, allow_publish, allow_subscribe;
	bool disclose_caller, disclose_publisher;
	bool cache;
};

struct sb_role {
	char *name;
	struct sb_permission *permissions;
	size_t n_permissions;
	char *authorizer;          /* dynamic authorizer procedure, or NULL */
};

struct sb_realm {
	char *name;
	struct sb_role *roles;
	size_t n_roles;
};

/* ---- authentication: a websocket or eventsource path's "auth" ----------- */

enum sb_auth_method {
	SB_AUTH_ANONYMOUS, SB_AUTH_TICKET, SB_AUTH_WAMPCRA, SB_AUTH_CRYPTOSIGN,
	SB_AUTH_JWT,               /* eventsource paths only */
	SB_AUTH_N_METHODS
};

struct sb_principal {          /* a static ticket, wampcra or cryptosign user */
	char *authid;
	char *secret;              /* ticket, or wampcra secret (${VAR} expanded) */
	char *role;                /* NULL = the method's default-role */
	char *realm;               /* cryptosign: the only realm it may join */
	char *salt;                /* wampcra: salted when set */
	int iterations, keylen;
	unsigned char (*keys)[32]; /* cryptosign: authorized Ed25519 public keys */
	size_t n_keys;
};

struct sb_auth_method_cfg {
	bool is_enabled;
	bool is_dynamic;
	char *authenticator;       /* dynamic: the procedure */
	char *authenticator_realm; /* NULL = the realm the client asked for */
	char *authenticator_role;  /* default "trusted" */
	char *role;                /* anonymous: its role; others: default-role */
	char *authid;              /* anonymous: a fixed authid (NULL = random) */
	struct sb_principal *principals;
	size_t n_principals;

	/* jwt */
	char *jwt_secret;          /* HS256 */
	char *jwt_public_key;      /* PEM text: RS256 / ES256 */
	bool jwt_allows[3];        /* HS256, RS256, ES256 ("algorithms"; all by default) */
	char *issuer, *audience;   /* checked when set */
	char *role_claim, *topics_claim;
};

struct sb_auth {
	bool is_set;               /* the path has an "auth" object */
	struct sb_auth_method_cfg methods[SB_AUTH_N_METHODS];
};

/* ---- transports and their paths ---------------------------------------- */

struct sb_cidr {               /* an address range of require_ip */
	int family;                /* AF_INET or AF_INET6 */
	unsigned char addr[16];    /* network byte order, masked */
	int prefix;                /* leading bits that must match */
};

enum sb_path_type {
	SB_PATH_STATIC,
	SB_PATH_WEBSOCKET,
	SB_PATH_PUBLISHER,
	SB_PATH_CALLER,
	SB_PATH_EVENTSOURCE,
	SB_PATH_NODEINFO,
	SB_PATH_WEBHOOK,
};

struct sb_cors {
	char **allowed_origins;    /* "*" = any origin (echoed back) */
	size_t n_allowed_origins;
};

struct sb_path {
	char *name;                /* "/" or one segment: "ws", "publish" */
	enum sb_path_type type;
	char *realm, *role;        /* publisher, caller, eventsource, webhook */

	/* static */
	char *directory;           /* absolute; NULL = the default www root */
	bool directory_listing;
	int cache_timeout_s;       /* Cache-Control max-age; -1 = revalidate
				      (no-cache, the default); -2 = no header */

	/* publisher, caller, webhook */
	size_t post_body_limit;    /* bytes; default 65536 */

	/* eventsource */
	int heartbeat_s;           /* comment line interval; default 15 */
	int retry_ms;              /* "retry:" sent first; default 3000 */
	size_t queue_limit;        /* messages queued per slow client; default 1024 */
	struct sb_cors cors;

	/* websocket and eventsource */
	struct sb_auth auth;
	char *token_cookie, *token_query;  /* eventsource: where tokens may come */

	/* websocket (queue_limit above: outgoing messages per session) */
	size_t max_message_size;   /* bytes; default 1048576 */
	int auto_ping_interval_ms; /* ping an idle peer; 0 = never; default 30000 */
	int auto_ping_timeout_ms;  /* then hang up after this; default 10000 */
	int auth_failure_delay_ms; /* ABORT after a failed login waits this long,
				      doubling per failure from the address; 500 */
	int auth_failure_delay_max_ms;  /* default 10000 */
	char **allowed_origins;    /* WebSocket upgrades; NULL = the default rule */
	size_t n_allowed_origins;
	bool allow_null_origin;

	/* webhook */
	char *webhook_topic;       /* topic to publish on */
	char *success_response, *error_response;  /* reply texts; "OK", "NOT OK" */
	char *github_secret;       /* require X-Hub-Signature (HMAC-SHA1); NULL = no */

	/* publisher, caller: Crossbar's signed requests and restrictions */
	char *key, *secret;        /* both set: requests must be signed */
	int timestamp_delta_limit_s; /* 0 = no check; default 300 */
	struct sb_cidr *require_ip; /* NULL = any address */
	size_t n_require_ip;
	bool require_tls;
};

enum sb_transport_type { SB_TRANSPORT_WEB, SB_TRANSPORT_WEBSOCKET };

/* A listening endpoint's TLS files, Crossbar's keys; paths are absolute
 * (relative ones were resolved against the config's directory). */
struct sb_tls {
	char *key;                 /* PEM private key, not passphrase-protected */
	char *certificate;         /* PEM; certificates after the first are chain */
	char **chain_certificates; /* PEM files completing the chain, in order */
	size_t n_chain_certificates;
	char *dhparam;             /* PEM DH parameters; NULL = OpenSSL's built-in */
	char *ciphers;             /* OpenSSL cipher string (TLS 1.2); NULL = default */
	char **ca_certificates;    /* set: clients must present a certificate */
	size_t n_ca_certificates;  /* signed by one of these CAs */
};

struct sb_endpoint {
	char *interface;           /* listening address; NULL = all (0.0.0.0) */
	int port;
	int backlog;               /* default 1024 */
	struct sb_tls *tls;        /* NULL = plain TCP */
};

struct sb_transport {
	enum sb_transport_type type;
	struct sb_endpoint endpoint;
	struct sb_path *paths;     /* web: its paths; websocket: one path "/" */
	size_t n_paths;
	size_t max_connections;    /* default 20000 */
	size_t connection_memory;  /* MHD bytes per connection; default 8192 */
	bool access_log;           /* log one line per answered request */
	int client_timeout_s;      /* idle HTTP connections close; default 60 */
	bool http2;                /* TLS: offer h2 in ALPN; default false */
	bool hsts;                 /* TLS: send Strict-Transport-Security */
	int hsts_max_age_s;        /* its max-age; default 31536000 */
};

/* ---- components: REST bridge services run in-process -------------------- */

enum sb_component_type { SB_COMPONENT_REST_CALLEE, SB_COMPONENT_FORWARDER };

struct sb_forward {            /* one MessageForwarder subscription */
	char *topic;
	enum uri_match match;
	char *url;
};

struct sb_component {
	enum sb_component_type type;
	char *name;                /* its "id", or derived: the session's authid,
				      the forwarder's cursor name */
	char *where;               /* "workers[1].components[0]", for log lines */
	char *realm, *role;
	char *transport_url;       /* container: the "url" Crossbar connects to */
	int timeout_ms;            /* per outgoing request; 0 = none */
	int connect_timeout_ms;

	/* RESTCallee */
	char *procedure;
	char *baseurl;             /* "" = absolute URLs only */

	/* MessageForwarder */
	struct sb_forward *subscriptions;
	size_t n_subscriptions;
	char *method;              /* default "POST" */
	int expected_code;         /* 0 = any 2xx */
	bool debug;                /* log each response */
	int retry_delay_ms;        /* first retry; doubles up to retry_max_delay_ms */
	int retry_max_delay_ms;
	int max_attempts;          /* then dead-letter; 0 = never */
};

/* ---- history ----------------------------------------------------------- */

struct sb_retention {
	char *uri;
	enum uri_match match;
	long max_events;           /* per topic; 0 = no count limit */
	long max_age_s;            /* 0 = no age limit */
};

struct sb_history {
	char *path;                /* default "switchboard.db" (cwd) */
	bool sync_full;            /* fsync every commit (power-loss safe) */
	struct sb_retention *rules; /* first most specific rule wins */
	size_t n_rules;
};

struct sb_config {
	char *source;              /* file name for messages, or "(default)" */
	char *cbdir;               /* relative paths resolve here */
	struct sb_realm *realms;
	size_t n_realms;
	struct sb_transport *transports;
	size_t n_transports;
	struct sb_component *components;
	size_t n_components;
	struct sb_history history;
};

/* The embedded default config, as JSON text (what `init` writes out). */
extern const char config_default_json[];

/* Parse JSON text into *cfg.  source names it in errors, cbdir resolves
 * relative paths.  Returns 0, or -1 with a one-line message in err naming
 * the key path: `config.json: workers[0].transports[1].paths: unknown key
 * "sse2"`.  On failure *cfg is left empty (nothing to free). */
int config_parse(struct sb_config *cfg, const char *json_text,
		 const char *source, const char *cbdir, char *err, size_t errlen);

/* Read and parse a file; cbdir is the file's directory. Same contract. */
int config_load_file(struct sb_config *cfg, const char *path,
		     char *err, size_t errlen);

/* Parse the embedded default. Cannot fail unless the default is broken. */
int config_load_default(struct sb_config *cfg, char *err, size_t errlen);

/* Write a starter DIR/config.json (the embedded default). Creates DIR.
 * Refuses to overwrite. Returns 0 or -1 with err set. */
int config_write_starter(const char *dir, char *err, size_t errlen);

/* Frees everything *cfg owns and zeroes it. */
void config_free(struct sb_config *cfg);

/* Lookups; borrowed pointers, valid while cfg lives. */
const struct sb_realm *config_realm(const struct sb_config *cfg, const char *name);
const struct sb_role *config_role(const struct sb_realm *realm, const char *name);

#endif
