// Webhooks, black-box: the API (create, list, get, patch, delete, the
// delivery log, redelivery, the jobs list), and what a receiver sees: a
// signed POST per submission with the submission exactly as the API shows
// it, retried with the same Inlet-Delivery id until a 2xx, a webhook
// switched off after 50 failures in a row, the SSRF guard (direct and on a
// redirect), account isolation, and kill -9 while deliveries are under way.
//
// Receivers are node:http servers on 127.0.0.x (tests/lib/receiver.mjs);
// the main server allows 127.0.0.1 through INLET_WEBHOOK_ALLOW.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeDataDir, startServer, cleanup, newAccount, randomMasterKey, SCALE } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, postForm, getSubmission } from '../lib/http.mjs';
import {
  exact, apiError, isIsoMs, isInt, nonEmptyString, prefixed, oneOf, isString, assertShape,
} from '../lib/match.mjs';
import { startReceiver, closeReceivers, verifySignature } from '../lib/receiver.mjs';

const TIMEOUT_MS = 700; // INLET_WEBHOOK_TIMEOUT_MS
const ENV = { INLET_WEBHOOK_ALLOW: '127.0.0.1', INLET_WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS) };
const NO_RATE_LIMIT = { rate_limit: { per_minute: 0, burst: 1 } };
const T = { timeout: 60_000 * SCALE };
const EVENT = 'submission.created';
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
// How long "nothing happens" is watched: the drainer runs every 250 ms and
// a first attempt follows at once, so 1.5 s is several rounds of both.
const QUIET_MS = 1500 * SCALE;

let server;
let acctA;
let acctB;
let apiA;
let apiB;

before(async () => {
  const data = await makeDataDir();
  acctA = await newAccount(data);
  acctB = await newAccount(data);
  server = await startServer(data, { env: ENV });
  apiA = apiClient(server.url, acctA.token);
  apiB = apiClient(server.url, acctB.token);
});

after(async () => {
  await closeReceivers();
  await cleanup();
});

// ---------------------------------------------------------------------------
// helpers

/** Polls `fn` (async) until it returns something truthy; `ms` is scaled. */
async function until(fn, ms, what) {
  const limit = ms * SCALE;
  const deadline = Date.now() + limit;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${limit} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** POST /api/v1/endpoints/{ep}/webhooks, asserting 201. */
async function addWebhook(api, epId, body) {
  const r = await api.post(`/api/v1/endpoints/${epId}/webhooks`, body);
  assert.equal(r.status, 201, `create webhook ${JSON.stringify(body)} → ${r.status} ${r.text}`);
  return r.json;
}

async function getWebhook(api, id) {
  const r = await api.get(`/api/v1/webhooks/${id}`);
  assert.equal(r.status, 200, `GET webhook ${id} → ${r.status} ${r.text}`);
  return r.json;
}

async function patchWebhook(api, id, body) {
  const r = await api.patch(`/api/v1/webhooks/${id}`, body);
  assert.equal(r.status, 200, `PATCH webhook ${id} ${JSON.stringify(body)} → ${r.status} ${r.text}`);
  return r.json;
}

/** Every attempt in a webhook's delivery log, newest first (follows next_cursor). */
async function deliveries(api, whId, pageSize = 200) {
  const out = [];
  let cursor = null;
  for (let guard = 0; guard < 100; guard++) {
    const q = new URLSearchParams({ limit: String(pageSize) });
    if (cursor) q.set('cursor', cursor);
    const r = await api.get(`/api/v1/webhooks/${whId}/deliveries?${q}`);
    assert.equal(r.status, 200, `deliveries of ${whId} → ${r.status} ${r.text}`);
    out.push(...r.json.data);
    cursor = r.json.next_cursor;
    if (!cursor) return out;
  }
  throw new Error('deliveries: more than 100 pages');
}

/** Every job the caller's key can see (follows next_cursor). */
async function jobs(api, query = {}, pageSize = 200) {
  const out = [];
  let cursor = null;
  for (let guard = 0; guard < 100; guard++) {
    const q = new URLSearchParams({ ...query, limit: String(pageSize) });
    if (cursor) q.set('cursor', cursor);
    const r = await api.get(`/api/v1/jobs?${q}`);
    assert.equal(r.status, 200, `jobs ${q} → ${r.status} ${r.text}`);
    out.push(...r.json.data);
    cursor = r.json.next_cursor;
    if (!cursor) return out;
  }
  throw new Error('jobs: more than 100 pages');
}

/** A form post that must be acknowledged; resolves the submission id. */
async function post(key, fields) {
  const r = await postForm(server.url, key, 'json', fields);
  assert.equal(r.status, 200, `post → ${r.status} ${r.text}`);
  assert.ok(typeof r.json?.id === 'string', `post answer has an id: ${r.text}`);
  return r.json.id;
}

/** The receiver's requests that carry submission `subId`. */
const about = (rcv, subId) => rcv.requests.filter((q) => q.json?.data?.id === subId);

const webhookShape = (over = {}) => exact({
  id: prefixed('wh_'),
  endpoint_id: prefixed('ep_'),
  url: isString,
  events: [EVENT],
  format: 'json',
  enabled: true,
  disabled_reason: null,
  failures: 0,
  created_at: isIsoMs,
  ...over,
});

const attemptShape = (over = {}) => exact({
  id: prefixed('att_'),
  webhook_id: prefixed('wh_'),
  event: EVENT,
  delivery: nonEmptyString,
  attempt: isInt,
  status: (v) => v === null || Number.isInteger(v),
  ok: (v) => typeof v === 'boolean',
  latency_ms: (v) => Number.isInteger(v) && v >= 0,
  response: (v) => v === null || typeof v === 'string',
  error: (v) => v === null || typeof v === 'string',
  created_at: isIsoMs,
  ...over,
});

const jobShape = exact({
  id: (v) => Number.isInteger(v) || (typeof v === 'string' && v.length > 0),
  kind: isString,
  lane: nonEmptyString,
  state: oneOf('queued', 'running', 'done', 'dead', 'cancelled'),
  attempts: isInt,
  max_attempts: isInt,
  progress: isInt,
  total: isInt,
  last_error: (v) => v === null || typeof v === 'string',
  run_at: isIsoMs,
  created_at: isIsoMs,
  updated_at: isIsoMs,
});

/** Asserts the request is what the contract says a delivery of `secret`'s webhook looks like. */
function assertSigned(req, secret, label = 'delivery') {
  const v = verifySignature(secret, req.headers['inlet-signature'], req.raw);
  assert.ok(v.ok, `${label}: signature ${JSON.stringify(req.headers['inlet-signature'])} does not verify: ${v.reason}`);
}

// ---------------------------------------------------------------------------
// the API

test('create: 201 with the secret once; list and GET never show it; defaults; validation', T, async () => {
  const ep = await createEndpoint(apiA, 'wh create');
  const url = 'http://127.0.0.1:9/create-test?x=1';
  const r = await apiA.post(`/api/v1/endpoints/${ep.id}/webhooks`, { url });
  assert.equal(r.status, 201, r.text);
  assertShape(r.json, { ...webhookShape({ endpoint_id: ep.id, url }), secret: prefixed('whsec_', 16) }, 'creation answer');
  const { secret, ...shown } = r.json;

  const got = await apiA.get(`/api/v1/webhooks/${shown.id}`);
  assert.equal(got.status, 200, got.text);
  assert.deepEqual(got.json, shown, 'GET shows what creation did, without the secret');
  assert.ok(!got.text.includes(secret), 'GET never shows the secret');

  const list = await apiA.get(`/api/v1/endpoints/${ep.id}/webhooks`);
  assert.equal(list.status, 200, list.text);
  assertShape(list.json, exact({ data: [webhookShape({ id: shown.id })] }), 'list');
  assert.ok(!list.text.includes(secret), 'the list never shows the secret');

  // all three formats, the event named explicitly; each secret its own
  const secrets = new Set([secret]);
  for (const format of ['json', 'slack', 'discord']) {
    const w = await addWebhook(apiA, ep.id, { url: 'https://example.com/hook', events: [EVENT], format });
    assertShape(w, { ...webhookShape({ format, url: 'https://example.com/hook' }), secret: prefixed('whsec_', 16) }, format);
    secrets.add(w.secret);
  }
  assert.equal(secrets.size, 4, 'every webhook gets its own secret');
  const list2 = await apiA.get(`/api/v1/endpoints/${ep.id}/webhooks`);
  assert.equal(list2.json.data.length, 4, list2.text);
  for (const s of secrets) assert.ok(!list2.text.includes(s), 'no secret in the list');

  const bad = [
    { url: 'ftp://example.com/hook' },
    { url: 'javascript:alert(1)' },
    { url: 'file:///etc/passwd' },
    { url: 'example.com/hook' },
    { url: 'http://' },
    { url: '' },
    {},
    { url: 42 },
    { url: 'https://example.com/hook', events: ['submission.deleted'] },
    { url: 'https://example.com/hook', events: [EVENT, 'nope'] },
    { url: 'https://example.com/hook', events: 'submission.created' },
    { url: 'https://example.com/hook', format: 'xml' },
    { url: 'https://example.com/hook', format: '' },
  ];
  for (const body of bad) {
    const b = await apiA.post(`/api/v1/endpoints/${ep.id}/webhooks`, body);
    assert.equal(b.status, 400, `${JSON.stringify(body)} → ${b.status} ${b.text}`);
    assertShape(b.json, { error: { code: nonEmptyString, message: nonEmptyString } }, JSON.stringify(body));
  }
  const after = await apiA.get(`/api/v1/endpoints/${ep.id}/webhooks`);
  assert.equal(after.json.data.length, 4, 'no refused request created a webhook');

  const none = await apiA.post('/api/v1/endpoints/ep_doesnotexist000/webhooks', { url: 'https://example.com/hook' });
  assert.equal(none.status, 404, none.text);
  assert.equal((await apiA.get('/api/v1/webhooks/wh_doesnotexist00')).status, 404);
  assert.equal((await apiA.get('/api/v1/webhooks/wh_doesnotexist00/deliveries')).status, 404);
  assert.equal((await apiA.post('/api/v1/deliveries/att_doesnotexist0/redeliver', {})).status, 404);
  assert.equal((await apiA.get('/api/v1/jobs?state=bogus')).status, 400, 'an unknown job state is refused');
});

// ---------------------------------------------------------------------------
// deliveries

test('a delivery: signed, with its headers, the submission exactly as the API shows it', T, async () => {
  const rcv = await startReceiver({ respond: () => ({ status: 200, body: 'thanks-from-receiver' }) });
  const ep = await createEndpoint(apiA, 'wh deliver');
  const wh = await addWebhook(apiA, ep.id, { url: `${rcv.url}/hooks/inlet?src=test` });

  const before = Date.now();
  const r = await postForm(server.url, ep.key, 'urlencoded', [
    ['email', 'ada@example.com'], ['message', 'héllo "world"\n<b>&</b>'], ['tag', 'a'], ['tag', 'b'],
  ]);
  assert.equal(r.status, 200, r.text);
  const subId = r.json.id;
  await rcv.waitForCount(1, 10_000, 'the delivery');
  await sleep(300); // nothing else must come
  assert.equal(rcv.requests.length, 1, 'one submission, one request');
  const q = rcv.requests[0];

  assert.equal(q.method, 'POST');
  assert.equal(q.path, '/hooks/inlet?src=test', 'the URL is used as given, query included');
  assert.match(String(q.headers['content-type']), /^application\/json(\s*;.*)?$/i);
  assert.equal(q.headers['inlet-event'], EVENT);
  const deliveryId = q.headers['inlet-delivery'];
  assert.ok(typeof deliveryId === 'string' && deliveryId.length >= 8, `Inlet-Delivery: ${deliveryId}`);
  assert.match(String(q.headers['inlet-signature']), /^t=\d+,v1=[0-9a-f]{64}$/, 'Inlet-Signature: t=…,v1=<hex>');

  // The receiver's check: HMAC-SHA256(secret, "<t>.<raw body>"), timingSafeEqual.
  assertSigned(q, wh.secret);
  const t = Number(/t=(\d+)/.exec(q.headers['inlet-signature'])[1]);
  assert.ok(Math.abs(t - Date.now() / 1000) < 60, `t=${t} is now`);
  // and what it must refuse: a changed body, a changed t, another secret
  const tampered = Buffer.from(q.text.replace('ada@example.com', 'eve@example.com'));
  assert.notDeepEqual(tampered, q.raw);
  assert.equal(verifySignature(wh.secret, q.headers['inlet-signature'], tampered).ok, false, 'a tampered body fails');
  assert.equal(verifySignature(wh.secret, q.headers['inlet-signature'], Buffer.concat([q.raw, Buffer.from(' ')])).ok, false, 'an extra byte fails');
  const v1 = /v1=([0-9a-f]+)/.exec(q.headers['inlet-signature'])[1];
  assert.equal(verifySignature(wh.secret, `t=${t + 1},v1=${v1}`, q.raw).ok, false, 'another timestamp fails');
  assert.equal(verifySignature(`whsec_${randomBytes(32).toString('base64url')}`, q.headers['inlet-signature'], q.raw).ok, false, 'another secret fails');

  // the body
  const sub = await getSubmission(apiA, subId);
  assertShape(q.json, exact({ event: EVENT, delivery: deliveryId, created_at: RFC3339, data: (v) => v && typeof v === 'object' }), 'body');
  assert.deepEqual(q.json.data, sub, 'data is the submission exactly as GET /api/v1/submissions/{id} shows it');
  assert.deepEqual(q.json.data.fields, { email: 'ada@example.com', message: 'héllo "world"\n<b>&</b>', tag: ['a', 'b'] });
  const created = Date.parse(q.json.created_at);
  assert.ok(created >= Math.floor(before / 1000) * 1000 - 2000 && created <= Date.now() + 2000, `created_at ${q.json.created_at} is the event's time`);

  // the delivery log: one attempt, ok
  const log = await until(async () => { const d = await deliveries(apiA, wh.id); return d.length ? d : null; }, 5000, 'the attempt in the log');
  assert.equal(log.length, 1, JSON.stringify(log));
  assertShape(log[0], attemptShape({ webhook_id: wh.id, delivery: deliveryId, attempt: 1, status: 200, ok: true, error: null }), 'attempt');
  assert.ok(String(log[0].response).includes('thanks-from-receiver'), `response holds the receiver's answer: ${JSON.stringify(log[0].response)}`);

  // the job
  const mine = await until(async () => {
    const js = await jobs(apiA, { kind: 'webhook.deliver', state: 'done' });
    return js.length ? js : null;
  }, 5000, 'a done webhook job');
  for (const j of mine) assertShape(j, jobShape, 'job');
  assert.ok(mine.some((j) => j.attempts === 1 && j.max_attempts === 60 && j.kind === 'webhook.deliver' && j.last_error === null),
    `a done webhook.deliver job with 1 attempt of 60: ${JSON.stringify(mine)}`);
  await rcv.close();
});

test('a submission with files: data is exactly what the API shows, file entries included', T, async () => {
  const rcv = await startReceiver();
  const ep = await createEndpoint(apiA, 'wh files');
  const wh = await addWebhook(apiA, ep.id, { url: `${rcv.url}/files` });
  const r = await postForm(server.url, ep.key, 'multipart', [
    { name: 'message', value: 'see attached' },
    { name: 'doc', filename: 'notes.txt', contentType: 'text/plain', data: Buffer.from('line one\nline two\n') },
    { name: 'pic', filename: 'dot.bin', contentType: 'application/octet-stream', data: randomBytes(3000) },
  ]);
  assert.equal(r.status, 200, r.text);
  await rcv.waitFor(() => about(rcv, r.json.id).length > 0, 10_000, 'the delivery');
  const q = about(rcv, r.json.id)[0];
  assertSigned(q, wh.secret);
  const sub = await getSubmission(apiA, r.json.id);
  assert.equal(sub.files.length, 2, JSON.stringify(sub.files));
  assert.deepEqual(q.json.data, sub, 'data is the submission exactly as the API shows it');
  assert.ok(!q.text.includes('line one'), 'file contents are not in the payload');
  await rcv.close();
});

test('slack and discord formats: the same headers and signature, a JSON body', T, async () => {
  const rcv = await startReceiver();
  const ep = await createEndpoint(apiA, 'wh formats');
  const slack = await addWebhook(apiA, ep.id, { url: `${rcv.url}/slack`, format: 'slack' });
  const discord = await addWebhook(apiA, ep.id, { url: `${rcv.url}/discord`, format: 'discord' });
  await post(ep.key, { email: 'grace@example.com', message: 'formatted' });
  await rcv.waitForCount(2, 10_000, 'both deliveries');
  for (const [hook, path] of [[slack, '/slack'], [discord, '/discord']]) {
    const q = rcv.requests.find((x) => x.path === path);
    assert.ok(q, `${path} delivered`);
    assert.match(String(q.headers['content-type']), /^application\/json/i, path);
    assert.equal(q.headers['inlet-event'], EVENT, path);
    assert.ok(nonEmptyString(q.headers['inlet-delivery']), path);
    assertSigned(q, hook.secret, path);
    assert.ok(q.json && typeof q.json === 'object', `${path}: a JSON body: ${q.text.slice(0, 200)}`);
    assert.ok(q.text.includes('formatted'), `${path}: the body shows the fields`);
  }
  await rcv.close();
});

test('a spam post (honeypot filled) causes no webhook; the next real post does', T, async () => {
  const rcv = await startReceiver();
  const ep = await createEndpoint(apiA, 'wh spam');
  await addWebhook(apiA, ep.id, { url: `${rcv.url}/spam` });
  const spam = await postForm(server.url, ep.key, 'urlencoded', [['message', 'buy now'], ['_gotcha', 'i am a bot']]);
  assert.equal(spam.status, 200, spam.text);
  const spamId = spam.json?.id;
  if (spamId) assert.equal((await getSubmission(apiA, spamId)).status, 'spam', 'the post was taken as spam');
  await sleep(QUIET_MS);
  const realId = await post(ep.key, { message: 'a real one' });
  await rcv.waitFor(() => about(rcv, realId).length > 0, 10_000, 'the real post');
  await sleep(500);
  assert.deepEqual(rcv.requests.map((q) => q.json?.data?.id), [realId], 'only the real post reached the receiver');
  assert.ok(!rcv.requests.some((q) => q.text.includes('buy now')), 'nothing of the spam was sent');
  await rcv.close();
});

test('retries: 500, 500, then 200 → three attempts, one Inlet-Delivery, job done', T, async () => {
  const rcv = await startReceiver({ respond: (q) => (q.n <= 2 ? { status: 500, body: `fail ${q.n}` } : { status: 200, body: 'finally' }) });
  const ep = await createEndpoint(apiA, 'wh retries');
  const wh = await addWebhook(apiA, ep.id, { url: `${rcv.url}/retry` });
  const subId = await post(ep.key, { message: 'retry me' });

  await rcv.waitForCount(3, 20_000, 'three attempts');
  const qs = rcv.requests;
  const ids = qs.map((q) => q.headers['inlet-delivery']);
  assert.equal(new Set(ids).size, 1, `the same Inlet-Delivery on every retry: ${ids}`);
  for (const q of qs) {
    assertSigned(q, wh.secret, `attempt ${q.n}`);
    assert.equal(q.json?.data?.id, subId);
    assert.equal(q.json?.delivery, ids[0], 'the body names the same delivery');
    assert.equal(q.headers['inlet-event'], EVENT);
  }

  // full jitter: the n-th retry comes within 2^(n-1) s (plus a worker's wake-up and the build's slowness)
  const gaps = [qs[1].at - qs[0].at, qs[2].at - qs[1].at];
  assert.ok(gaps[0] < 1000 + 1000 + 500 * SCALE && gaps[1] < 2000 + 1000 + 500 * SCALE, `retry gaps ${gaps} ms within 0–1 s and 0–2 s of backoff`);

  const log = await until(async () => { const d = await deliveries(apiA, wh.id); return d.length >= 3 ? d : null; }, 5000, 'three attempts in the log');
  assert.equal(log.length, 3, JSON.stringify(log));
  for (const a of log) assertShape(a, attemptShape({ webhook_id: wh.id, delivery: ids[0] }), 'attempt');
  assert.deepEqual(log.map((a) => a.status), [200, 500, 500], 'newest first: 200 after two 500s');
  assert.deepEqual(log.map((a) => a.attempt), [3, 2, 1]);
  assert.deepEqual(log.map((a) => a.ok), [true, false, false]);
  assert.equal(log[0].error, null);
  assert.ok(log[1].error && log[2].error, 'a failed attempt says why');
  assert.ok(String(log[2].response).includes('fail 1'), `the failed attempt keeps the receiver's answer: ${JSON.stringify(log[2].response)}`);
  assert.ok(Date.parse(log[0].created_at) >= Date.parse(log[1].created_at) && Date.parse(log[1].created_at) >= Date.parse(log[2].created_at));

  const job = await until(async () => (await jobs(apiA, { kind: 'webhook.deliver' })).find((j) => j.attempts === 3 && j.state === 'done'), 5000, 'the job done after 3 attempts');
  assertShape(job, jobShape);
  const w = await getWebhook(apiA, wh.id);
  assert.equal(w.enabled, true);
  assert.equal(w.failures, 0, 'a success ends the run of failures');
  await sleep(1000);
  assert.equal(rcv.requests.length, 3, 'no attempt after the success');
  await rcv.close();
});

test('a receiver that never answers: attempts time out and are retried', T, async () => {
  const rcv = await startReceiver({ respond: () => ({ hang: true }) });
  const ep = await createEndpoint(apiA, 'wh hang');
  const wh = await addWebhook(apiA, ep.id, { url: `${rcv.url}/hang` });
  const subId = await post(ep.key, { message: 'anyone there?' });

  const log = await until(async () => { const d = await deliveries(apiA, wh.id); return d.length >= 2 ? d : null; }, 15_000, 'two timed-out attempts in the log');
  for (const a of log) {
    assertShape(a, attemptShape({ webhook_id: wh.id, ok: false, status: null, error: nonEmptyString }), 'timed-out attempt');
    assert.match(a.error, /time/i, `the error says it timed out: ${a.error}`);
    assert.ok(a.latency_ms >= TIMEOUT_MS - 100, `latency ${a.latency_ms} ms ≥ the timeout (${TIMEOUT_MS} ms)`);
    assert.ok(a.latency_ms < TIMEOUT_MS + 5000 * SCALE, `latency ${a.latency_ms} ms: the timeout was applied`);
  }
  assert.deepEqual(log.slice(-2).map((a) => a.attempt), [2, 1]);
  assert.equal(new Set(log.map((a) => a.delivery)).size, 1, 'one delivery id');
  assert.ok(rcv.requests.length >= 2, 'the receiver saw every attempt');
  assert.ok(rcv.requests.every((q) => q.json?.data?.id === subId));
  assert.equal(new Set(rcv.requests.map((q) => q.headers['inlet-delivery'])).size, 1);

  const job = (await jobs(apiA, { kind: 'webhook.deliver' })).find((j) => j.attempts >= 2 && /time/i.test(String(j.last_error)));
  assert.ok(job, 'the job has ≥ 2 attempts and says it timed out');
  assert.ok(['queued', 'running'].includes(job.state), `the job is still being retried: ${job.state}`);
  assert.ok(Date.parse(job.run_at) > 0);

  const w = await getWebhook(apiA, wh.id);
  assert.ok(w.failures >= 2, `failures counted: ${w.failures}`);
  assert.equal(w.enabled, true, 'two failures do not switch it off');
  await patchWebhook(apiA, wh.id, { enabled: false }); // stop the retries
  await rcv.close();
});

test('redeliver: the same event again, same Inlet-Delivery, a new attempt in the log', T, async () => {
  const rcv = await startReceiver();
  const ep = await createEndpoint(apiA, 'wh redeliver');
  const wh = await addWebhook(apiA, ep.id, { url: `${rcv.url}/redeliver` });
  const subId = await post(ep.key, { message: 'once more' });
  await rcv.waitForCount(1, 10_000, 'the first delivery');
  const first = rcv.requests[0];
  const log = await until(async () => { const d = await deliveries(apiA, wh.id); return d.length ? d : null; }, 5000, 'the attempt');

  const r = await apiA.post(`/api/v1/deliveries/${log[0].id}/redeliver`, {});
  assert.equal(r.status, 202, r.text);
  assertShape(r.json, exact({ job_id: (v) => Number.isInteger(v) || (typeof v === 'string' && v.length > 0), delivery: first.headers['inlet-delivery'] }), 'redeliver answer');

  await rcv.waitForCount(2, 10_000, 'the redelivery');
  const again = rcv.requests[1];
  assertSigned(again, wh.secret, 'redelivery');
  assert.equal(again.headers['inlet-delivery'], first.headers['inlet-delivery'], 'the same Inlet-Delivery');
  assert.equal(again.headers['inlet-event'], EVENT);
  assert.equal(again.json.delivery, first.json.delivery);
  assert.equal(again.json.event, EVENT);
  assert.deepEqual(again.json.data, first.json.data, 'the same submission');
  assert.equal(again.json.data.id, subId);

  const log2 = await until(async () => { const d = await deliveries(apiA, wh.id); return d.length >= 2 ? d : null; }, 5000, 'the second attempt');
  assert.equal(log2.length, 2);
  assert.equal(log2[0].delivery, log2[1].delivery);
  assert.equal(log2[0].ok, true);
  assert.notEqual(log2[0].id, log2[1].id, 'a new attempt row');

  const job = await until(async () => (await jobs(apiA)).find((j) => String(j.id) === String(r.json.job_id) && j.state === 'done'), 5000, `job ${r.json.job_id} done`);
  assert.equal(job.kind, 'webhook.deliver');
  await sleep(500);
  assert.equal(rcv.requests.length, 2, 'one redelivery, one request');
  await rcv.close();
});

test('PATCH: a new url takes effect; disabled → no delivery; enabled again → failures 0', T, async () => {
  const one = await startReceiver();
  const two = await startReceiver();
  const failing = await startReceiver({ respond: () => ({ status: 503 }) });
  const ep = await createEndpoint(apiA, 'wh patch');
  const wh = await addWebhook(apiA, ep.id, { url: `${one.url}/one` });

  // the url
  const p1 = await patchWebhook(apiA, wh.id, { url: `${two.url}/two` });
  assertShape(p1, webhookShape({ id: wh.id, endpoint_id: ep.id, url: `${two.url}/two` }), 'after PATCH url');
  assert.deepEqual(await getWebhook(apiA, wh.id), p1, 'GET agrees with the PATCH answer');
  const s1 = await post(ep.key, { message: 'to two' });
  await two.waitFor(() => about(two, s1).length > 0, 10_000, 'the post at the new url');
  assert.equal(two.requests[0].path, '/two');
  assertSigned(two.requests[0], wh.secret, 'after a url change');

  // validation
  for (const body of [{ url: 'ftp://x.example/' }, { url: '' }, { format: 'xml' }, { events: ['nope'] }, { events: [] }, { enabled: 'yes' }]) {
    const b = await apiA.patch(`/api/v1/webhooks/${wh.id}`, body);
    assert.equal(b.status, 400, `PATCH ${JSON.stringify(body)} → ${b.status} ${b.text}`);
  }
  assert.deepEqual(await getWebhook(apiA, wh.id), p1, 'refused PATCHes changed nothing');

  // enabled false: no delivery, not even later
  const off = await patchWebhook(apiA, wh.id, { enabled: false });
  assert.equal(off.enabled, false);
  assert.equal(off.url, `${two.url}/two`, 'PATCH enabled keeps the url');
  const sOff = await post(ep.key, { message: 'while off' });
  await sleep(QUIET_MS);
  assert.equal(about(two, sOff).length, 0, 'no delivery while disabled');
  const on = await patchWebhook(apiA, wh.id, { enabled: true });
  assert.equal(on.enabled, true);
  const sOn = await post(ep.key, { message: 'back on' });
  await two.waitFor(() => about(two, sOn).length > 0, 10_000, 'a post after enabling again');
  await sleep(1000);
  assert.equal(about(two, sOff).length, 0, 'the post made while disabled is never delivered');
  assert.equal(one.requests.length, 0, 'the old url got nothing');
  assert.equal((await deliveries(apiA, wh.id)).filter((a) => a.ok).length, 2, 'two deliveries in the log');

  // failures, then enabling again clears them
  const p2 = await patchWebhook(apiA, wh.id, { url: `${failing.url}/fail` });
  assert.equal(p2.url, `${failing.url}/fail`);
  const sFail = await post(ep.key, { message: 'will fail' });
  await until(async () => (await getWebhook(apiA, wh.id)).failures >= 1, 15_000, 'a failure counted');
  const p3 = await patchWebhook(apiA, wh.id, { enabled: false });
  assert.equal(p3.enabled, false);
  assert.ok(p3.failures >= 1, `failures kept while off: ${p3.failures}`);
  // its retry (due within 0–2 s) must not be delivered now, not even to a receiver that would take it
  failing.respond = () => ({ status: 200 });
  await sleep(200);
  const tried = failing.requests.length;
  await sleep(3000 + 500 * SCALE);
  assert.equal(failing.requests.length, tried, 'a pending retry is not delivered once the webhook is disabled');
  assert.ok(about(failing, sFail).every((q) => q.n <= tried));
  const p4 = await patchWebhook(apiA, wh.id, { enabled: true, url: `${two.url}/two`, format: 'slack' });
  assertShape(p4, webhookShape({ id: wh.id, url: `${two.url}/two`, format: 'slack', enabled: true, failures: 0, disabled_reason: null }), 'enabled again');
  const p5 = await patchWebhook(apiA, wh.id, { format: 'json', events: [EVENT] });
  assertShape(p5, webhookShape({ id: wh.id, url: `${two.url}/two`, format: 'json', events: [EVENT] }), 'format back to json');
  for (const r of [one, two, failing]) await r.close();
});

test('DELETE: 204, then 404 everywhere, and posts cause no delivery', T, async () => {
  const rcv = await startReceiver();
  const ep = await createEndpoint(apiA, 'wh delete');
  const wh = await addWebhook(apiA, ep.id, { url: `${rcv.url}/del` });
  const keep = await addWebhook(apiA, ep.id, { url: `${rcv.url}/keep` });
  const s1 = await post(ep.key, { message: 'before delete' });
  await rcv.waitFor(() => about(rcv, s1).length === 2, 10_000, 'both webhooks delivering');
  {
    const byPath = Object.fromEntries(about(rcv, s1).map((q) => [q.path, q]));
    assert.deepEqual(Object.keys(byPath).sort(), ['/del', '/keep'], 'one request per webhook');
    assert.notEqual(byPath['/del'].headers['inlet-delivery'], byPath['/keep'].headers['inlet-delivery'], 'each webhook its own delivery id');
    assertSigned(byPath['/del'], wh.secret, '/del');
    assertSigned(byPath['/keep'], keep.secret, '/keep');
    assert.equal(verifySignature(keep.secret, byPath['/del'].headers['inlet-signature'], byPath['/del'].raw).ok, false, "one webhook's secret does not verify the other's");
  }
  const att = await until(async () => { const d = await deliveries(apiA, wh.id); return d.length ? d[0] : null; }, 5000, 'an attempt');

  const d = await apiA.del(`/api/v1/webhooks/${wh.id}`);
  assert.equal(d.status, 204, d.text);
  assert.equal(d.body.length, 0, '204 has no body');
  for (const [m, p] of [['GET', `/api/v1/webhooks/${wh.id}`], ['PATCH', `/api/v1/webhooks/${wh.id}`], ['DELETE', `/api/v1/webhooks/${wh.id}`],
    ['GET', `/api/v1/webhooks/${wh.id}/deliveries`]]) {
    const r = await apiA.call(m, p, m === 'PATCH' ? { enabled: true } : undefined);
    assert.equal(r.status, 404, `${m} ${p} after DELETE → ${r.status} ${r.text}`);
    assertShape(r.json, apiError('not_found'), `${m} ${p}`);
  }
  const list = await apiA.get(`/api/v1/endpoints/${ep.id}/webhooks`);
  assert.deepEqual(list.json.data.map((w) => w.id), [keep.id], 'the list keeps only the other webhook');

  const s2 = await post(ep.key, { message: 'after delete' });
  await rcv.waitFor(() => about(rcv, s2).length > 0, 10_000, 'the remaining webhook');
  await sleep(1000);
  assert.deepEqual(about(rcv, s2).map((q) => q.path), ['/keep'], 'only the remaining webhook delivers');
  // a redelivery of a deleted webhook's attempt must not reach its url
  const rd = await apiA.post(`/api/v1/deliveries/${att.id}/redeliver`, {});
  assert.ok(rd.status === 404 || rd.status === 202, `redeliver after DELETE → ${rd.status} ${rd.text}`);
  await sleep(1000);
  assert.equal(rcv.requests.filter((q) => q.path === '/del').length, 1, 'the deleted webhook got nothing more');
  await rcv.close();
});

test('auto-disable: after 50 failures in a row the webhook is switched off', { timeout: 120_000 * SCALE }, async (t) => {
  const rcv = await startReceiver({ respond: () => ({ status: 500, body: 'always broken' }) });
  const ep = await createEndpoint(apiA, 'wh autodisable', NO_RATE_LIMIT);
  const wh = await addWebhook(apiA, ep.id, { url: `${rcv.url}/broken` });
  const posts = await Promise.all(Array.from({ length: 55 }, (_, i) => post(ep.key, { n: i })));
  assert.equal(new Set(posts).size, 55);

  const off = await until(async () => { const w = await getWebhook(apiA, wh.id); return w.enabled === false ? w : null; }, 60_000, 'the webhook switched off');
  assertShape(off, webhookShape({ id: wh.id, enabled: false, disabled_reason: nonEmptyString, failures: isInt }), 'switched off');
  assert.ok(off.failures >= 50, `failures ${off.failures} ≥ 50`);
  t.diagnostic(`disabled_reason: ${off.disabled_reason}; failures ${off.failures}; requests so far ${rcv.requests.length}`);

  // what is in flight finishes; then nothing more
  await sleep(TIMEOUT_MS + 1000 * SCALE);
  const settledLog = await deliveries(apiA, wh.id, 20); // paged: 20 a page
  assert.equal(new Set(settledLog.map((a) => a.id)).size, settledLog.length, 'no attempt twice across pages');
  assert.deepEqual(settledLog.map((a) => a.id), (await deliveries(apiA, wh.id)).map((a) => a.id), 'pages of 20 give the one-page list');
  assert.ok(settledLog.length >= 50, `≥ 50 attempts in the log: ${settledLog.length}`);
  assert.ok(settledLog.every((a) => a.ok === false && a.status === 500), 'every attempt failed with 500');
  assert.equal(rcv.requests.length, settledLog.length, 'one log row per request the receiver saw');
  const seen = rcv.requests.length;
  const more = await Promise.all([1, 2, 3].map((i) => post(ep.key, { after: i })));
  await sleep(QUIET_MS + 1000);
  assert.equal(rcv.requests.length, seen, 'no request after it was switched off');
  assert.equal((await deliveries(apiA, wh.id)).length, settledLog.length, 'no new attempt after it was switched off');
  assert.ok(!rcv.requests.some((q) => more.includes(q.json?.data?.id)));
  assert.equal((await getWebhook(apiA, wh.id)).enabled, false, 'it stays off');

  // enabling again clears the failures and the reason, and it delivers
  rcv.respond = () => ({ status: 204, body: '' });
  const on = await patchWebhook(apiA, wh.id, { enabled: true });
  assertShape(on, webhookShape({ id: wh.id, enabled: true, disabled_reason: null, failures: 0 }), 'enabled again');
  const s = await post(ep.key, { message: 'back' });
  await rcv.waitFor(() => about(rcv, s).length > 0, 10_000, 'a delivery after enabling again');
  const log = await until(async () => { const d = await deliveries(apiA, wh.id); return d[0]?.ok ? d : null; }, 5000, 'the ok attempt');
  assert.equal(log[0].status, 204, 'any 2xx is success');
  await rcv.close();
});

test('the delivery log is newest first: created_at never increases down the list', T, async (t) => {
  // Many attempts recorded at once (two workers), while the API writes to the
  // same database: the order of the rows must still be the order of their times.
  const rcv = await startReceiver();
  const ep = await createEndpoint(apiA, 'wh order', NO_RATE_LIMIT);
  const wh = await addWebhook(apiA, ep.id, { url: `${rcv.url}/order` });
  const other = await addWebhook(apiA, ep.id, { url: `${rcv.url}/other`, events: [EVENT] });
  await patchWebhook(apiA, other.id, { enabled: false });
  const N = 120;
  let writing = true;
  const writer = (async () => {
    for (let i = 0; writing; i++) await apiA.patch(`/api/v1/webhooks/${other.id}`, { url: `${rcv.url}/other?${i}` });
  })();
  await Promise.all(Array.from({ length: N }, (_, i) => post(ep.key, { n: i })));
  const log = await until(async () => { const d = await deliveries(apiA, wh.id); return d.length >= N ? d : null; }, 30_000, `${N} attempts`);
  writing = false;
  await writer;
  const inversions = [];
  for (let i = 1; i < log.length; i++) {
    const newer = Date.parse(log[i - 1].created_at);
    const older = Date.parse(log[i].created_at);
    if (newer < older) inversions.push(`row ${i - 1} ${log[i - 1].id} at ${log[i - 1].created_at} is listed before row ${i} ${log[i].id} at ${log[i].created_at} (${older - newer} ms newer)`);
  }
  t.diagnostic(`${inversions.length} of ${log.length - 1} neighbours out of order`);
  assert.deepEqual(inversions.slice(0, 5), [], `GET /api/v1/webhooks/${wh.id}/deliveries is not newest first by created_at (${inversions.length} of ${log.length - 1} neighbours out of order)`);
  await rcv.close();
});

// ---------------------------------------------------------------------------
// SSRF

test('SSRF: loopback and private addresses are refused, directly and on a redirect', T, async (t) => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  const s2 = await startServer(data, { env: { INLET_WEBHOOK_ALLOW: '127.0.0.2/32', INLET_WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS) } });
  const api = apiClient(s2.url, acct.token);
  const inner = await startReceiver({ host: '127.0.0.1' }); // must never be reached
  const neighbour = await startReceiver({ host: '127.0.0.3' }); // outside 127.0.0.2/32: never reached either
  const allowed = await startReceiver({ host: '127.0.0.2' });
  const outer = await startReceiver({
    host: '127.0.0.2',
    respond: (q) => ({ status: 307, headers: { Location: q.path.startsWith('/to-inner') ? `${inner.url}/stolen` : `${allowed.url}/via-redirect` }, body: '' }),
  });
  const ep = await createEndpoint(api, 'ssrf');
  const hooks = {
    direct: `${allowed.url}/direct`, // allowed: the control
    redirectAllowed: `${outer.url}/to-allowed`, // 127.0.0.2 → 127.0.0.2: followed
    redirectInner: `${outer.url}/to-inner`, // 127.0.0.2 → 127.0.0.1: refused
    localhost: `http://localhost:${inner.port}/`,
    loopback: `http://127.0.0.1:${inner.port}/`,
    neighbour: `http://127.0.0.3:${neighbour.port}/`,
    zero: `http://0.0.0.0:${inner.port}/`,
    ipv6: `http://[::1]:${inner.port}/`,
    mapped: `http://[::ffff:127.0.0.1]:${inner.port}/`, // 127.0.0.1 in IPv6 clothing
    decimal: `http://2130706433:${inner.port}/`, // 127.0.0.1 spelled as one number
    short: `http://127.1:${inner.port}/`,
    linkLocal6: 'http://[fe80::1]/',
    metadata: 'http://169.254.169.254/latest/meta-data/',
    private10: 'http://10.0.0.1/',
    private192: 'http://192.168.0.1/',
  };
  const ids = {};
  for (const [name, url] of Object.entries(hooks)) ids[name] = (await addWebhook(api, ep.id, { url })).id;
  const r = await postForm(s2.url, ep.key, 'json', { message: 'ssrf probe' });
  assert.equal(r.status, 200, r.text);
  const subId = r.json.id;

  await allowed.waitFor(() => allowed.requests.filter((q) => q.json?.data?.id === subId).length >= 2, 10_000, 'the allowed deliveries');
  assert.deepEqual(allowed.requests.map((q) => q.path).sort(), ['/direct', '/via-redirect'], 'the control and the allowed redirect arrive');

  const refused = ['redirectInner', 'localhost', 'loopback', 'neighbour', 'zero', 'ipv6', 'mapped', 'decimal', 'short', 'linkLocal6', 'metadata', 'private10', 'private192'];
  const logs = {};
  for (const name of refused) {
    // two attempts each: refused, and refused again on the retry
    logs[name] = await until(async () => { const d = await deliveries(api, ids[name]); return d.length >= 2 ? d : null; }, 20_000, `two attempts of ${name}`);
  }
  for (const name of refused) {
    for (const a of logs[name]) {
      assert.equal(a.ok, false, `${name}: not ok`);
      assert.match(String(a.error), /refus|not allowed|disallow|forbidden|blocked|private|loopback/i,
        `${name} (${hooks[name]}): the attempt's error says it was refused, got ${JSON.stringify(a.error)} (status ${a.status})`);
      assert.doesNotMatch(String(a.error), /time(d)? ?out/i, `${name}: refused, not tried until a timeout: ${a.error}`);
    }
    t.diagnostic(`${name}: ${logs[name][0].error}`);
  }
  assert.equal(outer.requests.filter((q) => q.path === '/to-inner').length >= 1, true, 'the allowed first hop was asked');
  assert.equal(inner.requests.length, 0,
    `the 127.0.0.1 receiver must never get a request, got ${inner.requests.length}: ${inner.requests.map((q) => q.path).join(', ')}`);
  assert.equal(neighbour.requests.length, 0, '127.0.0.3 is not in 127.0.0.2/32: never reached');
  for (const name of ['direct', 'redirectAllowed']) {
    const d = await deliveries(api, ids[name]);
    assert.ok(d.length >= 1 && d[0].ok, `${name}: delivered ok: ${JSON.stringify(d[0])}`);
  }
  await s2.stop();
  for (const x of [inner, neighbour, allowed, outer]) await x.close();
});

// ---------------------------------------------------------------------------
// isolation

test('isolation: another account gets 404 for the webhook, its deliveries, redeliver, and sees none of the jobs', T, async () => {
  const rcv = await startReceiver();
  const epA = await createEndpoint(apiA, 'wh iso A');
  const whA = await addWebhook(apiA, epA.id, { url: `${rcv.url}/a` });
  const subA = await post(epA.key, { message: 'A only' });
  await rcv.waitFor(() => about(rcv, subA).length > 0, 10_000, "A's delivery");
  const attA = await until(async () => { const d = await deliveries(apiA, whA.id); return d.length ? d[0] : null; }, 5000, "A's attempt");

  const epB = await createEndpoint(apiB, 'wh iso B');
  const whB = await addWebhook(apiB, epB.id, { url: `${rcv.url}/b` });
  const subB = await post(epB.key, { message: 'B only' });
  await rcv.waitFor(() => about(rcv, subB).length > 0, 10_000, "B's delivery");

  const rows = [
    ['GET', `/api/v1/webhooks/${whA.id}`],
    ['PATCH', `/api/v1/webhooks/${whA.id}`, { url: `${rcv.url}/hijack`, enabled: false }],
    ['DELETE', `/api/v1/webhooks/${whA.id}`],
    ['GET', `/api/v1/webhooks/${whA.id}/deliveries`],
    ['POST', `/api/v1/deliveries/${attA.id}/redeliver`, {}],
    ['GET', `/api/v1/endpoints/${epA.id}/webhooks`],
    ['POST', `/api/v1/endpoints/${epA.id}/webhooks`, { url: `${rcv.url}/hijack` }],
  ];
  for (const [m, p, body] of rows) {
    const r = await apiB.call(m, p, body);
    assert.equal(r.status, 404, `B: ${m} ${p} → ${r.status} ${r.text}`);
    assertShape(r.json, apiError('not_found'), `B: ${m} ${p}`);
    assert.ok(!r.text.includes(rcv.url) && !r.text.includes(subA), `B: ${m} ${p} leaks nothing: ${r.text}`);
  }
  // A's webhook is untouched, and B's redeliver sent nothing
  assertShape(await getWebhook(apiA, whA.id), webhookShape({ id: whA.id, url: `${rcv.url}/a`, enabled: true }), "A's webhook after B's attempts");
  assert.equal((await apiA.get(`/api/v1/endpoints/${epA.id}/webhooks`)).json.data.length, 1, 'B created nothing on A');
  await sleep(1000);
  assert.equal(about(rcv, subA).length, 1, "B's redeliver did not deliver A's event");
  assert.ok(!rcv.requests.some((q) => q.path === '/hijack'));

  // jobs
  const jobsA = await jobs(apiA);
  const jobsB = await until(async () => { const j = await jobs(apiB); return j.some((x) => x.state === 'done') ? j : null; }, 5000, "B's job done");
  for (const j of jobsB) assertShape(j, jobShape, "B's job");
  const idsA = new Set(jobsA.map((j) => String(j.id)));
  assert.ok(idsA.size > 1, 'A has jobs');
  assert.equal(jobsB.length, 1, `B sees exactly its one job: ${JSON.stringify(jobsB)}`);
  assert.ok(!idsA.has(String(jobsB[0].id)), "A does not see B's job");
  for (const q of [{ state: 'done' }, { kind: 'webhook.deliver' }, { state: 'queued' }, { state: 'running' }, { state: 'dead' }]) {
    const js = await jobs(apiB, q);
    assert.ok(js.every((j) => !idsA.has(String(j.id))), `B with ${JSON.stringify(q)} sees none of A's jobs`);
  }
  // A's own B-sized view through pagination: no duplicates, newest first, filters hold
  const paged = await jobs(apiA, {}, 3);
  assert.deepEqual(paged.map((j) => String(j.id)), jobsA.map((j) => String(j.id)), 'paging by 3 gives the same list');
  const done = await jobs(apiA, { state: 'done' });
  assert.ok(done.length > 0 && done.every((j) => j.state === 'done'), 'state=done filters');
  const other = await jobs(apiA, { kind: 'mail.notify' });
  assert.ok(other.every((j) => j.kind === 'mail.notify'), 'kind filters');
  await rcv.close();
});

// ---------------------------------------------------------------------------
// crash

test('kill -9 while deliveries are under way: after a restart every acknowledged submission is delivered', { timeout: 300_000 * SCALE }, async (t) => {
  const N = 60;
  const KILL_AT = 10; // requests seen by the receiver
  const data = await makeDataDir();
  const env = { ...ENV, INLET_MASTER_KEY: await randomMasterKey() };
  const acct = await newAccount(data);
  let srv = await startServer(data, { env });
  const api = apiClient(srv.url, acct.token);
  const rcv = await startReceiver({ respond: () => ({ status: 200, delayMs: 100 }) });
  const ep = await createEndpoint(api, 'wh crash', NO_RATE_LIMIT);
  const wh = await addWebhook(api, ep.id, { url: `${rcv.url}/crash` });

  const acked = [];
  const burst = Promise.all(Array.from({ length: N }, async (_, i) => {
    try {
      const r = await postForm(srv.url, ep.key, 'json', { n: i, token: randomBytes(6).toString('hex') });
      if (r.status === 200 && r.json?.ok === true && typeof r.json.id === 'string') acked.push(r.json.id);
    } catch { /* the server died under it: not acknowledged */ }
  }));
  await rcv.waitForCount(KILL_AT, 20_000, `${KILL_AT} deliveries before the kill`);
  const exit = await srv.kill9();
  assert.equal(exit.signal, 'SIGKILL');
  const seenAtKill = rcv.requests.length;
  await burst;
  const ackedSet = new Set(acked);
  t.diagnostic(`${acked.length} of ${N} posts acknowledged; the receiver had seen ${seenAtKill} requests at the kill`);
  assert.ok(acked.length >= N / 2, `most posts acknowledged (${acked.length})`);
  const seenIds = () => new Set(rcv.requests.map((q) => q.json?.data?.id));
  assert.ok([...ackedSet].some((id) => !seenIds().has(id)), 'deliveries were still under way at the kill');

  const restarted = Date.now();
  srv = await startServer(data, { env });
  await rcv.waitFor(() => { const s = seenIds(); return acked.every((id) => s.has(id)); }, 150_000,
    'every acknowledged submission at the receiver');
  const tookMs = Date.now() - restarted;
  await sleep(1000);

  const byId = new Map();
  for (const q of rcv.requests) {
    assertSigned(q, wh.secret, `request ${q.n}`);
    const id = q.json?.data?.id;
    assert.ok(typeof id === 'string' && id.startsWith('sub_'), `request ${q.n} carries a submission: ${q.text.slice(0, 200)}`);
    if (!byId.has(id)) byId.set(id, []);
    byId.get(id).push(q);
  }
  let duplicates = 0;
  for (const [id, qs] of byId) {
    duplicates += qs.length - 1;
    const dlv = new Set(qs.map((q) => q.headers['inlet-delivery']));
    assert.equal(dlv.size, 1, `${id}: every copy carries the same Inlet-Delivery: ${[...dlv]}`);
    assert.equal(qs[0].json.delivery, qs[0].headers['inlet-delivery']);
  }
  const deliveryIds = new Set([...byId.values()].map((qs) => qs[0].headers['inlet-delivery']));
  assert.equal(deliveryIds.size, byId.size, 'each submission has its own delivery id');
  const unacked = [...byId.keys()].filter((id) => !ackedSet.has(id));
  const states = {};
  for (const j of await jobs(apiClient(srv.url, acct.token), { kind: 'webhook.deliver' })) states[j.state] = (states[j.state] || 0) + 1;
  t.diagnostic(`after the restart: all ${acked.length} acknowledged submissions seen in ${tookMs} ms; ` +
    `${rcv.requests.length} requests, ${duplicates} duplicates, ${unacked.length} of unacknowledged posts; jobs by state ${JSON.stringify(states)}`);
  await srv.stop();
  await rcv.close();
});

test('the server stops cleanly (exit 0, no sanitizer report)', T, async () => {
  await closeReceivers();
  await server.stop();
});
