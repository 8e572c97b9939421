// 62-www-chat: the WAMP chat page (www/chat.html, Autobahn|JS in Chromium):
// two pages talk in #general, @user messages stay private, a channel joined
// later shows its history, and a back end can post with POST /publish.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	startGateway, stopClean, makeConfig, publishOk, waitFor,
} from './lib/gateway.mjs';
import { connectAutobahn } from './lib/wamp.mjs';
import { launchBrowser, noChromium, waitText } from './lib/browser.mjs';

const skip = noChromium;
let gw, browser, alice, bob;

async function chatAs(name) {
	const page = await browser.page(`${gw.url}/chat.html?name=${name}`);
	await waitText(page, '#status', new RegExp(`^connected as ${name} `));
	return page;
}

/** The conversation on screen: [{from, text, old}], oldest first. */
const messages = (page) => page.$$eval('#messages li', (lis) => lis.map((li) => ({
	from: li.querySelector('.from').textContent,
	text: li.querySelector('.text').textContent,
	old: li.classList.contains('old'),
})));
const rooms = (page) => page.$$eval('#rooms button', (bs) => bs.map((b) => b.textContent));

// Playwright clicks wait for animation frames, which a background tab does not draw.
async function say(page, text) {
	await page.bringToFront();
	await page.fill('#text', text);
	await page.click('#send button');
	await waitFor(async () => (await page.inputValue('#text')) === '', 5000, `"${text}" to be sent`);
}

async function open(page, room) {
	await page.bringToFront();
	await page.fill('#room', room);
	await page.click('#open button');
	await waitText(page, '#room-title', new RegExp(`^${room}$`));
}

function waitMessage(page, from, text, timeout = 5000) {
	return waitFor(async () => (await messages(page)).find((m) => m.from === from && m.text === text),
		timeout, `${from}: "${text}" on the page`);
}

before(async () => {
	if (skip) return;
	gw = await startGateway({ config: makeConfig() });
	browser = await launchBrowser();
	alice = await chatAs('alice');
	bob = await chatAs('bob');
});
after(async () => {
	if (browser) await browser.close();
	await stopClean(gw);
});

test('two chat pages exchange messages in the general channel', { skip }, async () => {
	// Test a round trip each way; both pages show the conversation in the same order.
	await say(alice, 'hi bob');
	await waitMessage(bob, 'alice', 'hi bob');
	await say(bob, 'hi alice');
	await waitMessage(alice, 'bob', 'hi alice');
	const want = [
		{ from: 'alice', text: 'hi bob', old: false },
		{ from: 'bob', text: 'hi alice', old: false },
	];
	assert.deepEqual(await messages(alice), want);
	assert.deepEqual(await messages(bob), want);
	await browser.shot(alice, 'chat-general');
	assert.deepEqual(alice.problems, []);
	assert.deepEqual(bob.problems, []);
});

test('an @user message reaches that user only, on chat.user.NAME', { skip }, async () => {
	// Test a private conversation against a third page and a WAMP client on bob's topic.
	const carol = await chatAs('carol');
	const spy = await connectAutobahn(gw);
	const seen = [];
	await spy.subscribe('chat.user.bob', (args, kwargs) => seen.push(kwargs));

	await open(alice, '@bob');
	await say(alice, 'psst, a secret');
	await waitMessage(alice, 'alice', 'psst, a secret');
	await waitFor(async () => (await rooms(bob)).includes('@alice 1'), 5000, 'bob to see "@alice" with 1 unread');
	assert.ok(!(await messages(bob)).some((m) => m.text === 'psst, a secret'), 'not in bob\'s #general');
	await bob.bringToFront();
	await bob.click('#rooms button:has-text("@alice")');
	await waitMessage(bob, 'alice', 'psst, a secret');
	await say(bob, 'got it');
	await waitMessage(alice, 'bob', 'got it');
	assert.deepEqual(seen, [{ from: 'alice', text: 'psst, a secret' }]);

	await carol.waitForTimeout(300);
	assert.deepEqual(await rooms(carol), ['#general']);
	assert.ok(!(await messages(carol)).some((m) => /psst|got it/.test(m.text)), 'carol saw nothing private');
	await browser.shot(bob, 'chat-private');
	await spy.end();
	await carol.close();
	await open(alice, '#general');
	await open(bob, '#general');
});

test('a channel joined later shows its recent history, then live messages', { skip }, async () => {
	// Test #random: bob's #general stays clean, and joining #random fetches what was said.
	await open(alice, '#random');
	await say(alice, 'r1');
	await say(alice, 'r2');
	await waitMessage(alice, 'alice', 'r2');
	assert.ok(!(await messages(bob)).some((m) => /^r\d$/.test(m.text)), 'not in #general');
	await open(bob, '#random');
	await waitFor(async () => (await messages(bob)).length === 2, 5000, 'the history of #random');
	assert.deepEqual(await messages(bob), [
		{ from: 'alice', text: 'r1', old: true },
		{ from: 'alice', text: 'r2', old: true },
	]);
	await say(alice, 'r3');
	await waitMessage(bob, 'alice', 'r3');
	assert.deepEqual((await messages(bob)).at(-1), { from: 'alice', text: 'r3', old: false });
	assert.deepEqual(bob.problems, []);
});

test('a back end posts to a channel with POST /publish', { skip }, async () => {
	// Test the contract a legacy app uses: kwargs {from, text} on chat.channel.NAME.
	await open(alice, '#general');
	await open(bob, '#general');
	await publishOk(gw, 'chat.channel.general', [], { from: 'deploy-bot', text: 'build 42 is live' });
	await waitMessage(alice, 'deploy-bot', 'build 42 is live');
	await waitMessage(bob, 'deploy-bot', 'build 42 is live');
	assert.deepEqual(alice.problems, []);
});
