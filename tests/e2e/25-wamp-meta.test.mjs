// 25-wamp-meta: the meta API the router answers itself:
// wamp.session.on_join / on_leave events (delivered at once, never stored or
// sent to SSE), wamp.session.count / list / get, over Autobahn|JS and
// POST /call, and wamp.subscription.get_events from the SQLite history.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	startGateway, stopClean, makeConfig, waitFor, postJson, openSseLive,
} from './lib/gateway.mjs';
import { connectAutobahn, settle } from './lib/wamp.mjs';

let gw;

function config() {
	const cfg = makeConfig({
		paths: {
			guest: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'guest' } } },
			reader: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'reader' } } },
		},
	});
	cfg.workers[0].realms[0].roles.push({
		name: 'guest',
		permissions: [{ uri: '', match: 'prefix', allow: { call: true, subscribe: true } }],
	}, {
		name: 'reader',
		permissions: [
			{ uri: '', match: 'prefix', allow: { call: true, subscribe: true } },
			{ uri: 'com.example.secret.', match: 'prefix', allow: { call: true } },
		],
	});
	return cfg;
}

before(async () => { gw = await startGateway({ config: config() }); });
after(async () => { await stopClean(gw); });

const SESSION_KEYS = ['authid', 'authmethod', 'authprovider', 'authrole', 'realm', 'session', 'transport'];

test('on_join carries the new session\'s details; on_leave its id, authid and authrole', async () => {
	// Test that a watcher sees a guest join with its WELCOME facts and leave
	// with [id, authid, authrole], and never sees its own join.
	const watcher = await connectAutobahn(gw);
	const joins = [], leaves = [];
	await watcher.subscribe('wamp.session.on_join', (args) => joins.push(args[0]));
	await watcher.subscribe('wamp.session.on_leave', (args) => leaves.push(args));

	const guest = await connectAutobahn(gw, { path: '/guest' });
	await waitFor(() => joins.some((j) => j.session === guest.id), 5000, 'on_join of the guest');
	const join = joins.find((j) => j.session === guest.id);
	assert.deepEqual(Object.keys(join).sort(), SESSION_KEYS);
	assert.equal(join.realm, 'realm1');
	assert.equal(join.authid, guest.welcome.authid);
	assert.equal(join.authrole, 'guest');
	assert.equal(join.authmethod, 'anonymous');
	assert.equal(join.authprovider, 'static');
	assert.equal(join.transport.type, 'websocket');
	assert.match(join.transport.peer, /^127\.0\.0\.1:\d+$/);
	assert.ok(!joins.some((j) => j.session === watcher.id), 'no on_join for a session before it subscribed');

	const { id, welcome } = guest;
	await guest.end();
	await waitFor(() => leaves.length === 1, 5000, 'on_leave of the guest');
	assert.deepEqual(leaves[0], [id, welcome.authid, 'guest']);
	await watcher.end();
});

test('a subscriber sees its own on_join never, a session joining later always', async () => {
	// Test that on_join is delivered at once: a client subscribing right after
	// WELCOME does not get its own join, and gets the next session's.
	const a = await connectAutobahn(gw);
	const seen = [];
	await a.subscribe('wamp.session.on_join', (args) => seen.push(args[0].session));
	const b = await connectAutobahn(gw);
	await waitFor(() => seen.includes(b.id), 5000, 'on_join of b');
	assert.deepEqual(seen, [b.id]);
	await b.end();
	await a.end();
});

test('count, list and get, with and without an authrole filter', async () => {
	// Test that count/list see exactly the realm's sessions, filtered by
	// authrole, get returns one session's details, and errors are WAMP errors.
	const a = await connectAutobahn(gw);
	const g1 = await connectAutobahn(gw, { path: '/guest' });
	const g2 = await connectAutobahn(gw, { path: '/guest' });

	const all = await a.call('wamp.session.list');
	for (const s of [a, g1, g2]) assert.ok(all.includes(s.id), `list has ${s.id}`);
	assert.equal(await a.call('wamp.session.count'), all.length);
	assert.deepEqual((await a.call('wamp.session.list', [['guest']])).sort(), [g1.id, g2.id].sort());
	assert.equal(await a.call('wamp.session.count', [['guest']]), 2);
	assert.equal(await a.call('wamp.session.count', [['nobody']]), 0);

	const d = await g1.call('wamp.session.get', [g2.id]);
	assert.equal(d.session, g2.id);
	assert.equal(d.authid, g2.welcome.authid);
	assert.equal(d.authrole, 'guest');

	const missing = await settle(a.call('wamp.session.get', [12345]));
	assert.equal(missing.ok, false);
	assert.equal(missing.error, 'wamp.error.no_such_session');
	const bad = await settle(a.call('wamp.session.count', ['guest']));
	assert.equal(bad.error, 'wamp.error.invalid_argument');

	await g2.end();
	await waitFor(async () => !(await a.call('wamp.session.list')).includes(g2.id), 5000,
		'g2 gone from the list');
	await g1.end();
	await a.end();
});

test('POST /call reaches the meta procedures as the HTTP caller session', async () => {
	// Test that the HTTP caller can use the meta procedures like any session.
	const a = await connectAutobahn(gw);
	const r = await postJson(gw, '/call', { procedure: 'wamp.session.get', args: [a.id] });
	assert.equal(r.status, 200);
	assert.equal(r.json.args[0].session, a.id);
	assert.equal(r.json.args[0].authid, a.welcome.authid);
	const list = await postJson(gw, '/call', { procedure: 'wamp.session.list' });
	assert.ok(list.json.args[0].includes(a.id));
	await a.end();
});

test('meta events are neither stored nor sent to SSE clients', async () => {
	// Test that meta events stay WAMP-only. One stream on both the meta topics and a sentinel topic: per-stream
	// order means a meta event sent to SSE would arrive before the sentinel.
	const query = { topic: ['wamp.session.on_join', 'wamp.session.on_leave', 'com.example.meta.sentinel'] };
	const sse = await openSseLive(gw, query);
	const s = await connectAutobahn(gw);
	const id = s.id;
	await s.end();
	await waitFor(async () => !(await postJson(gw, '/call', { procedure: 'wamp.session.list' }))
		.json.args[0].includes(id), 5000, 'the session to have left');
	const r = await postJson(gw, '/publish', { topic: 'com.example.meta.sentinel', args: ['after'] });
	assert.equal(r.status, 200);
	await sse.waitEvents(1);
	assert.deepEqual(sse.events.map((e) => e.json.topic), ['com.example.meta.sentinel']);
	sse.close();

	// A replay of the same topics from the start finds only the sentinel.
	const replay = await openSseLive(gw, { ...query, lastEventId: 0 });
	await replay.waitEvents(1);
	assert.deepEqual(replay.events.map((e) => e.json.topic), ['com.example.meta.sentinel']);
	replay.close();
});

test('wamp.subscription.get_events: newest first from history, limit, patterns, across a restart', async () => {
	// Test that a WAMP client can fetch what a subscription missed from the
	// SQLite history: newest first with Crossbar's item shape (plus seq),
	// limit honoured, a prefix subscription sees every matching topic,
	// targeted (eligible) events are not there, and after a gateway restart
	// the events published before it are still there.
	const g = await startGateway({ config: config() });
	try {
		let s = await connectAutobahn(g);
		const exact = await s.subscribe('com.example.hist.a', () => {});
		for (let i = 1; i <= 4; i++) {
			await s.publish('com.example.hist.a', [i], { i }, { acknowledge: true });
			await s.publish('com.example.hist.b', [i * 10], {}, { acknowledge: true });
		}
		await s.publish('com.example.hist.a', ['private'], {}, { acknowledge: true, eligible: [s.id] });

		const three = await s.call('wamp.subscription.get_events', [exact.id], { limit: 3 });
		assert.deepEqual(three.map((e) => e.args), [[4], [3], [2]]);
		assert.deepEqual(three.map((e) => e.kwargs), [{ i: 4 }, { i: 3 }, { i: 2 }]);
		const e = three[0];
		assert.deepEqual(Object.keys(e).sort(), ['args', 'kwargs', 'publication', 'realm', 'seq', 'time_ns', 'topic']);
		assert.equal(e.topic, 'com.example.hist.a');
		assert.equal(e.realm, 'realm1');
		assert.ok(three[0].seq > three[1].seq && three[1].seq > three[2].seq, 'newest first by seq');
		assert.ok(Math.abs(e.time_ns / 1e6 - Date.now()) < 60000, `time_ns is now-ish: ${e.time_ns}`);

		const prefix = await s.subscribe('com.example.hist.', () => {}, { match: 'prefix' });
		const all = await s.call('wamp.subscription.get_events', [prefix.id], { limit: 100 });
		assert.deepEqual(all.map((x) => x.args[0]), [40, 4, 30, 3, 20, 2, 10, 1]);

		const missing = await settle(s.call('wamp.subscription.get_events', [424242]));
		assert.equal(missing.error, 'wamp.error.no_such_subscription');
		const bad = await settle(s.call('wamp.subscription.get_events', [exact.id], { limit: 0 }));
		assert.equal(bad.error, 'wamp.error.invalid_argument');
		await s.end();

		await g.restart();
		s = await connectAutobahn(g);
		const again = await s.subscribe('com.example.hist.a', () => {});
		const after = await s.call('wamp.subscription.get_events', [again.id]);
		assert.deepEqual(after.map((x) => x.args[0]), [4, 3, 2, 1]);
		await s.end();
	} finally {
		await stopClean(g);
	}
});

test('get_events needs permission to subscribe to the subscription\'s topic', async () => {
	// Test that history never leaks past permissions: a guest-only role that
	// may call but not subscribe under com.example.secret gets not_authorized
	// for a subscription another session made there.
	const owner = await connectAutobahn(gw);
	const sub = await owner.subscribe('com.example.secret.x', () => {});
	await owner.publish('com.example.secret.x', ['hidden'], {}, { acknowledge: true });
	const reader = await connectAutobahn(gw, { path: '/reader' });
	const r = await settle(reader.call('wamp.subscription.get_events', [sub.id]));
	assert.equal(r.ok, false);
	assert.equal(r.error, 'wamp.error.not_authorized');
	assert.ok(!JSON.stringify(r).includes('hidden'));
	const mine = await owner.call('wamp.subscription.get_events', [sub.id]);
	assert.deepEqual(mine.map((x) => x.args), [['hidden']]);
	await reader.end();
	await owner.end();
});
