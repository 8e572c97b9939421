// 42-sse-private: private SSE feeds. An eventsource path with `auth` takes
// a token from `Authorization: Bearer`, else a cookie, else a query
// parameter: ticket tokens (static principals, a dynamic authenticator) and
// JWTs (HS256, RS256, ES256 with keys made here; exp/nbf with leeway,
// issuer, audience, forged, alg none, algorithm confusion). 401
// not_authenticated / invalid_token, the anonymous fallback, 403 before the
// stream for forbidden topics (role and the JWT topics claim), a replay after
// Last-Event-ID over a pattern subscription that skips forbidden topics, and
// the `eventsource` npm client with headers.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
	startGateway, stopClean, makeConfig, tempDir, runCli, publishOk, openSse, openSseLive,
	openEventSource, isErrorBody, sleep, waitFor,
} from './lib/gateway.mjs';
import { autobahn, connectAutobahn } from './lib/wamp.mjs';
import { jwt, rsaKey, ecKey, now } from './lib/auth.mjs';

const SECRET = 'k3y';
const RS = rsaKey();
const ES = ecKey();
const HS_CFG = { secret: SECRET, issuer: 'app', audience: 'sse' };
const TICKETS = {
	type: 'static', principals: {
		alice: { ticket: 't-alice', role: 'reader' },
		bob: { ticket: 't-bob', role: 'admin' },
	},
};

let gw;

function config(extraPaths = {}) {
	const cfg = makeConfig({
		paths: {
			// the private feed is /sse itself, so the helpers' defaults apply
			sse: { type: 'eventsource', realm: 'realm1', role: 'reader', auth: { ticket: TICKETS, jwt: HS_CFG } },
			open: { type: 'eventsource', realm: 'realm1', role: 'admin' },
			custom: {
				type: 'eventsource', realm: 'realm1', role: 'reader', auth: { ticket: TICKETS },
				options: { token_cookie: 'sb_custom', token_query: 'tok' },
			},
			mixed: {
				type: 'eventsource', realm: 'realm1', role: 'anonymous',
				auth: { jwt: HS_CFG, anonymous: { type: 'static', role: 'anonymous' } },
			},
			rs: {
				type: 'eventsource', realm: 'realm1', role: 'reader',
				auth: { jwt: { public_key: 'rs.pem', issuer: 'app', audience: 'sse' } },
			},
			es: { type: 'eventsource', realm: 'realm1', role: 'reader', auth: { jwt: { public_key: 'es.pem' } } },
			publish: { type: 'publisher', realm: 'realm1', role: 'admin' },
			trusted: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'trusted' } } },
		},
	});
	Object.assign(cfg.workers[0].transports[0].paths, extraPaths);
	const sub = (uri, allow = true) => ({ uri, match: 'prefix', allow: { subscribe: allow } });
	cfg.workers[0].realms[0].roles = [
		{ name: 'anonymous', permissions: [sub('pub.')] },
		{ name: 'reader', permissions: [sub('news.'), sub('feed.'), sub('feed.secret.', false), sub('user.')] },
		{ name: 'admin', permissions: [{ uri: '', match: 'prefix', allow: { subscribe: true, publish: true, call: true, register: true } }] },
		{ name: 'authz', authorizer: 'com.example.sse.authorize' },
	];
	return cfg;
}

/** A gateway dir holding the public keys the config names (rs.pem, es.pem). */
function keyDir() {
	const dir = tempDir();
	fs.writeFileSync(path.join(dir, 'rs.pem'), RS.pem);
	fs.writeFileSync(path.join(dir, 'es.pem'), ES.pem);
	return dir;
}

before(async () => {
	gw = await startGateway({ config: config(), dir: keyDir() });
});
after(async () => {
	await stopClean(gw);
});

// ---- helpers ----------------------------------------------------------------

const bearer = (t) => ({ Authorization: `Bearer ${t}` });
const hs = (claims) => jwt({ iss: 'app', aud: 'sse', exp: now() + 600, ...claims }, { key: SECRET });

/** GET /PATH?query with headers; resolves to the stream after the status. */
async function get(query, { headers = {}, pth = '/sse', g = gw } = {}) {
	const s = openSse(g, query, { headers, path: pth });
	await s.ready;
	if (s.status !== 200) await s.ended;
	return s;
}

/** Assert a 401 JSON error with uri (and WWW-Authenticate: Bearer). */
async function expect401(query, opts, uri, what) {
	const s = await get(query, opts);
	s.close();
	assert.equal(s.status, 401, `${what}: ${s.status} ${s.text}`);
	assert.ok(isErrorBody(s.json, uri), `${what}: ${s.text}`);
	assert.match(s.headers['content-type'] || '', /json/, `${what}: content-type`);
	assert.match(s.headers['www-authenticate'] || '', /^Bearer\b/, `${what}: WWW-Authenticate ${s.headers['www-authenticate']}`);
	assert.equal(s.events.length, 0);
	return s;
}

async function expect403(query, opts, what) {
	const s = await get(query, opts);
	s.close();
	assert.equal(s.status, 403, `${what}: ${s.status} ${s.text}`);
	assert.ok(!/event-stream/.test(s.headers['content-type'] || ''), `${what}: content-type ${s.headers['content-type']}`);
	assert.ok(isErrorBody(s.json, 'wamp.error.not_authorized'), `${what}: ${s.text}`);
	assert.equal(s.events.length, 0);
	assert.equal(s.retries.length, 0, `${what}: nothing is streamed`);
	return s;
}

/** The stream opens (200) and delivers an event published on topic. */
async function expectStream(query, opts, topic, what) {
	const g = (opts && opts.g) || gw;
	const s = openSse(g, query, { headers: (opts && opts.headers) || {}, path: (opts && opts.pth) || '/sse' });
	const { status } = await s.ready;
	if (status !== 200) {
		await s.ended;
		assert.fail(`${what}: expected 200, got ${status} ${s.text}`);
	}
	try {
		await s.waitFor((x) => x.retries.length > 0 || x.comments.length > 0, 5000, 'the first bytes');
		const marker = `${what} ${Math.random()}`;
		await publishOk(g, topic, [marker]);
		await s.waitFor((x) => x.events.some((e) => e.json && e.json.args[0] === marker), 5000,
			`${what}: the event on ${topic}`);
	} finally {
		s.close();
	}
}

// ---- config ------------------------------------------------------------------

test('the contract\'s example eventsource auth config is accepted by `check`', () => {
	// Test the config from the auth contract verbatim (jwt with
	// "algorithms", anonymous, token_cookie / token_query).
	const cfg = makeConfig({
		paths: {
			sse: {
				type: 'eventsource', realm: 'realm1', role: 'anonymous',
				auth: {
					ticket: { type: 'static', principals: { alice: { ticket: 't-alice', role: 'reader' } } },
					jwt: { secret: 'k3y', algorithms: ['HS256'], issuer: 'app', audience: 'sse' },
					anonymous: { type: 'static', role: 'anonymous' },
				},
				options: { token_cookie: 'sb_token', token_query: 'access_token' },
			},
		},
	});
	cfg.workers[0].realms[0].roles.push({ name: 'reader', permissions: [{ uri: '', match: 'prefix', allow: { subscribe: true } }] });
	const dir = tempDir();
	const file = path.join(dir, 'config.json');
	fs.writeFileSync(file, JSON.stringify(cfg));
	const r = runCli(['check', '--config', file]);
	assert.equal(r.code, 0, `check: ${r.stdout}${r.stderr}`);
});

// ---- tokens and where they come from -------------------------------------------

test('no token -> 401 switchboard.error.not_authenticated with WWW-Authenticate: Bearer', async () => {
	// Test /sse (auth without anonymous) with no token at all, an empty
	// Bearer and an empty query parameter; the public /open path is unaffected.
	await expect401({ topic: 'news.a' }, {}, 'switchboard.error.not_authenticated', 'no token');
	await expect401({ topic: 'news.a' }, { headers: { Cookie: 'other=1' } }, 'switchboard.error.not_authenticated', 'unrelated cookie');
	await expectStream({ topic: 'news.open' }, { pth: '/open' }, 'news.open', 'public path');
});

test('a ticket as Authorization: Bearer, as the sb_token cookie and as ?access_token opens the stream', async () => {
	// Test each of the three places with alice's ticket: 200 and a published
	// event arrives.
	await expectStream({ topic: 'news.t1' }, { headers: bearer('t-alice') }, 'news.t1', 'bearer');
	await expectStream({ topic: 'news.t2' }, { headers: { Cookie: 'x=1; sb_token=t-alice; y=2' } }, 'news.t2', 'cookie');
	await expectStream({ topic: 'news.t3', access_token: 't-alice' }, {}, 'news.t3', 'query');
});

test('token_cookie and token_query rename the cookie and the query parameter', async () => {
	// Test /custom (token_cookie sb_custom, token_query tok).
	await expectStream({ topic: 'news.c1' }, { pth: '/custom', headers: { Cookie: 'sb_custom=t-alice' } }, 'news.c1', 'custom cookie');
	await expectStream({ topic: 'news.c2', tok: 't-alice' }, { pth: '/custom' }, 'news.c2', 'custom query');
	await expectStream({ topic: 'news.c3' }, { pth: '/custom', headers: bearer('t-alice') }, 'news.c3', 'bearer on custom');
});

test('precedence: the Bearer header, else the cookie, else the query parameter', async () => {
	// Test that only the first place present counts: a good header wins
	// over a bad cookie/query; a bad header is 401 although the cookie is
	// good; a good cookie wins over a bad query; a bad cookie is 401
	// although the query is good.
	await expectStream({ topic: 'news.p1', access_token: 'bad' },
		{ headers: { ...bearer('t-alice'), Cookie: 'sb_token=bad' } }, 'news.p1', 'header first');
	await expect401({ topic: 'news.p2' }, { headers: { ...bearer('bad'), Cookie: 'sb_token=t-alice' } },
		'switchboard.error.invalid_token', 'bad header, good cookie');
	await expectStream({ topic: 'news.p3', access_token: 'bad' }, { headers: { Cookie: 'sb_token=t-alice' } }, 'news.p3', 'cookie before query');
	await expect401({ topic: 'news.p4', access_token: 't-alice' }, { headers: { Cookie: 'sb_token=bad' } },
		'switchboard.error.invalid_token', 'bad cookie, good query');
});

test('an unknown ticket -> 401 invalid_token wherever it is sent', async () => {
	// Test a ticket no principal has, and bob's ticket with a typo.
	await expect401({ topic: 'news.u' }, { headers: bearer('t-nobody') }, 'switchboard.error.invalid_token', 'bearer');
	await expect401({ topic: 'news.u' }, { headers: { Cookie: 'sb_token=t-bobb' } }, 'switchboard.error.invalid_token', 'cookie');
	await expect401({ topic: 'news.u', access_token: 'T-alice' }, {}, 'switchboard.error.invalid_token', 'query');
});

test('the ticket\'s principal role decides the topics', async () => {
	// Test alice (reader: not feed.secret.*) -> 403 for feed.secret.x; bob
	// (admin) -> the stream and its event.
	await expect403({ topic: 'feed.secret.x' }, { headers: bearer('t-alice') }, 'alice on feed.secret.x');
	await expect403({ topic: 'other.x' }, { headers: bearer('t-alice') }, 'alice outside her prefixes');
	await expectStream({ topic: 'feed.secret.x' }, { headers: bearer('t-bob') }, 'feed.secret.x', 'bob on feed.secret.x');
});

test('a dynamic ticket authenticator gets details.ticket; its role applies; a refusal is 401', async () => {
	// Test a gateway whose eventsource path takes ticket tokens through a
	// dynamic authenticator (an Autobahn|JS trusted session): "dyn-good" ->
	// reader, "dyn-admin" -> admin (feed.secret allowed), anything else -> the
	// authenticator raises -> 401 invalid_token.
	const g = await startGateway({
		config: config({
			dynsse: {
				type: 'eventsource', realm: 'realm1', role: 'reader',
				auth: { ticket: { type: 'dynamic', authenticator: 'com.example.sse.authenticate' } },
			},
		}),
		dir: keyDir(),
	});
	const authnCalls = [];
	let authn;
	try {
		authn = await connectAutobahn(g, { path: '/trusted' });
		await authn.register('com.example.sse.authenticate', (args) => {
			const [realm, authid, details] = args;
			authnCalls.push({ realm, authid, details });
			if (details.ticket === 'dyn-good') return 'reader';
			if (details.ticket === 'dyn-admin') return { role: 'admin', authid: 'dyn-admin-user' };
			throw new autobahn.Error('wamp.error.not_authorized', ['no such ticket']);
		});
		const o = (t) => ({ g, pth: '/dynsse', headers: bearer(t) });
		await expectStream({ topic: 'news.d1' }, o('dyn-good'), 'news.d1', 'dyn-good');
		const call = authnCalls.find((c) => c.details.ticket === 'dyn-good');
		assert.ok(call, JSON.stringify(authnCalls));
		assert.equal(call.realm, 'realm1');
		await expect403({ topic: 'feed.secret.d' }, o('dyn-good'), 'dyn-good on feed.secret');
		await expectStream({ topic: 'feed.secret.d2' }, o('dyn-admin'), 'feed.secret.d2', 'dyn-admin');
		await expect401({ topic: 'news.d3' }, o('dyn-nope'), 'switchboard.error.invalid_token', 'refused');
	} finally {
		if (authn) await authn.end();
		await stopClean(g);
	}
});

// ---- JWT -------------------------------------------------------------------------

test('JWT HS256: valid tokens open the stream; the role claim picks the role, else the path role', async () => {
	// Test sub+role admin (feed.secret allowed), no role claim (path role
	// reader: news yes, feed.secret 403), role reader; as Bearer, cookie and
	// query.
	await expectStream({ topic: 'feed.secret.j1' }, { headers: bearer(hs({ sub: 'carol', role: 'admin' })) }, 'feed.secret.j1', 'role admin');
	await expectStream({ topic: 'news.j2' }, { headers: bearer(hs({ sub: 'dave' })) }, 'news.j2', 'no role claim');
	await expect403({ topic: 'feed.secret.j3' }, { headers: bearer(hs({ sub: 'dave' })) }, 'no role claim on feed.secret');
	await expect403({ topic: 'feed.secret.j4' }, { headers: bearer(hs({ sub: 'erin', role: 'reader' })) }, 'role reader on feed.secret');
	await expectStream({ topic: 'news.j5' }, { headers: { Cookie: `sb_token=${hs({ sub: 'f' })}` } }, 'news.j5', 'jwt cookie');
	await expectStream({ topic: 'news.j6', access_token: hs({ sub: 'g' }) }, {}, 'news.j6', 'jwt query');
});

test('JWT exp and nbf: expired and not-yet-valid are 401 invalid_token; 60 s leeway', async () => {
	// Test exp an hour ago and nbf in an hour (401), exp 20 s ago and nbf in
	// 20 s (accepted within the leeway).
	const t = now();
	await expect401({ topic: 'news.e1' }, { headers: bearer(hs({ exp: t - 3600 })) }, 'switchboard.error.invalid_token', 'expired');
	await expect401({ topic: 'news.e2' }, { headers: bearer(hs({ nbf: t + 3600 })) }, 'switchboard.error.invalid_token', 'not yet valid');
	await expect401({ topic: 'news.e3', access_token: hs({ exp: t - 600 }) }, {}, 'switchboard.error.invalid_token', 'expired, query');
	await expectStream({ topic: 'news.e4' }, { headers: bearer(hs({ exp: t - 20 })) }, 'news.e4', 'exp within leeway');
	await expectStream({ topic: 'news.e5' }, { headers: bearer(hs({ nbf: t + 20 })) }, 'news.e5', 'nbf within leeway');
});

test('JWT issuer and audience: wrong or missing -> 401; an audience list containing ours is accepted', async () => {
	// Test iss "other", aud "web", no iss, no aud (the path configures
	// both), and aud ["web", "sse"] (RFC 7519: aud may be a list).
	const bad = [
		['wrong issuer', { iss: 'other' }],
		['wrong audience', { aud: 'web' }],
		['no issuer', { iss: undefined }],
		['no audience', { aud: undefined }],
		['audience list without ours', { aud: ['web', 'app'] }],
	];
	for (const [what, claims] of bad) {
		await expect401({ topic: 'news.ia' }, { headers: bearer(hs(claims)) }, 'switchboard.error.invalid_token', what);
	}
	await expectStream({ topic: 'news.ib' }, { headers: bearer(hs({ aud: ['web', 'sse'] })) }, 'news.ib', 'audience list');
});

test('forged JWTs -> 401 invalid_token: other secret, tampered payload, alg none, algorithm confusion, garbage', async () => {
	// Test a token signed with another secret, a valid token whose payload
	// was swapped for role admin, alg "none" (empty signature, with and
	// without the trailing dot), an HS256 token on the RS256 path whose HMAC
	// key is the RSA public key PEM, a token with a bad signature
	// encoding, and non-JWT strings.
	const good = hs({ sub: 'mallory', role: 'reader' });
	const [h, , sig] = good.split('.');
	const adminPayload = Buffer.from(JSON.stringify({ iss: 'app', aud: 'sse', exp: now() + 600, sub: 'mallory', role: 'admin' })).toString('base64url');
	const none = jwt({ iss: 'app', aud: 'sse', exp: now() + 600, role: 'admin' }, { alg: 'none' });
	const cases = [
		['other secret', '/sse', jwt({ iss: 'app', aud: 'sse', exp: now() + 600 }, { key: 'not-k3y' })],
		['tampered payload', '/sse', `${h}.${adminPayload}.${sig}`],
		['alg none', '/sse', none],
		['alg none, no trailing dot', '/sse', none.replace(/\.$/, '')],
		['alg none on the RS256 path', '/rs', none],
		['HS256 keyed with the RSA public key', '/rs', jwt({ iss: 'app', aud: 'sse', exp: now() + 600 }, { key: RS.pem })],
		['RS256 token on the ES256 path', '/es', jwt({ exp: now() + 600 }, { alg: 'RS256', key: RS.privateKey })],
		['signature not base64url', '/sse', `${good.slice(0, good.lastIndexOf('.'))}.!!!`],
		['two parts', '/sse', good.split('.').slice(0, 2).join('.')],
		['not a token', '/sse', 'abc.def.ghi'],
	];
	for (const [what, pth, token] of cases) {
		await expect401({ topic: 'news.f' }, { pth, headers: bearer(token) }, 'switchboard.error.invalid_token', what);
	}
});

test('JWT RS256 and ES256 verified with the configured public_key PEM files', async () => {
	// Test RS256 on /rs (issuer/audience set) and ES256 (raw r||s
	// signature) on /es; an RS256 token signed by another key -> 401.
	await expectStream({ topic: 'news.rs' }, {
		pth: '/rs', headers: bearer(jwt({ iss: 'app', aud: 'sse', exp: now() + 600, sub: 'r' }, { alg: 'RS256', key: RS.privateKey })),
	}, 'news.rs', 'RS256');
	await expectStream({ topic: 'news.es' }, {
		pth: '/es', headers: bearer(jwt({ exp: now() + 600, sub: 'e' }, { alg: 'ES256', key: ES.privateKey })),
	}, 'news.es', 'ES256');
	const other = rsaKey();
	await expect401({ topic: 'news.rs2' }, {
		pth: '/rs', headers: bearer(jwt({ iss: 'app', aud: 'sse', exp: now() + 600 }, { alg: 'RS256', key: other.privateKey })),
	}, 'switchboard.error.invalid_token', 'RS256 by another key');
	await expect401({ topic: 'news.es2' }, {
		pth: '/es', headers: bearer(jwt({ exp: now() - 3600 }, { alg: 'ES256', key: ES.privateKey })),
	}, 'switchboard.error.invalid_token', 'ES256 expired');
});

test('the JWT sub is the authid and its role\'s authorizer decides the stream', async () => {
	// Test a token {sub: zoe, role: authz} where role authz has a dynamic
	// authorizer (an Autobahn|JS trusted session): it is asked with
	// session_details.authid zoe, authrole authz, action subscribe and the
	// topic; true -> the stream opens, false -> 403.
	const seen = [];
	const a = await connectAutobahn(gw, { path: '/trusted' });
	try {
		await a.register('com.example.sse.authorize', (args) => {
			const [sd, uri, action] = args;
			seen.push({ sd, uri, action });
			return uri.startsWith('news.');
		});
		const h = { headers: bearer(hs({ sub: 'zoe', role: 'authz' })) };
		await expectStream({ topic: 'news.z' }, h, 'news.z', 'authorized by the authorizer');
		await expect403({ topic: 'feed.z' }, h, 'refused by the authorizer');
		const x = seen.find((c) => c.uri === 'news.z');
		assert.ok(x, JSON.stringify(seen));
		assert.equal(x.action, 'subscribe');
		assert.equal(x.sd.authid, 'zoe');
		assert.equal(x.sd.authrole, 'authz');
		assert.ok(seen.some((c) => c.uri === 'feed.z' && c.action === 'subscribe'));
	} finally {
		await a.end();
	}
});

// ---- anonymous fallback, 403, topics claim -------------------------------------------

test('anonymous fallback: no token gets the anonymous role; a bad token is still 401', async () => {
	// Test /mixed (jwt + anonymous): no token -> pub.* streams, news.* 403;
	// a bad token -> 401 invalid_token (no fallback); a good token with role
	// reader -> news.* streams.
	await expectStream({ topic: 'pub.m1' }, { pth: '/mixed' }, 'pub.m1', 'anonymous');
	await expect403({ topic: 'news.m2' }, { pth: '/mixed' }, 'anonymous on news');
	await expect401({ topic: 'pub.m3' }, { pth: '/mixed', headers: bearer('garbage') }, 'switchboard.error.invalid_token', 'bad token');
	await expect401({ topic: 'pub.m3', access_token: hs({ exp: now() - 3600 }) }, { pth: '/mixed' },
		'switchboard.error.invalid_token', 'expired token');
	await expectStream({ topic: 'news.m4' }, { pth: '/mixed', headers: bearer(hs({ role: 'reader' })) }, 'news.m4', 'token');
});

test('a forbidden topic is 403 JSON before the stream opens; one forbidden topic refuses the request', async () => {
	// Test alice asking for news.a and feed.secret.b together, and a pattern
	// subscription the role cannot have (prefix "" = everything).
	await expect403({ topic: ['news.ok', 'feed.secret.b'] }, { headers: bearer('t-alice') }, 'two topics, one forbidden');
	await expect403({ topic: 'feed.secret.', match: 'prefix' }, { headers: bearer('t-alice') }, 'forbidden prefix');
	await expect403({ topic: 'other.', match: 'prefix' }, { headers: bearer('t-alice') }, 'prefix outside the role');
});

test('the JWT subscribe claim restricts topics: exact, prefix x.*, wildcard user.*.orders', async () => {
	// Test a token with subscribe ["news.sports", "feed.*", "user.*.orders"]
	// for an admin-role token: news.sports yes, news.politics 403 (though
	// the role allows it), feed.x yes, user.12.orders yes, user.12.x.orders
	// and user.orders 403, two topics with one outside the claim 403.
	const tok = hs({ sub: 'claimed', role: 'admin', subscribe: ['news.sports', 'feed.*', 'user.*.orders'] });
	const h = { headers: bearer(tok) };
	await expectStream({ topic: 'news.sports' }, h, 'news.sports', 'exact claim');
	await expect403({ topic: 'news.politics' }, h, 'outside the claim');
	await expectStream({ topic: 'feed.secret.z' }, h, 'feed.secret.z', 'prefix claim (admin role)');
	await expectStream({ topic: 'user.12.orders' }, h, 'user.12.orders', 'wildcard claim');
	await expect403({ topic: 'user.12.x.orders' }, h, 'wildcard claim, one component too many');
	await expect403({ topic: 'user.orders' }, h, 'wildcard claim, one component missing');
	await expect403({ topic: ['news.sports', 'news.weather'] }, h, 'one topic outside the claim');
	// an empty claim list allows nothing
	await expect403({ topic: 'news.sports' }, { headers: bearer(hs({ role: 'admin', subscribe: [] })) }, 'empty claim');
});

// ---- replay never leaks ---------------------------------------------------------------

test('replay after Last-Event-ID over a prefix subscription skips forbidden topics, then live likewise', async () => {
	// Test events feed.rp.a(1) feed.secret.rp(2) feed.rp.c(3)
	// feed.secret.rp2(4) feed.rp.e(5) published while nobody of alice's
	// listens; alice resumes prefix "feed." after event 1: she gets 3, 5 in
	// order with their original ids; then live feed.secret.rp3(6),
	// feed.rp.g(7): only 7. A resume from before event 1 gets 1, 3, 5.
	const ref = await openSseLive(gw, { topic: 'feed.', match: 'prefix' }, { path: '/open' });
	let evs;
	try {
		await publishOk(gw, 'feed.rp.start', [0]);
		const plan = [['feed.rp.a', 1], ['feed.secret.rp', 2], ['feed.rp.c', 3], ['feed.secret.rp2', 4], ['feed.rp.e', 5]];
		for (const [t, v] of plan) await publishOk(gw, t, [v]);
		evs = await ref.waitEvents(6);
		assert.deepEqual(evs.map((e) => e.json.args[0]), [0, 1, 2, 3, 4, 5]);
	} finally {
		ref.close();
	}
	const idOf = (v) => evs.find((e) => e.json.args[0] === v).id;
	const s = await openSseLive(gw, { topic: 'feed.', match: 'prefix' },
		{ headers: { ...bearer('t-alice'), 'Last-Event-ID': idOf(1) } });
	try {
		await s.waitEvents(2);
		await sleep(200);
		assert.deepEqual(s.events.map((e) => e.json.args[0]), [3, 5]);
		assert.deepEqual(s.events.map((e) => e.id), [idOf(3), idOf(5)]);
		assert.ok(s.events.every((e) => !e.json.topic.startsWith('feed.secret.')));
		await publishOk(gw, 'feed.secret.rp3', [6]);
		await publishOk(gw, 'feed.rp.g', [7]);
		await s.waitEvents(3);
		await sleep(200);
		assert.deepEqual(s.events.map((e) => e.json.args[0]), [3, 5, 7]);
		assert.ok(!s.rawText().includes('feed.secret'), 'no byte of a forbidden event');
	} finally {
		s.close();
	}
	const q = await openSseLive(gw, { topic: 'feed.', match: 'prefix', access_token: 't-alice', lastEventId: idOf(0) });
	try {
		await q.waitEvents(4);
		await sleep(200);
		assert.deepEqual(q.events.map((e) => e.json.args[0]), [1, 3, 5, 7]);
		assert.ok(!q.rawText().includes('feed.secret'));
	} finally {
		q.close();
	}
});

test('a wildcard subscription skips forbidden concrete topics, replayed and live', async () => {
	// Test alice on wildcard feed..w (feed.secret.w is forbidden to her):
	// published feed.open.w(1) feed.secret.w(2) feed.more.w(3) before she
	// resumes from a marker, then live feed.secret.w(4) feed.last.w(5).
	const ref = await openSseLive(gw, { topic: 'feed..w', match: 'wildcard' }, { path: '/open' });
	let evs;
	try {
		for (const [t, v] of [['feed.mark.w', 0], ['feed.open.w', 1], ['feed.secret.w', 2], ['feed.more.w', 3]]) await publishOk(gw, t, [v]);
		evs = await ref.waitEvents(4);
	} finally {
		ref.close();
	}
	const s = await openSseLive(gw, { topic: 'feed..w', match: 'wildcard', lastEventId: evs[0].id }, { headers: bearer('t-alice') });
	try {
		await s.waitEvents(2);
		await publishOk(gw, 'feed.secret.w', [4]);
		await publishOk(gw, 'feed.last.w', [5]);
		await s.waitEvents(3);
		await sleep(200);
		assert.deepEqual(s.events.map((e) => e.json.args[0]), [1, 3, 5]);
		assert.ok(!s.rawText().includes('feed.secret'));
	} finally {
		s.close();
	}
});

// ---- the eventsource npm client ---------------------------------------------------------

test('the eventsource npm client with an Authorization header; without it an error 401 and no retry', async () => {
	// Test new EventSource(url, {headers: {Authorization}}): open, messages
	// with data and lastEventId; a client without the header gets an error
	// event with status 401 and ends CLOSED; a Cookie header works too.
	const es = openEventSource(gw, { topic: 'news.es.client' }, { headers: bearer('t-alice') });
	try {
		await es.waitOpen();
		await publishOk(gw, 'news.es.client', ['one']);
		await publishOk(gw, 'news.es.client', ['two']);
		const ms = await es.waitMessages(2);
		assert.deepEqual(ms.map((m) => m.json.args[0]), ['one', 'two']);
		assert.ok(ms.every((m) => /^\d+$/.test(m.lastEventId)));
	} finally {
		es.close();
	}
	const ck = openEventSource(gw, { topic: 'news.es.cookie' }, { headers: { Cookie: 'sb_token=t-alice' } });
	try {
		await ck.waitOpen();
		await publishOk(gw, 'news.es.cookie', ['c']);
		await ck.waitMessages(1);
	} finally {
		ck.close();
	}
	const no = openEventSource(gw, { topic: 'news.es.client' });
	try {
		await waitFor(() => no.errors.length > 0, 5000, 'an error event');
		assert.equal(no.errors[0].status, 401, JSON.stringify(no.errors[0]));
		await sleep(300);
		assert.equal(no.es.readyState, 2, 'CLOSED (no reconnect after 401)');
		assert.equal(no.opens, 0);
	} finally {
		no.close();
	}
});
