// 65-nginx-proxy: examples/nginx/switchboard.conf in Debian's nginx, in
// front of a stand-in "existing app" and a real gateway: the app stays at /,
// an SSE stream and a WAMP WebSocket (Autobahn|JS) work through the proxy.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
	startGateway, stopClean, makeConfig, openSse, openSseLive, publishOk, info, request, tempDir,
	freePort, waitFor, within, SRCDIR, HOST,
} from './lib/gateway.mjs';
import { connectAutobahn } from './lib/wamp.mjs';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p));
const skip = NGINX ? false : 'nginx not found (apt-get install nginx, or ./deps.sh --test)';
const EXAMPLE = path.join(SRCDIR, 'examples/nginx/switchboard.conf');

let gw, app, nginx, dir, proxy, nginxLog = '';

/** The example with its addresses moved to this test's ports, inside a minimal nginx.conf. */
function writeConfig(port, appPort) {
	const site = fs.readFileSync(EXAMPLE, 'utf8')
		.replace(/listen 80;/, `listen ${HOST}:${port};`)
		.split('127.0.0.1:8080').join(`${HOST}:${gw.port}`)
		.split('127.0.0.1:3000').join(`${HOST}:${appPort}`);
	fs.writeFileSync(path.join(dir, 'switchboard.conf'), site);
	fs.mkdirSync(path.join(dir, 'tmp'));
	const t = (n) => path.join(dir, 'tmp', n);
	fs.writeFileSync(path.join(dir, 'nginx.conf'), `daemon off;
worker_processes 1;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} info;
events { worker_connections 256; }
http {
	access_log ${path.join(dir, 'access.log')};
	client_body_temp_path ${t('body')};
	proxy_temp_path ${t('proxy')};
	fastcgi_temp_path ${t('fastcgi')};
	uwsgi_temp_path ${t('uwsgi')};
	scgi_temp_path ${t('scgi')};
	include ${path.join(dir, 'switchboard.conf')};
}
`);
}

const nginxArgs = () => ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')];

before(async () => {
	if (skip) return;
	// A 1 s heartbeat, so that a buffering proxy would show within the test.
	gw = await startGateway({ config: makeConfig({ sse: { heartbeat: 1 } }) });
	app = http.createServer((req, res) => {
		res.writeHead(200, { 'Content-Type': 'text/plain' });
		res.end(`the existing app: ${req.method} ${req.url}\n`);
	});
	const appPort = await freePort();
	await new Promise((r) => app.listen(appPort, HOST, r));
	dir = tempDir('sb-nginx-');
	fs.chmodSync(dir, 0o755);   // run as root, nginx's workers are another user
	const port = await freePort();
	writeConfig(port, appPort);
	proxy = { port, url: `http://${HOST}:${port}` };
	nginx = spawn(NGINX, nginxArgs(), { stdio: ['ignore', 'pipe', 'pipe'] });
	nginx.stderr.on('data', (d) => { nginxLog += d; });
	nginx.exited = new Promise((r) => nginx.once('exit', (code, signal) => r({ code, signal })));
	await waitFor(async () => (await request(proxy, 'GET', '/').catch(() => ({}))).status === 200, 10000,
		() => `nginx on port ${port} (${nginxLog}${fs.existsSync(path.join(dir, 'error.log')) ? fs.readFileSync(path.join(dir, 'error.log'), 'utf8') : ''})`);
});
after(async () => {
	if (nginx) {
		nginx.kill('SIGQUIT');   // graceful: finish requests, then exit
		if (await within(nginx.exited, 5000) === 'timeout') nginx.kill('SIGKILL');
	}
	if (app) app.close();
	await stopClean(gw);
});

test('nginx accepts the example, and keeps idle streams open longer than heartbeats and pings', { skip }, () => {
	// Test nginx -t on the file as installed, and the read timeouts of /ws and /sse
	// against the gateway's defaults (SSE heartbeat 15 s, WebSocket ping 30 s + 10 s).
	const r = spawnSync(NGINX, ['-t', ...nginxArgs()], { encoding: 'utf8' });
	assert.equal(r.status, 0, r.stderr);
	assert.match(r.stderr, /test is successful/);
	const text = fs.readFileSync(EXAMPLE, 'utf8');
	for (const loc of ['/ws', '/sse']) {
		const block = text.slice(text.indexOf(`location = ${loc} {`)).split('}')[0];
		const m = block.match(/proxy_read_timeout (\d+)(h|m|s)?;/);
		assert.ok(m, `${loc} sets proxy_read_timeout`);
		const seconds = Number(m[1]) * ({ h: 3600, m: 60, s: 1 }[m[2] || 's']);
		assert.ok(seconds >= 120, `${loc}: ${seconds} s`);
	}
});

test('the existing app is still served at /', { skip }, async () => {
	// Test that everything but /ws and /sse goes to the app, /publish included.
	const root = await request(proxy, 'GET', '/index.php?x=1');
	assert.equal(root.text, 'the existing app: GET /index.php?x=1\n');
	const pub = await request(proxy, 'POST', '/publish', { body: '{"topic": "a.b"}', headers: { 'Content-Type': 'application/json' } });
	assert.equal(pub.text, 'the existing app: POST /publish\n', 'browsers cannot publish through the proxy');
});

test('an SSE stream through nginx: events and heartbeats arrive at once, Last-Event-ID resumes', { skip }, async () => {
	// Test latency of one event, a heartbeat within two intervals (nothing buffered), the
	// headers, and a resume through the proxy with the header a browser sends.
	const topic = 'com.example.nginx.sse';
	const s = await openSseLive(proxy, { topic });
	assert.match(s.headers['content-type'], /^text\/event-stream/);
	assert.equal((await info(gw)).sse_clients, 1);
	const t0 = Date.now();
	await publishOk(gw, topic, ['first']);
	const [ev] = await s.waitEvents(1, 2000);
	assert.ok(Date.now() - t0 < 1000, `the event took ${Date.now() - t0} ms`);
	assert.deepEqual(ev.json.args, ['first']);
	const pings = s.comments.length;
	await s.waitFor((x) => x.comments.length > pings, 2500, 'a heartbeat through nginx');
	s.close();

	await publishOk(gw, topic, ['missed 1']);
	await publishOk(gw, topic, ['missed 2']);
	const again = openSse(proxy, { topic }, { headers: { 'Last-Event-ID': ev.id } });
	assert.equal((await again.ready).status, 200);
	const evs = await again.waitEvents(2);
	assert.deepEqual(evs.map((e) => e.json.args[0]), ['missed 1', 'missed 2']);
	assert.ok(Number(evs[0].id) > Number(ev.id));
	again.close();
});

test('Autobahn|JS through nginx: a WAMP session subscribes, receives /publish events and calls', { skip }, async () => {
	// Test the Upgrade pass-through: a session over the proxy is a real WAMP session.
	const url = `ws://${HOST}:${proxy.port}/ws`;
	const a = await connectAutobahn(gw, { url });
	const b = await connectAutobahn(gw, { url });
	assert.equal((await info(gw)).ws_connections, 2);
	const got = [];
	await a.subscribe('com.example.nginx.ws', (args) => got.push(args[0]));
	await publishOk(gw, 'com.example.nginx.ws', ['via /publish']);
	await b.publish('com.example.nginx.ws', ['via WAMP'], {}, { acknowledge: true });
	await waitFor(() => got.length === 2, 5000, 'two events through the proxy');
	assert.deepEqual(got, ['via /publish', 'via WAMP']);
	await a.register('com.example.nginx.echo', (args) => args[0]);
	assert.equal(await b.call('com.example.nginx.echo', ['round trip']), 'round trip');
	await a.end();
	await b.end();
});
