// 41-authorize: authorization. Static role permissions refusing each action
// (publish with acknowledge, subscribe, call, register); a dynamic
// authorizer (an Autobahn|JS procedure) called with (session_details, uri,
// action, options): allow/deny per action and URI, {allow, disclose, cache},
// cached decisions, raising/junk/absent authorizers denying, message order
// kept while a decision is pending; the same authorizer on /publish and
// /call bridge paths and on SSE subscriptions.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	startGateway, stopClean, makeConfig, postJson, openSse, openSseLive, isErrorBody, sleep, waitFor,
} from './lib/gateway.mjs';
import {
	T, autobahn, rawSession, connectAutobahn, settle,
} from './lib/wamp.mjs';

const ALL = { call: true, register: true, publish: true, subscribe: true };
const AUTHID = /^[0-9A-Z]{4}(-[0-9A-Z]{4}){5}$/;
const isId = (x) => Number.isInteger(x) && x >= 1 && x <= 2 ** 53;

let gw;
let admin;            // trusted Autobahn|JS session: the authorizer, callees, subscribers
const authz = [];     // every authorizer invocation: {sd, uri, action, options, n (args length)}
let uniq = 0;
const u = (head) => `${head}.t${++uniq}`;

function config() {
	const cfg = makeConfig({
		paths: {
			trusted: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'trusted' } } },
			limited: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'limited' } } },
			subonly: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'subonly' } } },
			dyn: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'dyn' } } },
			noauthz: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'noauthz' } } },
			pubdyn: { type: 'publisher', realm: 'realm1', role: 'dyn' },
			calldyn: { type: 'caller', realm: 'realm1', role: 'dyn' },
			ssedyn: { type: 'eventsource', realm: 'realm1', role: 'dyn' },
		},
	});
	cfg.workers[0].realms[0].roles = [
		{ name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: ALL }] },
		{ name: 'limited', permissions: [{ uri: 'ok.', match: 'prefix', allow: ALL }] },
		{ name: 'subonly', permissions: [{ uri: '', match: 'prefix', allow: { subscribe: true } }] },
		{ name: 'dyn', authorizer: 'com.example.authorize' },
		{ name: 'noauthz', authorizer: 'com.example.authorize.nobody' },
	];
	return cfg;
}

async function authorize(args) {
	const [sd, uri, action, options] = args;
	authz.push({ sd, uri, action, options, n: args.length });
	const head = uri.split('.')[0];
	switch (head) {
	case 'allow': return true;
	case 'deny': return false;
	case 'dict': return { allow: true };
	case 'cached': return { allow: true, cache: true };
	case 'cachedeny': return { allow: false, cache: true };
	case 'disclose': return { allow: true, disclose: true };
	case 'mixed': return action === 'subscribe' || action === 'publish';
	case 'slow': await sleep(300); return true;
	case 'raise': throw new autobahn.Error('com.example.authz.failed', ['no idea']);
	case 'crash': throw new TypeError('the authorizer has a bug');
	case 'junk': {
		const kind = uri.split('.')[1];
		return { str: 'yes', empty: {}, num: { allow: 1 }, strflag: { allow: 'true' }, nul: null, list: [true] }[kind];
	}
	default: return false;
	}
}

before(async () => {
	gw = await startGateway({ config: config() });
	admin = await connectAutobahn(gw, { path: '/trusted' });
	await admin.register('com.example.authorize', authorize);
	for (const p of ['ok.proc', 'no.proc', 'allow.proc', 'deny.proc', 'mixed.proc', 'raise.proc', 'junk.str.proc']) {
		await admin.register(p, (a) => new autobahn.Result(['echo', ...(a || [])]));
	}
});
after(async () => {
	if (admin) await admin.end();
	await stopClean(gw);
});

const callsFor = (uri, action) => authz.filter((x) => x.uri === uri && (!action || x.action === action));

// ---- raw request helpers: each returns the reply message ------------------

async function req(c, msg) {
	c.send(msg);
	const m = await c.next(5000);
	assert.equal(m[1] === msg[1] || m[2] === msg[1], true, `reply to ${JSON.stringify(msg)}: ${JSON.stringify(m)}`);
	return m;
}
const pubAck = (c, topic, args = [1]) => req(c, [T.PUBLISH, c.reqId(), { acknowledge: true }, topic, args]);
const sub = (c, topic) => req(c, [T.SUBSCRIBE, c.reqId(), {}, topic]);
const call = (c, proc, args = [1]) => req(c, [T.CALL, c.reqId(), {}, proc, args]);
const reg = (c, proc) => req(c, [T.REGISTER, c.reqId(), {}, proc]);

const OK = { [T.PUBLISH]: T.PUBLISHED, [T.SUBSCRIBE]: T.SUBSCRIBED, [T.CALL]: T.RESULT, [T.REGISTER]: T.REGISTERED };

function assertDenied(m, type, what) {
	assert.equal(m[0], T.ERROR, `${what}: expected ERROR not_authorized, got ${JSON.stringify(m)}`);
	assert.equal(m[1], type, `${what}: ${JSON.stringify(m)}`);
	assert.equal(m[4], 'wamp.error.not_authorized', `${what}: ${JSON.stringify(m)}`);
}
function assertAllowed(m, type, what) {
	assert.equal(m[0], OK[type], `${what}: expected ${OK[type]}, got ${JSON.stringify(m)}`);
}

/** Run all four actions on uri-ish names and return the replies by action. */
async function fourActions(c, name) {
	return {
		publish: await pubAck(c, name),
		subscribe: await sub(c, name),
		call: await call(c, name.endsWith('.proc') ? name : `${name}.proc`),
		register: await reg(c, `${name}.reg`),
	};
}

// ---- static permissions ------------------------------------------------------

test('static permissions: publish (acknowledged), subscribe, call and register each refused', async () => {
	// Test a role allowed only under "ok.": each action on "no.*" gets
	// ERROR [8, <request type>, req, {}, wamp.error.not_authorized] (the
	// procedure exists, so it is not no_such_procedure); the same actions
	// under "ok." succeed.
	const c = await rawSession(gw, { path: '/limited' });
	assertDenied(await pubAck(c, 'no.pub'), T.PUBLISH, 'publish');
	assertDenied(await sub(c, 'no.sub'), T.SUBSCRIBE, 'subscribe');
	assertDenied(await call(c, 'no.proc'), T.CALL, 'call');
	assertDenied(await reg(c, 'no.reg'), T.REGISTER, 'register');
	assertAllowed(await pubAck(c, 'ok.pub'), T.PUBLISH, 'publish ok.');
	assertAllowed(await sub(c, 'ok.sub'), T.SUBSCRIBE, 'subscribe ok.');
	const r = await call(c, 'ok.proc', [5]);
	assertAllowed(r, T.CALL, 'call ok.');
	assert.deepEqual(r[3], ['echo', 5]);
	assertAllowed(await reg(c, 'ok.reg'), T.REGISTER, 'register ok.');
	await c.close();
});

test('static permissions per action: a subscribe-only role (Autobahn|JS)', async () => {
	// Test that the same URI is allowed for subscribe and refused for
	// publish (acknowledge), call and register, as Autobahn|JS errors.
	const s = await connectAutobahn(gw, { path: '/subonly' });
	try {
		const sb = await settle(s.subscribe('ok.proc', () => {}));
		assert.equal(sb.ok, true, `subscribe: ${sb.error}`);
		for (const [what, p] of [
			['publish', () => s.publish('ok.proc', [1], {}, { acknowledge: true })],
			['call', () => s.call('ok.proc', [1])],
			['register', () => s.register('ok.subonly.reg', () => 1)],
		]) {
			const r = await settle(p());
			assert.equal(r.ok, false, `${what} must be refused`);
			assert.equal(r.error, 'wamp.error.not_authorized', `${what}: ${JSON.stringify(r)}`);
		}
	} finally {
		await s.end();
	}
});

test('static permissions: a refused PUBLISH without acknowledge is dropped silently', async () => {
	// Test that nothing is sent back, no subscriber gets the event, and the
	// session keeps working.
	const got = [];
	const sb = await admin.subscribe('no.silent', (a) => got.push(a[0]));
	const c = await rawSession(gw, { path: '/limited' });
	try {
		c.send([T.PUBLISH, c.reqId(), {}, 'no.silent', ['dropped']]);
		assertAllowed(await sub(c, 'ok.after.silent'), T.SUBSCRIBE, 'the next request');
		await sleep(150);
		assert.equal(c.messages.length, 2, `only WELCOME and SUBSCRIBED: ${JSON.stringify(c.messages)}`);
		assert.deepEqual(got, []);
	} finally {
		await c.close();
		await admin.unsubscribe(sb);
	}
});

// ---- dynamic authorizer ---------------------------------------------------------

test('authorizer: called as (session_details, uri, action, options); allow and deny for each action', async () => {
	// Test a raw /dyn session: allow.* passes for all four actions, deny.*
	// is refused for all four; the authorizer saw session_details {session,
	// authid, authrole dyn, authmethod anonymous, authprovider static,
	// transport}, the URI, the action name and an options dict.
	const c = await rawSession(gw, { path: '/dyn' });
	const me = c.welcome[1];
	const ok = await fourActions(c, 'allow.a1');
	assertAllowed(ok.publish, T.PUBLISH, 'publish');
	assertAllowed(ok.subscribe, T.SUBSCRIBE, 'subscribe');
	assertAllowed(ok.register, T.REGISTER, 'register');
	// allow.a1.proc has no callee: past the authorizer it is no_such_procedure
	assert.equal(ok.call[0], T.ERROR);
	assert.equal(ok.call[4], 'wamp.error.no_such_procedure', JSON.stringify(ok.call));
	const r = await call(c, 'allow.proc', [3]);
	assertAllowed(r, T.CALL, 'call allow.proc');
	assert.deepEqual(r[3], ['echo', 3]);
	const no = await fourActions(c, 'deny.a1');
	assertDenied(no.publish, T.PUBLISH, 'publish deny');
	assertDenied(no.subscribe, T.SUBSCRIBE, 'subscribe deny');
	assertDenied(no.call, T.CALL, 'call deny');
	assertDenied(no.register, T.REGISTER, 'register deny');
	assertDenied(await call(c, 'deny.proc'), T.CALL, 'call deny.proc (registered)');
	// a denied PUBLISH without acknowledge gets no answer at all
	const before = c.messages.length;
	c.send([T.PUBLISH, c.reqId(), {}, 'deny.a1.silent', [1]]);
	assertAllowed(await sub(c, 'allow.a1.after'), T.SUBSCRIBE, 'the request after');
	assert.equal(c.messages.length, before + 1, JSON.stringify(c.messages.slice(before)));
	assert.ok(callsFor('deny.a1.silent', 'publish').length === 1, 'the authorizer was asked about the silent publish');

	const seen = [
		callsFor('allow.a1', 'publish'), callsFor('allow.a1', 'subscribe'),
		callsFor('allow.a1.reg', 'register'), callsFor('allow.proc', 'call'),
		callsFor('deny.a1', 'publish'), callsFor('deny.a1.reg', 'register'), callsFor('deny.proc', 'call'),
	];
	for (const s of seen) assert.equal(s.length >= 1, true, `authorizer calls: ${JSON.stringify(authz.map((x) => [x.uri, x.action]))}`);
	const x = callsFor('allow.a1', 'publish')[0];
	assert.ok(x.n === 4 || x.n === 3, `argument count ${x.n}`);
	assert.equal(x.sd.session, me);
	assert.match(x.sd.authid, AUTHID);
	assert.equal(x.sd.authid, c.welcome[2].authid);
	assert.equal(x.sd.authrole, 'dyn');
	assert.equal(x.sd.authmethod, 'anonymous');
	assert.equal(x.sd.authprovider, 'static');
	assert.equal(typeof x.sd.transport, 'object');
	assert.ok(x.sd.transport !== null);
	if (x.n === 4) assert.equal(typeof x.options, 'object');
	await c.close();
});

test('authorizer: per-action answers for the same URI', async () => {
	// Test mixed.*: the authorizer allows subscribe and publish but not call
	// or register.
	const c = await rawSession(gw, { path: '/dyn' });
	assertAllowed(await pubAck(c, 'mixed.x'), T.PUBLISH, 'publish');
	assertAllowed(await sub(c, 'mixed.x'), T.SUBSCRIBE, 'subscribe');
	assertDenied(await call(c, 'mixed.proc'), T.CALL, 'call');
	assertDenied(await reg(c, 'mixed.x.reg'), T.REGISTER, 'register');
	await c.close();
});

test('authorizer: {allow: true} works; {disclose: true} discloses the publisher', async () => {
	// Test dict answers: a subscriber gets details.publisher = the
	// publisher's session for disclose.*, and no publisher for allow.*.
	const events = [];
	const subs = [];
	for (const t of ['dict.d1', 'disclose.d1', 'allow.d1']) {
		subs.push(await admin.subscribe(t, (a, k, d) => events.push({ t, publisher: d.publisher })));
	}
	const p = await connectAutobahn(gw, { path: '/dyn' });
	try {
		for (const t of ['dict.d1', 'disclose.d1', 'allow.d1']) {
			const r = await settle(p.publish(t, [t], {}, { acknowledge: true }));
			assert.equal(r.ok, true, `${t}: ${JSON.stringify(r)}`);
		}
		await waitFor(() => events.length === 3, 3000, 'three events');
		const by = Object.fromEntries(events.map((e) => [e.t, e.publisher]));
		assert.equal(by['disclose.d1'], p.id);
		assert.equal(by['allow.d1'], undefined);
		assert.equal(by['dict.d1'], undefined);
	} finally {
		await p.end();
		for (const s of subs) await admin.unsubscribe(s);
	}
});

test('authorizer cache: true -> one call per (authrole, uri, action), across sessions; false -> every time', async () => {
	// Test 3 publishes from one /dyn session and 2 from another on cached.*:
	// one authorizer call; a subscribe to it: one more (another action); a
	// cached denial twice: one call, both refused; allow.* three times:
	// three calls.
	const topic = u('cached');
	const denied = u('cachedeny');
	const plain = u('allow');
	const a = await rawSession(gw, { path: '/dyn' });
	const b = await rawSession(gw, { path: '/dyn' });
	for (let i = 0; i < 3; i++) assertAllowed(await pubAck(a, topic), T.PUBLISH, `a #${i}`);
	for (let i = 0; i < 2; i++) assertAllowed(await pubAck(b, topic), T.PUBLISH, `b #${i}`);
	assert.equal(callsFor(topic, 'publish').length, 1, 'cached publish decision');
	assertAllowed(await sub(a, topic), T.SUBSCRIBE, 'subscribe');
	assertAllowed(await sub(b, topic), T.SUBSCRIBE, 'subscribe b');
	assert.equal(callsFor(topic, 'subscribe').length, 1, 'cached subscribe decision');
	assertDenied(await pubAck(a, denied), T.PUBLISH, 'cached deny 1');
	assertDenied(await pubAck(b, denied), T.PUBLISH, 'cached deny 2');
	assert.equal(callsFor(denied, 'publish').length, 1, 'cached denial');
	for (let i = 0; i < 3; i++) assertAllowed(await pubAck(a, plain), T.PUBLISH, `plain #${i}`);
	assert.equal(callsFor(plain, 'publish').length, 3, 'uncached: asked every time');
	await a.close();
	await b.close();
});

test('authorizer raising, answering junk, or absent -> denied', async () => {
	// Test autobahn.Error, a TypeError, "yes", {}, {allow: 1},
	// {allow: "true"}, null and [true] as answers (publish acknowledged and
	// subscribe), and a role whose authorizer nobody registered (all four
	// actions).
	const c = await rawSession(gw, { path: '/dyn' });
	for (const t of ['raise.x', 'crash.x', 'junk.str', 'junk.empty', 'junk.num', 'junk.strflag', 'junk.nul', 'junk.list']) {
		assertDenied(await pubAck(c, t), T.PUBLISH, `publish ${t}`);
		assertDenied(await sub(c, t), T.SUBSCRIBE, `subscribe ${t}`);
		assert.ok(callsFor(t).length >= 2, `${t}: the authorizer was asked`);
	}
	assertDenied(await call(c, 'raise.proc'), T.CALL, 'call raise.proc');
	assertDenied(await call(c, 'junk.str.proc'), T.CALL, 'call junk.str.proc');
	await c.close();
	const n = await rawSession(gw, { path: '/noauthz' });
	const r = await fourActions(n, 'allow.noauthz');
	assertDenied(r.publish, T.PUBLISH, 'no authorizer: publish');
	assertDenied(r.subscribe, T.SUBSCRIBE, 'no authorizer: subscribe');
	assertDenied(r.call, T.CALL, 'no authorizer: call');
	assertDenied(r.register, T.REGISTER, 'no authorizer: register');
	assertDenied(await call(n, 'allow.proc'), T.CALL, 'no authorizer: call allow.proc');
	await n.close();
});

test('order is kept while an authorization is pending: publishes, and replies', async () => {
	// Test a /dyn session publishing slow.o1 (authorizer takes 300 ms), then
	// allow.o2, then dict.o3 (acknowledged) back to back: a subscriber gets
	// 1, 2, 3 in that order. Then SUBSCRIBE slow.o4 followed at once by CALL
	// allow.proc: SUBSCRIBED comes before RESULT.
	const got = [];
	const subs = [];
	for (const t of ['slow.o1', 'allow.o2', 'dict.o3']) subs.push(await admin.subscribe(t, (a) => got.push(a[0])));
	const c = await rawSession(gw, { path: '/dyn' });
	try {
		const t0 = Date.now();
		c.send([T.PUBLISH, c.reqId(), {}, 'slow.o1', [1]]);
		c.send([T.PUBLISH, c.reqId(), {}, 'allow.o2', [2]]);
		const ack = c.reqId();
		c.send([T.PUBLISH, ack, { acknowledge: true }, 'dict.o3', [3]]);
		const m = await c.next(5000);
		assert.deepEqual([m[0], m[1]], [T.PUBLISHED, ack], JSON.stringify(m));
		await waitFor(() => got.length === 3, 3000, () => `3 events (have ${JSON.stringify(got)})`);
		assert.deepEqual(got, [1, 2, 3]);
		assert.ok(Date.now() - t0 >= 250, 'the slow authorizer was waited for');

		const r1 = c.reqId();
		const r2 = c.reqId();
		c.send([T.SUBSCRIBE, r1, {}, 'slow.o4']);
		c.send([T.CALL, r2, {}, 'allow.proc', ['after']]);
		const first = await c.next(5000);
		const second = await c.next(5000);
		assert.deepEqual([first[0], first[1]], [T.SUBSCRIBED, r1], JSON.stringify([first, second]));
		assert.deepEqual([second[0], second[1]], [T.RESULT, r2], JSON.stringify([first, second]));
	} finally {
		await c.close();
		for (const s of subs) await admin.unsubscribe(s);
	}
});

// ---- bridge paths and SSE ---------------------------------------------------------

test('the authorizer decides /publish of a bridge path whose role has it', async () => {
	// Test POST /pubdyn: allow.* -> 200 {"id"} and the event arrives; deny.*
	// -> 200 wamp.error.not_authorized and nothing arrives; the authorizer saw
	// action publish for role dyn.
	const got = [];
	const s1 = await admin.subscribe('allow.bridge.pub', (a) => got.push(a[0]));
	const s2 = await admin.subscribe('deny.bridge.pub', (a) => got.push(a[0]));
	try {
		const ok = await postJson(gw, '/pubdyn', { topic: 'allow.bridge.pub', args: ['yes'] });
		assert.equal(ok.status, 200, ok.text);
		assert.ok(isId(ok.json.id), ok.text);
		const no = await postJson(gw, '/pubdyn', { topic: 'deny.bridge.pub', args: ['no'] });
		assert.equal(no.status, 200, no.text);
		assert.ok(isErrorBody(no.json, 'wamp.error.not_authorized'), no.text);
		await waitFor(() => got.length >= 1, 3000, 'the allowed event');
		await sleep(100);
		assert.deepEqual(got, ['yes']);
		const x = callsFor('allow.bridge.pub', 'publish').at(-1);
		assert.ok(x, 'the authorizer was asked');
		assert.equal(x.sd.authrole, 'dyn');
		assert.equal(callsFor('deny.bridge.pub', 'publish').length >= 1, true);
	} finally {
		await admin.unsubscribe(s1);
		await admin.unsubscribe(s2);
	}
});

test('the authorizer decides /call of a bridge path whose role has it', async () => {
	// Test POST /calldyn: allow.proc -> 200 {"args"}; deny.proc -> 200
	// wamp.error.not_authorized without invoking the callee.
	const invoked = [];
	const r = await admin.register('deny.bridge.proc', (a) => { invoked.push(a); return 'reached'; });
	try {
		const ok = await postJson(gw, '/calldyn', { procedure: 'allow.proc', args: [9] });
		assert.equal(ok.status, 200, ok.text);
		assert.deepEqual(ok.json, { args: ['echo', 9] });
		const no = await postJson(gw, '/calldyn', { procedure: 'deny.bridge.proc', args: [1] });
		assert.equal(no.status, 200, no.text);
		assert.ok(isErrorBody(no.json, 'wamp.error.not_authorized'), no.text);
		assert.deepEqual(invoked, []);
		assert.equal(callsFor('allow.proc', 'call').at(-1).sd.authrole, 'dyn');
	} finally {
		await admin.unregister(r);
	}
});

test('the authorizer decides SSE subscriptions: denied -> 403 before the stream, allowed -> events', async () => {
	// Test GET /ssedyn?topic=deny.sse -> 403 JSON wamp.error.not_authorized
	// (no event stream); topic=allow.sse -> 200 and an event published by
	// the trusted session arrives; the authorizer saw action subscribe.
	const no = openSse(gw, { topic: 'deny.sse' }, { path: '/ssedyn' });
	const { status, headers } = await no.ready;
	assert.equal(status, 403, no.text);
	assert.ok(!/event-stream/.test(headers['content-type'] || ''), headers['content-type']);
	assert.ok(isErrorBody(no.json, 'wamp.error.not_authorized'), no.text);
	no.close();
	assert.ok(callsFor('deny.sse', 'subscribe').length >= 1, 'the authorizer was asked about deny.sse');
	const s = await openSseLive(gw, { topic: 'allow.sse' }, { path: '/ssedyn' });
	try {
		assert.ok(callsFor('allow.sse', 'subscribe').length >= 1);
		await admin.publish('allow.sse', ['to sse'], {}, { acknowledge: true });
		await s.waitEvents(1);
		assert.deepEqual(s.events[0].json.args, ['to sse']);
		assert.equal(s.events[0].json.topic, 'allow.sse');
	} finally {
		s.close();
	}
});
