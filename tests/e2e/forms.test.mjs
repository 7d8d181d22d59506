// Public form ingest, the happy paths: every content type, repeated names,
// field order, special fields, the honeypot, metadata, IP modes, and the
// JSON and browser (303) answers.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { makeDataDir, startServer, cleanup, newAccount } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, getSubmission, postForm, request, BROWSER_ACCEPT } from '../lib/http.mjs';
import { ABSENT, assertShape, isString, prefixed } from '../lib/match.mjs';
import { submissionShape } from '../lib/contract.mjs';

let server;
let api;
let base;
const T = { timeout: 60_000 };

before(async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  server = await startServer(data);
  base = server.url;
  api = apiClient(server.url, acct.token);
});
after(cleanup);

/** POST with Accept: application/json, assert the 200 answer, return the stored submission. */
async function submit(key, kind, data, opts = {}) {
  const r = await postForm(base, key, kind, data, { accept: 'json', ...opts });
  assert.equal(r.status, 200, `POST /f/${key} → ${r.status} ${r.text}`);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assertShape(r.json, { ok: true, next: isString, id: prefixed('sub_') });
  return { answer: r.json, sub: await getSubmission(api, r.json.id) };
}

const thanksUrl = (key, b = base) => `${b}/f/${key}/thanks`;

test('urlencoded: fields, repeated names → arrays, order kept, UTF-8', T, async () => {
  const ep = await createEndpoint(api, 'urlencoded');
  const { sub } = await submit(ep.key, 'urlencoded', [
    ['name', 'Ada Lovelace'],
    ['topic', 'engines'],
    ['email', 'ada@example.com'],
    ['topic', 'poetry'],
    ['message', 'Héllo wörld ✓ 漢字 a+b=c & d'],
    ['empty', ''],
    ['topic', 'numbers'],
  ]);
  assertShape(sub, submissionShape({ endpoint_id: ep.id, status: 'inbox' }));
  assert.deepEqual(sub.fields, {
    name: 'Ada Lovelace',
    topic: ['engines', 'poetry', 'numbers'],
    email: 'ada@example.com',
    message: 'Héllo wörld ✓ 漢字 a+b=c & d',
    empty: '',
  });
  assert.deepEqual(Object.keys(sub.fields), ['name', 'topic', 'email', 'message', 'empty'], 'order follows the post');
  assert.deepEqual(sub.files, []);
});

test('urlencoded with a charset parameter', T, async () => {
  const ep = await createEndpoint(api, 'charset');
  const { sub } = await submit(ep.key, 'raw', 'a=1&b=%C3%A9', { headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8' } });
  assert.deepEqual(sub.fields, { a: '1', b: 'é' });
});

test('multipart: fields and files; files apart from fields; exact bytes back', T, async () => {
  const ep = await createEndpoint(api, 'multipart');
  const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
  const bin = Buffer.alloc(70_000);
  for (let i = 0; i < bin.length; i++) bin[i] = (i * 7 + 3) & 0xff; // crosses a 64 KiB chunk
  const { sub } = await submit(ep.key, 'multipart', [
    { name: 'name', value: 'Grace' },
    { name: 'photo', filename: 'pixel.png', contentType: 'image/png', data: png },
    { name: 'choice', value: 'a' },
    { name: 'choice', value: 'b' },
    { name: 'blob', filename: 'data.bin', contentType: 'application/octet-stream', data: bin },
    { name: 'note', value: 'line 1\r\nline 2' },
  ]);
  assert.deepEqual(sub.fields, { name: 'Grace', choice: ['a', 'b'], note: 'line 1\r\nline 2' });
  assert.deepEqual(Object.keys(sub.fields), ['name', 'choice', 'note']);
  assertShape(sub.files, [
    { name: 'pixel.png', field: 'photo', size: png.length, content_type: 'image/png' },
    { name: 'data.bin', field: 'blob', size: bin.length, content_type: 'application/octet-stream' },
  ]);
  for (const [i, want] of [[0, png], [1, bin]]) {
    const r = await api.get(`/api/v1/submissions/${sub.id}/files/${i}`);
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(want), `file ${i}: exact bytes (${r.body.length} vs ${want.length})`);
    assert.match(String(r.headers['content-type']), new RegExp(`^${sub.files[i].content_type.replace('/', '\\/')}`));
    assert.match(String(r.headers['content-disposition']), new RegExp(`attachment.*${sub.files[i].name.replace('.', '\\.')}`, 'i'));
  }
});

test('multipart: an empty file input (no file chosen) is not a file', T, async () => {
  const ep = await createEndpoint(api, 'multipart-empty');
  const r = await postForm(base, ep.key, 'multipart', [
    { name: 'name', value: 'x' },
    { name: 'upload', filename: '', contentType: 'application/octet-stream', data: Buffer.alloc(0) },
  ]);
  assert.equal(r.status, 200, r.text);
  const sub = await getSubmission(api, r.json.id);
  assert.equal(sub.fields.name, 'x');
  assert.deepEqual(sub.files, []);
});

test('JSON body: values keep their JSON types and order', T, async () => {
  const ep = await createEndpoint(api, 'json');
  const body = { name: 'Linus', age: 36, subscribed: true, score: 9.5, tags: ['x', 'y'], nested: { a: 1, b: [2] }, nothing: null };
  const { sub } = await submit(ep.key, 'json', body);
  assert.deepEqual(sub.fields, body);
  assert.deepEqual(Object.keys(sub.fields), Object.keys(body));
});

test('JSON body with a charset parameter', T, async () => {
  const ep = await createEndpoint(api, 'json-charset');
  const { sub } = await submit(ep.key, 'raw', '{"q":"ça va"}', { headers: { 'Content-Type': 'application/json; charset=utf-8' } });
  assert.deepEqual(sub.fields, { q: 'ça va' });
});

test('a JSON body that is not an object is refused in Formspree shape', T, async () => {
  const ep = await createEndpoint(api, 'json-bad');
  for (const raw of ['["a","b"]', '"text"', '{"a":', '']) {
    const r = await postForm(base, ep.key, 'raw', raw, { headers: { 'Content-Type': 'application/json' } });
    assert.ok([400, 422].includes(r.status), `${JSON.stringify(raw)} → ${r.status}`);
    assertShape(r.json, { error: (v) => typeof v === 'string', errors: (v) => Array.isArray(v) && v.length > 0 });
  }
});

test('special fields: kept apart, in meta', T, async () => {
  const ep = await createEndpoint(api, 'special');
  const { sub } = await submit(ep.key, 'urlencoded', [
    ['_subject', 'New lead'],
    ['name', 'Ada'],
    ['_replyto', 'reply@example.com'],
    ['email', 'ada@example.com'],
    ['_cc', 'boss@example.com'],
    ['_next', 'https://example.com/next'],
    ['_format', 'plain'],
    ['_gotcha', ''],
    ['message', 'hi'],
  ]);
  assert.deepEqual(sub.fields, { name: 'Ada', email: 'ada@example.com', message: 'hi' });
  assert.equal(sub.status, 'inbox', 'an empty honeypot is not spam');
  assertShape(sub.meta, {
    subject: 'New lead', reply_to: 'reply@example.com', cc: 'boss@example.com', next: 'https://example.com/next', format: 'plain',
    spam_reason: ABSENT,
  });
});

test('special fields in a JSON body and in multipart', T, async () => {
  const ep = await createEndpoint(api, 'special-json');
  const { sub } = await submit(ep.key, 'json', { _subject: 'S', message: 'm', _cc: 'c@example.com' });
  assert.deepEqual(sub.fields, { message: 'm' });
  assertShape(sub.meta, { subject: 'S', cc: 'c@example.com' });
  const { sub: sub2 } = await submit(ep.key, 'multipart', [{ name: '_subject', value: 'M' }, { name: 'x', value: '1' }, { name: '_format', value: 'plain' }]);
  assert.deepEqual(sub2.fields, { x: '1' });
  assertShape(sub2.meta, { subject: 'M', format: 'plain' });
});

test('reply_to falls back to the email field', T, async () => {
  const ep = await createEndpoint(api, 'replyto');
  const { sub } = await submit(ep.key, 'urlencoded', [['email', 'from@example.com'], ['message', 'x']]);
  assert.equal(sub.meta.reply_to, 'from@example.com');
  assert.deepEqual(sub.fields, { email: 'from@example.com', message: 'x' }, 'email stays a field');
});

test('no special fields → none in meta', T, async () => {
  const ep = await createEndpoint(api, 'plain');
  const { sub } = await submit(ep.key, 'urlencoded', [['message', 'x']]);
  assertShape(sub.meta, { subject: ABSENT, reply_to: ABSENT, cc: ABSENT, next: ABSENT, format: ABSENT, spam_reason: ABSENT });
});

test('honeypot: the same success answer, stored as spam', T, async () => {
  const ep = await createEndpoint(api, 'honeypot');
  const { answer, sub } = await submit(ep.key, 'urlencoded', [['message', 'buy now'], ['_gotcha', 'http://spam.example']]);
  assertShape(answer, { ok: true, next: thanksUrl(ep.key), id: prefixed('sub_') });
  assert.equal(sub.status, 'spam');
  assert.equal(sub.meta.spam_reason, 'honeypot');
  assert.deepEqual(sub.fields, { message: 'buy now' });

  const browser = await postForm(base, ep.key, 'urlencoded', [['message', 'again'], ['_gotcha', 'x']], { accept: 'browser' });
  assert.equal(browser.status, 303, 'a browser gets the normal redirect');
  assert.equal(browser.headers.location, thanksUrl(ep.key));
  const spam = await api.get(`/api/v1/endpoints/${ep.id}/submissions?status=spam`);
  assert.equal(spam.json.data.length, 2);
  const inbox = await api.get(`/api/v1/endpoints/${ep.id}/submissions?status=inbox`);
  assert.equal(inbox.json.data.length, 0);
});

test('honeypot setting: a field the owner names works as _gotcha does; specials refused', T, async () => {
  const ep = await createEndpoint(api, 'honeypot-named', { honeypot: 'website' });
  assert.equal(ep.settings.honeypot, 'website');
  const caught = await submit(ep.key, 'multipart', [{ name: 'message', value: 'hi' }, { name: 'website', value: 'http://bot.example' }]);
  assert.equal(caught.sub.status, 'spam');
  assert.equal(caught.sub.meta.spam_reason, 'honeypot');
  const empty = await submit(ep.key, 'urlencoded', [['message', 'hello'], ['website', '']]);
  assert.equal(empty.sub.status, 'inbox', 'left empty: a person');
  const gotcha = await submit(ep.key, 'urlencoded', [['message', 'x'], ['_gotcha', 'bot']]);
  assert.equal(gotcha.sub.status, 'spam', '_gotcha still works');
  const plain = await createEndpoint(api, 'honeypot-unnamed');
  assert.equal(plain.settings.honeypot, null);
  assert.equal((await submit(plain.key, 'urlencoded', [['website', 'x']])).sub.status, 'inbox');
  for (const bad of ['_next', 42, 'x'.repeat(65)]) {
    const r = await api.patch(`/api/v1/endpoints/${ep.id}`, { settings: { honeypot: bad } });
    assert.equal(r.status, 400, `${JSON.stringify(bad)} → ${r.status}`);
  }
  const off = await api.patch(`/api/v1/endpoints/${ep.id}`, { settings: { honeypot: null } });
  assert.equal(off.status, 200, off.text);
  assert.equal(off.json.settings.honeypot, null);
});

test('metadata: user agent, referrer, origin', T, async () => {
  const ep = await createEndpoint(api, 'meta');
  const { sub } = await submit(ep.key, 'urlencoded', [['m', '1']], {
    headers: { 'User-Agent': 'Mozilla/5.0 (inlet-test) Gecko/20100101', Referer: 'https://site.example/contact?from=nav', Origin: 'https://site.example' },
  });
  assertShape(sub.meta, { user_agent: 'Mozilla/5.0 (inlet-test) Gecko/20100101', referrer: 'https://site.example/contact?from=nav', origin: 'https://site.example' });
  const created = Date.parse(sub.created_at);
  assert.ok(Math.abs(Date.now() - created) < 5 * 60_000, `created_at is now-ish: ${sub.created_at}`);
});

test('answers: JSON, no Accept, browser 303 to the thank-you page', T, async () => {
  const ep = await createEndpoint(api, 'answers');
  const j = await postForm(base, ep.key, 'urlencoded', [['a', '1']], { accept: 'json' });
  assert.equal(j.status, 200);
  assertShape(j.json, { ok: true, next: thanksUrl(ep.key), id: prefixed('sub_') });

  const none = await postForm(base, ep.key, 'urlencoded', [['a', '2']], { accept: null });
  assert.equal(none.status, 200, 'no Accept header → JSON');
  assert.match(String(none.headers['content-type']), /^application\/json/);
  assertShape(none.json, { ok: true, next: thanksUrl(ep.key), id: prefixed('sub_') });

  const b = await postForm(base, ep.key, 'urlencoded', [['a', '3']], { accept: 'browser' });
  assert.equal(b.status, 303);
  assert.equal(b.headers.location, thanksUrl(ep.key));

  const page = await request(thanksUrl(ep.key), { headers: { Accept: BROWSER_ACCEPT } });
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(page.text, /<html|<!doctype html/i);

  const list = await api.get(`/api/v1/endpoints/${ep.id}/submissions`);
  assert.deepEqual(list.json.data.map((s) => s.fields.a), ['3', '2', '1'], 'all three stored, newest first');
});

test('thank-you page of an unknown key → 404', T, async () => {
  const r = await request(`${base}/f/nosuchkey00000000000/thanks`, { headers: { Accept: BROWSER_ACCEPT } });
  assert.equal(r.status, 404);
});

test('redirect_url: browser 303 there, JSON next is it', T, async () => {
  const ep = await createEndpoint(api, 'redirect', { redirect_url: 'https://example.com/merci?x=1' });
  const b = await postForm(base, ep.key, 'urlencoded', [['a', '1']], { accept: 'browser' });
  assert.equal(b.status, 303);
  assert.equal(b.headers.location, 'https://example.com/merci?x=1');
  const j = await postForm(base, ep.key, 'urlencoded', [['a', '2']]);
  assert.equal(j.status, 200);
  assert.equal(j.json.next, 'https://example.com/merci?x=1');
});

test('_next: followed when its origin is the post’s Origin', T, async () => {
  const ep = await createEndpoint(api, 'next-origin');
  const b = await postForm(base, ep.key, 'urlencoded', [['a', '1'], ['_next', 'https://site.example/done?ok=1']], {
    accept: 'browser', headers: { Origin: 'https://site.example' },
  });
  assert.equal(b.status, 303);
  assert.equal(b.headers.location, 'https://site.example/done?ok=1');
  const j = await postForm(base, ep.key, 'json', { a: '2', _next: 'https://site.example/done' }, { headers: { Origin: 'https://site.example' } });
  assert.equal(j.status, 200);
  assert.equal(j.json.next, 'https://site.example/done');
});

test('_next: followed when its origin is the post’s Referer origin', T, async () => {
  const ep = await createEndpoint(api, 'next-referer');
  const b = await postForm(base, ep.key, 'urlencoded', [['a', '1'], ['_next', 'https://site.example/thanks']], {
    accept: 'browser', headers: { Referer: 'https://site.example/contact.html' },
  });
  assert.equal(b.status, 303);
  assert.equal(b.headers.location, 'https://site.example/thanks');
});

test('_next: another origin is not followed (no open redirect)', T, async () => {
  const ep = await createEndpoint(api, 'next-evil');
  const b = await postForm(base, ep.key, 'urlencoded', [['a', '1'], ['_next', 'https://evil.example/phish']], {
    accept: 'browser', headers: { Origin: 'https://site.example' },
  });
  assert.equal(b.status, 303);
  assert.equal(b.headers.location, thanksUrl(ep.key));
  const none = await postForm(base, ep.key, 'urlencoded', [['a', '2'], ['_next', 'https://evil.example/phish']], { accept: 'browser' });
  assert.equal(none.status, 303);
  assert.equal(none.headers.location, thanksUrl(ep.key), 'no Origin nor Referer: _next not followed');
  const j = await postForm(base, ep.key, 'urlencoded', [['a', '3'], ['_next', 'https://evil.example/phish']], { headers: { Origin: 'https://site.example' } });
  assert.equal(j.json.next, thanksUrl(ep.key));
});

test('_next: followed when its origin is in allowed_origins', T, async () => {
  const ep = await createEndpoint(api, 'next-allowed', { allowed_origins: ['https://site.example', 'https://landing.example'] });
  const b = await postForm(base, ep.key, 'urlencoded', [['a', '1'], ['_next', 'https://landing.example/ok']], {
    accept: 'browser', headers: { Origin: 'https://site.example' },
  });
  assert.equal(b.status, 303);
  assert.equal(b.headers.location, 'https://landing.example/ok');
  const other = await postForm(base, ep.key, 'urlencoded', [['a', '2'], ['_next', 'https://elsewhere.example/ok']], {
    accept: 'browser', headers: { Origin: 'https://site.example' },
  });
  assert.equal(other.status, 303);
  assert.equal(other.headers.location, thanksUrl(ep.key));
});

test('ip modes: store, hash, drop', T, async () => {
  const store = await createEndpoint(api, 'ip-store', { ip: 'store' });
  const hash = await createEndpoint(api, 'ip-hash', { ip: 'hash' });
  const drop = await createEndpoint(api, 'ip-drop', { ip: 'drop' });
  const def = await createEndpoint(api, 'ip-default');

  const s = (await submit(store.key, 'urlencoded', [['a', '1']])).sub;
  assert.equal(s.meta.ip, '127.0.0.1');
  assert.equal(s.meta.ip_hash, undefined);

  const utcDay = () => new Date().toISOString().slice(0, 10);
  const dayBefore = utcDay();
  const h1 = (await submit(hash.key, 'urlencoded', [['a', '1']])).sub;
  const h2 = (await submit(hash.key, 'urlencoded', [['a', '2']])).sub;
  assert.equal(h1.meta.ip, undefined);
  assert.match(h1.meta.ip_hash, /^[0-9a-f]{16,}$/i);
  if (utcDay() === dayBefore) assert.equal(h2.meta.ip_hash, h1.meta.ip_hash, 'same client, same day → same hash');
  const plain = createHash('sha256').update('127.0.0.1').digest('hex');
  assert.notEqual(h1.meta.ip_hash.toLowerCase(), plain, 'the hash is keyed (salted), not a bare SHA-256');
  assert.ok(!JSON.stringify(h1).includes('127.0.0.1'), 'no plain IP anywhere in a hash-mode submission');

  const d = (await submit(drop.key, 'urlencoded', [['a', '1']])).sub;
  assert.equal(d.meta.ip, undefined);
  assert.equal(d.meta.ip_hash, undefined);
  assert.ok(!JSON.stringify(d).includes('127.0.0.1'));

  const x = (await submit(def.key, 'urlencoded', [['a', '1']])).sub;
  assert.equal(x.meta.ip, undefined, 'default is hash');
  assert.match(x.meta.ip_hash, /^[0-9a-f]{16,}$/i);
});

test('kind=events endpoints get their own key, a DSN and an ingest URL, and take no form posts', T, async () => {
  const ep = await createEndpoint(api, 'events', undefined, 'events');
  assert.equal(ep.kind, 'events');
  assert.match(ep.key, /^[0-9a-f]{32}$/);
  assert.match(ep.project_id, /^[1-9][0-9]{9}$/);
  assert.equal(ep.url, `${base}/v1/${ep.key}`);
  assert.equal(ep.ingest_url, `${base}/v1/${ep.key}`);
  const u = new URL(base);
  assert.equal(ep.dsn, `${u.protocol}//${ep.key}@${u.host}/${ep.project_id}`);
  const j = await postForm(base, ep.key, 'urlencoded', [['a', '1']]);
  assert.equal(j.status, 404);
  assert.equal(j.json.errors[0].code, 'FORM_NOT_FOUND');
});

test('INLET_PUBLIC_URL sets the base of built URLs', T, async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  const pub = 'https://forms.inlet.example';
  const s2 = await startServer(data, { env: { INLET_PUBLIC_URL: pub } });
  try {
    const api2 = apiClient(s2.url, acct.token);
    const ep = await createEndpoint(api2, 'public');
    assert.equal(ep.url, `${pub}/f/${ep.key}`);
    const j = await postForm(s2.url, ep.key, 'urlencoded', [['a', '1']]);
    assert.equal(j.status, 200);
    assert.equal(j.json.next, `${pub}/f/${ep.key}/thanks`);
    const b = await postForm(s2.url, ep.key, 'urlencoded', [['a', '2']], { accept: 'browser' });
    assert.equal(b.status, 303);
    assert.equal(b.headers.location, `${pub}/f/${ep.key}/thanks`);
  } finally {
    await s2.stop();
  }
});

test('stops cleanly on SIGTERM', T, async () => {
  await server.stop();
});
