// 33-bridge-seed: the seed scenario of the REST bridge end to end — a
// Crossbar-shaped config.json (realm acme-company, a websocket transport on
// its own port, a web transport with publish/call/info/ws, a container
// RESTCallee webapp.api and a MessageForwarder with a prefix and a wildcard
// subscription, expectedcode 200) driven by curl and Autobahn|JS against a
// local back end; `switchboard check` on it and on broken variants (unknown
// classname, unknown extra key, missing procedure, bad match, a role that
// may not register or subscribe); the pre-2018 classnames; router-worker
// components with a role.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
	startGateway, stopClean, runCli, tempDir, freePort, info, request, waitFor, sleep,
} from './lib/gateway.mjs';
import { connectAutobahn, settle } from './lib/wamp.mjs';
import { startBackend, plain } from './lib/backend.mjs';

const REALM = 'acme-company';
let be, gw, wsPort, webPort, cfg;

const ALL = { call: true, register: true, publish: true, subscribe: true };

/** The seed config.json, as a Crossbar user would have it. */
function seedConfig({
	perms = ALL, calleeTransportUrl, classPrefix = 'crossbar.bridge.rest',
	base = be.url, ws = wsPort, web = webPort,
} = {}) {
	const transport = (url = `ws://127.0.0.1:${ws}`) => ({
		type: 'websocket', endpoint: { type: 'tcp', host: '127.0.0.1', port: ws }, url,
	});
	return {
		$schema: 'https://raw.githubusercontent.com/crossbario/crossbar/master/crossbar.json',
		version: 2,
		controller: {},
		workers: [
			{
				type: 'router',
				realms: [{
					name: REALM,
					roles: [{
						name: 'anonymous',
						permissions: [{
							uri: '', match: 'prefix', allow: perms,
							disclose: { caller: false, publisher: false }, cache: true,
						}],
					}],
				}],
				transports: [
					{
						type: 'websocket',
						endpoint: { type: 'tcp', port: ws, interface: '127.0.0.1' },
						url: `ws://127.0.0.1:${ws}`,
					},
					{
						type: 'web',
						endpoint: { type: 'tcp', port: web, interface: '127.0.0.1' },
						paths: {
							publish: { type: 'publisher', realm: REALM, role: 'anonymous' },
							call: { type: 'caller', realm: REALM, role: 'anonymous' },
							info: { type: 'nodeinfo' },
							ws: { type: 'websocket' },
						},
					},
				],
			},
			{
				type: 'container',
				options: { pythonpath: ['..'] },
				components: [
					{
						type: 'class',
						classname: `${classPrefix}.RESTCallee`,
						realm: REALM,
						extra: { procedure: 'webapp.api', baseurl: `${base}/api/` },
						transport: transport(calleeTransportUrl),
					},
					{
						type: 'class',
						classname: `${classPrefix}.MessageForwarder`,
						realm: REALM,
						extra: {
							subscriptions: [
								{ topic: 'breaking-news.', match: 'prefix', url: `${base}/news` },
								{ topic: 'user..orders', match: 'wildcard', url: `${base}/orders` },
							],
							expectedcode: 200,
						},
						transport: transport(),
					},
				],
			},
		],
	};
}

function writeConfig(obj) {
	const file = path.join(tempDir(), 'config.json');
	fs.writeFileSync(file, JSON.stringify(obj, null, 2));
	return file;
}

/** `switchboard check` on a config object. */
const check = (obj) => runCli(['check', '--config', writeConfig(obj)]);

/** check must fail (exit != 0) with one output line containing every needle. */
function checkFails(obj, ...needles) {
	const r = check(obj);
	const out = `${r.stderr}\n${r.stdout}`;
	assert.notEqual(r.code, 0, `check accepted it:\n${out}`);
	const line = out.split('\n').find((l) => needles.every((n) => l.includes(n)));
	assert.ok(line, `expected a line containing ${JSON.stringify(needles)}, got:\n${out}`);
	return line;
}

function curl(args) {
	return new Promise((resolve, reject) => {
		execFile('curl', ['-sS', '--max-time', '10', '-o', '-', '-w', '\n%{http_code}', ...args],
			(err, stdout, stderr) => {
				if (err && !stdout) return reject(new Error(`curl: ${err.message} ${stderr}`));
				const i = stdout.lastIndexOf('\n');
				const body = stdout.slice(0, i);
				let json;
				try { json = JSON.parse(body); } catch { /* not json */ }
				resolve({ status: Number(stdout.slice(i + 1)), body, json });
			});
	});
}
const curlPost = (pth, obj) => curl(['-X', 'POST', '-H', 'Content-Type: application/json',
	'-d', JSON.stringify(obj), `http://127.0.0.1:${webPort}${pth}`]);

const arg0 = (r) => (r.json && Array.isArray(r.json.args) ? r.json.args[0] : undefined);

before(async () => {
	be = await startBackend({ name: 'webapp' });
	be.on('/api/users/12', { contentType: 'application/json', body: '{"id":12,"name":"Ada"}', headers: { 'X-Webapp': 'users' } });
	be.on('/api/orders', (r) => ({ status: 201, body: `created ${r.text}` }));
	wsPort = await freePort();
	webPort = await freePort();
	cfg = seedConfig();
	gw = await startGateway({ config: cfg, port: webPort, listen: false });
});
after(async () => {
	await stopClean(gw);
	if (be) await be.stop();
});

test('switchboard check accepts the seed config (exit 0)', () => {
	// Test the Crossbar-shaped config.json unchanged.
	const r = check(cfg);
	assert.equal(r.code, 0, `${r.stderr}\n${r.stdout}`);
});

test('seed: the two components are sessions; /info lists the forwarder; nodeinfo serves HTML', async () => {
	// Test /info JSON before any client: 2 sessions (RESTCallee and
	// MessageForwarder), one forwarder entry in acme-company; /info HTML.
	const i = await info(gw);
	assert.equal(i.sessions, 2, JSON.stringify(i));
	assert.equal(i.forwarders.length, 1, JSON.stringify(i.forwarders));
	assert.equal(i.forwarders[0].realm, REALM);
	assert.equal(i.registrations, 1, 'webapp.api is registered');
	const h = await request(gw, 'GET', '/info', { headers: { Accept: 'text/html' } });
	assert.equal(h.status, 200);
	assert.match(h.headers['content-type'], /text\/html/);
});

test('seed: curl POST /call webapp.api -> the back end\'s answer as {code, content, headers}', async () => {
	// Test the curl way: GET users/12 through baseurl BE/api/.
	be.clear();
	const r = await curlPost('/call', { procedure: 'webapp.api', kwargs: { url: 'users/12', method: 'GET' } });
	assert.equal(r.status, 200, r.body);
	assert.deepEqual(Object.keys(r.json), ['args']);
	const res = r.json.args[0];
	assert.deepEqual([res.code, res.content, res.headers['X-Webapp'], res.headers['Content-Type']],
		[200, '{"id":12,"name":"Ada"}', ['users'], ['application/json']]);
	assert.deepEqual(be.requests.map((q) => [q.method, q.url]), [['GET', '/api/users/12']]);
});

test('seed: Autobahn|JS on the websocket transport calls webapp.api (POST with body and headers)', async () => {
	// Test a session on the separate websocket port: the back end gets the
	// POST with its JSON body and Content-Type; the 201 comes back as a result.
	const s = await connectAutobahn(gw, { url: `ws://127.0.0.1:${wsPort}`, realm: REALM });
	try {
		be.clear();
		const r = await settle(s.call('webapp.api', [], {
			method: 'POST', url: 'orders', body: '{"item":"book"}', headers: { 'Content-Type': ['application/json'] },
		}));
		assert.ok(r.ok, JSON.stringify(r));
		assert.deepEqual([r.value.code, r.value.content], [201, 'created {"item":"book"}']);
		const [q] = be.requests;
		assert.deepEqual([q.method, q.url, q.text, q.header('Content-Type')],
			['POST', '/api/orders', '{"item":"book"}', ['application/json']]);
		// a 404 from the back end is a result too
		const nf = await settle(s.call('webapp.api', [], { url: 'nothing/here' }));
		assert.ok(nf.ok, JSON.stringify(nf));
		assert.equal(nf.value.code, 200, 'the echo back end answers every other path');
		be.on('/api/missing', { status: 404, body: 'no such thing' });
		const m = await settle(s.call('webapp.api', [], { url: 'missing' }));
		assert.deepEqual([m.ok, m.value && m.value.code, m.value && m.value.content], [true, 404, 'no such thing']);
	} finally {
		await s.end();
	}
});

test('seed: curl POST /publish on breaking-news.* is forwarded to url A and reaches WAMP subscribers', async () => {
	// Test two curl publishes under the prefix (and one outside it): the back
	// end gets exactly the two, in order, with Crossbar's body; an Autobahn|JS
	// subscriber on the web transport's /ws sees them too.
	const sub = await connectAutobahn(gw, { path: '/ws', realm: REALM });
	try {
		const got = [];
		await sub.subscribe('breaking-news.', (args, kwargs, details) => got.push([details.topic, args[0]]), { match: 'prefix' });
		be.on('/news', { status: 200 });
		const r1 = await curlPost('/publish', { topic: 'breaking-news.world', args: ['Earthquake'], kwargs: { mag: 5 } });
		assert.equal(r1.status, 200, r1.body);
		assert.equal(typeof r1.json.id, 'number');
		const r0 = await curlPost('/publish', { topic: 'breaking-newsroom', args: ['not under the prefix'] });
		assert.equal(r0.status, 200);
		const r2 = await curlPost('/publish', { topic: 'breaking-news.sport.football', args: ['Goal'] });
		assert.equal(r2.status, 200);
		const news = await be.waitRequests(2, '/news');
		await sleep(100);
		assert.deepEqual(be.reqs('/news').map((q) => [q.method, q.text, q.header('X-Switchboard-Topic')[0]]), [
			['POST', '{"args":["Earthquake"],"kwargs":{"mag":5}}', 'breaking-news.world'],
			['POST', '{"args":["Goal"],"kwargs":{}}', 'breaking-news.sport.football'],
		]);
		assert.deepEqual(news[0].header('Content-Type'), ['application/json']);
		await waitFor(() => got.length >= 2, 3000, 'the WAMP subscriber to get both');
		assert.deepEqual(got, [['breaking-news.world', 'Earthquake'], ['breaking-news.sport.football', 'Goal']]);
	} finally {
		await sub.end();
	}
});

test('seed: Autobahn|JS publishes on user.12.orders -> url B; users.12.orders and user.12.x.orders are not forwarded', async () => {
	// Test the wildcard subscription user..orders, with a marker after the
	// non-matching topics (delivery is in order).
	const s = await connectAutobahn(gw, { url: `ws://127.0.0.1:${wsPort}`, realm: REALM });
	try {
		be.on('/orders', { status: 200 });
		for (const t of ['user.12.orders', 'users.12.orders', 'user.12.x.orders', 'user.orders', 'user.99.orders']) {
			await s.publish(t, [t], { n: 1 }, { acknowledge: true });
		}
		await be.waitRequests(1, (q) => q.path === '/orders' && arg0(q) === 'user.99.orders');
		await sleep(100);
		assert.deepEqual(be.reqs('/orders').map((q) => [q.header('X-Switchboard-Topic')[0], q.text]), [
			['user.12.orders', '{"args":["user.12.orders"],"kwargs":{"n":1}}'],
			['user.99.orders', '{"args":["user.99.orders"],"kwargs":{"n":1}}'],
		]);
	} finally {
		await s.end();
	}
});

test('seed: expectedcode 200 — a 201 is retried (default retry_delay) until 200', async () => {
	// Test the forwarder's expectedcode with the default back-off: the
	// back end answers 201 once, then 200; the event is sent twice, the
	// second time about a second later, then the next one.
	let n = 0;
	be.on('/news', (r) => ({ status: arg0(r) === 'retry-me' && n++ === 0 ? 201 : 200 }));
	await curlPost('/publish', { topic: 'breaking-news.retry', args: ['retry-me'] });
	await curlPost('/publish', { topic: 'breaking-news.retry', args: ['next'] });
	await be.waitRequests(1, (q) => q.path === '/news' && arg0(q) === 'next', 8000);
	const got = be.reqs('/news').filter((q) => ['retry-me', 'next'].includes(arg0(q)));
	assert.deepEqual(got.map(arg0), ['retry-me', 'retry-me', 'next']);
	const gap = got[1].t - got[0].t;
	assert.ok(gap >= 800 && gap < 5000, `retried after ${gap} ms (default retry_delay 1000)`);
	const f = (await info(gw)).forwarders[0];
	assert.ok(f.failed_attempts >= 1, JSON.stringify(f));
});

// ---- check failures -------------------------------------------------------------

test('check: an unknown classname names workers[1].components[0].classname', () => {
	// Test crossbar.bridge.rest.RESTSubscriber (does not exist in Crossbar).
	const c = plain(cfg);
	c.workers[1].components[0].classname = 'crossbar.bridge.rest.RESTSubscriber';
	checkFails(c, 'workers[1].components[0].classname');
});

test('check: an unknown extra key names workers[N].components[M].extra and the key', () => {
	// Test an unknown key in the RESTCallee's and in the forwarder's extra:
	// the line names the path and the key, as "PATH.extra.KEY" or in the
	// form every other unknown key uses ("PATH.extra: unknown key "KEY"",
	// see 01-cli-config).
	const named = (line, pth, key) => assert.ok(line.includes(`${pth}.${key}`) ||
		(line.includes(`${pth}:`) && line.includes(`unknown key "${key}"`)), line);
	const a = plain(cfg);
	a.workers[1].components[0].extra.bogus = 1;
	named(checkFails(a, 'workers[1].components[0].extra', 'bogus'), 'workers[1].components[0].extra', 'bogus');
	const b = plain(cfg);
	b.workers[1].components[1].extra.colour = 'blue';
	named(checkFails(b, 'workers[1].components[1].extra', 'colour'), 'workers[1].components[1].extra', 'colour');
});

test('check: a RESTCallee without procedure (or baseurl) is refused', () => {
	// Test each required RESTCallee key removed.
	for (const key of ['procedure', 'baseurl']) {
		const c = plain(cfg);
		delete c.workers[1].components[0].extra[key];
		checkFails(c, 'workers[1].components[0].extra', key);
	}
});

test('check: a subscription with a bad match (or no topic/url, or none at all) is refused', () => {
	// Test match "regex", a subscription without url, and an empty list.
	const a = plain(cfg);
	a.workers[1].components[1].extra.subscriptions[1].match = 'regex';
	checkFails(a, 'workers[1].components[1].extra.subscriptions[1].match');
	const b = plain(cfg);
	delete b.workers[1].components[1].extra.subscriptions[0].url;
	checkFails(b, 'workers[1].components[1].extra.subscriptions[0]', 'url');
	const c = plain(cfg);
	c.workers[1].components[1].extra.subscriptions = [];
	checkFails(c, 'workers[1].components[1].extra.subscriptions');
});

test('check: a role that may not register the procedure or subscribe a topic is refused', () => {
	// Test the realm's anonymous role without register (the RESTCallee
	// fails, naming its path and procedure) and without subscribe (the
	// forwarder fails, naming its path and topic).
	checkFails(seedConfig({ perms: { call: true, publish: true, subscribe: true } }),
		'workers[1].components[0]', 'webapp.api');
	checkFails(seedConfig({ perms: { call: true, publish: true, register: true } }),
		'workers[1].components[1]', 'breaking-news.');
});

test('check: a container component gets the role of the transport its url points at', () => {
	// Test a second websocket path whose anonymous role may only call: the
	// RESTCallee pointing there is refused; pointing at /ws (anonymous) is fine.
	const withGuest = (url) => {
		const c = seedConfig({ calleeTransportUrl: url });
		c.workers[0].transports[1].paths.guest = { type: 'websocket', auth: { anonymous: { type: 'static', role: 'guest' } } };
		c.workers[0].realms[0].roles.push({ name: 'guest', permissions: [{ uri: '', match: 'prefix', allow: { call: true } }] });
		return c;
	};
	checkFails(withGuest(`ws://127.0.0.1:${webPort}/guest`), 'workers[1].components[0]', 'webapp.api');
	const ok = check(withGuest(`ws://127.0.0.1:${webPort}/ws`));
	assert.equal(ok.code, 0, `${ok.stderr}${ok.stdout}`);
});

// ---- other spellings and places ---------------------------------------------------------

test('the pre-2018 classnames crossbar.adapter.rest.* start and work the same', async () => {
	// Test a gateway from the seed config with the old module name: check
	// exits 0, the callee answers, the forwarder forwards.
	const b = await startBackend({ name: 'old-names' });
	const p = await freePort();
	const c = seedConfig({ classPrefix: 'crossbar.adapter.rest', base: b.url, ws: await freePort(), web: p });
	const r = check(c);
	assert.equal(r.code, 0, `${r.stderr}\n${r.stdout}`);
	const g = await startGateway({ config: c, port: p, listen: false });
	try {
		const call = await request(g, 'POST', '/call', {
			headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ procedure: 'webapp.api', kwargs: { url: 'old' } }),
		});
		assert.equal(call.status, 200, call.text);
		assert.equal(call.json.args[0].code, 200, call.text);
		const pub = await request(g, 'POST', '/publish', {
			headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ topic: 'breaking-news.old', args: ['old name'] }),
		});
		assert.equal(pub.status, 200, pub.text);
		await b.waitRequests(1, (q) => q.path === '/news' && arg0(q) === 'old name');
		assert.deepEqual(b.requests.map((q) => q.path), ['/api/old', '/news']);
	} finally {
		await stopClean(g);
		await b.stop();
	}
});

test('router-worker components take a role: refused by check without permission, working with it', async () => {
	// Test a RESTCallee under the router worker's components with role
	// "backend": a role without register fails check naming
	// workers[0].components[0]; with register it runs and answers.
	const make = (allow, ports = {}) => {
		const c = seedConfig(ports);
		c.workers.pop();
		c.workers[0].realms[0].roles.push({ name: 'backend', permissions: [{ uri: 'webapp.', match: 'prefix', allow }] });
		c.workers[0].components = [{
			type: 'class', classname: 'crossbar.bridge.rest.RESTCallee', realm: REALM, role: 'backend',
			extra: { procedure: 'webapp.api', baseurl: `${be.url}/api/` },
		}];
		return c;
	};
	checkFails(make({ call: true }), 'workers[0].components[0]', 'webapp.api');
	const p = await freePort();
	const ok = make({ register: true }, { ws: await freePort(), web: p });
	const r = check(ok);
	assert.equal(r.code, 0, `${r.stderr}\n${r.stdout}`);
	const g = await startGateway({ config: ok, port: p, listen: false });
	try {
		be.clear();
		const call = await request(g, 'POST', '/call', {
			headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ procedure: 'webapp.api', kwargs: { url: 'users/12' } }),
		});
		assert.equal(call.status, 200, call.text);
		assert.equal(call.json.args[0].content, '{"id":12,"name":"Ada"}', call.text);
		const a = await connectAutobahn(g, { path: '/ws', realm: REALM });
		try {
			const details = [];
			for (const id of await a.call('wamp.session.list')) details.push(await a.call('wamp.session.get', [id]));
			const callee = details.find((d) => d.authid === 'restcallee-webapp.api');
			assert.ok(callee, JSON.stringify(details));
			assert.equal(callee.authrole, 'backend');
		} finally {
			await a.end();
		}
	} finally {
		await stopClean(g);
	}
});
