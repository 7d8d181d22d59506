// The error-tracking Management API, black box: issues (search, sort,
// keyset pages, state filter, resolve/reopen, ignore/dropped), an issue's
// events (pages, previous/next/first/last), graphs, sessions, daily stats,
// isolation between accounts, deleting an endpoint, and 400s for bad query
// parameters. Events are made by hand through TrackX's /v1/{key}/event,
// /ping and /report and Sentry's envelope route.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID, createHash } from 'node:crypto';
import path from 'node:path';
import { readdir } from 'node:fs/promises';
import { makeDataDir, startServer, cleanup, newAccount, SCALE } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, request } from '../lib/http.mjs';
import { assertShape, prefixed, isInt, isNumber, nullOrString, oneOf } from '../lib/match.mjs';

after(cleanup);
const T = { timeout: 120_000 * SCALE };

let inlet;
let api;
let apiB; // another account

before(async () => {
  const data = await makeDataDir();
  const a = await newAccount(data);
  const b = await newAccount(data);
  inlet = await startServer(data);
  api = apiClient(inlet.url, a.token);
  apiB = apiClient(inlet.url, b.token);
});

// ---------------------------------------------------------------------------
// Helpers (this file's own)

const NO_LIMIT = { per_minute: 0, burst: 1 };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const HOUR = 3600_000;
const DAY = 24 * HOUR;

async function eventsEndpoint(name, settings = {}, client = api) {
  return createEndpoint(client, name, { rate_limit: NO_LIMIT, ...settings }, 'events');
}

async function getJson(path, client = api) {
  const r = await client.get(path);
  assert.equal(r.status, 200, `GET ${path} → ${r.status} ${r.text}`);
  return r.json;
}

function assertError(r, status, code, what = '') {
  const where = what ? `${what}: ` : '';
  assert.equal(r.status, status, `${where}status ${r.status}, want ${status}: ${r.text.slice(0, 300)}`);
  assert.match(String(r.headers['content-type']), /^application\/json/, `${where}JSON error`);
  assert.equal(r.json?.error?.code, code, `${where}code: ${r.text.slice(0, 300)}`);
  assert.ok(typeof r.json.error.message === 'string' && r.json.error.message.length > 0, `${where}message`);
}

/** Every key an issue carries. */
const ISSUE = {
  id: prefixed('iss_'), endpoint_id: prefixed('ep_'), title: nullOrString, culprit: nullOrString,
  kind: oneOf('sentry', 'trackx', 'report'), state: oneOf('open', 'resolved', 'ignored'),
  count: isInt, sessions: isInt, dropped: isInt, first_seen: isInt, last_seen: isInt,
  state_changed: (v) => v === null || Number.isInteger(v), level: nullOrString, uri: nullOrString,
  release: nullOrString, environment: nullOrString, last_event: (v) => v === null || (typeof v === 'string' && v.startsWith('evt_')),
};

/** One page of issues. */
async function issuesPage(ep, query = {}, client = api) {
  const q = new URLSearchParams(query);
  const j = await getJson(`/api/v1/endpoints/${ep.id}/issues?${q}`, client);
  assert.ok(Array.isArray(j.data), JSON.stringify(j));
  assert.ok(j.next_cursor === null || (typeof j.next_cursor === 'string' && j.next_cursor.startsWith('cur_')), `next_cursor: ${j.next_cursor}`);
  for (const i of j.data) assertShape(i, { ...ISSUE, endpoint_id: ep.id });
  return j;
}

/** Every issue through pages of `limit`; fails on a repeated id. */
async function walkIssues(ep, query = {}, limit = 200) {
  const out = [];
  const seen = new Set();
  let cursor = null;
  for (let pages = 1; pages < 500; pages++) {
    const q = { ...query, limit: String(limit) };
    if (cursor) q.cursor = cursor;
    const j = await issuesPage(ep, q);
    assert.ok(j.data.length <= limit, `a page holds at most ${limit}`);
    for (const i of j.data) {
      assert.ok(!seen.has(i.id), `issue ${i.id} (${i.title}) on two pages (${JSON.stringify(query)}, limit ${limit})`);
      seen.add(i.id);
      out.push(i);
    }
    cursor = j.next_cursor;
    if (!cursor) return { issues: out, pages };
    assert.equal(j.data.length, limit, 'a page before the last is full');
  }
  throw new Error('too many pages');
}

const titles = (list) => list.map((i) => i.title);

/** Function names of their own per message: events group by type and stack. */
const fnFor = (text) => `fn_${createHash('sha256').update(String(text)).digest('hex').slice(0, 10)}`;

/** POST /v1/{key}/event (a TrackX event: "<name>: <message>", culprit "<fn> (/js/app.js)"). */
async function trackx(ep, message, { name = 'Error', fn = fnFor(`${name}:${message}`), ua = 'Mozilla/5.0 tests', origin = 'https://shop.example', expect = 200, extra = {} } = {}) {
  const body = {
    name, message, type: 1, uri: 'https://shop.example/page',
    stack: `${name}: ${message}\n    at ${fn} (https://shop.example/js/app.js:3:7)`,
    meta: { _c: 'd', _v: '0.6.1' }, ...extra,
  };
  const headers = { 'Content-Type': 'application/json', 'User-Agent': ua };
  if (origin) headers.Origin = origin;
  const r = await request(`${inlet.url}/v1/${ep.key}/event`, { method: 'POST', headers, body: JSON.stringify(body) });
  assert.equal(r.status, expect, `event "${message}": ${r.status} ${r.text}`);
  return r.json;
}

async function ping(ep, { ua = 'Mozilla/5.0 tests', origin = 'https://shop.example' } = {}) {
  const headers = { 'User-Agent': ua };
  if (origin) headers.Origin = origin;
  const r = await request(`${inlet.url}/v1/${ep.key}/ping`, { headers });
  assert.equal(r.status, 200, r.text);
}

/** The one issue whose title is `title`. */
async function issueTitled(ep, title) {
  const all = (await walkIssues(ep)).issues.filter((i) => i.title === title);
  assert.equal(all.length, 1, `one issue titled ${JSON.stringify(title)}`);
  return all[0];
}

const getIssue = (id, client = api) => getJson(`/api/v1/issues/${id}`, client);
const getEvent = (id, client = api) => getJson(`/api/v1/events/${id}`, client);

async function patchIssue(id, state, client = api) {
  return client.patch(`/api/v1/issues/${id}`, { state });
}

async function statsRows(ep, days = 1) {
  return (await getJson(`/api/v1/endpoints/${ep.id}/stats?days=${days}`)).data;
}

async function sessionsOf(ep) {
  const j = await getJson(`/api/v1/endpoints/${ep.id}/sessions?from=${Date.now() - 3 * HOUR}&to=${Date.now() + HOUR}`);
  const sum = { sessions: 0, errored: 0, crashed: 0 };
  for (const b of j.data) {
    assert.equal(b.t % HOUR, 0, `a bucket starts on the hour: ${b.t}`);
    for (const k of Object.keys(sum)) {
      assert.ok(Number.isInteger(b[k]), `${k} is an integer: ${JSON.stringify(b)}`);
      sum[k] += b[k];
    }
  }
  return sum;
}

// ---------------------------------------------------------------------------
// Search

test('search: a substring in the middle of a word, any case; the culprit too; none; 2 characters; trigrams present but not adjacent', T, async () => {
  const ep = await eventsEndpoint('search');
  await trackx(ep, 'PaymentGatewayTimeout while charging');
  await trackx(ep, 'Quantity overflow in basket', { name: 'RangeError' });
  await trackx(ep, 'abcd cdab', { name: 'TypeError' });
  await trackx(ep, 'generic failure', { fn: 'renderWishlistPanel' });
  await trackx(ep, 'Ünïcödé naïve façade', { name: 'SyntaxError' });
  const all = (await walkIssues(ep)).issues;
  assert.equal(all.length, 5);
  const search = async (q) => titles((await walkIssues(ep, { q })).issues).sort();
  // What a substring search must give: computed from what the API shows.
  const expected = (q) => titles(all.filter((i) => `${i.title}\n${i.culprit}`.toLowerCase().includes(q.toLowerCase()))).sort();

  assert.deepEqual(await search('gatewaytime'), ['Error: PaymentGatewayTimeout while charging'], 'middle of a word, other case');
  assert.deepEqual(await search('GATEWAYTIMEOUT WHILE'), ['Error: PaymentGatewayTimeout while charging'], 'across a space, upper case');
  assert.deepEqual(await search('rFlOw In'), ['RangeError: Quantity overflow in basket']);
  assert.deepEqual(await search('wishlistpan'), ['Error: generic failure'], 'the culprit is searched too');
  assert.equal((await issueTitled(ep, 'Error: generic failure')).culprit, 'renderWishlistPanel (/js/app.js)');
  assert.deepEqual(await search('rangeerror: quan'), ['RangeError: Quantity overflow in basket'], 'the type is part of the title');
  assert.deepEqual(await search('naïve faç'), ['SyntaxError: Ünïcödé naïve façade'], 'non-ASCII');
  assert.deepEqual(await search('zzqqxx'), [], 'no match');
  assert.deepEqual(await search('timeoutx'), [], 'a longer string than any title holds');
  // Every trigram of "abcdab" (abc, bcd, cda, dab) is in "abcd cdab", but not the string.
  assert.deepEqual(await search('abcdab'), [], 'trigrams present, not adjacent');
  assert.deepEqual(await search('cd cd'), ['TypeError: abcd cdab']);
  // Short queries: scanned, still a substring match.
  for (const q of ['ow', 'OW', 'é', 'in', 'zq']) {
    assert.deepEqual(await search(q), expected(q), `q=${q}`);
  }
  assert.ok((await search('ow')).length >= 1 && (await search('ow')).length < all.length, 'the 2-character query filters');
  assert.deepEqual(await search('zq'), []);
  // An empty q is no filter.
  assert.equal((await search('')).length, 5);
  // Search pages like the list: limit 1 with three matches.
  const many = await walkIssues(ep, { q: 'e' }, 1);
  assert.deepEqual(titles(many.issues).sort(), expected('e'));
  assert.equal(many.pages, expected('e').length);
});

// ---------------------------------------------------------------------------
// Sorting and keyset pages

test('sort by last_seen, first_seen, events and sessions (descending); limit=2 pages cover every issue once, in order', T, async () => {
  const ep = await eventsEndpoint('sorting');
  const ua = (n) => `Mozilla/5.0 visitor-${n}`;
  const step = () => sleep(4);
  // P: 4 events, 1 visitor; Q: 3 events, 3 visitors; R: 2 events, 2 visitors.
  for (let i = 0; i < 3; i++) { await trackx(ep, 'issue P', { ua: ua(1) }); await step(); }
  for (const n of [1, 2, 3]) { await trackx(ep, 'issue Q', { ua: ua(n) }); await step(); }
  for (const n of [1, 2]) { await trackx(ep, 'issue R', { ua: ua(n) }); await step(); }
  await trackx(ep, 'issue P', { ua: ua(1) });
  await step();
  // Seven more with one event each: ties for events and sessions.
  for (let k = 0; k < 7; k++) { await trackx(ep, `filler ${k}`, { ua: ua(10 + k) }); await step(); }

  const byTitle = Object.fromEntries((await walkIssues(ep)).issues.map((i) => [i.title, i]));
  assert.deepEqual([byTitle['Error: issue P'].count, byTitle['Error: issue Q'].count, byTitle['Error: issue R'].count], [4, 3, 2], 'counts');
  assert.deepEqual([byTitle['Error: issue P'].sessions, byTitle['Error: issue Q'].sessions, byTitle['Error: issue R'].sessions], [1, 3, 2], 'sessions: distinct visitors');
  for (let k = 0; k < 7; k++) assertShape(byTitle[`Error: filler ${k}`], { count: 1, sessions: 1 });
  for (const i of Object.values(byTitle)) assert.ok(i.first_seen <= i.last_seen);

  const key = { last_seen: (i) => i.last_seen, first_seen: (i) => i.first_seen, events: (i) => i.count, sessions: (i) => i.sessions };
  const pqr = { last_seen: ['P', 'R', 'Q'], first_seen: ['R', 'Q', 'P'], events: ['P', 'Q', 'R'], sessions: ['Q', 'R', 'P'] };
  for (const sort of Object.keys(key)) {
    const full = (await walkIssues(ep, { sort })).issues;
    assert.equal(full.length, 10);
    for (let i = 1; i < full.length; i++) {
      assert.ok(key[sort](full[i - 1]) >= key[sort](full[i]), `sort=${sort}: descending at ${i}: ${titles(full)}`);
    }
    const order = titles(full).filter((t) => /issue [PQR]$/.test(t)).map((t) => t.slice(-1));
    assert.deepEqual(order, pqr[sort], `sort=${sort}`);
    const paged = await walkIssues(ep, { sort }, 2);
    assert.equal(paged.pages, 5, `sort=${sort}: 10 issues in 5 pages of 2`);
    assert.deepEqual(paged.issues.map((i) => i.id), full.map((i) => i.id), `sort=${sort}: the pages are the full list, no duplicates, no gaps`);
    const three = await walkIssues(ep, { sort }, 3);
    assert.deepEqual(three.issues.map((i) => i.id), full.map((i) => i.id), `sort=${sort}, limit 3`);
  }
  // The default is last_seen.
  assert.deepEqual((await walkIssues(ep)).issues.map((i) => i.id), (await walkIssues(ep, { sort: 'last_seen' })).issues.map((i) => i.id));
  // A new event moves its issue to the top of last_seen, and up in events.
  await trackx(ep, 'filler 0', { ua: ua(10) });
  const now = (await issuesPage(ep, { sort: 'last_seen', limit: '1' })).data[0];
  assert.equal(now.title, 'Error: filler 0');
  assert.equal(now.count, 2);
  assert.equal(now.sessions, 1, 'the same visitor again: still one session');
  // A cursor made under one sort, then walked with the same sort while nothing changes, stays consistent.
  const p1 = await issuesPage(ep, { sort: 'events', limit: '4' });
  const p2 = await issuesPage(ep, { sort: 'events', limit: '4', cursor: p1.next_cursor });
  assert.equal(new Set([...p1.data, ...p2.data].map((i) => i.id)).size, 8);
});

// ---------------------------------------------------------------------------
// States

test('state filter; resolve → a new event reopens; ignore → answered 200, not stored, dropped +1; open again → stored', T, async () => {
  const ep = await eventsEndpoint('states');
  for (const m of ['alpha', 'beta', 'gamma', 'delta', 'epsilon']) await trackx(ep, `state ${m}`);
  const beta = await issueTitled(ep, 'Error: state beta');
  const gamma = await issueTitled(ep, 'Error: state gamma');
  assert.equal(beta.state, 'open');
  assert.equal(beta.state_changed, null, 'never changed');

  const t0 = Date.now();
  const rb = await patchIssue(beta.id, 'resolved');
  assert.equal(rb.status, 200, rb.text);
  assertShape(rb.json, { ...ISSUE, id: beta.id, state: 'resolved', count: 1 });
  assert.ok(rb.json.state_changed >= t0 - 1000 && rb.json.state_changed <= Date.now() + 1000, `state_changed is now: ${rb.json.state_changed}`);
  const rg = await patchIssue(gamma.id, 'ignored');
  assert.equal(rg.status, 200, rg.text);
  assert.equal(rg.json.state, 'ignored');

  const list = async (state, limit) => titles((await walkIssues(ep, { state }, limit)).issues).sort();
  assert.deepEqual(await list('open'), ['Error: state alpha', 'Error: state delta', 'Error: state epsilon']);
  assert.deepEqual(await list('open', 2), ['Error: state alpha', 'Error: state delta', 'Error: state epsilon'], 'state filter with pages');
  assert.deepEqual(await list('resolved'), ['Error: state beta']);
  assert.deepEqual(await list('ignored'), ['Error: state gamma']);
  assert.equal((await walkIssues(ep)).issues.length, 5, 'no filter: all');
  assert.equal((await getIssue(beta.id)).state, 'resolved');

  // Resolved, then it happens again: open, counted.
  await sleep(5);
  const again = await trackx(ep, 'state beta');
  const reopened = await getIssue(beta.id);
  assertShape(reopened, { state: 'open', count: 2, last_event: again.id });
  assert.ok(reopened.last_seen > beta.last_seen);
  assert.deepEqual(await list('resolved'), []);

  // Ignored: the event is answered 200 (clients must not retry) but not stored.
  const beforeStats = (await statsRows(ep))[0];
  const dropped = await trackx(ep, 'state gamma');
  assert.match(dropped.id, /^evt_/, 'answered like a stored one');
  await trackx(ep, 'state gamma');
  const ig = await getIssue(gamma.id);
  assertShape(ig, { state: 'ignored', count: 1, dropped: 2, last_seen: gamma.last_seen });
  const evs = await getJson(`/api/v1/issues/${gamma.id}/events`);
  assert.equal(evs.data.length, 1, 'no new event listed');
  assertError(await api.get(`/api/v1/events/${dropped.id}`), 404, 'not_found', 'the dropped event');
  const afterStats = (await statsRows(ep))[0];
  assert.equal(afterStats.events, beforeStats.events, 'a dropped event is not counted as stored');
  assert.equal(afterStats.ignored, beforeStats.ignored + 2, 'counted as ignored');

  // Open again: stored again.
  const ro = await patchIssue(gamma.id, 'open');
  assert.equal(ro.json.state, 'open');
  await trackx(ep, 'state gamma');
  assertShape(await getIssue(gamma.id), { state: 'open', count: 2, dropped: 2 });

  // Bad states.
  for (const body of [{ state: 'closed' }, { state: '' }, { state: 1 }, {}, { state: 'OPEN' }]) {
    const r = await api.patch(`/api/v1/issues/${beta.id}`, body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.status} ${r.text}`);
    assert.equal(r.json?.error?.code, 'invalid', r.text);
  }
  const notJson = await api.call('PATCH', `/api/v1/issues/${beta.id}`, 'state=resolved', { 'Content-Type': 'application/x-www-form-urlencoded' });
  assert.ok([400, 415].includes(notJson.status), `a form body: ${notJson.status}`);
  assert.equal((await getIssue(beta.id)).state, 'open', 'unchanged by the bad requests');
});

// ---------------------------------------------------------------------------
// Events of an issue

test('an issue\'s events: newest first, limit=2 pages, previous/next/first/last walk them', T, async () => {
  const ep = await eventsEndpoint('events-list');
  const ids = [];
  for (let i = 0; i < 5; i++) {
    ids.push((await trackx(ep, 'repeated failure', { extra: { meta: { n: i } } })).id);
    await sleep(3);
  }
  const other = await trackx(ep, 'another failure');
  const issue = await issueTitled(ep, 'Error: repeated failure');
  assertShape(issue, { count: 5, last_event: ids[4] });

  const pages = [];
  let cursor = null;
  for (let n = 0; n < 10; n++) {
    const q = new URLSearchParams({ limit: '2' });
    if (cursor) q.set('cursor', cursor);
    const j = await getJson(`/api/v1/issues/${issue.id}/events?${q}`);
    pages.push(j.data);
    for (const e of j.data) assertShape(e, { id: prefixed('evt_'), received: isInt, title: 'Error: repeated failure', level: 'error', uri: 'https://shop.example/page' });
    cursor = j.next_cursor;
    if (!cursor) break;
  }
  assert.deepEqual(pages.map((p) => p.length), [2, 2, 1]);
  const listed = pages.flat().map((e) => e.id);
  assert.deepEqual(listed, [...ids].reverse(), 'newest first, each once');
  const received = pages.flat().map((e) => e.received);
  for (let i = 1; i < received.length; i++) assert.ok(received[i - 1] >= received[i]);
  const all = await getJson(`/api/v1/issues/${issue.id}/events`);
  assert.deepEqual(all.data.map((e) => e.id), listed);
  assert.equal(all.next_cursor, null);

  for (let i = 0; i < ids.length; i++) {
    const ev = await getEvent(ids[i]);
    assertShape(ev, {
      id: ids[i], issue: issue.id, endpoint_id: ep.id, kind: 'trackx', received: isNumber,
      previous: i > 0 ? ids[i - 1] : null, next: i < ids.length - 1 ? ids[i + 1] : null,
      first: ids[0], last: ids[ids.length - 1],
    });
    assert.equal(ev.data.meta.n, i);
    assertShape(ev.meta, { user_agent: 'Mozilla/5.0 tests', origin: 'https://shop.example', ip_hash: /^[0-9a-f]{16,}$/ });
    assert.ok(!('ip' in ev.meta), 'ip "hash": no address');
  }
  // The other issue's event stands alone.
  assertShape(await getEvent(other.id), { previous: null, next: null, first: other.id, last: other.id });
  // A cursor that is no event id, or another endpoint's event, is refused.
  assertError(await api.get(`/api/v1/issues/${issue.id}/events?cursor=garbage`), 400, 'invalid', 'garbage cursor');
  const elsewhere = await eventsEndpoint('events-elsewhere');
  const foreign = await trackx(elsewhere, 'foreign');
  assertError(await api.get(`/api/v1/issues/${issue.id}/events?cursor=${foreign.id}`), 400, 'invalid', 'another endpoint\'s event as cursor');
});

test('ip setting: "store" keeps the address, "drop" keeps neither', T, async () => {
  const store = await eventsEndpoint('ip-store', { ip: 'store' });
  const drop = await eventsEndpoint('ip-drop', { ip: 'drop' });
  const a = await getEvent((await trackx(store, 'ip kept')).id);
  assert.equal(a.meta.ip, '127.0.0.1');
  assert.ok(!('ip_hash' in a.meta));
  const b = await getEvent((await trackx(drop, 'ip dropped')).id);
  assert.ok(!('ip' in b.meta) && !('ip_hash' in b.meta), JSON.stringify(b.meta));
});

// ---------------------------------------------------------------------------
// Graph

test('an issue\'s graph: hourly and daily points on their boundaries, summing to its count; 400 for bad parameters', T, async () => {
  const ep = await eventsEndpoint('graph');
  for (let i = 0; i < 3; i++) await trackx(ep, 'graphed');
  await trackx(ep, 'not graphed');
  const issue = await issueTitled(ep, 'Error: graphed');
  const now = Date.now();

  const hourly = await getJson(`/api/v1/issues/${issue.id}/graph`);
  assert.equal(hourly.interval, 'hour');
  assert.equal(hourly.data.reduce((s, p) => s + p.count, 0), 3);
  for (const p of hourly.data) assert.equal(p.t % HOUR, 0);
  assert.ok(hourly.data.some((p) => p.t === now - (now % HOUR) && p.count === 3), `this hour holds 3: ${JSON.stringify(hourly.data)}`);
  const h2 = await getJson(`/api/v1/issues/${issue.id}/graph?interval=hour&from=${now - 2 * HOUR}&to=${now + HOUR}`);
  assert.equal(h2.data.reduce((s, p) => s + p.count, 0), 3);

  const daily = await getJson(`/api/v1/issues/${issue.id}/graph?interval=day`);
  assert.equal(daily.interval, 'day');
  for (const p of daily.data) assert.equal(p.t % DAY, 0);
  assert.equal(daily.data.reduce((s, p) => s + p.count, 0), 3);
  const iso = await getJson(`/api/v1/issues/${issue.id}/graph?interval=day&from=${new Date(now - 3 * DAY).toISOString()}&to=${new Date(now + DAY).toISOString()}`);
  assert.equal(iso.data.reduce((s, p) => s + p.count, 0), 3, 'ISO 8601 from/to');

  const before = await getJson(`/api/v1/issues/${issue.id}/graph?from=${now - 10 * HOUR}&to=${now - 5 * HOUR}`);
  assert.equal(before.data.reduce((s, p) => s + p.count, 0), 0, 'nothing before the events');

  for (const [q, what] of [
    ['interval=week', 'interval'], ['interval=HOUR', 'interval case'], ['from=yesterday', 'from'], ['to=tomorrow', 'to'],
    [`from=${now}&to=${now - HOUR}`, 'from after to'], [`interval=hour&from=0&to=${now}`, 'too many hourly points'],
  ]) assertError(await api.get(`/api/v1/issues/${issue.id}/graph?${q}`), 400, 'invalid', what);
});

// ---------------------------------------------------------------------------
// Sessions

test('sessions: one visitor pinging twice is one session; another User-Agent another; an event from a pinged visitor makes it errored', T, async () => {
  const ep = await eventsEndpoint('sessions');
  await ping(ep, { ua: 'UA-one' });
  await ping(ep, { ua: 'UA-one' });
  assert.deepEqual(await sessionsOf(ep), { sessions: 1, errored: 0, crashed: 0 }, 'the same visitor twice: one session');
  await ping(ep, { ua: 'UA-two' });
  assert.deepEqual(await sessionsOf(ep), { sessions: 2, errored: 0, crashed: 0 }, 'another User-Agent: another session');
  await ping(ep, { ua: 'UA-one', origin: 'https://other.example' });
  assert.deepEqual(await sessionsOf(ep), { sessions: 3, errored: 0, crashed: 0 }, 'another origin: another visitor');

  await trackx(ep, 'visitor one broke it', { ua: 'UA-one' });
  assert.deepEqual(await sessionsOf(ep), { sessions: 3, errored: 1, crashed: 0 }, 'the pinged visitor\'s session is errored');
  await trackx(ep, 'visitor one broke it again', { ua: 'UA-one' });
  await ping(ep, { ua: 'UA-one' });
  assert.deepEqual(await sessionsOf(ep), { sessions: 3, errored: 1, crashed: 0 }, 'errored once, however many errors');
  const issue = await issueTitled(ep, 'Error: visitor one broke it');
  assert.equal(issue.sessions, 1);

  // Sentry SDK sessions count too: one crashed.
  const now = new Date().toISOString();
  const env = [
    JSON.stringify({ sent_at: now }),
    JSON.stringify({ type: 'session' }),
    JSON.stringify({ sid: randomUUID(), init: true, started: now, status: 'crashed', errors: 1, attrs: { release: 'app@1' } }),
  ].join('\n');
  const r = await request(`${inlet.url}/api/${ep.project_id}/envelope/?sentry_key=${ep.key}`, { method: 'POST', body: env });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(await sessionsOf(ep), { sessions: 4, errored: 2, crashed: 1 });

  // Buckets: this hour holds them; bad ranges are refused.
  const j = await getJson(`/api/v1/endpoints/${ep.id}/sessions`);
  const t = Date.now() - (Date.now() % HOUR);
  assert.ok(j.data.some((b) => b.t === t && b.sessions === 4), JSON.stringify(j.data));
  assertError(await api.get(`/api/v1/endpoints/${ep.id}/sessions?from=abc`), 400, 'invalid', 'from');
  assertError(await api.get(`/api/v1/endpoints/${ep.id}/sessions?from=${Date.now()}&to=${Date.now() - HOUR}`), 400, 'invalid', 'from after to');
  assertError(await api.get(`/api/v1/endpoints/${ep.id}/sessions?from=0&to=${Date.now()}`), 400, 'invalid', 'longer than 92 days');
});

// ---------------------------------------------------------------------------
// Stats

test('stats: events, pings, reports, ignored and denied by code per day; days=N rows oldest first; account-wide api requests', T, async () => {
  const ep = await eventsEndpoint('stats', { allowed_origins: ['https://shop.example'] });
  await trackx(ep, 'counted one');
  await trackx(ep, 'counted two', { origin: null });
  await ping(ep, { ua: 'a' });
  await ping(ep, { ua: 'b' });
  await ping(ep, { ua: 'a' });
  const rep = await request(`${inlet.url}/v1/${ep.key}/report`, {
    method: 'POST', headers: { 'Content-Type': 'application/reports+json' },
    body: JSON.stringify([
      { type: 'deprecation', url: 'https://shop.example/', body: { id: 'A', message: 'old api A' } },
      { type: 'deprecation', url: 'https://shop.example/', body: { id: 'B', message: 'old api B' } },
      7,
    ]),
  });
  assert.deepEqual(rep.json, { accepted: 2, skipped: 1 });
  // Refusals.
  const post = (body, headers = {}) => request(`${inlet.url}/v1/${ep.key}/event`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
  assert.equal((await post('{oops')).status, 400);
  assert.equal((await post(JSON.stringify({ type: 500 }))).status, 422);
  assert.equal((await post(JSON.stringify({ name: 7 }))).status, 422);
  assert.equal((await post(JSON.stringify({ message: 'x' }), { Origin: 'https://evil.example' })).status, 403);
  // Ignored.
  const ig = await issueTitled(ep, 'Error: counted one');
  assert.equal((await patchIssue(ig.id, 'ignored')).status, 200);
  await trackx(ep, 'counted one');

  const [today] = await statsRows(ep);
  assert.deepEqual(today, {
    day: new Date().toISOString().slice(0, 10),
    events: 2, pings: 3, reports: 2, ignored: 1,
    denied: { invalid_json: 1, invalid_value: 2, origin_not_allowed: 1 },
  });

  const week = await statsRows(ep, 7);
  assert.equal(week.length, 7);
  const days = week.map((d) => d.day);
  assert.deepEqual([...days].sort(), days, 'oldest first');
  assert.equal(new Set(days).size, 7);
  assert.deepEqual(week[6], today);
  assert.equal(Date.parse(`${week[0].day}T00:00:00Z`), Date.parse(`${today.day}T00:00:00Z`) - 6 * DAY, 'seven consecutive days');
  for (const d of week.slice(0, 6)) assert.deepEqual(d, { day: d.day, events: 0, pings: 0, reports: 0, ignored: 0, denied: {} });
  assert.equal((await getJson(`/api/v1/endpoints/${ep.id}/stats`)).data.length, 30, 'the default is 30 days');

  // Account-wide: management API requests (each request counts, this one too).
  const a1 = await getJson('/api/v1/stats?days=1');
  assert.equal(a1.data.length, 1);
  assertShape(a1.data[0], { day: today.day, api: isInt });
  await api.get('/api/v1/account');
  await api.get(`/api/v1/endpoints/${ep.id}`);
  await api.get(`/api/v1/endpoints/${ep.id}/issues`);
  const a2 = await getJson('/api/v1/stats?days=1');
  assert.equal(a2.data[0].api - a1.data[0].api, 4, `three requests and the stats read itself: ${a1.data[0].api} → ${a2.data[0].api}`);
  // Ingest requests are no API requests.
  await trackx(ep, 'not an api request');
  await ping(ep);
  const a3 = await getJson('/api/v1/stats?days=1');
  assert.equal(a3.data[0].api - a2.data[0].api, 1, 'only the stats read itself');
  // Another account's counter is its own.
  const b1 = await getJson('/api/v1/stats?days=1', apiB);
  const b2 = await getJson('/api/v1/stats?days=1', apiB);
  assert.equal(b2.data[0].api - b1.data[0].api, 1);
  assert.equal((await getJson('/api/v1/stats?days=1')).data[0].api - a3.data[0].api, 1, 'B\'s requests are not A\'s');

  for (const q of ['days=0', 'days=367', 'days=abc', 'days=1.5', 'days=-1', 'days=']) {
    if (q === 'days=') continue; // empty: the default
    assertError(await api.get(`/api/v1/endpoints/${ep.id}/stats?${q}`), 400, 'invalid', `endpoint stats ${q}`);
    assertError(await api.get(`/api/v1/stats?${q}`), 400, 'invalid', `account stats ${q}`);
  }
});

// ---------------------------------------------------------------------------
// Isolation, deletion, bad parameters

test('another account: every id of this one (endpoint, issue, event) → 404 not_found, and nothing changes', T, async () => {
  const ep = await eventsEndpoint('private');
  const ev = await trackx(ep, 'private failure');
  const issue = await issueTitled(ep, 'Error: private failure');
  const paths = [
    `/api/v1/endpoints/${ep.id}`,
    `/api/v1/endpoints/${ep.id}/issues`,
    `/api/v1/endpoints/${ep.id}/issues?q=private`,
    `/api/v1/endpoints/${ep.id}/sessions`,
    `/api/v1/endpoints/${ep.id}/stats`,
    `/api/v1/issues/${issue.id}`,
    `/api/v1/issues/${issue.id}/events`,
    `/api/v1/issues/${issue.id}/graph`,
    `/api/v1/events/${ev.id}`,
  ];
  for (const p of paths) assertError(await apiB.get(p), 404, 'not_found', `B GET ${p}`);
  assertError(await patchIssue(issue.id, 'ignored', apiB), 404, 'not_found', 'B PATCH issue');
  assertError(await apiB.del(`/api/v1/endpoints/${ep.id}`), 404, 'not_found', 'B DELETE endpoint');
  const bList = await getJson('/api/v1/endpoints', apiB);
  assert.ok(!JSON.stringify(bList).includes(ep.id), 'B does not list A\'s endpoint');
  // A still sees it all, unchanged.
  assertShape(await getIssue(issue.id), { state: 'open', count: 1 });
  assert.equal((await getEvent(ev.id)).issue, issue.id);
  // B's own events endpoint does not show A's issues.
  const bEp = await eventsEndpoint('b-own', {}, apiB);
  assert.deepEqual((await getJson(`/api/v1/endpoints/${bEp.id}/issues`, apiB)).data, []);
  // Forged or foreign-shaped ids are 404 too.
  for (const p of ['/api/v1/issues/iss_AAAAAAAAAAAAAAAAAAAAAA', '/api/v1/events/evt_AAAAAAAAAAAAAAAAAAAAAA', `/api/v1/issues/${ev.id}`, `/api/v1/events/${issue.id}`]) {
    assertError(await api.get(p), 404, 'not_found', p);
  }
});

test('DELETE an events endpoint: its issues and events answer 404, its key is unknown', T, async () => {
  const ep = await eventsEndpoint('doomed');
  const keep = await eventsEndpoint('kept');
  const ev = await trackx(ep, 'doomed failure');
  const kept = await trackx(keep, 'kept failure');
  const issue = await issueTitled(ep, 'Error: doomed failure');
  // A Sentry event with an attachment too: its sealed file must go with it.
  const sid = randomBytes(16).toString('hex');
  const env = Buffer.concat([
    Buffer.from(`{"event_id":"${sid}"}\n{"type":"event"}\n${JSON.stringify({ event_id: sid, message: 'doomed sentry' })}\n`),
    Buffer.from('{"type":"attachment","length":4096,"filename":"core.bin"}\n'), randomBytes(4096), Buffer.from('\n'),
  ]);
  const se = await request(`${inlet.url}/api/${ep.project_id}/envelope/?sentry_key=${ep.key}`, { method: 'POST', body: env });
  assert.equal(se.status, 200, se.text);
  const sIssue = await issueTitled(ep, 'doomed sentry');
  const sEvent = (await getJson(`/api/v1/issues/${sIssue.id}/events`)).data[0];
  assert.equal((await getEvent(sEvent.id)).attachments.length, 1);
  const blobDir = path.join(inlet.dataDir, 'blobs');
  const blobCount = async () => {
    let n = 0;
    const walk = async (d) => {
      let ents;
      try { ents = await readdir(d, { withFileTypes: true }); } catch (e) { if (e.code === 'ENOENT') return; throw e; }
      for (const x of ents) {
        if (x.isDirectory()) { if (x.name !== '.tmp') await walk(path.join(d, x.name)); } else n++;
      }
    };
    await walk(blobDir);
    return n;
  };
  assert.equal(await blobCount(), 1, 'the attachment is on disk (sealed)');
  const d = await api.del(`/api/v1/endpoints/${ep.id}`);
  assert.ok(d.status === 200 || d.status === 204, `DELETE → ${d.status} ${d.text}`);
  assertError(await api.get(`/api/v1/issues/${issue.id}`), 404, 'not_found', 'issue');
  assertError(await api.get(`/api/v1/issues/${issue.id}/events`), 404, 'not_found', 'issue events');
  assertError(await api.get(`/api/v1/events/${ev.id}`), 404, 'not_found', 'event');
  assertError(await api.get(`/api/v1/endpoints/${ep.id}/issues`), 404, 'not_found', 'issues list');
  const r = await request(`${inlet.url}/v1/${ep.key}/event`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ message: 'after delete' }) });
  assertError(r, 404, 'unknown_key', 'ingest after delete');
  assertError(await api.get(`/api/v1/issues/${sIssue.id}`), 404, 'not_found', 'sentry issue');
  assertError(await api.get(`/api/v1/events/${sEvent.id}`), 404, 'not_found', 'sentry event');
  // Its attachment leaves the disk (allowing a moment for a clean-up after the answer).
  const deadline = Date.now() + 5000 * SCALE;
  while ((await blobCount()) > 0 && Date.now() < deadline) await sleep(100);
  assert.equal(await blobCount(), 0, 'the deleted endpoint\'s attachment is gone from blobs/');
  // The other endpoint is untouched.
  assert.equal((await getEvent(kept.id)).data.message, 'kept failure');
});

test('400 invalid for bad query parameters of the issues list and events list', T, async () => {
  const ep = await eventsEndpoint('bad-params');
  const ev = await trackx(ep, 'params');
  const issue = await issueTitled(ep, 'Error: params');
  const bad = [
    'state=bogus', 'state=OPEN', 'sort=bogus', 'sort=count', 'limit=0', 'limit=201', 'limit=abc', 'limit=-1', 'limit=2.5',
    'cursor=garbage', `cursor=${ev.id}`, `cursor=${issue.id}`, 'cursor=cur_AAAAAAAAAAAAAAAAAAAAAA',
  ];
  for (const q of bad) assertError(await api.get(`/api/v1/endpoints/${ep.id}/issues?${q}`), 400, 'invalid', `issues ${q}`);
  for (const q of ['limit=0', 'limit=201', 'limit=x', 'cursor=garbage', `cursor=${issue.id}`]) {
    assertError(await api.get(`/api/v1/issues/${issue.id}/events?${q}`), 400, 'invalid', `events ${q}`);
  }
  // The limits themselves are fine.
  for (const q of ['limit=1', 'limit=200', 'state=open', 'state=resolved', 'state=ignored', 'sort=first_seen', 'q=pa']) {
    assert.equal((await api.get(`/api/v1/endpoints/${ep.id}/issues?${q}`)).status, 200, q);
  }
  // Without a token: 401.
  const anon = apiClient(inlet.url, null);
  assert.equal((await anon.get(`/api/v1/endpoints/${ep.id}/issues`)).status, 401);
  assert.equal((await anon.get(`/api/v1/issues/${issue.id}`)).status, 401);
});
