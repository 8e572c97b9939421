/* tls.c - reading, checking and installing TLS material (see tls.h).
 *
 * Why not libwebsockets' own certificate loading and lws_tls_cert_updated()
 * for the reload: that call re-reads the files straight into the live
 * SSL_CTX and always returns 0.  When the new key does not belong to the
 * new certificate, OpenSSL has already dropped the old key while taking
 * the certificate, so every later handshake fails; and it would drop the
 * chain_certificates, which Crossbar keeps in files of their own.  Here
 * the files are parsed and matched first, and only a complete, consistent
 * set replaces the old one, in one SSL_CTX_use_cert_and_key() call.
 */
#include "tls.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* Formats err, adding OpenSSL's reason when it has one, and clears its
 * error queue.  Returns -1. */
static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	if (reason && n >= 0 && (size_t)n < errlen)
		snprintf(err + n, errlen - (size_t)n, " (OpenSSL: %s)", reason);
	ERR_clear_error();
	return -1;
}

/* A passphrase-protected key is refused instead of OpenSSL asking for
 * the passphrase on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* path opened for PEM reading; NULL with err set. */
static BIO *open_pem(const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	if (!fp) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	return BIO_new_fp(fp, BIO_CLOSE);
}

/* Appends every certificate in path to out: at least one, or -1. */
static int read_certs(const char *path, STACK_OF(X509) *out, char *err, size_t errlen)
{
	BIO *bio = open_pem(path, err, errlen);
	if (!bio)
		return -1;
	int n = 0;
	X509 *x;
	while ((x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL))) {
		sk_X509_push(out, x);
		n++;
	}
	BIO_free(bio);
	if (n == 0)
		return fail(err, errlen, "no PEM certificate in %s", path);
	ERR_clear_error();             /* the end of the file is an "error" */
	return 0;
}

static EVP_PKEY *read_key(const char *path, char *err, size_t errlen)
{
	BIO *bio = open_pem(path, err, errlen);
	if (!bio)
		return NULL;
	EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (!key)
		fail(err, errlen, "no PEM private key in %s (a passphrase-protected key "
		     "cannot be used)", path);
	return key;
}

static EVP_PKEY *read_dhparam(const char *path, char *err, size_t errlen)
{
	BIO *bio = open_pem(path, err, errlen);
	if (!bio)
		return NULL;
	EVP_PKEY *dh = PEM_read_bio_Parameters(bio, NULL);
	BIO_free(bio);
	if (!dh || !EVP_PKEY_is_a(dh, "DH")) {
		EVP_PKEY_free(dh);
		fail(err, errlen, "no PEM DH parameters in %s (make them with openssl dhparam)", path);
		return NULL;
	}
	return dh;
}

/* ---- the material -------------------------------------------------------- */

void tls_material_cleanup(struct tls_material *m)
{
	X509_free(m->cert);
	EVP_PKEY_free(m->key);
	sk_X509_pop_free(m->chain, X509_free);
	*m = (struct tls_material){0};
}

int tls_material_load(struct tls_material *m, const struct sb_tls *t, char *err,
		      size_t errlen, char *where, size_t wherelen)
{
	*m = (struct tls_material){0};
	m->chain = sk_X509_new_null();
	snprintf(where, wherelen, "certificate");
	if (read_certs(t->certificate, m->chain, err, errlen) < 0)
		goto fail;
	m->cert = sk_X509_shift(m->chain);     /* the rest is chain */
	for (size_t i = 0; i < t->n_chain_certificates; i++) {
		snprintf(where, wherelen, "chain_certificates[%zu]", i);
		if (read_certs(t->chain_certificates[i], m->chain, err, errlen) < 0)
			goto fail;
	}
	snprintf(where, wherelen, "key");
	m->key = read_key(t->key, err, errlen);
	if (!m->key)
		goto fail;
	if (!X509_check_private_key(m->cert, m->key)) {
		fail(err, errlen, "%s is not the key of the certificate %s", t->key, t->certificate);
		goto fail;
	}
	return 0;
fail:
	tls_material_cleanup(m);
	return -1;
}

/* ---- the config check ------------------------------------------------------ */

static int check_ciphers(const char *ciphers, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int ok = ctx && SSL_CTX_set_cipher_list(ctx, ciphers);
	SSL_CTX_free(ctx);
	if (!ok)
		return fail(err, errlen, "no cipher in \"%s\" is known to OpenSSL (see openssl "
			    "ciphers -v)", ciphers);
	return 0;
}

int tls_check(const struct sb_tls *t, char *err, size_t errlen, char *where, size_t wherelen)
{
	struct tls_material m;
	if (tls_material_load(&m, t, err, errlen, where, wherelen) < 0)
		return -1;
	tls_material_cleanup(&m);
	if (t->dhparam) {
		snprintf(where, wherelen, "dhparam");
		EVP_PKEY *dh = read_dhparam(t->dhparam, err, errlen);
		if (!dh)
			return -1;
		EVP_PKEY_free(dh);
	}
	if (t->ciphers) {
		snprintf(where, wherelen, "ciphers");
		if (check_ciphers(t->ciphers, err, errlen) < 0)
			return -1;
	}
	for (size_t i = 0; i < t->n_ca_certificates; i++) {
		snprintf(where, wherelen, "ca_certificates[%zu]", i);
		STACK_OF(X509) *cas = sk_X509_new_null();
		int rc = read_certs(t->ca_certificates[i], cas, err, errlen);
		sk_X509_pop_free(cas, X509_free);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ---- SSL_CTX ------------------------------------------------------------------ */

/* Clients must present a certificate signed by one of t's CAs, as with
 * Crossbar's ca_certificates. */
static int require_client_certs(SSL_CTX *ctx, const struct sb_tls *t, char *err, size_t errlen)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	for (size_t i = 0; i < t->n_ca_certificates; i++) {
		STACK_OF(X509) *cas = sk_X509_new_null();
		if (read_certs(t->ca_certificates[i], cas, err, errlen) < 0) {
			sk_X509_pop_free(cas, X509_free);
			return -1;
		}
		for (int j = 0; j < sk_X509_num(cas); j++) {
			X509_STORE_add_cert(store, sk_X509_value(cas, j));
			SSL_CTX_add_client_CA(ctx, sk_X509_value(cas, j));
		}
		sk_X509_pop_free(cas, X509_free);
	}
	ERR_clear_error();             /* a CA listed twice is not an error */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* Resumed sessions must come from this context (OpenSSL refuses to
	 * resume a verified session without one). */
	static const unsigned char sid[] = "switchboard";
	SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
	return 0;
}

static int use_material(SSL_CTX *ctx, const struct tls_material *m, char *err, size_t errlen)
{
	if (SSL_CTX_use_cert_and_key(ctx, m->cert, m->key, m->chain, 1) != 1)
		return fail(err, errlen, "OpenSSL refused the certificate");
	return 0;
}

int tls_ctx_setup(SSL_CTX *ctx, const struct sb_tls *t, const struct tls_material *m,
		  char *err, size_t errlen)
{
	/* TLS 1.0 and 1.1 are deprecated (RFC 8996); client-started
	 * renegotiation only costs the server CPU. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (t->ciphers && !SSL_CTX_set_cipher_list(ctx, t->ciphers))
		return fail(err, errlen, "no cipher in \"%s\" is known to OpenSSL", t->ciphers);
	if (t->dhparam) {
		EVP_PKEY *dh = read_dhparam(t->dhparam, err, errlen);
		if (!dh)
			return -1;
		if (!SSL_CTX_set0_tmp_dh_pkey(ctx, dh)) {
			EVP_PKEY_free(dh);
			return fail(err, errlen, "OpenSSL refused the DH parameters in %s", t->dhparam);
		}
	} else {
		SSL_CTX_set_dh_auto(ctx, 1);
	}
	if (t->n_ca_certificates && require_client_certs(ctx, t, err, errlen) < 0)
		return -1;
	return use_material(ctx, m, err, errlen);
}

int tls_ctx_replace(SSL_CTX *ctx, const struct tls_material *m, char *err, size_t errlen)
{
	EVP_PKEY *old = SSL_CTX_get0_privatekey(ctx);
	if (old && EVP_PKEY_get_base_id(old) != EVP_PKEY_get_base_id(m->key)) {
		snprintf(err, errlen, "the new key is %s, the one in use %s; OpenSSL would go on "
			 "serving the old certificate to some clients, so restart to change the "
			 "key type", EVP_PKEY_get0_type_name(m->key), EVP_PKEY_get0_type_name(old));
		return -1;
	}
	return use_material(ctx, m, err, errlen);
}

void tls_describe(X509 *cert, char *out, size_t len)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *serial = bn ? BN_bn2hex(bn) : NULL;
	struct tm tm;
	char expires[32] = "?";
	if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm))
		strftime(expires, sizeof expires, "%Y-%m-%d", &tm);
	snprintf(out, len, "serial %s, expires %s", serial ? serial : "?", expires);
	OPENSSL_free(serial);
	BN_free(bn);
}
