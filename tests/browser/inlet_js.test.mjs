// /inlet.js on a customer's page (another origin), in a real browser: the
// plain form becomes an AJAX form (inline success, the page stays, the
// submission with its file is stored), refused fields show inline next to
// the field, each page view sends one ping that the endpoint's analytics
// count as a view, and without JavaScript the same form still posts.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { makeDataDir, startServer, cleanup, newAccount, SCALE } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, listAll, htmlEscape } from '../lib/http.mjs';
import { launchChromium, startSite } from '../lib/browser.mjs';

const T = { timeout: 120_000 * SCALE };

let inlet;
let api;
let site;
let siteUrl;
let browser;
const pages = new Map();

before(async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  inlet = await startServer(data);
  api = apiClient(inlet.url, acct.token);
  site = await startSite(pages);
  siteUrl = site.url;
  browser = await launchChromium();
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (site) await site.close();
  await cleanup();
});

function page(action, attrs = '') {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Contact</title>
<script src="${htmlEscape(inlet.url)}/inlet.js" defer></script></head>
<body><h1>Contact</h1>
<form action="${htmlEscape(action)}" method="post" enctype="multipart/form-data" ${attrs}>
  <label>Name <input type="text" name="name"></label>
  <label>Email <input type="text" name="email"></label>
  <label>File <input type="file" name="file"></label>
  <button type="submit">Send</button>
</form></body></html>`;
}

async function views(ep) {
  const r = await api.get(`/api/v1/endpoints/${ep.id}/stats?days=1`);
  assert.equal(r.status, 200, r.text);
  return r.json.data[0];
}

test('inlet.js: AJAX submit with a file, inline success, the page stays; one view ping', T, async () => {
  const ep = await createEndpoint(api, 'inlet-js', { required_fields: [{ name: 'email', type: 'email' }] });
  pages.set('/c', page(`${inlet.url}/f/${ep.key}`, 'data-inlet-success="Got it, thanks!"'));
  const bytes = randomBytes(3000);
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  try {
    const pinged = p.waitForRequest((req) => req.url() === `${inlet.url}/v1/${ep.key}/ping`);
    await p.goto(`${siteUrl}/c`);
    await pinged;

    // A refused field first: shown next to the field, the page stays.
    await p.fill('input[name=name]', 'Ada');
    await p.fill('input[name=email]', 'not-an-email');
    await p.click('button[type=submit]');
    const err = p.locator('[data-inlet-error]');
    await err.waitFor({ timeout: 15_000 * SCALE });
    assert.match(await err.textContent(), /email/);
    assert.equal(await p.getAttribute('input[name=email]', 'aria-invalid'), 'true');
    assert.equal(p.url(), `${siteUrl}/c`);

    await p.fill('input[name=email]', 'ada@example.com');
    await p.setInputFiles('input[name=file]', { name: 'a.bin', mimeType: 'application/octet-stream', buffer: bytes });
    await p.click('button[type=submit]');
    const ok = p.locator('[data-inlet-sent]');
    await ok.waitFor({ timeout: 15_000 * SCALE });
    assert.equal((await ok.textContent()).trim(), 'Got it, thanks!');
    assert.equal(await p.locator('[data-inlet-error]').count(), 0, 'old errors cleared');
    assert.equal(p.url(), `${siteUrl}/c`, 'no navigation');
    assert.equal(await p.inputValue('input[name=name]'), '', 'the form was reset');
  } finally {
    await ctx.close();
  }

  const subs = await listAll(api, ep.id);
  assert.equal(subs.length, 1);
  assert.deepEqual(subs[0].fields, { name: 'Ada', email: 'ada@example.com' });
  const f = await api.get(`/api/v1/submissions/${subs[0].id}/files/0`);
  assert.ok(f.body.equals(bytes), 'file bytes intact');

  // One page view (two submits on it) → one view; submissions counted.
  const day = await views(ep);
  assert.equal(day.views, 1, JSON.stringify(day));
  assert.equal(day.submissions, 1, JSON.stringify(day));
});

test('inlet.js: without JavaScript the same form posts the plain way', T, async () => {
  const ep = await createEndpoint(api, 'inlet-js-nojs');
  pages.set('/nojs', page(`${inlet.url}/f/${ep.key}`));
  const ctx = await browser.newContext({ javaScriptEnabled: false });
  const p = await ctx.newPage();
  try {
    await p.goto(`${siteUrl}/nojs`);
    await p.fill('input[name=name]', 'Grace');
    await p.fill('input[name=email]', 'grace@example.com');
    await Promise.all([p.waitForURL(`${inlet.url}/f/${ep.key}/thanks`, { timeout: 30_000 * SCALE }),
      p.click('button[type=submit]')]);
  } finally {
    await ctx.close();
  }
  assert.equal((await listAll(api, ep.id)).length, 1);
  assert.equal((await views(ep)).views, 0, 'no script, no ping');
});

test('inlet.js: forms posting elsewhere and data-inlet="off" are left alone', T, async () => {
  const ep = await createEndpoint(api, 'inlet-js-off');
  pages.set('/off', page(`${inlet.url}/f/${ep.key}`, 'data-inlet="off"'));
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  try {
    await p.goto(`${siteUrl}/off`);
    await p.waitForFunction(() => window.Inlet !== undefined);
    await p.fill('input[name=name]', 'Off');
    await Promise.all([p.waitForURL(`${inlet.url}/f/${ep.key}/thanks`, { timeout: 30_000 * SCALE }),
      p.click('button[type=submit]')]);
  } finally {
    await ctx.close();
  }
  assert.equal((await views(ep)).views, 0, 'an opted-out form sends no ping');
});
