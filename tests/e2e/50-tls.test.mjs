// 50-tls: the TLS port (libwebsockets) serves every path of its transport.
//
// A test CA and server certificates are made with the openssl command at
// test time, in a temp dir (no private key is committed).  One gateway has
// a plain transport first (its health check and the require_tls contrast)
// and a TLS transport with http2 on a second port; curl (Debian's, with
// HTTP/2), Node's https/http2 clients, Autobahn|JS over wss and openssl
// s_client talk to it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import path from 'node:path';
import {
	HOST, freePort, makeConfig, runCli, startGateway, stopClean, tempDir, waitFor, sleep,
} from './lib/gateway.mjs';
import { WebSocket, connectAutobahn, settle } from './lib/wamp.mjs';

let dir, ca, gw, tlsPort, base;

// ---- certificates ------------------------------------------------------------

function openssl(args, input) {
	const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', input, timeout: 20000 });
	if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
	return r.stdout;
}

/** A P-256 key and a certificate for localhost/127.0.0.1 signed by the test CA. */
function issue(name, serial, { client = false } = {}) {
	openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
		'-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${client ? 'client' : 'localhost'}`]);
	fs.writeFileSync(path.join(dir, `${name}.ext`), client
		? 'extendedKeyUsage=clientAuth\n'
		: 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
	openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key',
		'-set_serial', serial, '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
}

function makeCertificates() {
	openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
		'-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Switchboard Test CA']);
	issue('server', '0x1001');
	issue('renewed', '0x1002');            // same name, new key: the SIGHUP reload
	issue('client', '0x2001', { client: true });
	fs.copyFileSync(path.join(dir, 'server.crt'), path.join(dir, 'live.crt'));
	fs.copyFileSync(path.join(dir, 'server.key'), path.join(dir, 'live.key'));
	ca = fs.readFileSync(path.join(dir, 'ca.crt'));
}

// ---- config --------------------------------------------------------------------

const CIPHERS = 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305';

function tlsTransport(port, tls, paths, options = {}) {
	return {
		type: 'web',
		endpoint: { type: 'tcp', interface: HOST, port, tls },
		paths,
		options: Object.assign({ http2: true, hsts: true }, options),
	};
}

function gatewayConfig() {
	const cfg = makeConfig({ sse: { heartbeat: 30 } });
	const paths = cfg.workers[0].transports[0].paths;
	paths.secure = { type: 'publisher', realm: 'realm1', role: 'anonymous', options: { require_tls: true } };
	paths.big = { type: 'publisher', realm: 'realm1', role: 'anonymous',
		options: { post_body_limit: 1048576 } };
	paths.hook = { type: 'webhook', realm: 'realm1', role: 'anonymous',
		options: { topic: 'com.tls.hook', github_secret: 's3cret' } };
	cfg.workers[0].transports.push(tlsTransport(tlsPort, {
		key: 'live.key', certificate: 'live.crt', ciphers: CIPHERS,
	}, Object.assign({}, paths)));
	return cfg;
}

// ---- clients -------------------------------------------------------------------

/** curl over TLS, run without blocking our loop (a callee may live in
 *  this process); resolves to {status, body, version, headers}. */
let curlCount = 0;
function curlTls(pth, extra = [], port = tlsPort) {
	const out = path.join(dir, `body-${++curlCount}.out`);
	const p = spawn('curl', ['-sS', '--cacert', path.join(dir, 'ca.crt'), '--max-time', '10',
		'-D', '-', '-o', out, '-w', '\n%{http_code} %{http_version}',
		...extra, `https://localhost:${port}${pth}`]);
	let stdout = '', stderr = '';
	p.stdout.on('data', (d) => { stdout += d; });
	p.stderr.on('data', (d) => { stderr += d; });
	return new Promise((resolve) => p.on('close', (code) => {
		const last = stdout.slice(stdout.lastIndexOf('\n') + 1).split(' ');
		let body = '';
		try { body = fs.readFileSync(out, 'utf8'); fs.unlinkSync(out); } catch { /* none */ }
		resolve({ status: Number(last[0]), version: last[1], headers: stdout.toLowerCase(), body,
			stderr, code });
	}));
}

function postTls(pth, body, extra = []) {
	const file = path.join(dir, `post-${++curlCount}.json`);
	fs.writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body));
	return curlTls(pth, ['-H', 'Content-Type: application/json', '--data-binary', `@${file}`, ...extra]);
}

/** An HTTP/1.1 event stream over TLS with Node's https: events as they come. */
function sseTls(query, headers = {}) {
	const s = { events: [], text: '', status: null };
	s.ready = new Promise((resolve, reject) => {
		const req = https.get({ host: HOST, port: tlsPort, servername: 'localhost', ca, agent: false,
			path: `/sse?${query}`, headers: Object.assign({ Accept: 'text/event-stream' }, headers) },
		(res) => {
			s.status = res.statusCode;
			res.setEncoding('utf8');
			res.on('data', (d) => {
				s.text += d;
				s.events = s.text.split('\n\n').filter((b) => /^data: /m.test(b)).map((b) => ({
					id: (b.match(/^id: (.*)$/m) || [])[1],
					json: JSON.parse(b.match(/^data: (.*)$/m)[1]),
				}));
			});
			resolve(s);
		});
		req.on('error', reject);
		s.close = () => req.destroy();
	});
	s.waitEvents = (n) => waitFor(() => s.events.length >= n, 5000,
		() => `${n} events over TLS (have ${s.events.length}: ${s.text.slice(-300)})`);
	return s;
}

/** curl --http2 -N: an HTTP/2 event stream, read as it arrives. */
function sseH2(query, extra = []) {
	const p = spawn('curl', ['-sS', '-N', '--http2', '--cacert', path.join(dir, 'ca.crt'),
		'--max-time', '30', ...extra, `https://localhost:${tlsPort}/sse?${query}`]);
	const s = { text: '', stderr: '' };
	p.stdout.on('data', (d) => { s.text += d; });
	p.stderr.on('data', (d) => { s.stderr += d; });
	s.ids = () => [...s.text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
	s.close = () => p.kill();
	return s;
}

/** openssl s_client against the TLS port; returns its output and exit code. */
function sClient(args, port = tlsPort) {
	const r = spawnSync('openssl', ['s_client', '-connect', `${HOST}:${port}`, '-servername', 'localhost',
		'-CAfile', path.join(dir, 'ca.crt'), ...args], { encoding: 'utf8', input: '', timeout: 15000 });
	return { out: r.stdout + r.stderr, code: r.status };
}

function servedSerial() {
	const r = sClient(['-showcerts']);
	const pem = r.out.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/);
	assert.ok(pem, `no certificate from s_client: ${r.out.slice(0, 500)}`);
	return openssl(['x509', '-noout', '-serial'], pem[0]).trim();
}

// Autobahn|JS on Node 20 opens `new WebSocket(url, protocols)` from the
// global scope (the ws package, set by lib/wamp.mjs): give it the test CA.
class TlsWebSocket extends WebSocket {
	constructor(url, protocols, opts = {}) {
		super(url, protocols, Object.assign({ ca }, opts));
	}
}

function wssUrl(pth = '/ws') {
	return `wss://localhost:${tlsPort}${pth}`;
}

/** A WebSocket handshake over TLS: {status, body} or {protocol} when it opens. */
function wsTry(pth, protocols) {
	return new Promise((resolve) => {
		const ws = new WebSocket(wssUrl(pth), protocols, { ca });
		ws.on('open', () => { resolve({ protocol: ws.protocol }); ws.close(); });
		ws.on('unexpected-response', (req, res) => {
			let body = '';
			res.on('data', (d) => { body += d; });
			res.on('end', () => resolve({ status: res.statusCode, body }));
		});
		ws.on('error', (e) => resolve({ error: e.message }));
	});
}

// ---- the gateway -----------------------------------------------------------------

before(async () => {
	dir = tempDir('sb-e2e-tls-');
	makeCertificates();
	globalThis.WebSocket = TlsWebSocket;
	tlsPort = await freePort();
	gw = await startGateway({ dir, config: gatewayConfig() });
	base = `https://localhost:${tlsPort}`;
	await waitFor(() => /listening on 127\.0\.0\.1:\d+ \(web transport, TLS\)/.test(gw.log()), 5000,
		'the TLS listener');
});

after(async () => {
	await stopClean(gw);
});

// ---- the tests -------------------------------------------------------------------

test('Test that https serves static files, /healthz, /info and /metrics over HTTP/1.1 and HTTP/2', async () => {
	for (const ver of ['--http1.1', '--http2']) {
		const index = await curlTls('/', [ver]);
		assert.equal(index.status, 200, `${ver} /: ${index.stderr}`);
		assert.equal(index.version, ver === '--http2' ? '2' : '1.1');
		assert.match(index.body, /<html/i);
		assert.match(index.headers, /strict-transport-security: max-age=31536000/);
		const health = await curlTls('/healthz', [ver]);
		assert.deepEqual(JSON.parse(health.body), { status: 'ok' });
		const info = await curlTls('/info?format=json', [ver]);
		assert.equal(info.status, 200);
		assert.equal(typeof JSON.parse(info.body).uptime_s, 'number');
		const metrics = await curlTls('/metrics', [ver]);
		assert.match(metrics.body, /^switchboard_/m);
		const missing = await curlTls('/no-such-file.txt', [ver]);
		assert.equal(missing.status, 404);
		assert.equal(JSON.parse(missing.body).error, 'switchboard.error.not_found');
		const head = await curlTls('/index.html', [ver, '-I']);
		assert.equal(head.status, 200);
		assert.match(head.headers, /content-length: \d+/);
	}
	// The same bytes as the plain port's static file.
	const file = fs.readFileSync(path.join(process.env.SWITCHBOARD_SRCDIR || '.', 'www/style.css'), 'utf8');
	assert.equal((await curlTls('/style.css', ['--http2'])).body, file);
});

test('Test that POST /publish and /call work over https, and HTTP/2 bodies over 255 KiB get 413', async () => {
	for (const ver of ['--http1.1', '--http2']) {
		const r = await postTls('/publish', { topic: 'com.tls.publish', args: [ver] }, [ver]);
		assert.equal(r.status, 200, r.body);
		assert.equal(typeof JSON.parse(r.body).id, 'number');
		const bad = await postTls('/publish', '{not json', [ver]);
		assert.equal(bad.status, 400);
		assert.equal(JSON.parse(bad.body).error, 'switchboard.error.bad_request');
		const call = await postTls('/call', { procedure: 'com.tls.nobody' }, [ver]);
		assert.equal(call.status, 200);
		assert.equal(JSON.parse(call.body).error, 'wamp.error.no_such_procedure');
		const get = await curlTls('/publish', [ver]);
		assert.equal(get.status, 405);
	}
	// A 300 KB event: fine over HTTP/1.1 (the path allows 1 MiB), refused
	// with Crossbar's 413 over HTTP/2, where lws stalls above 256 KiB.
	const big = { topic: 'com.tls.big', args: ['x'.repeat(300000)] };
	assert.equal((await postTls('/big', big, ['--http1.1'])).status, 200);
	const h2 = await postTls('/big', big, ['--http2']);
	assert.equal(h2.status, 413, h2.body);
	assert.equal(h2.version, '2');
	assert.match(JSON.parse(h2.body).args[0], /accepted 261120 bytes/);
	const h2ok = await postTls('/big', { topic: 'com.tls.big', args: ['x'.repeat(200000)] }, ['--http2']);
	assert.equal(h2ok.status, 200, h2ok.body);
});

test('Test that Autobahn|JS over wss publishes, subscribes and calls (the session is the same as on ws)', async () => {
	const a = await connectAutobahn(null, { url: wssUrl() });
	const b = await connectAutobahn(null, { url: wssUrl(), serializer: 'msgpack' });
	try {
		const got = [];
		await b.subscribe('com.tls.chat', (args) => got.push(args[0]));
		await a.register('com.tls.add', (args) => args[0] + args[1]);
		await a.publish('com.tls.chat', ['over wss'], {}, { acknowledge: true });
		await waitFor(() => got.length === 1, 5000, 'the event over wss');
		assert.deepEqual(got, ['over wss']);
		assert.equal(await b.call('com.tls.add', [2, 3]), 5);
		// The HTTP caller on the TLS port reaches the same callee.
		const r = await postTls('/call', { procedure: 'com.tls.add', args: [20, 22] }, ['--http2']);
		assert.deepEqual(JSON.parse(r.body), { args: [42] });
		// And /publish over https reaches the wss subscriber.
		await postTls('/publish', { topic: 'com.tls.chat', args: ['from https'] });
		await waitFor(() => got.length === 2, 5000, 'the https publish over wss');
		assert.equal(got[1], 'from https');
	} finally {
		await a.end();
		await b.end();
	}
});

test('Test that WebSocket upgrades over TLS follow the plain port: no WAMP subprotocol 400, not a websocket path 400', async () => {
	assert.deepEqual(await wsTry('/ws', ['wamp.2.json']), { protocol: 'wamp.2.json' });
	const none = await wsTry('/ws', []);
	assert.equal(none.status, 400);
	assert.equal(JSON.parse(none.body).error, 'switchboard.error.bad_request');
	assert.equal((await wsTry('/ws', ['wamp.2.cbor'])).status, 400);
	const sse = await wsTry('/sse', ['wamp.2.json']);
	assert.equal(sse.status, 400);
	assert.match(JSON.parse(sse.body).args[0], /No WebSocket endpoint/);
});

test('Test that a WebSocket inside an HTTP/2 stream (RFC 8441) carries a WAMP session', async () => {
	const client = http2.connect(base, { ca });
	try {
		const settings = await new Promise((resolve) => client.once('remoteSettings', resolve));
		assert.equal(settings.enableConnectProtocol, true, 'lws offers extended CONNECT');
		const stream = client.request({
			':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https', ':path': '/ws',
			':authority': `localhost:${tlsPort}`, 'sec-websocket-version': '13',
			'sec-websocket-protocol': 'wamp.2.json',
		});
		const headers = await new Promise((resolve) => stream.once('response', resolve));
		assert.equal(headers[':status'], 200);
		assert.equal(headers['sec-websocket-protocol'], 'wamp.2.json');
		// Masked client text frames and unmasked server frames, by hand.
		const frame = (text) => {
			const payload = Buffer.from(text);
			const mask = crypto.randomBytes(4);
			const head = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length])
				: Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
			return Buffer.concat([head, mask, payload.map((b, i) => b ^ mask[i % 4])]);
		};
		let rx = Buffer.alloc(0), message = [];
		const messages = [], fragments = [];
		stream.on('data', (d) => {
			rx = Buffer.concat([rx, d]);
			for (;;) {
				if (rx.length < 2) break;
				let len = rx[1] & 0x7f, off = 2;
				if (len === 126) { len = rx.length >= 4 ? rx.readUInt16BE(2) : Infinity; off = 4; }
				if (len === 127) { len = rx.length >= 10 ? Number(rx.readBigUInt64BE(2)) : Infinity; off = 10; }
				if (rx.length < off + len) break;
				fragments.push(len);
				message.push(rx.subarray(off, off + len));
				if (rx[0] & 0x80) {            // FIN: the message is complete
					messages.push(JSON.parse(Buffer.concat(message).toString()));
					message = [];
				}
				rx = rx.subarray(off + len);
			}
		});
		stream.write(frame(JSON.stringify([1, 'realm1', { roles: { subscriber: {}, publisher: {} } }])));
		await waitFor(() => messages.length >= 1, 5000, 'WELCOME over HTTP/2');
		assert.equal(messages[0][0], 2, JSON.stringify(messages[0]));
		stream.write(frame(JSON.stringify([32, 1, {}, 'com.tls.h2ws'])));
		await waitFor(() => messages.length >= 2, 5000, 'SUBSCRIBED');
		assert.equal(messages[1][0], 33);
		// Several events at once: one frame per WRITEABLE on an HTTP/2 stream.
		for (let i = 0; i < 5; i++) await postTls('/publish', { topic: 'com.tls.h2ws', args: [i] });
		await waitFor(() => messages.length >= 7, 5000, () => `5 EVENTs (have ${messages.length - 2})`);
		assert.deepEqual(messages.slice(2).map((m) => m[4][0]), [0, 1, 2, 3, 4]);
		// A 50 kB event goes out in WebSocket fragments of at most 4000
		// bytes (lws stalls on larger HTTP/2 frames).
		const big = 'y'.repeat(50000);
		const before = fragments.length;
		await postTls('/publish', { topic: 'com.tls.h2ws', args: [big] });
		await waitFor(() => messages.length >= 8, 5000, 'the big EVENT');
		assert.equal(messages[7][4][0], big);
		assert.ok(fragments.length - before >= 13 && Math.max(...fragments.slice(before)) <= 4000,
			`fragments ${fragments.slice(before)}`);
		stream.close();
	} finally {
		client.close();
	}
});

test('Test that event streams over TLS go live on HTTP/1.1 and HTTP/2 and replay after Last-Event-ID', async () => {
	const h1 = sseTls('topic=com.tls.sse');
	await h1.ready;
	assert.equal(h1.status, 200);
	const h2 = sseH2('topic=com.tls.sse');
	await waitFor(() => /retry: /.test(h2.text) && /retry: /.test(h1.text), 5000, 'both streams open');
	const first = JSON.parse((await postTls('/publish', { topic: 'com.tls.sse', args: [1] })).body).id;
	assert.ok(first);
	await postTls('/publish', { topic: 'com.tls.sse', args: [2] }, ['--http2']);
	await h1.waitEvents(2);
	await waitFor(() => h2.ids().length >= 2, 5000, () => `2 events over HTTP/2: ${h2.text} ${h2.stderr}`);
	assert.deepEqual(h1.events.map((e) => e.json.args[0]), [1, 2]);
	const [id1, id2] = h1.events.map((e) => Number(e.id));
	assert.deepEqual(h2.ids(), [id1, id2]);
	h1.close();
	h2.close();
	await postTls('/publish', { topic: 'com.tls.sse', args: [3] });
	// Resume after the first event: the header over HTTP/1.1, the query
	// parameter over HTTP/2 (lws 4.1 drops unknown HTTP/2 headers).
	const again = sseTls('topic=com.tls.sse', { 'Last-Event-ID': String(id1) });
	await again.ready;
	await again.waitEvents(2);
	assert.deepEqual(again.events.map((e) => e.json.args[0]), [2, 3]);
	assert.equal(Number(again.events[0].id), id2);
	again.close();
	const againH2 = sseH2(`topic=com.tls.sse&lastEventId=${id1}`);
	await waitFor(() => againH2.ids().length >= 2, 5000, () => `replay over HTTP/2: ${againH2.text}`);
	assert.equal(againH2.ids()[0], id2);
	againH2.close();
});

test('Test that openssl s_client sees TLS 1.2 and 1.3 only, the configured ciphers, and ALPN h2', () => {
	// TLS 1.0/1.1 refused by the server (the client is told to allow them).
	for (const old of ['-tls1', '-tls1_1']) {
		const r = sClient([old, '-cipher', 'DEFAULT@SECLEVEL=0']);
		assert.notEqual(r.code, 0, `${old} accepted: ${r.out.slice(0, 400)}`);
		assert.match(r.out, /alert protocol version/);
		assert.match(r.out, /Cipher is \(NONE\)/);
	}
	const v12 = sClient(['-tls1_2']);
	assert.equal(v12.code, 0, v12.out.slice(0, 600));
	assert.match(v12.out, /Protocol\s*:\s*TLSv1\.2/);
	assert.match(v12.out, /Cipher is ECDHE-ECDSA-(AES128-GCM-SHA256|CHACHA20-POLY1305)/);
	assert.match(sClient(['-tls1_3']).out, /New, TLSv1\.3, Cipher is TLS_/);
	// A TLS 1.2 cipher outside the configured list is refused.
	const other = sClient(['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES256-GCM-SHA384']);
	assert.notEqual(other.code, 0, other.out.slice(0, 400));
	const listed = sClient(['-tls1_2', '-cipher', 'ECDHE-ECDSA-CHACHA20-POLY1305']);
	assert.match(listed.out, /Cipher is ECDHE-ECDSA-CHACHA20-POLY1305/);
	assert.match(sClient(['-alpn', 'h2,http/1.1']).out, /ALPN protocol: h2/);
	assert.match(sClient(['-alpn', 'http/1.1']).out, /ALPN protocol: http\/1\.1/);
	assert.match(sClient(['-verify_return_error', '-verify_hostname', 'localhost']).out,
		/Verify return code: 0 \(ok\)/);
});

test('Test that require_tls accepts a publisher over https and refuses it over plain http', async () => {
	const ok = await postTls('/secure', { topic: 'com.tls.secure', args: [1] });
	assert.equal(ok.status, 200, ok.body);
	const plain = await fetch(`${gw.url}/secure`, {
		method: 'POST', headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ topic: 'com.tls.secure', args: [1] }),
	});
	assert.equal(plain.status, 400);     // Crossbar's answer to require_tls
	assert.equal((await plain.json()).args[0], 'Malformed request to the REST bridge.');
});

test('Test that a webhook over https (HTTP/1.1) checks X-Hub-Signature and publishes the GitHub headers', async () => {
	const listen = sseTls('topic=com.tls.hook');
	await listen.ready;
	await waitFor(() => /retry: /.test(listen.text), 5000, 'the stream');
	const body = '{"zen":"Keep it logically awesome."}';
	const sig = `sha1=${crypto.createHmac('sha1', 's3cret').update(body).digest('hex')}`;
	fs.writeFileSync(path.join(dir, 'hook.json'), body);
	const r = await curlTls('/hook', ['--http1.1', '-H', 'Content-Type: application/json',
		'-H', `X-Hub-Signature: ${sig}`, '-H', 'X-GitHub-Event: ping',
		'--data-binary', `@${path.join(dir, 'hook.json')}`]);
	assert.equal(r.status, 202, r.body);
	const bad = await curlTls('/hook', ['--http1.1', '-H', 'X-Hub-Signature: sha1=00',
		'--data-binary', `@${path.join(dir, 'hook.json')}`]);
	assert.equal(bad.status, 400);
	await listen.waitEvents(1);
	const ev = listen.events[0].json.args[0];
	assert.equal(ev.body, body);
	assert.deepEqual(ev.headers['X-Github-Event'] || ev.headers['X-GitHub-Event'], ['ping']);
	listen.close();
});

test('Test that SIGHUP reloads the certificate for new handshakes while an open stream keeps receiving', async () => {
	assert.equal(servedSerial(), 'serial=1001');
	const stream = sseTls('topic=com.tls.reload');
	await stream.ready;
	await waitFor(() => /retry: /.test(stream.text), 5000, 'the stream');

	fs.copyFileSync(path.join(dir, 'renewed.crt'), path.join(dir, 'live.crt'));
	fs.copyFileSync(path.join(dir, 'renewed.key'), path.join(dir, 'live.key'));
	gw.proc.kill('SIGHUP');
	await waitFor(() => /certificate reloaded from .*live\.crt \(serial 1002/.test(gw.log()), 5000,
		'the reload log line');
	assert.equal(servedSerial(), 'serial=1002');
	await postTls('/publish', { topic: 'com.tls.reload', args: ['after reload'] });
	await stream.waitEvents(1);
	assert.equal(stream.events[0].json.args[0], 'after reload');

	// A key that is not the certificate's: logged, the current one stays.
	fs.copyFileSync(path.join(dir, 'server.key'), path.join(dir, 'live.key'));
	gw.proc.kill('SIGHUP');
	await waitFor(() => /certificate not reloaded: tls\.key: .*is not the key of the certificate.*serial 1002/
		.test(gw.log()), 5000, 'the failed reload log line');
	assert.equal(servedSerial(), 'serial=1002');
	await postTls('/publish', { topic: 'com.tls.reload', args: ['still here'] });
	await stream.waitEvents(2);
	stream.close();
	fs.copyFileSync(path.join(dir, 'renewed.key'), path.join(dir, 'live.key'));
});

test('Test that ca_certificates require a client certificate signed by that CA', async () => {
	const port = await freePort(), plain = await freePort();
	const cfg = makeConfig();
	const file = (f) => path.join(dir, f);   // this gateway has a directory of its own
	cfg.workers[0].transports.push(tlsTransport(port, {
		key: file('server.key'), certificate: file('server.crt'), ca_certificates: [file('ca.crt')],
	}, { '/': { type: 'static' } }, { http2: false }));
	const g = await startGateway({ dir: tempDir('sb-e2e-tls-ca-'), config: cfg, port: plain });
	try {
		const withCert = await curlTls('/healthz', ['--cert', path.join(dir, 'client.crt'),
			'--key', path.join(dir, 'client.key')], port);
		assert.equal(withCert.status, 200, withCert.stderr);
		const without = await curlTls('/healthz', [], port);
		assert.notEqual(without.code, 0, 'a client without a certificate got in');
		assert.match(sClient(['-alpn', 'h2,http/1.1', '-cert', path.join(dir, 'client.crt'),
			'-key', path.join(dir, 'client.key')], port).out, /ALPN protocol: http\/1\.1/);
	} finally {
		await stopClean(g);
	}
});

test('Test that check fails naming tls.key for a missing key file and for a key that is not the certificate\'s', () => {
	const write = (name, tls) => {
		const cfg = makeConfig();
		cfg.workers[0].transports.push(tlsTransport(8443, tls, { '/': { type: 'static' } }));
		fs.writeFileSync(path.join(dir, name), JSON.stringify(cfg));
		return runCli(['check', '--config', path.join(dir, name)]);
	};
	const good = write('good.json', { key: 'server.key', certificate: 'server.crt' });
	assert.equal(good.code, 0, good.stderr);
	const missing = write('missing.json', { key: 'gone.key', certificate: 'server.crt' });
	assert.equal(missing.code, 1);
	assert.match(missing.stderr, /transports\[1\]\.endpoint\.tls\.key: cannot read .*gone\.key: No such file/);
	const wrong = write('wrong.json', { key: 'client.key', certificate: 'server.crt' });
	assert.equal(wrong.code, 1);
	assert.match(wrong.stderr, /transports\[1\]\.endpoint\.tls\.key: .*client\.key is not the key of the certificate .*server\.crt/);
	const cipher = write('cipher.json', { key: 'server.key', certificate: 'server.crt', ciphers: 'NOPE' });
	assert.match(cipher.stderr, /endpoint\.tls\.ciphers: no cipher in "NOPE"/);
});

test('Test that SIGTERM stops a gateway with TLS streams open cleanly', async () => {
	const stream = sseTls('topic=com.tls.bye');
	await stream.ready;
	const h2 = sseH2('topic=com.tls.bye');
	await waitFor(() => /retry: /.test(stream.text) && /retry: /.test(h2.text), 5000, 'streams');
	const r = await gw.stop();
	assert.equal(r.code, 0);
	assert.match(gw.log(), /stopped cleanly/);
	gw.proc = null;
	await sleep(100);
	h2.close();
});
