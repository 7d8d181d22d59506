// A webhook receiver for the black-box tests: a plain node:http server on a
// loopback address that records every request it gets (head and raw body)
// and answers as the test tells it to, per request: a status, a delay, a
// redirect, or no answer at all. Plus the signature check a real receiver
// would do, with node:crypto.

import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SCALE } from './inlet.mjs';

const receivers = new Set();

/**
 * Starts a receiver on `host` (any 127.0.0.x works on Linux), port 0.
 * `respond(rec)` decides the answer to each recorded request `rec`; it may
 * return (or resolve) {status = 200, headers = {}, body = 'ok', delayMs = 0,
 * hang = false}. `hang` never answers (the socket stays open until close()).
 * A receiver's `respond` may be replaced at any time.
 *
 * Each record: {n (1-based), method, path, headers (lower-case names),
 * raw (Buffer), text, json (or undefined), at (ms since epoch)}.
 */
export async function startReceiver({ host = '127.0.0.1', respond = () => ({}) } = {}) {
  const requests = [];
  const waiters = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks);
      const text = raw.toString('utf8');
      let json;
      try { json = JSON.parse(text); } catch { json = undefined; }
      const rec = {
        n: requests.length + 1,
        method: req.method,
        path: req.url,
        headers: { ...req.headers },
        raw,
        text,
        json,
        at: Date.now(),
      };
      requests.push(rec);
      for (const w of [...waiters]) w();
      let answer;
      try {
        answer = (await rcv.respond(rec)) || {};
      } catch (e) {
        answer = { status: 599, body: String(e) };
      }
      if (answer.hang) return; // never answered; close() destroys the socket
      if (answer.delayMs) await sleep(answer.delayMs);
      if (res.destroyed || res.writableEnded) return;
      const body = Buffer.from(answer.body ?? 'ok');
      res.writeHead(answer.status ?? 200, { 'Content-Type': 'text/plain', 'Content-Length': body.length, ...(answer.headers || {}) });
      res.end(body);
    });
    req.on('error', () => {});
    res.on('error', () => {});
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => { server.off('error', reject); resolve(); });
  });
  const { port } = server.address();

  const rcv = {
    host,
    port,
    url: `http://${host}:${port}`,
    requests,
    respond,
    /** Resolves once pred(requests) is true; throws after `ms` (scaled). */
    async waitFor(pred, ms, what = 'the receiver to see what the test expects') {
      const limit = ms * SCALE;
      const deadline = Date.now() + limit;
      while (!pred(requests)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out after ${limit} ms waiting for ${what} (${requests.length} requests seen)`);
        await new Promise((resolve) => {
          const t = setTimeout(done, Math.min(left, 100));
          function done() { clearTimeout(t); waiters.delete(done); resolve(); }
          waiters.add(done);
        });
      }
      return requests;
    },
    /** Resolves once at least `n` requests came in. */
    waitForCount(n, ms, what) {
      return this.waitFor((r) => r.length >= n, ms, what || `${n} requests`);
    },
    async close() {
      receivers.delete(rcv);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
  receivers.add(rcv);
  return rcv;
}

/** Closes every receiver still open (register with after()). */
export async function closeReceivers() {
  for (const r of [...receivers]) await r.close().catch(() => {});
}

/**
 * What a receiver does with `Inlet-Signature: t=<unix seconds>,v1=<hex>`:
 * recomputes HMAC-SHA256(secret, "<t>.<raw body>") and compares it in
 * constant time with every v1 given; refuses a timestamp further than
 * `toleranceSec` from now. Returns {ok, reason, t}.
 */
export function verifySignature(secret, header, rawBody, { toleranceSec = 300, now = Date.now() } = {}) {
  if (typeof header !== 'string' || !header) return { ok: false, reason: 'no signature header' };
  let t = null;
  const sigs = [];
  for (const part of header.split(',')) {
    const i = part.indexOf('=');
    if (i <= 0) return { ok: false, reason: `malformed element ${JSON.stringify(part)}` };
    const k = part.slice(0, i).trim();
    const v = part.slice(i + 1).trim();
    if (k === 't') t = v;
    else if (k === 'v1') sigs.push(v);
  }
  if (t === null || !/^\d+$/.test(t)) return { ok: false, reason: 'no numeric t' };
  if (sigs.length === 0) return { ok: false, reason: 'no v1' };
  if (Math.abs(now / 1000 - Number(t)) > toleranceSec) return { ok: false, reason: `t=${t} is outside the tolerance`, t: Number(t) };
  const body = Buffer.isBuffer(rawBody) ? rawBody : Buffer.from(rawBody);
  const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest();
  for (const s of sigs) {
    if (!/^[0-9a-f]{64}$/.test(s)) continue;
    const given = Buffer.from(s, 'hex');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true, t: Number(t) };
  }
  return { ok: false, reason: 'no v1 matches', t: Number(t) };
}
