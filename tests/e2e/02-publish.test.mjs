// 02-publish: POST /publish and /call — success, validation (400, 405,
// 413), WAMP-level refusals as 200 + error, and the gateway keeps serving.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
	startGateway, stopClean, makeConfig, publish, postJson, request, info,
	openSseLive, isErrorBody, HOST,
} from './lib/gateway.mjs';

const LIMIT = 1024;
let gw;

before(async () => {
	gw = await startGateway({ config: makeConfig({ publisher: { post_body_limit: LIMIT } }) });
});
after(async () => { await stopClean(gw); });

function assertError(r, status, uri) {
	assert.equal(r.status, status, `status for ${r.what || ''}: body ${r.text}`);
	assert.ok(isErrorBody(r.json, uri),
		`body must be {"error": "${uri}", "args": [sentence]}, got ${r.text}`);
}

test('publish returns 200 {"id"} with an integer publication id', async () => {
	// Test that a valid publish is answered 200 with a JSON {"id": 1..2^53}.
	const r = await publish(gw, 'com.example.pub', [1, 'two'], { k: 'v' });
	assert.equal(r.status, 200, r.text);
	assert.match(r.headers.get('content-type') || '', /application\/json/);
	assert.deepEqual(Object.keys(r.json), ['id']);
	assert.ok(Number.isInteger(r.json.id) && r.json.id >= 1 && r.json.id <= 2 ** 53, `id ${r.json.id}`);
});

test('args, kwargs and options are optional; publication ids differ', async () => {
	// Test that {"topic"} alone is accepted and that ids are not reused.
	const ids = new Set();
	for (const body of [{ topic: 'a.b' }, { topic: 'a.b', args: [] }, { topic: 'a.b', kwargs: {} },
		{ topic: 'a.b', options: {} }, { topic: 'a.b', args: [null], kwargs: { x: [1] }, options: {} }]) {
		const r = await postJson(gw, '/publish', body);
		assert.equal(r.status, 200, `${JSON.stringify(body)}: ${r.text}`);
		ids.add(r.json.id);
	}
	assert.equal(ids.size, 5);
});

test('a missing Content-Type and a charset parameter are accepted', async () => {
	// Test that a body with no Content-Type header (curl -d without -H) and
	// `application/json; charset=utf-8` both publish.
	const r1 = await request(gw, 'POST', '/publish', { body: '{"topic":"com.example.noct"}' });
	assert.equal(r1.status, 200, r1.text);
	assert.equal(typeof r1.json.id, 'number');
	const r2 = await postJson(gw, '/publish', { topic: 'com.example.ct' },
		{ 'Content-Type': 'application/json; charset=utf-8' });
	assert.equal(r2.status, 200, r2.text);
});

test('a chunked request body is accepted', async () => {
	// Test that a body sent with Transfer-Encoding: chunked (no
	// Content-Length) is read whole and published.
	const r = await new Promise((resolve, reject) => {
		const req = http.request({
			host: HOST, port: gw.port, method: 'POST', path: '/publish', agent: false,
			headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
		}, (res) => {
			let t = '';
			res.on('data', (d) => { t += d; });
			res.on('end', () => resolve({ status: res.statusCode, text: t }));
		});
		req.on('error', reject);
		req.write('{"topic": "com.exa');
		setTimeout(() => { req.write('mple.chunked", "args": [1]}'); req.end(); }, 50);
	});
	assert.equal(r.status, 200, r.text);
	assert.equal(typeof JSON.parse(r.text).id, 'number');
});

const BAD = [
	['malformed JSON', '{"topic": "a.b", '],
	['empty body', ''],
	['a JSON array', '[{"topic": "a.b"}]'],
	['a JSON string', '"a.b"'],
	['missing topic', '{"args": [1]}'],
	['topic not a string', '{"topic": 12}'],
	['topic a..b', '{"topic": "a..b"}'],
	['topic with a space', '{"topic": "a b"}'],
	['topic .a', '{"topic": ".a"}'],
	['topic a.', '{"topic": "a."}'],
	['empty topic', '{"topic": ""}'],
	['args an object', '{"topic": "a.b", "args": {"x": 1}}'],
	['args a string', '{"topic": "a.b", "args": "x"}'],
	['kwargs an array', '{"topic": "a.b", "kwargs": [1]}'],
	['kwargs a number', '{"topic": "a.b", "kwargs": 5}'],
	['options a string', '{"topic": "a.b", "options": "x"}'],
];

for (const [what, body] of BAD) {
	test(`400 bad_request: ${what}`, async () => {
		// Test that the body is refused with 400 and a JSON error naming the problem.
		const r = await request(gw, 'POST', '/publish', {
			headers: { 'Content-Type': 'application/json' }, body,
		});
		r.what = what;
		assertError(r, 400, 'switchboard.error.bad_request');
		assert.match(r.headers['content-type'] || '', /application\/json/);
	});
}

test('400 bad_request: Content-Type text/plain', async () => {
	// Test that a non-JSON Content-Type is refused even with a valid JSON body.
	const r = await postJson(gw, '/publish', { topic: 'a.b' }, { 'Content-Type': 'text/plain' });
	assertError(r, 400, 'switchboard.error.bad_request');
	const f = await postJson(gw, '/publish', 'topic=a.b',
		{ 'Content-Type': 'application/x-www-form-urlencoded' });
	assertError(f, 400, 'switchboard.error.bad_request');
});

test('413 payload_too_large over post_body_limit; just under is fine', async () => {
	// Test that a body over the configured post_body_limit (1024) is refused
	// with 413 and one under it is published.
	const pad = (n) => JSON.stringify({ topic: 'com.example.big', args: ['x'.repeat(n)] });
	const small = pad(LIMIT - 100);
	assert.ok(Buffer.byteLength(small) < LIMIT);
	const ok = await request(gw, 'POST', '/publish', { headers: { 'Content-Type': 'application/json' }, body: small });
	assert.equal(ok.status, 200, ok.text);

	const big = pad(LIMIT + 10);
	const r = await request(gw, 'POST', '/publish', { headers: { 'Content-Type': 'application/json' }, body: big });
	assertError(r, 413, 'switchboard.error.payload_too_large');

	const huge = pad(2 * 1024 * 1024);
	const h = await request(gw, 'POST', '/publish', { headers: { 'Content-Type': 'application/json' }, body: huge })
		.catch((e) => ({ status: 'reset', text: e.message }));
	// The gateway may answer 413 before reading it all, and close: either is fine,
	// it must not be accepted.
	assert.ok(h.status === 413 || h.status === 'reset', `2 MiB body: ${h.status} ${String(h.text).slice(0, 200)}`);
});

test('405 method_not_allowed for GET /publish and GET /call', async () => {
	// Test that the POST-only bridge paths refuse other methods with 405 JSON.
	for (const p of ['/publish', '/call']) {
		const r = await request(gw, 'GET', p);
		r.what = `GET ${p}`;
		assertError(r, 405, 'switchboard.error.method_not_allowed');
	}
	const d = await request(gw, 'DELETE', '/publish');
	assertError(d, 405, 'switchboard.error.method_not_allowed');
});

test('404 not_found as JSON for an unknown path', async () => {
	// Test that a path no route or file serves gets 404 with a JSON error.
	const r = await request(gw, 'GET', '/no-such-thing.html');
	assert.equal(r.status, 404);
	assert.ok(isErrorBody(r.json, 'switchboard.error.not_found'), r.text);
});

test('a reserved wamp.* topic is 200 with wamp.error.invalid_uri', async () => {
	// Test that publishing to `wamp.session.on_join` is processed and refused
	// at the WAMP level: 200 {"error": "wamp.error.invalid_uri", "args": [..]}.
	const r = await publish(gw, 'wamp.session.on_join', [1]);
	assert.equal(r.status, 200, r.text);
	assert.ok(isErrorBody(r.json, 'wamp.error.invalid_uri'), r.text);
});

test('/call answers wamp.error.no_such_procedure and validates like /publish', async () => {
	// Test that with no callee the caller path answers 200 + no_such_procedure,
	// and bad bodies still get 400.
	const r = await postJson(gw, '/call', { procedure: 'com.example.add', args: [1, 2] });
	assert.equal(r.status, 200, r.text);
	assert.ok(isErrorBody(r.json, 'wamp.error.no_such_procedure'), r.text);

	for (const body of ['{"args": []}', '{"procedure": "a..b"}', '[1]', '{"procedure": "a.b", "args": 1}', '{']) {
		const b = await request(gw, 'POST', '/call', { headers: { 'Content-Type': 'application/json' }, body });
		b.what = `/call ${body}`;
		assertError(b, 400, 'switchboard.error.bad_request');
	}
});

test('the gateway still serves after all the bad input, and stores publishes', async () => {
	// Test that after the refusals above a publish still reaches an SSE
	// client and /info counts stored and published events.
	const before = await info(gw);
	const s = await openSseLive(gw, { topic: 'com.example.after' });
	try {
		const r = await publish(gw, 'com.example.after', ['still', 'here']);
		assert.equal(r.status, 200, r.text);
		const [ev] = await s.waitEvents(1);
		assert.deepEqual(ev.json.args, ['still', 'here']);
		const h = await request(gw, 'GET', '/healthz');
		assert.equal(h.status, 200);
		const now = await info(gw);
		assert.ok(now.events_stored >= before.events_stored + 1, `events_stored ${before.events_stored} -> ${now.events_stored}`);
		assert.ok(now.events_published >= before.events_published + 1);
	} finally {
		s.close();
	}
});

test('100 concurrent publishes all succeed with distinct ids', async () => {
	// Test that parallel POSTs are all answered 200 with distinct ids.
	const rs = await Promise.all(Array.from({ length: 100 }, (_, i) =>
		publish(gw, 'com.example.par', [i])));
	const ids = new Set();
	for (const r of rs) {
		assert.equal(r.status, 200, r.text);
		ids.add(r.json.id);
	}
	assert.equal(ids.size, 100);
});
