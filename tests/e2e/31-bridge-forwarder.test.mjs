// 31-bridge-forwarder: the MessageForwarder component against real local
// back ends: exact/prefix/wildcard subscriptions, the exact body and headers
// (X-Switchboard-Topic, X-Switchboard-Event-Id = the SSE id), events from
// /publish, WAMP and a webhook, expectedcode, ordered at-least-once delivery
// with the back end down for a while, across a SIGTERM restart and a kill -9,
// dead letters (table, log line, live meta event) after max_attempts, and
// /info's "forwarders" entries.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
	startGateway, stopClean, makeConfig, publishOk, openSseLive, info, waitFor, sleep, request,
} from './lib/gateway.mjs';
import { connectAutobahn } from './lib/wamp.mjs';
import {
	startBackend, messageForwarder, addContainer, sqliteRows,
} from './lib/backend.mjs';

const FAST = { retry_delay: 50, retry_max_delay: 200 };
const NAMED = ['fwd-match', 'fwd-shape', 'fwd-put', 'fwd-src', 'fwd-exp', 'fwd-2xx', 'fwd-down', 'fwd-dead',
	'fwd-tmo', 'fwd-info', 'fwd-cap', 'fwd-multi'];
let gw, be, be2, s;

function config() {
	const cfg = makeConfig({
		paths: { hook: { type: 'webhook', realm: 'realm1', role: 'anonymous', options: { topic: 'src.hook' } } },
	});
	return addContainer(cfg, [
		messageForwarder({
			id: 'fwd-match', ...FAST, subscriptions: [
				{ topic: 'm.exact', url: `${be.url}/m/exact` },
				{ topic: 'm.pre.', match: 'prefix', url: `${be.url}/m/prefix` },
				{ topic: 'm.pre.both', match: 'exact', url: `${be.url}/m/both` },
				{ topic: 'user..orders', match: 'wildcard', url: `${be.url}/m/wild` },
			],
		}),
		messageForwarder({ id: 'fwd-shape', ...FAST, subscriptions: [{ topic: 'shape.', match: 'prefix', url: `${be.url}/shape` }] }),
		messageForwarder({ id: 'fwd-put', ...FAST, method: 'PUT', subscriptions: [{ topic: 'put.t', url: `${be.url}/put` }] }),
		messageForwarder({
			id: 'fwd-src', ...FAST, subscriptions: [
				{ topic: 'src.', match: 'prefix', url: `${be.url}/src` },
				{ topic: 'wamp.session.on_join', url: `${be.url}/src` },
			],
		}),
		messageForwarder({ id: 'fwd-exp', ...FAST, expectedcode: 201, subscriptions: [{ topic: 'exp.t', url: `${be.url}/exp` }] }),
		messageForwarder({ id: 'fwd-2xx', ...FAST, subscriptions: [{ topic: 'any2xx.t', url: `${be.url}/any` }] }),
		messageForwarder({ id: 'fwd-down', ...FAST, max_attempts: 3, subscriptions: [{ topic: 'down.t', url: `${be2.url}/down` }] }),
		messageForwarder({
			id: 'fwd-dead', retry_delay: 50, retry_max_delay: 100, max_attempts: 3,
			subscriptions: [{ topic: 'dead.t', url: `${be.url}/dead` }],
		}),
		messageForwarder({
			id: 'fwd-tmo', retry_delay: 50, max_attempts: 2, timeout: 200,
			subscriptions: [{ topic: 'tmo.t', url: `${be.url}/tmo` }],
		}),
		messageForwarder({ id: 'fwd-info', ...FAST, subscriptions: [{ topic: 'info.t', url: `${be.url}/info` }] }),
		messageForwarder({
			id: 'fwd-cap', retry_delay: 20, retry_max_delay: 60, max_attempts: 0,
			subscriptions: [{ topic: 'cap.t', url: `${be.url}/cap` }],
		}),
		messageForwarder({
			id: 'fwd-multi', ...FAST, subscriptions: [
				{ topic: 'multi.t', url: `${be.url}/multi/a` },
				{ topic: 'multi.', match: 'prefix', url: `${be.url}/multi/b` },
			],
		}),
		messageForwarder({ ...FAST, subscriptions: [{ topic: 'noid.t', url: `${be.url}/noid` }] }),
	]);
}

before(async () => {
	be = await startBackend({ name: 'receiver' });
	be2 = await startBackend({ name: 'receiver-2' });
	gw = await startGateway({ config: config() });
	s = await connectAutobahn(gw);
});
after(async () => {
	if (s) await s.end();
	await stopClean(gw);
	await be.stop();
	await be2.stop();
});

const arg0 = (r) => (r.json && Array.isArray(r.json.args) ? r.json.args[0] : undefined);
const one = (r, name) => {
	const v = r.header(name);
	assert.equal(v.length, 1, `one ${name} header: ${JSON.stringify(r.rawHeaders)}`);
	return v[0];
};
const eventId = (r) => one(r, 'X-Switchboard-Event-Id');

/** The request at path carrying args[0] === value (waits for it). */
async function arrival(backend, pth, value, timeout = 5000) {
	const [r] = await backend.waitRequests(1, (q) => q.path === pth && arg0(q) === value, timeout);
	return r;
}

async function forwarderInfo(g, id) {
	const i = await info(g);
	assert.ok(Array.isArray(i.forwarders), `/info has "forwarders": ${JSON.stringify(i).slice(0, 400)}`);
	return i.forwarders.find((f) => f.id === id);
}

function assertIncreasing(ids, what) {
	for (let i = 1; i < ids.length; i++) {
		assert.ok(BigInt(ids[i]) > BigInt(ids[i - 1]), `${what}: ${ids[i - 1]} then ${ids[i]}`);
	}
}

test('exact, prefix and wildcard subscriptions; one request per matching subscription, in order', async () => {
	// Test m.exact (not m.exactly), prefix m.pre. (not m.prefix), an event
	// matching prefix and exact (two requests), wildcard user..orders
	// (user.12.orders, user.abc.orders; not users.12.orders, user.12.x.orders,
	// user.orders), then a marker: the requests arrive event by event.
	const plan = [['m.exact', 1], ['m.exactly', 2], ['m.pre.a', 3], ['m.pre.b.c', 4], ['m.prefix', 5],
		['m.pre.both', 6], ['user.12.orders', 7], ['users.12.orders', 8], ['user.12.x.orders', 9],
		['user.orders', 10], ['user.abc.orders', 11], ['m.exact', 'end']];
	for (const [t, v] of plan) await publishOk(gw, t, [v]);
	await arrival(be, '/m/exact', 'end');
	await sleep(100);   // nothing else is on its way
	const got = be.requests.filter((r) => r.path.startsWith('/m/')).map((r) => [arg0(r), r.path, one(r, 'X-Switchboard-Topic')]);
	const firstSix = got.findIndex((g) => g[0] === 6);
	assert.ok(firstSix >= 0, JSON.stringify(got));
	// event 6 matched two subscriptions: either order within the event
	const six = got.slice(firstSix, firstSix + 2).sort((a, b) => a[1].localeCompare(b[1]));
	assert.deepEqual([...got.slice(0, firstSix), ...six, ...got.slice(firstSix + 2)], [
		[1, '/m/exact', 'm.exact'], [3, '/m/prefix', 'm.pre.a'], [4, '/m/prefix', 'm.pre.b.c'],
		[6, '/m/both', 'm.pre.both'], [6, '/m/prefix', 'm.pre.both'],
		[7, '/m/wild', 'user.12.orders'], [11, '/m/wild', 'user.abc.orders'], ['end', '/m/exact', 'm.exact'],
	]);
});

test('the body is exactly {"args":[...],"kwargs":{...}}; Content-Type, method and the X-Switchboard headers', async () => {
	// Test five payload shapes (both, args only, kwargs only, none,
	// non-ASCII): POST, Content-Type application/json, compact body with both
	// keys, X-Switchboard-Topic the topic and X-Switchboard-Event-Id the id
	// an SSE client saw for the same event.
	const sse = await openSseLive(gw, { topic: 'shape.', match: 'prefix' });
	try {
		const plan = [
			['shape.a', [1, 'two', { three: 3 }, [null]], { k: 'v', n: null, list: [true, false], deep: { x: { y: -7 } } }],
			['shape.b', ['only args'], undefined],
			['shape.c', undefined, { only: 'kwargs' }],
			['shape.d', undefined, undefined],
			['shape.e', ['grüße ✓ "q" \\ / 日本'], { ключ: 'значение' }],
		];
		for (const [t, a, k] of plan) await publishOk(gw, t, a, k);
		const reqs = await be.waitRequests(5, '/shape');
		await sse.waitEvents(5);
		assert.equal(be.reqs('/shape').length, 5);
		reqs.forEach((r, i) => {
			const [topic, a, k] = plan[i];
			const want = { args: a || [], kwargs: k || {} };
			assert.equal(r.method, 'POST');
			assert.equal(one(r, 'Content-Type'), 'application/json');
			assert.equal(one(r, 'X-Switchboard-Topic'), topic);
			assert.equal(eventId(r), sse.events[i].id, `${topic}: event id = SSE id`);
			assert.deepEqual(JSON.parse(r.text), want, topic);
			if (i < 4) assert.equal(r.text, JSON.stringify(want), `${topic}: exact compact body`);
			assert.ok(Buffer.from(r.text, 'utf8').equals(r.body), `${topic}: body is UTF-8`);
		});
		assertIncreasing(reqs.map(eventId), 'event ids');
	} finally {
		sse.close();
	}
});

test('method from extra: PUT', async () => {
	// Test a forwarder configured with "method": "PUT".
	await publishOk(gw, 'put.t', ['via put']);
	const r = await arrival(be, '/put', 'via put');
	assert.equal(r.method, 'PUT');
	assert.equal(r.text, '{"args":["via put"],"kwargs":{}}');
});

test('events from /publish, a WAMP publisher and a webhook are forwarded; unstored ones are not', async () => {
	// Test the three sources in order; a WAMP publish with exclude or
	// eligible lists (never stored) and the meta event on_join of a new
	// session are not forwarded, although subscribed.
	const pub = await connectAutobahn(gw);   // its on_join must not be forwarded
	try {
		await publishOk(gw, 'src.http', ['http']);
		await pub.publish('src.wamp', ['wamp'], { k: 1 }, { acknowledge: true });
		const h = await request(gw, 'POST', '/hook', { headers: { 'Content-Type': 'text/plain' }, body: 'hook body' });
		assert.equal(h.status, 202, h.text);
		await pub.publish('src.excluded', ['excluded'], {}, { acknowledge: true, exclude: [s.id] });
		await pub.publish('src.eligible', ['eligible'], {}, { acknowledge: true, eligible: [s.id] });
		await publishOk(gw, 'src.marker', ['end']);
		await arrival(be, '/src', 'end');
		await sleep(100);
		const got = be.reqs('/src');
		assert.deepEqual(got.map((r) => one(r, 'X-Switchboard-Topic')), ['src.http', 'src.wamp', 'src.hook', 'src.marker']);
		assert.equal(got[1].text, '{"args":["wamp"],"kwargs":{"k":1}}');
		const hook = JSON.parse(got[2].text);
		assert.deepEqual(hook.kwargs, {});
		assert.equal(hook.args.length, 1);
		assert.equal(hook.args[0].body, 'hook body');
		assert.deepEqual(hook.args[0].headers['Content-Type'], ['text/plain']);
		assertIncreasing(got.map(eventId), 'event ids');
	} finally {
		await pub.end();
	}
});

test('expectedcode: any other status is a failure and the same event is retried, backing off', async () => {
	// Test expectedcode 201: the back end answers 200 twice then 201 for
	// event a; a is sent three times (gaps growing from retry_delay 50 ms),
	// and event b only after a succeeded.
	let n = 0;
	be.on('/exp', (r) => (arg0(r) === 'a' && n++ < 2 ? { status: 200, body: 'not what you expect' } : { status: 201 }));
	await publishOk(gw, 'exp.t', ['a']);
	await publishOk(gw, 'exp.t', ['b']);
	await arrival(be, '/exp', 'b');
	const got = be.reqs('/exp');
	assert.deepEqual(got.map(arg0), ['a', 'a', 'a', 'b']);
	assert.equal(new Set(got.slice(0, 3).map(eventId)).size, 1, 'the retries carry the same event id');
	const gap1 = got[1].t - got[0].t, gap2 = got[2].t - got[1].t;
	assert.ok(gap1 >= 40, `first retry after ${gap1} ms (retry_delay 50)`);
	assert.ok(gap2 >= 90, `second retry after ${gap2} ms (doubled: 100)`);
});

test('without expectedcode any 2xx is success; 4xx/5xx are retried', async () => {
	// Test 204 accepted at once; 500 then 200; 404 then 202.
	const seen = new Map();
	be.on('/any', (r) => {
		const v = arg0(r);
		const k = (seen.get(v) || 0) + 1;
		seen.set(v, k);
		if (v === 'ok204') return { status: 204 };
		if (v === 'fail500') return { status: k === 1 ? 500 : 200 };
		if (v === 'fail404') return { status: k === 1 ? 404 : 202 };
		return { status: 200 };
	});
	for (const v of ['ok204', 'fail500', 'fail404', 'end']) await publishOk(gw, 'any2xx.t', [v]);
	await arrival(be, '/any', 'end');
	assert.deepEqual(be.reqs('/any').map(arg0), ['ok204', 'fail500', 'fail500', 'fail404', 'fail404', 'end']);
});

test('back end down for a while, then up: every event delivered, in order, none lost, none dead-lettered', async () => {
	// Test 20 events published while the back end is stopped (for longer
	// than max_attempts 3 retries would take): they wait (refused does not
	// count towards dead letters), /info shows a backlog, and after the back
	// end restarts on the same port all arrive once each, in order.
	await publishOk(gw, 'down.t', [0]);
	await arrival(be2, '/down', 0);
	await be2.stop();
	for (let i = 1; i <= 20; i++) await publishOk(gw, 'down.t', [i]);
	await sleep(1000);     // down for a while: many refused attempts
	const during = await forwarderInfo(gw, 'fwd-down');
	assert.ok(during, '/info lists fwd-down');
	assert.ok(during.backlog > 0, `backlog while down: ${JSON.stringify(during)}`);
	assert.equal(during.dead_letters, 0, `nothing dead-lettered while refused: ${JSON.stringify(during)}`);
	assert.equal(be2.requests.length, 1);

	await be2.start();
	await arrival(be2, '/down', 20, 10000);
	await sleep(200);
	const got = be2.reqs('/down');
	assert.deepEqual(got.map(arg0), Array.from({ length: 21 }, (_, i) => i));
	assertIncreasing(got.map(eventId), 'event ids');
	const after = await waitFor(async () => {
		const f = await forwarderInfo(gw, 'fwd-down');
		return f.backlog === 0 && f;
	}, 5000, 'fwd-down backlog 0');
	assert.equal(String(after.cursor), eventId(got[20]), 'cursor = the last event handled');
	assert.equal(after.dead_letters, 0);
	assert.deepEqual(sqliteRows(gw.dbPath, 'SELECT * FROM dead_letters WHERE forwarder = ?', ['fwd-down']), []);
});

test('dead letter after max_attempts: table row, warning line, live event; the stream goes on', async () => {
	// Test max_attempts 3 against a back end that answers 500 for one event:
	// it is sent 3 times, written to dead_letters, logged once, published on
	// switchboard.forwarder.on_dead_letter (seen by an Autobahn|JS
	// subscriber), and the next event is delivered.
	be.on('/dead', (r) => (arg0(r) === 'poison' ? { status: 500, body: 'nope' } : { status: 200 }));
	const dl = [];
	const sub = await s.subscribe('switchboard.forwarder.on_dead_letter', (args, kwargs) => dl.push({ args, kwargs }));
	const logBefore = gw.log().length;
	const t0 = Date.now();
	await publishOk(gw, 'dead.t', ['ok1']);
	await publishOk(gw, 'dead.t', ['poison']);
	await publishOk(gw, 'dead.t', ['ok2']);
	await arrival(be, '/dead', 'ok2');
	const got = be.reqs('/dead');
	assert.deepEqual(got.map(arg0), ['ok1', 'poison', 'poison', 'poison', 'ok2']);
	const seq = eventId(got[1]);

	await waitFor(() => dl.length >= 1, 5000, 'the on_dead_letter event');
	await sleep(100);
	await s.unsubscribe(sub);
	const ev = dl.filter((d) => d.args[0] && d.args[0].forwarder === 'fwd-dead');
	assert.equal(ev.length, 1, JSON.stringify(dl));
	const a = ev[0].args[0];
	assert.deepEqual(Object.keys(a).sort(), ['attempts', 'error', 'forwarder', 'seq', 'status', 'topic', 'url']);
	assert.deepEqual([a.forwarder, a.topic, String(a.seq), a.url, a.attempts, a.status],
		['fwd-dead', 'dead.t', seq, `${be.url}/dead`, 3, 500]);
	assert.equal(typeof a.error, 'string');

	const rows = sqliteRows(gw.dbPath, 'SELECT * FROM dead_letters WHERE forwarder = ?', ['fwd-dead']);
	assert.equal(rows.length, 1, JSON.stringify(rows));
	const row = rows[0];
	assert.deepEqual([row.forwarder, String(row.seq), row.topic, row.url, row.attempts, row.status],
		['fwd-dead', seq, 'dead.t', `${be.url}/dead`, 3, 500]);
	assert.equal(typeof row.error, 'string');
	assert.ok(row.time_ms >= t0 - 1000 && row.time_ms <= Date.now() + 1000, `time_ms ${row.time_ms}`);

	const lines = gw.log().slice(logBefore).split('\n').filter((l) => /dead letter/i.test(l));
	assert.equal(lines.length, 1, `one "dead letter" log line: ${JSON.stringify(lines)}`);
	assert.match(lines[0], / warn /, 'a warning');

	const f = await forwarderInfo(gw, 'fwd-dead');
	assert.deepEqual([f.dead_letters, f.delivered, f.backlog, String(f.cursor)], [1, 2, 0, eventId(got[4])], JSON.stringify(f));
	assert.ok(f.failed_attempts >= 3, JSON.stringify(f));
});

test('timeouts count towards max_attempts: dead letter with status null', async () => {
	// Test timeout 200 ms, max_attempts 2 against a back end that never
	// answers one event: two attempts, a dead_letters row with status NULL,
	// the live event with status null; the next event is delivered.
	be.on('/tmo', (r) => (arg0(r) === 'slow' ? { hang: true } : { status: 200 }));
	const dl = [];
	const sub = await s.subscribe('switchboard.forwarder.on_dead_letter', (args) => dl.push(args[0]));
	await publishOk(gw, 'tmo.t', ['slow']);
	await publishOk(gw, 'tmo.t', ['after']);
	await arrival(be, '/tmo', 'after', 8000);
	assert.deepEqual(be.reqs('/tmo').map(arg0), ['slow', 'slow', 'after']);
	const rows = sqliteRows(gw.dbPath, 'SELECT * FROM dead_letters WHERE forwarder = ?', ['fwd-tmo']);
	assert.equal(rows.length, 1, JSON.stringify(rows));
	assert.deepEqual([rows[0].attempts, rows[0].status, rows[0].topic], [2, null, 'tmo.t']);
	await waitFor(() => dl.some((d) => d.forwarder === 'fwd-tmo'), 5000, 'the live dead-letter event');
	await s.unsubscribe(sub);
	const d = dl.find((x) => x.forwarder === 'fwd-tmo');
	assert.deepEqual([d.attempts, d.status, d.topic], [2, null, 'tmo.t']);
});

test('/info "forwarders": one entry per forwarder with its counters', async () => {
	// Test the entry fields and, for a forwarder that got exactly 3 events,
	// delivered 3, no failures, backlog 0, cursor = the third event's id.
	for (let i = 0; i < 3; i++) await publishOk(gw, 'info.t', [i]);
	await arrival(be, '/info', 2);
	const last = eventId(be.reqs('/info')[2]);
	const f = await waitFor(async () => {
		const x = await forwarderInfo(gw, 'fwd-info');
		return x && x.delivered === 3 && x;
	}, 5000, 'fwd-info delivered 3');
	assert.deepEqual(Object.keys(f).sort(), ['backlog', 'cursor', 'dead_letters', 'delivered', 'failed_attempts', 'id', 'realm']);
	assert.deepEqual([f.realm, f.delivered, f.failed_attempts, f.dead_letters, f.backlog, String(f.cursor)],
		['realm1', 3, 0, 0, 0, last]);
	const all = (await info(gw)).forwarders;
	assert.equal(all.length, NAMED.length + 1, JSON.stringify(all.map((x) => x.id)));
	for (const id of NAMED) {
		assert.ok(all.some((x) => x.id === id), `${id} listed`);
	}
	const noid = all.filter((x) => !x.id.startsWith('fwd-'));
	assert.equal(noid.length, 1);
	assert.ok(typeof noid[0].id === 'string' && noid[0].id.length > 0, 'a derived id for the forwarder without one');
	for (const x of all) assert.equal(x.realm, 'realm1');
});

test('each forwarder is a session with authid = its id, or forwarder-<N> without one', async () => {
	// Test wamp.session.get over every session: the named forwarders' ids
	// and exactly one forwarder-<N> (N: a number, or a hex name derived
	// from realm + subscriptions).
	const authids = [];
	for (const id of await s.call('wamp.session.list')) authids.push((await s.call('wamp.session.get', [id])).authid);
	for (const id of NAMED) assert.ok(authids.includes(id), `session ${id}: ${JSON.stringify(authids)}`);
	const derived = authids.filter((a) => /^forwarder-[0-9a-z]+$/.test(a));
	assert.equal(derived.length, 1, JSON.stringify(authids));
});

test('retry_max_delay caps the back-off; max_attempts 0 never dead-letters', async () => {
	// Test retry_delay 20 ms, cap 60 ms, max_attempts 0 against 14 failures
	// (more than the default 10) then success: 15 attempts, later gaps stay
	// near the cap, no dead letter, the next event follows.
	let n = 0;
	be.on('/cap', (r) => (arg0(r) === 'stubborn' && n++ < 14 ? { status: 503 } : { status: 200 }));
	await publishOk(gw, 'cap.t', ['stubborn']);
	await publishOk(gw, 'cap.t', ['next']);
	await arrival(be, '/cap', 'next', 8000);
	const got = be.reqs('/cap');
	assert.deepEqual(got.map(arg0), [...Array(15).fill('stubborn'), 'next']);
	const gaps = got.slice(1, 15).map((r, i) => r.t - got[i].t);
	assert.ok(gaps.slice(4).every((g) => g >= 45 && g < 300), `gaps after the cap ${JSON.stringify(gaps)}`);
	assert.deepEqual(sqliteRows(gw.dbPath, 'SELECT * FROM dead_letters WHERE forwarder = ?', ['fwd-cap']), []);
	const f = await forwarderInfo(gw, 'fwd-cap');
	assert.deepEqual([f.dead_letters, f.failed_attempts >= 14], [0, true], JSON.stringify(f));
});

test('an event matching two subscriptions: the next event waits until both succeeded', async () => {
	// Test e1 on multi.t (exact /multi/a and prefix /multi/b), /multi/b
	// failing twice for it: e2 is sent to either URL only after e1's
	// successful request to /multi/b.
	let n = 0;
	be.on('/multi/b', (r) => (arg0(r) === 'e1' && n++ < 2 ? { status: 500 } : { status: 200 }));
	await publishOk(gw, 'multi.t', ['e1']);
	await publishOk(gw, 'multi.t', ['e2']);
	await arrival(be, '/multi/a', 'e2');
	await arrival(be, '/multi/b', 'e2');
	const reqs = be.requests.filter((r) => r.path.startsWith('/multi/'));
	const e1b = reqs.filter((r) => r.path === '/multi/b' && arg0(r) === 'e1');
	assert.equal(e1b.length, 3, 'e1 to /multi/b: 2 failures and a success');
	assert.ok(reqs.some((r) => r.path === '/multi/a' && arg0(r) === 'e1'), 'e1 reached /multi/a');
	const lastE1 = reqs.lastIndexOf(e1b[2]);
	const firstE2 = reqs.findIndex((r) => arg0(r) === 'e2');
	assert.ok(firstE2 > lastE1, `e2 sent after e1 succeeded everywhere: ${JSON.stringify(reqs.map((r) => [r.path, arg0(r)]))}`);
	assert.ok(reqs.slice(lastE1 + 1).every((r) => arg0(r) === 'e2'), 'no e1 after its success');
});

// ---- restarts ----------------------------------------------------------------

test('SIGTERM restart while the back end is down: resumes after the cursor, nothing lost or repeated; a new forwarder starts at now', { timeout: 60000 }, async () => {
	// Test: event 0 delivered; back end stops; 1..10 published; gateway
	// SIGTERM (exit 0) and restart on the same db, with a new forwarder
	// added to the config; 11..15 published; back end up: 1..15 arrive once
	// each in order (0 not again). The new forwarder gets only what was
	// published after it started, not the older events of its topic.
	const rb = await startBackend({ name: 'restart-receiver' });
	const fwd = messageForwarder({ id: 'fwd-restart', ...FAST, max_attempts: 3, subscriptions: [{ topic: 'rs.t', url: `${rb.url}/rs` }] });
	const late = messageForwarder({ id: 'fwd-late', ...FAST, subscriptions: [{ topic: 'late.t', url: `${rb.url}/late` }] });
	const g = await startGateway({ config: addContainer(makeConfig(), [fwd]) });
	try {
		await publishOk(g, 'rs.t', [0]);
		await arrival(rb, '/rs', 0);
		await publishOk(g, 'late.t', ['old1']);
		await publishOk(g, 'late.t', ['old2']);
		await rb.stop();
		for (let i = 1; i <= 10; i++) await publishOk(g, 'rs.t', [i]);
		const r = await g.stop();
		assert.deepEqual(r, { code: 0, signal: null }, 'SIGTERM exits 0');
		fs.writeFileSync(g.configPath, JSON.stringify(addContainer(makeConfig(), [fwd, late]), null, 2));
		await g.launch();
		for (let i = 11; i <= 15; i++) await publishOk(g, 'rs.t', [i]);
		await publishOk(g, 'late.t', ['new1']);
		await rb.start();
		await arrival(rb, '/rs', 15, 10000);
		await arrival(rb, '/late', 'new1');
		await sleep(200);
		const got = rb.reqs('/rs');
		assert.deepEqual(got.map(arg0), Array.from({ length: 16 }, (_, i) => i));
		assertIncreasing(got.map(eventId), 'event ids');
		assert.deepEqual(rb.reqs('/late').map(arg0), ['new1']);
		const f = await forwarderInfo(g, 'fwd-restart');
		assert.equal(String(f.cursor), eventId(got[15]));
	} finally {
		await stopClean(g);
		await rb.stop();
	}
});

test('kill -9 mid-stream: after restart nothing is missing; only the last few events before the kill may repeat', { timeout: 60000 }, async () => {
	// Test 150 events stored while the back end is down, then delivered one
	// by one (5 ms each) once it is up; SIGKILL after about 40 arrived;
	// restart on the same db: the stream resumes at the last event received
	// before the kill (it was in flight) or the one after it, and goes on to
	// 149 in order; no event is missing.  The cursor is written with the next
	// history commit, not before the next event goes out, so an event
	// answered 200 just before the kill may come again (at-least-once): at
	// 5 ms per event, at most a few.
	const kb = await startBackend({ name: 'crash-receiver' });
	kb.on('/crash', { delay: 5, status: 200 });
	const g = await startGateway({
		config: addContainer(makeConfig(), [messageForwarder({ id: 'fwd-crash', ...FAST, subscriptions: [{ topic: 'crash.t', url: `${kb.url}/crash` }] })]),
	});
	try {
		await kb.stop();
		for (let i = 0; i < 150; i++) await publishOk(g, 'crash.t', [i]);
		await kb.start();
		await kb.waitRequests(40, '/crash', 20000);
		const r = await g.kill9();
		assert.equal(r.signal, 'SIGKILL');
		await sleep(100);   // a request already in the back end's socket buffer is read now
		const before = kb.reqs('/crash').map(arg0);
		assert.ok(before.length < 150, `the kill came before the end (${before.length} delivered)`);
		assert.deepEqual(before, Array.from({ length: before.length }, (_, i) => i), 'in order before the kill');
		const k = before[before.length - 1];

		await g.launch();
		await arrival(kb, '/crash', 149, 20000);
		await sleep(200);
		const afterRestart = kb.reqs('/crash').slice(before.length).map(arg0);
		assert.deepEqual(afterRestart, Array.from({ length: 150 - afterRestart[0] }, (_, i) => afterRestart[0] + i),
			'consecutive to the end, once each');
		assert.ok(afterRestart[0] <= k + 1, `nothing missing: resumed at ${afterRestart[0]}, last received ${k}`);
		assert.ok(afterRestart[0] >= k - 4,
			`only the last few events repeat: resumed at ${afterRestart[0]}, but ${afterRestart[0]}..${k - 1} had been ` +
			'delivered (answered 200) before the kill');
		const ids = new Map();
		for (const q of kb.reqs('/crash')) {
			const id = eventId(q);
			if (ids.has(arg0(q))) assert.equal(ids.get(arg0(q)), id, 'a repeat carries the same event id');
			ids.set(arg0(q), id);
		}
	} finally {
		if (g.proc.exitCode === null && g.proc.signalCode === null) await stopClean(g);
		await kb.stop();
	}
});

test('far behind on a busy realm: the forwarder reads history in steps and finds its events among 25,000 others', { timeout: 60000 }, async () => {
	// Test a forwarder whose back end was down while 25,000 events on other
	// topics and 3 of its own were stored: when the back end is up it scans
	// more than eight history reads' worth (2,048 rows each) across loop
	// turns, delivers its 3 events in order, and the gateway answers other
	// requests meanwhile; its cursor ends at the last one.
	const bb = await startBackend({ name: 'busy-receiver' });
	const g = await startGateway({
		config: addContainer(makeConfig(), [messageForwarder({ id: 'fwd-busy', ...FAST, subscriptions: [{ topic: 'busy.mine', url: `${bb.url}/mine` }] })]),
	});
	try {
		await bb.stop();
		await publishOk(g, 'busy.mine', ['first']);
		for (let batch = 0; batch < 250; batch++) {
			await Promise.all(Array.from({ length: 100 }, (_, i) => publishOk(g, 'busy.other', [batch * 100 + i])));
			if (batch === 120) await publishOk(g, 'busy.mine', ['middle']);
		}
		await publishOk(g, 'busy.mine', ['last']);
		await bb.start();
		const health = await request(g, 'GET', '/healthz');
		assert.equal(health.status, 200);
		await arrival(bb, '/mine', 'last', 20000);
		assert.deepEqual(bb.reqs('/mine').map(arg0), ['first', 'middle', 'last']);
		const f = await forwarderInfo(g, 'fwd-busy');
		assert.equal(String(f.cursor), eventId(bb.reqs('/mine')[2]));
	} finally {
		await stopClean(g);
		await bb.stop();
	}
});

test('/metrics: one line per forwarder for each counter, the id escaped as a label value', async () => {
	// Test a forwarder whose id holds a quote and a backslash: after one
	// delivered event its lines read delivered 1, backlog 0, dead letters 0,
	// and the label is escaped so Prometheus can parse it.
	const mb = await startBackend({ name: 'metrics-receiver' });
	const id = 'odd "id" \\ here';
	const g = await startGateway({
		config: addContainer(makeConfig(), [messageForwarder({ id, ...FAST, subscriptions: [{ topic: 'metrics.t', url: `${mb.url}/m` }] })]),
	});
	try {
		await publishOk(g, 'metrics.t', ['x']);
		await arrival(mb, '/m', 'x');
		const label = 'forwarder="odd \\"id\\" \\\\ here"';
		const text = await waitFor(async () => {
			const r = await request(g, 'GET', '/metrics');
			return r.text.includes(`switchboard_forwarder_delivered_total{${label}} 1`) && r.text;
		}, 5000, 'the delivered counter in /metrics');
		assert.ok(text.includes(`switchboard_forwarder_backlog{${label}} 0`), text);
		assert.ok(text.includes(`switchboard_forwarder_dead_letters_total{${label}} 0`), text);
		assert.ok(text.includes('# TYPE switchboard_forwarder_delivered_total counter'), text);
	} finally {
		await stopClean(g);
		await mb.stop();
	}
});
