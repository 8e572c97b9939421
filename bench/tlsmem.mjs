#!/usr/bin/env node
// tlsmem.mjs - gateway memory per idle connection on the TLS port.
//
//   node bench/tlsmem.mjs [N]        (default 2000 connections per kind)
//
// Makes a test CA and a P-256 server certificate with openssl in a temp
// dir, then for each kind - an HTTP/1.1 event stream, an HTTP/2 event
// stream (one connection per stream, as separate browser origins would),
// a WAMP session over wss - starts a fresh gateway (TLS transport with
// http2), opens N idle connections, and reports the gateway's RSS growth
// per connection (/proc/PID/status VmRSS, after a settle).  The client is
// this Node process on the same machine; only the gateway is measured.
// Needs tests/node_modules (ws) and SWITCHBOARD_BIN or a built src/switchboard.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../tests/package.json'));
const WebSocket = require('ws');
const BIN = process.env.SWITCHBOARD_BIN || path.join(here, '../src/switchboard');
const N = Number(process.argv[2] || 2000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-tlsmem-'));

function openssl(args) {
	const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
	if (r.status !== 0) throw new Error(r.stderr);
}
openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
	'-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=bench CA']);
openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
	'-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key',
	'-set_serial', '1', '-days', '2', '-extfile', 'san.ext', '-out', 'server.crt']);
const ca = fs.readFileSync(path.join(dir, 'ca.crt'));

function freePort() {
	return new Promise((resolve) => {
		const s = net.createServer().listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

function rssKiB(pid) {
	const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
	return Number(m[1]);
}

async function startGateway() {
	const plain = await freePort(), tls = await freePort();
	const perms = [{ uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true } }];
	const paths = { ws: { type: 'websocket' }, sse: { type: 'eventsource', realm: 'realm1', role: 'anonymous' } };
	const cfg = {
		version: 2,
		workers: [{ type: 'router', realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: perms }] }],
			transports: [
				{ type: 'web', endpoint: { type: 'tcp', interface: '127.0.0.1', port: plain }, paths },
				{ type: 'web', endpoint: { type: 'tcp', interface: '127.0.0.1', port: tls,
					tls: { key: 'server.key', certificate: 'server.crt' } }, paths, options: { http2: true } },
			] }],
	};
	fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
	fs.rmSync(path.join(dir, 'h.db'), { force: true });
	const proc = spawn(BIN, ['start', '--config', path.join(dir, 'config.json'), '--db', path.join(dir, 'h.db'),
		'--loglevel', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
	for (let i = 0; i < 100; i++) {
		await sleep(50);
		const ok = await new Promise((r) => {
			const s = net.connect(tls, '127.0.0.1', () => { s.destroy(); r(true); });
			s.on('error', () => r(false));
		});
		if (ok) return { proc, port: tls };
	}
	throw new Error('gateway did not start');
}

const kinds = {
	'h1 SSE': (port) => new Promise((resolve, reject) => {
		const req = https.get({ host: '127.0.0.1', port, servername: 'localhost', ca, agent: false,
			path: '/sse?topic=bench.idle', headers: { Accept: 'text/event-stream' } }, (res) => {
			res.once('data', () => resolve(() => req.destroy()));
		});
		req.on('error', reject);
	}),
	'h2 SSE': (port) => new Promise((resolve, reject) => {
		const client = http2.connect(`https://localhost:${port}`, { ca });
		client.on('error', reject);
		const st = client.request({ ':path': '/sse?topic=bench.idle', accept: 'text/event-stream' });
		st.once('data', () => resolve(() => client.destroy()));
		st.on('error', reject);
	}),
	'wss (WAMP session)': (port) => new Promise((resolve, reject) => {
		const ws = new WebSocket(`wss://localhost:${port}/ws`, ['wamp.2.json'], { ca });
		ws.on('open', () => ws.send(JSON.stringify([1, 'realm1', { roles: { subscriber: {} } }])));
		ws.once('message', () => resolve(() => ws.terminate()));
		ws.on('error', reject);
	}),
};

console.log(`# ${N} idle connections per kind, gateway ${BIN}`);
console.log('| kind | RSS before | RSS with N open | per connection |');
console.log('|---|---:|---:|---:|');
for (const [name, open] of Object.entries(kinds)) {
	const gw = await startGateway();
	await sleep(300);
	const before = rssKiB(gw.proc.pid);
	const closers = [];
	for (let i = 0; i < N; i += 50) {
		const batch = [];
		for (let j = i; j < Math.min(N, i + 50); j++) batch.push(open(gw.port));
		closers.push(...await Promise.all(batch));
	}
	await sleep(1000);
	const after = rssKiB(gw.proc.pid);
	console.log(`| ${name} | ${(before / 1024).toFixed(1)} MiB | ${(after / 1024).toFixed(1)} MiB | ` +
		`${((after - before) / N).toFixed(1)} KiB |`);
	for (const c of closers) c();
	gw.proc.kill('SIGTERM');
	await new Promise((r) => gw.proc.once('exit', r));
}
fs.rmSync(dir, { recursive: true, force: true });
