// Email (issue 5), end to end: a form post to an endpoint with "notify" or
// an autoresponse becomes a job, and the job's message reaches a real SMTP
// server (aiosmtpd, tests/lib/smtp.mjs). What the owner and the submitter
// get, that nothing a submitter sends can add a header or a recipient, and
// what the job queue does with a server that refuses: 4xx is retried until
// the message is accepted, 5xx is final and GET /api/v1/jobs shows why.
//
// Skipped without python3-aiosmtpd (make test installs it).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { makeDataDir, startServer, cleanup, newAccount, SCALE } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, postForm } from '../lib/http.mjs';
import { startSmtp, stopSmtpServers } from '../lib/smtp.mjs';

const T = { timeout: 120_000 };
const FROM = 'Inlet <noreply@inlet.example>';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const marker = (what) => `${what}-${randomBytes(6).toString('hex')}`;

let smtp;
let server;
let api;
let skip = false;

before(async () => {
  smtp = await startSmtp();
  if (!smtp) {
    skip = 'no python3 with aiosmtpd (apt-get install python3-aiosmtpd)';
    return;
  }
  const data = await makeDataDir();
  const acct = await newAccount(data);
  server = await startServer(data, { env: smtp.env(FROM) });
  api = apiClient(server.url, acct.token);
});
after(async () => {
  await cleanup();
  await stopSmtpServers();
});

/** POST /f/{key} with Accept: application/json; asserts the 200. */
async function post(key, kind, data) {
  const r = await postForm(server.url, key, kind, data);
  assert.equal(r.status, 200, `POST /f/${key} → ${r.status} ${r.text}`);
  return r.json;
}

/** The notification whose text part shows `mark`. */
const arrives = (mark, what) => smtp.waitFor((m) => (m.text || '').includes(mark), what || `showing ${mark}`, 30_000);

/** Every job the account can see (GET /api/v1/jobs, all pages). */
async function jobs() {
  const out = [];
  let cursor = null;
  for (let guard = 0; guard < 100; guard++) {
    const q = new URLSearchParams({ limit: '200' });
    if (cursor) q.set('cursor', cursor);
    const r = await api.get(`/api/v1/jobs?${q}`);
    assert.equal(r.status, 200, `GET /api/v1/jobs → ${r.status} ${r.text}`);
    const page = Array.isArray(r.json) ? r.json : r.json.data;
    out.push(...page);
    cursor = Array.isArray(r.json) ? null : r.json.next_cursor;
    if (!cursor) return out;
  }
  throw new Error('GET /api/v1/jobs: more than 100 pages');
}

async function waitForJob(pred, what, ms = 30_000) {
  const deadline = Date.now() + ms * SCALE;
  let last = [];
  for (;;) {
    last = await jobs();
    const j = last.find(pred);
    if (j) return j;
    if (Date.now() > deadline) throw new Error(`no job ${what} within ${ms * SCALE} ms; jobs: ${JSON.stringify(last).slice(0, 3000)}`);
    await sleep(200);
  }
}

// Header names a message from Inlet may have, plus aiosmtpd's trace headers.
const KNOWN_HEADERS = new Set([
  'date', 'from', 'to', 'cc', 'reply-to', 'subject', 'message-id', 'auto-submitted', 'mime-version',
  'content-type', 'content-transfer-encoding', 'x-peer', 'x-mailfrom', 'x-rcptto',
]);

function assertOnlyKnownHeaders(m) {
  for (const [name] of m.headers) assert.ok(KNOWN_HEADERS.has(name), `unexpected header ${JSON.stringify(name)} in:\n${m.raw.slice(0, 3000)}`);
  for (const name of ['from', 'to', 'subject', 'message-id', 'date', 'cc', 'reply-to']) {
    assert.ok(m.all(name).length <= 1, `header ${name} appears ${m.all(name).length} times`);
  }
  assert.equal(m.all('bcc').length, 0, 'no Bcc ever');
}

test('notify: the owners get every field in the text and the HTML part; Reply-To, Subject and Cc from the post', T, async (t) => {
  if (skip) return t.skip(skip);
  const ep = await createEndpoint(api, 'Contact', { notify: ['ops@example.org', 'owner@example.org', 'OPS@example.org'] });
  assert.deepEqual(ep.settings.notify, ['ops@example.org', 'owner@example.org'], 'duplicates dropped, order kept');
  const mark = marker('notify');
  const answer = await post(ep.key, 'urlencoded', [
    ['name', 'Ada Lovelace'],
    ['email', 'ada@example.com'],
    ['message', `${mark} Héllo <b>wörld</b> & more`],
    ['topic', 'engines'],
    ['topic', 'poetry'],
    ['_replyto', 'reply@example.com'],
    ['_subject', 'Question about engines ✓'],
    ['_cc', 'boss@example.net, not an address, second@example.net'],
  ]);
  const m = await arrives(mark);
  assertOnlyKnownHeaders(m);
  assert.equal(m.header('subject'), 'Question about engines ✓');
  assert.equal(m.header('reply-to'), 'reply@example.com');
  assert.equal(m.header('to'), 'ops@example.org, owner@example.org');
  assert.equal(m.header('cc'), 'boss@example.net, second@example.net');
  assert.equal(m.header('from'), '"Inlet" <noreply@inlet.example>');
  assert.equal(m.header('auto-submitted'), 'auto-generated');
  assert.deepEqual(m.rcptTo, ['ops@example.org', 'owner@example.org', 'boss@example.net', 'second@example.net']);
  assert.equal(m.mailFrom, 'noreply@inlet.example');
  assert.ok(m.text, 'a text/plain part');
  assert.ok(m.html, 'a text/html part');
  for (const v of ['Ada Lovelace', 'ada@example.com', `${mark} Héllo <b>wörld</b> & more`, 'engines', 'poetry']) {
    assert.ok(m.text.includes(v), `text part shows ${v}:\n${m.text}`);
  }
  for (const v of ['Ada Lovelace', 'ada@example.com', `${mark} Héllo &lt;b&gt;wörld&lt;/b&gt; &amp; more`, 'engines', 'poetry']) {
    assert.ok(m.html.includes(v), `HTML part shows ${v} (escaped):\n${m.html}`);
  }
  assert.ok(!m.html.includes('<b>wörld</b>'), 'field values never become HTML');
  for (const special of ['_replyto', '_subject', '_cc']) assert.ok(!m.text.includes(special), `${special} is not listed as a field`);
  assert.ok(m.text.includes(answer.id) || m.html.includes(answer.id), 'the submission id is in the message');
  // Exactly one message for this post (a job runs once when it succeeds).
  await sleep(500);
  assert.equal((await smtp.messages()).filter((x) => (x.text || '').includes(mark)).length, 1);
});

test('autoresponse: the submitter (the email field) gets the owner\'s text, and only that', T, async (t) => {
  if (skip) return t.skip(skip);
  const ep = await createEndpoint(api, 'Shop', {
    autoresponse: { enabled: true, subject: 'Thanks from {endpoint}', text: 'We got your message.\nWe answer within a day.' },
  });
  const mark = marker('auto');
  await post(ep.key, 'json', { email: 'grace@example.com', message: `${mark} my words` });
  const m = await smtp.waitFor((x) => x.rcptTo.includes('grace@example.com'), 'to grace@example.com', 30_000);
  assertOnlyKnownHeaders(m);
  assert.deepEqual(m.rcptTo, ['grace@example.com']);
  assert.equal(m.header('to'), 'grace@example.com');
  assert.equal(m.header('subject'), 'Thanks from Shop');
  assert.equal(m.header('auto-submitted'), 'auto-replied');
  assert.equal(m.text.trim(), 'We got your message.\nWe answer within a day.');
  assert.ok(!m.raw.includes(mark), 'nothing the submitter wrote goes back out');
  assert.equal(m.html, undefined, 'plain text only');
});

test('header injection through fields never adds a header or a recipient', T, async (t) => {
  if (skip) return t.skip(skip);
  const ep = await createEndpoint(api, 'Injection', {
    notify: ['ops@example.org'],
    autoresponse: { enabled: true, text: 'Thanks' },
  });
  const evil = ['evil@example.com', 'x@y.example', 'evil2@example.com', 'evil3@example.com', 'evil4@example.com', 'evil5@example.com'];

  // urlencoded: CR/LF in _subject, _replyto, _cc and in a field name
  const mark1 = marker('inj-urlenc');
  await post(ep.key, 'urlencoded', [
    ['message', mark1],
    ['_subject', 'Hello\r\nBcc: evil@example.com\r\n\r\nbody'],
    ['_replyto', 'a@b.example\r\nBcc: x@y.example'],
    ['_cc', 'ok@example.org\r\nBcc: evil2@example.com'],
    ['name\r\nBcc: evil3@example.com', 'value'],
  ]);
  // JSON: the same through another parser, plus a bare LF and a lone CR
  const mark2 = marker('inj-json');
  await post(ep.key, 'json', {
    message: mark2,
    _subject: 'Hi\nBcc: evil4@example.com\rX-Evil: 1',
    _replyto: 'a@b.example\nBcc: evil5@example.com',
    'field\nX-Injected: yes': 'v',
  });
  // multipart: a field name with a line break in its part header
  const mark3 = marker('inj-mp');
  await post(ep.key, 'multipart', [
    { name: 'message', value: mark3 },
    { name: '_subject', value: 'Multi\r\nBcc: evil@example.com' },
    { name: 'a%0D%0ABcc: evil2@example.com', value: 'v' },
  ]);

  for (const mark of [mark1, mark2, mark3]) {
    const m = await arrives(mark);
    assertOnlyKnownHeaders(m);
    assert.deepEqual(m.rcptTo, ['ops@example.org'], `${mark}: recipients`);
    assert.ok(!/\n(bcc|x-evil|x-injected):/i.test(m.raw.split(/\r?\n\r?\n/)[0]), `${mark}: no injected header line`);
    assert.equal(m.header('reply-to'), undefined, `${mark}: an invalid _replyto gives no Reply-To`);
    for (const e of evil) assert.ok(!m.header('to').includes(e) && !(m.header('cc') || '').includes(e));
  }
  const m1 = await arrives(mark1);
  assert.equal(m1.header('subject'), 'Hello Bcc: evil@example.com body', 'CR/LF became spaces on one line');
  assert.ok(m1.text.includes('value'), 'the field with a strange name is still shown, in the body');

  // The autoresponses: none of the three gave a valid address, so none went
  // out; and nothing was sent to any injected address, ever.
  await sleep(1000);
  for (const x of await smtp.messages()) {
    for (const e of evil) assert.ok(!x.rcptTo.includes(e), `a message went to ${e}`);
    assert.ok(!x.rcptTo.includes('a@b.example'), 'the injected _replyto got an autoresponse');
  }
});

test('4xx: the job is retried with backoff and the message arrives once the server accepts again', T, async (t) => {
  if (skip) return t.skip(skip);
  const ep = await createEndpoint(api, 'Busy server', { notify: ['ops@example.org'] });
  const mark = marker('retry');
  const before = (await smtp.attempts()).length;
  await smtp.refuse('451 4.3.0 mailbox busy, try again later');
  try {
    await post(ep.key, 'urlencoded', [['message', mark]]);
    // Two refusals: the first attempt and at least one retry.
    const deadline = Date.now() + 30_000 * SCALE;
    for (;;) {
      const refused = (await smtp.attempts()).slice(before).filter((a) => a.code === '451');
      if (refused.length >= 2) {
        assert.equal(new Set(refused.map((a) => a.messageId)).size, 1, 'every attempt carries the same Message-ID');
        break;
      }
      if (Date.now() > deadline) throw new Error(`fewer than 2 attempts within 30 s: ${JSON.stringify(refused)}`);
      await sleep(200);
    }
    const pending = await waitForJob((j) => j.kind === 'mail.notify' && j.attempts >= 1 && /451/.test(j.last_error || ''),
      'mail.notify with a 451 in last_error');
    assert.notEqual(pending.state, 'dead', 'a 4xx is not final');
  } finally {
    await smtp.accept();
  }
  const m = await arrives(mark, `showing ${mark} after the server accepts again`);
  const ids = new Set((await smtp.attempts()).slice(before).map((a) => a.messageId));
  assert.deepEqual([...ids], [m.header('message-id')], 'the delivered message has the Message-ID of every attempt');
  const done = await waitForJob((j) => j.kind === 'mail.notify' && j.state === 'done' && j.attempts >= 3, 'done after 3+ attempts');
  assert.ok(done.attempts >= 3);
});

test('5xx: final at once; the job is dead and shows the server\'s answer', T, async (t) => {
  if (skip) return t.skip(skip);
  const ep = await createEndpoint(api, 'Refusing server', { notify: ['ops@example.org'] });
  const mark = marker('refused');
  const before = (await smtp.attempts()).length;
  await smtp.refuse('554 5.7.1 message refused by policy');
  let dead;
  try {
    await post(ep.key, 'urlencoded', [['message', mark]]);
    dead = await waitForJob((j) => j.kind === 'mail.notify' && j.state === 'dead', 'mail.notify dead');
  } finally {
    await smtp.accept();
  }
  assert.equal(dead.attempts, 1, 'not retried');
  assert.match(dead.last_error, /554 5\.7\.1 message refused by policy/);
  assert.ok(!dead.last_error.includes('\n'));
  // Nothing more is tried, now that the server would accept.
  await sleep(3000);
  assert.equal((await smtp.attempts()).slice(before).length, 1, 'one attempt in all');
  assert.equal((await smtp.messages()).filter((x) => (x.text || '').includes(mark)).length, 0);
});
