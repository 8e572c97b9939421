// 43-origin: Origin checks on WebSocket upgrades. allowed_origins lists and
// `*` patterns (Crossbar's key), allow_null_origin, the defaults (any origin
// on a loopback listener; same-origin only on an all-interfaces or
// non-loopback one), refusal as HTTP 403 with a JSON body, requests without
// Origin always allowed; the eventsource allowed_origins and the bridge
// paths' CORS unchanged.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import {
	startGateway, stopClean, makeConfig, freePort, request, openSse,
} from './lib/gateway.mjs';
import { T, rawWamp, CLIENT_ROLES } from './lib/wamp.mjs';

let gw;
let allPort;     // a websocket transport listening on all interfaces

function config() {
	const cfg = makeConfig({
		sse: { allowed_origins: ['http://allowed.example'] },
		paths: {
			listed: {
				type: 'websocket',
				options: { allowed_origins: ['https://app.example.com', 'https://*.example.org', 'http://localhost:*'] },
			},
			nullok: { type: 'websocket', options: { allowed_origins: ['https://app.example.com'], allow_null_origin: true } },
			star: { type: 'websocket', options: { allowed_origins: ['*'] } },
		},
	});
	cfg.workers[0].transports.push({
		type: 'websocket', endpoint: { type: 'tcp', port: allPort },
	});
	return cfg;
}

before(async () => {
	allPort = await freePort();
	gw = await startGateway({ config: config() });
});
after(async () => { await stopClean(gw); });

/** Try an upgrade with an Origin (null = none); resolves to
 *  {ok: true, welcome} after a WAMP join, or {ok: false, status, json, headers, body}. */
async function tryOrigin(origin, { path: pth = '/ws', url, headers } = {}) {
	const wsOptions = {};
	if (origin !== null) wsOptions.origin = origin;
	if (headers) wsOptions.headers = headers;
	const r = await rawWamp(gw, { path: pth, url, wsOptions }).then((c) => ({ c }), (e) => ({ e }));
	if (r.c) {
		const w = await r.c.join('realm1', { roles: CLIENT_ROLES });
		await r.c.close();
		return { ok: true, welcome: w };
	}
	if (r.e.status === undefined) throw r.e;
	return { ok: false, status: r.e.status, json: r.e.json, headers: r.e.headers, body: r.e.body };
}

async function assertAllowed(origin, opts, what) {
	const r = await tryOrigin(origin, opts);
	assert.ok(r.ok, `${what}: Origin ${origin} must be allowed, got ${r.status} ${r.body}`);
	assert.equal(r.welcome[0], T.WELCOME);
}

async function assertRefused(origin, opts, what) {
	const r = await tryOrigin(origin, opts);
	assert.ok(!r.ok, `${what}: Origin ${origin} must be refused, got a session`);
	assert.equal(r.status, 403, `${what}: ${r.status} ${r.body}`);
	assert.match(r.headers['content-type'] || '', /json/, `${what}: content-type`);
	assert.ok(r.json && typeof r.json.error === 'string' && r.json.error.length > 0, `${what}: body ${r.body}`);
	return r;
}

test('default on a loopback listener: any origin is allowed ("null" only with allow_null_origin)', async () => {
	// Test /ws (no allowed_origins, listening on 127.0.0.1) with foreign
	// origins and none: each upgrade succeeds and joins. Origin "null" is
	// refused: allow_null_origin defaults to false (as in Autobahn/Crossbar).
	for (const o of ['http://evil.example', 'https://app.example.com', 'http://localhost:3000', 'http://[::1]:8080', null]) {
		await assertAllowed(o, {}, 'loopback default');
	}
	await assertRefused('null', {}, 'loopback default, null origin');
});

test('allowed_origins: listed origins and * patterns pass, others get 403 JSON', async () => {
	// Test /listed: the exact origin, subdomains (one and two levels) of the
	// https://*.example.org pattern, localhost on any port; refused: another
	// scheme or port, the bare domain, a suffix trick, a prefix trick, "null".
	const allowed = ['https://app.example.com', 'https://x.example.org', 'https://a.b.example.org',
		'http://localhost:3000', 'http://localhost:8080'];
	for (const o of allowed) await assertAllowed(o, { path: '/listed' }, 'listed');
	const refused = ['http://app.example.com', 'https://app.example.com:8443', 'https://example.org',
		'https://x.example.org.evil.com', 'https://evilexample.org', 'http://x.example.org', 'https://app.example.com.evil',
		'https://localhost:3000', 'http://evil.example', 'null'];
	for (const o of refused) await assertRefused(o, { path: '/listed' }, 'listed');
});

test('requests without an Origin header are always allowed', async () => {
	// Test a non-browser client (no Origin) on /listed, /nullok and the
	// all-interfaces transport.
	await assertAllowed(null, { path: '/listed' }, 'listed');
	await assertAllowed(null, { path: '/nullok' }, 'nullok');
	await assertAllowed(null, { url: `ws://127.0.0.1:${allPort}/` }, 'all interfaces');
});

test('allow_null_origin: "null" passes only where it is enabled', async () => {
	// Test Origin: null on /nullok (allow_null_origin true) and on /listed
	// (default false); /nullok still refuses a foreign origin.
	await assertAllowed('null', { path: '/nullok' }, 'nullok');
	await assertAllowed('https://app.example.com', { path: '/nullok' }, 'nullok listed');
	await assertRefused('null', { path: '/listed' }, 'listed null');
	await assertRefused('https://evil.example', { path: '/nullok' }, 'nullok foreign');
});

test('allowed_origins ["*"] allows every origin', async () => {
	// Test /star with foreign origins.
	for (const o of ['http://evil.example', 'https://whatever.test:1234']) await assertAllowed(o, { path: '/star' }, 'star');
});

test('default on an all-interfaces listener: only same-origin (Origin host:port = Host)', async () => {
	// Test the websocket transport bound without an interface: Origin
	// http://127.0.0.1:<port> with that Host passes; a foreign origin, the
	// same host on another port and localhost for a 127.0.0.1 Host are 403.
	const url = `ws://127.0.0.1:${allPort}/`;
	await assertAllowed(`http://127.0.0.1:${allPort}`, { url }, 'same origin');
	await assertRefused('http://evil.example', { url }, 'foreign');
	await assertRefused(`http://127.0.0.1:${allPort + 1}`, { url }, 'other port');
	await assertRefused(`http://localhost:${allPort}`, { url }, 'other host name');
	// the Host header decides what "same" means
	await assertAllowed(`http://localhost:${allPort}`, { url, headers: { Host: `localhost:${allPort}` } }, 'Host localhost');
});

test('default on a non-loopback address: only same-origin', async (t) => {
	// Test a gateway whose web transport listens on this machine's first
	// non-internal IPv4 address (skipped when there is none): same-origin
	// passes, a foreign origin and http://localhost are 403, no Origin passes.
	const addr = Object.values(os.networkInterfaces()).flat()
		.find((i) => i && i.family === 'IPv4' && !i.internal);
	if (!addr) {
		t.skip('no non-loopback IPv4 address on this machine');
		return;
	}
	const port = await freePort();
	const cfg = makeConfig();
	cfg.workers[0].transports.push({
		type: 'web', endpoint: { type: 'tcp', interface: addr.address, port },
		paths: { ws: { type: 'websocket' } },
	});
	const g = await startGateway({ config: cfg });
	try {
		const url = `ws://${addr.address}:${port}/ws`;
		const r = await rawWamp(g, { url }).then((c) => c, (e) => e);
		if (r instanceof Error && r.status === undefined) {
			t.skip(`cannot connect to ${addr.address}:${port}: ${r.message}`);
			return;
		}
		if (r.close) await r.close();
		const viaG = async (origin) => {
			const x = await rawWamp(g, { url, wsOptions: origin ? { origin } : {} }).then((c) => ({ c }), (e) => ({ e }));
			if (x.c) { await x.c.join(); await x.c.close(); return 101; }
			return x.e.status;
		};
		assert.equal(await viaG(`http://${addr.address}:${port}`), 101, 'same origin');
		assert.equal(await viaG(null), 101, 'no Origin');
		assert.equal(await viaG('http://evil.example'), 403, 'foreign origin');
		assert.equal(await viaG(`http://localhost:${port}`), 403, 'localhost origin');
		assert.equal(await viaG(`http://${addr.address}:${port + 1}`), 403, 'another port');
	} finally {
		await stopClean(g);
	}
});

test('eventsource allowed_origins and the bridge paths\' CORS work as before', async () => {
	// Test that /sse echoes its allowed origin (credentials, Vary) and not
	// another; /publish echoes any Origin with credentials and answers the
	// OPTIONS preflight.
	const ok = openSse(gw, { topic: 'com.example.cors' }, { headers: { Origin: 'http://allowed.example' } });
	const { status, headers } = await ok.ready;
	ok.close();
	assert.equal(status, 200);
	assert.equal(headers['access-control-allow-origin'], 'http://allowed.example');
	assert.equal(headers['access-control-allow-credentials'], 'true');
	const no = openSse(gw, { topic: 'com.example.cors' }, { headers: { Origin: 'http://evil.example' } });
	const r2 = await no.ready;
	no.close();
	assert.equal(r2.headers['access-control-allow-origin'], undefined);
	const p = await request(gw, 'POST', '/publish', {
		headers: { 'Content-Type': 'application/json', Origin: 'http://evil.example' },
		body: JSON.stringify({ topic: 'com.example.cors', args: [1] }),
	});
	assert.equal(p.status, 200, p.text);
	assert.equal(typeof p.json.id, 'number', p.text);
	assert.equal(p.headers['access-control-allow-origin'], 'http://evil.example');
	assert.equal(p.headers['access-control-allow-credentials'], 'true');
	const pre = await request(gw, 'OPTIONS', '/publish', {
		headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
	});
	assert.equal(pre.status, 200);
	assert.match(pre.headers['access-control-allow-methods'] || '', /POST/);
});
