// Busy endpoints move to a database of their own, online, losing nothing
// (issue 3). The server is started with a low threshold so that a few
// seconds of load trigger a move; answers are compared before, during and
// after it, and the server is killed at random points of moves.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeDataDir, startServer, cleanup, newAccount, randomMasterKey, runInlet, SCALE, storeSql, ON_POSTGRES, databaseUrl, pgRestore } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, listAll, postForm } from '../lib/http.mjs';
import { startLoad, verifyAcked } from '../lib/load.mjs';

after(cleanup);

const sql = (db, q) => execFileSync('sqlite3', [db, q], { encoding: 'utf8' }).trim();

/** Where a moved endpoint's own store is: a file, or a schema on PostgreSQL. */
const locationOf = (pid) => (ON_POSTGRES ? `ep_${pid.toLowerCase().replace(/[^a-z0-9]/g, '_')}` : `ep-${pid}.db`);

async function waitMoved(api, epId, ms = 30_000 * SCALE) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    const r = await api.get(`/api/v1/endpoints/${epId}`);
    assert.equal(r.status, 200, r.text);
    last = r.json;
    if (last.location !== 'shared' && last.move === null) return last;
    await sleep(100);
  }
  throw new Error(`the move did not finish: ${JSON.stringify({ location: last?.location, move: last?.move })}`);
}

test('a move under writes faster than its copy still finishes: the cutover takes the rest', { timeout: 180_000 * SCALE }, async (t) => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  // 2 rows a step and 25 ms between steps: about 80 rows a second, far
  // below what the load sends, so the move log never runs short.
  const server = await startServer(data, {
    env: { INLET_SHARD_THRESHOLD: '200', INLET_MOVE_BATCH: '2', INLET_MOVE_PAUSE_MS: '25' },
  });
  const api = apiClient(server.url, acct.token);
  const hot = await createEndpoint(api, 'outpaced', { rate_limit: { per_minute: 0 } });
  const load = startLoad({ url: server.url, key: hot.key, clients: 8, deadline: Date.now() + 120_000 * SCALE, tag: 'outpace' });
  let moved;
  try {
    moved = await waitMoved(api, hot.id, 90_000 * SCALE);
    await sleep(500);
  } finally {
    load.stop();
  }
  const res = await load.done;
  t.diagnostic(`acked ${res.acked.length}; statuses ${JSON.stringify(res.statuses)}`);
  assert.equal(moved.location, locationOf(hot.id));
  assert.ok(server.stderr().includes('writes outpace the copy'), 'the move cut over before the log ran short');
  await verifyAcked(server.url, acct.token, res.acked, 'after an outpaced move');
  const all = await listAll(api, hot.id);
  assert.equal(all.length, res.acked.length, 'every acknowledged post once, nothing else');
  await server.stop();
});

test('a busy endpoint moves under load: same ids, cursors and answers before, during and after', { timeout: 180_000 * SCALE }, async (t) => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  const threshold = 1500;
  const server = await startServer(data, { env: { INLET_SHARD_THRESHOLD: String(threshold) } });
  const api = apiClient(server.url, acct.token);
  const hot = await createEndpoint(api, 'hot', { rate_limit: { per_minute: 0 } });
  const calm = await createEndpoint(api, 'calm', { rate_limit: { per_minute: 0 } });
  assert.equal(hot.location, 'shared');

  const first = [];
  for (let i = 0; i < 60; i++) {
    const r = await postForm(server.url, hot.key, 'urlencoded', [['n', String(i)], ['email', `p${i}@example.test`]]);
    assert.equal(r.status, 200, r.text);
    first.push(r.json.id);
  }
  for (let i = 0; i < 5; i++) assert.equal((await postForm(server.url, calm.key, 'json', { i })).status, 200);
  const page1 = await api.get(`/api/v1/endpoints/${hot.id}/submissions?limit=10`);
  const page2 = await api.get(`/api/v1/endpoints/${hot.id}/submissions?limit=10&cursor=${encodeURIComponent(page1.json.next_cursor)}`);
  const one = await api.get(`/api/v1/submissions/${first[7]}`);
  assert.equal(one.status, 200);
  // A status change before the move must survive it.
  assert.equal((await api.patch(`/api/v1/submissions/${first[3]}`, { status: 'spam' })).status, 200);

  // Load that crosses the threshold (4 s, longer on a machine too busy to
  // get there by then); reads keep working during the move.
  const loadStart = Date.now();
  const load = startLoad({ url: server.url, key: hot.key, clients: 16, deadline: loadStart + 60_000 * SCALE, tag: 'move' });
  let finished = false;
  load.done.then(() => { finished = true; });
  let readsDuring = 0;
  let sawMove = false;
  while (!finished) {
    const r = await api.get(`/api/v1/submissions/${first[7]}`);
    assert.equal(r.status, 200, `read during the move: ${r.text}`);
    assert.deepEqual(r.json, one.json, 'the same answer during the move');
    const e = await api.get(`/api/v1/endpoints/${hot.id}`);
    if (e.json.move) sawMove = true;
    if (Date.now() - loadStart >= 4000 * SCALE && (sawMove || e.json.location !== 'shared' || e.json.submission_count >= threshold)) load.stop();
    readsDuring++;
    await sleep(20);
  }
  const { acked, statuses } = await load.done;
  t.diagnostic(`${acked.length} posts acknowledged during the load, ${readsDuring} reads, statuses ${JSON.stringify(statuses)}`);
  assert.deepEqual(Object.keys(statuses), ['200'], 'every post under load got 200');
  t.diagnostic(`a move was seen under way: ${sawMove}`);

  const moved = await waitMoved(api, hot.id);
  assert.equal(moved.location, locationOf(hot.id));
  assert.equal(moved.submission_count, acked.length + 60, 'the count follows the move');

  // Same ids, same cursors, same answers.
  const all = await listAll(api, hot.id);
  assert.equal(all.length, acked.length + 60, 'every submission exactly once');
  assert.equal(new Set(all.map((s) => s.id)).size, all.length, 'no duplicates');
  for (const id of first) assert.ok(all.some((s) => s.id === id));
  assert.deepEqual((await api.get(`/api/v1/endpoints/${hot.id}/submissions?limit=10`)).json.data.slice(-10).length, 10);
  const page2After = await api.get(`/api/v1/endpoints/${hot.id}/submissions?limit=10&cursor=${encodeURIComponent(page1.json.next_cursor)}`);
  assert.deepEqual(page2After.json, page2.json, 'an old cursor gives the same page');
  const oneAfter = await api.get(`/api/v1/submissions/${first[7]}`);
  assert.deepEqual(oneAfter.json, one.json, 'the same answer after the move');
  assert.equal((await api.get(`/api/v1/submissions/${first[3]}`)).json.status, 'spam', 'a change made before the move survived');
  await verifyAcked(server.url, acct.token, acked, 'after the move');

  // Writes after the move land in the endpoint's own database.
  const late = await postForm(server.url, hot.key, 'json', { late: true });
  assert.equal(late.status, 200);
  assert.equal((await api.patch(`/api/v1/submissions/${late.json.id}`, { status: 'trash' })).status, 200);
  assert.equal((await api.del(`/api/v1/submissions/${first[0]}`)).status, 204);
  assert.equal((await api.get(`/api/v1/submissions/${first[0]}`)).status, 404);

  // The other endpoint did not move; the shared database no longer has the hot one's rows.
  const calmNow = await api.get(`/api/v1/endpoints/${calm.id}`);
  assert.equal(calmNow.json.location, 'shared');
  assert.equal(calmNow.json.submission_count, 5);
  const own = path.join(data, 'submissions', moved.location);
  const epRow = storeSql(data, 'tenant', `select id from endpoints where pid='${hot.id}'`);
  assert.equal(storeSql(data, 'shared', `select count(*) from submissions where endpoint_id=${epRow}`), '0');
  assert.equal(Number(storeSql(data, moved.location, `select count(*) from submissions where endpoint_id=${epRow}`)), acked.length + 60 - 1 + 1);

  // Health reads the endpoint's own database too.
  const health = await api.get('/healthz');
  assert.equal(health.status, 200);
  assert.equal(health.json.endpoint_databases, 1);
  assert.equal(health.json.stores.endpoint_databases, 'ok');

  // The CLI sees it while the server runs.
  const list = await runInlet(['shards', 'list', '--data', data]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${hot.id}\\s+${moved.location.replace('.', '\\.')}`));
  assert.match(list.stdout, new RegExp(`${calm.id}\\s+shared`));

  // Deleting a moved endpoint removes its own database.
  assert.equal((await api.del(`/api/v1/endpoints/${hot.id}`)).status, 204);
  if (ON_POSTGRES) {
    assert.equal(storeSql(data, 'tenant', `select count(*) from information_schema.schemata where schema_name='${moved.location}'`), '0', 'its schema is gone');
  } else {
    assert.ok(!existsSync(own), 'its database file is gone');
  }
  await server.stop();
});

// The phase of an endpoint's move, as the tenant store says: before (in the
// shared store, no move), copying, cleanup, or moved (done).
function phaseOf(data, pid) {
  const row = storeSql(data, 'tenant', `select e.location, coalesce(m.state,'') from endpoints e left join shard_moves m on m.endpoint_id=e.id where e.pid='${pid}'`);
  const [loc, state] = row.split('|');
  if (state === 'requested' || state === 'copying') return 'copying';
  if (state === 'cleanup') return 'cleanup';
  return loc === 'shared' ? 'before' : 'moved';
}

test('kill -9 at every phase of moves, 20 trials: every acknowledged post once, every post decrypts', { timeout: 900_000 * SCALE }, async (t) => {
  const data = await makeDataDir();
  // Small, paused copy steps make a move last long enough to be killed mid-copy.
  const env = { INLET_MASTER_KEY: await randomMasterKey(), INLET_SHARD_THRESHOLD: '0', INLET_MOVE_BATCH: '200', INLET_MOVE_PAUSE_MS: '10' };
  const acct = await newAccount(data);
  let server = await startServer(data, { env });
  const targets = ['before', 'copying', 'cleanup', 'moved'];
  const hit = {};

  for (let trial = 1; trial <= 20; trial++) {
    await t.test(`trial ${trial}`, async (st) => {
      const api = apiClient(server.url, acct.token);
      const target = targets[trial % targets.length];
      const threshold = 300 + Math.floor(Math.random() * 1500);
      const ep = await createEndpoint(api, `t${trial}`, { rate_limit: { per_minute: 0 }, shard_threshold: threshold });
      const started = Date.now();
      const load = startLoad({ url: server.url, key: ep.key, clients: 16, deadline: started + 30_000 * SCALE, tag: `k${trial}` });
      // Wait for the target phase, then a random few ms more.
      let phase = phaseOf(data, ep.id);
      if (target === 'before') {
        await sleep(20 + Math.floor(Math.random() * 40));
      } else {
        while ((phase = phaseOf(data, ep.id)) !== target && Date.now() - started < 20_000 * SCALE) await sleep(5);
        await sleep(Math.floor(Math.random() * 30));
      }
      phase = phaseOf(data, ep.id);
      await server.kill9();
      load.stop();
      const { acked, statuses } = await load.done;
      hit[phase] = (hit[phase] || 0) + 1;
      assert.deepEqual(Object.keys(statuses).filter((k) => k !== '200'), [], JSON.stringify(statuses));
      st.diagnostic(`aimed at ${target}, killed in "${phase}" after ${Date.now() - started} ms; threshold ${threshold}, ${acked.length} acknowledged`);

      server = await startServer(data, { env });
      const api2 = apiClient(server.url, acct.token);
      if (phase !== 'before' || acked.length >= threshold) await waitMoved(api2, ep.id);
      const all = await listAll(api2, ep.id);
      const ids = new Set(all.map((x) => x.id));
      assert.equal(ids.size, all.length, 'no duplicates');
      for (const a of acked) assert.ok(ids.has(a.id), `acknowledged ${a.id} is listed`);
      // Committed but not yet acknowledged at the kill: at most one per client.
      assert.ok(all.length >= acked.length && all.length <= acked.length + 16,
        `stored ${all.length} vs acknowledged ${acked.length} (+ at most 16 in flight)`);
      assert.ok(all.every((x) => !x.error && x.fields && x.fields.token), 'every submission decrypts');
      const epRow = storeSql(data, 'tenant', `select id from endpoints where pid='${ep.id}'`);
      const loc = storeSql(data, 'tenant', `select location from endpoints where pid='${ep.id}'`);
      if (loc !== 'shared') {
        assert.equal(Number(storeSql(data, loc, `select count(*) from submissions where endpoint_id=${epRow}`)), all.length);
        // The shared copy goes after a grace period.
        const until = Date.now() + 15_000 * SCALE;
        while (storeSql(data, 'shared', `select count(*) from submissions where endpoint_id=${epRow}`) !== '0' && Date.now() < until) await sleep(200);
        assert.equal(storeSql(data, 'shared', `select count(*) from submissions where endpoint_id=${epRow}`), '0', 'shared rows removed');
      }
    });
  }
  t.diagnostic(`phases hit: ${JSON.stringify(hit)}`);
  for (const p of targets) assert.ok(hit[p] >= 2, `killed at least twice in phase ${p}: ${JSON.stringify(hit)}`);
  await server.stop();
});

test('inlet shards move without a server: progress, then the endpoint lives in its own database', { timeout: 120_000 * SCALE }, async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  let server = await startServer(data);
  const api = apiClient(server.url, acct.token);
  const ep = await createEndpoint(api, 'cli', { rate_limit: { per_minute: 0 } });
  const ids = [];
  for (let i = 0; i < 40; i++) ids.push((await postForm(server.url, ep.key, 'json', { i })).json.id);
  await server.stop();

  const bad = await runInlet(['shards', 'move', '--data', data, 'ep_nope']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /no endpoint/);
  const mv = await runInlet(['shards', 'move', '--data', data, ep.id]);
  assert.equal(mv.code, 0, mv.stderr);
  assert.match(mv.stdout, /(copying|cleanup) \d+\/40/, 'progress lines when not on a terminal');
  assert.ok(mv.stdout.includes(`now lives in ${locationOf(ep.id)}`), mv.stdout);
  const list = await runInlet(['shards', 'list', '--data', data]);
  assert.match(list.stdout, new RegExp(`${ep.id}\\s+${locationOf(ep.id).replace('.', '\\.')}\\s+40\\s`));

  server = await startServer(data);
  const again = apiClient(server.url, acct.token);
  const all = await listAll(again, ep.id);
  assert.deepEqual(all.map((s) => s.id), [...ids].reverse());
  assert.equal((await again.get(`/api/v1/endpoints/${ep.id}`)).json.location, locationOf(ep.id));
  await server.stop();
});

test('inlet backup on PostgreSQL: a pg_dump of the database that pg_restore brings back whole', {
  timeout: 180_000 * SCALE,
  skip: !ON_POSTGRES && 'SQLite: the test below copies the files',
}, async () => {
  const data = await makeDataDir();
  const out = path.join(await makeDataDir(), 'backup');
  const env = { INLET_MASTER_KEY: await randomMasterKey(), INLET_SHARD_THRESHOLD: '0' };
  const acct = await newAccount(data);
  const server = await startServer(data, { env });
  const api = apiClient(server.url, acct.token);
  const moved = await createEndpoint(api, 'moved', { rate_limit: { per_minute: 0 }, shard_threshold: 50 });
  const stay = await createEndpoint(api, 'stay', { rate_limit: { per_minute: 0 } });
  const ids = [];
  for (let i = 0; i < 60; i++) ids.push((await postForm(server.url, moved.key, 'json', { i })).json.id);
  ids.push((await postForm(server.url, stay.key, 'json', { i: 'stay' })).json.id);
  await waitMoved(api, moved.id);
  const bk = await runInlet(['backup', '--data', data, '--out', out], { env });
  assert.equal(bk.code, 0, bk.stderr);
  assert.ok(existsSync(path.join(out, 'database.dump')), 'the dump is in the backup');
  await server.stop();

  // Into the (empty) database the harness gives the backup folder.
  await pgRestore(await databaseUrl(out), path.join(out, 'database.dump'));
  const restored = await startServer(out, { env });
  const api2 = apiClient(restored.url, acct.token);
  const all = [...await listAll(api2, moved.id), ...await listAll(api2, stay.id)];
  assert.deepEqual(all.map((x) => x.id).sort(), [...ids].sort());
  assert.ok(all.every((x) => !x.error && x.fields), 'everything decrypts');
  assert.equal((await api2.get(`/api/v1/endpoints/${moved.id}`)).json.location, locationOf(moved.id));
  await restored.stop();
});

test('inlet backup while serving under load: one logical store whatever the layout', {
  timeout: 180_000 * SCALE,
  skip: ON_POSTGRES && 'copies and restarts on SQLite files (a data folder as backup); on PostgreSQL the backup is a pg_dump: the test above',
}, async (t) => {
  const data = await makeDataDir();
  const out = path.join(await makeDataDir(), 'backup');
  const env = { INLET_MASTER_KEY: await randomMasterKey(), INLET_SHARD_THRESHOLD: '0' };
  const acct = await newAccount(data);
  const server = await startServer(data, { env });
  const api = apiClient(server.url, acct.token);
  const moved = await createEndpoint(api, 'moved', { rate_limit: { per_minute: 0 }, shard_threshold: 300 });
  const stay = await createEndpoint(api, 'stay', { rate_limit: { per_minute: 0 } });
  const before = [];
  for (let i = 0; i < 400; i++) before.push((await postForm(server.url, moved.key, 'json', { i })).json.id);
  const file = await postForm(server.url, stay.key, 'multipart', [['note', 'with a file'], { name: 'doc', filename: 'a.bin', contentType: 'application/octet-stream', data: Buffer.alloc(100_000, 7) }]);
  assert.equal(file.status, 200, file.text);
  await waitMoved(api, moved.id);

  // Keep posting to both while the backup runs.
  const loadA = startLoad({ url: server.url, key: moved.key, clients: 4, deadline: Date.now() + 60_000, tag: 'bkA' });
  const loadB = startLoad({ url: server.url, key: stay.key, clients: 4, deadline: Date.now() + 60_000, tag: 'bkB' });
  await sleep(300);
  const ackedBefore = [...loadA.acked, ...loadB.acked].map((a) => a.id);
  const bk = await runInlet(['backup', '--data', data, '--out', out]);
  loadA.stop();
  loadB.stop();
  await Promise.all([loadA.done, loadB.done]);
  assert.equal(bk.code, 0, bk.stderr);
  // tenant.db, shared.db, the moved endpoint's database and the job queue.
  assert.match(bk.stdout, /backed up 4 databases/);
  assert.ok(existsSync(path.join(out, 'jobs.db')), 'the job queue is in the backup');
  assert.match(bk.stdout, /master key is not in the backup/);
  assert.ok(!existsSync(path.join(out, 'master.key')), 'no key in the backup by default');
  await server.stop();

  const restored = await startServer(out, { env });
  const api2 = apiClient(restored.url, acct.token);
  const a = await listAll(api2, moved.id);
  const b = await listAll(api2, stay.id);
  const ids = new Set([...a, ...b].map((s) => s.id));
  t.diagnostic(`restored ${a.length} + ${b.length} submissions`);
  for (const id of [...before, file.json.id, ...ackedBefore]) assert.ok(ids.has(id), `${id} is in the backup`);
  assert.ok([...a, ...b].every((s) => !s.error && s.fields), 'everything decrypts');
  assert.equal((await api2.get(`/api/v1/endpoints/${moved.id}`)).json.location, `ep-${moved.id}.db`);
  const dl = await api2.get(`/api/v1/submissions/${file.json.id}/files/0`);
  assert.equal(dl.status, 200);
  assert.equal(dl.body.length, 100_000);
  await restored.stop();
  // Into an existing folder: refused.
  const again = await runInlet(['backup', '--data', data, '--out', out]);
  assert.equal(again.code, 1);
});
