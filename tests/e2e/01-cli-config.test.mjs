// 01-cli-config: the command line (version, check, init, start) and config
// validation errors that name the file and the key path.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
	runCli, makeConfig, tempDir, startGateway, stopClean, request, info,
	portInUse, waitFor, BIN, within,
} from './lib/gateway.mjs';
import { spawn } from 'node:child_process';

const SSE_OPTS = 'workers[0].transports[0].paths.sse.options';

function writeConfig(obj, name = 'config.json') {
	const dir = tempDir();
	const file = path.join(dir, name);
	fs.writeFileSync(file, typeof obj === 'string' ? obj : JSON.stringify(obj, null, 2));
	return file;
}

// The error line must name the file and the key path; return it for more checks.
function errorLine(r, ...needles) {
	const out = `${r.stderr}\n${r.stdout}`;
	const line = out.split('\n').find((l) => needles.every((n) => l.includes(n)));
	assert.ok(line, `expected one output line containing ${JSON.stringify(needles)}, got:\n${out}`);
	return line;
}

test('version prints a version number and exits 0', () => {
	// Test that `switchboard version` prints something like 0.1.0 on stdout.
	const r = runCli(['version']);
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, /\b\d+\.\d+\.\d+\b/);
});

test('check accepts the default-shaped config', () => {
	// Test that `check --config` exits 0 on the embedded default written out.
	const r = runCli(['check', '--config', writeConfig(makeConfig())]);
	assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
});

test('check accepts a config with every documented option set', () => {
	// Test that the options named in the brief (eventsource, publisher,
	// caller, web transport, history retention) are all accepted.
	const cfg = makeConfig({
		sse: { heartbeat: 5, retry: 1000, queue_limit: 64, allowed_origins: ['https://app.example'] },
		publisher: { post_body_limit: 4096 },
		caller: { post_body_limit: 4096 },
		web: { max_connections: 1000, connection_memory: 16384 },
		history: {
			sync: 'full',
			retention: [{ uri: 'com.example.', match: 'prefix', max_events: 50, max_age: 3600 }],
		},
	});
	const r = runCli(['check', '--config', writeConfig(cfg)]);
	assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
});

test('check accepts a config without "version"', () => {
	// Test that a file with no top-level version is accepted (interface.md).
	const cfg = makeConfig();
	delete cfg.version;
	const r = runCli(['check', '--config', writeConfig(cfg)]);
	assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
});

test('check rejects an unknown key with the file and key path', () => {
	// Test that a misspelt eventsource option ("hearbeat") exits 1 with
	// `config.json: workers[0].transports[0].paths.sse.options: unknown key "hearbeat"`.
	const cfg = makeConfig({ sse: { hearbeat: 5 } });
	const r = runCli(['check', '--config', writeConfig(cfg)]);
	assert.equal(r.code, 1);
	const line = errorLine(r, 'config.json', SSE_OPTS, '"hearbeat"');
	assert.match(line, /unknown key/);
});

test('check rejects an unknown top-level key and an unknown path key', () => {
	// Test that unknown keys are caught at the top level and inside paths.
	const a = makeConfig();
	a.wokers = [];
	let r = runCli(['check', '--config', writeConfig(a)]);
	assert.equal(r.code, 1);
	errorLine(r, 'config.json', 'wokers');

	const b = makeConfig();
	b.workers[0].transports[0].paths.publish.rolle = 'anonymous';
	r = runCli(['check', '--config', writeConfig(b)]);
	assert.equal(r.code, 1);
	errorLine(r, 'config.json', 'workers[0].transports[0].paths.publish', 'rolle');
});

test('check rejects wrong types naming the key path', () => {
	// Test that a string heartbeat and a string port are type errors naming
	// the key's full path.
	let r = runCli(['check', '--config', writeConfig(makeConfig({ sse: { heartbeat: 'fast' } }))]);
	assert.equal(r.code, 1);
	errorLine(r, 'config.json', `${SSE_OPTS}.heartbeat`);

	const cfg = makeConfig();
	cfg.workers[0].transports[0].endpoint.port = '8080';
	r = runCli(['check', '--config', writeConfig(cfg)]);
	assert.equal(r.code, 1);
	errorLine(r, 'config.json', 'workers[0].transports[0].endpoint.port');

	const cfg2 = makeConfig();
	cfg2.workers[0].realms[0].roles[0].permissions[0].allow.publish = 'yes';
	r = runCli(['check', '--config', writeConfig(cfg2)]);
	assert.equal(r.code, 1);
	errorLine(r, 'config.json', 'workers[0].realms[0].roles[0].permissions[0].allow.publish');
});

test('check rejects malformed JSON and a missing file without crashing', () => {
	// Test that invalid JSON and a missing file both exit 1 with a message
	// naming the file.
	let r = runCli(['check', '--config', writeConfig('{"version": 2, "workers": [')]);
	assert.equal(r.code, 1);
	errorLine(r, 'config.json');

	const missing = path.join(tempDir(), 'nope.json');
	r = runCli(['check', '--config', missing]);
	assert.equal(r.code, 1);
	errorLine(r, 'nope.json');
});

test('start refuses a bad config with the same message and exit 1', () => {
	// Test that `start` validates like `check`: exit 1, the key path, no listening.
	const r = runCli(['start', '--config', writeConfig(makeConfig({ sse: { hearbeat: 5 } })),
		'--listen', '127.0.0.1:1', '--db', path.join(tempDir(), 'h.db')], { timeout: 10000 });
	assert.equal(r.code, 1, `start with a bad config must exit 1; stderr: ${r.stderr}`);
	errorLine(r, SSE_OPTS, '"hearbeat"');
});

test('init DIR writes DIR/config.json that check accepts and start --cbdir runs', async () => {
	// Test that `init DIR` creates a parseable Crossbar-shaped config that
	// `check` accepts, and `start --cbdir DIR` serves from it.
	const dir = path.join(tempDir(), 'node1');
	const r = runCli(['init', dir]);
	assert.equal(r.code, 0, r.stderr);
	const file = path.join(dir, 'config.json');
	assert.ok(fs.existsSync(file), 'init must write DIR/config.json');
	const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
	assert.ok(Array.isArray(cfg.workers) && cfg.workers.length > 0, 'config has workers[]');
	const c = runCli(['check', '--config', file]);
	assert.equal(c.code, 0, c.stderr);

	const gw = await startGateway({ args: ['--cbdir', dir] });
	try {
		const h = await request(gw, 'GET', '/healthz');
		assert.equal(h.status, 200);
		assert.deepEqual(h.json, { status: 'ok' });
	} finally {
		await stopClean(gw);
	}
});

test('start logs "listening on" in the documented line format', async () => {
	// Test that the ready line names the address and every log line looks
	// like `2026-11-25T21:40:00.123Z info  http: ...`.
	const gw = await startGateway({ config: makeConfig() });
	try {
		await waitFor(() => gw.log().includes(`listening on 127.0.0.1:${gw.port}`), 3000,
			'"listening on" in stderr');
		const lines = gw.log().split('\n').filter((l) => l && !l.startsWith('# '));
		assert.ok(lines.length > 0);
		for (const l of lines) {
			assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) /,
				`log line format: ${l}`);
		}
	} finally {
		await stopClean(gw);
	}
});

test('--db puts history at PATH; otherwise history.path is relative to the config dir', async () => {
	// Test both ways of placing the SQLite file: --db wins, and without it
	// a relative history.path resolves against the config file's directory,
	// not the working directory.
	const a = await startGateway({ config: makeConfig() });
	try {
		assert.ok(fs.existsSync(a.dbPath), `--db ${a.dbPath} created`);
		assert.ok(!fs.existsSync(path.join(a.dir, 'switchboard.db')), 'config history.path not used with --db');
	} finally {
		await stopClean(a);
	}
	const cwd = tempDir();
	const b = await startGateway({ config: makeConfig({ history: { path: 'rel-history.db' } }), dbPath: null, cwd });
	try {
		assert.ok(fs.existsSync(path.join(b.dir, 'rel-history.db')), 'history.path relative to the config dir');
		assert.ok(!fs.existsSync(path.join(cwd, 'rel-history.db')), 'not relative to the working directory');
	} finally {
		await stopClean(b);
	}
});

test('bare start without a config runs the embedded default on 127.0.0.1:8080', async (t) => {
	// Test that `switchboard` with no arguments serves /healthz, /info and
	// /sse on 127.0.0.1:8080 and keeps history in ./switchboard.db.
	if (await portInUse(8080)) {
		t.skip('port 8080 is busy on this machine');
		return;
	}
	const cwd = tempDir();
	const proc = spawn(BIN, [], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
	let log = '';
	proc.stderr.on('data', (d) => { log += d; });
	proc.stdout.on('data', (d) => { log += d; });
	const exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
	const gw = { port: 8080, url: 'http://127.0.0.1:8080' };
	let done = false;
	try {
		// Ours is ready when it says so; another process may win the port
		// between the check and the bind (parallel test runs): then skip.
		const ready = await waitFor(async () => {
			if (proc.exitCode !== null) return 'exited';
			return log.includes('listening on 127.0.0.1:8080') ? 'ready' : false;
		}, 10000, () => `"listening on 127.0.0.1:8080" (stderr so far: ${log})`);
		if (ready === 'exited') {
			done = true;
			if (/in use|EADDRINUSE|bind/i.test(log)) {
				t.skip(`port 8080 was taken before the gateway bound it: ${log.trim().split('\n').pop()}`);
				return;
			}
			assert.fail(`bare start exited with ${proc.exitCode}: ${log}`);
		}
		const h = await request(gw, 'GET', '/healthz');
		assert.equal(h.status, 200);
		const i = await info(gw);
		assert.equal(typeof i.version, 'string');
		const p = await request(gw, 'POST', '/publish', {
			headers: { 'Content-Type': 'application/json' }, body: '{"topic":"com.example.bare"}',
		});
		assert.equal(p.status, 200, p.text);
		assert.ok(fs.existsSync(path.join(cwd, 'switchboard.db')), 'history db in the working directory');
	} finally {
		if (!done) {
			proc.kill('SIGTERM');
			const r = await within(exited, 10000, null);
			if (!r) proc.kill('SIGKILL');
			assert.deepEqual(r, { code: 0, signal: null }, `clean exit; log:\n${log}`);
		}
	}
});

test('an invalid --loglevel is refused', () => {
	// Test that a bad flag value exits non-zero quickly instead of starting.
	const r = runCli(['start', '--loglevel', 'loud', '--listen', '127.0.0.1:1',
		'--db', path.join(tempDir(), 'h.db')], { timeout: 5000 });
	assert.notEqual(r.code, 0);
	assert.equal(r.signal, null, 'must exit, not hang or crash');
});
