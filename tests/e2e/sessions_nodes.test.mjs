// Cookie sessions across two nodes on one PostgreSQL and one Redis,
// black-box (app/sesscache.c): each node keeps the sessions it looked up
// for INLET_SESSION_CACHE_TTL_MS, and what ends a session is published on
// "<prefix>:sessions" so the other node drops its copy at once.
//
//   cached        a session made on A works on B; B's second request is a
//                 hit (/metrics), and B keeps answering for a session
//                 deleted behind its back (the TTL is a minute here)
//   logout        a logout on A: B answers 401 at once, well under the TTL
//   revoke        a session revoked on A (from another session): 401 on B
//                 at once; the revoking session still works
//   Redis down    B restarted with a short TTL: a logout on A cannot reach
//                 it, B still serves its copy, then 401 within the TTL

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { cleanup, makeDataDir, runInlet, startServer, randomMasterKey, SCALE } from '../lib/inlet.mjs';
import { request } from '../lib/http.mjs';
import { postgresBinDir, startPostgres, stopAllPostgres } from '../lib/postgres.mjs';
import { startRedis } from '../lib/redis.mjs';

const T = { timeout: 90_000 * SCALE };
const PASSWORD = 'correct horse battery staple';
const LONG_TTL = 60_000;
const SHORT_TTL = 3_000;
let pg;
let redis;
let env;
let dataA;
let dataB;
let nodeA;
let nodeB;
const email = `sess-${process.pid}@example.test`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, ms) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await sleep(25);
  }
  throw new Error(`${what}: not within ${ms} ms (last: ${JSON.stringify(last)})`);
}

const sql = (q) => {
  const r = spawnSync(path.join(postgresBinDir(), 'psql'), [pg.url, '-Atc', q], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
};

/** Logs in on a node: {cookie, csrf}. */
async function login(node) {
  const r = await request(`${node.url}/api/v1/auth/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: { email, password: PASSWORD },
  });
  assert.equal(r.status, 200, r.text);
  return { cookie: String(r.headers['set-cookie']).split(';')[0], csrf: r.json.csrf_token };
}

const as = (node, s, method, p) => request(`${node.url}${p}`, {
  method, headers: { Cookie: s.cookie, Accept: 'application/json', 'X-CSRF-Token': s.csrf },
});
// The session check alone, and one through api_auth_cookie (memberships).
const who = (node, s) => as(node, s, 'GET', '/api/v1/auth/session');
const endpoints = (node, s) => as(node, s, 'GET', '/api/v1/endpoints');

async function metric(node, name) {
  const r = await request(`${node.url}/metrics`);
  const m = r.text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
  assert.ok(m, `${name} in /metrics`);
  return Number(m[1]);
}

const startNode = (data, extra = {}) => startServer(data, { env: { ...env, ...extra } });

before(async () => {
  pg = await startPostgres();
  redis = await startRedis();
  env = {
    INLET_DATABASE_URL: pg.url, INLET_REDIS_URL: redis.url, INLET_MASTER_KEY: await randomMasterKey(),
    INLET_SESSION_CACHE_TTL_MS: String(LONG_TTL),
  };
  dataA = await makeDataDir();
  dataB = await makeDataDir();
  const init = await runInlet(['init', '--data', dataA, '--email', email, '--password-stdin'], { input: `${PASSWORD}\n`, env });
  assert.equal(init.code, 0, init.stderr);
  nodeA = await startNode(dataA, { INLET_NODE_ID: '1' });
  nodeB = await startNode(dataB, { INLET_NODE_ID: '2' });
  for (const n of [nodeA, nodeB]) {
    await until('redis ok', async () => (await request(`${n.url}/healthz`)).json?.redis === 'ok', 10_000 * SCALE);
  }
});

after(async () => {
  await cleanup();
  if (redis) await redis.stop();
  await stopAllPostgres();
});

test('a session made on A works on B, from B\'s cache after the first look-up', T, async () => {
  const s = await login(nodeA);
  const hits0 = await metric(nodeB, 'inlet_session_cache_hits_total');
  const misses0 = await metric(nodeB, 'inlet_session_cache_misses_total');
  assert.equal((await who(nodeB, s)).status, 200);
  for (let i = 0; i < 4; i++) {
    assert.equal((await who(nodeB, s)).status, 200);
    assert.equal((await endpoints(nodeB, s)).status, 200);
  }
  assert.equal(await metric(nodeB, 'inlet_session_cache_misses_total') - misses0, 1, 'one read of the store');
  assert.equal(await metric(nodeB, 'inlet_session_cache_hits_total') - hits0, 8, 'then hits');
  // Deleted behind every node's back (nothing announced): B trusts its
  // copy for the TTL, which only a cache explains; A never cached it.
  sql(`DELETE FROM tenant.sessions WHERE user_id = (SELECT id FROM tenant.users WHERE email = '${email}')`);
  assert.equal(sql('SELECT count(*) FROM tenant.sessions'), '0');
  assert.equal((await who(nodeB, s)).status, 200, 'served from B\'s cache');
  assert.equal((await who(nodeA, s)).status, 401, 'A never looked it up: it reads the store');
});

test('a logout on A: B answers 401 at once, well under its TTL', T, async () => {
  const s = await login(nodeA);
  assert.equal((await who(nodeB, s)).status, 200);
  assert.equal((await who(nodeB, s)).status, 200); // cached on B now
  const t0 = Date.now();
  assert.equal((await as(nodeA, s, 'POST', '/api/v1/auth/logout')).status, 204);
  await until('B refuses the ended session', async () => (await who(nodeB, s)).status === 401, 5_000 * SCALE);
  assert.ok(Date.now() - t0 < LONG_TTL / 4, 'Redis, not the TTL');
  assert.equal((await endpoints(nodeB, s)).status, 401);
  assert.equal((await who(nodeA, s)).status, 401);
});

test('a session revoked on A (from another one): 401 on B at once, the other goes on', T, async () => {
  const keep = await login(nodeA);
  const gone = await login(nodeA);
  assert.equal((await endpoints(nodeB, gone)).status, 200);
  assert.equal((await endpoints(nodeB, keep)).status, 200);
  const list = await as(nodeA, keep, 'GET', '/api/v1/auth/sessions');
  assert.equal(list.status, 200, list.text);
  const target = list.json.data.find((x) => !x.current);
  assert.ok(target, list.text);
  const t0 = Date.now();
  const r = await as(nodeA, keep, 'DELETE', `/api/v1/auth/sessions/${target.id}`);
  assert.equal(r.status, 204, r.text);
  await until('B refuses the revoked session', async () => (await endpoints(nodeB, gone)).status === 401, 5_000 * SCALE);
  assert.ok(Date.now() - t0 < LONG_TTL / 4, 'Redis, not the TTL');
  assert.equal((await endpoints(nodeB, keep)).status, 200, 'the revoking session is read again and still works');
  assert.equal((await who(nodeA, gone)).status, 401);
});

test('Redis down: a logout on A reaches B within B\'s TTL', T, async () => {
  await nodeB.stop();
  nodeB = await startNode(dataB, { INLET_NODE_ID: '2', INLET_SESSION_CACHE_TTL_MS: String(SHORT_TTL) });
  await redis.stop();
  redis = null;
  for (const n of [nodeA, nodeB]) {
    await until('redis down', async () => (await request(`${n.url}/healthz`)).json?.redis === 'down', 10_000 * SCALE);
  }
  const s = await login(nodeA);
  assert.equal((await who(nodeB, s)).status, 200); // cached on B
  const t0 = Date.now();
  assert.equal((await as(nodeA, s, 'POST', '/api/v1/auth/logout')).status, 204);
  assert.equal((await who(nodeA, s)).status, 401, 'A dropped its own copy at once');
  const still = await who(nodeB, s);
  if (Date.now() - t0 < SHORT_TTL / 2) assert.equal(still.status, 200, 'nothing told B: its copy still answers');
  await until('B reads the store again', async () => (await who(nodeB, s)).status === 401, SHORT_TTL + 3_000 * SCALE);
  assert.ok(Date.now() - t0 <= SHORT_TTL + 3_000 * SCALE);
});
