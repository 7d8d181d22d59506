// Several nodes through Redis (INLET_REDIS_URL), black-box: a real
// redis-server on a free port, started here, and two inlet nodes A and B.
//
// Each node has its own SQLite data folder (two nodes cannot share one), so
// what the nodes share comes only through Redis. The two folders are made
// alike where it matters: B gets A's master key (so both name a client's
// rate-limit bucket alike), and the account and endpoints are created in the
// same order on both, so their row ids agree (account 1, endpoints 1, 2, 3),
// as they would with one shared store. Endpoint keys and public ids still
// differ; what a shared tenant store would add (one endpoint answering on
// both nodes, a patch on A read back on B) waits for the PostgreSQL backend.
// Where a node's reaction cannot be seen through HTTP, a raw RESP client
// (written here over net.Socket) reads Redis's keys and channels.
//
//   shared limit   posts to "the same" endpoint on A and B draw one bucket;
//                  it lives in Redis (TTL, no client address in the key) and
//                  outlives a restart of A
//   fan-out        a submission taken by B shows on a stream open on A, with
//                  A's own ids; B's stream shows it once; Last-Event-ID from
//                  A given to B is a reset
//   invalidation   PATCH on A publishes the endpoint id; B drops its cached
//                  copy at once (its cache TTL is a minute here)
//   Redis down     posts keep answering 2xx (local limits), /healthz says
//                  "down" (still 200), /metrics counts fallbacks; when Redis
//                  is back the nodes reconnect and /healthz says "ok"

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { startRedis as startRedisServer } from '../lib/redis.mjs';
import { makeDataDir, startServer, cleanup, newAccount, SCALE, storeSql, ON_POSTGRES } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, postForm, request } from '../lib/http.mjs';

const T = { timeout: 60_000 * SCALE };
const WAIT_MS = 8_000 * SCALE;
const PREFIX = 'inlet';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, ms = WAIT_MS) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await sleep(50);
  }
  throw new Error(`${what}: not within ${ms} ms (last: ${JSON.stringify(last)})`);
}

// ---------------------------------------------------------------------------
// A RESP2 client: commands in, replies out; in subscribe mode, "message"
// pushes go to a list that next() reads.

/** Parses one RESP2 value at buf[i]: {value, end}, or null when incomplete. */
function parseResp(buf, i) {
  const nl = buf.indexOf('\r\n', i);
  if (nl < 0) return null;
  const head = buf.toString('utf8', i + 1, nl);
  const type = String.fromCharCode(buf[i]);
  let end = nl + 2;
  switch (type) {
    case '+': return { value: head, end };
    case '-': return { value: new Error(head), end };
    case ':': return { value: Number(head), end };
    case '$': {
      const n = Number(head);
      if (n < 0) return { value: null, end };
      if (buf.length < end + n + 2) return null;
      return { value: buf.toString('utf8', end, end + n), end: end + n + 2 };
    }
    case '*': {
      const n = Number(head);
      if (n < 0) return { value: null, end };
      const out = [];
      for (let k = 0; k < n; k++) {
        const r = parseResp(buf, end);
        if (!r) return null;
        out.push(r.value);
        end = r.end;
      }
      return { value: out, end };
    }
    default: throw new Error(`RESP: unexpected type byte ${JSON.stringify(type)}`);
  }
}

class Resp {
  static connect(port) {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: '127.0.0.1', port }, () => resolve(new Resp(sock)));
      sock.once('error', reject);
    });
  }

  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.waiting = [];
    this.messages = [];
    this.wakers = [];
    sock.on('error', () => {});
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const r = parseResp(this.buf, 0);
        if (!r) break;
        this.buf = this.buf.subarray(r.end);
        const v = r.value;
        if (Array.isArray(v) && v[0] === 'message') {
          this.messages.push({ channel: v[1], data: v[2] });
          for (const w of this.wakers.splice(0)) w();
        } else {
          const w = this.waiting.shift();
          if (w) w(v);
        }
      }
    });
  }

  command(...args) {
    const parts = [`*${args.length}\r\n`];
    for (const a of args) {
      const s = String(a);
      parts.push(`$${Buffer.byteLength(s)}\r\n${s}\r\n`);
    }
    return new Promise((resolve, reject) => {
      this.waiting.push((v) => (v instanceof Error ? reject(v) : resolve(v)));
      this.sock.write(parts.join(''));
    });
  }

  /** The next pushed message matching pred, within ms. */
  async next(pred = () => true, ms = WAIT_MS) {
    const end = Date.now() + ms;
    for (;;) {
      const i = this.messages.findIndex(pred);
      if (i >= 0) return this.messages.splice(i, 1)[0];
      const left = end - Date.now();
      if (left <= 0) throw new Error(`RESP: no matching message within ${ms} ms; have ${JSON.stringify(this.messages)}`);
      await new Promise((r) => { this.wakers.push(r); setTimeout(r, Math.min(left, 100)); });
    }
  }

  close() {
    this.sock.destroy();
  }
}

// ---------------------------------------------------------------------------
// redis-server, ours

let redisPort;
let redisServer = null;

async function startRedis() {
  redisServer = await startRedisServer({ port: redisPort, waitMs: WAIT_MS });
  redisPort = redisServer.port;
}

async function killRedis() {
  if (!redisServer) return;
  const r = redisServer;
  redisServer = null;
  await r.stop();
}

// ---------------------------------------------------------------------------
// An SSE reader: frames as they arrive.

function openStream(base, token, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/api/v1/stream`, {
      headers: { Accept: 'text/event-stream', Authorization: `Bearer ${token}`, ...headers }, agent: false,
    }, (res) => {
      const s = { status: res.statusCode, frames: [], raw: '', close: () => req.destroy() };
      let pending = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        s.raw += c;
        pending += c;
        let at;
        while ((at = pending.indexOf('\n\n')) >= 0) {
          const f = {};
          for (const line of pending.slice(0, at).split('\n')) {
            if (line.startsWith(':')) continue;
            const i = line.indexOf(':');
            const k = i < 0 ? line : line.slice(0, i);
            const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
            f[k] = k === 'data' && v.startsWith('{') ? JSON.parse(v) : v;
          }
          pending = pending.slice(at + 2);
          s.frames.push(f);
        }
      });
      s.find = (pred, ms = WAIT_MS) => until(`stream frame (got ${s.raw})`, () => s.frames.find(pred), ms);
      resolve(s);
    });
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------------------

let redisUrl;
let dataA;
let dataB;
let nodeA;
let nodeB;
let acctA; // {accountId, token, api}
let acctB;
const ep = { A: [], B: [] }; // [limited, open, generous] per node, ids 1, 2, 3 on both

const NODE_ENV = () => ({ INLET_REDIS_URL: redisUrl, INLET_ENDPOINT_CACHE_TTL_MS: 60_000 });
const tenantSql = (data, q) => storeSql(data, 'tenant', q);
// The endpoint's settings.active, set in the database behind the node's back.
const setActive = (data, id, on) => tenantSql(data, {
  postgres: `UPDATE endpoints SET settings = jsonb_set(settings::jsonb, '{active}', '${on}')::text WHERE id = ${id}`,
  sqlite: `UPDATE endpoints SET settings = json_set(settings, '$.active', json('${on}')) WHERE id = ${id}`,
});
const health = async (node) => {
  const r = await request(`${node.url}/healthz`);
  assert.equal(r.status, 200, r.text);
  return r.json;
};
const post = (node, e, n = 1) => postForm(node.url, e.key, 'urlencoded', [['message', `hello ${n}`]]);

before(async () => {
  await startRedis();
  redisUrl = `redis://127.0.0.1:${redisPort}`;

  dataA = await makeDataDir();
  dataB = await makeDataDir();
  acctA = await newAccount(dataA);
  await copyFile(path.join(dataA, 'master.key'), path.join(dataB, 'master.key'));
  acctB = await newAccount(dataB);
  nodeA = await startServer(dataA, { env: NODE_ENV() });
  nodeB = await startServer(dataB, { env: NODE_ENV() });
  acctA.api = apiClient(nodeA.url, acctA.token);
  acctB.api = apiClient(nodeB.url, acctB.token);
  for (const [name, api, list] of [['A', acctA.api, ep.A], ['B', acctB.api, ep.B]]) {
    list.push(await createEndpoint(api, `limited ${name}`, { rate_limit: { per_minute: 1, burst: 4 } }));
    list.push(await createEndpoint(api, `open ${name}`, { rate_limit: { per_minute: 0, burst: 1 } }));
    list.push(await createEndpoint(api, `generous ${name}`, { rate_limit: { per_minute: 6000, burst: 1000 } }));
  }
  // The same row ids on both nodes, as one shared store would give.
  for (const data of [dataA, dataB]) {
    assert.equal(tenantSql(data, 'SELECT id FROM endpoints ORDER BY id').split('\n').join(','), '1,2,3');
  }
  await until('both nodes report redis ok', async () => (await health(nodeA)).redis === 'ok' && (await health(nodeB)).redis === 'ok');
});

after(async () => {
  await cleanup();
  await killRedis();
});

test('without INLET_REDIS_URL /healthz says nothing of Redis; a bad URL stops the start', T, async () => {
  const data = await makeDataDir();
  const alone = await startServer(data);
  const h = await health(alone);
  assert.equal(h.status, 'ok');
  assert.equal('redis' in h, false);
  await alone.stop();
  for (const bad of ['http://127.0.0.1:6379', 'redis://:6379', 'redis://host:99999', 'redis://secret@host']) {
    await assert.rejects(startServer(data, { env: { INLET_REDIS_URL: bad } }), /exited before listening/, bad);
  }
  // The error says what the form is, never the URL (it may hold a password).
  await assert.rejects(startServer(data, { env: { INLET_REDIS_URL: 'redis://user:hunter2@' } }),
    (e) => /INLET_REDIS_URL must be/.test(e.message) && !e.message.includes('hunter2'));
});

test('one rate limit across nodes, kept in Redis, surviving a restart', T, async () => {
  const [la, lb] = [ep.A[0], ep.B[0]];
  assert.equal((await post(nodeA, la, 1)).status, 200);
  assert.equal((await post(nodeB, lb, 2)).status, 200);
  assert.equal((await post(nodeA, la, 3)).status, 200);

  const redis = await Resp.connect(redisPort);
  const keys = await redis.command('KEYS', `${PREFIX}:rl:1:*`);
  assert.equal(keys.length, 1, `one bucket for (endpoint 1, this client) on both nodes: ${keys}`);
  assert.match(keys[0], /^inlet:rl:1:[0-9a-f]{32}$/, 'the client is named by an HMAC, not its address');
  const all = await redis.command('KEYS', '*');
  assert.ok(!all.some((k) => k.includes('127.0.0.1')), `no client address in Redis: ${all}`);
  const ttl = await redis.command('PTTL', keys[0]);
  assert.ok(ttl > 0 && ttl <= 4 * 60_000 + 1000, `the bucket expires once it would be full again: ${ttl}`);
  assert.ok(Number(await redis.command('HGET', keys[0], 'tokens')) < 2);

  // A restarted node finds the bucket where it was: one token left of four.
  await nodeA.stop();
  nodeA = await startServer(dataA, { env: NODE_ENV() });
  acctA.api = apiClient(nodeA.url, acctA.token);
  await until('A back on Redis', async () => (await health(nodeA)).redis === 'ok');
  assert.equal((await post(nodeA, la, 4)).status, 200);
  const refused = await post(nodeB, lb, 5);
  assert.equal(refused.status, 429, refused.text);
  assert.ok(Number(refused.headers['retry-after']) >= 1);
  assert.equal((await post(nodeA, la, 6)).status, 429);
  redis.close();
});

test('a submission taken by B shows on a stream open on A, under A\'s ids', T, async () => {
  const [oa, ob] = [ep.A[1], ep.B[1]];
  const wire = await Resp.connect(redisPort);
  await wire.command('SUBSCRIBE', `${PREFIX}:live`);
  const onA = await openStream(nodeA.url, acctA.token);
  const onB = await openStream(nodeB.url, acctB.token);
  assert.equal(onA.status, 200);
  assert.equal(onB.status, 200);
  const start = await onA.find((f) => f.id !== undefined && f.event === undefined);

  const fromA = await post(nodeA, oa, 'a');
  assert.equal(fromA.status, 200, fromA.text);
  const fromB = await post(nodeB, ob, 'b');
  assert.equal(fromB.status, 200, fromB.text);

  // On the wire: "<node tag> <account>\n<endpoint>\n<type>\n<json>".
  const m = await wire.next((x) => x.data.includes(fromB.json.id));
  const [head, endpoint, type, json] = m.data.split('\n');
  assert.match(head, /^[0-9a-f]{16} 1$/);
  assert.equal(endpoint, ob.id);
  assert.equal(type, 'submission.created');
  assert.equal(JSON.parse(json).id, fromB.json.id);

  const a1 = await onA.find((f) => f.event === 'submission.created' && f.data.id === fromA.json.id);
  const a2 = await onA.find((f) => f.event === 'submission.created' && f.data.id === fromB.json.id);
  assert.equal(a2.data.endpoint, ob.id, 'the event names B\'s endpoint');
  assert.ok(BigInt(a1.id) > BigInt(start.id) && BigInt(a2.id) > BigInt(start.id), 'A numbers what its stream sends');
  const b1 = await onB.find((f) => f.event === 'submission.created' && f.data.id === fromA.json.id);
  await onB.find((f) => f.event === 'submission.created' && f.data.id === fromB.json.id);
  // A node does not hear its own message back: one event per submission.
  await sleep(300);
  for (const s of [onA, onB]) {
    for (const id of [fromA.json.id, fromB.json.id]) {
      assert.equal(s.frames.filter((f) => f.data && f.data.id === id).length, 1, `${id} once on each stream`);
    }
  }
  onA.close();
  onB.close();

  // Ids are each node's own: resuming on the other node is a reset, never
  // a replay from the wrong place. B resumes its own id exactly.
  const moved = await openStream(nodeB.url, acctB.token, { 'Last-Event-ID': a2.id });
  const reset = await moved.find((f) => f.event !== undefined);
  assert.equal(reset.event, 'reset');
  moved.close();
  const again = await openStream(nodeB.url, acctB.token, { 'Last-Event-ID': b1.id });
  const next = await again.find((f) => f.event !== undefined);
  assert.equal(next.event, 'submission.created');
  assert.equal(next.data.id, fromB.json.id);
  again.close();
  wire.close();
});

test('an endpoint patched on A is dropped from B\'s cache at once', T, async () => {
  const [oa, ob] = [ep.A[1], ep.B[1]];
  const wire = await Resp.connect(redisPort);
  await wire.command('SUBSCRIBE', `${PREFIX}:endpoints`);

  assert.equal((await post(nodeB, ob, 'cached')).status, 200); // B holds endpoint 2 for a minute
  // What another node would have written to the shared store: endpoint 2
  // switched off. B does not know yet: its cached copy still takes posts.
  setActive(dataB, 2, false);
  assert.equal((await post(nodeB, ob, 'still cached')).status, 200);

  const r = await acctA.api.patch(`/api/v1/endpoints/${oa.id}`, { name: 'renamed on A' });
  assert.equal(r.status, 200, r.text);
  const m = await wire.next();
  assert.match(m.data, /^[0-9a-f]{16} 2$/, 'the endpoint id goes out, nothing more');

  const refused = await until('B reads endpoint 2 again', async () => {
    const x = await post(nodeB, ob, 'after');
    return x.status === 403 ? x : null;
  }, 5_000 * SCALE);
  assert.ok(refused.json.errors.some((e) => e.code === 'INACTIVE'), refused.text);
  setActive(dataB, 2, true);
  const d = await acctB.api.patch(`/api/v1/endpoints/${ob.id}`, { name: 'back on' });
  assert.equal(d.status, 200);
  wire.close();
});

test('Redis down: posts still answer, /healthz says so; back: the nodes reconnect', T, async () => {
  const [ga, gb] = [ep.A[2], ep.B[2]];
  assert.equal((await post(nodeA, ga)).status, 200);
  await killRedis();

  for (let i = 0; i < 5; i++) {
    const t0 = Date.now();
    const r = await post(i % 2 ? nodeB : nodeA, i % 2 ? gb : ga, i);
    assert.equal(r.status, 200, r.text);
    assert.ok(Date.now() - t0 < 2_000 * SCALE, 'no post waits on the dead Redis');
  }
  for (const node of [nodeA, nodeB]) {
    const h = await until('healthz says redis down', async () => {
      const x = await health(node);
      return x.redis === 'down' ? x : null;
    });
    assert.equal(h.status, 'ok', 'a down Redis does not fail the node');
  }
  const metrics = (await request(`${nodeA.url}/metrics`)).text;
  const count = (name) => Number((metrics.match(new RegExp(`^${name} (\\d+)$`, 'm')) || [])[1]);
  assert.ok(count('inlet_redis_fallbacks_total') >= 1, metrics);
  assert.ok(count('inlet_redis_errors_total') >= 1, metrics);

  await startRedis();
  for (const node of [nodeA, nodeB]) {
    await until('healthz says redis ok again', async () => (await health(node)).redis === 'ok');
  }
  // Shared again: the post's bucket is back in (the new, empty) Redis.
  assert.equal((await post(nodeB, gb, 'back')).status, 200);
  const redis = await Resp.connect(redisPort);
  assert.equal((await redis.command('KEYS', `${PREFIX}:rl:3:*`)).length, 1);
  redis.close();
});
