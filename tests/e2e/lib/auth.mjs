// auth.mjs - credentials for the authentication/authorization end-to-end
// tests, computed here with node:crypto so that the tests check the gateway
// against an independent implementation: Ed25519 keys and WAMP-cryptosign
// signatures, WAMP-CRA keys and signatures, hand-built JWTs (HS256, RS256,
// ES256, alg none), and a raw WAMP handshake helper.

import crypto from 'node:crypto';
import { T, CLIENT_ROLES } from './wamp.mjs';

// ---- cryptosign (Ed25519) --------------------------------------------------

/** A fresh Ed25519 key pair: {publicKey, privateKey (KeyObjects), pub (hex),
 *  seed (32-byte Buffer, what tweetnacl's keyPair.fromSeed takes)}. */
export function ed25519Key() {
	const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
	const jwk = privateKey.export({ format: 'jwk' });
	return {
		publicKey, privateKey,
		pub: Buffer.from(jwk.x, 'base64url').toString('hex'),
		seed: Buffer.from(jwk.d, 'base64url'),
	};
}

/** The cryptosign AUTHENTICATE signature for a CHALLENGE's hex challenge:
 *  hex(Ed25519 signature (64 B) || the 32 challenge bytes). */
export function cryptosignSign(key, challengeHex) {
	const msg = Buffer.from(challengeHex, 'hex');
	const sig = crypto.sign(null, msg, key.privateKey);
	return Buffer.concat([sig, msg]).toString('hex');
}

// ---- WAMP-CRA --------------------------------------------------------------

/** base64(PBKDF2-HMAC-SHA256(secret, salt, iterations, keylen)) as text. */
export function craDeriveKey(secret, salt, iterations = 1000, keylen = 32) {
	return crypto.pbkdf2Sync(Buffer.from(secret, 'utf8'), Buffer.from(salt, 'utf8'), iterations, keylen, 'sha256')
		.toString('base64');
}

/** base64(HMAC-SHA256(key text, challenge text)). */
export function craSign(key, challenge) {
	return crypto.createHmac('sha256', Buffer.from(key, 'utf8')).update(Buffer.from(challenge, 'utf8')).digest('base64');
}

/** The signature a client with `secret` sends for a wampcra CHALLENGE extra
 *  (salted when the extra carries a salt, as Autobahn does). */
export function craRespond(secret, extra) {
	const key = extra.salt ? craDeriveKey(secret, extra.salt, extra.iterations, extra.keylen) : secret;
	return craSign(key, extra.challenge);
}

// ---- JWT -------------------------------------------------------------------

const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');

/** RSA 2048 and P-256 key pairs with their public keys as SPKI PEM text. */
export function rsaKey() {
	const k = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
	return { ...k, pem: k.publicKey.export({ type: 'spki', format: 'pem' }) };
}
export function ecKey() {
	const k = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
	return { ...k, pem: k.publicKey.export({ type: 'spki', format: 'pem' }) };
}

/**
 * A compact JWS: base64url(header).base64url(payload).base64url(signature).
 *   alg 'HS256' (key: secret string/Buffer), 'RS256' (key: private KeyObject),
 *   'ES256' (key: private KeyObject; raw r||s as JWS requires), 'none' (no
 *   signature). header: extra header fields.
 */
export function jwt(payload, { alg = 'HS256', key, header = {} } = {}) {
	const input = `${b64u({ alg, typ: 'JWT', ...header })}.${b64u(payload)}`;
	let sig;
	if (alg === 'HS256') sig = crypto.createHmac('sha256', key).update(input).digest();
	else if (alg === 'RS256') sig = crypto.sign('sha256', Buffer.from(input), key);
	else if (alg === 'ES256') sig = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
	else if (alg === 'none') sig = Buffer.alloc(0);
	else throw new Error(`jwt(): unsupported alg ${alg}`);
	return `${input}.${sig.toString('base64url')}`;
}

/** Seconds since the epoch. */
export const now = () => Math.floor(Date.now() / 1000);

// ---- raw WAMP handshakes ---------------------------------------------------

/** HELLO details asking for authentication. */
export function helloDetails({ authmethods, authid, authextra } = {}) {
	const d = { roles: CLIENT_ROLES };
	if (authmethods) d.authmethods = authmethods;
	if (authid !== undefined) d.authid = authid;
	if (authextra) d.authextra = authextra;
	return d;
}

/** Send HELLO on a raw client (rawWamp) and return the first answer. */
export async function rawHello(c, opts = {}, realm = 'realm1') {
	c.send([T.HELLO, realm, helloDetails(opts)]);
	return c.next(opts.timeout || 5000);
}

/** Assert-free check that m is an ABORT; returns {uri, message} or null. */
export function abortOf(m) {
	if (!Array.isArray(m) || m[0] !== T.ABORT) return null;
	return { uri: m[2], message: m[1] && m[1].message, details: m[1] };
}
