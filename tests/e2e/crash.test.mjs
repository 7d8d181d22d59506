// Durability. Five rounds of: 16 clients post as fast as they can, the
// server is killed with SIGKILL mid-load, restarted on the same data folder,
// and every submission that got a 200 must read back intact. Then the same
// with SIGTERM: a graceful stop loses nothing either, and exits 0.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeDataDir, startServer, cleanup, newAccount, randomMasterKey, STOP_TIMEOUT_MS, SCALE } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, request } from '../lib/http.mjs';
import { startLoad, verifyAcked, sample } from '../lib/load.mjs';

after(cleanup);

const ROUNDS = 5;
const CLIENTS = 16;
const KILL_AFTER_MS = 1500;
const MIN_ACKED = 20; // per round: the load must really have run

test(`kill -9 under load, ${ROUNDS} rounds: every acknowledged post survives`, { timeout: 600_000 * SCALE }, async (t) => {
  const data = await makeDataDir();
  const env = { INLET_MASTER_KEY: await randomMasterKey() };
  const acct = await newAccount(data);
  let server = await startServer(data, { env });
  const ep = await createEndpoint(apiClient(server.url, acct.token), 'crash', { rate_limit: { per_minute: 0, burst: 1 } });
  const earlier = [];

  for (let round = 1; round <= ROUNDS; round++) {
    await t.test(`round ${round}`, async (st) => {
      const load = startLoad({ url: server.url, key: ep.key, clients: CLIENTS, deadline: Date.now() + KILL_AFTER_MS + 10_000, tag: `r${round}` });
      await sleep(KILL_AFTER_MS);
      assert.ok(server.running, `the server was still up at the kill (exit ${JSON.stringify(server.exitInfo)})`);
      assert.ok(load.inFlight > 0, 'requests were in flight');
      const exit = await server.kill9();
      assert.equal(exit.signal, 'SIGKILL', 'it died of our kill, not on its own');
      load.stop();
      const { acked, statuses, errors } = await load.done;
      st.diagnostic(`round ${round}: ${acked.length} acknowledged, statuses ${JSON.stringify(statuses)}, ${errors} connection errors`);
      assert.ok(acked.length >= MIN_ACKED, `at least ${MIN_ACKED} posts acknowledged before the kill (got ${acked.length})`);
      const bad = Object.keys(statuses).filter((s) => s !== '200');
      assert.deepEqual(bad, [], `only 200s under load: ${JSON.stringify(statuses)}`);
      assert.equal(new Set(acked.map((a) => a.id)).size, acked.length, 'ids are unique');

      server = await startServer(data, { env });
      await verifyAcked(server.url, acct.token, acked, `round ${round}`);
      await verifyAcked(server.url, acct.token, sample(earlier, 300), `earlier rounds, after round ${round}`);
      earlier.push(...acked);
    });
  }

  await t.test('the endpoint lists at least every acknowledged post', async () => {
    const api = apiClient(server.url, acct.token);
    let count = 0;
    let cursor = null;
    const seen = new Set();
    do {
      const r = await api.get(`/api/v1/endpoints/${ep.id}/submissions?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(r.status, 200, r.text);
      for (const s of r.json.data) seen.add(s.id);
      count += r.json.data.length;
      cursor = r.json.next_cursor;
    } while (cursor);
    assert.equal(seen.size, count, 'no duplicates across pages');
    const missing = earlier.filter((a) => !seen.has(a.id));
    assert.equal(missing.length, 0, `${missing.length} acknowledged ids missing from the list`);
  });

  await server.stop();
});

test('SIGTERM under load: exit 0, every acknowledged post survives', { timeout: 300_000 * SCALE }, async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  let server = await startServer(data);
  const ep = await createEndpoint(apiClient(server.url, acct.token), 'graceful', { rate_limit: { per_minute: 0, burst: 1 } });

  const load = startLoad({ url: server.url, key: ep.key, clients: CLIENTS, deadline: Date.now() + 15_000, tag: 'term' });
  await sleep(1000);
  assert.ok(load.inFlight > 0, 'requests were in flight');
  server.proc.kill('SIGTERM');
  const exit = await server.waitExit(STOP_TIMEOUT_MS);
  load.stop();
  const { acked, statuses } = await load.done;
  assert.deepEqual(exit, { code: 0, signal: null }, 'SIGTERM → exit 0');
  await server.stop(); // sanitizer check of what it wrote
  assert.ok(acked.length >= MIN_ACKED, `posts acknowledged: ${acked.length}`);
  for (const s of Object.keys(statuses)) assert.ok(s === '200' || s === '503', `status ${s} during shutdown: ${JSON.stringify(statuses)}`);

  server = await startServer(data);
  await verifyAcked(server.url, acct.token, acked, 'after SIGTERM');
  const h = await request(`${server.url}/healthz`);
  assert.equal(h.status, 200);
  await server.stop();
});
