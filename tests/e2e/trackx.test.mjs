// TrackX's protocol: its Node client (trackx/node, unchanged, in a child
// process) sends to the ingest_url the API gives out, and the issue appears;
// then hand-made requests for each of TrackX's validation rules, the Referer
// fallback for `uri`, the ping GIF, unknown keys and form keys.
//
// What the client sends is recorded in tests/fixtures/events/README.md. It
// retries anything but 200 (after 1, 4, 16, 64 s) and never reads an answer,
// so the hand-made requests are what checks the answers.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { makeDataDir, startServer, cleanup, newAccount, SCALE, REPO_ROOT } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, request, rawRequest } from '../lib/http.mjs';
import { assertShape, prefixed, isNumber } from '../lib/match.mjs';
import {
  createEventsEndpoint, issueShape, listIssues, issuesMatching, theIssue, issueEvents, getEvent, statsToday,
  sessionTotals, assertJsonError, waitFor,
} from '../lib/events.mjs';

const T = { timeout: 60_000 * SCALE };
const CHILD = path.join(REPO_ROOT, 'tests', 'lib', 'trackx_node_child.mjs');
const FIXTURES = path.join(REPO_ROOT, 'tests', 'fixtures', 'events');

let inlet;
let api;
const children = new Set();

before(async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  inlet = await startServer(data);
  api = apiClient(inlet.url, acct.token);
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await cleanup();
});
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

/** Starts the child running trackx/node; resolves once it says it sent. */
function runClient(ingestUrl, tag) {
  const child = spawn(process.execPath, [CHILD, ingestUrl, tag], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let out = '';
  let err = '';
  child.stderr.on('data', (c) => { err += c; });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`trackx child: no "sent" within 20 s\nstderr: ${err}`)), 20_000 * SCALE);
    child.stdout.on('data', (c) => {
      out += c;
      if (out.includes('sent\n')) { clearTimeout(t); resolve({ child, stderr: () => err }); }
    });
    child.on('exit', (code) => { clearTimeout(t); reject(new Error(`trackx child exited ${code}\nstderr: ${err}`)); });
  });
}

/** A well-formed TrackX event, as the browser client builds it. */
function event(over = {}) {
  return {
    name: 'TypeError',
    message: 'x is undefined',
    stack: 'TypeError: x is undefined\n    at applyCoupon (https://shop.example/js/cart.js:31:24)\n    at HTMLButtonElement.onclick (https://shop.example/cart:12:5)',
    type: 1,
    uri: 'https://shop.example/cart',
    meta: { _c: 'd', _v: '0.6.1' },
    ...over,
  };
}

function post(url, body, headers = {}) {
  const buf = Buffer.from(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
  const opts = { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: 'https://shop.example', ...headers }, body: buf };
  // A server may answer 413 and close before it read a big body: raw socket.
  return buf.length > 64 * 1024 ? rawRequest(`${url}/event`, opts) : request(`${url}/event`, opts);
}

test('trackx/node: sendEvent and console.error → issues with the client\'s stack; ping counted', T, async () => {
  const ep = await createEventsEndpoint(api, 'worker', inlet.url);
  const tag = randomBytes(3).toString('hex');
  const { child } = await runClient(ep.ingest_url, tag);
  try {
    // The client sends in the background and has no flush: wait for it.
    const issues = await waitFor('both issues from trackx/node', async () => {
      const l = await issuesMatching(api, ep.id, tag);
      return l.length >= 2 ? l : null;
    });
    assert.equal(issues.length, 2, JSON.stringify(issues.map((i) => i.title)));

    const drift = issues.find((i) => i.title.includes('inventory drift'));
    assertShape(drift, issueShape({ title: `Error: inventory drift ${tag}`, count: 1, state: 'open' }));
    assert.match(drift.culprit, /^syncInventory \(.*trackx_node_child\.mjs\)$/, `culprit: ${drift.culprit}`);
    const [e] = await issueEvents(api, drift.id);
    const ev = await getEvent(api, e.id);
    assertShape(ev, { id: prefixed('evt_'), issue: drift.id, kind: 'trackx', received: isNumber, title: drift.title });
    assertShape(ev.data, { name: 'Error', message: `inventory drift ${tag}`, type: 4, meta: { _c: 'n', _v: '0.6.1', job: 'nightly', release: `worker@${tag}` } });
    assert.match(ev.data.stack, /at syncInventory \(file:\/\/.*trackx_node_child\.mjs:\d+:\d+\)/, 'the stack as sent');
    // trackx/node builds uri as "file://" + the caller's file, which in an ES
    // module is already a URL: "file://file:///…". Stored as sent.
    assert.match(String(ev.data.uri), /trackx_node_child\.mjs$/);

    const cons = issues.find((i) => i.title.includes('stock level unreadable'));
    assertShape(cons, { title: `TypeError: stock level unreadable ${tag}`, count: 1 });
    assert.match(cons.culprit, /^reportConsole \(/);
    const [ce] = await issueEvents(api, cons.id);
    assert.equal((await getEvent(api, ce.id)).data.type, 3, 'type 3: console.error');

    await waitFor('the ping in today\'s stats', async () => (await statsToday(api, ep.id)).pings >= 1);
    const stats = await statsToday(api, ep.id);
    assert.equal(stats.pings, 1);
    assert.equal(stats.events, 2);
  } finally {
    child.kill('SIGKILL');
  }
});

test('hand-made: a valid event → 200 {"id":"evt_…"}, stored as sent; the browser-recorded sample too', T, async () => {
  const ep = await createEventsEndpoint(api, 'shop', inlet.url);
  const sent = event();
  const r = await post(ep.ingest_url, sent);
  assert.equal(r.status, 200, r.text);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assertShape(r.json, { id: prefixed('evt_') });
  const ev = await getEvent(api, r.json.id);
  assertShape(ev, { id: r.json.id, kind: 'trackx', title: 'TypeError: x is undefined', previous: null, next: null });
  assert.deepEqual(ev.data, sent, 'the event as sent');
  const issue = await theIssue(api, ep.id, 'x is undefined');
  assertShape(issue, issueShape({ id: ev.issue, culprit: 'applyCoupon (/js/cart.js)', uri: 'https://shop.example/cart', count: 1 }));

  const sample = await readFile(path.join(FIXTURES, 'trackx-event.json'));
  const r2 = await post(ep.ingest_url, sample, { Referer: 'http://127.0.0.1:8000/' });
  assert.equal(r2.status, 200, r2.text);
  assert.deepEqual((await getEvent(api, r2.json.id)).data, JSON.parse(sample));
  assert.equal((await theIssue(api, ep.id, 'trackx uncaught')).title, 'RangeError: trackx uncaught');
});

test('hand-made: each TrackX validation rule, and nothing stored for a refused event', T, async () => {
  const ep = await createEventsEndpoint(api, 'rules', inlet.url);
  const url = ep.ingest_url;
  const cases = [
    ['an unknown property', event({ message: 'rule: unknown key', colour: 'red' }), 400],
    ['name of 513 characters', event({ message: 'rule: long name', name: 'N'.repeat(513) }), 422],
    ['message of 10,001 characters', event({ message: `rule: long message ${'m'.repeat(10_001)}`.slice(0, 10_001) }), 422],
    ['type 100', event({ message: 'rule: type 100', type: 100 }), 422],
    ['type -1', event({ message: 'rule: type -1', type: -1 }), 422],
    ['type as text', event({ message: 'rule: type text', type: 'error' }), 422],
    ['not JSON', '{"message": "rule: bad json", "type": 1,', 400],
    ['a JSON array', '[1,2,3]', 400],
    ['over 1 MiB', event({ message: 'rule: too big', meta: { pad: 'p'.repeat(1024 * 1024) } }), 413],
  ];
  for (const [what, body, status] of cases) {
    const r = await post(url, body);
    assert.equal(r.status, status, `${what}: ${r.status} ${r.text.slice(0, 300)}`);
    assertJsonError(r, what);
  }
  // The limits themselves are fine.
  const edge = await post(url, event({ message: `rule: at the limits ${'m'.repeat(10_000)}`.slice(0, 10_000), name: 'N'.repeat(512), type: 99 }));
  assert.equal(edge.status, 200, `name 512, message 10,000, type 99: ${edge.status} ${edge.text.slice(0, 300)}`);

  const issues = await listIssues(api, ep.id);
  assert.equal(issues.length, 1, `only the event at the limits: ${JSON.stringify(issues.map((i) => i.title.slice(0, 60)))}`);
  const [only] = await issueEvents(api, issues[0].id);
  assert.equal(only.id, edge.json.id);
  const stored = await getEvent(api, only.id);
  assert.equal(stored.data.name.length, 512, 'the name whole');
  assert.equal(stored.data.message.length, 10_000, 'the message whole');
  const stats = await statsToday(api, ep.id);
  assert.equal(stats.events, 1, 'one event counted');
  assert.ok(stats.deniedTotal >= cases.length, `each refusal counted under denied: ${JSON.stringify(stats.denied)}`);
});

test('hand-made: without uri, the Referer is the event\'s page', T, async () => {
  const ep = await createEventsEndpoint(api, 'referer', inlet.url);
  const sent = event({ message: 'no uri here' });
  delete sent.uri;
  const r = await post(ep.ingest_url, sent, { Referer: 'https://shop.example/checkout?step=2' });
  assert.equal(r.status, 200, r.text);
  const issue = await theIssue(api, ep.id, 'no uri here');
  assert.equal(issue.uri, 'https://shop.example/checkout?step=2');
});

test('hand-made: ping → 200; a GIF when the request accepts images; counted in stats and sessions', T, async () => {
  const ep = await createEventsEndpoint(api, 'pings', inlet.url);
  // Three visitors (a session is one visitor: different User-Agents here).
  const img = await request(`${ep.ingest_url}/ping`, {
    headers: {
      Accept: 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8', Origin: 'https://shop.example', Referer: 'https://shop.example/',
      'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36',
    },
  });
  assert.equal(img.status, 200, img.text);
  assert.match(String(img.headers['content-type']), /^image\/gif/);
  assert.ok(/^GIF8[79]a/.test(img.body.subarray(0, 6).toString('latin1')), `GIF bytes: ${img.body.subarray(0, 16).toString('hex')}`);
  assert.ok(img.body.length < 100, 'a tiny GIF');

  const bare = await request(`${ep.ingest_url}/ping`, { headers: { 'User-Agent': 'Node.js/20.20 (Linux x64)', Origin: 'node' } });
  assert.equal(bare.status, 200, `GET ping as trackx/node sends it (no Accept): ${bare.status} ${bare.text}`);

  const modern = await request(`${ep.ingest_url}/ping`, { method: 'POST', headers: { Origin: 'https://shop.example', 'User-Agent': 'Mozilla/5.0 (Macintosh) Firefox/140.0' } });
  assert.equal(modern.status, 200, `POST ping as trackx/modern sends it: ${modern.status} ${modern.text}`);

  const stats = await statsToday(api, ep.id);
  assert.equal(stats.pings, 3, JSON.stringify(stats));
  assert.equal(stats.events, 0);
  assert.equal((await sessionTotals(api, ep.id)).sessions, 3, 'a ping is a session');
});

test('hand-made: an unknown key → 404 with a JSON error, on every /v1 route', T, async () => {
  const key = randomBytes(16).toString('hex');
  const url = `${inlet.url}/v1/${key}`;
  const r = await post(url, event());
  assert.equal(r.status, 404, r.text);
  assertJsonError(r, 'unknown key /event');
  const p = await request(`${url}/ping`);
  assert.equal(p.status, 404, p.text);
  const rep = await request(`${url}/report`, { method: 'POST', headers: { 'Content-Type': 'application/csp-report' }, body: JSON.stringify({ 'csp-report': { 'document-uri': 'https://shop.example/' } }) });
  assert.equal(rep.status, 404, rep.text);
  assertJsonError(rep, 'unknown key /report');
});

test('hand-made: a form endpoint\'s key on /v1 → 4xx with a JSON error, nothing stored in the form', T, async () => {
  const form = await createEndpoint(api, 'contact');
  const r = await post(`${inlet.url}/v1/${form.key}`, event({ message: 'into a form' }));
  assert.ok(r.status >= 400 && r.status < 500, `${r.status} ${r.text}`);
  assertJsonError(r, 'form key');
  const subs = await api.get(`/api/v1/endpoints/${form.id}/submissions`);
  assert.equal(subs.status, 200);
  assert.deepEqual(subs.json.data, [], 'no submission either');
});

test('hand-made: a browser\'s CORS preflight for /event is allowed (the browser client sends application/json)', T, async () => {
  const ep = await createEventsEndpoint(api, 'cors', inlet.url);
  const r = await request(`${ep.ingest_url}/event`, {
    method: 'OPTIONS',
    headers: { Origin: 'https://shop.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
  });
  assert.ok(r.status === 200 || r.status === 204, `preflight: ${r.status}`);
  const h = r.headers;
  assert.ok(['*', 'https://shop.example'].includes(h['access-control-allow-origin']), `ACAO: ${h['access-control-allow-origin']}`);
  assert.match(String(h['access-control-allow-methods']), /POST/i);
  assert.match(String(h['access-control-allow-headers']), /content-type/i);
});

test('inlet stops cleanly on SIGTERM', T, async () => {
  await inlet.stop();
});
