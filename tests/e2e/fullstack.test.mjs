// The whole deployment past one machine, black-box, on 127.0.0.1 only
// (tests/lib/stack.mjs): nginx with deploy/nginx/inlet.conf in front of two
// inlet nodes that share PostgreSQL (INLET_DATABASE_URL), Redis, an S3
// server and ClickHouse.
//
//   exactly once   posts through nginx (JSON, urlencoded, multipart with a
//                  file into S3) land once each, both nodes take a share,
//                  and every one reads back through either node
//   live           a stream open on node 1 shows a post taken by node 2
//   analytics      the day's counters (ClickHouse, fed by both nodes) equal
//                  what was posted
//   kill -9        a node killed under load through nginx loses no
//                  acknowledged submission; restarted, it serves them too
// The dashboard's browser flow through this stack is
// tests/browser/dashboard.test.mjs with INLET_TEST_STACK=1.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { cleanup, SCALE } from '../lib/inlet.mjs';
import { startStack } from '../lib/stack.mjs';
import { startLoad, verifyAcked } from '../lib/load.mjs';
import { apiClient, createEndpoint, listAll, multipart, postForm, request } from '../lib/http.mjs';
import { stopAllPostgres } from '../lib/postgres.mjs';
import { waitFor } from '../lib/events.mjs';

const T = { timeout: 180_000 * SCALE };
let stack;
let owner;
let api; // through nginx

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** inlet_ingest_total{outcome="accepted"} of one node. */
async function accepted(node) {
  const r = await request(`${node.url}/metrics`);
  const m = r.text.match(/inlet_ingest_total\{outcome="accepted"\} (\d+)/);
  return m ? Number(m[1]) : 0;
}

before(async () => {
  stack = await startStack({ nodeEnv: { INLET_CLICKHOUSE_FLUSH_MS: '200' } });
  owner = await stack.newAccount();
  api = apiClient(stack.url, owner.token);
});

after(async () => {
  if (stack) await stack.stop();
  await stopAllPostgres();
  await cleanup();
});

test('both nodes answer /healthz with every engine up', T, async () => {
  for (const n of stack.nodes) {
    const r = await request(`${n.url}/healthz`);
    assert.equal(r.status, 200, r.text);
    const h = r.json;
    assert.equal(JSON.stringify(h).includes('postgres'), true, `database engine named: ${r.text}`);
    assert.equal(h.redis, 'ok', r.text);
    assert.equal(h.clickhouse, 'ok', r.text);
  }
});

test('posts through nginx land exactly once, files in S3, both nodes taking a share', T, async () => {
  const ep = await createEndpoint(api, 'stack-once', { rate_limit: { per_minute: 0, burst: 1 } });
  const before0 = await Promise.all(stack.nodes.map(accepted));
  const file = randomBytes(64 * 1024 + 3);
  const sent = [];
  const agent = new http.Agent({ keepAlive: false });
  const post = async (i) => {
    const token = `once-${i}-${randomBytes(4).toString('hex')}`;
    let r;
    if (i % 10 === 0) {
      const mp = multipart([{ name: 'token', value: token }, { name: 'file', filename: 'a.bin', data: file }]);
      r = await request(`${stack.url}/f/${ep.key}`, {
        method: 'POST', headers: { 'Content-Type': mp.contentType, Accept: 'application/json' }, body: mp.body, agent,
      });
    } else {
      r = i % 2
        ? await postForm(stack.url, ep.key, 'json', { token }, { agent })
        : await postForm(stack.url, ep.key, 'urlencoded', [['token', token]], { agent });
    }
    assert.equal(r.status, 200, r.text);
    sent.push({ id: r.json.id, token, file: i % 10 === 0 });
  };
  const N = 150;
  for (let i = 0; i < N; i += 15) await Promise.all(Array.from({ length: 15 }, (_, k) => post(i + k)));
  agent.destroy();

  const stored = await listAll(api, ep.id);
  assert.equal(stored.length, N, 'every post once');
  assert.deepEqual(new Set(stored.map((s) => s.id)), new Set(sent.map((s) => s.id)));
  const tokens = stored.map((s) => s.fields.token);
  assert.equal(new Set(tokens).size, N, 'no post doubled');

  // Each node took some of them (nginx balances), and each reads them all.
  const after0 = await Promise.all(stack.nodes.map(accepted));
  const share = after0.map((v, i) => v - before0[i]);
  assert.equal(share.reduce((a, b) => a + b, 0), N, `accepted per node: ${share}`);
  assert.ok(share.every((v) => v > 0), `both nodes took posts: ${share}`);
  for (const n of stack.nodes) {
    const direct = apiClient(n.url, owner.token);
    assert.equal((await listAll(direct, ep.id)).length, N, `node ${n.url} reads all`);
  }

  // Files went to the S3 server, sealed, and come back whole through either node.
  const withFile = sent.filter((s) => s.file);
  assert.ok(stack.s3.requests('PUT').length >= withFile.length, 'files uploaded to S3');
  for (const [i, s] of withFile.entries()) {
    const n = stack.nodes[i % stack.nodes.length];
    const f = await apiClient(n.url, owner.token).get(`/api/v1/submissions/${s.id}/files/0`);
    assert.equal(f.status, 200);
    assert.ok(f.body.equals(file), 'file bytes');
  }

  // The day's counters, from ClickHouse, count the posts of both nodes.
  const day = await waitFor('stats count every post', async () => {
    const s = await api.get(`/api/v1/endpoints/${ep.id}/stats?days=1`);
    return s.status === 200 && s.json.data[0].submissions === N ? s.json.data[0] : null;
  }, 15_000);
  assert.equal(day.submissions, N);
});

test('a stream open on node 1 shows a post taken by node 2', T, async () => {
  const ep = await createEndpoint(api, 'stack-live');
  const [a, b] = stack.nodes;
  const frames = [];
  let raw = '';
  const req = http.get(`${a.url}/api/v1/stream`, {
    headers: { Accept: 'text/event-stream', Authorization: `Bearer ${owner.token}` }, agent: false,
  });
  const opened = new Promise((resolve, reject) => {
    req.on('response', (res) => {
      assert.equal(res.statusCode, 200);
      res.setEncoding('utf8');
      res.on('data', (c) => {
        raw += c;
        for (const block of raw.split('\n\n').slice(frames.length, -1)) frames.push(block);
      });
      resolve();
    });
    req.on('error', reject);
  });
  try {
    await opened;
    await sleep(200); // the subscription is in place on node 1
    const r = await postForm(b.url, ep.key, 'json', { token: 'live-through-b' });
    assert.equal(r.status, 200, r.text);
    const frame = await waitFor('the post shows on node 1', async () =>
      frames.find((f) => f.includes('submission.created') && f.includes(r.json.id)), 15_000);
    assert.ok(!frame.includes('live-through-b'), 'no field in the stream');
  } finally {
    req.destroy();
  }
});

test('an endpoint one node moves to a store of its own: both nodes follow it, no acknowledged post lost', T, async (t) => {
  const ep = await createEndpoint(api, 'stack-move', { rate_limit: { per_minute: 0, burst: 1 }, shard_threshold: 400 });
  const load = startLoad({ url: stack.url, key: ep.key, clients: 8, deadline: Date.now() + 120_000 * SCALE, tag: 'move' });
  let moved;
  try {
    moved = await waitFor('the endpoint moves out of the shared store', async () => {
      const r = await api.get(`/api/v1/endpoints/${ep.id}`);
      return r.status === 200 && r.json.location !== 'shared' && r.json.move === null ? r.json : null;
    }, 120_000);
    const atMove = load.acked.length;
    await waitFor('posts go on after the move', async () => load.acked.length >= atMove + 300, 60_000);
  } finally {
    load.stop();
  }
  const res = await load.done;
  t.diagnostic(`moved to ${moved.location}; acked ${res.acked.length}, statuses ${JSON.stringify(res.statuses)}`);
  assert.deepEqual(Object.keys(res.statuses), ['200'], 'every post answered 200, before, during and after the move');
  assert.match(moved.location, /^ep_/);
  for (const n of stack.nodes) {
    const direct = apiClient(n.url, owner.token);
    const e = await direct.get(`/api/v1/endpoints/${ep.id}`);
    assert.equal(e.json.location, moved.location, `${n.url} follows the move`);
    const all = await listAll(direct, ep.id);
    const ids = new Set(all.map((x) => x.id));
    const missing = res.acked.filter((x) => !ids.has(x.id));
    assert.equal(missing.length, 0, `${n.url}: ${missing.length} acknowledged posts missing`);
    assert.equal(new Set(all.map((x) => x.fields.token)).size, all.length, `${n.url}: no post twice`);
    assert.equal(e.json.submission_count, all.length, `${n.url}: the count agrees`);
  }
  await verifyAcked(stack.url, owner.token, res.acked.slice(-100), 'after the move, through nginx');
});

test('kill -9 of a node under load through nginx loses no acknowledged submission', T, async (t) => {
  const ep = await createEndpoint(api, 'stack-kill', { rate_limit: { per_minute: 0, burst: 1 } });
  const victim = stack.nodes[1];
  const load = startLoad({ url: stack.url, key: ep.key, clients: 12, deadline: Date.now() + 60_000 * SCALE, tag: 'stack' });
  await waitFor('load is flowing', async () => load.acked.length >= 200, 30_000);
  victim.proc.kill('SIGKILL');
  await victim.exited;
  const atKill = load.acked.length;
  await waitFor('load goes on through the other node', async () => load.acked.length >= atKill + 300, 30_000);
  load.stop();
  const res = await load.done;
  assert.ok(res.acked.length > 500, `acked ${res.acked.length}`);
  t.diagnostic(`acked ${res.acked.length} (${atKill} before the kill), statuses ${JSON.stringify(res.statuses)}, errors ${res.errors}`);
  await verifyAcked(stack.url, owner.token, res.acked, 'after kill -9, through nginx');
  const stored = await listAll(api, ep.id);
  const acked = new Set(res.acked.map((x) => x.id));
  assert.ok(stored.length >= acked.size, `stored ${stored.length} >= acked ${acked.size}`);
  assert.equal(new Set(stored.map((s) => s.fields.token)).size, stored.length, 'no submission twice');

  // Back up, the killed node serves every one of them too.
  const back = await stack.startNode(1);
  await verifyAcked(back.url, owner.token, res.acked.slice(-200), 'read on the restarted node');
});
