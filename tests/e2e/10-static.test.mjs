// 10-static: the "/" static path serves www/ and never anything outside it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
	startGateway, stopClean, makeConfig, request, curl, tempDir, SRCDIR,
} from './lib/gateway.mjs';

const MARK = 'switchboard-static-test-index';
const SECRET = 'root:x:0:0 secret-outside-www';
let gw, root, www;

before(async () => {
	root = tempDir();
	www = path.join(root, 'www');
	fs.mkdirSync(path.join(www, 'sub'), { recursive: true });
	fs.writeFileSync(path.join(www, 'index.html'), `<!doctype html><title>t</title><p>${MARK}</p>\n`);
	fs.writeFileSync(path.join(www, 'style.css'), 'body { color: red }\n');
	fs.writeFileSync(path.join(www, 'app.js'), 'console.log(1);\n');
	fs.writeFileSync(path.join(www, 'sub', 'page.html'), '<p>sub page</p>\n');
	fs.writeFileSync(path.join(root, 'secret.txt'), `${SECRET}\n`);
	gw = await startGateway({ config: makeConfig(), www, dir: root });
});
after(async () => { await stopClean(gw); });

test('GET / and /index.html serve index.html as text/html', async () => {
	// Test that the static root answers / with index.html.
	for (const p of ['/', '/index.html']) {
		const r = await request(gw, 'GET', p);
		assert.equal(r.status, 200, p);
		assert.match(r.headers['content-type'] || '', /^text\/html/, p);
		assert.ok(r.text.includes(MARK), `${p}: ${r.text.slice(0, 200)}`);
	}
});

test('files get their content types; subdirectories work', async () => {
	// Test CSS, JS and a nested page.
	const css = await request(gw, 'GET', '/style.css');
	assert.equal(css.status, 200);
	assert.match(css.headers['content-type'] || '', /^text\/css/);
	assert.equal(css.text, 'body { color: red }\n');
	const js = await request(gw, 'GET', '/app.js');
	assert.equal(js.status, 200);
	assert.match(js.headers['content-type'] || '', /javascript/);
	const sub = await request(gw, 'GET', '/sub/page.html');
	assert.equal(sub.status, 200);
	assert.equal(sub.text, '<p>sub page</p>\n');
});

test('a missing file is 404', async () => {
	// Test that unknown files are not found (and not a directory listing).
	const r = await request(gw, 'GET', '/nope.html');
	assert.equal(r.status, 404);
	assert.ok(!r.text.includes('index.html'), 'no listing');
});

const TRAVERSALS = [
	'/../secret.txt',
	'/../../../../../../etc/passwd',
	'/%2e%2e/secret.txt',
	'/%2E%2E/secret.txt',
	'/%2e%2e%2fsecret.txt',
	'/..%2fsecret.txt',
	'/..%2f..%2fetc/passwd',
	'/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd',
	'/%252e%252e/secret.txt',
	'/%252e%252e%252fsecret.txt',
	'/sub/../../secret.txt',
	'/sub/%2e%2e/%2e%2e/secret.txt',
	'/..\\secret.txt',
	'/%2e%2e%5csecret.txt',
	'/.%2e/secret.txt',
	'/%2e./secret.txt',
	'//etc/passwd',
	'/%2fetc%2fpasswd',
	'/....//secret.txt',
	'/..;/secret.txt',
	'/%c0%ae%c0%ae/secret.txt',
	'/secret.txt%00.html',
];

for (const p of TRAVERSALS) {
	test(`path traversal ${p} is refused`, () => {
		// Test that the raw path (sent as-is by curl) is 400 or 404 and never
		// returns /etc/passwd or the file next to www/.
		const r = curl(gw, p);
		assert.ok(r.status === 400 || r.status === 404, `${p}: status ${r.status}, body ${r.body.slice(0, 200)}`);
		assert.ok(!r.body.includes('root:'), `${p}: leaked a file: ${r.body.slice(0, 200)}`);
		assert.ok(!r.body.includes('secret-outside-www'), `${p}: leaked secret.txt`);
	});
}

test('invalid UTF-8, NUL and odd escapes in paths are refused without a crash', async () => {
	// Test that percent-escapes decoding to invalid UTF-8 or NUL, and broken
	// escapes, get 400/404 and leave the gateway running.
	for (const p of ['/%ff', '/a%ff', '/%c0%ae', '/%e2%82', '/%c3', '/a%00b', '/%', '/%zz', '/%2', '/' + 'a'.repeat(5000)]) {
		const r = curl(gw, p);
		assert.ok([400, 404, 414].includes(r.status), `${p.slice(0, 40)}: status ${r.status} ${r.stderr}`);
		assert.equal(gw.proc.signalCode, null, `gateway died (${gw.proc.signalCode}) on ${p.slice(0, 40)}`);
	}
	const h = await request(gw, 'GET', '/healthz');
	assert.equal(h.status, 200);
});

test('dot segments inside www resolve within www or are refused', () => {
	// Test that /sub/../index.html never escapes: it is index.html or 400/404.
	const r = curl(gw, '/sub/../index.html');
	assert.ok((r.status === 200 && r.body.includes(MARK)) || r.status === 400 || r.status === 404,
		`status ${r.status}`);
});

test('the gateway still serves after the traversal attempts', async () => {
	// Test that refused paths left nothing broken.
	const h = await request(gw, 'GET', '/healthz');
	assert.equal(h.status, 200);
	const r = await request(gw, 'GET', '/');
	assert.equal(r.status, 200);
});

test('without --www the source tree www/ is served from a build tree', async (t) => {
	// Test the default static root: run from the build tree, / serves the
	// source tree's www/index.html.
	const idx = path.join(SRCDIR, 'www', 'index.html');
	if (!fs.existsSync(idx)) {
		t.skip(`${idx} does not exist yet`);
		return;
	}
	const g = await startGateway({ config: makeConfig() });
	try {
		const r = await request(g, 'GET', '/');
		assert.equal(r.status, 200);
		assert.match(r.headers['content-type'] || '', /^text\/html/);
		assert.equal(r.text, fs.readFileSync(idx, 'utf8'));
	} finally {
		await stopClean(g);
	}
});

test('files carry ETag and Last-Modified; a revalidation of an unchanged file is 304 with no body', async () => {
	// Test conditional GETs: If-None-Match with the ETag or If-Modified-Since
	// with Last-Modified -> 304 and no body; another ETag -> 200; a changed
	// file gets a new ETag. The default Cache-Control is no-cache (revalidate).
	const file = path.join(www, 'cached.txt');
	fs.writeFileSync(file, 'version one\n');
	const first = await request(gw, 'GET', '/cached.txt');
	assert.equal(first.status, 200);
	const etag = first.headers.etag, modified = first.headers['last-modified'];
	assert.match(etag || '', /^"[0-9a-f]+-[0-9a-f]+"$/);
	assert.ok(!Number.isNaN(Date.parse(modified)), modified);
	assert.equal(first.headers['cache-control'], 'no-cache');
	const same = await request(gw, 'GET', '/cached.txt', { headers: { 'If-None-Match': etag } });
	assert.deepEqual([same.status, same.text], [304, '']);
	assert.equal(same.headers.etag, etag);
	const since = await request(gw, 'GET', '/cached.txt', { headers: { 'If-Modified-Since': modified } });
	assert.deepEqual([since.status, since.text], [304, '']);
	const other = await request(gw, 'GET', '/cached.txt', { headers: { 'If-None-Match': '"0-0"' } });
	assert.deepEqual([other.status, other.text], [200, 'version one\n']);
	fs.writeFileSync(file, 'version two, longer\n');
	const changed = await request(gw, 'GET', '/cached.txt', { headers: { 'If-None-Match': etag } });
	assert.deepEqual([changed.status, changed.text], [200, 'version two, longer\n']);
	assert.notEqual(changed.headers.etag, etag);
});

test('Crossbar\'s cache_timeout: max-age and Expires, or no Cache-Control with null', async () => {
	// Test a static path with cache_timeout 3600 and one with null.
	const g = await startGateway({
		config: makeConfig({ paths: {
			'/': { type: 'static', directory: www, options: { cache_timeout: 3600 } },
			plain: { type: 'static', directory: www, options: { cache_timeout: null } },
		} }),
	});
	try {
		const r = await request(g, 'GET', '/style.css');
		assert.equal(r.headers['cache-control'], 'max-age=3600, public');
		const expires = Date.parse(r.headers.expires);
		assert.ok(Math.abs(expires - (Date.now() + 3600e3)) < 120e3, r.headers.expires);
		const p = await request(g, 'GET', '/plain/style.css');
		assert.equal(p.status, 200);
		assert.equal(p.headers['cache-control'], undefined);
		assert.ok(p.headers.etag, 'validators are still sent');
	} finally {
		await stopClean(g);
	}
});
