// A real browser (Debian's chromium driven by playwright-core) reports to
// Inlet from a page on another origin, with the clients sites use: Sentry's
// browser SDK (npm's ES modules, through an import map), TrackX's browser
// build, and Chromium's own CSP violation reports, both the legacy
// `report-uri` and the Reporting API (`report-to`). The tests read back
// through the Management API what Inlet stored.
//
// What each client sends is recorded in tests/fixtures/events/README.md.
// Chromium only delivers Reporting API reports to https endpoints from https
// documents; the test puts a TLS front (a reverse proxy, as in production)
// before Inlet, serves the page over https with a throwaway certificate that
// Chromium is told to trust by its key (--ignore-certificate-errors-spki-list),
// and shortens the reporting delay (--short-reporting-delay).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeDataDir, startServer, cleanup, newAccount, SCALE } from '../lib/inlet.mjs';
import { apiClient } from '../lib/http.mjs';
import { launchChromium } from '../lib/browser.mjs';
import { assertShape, prefixed } from '../lib/match.mjs';
import {
  createEventsEndpoint, issueShape, issuesMatching, theIssue, issueEvents, getEvent, sessionTotals, statsToday,
  waitFor, startSite, importMapFor, selfSignedCert, startTlsProxy,
} from '../lib/events.mjs';

const T = { timeout: 120_000 * SCALE };
const WAIT_MS = 30_000 * SCALE;
// Reporting API reports go out after ~100 ms instead of about a minute.
const EXTRA_CHROMIUM_ARGS = ['--short-reporting-delay'];

let inlet;
let api;
let site; // http://127.0.0.1:<port>, the web site whose pages report
let secure = null; // {site, proxy, cert} for the Reporting API, null without openssl
let browser;

before(async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  inlet = await startServer(data);
  api = apiClient(inlet.url, acct.token);
  site = await startSite();

  const cert = await selfSignedCert();
  const args = [...EXTRA_CHROMIUM_ARGS];
  if (cert) {
    secure = { cert, site: await startSite({ tls: cert }), proxy: await startTlsProxy(inlet.url, cert) };
    args.push(`--ignore-certificate-errors-spki-list=${cert.spki}`);
  }
  browser = await launchChromium(args);
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (site) await site.close();
  if (secure) {
    await secure.site.close();
    await secure.proxy.close();
  }
  await cleanup();
});

const js = (code) => ({ html: code, headers: { 'Content-Type': 'text/javascript; charset=utf-8' } });

/** A new page in a fresh context, its console and failed requests collected. */
async function openPage() {
  const context = await browser.newContext({ ignoreHTTPSErrors: false });
  const page = await context.newPage();
  const consoleLines = [];
  const failed = [];
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => failed.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  return { context, page, consoleLines, failed };
}

test('@sentry/browser on another origin: an uncaught TypeError and a captured Error become issues with the browser\'s stack', T, async () => {
  const ep = await createEventsEndpoint(api, 'web-sentry', inlet.url);
  site.pages.set('/js/checkout.js', js(`
function placeOrder() {
  var cart;
  return cart.total;
}
function saveDraft() {
  try {
    throw new Error('draft not saved');
  } catch (e) {
    window.Sentry.captureException(e);
  }
}
`));
  site.pages.set('/shop/checkout', `<!doctype html>
<html><head><meta charset="utf-8"><title>Checkout</title>
<script type="importmap">${JSON.stringify(importMapFor('@sentry/browser'))}</script>
<script type="module">
import * as Sentry from '@sentry/browser';
Sentry.init({ dsn: ${JSON.stringify(ep.dsn)}, release: 'web@1.0.0', environment: 'browser' });
window.Sentry = Sentry;
window.sentryReady = true;
</script>
<script src="/js/checkout.js"></script>
</head><body>
<button id="order" onclick="placeOrder()">Order</button>
<button id="draft" onclick="saveDraft()">Save draft</button>
</body></html>`);

  const { context, page, consoleLines, failed } = await openPage();
  const envelopeAnswers = [];
  page.on('response', (r) => {
    if (r.url().includes(`/api/${ep.project_id}/envelope/`)) envelopeAnswers.push({ status: r.status(), acao: r.headers()['access-control-allow-origin'] });
  });
  try {
    await page.goto(`${site.url}/shop/checkout`);
    await page.waitForFunction(() => window.sentryReady === true, null, { timeout: WAIT_MS });
    await page.click('#order');
    await page.click('#draft');
    const flushed = await page.evaluate((ms) => window.Sentry.flush(ms), 10_000 * SCALE);
    assert.equal(flushed, true, 'Sentry.flush() in the page: every envelope answered');
  } finally {
    await context.close();
  }
  assert.deepEqual(failed, [], 'no request failed (CORS included)');
  assert.ok(envelopeAnswers.length >= 3, `a session and two events went out: ${JSON.stringify(envelopeAnswers)}`);
  for (const a of envelopeAnswers) {
    assert.equal(a.status, 200);
    assert.ok(a.acao === '*' || a.acao === site.url, `the page may read the answer (Access-Control-Allow-Origin: ${a.acao})`);
  }
  assert.ok(!consoleLines.some((l) => /CORS|Access-Control/i.test(l)), `no CORS complaint: ${consoleLines.join('\n')}`);

  const order = await theIssue(api, ep.id, 'reading \'total\'');
  assertShape(order, issueShape({
    title: 'TypeError: Cannot read properties of undefined (reading \'total\')',
    culprit: 'placeOrder (/js/checkout.js)',
    count: 1,
    level: 'error',
    release: 'web@1.0.0',
    environment: 'browser',
  }));
  const [oe] = await issueEvents(api, order.id);
  const ev = await getEvent(api, oe.id);
  assertShape(ev, { id: prefixed('evt_'), kind: 'sentry', issue: order.id });
  assert.equal(ev.data.platform, 'javascript');
  assert.equal(ev.data.request?.url, `${site.url}/shop/checkout`);
  assert.match(String(ev.data.request?.headers?.['User-Agent']), /Chrome/);
  const values = ev.data.exception.values;
  const primary = values[values.length - 1];
  assertShape(primary, { type: 'TypeError', mechanism: { handled: false } });
  const frames = primary.stacktrace.frames;
  assert.ok(frames.some((f) => f.function === 'placeOrder' && f.filename === `${site.url}/js/checkout.js` && Number.isInteger(f.lineno)),
    `Chromium's frame for placeOrder: ${JSON.stringify(frames)}`);

  const draft = await theIssue(api, ep.id, 'draft not saved');
  assertShape(draft, { title: 'Error: draft not saved', culprit: 'saveDraft (/js/checkout.js)', count: 1 });
  const [de] = await issueEvents(api, draft.id);
  const dev = await getEvent(api, de.id);
  assert.equal(dev.data.exception.values.at(-1).mechanism.handled, true);

  // The page's release-health session: one, errored (the SDK says "unhandled").
  const s = await sessionTotals(api, ep.id);
  assert.equal(s.sessions, 1, JSON.stringify(s));
  assert.equal(s.errored, 1, JSON.stringify(s));
});

test('trackx browser build (default.js) on another origin: an uncaught error → issue; its ping → a session', T, async () => {
  const ep = await createEventsEndpoint(api, 'web-trackx', inlet.url);
  site.pages.set('/js/cart.js', js(`
function applyCoupon() {
  throw new RangeError('coupon expired');
}
function logProblem() {
  console.error(new Error('basket total mismatch'));
}
`));
  site.pages.set('/shop/cart', `<!doctype html>
<html><head><meta charset="utf-8"><title>Cart</title>
<script src="/node_modules/trackx/default.js"></script>
<script>trackx.setup(${JSON.stringify(ep.ingest_url)}); trackx.ping();</script>
<script src="/js/cart.js"></script>
</head><body>
<button id="coupon" onclick="applyCoupon()">Apply</button>
<button id="log" onclick="logProblem()">Log</button>
</body></html>`);

  const { context, page, failed } = await openPage();
  try {
    const isEvent = (r) => r.url() === `${ep.ingest_url}/event` && r.request().method() === 'POST';
    const [ping] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${ep.ingest_url}/ping`, { timeout: WAIT_MS }),
      page.goto(`${site.url}/shop/cart`),
    ]);
    assert.equal(ping.status(), 200);
    assert.match(String(ping.headers()['content-type']), /^image\/gif/, 'the Image() ping gets a GIF');
    const [first] = await Promise.all([page.waitForResponse(isEvent, { timeout: WAIT_MS }), page.click('#coupon')]);
    assert.equal(first.status(), 200, 'the preflighted POST was let through and answered 200 (else trackx retries)');
    const [second] = await Promise.all([page.waitForResponse(isEvent, { timeout: WAIT_MS }), page.click('#log')]);
    assert.equal(second.status(), 200);
  } finally {
    await context.close();
  }
  assert.deepEqual(failed.filter((f) => f.includes(ep.key)), [], 'no request to Inlet failed (CORS included)');

  const coupon = await theIssue(api, ep.id, 'coupon expired');
  assertShape(coupon, issueShape({
    title: 'RangeError: coupon expired', culprit: 'applyCoupon (/js/cart.js)', count: 1, uri: `${site.url}/shop/cart`,
  }));
  const [ce] = await issueEvents(api, coupon.id);
  const ev = await getEvent(api, ce.id);
  assertShape(ev, { kind: 'trackx', issue: coupon.id });
  assertShape(ev.data, { name: 'RangeError', message: 'coupon expired', type: 1, uri: `${site.url}/shop/cart`, meta: { _c: 'd', _v: '0.6.1' } });
  assert.match(ev.data.stack, new RegExp(`at applyCoupon \\(${site.url.replace(/[.]/g, '\\.')}/js/cart\\.js:\\d+:\\d+\\)`));

  const logged = await theIssue(api, ep.id, 'basket total mismatch');
  assertShape(logged, { title: 'Error: basket total mismatch', culprit: 'logProblem (/js/cart.js)' });

  const s = await sessionTotals(api, ep.id);
  assert.equal(s.sessions, 1, `the ping is one session: ${JSON.stringify(s)}`);
  const stats = await statsToday(api, ep.id);
  assert.equal(stats.pings, 1);
  assert.equal(stats.events, 2);
});

test('Chromium\'s own CSP report (report-uri, application/csp-report) → a "CSP violation" issue holding the report', T, async () => {
  const ep = await createEventsEndpoint(api, 'csp-legacy', inlet.url);
  site.pages.set('/legacy', {
    html: '<!doctype html><html><head><meta charset="utf-8"></head><body><p>legacy</p><script>document.title = "inline ran";</script></body></html>',
    headers: { 'Content-Security-Policy': `script-src 'self'; report-uri ${ep.ingest_url}/report` },
  });
  const { context, page } = await openPage();
  try {
    await page.goto(`${site.url}/legacy`);
    assert.notEqual(await page.title(), 'inline ran', 'the policy blocked the inline script');
    // The browser sends the report by itself, in the background.
    await waitFor('the CSP issue', async () => (await issuesMatching(api, ep.id, (t) => /csp/i.test(t))).length > 0, WAIT_MS / SCALE);
  } finally {
    await context.close();
  }
  const issues = await issuesMatching(api, ep.id, (t) => /csp/i.test(t));
  assert.equal(issues.length, 1, JSON.stringify(issues));
  assert.match(issues[0].title, /script-src/, `the directive in the title: ${issues[0].title}`);
  const [e] = await issueEvents(api, issues[0].id);
  const ev = await getEvent(api, e.id);
  assertShape(ev, { kind: 'report', issue: issues[0].id });
  const text = JSON.stringify(ev.data);
  assert.ok(text.includes(`${site.url}/legacy`), `the report's document-uri: ${text}`);
  assert.ok(text.includes('script-src-elem'), `the report's directive: ${text}`);
  assert.ok(text.includes('"blocked-uri":"inline"') || text.includes('"blockedURL":"inline"'), `the blocked inline script: ${text}`);
  const stats = await statsToday(api, ep.id);
  assert.equal(stats.reports, 1, JSON.stringify(stats));
});

test('Chromium\'s Reporting API report (Reporting-Endpoints + report-to, application/reports+json, over https) → a "CSP violation" issue', T, async (t) => {
  if (!secure) {
    t.skip('no openssl command: no certificate for the https page and endpoint the Reporting API needs');
    return;
  }
  const ep = await createEventsEndpoint(api, 'csp-reporting-api', inlet.url);
  // The ingest URL as the API gives it, behind the TLS front.
  const endpoint = `${secure.proxy.url}${new URL(ep.ingest_url).pathname}/report`;
  secure.site.pages.set('/gallery', {
    html: `<!doctype html><html><head><meta charset="utf-8"></head><body><p>gallery</p><img src="${inlet.url}/not-allowed.png" alt=""></body></html>`,
    headers: { 'Content-Security-Policy': "img-src 'self'; report-to inlet", 'Reporting-Endpoints': `inlet="${endpoint}"` },
  });
  const { context, page } = await openPage();
  try {
    await page.goto(`${secure.site.url}/gallery`);
    assert.equal(await page.evaluate(() => window.isSecureContext), true);
    // Reports are queued and sent by the browser's network service (after a
    // CORS preflight): wait for the result.
    await waitFor('the Reporting API CSP issue', async () => (await issuesMatching(api, ep.id, (x) => /csp/i.test(x))).length > 0, WAIT_MS / SCALE);
  } finally {
    await context.close();
  }
  const issues = await issuesMatching(api, ep.id, (x) => /csp/i.test(x));
  assert.equal(issues.length, 1, JSON.stringify(issues));
  assert.match(issues[0].title, /img-src/, `the directive in the title: ${issues[0].title}`);
  const [e] = await issueEvents(api, issues[0].id);
  const ev = await getEvent(api, e.id);
  assertShape(ev, { kind: 'report', issue: issues[0].id });
  const text = JSON.stringify(ev.data);
  assert.ok(text.includes(`${secure.site.url}/gallery`), `the report's documentURL: ${text}`);
  assert.ok(text.includes(`${inlet.url}/not-allowed.png`), `the report's blockedURL: ${text}`);
  assert.ok(text.includes('img-src'), `the report's effectiveDirective: ${text}`);
  assert.equal((await statsToday(api, ep.id)).reports, 1);
});

test('inlet stops cleanly on SIGTERM', T, async () => {
  await inlet.stop();
});
