// 09-shutdown: SIGTERM and SIGINT stop the gateway cleanly — streams end
// with a proper end of stream, WebSockets get a close frame, exit code 0,
// and everything published is in history after a restart.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import {
	startGateway, stopClean, makeConfig, publishOk, openSseLive, request, within,
} from './lib/gateway.mjs';

test('SIGTERM ends SSE streams cleanly and exits 0; history survives', async () => {
	// Test that open streams see a clean end (chunked terminator, not a
	// reset), the process exits 0 within a few seconds, and after a restart
	// on the same db the events replay.
	const gw = await startGateway({ config: makeConfig() });
	const streams = [];
	for (let i = 0; i < 5; i++) streams.push(await openSseLive(gw, { topic: 'down.t' }));
	for (let i = 0; i < 10; i++) await publishOk(gw, 'down.t', [i]);
	await Promise.all(streams.map((s) => s.waitEvents(10)));

	const t0 = Date.now();
	const r = await gw.stop('SIGTERM', 10000);
	const took = Date.now() - t0;
	assert.deepEqual(r, { code: 0, signal: null }, `exit status after SIGTERM; stderr:\n${gw.log().slice(-2000)}`);
	assert.ok(took < 5000, `shutdown took ${took} ms`);
	const hows = await Promise.all(streams.map((s) => within(s.ended, 2000, 'still open')));
	assert.deepEqual(hows, streams.map(() => 'end'), 'every stream ended cleanly');

	await gw.launch();
	try {
		const s = await openSseLive(gw, { topic: 'down.t', lastEventId: '0' });
		await s.waitEvents(10);
		assert.deepEqual(s.events.map((e) => e.json.args[0]), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
		s.close();
	} finally {
		await stopClean(gw);
	}
});

test('SIGINT also stops cleanly with exit 0', async () => {
	// Test that Ctrl-C behaves like SIGTERM.
	const gw = await startGateway({ config: makeConfig() });
	const s = await openSseLive(gw, { topic: 'down.int' });
	await publishOk(gw, 'down.int', ['x']);
	await s.waitEvents(1);
	const r = await gw.stop('SIGINT', 10000);
	assert.deepEqual(r, { code: 0, signal: null });
	assert.equal(await within(s.ended, 2000, 'still open'), 'end');
});

test('an idle gateway exits 0 promptly on SIGTERM', async () => {
	// Test that shutdown with nothing connected takes well under 2 s.
	const gw = await startGateway({ config: makeConfig() });
	const h = await request(gw, 'GET', '/healthz');
	assert.equal(h.status, 200);
	const t0 = Date.now();
	const r = await gw.stop();
	assert.deepEqual(r, { code: 0, signal: null });
	assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
});

test('SIGTERM closes WebSocket connections with a close frame', async () => {
	// Test that a client connected on /ws gets a close frame (code not 1006,
	// the "abnormal closure" seen when the TCP connection just drops).
	const gw = await startGateway({ config: makeConfig() });
	const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/ws`, ['wamp.2.json']);
	ws.on('error', () => {});
	await new Promise((resolve, reject) => {
		ws.once('open', resolve);
		ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
		ws.once('error', reject);
	});
	const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
	const r = await gw.stop();
	assert.deepEqual(r, { code: 0, signal: null });
	const code = await within(closed, 3000, 'still open');
	assert.notEqual(code, 'still open');
	assert.notEqual(code, 1006, 'closed without a close frame');
	assert.ok([1000, 1001].includes(code), `close code ${code}`);
});
