// 12-scale: many concurrent SSE clients, and a slow client that is cut
// off by its queue bound without holding back the others.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import {
	startGateway, stopClean, makeConfig, publish, publishOk, openSse, info, request, waitFor, sleep, HOST,
} from './lib/gateway.mjs';

const CLIENTS = 2000;

function fdLimit() {
	const r = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
	const v = r.stdout.trim();
	return v === 'unlimited' ? Infinity : Number(v);
}

test(`${CLIENTS} concurrent SSE clients each receive a published event`, { timeout: 60000 }, async (t) => {
	// Test that the gateway holds 2000 open streams (beyond select()'s 1024
	// fds) and delivers each event to every one of them in bounded time.
	const limit = fdLimit();
	if (limit < CLIENTS + 300) {
		t.skip(`ulimit -n is ${limit}; need ${CLIENTS + 300} (raise it with ulimit -n 4096)`);
		return;
	}
	const gw = await startGateway({ config: makeConfig({ sse: { heartbeat: 60 } }) });
	const clients = [];
	try {
		for (let b = 0; b < CLIENTS; b += 200) {
			const batch = [];
			for (let i = b; i < Math.min(CLIENTS, b + 200); i++) {
				batch.push(openSse(gw, { topic: 'scale.fan' }, { keepRaw: false }));
			}
			await Promise.all(batch.map((s) => s.ready));
			for (const s of batch) assert.equal(s.status, 200);
			clients.push(...batch);
		}
		await waitFor(() => clients.every((s) => s.retries.length > 0), 20000,
			'the retry: line on every stream');
		const i = await info(gw);
		assert.ok(i.sse_clients >= CLIENTS, `/info sse_clients ${i.sse_clients}`);

		for (let n = 1; n <= 2; n++) {
			const t0 = Date.now();
			await publishOk(gw, 'scale.fan', [n], { payload: 'x'.repeat(200) });
			await waitFor(() => clients.every((s) => s.events.length >= n), 20000,
				() => `event ${n} on all ${CLIENTS} streams (have ${clients.filter((s) => s.events.length >= n).length})`);
			t.diagnostic(`event ${n} reached ${CLIENTS} clients in ${Date.now() - t0} ms`);
		}
		for (const s of clients) {
			assert.deepEqual(s.events.map((e) => e.json.args[0]), [1, 2]);
		}
		const h = await request(gw, 'GET', '/healthz');
		assert.equal(h.status, 200);
	} finally {
		for (const s of clients) s.close();
		await stopClean(gw);
	}
});

test('connection churn during replay and publishing leaks no stream and no fd', { timeout: 60000 }, async (t) => {
	// Test that 400 streams closed by the client at random moments (before
	// the answer, mid-replay of 1000 events, while live) and concurrent
	// publishes leave the gateway healthy: sse_clients back to 0, open fds
	// back near the baseline, and a full replay still in order.
	const gw = await startGateway({
		config: makeConfig({
			sse: { heartbeat: 1 },
			history: { retention: [{ uri: '', match: 'prefix', max_events: 100000, max_age: 86400 }] },
		}),
	});
	try {
		const H = 1000;
		const batch = [];
		for (let k = 1; k <= H; k++) {
			batch.push(publishOk(gw, 'churn.t', [k], { pad: 'z'.repeat(300) }));
			if (batch.length === 50) await Promise.all(batch.splice(0));
		}
		await Promise.all(batch);
		const fdDir = `/proc/${gw.proc.pid}/fd`;
		const fds = () => fs.readdirSync(fdDir).length;
		const hasProc = fs.existsSync(fdDir);
		const base = hasProc ? fds() : 0;

		let published = H;
		let pubStop = false;
		const publisher = (async () => {
			while (!pubStop) { await publishOk(gw, 'churn.t', [++published]); await sleep(5); }
		})();
		for (let round = 0; round < 20; round++) {
			const ss = [];
			for (let i = 0; i < 20; i++) {
				const s = openSse(gw, { topic: 'churn.t', lastEventId: '0' }, { keepRaw: false });
				s.ready.catch(() => {});
				ss.push(s);
				const mode = (round * 20 + i) % 4;
				if (mode === 0) s.close();                                    // before any answer
				else if (mode === 1) setTimeout(() => s.close(), 1 + (i % 5)); // around the headers
				else if (mode === 2) s.waitFor((x) => x.events.length >= 100, 5000).then(() => s.close(), () => s.close());
			}
			await sleep(30);
			for (const s of ss) s.close();                                   // mode 3: live, then gone
		}
		pubStop = true;
		await publisher;

		const h = await request(gw, 'GET', '/healthz');
		assert.equal(h.status, 200);
		await waitFor(async () => (await info(gw)).sse_clients === 0, 10000, 'sse_clients back to 0');
		if (hasProc) {
			await waitFor(() => fds() <= base + 5, 10000, () => `open fds back near ${base} (now ${fds()})`);
		} else {
			t.diagnostic('no /proc: fd count not checked');
		}
		const s = openSse(gw, { topic: 'churn.t', lastEventId: '0' });
		await s.waitEvents(published, 20000).catch((e) => {
			throw new Error(`${e.message}; status ${s.status}, first bytes ${JSON.stringify(s.rawText().slice(0, 300))}`);
		});
		s.close();
		// The fill publishes ran 50 at a time, so their commit order (the
		// seq order) need not follow k: compare as sets, and the ids.
		const ks = s.events.map((e) => e.json.args[0]);
		assert.equal(new Set(ks).size, ks.length, 'no duplicates');
		assert.deepEqual([...ks].sort((a, b) => a - b), Array.from({ length: published }, (_, i) => i + 1));
		const ids = s.events.map((e) => BigInt(e.id));
		for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `ids increase at ${i}`);
		// The churn-phase publisher was sequential: its part is in order.
		assert.deepEqual(ks.slice(H), Array.from({ length: published - H }, (_, i) => H + i + 1));
	} finally {
		await stopClean(gw);
	}
});

test('a client that never reads is cut; a normal client gets every event', { timeout: 60000 }, async () => {
	// Test the queue bound (queue_limit 8): a connection that sends its
	// request and never reads is ended and counted in sse_cuts and
	// switchboard_sse_slow_cuts_total, while a reading client on the same
	// topic receives every event in order.
	const gw = await startGateway({
		config: makeConfig({ sse: { queue_limit: 8, heartbeat: 60 }, publisher: { post_body_limit: 1 << 20 } }),
	});
	let slow;
	try {
		// The slow reader: a raw socket that sends the request and never reads.
		slow = net.connect({ host: HOST, port: gw.port });
		await new Promise((resolve, reject) => { slow.once('connect', resolve); slow.once('error', reject); });
		slow.on('error', () => {});
		let slowClosed = false;
		slow.once('close', () => { slowClosed = true; });
		slow.write(`GET /sse?topic=slow.big HTTP/1.1\r\nHost: ${HOST}:${gw.port}\r\nAccept: text/event-stream\r\n\r\n`);
		slow.pause();

		const normal = openSse(gw, { topic: 'slow.big' }, { keepRaw: false });
		assert.equal((await normal.ready).status, 200);
		await waitFor(async () => (await info(gw)).sse_clients >= 2, 5000, 'both streams registered');

		const big = 'y'.repeat(128 * 1024);
		let sent = 0;
		let cut = false;
		while (sent < 400 && !cut) {
			for (let k = 0; k < 10; k++) await publishOk(gw, 'slow.big', [++sent], { big });
			// Keep the reading client in step, so that only the one that
			// never reads can overflow, even on a loaded machine.
			await normal.waitEvents(sent, 20000);
			cut = (await info(gw)).sse_cuts >= 1;
		}
		assert.ok(cut, `no slow-client cut after ${sent} events of 128 KiB with queue_limit 8`);
		for (let k = 0; k < 5; k++) await publishOk(gw, 'slow.big', [++sent], { big });

		await normal.waitEvents(sent, 30000);
		await sleep(200);
		assert.deepEqual(normal.events.map((e) => e.json.args[0]), Array.from({ length: sent }, (_, i) => i + 1));
		assert.ok(normal.events.every((e) => e.json.kwargs.big.length === big.length), 'payloads intact');
		assert.equal(normal.endedHow, null, 'the normal client is still connected');

		const i = await info(gw);
		assert.ok(i.sse_cuts >= 1);
		const m = await request(gw, 'GET', '/metrics');
		const line = m.text.split('\n').find((l) => l.startsWith('switchboard_sse_slow_cuts_total'));
		assert.ok(line, 'switchboard_sse_slow_cuts_total in /metrics');
		assert.ok(Number(line.trim().split(/\s+/).pop()) >= 1, line);

		// The cut connection is really closed: once we read, it ends.
		slow.resume();
		slow.on('data', () => {});
		await waitFor(() => slowClosed, 10000, 'the slow connection to be closed by the gateway');
		await waitFor(async () => (await info(gw)).sse_clients === 1, 5000, 'sse_clients back to 1');
		normal.close();
	} finally {
		if (slow) slow.destroy();
		await stopClean(gw);
	}
});

test('out of file descriptors: the gateway pauses accepting, logs once, and recovers', { timeout: 30000 }, async () => {
	// Test that with an open-file limit of 48, 70 held SSE connections
	// exhaust the descriptors without the gateway spinning or dying; once
	// clients leave, new requests are served again.
	const g = await startGateway({ fdLimit: 48 });
	const held = [];
	try {
		for (let i = 0; i < 70; i++) {
			held.push(net.connect(g.port, HOST));
			held[i].on('error', () => {});
			held[i].write(`GET /sse?topic=fd.t${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
		}
		await waitFor(() => /cannot accept: Too many open files; pausing accepts/.test(g.log()), 5000,
			'the EMFILE log line');
		await sleep(1000);
		const lines = g.log().split('\n').filter((l) => /cannot accept/.test(l));
		assert.equal(lines.length, 1, `one log line, not a flood: ${lines.length}`);
		for (const s of held) s.destroy();
		await waitFor(async () => {
			try {
				return (await request(g, 'GET', '/healthz', { timeout: 1000 })).status === 200;
			} catch {
				return false;
			}
		}, 10000, '/healthz to answer again');
		const r = await publish(g, 'fd.after', ['still here']);
		assert.equal(r.status, 200);
	} finally {
		for (const s of held) s.destroy();
		await stopClean(g);
	}
});
