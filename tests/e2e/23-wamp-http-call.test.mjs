// 23-wamp-http-call: POST /call against real WAMP callees: Crossbar result
// shaping, callee errors, no_such_procedure, not_authorized, options.timeout,
// 400/413, concurrent calls and a callee vanishing mid-call.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
	startGateway, stopClean, makeConfig, postJson, request, isErrorBody, within,
} from './lib/gateway.mjs';
import {
	T, autobahn, rawSession, rawRegister, connectAutobahn, connectPython,
} from './lib/wamp.mjs';

const LIMIT = 2048;
let gw;
let callee;    // Autobahn|JS callee shared by most tests
const seen = []; // its invocations

function config() {
	const cfg = makeConfig({
		caller: { post_body_limit: LIMIT },
		paths: { call2: { type: 'caller', realm: 'realm1', role: 'nocall' } },
	});
	cfg.workers[0].realms[0].roles.push({
		name: 'nocall',
		permissions: [{ uri: '', match: 'prefix', allow: { subscribe: true, publish: true } }],
	});
	return cfg;
}

let release = () => {};
before(async () => {
	gw = await startGateway({ config: config() });
	callee = await connectAutobahn(gw);
	await callee.register('com.example.http.echo', (args, kwargs, details) => {
		seen.push({ args, kwargs, details });
		return new autobahn.Result(args, kwargs);
	});
	await callee.register('com.example.http.nothing', () => undefined);
	await callee.register('com.example.http.single', (args) => args[0] + 1);
	await callee.register('com.example.http.kwonly', () => new autobahn.Result([], { only: 'kw' }));
	await callee.register('com.example.http.empty', () => new autobahn.Result([], {}));
	await callee.register('com.example.http.fails', (args) => {
		throw new autobahn.Error('com.example.error.http', ['went wrong', args[0]], { code: 7 });
	});
	await callee.register('com.example.http.hold', () => new Promise((r) => { release = r; }));
});
after(async () => {
	if (callee) await callee.end();
	await stopClean(gw);
});

const call = (body, pth = '/call') => postJson(gw, pth, body);

test('result shaping: Autobahn|JS callee results as Crossbar shapes them', async () => {
	// Test {"args", "kwargs"} for echo (both), a single value, no result
	// ({"args": [null]}), empty Result ({"args": [null]}) and kwargs only.
	const cases = [
		[{ procedure: 'com.example.http.echo', args: [1, 'two', [3]], kwargs: { k: { v: null } } },
			{ args: [1, 'two', [3]], kwargs: { k: { v: null } } }],
		[{ procedure: 'com.example.http.echo', args: ['only'] }, { args: ['only'] }],
		[{ procedure: 'com.example.http.single', args: [41] }, { args: [42] }],
		[{ procedure: 'com.example.http.nothing' }, { args: [null] }],
		[{ procedure: 'com.example.http.empty' }, { args: [null] }],
		[{ procedure: 'com.example.http.kwonly' }, { kwargs: { only: 'kw' } }],
	];
	for (const [body, want] of cases) {
		const r = await call(body);
		assert.equal(r.status, 200, `${JSON.stringify(body)}: ${r.text}`);
		assert.match(r.headers.get('content-type') || '', /application\/json/);
		assert.deepEqual(r.json, want, `${JSON.stringify(body)} -> ${r.text}`);
	}
	const inv = seen.find((s) => s.args[0] === 1);
	assert.deepEqual([inv.args, inv.kwargs], [[1, 'two', [3]], { k: { v: null } }]);
});

test('result shaping for exact YIELD shapes from a raw callee', async () => {
	// Test the body for YIELD with no payload, [], [] + {}, [null], [42],
	// [1,2] + {a:1} and [] + {a:1}.
	const c = await rawSession(gw);
	await rawRegister(c, 'com.example.http.raw');
	const shapes = [
		[[], { args: [null] }],
		[[[]], { args: [null] }],
		[[[], {}], { args: [null] }],
		[[[null]], { args: [null] }],
		[[[42]], { args: [42] }],
		[[[1, 2], { a: 1 }], { args: [1, 2], kwargs: { a: 1 } }],
		[[[], { a: 1 }], { kwargs: { a: 1 } }],
	];
	for (const [payload, want] of shapes) {
		const pending = call({ procedure: 'com.example.http.raw', args: ['x'] });
		const inv = await c.next(5000);
		assert.equal(inv[0], T.INVOCATION, JSON.stringify(inv));
		assert.deepEqual(inv[4], ['x']);
		c.send([T.YIELD, inv[1], {}, ...payload]);
		const r = await pending;
		assert.equal(r.status, 200, r.text);
		assert.deepEqual(r.json, want, `YIELD payload ${JSON.stringify(payload)} -> ${r.text}`);
	}
	await c.close();
});

test('a callee error is 200 {"error", "args", "kwargs"} unchanged', async () => {
	// Test autobahn.Error(com.example.error.http, [..], {code: 7}) -> the body.
	const r = await call({ procedure: 'com.example.http.fails', args: ['input'] });
	assert.equal(r.status, 200, r.text);
	assert.deepEqual(r.json, { error: 'com.example.error.http', args: ['went wrong', 'input'], kwargs: { code: 7 } });
});

test('no_such_procedure and not_authorized are 200 with a WAMP error body', async () => {
	// Test an unregistered procedure on /call and a registered one on /call2
	// (role without call permission).
	const r = await call({ procedure: 'com.example.http.nobody' });
	assert.equal(r.status, 200);
	assert.ok(isErrorBody(r.json, 'wamp.error.no_such_procedure'), r.text);
	const d = await call({ procedure: 'com.example.http.echo', args: [1] }, '/call2');
	assert.equal(d.status, 200);
	assert.ok(isErrorBody(d.json, 'wamp.error.not_authorized'), d.text);
	assert.ok(!seen.some((s) => s.args[0] === 1 && s.args.length === 1), 'the refused call reached the callee');
});

test('options.timeout -> 200 {"error": "wamp.error.timeout"}; the callee keeps serving', async () => {
	// Test a 300 ms timeout against a callee that does not answer: the body
	// names wamp.error.timeout after >= 300 ms; the Autobahn|JS callee (no
	// call_canceling) is not interrupted and answers the next call.
	const t0 = Date.now();
	const r = await call({ procedure: 'com.example.http.hold', options: { timeout: 300 } });
	const took = Date.now() - t0;
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.error, 'wamp.error.timeout', r.text);
	assert.ok(took >= 280 && took < 5000, `took ${took} ms`);
	release('late');
	const again = await call({ procedure: 'com.example.http.single', args: [1] });
	assert.deepEqual(again.json, { args: [2] });
	assert.ok(callee.isOpen);
});

// curl without blocking the event loop (the callee lives in this process).
function curlAsync(args) {
	return new Promise((resolve, reject) => {
		execFile('curl', ['-sS', '--max-time', '10', '-o', '-', '-w', '\n%{http_code}', ...args],
			(err, stdout, stderr) => {
				if (err && !stdout) return reject(new Error(`curl: ${err.message} ${stderr}`));
				const i = stdout.lastIndexOf('\n');
				resolve({ status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) });
			});
	});
}

test('curl: POST /call with -d works like fetch', async () => {
	// Test the endpoint driven by curl -d with a JSON Content-Type.
	const r = await curlAsync(['-X', 'POST', '-H', 'Content-Type: application/json',
		'-d', JSON.stringify({ procedure: 'com.example.http.echo', args: ['curl'], kwargs: { via: 'curl' } }),
		`${gw.url}/call`]);
	assert.equal(r.status, 200, r.body);
	assert.deepEqual(JSON.parse(r.body), { args: ['curl'], kwargs: { via: 'curl' } });
});

test('400 for bad JSON and a missing procedure; 413 over post_body_limit', async () => {
	// Test the validation answers of /call with the gateway's error body.
	for (const body of ['{"procedure": ', '[]', '{"args": [1]}', '{"procedure": "a..b"}',
		'{"procedure": "com.example.http.echo", "args": {}}']) {
		const r = await request(gw, 'POST', '/call', { headers: { 'Content-Type': 'application/json' }, body });
		assert.equal(r.status, 400, `${body}: ${r.status} ${r.text}`);
		assert.ok(isErrorBody(r.json, 'switchboard.error.bad_request'), `${body}: ${r.text}`);
	}
	const big = JSON.stringify({ procedure: 'com.example.http.echo', args: ['x'.repeat(LIMIT + 10)] });
	const r = await request(gw, 'POST', '/call', { headers: { 'Content-Type': 'application/json' }, body: big });
	assert.equal(r.status, 413, r.text);
	assert.ok(isErrorBody(r.json, 'switchboard.error.payload_too_large'), r.text);
});

test('20 concurrent /call requests each get their own result', async () => {
	// Test correlation: 20 parallel calls with distinct args come back with
	// exactly their own args.
	const rs = await Promise.all(Array.from({ length: 20 }, (_, i) =>
		call({ procedure: 'com.example.http.echo', args: [`c${i}`, i], kwargs: { i } })));
	rs.forEach((r, i) => {
		assert.equal(r.status, 200, r.text);
		assert.deepEqual(r.json, { args: [`c${i}`, i], kwargs: { i } });
	});
});

test('the callee vanishing mid-call -> 200 {"error": "wamp.error.canceled"} promptly', async () => {
	// Test a Python callee killed while a /call is pending: the HTTP answer is
	// wamp.error.canceled with Crossbar's message, within 2 s of the kill.
	const py = await connectPython(gw);
	await py.request({ op: 'register', procedure: 'com.example.http.vanish', mode: 'hold' });
	const pending = call({ procedure: 'com.example.http.vanish', args: ['v'] });
	await py.waitFor((l) => l.ev === 'invocation' && l.args[0] === 'v', 10000, 'the invocation');
	const t0 = Date.now();
	await py.kill();
	const r = await within(pending, 5000);
	assert.notEqual(r, 'timeout', '/call never answered');
	assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
	assert.equal(r.status, 200);
	assert.deepEqual([r.json.error, r.json.args, r.json.kwargs ?? {}],
		['wamp.error.canceled', ['callee disconnected from in-flight request'], {}], r.text);
});
