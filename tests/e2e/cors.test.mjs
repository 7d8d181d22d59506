// CORS on the public form route: preflights and the headers on posts, for an
// endpoint open to any origin and one restricted by allowed_origins.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeDataDir, startServer, cleanup, newAccount } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, postForm, request, headerList } from '../lib/http.mjs';
import { assertShape, formError } from '../lib/match.mjs';

let server;
let api;
let open;
let restricted;
const T = { timeout: 60_000 };
const GOOD = 'https://good.example';
const EVIL = 'https://evil.example';
const FORMSPREE_HEADERS = ['content-type', 'accept', 'formspree-client', 'formspree-session-data'];

before(async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  server = await startServer(data);
  api = apiClient(server.url, acct.token);
  open = await createEndpoint(api, 'cors-open');
  restricted = await createEndpoint(api, 'cors-restricted', { allowed_origins: [GOOD, 'http://localhost:3000'] });
});
after(cleanup);

function preflight(key, origin, requestHeaders = 'content-type,accept,formspree-client,formspree-session-data') {
  const headers = { 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': requestHeaders };
  if (origin) headers.Origin = origin;
  return request(`${server.url}/f/${key}`, { method: 'OPTIONS', headers });
}

function assertPreflightAllows(r, origin) {
  assert.equal(r.status, 204, `preflight status; body ${r.text}`);
  assert.equal(r.headers['access-control-allow-origin'], origin);
  assert.ok(headerList(r.headers['access-control-allow-methods']).includes('post'), `Allow-Methods: ${r.headers['access-control-allow-methods']}`);
  const allowed = headerList(r.headers['access-control-allow-headers']);
  for (const h of FORMSPREE_HEADERS) assert.ok(allowed.includes(h), `Allow-Headers has ${h}: ${r.headers['access-control-allow-headers']}`);
  assert.equal(r.body.length, 0, '204 has no body');
}

test('preflight on an open endpoint answers for any origin', T, async () => {
  for (const origin of [GOOD, EVIL, 'http://127.0.0.1:5173']) {
    assertPreflightAllows(await preflight(open.key, origin), origin);
  }
});

test('preflight asking with mixed-case header names still lists them', T, async () => {
  const r = await preflight(open.key, GOOD, 'Content-Type, Accept, Formspree-Client');
  assertPreflightAllows(r, GOOD);
});

test('preflight on a restricted endpoint: allowed origins only', T, async () => {
  assertPreflightAllows(await preflight(restricted.key, GOOD), GOOD);
  assertPreflightAllows(await preflight(restricted.key, 'http://localhost:3000'), 'http://localhost:3000');
  const bad = await preflight(restricted.key, EVIL);
  assert.equal(bad.headers['access-control-allow-origin'], undefined, `no Allow-Origin for ${EVIL} (status ${bad.status})`);
  const sneaky = await preflight(restricted.key, `${GOOD}.evil.example`);
  assert.equal(sneaky.headers['access-control-allow-origin'], undefined, 'a suffix of an allowed origin is not allowed');
  const port = await preflight(restricted.key, 'http://localhost:3001');
  assert.equal(port.headers['access-control-allow-origin'], undefined, 'another port is another origin');
});

test('posts from an allowed origin carry Access-Control-Allow-Origin', T, async () => {
  const r = await postForm(server.url, restricted.key, 'json', { a: '1' }, { headers: { Origin: GOOD } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['access-control-allow-origin'], GOOD);

  const o = await postForm(server.url, open.key, 'json', { a: '1' }, { headers: { Origin: EVIL } });
  assert.equal(o.status, 200, r.text);
  assert.ok([EVIL, '*'].includes(o.headers['access-control-allow-origin']), `open endpoint: Allow-Origin ${o.headers['access-control-allow-origin']}`);
});

test('errors for an allowed origin are readable by its scripts too', T, async () => {
  const r = await postForm(server.url, restricted.key, 'json', {}, { headers: { Origin: GOOD } });
  assert.equal(r.status, 422);
  assertShape(r.json, formError('EMPTY'));
  assert.equal(r.headers['access-control-allow-origin'], GOOD);
});

test('restricted endpoint refuses posts from other origins (Origin or Referer)', T, async () => {
  const byOrigin = await postForm(server.url, restricted.key, 'json', { a: '1' }, { headers: { Origin: EVIL } });
  assert.equal(byOrigin.status, 403);
  assertShape(byOrigin.json, formError('ORIGIN_NOT_ALLOWED'));
  assert.notEqual(byOrigin.headers['access-control-allow-origin'], EVIL);
  assert.notEqual(byOrigin.headers['access-control-allow-origin'], '*');

  const byReferer = await postForm(server.url, restricted.key, 'urlencoded', [['a', '1']], { headers: { Referer: `${EVIL}/contact` } });
  assert.equal(byReferer.status, 403);
  assertShape(byReferer.json, formError('ORIGIN_NOT_ALLOWED'));

  // Origin wins over a Referer that would be allowed.
  const mixed = await postForm(server.url, restricted.key, 'urlencoded', [['a', '1']], { headers: { Origin: EVIL, Referer: `${GOOD}/x` } });
  assert.equal(mixed.status, 403);

  const list = await api.get(`/api/v1/endpoints/${restricted.id}/submissions`);
  assert.equal(list.json.data.length, 1, 'only the allowed post was stored');
});

test('allowed_origins changed by PATCH applies at once', T, async () => {
  const p = await api.patch(`/api/v1/endpoints/${open.id}`, { settings: { allowed_origins: [GOOD] } });
  assert.equal(p.status, 200, p.text);
  const bad = await postForm(server.url, open.key, 'json', { a: '1' }, { headers: { Origin: EVIL } });
  assert.equal(bad.status, 403);
  assert.equal((await preflight(open.key, EVIL)).headers['access-control-allow-origin'], undefined);
  assertPreflightAllows(await preflight(open.key, GOOD), GOOD);
});

test('stops cleanly on SIGTERM', T, async () => {
  await server.stop();
});
