/* signing.c - signed bridge requests, require_ip/require_tls and GitHub
 * webhook signatures (see signing.h).  Error sentences are Crossbar's, so
 * clients that match on them keep working. */
#include "signing.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "gateway.h"
#include "map.h"
#include "util.h"

#define BAD_REQUEST "switchboard.error.bad_request"
#define NOT_AUTHORIZED "switchboard.error.not_authorized"
/* Nonces remembered at most; beyond, the oldest are forgotten first. */
#define NONCES_MAX 100000

/* ---- nonces already used ------------------------------------------------------ */

struct nonce_entry {
	char *key;                 /* path pointer + nonce text, for the map */
	size_t len;
	int64_t expires_ms;        /* 0 = kept until pushed out */
};

struct nonce_log {
	struct map seen;           /* key -> its entry */
	struct nonce_entry *ring;  /* in order of arrival */
	size_t head, len;
};

static void forget_oldest(struct nonce_log *log)
{
	struct nonce_entry *e = &log->ring[log->head];
	map_remove(&log->seen, e->key, e->len);
	free(e->key);
	log->head = (log->head + 1) % NONCES_MAX;
	log->len--;
}

/* Remembers (path, nonce) until expires_ms; false if it is already known. */
static bool remember_nonce(struct gateway *gw, const struct sb_path *path, const char *nonce,
			   int64_t expires_ms)
{
	struct nonce_log *log = gw->nonces;
	if (!log) {
		log = gw->nonces = xcalloc(1, sizeof *log);
		log->ring = xcalloc(NONCES_MAX, sizeof *log->ring);
	}
	int64_t now = now_ms();
	while (log->len && ((log->ring[log->head].expires_ms &&
			     log->ring[log->head].expires_ms < now) || log->len == NONCES_MAX))
		forget_oldest(log);
	size_t len = sizeof path + strlen(nonce);
	char *key = xmalloc(len);
	memcpy(key, &path, sizeof path);
	memcpy(key + sizeof path, nonce, len - sizeof path);
	if (map_get(&log->seen, key, len)) {
		free(key);
		return false;
	}
	struct nonce_entry *e = &log->ring[(log->head + log->len++) % NONCES_MAX];
	*e = (struct nonce_entry){key, len, expires_ms};
	map_put(&log->seen, key, len, e);
	return true;
}

void signing_forget_nonces(struct gateway *gw)
{
	struct nonce_log *log = gw->nonces;
	if (!log)
		return;
	while (log->len)
		forget_oldest(log);
	map_clear(&log->seen);
	free(log->ring);
	free(log);
	gw->nonces = NULL;
}

/* ---- the signature --------------------------------------------------------------- */

/* URL-safe base64 with padding of HMAC-SHA256(secret, parts... body). */
static void signature(const char *secret, const char *const *parts, size_t n_parts,
		      const char *body, size_t body_len, char out[45])
{
	struct buf message = {0};
	for (size_t i = 0; i < n_parts; i++)
		buf_append(&message, parts[i], strlen(parts[i]));
	buf_append(&message, body, body_len);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)message.data,
	     message.len, mac, &len);
	buf_free(&message);
	EVP_EncodeBlock((unsigned char *)out, mac, (int)len);   /* 44 chars + NUL */
	for (char *p = out; *p; p++)                             /* URL-safe */
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
}

/* ---- the request's signing fields ------------------------------------------------ */

struct fields {
	const char *key, *timestamp, *seq, *nonce, *signature;
};

static void take_field(void *ctx, const char *name, const char *value)
{
	struct fields *f = ctx;
	const char **slot = !strcmp(name, "key") ? &f->key
			  : !strcmp(name, "timestamp") ? &f->timestamp
			  : !strcmp(name, "seq") ? &f->seq
			  : !strcmp(name, "nonce") ? &f->nonce
			  : !strcmp(name, "signature") ? &f->signature : NULL;
	if (slot && !*slot)                /* only the first value counts */
		*slot = value;
}

static bool is_integer(const char *s)
{
	s += *s == '-' || *s == '+';
	return *s && strspn(s, "0123456789") == strlen(s);
}

/* "2011-10-14T16:59:51.123Z" (1-6 fraction digits) -> ms since the epoch. */
static bool parse_timestamp(const char *s, int64_t *ms)
{
	struct tm tm = {0};
	int frac_at = 0, end = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &frac_at) != 6 || frac_at != 20)
		return false;
	size_t digits = strspn(s + frac_at, "0123456789");
	end = frac_at + (int)digits;
	if (digits < 1 || digits > 6 || strcmp(s + end, "Z") != 0 || tm.tm_mon < 1 ||
	    tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return false;
	char fraction[4] = "000";
	memcpy(fraction, s + frac_at, digits < 3 ? digits : 3);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*ms = (int64_t)timegm(&tm) * 1000 + atoi(fraction);
	return true;
}

static bool reject(struct http_request *req, int status, const char *uri, const char *sentence,
		   const char *detail)
{
	if (detail)
		http_error(req, status, uri, "REST bridge signature was invalid (%s).", detail);
	else
		http_error(req, status, uri, "%s", sentence);
	return false;
}

/* Format checks of whatever fields are present (Crossbar does them even
 * for unsigned paths), then the timestamp window. */
static bool fields_valid(struct http_request *req, const struct fields *f, int64_t *ts_ms)
{
	char detail[512];
	const struct sb_path *path = req->route->path;
	if (f->timestamp && !parse_timestamp(f->timestamp, ts_ms)) {
		snprintf(detail, sizeof detail, "invalid timestamp '%.100s' (must be UTC/ISO-8601, "
			 "e.g. '2011-10-14T16:59:51.123Z')", f->timestamp);
		return reject(req, 400, BAD_REQUEST, NULL, detail);
	}
	if (f->seq && !is_integer(f->seq)) {
		snprintf(detail, sizeof detail, "invalid sequence number '%.100s' (must be an "
			 "integer)", f->seq);
		return reject(req, 400, BAD_REQUEST, NULL, detail);
	}
	if (f->nonce && !is_integer(f->nonce)) {
		snprintf(detail, sizeof detail, "invalid nonce '%.100s' (must be an integer)", f->nonce);
		return reject(req, 400, BAD_REQUEST, NULL, detail);
	}
	int64_t delta = path->timestamp_delta_limit_s * 1000LL;
	if (f->timestamp && delta && llabs(now_ms() - *ts_ms) > delta)
		return reject(req, 400, BAD_REQUEST, "Request expired, too old timestamp.", NULL);
	return true;
}

static bool signature_valid(struct http_request *req, const struct fields *f, int64_t ts_ms)
{
	const struct sb_path *path = req->route->path;
	static const char *const names[] = {"key", "timestamp", "seq", "nonce", "signature"};
	const char *const values[] = {f->key, f->timestamp, f->seq, f->nonce, f->signature};
	char detail[160];
	for (size_t i = 0; i < 5; i++) {
		if (values[i])
			continue;
		snprintf(detail, sizeof detail, i == 1 ? "missing mandatory field - signed request "
			 "required, but mandatory 'timestamp' field missing" : "missing mandatory "
			 "field - '%s' field missing", names[i]);
		return reject(req, 400, BAD_REQUEST, NULL, detail);
	}
	if (strlen(f->key) != strlen(path->key) ||
	    CRYPTO_memcmp(f->key, path->key, strlen(path->key)) != 0)
		return reject(req, 401, NOT_AUTHORIZED, "REST bridge signature key not valid.", NULL);
	char expected[45];
	signature(path->secret, values, 4, req->body.data ? req->body.data : "",
			  req->body.len, expected);
	if (strlen(f->signature) != strlen(expected) ||
	    CRYPTO_memcmp(f->signature, expected, strlen(expected)) != 0)
		return reject(req, 401, NOT_AUTHORIZED, "REST bridge signature secret not valid.", NULL);
	int64_t window = path->timestamp_delta_limit_s * 1000LL;
	if (!remember_nonce(req->gw, path, f->nonce, window ? ts_ms + 2 * window : 0))
		return reject(req, 401, NOT_AUTHORIZED, "REST bridge signature nonce already used.",
			      NULL);
	return true;
}

/* ---- require_ip ------------------------------------------------------------------- */

static bool in_range(const struct sb_cidr *r, const unsigned char *addr)
{
	int full = r->prefix / 8, rest = r->prefix % 8;
	if (memcmp(r->addr, addr, (size_t)full) != 0)
		return false;
	return !rest || ((r->addr[full] ^ addr[full]) & (0xff << (8 - rest))) == 0;
}

/* The peer's address ("1.2.3.4:5", "[::1]:5") against the allowed ranges;
 * an IPv4-mapped IPv6 peer also matches IPv4 ranges. */
static bool peer_allowed(const char *peer, const struct sb_cidr *ranges, size_t n)
{
	char host[64];
	const char *start = peer + (*peer == '[');
	const char *end = *peer == '[' ? strchr(peer, ']') : strrchr(peer, ':');
	if (!end || (size_t)(end - start) >= sizeof host)
		return false;
	memcpy(host, start, (size_t)(end - start));
	host[end - start] = '\0';
	unsigned char v4[4], v6[16];
	bool is_v4 = inet_pton(AF_INET, host, v4) == 1;
	bool is_v6 = !is_v4 && inet_pton(AF_INET6, host, v6) == 1;
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (is_v6 && !memcmp(v6, mapped, sizeof mapped)) {
		memcpy(v4, v6 + 12, 4);
		is_v4 = true;
	}
	for (size_t i = 0; i < n; i++) {
		if ((ranges[i].family == AF_INET && is_v4 && in_range(&ranges[i], v4)) ||
		    (ranges[i].family == AF_INET6 && is_v6 && in_range(&ranges[i], v6)))
			return true;
	}
	return false;
}

/* ---- the checks -------------------------------------------------------------------------- */

bool signing_check(struct http_request *req)
{
	const struct sb_path *path = req->route->path;
	struct fields f = {0};
	int64_t ts_ms = 0;
	req->adapter->each_query(req, take_field, &f);
	if (!fields_valid(req, &f, &ts_ms))
		return false;
	if (path->secret && !signature_valid(req, &f, ts_ms))
		return false;
	if (path->require_ip && !peer_allowed(req->peer, path->require_ip, path->n_require_ip))
		return reject(req, 400, BAD_REQUEST, "Request denied based on IP address.", NULL);
	if (path->require_tls && !req->is_secure)
		return reject(req, 400, BAD_REQUEST, "Malformed request to the REST bridge.", NULL);
	return true;
}

bool signing_check_github(struct http_request *req)
{
	const char *secret = req->route->path->github_secret;
	if (!secret)
		return true;
	const char *given = http_header(req, "X-Hub-Signature");
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	HMAC(EVP_sha1(), secret, (int)strlen(secret),
	     (const unsigned char *)(req->body.data ? req->body.data : ""), req->body.len, mac, &len);
	char expected[5 + 2 * EVP_MAX_MD_SIZE + 1] = "sha1=";
	for (unsigned int i = 0; i < len; i++)
		snprintf(expected + 5 + 2 * i, 3, "%02x", mac[i]);
	char lowered[sizeof expected] = "";
	for (size_t i = 0; given && given[i] && i + 1 < sizeof lowered; i++) {
		lowered[i] = (char)(given[i] >= 'A' && given[i] <= 'Z' ? given[i] + 32 : given[i]);
		lowered[i + 1] = '\0';
	}
	if (!given || strlen(given) != strlen(expected) ||
	    CRYPTO_memcmp(lowered, expected, strlen(expected)) != 0)
		return reject(req, 400, BAD_REQUEST, "Malformed request to the REST bridge.", NULL);
	return true;
}
