// 03-sse: GET /sse live delivery — headers, retry:, framing, topics and
// match modes, payload shapes and UTF-8, event:, heartbeat, CORS, errors,
// and the `eventsource` npm client as browser code would use it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	startGateway, stopClean, makeConfig, publish, publishOk, openSse, openSseLive,
	openEventSource, info, isErrorBody, waitFor, sleep,
} from './lib/gateway.mjs';

const ALLOWED = 'http://allowed.example';
let gw;       // heartbeat 1 s, retry 2500, one allowed origin
let gwOpen;   // defaults except: a role that may not subscribe to secret.*

before(async () => {
	gw = await startGateway({
		config: makeConfig({ sse: { heartbeat: 1, retry: 2500, allowed_origins: [ALLOWED] } }),
	});
	gwOpen = await startGateway({
		config: makeConfig({
			permissions: [
				{ uri: 'secret.', match: 'prefix',
					allow: { call: false, register: false, publish: false, subscribe: false },
					disclose: { caller: false, publisher: false }, cache: true },
				{ uri: '', match: 'prefix',
					allow: { call: true, register: true, publish: true, subscribe: true },
					disclose: { caller: false, publisher: false }, cache: true },
			],
		}),
	});
});
after(async () => {
	await stopClean(gw, gwOpen);
});

test('the response has the SSE headers and starts with retry:', async () => {
	// Test that /sse answers 200 text/event-stream, no-cache,
	// X-Accel-Buffering: no, no Content-Length, and the first bytes are
	// `retry: 2500\n\n` (the configured retry).
	const s = openSse(gw, { topic: 'com.example.hdr' });
	try {
		const { status, headers } = await s.ready;
		assert.equal(status, 200);
		assert.match(headers['content-type'], /^text\/event-stream/);
		assert.match(headers['cache-control'] || '', /no-cache/);
		assert.equal(headers['x-accel-buffering'], 'no');
		assert.equal(headers['content-length'], undefined);
		await s.waitFor((x) => x.raw().length >= 13, 3000, 'the first bytes');
		assert.ok(s.rawText().startsWith('retry: 2500\n\n'), `first bytes: ${JSON.stringify(s.rawText().slice(0, 40))}`);
		assert.deepEqual(s.retries, [2500]);
	} finally {
		s.close();
	}
});

test('a published event arrives framed as id:, data: and a blank line', async () => {
	// Test the exact bytes of one event: `id: SEQ\ndata: {json}\n\n`, the
	// data being {"topic", "args", "kwargs"} of the publication.
	const s = await openSseLive(gw, { topic: 'com.example.frame' });
	try {
		await publishOk(gw, 'com.example.frame', [1, 'two', { three: 3 }], { k: 'v', n: null });
		const [ev] = await s.waitEvents(1);
		const raw = s.rawText();
		const m = raw.match(/(?:^|\n)(id: (\d+)\ndata: ([^\n]*)\n\n)/);
		assert.ok(m, `event block not found in ${JSON.stringify(raw)}`);
		assert.equal(ev.id, m[2]);
		assert.equal(ev.event, null, 'no event: line without options.sse_event');
		assert.deepEqual(JSON.parse(m[3]), {
			topic: 'com.example.frame', args: [1, 'two', { three: 3 }], kwargs: { k: 'v', n: null },
		});
		assert.ok(!/\nevent:/.test(raw));
	} finally {
		s.close();
	}
});

test('ids are decimal and strictly increasing across topics', async () => {
	// Test that the SSE id is the global history sequence: one order across
	// all topics of a multi-topic stream.
	const s = await openSseLive(gw, { topic: ['com.example.m1', 'com.example.m2'] });
	try {
		for (let i = 0; i < 10; i++) await publishOk(gw, i % 2 ? 'com.example.m2' : 'com.example.m1', [i]);
		const evs = await s.waitEvents(10);
		const ids = evs.map((e) => e.id);
		for (const id of ids) assert.match(id, /^\d{1,16}$/);
		for (let i = 1; i < ids.length; i++) assert.ok(BigInt(ids[i]) > BigInt(ids[i - 1]), `ids ${ids}`);
		assert.deepEqual(evs.map((e) => e.json.args[0]), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
	} finally {
		s.close();
	}
});

test('a multi-topic stream gets its topics and only those', async () => {
	// Test that topic=A&topic=B delivers A and B in publication order and not C.
	const s = await openSseLive(gw, { topic: ['mt.a', 'mt.b'] });
	try {
		await publishOk(gw, 'mt.a', ['a1']);
		await publishOk(gw, 'mt.c', ['c1']);
		await publishOk(gw, 'mt.b', ['b1']);
		await publishOk(gw, 'mt.a.sub', ['x']);
		await publishOk(gw, 'mt.a', ['a2']);
		await s.waitEvents(3);
		await sleep(300);
		assert.deepEqual(s.events.map((e) => [e.json.topic, e.json.args[0]]),
			[['mt.a', 'a1'], ['mt.b', 'b1'], ['mt.a', 'a2']]);
	} finally {
		s.close();
	}
});

test('match=prefix delivers every topic under the prefix', async () => {
	// Test that a prefix subscription gets `px.orders.1` and `px.orders.eu.2`
	// but not `py.orders.1`.
	const s = await openSseLive(gw, { topic: 'px.orders.', match: 'prefix' });
	try {
		await publishOk(gw, 'px.orders.1', [1]);
		await publishOk(gw, 'py.orders.1', [0]);
		await publishOk(gw, 'px.orders.eu.2', [2]);
		await s.waitEvents(2);
		await sleep(300);
		assert.deepEqual(s.events.map((e) => e.json.topic), ['px.orders.1', 'px.orders.eu.2']);
	} finally {
		s.close();
	}
});

test('match=wildcard: user..orders matches user.12.orders only', async () => {
	// Test that an empty component matches exactly one component:
	// `user.12.orders` yes; `users.12.orders`, `user.12.13.orders`,
	// `user.12.orders.x` no.
	const s = await openSseLive(gw, { topic: 'user..orders', match: 'wildcard' });
	try {
		for (const t of ['users.12.orders', 'user.12.13.orders', 'user.12.orders.x', 'user.12.orders', 'user.abc.orders']) {
			await publishOk(gw, t, [t]);
		}
		await s.waitEvents(2);
		await sleep(300);
		assert.deepEqual(s.events.map((e) => e.json.topic), ['user.12.orders', 'user.abc.orders']);
	} finally {
		s.close();
	}
});

test('args and kwargs keep their JSON shapes; data stays one line', async () => {
	// Test nested values, numbers, booleans, null, quotes and CR/LF inside
	// strings: each event is one data: line and parses back equal.
	const s = await openSseLive(gw, { topic: 'com.example.shapes' });
	const payloads = [
		[[], {}],
		[[null, true, false, 0, -1.5, 1e21, 9007199254740991], { nested: { deep: [[{ a: [] }]] } }],
		[['line1\nline2', 'cr\rlf\r\n', 'quote " and \\ backslash', 'tab\t', '\u001f ctl', '</script>'], { 'key with space': 'x' }],
		[[{ a: 1 }, [1, [2, [3]]]], { e: '' }],
	];
	try {
		for (const [a, k] of payloads) await publishOk(gw, 'com.example.shapes', a, k);
		const evs = await s.waitEvents(payloads.length);
		payloads.forEach(([a, k], i) => {
			const d = evs[i].json;
			assert.ok(d, `event ${i} data is JSON: ${evs[i].data}`);
			assert.equal(d.topic, 'com.example.shapes');
			// Empty args/kwargs may be omitted; non-empty ones must be equal.
			assert.deepEqual(d.args ?? [], a);
			assert.deepEqual(d.kwargs ?? {}, k);
			assert.ok(!evs[i].data.includes('\n'), 'one data: line per event');
		});
	} finally {
		s.close();
	}
});

test('WAMP binary in JSON ("\\u0000" + base64) is accepted and delivered', async () => {
	// Test the WAMP JSON convention for binary payloads: a string starting
	// with U+0000 followed by base64 is valid JSON and must pass through
	// /publish and SSE unchanged (Crossbar accepts it).
	const bin = '\u0000' + Buffer.from([1, 2, 3, 255]).toString('base64');
	const s = await openSseLive(gw, { topic: 'com.example.binary' });
	try {
		const r = await publish(gw, 'com.example.binary', [bin], { blob: bin });
		assert.equal(r.status, 200, `publish with "\\u0000AQID/w==": ${r.text}`);
		const [ev] = await s.waitEvents(1);
		assert.deepEqual(ev.json.args, [bin]);
		assert.deepEqual(ev.json.kwargs, { blob: bin });
		assert.ok(!ev.data.includes('\0'), 'NUL is escaped in the data line, never raw');
	} finally {
		s.close();
	}
});

test('a publication without args/kwargs has only the topic (or empty ones)', async () => {
	// Test that {"topic"} publishes deliver data with no invented values.
	const s = await openSseLive(gw, { topic: 'com.example.bare' });
	try {
		await publishOk(gw, 'com.example.bare');
		const [ev] = await s.waitEvents(1);
		assert.equal(ev.json.topic, 'com.example.bare');
		assert.deepEqual(ev.json.args ?? [], []);
		assert.deepEqual(ev.json.kwargs ?? {}, {});
	} finally {
		s.close();
	}
});

test('UTF-8 payloads (emoji, non-BMP, CJK, combining) arrive intact', async () => {
	// Test that multi-byte text survives publish -> SQLite -> SSE unchanged,
	// sent as raw UTF-8 or JSON escapes but never as U+FFFD.
	const texts = ['😀🚀', '𝄞 𠜎 𐍈', '日本語テキスト', 'e\u0301 n\u0303', 'mixed ascii ✓ ünïcödé', '\u{10FFFF}'];
	const s = await openSseLive(gw, { topic: 'com.example.utf8' });
	try {
		await publishOk(gw, 'com.example.utf8', texts, { '鍵': '値', emoji: '👍🏽' });
		const [ev] = await s.waitEvents(1);
		assert.deepEqual(ev.json.args, texts);
		assert.deepEqual(ev.json.kwargs, { '鍵': '値', emoji: '👍🏽' });
		assert.ok(!s.rawText().includes('\uFFFD'), 'no replacement characters');
		// \u-escaped input must come out as the same characters too
		await publishOk(gw, 'com.example.utf8', ['\ud83d\ude00']);
		const evs = await s.waitEvents(2);
		assert.deepEqual(evs[1].json.args, ['😀']);
	} finally {
		s.close();
	}
});

test('options.sse_event adds an event: line; others have none', async () => {
	// Test that a publish with options {"sse_event": "order"} is framed with
	// `event: order` and the next plain one without.
	const s = await openSseLive(gw, { topic: 'com.example.named' });
	try {
		await publishOk(gw, 'com.example.named', [1], undefined, { sse_event: 'order' });
		await publishOk(gw, 'com.example.named', [2]);
		const evs = await s.waitEvents(2);
		assert.equal(evs[0].event, 'order');
		assert.equal(evs[1].event, null);
		assert.ok(s.rawText().includes('\nevent: order\n'), 'an `event: order` line');
	} finally {
		s.close();
	}
});

test('a heartbeat comment arrives every heartbeat (1 s)', async () => {
	// Test that an idle stream gets `: ping` comments about once a second.
	const s = await openSseLive(gw, { topic: 'com.example.idle' });
	try {
		await s.waitFor((x) => x.comments.length >= 2, 3500, 'two heartbeat comments in 3.5 s');
		assert.ok(s.comments.some((c) => c.trim() === 'ping'), `heartbeat is ": ping": ${JSON.stringify(s.comments)}`);
		assert.ok(s.rawText().includes('\n: ping\n\n') || s.rawText().includes(': ping\n\n'));
		assert.equal(s.events.length, 0);
	} finally {
		s.close();
	}
});

test('CORS: an allowed origin is echoed with credentials and Vary', async () => {
	// Test that Origin http://allowed.example gets
	// Access-Control-Allow-Origin: that origin, Allow-Credentials: true,
	// Vary: Origin (so withCredentials EventSource works).
	const s = openSse(gw, { topic: 'com.example.cors' }, { headers: { Origin: ALLOWED } });
	try {
		const { status, headers } = await s.ready;
		assert.equal(status, 200);
		assert.equal(headers['access-control-allow-origin'], ALLOWED);
		assert.equal(headers['access-control-allow-credentials'], 'true');
		assert.match(headers.vary || '', /origin/i);
	} finally {
		s.close();
	}
});

test('CORS: a non-allowed origin gets no Access-Control-Allow-Origin', async () => {
	// Test that Origin http://evil.example is not echoed (nor "*").
	const s = openSse(gw, { topic: 'com.example.cors' }, { headers: { Origin: 'http://evil.example' } });
	try {
		const { headers } = await s.ready;
		assert.equal(headers['access-control-allow-origin'], undefined,
			`ACAO must be absent, got ${headers['access-control-allow-origin']}`);
		assert.notEqual(headers['access-control-allow-credentials'], 'true');
	} finally {
		s.close();
	}
});

test('CORS: with the default ["*"] any origin is echoed', async () => {
	// Test that the default allowed_origins echoes the request origin (not
	// "*", which would break withCredentials).
	const s = openSse(gwOpen, { topic: 'com.example.cors' }, { headers: { Origin: 'http://any.example:3000' } });
	try {
		const { status, headers } = await s.ready;
		assert.equal(status, 200);
		assert.equal(headers['access-control-allow-origin'], 'http://any.example:3000');
		assert.equal(headers['access-control-allow-credentials'], 'true');
	} finally {
		s.close();
	}
});

test('bad SSE queries are 400 JSON; a valid wildcard with empty parts is not', async () => {
	// Test: no topic, an invalid exact topic (also invalid UTF-8), a bad
	// match mode -> 400
	// bad_request; `a..b` with match=wildcard is a valid pattern -> 200.
	for (const q of ['', 'match=prefix', 'topic=a..b', 'topic=a%20b', 'topic=.a', 'topic=', 'topic=a.b&match=regex',
		'topic=a.%ff', 'topic=%c0%ae']) {
		const s = openSse(gw, q);
		const { status } = await s.ready;
		assert.equal(status, 400, `/sse?${q} -> ${status} ${s.text}`);
		assert.ok(isErrorBody(s.json, 'switchboard.error.bad_request'), `/sse?${q}: ${s.text}`);
		s.close();
	}
	const ok = openSse(gw, 'topic=a..b&match=wildcard');
	assert.equal((await ok.ready).status, 200);
	ok.close();
});

test('a topic the role may not subscribe to is 403 not_authorized', async () => {
	// Test that the eventsource path applies its role's subscribe permission,
	// and the publisher its publish permission (200 + error).
	const s = openSse(gwOpen, { topic: 'secret.plans' });
	const { status } = await s.ready;
	assert.equal(status, 403, s.text);
	assert.ok(isErrorBody(s.json, 'wamp.error.not_authorized'), s.text);
	s.close();
	const p = await publish(gwOpen, 'secret.plans', [1]);
	assert.equal(p.status, 200, p.text);
	assert.ok(isErrorBody(p.json, 'wamp.error.not_authorized'), p.text);
	const ok = openSse(gwOpen, { topic: 'public.plans' });
	assert.equal((await ok.ready).status, 200);
	ok.close();
});

test('/info counts SSE clients and notices disconnects promptly', async () => {
	// Test that sse_clients rises by the streams opened and falls back within
	// 3 s of the clients hanging up, on a gateway whose heartbeat (15 s,
	// the default) is far off: idle hang-ups are seen without a write.
	const base = (await info(gwOpen)).sse_clients;
	const ss = [];
	for (let i = 0; i < 5; i++) ss.push(await openSseLive(gwOpen, { topic: `com.example.count${i}` }));
	let now;
	await waitFor(async () => (now = (await info(gwOpen)).sse_clients) === base + 5, 3000,
		() => `sse_clients == ${base + 5} (is ${now})`);
	for (const s of ss) s.close();
	await waitFor(async () => (now = (await info(gwOpen)).sse_clients) === base, 3000,
		() => `sse_clients back to ${base} within 3 s (is ${now})`);
});

test('EventSource client: onmessage gets every event with lastEventId', async () => {
	// Test the npm `eventsource` client (browser semantics): open fires,
	// onmessage sees events with data JSON and lastEventId = the id line.
	const c = openEventSource(gw, { topic: 'com.example.es' });
	try {
		await c.waitOpen();
		const published = [];
		for (let i = 0; i < 5; i++) {
			await publishOk(gw, 'com.example.es', [i], { emoji: '🎉' });
			published.push(i);
		}
		const ms = await c.waitMessages(5);
		assert.deepEqual(ms.map((m) => m.json.args[0]), published);
		for (const m of ms) {
			assert.equal(m.json.topic, 'com.example.es');
			assert.deepEqual(m.json.kwargs, { emoji: '🎉' });
			assert.match(m.lastEventId, /^\d+$/);
		}
		for (let i = 1; i < ms.length; i++) assert.ok(Number(ms[i].lastEventId) > Number(ms[i - 1].lastEventId));
	} finally {
		c.close();
	}
});

test('EventSource client: named events reach addEventListener, not onmessage', async () => {
	// Test that sse_event "order" is dispatched as type "order".
	const c = openEventSource(gw, { topic: 'com.example.esnamed' }, { names: ['order'] });
	try {
		await c.waitOpen();
		await publishOk(gw, 'com.example.esnamed', ['named'], undefined, { sse_event: 'order' });
		await publishOk(gw, 'com.example.esnamed', ['plain']);
		await waitFor(() => c.named.length === 1 && c.messages.length === 1, 5000, 'one named and one plain');
		assert.deepEqual(c.named[0].json.args, ['named']);
		assert.equal(c.named[0].type, 'order');
		assert.deepEqual(c.messages[0].json.args, ['plain']);
	} finally {
		c.close();
	}
});

test('EventSource client: a refused subscription fails without retrying', async () => {
	// Test that a 400 answer makes the client error and close (readyState 2).
	const c = openEventSource(gw, 'topic=a..b');
	try {
		await waitFor(() => c.errors.length > 0, 5000, 'an error event');
		assert.equal(c.errors[0].status, 400);
		await waitFor(() => c.es.readyState === 2, 2000, 'readyState CLOSED');
	} finally {
		c.close();
	}
});

test('streams with small and large request heads both work (two pool sizes)', async () => {
	// Test that an SSE request with a 3 KB Cookie header (too big for the
	// small per-stream pool, so served with connection_memory), one with a
	// short head, and one just under the small-pool limit all stream.
	const big = await openSseLive(gw, { topic: 'com.example.heads' }, { headers: { Cookie: 'c=' + 'x'.repeat(3000) } });
	const small = await openSseLive(gw, { topic: 'com.example.heads' });
	try {
		await publishOk(gw, 'com.example.heads', ['both']);
		await big.waitEvents(1);
		await small.waitEvents(1);
		assert.equal(big.events[0].json.args[0], 'both');
		assert.equal(small.events[0].json.args[0], 'both');
	} finally {
		big.close();
		small.close();
	}
	const edge = await openSseLive(gw, { topic: 'com.example.heads', lastEventId: '0' },
		{ headers: { 'X-Pad': 'p'.repeat(1100) } });
	try {
		await edge.waitEvents(1);
		assert.equal(edge.events[0].json.args[0], 'both');
	} finally {
		edge.close();
	}
});
