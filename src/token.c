/* token.c - bearer tokens for event streams: tickets and JWTs (see token.h). */
#include "token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "util.h"

#define LEEWAY_S 60                /* clock skew allowed for exp and nbf */
#define MAX_TOKEN 8192

/* ---- where the token is --------------------------------------------------------- */

struct query_token {
	const char *name;
	const char *value;
};

static void find_query(void *ctx, const char *name, const char *value)
{
	struct query_token *q = ctx;
	if (!q->value && value && !strcmp(name, q->name))
		q->value = value;
}

/* The value of cookie name in a Cookie header, copied into out. */
static bool find_cookie(const char *header, const char *name, char *out, size_t size)
{
	size_t n = strlen(name);
	for (const char *p = header; p && *p;) {
		p += strspn(p, " \t;");
		const char *end = p + strcspn(p, ";");
		if (!strncmp(p, name, n) && p[n] == '=' && (size_t)(end - p - n - 1) < size) {
			snprintf(out, size, "%.*s", (int)(end - p - n - 1), p + n + 1);
			return true;
		}
		p = end;
	}
	return false;
}

/* Authorization: Bearer, then the cookie, then the query parameter. */
static bool find_token(struct http_request *req, char *out, size_t size)
{
	const struct sb_path *path = req->route->path;
	const char *auth = http_header(req, "Authorization");
	if (auth && !strncasecmp(auth, "Bearer ", 7) && strlen(auth + 7) < size) {
		snprintf(out, size, "%s", auth + 7 + strspn(auth + 7, " "));
		return true;
	}
	const char *cookies = http_header(req, "Cookie");
	if (cookies && find_cookie(cookies, path->token_cookie ? path->token_cookie : "sb_token",
				   out, size))
		return true;
	struct query_token q = {path->token_query ? path->token_query : "access_token", NULL};
	req->adapter->each_query(req, find_query, &q);
	if (q.value && strlen(q.value) < size) {
		snprintf(out, size, "%s", q.value);
		return true;
	}
	return false;
}

/* ---- tickets ------------------------------------------------------------------------- */

static bool ticket_identity(const struct sb_auth_method_cfg *m, const char *token,
			    struct identity *who)
{
	const struct sb_principal *found = NULL;
	size_t n = strlen(token);
	for (size_t i = 0; i < m->n_principals; i++) {   /* every one: constant time */
		const char *t = m->principals[i].secret;
		if (strlen(t) == n && CRYPTO_memcmp(t, token, n) == 0)
			found = &m->principals[i];
	}
	if (!found)
		return false;
	who->authid = xstrdup(found->authid);
	who->role = found->role ? xstrdup(found->role) : m->role ? xstrdup(m->role) : NULL;
	who->authmethod = "ticket";
	return true;
}

/* ---- JWT -------------------------------------------------------------------------------- */

/* base64url without padding -> bytes; NULL if malformed. */
static unsigned char *b64url_decode(const char *in, size_t len, size_t *out_len)
{
	size_t padded = (len + 3) / 4 * 4;
	char *std = xmalloc(padded + 1);
	for (size_t i = 0; i < padded; i++) {
		char ch = i < len ? in[i] : '=';
		std[i] = ch == '-' ? '+' : ch == '_' ? '/' : ch;
		if (i < len && !strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
				       in[i])) {
			free(std);
			return NULL;
		}
	}
	unsigned char *out = xmalloc(padded / 4 * 3 + 1);
	int n = EVP_DecodeBlock(out, (unsigned char *)std, (int)padded);
	free(std);
	if (n < 0 || len % 4 == 1) {
		free(out);
		return NULL;
	}
	*out_len = (size_t)n - (padded - len);     /* DecodeBlock counts the padding */
	return out;
}

static json_t *b64url_json(const char *in, size_t len)
{
	size_t n;
	unsigned char *raw = b64url_decode(in, len, &n);
	json_t *v = raw ? json_loadb((const char *)raw, n, 0, NULL) : NULL;
	free(raw);
	return json_is_object(v) ? v : (json_decref(v), NULL);
}

/* ES256 signatures are r||s; OpenSSL verifies DER. */
static unsigned char *ecdsa_der(const unsigned char *raw, size_t len, size_t *der_len)
{
	if (len != 64)
		return NULL;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL));
	unsigned char *der = NULL;
	int n = i2d_ECDSA_SIG(sig, &der);
	ECDSA_SIG_free(sig);
	if (n <= 0)
		return NULL;
	*der_len = (size_t)n;
	return der;
}

static bool public_key_valid(const char *pem, const char *alg, const char *data, size_t data_len,
			     const unsigned char *sig, size_t sig_len)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	int type = key ? EVP_PKEY_get_base_id(key) : 0;
	bool is_rs = !strcmp(alg, "RS256") && type == EVP_PKEY_RSA;
	bool is_es = !strcmp(alg, "ES256") && type == EVP_PKEY_EC;
	unsigned char *der = NULL;
	size_t der_len = 0;
	if (is_es && !(der = ecdsa_der(sig, sig_len, &der_len)))
		is_es = false;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool is_valid = (is_rs || is_es) &&
			EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
			EVP_DigestVerify(ctx, is_es ? der : sig, is_es ? der_len : sig_len,
					 (const unsigned char *)data, data_len) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	EVP_PKEY_free(key);
	return is_valid;
}

static bool signature_valid(const struct sb_auth_method_cfg *m, const char *alg,
			    const char *data, size_t data_len, const unsigned char *sig, size_t sig_len)
{
	static const char *const names[] = {"HS256", "RS256", "ES256"};
	bool is_allowed = false;
	for (int i = 0; i < 3; i++)
		is_allowed |= m->jwt_allows[i] && !strcmp(alg, names[i]);
	if (!is_allowed)
		return false;
	if (!strcmp(alg, "HS256") && m->jwt_secret) {
		unsigned char mac[EVP_MAX_MD_SIZE];
		unsigned int n = 0;
		HMAC(EVP_sha256(), m->jwt_secret, (int)strlen(m->jwt_secret),
		     (const unsigned char *)data, data_len, mac, &n);
		return sig_len == n && CRYPTO_memcmp(mac, sig, n) == 0;
	}
	return m->jwt_public_key && public_key_valid(m->jwt_public_key, alg, data, data_len, sig,
						       sig_len);
}

static bool audience_matches(const json_t *aud, const char *want)
{
	if (json_is_string(aud))
		return !strcmp(json_string_value(aud), want);
	size_t i;
	json_t *e;
	json_array_foreach(aud, i, e)
		if (json_is_string(e) && !strcmp(json_string_value(e), want))
			return true;
	return false;
}

/* Registered claims: exp, nbf (with leeway), iss and aud when configured. */
static const char *claims_problem(const struct sb_auth_method_cfg *m, const json_t *claims)
{
	int64_t now = now_ms() / 1000;
	json_t *exp = json_object_get(claims, "exp"), *nbf = json_object_get(claims, "nbf");
	if (exp && (!json_is_number(exp) || json_number_value(exp) + LEEWAY_S < (double)now))
		return "the token has expired";
	if (nbf && (!json_is_number(nbf) || json_number_value(nbf) - LEEWAY_S > (double)now))
		return "the token is not valid yet";
	const char *iss = json_string_value(json_object_get(claims, "iss"));
	if (m->issuer && (!iss || strcmp(iss, m->issuer)))
		return "the token's issuer is not the one configured";
	if (m->audience && !audience_matches(json_object_get(claims, "aud"), m->audience))
		return "the token is not for this audience";
	return NULL;
}

/* Crossbar-style starred URIs: "a.b" exact, "a.*" prefix "a.", "a.*.c"
 * wildcard "a..c". */
static void read_topics(const json_t *list, struct identity *who)
{
	who->has_topics = true;
	who->topics = xcalloc(json_array_size(list) + 1, sizeof *who->topics);
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e) {
		const char *s = json_string_value(e);
		if (!s)
			continue;
		size_t len = strlen(s);
		struct topic_claim *t = &who->topics[who->n_topics++];
		if (len && s[len - 1] == '*' && !strchr(s, '*')[1]) {
			t->uri = xstrndup(s, len - 1);
			t->match = URI_PREFIX;
		} else if (strchr(s, '*')) {
			t->uri = xstrdup(s);
			for (char *p = t->uri, *w = t->uri;; p++)
				if (*p != '*' && !(*w++ = *p))
					break;
			t->match = URI_WILDCARD;
		} else {
			t->uri = xstrdup(s);
			t->match = URI_EXACT;
		}
	}
}

static bool jwt_identity(const struct sb_auth_method_cfg *m, const char *token,
			 struct identity *who, char *why, size_t whylen)
{
	const char *dot1 = strchr(token, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (!dot2 || strchr(dot2 + 1, '.')) {
		snprintf(why, whylen, "not a JWT");
		return false;
	}
	json_t *header = b64url_json(token, (size_t)(dot1 - token));
	json_t *claims = b64url_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	size_t sig_len = 0;
	unsigned char *sig = b64url_decode(dot2 + 1, strlen(dot2 + 1), &sig_len);
	const char *alg = json_string_value(json_object_get(header, "alg"));
	const char *problem = NULL;
	if (!header || !claims || !sig || !alg)
		problem = "the token is malformed";
	else if (!signature_valid(m, alg, token, (size_t)(dot2 - token), sig, sig_len))
		problem = "the token's signature is not valid (or its alg is not accepted)";
	else
		problem = claims_problem(m, claims);
	if (!problem) {
		const char *sub = json_string_value(json_object_get(claims, "sub"));
		const char *role = json_string_value(json_object_get(claims,
						     m->role_claim ? m->role_claim : "role"));
		json_t *topics = json_object_get(claims, m->topics_claim ? m->topics_claim : "subscribe");
		who->authid = sub ? xstrdup(sub) : NULL;
		who->role = role ? xstrdup(role) : NULL;
		who->authmethod = "jwt";
		if (json_is_array(topics))
			read_topics(topics, who);
	} else {
		snprintf(why, whylen, "%s", problem);
	}
	json_decref(header);
	json_decref(claims);
	free(sig);
	return !problem;
}

/* ---- the request ------------------------------------------------------------------------ */

enum token_result token_identify(struct http_request *req, struct identity *who,
				 char *why, size_t whylen)
{
	const struct sb_path *path = req->route->path;
	const struct sb_auth *auth = &path->auth;
	char token[MAX_TOKEN];
	memset(who, 0, sizeof *who);
	if (!auth->is_set || !find_token(req, token, sizeof token)) {
		if (auth->is_set && !auth->methods[SB_AUTH_ANONYMOUS].is_enabled)
			return TOKEN_NONE;
		who->authmethod = "anonymous";
		return TOKEN_OK;           /* the path's role, below */
	}
	const struct sb_auth_method_cfg *ticket = &auth->methods[SB_AUTH_TICKET];
	const struct sb_auth_method_cfg *jwt = &auth->methods[SB_AUTH_JWT];
	snprintf(why, whylen, "the token is not a known ticket");
	bool is_jwt = strchr(token, '.') && jwt->is_enabled;
	if (!is_jwt && ticket->is_enabled && ticket->is_dynamic) {
		who->ticket = xstrdup(token);
		who->authmethod = "ticket";
		return TOKEN_ASK;
	}
	if (!(is_jwt ? jwt_identity(jwt, token, who, why, whylen)
		     : ticket->is_enabled && ticket_identity(ticket, token, who))) {
		token_identity_free(who);
		return TOKEN_INVALID;
	}
	return TOKEN_OK;
}

/* Does claim c cover a subscription to topic with match? */
static bool claim_covers(const struct topic_claim *c, const char *topic, enum uri_match match)
{
	if (match == URI_EXACT)
		return uri_matches(c->uri, c->match, topic);
	if (c->match == URI_PREFIX)        /* a prefix covers any narrower pattern */
		return !strncmp(topic, c->uri, strlen(c->uri));
	return c->match == match && !strcmp(c->uri, topic);
}

bool token_allows(const struct identity *who, const char *topic, enum uri_match match)
{
	if (!who->has_topics)
		return true;
	for (size_t i = 0; i < who->n_topics; i++)
		if (claim_covers(&who->topics[i], topic, match))
			return true;
	return false;
}

void token_identity_free(struct identity *who)
{
	free(who->authid);
	free(who->role);
	if (who->ticket)
		OPENSSL_cleanse(who->ticket, strlen(who->ticket));
	free(who->ticket);
	for (size_t i = 0; i < who->n_topics; i++)
		free(who->topics[i].uri);
	free(who->topics);
	memset(who, 0, sizeof *who);
}
