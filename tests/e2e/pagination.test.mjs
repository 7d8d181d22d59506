// Keyset pagination of an endpoint's submissions: pages, order, limits,
// status filter, since/until (ISO 8601 and unix ms), and stability when new
// submissions arrive while a client pages.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeDataDir, startServer, cleanup, newAccount } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, postForm } from '../lib/http.mjs';

const T = { timeout: 120_000 };
const NO_LIMIT = { rate_limit: { per_minute: 0, burst: 1 } };
let server;
let api;
let ep;
/** The 25 posts, oldest first: {n, id, t (created_at in ms)}. */
const posted = [];

before(async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  server = await startServer(data);
  api = apiClient(server.url, acct.token);
  ep = await createEndpoint(api, 'paged', NO_LIMIT);
  // One at a time, a few ms apart, so that created_at strictly increases.
  for (let n = 0; n < 25; n++) {
    const r = await postForm(server.url, ep.key, 'json', { n });
    assert.equal(r.status, 200, r.text);
    posted.push({ n, id: r.json.id });
    await sleep(4);
  }
  const all = await page(`limit=200`);
  const byId = new Map(all.json.data.map((s) => [s.id, s]));
  for (const p of posted) p.t = Date.parse(byId.get(p.id).created_at);
});
after(cleanup);

function page(query, endpointId = ep.id) {
  return api.get(`/api/v1/endpoints/${endpointId}/submissions?${query}`);
}

/** Follows next_cursor from the first page; returns the pages' data arrays. */
async function walk(query) {
  const pages = [];
  let cursor = null;
  for (let i = 0; i < 100; i++) {
    const q = new URLSearchParams(query);
    if (cursor) q.set('cursor', cursor);
    const r = await page(q.toString());
    assert.equal(r.status, 200, r.text);
    pages.push(r.json.data);
    cursor = r.json.next_cursor;
    if (cursor === null) return pages;
    assert.equal(typeof cursor, 'string');
    assert.ok(cursor.length > 0);
  }
  assert.fail('more than 100 pages');
}

const ns = (data) => data.map((s) => s.fields.n);
const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => to - i); // to..from, newest first

test('created_at increases with each post (test precondition)', T, async () => {
  for (let i = 1; i < posted.length; i++) assert.ok(posted[i].t > posted[i - 1].t, `post ${i} later than ${i - 1}`);
});

test('limit=10: pages of 10, 10, 5; newest first; no duplicates; null cursor at the end', T, async () => {
  const pages = await walk('limit=10');
  assert.deepEqual(pages.map((p) => p.length), [10, 10, 5]);
  const all = pages.flat();
  assert.deepEqual(ns(all), range(0, 24));
  assert.equal(new Set(all.map((s) => s.id)).size, 25, 'no duplicates');
  for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].created_at >= all[i].created_at, 'newest first');
});

test('a page that ends exactly at the last item', T, async () => {
  const pages = await walk('limit=5');
  assert.deepEqual(pages.map((p) => p.length).filter((x) => x > 0), [5, 5, 5, 5, 5]);
  assert.ok(pages.length <= 6, 'at most one trailing empty page');
  assert.deepEqual(ns(pages.flat()), range(0, 24));
});

test('limit=1 walks every item', T, async () => {
  const pages = await walk('limit=1');
  assert.deepEqual(ns(pages.flat()), range(0, 24));
});

test('a cursor from one page gives the same next page twice', T, async () => {
  const first = await page('limit=10');
  const c = first.json.next_cursor;
  const a = await page(`limit=10&cursor=${encodeURIComponent(c)}`);
  const b = await page(`limit=10&cursor=${encodeURIComponent(c)}`);
  assert.deepEqual(ns(a.json.data), ns(b.json.data));
  assert.deepEqual(ns(a.json.data), range(5, 14));
});

test('status filter, alone and with paging', T, async () => {
  const spam = [3, 7, 11];
  const trash = [5, 20];
  for (const n of spam) assert.equal((await api.patch(`/api/v1/submissions/${posted[n].id}`, { status: 'spam' })).status, 200);
  for (const n of trash) assert.equal((await api.patch(`/api/v1/submissions/${posted[n].id}`, { status: 'trash' })).status, 200);
  const inbox = range(0, 24).filter((n) => !spam.includes(n) && !trash.includes(n));

  assert.deepEqual(ns((await walk('status=spam')).flat()), [...spam].reverse());
  assert.deepEqual(ns((await walk('status=trash')).flat()), [...trash].reverse());
  const inboxPages = await walk('status=inbox&limit=7');
  assert.deepEqual(inboxPages.map((p) => p.length).filter((x) => x > 0), [7, 7, 6]);
  assert.deepEqual(ns(inboxPages.flat()), inbox);
  for (const s of inboxPages.flat()) assert.equal(s.status, 'inbox');
  assert.deepEqual(ns((await walk('limit=50')).flat()), range(0, 24), 'no status → all');

  for (const n of [...spam, ...trash]) assert.equal((await api.patch(`/api/v1/submissions/${posted[n].id}`, { status: 'inbox' })).status, 200);
});

test('since/until as ISO 8601 and as unix ms', T, async () => {
  // Bounds strictly between two posts, so inclusive or exclusive ends agree.
  const between = (i) => Math.floor((posted[i].t + posted[i + 1].t) / 2);
  const sinceMs = between(9);
  const untilMs = between(14);
  assert.ok(sinceMs > posted[9].t && sinceMs < posted[10].t, 'posts 9 and 10 are 2+ ms apart');
  assert.ok(untilMs > posted[14].t && untilMs < posted[15].t, 'posts 14 and 15 are 2+ ms apart');
  const iso = (ms) => new Date(ms).toISOString();

  for (const [label, s, u] of [['ISO', iso(sinceMs), iso(untilMs)], ['unix ms', String(sinceMs), String(untilMs)]]) {
    assert.deepEqual(ns((await walk(`since=${encodeURIComponent(s)}`)).flat()), range(10, 24), `${label} since`);
    assert.deepEqual(ns((await walk(`until=${encodeURIComponent(u)}`)).flat()), range(0, 14), `${label} until`);
    const both = await walk(`since=${encodeURIComponent(s)}&until=${encodeURIComponent(u)}&limit=2`);
    assert.deepEqual(both.map((p) => p.length).filter((x) => x > 0), [2, 2, 1], `${label} both, paged`);
    assert.deepEqual(ns(both.flat()), range(10, 14), `${label} since+until`);
  }
  const future = await page(`since=${Date.now() + 3_600_000}`);
  assert.deepEqual(future.json, { ...future.json, data: [], next_cursor: null });
});

test('posts arriving while paging neither repeat nor shift items (keyset, not OFFSET)', T, async () => {
  const first = await page('limit=10');
  assert.deepEqual(ns(first.json.data), range(15, 24));
  for (let i = 0; i < 3; i++) {
    const r = await postForm(server.url, ep.key, 'json', { n: 100 + i });
    assert.equal(r.status, 200);
  }
  const rest = [];
  let cursor = first.json.next_cursor;
  while (cursor) {
    const r = await page(`limit=10&cursor=${encodeURIComponent(cursor)}`);
    rest.push(...r.json.data);
    cursor = r.json.next_cursor;
  }
  assert.deepEqual(ns(rest), range(0, 14), 'the rest of the original list, exactly');
  const top = await page('limit=3');
  assert.deepEqual(ns(top.json.data), [102, 101, 100]);
});

test('default limit is 50, max 200', T, async () => {
  const big = await createEndpoint(api, 'big', NO_LIMIT);
  let next = 0;
  const worker = async () => {
    while (next < 205) {
      const i = next++;
      const r = await postForm(server.url, big.key, 'json', { i });
      assert.equal(r.status, 200, r.text);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const d = await page('', big.id);
  assert.equal(d.status, 200);
  assert.equal(d.json.data.length, 50);
  assert.equal(typeof d.json.next_cursor, 'string');
  const max = await page('limit=200', big.id);
  assert.equal(max.json.data.length, 200);
  assert.equal(typeof max.json.next_cursor, 'string');
  const rest = await page(`limit=200&cursor=${encodeURIComponent(max.json.next_cursor)}`, big.id);
  assert.equal(rest.json.data.length, 5);
  const ids = new Set([...max.json.data, ...rest.json.data].map((s) => s.id));
  assert.equal(ids.size, 205);
  assert.equal((await page('limit=201', big.id)).status, 400);
});

test('a cursor is bound to its endpoint’s list', T, async () => {
  const other = await createEndpoint(api, 'other', NO_LIMIT);
  for (let i = 0; i < 3; i++) assert.equal((await postForm(server.url, other.key, 'json', { o: i })).status, 200);
  const first = await page('limit=10');
  const r = await page(`limit=10&cursor=${encodeURIComponent(first.json.next_cursor)}`, other.id);
  if (r.status === 200) {
    for (const s of r.json.data) assert.equal(s.endpoint_id, other.id, 'never another endpoint’s items');
  } else {
    assert.equal(r.status, 400);
  }
});

test('stops cleanly on SIGTERM', T, async () => {
  await server.stop();
});
