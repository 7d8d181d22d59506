// Imports: POST /api/v1/endpoints/{id}/imports and `inlet import`. Formspree's
// exports (CSV and JSON, as its export code writes them: _id, _date with
// microseconds and no zone, sorted field columns, _status delivery logs) and
// Inlet's own (the list API's objects as a JSON array, a page, NDJSON, and
// its CSV) come back through GET /api/v1/endpoints/{id}/submissions with
// their fields exact (unicode, commas, quotes, line breaks), their times and
// statuses; rejected rows are reported by number; 413/415/400/404/401; the
// CLI refuses a served folder, imports a stopped one and exits 0/1/2; and no
// imported value reaches the disk in plain text.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeDataDir, makeTempDir, startServer, cleanup, newAccount, runInlet } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, postForm, listAll, rawRequest, request } from '../lib/http.mjs';

const T = { timeout: 180_000 };
const NO_LIMIT = { rate_limit: { per_minute: 0, burst: 1 } };

let data;
let server;
let acct;
let api;

before(async () => {
  data = await makeDataDir();
  acct = await newAccount(data);
  server = await startServer(data);
  api = apiClient(server.url, acct.token);
});
after(cleanup);

/** POSTs a file to the import route; resolves the response. */
function importFile(epId, body, contentType, client = api) {
  const headers = { Accept: 'application/json' };
  if (contentType) headers['Content-Type'] = contentType;
  if (client.token) headers.Authorization = `Bearer ${client.token}`;
  return request(`${server.url}/api/v1/endpoints/${epId}/imports`, { method: 'POST', headers, body: Buffer.from(body) });
}

/** Every submission of an endpoint, oldest first. */
async function readBack(epId) {
  return (await listAll(api, epId)).reverse();
}

const iso = (s) => new Date(s).toISOString();
/** Formspree writes naive UTC with microseconds; Inlet keeps milliseconds. */
const fsTime = (s) => iso(`${s.slice(0, 23)}Z`);
/** An RFC 4180 cell. */
const cell = (v) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
const csvLine = (cells) => `${cells.map(cell).join(',')}\r\n`;

// Values that break naive parsers.
const TRICKY = [
  'plain',
  'comma, inside',
  'a "quoted" word',
  'line one\r\nline two\nline three',
  'unicode: héllo wörld, 日本語, emoji 🎉, rtl שלום',
  '  leading and trailing spaces  ',
  'ends with a quote"',
];

test('Formspree CSV (BOM, CRLF, quotes, line breaks, unicode) through the API: fields, times, rejected rows', T, async () => {
  const ep = await createEndpoint(api, 'fs-csv', NO_LIMIT);
  // As Formspree's export writes it: _id, _date, then the fields sorted, and
  // its delivery log in _status; UTF-8 with a byte order mark for Excel.
  const header = ['_id', '_date', 'email', 'message', 'name', '_status'];
  const rows = TRICKY.map((msg, i) => [String(100 + i), `2019-0${1 + (i % 9)}-1${i}T0${i}:2${i}:3${i}.${String(123456 + i)}`,
    `p${i}@example.com`, msg, i % 2 ? '' : `Näme ${i}`, '{"owner@example.com": {"delivered": true}}']);
  let csv = `\ufeff${csvLine(header)}`;
  for (const r of rows) csv += csvLine(r);
  csv += csvLine(['200', 'not a date', 'x@example.com', 'bad date', '', '']);   // row 8
  csv += csvLine(['201', '2020-01-01T00:00:00', '', '', '', '{}']);            // row 9: no fields
  csv += csvLine(['202', '', 'y@example.com', 'no date', '', '']);             // row 10
  csv += csvLine(['203', '2020-01-02T00:00:00', 'z@example.com', 'extra', '', '', 'surplus']); // row 11

  const r = await importFile(ep.id, csv, 'text/csv; charset=utf-8');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.rows, rows.length + 4);
  assert.equal(r.json.imported, rows.length);
  assert.equal(r.json.rejected_count, 4);
  assert.deepEqual(r.json.rejected.map((x) => x.row), [8, 9, 10, 11]);
  assert.match(r.json.rejected[0].reason, /not a date/);
  assert.match(r.json.rejected[1].reason, /no fields/);
  assert.match(r.json.rejected[2].reason, /date is missing/);
  assert.match(r.json.rejected[3].reason, /more values than/);

  const got = await readBack(ep.id);
  assert.equal(got.length, rows.length);
  rows.forEach((row, i) => {
    const s = got[i];
    const fields = { email: row[2], message: row[3] };
    if (row[4]) fields.name = row[4];
    assert.deepEqual(s.fields, fields, `row ${i + 1} fields`);
    assert.equal(s.created_at, fsTime(row[1]), `row ${i + 1} created_at`);
    assert.equal(s.status, 'inbox');
    assert.deepEqual(s.files, []);
    assert.equal(s.meta.imported_from, 'formspree');
    assert.equal(s.meta.source_id, row[0]);
    assert.equal(s.meta.reply_to, row[2], 'reply_to from the email field, as a post');
    assert.equal(s.meta._status, undefined);
    assert.match(s.id, /^sub_/);
  });
});

test('Formspree JSON (its export and its API shape) through the API: arrays, _replyto, microseconds', T, async () => {
  const ep = await createEndpoint(api, 'fs-json', NO_LIMIT);
  // Its export: json.dumps({host, email, fields, submissions}, sort_keys=True, indent=2).
  const exported = {
    email: 'owner@example.com',
    fields: ['_id', '_date', '_replyto', 'interests', 'message'],
    host: 'example.com/contact',
    submissions: [
      { _date: '2018-11-03T07:28:29.707632', _id: 2, _replyto: 'ada@example.com', interests: ['maths', 'engines'], message: TRICKY[3] },
      { _date: '2018-11-04T10:00:00.000001', _id: 3, message: TRICKY[4], _status: { 'owner@example.com': { delivered: true, processed: true } } },
      { _date: '2018-11-05T10:00:00', _id: 4, message: 'in the future?' },
    ],
  };
  // Python's sort_keys puts "submissions" last, after the small members.
  const sorted = `{\n  "email": ${JSON.stringify(exported.email)},\n  "fields": ${JSON.stringify(exported.fields)},\n  "host": ${JSON.stringify(exported.host)},\n  "submissions": ${JSON.stringify(exported.submissions, null, 2)}\n}`;
  const r = await importFile(ep.id, sorted, 'application/json');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { rows: 3, imported: 3, rejected_count: 0, rejected: [] });

  // Its submissions API: {"fields": [...], "submissions": [...]}, _status as delivery objects.
  const apiShape = { fields: ['_date', 'email', 'message', '_status'], submissions: [{ _date: '2021-06-01T12:00:00.5', email: 'api@example.com', message: 'from the API', _status: { 'plugin:discord': { processed: true } } }] };
  const r2 = await importFile(ep.id, JSON.stringify(apiShape), 'application/json');
  assert.equal(r2.status, 200, r2.text);
  assert.equal(r2.json.imported, 1);

  const got = await readBack(ep.id);
  assert.equal(got.length, 4);
  assert.deepEqual(got[0].fields, { interests: ['maths', 'engines'], message: TRICKY[3] });
  assert.equal(got[0].meta.reply_to, 'ada@example.com', '_replyto goes to meta, as in a post');
  assert.equal(got[0].created_at, '2018-11-03T07:28:29.707Z');
  assert.equal(got[0].meta.source_id, '2');
  assert.deepEqual(got[1].fields, { message: TRICKY[4] });
  assert.equal(got[1].created_at, '2018-11-04T10:00:00.000Z');
  assert.equal(got[2].created_at, '2018-11-05T10:00:00.000Z');
  assert.deepEqual(got[3].fields, { email: 'api@example.com', message: 'from the API' });
  assert.equal(got[3].created_at, '2021-06-01T12:00:00.500Z');
  for (const s of got) assert.equal(s.meta.imported_from, 'formspree');
});

/** An endpoint with posts of every kind and every status; its submissions, oldest first. */
async function sourceEndpoint(name) {
  const ep = await createEndpoint(api, name, NO_LIMIT);
  const sent = [
    ['urlencoded', [['email', 'ada@example.com'], ['message', TRICKY[1]], ['tag', 'x'], ['tag', 'y']]],
    ['urlencoded', [['message', TRICKY[2]], ['note', TRICKY[3]]]],
    ['json', { message: TRICKY[4], nested: { deep: [1, 2, { three: true }] } }],
    ['urlencoded', [['message', TRICKY[6]], ['_subject', 'Subject line']]],
  ];
  for (const [kind, body] of sent) {
    const r = await postForm(server.url, ep.key, kind, body);
    assert.equal(r.status, 200, r.text);
    await new Promise((res) => setTimeout(res, 3));
  }
  const subs = await readBack(ep.id);
  assert.equal(subs.length, sent.length);
  for (const [i, status] of [[1, 'spam'], [2, 'trash']]) {
    const p = await api.patch(`/api/v1/submissions/${subs[i].id}`, { status });
    assert.equal(p.status, 200, p.text);
  }
  return { ep, subs: await readBack(ep.id) };
}

function sameSubmissions(got, want, label) {
  assert.equal(got.length, want.length, `${label}: count`);
  want.forEach((w, i) => {
    const g = got[i];
    assert.deepEqual(g.fields, w.fields, `${label} #${i + 1} fields`);
    assert.equal(g.created_at, w.created_at, `${label} #${i + 1} created_at`);
    assert.equal(g.status, w.status, `${label} #${i + 1} status`);
    assert.notEqual(g.id, w.id, `${label} #${i + 1} a new id`);
    assert.equal(g.meta.source_id, w.id, `${label} #${i + 1} source_id`);
    assert.equal(g.meta.imported_from, 'inlet');
    if (w.meta.subject) assert.equal(g.meta.subject, w.meta.subject, `${label} #${i + 1} meta kept`);
  });
}

test("Inlet's own shapes (JSON array, list page, NDJSON, CSV) through the API: fields, times, statuses", T, async (t) => {
  const { ep: src, subs } = await sourceEndpoint('inlet-src');

  await t.test('a JSON array of submissions', async () => {
    const ep = await createEndpoint(api, 'inlet-json', NO_LIMIT);
    const r = await importFile(ep.id, JSON.stringify(subs, null, 1), 'application/json');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.imported, subs.length);
    sameSubmissions(await readBack(ep.id), subs, 'json');
  });

  await t.test('a page of the list API ({"data":[...],"next_cursor"})', async () => {
    const ep = await createEndpoint(api, 'inlet-page', NO_LIMIT);
    const page = { data: [...subs].reverse(), next_cursor: null };
    const r = await importFile(ep.id, JSON.stringify(page), 'application/json');
    assert.equal(r.status, 200, r.text);
    sameSubmissions(await readBack(ep.id), subs, 'page');
  });

  await t.test('NDJSON, with a line that is not JSON', async () => {
    const ep = await createEndpoint(api, 'inlet-ndjson', NO_LIMIT);
    const lines = subs.map((s) => JSON.stringify(s));
    lines.splice(2, 0, '{"fields": {"a": tru}}');
    const r = await importFile(ep.id, `${lines.join('\n')}\n`, 'application/x-ndjson');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.imported, subs.length);
    assert.deepEqual(r.json.rejected, [{ row: 3, reason: 'the row is not valid JSON' }]);
    sameSubmissions(await readBack(ep.id), subs, 'ndjson');
  });

  await t.test('CSV: id, created_at, status, one column per field', async () => {
    const ep = await createEndpoint(api, 'inlet-csv', NO_LIMIT);
    const names = [];
    for (const s of subs) for (const k of Object.keys(s.fields)) if (!names.includes(k)) names.push(k);
    const strings = subs.filter((s) => Object.values(s.fields).every((v) => typeof v === 'string'));
    let csv = csvLine(['id', 'created_at', 'status', ...names, 'meta.subject']);
    for (const s of strings) csv += csvLine([s.id, s.created_at, s.status, ...names.map((n) => s.fields[n] ?? ''), s.meta.subject || '']);
    const r = await importFile(ep.id, csv, 'text/csv');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.imported, strings.length);
    sameSubmissions(await readBack(ep.id), strings, 'csv');
  });

  await t.test("Inlet's exporter, when it is there: every format round-trips", async (tt) => {
    for (const [format, ctype] of [['json', 'application/json'], ['ndjson', 'application/x-ndjson'], ['csv', 'text/csv']]) {
      const x = await api.get(`/api/v1/endpoints/${src.id}/export?format=${format}`);
      if (x.status === 404) { tt.skip('no export route in this build'); return; }
      assert.equal(x.status, 200, x.text);
      const ep = await createEndpoint(api, `inlet-export-${format}`, NO_LIMIT);
      const r = await importFile(ep.id, x.body, ctype);
      assert.equal(r.status, 200, `${format}: ${r.text}`);
      assert.equal(r.json.imported, subs.length, `${format}: ${r.text}`);
      const got = await readBack(ep.id);
      // CSV joins repeated values and writes JSON values as text: compare strings only there.
      const want = format === 'csv'
        ? subs.map((s) => ({ ...s, fields: Object.fromEntries(Object.entries(s.fields).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : typeof v === 'string' ? v : JSON.stringify(v)])) }))
        : subs;
      sameSubmissions(got, want, `export ${format}`);
    }
  });
});

test('a date-only export with 5,000 rows on one day, imported twice: every row kept, ids unique, times within ms', T, async () => {
  const ep = await createEndpoint(api, 'same-day', NO_LIMIT);
  let csv = '_date,n\n';
  for (let i = 0; i < 5000; i++) csv += `2021-05-05,${i}\n`;
  for (let round = 0; round < 2; round++) {
    const r = await importFile(ep.id, csv, 'text/csv');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.imported, 5000, r.text);
  }
  const got = await listAll(api, ep.id);
  assert.equal(got.length, 10000);
  assert.equal(new Set(got.map((s) => s.id)).size, 10000, 'unique ids');
  for (const s of got) {
    const ms = Date.parse(s.created_at) - Date.parse('2021-05-05T00:00:00Z');
    assert.ok(ms >= 0 && ms < 10, `${s.created_at}: 4,096 ids per ms, the rest on the next ms`);
  }
});

test('the rejected list is capped at 1,000 and the rest counted; statuses, future dates', T, async () => {
  const ep = await createEndpoint(api, 'capped', NO_LIMIT);
  let csv = 'id,created_at,status,msg\n';
  csv += 'a,2020-01-01T00:00:00Z,spam,kept as spam\n';
  csv += 'b,2020-01-01T00:00:01Z,archived,bad status\n';
  csv += `c,${new Date(Date.now() + 86400_000).toISOString()},inbox,tomorrow\n`;
  for (let i = 0; i < 1005; i++) csv += `x${i},never,inbox,bad\n`;
  const r = await importFile(ep.id, csv, 'text/csv');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.imported, 1);
  assert.equal(r.json.rejected_count, 1007);
  assert.equal(r.json.rejected.length, 1000);
  assert.deepEqual(r.json.rejected[0], { row: 2, reason: 'status "archived" is not inbox, spam or trash' });
  assert.deepEqual(r.json.rejected[1], { row: 3, reason: 'the date is in the future' });
  const got = await readBack(ep.id);
  assert.equal(got.length, 1);
  assert.equal(got[0].status, 'spam');
});

test('errors: 401, 404 (unknown, another account), 415, 400 (events endpoint, empty body, malformed JSON), 413', T, async () => {
  const ep = await createEndpoint(api, 'errors', NO_LIMIT);
  const events = await createEndpoint(api, 'errors-events', NO_LIMIT, 'events');
  const other = await newAccount(data);
  const otherApi = apiClient(server.url, other.token);
  const mine = await createEndpoint(otherApi, 'theirs', NO_LIMIT);
  const csv = 'email\nx@example.com\n';

  const cases = [
    ['no key', importFile(ep.id, csv, 'text/csv', { token: null }), 401, 'unauthorized'],
    ['unknown endpoint', importFile('ep_doesnotexist', csv, 'text/csv'), 404, 'not_found'],
    ["another account's endpoint", importFile(mine.id, csv, 'text/csv'), 404, 'not_found'],
    ['text/plain', importFile(ep.id, csv, 'text/plain'), 415, 'unsupported_media_type'],
    ['no content type', importFile(ep.id, csv, null), 415, 'unsupported_media_type'],
    ['events endpoint', importFile(events.id, csv, 'text/csv'), 400, 'invalid'],
    ['empty body', importFile(ep.id, '', 'text/csv'), 400, 'invalid'],
  ];
  for (const [what, p, status, code] of cases) {
    const r = await p;
    assert.equal(r.status, status, `${what}: ${r.text}`);
    assert.equal(r.json?.error?.code, code, `${what}: ${r.text}`);
  }

  // Malformed JSON after good rows: those stay, and the answer says so.
  const bad = await importFile(ep.id, '[{"a":"1"},{"a":"2"} {"a":"3"}]', 'application/json');
  assert.equal(bad.status, 400, bad.text);
  assert.equal(bad.json.error.code, 'invalid');
  assert.match(bad.json.error.message, /expected ',' or ']'/);
  assert.equal(bad.json.report.imported, 2);
  assert.equal((await readBack(ep.id)).length, 2);
  assert.equal((await listAll(otherApi, mine.id)).length, 0, "nothing reached the other account's endpoint");

  // Over 64 MiB by Content-Length: refused before anything is imported.
  const big = Buffer.alloc(64 * 1024 * 1024 + 1, 'a');
  big.write('email\n', 0);
  const tb = await rawRequest(`${server.url}/api/v1/endpoints/${ep.id}/imports`, {
    headers: { Authorization: `Bearer ${acct.token}`, 'Content-Type': 'text/csv' }, body: big, timeout: 120_000,
  });
  assert.equal(tb.status, 413, tb.text);
  assert.equal((await readBack(ep.id)).length, 2);
});

test('inlet import: refuses a served folder; on a stopped one imports CSV and JSON, exit 0/1/2, report on stdout', T, async () => {
  const dir = await makeDataDir();
  const a = await newAccount(dir);
  let srv = await startServer(dir);
  const c = apiClient(srv.url, a.token);
  const ep = await createEndpoint(c, 'cli', NO_LIMIT);
  const files = await makeTempDir();
  const csvPath = path.join(files, 'formspree.csv');
  await writeFile(csvPath, `_id,_date,email,message\r\n1,2017-03-04T05:06:07.891011,cli@example.com,${cell(TRICKY[3])}\r\n2,2017-03-05T00:00:00,x@example.com,"${TRICKY[4]}"\r\n`);
  const jsonPath = path.join(files, 'export.json');
  await writeFile(jsonPath, JSON.stringify({ submissions: [{ _date: '2016-01-01T00:00:00', msg: 'one' }, { _date: 'bad', msg: 'two' }] }));

  const served = await runInlet(['import', '--data', dir, ep.id, csvPath]);
  assert.equal(served.code, 1, served.stderr);
  assert.match(served.stderr, new RegExp(`/api/v1/endpoints/${ep.id}/imports`));
  await srv.stop();

  const ok = await runInlet(['import', '--data', dir, ep.id, csvPath]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout), { rows: 2, imported: 2, rejected_count: 0, rejected: [] });
  const some = await runInlet(['import', '--data', dir, ep.id, jsonPath]);
  assert.equal(some.code, 1, some.stderr);
  assert.deepEqual(JSON.parse(some.stdout).rejected, [{ row: 2, reason: '"bad" is not a date' }]);
  const stdin = await runInlet(['import', '--data', dir, '--format', 'ndjson', ep.id, '-'], { input: '{"_date":"2015-05-05T05:05:05","msg":"piped"}\n' });
  assert.equal(stdin.code, 0, stdin.stderr);

  for (const args of [['import'], ['import', '--data', dir, ep.id], ['import', '--data', dir, ep.id, path.join(files, 'x.txt')],
    ['import', '--data', dir, '--format', 'xml', ep.id, csvPath]]) {
    const r = await runInlet(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /usage/);
  }
  const missing = await runInlet(['import', '--data', dir, 'ep_nope', csvPath]);
  assert.equal(missing.code, 1);

  srv = await startServer(dir);
  const got = (await listAll(apiClient(srv.url, a.token), ep.id)).reverse();
  assert.deepEqual(got.map((s) => s.created_at), ['2015-05-05T05:05:05.000Z', '2016-01-01T00:00:00.000Z', '2017-03-04T05:06:07.891Z', '2017-03-05T00:00:00.000Z']);
  assert.deepEqual(got[2].fields, { email: 'cli@example.com', message: TRICKY[3] });
  assert.deepEqual(got[3].fields, { email: 'x@example.com', message: TRICKY[4] });
  await srv.stop();
});

/** Files under dir holding needle: [relative path]. */
async function filesHolding(dir, needle) {
  const hits = [];
  const walk = async (d) => {
    for (const ent of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, ent.name);
      if (ent.isDirectory()) await walk(p);
      else if (ent.isFile()) {
        let buf;
        try { buf = await readFile(p); } catch (e) { if (e.code === 'ENOENT') continue; throw e; }
        if (buf.includes(Buffer.from(needle)) || ent.name.includes(needle)) hits.push(path.relative(dir, p));
      }
    }
  };
  await walk(dir);
  return hits;
}

test('plaintext scan: nothing an import brought is on disk, served or stopped', T, async () => {
  const dir = await makeDataDir();
  const a = await newAccount(dir);
  const srv = await startServer(dir);
  const c = apiClient(srv.url, a.token);
  const ep = await createEndpoint(c, 'scan', NO_LIMIT);
  const marker = `Imp${randomBytes(10).toString('hex')}`;
  const csv = `_id,_date,${marker}name,message\r\n1,2019-01-01T00:00:00,x,"${marker}csv, ""q"""\r\n`;
  const json = JSON.stringify({ submissions: [{ _date: '2019-01-02T00:00:00', message: `${marker}json`, _replyto: `${marker}@example.com` }] });
  const ndjson = `${JSON.stringify({ id: 'sub_x', created_at: '2019-01-03T00:00:00Z', status: 'spam', fields: { m: `${marker}nd` }, files: [], meta: { subject: `${marker}subj` } })}\n`;
  for (const [body, ctype] of [[csv, 'text/csv'], [json, 'application/json'], [ndjson, 'application/x-ndjson']]) {
    const r = await request(`${srv.url}/api/v1/endpoints/${ep.id}/imports`, {
      method: 'POST', headers: { Authorization: `Bearer ${a.token}`, 'Content-Type': ctype }, body: Buffer.from(body),
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.imported, 1, r.text);
  }
  const got = await listAll(c, ep.id);
  assert.equal(got.length, 3);
  assert.ok(got.some((s) => s.fields[`${marker}name`] === 'x'), 'the markers were stored');
  assert.ok(got.some((s) => s.meta.subject === `${marker}subj`));
  assert.deepEqual(await filesHolding(dir, marker), [], 'no plaintext while serving');
  await srv.stop();
  assert.deepEqual(await filesHolding(dir, marker), [], 'no plaintext after stop');
});
