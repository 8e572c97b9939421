// 11-websocket-handoff: an Upgrade on /ws is handed to libwebsockets and
// negotiates a WAMP subprotocol; other upgrades are refused with 400 JSON.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import {
	startGateway, stopClean, makeConfig, request, publishOk, openSseLive, isErrorBody,
} from './lib/gateway.mjs';

let gw;
before(async () => { gw = await startGateway({ config: makeConfig() }); });
after(async () => { await stopClean(gw); });

// Resolve {open, protocol, ws} or {status, body} for a refused upgrade.
function connect(protocols, pth = '/ws') {
	return new Promise((resolve, reject) => {
		const ws = protocols === undefined
			? new WebSocket(`ws://127.0.0.1:${gw.port}${pth}`)
			: new WebSocket(`ws://127.0.0.1:${gw.port}${pth}`, protocols);
		const timer = setTimeout(() => { ws.terminate(); reject(new Error('no handshake answer in 5 s')); }, 5000);
		ws.once('open', () => { clearTimeout(timer); resolve({ open: true, protocol: ws.protocol, ws }); });
		ws.once('unexpected-response', (_req, res) => {
			let body = '';
			res.on('data', (d) => { body += d; });
			res.on('end', () => {
				clearTimeout(timer);
				let json;
				try { json = JSON.parse(body); } catch { /* not json */ }
				resolve({ open: false, status: res.statusCode, headers: res.headers, body, json });
			});
		});
		ws.once('error', (e) => { clearTimeout(timer); reject(e); });
	});
}

function closeWs(ws) {
	return new Promise((resolve) => {
		if (ws.readyState === WebSocket.CLOSED) return resolve();
		const timer = setTimeout(() => { ws.terminate(); resolve(); }, 2000);
		ws.once('close', () => { clearTimeout(timer); resolve(); });
		ws.close(1000);
	});
}

test('offering wamp.2.json opens with protocol wamp.2.json', async () => {
	// Test that the handshake on /ws answers 101 choosing wamp.2.json.
	const r = await connect(['wamp.2.json']);
	assert.ok(r.open, `refused: ${r.status} ${r.body}`);
	assert.equal(r.protocol, 'wamp.2.json');
	await closeWs(r.ws);
});

test('wamp.2.json is picked among unknown subprotocols', async () => {
	// Test that ['mqtt', 'wamp.2.json'] negotiates wamp.2.json.
	const r = await connect(['mqtt', 'wamp.2.json']);
	assert.ok(r.open, `refused: ${r.status} ${r.body}`);
	assert.equal(r.protocol, 'wamp.2.json');
	await closeWs(r.ws);
});

test('an upgrade without a subprotocol is refused with 400 JSON', async () => {
	// Test that a plain WebSocket client (no Sec-WebSocket-Protocol) gets
	// HTTP 400 with an error body, not a 101.
	const r = await connect(undefined);
	assert.equal(r.open, false, 'must not open');
	assert.equal(r.status, 400);
	assert.ok(r.json && typeof r.json.error === 'string' && Array.isArray(r.json.args), `body: ${r.body}`);
	assert.ok(isErrorBody(r.json, r.json.error));
});

test('an upgrade offering only non-WAMP subprotocols is refused with 400', async () => {
	// Test that ['mqtt', 'graphql-ws'] gets 400.
	const r = await connect(['mqtt', 'graphql-ws']);
	assert.equal(r.open, false);
	assert.equal(r.status, 400);
});

test('many handshakes in parallel all succeed, and HTTP keeps working', async () => {
	// Test 50 concurrent wamp.2.json handshakes, then /healthz and a
	// publish->SSE round trip on the same port.
	const rs = await Promise.all(Array.from({ length: 50 }, () => connect(['wamp.2.json'])));
	for (const r of rs) assert.equal(r.protocol, 'wamp.2.json');
	const h = await request(gw, 'GET', '/healthz');
	assert.equal(h.status, 200);
	const s = await openSseLive(gw, { topic: 'ws.side' });
	await publishOk(gw, 'ws.side', ['ok']);
	await s.waitEvents(1);
	s.close();
	await Promise.all(rs.map((r) => closeWs(r.ws)));
});
