// deploy/nginx/inlet.conf as shipped, in front of a real inlet node (the
// second upstream is a port nobody listens on: a node that is down). Only
// the ports and the listen line are replaced. Posts pass once each (none
// lost to the dead node, none doubled), a file streams through, the live
// stream passes at once, the visitor's address is the one nginx saw (a
// forged X-Forwarded-For does not dodge a rate limit), and nginx's own
// per-address request limit answers 429.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { makeDataDir, startServer, cleanup, newAccount, REPO_ROOT, SCALE } from '../lib/inlet.mjs';
import { freePort, startNginx } from '../lib/nginx.mjs';
import { apiClient, createEndpoint, listAll, multipart, request, urlencoded } from '../lib/http.mjs';

const T = { timeout: 60_000 * SCALE };
let inlet;
let api;
let proxy; // {url, port, dir, stop}


before(async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  inlet = await startServer(data, { env: { INLET_TRUST_PROXY: '1' } });
  api = apiClient(inlet.url, acct.token);

  const dead = await freePort();
  let conf = await readFile(path.join(REPO_ROOT, 'deploy/nginx/inlet.conf'), 'utf8');
  const upstreams = conf.match(/server 127\.0\.0\.1:\d+/g);
  assert.equal(upstreams.length, 2, 'the shipped file names two nodes');
  proxy = await startNginx(async (port, dir) => {
    conf = conf.replace(upstreams[0], `server 127.0.0.1:${inlet.port}`)
      .replace(upstreams[1], `server 127.0.0.1:${dead}`)
      .replace(/listen 80;/, `listen 127.0.0.1:${port};`);
    await writeFile(path.join(dir, 'inlet.conf'), conf);
    return `  include ${dir}/inlet.conf;`;
  });
});

after(async () => {
  if (proxy) proxy.stop();
  await cleanup();
});

const post = (key, pairs, headers = {}) => request(`${proxy.url}/f/${key}`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json', ...headers },
  body: urlencoded(pairs),
});

test('posts through nginx land once each, though one upstream node is down', T, async () => {
  const ep = await createEndpoint(api, 'through-nginx', { rate_limit: { per_minute: 0, burst: 1 } });
  const ids = [];
  for (let i = 0; i < 40; i++) {
    const r = await post(ep.key, [['n', String(i)]]);
    assert.equal(r.status, 200, r.text);
    ids.push(r.json.id);
  }
  const stored = await listAll(api, ep.id);
  assert.equal(stored.length, 40);
  assert.deepEqual(new Set(stored.map((s) => s.id)), new Set(ids));
});

test('a 10 MB file streams through to the vault and back', T, async () => {
  const ep = await createEndpoint(api, 'file-through-nginx');
  const bytes = randomBytes(10 * 1024 * 1024);
  const mp = multipart([{ name: 'name', value: 'big' }, { name: 'file', filename: 'big.bin', data: bytes }]);
  const r = await request(`${proxy.url}/f/${ep.key}`, {
    method: 'POST', headers: { 'Content-Type': mp.contentType, Accept: 'application/json' }, body: mp.body,
  });
  assert.equal(r.status, 200, r.text);
  const f = await api.get(`/api/v1/submissions/${r.json.id}/files/0`);
  assert.ok(f.body.equals(bytes));
});

test('the live stream passes through its location at once', T, async () => {
  const ep = await createEndpoint(api, 'live-through-nginx');
  const got = await new Promise((resolve, reject) => {
    const req = http.get(`${proxy.url}/api/v1/stream`, { headers: { Authorization: `Bearer ${api.token}` }, agent: false }, (res) => {
      if (res.statusCode !== 200) { reject(new Error(`stream ${res.statusCode}`)); return; }
      let buf = '';
      let sent = null;
      res.setEncoding('utf8');
      res.on('data', async (c) => {
        buf += c;
        if (sent === null && buf.includes('retry:')) {
          sent = Date.now();
          const p = await post(ep.key, [['m', 'live']]);
          if (p.status !== 200) reject(new Error(p.text));
        }
        const m = buf.match(/event: submission\.created\ndata: (.*)\n/);
        if (m) {
          req.destroy();
          resolve({ data: JSON.parse(m[1]), ms: Date.now() - sent });
        }
      });
    });
    req.on('error', (e) => { if (e.code !== 'ECONNRESET') reject(e); });
    setTimeout(() => reject(new Error('no event through nginx')), 5000 * SCALE);
  });
  assert.equal(got.data.endpoint, ep.id);
  assert.ok(got.ms < 2000 * SCALE, `${got.ms} ms`);
});

test('the visitor is the address nginx saw: a forged X-Forwarded-For does not dodge a limit', T, async () => {
  const ep = await createEndpoint(api, 'limited', { rate_limit: { per_minute: 1, burst: 3 } });
  const codes = [];
  for (let i = 0; i < 6; i++) {
    const r = await post(ep.key, [['i', String(i)]], { 'X-Forwarded-For': `203.0.113.${i + 1}` });
    codes.push(r.status);
  }
  assert.deepEqual(codes, [200, 200, 200, 429, 429, 429], 'one visitor (127.0.0.1), one bucket');
  const subs = await listAll(api, ep.id);
  assert.equal(new Set(subs.map((s) => s.meta.ip_hash)).size, 1, 'one visitor\'s hash');
});

test('nginx\'s per-address request limit answers 429 before Inlet sees a flood', T, async () => {
  const ep = await createEndpoint(api, 'flood', { rate_limit: { per_minute: 0, burst: 1 } });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const all = await Promise.all(Array.from({ length: 400 }, (_, i) => request(`${proxy.url}/f/${ep.key}`, {
    method: 'POST', agent,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: urlencoded([['i', String(i)]]),
  })));
  agent.destroy();
  const ok = all.filter((r) => r.status === 200).length;
  const limited = all.filter((r) => r.status === 429).length;
  assert.equal(ok + limited, 400, `only 200 or 429: ${[...new Set(all.map((r) => r.status))]}`);
  assert.ok(limited > 0, 'nginx limited the burst');
  assert.equal((await listAll(api, ep.id)).length, ok, 'every 200 is stored, nothing else');
});

test('INLET_TRUST_PROXY=N takes the address N entries from the right of X-Forwarded-For', T, async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  const two = await startServer(data, { env: { INLET_TRUST_PROXY: '2' } });
  const api2 = apiClient(two.url, acct.token);
  const ep = await createEndpoint(api2, 'hops', { ip: 'store', rate_limit: { per_minute: 0, burst: 1 } });
  const cases = [
    ['198.51.100.7, 10.0.0.2, 10.0.0.1', '10.0.0.2'],
    ['forged, 198.51.100.8 ,10.0.0.1', '198.51.100.8'],
    ['198.51.100.9', '127.0.0.1'], // fewer entries than hops: the peer
  ];
  for (const [xff, want] of cases) {
    const r = await request(`${two.url}/f/${ep.key}`, {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json', 'X-Forwarded-For': xff },
      body: urlencoded([['m', xff]]),
    });
    assert.equal(r.status, 200, r.text);
    const s = await api2.get(`/api/v1/submissions/${r.json.id}`);
    assert.equal(s.json.meta.ip, want, xff);
  }
  await two.stop();
});
