// 22-wamp-rpc: the dealer: register/call payloads, error passthrough,
// no_such_procedure, registration conflicts, pattern routing precedence,
// shared registrations (roundrobin/first/last/random), caller disclosure,
// progressive results, call timeouts, every cancel mode (Autobahn|Python and
// wampy callers, a Python callee that announces call_canceling), callee loss
// mid-call, authorization and unregister.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, stopClean, makeConfig, waitFor, within } from './lib/gateway.mjs';
import {
	T, autobahn, rawSession, rawRegister, rawSubscribe, connectAutobahn, connectWampy, connectPython, settle,
} from './lib/wamp.mjs';

let gw;

function config() {
	const cfg = makeConfig({
		paths: {
			limited: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'limited' } } },
			disclosed: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'disclosed' } } },
		},
	});
	cfg.workers[0].realms[0].roles.push(
		{
			name: 'limited',
			permissions: [
				{ uri: '', match: 'prefix', allow: { subscribe: true } },
				{ uri: 'com.example.open.', match: 'prefix', allow: { call: true } },
			],
		},
		{
			name: 'disclosed',
			permissions: [{
				uri: '', match: 'prefix',
				allow: { call: true, register: true, publish: true, subscribe: true },
				disclose: { caller: true },
			}],
		},
	);
	return cfg;
}

before(async () => { gw = await startGateway({ config: config() }); });
after(async () => { await stopClean(gw); });

const isId = (x) => Number.isInteger(x) && x >= 1 && x <= 2 ** 53;
const pyEvents = (py, ev) => py.lines.filter((l) => l.ev === ev);

test('register/call: args and kwargs both ways; single, none and complex results', async () => {
	// Test an Autobahn|JS callee echoing its input as Result(args, kwargs), one
	// returning a single value and one returning nothing; INVOCATION details
	// carry no caller by default.
	const callee = await connectAutobahn(gw);
	const caller = await connectAutobahn(gw);
	const seen = [];
	await callee.register('com.example.echo', (args, kwargs, details) => {
		seen.push({ args, kwargs, details });
		return new autobahn.Result(args, kwargs);
	});
	await callee.register('com.example.single', (args) => args[0] * 2);
	await callee.register('com.example.nothing', () => undefined);
	const a = [1, 'two', { three: [3] }, null, 2.5];
	const k = { k: 'v', nested: { list: [true, false] }, 'ключ': 'значение' };
	const r = await caller.call('com.example.echo', a, k);
	assert.deepEqual([r.args, r.kwargs], [a, k]);
	assert.deepEqual([seen[0].args, seen[0].kwargs], [a, k]);
	assert.equal(seen[0].details.caller, undefined);
	assert.equal(await caller.call('com.example.single', [21]), 42);
	assert.equal(await caller.call('com.example.nothing'), null);
	const r2 = await caller.call('com.example.echo', [], { only: 'kw' });
	assert.deepEqual(r2.kwargs, { only: 'kw' });

	// The same over the wire: RESULT [50, req, {}, args, kwargs].
	const raw = await rawSession(gw);
	raw.send([T.CALL, 7, {}, 'com.example.echo', ['x'], { y: 1 }]);
	const m = await raw.next();
	assert.deepEqual([m[0], m[1], m[3], m[4]], [T.RESULT, 7, ['x'], { y: 1 }], JSON.stringify(m));
	assert.ok(!m[2].progress);
	await raw.close();
	await callee.end();
	await caller.end();
});

test('cross-library calls: wampy -> Python callee, Python -> wampy callee', async () => {
	// Test that a wampy caller gets exactly what an Autobahn|Python callee
	// echoes, and an Autobahn|Python caller what a wampy callee returns.
	const py = await connectPython(gw);
	await py.request({ op: 'register', procedure: 'com.example.py.echo', mode: 'echo' });
	const w = await connectWampy(gw);
	const r = await w.call('com.example.py.echo', { argsList: ['w', 1, [2]], argsDict: { from: 'wampy' } });
	assert.deepEqual(r.argsList, ['w', 1, [2]]);
	assert.deepEqual(r.argsDict, { from: 'wampy' });
	await w.register('com.example.wampy.add', (d) => ({ argsList: [d.argsList[0] + d.argsList[1]],
		argsDict: { by: 'wampy' } }));
	const pr = await py.request({ op: 'call', procedure: 'com.example.wampy.add', args: [40, 2] });
	assert.deepEqual(pr, { re: pr.re, ok: true, args: [42], kwargs: { by: 'wampy' } });
	await w.end();
	await py.end();
});

test('callee errors pass through: URI, args and kwargs unchanged', async () => {
	// Test an Autobahn|JS callee throwing autobahn.Error(custom URI, args,
	// kwargs): a raw caller gets [8, 48, req, {}, uri, args, kwargs]; a Python
	// callee's ApplicationError reaches an Autobahn|JS caller the same way.
	const callee = await connectAutobahn(gw);
	await callee.register('com.example.fails', (args) => {
		throw new autobahn.Error('com.example.error.custom', ['bad', args[0]], { code: 17, list: [1] });
	});
	const raw = await rawSession(gw);
	raw.send([T.CALL, 3, {}, 'com.example.fails', ['input']]);
	const m = await raw.next();
	assert.deepEqual(m, [T.ERROR, T.CALL, 3, m[3], 'com.example.error.custom', ['bad', 'input'], { code: 17, list: [1] }]);
	assert.equal(typeof m[3], 'object');
	const py = await connectPython(gw);
	await py.request({ op: 'register', procedure: 'com.example.py.fails', tag: 'pyf', mode: 'error' });
	const r = await settle(callee.call('com.example.py.fails', ['a', 2], { why: 'because' }));
	assert.deepEqual([r.ok, r.error, r.args, r.kwargs],
		[false, 'com.example.error.pyf', ['a', 2], { why: 'because' }]);
	await raw.close();
	await callee.end();
	await py.end();
});

test('no_such_procedure; procedure_already_exists; invocation policy mismatch', async () => {
	// Test the three ERROR URIs over raw sessions, with the request type and id
	// echoed.
	const a = await rawSession(gw);
	const b = await rawSession(gw);
	a.send([T.CALL, 1, {}, 'com.example.nobody.home']);
	assert.deepEqual(pick(await a.next()), [T.ERROR, T.CALL, 1, 'wamp.error.no_such_procedure']);

	await rawRegister(a, 'com.example.taken');
	b.send([T.REGISTER, 2, {}, 'com.example.taken']);
	assert.deepEqual(pick(await b.next()), [T.ERROR, T.REGISTER, 2, 'wamp.error.procedure_already_exists']);
	a.send([T.REGISTER, 3, {}, 'com.example.taken']);
	assert.deepEqual(pick(await a.next()), [T.ERROR, T.REGISTER, 3, 'wamp.error.procedure_already_exists']);
	b.send([T.REGISTER, 4, { invoke: 'roundrobin' }, 'com.example.taken']);
	assert.deepEqual(pick(await b.next()), [T.ERROR, T.REGISTER, 4, 'wamp.error.procedure_already_exists']);

	await rawRegister(a, 'com.example.shared', { invoke: 'roundrobin' });
	b.send([T.REGISTER, 5, { invoke: 'random' }, 'com.example.shared']);
	assert.deepEqual(pick(await b.next()),
		[T.ERROR, T.REGISTER, 5, 'wamp.error.procedure_exists_with_different_invocation_policy']);
	b.send([T.REGISTER, 6, { invoke: 'roundrobin' }, 'com.example.shared']);
	const ok = await b.next();
	assert.equal(ok[0], T.REGISTERED, JSON.stringify(ok));
	await a.close();
	await b.close();
});

function pick(m) { return [m[0], m[1], m[2], m[4]]; }

test('pattern registrations: exact > longest prefix > wildcard; details.procedure', async () => {
	// Test which registration an Autobahn|JS call reaches and what
	// INVOCATION.Details.procedure says, for exact, two nested prefixes and a
	// wildcard overlapping them.
	const callee = await connectAutobahn(gw);
	const reg = (uri, match, name) => callee.register(uri, (args, kwargs, details) => [name, details.procedure ?? null],
		match ? { match } : undefined);
	await reg('com.example.pat.exact', null, 'exact');
	await reg('com.example.pat', 'prefix', 'short');
	await reg('com.example.pat.long', 'prefix', 'long');
	await reg('com.example..get', 'wildcard', 'wild');
	const caller = await connectAutobahn(gw);
	const cases = [
		['com.example.pat.exact', 'exact', null],
		['com.example.pat.x', 'short', 'com.example.pat.x'],
		['com.example.pattern', 'short', 'com.example.pattern'],
		['com.example.pat.long.y', 'long', 'com.example.pat.long.y'],
		['com.example.pat.longer', 'long', 'com.example.pat.longer'],
		['com.example.pat.get', 'short', 'com.example.pat.get'],
		['com.example.thing.get', 'wild', 'com.example.thing.get'],
	];
	for (const [uri, who, proc] of cases) {
		const r = await caller.call(uri);
		const [name, p] = r.args || r;
		assert.equal(name, who, `call ${uri} went to ${name}`);
		if (proc !== null) assert.equal(p, proc, `details.procedure for ${uri}`);
	}
	const miss = await settle(caller.call('com.example.thing.put'));
	assert.equal(miss.error, 'wamp.error.no_such_procedure');
	await callee.end();
	await caller.end();
});

// N Autobahn|JS callees on one shared URI; returns {sessions, regIds}.
async function sharedCallees(uri, invoke, n) {
	const sessions = [];
	const regIds = [];
	for (let i = 0; i < n; i++) {
		const s = await connectAutobahn(gw);
		const r = await s.register(uri, () => i, { invoke });
		sessions.push(s);
		regIds.push(r.id);
	}
	return { sessions, regIds };
}

test('shared registration roundrobin: calls alternate exactly over 3 callees, one id', async () => {
	// Test 12 sequential calls over three roundrobin callees: every callee
	// serves every third call; after one unregisters, the other two alternate.
	const { sessions, regIds } = await sharedCallees('com.example.rr', 'roundrobin', 3);
	assert.equal(new Set(regIds).size, 1, `one shared registration id: ${regIds}`);
	const caller = await connectAutobahn(gw);
	const seq = [];
	for (let i = 0; i < 12; i++) seq.push(await caller.call('com.example.rr'));
	assert.deepEqual([...new Set(seq.slice(0, 3))].sort(), [0, 1, 2], `seq ${seq}`);
	for (let i = 3; i < 12; i++) assert.equal(seq[i], seq[i % 3], `not alternating: ${seq}`);
	await sessions[1].end();
	const seq2 = [];
	for (let i = 0; i < 6; i++) seq2.push(await caller.call('com.example.rr'));
	assert.deepEqual([...new Set(seq2)].sort(), [0, 2], `seq ${seq2}`);
	for (let i = 1; i < 6; i++) assert.notEqual(seq2[i], seq2[i - 1], `not alternating: ${seq2}`);
	for (const s of [sessions[0], sessions[2], caller]) await s.end();
});

test('shared registration first / last / random', async () => {
	// Test first -> always the oldest callee (then the next oldest once it
	// leaves), last -> always the newest, random -> only registered callees,
	// each of 3 chosen at least once in 60 calls.
	const caller = await connectAutobahn(gw);
	const first = await sharedCallees('com.example.first', 'first', 3);
	const last = await sharedCallees('com.example.last', 'last', 3);
	const rnd = await sharedCallees('com.example.random', 'random', 3);
	const calls = async (uri, n) => {
		const out = [];
		for (let i = 0; i < n; i++) out.push(await caller.call(uri));
		return out;
	};
	assert.deepEqual(await calls('com.example.first', 4), [0, 0, 0, 0]);
	assert.deepEqual(await calls('com.example.last', 4), [2, 2, 2, 2]);
	await first.sessions[0].end();
	await last.sessions[2].end();
	assert.deepEqual(await calls('com.example.first', 3), [1, 1, 1]);
	assert.deepEqual(await calls('com.example.last', 3), [1, 1, 1]);
	const r = await calls('com.example.random', 60);
	assert.ok(r.every((x) => x === 0 || x === 1 || x === 2), `${r}`);
	assert.equal(new Set(r).size, 3, `60 random calls should reach all 3 callees: ${r}`);
	for (const s of [...first.sessions.slice(1), ...last.sessions.slice(0, 2), ...rnd.sessions, caller]) {
		await s.end();
	}
});

test('caller disclosure: disclose_me, REGISTER disclose_caller, role disclose.caller', async () => {
	// Test INVOCATION.Details caller/caller_authid/caller_authrole: absent by
	// default, present with CALL disclose_me, for a registration with
	// disclose_caller, and for a caller whose role has disclose.caller.
	const callee = await rawSession(gw);
	const plain = await rawRegister(callee, 'com.example.who');
	const always = await rawRegister(callee, 'com.example.who.always', { disclose_caller: true });
	const caller = await rawSession(gw);
	const roleCaller = await rawSession(gw, { path: '/disclosed' });
	const invoke = async (c, req, opts, proc) => {
		c.send([T.CALL, req, opts, proc]);
		const inv = await callee.next();
		assert.equal(inv[0], T.INVOCATION, JSON.stringify(inv));
		callee.send([T.YIELD, inv[1], {}, ['ok']]);
		const res = await c.next();
		assert.deepEqual([res[0], res[1], res[3]], [T.RESULT, req, ['ok']]);
		return inv;
	};
	const i1 = await invoke(caller, 1, {}, 'com.example.who');
	assert.equal(i1[2], plain);
	assert.equal(i1[3].caller, undefined, JSON.stringify(i1));
	assert.equal(i1[3].caller_authid, undefined);
	const i2 = await invoke(caller, 2, { disclose_me: true }, 'com.example.who');
	assert.deepEqual([i2[3].caller, i2[3].caller_authid, i2[3].caller_authrole],
		[caller.session, caller.welcome[2].authid, 'anonymous'], JSON.stringify(i2));
	const i3 = await invoke(caller, 3, {}, 'com.example.who.always');
	assert.equal(i3[2], always);
	assert.deepEqual([i3[3].caller, i3[3].caller_authid, i3[3].caller_authrole],
		[caller.session, caller.welcome[2].authid, 'anonymous'], JSON.stringify(i3));
	const i4 = await invoke(roleCaller, 4, {}, 'com.example.who');
	assert.deepEqual([i4[3].caller, i4[3].caller_authid, i4[3].caller_authrole],
		[roleCaller.session, roleCaller.welcome[2].authid, 'disclosed'], JSON.stringify(i4));
	for (const c of [callee, caller, roleCaller]) await c.close();
});

test('progressive results: RESULT {progress: true} relayed at once, then the final RESULT', async () => {
	// Test a Python callee sending 3 progressive results: a raw caller sees
	// [50, req, {progress: true}, [i, tag]] x3 then the final result; the
	// INVOCATION asked for receive_progress; an Autobahn|Python caller gets the
	// same through on_progress; without receive_progress only the final result.
	const py = await connectPython(gw);
	await py.request({ op: 'register', procedure: 'com.example.prog', tag: 'prog', mode: 'progress', progress: 3 });
	const raw = await rawSession(gw);
	raw.send([T.CALL, 9, { receive_progress: true }, 'com.example.prog', ['raw']]);
	const got = [];
	for (let i = 0; i < 4; i++) got.push(await raw.next());
	for (let i = 0; i < 3; i++) {
		assert.deepEqual([got[i][0], got[i][1], got[i][2].progress, got[i][3]], [T.RESULT, 9, true, [i, 'raw']],
			JSON.stringify(got));
	}
	assert.deepEqual([got[3][0], got[3][1], got[3][3], got[3][4]], [T.RESULT, 9, ['done', 'raw'], { n: 3 }]);
	assert.ok(!got[3][2].progress, 'the final RESULT is not progressive');
	const inv = pyEvents(py, 'invocation').find((l) => l.args[0] === 'raw');
	assert.equal(inv.details.receive_progress, true);

	const caller = await connectPython(gw);
	const r = await caller.request({ op: 'call', id: 'pc', procedure: 'com.example.prog', args: ['py'],
		options: { receive_progress: true } });
	assert.deepEqual([r.ok, r.args, r.kwargs], [true, ['done', 'py'], { n: 3 }]);
	assert.deepEqual(pyEvents(caller, 'progress').filter((l) => l.call === 'pc').map((l) => l.args),
		[[0, 'py'], [1, 'py'], [2, 'py']]);

	raw.send([T.CALL, 10, {}, 'com.example.prog', ['plain']]);
	const only = await raw.next();
	assert.deepEqual([only[0], only[1], only[3]], [T.RESULT, 10, ['done', 'plain']]);
	assert.ok(!only[2].progress);
	await raw.close();
	await caller.end();
	await py.end();
});

test('call timeout -> wamp.error.timeout; a Python callee gets INTERRUPT killnowait, a JS callee none', async () => {
	// Test CALL options.timeout 400 ms against a Python callee that never
	// answers: the caller gets [8, 48, req, {}, wamp.error.timeout] after
	// >= 400 ms and the callee INTERRUPT killnowait. Against an Autobahn|JS
	// callee (no call_canceling) the timeout error comes too, and the callee is
	// not interrupted (it stays connected and serves the next call); its late
	// answer is dropped.
	const py = await connectPython(gw);
	await py.request({ op: 'register', procedure: 'com.example.slow.py', tag: 'slowpy', mode: 'hold' });
	const raw = await rawSession(gw);
	const t0 = Date.now();
	raw.send([T.CALL, 1, { timeout: 400 }, 'com.example.slow.py', ['t1']]);
	const e = await raw.next(10000);
	const took = Date.now() - t0;
	assert.deepEqual(pick(e), [T.ERROR, T.CALL, 1, 'wamp.error.timeout'], JSON.stringify(e));
	assert.ok(took >= 380, `timeout fired after ${took} ms (< 400: taken as seconds or ignored?)`);
	assert.ok(took < 5000, `timeout fired after ${took} ms`);
	const intr = await py.waitFor((l) => l.ev === 'interrupt' && l.tag === 't1', 5000, 'INTERRUPT for t1');
	assert.equal(intr.mode, 'killnowait');
	await py.waitFor((l) => l.ev === 'interrupted' && l.tag === 't1', 5000, 'the callee cancelled');

	const js = await connectAutobahn(gw);
	let release;
	const held = new Promise((r) => { release = r; });
	await js.register('com.example.slow.js', async (args) => {
		if (args[0] === 'hold') return held;
		return 'quick';
	});
	raw.send([T.CALL, 2, { timeout: 300 }, 'com.example.slow.js', ['hold']]);
	assert.deepEqual(pick(await raw.next(10000)), [T.ERROR, T.CALL, 2, 'wamp.error.timeout']);
	release('late');
	raw.send([T.CALL, 3, {}, 'com.example.slow.js', ['again']]);
	const r = await raw.next(5000);
	assert.deepEqual([r[0], r[1], r[3]], [T.RESULT, 3, ['quick']], `late answer must be dropped: ${JSON.stringify(r)}`);
	assert.ok(js.isOpen, 'the Autobahn|JS callee must not have been interrupted');
	await raw.close();
	await js.end();
	await py.end();
});

// A Python callee holding every invocation; on INTERRUPT it answers
// ["killed", tag] (so "kill" has an eventual answer to relay).
async function holdingCallee(proc) {
	const callee = await connectPython(gw);
	await callee.request({ op: 'register', procedure: proc, tag: proc, mode: 'hold', on_interrupt: ['killed'] });
	return callee;
}

test('cancel kill (Autobahn|Python caller): INTERRUPT kill, then the callee\'s answer reaches the caller', async () => {
	// Test CANCEL {mode: kill}: the Python callee gets INTERRUPT mode kill and
	// answers ["killed"]; the caller's call resolves with that answer.
	const callee = await holdingCallee('com.example.cancel.kill');
	const caller = await connectPython(gw);
	caller.send({ op: 'call', id: 'k1', procedure: 'com.example.cancel.kill', args: ['k1'] });
	await callee.waitFor((l) => l.ev === 'invocation' && l.args[0] === 'k1', 10000, 'the invocation');
	await caller.request({ op: 'cancel', call: 'k1', mode: 'kill' });
	const intr = await callee.waitFor((l) => l.ev === 'interrupt' && l.tag === 'k1', 5000, 'INTERRUPT');
	assert.equal(intr.mode, 'kill');
	const r = await caller.waitFor((l) => l.re === 'k1', 10000, 'the call outcome');
	assert.deepEqual([r.ok, r.args], [true, ['killed']], JSON.stringify(r));
	await caller.end();
	await callee.end();
});

test('cancel killnowait (Autobahn|Python caller): wamp.error.canceled at once, INTERRUPT killnowait', async () => {
	// Test CANCEL {mode: killnowait}: the caller gets ERROR wamp.error.canceled
	// without waiting for the callee (which is still holding when the error
	// arrives), and the callee gets INTERRUPT killnowait; its answer is dropped.
	const callee = await holdingCallee('com.example.cancel.knw');
	const caller = await connectPython(gw);
	caller.send({ op: 'call', id: 'n1', procedure: 'com.example.cancel.knw', args: ['n1'] });
	await callee.waitFor((l) => l.ev === 'invocation' && l.args[0] === 'n1', 10000, 'the invocation');
	await caller.request({ op: 'cancel', call: 'n1', mode: 'killnowait' });
	const r = await caller.waitFor((l) => l.re === 'n1', 5000, 'the call outcome');
	assert.deepEqual([r.ok, r.error], [false, 'wamp.error.canceled'], JSON.stringify(r));
	const intr = await callee.waitFor((l) => l.ev === 'interrupt' && l.tag === 'n1', 5000, 'INTERRUPT');
	assert.equal(intr.mode, 'killnowait');
	// The callee's ["killed"] answer must not reach the caller: an event the
	// callee publishes after answering arrives, and nothing else came for n1.
	await caller.request({ op: 'subscribe', topic: 'com.example.cancel.knw.after' });
	await callee.waitFor((l) => l.ev === 'interrupted' && l.tag === 'n1', 5000, 'the callee answered');
	await callee.request({ op: 'publish', topic: 'com.example.cancel.knw.after', args: ['after'],
		options: { acknowledge: true } });
	await caller.waitFor((l) => l.ev === 'event' && l.args[0] === 'after', 5000, 'the event after the answer');
	assert.equal(caller.lines.filter((l) => l.re === 'n1').length, 1);
	assert.equal(caller.lines.filter((l) => l.ev === 'left' || l.ev === 'disconnected').length, 0,
		`the caller session must stay up: ${JSON.stringify(caller.lines)}`);
	await caller.end();
	await callee.end();
});

test('cancel kill / killnowait / skip from a wampy caller', async () => {
	// Test wampy.cancel(reqId, {mode}) against a Python callee: kill -> the
	// callee's answer; killnowait -> rejected with wamp.error.canceled; skip ->
	// no INTERRUPT, no error, and the callee's later answer is dropped (an
	// event the callee publishes after answering arrives while the call is
	// still pending).
	const proc = 'com.example.cancel.wampy';
	const callee = await holdingCallee(proc);
	const w = await connectWampy(gw);
	const outcome = (p) => p.then((r) => ({ ok: true, args: r.argsList }), (e) => ({ ok: false, error: e.errorUri }));

	const kill = outcome(w.call(proc, ['wk']));
	const killReq = w.getOpStatus().reqId;
	await callee.waitFor((l) => l.ev === 'invocation' && l.args[0] === 'wk', 10000, 'invocation wk');
	w.cancel(killReq, { mode: 'kill' });
	assert.deepEqual(await within(kill, 10000), { ok: true, args: ['killed'] });
	assert.equal((await callee.waitFor((l) => l.ev === 'interrupt' && l.tag === 'wk', 5000, 'INTERRUPT wk')).mode, 'kill');

	const knw = outcome(w.call(proc, ['wn']));
	const knwReq = w.getOpStatus().reqId;
	await callee.waitFor((l) => l.ev === 'invocation' && l.args[0] === 'wn', 10000, 'invocation wn');
	w.cancel(knwReq, { mode: 'killnowait' });
	assert.deepEqual(await within(knw, 5000), { ok: false, error: 'wamp.error.canceled' });
	assert.equal((await callee.waitFor((l) => l.ev === 'interrupt' && l.tag === 'wn', 5000, 'INTERRUPT wn')).mode,
		'killnowait');

	const events = [];
	await w.subscribe('com.example.cancel.after', (e) => events.push(e.argsList[0]));
	let settled = null;
	const skip = outcome(w.call(proc, ['ws'])).then((r) => { settled = r; });
	const skipReq = w.getOpStatus().reqId;
	await callee.waitFor((l) => l.ev === 'invocation' && l.args[0] === 'ws', 10000, 'invocation ws');
	w.cancel(skipReq, { mode: 'skip' });
	// The callee answers late, then publishes: the EVENT comes after any RESULT.
	await callee.request({ op: 'answer', tag: 'ws', args: ['late-answer'] });
	await callee.request({ op: 'publish', topic: 'com.example.cancel.after', args: ['after-answer'],
		options: { acknowledge: true } });
	await waitFor(() => events.length === 1, 5000, 'the event after the late answer');
	assert.equal(settled, null, `skip: the late answer must be dropped, got ${JSON.stringify(settled)}`);
	assert.equal(callee.lines.filter((l) => l.ev === 'interrupt' && l.tag === 'ws').length, 0,
		'skip must not INTERRUPT the callee');
	void skip;
	await w.end();
	await callee.end();
});

test('raw CANCEL: absent mode -> INTERRUPT killnowait, no ERROR to the caller; skip -> neither', async () => {
	// Test [49, req, {}] and [49, req, {mode: skip}] from a raw caller against
	// a Python callee: the next message the caller gets is the RESULT of a
	// later call, not an ERROR for the cancelled one.
	const proc = 'com.example.cancel.raw';
	const callee = await holdingCallee(proc);
	const js = await connectAutobahn(gw);
	await js.register('com.example.cancel.raw.echo', (args) => args[0]);
	const raw = await rawSession(gw);
	raw.send([T.CALL, 1, {}, proc, ['r1']]);
	await callee.waitFor((l) => l.ev === 'invocation' && l.args[0] === 'r1', 10000, 'invocation r1');
	raw.send([T.CANCEL, 1, {}]);
	const intr = await callee.waitFor((l) => l.ev === 'interrupt' && l.tag === 'r1', 5000, 'INTERRUPT r1');
	assert.equal(intr.mode, 'killnowait');
	await callee.waitFor((l) => l.ev === 'interrupted' && l.tag === 'r1', 5000, 'the callee cancelled r1');
	raw.send([T.CALL, 2, {}, 'com.example.cancel.raw.echo', ['sentinel']]);
	const m = await raw.next();
	assert.deepEqual([m[0], m[1], m[3]], [T.RESULT, 2, ['sentinel']], `absent mode: ${JSON.stringify(m)}`);

	const after = await rawSubscribe(raw, 'com.example.cancel.raw.after');
	raw.send([T.CALL, 3, {}, proc, ['r3']]);
	await callee.waitFor((l) => l.ev === 'invocation' && l.args[0] === 'r3', 10000, 'invocation r3');
	raw.send([T.CANCEL, 3, { mode: 'skip' }]);
	// Make sure the CANCEL was processed before the callee answers.
	raw.send([T.CALL, 4, {}, 'com.example.cancel.raw.echo', ['sentinel2']]);
	const m2 = await raw.next();
	assert.deepEqual([m2[0], m2[1], m2[3]], [T.RESULT, 4, ['sentinel2']], `skip: ${JSON.stringify(m2)}`);
	// The late answer, then an event from the callee: only the event arrives.
	await callee.request({ op: 'answer', tag: 'r3', args: ['late'] });
	await callee.request({ op: 'publish', topic: 'com.example.cancel.raw.after', args: ['after'],
		options: { acknowledge: true } });
	const m3 = await raw.next();
	assert.deepEqual([m3[0], m3[1], m3[4]], [T.EVENT, after, ['after']], `skip: late answer relayed? ${JSON.stringify(m3)}`);
	assert.equal(callee.lines.filter((l) => l.ev === 'interrupt' && l.tag === 'r3').length, 0);
	await raw.close();
	await js.end();
	await callee.end();
});

test('callee disconnects mid-call -> the caller gets wamp.error.canceled within 2 s', async () => {
	// Test a Python callee killed (SIGKILL, no GOODBYE) while holding an
	// Autobahn|JS caller's call: ERROR wamp.error.canceled with args
	// ["callee disconnected from in-flight request"], under 2 s.
	const callee = await holdingCallee('com.example.vanish');
	const caller = await connectAutobahn(gw);
	const p = settle(caller.call('com.example.vanish', ['v1']));
	await callee.waitFor((l) => l.ev === 'invocation' && l.args[0] === 'v1', 10000, 'the invocation');
	const t0 = Date.now();
	await callee.kill();
	const r = await within(p, 5000);
	const took = Date.now() - t0;
	assert.notEqual(r, 'timeout', 'the caller was never told');
	assert.deepEqual([r.ok, r.error, r.args], [false, 'wamp.error.canceled',
		['callee disconnected from in-flight request']]);
	assert.ok(took < 2000, `took ${took} ms`);
	const again = await settle(caller.call('com.example.vanish'));
	assert.equal(again.error, 'wamp.error.no_such_procedure');
	await caller.end();
});

test('not_authorized for CALL and REGISTER', async () => {
	// Test role "limited" (call only under com.example.open., no register):
	// CALL elsewhere and any REGISTER get ERROR not_authorized with the request
	// echoed; an allowed CALL is routed.
	const callee = await connectAutobahn(gw);
	await callee.register('com.example.open.ping', () => 'pong');
	await callee.register('com.example.closed.ping', () => 'secret');
	const c = await rawSession(gw, { path: '/limited' });
	c.send([T.CALL, 1, {}, 'com.example.closed.ping']);
	assert.deepEqual(pick(await c.next()), [T.ERROR, T.CALL, 1, 'wamp.error.not_authorized']);
	c.send([T.REGISTER, 2, {}, 'com.example.limited.proc']);
	assert.deepEqual(pick(await c.next()), [T.ERROR, T.REGISTER, 2, 'wamp.error.not_authorized']);
	c.send([T.REGISTER, 3, {}, 'com.example.open.mine']);
	assert.deepEqual(pick(await c.next()), [T.ERROR, T.REGISTER, 3, 'wamp.error.not_authorized']);
	c.send([T.CALL, 4, {}, 'com.example.open.ping']);
	const ok = await c.next();
	assert.deepEqual([ok[0], ok[1], ok[3]], [T.RESULT, 4, ['pong']]);
	await c.close();
	await callee.end();
});

test('UNREGISTER -> UNREGISTERED; calls then fail; unknown id -> no_such_registration', async () => {
	// Test raw UNREGISTER [66, req, id] -> [67, req]; a CALL afterwards gets
	// no_such_procedure (no INVOCATION reaches the old callee); repeating the
	// UNREGISTER gets no_such_registration; Autobahn|JS unregister works too.
	const callee = await rawSession(gw);
	const id = await rawRegister(callee, 'com.example.unreg');
	callee.send([T.UNREGISTER, 20, id]);
	assert.deepEqual(await callee.next(), [T.UNREGISTERED, 20]);
	const caller = await connectAutobahn(gw);
	const r = await settle(caller.call('com.example.unreg'));
	assert.equal(r.error, 'wamp.error.no_such_procedure');
	callee.send([T.UNREGISTER, 21, id]);
	assert.deepEqual(pick(await callee.next()), [T.ERROR, T.UNREGISTER, 21, 'wamp.error.no_such_registration']);
	assert.equal(callee.messages.filter((m) => m[0] === T.INVOCATION).length, 0);

	const js = await connectAutobahn(gw);
	const reg = await js.register('com.example.unreg', () => 'js');
	assert.equal(await caller.call('com.example.unreg'), 'js');
	await js.unregister(reg);
	assert.equal((await settle(caller.call('com.example.unreg'))).error, 'wamp.error.no_such_procedure');
	await callee.close();
	await js.end();
	await caller.end();
});

// ---- edge cases -------------------------------------------------------------

test('wildcard routing: the longest leading run of matching components wins', async () => {
	// Test two wildcard registrations both matching com.example.b.x:
	// com.example..x (leading run 2) beats com..b.x (leading run 1); a call
	// only the second matches goes there.
	const callee = await connectAutobahn(gw);
	await callee.register('com..b.x', () => 'short-run', { match: 'wildcard' });
	await callee.register('com.example..x', () => 'long-run', { match: 'wildcard' });
	const caller = await connectAutobahn(gw);
	assert.equal(await caller.call('com.example.b.x'), 'long-run');
	assert.equal(await caller.call('com.other.b.x'), 'short-run');
	await callee.end();
	await caller.end();
});

test('a prefix registration ending in "." routes its sub-URIs', async () => {
	// Test REGISTER com.example.dot. (prefix, empty last component allowed for
	// patterns): com.example.dot.x reaches it with details.procedure.
	const callee = await rawSession(gw);
	const reg = await rawRegister(callee, 'com.example.dot.', { match: 'prefix' });
	const caller = await rawSession(gw);
	caller.send([T.CALL, 1, {}, 'com.example.dot.x', ['p']]);
	const inv = await callee.next();
	assert.deepEqual([inv[0], inv[2], inv[3].procedure, inv[4]], [T.INVOCATION, reg, 'com.example.dot.x', ['p']]);
	callee.send([T.YIELD, inv[1], {}, ['ok']]);
	const r = await caller.next();
	assert.deepEqual([r[0], r[1], r[3]], [T.RESULT, 1, ['ok']]);
	await callee.close();
	await caller.close();
});

test("a YIELD from another session with the same invocation id does not complete someone else's call", async () => {
	// Test: callee B gets INVOCATION n; session C (which never got n) sends
	// YIELD n; the caller must still get B's answer, not C's.
	const b = await rawSession(gw);
	await rawRegister(b, 'com.example.owned');
	const c = await rawSession(gw);
	await rawRegister(c, 'com.example.other');
	const caller = await rawSession(gw);
	caller.send([T.CALL, 1, {}, 'com.example.owned']);
	const inv = await b.next();
	assert.equal(inv[0], T.INVOCATION);
	c.send([T.YIELD, inv[1], {}, ['impostor']]);
	c.send([T.ERROR, T.INVOCATION, inv[1], {}, 'com.example.impostor']);
	// Make sure C's messages were processed first: C's next request is answered.
	await rawRegister(c, 'com.example.other2');
	b.send([T.YIELD, inv[1], {}, ['genuine']]);
	const r = await caller.next();
	assert.deepEqual([r[0], r[1], r[3]], [T.RESULT, 1, ['genuine']], JSON.stringify(r));
	for (const x of [b, c, caller]) await x.close();
});

test("UNREGISTER of another session's registration id -> no_such_registration; it stays", async () => {
	// Test session A sending UNREGISTER with B's registration id: ERROR
	// no_such_registration, and calls still reach B.
	const b = await connectAutobahn(gw);
	const reg = await b.register('com.example.mine', () => 'still-here');
	const a = await rawSession(gw);
	a.send([T.UNREGISTER, 5, reg.id]);
	assert.deepEqual(pick(await a.next()), [T.ERROR, T.UNREGISTER, 5, 'wamp.error.no_such_registration']);
	const caller = await connectAutobahn(gw);
	assert.equal(await caller.call('com.example.mine'), 'still-here');
	await a.close();
	await b.end();
	await caller.end();
});

test('the caller leaving mid-call: a cancel-capable callee gets INTERRUPT killnowait; its answer is dropped', async () => {
	// Test a raw caller that drops its connection while a Python callee holds
	// the call: the callee gets INTERRUPT killnowait, and keeps serving.
	const callee = await holdingCallee('com.example.orphan');
	const caller = await rawSession(gw);
	caller.send([T.CALL, 1, {}, 'com.example.orphan', ['o1']]);
	await callee.waitFor((l) => l.ev === 'invocation' && l.args[0] === 'o1', 10000, 'the invocation');
	caller.terminate();
	const intr = await callee.waitFor((l) => l.ev === 'interrupt' && l.tag === 'o1', 5000, 'INTERRUPT o1');
	assert.equal(intr.mode, 'killnowait');
	const c2 = await rawSession(gw);
	c2.send([T.CALL, 2, {}, 'com.example.orphan', ['o2']]);
	await callee.waitFor((l) => l.ev === 'invocation' && l.args[0] === 'o2', 10000, 'the next invocation');
	await callee.request({ op: 'answer', tag: 'o2', args: ['served'] });
	const r = await c2.next();
	assert.deepEqual([r[0], r[1], r[3]], [T.RESULT, 2, ['served']]);
	await c2.close();
	await callee.end();
});

test('CANCEL for a finished or unknown call is ignored (no ERROR, no violation)', async () => {
	// Test CANCEL of a call that already got its RESULT and of a request id
	// never used, in every mode: the session stays up and nothing is sent.
	const callee = await connectAutobahn(gw);
	await callee.register('com.example.quick', () => 'done');
	const c = await rawSession(gw);
	c.send([T.CALL, 1, {}, 'com.example.quick']);
	const r = await c.next();
	assert.deepEqual([r[0], r[1], r[3]], [T.RESULT, 1, ['done']]);
	for (const mode of [undefined, 'skip', 'kill', 'killnowait']) {
		c.send([T.CANCEL, 1, mode ? { mode } : {}]);
		c.send([T.CANCEL, 999, mode ? { mode } : {}]);
	}
	c.send([T.CALL, 2, {}, 'com.example.quick']);
	const r2 = await c.next();
	assert.deepEqual([r2[0], r2[1], r2[3]], [T.RESULT, 2, ['done']], JSON.stringify(r2));
	await c.close();
	await callee.end();
});

test('no INVOCATION after UNREGISTERED, even with calls in flight', async () => {
	// Test a raw callee answering a stream of calls and unregistering midway:
	// after its UNREGISTERED no INVOCATION for that registration arrives; calls
	// after that get no_such_procedure.
	const callee = await rawSession(gw);
	const reg = await rawRegister(callee, 'com.example.stream');
	const caller = await connectAutobahn(gw);
	const outs = [];
	for (let i = 0; i < 200; i++) outs.push(settle(caller.call('com.example.stream', [i])));
	let unregistered = false;
	let answered = 0;
	let after = 0;
	for (;;) {
		const m = await callee.next(10000);
		if (m[0] === T.INVOCATION) {
			assert.equal(m[2], reg);
			if (unregistered) after++;
			callee.send([T.YIELD, m[1], {}, [m[4][0]]]);
			if (++answered === 20) callee.send([T.UNREGISTER, 77, reg]);
		} else if (m[0] === T.UNREGISTERED) {
			assert.equal(m[1], 77);
			unregistered = true;
			break;
		} else {
			assert.fail(`unexpected ${JSON.stringify(m)}`);
		}
	}
	const all = await within(Promise.all(outs), 20000);
	assert.notEqual(all, 'timeout', 'some calls never settled');
	// Invocations the router sent before UNREGISTERED may still be answered;
	// nothing may arrive after it: the next message is the reply to a new request.
	callee.send([T.REGISTER, 78, {}, 'com.example.sentinel']);
	const m = await callee.next();
	assert.deepEqual([m[0], m[1]], [T.REGISTERED, 78], `after UNREGISTERED got ${JSON.stringify(m)}`);
	assert.equal(after, 0);
	const kinds = new Set(all.map((o) => (o.ok ? 'ok' : o.error)));
	for (const k of kinds) assert.ok(k === 'ok' || k === 'wamp.error.no_such_procedure', `outcome ${k}`);
	await callee.close();
	await caller.end();
});

test('binary arguments and results cross between a msgpack caller and a JSON callee', async () => {
	// Test a raw msgpack caller passing a bin to a raw JSON callee: the
	// INVOCATION carries "\u0000"+base64, the callee echoes it back and the
	// caller's RESULT has the original bin.
	const callee = await rawSession(gw);
	await rawRegister(callee, 'com.example.bin.echo');
	const caller = await rawSession(gw, { protocol: 'wamp.2.msgpack' });
	const bytes = Buffer.from([0, 255, 1, 254, 2, 253]);
	caller.send([T.CALL, 1, {}, 'com.example.bin.echo', [bytes], { b: bytes }]);
	const inv = await callee.next();
	const b64 = `\u0000${bytes.toString('base64')}`;
	assert.deepEqual([inv[0], inv[4], inv[5]], [T.INVOCATION, [b64], { b: b64 }]);
	callee.send([T.YIELD, inv[1], {}, inv[4], inv[5]]);
	const r = await caller.next();
	assert.equal(r[0], T.RESULT);
	assert.ok(Buffer.isBuffer(r[3][0]) && r[3][0].equals(bytes), JSON.stringify(r));
	assert.ok(Buffer.isBuffer(r[4].b) && r[4].b.equals(bytes));
	await callee.close();
	await caller.close();
});

test('a session can call its own procedure; timeout 0 means no timeout', async () => {
	// Test an Autobahn|JS session calling what it registered, and a call with
	// options.timeout 0 to a callee answering after 300 ms: it gets the result.
	const s = await connectAutobahn(gw);
	await s.register('com.example.self.add', (args) => args[0] + args[1]);
	assert.equal(await s.call('com.example.self.add', [2, 3]), 5);
	await s.register('com.example.self.slow', () => new Promise((r) => setTimeout(() => r('slow-ok'), 300)));
	assert.equal(await s.call('com.example.self.slow', [], {}, { timeout: 0 }), 'slow-ok');
	await s.end();
});

test('progressive results between Autobahn|JS sessions (receive_progress / details.progress)', async () => {
	// Test an Autobahn|JS callee calling details.progress() three times for an
	// Autobahn|JS caller with receive_progress: the caller's progress handler
	// sees [0], [1], [2] in order before the final result.
	const callee = await connectAutobahn(gw);
	await callee.register('com.example.js.prog', async (args, kwargs, details) => {
		assert.equal(typeof details.progress, 'function', 'INVOCATION must carry receive_progress');
		for (let i = 0; i < 3; i++) details.progress([i]);
		return 'final';
	});
	const caller = await connectAutobahn(gw);
	const seen = [];
	const p = caller.call('com.example.js.prog', [], {}, { receive_progress: true });
	p.progress((x) => seen.push(x));
	assert.equal(await p, 'final');
	assert.deepEqual(seen, [0, 1, 2]);
	await callee.end();
	await caller.end();
});
