// The Vault, seen from outside:
//  - no plaintext byte of a submission reaches disk: a unique marker posted
//    in fields, a file's bytes and name, and headers appears in no file (nor
//    file name) under the data folder, WAL and SHM files included (and, with
//    INLET_TEST_BACKEND=postgres, under the PostgreSQL server's data
//    directory, its WAL included, after a CHECKPOINT);
//  - a flipped byte in a stored blob makes that one read fail (500, JSON
//    error) while the server stays up and everything else reads fine;
//  - DATA/master.key is created 0600 at first start, with a log line.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat, open } from 'node:fs/promises';
import path from 'node:path';
import { makeDataDir, startServer, cleanup, newAccount, databaseDiskDirs, ON_POSTGRES } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, getSubmission, postForm, request } from '../lib/http.mjs';
import { apiError, assertShape } from '../lib/match.mjs';

after(cleanup);
const T = { timeout: 120_000 };

/** Every regular file under dir, recursively: [{path, rel}]. */
async function walkFiles(dir, root = dir) {
  const out = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (e.code === 'ENOENT' && dir !== root) return out; // went away while we looked
    throw e;
  }
  for (const ent of entries) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) out.push(...(await walkFiles(p, root)));
    else if (ent.isFile()) out.push({ path: p, rel: path.relative(root, p) });
  }
  return out;
}

/** Files (and path names) under dir holding `needle`: [{rel, offset}]. */
async function findBytes(dir, needle) {
  const hits = [];
  const bytes = Buffer.from(needle);
  for (const f of await walkFiles(dir)) {
    if (f.rel.includes(needle)) hits.push({ rel: f.rel, offset: 'in the path' });
    let data;
    try {
      data = await readFile(f.path);
    } catch (e) {
      if (e.code === 'ENOENT') continue; // a -shm or -journal that went away while we looked
      throw e;
    }
    const at = data.indexOf(bytes);
    if (at >= 0) hits.push({ rel: f.rel, offset: at });
  }
  return hits;
}

/** findBytes over the data folder and wherever the database engine writes. */
async function scanDisk(data, needle) {
  const hits = await findBytes(data, needle);
  for (const dir of await databaseDiskDirs()) {
    for (const h of await findBytes(dir, needle)) hits.push({ ...h, rel: `postgres:${h.rel}` });
  }
  return hits;
}

/** On PostgreSQL no SQLite file of the tenant store or the queue is in the data folder. */
function assertNoTenantFiles(files) {
  if (!ON_POSTGRES) return;
  const dbs = files.filter((x) => /(^|\/)(tenant|jobs)\.db/.test(x.rel));
  assert.deepEqual(dbs.map((x) => x.rel), [], 'no SQLite files of the PostgreSQL stores');
}

test('plaintext scan: a marker posted in fields, a file, its name and headers is on no disk byte', T, async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  const server = await startServer(data);
  const api = apiClient(server.url, acct.token);
  const ep = await createEndpoint(api, 'scan', { ip: 'store' });

  const marker = `Mk${randomBytes(12).toString('hex')}`;
  const M = (what) => `${marker}${what}`;

  // urlencoded: a field value, a field name, a special field, User-Agent, Referer.
  const u = await postForm(server.url, ep.key, 'urlencoded', [
    ['message', `hello ${M('field')} bye`],
    [M('name'), 'x'],
    ['_subject', M('subject')],
    ['email', `${M('mail')}@example.com`],
  ], { headers: { 'User-Agent': `Mozilla/5.0 ${M('ua')}`, Referer: `https://site.example/${M('ref')}` } });
  assert.equal(u.status, 200, u.text);

  // multipart: the marker in the file's bytes (around the 64 KiB chunk
  // boundaries and at both ends) and in its filename.
  const content = randomBytes(200 * 1024);
  for (const at of [0, 65536 - 10, 131072 - 10, content.length - 40]) content.write(M('file'), at, 'latin1');
  const m = await postForm(server.url, ep.key, 'multipart', [
    { name: 'note', value: M('mpfield') },
    { name: 'upload', filename: `${M('filename')}.txt`, contentType: 'text/plain', data: content },
  ], { headers: { 'User-Agent': `curl/8 ${M('ua2')}` } });
  assert.equal(m.status, 200, m.text);

  // JSON too.
  const j = await postForm(server.url, ep.key, 'json', { deep: { v: M('json') } }, { headers: { 'User-Agent': M('ua3') } });
  assert.equal(j.status, 200, j.text);

  // The markers were stored (a server that dropped them would pass the scan).
  const su = await getSubmission(api, u.json.id);
  assert.equal(su.fields.message, `hello ${M('field')} bye`);
  assert.equal(su.fields[M('name')], 'x');
  assert.equal(su.meta.subject, M('subject'));
  assert.match(su.meta.user_agent, new RegExp(M('ua')));
  assert.match(su.meta.referrer, new RegExp(M('ref')));
  const sm = await getSubmission(api, m.json.id);
  assert.equal(sm.files[0].name, `${M('filename')}.txt`);
  const f = await api.get(`/api/v1/submissions/${m.json.id}/files/0`);
  assert.ok(f.body.equals(content), 'the file reads back exactly');
  const sj = await getSubmission(api, j.json.id);
  assert.deepEqual(sj.fields, { deep: { v: M('json') } });

  // While running (the WAL most likely holds the rows now) ...
  const live = await scanDisk(data, marker);
  assert.deepEqual(live, [], `plaintext on disk while serving: ${JSON.stringify(live)}`);

  // ... and after a clean stop.
  await server.stop();
  const files = await walkFiles(data);
  if (!ON_POSTGRES) assert.ok(files.some((x) => x.rel === path.join('submissions', 'shared.db')), `submissions/shared.db exists: ${files.map((x) => x.rel).join(', ')}`);
  assertNoTenantFiles(files);
  assert.ok(files.some((x) => x.rel.startsWith(`blobs${path.sep}`)), 'files live under blobs/');
  const hits = await scanDisk(data, marker);
  assert.deepEqual(hits, [], `plaintext on disk after stop: ${JSON.stringify(hits)}`);
  // Nor in any common re-encoding of the field value.
  for (const enc of [Buffer.from(M('field')).toString('base64').slice(0, 24), Buffer.from(M('field')).toString('hex')]) {
    assert.deepEqual(await scanDisk(data, enc), [], `encoded plaintext ${enc}`);
  }
});

test('plaintext scan, error tracking: a marker in a TrackX event, a Sentry event and its attachment, and a CSP report is on no disk byte', T, async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  const server = await startServer(data);
  const api = apiClient(server.url, acct.token);
  const ep = await createEndpoint(api, 'scan-events', { ip: 'store', rate_limit: { per_minute: 0, burst: 1 } }, 'events');
  assert.equal(ep.kind, 'events');

  // Lower case: a report's blocked origin is lowercased in its title.
  const marker = `mk${randomBytes(12).toString('hex')}`;
  const M = (what) => `${marker}${what}`;

  // TrackX: message (so the title), stack (so the culprit), uri, meta, User-Agent, Referer.
  const tx = {
    name: 'TypeError',
    message: `checkout broke ${M('message')}`,
    stack: `TypeError: checkout broke\n    at ${M('fn')} (https://shop.example/js/${M('file')}.js:10:5)`,
    type: 1,
    uri: `https://shop.example/${M('uri')}`,
    meta: { _c: 'd', _v: '0.6.1', note: M('meta') },
  };
  const t = await request(`${server.url}/v1/${ep.key}/event`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/plain', 'User-Agent': `Mozilla/5.0 ${M('ua')}`, Referer: `https://shop.example/${M('ref')}` },
    body: JSON.stringify(tx),
  });
  assert.equal(t.status, 200, t.text);

  // Sentry: an envelope with the event (title, extra, release) and an
  // attachment whose bytes hold the marker across 64 KiB chunk boundaries.
  const eventId = randomBytes(16).toString('hex');
  const sev = {
    event_id: eventId,
    platform: 'javascript',
    level: 'error',
    release: `shop@${M('release')}`,
    exception: { values: [{ type: 'Error', value: `sentry ${M('value')}`, stacktrace: { frames: [{ filename: 'https://shop.example/js/app.js', function: 'pay', lineno: 1, colno: 1, in_app: true }] } }] },
    extra: { secret: M('extra') },
  };
  const att = randomBytes(150 * 1024);
  for (const at of [0, 65536 - 10, 131072 - 10, att.length - 40]) att.write(M('att'), at, 'latin1');
  const lines = [
    Buffer.from(`${JSON.stringify({ event_id: eventId, dsn: ep.dsn })}\n`),
    Buffer.from(`${JSON.stringify({ type: 'event' })}\n${JSON.stringify(sev)}\n`),
    Buffer.from(`${JSON.stringify({ type: 'attachment', length: att.length, filename: `${M('attname')}.log`, content_type: 'text/plain' })}\n`),
    att,
    Buffer.from('\n'),
  ];
  const s = await request(`${server.url}/api/${ep.project_id}/envelope/`, { method: 'POST', headers: { 'User-Agent': `sentry.javascript.node ${M('sua')}` }, body: Buffer.concat(lines) });
  assert.equal(s.status, 200, s.text);
  assert.deepEqual(s.json, { id: eventId });

  // A CSP report: the blocked URL (in the title) and the document.
  const c = await request(`${server.url}/v1/${ep.key}/report`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/csp-report' },
    body: JSON.stringify({ 'csp-report': {
      'document-uri': `https://shop.example/${M('doc')}`, 'violated-directive': 'script-src-elem', 'effective-directive': 'script-src-elem',
      'blocked-uri': `https://${M('host')}.example/x.js`, 'source-file': 'https://shop.example/js/app.js', 'line-number': 3, 'column-number': 4,
      'original-policy': "script-src 'self'", disposition: 'enforce', 'status-code': 200,
    } }),
  });
  assert.equal(c.status, 200, c.text);
  assert.deepEqual(c.json, { accepted: 1, skipped: 0 });

  // The API shows all three, and a search by the marker finds them.
  const found = await api.get(`/api/v1/endpoints/${ep.id}/issues?q=${marker}`);
  assert.equal(found.status, 200, found.text);
  assert.deepEqual(found.json.data.map((i) => i.title).sort(), [
    `CSP violation: script-src-elem blocked https://${M('host')}.example`,
    `Error: sentry ${M('value')}`,
    `TypeError: checkout broke ${M('message')}`,
  ]);
  const upper = await api.get(`/api/v1/endpoints/${ep.id}/issues?q=${M('VALUE').toUpperCase()}`);
  assert.deepEqual(upper.json.data.map((i) => i.title), [`Error: sentry ${M('value')}`], 'any case');
  const byFn = await api.get(`/api/v1/endpoints/${ep.id}/issues?q=${M('fn')}`);
  assert.equal(byFn.json.data.length, 1, 'the culprit is searchable');
  const tIssue = found.json.data.find((i) => i.kind === 'trackx');
  assert.match(tIssue.culprit, new RegExp(M('fn')));
  assert.equal(tIssue.uri, tx.uri);
  const tEv = await api.get(`/api/v1/events/${t.json.id}`);
  assert.deepEqual(tEv.json.data, tx);
  assert.match(tEv.json.meta.user_agent, new RegExp(M('ua')));
  const sIssue = found.json.data.find((i) => i.kind === 'sentry');
  assert.equal(sIssue.release, `shop@${M('release')}`);
  const sEv = await api.get(`/api/v1/events/${sIssue.last_event}`);
  assert.equal(sEv.json.data.extra.secret, M('extra'));
  assert.deepEqual(sEv.json.attachments.map((a) => [a.name, a.size]), [[`${M('attname')}.log`, att.length]]);
  const cIssue = found.json.data.find((i) => i.kind === 'report');
  assert.equal(cIssue.uri, `https://shop.example/${M('doc')}`);

  // While serving ...
  const live = await scanDisk(data, marker);
  assert.deepEqual(live, [], `plaintext on disk while serving: ${JSON.stringify(live)}`);
  // ... and after a clean stop (the WAL checkpointed into the databases).
  await server.stop();
  const files = await walkFiles(data);
  assert.ok(files.some((x) => x.rel.startsWith(`blobs${path.sep}`)), `the attachment lives under blobs/: ${files.map((x) => x.rel).join(', ')}`);
  assertNoTenantFiles(files);
  const hits = await scanDisk(data, marker);
  assert.deepEqual(hits, [], `plaintext on disk after stop: ${JSON.stringify(hits)}`);
  for (const enc of [Buffer.from(M('message')).toString('base64').slice(0, 24), Buffer.from(M('att')).toString('hex'), marker.toUpperCase()]) {
    assert.deepEqual(await scanDisk(data, enc), [], `encoded plaintext ${enc}`);
  }
});

test('master.key: created 0600 at first start, with a log line about backing it up', T, async () => {
  const data = await makeDataDir();
  const server = await startServer(data);
  const st = await stat(path.join(data, 'master.key'));
  assert.equal(st.mode & 0o777, 0o600, `mode ${(st.mode & 0o777).toString(8)}`);
  assert.match(server.stderr(), /back.{0,20}up/i, 'a log line says the key must be backed up');
  await server.stop();
  const again = await startServer(data);
  const st2 = await stat(path.join(data, 'master.key'));
  assert.equal(st2.mtimeMs, st.mtimeMs, 'an existing key is kept');
  await again.stop();
});

/** Blob files under DATA/blobs/ now, by relative path. */
async function blobSet(data) {
  const dir = path.join(data, 'blobs');
  return new Set((await walkFiles(dir)).map((x) => x.path));
}

async function flipByteAt(file, fraction) {
  const size = (await stat(file)).size;
  const at = Math.min(size - 1, Math.floor(size * fraction));
  const fh = await open(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] ^= 0x01;
    await fh.write(b, 0, 1, at);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function largest(files) {
  let best = null;
  for (const f of files) {
    const s = (await stat(f)).size;
    if (!best || s > best.size) best = { f, size: s };
  }
  return best.f;
}

test('tamper: a flipped byte fails that one read; the server stays up', T, async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  let server = await startServer(data);
  let api = apiClient(server.url, acct.token);
  const ep = await createEndpoint(api, 'tamper');

  const small = randomBytes(10 * 1024); // one chunk
  const large = randomBytes(300 * 1024); // several chunks
  const good = randomBytes(20 * 1024);
  const post = async (name, bytes) => {
    const r = await postForm(server.url, ep.key, 'multipart', [{ name: 'who', value: name }, { name: 'f', filename: `${name}.bin`, data: bytes }]);
    assert.equal(r.status, 200, r.text);
    return r.json.id;
  };

  const before0 = await blobSet(data).catch(() => new Set());
  const s1 = await post('small', small);
  const after1 = await blobSet(data);
  const s1Blobs = [...after1].filter((x) => !before0.has(x));
  assert.ok(s1Blobs.length > 0, 'the small file made at least one blob file');

  const s2 = (await postForm(server.url, ep.key, 'json', { who: 'no file', n: 42 })).json.id;
  const s3 = await post('good', good);

  const before4 = await blobSet(data);
  const s4 = await post('large', large);
  const s4Blobs = [...(await blobSet(data))].filter((x) => !before4.has(x));
  assert.ok(s4Blobs.length > 0, 'the large file made at least one blob file');

  await server.stop();
  await flipByteAt(await largest(s1Blobs), 0.5);
  await flipByteAt(await largest(s4Blobs), 0.9);

  server = await startServer(data);
  api = apiClient(server.url, acct.token);

  const bad = await api.get(`/api/v1/submissions/${s1}/files/0`);
  assert.equal(bad.status, 500, `tampered file → 500, got ${bad.status}`);
  assert.match(String(bad.headers['content-type']), /^application\/json/);
  assertShape(bad.json, apiError((v) => typeof v === 'string' && v.length > 0));
  assert.ok(!bad.body.includes(small.subarray(0, 64)), 'no plaintext handed out');

  // A tampered later chunk may surface after the headers went out; then the
  // transfer must break off. Never a clean 200 with the full body.
  let outcome;
  try {
    const r = await api.get(`/api/v1/submissions/${s4}/files/0`);
    outcome = r.status === 200 ? `a clean 200 with ${r.body.length} bytes` : null;
    if (r.status !== 200) assert.ok(r.status >= 500, `status ${r.status}`);
  } catch {
    outcome = null; // aborted transfer: the right thing when streaming
  }
  assert.equal(outcome, null, `a tampered last chunk must not read as ${outcome}`);

  const h = await request(`${server.url}/healthz`);
  assert.equal(h.status, 200, 'still healthy');
  assert.equal((await getSubmission(api, s1)).fields.who, 'small', 'the record itself still reads');
  assert.deepEqual((await getSubmission(api, s2)).fields, { who: 'no file', n: 42 });
  const g = await api.get(`/api/v1/submissions/${s3}/files/0`);
  assert.equal(g.status, 200);
  assert.ok(g.body.equals(good), 'an untouched file reads exactly');
  const again = await api.get(`/api/v1/submissions/${s1}/files/0`);
  assert.equal(again.status, 500, 'fails the same way twice');
  const fresh = await postForm(server.url, ep.key, 'urlencoded', [['after', 'tamper']]);
  assert.equal(fresh.status, 200, 'still takes posts');
  assert.equal((await getSubmission(api, fresh.json.id)).fields.after, 'tamper');
  assert.ok(server.running, 'the process is alive');
  await server.stop();
});
