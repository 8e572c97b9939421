// gateway.mjs - shared helpers for Switchboard's end-to-end tests.
//
// Owns: starting/stopping the real binary ($SWITCHBOARD_BIN) on a free
// loopback port with its own temp dir, config and SQLite file; publishing
// over HTTP; a raw SSE reader (sees comments, retry:, exact bytes); a thin
// wrapper over the `eventsource` npm client; waitFor().  Every gateway
// started here is killed when the test process exits, and its stderr is
// printed to our stderr when the process exits with a failure.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import EventSource from 'eventsource';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SRCDIR = process.env.SWITCHBOARD_SRCDIR || path.resolve(here, '../../..');
export const BIN = process.env.SWITCHBOARD_BIN || path.join(SRCDIR, 'src/switchboard');
export const HOST = '127.0.0.1';

export { sleep };

// ---- bookkeeping: kill leftovers, dump logs on failure ---------------------

const started = new Set();   // every gateway object ever started
const tempDirs = new Set();

process.on('exit', (code) => {
	for (const gw of started) {
		if (gw.proc && gw.proc.exitCode === null && gw.proc.signalCode === null) {
			try { gw.proc.kill('SIGKILL'); } catch { /* gone */ }
		}
	}
	if (code !== 0 || process.exitCode) {
		for (const gw of started) {
			const log = gw.log();
			if (!log) continue;
			const lines = log.split('\n');
			const tail = lines.slice(-150).join('\n');
			process.stderr.write(`\n----- gateway ${gw.name} (port ${gw.port}, dir ${gw.dir}) stderr` +
				(lines.length > 150 ? ` (last 150 of ${lines.length} lines)` : '') +
				` -----\n${tail}\n----- end of gateway ${gw.name} stderr -----\n`);
		}
	} else if (!process.env.SB_TEST_KEEP) {
		for (const d of tempDirs) {
			try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ }
		}
	}
});
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
	process.once(sig, () => {
		process.stderr.write(`test process got ${sig}: killing gateways\n`);
		process.exit(1);
	});
}

/** A fresh temp dir, removed at exit when the tests passed. */
export function tempDir(prefix = 'sb-e2e-') {
	const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
	tempDirs.add(d);
	return d;
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.unref();
		srv.on('error', reject);
		srv.listen(0, HOST, () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
	});
}

/** true if something accepts connections on HOST:port. */
export function portInUse(port, host = HOST) {
	return new Promise((resolve) => {
		const s = net.connect({ port, host });
		s.once('connect', () => { s.destroy(); resolve(true); });
		s.once('error', () => resolve(false));
		s.setTimeout(1000, () => { s.destroy(); resolve(false); });
	});
}

/** Resolve to promise's value, or to fallback after ms (the timer is cleared). */
export function within(promise, ms, fallback = 'timeout') {
	let timer;
	const t = new Promise((resolve) => { timer = setTimeout(() => resolve(fallback), ms); });
	return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/** Poll predicate (sync or async) until truthy; returns its value.
 *  what: a description, or a function returning one (evaluated on timeout). */
export async function waitFor(predicate, timeout = 5000, what = 'condition', interval = 25) {
	const deadline = Date.now() + timeout;
	let last;
	for (;;) {
		try {
			last = await predicate();
			if (last) return last;
		} catch (e) {
			last = e;
		}
		if (Date.now() > deadline) {
			const extra = last instanceof Error ? `: last error ${last.message}` : '';
			const w = typeof what === 'function' ? what() : what;
			throw new Error(`timed out after ${timeout} ms waiting for ${w}${extra}`);
		}
		await sleep(interval);
	}
}

// ---- config ---------------------------------------------------------------

/** The embedded default config (brief), with options merged in.
 *  opts: {sse, publisher, caller, web, history, permissions, paths} */
export function makeConfig(opts = {}) {
	const perms = opts.permissions || [{
		uri: '', match: 'prefix',
		allow: { call: true, register: true, publish: true, subscribe: true },
		disclose: { caller: false, publisher: false }, cache: true,
	}];
	const paths = {
		'/': { type: 'static' },
		ws: { type: 'websocket' },
		publish: { type: 'publisher', realm: 'realm1', role: 'anonymous' },
		call: { type: 'caller', realm: 'realm1', role: 'anonymous' },
		sse: { type: 'eventsource', realm: 'realm1', role: 'anonymous' },
		info: { type: 'nodeinfo' },
	};
	if (opts.sse) paths.sse.options = opts.sse;
	if (opts.publisher) paths.publish.options = opts.publisher;
	if (opts.caller) paths.call.options = opts.caller;
	Object.assign(paths, opts.paths || {});
	const transport = {
		type: 'web',
		endpoint: { type: 'tcp', interface: '127.0.0.1', port: 8080 },
		paths,
	};
	if (opts.web) transport.options = opts.web;
	const cfg = {
		version: 2,
		workers: [{
			type: 'router',
			realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: perms }] }],
			transports: [transport],
		}],
		history: Object.assign({ path: 'switchboard.db' }, opts.history || {}),
	};
	return cfg;
}

// ---- running the binary ---------------------------------------------------

/** Run the binary to completion (version, check, init). */
export function runCli(args, { cwd, env, timeout = 15000 } = {}) {
	const r = spawnSync(BIN, args, {
		cwd, env: Object.assign({}, process.env, env || {}), encoding: 'utf8', timeout,
	});
	if (r.error) throw r.error;
	return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

export function checkBinary() {
	if (!fs.existsSync(BIN)) {
		throw new Error(`switchboard binary not found at ${BIN} (set SWITCHBOARD_BIN or build first)`);
	}
}

let gwCounter = 0;

/**
 * Start a gateway.
 *   config:  object (JSON-encoded) or string (written verbatim) -> DIR/config.json
 *            omitted -> no --config (embedded default)
 *   args:    extra CLI args (after ours)
 *   dbPath:  history file (default DIR/history.db); null = no --db
 *   env:     extra environment
 *   www:     --www DIR
 *   port:    fixed port (default: a free one)
 *   listen:  false = no --listen (use the config's endpoint; give port for health checks)
 *   cwd:     working directory (default DIR)
 * Returns {url, port, dbPath, dir, proc, log(), stop(), kill9(), restart()}.
 */
export async function startGateway(opts = {}) {
	checkBinary();
	const dir = opts.dir || tempDir();
	const gw = {
		name: `gw${++gwCounter}`,
		dir,
		dbPath: opts.dbPath === undefined ? path.join(dir, 'history.db') : opts.dbPath,
		port: opts.port,
		configPath: null,
		proc: null,
		stderrText: '',
		exits: [],          // {code, signal} of every run, in order
	};
	if (opts.config !== undefined) {
		gw.configPath = path.join(dir, 'config.json');
		fs.writeFileSync(gw.configPath, typeof opts.config === 'string'
			? opts.config : JSON.stringify(opts.config, null, 2));
	}
	gw.log = () => gw.stderrText;

	gw.argv = () => {
		const a = ['start'];
		if (gw.configPath) a.push('--config', gw.configPath);
		if (opts.listen !== false) a.push('--listen', `${HOST}:${gw.port}`);
		if (gw.dbPath) a.push('--db', gw.dbPath);
		if (opts.www) a.push('--www', opts.www);
		a.push('--loglevel', opts.loglevel || 'info');
		return a.concat(opts.args || []);
	};

	gw.launch = async () => {
		let lastErr;
		for (let attempt = 0; attempt < 3; attempt++) {
			if (!opts.port && (attempt > 0 || !gw.port)) gw.port = await freePort();
			gw.url = `http://${HOST}:${gw.port}`;
			try {
				await launchOnce(gw, opts);
				return gw;
			} catch (e) {
				lastErr = e;
				// another process grabbed the port between freePort() and bind
				if (!opts.port && /in use|EADDRINUSE|bind/i.test(e.message)) continue;
				throw e;
			}
		}
		throw lastErr;
	};

	gw.stop = (signal = 'SIGTERM', timeout = 10000) => stopProc(gw, signal, timeout);
	gw.kill9 = () => stopProc(gw, 'SIGKILL', 5000);
	gw.restart = async () => {
		await gw.stop();
		return gw.launch();
	};
	started.add(gw);
	return gw.launch();
}

function launchOnce(gw, opts) {
	const argv = gw.argv();
	gw.stderrText += `\n# ${new Date().toISOString()} ${BIN} ${argv.join(' ')}\n`;
	// opts.fdLimit runs the gateway under a low open-file limit (prlimit
	// execs it, so the pid is the gateway's).
	const [cmd, cmdArgs] = opts.fdLimit
		? ['prlimit', [`--nofile=${opts.fdLimit}`, '--', BIN, ...argv]] : [BIN, argv];
	const proc = spawn(cmd, cmdArgs, {
		cwd: opts.cwd || gw.dir,
		env: Object.assign({}, process.env, opts.env || {}),
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	gw.proc = proc;
	const exited = new Promise((resolve) => {
		proc.once('exit', (code, signal) => {
			gw.exits.push({ code, signal });
			resolve({ code, signal });
		});
	});
	proc.exitedPromise = exited;
	const onData = (d) => {
		gw.stderrText += d.toString();
		if (process.env.SB_TEST_LOG) process.stderr.write(`[${gw.name}] ${d}`);
	};
	proc.stderr.on('data', onData);
	proc.stdout.on('data', onData);
	// A gateway left running (a failed hook) must not keep the test process
	// alive: the exit handler above kills it.
	proc.unref();
	proc.stderr.unref();
	proc.stdout.unref();

	return new Promise((resolve, reject) => {
		let done = false;
		const deadline = Date.now() + 10000;
		const fail = (msg) => {
			if (done) return;
			done = true;
			try { proc.kill('SIGKILL'); } catch { /* gone */ }
			reject(new Error(`${msg}\n--- gateway stderr ---\n${gw.stderrText.slice(-4000)}`));
		};
		proc.once('error', (e) => fail(`cannot spawn ${BIN}: ${e.message}`));
		exited.then(({ code, signal }) => fail(`gateway exited during start-up (code ${code}, signal ${signal})`));
		(async () => {
			while (!done) {
				if (Date.now() > deadline) return fail('gateway did not answer GET /healthz 200 within 10 s');
				const ok = await healthy(gw.port);
				if (ok && !done) { done = true; return resolve(); }
				await sleep(50);
			}
		})();
	});
}

function healthy(port) {
	return new Promise((resolve) => {
		const req = http.get({ host: HOST, port, path: '/healthz', agent: false, timeout: 1000 }, (res) => {
			res.resume();
			res.on('end', () => resolve(res.statusCode === 200));
			res.on('error', () => resolve(false));
		});
		req.on('error', () => resolve(false));
		req.on('timeout', () => { req.destroy(); resolve(false); });
	});
}

async function stopProc(gw, signal, timeout) {
	const proc = gw.proc;
	if (!proc) return { code: null, signal: null };
	if (proc.exitCode === null && proc.signalCode === null) {
		proc.kill(signal);
	}
	const r = await within(proc.exitedPromise, timeout, 'timeout');
	if (r === 'timeout') {
		proc.kill('SIGKILL');
		await proc.exitedPromise;
		throw new Error(`gateway did not exit within ${timeout} ms of ${signal}; killed with SIGKILL`);
	}
	return r;
}

/** Stop each gateway with SIGTERM (all of them, even if one fails) and
 *  assert a clean exit 0 (use in after() hooks and finally blocks). */
export async function stopClean(...gws) {
	const rs = await Promise.allSettled(gws.filter((g) => g && g.proc).map(async (gw) => {
		const r = await gw.stop();
		if (r.code !== 0) {
			throw new Error(`gateway ${gw.name} did not exit cleanly: code ${r.code} signal ${r.signal}` +
				`\n--- stderr tail ---\n${gw.log().slice(-3000)}`);
		}
	}));
	const bad = rs.find((r) => r.status === 'rejected');
	if (bad) throw bad.reason;
}

// ---- HTTP -----------------------------------------------------------------

/** Plain http request, a fresh connection each time (agent: false).
 *  Returns {status, headers, text, json, bytes}. */
export function request(gw, method, pth, { headers = {}, body, timeout = 10000 } = {}) {
	return new Promise((resolve, reject) => {
		const req = http.request({
			host: HOST, port: gw.port, method, path: pth, headers, agent: false,
		}, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				const bytes = Buffer.concat(chunks);
				const text = bytes.toString('utf8');
				let json;
				try { json = JSON.parse(text); } catch { /* not json */ }
				resolve({ status: res.statusCode, headers: res.headers, text, json, bytes });
			});
			res.on('error', reject);
		});
		req.setTimeout(timeout, () => req.destroy(new Error(`${method} ${pth}: no answer within ${timeout} ms`)));
		req.on('error', reject);
		if (body !== undefined) req.write(body);
		req.end();
	});
}

/** POST /publish via fetch. Returns {status, json, text, headers}. */
export async function publish(gw, topic, args, kwargs, options) {
	const body = { topic };
	if (args !== undefined) body.args = args;
	if (kwargs !== undefined) body.kwargs = kwargs;
	if (options !== undefined) body.options = options;
	return postJson(gw, '/publish', body);
}

/** POST a JSON value (or a raw string) to path via fetch. */
export async function postJson(gw, pth, body, headers = { 'Content-Type': 'application/json' }) {
	const r = await fetch(gw.url + pth, {
		method: 'POST', headers,
		body: typeof body === 'string' ? body : JSON.stringify(body),
	});
	const text = await r.text();
	let json;
	try { json = JSON.parse(text); } catch { /* not json */ }
	return { status: r.status, json, text, headers: r.headers };
}

/** publish() and insist on 200 {"id": n}; returns the publication id. */
export async function publishOk(gw, topic, args, kwargs, options) {
	const r = await publish(gw, topic, args, kwargs, options);
	if (r.status !== 200 || !r.json || typeof r.json.id !== 'number') {
		throw new Error(`publish to ${topic} failed: ${r.status} ${r.text}`);
	}
	return r.json.id;
}

/** GET /info?format=json as an object. */
export async function info(gw) {
	const r = await request(gw, 'GET', '/info?format=json', { headers: { Accept: 'application/json' } });
	if (r.status !== 200 || !r.json) throw new Error(`/info: ${r.status} ${r.text.slice(0, 200)}`);
	return r.json;
}

/** Assert the shape of a gateway error body; returns it. */
export function isErrorBody(json, uri) {
	return json && typeof json === 'object' && json.error === uri &&
		Array.isArray(json.args) && typeof json.args[0] === 'string' && json.args[0].length > 0;
}

/** Run curl (for raw paths fetch would normalize). Returns {status, body}. */
export function curl(gw, rawPath, extra = []) {
	const r = spawnSync('curl', ['-sS', '--path-as-is', '--max-time', '10',
		'-o', '-', '-w', '\n%{http_code}', ...extra, `${gw.url}${rawPath}`], { encoding: 'utf8' });
	if (r.error) throw r.error;
	const out = r.stdout;
	const i = out.lastIndexOf('\n');
	return { status: Number(out.slice(i + 1)), body: out.slice(0, i), stderr: r.stderr, code: r.status };
}

// ---- SSE: raw reader ------------------------------------------------------

/** Build an /sse query string from {topic: [..] | '..', match, lastEventId, ...}. */
export function sseQuery(q) {
	if (typeof q === 'string') return q;
	const p = new URLSearchParams();
	for (const [k, v] of Object.entries(q)) {
		if (v === undefined) continue;
		for (const x of [].concat(v)) p.append(k, String(x));
	}
	return p.toString();
}

/**
 * Open GET /sse?QUERY over a raw http request and parse the stream as the
 * WHATWG algorithm does, keeping everything: events [{id, event, data, json,
 * lastEventId}], comments [text after ':'], retries [ms], raw bytes.
 *   await s.ready  -> {status, headers}; a non-200 body ends up in s.text/s.json
 *   s.ended        -> promise resolving to 'end' (clean end) | 'aborted' | 'error: ..'
 *   s.waitEvents(n, timeout), s.waitFor(pred, timeout), s.close()
 */
export function openSse(gw, query, { headers = {}, path: pth = '/sse', keepRaw = true } = {}) {
	const s = {
		events: [], comments: [], retries: [], status: null, headers: null,
		rawChunks: [], text: '', json: undefined, lastEventId: '', closed: false,
		endedHow: null,
	};
	const decoder = new StringDecoder('utf8');
	let buf = '';         // undecoded tail of the current line(s)
	let pendingCR = false;
	let data = [], evType = '', idBuf = null;

	const line = (ln) => {
		if (ln === '') {
			if (idBuf !== null) s.lastEventId = idBuf;
			if (data.length) {
				const d = data.join('\n');
				let json;
				try { json = JSON.parse(d); } catch { /* keep raw */ }
				s.events.push({ id: idBuf, lastEventId: s.lastEventId, event: evType || null, data: d, json });
			}
			data = []; evType = ''; idBuf = null;
			return;
		}
		if (ln[0] === ':') { s.comments.push(ln.slice(1)); return; }
		const c = ln.indexOf(':');
		const field = c < 0 ? ln : ln.slice(0, c);
		let value = c < 0 ? '' : ln.slice(c + 1);
		if (value[0] === ' ') value = value.slice(1);
		if (field === 'data') data.push(value);
		else if (field === 'event') evType = value;
		else if (field === 'id') { if (!value.includes('\0')) idBuf = value; }
		else if (field === 'retry') { if (/^\d+$/.test(value)) s.retries.push(Number(value)); }
	};
	const feed = (text) => {
		buf += text;
		let start = 0;
		for (let i = 0; i < buf.length; i++) {
			const ch = buf[i];
			if (pendingCR) {
				pendingCR = false;
				if (ch === '\n') { start = i + 1; continue; }
			}
			if (ch === '\n' || ch === '\r') {
				line(buf.slice(start, i));
				if (ch === '\r') pendingCR = true;
				start = i + 1;
			}
		}
		buf = buf.slice(start);
	};

	let endResolve;
	s.ended = new Promise((r) => { endResolve = r; });
	const finish = (how) => {
		if (s.endedHow) return;
		s.endedHow = how;
		endResolve(how);
	};

	s.ready = new Promise((resolve, reject) => {
		const req = http.request({
			host: HOST, port: gw.port, method: 'GET', path: `${pth}?${sseQuery(query)}`,
			headers: Object.assign({ Accept: 'text/event-stream' }, headers), agent: false,
		}, (res) => {
			s.status = res.statusCode;
			s.headers = res.headers;
			s.res = res;
			if (res.statusCode !== 200) {
				const chunks = [];
				res.on('data', (c) => chunks.push(c));
				res.on('end', () => {
					s.text = Buffer.concat(chunks).toString('utf8');
					try { s.json = JSON.parse(s.text); } catch { /* not json */ }
					finish('end');
					resolve({ status: s.status, headers: s.headers });
				});
				res.on('error', () => { finish('error'); resolve({ status: s.status, headers: s.headers }); });
				return;
			}
			resolve({ status: s.status, headers: s.headers });
			res.on('data', (c) => {
				if (keepRaw) s.rawChunks.push(c);
				feed(decoder.write(c));
			});
			res.on('end', () => finish('end'));
			res.on('aborted', () => finish(s.closed ? 'closed by client' : 'aborted'));
			res.on('error', (e) => finish(`error: ${e.message}`));
			res.on('close', () => finish(s.closed ? 'closed by client' : 'aborted'));
		});
		s.req = req;
		req.on('error', (e) => {
			finish(`error: ${e.message}`);
			if (s.status === null) reject(e);
		});
		req.end();
	});
	// Avoid unhandled rejections when a test never awaits ready.
	s.ready.catch(() => {});

	s.raw = () => Buffer.concat(s.rawChunks);
	s.rawText = () => s.raw().toString('utf8');
	s.close = () => {
		s.closed = true;
		if (s.req) s.req.destroy();
	};
	s.waitFor = (pred, timeout = 5000, what = 'SSE condition') => waitFor(() => {
		if (pred(s)) return true;
		if (s.endedHow) {
			throw new Error(`stream ended (${s.endedHow}) before ${typeof what === 'function' ? what() : what}`);
		}
		return false;
	}, timeout, what);
	s.waitEvents = (n, timeout = 5000) => s.waitFor((x) => x.events.length >= n, timeout,
		() => `${n} SSE events (have ${s.events.length})`).then(() => s.events);
	s.waitComment = (re, timeout = 5000) => s.waitFor((x) => x.comments.some((c) => re.test(c)), timeout,
		`a comment matching ${re}`);
	return s;
}

/** Open and insist on 200 + the first retry: line (the stream is live). */
export async function openSseLive(gw, query, opts = {}) {
	const s = openSse(gw, query, opts);
	const { status } = await s.ready;
	if (status !== 200) throw new Error(`GET /sse?${sseQuery(query)}: ${status} ${s.text}`);
	await s.waitFor((x) => x.retries.length > 0 || x.events.length > 0 || x.comments.length > 0, 5000,
		'the first bytes of the stream');
	return s;
}

// ---- SSE: the `eventsource` npm client (what browser code looks like) -----

export { EventSource };

/** new EventSource(url) collecting messages; names: extra event types to listen to. */
export function openEventSource(gw, query, { headers, names = [], withCredentials } = {}) {
	const init = {};
	if (headers) init.headers = Object.assign({}, headers);
	if (withCredentials !== undefined) init.withCredentials = withCredentials;
	const es = new EventSource(`${gw.url}/sse?${sseQuery(query)}`, init);
	const c = { es, messages: [], named: [], errors: [], opens: 0 };
	es.onopen = () => { c.opens++; };
	es.onerror = (e) => { c.errors.push(e); };
	es.onmessage = (m) => {
		let json;
		try { json = JSON.parse(m.data); } catch { /* keep raw */ }
		c.messages.push({ data: m.data, json, lastEventId: m.lastEventId, type: m.type });
	};
	for (const n of names) {
		es.addEventListener(n, (m) => {
			let json;
			try { json = JSON.parse(m.data); } catch { /* keep raw */ }
			c.named.push({ data: m.data, json, lastEventId: m.lastEventId, type: m.type });
		});
	}
	c.close = () => es.close();
	c.waitOpen = (timeout = 5000) => waitFor(() => c.opens > 0, timeout, 'EventSource open');
	c.waitMessages = (n, timeout = 5000) => waitFor(() => c.messages.length >= n, timeout,
		() => `${n} EventSource messages (have ${c.messages.length})`).then(() => c.messages);
	return c;
}
