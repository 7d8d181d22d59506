// Account isolation: with A's key, nothing of B's can be read, changed or
// deleted; every such request answers 404 (never 403), and B's data is
// untouched afterwards.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeDataDir, startServer, cleanup, newAccount } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, postForm } from '../lib/http.mjs';
import { apiError, lacks } from '../lib/match.mjs';
import { runTable } from '../lib/table.mjs';

const T = { timeout: 60_000 };
const ctx = { baseUrl: '', vars: {} };
let server;
let apiA;
let apiB;
const FILE = Buffer.from('B-only secret file bytes\n');

before(async () => {
  const data = await makeDataDir();
  const a = await newAccount(data, { email: 'alice@a.example', account: 'A' });
  const b = await newAccount(data, { email: 'bob@b.example', account: 'B' });
  server = await startServer(data);
  ctx.baseUrl = server.url;
  apiA = apiClient(server.url, a.token);
  apiB = apiClient(server.url, b.token);
  ctx.vars.token = a.token; // rows run as A
  ctx.vars.tokenB = b.token;

  const epA = await createEndpoint(apiA, 'A form');
  const epB = await createEndpoint(apiB, 'B form');
  ctx.vars.epA = epA.id;
  ctx.vars.epB = epB.id;
  ctx.vars.epBKey = epB.key;

  const post = await postForm(server.url, epB.key, 'multipart', [
    { name: 'message', value: 'for B only' },
    { name: 'doc', filename: 'b.txt', contentType: 'text/plain', data: FILE },
  ]);
  assert.equal(post.status, 200, post.text);
  ctx.vars.subB = post.json.id;
  const postA = await postForm(server.url, epA.key, 'json', { message: 'for A' });
  assert.equal(postA.status, 200, postA.text);
  ctx.vars.subA = postA.json.id;

  const keyB = await apiB.post('/api/v1/keys', { name: 'b-second' });
  assert.equal(keyB.status, 201, keyB.text);
  ctx.vars.keyB = keyB.json.id;
});
after(cleanup);

const NOT_FOUND = { status: 404, body: apiError('not_found') };

const A_AGAINST_B = [
  { title: 'A lists endpoints: B’s is not there', method: 'GET', path: '/api/v1/endpoints', status: 200,
    body: (c) => ({ data: lacks({ id: c.vars.epB }) }) },
  { title: 'GET B’s endpoint', method: 'GET', path: '/api/v1/endpoints/{epB}', ...NOT_FOUND },
  { title: 'PATCH B’s endpoint', method: 'PATCH', path: '/api/v1/endpoints/{epB}', json: { name: 'pwned', settings: { active: false } }, ...NOT_FOUND },
  { title: 'DELETE B’s endpoint', method: 'DELETE', path: '/api/v1/endpoints/{epB}', ...NOT_FOUND },
  { title: 'list B’s submissions', method: 'GET', path: '/api/v1/endpoints/{epB}/submissions', ...NOT_FOUND },
  { title: 'list B’s submissions, filtered', method: 'GET', path: '/api/v1/endpoints/{epB}/submissions?status=inbox&limit=5', ...NOT_FOUND },
  { title: 'GET B’s submission', method: 'GET', path: '/api/v1/submissions/{subB}', ...NOT_FOUND },
  { title: 'PATCH B’s submission', method: 'PATCH', path: '/api/v1/submissions/{subB}', json: { status: 'trash' }, ...NOT_FOUND },
  { title: 'DELETE B’s submission', method: 'DELETE', path: '/api/v1/submissions/{subB}', ...NOT_FOUND },
  { title: 'GET B’s file', method: 'GET', path: '/api/v1/submissions/{subB}/files/0', ...NOT_FOUND,
    check: (res) => assert.ok(!res.body.includes(FILE), 'no byte of the file') },
  { title: 'DELETE B’s API key', method: 'DELETE', path: '/api/v1/keys/{keyB}', ...NOT_FOUND },
  { title: 'A lists keys: B’s are not there', method: 'GET', path: '/api/v1/keys', status: 200, body: (c) => ({ data: lacks({ id: c.vars.keyB }) }) },
  { title: 'A’s own submission still reads', method: 'GET', path: '/api/v1/submissions/{subA}', status: 200, body: { fields: { message: 'for A' } } },
  { title: 'A’s own submissions list has none of B’s', method: 'GET', path: '/api/v1/endpoints/{epA}/submissions', status: 200,
    body: (c) => ({ data: lacks({ id: c.vars.subB }) }) },
];

const B_STILL_HAS_EVERYTHING = [
  { title: 'B’s endpoint unchanged', method: 'GET', path: '/api/v1/endpoints/{epB}', auth: 'Bearer {tokenB}', status: 200,
    body: { name: 'B form', settings: { active: true } } },
  { title: 'B’s submission unchanged', method: 'GET', path: '/api/v1/submissions/{subB}', auth: 'Bearer {tokenB}', status: 200,
    body: { status: 'inbox', fields: { message: 'for B only' } } },
  { title: 'B’s file intact', method: 'GET', path: '/api/v1/submissions/{subB}/files/0', auth: 'Bearer {tokenB}', status: 200,
    check: (res) => assert.ok(res.body.equals(FILE)) },
  { title: 'B’s second key listed', method: 'GET', path: '/api/v1/keys', auth: 'Bearer {tokenB}', status: 200,
    check: (res, c) => assert.ok(res.json.data.some((k) => k.id === c.vars.keyB)) },
  { title: 'B cannot read A’s submission either', method: 'GET', path: '/api/v1/submissions/{subA}', auth: 'Bearer {tokenB}', ...NOT_FOUND },
  { title: 'B cannot read A’s endpoint', method: 'GET', path: '/api/v1/endpoints/{epA}', auth: 'Bearer {tokenB}', ...NOT_FOUND },
];

test('A cannot read, change or delete anything of B’s: 404', T, (t) => runTable(t, A_AGAINST_B, ctx));
test('B’s data is untouched', T, (t) => runTable(t, B_STILL_HAS_EVERYTHING, ctx));

test('B’s form still takes posts (A could not deactivate it)', T, async () => {
  const r = await postForm(server.url, ctx.vars.epBKey, 'urlencoded', [['again', '1']]);
  assert.equal(r.status, 200, r.text);
});

test('each account sees only itself', T, async () => {
  const a = await apiA.get('/api/v1/account');
  const b = await apiB.get('/api/v1/account');
  assert.equal(a.json.name, 'A');
  assert.equal(b.json.name, 'B');
  assert.notEqual(a.json.id, b.json.id);
});

test('stops cleanly on SIGTERM', T, async () => {
  await server.stop();
});
