// Sentry's own Node SDK (@sentry/node, unchanged, in this process) sends to
// an Inlet events endpoint through the DSN the API gives out; the tests read
// back through the Management API what Inlet made of it: issues grouped by
// the error and where it was thrown, events with the exception and its stack,
// release health sessions (single sessions and request aggregates), a gzipped
// envelope, resolve and ignore, a wrong key.
//
// What the SDK sends is recorded in tests/fixtures/events/README.md. Two of
// its habits shape the tests: the Dedupe integration drops an event that
// repeats the one just before it, and the transport sends in the background
// (Sentry.flush() waits until every envelope was answered; a 2xx means
// committed, so the API shows it right after).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import * as Sentry from '@sentry/node';
import { makeDataDir, startServer, cleanup, newAccount, SCALE, REPO_ROOT } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, request } from '../lib/http.mjs';
import { assertShape, prefixed, isNumber } from '../lib/match.mjs';
import {
  HEX32, createEventsEndpoint, issueShape, listIssues, issuesMatching, theIssue, getIssue, issueEvents, getEvent,
  setIssueState, sessionTotals, assertJsonError,
} from '../lib/events.mjs';

const T = { timeout: 60_000 * SCALE };
const FLUSH_MS = 10_000 * SCALE;
const THIS_FILE = fileURLToPath(import.meta.url);
const FIXTURES = path.join(REPO_ROOT, 'tests', 'fixtures', 'events');
const RELEASE = 'shop@4.2.0';
const ENVIRONMENT = 'e2e';

let inlet;
let api;
let ep;

// What the SDK did, seen from its side: the answer to each envelope, and the
// headers of each HTTP request its transport made.
const answers = []; // {type, status}
const requests = []; // {path, headers}
const beforeSendIds = [];

/** The SDK's own transport, recording each answer's status. */
function recordingTransport(sink) {
  return (options) => {
    const t = Sentry.makeNodeTransport(options);
    return {
      ...t,
      send: async (envelope) => {
        const r = await t.send(envelope);
        sink.push({ type: envelope[1]?.[0]?.[0]?.type, status: r?.statusCode });
        return r;
      },
      flush: (timeout) => t.flush(timeout),
    };
  };
}

/** node:http as the transport uses it, recording the headers of each request. */
const recordingHttp = {
  request(options, cb) {
    requests.push({ path: options.path, headers: { ...options.headers } });
    return http.request(options, cb);
  },
};

before(async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  inlet = await startServer(data);
  api = apiClient(inlet.url, acct.token);
  ep = await createEventsEndpoint(api, 'node-app', inlet.url);
  Sentry.init({
    dsn: ep.dsn,
    release: RELEASE,
    environment: ENVIRONMENT,
    transport: recordingTransport(answers),
    transportOptions: { httpModule: recordingHttp },
    beforeSend(event) {
      beforeSendIds.push(event.event_id);
      return event;
    },
  });
});

after(async () => {
  await Sentry.close(2000 * SCALE).catch(() => {});
  await cleanup();
});

async function flush() {
  assert.equal(await Sentry.flush(FLUSH_MS), true, `Sentry.flush: every envelope answered within ${FLUSH_MS} ms`);
}

/** The frames of an event's primary exception, oldest first as Sentry sends them. */
function framesOf(data) {
  const values = data?.exception?.values;
  assert.ok(Array.isArray(values) && values.length > 0, `the event has exception.values: ${JSON.stringify(data).slice(0, 2000)}`);
  const frames = values[values.length - 1].stacktrace?.frames;
  assert.ok(Array.isArray(frames) && frames.length > 0, 'the exception has stacktrace.frames');
  return frames;
}

// The application's functions: each test throws from its own, so that each
// makes its own issues (grouping keys on the type and the in-app frames).

function chargeCard(amount) {
  throw new Error(`card declined for ${amount}`);
}

function reserveStock(where) {
  if (where === 'top') throw new RangeError('out of stock');
  throw new RangeError('out of stock (checked again)'); // another line, same function
}

function warmCache() {
  return Sentry.captureMessage('cache warm-up took too long');
}

function parseInvoice() {
  throw new TypeError('invoice unreadable');
}

function renderInvoice() {
  throw new TypeError('invoice unreadable');
}

function renderReceipt(kind) {
  if (kind === 'type') throw new TypeError('receipt unreadable');
  throw new SyntaxError('receipt unreadable');
}

function syncLedger() {
  throw new Error('ledger out of sync');
}

function pollQueue() {
  throw new Error('queue poll failed');
}

function computeTaxes() {
  throw new Error('tax tables missing');
}

function exportReport() {
  throw new Error('report too large');
}

function capture(fn, ...args) {
  try {
    fn(...args);
  } catch (e) {
    return Sentry.captureException(e);
  }
  throw new Error(`${fn.name} did not throw`);
}

test('captureException → one issue "Error: message", culprit in this file, the event holds the exception and stack', T, async () => {
  const eventId = capture(chargeCard, 42);
  assert.match(eventId, HEX32);
  await flush();
  assert.ok(beforeSendIds.includes(eventId), 'the SDK sent it');

  const issue = await theIssue(api, ep.id, 'card declined');
  assertShape(issue, issueShape({
    title: 'Error: card declined for 42',
    count: 1,
    state: 'open',
    level: 'error',
    release: RELEASE,
    environment: ENVIRONMENT,
  }));
  assert.match(issue.culprit, /^chargeCard \(.*sentry\.test\.mjs\)$/, `culprit: ${issue.culprit}`);
  assert.ok(issue.first_seen <= issue.last_seen, 'first_seen ≤ last_seen');
  assert.ok(Math.abs(issue.last_seen - Date.now()) < 60_000, `last_seen is now, in ms: ${issue.last_seen}`);

  const full = await getIssue(api, issue.id);
  assertShape(full, issueShape({ id: issue.id, title: issue.title, count: 1, culprit: issue.culprit }));

  const evs = await issueEvents(api, issue.id);
  assert.equal(evs.length, 1);
  assertShape(evs[0], { id: prefixed('evt_'), received: isNumber, event_id: eventId, title: issue.title, level: 'error' });

  const ev = await getEvent(api, evs[0].id);
  assertShape(ev, { id: evs[0].id, issue: issue.id, received: isNumber, event_id: eventId, kind: 'sentry', title: issue.title, previous: null, next: null });
  assert.equal(ev.data.event_id, eventId);
  assert.equal(ev.data.platform, 'node');
  assert.equal(ev.data.release, RELEASE);
  assert.equal(ev.data.environment, ENVIRONMENT);
  const values = ev.data.exception.values;
  assertShape(values[values.length - 1], { type: 'Error', value: 'card declined for 42' });
  const frames = framesOf(ev.data);
  const top = frames[frames.length - 1];
  assertShape(top, { function: 'chargeCard', filename: THIS_FILE, in_app: true, lineno: isNumber, colno: isNumber });
  assert.ok(frames.some((f) => f.function === 'capture' && f.filename === THIS_FILE), 'the caller is in the stack too');
});

test('the same error thrown three times, twice from one line and once from another of the same function → one issue, count 3', T, async () => {
  // top, bottom, top: never the same event twice in a row (Dedupe drops repeats).
  const ids = ['top', 'bottom', 'top'].map((w) => capture(reserveStock, w));
  await flush();
  assert.equal(new Set(ids).size, 3);

  const issue = await theIssue(api, ep.id, 'out of stock');
  assert.equal(issue.count, 3, `count: ${JSON.stringify(issue)}`);
  assert.match(issue.title, /^RangeError: out of stock/);
  assert.match(issue.culprit, /^reserveStock \(.*sentry\.test\.mjs\)$/);

  const evs = await issueEvents(api, issue.id);
  assert.deepEqual(evs.map((e) => e.event_id).sort(), [...ids].sort(), 'the three events, each once');
  for (let i = 1; i < evs.length; i++) assert.ok(evs[i - 1].received >= evs[i].received, 'newest first');

  // previous/next walk the issue's events: previous is the older one.
  const [newest, middle, oldest] = await Promise.all(evs.map((e) => getEvent(api, e.id)));
  assert.equal(newest.next, null);
  assert.equal(newest.previous, middle.id);
  assert.equal(middle.next, newest.id);
  assert.equal(middle.previous, oldest.id);
  assert.equal(oldest.next, middle.id);
  assert.equal(oldest.previous, null);
});

test('captureMessage → its own issue, level info', T, async () => {
  const eventId = warmCache();
  await flush();
  const issue = await theIssue(api, ep.id, 'cache warm-up took too long');
  assertShape(issue, issueShape({ count: 1, level: 'info', state: 'open' }));
  assert.equal(issue.title, 'cache warm-up took too long', 'a message event is titled by its message');
  assert.equal((await issuesMatching(api, ep.id, 'warm-up')).length, 1);
  const [e] = await issueEvents(api, issue.id);
  const ev = await getEvent(api, e.id);
  assert.equal(ev.event_id, eventId);
  assert.equal(ev.data.message, 'cache warm-up took too long');
  assert.equal(ev.data.level, 'info');
});

test('different errors → different issues: same message from two functions, two types from one function', T, async () => {
  capture(parseInvoice);
  capture(renderInvoice);
  capture(renderReceipt, 'type');
  capture(renderReceipt, 'syntax');
  await flush();

  const invoices = await issuesMatching(api, ep.id, 'invoice unreadable');
  assert.equal(invoices.length, 2, `two issues: ${JSON.stringify(invoices)}`);
  assert.deepEqual(invoices.map((i) => i.culprit.split(' ')[0]).sort(), ['parseInvoice', 'renderInvoice']);
  for (const i of invoices) assertShape(i, { title: 'TypeError: invoice unreadable', count: 1 });

  const receipts = await issuesMatching(api, ep.id, 'receipt unreadable');
  assert.deepEqual(receipts.map((i) => i.title).sort(), ['SyntaxError: receipt unreadable', 'TypeError: receipt unreadable']);
  for (const i of receipts) assert.equal(i.count, 1);
});

test('release health: Sentry.startSession()/endSession() sessions land in /sessions, errored counted once', T, async () => {
  // Settle the session Sentry.init opened by itself (ProcessSession).
  Sentry.startSession();
  Sentry.endSession();
  await flush();
  const base = await sessionTotals(api, ep.id);
  assert.ok(base.sessions >= 1, `the SDK's first session is there: ${JSON.stringify(base)}`);

  // A clean session: one `session` item, init true, status exited.
  Sentry.startSession();
  Sentry.endSession();
  await flush();
  const clean = await sessionTotals(api, ep.id);
  assert.equal(clean.sessions, base.sessions + 1, `one more session: ${JSON.stringify(clean)}`);
  assert.equal(clean.errored, base.errored, 'not errored');

  // An errored session: sent twice by the SDK (init true with errors 1 when
  // the error is captured, then init false exited) and still one session.
  // The SDK marks the session when it has processed the event, which is
  // asynchronous: ending the session in the same tick would close it first
  // (sent as a clean session). Let the event go out, then end the session.
  Sentry.startSession();
  capture(syncLedger);
  await flush();
  Sentry.endSession();
  await flush();
  const errored = await sessionTotals(api, ep.id);
  assert.equal(errored.sessions, clean.sessions + 1, `one more session: ${JSON.stringify(errored)}`);
  assert.equal(errored.errored, clean.errored + 1, 'one more errored session');

  const now = Date.now();
  const bucket = errored.data.find((b) => b.t <= now && now < b.t + 3600_000);
  assert.ok(bucket && bucket.sessions >= 2, `this hour's bucket holds them: ${JSON.stringify(errored.data)}`);
  assert.ok(answers.some((a) => a.type === 'session' && a.status === 200), 'session envelopes answered 200');
});

test('release health, request mode: a node:http server\'s requests arrive as one `sessions` aggregate', T, async () => {
  const before = await sessionTotals(api, ep.id);
  const app = http.createServer((req, res) => {
    if (req.url === '/fail') {
      try { pollQueue(); } catch (e) { Sentry.captureException(e); }
      res.writeHead(500);
      res.end('failed');
      return;
    }
    res.end('ok');
  });
  await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
  try {
    const base = `http://127.0.0.1:${app.address().port}`;
    for (const p of ['/a', '/fail', '/b']) await request(`${base}${p}`);
  } finally {
    await new Promise((resolve) => app.close(resolve));
  }
  // Request sessions are recorded when the response closes; the SDK sends the
  // aggregate on flush.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const sent = answers.length;
  await flush();
  assert.ok(answers.slice(sent).some((a) => a.type === 'sessions'),
    `the SDK sent a sessions aggregate: ${JSON.stringify(answers.slice(sent))}`);
  const after = await sessionTotals(api, ep.id);
  assert.equal(after.sessions, before.sessions + 3, `three request sessions: ${JSON.stringify(after)}`);
  assert.equal(after.errored, before.errored + 1, 'one errored');
  assert.equal((await theIssue(api, ep.id, 'queue poll failed')).count, 1);
});

test('an event over 32 KiB goes gzipped and is stored whole: the big extra comes back byte for byte', T, async () => {
  const big = randomBytes(45_000).toString('base64'); // 60,000 characters
  const from = requests.length;
  let eventId;
  try { computeTaxes(); } catch (e) { eventId = Sentry.captureException(e, { extra: { tables: big, small: 'ü✓' } }); }
  await flush();
  const mine = requests.slice(from).filter((r) => r.headers['content-encoding'] === 'gzip');
  assert.equal(mine.length, 1, `the SDK gzipped exactly one request: ${JSON.stringify(requests.slice(from))}`);

  const issue = await theIssue(api, ep.id, 'tax tables missing');
  const [e] = await issueEvents(api, issue.id);
  const ev = await getEvent(api, e.id);
  assert.equal(ev.event_id, eventId);
  assert.equal(typeof ev.data.extra?.tables, 'string', 'extra.tables is there');
  assert.equal(ev.data.extra.tables.length, big.length);
  assert.ok(ev.data.extra.tables === big, 'byte for byte');
  assert.equal(ev.data.extra.small, 'ü✓');
});

test('resolved, then the error comes back → open again, count 2', T, async () => {
  capture(syncLedger); // syncLedger's issue exists since the session test
  await flush();
  const issue = await theIssue(api, ep.id, 'ledger out of sync');
  const count = issue.count;
  await setIssueState(api, issue.id, 'resolved');
  assert.equal((await getIssue(api, issue.id)).state, 'resolved');
  assert.equal((await listIssues(api, ep.id, { state: 'resolved' })).filter((i) => i.id === issue.id).length, 1, '?state=resolved lists it');
  assert.equal((await listIssues(api, ep.id, { state: 'open' })).filter((i) => i.id === issue.id).length, 0, '?state=open does not');

  capture(chargeCard, 1); // another error in between: not a repeat for Dedupe
  capture(syncLedger);
  await flush();
  const again = await getIssue(api, issue.id);
  assert.equal(again.state, 'open', 'a new event reopens a resolved issue');
  assert.equal(again.count, count + 1);
});

test('ignored → further events are not stored, the count stays', T, async () => {
  capture(exportReport);
  await flush();
  const issue = await theIssue(api, ep.id, 'report too large');
  assert.equal(issue.count, 1);
  await setIssueState(api, issue.id, 'ignored');

  const from = answers.length;
  capture(exportReport);
  capture(chargeCard, 2);
  capture(exportReport);
  await flush();
  assert.ok(answers.slice(from).every((a) => a.status >= 200 && a.status < 300), `the SDK is not told off: ${JSON.stringify(answers.slice(from))}`);
  const still = await getIssue(api, issue.id);
  assert.equal(still.state, 'ignored');
  assert.equal(still.count, 1, 'count unchanged');
  assert.equal((await issueEvents(api, issue.id)).length, 1, 'no new event');
  assert.equal((await issuesMatching(api, ep.id, 'report too large')).length, 1, 'no new issue either');
});

test('a DSN with a wrong key: the SDK gets 401/403 and nothing is stored; a wrong project id is refused too', T, async () => {
  const wrongKey = randomBytes(16).toString('hex');
  const cases = [
    { what: 'wrong key', dsn: ep.dsn.replace(ep.key, wrongKey), statuses: [401, 403] },
    { what: 'wrong project id', dsn: ep.dsn.replace(new RegExp(`/${ep.project_id}$`), `/${Number(ep.project_id) + 7919}`), statuses: null },
  ];
  for (const c of cases) {
    const seen = [];
    const sentIds = [];
    const client = new Sentry.NodeClient({
      dsn: c.dsn,
      release: RELEASE,
      integrations: [],
      stackParser: Sentry.defaultStackParser,
      transport: recordingTransport(seen),
      beforeSend(event) {
        sentIds.push(event.event_id);
        return event;
      },
    });
    const scope = new Sentry.Scope();
    scope.setClient(client);
    client.init();
    try {
      throw new Error(`intruder ${c.what}`);
    } catch (e) {
      scope.captureException(e);
    }
    assert.equal(await client.flush(FLUSH_MS), true);
    assert.equal(sentIds.length, 1, `${c.what}: the SDK sent the event`);
    assert.equal(seen.length, 1, `${c.what}: one envelope: ${JSON.stringify(seen)}`);
    if (c.statuses) assert.ok(c.statuses.includes(seen[0].status), `${c.what}: 401 or 403, got ${seen[0].status}`);
    else assert.ok(seen[0].status >= 400 && seen[0].status < 500, `${c.what}: a 4xx, got ${seen[0].status}`);
    await client.close(1000);
  }
  assert.equal((await issuesMatching(api, ep.id, 'intruder')).length, 0, 'nothing stored');
});

// ---------------------------------------------------------------------------
// By hand: what other Sentry SDKs do differently (auth in X-Sentry-Auth,
// Content-Type set, the old store endpoint), with the recorded bytes.

test('by hand: the recorded envelope with X-Sentry-Auth instead of the query → 200 {"id": event_id}', T, async () => {
  const body = await readFile(path.join(FIXTURES, 'sentry-node-envelope.txt'));
  const header = JSON.parse(body.toString('utf8').split('\n')[0]);
  const r = await request(`${inlet.url}/api/${ep.project_id}/envelope/`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-sentry-envelope',
      'X-Sentry-Auth': `Sentry sentry_version=7, sentry_client=sentry.python/2.20.0, sentry_key=${ep.key}`,
    },
    body,
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { id: header.event_id });
  const issue = await theIssue(api, ep.id, 'boom from node');
  const [e] = await issueEvents(api, issue.id);
  assert.equal(e.event_id, header.event_id);

  // The same key in neither place → 401/403 with a JSON error.
  const anon = await request(`${inlet.url}/api/${ep.project_id}/envelope/`, { method: 'POST', body });
  assert.ok([401, 403].includes(anon.status), `no key: ${anon.status} ${anon.text}`);
  assertJsonError(anon, 'no key');
});

test('by hand: the recorded gzipped envelope (Content-Encoding: gzip) is stored whole', T, async () => {
  const gz = await readFile(path.join(FIXTURES, 'sentry-node-gzip-envelope.txt.gz'));
  const text = gunzipSync(gz).toString('utf8');
  const lines = text.split('\n');
  const header = JSON.parse(lines[0]);
  const payload = JSON.parse(lines[2]);
  const r = await request(`${inlet.url}/api/${ep.project_id}/envelope/?sentry_version=7&sentry_key=${ep.key}&sentry_client=sentry.javascript.node%2F11.12.0`, {
    method: 'POST',
    headers: { 'Content-Encoding': 'gzip', 'User-Agent': 'sentry.javascript.node/11.12.0' },
    body: gz,
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { id: header.event_id });
  const issue = await theIssue(api, ep.id, 'big one');
  const [e] = await issueEvents(api, issue.id);
  const ev = await getEvent(api, e.id);
  assert.deepEqual(ev.data.extra, payload.extra, 'the 40,000-character extra intact');
});

test('by hand: the store endpoint takes one JSON event → 200 {"id"}', T, async () => {
  const eventId = randomBytes(16).toString('hex');
  const event = {
    event_id: eventId,
    platform: 'javascript',
    level: 'warning',
    exception: { values: [{ type: 'QuotaError', value: 'storage full', stacktrace: { frames: [{ filename: 'https://shop.example/js/cart.js', function: 'saveCart', lineno: 3, colno: 9, in_app: true }] } }] },
  };
  const plain = await request(`${inlet.url}/api/${ep.project_id}/store/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Sentry-Auth': `Sentry sentry_version=7, sentry_key=${ep.key}, sentry_client=raven-js/3.27.2` },
    body: JSON.stringify(event),
  });
  assert.equal(plain.status, 200, plain.text);
  assert.deepEqual(plain.json, { id: eventId });
  const issue = await theIssue(api, ep.id, 'QuotaError: storage full');
  assertShape(issue, { level: 'warning', culprit: 'saveCart (/js/cart.js)' });
});

test('a form endpoint\'s key is no DSN: envelope refused with a JSON error, nothing stored', T, async () => {
  const form = await createEndpoint(api, 'contact');
  const body = await readFile(path.join(FIXTURES, 'sentry-node-envelope.txt'));
  const r = await request(`${inlet.url}/api/${ep.project_id}/envelope/?sentry_key=${encodeURIComponent(form.key)}&sentry_version=7`, { method: 'POST', body });
  assert.ok(r.status >= 400 && r.status < 500, `${r.status} ${r.text}`);
  assertJsonError(r, 'form key');
});

test('every envelope the SDK sent here was answered 200', T, async () => {
  await flush();
  assert.ok(answers.length > 10, `answers: ${answers.length}`);
  const bad = answers.filter((a) => a.status !== 200);
  assert.deepEqual(bad, [], 'all 200');
  assert.ok(requests.every((r) => r.path.startsWith(`/api/${ep.project_id}/envelope/?`) && r.path.includes(`sentry_key=${ep.key}`)),
    'every request went to the DSN\'s envelope URL with the key in the query');
  assert.ok(requests.every((r) => !('content-type' in r.headers)), 'the Node SDK sends no Content-Type');
});

test('inlet stops cleanly on SIGTERM', T, async () => {
  await Sentry.close(2000 * SCALE);
  await inlet.stop();
});
