// 60-www-pages: the demo pages in a real browser (Debian's Chromium): each
// loads cleanly, fits a phone, and the publish form and dashboard work.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
	startGateway, stopClean, makeConfig, request, info, openSseLive, publishOk, waitFor, SRCDIR,
} from './lib/gateway.mjs';
import { launchBrowser, noChromium, waitText } from './lib/browser.mjs';
import { addContainer, messageForwarder, startBackend } from './lib/backend.mjs';

const skip = noChromium;
let gw, browser;

// Each page, and what it shows once it is ready.
const PAGES = [
	['index.html', 'h1', /^Switchboard$/],
	['sse.html', '#status', /^open$/],
	['chat.html?name=tester', '#status', /^connected as tester/],
	['rpc.html', '#status', /^connected \(realm realm1/],
	['publish.html', '#curl', /^curl .*\/publish$/s],
	['dashboard.html', '#chart-summary', /^Now \d+ deliveries\/s/],
];
const shotName = (p) => p.replace(/\.html.*/, '');

before(async () => {
	if (skip) return;
	gw = await startGateway({ config: makeConfig() });
	browser = await launchBrowser();
});
after(async () => {
	if (browser) await browser.close();
	await stopClean(gw);
});

test('every demo page loads with no console error, failed request or exception', { skip }, async () => {
	// Test each page until it is working (connected, live), then a moment more for late errors.
	for (const [p, selector, ready] of PAGES) {
		const page = await browser.page(`${gw.url}/${p}`);
		await waitText(page, selector, ready);
		await page.waitForTimeout(300);
		await browser.shot(page, shotName(p));
		assert.deepEqual(page.problems, [], `${p}: ${page.problems.join('; ')}`);
		await page.close();
	}
});

test('every page fits a 360 px wide phone screen without sideways scrolling', { skip }, async () => {
	// Test that nothing is wider than a small phone's viewport.
	for (const [p, selector, ready] of PAGES) {
		const page = await browser.page(`${gw.url}/${p}`, { width: 360, height: 740 });
		await waitText(page, selector, ready);
		const { scroll, inner } = await page.evaluate(() => ({
			scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
		}));
		await browser.shot(page, `${shotName(p)}-phone`);
		assert.ok(scroll <= inner, `${p}: ${scroll} px of content in a ${inner} px screen`);
		await page.close();
	}
});

test('the index page links every demo, with two sentences about each', { skip }, async () => {
	// Test the index's links (nav and headings) and that each target answers 200.
	const page = await browser.page(`${gw.url}/`);
	const demos = await page.$$eval('main h2 a', (as) => as.map((a) => ({
		href: a.getAttribute('href'),
		text: a.closest('h2').nextElementSibling.textContent,
	})));
	assert.deepEqual(demos.map((d) => d.href),
		['sse.html', 'chat.html', 'rpc.html', 'publish.html', 'dashboard.html']);
	for (const d of demos) {
		const sentences = d.text.trim().split(/(?<=\.)\s+/).filter(Boolean);
		assert.equal(sentences.length, 2, `${d.href}: "${d.text}"`);
		const r = await request(gw, 'GET', `/${d.href}`);
		assert.equal(r.status, 200, d.href);
	}
	const nav = await page.$$eval('nav a', (as) => as.map((a) => a.getAttribute('href')));
	assert.deepEqual(nav, ['./', 'sse.html', 'chat.html', 'rpc.html', 'publish.html', 'dashboard.html']);
	await page.close();
});

test('the gateway serves the pinned Autobahn|JS browser build from www/vendor', { skip }, async () => {
	// Test the file's type and that the library in the page is the version vendor/package.json pins.
	const pin = JSON.parse(fs.readFileSync(path.join(SRCDIR, 'vendor/package.json'), 'utf8'))
		.dependencies['autobahn-browser'];
	const r = await request(gw, 'GET', '/vendor/autobahn.min.js');
	assert.equal(r.status, 200);
	assert.match(r.headers['content-type'] || '', /javascript/);
	const lic = await request(gw, 'GET', '/vendor/autobahn.LICENSE.txt');
	assert.match(lic.text, /Crossbar.io Technologies.*Permission is hereby granted/s);
	const page = await browser.page(`${gw.url}/rpc.html`);
	const got = await page.evaluate(() => ({
		version: autobahn.version, isConnection: typeof autobahn.Connection === 'function',
	}));
	assert.deepEqual(got, { version: pin, isConnection: true });
	await page.close();
});

test('the publish form POSTs to /publish, shows the reply, and its curl command works', { skip }, async () => {
	// Test the form against an SSE reader, a 400 reply, a JSON mistake caught in the page,
	// and the curl command the page shows, run as it is.
	const topic = 'com.example.www.form';
	const s = await openSseLive(gw, { topic });
	const page = await browser.page(`${gw.url}/publish.html`);
	await page.fill('#topic', topic);
	await page.fill('#args', '["from the form", 42]');
	await page.fill('#kwargs', '{"who": "test"}');
	await page.click('#form button');
	const status = await waitText(page, '#status', /^HTTP 200 in \d+ ms: published, publication id \d+$/);
	const reply = JSON.parse(await page.textContent('#reply'));
	assert.ok(Number.isInteger(reply.id) && status.endsWith(String(reply.id)), status);
	const [ev] = await s.waitEvents(1);
	assert.deepEqual(ev.json, { topic, args: ['from the form', 42], kwargs: { who: 'test' } });

	// The gateway refuses a topic with a space: the page shows its error and sentence.
	await page.fill('#topic', 'not a topic');
	await page.click('#form button');
	await waitText(page, '#status', /^HTTP 400 in \d+ ms: refused: switchboard\.error\.bad_request — .*topic/);

	// Broken JSON never leaves the page.
	let posts = 0;
	page.on('request', (r) => { if (r.method() === 'POST') posts++; });
	await page.fill('#topic', topic);
	await page.fill('#kwargs', '{"who": ');
	await page.click('#form button');
	await waitText(page, '#problem', /kwargs is not valid JSON/);
	assert.equal(await page.getAttribute('#kwargs', 'aria-invalid'), 'true');
	assert.equal(posts, 0, 'no request sent');

	// The curl command the page shows publishes the same event from a shell.
	await page.fill('#kwargs', '{"via": "it\'s curl"}');
	const cmd = await page.textContent('#curl');
	const run = spawnSync('sh', ['-c', cmd], { encoding: 'utf8', timeout: 10000 });
	assert.equal(run.status, 0, run.stderr);
	assert.match(run.stdout, /^\{"id":\d+\}$/);
	const evs = await s.waitEvents(2);
	assert.deepEqual(evs[1].json, { topic, args: ['from the form', 42], kwargs: { via: "it's curl" } });
	// The 400 above is the only complaint (the response, and Chromium's console line about it).
	assert.deepEqual(page.problems.filter((p) => !/HTTP 400|status of 400/.test(p)), []);
	s.close();
	await page.close();
});

test('the dashboard follows /info: streams, events and deliveries per second', { skip }, async () => {
	// Test that the figures change when clients come and events flow, and the chart draws bars.
	const page = await browser.page(`${gw.url}/dashboard.html`);
	await waitText(page, '#status', /^live$/);
	assert.equal(await page.isHidden('#forwarders'), true, 'no forwarders in the embedded default');
	const figure = async (k) => Number(await page.textContent(`dd[data-field="${k}"]`));
	const sse0 = await figure('sse_clients');
	const streams = [];
	for (let i = 0; i < 3; i++) streams.push(await openSseLive(gw, { topic: 'com.example.www.dash' }));
	await waitFor(async () => await figure('sse_clients') === sse0 + 3, 5000, 'sse_clients + 3 on the page');

	const published0 = await figure('events_published');
	// Publish for a little over two seconds so that at least one reading sees deliveries.
	const until = Date.now() + 2300;
	let n = 0;
	while (Date.now() < until) {
		await publishOk(gw, 'com.example.www.dash', [n++]);
		await new Promise((r) => setTimeout(r, 20));
	}
	await waitFor(async () => await figure('events_published') >= published0 + n, 5000, 'events_published to grow by the events sent');
	const summary = await waitText(page, '#chart-summary', /peak [1-9]\d*\/s/);
	const bars = await page.$$eval('#chart rect', (rs) => rs.map((r) => Number(r.getAttribute('height'))));
	assert.ok(bars.some((h) => h > 0), `bars ${bars}`);
	const fromInfo = await info(gw);
	assert.ok(await figure('events_stored') <= fromInfo.events_stored && await figure('events_stored') > 0);
	assert.match(summary, /deliveries\/s/);
	await browser.shot(page, 'dashboard-busy');
	for (const s of streams) s.close();
	await waitFor(async () => await figure('sse_clients') === sse0, 5000, 'sse_clients back down on the page');
	assert.deepEqual(page.problems, []);
	await page.close();
});

test('the dashboard lists message forwarders with their counters', { skip }, async () => {
	// Test the forwarders table against a gateway whose MessageForwarder posts to a local back end.
	const be = await startBackend();
	const cfg = addContainer(makeConfig(), [messageForwarder({
		id: 'orders-to-app', subscriptions: [{ topic: 'com.example.www.orders', url: `${be.url}/hook` }],
	})]);
	const gw2 = await startGateway({ config: cfg });
	try {
		const page = await browser.page(`${gw2.url}/dashboard.html`);
		await waitText(page, '#status', /^live$/);
		assert.equal(await page.isVisible('#forwarders'), true);
		for (let i = 0; i < 3; i++) await publishOk(gw2, 'com.example.www.orders', [i]);
		await be.waitRequests(3, '/hook');
		// id, realm, cursor, delivered, failed attempts, dead letters, backlog
		const row = await waitFor(async () => {
			const cells = await page.$$eval('#forwarder-rows tr td', (tds) => tds.map((td) => td.textContent));
			return cells[3] === '3' && cells;
		}, 5000, 'delivered 3 in the table');
		assert.deepEqual([row[0], row[1], row[3], row[4], row[5], row[6]], ['orders-to-app', 'realm1', '3', '0', '0', '0']);
		await browser.shot(page, 'dashboard-forwarders');
		assert.deepEqual(page.problems, []);
		await page.close();
	} finally {
		await stopClean(gw2);
		await be.stop();
	}
});
