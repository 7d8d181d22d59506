// Error-tracking ingest, every route and every refusal, by hand: TrackX's
// /v1/{key}/event, /ping and /report, Sentry's /api/{project}/envelope/ and
// /store/. Each refusal is checked for its status, its exact error code and
// (where the contract names them) its headers; then the Management API must
// show that nothing was stored for it, and that it was counted under its
// code in the endpoint's daily stats. Each accepted request is read back.
//
// Bodies: JSON as text/plain, gzip, deflate (zlib-wrapped and raw), br,
// chunked transfer without Content-Length; the key in the query, in
// X-Sentry-Auth and in the envelope header's dsn; a full envelope (event,
// attachment, session, client_report, transaction); reports of each media
// type; one CSP violation as Chromium and as Firefox report it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { readdir } from 'node:fs/promises';
import { randomBytes, randomUUID, createHash } from 'node:crypto';
import { gzipSync, deflateSync, deflateRawSync, brotliCompressSync } from 'node:zlib';
import { makeDataDir, startServer, cleanup, newAccount, SCALE } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, request, rawRequest, headerList, REQUEST_TIMEOUT_MS } from '../lib/http.mjs';
import { assertShape, prefixed, isNumber, nonEmptyString } from '../lib/match.mjs';

after(cleanup);
const T = { timeout: 120_000 * SCALE };

let inlet;
let api;

before(async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  inlet = await startServer(data);
  api = apiClient(inlet.url, acct.token);
});

// ---------------------------------------------------------------------------
// Helpers (this file's own: tests/lib/events.mjs belongs to other tests)

const HEX32 = /^[0-9a-f]{32}$/;
const NO_LIMIT = { per_minute: 0, burst: 1 };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A new events endpoint; settings merged over "no rate limit". */
async function eventsEndpoint(name, settings = {}) {
  const ep = await createEndpoint(api, name, { rate_limit: NO_LIMIT, ...settings }, 'events');
  assert.equal(ep.kind, 'events');
  assert.match(ep.key, HEX32);
  assert.match(ep.project_id, /^[0-9]{10}$/);
  return ep;
}

async function patchSettings(ep, settings) {
  const r = await api.patch(`/api/v1/endpoints/${ep.id}`, { settings });
  assert.equal(r.status, 200, `PATCH settings ${JSON.stringify(settings)} → ${r.status} ${r.text}`);
  return r.json;
}

async function apiJson(path) {
  const r = await api.get(path);
  assert.equal(r.status, 200, `GET ${path} → ${r.status} ${r.text}`);
  return r.json;
}

/** Every issue of an endpoint (all pages). */
async function issuesOf(ep, query = {}) {
  const out = [];
  let cursor = null;
  for (let i = 0; i < 50; i++) {
    const q = new URLSearchParams({ limit: '200', ...query });
    if (cursor) q.set('cursor', cursor);
    const j = await apiJson(`/api/v1/endpoints/${ep.id}/issues?${q}`);
    out.push(...j.data);
    cursor = j.next_cursor;
    if (!cursor) return out;
  }
  throw new Error('too many pages');
}

/** Every event of an issue, newest first. */
async function eventsOf(issueId) {
  const out = [];
  let cursor = null;
  for (let i = 0; i < 50; i++) {
    const q = new URLSearchParams({ limit: '200' });
    if (cursor) q.set('cursor', cursor);
    const j = await apiJson(`/api/v1/issues/${issueId}/events?${q}`);
    out.push(...j.data);
    cursor = j.next_cursor;
    if (!cursor) return out;
  }
  throw new Error('too many pages');
}

const getEvent = (id) => apiJson(`/api/v1/events/${id}`);

/** Every stored event of an endpoint, opened: [{issue, event}]. */
async function storedEvents(ep) {
  const out = [];
  for (const is of await issuesOf(ep)) {
    for (const e of await eventsOf(is.id)) out.push({ issue: is, event: await getEvent(e.id) });
  }
  return out;
}

/** Today's (UTC) row of the endpoint's stats. */
async function statsToday(ep) {
  const j = await apiJson(`/api/v1/endpoints/${ep.id}/stats?days=1`);
  assert.equal(j.data.length, 1, `days=1 is one row: ${JSON.stringify(j)}`);
  const row = j.data[0];
  assert.equal(row.day, new Date().toISOString().slice(0, 10));
  return row;
}

/** Sums of the endpoint's session graph around now. */
async function sessionsOf(ep) {
  const from = Date.now() - 3 * 3600_000;
  const to = Date.now() + 3600_000;
  const j = await apiJson(`/api/v1/endpoints/${ep.id}/sessions?from=${from}&to=${to}`);
  const sum = { sessions: 0, errored: 0, crashed: 0 };
  for (const b of j.data) for (const k of Object.keys(sum)) sum[k] += b[k];
  return sum;
}

/** Status, a JSON content type and exactly {"error":{"code", "message"}}. */
function assertError(r, status, code, what = '') {
  const where = `${what}${what ? ': ' : ''}`;
  assert.equal(r.status, status, `${where}status ${r.status}, want ${status}: ${r.text.slice(0, 300)}`);
  assert.match(String(r.headers['content-type']), /^application\/json/, `${where}JSON error, got ${r.headers['content-type']}`);
  assert.ok(r.json && r.json.error, `${where}an "error" object: ${r.text.slice(0, 300)}`);
  assert.equal(r.json.error.code, code, `${where}error code: ${r.text.slice(0, 300)}`);
  assert.ok(typeof r.json.error.message === 'string' && r.json.error.message.length > 0, `${where}a message`);
}

/** A function name of its own for each message: events group by type and stack, not by message. */
const fnFor = (text) => `fn_${createHash('sha256').update(String(text)).digest('hex').slice(0, 10)}`;

/** A valid TrackX event; its stack names a function of its own for its message. */
function tx(over = {}) {
  const message = over.message ?? 'cart is undefined';
  return {
    name: 'TypeError',
    message,
    stack: `TypeError: ${String(message).slice(0, 40)}\n    at ${fnFor(message)} (https://shop.example/js/cart.js:10:5)\n    at HTMLButtonElement.onclick (https://shop.example/:1:1)`,
    type: 1,
    uri: 'https://shop.example/cart',
    meta: { _c: 'd', _v: '0.6.1' },
    ...over,
  };
}

/** POST /v1/{key}/event; a JSON value goes out as text/plain, as trackx's beacon would. */
function postEvent(key, body, headers = {}) {
  const buf = Buffer.isBuffer(body) || typeof body === 'string' ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
  const opts = { method: 'POST', headers: { 'Content-Type': 'text/plain;charset=UTF-8', ...headers }, body: buf };
  const url = `${inlet.url}/v1/${key}/event`;
  return buf.length > 64 * 1024 ? rawRequest(url, opts) : request(url, opts);
}

function postReport(key, body, contentType, headers = {}) {
  const buf = Buffer.isBuffer(body) || typeof body === 'string' ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
  const h = { ...headers };
  if (contentType !== null) h['Content-Type'] = contentType;
  const opts = { method: 'POST', headers: h, body: buf };
  const url = `${inlet.url}/v1/${key}/report`;
  return buf.length > 64 * 1024 ? rawRequest(url, opts) : request(url, opts);
}

/**
 * A Sentry envelope: the header line, then per item its header line (type,
 * length unless `length: false`, any `headers`) and its payload.
 */
function envelope(header, items = []) {
  const parts = [Buffer.from(`${JSON.stringify(header)}\n`)];
  for (const it of items) {
    const payload = Buffer.isBuffer(it.payload) ? it.payload
      : Buffer.from(typeof it.payload === 'string' ? it.payload : JSON.stringify(it.payload));
    const h = { type: it.type, ...(it.headers || {}) };
    if (it.length !== false) h.length = payload.length;
    parts.push(Buffer.from(`${JSON.stringify(h)}\n`), payload, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

const newEventId = () => randomBytes(16).toString('hex');

/** A Sentry error event. */
function sentryEvent(value, over = {}) {
  return {
    event_id: newEventId(),
    timestamp: Date.now() / 1000,
    platform: 'javascript',
    level: 'error',
    release: 'shop@1.0.0',
    environment: 'test',
    exception: {
      values: [{
        type: 'Error',
        value,
        stacktrace: { frames: [{ filename: 'https://shop.example/js/app.js', function: fnFor(value), lineno: 7, colno: 3, in_app: true }] },
      }],
    },
    ...over,
  };
}

/** One event in an envelope whose header carries its id. */
const eventEnvelope = (ev, header = {}) => envelope({ event_id: ev.event_id, sent_at: new Date().toISOString(), ...header }, [{ type: 'event', payload: ev }]);

const auth = (key) => `Sentry sentry_version=7, sentry_client=inlet-tests/1.0, sentry_key=${key}`;

/**
 * POST to /api/{project}/envelope/ (or /store/ with store: true). `key`
 * goes into the query unless null; `project` defaults to the endpoint's.
 */
function postSentry(ep, body, { key = ep.key, project = ep.project_id, store = false, headers = {}, query = '' } = {}) {
  const q = new URLSearchParams(query);
  if (key !== null) q.set('sentry_key', key);
  q.set('sentry_version', '7');
  const url = `${inlet.url}/api/${project}/${store ? 'store' : 'envelope'}/?${q}`;
  const opts = { method: 'POST', headers: { 'Content-Type': store ? 'application/json' : 'application/x-sentry-envelope', ...headers }, body };
  return body.length > 64 * 1024 ? rawRequest(url, opts) : request(url, opts);
}

/** A POST whose body goes in several write() calls with no Content-Length (chunked). */
function postChunked(url, chunks, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers, agent: false }, (res) => {
      const bufs = [];
      res.on('data', (c) => bufs.push(c));
      res.on('end', () => {
        const body = Buffer.concat(bufs);
        const text = body.toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body, text, json, sentChunked: req.getHeader('content-length') === undefined });
      });
      res.on('error', reject);
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`${url}: no answer`)));
    req.on('error', reject);
    (async () => {
      for (const c of chunks) {
        req.write(c);
        await sleep(5);
      }
      req.end();
    })();
  });
}

/** Splits a buffer into n nearly equal parts. */
function pieces(buf, n) {
  const out = [];
  const size = Math.ceil(buf.length / n);
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

// ---------------------------------------------------------------------------
// The endpoint

test('an events endpoint has key, project_id, dsn and ingest_url; a form endpoint has none of them', T, async () => {
  const ep = await createEndpoint(api, 'web', undefined, 'events');
  const u = new URL(inlet.url);
  assertShape(ep, {
    id: prefixed('ep_'), kind: 'events', key: HEX32, project_id: /^[0-9]{10}$/,
    dsn: `http://${ep.key}@127.0.0.1:${u.port}/${ep.project_id}`,
    ingest_url: `http://127.0.0.1:${u.port}/v1/${ep.key}`,
  });
  assert.deepEqual(ep.settings.allowed_origins, []);
  assert.equal(ep.settings.active, true);
  assert.equal(ep.settings.ip, 'hash');
  assert.deepEqual(ep.settings.rate_limit, { per_minute: 120, burst: 60 });
  const again = await apiJson(`/api/v1/endpoints/${ep.id}`);
  assert.equal(again.dsn, ep.dsn, 'GET shows the same dsn');
  assert.equal(again.project_id, ep.project_id);

  const form = await createEndpoint(api, 'contact', undefined, 'form');
  assert.equal(form.kind, 'form');
  for (const k of ['dsn', 'project_id', 'ingest_url']) assert.ok(!(k in form), `a form endpoint has no ${k}: ${JSON.stringify(form)}`);
  const other = await eventsEndpoint('web2');
  assert.notEqual(other.project_id, ep.project_id, 'each endpoint its own project id');
});

// ---------------------------------------------------------------------------
// TrackX /event

test('/event: text/plain JSON → 200 {"id":"evt_…"}; the event reads back as sent, limits included', T, async () => {
  const ep = await eventsEndpoint('tx-ok');
  const sent = tx({ message: 'plain text body' });
  const r = await postEvent(ep.key, sent);
  assert.equal(r.status, 200, r.text);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assertShape(r.json, { id: prefixed('evt_') });
  assert.deepEqual(Object.keys(r.json), ['id']);
  const ev = await getEvent(r.json.id);
  assertShape(ev, { id: r.json.id, kind: 'trackx', title: 'TypeError: plain text body', uri: 'https://shop.example/cart', endpoint_id: ep.id, issue: prefixed('iss_'), received: isNumber });
  assert.deepEqual(ev.data, sent);

  // At every limit, and type 0; lengths count characters, not bytes.
  const edges = [
    ['name 512, message 10,000, type 99', tx({ name: 'N'.repeat(512), message: `edge-a ${'m'.repeat(9993)}`, type: 99 })],
    ['uri 1,000, stack 131,072, type 0', tx({ message: 'edge-b', uri: `https://shop.example/${'u'.repeat(1000 - 21)}`, stack: `S${'s'.repeat(131_071)}`, type: 0 })],
    ['512 two-byte characters', tx({ name: 'é'.repeat(512), message: 'edge-c' })],
    ['only a message', { message: 'edge-d' }],
    ['meta nested', tx({ message: 'edge-e', meta: { a: { b: [1, 2, { c: null }] } } })],
  ];
  for (const [what, body] of edges) {
    assert.equal((body.uri || '').length <= 1000, true);
    const e = await postEvent(ep.key, body);
    assert.equal(e.status, 200, `${what}: ${e.status} ${e.text.slice(0, 200)}`);
    const got = await getEvent(e.json.id);
    assert.deepEqual(got.data, body, `${what}: stored as sent`);
  }
  const stats = await statsToday(ep);
  assert.equal(stats.events, 1 + edges.length);
  assert.deepEqual(stats.denied, {});
});

test('/event: every refusal → its status and code; nothing stored; each counted under its code', T, async () => {
  const ep = await eventsEndpoint('tx-refusals');
  const cases = [
    ['not JSON', '{"message": "r1", "type": 1,', 400, 'invalid_json'],
    ['empty body', '', 400, 'invalid_json'],
    ['a JSON array', '[{"message":"r2"}]', 400, 'invalid_body'],
    ['a JSON string', '"r3"', 400, 'invalid_body'],
    ['an unknown property', tx({ message: 'r4', colour: 'red' }), 400, 'unexpected_property'],
    ['an unknown property with a bad value too', tx({ message: 'r5', type: 'x', extra: 1 }), 400, 'unexpected_property'],
    ['name of 513', tx({ message: 'r6', name: 'N'.repeat(513) }), 422, 'invalid_value'],
    ['513 two-byte characters', tx({ message: 'r6b', name: 'é'.repeat(513) }), 422, 'invalid_value'],
    ['name a number', tx({ message: 'r7', name: 5 }), 422, 'invalid_value'],
    ['name null', tx({ message: 'r8', name: null }), 422, 'invalid_value'],
    ['message of 10,001', tx({ message: `r9 ${'m'.repeat(9998)}` }), 422, 'invalid_value'],
    ['type 100', tx({ message: 'r10', type: 100 }), 422, 'invalid_value'],
    ['type -1', tx({ message: 'r11', type: -1 }), 422, 'invalid_value'],
    ['type 1.5', tx({ message: 'r12', type: 1.5 }), 422, 'invalid_value'],
    ['type a string', tx({ message: 'r13', type: '1' }), 422, 'invalid_value'],
    ['uri of 1,001', tx({ message: 'r14', uri: `https://shop.example/${'u'.repeat(1001 - 21)}` }), 422, 'invalid_value'],
    ['stack of 131,073', tx({ message: 'r15', stack: 's'.repeat(131_073) }), 422, 'invalid_value'],
    ['meta an array', tx({ message: 'r16', meta: [1] }), 422, 'invalid_value'],
    ['meta a string', tx({ message: 'r17', meta: 'm' }), 422, 'invalid_value'],
    ['meta null', tx({ message: 'r18', meta: null }), 422, 'invalid_value'],
    ['a body of 1 MiB + 1', (() => { const base = JSON.stringify(tx({ message: 'r19', meta: { pad: '' } })); return base.replace('"pad":""', `"pad":"${'p'.repeat(1024 * 1024 + 1 - base.length)}"`); })(), 413, 'too_big'],
  ];
  assert.equal(cases.at(-1)[1].length, 1024 * 1024 + 1);
  const want = {};
  for (const [what, body, status, code] of cases) {
    const r = await postEvent(ep.key, body);
    assertError(r, status, code, what);
    want[code] = (want[code] || 0) + 1;
  }
  // Exactly 1 MiB is allowed (the cap is on what is over it).
  const base = JSON.stringify(tx({ message: 'exactly one MiB', meta: { pad: '' } }));
  const mib = base.replace('"pad":""', `"pad":"${'p'.repeat(1024 * 1024 - base.length)}"`);
  assert.equal(mib.length, 1024 * 1024);
  const ok = await postEvent(ep.key, mib);
  assert.equal(ok.status, 200, `a body of exactly 1 MiB: ${ok.status} ${ok.text.slice(0, 200)}`);

  const stored = await storedEvents(ep);
  assert.deepEqual(stored.map((s) => s.event.data.message), ['exactly one MiB'], 'only the accepted event is stored');
  const stats = await statsToday(ep);
  assert.equal(stats.events, 1);
  assert.deepEqual(stats.denied, want, 'every refusal counted under its code');
});

test('/event with the body `null` (valid JSON, not an object) → 400 invalid_body, not stored', T, async () => {
  const ep = await eventsEndpoint('tx-null');
  assertError(await postEvent(ep.key, 'null'), 400, 'invalid_body', 'null');
  assertError(await postEvent(ep.key, ' null '), 400, 'invalid_body', 'null with white space');
  assert.deepEqual(await issuesOf(ep), []);
  assert.deepEqual((await statsToday(ep)).denied, { invalid_body: 2 });
});

test('/event without uri: the Referer is the uri, else the Origin', T, async () => {
  const ep = await eventsEndpoint('tx-uri');
  const noUri = (m) => { const e = tx({ message: m }); delete e.uri; return e; };
  const a = await postEvent(ep.key, noUri('uri from referer'), { Referer: 'https://shop.example/checkout?step=2', Origin: 'https://shop.example' });
  const b = await postEvent(ep.key, noUri('uri from origin'), { Origin: 'https://shop.example' });
  const c = await postEvent(ep.key, tx({ message: 'uri as sent', uri: 'https://shop.example/given' }), { Referer: 'https://shop.example/other' });
  for (const r of [a, b, c]) assert.equal(r.status, 200, r.text);
  assert.equal((await getEvent(a.json.id)).uri, 'https://shop.example/checkout?step=2');
  assert.equal((await getEvent(b.json.id)).uri, 'https://shop.example');
  assert.equal((await getEvent(c.json.id)).uri, 'https://shop.example/given');
  const byTitle = Object.fromEntries((await issuesOf(ep)).map((i) => [i.title, i.uri]));
  assert.deepEqual(byTitle, {
    'TypeError: uri from referer': 'https://shop.example/checkout?step=2',
    'TypeError: uri from origin': 'https://shop.example',
    'TypeError: uri as sent': 'https://shop.example/given',
  });
  // The data stays as sent: no uri was added to it.
  assert.ok(!('uri' in (await getEvent(a.json.id)).data));
});

test('/event with chunked transfer (no Content-Length) is stored whole; over 1 MiB chunked → 413 too_big', T, async () => {
  const ep = await eventsEndpoint('tx-chunked');
  const sent = tx({ message: 'sent in chunks', meta: { pad: `chunky ${'x'.repeat(200_000)}` } });
  const r = await postChunked(`${inlet.url}/v1/${ep.key}/event`, pieces(Buffer.from(JSON.stringify(sent)), 7), { 'Content-Type': 'application/json' });
  assert.ok(r.sentChunked, 'the request had no Content-Length');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual((await getEvent(r.json.id)).data, sent);

  const big = Buffer.from(JSON.stringify(tx({ message: 'too big in chunks', meta: { pad: 'p'.repeat(1100 * 1024) } })));
  const tb = await postChunked(`${inlet.url}/v1/${ep.key}/event`, pieces(big, 9), { 'Content-Type': 'application/json' }).catch((e) => e);
  if (tb instanceof Error) assert.fail(`a chunked body over 1 MiB must get a 413 answer, got ${tb.message}`);
  assertError(tb, 413, 'too_big', 'chunked over 1 MiB');
  assert.deepEqual((await storedEvents(ep)).map((s) => s.event.data.message), ['sent in chunks']);
});

// ---------------------------------------------------------------------------
// The gate, on every /v1 route and both Sentry routes

/** One request per ingest route for `ep`, each with `headers`; a fresh body each time. */
function everyRoute(ep, headers = {}, tag = 'gate') {
  const ev = sentryEvent(`${tag} sentry`);
  const st = sentryEvent(`${tag} store`);
  return [
    ['POST /event', () => postEvent(ep.key, tx({ message: `${tag} trackx` }), headers)],
    ['GET /ping', () => request(`${inlet.url}/v1/${ep.key}/ping`, { headers })],
    ['POST /ping', () => request(`${inlet.url}/v1/${ep.key}/ping`, { method: 'POST', headers })],
    ['POST /report', () => postReport(ep.key, cspLegacy({ blocked: `https://${tag}.example/x.js` }), 'application/csp-report', headers)],
    ['POST envelope', () => postSentry(ep, eventEnvelope(ev), { headers })],
    ['POST store', () => postSentry(ep, Buffer.from(JSON.stringify(st)), { store: true, headers })],
  ];
}

test('unknown key: 404 unknown_key on every /v1 route, 401 unknown_key on Sentry (query, header and dsn)', T, async () => {
  const ghost = { key: randomBytes(16).toString('hex'), project_id: '1234567890' };
  for (const [what, send] of everyRoute(ghost)) {
    const r = await send();
    if (what.startsWith('POST envelope') || what.startsWith('POST store')) assertError(r, 401, 'unknown_key', what);
    else assertError(r, 404, 'unknown_key', what);
  }
  const ev = sentryEvent('ghost via header');
  assertError(await postSentry(ghost, eventEnvelope(ev), { key: null, headers: { 'X-Sentry-Auth': auth(ghost.key) } }), 401, 'unknown_key', 'X-Sentry-Auth');
  const viaDsn = eventEnvelope(ev, { dsn: `http://${ghost.key}@127.0.0.1/${ghost.project_id}` });
  assertError(await postSentry(ghost, viaDsn, { key: null }), 401, 'unknown_key', 'envelope dsn');
});

test('a form endpoint\'s key on /v1 → 404 not_an_events_endpoint (pings aside: page views); nothing reaches the form', T, async () => {
  const form = await createEndpoint(api, 'not-events', undefined, 'form');
  // A ping with a form's key is inlet.js's page view (tests/e2e/web.test.mjs).
  const routes = everyRoute(form).filter(([w]) => !w.startsWith('POST envelope') && !w.startsWith('POST store') && !/ping/i.test(w));
  assert.ok(routes.length >= 2, routes.map(([w]) => w).join(', '));
  for (const [what, send] of routes) assertError(await send(), 404, 'not_an_events_endpoint', what);
  const subs = await apiJson(`/api/v1/endpoints/${form.id}/submissions`);
  assert.deepEqual(subs.data, []);
  // Sentry with a form's key: refused too, as a JSON error.
  const r = await postSentry({ key: form.key, project_id: '1234567890' }, eventEnvelope(sentryEvent('into a form')));
  assert.ok(r.status >= 400 && r.status < 500, `${r.status} ${r.text}`);
  assert.ok(['not_an_events_endpoint', 'unknown_key', 'wrong_project'].includes(r.json?.error?.code), r.text);
});

test('allowed_origins: another Origin (or Referer) → 403 origin_not_allowed on every route; no Origin passes; CORS headers for the allowed one', T, async () => {
  const GOOD = 'https://good.example';
  const ep = await eventsEndpoint('gate-origin', { allowed_origins: [GOOD] });
  let refused = 0;
  for (const [what, send] of everyRoute(ep, { Origin: 'https://evil.example' }, 'evil')) {
    const r = await send();
    assertError(r, 403, 'origin_not_allowed', `${what} from evil`);
    assert.equal(r.headers['access-control-allow-origin'], undefined, `${what}: no ACAO for a refused origin`);
    refused++;
  }
  for (const [what, send] of everyRoute(ep, { Referer: 'https://evil.example/page' }, 'evilref')) {
    assertError(await send(), 403, 'origin_not_allowed', `${what} with an evil Referer and no Origin`);
    refused++;
  }
  assert.deepEqual(await issuesOf(ep), [], 'nothing stored from the refused origin');

  for (const [what, send] of everyRoute(ep, { Origin: GOOD }, 'good')) {
    const r = await send();
    assert.equal(r.status, 200, `${what} from the allowed origin: ${r.status} ${r.text}`);
    assert.equal(r.headers['access-control-allow-origin'], GOOD, `${what}: ACAO echoes the allowed origin`);
  }
  for (const [what, send] of everyRoute(ep, {}, 'server')) {
    const r = await send();
    assert.equal(r.status, 200, `${what} with no Origin (a server SDK): ${r.status} ${r.text}`);
    assert.equal(r.headers['access-control-allow-origin'], undefined, `${what}: no ACAO without an Origin`);
  }
  const titles = (await issuesOf(ep)).map((i) => i.title).sort();
  assert.deepEqual(titles, [
    'CSP violation: script-src-elem blocked https://good.example',
    'CSP violation: script-src-elem blocked https://server.example',
    'Error: good sentry', 'Error: good store', 'Error: server sentry', 'Error: server store',
    'TypeError: good trackx', 'TypeError: server trackx',
  ]);
  const stats = await statsToday(ep);
  assert.deepEqual(stats.denied, { origin_not_allowed: refused });
  assert.equal(stats.pings, 4);
  assert.equal(stats.reports, 2);
  assert.equal(stats.events, 6, 'trackx and sentry events: 2 × 3');
});

test('settings.active false → 403 inactive on every route, nothing stored; active again → 200', T, async () => {
  const ep = await eventsEndpoint('gate-inactive');
  await patchSettings(ep, { active: false });
  for (const [what, send] of everyRoute(ep, { Origin: 'https://shop.example' }, 'off')) assertError(await send(), 403, 'inactive', what);
  assert.deepEqual(await issuesOf(ep), []);
  assert.equal((await sessionsOf(ep)).sessions, 0, 'a refused ping is no session');
  let stats = await statsToday(ep);
  assert.deepEqual(stats.denied, { inactive: 6 });
  assert.equal(stats.pings + stats.events + stats.reports, 0);

  await patchSettings(ep, { active: true });
  for (const [what, send] of everyRoute(ep, {}, 'on')) assert.equal((await send()).status, 200, what);
  assert.equal((await issuesOf(ep)).length, 4);
  stats = await statsToday(ep);
  assert.deepEqual(stats.denied, { inactive: 6 });
});

test('rate limit: past the burst → 429 rate_limited with Retry-After on /v1, plus X-Sentry-Rate-Limits on Sentry; refused ones not stored', T, async () => {
  const v1 = await eventsEndpoint('rl-v1', { rate_limit: { per_minute: 1, burst: 2 } });
  const rs = [];
  for (let i = 0; i < 4; i++) rs.push(await postEvent(v1.key, tx({ message: `limited ${i}` })));
  assert.deepEqual(rs.map((r) => r.status), [200, 200, 429, 429]);
  for (const r of rs.slice(2)) {
    assertError(r, 429, 'rate_limited');
    assert.match(String(r.headers['retry-after']), /^[1-9][0-9]*$/, `Retry-After in whole seconds: ${r.headers['retry-after']}`);
    assert.ok(Number(r.headers['retry-after']) <= 60, `at one per minute, at most 60 s: ${r.headers['retry-after']}`);
  }
  // The bucket is the endpoint's: a ping and a report are refused as well.
  assertError(await request(`${inlet.url}/v1/${v1.key}/ping`), 429, 'rate_limited', 'ping');
  assertError(await postReport(v1.key, cspLegacy({}), 'application/csp-report'), 429, 'rate_limited', 'report');
  assert.deepEqual((await storedEvents(v1)).map((s) => s.event.data.message).sort(), ['limited 0', 'limited 1']);
  let stats = await statsToday(v1);
  assert.equal(stats.events, 2);
  assert.deepEqual(stats.denied, { rate_limited: 4 });

  // Another endpoint has its own bucket.
  const calm = await eventsEndpoint('rl-calm', { rate_limit: { per_minute: 1, burst: 2 } });
  assert.equal((await postEvent(calm.key, tx({ message: 'calm' }))).status, 200);

  const se = await eventsEndpoint('rl-sentry', { rate_limit: { per_minute: 1, burst: 1 } });
  const first = sentryEvent('sentry limited first');
  assert.equal((await postSentry(se, eventEnvelope(first))).status, 200);
  const second = await postSentry(se, eventEnvelope(sentryEvent('sentry limited second')), { headers: { Origin: 'https://shop.example' } });
  assertError(second, 429, 'rate_limited', 'envelope');
  assert.match(String(second.headers['retry-after']), /^[1-9][0-9]*$/);
  assert.match(String(second.headers['x-sentry-rate-limits']), /^[1-9][0-9]*:/, `X-Sentry-Rate-Limits: ${second.headers['x-sentry-rate-limits']}`);
  assert.equal(second.headers['x-sentry-rate-limits'].split(':')[0], second.headers['retry-after'], 'the same wait in both headers');
  assert.equal(second.headers['access-control-allow-origin'], 'https://shop.example', 'a browser SDK can read the 429');
  assert.ok(headerList(second.headers['access-control-expose-headers']).includes('x-sentry-rate-limits'), 'and its X-Sentry-Rate-Limits');
  const third = await postSentry(se, Buffer.from(JSON.stringify(sentryEvent('sentry limited store'))), { store: true, key: null, headers: { 'X-Sentry-Auth': auth(se.key) } });
  assertError(third, 429, 'rate_limited', 'store');
  assert.ok(third.headers['x-sentry-rate-limits'], 'store: X-Sentry-Rate-Limits');
  assert.deepEqual((await issuesOf(se)).map((i) => i.title), ['Error: sentry limited first']);
  stats = await statsToday(se);
  assert.equal(stats.events, 1);
  assert.deepEqual(stats.denied, { rate_limited: 2 });
});

// ---------------------------------------------------------------------------
// Ping

test('ping: a 1×1 GIF for GET with an image Accept; "ok" otherwise; each counted; no-store', T, async () => {
  const ep = await eventsEndpoint('pings');
  const img = await request(`${inlet.url}/v1/${ep.key}/ping`, {
    headers: { Accept: 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8', Origin: 'https://shop.example', 'User-Agent': 'UA-img' },
  });
  assert.equal(img.status, 200, img.text);
  assert.match(String(img.headers['content-type']), /^image\/gif/);
  assert.equal(img.body.subarray(0, 6).toString('latin1'), 'GIF89a');
  assert.equal(img.body.readUInt16LE(6), 1, 'width 1');
  assert.equal(img.body.readUInt16LE(8), 1, 'height 1');
  assert.equal(img.body.at(-1), 0x3b, 'a complete GIF (trailer)');
  assert.match(String(img.headers['cache-control']), /no-store/);
  assert.equal(img.headers['access-control-allow-origin'], 'https://shop.example');

  const plain = await request(`${inlet.url}/v1/${ep.key}/ping`, { headers: { 'User-Agent': 'UA-plain' } });
  assert.equal(plain.status, 200);
  assert.match(String(plain.headers['content-type']), /^text\/plain/);
  assert.equal(plain.text, 'ok');
  const html = await request(`${inlet.url}/v1/${ep.key}/ping`, { headers: { Accept: 'text/html', 'User-Agent': 'UA-html' } });
  assert.equal(html.text, 'ok');
  const post = await request(`${inlet.url}/v1/${ep.key}/ping`, { method: 'POST', headers: { Accept: 'image/*', 'User-Agent': 'UA-post' } });
  assert.equal(post.status, 200);
  assert.match(String(post.headers['content-type']), /^text\/plain/, 'a POST gets "ok" whatever it accepts');
  assert.equal(post.text, 'ok');

  const stats = await statsToday(ep);
  assert.equal(stats.pings, 4);
  assert.equal(stats.events, 0);
  assert.equal((await sessionsOf(ep)).sessions, 4, 'four visitors, four sessions');
  assert.deepEqual(await issuesOf(ep), [], 'a ping makes no issue');
});

// ---------------------------------------------------------------------------
// Reports

function cspLegacy({ blocked = 'https://evil.example/x.js', directive = 'script-src-elem', column = 33, line = 12, policy, doc = 'https://shop.example/page' } = {}) {
  return {
    'csp-report': {
      'document-uri': doc,
      referrer: '',
      'violated-directive': directive,
      'original-policy': policy || "default-src 'none'; script-src 'self'; img-src 'self'; report-uri https://inlet.example/v1/k/report",
      disposition: 'enforce',
      'blocked-uri': blocked,
      'line-number': line,
      'column-number': column,
      'source-file': 'https://shop.example/js/app.js',
      'status-code': 200,
      'script-sample': '',
    },
  };
}

function cspModern({ blocked = 'https://evil.example/x.js', directive = 'script-src-elem', column = 10, line = 12, doc = 'https://shop.example/page' } = {}) {
  return {
    type: 'csp-violation',
    age: 10,
    url: doc,
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
    body: {
      documentURL: doc,
      blockedURL: blocked,
      effectiveDirective: directive,
      originalPolicy: "script-src 'self'; report-to csp",
      sourceFile: 'https://shop.example/js/app.js',
      lineNumber: line,
      columnNumber: column,
      disposition: 'enforce',
      statusCode: 200,
      sample: '',
      referrer: '',
    },
  };
}

test('reports: each media type accepted, bad array entries skipped; kind "report"; counted in stats', T, async () => {
  const ep = await eventsEndpoint('reports');
  const a = await postReport(ep.key, [
    cspModern({ blocked: 'https://one.example/a.js' }),
    42,
    { url: 'https://shop.example/', body: {} }, // no type
    { type: 'has space', url: 'https://shop.example/', body: {} },
    { type: 'deprecation', url: 'https://shop.example/', age: -5, body: { id: 'x', message: 'bad age' } },
    { type: 'deprecation', url: 'https://shop.example/', age: 1, body: { id: 'NavigatorVibrate', message: 'vibrate is deprecated', sourceFile: 'https://shop.example/js/app.js', lineNumber: 3, columnNumber: 1 } },
  ], 'application/reports+json');
  assert.equal(a.status, 200, a.text);
  assert.deepEqual(a.json, { accepted: 2, skipped: 4 });

  const b = await postReport(ep.key, cspLegacy({ blocked: 'https://two.example/b.js' }), 'application/csp-report');
  assert.deepEqual([b.status, b.json], [200, { accepted: 1, skipped: 0 }]);
  const c = await postReport(ep.key, { type: 'intervention', url: 'https://shop.example/', body: { id: 'HeavyAd', message: 'ad removed' } }, 'application/json; charset=utf-8');
  assert.deepEqual([c.status, c.json], [200, { accepted: 1, skipped: 0 }]);
  const d = await postReport(ep.key, JSON.stringify([cspModern({ blocked: 'https://three.example/c.js' }), 'junk']), 'text/plain');
  assert.deepEqual([d.status, d.json], [200, { accepted: 1, skipped: 1 }]);
  const e = await postReport(ep.key, cspLegacy({ blocked: 'https://four.example/d.js' }), 'text/plain;charset=UTF-8');
  assert.deepEqual([e.status, e.json], [200, { accepted: 1, skipped: 0 }]);
  const empty = await postReport(ep.key, [], 'application/reports+json');
  assert.deepEqual([empty.status, empty.json], [200, { accepted: 0, skipped: 0 }]);

  const issues = await issuesOf(ep);
  assert.deepEqual(issues.map((i) => i.title).sort(), [
    'CSP violation: script-src-elem blocked https://four.example',
    'CSP violation: script-src-elem blocked https://one.example',
    'CSP violation: script-src-elem blocked https://three.example',
    'CSP violation: script-src-elem blocked https://two.example',
    'Deprecation: vibrate is deprecated',
    'Intervention: ad removed',
  ]);
  for (const i of issues) {
    assert.equal(i.kind, 'report', `${i.title}: kind`);
    assert.equal(i.count, 1);
  }
  const two = issues.find((i) => i.title.includes('two.example'));
  assert.equal(two.uri, 'https://shop.example/page', 'the document is the uri');
  const [ev] = await eventsOf(two.id);
  const full = await getEvent(ev.id);
  assert.equal(full.kind, 'report');
  assert.equal(full.data['csp-report']?.['blocked-uri'] ?? full.data.body?.blockedURL ?? full.data['blocked-uri'], 'https://two.example/b.js', `the report as sent: ${JSON.stringify(full.data)}`);
  const stats = await statsToday(ep);
  assert.equal(stats.reports, 6);
  assert.equal(stats.events, 0);
  assert.deepEqual(stats.denied, {});
});

test('reports: 415 unsupported_media_type, 400 invalid_json / invalid_body, 413 too_big; nothing stored; counted', T, async () => {
  const ep = await eventsEndpoint('reports-bad');
  const good = JSON.stringify(cspLegacy({ blocked: 'https://nope.example/x.js' }));
  const cases = [
    ['application/xml', good, 'application/xml', 415, 'unsupported_media_type'],
    ['multipart/form-data', good, 'multipart/form-data; boundary=x', 415, 'unsupported_media_type'],
    ['no Content-Type', good, null, 415, 'unsupported_media_type'],
    ['broken JSON', '{"csp-report": {', 'application/csp-report', 400, 'invalid_json'],
    ['broken JSON as text/plain', '[{', 'text/plain', 400, 'invalid_json'],
    ['reports+json that is an object', good, 'application/reports+json', 400, 'invalid_body'],
    ['csp-report that is an array', JSON.stringify([cspLegacy()]), 'application/csp-report', 400, 'invalid_body'],
    ['csp-report whose report is a string', JSON.stringify({ 'csp-report': 'x' }), 'application/csp-report', 400, 'invalid_body'],
    ['csp-report without "csp-report"', JSON.stringify({ report: {} }), 'application/csp-report', 400, 'invalid_body'],
    ['a JSON number', '42', 'application/json', 400, 'invalid_body'],
    ['a single report that is no report', JSON.stringify({ hello: 'world' }), 'application/json', 400, 'invalid_body'],
    ['over 100 KiB', JSON.stringify(cspLegacy({ blocked: `https://big.example/${'p'.repeat(100 * 1024)}` })), 'application/csp-report', 413, 'too_big'],
  ];
  const want = {};
  for (const [what, body, ctype, status, code] of cases) {
    assertError(await postReport(ep.key, body, ctype), status, code, what);
    want[code] = (want[code] || 0) + 1;
  }
  // Just under the cap is fine.
  const pad = JSON.stringify(cspLegacy({ blocked: 'https://fits.example/x.js', doc: 'https://shop.example/?' }));
  const fits = JSON.stringify(cspLegacy({ blocked: 'https://fits.example/x.js', doc: `https://shop.example/?${'q'.repeat(100 * 1024 - pad.length)}` }));
  assert.equal(fits.length, 100 * 1024);
  const ok = await postReport(ep.key, fits, 'application/csp-report');
  assert.deepEqual([ok.status, ok.json], [200, { accepted: 1, skipped: 0 }], ok.text);
  assert.deepEqual((await issuesOf(ep)).map((i) => i.title), ['CSP violation: script-src-elem blocked https://fits.example']);
  const stats = await statsToday(ep);
  assert.equal(stats.reports, 1);
  assert.deepEqual(stats.denied, want);
});

test('one CSP violation from Chromium (reports+json) and Firefox (legacy csp-report, other column and policy) → one issue, count 2', T, async () => {
  const ep = await eventsEndpoint('csp-group');
  const chromium = await postReport(ep.key, [cspModern({ column: 10 })], 'application/reports+json', {
    'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
  });
  assert.deepEqual([chromium.status, chromium.json], [200, { accepted: 1, skipped: 0 }], chromium.text);
  const firefox = await postReport(ep.key, cspLegacy({ column: 41, policy: "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; report-uri https://inlet.example/v1/k/report" }), 'application/csp-report', {
    'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0',
  });
  assert.deepEqual([firefox.status, firefox.json], [200, { accepted: 1, skipped: 0 }], firefox.text);
  // The same page and file, but another thing blocked: another issue.
  const other = await postReport(ep.key, cspLegacy({ blocked: 'https://ads.example/t.js' }), 'application/csp-report');
  assert.equal(other.status, 200);
  // Another directive for the same blocked URL: another issue too.
  const img = await postReport(ep.key, [cspModern({ directive: 'img-src' })], 'application/reports+json');
  assert.equal(img.status, 200);

  const issues = await issuesOf(ep);
  const byTitle = Object.fromEntries(issues.map((i) => [i.title, i]));
  assert.deepEqual(Object.keys(byTitle).sort(), [
    'CSP violation: img-src blocked https://evil.example',
    'CSP violation: script-src-elem blocked https://ads.example',
    'CSP violation: script-src-elem blocked https://evil.example',
  ]);
  const one = byTitle['CSP violation: script-src-elem blocked https://evil.example'];
  assert.equal(one.count, 2, 'both browsers\' reports in one issue');
  assert.equal(one.kind, 'report');
  const evs = await eventsOf(one.id);
  assert.equal(evs.length, 2);
  const data = await Promise.all(evs.map((e) => getEvent(e.id)));
  assert.ok(data.some((d) => d.meta.user_agent.includes('Firefox')) && data.some((d) => d.meta.user_agent.includes('Chrome')), 'one event from each browser');
  assert.equal(byTitle['CSP violation: script-src-elem blocked https://ads.example'].count, 1);
  assert.equal(byTitle['CSP violation: img-src blocked https://evil.example'].count, 1);
});

// ---------------------------------------------------------------------------
// Sentry

test('Sentry key via the query, X-Sentry-Auth, or the envelope dsn → 200 {"id": event_id}, stored', T, async () => {
  const ep = await eventsEndpoint('sentry-keys');
  const q = sentryEvent('key in the query');
  const r1 = await postSentry(ep, eventEnvelope(q));
  assert.equal(r1.status, 200, r1.text);
  assert.deepEqual(r1.json, { id: q.event_id });

  const h = sentryEvent('key in the header');
  const r2 = await postSentry(ep, eventEnvelope(h), { key: null, headers: { 'X-Sentry-Auth': auth(ep.key) } });
  assert.equal(r2.status, 200, r2.text);
  assert.deepEqual(r2.json, { id: h.event_id });

  const d = sentryEvent('key in the dsn');
  const r3 = await postSentry(ep, eventEnvelope(d, { dsn: ep.dsn }), { key: null });
  assert.equal(r3.status, 200, r3.text);
  assert.deepEqual(r3.json, { id: d.event_id });

  const s = sentryEvent('store with the header');
  const r4 = await postSentry(ep, Buffer.from(JSON.stringify(s)), { store: true, key: null, headers: { 'X-Sentry-Auth': auth(ep.key) } });
  assert.equal(r4.status, 200, r4.text);
  assert.deepEqual(r4.json, { id: s.event_id });
  const s2 = sentryEvent('store with the query');
  const r5 = await postSentry(ep, Buffer.from(JSON.stringify(s2)), { store: true });
  assert.deepEqual([r5.status, r5.json], [200, { id: s2.event_id }]);

  // The id answered: the event's, else the envelope header's, else a new one.
  const noId = sentryEvent('no event_id in the event');
  const headerId = noId.event_id;
  delete noId.event_id;
  const r6 = await postSentry(ep, envelope({ event_id: headerId }, [{ type: 'event', payload: noId }]));
  assert.deepEqual([r6.status, r6.json], [200, { id: headerId }]);
  const none = sentryEvent('no id anywhere');
  delete none.event_id;
  const r7 = await postSentry(ep, envelope({}, [{ type: 'event', payload: none }]));
  assert.equal(r7.status, 200, r7.text);
  assert.match(r7.json.id, HEX32);

  const stored = await storedEvents(ep);
  const byTitle = Object.fromEntries(stored.map((x) => [x.event.title, x.event]));
  for (const [ev, title] of [[q, 'Error: key in the query'], [h, 'Error: key in the header'], [d, 'Error: key in the dsn'], [s, 'Error: store with the header'], [s2, 'Error: store with the query']]) {
    assert.ok(byTitle[title], `${title} stored: ${Object.keys(byTitle)}`);
    assert.equal(byTitle[title].event_id, ev.event_id);
    assert.equal(byTitle[title].kind, 'sentry');
    assert.deepEqual(byTitle[title].data.exception, ev.exception, 'the event as sent');
    assert.equal(byTitle[title].release, 'shop@1.0.0');
    assert.equal(byTitle[title].environment, 'test');
  }
  assert.equal(byTitle['Error: no event_id in the event'].event_id, headerId);
  assert.equal(byTitle['Error: no id anywhere'].event_id, r7.json.id);
  assert.equal(stored.length, 7);
  assert.equal((await statsToday(ep)).events, 7);
});

test('Sentry refusals: missing_key, unknown_key, wrong_project, unsupported_encoding, bad_encoding, invalid_envelope, invalid_event, too_big', T, async () => {
  const ep = await eventsEndpoint('sentry-refusals');
  const ev = () => sentryEvent(`refused ${randomBytes(3).toString('hex')}`);
  const env = () => eventEnvelope(ev());
  const zeros = (n) => Buffer.alloc(n, 0x20);
  const bombEnvelope = () => {
    // 101 MiB once decoded: a valid header line, then an attachment-sized pile of spaces.
    const head = Buffer.from(`${JSON.stringify({ event_id: newEventId() })}\n`);
    return gzipSync(Buffer.concat([head, zeros(101 * 1024 * 1024)]), { level: 9 });
  };
  const bigEvent = sentryEvent('too big an event', { extra: { pad: 'p'.repeat(1024 * 1024) } });
  const cases = [
    ['no key anywhere', () => postSentry(ep, env(), { key: null }), 401, 'missing_key'],
    ['no key, /store/', () => postSentry(ep, Buffer.from(JSON.stringify(ev())), { key: null, store: true }), 401, 'missing_key'],
    ['unknown key in the query', () => postSentry(ep, env(), { key: randomBytes(16).toString('hex') }), 401, 'unknown_key'],
    ['unknown key in X-Sentry-Auth', () => postSentry(ep, env(), { key: null, headers: { 'X-Sentry-Auth': auth(randomBytes(16).toString('hex')) } }), 401, 'unknown_key'],
    ['another project id', () => postSentry(ep, env(), { project: String((Number(ep.project_id) % 9_000_000_000) + 1_000_000_001) }), 403, 'wrong_project'],
    ['another project id, /store/', () => postSentry(ep, Buffer.from(JSON.stringify(ev())), { store: true, project: '1' }), 403, 'wrong_project'],
    ['Content-Encoding zstd', () => postSentry(ep, env(), { headers: { 'Content-Encoding': 'zstd' } }), 415, 'unsupported_encoding'],
    ['Content-Encoding compress', () => postSentry(ep, env(), { headers: { 'Content-Encoding': 'compress' } }), 415, 'unsupported_encoding'],
    ['gzip that is not', () => postSentry(ep, env(), { headers: { 'Content-Encoding': 'gzip' } }), 400, 'bad_encoding'],
    ['gzip cut short', () => { const g = gzipSync(env()); return postSentry(ep, g.subarray(0, g.length - 12), { headers: { 'Content-Encoding': 'gzip' } }); }, 400, 'bad_encoding'],
    ['deflate that is not', () => postSentry(ep, randomBytes(200), { headers: { 'Content-Encoding': 'deflate' } }), 400, 'bad_encoding'],
    ['br that is not', () => postSentry(ep, Buffer.from('not brotli at all, really not'), { headers: { 'Content-Encoding': 'br' } }), 400, 'bad_encoding'],
    ['gzip, then trailing garbage', () => postSentry(ep, Buffer.concat([gzipSync(env()), Buffer.from('garbage')]), { headers: { 'Content-Encoding': 'gzip' } }), 400, 'bad_encoding'],
    ['over 100 MiB once decoded', () => postSentry(ep, bombEnvelope(), { headers: { 'Content-Encoding': 'gzip' } }), 413, 'too_big'],
    ['/store/ over 1 MiB once decoded', () => postSentry(ep, gzipSync(Buffer.from(JSON.stringify(bigEvent))), { store: true, headers: { 'Content-Encoding': 'gzip' } }), 413, 'too_big'],
    ['/store/ over 1 MiB', () => postSentry(ep, Buffer.from(JSON.stringify(bigEvent)), { store: true }), 413, 'too_big'],
    ['an event item over 1 MiB', () => postSentry(ep, eventEnvelope(bigEvent)), 413, 'too_big'],
    ['over 20 MiB as sent', () => postSentry(ep, Buffer.concat([env(), Buffer.from('{"type":"attachment"}\n'), zeros(21 * 1024 * 1024)])), 413, 'too_big'],
    ['envelope header not JSON', () => postSentry(ep, Buffer.from('this is no envelope\n{"type":"event"}\n{}\n')), 400, 'invalid_envelope'],
    ['envelope header an array', () => postSentry(ep, Buffer.from('[1]\n{"type":"event","length":2}\n{}\n')), 400, 'invalid_envelope'],
    ['item header not JSON', () => postSentry(ep, Buffer.from(`{"event_id":"${newEventId()}"}\n{type: event}\n{}\n`)), 400, 'invalid_envelope'],
    ['item length past the end', () => postSentry(ep, Buffer.from(`{"event_id":"${newEventId()}"}\n{"type":"event","length":500}\n{}\n`)), 400, 'invalid_envelope'],
    ['item without a type', () => postSentry(ep, Buffer.from(`{}\n{"length":2}\n{}\n`)), 400, 'invalid_envelope'],
    ['event not JSON', () => postSentry(ep, envelope({ event_id: newEventId() }, [{ type: 'event', payload: '{"exception": ' }])), 400, 'invalid_event'],
    ['event an array', () => postSentry(ep, envelope({ event_id: newEventId() }, [{ type: 'event', payload: [1, 2] }])), 400, 'invalid_event'],
    ['/store/ body not JSON', () => postSentry(ep, Buffer.from('nope'), { store: true }), 400, 'invalid_event'],
    ['/store/ body a string', () => postSentry(ep, Buffer.from('"event"'), { store: true }), 400, 'invalid_event'],
  ];
  const want = {};
  for (const [what, send, status, code] of cases) {
    const r = await send();
    assertError(r, status, code, what);
    // Refusals before a key is known (no key, unknown key) cannot be counted for this endpoint.
    if (!['missing_key', 'unknown_key'].includes(code)) want[code] = (want[code] || 0) + 1;
  }
  assert.deepEqual(await issuesOf(ep), [], 'nothing stored');
  const stats = await statsToday(ep);
  assert.equal(stats.events, 0);
  assert.deepEqual(stats.denied, want, 'each refusal counted under its code');
  // Still takes a good one.
  const fine = sentryEvent('after the refusals');
  assert.deepEqual((await postSentry(ep, eventEnvelope(fine))).json, { id: fine.event_id });
});

test('Sentry: a malformed X-Sentry-Auth header → 401 bad_auth (not missing_key); nothing stored', T, async () => {
  const ep = await eventsEndpoint('sentry-bad-auth');
  const headers = [
    ['another scheme', `Bearer ${ep.key}`],
    ['no sentry_key', 'Sentry sentry_version=7, sentry_client=x/1'],
    ['a key with a bad character', `Sentry sentry_key=${ep.key}!, sentry_version=7`],
    ['two different keys', `Sentry sentry_key=${ep.key}, sentry_key=${randomBytes(16).toString('hex')}`],
  ];
  for (const [what, value] of headers) {
    assertError(await postSentry(ep, eventEnvelope(sentryEvent(`bad auth ${what}`)), { key: null, headers: { 'X-Sentry-Auth': value } }), 401, 'bad_auth', `envelope, ${what}`);
  }
  assertError(await postSentry(ep, Buffer.from(JSON.stringify(sentryEvent('bad auth store'))), { store: true, key: null, headers: { 'X-Sentry-Auth': `Bearer ${ep.key}` } }), 401, 'bad_auth', 'store');
  assert.deepEqual(await issuesOf(ep), []);
  // Refused before the key is known: nothing to count it against but the endpoint
  // whose key it was not; the answer's code is what matters here.
});

test('Sentry bodies: gzip, deflate (zlib and raw), br, identity, and chunked transfer — each stored whole', T, async () => {
  const ep = await eventsEndpoint('sentry-encodings');
  const big = randomBytes(30_000).toString('base64');
  const variants = [
    ['gzip', (b) => gzipSync(b), 'gzip'],
    ['x-gzip', (b) => gzipSync(b), 'x-gzip'],
    ['deflate, zlib-wrapped', (b) => deflateSync(b), 'deflate'],
    ['deflate, raw', (b) => deflateRawSync(b), 'deflate'],
    ['br', (b) => brotliCompressSync(b), 'br'],
    ['identity', (b) => b, 'identity'],
    ['GZIP in capitals', (b) => gzipSync(b), 'GZIP'],
  ];
  const sent = [];
  for (const [what, enc, header] of variants) {
    const ev = sentryEvent(`encoded ${what}`, { extra: { big, what } });
    const r = await postSentry(ep, enc(eventEnvelope(ev)), { headers: { 'Content-Encoding': header } });
    assert.equal(r.status, 200, `${what}: ${r.status} ${r.text}`);
    assert.deepEqual(r.json, { id: ev.event_id }, what);
    sent.push(ev);
  }
  const st = sentryEvent('encoded store, br', { extra: { big } });
  const rs = await postSentry(ep, brotliCompressSync(Buffer.from(JSON.stringify(st))), { store: true, headers: { 'Content-Encoding': 'br' } });
  assert.deepEqual([rs.status, rs.json], [200, { id: st.event_id }], rs.text);
  sent.push(st);

  // Chunked: the plain envelope and a gzipped one, in several writes, no Content-Length.
  const c1 = sentryEvent('chunked plain', { extra: { big } });
  const u = `${inlet.url}/api/${ep.project_id}/envelope/?sentry_key=${ep.key}&sentry_version=7`;
  const r1 = await postChunked(u, pieces(eventEnvelope(c1), 5), { 'Content-Type': 'application/x-sentry-envelope' });
  assert.ok(r1.sentChunked);
  assert.deepEqual([r1.status, r1.json], [200, { id: c1.event_id }], r1.text);
  const c2 = sentryEvent('chunked gzip', { extra: { big } });
  const r2 = await postChunked(u, pieces(gzipSync(eventEnvelope(c2)), 4), { 'Content-Encoding': 'gzip', 'X-Sentry-Auth': auth(ep.key) });
  assert.deepEqual([r2.status, r2.json], [200, { id: c2.event_id }], r2.text);
  sent.push(c1, c2);

  const stored = Object.fromEntries((await storedEvents(ep)).map((x) => [x.event.event_id, x.event]));
  for (const ev of sent) {
    const got = stored[ev.event_id];
    assert.ok(got, `${ev.exception.values[0].value}: stored`);
    assert.deepEqual(got.data.extra, ev.extra, `${ev.exception.values[0].value}: the body whole`);
  }
  assert.equal(Object.keys(stored).length, sent.length);
});

test('a full envelope: event + attachment + session + client_report + transaction → one event, its attachment listed, one session', T, async () => {
  const ep = await eventsEndpoint('sentry-full');
  const ev = sentryEvent('with everything');
  const attachment = Buffer.concat([Buffer.from('log line 1\n'), randomBytes(3000), Buffer.from('\nend')]);
  const now = new Date().toISOString();
  const body = envelope({ event_id: ev.event_id, sent_at: now, sdk: { name: 'sentry.javascript.browser', version: '9.0.0' } }, [
    { type: 'event', payload: ev },
    { type: 'attachment', payload: attachment, headers: { filename: 'app.log', content_type: 'text/plain', attachment_type: 'event.attachment' } },
    { type: 'session', payload: { sid: randomUUID(), init: true, started: now, timestamp: now, status: 'ok', errors: 1, attrs: { release: 'shop@1.0.0', environment: 'test' } } },
    { type: 'client_report', payload: { timestamp: Date.now() / 1000, discarded_events: [{ reason: 'queue_overflow', category: 'error', quantity: 3 }] } },
    { type: 'transaction', payload: { event_id: newEventId(), type: 'transaction', transaction: 'GET /checkout', start_timestamp: Date.now() / 1000 - 1, timestamp: Date.now() / 1000, contexts: { trace: { trace_id: newEventId(), span_id: randomBytes(8).toString('hex'), op: 'http.server' } }, spans: [] } },
    { type: 'profile_chunk', payload: { x: 1 } },
  ]);
  const r = await postSentry(ep, body);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { id: ev.event_id });

  const issues = await issuesOf(ep);
  assert.deepEqual(issues.map((i) => i.title), ['Error: with everything'], 'only the event makes an issue');
  assert.equal(issues[0].count, 1);
  const [e] = await eventsOf(issues[0].id);
  const full = await getEvent(e.id);
  assert.equal(full.event_id, ev.event_id);
  assert.ok(Array.isArray(full.attachments), `attachments listed: ${JSON.stringify(full).slice(0, 500)}`);
  assert.equal(full.attachments.length, 1);
  assertShape(full.attachments[0], { name: 'app.log', size: attachment.length, content_type: 'text/plain' });
  // The attachment comes back byte for byte, decrypted as it streams.
  const dl = await api.get(`/api/v1/events/${e.id}/attachments/${full.attachments[0].index}`);
  assert.equal(dl.status, 200);
  assert.ok(dl.body.equals(attachment), 'the attachment, byte for byte');
  assert.match(String(dl.headers['content-disposition']), /app\.log/);
  assert.equal((await api.get(`/api/v1/events/${e.id}/attachments/7`)).status, 404);
  assert.equal((await api.get(`/api/v1/events/${e.id}/attachments/x`)).status, 404);
  const stats = await statsToday(ep);
  assert.equal(stats.events, 1, 'the transaction is no event');
  const s = await sessionsOf(ep);
  assert.deepEqual([s.sessions, s.errored], [1, 1], 'the session, errored');

  // A transaction alone: 200, nothing stored.
  const tr = envelope({ event_id: newEventId() }, [{ type: 'transaction', payload: { type: 'transaction', transaction: 'GET /', start_timestamp: 1, timestamp: 2 } }]);
  const rt = await postSentry(ep, tr);
  assert.equal(rt.status, 200, rt.text);
  // An attachment with no event: nothing to attach it to, not stored either.
  const lone = envelope({ event_id: newEventId() }, [{ type: 'attachment', payload: 'orphan', headers: { filename: 'orphan.txt' } }]);
  assert.equal((await postSentry(ep, lone)).status, 200);
  // An envelope with only a session: counted in sessions, no event.
  const sess = envelope({}, [{ type: 'session', payload: { sid: randomUUID(), init: true, started: now, status: 'exited', errors: 0, attrs: { release: 'shop@1.0.0' } } }]);
  assert.equal((await postSentry(ep, sess)).status, 200);
  assert.equal((await issuesOf(ep)).length, 1);
  assert.equal((await statsToday(ep)).events, 1);
  const s2 = await sessionsOf(ep);
  assert.deepEqual([s2.sessions, s2.errored], [2, 1]);
});

test('an ignored issue\'s event with an attachment: 200 {"id"}, but neither the event nor the attachment is kept', T, async () => {
  const ep = await eventsEndpoint('sentry-ignored');
  const blobFiles = async () => {
    const dir = path.join(inlet.dataDir, 'blobs');
    const out = [];
    const walk = async (d) => {
      let ents;
      try { ents = await readdir(d, { withFileTypes: true }); } catch (e) { if (e.code === 'ENOENT') return; throw e; }
      for (const x of ents) {
        const p = path.join(d, x.name);
        if (x.isDirectory()) await walk(p);
        else if (!p.includes(`${path.sep}.tmp${path.sep}`)) out.push(p);
      }
    };
    await walk(dir);
    return out.sort();
  };
  const withAttachment = (ev) => envelope({ event_id: ev.event_id }, [
    { type: 'event', payload: ev },
    { type: 'attachment', payload: randomBytes(5000), headers: { filename: 'dump.bin' } },
  ]);
  const first = sentryEvent('ignored with attachment');
  assert.equal((await postSentry(ep, withAttachment(first))).status, 200);
  const before = await blobFiles();
  assert.ok(before.length >= 1, 'the first attachment is stored');
  const [issue] = await issuesOf(ep);
  const p = await api.patch(`/api/v1/issues/${issue.id}`, { state: 'ignored' });
  assert.equal(p.status, 200, p.text);

  const again = { ...sentryEvent('ignored with attachment'), event_id: newEventId() };
  const r = await postSentry(ep, withAttachment(again));
  assert.deepEqual([r.status, r.json], [200, { id: again.event_id }], r.text);
  const now = await apiJson(`/api/v1/issues/${issue.id}`);
  assert.equal(now.count, 1);
  assert.equal(now.dropped, 1);
  assert.equal((await eventsOf(issue.id)).length, 1);
  assert.deepEqual(await blobFiles(), before, 'no attachment left behind for a dropped event');
  const stats = await statsToday(ep);
  assert.equal(stats.events, 1);
  assert.equal(stats.ignored, 1);
});

// ---------------------------------------------------------------------------
// CORS

test('CORS preflight: 204 on every route with ACAO for an allowed Origin and the Sentry headers allowed; none for another origin', T, async () => {
  const GOOD = 'https://good.example';
  const ep = await eventsEndpoint('cors', { allowed_origins: [GOOD] });
  const open = await eventsEndpoint('cors-open');
  const urls = (e) => [
    `${inlet.url}/v1/${e.key}/event`,
    `${inlet.url}/v1/${e.key}/ping`,
    `${inlet.url}/v1/${e.key}/report`,
    `${inlet.url}/api/${e.project_id}/envelope/?sentry_key=${e.key}&sentry_version=7`,
    `${inlet.url}/api/${e.project_id}/store/?sentry_key=${e.key}&sentry_version=7`,
  ];
  const pre = (url, origin) => request(url, {
    method: 'OPTIONS',
    headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type, content-encoding, x-sentry-auth, sentry-trace, baggage' },
  });
  for (const url of urls(ep)) {
    const r = await pre(url, GOOD);
    assert.equal(r.status, 204, `${url}: ${r.status}`);
    assert.equal(r.headers['access-control-allow-origin'], GOOD, `${url}: ACAO`);
    assert.ok(headerList(r.headers['access-control-allow-methods']).includes('post'), `${url}: POST allowed`);
    const allowed = headerList(r.headers['access-control-allow-headers']);
    for (const h of ['content-type', 'x-sentry-auth', 'content-encoding', 'sentry-trace', 'baggage']) assert.ok(allowed.includes(h), `${url}: allows ${h}: ${allowed}`);
    const bad = await pre(url, 'https://evil.example');
    assert.equal(bad.headers['access-control-allow-origin'], undefined, `${url}: no ACAO for another origin`);
  }
  for (const url of urls(open)) {
    const r = await pre(url, 'https://anywhere.example');
    assert.equal(r.status, 204);
    assert.equal(r.headers['access-control-allow-origin'], 'https://anywhere.example', `${url}: an open endpoint echoes any origin`);
  }
  // A Sentry preflight without the key in the query (it comes in X-Sentry-Auth later) is answered 204.
  const nokey = await pre(`${inlet.url}/api/${ep.project_id}/envelope/`, GOOD);
  assert.equal(nokey.status, 204);
  // Preflights store nothing and count nothing.
  assert.deepEqual(await issuesOf(ep), []);
  const stats = await statsToday(ep);
  assert.equal(stats.pings, 0);
  assert.deepEqual(stats.denied, {});
});
