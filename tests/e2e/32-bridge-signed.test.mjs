// 32-bridge-signed: signed /publish and /call as Crossbar computes them
// (HMAC-SHA256 over key, timestamp, seq, nonce and body, URL-safe base64
// with padding): the test vector, every 400/401 answer with its exact
// sentence, replayed nonces, require_ip, require_tls, post_body_limit; and
// the webhook path: 202 + success_response, error_response, canonical
// header names, non-UTF-8 bodies, github_secret.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomInt } from 'node:crypto';
import {
	startGateway, stopClean, makeConfig, request, waitFor, sleep,
} from './lib/gateway.mjs';
import { connectAutobahn, autobahn } from './lib/wamp.mjs';

const KEY = 'foobar', SECRET = 'secret';
const SIGNED = { key: KEY, secret: SECRET };
const BAD = 'switchboard.error.bad_request', NOT_AUTH = 'switchboard.error.not_authorized';
let gw, s;
const events = [];   // {topic, args, kwargs} seen by the Autobahn|JS subscriber

function config() {
	const pub = (options, role = 'anonymous') => ({ type: 'publisher', realm: 'realm1', role, options });
	const caller = (options) => ({ type: 'caller', realm: 'realm1', role: 'anonymous', options });
	const hook = (options, role = 'anonymous') => ({ type: 'webhook', realm: 'realm1', role, options });
	const cfg = makeConfig({
		paths: {
			spub: pub(SIGNED),
			spub0: pub({ ...SIGNED, timestamp_delta_limit: 0 }),
			scall: caller(SIGNED),
			ipok: pub({ require_ip: ['127.0.0.1'] }),
			ipcidr: pub({ require_ip: ['10.0.0.0/8', '127.0.0.0/8'] }),
			ipno: pub({ require_ip: ['10.1.2.3', '192.168.0.0/16'] }),
			tls: pub({ require_tls: true }),
			tlscall: caller({ require_tls: true }),
			small: pub({ post_body_limit: 64 }),
			hook: hook({ topic: 'wh.basic' }),
			hook2: hook({ topic: 'wh.custom', success_response: 'Thanks!', error_response: 'Nope.' }),
			hooknp: hook({ topic: 'wh.denied', error_response: 'Nope.' }, 'nopub'),
			hooknpd: hook({ topic: 'wh.denied' }, 'nopub'),
			ghhook: hook({ topic: 'wh.gh', github_secret: 'ghsecret' }),
			hooksmall: hook({ topic: 'wh.small', post_body_limit: 16 }),
		},
	});
	cfg.workers[0].realms[0].roles.push({
		name: 'nopub', permissions: [{ uri: '', match: 'prefix', allow: { subscribe: true } }],
	});
	return cfg;
}

before(async () => {
	gw = await startGateway({ config: config() });
	s = await connectAutobahn(gw);
	const collect = (args, kwargs, details) => events.push({ topic: details.topic, args, kwargs });
	await s.subscribe('com.myapp.', collect, { match: 'prefix' });
	await s.subscribe('wh.', collect, { match: 'prefix' });
	await s.register('com.example.signed.echo', (args, kwargs) => new autobahn.Result(args, kwargs));
});
after(async () => {
	if (s) await s.end();
	await stopClean(gw);
});

// ---- signing ------------------------------------------------------------------

const urlsafe = (b64) => b64.replace(/\+/g, '-').replace(/\//g, '_');

/** Crossbar's signature: URL-safe base64 (with padding) of HMAC-SHA256(secret, key ts seq nonce body). */
function sign(secret, key, ts, seq, nonce, body) {
	return urlsafe(createHmac('sha256', secret).update(`${key}${ts}${seq}${nonce}`).update(body).digest('base64'));
}

let nonceBase = randomInt(1000000, 900000000);
const freshNonce = () => String(nonceBase++);
const isoNow = (offsetS = 0) => new Date(Date.now() + offsetS * 1000).toISOString();

/**
 * The query string of a signed request for body.  f overrides fields
 * (key, timestamp, seq, nonce, secret, signature); omit drops some.
 */
function signedQuery(body, f = {}, omit = []) {
	const q = {
		key: f.key ?? KEY,
		timestamp: f.timestamp ?? isoNow(),
		seq: f.seq ?? '1',
		nonce: f.nonce ?? freshNonce(),
	};
	q.signature = f.signature ?? sign(f.secret ?? SECRET, q.key, q.timestamp, q.seq, q.nonce, body);
	const p = new URLSearchParams();
	for (const [k, v] of Object.entries(q)) if (!omit.includes(k)) p.append(k, v);
	return p.toString();
}

const JSONH = { 'Content-Type': 'application/json' };
const post = (pth, body, headers = JSONH) => request(gw, 'POST', pth, { headers, body });
const pubBody = (arg) => JSON.stringify({ topic: 'com.myapp.signed', args: [arg] });

function assertError(r, status, uri, sentence, what = '') {
	assert.equal(r.status, status, `${what}: ${r.status} ${r.text}`);
	assert.deepEqual(r.json, { error: uri, args: [sentence], kwargs: {} }, what);
}

async function seen(topic, arg, timeout = 3000) {
	return waitFor(() => events.find((e) => e.topic === topic && e.args && e.args[0] === arg), timeout,
		`the event ${topic} ${JSON.stringify(arg)}`);
}

// ---- signed publish ---------------------------------------------------------------

test('the test vector: our signature matches it and the gateway accepts it', async () => {
	// Test secret "secret", key foobar, 2011-10-14T16:59:51.123Z, seq 1,
	// nonce 12345 and the body from the contract -> the signature
	// s6dwVf8y1NNJ4MXNYzYxlK-afLx6G2v4WUxQEfbyFcw=; on a path with
	// timestamp_delta_limit 0 it publishes (200 {"id"}) and the event arrives.
	const body = '{"topic":"com.myapp.topic1","args":["Hello, world"]}';
	const ts = '2011-10-14T16:59:51.123Z';
	assert.equal(sign('secret', 'foobar', ts, '1', '12345', body), 's6dwVf8y1NNJ4MXNYzYxlK-afLx6G2v4WUxQEfbyFcw=');
	const r = await post(`/spub0?${signedQuery(body, { timestamp: ts, nonce: '12345' })}`, body);
	assert.equal(r.status, 200, r.text);
	assert.equal(typeof r.json.id, 'number', r.text);
	await seen('com.myapp.topic1', 'Hello, world');
});

test('a fresh signed publish is accepted; timestamps with 1 to 6 fraction digits too', async () => {
	// Test the current time (within the default 300 s window) and the
	// timestamp forms .1Z, .12Z and .123456Z.
	const body = pubBody('fresh');
	const r = await post(`/spub?${signedQuery(body)}`, body);
	assert.equal(r.status, 200, r.text);
	assert.equal(typeof r.json.id, 'number');
	await seen('com.myapp.signed', 'fresh');
	const now = isoNow().slice(0, 19);
	for (const frac of ['.1', '.12', '.123456']) {
		const b = pubBody(`frac${frac}`);
		const q = await post(`/spub?${signedQuery(b, { timestamp: `${now}${frac}Z` })}`, b);
		assert.equal(q.status, 200, `${frac}: ${q.text}`);
	}
});

test('a missing signing field -> 400 with Crossbar\'s sentence naming it', async () => {
	// Test each of key, timestamp, seq, nonce, signature left out, and a
	// request with no query at all (key is checked first).
	const body = pubBody('missing');
	const want = {
		key: "REST bridge signature was invalid (missing mandatory field - 'key' field missing).",
		timestamp: "REST bridge signature was invalid (missing mandatory field - signed request required, but mandatory 'timestamp' field missing).",
		seq: "REST bridge signature was invalid (missing mandatory field - 'seq' field missing).",
		nonce: "REST bridge signature was invalid (missing mandatory field - 'nonce' field missing).",
		signature: "REST bridge signature was invalid (missing mandatory field - 'signature' field missing).",
	};
	for (const [field, sentence] of Object.entries(want)) {
		assertError(await post(`/spub?${signedQuery(body, {}, [field])}`, body), 400, BAD, sentence, `without ${field}`);
	}
	assertError(await post('/spub', body), 400, BAD, want.key, 'no query');
	await sleep(100);
	assert.ok(!events.some((e) => e.args && e.args[0] === 'missing'), 'nothing was published');
});

test('a malformed timestamp, seq or nonce -> 400 naming the value', async () => {
	// Test "yesterday", a timestamp without Z and a date-only one, seq "one"
	// and nonce "12ab", each correctly signed over the malformed value.
	const body = pubBody('malformed');
	const ts = (v) => `REST bridge signature was invalid (invalid timestamp '${v}' (must be UTC/ISO-8601, e.g. '2011-10-14T16:59:51.123Z')).`;
	for (const v of ['yesterday', isoNow().slice(0, -1), '2011-10-14']) {
		assertError(await post(`/spub?${signedQuery(body, { timestamp: v })}`, body), 400, BAD, ts(v), `timestamp ${v}`);
	}
	assertError(await post(`/spub?${signedQuery(body, { seq: 'one' })}`, body), 400, BAD,
		"REST bridge signature was invalid (invalid sequence number 'one' (must be an integer)).", 'seq');
	assertError(await post(`/spub?${signedQuery(body, { nonce: '12ab' })}`, body), 400, BAD,
		"REST bridge signature was invalid (invalid nonce '12ab' (must be an integer)).", 'nonce');
});

test('a timestamp outside timestamp_delta_limit (300 s) -> 400 "Request expired, too old timestamp."', async () => {
	// Test 400 s in the past and in the future; 200 s in the past is fine.
	const body = pubBody('window');
	for (const off of [-400, 400]) {
		assertError(await post(`/spub?${signedQuery(body, { timestamp: isoNow(off) })}`, body), 400, BAD,
			'Request expired, too old timestamp.', `offset ${off} s`);
	}
	const ok = await post(`/spub?${signedQuery(body, { timestamp: isoNow(-200) })}`, body);
	assert.equal(ok.status, 200, ok.text);
});

test('wrong key -> 401 "key not valid"; wrong secret or another body -> 401 "secret not valid"', async () => {
	// Test a key the path does not know, a signature made with another
	// secret, and a correct signature sent with a different body.
	const body = pubBody('wrong');
	assertError(await post(`/spub?${signedQuery(body, { key: 'other' })}`, body), 401, NOT_AUTH,
		'REST bridge signature key not valid.', 'wrong key');
	assertError(await post(`/spub?${signedQuery(body, { secret: 'not-the-secret' })}`, body), 401, NOT_AUTH,
		'REST bridge signature secret not valid.', 'wrong secret');
	assertError(await post(`/spub?${signedQuery(body)}`, pubBody('tampered')), 401, NOT_AUTH,
		'REST bridge signature secret not valid.', 'other body');
	await sleep(100);
	assert.ok(!events.some((e) => e.args && (e.args[0] === 'wrong' || e.args[0] === 'tampered')), 'nothing was published');
});

test('standard base64 (+ and /) and unpadded signatures are refused', async () => {
	// Test a signature whose URL-safe form has - or _: the same bytes in
	// standard base64 -> 401; the URL-safe form without "=" -> 401; the
	// URL-safe form itself -> 200.
	const body = pubBody('b64');
	let ts, nonce, good;
	for (;;) {
		ts = isoNow();
		nonce = freshNonce();
		good = sign(SECRET, KEY, ts, '1', nonce, body);
		if (/[-_]/.test(good)) break;
	}
	const standard = good.replace(/-/g, '+').replace(/_/g, '/');
	assertError(await post(`/spub?${signedQuery(body, { timestamp: ts, nonce, signature: standard })}`, body), 401, NOT_AUTH,
		'REST bridge signature secret not valid.', `standard base64 ${standard}`);
	assertError(await post(`/spub?${signedQuery(body, { timestamp: ts, nonce: freshNonce(), signature: good.replace(/=+$/, '') })}`, body),
		401, NOT_AUTH, 'REST bridge signature secret not valid.', 'unpadded');
	const ok = await post(`/spub?${signedQuery(body, { timestamp: ts, nonce: String(nonceBase++) })}`, body);
	assert.equal(ok.status, 200, ok.text);
});

test('a replayed nonce -> 401 "nonce already used", also re-signed with another seq and body', async () => {
	// Test the same signed request twice (200 then 401), the same nonce with
	// a new seq and body (401), and a new nonce (200).
	const body = pubBody('replay');
	const q = signedQuery(body);
	const first = await post(`/spub?${q}`, body);
	assert.equal(first.status, 200, first.text);
	assertError(await post(`/spub?${q}`, body), 401, NOT_AUTH, 'REST bridge signature nonce already used.', 'replay');
	const nonce = new URLSearchParams(q).get('nonce');
	const b2 = pubBody('replay-2');
	assertError(await post(`/spub?${signedQuery(b2, { nonce, seq: '2' })}`, b2), 401, NOT_AUTH,
		'REST bridge signature nonce already used.', 'same nonce, new seq and body');
	const ok = await post(`/spub?${signedQuery(b2, { seq: '3' })}`, b2);
	assert.equal(ok.status, 200, ok.text);
	await seen('com.myapp.signed', 'replay-2');
	assert.equal(events.filter((e) => e.args && e.args[0] === 'replay').length, 1, 'the replay was not published');
});

test('signed /call: valid -> the callee\'s result; bad signature -> 401; unsigned -> 400', async () => {
	// Test the caller path with the same signing rules.
	const body = JSON.stringify({ procedure: 'com.example.signed.echo', args: ['signed call'], kwargs: { n: 1 } });
	const r = await post(`/scall?${signedQuery(body)}`, body);
	assert.equal(r.status, 200, r.text);
	assert.deepEqual(r.json, { args: ['signed call'], kwargs: { n: 1 } });
	assertError(await post(`/scall?${signedQuery(body, { secret: 'nope' })}`, body), 401, NOT_AUTH,
		'REST bridge signature secret not valid.', 'bad signature');
	assertError(await post('/scall', body), 400, BAD,
		"REST bridge signature was invalid (missing mandatory field - 'key' field missing).", 'unsigned');
	const q = signedQuery(body);
	assert.equal((await post(`/scall?${q}`, body)).status, 200);
	assertError(await post(`/scall?${q}`, body), 401, NOT_AUTH, 'REST bridge signature nonce already used.', 'replayed call');
});

// ---- require_ip, require_tls, post_body_limit --------------------------------------

test('require_ip: 127.0.0.1 listed (address or CIDR) is allowed; otherwise 400', async () => {
	// Test ["127.0.0.1"] and ["10.0.0.0/8", "127.0.0.0/8"] -> 200;
	// ["10.1.2.3", "192.168.0.0/16"] -> 400 "Request denied based on IP address."
	for (const pth of ['/ipok', '/ipcidr']) {
		const r = await post(pth, JSON.stringify({ topic: 'com.myapp.ip', args: [pth] }));
		assert.equal(r.status, 200, `${pth}: ${r.text}`);
	}
	assertError(await post('/ipno', JSON.stringify({ topic: 'com.myapp.ip', args: ['/ipno'] })), 400, BAD,
		'Request denied based on IP address.', 'ipno');
	await seen('com.myapp.ip', '/ipcidr');
	assert.ok(!events.some((e) => e.args && e.args[0] === '/ipno'), 'the denied request was not published');
});

test('require_tls on plain HTTP -> 400 "Malformed request to the REST bridge." (publish and call)', async () => {
	// Test a publisher and a caller path with require_tls.
	assertError(await post('/tls', JSON.stringify({ topic: 'com.myapp.tls', args: [1] })), 400, BAD,
		'Malformed request to the REST bridge.', 'publish');
	assertError(await post('/tlscall', JSON.stringify({ procedure: 'com.example.signed.echo', args: [1] })), 400, BAD,
		'Malformed request to the REST bridge.', 'call');
});

test('post_body_limit: a body over the limit -> 413, at the limit -> 200', async () => {
	// Test limit 64 bytes on a publisher path.
	const fits = JSON.stringify({ topic: 'com.myapp.lim', args: ['x'.repeat(20)] });
	assert.ok(fits.length <= 64);
	const big = JSON.stringify({ topic: 'com.myapp.lim', args: ['x'.repeat(100)] });
	const r = await post('/small', big);
	assert.equal(r.status, 413, r.text);
	assert.equal(r.json.error, 'switchboard.error.payload_too_large', r.text);
	assert.match(r.json.args[0], /^Request too long/);
	const ok = await post('/small', fits);
	assert.equal(ok.status, 200, ok.text);
});

// ---- webhook ------------------------------------------------------------------------

test('webhook: 202 with success_response; the event carries {headers (canonical names), body (raw)}', async () => {
	// Test a text body with X-GitHub-Event and x-custom-THING headers, and a
	// JSON body that is passed on as text, not parsed.
	const r = await request(gw, 'POST', '/hook', {
		headers: { 'Content-Type': 'text/plain', 'X-GitHub-Event': 'push', 'x-custom-THING': 'a' },
		body: 'hello webhook',
	});
	assert.equal(r.status, 202, r.text);
	assert.equal(r.text, 'OK');
	const ev = await waitFor(() => events.find((e) => e.topic === 'wh.basic' && e.args[0].body === 'hello webhook'),
		3000, 'the webhook event');
	assert.equal(ev.args.length, 1);
	assert.deepEqual(Object.keys(ev.args[0]).sort(), ['body', 'headers']);
	const h = ev.args[0].headers;
	assert.deepEqual(h['Content-Type'], ['text/plain']);
	assert.deepEqual(h['X-Github-Event'], ['push']);
	assert.deepEqual(h['X-Custom-Thing'], ['a']);
	for (const k of Object.keys(h)) {
		assert.equal(k, k.split('-').map((w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase()).join('-'), `canonical ${k}`);
	}
	assert.deepEqual(ev.kwargs || {}, {});

	const raw = '{"action": "opened", "n": [1, 2]}';
	const j = await request(gw, 'PUT', '/hook', { headers: JSONH, body: raw });
	assert.equal(j.status, 202, j.text);
	await waitFor(() => events.find((e) => e.topic === 'wh.basic' && e.args[0].body === raw), 3000, 'the JSON webhook event, raw');
});

test('webhook: success_response and error_response from the config', async () => {
	// Test "Thanks!" on success; a role that may not publish -> 500 with
	// error_response "Nope.", or the default "NOT OK".
	const ok = await request(gw, 'POST', '/hook2', { headers: { 'Content-Type': 'text/plain' }, body: 'x' });
	assert.deepEqual([ok.status, ok.text], [202, 'Thanks!']);
	const np = await request(gw, 'POST', '/hooknp', { headers: { 'Content-Type': 'text/plain' }, body: 'x' });
	assert.deepEqual([np.status, np.text], [500, 'Nope.']);
	const npd = await request(gw, 'POST', '/hooknpd', { headers: { 'Content-Type': 'text/plain' }, body: 'x' });
	assert.deepEqual([npd.status, npd.text], [500, 'NOT OK']);
	await sleep(100);
	assert.ok(!events.some((e) => e.topic === 'wh.denied'), 'nothing published for the role without permission');
});

test('webhook: a body that is not UTF-8 -> 400 and nothing is published', async () => {
	// Test bytes ff fe 41.
	const before = events.length;
	const r = await request(gw, 'POST', '/hook', {
		headers: { 'Content-Type': 'application/octet-stream' }, body: Buffer.from([0xff, 0xfe, 0x41]),
	});
	assert.equal(r.status, 400, r.text);
	assert.equal(r.json.error, BAD, r.text);
	assert.equal(r.json.args[0], 'Non-decodable request body, was not UTF-8.');
	await sleep(100);
	assert.deepEqual(events.slice(before), [], 'nothing was published');
});

test('webhook: post_body_limit -> 413', async () => {
	// Test limit 16 on a webhook path.
	const r = await request(gw, 'POST', '/hooksmall', { headers: { 'Content-Type': 'text/plain' }, body: 'y'.repeat(40) });
	assert.equal(r.status, 413, r.text);
	const ok = await request(gw, 'POST', '/hooksmall', { headers: { 'Content-Type': 'text/plain' }, body: 'short' });
	assert.equal(ok.status, 202, ok.text);
});

test('webhook github_secret: good signature -> 202 (hex case-insensitive); bad or missing -> 400', async () => {
	// Test X-Hub-Signature sha1=<hex HMAC-SHA1("ghsecret", body)>, the same
	// in upper-case hex, a wrong one, a sha256= prefix and none.
	const body = '{"zen": "Keep it logically awesome."}';
	const hex = createHmac('sha1', 'ghsecret').update(body).digest('hex');
	const send = (sig, b = body) => request(gw, 'POST', '/ghhook', {
		headers: Object.assign({ 'Content-Type': 'application/json', 'X-GitHub-Event': 'ping' }, sig ? { 'X-Hub-Signature': sig } : {}),
		body: b,
	});
	const ok = await send(`sha1=${hex}`);
	assert.deepEqual([ok.status, ok.text], [202, 'OK']);
	const ev = await waitFor(() => events.find((e) => e.topic === 'wh.gh' && e.args[0].body === body), 3000, 'the GitHub event');
	assert.deepEqual(ev.args[0].headers['X-Hub-Signature'], [`sha1=${hex}`]);

	const wrongHex = createHmac('sha1', 'other').update(body).digest('hex');
	for (const [what, sig] of [['wrong', `sha1=${wrongHex}`], ['sha256 prefix', `sha256=${hex}`], ['missing', null], ['bare hex', hex]]) {
		const r = await send(sig, `${body} ${what}`);
		assert.equal(r.status, 400, `${what}: ${r.text}`);
		assert.equal(r.json.error, BAD, `${what}: ${r.text}`);
		assert.deepEqual(r.json.args, ['Malformed request to the REST bridge.'], what);
	}
	const upper = await send(`sha1=${createHmac('sha1', 'ghsecret').update(`${body} upper`).digest('hex').toUpperCase()}`, `${body} upper`);
	assert.equal(upper.status, 202, `upper-case hex: ${upper.text}`);
	await sleep(100);
	assert.ok(!events.some((e) => e.topic === 'wh.gh' && /wrong|prefix|missing|bare hex/.test(e.args[0].body)), 'refused ones not published');
});
