// Live updates (GET /api/v1/stream, Server-Sent Events), black-box: real
// form posts, TrackX events and API changes show up on open streams of the
// right account only; a reconnect with Last-Event-ID gets exactly what it
// missed; many open streams do not hold the server's few worker threads;
// SIGTERM ends open streams at once; behind nginx, events pass unbuffered.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { makeDataDir, startServer, cleanup, newAccount, SCALE } from '../lib/inlet.mjs';
import { startNginx } from '../lib/nginx.mjs';
import { apiClient, createEndpoint, postForm, request } from '../lib/http.mjs';

after(cleanup);
const T = { timeout: 30_000 * SCALE };
const WAIT_MS = 5_000 * SCALE;
const NO_LIMIT = { rate_limit: { per_minute: 0, burst: 1 } };
const PASSWORD = 'correct horse battery staple'; // the harness's (tests/lib/inlet.mjs)

let inlet;
let a; // {accountId, token, email, api}
let b;

before(async () => {
  const data = await makeDataDir();
  a = await newAccount(data);
  b = await newAccount(data);
  inlet = await startServer(data);
  a.api = apiClient(inlet.url, a.token);
  b.api = apiClient(inlet.url, b.token);
});

// ---------------------------------------------------------------------------
// An SSE reader over node:http: frames parsed as they arrive.

/**
 * Opens a stream. Resolves once the head is in: {status, headers, frames
 * (parsed: {id, event, data, comments, retry}), raw, next(pred), close(),
 * ended}. next(pred) resolves the first frame not yet taken that matches
 * pred (default: any with an event), failing after WAIT_MS.
 */
function openStream(base, { token, query = '', headers = {} } = {}) {
  const h = { Accept: 'text/event-stream', ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/api/v1/stream${query}`, { headers: h, agent: false }, (res) => {
      const s = {
        status: res.statusCode, headers: res.headers, frames: [], raw: '', taken: 0, waiters: [],
        ended: new Promise((r) => res.on('close', r)),
        close: () => req.destroy(),
      };
      let pending = '';
      const wake = () => { for (const w of [...s.waiters]) w(); };
      res.setEncoding('utf8');
      res.on('data', (c) => {
        s.raw += c;
        pending += c;
        let at;
        while ((at = pending.indexOf('\n\n')) >= 0) {
          const block = pending.slice(0, at);
          pending = pending.slice(at + 2);
          const f = { comments: [] };
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) f.comments.push(line.slice(1).trim());
            else {
              const i = line.indexOf(':');
              const k = i < 0 ? line : line.slice(0, i);
              const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
              f[k] = k === 'data' && v.startsWith('{') ? JSON.parse(v) : v;
            }
          }
          s.frames.push(f);
        }
        wake();
      });
      res.on('close', wake);
      /** Resolves the next matching frame after the last one taken. */
      s.next = (pred = (f) => f.event !== undefined, ms = WAIT_MS) => new Promise((ok, fail) => {
        const check = () => {
          for (let i = s.taken; i < s.frames.length; i++) {
            if (pred(s.frames[i])) {
              s.taken = i + 1;
              done();
              ok(s.frames[i]);
              return true;
            }
          }
          if (res.complete || res.destroyed) {
            done();
            fail(new Error(`stream ended without the frame; got:\n${s.raw}`));
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => { done(); fail(new Error(`no matching frame within ${ms} ms; got:\n${s.raw}`)); }, ms);
        const done = () => { clearTimeout(timer); s.waiters = s.waiters.filter((w) => w !== check); };
        if (!check()) s.waiters.push(check);
      });
      /** Every event frame received so far (not only untaken ones). */
      s.events = () => s.frames.filter((f) => f.event !== undefined);
      if (res.statusCode !== 200) {
        let body = '';
        res.on('data', (c) => { body += c; });
        res.on('end', () => { s.text = body; try { s.json = JSON.parse(body); } catch { /* not JSON */ } resolve(s); });
        return;
      }
      resolve(s);
    });
    req.on('error', reject);
  });
}

const submit = async (ep, pairs = [['email', 'x@example.test'], ['message', 'secret words']]) => {
  const r = await postForm(inlet.url, ep.key, 'urlencoded', pairs);
  assert.equal(r.status, 200, r.text);
  return r.json.id;
};

const trackx = (ep, message) => request(`${inlet.url}/v1/${ep.key}/event`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json', Origin: 'https://shop.example' },
  body: {
    name: 'TypeError', message, type: 1, uri: 'https://shop.example/cart', meta: { _c: 'd', _v: '0.6.1' },
    stack: `TypeError: ${message}\n    at applyCoupon (https://shop.example/js/cart.js:31:24)`,
  },
});

// ---------------------------------------------------------------------------

test('no key or a bad key: 401 JSON, no stream', T, async () => {
  for (const token of [undefined, 'inlet_sk_nope']) {
    const s = await openStream(inlet.url, { token });
    assert.equal(s.status, 401);
    assert.match(String(s.headers['content-type']), /^application\/json/);
    assert.equal(s.json.error.code, 'unauthorized');
  }
  const bad = await openStream(inlet.url, { token: a.token, headers: { 'Last-Event-ID': 'abc' } });
  assert.equal(bad.status, 400);
});

test('the head: SSE headers for proxies, then retry, a comment and the id to resume from', T, async () => {
  const s = await openStream(inlet.url, { token: a.token });
  try {
    assert.equal(s.status, 200);
    assert.match(String(s.headers['content-type']), /^text\/event-stream/);
    assert.equal(s.headers['cache-control'], 'no-cache');
    assert.equal(s.headers['x-accel-buffering'], 'no');
    const first = await s.next(() => true);
    assert.equal(first.retry, '3000');
    assert.ok(first.comments.length > 0, 'a comment so that proxies flush');
    assert.match(first.id, /^[0-9]+$/);
    assert.equal(first.event, undefined);
  } finally {
    s.close();
  }
});

test('a form post, a status change and an erase appear on the stream, without plaintext', T, async () => {
  const ep = await createEndpoint(a.api, 'contact', NO_LIMIT);
  const s = await openStream(inlet.url, { token: a.token });
  try {
    const id = await submit(ep);
    const created = await s.next();
    assert.equal(created.event, 'submission.created');
    assert.match(created.id, /^[0-9]+$/);
    assert.equal(created.data.id, id);
    assert.equal(created.data.endpoint, ep.id);
    assert.equal(created.data.status, 'inbox');
    assert.ok(Math.abs(Date.parse(created.data.created_at) - Date.now()) < 60_000, created.data.created_at);
    assert.ok(!s.raw.includes('secret words') && !s.raw.includes('x@example.test'), 'no field in the stream');

    const p = await a.api.patch(`/api/v1/submissions/${id}`, { status: 'spam' });
    assert.equal(p.status, 200, p.text);
    const updated = await s.next();
    assert.equal(updated.event, 'submission.updated');
    assert.deepEqual(updated.data, { id, endpoint: ep.id, status: 'spam' });
    assert.ok(BigInt(updated.id) > BigInt(created.id), 'ids grow');

    assert.equal((await a.api.del(`/api/v1/submissions/${id}`)).status, 204);
    const deleted = await s.next();
    assert.equal(deleted.event, 'submission.deleted');
    assert.deepEqual(deleted.data, { id, endpoint: ep.id });

    // A honeypot post is stored as spam, and says so.
    const spam = await submit(ep, [['message', 'buy'], ['_gotcha', 'bot']]);
    const sc = await s.next();
    assert.deepEqual([sc.event, sc.data.id, sc.data.status], ['submission.created', spam, 'spam']);
  } finally {
    s.close();
  }
});

test('TrackX events: issue.created, then issue.updated with the count; a PATCH too', T, async () => {
  const ep = await createEndpoint(a.api, 'site', NO_LIMIT, 'events');
  const s = await openStream(inlet.url, { token: a.token });
  try {
    assert.equal((await trackx(ep, 'x is undefined')).status, 200);
    const c = await s.next();
    assert.equal(c.event, 'issue.created');
    assert.match(c.data.id, /^iss_/);
    assert.equal(c.data.endpoint, ep.id);
    assert.equal(c.data.count, 1);
    assert.equal(c.data.state, 'open');
    assert.equal(typeof c.data.last_seen, 'number');

    assert.equal((await trackx(ep, 'x is undefined')).status, 200);
    const u = await s.next();
    assert.equal(u.event, 'issue.updated');
    assert.equal(u.data.id, c.data.id);
    assert.equal(u.data.count, 2);

    const p = await a.api.patch(`/api/v1/issues/${c.data.id}`, { state: 'resolved' });
    assert.equal(p.status, 200, p.text);
    const r = await s.next();
    assert.deepEqual([r.event, r.data.id, r.data.state, r.data.count], ['issue.updated', c.data.id, 'resolved', 2]);
    // The issue as the API shows it agrees.
    const g = await a.api.get(`/api/v1/issues/${c.data.id}`);
    assert.equal(g.json.count, 2);
  } finally {
    s.close();
  }
});

test('a cookie session streams too', T, async () => {
  const login = await request(`${inlet.url}/api/v1/auth/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: { email: a.email, password: PASSWORD },
  });
  assert.equal(login.status, 200, login.text);
  const cookie = String(login.headers['set-cookie']).split(';')[0];
  const ep = await createEndpoint(a.api, 'cookie', NO_LIMIT);
  const s = await openStream(inlet.url, { headers: { Cookie: cookie } });
  try {
    assert.equal(s.status, 200);
    const id = await submit(ep);
    assert.equal((await s.next()).data.id, id);
  } finally {
    s.close();
  }
});

test('reconnect with Last-Event-ID: exactly the missed events, in order; a lost id resets', T, async () => {
  const ep = await createEndpoint(a.api, 'resume', NO_LIMIT);
  const s = await openStream(inlet.url, { token: a.token });
  const first = await submit(ep);
  const seen = await s.next();
  assert.equal(seen.data.id, first, s.raw);
  s.close();
  await s.ended;

  const missed = [];
  for (let i = 0; i < 3; i++) missed.push(await submit(ep));
  const patched = await a.api.patch(`/api/v1/submissions/${missed[0]}`, { status: 'trash' });
  assert.equal(patched.status, 200);

  // Each reconnect resumes from the same id, so the second also gets
  // what the first saw live.
  const expected = [...missed.map((id) => ['submission.created', id]), ['submission.updated', missed[0]]];
  for (const how of ['header', 'query']) {
    const opts = how === 'header'
      ? { token: a.token, headers: { 'Last-Event-ID': seen.id } }
      : { token: a.token, query: `?last_event_id=${seen.id}` };
    const r = await openStream(inlet.url, opts);
    try {
      const got = [];
      for (let i = 0; i < expected.length; i++) got.push(await r.next());
      assert.deepEqual(got.map((f) => [f.event, f.data.id]), expected, how);
      const ids = got.map((f) => BigInt(f.id));
      assert.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]), 'ids in order');
      assert.ok(ids[0] > BigInt(seen.id));
      // Nothing else is owed: the next event is a new one.
      const next = await submit(ep);
      assert.deepEqual([(await r.next()).data.id], [next]);
      assert.equal(r.events().length, expected.length + 1, 'no reset, no repeat');
      expected.push(['submission.created', next]);
    } finally {
      r.close();
    }
  }

  // An id this server never sent (an earlier process's, or made up): the
  // client is told to reload, and resumes from the reset's id.
  const old = await openStream(inlet.url, { token: a.token, headers: { 'Last-Event-ID': '1' } });
  try {
    const reset = await old.next();
    assert.equal(reset.event, 'reset');
    assert.match(reset.id, /^[0-9]+$/);
    const again = await submit(ep);
    assert.equal((await old.next()).data.id, again);
  } finally {
    old.close();
  }
});

test("another account's stream gets nothing; ?endpoint= keeps one endpoint", T, async () => {
  const ep1 = await createEndpoint(a.api, 'one', NO_LIMIT);
  const ep2 = await createEndpoint(a.api, 'two', NO_LIMIT);
  const epB = await createEndpoint(b.api, 'theirs', NO_LIMIT);
  const other = await openStream(inlet.url, { token: b.token });
  const only1 = await openStream(inlet.url, { token: a.token, query: `?endpoint=${ep1.id}` });
  try {
    const x = await submit(ep2);
    const y = await submit(ep1);
    // b's own post comes after a's: had a's reached b, they would be first.
    const z = await submit(epB);
    assert.deepEqual([(await other.next()).data.id], [z]);
    assert.deepEqual(other.events().map((f) => f.data.endpoint), [epB.id]);
    assert.deepEqual([(await only1.next()).data.id], [y]);
    const w = await submit(ep1);
    assert.deepEqual([(await only1.next()).data.id], [w]);
    assert.ok(!only1.raw.includes(x) && !other.raw.includes(x) && !other.raw.includes(y));
  } finally {
    other.close();
    only1.close();
  }
  // Another account's endpoint, or none: 404.
  for (const id of [epB.id, 'ep_nope']) {
    const s = await openStream(inlet.url, { token: a.token, query: `?endpoint=${id}` });
    assert.equal(s.status, 404, id);
    assert.equal(s.json.error.code, 'not_found');
  }
});

test('60 open streams hold no worker thread: posts and API reads answer at once; 64 per account', T, async () => {
  const data = await makeDataDir(); // its own account, so the cap counts only these
  const c = await newAccount(data);
  const srv = await startServer(data); // INLET_THREADS: the default (2 on a small machine)
  const api = apiClient(srv.url, c.token);
  const ep = await createEndpoint(api, 'busy', NO_LIMIT);
  const streams = await Promise.all(Array.from({ length: 60 }, () => openStream(srv.url, { token: c.token })));
  try {
    assert.ok(streams.every((s) => s.status === 200));
    await Promise.all(streams.map((s) => s.next(() => true))); // each has its head: parked now
    let t = Date.now();
    const post = await postForm(srv.url, ep.key, 'urlencoded', [['n', '1']]);
    assert.equal(post.status, 200);
    assert.ok(Date.now() - t < 1000 * SCALE, `form post took ${Date.now() - t} ms`);
    t = Date.now();
    assert.equal((await api.get('/api/v1/endpoints')).status, 200);
    assert.ok(Date.now() - t < 1000 * SCALE, `API read took ${Date.now() - t} ms`);
    // Every stream is woken for the post.
    const got = await Promise.all(streams.map((s) => s.next()));
    assert.ok(got.every((f) => f.data.id === post.json.id));

    const more = await Promise.all(Array.from({ length: 4 }, () => openStream(srv.url, { token: c.token })));
    streams.push(...more);
    assert.ok(more.every((s) => s.status === 200));
    const over = await openStream(srv.url, { token: c.token });
    assert.equal(over.status, 429);
    assert.equal(over.json.error.code, 'too_many_streams');
  } finally {
    for (const s of streams) s.close();
  }
  await srv.stop();
});

test('SIGTERM ends open streams and the server exits promptly; a client that left is let go', T, async () => {
  const data = await makeDataDir();
  const c = await newAccount(data);
  // Quick keep-alives, to see them and to find a client that left.
  const srv = await startServer(data, { env: { INLET_STREAM_PING_MS: 200, INLET_STREAMS_PER_ACCOUNT: 2 } });
  const s1 = await openStream(srv.url, { token: c.token });
  const ping = await s1.next((f) => f.comments.includes('ping'), 3000 * SCALE);
  assert.equal(ping.event, undefined);
  // Two allowed: a third is refused until one that left is noticed.
  const gone = await openStream(srv.url, { token: c.token });
  assert.equal((await openStream(srv.url, { token: c.token })).status, 429);
  gone.close();
  let again;
  for (let i = 0; i < 50; i++) {
    again = await openStream(srv.url, { token: c.token });
    if (again.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(again.status, 200, 'the slot of the client that left is free again');

  const t = Date.now();
  srv.proc.kill('SIGTERM');
  const exit = await srv.waitExit(3000 * SCALE);
  assert.equal(exit.code, 0);
  assert.ok(Date.now() - t < 3000 * SCALE, `exit took ${Date.now() - t} ms`);
  await Promise.all([s1.ended, again.ended]);
  await srv.stop(); // checks stderr for sanitizer reports
});

// ---------------------------------------------------------------------------
// Behind nginx as people configure it (a plain proxy_pass, default
// buffering): each event reaches the client at once, and the keep-alive
// comments keep the connection under nginx's 60 s read timeout.

const plainProxy = (upstream) => (port) => `  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass ${upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }`;

test('behind nginx (a plain proxy_pass): events pass at once', T, async () => {
  const proxy = await startNginx(plainProxy(inlet.url));
  try {
    const ep = await createEndpoint(a.api, 'behind-nginx', NO_LIMIT);
    const s = await openStream(proxy.url, { token: a.token });
    assert.equal(s.status, 200);
    assert.match(String(s.headers['content-type']), /^text\/event-stream/);
    await s.next((f) => f.retry !== undefined || f.comments.length > 0);
    for (let i = 0; i < 3; i++) {
      const id = await submit(ep);
      const t0 = Date.now();
      const f = await s.next((x) => x.event === 'submission.created' && x.data.id === id, 2_000 * SCALE);
      assert.ok(Date.now() - t0 < 2_000 * SCALE, 'through the proxy without waiting for a buffer to fill');
      assert.equal(f.data.endpoint, ep.id);
    }
    s.close();
  } finally {
    proxy.stop();
  }
});
