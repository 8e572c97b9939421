// 06-history-restart: SSE resume from history — Last-Event-ID header and
// query forms, precedence, unknown/expired cursors, replay across a restart
// and a kill -9, and gap-free hand-off from replay to live under a storm.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	startGateway, stopClean, makeConfig, publish, publishOk, openSse, openSseLive,
	openEventSource, info, waitFor, sleep,
} from './lib/gateway.mjs';

const RETENTION = [
	{ uri: 'ret.', match: 'prefix', max_events: 5, max_age: 86400 },
	{ uri: '', match: 'prefix', max_events: 100000, max_age: 86400 },
];
let gw;

before(async () => {
	gw = await startGateway({
		config: makeConfig({ sse: { retry: 1000 }, history: { retention: RETENTION } }),
	});
});
after(async () => { await stopClean(gw); });

// Publish n events [start..start+n) on topic and return the ids a live
// reference stream saw for them.
async function seed(topic, n, start = 0) {
	const ref = await openSseLive(gw, { topic });
	try {
		for (let i = start; i < start + n; i++) await publishOk(gw, topic, [i]);
		const evs = await ref.waitEvents(n);
		assert.deepEqual(evs.map((e) => e.json.args[0]), Array.from({ length: n }, (_, i) => start + i));
		return evs.map((e) => e.id);
	} finally {
		ref.close();
	}
}

const argsOf = (evs) => evs.map((e) => e.json.args[0]);

function assertIncreasing(ids, what = 'ids') {
	for (let i = 1; i < ids.length; i++) {
		assert.ok(BigInt(ids[i]) > BigInt(ids[i - 1]), `${what} not strictly increasing at ${i}: ${ids[i - 1]} then ${ids[i]}`);
	}
}

test('Last-Event-ID header replays what was missed, then live, no duplicate', async () => {
	// Test that a reconnect with Last-Event-ID: <id of event 2> first gets
	// events 3..8 from history in order, then the next live one, once each.
	const ids = await seed('hist.hdr', 8);
	const s = await openSseLive(gw, { topic: 'hist.hdr' }, { headers: { 'Last-Event-ID': ids[1] } });
	try {
		await s.waitEvents(6);
		assert.deepEqual(argsOf(s.events), [2, 3, 4, 5, 6, 7]);
		assert.deepEqual(s.events.map((e) => e.id), ids.slice(2));
		await publishOk(gw, 'hist.hdr', [8]);
		await s.waitEvents(7);
		await sleep(200);
		assert.deepEqual(argsOf(s.events), [2, 3, 4, 5, 6, 7, 8]);
		assertIncreasing(s.events.map((e) => e.id));
		assert.ok(!s.comments.some((c) => /unknown|expired/.test(c)), `no warning comment: ${s.comments}`);
	} finally {
		s.close();
	}
});

test('the lastEventId query parameter (and its aliases) replays the same way', async () => {
	// Test lastEventId, last_event_id and lastEventID query forms.
	const ids = await seed('hist.query', 5);
	for (const name of ['lastEventId', 'last_event_id', 'lastEventID']) {
		const s = await openSseLive(gw, { topic: 'hist.query', [name]: ids[2] });
		try {
			await s.waitEvents(2);
			await sleep(150);
			assert.deepEqual(argsOf(s.events), [3, 4], `${name}`);
		} finally {
			s.close();
		}
	}
});

test('the Last-Event-ID header wins over the query parameter', async () => {
	// Test that a browser reconnect (original URL with ?lastEventId=<old>,
	// header with the newer id) resumes from the header's id.
	const ids = await seed('hist.prec', 8);
	const s = await openSseLive(gw, { topic: 'hist.prec', lastEventId: ids[0] },
		{ headers: { 'Last-Event-ID': ids[5] } });
	try {
		await s.waitEvents(2);
		await sleep(200);
		assert.deepEqual(argsOf(s.events), [6, 7]);
	} finally {
		s.close();
	}
});

test('no cursor means live only', async () => {
	// Test that a stream without Last-Event-ID replays nothing.
	await seed('hist.live', 3);
	const s = await openSseLive(gw, { topic: 'hist.live' });
	try {
		await publishOk(gw, 'hist.live', ['new']);
		await s.waitEvents(1);
		await sleep(200);
		assert.deepEqual(argsOf(s.events), ['new']);
	} finally {
		s.close();
	}
});

test('replay covers exactly the subscribed topics, in global order', async () => {
	// Test that a multi-topic resume interleaves both topics by sequence and
	// leaves out the third.
	const ref = await openSseLive(gw, { topic: ['hist.mA', 'hist.mB', 'hist.mC'] });
	try {
		const plan = [['hist.mA', 0], ['hist.mB', 1], ['hist.mC', 2], ['hist.mA', 3], ['hist.mB', 4], ['hist.mC', 5]];
		for (const [t, i] of plan) await publishOk(gw, t, [i]);
		const evs = await ref.waitEvents(6);
		const s = await openSseLive(gw, { topic: ['hist.mA', 'hist.mB'], lastEventId: evs[0].id });
		try {
			await s.waitEvents(3);
			await sleep(200);
			assert.deepEqual(s.events.map((e) => [e.json.topic, e.json.args[0]]),
				[['hist.mB', 1], ['hist.mA', 3], ['hist.mB', 4]]);
		} finally {
			s.close();
		}
		// prefix resume too
		const p = await openSseLive(gw, { topic: 'hist.m', match: 'prefix', lastEventId: evs[2].id });
		try {
			await p.waitEvents(3);
			assert.deepEqual(argsOf(p.events), [3, 4, 5]);
		} finally {
			p.close();
		}
	} finally {
		ref.close();
	}
});

test('an unknown id says "unknown" in a comment and replays all history held', async () => {
	// Test that a non-numeric id and an id beyond anything stored are not
	// errors: a comment with the word `unknown`, then everything held.
	await seed('hist.unknown', 3);
	for (const [how, id] of [['query', 'abc'], ['header', 'not-a-number'], ['query', '999999999999999']]) {
		const s = how === 'query'
			? await openSseLive(gw, { topic: 'hist.unknown', lastEventId: id })
			: await openSseLive(gw, { topic: 'hist.unknown' }, { headers: { 'Last-Event-ID': id } });
		try {
			assert.equal(s.status, 200);
			await s.waitEvents(3);
			await sleep(150);
			assert.ok(s.comments.some((c) => /unknown/i.test(c)), `${how} ${id}: comments ${JSON.stringify(s.comments)}`);
			assert.deepEqual(argsOf(s.events), [0, 1, 2], `${how} ${id}`);
			// the comment comes before the replayed events
			const raw = s.rawText();
			assert.ok(raw.search(/\n:[^\n]*unknown/i) < raw.indexOf('\ndata:'), 'comment before replay');
		} finally {
			s.close();
		}
	}
});

test('an id older than retention kept says "expired" and replays what is held', async () => {
	// Test with a retention rule max_events 5 on ret.*: after 20 events a
	// resume from the first one gets a comment with `expired`, then the 5 held.
	const ids = await seed('ret.topic', 20);
	// Retention may prune at insert or in a periodic pass: allow 5 s.
	await waitFor(async () => {
		const s = await openSseLive(gw, { topic: 'ret.topic', lastEventId: ids[0] });
		await sleep(300);
		s.close();
		return s.events.length <= 5 && s.events.length > 0;
	}, 6000, 'retention max_events=5 to be applied to ret.topic');
	const s = await openSseLive(gw, { topic: 'ret.topic', lastEventId: ids[0] });
	try {
		await s.waitEvents(5);
		await sleep(200);
		assert.ok(s.comments.some((c) => /expired/i.test(c)), `comments ${JSON.stringify(s.comments)}`);
		assert.deepEqual(argsOf(s.events), [15, 16, 17, 18, 19]);
		await publishOk(gw, 'ret.topic', [20]);
		await s.waitEvents(6);
		assert.equal(s.events[5].json.args[0], 20);
	} finally {
		s.close();
	}
});

test('replay works across a gateway restart and ids keep increasing', async () => {
	// Test that after SIGTERM + start on the same db a resume replays the
	// stored events, and new events get ids above the old ones.
	const ids = await seed('hist.restart', 5);
	const r = await gw.stop();
	assert.deepEqual(r, { code: 0, signal: null }, 'SIGTERM exits 0');
	await gw.launch();
	const s = await openSseLive(gw, { topic: 'hist.restart' }, { headers: { 'Last-Event-ID': ids[1] } });
	try {
		await s.waitEvents(3);
		assert.deepEqual(argsOf(s.events), [2, 3, 4]);
		assert.deepEqual(s.events.map((e) => e.id), ids.slice(2));
		await publishOk(gw, 'hist.restart', [5]);
		await s.waitEvents(4);
		assert.ok(BigInt(s.events[3].id) > BigInt(ids[4]), `new id ${s.events[3].id} > old ${ids[4]}`);
		await sleep(200);
		assert.deepEqual(argsOf(s.events), [2, 3, 4, 5]);
	} finally {
		s.close();
	}
});

test('an EventSource client reconnects after a restart and misses nothing', async () => {
	// Test the browser flow: the stream ends at shutdown, the client retries
	// after `retry` ms with Last-Event-ID, and gets the events published
	// while it was away, then live ones, each exactly once.
	const c = openEventSource(gw, { topic: 'hist.es' });
	try {
		await c.waitOpen();
		for (let i = 0; i < 3; i++) await publishOk(gw, 'hist.es', [i]);
		await c.waitMessages(3);
		const r = await gw.stop();
		assert.equal(r.code, 0);
		await gw.launch();
		// Published before the client's reconnect (retry is 1000 ms) -> replay.
		for (let i = 3; i < 6; i++) await publishOk(gw, 'hist.es', [i]);
		await waitFor(() => c.opens >= 2, 10000, 'the EventSource to reconnect');
		await c.waitMessages(6, 5000);
		await publishOk(gw, 'hist.es', [6]);
		await c.waitMessages(7);
		await sleep(200);
		assert.deepEqual(c.messages.map((m) => m.json.args[0]), [0, 1, 2, 3, 4, 5, 6]);
		const ids = c.messages.map((m) => m.lastEventId);
		assertIncreasing(ids, 'lastEventId');
	} finally {
		c.close();
	}
});

test('resuming during a publish storm: no gap, no duplicate, one order', { timeout: 60000 }, async () => {
	// Test that clients connecting with Last-Event-ID while 4 publishers post
	// concurrently each see, per topic, strictly consecutive counters from
	// their cursor on, exactly the acknowledged publishes, ids increasing.
	const P = 4, N = 250;
	const topics = Array.from({ length: P }, (_, p) => `storm.t${p}`);
	const ref = await openSseLive(gw, { topic: 'storm.', match: 'prefix' }, { keepRaw: false });
	const acked = topics.map(() => []);
	let ackedTotal = 0;
	const publishers = topics.map(async (t, p) => {
		for (let k = 1; k <= N; k++) {
			const r = await publish(gw, t, [p, k]);
			assert.equal(r.status, 200, r.text);
			acked[p].push(k);
			ackedTotal++;
		}
	});
	const clients = [];
	const launcher = (async () => {
		for (let i = 0; i < 10; i++) {
			await waitFor(() => ackedTotal >= (i + 1) * (P * N) / 12, 30000, `storm progress ${i}`);
			const back = ref.events[Math.max(0, ref.events.length - 1 - 25 * (i % 4))];
			const cursor = back ? back.id : '0';
			const set = [topics, [topics[0], topics[2]], 'prefix', [topics[1]]][i % 4];
			const q = set === 'prefix' ? { topic: 'storm.', match: 'prefix' } : { topic: set };
			const useHeader = i % 2 === 0;
			const s = openSse(gw, useHeader ? q : Object.assign({ lastEventId: cursor }, q),
				{ headers: useHeader ? { 'Last-Event-ID': cursor } : {}, keepRaw: false });
			clients.push({ s, cursor, topics: set === 'prefix' ? topics : set, name: `client${i} (${useHeader ? 'header' : 'query'})` });
			await sleep(20);
		}
	})();
	await Promise.all(publishers);
	await launcher;

	// The reference stream saw every acknowledged publish exactly once.
	await ref.waitEvents(P * N, 20000);
	await sleep(300);
	ref.close();
	assert.equal(ref.events.length, P * N, 'reference stream: no duplicates');
	assertIncreasing(ref.events.map((e) => e.id), 'reference ids');
	for (let p = 0; p < P; p++) {
		const ks = ref.events.filter((e) => e.json.topic === topics[p]).map((e) => e.json.args[1]);
		assert.deepEqual(ks, acked[p], `reference: ${topics[p]} counters`);
	}

	for (const c of clients) {
		assert.equal((await c.s.ready).status, 200, c.name);
		const want = ref.events.filter((e) => BigInt(e.id) > BigInt(c.cursor) && c.topics.includes(e.json.topic));
		await c.s.waitEvents(want.length, 20000);
		await sleep(100);
		c.s.close();
		const got = c.s.events;
		for (const t of c.topics) {
			const ks = got.filter((e) => e.json.topic === t).map((e) => e.json.args[1]);
			for (let i = 1; i < ks.length; i++) {
				assert.equal(ks[i], ks[i - 1] + 1, `${c.name}: ${t} counters not consecutive at ${i}: ${ks[i - 1]} then ${ks[i]}`);
			}
			if (ks.length) assert.equal(ks[ks.length - 1], N, `${c.name}: ${t} ends at the last acknowledged counter`);
		}
		assertIncreasing(got.map((e) => e.id), `${c.name} ids`);
		assert.deepEqual(got.map((e) => e.id), want.map((e) => e.id),
			`${c.name} from cursor ${c.cursor}: exactly the stored events after it`);
	}
});

test('kill -9 during a publish storm loses no acknowledged event', { timeout: 60000 }, async () => {
	// Test that every publish answered 200 before SIGKILL is in history after
	// a restart on the same db and replays (lastEventId=0), once, in order;
	// at most the one in-flight publish per publisher may also be there.
	const g = await startGateway({ config: makeConfig({ history: { retention: RETENTION } }) });
	const P = 4;
	const topics = Array.from({ length: P }, (_, p) => `crash.t${p}`);
	const acked = topics.map(() => 0);
	let stop = false;
	const publishers = topics.map(async (t, p) => {
		for (let k = 1; !stop; k++) {
			let r;
			try {
				r = await publish(g, t, [p, k]);
			} catch {
				return;  // connection refused/reset: the gateway is gone
			}
			if (r.status !== 200) return;
			acked[p] = k;
		}
	});
	await waitFor(() => acked.reduce((a, b) => a + b, 0) >= 400, 20000, '400 acknowledged publishes');
	const r = await g.kill9();
	assert.equal(r.signal, 'SIGKILL');
	stop = true;
	await Promise.all(publishers);
	const total = acked.reduce((a, b) => a + b, 0);

	await g.launch();
	try {
		const s = await openSseLive(g, { topic: topics, lastEventId: '0' }, { keepRaw: false });
		await publishOk(g, topics[0], ['marker']);
		await s.waitFor((x) => x.events.some((e) => e.json.args[0] === 'marker'), 20000, 'the live marker after replay');
		s.close();
		const evs = s.events.filter((e) => e.json.args[0] !== 'marker');
		assertIncreasing(s.events.map((e) => e.id), 'replayed ids');
		for (let p = 0; p < P; p++) {
			const ks = evs.filter((e) => e.json.topic === topics[p]).map((e) => e.json.args[1]);
			const max = ks.length ? ks[ks.length - 1] : 0;
			assert.ok(max === acked[p] || max === acked[p] + 1,
				`${topics[p]}: acknowledged up to ${acked[p]}, history has up to ${max}`);
			assert.deepEqual(ks, Array.from({ length: max }, (_, i) => i + 1),
				`${topics[p]}: counters 1..${max} once each, in order`);
		}
		const i = await info(g);
		assert.ok(i.events_stored >= total, `events_stored ${i.events_stored} >= acknowledged ${total}`);
	} finally {
		await stopClean(g);
	}
});

test('retention by age removes events older than max_age and says "expired"', async () => {
	// Test a rule with max_age 1 s: events published, then left to age,
	// are removed by the periodic retention pass; a resume from before
	// them gets an "expired" comment and only what was published later.
	const g = await startGateway({
		config: makeConfig({
			history: { retention: [{ uri: 'aged.', match: 'prefix', max_events: 0, max_age: 1 },
				{ uri: '', match: 'prefix', max_events: 100000, max_age: 86400 }] },
		}),
	});
	try {
		const old = [];
		for (let i = 0; i < 5; i++) old.push((await publishOk(g, 'aged.t', [i])).id);
		await publishOk(g, 'kept.t', ['other topic']);
		const before = (await info(g)).events_stored;
		assert.equal(before, 6);
		await waitFor(async () => (await info(g)).events_stored === 1, 6000,
			'the 5 aged.t events to be removed (kept.t stays)');
		await publishOk(g, 'aged.t', ['fresh']);
		const s = await openSseLive(g, { topic: 'aged.t', lastEventId: '1' });
		try {
			await s.waitEvents(1);
			await sleep(200);
			assert.ok(s.comments.some((c) => /expired/i.test(c)), `comments ${JSON.stringify(s.comments)}`);
			assert.deepEqual(s.events.map((e) => e.json.args[0]), ['fresh']);
		} finally {
			s.close();
		}
	} finally {
		await stopClean(g);
	}
});

test('a prefix replay finds its events behind thousands of other topics\' events', async () => {
	// Test that a pattern replay, which scans history by sequence, keeps
	// going past long stretches of events that do not match (here 9,000 on
	// another topic between two matching ones) instead of stalling.
	await publishOk(gw, 'scan.match.a', ['first']);
	const batch = [];
	for (let i = 0; i < 9000; i++) {
		batch.push(publishOk(gw, 'noise.topic', [i]));
		if (batch.length === 100) await Promise.all(batch.splice(0));
	}
	await Promise.all(batch);
	await publishOk(gw, 'scan.match.b', ['second']);
	const s = await openSseLive(gw, { topic: 'scan.match.', match: 'prefix', lastEventId: '0' });
	try {
		await s.waitEvents(2, 10000);
		assert.deepEqual(s.events.map((e) => e.json.args[0]), ['first', 'second']);
	} finally {
		s.close();
	}
});
