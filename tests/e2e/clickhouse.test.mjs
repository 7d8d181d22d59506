// ClickHouse for analytics (INLET_CLICKHOUSE_URL), black box against a real
// clickhouse-server started here. With the variable set, the analytics
// routes (daily counters of an endpoint and of the account, the account's
// usage, an issue's graph, the sessions graph) answer from ClickHouse; the
// proof that the answers are the same is the same data folder served again
// without the variable, where they come from the embedded rollups. What
// reaches ClickHouse carries no plaintext of a submission or an event.
// ClickHouse stopped: ingest still answers 2xx, the reads fall back to the
// embedded rollups (still right), /healthz says "down"; started again, the
// queued rows arrive. A full queue drops its oldest rows and counts them.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { makeDataDir, startServer, cleanup, newAccount, SCALE } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, postForm, request } from '../lib/http.mjs';
import { ClickHouse, freePort } from '../lib/clickhouse.mjs';

const T = { timeout: 60_000 * SCALE };
const HOUR = 3600_000;
const DAY = 24 * HOUR;
const DB = 'inlet_e2e';
const MARKER = `plaintext-marker-${randomBytes(8).toString('hex')}`;
const UA = `Mozilla/5.0 (${MARKER}-agent)`;
const NO_LIMIT = { per_minute: 0, burst: 1 };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let ch;
let data;
let owner; // {accountId, token}
let other; // another account, whose counters must not mix in
let eps; // {formA, formB, project, otherForm}
let issues; // public ids of the project's issues
let anchor; // the time ranges' "now", the same for both runs of answers()
let unseen = 0; // the owner's API requests served without ClickHouse (so never counted there)

after(async () => {
  await cleanup();
  if (ch) await ch.stop();
});

before(async () => {
  ch = await ClickHouse.create();
  await ch.start();
  data = await makeDataDir();
  owner = await newAccount(data);
  other = await newAccount(data);
});

/** inlet serve on the shared data folder, fed to ClickHouse or not. Rows
 * would wait a minute before they go on their own: a read right after
 * ingest sees them only because reads flush first. */
function serve(withClickHouse, extra = {}) {
  const env = withClickHouse ? { INLET_CLICKHOUSE_URL: ch.inletUrl(DB), INLET_CLICKHOUSE_FLUSH_MS: 60_000, ...extra } : extra;
  return startServer(data, { env });
}

// ---------------------------------------------------------------------------
// Traffic

async function submit(base, ep, pairs, expect = 200) {
  const r = await postForm(base, ep.key, 'urlencoded', pairs, { headers: { 'User-Agent': UA } });
  assert.equal(r.status, expect, `form post: ${r.status} ${r.text}`);
}

async function view(base, ep, origin = 'https://site.example') {
  const r = await request(`${base}/v1/${ep.key}/ping`, { method: 'POST', headers: { Origin: origin, 'User-Agent': UA } });
  assert.equal(r.status, 200, r.text);
}

async function trackx(base, ep, message, { ua = UA, origin = 'https://shop.example', expect = 200 } = {}) {
  const body = {
    name: 'Error', message, type: 1, uri: `https://shop.example/${MARKER}`,
    // Events group by their stack: a function of each message's own.
    stack: `Error: ${message}\n    at fn_${createHash('sha256').update(message).digest('hex').slice(0, 10)} (https://shop.example/js/app.js:3:7)`,
    meta: { _c: 'd', _v: '0.6.1' },
  };
  const headers = { 'Content-Type': 'application/json', 'User-Agent': ua };
  if (origin) headers.Origin = origin;
  const r = await request(`${base}/v1/${ep.key}/event`, { method: 'POST', headers, body: JSON.stringify(body) });
  assert.equal(r.status, expect, `event "${message}": ${r.status} ${r.text}`);
  return r;
}

function envelope(header, items) {
  const parts = [Buffer.from(`${JSON.stringify(header)}\n`)];
  for (const it of items) {
    const payload = Buffer.from(JSON.stringify(it.payload));
    parts.push(Buffer.from(`${JSON.stringify({ type: it.type, length: payload.length })}\n`), payload, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

async function sentry(base, ep, items) {
  const body = envelope({ sent_at: new Date().toISOString() }, items);
  const r = await request(`${base}/api/${ep.project_id}/envelope/?sentry_key=${ep.key}`, { method: 'POST', headers: { 'User-Agent': UA }, body });
  assert.equal(r.status, 200, r.text);
}

const sentryEvent = (value, level) => ({
  event_id: randomBytes(16).toString('hex'), platform: 'javascript', level,
  exception: { values: [{ type: 'TypeError', value, stacktrace: { frames: [{ function: 'checkout', filename: 'app.js', lineno: 9 }] } }] },
});

/** Everything the answers are compared on, through the public routes only. */
async function traffic(base) {
  const api = apiClient(base, owner.token);
  const apiOther = apiClient(base, other.token);
  const formA = await createEndpoint(api, 'contact');
  const formB = await createEndpoint(api, 'newsletter');
  const project = await createEndpoint(api, 'shop', { rate_limit: NO_LIMIT, allowed_origins: ['https://shop.example'] }, 'events');
  const otherForm = await createEndpoint(apiOther, 'elsewhere');
  eps = { formA, formB, project, otherForm };

  // Forms: submissions (one spam by the honeypot), views.
  for (let i = 0; i < 3; i++) await submit(base, formA, [['message', `${MARKER} number ${i}`], ['email', 'someone@example.org']]);
  await submit(base, formA, [['message', MARKER], ['_gotcha', 'http://spam.example']]);
  await submit(base, formB, [['email', `${MARKER}@example.org`]]);
  await submit(base, otherForm, [['x', MARKER]]);
  for (let i = 0; i < 2; i++) await view(base, formA);
  await view(base, formB);

  // Errors: TrackX events (two of one issue), pings, Sentry events and
  // sessions (one crashed), aggregates of other hours and of two days ago.
  await trackx(base, project, `${MARKER} checkout failed`);
  await trackx(base, project, `${MARKER} checkout failed`, { ua: 'UA-two' });
  await trackx(base, project, `${MARKER} cart empty`);
  const ping = (ua) => request(`${base}/v1/${project.key}/ping`, { headers: { Origin: 'https://shop.example', 'User-Agent': ua } });
  for (const ua of [UA, 'UA-three', UA]) assert.equal((await ping(ua)).status, 200);
  await sentry(base, project, [{ type: 'event', payload: sentryEvent(`${MARKER} in sentry`, 'warning') }]);
  await sentry(base, project, [{ type: 'event', payload: sentryEvent(`${MARKER} fatal one`, `${MARKER}-level`) }]);
  const now = Date.now();
  await sentry(base, project, [{ type: 'session', payload: { sid: randomUUID(), init: true, started: new Date(now).toISOString(), status: 'crashed', errors: 1, attrs: { release: `${MARKER}@1` } } }]);
  await sentry(base, project, [{ type: 'sessions', payload: { aggregates: [
    { started: new Date(now - 5 * HOUR).toISOString(), exited: 4, errored: 2, crashed: 1 },
    { started: new Date(now - 2 * DAY).toISOString(), exited: 3 },
  ], attrs: { release: `${MARKER}@1` } } }]);

  // Refusals, counted under "denied".
  await trackx(base, project, 'from elsewhere', { origin: 'https://evil.example', expect: 403 });
  const bad = await request(`${base}/v1/${project.key}/event`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{oops' });
  assert.equal(bad.status, 400);

  // An ignored issue's event: counted as "ignored", in no graph.
  const list = await api.get(`/api/v1/endpoints/${project.id}/issues`);
  const cart = list.json.data.find((i) => i.title.includes('cart empty'));
  assert.equal((await api.patch(`/api/v1/issues/${cart.id}`, { state: 'ignored' })).status, 200);
  await trackx(base, project, `${MARKER} cart empty`);
  issues = (await api.get(`/api/v1/endpoints/${project.id}/issues`)).json.data.map((i) => i.id);
  assert.ok(issues.length >= 3, JSON.stringify(issues));
}

// ---------------------------------------------------------------------------
// Answers

/** The analytics answers, in a fixed order: {list: [[path, json]], own:
 * how many were the owner's API requests}. */
async function answers(base, endpoints = [eps.formA, eps.formB, eps.project]) {
  const api = apiClient(base, owner.token);
  const apiOther = apiClient(base, other.token);
  const now = anchor;
  const paths = [];
  for (const ep of endpoints) {
    for (const days of [1, 3, 30, 366]) paths.push([api, `/api/v1/endpoints/${ep.id}/stats?days=${days}`]);
  }
  paths.push([api, `/api/v1/endpoints/${eps.project.id}/sessions`]);
  paths.push([api, `/api/v1/endpoints/${eps.project.id}/sessions?from=${now - 3 * DAY}&to=${now + HOUR}`]);
  for (const id of issues) {
    paths.push([api, `/api/v1/issues/${id}/graph`]);
    paths.push([api, `/api/v1/issues/${id}/graph?interval=hour&from=${now - 3 * DAY}&to=${now + HOUR}`]);
    paths.push([api, `/api/v1/issues/${id}/graph?interval=day&from=${now - 10 * DAY}`]);
  }
  paths.push([apiOther, `/api/v1/endpoints/${eps.otherForm.id}/stats?days=2`]);
  paths.push([api, '/api/v1/account']);
  for (const days of [366, 7, 1]) paths.push([api, `/api/v1/stats?days=${days}`]);
  const list = [];
  for (const [client, p] of paths) {
    const r = await client.get(p);
    assert.equal(r.status, 200, `GET ${p} → ${r.status} ${r.text}`);
    list.push([p, r.json]);
  }
  return { list, own: paths.filter(([c]) => c === api).length };
}

/** The management API counts itself ("api"), so the owner's "api" figures
 * are compared apart: each is the other run's plus the requests between. */
function split(list) {
  const apis = [];
  const rest = list.map(([p, j]) => {
    const c = structuredClone(j);
    if (p === '/api/v1/account') {
      apis.push(c.usage.this_month.api);
      delete c.usage.this_month.api;
    }
    if (p.startsWith('/api/v1/stats')) {
      apis.push(c.data.at(-1).api);
      for (const d of c.data) delete d.api;
    }
    return [p, c];
  });
  return { rest, apis };
}

const todayOf = (list, p) => list.find(([q]) => q === p)[1].data.at(-1);
const fallbacks = (server) => server.logLines().filter((l) => /clickhouse: .* from the embedded rollups/.test(l.msg || ''));

/** Served again without ClickHouse: the same answers from the embedded
 * rollups. `got` is answers() from ClickHouse, the owner's last requests. */
async function assertSameAsEmbedded(got, server, endpoints) {
  await server.stop();
  const embedded = await serve(false);
  const again = await answers(embedded.url, endpoints);
  await embedded.stop();
  const a = split(got.list);
  const b = split(again.list);
  assert.deepEqual(a.rest, b.rest);
  assert.deepEqual(b.apis, a.apis.map((n) => n + unseen + again.own),
    'the api counters: what ClickHouse counted, plus the requests served without it');
  unseen += again.own;
}

async function clickhouseText() {
  let all = '';
  for (const t of ['counters', 'events', 'session_hours']) all += await ch.query(`SELECT * FROM ${DB}.${t} FORMAT TabSeparated`);
  return all;
}

async function metric(base, name) {
  const r = await request(`${base}/metrics`);
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(r.text);
  assert.ok(m, `${name} in /metrics`);
  return Number(m[1]);
}

async function waitFor(what, fn, ms = 20_000 * SCALE) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await sleep(150);
  }
  throw new Error(`timed out waiting for ${what}`);
}

// ---------------------------------------------------------------------------

test('the analytics answers from ClickHouse equal the embedded rollups\' (counters, denied, account sums, days, graphs); no plaintext reaches ClickHouse', T, async () => {
  anchor = Date.now();
  const server = await serve(true);
  const health = await request(`${server.url}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(health.json.clickhouse, 'ok', health.text);
  assert.equal(health.json.status, 'ok');

  await traffic(server.url);
  const got = await answers(server.url);
  assert.deepEqual(fallbacks(server), [], 'every answer came from ClickHouse');

  // What the traffic should show (ClickHouse's answers, checked by value).
  const day = new Date().toISOString().slice(0, 10);
  assert.deepEqual(todayOf(got.list, `/api/v1/endpoints/${eps.formA.id}/stats?days=1`), { day, submissions: 4, spam: 1, views: 2, denied: {} });
  assert.deepEqual(todayOf(got.list, `/api/v1/endpoints/${eps.formB.id}/stats?days=3`), { day, submissions: 1, spam: 0, views: 1, denied: {} });
  assert.deepEqual(todayOf(got.list, `/api/v1/endpoints/${eps.project.id}/stats?days=30`),
    { day, events: 5, pings: 3, reports: 0, ignored: 1, denied: { origin_not_allowed: 1, invalid_json: 1 } });
  const week = got.list.find(([p]) => p === '/api/v1/stats?days=7')[1].data;
  assert.equal(week.length, 7);
  assert.deepEqual(week[0], { day: new Date(Date.now() - 6 * DAY).toISOString().slice(0, 10), api: 0, submissions: 0, spam: 0, views: 0, events: 0 }, 'zero-filled days');
  const acc = todayOf(got.list, '/api/v1/stats?days=1');
  assert.equal(acc.submissions, 5, 'both forms, not the other account\'s');
  assert.equal(acc.views, 3);
  assert.equal(acc.events, 5);
  assert.equal(acc.pings, 3);
  assert.ok(acc.api > 10, JSON.stringify(acc));
  assert.equal(got.list.find(([p]) => p === '/api/v1/account')[1].usage.this_month.submissions, 5);
  const sessions = got.list.find(([p]) => p.includes('/sessions?from='))[1].data;
  const sum = (k) => sessions.reduce((s, b) => s + b[k], 0);
  // TrackX visitors (two errored), a ping's, a crashed Sentry session, and
  // aggregates (exited+errored+crashed; errored+crashed; crashed).
  assert.deepEqual([sum('sessions'), sum('errored'), sum('crashed')], [2 + 1 + 1 + 7 + 3, 2 + 1 + 3, 1 + 1], JSON.stringify(sessions));
  assert.equal(sessions.length, 3, 'this hour, five hours ago, two days ago');

  // ClickHouse holds the rows themselves, and nothing readable.
  const [[nEvents]] = await ch.rows(`SELECT count() FROM ${DB}.events`);
  assert.equal(Number(nEvents), 5, 'one row per stored event (not the ignored one)');
  const levels = (await ch.rows(`SELECT level, count() FROM ${DB}.events GROUP BY level ORDER BY level`)).map(([l, n]) => `${l}:${n}`);
  // (Sentry's own parser already makes an unknown level "error".)
  assert.deepEqual(levels, ['error:4', 'warning:1'], 'levels from a fixed vocabulary');
  const text = await clickhouseText();
  assert.ok(text.length > 0);
  for (const secret of [MARKER, 'someone@example.org', 'shop.example', 'checkout', 'UA-two']) {
    assert.ok(!text.includes(secret), `ClickHouse holds no "${secret}"`);
  }

  await assertSameAsEmbedded(got, server);
});

test('ClickHouse stopped: ingest answers 2xx at once, reads fall back (still right), /healthz says down; started again, the backlog arrives', T, async () => {
  anchor = Date.now();
  const server = await serve(true);
  const api = apiClient(server.url, owner.token);
  const statsA = async () => (await api.get(`/api/v1/endpoints/${eps.formA.id}/stats?days=1`)).json.data[0];
  const start = await statsA();
  const [[rowsBefore]] = await ch.rows(`SELECT count() FROM ${DB}.events`);

  await ch.stop();
  const t0 = Date.now();
  for (let i = 0; i < 3; i++) await submit(server.url, eps.formA, [['message', `${MARKER} while down ${i}`]]);
  await trackx(server.url, eps.project, `${MARKER} while down`);
  await view(server.url, eps.formA);
  assert.ok(Date.now() - t0 < 5000 * SCALE, `ingest did not wait for ClickHouse (${Date.now() - t0} ms)`);

  const health = await request(`${server.url}/healthz`);
  assert.equal(health.status, 200, 'ClickHouse down is no failed health check');
  assert.equal(health.json.status, 'ok');
  assert.equal(health.json.clickhouse, 'down');

  const during = await statsA();
  assert.deepEqual(during, { ...start, submissions: start.submissions + 3, views: start.views + 1 }, 'the embedded rollups answered');
  assert.ok(fallbacks(server).length > 0, 'the fallback is logged');
  assert.ok(await metric(server.url, 'inlet_clickhouse_backlog_rows') > 0, 'rows wait');
  assert.equal(await metric(server.url, 'inlet_clickhouse_up'), 0);
  assert.equal(await metric(server.url, 'inlet_clickhouse_rows_dropped_total'), 0);

  await ch.start();
  await waitFor(`the backlog in ClickHouse`, async () => {
    const [[n]] = await ch.rows(`SELECT count() FROM ${DB}.events`);
    return Number(n) === Number(rowsBefore) + 1 && await metric(server.url, 'inlet_clickhouse_backlog_rows') === 0;
  });
  assert.equal((await request(`${server.url}/healthz`)).json.clickhouse, 'ok');
  assert.equal(await metric(server.url, 'inlet_clickhouse_up'), 1);
  const quiet = fallbacks(server).length;
  assert.deepEqual(await statsA(), during, 'ClickHouse, with the backlog, answers as the embedded rollups did');

  // An endpoint deleted: its rows leave ClickHouse too (a mutation).
  const ids = async () => (await ch.rows(`SELECT DISTINCT endpoint_id FROM ${DB}.counters WHERE endpoint_id > 0 ORDER BY endpoint_id`)).map(([x]) => x);
  const idsBefore = await ids();
  assert.equal((await api.del(`/api/v1/endpoints/${eps.formB.id}`)).status, 204);
  await waitFor('formB\'s rows deleted from ClickHouse', async () => (await ids()).length === idsBefore.length - 1);

  const left = [eps.formA, eps.project];
  const got = await answers(server.url, left);
  assert.equal(fallbacks(server).length, quiet, 'answered from ClickHouse again');
  await assertSameAsEmbedded(got, server, left);
});

test('a full backlog drops its oldest rows and counts them; ingest goes on; a bad INLET_CLICKHOUSE_URL stops the start', T, async () => {
  const dir = await makeDataDir();
  const acc = await newAccount(dir);
  const nobody = await freePort();
  const server = await startServer(dir, { env: {
    INLET_CLICKHOUSE_URL: `http://127.0.0.1:${nobody}/x`, INLET_CLICKHOUSE_BACKLOG: 4, INLET_CLICKHOUSE_FLUSH_MS: 20,
  } });
  const api = apiClient(server.url, acc.token);
  const ep = await createEndpoint(api, 'busy', { rate_limit: NO_LIMIT }, 'events');
  for (let i = 0; i < 12; i++) {
    const r = await request(`${server.url}/v1/${ep.key}/event`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'Error', message: `m${i}`, type: 1 }) });
    assert.equal(r.status, 200, r.text);
  }
  const stats = (await api.get(`/api/v1/endpoints/${ep.id}/stats?days=1`)).json.data[0];
  assert.equal(stats.events, 12, 'the embedded rollups answer');
  // Twelve event rows, a session's and the counters' through a queue of
  // four: all but four are dropped (counted once no attempt holds them).
  await waitFor('the drops counted', async () => await metric(server.url, 'inlet_clickhouse_rows_dropped_total') >= 9);
  assert.ok(await metric(server.url, 'inlet_clickhouse_backlog_rows') <= 4);
  assert.equal((await request(`${server.url}/healthz`)).json.clickhouse, 'down');
  await server.stop();

  for (const url of ['ftp://127.0.0.1/x', 'http://127.0.0.1:1/a/b', 'http://127.0.0.1:1/bad-name', 'http://127.0.0.1:1/?q=1']) {
    await assert.rejects(startServer(dir, { env: { INLET_CLICKHOUSE_URL: url } }),
      (e) => /exited before listening/.test(e.message) && /INLET_CLICKHOUSE_URL must be/.test(e.message) && !/Sanitizer/.test(e.message), url);
  }
});
