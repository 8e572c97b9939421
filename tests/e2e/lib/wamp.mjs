// wamp.mjs - WAMP client helpers for Switchboard's end-to-end tests.
//
// Owns: opening sessions with Autobahn|JS (connectAutobahn), wampy
// (connectWampy), a raw protocol client over `ws` with JSON or msgpack
// framing (rawWamp), and Autobahn|Python sessions in a child process driven
// over JSON lines (runPython -> tests/e2e/py/agent.py).  Everything opened
// here is closed/killed when the test process exits.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import msgpack5 from 'msgpack5';
import { Wampy } from 'wampy';
import { MsgpackSerializer as WampyMsgpackSerializer } from 'wampy/MsgpackSerializer.js';
import { HOST, waitFor, within } from './gateway.mjs';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

// Autobahn|JS 26 opens `new WebSocket(...)` from the global scope (Node 22+
// has one); on Node 20 the `ws` package provides the same W3C-style API.
if (typeof globalThis.WebSocket === 'undefined') globalThis.WebSocket = WebSocket;
export const autobahn = require('autobahn');

export const msgpack = msgpack5();
export { WebSocket, Wampy };

// WAMP message type codes.
export const T = {
	HELLO: 1, WELCOME: 2, ABORT: 3, CHALLENGE: 4, AUTHENTICATE: 5, GOODBYE: 6, ERROR: 8,
	PUBLISH: 16, PUBLISHED: 17, SUBSCRIBE: 32, SUBSCRIBED: 33, UNSUBSCRIBE: 34, UNSUBSCRIBED: 35,
	EVENT: 36, CALL: 48, CANCEL: 49, RESULT: 50, REGISTER: 64, REGISTERED: 65, UNREGISTER: 66,
	UNREGISTERED: 67, INVOCATION: 68, INTERRUPT: 69, YIELD: 70,
};

/** ws://127.0.0.1:PORT/ws (or another path / port). */
export function wsUrl(gw, { path: pth = '/ws', port } = {}) {
	return `ws://${HOST}:${port || gw.port}${pth}`;
}

const openThings = new Set();
process.on('exit', () => {
	for (const x of openThings) {
		try { x.kill(); } catch { /* gone */ }
	}
});

// ---- Autobahn|JS ----------------------------------------------------------

/**
 * Open an Autobahn|JS session.  Resolves to the open session with extra
 * fields: welcome (WELCOME.Details), connection, closed (promise of
 * {reason, details} when the connection ends), end() (close and wait; not
 * leave(), which is Autobahn's own).  Rejects when the connection
 * closes before the session opens (err.reason / err.details).
 *   opts: realm ('realm1'), serializer ('json'|'msgpack'), url / path / port,
 *         timeout (ms, 10000); authentication, passed to autobahn.Connection
 *         when given: authmethods, authid, authextra, onchallenge
 *         (session, method, extra) -> signature
 */
export function connectAutobahn(gw, opts = {}) {
	const serializers = opts.serializer === 'msgpack'
		? [new autobahn.serializer.MsgpackSerializer()]
		: [new autobahn.serializer.JSONSerializer()];
	const connOpts = {
		url: opts.url || wsUrl(gw, opts),
		realm: opts.realm || 'realm1',
		serializers,
		max_retries: 0,
		retry_if_unreachable: false,
		initial_retry_delay: 0,
	};
	for (const k of ['authmethods', 'authid', 'authextra', 'onchallenge']) {
		if (opts[k] !== undefined) connOpts[k] = opts[k];
	}
	const connection = new autobahn.Connection(connOpts);
	let closedResolve;
	const closed = new Promise((r) => { closedResolve = r; });
	const thing = { kill: () => { try { connection.close(); } catch { /* closed */ } } };
	openThings.add(thing);
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			thing.kill();
			reject(new Error(`Autobahn|JS session did not open within ${opts.timeout || 10000} ms`));
		}, opts.timeout || 10000);
		connection.onopen = (session, details) => {
			clearTimeout(timer);
			session.welcome = details;   // WELCOME.Details
			session.connection = connection;
			session.closed = closed;
			session.end = async () => {
				if (connection.isOpen || connection.isConnected) {
					try { connection.close(); } catch { /* closing */ }
				}
				await within(closed, 5000);
				openThings.delete(thing);
			};
			resolve(session);
		};
		connection.onclose = (reason, details) => {
			clearTimeout(timer);
			closedResolve({ reason, details });
			const e = new Error(`Autobahn|JS connection closed before the session opened: ${reason} ` +
				`${JSON.stringify(details)}`);
			e.reason = reason;
			e.details = details;
			reject(e);   // no-op once resolved
			return true; // no reconnect
		};
		connection.open();
	});
}

/** A call's outcome as {ok, value} / {ok: false, error, args, kwargs}. */
export async function settle(promise) {
	try {
		return { ok: true, value: await promise };
	} catch (e) {
		if (e && typeof e === 'object' && 'error' in e) {
			return { ok: false, error: e.error, args: e.args, kwargs: e.kwargs, e };
		}
		return { ok: false, error: String(e && e.message ? e.message : e), e };
	}
}

// ---- wampy ----------------------------------------------------------------

/** Connect a wampy client; resolves to the connected Wampy instance (with end()).
 *  Authentication options are passed through when given: authid,
 *  authmethods, authextra, onChallenge (method, extra) -> signature.
 *  Rejects with wampy's AbortError (err.errorUri, err.details) on ABORT. */
export async function connectWampy(gw, opts = {}) {
	const options = {
		realm: opts.realm || 'realm1',
		ws: WebSocket,
		autoReconnect: false,
	};
	for (const k of ['authid', 'authmethods', 'authextra', 'onChallenge']) {
		if (opts[k] !== undefined) options[k] = opts[k];
	}
	if (opts.serializer === 'msgpack') options.serializer = new WampyMsgpackSerializer();
	const w = new Wampy(opts.url || wsUrl(gw, opts), options);
	const thing = { kill: () => { try { w.disconnect(); } catch { /* closed */ } } };
	openThings.add(thing);
	const r = await within(w.connect(), opts.timeout || 10000, 'timeout');
	if (r === 'timeout') {
		thing.kill();
		throw new Error('wampy did not connect within 10 s');
	}
	w.welcome = r;   // WELCOME.Details
	w.end = async () => {
		await within(w.disconnect().catch(() => {}), 5000);
		openThings.delete(thing);
	};
	return w;
}

// ---- raw protocol client --------------------------------------------------

/** HELLO.Details roles as a minimal client announces them. */
export const CLIENT_ROLES = {
	publisher: { features: {} }, subscriber: { features: {} },
	caller: { features: { progressive_call_results: true, call_canceling: true } },
	callee: { features: { progressive_call_results: true, call_canceling: true } },
};

/**
 * Open a raw WebSocket with one subprotocol (default wamp.2.json).
 * Resolves to a client c:
 *   c.send(msgArray)        serialize per protocol (text JSON / binary msgpack)
 *   c.sendRaw(data, binary) a frame exactly as given
 *   c.next(timeout)         the next decoded message (throws on timeout / close)
 *   c.messages              every message received, in order
 *   c.closed                promise of {code, reason} once the socket closes
 *   c.join(realm, details)  HELLO and expect WELCOME; returns the WELCOME
 *   c.close(), c.terminate(), c.ws
 * Rejects with err.status / err.body when the upgrade is refused.
 */
export function rawWamp(gw, opts = {}) {
	const protocol = opts.protocol === undefined ? 'wamp.2.json' : opts.protocol;
	const binary = /msgpack/.test(protocol || '');
	const url = opts.url || wsUrl(gw, opts);
	const ws = protocol ? new WebSocket(url, protocol, opts.wsOptions) : new WebSocket(url, opts.wsOptions);
	const c = { ws, protocol, messages: [], queue: [], waiters: [], closeInfo: null, decodeErrors: [] };
	openThings.add({ kill: () => ws.terminate() });
	let closedResolve;
	c.closed = new Promise((r) => { closedResolve = r; });

	const wake = () => {
		while (c.waiters.length && (c.queue.length || c.closeInfo)) {
			const w = c.waiters.shift();
			w();
		}
	};
	ws.on('message', (data, isBinary) => {
		let msg;
		try {
			msg = isBinary ? msgpack.decode(data) : JSON.parse(data.toString('utf8'));
		} catch (e) {
			c.decodeErrors.push(e);
			msg = { undecodable: data };
		}
		c.messages.push(msg);
		c.queue.push(msg);
		c.lastFrameBinary = isBinary;
		wake();
	});
	ws.on('close', (code, reason) => {
		c.closeInfo = { code, reason: reason.toString() };
		closedResolve(c.closeInfo);
		wake();
	});
	ws.on('error', () => { /* surfaced through close / open rejection */ });

	c.encode = (msg) => (binary ? msgpack.encode(msg) : JSON.stringify(msg));
	c.send = (msg) => ws.send(c.encode(msg), { binary });
	c.sendRaw = (data, isBinary = binary) => ws.send(data, { binary: isBinary });
	c.next = (timeout = 5000) => new Promise((resolve, reject) => {
		const take = () => {
			clearTimeout(timer);
			if (c.queue.length) return resolve(c.queue.shift());
			reject(new Error(`connection closed (${c.closeInfo.code} ${c.closeInfo.reason}) while waiting ` +
				`for a message; got so far: ${JSON.stringify(c.messages).slice(0, 500)}`));
		};
		const timer = setTimeout(() => {
			const i = c.waiters.indexOf(take);
			if (i >= 0) c.waiters.splice(i, 1);
			reject(new Error(`no WAMP message within ${timeout} ms; got so far: ` +
				`${JSON.stringify(c.messages).slice(0, 500)}`));
		}, timeout);
		c.waiters.push(take);
		wake();
	});
	/** The next message, which must be of type `type` (returns it). */
	c.expect = async (type, timeout = 5000) => {
		const m = await c.next(timeout);
		if (!Array.isArray(m) || m[0] !== type) {
			throw new Error(`expected a message of type ${type}, got ${JSON.stringify(m)}`);
		}
		return m;
	};
	c.join = async (realm = 'realm1', details = { roles: CLIENT_ROLES }) => {
		c.send([T.HELLO, realm, details]);
		const m = await c.next();
		if (m[0] !== T.WELCOME) throw new Error(`expected WELCOME, got ${JSON.stringify(m)}`);
		c.session = m[1];
		c.welcome = m;
		return m;
	};
	let reqId = 0;
	c.reqId = () => ++reqId;
	c.close = async (code = 1000) => {
		if (ws.readyState === WebSocket.OPEN) ws.close(code);
		const r = await within(c.closed, 3000);
		if (r === 'timeout') ws.terminate();
	};
	c.terminate = () => ws.terminate();

	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => { ws.terminate(); reject(new Error('no handshake answer in 5 s')); }, 5000);
		ws.once('open', () => { clearTimeout(timer); resolve(c); });
		ws.once('unexpected-response', (_req, res) => {
			let body = '';
			res.on('data', (d) => { body += d; });
			res.on('end', () => {
				clearTimeout(timer);
				const e = new Error(`upgrade refused: ${res.statusCode} ${body}`);
				e.status = res.statusCode;
				e.headers = res.headers;
				e.body = body;
				try { e.json = JSON.parse(body); } catch { /* not json */ }
				reject(e);
			});
		});
		ws.once('error', (e) => { clearTimeout(timer); reject(e); });
	});
}

/** A joined raw client (HELLO/WELCOME done). */
export async function rawSession(gw, opts = {}) {
	const c = await rawWamp(gw, opts);
	await c.join(opts.realm || 'realm1', opts.details || { roles: CLIENT_ROLES });
	return c;
}

/** Subscribe over a raw client; returns the subscription id. */
export async function rawSubscribe(c, topic, options = {}) {
	const req = c.reqId();
	c.send([T.SUBSCRIBE, req, options, topic]);
	const m = await c.next();
	if (m[0] !== T.SUBSCRIBED || m[1] !== req) throw new Error(`SUBSCRIBE ${topic}: ${JSON.stringify(m)}`);
	return m[2];
}

/** Register over a raw client; returns the registration id. */
export async function rawRegister(c, procedure, options = {}) {
	const req = c.reqId();
	c.send([T.REGISTER, req, options, procedure]);
	const m = await c.next();
	if (m[0] !== T.REGISTERED || m[1] !== req) throw new Error(`REGISTER ${procedure}: ${JSON.stringify(m)}`);
	return m[2];
}

// ---- Autobahn|Python ------------------------------------------------------

export const PYTHON = process.env.SB_TEST_PYTHON || '/usr/bin/python3';
export const PY_AGENT = path.resolve(here, '../py/agent.py');

/**
 * Spawn a Python script (default: py/agent.py URL realm serializer) that
 * speaks JSON lines.  Returns p:
 *   p.lines            every JSON object read from its stdout, in order
 *   p.send(obj)        one JSON line to its stdin
 *   p.waitFor(pred, timeout, what)  first line matching pred (not consumed)
 *   p.request(cmd, timeout)         send {..cmd, id} and wait for {"re": id}
 *   p.kill(), p.exited (promise of {code, signal}), p.stderr()
 */
export function runPython(script = PY_AGENT, args = [], { env } = {}) {
	const proc = spawn(PYTHON, [script, ...args], {
		stdio: ['pipe', 'pipe', 'pipe'],
		env: Object.assign({}, process.env, { PYTHONUNBUFFERED: '1' }, env || {}),
	});
	const p = { proc, lines: [], stderrText: '', bad: [] };
	openThings.add({ kill: () => proc.kill('SIGKILL') });
	let buf = '';
	proc.stdout.on('data', (d) => {
		buf += d.toString('utf8');
		let i;
		while ((i = buf.indexOf('\n')) >= 0) {
			const line = buf.slice(0, i);
			buf = buf.slice(i + 1);
			if (!line.trim()) continue;
			try { p.lines.push(JSON.parse(line)); } catch { p.bad.push(line); }
		}
	});
	proc.stderr.on('data', (d) => { p.stderrText += d.toString('utf8'); });
	p.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
	p.exitCode = null;
	p.exited.then((r) => { p.exitCode = r; });
	proc.stdin.on('error', () => { /* child gone */ });
	p.stderr = () => p.stderrText;
	p.send = (obj) => proc.stdin.write(`${JSON.stringify(obj)}\n`);
	p.waitFor = (pred, timeout = 10000, what = 'a line from the Python client') => waitFor(() => {
		const hit = p.lines.find(pred);
		if (hit) return hit;
		if (p.exitCode) {
			throw new Error(`python exited (${JSON.stringify(p.exitCode)}) before ${what}; ` +
				`stderr: ${p.stderrText.slice(-2000)}`);
		}
		return false;
	}, timeout, () => `${what}; lines so far ${JSON.stringify(p.lines).slice(-1500)}; stderr ${p.stderrText.slice(-1500)}`);
	let nextId = 0;
	p.request = async (cmd, timeout = 10000) => {
		const id = cmd.id || `py${++nextId}`;
		p.send(Object.assign({}, cmd, { id }));
		return p.waitFor((l) => l.re === id, timeout, `the reply to ${JSON.stringify(cmd)}`);
	};
	p.kill = async () => {
		if (p.exitCode === null) proc.kill('SIGKILL');
		await p.exited;
	};
	return p;
}

/** An Autobahn|Python session (py/agent.py), joined; p.session is its id.
 *  auth (optional): {authmethods, authid, authextra, ticket, secret} (see
 *  agent.py); on ABORT it rejects with err.line = the agent's "left" line
 *  ({reason: ABORT uri, message}) and err.challenges = the CHALLENGEs seen. */
export async function connectPython(gw, {
	realm = 'realm1', serializer = 'json', url, path: pth, auth,
} = {}) {
	const argv = [url || wsUrl(gw, pth ? { path: pth } : {}), realm, serializer];
	if (auth) argv.push(JSON.stringify(auth));
	const p = runPython(PY_AGENT, argv);
	const j = await p.waitFor((l) => l.ev === 'joined' || l.ev === 'connect_failed' || l.ev === 'left',
		20000, 'the Python session to join');
	if (j.ev !== 'joined') {
		await p.kill();
		const e = new Error(`Autobahn|Python did not join: ${JSON.stringify(j)} ${p.stderrText.slice(-2000)}`);
		e.line = j;
		e.challenges = p.lines.filter((l) => l.ev === 'challenge');
		throw e;
	}
	p.session = j.session;
	p.authid = j.authid;
	p.authrole = j.authrole;
	p.welcome = j;
	p.challenges = p.lines.filter((l) => l.ev === 'challenge');
	p.end = async () => {
		p.send({ op: 'leave', id: 'leave' });
		const r = await within(p.exited, 5000);
		if (r === 'timeout') await p.kill();
	};
	return p;
}

/** JSON-side form of binary data: "\u0000" + base64 (WAMP's JSON binary convention). */
export function jsonBinary(buf) {
	return `\u0000${Buffer.from(buf).toString('base64')}`;
}
