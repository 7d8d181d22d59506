// Teams (the dashboard issue's team part), end to end over real sockets:
// invitations by link (and by email through a real SMTP server when SMTP is
// set), accepting them as a new user or as a logged-in one, several accounts
// per user with X-Inlet-Account to switch, members and their roles enforced
// on the server, the last owner kept, removed members locked out at once,
// other accounts' ids answering 404, CSRF on cookie changes, the password
// rule, and rate limits on the link routes.
//
// The server trusts X-Forwarded-For here (INLET_TRUST_PROXY=1) so that each
// flow can be its own client for the per-client rate limits; one test
// hammers from a single address to see the limit.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { makeDataDir, startServer, cleanup, newAccount, storeSql, ON_POSTGRES } from '../lib/inlet.mjs';
import { request, apiClient, createEndpoint } from '../lib/http.mjs';
import { apiError, assertShape, contains, every, isBool, isIsoMs, isString, lacks, prefixed, ABSENT } from '../lib/match.mjs';
import { runTable } from '../lib/table.mjs';
import { startSmtp, stopSmtpServers } from '../lib/smtp.mjs';
import { waitFor } from '../lib/events.mjs';

const T = { timeout: 120_000 };
const PASSWORD = 'correct horse battery staple'; // the harness's (tests/lib/inlet.mjs)
const NEW_PASSWORD = 'a long enough password';
const ENV = { INLET_TRUST_PROXY: '1' };
const TOKEN = /^inlet_iv_[A-Za-z0-9_-]{43}$/;

let server;
let data;
let acct; // the account under test: {accountId, token, email}
let owner; // its owner's API client (Bearer: full rights)

let ipSeq = 0;
/** A fresh client address, so that each flow has its own rate-limit bucket. */
const ip = () => { ipSeq += 1; return `10.9.${ipSeq >> 8}.${ipSeq & 255}`; };
const mark = () => randomBytes(4).toString('hex');
const emailOf = (what) => `${what}-${mark()}@example.test`;

before(async () => {
  data = await makeDataDir();
  acct = await newAccount(data, { account: 'Acme' });
  server = await startServer(data, { env: ENV });
  owner = apiClient(server.url, acct.token);
});
after(async () => {
  await cleanup();
  await stopSmtpServers();
});

// ---------------------------------------------------------------------------
// Helpers

const sql = (q) => storeSql(data, 'tenant', q);
const cookieOf = (res) => String(res.headers['set-cookie'] || '').split(';')[0];

/** A request without credentials, as its own client unless `from` is given. */
const anon = (method, p, body, headers = {}, from = ip()) => request(`${server.url}${p}`, {
  method, headers: { Accept: 'application/json', 'X-Forwarded-For': from, ...headers }, body,
});

/** A logged-in browser: {cookie, csrf, user, accounts, call(method, path, body, {account, csrf})}. */
function browser(res) {
  assert.ok(res.status === 200 || res.status === 201, `a session: ${res.status} ${res.text}`);
  const cookie = cookieOf(res);
  assert.match(cookie, /^inlet_session=inlet_ss_/);
  const b = {
    cookie,
    csrf: res.json.csrf_token,
    user: res.json.user,
    accounts: res.json.accounts,
    call: (method, p, body, { account, csrf = true, headers = {} } = {}) => {
      const h = { Cookie: cookie, 'X-Forwarded-For': ip(), ...headers };
      if (csrf) h['X-CSRF-Token'] = b.csrf;
      if (account) h['X-Inlet-Account'] = account;
      return anon(method, p, body, h, h['X-Forwarded-For']);
    },
  };
  return b;
}

const login = async (email, password = PASSWORD) => browser(await anon('POST', '/api/v1/auth/login', { email, password }));

/** POST /api/v1/invites with `api` (a Bearer client or a browser); asserts 201. */
async function invite(email, role, api = owner, opts) {
  const r = api.post ? await api.post('/api/v1/invites', { email, role }) : await api.call('POST', '/api/v1/invites', { email, role }, opts);
  assert.equal(r.status, 201, `invite ${email} as ${role}: ${r.status} ${r.text}`);
  return r.json;
}
const tokenOf = (inv) => inv.url.slice(inv.url.lastIndexOf('/') + 1);

/** Someone new joins acct with `role` through a real invitation; resolves their browser. */
async function join(role, name = undefined) {
  const email = emailOf(role);
  const inv = await invite(email, role);
  const r = await anon('POST', '/api/v1/invites/accept', { token: tokenOf(inv), password: NEW_PASSWORD, name });
  assert.equal(r.status, 201, `accept as ${role}: ${r.text}`);
  const b = browser(r);
  b.email = email;
  return b;
}

// ---------------------------------------------------------------------------

test('invite by link: a new user accepts, is logged in and sees the account with the role', T, async () => {
  const email = emailOf('new');
  const inv = await invite(email, 'member');
  assertShape(inv, {
    id: prefixed('inv_'), email, role: 'member', created_at: isIsoMs, expires_at: isIsoMs, emailed: false,
  });
  const week = Date.parse(inv.expires_at) - Date.parse(inv.created_at);
  assert.equal(week, 7 * 86400_000, 'an invitation lasts 7 days');
  // No INLET_PUBLIC_URL: the link is built from the address the inviter used.
  assert.ok(inv.url.startsWith(`${server.url}/#/invite/`), inv.url);
  assert.match(tokenOf(inv), TOKEN);

  // Pending invitations are listed, never with their token.
  const list = await owner.get('/api/v1/invites');
  assert.equal(list.status, 200);
  assertShape(list.json.data, contains({ id: inv.id, email, role: 'member', url: ABSENT }));
  assert.ok(!list.text.includes(tokenOf(inv)), 'no token in the list');

  const look = await anon('GET', `/api/v1/invites/lookup?token=${tokenOf(inv)}`);
  assert.equal(look.status, 200, look.text);
  assert.deepEqual(look.json, { account: { name: 'Acme' }, email, role: 'member', expires_at: inv.expires_at, has_user: false });

  // The password rule is sign-up's.
  const weak = await anon('POST', '/api/v1/invites/accept', { token: tokenOf(inv), password: 'short' });
  assert.equal(weak.status, 400);
  assertShape(weak.json, apiError('weak_password'));
  assert.equal(weak.headers['set-cookie'], undefined);

  const ok = await anon('POST', '/api/v1/invites/accept', { token: tokenOf(inv), password: NEW_PASSWORD, name: 'Nell New' });
  assert.equal(ok.status, 201, ok.text);
  assert.match(String(ok.headers['set-cookie']), /^inlet_session=inlet_ss_[A-Za-z0-9_-]{43};.*HttpOnly/);
  const b = browser(ok);
  assert.equal(b.user.email, email);
  assert.deepEqual(b.accounts.map((a) => [a.id, a.name, a.role]), [[acct.accountId, 'Acme', 'member']]);
  assert.match(b.csrf, /^[0-9a-f]{64}$/);

  // The session works, and the members list shows them.
  const s = await b.call('GET', '/api/v1/auth/session', undefined, { csrf: false });
  assert.equal(s.status, 200);
  assert.deepEqual(s.json.accounts.map((a) => a.role), ['member']);
  const members = await b.call('GET', '/api/v1/members');
  assert.equal(members.status, 200, members.text);
  assertShape(members.json.data, every({ id: prefixed('usr_'), email: isString, role: isString, joined_at: isIsoMs, you: isBool }));
  assertShape(members.json.data, contains({ id: b.user.id, email, name: 'Nell New', role: 'member', you: true }));
  assertShape(members.json.data, contains({ email: acct.email, role: 'owner', you: false }));

  // A token works once; afterwards it is as unknown as any other.
  const again = await anon('POST', '/api/v1/invites/accept', { token: tokenOf(inv), password: NEW_PASSWORD });
  assert.equal(again.status, 404);
  assertShape(again.json, apiError('invite_not_found'));
  assert.equal((await anon('GET', `/api/v1/invites/lookup?token=${tokenOf(inv)}`)).status, 404);
  assertShape((await owner.get('/api/v1/invites')).json.data, lacks({ id: inv.id }));
  // And the new user logs in like anyone.
  await login(email, NEW_PASSWORD);
});

test('an existing user accepts while logged in, then has two accounts and switches with X-Inlet-Account', T, async () => {
  const other = await newAccount(data, { account: 'Other Co' });
  const inv = await invite(other.email, 'viewer');
  const look = await anon('GET', `/api/v1/invites/lookup?token=${tokenOf(inv)}`);
  assert.equal(look.json.has_user, true);
  // Without a session: log in first (the inviter knew the email; nothing is enumerated).
  const nosession = await anon('POST', '/api/v1/invites/accept', { token: tokenOf(inv), password: NEW_PASSWORD });
  assert.equal(nosession.status, 409);
  assertShape(nosession.json, apiError('login_required'));

  const b = await login(other.email);
  const nocsrf = await b.call('POST', '/api/v1/invites/accept', { token: tokenOf(inv) }, { csrf: false });
  assert.equal(nocsrf.status, 403);
  assertShape(nocsrf.json, apiError('csrf'));
  const ok = await b.call('POST', '/api/v1/invites/accept', { token: tokenOf(inv) });
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(ok.json, { account: { id: acct.accountId, name: 'Acme', role: 'viewer' } });
  assert.equal((await b.call('POST', '/api/v1/invites/accept', { token: tokenOf(inv) })).status, 404, 'once');

  const accounts = await b.call('GET', '/api/v1/accounts');
  assert.equal(accounts.status, 200);
  assert.deepEqual(accounts.json.data.map((a) => [a.id, a.role]).sort(),
    [[acct.accountId, 'viewer'], [other.accountId, 'owner']].sort());
  const session = await b.call('GET', '/api/v1/auth/session');
  assert.equal(session.json.accounts.length, 2);

  // The switcher: X-Inlet-Account picks the account, and the role with it.
  assert.equal((await b.call('GET', '/api/v1/account', undefined, { account: acct.accountId })).json.id, acct.accountId);
  assert.equal((await b.call('GET', '/api/v1/account', undefined, { account: other.accountId })).json.id, other.accountId);
  assert.equal((await b.call('POST', '/api/v1/endpoints', { name: 'mine' }, { account: other.accountId })).status, 201);
  assert.equal((await b.call('POST', '/api/v1/endpoints', { name: 'theirs' }, { account: acct.accountId })).status, 403);
  // An account of which the user is no member is refused.
  const stranger = await newAccount(data);
  assert.equal((await b.call('GET', '/api/v1/account', undefined, { account: stranger.accountId })).status, 403);
  assert.equal((await b.call('GET', '/api/v1/account', undefined, { account: 'acc_nope' })).status, 403);

  // Inviting someone who is a member already.
  const dup = await owner.post('/api/v1/invites', { email: other.email.toUpperCase(), role: 'member' });
  assert.equal(dup.status, 409);
  assertShape(dup.json, apiError('already_member'));
  // An API key sees its own account only.
  const keyAccounts = await owner.get('/api/v1/accounts');
  assert.equal(keyAccounts.status, 200);
  assert.deepEqual(keyAccounts.json.data, [{ id: acct.accountId, name: 'Acme', role: 'owner' }]);
});

test('a user creates an account of their own and is its owner', T, async () => {
  const b = await login(acct.email);
  assert.equal((await b.call('POST', '/api/v1/accounts', { name: 'Side project' }, { csrf: false })).status, 403, 'CSRF');
  assert.equal((await b.call('POST', '/api/v1/accounts', {})).status, 400);
  const r = await b.call('POST', '/api/v1/accounts', { name: 'Side project' });
  assert.equal(r.status, 201, r.text);
  assertShape(r.json, { id: prefixed('acc_'), name: 'Side project', role: 'owner' });
  const list = await b.call('GET', '/api/v1/accounts');
  assertShape(list.json.data, contains({ id: r.json.id, name: 'Side project', role: 'owner' }));
  const members = await b.call('GET', '/api/v1/members', undefined, { account: r.json.id });
  assert.deepEqual(members.json.data.map((m) => [m.email, m.role, m.you]), [[acct.email, 'owner', true]]);
  // A key acts for one account: it makes none.
  assert.equal((await owner.post('/api/v1/accounts', { name: 'x' })).status, 403);
  assert.equal((await anon('POST', '/api/v1/accounts', { name: 'x' })).status, 401);
  assert.equal((await anon('GET', '/api/v1/accounts')).status, 401);
});

test('invitations are revoked, replaced and expire; bad input is refused', T, async () => {
  const a = await invite(emailOf('revoked'), 'member');
  assert.equal((await owner.del(`/api/v1/invites/${a.id}`)).status, 204);
  assert.equal((await owner.del(`/api/v1/invites/${a.id}`)).status, 404);
  const gone = await anon('GET', `/api/v1/invites/lookup?token=${tokenOf(a)}`);
  assert.equal(gone.status, 404);
  assertShape(gone.json, apiError('invite_not_found'));
  assert.equal((await anon('POST', '/api/v1/invites/accept', { token: tokenOf(a), password: NEW_PASSWORD })).status, 404);

  // Inviting the same email again replaces the pending invitation.
  const email = emailOf('twice');
  const first = await invite(email, 'viewer');
  const second = await invite(email, 'admin');
  assert.equal((await anon('GET', `/api/v1/invites/lookup?token=${tokenOf(first)}`)).status, 404);
  assert.equal((await anon('GET', `/api/v1/invites/lookup?token=${tokenOf(second)}`)).json.role, 'admin');
  const pending = (await owner.get('/api/v1/invites')).json.data.filter((i) => i.email === email);
  assert.deepEqual(pending.map((i) => i.id), [second.id]);

  // An expired invitation is as dead as a used one.
  const old = await invite(emailOf('expired'), 'member');
  sql(`UPDATE invites SET expires_ms=${Date.now() - 1000} WHERE pid='${old.id}'`);
  assert.equal((await anon('GET', `/api/v1/invites/lookup?token=${tokenOf(old)}`)).status, 404);
  assert.equal((await anon('POST', '/api/v1/invites/accept', { token: tokenOf(old), password: NEW_PASSWORD })).status, 404);
  assertShape((await owner.get('/api/v1/invites')).json.data, lacks({ id: old.id }));

  for (const body of [{ email: 'not an email', role: 'member' }, { email: emailOf('x') }, { email: emailOf('x'), role: 'boss' }, { role: 'member' }]) {
    const r = await owner.post('/api/v1/invites', body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assertShape(r.json, apiError('invalid'));
  }
  assert.equal((await anon('GET', '/api/v1/invites/lookup')).status, 400);
  assert.equal((await anon('GET', '/api/v1/invites/lookup?token=inlet_iv_forged')).status, 404);
  assert.equal((await anon('POST', '/api/v1/invites/accept', {})).status, 400);
  // The management routes need credentials.
  assert.equal((await anon('GET', '/api/v1/invites')).status, 401);
  assert.equal((await anon('POST', '/api/v1/invites', { email: emailOf('x'), role: 'member' })).status, 401);
  assert.equal((await anon('GET', '/api/v1/members')).status, 401);
});

test('roles are enforced on the server', T, async (t) => {
  const viewer = await join('viewer');
  const member = await join('member');
  const admin = await join('admin');
  const target = await join('viewer');
  const ep = await createEndpoint(owner, 'roles');
  const post = await request(`${server.url}/f/${ep.key}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: { a: 1 } });
  assert.equal(post.status, 200, post.text);
  const ownerId = (await owner.get('/api/v1/members')).json.data.find((m) => m.email === acct.email).id;
  const ctx = {
    baseUrl: server.url,
    vars: {
      acc: acct.accountId, ep: ep.id, sub: post.json.id, target: target.user.id, owner: ownerId, token: acct.token,
      viewerCookie: viewer.cookie, viewerCsrf: viewer.csrf,
      memberCookie: member.cookie, memberCsrf: member.csrf,
      adminCookie: admin.cookie, adminCsrf: admin.csrf,
    },
  };
  const as = (who) => ({ auth: 'none', headers: { Cookie: `{${who}Cookie}`, 'X-CSRF-Token': `{${who}Csrf}`, 'X-Inlet-Account': '{acc}' } });
  const forbidden = apiError('forbidden');
  await runTable(t, [
    // A viewer reads.
    { title: 'viewer lists members', ...as('viewer'), method: 'GET', path: '/api/v1/members', status: 200 },
    { title: 'viewer lists invitations', ...as('viewer'), method: 'GET', path: '/api/v1/invites', status: 200 },
    { title: 'viewer reads a submission', ...as('viewer'), method: 'GET', path: '/api/v1/submissions/{sub}', status: 200 },
    { title: 'viewer cannot invite', ...as('viewer'), method: 'POST', path: '/api/v1/invites', json: { email: emailOf('v'), role: 'viewer' }, status: 403, body: forbidden },
    { title: 'viewer cannot change a role', ...as('viewer'), method: 'PATCH', path: '/api/v1/members/{target}', json: { role: 'member' }, status: 403, body: forbidden },
    { title: 'viewer cannot remove a member', ...as('viewer'), method: 'DELETE', path: '/api/v1/members/{target}', status: 403, body: forbidden },
    { title: 'viewer cannot create an endpoint', ...as('viewer'), method: 'POST', path: '/api/v1/endpoints', json: { name: 'v' }, status: 403, body: forbidden },
    { title: 'viewer cannot create a key', ...as('viewer'), method: 'POST', path: '/api/v1/keys', json: { name: 'v' }, status: 403, body: forbidden },
    { title: 'viewer cannot triage a submission', ...as('viewer'), method: 'PATCH', path: '/api/v1/submissions/{sub}', json: { status: 'spam' }, status: 403 },
    // A member also manages submissions.
    { title: 'member triages a submission', ...as('member'), method: 'PATCH', path: '/api/v1/submissions/{sub}', json: { status: 'spam' }, status: 200 },
    { title: 'member cannot create an endpoint', ...as('member'), method: 'POST', path: '/api/v1/endpoints', json: { name: 'm' }, status: 403, body: forbidden },
    { title: 'member cannot invite', ...as('member'), method: 'POST', path: '/api/v1/invites', json: { email: emailOf('m'), role: 'viewer' }, status: 403 },
    { title: 'member cannot change a role', ...as('member'), method: 'PATCH', path: '/api/v1/members/{target}', json: { role: 'admin' }, status: 403 },
    // An admin also manages endpoints, keys and members.
    { title: 'admin creates an endpoint', ...as('admin'), method: 'POST', path: '/api/v1/endpoints', json: { name: 'a' }, status: 201 },
    { title: 'admin creates a key', ...as('admin'), method: 'POST', path: '/api/v1/keys', json: { name: 'a' }, status: 201 },
    { title: 'admin invites a member', ...as('admin'), method: 'POST', path: '/api/v1/invites', json: { email: emailOf('a'), role: 'member' }, status: 201 },
    { title: 'admin cannot invite an owner', ...as('admin'), method: 'POST', path: '/api/v1/invites', json: { email: emailOf('a'), role: 'owner' }, status: 403, body: forbidden },
    { title: 'admin changes a role', ...as('admin'), method: 'PATCH', path: '/api/v1/members/{target}', json: { role: 'member' }, status: 200, body: (c) => ({ id: c.vars.target, role: 'member', you: false }) },
    { title: 'admin cannot make an owner', ...as('admin'), method: 'PATCH', path: '/api/v1/members/{target}', json: { role: 'owner' }, status: 403, body: forbidden },
    { title: 'admin cannot demote the owner', ...as('admin'), method: 'PATCH', path: '/api/v1/members/{owner}', json: { role: 'admin' }, status: 403, body: forbidden },
    { title: 'admin cannot remove the owner', ...as('admin'), method: 'DELETE', path: '/api/v1/members/{owner}', status: 403, body: forbidden },
    { title: 'a role must be a role', ...as('admin'), method: 'PATCH', path: '/api/v1/members/{target}', json: { role: 'king' }, status: 400, body: apiError('invalid') },
    // Changes with a cookie carry the CSRF token.
    { title: 'no CSRF token: 403', auth: 'none', headers: { Cookie: '{adminCookie}', 'X-Inlet-Account': '{acc}' }, method: 'POST', path: '/api/v1/invites', json: { email: emailOf('c'), role: 'member' }, status: 403, body: apiError('csrf') },
    { title: 'no CSRF token on PATCH: 403', auth: 'none', headers: { Cookie: '{adminCookie}', 'X-Inlet-Account': '{acc}' }, method: 'PATCH', path: '/api/v1/members/{target}', json: { role: 'viewer' }, status: 403, body: apiError('csrf') },
    // An API key counts as the owner.
    { title: 'a key invites an owner', method: 'POST', path: '/api/v1/invites', json: { email: emailOf('k'), role: 'owner' }, status: 201 },
    { title: 'admin removes a member', ...as('admin'), method: 'DELETE', path: '/api/v1/members/{target}', status: 204 },
  ], ctx);
});

test('the last owner can neither leave nor be demoted; owners hand over', T, async () => {
  const b = await login(acct.email);
  const acc = (await b.call('POST', '/api/v1/accounts', { name: 'Handover' })).json.id;
  const me = b.user.id;
  const o = { account: acc };
  const demote = await b.call('PATCH', `/api/v1/members/${me}`, { role: 'admin' }, o);
  assert.equal(demote.status, 409);
  assertShape(demote.json, apiError('last_owner'));
  const leave = await b.call('DELETE', `/api/v1/members/${me}`, undefined, o);
  assert.equal(leave.status, 409);
  assertShape(leave.json, apiError('last_owner'));

  // A second owner, then the first may step down.
  const inv = (await b.call('POST', '/api/v1/invites', { email: emailOf('heir'), role: 'owner' }, o)).json;
  const heir = browser(await anon('POST', '/api/v1/invites/accept', { token: tokenOf(inv), password: NEW_PASSWORD }));
  assert.deepEqual(heir.accounts.map((a) => [a.id, a.role]), [[acc, 'owner']]);
  const down = await b.call('PATCH', `/api/v1/members/${me}`, { role: 'admin' }, o);
  assert.equal(down.status, 200, down.text);
  assertShape(down.json, { id: me, role: 'admin', you: true });
  // Now an admin: the owner is out of reach, and the heir is the last owner.
  assert.equal((await b.call('PATCH', `/api/v1/members/${heir.user.id}`, { role: 'member' }, o)).status, 403);
  assert.equal((await heir.call('DELETE', `/api/v1/members/${heir.user.id}`)).status, 409);
  // The heir makes them owner again, and an owner may remove an owner.
  assert.equal((await heir.call('PATCH', `/api/v1/members/${me}`, { role: 'owner' })).status, 200);
  assert.equal((await heir.call('DELETE', `/api/v1/members/${me}`)).status, 204);
  assert.equal((await b.call('GET', '/api/v1/members', undefined, o)).status, 403, 'removed: no access');
});

test('a removed member loses access at once; anyone may leave', T, async () => {
  const m = await join('member');
  assert.equal((await m.call('GET', '/api/v1/endpoints', undefined, { account: acct.accountId })).status, 200);
  assert.equal((await owner.del(`/api/v1/members/${m.user.id}`)).status, 204);
  assert.equal((await owner.del(`/api/v1/members/${m.user.id}`)).status, 404);
  assert.equal((await m.call('GET', '/api/v1/endpoints', undefined, { account: acct.accountId })).status, 403);
  assert.equal((await m.call('GET', '/api/v1/endpoints')).status, 403, 'no account left');
  assertShape((await owner.get('/api/v1/members')).json.data, lacks({ id: m.user.id }));

  // A viewer leaves on their own.
  const v = await join('viewer');
  const other = await join('viewer');
  assert.equal((await v.call('DELETE', `/api/v1/members/${other.user.id}`)).status, 403, 'not someone else');
  assert.equal((await v.call('DELETE', `/api/v1/members/${v.user.id}`, undefined, { csrf: false })).status, 403, 'CSRF');
  assert.equal((await v.call('DELETE', `/api/v1/members/${v.user.id}`)).status, 204);
  assert.equal((await v.call('GET', '/api/v1/members', undefined, { account: acct.accountId })).status, 403);
});

test("another account's invitations and members answer 404", T, async () => {
  const b = await newAccount(data, { account: 'B' });
  const apiB = apiClient(server.url, b.token);
  const invB = await invite(emailOf('b'), 'member', apiB);
  const ownerB = (await apiB.get('/api/v1/members')).json.data[0].id;
  for (const [method, p, body] of [
    ['DELETE', `/api/v1/invites/${invB.id}`],
    ['PATCH', `/api/v1/members/${ownerB}`, { role: 'viewer' }],
    ['DELETE', `/api/v1/members/${ownerB}`],
  ]) {
    const r = await owner.call(method, p, body);
    assert.equal(r.status, 404, `${method} ${p}: ${r.text}`);
    assertShape(r.json, apiError('not_found'));
  }
  // B's things are untouched, and A's lists hold none of them.
  assertShape((await apiB.get('/api/v1/invites')).json.data, contains({ id: invB.id }));
  assertShape((await apiB.get('/api/v1/members')).json.data, contains({ id: ownerB, role: 'owner' }));
  assertShape((await owner.get('/api/v1/invites')).json.data, lacks({ id: invB.id }));
  assertShape((await owner.get('/api/v1/members')).json.data, lacks({ id: ownerB }));
});

test('links are rate-limited per client', T, async () => {
  const from = ip();
  let last;
  for (let i = 0; i < 30; i++) {
    last = await anon('GET', '/api/v1/invites/lookup?token=inlet_iv_guess', undefined, {}, from);
    if (last.status === 429) break;
    assert.equal(last.status, 404);
  }
  assert.equal(last.status, 429);
  assert.match(String(last.headers['retry-after']), /^[0-9]+$/);
  assert.equal((await anon('POST', '/api/v1/invites/accept', { token: 'inlet_iv_guess' }, {}, from)).status, 429);
  // Another client is not held up.
  assert.equal((await anon('GET', '/api/v1/invites/lookup?token=inlet_iv_guess')).status, 404);
});

test('without INLET_PUBLIC_URL the link follows Host and X-Forwarded-Proto', T, async () => {
  const r = await owner.post('/api/v1/invites', { email: emailOf('proto'), role: 'viewer' }, { 'X-Forwarded-Proto': 'https', Host: 'team.example.test' });
  assert.equal(r.status, 201, r.text);
  assert.ok(r.json.url.startsWith('https://team.example.test/#/invite/inlet_iv_'), r.json.url);
});

test('with SMTP set, the invitation is mailed and its link works', T, async (t) => {
  const smtp = await startSmtp();
  if (!smtp) {
    t.skip('no python3 with aiosmtpd (apt-get install python3-aiosmtpd)');
    return;
  }
  const dir = await makeDataDir();
  const a = await newAccount(dir, { account: 'Mailed & Co' });
  const env = { ...smtp.env('Inlet <noreply@inlet.example>'), INLET_PUBLIC_URL: 'https://inlet.example.test/' };
  const s = await startServer(dir, { env });
  try {
    const api = apiClient(s.url, a.token);
    const email = emailOf('mailed');
    const r = await api.post('/api/v1/invites', { email, role: 'admin' }, { Host: 'ignored.example.test' });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.emailed, true);
    assert.ok(r.json.url.startsWith('https://inlet.example.test/#/invite/inlet_iv_'), `INLET_PUBLIC_URL wins: ${r.json.url}`);
    const m = await smtp.waitFor((x) => x.rcptTo.includes(email), `the invitation to ${email}`, 30_000);
    assert.equal(m.header('to'), email);
    assert.match(m.header('subject'), /Mailed & Co/);
    assert.match(m.header('from'), /noreply@inlet\.example/);
    assert.ok(m.text.includes(r.json.url), `the link is in the text:\n${m.text}`);
    assert.match(m.text, /as an admin/);
    // The link in the email is the one that works.
    const link = m.text.match(/https:\/\/\S+#\/invite\/(inlet_iv_[A-Za-z0-9_-]+)/)[1];
    const ok = await request(`${s.url}/api/v1/invites/accept`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: { token: link, password: NEW_PASSWORD } });
    assert.equal(ok.status, 201, ok.text);
    assert.deepEqual(ok.json.accounts.map((x) => [x.name, x.role]), [['Mailed & Co', 'admin']]);
    // The job is done, and its payload never showed the link.
    const done = await waitFor('the invitation job done', async () => {
      const jobs = (await api.get('/api/v1/jobs?kind=mail.invite')).json.data;
      return jobs.length === 1 && jobs[0].state === 'done' ? jobs : null;
    });
    assert.equal(done[0].kind, 'mail.invite');
    // PostgreSQL prints bytea as hex: 'escape' shows its printable bytes as they are.
    const raw = storeSql(dir, 'jobs', { postgres: "SELECT encode(payload, 'escape') FROM jobs", sqlite: 'SELECT payload FROM jobs' });
    assert.ok(!raw.includes(link), 'the token is sealed in the queue');
  } finally {
    await s.stop();
  }
});
