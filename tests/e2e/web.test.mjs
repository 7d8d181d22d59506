// What the dashboard and the client script stand on: the built files
// served from the binary (caching, compression, CSP), /inlet.js's size,
// view pings for form endpoints, the daily counters behind the analytics,
// the inbox search over sealed rows, and the endpoint list's last
// submission.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync, gzipSync } from 'node:zlib';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { makeDataDir, startServer, cleanup, newAccount, REPO_ROOT, SCALE } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, postForm, request } from '../lib/http.mjs';

const T = { timeout: 60_000 * SCALE };
let inlet;
let api;

before(async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  inlet = await startServer(data);
  api = apiClient(inlet.url, acct.token);
});

after(cleanup);

test('/ serves the dashboard with a CSP that allows no inline script, revalidated by ETag', T, async () => {
  const r = await request(`${inlet.url}/`, { headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/html/);
  const csp = r.headers['content-security-policy'];
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(r.headers['x-frame-options'], 'DENY');
  assert.equal(r.headers['cache-control'], 'no-cache');
  assert.equal(r.headers['content-encoding'], 'gzip');
  const html = gunzipSync(r.body).toString();
  const disk = await readFile(path.join(REPO_ROOT, 'web/dist/index.html'), 'utf8');
  assert.equal(html, disk, 'the embedded file is the committed build');

  const again = await request(`${inlet.url}/`, { headers: { 'If-None-Match': r.headers.etag } });
  assert.equal(again.status, 304);
  assert.equal(again.body.length, 0);

  // Every asset the page names is served, cached for a year.
  const refs = [...html.matchAll(/(?:src|href)="\/?(assets\/[^"]+)"/g)].map((m) => `/${m[1]}`);
  assert.ok(refs.length >= 2, `index.html names its script and style: ${refs}`);
  for (const ref of refs) {
    const a = await request(`${inlet.url}${ref}`, { headers: { 'Accept-Encoding': 'br, gzip;q=0.8' } });
    assert.equal(a.status, 200, ref);
    assert.match(a.headers['cache-control'], /max-age=31536000.*immutable/);
    assert.match(a.headers['content-type'], ref.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
    assert.equal(a.headers['content-encoding'], 'gzip');
    const plain = await request(`${inlet.url}${ref}`, { headers: { 'Accept-Encoding': 'gzip;q=0' } });
    assert.equal(plain.headers['content-encoding'], undefined, 'q=0 refuses gzip');
    assert.ok(gunzipSync(a.body).equals(plain.body));
  }
  for (const bad of ['/assets/nope.js', '/assets/..%2Fweb.c', '/assets/.hidden']) {
    const n = await request(`${inlet.url}${bad}`);
    assert.equal(n.status, 404, bad);
    assert.equal(n.json.error.code, 'not_found');
  }
});

test('/inlet.js: under 3 KB compressed, cached an hour, revalidated by ETag', T, async () => {
  const r = await request(`${inlet.url}/inlet.js`, { headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/javascript/);
  assert.equal(r.headers['cache-control'], 'public, max-age=3600');
  const src = gunzipSync(r.body);
  assert.ok(src.equals(await readFile(path.join(REPO_ROOT, 'web/inlet.js'))));
  assert.ok(r.body.length < 3072, `${r.body.length} bytes gzip as served`);
  assert.ok(gzipSync(src, { level: 9 }).length < 3072);
  const again = await request(`${inlet.url}/inlet.js`, { headers: { 'If-None-Match': r.headers.etag } });
  assert.equal(again.status, 304);
});

test('view pings for a form endpoint count as views; events stay refused for forms', T, async () => {
  const ep = await createEndpoint(api, 'pings');
  for (let i = 0; i < 3; i++) {
    const p = await request(`${inlet.url}/v1/${ep.key}/ping`, { method: 'POST', headers: { Origin: 'https://site.example' } });
    assert.equal(p.status, 200, p.text);
  }
  const img = await request(`${inlet.url}/v1/${ep.key}/ping`, { headers: { Accept: 'image/*' } });
  assert.equal(img.status, 200);
  assert.equal(img.headers['content-type'], 'image/gif');
  const ev = await request(`${inlet.url}/v1/${ep.key}/event`, { method: 'POST', body: '{}' });
  assert.equal(ev.status, 404);
  assert.equal(ev.json.error.code, 'not_an_events_endpoint');
  const unknown = await request(`${inlet.url}/v1/nokey/ping`, { method: 'POST' });
  assert.equal(unknown.status, 404);

  await postForm(inlet.url, ep.key, 'urlencoded', [['name', 'a']]);
  await postForm(inlet.url, ep.key, 'urlencoded', [['name', 'b'], ['_gotcha', 'bot']]);
  const s = await api.get(`/api/v1/endpoints/${ep.id}/stats?days=2`);
  assert.equal(s.status, 200);
  assert.equal(s.json.data.length, 2);
  const today = s.json.data[1];
  assert.equal(today.views, 4, JSON.stringify(today));
  assert.equal(today.submissions, 2);
  assert.equal(today.spam, 1);
  assert.equal(s.json.data[0].views, 0, 'yesterday is zero, present');

  // The account's counters sum every endpoint.
  const other = await createEndpoint(api, 'pings-2');
  await postForm(inlet.url, other.key, 'urlencoded', [['name', 'c']]);
  const acc = await api.get('/api/v1/stats?days=1');
  assert.equal(acc.status, 200);
  assert.ok(acc.json.data[0].submissions >= 3, JSON.stringify(acc.json.data[0]));
  assert.ok(acc.json.data[0].views >= 4);
  assert.ok(acc.json.data[0].api >= 1);

  const got = await api.get(`/api/v1/endpoints/${other.id}`);
  assert.ok(Date.now() - Date.parse(got.json.last_submission_at) < 60_000, got.json.last_submission_at);
  const fresh = await createEndpoint(api, 'never');
  assert.equal(fresh.last_submission_at, null);
});

test('inbox search opens sealed rows: matches, pages, case-insensitive, bounded', T, async () => {
  const ep = await createEndpoint(api, 'search');
  for (let i = 0; i < 30; i++) {
    const r = await postForm(inlet.url, ep.key, 'urlencoded',
      [['name', `Person ${i}`], ['message', i % 3 === 0 ? `About the INVOICE number ${i}` : 'hello']]);
    assert.equal(r.status, 200);
  }
  const base = `/api/v1/endpoints/${ep.id}/submissions`;
  const all = await api.get(`${base}?q=invoice&limit=200`);
  assert.equal(all.status, 200, all.text);
  assert.equal(all.json.data.length, 10);
  assert.equal(all.json.next_cursor, null);
  assert.ok(all.json.data.every((s) => /invoice/i.test(s.fields.message)));

  const seen = [];
  let cursor = null;
  do {
    const r = await api.get(`${base}?q=INVOICE&limit=4${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200);
    seen.push(...r.json.data.map((s) => s.id));
    cursor = r.json.next_cursor;
  } while (cursor);
  assert.deepEqual(seen, all.json.data.map((s) => s.id), 'pages in order, none twice');

  const byName = await api.get(`${base}?q=${encodeURIComponent('person 7')}`);
  assert.deepEqual(byName.json.data.map((s) => s.fields.name), ['Person 7']);
  const none = await api.get(`${base}?q=zzz`);
  assert.deepEqual(none.json.data, []);
  assert.equal(none.json.scanned, 30);
  const long = await api.get(`${base}?q=${'x'.repeat(201)}`);
  assert.equal(long.status, 400);
  assert.equal(long.json.error.code, 'invalid');
  const plain = await api.get(`${base}?limit=7`);
  assert.equal(plain.json.data.length, 7);
  assert.ok(plain.json.next_cursor);
});

test('the account answers its usage: endpoints, stored rows, this month', T, async () => {
  const r = await api.get('/api/v1/account');
  assert.equal(r.status, 200);
  const u = r.json.usage;
  const eps = await api.get('/api/v1/endpoints?limit=200');
  assert.equal(u.endpoints, eps.json.data.length);
  assert.equal(u.forms + u.projects, u.endpoints);
  assert.equal(u.stored, eps.json.data.reduce((n, e) => n + e.submission_count, 0));
  const today = (await api.get('/api/v1/stats?days=1')).json.data[0];
  assert.ok(u.this_month.submissions >= today.submissions, JSON.stringify(u));
  assert.ok(u.this_month.api >= 1);
});

test('an events endpoint answers its event count and last event', T, async () => {
  const ep = await createEndpoint(api, 'project', undefined, 'events');
  assert.equal(ep.event_count, 0);
  assert.equal(ep.last_event_at, null);
  for (const message of ['a is undefined', 'a is undefined', 'b is null']) {
    const r = await request(`${inlet.url}/v1/${ep.key}/event`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: { name: 'TypeError', message, type: 1, uri: 'https://shop.example/', meta: { _c: 'd', _v: '0.6.1' },
        stack: `TypeError: ${message}\n    at f (https://shop.example/app.js:1:1)` },
    });
    assert.equal(r.status, 200, r.text);
  }
  const got = (await api.get(`/api/v1/endpoints/${ep.id}`)).json;
  assert.equal(got.event_count, 3);
  assert.ok(Math.abs(Date.now() - Date.parse(got.last_event_at)) < 60_000, got.last_event_at);
});
