/* auth.c - WAMP authentication (see auth.h).
 *
 * One struct auth_state lives from HELLO to WELCOME or ABORT.  Static
 * methods look the principal up at HELLO; dynamic ones ask the
 * authenticator (at HELLO for wampcra and cryptosign, which need the
 * secret or key before they can challenge; after AUTHENTICATE for ticket,
 * whose ticket is the credential).  Every comparison of a secret is
 * constant-time.
 */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "caller.h"
#include "gateway.h"
#include "log.h"
#include "router.h"
#include "util.h"

#define AUTHENTICATE_WITHIN_MS 30000
#define AUTHENTICATOR_TIMEOUT_MS 10000
#define FAILURES_TRACKED 100000        /* addresses; then start afresh */
#define FAILURES_FORGOTTEN_MS (10 * 60 * 1000)

static const char *const method_names[SB_AUTH_N_METHODS] = {
	[SB_AUTH_ANONYMOUS] = "anonymous", [SB_AUTH_TICKET] = "ticket",
	[SB_AUTH_WAMPCRA] = "wampcra", [SB_AUTH_CRYPTOSIGN] = "cryptosign", [SB_AUTH_JWT] = "jwt",
};

struct auth_state {
	struct session *s;
	struct realm *realm;
	enum sb_auth_method method;
	const struct sb_auth_method_cfg *cfg;
	char *authid;              /* asked for, then the principal's */
	char *role;                /* once known */
	json_t *authextra;         /* HELLO's */
	json_t *welcome_extra;     /* the authenticator's "extra", for WELCOME */
	uint64_t session_id;       /* the id WELCOME will carry */

	char *challenge;           /* wampcra: the challenge text sent */
	char *secret, *salt;       /* wampcra: what the signature is keyed with */
	int iterations, keylen;
	unsigned char nonce[32];   /* cryptosign: the challenge bytes */
	unsigned char pubkey[32];  /* cryptosign: the client's key */

	struct caller *caller;     /* a dynamic authenticator call in flight */
	uint64_t call;
	uv_timer_t *timer;         /* AUTHENTICATE deadline, or the delayed ABORT */
	bool is_failing;           /* the ABORT is waiting out the delay */
	bool is_known;             /* a principal (or the authenticator) vouched */
	char abort_uri[96], abort_message[256];
};

/* ---- ending --------------------------------------------------------------------- */

static void timer_closed(uv_handle_t *h)
{
	free(h);
}

static void stop_timer(struct auth_state *a)
{
	if (a->timer) {
		uv_timer_stop(a->timer);
		uv_close((uv_handle_t *)a->timer, timer_closed);
		a->timer = NULL;
	}
}

static void state_free(struct auth_state *a)
{
	stop_timer(a);
	if (a->caller)
		caller_forget(a->caller, a->call);
	free(a->authid);
	free(a->role);
	json_decref(a->authextra);
	json_decref(a->welcome_extra);
	free(a->challenge);
	if (a->secret)
		OPENSSL_cleanse(a->secret, strlen(a->secret));
	free(a->secret);
	free(a->salt);
	free(a);
}

void auth_cancel(struct session *s)
{
	if (s->auth)
		state_free(s->auth);
	s->auth = NULL;
}

static void welcome(struct auth_state *a, const char *provider)
{
	struct session *s = a->s;
	char *authid = a->authid, *role = a->role;
	json_t *extra = a->welcome_extra;
	struct realm *realm = a->realm;
	const char *method = method_names[a->method];
	uint64_t id = a->session_id;
	a->authid = a->role = NULL;
	a->welcome_extra = NULL;
	auth_cancel(s);
	router_welcome(s, realm, id, role ? role : "anonymous", authid, method, provider, extra);
	free(authid);
	free(role);
	json_decref(extra);
}

/* ---- failures, slowed down per address ------------------------------------------------ */

struct failures {
	int count;
	int64_t last_ms;
};

/* The client's address without the port: "1.2.3.4:5" or "[::1]:5". */
static void address_of(const struct session *s, char *out, size_t size)
{
	const char *p = s->peer, *end = p[0] == '[' ? strchr(p, ']') : strrchr(p, ':');
	if (p[0] == '[')
		p++;
	snprintf(out, size, "%.*s", end ? (int)(end - p) : (int)strlen(p), p);
}

static struct failures *failures_of(struct gateway *gw, const char *address, bool create)
{
	struct failures *f = map_get(&gw->auth_failures, address, strlen(address));
	if (f && now_ms() - f->last_ms > FAILURES_FORGOTTEN_MS)
		f->count = 0;
	if (!f && create) {
		if (gw->auth_failures.count >= FAILURES_TRACKED)
			auth_forget_failures(gw);
		f = xcalloc(1, sizeof *f);
		map_put(&gw->auth_failures, address, strlen(address), f);
	}
	return f;
}

static void free_failures(const char *key, void *value, void *ctx)
{
	free(value);
}

void auth_forget_failures(struct gateway *gw)
{
	map_each(&gw->auth_failures, free_failures, NULL);
	map_clear(&gw->auth_failures);
}

static void on_abort_due(uv_timer_t *t)
{
	struct auth_state *a = t->data;
	router_abort(a->s, a->abort_uri, 1000, "%s", a->abort_message);
}

/* Failed credentials: ABORT uri now or, after recent failures from the
 * same address, later (doubling per failure), so guessing is slow.  why
 * goes to the log only: the client learns nothing about what was wrong. */
static void fail(struct auth_state *a, const char *uri, const char *message, const char *why)
{
	struct session *s = a->s;
	struct gateway *gw = router_gateway(s->router);
	char address[64];
	address_of(s, address, sizeof address);
	struct failures *f = failures_of(gw, address, true);
	f->count++;
	f->last_ms = now_ms();
	log_msg(LOG_INFO, "auth", "%s: %s authentication of \"%s\" failed (%s); %d in a row from "
		"this address", s->peer, method_names[a->method], a->authid ? a->authid : "",
		why, f->count);
	int64_t delay = s->path ? s->path->auth_failure_delay_ms : 0;
	int64_t max = s->path ? s->path->auth_failure_delay_max_ms : 0;
	for (int i = 1; i < f->count && delay < max; i++)
		delay *= 2;
	if (delay > max)
		delay = max;
	stop_timer(a);
	if (delay <= 0) {
		router_abort(s, uri, 1000, "%s", message);
		return;
	}
	snprintf(a->abort_uri, sizeof a->abort_uri, "%s", uri);
	snprintf(a->abort_message, sizeof a->abort_message, "%s", message);
	a->is_failing = true;
	a->timer = xmalloc(sizeof *a->timer);
	uv_timer_init(gw->loop, a->timer);
	a->timer->data = a;
	uv_timer_start(a->timer, on_abort_due, (uint64_t)delay, 0);
}

static void succeeded(struct auth_state *a)
{
	char address[64];
	address_of(a->s, address, sizeof address);
	struct failures *f = failures_of(router_gateway(a->s->router), address, false);
	if (f)
		f->count = 0;
}

/* ---- the secrets ---------------------------------------------------------------------- */

static bool same_text(const char *a, const char *b)
{
	size_t n = strlen(b);
	return a && strlen(a) == n && CRYPTO_memcmp(a, b, n) == 0;
}

/* base64(HMAC-SHA256(key, text)), as Autobahn signs a WAMP-CRA challenge. */
static void cra_signature(const char *key, const char *text, char out[64])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)text, strlen(text), mac,
	     &len);
	EVP_EncodeBlock((unsigned char *)out, mac, (int)len);
}

/* base64(PBKDF2-HMAC-SHA256(password, salt, iterations, keylen)): the key
 * Autobahn's derive_key() makes of a salted secret. */
static char *derived_key(const char *password, const char *salt, int iterations, int keylen)
{
	unsigned char *raw = xmalloc((size_t)keylen);
	char *b64 = xmalloc(4 * ((size_t)keylen + 2) / 3 + 1);
	PKCS5_PBKDF2_HMAC(password, (int)strlen(password), (const unsigned char *)salt,
			  (int)strlen(salt), iterations, EVP_sha256(), keylen, raw);
	EVP_EncodeBlock((unsigned char *)b64, raw, keylen);
	free(raw);
	return b64;
}

/* A salted secret may be stored as the password (Crossbar >= 25.12, which
 * derives the key itself) or already derived (older Crossbar and its
 * examples): a signature made with either key is accepted. */
static bool cra_signature_valid(const struct auth_state *a, const char *signature)
{
	char expected[64];
	cra_signature(a->secret, a->challenge, expected);
	bool is_valid = same_text(signature, expected);
	if (a->salt) {
		char *key = derived_key(a->secret, a->salt, a->iterations, a->keylen);
		cra_signature(key, a->challenge, expected);
		is_valid |= same_text(signature, expected);
		OPENSSL_cleanse(key, strlen(key));
		free(key);
	}
	return is_valid;
}

static int hex_decode(const char *hex, unsigned char *out, size_t n)
{
	if (!hex || strlen(hex) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = OPENSSL_hexchar2int((unsigned char)hex[2 * i]);
		int lo = OPENSSL_hexchar2int((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

/* AUTHENTICATE for cryptosign: hex(signature 64 B || challenge 32 B). */
static bool ed25519_valid(const struct auth_state *a, const char *hex)
{
	unsigned char signed_msg[96];
	if (hex_decode(hex, signed_msg, sizeof signed_msg) < 0 ||
	    CRYPTO_memcmp(signed_msg + 64, a->nonce, 32) != 0)
		return false;
	EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, a->pubkey, 32);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool is_valid = key && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
			EVP_DigestVerify(ctx, signed_msg, 64, a->nonce, 32) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	return is_valid;
}

/* ---- challenges ------------------------------------------------------------------------- */

static void start_deadline(struct auth_state *a);

static void challenge_ticket(struct auth_state *a)
{
	session_send(a->s, json_pack("[i, s, {}]", WAMP_CHALLENGE, "ticket"));
	start_deadline(a);
}

/* Crossbar's challenge: a JSON text the client signs as it is. */
static void challenge_wampcra(struct auth_state *a, const char *provider)
{
	unsigned char nonce[16];
	char nonce_hex[33], when[32];
	RAND_bytes(nonce, sizeof nonce);
	hex_encode(nonce, sizeof nonce, nonce_hex);
	int64_t ms = now_ms();
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + n, sizeof when - n, ".%03dZ", (int)(ms % 1000));
	json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "authid", a->authid,
			      "authrole", a->role ? a->role : "", "authmethod", "wampcra",
			      "authprovider", provider, "session", (json_int_t)a->session_id,
			      "nonce", nonce_hex, "timestamp", when);
	a->challenge = json_dumps(c, JSON_COMPACT);
	json_decref(c);
	json_t *extra = json_pack("{s:s}", "challenge", a->challenge);
	if (a->salt)
		json_object_update_new(extra, json_pack("{s:s, s:i, s:i}", "salt", a->salt,
							"iterations", a->iterations, "keylen",
							a->keylen));
	session_send(a->s, json_pack("[i, s, o]", WAMP_CHALLENGE, "wampcra", extra));
	start_deadline(a);
}

static void challenge_cryptosign(struct auth_state *a)
{
	char hex[65];
	RAND_bytes(a->nonce, sizeof a->nonce);
	hex_encode(a->nonce, sizeof a->nonce, hex);
	session_send(a->s, json_pack("[i, s, {s:s, s:n}]", WAMP_CHALLENGE, "cryptosign",
				     "challenge", hex, "channel_binding"));
	start_deadline(a);
}

static void on_deadline(uv_timer_t *t)
{
	struct auth_state *a = t->data;
	router_abort(a->s, "wamp.error.timeout", 1000, "no AUTHENTICATE within %d s of the "
		     "CHALLENGE", AUTHENTICATE_WITHIN_MS / 1000);
}

static void start_deadline(struct auth_state *a)
{
	a->timer = xmalloc(sizeof *a->timer);
	uv_timer_init(router_gateway(a->s->router)->loop, a->timer);
	a->timer->data = a;
	uv_timer_start(a->timer, on_deadline, AUTHENTICATE_WITHIN_MS, 0);
}

/* ---- principals and authenticators ------------------------------------------------------ */

static const struct sb_principal *principal(const struct sb_auth_method_cfg *cfg,
					    const char *authid)
{
	for (size_t i = 0; authid && i < cfg->n_principals; i++)
		if (!strcmp(cfg->principals[i].authid, authid))
			return &cfg->principals[i];
	return NULL;
}

static const struct sb_principal *principal_by_key(const struct sb_auth_method_cfg *cfg,
						   const char *authid, const unsigned char key[32])
{
	for (size_t i = 0; i < cfg->n_principals; i++) {
		const struct sb_principal *p = &cfg->principals[i];
		if (authid && strcmp(p->authid, authid))
			continue;
		for (size_t k = 0; k < p->n_keys; k++)
			if (!memcmp(p->keys[k], key, 32))
				return p;
	}
	return NULL;
}

static void take_principal(struct auth_state *a, const struct sb_principal *p)
{
	free(a->authid);
	free(a->role);
	a->authid = xstrdup(p->authid);
	a->role = xstrdup(p->role ? p->role : a->cfg->role ? a->cfg->role : "anonymous");
	a->is_known = true;
}

static void welcome_known(struct auth_state *a)
{
	succeeded(a);
	welcome(a, a->cfg->is_dynamic ? "dynamic" : "static");
}

/* Errors that mean the authenticator did not decide (it is missing, broke,
 * or timed out), as opposed to an ApplicationError it raised on purpose. */
static bool is_authenticator_failure(const char *uri)
{
	static const char *const failures[] = {
		"wamp.error.no_such_procedure", "wamp.error.runtime_error", "wamp.error.canceled",
		"wamp.error.timeout", "wamp.error.unavailable",
	};
	for (size_t i = 0; i < sizeof failures / sizeof *failures; i++)
		if (!strcmp(uri, failures[i]))
			return true;
	return false;
}

static char *string_member(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? xstrdup(s) : NULL;
}

/* Applies the authenticator's answer: a role, or {role, authid, realm,
 * extra, secret, salt, iterations, keylen, pubkey}.  False if malformed. */
static bool take_verdict(struct auth_state *a, const json_t *v)
{
	if (json_is_string(v)) {
		free(a->role);
		a->role = xstrdup(json_string_value(v));
		return a->is_known = true;
	}
	const char *role = json_string_value(json_object_get(v, "role"));
	if (!json_is_object(v) || !(role || a->cfg->role))
		return false;              /* no role, and no default-role either */
	free(a->role);
	a->role = xstrdup(role ? role : a->cfg->role);
	if (json_is_string(json_object_get(v, "authid"))) {
		free(a->authid);
		a->authid = string_member(v, "authid");
	}
	const char *realm = json_string_value(json_object_get(v, "realm"));
	if (realm && !(a->realm = router_find_realm(a->s->router, realm)))
		return false;
	json_decref(a->welcome_extra);
	a->welcome_extra = json_incref(json_object_get(v, "extra"));
	if (json_is_string(json_object_get(v, "secret"))) {
		free(a->secret);
		a->secret = string_member(v, "secret");
		a->salt = string_member(v, "salt");
		a->iterations = (int)(json_integer_value(json_object_get(v, "iterations")) ?: 1000);
		a->keylen = (int)(json_integer_value(json_object_get(v, "keylen")) ?: 32);
	}
	const char *pubkey = json_string_value(json_object_get(v, "pubkey"));
	unsigned char key[32];
	if (a->method == SB_AUTH_CRYPTOSIGN &&
	    (hex_decode(pubkey, key, 32) < 0 || memcmp(key, a->pubkey, 32) != 0))
		return false;              /* it must vouch for the key the client holds */
	return a->is_known = true;
}

static void after_verdict(struct auth_state *a)
{
	switch (a->method) {
	case SB_AUTH_WAMPCRA:
		if (!a->secret)
			router_abort(a->s, "wamp.error.authentication_failed", 1000,
				     "the authenticator gave no secret for WAMP-CRA");
		else
			challenge_wampcra(a, "dynamic");
		break;
	case SB_AUTH_CRYPTOSIGN:
		challenge_cryptosign(a);
		break;
	default:
		welcome_known(a);
		break;
	}
}

static void on_verdict(void *ctx, const json_t *answer)
{
	struct auth_state *a = ctx;
	a->caller = NULL;
	if (json_integer_value(json_array_get(answer, 0)) == WAMP_ERROR) {
		const char *uri = json_string_value(json_array_get(answer, 4));
		const char *text = json_string_value(json_array_get(wamp_args(answer, 5), 0));
		if (is_authenticator_failure(uri)) {
			log_msg(LOG_WARN, "auth", "%s: authenticator %s failed: %s %s (check that it is "
				"registered and works)", a->s->peer, a->cfg->authenticator, uri,
				text ? text : "");
			router_abort(a->s, "wamp.error.authentication_failed", 1000,
				     "authentication failed");
		} else {
			fail(a, uri, text ? text : "authentication failed", "the authenticator said no");
		}
		return;
	}
	if (!take_verdict(a, json_array_get(wamp_args(answer, 3), 0))) {
		log_msg(LOG_WARN, "auth", "%s: authenticator %s answered something that is not a "
			"role or {role, ...} (or named an unknown realm, or another pubkey)",
			a->s->peer, a->cfg->authenticator);
		router_abort(a->s, "wamp.error.authentication_failed", 1000, "authentication failed");
		return;
	}
	after_verdict(a);
}

/* Crossbar's call: authenticator(realm, authid, details). */
static void ask_authenticator(struct auth_state *a, json_t *extra_details)
{
	const struct sb_auth_method_cfg *cfg = a->cfg;
	struct session *s = a->s;
	char address[64], peer[96];
	address_of(s, address, sizeof address);
	const char *port = strrchr(s->peer, ':');
	snprintf(peer, sizeof peer, "tcp%s:%s%s", strchr(address, ':') ? "6" : "4", address,
		 port ? port : "");        /* Twisted's peer string: tcp4:1.2.3.4:5555 */
	json_t *details = json_pack("{s:I, s:s, s:o, s:O, s:{s:s, s:s}}", "session",
				    (json_int_t)a->session_id, "authmethod", method_names[a->method],
				    "authid", a->authid ? json_string(a->authid) : json_null(),
				    "authextra", a->authextra ? a->authextra : json_null(),
				    "transport", "type", "websocket", "peer", peer);
	json_object_update_new(details, extra_details);
	const char *realm = a->realm->cfg->name;
	a->caller = caller_for(router_gateway(s->router),
			       cfg->authenticator_realm ? cfg->authenticator_realm : realm,
			       cfg->authenticator_role ? cfg->authenticator_role : "trusted");
	if (!a->caller) {
		json_decref(details);
		router_abort(s, "wamp.error.authentication_failed", 1000, "authentication failed");
		return;
	}
	json_t *args = json_pack("[s, o, o]", realm, a->authid ? json_string(a->authid) : json_null(),
				 details);
	a->call = caller_call(a->caller, cfg->authenticator, args, NULL,
			      json_pack("{s:i}", "timeout", AUTHENTICATOR_TIMEOUT_MS), on_verdict, a);
}

/* ---- the methods ---------------------------------------------------------------------------- */

static void start_anonymous(struct auth_state *a)
{
	const struct sb_path *path = a->s->path;
	a->role = xstrdup(path && path->role ? path->role : "anonymous");
	if (a->cfg && a->cfg->authid) {
		free(a->authid);
		a->authid = xstrdup(a->cfg->authid);
	} else {
		free(a->authid);               /* Crossbar ignores a requested authid */
		a->authid = NULL;
	}
	welcome(a, "static");
}

/* wampcra: challenge even an unknown authid (with a secret nobody has), so
 * the answer never tells which authids exist. */
static void start_wampcra(struct auth_state *a)
{
	if (a->cfg->is_dynamic) {
		ask_authenticator(a, json_object());
		return;
	}
	const struct sb_principal *p = principal(a->cfg, a->authid);
	if (p) {
		take_principal(a, p);
		a->secret = xstrdup(p->secret);
		a->salt = p->salt ? xstrdup(p->salt) : NULL;
		a->iterations = p->iterations;
		a->keylen = p->keylen;
	} else {
		unsigned char noise[24];
		char hex[49];
		RAND_bytes(noise, sizeof noise);
		hex_encode(noise, sizeof noise, hex);
		a->secret = xstrdup(hex);
		if (!a->authid)
			a->authid = xstrdup("");
	}
	challenge_wampcra(a, "static");
}

static void start_cryptosign(struct auth_state *a)
{
	const char *pubkey = json_string_value(json_object_get(a->authextra, "pubkey"));
	if (hex_decode(pubkey, a->pubkey, 32) < 0) {
		fail(a, "wamp.error.not_authorized", "authentication failed",
		     "HELLO authextra.pubkey is not 64 hex digits");
		return;
	}
	if (a->cfg->is_dynamic) {
		ask_authenticator(a, json_object());
		return;
	}
	const struct sb_principal *p = principal_by_key(a->cfg, a->authid, a->pubkey);
	if (p && (!p->realm || !strcmp(p->realm, a->realm->cfg->name)))
		take_principal(a, p);
	challenge_cryptosign(a);           /* unknown keys fail after AUTHENTICATE */
}

/* The path's methods, in the client's order of preference. */
static int pick_method(const struct session *s, const json_t *offered)
{
	const struct sb_auth *auth = s->path ? &s->path->auth : NULL;
	size_t n = json_array_size(offered);
	for (size_t i = 0; i < (n ? n : 1); i++) {
		const char *name = n ? json_string_value(json_array_get(offered, i)) : "anonymous";
		for (int m = 0; name && m < SB_AUTH_JWT; m++) {
			bool is_enabled = auth && auth->is_set ? auth->methods[m].is_enabled
							      : m == SB_AUTH_ANONYMOUS;
			if (is_enabled && !strcmp(name, method_names[m]))
				return m;
		}
	}
	return -1;
}

void auth_hello(struct session *s, struct realm *realm, const json_t *hello)
{
	const json_t *details = json_array_get(hello, 2);
	const json_t *offered = json_object_get(details, "authmethods");
	int method = pick_method(s, offered);
	if (method < 0) {
		router_abort(s, "wamp.error.no_auth_method", 1000, "none of the authentication "
			     "methods the client offered is enabled on this transport");
		return;
	}
	struct auth_state *a = xcalloc(1, sizeof *a);
	s->auth = a;
	a->s = s;
	a->realm = realm;
	a->method = (enum sb_auth_method)method;
	a->cfg = s->path && s->path->auth.is_set ? &s->path->auth.methods[method] : NULL;
	a->authid = string_member(details, "authid");
	a->authextra = json_incref(json_object_get(details, "authextra"));
	a->session_id = wamp_random_id();
	switch (a->method) {
	case SB_AUTH_TICKET: challenge_ticket(a); break;
	case SB_AUTH_WAMPCRA: start_wampcra(a); break;
	case SB_AUTH_CRYPTOSIGN: start_cryptosign(a); break;
	default: start_anonymous(a); break;
	}
}

static void authenticate_ticket(struct auth_state *a, const char *ticket)
{
	if (a->cfg->is_dynamic) {
		ask_authenticator(a, json_pack("{s:s}", "ticket", ticket));
		return;
	}
	const struct sb_principal *p = principal(a->cfg, a->authid);
	if (p && same_text(ticket, p->secret)) {
		take_principal(a, p);
		welcome_known(a);
	} else {
		fail(a, "wamp.error.not_authorized", "authentication failed",
		     p ? "wrong ticket" : "no such principal");
	}
}

void auth_authenticate(struct session *s, const json_t *msg)
{
	struct auth_state *a = s->auth;
	const char *signature = json_string_value(json_array_get(msg, 1));
	if (a->is_failing)
		return;                        /* decided; the ABORT is on its way */
	if (a->caller) {                   /* no CHALLENGE yet, or one AUTHENTICATE too many */
		router_abort(s, "wamp.error.protocol_violation", 1002, "AUTHENTICATE while the "
			     "router is not waiting for one");
		return;
	}
	stop_timer(a);
	switch (a->method) {
	case SB_AUTH_TICKET:
		authenticate_ticket(a, signature);
		break;
	case SB_AUTH_WAMPCRA:
		if (a->is_known && cra_signature_valid(a, signature))
			welcome_known(a);
		else
			fail(a, "wamp.error.not_authorized", "authentication failed",
			     a->is_known ? "wrong signature" : "no such principal");
		break;
	default:                           /* cryptosign */
		if (a->is_known && ed25519_valid(a, signature))
			welcome_known(a);
		else
			fail(a, "wamp.error.not_authorized", "authentication failed",
			     a->is_known ? "wrong signature" : "no principal holds this key");
		break;
	}
}
