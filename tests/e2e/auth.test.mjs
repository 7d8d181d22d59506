// Sessions (issue 6, server side): login with email and password sets an
// HttpOnly, SameSite=Lax cookie; the same management API then answers the
// cookie, and a state-changing cookie request needs the session's CSRF
// token; logout and revocation end sessions; failed logins say the same
// whether the email exists, and are rate-limited.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { makeDataDir, startServer, cleanup, newAccount, storeSql } from '../lib/inlet.mjs';
import { request, apiClient } from '../lib/http.mjs';

const T = { timeout: 60_000 };
const PASSWORD = 'correct horse battery staple'; // the harness's (tests/lib/inlet.mjs)
let server;
let acct;
let data;

before(async () => {
  data = await makeDataDir();
  acct = await newAccount(data);
  server = await startServer(data);
});
after(cleanup);

const login = (email, password, headers = {}) => request(`${server.url}/api/v1/auth/login`, {
  method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': '', ...headers }, body: { email, password },
});
const cookieOf = (res) => String(res.headers['set-cookie'] || '').split(';')[0];
const withCookie = (cookie, method, path, body, headers = {}) => request(`${server.url}${path}`, {
  method, headers: { Cookie: cookie, Accept: 'application/json', ...headers }, body,
});

test('login: a session cookie, the user, the accounts and a CSRF token', T, async () => {
  const r = await login(acct.email.toUpperCase(), PASSWORD);
  assert.equal(r.status, 200, r.text);
  const sc = String(r.headers['set-cookie']);
  assert.match(sc, /^inlet_session=inlet_ss_[A-Za-z0-9_-]{43};/);
  assert.match(sc, /HttpOnly/);
  assert.match(sc, /SameSite=Lax/);
  assert.match(sc, /Path=\//);
  assert.doesNotMatch(sc, /Secure/, 'plain http: no Secure flag');
  assert.equal(r.json.user.email, acct.email);
  assert.deepEqual(r.json.accounts.map((a) => a.role), ['owner']);
  assert.match(r.json.csrf_token, /^[0-9a-f]{64}$/);
  const s = await withCookie(cookieOf(r), 'GET', '/api/v1/auth/session');
  assert.equal(s.status, 200);
  assert.equal(s.json.csrf_token, r.json.csrf_token);
});

test('wrong password and unknown email: the same 401', T, async () => {
  const a = await login(acct.email, 'wrong password');
  const b = await login('nobody@example.test', 'wrong password');
  assert.equal(a.status, 401);
  assert.equal(b.status, 401);
  assert.deepEqual(a.json, b.json);
  assert.equal(a.headers['set-cookie'], undefined);
  assert.equal((await login(acct.email, undefined)).status, 400);
});

test('the API answers the cookie; changes need X-CSRF-Token; API keys need none', T, async () => {
  const r = await login(acct.email, PASSWORD);
  const c = cookieOf(r);
  assert.equal((await withCookie(c, 'GET', '/api/v1/endpoints')).status, 200);
  const no = await withCookie(c, 'POST', '/api/v1/endpoints', { name: 'x' });
  assert.equal(no.status, 403);
  assert.equal(no.json.error.code, 'csrf');
  const bad = await withCookie(c, 'POST', '/api/v1/endpoints', { name: 'x' }, { 'X-CSRF-Token': '0'.repeat(64) });
  assert.equal(bad.status, 403);
  const ok = await withCookie(c, 'POST', '/api/v1/endpoints', { name: 'x' }, { 'X-CSRF-Token': r.json.csrf_token });
  assert.equal(ok.status, 201, ok.text);
  // Another session's token is not this one's.
  const r2 = await login(acct.email, PASSWORD);
  assert.notEqual(r2.json.csrf_token, r.json.csrf_token);
  assert.equal((await withCookie(c, 'DELETE', `/api/v1/endpoints/${ok.json.id}`, undefined, { 'X-CSRF-Token': r2.json.csrf_token })).status, 403);
  // The account header: known → that account; unknown → 403.
  assert.equal((await withCookie(c, 'GET', '/api/v1/account', undefined, { 'X-Inlet-Account': r.json.accounts[0].id })).status, 200);
  assert.equal((await withCookie(c, 'GET', '/api/v1/account', undefined, { 'X-Inlet-Account': 'acc_nope' })).status, 403);
  // Reads may name it in the query (an EventSource, a download link); changes may not.
  assert.equal((await withCookie(c, 'GET', `/api/v1/account?account=${r.json.accounts[0].id}`)).status, 200);
  assert.equal((await withCookie(c, 'GET', '/api/v1/account?account=acc_nope')).status, 403);
  const viaQuery = await withCookie(c, 'POST', '/api/v1/endpoints?account=acc_nope', { name: 'q' }, { 'X-CSRF-Token': r.json.csrf_token });
  assert.equal(viaQuery.status, 201, 'a change ignores ?account= (the first account)');
  // A Bearer key changes things without a CSRF token.
  const api = apiClient(server.url, acct.token);
  assert.equal((await api.post('/api/v1/endpoints', { name: 'y' })).status, 201);
  // A forged or missing cookie.
  assert.equal((await withCookie('inlet_session=inlet_ss_forged', 'GET', '/api/v1/endpoints')).status, 401);
});

test('logout and revocation end sessions', T, async () => {
  const a = await login(acct.email, PASSWORD);
  const b = await login(acct.email, PASSWORD);
  const ca = cookieOf(a);
  const cb = cookieOf(b);
  const list = await withCookie(ca, 'GET', '/api/v1/auth/sessions');
  assert.equal(list.status, 200);
  assert.ok(list.json.data.filter((s) => s.current).length === 1);
  const others = list.json.data.filter((s) => !s.current);
  assert.ok(others.length >= 1);
  // Revoke b's session from a.
  const bId = (await withCookie(cb, 'GET', '/api/v1/auth/sessions')).json.data.find((s) => s.current).id;
  assert.equal((await withCookie(ca, 'DELETE', `/api/v1/auth/sessions/${bId}`)).status, 403, 'needs CSRF');
  assert.equal((await withCookie(ca, 'DELETE', `/api/v1/auth/sessions/${bId}`, undefined, { 'X-CSRF-Token': a.json.csrf_token })).status, 204);
  assert.equal((await withCookie(cb, 'GET', '/api/v1/endpoints')).status, 401);
  // Logout: CSRF needed; then the cookie is cleared and dead.
  assert.equal((await withCookie(ca, 'POST', '/api/v1/auth/logout')).status, 403);
  const out = await withCookie(ca, 'POST', '/api/v1/auth/logout', undefined, { 'X-CSRF-Token': a.json.csrf_token });
  assert.equal(out.status, 204);
  assert.match(String(out.headers['set-cookie']), /^inlet_session=;.*Max-Age=0/);
  assert.equal((await withCookie(ca, 'GET', '/api/v1/auth/session')).status, 401);
});

test('roles: a viewer reads, a member manages submissions, an admin manages endpoints', T, async () => {
  // A second user, a member of the first account as well (the invitation
  // flow is still to come: the membership row is written directly).
  const second = await newAccount(data);
  const setRole = (role) => storeSql(data, 'tenant', `INSERT INTO memberships(user_id,account_id,role,created_ms)
    SELECT u.id, a.id, '${role}', 0 FROM users u, accounts a WHERE u.email='${second.email}' AND a.pid='${acct.accountId}'
    ON CONFLICT(user_id,account_id) DO UPDATE SET role=excluded.role, created_ms=excluded.created_ms`);
  const owner = apiClient(server.url, acct.token);
  const ep = (await owner.post('/api/v1/endpoints', { name: 'shared' })).json;
  const post = await request(`${server.url}/f/${ep.key}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: { a: 1 } });
  assert.equal(post.status, 200);
  const sub = post.json.id;
  const r = await login(second.email, PASSWORD);
  const c = cookieOf(r);
  const h = { 'X-CSRF-Token': r.json.csrf_token, 'X-Inlet-Account': acct.accountId };
  const can = async () => ({
    read: (await withCookie(c, 'GET', `/api/v1/submissions/${sub}`, undefined, h)).status,
    triage: (await withCookie(c, 'PATCH', `/api/v1/submissions/${sub}`, { status: 'spam' }, h)).status,
    manage: (await withCookie(c, 'PATCH', `/api/v1/endpoints/${ep.id}`, { name: 'renamed' }, h)).status,
  });
  // Not a member yet: the account header names no account of theirs.
  assert.deepEqual(await can(), { read: 403, triage: 403, manage: 403 });
  setRole('viewer');
  assert.deepEqual(await can(), { read: 200, triage: 403, manage: 403 });
  setRole('member');
  assert.deepEqual(await can(), { read: 200, triage: 200, manage: 403 });
  setRole('admin');
  assert.deepEqual(await can(), { read: 200, triage: 200, manage: 200 });
  // Their own account, where they are the owner, is theirs to manage.
  const own = { 'X-CSRF-Token': r.json.csrf_token, 'X-Inlet-Account': second.accountId };
  assert.equal((await withCookie(c, 'POST', '/api/v1/endpoints', { name: 'mine' }, own)).status, 201);
});

test('failed logins are rate-limited per client', T, async () => {
  let last;
  for (let i = 0; i < 30; i++) {
    last = await login('nobody@example.test', 'x');
    if (last.status === 429) break;
  }
  assert.equal(last.status, 429);
  assert.match(String(last.headers['retry-after']), /^[0-9]+$/);
});

test('first start: sign-up makes the first account and logs in; then it is closed', T, async () => {
  const fresh = await makeDataDir();
  const s = await startServer(fresh);
  try {
    const post = (p, body) => request(`${s.url}${p}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    assert.deepEqual((await request(`${s.url}/api/v1/auth/setup`)).json, { needs_setup: true });
    assert.equal((await post('/api/v1/auth/signup', { email: 'first@example.test', password: 'short' })).status, 400);
    assert.equal((await post('/api/v1/auth/signup', { email: 'not an email', password: 'long enough pass' })).status, 400);
    const r = await post('/api/v1/auth/signup', { email: 'first@example.test', password: 'long enough pass', account: 'Acme' });
    assert.equal(r.status, 201, r.text);
    assert.match(String(r.headers['set-cookie']), /^inlet_session=inlet_ss_/);
    assert.deepEqual(r.json.accounts.map((a) => [a.name, a.role]), [['Acme', 'owner']]);
    const cookie = String(r.headers['set-cookie']).split(';')[0];
    const ep = await request(`${s.url}/api/v1/endpoints`, {
      method: 'POST', headers: { Cookie: cookie, 'X-CSRF-Token': r.json.csrf_token, 'Content-Type': 'application/json' }, body: { name: 'contact' },
    });
    assert.equal(ep.status, 201, ep.text);
    assert.deepEqual((await request(`${s.url}/api/v1/auth/setup`)).json, { needs_setup: false });
    const again = await post('/api/v1/auth/signup', { email: 'second@example.test', password: 'long enough pass' });
    assert.equal(again.status, 403);
    assert.equal(again.json.error.code, 'closed');
    // The new owner logs in like anyone.
    assert.equal((await post('/api/v1/auth/login', { email: 'first@example.test', password: 'long enough pass' })).status, 200);
  } finally {
    await s.stop();
  }
});
