// backend.mjs - a real local HTTP back end for the REST bridge tests, and
// the config pieces that point a gateway's bridge components at it.
//
// Owns: startBackend() (Node `http` on a free loopback port) that records
// every request exactly as it arrived (method, url, raw header lines, raw
// body bytes, which connection), answers per path as a test programs it
// (status, headers, body, charset, delay, redirect, hang forever, close the
// socket before or in the middle of the answer, raw bytes that are not
// HTTP), counts connections (keep-alive reuse), and can be stopped and
// started again on the SAME port (a back end that is down for a while).
// Also: RESTCallee / MessageForwarder component builders for a config, and
// sqliteRows() to read the gateway's history database with Debian's
// /usr/bin/python3 sqlite3 module.

import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { HOST, freePort, waitFor, sleep } from './gateway.mjs';

const PYTHON = process.env.SB_TEST_PYTHON || '/usr/bin/python3';

const backends = new Set();
process.on('exit', () => {
	for (const be of backends) {
		for (const s of be.sockets) s.destroy();
	}
});

/** Node's encoding name for a charset label, for encoding string bodies. */
function nodeEncoding(charset) {
	const c = String(charset || 'utf-8').toLowerCase();
	if (c === 'iso-8859-1' || c === 'latin1' || c === 'latin-1' || c === 'iso8859-1') return 'latin1';
	return 'utf8';
}

/**
 * Start a back end.  opts: {port} (default: a free one), name.
 * Returns be:
 *   be.url                 http://127.0.0.1:PORT
 *   be.requests            every request received, in arrival order:
 *       {n, method, url, path, query (URLSearchParams), headers (Node's, lower-case),
 *        rawHeaders [[Name, value], ...] as sent, body (Buffer), text (utf-8),
 *        json (parsed body or undefined), conn (connection number), t (ms),
 *        closedEarly (the client went away before the answer was complete)}
 *       rec.header(name) -> every value of that header, in order (case-insensitive)
 *   be.on(path, answer)    answer requests for this exact pathname (query ignored);
 *                          answer is a spec or a function(rec) -> spec (may be async)
 *   be.sequence(path, [spec, ...])  answer with each spec in turn, the last one forever
 *   be.otherwise(answer)   for every path without on() (default: the echo below)
 *   be.reqs(path)          the requests for one pathname
 *   be.waitRequests(n, path|pred, timeout)  wait until n requests match; returns them
 *   be.clear()             forget recorded requests (answers stay)
 *   be.connections         connections accepted so far (all runs)
 *   be.inFlight / be.maxInFlight   requests being answered now / at most at once
 *   be.stop()              stop listening and cut every open connection
 *   be.start()             listen again on the same port
 *   be.up                  true while listening
 * A spec: {status (200), headers {Name: value | [values]}, body (string | Buffer),
 *          contentType, charset (sets "; charset=X" and encodes a string body),
 *          delay (ms before answering), redirect (Location; status default 302),
 *          hang (never answer), destroy ('before' | 'mid'), raw (bytes written to the
 *          socket instead of an HTTP answer, then the socket is closed)}.
 * The default answer echoes the request: 200 application/json
 *   {"method", "url", "body"}.
 */
export async function startBackend(opts = {}) {
	const be = {
		name: opts.name || 'backend',
		port: opts.port || await freePort(),
		requests: [],
		connections: 0,
		inFlight: 0,
		maxInFlight: 0,
		sockets: new Set(),
		routes: new Map(),
		fallback: null,
		server: null,
		up: false,
	};
	be.url = `http://${HOST}:${be.port}`;
	backends.add(be);

	const echo = (rec) => ({
		status: 200,
		contentType: 'application/json',
		body: JSON.stringify({ method: rec.method, url: rec.url, body: rec.text }),
	});

	be.on = (pth, answer) => { be.routes.set(pth, answer); return be; };
	be.otherwise = (answer) => { be.fallback = answer; return be; };
	be.sequence = (pth, specs) => {
		let i = 0;
		return be.on(pth, () => specs[Math.min(i++, specs.length - 1)]);
	};
	be.reqs = (pth) => be.requests.filter((r) => r.path === pth);
	be.clear = () => { be.requests = []; };
	be.waitRequests = (n, which, timeout = 5000) => {
		const pred = typeof which === 'function' ? which
			: which === undefined ? () => true : (r) => r.path === which;
		return waitFor(() => {
			const got = be.requests.filter(pred);
			return got.length >= n ? got : false;
		}, timeout, () => `${n} requests at ${be.name} ${typeof which === 'string' ? which : ''} ` +
			`(have ${be.requests.filter(pred).length}: ` +
			`${be.requests.slice(-10).map((r) => `${r.method} ${r.url}`).join(', ')})`);
	};

	async function answer(req, res, rec) {
		let a = be.routes.has(rec.path) ? be.routes.get(rec.path) : (be.fallback || echo);
		if (typeof a === 'function') a = await a(rec);
		const spec = a || {};
		if (spec.delay) await sleep(spec.delay);
		if (spec.hang) return;     // the socket stays open until the client or stop() ends it
		if (req.socket.destroyed) return;
		if (spec.destroy === 'before') { req.socket.destroy(); return; }
		if (spec.raw !== undefined) {
			req.socket.end(spec.raw);
			return;
		}
		let body = spec.body === undefined ? '' : spec.body;
		if (typeof body === 'string') body = Buffer.from(body, nodeEncoding(spec.charset));
		const headers = {};
		for (const [k, v] of Object.entries(spec.headers || {})) headers[k] = v;
		const hasType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type');
		if (!hasType && (spec.contentType || spec.charset || spec.body !== undefined)) {
			headers['Content-Type'] = (spec.contentType || 'text/plain') +
				(spec.charset ? `; charset=${spec.charset}` : '');
		}
		let status = spec.status || 200;
		if (spec.redirect) {
			status = spec.status || 302;
			headers.Location = spec.redirect;
		}
		if (spec.destroy === 'mid') {
			// Promise more than we send, send half, then cut the connection.
			headers['Content-Length'] = String(body.length + 100);
			res.writeHead(status, headers);
			res.write(body.subarray(0, Math.ceil(body.length / 2)));
			setTimeout(() => req.socket.destroy(), 20);
			return;
		}
		headers['Content-Length'] = String(body.length);
		res.writeHead(status, headers);
		res.end(body);
	}

	function onRequest(req, res) {
		const chunks = [];
		req.on('data', (c) => chunks.push(c));
		req.on('end', () => {
			const body = Buffer.concat(chunks);
			const u = new URL(req.url, be.url);
			const rawHeaders = [];
			for (let i = 0; i < req.rawHeaders.length; i += 2) rawHeaders.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
			const rec = {
				n: be.requests.length,
				method: req.method,
				url: req.url,
				path: u.pathname,
				query: u.searchParams,
				headers: req.headers,
				rawHeaders,
				body,
				text: body.toString('utf8'),
				json: undefined,
				conn: req.socket.sbConn,
				t: Date.now(),
				closedEarly: false,
			};
			try { rec.json = JSON.parse(rec.text); } catch { /* not json */ }
			rec.header = (name) => rawHeaders.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
			be.requests.push(rec);
			be.inFlight++;
			be.maxInFlight = Math.max(be.maxInFlight, be.inFlight);
			let done = false;
			const finish = () => { if (!done) { done = true; be.inFlight--; } };
			res.on('finish', finish);
			res.on('close', () => {
				if (!res.writableFinished) rec.closedEarly = true;
				finish();
			});
			answer(req, res, rec).catch((e) => {
				if (!res.headersSent) {
					res.writeHead(599, { 'Content-Type': 'text/plain' });
					res.end(`backend handler failed: ${e.message}`);
				}
			});
		});
	}

	be.start = () => new Promise((resolve, reject) => {
		const server = http.createServer({ keepAliveTimeout: 30000, requestTimeout: 0 }, onRequest);
		server.keepAliveTimeout = 30000;
		server.headersTimeout = 35000;
		server.on('connection', (s) => {
			be.connections++;
			s.sbConn = be.connections;
			be.sockets.add(s);
			s.on('close', () => be.sockets.delete(s));
		});
		server.on('clientError', (e, s) => { s.destroy(); });
		let tries = 0;
		const listen = () => server.listen(be.port, HOST);
		server.on('error', (e) => {
			// the old listener of the same port may take a moment to go
			if (e.code === 'EADDRINUSE' && tries++ < 40) return setTimeout(listen, 50);
			reject(e);
		});
		server.once('listening', () => {
			be.server = server;
			be.up = true;
			resolve(be);
		});
		listen();
	});

	be.stop = () => new Promise((resolve) => {
		const server = be.server;
		be.up = false;
		be.server = null;
		if (!server) return resolve();
		server.close(() => resolve());
		for (const s of be.sockets) s.destroy();
	});

	await be.start();
	return be;
}

// ---- config pieces for the bridge components --------------------------------

/** A container component's `transport` (validated for shape; nothing connects). */
export function componentTransport(port = 8080, pth = '/ws') {
	return {
		type: 'websocket',
		endpoint: { type: 'tcp', host: HOST, port },
		url: `ws://${HOST}:${port}${pth}`,
	};
}

/** A RESTCallee class component.  extra keys with undefined values are left out. */
export function restCallee({
	procedure, baseurl, realm = 'realm1', id, timeout, connect_timeout: connectTimeout,
	classname = 'crossbar.bridge.rest.RESTCallee', transport = componentTransport(), role, extra = {},
}) {
	const c = {
		type: 'class', classname, realm,
		extra: Object.assign({ procedure, baseurl, timeout, connect_timeout: connectTimeout }, extra),
	};
	if (id !== undefined) c.id = id;
	if (transport) c.transport = transport;
	if (role !== undefined) c.role = role;
	return c;
}

/** A MessageForwarder class component. */
export function messageForwarder({
	subscriptions, realm = 'realm1', id, method, expectedcode, debug, retry_delay: retryDelay,
	retry_max_delay: retryMaxDelay, max_attempts: maxAttempts, timeout,
	classname = 'crossbar.bridge.rest.MessageForwarder', transport = componentTransport(), role, extra = {},
}) {
	const c = {
		type: 'class', classname, realm,
		extra: Object.assign({
			subscriptions, method, expectedcode, debug, retry_delay: retryDelay,
			retry_max_delay: retryMaxDelay, max_attempts: maxAttempts, timeout,
		}, extra),
	};
	if (id !== undefined) c.id = id;
	if (transport) c.transport = transport;
	if (role !== undefined) c.role = role;
	return c;
}

/** Append a container worker holding components to cfg (returns cfg). */
export function addContainer(cfg, components) {
	cfg.workers.push({ type: 'container', options: { pythonpath: ['..'] }, components });
	return cfg;
}

/** Drop keys whose value is undefined (deep), as JSON.stringify would. */
export function plain(v) {
	return JSON.parse(JSON.stringify(v));
}

// ---- reading the history database -------------------------------------------

/** Run one SQL query on an SQLite file with /usr/bin/python3; rows as objects. */
export function sqliteRows(dbPath, sql, params = []) {
	const script = [
		'import json, sqlite3, sys',
		'c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=10)',
		'c.row_factory = sqlite3.Row',
		'rows = [dict(r) for r in c.execute(sys.argv[2], json.loads(sys.argv[3]))]',
		'print(json.dumps(rows))',
	].join('\n');
	const r = spawnSync(PYTHON, ['-c', script, dbPath, sql, JSON.stringify(params)],
		{ encoding: 'utf8', timeout: 15000 });
	if (r.error) throw r.error;
	if (r.status !== 0) throw new Error(`sqlite query failed (${sql}): ${r.stderr.trim()}`);
	return JSON.parse(r.stdout);
}
