// Imports as slow-lane jobs (issue 5): POST …/imports?async=true stores the
// upload sealed and answers 202 at once; a job imports it, with progress,
// and leaves the report; the upload is gone afterwards and nothing of it
// was ever on disk in plain text.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeDataDir, startServer, cleanup, newAccount, SCALE } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, request } from '../lib/http.mjs';

const T = { timeout: 90_000 * SCALE };
let server;
let api;
let other;
let token;
let data;

before(async () => {
  data = await makeDataDir();
  const acct = await newAccount(data);
  const acct2 = await newAccount(data);
  token = acct.token;
  server = await startServer(data);
  api = apiClient(server.url, acct.token);
  other = apiClient(server.url, acct2.token);
});
after(cleanup);

const upload = (epId, body, type = 'text/csv', tok = token) => request(`${server.url}/api/v1/endpoints/${epId}/imports?async=true`, {
  method: 'POST', headers: { Authorization: `Bearer ${tok}`, 'Content-Type': type }, body: Buffer.from(body),
});

async function waitEnd(id) {
  let last;
  for (let i = 0; i < 400; i++) {
    last = await api.get(`/api/v1/imports/${id}`);
    assert.equal(last.status, 200, last.text);
    if (['done', 'dead', 'cancelled'].includes(last.json.state)) return last.json;
    await sleep(50);
  }
  throw new Error(`import did not finish: ${JSON.stringify(last.json)}`);
}

test('an import job: 202, then the report, the rows, and no upload left', T, async () => {
  const ep = await createEndpoint(api, 'imported');
  const marker = `imp-marker-${Date.now()}`;
  const lines = ['id,created_at,status,email,note'];
  for (let i = 0; i < 2000; i++) lines.push(`s${i},${new Date(Date.now() - (i + 1) * 60_000).toISOString()},inbox,u${i}@example.test,"${marker} ${i}, ""quoted"""`);
  lines.push('bad,not-a-date,inbox,x@example.test,y');
  const r = await upload(ep.id, lines.join('\r\n'));
  assert.equal(r.status, 202, r.text);
  assert.match(r.json.id, /^imp_/);
  const end = await waitEnd(r.json.id);
  assert.equal(end.state, 'done', JSON.stringify(end));
  assert.equal(end.report.imported, 2000);
  assert.equal(end.report.rejected_count, 1);
  assert.equal(end.report.rejected[0].row, 2001);
  assert.equal(end.progress, end.total);
  assert.ok(end.total > 0);
  const page = await api.get(`/api/v1/endpoints/${ep.id}/submissions?limit=1`);
  assert.equal(page.json.data[0].fields.note, `${marker} 0, "quoted"`);
  assert.equal((await api.get(`/api/v1/endpoints/${ep.id}`)).json.submission_count, 2000);
  // The upload was sealed while it waited, and is gone now.
  const dir = path.join(data, 'blobs', ep.id);
  const left = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith('up_')) : [];
  assert.deepEqual(left, []);
  for (const f of existsSync(dir) ? readdirSync(dir) : []) assert.ok(!readFileSync(path.join(dir, f)).includes(marker));
});

test('a malformed file: the job is dead with the reason and the report; errors before queueing', T, async () => {
  const ep = await createEndpoint(api, 'bad files');
  const r = await upload(ep.id, '[{"fields":{"a":1}}, {oops', 'application/json');
  assert.equal(r.status, 202, r.text);
  const end = await waitEnd(r.json.id);
  assert.equal(end.state, 'dead');
  assert.ok(end.error);
  assert.ok(end.report && typeof end.report.imported === 'number');
  assert.equal((await upload(ep.id, 'x', 'application/xml')).status, 415);
  assert.equal((await upload(ep.id, '')).status, 400);
  assert.equal((await upload(ep.id, 'a,b\r\n1,2', 'text/csv', other.token)).status, 404);
  assert.equal((await other.get(`/api/v1/imports/${r.json.id}`)).status, 404);
  assert.equal((await api.get('/api/v1/imports/imp_nosuchthing')).status, 404);
});
