// HTTP helpers over node:http (not fetch): fetch adds headers of its own
// (Accept: */*, Sec-Fetch-*, User-Agent), and several tests depend on exactly
// which headers reach the server, including none at all.

import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { SCALE } from './inlet.mjs';

export const REQUEST_TIMEOUT_MS = 15_000 * SCALE;

/** What Chromium sends when it navigates or submits a form. */
export const BROWSER_ACCEPT =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7';
export const JSON_ACCEPT = 'application/json';

/**
 * One HTTP request. `body` may be a Buffer, a string, or a plain object/array
 * (sent as JSON with Content-Type application/json unless one is given).
 * Resolves {status, headers (lower-case names), body: Buffer, text, json}
 * where json is the parsed body or undefined. Never follows redirects.
 */
export function request(url, { method = 'GET', headers = {}, body, agent = false, timeout = REQUEST_TIMEOUT_MS } = {}) {
  const hdrs = { ...headers };
  let payload;
  if (body !== undefined && body !== null) {
    if (Buffer.isBuffer(body) || typeof body === 'string') payload = Buffer.from(body);
    else {
      payload = Buffer.from(JSON.stringify(body));
      if (!Object.keys(hdrs).some((k) => k.toLowerCase() === 'content-type')) hdrs['Content-Type'] = 'application/json';
    }
    hdrs['Content-Length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: hdrs, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        clearTimeout(timer);
        const buf = Buffer.concat(chunks);
        resolve(makeResponse(res.statusCode, res.headers, buf));
      });
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`${method} ${url}: no answer within ${timeout} ms`));
    }, timeout);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    if (payload) req.end(payload);
    else req.end();
  });
}

function makeResponse(status, headers, buf) {
  const text = buf.toString('utf8');
  let json;
  const ct = String(headers['content-type'] || '');
  if (ct.includes('json') || /^\s*[{[]/.test(text)) {
    try { json = JSON.parse(text); } catch { json = undefined; }
  }
  return { status, headers, body: buf, text, json };
}

/**
 * A request over a raw socket: the whole request is written (write errors are
 * ignored, because a server may answer 413 and close before reading an
 * oversized body) and whatever comes back before the close is parsed.
 * Only for answers without chunked bodies mattering beyond the head: the
 * body is returned de-chunked when Transfer-Encoding is chunked.
 */
export function rawRequest(url, { method = 'POST', headers = {}, body = Buffer.alloc(0), timeout = REQUEST_TIMEOUT_MS } = {}) {
  const u = new URL(url);
  const lines = [`${method} ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`, 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  lines.push(`Content-Length: ${body.length}`);
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n');
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname);
    const chunks = [];
    let settled = false;
    const finish = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      const buf = Buffer.concat(chunks);
      const parsed = parseRawResponse(buf);
      if (parsed) resolve(parsed);
      else reject(err || new Error(`${method} ${url}: no HTTP answer (${buf.length} bytes received)`));
    };
    const timer = setTimeout(() => finish(new Error(`${method} ${url}: timeout`)), timeout);
    sock.on('connect', () => {
      sock.write(head);
      sock.write(body, () => {});
    });
    sock.on('data', (c) => {
      chunks.push(c);
      // Stop once a complete answer is in (the server may keep reading).
      const parsed = parseRawResponse(Buffer.concat(chunks), true);
      if (parsed) finish();
    });
    sock.on('error', (e) => finish(e));
    sock.on('close', () => finish());
  });
}

function parseRawResponse(buf, requireComplete = false) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const headText = buf.subarray(0, end).toString('latin1');
  const [statusLine, ...hl] = headText.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m) return null;
  const headers = {};
  for (const l of hl) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = buf.subarray(end + 4);
  if (/chunked/i.test(headers['transfer-encoding'] || '')) {
    const out = [];
    let rest = body;
    let complete = false;
    for (;;) {
      const nl = rest.indexOf('\r\n');
      if (nl < 0) break;
      const size = parseInt(rest.subarray(0, nl).toString('latin1'), 16);
      if (Number.isNaN(size)) break;
      if (size === 0) { complete = true; break; }
      if (rest.length < nl + 2 + size) break;
      out.push(rest.subarray(nl + 2, nl + 2 + size));
      rest = rest.subarray(nl + 2 + size + 2);
    }
    if (requireComplete && !complete) return null;
    body = Buffer.concat(out);
  } else if (headers['content-length'] !== undefined) {
    const len = Number(headers['content-length']);
    if (requireComplete && body.length < len) return null;
    body = body.subarray(0, len);
  } else if (requireComplete) {
    return null; // body ends at close
  }
  return makeResponse(Number(m[1]), headers, body);
}

// ---------------------------------------------------------------------------
// Bodies

/** application/x-www-form-urlencoded from [[name, value], ...] (order kept). */
export function urlencoded(pairs) {
  return pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`.replace(/%20/g, '+')).join('&');
}

/**
 * multipart/form-data built by hand (exact control over names, filenames and
 * bytes). parts: [{name, value}] for fields, [{name, filename, contentType,
 * data: Buffer}] for files. Resolves {body: Buffer, contentType}.
 */
export function multipart(parts) {
  const boundary = `----inletTestBoundary${randomBytes(12).toString('hex')}`;
  const bufs = [];
  for (const p of parts) {
    let h = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) {
      h += `; filename="${p.filename}"\r\nContent-Type: ${p.contentType || 'application/octet-stream'}`;
    }
    h += '\r\n\r\n';
    bufs.push(Buffer.from(h, 'utf8'));
    bufs.push(Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data ?? p.value ?? '', 'utf8'));
    bufs.push(Buffer.from('\r\n'));
  }
  bufs.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(bufs), contentType: `multipart/form-data; boundary=${boundary}` };
}

// ---------------------------------------------------------------------------
// Form posts

/**
 * POST /f/{key}. kind: 'urlencoded' (data = pairs), 'multipart' (data =
 * parts), 'json' (data = object), or 'raw' (data = Buffer|string, give
 * Content-Type in headers). accept: 'json' | 'browser' | null (no header) |
 * any string.
 */
export function postForm(baseUrl, key, kind, data, { accept = 'json', headers = {}, agent } = {}) {
  const hdrs = {};
  if (accept === 'json') hdrs.Accept = JSON_ACCEPT;
  else if (accept === 'browser') hdrs.Accept = BROWSER_ACCEPT;
  else if (accept) hdrs.Accept = accept;
  let body;
  if (kind === 'urlencoded') {
    body = urlencoded(data);
    hdrs['Content-Type'] = 'application/x-www-form-urlencoded';
  } else if (kind === 'multipart') {
    const mp = multipart(data);
    body = mp.body;
    hdrs['Content-Type'] = mp.contentType;
  } else if (kind === 'json') {
    body = Buffer.from(JSON.stringify(data));
    hdrs['Content-Type'] = 'application/json';
  } else if (kind === 'raw') {
    body = data;
  } else {
    throw new Error(`postForm: unknown kind ${kind}`);
  }
  Object.assign(hdrs, headers);
  return request(`${baseUrl}/f/${key}`, { method: 'POST', headers: hdrs, body, agent });
}

// ---------------------------------------------------------------------------
// Management API

/** A small client for /api/v1 with one bearer token. */
export function apiClient(baseUrl, token) {
  const call = (method, path, body, headers = {}) => {
    const h = { Accept: 'application/json', ...headers };
    if (token) h.Authorization = `Bearer ${token}`;
    return request(`${baseUrl}${path}`, { method, headers: h, body });
  };
  return {
    token,
    get: (p, h) => call('GET', p, undefined, h),
    post: (p, b, h) => call('POST', p, b, h),
    patch: (p, b, h) => call('PATCH', p, b, h),
    del: (p, h) => call('DELETE', p, undefined, h),
    call,
  };
}

/** POST /api/v1/endpoints, asserting 201; resolves the endpoint JSON. */
export async function createEndpoint(api, name, settings, kind) {
  const body = { name };
  if (settings !== undefined) body.settings = settings;
  if (kind !== undefined) body.kind = kind;
  const r = await api.post('/api/v1/endpoints', body);
  if (r.status !== 201 || !r.json || typeof r.json.key !== 'string') {
    throw new Error(`POST /api/v1/endpoints ${JSON.stringify(body)} → ${r.status} ${r.text}`);
  }
  return r.json;
}

/** GET /api/v1/submissions/{id}, asserting 200; resolves the submission. */
export async function getSubmission(api, id) {
  const r = await api.get(`/api/v1/submissions/${encodeURIComponent(id)}`);
  if (r.status !== 200 || !r.json) throw new Error(`GET /api/v1/submissions/${id} → ${r.status} ${r.text}`);
  return r.json;
}

/** Every submission of an endpoint (follows next_cursor), newest first. */
export async function listAll(api, endpointId, query = '') {
  const out = [];
  let cursor = null;
  for (let guard = 0; guard < 1000; guard++) {
    const q = new URLSearchParams(query);
    q.set('limit', '200');
    if (cursor) q.set('cursor', cursor);
    const r = await api.get(`/api/v1/endpoints/${endpointId}/submissions?${q}`);
    if (r.status !== 200 || !r.json) throw new Error(`list submissions → ${r.status} ${r.text}`);
    out.push(...r.json.data);
    cursor = r.json.next_cursor;
    if (!cursor) return out;
  }
  throw new Error('listAll: more than 1000 pages');
}

/** Splits a header value like "POST, OPTIONS" into lower-case tokens. */
export function headerList(v) {
  return String(v || '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
}

/** Escapes text the way an HTML page would show it. */
export function htmlEscape(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Whether an HTML page shows `message` (raw or escaped in any usual way). */
export function htmlShows(html, message) {
  const variants = new Set([
    message,
    htmlEscape(message),
    htmlEscape(message).replace(/&#39;/g, '&#x27;'),
    htmlEscape(message).replace(/&#39;/g, '&apos;'),
    message.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'),
  ]);
  for (const v of variants) if (html.includes(v)) return true;
  return false;
}
