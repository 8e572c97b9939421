// 61-www-sse: the live SSE feed page (www/sse.html) in Chromium: events
// published with curl appear with their sequence ids, and after a forced
// disconnect or a gateway restart the page shows every event it missed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
	startGateway, stopClean, makeConfig, info, openSseLive, waitFor,
} from './lib/gateway.mjs';
import { launchBrowser, noChromium, waitText } from './lib/browser.mjs';

const skip = noChromium;
let gw, browser;

before(async () => {
	if (skip) return;
	// retry 3000 ms (the default, said explicitly): the restart test publishes inside that window.
	gw = await startGateway({ config: makeConfig({ sse: { retry: 3000 } }) });
	browser = await launchBrowser();
});
after(async () => {
	if (browser) await browser.close();
	await stopClean(gw);
});

/** Publish the way the README does, with curl; returns the publication id. */
function curlPublish(topic, args) {
	const r = spawnSync('curl', ['-sS', '--max-time', '10', '-H', 'Content-Type: application/json',
		'-d', JSON.stringify({ topic, args }), `${gw.url}/publish`], { encoding: 'utf8' });
	assert.equal(r.status, 0, r.stderr);
	const reply = JSON.parse(r.stdout);
	assert.ok(Number.isInteger(reply.id), r.stdout);
	return reply.id;
}

/** The event ids the page shows, oldest first (the list is newest first). */
const pageIds = (page) => page.$$eval('#events li[data-id]', (lis) => lis.map((li) => li.dataset.id).reverse());

async function openFeed(topic) {
	const page = await browser.page(`${gw.url}/sse.html?topic=${topic}`);
	await waitText(page, '#status', /^open$/);
	return page;
}

test('events published with curl appear on the page with their sequence ids', { skip }, async () => {
	// Test the page against a raw SSE reader on the same topic: same ids, same payloads.
	const topic = 'com.example.www.sse1';
	const reader = await openSseLive(gw, { topic });
	const page = await openFeed(topic);
	for (const word of ['one', 'two', 'three']) curlPublish(topic, [word]);
	const evs = await reader.waitEvents(3);
	await waitFor(async () => (await pageIds(page)).length === 3, 5000, '3 events on the page');
	assert.deepEqual(await pageIds(page), evs.map((e) => e.id));
	const texts = await page.$$eval('#events li[data-id]', (lis) => lis.map((li) => li.textContent).reverse());
	evs.forEach((e, i) => assert.equal(texts[i], `#${e.id}${topic} ${JSON.stringify(e.json.args)}`));
	assert.equal(await page.textContent('#last'), evs[2].id);
	assert.equal(await page.textContent('#order'), 'yes');
	await browser.shot(page, 'sse-events');
	assert.deepEqual(page.problems, []);
	reader.close();
	await page.close();
});

test('"Disconnect for 10 s": every event published meanwhile appears after the reconnect, in order', { skip }, async () => {
	// Test the button: the stream really closes, events published meanwhile are replayed
	// from history on reconnect (by sequence, none missing, none twice), then live ones follow.
	const topic = 'com.example.www.sse2';
	const reader = await openSseLive(gw, { topic });
	const page = await openFeed(topic);
	curlPublish(topic, ['before']);
	await waitFor(async () => (await pageIds(page)).length === 1, 5000, 'the first event');
	const streams = (await info(gw)).sse_clients;

	await page.click('#pause');
	await waitText(page, '#status', /^disconnected, reconnecting in \d+ s$/);
	await waitFor(async () => (await info(gw)).sse_clients === streams - 1, 3000, 'the page to close its stream');
	const replayed0 = (await info(gw)).events_replayed;
	for (let i = 0; i < 5; i++) curlPublish(topic, [`missed ${i}`]);
	curlPublish('com.example.www.other', ['not for this page']);
	assert.equal((await pageIds(page)).length, 1, 'nothing arrives while disconnected');

	await waitText(page, '#status', /^open$/, 13000);
	assert.equal(await page.textContent('#reconnects'), '1');
	curlPublish(topic, ['after']);
	const evs = await reader.waitEvents(7);
	await waitFor(async () => (await pageIds(page)).length === 7, 5000, '7 events on the page');
	assert.deepEqual(await pageIds(page), evs.map((e) => e.id));
	assert.equal(await page.textContent('#order'), 'yes');
	assert.ok((await info(gw)).events_replayed >= replayed0 + 5, 'the missed events came from history');
	const notes = await page.$$eval('#events li.note', (lis) => lis.map((li) => li.textContent).reverse());
	assert.match(notes.join('\n'), new RegExp(`disconnected after #${evs[0].id}.*\\n.*reconnected: .*after #${evs[0].id}`));
	await browser.shot(page, 'sse-after-disconnect');
	assert.deepEqual(page.problems, []);
	reader.close();
	await page.close();
});

test('after a gateway restart the browser reconnects by itself and resumes from Last-Event-ID', { skip }, async () => {
	// Test the browser's own reconnect (no button): events published after the restart,
	// before the browser is back, are replayed; the page counts the reconnect.
	const topic = 'com.example.www.sse3';
	const page = await openFeed(topic);
	curlPublish(topic, ['before restart']);
	await waitFor(async () => (await pageIds(page)).length === 1, 5000, 'the first event');
	const [firstId] = await pageIds(page);

	const t0 = Date.now();
	await gw.restart();
	const restartMs = Date.now() - t0;
	for (let i = 0; i < 3; i++) curlPublish(topic, [`while away ${i}`]);
	await waitText(page, '#reconnects', /^1$/, 15000);
	await waitFor(async () => (await pageIds(page)).length === 4, 5000, '4 events on the page');
	const ids = await pageIds(page);
	assert.equal(ids[0], firstId);
	assert.deepEqual(ids.slice(1).map(Number), [1, 2, 3].map((k) => Number(firstId) + k));
	// The browser waits retry (3 s) before reconnecting; when the restart was quick the
	// three events were stored before it came back, so they must have been replayed.
	if (restartMs < 2000) assert.ok((await info(gw)).events_replayed >= 3, `replayed after a ${restartMs} ms restart`);
	const notes = await page.$$eval('#events li.note', (lis) => lis.map((li) => li.textContent).join('\n'));
	assert.match(notes, /connection lost after #\d+; the browser retries by itself/);
	// Refused connections while the gateway was down are logged by Chromium; exceptions are not allowed.
	assert.deepEqual(page.problems.filter((p) => p.startsWith('uncaught')), []);
	await page.close();
});

test('a prefix stream with "replay stored history" shows earlier events, then live ones', { skip }, async () => {
	// Test the form: match=prefix and lastEventId=0 replay what history holds for the prefix.
	const prefix = 'com.example.www.sse4';
	curlPublish(`${prefix}.a`, ['old a']);
	curlPublish(`${prefix}.b`, ['old b']);
	const page = await openFeed('com.example.news');
	await page.fill('#topics', prefix);
	await page.selectOption('#match', 'prefix');
	await page.check('#history');
	await page.click('#follow button');
	await waitText(page, '#status', /^open$/);
	await waitFor(async () => (await pageIds(page)).length === 2, 5000, 'the two stored events');
	curlPublish(`${prefix}.c`, ['live c']);
	await waitFor(async () => (await pageIds(page)).length === 3, 5000, 'the live event');
	const texts = await page.$$eval('#events li[data-id]', (lis) => lis.map((li) => li.textContent).reverse());
	assert.deepEqual(texts.map((t) => t.replace(/^#\d+/, '')),
		[`${prefix}.a ["old a"]`, `${prefix}.b ["old b"]`, `${prefix}.c ["live c"]`]);
	assert.deepEqual(page.problems, []);
	await page.close();
});
