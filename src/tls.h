/* tls.h - TLS material for listening endpoints: reads and checks the
 * files a config names (Crossbar's key, certificate, chain_certificates,
 * dhparam, ciphers, ca_certificates) and puts them into a server SSL_CTX.
 *
 * Files are read and checked in memory before any SSL_CTX is touched, so
 * a bad file never leaves a context half-changed: `check`, start-up and
 * the SIGHUP reload share these functions.  OpenSSL only; lwshttp.c hands
 * in the SSL_CTX libwebsockets created for a TLS vhost.
 */
#ifndef SB_TLS_H
#define SB_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "config.h"

/* A certificate with its key and chain, read from an endpoint's files. */
struct tls_material {
	X509 *cert;                /* owned */
	EVP_PKEY *key;             /* owned */
	STACK_OF(X509) *chain;     /* owned; may be empty */
};

/* Reads t's certificate (certificates after the first in that file join
 * the chain), key and chain_certificates, and checks that the key belongs
 * to the certificate.  0, or -1 with a sentence in err and the config key
 * at fault in where ("key", "chain_certificates[1]"); m is then empty. */
int tls_material_load(struct tls_material *m, const struct sb_tls *t, char *err,
		      size_t errlen, char *where, size_t wherelen);

/* Frees what m owns and empties it. */
void tls_material_cleanup(struct tls_material *m);

/* Everything `check` verifies: the material above, dhparam, the cipher
 * string and the CA certificates.  Same contract as tls_material_load(). */
int tls_check(const struct sb_tls *t, char *err, size_t errlen, char *where, size_t wherelen);

/* Sets up a server SSL_CTX for t: TLS 1.2 or newer, t's ciphers, DH
 * parameters and client CAs (required client certificates), and m's
 * certificate.  0, or -1 with err. */
int tls_ctx_setup(SSL_CTX *ctx, const struct sb_tls *t, const struct tls_material *m,
		  char *err, size_t errlen);

/* Puts m's certificate, key and chain in place of ctx's for the
 * handshakes that follow; open connections keep theirs.  0, or -1 with
 * err and ctx unchanged (a different key type is refused: OpenSSL keeps a
 * certificate per key type, so the old one would stay in use). */
int tls_ctx_replace(SSL_CTX *ctx, const struct tls_material *m, char *err, size_t errlen);

/* "serial 0A1B..., expires 2027-01-31" for log lines. */
void tls_describe(X509 *cert, char *out, size_t len);

#endif
