// Table-driven HTTP tests: each row is a request and what must come back.
//
//   {
//     title:   'what this row shows' (defaults to "METHOD path → status"),
//     method:  'GET', path: '/api/v1/endpoints/{ep}'   ({name} = ctx.vars.name),
//     auth:    omitted → "Bearer {token}"; 'none' → no Authorization header;
//              any other string → that header value (placeholders allowed),
//     headers: {...} extra request headers (placeholders allowed in values),
//     json:    a body sent as JSON (or a function ctx → body),
//     raw:     a Buffer/string body sent as is (give Content-Type in headers),
//     socket:  true → sent over a raw socket (for oversized bodies the server
//              may refuse before reading them),
//     status:  expected status,
//     headersOut: {name: expected} matched like body values (lower-case names),
//     body:    expected JSON shape (see match.mjs) or a function ctx → shape,
//     save:    (res, ctx) => { ctx.vars.x = res.json.id } for later rows,
//     check:   (res, ctx) => extra assertions,
//   }
//
// Rows run in order as subtests, so later rows may use what earlier ones saved.

import { request, rawRequest } from './http.mjs';
import { assertShape, mismatch } from './match.mjs';
import assert from 'node:assert/strict';

/** Replaces {name} with ctx.vars.name; unknown names are an error. */
export function fill(template, vars) {
  return template.replace(/\{([A-Za-z0-9_]+)\}/g, (m, name) => {
    if (!(name in vars)) throw new Error(`table: no value for {${name}} in ${template}`);
    return String(vars[name]);
  });
}

export async function runRow(row, ctx) {
  const path = typeof row.path === 'function' ? row.path(ctx) : fill(row.path, ctx.vars);
  const headers = { Accept: 'application/json' };
  if (row.auth === undefined) headers.Authorization = `Bearer ${ctx.vars.token}`;
  else if (row.auth !== 'none') headers.Authorization = fill(row.auth, ctx.vars);
  for (const [k, v] of Object.entries(row.headers || {})) headers[k] = fill(String(v), ctx.vars);
  let body;
  if (row.json !== undefined) body = typeof row.json === 'function' ? row.json(ctx) : row.json;
  else if (row.raw !== undefined) body = row.raw;
  const url = `${ctx.baseUrl}${path}`;
  const res = row.socket
    ? await rawRequest(url, { method: row.method, headers, body: toBuffer(body) })
    : await request(url, { method: row.method, headers, body });
  const where = `${row.method} ${path}`;
  assert.equal(res.status, row.status, `${where}: status ${res.status}, want ${row.status}; body: ${res.text.slice(0, 1000)}`);
  for (const [name, want] of Object.entries(row.headersOut || {})) {
    const m = mismatch(res.headers[name.toLowerCase()], want, `header ${name}`);
    if (m) assert.fail(`${where}: ${m}`);
  }
  if (row.body !== undefined) {
    const want = typeof row.body === 'function' ? row.body(ctx) : row.body;
    assert.ok(res.json !== undefined, `${where}: body is not JSON: ${res.text.slice(0, 500)}`);
    assertShape(res.json, want, where);
  }
  if (row.check) await row.check(res, ctx);
  if (row.save) await row.save(res, ctx);
  return res;
}

/** Runs rows in order as subtests of `t`. */
export async function runTable(t, rows, ctx) {
  for (const row of rows) {
    const title = row.title || `${row.method} ${typeof row.path === 'string' ? row.path : '(computed)'} → ${row.status}`;
    await t.test(title, () => runRow(row, ctx));
  }
}

function toBuffer(body) {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(body) || typeof body === 'string') return Buffer.from(body);
  return Buffer.from(JSON.stringify(body));
}
