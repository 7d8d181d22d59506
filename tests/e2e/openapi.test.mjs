// The router and the OpenAPI document agree: every route `inlet routes`
// prints is documented, every documented operation is routed, and the
// routes the contract names are all there.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeDataDir, startServer, cleanup, newAccount, runInlet } from '../lib/inlet.mjs';
import { request } from '../lib/http.mjs';

const T = { timeout: 60_000 };
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

// The routes the contract names (parameter names aside).
const REQUIRED = [
  'GET /api/v1/account',
  'GET /api/v1/endpoints', 'POST /api/v1/endpoints',
  'GET /api/v1/endpoints/{id}', 'PATCH /api/v1/endpoints/{id}', 'DELETE /api/v1/endpoints/{id}',
  'GET /api/v1/endpoints/{id}/submissions',
  'GET /api/v1/keys', 'POST /api/v1/keys', 'DELETE /api/v1/keys/{id}',
  'GET /api/v1/submissions/{id}', 'PATCH /api/v1/submissions/{id}', 'DELETE /api/v1/submissions/{id}',
  'GET /api/v1/submissions/{id}/files/{n}',
  'GET /api/v1/openapi.json',
  'POST /f/{key}', 'OPTIONS /f/{key}', 'GET /f/{key}/thanks',
  'GET /healthz', 'GET /metrics',
  // error tracking
  'POST /v1/{key}/event', 'GET /v1/{key}/ping', 'POST /v1/{key}/ping', 'POST /v1/{key}/report',
  'POST /api/{project}/envelope/', 'POST /api/{project}/store/',
  'GET /api/v1/endpoints/{id}/issues', 'GET /api/v1/issues/{id}', 'PATCH /api/v1/issues/{id}',
  'GET /api/v1/issues/{id}/events', 'GET /api/v1/events/{id}',
  'GET /api/v1/issues/{id}/graph', 'GET /api/v1/endpoints/{id}/sessions', 'GET /api/v1/endpoints/{id}/stats',
];

/** "GET /a/{x}/b" → "GET /a/{}/b": compares routes whatever the parameters are called. */
const shape = (route) => route.replace(/\{[^}]*\}/g, '{}');

let server;
let routes;
let doc;

before(async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  server = await startServer(data);
  const r = await runInlet(['routes']);
  assert.equal(r.code, 0, r.stderr);
  routes = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  const res = await request(`${server.url}/api/v1/openapi.json`, { headers: { Accept: 'application/json', Authorization: `Bearer ${acct.token}` } });
  assert.equal(res.status, 200, res.text.slice(0, 500));
  assert.match(String(res.headers['content-type']), /^application\/(json|vnd\.oai\.openapi\+json)/);
  doc = res.json;
});
after(cleanup);

test('inlet routes: one "METHOD /path" per line, no duplicates', T, () => {
  assert.ok(routes.length >= REQUIRED.length, `${routes.length} routes`);
  for (const line of routes) assert.match(line, /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) \/[A-Za-z0-9_.{}\/-]*$/, `route line: ${JSON.stringify(line)}`);
  assert.equal(new Set(routes).size, routes.length, 'no duplicate lines');
});

test('inlet routes lists every route of the contract', T, () => {
  const have = new Set(routes.map(shape));
  const missing = REQUIRED.filter((r) => !have.has(shape(r)));
  assert.deepEqual(missing, [], `missing from inlet routes:\n${routes.join('\n')}`);
});

test('the document is OpenAPI 3.1', T, () => {
  assert.ok(doc && typeof doc === 'object', 'JSON');
  assert.match(String(doc.openapi), /^3\.1\.\d+$/);
  assert.equal(typeof doc.info?.title, 'string');
  assert.equal(typeof doc.info?.version, 'string');
  assert.ok(doc.paths && typeof doc.paths === 'object');
  for (const [p, item] of Object.entries(doc.paths)) {
    assert.ok(p.startsWith('/'), `path ${p}`);
    for (const m of Object.keys(item).filter((k) => HTTP_METHODS.includes(k))) {
      const op = item[m];
      assert.ok(op && typeof op === 'object', `${m} ${p} is an operation`);
      if (op.responses !== undefined) assert.ok(Object.keys(op.responses).length > 0, `${m} ${p} documents a response`);
    }
    for (const param of (p.match(/\{[^}]+\}/g) || []).map((x) => x.slice(1, -1))) {
      const declared = [...(item.parameters || []), ...Object.keys(item).filter((k) => HTTP_METHODS.includes(k)).flatMap((k) => item[k].parameters || [])]
        .map((x) => (x.$ref ? resolveRef(x.$ref) : x));
      assert.ok(declared.some((x) => x && x.in === 'path' && x.name === param), `${p}: path parameter ${param} is declared`);
    }
  }
});

function resolveRef(ref) {
  if (!ref.startsWith('#/')) return null;
  return ref.slice(2).split('/').reduce((o, k) => (o ? o[k.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), doc);
}

test('every routed path+method is in the document', T, () => {
  const missing = [];
  for (const line of routes) {
    const [method, p] = line.split(' ');
    if (!doc.paths[p] || !doc.paths[p][method.toLowerCase()]) missing.push(line);
  }
  assert.deepEqual(missing, [], 'routes missing from openapi.json');
});

test('every documented path+method is routed', T, () => {
  const have = new Set(routes);
  const extra = [];
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const m of Object.keys(item).filter((k) => HTTP_METHODS.includes(k))) {
      if (!have.has(`${m.toUpperCase()} ${p}`)) extra.push(`${m.toUpperCase()} ${p}`);
    }
  }
  assert.deepEqual(extra, [], 'documented but not routed');
});

test('every routed method reaches a handler (no 405, no 5xx)', T, async () => {
  // Concrete stand-ins for parameters, no credentials: answers are 401, 404
  // and the like, but never "method not allowed" for a method the router lists.
  for (const line of routes) {
    const [method, p] = line.split(' ');
    if (method === 'DELETE') continue; // nothing to delete here, and no side effects wanted
    if (line === 'GET /f/{key}') continue; // routed so that it can answer 405 (the contract's answer)
    const url = server.url + p.replace(/\{[^}]*\}/g, 'x0');
    const r = await request(url, { method, headers: { Accept: 'application/json' } });
    assert.notEqual(r.status, 405, `${line}: the router knows this method`);
    assert.ok(r.status < 500, `${line}: ${r.status}`);
  }
});

test('stops cleanly on SIGTERM', T, async () => {
  await server.stop();
});
