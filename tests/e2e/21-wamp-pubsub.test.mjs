// 21-wamp-pubsub: the broker: payloads, acknowledge and authorization,
// publisher exclusion and black/white listing (session id, authid, authrole),
// publisher disclosure, pattern subscriptions, subscription ids, unsubscribe,
// delivery across Autobahn|JS, Autobahn|Python, wampy and serializers
// (binary included), and the shared bus with /publish and SSE.
//
// Absence of an event is never checked with a sleep: a sentinel event that
// every subscriber gets is published last, and per-connection order means
// anything not seen before the sentinel was not delivered.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	startGateway, stopClean, makeConfig, waitFor, publishOk, openEventSource, openSseLive,
} from './lib/gateway.mjs';
import {
	T, autobahn, rawSession, rawSubscribe, connectAutobahn, connectWampy, connectPython, settle, jsonBinary,
} from './lib/wamp.mjs';

let gw;

function config() {
	const cfg = makeConfig({
		paths: {
			guest: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'guest' } } },
			limited: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'limited' } } },
			disclosed: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'disclosed' } } },
		},
	});
	const all = { call: true, register: true, publish: true, subscribe: true };
	cfg.workers[0].realms[0].roles.push(
		{ name: 'guest', permissions: [{ uri: '', match: 'prefix', allow: all }] },
		{
			name: 'limited',
			permissions: [
				{ uri: '', match: 'prefix', allow: { subscribe: true } },
				{ uri: 'com.example.allowed.', match: 'prefix', allow: { subscribe: true, publish: true } },
			],
		},
		{
			name: 'disclosed',
			permissions: [{ uri: '', match: 'prefix', allow: all, disclose: { publisher: true } }],
		},
	);
	return cfg;
}

before(async () => { gw = await startGateway({ config: config() }); });
after(async () => { await stopClean(gw); });

const isId = (x) => Number.isInteger(x) && x >= 1 && x <= 2 ** 53;

// An Autobahn|JS subscription collecting {args, kwargs, details}.
async function jsSub(session, topic, options) {
	const got = [];
	const sub = await session.subscribe(topic, (args, kwargs, details) => got.push({ args, kwargs, details }),
		options);
	got.sub = sub;
	return got;
}

// Raw client: read EVENTs until one whose args[0] is `marker`; returns them all.
async function eventsUntil(c, marker, timeout = 5000) {
	const evs = [];
	for (;;) {
		const m = await c.next(timeout);
		assert.equal(m[0], T.EVENT, `expected EVENT, got ${JSON.stringify(m)}`);
		evs.push(m);
		if (m[4] && m[4][0] === marker) return evs;
	}
}

test('Autobahn|JS: args and kwargs arrive exactly; publication id matches PUBLISHED', async () => {
	// Test four payload shapes (args+kwargs, args only, kwargs only, none)
	// from one Autobahn|JS session to another, and that EVENT.publication is
	// the id the acknowledged publish returned.
	const pub = await connectAutobahn(gw);
	const sub = await connectAutobahn(gw);
	const got = await jsSub(sub, 'com.example.payload');
	const payloads = [
		[[1, 'two', { three: 3 }, [4, null, true, 1.25]], { a: 1, b: { c: [null, false] }, 'ü': 'ß' }],
		[['only', 'args'], undefined],
		[undefined, { only: 'kwargs' }],
		[undefined, undefined],
	];
	const ids = [];
	for (const [a, k] of payloads) {
		const p = await pub.publish('com.example.payload', a, k, { acknowledge: true });
		assert.ok(isId(p.id), `publication id ${p.id}`);
		ids.push(p.id);
	}
	await waitFor(() => got.length === 4, 5000, () => `4 events (have ${got.length})`);
	assert.equal(new Set(ids).size, 4);
	payloads.forEach(([a, k], i) => {
		assert.deepEqual(got[i].args, a || [], `event ${i} args`);
		assert.deepEqual(got[i].kwargs, k || {}, `event ${i} kwargs`);
		assert.equal(got[i].details.publication, ids[i]);
		assert.equal(got[i].details.publisher, undefined, 'no publisher without disclosure');
	});
	await pub.end();
	await sub.end();
});

test('acknowledge: PUBLISHED [17, req, id] only when asked', async () => {
	// Test on a raw session that a PUBLISH without acknowledge gets no answer
	// (the next message is the SUBSCRIBED of a later request) and one with it
	// gets PUBLISHED echoing the request id.
	const c = await rawSession(gw);
	c.send([T.PUBLISH, 1, {}, 'com.example.ack', ['quiet']]);
	c.send([T.PUBLISH, 2, { acknowledge: false }, 'com.example.ack', ['quiet']]);
	c.send([T.PUBLISH, 3, { acknowledge: true }, 'com.example.ack', ['loud']]);
	const m = await c.next();
	assert.equal(m.length, 3, JSON.stringify(m));
	assert.equal(m[0], T.PUBLISHED);
	assert.equal(m[1], 3);
	assert.ok(isId(m[2]));
	await c.close();
});

test('not_authorized: PUBLISH refused with acknowledge, silently without; allowed prefix works', async () => {
	// Test role "limited" (publish only under com.example.allowed.): an
	// acknowledged PUBLISH elsewhere gets ERROR [8, 16, req, {}, not_authorized]
	// and reaches no subscriber; unacknowledged it is dropped silently.
	const watcher = await rawSession(gw);
	await rawSubscribe(watcher, 'com.example.secret');
	await rawSubscribe(watcher, 'com.example.allowed.x');
	const c = await rawSession(gw, { path: '/limited' });
	assert.equal(c.welcome[2].authrole, 'limited');
	c.send([T.PUBLISH, 1, {}, 'com.example.secret', ['silent']]);
	c.send([T.PUBLISH, 2, { acknowledge: true }, 'com.example.secret', ['refused']]);
	const e = await c.next();
	assert.equal(e[0], T.ERROR, JSON.stringify(e));
	assert.deepEqual([e[1], e[2], e[4]], [T.PUBLISH, 2, 'wamp.error.not_authorized']);
	c.send([T.PUBLISH, 3, { acknowledge: true }, 'com.example.allowed.x', ['fine']]);
	const ok = await c.next();
	assert.deepEqual([ok[0], ok[1]], [T.PUBLISHED, 3], JSON.stringify(ok));
	const evs = await eventsUntil(watcher, 'fine');
	assert.equal(evs.length, 1, `the refused publishes must not be delivered: ${JSON.stringify(evs)}`);
	assert.equal(evs[0][2], ok[2]);
	await c.close();
	await watcher.close();
});

test('exclude_me: the publisher gets its own event only with exclude_me false', async () => {
	// Test an Autobahn|JS session subscribed to the topic it publishes to:
	// default -> not delivered to itself, exclude_me false -> delivered; a
	// second subscriber sees both.
	const a = await connectAutobahn(gw);
	const b = await connectAutobahn(gw);
	const mine = await jsSub(a, 'com.example.self');
	const other = await jsSub(b, 'com.example.self');
	await a.publish('com.example.self', ['default'], {}, { acknowledge: true });
	await a.publish('com.example.self', ['explicit-true'], {}, { acknowledge: true, exclude_me: true });
	await a.publish('com.example.self', ['to-me-too'], {}, { acknowledge: true, exclude_me: false });
	await waitFor(() => other.length === 3 && mine.length >= 1, 5000, 'the events');
	assert.deepEqual(other.map((e) => e.args[0]), ['default', 'explicit-true', 'to-me-too']);
	assert.deepEqual(mine.map((e) => e.args[0]), ['to-me-too']);
	await a.end();
	await b.end();
});

// Three raw subscribers; publish with options from another session; each
// subscriber's sequence of args[0] up to a final sentinel.
async function listingCase(subs, publishes) {
	const topic = `com.example.list.${Math.random().toString(36).slice(2)}`;
	for (const s of subs) await rawSubscribe(s, topic);
	const p = await connectAutobahn(gw);
	for (const [marker, opts] of publishes) {
		await p.publish(topic, [marker], {}, Object.assign({ acknowledge: true }, opts));
	}
	await p.publish(topic, ['sentinel'], {}, { acknowledge: true });
	const seqs = [];
	for (const s of subs) seqs.push((await eventsUntil(s, 'sentinel')).map((m) => m[4][0]));
	await p.end();
	return seqs;
}

test('exclude / eligible by session id (a subscriber must pass every list)', async () => {
	// Test exclude [S1], eligible [S2], and eligible [S1,S2] + exclude [S1].
	const s = [await rawSession(gw), await rawSession(gw), await rawSession(gw)];
	const [s1, s2] = s.map((c) => c.session);
	const seqs = await listingCase(s, [
		['ex1', { exclude: [s1] }],
		['el2', { eligible: [s2] }],
		['both', { eligible: [s1, s2], exclude: [s1] }],
	]);
	assert.deepEqual(seqs, [['sentinel'], ['ex1', 'el2', 'both', 'sentinel'], ['ex1', 'sentinel']]);
	for (const c of s) await c.close();
});

test('exclude_authid / eligible_authid', async () => {
	// Test the same lists keyed by the subscribers' authids from WELCOME.
	const s = [await rawSession(gw), await rawSession(gw), await rawSession(gw)];
	const [a1, a2, a3] = s.map((c) => c.welcome[2].authid);
	const seqs = await listingCase(s, [
		['ex1', { exclude_authid: [a1] }],
		['el2', { eligible_authid: [a2] }],
		['el13', { eligible_authid: [a1, a3], exclude_authid: [a3] }],
	]);
	assert.deepEqual(seqs, [['el13', 'sentinel'], ['ex1', 'el2', 'sentinel'], ['ex1', 'sentinel']]);
	for (const c of s) await c.close();
});

test('exclude_authrole / eligible_authrole', async () => {
	// Test subscribers with authrole anonymous (/ws), guest (/guest) and
	// anonymous: exclude_authrole [guest], eligible_authrole [guest], and
	// eligible_authrole [anonymous, guest] + exclude_authrole [anonymous].
	const s = [await rawSession(gw), await rawSession(gw, { path: '/guest' }), await rawSession(gw)];
	assert.equal(s[1].welcome[2].authrole, 'guest');
	const seqs = await listingCase(s, [
		['exg', { exclude_authrole: ['guest'] }],
		['elg', { eligible_authrole: ['guest'] }],
		['mix', { eligible_authrole: ['anonymous', 'guest'], exclude_authrole: ['anonymous'] }],
	]);
	assert.deepEqual(seqs, [['exg', 'sentinel'], ['elg', 'mix', 'sentinel'], ['exg', 'sentinel']]);
	for (const c of s) await c.close();
});

test('disclose_me and the role permission disclose.publisher add publisher details', async () => {
	// Test EVENT.Details.publisher/publisher_authid/publisher_authrole: absent
	// by default, present with disclose_me true, and present without it when
	// the publisher's role has disclose.publisher.
	const sub = await rawSession(gw);
	const subId = await rawSubscribe(sub, 'com.example.disclose');
	const p = await rawSession(gw);
	const d = await rawSession(gw, { path: '/disclosed' });
	p.send([T.PUBLISH, 1, {}, 'com.example.disclose', ['hidden']]);
	p.send([T.PUBLISH, 2, { disclose_me: true }, 'com.example.disclose', ['shown']]);
	const evs1 = await eventsUntil(sub, 'shown');
	d.send([T.PUBLISH, 1, {}, 'com.example.disclose', ['by-role']]);
	const evs2 = await eventsUntil(sub, 'by-role');
	const [hidden, shown] = evs1;
	const [byRole] = evs2;
	assert.equal(evs1.length, 2);
	assert.equal(hidden[1], subId);
	assert.equal(hidden[3].publisher, undefined, JSON.stringify(hidden));
	assert.equal(hidden[3].publisher_authid, undefined);
	assert.equal(shown[3].publisher, p.session, JSON.stringify(shown));
	assert.equal(shown[3].publisher_authid, p.welcome[2].authid);
	assert.equal(shown[3].publisher_authrole, 'anonymous');
	assert.equal(byRole[3].publisher, d.session, JSON.stringify(byRole));
	assert.equal(byRole[3].publisher_authid, d.welcome[2].authid);
	assert.equal(byRole[3].publisher_authrole, 'disclosed');
	for (const c of [sub, p, d]) await c.close();
});

test('prefix and wildcard subscriptions: string-prefix and per-component matching, details.topic', async () => {
	// Test one raw session with an exact, a prefix and a wildcard subscription:
	// each EVENT carries the matching subscription id, pattern matches carry
	// details.topic, one publication matching two subscriptions arrives twice
	// with the same publication id.
	const c = await rawSession(gw);
	const exact = await rawSubscribe(c, 'com.example.pfx.a');
	const prefix = await rawSubscribe(c, 'com.example.pfx', { match: 'prefix' });
	const wild = await rawSubscribe(c, 'com..update', { match: 'wildcard' });
	assert.equal(new Set([exact, prefix, wild]).size, 3);
	const p = await connectAutobahn(gw);
	const topics = ['com.example.pfx.a', 'com.example.pfx-low', 'com.example.pfx.b.c', 'com.x.update',
		'com.x.y.update', 'org.x.update', 'com.example.pf', 'com.orders.update'];
	for (const t of topics) await p.publish(t, [t], {}, { acknowledge: true });
	await p.publish('com.example.pfx.end', ['end'], {}, { acknowledge: true });
	const evs = await eventsUntil(c, 'end');
	const seen = evs.map((m) => [m[4][0], m[1], m[3].topic]);
	const expected = [
		// the exact and the prefix subscription both match com.example.pfx.a
		['com.example.pfx.a', exact],
		['com.example.pfx.a', prefix, 'com.example.pfx.a'],
		['com.example.pfx-low', prefix, 'com.example.pfx-low'],
		['com.example.pfx.b.c', prefix, 'com.example.pfx.b.c'],
		['com.x.update', wild, 'com.x.update'],
		['com.orders.update', wild, 'com.orders.update'],
		['end', prefix, 'com.example.pfx.end'],
	];
	// The two deliveries of com.example.pfx.a may come in either order; an
	// exact match may or may not carry details.topic.
	const firstTwo = seen.slice(0, 2).map((x) => (x[1] === exact ? x.slice(0, 2) : x));
	firstTwo.sort((x, y) => (x[1] === exact ? -1 : 1) - (y[1] === exact ? -1 : 1));
	assert.deepEqual(firstTwo, [['com.example.pfx.a', exact], ['com.example.pfx.a', prefix, 'com.example.pfx.a']],
		`all: ${JSON.stringify(seen)}`);
	assert.deepEqual(seen.slice(2), expected.slice(2), `all: ${JSON.stringify(seen)}`);
	assert.equal(evs[0][2], evs[1][2], 'same publication id for both deliveries');
	await p.end();
	await c.close();
});

test('subscription ids: repeated SUBSCRIBE -> same id; shared across sessions per (uri, match)', async () => {
	// Test that one session subscribing twice gets the same id, a second
	// session gets that id too, and a prefix subscription on the same URI gets
	// another id; the event is delivered once per session.
	const a = await rawSession(gw);
	const b = await rawSession(gw);
	const id1 = await rawSubscribe(a, 'com.example.same');
	const id2 = await rawSubscribe(a, 'com.example.same');
	const id3 = await rawSubscribe(b, 'com.example.same');
	const id4 = await rawSubscribe(b, 'com.example.same', { match: 'prefix' });
	assert.equal(id1, id2);
	assert.equal(id1, id3);
	assert.notEqual(id1, id4);
	const p = await connectAutobahn(gw);
	await p.publish('com.example.same', ['once'], {}, { acknowledge: true });
	await p.publish('com.example.same', ['sentinel'], {}, { acknowledge: true });
	const ea = await eventsUntil(a, 'sentinel');
	assert.deepEqual(ea.map((m) => [m[1], m[4][0]]), [[id1, 'once'], [id1, 'sentinel']]);
	// b's exact and prefix subscriptions both match: each event twice.
	const eb = [];
	for (let i = 0; i < 4; i++) eb.push(await b.next());
	assert.deepEqual(eb.map((m) => [m[0], m[4][0]]).sort(),
		[[T.EVENT, 'once'], [T.EVENT, 'once'], [T.EVENT, 'sentinel'], [T.EVENT, 'sentinel']]);
	assert.deepEqual(eb.filter((m) => m[4][0] === 'once').map((m) => m[1]).sort(), [id1, id4].sort());
	await p.end();
	await a.close();
	await b.close();
});

test('UNSUBSCRIBE -> UNSUBSCRIBED and no further events; unknown id -> no_such_subscription', async () => {
	// Test raw UNSUBSCRIBE: the reply is [35, req]; later publications reach
	// the other subscriber only; a second UNSUBSCRIBE of the same id gets ERROR
	// wamp.error.no_such_subscription. Autobahn|JS unsubscribe works too.
	const a = await rawSession(gw);
	const b = await rawSession(gw);
	const sid = await rawSubscribe(a, 'com.example.unsub');
	await rawSubscribe(a, 'com.example.unsub.sentinel');
	await rawSubscribe(b, 'com.example.unsub');
	a.send([T.UNSUBSCRIBE, 50, sid]);
	assert.deepEqual(await a.next(), [T.UNSUBSCRIBED, 50]);
	const p = await connectAutobahn(gw);
	await p.publish('com.example.unsub', ['after'], {}, { acknowledge: true });
	await p.publish('com.example.unsub.sentinel', ['sentinel'], {}, { acknowledge: true });
	const ea = await eventsUntil(a, 'sentinel');
	assert.equal(ea.length, 1, `no event after UNSUBSCRIBED: ${JSON.stringify(ea)}`);
	const eb = await b.next();
	assert.deepEqual([eb[0], eb[4]], [T.EVENT, ['after']]);
	a.send([T.UNSUBSCRIBE, 51, sid]);
	const e = await a.next();
	assert.deepEqual([e[0], e[1], e[2], e[4]], [T.ERROR, T.UNSUBSCRIBE, 51, 'wamp.error.no_such_subscription']);

	const js = await connectAutobahn(gw);
	const got = await jsSub(js, 'com.example.unsub');
	await p.publish('com.example.unsub', ['one'], {}, { acknowledge: true });
	await waitFor(() => got.length === 1, 5000, 'the first event');
	await js.unsubscribe(got.sub);
	const sentinel = await jsSub(js, 'com.example.unsub.sentinel');
	await p.publish('com.example.unsub', ['two'], {}, { acknowledge: true });
	await p.publish('com.example.unsub.sentinel', ['s'], {}, { acknowledge: true });
	await waitFor(() => sentinel.length === 1, 5000, 'the sentinel');
	assert.deepEqual(got.map((x) => x.args[0]), ['one']);
	for (const x of [p, js]) await x.end();
	await a.close();
	await b.close();
});

test('Autobahn|JS <-> Autobahn|Python <-> wampy: each publishes, the others receive exactly', async () => {
	// Test all three libraries subscribed to one topic: each one publishes its
	// own args/kwargs; the other two receive them exactly and the publisher
	// does not (exclude_me).
	const topic = 'com.example.cross';
	const js = await connectAutobahn(gw);
	const jsGot = await jsSub(js, topic);
	const w = await connectWampy(gw);
	const wGot = [];
	await w.subscribe(topic, (e) => wGot.push({ args: e.argsList || [], kwargs: e.argsDict || {} }));
	const py = await connectPython(gw);
	await py.request({ op: 'subscribe', topic });

	const P = {
		js: [['from-js', 1, [2.5, null]], { lib: 'autobahn-js', nested: { ok: true } }],
		py: [['from-py', 2, { x: 'y' }], { lib: 'autobahn-python', list: [1, 2, 3] }],
		wampy: [['from-wampy', 3], { lib: 'wampy', emoji: '🚀' }],
	};
	await js.publish(topic, P.js[0], P.js[1], { acknowledge: true });
	const r = await py.request({ op: 'publish', topic, args: P.py[0], kwargs: P.py[1], options: { acknowledge: true } });
	assert.equal(r.ok, true, JSON.stringify(r));
	await w.publish(topic, { argsList: P.wampy[0], argsDict: P.wampy[1] });

	await waitFor(() => jsGot.length >= 2 && wGot.length >= 2 &&
		py.lines.filter((l) => l.ev === 'event').length >= 2, 10000,
	() => `2 events each (js ${jsGot.length}, wampy ${wGot.length}, py ${py.lines.filter((l) => l.ev === 'event').length})`);
	const pyGot = py.lines.filter((l) => l.ev === 'event');
	const key = (e) => e.args[0];
	const sortBy = (xs) => [...xs].sort((x, y) => key(x).localeCompare(key(y)));
	assert.deepEqual(sortBy(jsGot).map((e) => [e.args, e.kwargs]), [P.py, P.wampy]);
	assert.deepEqual(sortBy(wGot).map((e) => [e.args, e.kwargs]), [P.js, P.py]);
	assert.deepEqual(sortBy(pyGot).map((e) => [e.args, e.kwargs]), [P.js, P.wampy]);
	// Nothing else arrives (a sentinel from a fourth session closes the window).
	const s = await connectAutobahn(gw);
	await s.publish(topic, ['sentinel'], {}, { acknowledge: true });
	await waitFor(() => jsGot.length === 3 && wGot.length === 3 &&
		py.lines.filter((l) => l.ev === 'event').length === 3, 10000, 'the sentinels');
	assert.deepEqual([jsGot[2].args, wGot[2].args, py.lines.filter((l) => l.ev === 'event')[2].args],
		[['sentinel'], ['sentinel'], ['sentinel']]);
	await s.end();
	await js.end();
	await w.end();
	await py.end();
});

test('msgpack <-> JSON: bin becomes "\\u0000"+base64 and back; Autobahn|Python bytes included', async () => {
	// Test raw JSON and msgpack subscribers, an Autobahn|Python JSON subscriber
	// and an Autobahn|Python msgpack publisher of bytes: the JSON side gets the
	// "\u0000"+base64 string, Python JSON gets bytes back, msgpack gets bin; and
	// a JSON publisher's "\u0000"+base64 string reaches msgpack as bin.
	const topic = 'com.example.bin';
	const jsonSub = await rawSession(gw);
	await rawSubscribe(jsonSub, topic);
	const mpSub = await rawSession(gw, { protocol: 'wamp.2.msgpack' });
	await rawSubscribe(mpSub, topic);
	const pySub = await connectPython(gw, { serializer: 'json' });
	await pySub.request({ op: 'subscribe', topic });
	const pyPub = await connectPython(gw, { serializer: 'msgpack' });

	const bytes = Buffer.from([0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, 0x41]);
	const b64 = { __bytes__: bytes.toString('base64') };
	const r = await pyPub.request({
		op: 'publish', topic, args: ['py-bin', b64], kwargs: { blob: b64, text: 'plain' },
		options: { acknowledge: true },
	});
	assert.equal(r.ok, true, JSON.stringify(r));
	const ej = await jsonSub.next();
	assert.equal(ej[0], T.EVENT);
	assert.deepEqual(ej[4], ['py-bin', jsonBinary(bytes)]);
	assert.deepEqual(ej[5], { blob: jsonBinary(bytes), text: 'plain' });
	const em = await mpSub.next();
	assert.ok(Buffer.isBuffer(em[4][1]), `msgpack subscriber must get bin: ${JSON.stringify(em)}`);
	assert.ok(em[4][1].equals(bytes));
	assert.ok(em[5].blob.equals(bytes));
	assert.equal(em[5].text, 'plain');
	const ep = await pySub.waitFor((l) => l.ev === 'event', 10000, 'the Python JSON event');
	assert.deepEqual(ep.args, ['py-bin', b64]);
	assert.deepEqual(ep.kwargs, { blob: b64, text: 'plain' });

	// JSON publisher -> msgpack subscriber
	const jp = await rawSession(gw);
	const small = Buffer.from([0xde, 0xad, 0, 0xbe, 0xef]);
	jp.send([T.PUBLISH, 1, { acknowledge: true }, topic, ['json-bin', jsonBinary(small)], { k: jsonBinary(small) }]);
	assert.equal((await jp.next())[0], T.PUBLISHED);
	const em2 = await mpSub.next();
	assert.equal(em2[4][0], 'json-bin');
	assert.ok(Buffer.isBuffer(em2[4][1]), `JSON "\\u0000.." must become bin: ${JSON.stringify(em2)}`);
	assert.ok(em2[4][1].equals(small));
	assert.ok(Buffer.isBuffer(em2[5].k) && em2[5].k.equals(small));
	const ej2 = await jsonSub.next();
	assert.deepEqual(ej2[4], ['json-bin', jsonBinary(small)]);

	await pySub.end();
	await pyPub.end();
	for (const c of [jsonSub, mpSub, jp]) await c.close();
});

test('POST /publish reaches WAMP subscribers (exact and prefix) with args/kwargs as published', async () => {
	// Test /publish -> an Autobahn|JS exact and a wampy prefix subscriber.
	const js = await connectAutobahn(gw);
	const got = await jsSub(js, 'com.example.http.pub');
	const w = await connectWampy(gw);
	const wGot = [];
	await w.subscribe('com.example.http', (e) => wGot.push(e), { match: 'prefix' });
	const id = await publishOk(gw, 'com.example.http.pub', [1, { two: 2 }, 'three'], { k: [true, null] });
	await waitFor(() => got.length === 1 && wGot.length === 1, 5000, 'the /publish event');
	assert.deepEqual(got[0].args, [1, { two: 2 }, 'three']);
	assert.deepEqual(got[0].kwargs, { k: [true, null] });
	assert.ok(isId(got[0].details.publication));
	assert.equal(got[0].details.publication, id, 'EVENT publication id = /publish id');
	assert.deepEqual(wGot[0].argsList, [1, { two: 2 }, 'three']);
	assert.deepEqual(wGot[0].argsDict, { k: [true, null] });
	assert.equal(wGot[0].details.topic, 'com.example.http.pub');
	await js.end();
	await w.end();
});

test('WAMP publish -> SSE (data {topic,args,kwargs}, ascending ids); listed publishes stay WAMP-only', async () => {
	// Test an EventSource client on the topic: three Autobahn|JS publishes
	// arrive in order with ascending ids; a publish with eligible/exclude lists
	// is not sent to SSE (the next SSE message is the following plain publish).
	const topic = 'com.example.tosse';
	const es = openEventSource(gw, { topic });
	await es.waitOpen();
	const p = await connectAutobahn(gw);
	await p.publish(topic, ['one'], { n: 1 }, { acknowledge: true });
	await p.publish(topic, ['two'], { n: 2 }, { acknowledge: true });
	await p.publish(topic, ['listed'], {}, { acknowledge: true, eligible: [p.id] });
	await p.publish(topic, ['listed2'], {}, { acknowledge: true, exclude_authrole: ['nobody'] });
	await p.publish(topic, ['three'], { n: 3 }, { acknowledge: true });
	const ms = await es.waitMessages(3);
	assert.deepEqual(ms.map((m) => m.json), [
		{ topic, args: ['one'], kwargs: { n: 1 } },
		{ topic, args: ['two'], kwargs: { n: 2 } },
		{ topic, args: ['three'], kwargs: { n: 3 } },
	]);
	const ids = ms.map((m) => BigInt(m.lastEventId));
	assert.ok(ids[0] < ids[1] && ids[1] < ids[2], `ids ascending: ${ids}`);
	es.close();
	await p.end();
});

test('an SSE client resuming with Last-Event-ID gets WAMP-published events from history', async () => {
	// Test: a live SSE reader records the ids of four WAMP publishes; a new
	// reader with Last-Event-ID = the first id replays events 2..4 in order
	// (a listed publish in between is not in history).
	const topic = 'com.example.ssehist';
	const live = await openSseLive(gw, { topic });
	const p = await connectAutobahn(gw);
	for (const i of [1, 2]) await p.publish(topic, [i], {}, { acknowledge: true });
	await p.publish(topic, ['listed'], {}, { acknowledge: true, exclude: [p.id] });
	for (const i of [3, 4]) await p.publish(topic, [i], {}, { acknowledge: true });
	const evs = await live.waitEvents(4);
	assert.deepEqual(evs.map((e) => e.json.args[0]), [1, 2, 3, 4]);
	live.close();
	const s = await openSseLive(gw, { topic }, { headers: { 'Last-Event-ID': evs[0].id } });
	const replay = await s.waitEvents(3);
	assert.deepEqual(replay.map((e) => [e.json.topic, e.json.args, e.json.kwargs ?? {}]),
		[2, 3, 4].map((i) => [topic, [i], {}]));
	assert.deepEqual(replay.map((e) => e.id), evs.slice(1).map((e) => e.id));
	await p.publish(topic, [5], {}, { acknowledge: true });
	await s.waitEvents(4);
	assert.deepEqual(s.events.map((e) => e.json.args[0]), [2, 3, 4, 5]);
	s.close();
	await p.end();
});

// ---- edge cases -------------------------------------------------------------

test("UNSUBSCRIBE with another session's subscription id -> no_such_subscription; theirs stays", async () => {
	// Test A sending UNSUBSCRIBE for the id B got (A never subscribed): ERROR
	// no_such_subscription and B still receives events.
	const b = await rawSession(gw);
	const sid = await rawSubscribe(b, 'com.example.foreign');
	const a = await rawSession(gw);
	a.send([T.UNSUBSCRIBE, 9, sid]);
	const e = await a.next();
	assert.deepEqual([e[0], e[1], e[2], e[4]], [T.ERROR, T.UNSUBSCRIBE, 9, 'wamp.error.no_such_subscription']);
	const p = await connectAutobahn(gw);
	await p.publish('com.example.foreign', ['still'], {}, { acknowledge: true });
	const ev = await b.next();
	assert.deepEqual([ev[0], ev[1], ev[4]], [T.EVENT, sid, ['still']]);
	await p.end();
	await a.close();
	await b.close();
});

test('no EVENT after UNSUBSCRIBED while events are being published', async () => {
	// Test a subscriber that unsubscribes in the middle of a 300-event storm:
	// after its UNSUBSCRIBED no EVENT for that subscription arrives, and the
	// events before it are in order.
	const c = await rawSession(gw);
	const sid = await rawSubscribe(c, 'com.example.storm');
	const other = await rawSubscribe(c, 'com.example.storm.end');
	const p = await rawSession(gw);
	for (let i = 1; i <= 300; i++) {
		p.send([T.PUBLISH, i, {}, 'com.example.storm', [i]]);
		if (i === 100) c.send([T.UNSUBSCRIBE, 1000, sid]);
	}
	p.send([T.PUBLISH, 301, { acknowledge: true }, 'com.example.storm.end', ['end']]);
	assert.equal((await p.next(10000))[0], T.PUBLISHED);
	const before = [];
	let unsubscribed = false;
	for (;;) {
		const m = await c.next(10000);
		if (m[0] === T.UNSUBSCRIBED) { unsubscribed = true; continue; }
		assert.equal(m[0], T.EVENT, JSON.stringify(m));
		if (m[1] === other) break;
		assert.equal(unsubscribed, false, `EVENT ${m[4][0]} after UNSUBSCRIBED`);
		before.push(m[4][0]);
	}
	assert.ok(unsubscribed, 'UNSUBSCRIBED never came');
	assert.deepEqual(before, Array.from({ length: before.length }, (_, i) => i + 1));
	await p.close();
	await c.close();
});

test('500 unacknowledged publishes arrive in order at JSON and msgpack subscribers', async () => {
	// Test per-publisher ordering: 1..500 published back to back without
	// acknowledge reach a raw JSON and a raw msgpack subscriber in order.
	const j = await rawSession(gw);
	await rawSubscribe(j, 'com.example.order');
	const m = await rawSession(gw, { protocol: 'wamp.2.msgpack' });
	await rawSubscribe(m, 'com.example.order');
	const p = await rawSession(gw);
	for (let i = 1; i <= 500; i++) p.send([T.PUBLISH, i, {}, 'com.example.order', [i], { sq: i * i }]);
	for (const c of [j, m]) {
		const got = [];
		while (got.length < 500) {
			const ev = await c.next(10000);
			assert.equal(ev[5].sq, ev[4][0] * ev[4][0]);
			got.push(ev[4][0]);
		}
		assert.deepEqual(got, Array.from({ length: 500 }, (_, i) => i + 1));
	}
	for (const c of [j, m, p]) await c.close();
});

test('pattern URIs with empty components: prefix "a.b." and wildcard ".x.y"', async () => {
	// Test SUBSCRIBE com.example.dot. (prefix) and .pat.edge (wildcard, empty
	// first component): both are accepted and match with details.topic.
	const c = await rawSession(gw);
	const pre = await rawSubscribe(c, 'com.example.dot.', { match: 'prefix' });
	const wild = await rawSubscribe(c, '.pat.edge', { match: 'wildcard' });
	const p = await connectAutobahn(gw);
	await p.publish('com.example.dotx', ['no'], {}, { acknowledge: true });
	await p.publish('com.example.dot.x', ['pre'], {}, { acknowledge: true });
	await p.publish('org.pat.edge', ['wild'], {}, { acknowledge: true });
	const a = await c.next();
	const b = await c.next();
	assert.deepEqual([a[1], a[3].topic, a[4]], [pre, 'com.example.dot.x', ['pre']]);
	assert.deepEqual([b[1], b[3].topic, b[4]], [wild, 'org.pat.edge', ['wild']]);
	await p.end();
	await c.close();
});

test('non-ASCII topic URIs (loose URI check) work end to end', async () => {
	// Test a topic with UTF-8 components between Autobahn|JS sessions and a
	// msgpack raw subscriber.
	const topic = 'com.exämple.naïve.事件';
	const js = await connectAutobahn(gw);
	const got = await jsSub(js, topic);
	const m = await rawSession(gw, { protocol: 'wamp.2.msgpack' });
	await rawSubscribe(m, topic);
	const p = await connectAutobahn(gw);
	await p.publish(topic, ['ü'], { '键': '值' }, { acknowledge: true });
	await waitFor(() => got.length === 1, 5000, 'the event');
	assert.deepEqual([got[0].args, got[0].kwargs], [['ü'], { '键': '值' }]);
	const ev = await m.next();
	assert.deepEqual([ev[4], ev[5]], [['ü'], { '键': '值' }]);
	await p.end();
	await js.end();
	await m.close();
});

test('eligible [] reaches nobody; exclude of an unknown session id excludes nobody', async () => {
	// Test the white list semantics at the edges: an empty eligible list
	// delivers to no one; excluding a session id that does not exist
	// delivers to everyone.
	const s = [await rawSession(gw), await rawSession(gw)];
	const seqs = await listingCase(s, [
		['empty', { eligible: [] }],
		['ghost', { exclude: [2 ** 53 - 1] }],
	]);
	assert.deepEqual(seqs, [['ghost', 'sentinel'], ['ghost', 'sentinel']]);
	for (const c of s) await c.close();
});

test('a 700 KB msgpack bin reaches a JSON subscriber as one "\\u0000"+base64 string (and back)', async () => {
	// Test a large binary: msgpack publisher -> JSON subscriber gets ~933 KB
	// of base64, exactly; JSON subscriber publishing it back -> msgpack gets
	// the same bytes.
	const big = Buffer.alloc(700 * 1024);
	for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 8)) & 0xff;
	const j = await rawSession(gw);
	await rawSubscribe(j, 'com.example.bigbin');
	const m = await rawSession(gw, { protocol: 'wamp.2.msgpack' });
	await rawSubscribe(m, 'com.example.bigbin.back');
	const mp = await rawSession(gw, { protocol: 'wamp.2.msgpack' });
	mp.send([T.PUBLISH, 1, { acknowledge: true }, 'com.example.bigbin', [big]]);
	assert.equal((await mp.next(10000))[0], T.PUBLISHED);
	const ev = await j.next(10000);
	assert.equal(ev[4][0], jsonBinary(big));
	j.send([T.PUBLISH, 2, { acknowledge: true }, 'com.example.bigbin.back', [ev[4][0]]]);
	assert.equal((await j.next(10000))[0], T.PUBLISHED);
	const back = await m.next(10000);
	assert.ok(Buffer.isBuffer(back[4][0]) && back[4][0].equals(big));
	for (const c of [j, m, mp]) await c.close();
});

test('wampy with msgpack publishes to an Autobahn|JS JSON subscriber, subscribes, and calls a JSON callee', async () => {
	// Test the wampy MsgpackSerializer (msgpackr) against the router: its
	// publications and calls cross to JSON sessions unchanged, and it can
	// subscribe although its SUBSCRIBE options carry `undefined` values
	// (msgpackr writes them as fixext type 0; the router reads them as
	// JSON.stringify would: the key is left out).
	const js = await connectAutobahn(gw);
	const got = await jsSub(js, 'com.example.wampy.mp');
	await js.register('com.example.wampy.mp.add', (args, kwargs) => new autobahn.Result([args[0] + args[1]], kwargs));
	const w = await connectWampy(gw, { serializer: 'msgpack' });
	await w.publish('com.example.wampy.mp', { argsList: [1, 'x', [true]], argsDict: { n: -5 } });
	await waitFor(() => got.length === 1, 5000, 'the wampy msgpack event');
	assert.deepEqual([got[0].args, got[0].kwargs], [[1, 'x', [true]], { n: -5 }]);
	const r = await w.call('com.example.wampy.mp.add', { argsList: [40, 2], argsDict: { z: 2.5 } });
	assert.deepEqual([r.argsList, r.argsDict], [[42], { z: 2.5 }]);

	const wgot = [];
	await w.subscribe('com.example.wampy.mp.back', (e) => wgot.push(e));
	await js.publish('com.example.wampy.mp.back', ['from', 'json'], { k: 1 }, { acknowledge: true });
	await waitFor(() => wgot.length === 1, 5000, 'the JSON event at the wampy msgpack subscriber');
	assert.deepEqual([wgot[0].argsList, wgot[0].argsDict], [['from', 'json'], { k: 1 }]);
	await w.end();
	await js.end();
});
