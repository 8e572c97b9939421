// 13-info-metrics: /info (JSON and HTML), /metrics and /healthz.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	startGateway, stopClean, makeConfig, publishOk, openSseLive, request, info, sleep, waitFor,
} from './lib/gateway.mjs';

let gw;
before(async () => { gw = await startGateway({ config: makeConfig() }); });
after(async () => { await stopClean(gw); });

const FIELDS = ['version', 'uptime_s', 'sessions', 'sse_clients', 'subscriptions', 'registrations',
	'events_stored', 'events_published', 'events_delivered', 'sse_cuts'];

test('/healthz answers 200 {"status":"ok"}', async () => {
	// Test the liveness endpoint's exact body.
	const r = await request(gw, 'GET', '/healthz');
	assert.equal(r.status, 200);
	assert.match(r.headers['content-type'] || '', /application\/json/);
	assert.deepEqual(r.json, { status: 'ok' });
});

test('/info as JSON has every documented field with sane types', async () => {
	// Test both ways of asking for JSON and the fields listed in the brief.
	const a = await request(gw, 'GET', '/info', { headers: { Accept: 'application/json' } });
	const b = await request(gw, 'GET', '/info?format=json');
	for (const r of [a, b]) {
		assert.equal(r.status, 200);
		assert.match(r.headers['content-type'] || '', /application\/json/);
		assert.ok(r.json && typeof r.json === 'object', r.text);
		for (const f of FIELDS) assert.ok(f in r.json, `field ${f} missing: ${r.text}`);
		assert.equal(typeof r.json.version, 'string');
		assert.match(r.json.version, /\d+\.\d+/);
		for (const f of FIELDS.slice(1)) {
			assert.ok(typeof r.json[f] === 'number' && r.json[f] >= 0, `${f} = ${r.json[f]}`);
		}
	}
});

test('/info counters follow publishes, deliveries and streams', async () => {
	// Test that events_published/stored/delivered and sse_clients move.
	const i0 = await info(gw);
	const s = await openSseLive(gw, { topic: 'info.t' });
	for (let k = 0; k < 3; k++) await publishOk(gw, 'info.t', [k]);
	await s.waitEvents(3);
	await sleep(100);
	const i1 = await info(gw);
	assert.ok(i1.events_published >= i0.events_published + 3, `published ${i0.events_published} -> ${i1.events_published}`);
	assert.ok(i1.events_stored >= i0.events_stored + 3, `stored ${i0.events_stored} -> ${i1.events_stored}`);
	assert.ok(i1.events_delivered >= i0.events_delivered + 3, `delivered ${i0.events_delivered} -> ${i1.events_delivered}`);
	assert.equal(i1.sse_clients, i0.sse_clients + 1);
	assert.ok(i1.uptime_s >= i0.uptime_s);
	s.close();
});

test('/info without JSON asked for is an HTML page with the same facts', async () => {
	// Test the nodeinfo HTML: text/html, mentions the version and SSE clients.
	const j = await info(gw);
	const r = await request(gw, 'GET', '/info', { headers: { Accept: 'text/html' } });
	assert.equal(r.status, 200);
	assert.match(r.headers['content-type'] || '', /^text\/html/);
	assert.match(r.text, /<html|<!doctype html/i);
	assert.ok(r.text.includes(j.version), 'version in the page');
	assert.match(r.text, /sse/i);
	const bare = await request(gw, 'GET', '/info');
	assert.match(bare.headers['content-type'] || '', /^text\/html/);
});

test('/metrics is Prometheus text with switchboard_ series', async () => {
	// Test that /metrics serves text/plain exposition lines named switchboard_*.
	await publishOk(gw, 'metrics.t', [1]);
	const r = await request(gw, 'GET', '/metrics');
	assert.equal(r.status, 200);
	assert.match(r.headers['content-type'] || '', /^text\/plain/);
	const samples = r.text.split('\n').filter((l) => l && !l.startsWith('#'));
	assert.ok(samples.length > 0);
	assert.ok(samples.some((l) => l.startsWith('switchboard_')), r.text.slice(0, 500));
	for (const l of samples) {
		assert.match(l, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)( -?\d+)?$/, `sample line: ${l}`);
	}
	assert.ok(samples.some((l) => l.startsWith('switchboard_sse_slow_cuts_total')), 'slow cut counter exported');
});

test('access_log logs one line per answered request with peer, method, path and status', async () => {
	// Test the web transport option access_log (Crossbar's key): off by
	// default, one info line per request when on.
	const g = await startGateway({ config: makeConfig({ web: { access_log: true } }) });
	try {
		await publishOk(g, 'com.example.log', [1]);
		const r = await request(g, 'GET', '/no/such/file');
		assert.equal(r.status, 404);
		await waitFor(() => /http: 127\.0\.0\.1:\d+: GET \/no\/such\/file 404/.test(g.log()), 3000,
			'an access line for the 404');
		assert.match(g.log(), /http: 127\.0\.0\.1:\d+: POST \/publish 200/);
	} finally {
		await stopClean(g);
	}
	const quiet = await startGateway({});
	try {
		await publishOk(quiet, 'com.example.log', [1]);
		await sleep(100);
		assert.doesNotMatch(quiet.log(), /POST \/publish 200/);
	} finally {
		await stopClean(quiet);
	}
});
