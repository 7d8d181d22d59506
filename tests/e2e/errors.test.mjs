// Public ingest errors, every code, each posted twice: as a script
// (Accept: application/json → Formspree-shaped JSON) and as a browser
// (Accept prefers text/html → a short HTML page with the same status that
// shows the message). Also the rate limit (429 + Retry-After).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeDataDir, startServer, cleanup, newAccount } from '../lib/inlet.mjs';
import {
  apiClient, createEndpoint, postForm, rawRequest, request, urlencoded, multipart, htmlShows,
  BROWSER_ACCEPT, JSON_ACCEPT,
} from '../lib/http.mjs';
import { assertShape, formError } from '../lib/match.mjs';

let server;
let api;
const keys = {};
const T = { timeout: 60_000 };
const NO_LIMIT = { per_minute: 0, burst: 1 };

const ENDPOINTS = {
  open: {},
  inactive: { active: false },
  smallFiles: { files: { enabled: true, max_count: 2, max_size: 1024 } },
  noFiles: { files: { enabled: false, max_count: 10, max_size: 10485760 } },
  required: { required_fields: [{ name: 'email', type: 'email' }, { name: 'age', type: 'number' }, { name: 'name', type: 'text' }] },
  restricted: { allowed_origins: ['https://good.example'] },
};

before(async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  server = await startServer(data);
  api = apiClient(server.url, acct.token);
  for (const [name, settings] of Object.entries(ENDPOINTS)) {
    keys[name] = (await createEndpoint(api, `errors-${name}`, { rate_limit: NO_LIMIT, ...settings })).key;
  }
});
after(cleanup);

const file = (name, size, field = 'upload') => ({ name: field, filename: name, contentType: 'application/octet-stream', data: Buffer.alloc(size, 0x5a) });
const VALID = [['email', 'ann@example.com'], ['age', '42'], ['name', 'Ann']];
const without = (name) => VALID.filter(([k]) => k !== name);
const withValue = (name, v) => VALID.map(([k, old]) => [k, k === name ? v : old]);
// 32 fields of 3 KiB: 96 KiB, over the 64 KiB limit for bodies without files,
// while each field and the field count stay modest.
const BIG = Array.from({ length: 32 }, (_, i) => [`f${i}`, 'x'.repeat(3072)]);

// ep: which endpoint; kind + data: the post; status, code, field: the answer.
const CASES = [
  { title: 'unknown key', ep: null, kind: 'urlencoded', data: [['a', '1']], status: 404, code: 'FORM_NOT_FOUND' },
  { title: 'no fields (urlencoded)', ep: 'open', kind: 'urlencoded', data: [], status: 422, code: 'EMPTY' },
  { title: 'no fields (JSON {})', ep: 'open', kind: 'json', data: {}, status: 422, code: 'EMPTY' },
  { title: 'inactive endpoint', ep: 'inactive', kind: 'urlencoded', data: [['a', '1']], status: 403, code: 'INACTIVE' },
  { title: 'file over files.max_size', ep: 'smallFiles', kind: 'multipart', data: [{ name: 'a', value: '1' }, file('big.bin', 2048)], status: 413, code: 'FILES_TOO_BIG' },
  { title: 'more files than files.max_count', ep: 'smallFiles', kind: 'multipart',
    data: [{ name: 'a', value: '1' }, file('1.bin', 10, 'f1'), file('2.bin', 10, 'f2'), file('3.bin', 10, 'f3')], status: 413, code: 'TOO_MANY_FILES' },
  { title: 'a file when uploads are off', ep: 'noFiles', kind: 'multipart', data: [{ name: 'a', value: '1' }, file('x.txt', 10)], status: 400, code: 'NO_FILE_UPLOADS' },
  { title: 'required email absent', ep: 'required', kind: 'urlencoded', data: without('email'), status: 422, code: 'REQUIRED_FIELD_MISSING', field: 'email' },
  { title: 'required text field absent', ep: 'required', kind: 'urlencoded', data: without('name'), status: 422, code: 'REQUIRED_FIELD_MISSING', field: 'name' },
  { title: 'required field absent (JSON)', ep: 'required', kind: 'json', data: { email: 'ann@example.com', name: 'Ann' }, status: 422, code: 'REQUIRED_FIELD_MISSING', field: 'age' },
  { title: 'required email empty', ep: 'required', kind: 'urlencoded', data: withValue('email', ''), status: 422, code: 'REQUIRED_FIELD_EMPTY', field: 'email' },
  { title: 'required text empty', ep: 'required', kind: 'multipart', data: withValue('name', '').map(([name, value]) => ({ name, value })), status: 422, code: 'REQUIRED_FIELD_EMPTY', field: 'name' },
  { title: 'email not an email', ep: 'required', kind: 'urlencoded', data: withValue('email', 'not-an-email'), status: 422, code: 'TYPE_EMAIL', field: 'email' },
  { title: 'email with no domain', ep: 'required', kind: 'urlencoded', data: withValue('email', 'ann@'), status: 422, code: 'TYPE_EMAIL', field: 'email' },
  { title: 'number not a number', ep: 'required', kind: 'urlencoded', data: withValue('age', 'twelve'), status: 422, code: 'TYPE_NUMERIC', field: 'age' },
  { title: 'number not a number (JSON)', ep: 'required', kind: 'json', data: { email: 'ann@example.com', age: 'many', name: 'Ann' }, status: 422, code: 'TYPE_NUMERIC', field: 'age' },
  { title: 'body over 64 KiB without files', ep: 'open', kind: 'urlencoded', data: BIG, socket: true, status: 413, code: 'BODY_TOO_BIG' },
  { title: 'text/csv', ep: 'open', kind: 'raw', data: 'a,b\n1,2\n', headers: { 'Content-Type': 'text/csv' }, status: 415, code: 'UNSUPPORTED_CONTENT_TYPE' },
  { title: 'application/xml', ep: 'open', kind: 'raw', data: '<a>1</a>', headers: { 'Content-Type': 'application/xml' }, status: 415, code: 'UNSUPPORTED_CONTENT_TYPE' },
  { title: 'Origin not allowed', ep: 'restricted', kind: 'urlencoded', data: [['a', '1']], headers: { Origin: 'https://evil.example' }, status: 403, code: 'ORIGIN_NOT_ALLOWED' },
  { title: 'Referer not allowed', ep: 'restricted', kind: 'urlencoded', data: [['a', '1']], headers: { Referer: 'https://evil.example/form.html' }, status: 403, code: 'ORIGIN_NOT_ALLOWED' },
  { title: 'an allowed origin’s subdomain is another origin', ep: 'restricted', kind: 'urlencoded', data: [['a', '1']], headers: { Origin: 'https://good.example.evil.example' }, status: 403, code: 'ORIGIN_NOT_ALLOWED' },
];

// Posts that must pass on the same endpoints (so that the refusals above
// are about what they vary, not about the endpoint).
const CONTROLS = [
  { title: 'open endpoint', ep: 'open', kind: 'urlencoded', data: [['a', '1']] },
  { title: 'small files: files at the limits', ep: 'smallFiles', kind: 'multipart', data: [{ name: 'a', value: '1' }, file('a.bin', 1024, 'f1'), file('b.bin', 1, 'f2')] },
  { title: 'no uploads: fields only', ep: 'noFiles', kind: 'multipart', data: [{ name: 'a', value: '1' }] },
  { title: 'required: all valid (urlencoded)', ep: 'required', kind: 'urlencoded', data: [...VALID, ['extra', 'ok']] },
  { title: 'required: all valid (JSON, number as a number)', ep: 'required', kind: 'json', data: { email: 'ann@example.com', age: 42, name: 'Ann' } },
  { title: 'required: a decimal number', ep: 'required', kind: 'urlencoded', data: withValue('age', '-3.5') },
  { title: 'restricted: the allowed Origin', ep: 'restricted', kind: 'urlencoded', data: [['a', '1']], headers: { Origin: 'https://good.example' } },
  { title: 'restricted: the allowed Referer', ep: 'restricted', kind: 'urlencoded', data: [['a', '1']], headers: { Referer: 'https://good.example/contact?x=1' } },
  { title: 'a body just under 64 KiB', ep: 'open', kind: 'urlencoded', data: Array.from({ length: 20 }, (_, i) => [`f${i}`, 'y'.repeat(3000)]) },
];

function keyOf(c) {
  return c.ep === null ? 'nosuchformkey0000000000' : keys[c.ep];
}

function send(c, accept) {
  const key = keyOf(c);
  if (c.socket) {
    const body = c.kind === 'multipart' ? multipart(c.data) : { body: Buffer.from(urlencoded(c.data)), contentType: 'application/x-www-form-urlencoded' };
    return rawRequest(`${server.url}/f/${key}`, {
      headers: { Accept: accept === 'json' ? JSON_ACCEPT : BROWSER_ACCEPT, 'Content-Type': body.contentType, ...(c.headers || {}) },
      body: body.body,
    });
  }
  return postForm(server.url, key, c.kind, c.data, { accept, headers: c.headers || {} });
}

const messages = new Map();

test('as JSON: status and Formspree error shape', T, async (t) => {
  for (const c of CASES) {
    await t.test(`${c.title} → ${c.status} ${c.code}`, async () => {
      const r = await send(c, 'json');
      assert.equal(r.status, c.status, `status; body: ${r.text.slice(0, 500)}`);
      assert.match(String(r.headers['content-type']), /^application\/json/);
      assertShape(r.json, formError(c.code, c.field));
      const e = r.json.errors.find((x) => x.code === c.code);
      messages.set(c, [r.json.error, e.message]);
    });
  }
});

test('as a browser: same status, an HTML page with the message', T, async (t) => {
  for (const c of CASES) {
    await t.test(`${c.title} → ${c.status} text/html`, async () => {
      const r = await send(c, 'browser');
      assert.equal(r.status, c.status, `status; body: ${r.text.slice(0, 500)}`);
      assert.match(String(r.headers['content-type']), /^text\/html/);
      assert.match(r.text, /<html|<!doctype html/i);
      assert.equal(r.headers.location, undefined, 'an error is not a redirect');
      const msgs = messages.get(c);
      assert.ok(msgs, 'the JSON variant ran first');
      assert.ok(msgs.some((m) => htmlShows(r.text, m)), `the page shows ${JSON.stringify(msgs)}:\n${r.text.slice(0, 1500)}`);
    });
  }
});

test('controls: the same endpoints accept valid posts', T, async (t) => {
  for (const c of CONTROLS) {
    await t.test(c.title, async () => {
      const r = await send(c, 'json');
      assert.equal(r.status, 200, r.text.slice(0, 500));
      assert.equal(r.json.ok, true);
    });
  }
});

test('GET /f/{key} → 405', T, async () => {
  const j = await request(`${server.url}/f/${keys.open}`, { headers: { Accept: JSON_ACCEPT } });
  assert.equal(j.status, 405);
  assert.equal(typeof j.json?.error, 'string', `Formspree-shaped error: ${j.text}`);
  const b = await request(`${server.url}/f/${keys.open}`, { headers: { Accept: BROWSER_ACCEPT } });
  assert.equal(b.status, 405);
  for (const m of ['PUT', 'DELETE', 'PATCH']) {
    const r = await request(`${server.url}/f/${keys.open}`, { method: m, headers: { Accept: JSON_ACCEPT } });
    assert.equal(r.status, 405, m);
  }
});

test('nothing refused was stored', T, async () => {
  for (const [name, key] of Object.entries(keys)) {
    const ep = (await api.get('/api/v1/endpoints')).json.data.find((e) => e.key === key);
    const list = await api.get(`/api/v1/endpoints/${ep.id}/submissions?limit=200`);
    const want = CONTROLS.filter((c) => c.ep === name).length;
    assert.equal(list.json.data.length, want, `${name}: only the ${want} control post(s) stored`);
  }
});

// --------------------------------------------------------------------------
// Rate limit: per IP, per endpoint, a token bucket.

async function burst(key, n, accept, concurrency = 1) {
  const statuses = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const r = await postForm(server.url, key, 'urlencoded', [['i', String(i)]], { accept });
      statuses[i] = r;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
}

test('rate limit (JSON): burst posts pass, the next gets 429 RATE_LIMITED with Retry-After', T, async () => {
  const ep = await createEndpoint(api, 'rl-json', { rate_limit: { per_minute: 1, burst: 3 } });
  const other = await createEndpoint(api, 'rl-other', { rate_limit: { per_minute: 1, burst: 3 } });
  const rs = await burst(ep.key, 4, 'json');
  assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 429]);
  const last = rs[3];
  assertShape(last.json, formError('RATE_LIMITED'));
  assert.match(String(last.headers['retry-after']), /^\d+$/, 'Retry-After in seconds');
  assert.ok(Number(last.headers['retry-after']) >= 1 && Number(last.headers['retry-after']) <= 120, `Retry-After ${last.headers['retry-after']}`);
  const again = await postForm(server.url, ep.key, 'urlencoded', [['i', 'x']]);
  assert.equal(again.status, 429, 'still limited');
  const elsewhere = await postForm(server.url, other.key, 'urlencoded', [['i', 'y']]);
  assert.equal(elsewhere.status, 200, 'another endpoint has its own bucket');
  const stored = await api.get(`/api/v1/endpoints/${ep.id}/submissions`);
  assert.equal(stored.json.data.length, 3, 'refused posts are not stored');
});

test('rate limit (browser): 429 as an HTML page with Retry-After', T, async () => {
  const ep = await createEndpoint(api, 'rl-browser', { rate_limit: { per_minute: 1, burst: 2 } });
  const rs = await burst(ep.key, 3, 'browser');
  assert.deepEqual(rs.map((r) => r.status), [303, 303, 429]);
  assert.match(String(rs[2].headers['content-type']), /^text\/html/);
  assert.match(String(rs[2].headers['retry-after']), /^\d+$/);
});

test('rate limit: per_minute 0 disables it', T, async () => {
  const ep = await createEndpoint(api, 'rl-off', { rate_limit: { per_minute: 0, burst: 1 } });
  const rs = await burst(ep.key, 80, 'json', 8);
  assert.deepEqual([...new Set(rs.map((r) => r.status))], [200]);
});

test('rate limit: defaults are a burst of 60 refilled at 120/min', T, async () => {
  const ep = await createEndpoint(api, 'rl-default');
  const started = Date.now();
  const rs = await burst(ep.key, 75, 'json', 8);
  const elapsed = (Date.now() - started) / 1000;
  const ok = rs.filter((r) => r.status === 200).length;
  const limited = rs.filter((r) => r.status === 429).length;
  assert.equal(ok + limited, 75, `only 200 and 429: ${[...new Set(rs.map((r) => r.status))]}`);
  assert.ok(ok >= 60, `the burst of 60 passes (got ${ok})`);
  const allowed = 60 + Math.ceil(elapsed * 2) + 1;
  assert.ok(ok <= allowed, `at most burst + refill (${allowed}) pass in ${elapsed.toFixed(2)} s, got ${ok}`);
});

test('stops cleanly on SIGTERM', T, async () => {
  await server.stop();
});
