// Concurrent form-post load for the durability tests, and the read-back that
// proves every acknowledged submission survived.

import http from 'node:http';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from './http.mjs';

/**
 * `clients` loops, each on its own keep-alive connection, POSTing JSON with
 * Accept: application/json to /f/{key} until `deadline` (ms since epoch) or
 * until `stop()` is called, or until their connection fails (the server
 * died). Each body carries a unique token. Resolves
 * {acked: [{id, body}], statuses: {code: count}, errors: count}.
 */
export function startLoad({ url, key, clients = 16, deadline, tag = 'load' }) {
  const acked = [];
  const statuses = {};
  let errors = 0;
  let stopped = false;
  let inFlight = 0;
  const salt = randomBytes(4).toString('hex');

  const one = (agent, body) => new Promise((resolve) => {
    const payload = Buffer.from(JSON.stringify(body));
    const req = http.request(`${url}/f/${key}`, {
      method: 'POST',
      agent,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'Content-Length': payload.length },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', (e) => resolve({ error: e }));
      res.on('end', () => {
        let json;
        try { json = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { json = undefined; }
        resolve({ status: res.statusCode, json });
      });
    });
    req.setTimeout(20_000, () => req.destroy(new Error('request timeout')));
    req.on('error', (e) => resolve({ error: e }));
    req.end(payload);
  });

  const client = async (c) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let seq = 0; !stopped && Date.now() < deadline; seq++) {
        const body = { tag, client: c, seq, token: `${tag}-${salt}-${c}-${seq}-${randomBytes(6).toString('hex')}`, note: 'crash-test payload é' };
        inFlight++;
        const r = await one(agent, body);
        inFlight--;
        if (r.error) {
          errors++;
          return; // the server is gone (or going): this client is done
        }
        statuses[r.status] = (statuses[r.status] || 0) + 1;
        if (r.status === 200 && r.json && r.json.ok === true && typeof r.json.id === 'string') acked.push({ id: r.json.id, body });
      }
    } finally {
      agent.destroy();
    }
  };

  const done = Promise.all(Array.from({ length: clients }, (_, c) => client(c))).then(() => ({ acked, statuses, errors }));
  return {
    done,
    acked,
    get inFlight() { return inFlight; },
    stop() { stopped = true; },
  };
}

/**
 * Reads every acknowledged submission back through the API (16 at a time)
 * and asserts its fields are exactly what was posted.
 */
export async function verifyAcked(baseUrl, token, acked, label) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const failures = [];
  let next = 0;
  const worker = async () => {
    while (next < acked.length) {
      const { id, body } = acked[next++];
      let r;
      try {
        r = await request(`${baseUrl}/api/v1/submissions/${id}`, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' }, agent });
      } catch (e) {
        failures.push(`${id}: ${e.message}`);
        continue;
      }
      if (r.status !== 200) failures.push(`${id}: status ${r.status} ${r.text.slice(0, 200)}`);
      else {
        try {
          assert.deepEqual(r.json.fields, body);
        } catch {
          failures.push(`${id}: fields ${JSON.stringify(r.json.fields)} != posted ${JSON.stringify(body)}`);
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: 16 }, worker));
  } finally {
    agent.destroy();
  }
  assert.deepEqual(failures.slice(0, 20), [], `${label}: ${failures.length} of ${acked.length} acknowledged submissions lost or damaged`);
}

/** n distinct random items of arr. */
export function sample(arr, n) {
  if (arr.length <= n) return [...arr];
  const copy = [...arr];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, n);
}
