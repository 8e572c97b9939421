// 20-wamp-session: WAMP session lifecycle on /ws: the WELCOME (roles and
// features exactly as the contract), ABORTs (no_such_realm, each kind of
// protocol violation, payload_size_exceeded) with their close codes, the
// GOODBYE handshake, shutdown GOODBYE, abrupt drops, msgpack sessions and a
// separate-port websocket transport.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	startGateway, stopClean, makeConfig, request, freePort, within, waitFor, info,
} from './lib/gateway.mjs';
import {
	T, CLIENT_ROLES, rawWamp, rawSession, rawSubscribe, rawRegister, connectAutobahn,
	connectWampy, connectPython, settle,
} from './lib/wamp.mjs';

const MAX = 4096;
let gw;

function config() {
	const cfg = makeConfig({
		paths: {
			small: { type: 'websocket', options: { max_message_size: MAX } },
			guest: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'guest' } } },
		},
	});
	cfg.workers[0].realms[0].roles.push({
		name: 'guest',
		permissions: [{ uri: '', match: 'prefix', allow: { subscribe: true, call: true } }],
	});
	return cfg;
}

before(async () => { gw = await startGateway({ config: config() }); });
after(async () => { await stopClean(gw); });

const AUTHID = /^[0-9A-Z]{4}(-[0-9A-Z]{4}){5}$/;
const isId = (x) => Number.isInteger(x) && x >= 1 && x <= 2 ** 53;

const ROLES = {
	broker: {
		features: {
			publisher_identification: true, pattern_based_subscription: true,
			publisher_exclusion: true, subscriber_blackwhite_listing: true, session_meta_api: true,
			event_history: true,
		},
	},
	dealer: {
		features: {
			caller_identification: true, pattern_based_registration: true, shared_registration: true,
			progressive_call_results: true, call_canceling: true, call_timeout: true,
			session_meta_api: true,
		},
	},
};

test('WELCOME: session id, realm, authid/authrole/authmethod/authprovider, agent, roles exactly', async () => {
	// Test the WELCOME details of two raw JSON sessions field by field; ids
	// and authids are well-formed and differ between sessions.
	const a = await rawWamp(gw);
	const b = await rawWamp(gw);
	const wa = await a.join();
	const wb = await b.join();
	for (const w of [wa, wb]) {
		assert.equal(w.length, 3, JSON.stringify(w));
		assert.equal(w[0], T.WELCOME);
		assert.ok(isId(w[1]), `session id ${w[1]}`);
		const d = w[2];
		assert.equal(d.realm, 'realm1');
		assert.match(d.authid, AUTHID);
		assert.equal(d.authrole, 'anonymous');
		assert.equal(d.authmethod, 'anonymous');
		assert.equal(d.authprovider, 'static');
		assert.match(d.agent, /^Switchboard-\S+$/);
		assert.deepEqual(d.roles, ROLES);
	}
	assert.notEqual(wa[1], wb[1]);
	assert.notEqual(wa[2].authid, wb[2].authid);
	await a.close();
	await b.close();
});

test('Autobahn|JS, wampy and Autobahn|Python join and see the same session facts', async () => {
	// Test that all three client libraries open a session on realm1 and that
	// their view of the WELCOME (id, authid, authrole) is consistent.
	const ab = await connectAutobahn(gw);
	assert.ok(isId(ab.id));
	assert.equal(ab.realm, 'realm1');
	assert.match(ab.welcome.authid, AUTHID);
	assert.equal(ab.welcome.authrole, 'anonymous');
	assert.equal(ab.welcome.authmethod, 'anonymous');
	assert.deepEqual(ab.welcome.roles, ROLES);
	const w = await connectWampy(gw);
	assert.ok(isId(w.getSessionId()));
	const py = await connectPython(gw);
	assert.ok(isId(py.session));
	assert.match(py.authid, AUTHID);
	assert.equal(py.authrole, 'anonymous');
	assert.equal(new Set([ab.id, w.getSessionId(), py.session]).size, 3);
	await ab.end();
	await w.end();
	await py.end();
});

test("authrole is the path's auth.anonymous.role", async () => {
	// Test that /guest (auth.anonymous.role "guest") welcomes with authrole
	// "guest", authmethod "anonymous".
	const c = await rawWamp(gw, { path: '/guest' });
	const w = await c.join();
	assert.equal(w[2].authrole, 'guest');
	assert.equal(w[2].authmethod, 'anonymous');
	assert.match(w[2].authid, AUTHID);
	await c.close();
});

test('an unknown realm is ABORTed with wamp.error.no_such_realm, then closed', async () => {
	// Test HELLO for realm "nosuch" -> [3, {"message": ..}, no_such_realm],
	// nothing else, and the connection closes.
	const c = await rawWamp(gw);
	c.send([T.HELLO, 'nosuch', { roles: CLIENT_ROLES }]);
	const m = await c.next();
	assert.equal(m[0], T.ABORT, JSON.stringify(m));
	assert.equal(m[2], 'wamp.error.no_such_realm');
	assert.equal(typeof m[1].message, 'string');
	assert.ok(m[1].message.length > 0);
	const closed = await within(c.closed, 5000);
	assert.notEqual(closed, 'timeout', 'the router must close the connection after ABORT');
	assert.equal(c.messages.length, 1, JSON.stringify(c.messages));
});

test('subprotocols: json and msgpack are chosen by the client order; others get HTTP 400 JSON', async () => {
	// Test the negotiated subprotocol for each offer and that offers without a
	// supported WAMP serializer (none, cbor only, mqtt) are refused with 400
	// and a JSON error body.
	const cases = [
		[['wamp.2.msgpack'], 'wamp.2.msgpack'],
		[['wamp.2.json', 'wamp.2.msgpack'], 'wamp.2.json'],
		[['wamp.2.msgpack', 'wamp.2.json'], 'wamp.2.msgpack'],
		[['wamp.2.cbor', 'wamp.2.json'], 'wamp.2.json'],
	];
	for (const [offer, want] of cases) {
		const c = await rawWamp(gw, { protocol: offer });
		assert.equal(c.ws.protocol, want, `offer ${offer}`);
		await c.close();
	}
	for (const offer of [null, ['wamp.2.cbor'], ['mqtt']]) {
		const e = await rawWamp(gw, { protocol: offer }).then(() => null, (err) => err);
		assert.ok(e, `offer ${offer} must be refused`);
		assert.equal(e.status, 400, `offer ${offer}: ${e.message}`);
		assert.ok(e.json && typeof e.json.error === 'string' && Array.isArray(e.json.args),
			`offer ${offer}: body ${e.body}`);
	}
});

// ---- protocol violations ----------------------------------------------------

async function expectViolation(c, what) {
	const m = await c.next(5000);
	assert.ok(Array.isArray(m), `${what}: not a message: ${JSON.stringify(m)}`);
	assert.equal(m[0], T.ABORT, `${what}: expected ABORT, got ${JSON.stringify(m)}`);
	assert.equal(m[2], 'wamp.error.protocol_violation', `${what}: ${JSON.stringify(m)}`);
	assert.equal(typeof m[1].message, 'string', `${what}: details.message`);
	assert.ok(m[1].message.length > 0);
	const closed = await within(c.closed, 5000);
	assert.notEqual(closed, 'timeout', `${what}: the router must close after ABORT`);
	assert.equal(closed.code, 1002, `${what}: close code`);
}

const VIOLATIONS = [
	// [name, joinFirst, frames (arrays are serialized; strings sent as text)]
	['a message that is not a list', true, ['{"type": 32}']],
	['a JSON number as the message', true, ['42']],
	['an unknown message type code', true, [[999, 1, {}, 'com.example.t']]],
	['the old HEARTBEAT code 7', true, [[7, 1, 1]]],
	['SUBSCRIBE with the topic missing (wrong arity)', true, [[T.SUBSCRIBE, 1, {}]]],
	['SUBSCRIBE with a string request id (wrong type)', true, [[T.SUBSCRIBE, 'one', {}, 'com.example.t']]],
	['PUBLISH with options not a dict', true, [[T.PUBLISH, 1, [], 'com.example.t']]],
	['SUBSCRIBE before HELLO', false, [[T.SUBSCRIBE, 1, {}, 'com.example.t']]],
	['CALL before HELLO', false, [[T.CALL, 1, {}, 'com.example.p']]],
	['HELLO after WELCOME', true, [[T.HELLO, 'realm1', { roles: CLIENT_ROLES }]]],
	['HELLO with an invalid realm URI', false, [[T.HELLO, 'realm 1', { roles: CLIENT_ROLES }]]],
	['HELLO with realm a..b', false, [[T.HELLO, 'a..b', { roles: CLIENT_ROLES }]]],
	['HELLO with details missing', false, [[T.HELLO, 'realm1']]],
	['undecodable JSON before HELLO', false, ['[1, "realm1", {']],
	['undecodable JSON after WELCOME', true, ['[16, 1, {}, "a.b", [1,']],
	['ERROR for a request type a client may not answer', true, [[T.ERROR, T.CALL, 1, {}, 'com.example.err']]],
	['PUBLISH with args not a list', true, [[T.PUBLISH, 1, {}, 'com.example.t', { x: 1 }]]],
	['PUBLISH with kwargs not a dict', true, [[T.PUBLISH, 1, {}, 'com.example.t', [], [1]]]],
	['SUBSCRIBE with request id 0 (ids are 1..2^53)', true, [[T.SUBSCRIBE, 0, {}, 'com.example.t']]],
	['SUBSCRIBE with a negative request id', true, [[T.SUBSCRIBE, -1, {}, 'com.example.t']]],
	['SUBSCRIBE with request id 1.5', true, [[T.SUBSCRIBE, 1.5, {}, 'com.example.t']]],
	['SUBSCRIBE with request id 2^53 + 2', true, ['[32, 9007199254740994, {}, "com.example.t"]']],
	['an EVENT sent by a client (router-to-client message)', true, [[T.EVENT, 1, 1, {}]]],
	['a WELCOME sent by a client', true, [[T.WELCOME, 1, {}]]],
	['HELLO with roles not a dict', false, [[T.HELLO, 'realm1', { roles: ['caller'] }]]],
];

for (const [name, joinFirst, frames] of VIOLATIONS) {
	test(`protocol violation: ${name} -> ABORT protocol_violation, close 1002`, async () => {
		// Test that the frame is answered with ABORT wamp.error.protocol_violation
		// (details.message set) and then a WebSocket close with code 1002.
		const c = await rawWamp(gw);
		if (joinFirst) await c.join();
		for (const f of frames) {
			if (typeof f === 'string') c.sendRaw(f, false);
			else c.send(f);
		}
		await expectViolation(c, name);
	});
}

test('protocol violation: undecodable msgpack -> ABORT (msgpack) and close 1002', async () => {
	// Test a msgpack session sending the never-used byte 0xc1 and a truncated
	// array: the ABORT comes back as a binary msgpack frame.
	// 0xc1 (never used), a truncated array, and PUBLISH whose options map has
	// an integer key (JSON cannot carry it).
	const intKey = Buffer.concat([Buffer.from([0x94, 0x10, 0x01, 0x81, 0x01, 0xa1, 0x78, 0xa3]), Buffer.from('a.b')]);
	for (const bytes of [Buffer.from([0xc1]), Buffer.from([0x94, 0x10, 0x01]), intKey]) {
		const c = await rawWamp(gw, { protocol: 'wamp.2.msgpack' });
		await c.join();
		c.sendRaw(bytes, true);
		await expectViolation(c, `msgpack bytes ${bytes.toString('hex')}`);
		assert.equal(c.lastFrameBinary, true, 'ABORT must be a binary frame on msgpack');
	}
});

test('YIELD for an unknown invocation is dropped silently (not a violation)', async () => {
	// Test that [70, 12345, {}] is ignored: the session stays open and the next
	// request is answered normally.
	const c = await rawSession(gw);
	c.send([T.YIELD, 12345, {}, ['late']]);
	c.send([T.ERROR, T.INVOCATION, 12346, {}, 'com.example.late']);
	const sub = await rawSubscribe(c, 'com.example.after.yield');
	assert.ok(isId(sub));
	assert.equal(c.messages.length, 2, JSON.stringify(c.messages));
	await c.close();
});

test('request ids need not be sequential (wampy-style random ids up to 2^53)', async () => {
	// Test SUBSCRIBE/REGISTER with request ids 2^53, 77 and 5 in that order:
	// each reply echoes its request id.
	const c = await rawSession(gw);
	for (const [req, msg] of [[2 ** 53, [T.SUBSCRIBE, 2 ** 53, {}, 'com.example.ids.a']],
		[77, [T.REGISTER, 77, {}, 'com.example.ids.p']], [5, [T.SUBSCRIBE, 5, {}, 'com.example.ids.b']]]) {
		c.send(msg);
		const m = await c.next();
		assert.ok(m[0] === T.SUBSCRIBED || m[0] === T.REGISTERED, JSON.stringify(m));
		assert.equal(m[1], req);
		assert.ok(isId(m[2]));
	}
	await c.close();
});

test('invalid URIs in requests -> ERROR wamp.error.invalid_uri; wamp.* publish/register refused', async () => {
	// Test SUBSCRIBE "a..b", PUBLISH(acknowledge) "a b", CALL "a.", REGISTER
	// "#x", PUBLISH(acknowledge) "wamp.foo" and REGISTER "wamp.foo": each gets
	// ERROR [8, type, req, {}, wamp.error.invalid_uri]; the session stays up.
	const c = await rawSession(gw);
	const reqs = [
		[T.SUBSCRIBE, [T.SUBSCRIBE, 11, {}, 'a..b']],
		[T.PUBLISH, [T.PUBLISH, 12, { acknowledge: true }, 'a b']],
		[T.CALL, [T.CALL, 13, {}, 'a.']],
		[T.REGISTER, [T.REGISTER, 14, {}, '#x']],
		[T.PUBLISH, [T.PUBLISH, 15, { acknowledge: true }, 'wamp.foo']],
		[T.REGISTER, [T.REGISTER, 16, {}, 'wamp.foo']],
	];
	for (const [type, msg] of reqs) {
		c.send(msg);
		const m = await c.next();
		assert.equal(m[0], T.ERROR, `${JSON.stringify(msg)} -> ${JSON.stringify(m)}`);
		assert.equal(m[1], type);
		assert.equal(m[2], msg[1]);
		assert.equal(typeof m[3], 'object');
		assert.equal(m[4], 'wamp.error.invalid_uri', JSON.stringify(m));
	}
	const sub = await rawSubscribe(c, 'com.example.still.ok');
	assert.ok(isId(sub));
	await c.close();
});

// ---- sizes ----------------------------------------------------------------

test('a message over max_message_size -> ABORT payload_size_exceeded, close 1009', async () => {
	// Test /small (max_message_size 4096): a 3,000-byte PUBLISH is acknowledged,
	// a 5,000-byte one is answered with ABORT wamp.error.payload_size_exceeded
	// and close code 1009; the gateway keeps serving.
	const c = await rawWamp(gw, { path: '/small' });
	await c.join();
	c.send([T.PUBLISH, 1, { acknowledge: true }, 'com.example.size', ['x'.repeat(3000)]]);
	const ok = await c.next();
	assert.equal(ok[0], T.PUBLISHED, JSON.stringify(ok));
	assert.equal(ok[1], 1);
	const big = [T.PUBLISH, 2, { acknowledge: true }, 'com.example.size', ['x'.repeat(5000)]];
	assert.ok(Buffer.byteLength(JSON.stringify(big)) > MAX);
	c.send(big);
	const m = await c.next();
	assert.equal(m[0], T.ABORT, JSON.stringify(m).slice(0, 300));
	assert.equal(m[2], 'wamp.error.payload_size_exceeded');
	assert.equal(typeof m[1].message, 'string');
	const closed = await within(c.closed, 5000);
	assert.notEqual(closed, 'timeout');
	assert.equal(closed.code, 1009);
	assert.equal((await request(gw, 'GET', '/healthz')).status, 200);
	const d = await rawSession(gw, { path: '/small' });
	await d.close();
});

// ---- ending sessions ------------------------------------------------------

test('GOODBYE from the client gets exactly one GOODBYE goodbye_and_out', async () => {
	// Test [6, {}, "wamp.close.normal"] -> [6, {}, "wamp.close.goodbye_and_out"]
	// and nothing else; Autobahn|JS, wampy and Autobahn|Python leave cleanly.
	const c = await rawSession(gw);
	await rawSubscribe(c, 'com.example.bye');
	c.send([T.GOODBYE, {}, 'wamp.close.normal']);
	const m = await c.next();
	assert.deepEqual(m, [T.GOODBYE, {}, 'wamp.close.goodbye_and_out']);
	// Whether the router or the client closes the transport, no second GOODBYE.
	const r = await within(c.closed, 1500);
	if (r === 'timeout') await c.close();
	assert.equal(c.messages.length, 3, JSON.stringify(c.messages));

	const ab = await connectAutobahn(gw);
	ab.connection.close();
	const closed = await within(ab.closed, 5000);
	assert.notEqual(closed, 'timeout', 'Autobahn|JS leave did not complete');
	assert.equal(closed.reason, 'closed', JSON.stringify(closed));

	const w = await connectWampy(gw);
	const left = await within(w.disconnect(), 5000);
	assert.notEqual(left, 'timeout', 'wampy disconnect did not complete');

	const py = await connectPython(gw);
	py.send({ op: 'leave', id: 'l' });
	const l = await py.waitFor((x) => x.ev === 'left', 10000, 'Python onLeave');
	assert.equal(l.reason, 'wamp.close.goodbye_and_out');
	await py.kill();
});

test('an abrupt TCP drop cleans up: /healthz 200, its registration is gone, new sessions work', async () => {
	// Test a raw session that subscribed and registered, then vanishes without
	// a close frame: the gateway stays healthy, a CALL to its procedure gets
	// no_such_procedure and the URI can be registered again.
	const c = await rawSession(gw);
	await rawSubscribe(c, 'com.example.drop.t');
	await rawRegister(c, 'com.example.drop.p');
	c.ws._socket.destroy();
	await within(c.closed, 5000);
	assert.equal((await request(gw, 'GET', '/healthz')).status, 200);
	const ab = await connectAutobahn(gw);
	// The drop may take a moment to be noticed: wait until the procedure is gone.
	let last;
	const deadline = Date.now() + 10000;
	for (;;) {
		last = await settle(ab.call('com.example.drop.p'));
		if (!last.ok && last.error === 'wamp.error.no_such_procedure') break;
		assert.ok(Date.now() < deadline, `still routed after the drop: ${JSON.stringify(last)}`);
		await new Promise((r) => setTimeout(r, 100));
	}
	const reg = await ab.register('com.example.drop.p', () => 'new');
	assert.ok(isId(reg.id));
	const r = await ab.call('com.example.drop.p');
	assert.equal(r, 'new');
	await ab.end();
});

test('SIGTERM: sessions get GOODBYE wamp.close.system_shutdown, then close 1001', async () => {
	// Test a separate gateway: a raw session receives GOODBYE system_shutdown
	// and a close frame 1001; the gateway exits 0; Autobahn|JS and
	// Autobahn|Python sessions are told wamp.close.system_shutdown too.
	const g = await startGateway({ config: makeConfig() });
	const c = await rawSession(g);
	const ab = await connectAutobahn(g);
	const py = await connectPython(g);
	const exit = g.stop('SIGTERM');
	const m = await c.next(10000);
	assert.equal(m[0], T.GOODBYE, JSON.stringify(m));
	assert.equal(m[2], 'wamp.close.system_shutdown');
	c.send([T.GOODBYE, {}, 'wamp.close.goodbye_and_out']);
	const closed = await within(c.closed, 10000);
	assert.notEqual(closed, 'timeout');
	assert.equal(closed.code, 1001);
	assert.equal((await exit).code, 0);
	// Autobahn|JS and Autobahn|Python see the same reason.
	const abClosed = await within(ab.closed, 5000);
	assert.notEqual(abClosed, 'timeout');
	assert.equal(abClosed.details.reason, 'wamp.close.system_shutdown', JSON.stringify(abClosed));
	const left = await py.waitFor((l) => l.ev === 'left', 5000, 'Python onLeave');
	assert.equal(left.reason, 'wamp.close.system_shutdown');
	await py.kill();
});

// ---- msgpack and other transports -----------------------------------------

test('msgpack sessions: binary frames, WELCOME, pub/sub with bin payloads', async () => {
	// Test two raw msgpack sessions: WELCOME arrives as a binary frame with the
	// same details as JSON; an EVENT carries a msgpack bin (Buffer) and str
	// unchanged; an Autobahn|JS msgpack session can call a procedure.
	const a = await rawWamp(gw, { protocol: 'wamp.2.msgpack' });
	const w = await a.join();
	assert.equal(a.lastFrameBinary, true);
	assert.deepEqual(w[2].roles, ROLES);
	assert.equal(w[2].authrole, 'anonymous');
	const b = await rawSession(gw, { protocol: 'wamp.2.msgpack' });
	const sub = await rawSubscribe(a, 'com.example.mp');
	const bin = Buffer.from([0, 1, 2, 0xff, 0xfe]);
	b.send([T.PUBLISH, 1, { acknowledge: true }, 'com.example.mp', [bin, 'str', 1.5, -3], { k: bin }]);
	const pubd = await b.next();
	assert.equal(pubd[0], T.PUBLISHED, JSON.stringify(pubd));
	const ev = await a.next();
	assert.equal(ev[0], T.EVENT);
	assert.equal(ev[1], sub);
	assert.equal(ev[2], pubd[2]);
	assert.ok(Buffer.isBuffer(ev[4][0]), 'bin must stay bin');
	assert.deepEqual(ev[4], [bin, 'str', 1.5, -3]);
	assert.ok(Buffer.isBuffer(ev[5].k));
	assert.ok(ev[5].k.equals(bin));

	const ab = await connectAutobahn(gw, { serializer: 'msgpack' });
	assert.equal(ab.connection.transport.info.protocol, 'wamp.2.msgpack');
	await ab.register('com.example.mp.add', (args) => args[0] + args[1]);
	const ab2 = await connectAutobahn(gw, { serializer: 'msgpack' });
	assert.equal(await ab2.call('com.example.mp.add', [40, 2]), 42);
	await ab.end();
	await ab2.end();
	await a.close();
	await b.close();
});

test('a separate-port "websocket" transport serves WAMP on any path of its port, same realm', async () => {
	// Test a config with a second transport {type: websocket} on its own port:
	// Autobahn|JS joins at /anything there, and events cross to a subscriber
	// on the web transport's /ws.
	const port2 = await freePort();
	const cfg = makeConfig();
	cfg.workers[0].transports.push({
		type: 'websocket', endpoint: { type: 'tcp', interface: '127.0.0.1', port: port2 },
	});
	const g = await startGateway({ config: cfg });
	try {
		const sub = await connectAutobahn(g);
		const got = [];
		await sub.subscribe('com.example.port2', (args, kwargs) => got.push([args, kwargs]));
		for (const pth of ['/anything', '/']) {
			const c = await rawWamp(g, { url: `ws://127.0.0.1:${port2}${pth}` });
			const wl = await c.join();
			assert.equal(wl[2].realm, 'realm1');
			await c.close();
		}
		const pub = await connectAutobahn(g, { url: `ws://127.0.0.1:${port2}/anything` });
		const p = await pub.publish('com.example.port2', [1, 'two'], { three: 3 }, { acknowledge: true });
		assert.ok(isId(p.id));
		await waitFor(() => got.length === 1, 5000, 'the event from the second port');
		assert.deepEqual(got[0], [[1, 'two'], { three: 3 }]);
		await pub.end();
		await sub.end();
	} finally {
		await stopClean(g);
	}
});

test('auto_ping: pings every auto_ping_interval; a peer that stops answering is dropped', async () => {
	// Test a gateway of its own (lws applies one keep-alive policy to every
	// WebSocket path) with /ping at interval 200 ms, timeout 600 ms: a reading
	// client gets WebSocket pings (ws answers with pongs) and stays; a client
	// that stops reading (no pongs) is disconnected, as /info's ws_connections
	// shows.
	const g = await startGateway({
		config: makeConfig({
			paths: { ping: { type: 'websocket', options: { auto_ping_interval: 200, auto_ping_timeout: 600 } } },
		}),
	});
	try {
		const live = await rawSession(g, { path: '/ping' });
		let pings = 0;
		live.ws.on('ping', () => { pings++; });
		await waitFor(() => pings >= 3 || live.closeInfo, 8000, () => `3 pings (have ${pings})`);
		assert.equal(live.closeInfo, null, `a client answering pings was dropped after ${pings} pings`);
		const dead = await rawSession(g, { path: '/ping' });
		await waitFor(async () => (await info(g)).ws_connections === 2, 5000, 'the second connection');
		dead.ws._socket.pause();
		await waitFor(async () => (await info(g)).ws_connections === 1, 10000, 'the silent peer to be dropped');
		dead.ws._socket.resume();
		assert.notEqual(await within(dead.closed, 5000), 'timeout');
		assert.equal(live.closeInfo, null, 'the answering client must stay');
		const sub = await rawSubscribe(live, 'com.example.ping.still');
		assert.ok(isId(sub));
		await live.close();
	} finally {
		await stopClean(g);
	}
});
