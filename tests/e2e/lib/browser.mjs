// browser.mjs - Debian's Chromium, driven by playwright-core, for the www/ page tests.
//
// Owns: launching one headless Chromium per test file with a fresh profile
// (a temp user data dir), opening pages that record every console error,
// uncaught exception and failed request, and saving screenshots under
// tests/artifacts/www/ (git-ignored; $SB_ARTIFACTS overrides).  The browser
// is closed when the test process exits.

import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { tempDir, waitFor } from './gateway.mjs';

export const CHROMIUM = process.env.SB_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = path.resolve(process.env.SB_ARTIFACTS || 'tests/artifacts', 'www');

/** A reason to skip (a string) when Chromium is not installed, else false. */
export const noChromium = fs.existsSync(CHROMIUM) ? false
	: `${CHROMIUM} not found (apt-get install chromium, or ./deps.sh --test)`;

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
	'--disable-component-update', '--disable-sync', '--no-first-run'];

const open = new Set();
process.on('exit', () => {
	// The persistent context's Chromium is a child process: do not leave it behind.
	for (const ctx of open) {
		try { ctx.browser()?.process()?.kill('SIGKILL'); } catch { /* gone */ }
	}
});

/**
 * Launch Chromium with a fresh profile. Resolves to b:
 *   b.page(url, {width, height}) a new page at url; page.problems lists console
 *                                errors, uncaught exceptions and failed requests
 *   b.shot(page, name)           saves ARTIFACTS/name.png (full page)
 *   b.close()
 */
export async function launchBrowser() {
	const ctx = await chromium.launchPersistentContext(tempDir('sb-chromium-'), {
		executablePath: CHROMIUM,
		headless: true,
		args: FLAGS,
		viewport: { width: 1024, height: 768 },
	});
	open.add(ctx);
	const b = { ctx };
	b.page = async (url, { width, height } = {}) => {
		const page = await ctx.newPage();
		if (width) await page.setViewportSize({ width, height: height || 800 });
		page.problems = [];
		page.on('console', (m) => {
			if (m.type() === 'error') page.problems.push(`console error: ${m.text()}`);
		});
		page.on('pageerror', (e) => page.problems.push(`uncaught: ${e.message}`));
		page.on('requestfailed', (r) => {
			// Leaving a page aborts its open streams: that is not a problem.
			if (!/ERR_ABORTED/.test(r.failure()?.errorText || '')) {
				page.problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
			}
		});
		page.on('response', (r) => {
			if (r.status() >= 400) page.problems.push(`HTTP ${r.status()}: ${r.url()}`);
		});
		await page.goto(url);
		return page;
	};
	b.shot = async (page, name) => {
		fs.mkdirSync(ARTIFACTS, { recursive: true });
		await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
	};
	b.close = async () => {
		open.delete(ctx);
		await ctx.close();
	};
	return b;
}

/** Wait until the element matching selector has text matching re; returns the text. */
export async function waitText(page, selector, re, timeout = 10000) {
	let last = '';
	return waitFor(async () => {
		last = (await page.locator(selector).first().textContent()) || '';
		return re.test(last) && last;
	}, timeout, () => `${selector} to match ${re} (it says "${last}")`, 50);
}
