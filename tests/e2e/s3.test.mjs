// The S3 blob store ("past one machine"): with INLET_S3_BUCKET set, sealed
// files live in a bucket of a real S3-protocol server on 127.0.0.1
// (tests/lib/s3.mjs: s3rver behind a gate that checks signatures, payload
// hashes, Content-MD5 and multipart rules as AWS, R2 and MinIO do) and
// nothing lands in DATA/blobs. Uploads, downloads, deletions, export and
// import jobs, a cut-off upload, retries and an S3 outage, through the
// real binary.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeDataDir, startServer, cleanup, newAccount, runInlet, SCALE } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, getSubmission, multipart, postForm, request } from '../lib/http.mjs';
import { startS3 } from '../lib/s3.mjs';

const T = { timeout: 120_000 * SCALE };
const MiB = 1024 * 1024;
const FILES = { files: { enabled: true, max_count: 10, max_size: 40 * MiB }, rate_limit: { per_minute: 0 } };

let s3;
let server;
let api;
let data;

before(async () => {
  s3 = await startS3();
  data = await makeDataDir();
  const acct = await newAccount(data);
  server = await startServer(data, { env: s3.env({ INLET_UPLOAD_BODY_MAX: String(64 * MiB) }) });
  api = apiClient(server.url, acct.token);
});
after(async () => {
  await cleanup();
  if (s3) await s3.stop();
});

async function until(what, fn, ms = 15_000 * SCALE) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}\nS3 requests:\n${s3.log.slice(-8).map((e) => `${e.method} ${e.url} ${e.status}`).join('\n')}\nserver:\n${server.stderr().slice(-3000)}`);
    }
    await sleep(50);
  }
}

/** Bytes of size with marker written in at a few places. */
function fileWith(size, marker) {
  const b = randomBytes(size);
  for (const at of [0, Math.floor(size / 2), size - marker.length]) b.write(marker, at);
  return b;
}

/** The stored bytes hold none of the plaintext: not the marker, not a slice. */
function assertSealed(stored, plain, marker, label) {
  assert.ok(!stored.includes(marker), `${label}: the marker is not in the object`);
  if (plain.length >= 4096) assert.ok(!stored.includes(plain.subarray(1000, 1064)), `${label}: no slice of the plaintext`);
}

async function submit(key, parts) {
  const r = await postForm(server.url, key, 'multipart', parts);
  assert.equal(r.status, 200, `POST /f/${key} → ${r.status} ${r.text}`);
  return getSubmission(api, r.json.id);
}

async function download(subId, n) {
  const r = await api.get(`/api/v1/submissions/${subId}/files/${n}`);
  assert.equal(r.status, 200, r.text);
  return r.body;
}

test('serve says it stores files in the bucket, and never makes DATA/blobs', T, async () => {
  const line = server.logLines().find((l) => /^blob store: S3 bucket/.test(l.msg));
  assert.ok(line, `a "blob store" line:\n${server.stderr()}`);
  assert.ok(line.msg.includes(s3.bucket));
  const h = await request(`${server.url}/healthz`);
  assert.equal(h.status, 200, h.text);
  assert.equal(h.json.stores.blobs, 'ok');
  assert.equal(h.json.status, 'ok');
  assert.ok(!existsSync(path.join(data, 'blobs')), 'no DATA/blobs');
});

test('a small and a 21 MiB file go up sealed (one PUT, one multipart upload) and come back byte-exact', T, async () => {
  const ep = await createEndpoint(api, 'uploads', FILES);
  const marker = `s3-marker-${Date.now()}`;
  const small = Buffer.from(`hello ${marker}\n`.repeat(50));
  const big = fileWith(21 * MiB + 12345, marker);
  const before = s3.log.length;
  const sub = await submit(ep.key, [
    { name: 'name', value: 'Ada' },
    { name: 'note', filename: 'note.txt', contentType: 'text/plain', data: small },
    { name: 'archive', filename: 'big.bin', data: big },
  ]);
  assert.deepEqual(sub.files.map((f) => f.size), [small.length, big.length]);
  assert.ok((await download(sub.id, 0)).equals(small), 'small file, exact bytes');
  assert.ok((await download(sub.id, 1)).equals(big), 'big file, exact bytes');

  const keys = await s3.keys(`${ep.id}/`);
  assert.deepEqual(keys, [`${ep.id}/${sub.id}.0`, `${ep.id}/${sub.id}.1`]);
  assertSealed(await s3.object(keys[0]), small, marker, 'small');
  const stored = await s3.object(keys[1]);
  assert.ok(stored.length > big.length, 'sealed: a little longer than the plaintext');
  assertSealed(stored, big, marker, 'big');

  // The big one went up in 8 MiB parts as it arrived; the small one as one PUT.
  const log = s3.log.slice(before);
  const name0 = `/${s3.bucket}/${ep.id}/${sub.id}.0`;
  const name1 = `/${s3.bucket}/${ep.id}/${sub.id}.1`;
  assert.equal(log.filter((e) => e.method === 'PUT' && e.url === name0).length, 1);
  assert.equal(log.filter((e) => e.method === 'POST' && e.url === `${name1}?uploads=`).length, 1);
  const parts = log.filter((e) => e.method === 'PUT' && e.url.startsWith(`${name1}?partNumber=`));
  assert.deepEqual(parts.map((e) => /partNumber=(\d+)/.exec(e.url)[1]), ['1', '2', '3']);
  assert.equal(log.filter((e) => e.method === 'POST' && e.url.startsWith(`${name1}?uploadId=`)).length, 1);
  assert.deepEqual(s3.openUploads(), []);
  assert.deepEqual(s3.rejected, [], 'the gate refused nothing (signatures, hashes, parts)');
  assert.ok(!existsSync(path.join(data, 'blobs')), 'still no DATA/blobs');
});

test('erasing a submission removes its objects; deleting the endpoint removes all (list pages of 2)', T, async () => {
  const ep = await createEndpoint(api, 'to delete', FILES);
  const keep = await createEndpoint(api, 'kept', FILES);
  const subs = [];
  for (let i = 0; i < 3; i++) {
    subs.push(await submit(ep.key, [
      { name: 'a', filename: 'a.txt', data: Buffer.from(`a${i}`) },
      { name: 'b', filename: 'b.txt', data: Buffer.from(`b${i}`) },
    ]));
  }
  const kept = await submit(keep.key, [{ name: 'a', filename: 'a.txt', data: Buffer.from('kept') }]);
  assert.equal((await s3.keys(`${ep.id}/`)).length, 6);

  assert.equal((await api.del(`/api/v1/submissions/${subs[0].id}`)).status, 204);
  assert.deepEqual((await s3.keys(`${ep.id}/`)).filter((k) => k.includes(subs[0].id)), []);
  assert.equal((await s3.keys(`${ep.id}/`)).length, 4);

  // Pages of two keys: the removal must follow continuation tokens.
  s3.maxKeys = 2;
  const lists = s3.requests('GET', /list-type=2/).length;
  try {
    assert.equal((await api.del(`/api/v1/endpoints/${ep.id}`)).status, 204);
  } finally {
    s3.maxKeys = null;
  }
  assert.deepEqual(await s3.keys(`${ep.id}/`), []);
  assert.ok(s3.requests('GET', /continuation-token=/).length >= 1, 'a second page was asked for');
  assert.ok(s3.requests('GET', /list-type=2/).length - lists >= 2);
  assert.ok(s3.requests('POST', /\?delete=$/).length >= 2, 'DeleteObjects per page');
  // The other endpoint's file is untouched.
  assert.deepEqual(await s3.keys(`${keep.id}/`), [`${keep.id}/${kept.id}.0`]);
  assert.ok((await download(kept.id, 0)).equals(Buffer.from('kept')));
  assert.deepEqual(s3.rejected, []);
});

test('an export job writes its file to the bucket, sealed, and it downloads', T, async () => {
  const ep = await createEndpoint(api, 'exported', FILES);
  const marker = `exp-marker-${Date.now()}`;
  for (let i = 0; i < 20; i++) {
    const r = await postForm(server.url, ep.key, 'urlencoded', [['n', String(i)], ['note', marker]]);
    assert.equal(r.status, 200);
  }
  const q = await api.post(`/api/v1/endpoints/${ep.id}/exports`, { format: 'csv' });
  assert.equal(q.status, 202, q.text);
  const done = await until('the export', async () => {
    const r = await api.get(`/api/v1/exports/${q.json.id}`);
    return ['done', 'dead', 'cancelled'].includes(r.json.state) && r.json;
  });
  assert.equal(done.state, 'done', JSON.stringify(done));
  const dl = await api.get(done.download);
  assert.equal(dl.status, 200);
  const streamed = await api.get(`/api/v1/endpoints/${ep.id}/export?format=csv`);
  assert.ok(dl.body.equals(streamed.body), 'the job file is the streamed export');
  assert.ok(dl.body.includes(marker));
  const keys = (await s3.keys(`${ep.id}/`)).filter((k) => path.basename(k).startsWith('exp_'));
  assert.equal(keys.length, 1, 'one export object');
  assert.ok(!(await s3.object(keys[0])).includes(marker), 'the export object is sealed');
});

test('an import job reads its upload back from the bucket, then removes it', T, async () => {
  const ep = await createEndpoint(api, 'imported', FILES);
  const lines = ['id,created_at,status,email'];
  for (let i = 0; i < 300; i++) lines.push(`s${i},${new Date(Date.now() - (i + 1) * 60_000).toISOString()},inbox,u${i}@example.test`);
  const r = await request(`${server.url}/api/v1/endpoints/${ep.id}/imports?async=true`, {
    method: 'POST', headers: { Authorization: `Bearer ${api.token}`, 'Content-Type': 'text/csv' }, body: Buffer.from(lines.join('\r\n')),
  });
  assert.equal(r.status, 202, r.text);
  const end = await until('the import', async () => {
    const j = await api.get(`/api/v1/imports/${r.json.id}`);
    return ['done', 'dead', 'cancelled'].includes(j.json.state) && j.json;
  });
  assert.equal(end.state, 'done', JSON.stringify(end));
  assert.equal(end.report.imported, 300);
  await until('the upload object to go', async () => (await s3.keys(`${ep.id}/`)).length === 0);
});

test('an upload cut off mid-body leaves no object and no open multipart upload', T, async () => {
  // A server of its own, with a short idle timeout: a client that leaves
  // while a part is going up is noticed by MHD only when the connection
  // times out (one left while the server waits for the body, at once).
  const dir = await makeDataDir();
  const acct = await newAccount(dir);
  const srv = await startServer(dir, { env: s3.env({ INLET_UPLOAD_BODY_MAX: String(64 * MiB), INLET_CONNECTION_TIMEOUT: '3' }) });
  const api2 = apiClient(srv.url, acct.token);
  const ep = await createEndpoint(api2, 'cut off', FILES);
  const { body, contentType } = multipart([{ name: 'f', filename: 'big.bin', data: randomBytes(30 * MiB) }]);
  const sent = body.subarray(0, 20 * MiB); // past two 8 MiB parts
  const u = new URL(srv.url);
  const sock = net.connect(Number(u.port), u.hostname);
  await new Promise((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
  sock.on('error', () => {});
  sock.write(`POST /f/${ep.key} HTTP/1.1\r\nHost: ${u.host}\r\nAccept: application/json\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`);
  await new Promise((resolve) => sock.write(sent, resolve));
  const name = `/${s3.bucket}/${ep.id}/`;
  await until('a multipart upload with a part in it', async () =>
    s3.requests('POST', /\?uploads=$/).some((e) => e.url.startsWith(name)) &&
    s3.requests('PUT', /partNumber=1&/).some((e) => e.url.startsWith(name) && e.status === 200));
  assert.equal(s3.openUploads().length, 1, 'the upload is open while the body comes');
  sock.destroy();
  await until('the upload to be aborted', async () => s3.openUploads().length === 0);
  assert.ok(s3.requests('DELETE', /\?uploadId=/).some((e) => e.url.startsWith(name) && e.status === 204));
  assert.deepEqual(await s3.keys(`${ep.id}/`), [], 'no object');
  const list = await api2.get(`/api/v1/endpoints/${ep.id}/submissions`);
  assert.deepEqual(list.json.data, [], 'no submission');
  await srv.stop();
});

test('failed S3 requests are retried: a 503 on a PUT, a 500 and a cut-off body on a GET', T, async () => {
  const ep = await createEndpoint(api, 'retries', FILES);
  const file = randomBytes(300 * 1024);
  s3.failNext((req) => req.method === 'PUT' && req.url.includes(`/${ep.id}/`), 503, 'SlowDown');
  const sub = await submit(ep.key, [{ name: 'f', filename: 'f.bin', data: file }]);
  const puts = s3.requests('PUT', new RegExp(`/${ep.id}/${sub.id}\\.0$`));
  assert.deepEqual(puts.map((e) => e.status), [503, 200], 'the PUT was made again');

  const objectUrl = `/${s3.bucket}/${ep.id}/${sub.id}.0`;
  s3.failNext((req) => req.method === 'GET' && req.url === objectUrl, 500, 'InternalError');
  assert.ok((await download(sub.id, 0)).equals(file), 'after a 500');
  s3.cutNext((req) => req.method === 'GET' && req.url === objectUrl, 100_000);
  const seen = s3.log.length;
  assert.ok((await download(sub.id, 0)).equals(file), 'after a cut, resumed');
  const gets = s3.log.slice(seen).filter((e) => e.method === 'GET' && e.url === objectUrl);
  assert.equal(gets.length, 2, 'the cut transfer and the one that resumed it');
  assert.equal(gets[0].range, undefined);
  assert.match(String(gets[1].range), /^bytes=\d+-$/);
  assert.ok(Number(/\d+/.exec(gets[1].range)[0]) > 0, 'resumed where it stopped, not from the start');
  assert.match(String(gets[1].ifMatch), /^"[0-9a-f]+"$/, 'on the condition that the object is the same');
  assert.equal(gets[1].status, 206);
  assert.deepEqual(s3.rejected, []);
});

test('with S3 down a post with a file answers 5xx and /healthz says blobs are not ready; then it recovers', T, async () => {
  const ep = await createEndpoint(api, 'outage', FILES);
  await s3.down();
  try {
    const r = await postForm(server.url, ep.key, 'multipart', [{ name: 'f', filename: 'f.txt', data: Buffer.from('during the outage') }]);
    assert.ok(r.status >= 500 && r.status < 600, `a 5xx, not ${r.status} ${r.text}`);
    const h = await request(`${server.url}/healthz`);
    assert.equal(h.status, 503, h.text);
    assert.equal(h.json.status, 'degraded');
    assert.notEqual(h.json.stores.blobs, 'ok');
    assert.equal(h.json.stores.tenant, 'ok', 'the other stores still say ok');
    const list = await api.get(`/api/v1/endpoints/${ep.id}/submissions`);
    assert.deepEqual(list.json.data, [], 'nothing was stored');
  } finally {
    await s3.up();
  }
  const h = await request(`${server.url}/healthz`);
  assert.equal(h.status, 200, h.text);
  assert.equal(h.json.stores.blobs, 'ok');
  const sub = await submit(ep.key, [{ name: 'f', filename: 'f.txt', data: Buffer.from('after the outage') }]);
  assert.equal((await download(sub.id, 0)).toString(), 'after the outage');
});

test('incomplete or bad INLET_S3_* settings stop the server at start', T, async () => {
  const dir = await makeDataDir();
  const cases = [
    [{ INLET_S3_BUCKET: 'b-1' }, /INLET_S3_ENDPOINT/],
    [s3.env({ INLET_S3_SECRET_KEY: '' }), /INLET_S3_SECRET_KEY/],
    [s3.env({ INLET_S3_ENDPOINT: 'ftp://127.0.0.1:1' }), /INLET_S3_ENDPOINT/],
    [s3.env({ INLET_S3_BUCKET: 'Bad_Bucket' }), /INLET_S3_BUCKET/],
    [s3.env({ INLET_S3_PART_SIZE: '1024' }), /INLET_S3_PART_SIZE/],
  ];
  for (const [env, re] of cases) {
    const r = await runInlet(['serve', '--listen', '127.0.0.1:0', '--data', dir], { env, timeout: 15_000 * SCALE });
    assert.notEqual(r.code, 0, `${JSON.stringify(env)}: exits`);
    assert.match(r.stderr, re);
  }
  assert.ok(!readdirSync(dir).includes('blobs'));
});
