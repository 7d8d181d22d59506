// Helpers for the error-tracking tests: events endpoints, reading issues,
// events and sessions back through the Management API, a bounded wait for
// clients that send in the background, and what the browser tests need to
// give a page the real SDKs (a static site, an import map for
// @sentry/browser's ES modules, a TLS front for Chromium's Reporting API).
//
// What the clients send is written down in tests/fixtures/events/README.md.

import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { REPO_ROOT, SCALE, makeTempDir } from './inlet.mjs';
import { createEndpoint } from './http.mjs';
import { assertShape, prefixed, isInt, isNumber, isString, nullOrString, oneOf } from './match.mjs';

export const HEX32 = /^[0-9a-f]{32}$/;

// ---------------------------------------------------------------------------
// Endpoints and the API

/**
 * POST /api/v1/endpoints {"name", "kind":"events"}; asserts the 201 answer
 * carries key, project_id, dsn and ingest_url as the contract builds them
 * from the server's public URL `base`. Resolves the endpoint JSON.
 */
export async function createEventsEndpoint(api, name, base) {
  const ep = await createEndpoint(api, name, undefined, 'events');
  assert.equal(ep.kind, 'events', `kind: ${JSON.stringify(ep)}`);
  assert.match(ep.key, HEX32, 'an events endpoint key is 32 lower-case hex digits (Sentry wants \\w+)');
  assert.match(String(ep.project_id), /^[0-9]+$/, 'project_id is a string of digits (Sentry wants a number)');
  assert.equal(typeof ep.project_id, 'string', 'project_id is a string');
  const u = new URL(base);
  assert.equal(ep.dsn, `${u.protocol}//${ep.key}@${u.host}/${ep.project_id}`, 'dsn');
  assert.equal(ep.ingest_url, `${u.protocol}//${u.host}/v1/${ep.key}`, 'ingest_url');
  return ep;
}

async function getJson(api, p, what = p) {
  const r = await api.get(p);
  assert.equal(r.status, 200, `GET ${what} → ${r.status} ${r.text}`);
  assert.ok(r.json && typeof r.json === 'object', `GET ${what}: JSON body: ${r.text}`);
  return r.json;
}

/** An issue as the list and GET /issues/{id} return it. */
export const issueShape = (extra = {}) => ({
  id: prefixed('iss_'),
  title: isString,
  culprit: isString,
  count: isInt,
  sessions: isInt,
  state: oneOf('open', 'resolved', 'ignored'),
  first_seen: isNumber,
  last_seen: isNumber,
  level: isString,
  release: nullOrString,
  environment: nullOrString,
  uri: nullOrString,
  ...extra,
});

/** Every issue of an endpoint (follows next_cursor). `query`: extra parameters. */
export async function listIssues(api, endpointId, query = {}) {
  const out = [];
  let cursor = null;
  for (let guard = 0; guard < 100; guard++) {
    const q = new URLSearchParams({ limit: '100', ...query });
    if (cursor) q.set('cursor', cursor);
    const j = await getJson(api, `/api/v1/endpoints/${endpointId}/issues?${q}`);
    assert.ok(Array.isArray(j.data), `issues: data is an array: ${JSON.stringify(j)}`);
    out.push(...j.data);
    cursor = j.next_cursor;
    if (!cursor) return out;
  }
  throw new Error('listIssues: more than 100 pages');
}

/** The issues of an endpoint whose title satisfies `pred` (a string: the title contains it). */
export async function issuesMatching(api, endpointId, pred) {
  const test = typeof pred === 'function' ? pred : (t) => t.includes(pred);
  return (await listIssues(api, endpointId)).filter((i) => test(String(i.title)));
}

/** The one issue whose title contains `text`; fails when there are none or several. */
export async function theIssue(api, endpointId, text) {
  const found = await issuesMatching(api, endpointId, text);
  assert.equal(found.length, 1, `one issue titled like ${JSON.stringify(text)}, got ${JSON.stringify(found.map((i) => i.title))}`);
  return found[0];
}

export const getIssue = (api, id) => getJson(api, `/api/v1/issues/${encodeURIComponent(id)}`);

/** Every event of an issue, newest first. */
export async function issueEvents(api, issueId) {
  const out = [];
  let cursor = null;
  for (let guard = 0; guard < 100; guard++) {
    const q = new URLSearchParams({ limit: '100' });
    if (cursor) q.set('cursor', cursor);
    const j = await getJson(api, `/api/v1/issues/${encodeURIComponent(issueId)}/events?${q}`);
    assert.ok(Array.isArray(j.data), `events: data is an array: ${JSON.stringify(j)}`);
    out.push(...j.data);
    cursor = j.next_cursor;
    if (!cursor) return out;
  }
  throw new Error('issueEvents: more than 100 pages');
}

export const getEvent = (api, id) => getJson(api, `/api/v1/events/${encodeURIComponent(id)}`);

/** PATCH /api/v1/issues/{id} {"state"}, asserting 200; resolves the issue. */
export async function setIssueState(api, id, state) {
  const r = await api.patch(`/api/v1/issues/${encodeURIComponent(id)}`, { state });
  assert.equal(r.status, 200, `PATCH issue ${id} ${state} → ${r.status} ${r.text}`);
  assert.equal(r.json.state, state, `PATCH answer: ${r.text}`);
  return r.json;
}

/** Sums of the hourly session graph between `from` and `to` (ms): {sessions, errored, data}. */
export async function sessionTotals(api, endpointId, from = Date.now() - 2 * 3600_000, to = Date.now() + 3600_000) {
  const j = await getJson(api, `/api/v1/endpoints/${endpointId}/sessions?from=${from}&to=${to}`);
  assert.ok(Array.isArray(j.data), `sessions: data is an array: ${JSON.stringify(j)}`);
  let sessions = 0;
  let errored = 0;
  for (const b of j.data) {
    assertShape(b, { t: isNumber, sessions: isInt, errored: isInt });
    assert.equal(b.t % 3600_000, 0, `a bucket starts on the hour: ${b.t}`);
    sessions += b.sessions;
    errored += b.errored;
  }
  return { sessions, errored, data: j.data };
}

/** Today's (UTC) line of GET /stats?days=1, zeros when there is none. */
export async function statsToday(api, endpointId) {
  const j = await getJson(api, `/api/v1/endpoints/${endpointId}/stats?days=1`);
  assert.ok(Array.isArray(j.data), `stats: data is an array: ${JSON.stringify(j)}`);
  const day = new Date().toISOString().slice(0, 10);
  const row = j.data.find((d) => d.day === day) || { day, events: 0, pings: 0, reports: 0, denied: {} };
  const denied = Object.values(row.denied || {}).reduce((a, b) => a + b, 0);
  return { ...row, deniedTotal: denied };
}

/** The API error body every 4xx of ingest carries. */
export function assertJsonError(r, what) {
  assert.match(String(r.headers['content-type']), /^application\/json/, `${what}: JSON error, got ${r.headers['content-type']}: ${r.text}`);
  assert.ok(r.json && r.json.error && typeof r.json.error.code === 'string' && typeof r.json.error.message === 'string',
    `${what}: {"error":{"code","message"}}, got ${r.text}`);
}

// ---------------------------------------------------------------------------
// Waiting

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `fn` until it returns a truthy value (resolved), at most `ms`
 * (scaled); then fails with `what` and the last value or error. Only for
 * clients that send in the background (a browser's reporting, trackx).
 */
export async function waitFor(what, fn, ms = 10_000) {
  const deadline = Date.now() + ms * SCALE;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.stack : JSON.stringify(last);
      throw new Error(`waited ${ms * SCALE} ms for ${what}; last: ${detail}`);
    }
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------
// Pages for the browser: a small web site on its own origin

const NODE_MODULES = path.join(REPO_ROOT, 'node_modules');

/**
 * An http(s) server on 127.0.0.1:0 serving `pages` (path → {html, headers}
 * or an HTML string) and, read-only, the JavaScript files of node_modules
 * under /node_modules/. `tls`: {key, cert} for https. Resolves {server, url,
 * pages, close()}.
 */
export async function startSite({ tls } = {}) {
  const pages = new Map();
  const handler = async (req, res) => {
    const p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const page = pages.get(p);
    if (req.method === 'GET' && page !== undefined) {
      const { html, headers = {} } = typeof page === 'string' ? { html: page } : page;
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
      res.end(html);
      return;
    }
    if (req.method === 'GET' && p.startsWith('/node_modules/') && /\.(m?js|map)$/.test(p)) {
      const f = path.resolve(REPO_ROOT, `.${p}`);
      if (f.startsWith(NODE_MODULES + path.sep)) {
        try {
          if ((await stat(f)).isFile()) {
            res.writeHead(200, { 'Content-Type': f.endsWith('.map') ? 'application/json' : 'text/javascript; charset=utf-8' });
            res.end(await readFile(f));
            return;
          }
        } catch { /* not there */ }
      }
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found');
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${server.address().port}`;
  const close = () => new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
  return { server, url, pages, close };
}

/**
 * An import map that lets a page `import * as Sentry from '<entry>'` from
 * npm's ES module build (npm's @sentry/browser 11 ships no CDN bundle):
 * every bare specifier reachable from the entry, mapped to its file under
 * /node_modules/ as startSite serves it.
 */
export function importMapFor(entry) {
  const imports = {};
  const seen = new Set();
  const rel = (f) => `/node_modules/${path.relative(NODE_MODULES, f).split(path.sep).join('/')}`;
  const from = pathToFileURL(path.join(REPO_ROOT, 'package.json')).href;
  const top = fileURLToPath(import.meta.resolve(entry, from));
  imports[entry] = rel(top);
  const stmt = /^\s*(?:import|export)\s[^;]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;
  const walk = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(stmt)) {
      const spec = m[1] || m[2] || m[3];
      let f;
      if (spec.startsWith('.')) f = path.resolve(path.dirname(file), spec);
      else {
        f = fileURLToPath(import.meta.resolve(spec, pathToFileURL(file).href));
        imports[spec] = rel(f);
      }
      walk(f);
    }
  };
  walk(top);
  return { imports };
}

// ---------------------------------------------------------------------------
// TLS, for Chromium's Reporting API (it only reports to https endpoints,
// from documents served over https)

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 30_000 * SCALE }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/**
 * A throwaway self-signed certificate for 127.0.0.1 made with the openssl
 * command, or null when there is no openssl. Resolves {key, cert, spki}
 * where spki is the base64 SHA-256 of the public key, as Chromium's
 * --ignore-certificate-errors-spki-list wants it.
 */
export async function selfSignedCert() {
  const dir = await makeTempDir('inlet-tls-');
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  try {
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  } catch (e) {
    if (e.message.includes('ENOENT')) return null;
    throw e;
  }
  const pem = { key: await readFile(key), cert: await readFile(cert) };
  const x = new X509Certificate(pem.cert);
  const spki = createHash('sha256').update(x.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  return { ...pem, spki };
}

/**
 * An https front for `target` (an http base URL), as a TLS-terminating
 * reverse proxy in front of Inlet would be: every request is passed on
 * unchanged (method, path, headers, body) and so is the answer. Resolves
 * {url, close()}.
 */
export async function startTlsProxy(target, tls) {
  const t = new URL(target);
  const server = https.createServer(tls, (req, res) => {
    const up = http.request({
      host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host },
    }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    up.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`proxy: ${e.message}`);
    });
    req.pipe(up);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}
