// Clean-up (issue 5): an endpoint's retention_days erases older
// submissions, and the trash is purged 30 days after a submission went
// there; both run as a scheduled slow-lane job (INLET_RETENTION_EVERY_MS
// makes it frequent here). Rows with their files are erased; everything
// else stays. Old submissions come in through the importer, which keeps
// their original times.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeDataDir, startServer, cleanup, newAccount, SCALE, storeSql } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, postForm, request } from '../lib/http.mjs';

after(cleanup);

const DAY = 86_400_000;
const iso = (msAgo) => new Date(Date.now() - msAgo).toISOString();
const sql = (db, q) => execFileSync('sqlite3', [db, q], { encoding: 'utf8' }).trim();

async function importCsv(server, token, epId, rows) {
  // Inlet's own export columns, so the status is taken as a status.
  const csv = ['id,created_at,status,name', ...rows.map((r, i) => `src_${i},${r.at},${r.status},${r.name}`)].join('\r\n');
  const r = await request(`${server.url}/api/v1/endpoints/${epId}/imports`, {
    method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/csv' }, body: Buffer.from(csv),
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.imported, rows.length, r.text);
}

async function names(api, epId) {
  const r = await api.get(`/api/v1/endpoints/${epId}/submissions?limit=200`);
  assert.equal(r.status, 200, r.text);
  return r.json.data.map((s) => s.fields.name ?? s.fields.n).sort();
}

test('retention_days and the 30-day trash: due rows and their files go, the rest stays', { timeout: 120_000 * SCALE }, async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  const server = await startServer(data, { env: { INLET_RETENTION_EVERY_MS: '300' } });
  const api = apiClient(server.url, acct.token);

  const kept = await createEndpoint(api, 'keeps a year', { retention_days: 365, rate_limit: { per_minute: 0 } });
  assert.equal(kept.settings.retention_days, 365);
  const forever = await createEndpoint(api, 'keeps everything', { rate_limit: { per_minute: 0 } });
  assert.equal(forever.settings.retention_days, 0);
  for (const bad of [-1, 3651, 1.5, 'x']) {
    const r = await api.post('/api/v1/endpoints', { name: 'bad', settings: { retention_days: bad } });
    assert.equal(r.status, 400, `retention_days ${bad}`);
  }

  const rows = [
    { at: iso(400 * DAY), status: 'inbox', name: 'old' },
    { at: iso(366 * DAY), status: 'spam', name: 'old-spam' },
    { at: iso(364 * DAY), status: 'inbox', name: 'almost-a-year' },
    { at: iso(10 * DAY), status: 'inbox', name: 'recent' },
    { at: iso(40 * DAY), status: 'trash', name: 'trashed-long-ago' },
    { at: iso(5 * DAY), status: 'trash', name: 'trashed-lately' },
  ];
  await importCsv(server, acct.token, kept.id, rows);
  await importCsv(server, acct.token, forever.id, rows);

  // A live post with a file, trashed now: its 30 days start today.
  const withFile = await postForm(server.url, kept.key, 'multipart', [
    { name: 'n', value: 'file-post' }, { name: 'doc', filename: 'a.txt', contentType: 'text/plain', data: 'file bytes' },
  ]);
  assert.equal(withFile.status, 200, withFile.text);
  assert.equal((await api.patch(`/api/v1/submissions/${withFile.json.id}`, { status: 'trash' })).status, 200);

  const expectKept = ['almost-a-year', 'file-post', 'recent', 'trashed-lately'];
  let got;
  for (let i = 0; i < 100; i++) {
    got = await names(api, kept.id);
    if (got.join() === expectKept.join()) break;
    await sleep(100);
  }
  assert.deepEqual(got, expectKept);
  // No retention: only the trash that is 30 days old goes.
  for (let i = 0; i < 50; i++) {
    got = await names(api, forever.id);
    if (!got.includes('trashed-long-ago')) break;
    await sleep(100);
  }
  assert.deepEqual(got, ['almost-a-year', 'old', 'old-spam', 'recent', 'trashed-lately']);

  // The file post's 30 days in the trash are over (moved back in time in
  // the database, as a month would): the row and its file go.
  const blobDir = path.join(data, 'blobs', kept.id);
  const filesBefore = readdirSync(blobDir).filter((f) => !f.startsWith('.'));
  assert.equal(filesBefore.length, 1);
  storeSql(data, 'shared',
    `UPDATE submissions SET status_ms=${Date.now() - 31 * DAY} WHERE status=2 AND status_ms>0`);
  for (let i = 0; i < 100; i++) {
    if ((await api.get(`/api/v1/submissions/${withFile.json.id}`)).status === 404) break;
    await sleep(100);
  }
  assert.equal((await api.get(`/api/v1/submissions/${withFile.json.id}`)).status, 404);
  for (let i = 0; i < 50 && existsSync(path.join(blobDir, filesBefore[0])); i++) await sleep(100);
  assert.ok(!existsSync(path.join(blobDir, filesBefore[0])), 'the file is gone too');
  assert.deepEqual(await names(api, kept.id), ['almost-a-year', 'recent', 'trashed-lately']);

  // The endpoint's count follows (it decides moves).
  const ep = (await api.get(`/api/v1/endpoints/${kept.id}`)).json;
  assert.equal(ep.submission_count, 3);
  await server.stop();
});
