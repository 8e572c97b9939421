// 63-www-rpc: the RPC page (www/rpc.html, Autobahn|JS in Chromium): one
// page registers a procedure and another calls it over WAMP and POST /call;
// errors are shown with their URI; the REST callee form explains a missing
// callee and shows {code, content, headers} from a configured one.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
	startGateway, stopClean, makeConfig, postJson, freePort, waitFor, HOST,
} from './lib/gateway.mjs';
import { autobahn, connectAutobahn } from './lib/wamp.mjs';
import { addContainer, restCallee } from './lib/backend.mjs';
import { launchBrowser, noChromium, waitText } from './lib/browser.mjs';

const skip = noChromium;

let gw, browser, callee, caller, calleeTab;

async function rpcPage(g = gw, query = '') {
	const page = await browser.page(`${g.url}/rpc.html${query}`);
	await waitText(page, '#status', /^connected \(realm /);
	return page;
}

// Playwright clicks wait for animation frames, which a background tab does not draw.
async function register(page) {
	await page.bringToFront();
	await page.click('#reg-button');
	await waitText(page, '#reg-state', /^Registered com\.example\.add; waiting for calls\.$/);
}

/** Call from the caller section; resolves to {state, result} once the page has an answer. */
async function call(page, args, via = 'wamp') {
	await page.bringToFront();
	await page.fill('#call-args', args);
	await page.check(`input[name=via][value=${via}]`);
	await page.evaluate(() => { document.getElementById('call-state').textContent = ''; });
	await page.click('#call button');
	const state = await waitText(page, '#call-state', /./);
	return { state, result: await page.textContent('#call-result') };
}

before(async () => {
	if (skip) return;
	gw = await startGateway({ config: makeConfig() });
	browser = await launchBrowser();
	callee = await rpcPage();
	caller = await rpcPage();
	calleeTab = await callee.textContent('#tab');
});
after(async () => {
	if (browser) await browser.close();
	await stopClean(gw);
});

test('one page registers com.example.add, another calls it over WAMP and over POST /call', { skip }, async () => {
	// Test both ways of calling, the result and who served it, and the callee's log.
	await register(callee);
	const wamp = await call(caller, '[2, 3, 4]');
	assert.match(wamp.state, new RegExp(`^Result in \\d+ ms, served by ${calleeTab}$`));
	assert.deepEqual(JSON.parse(wamp.result), { args: [9], kwargs: { served_by: calleeTab } });
	const viaHttp = await call(caller, '[10, 20]', 'http');
	assert.match(viaHttp.state, new RegExp(`^Result in \\d+ ms \\(POST /call\\), served by ${calleeTab}$`));
	assert.deepEqual(JSON.parse(viaHttp.result), { args: [30], kwargs: { served_by: calleeTab } });
	// What the page does is what curl does.
	const r = await postJson(gw, '/call', { procedure: 'com.example.add', args: [1, 1] });
	assert.deepEqual(r.json, { args: [2], kwargs: { served_by: calleeTab } });
	const log = await callee.$$eval('#invocations li', (lis) => lis.map((li) => li.textContent).reverse());
	assert.deepEqual(log, ['com.example.add(2, 3, 4) = 9', 'com.example.add(10, 20) = 30', 'com.example.add(1, 1) = 2']);
	await browser.shot(caller, 'rpc-caller');
	await browser.shot(callee, 'rpc-callee');
	assert.deepEqual(caller.problems, []);
	assert.deepEqual(callee.problems, []);
});

test('two registered pages take turns (roundrobin)', { skip }, async () => {
	// Test a shared registration: four calls, two to each page.
	const second = await rpcPage();
	await register(second);
	const secondTab = await second.textContent('#tab');
	const servedBy = [];
	for (let i = 0; i < 4; i++) servedBy.push(JSON.parse((await call(caller, `[${i}]`)).result).kwargs.served_by);
	assert.deepEqual([...servedBy].sort(), [calleeTab, calleeTab, secondTab, secondTab].sort());
	assert.notEqual(servedBy[0], servedBy[1]);
	await second.close();   // its session leaves and its registration with it
	const after = await call(caller, '[1]');
	assert.match(after.state, new RegExp(`served by ${calleeTab}$`));
});

test('a callee error and a missing procedure are shown with their URI', { skip }, async () => {
	// Test the error the callee throws (URI, sentence, kwargs), then an unregistered name.
	for (const via of ['wamp', 'http']) {
		const bad = await call(caller, '[1, "x"]', via);
		assert.equal(bad.state, 'com.example.error.not_a_number: not a number: "x"', via);
		assert.deepEqual(JSON.parse(bad.result).kwargs, { got: 'x' }, via);
	}
	await callee.bringToFront();
	await callee.click('#reg-button');   // Unregister
	await waitText(callee, '#reg-state', /^Not registered\.$/);
	for (const via of ['wamp', 'http']) {
		const none = await call(caller, '[1]', via);
		assert.match(none.state, /^Nobody has registered com\.example\.add yet: open this page in another tab and press Register\. \(wamp\.error\.no_such_procedure\)$/, via);
	}
	assert.deepEqual(caller.problems, []);
});

test('the REST callee form explains wamp.error.no_such_procedure when none is configured', { skip }, async () => {
	// Test the default procedure name against the embedded default config (no container worker).
	await caller.bringToFront();
	assert.equal(await caller.inputValue('#rest-name'), 'webapp.api');
	await caller.click('#rest button');
	const state = await waitText(caller, '#rest-state', /^No REST callee/);
	assert.match(state, /^No REST callee is configured as webapp\.api\. Add a crossbar\.bridge\.rest\.RESTCallee component with "procedure": "webapp\.api" to the config \(see examples\/rest-bridge\.json\) and restart the gateway\. \(wamp\.error\.no_such_procedure\)$/);
	assert.equal(await caller.isHidden('#rest-result'), true);
	await browser.shot(caller, 'rpc-no-rest-callee');
	assert.deepEqual(caller.problems, []);
});

test('the REST callee form shows {code, content, headers} and back-end errors (a stand-in callee)', { skip }, async () => {
	// Test the page's side of the RESTCallee contract with a WAMP client answering as it does.
	const standIn = await connectAutobahn(gw);
	const calls = [];
	await standIn.register('webapp.api', (args, kwargs) => {
		calls.push(kwargs);
		if (kwargs.url === 'down') {
			throw new autobahn.Error('switchboard.error.backend_unreachable',
				['GET http://127.0.0.1:9/down: connection refused'], { url: 'http://127.0.0.1:9/down', method: 'GET' });
		}
		return { code: 201, content: '<p>created</p>', headers: { 'Content-Type': ['text/html'], 'Set-Cookie': ['a=1', 'b=2'] } };
	});
	await caller.bringToFront();
	await caller.selectOption('#rest-method', 'PUT');
	await caller.fill('#rest-url', 'things/7');
	await caller.fill('#rest-body', 'name=seven');
	await caller.click('#rest button');
	await waitText(caller, '#rest-state', /^PUT things\/7 answered$/);
	assert.deepEqual(calls, [{ method: 'PUT', url: 'things/7', body: 'name=seven' }]);
	assert.equal(await caller.textContent('#rest-code'), '201');
	assert.equal(await caller.textContent('#rest-content'), '<p>created</p>');   // shown as text, not HTML
	assert.deepEqual(await caller.$$eval('#rest-headers tr', (trs) => trs.map((tr) => tr.textContent)),
		['Content-Typetext/html', 'Set-Cookiea=1, b=2']);
	await caller.selectOption('#rest-method', 'GET');
	await caller.fill('#rest-url', 'down');
	await caller.fill('#rest-body', '');
	await caller.click('#rest button');
	await waitText(caller, '#rest-state', /^The call failed: switchboard\.error\.backend_unreachable: GET http:\/\/127\.0\.0\.1:9\/down: connection refused$/);
	assert.equal(await caller.isHidden('#rest-result'), true);
	assert.deepEqual(caller.problems, []);
	await standIn.end();
});

test('a configured REST callee: the page shows the back end\'s status, headers and content', { skip }, async () => {
	// Test webapp.api against a local back end: GET and POST, then the back end gone.
	const requests = [];
	const backend = http.createServer((req, res) => {
		let body = '';
		req.on('data', (c) => { body += c; });
		req.on('end', () => {
			requests.push({ method: req.method, url: req.url, body });
			res.writeHead(req.url === '/api/users/1' ? 200 : 404,
				{ 'Content-Type': 'application/json; charset=utf-8', 'X-Backend': 'legacy' });
			res.end(JSON.stringify({ method: req.method, url: req.url, body }));
		});
	});
	const port = await freePort();
	await new Promise((r) => backend.listen(port, HOST, r));
	const cfg = addContainer(makeConfig(), [restCallee({ procedure: 'webapp.api', baseurl: `http://${HOST}:${port}/api/` })]);
	const gw2 = await startGateway({ config: cfg });
	try {
		const page = await rpcPage(gw2);
		await page.fill('#rest-url', 'users/1');
		await page.click('#rest button');
		await waitText(page, '#rest-state', /^GET users\/1 answered$/);
		assert.equal(await page.textContent('#rest-code'), '200');
		assert.deepEqual(JSON.parse(await page.textContent('#rest-content')), { method: 'GET', url: '/api/users/1', body: '' });
		const headers = await page.$$eval('#rest-headers tr', (trs) => trs.map((tr) => tr.textContent));
		assert.ok(headers.includes('X-Backendlegacy'), headers.join(' | '));

		await page.selectOption('#rest-method', 'POST');
		await page.fill('#rest-url', 'orders');
		await page.fill('#rest-body', '{"sku": 7}');
		await page.click('#rest button');
		await waitText(page, '#rest-state', /^POST orders answered$/);
		assert.equal(await page.textContent('#rest-code'), '404');   // every status is a result
		assert.deepEqual(requests.at(-1), { method: 'POST', url: '/api/orders', body: '{"sku": 7}' });
		await browser.shot(page, 'rpc-rest-callee');

		await new Promise((r) => backend.close(r));
		await page.click('#rest button');
		await waitText(page, '#rest-state', /^The call failed: switchboard\.error\.backend_unreachable/);
		assert.deepEqual(page.problems, []);
		await page.close();
	} finally {
		backend.close();
		await stopClean(gw2);
	}
});
