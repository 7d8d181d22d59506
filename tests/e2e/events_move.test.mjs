// A busy events endpoint moves to a database of its own like a form does
// (issue 3's mover): its events by scan and log while new ones keep
// arriving, then, in the cutover, its issues (with their search index),
// hourly graphs, sessions and dictionaries. Everything the API showed
// before, and everything acknowledged during the move, is there after it,
// also after a restart, and the shared database keeps nothing of it.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeDataDir, startServer, cleanup, newAccount, SCALE, storeSql } from '../lib/inlet.mjs';
import { apiClient, request } from '../lib/http.mjs';

after(cleanup);

const sql = (db, q) => execFileSync('sqlite3', [db, q], { encoding: 'utf8' }).trim();

function trackxEvent(base, key, i, ua) {
  const kind = i % 7;
  return request(`${base}/v1/${key}/event`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Origin: 'https://shop.example', 'User-Agent': ua },
    body: JSON.stringify({
      name: 'TypeError',
      message: `Cannot read properties of undefined (reading 'field${kind}')`,
      type: 1,
      uri: `https://shop.example/page/${i}`,
      stack: `TypeError: Cannot read properties of undefined (reading 'field${kind}')\n    at handler${kind} (https://shop.example/app.js:1:${100 + kind})`,
      meta: { n: i },
    }),
  });
}

async function getAll(api, url) {
  const out = [];
  let cursor = null;
  do {
    const r = await api.get(`${url}${url.includes('?') ? '&' : '?'}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(r.status, 200, r.text);
    out.push(...r.json.data);
    cursor = r.json.next_cursor;
  } while (cursor);
  return out;
}

test('an events endpoint moves under load: issues, events, search, sessions and graphs come along', { timeout: 240_000 * SCALE }, async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  let server = await startServer(data, { env: { INLET_SHARD_THRESHOLD: '400' } });
  let api = apiClient(server.url, acct.token);
  const created = await api.post('/api/v1/endpoints', { name: 'busy', kind: 'events', settings: { rate_limit: { per_minute: 0 } } });
  assert.equal(created.status, 201, created.text);
  const ep = created.json;
  const calm = (await api.post('/api/v1/endpoints', { name: 'calm', kind: 'events' })).json;
  assert.equal(ep.location, 'shared');

  // Before: 100 events over 7 issues, pings, one ignored and one resolved issue.
  const acked = new Set();
  for (let i = 0; i < 100; i++) {
    const r = await trackxEvent(server.url, ep.key, i, `agent-${i % 5}`);
    assert.equal(r.status, 200, r.text);
    acked.add(r.json.id);
  }
  for (let u = 0; u < 5; u++) {
    const p = await request(`${server.url}/v1/${ep.key}/ping`, { headers: { Origin: 'https://shop.example', 'User-Agent': `visitor-${u}` } });
    assert.equal(p.status, 200);
  }
  assert.equal((await trackxEvent(server.url, calm.key, 0, 'calm')).status, 200);
  let issues = await getAll(api, `/api/v1/endpoints/${ep.id}/issues`);
  assert.equal(issues.length, 7);
  const ignored = issues.find((x) => x.title.includes("'field3'"));
  const resolved = issues.find((x) => x.title.includes("'field5'"));
  assert.equal((await api.patch(`/api/v1/issues/${ignored.id}`, { state: 'ignored' })).status, 200);
  assert.equal((await api.patch(`/api/v1/issues/${resolved.id}`, { state: 'resolved' })).status, 200);
  const sessionsBefore = (await api.get(`/api/v1/endpoints/${ep.id}/sessions`)).json.data;
  const before = new Map((await getAll(api, `/api/v1/endpoints/${ep.id}/issues`)).map((x) => [x.id, x]));

  // Load across the threshold from 8 clients; the move starts and ends under it.
  let stop = false;
  let sent = 0;
  let ignoredSent = 0;
  const clients = Array.from({ length: 8 }, async (_, c) => {
    for (let i = 0; !stop; i++) {
      const n = 1000 + c * 100000 + i;
      const r = await trackxEvent(server.url, ep.key, n, `agent-${n % 5}`);
      assert.equal(r.status, 200, r.text);
      if (n % 7 === 3) ignoredSent++; else acked.add(r.json.id);
      sent++;
    }
  });
  const until = Date.now() + 60_000 * SCALE;
  let moved = null;
  while (Date.now() < until) {
    const r = await api.get(`/api/v1/endpoints/${ep.id}`);
    assert.equal(r.status, 200);
    // Reads keep answering during the move.
    assert.equal((await api.get(`/api/v1/endpoints/${ep.id}/issues?q=field1`)).status, 200);
    if (r.json.location !== 'shared' && r.json.move === null && sent > 600) { moved = r.json; break; }
    await sleep(50);
  }
  await sleep(300);
  stop = true;
  await Promise.all(clients);
  assert.ok(moved, 'the endpoint moved');
  assert.match(moved.location, /^ep[-_]/); // a file ep-<pid>.db, or a schema ep_<pid> on PostgreSQL

  const check = async () => {
    const all = await getAll(api, `/api/v1/endpoints/${ep.id}/issues`);
    assert.equal(all.length, 7);
    const byId = new Map(all.map((x) => [x.id, x]));
    // Same issues, same ids, states kept (resolved reopened by new events).
    for (const [id, b] of before) {
      const a = byId.get(id);
      assert.ok(a, `issue ${b.title} is still there`);
      assert.equal(a.title, b.title);
      assert.equal(a.first_seen, b.first_seen);
      assert.ok(a.count >= b.count);
    }
    assert.equal(byId.get(ignored.id).state, 'ignored');
    assert.equal(byId.get(ignored.id).count, before.get(ignored.id).count);
    assert.equal(byId.get(ignored.id).dropped, ignoredSent);
    assert.equal(byId.get(resolved.id).state, 'open');
    // Every acknowledged event once, and each opens.
    const events = [];
    for (const is of all) events.push(...(await getAll(api, `/api/v1/issues/${is.id}/events`)));
    const ids = events.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, 'no event twice');
    assert.equal(ids.length, acked.size, 'every acknowledged event');
    for (const id of ids) assert.ok(acked.has(id));
    assert.equal(all.reduce((s, x) => s + x.count, 0), acked.size, 'issue counts add up');
    const one = await api.get(`/api/v1/events/${ids[ids.length - 1]}`);
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json.kind, 'trackx');
    // The blind search index moved with the issues.
    const found = (await api.get(`/api/v1/endpoints/${ep.id}/issues?q=${encodeURIComponent("reading 'field2'")}`)).json.data;
    assert.deepEqual(found.map((x) => x.id), all.filter((x) => x.title.includes("'field2'")).map((x) => x.id));
    // Sessions and graphs.
    const sessions = (await api.get(`/api/v1/endpoints/${ep.id}/sessions`)).json.data;
    assert.ok(sessions.reduce((s, p) => s + p.sessions, 0) >= sessionsBefore.reduce((s, p) => s + p.sessions, 0));
    const graph = (await api.get(`/api/v1/issues/${resolved.id}/graph`)).json.data;
    assert.equal(graph.reduce((s, p) => s + p.count, 0), byId.get(resolved.id).count);
  };
  await check();

  // The calm endpoint stayed, and the shared database keeps nothing of the moved one.
  assert.equal((await api.get(`/api/v1/endpoints/${calm.id}`)).json.location, 'shared');
  const shared = 'shared';
  const epRow = storeSql(data, 'tenant', `select id from endpoints where pid='${ep.id}'`);
  for (let i = 0; i < 100; i++) {
    const left = ['events', 'issues', 'sessions', 'session_hours', 'move_log']
      .map((t) => Number(storeSql(data, shared, `select count(*) from ${t} where endpoint_id=${epRow}`)));
    if (left.every((n) => n === 0)) break;
    await sleep(100);
  }
  for (const t of ['events', 'issues', 'sessions', 'session_hours', 'zdicts', 'move_log'])
    assert.equal(storeSql(data, shared, `select count(*) from ${t} where endpoint_id=${epRow}`), '0', `${t} left in shared.db`);
  assert.equal(storeSql(data, shared, `select count(*) from issue_hours where issue_id not in (select id from issues)`), '0');

  // And after a restart.
  await server.stop();
  server = await startServer(data, { env: { INLET_SHARD_THRESHOLD: '400' } });
  api = apiClient(server.url, acct.token);
  await check();
  const r = await trackxEvent(server.url, ep.key, 999999, 'after');
  assert.equal(r.status, 200);
  assert.equal((await api.get(`/api/v1/events/${r.json.id}`)).status, 200);
  await server.stop();
});
