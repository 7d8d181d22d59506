// The dashboard in a real browser (Debian's chromium driven by
// playwright-core), served by the inlet binary at "/": the first-run
// sign-up, a form endpoint, its HTML snippet pasted into a page of another
// site and submitted there with a file, the inbox showing it live, the
// detail panel, the file and a CSV export downloaded, spam; a cross-site
// POST without the CSRF token refused; and a screenshot of every page
// (SCREENSHOT_DIR, default a temporary folder) at 1280x800, at phone width
// and in dark mode.
//
// INLET_WEB_PROXY=1 serves web/dist from a small proxy in this process
// instead (for a server that does not serve the dashboard yet).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { makeDataDir, makeTempDir, startServer, cleanup, SCALE, REPO_ROOT } from '../lib/inlet.mjs';
import { launchChromium, startSite } from '../lib/browser.mjs';
import { startStack } from '../lib/stack.mjs';

const T = { timeout: 120_000 * SCALE };
const WAIT = 20_000 * SCALE;
const VIEWPORT = { width: 1280, height: 800 };
const PHONE = { width: 360, height: 740 };

// What the server sends with the dashboard; the proxy sends it too, so a
// violation shows up whichever serves the page.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const OWNER = { account: 'Acme', email: 'owner@example.test', password: 'correct horse battery staple' };
const MESSAGE = `Hello from the site ${randomBytes(4).toString('hex')}`;
const FILE = randomBytes(3000 + 77);

let inlet;
let stack; // INLET_TEST_STACK=1: the full deployment (tests/lib/stack.mjs)
let dash; // the dashboard's origin
let proxy;
let site;
let siteUrl;
let browser;
let context; // the owner's browser: one cookie jar for every dashboard page
let page; // the dashboard page that stays open (never reloaded)
let shots;
const problems = []; // uncaught errors and CSP violations in dashboard pages
const sitePages = new Map();
const state = {}; // what one step leaves for the next

/** A static server for web/dist that forwards the API and ingest to inlet. */
function startProxy(target) {
  const up = new URL(target);
  const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css' };
  const server = http.createServer(async (req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    if (/^\/(api|f|v1)\/|^\/inlet\.js$/.test(p)) {
      const fwd = http.request({ host: up.hostname, port: up.port, path: req.url, method: req.method, headers: { ...req.headers, host: up.host } }, (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      fwd.on('error', () => { res.writeHead(502); res.end(); });
      req.pipe(fwd);
      return;
    }
    const file = path.join(REPO_ROOT, 'web', 'dist', p === '/' ? 'index.html' : path.normalize(p));
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'Content-Type': types[path.extname(file)] || 'application/octet-stream', 'Content-Security-Policy': CSP });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function shot(p, name) {
  await p.waitForTimeout(300); // charts and fonts settle
  await p.screenshot({ path: path.join(shots, `${name}.png`) });
}

/** Calls the API from the dashboard page, with its cookie and CSRF token. */
function api(method, route, body) {
  return page.evaluate(async ([m, r, b]) => {
    const s = await (await fetch('api/v1/auth/session')).json();
    const res = await fetch(`api/v1${r}`, {
      method: m,
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token },
      body: b ? JSON.stringify(b) : undefined,
    });
    return { status: res.status, json: res.status === 204 ? null : await res.json() };
  }, [method, route, body]);
}

before(async () => {
  if (process.env.INLET_TEST_STACK) {
    // The same flow through nginx in front of two nodes on PostgreSQL,
    // Redis, S3 and ClickHouse (tests/lib/stack.mjs): the page is served by
    // either node, its API calls and the live stream land on either.
    stack = await startStack();
    inlet = stack.nodes[0];
    dash = stack.url;
  } else if (process.env.INLET_WEB_PROXY) {
    inlet = await startServer(await makeDataDir());
    proxy = await startProxy(inlet.url);
    dash = `http://127.0.0.1:${proxy.address().port}`;
  } else {
    inlet = await startServer(await makeDataDir());
    dash = inlet.url;
  }
  shots = process.env.SCREENSHOT_DIR ? path.resolve(process.env.SCREENSHOT_DIR) : await makeTempDir('inlet-shots-');
  await mkdir(shots, { recursive: true });

  site = await startSite(sitePages);
  siteUrl = site.url;

  browser = await launchChromium();
  context = await browser.newContext({ viewport: VIEWPORT, acceptDownloads: true });
  context.on('page', watch);
  page = await context.newPage();
});

/** Records a page's uncaught errors and CSP violations (checked at the end). */
function watch(p) {
  p.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  p.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });
}

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (site) await site.close();
  if (proxy) await new Promise((resolve) => proxy.close(resolve));
  if (stack) await stack.stop();
  await cleanup();
});

test('the server serves the dashboard at / with a strict CSP', T, async () => {
  const res = await fetch(`${dash}/`);
  assert.equal(res.status, 200, `GET ${dash}/`);
  assert.match(res.headers.get('content-type') || '', /^text\/html/);
  const html = await res.text();
  const js = /<script\b[^>]*\bsrc="([^"]+)"/.exec(html);
  assert.ok(js, 'index.html loads a script');
  const asset = await fetch(new URL(js[1], `${dash}/`));
  assert.equal(asset.status, 200, `GET ${js[1]}`);
  if (!proxy) assert.match(res.headers.get('content-security-policy') || '', /script-src 'self'/, 'CSP on the dashboard');
});

test('first run: sign-up makes the account and logs its owner in', T, async () => {
  await page.goto(`${dash}/`);
  await page.getByRole('heading', { name: 'Create your account' }).waitFor({ timeout: WAIT });
  await shot(page, 'signup');
  await page.fill('#su-account', OWNER.account);
  await page.fill('#su-email', OWNER.email);
  await page.fill('#su-password', OWNER.password);
  await page.click('button[type=submit]');
  await page.getByRole('heading', { name: 'Endpoints' }).waitFor({ timeout: WAIT });
  assert.match(await page.textContent('.topbar'), /Acme/);
  assert.match(await page.textContent('.topbar'), /owner@example\.test/);
});

test('a new form endpoint; its Setup tab gives the HTML snippet', T, async () => {
  await page.getByRole('button', { name: 'New endpoint' }).click();
  await page.fill('#ep-name', 'Contact');
  await page.getByRole('button', { name: 'Create endpoint' }).click();
  const snippet = page.locator('[data-snippet=html]');
  await snippet.waitFor({ timeout: WAIT });
  await shot(page, 'setup');
  state.epId = /#\/e\/([^/]+)\/setup/.exec(page.url())[1];
  state.html = await snippet.textContent();
  assert.match(state.html, /<form action="http:\/\/127\.0\.0\.1:\d+\/f\/[^"]+" method="POST" enctype="multipart\/form-data">/);
  for (const name of ['name', 'email', 'message']) assert.match(state.html, new RegExp(`name="${name}"`));
  assert.match(state.html, /type="file"/);
  for (const kind of ['fetch', 'curl', 'formspree', 'inlet-js']) {
    assert.ok(await page.locator(`[data-snippet="${kind}"]`).count(), `a ${kind} snippet`);
  }
});

test('the snippet posted from another site with a file shows up in the open inbox, live', T, async () => {
  await page.goto(`${dash}/#/e/${state.epId}/inbox`);
  await page.getByText('No submissions in Inbox').waitFor({ timeout: WAIT });
  // Give the live stream a moment to connect before the post.
  await page.locator('.live-on').waitFor({ timeout: 5000 }).catch(() => {});

  sitePages.set('/contact', `<!doctype html><html><head><meta charset="utf-8"><title>Contact</title></head><body>
<h1>Contact us</h1>
${state.html}
</body></html>`);
  const visitor = await browser.newContext();
  try {
    const form = await visitor.newPage();
    await form.goto(`${siteUrl}/contact`);
    await form.fill('input[name=name]', 'Ada Lovelace');
    await form.fill('input[name=email]', 'ada@example.com');
    await form.fill('textarea[name=message]', MESSAGE);
    await form.setInputFiles('input[type=file]', { name: 'engine.bin', mimeType: 'application/octet-stream', buffer: FILE });
    await Promise.all([form.waitForURL(/\/thanks$/, { timeout: WAIT }), form.click('button[type=submit]')]);
  } finally {
    await visitor.close();
  }
  const row = page.locator('tr[data-id]', { hasText: 'Ada Lovelace' });
  try {
    await row.waitFor({ timeout: 15_000 * SCALE });
  } finally {
    state.live = await row.count() > 0;
  }
  await shot(page, 'inbox');
});

test('the detail panel shows it; the file downloads with its bytes; Escape closes it', T, async () => {
  // Without the live stream the row needs a reload; the test above failed.
  if (!state.live) await page.reload();
  const row = page.locator('tr[data-id]', { hasText: 'Ada Lovelace' });
  await row.waitFor({ timeout: WAIT });
  state.subId = await row.getAttribute('data-id');
  await row.locator('.row-open').click();
  const panel = page.getByRole('dialog', { name: 'Submission' });
  await panel.waitFor({ timeout: WAIT });
  assert.match(await panel.textContent(), new RegExp(MESSAGE));
  await shot(page, 'detail');

  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: WAIT }),
    panel.getByRole('link', { name: 'engine.bin' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'engine.bin');
  const got = await readFile(await download.path());
  assert.ok(got.equals(FILE), `the file's exact bytes (${got.length} of ${FILE.length})`);

  await page.keyboard.press('Escape');
  await panel.waitFor({ state: 'detached', timeout: WAIT });
  // Keyboard users land back on the row they opened.
  await page.waitForFunction((id) => document.activeElement?.closest('tr')?.dataset.id === id, state.subId, { timeout: 5000 });
});

test('Export → CSV downloads the inbox with the message', T, async () => {
  await page.getByRole('button', { name: 'Export' }).click();
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: WAIT }),
    page.getByRole('menuitem', { name: 'CSV' }).click(),
  ]);
  assert.match(download.suggestedFilename(), /\.csv$/);
  const csv = (await readFile(await download.path())).toString('utf8');
  assert.match(csv, /^id,created_at,status/);
  assert.ok(csv.includes(MESSAGE), `the CSV has the message:\n${csv}`);
  assert.ok(csv.includes(state.subId));
});

test('Spam moves it out of the Inbox tab and into Spam', T, async () => {
  const row = page.locator(`tr[data-id="${state.subId}"]`);
  await row.locator('.row-open').click();
  const panel = page.getByRole('dialog', { name: 'Submission' });
  await panel.getByRole('button', { name: 'Spam', exact: true }).click();
  await row.waitFor({ state: 'detached', timeout: WAIT });
  await page.getByRole('group', { name: 'Status' }).getByRole('button', { name: 'Spam' }).click();
  await page.locator(`tr[data-id="${state.subId}"]`).waitFor({ timeout: WAIT });
  const r = await api('GET', `/submissions/${state.subId}`);
  assert.equal(r.json.status, 'spam');
  await shot(page, 'inbox-spam');
});

test('a cross-site POST with the session cookie but no CSRF token is refused', T, async () => {
  sitePages.set('/evil', '<!doctype html><html><head><meta charset="utf-8"></head><body>hi</body></html>');
  const evil = await context.newPage();
  try {
    await evil.goto(`${siteUrl}/evil`);
    const results = await evil.evaluate(async (target) => {
      const out = [];
      // A "simple" request goes out without a preflight; JSON needs one.
      for (const type of ['text/plain', 'application/json']) {
        try {
          const r = await fetch(`${target}/api/v1/endpoints`, {
            method: 'POST', credentials: 'include', headers: { 'Content-Type': type },
            body: JSON.stringify({ name: `evil ${type}` }),
          });
          out.push({ type, status: r.status });
        } catch (e) {
          out.push({ type, error: String(e) });
        }
      }
      return out;
    }, dash);
    for (const r of results) assert.ok(!(r.status >= 200 && r.status < 300), `refused: ${JSON.stringify(r)}`);
  } finally {
    await evil.close();
  }
  const list = await api('GET', '/endpoints');
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.data.filter((e) => e.name.startsWith('evil')), [], 'no endpoint was made');
});

test('screenshots of every page, at phone width and in dark mode', T, async () => {
  const goto = async (hash, ready, name) => {
    const url = `${dash}/#${hash}`;
    // The same hash again is no navigation: read the page afresh.
    if (page.url() === url) await page.reload();
    else await page.goto(url);
    await page.locator(ready).first().waitFor({ timeout: WAIT });
    await shot(page, name);
  };
  await goto('/', 'tr[data-id]', 'endpoints');
  await goto(`/e/${state.epId}/inbox`, '.inbox', 'inbox-empty');
  await goto(`/e/${state.epId}/settings`, '#st-name', 'settings');
  await goto(`/e/${state.epId}/analytics`, '.tiles', 'analytics');

  await goto(`/e/${state.epId}/webhooks`, '.toolbar', 'webhooks-empty');
  const hook = await api('POST', `/endpoints/${state.epId}/webhooks`, { url: 'https://hooks.example.test/inlet' });
  assert.equal(hook.status, 201, JSON.stringify(hook.json));
  await goto(`/e/${state.epId}/webhooks`, '.hook', 'webhooks');

  await goto('/keys', 'h1', 'keys-empty');
  await page.getByRole('button', { name: 'New key' }).click();
  await page.fill('#key-name', 'CI');
  await page.getByRole('button', { name: 'Create key' }).click();
  await page.locator('[data-token]').waitFor({ timeout: WAIT });
  assert.match(await page.textContent('[data-token]'), /^inlet_sk_/);
  await shot(page, 'keys-token');
  await page.keyboard.press('Escape');
  await goto('/keys', 'tr[data-id]', 'keys');

  await goto('/team', 'h1', 'team');
  await goto('/account', 'h1', 'account');
  await goto('/analytics', '.tiles', 'account-analytics');

  // Issues: an events endpoint and one TrackX event.
  const ev = await api('POST', '/endpoints', { name: 'Web app', kind: 'events' });
  assert.equal(ev.status, 201);
  const sent = await fetch(`${ev.json.ingest_url}/event`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Origin: siteUrl },
    body: JSON.stringify({ name: 'TypeError', message: 'x is undefined', stack: 'TypeError: x is undefined\n    at go (http://site/app.js:1:2)', type: 1, uri: `${siteUrl}/app`, meta: {} }),
  });
  assert.equal(sent.status, 200);
  await goto(`/e/${ev.json.id}/issues`, 'tr[data-id]', 'issues');
  await page.locator('tr[data-id] a').first().click();
  await page.locator('.event').waitFor({ timeout: WAIT });
  await shot(page, 'issue');
  await goto(`/e/${ev.json.id}/setup`, '[data-snippet=sentry]', 'events-setup');

  await page.setViewportSize(PHONE);
  await goto('/', 'tr[data-id]', 'phone-endpoints');
  await goto(`/e/${state.epId}/inbox?status=spam`, 'tr[data-id]', 'phone-inbox');
  await page.setViewportSize(VIEWPORT);

  await page.emulateMedia({ colorScheme: 'dark' });
  await goto(`/e/${state.epId}/inbox?status=spam`, 'tr[data-id]', 'dark-inbox');
  await page.locator('tr[data-id] .row-open').first().click();
  await shot(page, 'dark-detail');
  await page.emulateMedia({ colorScheme: 'light' });

  // Logged out, in a browser of its own: the login page.
  const other = await browser.newContext({ viewport: VIEWPORT });
  try {
    const p = await other.newPage();
    watch(p);
    await p.goto(`${dash}/`);
    await p.getByRole('heading', { name: 'Log in' }).waitFor({ timeout: WAIT });
    await shot(p, 'login');
    await p.fill('#li-email', OWNER.email);
    await p.fill('#li-password', 'not the password');
    await p.click('button[type=submit]');
    await p.locator('.field-error').waitFor({ timeout: WAIT });
    await shot(p, 'login-error');
  } finally {
    await other.close();
  }
});

test('team: an invited viewer joins through the link and sees no Spam, Trash or Delete', T, async () => {
  await page.goto(`${dash}/#/team`);
  await page.getByRole('heading', { name: 'Team' }).waitFor({ timeout: WAIT });
  await page.getByRole('button', { name: 'Invite' }).click();
  const dialog = page.getByRole('dialog');
  await page.fill('#invite-email', 'viewer@example.test');
  await page.selectOption('#invite-role', 'viewer');
  await dialog.getByRole('button', { name: 'Invite' }).click();
  const url = await page.locator('[data-invite-url]').textContent({ timeout: WAIT });
  await shot(page, 'team-invite');
  const token = /#\/invite\/([^/?#]+)$/.exec(url);
  assert.ok(token, `an invitation link: ${url}`);
  await page.keyboard.press('Escape');

  const other = await browser.newContext({ viewport: VIEWPORT });
  try {
    const p = await other.newPage();
    watch(p);
    await p.goto(`${dash}/#/invite/${token[1]}`);
    await p.getByRole('heading', { name: 'Join Acme' }).waitFor({ timeout: WAIT });
    await shot(p, 'invite');
    await p.fill('#inv-password', 'a viewer password');
    await p.getByRole('button', { name: 'Join Acme' }).click();
    await p.getByRole('heading', { name: 'Endpoints' }).waitFor({ timeout: WAIT });
    await p.goto(`${dash}/#/e/${state.epId}/inbox?status=spam`);
    await p.locator('tr[data-id]').first().waitFor({ timeout: WAIT });
    assert.equal(await p.locator('tr[data-id] input[type=checkbox]').count(), 0, 'no selection for a viewer');
    assert.equal(await p.getByRole('button', { name: 'Export' }).count(), 0, 'no export for a viewer');
    await p.locator('tr[data-id] .row-open').first().click();
    const panel = p.getByRole('dialog', { name: 'Submission' });
    await panel.waitFor({ timeout: WAIT });
    for (const name of ['Spam', 'Not spam', 'Trash', 'Restore', 'Delete forever']) {
      assert.equal(await panel.getByRole('button', { name, exact: true }).count(), 0, `no ${name} button for a viewer`);
    }
    await shot(p, 'viewer-detail');
    // The server refuses it too: the viewer's own session, with its CSRF token.
    const subId = await p.locator('tr[data-id]').first().getAttribute('data-id');
    const refused = await p.evaluate(async (id) => {
      const s = await (await fetch('/api/v1/auth/session')).json();
      const del = await fetch(`/api/v1/submissions/${id}`, { method: 'DELETE', headers: { 'X-CSRF-Token': s.csrf_token } });
      const patch = await fetch(`/api/v1/submissions/${id}`, { method: 'PATCH', headers: { 'X-CSRF-Token': s.csrf_token, 'Content-Type': 'application/json' }, body: '{"status":"inbox"}' });
      return [del.status, (await del.json()).error.code, patch.status];
    }, subId);
    assert.deepEqual(refused, [403, 'forbidden', 403], 'a viewer\'s delete and status change are refused');
  } finally {
    await other.close();
  }
  await page.reload();
  await page.locator('tr[data-id]').nth(1).waitFor({ timeout: WAIT });
  await shot(page, 'team');
});

test('a second account: created from the sidebar, switched to and back with the switcher', T, async () => {
  await page.goto(`${dash}/#/`);
  await page.getByRole('heading', { name: 'Endpoints' }).waitFor({ timeout: WAIT });
  await page.getByRole('button', { name: '+ New account' }).click();
  await page.fill('#new-account-name', 'Side project');
  await page.getByRole('button', { name: 'Create account' }).click();
  const switcher = page.getByRole('combobox', { name: 'Account' });
  await switcher.waitFor({ timeout: WAIT });
  assert.equal(await switcher.locator('option:checked').textContent(), 'Side project');
  // The new account is empty: its endpoints list has none of Acme's.
  await page.getByRole('heading', { name: 'Endpoints' }).waitFor({ timeout: WAIT });
  await page.getByText('Contact', { exact: true }).waitFor({ state: 'detached', timeout: WAIT });
  const accounts = await page.evaluate(async () => (await (await fetch('/api/v1/accounts')).json()).data);
  assert.deepEqual(accounts.map((a) => [a.name, a.role]).sort(), [['Acme', 'owner'], ['Side project', 'owner']]);
  await switcher.selectOption({ label: 'Acme' });
  await page.locator('tr', { hasText: 'Contact' }).first().waitFor({ timeout: WAIT });
});

test('no page had an uncaught error or a CSP violation', T, async () => {
  assert.deepEqual(problems, []);
});

test('inlet stops cleanly on SIGTERM', T, async () => {
  await inlet.stop();
});
