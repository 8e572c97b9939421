// 40-auth-wamp: WAMP authentication per websocket path (Crossbar's `auth`
// object): ticket, wampcra (plain, salted both ways: the crossbar-examples
// vector and the configured string as password), cryptosign with keys made
// here, anonymous next to other methods, method order, no_auth_method,
// WELCOME details; dynamic authenticators (accepting, rejecting, raising,
// junk, absent, in another realm, wampcra secrets, cryptosign pubkeys,
// realm/authid/extra/default-role); raw protocol checks; the failure
// slow-down; Autobahn|JS, Autobahn|Python and wampy clients.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	startGateway, stopClean, makeConfig, within, sleep, waitFor,
} from './lib/gateway.mjs';
import {
	T, autobahn, rawWamp, connectAutobahn, connectWampy, connectPython,
} from './lib/wamp.mjs';
import {
	ed25519Key, cryptosignSign, craDeriveKey, craSign, craRespond, rawHello, abortOf,
} from './lib/auth.mjs';
import { sign as wampyCraSign } from 'wampy/wampcra.js';

const FAST = { auth_failure_delay: 20, auth_failure_delay_max: 100 };
const ALL = { call: true, register: true, publish: true, subscribe: true };
const everything = (name) => ({ name, permissions: [{ uri: '', match: 'prefix', allow: ALL }] });

// The crossbar-examples salted user: the stored secret is PBKDF2("secret1",
// "salt123", 100, 16) in base64.
const PETER_KEY = 'prq7+YkJ1/KlW1X0YczMHw==';
const PETER = { secret: PETER_KEY, role: 'frontend', salt: 'salt123', iterations: 100, keylen: 16 };

const ALICE = ed25519Key();     // authorized for alice (first key)
const ALICE2 = ed25519Key();    // authorized for alice (second key)
const MALLORY = ed25519Key();   // authorized for nobody
const DYN = ed25519Key();       // known to the dynamic cryptosign authenticator
const OTHER = ed25519Key();     // what the authenticator claims for cs-mismatch

const AUTHID = /^[0-9A-Z]{4}(-[0-9A-Z]{4}){5}$/;
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/;
const isId = (x) => Number.isInteger(x) && x >= 1 && x <= 2 ** 53;

let gw;
let authn;          // Autobahn|JS session (role "authenticator") holding the authenticators
let elsewhere;      // trusted session in realm "authrealm"
const calls = [];   // every authenticator invocation: {proc, realm, authid, details}

function config() {
	const ticket = {
		type: 'static', principals: {
			joe: { ticket: 'secret!', role: 'frontend' },
			kim: { ticket: 'kim-ticket', role: 'public' },
		},
	};
	const cfg = makeConfig({
		paths: {
			backend: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'authenticator' } } },
			trusted: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'trusted' } } },
			auth: {
				type: 'websocket', options: FAST, auth: {
					ticket,
					wampcra: {
						type: 'static', users: {
							peter: PETER,
							joe: { secret: 'secret2', role: 'frontend' },
						},
					},
					cryptosign: {
						type: 'static', principals: {
							alice: { authorized_keys: [ALICE.pub, ALICE2.pub], role: 'frontend' },
						},
					},
				},
			},
			mixed: {
				type: 'websocket', options: FAST,
				auth: { anonymous: { type: 'static', role: 'public' }, ticket },
			},
			ticketonly: { type: 'websocket', options: FAST, auth: { ticket } },
			dyn: {
				type: 'websocket', options: FAST, auth: {
					ticket: { type: 'dynamic', authenticator: 'com.example.authenticate.ticket', 'default-role': 'public' },
					wampcra: { type: 'dynamic', authenticator: 'com.example.authenticate.cra' },
					cryptosign: { type: 'dynamic', authenticator: 'com.example.authenticate.cs' },
				},
			},
			dynabsent: {
				type: 'websocket', options: FAST, auth: {
					ticket: { type: 'dynamic', authenticator: 'com.example.authenticate.nobody' },
					wampcra: { type: 'dynamic', authenticator: 'com.example.authenticate.nobody' },
				},
			},
			dynelse: {
				type: 'websocket', options: FAST, auth: {
					ticket: {
						type: 'dynamic', authenticator: 'com.example.authenticate.elsewhere',
						'authenticator-realm': 'authrealm',
					},
				},
			},
		},
	});
	cfg.workers[0].realms = [
		{
			name: 'realm1', roles: [
				everything('anonymous'),
				everything('frontend'),
				{ name: 'public', permissions: [{ uri: '', match: 'prefix', allow: { subscribe: true, call: true } }] },
				{
					name: 'authenticator',
					permissions: [{ uri: 'com.example.authenticate.', match: 'prefix', allow: { register: true } }],
				},
			],
		},
		{ name: 'realm2', roles: [everything('frontend')] },
		{ name: 'authrealm', roles: [everything('frontend')] },
	];
	return cfg;
}

// ---- the dynamic authenticators (Autobahn|JS) ----------------------------

const rec = (proc) => (args) => {
	const [realm, authid, details] = args;
	calls.push({ proc, realm, authid, details });
	return { realm, authid, details };
};

function ticketAuthenticator(args) {
	const { authid, details } = rec('ticket')(args);
	switch (authid) {
	case 'dyn-joe':
		if (details.ticket === 'pw-joe') return 'frontend';
		throw new autobahn.Error('wamp.error.not_authorized', ['bad ticket']);
	case 'dyn-dict':
		return { role: 'frontend', authid: 'dyn-renamed', extra: { color: 'blue', n: 7 } };
	case 'dyn-realm2':
		return { role: 'frontend', realm: 'realm2' };
	case 'dyn-default':
		return { extra: { tier: 'default' } };
	case 'dyn-reject':
		throw new autobahn.Error('com.example.auth.rejected', ['no entry today']);
	case 'dyn-crash':
		throw new TypeError('the authenticator crashed');   // not an autobahn.Error
	case 'dyn-junk':
		return 42;
	case 'dyn-junk-list':
		return [['frontend']];
	case 'dyn-norole':
		return 'nosuchrole';
	default:
		throw new autobahn.Error('wamp.error.not_authorized', ['unknown']);
	}
}

function craAuthenticator(args) {
	const { authid } = rec('cra')(args);
	switch (authid) {
	case 'cra-plain':
		return { secret: 'cra-s3cret', role: 'frontend' };
	case 'cra-salted-new':      // the secret is the password (new Crossbar)
		return { secret: 'pw-new', salt: 'NaCl', iterations: 50, keylen: 32, role: 'frontend' };
	case 'cra-salted-old':      // the secret is the pre-derived key (old Crossbar)
		return { secret: craDeriveKey('pw-old', 'NaCl', 50, 32), salt: 'NaCl', iterations: 50, keylen: 32, role: 'frontend' };
	case 'cra-reject':
		throw new autobahn.Error('com.example.auth.cra_rejected', ['not you']);
	default:
		throw new autobahn.Error('wamp.error.not_authorized', ['unknown']);
	}
}

function csAuthenticator(args) {
	const { authid, details } = rec('cs')(args);
	const pubkey = details.authextra && details.authextra.pubkey;
	if (authid === 'cs-dyn') return { pubkey: DYN.pub, role: 'frontend', extra: { tier: 'gold' } };
	if (authid === 'cs-mismatch') return { pubkey: OTHER.pub, role: 'frontend' };
	if ((authid === null || authid === undefined) && pubkey === DYN.pub) {
		return { pubkey: DYN.pub, authid: 'cs-by-key', role: 'frontend' };
	}
	throw new autobahn.Error('wamp.error.not_authorized', ['unknown key']);
}

before(async () => {
	gw = await startGateway({ config: config() });
	authn = await connectAutobahn(gw, { path: '/backend' });
	await authn.register('com.example.authenticate.ticket', ticketAuthenticator);
	await authn.register('com.example.authenticate.cra', craAuthenticator);
	await authn.register('com.example.authenticate.cs', csAuthenticator);
	elsewhere = await connectAutobahn(gw, { path: '/trusted', realm: 'authrealm' });
	await elsewhere.register('com.example.authenticate.elsewhere', (args) => {
		rec('elsewhere')(args);
		return args[1] === 'far-joe' && args[2].ticket === 'far-ticket' ? 'frontend' : 'nosuchrole';
	});
});
after(async () => {
	if (authn) await authn.end();
	if (elsewhere) await elsewhere.end();
	await stopClean(gw);
});

// ---- helpers -----------------------------------------------------------

/** Autobahn|JS login on /PATH; resolves to the open session. */
function login(pth, opts = {}) {
	return connectAutobahn(gw, { path: `/${pth}`, ...opts });
}

/** Autobahn|JS login that must be refused: resolves to {uri, message}. */
async function refused(pth, opts = {}) {
	const r = await login(pth, opts).then(async (s) => {
		await s.end();
		return { opened: s.welcome };
	}, (e) => e);
	assert.ok(!r.opened, `expected an ABORT on /${pth} ${JSON.stringify({ ...opts, onchallenge: undefined })}, ` +
		`got WELCOME ${JSON.stringify(r.opened)}`);
	assert.ok(r.details, `no ABORT details: ${r.message}`);
	return { uri: r.details.reason, message: r.details.message };
}

const ticketFor = (t) => (session, method, extra) => {
	assert.equal(method, 'ticket');
	assert.deepEqual(extra, {});
	return t;
};

function assertWelcome(w, { authid, authrole, authmethod, authprovider }, what = '') {
	assert.equal(w.authid, authid, `${what} authid: ${JSON.stringify(w)}`);
	assert.equal(w.authrole, authrole, `${what} authrole`);
	assert.equal(w.authmethod, authmethod, `${what} authmethod`);
	assert.equal(w.authprovider, authprovider, `${what} authprovider`);
}

/** Raw HELLO on /PATH expecting a CHALLENGE for method; returns [client, extra]. */
async function challenged(pth, method, hello) {
	const c = await rawWamp(gw, { path: `/${pth}` });
	const m = await rawHello(c, hello);
	assert.ok(Array.isArray(m) && m[0] === T.CHALLENGE, `expected CHALLENGE ${method}, got ${JSON.stringify(m)}`);
	assert.equal(m[1], method, JSON.stringify(m));
	return [c, m[2]];
}

/** The next message must be an ABORT with uri; the connection then closes. */
async function expectAbort(c, uri, what = '') {
	const m = await c.next(5000);
	const a = abortOf(m);
	assert.ok(a, `${what}: expected ABORT ${uri}, got ${JSON.stringify(m)}`);
	assert.equal(a.uri, uri, `${what}: ${JSON.stringify(m)}`);
	assert.equal(typeof a.message, 'string', `${what}: ABORT details.message`);
	assert.ok(a.message.length > 0, `${what}: empty message`);
	const closed = await within(c.closed, 5000);
	assert.notEqual(closed, 'timeout', `${what}: the router must close the connection after ABORT`);
	return a;
}

const callsFor = (proc, authid) => calls.filter((x) => x.proc === proc && x.authid === authid);

// ---- anonymous, ticket --------------------------------------------------

test('no auth object: the path stays anonymous-only as before', async () => {
	// Test that /ws (no auth) welcomes an Autobahn|JS client that offers
	// nothing, and one offering ["anonymous"], as anonymous/static with a
	// random authid.
	for (const opts of [{}, { authmethods: ['anonymous'] }]) {
		const s = await login('ws', opts);
		assert.equal(s.welcome.authrole, 'anonymous');
		assert.equal(s.welcome.authmethod, 'anonymous');
		assert.equal(s.welcome.authprovider, 'static');
		assert.match(s.welcome.authid, AUTHID);
		await s.end();
	}
});

test('ticket: the right ticket -> WELCOME authid/authrole/authmethod/authprovider', async () => {
	// Test Autobahn|JS with authmethods ["ticket"]: the CHALLENGE extra is {}
	// and WELCOME states joe / frontend / ticket / static; kim gets her role.
	const s = await login('auth', { authmethods: ['ticket'], authid: 'joe', onchallenge: ticketFor('secret!') });
	assertWelcome(s.welcome, { authid: 'joe', authrole: 'frontend', authmethod: 'ticket', authprovider: 'static' });
	assert.ok(isId(s.id));
	// frontend may publish: the session works
	const pub = await s.publish('com.example.ticket.ok', [1], {}, { acknowledge: true });
	assert.ok(isId(pub.id));
	await s.end();
	const k = await login('auth', { authmethods: ['ticket'], authid: 'kim', onchallenge: ticketFor('kim-ticket') });
	assertWelcome(k.welcome, { authid: 'kim', authrole: 'public', authmethod: 'ticket', authprovider: 'static' });
	await k.end();
});

test('ticket: wrong ticket, unknown authid, another user\'s ticket -> not_authorized, no hint which', async () => {
	// Test three refusals with ABORT wamp.error.not_authorized; the messages
	// for a wrong ticket and an unknown authid are the same once the authid
	// is blanked out (they must not say which part was wrong).
	const wrong = await refused('auth', { authmethods: ['ticket'], authid: 'joe', onchallenge: () => 'Secret!' });
	const unknown = await refused('auth', { authmethods: ['ticket'], authid: 'nobody', onchallenge: () => 'secret!' });
	const swapped = await refused('auth', { authmethods: ['ticket'], authid: 'kim', onchallenge: () => 'secret!' });
	for (const r of [wrong, unknown, swapped]) {
		assert.equal(r.uri, 'wamp.error.not_authorized', JSON.stringify(r));
		assert.ok(typeof r.message === 'string' && r.message.length > 0, JSON.stringify(r));
		assert.ok(!/secret!|Secret!|kim-ticket/.test(r.message), `the message echoes a ticket: ${r.message}`);
	}
	assert.equal(wrong.message.replaceAll('joe', 'X'), unknown.message.replaceAll('nobody', 'X'),
		'wrong ticket and unknown authid must look the same');
	// the path still accepts the right ticket afterwards
	const s = await login('auth', { authmethods: ['ticket'], authid: 'joe', onchallenge: ticketFor('secret!') });
	await s.end();
});

test('ticket on the wire: CHALLENGE [4, "ticket", {}], AUTHENTICATE [5, ticket, {}], WELCOME', async () => {
	// Test the exact CHALLENGE message of a raw client and the WELCOME after
	// the right ticket; a wrong one is ABORTed and the connection closed.
	const c = await rawWamp(gw, { path: '/auth' });
	const m = await rawHello(c, { authmethods: ['ticket'], authid: 'joe' });
	assert.deepEqual(m, [T.CHALLENGE, 'ticket', {}]);
	c.send([T.AUTHENTICATE, 'secret!', {}]);
	const w = await c.expect(T.WELCOME);
	assert.ok(isId(w[1]));
	assertWelcome(w[2], { authid: 'joe', authrole: 'frontend', authmethod: 'ticket', authprovider: 'static' });
	await c.close();
	const [bad] = await challenged('auth', 'ticket', { authmethods: ['ticket'], authid: 'joe' });
	bad.send([T.AUTHENTICATE, 'nope', {}]);
	await expectAbort(bad, 'wamp.error.not_authorized', 'wrong ticket');
});

// ---- wampcra ----------------------------------------------------------------

test('wampcra plain: Autobahn|JS signs with auth_cra.sign; the challenge JSON has every field', async () => {
	// Test joe/secret2: the CHALLENGE extra holds only "challenge", a JSON
	// text with authid, authrole, authmethod, authprovider, session (= the
	// WELCOME session id), nonce and an ISO timestamp; no salt.
	let seen;
	const s = await login('auth', {
		authmethods: ['wampcra'], authid: 'joe',
		onchallenge: (session, method, extra) => {
			seen = { method, extra };
			return autobahn.auth_cra.sign('secret2', extra.challenge);
		},
	});
	assertWelcome(s.welcome, { authid: 'joe', authrole: 'frontend', authmethod: 'wampcra', authprovider: 'static' });
	assert.equal(seen.method, 'wampcra');
	assert.deepEqual(Object.keys(seen.extra), ['challenge'], JSON.stringify(seen.extra));
	assert.equal(typeof seen.extra.challenge, 'string');
	const ch = JSON.parse(seen.extra.challenge);
	assert.equal(ch.authid, 'joe');
	assert.equal(ch.authrole, 'frontend');
	assert.equal(ch.authmethod, 'wampcra');
	assert.equal(ch.authprovider, 'static');
	assert.equal(ch.session, s.id, 'challenge session = WELCOME session');
	assert.ok(typeof ch.nonce === 'string' && ch.nonce.length >= 8, `nonce ${ch.nonce}`);
	assert.match(ch.timestamp, TIMESTAMP);
	assert.ok(Math.abs(Date.parse(ch.timestamp) - Date.now()) < 60000, `timestamp ${ch.timestamp}`);
	await s.end();
	// two challenges never repeat a nonce
	const s2 = await login('auth', {
		authmethods: ['wampcra'], authid: 'joe',
		onchallenge: (session, method, extra) => {
			assert.notEqual(JSON.parse(extra.challenge).nonce, ch.nonce);
			return autobahn.auth_cra.sign('secret2', extra.challenge);
		},
	});
	await s2.end();
});

test('wampcra plain: a wrong secret, an unknown user, a re-serialized challenge -> not_authorized', async () => {
	// Test the signature over the challenge text exactly: signing
	// JSON.stringify(JSON.parse(challenge)) with the right secret is refused
	// unless it happens to be byte-identical.
	const wrong = await refused('auth', {
		authmethods: ['wampcra'], authid: 'joe',
		onchallenge: (s, m, extra) => autobahn.auth_cra.sign('secret3', extra.challenge),
	});
	assert.equal(wrong.uri, 'wamp.error.not_authorized');
	const unknown = await refused('auth', {
		authmethods: ['wampcra'], authid: 'nobody',
		onchallenge: (s, m, extra) => autobahn.auth_cra.sign('secret2', extra.challenge),
	});
	assert.equal(unknown.uri, 'wamp.error.not_authorized');
	const [c, extra] = await challenged('auth', 'wampcra', { authmethods: ['wampcra'], authid: 'joe' });
	const reser = JSON.stringify(JSON.parse(extra.challenge), null, 1);
	assert.notEqual(reser, extra.challenge);
	c.send([T.AUTHENTICATE, craSign('secret2', reser), {}]);
	await expectAbort(c, 'wamp.error.not_authorized', 're-serialized challenge');
});

test('wampcra salted (crossbar-examples): peter logs in with "secret1" through auth_cra.derive_key', async () => {
	// Test the stored pre-derived key: the CHALLENGE carries salt salt123,
	// iterations 100, keylen 16; derive_key("secret1", ..) is exactly the
	// configured string, and its HMAC signature is accepted.
	let extraSeen;
	const s = await login('auth', {
		authmethods: ['wampcra'], authid: 'peter',
		onchallenge: (session, method, extra) => {
			extraSeen = extra;
			const key = autobahn.auth_cra.derive_key('secret1', extra.salt, extra.iterations, extra.keylen);
			assert.equal(key, PETER_KEY);
			return autobahn.auth_cra.sign(key, extra.challenge);
		},
	});
	assertWelcome(s.welcome, { authid: 'peter', authrole: 'frontend', authmethod: 'wampcra', authprovider: 'static' });
	assert.equal(extraSeen.salt, 'salt123');
	assert.equal(extraSeen.iterations, 100);
	assert.equal(extraSeen.keylen, 16);
	await s.end();
});

test('wampcra salted: the configured string used as the password also logs in (new Crossbar)', async () => {
	// Test derive_key(PETER_KEY, salt123, 100, 16) as the HMAC key (the
	// server derives from the configured secret itself).
	const s = await login('auth', {
		authmethods: ['wampcra'], authid: 'peter',
		onchallenge: (session, method, extra) => autobahn.auth_cra.sign(
			autobahn.auth_cra.derive_key(PETER_KEY, extra.salt, extra.iterations, extra.keylen), extra.challenge),
	});
	assertWelcome(s.welcome, { authid: 'peter', authrole: 'frontend', authmethod: 'wampcra', authprovider: 'static' });
	await s.end();
});

test('wampcra salted: a wrong password and the password used without deriving -> not_authorized', async () => {
	// Test derive_key("secret2") and the plain HMAC with "secret1" (no PBKDF2).
	for (const [what, sign] of [
		['wrong password', (extra) => craSign(craDeriveKey('secret2', extra.salt, extra.iterations, extra.keylen), extra.challenge)],
		['password not derived', (extra) => craSign('secret1', extra.challenge)],
	]) {
		const r = await refused('auth', { authmethods: ['wampcra'], authid: 'peter', onchallenge: (s, m, extra) => sign(extra) });
		assert.equal(r.uri, 'wamp.error.not_authorized', what);
	}
});

// ---- cryptosign -------------------------------------------------------------

test('cryptosign: Autobahn|JS, a node:crypto key, signed by auth_cryptosign (tweetnacl)', async () => {
	// Test HELLO authextra.pubkey with authid alice: CHALLENGE extra
	// {challenge: 64 hex, channel_binding: null}; the signature made by
	// Autobahn's helper from the key's seed is accepted.
	const kp = autobahn.nacl.sign.keyPair.fromSeed(new Uint8Array(ALICE.seed));
	assert.equal(autobahn.auth_cryptosign.public_key(kp), ALICE.pub);
	let extraSeen;
	const s = await login('auth', {
		authmethods: ['cryptosign'], authid: 'alice', authextra: { pubkey: ALICE.pub },
		onchallenge: (session, method, extra) => {
			assert.equal(method, 'cryptosign');
			extraSeen = extra;
			return autobahn.auth_cryptosign.sign_challenge(kp, extra);
		},
	});
	assertWelcome(s.welcome, { authid: 'alice', authrole: 'frontend', authmethod: 'cryptosign', authprovider: 'static' });
	assert.match(extraSeen.challenge, /^[0-9a-f]{64}$/);
	assert.ok('channel_binding' in extraSeen && extraSeen.channel_binding === null, JSON.stringify(extraSeen));
	await s.end();
});

test('cryptosign: no authid, the second authorized key identifies alice (signed with node:crypto)', async () => {
	// Test a raw client: HELLO without authid, pubkey = alice's second key;
	// AUTHENTICATE = hex(signature || challenge), 192 hex chars -> WELCOME
	// authid alice.
	const [c, extra] = await challenged('auth', 'cryptosign', { authmethods: ['cryptosign'], authextra: { pubkey: ALICE2.pub } });
	assert.match(extra.challenge, /^[0-9a-f]{64}$/);
	const sig = cryptosignSign(ALICE2, extra.challenge);
	assert.equal(sig.length, 192);
	c.send([T.AUTHENTICATE, sig, {}]);
	const w = await c.expect(T.WELCOME);
	assertWelcome(w[2], { authid: 'alice', authrole: 'frontend', authmethod: 'cryptosign', authprovider: 'static' });
	await c.close();
});

test('cryptosign: an unauthorized key, a forged signature, another challenge, a short answer -> not_authorized', async () => {
	// Test four refusals: mallory's key claiming alice (refused at HELLO or
	// after a correct signature by that key), alice's pubkey with mallory's
	// signature, a valid signature over other 32 bytes, 64 bytes only.
	{
		const c = await rawWamp(gw, { path: '/auth' });
		const m = await rawHello(c, { authmethods: ['cryptosign'], authid: 'alice', authextra: { pubkey: MALLORY.pub } });
		if (m[0] === T.CHALLENGE) {
			c.send([T.AUTHENTICATE, cryptosignSign(MALLORY, m[2].challenge), {}]);
			await expectAbort(c, 'wamp.error.not_authorized', 'unauthorized key');
		} else {
			assert.equal(abortOf(m) && abortOf(m).uri, 'wamp.error.not_authorized', JSON.stringify(m));
		}
	}
	const cases = [
		['forged signature', (ch) => cryptosignSign(MALLORY, ch)],
		['signature over other bytes', () => cryptosignSign(ALICE, 'ab'.repeat(32))],
		['signature without the challenge', (ch) => cryptosignSign(ALICE, ch).slice(0, 128)],
		['valid signature, other challenge appended', (ch) => cryptosignSign(ALICE, ch).slice(0, 128) + 'cd'.repeat(32)],
	];
	for (const [what, answer] of cases) {
		const [c, extra] = await challenged('auth', 'cryptosign', { authmethods: ['cryptosign'], authid: 'alice', authextra: { pubkey: ALICE.pub } });
		c.send([T.AUTHENTICATE, answer(extra.challenge), {}]);
		await expectAbort(c, 'wamp.error.not_authorized', what);
	}
});

// ---- method selection ---------------------------------------------------------

test('anonymous alongside ticket: anonymous gets the public role, ticket the principal\'s', async () => {
	// Test /mixed: Autobahn|JS offering nothing and ["anonymous"] join as
	// public/anonymous/static; ["ticket"] as joe joins as frontend.
	for (const opts of [{}, { authmethods: ['anonymous'] }]) {
		const s = await login('mixed', opts);
		assert.equal(s.welcome.authrole, 'public');
		assert.equal(s.welcome.authmethod, 'anonymous');
		assert.equal(s.welcome.authprovider, 'static');
		assert.match(s.welcome.authid, AUTHID);
		await s.end();
	}
	const t = await login('mixed', { authmethods: ['ticket'], authid: 'joe', onchallenge: ticketFor('secret!') });
	assertWelcome(t.welcome, { authid: 'joe', authrole: 'frontend', authmethod: 'ticket', authprovider: 'static' });
	await t.end();
});

test('method order: the first configured method in the client\'s list is used, unconfigured ones skipped', async () => {
	// Test raw HELLOs: on /auth ["wampcra","ticket"] -> wampcra,
	// ["ticket","wampcra"] -> ticket, ["scram","cookie","anonymous","ticket"]
	// -> ticket; on /mixed ["anonymous","ticket"] -> WELCOME anonymous,
	// ["ticket","anonymous"] -> CHALLENGE ticket.
	const cases = [
		['auth', ['wampcra', 'ticket'], 'wampcra'],
		['auth', ['ticket', 'wampcra'], 'ticket'],
		['auth', ['scram', 'cookie', 'anonymous', 'ticket'], 'ticket'],
		['auth', ['cryptosign', 'ticket'], 'cryptosign'],
		['mixed', ['ticket', 'anonymous'], 'ticket'],
	];
	for (const [pth, authmethods, want] of cases) {
		const extra = authmethods[0] === 'cryptosign' ? { pubkey: ALICE.pub } : undefined;
		const [c] = await challenged(pth, want, { authmethods, authid: authmethods[0] === 'cryptosign' ? 'alice' : 'joe', authextra: extra });
		await c.close();
	}
	const c = await rawWamp(gw, { path: '/mixed' });
	const w = await rawHello(c, { authmethods: ['anonymous', 'ticket'], authid: 'joe' });
	assert.equal(w[0], T.WELCOME, JSON.stringify(w));
	assert.equal(w[2].authmethod, 'anonymous');
	assert.equal(w[2].authrole, 'public');
	await c.close();
});

test('no_auth_method: nothing the client offers is configured on the path', async () => {
	// Test /ticketonly with no authmethods (= anonymous), ["anonymous"],
	// ["wampcra","cryptosign"]; and Autobahn|JS offering nothing on /auth.
	for (const authmethods of [undefined, ['anonymous'], ['wampcra', 'cryptosign']]) {
		const c = await rawWamp(gw, { path: '/ticketonly' });
		const m = await rawHello(c, { authmethods, authid: 'joe', authextra: { pubkey: ALICE.pub } });
		assert.ok(abortOf(m), `${JSON.stringify(authmethods)}: expected ABORT, got ${JSON.stringify(m)}`);
		assert.equal(m[2], 'wamp.error.no_auth_method', JSON.stringify(m));
		assert.ok(typeof m[1].message === 'string' && m[1].message.length > 0);
		assert.notEqual(await within(c.closed, 5000), 'timeout');
	}
	const r = await refused('auth', {});
	assert.equal(r.uri, 'wamp.error.no_auth_method');
});

// ---- dynamic authenticators: ticket -------------------------------------------

test('dynamic ticket: called after AUTHENTICATE with (realm, authid, details); a role string accepts', async () => {
	// Test a raw client with authextra: no call at HELLO; after AUTHENTICATE
	// one call with realm1, dyn-joe and details {session (= WELCOME id),
	// authmethod, authid, authextra, transport {type, peer tcp4:127.0.0.1:
	// <our port>}, ticket}; WELCOME authprovider dynamic, role frontend.
	const before = callsFor('ticket', 'dyn-joe').length;
	const [c, extra] = await challenged('dyn', 'ticket', { authmethods: ['ticket'], authid: 'dyn-joe', authextra: { device: 'raw', n: 1 } });
	assert.deepEqual(extra, {});
	await sleep(150);
	assert.equal(callsFor('ticket', 'dyn-joe').length, before, 'the ticket authenticator must not be called before AUTHENTICATE');
	c.send([T.AUTHENTICATE, 'pw-joe', {}]);
	const w = await c.expect(T.WELCOME);
	assertWelcome(w[2], { authid: 'dyn-joe', authrole: 'frontend', authmethod: 'ticket', authprovider: 'dynamic' });
	const got = callsFor('ticket', 'dyn-joe');
	assert.equal(got.length, before + 1);
	const call = got.at(-1);
	assert.equal(call.realm, 'realm1');
	const d = call.details;
	assert.equal(d.session, w[1], 'details.session = the WELCOME session id');
	assert.equal(d.authmethod, 'ticket');
	assert.equal(d.authid, 'dyn-joe');
	assert.equal(d.ticket, 'pw-joe');
	assert.deepEqual(d.authextra, { device: 'raw', n: 1 });
	assert.equal(d.transport.type, 'websocket');
	assert.equal(d.transport.peer, `tcp4:127.0.0.1:${c.ws._socket.localPort}`);
	await c.close();
	// the authenticator turns a wrong ticket down with not_authorized
	const r = await refused('dyn', { authmethods: ['ticket'], authid: 'dyn-joe', onchallenge: () => 'pw-wrong' });
	assert.equal(r.uri, 'wamp.error.not_authorized');
	assert.equal(callsFor('ticket', 'dyn-joe').at(-1).details.ticket, 'pw-wrong');
});

test('dynamic ticket: a dict result sets authid and extra (WELCOME authextra)', async () => {
	// Test {role, authid: dyn-renamed, extra} -> WELCOME authid dyn-renamed,
	// authextra {color, n}.
	const s = await login('dyn', { authmethods: ['ticket'], authid: 'dyn-dict', onchallenge: ticketFor('any') });
	assertWelcome(s.welcome, { authid: 'dyn-renamed', authrole: 'frontend', authmethod: 'ticket', authprovider: 'dynamic' });
	assert.deepEqual(s.welcome.authextra, { color: 'blue', n: 7 });
	await s.end();
});

test('dynamic ticket: a dict naming no role gets the method\'s default-role', async () => {
	// Test {extra} alone from the authenticator on /dyn, whose ticket config
	// has "default-role": "public".
	const d = await login('dyn', { authmethods: ['ticket'], authid: 'dyn-default', onchallenge: ticketFor('any') });
	assertWelcome(d.welcome, { authid: 'dyn-default', authrole: 'public', authmethod: 'ticket', authprovider: 'dynamic' });
	assert.deepEqual(d.welcome.authextra, { tier: 'default' });
	await d.end();
});

test('dynamic ticket: a realm override puts the session into realm2', async () => {
	// Test {role, realm: "realm2"} for a client that asked for realm1: WELCOME
	// realm realm2, and its publication reaches a realm2 subscriber, not a
	// realm1 one.
	const sub2 = await connectAutobahn(gw, { path: '/trusted', realm: 'realm2' });
	const sub1 = await connectAutobahn(gw, { path: '/trusted', realm: 'realm1' });
	const got1 = [], got2 = [];
	await sub2.subscribe('com.example.where', (a) => got2.push(a[0]));
	await sub1.subscribe('com.example.where', (a) => got1.push(a[0]));
	const s = await login('dyn', { authmethods: ['ticket'], authid: 'dyn-realm2', onchallenge: ticketFor('any') });
	try {
		assert.equal(s.welcome.realm, 'realm2', JSON.stringify(s.welcome));
		assertWelcome(s.welcome, { authid: 'dyn-realm2', authrole: 'frontend', authmethod: 'ticket', authprovider: 'dynamic' });
		await s.publish('com.example.where', ['from the override'], {}, { acknowledge: true });
		await waitFor(() => got2.length === 1, 3000, 'the realm2 subscriber to get the event');
		await sleep(100);
		assert.deepEqual(got2, ['from the override']);
		assert.deepEqual(got1, []);
	} finally {
		await s.end();
		await sub1.end();
		await sub2.end();
	}
});

test('dynamic ticket: ApplicationError -> ABORT with its URI; a JS exception or junk -> authentication_failed', async () => {
	// Test autobahn.Error("com.example.auth.rejected") -> that URI; a thrown
	// TypeError (non-application error, wamp.error.runtime_error on the
	// wire), 42 and [["frontend"]] as results -> wamp.error.authentication_failed.
	const rej = await refused('dyn', { authmethods: ['ticket'], authid: 'dyn-reject', onchallenge: () => 't' });
	assert.equal(rej.uri, 'com.example.auth.rejected');
	assert.ok(typeof rej.message === 'string' && rej.message.length > 0);
	for (const authid of ['dyn-crash', 'dyn-junk', 'dyn-junk-list']) {
		const r = await refused('dyn', { authmethods: ['ticket'], authid, onchallenge: () => 't' });
		assert.equal(r.uri, 'wamp.error.authentication_failed', `${authid}: ${JSON.stringify(r)}`);
		assert.equal(callsFor('ticket', authid).length >= 1, true, `${authid}: the authenticator was called`);
	}
});

test('dynamic: a role the realm does not define -> no_such_role', async () => {
	// Test the authenticator answering "nosuchrole".
	const r = await refused('dyn', { authmethods: ['ticket'], authid: 'dyn-norole', onchallenge: () => 't' });
	assert.equal(r.uri, 'wamp.error.no_such_role');
});

test('dynamic: no authenticator registered -> authentication_failed (ticket and wampcra)', async () => {
	// Test /dynabsent whose procedure nobody registered.
	const t = await refused('dynabsent', { authmethods: ['ticket'], authid: 'joe', onchallenge: () => 'secret!' });
	assert.equal(t.uri, 'wamp.error.authentication_failed');
	const c = await rawWamp(gw, { path: '/dynabsent' });
	let m = await rawHello(c, { authmethods: ['wampcra'], authid: 'joe' });
	if (m[0] === T.CHALLENGE) {
		c.send([T.AUTHENTICATE, craRespond('secret2', m[2]), {}]);
		m = await c.next();
	}
	assert.ok(abortOf(m), JSON.stringify(m));
	assert.equal(m[2], 'wamp.error.authentication_failed', JSON.stringify(m));
});

test('dynamic: authenticator-realm: a trusted session in another realm authenticates realm1 clients', async () => {
	// Test /dynelse (authenticator-realm authrealm): the call carries realm1
	// (the realm asked for) and the principal joins realm1.
	const s = await login('dynelse', { authmethods: ['ticket'], authid: 'far-joe', onchallenge: ticketFor('far-ticket') });
	assertWelcome(s.welcome, { authid: 'far-joe', authrole: 'frontend', authmethod: 'ticket', authprovider: 'dynamic' });
	const call = callsFor('elsewhere', 'far-joe').at(-1);
	assert.equal(call.realm, 'realm1');
	assert.equal(call.details.ticket, 'far-ticket');
	await s.end();
});

// ---- dynamic authenticators: wampcra, cryptosign ---------------------------

test('dynamic wampcra: called at HELLO; the returned secret signs; CHALLENGE authprovider dynamic', async () => {
	// Test a raw client: the authenticator call happens before the CHALLENGE
	// arrives (details.authmethod wampcra, no ticket); the challenge JSON
	// names role frontend and provider dynamic; HMAC with the returned secret
	// -> WELCOME.
	const before = callsFor('cra', 'cra-plain').length;
	const [c, extra] = await challenged('dyn', 'wampcra', { authmethods: ['wampcra'], authid: 'cra-plain' });
	const got = callsFor('cra', 'cra-plain');
	assert.equal(got.length, before + 1, 'called at HELLO, before the CHALLENGE');
	assert.equal(got.at(-1).realm, 'realm1');
	assert.equal(got.at(-1).details.authmethod, 'wampcra');
	assert.equal(got.at(-1).details.ticket, undefined);
	const ch = JSON.parse(extra.challenge);
	assert.equal(ch.authid, 'cra-plain');
	assert.equal(ch.authrole, 'frontend');
	assert.equal(ch.authprovider, 'dynamic');
	assert.equal(ch.authmethod, 'wampcra');
	assert.equal(extra.salt, undefined);
	c.send([T.AUTHENTICATE, craSign('cra-s3cret', extra.challenge), {}]);
	const w = await c.expect(T.WELCOME);
	assert.equal(ch.session, w[1]);
	assertWelcome(w[2], { authid: 'cra-plain', authrole: 'frontend', authmethod: 'wampcra', authprovider: 'dynamic' });
	await c.close();
	const bad = await refused('dyn', {
		authmethods: ['wampcra'], authid: 'cra-plain',
		onchallenge: (s, m, e) => autobahn.auth_cra.sign('cra-wrong', e.challenge),
	});
	assert.equal(bad.uri, 'wamp.error.not_authorized');
});

test('dynamic wampcra: salted secrets, as the password and as the pre-derived key; a rejection', async () => {
	// Test {secret, salt, iterations, keylen} from the authenticator: the
	// CHALLENGE carries salt NaCl / 50 / 32, and Autobahn's derive_key of
	// the user's password is accepted in both schemes; autobahn.Error from
	// the authenticator -> its URI.
	for (const [authid, password] of [['cra-salted-new', 'pw-new'], ['cra-salted-old', 'pw-old']]) {
		let ex;
		const s = await login('dyn', {
			authmethods: ['wampcra'], authid,
			onchallenge: (session, method, extra) => {
				ex = extra;
				return autobahn.auth_cra.sign(
					autobahn.auth_cra.derive_key(password, extra.salt, extra.iterations, extra.keylen), extra.challenge);
			},
		});
		assertWelcome(s.welcome, { authid, authrole: 'frontend', authmethod: 'wampcra', authprovider: 'dynamic' }, authid);
		assert.deepEqual([ex.salt, ex.iterations, ex.keylen], ['NaCl', 50, 32], authid);
		await s.end();
	}
	const r = await refused('dyn', { authmethods: ['wampcra'], authid: 'cra-reject', onchallenge: () => 'x' });
	assert.equal(r.uri, 'com.example.auth.cra_rejected');
});

test('dynamic cryptosign: the returned pubkey must match; authid from the authenticator; extra', async () => {
	// Test cs-dyn (details.authextra.pubkey reaches the authenticator; WELCOME
	// authextra {tier: gold}); no authid -> the authenticator names cs-by-key;
	// a returned pubkey that is not the client's -> refused.
	const s = await login('dyn', {
		authmethods: ['cryptosign'], authid: 'cs-dyn', authextra: { pubkey: DYN.pub },
		onchallenge: (session, method, extra) => cryptosignSign(DYN, extra.challenge),
	});
	assertWelcome(s.welcome, { authid: 'cs-dyn', authrole: 'frontend', authmethod: 'cryptosign', authprovider: 'dynamic' });
	assert.deepEqual(s.welcome.authextra, { tier: 'gold' });
	assert.equal(callsFor('cs', 'cs-dyn').at(-1).details.authextra.pubkey, DYN.pub);
	assert.equal(callsFor('cs', 'cs-dyn').at(-1).details.authmethod, 'cryptosign');
	await s.end();
	const k = await login('dyn', {
		authmethods: ['cryptosign'], authextra: { pubkey: DYN.pub },
		onchallenge: (session, method, extra) => cryptosignSign(DYN, extra.challenge),
	});
	assertWelcome(k.welcome, { authid: 'cs-by-key', authrole: 'frontend', authmethod: 'cryptosign', authprovider: 'dynamic' });
	await k.end();
	const r = await refused('dyn', {
		authmethods: ['cryptosign'], authid: 'cs-mismatch', authextra: { pubkey: DYN.pub },
		onchallenge: (session, method, extra) => cryptosignSign(DYN, extra.challenge),
	});
	assert.ok(['wamp.error.not_authorized', 'wamp.error.authentication_failed'].includes(r.uri), JSON.stringify(r));
	// and a signature by a key other than the announced one is refused
	const f = await refused('dyn', {
		authmethods: ['cryptosign'], authid: 'cs-dyn', authextra: { pubkey: DYN.pub },
		onchallenge: (session, method, extra) => cryptosignSign(OTHER, extra.challenge),
	});
	assert.equal(f.uri, 'wamp.error.not_authorized');
});

// ---- protocol ------------------------------------------------------------------

test('AUTHENTICATE without a CHALLENGE (before HELLO; after an anonymous WELCOME) -> protocol_violation', async () => {
	// Test [5, sig, {}] as the first message, and after WELCOME for method
	// anonymous (which has no challenge): ABORT protocol_violation, close 1002.
	{
		const c = await rawWamp(gw, { path: '/auth' });
		c.send([T.AUTHENTICATE, 'secret!', {}]);
		const a = await expectAbort(c, 'wamp.error.protocol_violation', 'AUTHENTICATE before HELLO');
		assert.ok(a);
		assert.equal((await c.closed).code, 1002);
	}
	{
		const c = await rawWamp(gw, { path: '/mixed' });
		const w = await rawHello(c, { authmethods: ['anonymous'] });
		assert.equal(w[0], T.WELCOME, JSON.stringify(w));
		c.send([T.AUTHENTICATE, 'secret!', {}]);
		await expectAbort(c, 'wamp.error.protocol_violation', 'AUTHENTICATE after an anonymous WELCOME');
		assert.equal((await c.closed).code, 1002);
	}
	{
		// after a completed ticket handshake, a second AUTHENTICATE
		const [c] = await challenged('auth', 'ticket', { authmethods: ['ticket'], authid: 'joe' });
		c.send([T.AUTHENTICATE, 'secret!', {}]);
		await c.expect(T.WELCOME);
		c.send([T.AUTHENTICATE, 'secret!', {}]);
		await expectAbort(c, 'wamp.error.protocol_violation', 'a second AUTHENTICATE');
	}
});

test('failure slow-down: ABORTs come later with each consecutive failure; others unaffected; success resets', async () => {
	// Test a gateway with auth_failure_delay 300: three wrong tickets in a
	// row take ~300, ~600, ~1200 ms to be refused; a right ticket during the
	// third wait is welcomed at once; after it the next failure is back to
	// ~300 ms.
	const cfg = makeConfig({
		paths: {
			slow: {
				type: 'websocket', options: { auth_failure_delay: 300, auth_failure_delay_max: 10000 },
				auth: { ticket: { type: 'static', principals: { joe: { ticket: 'secret!', role: 'anonymous' } } } },
			},
		},
	});
	const g = await startGateway({ config: cfg });
	try {
		const attempt = async (ticket) => {
			const c = await rawWamp(g, { path: '/slow' });
			const ch = await rawHello(c, { authmethods: ['ticket'], authid: 'joe' });
			assert.deepEqual(ch, [T.CHALLENGE, 'ticket', {}]);
			const t0 = Date.now();
			c.send([T.AUTHENTICATE, ticket, {}]);
			const m = await c.next(15000);
			const ms = Date.now() - t0;
			await c.close();
			return { m, ms };
		};
		const fail = async () => {
			const r = await attempt('wrong');
			assert.equal(abortOf(r.m) && r.m[2], 'wamp.error.not_authorized', JSON.stringify(r.m));
			return r.ms;
		};
		const d1 = await fail();
		const d2 = await fail();
		const third = fail();
		await sleep(150);
		const good = await attempt('secret!');
		assert.equal(good.m[0], T.WELCOME, JSON.stringify(good.m));
		assert.ok(good.ms < 600, `a good login from the same address waited ${good.ms} ms`);
		const d3 = await third;
		const d4 = await fail();
		const ds = `delays ${d1}, ${d2}, ${d3}, then after a success ${d4} ms`;
		assert.ok(d1 >= 270 && d1 < 1000, ds);
		assert.ok(d2 >= 540 && d2 > d1, ds);
		assert.ok(d3 >= 1080 && d3 > d2, ds);
		assert.ok(d4 >= 270 && d4 < 1000, ds);
	} finally {
		await stopClean(g);
	}
});

// ---- other clients ---------------------------------------------------------------

test('Autobahn|Python: ticket right and wrong, wampcra plain and salted, cryptosign', async () => {
	// Test agent.py with AUTH: joe/ticket -> frontend/ticket/static; a wrong
	// ticket -> left with wamp.error.not_authorized; wampcra joe/secret2; and
	// peter with "secret1" via autobahn.wamp.auth.derive_key (the CHALLENGE
	// carries salt123/100/16); alice with Autobahn's own cryptosign
	// (CryptosignKey over PyNaCl) signing the challenge.
	const [t, bad, cra, salted, signed] = await Promise.all([
		connectPython(gw, { path: '/auth', auth: { authmethods: ['ticket'], authid: 'joe', ticket: 'secret!' } }),
		connectPython(gw, { path: '/auth', auth: { authmethods: ['ticket'], authid: 'joe', ticket: 'nope' } }).then(
			() => assert.fail('a wrong ticket joined'), (e) => e),
		connectPython(gw, { path: '/auth', auth: { authmethods: ['wampcra'], authid: 'joe', secret: 'secret2' } }),
		connectPython(gw, { path: '/auth', auth: { authmethods: ['wampcra'], authid: 'peter', secret: 'secret1' } }),
		connectPython(gw, {
			path: '/auth', auth: {
				authmethods: ['cryptosign'], authid: 'alice', authextra: { pubkey: ALICE.pub },
				seed: ALICE.seed.toString('hex'),
			},
		}),
	]);
	try {
		assertWelcome(t.welcome, { authid: 'joe', authrole: 'frontend', authmethod: 'ticket', authprovider: 'static' }, 'python ticket');
		assert.ok(isId(t.session));
		assert.ok(bad.line, bad.message);
		assert.equal(bad.line.ev, 'left', JSON.stringify(bad.line));
		assert.equal(bad.line.reason, 'wamp.error.not_authorized');
		assertWelcome(cra.welcome, { authid: 'joe', authrole: 'frontend', authmethod: 'wampcra', authprovider: 'static' }, 'python wampcra');
		assertWelcome(salted.welcome, { authid: 'peter', authrole: 'frontend', authmethod: 'wampcra', authprovider: 'static' }, 'python salted');
		assertWelcome(signed.welcome, { authid: 'alice', authrole: 'frontend', authmethod: 'cryptosign', authprovider: 'static' }, 'python cryptosign');
		const ex = salted.challenges[0].extra;
		assert.deepEqual([ex.salt, ex.iterations, ex.keylen], ['salt123', 100, 16]);
		// the authenticated Python session works
		const r = await t.request({ op: 'publish', topic: 'com.example.py.auth', args: [1], options: { acknowledge: true } });
		assert.equal(r.ok, true, JSON.stringify(r));
	} finally {
		await Promise.all([t.end(), cra.end(), salted.end(), signed.end()]);
	}
});

test('wampy: ticket right and wrong; wampcra plain and salted with its wampcra plugin', async () => {
	// Test wampy 8 with authid/authmethods/onChallenge: the ticket is
	// accepted (WELCOME authrole frontend), a wrong one is refused with an
	// AbortError for not_authorized; wampy-cra's sign() for joe and peter.
	const w = await connectWampy(gw, {
		path: '/auth', authid: 'joe', authmethods: ['ticket'], onChallenge: (method, extra) => {
			assert.equal(method, 'ticket');
			assert.deepEqual(extra, {});
			return 'secret!';
		},
	});
	assert.ok(isId(w.getSessionId()));
	assertWelcome(w.welcome, { authid: 'joe', authrole: 'frontend', authmethod: 'ticket', authprovider: 'static' }, 'wampy');
	await w.end();
	const e = await connectWampy(gw, { path: '/auth', authid: 'joe', authmethods: ['ticket'], onChallenge: () => 'nope' })
		.then(() => null, (err) => err);
	assert.ok(e, 'a wrong ticket must be refused');
	assert.equal(e.errorUri, 'wamp.error.not_authorized', `${e.name}: ${e.message}`);
	for (const [authid, secret] of [['joe', 'secret2'], ['peter', 'secret1']]) {
		const c = await connectWampy(gw, { path: '/auth', authid, authmethods: ['wampcra'], onChallenge: wampyCraSign(secret) });
		assertWelcome(c.welcome, { authid, authrole: 'frontend', authmethod: 'wampcra', authprovider: 'static' }, `wampy ${authid}`);
		await c.end();
	}
});
