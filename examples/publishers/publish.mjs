#!/usr/bin/env node
// publish.mjs - publish events to Switchboard from Node.js 18 or later
// (the built-in fetch; no npm package needed).
//
// import { publish } from './publish.mjs', or run it from a shell:
//
//   SWITCHBOARD_URL=http://127.0.0.1:8080 node publish.mjs com.example.news '["hello"]' '{"n": 1}'
//
// publish() resolves to the publication id once the event is stored and
// rejects with the gateway's error when it was not published.
import { pathToFileURL } from 'node:url';

const SWITCHBOARD_URL = process.env.SWITCHBOARD_URL || 'http://127.0.0.1:8080';

export async function publish(topic, args = [], kwargs = {}, { url = SWITCHBOARD_URL, timeout = 10000 } = {}) {
	const r = await fetch(url.replace(/\/$/, '') + '/publish', {
		method: 'POST',
		headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ topic, args, kwargs }),
		signal: AbortSignal.timeout(timeout),
	});
	const reply = await r.json();
	// 4xx: the gateway could not accept the request; 200 {"error"}: WAMP refused it.
	if (r.status !== 200 || reply.error) {
		const e = new Error(`HTTP ${r.status}: ${reply.error}: ${(reply.args || [])[0]}`);
		Object.assign(e, { status: r.status, error: reply.error });
		throw e;
	}
	return reply.id;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
	const [topic, args = '[]', kwargs = '{}'] = process.argv.slice(2);
	if (!topic) {
		console.error('usage: node publish.mjs TOPIC [ARGS_JSON] [KWARGS_JSON]');
		process.exit(2);
	}
	try {
		console.log(JSON.stringify({ id: await publish(topic, JSON.parse(args), JSON.parse(kwargs)) }));
	} catch (e) {
		console.error(`publish.mjs: ${e.message}`);
		process.exit(1);
	}
}
