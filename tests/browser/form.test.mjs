// A real browser (Debian's chromium driven by playwright-core) submits a
// plain HTML form, served from another origin, to Inlet: multipart with a
// file; it lands on Inlet's thank-you page, and the API returns the
// submission with the file's exact bytes. Also _next back to the site, and
// a refused post shown as an HTML error page.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { makeDataDir, startServer, cleanup, newAccount, SCALE } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, listAll, htmlEscape, postForm } from '../lib/http.mjs';
import { launchChromium, startSite } from '../lib/browser.mjs';

const T = { timeout: 120_000 * SCALE };

let inlet;
let api;
let site; // the plain web site with the form, on its own port
let siteUrl;
let browser;
const pages = new Map(); // path → HTML served by the site

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

function formPage(action, extra = '') {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Contact</title></head>
<body>
<h1>Contact us</h1>
<form action="${htmlEscape(action)}" method="post" enctype="multipart/form-data">
  <label>Name <input type="text" name="name"></label>
  <label>Email <input type="email" name="email"></label>
  <label>Attachment <input type="file" name="attachment"></label>
  ${extra}
  <button type="submit">Send</button>
</form>
</body></html>`;
}

test('fill, attach a file, submit → thank-you page; the API has it, file bytes intact', T, async () => {
  const ep = await createEndpoint(api, 'browser');
  const action = `${inlet.url}/f/${ep.key}`;
  pages.set('/contact', formPage(action));
  const fileBytes = randomBytes(4096 + 123);

  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(`${siteUrl}/contact`);
    await page.fill('input[name=name]', 'Ada Lovelace');
    await page.fill('input[name=email]', 'ada@example.com');
    await page.setInputFiles('input[name=attachment]', { name: 'engine.bin', mimeType: 'application/octet-stream', buffer: fileBytes });
    const thanks = `${inlet.url}/f/${ep.key}/thanks`;
    await Promise.all([
      page.waitForURL(thanks, { timeout: 30_000 * SCALE }),
      page.click('button[type=submit]'),
    ]);
    assert.equal(page.url(), thanks);
    const text = await page.textContent('body');
    assert.match(text, /thank/i, `thank-you page text: ${text}`);
  } finally {
    await context.close();
  }

  const subs = await listAll(api, ep.id);
  assert.equal(subs.length, 1, 'one submission');
  const s = subs[0];
  assert.equal(s.status, 'inbox');
  assert.deepEqual(s.fields, { name: 'Ada Lovelace', email: 'ada@example.com' });
  assert.equal(s.files.length, 1);
  assert.equal(s.files[0].name, 'engine.bin');
  assert.equal(s.files[0].field, 'attachment');
  assert.equal(s.files[0].size, fileBytes.length);
  assert.equal(s.files[0].content_type, 'application/octet-stream');
  assert.equal(s.meta.origin, siteUrl, 'the browser sent the site as Origin');
  assert.ok(String(s.meta.referrer).startsWith(siteUrl), `referrer ${s.meta.referrer}`);
  assert.match(String(s.meta.user_agent), /Chrom/);
  assert.equal(s.meta.reply_to, 'ada@example.com');

  const f = await api.get(`/api/v1/submissions/${s.id}/files/0`);
  assert.equal(f.status, 200);
  assert.ok(f.body.equals(fileBytes), `exact bytes back (${f.body.length} of ${fileBytes.length})`);
  assert.match(String(f.headers['content-disposition']), /attachment.*engine\.bin/);
});

test('_next on the site’s own origin brings the browser back to the site', T, async () => {
  const ep = await createEndpoint(api, 'browser-next');
  pages.set('/contact-next', formPage(`${inlet.url}/f/${ep.key}`, `<input type="hidden" name="_next" value="${siteUrl}/sent">`));
  pages.set('/sent', '<!doctype html><html><body><p id="done">Sent, thanks!</p></body></html>');

  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(`${siteUrl}/contact-next`);
    await page.fill('input[name=name]', 'Grace');
    await page.fill('input[name=email]', 'grace@example.com');
    await Promise.all([page.waitForURL(`${siteUrl}/sent`, { timeout: 30_000 * SCALE }), page.click('button[type=submit]')]);
    assert.equal(await page.textContent('#done'), 'Sent, thanks!');
  } finally {
    await context.close();
  }
  const [s] = await listAll(api, ep.id);
  assert.deepEqual(s.fields, { name: 'Grace', email: 'grace@example.com' }, 'no file chosen: no file, no stray field');
  assert.deepEqual(s.files, []);
  assert.equal(s.meta.next, `${siteUrl}/sent`);
});

test('a refused browser post shows an HTML error page with the status', T, async () => {
  const ep = await createEndpoint(api, 'browser-required', { required_fields: [{ name: 'phone', type: 'text' }] });
  pages.set('/contact-required', formPage(`${inlet.url}/f/${ep.key}`));

  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(`${siteUrl}/contact-required`);
    await page.fill('input[name=name]', 'Linus');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${inlet.url}/f/${ep.key}` && r.request().method() === 'POST', { timeout: 30_000 * SCALE }),
      page.click('button[type=submit]'),
    ]);
    assert.equal(response.status(), 422);
    assert.match(response.headers()['content-type'] || '', /^text\/html/);
    await page.waitForLoadState('domcontentloaded');
    assert.equal(page.url(), `${inlet.url}/f/${ep.key}`);
    const text = await page.textContent('body');
    // The same words a script gets in the JSON answer.
    const j = await postForm(inlet.url, ep.key, 'multipart', [{ name: 'name', value: 'Linus' }, { name: 'email', value: '' }]);
    assert.equal(j.status, 422);
    const messages = [j.json.error, ...j.json.errors.map((e) => e.message)];
    assert.ok(messages.some((m) => text.includes(m)), `the page shows one of ${JSON.stringify(messages)}: ${text}`);
  } finally {
    await context.close();
  }
  assert.deepEqual(await listAll(api, ep.id), [], 'nothing stored');
});

test('inlet stops cleanly on SIGTERM', T, async () => {
  await inlet.stop();
});
