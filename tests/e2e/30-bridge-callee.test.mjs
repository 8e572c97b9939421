// 30-bridge-callee: the RESTCallee component against a real local back end:
// method, path, header lists, params and body reaching the back end exactly;
// urljoin; the {code, content, headers} result and 4xx/5xx passthrough;
// charset decoding; refused/timeout/failed transfers and bad arguments as
// WAMP errors; a caller's timeout cancelling the request; 200 calls at once
// with connection reuse; redirects; the component as a session; callers
// Autobahn|JS, POST /call (fetch and curl) and Autobahn|Python.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
	startGateway, stopClean, makeConfig, postJson, info, waitFor, freePort,
} from './lib/gateway.mjs';
import { connectAutobahn, connectPython, settle } from './lib/wamp.mjs';
import { startBackend, restCallee, addContainer } from './lib/backend.mjs';

const P = 'com.example.rest';            // baseurl BE/api/
let gw, be, s, deadPort;

before(async () => {
	be = await startBackend({ name: 'api' });
	deadPort = await freePort();           // nothing listens there
	const cfg = addContainer(makeConfig(), [
		restCallee({ procedure: P, baseurl: `${be.url}/api/` }),
		restCallee({ procedure: `${P}.noslash`, baseurl: `${be.url}/api` }),
		restCallee({ procedure: `${P}.any`, baseurl: '' }),
		restCallee({ procedure: `${P}.down`, baseurl: `http://127.0.0.1:${deadPort}/`, connect_timeout: 2000 }),
		restCallee({ procedure: `${P}.short`, baseurl: `${be.url}/`, timeout: 300 }),
	]);
	gw = await startGateway({ config: cfg });
	s = await connectAutobahn(gw);
});
after(async () => {
	if (s) await s.end();
	await stopClean(gw);
	if (be) await be.stop();
});

/** Call over Autobahn|JS with kwargs; the outcome as settle() gives it. */
const callJs = (procedure, kwargs = {}, args = [], options = {}) =>
	settle(s.call(procedure, args, kwargs, options));
/** POST /call; returns {status, json, text}. */
const callHttp = (procedure, kwargs = {}, options) =>
	postJson(gw, '/call', options ? { procedure, kwargs, options } : { procedure, kwargs });

function canonical(name) {
	return name.split('-').map((w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase()).join('-');
}

function assertResultShape(r, what) {
	assert.ok(r && typeof r === 'object', `${what}: result ${JSON.stringify(r)}`);
	assert.deepEqual(Object.keys(r).sort(), ['code', 'content', 'headers'], `${what}: keys of ${JSON.stringify(r)}`);
	assert.equal(typeof r.code, 'number');
	assert.equal(typeof r.content, 'string');
	for (const [k, v] of Object.entries(r.headers)) {
		assert.equal(k, canonical(k), `${what}: header name ${k} is canonical`);
		assert.ok(Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string'),
			`${what}: header ${k} is a list of strings: ${JSON.stringify(v)}`);
	}
}

/** The one request the back end got since clear(). */
function onlyRequest(what) {
	assert.equal(be.requests.length, 1,
		`${what}: the back end got ${be.requests.map((r) => `${r.method} ${r.url}`).join(', ') || 'nothing'}`);
	return be.requests[0];
}

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

test('GET with params over Autobahn|JS reaches the back end exactly; result {code, content, headers}', async () => {
	// Test that kwargs {method GET, url "items", params} become one GET
	// /api/items?a=1&b=... with the params URL-encoded and no body, and that
	// the result is the echo as {code: 200, content, headers}.
	be.clear();
	const r = await callJs(P, { method: 'GET', url: 'items', params: { a: '1', b: 'x y&z=é/?' } });
	assert.ok(r.ok, `call failed: ${JSON.stringify(r)}`);
	const req = onlyRequest('GET items');
	assert.equal(req.method, 'GET');
	assert.equal(req.path, '/api/items');
	assert.deepEqual([...req.query], [['a', '1'], ['b', 'x y&z=é/?']]);
	assert.equal(req.body.length, 0, 'no body');
	assertResultShape(r.value, 'GET items');
	assert.equal(r.value.code, 200);
	assert.deepEqual(JSON.parse(r.value.content), { method: 'GET', url: req.url, body: '' });
	assert.deepEqual(r.value.headers['Content-Type'], ['application/json']);
});

test('every method carries its body (UTF-8, as is) and header lists; no Content-Type is added', async () => {
	// Test POST, PUT, PATCH, DELETE and GET with a non-ASCII body and headers
	// {X-Custom-Thing: [one, two], X-Single: "only"}: the back end sees the
	// method, the exact body bytes, both X-Custom-Thing lines in order, one
	// X-Single and no Content-Type.
	for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'GET']) {
		be.clear();
		const body = `body of ${method}: grüße ✓ "quoted" {"json": [1]}\n`;
		const r = await callJs(P, {
			method, url: `m/${method.toLowerCase()}`, body,
			headers: { 'X-Custom-Thing': ['one', 'two'], 'X-Single': 'only' },
		});
		assert.ok(r.ok, `${method}: ${JSON.stringify(r)}`);
		assert.equal(r.value.code, 200);
		const req = onlyRequest(method);
		assert.equal(req.method, method);
		assert.equal(req.path, `/api/m/${method.toLowerCase()}`);
		assert.ok(req.body.equals(Buffer.from(body, 'utf8')), `${method}: body bytes ${JSON.stringify(req.text)}`);
		assert.deepEqual(req.header('X-Custom-Thing'), ['one', 'two'], `${method}: header lines ${JSON.stringify(req.rawHeaders)}`);
		assert.deepEqual(req.header('X-Single'), ['only']);
		assert.deepEqual(req.header('Content-Type'), [], `${method}: no Content-Type added: ${JSON.stringify(req.rawHeaders)}`);
	}
});

test('positional arguments in the order method, url, body, headers, params', async () => {
	// Test args ["PUT", "pos/1", "positional body", {X-Pos: [p]}, {q: v}].
	be.clear();
	const r = await callJs(P, {}, ['PUT', 'pos/1', 'positional body', { 'X-Pos': ['p'] }, { q: 'v' }]);
	assert.ok(r.ok, JSON.stringify(r));
	const req = onlyRequest('positional');
	assert.deepEqual([req.method, req.path, [...req.query], req.text, req.header('X-Pos')],
		['PUT', '/api/pos/1', [['q', 'v']], 'positional body', ['p']]);
});

test('defaults: no arguments is GET on the baseurl with an empty body', async () => {
	// Test a call with nothing at all.
	be.clear();
	const r = await callJs(P);
	assert.ok(r.ok, JSON.stringify(r));
	const req = onlyRequest('defaults');
	assert.deepEqual([req.method, req.url, req.body.length], ['GET', '/api/', 0]);
});

test('url is resolved against baseurl like urljoin (RFC 3986)', async () => {
	// Test relative, absolute-path, dot-segment, query-carrying and absolute
	// URLs against "BE/api/", "BE/api" (no slash) and "" (absolute only).
	const cases = [
		[P, 'get', '/api/get'],
		[P, '/get', '/get'],
		[P, 'a/b/../c', '/api/a/c'],
		[P, '../up', '/up'],
		[P, 'deep/er/leaf', '/api/deep/er/leaf'],
		[P, `${be.url}/absolute`, '/absolute'],
		[`${P}.noslash`, 'get', '/get'],
		[`${P}.noslash`, undefined, '/api'],
		[`${P}.noslash`, '/x/y', '/x/y'],
		[`${P}.any`, `${be.url}/from-any?k=1`, '/from-any?k=1'],
	];
	for (const [proc, url, want] of cases) {
		be.clear();
		const r = await callJs(proc, url === undefined ? {} : { url });
		assert.ok(r.ok, `${proc} ${url}: ${JSON.stringify(r)}`);
		assert.equal(onlyRequest(`${proc} ${url}`).url, want, `${proc} + ${url}`);
	}
	// params are appended to a query the url already has
	be.clear();
	const r = await callJs(P, { url: 'sub/leaf?x=1', params: { y: '2' } });
	assert.ok(r.ok, JSON.stringify(r));
	const req = onlyRequest('query + params');
	assert.equal(req.path, '/api/sub/leaf');
	assert.deepEqual([...req.query], [['x', '1'], ['y', '2']]);
});

test('result: status, exact content, canonical header names, repeated headers as lists', async () => {
	// Test a 203 answer with lower-case header names (one repeated) and
	// Set-Cookie twice: the result has exactly code/content/headers, names
	// canonical (X-Custom-Thing), every value of a repeated header in order.
	be.on('/api/shape', {
		status: 203,
		headers: { 'x-custom-thing': 'v1', 'x-multi': ['a', 'b'], 'set-cookie': ['c=1', 'd=2'] },
		contentType: 'text/plain; charset=utf-8',
		body: 'shape body\nline 2',
	});
	const r = await callJs(P, { url: 'shape' });
	assert.ok(r.ok, JSON.stringify(r));
	assertResultShape(r.value, 'shape');
	assert.equal(r.value.code, 203);
	assert.equal(r.value.content, 'shape body\nline 2');
	const h = r.value.headers;
	assert.deepEqual(h['X-Custom-Thing'], ['v1']);
	assert.deepEqual(h['X-Multi'], ['a', 'b']);
	assert.deepEqual(h['Set-Cookie'], ['c=1', 'd=2']);
	assert.deepEqual(h['Content-Type'], ['text/plain; charset=utf-8']);
	assert.deepEqual(h['Content-Length'], [String(Buffer.byteLength('shape body\nline 2'))]);
});

test('401, 404 and 500 from the back end are normal results (Autobahn|JS and POST /call)', async () => {
	// Test that error statuses come back as {code, content, headers}, not as
	// WAMP errors, both over WAMP and as /call's 200 {"args": [result]}.
	for (const code of [401, 404, 500]) {
		be.on(`/api/s${code}`, { status: code, headers: { 'X-Reason': `r${code}` }, body: `status ${code} body` });
		const r = await callJs(P, { url: `s${code}` });
		assert.ok(r.ok, `${code}: ${JSON.stringify(r)}`);
		assertResultShape(r.value, `${code}`);
		assert.deepEqual([r.value.code, r.value.content, r.value.headers['X-Reason']], [code, `status ${code} body`, [`r${code}`]]);
		const h = await callHttp(P, { url: `s${code}`, method: 'GET' });
		assert.equal(h.status, 200, h.text);
		assert.deepEqual(Object.keys(h.json), ['args'], h.text);
		assert.equal(h.json.args.length, 1);
		assertResultShape(h.json.args[0], `/call ${code}`);
		assert.deepEqual([h.json.args[0].code, h.json.args[0].content], [code, `status ${code} body`]);
	}
});

test('content is decoded with the response charset, ISO-8859-1 when none is given', async () => {
	// Test utf-8, iso-8859-1, latin1, a quoted upper-case UTF-8, windows-1252
	// (0x80 is the euro sign) and no charset at all (bytes read as Latin-1,
	// so UTF-8 "ü" comes out as two characters).
	const cases = [
		['cs-utf8', { charset: 'utf-8', body: 'grüße ✓ 日本' }, 'grüße ✓ 日本'],
		['cs-latin1', { charset: 'iso-8859-1', body: 'grüße ©' }, 'grüße ©'],
		['cs-latin1-alias', { charset: 'latin1', body: 'Ærø' }, 'Ærø'],
		['cs-quoted', { contentType: 'text/html; charset="UTF-8"', body: 'ü' }, 'ü'],
		['cs-1252', { contentType: 'text/plain; charset=windows-1252', body: Buffer.from([0x80, 0x20, 0x41]) }, '€ A'],
		['cs-none-latin1', { contentType: 'text/plain', body: Buffer.from('grüße ©', 'latin1') }, 'grüße ©'],
		['cs-none-utf8', { contentType: 'text/plain', body: Buffer.from('ü', 'utf8') }, 'Ã¼'],
	];
	for (const [pth, spec, want] of cases) {
		be.on(`/api/${pth}`, spec);
		const r = await callJs(P, { url: pth });
		assert.ok(r.ok, `${pth}: ${JSON.stringify(r)}`);
		assert.equal(r.value.content, want, pth);
	}
});

test('back end refused -> switchboard.error.backend_unreachable naming method and URL', async () => {
	// Test a baseurl on a port nothing listens on, over WAMP and /call: the
	// error URI, args[0] naming the method and the URL, kwargs {url, method}.
	const url = `http://127.0.0.1:${deadPort}/nothing`;
	const r = await callJs(`${P}.down`, { method: 'POST', url: 'nothing', body: 'x' });
	assert.equal(r.ok, false, JSON.stringify(r));
	assert.equal(r.error, 'switchboard.error.backend_unreachable', JSON.stringify(r));
	assert.ok(r.args[0].includes('POST') && r.args[0].includes(url), `args[0] names method and URL: ${r.args[0]}`);
	assert.deepEqual([r.kwargs.url, r.kwargs.method], [url, 'POST']);
	const h = await callHttp(`${P}.down`, { url: 'nothing' });
	assert.equal(h.status, 200, h.text);
	assert.equal(h.json.error, 'switchboard.error.backend_unreachable', h.text);
	assert.ok(h.json.args[0].includes('GET') && h.json.args[0].includes(url), h.text);
	assert.deepEqual([h.json.kwargs.url, h.json.kwargs.method], [url, 'GET']);
});

test('a host that does not resolve -> switchboard.error.backend_unreachable', async () => {
	// Test an absolute URL under the reserved .invalid TLD.
	const url = 'http://no-such-host.invalid/x';
	const r = await callJs(`${P}.any`, { url });
	assert.equal(r.error, 'switchboard.error.backend_unreachable', JSON.stringify(r));
	assert.equal(r.kwargs.url, url);
});

test('no answer within timeout -> switchboard.error.backend_timeout', async () => {
	// Test a callee with timeout 300 ms against a back end that answers after
	// 3 s: the error comes after ~300 ms, not after the answer.
	be.on('/slow', { delay: 3000, body: 'too late' });
	const t0 = Date.now();
	const r = await callJs(`${P}.short`, { url: 'slow' });
	const took = Date.now() - t0;
	assert.equal(r.error, 'switchboard.error.backend_timeout', JSON.stringify(r));
	assert.ok(took >= 250 && took < 2500, `took ${took} ms`);
	assert.ok(r.args[0].includes(`${be.url}/slow`), r.args[0]);
	assert.deepEqual([r.kwargs.url, r.kwargs.method], [`${be.url}/slow`, 'GET']);
	// the same callee answers in time when the back end does
	be.on('/fast', { body: 'fast' });
	const ok = await callJs(`${P}.short`, { url: 'fast' });
	assert.equal(ok.ok && ok.value.content, 'fast', JSON.stringify(ok));
});

test('a connection cut mid-response, no answer at all, or a non-HTTP answer -> backend_failed', async () => {
	// Test three transfer failures: half a body then a closed socket, a
	// socket closed without any answer, and garbage instead of a status line.
	be.on('/api/mid', { destroy: 'mid', body: 'x'.repeat(4000) });
	be.on('/api/nothing', { destroy: 'before' });
	be.on('/api/garbage', { raw: 'this is not HTTP at all\r\n\r\n' });
	for (const pth of ['mid', 'nothing', 'garbage']) {
		const r = await callJs(P, { url: pth });
		assert.equal(r.error, 'switchboard.error.backend_failed', `${pth}: ${JSON.stringify(r)}`);
		assert.ok(typeof r.args[0] === 'string' && r.args[0].includes(`${be.url}/api/${pth}`), `${pth}: ${r.args[0]}`);
		assert.deepEqual([r.kwargs.url, r.kwargs.method], [`${be.url}/api/${pth}`, 'GET']);
	}
	// the callee still works afterwards
	const ok = await callJs(P, { url: 'after-failures' });
	assert.equal(ok.ok && ok.value.code, 200, JSON.stringify(ok));
});

test('bad arguments -> wamp.error.invalid_argument and nothing is sent', async () => {
	// Test each wrong type: method, url, body not strings; headers and params
	// of the wrong shape; over WAMP, and one over /call.
	const cases = [
		{ method: 5 }, { method: ['GET'] }, { url: 5 }, { url: { u: 1 } }, { body: 5 }, { body: { a: 1 } },
		{ headers: 'X-A: b' }, { headers: ['X-A'] }, { headers: { 'X-A': 5 } }, { headers: { 'X-A': [5] } },
		{ headers: { 'X-A': { b: 1 } } }, { params: 'a=b' }, { params: ['a'] }, { params: { a: { b: 1 } } },
	];
	be.clear();
	for (const kwargs of cases) {
		const r = await callJs(P, kwargs);
		assert.equal(r.ok, false, `${JSON.stringify(kwargs)} was accepted: ${JSON.stringify(r)}`);
		assert.equal(r.error, 'wamp.error.invalid_argument', `${JSON.stringify(kwargs)}: ${JSON.stringify(r)}`);
		assert.ok(typeof r.args[0] === 'string' && r.args[0].length > 0, JSON.stringify(r));
	}
	const pos = await callJs(P, {}, [42]);
	assert.equal(pos.error, 'wamp.error.invalid_argument', JSON.stringify(pos));
	const h = await callHttp(P, { body: 7 });
	assert.equal(h.status, 200);
	assert.equal(h.json.error, 'wamp.error.invalid_argument', h.text);
	assert.equal(be.requests.length, 0, `nothing reaches the back end: ${be.requests.map((q) => q.url)}`);
});

test('only http and https: file://, ftp:// and a relative URL with baseurl "" are invalid_argument', async () => {
	// Test that non-HTTP schemes are refused before anything is fetched (no
	// /etc/passwd in any answer), also when an absolute URL overrides a base.
	for (const [proc, url] of [[`${P}.any`, 'file:///etc/passwd'], [P, 'file:///etc/passwd'],
		[`${P}.any`, 'FILE:///etc/hostname'], [`${P}.any`, `ftp://127.0.0.1:${deadPort}/x`],
		[`${P}.any`, 'gopher://127.0.0.1/x'], [`${P}.any`, 'relative/only']]) {
		const r = await callJs(proc, { url });
		assert.equal(r.error, 'wamp.error.invalid_argument', `${proc} ${url}: ${JSON.stringify(r)}`);
		assert.ok(!JSON.stringify(r).includes('root:'), 'no file content leaks');
	}
});

test('a caller\'s CALL timeout cancels the outgoing request (Autobahn|JS and /call)', async () => {
	// Test a back end that never answers: the caller gets wamp.error.timeout
	// after its 300 ms, and the gateway closes its connection to the back end
	// (the request is cancelled, not left running for 30 s).
	be.on('/api/hang', { hang: true });
	be.on('/api/hang2', { hang: true });
	const t0 = Date.now();
	const r = await callJs(P, { url: 'hang' }, [], { timeout: 300 });
	assert.equal(r.error, 'wamp.error.timeout', JSON.stringify(r));
	assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
	const req = (await be.waitRequests(1, '/api/hang'))[0];
	await waitFor(() => req.closedEarly, 3000, 'the back-end request to be cancelled (connection closed)');

	const h = await callHttp(P, { url: 'hang2' }, { timeout: 300 });
	assert.equal(h.status, 200);
	assert.equal(h.json.error, 'wamp.error.timeout', h.text);
	const req2 = (await be.waitRequests(1, '/api/hang2'))[0];
	await waitFor(() => req2.closedEarly, 3000, 'the /call back-end request to be cancelled');
});

test('200 calls in flight at once all get their own answer; connections are reused', { timeout: 60000 }, async () => {
	// Test 200 concurrent calls against a back end answering each after
	// 100 ms: every result carries its own index, the back end had many
	// requests at once (not one at a time); then 20 sequential calls open at
	// most 2 new connections and 10 waves of 20 far fewer than 200.
	be.on('/api/many', (rec) => ({ delay: 100, body: `many ${rec.query.get('i')}` }));
	be.clear();
	be.maxInFlight = 0;
	const t0 = Date.now();
	const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => callJs(P, { url: 'many', params: { i: String(i) } })));
	const took = Date.now() - t0;
	rs.forEach((r, i) => {
		assert.ok(r.ok, `call ${i}: ${JSON.stringify(r)}`);
		assert.deepEqual([r.value.code, r.value.content], [200, `many ${i}`], `call ${i}`);
	});
	assert.equal(be.reqs('/api/many').length, 200);
	assert.ok(be.maxInFlight >= 10, `the back end saw at most ${be.maxInFlight} requests at once`);
	assert.ok(took < 15000, `200 calls took ${took} ms`);

	be.on('/api/seq', { body: 'seq' });
	const c0 = be.connections;
	for (let i = 0; i < 20; i++) {
		const r = await callJs(P, { url: 'seq' });
		assert.equal(r.ok && r.value.content, 'seq', JSON.stringify(r));
	}
	const seqConns = be.connections - c0;
	assert.ok(seqConns <= 2, `20 sequential calls opened ${seqConns} connections`);

	const c1 = be.connections;
	for (let w = 0; w < 10; w++) {
		const wave = await Promise.all(Array.from({ length: 20 }, () => callJs(P, { url: 'seq' })));
		assert.ok(wave.every((r) => r.ok && r.value.content === 'seq'));
	}
	const waveConns = be.connections - c1;
	assert.ok(waveConns <= 60, `200 calls in waves of 20 opened ${waveConns} connections`);
});

test('redirects are followed (302, 301 absolute, 307 keeps method and body); a loop ends', async () => {
	// Test a chain r1 -302-> r2 -301-> BE/api/final: the result is the final
	// answer (no Location header); a POST through 307 arrives as a POST with
	// its body; a redirect loop ends within 5 s after at most 11 requests.
	be.on('/api/r1', { redirect: '/api/r2' });
	be.on('/api/r2', { redirect: `${be.url}/api/final`, status: 301 });
	be.on('/api/final', { body: 'landed', headers: { 'X-Final': 'yes' } });
	be.clear();
	const r = await callJs(P, { url: 'r1' });
	assert.ok(r.ok, JSON.stringify(r));
	assert.deepEqual([r.value.code, r.value.content, r.value.headers['X-Final']], [200, 'landed', ['yes']]);
	assert.equal(r.value.headers.Location, undefined, 'headers of the final answer only');
	assert.deepEqual(be.requests.map((q) => q.path), ['/api/r1', '/api/r2', '/api/final']);

	be.on('/api/p307', { redirect: '/api/pfinal', status: 307 });
	be.on('/api/pfinal', { body: 'posted' });
	be.clear();
	const p = await callJs(P, { method: 'POST', url: 'p307', body: 'keep me' });
	assert.equal(p.ok && p.value.content, 'posted', JSON.stringify(p));
	assert.deepEqual(be.requests.map((q) => [q.method, q.path, q.text]),
		[['POST', '/api/p307', 'keep me'], ['POST', '/api/pfinal', 'keep me']]);

	be.on('/api/loop', { redirect: '/api/loop' });
	be.clear();
	const t0 = Date.now();
	const l = await callJs(P, { url: 'loop' });
	assert.ok(Date.now() - t0 < 5000, `loop took ${Date.now() - t0} ms`);
	const n = be.reqs('/api/loop').length;
	assert.ok(n >= 2 && n <= 11, `the loop was followed ${n} times (${JSON.stringify(l).slice(0, 200)})`);
});

test('the procedure is registered with exact match and held by the component', async () => {
	// Test that a sub-URI is not served (no_such_procedure) and another
	// client cannot register the same procedure.
	const r = await callJs(`${P}.nothing.here`);
	assert.equal(r.error, 'wamp.error.no_such_procedure', JSON.stringify(r));
	const reg = await settle(s.register(P, () => 'mine'));
	assert.equal(reg.ok, false, 'a second registration of the component\'s procedure was accepted');
	assert.equal(reg.error, 'wamp.error.procedure_already_exists', JSON.stringify(reg));
});

test('POST /call with curl returns 200 {"args": [{code, content, headers}]}', async () => {
	// Test the curl way of calling the REST callee.
	be.clear();
	const r = await curlAsync(['-X', 'POST', '-H', 'Content-Type: application/json', '-d',
		JSON.stringify({ procedure: P, kwargs: { method: 'POST', url: 'curl', body: 'via curl', params: { c: '1' } } }),
		`${gw.url}/call`]);
	assert.equal(r.status, 200, r.body);
	const j = JSON.parse(r.body);
	assertResultShape(j.args[0], 'curl');
	const req = onlyRequest('curl');
	assert.deepEqual([req.method, req.url, req.text], ['POST', '/api/curl?c=1', 'via curl']);
	assert.deepEqual(JSON.parse(j.args[0].content), { method: 'POST', url: '/api/curl?c=1', body: 'via curl' });
});

test('Autobahn|Python calls the REST callee once', async () => {
	// Test an Autobahn|Python caller: one request at the back end with its
	// method, body, header list and params, and the result shape.
	const py = await connectPython(gw);
	try {
		be.clear();
		const r = await py.request({
			op: 'call', procedure: P,
			kwargs: { method: 'POST', url: 'py', body: 'from python', headers: { 'X-Py': ['1', '2'] }, params: { lang: 'py' } },
		}, 15000);
		assert.equal(r.ok, true, JSON.stringify(r));
		assertResultShape(r.args[0], 'python');
		assert.equal(r.args[0].code, 200);
		const req = onlyRequest('python');
		assert.deepEqual([req.method, req.url, req.text, req.header('X-Py')],
			['POST', '/api/py?lang=py', 'from python', ['1', '2']]);
	} finally {
		await py.end();
	}
});

test('each component is a session: /info counts it, the meta API shows its authid', async () => {
	// Test a gateway with two callees and no client: /info sessions is 2;
	// wamp.session.get shows authid "restcallee-<procedure>" for one without
	// an id and the component id for the other.
	const cfg = addContainer(makeConfig(), [
		restCallee({ procedure: 'com.example.solo', baseurl: `${be.url}/` }),
		restCallee({ procedure: 'com.example.named', baseurl: `${be.url}/`, id: 'named-callee' }),
	]);
	const g = await startGateway({ config: cfg });
	try {
		assert.equal((await info(g)).sessions, 2);
		const a = await connectAutobahn(g);
		try {
			const ids = await a.call('wamp.session.list');
			const others = ids.filter((id) => id !== a.id);
			assert.equal(others.length, 2, JSON.stringify(ids));
			const authids = [];
			for (const id of others) authids.push((await a.call('wamp.session.get', [id])).authid);
			assert.deepEqual(authids.sort(), ['named-callee', 'restcallee-com.example.solo']);
			assert.equal((await info(g)).sessions, 3);
			const r = await settle(a.call('com.example.named', [], { url: 'named' }));
			assert.equal(r.ok && r.value.code, 200, JSON.stringify(r));
		} finally {
			await a.end();
		}
	} finally {
		await stopClean(g);
	}
});
