// Webhooks of events endpoints (issue 5): a new issue (issue.created) and
// a resolved issue that comes back (issue.reopened) are delivered, signed,
// with the issue in the body; the event that caused each is committed
// with its outbox row, so none is missed. Other events cause nothing.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeDataDir, startServer, cleanup, newAccount } from '../lib/inlet.mjs';
import { apiClient, request } from '../lib/http.mjs';
import { startReceiver, closeReceivers, verifySignature } from '../lib/receiver.mjs';

const T = { timeout: 60_000 };
let server;
let api;
let rcv;

before(async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  server = await startServer(data, { env: { INLET_WEBHOOK_ALLOW: '127.0.0.1' } });
  api = apiClient(server.url, acct.token);
  rcv = await startReceiver();
});
after(async () => {
  await closeReceivers();
  await cleanup();
});

const event = (key, message) => request(`${server.url}/v1/${key}/event`, {
  method: 'POST', headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ name: 'TypeError', message, type: 1 }),
});

test('issue.created and issue.reopened reach the webhook, signed, with the issue', T, async () => {
  const ep = (await api.post('/api/v1/endpoints', { name: 'web', kind: 'events' })).json;
  const bad = await api.post(`/api/v1/endpoints/${ep.id}/webhooks`, { url: `${rcv.url}/x`, events: ['submission.created'] });
  assert.equal(bad.status, 400, 'a form event on an events endpoint');
  const wh = await api.post(`/api/v1/endpoints/${ep.id}/webhooks`, { url: `${rcv.url}/issues` });
  assert.equal(wh.status, 201, wh.text);
  assert.deepEqual(wh.json.events, ['issue.created', 'issue.reopened']);
  const secret = wh.json.secret;
  const seen = () => rcv.requests.filter((q) => q.path === '/issues');

  assert.equal((await event(ep.key, 'first problem')).status, 200);
  await rcv.waitFor(() => seen().length >= 1, 10_000, 'issue.created');
  const created = seen()[0];
  assert.equal(created.headers['inlet-event'], 'issue.created');
  assert.ok(verifySignature(secret, created.headers['inlet-signature'], created.raw), 'the signature verifies');
  assert.equal(created.json.event, 'issue.created');
  assert.equal(created.json.data.title, 'TypeError: first problem');
  assert.equal(created.json.data.count, 1);
  assert.match(created.json.data.id, /^iss_/);

  // More events of the same issue: nothing new.
  assert.equal((await event(ep.key, 'first problem')).status, 200);
  await sleep(800);
  assert.equal(seen().length, 1);

  // Resolved, then back: issue.reopened, each time with its own delivery id.
  for (let round = 1; round <= 2; round++) {
    assert.equal((await api.patch(`/api/v1/issues/${created.json.data.id}`, { state: 'resolved' })).status, 200);
    assert.equal((await event(ep.key, 'first problem')).status, 200);
    await rcv.waitFor(() => seen().length >= 1 + round, 10_000, `reopened #${round}`);
    const reopened = seen()[round];
    assert.equal(reopened.headers['inlet-event'], 'issue.reopened');
    assert.equal(reopened.json.data.id, created.json.data.id);
    assert.equal(reopened.json.data.state, 'open');
    assert.ok(verifySignature(secret, reopened.headers['inlet-signature'], reopened.raw));
  }
  const ids = new Set(seen().map((q) => q.headers['inlet-delivery']));
  assert.equal(ids.size, 3, 'one delivery id per occurrence');

  // Ignored: its events are dropped, and nothing is delivered.
  assert.equal((await api.patch(`/api/v1/issues/${created.json.data.id}`, { state: 'ignored' })).status, 200);
  assert.equal((await event(ep.key, 'first problem')).status, 200);
  // A webhook that takes only issue.created hears nothing of reopenings.
  const only = await api.post(`/api/v1/endpoints/${ep.id}/webhooks`, { url: `${rcv.url}/created`, events: ['issue.created'] });
  assert.equal(only.status, 201);
  assert.equal((await event(ep.key, 'second problem')).status, 200);
  await rcv.waitFor((r) => r.some((q) => q.path === '/created'), 10_000, 'the second issue');
  await sleep(500);
  assert.deepEqual(seen().map((q) => q.headers['inlet-event']),
    ['issue.created', 'issue.reopened', 'issue.reopened', 'issue.created']);
  assert.equal(rcv.requests.filter((q) => q.path === '/created').length, 1);
});
