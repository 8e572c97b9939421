// 64-examples: everything in examples/ does what it says: the configs pass
// `switchboard check` and behave as described, the publishers put events on
// the bus (seen by an SSE reader), the systemd unit's command lines start and
// stop the gateway, and the man page is clean and complete.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import {
	startGateway, stopClean, makeConfig, runCli, openSse, openSseLive, publish, postJson, tempDir,
	freePort, waitFor, within, request, SRCDIR, BIN, HOST,
} from './lib/gateway.mjs';
import { connectAutobahn, settle, autobahn } from './lib/wamp.mjs';
import { jwt, now } from './lib/auth.mjs';

const EX = path.join(SRCDIR, 'examples');
// The secrets examples/auth.json reads from the environment.
const AUTH_ENV = {
	SWITCHBOARD_BACKEND_TICKET: 'backend-ticket-for-the-test',
	SWITCHBOARD_JWT_SECRET: 'jwt-secret-for-the-test',
	SWITCHBOARD_SIGNING_SECRET: 'signing-secret-for-the-test',
};
const gws = [];
after(async () => { await stopClean(...gws); });

async function gateway(opts) {
	const gw = await startGateway(opts);
	gws.push(gw);
	return gw;
}

/** An example config with its ports (and back-end URLs) moved to free ones. */
function relocated(name, replacements) {
	let text = fs.readFileSync(path.join(EX, name), 'utf8');
	for (const [from, to] of replacements) text = text.split(from).join(to);
	return text;
}

test('the example configs pass switchboard check', async () => {
	// Test every examples/*.json except the REST bridge and TLS (their own tests below).
	const files = fs.readdirSync(EX).filter((f) => f.endsWith('.json') && !['rest-bridge.json', 'tls.json'].includes(f));
	assert.deepEqual(files.sort(), ['auth.json', 'default.json', 'production.json']);
	for (const f of files) {
		const r = runCli(['check', '--config', path.join(EX, f)], { env: AUTH_ENV });
		assert.equal(r.code, 0, `${f}: ${r.stderr}`);
		assert.match(r.stdout, new RegExp(`${f}: ok`));
	}
});

test('examples/rest-bridge.json passes switchboard check', () => {
	// Test the Crossbar REST-bridge setup (RESTCallee and MessageForwarder container workers).
	const r = runCli(['check', '--config', path.join(EX, 'rest-bridge.json')]);
	assert.equal(r.code, 0, r.stderr);
});

test('examples/default.json is the embedded default, as switchboard init writes it', () => {
	// Test that the file and the binary agree, key for key.
	const dir = path.join(tempDir(), 'cb');
	const r = runCli(['init', dir]);
	assert.equal(r.code, 0, r.stderr);
	assert.deepEqual(JSON.parse(fs.readFileSync(path.join(EX, 'default.json'), 'utf8')),
		JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')));
});

test('examples/production.json: browsers may only subscribe to com.example.*, the back end publishes', async () => {
	// Test the roles the file sets up: anonymous (WebSocket, SSE) and backend (/publish, /call).
	const gw = await gateway({ config: relocated('production.json', []) });
	const s = await openSseLive(gw, { topic: 'com.example.orders' });
	const denied = openSse(gw, { topic: 'internal.audit' });
	assert.equal((await denied.ready).status, 403);
	const wamp = await connectAutobahn(gw);
	const got = [];
	await wamp.subscribe('com.example.orders', (args) => got.push(args[0]));
	const pub = await settle(wamp.publish('com.example.orders', ['from a browser'], {}, { acknowledge: true }));
	assert.equal(pub.error, 'wamp.error.not_authorized');
	const reg = await settle(wamp.register('com.example.rpc', () => 1));
	assert.equal(reg.error, 'wamp.error.not_authorized');
	const r = await publish(gw, 'com.example.orders', ['from the back end']);
	assert.equal(r.status, 200, r.text);
	const [ev] = await s.waitEvents(1);
	assert.deepEqual(ev.json.args, ['from the back end']);
	await waitFor(() => got.length === 1, 5000, 'the WAMP subscriber');
	assert.deepEqual(got, ['from the back end']);
	// CORS: the site's origin may read the stream from its pages; another origin may not.
	for (const [origin, allowed] of [['https://www.example.com', 'https://www.example.com'], ['https://evil.example.net', undefined]]) {
		const c = await openSseLive(gw, { topic: 'com.example.orders' }, { headers: { Origin: origin } });
		assert.equal(c.headers['access-control-allow-origin'], allowed, origin);
		c.close();
	}
	s.close();
	await wamp.end();
});

test('examples/auth.json: the back end logs in by ticket and authenticates users; private SSE by JWT', async () => {
	// Test the roles and methods the file sets up: backend (ticket from the
	// environment) registers the wampcra authenticator; a user logs in with
	// wampcra as frontend and may only subscribe; SSE wants a JWT cookie; the
	// file without its environment variables fails check naming the key.
	const bare = runCli(['check', '--config', path.join(EX, 'auth.json')], {
		env: { SWITCHBOARD_BACKEND_TICKET: '', SWITCHBOARD_JWT_SECRET: '', SWITCHBOARD_SIGNING_SECRET: '' },
	});
	assert.notEqual(bare.code, 0);
	assert.match(bare.stderr, /principals\.backend\.ticket: environment variable SWITCHBOARD_BACKEND_TICKET is not set/);
	const gw = await gateway({ config: relocated('auth.json', []), env: AUTH_ENV });
	const backend = await connectAutobahn(gw, {
		authmethods: ['ticket'], authid: 'backend', onchallenge: () => AUTH_ENV.SWITCHBOARD_BACKEND_TICKET,
	});
	assert.equal(backend.welcome.authrole, 'backend');
	await backend.register('com.example.authenticate', (args) => {
		const [, authid] = args;
		if (authid === 'alice') return { secret: 'alice-password', role: 'frontend' };
		throw new autobahn.Error('wamp.error.not_authorized', ['no such user']);
	});
	const alice = await connectAutobahn(gw, {
		authmethods: ['wampcra'], authid: 'alice',
		onchallenge: (session, method, extra) => autobahn.auth_cra.sign('alice-password', extra.challenge),
	});
	assert.deepEqual([alice.welcome.authid, alice.welcome.authrole, alice.welcome.authprovider],
		['alice', 'frontend', 'dynamic']);
	const got = [];
	await alice.subscribe('com.example.news', (a) => got.push(a[0]));
	const pub = await settle(alice.publish('com.example.news', ['x'], {}, { acknowledge: true }));
	assert.equal(pub.error, 'wamp.error.not_authorized');
	const nobody = await settle(connectAutobahn(gw, {
		authmethods: ['wampcra'], authid: 'mallory', onchallenge: () => 'guess',
	}));
	assert.ok(nobody.error, 'an unknown user is refused');

	const anonymous = openSse(gw, { topic: 'com.example.news' });
	assert.equal((await anonymous.ready).status, 401);
	const token = jwt({ sub: 'alice', iss: 'www.example.com', exp: now() + 60 }, { key: AUTH_ENV.SWITCHBOARD_JWT_SECRET });
	const sse = await openSseLive(gw, { topic: 'com.example.news' }, { headers: { Cookie: `sb_token=${token}` } });
	await backend.publish('com.example.news', ['hello'], {}, { acknowledge: true });
	const [ev] = await sse.waitEvents(1);
	assert.deepEqual(ev.json.args, ['hello']);
	await waitFor(() => got.length === 1, 5000, 'alice\'s WAMP subscription');
	sse.close();
	await alice.end();
	await backend.end();
});

test('examples/tls.json: with a key and certificate beside it, pages and streams over https, /publish on loopback', async () => {
	// Test the file as a user would use it: a self-signed key and certificate
	// made with openssl next to the config (check without them names the
	// missing file); the TLS port answers /info over https with HSTS and
	// streams an event published on the plain loopback port.
	const missing = runCli(['check', '--config', path.join(EX, 'tls.json')]);
	assert.notEqual(missing.code, 0);
	assert.match(missing.stderr, /endpoint\.tls\.(key|certificate): cannot read/);
	const dir = tempDir('sb-e2e-tls-example-');
	const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
		'-nodes', '-keyout', 'server.key', '-out', 'server.crt', '-days', '2', '-subj', '/CN=localhost',
		'-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { cwd: dir, encoding: 'utf8' });
	assert.equal(made.status, 0, made.stderr);
	const tlsPort = await freePort(), plainPort = await freePort();
	const text = relocated('tls.json', [['"port": 8443', `"port": ${tlsPort}`], ['"port": 8080', `"port": ${plainPort}`]]);
	fs.writeFileSync(path.join(dir, 'config.json'), text);
	const ok = runCli(['check', '--config', path.join(dir, 'config.json')]);
	assert.equal(ok.code, 0, ok.stderr);
	const gw = await gateway({ dir, config: text, listen: false, port: plainPort });
	const ca = fs.readFileSync(path.join(dir, 'server.crt'));
	const get = (pth) => new Promise((resolve, reject) => {
		const req = https.get({ host: 'localhost', port: tlsPort, path: pth, ca, headers: { Accept: 'application/json' } }, (res) => {
			let body = '';
			res.setEncoding('utf8');
			res.on('data', (d) => {
				body += d;
				if (pth.startsWith('/sse') && body.includes('data: ')) { req.destroy(); resolve({ res, body }); }
			});
			res.on('end', () => resolve({ res, body }));
		});
		req.on('error', reject);
	});
	const info = await within(get('/info'), 5000, 'GET /info over https');
	assert.equal(info.res.statusCode, 200);
	assert.equal(JSON.parse(info.body).version.length > 0, true);
	assert.match(info.res.headers['strict-transport-security'] || '', /max-age=\d+/);
	const r = await postJson(gw, '/publish', { topic: 'com.example.news', args: ['over tls'] });
	assert.equal(r.status, 200, r.text);
	const sse = await within(get('/sse?topic=com.example.news&lastEventId=0'), 5000, 'the stream over https');
	assert.match(sse.body, /data: \{"topic":"com\.example\.news","args":\["over tls"\]\}/);
});

test('examples/rest-bridge.json: webapp.api and the forwarder reach a local back end', async () => {
	// Test the seed scenario on free ports: /call and Autobahn|JS call webapp.api; /publish
	// and a WAMP publish are forwarded by prefix and wildcard subscriptions.
	const hits = [];
	const backend = http.createServer((req, res) => {
		let body = '';
		req.on('data', (c) => { body += c; });
		req.on('end', () => {
			hits.push({ method: req.method, url: req.url, body });
			res.writeHead(200, { 'Content-Type': 'application/json' });
			res.end('{"ok":true}');
		});
	});
	const bport = await freePort();
	await new Promise((r) => backend.listen(bport, HOST, r));
	const wsPort = await freePort();
	const webPort = await freePort();
	const text = relocated('rest-bridge.json', [
		['127.0.0.1:5000', `${HOST}:${bport}`], ['7000', String(wsPort)], ['8000', String(webPort)],
	]);
	try {
		const gw = await gateway({ config: text, listen: false, port: webPort });
		const r = await postJson(gw, '/call', { procedure: 'webapp.api', kwargs: { url: 'status' } });
		assert.equal(r.json.args[0].code, 200, r.text);
		assert.equal(r.json.args[0].content, '{"ok":true}');
		assert.deepEqual(hits.shift(), { method: 'GET', url: '/api/status', body: '' });

		await publish(gw, 'breaking-news.politics', ['vote'], {});
		await waitFor(() => hits.length === 1, 5000, 'the forwarded news');
		assert.deepEqual(hits.shift(), { method: 'POST', url: '/hooks/news', body: '{"args":["vote"],"kwargs":{}}' });

		const s = await connectAutobahn(gw, { port: wsPort, realm: 'acme-company' });
		await s.publish('user.12.orders', [{ sku: 7 }], {}, { acknowledge: true });
		await waitFor(() => hits.length === 1, 5000, 'the forwarded order');
		assert.deepEqual(hits.shift(), { method: 'POST', url: '/hooks/orders', body: '{"args":[{"sku":7}],"kwargs":{}}' });
		await s.end();
	} finally {
		backend.close();
	}
});

// ---- publishers --------------------------------------------------------------

const PUB = path.join(EX, 'publishers');
const PUBLISHERS = [
	['the curl publisher (publish.sh)', () => ['sh', [path.join(PUB, 'publish.sh')]], false],
	// -I -S: no site-packages and no user paths, so only the standard library is there.
	['the Python publisher (publish.py, standard library only)', () => ['/usr/bin/python3', ['-I', '-S', path.join(PUB, 'publish.py')]],
		fs.existsSync('/usr/bin/python3') ? false : '/usr/bin/python3 not found'],
	['the Node.js publisher (publish.mjs)', () => [process.execPath, [path.join(PUB, 'publish.mjs')]], false],
	['the PHP publisher (publish.php)', () => ['php', [path.join(PUB, 'publish.php')]],
		spawnSync('php', ['-v']).status === 0 ? false : 'php not found (apt-get install php-cli, or ./deps.sh --test)'],
];

let pubGw;
async function pubGateway() {
	if (!pubGw) pubGw = await gateway({ config: makeConfig() });
	return pubGw;
}

function run(cmd, args, env) {
	const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 15000, env: Object.assign({}, process.env, env) });
	if (r.error) throw r.error;
	return r;
}

for (const [name, argv, skip] of PUBLISHERS) {
	test(`${name} publishes an event an SSE reader sees, and fails loudly`, { skip }, async () => {
		// Test success (exit 0, the reply, the event) and three failures: a 400, a WAMP
		// refusal (200 {"error"}) and no gateway at all, each a non-zero exit with a message.
		const gw = await pubGateway();
		const [cmd, args] = argv();
		const lang = path.basename(args.at(-1));
		const topic = `com.example.publishers.${lang.replace('.', '_')}`;
		const s = await openSseLive(gw, { topic });
		const env = { SWITCHBOARD_URL: gw.url };
		const ok = run(cmd, [...args, topic, '["hello", 1]', `{"from": "${lang}"}`], env);
		assert.equal(ok.status, 0, ok.stderr);
		assert.match(ok.stdout.trim(), /^\{"id": ?\d+\}$/);
		const [ev] = await s.waitEvents(1);
		assert.deepEqual(ev.json, { topic, args: ['hello', 1], kwargs: { from: lang } });

		const bad = run(cmd, [...args, 'not a topic'], env);
		assert.equal(bad.status, 1, bad.stdout);
		assert.match(bad.stderr, /HTTP 400.*switchboard\.error\.bad_request/);
		const refused = run(cmd, [...args, 'wamp.reserved'], env);
		assert.equal(refused.status, 1, refused.stdout);
		assert.match(refused.stderr, /HTTP 200.*wamp\.error\.invalid_uri/);
		const port = await freePort();
		const down = run(cmd, [...args, topic], { SWITCHBOARD_URL: `http://${HOST}:${port}` });
		assert.equal(down.status, 1, down.stdout);
		assert.ok(down.stderr.length > 0);
		assert.equal(s.events.length, 1, 'nothing else was published');
		s.close();
	});
}

// ---- systemd -------------------------------------------------------------------

test('the systemd unit: its command lines check, start and stop the gateway as it says', async (t) => {
	// Test ExecStartPre and ExecStart as written (paths moved into a temp dir), KillSignal
	// giving exit 0, and systemd-analyze verify when it is installed.
	const unitText = fs.readFileSync(path.join(EX, 'systemd/switchboard.service'), 'utf8');
	const key = (k) => unitText.match(new RegExp(`^${k}=(.*)$`, 'm'))?.[1];
	const dir = tempDir();
	const port = await freePort();
	const etc = path.join(dir, 'etc');
	const state = path.join(dir, 'state');
	fs.mkdirSync(etc);
	fs.mkdirSync(state);
	fs.writeFileSync(path.join(etc, 'config.json'), relocated('production.json', [['8080', String(port)]]));
	const local = (line) => line.split('/usr/local/bin/switchboard').join(BIN)
		.split('/etc/switchboard').join(etc).split('/var/lib/switchboard').join(state);
	const unit = local(unitText);

	if (spawnSync('systemd-analyze', ['--version']).status === 0) {
		const file = path.join(dir, 'switchboard.service');
		fs.writeFileSync(file, unit);
		const v = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
		assert.equal(v.status, 0, v.stderr);
		assert.equal(v.stderr.trim(), '', 'systemd-analyze has no complaint');
	} else {
		t.diagnostic('systemd-analyze not installed: the unit file syntax was not verified');
	}
	assert.equal(key('KillSignal'), 'SIGTERM');
	assert.equal(key('WorkingDirectory'), '/var/lib/switchboard');
	assert.equal(key('StateDirectory'), 'switchboard');

	const pre = local(key('ExecStartPre')).split(' ');
	const check = spawnSync(pre[0], pre.slice(1), { encoding: 'utf8' });
	assert.equal(check.status, 0, check.stderr);
	const start = local(key('ExecStart')).split(' ');
	const proc = spawn(start[0], start.slice(1), { cwd: local(key('WorkingDirectory')), stdio: ['ignore', 'ignore', 'pipe'] });
	let log = '';
	proc.stderr.on('data', (d) => { log += d; });
	const exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
	try {
		const gw = { port, url: `http://${HOST}:${port}` };
		await waitFor(async () => (await request(gw, 'GET', '/healthz').catch(() => ({}))).status === 200, 10000, `the unit's gateway (${log})`);
		assert.equal((await publish(gw, 'com.example.unit', [1])).status, 200);
		proc.kill(key('KillSignal'));
		const r = await within(exited, Number(key('TimeoutStopSec')) * 1000, 'timeout');
		assert.deepEqual(r, { code: 0, signal: null }, log);
		assert.ok(fs.existsSync(path.join(state, 'switchboard.db')), 'the history is in the StateDirectory');
	} finally {
		proc.kill('SIGKILL');
	}
});

// ---- the man page ----------------------------------------------------------------

test('switchboard(1) renders without warnings and covers every command, option and path', (t) => {
	// Test the page against the binary's own usage text.
	const page = fs.readFileSync(path.join(SRCDIR, 'doc/switchboard.1'), 'utf8');
	const groff = spawnSync('groff', ['-man', '-ww', '-z', path.join(SRCDIR, 'doc/switchboard.1')], { encoding: 'utf8' });
	if (groff.error) {
		t.diagnostic('groff not installed: rendering not checked');
	} else {
		assert.equal(groff.status, 0);
		assert.equal(groff.stderr, '', 'groff has no warning');
	}
	const usage = runCli(['--help']).stdout;
	const options = [...new Set(usage.match(/--[a-z]+/g))];
	assert.ok(options.length >= 6, usage);
	for (const o of [...options, '--help']) {
		assert.ok(page.includes(`.BI \\-\\-${o.slice(2)}`) || page.includes(`\\-\\-${o.slice(2)}`), `option ${o}`);
	}
	for (const verb of ['start', 'check', 'init', 'version']) assert.match(page, new RegExp(`^\\.B ${verb}$`, 'm'), verb);
	for (const p of ['/ws', '/publish', '/call', '/sse', '/info', '/metrics', '/healthz']) assert.ok(page.includes(p), p);
	for (const section of ['SYNOPSIS', 'COMMANDS', 'OPTIONS', 'CONFIGURATION', 'SIGNALS', 'EXIT STATUS', 'FILES', 'EXAMPLES']) {
		assert.match(page, new RegExp(`^\\.SH ${section}$`, 'm'), section);
	}
	assert.match(page, /^\.TH SWITCHBOARD 1 /m);
	const version = runCli(['version']).stdout.trim().split(' ')[1];
	assert.ok(page.includes(`"switchboard ${version}"`), `the page names version ${version}`);
});
