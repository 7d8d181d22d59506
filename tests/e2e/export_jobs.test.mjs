// Large exports as slow-lane jobs (issue 5): asked for, followed through
// their progress, and downloaded once done, byte for byte what the
// streamed export gives; the file is sealed in the blob store.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeDataDir, startServer, cleanup, newAccount, SCALE } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, postForm } from '../lib/http.mjs';

const T = { timeout: 90_000 * SCALE };
let server;
let api;
let other;
let data;

before(async () => {
  data = await makeDataDir();
  const acct = await newAccount(data);
  const acct2 = await newAccount(data, { email: 'other@example.test' });
  server = await startServer(data);
  api = apiClient(server.url, acct.token);
  other = apiClient(server.url, acct2.token);
});
after(cleanup);

async function waitDone(id) {
  let last;
  for (let i = 0; i < 300; i++) {
    last = await api.get(`/api/v1/exports/${id}`);
    assert.equal(last.status, 200, last.text);
    if (['done', 'dead', 'cancelled'].includes(last.json.state)) return last.json;
    await sleep(50);
  }
  throw new Error(`export did not finish: ${JSON.stringify(last.json)}`);
}

test('an export job writes the file; its download equals the streamed export', T, async () => {
  const ep = await createEndpoint(api, 'big form', { rate_limit: { per_minute: 0 } });
  const marker = `marker-${Date.now()}`;
  for (let i = 0; i < 300; i++) {
    const r = await postForm(server.url, ep.key, 'urlencoded', [['n', String(i)], ['note', `${marker} "quoted", line\nbreak ü`]]);
    assert.equal(r.status, 200);
  }
  for (const format of ['csv', 'json', 'ndjson']) {
    const q = await api.post(`/api/v1/endpoints/${ep.id}/exports`, { format });
    assert.equal(q.status, 202, q.text);
    assert.match(q.json.id, /^exp_/);
    const done = await waitDone(q.json.id);
    assert.equal(done.state, 'done', JSON.stringify(done));
    assert.equal(done.rows, 300);
    assert.equal(done.file.rows, 300);
    assert.match(done.file.name, new RegExp(`\\.${format}$`));
    const dl = await api.get(done.download);
    assert.equal(dl.status, 200);
    assert.equal(dl.body.length, done.file.size);
    const streamed = await api.get(`/api/v1/endpoints/${ep.id}/export?format=${format}`);
    assert.equal(streamed.status, 200);
    assert.ok(dl.body.equals(streamed.body), `${format}: the job's file is the streamed export`);
    // The file in the blob store is sealed: the marker is not in it.
    const dir = path.join(data, 'blobs', ep.id);
    for (const f of readdirSync(dir).filter((x) => x.startsWith('exp_')))
      assert.ok(!readFileSync(path.join(dir, f)).includes(marker), `${f} holds no plaintext`);
  }
  // The job list shows them with their progress.
  const jobs = (await api.get('/api/v1/jobs?kind=export.run')).json.data;
  assert.equal(jobs.length, 3);
  assert.ok(jobs.every((j) => j.state === 'done' && j.progress === 300));
  // Each names its export, whose file the list can then link to.
  for (const j of jobs) {
    assert.match(j.ref, /^exp_/);
    const e = await api.get(`/api/v1/exports/${j.ref}`);
    assert.equal(e.status, 200, e.text);
    assert.equal(e.json.state, 'done');
  }
});

test('bad requests, isolation, and a download before the end', T, async () => {
  const ep = await createEndpoint(api, 'small');
  for (const body of [{ format: 'xml' }, { since: 'yesterday' }, { status: 'archived' }, { format: 7 }]) {
    assert.equal((await api.post(`/api/v1/endpoints/${ep.id}/exports`, body)).status, 400, JSON.stringify(body));
  }
  const ev = await api.post('/api/v1/endpoints', { name: 'errors', kind: 'events' });
  assert.equal((await api.post(`/api/v1/endpoints/${ev.json.id}/exports`, {})).status, 400);
  assert.equal((await other.post(`/api/v1/endpoints/${ep.id}/exports`, {})).status, 404);
  const q = await api.post(`/api/v1/endpoints/${ep.id}/exports`, {});
  assert.equal(q.status, 202);
  assert.equal((await other.get(`/api/v1/exports/${q.json.id}`)).status, 404);
  assert.equal((await other.get(`/api/v1/exports/${q.json.id}/file`)).status, 404);
  assert.equal((await api.get('/api/v1/exports/exp_notarealid')).status, 404);
  const done = await waitDone(q.json.id);
  assert.equal(done.state, 'done');
  assert.equal(done.rows, 0);
  assert.equal((await api.get(done.download)).status, 200);
  assert.equal((await other.get('/api/v1/jobs?kind=export.run')).json.data.length, 0);
});
