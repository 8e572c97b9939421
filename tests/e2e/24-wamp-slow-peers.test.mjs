// 24-wamp-slow-peers: a WAMP session that stops reading is disconnected
// once its outgoing queue passes queue_limit, without hurting the others
// and without unbounded memory; sessions that vanish with pending
// invocations fail their callers promptly.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
	startGateway, stopClean, makeConfig, waitFor, within, info, BIN,
} from './lib/gateway.mjs';
import {
	T, rawSession, rawSubscribe, rawRegister, connectAutobahn, connectWampy, settle,
} from './lib/wamp.mjs';

const QUEUE = 16;
const BIG = 'z'.repeat(64 * 1024);

// /ws has the small queue; /roomy keeps the default (1024) for peers that
// must survive a burst, e.g. a caller getting hundreds of ERRORs at once.
function config() {
	return makeConfig({
		paths: {
			ws: { type: 'websocket', options: { queue_limit: QUEUE } },
			roomy: { type: 'websocket' },
		},
	});
}

function rssKiB(pid) {
	const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)\s+kB/m);
	return m ? Number(m[1]) : 0;
}

// ASan keeps freed memory in quarantine, so RSS says little there.
const ASAN = (() => {
	try { return fs.readFileSync(BIN).includes('__asan_init'); } catch { return false; }
})();

test('a subscriber that stops reading is cut past queue_limit; the other gets every event', { timeout: 90000 }, async () => {
	// Test queue_limit 16 on /ws: a raw subscriber pauses its socket while
	// 64 KiB events are published; once the kernel buffers and its queue are
	// full it is disconnected (ws_connections drops, the log names the peer),
	// a reading subscriber receives every event in order, what the slow one
	// got before the cut is a gap-free prefix, and gateway RSS stays bounded.
	const gw = await startGateway({ config: config() });
	try {
		const slow = await rawSession(gw);
		await rawSubscribe(slow, 'com.example.flood');
		const normal = await rawSession(gw);
		const normalSub = await rawSubscribe(normal, 'com.example.flood');
		const pub = await rawSession(gw);
		await waitFor(async () => (await info(gw)).ws_connections === 3, 5000, 'three WebSockets in /info');
		const rss0 = rssKiB(gw.proc.pid);
		slow.ws._socket.pause();

		let sent = 0;
		let cut = false;
		const got = [];
		while (sent < 800 && !cut) {
			for (let k = 0; k < 10; k++) {
				const req = pub.reqId();
				pub.send([T.PUBLISH, req, { acknowledge: true }, 'com.example.flood', [++sent], { big: BIG }]);
				const ack = await pub.next(20000);
				assert.deepEqual([ack[0], ack[1]], [T.PUBLISHED, req]);
			}
			// Keep the reading subscriber in step so only the paused one overflows.
			while (got.length < sent) {
				const ev = await normal.next(20000);
				assert.equal(ev[0], T.EVENT);
				assert.equal(ev[1], normalSub);
				got.push(ev[4][0]);
				assert.equal(ev[5].big.length, BIG.length);
			}
			cut = (await info(gw)).ws_connections < 3;
		}
		assert.ok(cut, `the paused subscriber was not cut after ${sent} events of 64 KiB (queue_limit ${QUEUE})`);
		const rss1 = rssKiB(gw.proc.pid);
		for (let k = 0; k < 5; k++) {
			pub.send([T.PUBLISH, pub.reqId(), { acknowledge: true }, 'com.example.flood', [++sent], { big: BIG }]);
			assert.equal((await pub.next(20000))[0], T.PUBLISHED);
		}
		while (got.length < sent) got.push((await normal.next(20000))[4][0]);
		assert.deepEqual(got, Array.from({ length: sent }, (_, i) => i + 1));
		assert.equal(normal.closeInfo, null, 'the reading subscriber is still connected');

		// The cut connection is really closed: once it reads again, it ends, and
		// the events it did get are 1..k without gaps.
		slow.ws._socket.resume();
		const closed = await within(slow.closed, 15000);
		assert.notEqual(closed, 'timeout', 'the slow connection must be closed by the gateway');
		const slowArgs = slow.messages.filter((m) => Array.isArray(m) && m[0] === T.EVENT).map((m) => m[4][0]);
		assert.ok(slowArgs.length < sent, `slow got ${slowArgs.length} of ${sent}`);
		assert.deepEqual(slowArgs, Array.from({ length: slowArgs.length }, (_, i) => i + 1));
		await waitFor(async () => (await info(gw)).ws_connections === 2, 5000, 'ws_connections back to 2');
		assert.ok(gw.log().split('\n').some((l) => /127\.0\.0\.1/.test(l) && /queue/i.test(l)),
			'the cut is logged with the peer');
		const grownMiB = (rss1 - rss0) / 1024;
		const bound = ASAN ? 400 : 48;
		assert.ok(grownMiB < bound, `RSS grew ${grownMiB.toFixed(1)} MiB for ${sent} events of 64 KiB ` +
			`(bound ${bound} MiB)`);
		await pub.close();
		await normal.close();
	} finally {
		await stopClean(gw);
	}
});

test('a subscriber that stops reading is cut at 16 MiB queued, even under queue_limit', { timeout: 90000 }, async () => {
	// Test the byte bound: on /roomy (queue_limit 1024) a paused subscriber
	// gets 256 KiB events; 1024 of them would pin 256 MiB, but the gateway
	// cuts it once 16 MiB are queued (plus what the kernel buffers), long
	// before the message count matters, and logs the bytes.
	const gw = await startGateway({ config: config() });
	try {
		const huge = 'h'.repeat(256 * 1024);
		const slow = await rawSession(gw, { path: '/roomy' });
		await rawSubscribe(slow, 'com.example.huge');
		const pub = await rawSession(gw, { path: '/roomy' });
		slow.ws._socket.pause();
		let sent = 0;
		let cut = false;
		while (sent < 300 && !cut) {
			for (let k = 0; k < 8; k++) {
				const req = pub.reqId();
				pub.send([T.PUBLISH, req, { acknowledge: true }, 'com.example.huge', [++sent], { huge }]);
				assert.deepEqual((await pub.next(20000)).slice(0, 2), [T.PUBLISHED, req]);
			}
			cut = (await info(gw)).ws_connections < 2;
		}
		assert.ok(cut, `not cut after ${sent} events of 256 KiB`);
		assert.ok(sent < 200, `cut only after ${sent} events (${sent / 4} MiB): the byte bound did not act`);
		assert.ok(gw.log().split('\n').some((l) => /127\.0\.0\.1/.test(l) && /\d{7,} bytes\) queued/.test(l)),
			'the cut is logged with the peer and the bytes queued');
		await pub.close();
	} finally {
		await stopClean(gw);
	}
});

test('a callee that stops reading is cut; its pending calls fail with wamp.error.canceled', { timeout: 90000 }, async () => {
	// Test a raw callee (/ws, queue_limit 16) that pauses its socket while an
	// Autobahn|JS caller (/roomy, default queue_limit: the ERRORs for all its
	// pending calls arrive in one burst) sends 300 calls with 64 KiB
	// arguments: the callee's queue overflows, it is disconnected, and every
	// pending call is rejected with wamp.error.canceled (none resolves, none
	// hangs).
	const gw = await startGateway({ config: config() });
	try {
		const callee = await rawSession(gw);
		await rawRegister(callee, 'com.example.stuck');
		callee.ws._socket.pause();
		const caller = await connectAutobahn(gw, { path: '/roomy' });
		const calls = Array.from({ length: 300 }, (_, i) => settle(caller.call('com.example.stuck', [i, BIG])));
		const all = await within(Promise.all(calls), 60000);
		assert.notEqual(all, 'timeout', 'pending calls never failed');
		// Calls routed before the cut are canceled; calls the router reads after
		// it find no registration any more.
		const errs = all.map((r) => (r.ok ? 'resolved' : r.error));
		const bad = errs.filter((e) => e !== 'wamp.error.canceled' && e !== 'wamp.error.no_such_procedure');
		assert.deepEqual(bad, [], `unexpected outcomes: ${JSON.stringify(bad.slice(0, 5))}`);
		const canceled = errs.filter((e) => e === 'wamp.error.canceled').length;
		assert.ok(canceled > QUEUE, `only ${canceled} calls were pending at the cut`);
		const firstGone = errs.indexOf('wamp.error.no_such_procedure');
		if (firstGone >= 0) {
			assert.equal(errs.slice(firstGone).filter((e) => e === 'wamp.error.canceled').length, 0,
				'calls are routed in order: none is pending after the registration went away');
		}
		callee.ws._socket.resume();
		assert.notEqual(await within(callee.closed, 15000), 'timeout', 'the stuck callee must be disconnected');
		const r = await settle(caller.call('com.example.stuck'));
		assert.equal(r.error, 'wamp.error.no_such_procedure');
		await caller.end();
	} finally {
		await stopClean(gw);
	}
});

test('a callee that vanishes with calls from three clients pending fails them all within 2 s', { timeout: 60000 }, async () => {
	// Test 5 pending calls each from Autobahn|JS, wampy and a raw session to a
	// raw callee whose TCP connection is destroyed: all 15 get
	// wamp.error.canceled, within 2 s of the drop.
	const gw = await startGateway({ config: makeConfig() });
	try {
		const callee = await rawSession(gw);
		await rawRegister(callee, 'com.example.gone');
		const js = await connectAutobahn(gw);
		const w = await connectWampy(gw);
		const raw = await rawSession(gw);
		const pending = [];
		for (let i = 0; i < 5; i++) {
			pending.push(settle(js.call('com.example.gone', [`js${i}`])));
			pending.push(w.call('com.example.gone', [`w${i}`]).then(() => ({ ok: true }), (e) => ({ ok: false, error: e.errorUri })));
			raw.send([T.CALL, 100 + i, {}, 'com.example.gone', [`raw${i}`]]);
		}
		// Every invocation reached the callee before it vanishes.
		const invs = [];
		while (invs.length < 15) {
			const m = await callee.next(10000);
			assert.equal(m[0], T.INVOCATION);
			invs.push(m[4][0]);
		}
		assert.equal(new Set(invs).size, 15);
		const t0 = Date.now();
		callee.ws._socket.destroy();
		const outs = await within(Promise.all(pending), 5000);
		assert.notEqual(outs, 'timeout', 'JS/wampy calls never failed');
		const rawErrs = [];
		while (rawErrs.length < 5) rawErrs.push(await raw.next(5000));
		const took = Date.now() - t0;
		assert.deepEqual(outs.map((o) => o.error), Array(10).fill('wamp.error.canceled'));
		assert.deepEqual(rawErrs.map((m) => [m[0], m[1], m[4]]),
			Array(5).fill([T.ERROR, T.CALL, 'wamp.error.canceled']), JSON.stringify(rawErrs));
		assert.deepEqual(rawErrs.map((m) => m[2]).sort((a, b) => a - b), [100, 101, 102, 103, 104]);
		assert.deepEqual(rawErrs[0][5], ['callee disconnected from in-flight request']);
		assert.ok(took < 2000, `took ${took} ms`);
		await js.end();
		await w.end();
		await raw.close();
	} finally {
		await stopClean(gw);
	}
});

test('session churn: 120 sessions subscribe, register and call, then leave or vanish; nothing is left behind', { timeout: 60000 }, async () => {
	// Test /info sessions, subscriptions and registrations: after 120 raw
	// sessions (a third GOODBYE, a third close, a third drop TCP) each
	// subscribed to a shared and an own topic and registered an own procedure
	// with a call pending on it, the counts return to the baseline and the
	// pending callers all got an answer.
	const gw = await startGateway({ config: makeConfig() });
	try {
		const base = await info(gw);
		const caller = await connectAutobahn(gw);
		const pending = [];
		for (let round = 0; round < 4; round++) {
			const cs = [];
			for (let i = 0; i < 30; i++) {
				const n = round * 30 + i;
				const c = await rawSession(gw);
				await rawSubscribe(c, 'com.example.churn.shared');
				await rawSubscribe(c, `com.example.churn.own${n}`);
				await rawRegister(c, `com.example.churn.proc${n}`);
				pending.push(settle(caller.call(`com.example.churn.proc${n}`)));
				await c.expect(T.INVOCATION);
				cs.push(c);
			}
			const mid = await info(gw);
			assert.equal(mid.sessions, base.sessions + 31, JSON.stringify(mid));
			assert.equal(mid.registrations, base.registrations + 30);
			cs.forEach((c, i) => {
				if (i % 3 === 0) c.send([T.GOODBYE, {}, 'wamp.close.normal']);
				else if (i % 3 === 1) c.ws.close(1000);
				else c.ws._socket.destroy();
			});
			await waitFor(async () => {
				const x = await info(gw);
				return x.sessions === base.sessions + 1 && x.registrations === base.registrations;
			}, 10000, 'sessions and registrations back to the baseline');
			// After GOODBYE the WebSocket may stay open (WAMP allows a new HELLO): close it.
			await Promise.all(cs.map((c) => c.close()));
		}
		const outs = await within(Promise.all(pending), 10000);
		assert.notEqual(outs, 'timeout', 'pending calls on vanished callees never failed');
		assert.deepEqual([...new Set(outs.map((o) => o.error))], ['wamp.error.canceled']);
		await caller.end();
		await waitFor(async () => {
			const x = await info(gw);
			return x.sessions === base.sessions && x.subscriptions === base.subscriptions &&
				x.registrations === base.registrations && x.ws_connections === base.ws_connections;
		}, 10000, async () => `counts back to ${JSON.stringify(base)}`);
	} finally {
		await stopClean(gw);
	}
});
